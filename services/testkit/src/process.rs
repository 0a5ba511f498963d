//! Running one of our own binaries as a real process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A workspace binary next to the running test (cargo puts test
/// executables in `target/<profile>/deps/` and binaries one level up;
/// `scripts/test` builds all of them first).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile directory");
    let path = profile_dir.join(name);
    assert!(path.is_file(), "{} is not built (run `cargo build --workspace --all-targets`)", path.display());
    path
}

/// A running server process whose first stdout line announces where it
/// listens. Killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The first line the process printed.
    pub first_line: String,
}

impl ServerProcess {
    /// Starts `command` and waits (up to 60 s) for its first stdout line;
    /// the rest of its stdout is drained in the background.
    pub fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let first_line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("{command:?} printed no first line within 60 s (exit: {status:?})");
            }
        };
        Self { child, first_line }
    }

    /// The word after `after` in the first line, parsed as an address.
    pub fn addr_after(&self, after: &str) -> SocketAddr {
        let words: Vec<&str> = self.first_line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == after).unwrap_or_else(|| panic!("no '{after}' in {:?}", self.first_line));
        words.get(at + 1).and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("no address after '{after}' in {:?}", self.first_line))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (up to `within`) for the process to exit.
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit within {within:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `path` over plain HTTP/1.0 and returns the body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("admin connects");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}
