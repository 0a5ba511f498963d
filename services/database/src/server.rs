//! Running a database node: gRPC (Database, Sync, health, reflection), the
//! HTTP admin port, tenant housekeeping (idle tenants, snapshots) and
//! graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use percolate_embedder::Embedder;
use percolate_openai::ChatCompleter;
use percolate_proto::v1::database_server::DatabaseServer;
use percolate_proto::v1::sync_server::SyncServer;
use percolate_rem::TenantStore;
use percolate_runtime::{RenderMetrics, incoming_without_nagle, serve_admin};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::backfill::Backfill;
use crate::chat::Chat;
use crate::replication::Replication;
use crate::config::DbConfig;
use crate::metrics::{Metrics, MetricsLayer};
use crate::service::DatabaseService;
use crate::restore::SnapshotSource;
use crate::snapshots::Snapshots;
use crate::sync::SyncService;

/// How long calls in flight may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often idle tenants are looked for (at most; more often when the
/// idle timeout is shorter).
const EVICTION_INTERVAL: Duration = Duration::from_secs(30);

/// More gRPC services served next to `Database` (the all-in-one binary adds
/// `Jobs`), and more metrics for the admin port.
#[derive(Default)]
pub struct Extras {
    /// The services.
    pub routes: Option<Routes>,
    /// Their fully qualified names, reported SERVING by the health service.
    pub service_names: Vec<&'static str>,
    /// Their metrics, appended to the node's.
    pub metrics: Option<RenderMetrics>,
}

/// An opened database node, ready to serve.
pub struct Node {
    config: DbConfig,
    store: Arc<TenantStore>,
    embedder: Option<Arc<Embedder>>,
    metrics: Arc<Metrics>,
}

/// Serves a database node on the given listeners until `shutdown` resolves,
/// then drains calls in flight and closes every tenant.
pub async fn serve(config: DbConfig, grpc: TcpListener, admin: Option<TcpListener>, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    Node::open(config).await?.serve(grpc, admin, Extras::default(), shutdown).await
}

impl Node {
    /// Opens the tenant store and loads the embedding model.
    pub async fn open(config: DbConfig) -> anyhow::Result<Self> {
        let store_config = config.store_config();
        let store = Arc::new(tokio::task::spawn_blocking(move || TenantStore::open(store_config)).await??);
        let metrics = Arc::new(Metrics::new(&config.tier));
        let embedder = load_embedder(&config).await?;
        Ok(Self { config, store, embedder, metrics })
    }

    /// The node's embedding model, when it has one.
    pub fn embedder(&self) -> Option<Arc<Embedder>> {
        self.embedder.clone()
    }

    /// Serves until `shutdown` resolves, then drains calls in flight and
    /// closes every tenant.
    pub async fn serve(self, grpc: TcpListener, admin: Option<TcpListener>, extras: Extras, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Node { config, store, embedder, metrics } = self;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter.set_serving::<DatabaseServer<DatabaseService>>().await;
        health_reporter.set_serving::<SyncServer<SyncService>>().await;
        for name in &extras.service_names {
            health_reporter.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let backfill = embedder.clone().map(|e| Backfill::new(store.clone(), e, metrics.backfilled()));
        let replication = match &config.nats_url {
            Some(url) => Some(Replication::start(url, config.sync_replicas, store.clone(), &config.node_id, metrics.replication()).await?),
            None => None,
        };
        let snapshots = match &config.snapshots {
            Some(location) => {
                let snapshots = Snapshots::open(location, store.clone(), &config.node_id, config.snapshot_keep, metrics.snapshots()).await?;
                store.set_source(Arc::new(SnapshotSource::new(snapshots.clone())));
                Some(snapshots)
            }
            None => None,
        };
        let snapshotter = snapshots.clone().map(|snapshots| {
            let interval = Duration::from_secs(config.snapshot_interval_secs);
            // Before the tenant is closed for being idle.
            let idle = Duration::from_secs(config.snapshot_idle_secs).min(store.config().idle_timeout / 2);
            tokio::spawn(snapshots.run(interval, idle))
        });
        let chat = match config.chat_config() {
            Some(settings) => {
                let completer = ChatCompleter::new(settings)?;
                tracing::info!(endpoint = %completer.endpoint(), model = completer.model(), "chat answers are written by a language model");
                Some(Arc::new(completer))
            }
            None => None,
        };
        let sync = SyncServer::new(SyncService::new(store.clone(), replication.clone(), snapshots.clone(), config.node_id.clone()));
        let database = DatabaseServer::new(DatabaseService::new(store.clone(), embedder, backfill, replication.clone(), Chat::new(chat, metrics.chat())))
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes);

        let admin_task = admin.map(|listener| {
            let (metrics, store, extra) = (metrics.clone(), store.clone(), extras.metrics.clone());
            let replication = replication.clone();
            let render: RenderMetrics = Arc::new(move || {
                if let Some(replication) = &replication {
                    replication.refresh_metrics();
                }
                let mut text = metrics.render(&store);
                if let Some(extra) = &extra {
                    text.push_str(&extra());
                }
                text
            });
            tokio::spawn(serve_admin(listener, render))
        });
        let evictor = tokio::spawn(evict_idle_tenants(store.clone()));

        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_accepting = async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        };
        let mut routes = extras.routes.unwrap_or_default();
        routes = routes.add_service(health_service).add_service(reflection).add_service(reflection_alpha).add_service(database).add_service(sync);
        let serving = tonic::transport::Server::builder()
            .layer(MetricsLayer::new(metrics))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming_without_nagle(grpc), stop_accepting);
        tokio::pin!(serving);
        // Calls in flight get DRAIN_TIMEOUT to finish; connections still open
        // after that are closed so a stuck client cannot hold the node up.
        let drain_deadline = async {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(DRAIN_TIMEOUT).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = &mut serving => served?,
            () = drain_deadline => tracing::warn!(timeout = ?DRAIN_TIMEOUT, "connections still open after the drain timeout; closing them"),
        }

        evictor.abort();
        if let Some(task) = snapshotter {
            task.abort();
        }
        if let Some(snapshots) = &snapshots {
            snapshots.take_all_changed().await;
        }
        if let Some(task) = admin_task {
            task.abort();
        }
        tokio::task::spawn_blocking(move || store.shut_down()).await?;
        tracing::info!("database node stopped");
        Ok(())
    }
}

/// Loads the embedding model as `embedding_mode` says: `off` never, `auto`
/// when its files exist, `required` always (failing start-up without it).
async fn load_embedder(config: &DbConfig) -> anyhow::Result<Option<Arc<Embedder>>> {
    let settings = config.embedder_config();
    match config.embedding_mode.as_str() {
        "off" => return Ok(None),
        "auto" if !settings.files_present() => {
            tracing::warn!(model = %settings.model_path.display(), "no embedding model found (run scripts/bootstrap): text search and embedding on write are off");
            return Ok(None);
        }
        _ => {}
    }
    let embedder = tokio::task::spawn_blocking(move || Embedder::load(&settings)).await??;
    Ok(Some(Arc::new(embedder)))
}

async fn evict_idle_tenants(store: Arc<TenantStore>) {
    let every = EVICTION_INTERVAL.min(store.config().idle_timeout / 2).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.evict_idle()).await {
            Ok(0) => {}
            Ok(closed) => tracing::info!(closed, "closed idle tenants"),
            Err(error) => tracing::error!(%error, "idle tenant eviction failed"),
        }
    }
}
