//! Errors of calls to an OpenAI-compatible server.

/// Why a call failed. Messages name the endpoint, never the API key.
#[derive(Debug, thiserror::Error)]
pub enum OpenAiError {
    /// The client's settings cannot work (bad URL, empty model).
    #[error("invalid OpenAI-compatible endpoint settings: {0}")]
    Config(String),
    /// The server could not be reached, or answered that it is overloaded
    /// or broken (429, 5xx): worth retrying later.
    #[error("{endpoint} is unavailable: {detail}")]
    Unavailable {
        /// The URL called.
        endpoint: String,
        /// What happened.
        detail: String,
    },
    /// No complete answer within the configured time.
    #[error("{endpoint} did not answer within {seconds} s")]
    Timeout {
        /// The URL called.
        endpoint: String,
        /// The limit.
        seconds: u64,
    },
    /// The server refused the request (4xx other than 408 and 429):
    /// retrying the same request will not help.
    #[error("{endpoint} refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The URL called.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The server's error message.
        message: String,
    },
    /// The answer was not what the protocol says.
    #[error("{endpoint} sent an answer that does not follow the protocol: {detail}")]
    Malformed {
        /// The URL called.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
}

impl OpenAiError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Timeout { .. })
    }
}
