//! Prometheus metrics of a database node, and the tower layer that counts
//! and times every gRPC call by method and status code.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use percolate_rem::TenantStore;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

/// Window of `percolate_active_tenants`: tenants used within it count.
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(300);

/// Labels of per-call metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Full gRPC method, for example `percolate.v1.Database/PutResources`.
    pub method: String,
    /// gRPC status code name, for example `Ok` or `InvalidArgument`.
    pub code: String,
}

/// Label of the tier gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabel {
    /// Deployment tier (small, medium, large).
    pub tier: String,
}

/// Replication metrics of a node.
#[derive(Clone, Default)]
pub struct ReplicationMetrics {
    published: Counter,
    applied: Counter,
    rejected: Counter,
    outbox_depth: Gauge,
    depths: Arc<parking_lot::Mutex<std::collections::HashMap<String, u64>>>,
    lag_messages: Gauge,
    lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl ReplicationMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("percolate_replication_published", "Local mutations acknowledged by the replication log", self.published.clone());
        registry.register("percolate_replication_applied", "Mutations from the replication log applied here", self.applied.clone());
        registry.register("percolate_replication_rejected", "Mutations from the log that could not apply here (skipped)", self.rejected.clone());
        registry.register("percolate_replication_outbox_depth", "Local mutations waiting for the replication log", self.outbox_depth.clone());
        registry.register("percolate_replication_lag_messages", "Log messages not yet applied here, over followed tenants", self.lag_messages.clone());
        registry.register("percolate_replication_lag_seconds", "Age of the oldest unapplied log message, over followed tenants", self.lag_seconds.clone());
    }

    pub(crate) fn published(&self, n: u64) {
        self.published.inc_by(n);
    }

    pub(crate) fn applied(&self) {
        self.applied.inc();
    }

    pub(crate) fn rejected(&self) {
        self.rejected.inc();
    }

    pub(crate) fn set_outbox_depth(&self, tenant: &percolate_rem::TenantId, depth: u64) {
        let mut depths = self.depths.lock();
        if depth == 0 {
            depths.remove(tenant.as_str());
        } else {
            depths.insert(tenant.as_str().to_string(), depth);
        }
        self.outbox_depth.set(depths.values().sum::<u64>() as i64);
    }

    pub(crate) fn set_lag(&self, messages: u64, seconds: f64) {
        self.lag_messages.set(messages as i64);
        self.lag_seconds.set(seconds);
    }
}

/// Label of snapshot and restore outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// What happened (`ok`, `failed`, `none`, `corrupt`).
    pub outcome: &'static str,
}

/// Snapshot and restore metrics of a node.
#[derive(Clone)]
pub struct SnapshotMetrics {
    snapshots: Family<OutcomeLabel, Counter>,
    duration: Histogram,
    uploaded_bytes: Counter,
    age: Gauge<f64, std::sync::atomic::AtomicU64>,
    restores: Family<OutcomeLabel, Counter>,
    restore_duration: Histogram,
}

impl Default for SnapshotMetrics {
    fn default() -> Self {
        Self {
            snapshots: Family::default(),
            duration: seconds_histogram(),
            uploaded_bytes: Counter::default(),
            age: Gauge::default(),
            restores: Family::default(),
            restore_duration: seconds_histogram(),
        }
    }
}

impl SnapshotMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("percolate_snapshots", "Tenant snapshots by outcome (ok, failed)", self.snapshots.clone());
        registry.register("percolate_snapshot_duration_seconds", "Time to cut and upload a tenant snapshot", self.duration.clone());
        registry.register("percolate_snapshot_uploaded_bytes", "Bytes of snapshots uploaded", self.uploaded_bytes.clone());
        registry.register("percolate_snapshot_age_seconds", "Age of the oldest snapshot among open tenants with changes not in a snapshot (0 when all are covered)", self.age.clone());
        registry.register("percolate_restores", "Tenant restores by outcome (ok; none: no snapshot, a new tenant; corrupt: a snapshot failed verification and was skipped; failed)", self.restores.clone());
        registry.register("percolate_restore_duration_seconds", "Time to download and verify a tenant snapshot", self.restore_duration.clone());
    }

    pub(crate) fn snapshot(&self, outcome: &'static str, elapsed: Duration, bytes: u64) {
        self.snapshots.get_or_create(&OutcomeLabel { outcome }).inc();
        if outcome == "ok" {
            self.duration.observe(elapsed.as_secs_f64());
            self.uploaded_bytes.inc_by(bytes);
        }
    }

    pub(crate) fn restore(&self, outcome: &'static str, elapsed: Option<Duration>) {
        self.restores.get_or_create(&OutcomeLabel { outcome }).inc();
        if let Some(elapsed) = elapsed {
            self.restore_duration.observe(elapsed.as_secs_f64());
        }
    }

    pub(crate) fn set_age(&self, seconds: f64) {
        self.age.set(seconds);
    }
}

/// Labels of chat answers.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChatLabels {
    /// Who wrote the answer: `model` or `extractive`.
    pub writer: &'static str,
    /// `ok`, `cancelled` (the client went away) or the failure's status code
    /// (`Unavailable`, `DeadlineExceeded`, ...).
    pub outcome: String,
}

/// Chat metrics of a node.
#[derive(Clone)]
pub struct ChatMetrics {
    answers: Family<ChatLabels, Counter>,
    retrieval: Histogram,
    first_piece: Histogram,
}

impl Default for ChatMetrics {
    fn default() -> Self {
        Self { answers: Family::default(), retrieval: seconds_histogram(), first_piece: seconds_histogram() }
    }
}

impl ChatMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("percolate_chat_answers", "Chat answers by writer (model, extractive) and outcome (ok, cancelled, or the status code)", self.answers.clone());
        registry.register("percolate_chat_retrieval_seconds", "Time to retrieve and assemble a chat's context", self.retrieval.clone());
        registry.register("percolate_chat_first_piece_seconds", "Time from a chat request to the first piece of its answer", self.first_piece.clone());
    }

    pub(crate) fn retrieved(&self, elapsed: Duration) {
        self.retrieval.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn first_piece(&self, elapsed: Duration) {
        self.first_piece.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn answered(&self, writer: &'static str, outcome: String) {
        self.answers.get_or_create(&ChatLabels { writer, outcome }).inc();
    }
}

/// 10 ms .. ~80 s
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// All metrics of a node.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<CallLabels, Histogram>,
    active_tenants: Family<TierLabel, Gauge>,
    open_tenants: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
    backfilled: Counter,
    replication: ReplicationMetrics,
    snapshots: SnapshotMetrics,
    chat: ChatMetrics,
    tier: String,
}

impl Metrics {
    /// Registers every metric; `tier` labels the active-tenant gauge.
    pub fn new(tier: &str) -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        let latency = Family::<CallLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let active_tenants = Family::<TierLabel, Gauge>::default();
        let open_tenants = Gauge::default();
        let (cache_hits, cache_misses) = (Counter::default(), Counter::default());
        registry.register("percolate_grpc_requests", "gRPC calls by method and status code", calls.clone());
        registry.register("percolate_grpc_request_duration_seconds", "gRPC call latency by method and status code", latency.clone());
        registry.register("percolate_active_tenants", "Tenants used in the last 5 minutes", active_tenants.clone());
        registry.register("percolate_open_tenants", "Tenant databases open now", open_tenants.clone());
        registry.register("percolate_tenant_cache_hits", "Tenant lookups that found the tenant open", cache_hits.clone());
        registry.register("percolate_tenant_cache_misses", "Tenant lookups that had to open the tenant", cache_misses.clone());
        let backfilled = Counter::default();
        registry.register("percolate_backfilled_embeddings", "Chunks stored without a vector that this node embedded in the background", backfilled.clone());
        let replication = ReplicationMetrics::default();
        replication.register(&mut registry);
        let snapshots = SnapshotMetrics::default();
        snapshots.register(&mut registry);
        let chat = ChatMetrics::default();
        chat.register(&mut registry);
        Self { registry, calls, latency, active_tenants, open_tenants, cache_hits, cache_misses, backfilled, replication, snapshots, chat, tier: tier.to_owned() }
    }

    /// The replication metrics.
    pub fn replication(&self) -> ReplicationMetrics {
        self.replication.clone()
    }

    /// The snapshot and restore metrics.
    pub fn snapshots(&self) -> SnapshotMetrics {
        self.snapshots.clone()
    }

    /// The chat metrics.
    pub fn chat(&self) -> ChatMetrics {
        self.chat.clone()
    }

    /// The counter of chunks embedded by the back-fill.
    pub fn backfilled(&self) -> Counter {
        self.backfilled.clone()
    }

    fn observe(&self, method: String, code: String, elapsed: Duration) {
        let labels = CallLabels { method, code };
        self.calls.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// The metrics in Prometheus text format, with tenant gauges read from
    /// `store` now.
    pub fn render(&self, store: &TenantStore) -> String {
        self.active_tenants.get_or_create(&TierLabel { tier: self.tier.clone() }).set(store.active_tenants(ACTIVE_WINDOW) as i64);
        self.open_tenants.set(store.open_tenants() as i64);
        let stats = store.cache_stats();
        self.cache_hits.inc_by(stats.hits.saturating_sub(self.cache_hits.get()));
        self.cache_misses.inc_by(stats.misses.saturating_sub(self.cache_misses.get()));
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

/// The method label of a request path; unknown services share one label so
/// random paths cannot blow up the number of series.
fn method_label(path: &str) -> String {
    let method = path.trim_start_matches('/');
    let known = ["percolate.v1.", "grpc.health.v1.", "grpc.reflection."];
    if known.iter().any(|prefix| method.starts_with(prefix)) && method.len() < 128 { method.to_owned() } else { "unknown".to_owned() }
}

/// Counts and times every call (reason: per-RPC metrics without touching handlers).
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner, metrics: self.metrics.clone() }
    }
}

/// The service [`MetricsLayer`] wraps around the gRPC routes.
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for MetricsService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = method_label(request.uri().path());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                // Errors are "trailers-only" responses: the status is a header.
                // A missing header means the call succeeded (status in trailers).
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32),
                Err(_) => tonic::Code::Unavailable,
            };
            metrics.observe(method, format!("{code:?}"), started.elapsed());
            result
        })
    }
}
