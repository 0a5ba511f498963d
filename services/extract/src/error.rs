//! The one error type of extraction. Every message is meant for the user
//! whose job failed: it says what was wrong with the file.

/// Why a file could not be turned into text.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The content is none of the supported types.
    #[error("unsupported content type: {0}")]
    Unsupported(String),
    /// The file claims a type but its bytes are not a valid file of it.
    #[error("corrupt {kind} file: {detail}")]
    Corrupt {
        /// The type the file was taken for.
        kind: String,
        /// What was wrong.
        detail: String,
    },
    /// A limit was exceeded (size, decompressed size, pages, entries).
    #[error("{0}")]
    TooLarge(String),
    /// The file was valid but contained no text at all.
    #[error("no text found in the {0} file")]
    NoText(String),
    /// The file is encrypted or password protected.
    #[error("the file is encrypted: {0}")]
    Encrypted(String),
    /// An external tool (PocketSphinx, Tesseract) is missing or failed.
    #[error("{tool} failed: {detail}")]
    Tool {
        /// The program that failed.
        tool: String,
        /// Its error output or why it could not be run.
        detail: String,
    },
}

impl ExtractError {
    /// A corrupt-file error.
    pub fn corrupt(kind: &str, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt { kind: kind.to_string(), detail: detail.to_string() }
    }

    /// An external-tool error.
    pub fn tool(tool: &str, detail: impl std::fmt::Display) -> Self {
        Self::Tool { tool: tool.to_string(), detail: detail.to_string() }
    }
}
