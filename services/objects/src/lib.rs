//! Object storage for uploaded files (and, later, snapshots).
//!
//! Objects are addressed by tenant and a relative key; a tenant's objects
//! live under `tenants/<tenant>/` so no key can reach another tenant's.
//! The embedded default keeps them in a local directory; the S3 backend
//! (any S3-compatible server) arrives with the upload gateway.

mod error;
mod key;
mod local;

pub use error::{ObjectError, Result};
pub use key::validate_key;
pub use local::LocalObjects;

use std::path::PathBuf;

/// Where objects live.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// A directory on local disk.
    Local(LocalObjects),
}

impl ObjectStore {
    /// Objects in the directory `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local(LocalObjects::new(root.into()))
    }

    /// Reads a whole object, refusing one larger than `max_bytes` before
    /// reading it.
    pub async fn get(&self, tenant: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        match self {
            Self::Local(local) => local.get(tenant, key, max_bytes).await,
        }
    }

    /// Writes a whole object atomically (readers see the old or the new
    /// object, never a part) and durably.
    pub async fn put(&self, tenant: &str, key: &str, bytes: &[u8]) -> Result<()> {
        validate_key(key)?;
        match self {
            Self::Local(local) => local.put(tenant, key, bytes).await,
        }
    }
}
