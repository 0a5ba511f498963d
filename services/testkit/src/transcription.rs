//! A real OpenAI-compatible speech-to-text server for tests
//! (`servers/transcription_server.py`): it transcribes what it receives with
//! PocketSphinx and records every request.

use crate::recorded::RecordedServer;

/// How the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranscriptionMode {
    /// Transcribes.
    Ok,
    /// HTTP 500 with an OpenAI error body.
    Error500,
    /// HTTP 200 with a body that is not JSON.
    Malformed,
    /// Answers after 30 s.
    Slow,
}

/// A running transcription server; stopped when dropped.
pub struct TranscriptionServer(RecordedServer);

/// The API key the server accepts.
pub const TRANSCRIPTION_API_KEY: &str = "sk-test-percolate";

impl TranscriptionServer {
    /// Starts the server on a free loopback port.
    pub fn start(mode: TranscriptionMode) -> Self {
        let mode = match mode {
            TranscriptionMode::Ok => "ok",
            TranscriptionMode::Error500 => "error500",
            TranscriptionMode::Malformed => "malformed",
            TranscriptionMode::Slow => "slow",
        };
        Self(RecordedServer::start("transcription_server.py", &["--api-key", TRANSCRIPTION_API_KEY, "--mode", mode]))
    }

    /// Base URL with the version, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        self.0.base_url()
    }

    /// The requests received so far, one JSON object each.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.0.requests()
    }
}
