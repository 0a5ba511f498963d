//! Prometheus metrics of uploads.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of finished uploads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `stored`, or the gRPC code name of the failure.
    pub outcome: String,
}

/// The gateway's upload metrics.
pub struct GatewayMetrics {
    registry: Registry,
    bytes_received: Counter,
    in_flight: Gauge,
    duration: Histogram,
    uploads: Family<OutcomeLabel, Counter>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let bytes_received = Counter::default();
        let in_flight = Gauge::default();
        // 10 ms .. ~1.4 h
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 19));
        let uploads = Family::<OutcomeLabel, Counter>::default();
        registry.register("percolate_gateway_upload_bytes_received", "Bytes of file data received by uploads", bytes_received.clone());
        registry.register("percolate_gateway_uploads_in_flight", "Uploads being received now", in_flight.clone());
        registry.register("percolate_gateway_upload_duration_seconds", "Time from an upload's first message to its answer", duration.clone());
        registry.register("percolate_gateway_uploads", "Finished uploads by outcome", uploads.clone());
        Self { registry, bytes_received, in_flight, duration, uploads }
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received.inc_by(bytes as u64);
    }

    /// Counts an upload in flight until the guard drops.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Uploads being received now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    pub(crate) fn finished(&self, outcome: &str, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        self.uploads.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}

/// Decrements the in-flight gauge when dropped (also when the request is
/// cancelled).
pub(crate) struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
