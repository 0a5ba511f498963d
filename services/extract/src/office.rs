//! Word documents (DOCX), and the ZIP handling shared with workbooks: the
//! zip-bomb guard and the Office Open XML helpers.
//!
//! `word/document.xml` is read as a stream of XML events: paragraphs
//! (`<w:p>`) made of runs of text (`<w:t>`, `<w:tab/>`, `<w:br/>`).
//! Paragraphs whose style is a heading (or the title) start a new section.

use std::collections::HashSet;
use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;
use zip::result::ZipError;

use crate::text::{TextBudget, collapse, push_section};
use crate::{Document, ExtractError, Kind, Limits, Section};

/// An entry larger than this may not expand more than [`MAX_RATIO`] times.
const RATIO_MIN_BYTES: u64 = 1024 * 1024;

/// Deflate cannot honestly do much better than about 1000:1.
const MAX_RATIO: u64 = 1000;

/// A ZIP archive over a byte slice.
pub(crate) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// Opens a ZIP archive; `kind` names the format in the error.
pub(crate) fn open_zip<'a>(bytes: &'a [u8], kind: &str) -> Result<Archive<'a>, ExtractError> {
    ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error(kind, e))
}

/// Turns a ZIP error into the user-facing error for a `kind` file.
pub(crate) fn zip_error(kind: &str, error: ZipError) -> ExtractError {
    match error {
        ZipError::UnsupportedArchive(msg) if msg == ZipError::PASSWORD_REQUIRED => {
            ExtractError::Encrypted(format!("the {kind} file is password protected"))
        }
        ZipError::CompressionMethodNotSupported(method) => {
            ExtractError::corrupt(kind, format!("unsupported ZIP compression method {method}"))
        }
        other => ExtractError::corrupt(kind, format!("invalid ZIP container: {other}")),
    }
}

/// The zip-bomb guard, run before anything (ours or calamine's) reads the
/// archive: at most [`Limits::max_zip_entries`] entries, and every entry is
/// actually decompressed while counting, so headers that lie about sizes
/// do not matter. Fails with [`ExtractError::TooLarge`] once the total is
/// over [`Limits::max_decompressed_bytes`] or an entry over 1 MiB expands
/// more than 1000 times.
pub(crate) fn check_zip(bytes: &[u8], limits: &Limits, kind: &str) -> Result<(), ExtractError> {
    let mut archive = open_zip(bytes, kind)?;
    if archive.len() > limits.max_zip_entries {
        return Err(ExtractError::TooLarge(format!(
            "the {kind} file has {} ZIP entries, over the limit of {}",
            archive.len(),
            limits.max_zip_entries
        )));
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| zip_error(kind, e))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let compressed = entry.compressed_size().max(1);
        let mut size = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ExtractError::corrupt(
                        kind,
                        format!("ZIP entry {name}: {e}"),
                    ));
                }
            };
            size += n;
            total += n;
            if total > limits.max_decompressed_bytes {
                return Err(ExtractError::TooLarge(format!(
                    "the {kind} file decompresses to more than the limit of {} bytes (a zip bomb?)",
                    limits.max_decompressed_bytes
                )));
            }
            if size > RATIO_MIN_BYTES && size / compressed > MAX_RATIO {
                return Err(ExtractError::TooLarge(format!(
                    "ZIP entry {name} of the {kind} file expands more than {MAX_RATIO} times (a zip bomb?)"
                )));
            }
        }
    }
    Ok(())
}

/// The index of the entry named `name`, compared ASCII case-insensitively
/// (part names in Office Open XML packages are case-insensitive).
pub(crate) fn find_entry(archive: &Archive<'_>, name: &str) -> Option<usize> {
    archive.index_for_name(name).or_else(|| {
        archive
            .file_names_raw()
            .position(|raw| raw.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// A streaming XML reader over one entry of an [`Archive`].
pub(crate) type EntryXml<'b, 'a> = Reader<BufReader<zip::read::ZipFile<'b, Cursor<&'a [u8]>>>>;

/// An XML reader over one archive entry. Only call after [`check_zip`].
pub(crate) fn entry_xml<'a, 'b>(
    archive: &'b mut Archive<'a>,
    index: usize,
    kind: &str,
) -> Result<EntryXml<'b, 'a>, ExtractError> {
    let entry = archive.by_index(index).map_err(|e| zip_error(kind, e))?;
    let mut reader = Reader::from_reader(BufReader::new(entry));
    reader.config_mut().trim_text(false);
    Ok(reader)
}

/// `dc:title` from `docProps/core.xml`, when present and not blank.
pub(crate) fn core_title(archive: &mut Archive<'_>, kind: &str) -> Option<String> {
    let index = find_entry(archive, "docProps/core.xml")?;
    let mut xml = entry_xml(archive, index, kind).ok()?;
    let mut buf = Vec::new();
    let mut title: Option<String> = None;
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "title" => title = Some(String::new()),
            Event::End(e) if e.local_name().as_ref() == "title" => break,
            Event::Text(t) => {
                if let Some(title) = title.as_mut() {
                    title.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(title) = title.as_mut() {
                    push_reference(title, &r);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if title.as_ref().is_some_and(|t| t.len() > 4096) {
            break;
        }
    }
    let title = collapse(&title?);
    (!title.is_empty()).then_some(title)
}

/// Appends the text of an entity or character reference (`&amp;`, `&#233;`).
/// Only the predefined XML entities exist: others are dropped, so nothing is
/// ever expanded recursively.
pub(crate) fn push_reference(out: &mut String, reference: &quick_xml::events::BytesRef<'_>) {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        out.push(c);
    } else if let Some(text) =
        quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
    {
        out.push_str(text);
    }
}

/// The value of the attribute whose local name is `name`.
pub(crate) fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_or_else(|_| a.value.to_string(), |v| v.into_owned())
        })
}

/// Extracts a DOCX: one section per heading, title from the document
/// properties or the first Title paragraph.
pub(crate) fn extract_docx(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    check_zip(bytes, limits, "docx")?;
    crate::text::no_panic("docx", || read_docx(bytes, limits))
}

fn read_docx(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    let mut archive = open_zip(bytes, "docx")?;
    let main = find_entry(&archive, "word/document.xml")
        .ok_or_else(|| ExtractError::corrupt("docx", "word/document.xml is missing"))?;
    let headings = heading_styles(&mut archive);
    let title = core_title(&mut archive, "docx");
    let mut xml = entry_xml(&mut archive, main, "docx")?;
    let mut body = Body::new(headings, limits);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| ExtractError::corrupt("docx", format!("word/document.xml: {e}")))?;
        match event {
            Event::Start(e) => body.start(&e, false),
            Event::Empty(e) => body.start(&e, true),
            Event::End(e) => body.end(e.local_name().as_ref())?,
            Event::Text(t) if body.in_text => body.push(&t.xml10_content()),
            Event::GeneralRef(r) if body.in_text => {
                let mut s = String::new();
                push_reference(&mut s, &r);
                body.push(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    body.finish(title)
}

/// Style ids of heading styles, from `word/styles.xml`: styles named
/// "heading N" or "Title" (built-in names are English even in localised
/// documents, unlike the ids) or with an outline level.
fn heading_styles(archive: &mut Archive<'_>) -> HashSet<String> {
    let mut ids = HashSet::new();
    let Some(index) = find_entry(archive, "word/styles.xml") else {
        return ids;
    };
    let Ok(mut xml) = entry_xml(archive, index, "docx") else {
        return ids;
    };
    let mut buf = Vec::new();
    let mut current: Option<String> = None;
    loop {
        buf.clear();
        let Ok(event) = xml.read_event_into(&mut buf) else {
            break;
        };
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "style" => current = attribute(&e, "styleId"),
                "name" => {
                    let name = attribute(&e, "val")
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if name.starts_with("heading") || name == "title" {
                        ids.extend(current.clone());
                    }
                }
                "outlineLvl" => ids.extend(current.clone()),
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "style" => current = None,
            Event::Eof => break,
            _ => {}
        }
    }
    ids
}

/// One paragraph being read.
#[derive(Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    outline: bool,
}

/// The state of the walk over `word/document.xml`.
struct Body {
    heading_styles: HashSet<String>,
    budget: TextBudget,
    /// Open paragraphs: text boxes nest paragraphs inside paragraphs.
    open: Vec<Paragraph>,
    in_run: usize,
    in_text: bool,
    /// Depth inside deleted or moved-away text and compatibility fallbacks
    /// (which repeat the text of their preferred alternative).
    skipped: usize,
    heading: Option<String>,
    current: String,
    first_title: Option<String>,
    sections: Vec<Section>,
}

impl Body {
    fn new(heading_styles: HashSet<String>, limits: &Limits) -> Self {
        Self {
            heading_styles,
            budget: TextBudget::new(limits),
            open: Vec::new(),
            in_run: 0,
            in_text: false,
            skipped: 0,
            heading: None,
            current: String::new(),
            first_title: None,
            sections: Vec::new(),
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        match e.local_name().as_ref() {
            "p" if !empty => self.open.push(Paragraph::default()),
            "r" if !empty => self.in_run += 1,
            "t" if !empty => self.in_text = true,
            "del" | "moveFrom" | "Fallback" if !empty => self.skipped += 1,
            "pStyle" => {
                if let Some(p) = self.open.last_mut() {
                    p.style = attribute(e, "val");
                }
            }
            "outlineLvl" => {
                if let Some(p) = self.open.last_mut() {
                    p.outline = true;
                }
            }
            "tab" if self.in_run > 0 => self.push("\t"),
            "br" | "cr" if self.in_run > 0 => self.push("\n"),
            "noBreakHyphen" if self.in_run > 0 => self.push("-"),
            _ => {}
        }
    }

    /// Appends text to the innermost open paragraph.
    fn push(&mut self, text: &str) {
        if self.skipped > 0 {
            return;
        }
        if let Some(p) = self.open.last_mut() {
            p.text.push_str(text);
        }
    }

    fn end(&mut self, name: &str) -> Result<(), ExtractError> {
        match name {
            "t" => self.in_text = false,
            "r" => self.in_run = self.in_run.saturating_sub(1),
            "del" | "moveFrom" | "Fallback" => self.skipped = self.skipped.saturating_sub(1),
            "p" => {
                if let Some(p) = self.open.pop() {
                    self.paragraph(p)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn paragraph(&mut self, p: Paragraph) -> Result<(), ExtractError> {
        let text = p.text.trim();
        if text.is_empty() {
            return Ok(());
        }
        self.budget.spend(text)?;
        let style = p.style.as_deref().unwrap_or_default();
        let lower = style.to_ascii_lowercase();
        let is_title = lower == "title";
        let is_heading = is_title
            || p.outline
            || lower.starts_with("heading")
            || self.heading_styles.contains(style);
        if !is_heading {
            self.current.push_str(text);
            self.current.push('\n');
            return Ok(());
        }
        let heading = collapse(text);
        if is_title && self.first_title.is_none() {
            self.first_title = Some(heading.clone());
        }
        self.flush();
        self.heading = Some(heading);
        Ok(())
    }

    /// Ends the current section (see [`push_section`]).
    fn flush(&mut self) {
        push_section(&mut self.sections, &mut self.heading, &self.current);
        self.current.clear();
    }

    fn finish(mut self, title: Option<String>) -> Result<Document, ExtractError> {
        // Paragraphs left open by a truncated document still count.
        while let Some(p) = self.open.pop() {
            self.paragraph(p)?;
        }
        self.flush();
        Ok(Document {
            kind: Kind::Docx,
            title: title.or(self.first_title),
            sections: self.sections,
            pages: None,
        })
    }
}
