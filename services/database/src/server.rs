//! Running a database node: gRPC (Database, health, reflection), the HTTP
//! admin port, tenant housekeeping and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use percolate_embedder::Embedder;
use percolate_proto::v1::database_server::DatabaseServer;
use percolate_rem::TenantStore;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::DbConfig;
use crate::metrics::{Metrics, MetricsLayer};
use crate::service::DatabaseService;

/// How long calls in flight may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How often idle tenants are looked for.
const EVICTION_INTERVAL: Duration = Duration::from_secs(30);

/// Serves a database node on the given listeners until `shutdown` resolves,
/// then drains calls in flight and closes every tenant.
pub async fn serve(config: DbConfig, grpc: TcpListener, admin: Option<TcpListener>, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let store_config = config.store_config();
    let store = Arc::new(tokio::task::spawn_blocking(move || TenantStore::open(store_config)).await??);
    let metrics = Arc::new(Metrics::new(&config.tier));
    let embedder = load_embedder(&config).await?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<DatabaseServer<DatabaseService>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let database = DatabaseServer::new(DatabaseService::new(store.clone(), embedder))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);

    let admin_task = admin.map(|listener| tokio::spawn(serve_admin(listener, metrics.clone(), store.clone())));
    let evictor = tokio::spawn(evict_idle_tenants(store.clone()));

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_accepting = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let serving = tonic::transport::Server::builder()
        .layer(MetricsLayer::new(metrics))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(database)
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
    if let Some(task) = admin_task {
        task.abort();
    }
    tokio::task::spawn_blocking(move || store.shut_down()).await?;
    tracing::info!("database node stopped");
    Ok(())
}

/// Accepted connections with Nagle's algorithm off: small responses must not
/// wait for the client's delayed ACK (that costs ~40 ms per call).
/// `Server::tcp_nodelay` only applies to listeners tonic binds itself.
fn incoming_without_nagle(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "could not disable Nagle's algorithm");
            }
        }
        accepted
    })
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
    let mut tick = tokio::time::interval(EVICTION_INTERVAL);
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

async fn serve_admin(listener: TcpListener, metrics: Arc<Metrics>, store: Arc<TenantStore>) {
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state((metrics, store));
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "admin server failed");
    }
}

async fn render_metrics(State((metrics, store)): State<(Arc<Metrics>, Arc<TenantStore>)>) -> String {
    metrics.render(&store)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
