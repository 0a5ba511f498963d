//! A real OpenAI-compatible speech-to-text server for tests
//! (`servers/transcription_server.py`): it transcribes what it receives with
//! PocketSphinx and records every request.

use std::path::PathBuf;
use std::process::Command;

use crate::ServerProcess;

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
pub struct TranscriptionServer {
    _process: ServerProcess,
    dir: tempfile::TempDir,
    base_url: String,
}

/// The API key the server accepts.
pub const TRANSCRIPTION_API_KEY: &str = "sk-test-percolate";

impl TranscriptionServer {
    /// Starts the server on a free loopback port.
    pub fn start(mode: TranscriptionMode) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("servers/transcription_server.py");
        let mode = match mode {
            TranscriptionMode::Ok => "ok",
            TranscriptionMode::Error500 => "error500",
            TranscriptionMode::Malformed => "malformed",
            TranscriptionMode::Slow => "slow",
        };
        let mut command = Command::new("python3");
        command.arg(script).args(["--api-key", TRANSCRIPTION_API_KEY, "--mode", mode, "--record"]).arg(dir.path().join("requests.jsonl"));
        let process = ServerProcess::start(command);
        let base_url = process.first_line.rsplit(' ').next().expect("url").to_string();
        Self { _process: process, dir, base_url }
    }

    /// Base URL with the version, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The requests received so far, one JSON object each.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("recorded request is JSON")).collect()
    }
}
