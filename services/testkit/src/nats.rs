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
        let (child, addr) = spawn(store, "-1");
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

    /// Kills the server (an outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and store, so clients
    /// reconnect to the same URL.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.url.rsplit(':').next().expect("port").to_string();
        let (child, _) = spawn(&self.store, &port);
        self.child = child;
    }
}

/// Starts `nats-server -js` on `port` (`-1`: a free one) storing in
/// `store`; returns the process and its client address.
fn spawn(store: &Path, port: &str) -> (Child, String) {
    let program = crate::program("PERCOLATE_NATS_SERVER", "nats-server");
    let mut command = Command::new(&program);
    command.args(["-a", "127.0.0.1", "-p", port, "-js", "-sd"]).arg(store);
    spawn_until(command, Output::Stderr, "Listening for client connections on ", Duration::from_secs(20))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JetStream cluster of three `nats-server` processes on loopback, routed
/// to each other. Killed when dropped.
pub struct NatsCluster {
    servers: Vec<Option<Child>>,
    client_ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl NatsCluster {
    /// Starts three servers and waits until each serves clients.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the cluster");
        let client_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes = route_ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let program = crate::program("PERCOLATE_NATS_SERVER", "nats-server");
        let mut servers = Vec::new();
        for i in 0..3 {
            let store = dir.path().join(format!("n{i}"));
            let mut command = Command::new(&program);
            command
                .args(["-a", "127.0.0.1", "-p", &client_ports[i].to_string(), "-js", "-n", &format!("n{i}"), "--cluster_name", "percolate"])
                .args(["--cluster", &format!("nats://127.0.0.1:{}", route_ports[i]), "--routes", &routes, "-sd"])
                .arg(&store);
            let (child, _) = spawn_until(command, Output::Stderr, "Listening for client connections on ", Duration::from_secs(20));
            servers.push(Some(child));
        }
        Self { servers, client_ports, _dir: dir }
    }

    /// Every server's client URL, comma separated.
    pub fn urls(&self) -> String {
        self.client_ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// Kills server `i` (a node outage).
    pub fn stop(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.stop(i);
        }
    }
}
