//! Bounds on what one file may cost to extract.

use crate::ExtractError;

/// Bounds on one extraction. Exceeding any fails the file with
/// [`ExtractError::TooLarge`] naming the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Largest total of decompressed bytes inside a ZIP container (DOCX,
    /// XLSX): the guard against zip bombs.
    pub max_decompressed_bytes: u64,
    /// Most entries read from a ZIP container.
    pub max_zip_entries: usize,
    /// Most pages read from a PDF (or sheets from a workbook).
    pub max_pages: u32,
    /// Longest audio accepted, in seconds.
    pub max_audio_seconds: u32,
    /// Most characters of text kept from one file.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 100 * 1024 * 1024,
            max_decompressed_bytes: 200 * 1024 * 1024,
            max_zip_entries: 10_000,
            max_pages: 2_000,
            max_audio_seconds: 2 * 60 * 60,
            max_text_chars: 20_000_000,
        }
    }
}

impl Limits {
    /// Fails when a file of `len` bytes is over the size limit.
    pub fn check_file_size(&self, len: u64) -> Result<(), ExtractError> {
        if len > self.max_file_bytes {
            return Err(ExtractError::TooLarge(format!(
                "file is {len} bytes, over the limit of {} bytes",
                self.max_file_bytes
            )));
        }
        Ok(())
    }
}
