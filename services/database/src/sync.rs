//! The `Sync` service: a tenant's replication status on this node, its
//! change feed (the tenant's log, from any sequence, optionally following
//! new changes), and snapshotting or restoring it now.

use std::sync::Arc;

use async_nats::jetstream::consumer;
use futures::StreamExt;
use futures::stream::BoxStream;
use percolate_proto::v1 as pb;
use percolate_proto::v1::sync_server::Sync;
use percolate_rem::{Mutation, RemError, TenantStore};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::changes::mutation_out;
use crate::error::DbError;
use crate::replication::{Replication, age_seconds, subject};
use crate::restore::wait_on;
use crate::snapshots::Snapshots;
use crate::tenancy::tenant_of;

/// Serves `percolate.v1.Sync`.
pub struct SyncService {
    store: Arc<TenantStore>,
    replication: Option<Arc<Replication>>,
    snapshots: Option<Arc<Snapshots>>,
    node_id: String,
}

impl SyncService {
    /// A service for this node; without replication the status and change
    /// calls, and without snapshots the snapshot calls, are
    /// `FAILED_PRECONDITION`.
    pub fn new(store: Arc<TenantStore>, replication: Option<Arc<Replication>>, snapshots: Option<Arc<Snapshots>>, node_id: String) -> Self {
        Self { store, replication, snapshots, node_id }
    }

    fn snapshots(&self) -> Result<&Arc<Snapshots>, DbError> {
        self.snapshots.as_ref().ok_or_else(|| DbError::FailedPrecondition("this node has no snapshot location (snapshots)".into()))
    }

    fn replication(&self) -> Result<&Arc<Replication>, DbError> {
        self.replication.as_ref().ok_or_else(|| DbError::FailedPrecondition("this node does not run replication (no nats_url)".into()))
    }
}

fn nats(error: impl std::fmt::Display) -> DbError {
    DbError::Unavailable(format!("replication log: {error}"))
}

/// A log message as a change event.
fn change_event(message: &async_nats::jetstream::Message) -> Result<pb::ChangeEvent, Status> {
    let sequence = message.info().map_err(nats)?.stream_sequence;
    let mutation = Mutation::decode(message.payload.as_ref()).map_err(|e| DbError::Internal(format!("undecodable log message {sequence}: {e}")))?;
    Ok(pb::ChangeEvent { sequence, mutation: Some(mutation_out(mutation)) })
}

#[tonic::async_trait]
impl Sync for SyncService {
    async fn get_replication_status(&self, request: Request<pb::GetReplicationStatusRequest>) -> Result<Response<pb::ReplicationStatus>, Status> {
        let replication = self.replication()?;
        let id = tenant_of(request.metadata())?;
        let store = self.store.clone();
        let lookup = id.clone();
        let follower = replication.clone();
        // Asking about a tenant is serving it: this node follows its log from now on.
        let (applied, outbox_depth) = tokio::task::spawn_blocking(move || -> Result<_, DbError> {
            let tenant = store.tenant(&lookup)?;
            follower.serve_tenant(&tenant);
            Ok((tenant.applied_sequence()?, tenant.outbox_depth()))
        })
        .await
        .map_err(|e| DbError::Internal(e.to_string()))??;
        let stream = replication.stream().await.map_err(nats)?;
        let subject = subject(&id);
        let log_sequence = stream.get_last_raw_message_by_subject(&subject).await.map(|m| m.sequence).unwrap_or(0);
        let (lag_messages, lag_seconds) = if log_sequence > applied {
            let consumer = stream
                .create_consumer(consumer::pull::OrderedConfig { filter_subject: subject.clone(), deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: applied + 1 }, ..Default::default() })
                .await
                .map_err(nats)?;
            let mut consumer = consumer;
            let pending = consumer.info().await.map_err(nats)?.num_pending;
            let oldest = stream.get_first_raw_message_by_subject(&subject, applied + 1).await.map_err(nats)?;
            (pending, age_seconds(oldest.time.unix_timestamp_nanos()))
        } else {
            (0, 0.0)
        };
        let last_snapshot = match &self.snapshots {
            Some(snapshots) => snapshots.newest(&id).await?,
            None => None,
        };
        Ok(Response::new(pb::ReplicationStatus { applied_sequence: applied, log_sequence, lag_messages, lag_seconds, outbox_depth, last_snapshot, node_id: self.node_id.clone() }))
    }

    type StreamChangesStream = BoxStream<'static, Result<pb::ChangeEvent, Status>>;

    async fn stream_changes(&self, request: Request<pb::StreamChangesRequest>) -> Result<Response<Self::StreamChangesStream>, Status> {
        let replication = self.replication()?;
        let id = tenant_of(request.metadata())?;
        let message = request.into_inner();
        let stream = replication.stream().await.map_err(nats)?;
        let subject = subject(&id);
        // Without `follow`, the feed ends at the log's current end.
        let end = if message.follow { u64::MAX } else { stream.get_last_raw_message_by_subject(&subject).await.map(|m| m.sequence).unwrap_or(0) };
        let start = message.from_sequence.max(1);
        if end < start {
            return Ok(Response::new(futures::stream::empty().boxed()));
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig { filter_subject: subject, deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: start }, ..Default::default() })
            .await
            .map_err(nats)?;
        let messages = consumer.messages().await.map_err(nats)?;
        // Ends right after the event at `end` (never, when following),
        // without waiting for a message that may never come.
        let events = futures::stream::unfold((messages, false), move |(mut messages, finished)| async move {
            if finished {
                return None;
            }
            let event = match messages.next().await? {
                Ok(message) => change_event(&message),
                Err(e) => Err(nats(e).into()),
            };
            let finished = event.as_ref().map_or(true, |e| e.sequence >= end);
            Some((event, (messages, finished)))
        });
        Ok(Response::new(events.boxed()))
    }

    async fn snapshot_tenant(&self, request: Request<pb::SnapshotTenantRequest>) -> Result<Response<pb::SnapshotInfo>, Status> {
        let snapshots = self.snapshots()?;
        let id = tenant_of(request.metadata())?;
        let info = snapshots.take(&id, true, true).await?.ok_or_else(|| DbError::Internal("a forced snapshot was skipped".into()))?;
        Ok(Response::new(info))
    }

    async fn restore_tenant(&self, request: Request<pb::RestoreTenantRequest>) -> Result<Response<pb::RestoreTenantResponse>, Status> {
        let snapshots = self.snapshots()?.clone();
        let id = tenant_of(request.metadata())?;
        let key = request.into_inner().object_key;
        if !key.is_empty() && (!key.starts_with("snapshots/") || percolate_objects::validate_key(&key).is_err()) {
            return Err(DbError::invalid(format!("'{}' is not a snapshot key (snapshots/<name>, as SnapshotTenant and GetReplicationStatus report)", key.escape_default())).into());
        }
        let (store, lookup, runtime) = (self.store.clone(), id.clone(), tokio::runtime::Handle::current());
        let restored = tokio::task::spawn_blocking(move || {
            store.replace(&lookup, |dir| {
                let (snapshots, id, dir) = (snapshots.clone(), lookup.clone(), dir.to_path_buf());
                let restore = async move {
                    if key.is_empty() {
                        snapshots.restore_newest(&id, &dir).await?.ok_or_else(|| DbError::Rem(RemError::NotFound(format!("tenant '{id}' has no snapshot"))))
                    } else {
                        let manifest = snapshots.restore_key(&id, &key, &dir).await?;
                        Ok((key, manifest))
                    }
                };
                wait_on(&runtime, restore).unwrap_or_else(|| Err(DbError::Internal("the restore was interrupted".into())))
            })
        })
        .await
        .map_err(|e| DbError::Internal(e.to_string()))?;
        let (key, manifest) = restored?;
        let mut replayed = 0;
        if let Some(replication) = &self.replication {
            replication.restart_follower(&id);
            let store = self.store.clone();
            let lookup = id.clone();
            let tenant = tokio::task::spawn_blocking(move || store.tenant(&lookup)).await.map_err(|e| DbError::Internal(e.to_string()))?.map_err(DbError::from)?;
            replication.catch_up(&tenant).await;
            replayed = tenant.applied_sequence().map_err(DbError::from)?.saturating_sub(manifest.sequence);
        }
        Ok(Response::new(pb::RestoreTenantResponse { snapshot: Some(manifest.info(&key)), replayed }))
    }
}
