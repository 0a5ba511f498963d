//! What a worker needs to know to run jobs.

use std::time::Duration;

use percolate_extract::{ChunkOptions, Limits, Tools};
pub use percolate_openai::TranscriptionConfig;

/// Settings of a worker (the binary fills them from its configuration;
/// `percolate dev` from its own).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The Database gRPC endpoint results are written to.
    pub database_url: String,
    /// Bounds on one file.
    pub limits: Limits,
    /// External programs (speech recognition, OCR).
    pub tools: Tools,
    /// An OpenAI-compatible speech-to-text service that audio is sent to
    /// instead of PocketSphinx.
    pub transcription: Option<TranscriptionConfig>,
    /// Longest one job attempt may take.
    pub job_timeout: Duration,
    /// Chunk size and overlap, in model tokens.
    pub chunking: ChunkOptions,
    /// Chunks embedded per model call.
    pub embed_batch: usize,
    /// Resources per `PutResources` call (128 chunks with 384-dimension
    /// vectors are ~0.4 MB, well under the 1 MB a replicated write may be).
    pub write_batch: usize,
    /// Jobs worked on at once.
    pub concurrency: usize,
    /// How often a running job tells the queue it is alive.
    pub heartbeat: Duration,
    /// How long a stopping worker lets its jobs finish before it hands
    /// them back to the queue.
    pub shutdown_grace: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            database_url: "http://127.0.0.1:50051".into(),
            limits: Limits::default(),
            tools: Tools::default(),
            transcription: None,
            job_timeout: Duration::from_secs(30 * 60),
            chunking: ChunkOptions { max_tokens: 200, overlap_tokens: 32, split_pages: false },
            embed_batch: 32,
            write_batch: 128,
            concurrency: 1,
            heartbeat: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}
