//! What extraction produces: a document as a list of located text sections.

use crate::Kind;

/// The text of one file, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// What the file was found to be.
    pub kind: Kind,
    /// A title when the file has one (first heading, `<title>`, PDF info).
    pub title: Option<String>,
    /// The text, in order. Never empty after a successful extraction.
    pub sections: Vec<Section>,
    /// Pages (PDF), sheets (XLSX) or seconds of audio, when meaningful.
    pub pages: Option<u32>,
}

/// A run of text and where it came from. The location fields become chunk
/// metadata, so a search hit can point at the page, heading or time span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    /// The text itself.
    pub text: String,
    /// The nearest heading above this text (Markdown, HTML, DOCX).
    pub heading: Option<String>,
    /// 1-based page number (PDF).
    pub page: Option<u32>,
    /// Sheet name (XLSX).
    pub sheet: Option<String>,
    /// Start of the span in milliseconds (audio).
    pub start_ms: Option<u64>,
    /// End of the span in milliseconds (audio).
    pub end_ms: Option<u64>,
    /// True when the text was recognised by OCR.
    pub ocr: bool,
}

impl Section {
    /// A section of plain text with no location.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }
}
