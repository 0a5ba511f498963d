//! The gateway's one error type and its one mapping to `tonic::Status`.

use percolate_jobs::JobsError;
use percolate_objects::ObjectError;
use tonic::{Code, Status};

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed (metadata, order of messages, empty file).
    #[error("{0}")]
    InvalidArgument(String),
    /// The file is larger than this gateway accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The bytes received are not the bytes the client described (size or
    /// SHA-256): nothing was stored.
    #[error("{0}")]
    Mismatch(String),
    /// The upload id was already used for a different file.
    #[error("{0}")]
    AlreadyExists(String),
    /// The client's stream failed or was cancelled.
    #[error("the upload stream broke: {0}")]
    Stream(Status),
    /// The gateway is shutting down; the upload was aborted and may be
    /// retried.
    #[error("the gateway is shutting down: the upload was aborted, retry it")]
    ShuttingDown,
    /// Object storage failed.
    #[error(transparent)]
    Objects(#[from] ObjectError),
    /// The job system failed.
    #[error(transparent)]
    Jobs(#[from] JobsError),
}

impl GatewayError {
    /// Shorthand for [`GatewayError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
}

impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Self {
        let error = match error {
            GatewayError::Jobs(jobs) => return jobs.into(),
            other => other,
        };
        let code = match &error {
            GatewayError::InvalidArgument(_) => Code::InvalidArgument,
            GatewayError::TooLarge(_) => Code::OutOfRange,
            GatewayError::Mismatch(_) => Code::DataLoss,
            GatewayError::AlreadyExists(_) => Code::AlreadyExists,
            GatewayError::Stream(status) => status.code(),
            GatewayError::ShuttingDown => Code::Unavailable,
            GatewayError::Objects(e) if e.is_transient() => Code::Unavailable,
            GatewayError::Objects(ObjectError::InvalidKey { .. }) => Code::InvalidArgument,
            GatewayError::Objects(_) => Code::Internal,
            GatewayError::Jobs(_) => Code::Internal,
        };
        if matches!(code, Code::Internal | Code::Unavailable) {
            tracing::error!(%error, "upload failed");
        }
        Status::new(code, error.to_string())
    }
}
