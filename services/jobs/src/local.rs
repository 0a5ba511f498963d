//! The embedded default's job backend: one RocksDB (`<data>/jobs`) holding
//! job records, idempotency keys and a durable queue.
//!
//! A submit writes the record, its idempotency key and the queue entry in one
//! synced `WriteBatch`, so a job is either wholly submitted or not at all.
//! Queue entries stay on disk until acknowledged; leases live in memory, so
//! after a crash or restart every unacknowledged job is delivered again.
//! Each delivery is counted on disk before the job is handed out, so a job
//! that keeps crashing its worker still runs out of attempts.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use percolate_proto::v1::Job;
use prost::Message;
use rocksdb::{ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::error::{JobsError, Result};
use crate::model::Envelope;

const RECORDS: &str = "records";
const IDEMPOTENCY: &str = "idempotency";
const QUEUE: &str = "queue";

/// A queue entry: the envelope plus its delivery bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Queued {
    envelope: Envelope,
    /// Deliveries so far (the next one is `deliveries + 1`).
    deliveries: u32,
    /// Not deliverable before this instant (milliseconds since the epoch).
    not_before_ms: u64,
}

#[derive(Default)]
struct QueueState {
    entries: BTreeMap<u64, Queued>,
    leased: HashSet<u64>,
    next_seq: u64,
    closed: bool,
}

/// The local backend. Cheap to clone.
#[derive(Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    queue: Mutex<QueueState>,
    wake: Notify,
    changes: broadcast::Sender<(String, Job)>,
}

/// One handed-out queue entry of the local backend.
#[derive(Debug, Clone)]
pub struct LocalLease {
    seq: u64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

fn record_key(tenant: &str, id: &Uuid) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Tenant ids never contain a zero byte, so `tenant + 0` is a prefix no
/// other tenant's keys share.
fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut key = tenant.as_bytes().to_vec();
    key.push(0);
    key
}

fn idempotency_key(tenant: &str, key: &str) -> Vec<u8> {
    let mut out = tenant_prefix(tenant);
    out.extend_from_slice(key.as_bytes());
    out
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

fn decode_job(bytes: &[u8]) -> Result<Job> {
    Job::decode(bytes).map_err(|e| JobsError::Corrupt(e.to_string()))
}

impl LocalBackend {
    /// Opens (or creates) the job database at `path` and loads the queue.
    pub fn open(path: &Path) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(1);
        let families = [RECORDS, IDEMPOTENCY, QUEUE].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let mut state = QueueState::default();
        {
            let cf = db.cf_handle(QUEUE).ok_or_else(|| JobsError::Internal("queue column family missing".into()))?;
            for item in db.iterator_cf(&cf, IteratorMode::Start) {
                let (key, value) = item?;
                let seq = u64::from_be_bytes(key.as_ref().try_into().map_err(|_| JobsError::Corrupt("queue key".into()))?);
                let queued: Queued = serde_json::from_slice(&value).map_err(|e| JobsError::Corrupt(format!("queue entry {seq}: {e}")))?;
                state.next_seq = state.next_seq.max(seq + 1);
                state.entries.insert(seq, queued);
            }
        }
        let (changes, _) = broadcast::channel(1024);
        Ok(Self { inner: Arc::new(Inner { db, queue: Mutex::new(state), wake: Notify::new(), changes }) })
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.inner.db.cf_handle(name).ok_or_else(|| JobsError::Internal(format!("column family {name} missing")))
    }

    /// Stores a new job and queues it, unless `idempotency_key` already names
    /// a job: then that job is returned and nothing is written. The flag
    /// says whether the job was created.
    pub fn insert(&self, tenant: &str, job: Job, idempotency: &str) -> Result<(Job, bool)> {
        let id = Uuid::parse_str(&job.id).map_err(|e| JobsError::Internal(e.to_string()))?;
        // One submit at a time decides "exists or create" for a key.
        let mut queue = self.inner.queue.lock();
        if !idempotency.is_empty() {
            let existing = self.inner.db.get_cf(&self.cf(IDEMPOTENCY)?, idempotency_key(tenant, idempotency))?;
            if let Some(existing) = existing {
                let existing_id = Uuid::from_slice(&existing).map_err(|e| JobsError::Corrupt(e.to_string()))?;
                let job = self.get(tenant, &existing_id)?.ok_or_else(|| JobsError::Corrupt(format!("idempotency key points at missing job {existing_id}")))?;
                return Ok((job, false));
            }
        }
        let seq = queue.next_seq;
        let queued = Queued { envelope: Envelope { tenant: tenant.to_string(), job_id: job.id.clone() }, deliveries: 0, not_before_ms: 0 };
        let mut batch = WriteBatch::default();
        batch.put_cf(&self.cf(RECORDS)?, record_key(tenant, &id), job.encode_to_vec());
        if !idempotency.is_empty() {
            batch.put_cf(&self.cf(IDEMPOTENCY)?, idempotency_key(tenant, idempotency), id.as_bytes());
        }
        batch.put_cf(&self.cf(QUEUE)?, seq.to_be_bytes(), serde_json::to_vec(&queued).map_err(|e| JobsError::Internal(e.to_string()))?);
        self.inner.db.write_opt(batch, &synced())?;
        queue.next_seq += 1;
        queue.entries.insert(seq, queued);
        drop(queue);
        self.inner.wake.notify_waiters();
        let _ = self.inner.changes.send((tenant.to_string(), job.clone()));
        Ok((job, true))
    }

    /// Reads one job.
    pub fn get(&self, tenant: &str, id: &Uuid) -> Result<Option<Job>> {
        self.inner.db.get_cf(&self.cf(RECORDS)?, record_key(tenant, id))?.map(|b| decode_job(&b)).transpose()
    }

    /// Applies `change` to a job atomically; `change` returns false to leave
    /// it as it is. Returns the job after the change, or None if absent.
    pub fn update(&self, tenant: &str, id: &Uuid, change: &mut dyn FnMut(&mut Job) -> bool) -> Result<Option<Job>> {
        let _guard = self.inner.queue.lock();
        let Some(mut job) = self.get(tenant, id)? else { return Ok(None) };
        if change(&mut job) {
            self.inner.db.put_cf_opt(&self.cf(RECORDS)?, record_key(tenant, id), job.encode_to_vec(), &synced())?;
            let _ = self.inner.changes.send((tenant.to_string(), job.clone()));
        }
        Ok(Some(job))
    }

    /// Up to `limit` of the tenant's jobs older than `before` (all when
    /// None), newest first, keeping those `keep` accepts.
    pub fn list(&self, tenant: &str, before: Option<Uuid>, limit: usize, keep: &dyn Fn(&Job) -> bool) -> Result<Vec<Job>> {
        let prefix = tenant_prefix(tenant);
        let start = match before {
            Some(id) => record_key(tenant, &id),
            None => record_key(tenant, &Uuid::max()),
        };
        let cf = self.cf(RECORDS)?;
        let mut jobs = Vec::new();
        for item in self.inner.db.iterator_cf(&cf, IteratorMode::From(&start, Direction::Reverse)) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            if key.as_ref() == start.as_slice() {
                continue;
            }
            let job = decode_job(&value)?;
            if keep(&job) {
                jobs.push(job);
                if jobs.len() >= limit {
                    break;
                }
            }
        }
        Ok(jobs)
    }

    /// Every change of any job from now on.
    pub fn changes(&self) -> broadcast::Receiver<(String, Job)> {
        self.inner.changes.subscribe()
    }

    /// Waits for the next deliverable entry, counts the delivery on disk and
    /// leases it. Returns None once the queue is closed.
    pub async fn next(&self) -> Result<Option<(Envelope, u32, LocalLease)>> {
        loop {
            let notified = self.inner.wake.notified();
            let wait = {
                let mut queue = self.inner.queue.lock();
                if queue.closed {
                    return Ok(None);
                }
                let now = now_ms();
                let ready = queue.entries.iter().find(|(seq, q)| !queue.leased.contains(*seq) && q.not_before_ms <= now).map(|(seq, q)| (*seq, q.clone()));
                if let Some((seq, mut queued)) = ready {
                    queued.deliveries += 1;
                    let bytes = serde_json::to_vec(&queued).map_err(|e| JobsError::Internal(e.to_string()))?;
                    self.inner.db.put_cf_opt(&self.cf(QUEUE)?, seq.to_be_bytes(), bytes, &synced())?;
                    queue.leased.insert(seq);
                    let deliveries = queued.deliveries;
                    let envelope = queued.envelope.clone();
                    queue.entries.insert(seq, queued);
                    return Ok(Some((envelope, deliveries, LocalLease { seq })));
                }
                let earliest = queue.entries.iter().filter(|(seq, _)| !queue.leased.contains(*seq)).map(|(_, q)| q.not_before_ms).min();
                earliest.map(|t| Duration::from_millis(t.saturating_sub(now).max(1)))
            };
            match wait {
                Some(delay) => {
                    let _ = tokio::time::timeout(delay, notified).await;
                }
                None => notified.await,
            }
        }
    }

    /// Removes a finished entry from the queue.
    pub fn ack(&self, lease: &LocalLease) -> Result<()> {
        let mut queue = self.inner.queue.lock();
        self.inner.db.delete_cf_opt(&self.cf(QUEUE)?, lease.seq.to_be_bytes(), &synced())?;
        queue.entries.remove(&lease.seq);
        queue.leased.remove(&lease.seq);
        Ok(())
    }

    /// Hands an entry back to the queue, deliverable again after `delay`.
    pub fn release(&self, lease: &LocalLease, delay: Duration) -> Result<()> {
        let mut queue = self.inner.queue.lock();
        if let Some(mut queued) = queue.entries.get(&lease.seq).cloned() {
            queued.not_before_ms = now_ms() + delay.as_millis() as u64;
            let bytes = serde_json::to_vec(&queued).map_err(|e| JobsError::Internal(e.to_string()))?;
            self.inner.db.put_cf_opt(&self.cf(QUEUE)?, lease.seq.to_be_bytes(), bytes, &synced())?;
            queue.entries.insert(lease.seq, queued);
        }
        queue.leased.remove(&lease.seq);
        drop(queue);
        self.inner.wake.notify_waiters();
        Ok(())
    }

    /// Entries waiting or in progress: the queue's lag.
    pub fn depth(&self) -> u64 {
        self.inner.queue.lock().entries.len() as u64
    }

    /// Stops handing out entries; waiting `next` calls return None.
    pub fn close(&self) {
        self.inner.queue.lock().closed = true;
        self.inner.wake.notify_waiters();
    }
}
