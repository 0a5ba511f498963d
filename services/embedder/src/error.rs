//! The embedder's error type.

use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A configured file does not exist.
    #[error("{what} not found at {}: run scripts/bootstrap or point the embedding config at it", path.display())]
    Missing {
        /// What was looked for.
        what: &'static str,
        /// Where.
        path: PathBuf,
    },
    /// The model or tokenizer is not usable as a sentence embedder.
    #[error("unusable embedding model: {0}")]
    Model(String),
    /// ONNX Runtime or the tokenizer failed.
    #[error("embedding failed: {0}")]
    Runtime(String),
}
