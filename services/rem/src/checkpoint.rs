//! Consistent copies of a tenant for snapshots: a RocksDB checkpoint (hard
//! links to the immutable SST files plus fresh metadata), and a node-local
//! marker of the last snapshot taken, so unchanged tenants are not uploaded
//! again.
//!
//! The marker lives in the `replication` column family under `snapshot`:
//! the database sequence number the snapshot was cut at and its wall-clock
//! time in milliseconds (two u64 BE).

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;

use crate::error::{RemError, Result};
use crate::keys::Cf;
use crate::tenant::Tenant;
use crate::txn::handle;

/// Key of the last snapshot's marker.
const SNAPSHOT: &[u8] = b"snapshot";

/// What a checkpoint contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The last log sequence applied to the copy (at least; writes applied
    /// while the checkpoint was cut may be in it too).
    pub applied_sequence: u64,
    /// The database's sequence number before the checkpoint was cut: every
    /// write up to it is in the copy.
    pub db_sequence: u64,
}

/// The node's record of the tenant's last snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMarker {
    /// [`CheckpointInfo::db_sequence`] of the snapshot.
    pub db_sequence: u64,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
}

impl Tenant {
    /// Writes a consistent copy of the tenant into `dir` (which must not
    /// exist; on the same file system as the tenant, SST files are hard
    /// links). Memtables are flushed first, so the copy needs no log replay.
    pub fn checkpoint(&self, dir: &Path) -> Result<CheckpointInfo> {
        let db_sequence = self.db.latest_sequence_number();
        let applied_sequence = self.applied_sequence()?;
        Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(CheckpointInfo { applied_sequence, db_sequence })
    }

    /// The marker of the last snapshot this copy was the source of.
    pub fn snapshot_marker(&self) -> Result<Option<SnapshotMarker>> {
        let Some(raw) = self.db.get_cf(handle(&self.db, Cf::Replication)?, SNAPSHOT)? else { return Ok(None) };
        let corrupt = || RemError::Corrupt { cf: "replication", detail: "snapshot marker is not 16 bytes".into() };
        let raw: [u8; 16] = raw.as_slice().try_into().map_err(|_| corrupt())?;
        let (sequence, time) = raw.split_at(8);
        Ok(Some(SnapshotMarker {
            db_sequence: u64::from_be_bytes(sequence.try_into().map_err(|_| corrupt())?),
            taken_at_ms: u64::from_be_bytes(time.try_into().map_err(|_| corrupt())?),
        }))
    }

    /// Records that a snapshot of the copy cut at `marker.db_sequence` is
    /// stored.
    pub fn mark_snapshot(&self, marker: SnapshotMarker) -> Result<()> {
        let mut value = Vec::with_capacity(16);
        value.extend_from_slice(&marker.db_sequence.to_be_bytes());
        value.extend_from_slice(&marker.taken_at_ms.to_be_bytes());
        self.db.put_cf(handle(&self.db, Cf::Replication)?, SNAPSHOT, value)?;
        Ok(())
    }

    /// Whether anything was written since the last snapshot (without one:
    /// whether anything was ever written). The marker's own write is the
    /// one write allowed.
    pub fn changed_since_snapshot(&self) -> Result<bool> {
        Ok(match self.snapshot_marker()? {
            None => self.db.latest_sequence_number() > 0,
            Some(marker) => self.db.latest_sequence_number() > marker.db_sequence + 1,
        })
    }
}
