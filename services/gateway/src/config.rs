//! Configuration of the gateway: compiled-in defaults, then a TOML file,
//! then `PERCOLATE_*` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use percolate_jobs::NatsConfig;
use serde::{Deserialize, Serialize};

/// Keys read from `PERCOLATE_*` variables.
const CONFIG_FIELDS: [&str; 10] = ["listen", "admin_listen", "log_format", "nats_url", "tier", "replicas", "ack_wait_secs", "objects", "max_upload_mb", "drain_secs"];

/// Settings of a gateway process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// HTTP admin address (`/metrics`, `/healthz`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// `text` or `json` logs.
    pub log_format: String,
    /// NATS server URL(s).
    pub nats_url: String,
    /// The tier whose queue uploads go to (one gateway deployment per tier).
    pub tier: String,
    /// JetStream replicas of the job stream and bucket.
    pub replicas: usize,
    /// Seconds a job may go without a heartbeat before it is redelivered
    /// (must match the workers').
    pub ack_wait_secs: u64,
    /// Where uploads are stored: a directory, or
    /// `s3://<bucket>?endpoint=...` (credentials from `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` or the AWS SDK's other sources).
    pub objects: String,
    /// Largest file accepted, in MiB (this tier's limit; keep it at or under
    /// the workers' `max_file_mb`, which is also 100 by default).
    pub max_upload_mb: u64,
    /// On shutdown, seconds uploads in flight get to finish before they are
    /// aborted cleanly.
    pub drain_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        let nats = NatsConfig::default();
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 50052)),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9466))),
            log_format: "text".into(),
            nats_url: nats.url,
            tier: nats.tier,
            replicas: nats.replicas,
            ack_wait_secs: nats.ack_wait.as_secs(),
            objects: "./data/objects".into(),
            max_upload_mb: 100,
            drain_secs: 30,
        }
    }
}

/// Command-line overrides (every flag optional).
#[derive(Clone, Debug, Default, Serialize, clap::Args)]
pub struct GatewayArgs {
    /// TOML configuration file.
    #[arg(long, env = "PERCOLATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// gRPC listen address, for example 0.0.0.0:50052.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// HTTP admin listen address for /metrics.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
    /// NATS server URL.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// Object store: a directory or `s3://<bucket>?endpoint=...`.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<String>,
    /// Tier whose queue uploads go to.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Largest file accepted, in MiB.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_upload_mb: Option<u64>,
}

impl GatewayConfig {
    /// Loads the configuration in layers and validates it.
    pub fn load(args: &GatewayArgs) -> anyhow::Result<Self> {
        let config: GatewayConfig = percolate_runtime::load_layered(args.config.as_deref(), &CONFIG_FIELDS, args)?;
        anyhow::ensure!(matches!(config.log_format.as_str(), "text" | "json"), "log_format must be 'text' or 'json'");
        anyhow::ensure!(config.max_upload_mb >= 1, "max_upload_mb must be at least 1");
        anyhow::ensure!(config.ack_wait_secs >= 1, "ack_wait_secs must be at least 1");
        percolate_objects::parse_s3_location(&config.objects)?;
        Ok(config)
    }

    /// The JetStream settings.
    pub fn nats(&self) -> NatsConfig {
        NatsConfig { url: self.nats_url.clone(), tier: self.tier.clone(), replicas: self.replicas, ack_wait: Duration::from_secs(self.ack_wait_secs), ..NatsConfig::default() }
    }

    /// Bytes of the largest upload.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb << 20
    }
}
