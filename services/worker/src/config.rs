//! Configuration of the `percolate-worker` binary: compiled-in defaults, a
//! TOML file, `PERCOLATE_*` environment variables, then flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use percolate_embedder::EmbedderConfig;
use percolate_extract::{ChunkOptions, Limits, Tools};
use percolate_jobs::NatsConfig;
use serde::{Deserialize, Serialize};

use crate::settings::{TranscriptionConfig, WorkerSettings};

/// Keys read from `PERCOLATE_*` variables.
const CONFIG_FIELDS: [&str; 28] = [
    "database_url",
    "nats_url",
    "tier",
    "replicas",
    "ack_wait_secs",
    "max_deliveries",
    "objects",
    "admin_listen",
    "log_format",
    "embedding_model_path",
    "embedding_tokenizer_path",
    "embedding_ort_library",
    "embedding_threads",
    "max_file_mb",
    "max_decompressed_mb",
    "max_pages",
    "max_audio_seconds",
    "job_timeout_secs",
    "chunk_tokens",
    "chunk_overlap_tokens",
    "concurrency",
    "tesseract_lang",
    "shutdown_grace_secs",
    "transcription_url",
    "transcription_api_key",
    "transcription_model",
    "transcription_language",
    "transcription_timeout_secs",
];

/// Settings of a worker process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The Database gRPC endpoint results are written to.
    pub database_url: String,
    /// NATS server URL(s).
    pub nats_url: String,
    /// The tier whose jobs this worker takes.
    pub tier: String,
    /// JetStream replicas of the job stream and bucket.
    pub replicas: usize,
    /// Seconds a job may go without a heartbeat before it is redelivered.
    pub ack_wait_secs: u64,
    /// Most deliveries of one job (the last one only records the failure).
    pub max_deliveries: u32,
    /// Where uploads are read from: a directory, or an S3 location
    /// `s3://<bucket>?endpoint=...` (see `percolate_objects::parse_s3_location`;
    /// credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` or the
    /// SDK's other sources).
    pub objects: String,
    /// HTTP admin address (`/metrics`, `/healthz`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// The ONNX sentence-embedding model (default: the bootstrap's).
    pub embedding_model_path: Option<PathBuf>,
    /// Its tokenizer.json.
    pub embedding_tokenizer_path: Option<PathBuf>,
    /// ONNX Runtime's shared library.
    pub embedding_ort_library: Option<PathBuf>,
    /// Threads ONNX Runtime uses per call.
    pub embedding_threads: usize,
    /// Largest file accepted, in MiB.
    pub max_file_mb: u64,
    /// Largest decompressed content of a DOCX/XLSX, in MiB.
    pub max_decompressed_mb: u64,
    /// Most PDF pages (or workbook sheets).
    pub max_pages: u32,
    /// Longest audio, in seconds.
    pub max_audio_seconds: u32,
    /// Longest one job attempt may take, in seconds.
    pub job_timeout_secs: u64,
    /// Most model tokens per chunk.
    pub chunk_tokens: usize,
    /// Tokens shared by consecutive chunks.
    pub chunk_overlap_tokens: usize,
    /// Jobs worked on at once.
    pub concurrency: usize,
    /// Tesseract language(s) for OCR.
    pub tesseract_lang: String,
    /// Seconds a stopping worker lets its job finish before handing it
    /// back to the queue.
    pub shutdown_grace_secs: u64,
    /// Base URL (with the version, e.g. `https://api.openai.com/v1`) of an
    /// OpenAI-compatible speech-to-text service; audio goes to PocketSphinx
    /// when unset.
    pub transcription_url: Option<String>,
    /// Its API key (`PERCOLATE_TRANSCRIPTION_API_KEY`).
    pub transcription_api_key: Option<String>,
    /// Its model name.
    pub transcription_model: String,
    /// ISO-639-1 language of the audio, when known.
    pub transcription_language: Option<String>,
    /// Longest one transcription request may take, in seconds.
    pub transcription_timeout_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let settings = WorkerSettings::default();
        let limits = Limits::default();
        let nats = NatsConfig::default();
        Self {
            database_url: settings.database_url,
            nats_url: nats.url,
            tier: nats.tier,
            replicas: nats.replicas,
            ack_wait_secs: nats.ack_wait.as_secs(),
            max_deliveries: nats.max_deliveries,
            objects: "./data/objects".into(),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9465))),
            log_format: "text".into(),
            embedding_model_path: None,
            embedding_tokenizer_path: None,
            embedding_ort_library: None,
            embedding_threads: 2,
            max_file_mb: limits.max_file_bytes >> 20,
            max_decompressed_mb: limits.max_decompressed_bytes >> 20,
            max_pages: limits.max_pages,
            max_audio_seconds: limits.max_audio_seconds,
            job_timeout_secs: settings.job_timeout.as_secs(),
            chunk_tokens: settings.chunking.max_tokens,
            chunk_overlap_tokens: settings.chunking.overlap_tokens,
            concurrency: settings.concurrency,
            tesseract_lang: Tools::default().tesseract_lang,
            shutdown_grace_secs: settings.shutdown_grace.as_secs(),
            transcription_url: None,
            transcription_api_key: None,
            transcription_model: "whisper-1".into(),
            transcription_language: None,
            transcription_timeout_secs: 300,
        }
    }
}

/// Command-line overrides (every flag optional).
#[derive(Clone, Debug, Default, Serialize, clap::Args)]
pub struct WorkerArgs {
    /// TOML configuration file.
    #[arg(long, env = "PERCOLATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Database gRPC endpoint, for example http://127.0.0.1:50051.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// NATS server URL.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// Object store: a directory or `s3://<bucket>?endpoint=...`.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<String>,
    /// HTTP admin listen address for /metrics.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
    /// Tier whose jobs to take.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

impl WorkerConfig {
    /// Loads the configuration in layers and validates it.
    pub fn load(args: &WorkerArgs) -> anyhow::Result<Self> {
        let config: WorkerConfig = percolate_runtime::load_layered(args.config.as_deref(), &CONFIG_FIELDS, args)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(matches!(self.log_format.as_str(), "text" | "json"), "log_format must be 'text' or 'json'");
        anyhow::ensure!(self.max_deliveries >= 2, "max_deliveries must be at least 2 (the last delivery only records the failure)");
        anyhow::ensure!(self.ack_wait_secs >= 1, "ack_wait_secs must be at least 1");
        anyhow::ensure!(self.chunk_tokens >= 16, "chunk_tokens must be at least 16");
        anyhow::ensure!(self.chunk_overlap_tokens < self.chunk_tokens / 2, "chunk_overlap_tokens must be under half of chunk_tokens");
        anyhow::ensure!(self.concurrency >= 1, "concurrency must be at least 1");
        anyhow::ensure!(self.embedding_threads >= 1, "embedding_threads must be at least 1");
        anyhow::ensure!(self.job_timeout_secs >= 1, "job_timeout_secs must be at least 1");
        if let Some(transcription) = self.transcription() {
            percolate_openai::Transcriber::new(transcription).map_err(|e| anyhow::anyhow!("transcription_url: {e}"))?;
        }
        Ok(())
    }

    /// The JetStream settings.
    pub fn nats(&self) -> NatsConfig {
        NatsConfig { url: self.nats_url.clone(), tier: self.tier.clone(), replicas: self.replicas, ack_wait: Duration::from_secs(self.ack_wait_secs), max_deliveries: self.max_deliveries }
    }

    /// The embedding model's settings.
    pub fn embedder(&self) -> EmbedderConfig {
        EmbedderConfig::with_paths(self.embedding_model_path.clone(), self.embedding_tokenizer_path.clone(), self.embedding_ort_library.clone(), self.embedding_threads)
    }

    /// The speech-to-text service, when one is configured.
    pub fn transcription(&self) -> Option<TranscriptionConfig> {
        let base_url = self.transcription_url.clone().filter(|u| !u.trim().is_empty())?;
        Some(TranscriptionConfig {
            base_url,
            api_key: self.transcription_api_key.clone(),
            model: self.transcription_model.clone(),
            language: self.transcription_language.clone(),
            timeout: Duration::from_secs(self.transcription_timeout_secs.max(1)),
        })
    }

    /// The worker's runtime settings.
    pub fn settings(&self) -> WorkerSettings {
        let defaults = WorkerSettings::default();
        WorkerSettings {
            database_url: self.database_url.clone(),
            limits: Limits {
                max_file_bytes: self.max_file_mb << 20,
                max_decompressed_bytes: self.max_decompressed_mb << 20,
                max_pages: self.max_pages,
                max_audio_seconds: self.max_audio_seconds,
                ..Limits::default()
            },
            tools: Tools { tesseract_lang: self.tesseract_lang.clone(), ..Tools::default() },
            transcription: self.transcription(),
            job_timeout: Duration::from_secs(self.job_timeout_secs),
            chunking: ChunkOptions { max_tokens: self.chunk_tokens, overlap_tokens: self.chunk_overlap_tokens, split_pages: false },
            concurrency: self.concurrency,
            // Heartbeats well inside the ack wait.
            heartbeat: Duration::from_secs((self.ack_wait_secs / 3).max(1)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            ..defaults
        }
    }
}
