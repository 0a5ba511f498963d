//! Configuration of a database node: compiled-in defaults, then a TOML file,
//! then `PERCOLATE_*` environment variables, then command-line flags;
//! validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use percolate_embedder::EmbedderConfig;
use percolate_openai::ChatConfig;
use percolate_rem::StoreConfig;
use serde::{Deserialize, Serialize};

/// Keys read from `PERCOLATE_*` variables (others, such as the CLI's
/// `PERCOLATE_TENANT`, belong to other programs).
const CONFIG_FIELDS: [&str; 29] = [
    "listen",
    "admin_listen",
    "data_dir",
    "node_id",
    "tier",
    "max_message_bytes",
    "block_cache_mb",
    "write_buffer_mb",
    "max_open_tenants",
    "tenant_idle_secs",
    "sync_writes",
    "log_format",
    "embedding_mode",
    "embedding_model_path",
    "embedding_tokenizer_path",
    "embedding_ort_library",
    "embedding_threads",
    "nats_url",
    "sync_replicas",
    "max_outbox",
    "max_replicated_write_bytes",
    "snapshots",
    "snapshot_interval_secs",
    "snapshot_idle_secs",
    "snapshot_keep",
    "chat_url",
    "chat_api_key",
    "chat_model",
    "chat_timeout_secs",
];

/// A setting that is never printed: `Debug` shows `"***"`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Settings of a database node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// HTTP admin address (`/metrics`, `/healthz`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// Where tenant databases live.
    pub data_dir: PathBuf,
    /// This node's id (part of every write's version stamp).
    pub node_id: String,
    /// Deployment tier, a label of `percolate_active_tenants`.
    pub tier: String,
    /// Largest gRPC message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Block cache shared by all tenants, in MiB.
    pub block_cache_mb: usize,
    /// Memtable budget shared by all tenants, in MiB.
    pub write_buffer_mb: usize,
    /// Most tenants open at once.
    pub max_open_tenants: usize,
    /// Close a tenant after this many idle seconds.
    pub tenant_idle_secs: u64,
    /// Fsync the write-ahead log before acknowledging each write.
    pub sync_writes: bool,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// `auto` (use the embedding model when its files exist), `required`
    /// (refuse to start without it) or `off`.
    pub embedding_mode: String,
    /// The ONNX sentence-embedding model (default: the one scripts/bootstrap installs).
    pub embedding_model_path: Option<PathBuf>,
    /// Its tokenizer.json.
    pub embedding_tokenizer_path: Option<PathBuf>,
    /// ONNX Runtime's shared library.
    pub embedding_ort_library: Option<PathBuf>,
    /// Threads ONNX Runtime uses per call.
    pub embedding_threads: usize,
    /// NATS server URL(s): replication through JetStream is on when set.
    pub nats_url: Option<String>,
    /// JetStream replicas of the replication stream (1 for a single NATS
    /// server, 3 in production).
    pub sync_replicas: usize,
    /// Most local writes a tenant may have waiting for the log; beyond it
    /// writes are refused with `UNAVAILABLE` until the log is back.
    pub max_outbox: u64,
    /// With replication: the largest write (encoded) accepted, so that it
    /// fits in one log message. NATS's default `max_payload` is 1 MiB;
    /// raise both together.
    pub max_replicated_write_bytes: usize,
    /// Where tenant snapshots go: a directory or
    /// `s3://bucket?endpoint=..&region=..` (as the worker's `objects`).
    /// When set, tenants are snapshotted periodically and when idle, and a
    /// tenant this node does not hold is restored from its newest snapshot
    /// (then the log is replayed) before it is served.
    pub snapshots: Option<String>,
    /// Snapshot a tenant that keeps changing at most this often.
    pub snapshot_interval_secs: u64,
    /// Snapshot a changed tenant once it has been idle this long (at most
    /// half of `tenant_idle_secs`, so it happens before the tenant closes).
    pub snapshot_idle_secs: u64,
    /// Snapshots kept per tenant; older ones are deleted.
    pub snapshot_keep: usize,
    /// Base URL of an OpenAI-compatible chat-completions API, including its
    /// version (`https://api.openai.com/v1`, a local `http://127.0.0.1:11434/v1`).
    /// When unset, chat answers are extractive (quoted passages).
    pub chat_url: Option<String>,
    /// Its API key, sent as a Bearer token (best from `PERCOLATE_CHAT_API_KEY`).
    pub chat_api_key: Option<Secret>,
    /// The model used when a chat request names none.
    pub chat_model: String,
    /// Longest wait for the model's answer to start, and between two of its
    /// pieces; beyond it the chat fails with `DEADLINE_EXCEEDED`.
    pub chat_timeout_secs: u64,
}

impl Default for DbConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            data_dir: PathBuf::from("./data"),
            node_id: "node-0".into(),
            tier: "small".into(),
            max_message_bytes: 16 << 20,
            block_cache_mb: 256,
            write_buffer_mb: 256,
            max_open_tenants: 64,
            tenant_idle_secs: 600,
            sync_writes: true,
            log_format: "text".into(),
            embedding_mode: "auto".into(),
            embedding_model_path: None,
            embedding_tokenizer_path: None,
            embedding_ort_library: None,
            embedding_threads: 2,
            nats_url: None,
            sync_replicas: 1,
            max_outbox: 100_000,
            max_replicated_write_bytes: 1_000_000,
            snapshots: None,
            snapshot_interval_secs: 300,
            snapshot_idle_secs: 60,
            snapshot_keep: 3,
            chat_url: None,
            chat_api_key: None,
            chat_model: "gpt-4o-mini".into(),
            chat_timeout_secs: 60,
        }
    }
}

/// Command-line overrides (every flag optional; unset flags change nothing).
#[derive(Clone, Debug, Default, Serialize, clap::Args)]
pub struct DbArgs {
    /// TOML configuration file.
    #[arg(long, env = "PERCOLATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// gRPC listen address, for example 127.0.0.1:50051 (port 0 picks a free one).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// HTTP admin listen address for /metrics.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
    /// Data directory.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Node id.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// Embedding model: auto, required or off.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_mode: Option<String>,
    /// NATS URL; turns replication on.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// Snapshot location (a directory or s3://bucket?...); turns snapshots and restore on.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<String>,
    /// OpenAI-compatible chat API base URL (with /v1); chat is extractive without it.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_url: Option<String>,
    /// Chat model used when a request names none.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_model: Option<String>,
}

impl DbConfig {
    /// Loads the configuration in layers and validates it.
    pub fn load(args: &DbArgs) -> anyhow::Result<Self> {
        let config: DbConfig = percolate_runtime::load_layered(args.config.as_deref(), &CONFIG_FIELDS, args)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_open_tenants >= 1, "max_open_tenants must be at least 1");
        anyhow::ensure!(self.max_message_bytes >= 1024, "max_message_bytes must be at least 1024");
        anyhow::ensure!(self.block_cache_mb >= 8, "block_cache_mb must be at least 8");
        anyhow::ensure!(self.write_buffer_mb >= 8, "write_buffer_mb must be at least 8");
        anyhow::ensure!(!self.node_id.is_empty() && self.node_id.len() <= 64, "node_id must be 1 to 64 characters");
        anyhow::ensure!(matches!(self.log_format.as_str(), "text" | "json"), "log_format must be 'text' or 'json'");
        anyhow::ensure!(matches!(self.embedding_mode.as_str(), "auto" | "required" | "off"), "embedding_mode must be 'auto', 'required' or 'off'");
        anyhow::ensure!(self.embedding_threads >= 1, "embedding_threads must be at least 1");
        anyhow::ensure!(self.sync_replicas >= 1 && self.sync_replicas <= 5, "sync_replicas must be 1 to 5");
        anyhow::ensure!(self.max_outbox >= 1, "max_outbox must be at least 1");
        anyhow::ensure!(self.max_replicated_write_bytes >= 64 << 10, "max_replicated_write_bytes must be at least 65536");
        anyhow::ensure!(self.snapshot_interval_secs >= 1, "snapshot_interval_secs must be at least 1");
        anyhow::ensure!(self.snapshot_idle_secs >= 1, "snapshot_idle_secs must be at least 1");
        anyhow::ensure!(self.snapshot_keep >= 1, "snapshot_keep must be at least 1");
        anyhow::ensure!(self.chat_timeout_secs >= 1, "chat_timeout_secs must be at least 1");
        anyhow::ensure!(!self.chat_model.trim().is_empty(), "chat_model must not be empty");
        Ok(())
    }

    /// The embedding model's settings (paths default to where
    /// `scripts/bootstrap` installs the model).
    pub fn embedder_config(&self) -> EmbedderConfig {
        EmbedderConfig::with_paths(self.embedding_model_path.clone(), self.embedding_tokenizer_path.clone(), self.embedding_ort_library.clone(), self.embedding_threads)
    }

    /// The chat model's settings, when `chat_url` is set (an empty key is no key).
    pub fn chat_config(&self) -> Option<ChatConfig> {
        let base_url = self.chat_url.as_ref().filter(|u| !u.trim().is_empty())?;
        Some(ChatConfig {
            base_url: base_url.clone(),
            api_key: self.chat_api_key.as_ref().map(|k| k.0.clone()).filter(|k| !k.is_empty()),
            model: self.chat_model.clone(),
            timeout: Duration::from_secs(self.chat_timeout_secs),
        })
    }

    /// The storage engine's settings.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            data_dir: self.data_dir.clone(),
            node_id: self.node_id.clone(),
            block_cache_bytes: self.block_cache_mb << 20,
            write_buffer_bytes: self.write_buffer_mb << 20,
            max_open_tenants: self.max_open_tenants,
            idle_timeout: Duration::from_secs(self.tenant_idle_secs),
            sync_writes: self.sync_writes,
            background_threads: 2,
            replicate: self.nats_url.is_some(),
            max_outbox: self.max_outbox,
            max_mutation_bytes: self.max_replicated_write_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("percolate.toml");
        std::fs::write(&file, "tier = \"large\"\nmax_open_tenants = 5\nlisten = \"127.0.0.1:7000\"\n").expect("write");
        let args = DbArgs { config: Some(file), listen: Some("127.0.0.1:7001".parse().expect("addr")), ..Default::default() };
        let config = DbConfig::load(&args).expect("loads");
        assert_eq!(config.tier, "large");
        assert_eq!(config.max_open_tenants, 5);
        assert_eq!(config.listen.port(), 7001, "flags win over the file");
        assert_eq!(config.block_cache_mb, 256, "defaults fill the rest");
    }

    #[test]
    fn the_chat_api_key_is_read_but_never_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("percolate.toml");
        std::fs::write(&file, "chat_url = \"http://127.0.0.1:9/v1\"\nchat_api_key = \"sk-secret-value\"\n").expect("write");
        let config = DbConfig::load(&DbArgs { config: Some(file), ..Default::default() }).expect("loads");
        assert_eq!(config.chat_config().and_then(|c| c.api_key).as_deref(), Some("sk-secret-value"));
        assert!(!format!("{config:?}").contains("sk-secret"), "{config:?}");
    }

    #[test]
    fn bad_files_and_values_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "max_open_tenants = 0\n").expect("write");
        let err = DbConfig::load(&DbArgs { config: Some(file.clone()), ..Default::default() }).expect_err("invalid");
        assert!(err.to_string().contains("max_open_tenants"), "{err}");
        std::fs::write(&file, "no_such_setting = 1\n").expect("write");
        let err = DbConfig::load(&DbArgs { config: Some(file), ..Default::default() }).expect_err("unknown key");
        assert!(err.to_string().contains("no_such_setting"), "{err}");
        let missing = DbArgs { config: Some(dir.path().join("missing.toml")), ..Default::default() };
        assert!(DbConfig::load(&missing).is_err());
    }
}
