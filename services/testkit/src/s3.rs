//! Real S3-compatible servers: `s3s-fs` (crates.io, built by
//! `scripts/bootstrap`) storing in a temporary directory, and `moto_server`
//! (PyPI `moto[server]`, in memory), each on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::watch::{Output, spawn_until};

/// Access key the servers are started with.
pub const S3_ACCESS_KEY: &str = "percolate-test";
/// Secret key the servers are started with.
pub const S3_SECRET_KEY: &str = "percolate-test-secret";

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Kind {
    /// `s3s-fs`: files in a directory; no ListMultipartUploads.
    S3sFs,
    /// `moto_server`: in memory; implements ListMultipartUploads.
    Moto,
}

/// A running S3-compatible server. Killed when dropped.
pub struct S3Server {
    child: Child,
    kind: S3Kind,
    endpoint: String,
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts `kind` on a free port.
    pub fn start(kind: S3Kind) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the S3 server");
        let root = dir.path().join("data");
        std::fs::create_dir_all(&root).expect("S3 root dir");
        let (child, endpoint) = spawn(kind, &root, 0);
        Self { child, kind, endpoint, root, _dir: dir }
    }

    /// Which server this is.
    pub fn kind(&self) -> S3Kind {
        self.kind
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Where `s3s-fs` keeps objects (`<root>/<bucket>/<key>`) and its
    /// multipart state (dot files).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Kills the server, as a crash or an outage would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (and, for `s3s-fs`, the
    /// same data).
    pub fn restart(&mut self) {
        self.stop();
        let port: u16 = self.endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
        let (child, endpoint) = spawn(self.kind, &self.root, port);
        self.child = child;
        self.endpoint = endpoint;
    }
}

fn spawn(kind: S3Kind, root: &Path, port: u16) -> (Child, String) {
    match kind {
        S3Kind::S3sFs => {
            let mut command = Command::new(crate::program("PERCOLATE_S3S_FS", "s3s-fs"));
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
                .arg(root)
                .env("RUST_LOG", "s3s_fs=info")
                .env("NO_COLOR", "1");
            let (child, rest) = spawn_until(command, Output::Stdout, "server is running at ", Duration::from_secs(30));
            (child, rest.split_whitespace().next().unwrap_or_default().to_string())
        }
        S3Kind::Moto => {
            let mut command = Command::new("moto_server");
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            let (child, rest) = spawn_until(command, Output::Stderr, "Running on ", Duration::from_secs(30));
            (child, rest.split_whitespace().next().unwrap_or_default().to_string())
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
