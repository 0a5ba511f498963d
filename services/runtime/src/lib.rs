//! What every Percolate server process shares: layered configuration,
//! logging set-up, the shutdown signal, the admin HTTP port (`/metrics`,
//! `/healthz`) and accepted connections without Nagle's algorithm.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named configuration file is not there.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A layer holds a value of the wrong type or an unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(Box<figment::Error>),
}

/// Loads a configuration in layers, each overriding the one before:
/// `T::default()`, the TOML `file` (if given), the `PERCOLATE_<FIELD>`
/// environment variables for `env_fields` (others, such as the CLI's
/// `PERCOLATE_TENANT`, belong to other programs), then `flags` (a struct
/// whose unset options are skipped when serialised).
pub fn load_layered<T: Default + Serialize + DeserializeOwned>(file: Option<&Path>, env_fields: &[&str], flags: &impl Serialize) -> Result<T, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::MissingFile(path.to_path_buf()));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment
        .merge(Env::prefixed("PERCOLATE_").only(env_fields))
        .merge(Serialized::defaults(flags))
        .extract()
        .map_err(|e| ConfigError::Invalid(Box::new(e)))
}

/// Sets up logging to stderr (`RUST_LOG` filters, default `info`), as
/// `text` or `json` lines.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
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

/// Renders the process's metrics in Prometheus text format.
pub type RenderMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `/metrics` (from `render`) and `/healthz` until the task is
/// aborted.
pub async fn serve_admin(listener: TcpListener, render: RenderMetrics) {
    let app = Router::new()
        .route("/metrics", get(move || std::future::ready(render())))
        .route("/healthz", get(|| async { "ok\n" }));
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "admin server failed");
    }
}

/// Accepted connections with Nagle's algorithm off: small responses must not
/// wait for the client's delayed ACK (that costs ~40 ms per call).
/// `Server::tcp_nodelay` only applies to listeners tonic binds itself.
pub fn incoming_without_nagle(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::warn!(%error, "could not disable Nagle's algorithm");
            }
        }
        accepted
    })
}
