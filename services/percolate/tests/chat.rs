//! `percolate chat` against the embedded default: documents uploaded and
//! ingested by the in-process worker are answered from (extractive without
//! a model; streamed from an OpenAI-compatible server with `--chat-url`),
//! one question with `-m` or a conversation on standard input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use percolate_testkit::{CHAT_API_KEY, ChatServer, ServerProcess};

struct Dev {
    _process: ServerProcess,
    endpoint: String,
}

fn start_dev(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Dev {
    let mut command = Command::new(env!("CARGO_BIN_EXE_percolate"));
    command.args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).args(extra).env("RUST_LOG", "warn").envs(env.iter().copied());
    let process = ServerProcess::start(command);
    let endpoint = format!("http://{}", process.addr_after("on"));
    Dev { _process: process, endpoint }
}

fn percolate(dev: &Dev, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_percolate"))
        .args(["--endpoint", &dev.endpoint, "--tenant", "chat-cli"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cli runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("cli ends");
    assert!(output.status.success(), "percolate {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Uploads two documents and waits for their ingestion.
fn ingest(dev: &Dev, files: &Path) {
    std::fs::write(files.join("bread.md"), "# Sourdough\n\nFeed the starter the night before baking. Bake the loaf at 250 degrees for forty minutes until the crust is dark.\n").expect("write");
    std::fs::write(files.join("offsite.md"), "# Offsite\n\nThe Lisbon offsite is planned for March. Grace Hopper books the flights through the travel desk.\n").expect("write");
    let paths = [files.join("bread.md"), files.join("offsite.md")];
    let args: Vec<&str> = ["--json", "upload", "--wait"].into_iter().chain(paths.iter().map(|p| p.to_str().expect("utf-8"))).collect();
    let uploaded: serde_json::Value = serde_json::from_slice(&percolate(dev, &args, None).stdout).expect("json");
    for file in uploaded.as_array().expect("array") {
        assert_eq!(file["state"], "succeeded", "{file}");
    }
}

#[test]
fn chat_answers_from_ingested_documents_extractively_and_in_a_conversation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(&dir.path().join("data"), &[], &[]);
    ingest(&dev, dir.path());

    // --json: one line per citation, then the answer.
    let output = percolate(&dev, &["--json", "chat", "-m", "How long should the bread bake?", "--no-moments"], None);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let (answer, citations) = lines.split_last().expect("lines");
    assert_eq!(citations[0]["citation"]["kind"], "resource", "{citations:?}");
    assert!(citations[0]["citation"]["label"].as_str().expect("label").starts_with("upload://bread.md"), "{citations:?}");
    assert_eq!((answer["model"].as_str(), answer["extractive"].as_bool()), (Some("extractive"), Some(true)));
    assert!(answer["answer"].as_str().expect("text").contains("Bake the loaf at 250 degrees for forty minutes until the crust is dark. [1]"), "{answer}");

    // Interactive: a question per line; the conversation is kept.
    let output = percolate(&dev, &["chat", "--record"], Some("When is the Lisbon offsite?\nWho books the flights?\n\n"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("[1] upload://offsite.md#0"), "{text}");
    assert!(text.contains("The Lisbon offsite is planned for March. [1]"), "{text}");
    assert!(text.contains("Grace Hopper books the flights through the travel desk. [1]"), "{text}");
    assert_eq!(text.matches("recorded as moment").count(), 2, "{text}");
    let feed = String::from_utf8_lossy(&percolate(&dev, &["feed", "--type", "chat"], None).stdout).to_string();
    assert!(feed.contains("When is the Lisbon") && feed.contains("Who books the flights"), "{feed}");
}

#[test]
fn percolate_dev_streams_answers_from_a_configured_model() {
    let server = ChatServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(&dir.path().join("data"), &["--chat-url", server.base_url(), "--chat-model", "dev-model"], &[("PERCOLATE_CHAT_API_KEY", CHAT_API_KEY)]);
    ingest(&dev, dir.path());

    let output = percolate(&dev, &["chat", "-m", "When is the Lisbon offsite?", "--temperature", "0.1"], None);
    let text = String::from_utf8_lossy(&output.stdout);
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    let written: String = sent[0]["answer"].as_array().expect("pieces").iter().filter_map(|p| p.as_str()).collect();
    assert!(written.contains("Lisbon offsite"), "the model quoted the offsite: {written}");
    assert!(text.contains(&written), "the CLI printed the model's answer: {text}");
    assert!(text.contains("(dev-model)"), "{text}");
    assert_eq!(sent[0]["body"]["model"], "dev-model");
}
