//! The two job backends behind one type, and a delivered job.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use percolate_proto::v1::Job;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::error::Result;
use crate::local::{LocalBackend, LocalLease};
use crate::model::Envelope;
use crate::nats::{self, NatsBackend};

/// Where jobs and their records live.
#[derive(Clone)]
pub enum Backend {
    /// The embedded default: a local RocksDB queue and record store.
    Local(LocalBackend),
    /// Distributed mode: NATS JetStream and a JetStream KV bucket.
    Nats(Arc<NatsBackend>),
}

/// A job handed to a worker. Exactly one of [`Delivery::ack`] or
/// [`Delivery::release`] should end it; if the worker dies first, the job is
/// delivered again (after the ack wait with NATS, at restart locally).
pub struct Delivery {
    /// Whose job and which.
    pub envelope: Envelope,
    /// 1 for the first delivery, 2 for the first redelivery, ...
    pub attempt: u32,
    handle: Handle,
}

enum Handle {
    Local(LocalBackend, LocalLease),
    Nats(async_nats::jetstream::Message),
}

impl Delivery {
    /// The job is done (succeeded, failed for good, or cancelled).
    pub async fn ack(self) -> Result<()> {
        match &self.handle {
            Handle::Local(backend, lease) => backend.ack(lease),
            Handle::Nats(message) => nats::ack(message).await,
        }
    }

    /// The job should run again after `delay`.
    pub async fn release(self, delay: Duration) -> Result<()> {
        match &self.handle {
            Handle::Local(backend, lease) => backend.release(lease, delay),
            Handle::Nats(message) => nats::release(message, delay).await,
        }
    }

    /// The job is still being worked on (keeps JetStream from redelivering).
    pub async fn heartbeat(&self) -> Result<()> {
        match &self.handle {
            Handle::Local(..) => Ok(()),
            Handle::Nats(message) => nats::progress(message).await,
        }
    }
}

impl Backend {
    pub(crate) async fn insert(&self, tenant: &str, job: Job, idempotency: &str) -> Result<(Job, bool)> {
        match self {
            Backend::Local(local) => {
                let local = local.clone();
                let (tenant, idempotency) = (tenant.to_string(), idempotency.to_string());
                blocking(move || local.insert(&tenant, job, &idempotency)).await
            }
            Backend::Nats(nats) => nats.insert(tenant, job, idempotency).await,
        }
    }

    pub(crate) async fn get(&self, tenant: &str, id: &Uuid) -> Result<Option<Job>> {
        match self {
            Backend::Local(local) => {
                let (local, tenant, id) = (local.clone(), tenant.to_string(), *id);
                blocking(move || local.get(&tenant, &id)).await
            }
            Backend::Nats(nats) => nats.get(tenant, id).await,
        }
    }

    pub(crate) async fn update(&self, tenant: &str, id: &Uuid, mut change: impl FnMut(&mut Job) -> bool + Send + 'static) -> Result<Option<Job>> {
        match self {
            Backend::Local(local) => {
                let (local, tenant, id) = (local.clone(), tenant.to_string(), *id);
                blocking(move || local.update(&tenant, &id, &mut change)).await
            }
            Backend::Nats(nats) => nats.update(tenant, id, &mut change).await,
        }
    }

    pub(crate) async fn list(&self, tenant: &str, before: Option<Uuid>, limit: usize, keep: impl Fn(&Job) -> bool + Send + Sync + 'static) -> Result<Vec<Job>> {
        match self {
            Backend::Local(local) => {
                let (local, tenant) = (local.clone(), tenant.to_string());
                blocking(move || local.list(&tenant, before, limit, &keep)).await
            }
            Backend::Nats(nats) => nats.list(tenant, before, limit, &keep).await,
        }
    }

    /// The job's current record, then each change, as a stream.
    pub(crate) async fn watch(&self, tenant: &str, id: &Uuid) -> Result<BoxStream<'static, Result<Job>>> {
        match self {
            Backend::Local(local) => {
                // Subscribe before reading, so no change falls in between.
                let changes = local.changes();
                let current = self.get(tenant, id).await?;
                let (tenant, id) = (tenant.to_string(), id.to_string());
                // A slow watcher that lags behind still sees the next change,
                // and every change carries the whole job.
                let changes = futures::stream::unfold(changes, |mut changes| async move {
                    loop {
                        match changes.recv().await {
                            Ok(change) => return Some((change, changes)),
                            Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => return None,
                        }
                    }
                });
                let updates = changes.filter_map(move |(t, job)| {
                    let wanted = (t == tenant && job.id == id).then_some(Ok(job));
                    async move { wanted }
                });
                Ok(futures::stream::iter(current.map(Ok)).chain(updates).boxed())
            }
            Backend::Nats(nats) => Ok(nats.watch(tenant, id).await?.boxed()),
        }
    }

    /// Waits for the next job to run; None once the backend is closed.
    pub async fn next(&self) -> Result<Option<Delivery>> {
        match self {
            Backend::Local(local) => Ok(local.next().await?.map(|(envelope, attempt, lease)| Delivery { envelope, attempt, handle: Handle::Local(local.clone(), lease) })),
            Backend::Nats(nats) => Ok(nats.next().await?.map(|(envelope, attempt, message)| Delivery { envelope, attempt, handle: Handle::Nats(message) })),
        }
    }

    /// Jobs waiting or in progress on this backend's queue.
    pub async fn depth(&self) -> Result<u64> {
        match self {
            Backend::Local(local) => Ok(local.depth()),
            Backend::Nats(nats) => nats.depth().await,
        }
    }

    /// Most deliveries of one job before it is failed for good.
    pub fn max_deliveries(&self, local_default: u32) -> u32 {
        match self {
            Backend::Local(_) => local_default,
            Backend::Nats(nats) => nats.config().max_deliveries,
        }
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| crate::JobsError::Internal(format!("job store task failed: {e}")))?
}
