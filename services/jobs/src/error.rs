//! The jobs crate's one error type and its one mapping to `tonic::Status`.

use tonic::{Code, Status};

/// Everything a jobs operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such job for this tenant.
    #[error("job {0} not found")]
    NotFound(String),
    /// The job cannot do that in its current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The local job database failed.
    #[error("job store: {0}")]
    Storage(#[from] rocksdb::Error),
    /// NATS JetStream failed or is unreachable.
    #[error("NATS JetStream: {0}")]
    Nats(String),
    /// A stored job record or queue entry could not be decoded.
    #[error("corrupt job record: {0}")]
    Corrupt(String),
    /// The queue is shutting down.
    #[error("the job queue is shutting down")]
    ShuttingDown,
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl JobsError {
    /// Shorthand for [`JobsError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }

    /// Wraps any NATS client error.
    pub fn nats(error: impl std::fmt::Display) -> Self {
        Self::Nats(error.to_string())
    }
}

impl From<percolate_rem::RemError> for JobsError {
    fn from(error: percolate_rem::RemError) -> Self {
        Self::InvalidArgument(error.to_string())
    }
}

impl From<JobsError> for Status {
    fn from(error: JobsError) -> Self {
        let code = match &error {
            JobsError::InvalidArgument(_) => Code::InvalidArgument,
            JobsError::NotFound(_) => Code::NotFound,
            JobsError::FailedPrecondition(_) => Code::FailedPrecondition,
            JobsError::Nats(_) | JobsError::ShuttingDown => Code::Unavailable,
            JobsError::Corrupt(_) => Code::DataLoss,
            JobsError::Storage(_) | JobsError::Internal(_) => Code::Internal,
        };
        if matches!(code, Code::Internal | Code::DataLoss | Code::Unavailable) {
            tracing::error!(%error, "jobs request failed");
        }
        Status::new(code, error.to_string())
    }
}

/// Result of jobs operations.
pub type Result<T> = std::result::Result<T, JobsError>;
