//! Deterministic English prose for the embedding and ingestion benchmarks.
//!
//! Sentences are built from a few hundred real words arranged as natural
//! clauses (subject, verb phrase, circumstance) joined by conjunctions, so
//! they tokenize like ordinary writing rather than like a keyword list.
//! Everything comes from a seeded generator: the same seed gives the same
//! text on every machine.

use rand::Rng;
use rand::rngs::StdRng;

/// Who or what a clause is about (lower case unless a proper noun).
const SUBJECTS: &[&str] = &[
    "the city council",
    "our maintenance team",
    "a small group of volunteers",
    "the hospital's night staff",
    "most of the engineers",
    "the new project manager",
    "her grandmother",
    "the museum's curator",
    "a local bakery",
    "the school board",
    "several farmers in the valley",
    "the research group",
    "Maria",
    "the customer support team",
    "a visiting professor from Lisbon",
    "the finance department",
    "the train operator",
    "my neighbour",
    "the editorial board",
    "a young software developer",
    "the regional health authority",
    "the hotel's manager",
    "our largest customer",
    "the fire brigade",
    "the village library",
    "Daniel and his sister",
    "the weather service",
    "the planning committee",
    "a team of marine biologists",
    "the landlord",
    "the union representative",
    "the quarterly review",
    "an independent auditor",
    "the football club",
    "the night shift",
    "the design studio",
];

/// What the subject did.
const PREDICATES: &[&str] = &[
    "decided to postpone the meeting until next week",
    "published a detailed report on the quality of drinking water",
    "asked everyone to submit their expenses before the end of the month",
    "repaired the old bridge over the river",
    "found a simpler way to schedule the delivery trucks",
    "spent most of the afternoon reading letters from residents",
    "moved the archive into a dry room on the second floor",
    "raised enough money to buy a new ambulance",
    "explained why the invoices had been sent twice",
    "planted two hundred trees along the northern road",
    "cancelled the contract with the cleaning company",
    "started testing the new booking system on Monday",
    "wrote a short guide for people who work from home",
    "measured the noise from the construction site every morning",
    "hired three nurses for the children's ward",
    "kept a careful record of every phone call",
    "changed the recipe after customers complained about the salt",
    "reviewed the budget line by line with the accountants",
    "opened the doors an hour earlier during the heat wave",
    "lost the keys to the storage room again",
    "sent a polite reminder about the overdue rent",
    "organised a concert to celebrate the anniversary",
    "agreed to share the cost of the new roof",
    "drew a map of the paths through the forest",
    "rewrote the safety rules in plain language",
    "counted the birds that nested near the harbour",
    "bought a second-hand printer for the office",
    "noticed that the heating used far more gas than expected",
    "invited the parents to a meeting about the school trip",
    "translated the instructions into four languages",
    "checked the water pressure in every building",
    "closed the swimming pool for a week of repairs",
    "answered hundreds of questions about the new tax rules",
    "recorded an interview with the oldest resident of the town",
    "compared the prices of three suppliers",
    "trained the new staff to use the warehouse software",
];

/// When, where, why or how.
const CIRCUMSTANCES: &[&str] = &[
    "after the storm had passed",
    "in the early hours of the morning",
    "despite the rising cost of materials",
    "without telling anyone in advance",
    "because the old system kept failing",
    "during the busiest week of the year",
    "with help from the university",
    "before the inspectors arrived",
    "as soon as the snow had melted",
    "on the advice of a lawyer",
    "to everyone's surprise",
    "in spite of a long list of complaints",
    "while the rest of the town was asleep",
    "for the first time in ten years",
    "at the request of the mayor",
    "under a tight deadline",
    "once the funding had been approved",
    "in a quiet room behind the station",
    "with very little equipment",
    "after a long discussion about priorities",
];

/// Words that join two clauses.
const CONNECTORS: &[&str] = &["and", "but", "because", "while", "so", "although", "even though", "since", "and then", "whereas"];

/// How a question starts (each is followed by a whole clause).
const QUESTIONS: &[&str] = &["what happened after", "why do people say that", "is it true that", "when was it that", "what did the residents think when", "who noticed that", "where is the note saying that"];

/// Section headings of the Markdown documents.
const HEADINGS: &[&str] = &[
    "Background",
    "What happened",
    "Costs and funding",
    "People involved",
    "Next steps",
    "Open questions",
    "Timeline",
    "Risks",
    "Decisions",
    "Lessons learned",
];

/// Document titles.
const TITLES: &[&str] = &["Monthly report", "Meeting notes", "Project update", "Incident review", "Field notes", "Community newsletter", "Annual summary", "Planning memo"];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn clause(rng: &mut StdRng) -> String {
    let mut text = format!("{} {}", pick(rng, SUBJECTS), pick(rng, PREDICATES));
    if rng.random_bool(0.5) {
        text.push(' ');
        text.push_str(pick(rng, CIRCUMSTANCES));
    }
    text
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Clauses joined until the text has at least `min` words, cut at `max`.
fn words_between(rng: &mut StdRng, min: usize, max: usize) -> String {
    let target = rng.random_range(min..=max);
    let mut text = clause(rng);
    while text.split_whitespace().count() < target {
        text = format!("{text}, {} {}", pick(rng, CONNECTORS), clause(rng));
    }
    let words: Vec<&str> = text.split_whitespace().take(max).collect();
    capitalised(words.join(" ").trim_end_matches(','))
}

/// One sentence of `min..=max` words, ending with a full stop.
pub fn sentence(rng: &mut StdRng, min: usize, max: usize) -> String {
    format!("{}.", words_between(rng, min, max))
}

/// A search query of `min..=max` words, phrased as a question.
pub fn query(rng: &mut StdRng, min: usize, max: usize) -> String {
    let target = rng.random_range(min..=max);
    let text = format!("{} {} {}", pick(rng, QUESTIONS), pick(rng, SUBJECTS), pick(rng, PREDICATES));
    let words: Vec<&str> = text.split_whitespace().take(target).collect();
    format!("{}?", capitalised(&words.join(" ")))
}

/// A paragraph of `sentences` sentences of 12 to 35 words.
pub fn paragraph(rng: &mut StdRng, sentences: usize) -> String {
    (0..sentences).map(|_| sentence(rng, 12, 35)).collect::<Vec<_>>().join(" ")
}

/// A Markdown document of about `min..=max` words: a title, then sections
/// with headings, each of one to three paragraphs.
pub fn markdown(rng: &mut StdRng, number: usize, min: usize, max: usize) -> String {
    let target = rng.random_range(min..=max);
    let mut text = format!("# {} {number}\n\n", pick(rng, TITLES));
    let mut words = 0;
    while words < target {
        text.push_str(&format!("## {}\n\n", pick(rng, HEADINGS)));
        for _ in 0..rng.random_range(1..=3) {
            let sentences = rng.random_range(2..=4);
            let paragraph = paragraph(rng, sentences);
            words += paragraph.split_whitespace().count();
            text.push_str(&paragraph);
            text.push_str("\n\n");
            if words >= target {
                break;
            }
        }
    }
    text
}

/// Splits `text` into lines of at most `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn sentences_have_the_asked_length_and_repeat_per_seed() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let text = sentence(&mut rng, 20, 60);
            let words = text.split_whitespace().count();
            assert!((20..=60).contains(&words), "{words} words: {text}");
            assert!(text.ends_with('.') && text.starts_with(char::is_uppercase), "{text}");
        }
        let again = |seed| sentence(&mut StdRng::seed_from_u64(seed), 20, 60);
        assert_eq!(again(7), again(7));
    }

    #[test]
    fn queries_and_documents_have_the_asked_size() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..200 {
            let words = query(&mut rng, 6, 15).split_whitespace().count();
            assert!((6..=15).contains(&words));
        }
        let doc = markdown(&mut rng, 1, 200, 400);
        let words = doc.lines().filter(|l| !l.starts_with('#')).flat_map(str::split_whitespace).count();
        assert!((200..=540).contains(&words), "{words}");
        assert!(doc.starts_with("# ") && doc.contains("\n## "));
        assert!(wrap(&doc, 80).iter().all(|l| l.len() <= 80));
    }
}
