//! Where the model, tokenizer and ONNX Runtime library are, and how to run them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Settings of an [`crate::Embedder`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// The ONNX sentence-transformer model (inputs `input_ids`,
    /// `attention_mask`, optionally `token_type_ids`; output `last_hidden_state`).
    pub model_path: PathBuf,
    /// Its `tokenizer.json`.
    pub tokenizer_path: PathBuf,
    /// ONNX Runtime's shared library (`libonnxruntime.so`).
    pub ort_library_path: PathBuf,
    /// Name recorded with the vectors; defaults to the model file's name.
    pub model_name: String,
    /// Longest input in tokens; longer texts are truncated.
    pub max_tokens: usize,
    /// Texts per model call.
    pub batch_size: usize,
    /// Threads ONNX Runtime uses inside one call.
    pub intra_threads: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        let dir = default_model_dir();
        Self {
            model_path: dir.join("all-minilm-l6-v2-int8.onnx"),
            tokenizer_path: dir.join("all-minilm-l6-v2-tokenizer.json"),
            ort_library_path: dir.join("libonnxruntime.so"),
            model_name: String::new(),
            max_tokens: 256,
            batch_size: 32,
            intra_threads: 2,
        }
    }
}

impl EmbedderConfig {
    /// The name recorded with this model's vectors.
    pub fn model_id(&self) -> String {
        if !self.model_name.is_empty() {
            return self.model_name.clone();
        }
        self.model_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "unknown".into())
    }

    /// The default model files (see [`default_model_dir`]) with any of them
    /// replaced, running on `intra_threads` threads.
    pub fn with_paths(model: Option<PathBuf>, tokenizer: Option<PathBuf>, ort_library: Option<PathBuf>, intra_threads: usize) -> Self {
        let defaults = Self::default();
        Self {
            model_path: model.unwrap_or(defaults.model_path),
            tokenizer_path: tokenizer.unwrap_or(defaults.tokenizer_path),
            ort_library_path: ort_library.unwrap_or(defaults.ort_library_path),
            intra_threads,
            ..defaults
        }
    }

    /// Whether the model files exist where this config says.
    pub fn files_present(&self) -> bool {
        self.model_path.is_file() && self.tokenizer_path.is_file() && self.ort_library_path.is_file()
    }
}

/// Where `scripts/bootstrap` puts the model: `$PERCOLATE_MODEL_DIR`, else
/// `~/.cache/percolate/models`.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERCOLATE_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".cache/percolate/models")
}
