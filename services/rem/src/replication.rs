//! A tenant's node-local replication bookkeeping, in the `replication`
//! column family (never part of the replicated state):
//!
//! - `o | position (u64 BE)` -> an encoded [`Mutation`]: the outbox of local
//!   writes the log has not acknowledged yet, written in the same
//!   `WriteBatch` as the write itself, removed only after the log's ack;
//! - `applied` -> u64 BE: the last log sequence applied to this copy,
//!   written in the same `WriteBatch` as the mutation it applied, so a
//!   replayed or redelivered message changes nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;
use rocksdb::{DB, WriteBatch, WriteOptions};

use crate::apply::ApplyReport;
use crate::error::{RemError, Result};
use crate::keys::Cf;
use crate::mutation::Mutation;
use crate::tenant::Tenant;
use crate::txn::{BatchTxn, handle};

/// First byte of outbox keys.
const OUTBOX: u8 = b'o';
/// Key of the last applied log sequence.
const APPLIED: &[u8] = b"applied";

/// What a commit records besides the mutation.
pub(crate) enum Bookkeeping {
    /// Nothing (no replication).
    None,
    /// A local write: queue it for the log.
    Outbox,
    /// A write from the log at this sequence: remember it was applied.
    Applied(u64),
}

/// The outbox's next position and depth, kept in memory.
pub(crate) struct OutboxState {
    next: AtomicU64,
    depth: AtomicU64,
}

impl OutboxState {
    /// Reads the outbox's extent on open.
    pub(crate) fn load(db: &DB) -> Result<Self> {
        let (mut depth, mut last) = (0u64, None);
        for item in db.prefix_iterator_cf(handle(db, Cf::Replication)?, [OUTBOX]) {
            let (key, _) = item?;
            if key.first() != Some(&OUTBOX) {
                break;
            }
            last = Some(position_of(&key)?);
            depth += 1;
        }
        Ok(Self { next: AtomicU64::new(last.map_or(0, |p| p + 1)), depth: AtomicU64::new(depth) })
    }

    pub(crate) fn enqueued(&self) {
        self.depth.fetch_add(1, Ordering::Relaxed);
    }
}

fn outbox_key(position: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(OUTBOX);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn position_of(key: &[u8]) -> Result<u64> {
    let raw: [u8; 8] = key.get(1..9).and_then(|b| b.try_into().ok()).ok_or(RemError::Corrupt { cf: "replication", detail: "outbox key is not 9 bytes".into() })?;
    Ok(u64::from_be_bytes(raw))
}

/// A local mutation waiting for the log.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    /// Its place in the outbox.
    pub position: u64,
    /// The mutation.
    pub mutation: Mutation,
}

/// What applying a message of the log did.
#[derive(Debug)]
pub enum LoggedOutcome {
    /// The mutation was applied (it may have changed nothing: it was older
    /// than the state, or this node's own write coming back).
    Applied(ApplyReport),
    /// The sequence was applied before (a redelivery or a replay).
    AlreadyApplied,
    /// The mutation cannot apply here (for example a vector of another
    /// dimension than this copy's); the sequence is recorded so the log
    /// moves on.
    Rejected(String),
}

impl Tenant {
    /// Adds the bookkeeping of `mutation` to its batch; true when it was
    /// queued in the outbox.
    pub(crate) fn record(&self, txn: &mut BatchTxn<'_>, mutation: &Mutation, bookkeeping: Bookkeeping) -> bool {
        match bookkeeping {
            Bookkeeping::None => false,
            Bookkeeping::Outbox => {
                let position = self.outbox.next.fetch_add(1, Ordering::Relaxed);
                txn.put(Cf::Replication, outbox_key(position), mutation.encode_to_vec());
                true
            }
            Bookkeeping::Applied(sequence) => {
                txn.put(Cf::Replication, APPLIED.to_vec(), sequence.to_be_bytes().to_vec());
                false
            }
        }
    }

    /// Local mutations the log has not acknowledged yet.
    pub fn outbox_depth(&self) -> u64 {
        self.outbox.depth.load(Ordering::Relaxed)
    }

    /// Up to `limit` outbox entries, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for item in self.db.prefix_iterator_cf(handle(&self.db, Cf::Replication)?, [OUTBOX]) {
            let (key, value) = item?;
            if key.first() != Some(&OUTBOX) || out.len() == limit {
                break;
            }
            let mutation = Mutation::decode(value.as_ref()).map_err(|e| RemError::Corrupt { cf: "replication", detail: format!("outbox entry: {e}") })?;
            out.push(OutboxEntry { position: position_of(&key)?, mutation });
        }
        Ok(out)
    }

    /// Removes entries the log has acknowledged. (Not fsynced: an entry
    /// that comes back after a crash is published again and de-duplicated
    /// by the log on its mutation id.)
    pub fn remove_from_outbox(&self, positions: &[u64]) -> Result<()> {
        let cf = handle(&self.db, Cf::Replication)?;
        let mut batch = WriteBatch::default();
        for position in positions {
            batch.delete_cf(cf, outbox_key(*position));
        }
        self.db.write_opt(batch, &WriteOptions::default())?;
        let removed = positions.len() as u64;
        let _ = self.outbox.depth.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| Some(d.saturating_sub(removed)));
        Ok(())
    }

    /// The position the next local write will take in the outbox: every
    /// write acknowledged so far has a lower one.
    pub fn outbox_next_position(&self) -> u64 {
        self.outbox.next.load(Ordering::Relaxed)
    }

    /// Every outbox position below the returned one has been taken by the
    /// log: the first position still waiting, or the next one when the
    /// outbox is empty. Read under the write lock, so a write in progress
    /// is never counted as taken.
    pub fn outbox_watermark(&self) -> Result<u64> {
        let _serialised = self.write_lock.lock();
        Ok(match self.outbox(1)?.first() {
            Some(entry) => entry.position,
            None => self.outbox_next_position(),
        })
    }

    /// The last log sequence applied to this copy (0 before any).
    pub fn applied_sequence(&self) -> Result<u64> {
        match self.db.get_cf(handle(&self.db, Cf::Replication)?, APPLIED)? {
            None => Ok(0),
            Some(raw) => {
                let raw: [u8; 8] = raw.as_slice().try_into().map_err(|_| RemError::Corrupt { cf: "replication", detail: "applied sequence is not 8 bytes".into() })?;
                Ok(u64::from_be_bytes(raw))
            }
        }
    }

    /// Applies the log's message at `sequence`, exactly once: the sequence
    /// is recorded in the same batch, and sequences already applied are
    /// skipped.
    pub fn apply_logged(&self, mutation: &Mutation, sequence: u64) -> Result<LoggedOutcome> {
        let _serialised = self.write_lock.lock();
        if sequence <= self.applied_sequence()? {
            return Ok(LoggedOutcome::AlreadyApplied);
        }
        if let Some(stamp) = &mutation.stamp {
            self.node.clock.observe(stamp.hlc);
        }
        match self.commit(mutation, Bookkeeping::Applied(sequence)) {
            Ok(report) => Ok(LoggedOutcome::Applied(report)),
            Err(error @ (RemError::InvalidArgument(_) | RemError::FailedPrecondition(_) | RemError::NotFound(_))) => {
                let mut batch = WriteBatch::default();
                batch.put_cf(handle(&self.db, Cf::Replication)?, APPLIED, sequence.to_be_bytes());
                self.db.write(batch)?;
                Ok(LoggedOutcome::Rejected(error.to_string()))
            }
            Err(error) => Err(error),
        }
    }
}
