//! The storage engine's error type.

use thiserror::Error;

/// Everything that can go wrong in the storage engine.
#[derive(Debug, Error)]
pub enum RemError {
    /// The tenant id is not of the form `[a-z0-9][a-z0-9_-]{0,62}`.
    #[error("tenant id '{id}' is invalid: {reason}")]
    InvalidTenantId {
        /// The offending id (truncated when long).
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A request field is malformed (wrong vector size, NaN, empty key, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Something that was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the tenant's state (for example a vector of
    /// another dimension than the tenant's).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The engine is at a limit (too many open tenants in use, ...).
    #[error("{0}")]
    ResourceExhausted(String),
    /// The node cannot take the write now (for example its replication
    /// outbox is full while the log is unreachable); retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A tenant database could not be opened.
    #[error("tenant '{tenant}' could not be opened: {reason}")]
    OpenFailed {
        /// The tenant.
        tenant: String,
        /// Why.
        reason: String,
    },
    /// RocksDB failed.
    #[error("storage error: {0}")]
    Storage(#[from] rocksdb::Error),
    /// A stored record could not be decoded: the data on disk is corrupt.
    #[error("corrupt record in column family '{cf}': {detail}")]
    Corrupt {
        /// Column family of the record.
        cf: &'static str,
        /// What failed to decode.
        detail: String,
    },
    /// A filesystem operation failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result type of the storage engine.
pub type Result<T, E = RemError> = std::result::Result<T, E>;

impl RemError {
    /// Shorthand for [`RemError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
}
