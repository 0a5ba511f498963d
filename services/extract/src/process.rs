//! Running the external programs extraction relies on (Tesseract,
//! PocketSphinx) as child processes: under a deadline, with bounded output,
//! in a temporary directory of their own.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::ExtractError;

/// Most bytes a tool may write to its standard output.
const MAX_TOOL_STDOUT: usize = 64 * 1024 * 1024;

/// How much of a tool's error output is kept for error messages.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// A fresh temporary directory, removed when dropped.
pub(crate) fn temp_dir() -> Result<tempfile::TempDir, ExtractError> {
    tempfile::Builder::new()
        .prefix("percolate-extract-")
        .tempdir()
        .map_err(|e| ExtractError::tool("temporary directory", e))
}

/// What a child process left behind when it exited on its own.
#[derive(Debug)]
pub(crate) struct ToolOutput {
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Everything it wrote to standard output.
    pub(crate) stdout: Vec<u8>,
    /// The last [`STDERR_TAIL_BYTES`] of its error output.
    pub(crate) stderr: String,
}

/// Runs `command` with no standard input, collecting its output, and kills
/// it once `timeout` has passed. Fails with [`ExtractError::Tool`] when the
/// program cannot be started (naming the Debian `package` to install when
/// it does not exist), when it runs out of time, or when it writes more than
/// [`MAX_TOOL_STDOUT`] bytes. Exiting with an error status is not a failure
/// here: the caller reads [`ToolOutput::status`] and decides what it means.
pub(crate) fn run_tool(
    command: &mut Command,
    tool: &str,
    package: &str,
    timeout: Duration,
) -> Result<ToolOutput, ExtractError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = PathBuf::from(command.get_program());
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ExtractError::tool(
            tool,
            format!(
                "the program `{}` was not found: install the Debian package {package}",
                program.display()
            ),
        ),
        _ => ExtractError::tool(
            tool,
            format!("`{}` could not be started: {e}", program.display()),
        ),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::scope(|scope| {
        let out_reader = scope.spawn(move || read_capped(stdout, MAX_TOOL_STDOUT));
        let err_reader = scope.spawn(move || read_tail(stderr, STDERR_TAIL_BYTES));
        let waited = wait_until(&mut child, Instant::now() + timeout);
        if !matches!(waited, Ok(Some(_))) {
            // Out of time, or waiting failed: make sure it is gone. The
            // readers then see the pipes close.
            let _ = child.kill();
            let _ = child.wait();
        }
        let (stdout, overflowed) = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        let status = match waited {
            Ok(Some(status)) => status,
            Ok(None) => {
                return Err(ExtractError::tool(
                    tool,
                    format!(
                        "timed out after {} s and was stopped",
                        timeout.as_secs_f64()
                    ),
                ));
            }
            Err(e) => {
                return Err(ExtractError::tool(
                    tool,
                    format!("waiting for it failed: {e}"),
                ));
            }
        };
        if overflowed {
            return Err(ExtractError::tool(
                tool,
                format!("wrote more than {MAX_TOOL_STDOUT} bytes of output"),
            ));
        }
        Ok(ToolOutput {
            status,
            stdout,
            stderr,
        })
    })
}

/// Waits for `child` to exit, polling, until `deadline`. `Ok(None)` when the
/// deadline passed first.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Reads `source` to its end, keeping the first `cap` bytes; the flag says
/// whether more came.
fn read_capped(source: Option<impl Read>, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut overflowed = false;
    let Some(mut source) = source else {
        return (kept, overflowed);
    };
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
                overflowed |= n > room;
            }
        }
    }
    (kept, overflowed)
}

/// Reads `source` to its end, keeping the last `keep` bytes, as text.
fn read_tail(source: Option<impl Read>, keep: usize) -> String {
    let mut tail = Vec::new();
    let Some(mut source) = source else {
        return String::new();
    };
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buffer[..n]);
                if tail.len() > 2 * keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    String::from_utf8_lossy(&tail).into_owned()
}

/// The part of a tool's error output worth showing a user: its `ERROR` and
/// `FATAL` lines when it has any, else its last few lines, at most about
/// 600 characters.
pub(crate) fn error_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let flagged: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("FATAL"))
        .collect();
    let chosen = if flagged.is_empty() {
        &lines[lines.len().saturating_sub(4)..]
    } else {
        &flagged[..]
    };
    let mut summary = chosen.join("; ");
    if summary.is_empty() {
        summary = "no error output".to_string();
    }
    if summary.chars().count() > 600 {
        let cut: String = summary
            .chars()
            .rev()
            .take(600)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        summary = format!("…{cut}");
    }
    summary
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn summarises_tool_errors() {
        let log = "INFO: a\nERROR: \"acmod.c\", line 78: no model\nINFO: b\n";
        assert_eq!(error_summary(log), "ERROR: \"acmod.c\", line 78: no model");
        assert_eq!(error_summary("one\ntwo\n"), "one; two");
        assert_eq!(error_summary(""), "no error output");
    }

    #[test]
    fn a_missing_program_names_its_package() {
        let mut command = Command::new("/nonexistent/tesseract");
        let err = run_tool(
            &mut command,
            "tesseract",
            "tesseract-ocr",
            Duration::from_secs(5),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("install the Debian package tesseract-ocr"),
            "{message}"
        );
    }

    #[test]
    fn a_slow_program_is_stopped() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let started = Instant::now();
        let err = run_tool(
            &mut command,
            "sleep",
            "coreutils",
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
