//! Restoring a tenant from its newest snapshot: when a node is asked for a
//! tenant it does not hold (the store calls [`SnapshotSource`] once, and
//! concurrent requests wait for it), or on request (`Sync.RestoreTenant`).
//!
//! Files are downloaded into a staging directory, each checked against the
//! manifest's size and SHA-256, fsynced, and the directory is renamed into
//! place whole: a crash leaves no half-restored tenant. A snapshot that
//! fails verification is skipped for the next older one (and counted);
//! an unreachable object store fails the open with `UNAVAILABLE` rather
//! than serving an empty tenant. The log replay on top happens before the
//! first request is served (see `Replication::catch_up`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use percolate_objects::ObjectError;
use percolate_rem::{RemError, TenantId, TenantSource};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::DbError;
use crate::snapshots::{Manifest, PARALLEL_FILES, RemoveOnDrop, SnapshotFile, Snapshots};

/// A restored snapshot: its key and manifest.
pub type Restored = (String, Manifest);

impl Snapshots {
    /// Restores the newest snapshot that verifies into `dir` (which must
    /// not exist). `None` when the tenant has no snapshot.
    pub async fn restore_newest(&self, id: &TenantId, dir: &Path) -> Result<Option<Restored>, DbError> {
        let keys = self.list(id).await.inspect_err(|_| self.metrics.restore("failed", None))?;
        if keys.is_empty() {
            self.metrics.restore("none", None);
            return Ok(None);
        }
        for key in keys {
            match self.restore_key(id, &key, dir).await {
                Ok(manifest) => return Ok(Some((key, manifest))),
                Err(DbError::DataLoss(reason)) => tracing::error!(tenant_id = %id, %key, %reason, "snapshot failed verification; trying an older one"),
                Err(error) => return Err(error),
            }
        }
        Err(DbError::DataLoss(format!("no snapshot of tenant '{id}' passed verification")))
    }

    /// Restores the snapshot `key` into `dir` (which must not exist).
    pub async fn restore_key(&self, id: &TenantId, key: &str, dir: &Path) -> Result<Manifest, DbError> {
        let started = Instant::now();
        let result = self.download(id, key, dir).await;
        match &result {
            Ok(manifest) => {
                self.metrics.restore("ok", Some(started.elapsed()));
                tracing::info!(tenant_id = %id, %key, sequence = manifest.sequence, bytes = manifest.size(), elapsed = ?started.elapsed(), "tenant restored from snapshot");
            }
            Err(DbError::DataLoss(_)) => self.metrics.restore("corrupt", None),
            Err(_) => self.metrics.restore("failed", None),
        }
        result
    }

    async fn download(&self, id: &TenantId, key: &str, dir: &Path) -> Result<Manifest, DbError> {
        let manifest = self.manifest(id, key).await.map_err(|e| match e {
            DbError::Objects(ObjectError::NotFound(_)) => DbError::Objects(ObjectError::NotFound(format!("snapshot {key}"))),
            other => other,
        })?;
        let staging = self.work_dir.join(format!("restore-{}-{}", id.as_str(), uuid::Uuid::new_v4().simple()));
        tokio::fs::create_dir_all(&staging).await.map_err(RemError::from)?;
        let _cleanup = RemoveOnDrop(staging.clone());
        let downloads: Vec<_> = manifest.files.iter().cloned().map(|file| self.download_file(id, key, file, &staging)).collect();
        futures::stream::iter(downloads).buffer_unordered(PARALLEL_FILES).try_collect::<Vec<()>>().await?;
        sync_dir(&staging).await?;
        tokio::fs::rename(&staging, dir).await.map_err(RemError::from)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent).await?;
        }
        Ok(manifest)
    }

    async fn download_file(&self, id: &TenantId, key: &str, file: SnapshotFile, staging: &Path) -> Result<(), DbError> {
        let object = format!("{key}/{}", file.name);
        let corrupt = |why: String| DbError::DataLoss(format!("snapshot {key}: file {}: {why}", file.name));
        let mut reader = match self.objects.reader(id.as_str(), &object).await {
            Ok(reader) => reader,
            Err(ObjectError::NotFound(_)) => return Err(corrupt("missing".into())),
            Err(error) => return Err(error.into()),
        };
        if reader.size != file.size {
            return Err(corrupt(format!("{} bytes stored, {} in the manifest", reader.size, file.size)));
        }
        let mut out = tokio::fs::File::create(staging.join(&file.name)).await.map_err(RemError::from)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(piece) = reader.body.try_next().await? {
            size += piece.len() as u64;
            if size > file.size {
                return Err(corrupt(format!("longer than the manifest's {} bytes", file.size)));
            }
            hasher.update(&piece);
            out.write_all(&piece).await.map_err(RemError::from)?;
        }
        if size != file.size {
            return Err(corrupt(format!("{size} bytes read, {} in the manifest", file.size)));
        }
        let sha256 = hex::encode(hasher.finalize());
        if sha256 != file.sha256 {
            return Err(corrupt(format!("SHA-256 {sha256} does not match the manifest's {}", file.sha256)));
        }
        out.sync_all().await.map_err(RemError::from)?;
        Ok(())
    }
}

async fn sync_dir(dir: &Path) -> Result<(), DbError> {
    let handle = tokio::fs::File::open(dir).await.map_err(RemError::from)?;
    handle.sync_all().await.map_err(RemError::from)?;
    Ok(())
}

/// Runs `work` on the node's runtime and waits for it from a blocking
/// thread (the tenant store calls its source synchronously).
pub(crate) fn wait_on<T: Send + 'static>(handle: &tokio::runtime::Handle, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv().ok()
}

/// The store's source of tenants this node does not hold: their newest
/// snapshot.
pub struct SnapshotSource {
    snapshots: Arc<Snapshots>,
    runtime: tokio::runtime::Handle,
}

impl SnapshotSource {
    /// A source restoring from `snapshots` on the current runtime.
    pub fn new(snapshots: Arc<Snapshots>) -> Self {
        Self { snapshots, runtime: tokio::runtime::Handle::current() }
    }
}

impl TenantSource for SnapshotSource {
    fn provide(&self, tenant: &TenantId, dir: &Path) -> percolate_rem::Result<()> {
        let (snapshots, id, target) = (self.snapshots.clone(), tenant.clone(), dir.to_path_buf());
        match wait_on(&self.runtime, async move { snapshots.restore_newest(&id, &target).await }) {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(RemError::Unavailable(format!("restoring the tenant from its snapshot failed: {error}"))),
            None => Err(RemError::Unavailable("restoring the tenant from its snapshot was interrupted".into())),
        }
    }
}
