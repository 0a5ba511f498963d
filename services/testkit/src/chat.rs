//! A real OpenAI-compatible chat-completions server for tests
//! (`servers/chat_server.py`): it streams an answer quoting the context it
//! was sent, records every request, and misbehaves on request (the model
//! name picks how: see the script).

use crate::recorded::RecordedServer;

/// The API key the server accepts.
pub const CHAT_API_KEY: &str = "sk-test-chat";

/// A running chat server; stopped when dropped.
pub struct ChatServer(RecordedServer);

impl ChatServer {
    /// Starts the server on a free loopback port.
    pub fn start() -> Self {
        Self(RecordedServer::start("chat_server.py", &["--api-key", CHAT_API_KEY]))
    }

    /// Base URL with the version, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        self.0.base_url()
    }

    /// The requests received so far, one JSON object each (`authorization`,
    /// `body`, and the `answer` pieces the server sent).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.0.requests()
    }
}
