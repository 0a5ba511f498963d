//! Tenant mobility: snapshots in a real S3-compatible server (`s3s-fs`) plus
//! the replication log in a real `nats-server`, between separate
//! `percolate-db` processes. A node that does not hold a tenant restores
//! its newest snapshot and replays the log before it answers; snapshots are
//! taken when a tenant goes idle, verified on restore and pruned.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::DbProcess;
use percolate_sdk::pb::{self, sync_client::SyncClient};
use percolate_sdk::{Client, EntityInput, MomentInput, ResourceInput};
use percolate_testkit::{NatsServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server};
use tonic::Code;

const TENANT: &str = "mobile";
const BUCKET: &str = "percolate-snapshots";

struct Cluster {
    nats: NatsServer,
    s3: S3Server,
}

impl Cluster {
    fn start() -> Self {
        Self { nats: NatsServer::start(), s3: S3Server::start(S3Kind::S3sFs) }
    }

    fn location(&self) -> String {
        format!("s3://{BUCKET}?endpoint={}", self.s3.endpoint())
    }

    /// A node with replication and snapshots, and extra settings.
    fn node(&self, dir: &Path, node_id: &str, env: &[(&str, &str)]) -> DbProcess {
        let location = self.location();
        let mut all_env = vec![("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY), ("AWS_EC2_METADATA_DISABLED", "true")];
        all_env.extend_from_slice(env);
        DbProcess::start_with_env(dir, &["--embedding-mode", "off", "--node-id", node_id, "--nats-url", self.nats.url(), "--snapshots", &location], &all_env)
    }

    /// The tenant's snapshot folders in the S3 server's files.
    fn snapshot_dirs(&self) -> Vec<PathBuf> {
        let root = self.s3.root().join(BUCKET).join("tenants").join(TENANT).join("snapshots");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root).map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.join("manifest.json").exists()).collect()).unwrap_or_default();
        dirs.sort();
        dirs
    }
}

fn chunk(uri: &str, text: &str, seed: f32) -> ResourceInput {
    ResourceInput::new(uri, text).embedding(vec![seed, 1.0 - seed, 0.5])
}

async fn put_docs(client: &Client, prefix: &str, count: usize) {
    for start in (0..count).step_by(50) {
        let batch = (start..(start + 50).min(count)).map(|k| chunk(&format!("doc://{prefix}/{k}"), &format!("{prefix} note {k}"), (k % 10) as f32 / 10.0)).collect();
        client.put_resources(batch, false).await.expect("put");
    }
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' ')).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// Waits until the log has taken all of the node's writes and the node has
/// applied the whole log of the tenant (its own writes come back through the
/// log too); returns the log's last sequence.
async fn wait_applied(node: &DbProcess, client: &Client) -> u64 {
    let mut sync = SyncClient::new(node.channel().await);
    let started = Instant::now();
    loop {
        let status = sync.get_replication_status(client.request(pb::GetReplicationStatusRequest {})).await.expect("status").into_inner();
        if status.outbox_depth == 0 && status.log_sequence > 0 && status.applied_sequence == status.log_sequence {
            return status.log_sequence;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the node never applied the log: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn snapshot_now(node: &DbProcess, client: &Client) -> pb::SnapshotInfo {
    SyncClient::new(node.channel().await).snapshot_tenant(client.request(pb::SnapshotTenantRequest {})).await.expect("snapshot").into_inner()
}

#[tokio::test]
async fn a_node_without_the_tenant_restores_the_snapshot_and_replays_the_log_before_answering() {
    let cluster = Cluster::start();
    let (a_dir, b_dir, c_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = cluster.node(a_dir.path(), "a", &[]);
    let ca = a.client(TENANT).await;
    put_docs(&ca, "before", 200).await;
    ca.upsert_entities(vec![EntityInput::new("person", "ada").properties(serde_json::json!({"role": "analyst"}))]).await.expect("upsert");
    ca.put_moments(vec![MomentInput::new("kick-off")]).await.expect("moment");
    // 4 batches of resources, the entity and the moment: log sequences 1-6.
    assert_eq!(wait_applied(&a, &ca).await, 6);
    let info = snapshot_now(&a, &ca).await;
    assert!(info.object_key.starts_with("snapshots/"), "{info:?}");
    assert!(info.sequence == 6 && info.files >= 3 && info.size > 0 && info.node_id == "a", "{info:?}");
    // Written after the snapshot: only the log has these.
    put_docs(&ca, "after", 20).await;
    ca.delete_resources(Vec::new(), vec!["doc://before/0".into()]).await.expect("delete");
    ca.upsert_entities(vec![EntityInput::new("person", "ada").properties(serde_json::json!({"city": "London"}))]).await.expect("upsert");

    // A fresh node: the very first call sees everything.
    let b = cluster.node(b_dir.path(), "b", &[]);
    let cb = b.client(TENANT).await;
    let started = Instant::now();
    let stats = cb.tenant_stats().await.expect("stats");
    let first_call = started.elapsed();
    assert_eq!((stats.resources, stats.entities, stats.moments), (219, 1, 1), "{stats:?}");
    assert_eq!(cb.get_uri("doc://after/19").await.expect("get").len(), 1, "replayed from the log");
    assert!(cb.get_uri("doc://before/0").await.expect("get").is_empty(), "the delete was replayed");
    let ada = cb.get_entity("person", "ada").await.expect("entity").expect("ada");
    let props = percolate_sdk::struct_to_json(&ada.properties.unwrap_or_default());
    assert_eq!((props["role"].as_str(), props["city"].as_str()), (Some("analyst"), Some("London")), "{props}");
    eprintln!("first call on a node without the tenant: {first_call:?} (restore + replay of 3 log messages)");
    let metrics = b.admin_get("/metrics");
    assert_eq!(metric(&metrics, "percolate_restores_total{outcome=\"ok\"}"), 1.0, "{metrics}");
    assert!(metrics.contains("percolate_restore_duration_seconds_count 1"), "{metrics}");
    let status = SyncClient::new(b.channel().await).get_replication_status(cb.request(pb::GetReplicationStatusRequest {})).await.expect("status").into_inner();
    assert_eq!(status.last_snapshot.map(|s| s.object_key), Some(info.object_key.clone()));

    // A lost volume: the node's whole data directory is gone.
    b.kill_hard();
    std::fs::remove_dir_all(b_dir.path()).expect("data dir deleted");
    let b = cluster.node(b_dir.path(), "b", &[]);
    let cb = b.client(TENANT).await;
    assert_eq!(cb.tenant_stats().await.expect("stats").resources, 219, "restored again after the data dir was lost");

    // Concurrent first requests wait on one restore.
    let c = cluster.node(c_dir.path(), "c", &[]);
    let cc = c.client(TENANT).await;
    let calls: Vec<_> = (0..8).map(|_| cc.tenant_stats()).collect();
    for stats in futures::future::join_all(calls).await {
        assert_eq!(stats.expect("stats").resources, 219);
    }
    assert_eq!(metric(&c.admin_get("/metrics"), "percolate_restores_total{outcome=\"ok\"}"), 1.0, "one restore for eight requests");

    // A tenant nobody ever wrote is new everywhere: no restore, empty.
    let empty = c.client("never-written").await.tenant_stats().await.expect("stats");
    assert_eq!(empty.resources, 0);
    assert_eq!(metric(&c.admin_get("/metrics"), "percolate_restores_total{outcome=\"none\"}"), 1.0);
}

#[tokio::test]
async fn idle_tenants_are_snapshotted_old_snapshots_pruned_and_corrupt_ones_skipped() {
    let cluster = Cluster::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = cluster.node(a_dir.path(), "a", &[("PERCOLATE_SNAPSHOT_IDLE_SECS", "1"), ("PERCOLATE_SNAPSHOT_KEEP", "2")]);
    let ca = a.client(TENANT).await;
    put_docs(&ca, "first", 30).await;
    // A tenant without a snapshot gets one soon, without being asked.
    let started = Instant::now();
    while cluster.snapshot_dirs().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no first snapshot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An unchanged tenant is not uploaded again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cluster.snapshot_dirs().len(), 1, "nothing changed, no new snapshot");
    // Changed, then idle for a second (the interval is 5 minutes): snapshotted.
    put_docs(&ca, "second", 10).await;
    let started = Instant::now();
    while cluster.snapshot_dirs().len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "no snapshot after the tenant went idle");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("idle snapshot stored {:?} after the last write (idle threshold 1 s)", started.elapsed());
    put_docs(&ca, "third", 10).await;
    let newest = snapshot_now(&a, &ca).await;
    let dirs = cluster.snapshot_dirs();
    assert_eq!(dirs.len(), 2, "keep 2: {dirs:?}");
    assert!(dirs[1].ends_with(&newest.object_key), "{dirs:?} {newest:?}");
    let metrics = a.admin_get("/metrics");
    assert!(metric(&metrics, "percolate_snapshots_total{outcome=\"ok\"}") >= 3.0, "{metrics}");
    assert!(metrics.contains("percolate_snapshot_duration_seconds_count"), "{metrics}");

    // Corrupt one byte of a file of the newest snapshot: a fresh node skips
    // it, restores the older one, and the log supplies the rest.
    let victim = std::fs::read_dir(&dirs[1]).expect("files").flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "sst")).expect("an sst file");
    let mut bytes = std::fs::read(&victim).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&victim, bytes).expect("corrupted");
    put_docs(&ca, "fourth", 5).await;
    let b = cluster.node(b_dir.path(), "b", &[]);
    let cb = b.client(TENANT).await;
    assert_eq!(cb.tenant_stats().await.expect("stats").resources, 55);
    let metrics = b.admin_get("/metrics");
    assert_eq!(metric(&metrics, "percolate_restores_total{outcome=\"corrupt\"}"), 1.0, "{metrics}");
    assert_eq!(metric(&metrics, "percolate_restores_total{outcome=\"ok\"}"), 1.0, "{metrics}");

    // Asking for the corrupt one explicitly is DATA_LOSS, and the node
    // keeps the copy it had.
    let mut sync_b = SyncClient::new(b.channel().await);
    let err = sync_b.restore_tenant(cb.request(pb::RestoreTenantRequest { object_key: newest.object_key.clone() })).await.expect_err("corrupt");
    assert_eq!(err.code(), Code::DataLoss, "{}", err.message());
    assert!(err.message().contains("SHA-256") || err.message().contains("bytes"), "{}", err.message());
    assert_eq!(cb.tenant_stats().await.expect("stats").resources, 55, "the old copy is back");
}

#[tokio::test]
async fn restore_tenant_replaces_a_copy_and_replays_what_came_after() {
    let cluster = Cluster::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = cluster.node(a_dir.path(), "a", &[]);
    let b = cluster.node(b_dir.path(), "b", &[]);
    let (ca, cb) = (a.client(TENANT).await, b.client(TENANT).await);
    put_docs(&ca, "base", 40).await;
    assert_eq!(wait_applied(&a, &ca).await, 1);
    let snapshot = snapshot_now(&a, &ca).await;
    assert_eq!(snapshot.sequence, 1);
    put_docs(&ca, "later", 7).await;
    let started = Instant::now();
    while cb.tenant_stats().await.expect("stats").resources != 47 {
        assert!(started.elapsed() < Duration::from_secs(20), "b never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut sync_b = SyncClient::new(b.channel().await);
    let restored = sync_b.restore_tenant(cb.request(pb::RestoreTenantRequest { object_key: String::new() })).await.expect("restore").into_inner();
    assert_eq!(restored.snapshot.as_ref().map(|s| s.object_key.as_str()), Some(snapshot.object_key.as_str()));
    assert_eq!(restored.replayed, 1, "the 7 later resources are one log message: {restored:?}");
    assert_eq!(cb.tenant_stats().await.expect("stats").resources, 47, "snapshot + replay = the same tenant");
    assert_eq!(cb.get_uri("doc://later/6").await.expect("get").len(), 1);
    // Writes still flow both ways afterwards.
    cb.put_resources(vec![chunk("doc://from-b", "after the restore", 0.4)], false).await.expect("put on b");
    let started = Instant::now();
    while ca.get_uri("doc://from-b").await.expect("get").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "a never saw b's write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Restoring while another node keeps writing: nothing written meanwhile
    // is skipped by the restored copy.
    let writer = {
        let ca = ca.clone();
        tokio::spawn(async move {
            for k in 0..30 {
                ca.put_resources(vec![chunk(&format!("doc://during/{k}"), "written during a restore", 0.3)], false).await.expect("put on a");
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    sync_b.restore_tenant(cb.request(pb::RestoreTenantRequest { object_key: String::new() })).await.expect("restore during writes");
    writer.await.expect("writer");
    let expected = ca.tenant_stats().await.expect("stats").resources;
    assert_eq!(expected, 78);
    let started = Instant::now();
    while cb.tenant_stats().await.expect("stats").resources != expected {
        assert!(started.elapsed() < Duration::from_secs(20), "b lost writes made during its restore: {:?}", cb.tenant_stats().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for k in 0..30 {
        assert_eq!(cb.get_uri(&format!("doc://during/{k}")).await.expect("get").len(), 1, "doc://during/{k}");
    }

    for bad in ["../x", "uploads/x", "snapshots/../../etc"] {
        let err = sync_b.restore_tenant(cb.request(pb::RestoreTenantRequest { object_key: bad.into() })).await.expect_err("bad key");
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}: {}", err.message());
    }
    let err = sync_b.restore_tenant(cb.request(pb::RestoreTenantRequest { object_key: "snapshots/00000000000000000001-0000000000000-missing".into() })).await.expect_err("missing");
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    let other = b.client("no-snapshots-here").await;
    let err = sync_b.restore_tenant(other.request(pb::RestoreTenantRequest { object_key: String::new() })).await.expect_err("none");
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());

    let plain_dir = tempfile::tempdir().expect("dir");
    let plain = DbProcess::start_with(plain_dir.path(), &["--embedding-mode", "off"]);
    let err = SyncClient::new(plain.channel().await).snapshot_tenant(cb.request(pb::SnapshotTenantRequest {})).await.expect_err("no snapshot location");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn an_unreachable_snapshot_store_fails_the_open_instead_of_serving_an_empty_tenant() {
    let mut cluster = Cluster::start();
    let (a_dir, b_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let a = cluster.node(a_dir.path(), "a", &[]);
    let ca = a.client(TENANT).await;
    put_docs(&ca, "kept", 12).await;
    snapshot_now(&a, &ca).await;
    cluster.s3.stop();
    let b = cluster.node(b_dir.path(), "b", &[]);
    let cb = b.client(TENANT).await;
    let err = cb.tenant_stats().await.expect_err("cannot restore");
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    assert!(!b_dir.path().join("tenants").join(TENANT).exists(), "no empty tenant was created");
    cluster.s3.restart();
    let started = Instant::now();
    loop {
        match cb.tenant_stats().await {
            Ok(stats) => {
                assert_eq!(stats.resources, 12);
                break;
            }
            Err(error) => assert!(started.elapsed() < Duration::from_secs(30), "never restored after S3 came back: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
