//! Test harness: runs the real `percolate-db` binary on port-0 listeners with
//! a temporary data directory, and stops it when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use percolate_sdk::Client;

/// A running `percolate-db` process.
pub struct DbProcess {
    child: Child,
    /// gRPC address.
    pub addr: SocketAddr,
    /// Admin HTTP address.
    pub admin: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
}

impl DbProcess {
    /// Starts a node on `data_dir`; returns once it listens.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Starts a node on `data_dir` with extra flags.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// Starts a node on `data_dir` with extra flags and environment.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_percolate-db"))
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("percolate-db starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("reads the listening line");
        // "percolate-db listening on ADDR admin ADDR"
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() == 6 && words[1] == "listening", "unexpected first line: {line:?}");
        let addr = words[3].parse().expect("grpc address");
        let admin = words[5].parse().expect("admin address");
        Self { child, addr, admin, data_dir: data_dir.to_path_buf() }
    }

    /// The gRPC endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A plain channel to the node, for generated clients.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.endpoint()).expect("endpoint").connect().await.expect("connects")
    }

    /// A client for `tenant`.
    pub async fn client(&self, tenant: &str) -> Client {
        Client::connect(self.endpoint(), tenant).await.expect("connects")
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill_hard(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// Sends SIGTERM and waits (up to 10 s) for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "percolate-db did not exit within 10 s of SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// GETs a path from the admin port and returns the body.
    pub fn admin_get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(self.admin).expect("admin connects");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request written");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
    }
}

impl Drop for DbProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
