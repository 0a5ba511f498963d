//! A real `nats-server` with JetStream.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::watch::{Output, spawn_until};

/// A running `nats-server -js` on a random loopback port, storing in its
/// own temporary directory. Killed when dropped.
pub struct NatsServer {
    child: Child,
    url: String,
    store: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Starts a server with a fresh store. Panics (failing the test loudly)
    /// when `nats-server` is missing: `scripts/bootstrap` installs it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for nats-server");
        let store = dir.path().to_path_buf();
        let mut server = Self::start_in(&store);
        server._dir = Some(dir);
        server
    }

    /// Starts a server on the store directory `store` (to restart one).
    pub fn start_in(store: &Path) -> Self {
        let program = crate::program("PERCOLATE_NATS_SERVER", "nats-server");
        let mut command = Command::new(&program);
        command.args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"]).arg(store);
        let (child, addr) = spawn_until(command, Output::Stderr, "Listening for client connections on ", Duration::from_secs(20));
        Self { child, url: format!("nats://{addr}"), store: store.to_path_buf(), _dir: None }
    }

    /// The client URL, for example `nats://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JetStream store directory.
    pub fn store(&self) -> &Path {
        &self.store
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
