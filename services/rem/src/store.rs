//! The tenant store: opens tenant databases on demand, shares one block
//! cache, one write-buffer manager and one background thread pool between
//! them, and keeps a bounded set open (LRU plus idle timeout).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Env, Options, WriteBufferManager};

use crate::keys::Cf;

use crate::error::{RemError, Result};
use crate::stamp::HybridClock;
use crate::tenant::{NodeContext, Tenant};
use crate::tenant_id::TenantId;

/// Settings of a [`TenantStore`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Root directory; tenants live under `<data_dir>/tenants/<tenant>/`.
    pub data_dir: PathBuf,
    /// This node's id, part of every write's stamp.
    pub node_id: String,
    /// Block cache shared by all tenants, in bytes.
    pub block_cache_bytes: usize,
    /// Memtable budget shared by all tenants, in bytes.
    pub write_buffer_bytes: usize,
    /// Most tenants kept open at once (a soft limit: tenants in use stay open).
    pub max_open_tenants: usize,
    /// A tenant unused for this long is closed.
    pub idle_timeout: Duration,
    /// Fsync the write-ahead log on every write.
    pub sync_writes: bool,
    /// Threads of the shared flush and compaction pool.
    pub background_threads: i32,
    /// Keep an outbox of local mutations for the replication log.
    pub replicate: bool,
    /// Most mutations a tenant's outbox may hold before writes are refused
    /// with `Unavailable` (the log has been unreachable for long).
    pub max_outbox: u64,
    /// With replication: the largest write (encoded mutation) accepted, so
    /// every write fits in one message of the log.
    pub max_mutation_bytes: usize,
}

impl StoreConfig {
    /// Defaults for a node with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            node_id: "node-0".into(),
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 256 << 20,
            max_open_tenants: 64,
            idle_timeout: Duration::from_secs(600),
            sync_writes: true,
            background_threads: 2,
            replicate: false,
            max_outbox: 100_000,
            max_mutation_bytes: 1_000_000,
        }
    }
}

/// How often tenant lookups found the tenant open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found the tenant open.
    pub hits: u64,
    /// Lookups that had to open it.
    pub misses: u64,
}

/// Provides the copy of a tenant this node does not hold yet (for example
/// from a snapshot), before it is opened.
pub trait TenantSource: Send + Sync {
    /// Called on a blocking thread, once for all concurrent requests, when
    /// the tenant's directory `dir` does not exist. Creating `dir` (whole,
    /// atomically) provides the copy; leaving it absent opens a new, empty
    /// tenant; an error fails the open (and the requests waiting on it).
    fn provide(&self, tenant: &TenantId, dir: &Path) -> Result<()>;
}

type OpenResult = std::result::Result<Arc<Tenant>, String>;

struct Slot {
    cell: Arc<OnceLock<OpenResult>>,
    last_used: Instant,
}

/// All tenants of one node.
pub struct TenantStore {
    config: StoreConfig,
    options: TenantOptions,
    node: NodeContext,
    open: Mutex<HashMap<TenantId, Slot>>,
    /// Tenants being closed; opening one waits until its close is done.
    closing: Mutex<HashSet<TenantId>>,
    closed: Condvar,
    activity: Mutex<HashMap<TenantId, Instant>>,
    hits: AtomicU64,
    misses: AtomicU64,
    shutting_down: AtomicBool,
    source: OnceLock<Arc<dyn TenantSource>>,
    // Kept alive for as long as any tenant uses them.
    _cache: Cache,
    _write_buffers: WriteBufferManager,
    _env: Env,
}

impl TenantStore {
    /// Creates the store; tenants are opened on first use.
    pub fn open(config: StoreConfig) -> Result<Self> {
        std::fs::create_dir_all(config.data_dir.join("tenants"))?;
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(config.write_buffer_bytes, true, cache.clone());
        let mut env = Env::new()?;
        env.set_background_threads(config.background_threads);
        env.set_high_priority_background_threads(1);
        let options = TenantOptions::new(&cache, &write_buffers, &env);
        let node = NodeContext {
            node_id: config.node_id.as_str().into(),
            clock: Arc::new(HybridClock::new()),
            sync_writes: config.sync_writes,
            outbox: config.replicate.then_some(config.max_outbox),
            max_mutation_bytes: config.max_mutation_bytes,
        };
        Ok(Self {
            config,
            options,
            node,
            open: Mutex::new(HashMap::new()),
            closing: Mutex::new(HashSet::new()),
            closed: Condvar::new(),
            activity: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            source: OnceLock::new(),
            _cache: cache,
            _write_buffers: write_buffers,
            _env: env,
        })
    }

    /// The store's settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Sets where tenants this node does not hold come from (once; later
    /// calls are ignored).
    pub fn set_source(&self, source: Arc<dyn TenantSource>) {
        let _ = self.source.set(source);
    }

    /// The directory of a tenant's database.
    pub fn tenant_dir(&self, id: &TenantId) -> PathBuf {
        self.config.data_dir.join("tenants").join(id.as_str())
    }

    /// The tenant, opened (and created) if needed. Concurrent callers for the
    /// same tenant wait for one open.
    pub fn tenant(&self, id: &TenantId) -> Result<Arc<Tenant>> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(RemError::OpenFailed { tenant: id.to_string(), reason: "the node is shutting down".into() });
        }
        let now = Instant::now();
        self.activity.lock().insert(id.clone(), now);
        // Every clone of a tenant (and every drop of a slot's cell by a
        // caller) happens under the `open` lock, so eviction, which checks
        // reference counts under the same lock, never closes a tenant in use.
        let cell = {
            let mut open = self.open.lock();
            let slot = open.entry(id.clone()).or_insert_with(|| Slot { cell: Arc::new(OnceLock::new()), last_used: now });
            slot.last_used = now;
            if let Some(Ok(tenant)) = slot.cell.get() {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(tenant.clone());
            }
            slot.cell.clone()
        };
        let mut opened_here = false;
        cell.get_or_init(|| {
            opened_here = true;
            self.open_tenant(id)
        });
        let outcome = {
            let mut open = self.open.lock();
            let outcome = cell.get().cloned().unwrap_or_else(|| Err("the open was interrupted".into()));
            if outcome.is_err() && open.get(id).is_some_and(|slot| Arc::ptr_eq(&slot.cell, &cell)) {
                open.remove(id);
            }
            drop(cell);
            outcome
        };
        match outcome {
            Ok(tenant) => {
                let counter = if opened_here { &self.misses } else { &self.hits };
                counter.fetch_add(1, Ordering::Relaxed);
                if opened_here {
                    self.evict_over_capacity();
                }
                Ok(tenant)
            }
            Err(reason) => Err(RemError::OpenFailed { tenant: id.to_string(), reason }),
        }
    }

    fn open_tenant(&self, id: &TenantId) -> OpenResult {
        let mut closing = self.closing.lock();
        while closing.contains(id) {
            self.closed.wait(&mut closing);
        }
        drop(closing);
        let path = self.tenant_dir(id);
        if let Some(source) = self.source.get() {
            if !path.exists() {
                source.provide(id, &path).map_err(|e| e.to_string())?;
            }
        }
        Tenant::open(id.clone(), &path, &self.options, self.node.clone()).map(Arc::new).map_err(|e| e.to_string())
    }

    /// Closes least recently used tenants not in use while more than
    /// `max_open_tenants` are open.
    fn evict_over_capacity(&self) {
        let victims = {
            let mut open = self.open.lock();
            let excess = open.len().saturating_sub(self.config.max_open_tenants);
            if excess == 0 {
                return;
            }
            let mut idle: Vec<(Instant, TenantId)> = open.iter().filter(|(_, slot)| is_unused(slot)).map(|(id, slot)| (slot.last_used, id.clone())).collect();
            idle.sort();
            self.take_slots(&mut open, idle.into_iter().take(excess).map(|(_, id)| id))
        };
        self.close_slots(victims);
    }

    /// Closes tenants unused for longer than the idle timeout; returns how many.
    pub fn evict_idle(&self) -> usize {
        let cutoff = Instant::now().checked_sub(self.config.idle_timeout);
        let victims = {
            let mut open = self.open.lock();
            let stale: Vec<TenantId> = open.iter().filter(|(_, slot)| is_unused(slot) && cutoff.is_some_and(|c| slot.last_used < c)).map(|(id, _)| id.clone()).collect();
            self.take_slots(&mut open, stale.into_iter())
        };
        let closed = victims.len();
        self.close_slots(victims);
        closed
    }

    /// Refuses new tenant lookups from now on and closes every open tenant
    /// (graceful shutdown).
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.close_all();
    }

    /// Closes every open tenant; they reopen on next use.
    pub fn close_all(&self) {
        let victims = {
            let mut open = self.open.lock();
            let ids: Vec<TenantId> = open.keys().cloned().collect();
            self.take_slots(&mut open, ids.into_iter())
        };
        self.close_slots(victims);
    }

    /// Removes the slots of `ids` from the open map (whose lock the caller
    /// holds) and marks them closing, so nobody reopens them before they are
    /// closed.
    fn take_slots(&self, open: &mut HashMap<TenantId, Slot>, ids: impl Iterator<Item = TenantId>) -> Vec<(TenantId, Arc<Tenant>)> {
        let mut closing = self.closing.lock();
        let mut taken = Vec::new();
        for id in ids {
            if let Some(slot) = open.remove(&id) {
                if let Some(Ok(tenant)) = slot.cell.get() {
                    closing.insert(id.clone());
                    taken.push((id, tenant.clone()));
                }
            }
        }
        taken
    }

    fn close_slots(&self, victims: Vec<(TenantId, Arc<Tenant>)>) {
        for (id, tenant) in victims {
            tenant.flush();
            drop(tenant);
            tracing::debug!(tenant_id = %id, "tenant closed");
            self.closing.lock().remove(&id);
            self.closed.notify_all();
        }
    }

    /// Replaces this node's copy of a tenant: closes it once the calls
    /// using it are done (new calls wait for the new copy), moves its
    /// directory aside, and lets `fill` create the directory anew. When
    /// `fill` fails the old copy is put back. Refused while the old copy
    /// holds local writes the replication log has not taken.
    pub fn replace<T, E: From<RemError>>(&self, id: &TenantId, fill: impl FnOnce(&Path) -> Result<T, E>) -> Result<T, E> {
        let taken = loop {
            let mut open = self.open.lock();
            let mut closing = self.closing.lock();
            if closing.contains(id) {
                drop(open);
                self.closed.wait(&mut closing);
                continue;
            }
            // An open in progress finishes first.
            if open.get(id).is_some_and(|slot| slot.cell.get().is_none()) {
                drop((open, closing));
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            closing.insert(id.clone());
            break open.remove(id).and_then(|slot| slot.cell.get().and_then(|r| r.as_ref().ok()).cloned());
        };
        let outcome = self.replace_closed(id, taken, fill);
        self.closing.lock().remove(id);
        self.closed.notify_all();
        outcome
    }

    fn replace_closed<T, E: From<RemError>>(&self, id: &TenantId, taken: Option<Arc<Tenant>>, fill: impl FnOnce(&Path) -> Result<T, E>) -> Result<T, E> {
        if let Some(tenant) = taken {
            // Calls in flight hold clones; each ends with its request.
            while Arc::strong_count(&tenant) > 1 {
                std::thread::sleep(Duration::from_millis(5));
            }
            let pending = tenant.outbox_depth();
            if pending > 0 {
                return Err(RemError::FailedPrecondition(format!("this copy holds {pending} local writes the replication log has not taken yet; replace it once they are published")).into());
            }
            tenant.flush();
        }
        let path = self.tenant_dir(id);
        let trash = self.config.data_dir.join("replaced").join(format!("{}-{}", id.as_str(), uuid::Uuid::new_v4().simple()));
        let had_copy = path.exists();
        if had_copy {
            std::fs::create_dir_all(trash.parent().unwrap_or(&self.config.data_dir)).map_err(RemError::from)?;
            std::fs::rename(&path, &trash).map_err(RemError::from)?;
        }
        match fill(&path) {
            Ok(value) => {
                if had_copy {
                    if let Err(error) = std::fs::remove_dir_all(&trash) {
                        tracing::warn!(tenant_id = %id, %error, "removing the replaced copy failed");
                    }
                }
                Ok(value)
            }
            Err(error) => {
                if had_copy {
                    let _ = std::fs::remove_dir_all(&path);
                    std::fs::rename(&trash, &path).map_err(RemError::from)?;
                }
                Err(error)
            }
        }
    }

    /// The tenant if it is open now, without opening it or counting as a
    /// use (for background work that must not keep it open).
    pub fn peek(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.open.lock().get(id).and_then(|slot| slot.cell.get().and_then(|r| r.as_ref().ok()).cloned())
    }

    /// The tenants open now, each with the time since its last use.
    pub fn open_ids(&self) -> Vec<(TenantId, Duration)> {
        let now = Instant::now();
        self.open.lock().iter().filter(|(_, slot)| matches!(slot.cell.get(), Some(Ok(_)))).map(|(id, slot)| (id.clone(), now.saturating_duration_since(slot.last_used))).collect()
    }

    /// Whether the tenant is open now (without opening it or counting as a
    /// use).
    pub fn is_open(&self, id: &TenantId) -> bool {
        self.open.lock().contains_key(id)
    }

    /// Number of tenants open now.
    pub fn open_tenants(&self) -> usize {
        self.open.lock().len()
    }

    /// Number of tenants used within `window` (open or not).
    pub fn active_tenants(&self, window: Duration) -> usize {
        let mut activity = self.activity.lock();
        if let Some(cutoff) = Instant::now().checked_sub(window) {
            activity.retain(|_, last| *last >= cutoff);
        }
        activity.len()
    }

    /// Tenant lookup hits and misses since start.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }
}

/// RocksDB options of every tenant database: the database-wide options and
/// one set per column family, all on the shared cache, write buffers and
/// thread pool.
pub(crate) struct TenantOptions {
    /// Database-wide options.
    pub db: Options,
    cfs: Vec<(Cf, Options)>,
}

impl TenantOptions {
    fn new(cache: &Cache, write_buffers: &WriteBufferManager, env: &Env) -> Self {
        let mut db = Options::default();
        db.create_if_missing(true);
        db.create_missing_column_families(true);
        db.set_env(env);
        db.set_write_buffer_manager(write_buffers);
        db.set_max_open_files(256);
        db.set_keep_log_file_num(2);
        db.set_max_total_wal_size(64 << 20);
        // Opening a tenant is on the request path: skip work that only
        // refreshes statistics.
        db.set_skip_stats_update_on_db_open(true);
        let cfs = Cf::ALL.iter().map(|&cf| (cf, column_family_options(cf, cache))).collect();
        Self { db, cfs }
    }

    /// Descriptors of every column family.
    pub fn descriptors(&self) -> impl Iterator<Item = ColumnFamilyDescriptor> + '_ {
        self.cfs.iter().map(|(cf, options)| ColumnFamilyDescriptor::new(cf.name(), options.clone()))
    }
}

fn column_family_options(cf: Cf, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    let mut options = Options::default();
    if cf == Cf::Vectors {
        // Embeddings do not compress and are read in one sequential scan
        // when a tenant opens: large plain blocks make that scan cheap.
        table.set_block_size(64 << 10);
        options.set_compression_type(DBCompressionType::None);
    } else {
        table.set_bloom_filter(10.0, false);
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_bottommost_compression_type(DBCompressionType::Zstd);
    }
    options.set_block_based_table_factory(&table);
    options
}

/// Whether nobody but the store holds the tenant (or it failed to open).
fn is_unused(slot: &Slot) -> bool {
    match slot.cell.get() {
        Some(Ok(tenant)) => Arc::strong_count(tenant) == 1 && Arc::strong_count(&slot.cell) == 1,
        Some(Err(_)) => true,
        None => false,
    }
}

