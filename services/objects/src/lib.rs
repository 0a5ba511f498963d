//! Object storage for uploaded files and tenant snapshots.
//!
//! Objects are addressed by tenant and a relative key; a tenant's objects
//! live under `tenants/<tenant>/` (or in a bucket of their own), so no key
//! can reach another tenant's. Two real backends: a local directory (the
//! embedded default) and any S3-compatible server through `aws-sdk-s3`.
//!
//! Large objects are written through an [`ObjectWriter`] a part at a time
//! (bounded memory; S3 multipart upload), which computes their SHA-256 on
//! the way and leaves nothing behind unless [`ObjectWriter::finish`]
//! commits: dropping or aborting it removes the partial file or aborts the
//! multipart upload.

mod error;
mod key;
mod local;
mod location;
mod s3;
mod writer;

pub use error::{ObjectError, Result};
pub use key::{validate_key, validate_tenant};
pub use local::LocalObjects;
pub use location::parse_s3_location;
pub use s3::{S3Config, S3Objects};
pub use writer::{ObjectWriter, StoredObject};


use std::path::PathBuf;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

/// A stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// An object being read, a piece at a time.
pub struct ObjectReader {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub body: ByteStream,
}

/// An object found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its key in the tenant's area.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where objects live.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// A directory on local disk.
    Local(LocalObjects),
    /// An S3-compatible server.
    S3(S3Objects),
}

impl ObjectStore {
    /// Objects in the directory `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local(LocalObjects::new(root.into()))
    }

    /// Objects on an S3-compatible server.
    pub async fn s3(config: S3Config) -> Result<Self> {
        Ok(Self::S3(S3Objects::new(config).await?))
    }

    /// Where the objects are, for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(local) => format!("directory {}", local.root().display()),
            Self::S3(s3) => s3.describe(),
        }
    }

    /// Streams an object.
    pub async fn reader(&self, tenant: &str, key: &str) -> Result<ObjectReader> {
        check(tenant, key)?;
        match self {
            Self::Local(local) => local.reader(tenant, key).await,
            Self::S3(s3) => s3.reader(tenant, key).await,
        }
    }

    /// Reads a whole object, refusing one larger than `max_bytes` before
    /// reading it.
    pub async fn get(&self, tenant: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        use futures::TryStreamExt;
        let mut reader = self.reader(tenant, key).await?;
        if reader.size > max_bytes {
            return Err(ObjectError::TooLarge { key: key.to_string(), size: reader.size, limit: max_bytes });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(reader.size).unwrap_or(0));
        while let Some(piece) = reader.body.try_next().await? {
            if (bytes.len() + piece.len()) as u64 > max_bytes {
                return Err(ObjectError::TooLarge { key: key.to_string(), size: (bytes.len() + piece.len()) as u64, limit: max_bytes });
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }

    /// Writes a whole object atomically (readers see the old or the new
    /// object, never a part) and durably.
    pub async fn put(&self, tenant: &str, key: &str, bytes: &[u8]) -> Result<StoredObject> {
        let mut writer = self.writer(tenant, key).await?;
        writer.write(bytes).await?;
        writer.finish().await
    }

    /// Starts writing an object a part at a time; see [`ObjectWriter`].
    pub async fn writer(&self, tenant: &str, key: &str) -> Result<ObjectWriter> {
        check(tenant, key)?;
        match self {
            Self::Local(local) => local.writer(tenant, key).await,
            Self::S3(s3) => s3.writer(tenant, key).await,
        }
    }

    /// Deletes an object; deleting one that does not exist is not an error.
    pub async fn delete(&self, tenant: &str, key: &str) -> Result<()> {
        check(tenant, key)?;
        match self {
            Self::Local(local) => local.delete(tenant, key).await,
            Self::S3(s3) => s3.delete(tenant, key).await,
        }
    }

    /// Every object whose key starts with `prefix/` (a folder of the
    /// tenant's area), with its size, in key order. Unfinished writes are
    /// not listed.
    pub async fn list(&self, tenant: &str, prefix: &str) -> Result<Vec<ListedObject>> {
        check(tenant, prefix)?;
        let mut listed = match self {
            Self::Local(local) => local.list(tenant, prefix).await?,
            Self::S3(s3) => s3.list(tenant, prefix).await?,
        };
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn size(&self, tenant: &str, key: &str) -> Result<Option<u64>> {
        check(tenant, key)?;
        match self {
            Self::Local(local) => local.size(tenant, key).await,
            Self::S3(s3) => s3.size(tenant, key).await,
        }
    }
}

fn check(tenant: &str, key: &str) -> Result<()> {
    validate_tenant(tenant)?;
    validate_key(key)
}
