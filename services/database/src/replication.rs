//! Replication through NATS JetStream: the tenant's subject
//! `percolate.sync.<tenant>` in the stream `PERCOLATE_SYNC` is the tenant's
//! log; each node's RocksDB is a copy of it.
//!
//! - **Publisher**: a local write is committed together with an outbox entry
//!   (one `WriteBatch`, in `percolate-rem`), then acknowledged. This task
//!   sends outbox entries to the log with `Nats-Msg-Id` = the mutation id
//!   (the stream de-duplicates a re-send) and removes them only after the
//!   log's ack. NATS being down delays replication; writes continue until
//!   a tenant's outbox is full (`max_outbox`, then `UNAVAILABLE`).
//! - **Follower**: for every tenant this node serves, an ordered consumer
//!   reads the tenant's subject from the last sequence applied here and
//!   applies each mutation with its sequence in the same `WriteBatch`
//!   (exactly-once effect; the node's own writes come back and change
//!   nothing). Conflicts resolve by last-writer-wins on `(hlc, node_id)`,
//!   per property for entities, with tombstones (see `percolate-rem`).
//! - **Catch-up**: the first request for a tenant after this node opens it
//!   (a restart, a restore from a snapshot, a tenant that moved here) waits
//!   until the follower has applied the log up to where it ended when the
//!   follower started, so a moved tenant answers with every write the log
//!   holds. When NATS is unreachable the node serves its copy (and says so
//!   in its log) rather than waiting.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use parking_lot::Mutex;
use percolate_rem::{LoggedOutcome, Mutation, TenantId, TenantStore};
use prost::Message as _;
use tokio::sync::{Notify, OnceCell, watch};

use crate::error::DbError;
use crate::metrics::ReplicationMetrics;

/// The replication stream.
pub const SYNC_STREAM: &str = "PERCOLATE_SYNC";
/// Outbox entries sent per round.
const PUBLISH_BATCH: usize = 256;
/// Longest pull request of a follower.
const PULL_EXPIRY: Duration = Duration::from_secs(2);
/// How often a follower checks that its tenant is still open.
const OPEN_CHECK: Duration = Duration::from_secs(1);
/// Pause after a failure before trying again.
const RETRY: Duration = Duration::from_secs(1);
/// Longest a first request waits for its tenant to catch up with the log.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a first request waits for a NATS connection in progress.
const CONNECT_GRACE: Duration = Duration::from_secs(2);

/// The log subject of a tenant.
pub fn subject(tenant: &TenantId) -> String {
    format!("percolate.sync.{}", tenant.as_str())
}

/// Why a follower stopped reading.
enum FollowEnd {
    /// NATS reconnected (or the consumer ended): read again.
    Reconnected,
    /// The store closed the tenant: stop until it is served again.
    Closed,
}

/// Publishes this node's writes and applies everyone's.
pub struct Replication {
    store: Arc<TenantStore>,
    client: async_nats::Client,
    context: jetstream::Context,
    replicas: usize,
    stream: OnceCell<stream::Stream>,
    dirty: Mutex<HashSet<TenantId>>,
    wake: Notify,
    followed: Mutex<HashSet<TenantId>>,
    lag: Mutex<HashMap<TenantId, (u64, f64)>>,
    connected: watch::Receiver<u64>,
    /// Raised to make every follower start again from its copy's applied
    /// sequence (after a copy was replaced).
    restarts: watch::Sender<u64>,
    /// Per followed tenant: whether its copy has caught up with the log.
    caught_up: Mutex<HashMap<TenantId, watch::Sender<bool>>>,
    watermarks: Mutex<HashMap<TenantId, watch::Sender<u64>>>,
    metrics: ReplicationMetrics,
}

impl Replication {
    /// Connects to NATS (in the background: the node starts, and takes
    /// writes, while NATS is unreachable) and starts the publisher.
    pub async fn start(url: &str, replicas: usize, store: Arc<TenantStore>, node_id: &str, metrics: ReplicationMetrics) -> anyhow::Result<Arc<Self>> {
        // Followers restart their consumers on every (re)connection: a pull
        // lost with a restarted server would otherwise wait for missed
        // heartbeats.
        let (connected_tx, connected) = watch::channel(0u64);
        let client = async_nats::ConnectOptions::new()
            .name(format!("percolate-db {node_id}"))
            .event_callback(move |event| {
                let connected_tx = connected_tx.clone();
                async move {
                    if matches!(event, async_nats::Event::Connected) {
                        connected_tx.send_modify(|n| *n += 1);
                    }
                }
            })
            .retry_on_initial_connect()
            // Back within a second of NATS returning, not after a long backoff.
            .reconnect_delay_callback(|attempts| Duration::from_millis(100 * attempts.min(10) as u64))
            // Comma-separated URLs: the servers of a NATS cluster.
            .connect(url.split(',').map(str::trim).collect::<Vec<_>>())
            .await?;
        let replication = Arc::new(Self {
            store,
            context: jetstream::new(client.clone()),
            client,
            replicas,
            stream: OnceCell::new(),
            dirty: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            followed: Mutex::new(HashSet::new()),
            lag: Mutex::new(HashMap::new()),
            connected,
            restarts: watch::channel(0).0,
            caught_up: Mutex::new(HashMap::new()),
            watermarks: Mutex::new(HashMap::new()),
            metrics,
        });
        tokio::spawn(replication.clone().publish_forever());
        tokio::spawn(replication.clone().sweep_outboxes());
        Ok(replication)
    }

    /// Finds, once at start, the tenants on disk whose outbox still holds
    /// writes acknowledged before a stop or crash, and queues them: their
    /// writes must reach the log even if this node never serves the tenant
    /// again. (Each tenant on disk is opened once for this.)
    async fn sweep_outboxes(self: Arc<Self>) {
        let dir = self.store.config().data_dir.join("tenants");
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        let mut found = 0;
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().and_then(|n| TenantId::parse(n).ok()) else { continue };
            let store = self.store.clone();
            let depth = tokio::task::spawn_blocking(move || store.tenant(&id).map(|t| (t.outbox_depth(), t.id().clone()))).await;
            if let Ok(Ok((depth, id))) = depth {
                if depth > 0 {
                    self.metrics.set_outbox_depth(&id, depth);
                    self.wrote(&id);
                    found += 1;
                }
            }
        }
        if found > 0 {
            tracing::info!(tenants = found, "queued outboxes left from before the restart");
        }
    }

    /// The stream, created with explicit settings on first use: limits
    /// retention (every node reads every message), 7 days, file storage, a
    /// 2-minute duplicate window.
    pub(crate) async fn stream(&self) -> anyhow::Result<stream::Stream> {
        let stream = self
            .stream
            .get_or_try_init(|| async {
                self.context
                    .get_or_create_stream(stream::Config {
                        name: SYNC_STREAM.to_string(),
                        description: Some("Percolate replication: one subject per tenant".into()),
                        subjects: vec!["percolate.sync.>".to_string()],
                        retention: stream::RetentionPolicy::Limits,
                        storage: stream::StorageType::File,
                        num_replicas: self.replicas,
                        duplicate_window: Duration::from_secs(120),
                        max_age: Duration::from_secs(7 * 24 * 3600),
                        ..Default::default()
                    })
                    .await
            })
            .await?;
        Ok(stream.clone())
    }

    /// Called for every request to a tenant: starts following its log the
    /// first time, and queues its outbox when it has entries (writes that
    /// were acknowledged before a restart).
    pub fn serve_tenant(self: &Arc<Self>, tenant: &percolate_rem::Tenant) {
        let depth = tenant.outbox_depth();
        self.metrics.set_outbox_depth(tenant.id(), depth);
        if depth > 0 {
            self.wrote(tenant.id());
        }
        if self.followed.lock().insert(tenant.id().clone()) {
            tokio::spawn(self.clone().follow_forever(tenant.id().clone()));
        }
    }

    /// Whether the tenant is followed and its copy has caught up with the
    /// log (requests need not wait).
    pub fn is_current(&self, id: &TenantId) -> bool {
        self.followed.lock().contains(id) && self.caught_up.lock().get(id).is_some_and(|c| *c.borrow())
    }

    /// Starts following the tenant and waits until its copy has applied
    /// the log up to where the log ended then. Serves the copy as it is
    /// (with a warning) when NATS is unreachable or the catch-up takes
    /// longer than [`CATCH_UP_TIMEOUT`].
    pub async fn catch_up(self: &Arc<Self>, tenant: &percolate_rem::Tenant) {
        let id = tenant.id().clone();
        let mut done = self.caught_up_flag(&id).subscribe();
        self.serve_tenant(tenant);
        if !self.wait_connected(CONNECT_GRACE).await {
            tracing::warn!(tenant_id = %id, "NATS is unreachable: serving this node's copy without catching up with the log");
            self.mark_caught_up(&id);
            return;
        }
        let started = std::time::Instant::now();
        if tokio::time::timeout(CATCH_UP_TIMEOUT, done.wait_for(|c| *c)).await.is_err() {
            tracing::warn!(tenant_id = %id, timeout = ?CATCH_UP_TIMEOUT, "the copy has not caught up with the log yet; serving it meanwhile");
            self.mark_caught_up(&id);
        } else {
            tracing::debug!(tenant_id = %id, elapsed = ?started.elapsed(), "caught up with the log");
        }
    }

    /// Whether NATS is connected, waiting up to `grace` for a connection
    /// in progress (just after start or during a reconnect).
    async fn wait_connected(&self, grace: Duration) -> bool {
        let connected = || self.client.connection_state() == async_nats::connection::State::Connected;
        let deadline = tokio::time::Instant::now() + grace;
        while !connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Makes the tenant's follower start again from its copy's applied
    /// sequence, and the next request wait for it to catch up (the copy
    /// was replaced).
    pub fn restart_follower(&self, id: &TenantId) {
        self.caught_up_flag(id).send_replace(false);
        self.restarts.send_modify(|n| *n += 1);
    }

    fn caught_up_flag(&self, id: &TenantId) -> watch::Sender<bool> {
        self.caught_up.lock().entry(id.clone()).or_insert_with(|| watch::channel(false).0).clone()
    }

    fn mark_caught_up(&self, id: &TenantId) {
        self.caught_up_flag(id).send_if_modified(|c| !std::mem::replace(c, true));
    }

    /// The last sequence of the tenant's log (0 when it has none).
    async fn log_end(&self, stream: &stream::Stream, id: &TenantId) -> anyhow::Result<u64> {
        match stream.get_last_raw_message_by_subject(&subject(id)).await {
            Ok(message) => Ok(message.sequence),
            Err(error) if matches!(error.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => Ok(0),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits until the log has taken every write of the tenant at outbox
    /// positions below `below`; `UNAVAILABLE` after `timeout`.
    pub async fn wait_published(&self, tenant: &TenantId, below: u64, timeout: Duration) -> Result<(), DbError> {
        let mut taken = self.watermarks.lock().entry(tenant.clone()).or_insert_with(|| watch::channel(0).0).subscribe();
        self.wrote(tenant);
        match tokio::time::timeout(timeout, taken.wait_for(|w| *w >= below)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(DbError::Unavailable(format!(
                "the write is committed on this node and queued, but the replication log did not acknowledge it within {} s",
                timeout.as_secs()
            ))),
        }
    }

    /// Records that every outbox position below `watermark` was taken.
    fn taken_below(&self, tenant: &TenantId, watermark: u64) {
        let mut watermarks = self.watermarks.lock();
        let sender = watermarks.entry(tenant.clone()).or_insert_with(|| watch::channel(0).0);
        sender.send_if_modified(|w| {
            let raised = watermark > *w;
            *w = (*w).max(watermark);
            raised
        });
    }

    /// Queues a tenant's outbox for publishing now.
    pub fn wrote(&self, tenant: &TenantId) {
        self.dirty.lock().insert(tenant.clone());
        self.wake.notify_one();
    }

    /// Local writes of the tenants this node has open that the log has not
    /// taken yet, and the replication lag, for the metrics.
    pub fn refresh_metrics(&self) {
        let lag = self.lag.lock();
        let messages: u64 = lag.values().map(|(m, _)| *m).sum();
        let seconds = lag.values().map(|(_, s)| *s).fold(0.0, f64::max);
        self.metrics.set_lag(messages, seconds);
    }

    async fn publish_forever(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(RETRY) => {}
            }
            let tenants: Vec<TenantId> = self.dirty.lock().drain().collect();
            for tenant in tenants {
                if let Err(error) = self.publish_outbox(&tenant).await {
                    tracing::warn!(tenant_id = %tenant, %error, "replication publish failed; retrying");
                    self.dirty.lock().insert(tenant);
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Sends the tenant's outbox to the log, a batch at a time, removing
    /// what the log acknowledged.
    async fn publish_outbox(&self, id: &TenantId) -> anyhow::Result<()> {
        self.stream().await?;
        let subject = subject(id);
        loop {
            let (store, lookup) = (self.store.clone(), id.clone());
            let (entries, watermark) = tokio::task::spawn_blocking(move || -> percolate_rem::Result<_> {
                let tenant = store.tenant(&lookup)?;
                Ok((tenant.outbox(PUBLISH_BATCH)?, tenant.outbox_watermark()?))
            })
            .await??;
            self.taken_below(id, watermark);
            if entries.is_empty() {
                self.metrics.set_outbox_depth(id, 0);
                return Ok(());
            }
            let mut acks = Vec::with_capacity(entries.len());
            for entry in &entries {
                let message_id = uuid::Uuid::from_slice(&entry.mutation.id).map(|u| u.to_string()).unwrap_or_else(|_| hex_id(&entry.mutation.id));
                let publish = jetstream::message::PublishMessage::build().payload(entry.mutation.encode_to_vec().into()).message_id(message_id);
                acks.push(self.context.send_publish(subject.clone(), publish).await?);
            }
            for ack in acks {
                ack.await?;
            }
            let positions: Vec<u64> = entries.iter().map(|e| e.position).collect();
            let (store, lookup) = (self.store.clone(), id.clone());
            let depth = tokio::task::spawn_blocking(move || -> percolate_rem::Result<u64> {
                let tenant = store.tenant(&lookup)?;
                tenant.remove_from_outbox(&positions)?;
                Ok(tenant.outbox_depth())
            })
            .await??;
            self.metrics.published(entries.len() as u64);
            self.metrics.set_outbox_depth(id, depth);
        }
    }

    /// Follows the tenant's log until the store closes the tenant (idle);
    /// serving it again starts a new follower from where this one stopped.
    async fn follow_forever(self: Arc<Self>, id: TenantId) {
        loop {
            match self.follow(&id).await {
                Ok(FollowEnd::Reconnected) => tracing::debug!(tenant_id = %id, "reconnected: following the replication log again"),
                Ok(FollowEnd::Closed) => {
                    self.followed.lock().remove(&id);
                    self.caught_up.lock().remove(&id);
                    self.lag.lock().remove(&id);
                    // Served again between the check and the removal: keep following.
                    if !self.store.is_open(&id) {
                        tracing::debug!(tenant_id = %id, "tenant closed: stopped following its log");
                        return;
                    }
                    self.followed.lock().insert(id.clone());
                }
                Err(error) => {
                    // Requests waiting for the catch-up are served from the
                    // copy rather than held until the log is readable.
                    if !self.caught_up_flag(&id).borrow().to_owned() {
                        tracing::warn!(tenant_id = %id, %error, "cannot read the replication log: serving this node's copy until it can");
                        self.mark_caught_up(&id);
                    }
                    tracing::debug!(tenant_id = %id, %error, "following the replication log failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Applies the tenant's log from the last sequence applied here, until
    /// NATS reconnects or the tenant is closed.
    async fn follow(&self, id: &TenantId) -> anyhow::Result<FollowEnd> {
        let stream = self.stream().await?;
        let mut restarts = self.restarts.subscribe();
        restarts.mark_unchanged();
        // Tenant lookups may wait for an open or a replacement: never on a
        // runtime thread. The copy read here is the one this consumer feeds;
        // if the store reopens the tenant from another copy (RestoreTenant),
        // the follower starts again from that copy's applied sequence.
        let (store, lookup) = (self.store.clone(), id.clone());
        let (applied, copy) = tokio::task::spawn_blocking(move || -> percolate_rem::Result<_> {
            let tenant = store.tenant(&lookup)?;
            Ok((tenant.applied_sequence()?, Arc::downgrade(&tenant)))
        })
        .await??;
        let end = self.log_end(&stream, id).await?;
        if applied >= end {
            self.mark_caught_up(id);
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subject(id),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: applied + 1 },
                // Short pulls: a pull lost with a restarted NATS server is
                // noticed (missed heartbeats) within seconds.
                max_expires: PULL_EXPIRY,
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        let mut connected = self.connected.clone();
        connected.mark_unchanged();
        let mut check_open = tokio::time::interval(OPEN_CHECK);
        loop {
            let message = tokio::select! {
                message = messages.next() => match message {
                    Some(message) => message?,
                    None => return Ok(FollowEnd::Reconnected),
                },
                changed = connected.changed() => {
                    changed?;
                    return Ok(FollowEnd::Reconnected);
                }
                changed = restarts.changed() => {
                    changed?;
                    return Ok(FollowEnd::Reconnected);
                }
                _ = check_open.tick() => {
                    if self.store.is_open(id) {
                        continue;
                    }
                    return Ok(FollowEnd::Closed);
                }
            };
            let info = message.info().map_err(|e| anyhow::anyhow!("message without JetStream info: {e}"))?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            let published = info.published;
            let mutation = Mutation::decode(message.payload.as_ref())?;
            let (store, lookup, copy) = (self.store.clone(), id.clone(), copy.clone());
            let outcome = tokio::task::spawn_blocking(move || -> percolate_rem::Result<Option<LoggedOutcome>> {
                let tenant = store.tenant(&lookup)?;
                if !std::ptr::eq(Arc::as_ptr(&tenant), copy.as_ptr()) {
                    return Ok(None);
                }
                tenant.apply_logged(&mutation, sequence).map(Some)
            })
            .await??;
            let Some(outcome) = outcome else {
                tracing::debug!(tenant_id = %id, "the tenant was reopened: following its log again from its copy");
                return Ok(FollowEnd::Reconnected);
            };
            match outcome {
                LoggedOutcome::Applied(_) => self.metrics.applied(),
                LoggedOutcome::AlreadyApplied => {}
                LoggedOutcome::Rejected(reason) => {
                    tracing::warn!(tenant_id = %id, sequence, %reason, "a replicated mutation cannot apply here; skipped");
                    self.metrics.rejected();
                }
            }
            if sequence >= end || pending == 0 {
                self.mark_caught_up(id);
            }
            let age = age_seconds(published.unix_timestamp_nanos());
            self.lag.lock().insert(id.clone(), (pending, if pending == 0 { 0.0 } else { age }));
        }
    }
}

/// Seconds since `unix_nanos` (0 for the future).
pub(crate) fn age_seconds(unix_nanos: i128) -> f64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    ((now - unix_nanos) as f64 / 1e9).max(0.0)
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
