//! Distributed ingestion: a real `nats-server` with JetStream, a
//! `percolate-db` process and `percolate-worker` processes. Jobs are
//! submitted through the jobs library (the gateway's Jobs service uses the
//! same); results are read back from the database.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use percolate_jobs::{Jobs, NatsConfig};
use percolate_proto::v1::{JobKind, JobState, SubmitJobRequest};
use percolate_rem::TenantId;
use percolate_sdk::{Client, pb};
use percolate_testkit::{NatsServer, ServerProcess, http_get, workspace_binary};

const ACK_WAIT_SECS: u64 = 2;

struct Cluster {
    nats: NatsServer,
    db: ServerProcess,
    objects: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        let nats = NatsServer::start();
        let data = tempfile::tempdir().expect("dir");
        let mut command = Command::new(workspace_binary("percolate-db"));
        command.args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir"]).arg(data.path()).env("RUST_LOG", "warn");
        let db = ServerProcess::start(command);
        Self { nats, db, objects: tempfile::tempdir().expect("dir"), _data: data }
    }

    fn database_url(&self) -> String {
        format!("http://{}", self.db.addr_after("on"))
    }

    fn start_worker(&self) -> ServerProcess {
        self.start_worker_with(&[])
    }

    fn start_worker_with(&self, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_percolate-worker"));
        command
            .args(["--database-url", &self.database_url(), "--nats-url", self.nats.url(), "--admin-listen", "127.0.0.1:0", "--objects"])
            .arg(self.objects.path())
            .env("PERCOLATE_ACK_WAIT_SECS", ACK_WAIT_SECS.to_string())
            .env("PERCOLATE_MAX_DELIVERIES", "4")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied());
        ServerProcess::start(command)
    }

    async fn jobs(&self) -> Jobs {
        let config = NatsConfig { url: self.nats.url().to_string(), tier: "small".into(), replicas: 1, ack_wait: Duration::from_secs(ACK_WAIT_SECS), max_deliveries: 4 };
        Jobs::nats(config).await.expect("jobs on nats")
    }

    async fn client(&self, tenant: &str) -> Client {
        Client::connect(self.database_url(), tenant).await.expect("connect")
    }

    fn put_object(&self, tenant: &str, key: &str, bytes: &[u8]) {
        put_object(self.objects.path(), tenant, key, bytes);
    }
}

fn put_object(root: &Path, tenant: &str, key: &str, bytes: &[u8]) {
    let path = root.join("tenants").join(tenant).join(key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn ingest(key: &str, uri: &str) -> SubmitJobRequest {
    SubmitJobRequest { kind: JobKind::IngestDocument as i32, object_key: key.into(), uri: uri.into(), ..Default::default() }
}

async fn wait_until(jobs: &Jobs, tenant: &TenantId, id: &str, what: &str, done: impl Fn(&pb::Job) -> bool) -> pb::Job {
    for _ in 0..1200 {
        let job = jobs.get(tenant, id).await.expect("get job");
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never reached: {what}")
}

#[tokio::test]
async fn a_document_submitted_on_nats_becomes_searchable() {
    let cluster = Cluster::start();
    let worker = cluster.start_worker();
    let jobs = cluster.jobs().await;
    let acme = TenantId::parse("acme").expect("tenant");
    cluster.put_object("acme", "uploads/trains.txt", b"Night trains cross the Alps from Zurich to Milan. Grace Hopper wrote about compilers.");
    let job = jobs.submit(&acme, ingest("uploads/trains.txt", "doc://trains")).await.expect("submit");
    let done = wait_until(&jobs, &acme, &job.id, "finished", |j| percolate_jobs::is_finished(j.state())).await;
    assert_eq!(done.state(), JobState::Succeeded, "{}", done.error);

    let client = cluster.client("acme").await;
    let hits = client.search_text("railway journey through the mountains", 1).await.expect("search");
    assert_eq!(hits[0].resource.as_ref().map(|r| r.uri.as_str()), Some("doc://trains"));
    assert!(client.get_entity("person", "grace hopper").await.expect("get").is_some());

    let admin = worker.addr_after("admin");
    let metrics = http_get(admin, "/metrics");
    assert!(metrics.contains("percolate_worker_jobs_succeeded_total 1"), "{metrics}");
    assert!(metrics.contains("percolate_worker_embedding_batch_seconds_count"), "{metrics}");
}

#[tokio::test]
async fn killing_the_worker_mid_job_redelivers_and_leaves_one_copy() {
    let cluster = Cluster::start();
    let jobs = cluster.jobs().await;
    let acme = TenantId::parse("acme").expect("tenant");
    let text: String = (0..1500).map(|i| format!("Paragraph {i}: the harbour cranes lifted containers of coffee, copper and timber while gulls circled the quay.\n\n")).collect();
    cluster.put_object("acme", "uploads/harbour.txt", text.as_bytes());
    let job = jobs.submit(&acme, ingest("uploads/harbour.txt", "doc://harbour")).await.expect("submit");

    let first = cluster.start_worker();
    wait_until(&jobs, &acme, &job.id, "embedding", |j| j.stage == "embedding" && j.progress > 0.2).await;
    first.kill_hard();

    // A second worker gets the job again once the ack wait has passed.
    let _second = cluster.start_worker();
    let done = wait_until(&jobs, &acme, &job.id, "finished", |j| percolate_jobs::is_finished(j.state())).await;
    assert_eq!(done.state(), JobState::Succeeded, "{}", done.error);
    assert_eq!(done.attempts, 2, "delivered exactly twice");

    let client = cluster.client("acme").await;
    let chunks = client.get_uri("doc://harbour").await.expect("read");
    let written = done.result.expect("result").resources as usize;
    assert_eq!(chunks.len(), written, "exactly one copy of every chunk");
    let ordinals: Vec<u32> = chunks.iter().map(|c| c.chunk_ordinal).collect();
    assert_eq!(ordinals, (0..written as u32).collect::<Vec<_>>());
    let stats = client.tenant_stats().await.expect("stats");
    assert_eq!(stats.resources, written as u64);
    let moments = client.all_moments(pb::ListMomentsRequest { moment_types: vec!["ingestion".into()], ..Default::default() }).await.expect("feed");
    assert_eq!(moments.len(), 1, "one ingestion moment");
}

#[tokio::test]
async fn a_stopping_worker_hands_its_job_back_and_exits_cleanly() {
    let cluster = Cluster::start();
    let jobs = cluster.jobs().await;
    let acme = TenantId::parse("acme").expect("tenant");
    let text: String = (0..1500).map(|i| format!("Paragraph {i}: the night ferry left the harbour with lorries, cyclists and a brass band on deck.\n\n")).collect();
    cluster.put_object("acme", "uploads/ferry.txt", text.as_bytes());
    let job = jobs.submit(&acme, ingest("uploads/ferry.txt", "doc://ferry")).await.expect("submit");

    // No grace: SIGTERM hands the job straight back.
    let first = cluster.start_worker_with(&[("PERCOLATE_SHUTDOWN_GRACE_SECS", "0")]);
    wait_until(&jobs, &acme, &job.id, "embedding", |j| j.stage == "embedding").await;
    let status = first.terminate(Duration::from_secs(20));
    assert!(status.success(), "the worker exits cleanly on SIGTERM: {status:?}");
    let handed_back = jobs.get(&acme, &job.id).await.expect("get");
    assert_eq!(handed_back.state(), JobState::Queued, "{handed_back:?}");
    assert!(handed_back.error.contains("stopped"), "{}", handed_back.error);

    let _second = cluster.start_worker();
    let done = wait_until(&jobs, &acme, &job.id, "finished", |j| percolate_jobs::is_finished(j.state())).await;
    assert_eq!(done.state(), JobState::Succeeded, "{}", done.error);
    assert_eq!(done.attempts, 2);
    let chunks = cluster.client("acme").await.get_uri("doc://ferry").await.expect("read");
    assert_eq!(chunks.len(), done.result.expect("result").resources as usize);
}
