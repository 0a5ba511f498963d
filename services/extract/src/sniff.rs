//! Content sniffing: what a file is, decided from its bytes.
//!
//! Binary formats are recognised by their signatures (and, for ZIP, by the
//! names in the central directory); only when the bytes are text do the
//! declared MIME type and the file name help to choose among the text
//! formats.

use std::borrow::Cow;
use std::io::Cursor;

use crate::ExtractError;

/// The kinds of file Percolate can extract text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// UTF-8 (or UTF-16 with BOM) text.
    PlainText,
    /// Markdown.
    Markdown,
    /// HTML.
    Html,
    /// JSON.
    Json,
    /// Comma-separated values.
    Csv,
    /// Excel workbook (Office Open XML).
    Xlsx,
    /// Word document (Office Open XML).
    Docx,
    /// PDF, text or scanned.
    Pdf,
    /// Audio (WAV, MP3, FLAC, OGG/Vorbis, AAC/M4A, AIFF).
    Audio,
    /// An image of text (PNG, JPEG, TIFF, BMP, GIF, WebP).
    Image,
}

impl Kind {
    /// The canonical MIME type, stored as the resources' `content_type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::PlainText => "text/plain",
            Kind::Markdown => "text/markdown",
            Kind::Html => "text/html",
            Kind::Json => "application/json",
            Kind::Csv => "text/csv",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Pdf => "application/pdf",
            Kind::Audio => "audio/*",
            Kind::Image => "image/*",
        }
    }
}

/// How much of the start of a text file the heuristics look at.
const HEAD_BYTES: usize = 64 * 1024;

/// A PDF header may follow a little junk (readers accept it within 1 KiB).
const PDF_HEADER_WINDOW: usize = 1024;

/// Decides what `bytes` are. `declared` (a MIME type from the uploader) and
/// `file_name` only break ties among text formats (Markdown vs plain text vs
/// CSV); binary formats are recognised by their signatures and a declared
/// type never overrides the content. Unknown binary content is
/// [`ExtractError::Unsupported`] naming what was seen.
pub fn sniff(
    bytes: &[u8],
    declared: Option<&str>,
    file_name: Option<&str>,
) -> Result<Kind, ExtractError> {
    if bytes.starts_with(b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    if is_zip(bytes) {
        return sniff_zip(bytes);
    }
    if bytes.starts_with(CFB_MAGIC) {
        return Err(sniff_cfb(bytes));
    }
    if is_audio(bytes) {
        return Ok(Kind::Audio);
    }
    if is_image(bytes) {
        return Ok(Kind::Image);
    }
    let text = as_text(bytes);
    if pdf_header_offset(bytes).is_some() && text.is_none() {
        return Ok(Kind::Pdf);
    }
    match text {
        Some(text) => Ok(sniff_text(&text, declared, file_name)),
        None => Err(ExtractError::Unsupported(binary_mime(bytes).to_string())),
    }
}

/// Where `%PDF-` starts, when it is within the first KiB.
pub(crate) fn pdf_header_offset(bytes: &[u8]) -> Option<usize> {
    let window = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    window.windows(5).position(|w| w == b"%PDF-")
}

fn is_zip(bytes: &[u8]) -> bool {
    [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"]
        .iter()
        .any(|magic| bytes.starts_with(*magic))
}

/// A ZIP is a DOCX or XLSX when it holds their main part; any other ZIP is
/// unsupported.
fn sniff_zip(bytes: &[u8]) -> Result<Kind, ExtractError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ExtractError::corrupt("zip", format!("unreadable ZIP archive: {e}")))?;
    let has = |wanted: &[u8]| {
        archive
            .file_names_raw()
            .any(|name| name.eq_ignore_ascii_case(wanted))
    };
    if has(b"word/document.xml") {
        return Ok(Kind::Docx);
    }
    if has(b"xl/workbook.xml") {
        return Ok(Kind::Xlsx);
    }
    let mime = match infer::get(bytes).map(|t| t.mime_type()) {
        Some(mime) if mime != "application/zip" => mime,
        _ if has(b"ppt/presentation.xml") => {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        }
        _ => "application/zip",
    };
    Err(ExtractError::Unsupported(mime.to_string()))
}

/// The signature of OLE compound files (legacy Office, and the wrapper of
/// password-protected Office Open XML files).
const CFB_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

fn sniff_cfb(bytes: &[u8]) -> ExtractError {
    // A password-protected DOCX/XLSX is a compound file holding a stream
    // named "EncryptedPackage" (the directory stores names in UTF-16LE).
    let needle: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
        return ExtractError::Encrypted("password-protected Office document".to_string());
    }
    let mime = infer::get(bytes).map_or("application/x-ole-storage", |t| t.mime_type());
    ExtractError::Unsupported(mime.to_string())
}

fn riff(bytes: &[u8], form: &[u8; 4]) -> bool {
    bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == form
}

fn is_audio(b: &[u8]) -> bool {
    riff(b, b"WAVE")
        || b.starts_with(b"fLaC")
        || b.starts_with(b"OggS")
        || (b.len() >= 12 && b.starts_with(b"FORM") && matches!(&b[8..12], b"AIFF" | b"AIFC"))
        || (b.len() >= 12
            && &b[4..8] == b"ftyp"
            && matches!(&b[8..12], b"M4A " | b"M4B " | b"M4P " | b"F4A " | b"F4B "))
        || is_id3(b)
        || is_mpeg_layer3_frame(b)
        || is_adts(b)
}

/// An ID3v2 tag header: "ID3", version 2-4, then a sync-safe size.
fn is_id3(b: &[u8]) -> bool {
    b.len() >= 10
        && b.starts_with(b"ID3")
        && (2..=4).contains(&b[3])
        && b[6..10].iter().all(|&x| x < 0x80)
}

/// An MPEG audio layer III frame header (an MP3 without ID3 tag).
fn is_mpeg_layer3_frame(b: &[u8]) -> bool {
    b.len() >= 4
        && b[0] == 0xFF
        && b[1] & 0xE0 == 0xE0
        && (b[1] >> 3) & 0b11 != 0b01 // reserved version
        && (b[1] >> 1) & 0b11 == 0b01 // layer III
        && b[2] >> 4 != 0b1111 // bad bitrate
        && (b[2] >> 2) & 0b11 != 0b11 // reserved sample rate
}

/// An AAC ADTS frame header.
fn is_adts(b: &[u8]) -> bool {
    b.len() >= 7 && b[0] == 0xFF && b[1] & 0xF6 == 0xF0 && (b[2] >> 2) & 0x0F < 13
}

fn is_image(b: &[u8]) -> bool {
    b.starts_with(b"\x89PNG\r\n\x1a\n")
        || b.starts_with(b"\xFF\xD8\xFF")
        || b.starts_with(b"II*\x00")
        || b.starts_with(b"MM\x00*")
        || b.starts_with(b"GIF87a")
        || b.starts_with(b"GIF89a")
        || riff(b, b"WEBP")
        || is_bmp(b)
}

/// "BM" alone is too weak (text may start with it): also check the reserved
/// zeros and a known DIB header size.
fn is_bmp(b: &[u8]) -> bool {
    if b.len() < 26 || !b.starts_with(b"BM") || b[6..10] != [0, 0, 0, 0] {
        return false;
    }
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// The bytes as text when they are UTF-8 (BOM optional) or UTF-16 with a
/// BOM, and do not look binary (NUL bytes, many control characters).
fn as_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let text: Cow<'_, str> = if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        Cow::Owned(crate::text::decode(bytes, "text").ok()?)
    } else {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        Cow::Borrowed(std::str::from_utf8(body).ok()?)
    };
    let head = head(&text);
    let mut total = 0usize;
    let mut control = 0usize;
    for c in head.chars() {
        total += 1;
        if c == '\0' {
            return None;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}' | '\u{1B}') {
            control += 1;
        }
    }
    (control * 100 <= total).then_some(text)
}

/// The first [`HEAD_BYTES`] of `text`, cut at a character boundary.
fn head(text: &str) -> &str {
    let mut end = text.len().min(HEAD_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The MIME type to name for binary content we do not support.
fn binary_mime(bytes: &[u8]) -> &'static str {
    match infer::get(bytes) {
        Some(t) if t.matcher_type() == infer::MatcherType::Text => {
            "text in an encoding other than UTF-8 or UTF-16"
        }
        Some(t) => t.mime_type(),
        None if looks_like_legacy_text(bytes) => "text in an encoding other than UTF-8 or UTF-16",
        None => "application/octet-stream",
    }
}

/// Mostly printable ASCII, with no NUL and hardly any control bytes: text
/// in a legacy 8-bit encoding (random bytes are about 37% printable).
fn looks_like_legacy_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let whitespace = |b: u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x0C);
    let printable = head
        .iter()
        .filter(|&&b| whitespace(b) || (0x20..0x7F).contains(&b))
        .count();
    let control = head
        .iter()
        .filter(|&&b| (b < 0x20 && !whitespace(b) && b != 0x1B) || b == 0x7F)
        .count();
    printable * 10 >= head.len() * 7 && control * 100 <= head.len()
}

/// Chooses among the text formats: unmistakable HTML and JSON first, then
/// the file name, then the declared type, then content heuristics.
fn sniff_text(text: &str, declared: Option<&str>, file_name: Option<&str>) -> Kind {
    let head = head(text);
    let start = head.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if is_html_document(start) {
        return Kind::Html;
    }
    if is_json(text) {
        return Kind::Json;
    }
    if let Some(kind) = file_name.and_then(kind_from_name) {
        return kind;
    }
    if let Some(kind) = declared.and_then(kind_from_mime) {
        return kind;
    }
    if has_html_tags(start) {
        Kind::Html
    } else if is_markdown(head) {
        Kind::Markdown
    } else if is_delimited(head, head.len() < text.len()) {
        Kind::Csv
    } else {
        Kind::PlainText
    }
}

fn kind_from_name(name: &str) -> Option<Kind> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "md" | "markdown" | "mdown" | "mkd" | "mkdn" => Some(Kind::Markdown),
        "csv" | "tsv" | "tab" => Some(Kind::Csv),
        "html" | "htm" | "xhtml" => Some(Kind::Html),
        "json" | "geojson" => Some(Kind::Json),
        "txt" | "text" | "log" => Some(Kind::PlainText),
        _ => None,
    }
}

fn kind_from_mime(declared: &str) -> Option<Kind> {
    let mime = declared
        .split(';')
        .next()
        .unwrap_or(declared)
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "text/markdown" | "text/x-markdown" => Some(Kind::Markdown),
        "text/csv" | "application/csv" | "text/tab-separated-values" => Some(Kind::Csv),
        "text/html" | "application/xhtml+xml" => Some(Kind::Html),
        "application/json" | "text/json" => Some(Kind::Json),
        m if m.starts_with("application/") && m.ends_with("+json") => Some(Kind::Json),
        _ => None,
    }
}

/// Starts like an HTML document (`<!doctype html>` or `<html`), possibly
/// after an XML declaration and comments.
fn is_html_document(start: &str) -> bool {
    let mut rest = start;
    for _ in 0..8 {
        let lower = prefix_lowercase(rest, 16);
        if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
            return true;
        }
        let skipped = if lower.starts_with("<?xml") {
            rest.find("?>").map(|end| &rest[end + 2..])
        } else if lower.starts_with("<!--") {
            rest.find("-->").map(|end| &rest[end + 3..])
        } else {
            None
        };
        match skipped {
            Some(next) => rest = next.trim_start(),
            None => return false,
        }
    }
    false
}

/// Begins with a tag and has typical HTML tags near the start.
fn has_html_tags(start: &str) -> bool {
    if !start.starts_with('<') {
        return false;
    }
    let lower = prefix_lowercase(start, 2048);
    [
        "<head", "<body", "<title", "<meta", "<div", "<p>", "<table", "<h1", "<h2", "<ul", "<span",
        "<br",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

fn prefix_lowercase(s: &str, max_chars: usize) -> String {
    s.chars()
        .take(max_chars)
        .flat_map(char::to_lowercase)
        .collect()
}

/// A JSON object or array. Validation allocates nothing for the values and
/// serde_json's recursion limit bounds the nesting.
fn is_json(text: &str) -> bool {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok()
}

/// Clear Markdown signals: ATX headings, fenced code, links, lists, quotes.
fn is_markdown(head: &str) -> bool {
    let mut headings = 0usize;
    let (mut fence, mut link, mut list, mut quote, mut setext, mut table) =
        (false, false, false, false, false, false);
    let mut previous_blank = true;
    for line in head.lines().take(400) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent <= 3 && is_atx_heading(trimmed) {
            headings += 1;
        }
        fence |= trimmed.starts_with("```") || trimmed.starts_with("~~~");
        link |= line.contains("](");
        list |=
            ["- ", "* ", "+ "].iter().any(|m| trimmed.starts_with(m)) || is_ordered_item(trimmed);
        quote |= trimmed.starts_with("> ");
        table |= trimmed.starts_with('|') && trimmed.contains("---");
        setext |= !previous_blank && trimmed.len() >= 3 && trimmed.chars().all(|c| c == '=');
        previous_blank = trimmed.is_empty();
    }
    let kinds = [headings > 0, fence, link, list, quote, setext, table]
        .iter()
        .filter(|&&b| b)
        .count();
    (headings > 0 && kinds >= 2) || headings >= 2 || kinds >= 3
}

fn is_atx_heading(line: &str) -> bool {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && line[hashes..].starts_with(' ')
        && !line[hashes..].trim().is_empty()
}

fn is_ordered_item(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&digits) && line[digits..].starts_with(". ")
}

/// Consistent comma-, tab- or semicolon-separated columns over the first
/// lines. When `truncated`, the last (possibly partial) line is ignored.
fn is_delimited(head: &str, truncated: bool) -> bool {
    let sample = if truncated {
        head.rsplit_once('\n').map_or("", |(whole, _)| whole)
    } else {
        head
    };
    [b',', b'\t', b';']
        .into_iter()
        .any(|delimiter| consistent_columns(sample, delimiter))
}

fn consistent_columns(sample: &str, delimiter: u8) -> bool {
    let mut reader = crate::sheet::delimited_reader(sample, delimiter);
    let mut width = None;
    let (mut rows, mut field_bytes, mut fields, mut spaced) = (0usize, 0usize, 0usize, 0usize);
    for record in reader.records().take(50) {
        let Ok(record) = record else { return false };
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() < 2 || width.is_some_and(|w| w != record.len()) {
            return false;
        }
        width = Some(record.len());
        rows += 1;
        fields += record.len();
        field_bytes += record.iter().map(str::len).sum::<usize>();
        spaced += record.iter().skip(1).filter(|f| f.starts_with(' ')).count();
    }
    // Prose has commas too, but followed by a space and in long runs; real
    // columns are short and a separator is rarely followed by a space.
    let separators = fields.saturating_sub(rows);
    rows >= 3 && (delimiter == b'\t' || (field_bytes <= fields * 64 && spaced * 2 <= separators))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn markdown_signals() {
        assert!(is_markdown(
            "# Title\n\nSome text with a [link](http://x).\n"
        ));
        assert!(is_markdown("# One\n\ntext\n\n## Two\n"));
        assert!(!is_markdown("Just a note.\n#hashtag here\n"));
    }

    #[test]
    fn delimited_columns() {
        assert!(is_delimited("a,b,c\n1,2,3\n4,5,6\n", false));
        assert!(is_delimited("a\tb\n1\t2\n3\t4\n", false));
        assert!(!is_delimited(
            "Hello, world.\nThis is prose, with commas.\nAnd more\n",
            false
        ));
    }

    #[test]
    fn mp3_frame_is_not_utf16_bom() {
        assert!(!is_mpeg_layer3_frame(b"\xFF\xFEH\x00"));
        assert!(is_mpeg_layer3_frame(b"\xFF\xFB\x90\x64"));
    }
}
