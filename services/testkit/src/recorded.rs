//! A test server in Python (`servers/*.py`) that prints its base URL on its
//! first line and appends every request it receives to a JSON-lines file.

use std::path::PathBuf;
use std::process::Command;

use crate::ServerProcess;

/// A running recording server; stopped when dropped.
pub(crate) struct RecordedServer {
    _process: ServerProcess,
    dir: tempfile::TempDir,
    base_url: String,
}

impl RecordedServer {
    /// Starts `servers/<script>` with `args` and `--record <file>`.
    pub(crate) fn start(script: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new("python3");
        command.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("servers").join(script)).args(args).arg("--record").arg(dir.path().join("requests.jsonl"));
        let process = ServerProcess::start(command);
        let base_url = process.first_line.rsplit(' ').next().expect("url").to_string();
        Self { _process: process, dir, base_url }
    }

    /// The URL the server printed, e.g. `http://127.0.0.1:PORT/v1`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The requests received so far, one JSON object each.
    pub(crate) fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("recorded request is JSON")).collect()
    }
}
