//! The worker's Prometheus metrics, served on its admin port.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters and histograms of one worker process.
pub struct WorkerMetrics {
    registry: Registry,
    started: Counter,
    succeeded: Counter,
    failed: Counter,
    retried: Counter,
    cancelled: Counter,
    queue_depth: Gauge,
    job_seconds: Histogram,
    embedding_seconds: Histogram,
    embedded_chunks: Counter,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("percolate_worker");
        let (started, succeeded, failed, retried, cancelled, embedded_chunks) = Default::default();
        let queue_depth = Gauge::default();
        let job_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 16));
        let embedding_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let counter = |c: &Counter| c.clone();
        registry.register("jobs_started", "Job attempts started", counter(&started));
        registry.register("jobs_succeeded", "Jobs that succeeded", counter(&succeeded));
        registry.register("jobs_failed", "Jobs that failed for good", counter(&failed));
        registry.register("jobs_retried", "Job attempts that failed and will be retried", counter(&retried));
        registry.register("jobs_cancelled", "Jobs cancelled while running", counter(&cancelled));
        registry.register("embedded_chunks", "Chunks embedded", counter(&embedded_chunks));
        registry.register("queue_depth", "Jobs waiting or in progress on this worker's queue (the lag)", queue_depth.clone());
        registry.register("job_seconds", "Duration of successful jobs", job_seconds.clone());
        registry.register("embedding_batch_seconds", "Duration of one embedding model call", embedding_seconds.clone());
        Self { registry, started, succeeded, failed, retried, cancelled, queue_depth, job_seconds, embedding_seconds, embedded_chunks }
    }

    pub(crate) fn started(&self) {
        self.started.inc();
    }

    pub(crate) fn succeeded(&self, elapsed: Duration) {
        self.succeeded.inc();
        self.job_seconds.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn failed(&self) {
        self.failed.inc();
    }

    pub(crate) fn retried(&self) {
        self.retried.inc();
    }

    pub(crate) fn cancelled(&self) {
        self.cancelled.inc();
    }

    pub(crate) fn observe_embedding(&self, elapsed: Duration, chunks: usize) {
        self.embedding_seconds.observe(elapsed.as_secs_f64());
        self.embedded_chunks.inc_by(chunks as u64);
    }

    pub(crate) fn set_queue_depth(&self, depth: u64) {
        self.queue_depth.set(depth.min(i64::MAX as u64) as i64);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
