//! The object store's one error type.

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The key (or tenant) is not a safe relative path.
    #[error("object key '{key}' {why}")]
    InvalidKey {
        /// The offending key (escaped).
        key: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No such object.
    #[error("object '{0}' does not exist")]
    NotFound(String),
    /// The object is larger than the caller accepts.
    #[error("object '{key}' is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The object's key.
        key: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The local disk failed.
    #[error("object store I/O on '{key}': {source}")]
    Io {
        /// The object's key.
        key: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The S3-compatible server failed or could not be reached.
    #[error("object store request {operation} '{key}' failed: {detail}")]
    Remote {
        /// What was attempted (e.g. `UploadPart`).
        operation: &'static str,
        /// The object's key.
        key: String,
        /// The server's or the transport's error.
        detail: String,
    },
    /// The store's settings cannot work.
    #[error("object store configuration: {0}")]
    Config(String),
}

impl ObjectError {
    /// Whether the same operation may succeed later (the store, not the
    /// request, failed).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Io { .. } | Self::Remote { .. })
    }
}

/// Result of object operations.
pub type Result<T> = std::result::Result<T, ObjectError>;
