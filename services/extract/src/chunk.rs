//! Cutting located text into token-bounded, overlapping chunks: see
//! [`chunk_sections`] for how sections are merged and where chunks are cut.

use std::ops::Range;

use crate::Section;

/// Counts model tokens in a text.
///
/// Implement it with the embedding model's tokenizer. It is called with
/// paragraphs, sentences, words and whole chunks, so it must be cheap for
/// short texts and give consistent results. Counting special tokens such as
/// `[CLS]` and `[SEP]` is fine: the fixed cost, measured as the count of the
/// empty string, is accounted for once per chunk, and the bound
/// [`ChunkOptions::max_tokens`] then includes it.
///
/// Any `Fn(&str) -> usize` is a counter.
pub trait TokenCounter {
    /// The number of tokens in `text`.
    fn count(&self, text: &str) -> usize;
}

impl<F> TokenCounter for F
where
    F: Fn(&str) -> usize + ?Sized,
{
    fn count(&self, text: &str) -> usize {
        self(text)
    }
}

/// Counts whitespace-separated words: a stand-in for a tokenizer when none is
/// available (a WordPiece model usually needs 1.2 to 1.5 tokens per English
/// word, so leave headroom when using it in place of the real one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordCounter;

impl TokenCounter for WordCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
}

/// How [`chunk_sections`] cuts text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Most tokens in one chunk, as counted by the [`TokenCounter`]. Raised
    /// to one more than the counter's count of the empty string when lower.
    pub max_tokens: usize,
    /// Tokens of text repeated from the end of one chunk at the start of the
    /// next chunk of the same run. At most half the budget is used.
    pub overlap_tokens: usize,
    /// When true, a chunk never spans two pages; otherwise consecutive pages
    /// with the same heading are chunked as one stream.
    pub split_pages: bool,
}

impl Default for ChunkOptions {
    /// 200 tokens with 30 of overlap: fits all-MiniLM-L6-v2 (256 tokens
    /// including `[CLS]` and `[SEP]`) with room for tokenizer differences.
    fn default() -> Self {
        Self { max_tokens: 200, overlap_tokens: 30, split_pages: false }
    }
}

/// A piece of text small enough to embed, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk in the output, from 0.
    pub index: usize,
    /// The text: a contiguous, trimmed slice of the run's text.
    pub text: String,
    /// The token count of `text` by the counter used.
    pub tokens: usize,
    /// The heading of the sections the chunk comes from.
    pub heading: Option<String>,
    /// The sheet of the sections the chunk comes from.
    pub sheet: Option<String>,
    /// The first page the chunk's text is on.
    pub page_start: Option<u32>,
    /// The last page the chunk's text is on (equal to `page_start` for a
    /// single page).
    pub page_end: Option<u32>,
    /// Start of the earliest time span covered, in milliseconds.
    pub start_ms: Option<u64>,
    /// End of the latest time span covered, in milliseconds.
    pub end_ms: Option<u64>,
    /// True when any of the covered text was recognised by OCR.
    pub ocr: bool,
    /// Indices of the input sections the chunk's text comes from.
    pub sections: Range<usize>,
    /// Byte offset of the start of `text` in the text of the first of
    /// `sections`.
    pub offset: usize,
}

/// Cuts `sections` into chunks of at most `options.max_tokens` tokens by
/// `counter`, in reading order. The bound holds for every chunk unless a
/// single character is already over it.
///
/// # Runs of sections
///
/// Consecutive sections are first grouped into *runs*: sections that share
/// their heading and sheet, and have the same kind of location (a page or
/// none, a time span or none). A run is chunked as one stream, so many small
/// sections (audio segments of a few words, groups of table rows, the
/// pieces a long text file was cut into) are merged up to the token budget
/// instead of becoming many tiny chunks. Chunks never cross a run boundary:
/// a change of heading or sheet always starts a new chunk, and the overlap
/// does not carry over. Page changes do not end a run unless
/// [`ChunkOptions::split_pages`] is set, because a page break is layout, not
/// a change of topic; a chunk then records the pages it spans in
/// [`Chunk::page_start`] and [`Chunk::page_end`]. A merged audio chunk spans
/// from the first segment's start to the last segment's end. Sections whose
/// text is blank are skipped and produce nothing.
///
/// Inside a run, sections are joined with a space when they are timed
/// (speech flows on), a newline in a sheet (rows), and a blank line
/// otherwise (paragraphs).
///
/// # Where chunks are cut
///
/// The text is split top-down into *pieces* that each fit the budget:
/// a paragraph (blank-line separated) that fits is one piece; one that does
/// not is split into lines, then sentences, then whitespace-separated words,
/// and only a single word that is itself over the budget is cut by
/// characters (always at a UTF-8 character boundary). Pieces are then
/// packed greedily. When the next piece does not fit, the chunk is cut at the
/// strongest boundary (paragraph > line > sentence > word > character) among
/// the candidate cut points that leave the chunk at least half full, the
/// latest one among equals. A chunk's text is always a contiguous slice of
/// the run's text, so no text is lost or reordered; consecutive chunks of a
/// run overlap by up to [`ChunkOptions::overlap_tokens`] tokens of whole
/// words taken from the end of the previous chunk.
///
/// # Cost
///
/// The counter is called once per piece at each level of the split (a long
/// paragraph is counted, then its sentences), once per word of each overlap,
/// and once per chunk to verify the packed estimate: linear in the text, not
/// quadratic. Ranges of more than 64 bytes per allowed token are split
/// without being counted first (they could hardly fit). The packed estimate
/// is a sum of piece counts minus the counter's fixed cost (the count of the
/// empty string, e.g. `[CLS]` and `[SEP]`), which is exact for WordPiece
/// without special tokens; when the verified count is over the budget
/// anyway, the chunk is shortened until it fits.
///
/// The output is a pure function of the input: the same sections, options
/// and counter give the same chunks in the same order, so ids derived from
/// [`Chunk::index`] are stable.
pub fn chunk_sections(sections: &[Section], options: &ChunkOptions, counter: &dyn TokenCounter) -> Vec<Chunk> {
    let chunker = Chunker::new(options, counter);
    let mut chunks = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        if section.text.trim().is_empty() {
            continue;
        }
        if let Some(&last) = run.last()
            && !same_run(&sections[last], section, options)
        {
            chunker.chunk_run(sections, &run, &mut chunks);
            run.clear();
        }
        run.push(index);
    }
    if !run.is_empty() {
        chunker.chunk_run(sections, &run, &mut chunks);
    }
    chunks
}

/// Whether `next` continues the run that `previous` is in.
fn same_run(previous: &Section, next: &Section, options: &ChunkOptions) -> bool {
    let timed = |s: &Section| s.start_ms.is_some() || s.end_ms.is_some();
    previous.heading == next.heading
        && previous.sheet == next.sheet
        && previous.page.is_some() == next.page.is_some()
        && timed(previous) == timed(next)
        && (!options.split_pages || previous.page == next.page)
}

/// What joins two sections of one run.
fn separator(section: &Section) -> &'static str {
    if section.start_ms.is_some() || section.end_ms.is_some() {
        " "
    } else if section.sheet.is_some() {
        "\n"
    } else {
        "\n\n"
    }
}

/// The kind of boundary before a piece, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Char,
    Word,
    Sentence,
    Line,
    Paragraph,
}

impl Level {
    /// The next finer way to split.
    fn finer(self) -> Level {
        match self {
            Level::Paragraph => Level::Line,
            Level::Line => Level::Sentence,
            Level::Sentence => Level::Word,
            Level::Word | Level::Char => Level::Char,
        }
    }
}

/// A trimmed, non-empty byte range of a run's text that fits the budget.
#[derive(Debug, Clone)]
struct Piece {
    range: Range<usize>,
    /// Tokens net of the counter's fixed cost.
    net: usize,
    /// The boundary before the piece.
    level: Level,
}

/// Ranges longer than this many bytes per budget token are split before
/// being counted.
const BYTES_PER_TOKEN_CEILING: usize = 64;

struct Chunker<'c> {
    counter: &'c dyn TokenCounter,
    /// The counter's fixed cost per call.
    base: usize,
    /// The bound on a chunk's count.
    max: usize,
    /// The bound on a chunk's net count.
    cap: usize,
    /// Net tokens of overlap.
    overlap: usize,
    /// Ranges longer than this are split without counting.
    big: usize,
}

impl<'c> Chunker<'c> {
    fn new(options: &ChunkOptions, counter: &'c dyn TokenCounter) -> Self {
        let base = counter.count("");
        let max = options.max_tokens.max(base.saturating_add(1));
        let cap = max - base;
        Self {
            counter,
            base,
            max,
            cap,
            overlap: options.overlap_tokens.min(cap / 2),
            big: cap.saturating_mul(BYTES_PER_TOKEN_CEILING),
        }
    }

    fn net(&self, text: &str) -> usize {
        self.counter.count(text).saturating_sub(self.base)
    }

    /// Chunks one run: `run` holds indices into `sections`.
    fn chunk_run(&self, sections: &[Section], run: &[usize], out: &mut Vec<Chunk>) {
        let mut text = String::new();
        let mut spans: Vec<Range<usize>> = Vec::with_capacity(run.len());
        for (n, &index) in run.iter().enumerate() {
            let section = &sections[index];
            if n > 0 {
                text.push_str(separator(section));
            }
            let start = text.len();
            text.push_str(&section.text);
            spans.push(start..text.len());
        }
        let mut pieces = Vec::new();
        for span in &spans {
            if let Some(range) = trim(&text, span.clone()) {
                self.add(&text, range, Level::Paragraph, Level::Paragraph, None, &mut pieces);
            }
        }
        for (range, tokens) in self.pack(&text, &pieces) {
            let first = spans.partition_point(|s| s.end <= range.start);
            let last = spans.partition_point(|s| s.start < range.end).max(first + 1);
            let (Some(indices), Some(span)) = (run.get(first..last), spans.get(first)) else { continue };
            let covered: Vec<&Section> = indices.iter().map(|&i| &sections[i]).collect();
            let (Some(head), Some(&first_index), Some(&last_index)) = (covered.first(), indices.first(), indices.last())
            else {
                continue;
            };
            out.push(Chunk {
                index: out.len(),
                text: text[range.clone()].to_string(),
                tokens,
                heading: head.heading.clone(),
                sheet: head.sheet.clone(),
                page_start: covered.iter().filter_map(|s| s.page).min(),
                page_end: covered.iter().filter_map(|s| s.page).max(),
                start_ms: covered.iter().filter_map(|s| s.start_ms).min(),
                end_ms: covered.iter().filter_map(|s| s.end_ms).max(),
                ocr: covered.iter().any(|s| s.ocr),
                sections: first_index..last_index + 1,
                offset: range.start - span.start,
            });
        }
    }

    /// Adds the trimmed, non-empty `range` of `text` to `out` as pieces that
    /// fit the budget. `boundary` is the boundary before it; `split` is how
    /// to split it when it does not fit; `known` its net count if known.
    fn add(
        &self,
        text: &str,
        range: Range<usize>,
        boundary: Level,
        split: Level,
        known: Option<usize>,
        out: &mut Vec<Piece>,
    ) {
        // A single word is always counted: it is only cut when over budget.
        let net = match known {
            Some(net) => Some(net),
            None if split != Level::Char && range.len() > self.big => None,
            None => Some(self.net(&text[range.clone()])),
        };
        if let Some(net) = net
            && net <= self.cap
        {
            out.push(Piece { range, net, level: boundary });
            return;
        }
        if split == Level::Char {
            self.split_chars(text, range, boundary, net, out);
            return;
        }
        let parts = match split {
            Level::Paragraph => paragraphs(text, range.clone()),
            Level::Line => lines(text, range.clone()),
            Level::Sentence => sentences(text, range.clone()),
            Level::Word | Level::Char => words(text, range.clone()),
        };
        let finer = split.finer();
        if parts.len() <= 1 {
            // Nothing to split at this level: the same text, one level finer.
            self.add(text, range, boundary, finer, net, out);
            return;
        }
        for (n, part) in parts.into_iter().enumerate() {
            let level = if n == 0 { boundary } else { split };
            self.add(text, part, level, finer, None, out);
        }
    }

    /// Cuts one over-long word into pieces that fit, at character
    /// boundaries, guessing each piece's length from the counts so far.
    fn split_chars(&self, text: &str, range: Range<usize>, boundary: Level, known: Option<usize>, out: &mut Vec<Piece>) {
        let chars = text[range.clone()].chars().count();
        let mut guess = match known {
            Some(net) if net > 0 => (chars.saturating_mul(self.cap) / net).max(1),
            _ => self.cap.saturating_mul(2).max(1),
        };
        let mut at = range.start;
        let mut level = boundary;
        while at < range.end {
            let rest = &text[at..range.end];
            let mut take = guess;
            loop {
                let end = at + rest.char_indices().nth(take).map_or(rest.len(), |(i, _)| i);
                let net = self.net(&text[at..end]);
                if net <= self.cap || take <= 1 {
                    out.push(Piece { range: at..end, net, level });
                    at = end;
                    // Grow the next guess when this piece came out small.
                    guess = if net.saturating_mul(2) < self.cap { take.saturating_mul(2) } else { take };
                    break;
                }
                take = (take.saturating_mul(self.cap) / net).clamp(1, take - 1);
            }
            level = Level::Char;
        }
    }

    /// Packs pieces into chunks: the byte range of each in `text` and its
    /// verified count.
    fn pack(&self, text: &str, pieces: &[Piece]) -> Vec<(Range<usize>, usize)> {
        let mut out = Vec::new();
        let n = pieces.len();
        // Words carried over from the previous chunk: (start byte, net).
        let mut overlap: Vec<(usize, usize)> = Vec::new();
        // acc[m]: estimated net of the chunk ending before piece i + m.
        let mut acc: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < n {
            let mut from = 0;
            let mut carried: usize = overlap.iter().map(|w| w.1).sum();
            while from < overlap.len() && carried + pieces[i].net > self.cap {
                carried -= overlap[from].1;
                from += 1;
            }
            acc.clear();
            acc.push(carried);
            let mut estimate = carried;
            let mut j = i;
            while j < n && (j == i || estimate + pieces[j].net <= self.cap) {
                estimate += pieces[j].net;
                acc.push(estimate);
                j += 1;
            }
            // Cut at the strongest boundary that keeps the chunk half full.
            let mut k = j;
            if j < n {
                let mut best = pieces[j].level;
                for c in (i + 1..j).rev() {
                    if acc[c - i].saturating_mul(2) < self.cap {
                        break;
                    }
                    if pieces[c].level > best {
                        best = pieces[c].level;
                        k = c;
                    }
                }
            }
            // Verify the estimate with one count; shorten while over.
            let (range, tokens) = loop {
                let start = overlap.get(from).map_or(pieces[i].range.start, |w| w.0);
                let end = pieces[k - 1].range.end;
                let tokens = self.counter.count(&text[start..end]);
                if tokens <= self.max {
                    break (start..end, tokens);
                }
                if k > i + 1 {
                    let real = tokens.saturating_sub(self.base).max(1);
                    let target = (acc[k - i].saturating_mul(self.cap) / real).min(acc[k - i].saturating_sub(1));
                    while k > i + 1 && acc[k - i] > target {
                        k -= 1;
                    }
                } else if from < overlap.len() {
                    from = overlap.len();
                } else {
                    // One piece, counted as fitting alone: only a single
                    // character over budget gets here.
                    break (start..end, tokens);
                }
            };
            i = k;
            overlap = if i < n { self.overlap_words(text, range.clone()) } else { Vec::new() };
            out.push((range, tokens));
        }
        out
    }

    /// The longest run of whole words at the end of `range` whose counts add
    /// up to at most the overlap: (start byte, net) of each, in order.
    fn overlap_words(&self, text: &str, range: Range<usize>) -> Vec<(usize, usize)> {
        let mut words = Vec::new();
        if self.overlap == 0 {
            return words;
        }
        let slice = &text[range.clone()];
        let limit = self.overlap.saturating_mul(4).saturating_add(16);
        let mut total = 0;
        let mut word_end: Option<usize> = None;
        let mut consider = |start: usize, end: usize, words: &mut Vec<(usize, usize)>| -> bool {
            let net = self.net(&slice[start..end]);
            if total + net > self.overlap || words.len() >= limit {
                return false;
            }
            total += net;
            words.push((range.start + start, net));
            true
        };
        let mut open = true;
        for (at, ch) in slice.char_indices().rev() {
            if ch.is_whitespace() {
                if let Some(end) = word_end.take() {
                    open = consider(at + ch.len_utf8(), end, &mut words);
                    if !open {
                        break;
                    }
                }
            } else if word_end.is_none() {
                word_end = Some(at + ch.len_utf8());
            }
        }
        if open && let Some(end) = word_end {
            consider(0, end, &mut words);
        }
        words.reverse();
        words
    }
}

/// `range` without leading and trailing whitespace; `None` when blank.
fn trim(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let slice = &text[range.clone()];
    let trimmed = slice.trim();
    if trimmed.is_empty() {
        return None;
    }
    let start = range.start + (slice.len() - slice.trim_start().len());
    Some(start..start + trimmed.len())
}

/// Blank-line separated paragraphs of `range`, trimmed.
fn paragraphs(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    let mut close = range.start;
    let mut at = range.start;
    for line in text[range].split_inclusive('\n') {
        if line.trim().is_empty() {
            if let Some(start) = open.take() {
                out.extend(trim(text, start..close));
            }
        } else {
            open.get_or_insert(at);
            close = at + line.len();
        }
        at += line.len();
    }
    if let Some(start) = open {
        out.extend(trim(text, start..close));
    }
    out
}

/// The non-blank lines of `range`, trimmed.
fn lines(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = range.start;
    for line in text[range].split_inclusive('\n') {
        out.extend(trim(text, at..at + line.len()));
        at += line.len();
    }
    out
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？' | '．')
}

/// Terminators that end a sentence without a following space.
fn is_wide_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '．')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '»' | '”' | '’' | '」' | '』' | '）')
}

/// Sentences of `range`, trimmed: a sentence ends after a terminator (and any
/// closing quotes or brackets) followed by whitespace, or after a full-width
/// terminator.
fn sentences(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let slice = &text[range.clone()];
    let mut begin = 0;
    let mut chars = slice.char_indices().peekable();
    while let Some((at, ch)) = chars.next() {
        if !is_terminator(ch) {
            continue;
        }
        let mut end = at + ch.len_utf8();
        let mut wide = is_wide_terminator(ch);
        while let Some(&(next_at, next)) = chars.peek() {
            if is_terminator(next) || is_closer(next) {
                wide |= is_wide_terminator(next);
                end = next_at + next.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let spaced = chars.peek().is_none_or(|&(_, next)| next.is_whitespace());
        if spaced || wide {
            out.extend(trim(text, range.start + begin..range.start + end));
            begin = end;
        }
    }
    out.extend(trim(text, range.start + begin..range.end));
    out
}

/// Whitespace-separated words of `range`.
fn words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (at, ch) in text[range.clone()].char_indices() {
        let at = range.start + at;
        if ch.is_whitespace() {
            if let Some(start) = open.take() {
                out.push(start..at);
            }
        } else if open.is_none() {
            open = Some(at);
        }
    }
    if let Some(start) = open {
        out.push(start..range.end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices<'t>(text: &'t str, ranges: &[Range<usize>]) -> Vec<&'t str> {
        ranges.iter().map(|r| &text[r.clone()]).collect()
    }

    #[test]
    fn splitters() {
        let text = "  One two.\nThree?  \n\n \n Four «five» six!\" Seven 3.14 e.g. 。八九。十 ";
        let all = 0..text.len();
        assert_eq!(slices(text, &paragraphs(text, all.clone())), [
            "One two.\nThree?",
            "Four «five» six!\" Seven 3.14 e.g. 。八九。十"
        ]);
        assert_eq!(slices(text, &lines(text, all.clone())), [
            "One two.",
            "Three?",
            "Four «five» six!\" Seven 3.14 e.g. 。八九。十"
        ]);
        assert_eq!(slices(text, &sentences(text, all.clone())), [
            "One two.",
            "Three?",
            "Four «five» six!\"",
            "Seven 3.14 e.g.",
            "。",
            "八九。",
            "十"
        ]);
        assert_eq!(slices(text, &words(text, 2..17)), ["One", "two.", "Three?"]);
        assert_eq!(trim(text, 0..2), None);
    }

    #[test]
    fn levels_get_finer() {
        assert_eq!(Level::Paragraph.finer(), Level::Line);
        assert_eq!(Level::Word.finer(), Level::Char);
        assert!(Level::Paragraph > Level::Sentence);
    }
}
