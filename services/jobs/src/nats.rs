//! The distributed job backend: NATS JetStream for the queue, a JetStream
//! key-value bucket for the records.
//!
//! Queue: stream `PERCOLATE_JOBS` (work-queue retention, file storage,
//! subjects `percolate.jobs.>`), one subject per tier
//! (`percolate.jobs.<tier>`), a durable pull consumer per tier with explicit
//! acks. Each publish carries `Nats-Msg-Id` = job id, so a retried submit is
//! de-duplicated by the server. Records: bucket `percolate_jobs`, keys
//! `job.<tenant>.<id>` (updated with compare-and-set on the revision) and
//! `idem.<tenant>.<uuid v5 of the key>` (created only if absent).

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, kv, stream};
use futures::{Stream, StreamExt, TryStreamExt};
use percolate_proto::v1::Job;
use prost::Message;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::error::{JobsError, Result};
use crate::model::Envelope;

/// Where and how to reach JetStream.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsConfig {
    /// Server URL(s), comma separated, for example `nats://127.0.0.1:4222`.
    pub url: String,
    /// The tier whose queue this process uses (`small`, `medium`, `large`).
    pub tier: String,
    /// Stream replicas (3 in production, 1 for a single server).
    pub replicas: usize,
    /// How long a delivery may go without an ack or progress before
    /// JetStream delivers it again.
    pub ack_wait: Duration,
    /// Most deliveries of one job (the last one only records the failure).
    pub max_deliveries: u32,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self { url: "nats://127.0.0.1:4222".into(), tier: "small".into(), replicas: 1, ack_wait: Duration::from_secs(30), max_deliveries: 4 }
    }
}

/// Name of the job stream.
pub const STREAM: &str = "PERCOLATE_JOBS";
/// Name of the job-record bucket.
pub const BUCKET: &str = "percolate_jobs";

/// The JetStream backend.
pub struct NatsBackend {
    context: jetstream::Context,
    records: kv::Store,
    config: NatsConfig,
    subject: String,
    messages: Mutex<Option<consumer::pull::Stream>>,
    consumer_name: String,
}

fn job_key(tenant: &str, id: &Uuid) -> String {
    format!("job.{tenant}.{id}")
}

fn idempotency_key(tenant: &str, key: &str) -> String {
    format!("idem.{tenant}.{}", Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes()))
}

fn decode_job(bytes: &[u8]) -> Result<Job> {
    Job::decode(bytes).map_err(|e| JobsError::Corrupt(e.to_string()))
}

impl NatsBackend {
    /// Connects and makes sure the stream, the bucket and this tier's
    /// consumer exist with the intended settings.
    pub async fn connect(config: NatsConfig) -> Result<Self> {
        if config.tier.is_empty() || !config.tier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(JobsError::invalid(format!("tier '{}' must be letters, digits, '-' or '_'", config.tier)));
        }
        let client = async_nats::ConnectOptions::new()
            .name("percolate-jobs")
            .connect(config.url.split(',').map(str::trim).collect::<Vec<_>>())
            .await
            .map_err(|e| JobsError::Nats(format!("cannot connect to {}: {e}", config.url)))?;
        let context = jetstream::new(client);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: STREAM.to_string(),
                description: Some("Percolate background jobs, one subject per tier".into()),
                subjects: vec!["percolate.jobs.>".to_string()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                duplicate_window: Duration::from_secs(120),
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(JobsError::nats)?;
        let records = context
            .create_key_value(kv::Config {
                bucket: BUCKET.to_string(),
                description: "Percolate job records".into(),
                history: 1,
                storage: stream::StorageType::File,
                num_replicas: config.replicas,
                ..Default::default()
            })
            .await
            .map_err(JobsError::nats)?;
        let subject = format!("percolate.jobs.{}", config.tier);
        let consumer_name = format!("percolate-workers-{}", config.tier);
        stream
            .get_or_create_consumer(
                &consumer_name,
                consumer::pull::Config {
                    durable_name: Some(consumer_name.clone()),
                    description: Some(format!("workers of tier {}", config.tier)),
                    filter_subject: subject.clone(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_deliver: i64::from(config.max_deliveries),
                    ..Default::default()
                },
            )
            .await
            .map_err(JobsError::nats)?;
        Ok(Self { context, records, config, subject, messages: Mutex::new(None), consumer_name })
    }

    /// The settings this backend runs with.
    pub fn config(&self) -> &NatsConfig {
        &self.config
    }

    /// Stores a new job and publishes it, unless `idempotency` already names
    /// a job. The idempotency key is claimed first: a crash after the claim
    /// leaves a key whose next submit writes the record and publishes (the
    /// publish is de-duplicated by job id).
    pub async fn insert(&self, tenant: &str, job: Job, idempotency: &str) -> Result<(Job, bool)> {
        let mut job = job;
        let mut created = true;
        if !idempotency.is_empty() {
            let key = idempotency_key(tenant, idempotency);
            match self.records.create(&key, job.id.clone().into()).await {
                Ok(_) => {}
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let existing = self.records.get(&key).await.map_err(JobsError::nats)?.ok_or_else(|| JobsError::Nats("idempotency key vanished".into()))?;
                    let existing_id = Uuid::try_parse_ascii(&existing).map_err(|e| JobsError::Corrupt(e.to_string()))?;
                    if let Some(found) = self.get(tenant, &existing_id).await? {
                        if found.state == percolate_proto::v1::JobState::Queued as i32 {
                            self.publish(tenant, &found.id).await?;
                        }
                        return Ok((found, false));
                    }
                    job.id = existing_id.to_string();
                    created = false;
                }
                Err(e) => return Err(JobsError::nats(e)),
            }
        }
        let id = Uuid::parse_str(&job.id).map_err(|e| JobsError::Internal(e.to_string()))?;
        self.records.put(job_key(tenant, &id), job.encode_to_vec().into()).await.map_err(JobsError::nats)?;
        self.publish(tenant, &job.id).await?;
        Ok((job, created))
    }

    async fn publish(&self, tenant: &str, job_id: &str) -> Result<()> {
        let envelope = Envelope { tenant: tenant.to_string(), job_id: job_id.to_string() };
        let publish = jetstream::message::PublishMessage::build().payload(envelope.encode().into()).message_id(job_id);
        let ack = self.context.send_publish(self.subject.clone(), publish).await.map_err(JobsError::nats)?;
        ack.await.map_err(JobsError::nats)?;
        Ok(())
    }

    /// Reads one job.
    pub async fn get(&self, tenant: &str, id: &Uuid) -> Result<Option<Job>> {
        let value = self.records.get(job_key(tenant, id)).await.map_err(JobsError::nats)?;
        value.map(|b| decode_job(&b)).transpose()
    }

    /// Applies `change` with compare-and-set, retrying when another writer
    /// got there first.
    pub async fn update(&self, tenant: &str, id: &Uuid, change: &mut (dyn FnMut(&mut Job) -> bool + Send)) -> Result<Option<Job>> {
        let key = job_key(tenant, id);
        for _ in 0..32 {
            let Some(entry) = self.records.entry(key.clone()).await.map_err(JobsError::nats)? else { return Ok(None) };
            if entry.operation != kv::Operation::Put {
                return Ok(None);
            }
            let mut job = decode_job(&entry.value)?;
            if !change(&mut job) {
                return Ok(Some(job));
            }
            match self.records.update(&key, job.encode_to_vec().into(), entry.revision).await {
                Ok(_) => return Ok(Some(job)),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(JobsError::nats(e)),
            }
        }
        Err(JobsError::Nats(format!("job {id} kept changing under 32 compare-and-set attempts")))
    }

    /// Up to `limit` of the tenant's jobs older than `before`, newest first.
    /// Lists the tenant's keys through the stream's subject index, then
    /// reads only the page.
    pub async fn list(&self, tenant: &str, before: Option<Uuid>, limit: usize, keep: &(dyn Fn(&Job) -> bool + Sync)) -> Result<Vec<Job>> {
        let prefix = format!("$KV.{BUCKET}.job.{tenant}.");
        let stream = self.records.stream.clone();
        let subjects: Vec<(String, usize)> = stream.info_with_subjects(format!("{prefix}*")).await.map_err(JobsError::nats)?.try_collect().await.map_err(JobsError::nats)?;
        let mut ids: Vec<Uuid> = subjects.iter().filter_map(|(s, _)| s.strip_prefix(&prefix)).filter_map(|s| Uuid::parse_str(s).ok()).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut jobs = Vec::new();
        for id in ids.into_iter().filter(|id| before.is_none_or(|b| *id < b)) {
            if let Some(job) = self.get(tenant, &id).await? {
                if keep(&job) {
                    jobs.push(job);
                    if jobs.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(jobs)
    }

    /// The job's current record, then every change to it.
    pub async fn watch(&self, tenant: &str, id: &Uuid) -> Result<impl Stream<Item = Result<Job>> + Send + 'static> {
        let watch = self.records.watch_with_history(job_key(tenant, id)).await.map_err(JobsError::nats)?;
        Ok(watch.filter_map(|entry| async move {
            match entry {
                Ok(entry) if entry.operation == kv::Operation::Put => Some(decode_job(&entry.value)),
                Ok(_) => None,
                Err(e) => Some(Err(JobsError::nats(e))),
            }
        }))
    }

    /// The next job delivered to this tier's consumer, with its delivery
    /// count. Waits until one arrives.
    pub async fn next(&self) -> Result<Option<(Envelope, u32, jetstream::Message)>> {
        let mut messages = self.messages.lock().await;
        loop {
            if messages.is_none() {
                let stream = self.context.get_stream(STREAM).await.map_err(JobsError::nats)?;
                let consumer: consumer::PullConsumer = stream.get_consumer(&self.consumer_name).await.map_err(JobsError::nats)?;
                // One message per pull: a prefetched job would sit in this
                // process's buffer with its ack timer running.
                *messages = Some(consumer.stream().max_messages_per_batch(1).messages().await.map_err(JobsError::nats)?);
            }
            let Some(stream) = messages.as_mut() else { continue };
            match stream.next().await {
                Some(Ok(message)) => {
                    let delivered = message.info().map(|i| i.delivered).unwrap_or(1).max(1) as u32;
                    match Envelope::decode(&message.payload) {
                        Ok(envelope) => return Ok(Some((envelope, delivered, message))),
                        Err(e) => {
                            tracing::error!(error = %e, "dropping an undecodable job message");
                            let _ = message.ack_with(AckKind::Term).await;
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "job consumer stream error; reconnecting");
                    *messages = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => *messages = None,
            }
        }
    }

    /// Messages waiting for this tier's workers (the consumer's lag).
    pub async fn depth(&self) -> Result<u64> {
        let stream = self.context.get_stream(STREAM).await.map_err(JobsError::nats)?;
        let mut consumer: consumer::PullConsumer = stream.get_consumer(&self.consumer_name).await.map_err(JobsError::nats)?;
        let info = consumer.info().await.map_err(JobsError::nats)?;
        Ok(info.num_pending + info.num_ack_pending as u64)
    }
}

/// Acknowledges a message (and waits for the server to confirm).
pub async fn ack(message: &jetstream::Message) -> Result<()> {
    message.double_ack().await.map_err(JobsError::nats)
}

/// Tells JetStream the job is still being worked on.
pub async fn progress(message: &jetstream::Message) -> Result<()> {
    message.ack_with(AckKind::Progress).await.map_err(JobsError::nats)
}

/// Hands the message back for redelivery after `delay`.
pub async fn release(message: &jetstream::Message, delay: Duration) -> Result<()> {
    message.ack_with(AckKind::Nak(Some(delay))).await.map_err(JobsError::nats)
}

