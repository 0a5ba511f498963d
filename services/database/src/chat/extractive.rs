//! Answers without a language model: the sentences of the retrieved
//! passages closest in meaning to the question, quoted with their numbers.

use percolate_embedder::Embedder;
use percolate_rem::vectors::dot;

use super::context::{Context, Source};
use super::render;
use crate::error::DbError;

/// Most sentences compared with the question.
const MAX_SENTENCES: usize = 32;
/// Most sentences of one passage compared with the question.
const SENTENCES_PER_PASSAGE: usize = 8;
/// Most sentences quoted.
const MAX_QUOTES: usize = 3;
/// Sentences shorter than this (in characters) say too little to quote.
const MIN_SENTENCE_CHARS: usize = 20;
/// Longest quote, in characters.
const MAX_QUOTE_CHARS: usize = 400;
/// A quote after the first must be at least this close to the question.
const MIN_QUOTE_SCORE: f32 = 0.25;
/// Most related items listed when no passage matched.
const MAX_LISTED: usize = 5;

/// The first line of every extractive answer.
pub const HEADER: &str = "Extractive answer (no language model wrote this; quoted from your memory):\n";

/// The answer's pieces, in the order they are sent.
pub fn answer(embedder: Option<&Embedder>, context: &Context) -> Result<Vec<String>, DbError> {
    let mut pieces = vec![HEADER.to_string()];
    // The passages as the model would have seen them (cut to the budget),
    // a few sentences of each, best passage first.
    let sentences: Vec<(u32, String)> = context
        .items
        .iter()
        .filter(|item| matches!(item.source, Source::Resource(..)))
        .flat_map(|item| {
            let text = item.text.split_once('\n').map_or("", |(_, body)| body);
            sentences(text).into_iter().take(SENTENCES_PER_PASSAGE).map(move |s| (item.number, s))
        })
        .take(MAX_SENTENCES)
        .collect();
    let scores = match embedder {
        Some(embedder) if !sentences.is_empty() && !context.query.is_empty() => {
            let texts: Vec<&str> = sentences.iter().map(|(_, s)| s.as_str()).collect();
            // Unit vectors (the model's, and the search vector): the dot
            // product is their cosine similarity.
            embedder.embed(&texts)?.iter().map(|v| dot(v, &context.query)).collect()
        }
        // Without the model, passages keep their retrieval order.
        _ => (0..sentences.len()).map(|i| 1.0 - i as f32 / sentences.len().max(1) as f32).collect::<Vec<f32>>(),
    };
    let mut ranked: Vec<usize> = (0..sentences.len()).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let quotes: Vec<usize> = ranked.into_iter().enumerate().filter(|&(rank, i)| rank == 0 || scores[i] >= MIN_QUOTE_SCORE).map(|(_, i)| i).take(MAX_QUOTES).collect();
    if !quotes.is_empty() {
        for i in quotes {
            let (number, sentence) = &sentences[i];
            pieces.push(format!("\n> {} [{number}]\n", render::cut(sentence, MAX_QUOTE_CHARS)));
        }
        return Ok(pieces);
    }
    let related: Vec<String> = context.items.iter().take(MAX_LISTED).map(|item| format!("- {} [{}]\n", render::label(&item.source), item.number)).collect();
    if related.is_empty() {
        pieces.push("\nNothing in this tenant's memory matches the question.\n".into());
    } else {
        pieces.push("\nNo passage of your documents matches the question. Related in your memory:\n".into());
        pieces.extend(related);
    }
    Ok(pieces)
}

/// The sentences of a passage worth quoting: split at line breaks and after
/// `.`, `!` or `?` followed by a space.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let bytes = line.as_bytes();
        for (i, c) in line.char_indices() {
            let ends = matches!(c, '.' | '!' | '?') && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
            if ends {
                out.push(line[start..=i].trim().to_string());
                start = i + 1;
            }
        }
        out.push(line[start..].trim().to_string());
    }
    // A sentence the budget cut short (`…`) is not quoted.
    out.retain(|s| s.chars().count() >= MIN_SENTENCE_CHARS && s.split_whitespace().count() >= 4 && !s.ends_with('…'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_split_into_sentences_worth_quoting() {
        let text = "# Title\nThe cat sat on the mat all day. It purred! The owner came home 3.5 hours after noon.\nshort line";
        let found = sentences(text);
        assert_eq!(found, vec!["The cat sat on the mat all day.", "The owner came home 3.5 hours after noon."], "{found:?}");
    }
}
