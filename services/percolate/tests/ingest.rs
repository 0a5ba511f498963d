//! Ingestion in the embedded default: `percolate dev` runs the Jobs service
//! and a worker on its durable local queue. Files are placed in its object
//! directory (uploads arrive with the gateway), jobs are submitted over
//! gRPC, and the results are read back through the Database API.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use percolate_sdk::{Client, pb};
use percolate_testkit::{ServerProcess, TRANSCRIPTION_API_KEY, TranscriptionMode, TranscriptionServer};

struct Dev {
    process: ServerProcess,
    endpoint: String,
}

fn start_dev(data_dir: &Path, extra: &[&str]) -> Dev {
    start_dev_with_env(data_dir, extra, &[])
}

fn start_dev_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Dev {
    let mut command = Command::new(env!("CARGO_BIN_EXE_percolate"));
    command.args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).args(extra).env("RUST_LOG", "warn").envs(env.iter().copied());
    let process = ServerProcess::start(command);
    let endpoint = format!("http://{}", process.addr_after("on"));
    Dev { process, endpoint }
}

/// Puts a file where the embedded default's object store keeps uploads.
fn put_object(data_dir: &Path, tenant: &str, key: &str, bytes: &[u8]) {
    let path = data_dir.join("objects/tenants").join(tenant).join(key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write object");
}

/// The listener is bound before the first line is printed, so connecting
/// works at once.
async fn client(dev: &Dev, tenant: &str) -> Client {
    Client::connect(dev.endpoint.clone(), tenant).await.expect("connects")
}

async fn finish(client: &Client, job: &pb::Job) -> pb::Job {
    tokio::time::timeout(Duration::from_secs(120), client.wait_for_job(&job.id)).await.expect("job finishes within 120 s").expect("watch")
}

const REPORT: &str = "# Quarterly report\n\n\
Ada Lovelace met Charles Babbage at the Royal Society on 27 November 1843 to discuss the Analytical Engine.\n\n\
## Contacts\n\n\
Write to ada@example.org or read https://example.org/engine for the notes.\n\n\
## Gardening\n\n\
Tomatoes need full sun, steady watering and rich soil to ripen in late summer.\n";

#[tokio::test]
async fn a_markdown_document_becomes_searchable_with_entities_and_a_moment() {
    let dir = tempfile::tempdir().expect("dir");
    let dev = start_dev(dir.path(), &[]);
    put_object(dir.path(), "acme", "uploads/report.md", REPORT.as_bytes());
    let acme = client(&dev, "acme").await;
    let job = acme.ingest("uploads/report.md", "doc://report").await.expect("submit");
    assert_eq!(job.state(), pb::JobState::Queued);
    let done = finish(&acme, &job).await;
    assert_eq!(done.state(), pb::JobState::Succeeded, "error: {}", done.error);
    let result = done.result.expect("result");
    assert!(result.resources >= 1 && result.moments == 1, "{result:?}");

    // Found by meaning: the gardening section answers a question about plants.
    let hits = acme.search_text("how do I grow vegetables?", 3).await.expect("search");
    let top = hits.first().and_then(|h| h.resource.as_ref()).expect("a hit");
    assert_eq!(top.uri, "doc://report");
    assert!(top.content.contains("Tomatoes"), "{}", top.content);
    let metadata = percolate_sdk::struct_to_json(top.metadata.as_ref().expect("metadata"));
    assert_eq!(metadata["heading"], "Gardening", "{metadata}");
    assert_eq!(metadata["source_object"], "uploads/report.md");
    assert_eq!(top.content_type, "text/markdown");
    assert!(!top.embedding_pending);

    // Entities with `mentions` edges from the document.
    let document = acme.get_entity("document", "doc://report").await.expect("get").expect("document entity");
    let ada = acme.get_entity("person", "ada lovelace").await.expect("get").expect("person entity");
    let email = acme.get_entity("email", "ada@example.org").await.expect("get").expect("email entity");
    let traversal = acme.traverse(pb::TraverseRequest { start_ids: vec![document.id.clone()], max_depth: 1, ..Default::default() }).await.expect("traverse");
    let reached: Vec<&str> = traversal.nodes.iter().filter_map(|n| n.entity.as_ref()).map(|e| e.id.as_str()).collect();
    assert!(reached.contains(&ada.id.as_str()) && reached.contains(&email.id.as_str()), "{reached:?}");

    // The ingestion is on the feed.
    let moments = acme.all_moments(pb::ListMomentsRequest { moment_types: vec!["ingestion".into()], ..Default::default() }).await.expect("feed");
    assert_eq!(moments.len(), 1);
    assert!(moments[0].name.contains("Quarterly report"), "{}", moments[0].name);
    assert!(moments[0].entity_refs.contains(&document.id));

    // Listing shows the job; other tenants see nothing of it.
    let listed = acme.list_jobs(pb::ListJobsRequest::default()).await.expect("list");
    assert_eq!(listed.jobs.len(), 1);
    let other = client(&dev, "other").await;
    assert_eq!(other.get_job(&job.id).await.expect_err("isolated").code(), Some(tonic::Code::NotFound));
}

/// A DOCX whose only part inflates to far more than the limit.
fn zip_bomb() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", options).expect("entry");
    zip.write_all(b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>").expect("write");
    zip.start_file("word/document.xml", options).expect("entry");
    zip.write_all(b"<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>").expect("write");
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..300 {
        zip.write_all(&spaces).expect("write");
    }
    zip.write_all(b"</w:t></w:r></w:p></w:body></w:document>").expect("write");
    zip.finish().expect("finish");
    out.into_inner()
}

#[tokio::test]
async fn hostile_files_fail_cleanly_and_the_worker_keeps_going() {
    let dir = tempfile::tempdir().expect("dir");
    let dev = start_dev(dir.path(), &[]);
    let acme = client(&dev, "acme").await;
    let bomb = zip_bomb();
    assert!(bomb.len() < 2 << 20, "the bomb is small on disk: {} bytes", bomb.len());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("uploads/broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer garbage \x00\xff\xfe".to_vec(), "pdf"),
        ("uploads/bomb.docx", bomb, "limit"),
        ("uploads/blob.bin", (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(), "unsupported content type"),
    ];
    for (key, bytes, _) in &cases {
        put_object(dir.path(), "acme", key, bytes);
    }
    for (key, _, expected) in &cases {
        let job = acme.ingest(key, &format!("doc://{key}")).await.expect("submit");
        let done = finish(&acme, &job).await;
        assert_eq!(done.state(), pb::JobState::Failed, "{key}: {done:?}");
        assert!(done.error.to_lowercase().contains(expected), "{key}: error {:?} should mention {expected:?}", done.error);
        assert!(acme.get_uri(&format!("doc://{key}")).await.expect("read").is_empty(), "{key}: nothing written");
    }
    // A missing object fails with a clear message too.
    let job = acme.ingest("uploads/nowhere.txt", "doc://nowhere").await.expect("submit");
    let done = finish(&acme, &job).await;
    assert_eq!(done.state(), pb::JobState::Failed);
    assert!(done.error.contains("does not exist"), "{}", done.error);

    // The worker is still alive and well.
    put_object(dir.path(), "acme", "uploads/fine.txt", b"The worker survived every hostile file and still reads plain text.");
    let job = acme.ingest("uploads/fine.txt", "doc://fine").await.expect("submit");
    assert_eq!(finish(&acme, &job).await.state(), pb::JobState::Succeeded);
    // Paths that try to leave the tenant's area are refused at submit.
    for key in ["../other/uploads/x.txt", "/etc/passwd", "uploads/../../x"] {
        let refused = acme.ingest(key, "doc://sneaky").await.expect_err("refused");
        assert_eq!(refused.code(), Some(tonic::Code::InvalidArgument), "{key}");
    }
}

fn long_markdown(paragraphs: usize) -> String {
    (0..paragraphs).map(|i| format!("## Section {i}\n\nParagraph {i} talks about rivers, mountains, trains and the history of the city, with enough words to fill a chunk of reasonable size for the embedding model.\n\n")).collect()
}

#[tokio::test]
async fn cancel_stops_a_job() {
    let dir = tempfile::tempdir().expect("dir");
    let dev = start_dev(dir.path(), &[]);
    let acme = client(&dev, "acme").await;
    put_object(dir.path(), "acme", "uploads/long.md", long_markdown(3000).as_bytes());
    let job = acme.ingest("uploads/long.md", "doc://long").await.expect("submit");
    // Let it start, then cancel it.
    for _ in 0..200 {
        if acme.get_job(&job.id).await.expect("get").state() == pb::JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let cancelled = acme.cancel_job(&job.id).await.expect("cancel");
    assert_eq!(cancelled.state(), pb::JobState::Cancelled);
    let done = finish(&acme, &job).await;
    assert_eq!(done.state(), pb::JobState::Cancelled);
    // The worker noticed and moved on: a later job runs.
    put_object(dir.path(), "acme", "uploads/next.txt", b"after the cancel");
    let next = acme.ingest("uploads/next.txt", "doc://next").await.expect("submit");
    let next = finish(&acme, &next).await;
    assert_eq!(next.state(), pb::JobState::Succeeded, "{}", next.error);
    assert_eq!(acme.get_job(&job.id).await.expect("get").state(), pb::JobState::Cancelled, "a cancel is final");
}

#[tokio::test]
async fn queued_jobs_survive_a_crash_of_the_embedded_default() {
    let dir = tempfile::tempdir().expect("dir");
    // Without a model the in-process worker is off: jobs wait in the queue.
    let dev = start_dev(dir.path(), &["--embedding-mode", "off"]);
    let acme = client(&dev, "acme").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let key = format!("uploads/note{i}.txt");
        put_object(dir.path(), "acme", &key, format!("Note number {i} about lighthouses and the sea.").as_bytes());
        ids.push(acme.ingest(&key, &format!("doc://note{i}")).await.expect("submit").id);
    }
    dev.process.kill_hard();

    let dev = start_dev(dir.path(), &[]);
    let acme = client(&dev, "acme").await;
    for id in &ids {
        let done = tokio::time::timeout(Duration::from_secs(120), acme.wait_for_job(id)).await.expect("finishes").expect("watch");
        assert_eq!(done.state(), pb::JobState::Succeeded, "{}", done.error);
    }
    let hits = acme.search_text("lighthouse by the ocean", 5).await.expect("search");
    assert_eq!(hits.len(), 3);
}

/// Runs a Debian tool the bootstrap installs; a missing one fails the test.
fn run_tool(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("cannot run {program} (scripts/bootstrap installs it): {e}"));
    assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// A spoken WAV file made by espeak-ng.
fn spoken_wav() -> Vec<u8> {
    let work = tempfile::tempdir().expect("work dir");
    run_tool("espeak-ng", &["-v", "en-us+m1", "-s", "130", "-g", "4", "-w", "speech.wav", "I would like to order a pizza. The weather is very good today. We are going to the park."], work.path());
    std::fs::read(work.path().join("speech.wav")).expect("wav")
}

#[tokio::test]
async fn a_spoken_recording_is_transcribed_and_found_by_its_words() {
    let dir = tempfile::tempdir().expect("dir");
    let wav = spoken_wav();
    let dev = start_dev(dir.path(), &[]);
    put_object(dir.path(), "acme", "uploads/voice-memo.wav", &wav);
    put_object(dir.path(), "acme", "uploads/other.txt", b"Quarterly tax filings are due at the end of the fiscal year.");
    let acme = client(&dev, "acme").await;
    for (key, uri) in [("uploads/voice-memo.wav", "doc://memo"), ("uploads/other.txt", "doc://tax")] {
        let job = acme.ingest(key, uri).await.expect("submit");
        let done = finish(&acme, &job).await;
        assert_eq!(done.state(), pb::JobState::Succeeded, "{uri}: {}", done.error);
    }
    let chunks = acme.get_uri("doc://memo").await.expect("read");
    let transcript: String = chunks.iter().map(|c| c.content.to_lowercase()).collect::<Vec<_>>().join(" ");
    let heard = ["order", "pizza", "weather", "park"].iter().filter(|w| transcript.contains(*w)).count();
    assert!(heard >= 3, "transcript {transcript:?} misses the key words");
    let metadata = percolate_sdk::struct_to_json(chunks[0].metadata.as_ref().expect("metadata"));
    // Struct numbers travel as doubles.
    let (start, end) = (metadata["start_ms"].as_f64().expect("start_ms"), metadata["end_ms"].as_f64().expect("end_ms"));
    assert!(end > start, "{metadata}");
    let hits = acme.search_text("ordering pizza", 1).await.expect("search");
    assert_eq!(hits[0].resource.as_ref().map(|r| r.uri.as_str()), Some("doc://memo"));
}

#[tokio::test]
async fn an_image_of_text_is_ocred_and_found() {
    let dir = tempfile::tempdir().expect("dir");
    let work = tempfile::tempdir().expect("work dir");
    std::fs::write(work.path().join("text.txt"), "Percolate extracts text from scanned invoices.\nThe quarterly budget meeting is on Thursday.\n").expect("text");
    run_tool("text2image", &["--text=text.txt", "--outputbase=rendered", "--font=DejaVu Sans", "--fonts_dir=/usr/share/fonts", "--xsize=1600", "--ysize=400", "--margin=50"], work.path());
    let image = std::fs::read(work.path().join("rendered.tif")).expect("tif");
    let dev = start_dev(dir.path(), &[]);
    put_object(dir.path(), "acme", "uploads/scan.tif", &image);
    put_object(dir.path(), "acme", "uploads/other.txt", b"The cat sat on the windowsill watching birds in the garden.");
    let acme = client(&dev, "acme").await;
    for (key, uri) in [("uploads/scan.tif", "doc://scan"), ("uploads/other.txt", "doc://cat")] {
        let job = acme.ingest(key, uri).await.expect("submit");
        let done = finish(&acme, &job).await;
        assert_eq!(done.state(), pb::JobState::Succeeded, "{uri}: {}", done.error);
    }
    let chunks = acme.get_uri("doc://scan").await.expect("read");
    assert!(chunks[0].content.contains("quarterly budget meeting"), "{}", chunks[0].content);
    let metadata = percolate_sdk::struct_to_json(chunks[0].metadata.as_ref().expect("metadata"));
    assert_eq!(metadata["ocr"], true);
    let hits = acme.search_text("when is the budget meeting?", 1).await.expect("search");
    assert_eq!(hits[0].resource.as_ref().map(|r| r.uri.as_str()), Some("doc://scan"));
}

#[tokio::test]
async fn the_cli_ingests_and_lists_jobs() {
    let dir = tempfile::tempdir().expect("dir");
    let dev = start_dev(dir.path(), &[]);
    put_object(dir.path(), "cli", "uploads/notes.md", b"# Notes\n\nThe lighthouse keeper logs every passing ship.\n");
    let cli = |args: &[&str]| -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "cli", "--json"]).args(args).output().expect("cli runs");
        assert!(output.status.success(), "percolate {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("json output")
    };
    let done = cli(&["ingest", "uploads/notes.md", "--uri", "doc://notes", "--wait"]);
    assert_eq!(done[0]["state"], "succeeded", "{done}");
    assert_eq!(done[0]["result"]["moments"], 1);
    let listed = cli(&["jobs", "list", "--state", "succeeded"]);
    assert_eq!(listed[0]["id"], done[0]["id"]);
    let files = tempfile::tempdir().expect("dir");
    std::fs::write(files.path().join("a.md"), "# Tides\n\nThe harbour master posts the tide tables every morning.\n").expect("write");
    std::fs::write(files.path().join("b.txt"), "Ferries leave the pier on the hour.").expect("write");
    let uploaded = cli(&["upload", files.path().join("a.md").to_str().expect("utf8"), files.path().join("b.txt").to_str().expect("utf8"), "--wait", "--tags", "harbour"]);
    assert_eq!(uploaded.as_array().map(Vec::len), Some(2), "{uploaded}");
    for file in uploaded.as_array().expect("array") {
        assert_eq!(file["state"], "succeeded", "{file}");
        assert!(file["result"]["resources"].as_u64().expect("resources") >= 1, "{file}");
    }
    let text = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "cli", "upload", "--wait"]).arg(files.path().join("b.txt")).output().expect("runs");
    let line = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success() && line.contains("chunks") && line.contains("entities") && line.contains(" s"), "{line}");
    let missing = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "cli", "upload", "/nonexistent/file.pdf"]).output().expect("runs");
    assert!(!missing.status.success());
    let bad = Command::new(env!("CARGO_BIN_EXE_percolate")).args(["--endpoint", &dev.endpoint, "--tenant", "cli", "jobs", "get", "nope"]).output().expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a UUID"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// The environment that points the worker at a transcription server.
fn transcription_env(server: &TranscriptionServer, key: &'static str, timeout_secs: u64) -> Vec<(&'static str, String)> {
    vec![("PERCOLATE_TRANSCRIPTION_URL", server.base_url().to_string()), ("PERCOLATE_TRANSCRIPTION_API_KEY", key.to_string()), ("PERCOLATE_TRANSCRIPTION_MODEL", "whisper-test".to_string()), ("PERCOLATE_TRANSCRIPTION_LANGUAGE", "en".to_string()), ("PERCOLATE_TRANSCRIPTION_TIMEOUT_SECS", timeout_secs.to_string())]
}

/// The test server transcribes with PocketSphinx, a few seconds on a busy
/// machine: 120 s leaves room; the slow case uses 3 s against its 30 s.
fn start_dev_transcribing(data_dir: &Path, server: &TranscriptionServer, key: &'static str, timeout_secs: u64) -> Dev {
    let env = transcription_env(server, key, timeout_secs);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_dev_with_env(data_dir, &[], &env)
}

/// With an OpenAI-compatible endpoint configured, audio goes there (not to
/// the local PocketSphinx): the request follows the protocol, and the timed
/// segments that come back become searchable chunks.
#[tokio::test]
async fn audio_goes_to_a_configured_transcription_endpoint() {
    let server = TranscriptionServer::start(TranscriptionMode::Ok);
    let dir = tempfile::tempdir().expect("dir");
    let dev = start_dev_transcribing(dir.path(), &server, TRANSCRIPTION_API_KEY, 120);
    put_object(dir.path(), "acme", "uploads/memo.wav", &spoken_wav());
    let acme = client(&dev, "acme").await;
    let job = acme.ingest("uploads/memo.wav", "doc://memo").await.expect("submit");
    let done = finish(&acme, &job).await;
    assert_eq!(done.state(), pb::JobState::Succeeded, "{}", done.error);

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request["authorization"], format!("Bearer {TRANSCRIPTION_API_KEY}"));
    assert!(request["content_type"].as_str().expect("content type").starts_with("multipart/form-data; boundary="));
    assert_eq!(request["fields"]["model"], serde_json::json!(["whisper-test"]));
    assert_eq!(request["fields"]["response_format"], serde_json::json!(["verbose_json"]));
    assert_eq!(request["fields"]["timestamp_granularities[]"], serde_json::json!(["segment"]));
    assert_eq!(request["fields"]["language"], serde_json::json!(["en"]));
    assert_eq!((request["file_type"].as_str(), request["rate"].as_u64(), request["channels"].as_u64(), request["bits"].as_u64()), (Some("audio/wav"), Some(16_000), Some(1), Some(16)));
    assert!(request["seconds"].as_f64().expect("seconds") > 3.0, "{request}");

    let chunks = acme.get_uri("doc://memo").await.expect("read");
    let transcript: String = chunks.iter().map(|c| c.content.to_lowercase()).collect::<Vec<_>>().join(" ");
    let heard = ["order", "pizza", "weather", "park"].iter().filter(|w| transcript.contains(*w)).count();
    assert!(heard >= 3, "transcript {transcript:?} misses the key words");
    let metadata = percolate_sdk::struct_to_json(chunks[0].metadata.as_ref().expect("metadata"));
    assert!(metadata["end_ms"].as_f64().expect("end_ms") > metadata["start_ms"].as_f64().expect("start_ms"), "{metadata}");
    let hits = acme.search_text("ordering pizza", 1).await.expect("search");
    assert_eq!(hits[0].resource.as_ref().map(|r| r.uri.as_str()), Some("doc://memo"));
}

/// Polls a job until `done` says so (60 s at most).
async fn job_until(client: &Client, id: &str, done: impl Fn(&pb::Job) -> bool) -> pb::Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = client.get_job(id).await.expect("get job");
        if done(&job) {
            return job;
        }
        assert!(std::time::Instant::now() < deadline, "job never got there: {job:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A refused key or a broken answer fails the job at once with the
/// service's reason; an overloaded or slow service makes it wait for a
/// retry instead.
#[tokio::test]
async fn transcription_endpoint_failures_fail_or_retry_the_job_clearly() {
    let wav = spoken_wav();
    let cases = [
        (TranscriptionMode::Ok, "sk-wrong", Some("refused the request (HTTP 401): Incorrect API key provided")),
        (TranscriptionMode::Malformed, TRANSCRIPTION_API_KEY, Some("does not follow the protocol")),
        (TranscriptionMode::Error500, TRANSCRIPTION_API_KEY, None),
        (TranscriptionMode::Slow, TRANSCRIPTION_API_KEY, None),
    ];
    for (mode, key, permanent) in cases {
        let server = TranscriptionServer::start(mode);
        let dir = tempfile::tempdir().expect("dir");
        let timeout = if mode == TranscriptionMode::Slow { 3 } else { 120 };
        let dev = start_dev_transcribing(dir.path(), &server, key, timeout);
        put_object(dir.path(), "acme", "uploads/memo.wav", &wav);
        let acme = client(&dev, "acme").await;
        let job = acme.ingest("uploads/memo.wav", "doc://memo").await.expect("submit");
        match permanent {
            Some(reason) => {
                let done = finish(&acme, &job).await;
                assert_eq!(done.state(), pb::JobState::Failed, "{mode:?}");
                assert!(done.error.contains(reason), "{mode:?}: {}", done.error);
                assert!(!done.error.contains(key), "the key never appears in errors: {}", done.error);
                assert_eq!(server.requests().len(), 1, "{mode:?}: no retry of a permanent failure");
            }
            None => {
                let waiting = job_until(&acme, &job.id, |j| !j.error.is_empty()).await;
                assert_eq!(waiting.state(), pb::JobState::Queued, "{mode:?}: {}", waiting.error);
                let expected = if mode == TranscriptionMode::Slow { "did not answer within 3 s" } else { "is unavailable: HTTP 500: the model crashed" };
                assert!(waiting.error.contains(expected), "{mode:?}: {}", waiting.error);
                acme.cancel_job(&job.id).await.expect("cancel");
            }
        }
        assert!(acme.get_uri("doc://memo").await.expect("read").is_empty(), "{mode:?}: nothing written");
    }
}
