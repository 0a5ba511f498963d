//! Turns the bytes of an uploaded file into text the database can index.
//!
//! [`sniff`] decides what a file is from its content (the declared type and
//! the file name are hints only); [`extract`] turns it into [`Section`]s of
//! text that keep where they came from (heading, page, sheet, time span);
//! [`chunk`] cuts sections into token-bounded, overlapping chunks; and
//! [`entities`] finds people, organisations, emails, URLs and dates without
//! an LLM. Everything here is synchronous and bounded by [`Limits`]: callers
//! run it on a blocking thread under a time limit.

mod audio;
mod chunk;
mod document;
mod entities;
mod error;
mod html;
mod json;
mod limits;
mod markdown;
mod ocr;
mod office;
mod pdf;
mod process;
mod sheet;
mod sniff;
mod speech;
mod text;
mod tools;

pub use chunk::{Chunk, ChunkOptions, TokenCounter, WordCounter, chunk_sections};
pub use document::{Document, Section};
pub use entities::{EntityKind, FoundEntity, find_entities};
pub use error::ExtractError;
pub use limits::Limits;
pub use sniff::{Kind, sniff};
pub use speech::{HeardSegment, SpeechAudio, SpeechPart, decode_speech, speech_document};
pub use tools::Tools;

/// Extracts the text of `bytes`, already sniffed as `kind`.
pub fn extract(
    bytes: &[u8],
    kind: Kind,
    limits: &Limits,
    tools: &Tools,
) -> Result<Document, ExtractError> {
    limits.check_file_size(bytes.len() as u64)?;
    let document = match kind {
        Kind::PlainText => text::extract(bytes, limits)?,
        Kind::Markdown => markdown::extract(bytes, limits)?,
        Kind::Html => html::extract(bytes, limits)?,
        Kind::Json => json::extract(bytes, limits)?,
        Kind::Csv => sheet::extract_csv(bytes, limits)?,
        Kind::Xlsx => sheet::extract_xlsx(bytes, limits)?,
        Kind::Docx => office::extract_docx(bytes, limits)?,
        Kind::Pdf => pdf::extract(bytes, limits, tools)?,
        Kind::Audio => audio::extract(bytes, limits, tools)?,
        Kind::Image => ocr::extract_image(bytes, limits, tools)?,
    };
    if document.sections.iter().all(|s| s.text.trim().is_empty()) {
        return Err(ExtractError::NoText(kind.content_type().to_string()));
    }
    Ok(document)
}
