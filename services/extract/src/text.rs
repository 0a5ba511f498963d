//! Plain text, and the text handling every parser shares: decoding (UTF-8,
//! UTF-8 with BOM, UTF-16 with BOM), line-ending normalisation, the
//! character budget of [`Limits::max_text_chars`] and the splitting of long
//! text into sections of a sane size (chunking proper happens later).

use crate::{Document, ExtractError, Kind, Limits, Section};

/// Sections are cut near this many bytes, at a paragraph boundary when
/// there is one, so a huge file never becomes one huge section.
pub(crate) const SECTION_TARGET_BYTES: usize = 8 * 1024;

/// Extracts a plain-text file: one section per group of paragraphs.
pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let text = decode(bytes, "text")?;
    TextBudget::new(limits).spend(&text)?;
    let mut sections = Vec::new();
    push_split(&mut sections, &Section::default(), &text);
    Ok(Document {
        kind: Kind::PlainText,
        title: None,
        sections,
        pages: None,
    })
}

/// Decodes text bytes: UTF-8 (a BOM is dropped) or UTF-16 with a BOM.
/// Line endings become `\n`, NUL and other control characters (except tab
/// and newline) are dropped. `kind` names the format in the error.
pub(crate) fn decode(bytes: &[u8], kind: &str) -> Result<String, ExtractError> {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Ok(normalise(&utf16(rest, u16::from_le_bytes, kind)?));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Ok(normalise(&utf16(rest, u16::from_be_bytes, kind)?));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(normalise(utf8(body, kind)?))
}

fn utf8<'a>(bytes: &'a [u8], kind: &str) -> Result<&'a str, ExtractError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ExtractError::corrupt(
            kind,
            format!(
                "not valid UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, kind: &str) -> Result<String, ExtractError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(ExtractError::corrupt(
            kind,
            "UTF-16 text with an odd number of bytes",
        ));
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| ExtractError::corrupt(kind, format!("invalid UTF-16 text: {e}")))
}

/// Normalises line endings to `\n` and drops control characters other than
/// tab and newline (form and vertical feeds become newlines).
pub(crate) fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\u{0B}' | '\u{0C}' => out.push('\n'),
            '\t' => out.push('\t'),
            c if c <= '\u{1F}' || c == '\u{7F}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Counts the characters kept from one file against
/// [`Limits::max_text_chars`].
#[derive(Debug)]
pub(crate) struct TextBudget {
    used: usize,
    max: usize,
}

impl TextBudget {
    /// A fresh budget for one file.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            used: 0,
            max: limits.max_text_chars,
        }
    }

    /// Adds `text` to the count; fails once the total is over the limit.
    pub(crate) fn spend(&mut self, text: &str) -> Result<(), ExtractError> {
        // Bytes bound characters from above: count characters only when needed.
        let len = if self.used.saturating_add(text.len()) <= self.max {
            text.len()
        } else {
            text.chars().count()
        };
        self.used = self.used.saturating_add(len);
        if self.used > self.max {
            return Err(ExtractError::TooLarge(format!(
                "the text is over the limit of {} characters",
                self.max
            )));
        }
        Ok(())
    }
}

/// Appends `text` to `sections`, cut into pieces of about
/// [`SECTION_TARGET_BYTES`], each a copy of `template` (heading, page, sheet)
/// with that piece as its text. Blank text adds nothing.
pub(crate) fn push_split(sections: &mut Vec<Section>, template: &Section, text: &str) {
    for piece in split(text, SECTION_TARGET_BYTES) {
        sections.push(Section {
            text: piece.to_string(),
            ..template.clone()
        });
    }
}

/// Ends a section of a document cut at headings: `body` under `heading`,
/// split like [`push_split`]. A heading with nothing under it becomes a
/// section of its own text (and is taken, so it heads nothing else), so no
/// words are lost.
pub(crate) fn push_section(sections: &mut Vec<Section>, heading: &mut Option<String>, body: &str) {
    let template = Section {
        heading: heading.clone(),
        ..Section::default()
    };
    if body.trim().is_empty() {
        if let Some(heading) = heading.take() {
            sections.push(Section {
                text: heading,
                ..template
            });
        }
    } else {
        push_split(sections, &template, body);
    }
}

/// Lines of text gathered into sections of about [`SECTION_TARGET_BYTES`]
/// (a line is not cut unless it is longer than that on its own), each a
/// copy of a template (heading, page, sheet).
#[derive(Debug)]
pub(crate) struct LineSections {
    template: Section,
    current: String,
    sections: Vec<Section>,
}

impl LineSections {
    /// No lines yet; sections will be copies of `template`.
    pub(crate) fn new(template: Section) -> Self {
        Self {
            template,
            current: String::new(),
            sections: Vec::new(),
        }
    }

    /// Appends `line`, first ending the current section when the line would
    /// take it past [`SECTION_TARGET_BYTES`].
    pub(crate) fn push_line(&mut self, line: &str) {
        if !self.current.is_empty() && self.current.len() + line.len() > SECTION_TARGET_BYTES {
            self.flush();
        }
        self.current.push_str(line);
        self.current.push('\n');
    }

    /// The sections, the one in progress included.
    pub(crate) fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.sections
    }

    fn flush(&mut self) {
        push_split(&mut self.sections, &self.template, &self.current);
        self.current.clear();
    }
}

/// Cuts `text` into trimmed, non-empty pieces of at most `target` bytes,
/// preferring a paragraph break, then a line break, then a space.
pub(crate) fn split(text: &str, target: usize) -> Vec<&str> {
    let target = target.max(4);
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while rest.len() > target {
        let window = &rest[..floor_boundary(rest, target)];
        let cut = window
            .rfind("\n\n")
            .or_else(|| window.rfind('\n'))
            .or_else(|| window.rfind(char::is_whitespace))
            .filter(|&at| at > 0)
            .unwrap_or(window.len());
        let (piece, tail) = rest.split_at(cut);
        let piece = piece.trim();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// The largest char boundary of `s` at or below `at` (at least one char).
fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    if i == 0 {
        // `at` falls inside the first character: take that whole character.
        s.chars().next().map_or(s.len(), char::len_utf8)
    } else {
        i
    }
}

/// Collapses runs of whitespace to single spaces (and trims the ends).
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Longest document title kept, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 1000;

/// A document title from its raw text: whitespace collapsed, at most
/// [`MAX_TITLE_CHARS`] characters; `None` when blank.
pub(crate) fn title_text(raw: &str) -> Option<String> {
    let title: String = collapse(raw).chars().take(MAX_TITLE_CHARS).collect();
    (!title.is_empty()).then_some(title)
}

/// Trims the end of every line, drops blank lines at the start and the end
/// and squeezes runs of blank lines to one.
pub(crate) fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// Byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
pub(crate) fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Runs a third-party parser, turning a panic (a bug it hit on hostile
/// input) into [`ExtractError::Corrupt`] for a `kind` file. The process-wide
/// panic hook still reports the panic.
pub(crate) fn no_panic<T>(
    kind: &str,
    parse: impl FnOnce() -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".to_string());
        Err(ExtractError::corrupt(
            kind,
            format!("the parser failed on this file ({detail})"),
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_boms_and_line_endings() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFa\r\nb\rc\x00d", "text").unwrap(),
            "a\nb\ncd"
        );
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&utf16le, "text").unwrap(), "hé");
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&utf16be, "text").unwrap(), "hé");
        assert!(matches!(
            decode(b"ab\xFFcd", "text"),
            Err(ExtractError::Corrupt { .. })
        ));
        assert!(matches!(
            decode(b"\xFF\xFEa", "text"),
            Err(ExtractError::Corrupt { .. })
        ));
    }

    #[test]
    fn splits_at_paragraphs_and_never_mid_char() {
        let text = format!("{}\n\n{}", "a".repeat(30), "b".repeat(30));
        assert_eq!(split(&text, 40), vec!["a".repeat(30), "b".repeat(30)]);
        let long = "é".repeat(100);
        let pieces = split(&long, 7);
        assert!(pieces.iter().all(|p| p.len() <= 7 && !p.is_empty()));
        assert_eq!(pieces.concat(), long);
        assert!(split("  \n ", 10).is_empty());
    }

    #[test]
    fn tidies_lines() {
        assert_eq!(
            tidy_lines("  a line  \n\n\n\nnext\nthird \n\u{c}"),
            "  a line\n\nnext\nthird"
        );
        assert_eq!(tidy_lines("\n\n"), "");
    }

    #[test]
    fn budget_counts_characters() {
        let limits = Limits {
            max_text_chars: 5,
            ..Limits::default()
        };
        let mut budget = TextBudget::new(&limits);
        assert!(budget.spend("éééé").is_ok());
        assert!(budget.spend("é").is_ok());
        assert!(matches!(budget.spend("x"), Err(ExtractError::TooLarge(_))));
    }
}
