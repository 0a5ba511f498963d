//! A write batch that can read its own writes: the apply function reads rows,
//! decides, and writes, and later reads within the same mutation must see
//! earlier writes of that mutation.

use std::collections::BTreeMap;

use rocksdb::{DB, WriteBatch};

use crate::error::{RemError, Result};
use crate::keys::Cf;

/// Pending writes over a database snapshot, committed as one `WriteBatch`.
pub struct BatchTxn<'a> {
    db: &'a DB,
    /// `None` marks a delete.
    overlay: BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>,
}

impl<'a> BatchTxn<'a> {
    /// An empty transaction on `db`.
    pub fn new(db: &'a DB) -> Self {
        Self { db, overlay: BTreeMap::new() }
    }

    /// Reads a key, seeing this transaction's own writes.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(pending) = self.overlay.get(&(cf, key.to_vec())) {
            return Ok(pending.clone());
        }
        Ok(self.db.get_cf(handle(self.db, cf)?, key)?)
    }

    /// Reads and decodes a record.
    pub fn get_msg<M: prost::Message + Default>(&self, cf: Cf, key: &[u8]) -> Result<Option<M>> {
        self.get(cf, key)?.map(|bytes| decode(cf, &bytes)).transpose()
    }

    /// Writes a key.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.insert((cf, key), Some(value));
    }

    /// Encodes and writes a record.
    pub fn put_msg<M: prost::Message>(&mut self, cf: Cf, key: Vec<u8>, msg: &M) {
        self.put(cf, key, msg.encode_to_vec());
    }

    /// Deletes a key.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.overlay.insert((cf, key), None);
    }

    /// Every key starting with `prefix`, in key order, with this
    /// transaction's writes merged in.
    pub fn scan_prefix(&self, cf: Cf, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for item in self.db.prefix_iterator_cf(handle(self.db, cf)?, prefix) {
            let (key, value) = item?;
            if !key.starts_with(prefix) {
                break;
            }
            merged.insert(key.to_vec(), value.to_vec());
        }
        let start = (cf, prefix.to_vec());
        for ((_, key), pending) in self.overlay.range(start..).take_while(|((c, k), _)| *c == cf && k.starts_with(prefix)) {
            match pending {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// The writes as one RocksDB batch.
    pub fn into_batch(self) -> Result<WriteBatch> {
        let mut batch = WriteBatch::default();
        for ((cf, key), pending) in self.overlay {
            let handle = handle(self.db, cf)?;
            match pending {
                Some(value) => batch.put_cf(handle, key, value),
                None => batch.delete_cf(handle, key),
            }
        }
        Ok(batch)
    }
}

/// The handle of a column family (every tenant database has all of them).
pub fn handle(db: &DB, cf: Cf) -> Result<&rocksdb::ColumnFamily> {
    db.cf_handle(cf.name()).ok_or(RemError::Corrupt { cf: cf.name(), detail: "column family is missing".into() })
}

/// Decodes a stored record, reporting corruption with its column family.
pub fn decode<M: prost::Message + Default>(cf: Cf, bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| RemError::Corrupt { cf: cf.name(), detail: e.to_string() })
}
