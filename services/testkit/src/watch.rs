//! Starting a server that announces its address in a log line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Which output a server logs its address on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Output {
    Stdout,
    Stderr,
}

/// Spawns `command` and waits (up to `within`) for a line on `output` that
/// contains `marker`; returns the child and the rest of that line after the
/// marker. The output is drained for the rest of the child's life.
pub(crate) fn spawn_until(mut command: Command, output: Output, marker: &'static str, within: Duration) -> (Child, String) {
    let (stdout, stderr) = match output {
        Output::Stdout => (Stdio::piped(), Stdio::null()),
        Output::Stderr => (Stdio::null(), Stdio::piped()),
    };
    let mut child = command.stdout(stdout).stderr(stderr).spawn().unwrap_or_else(|e| panic!("cannot start {command:?} (run scripts/bootstrap): {e}"));
    let pipe: Box<dyn Read + Send> = match output {
        Output::Stdout => Box::new(child.stdout.take().expect("stdout is piped")),
        Output::Stderr => Box::new(child.stderr.take().expect("stderr is piped")),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(marker).nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    match rx.recv_timeout(within) {
        Ok(rest) => (child, rest),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            panic!("{command:?} did not log '{marker}' within {within:?} (exit: {status:?})");
        }
    }
}
