//! One tenant's database: a RocksDB instance, its in-memory vector index and
//! the write path that stamps, validates and applies mutations.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rocksdb::{DB, IteratorMode, WriteOptions};
use uuid::Uuid;

use crate::apply::{ApplyReport, VectorChange, apply};
use crate::error::{RemError, Result};
use crate::keys::{Cf, META_COUNTERS, META_EMBEDDING_MODEL};
use crate::replication::{Bookkeeping, OutboxState};
use crate::model::Counters;
use crate::mutation::{Mutation, Op};
use crate::stamp::{HybridClock, Stamp};
use crate::store::TenantOptions;
use crate::tenant_id::TenantId;
use crate::txn::{BatchTxn, decode, handle};
use crate::validate::validate_op;
use crate::vectors::VectorIndex;

/// Context a tenant shares with the rest of the node.
#[derive(Clone)]
pub struct NodeContext {
    /// This node's id, part of every stamp it makes.
    pub node_id: Arc<str>,
    /// The node's hybrid logical clock.
    pub clock: Arc<HybridClock>,
    /// Fsync the write-ahead log before acknowledging a write.
    pub sync_writes: bool,
    /// With replication: the most mutations a tenant's outbox may hold.
    pub outbox: Option<u64>,
    /// With replication: the largest encoded mutation the log takes (its
    /// message size limit).
    pub max_mutation_bytes: usize,
}

/// What a local write did: the mutation (as it will be replicated) and the
/// report of applying it.
#[derive(Debug)]
pub struct WriteOutcome {
    /// The mutation that was applied.
    pub mutation: Mutation,
    /// What applying it changed.
    pub report: ApplyReport,
}

/// An open tenant database.
pub struct Tenant {
    id: TenantId,
    pub(crate) db: DB,
    pub(crate) vectors: RwLock<VectorIndex>,
    pub(crate) write_lock: Mutex<()>,
    pub(crate) node: NodeContext,
    pub(crate) outbox: OutboxState,
    opened_in: Duration,
}

impl Tenant {
    /// Opens (creating if needed) the tenant database at `path`.
    pub(crate) fn open(id: TenantId, path: &Path, options: &TenantOptions, node: NodeContext) -> Result<Self> {
        let started = Instant::now();
        let db = DB::open_cf_descriptors(&options.db, path, options.descriptors())?;
        let vectors = load_vectors(&db)?;
        let outbox = OutboxState::load(&db)?;
        let opened_in = started.elapsed();
        tracing::debug!(tenant_id = %id, vectors = vectors.len(), ?opened_in, "tenant opened");
        Ok(Self { id, db, vectors: RwLock::new(vectors), write_lock: Mutex::new(()), node, outbox, opened_in })
    }

    /// The tenant's id.
    pub fn id(&self) -> &TenantId {
        &self.id
    }

    /// How long opening the tenant took (including loading its vectors).
    pub fn opened_in(&self) -> Duration {
        self.opened_in
    }

    /// Validates a client's change, stamps it with this node's clock and
    /// applies it. Returns once it is committed to the write-ahead log.
    pub fn write(&self, op: Op) -> Result<WriteOutcome> {
        let _serialised = self.write_lock.lock();
        if let Some(max) = self.node.outbox {
            let depth = self.outbox_depth();
            if depth >= max {
                return Err(RemError::Unavailable(format!("the replication log has not taken this tenant's last {depth} writes (outbox full): retry later")));
            }
        }
        validate_op(self, &op)?;
        let stamp = Stamp::new(self.node.clock.now(), self.node.node_id.as_ref());
        let mutation = Mutation { id: Uuid::now_v7().as_bytes().to_vec(), stamp: Some(stamp), op: Some(op) };
        if self.node.outbox.is_some() {
            let size = prost::Message::encoded_len(&mutation);
            if size > self.node.max_mutation_bytes {
                return Err(RemError::invalid(format!(
                    "this write is {size} bytes encoded, over the {} bytes the replication log takes per write: split it into smaller batches",
                    self.node.max_mutation_bytes
                )));
            }
        }
        let bookkeeping = if self.node.outbox.is_some() { Bookkeeping::Outbox } else { Bookkeeping::None };
        let report = self.commit(&mutation, bookkeeping)?;
        Ok(WriteOutcome { mutation, report })
    }

    /// Applies a mutation made elsewhere (replication) or again (replay).
    /// Idempotent and order-independent.
    pub fn apply_mutation(&self, mutation: &Mutation) -> Result<ApplyReport> {
        let _serialised = self.write_lock.lock();
        if let Some(stamp) = &mutation.stamp {
            self.node.clock.observe(stamp.hlc);
        }
        self.commit(mutation, Bookkeeping::None)
    }

    /// Applies `mutation` in one `WriteBatch` (with its replication
    /// bookkeeping), then updates the vector index. Callers hold the write
    /// lock.
    pub(crate) fn commit(&self, mutation: &Mutation, bookkeeping: Bookkeeping) -> Result<ApplyReport> {
        let mut txn = BatchTxn::new(&self.db);
        let mut report = apply(&mut txn, mutation)?;
        // A mutation from the log is durable there: a machine crash that
        // loses its unsynced apply loses its applied sequence with it, and
        // the follower fetches it again. Only local writes wait for fsync.
        let sync = self.node.sync_writes && !matches!(bookkeeping, Bookkeeping::Applied(_));
        let enqueued = self.record(&mut txn, mutation, bookkeeping);
        let batch = txn.into_batch()?;
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(batch, &options)?;
        if enqueued {
            self.outbox.enqueued();
        }
        let mut index = self.vectors.write();
        if let Some(dim) = report.new_dimension {
            index.set_dimension(dim as usize);
        }
        for change in report.vector_changes.drain(..) {
            match change {
                VectorChange::Upsert(id, row) => index.upsert(id, row)?,
                VectorChange::Remove(id) => index.remove(id),
            }
        }
        Ok(report)
    }

    /// Live-row counters.
    pub fn counters(&self) -> Result<Counters> {
        read_counters(&self.db)
    }

    /// Dimension of the tenant's vectors (0 before the first).
    pub fn dimension(&self) -> usize {
        self.vectors.read().dimension()
    }

    /// The embedding model recorded for this tenant's vectors, if any.
    pub fn embedding_model(&self) -> Result<Option<String>> {
        let raw = self.db.get_cf(handle(&self.db, Cf::Meta)?, META_EMBEDDING_MODEL)?;
        Ok(raw.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Bytes the tenant's files occupy on disk: tables, write-ahead log and
    /// metadata (a tenant whose writes are still in memtables has them in
    /// its log).
    pub fn disk_bytes(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(self.db.path()) else { return 0 };
        entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
    }

    /// Every key and value of every column family but the node-local
    /// replication bookkeeping, in order: the tenant's whole state, for
    /// comparing replicas.
    pub fn dump(&self) -> Result<Vec<(&'static str, Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for cf in Cf::ALL.into_iter().filter(|cf| *cf != Cf::Replication) {
            for item in self.db.iterator_cf(handle(&self.db, cf)?, IteratorMode::Start) {
                let (key, value) = item?;
                out.push((cf.name(), key.to_vec(), value.to_vec()));
            }
        }
        Ok(out)
    }

    /// Flushes memtables so the next open replays no log.
    pub(crate) fn flush(&self) {
        if let Err(error) = self.db.flush() {
            tracing::warn!(tenant_id = %self.id, %error, "flush on close failed");
        }
    }
}

fn read_counters(db: &DB) -> Result<Counters> {
    let raw = db.get_cf(handle(db, Cf::Meta)?, META_COUNTERS)?;
    raw.map(|bytes| decode(Cf::Meta, &bytes)).transpose().map(Option::unwrap_or_default)
}

fn load_vectors(db: &DB) -> Result<VectorIndex> {
    let dim = crate::apply::read_dimension(&BatchTxn::new(db))?;
    let expected = read_counters(db)?.embedded;
    let mut index = VectorIndex::with_capacity(dim as usize, expected as usize);
    let mut options = rocksdb::ReadOptions::default();
    options.set_readahead_size(4 << 20);
    options.fill_cache(false);
    for item in db.iterator_cf_opt(handle(db, Cf::Vectors)?, options, IteratorMode::Start) {
        let (key, value) = item?;
        let id = crate::keys::id_at(&key, 0).ok_or(RemError::Corrupt { cf: "vectors", detail: "key is not an id".into() })?;
        index.upsert(id, decode(Cf::Vectors, &value)?)?;
    }
    Ok(index)
}
