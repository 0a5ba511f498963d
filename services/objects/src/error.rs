//! The object store's one error type.

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The key is not a safe relative path.
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
    /// The disk or the server failed.
    #[error("object store I/O on '{key}': {source}")]
    Io {
        /// The object's key.
        key: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result of object operations.
pub type Result<T> = std::result::Result<T, ObjectError>;
