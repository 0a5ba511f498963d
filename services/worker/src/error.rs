//! How a job attempt can end badly, which decides what happens next.

use percolate_extract::ExtractError;
use percolate_objects::ObjectError;

/// Why a job attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The input itself is bad (corrupt, unsupported, too large, missing):
    /// retrying cannot help, the job fails at once.
    #[error("{0}")]
    Permanent(String),
    /// Something around the job failed (database unreachable, model
    /// error): the job is retried with backoff until its attempts run out.
    #[error("{0}")]
    Retryable(String),
    /// The job was cancelled while it ran.
    #[error("cancelled")]
    Cancelled,
}

impl From<ExtractError> for JobError {
    fn from(error: ExtractError) -> Self {
        match error {
            // A tool that failed to run may work next time (resources,
            // timeouts); everything else is about the file.
            ExtractError::Tool { .. } => JobError::Retryable(error.to_string()),
            _ => JobError::Permanent(error.to_string()),
        }
    }
}

impl From<ObjectError> for JobError {
    fn from(error: ObjectError) -> Self {
        if error.is_transient() { JobError::Retryable(error.to_string()) } else { JobError::Permanent(error.to_string()) }
    }
}

impl From<percolate_sdk::Error> for JobError {
    fn from(error: percolate_sdk::Error) -> Self {
        use tonic::Code;
        match error.code() {
            // The database refused the data itself: retrying sends the same.
            Some(Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange) => JobError::Permanent(format!("the database refused the results: {error}")),
            _ => JobError::Retryable(format!("writing results to the database: {error}")),
        }
    }
}

impl From<percolate_jobs::JobsError> for JobError {
    fn from(error: percolate_jobs::JobsError) -> Self {
        JobError::Retryable(format!("job store: {error}"))
    }
}

impl From<percolate_embedder::EmbedError> for JobError {
    fn from(error: percolate_embedder::EmbedError) -> Self {
        JobError::Retryable(format!("embedding: {error}"))
    }
}
