//! The distributed upload path with separate processes: `nats-server`,
//! `s3s-fs`, `percolate-db`, `percolate-worker` and `percolate-gateway`.
//! Files are streamed to the gateway, stored in S3, ingested by the worker
//! and found through the database.

use std::process::Command;
use std::time::Duration;

use percolate_sdk::{Client, UploadOptions, pb};
use percolate_testkit::fixtures::{self, PdfStyle, docx, paragraph};
use percolate_testkit::{NatsServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server, ServerProcess, http_get, workspace_binary};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const BUCKET: &str = "percolate-uploads";

struct Distributed {
    nats: NatsServer,
    s3: S3Server,
    db: ServerProcess,
    gateway: ServerProcess,
    _data: tempfile::TempDir,
}

fn with_s3_credentials(command: &mut Command) -> &mut Command {
    command.env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY).env("AWS_EC2_METADATA_DISABLED", "true").env("RUST_LOG", "warn")
}

impl Distributed {
    /// Everything but the worker; the gateway with `gateway_env`.
    fn start(gateway_env: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start();
        let s3 = S3Server::start(S3Kind::S3sFs);
        let data = tempfile::tempdir().expect("dir");
        let mut command = Command::new(workspace_binary("percolate-db"));
        command.args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"]).arg(data.path()).env("RUST_LOG", "warn");
        let db = ServerProcess::start(command);
        let gateway = start_gateway(&nats, &s3, gateway_env);
        Self { nats, s3, db, gateway, _data: data }
    }

    fn objects(&self) -> String {
        objects_location(&self.s3)
    }

    fn start_worker(&self) -> ServerProcess {
        let mut command = Command::new(workspace_binary("percolate-worker"));
        command.args(["--database-url", &format!("http://{}", self.db.addr_after("on")), "--nats-url", self.nats.url(), "--admin-listen", "127.0.0.1:0", "--objects", &self.objects()]);
        with_s3_credentials(&mut command);
        ServerProcess::start(command)
    }

    async fn gateway_client(&self, tenant: &str) -> Client {
        Client::connect(format!("http://{}", self.gateway.addr_after("on")), tenant).await.expect("gateway connects")
    }

    async fn db_client(&self, tenant: &str) -> Client {
        Client::connect(format!("http://{}", self.db.addr_after("on")), tenant).await.expect("db connects")
    }

    /// Objects stored for `tenant` (files under s3s-fs's root).
    fn stored_objects(&self, tenant: &str) -> Vec<String> {
        let dir = self.s3.root().join(BUCKET).join("tenants").join(tenant);
        walk(&dir).into_iter().map(|p| p.strip_prefix(&dir).expect("under").display().to_string()).collect()
    }

    /// Waits (up to 10 s) for background aborts to close every multipart
    /// upload.
    async fn wait_for_no_multipart(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.open_multipart_files().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// s3s-fs's files of multipart uploads still open.
    fn open_multipart_files(&self) -> Vec<String> {
        walk(self.s3.root()).into_iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().to_string())).filter(|n| n.starts_with(".upload")).collect()
    }
}

fn objects_location(s3: &S3Server) -> String {
    format!("s3://{BUCKET}?endpoint={}", s3.endpoint())
}

fn start_gateway(nats: &NatsServer, s3: &S3Server, env: &[(&str, &str)]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_percolate-gateway"));
    command.args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--nats-url", nats.url(), "--objects", &objects_location(s3)]);
    with_s3_credentials(&mut command).envs(env.iter().copied());
    ServerProcess::start(command)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { stack.push(path) } else { found.push(path) }
        }
    }
    found
}

fn report_pdf() -> Vec<u8> {
    let pages: Vec<Vec<String>> = vec![
        vec!["Orbital mechanics for the lunar mission.".into(), "The spacecraft performs a trans-lunar injection burn.".into()],
        vec!["Katherine Johnson computed the trajectories by hand.".into(), "NASA relied on her calculations for the flight.".into()],
        vec!["Appendix: the heat shield withstood reentry temperatures.".into()],
    ];
    fixtures::pdf(&pages, Some("Lunar mission report"), PdfStyle::default())
}

fn recipes_docx() -> Vec<u8> {
    let body = [paragraph(Some("Heading1"), "Sourdough baking"), paragraph(None, "Feed the starter flour and water, then let the dough proof overnight before baking the bread.")].concat();
    docx(&body, None, Some("Bakery notes"))
}

const GARDEN_MD: &str = "# Garden\n\nTomatoes need full sun, steady watering and rich soil to ripen in late summer.\n";

fn write_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let files = [("lunar report.pdf", report_pdf()), ("recipes.docx", recipes_docx()), ("garden.md", GARDEN_MD.as_bytes().to_vec())];
    files.iter().map(|(name, bytes)| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write file");
        path
    }).collect()
}

/// Uploads the three files with `uploader`, waits for their jobs through
/// `jobs`, and checks search, entities and moments through `db`.
async fn upload_and_find(uploader: &Client, db: &Client) {
    let dir = tempfile::tempdir().expect("dir");
    let mut uploaded = Vec::new();
    for path in write_files(dir.path()) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let progress: percolate_sdk::Progress = Box::new(move |sent, total| record.lock().expect("lock").push((sent, total)));
        let options = UploadOptions { verify_sha256: true, ..UploadOptions::default() };
        let answer = uploader.upload_file(&path, options, Some(progress)).await.expect("upload");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(answer.size, bytes.len() as u64);
        assert_eq!(answer.sha256, hex::encode(Sha256::digest(&bytes)));
        assert!(answer.object_key.starts_with(&format!("uploads/{}/", answer.upload_id)), "{}", answer.object_key);
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen.last(), Some(&(bytes.len() as u64, Some(bytes.len() as u64))), "progress ends at the total");
        uploaded.push(answer);
    }
    for answer in &uploaded {
        let job = tokio::time::timeout(Duration::from_secs(180), uploader.wait_for_job(&answer.job_id)).await.expect("job finishes").expect("watch");
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}: {}", answer.object_key, job.error);
    }
    for (question, uri) in [("who calculated the spacecraft trajectories?", "upload://lunar report.pdf"), ("how do I make bread rise?", "upload://recipes.docx"), ("growing tomatoes", "upload://garden.md")] {
        let hits = db.search_text(question, 1).await.expect("search");
        assert_eq!(hits[0].resource.as_ref().map(|r| r.uri.as_str()), Some(uri), "{question}");
    }
    assert!(db.get_entity("person", "katherine johnson").await.expect("entity").is_some());
    let document = db.get_entity("document", "upload://lunar report.pdf").await.expect("document").expect("document entity");
    assert!(document.properties.is_some());
    let moments = db.all_moments(pb::ListMomentsRequest { moment_types: vec!["ingestion".into()], ..Default::default() }).await.expect("moments");
    assert_eq!(moments.len(), 3, "one ingestion moment per upload");
}

#[tokio::test]
async fn documents_flow_from_upload_to_search_through_separate_processes() {
    let cluster = Distributed::start(&[]);
    let worker = cluster.start_worker();
    let uploader = cluster.gateway_client("acme").await;
    let db = cluster.db_client("acme").await;
    upload_and_find(&uploader, &db).await;
    assert_eq!(cluster.stored_objects("acme").len(), 3);
    let metrics = http_get(cluster.gateway.addr_after("admin"), "/metrics");
    assert!(metrics.contains("percolate_gateway_uploads_total{outcome=\"stored\"} 3"), "{metrics}");
    assert!(metrics.contains("percolate_gateway_uploads_in_flight 0"), "{metrics}");
    assert!(metrics.contains("percolate_gateway_upload_bytes_received_total"), "{metrics}");
    drop(worker);
}

/// An upload call for tenant `acme` whose messages the test sends one by one.
fn open_upload(client: &Client) -> (mpsc::Sender<pb::UploadRequest>, tokio::task::JoinHandle<Result<tonic::Response<pb::UploadResponse>, tonic::Status>>) {
    let (tx, rx) = mpsc::channel(4);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.metadata_mut().insert("x-tenant-id", "acme".parse().expect("ascii"));
    let mut raw = client.raw_upload();
    (tx, tokio::spawn(async move { raw.upload(request).await }))
}

/// A raw upload: the tenant header as given, the messages as given.
async fn raw_upload(client: &Client, tenant: Option<&str>, messages: Vec<pb::UploadRequest>) -> Result<pb::UploadResponse, tonic::Status> {
    let mut request = tonic::Request::new(futures::stream::iter(messages));
    if let Some(tenant) = tenant {
        request.metadata_mut().insert("x-tenant-id", tenant.parse().expect("ascii"));
    }
    client.raw_upload().upload(request).await.map(tonic::Response::into_inner)
}

fn metadata(name: &str) -> pb::UploadMetadata {
    pb::UploadMetadata { file_name: name.into(), ..Default::default() }
}

fn meta_message(m: pb::UploadMetadata) -> pb::UploadRequest {
    pb::UploadRequest { part: Some(pb::upload_request::Part::Metadata(m)) }
}

fn chunk_message(bytes: &[u8]) -> pb::UploadRequest {
    pb::UploadRequest { part: Some(pb::upload_request::Part::Chunk(bytes.to_vec())) }
}

#[tokio::test]
async fn bad_uploads_store_nothing_and_queue_nothing() {
    let cluster = Distributed::start(&[("PERCOLATE_MAX_UPLOAD_MB", "1")]);
    let client = cluster.gateway_client("acme").await;
    let data = b"Some perfectly fine text.".to_vec();
    let good_sha = hex::encode(Sha256::digest(&data));
    let cases: Vec<(&str, Option<&str>, Vec<pb::UploadRequest>, Code, &str)> = vec![
        ("wrong checksum", Some("acme"), vec![meta_message(pb::UploadMetadata { expected_sha256: "0".repeat(64), ..metadata("a.txt") }), chunk_message(&data)], Code::DataLoss, "SHA-256"),
        ("wrong size", Some("acme"), vec![meta_message(pb::UploadMetadata { expected_size: Some(3), ..metadata("a.txt") }), chunk_message(&data)], Code::DataLoss, "expected_size"),
        ("declared too large", Some("acme"), vec![meta_message(pb::UploadMetadata { expected_size: Some(2 << 20), ..metadata("a.txt") }), chunk_message(&data)], Code::OutOfRange, "limit"),
        ("streamed too large", Some("acme"), vec![meta_message(metadata("big.txt")), chunk_message(&vec![b'x'; 700 << 10]), chunk_message(&vec![b'x'; 700 << 10])], Code::OutOfRange, "limit"),
        ("empty file", Some("acme"), vec![meta_message(metadata("empty.txt"))], Code::InvalidArgument, "empty"),
        ("no metadata first", Some("acme"), vec![chunk_message(&data)], Code::InvalidArgument, "metadata"),
        ("metadata twice", Some("acme"), vec![meta_message(metadata("a.txt")), chunk_message(&data), meta_message(metadata("b.txt"))], Code::InvalidArgument, "first message"),
        ("no file name", Some("acme"), vec![meta_message(metadata("")), chunk_message(&data)], Code::InvalidArgument, "file_name"),
        ("bad upload id", Some("acme"), vec![meta_message(pb::UploadMetadata { upload_id: "../../x".into(), ..metadata("a.txt") }), chunk_message(&data)], Code::InvalidArgument, "upload_id"),
        ("bad checksum format", Some("acme"), vec![meta_message(pb::UploadMetadata { expected_sha256: "abc".into(), ..metadata("a.txt") }), chunk_message(&data)], Code::InvalidArgument, "64 hex"),
        ("path trick tenant", Some("../acme"), vec![meta_message(metadata("a.txt")), chunk_message(&data)], Code::InvalidArgument, "tenant"),
        ("uppercase tenant", Some("ACME"), vec![meta_message(metadata("a.txt")), chunk_message(&data)], Code::InvalidArgument, "tenant"),
        ("no tenant", None, vec![meta_message(metadata("a.txt")), chunk_message(&data)], Code::InvalidArgument, "x-tenant-id"),
    ];
    for (what, tenant, messages, code, needle) in cases {
        let err = raw_upload(&client, tenant, messages).await.expect_err(what);
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        assert!(err.message().contains(needle), "{what}: {}", err.message());
    }
    assert!(cluster.stored_objects("acme").is_empty(), "{:?}", cluster.stored_objects("acme"));
    assert!(cluster.open_multipart_files().is_empty(), "{:?}", cluster.open_multipart_files());
    let jobs = client.list_jobs(pb::ListJobsRequest::default()).await.expect("list jobs");
    assert!(jobs.jobs.is_empty(), "{:?}", jobs.jobs);
    // The right checksum passes.
    let ok = raw_upload(&client, Some("acme"), vec![meta_message(pb::UploadMetadata { expected_sha256: good_sha.to_uppercase(), expected_size: Some(data.len() as u64), ..metadata("a.txt") }), chunk_message(&data)]).await.expect("good upload");
    assert_eq!(ok.sha256, good_sha);
}

#[tokio::test]
async fn a_cancelled_upload_leaves_no_object_no_multipart_and_no_job() {
    let cluster = Distributed::start(&[]);
    let client = cluster.gateway_client("acme").await;
    let (tx, call) = open_upload(&client);
    tx.send(meta_message(metadata("movie.bin"))).await.expect("send");
    // 12 MiB: the gateway has started a multipart upload with a part or more.
    for _ in 0..12 {
        tx.send(chunk_message(&vec![7u8; 1 << 20])).await.expect("send");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!cluster.open_multipart_files().is_empty(), "a multipart upload is open mid-stream");
    call.abort();
    drop(tx);
    cluster.wait_for_no_multipart().await;
    assert!(cluster.open_multipart_files().is_empty(), "{:?}", cluster.open_multipart_files());
    assert!(cluster.stored_objects("acme").is_empty());
    assert!(client.list_jobs(pb::ListJobsRequest::default()).await.expect("list").jobs.is_empty());
    let metrics = http_get(cluster.gateway.addr_after("admin"), "/metrics");
    assert!(metrics.contains("percolate_gateway_uploads_in_flight 0"), "{metrics}");
}

#[tokio::test]
async fn resending_an_upload_id_returns_the_first_job() {
    let cluster = Distributed::start(&[]);
    let client = cluster.gateway_client("acme").await;
    let send = |bytes: &'static [u8]| raw_upload(&client, Some("acme"), vec![meta_message(pb::UploadMetadata { upload_id: "client-42".into(), ..metadata("notes.txt") }), chunk_message(bytes)]);
    let first = send(b"the same notes").await.expect("first");
    let again = send(b"the same notes").await.expect("again");
    assert_eq!((first.job_id.as_str(), first.upload_id.as_str()), (again.job_id.as_str(), "client-42"));
    let other = send(b"different notes!").await.expect_err("reused id");
    assert_eq!(other.code(), Code::AlreadyExists, "{}", other.message());
    assert_eq!(client.list_jobs(pb::ListJobsRequest::default()).await.expect("list").jobs.len(), 1);
    assert_eq!(cluster.stored_objects("acme"), vec!["uploads/client-42/notes.txt".to_string()]);
}

#[tokio::test]
async fn s3_going_down_mid_upload_fails_clearly_and_queues_nothing() {
    let mut cluster = Distributed::start(&[]);
    let client = cluster.gateway_client("acme").await;
    let (tx, call) = open_upload(&client);
    tx.send(meta_message(metadata("archive.bin"))).await.expect("send");
    for _ in 0..9 {
        tx.send(chunk_message(&vec![1u8; 1 << 20])).await.expect("send");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.s3.stop();
    // The gateway may fail the call before all of these are taken.
    for _ in 0..9 {
        if tx.send(chunk_message(&vec![2u8; 1 << 20])).await.is_err() {
            break;
        }
    }
    drop(tx);
    let err = tokio::time::timeout(Duration::from_secs(60), call).await.expect("answers").expect("task").expect_err("S3 is down");
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert!(err.message().contains("object store"), "{}", err.message());
    cluster.s3.restart();
    assert!(cluster.stored_objects("acme").is_empty());
    assert!(client.list_jobs(pb::ListJobsRequest::default()).await.expect("list").jobs.is_empty());
}

#[tokio::test]
async fn shutdown_lets_uploads_drain_then_aborts_them_cleanly() {
    let cluster = Distributed::start(&[("PERCOLATE_DRAIN_SECS", "1")]);
    let client = cluster.gateway_client("acme").await;
    let (tx, call) = open_upload(&client);
    tx.send(meta_message(metadata("slow.bin"))).await.expect("send");
    for _ in 0..6 {
        tx.send(chunk_message(&vec![3u8; 1 << 20])).await.expect("send");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = cluster.gateway.pid().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    // The client keeps the stream open (a slow sender) past the drain period.
    let err = tokio::time::timeout(Duration::from_secs(30), call).await.expect("answers").expect("task").expect_err("aborted");
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    assert!(err.message().contains("shutting down"), "{}", err.message());
    drop(tx);
    cluster.wait_for_no_multipart().await;
    assert!(cluster.open_multipart_files().is_empty(), "{:?}", cluster.open_multipart_files());
    assert!(cluster.stored_objects("acme").is_empty());
}

/// The same scenario through the embedded default: `percolate dev` serves
/// `Upload`, `Jobs` and `Database` on one port, with a local directory and
/// the local queue.
#[tokio::test]
async fn the_embedded_default_serves_the_same_upload_path() {
    let data = tempfile::tempdir().expect("dir");
    let mut command = Command::new(workspace_binary("percolate"));
    command.args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"]).arg(data.path()).env("RUST_LOG", "warn");
    let dev = ServerProcess::start(command);
    let client = Client::connect(format!("http://{}", dev.addr_after("on")), "acme").await.expect("connects");
    upload_and_find(&client, &client).await;
    let stored = walk(&data.path().join("objects/tenants/acme/uploads"));
    assert_eq!(stored.len(), 3, "{stored:?}");
    let metrics = http_get(dev.addr_after("admin"), "/metrics");
    assert!(metrics.contains("percolate_gateway_uploads_total{outcome=\"stored\"} 3"), "{metrics}");
}

/// Health and reflection, as `grpcurl` and Kubernetes probes use them.
#[tokio::test]
async fn the_gateway_reports_health_and_serves_reflection() {
    let cluster = Distributed::start(&[]);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cluster.gateway.addr_after("on"))).expect("url").connect().await.expect("connects");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["percolate.v1.Upload", "percolate.v1.Jobs"] {
        let answer = health.check(tonic_health::pb::HealthCheckRequest { service: service.into() }).await.expect("health").into_inner();
        assert_eq!(answer.status(), tonic_health::pb::health_check_response::ServingStatus::Serving, "{service}");
    }
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut answers = reflection.server_reflection_info(futures::stream::iter(vec![request])).await.expect("reflection").into_inner();
    let answer = answers.message().await.expect("message").expect("an answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else { panic!("not a service list") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in ["percolate.v1.Upload", "percolate.v1.Jobs", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
}

/// A reader that fails after `good` bytes.
struct Failing {
    good: usize,
}

impl tokio::io::AsyncRead for Failing {
    fn poll_read(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the disk went away")));
        }
        let n = self.good.min(buf.remaining());
        buf.put_slice(&vec![5u8; n]);
        self.good -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// The SDK cancels an upload whose source fails, so a truncated file is
/// never stored, even without a declared size.
#[tokio::test]
async fn a_failing_source_cancels_the_upload() {
    let cluster = Distributed::start(&[]);
    let client = cluster.gateway_client("acme").await;
    let err = client.upload_reader(Failing { good: 10 << 20 }, "partial.bin", None, None, UploadOptions::default(), None).await.expect_err("the source failed");
    assert!(matches!(&err, percolate_sdk::Error::Io(e) if e.to_string().contains("disk went away")), "{err}");
    cluster.wait_for_no_multipart().await;
    assert!(cluster.open_multipart_files().is_empty(), "{:?}", cluster.open_multipart_files());
    assert!(cluster.stored_objects("acme").is_empty());
    assert!(client.list_jobs(pb::ListJobsRequest::default()).await.expect("list").jobs.is_empty());
}
