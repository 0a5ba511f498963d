//! `percolate-worker`: runs background jobs. For a document job it reads the
//! uploaded file from object storage, extracts its text, chunks and embeds
//! it, finds entities, and writes resources, entities, `mentions` edges and
//! an ingestion moment back through the `Database` gRPC API.
//!
//! The worker runs as its own binary on NATS JetStream, or inside
//! `percolate dev` on the local queue; [`Worker`] is the same in both.

pub mod config;
mod error;
mod ingest;
mod metrics;
mod runner;
mod settings;
mod speech;

use std::sync::Arc;
use std::time::Duration;

use percolate_embedder::Embedder;
use percolate_jobs::Jobs;
use percolate_objects::ObjectStore;
use percolate_sdk::Client;
use tokio::sync::watch;

pub use config::{WorkerArgs, WorkerConfig};
pub use error::JobError;
pub use ingest::{DOCUMENT_TYPE, MENTIONS};
pub use metrics::WorkerMetrics;
pub use settings::WorkerSettings;

use runner::WorkerInner;

/// How often the queue depth metric is refreshed.
const DEPTH_INTERVAL: Duration = Duration::from_secs(5);

/// A worker: takes jobs from `jobs` and runs them.
pub struct Worker {
    inner: Arc<WorkerInner>,
}

impl Worker {
    /// A worker writing to the database at `settings.database_url`. The
    /// connection is made on first use, so the database may start later.
    /// Fails on a bad database URL or transcription setting.
    pub fn new(jobs: Jobs, objects: ObjectStore, embedder: Arc<Embedder>, settings: WorkerSettings) -> anyhow::Result<Self> {
        let channel = tonic::transport::Endpoint::from_shared(settings.database_url.clone()).map_err(percolate_sdk::Error::Connect)?.tcp_nodelay(true).connect_lazy();
        let database = Client::from_channel(channel, "default")?;
        let transcriber = settings.transcription.clone().map(percolate_openai::Transcriber::new).transpose()?;
        if let Some(transcriber) = &transcriber {
            tracing::info!(endpoint = %transcriber.endpoint(), "audio is transcribed by an OpenAI-compatible service");
        }
        let metrics = Arc::new(WorkerMetrics::new());
        Ok(Self { inner: Arc::new(WorkerInner { jobs, objects, embedder, settings, metrics, database, transcriber }) })
    }

    /// The worker's metrics (for an admin port).
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        self.inner.metrics.clone()
    }

    /// Runs jobs until `stop` turns true; a job in hand gets the shutdown
    /// grace period to finish, then is handed back to the queue.
    pub async fn run(&self, stop: watch::Receiver<bool>) {
        let depth = tokio::spawn(sample_depth(self.inner.clone()));
        let loops: Vec<_> = (0..self.inner.settings.concurrency.max(1)).map(|_| tokio::spawn(runner::work_loop(self.inner.clone(), stop.clone()))).collect();
        for task in loops {
            if let Err(error) = task.await {
                tracing::error!(%error, "a worker loop crashed");
            }
        }
        depth.abort();
        tracing::info!("worker stopped");
    }
}

async fn sample_depth(worker: Arc<WorkerInner>) {
    let mut tick = tokio::time::interval(DEPTH_INTERVAL);
    loop {
        tick.tick().await;
        match worker.jobs.depth().await {
            Ok(depth) => worker.metrics.set_queue_depth(depth),
            Err(error) => tracing::debug!(%error, "cannot read the queue depth"),
        }
    }
}
