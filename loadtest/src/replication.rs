//! Replication numbers with real processes: a `nats-server` (JetStream) and
//! three `percolate-db` nodes replicating one tenant. Write latency with
//! local-commit and with wait-for-the-log durability, and replication lag
//! under a steady write load: the time from a write's acknowledgement on
//! node A until nodes B and C serve it.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use percolate_sdk::{Client, ResourceInput, pb};
use percolate_testkit::{NatsServer, ServerProcess};
use tokio::sync::Mutex;

use crate::stats::{Report, Samples};

const TENANT: &str = "bench";

/// Options of `percolate-bench replication`.
#[derive(clap::Args)]
pub struct ReplicationArgs {
    /// Writes per latency measurement.
    #[arg(long, default_value_t = 500)]
    writes: usize,
    /// Writes per second of the steady load for the lag measurement.
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// Seconds of steady load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn start_node(dir: &tempfile::TempDir, nats: &NatsServer, node_id: &str) -> Result<ServerProcess> {
    let binary = std::env::current_exe()?.parent().context("binary directory")?.join("percolate-db");
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--embedding-mode", "off", "--node-id", node_id, "--nats-url", nats.url(), "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn");
    Ok(ServerProcess::start(command))
}

fn resource(uri: &str) -> pb::Resource {
    ResourceInput::new(uri, "a replicated note").embedding(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]).0
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(args: &ReplicationArgs) -> Result<()> {
    let nats = NatsServer::start();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir()).collect::<std::io::Result<_>>()?;
    let nodes: Vec<ServerProcess> = dirs.iter().enumerate().map(|(i, d)| start_node(d, &nats, &format!("n{i}"))).collect::<Result<_>>()?;
    let mut clients = Vec::new();
    for node in &nodes {
        let client = Client::connect(format!("http://{}", node.addr_after("on")), TENANT).await?;
        client.tenant_stats().await?;
        clients.push(client);
    }
    let a = clients[0].clone();
    // Warm-up: the stream exists and every node follows the tenant.
    a.raw().put_resources(a.request(pb::PutResourcesRequest { resources: vec![resource("doc://warm-up")], ..Default::default() })).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut report = Report::default();
    for (label, durability) in [("write, local commit (fsync)", pb::Durability::Local), ("write, wait for the log (DURABILITY_REPLICATED)", pb::Durability::Replicated)] {
        let mut samples = Samples::default();
        for k in 0..args.writes {
            let request = pb::PutResourcesRequest { resources: vec![resource(&format!("doc://{durability:?}/{k}"))], durability: durability as i32, ..Default::default() };
            let started = Instant::now();
            a.raw().put_resources(a.request(request)).await?;
            samples.push(started.elapsed());
        }
        report.latency(label, &samples);
    }

    // Steady load on A; B and C are polled for each write until they serve it.
    let lags: Arc<Mutex<(Samples, Samples)>> = Arc::default();
    let interval = Duration::from_micros(1_000_000 / args.rate.max(1));
    let total = (args.rate * args.seconds) as usize;
    let mut watchers = Vec::with_capacity(total);
    let mut tick = tokio::time::interval(interval);
    for k in 0..total {
        tick.tick().await;
        let uri = format!("doc://steady/{k}");
        let request = pb::PutResourcesRequest { resources: vec![resource(&uri)], ..Default::default() };
        let id = a.raw().put_resources(a.request(request)).await?.into_inner().ids.remove(0);
        let acked = Instant::now();
        for (which, client) in [(0usize, clients[1].clone()), (1, clients[2].clone())] {
            let (id, lags) = (id.clone(), lags.clone());
            watchers.push(tokio::spawn(async move {
                loop {
                    let found = client.get_resources(vec![id.clone()]).await.map(|r| !r.resources.is_empty()).unwrap_or(false);
                    if found {
                        let lag = acked.elapsed();
                        let mut lags = lags.lock().await;
                        if which == 0 { lags.0.push(lag) } else { lags.1.push(lag) }
                        return;
                    }
                    if acked.elapsed() > Duration::from_secs(30) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            }));
        }
    }
    for watcher in watchers {
        watcher.await?;
    }
    let lags = lags.lock().await;
    anyhow::ensure!(lags.0.len() == total && lags.1.len() == total, "some writes never reached B or C within 30 s");
    report.latency(&format!("replication lag A -> B ({} writes/s, ack on A to visible on B)", args.rate), &lags.0);
    report.latency(&format!("replication lag A -> C ({} writes/s)", args.rate), &lags.1);
    report.print();
    Ok(())
}
