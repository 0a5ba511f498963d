//! Writing an object a part at a time, with its SHA-256 computed on the way.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::local::LocalSink;
use crate::s3::S3Sink;

/// What a finished write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The object's key (relative to its tenant).
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// The backend half of a writer.
pub(crate) enum Sink {
    Local(LocalSink),
    S3(S3Sink),
}

/// An object being written. Nothing is visible to readers until
/// [`finish`](Self::finish) returns; [`abort`](Self::abort), or dropping the
/// writer (a cancelled request), removes what was written so far.
pub struct ObjectWriter {
    key: String,
    sink: Sink,
    hasher: Sha256,
    size: u64,
}

impl ObjectWriter {
    pub(crate) fn new(key: &str, sink: Sink) -> Self {
        Self { key: key.to_string(), sink, hasher: Sha256::new(), size: 0 }
    }

    /// Appends bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        match &mut self.sink {
            Sink::Local(sink) => sink.write(bytes).await,
            Sink::S3(sink) => sink.write(bytes).await,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hex SHA-256 of the bytes written so far.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Makes the object visible, atomically and durably.
    pub async fn finish(self) -> Result<StoredObject> {
        let stored = StoredObject { key: self.key.clone(), size: self.size, sha256: self.sha256() };
        match self.sink {
            Sink::Local(sink) => sink.finish().await?,
            Sink::S3(sink) => sink.finish().await?,
        }
        Ok(stored)
    }

    /// Throws away what was written (best effort: failures are logged).
    pub async fn abort(self) {
        match self.sink {
            Sink::Local(sink) => sink.abort().await,
            Sink::S3(sink) => sink.abort().await,
        }
    }
}
