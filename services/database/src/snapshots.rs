//! Tenant snapshots in object storage: what makes any node able to serve
//! any tenant (scale-up, a new pod, a lost volume, scale to zero).
//!
//! A snapshot is a RocksDB checkpoint of the tenant, uploaded file by file
//! under `snapshots/<sequence>-<time>-<id>/` in the tenant's object area,
//! with a `manifest.json` written last: it names every file with its size
//! and SHA-256 and the log sequence the copy covers. A snapshot without a
//! manifest is unfinished and never restored (and is removed by pruning
//! after an hour). Names sort by sequence, then time: the newest is last.
//!
//! A node snapshots each open tenant that changed since its last snapshot
//! every `snapshot_interval_secs`, when it has been idle for
//! `snapshot_idle_secs`, on request (`Sync.SnapshotTenant`) and at shutdown;
//! it keeps the newest `snapshot_keep`. Restoring is in [`crate::restore`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use percolate_objects::{ObjectStore, validate_key};
use percolate_proto::v1 as pb;
use percolate_rem::{SnapshotMarker, TenantId, TenantStore};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::error::DbError;
use crate::metrics::SnapshotMetrics;

/// Folder of a tenant's snapshots in its object area.
const FOLDER: &str = "snapshots";
/// The file that completes a snapshot.
pub(crate) const MANIFEST: &str = "manifest.json";
/// Version of the manifest format.
const FORMAT: u32 = 1;
/// Largest manifest read.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Files uploaded (or downloaded) at once.
pub(crate) const PARALLEL_FILES: usize = 4;
/// Bytes read from a checkpoint file at a time.
const READ_CHUNK: usize = 1 << 20;
/// Unfinished snapshots older than this are removed by pruning.
const UNFINISHED_GRACE: Duration = Duration::from_secs(3600);
/// Longest the shutdown waits for the last snapshots.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(30);

/// What a snapshot holds: written last, as `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Version of this format.
    pub format: u32,
    /// The tenant.
    pub tenant: String,
    /// Last log sequence applied to the copy.
    pub sequence: u64,
    /// When it was cut, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The node that took it.
    pub node_id: String,
    /// Every file of the checkpoint.
    pub files: Vec<SnapshotFile>,
}

/// One file of a snapshot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotFile {
    /// File name in the checkpoint directory.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// Total bytes of the snapshot's files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The snapshot as the `Sync` service reports it.
    pub fn info(&self, key: &str) -> pb::SnapshotInfo {
        let created = Duration::from_millis(self.created_at_ms);
        pb::SnapshotInfo {
            object_key: key.to_string(),
            sequence: self.sequence,
            created_at: Some(prost_types::Timestamp { seconds: created.as_secs() as i64, nanos: created.subsec_nanos() as i32 }),
            size: self.size(),
            files: self.files.len() as u32,
            node_id: self.node_id.clone(),
        }
    }

    /// Checks a manifest read back from storage.
    pub(crate) fn check(&self, tenant: &TenantId) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("manifest format {} is not {FORMAT}", self.format));
        }
        if self.tenant != tenant.as_str() {
            return Err(format!("manifest is of tenant '{}'", self.tenant));
        }
        if self.files.is_empty() {
            return Err("manifest lists no files".into());
        }
        for file in &self.files {
            if file.name.contains('/') || validate_key(&file.name).is_err() || file.name == MANIFEST {
                return Err(format!("manifest names a file '{}' that is not a plain file name", file.name.escape_default()));
            }
            if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("manifest has no valid SHA-256 for '{}'", file.name));
            }
        }
        Ok(())
    }
}

/// Takes, lists and prunes snapshots.
pub struct Snapshots {
    pub(crate) objects: ObjectStore,
    pub(crate) store: Arc<TenantStore>,
    node_id: String,
    keep: usize,
    pub(crate) work_dir: PathBuf,
    pub(crate) metrics: SnapshotMetrics,
    /// One snapshot of a tenant at a time.
    running: parking_lot::Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Snapshots {
    /// Snapshots of `store`'s tenants at `location` (a directory or an
    /// `s3://` location).
    pub async fn open(location: &str, store: Arc<TenantStore>, node_id: &str, keep: usize, metrics: SnapshotMetrics) -> anyhow::Result<Arc<Self>> {
        let objects = ObjectStore::open(location).await?;
        let work_dir = store.config().data_dir.join("snapshot-work");
        // Leftovers of a crash during a snapshot or restore.
        let _ = std::fs::remove_dir_all(&work_dir);
        std::fs::create_dir_all(&work_dir)?;
        tracing::info!(location = %objects.describe(), "tenant snapshots on");
        Ok(Arc::new(Self { objects, store, node_id: node_id.to_string(), keep, work_dir, metrics, running: parking_lot::Mutex::new(HashMap::new()) }))
    }

    /// Keys of the tenant's finished snapshots, newest first.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<String>, DbError> {
        let listed = self.objects.list(tenant.as_str(), FOLDER).await?;
        let mut keys: Vec<String> = listed.iter().filter_map(|o| o.key.strip_suffix(&format!("/{MANIFEST}")).map(str::to_string)).collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        Ok(keys)
    }

    /// Reads and checks the manifest of the snapshot `key`.
    pub async fn manifest(&self, tenant: &TenantId, key: &str) -> Result<Manifest, DbError> {
        let raw = self.objects.get(tenant.as_str(), &format!("{key}/{MANIFEST}"), MAX_MANIFEST_BYTES).await?;
        let manifest: Manifest = serde_json::from_slice(&raw).map_err(|e| DbError::DataLoss(format!("snapshot {key}: unreadable manifest: {e}")))?;
        manifest.check(tenant).map_err(|e| DbError::DataLoss(format!("snapshot {key}: {e}")))?;
        Ok(manifest)
    }

    /// The newest snapshot of the tenant, if any.
    pub async fn newest(&self, tenant: &TenantId) -> Result<Option<pb::SnapshotInfo>, DbError> {
        let Some(key) = self.list(tenant).await?.into_iter().next() else { return Ok(None) };
        Ok(Some(self.manifest(tenant, &key).await?.info(&key)))
    }

    /// Snapshots the tenant now (opening it if `open` and it is closed).
    /// Without `force`, a tenant unchanged since its last snapshot (or not
    /// open) is skipped: `None`.
    pub async fn take(&self, id: &TenantId, open: bool, force: bool) -> Result<Option<pb::SnapshotInfo>, DbError> {
        let lock = self.running.lock().entry(id.clone()).or_default().clone();
        let _one_at_a_time = lock.lock().await;
        let started = Instant::now();
        let result = self.take_locked(id, open, force).await;
        match &result {
            Ok(Some(info)) => {
                self.metrics.snapshot("ok", started.elapsed(), info.size);
                tracing::info!(tenant_id = %id, key = %info.object_key, sequence = info.sequence, bytes = info.size, elapsed = ?started.elapsed(), "tenant snapshot stored");
            }
            Ok(None) => {}
            Err(error) => {
                self.metrics.snapshot("failed", started.elapsed(), 0);
                tracing::warn!(tenant_id = %id, %error, "tenant snapshot failed");
            }
        }
        result
    }

    async fn take_locked(&self, id: &TenantId, open: bool, force: bool) -> Result<Option<pb::SnapshotInfo>, DbError> {
        let store = self.store.clone();
        let lookup = id.clone();
        let dir = self.work_dir.join(format!("{}-{}", id.as_str(), uuid::Uuid::new_v4().simple()));
        let cut = dir.clone();
        let checkpoint = tokio::task::spawn_blocking(move || -> Result<_, DbError> {
            let tenant = if open { store.tenant(&lookup)? } else { match store.peek(&lookup) { Some(t) => t, None => return Ok(None) } };
            if !force && !tenant.changed_since_snapshot()? {
                return Ok(None);
            }
            let info = tenant.checkpoint(&cut)?;
            Ok(Some((tenant, info)))
        })
        .await
        .map_err(|e| DbError::Internal(e.to_string()))?;
        let _cleanup = RemoveOnDrop(dir.clone());
        let Some((tenant, checkpoint)) = checkpoint? else { return Ok(None) };
        let created_at_ms = unix_millis();
        let key = format!("{FOLDER}/{:020}-{created_at_ms:013}-{}", checkpoint.applied_sequence, &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let files = self.upload_files(id, &key, &dir).await?;
        let manifest = Manifest { format: FORMAT, tenant: id.as_str().to_string(), sequence: checkpoint.applied_sequence, created_at_ms, node_id: self.node_id.clone(), files };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| DbError::Internal(e.to_string()))?;
        self.objects.put(id.as_str(), &format!("{key}/{MANIFEST}"), &body).await?;
        let marker = SnapshotMarker { db_sequence: checkpoint.db_sequence, taken_at_ms: created_at_ms };
        tokio::task::spawn_blocking(move || tenant.mark_snapshot(marker)).await.map_err(|e| DbError::Internal(e.to_string()))??;
        if let Err(error) = self.prune(id).await {
            tracing::warn!(tenant_id = %id, %error, "pruning old snapshots failed");
        }
        Ok(Some(manifest.info(&key)))
    }

    /// Uploads every file of the checkpoint in `dir` under `key/`.
    async fn upload_files(&self, id: &TenantId, key: &str, dir: &Path) -> Result<Vec<SnapshotFile>, DbError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(percolate_rem::RemError::from)? {
            let entry = entry.map_err(percolate_rem::RemError::from)?;
            if entry.file_type().map_err(percolate_rem::RemError::from)?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        let uploads = names.into_iter().map(|name| self.upload_file(id, key, dir, name));
        futures::stream::iter(uploads).buffer_unordered(PARALLEL_FILES).try_collect::<Vec<_>>().await.map(|mut files| {
            files.sort_by(|a, b| a.name.cmp(&b.name));
            files
        })
    }

    async fn upload_file(&self, id: &TenantId, key: &str, dir: &Path, name: String) -> Result<SnapshotFile, DbError> {
        let mut file = tokio::fs::File::open(dir.join(&name)).await.map_err(percolate_rem::RemError::from)?;
        let mut writer = self.objects.writer(id.as_str(), &format!("{key}/{name}")).await?;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = file.read(&mut buf).await.map_err(percolate_rem::RemError::from)?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]).await?;
        }
        let stored = writer.finish().await?;
        Ok(SnapshotFile { name, size: stored.size, sha256: stored.sha256 })
    }

    /// Deletes all but the newest `keep` snapshots, and unfinished ones
    /// older than an hour. A snapshot's manifest goes first, so a half
    /// deleted snapshot is never restored.
    async fn prune(&self, id: &TenantId) -> Result<(), DbError> {
        let tenant = id.as_str();
        let listed = self.objects.list(tenant, FOLDER).await?;
        let finished = self.list(id).await?;
        let mut by_snapshot: HashMap<&str, Vec<&str>> = HashMap::new();
        for object in &listed {
            if let Some((snapshot, _)) = object.key.rsplit_once('/') {
                by_snapshot.entry(snapshot).or_default().push(&object.key);
            }
        }
        let now = unix_millis();
        for (snapshot, keys) in by_snapshot {
            let rank = finished.iter().position(|k| k == snapshot);
            let stale = match rank {
                Some(rank) => rank >= self.keep,
                None => created_ms_of(snapshot).is_some_and(|t| now.saturating_sub(t) > UNFINISHED_GRACE.as_millis() as u64),
            };
            if !stale {
                continue;
            }
            if rank.is_some() {
                self.objects.delete(tenant, &format!("{snapshot}/{MANIFEST}")).await?;
            }
            for key in keys {
                self.objects.delete(tenant, key).await?;
            }
            tracing::debug!(tenant_id = %id, snapshot, "old snapshot deleted");
        }
        Ok(())
    }

    /// Snapshots open tenants that changed: every `interval`, and once they
    /// have been idle for `idle`. Also keeps the snapshot-age gauge.
    pub async fn run(self: Arc<Self>, interval: Duration, idle: Duration) {
        let every = (interval.min(idle) / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut oldest = 0.0f64;
            for (id, idle_for) in self.store.open_ids() {
                let Some(due) = self.due(&id, idle_for, interval, idle, &mut oldest).await else { continue };
                if due {
                    let _ = self.take(&id, false, false).await;
                }
            }
            self.metrics.set_age(oldest);
        }
    }

    /// Whether an open tenant should be snapshotted now; `None` when it has
    /// nothing new. Raises `oldest` to the age of its last snapshot.
    async fn due(&self, id: &TenantId, idle_for: Duration, interval: Duration, idle: Duration, oldest: &mut f64) -> Option<bool> {
        let store = self.store.clone();
        let lookup = id.clone();
        let state = tokio::task::spawn_blocking(move || -> percolate_rem::Result<Option<(bool, Option<SnapshotMarker>)>> {
            let Some(tenant) = store.peek(&lookup) else { return Ok(None) };
            Ok(Some((tenant.changed_since_snapshot()?, tenant.snapshot_marker()?)))
        })
        .await
        .ok()?
        .ok()??;
        let (changed, marker) = state;
        if !changed {
            return None;
        }
        let age = marker.map(|m| Duration::from_millis(unix_millis().saturating_sub(m.taken_at_ms)));
        if let Some(age) = age {
            *oldest = oldest.max(age.as_secs_f64());
        }
        Some(idle_for >= idle || age.is_none_or(|a| a >= interval))
    }

    /// Snapshots every open tenant that changed (at shutdown), within
    /// [`SHUTDOWN_BUDGET`].
    pub async fn take_all_changed(&self) {
        let work = async {
            for (id, _) in self.store.open_ids() {
                let _ = self.take(&id, false, false).await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_BUDGET, work).await.is_err() {
            tracing::warn!(budget = ?SHUTDOWN_BUDGET, "not every changed tenant was snapshotted before shutdown; the log keeps their writes");
        }
    }
}

/// The creation time in a snapshot's name.
fn created_ms_of(snapshot: &str) -> Option<u64> {
    snapshot.rsplit('/').next()?.split('-').nth(1)?.parse().ok()
}

pub(crate) fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Removes a working directory when dropped (success, error or cancel).
pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(error) = std::fs::remove_dir_all(&self.0) {
                tracing::warn!(dir = %self.0.display(), %error, "removing a snapshot working directory failed");
            }
        }
    }
}
