//! `percolate-worker`: takes jobs from NATS JetStream and runs them.

use std::io::Write;
use std::sync::Arc;

use clap::Parser;
use percolate_embedder::Embedder;
use percolate_jobs::Jobs;
use percolate_objects::ObjectStore;
use percolate_worker::{Worker, WorkerArgs, WorkerConfig};

/// Percolate worker: parses, chunks, embeds and writes back documents.
#[derive(Parser)]
#[command(name = "percolate-worker", version)]
struct Cli {
    #[command(flatten)]
    args: WorkerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = WorkerConfig::load(&cli.args)?;
    percolate_runtime::init_logging(&config.log_format);
    let embedder_config = config.embedder();
    let embedder = Arc::new(tokio::task::spawn_blocking(move || Embedder::load(&embedder_config)).await??);
    let jobs = Jobs::nats(config.nats()).await?;
    let objects = ObjectStore::open(&config.objects).await?;
    tracing::info!(objects = %objects.describe(), "object store");
    let worker = Worker::new(jobs, objects, embedder, config.settings())?;
    let admin = match config.admin_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
    if let Some(listener) = admin {
        let metrics = worker.metrics();
        tokio::spawn(percolate_runtime::serve_admin(listener, Arc::new(move || metrics.render())));
    }
    // Tests and scripts read this first line.
    let mut stdout = std::io::stdout();
    let line = format!("percolate-worker ready on {} tier {} admin {}\n", config.nats_url, config.tier, admin_addr.map_or("off".to_string(), |a| a.to_string()));
    let _ = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        percolate_runtime::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    worker.run(stop_rx).await;
    Ok(())
}
