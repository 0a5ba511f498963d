//! Objects in a local directory: `<root>/tenants/<tenant>/<key>`.
//!
//! A write goes to a hidden temporary file next to the object
//! (`.<name>.upload-<uuid>`), is fsynced, renamed over the object and the
//! directory fsynced: readers see the old object or the new one, and a
//! crash leaves at most a temporary file, never a partial object.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::{ObjectError, Result};
use crate::writer::{ObjectWriter, Sink};
use crate::{ByteStream, ListedObject, ObjectReader};

/// Bytes per read of a streamed object.
const READ_CHUNK: usize = 256 << 10;

/// A directory of objects.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
}

impl LocalObjects {
    /// Objects under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of an object. The tenant id and key are validated by the
    /// callers, so the path stays under the tenant's directory.
    pub fn path(&self, tenant: &str, key: &str) -> PathBuf {
        self.root.join("tenants").join(tenant).join(key)
    }

    pub(crate) async fn reader(&self, tenant: &str, key: &str) -> Result<ObjectReader> {
        let path = self.path(tenant, key);
        let io = |source| ObjectError::Io { key: key.to_string(), source };
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ObjectError::NotFound(key.to_string())),
            Err(e) => return Err(io(e)),
        };
        let metadata = file.metadata().await.map_err(io)?;
        if !metadata.is_file() {
            return Err(ObjectError::NotFound(key.to_string()));
        }
        let owned_key = key.to_string();
        let body: ByteStream = Box::pin(
            file_pieces(file)
                .map(move |piece| piece.map_err(|source| ObjectError::Io { key: owned_key.clone(), source })),
        );
        Ok(ObjectReader { size: metadata.len(), body })
    }

    pub(crate) async fn size(&self, tenant: &str, key: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path(tenant, key)).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ObjectError::Io { key: key.to_string(), source }),
        }
    }

    pub(crate) async fn delete(&self, tenant: &str, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(tenant, key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ObjectError::Io { key: key.to_string(), source }),
        }
    }

    pub(crate) async fn list(&self, tenant: &str, prefix: &str) -> Result<Vec<ListedObject>> {
        let base = self.root.join("tenants").join(tenant);
        let io = |source| ObjectError::Io { key: prefix.to_string(), source };
        let mut listed = Vec::new();
        let mut folders = vec![base.join(prefix)];
        while let Some(folder) = folders.pop() {
            let mut entries = match tokio::fs::read_dir(&folder).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io)? {
                let path = entry.path();
                let file_type = entry.file_type().await.map_err(io)?;
                // Hidden names are writes in progress (see the module notes).
                let hidden = entry.file_name().to_str().is_none_or(|n| n.starts_with('.'));
                if file_type.is_dir() {
                    folders.push(path);
                } else if file_type.is_file() && !hidden {
                    let size = entry.metadata().await.map_err(io)?.len();
                    let key = path.strip_prefix(&base).ok().and_then(|p| p.to_str()).map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"));
                    if let Some(key) = key {
                        listed.push(ListedObject { key, size });
                    }
                }
            }
        }
        Ok(listed)
    }

    pub(crate) async fn writer(&self, tenant: &str, key: &str) -> Result<ObjectWriter> {
        let path = self.path(tenant, key);
        let io = |source| ObjectError::Io { key: key.to_string(), source };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
        let temp = dir.join(format!(".{name}.upload-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&temp).await.map_err(io)?;
        Ok(ObjectWriter::new(key, Sink::Local(LocalSink { key: key.to_string(), file: Some(file), temp, path, dir, done: false })))
    }
}

/// Reads a file in pieces of [`READ_CHUNK`].
fn file_pieces(file: tokio::fs::File) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures::stream::unfold(Some(file), |state| async move {
        use tokio::io::AsyncReadExt;
        let mut file = state?;
        let mut buf = vec![0u8; READ_CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// A local object being written.
pub(crate) struct LocalSink {
    key: String,
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    done: bool,
}

impl LocalSink {
    fn io(&self, source: std::io::Error) -> ObjectError {
        ObjectError::Io { key: self.key.clone(), source }
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else { return Err(self.io(std::io::Error::other("the writer is closed"))) };
        let result = file.write_all(bytes).await;
        result.map_err(|e| self.io(e))
    }

    pub(crate) async fn finish(mut self) -> Result<()> {
        let Some(file) = self.file.take() else { return Err(self.io(std::io::Error::other("the writer is closed"))) };
        let synced = file.sync_all().await;
        synced.map_err(|e| self.io(e))?;
        drop(file);
        let renamed = tokio::fs::rename(&self.temp, &self.path).await;
        renamed.map_err(|e| self.io(e))?;
        self.done = true;
        let dir = tokio::fs::File::open(&self.dir).await.map_err(|e| self.io(e))?;
        let synced = dir.sync_all().await;
        synced.map_err(|e| self.io(e))
    }

    pub(crate) async fn abort(mut self) {
        self.file.take();
        if let Err(error) = tokio::fs::remove_file(&self.temp).await {
            tracing::warn!(key = %self.key, %error, "removing an aborted upload's file failed");
        }
        self.done = true;
    }
}

impl Drop for LocalSink {
    /// A writer dropped unfinished (a cancelled request) removes its file.
    fn drop(&mut self) {
        if !self.done {
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
