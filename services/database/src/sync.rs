//! The `Sync` service: a tenant's replication status on this node and its
//! change feed (the tenant's log, from any sequence, optionally following
//! new changes). Snapshots come with the snapshot work of issue 5.

use std::sync::Arc;

use async_nats::jetstream::consumer;
use futures::StreamExt;
use futures::stream::BoxStream;
use percolate_proto::v1 as pb;
use percolate_proto::v1::sync_server::Sync;
use percolate_rem::{Mutation, TenantStore};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::changes::mutation_out;
use crate::error::DbError;
use crate::replication::{Replication, age_seconds, subject};
use crate::tenancy::tenant_of;

/// Serves `percolate.v1.Sync`.
pub struct SyncService {
    store: Arc<TenantStore>,
    replication: Option<Arc<Replication>>,
    node_id: String,
}

impl SyncService {
    /// A service for this node; without replication every call is
    /// `FAILED_PRECONDITION`.
    pub fn new(store: Arc<TenantStore>, replication: Option<Arc<Replication>>, node_id: String) -> Self {
        Self { store, replication, node_id }
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
        Ok(Response::new(pb::ReplicationStatus { applied_sequence: applied, log_sequence, lag_messages, lag_seconds, outbox_depth, last_snapshot: None, node_id: self.node_id.clone() }))
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

    async fn snapshot_tenant(&self, _request: Request<pb::SnapshotTenantRequest>) -> Result<Response<pb::SnapshotInfo>, Status> {
        Err(DbError::Unimplemented("tenant snapshots to object storage are not built yet".into()).into())
    }

    async fn restore_tenant(&self, _request: Request<pb::RestoreTenantRequest>) -> Result<Response<pb::RestoreTenantResponse>, Status> {
        Err(DbError::Unimplemented("restoring a tenant from a snapshot is not built yet".into()).into())
    }
}
