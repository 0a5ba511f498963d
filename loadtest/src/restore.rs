//! Tenant mobility numbers with real processes: a `nats-server`, `s3s-fs`
//! and `percolate-db` nodes. Node A holds a tenant of `resources` chunks
//! (384-dimension vectors) and snapshots it; `after` more writes go only to
//! the log; then fresh nodes (empty data directories) are asked for the
//! tenant: the first call's latency is restore + log replay + open, and the
//! node's restore metric gives the download-and-verify part.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use percolate_sdk::pb::sync_client::SyncClient;
use percolate_sdk::{Client, ResourceInput, pb};
use percolate_testkit::{NatsServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server, ServerProcess, http_get};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TENANT: &str = "mobile";

/// Options of `percolate-bench restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// Resources in the snapshot.
    #[arg(long, default_value_t = 10_000)]
    resources: usize,
    /// Single-resource writes after the snapshot (replayed from the log).
    #[arg(long, default_value_t = 200)]
    after: usize,
    /// Fresh nodes asked for the tenant, one after another.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn start_node(dir: &tempfile::TempDir, nats: &NatsServer, s3: &S3Server, node_id: &str) -> Result<ServerProcess> {
    let binary = std::env::current_exe()?.parent().context("binary directory")?.join("percolate-db");
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--embedding-mode", "off", "--node-id", node_id, "--nats-url", nats.url()])
        .args(["--snapshots", &format!("s3://snapshots?endpoint={}", s3.endpoint()), "--data-dir"])
        .arg(dir.path())
        .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
    Ok(ServerProcess::start(command))
}

fn resource(rng: &mut StdRng, uri: String) -> ResourceInput {
    let words: Vec<String> = (0..40).map(|_| format!("w{}", rng.random_range(0..5000))).collect();
    ResourceInput::new(uri, words.join(" ")).embedding((0..384).map(|_| rng.random_range(-1.0f32..1.0)).collect())
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' ')).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(args: &RestoreArgs) -> Result<()> {
    let nats = NatsServer::start();
    let s3 = S3Server::start(S3Kind::S3sFs);
    let a_dir = tempfile::tempdir()?;
    let a = start_node(&a_dir, &nats, &s3, "a")?;
    let a_addr = format!("http://{}", a.addr_after("on"));
    let ca = Client::connect(a_addr.clone(), TENANT).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let loading = Instant::now();
    for start in (0..args.resources).step_by(200) {
        let batch = (start..(start + 200).min(args.resources)).map(|k| resource(&mut rng, format!("doc://base/{k}"))).collect();
        ca.put_resources(batch, false).await?;
    }
    println!("loaded {} resources on node A in {:.1} s", args.resources, loading.elapsed().as_secs_f64());
    let mut sync_a = SyncClient::new(tonic::transport::Endpoint::from_shared(a_addr)?.connect().await?);
    loop {
        let status = sync_a.get_replication_status(ca.request(pb::GetReplicationStatusRequest {})).await?.into_inner();
        if status.log_sequence > 0 && status.applied_sequence == status.log_sequence && status.outbox_depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let snapshot = sync_a.snapshot_tenant(ca.request(pb::SnapshotTenantRequest {})).await?.into_inner();
    println!("snapshot: {} files, {:.1} MiB, taken and uploaded in {:.2} s", snapshot.files, snapshot.size as f64 / 1048576.0, started.elapsed().as_secs_f64());
    for k in 0..args.after {
        ca.put_resources(vec![resource(&mut rng, format!("doc://after/{k}"))], false).await?;
    }
    let expected = (args.resources + args.after) as u64;
    let probe: Vec<f32> = (0..384).map(|_| rng.random_range(-1.0f32..1.0)).collect();

    println!("| round | first call (restore + replay {} messages + open) | of which download + verify | second call | resources |", args.after);
    println!("|---|---|---|---|---|");
    for round in 1..=args.rounds {
        let dir = tempfile::tempdir()?;
        let node = start_node(&dir, &nats, &s3, &format!("fresh{round}"))?;
        let client = Client::connect(format!("http://{}", node.addr_after("on")), TENANT).await?;
        let started = Instant::now();
        let stats = client.tenant_stats().await?;
        let first = started.elapsed();
        anyhow::ensure!(stats.resources == expected, "round {round}: {} resources, expected {expected}", stats.resources);
        let started = Instant::now();
        let hits = client.search_vector(probe.clone(), 10).await?;
        let second = started.elapsed();
        anyhow::ensure!(hits.len() == 10, "search found {}", hits.len());
        let metrics = http_get(node.addr_after("admin"), "/metrics");
        let restore = metric(&metrics, "percolate_restore_duration_seconds_sum");
        println!("| {round} | {:.0} ms | {:.0} ms | {:.1} ms | {} |", first.as_secs_f64() * 1000.0, restore * 1000.0, second.as_secs_f64() * 1000.0, stats.resources);
    }
    Ok(())
}
