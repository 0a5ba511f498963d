//! Test harness shared by the crates' integration tests: real servers
//! (`nats-server`, S3-compatible servers, an OpenAI-compatible transcription server, our own binaries), started on free loopback ports in temporary directories and stopped
//! (killed) when dropped.

pub mod fixtures;
mod chat;
mod nats;
mod process;
mod recorded;
mod s3;
mod transcription;
mod watch;

pub use chat::{CHAT_API_KEY, ChatServer};
pub use nats::{NatsCluster, NatsServer};
pub use process::{ServerProcess, http_get, workspace_binary};
pub use s3::{S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server};
pub use transcription::{TRANSCRIPTION_API_KEY, TranscriptionMode, TranscriptionServer};

use std::path::PathBuf;

/// Finds a program: `$<env>` if set, else `~/.cache/percolate/bin/<name>`
/// (where `scripts/bootstrap` installs it), else `<name>` on `PATH`.
pub fn program(env: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let cached = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/percolate/bin").join(name);
    if cached.is_file() {
        return cached;
    }
    PathBuf::from(name)
}
