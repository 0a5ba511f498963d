//! `percolate dev` starts with nothing but a data directory, and the CLI's
//! commands work against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

struct Dev {
    child: Child,
    endpoint: String,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dev(data_dir: &std::path::Path) -> Dev {
    let mut child = Command::new(env!("CARGO_BIN_EXE_percolate"))
        .args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("percolate dev starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    // "percolate dev listening on ADDR admin ADDR"
    let addr = line.split_whitespace().nth(4).unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_owned();
    Dev { child, endpoint: format!("http://{addr}") }
}

fn cli(dev: &Dev, args: &[&str]) -> String {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "cli-test"]).args(args).output().expect("cli runs");
    assert!(output.status.success(), "percolate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn cli_commands_against_percolate_dev() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(&dir.path().join("data"));

    cli(&dev, &["put", "--uri", "note://1", "--embedding", "0.1,0.9,0.2", "--tags", "notes", "hello percolate"]);
    cli(&dev, &["put", "--uri", "note://2", "--embedding", "0.9,-0.1,0.2", "far away"]);
    let hits: serde_json::Value = serde_json::from_str(&cli(&dev, &["--json", "search", "--vector", "0.1,0.8,0.3", "--top-k", "1"])).expect("json");
    assert_eq!(hits[0]["content"], "hello percolate");
    assert!(cli(&dev, &["search", "--vector", "0.1,0.8,0.3"]).contains("note://1#0"));

    cli(&dev, &["entity", "upsert", "person", "ada", "--props", r#"{"name": "Ada"}"#]);
    cli(&dev, &["entity", "upsert", "org", "engines"]);
    cli(&dev, &["link", "person/ada", "works_at", "org/engines"]);
    let walk: serde_json::Value = serde_json::from_str(&cli(&dev, &["--json", "traverse", "person/ada"])).expect("json");
    assert_eq!(walk["nodes"].as_array().expect("nodes").len(), 2);
    assert!(cli(&dev, &["entity", "get", "person", "ada"]).contains("-[works_at]->"));

    cli(&dev, &["moment", "met Charles", "--type", "meeting"]);
    assert!(cli(&dev, &["feed"]).contains("met Charles"));
    let stats: serde_json::Value = serde_json::from_str(&cli(&dev, &["--json", "stats"])).expect("json");
    assert_eq!((stats["resources"].as_u64(), stats["entities"].as_u64(), stats["moments"].as_u64()), (Some(2), Some(2), Some(1)));
    assert!(dir.path().join("data/tenants/cli-test").is_dir());
}

#[test]
fn cli_reports_server_errors_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(&dir.path().join("data"));
    let output = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "../etc", "stats"]).output().expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid") && stderr.contains("../etc"), "{stderr}");
}
