//! The database service's error type and its one mapping to `tonic::Status`.

use percolate_embedder::EmbedError;
use percolate_objects::ObjectError;
use percolate_openai::OpenAiError;
use percolate_rem::RemError;
use thiserror::Error;
use tonic::{Code, Status};

/// Everything a `Database` call can fail with.
#[derive(Debug, Error)]
pub enum DbError {
    /// The storage engine refused or failed.
    #[error(transparent)]
    Rem(#[from] RemError),
    /// The embedding model failed or is not usable.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// Snapshot storage refused or failed.
    #[error("snapshot storage: {0}")]
    Objects(#[from] ObjectError),
    /// The language model answering a chat failed or is misconfigured.
    /// Callers are told what happened, not the model server's address or
    /// what it sent (the node logs those).
    #[error("the language model {}", told(.0))]
    Chat(#[from] OpenAiError),
    /// The language model refused a request that named no model of its
    /// own: the node's chat settings are wrong, not the caller's request.
    #[error("the language model {} (check this node's chat_url and chat_model)", told(.0))]
    ChatSettings(OpenAiError),
    /// Stored data failed verification (a snapshot's checksum).
    #[error("{0}")]
    DataLoss(String),
    /// The request is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request needs something this node does not have configured.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The node cannot do it now (the replication log is unreachable).
    #[error("{0}")]
    Unavailable(String),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DbError {
    /// Shorthand for [`DbError::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }

    /// The gRPC status code the error is answered with.
    pub fn code(&self) -> Code {
        match self {
            DbError::Rem(rem) => match rem {
                RemError::InvalidTenantId { .. } | RemError::InvalidArgument(_) => Code::InvalidArgument,
                RemError::NotFound(_) => Code::NotFound,
                RemError::FailedPrecondition(_) => Code::FailedPrecondition,
                RemError::ResourceExhausted(_) => Code::ResourceExhausted,
                RemError::OpenFailed { .. } | RemError::Unavailable(_) => Code::Unavailable,
                RemError::Storage(_) | RemError::Io(_) => Code::Internal,
                RemError::Corrupt { .. } => Code::DataLoss,
            },
            DbError::Embed(embed) => match embed {
                EmbedError::Missing { .. } | EmbedError::Model(_) => Code::FailedPrecondition,
                EmbedError::Runtime(_) => Code::Internal,
            },
            DbError::Objects(objects) => match objects {
                ObjectError::InvalidKey { .. } => Code::InvalidArgument,
                ObjectError::NotFound(_) => Code::NotFound,
                ObjectError::TooLarge { .. } => Code::DataLoss,
                ObjectError::Config(_) => Code::FailedPrecondition,
                ObjectError::Io { .. } | ObjectError::Remote { .. } => Code::Unavailable,
            },
            DbError::Chat(chat) => match chat {
                OpenAiError::Config(_) => Code::FailedPrecondition,
                OpenAiError::Unavailable { .. } => Code::Unavailable,
                OpenAiError::Timeout { .. } => Code::DeadlineExceeded,
                // A model name the server does not know, a request it finds
                // too long: the caller can change it. A refused key: the
                // node's configuration.
                OpenAiError::Rejected { status: 401 | 403, .. } => Code::FailedPrecondition,
                OpenAiError::Rejected { .. } => Code::InvalidArgument,
                // The model server broke the protocol: nothing the caller did.
                OpenAiError::Malformed { .. } => Code::Internal,
            },
            DbError::ChatSettings(_) => Code::FailedPrecondition,
            DbError::DataLoss(_) => Code::DataLoss,
            DbError::InvalidArgument(_) => Code::InvalidArgument,
            DbError::FailedPrecondition(_) => Code::FailedPrecondition,
            DbError::Unavailable(_) => Code::Unavailable,
            DbError::Internal(_) => Code::Internal,
        }
    }
}

/// What a caller is told of a model failure.
fn told(error: &OpenAiError) -> String {
    match error {
        OpenAiError::Config(_) => "is not configured correctly on this node".into(),
        OpenAiError::Unavailable { .. } => "is unavailable (its server failed or could not be reached); try again later".into(),
        OpenAiError::Timeout { seconds, .. } => format!("did not write anything for {seconds} s"),
        OpenAiError::Rejected { status: 401 | 403, .. } => "refused this node's credentials".into(),
        OpenAiError::Rejected { status, message, .. } => format!("refused the request (HTTP {status}): {message}"),
        OpenAiError::Malformed { .. } => "sent an answer that does not follow the chat-completions protocol".into(),
    }
}

impl From<DbError> for Status {
    fn from(error: DbError) -> Self {
        let code = error.code();
        if let DbError::Chat(chat) | DbError::ChatSettings(chat) = &error {
            tracing::warn!(error = %chat, "the language model failed");
        } else if matches!(code, Code::Internal | Code::DataLoss | Code::Unavailable) {
            tracing::error!(%error, "request failed");
        }
        Status::new(code, error.to_string())
    }
}
