//! Sentence embeddings: a tokenizer and an ONNX sentence-transformer model
//! run with ONNX Runtime, loaded from a shared library at run time (nothing
//! is downloaded at build or run time).
//!
//! Texts are tokenized with explicit truncation, sorted by length so each
//! batch pads little, run through the model, mean-pooled over the attention
//! mask and L2-normalised. The vector dimension is read from the model.

mod config;
mod error;

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, Tensor};
use parking_lot::Mutex;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub use config::EmbedderConfig;
pub use error::EmbedError;

/// Result type of the embedder.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// ONNX Runtime allows one environment per process; every embedder shares it.
static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

fn environment(library: &Path) -> Result<&'static Environment> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    if !library.is_file() {
        return Err(EmbedError::Missing { what: "ONNX Runtime library", path: library.to_path_buf() });
    }
    let built = ort::init_from(library)
        .map_err(|e| EmbedError::Runtime(format!("loading {}: {e}", library.display())))?
        .with_name("percolate")
        .build()
        .map_err(|e| EmbedError::Runtime(e.to_string()))?;
    Ok(ENVIRONMENT.get_or_init(|| built))
}

fn open_session(env: &Environment, model: &Path, intra_threads: usize) -> ort::Result<Session> {
    // `All` is ONNX Runtime's own default (`ORT_ENABLE_ALL`), as in Python;
    // `ort`'s `Level3` is only `ORT_ENABLE_LAYOUT`. (For all-MiniLM-L6-v2
    // with ONNX Runtime 1.32 both give the same optimised graph.)
    // `?` turns the builder's error type into `ort::Error`.
    Ok(Session::builder(env)?.with_optimization_level(GraphOptimizationLevel::All)?.with_intra_threads(intra_threads)?.commit_from_file(model)?)
}

/// A loaded sentence-embedding model. Calls are serialised on the model
/// session (ONNX Runtime uses `intra_threads` threads inside each call).
pub struct Embedder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    /// The same tokenizer without truncation or padding, for counting.
    counter: Tokenizer,
    max_tokens: usize,
    has_token_types: bool,
    dimension: usize,
    batch_size: usize,
    model_id: String,
}

impl Embedder {
    /// Loads the model and tokenizer named by `config`, then runs one
    /// warm-up batch.
    pub fn load(config: &EmbedderConfig) -> Result<Self> {
        for (what, path) in [("embedding model", &config.model_path), ("tokenizer", &config.tokenizer_path)] {
            if !path.is_file() {
                return Err(EmbedError::Missing { what, path: path.clone() });
            }
        }
        let env = environment(&config.ort_library_path)?;
        let session = open_session(env, &config.model_path, config.intra_threads).map_err(|e| EmbedError::Runtime(format!("loading {}: {e}", config.model_path.display())))?;
        let input_names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !input_names.contains(&required) {
                return Err(EmbedError::Model(format!("model has no '{required}' input (inputs: {input_names:?})")));
            }
        }
        let has_token_types = input_names.contains(&"token_type_ids");
        let dimension = session
            .outputs()
            .iter()
            .find(|o| o.name() == "last_hidden_state")
            .and_then(|o| o.dtype().tensor_shape().and_then(|shape| shape.last().copied()))
            .filter(|d| *d > 0)
            .ok_or_else(|| EmbedError::Model("model has no 'last_hidden_state' output with a fixed last dimension".into()))? as usize;

        let mut tokenizer = Tokenizer::from_file(&config.tokenizer_path).map_err(|e| EmbedError::Model(format!("tokenizer {}: {e}", config.tokenizer_path.display())))?;
        let mut counter = tokenizer.clone();
        counter.with_truncation(None).map_err(|e| EmbedError::Model(format!("tokenizer truncation: {e}")))?;
        counter.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: config.max_tokens, ..Default::default() }))
            .map_err(|e| EmbedError::Model(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));

        let embedder = Self { session: Mutex::new(session), tokenizer, counter, max_tokens: config.max_tokens, has_token_types, dimension, batch_size: config.batch_size.max(1), model_id: config.model_id() };
        embedder.embed(&["warm-up"])?;
        tracing::info!(model = %embedder.model_id, dimension, "embedding model loaded");
        Ok(embedder)
    }

    /// Dimension of the vectors this model produces.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Most tokens of one input (special tokens included); longer inputs
    /// are truncated, so chunkers should stay below it.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Model tokens in `text`, without the special tokens and without
    /// truncation. Text the tokenizer cannot handle counts one token per
    /// byte, which only makes chunks smaller.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.counter.encode(text, false).map(|e| e.get_ids().len()).unwrap_or(text.len())
    }

    /// A name for the model, recorded with the vectors it produces.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Unit-length embeddings of `texts`, in the same order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].as_ref().len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.batch_size) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_ref()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(inputs)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: Vec<&str>) -> Result<Vec<Vec<f32>>> {
        let rows = texts.len();
        let encodings = self.tokenizer.encode_batch(texts, true).map_err(|e| EmbedError::Runtime(format!("tokenizing: {e}")))?;
        let width = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        let mut types = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend(encoding.get_ids().iter().map(|&x| i64::from(x)));
            mask.extend(encoding.get_attention_mask().iter().map(|&x| i64::from(x)));
            types.extend(encoding.get_type_ids().iter().map(|&x| i64::from(x)));
        }
        let tensor = |values: Vec<i64>| -> Result<DynValue> { Ok(Tensor::from_array(([rows, width], values)).map_err(|e| EmbedError::Runtime(e.to_string()))?.into_dyn()) };
        let mut feed: Vec<(String, DynValue)> = vec![("input_ids".into(), tensor(ids)?), ("attention_mask".into(), tensor(mask.clone())?)];
        if self.has_token_types {
            feed.push(("token_type_ids".into(), tensor(types)?));
        }
        let mut session = self.session.lock();
        let outputs = session.run(feed).map_err(|e| EmbedError::Runtime(format!("running the model: {e}")))?;
        let hidden = outputs.get("last_hidden_state").ok_or_else(|| EmbedError::Model("no 'last_hidden_state' output".into()))?;
        let (shape, data) = hidden.try_extract_tensor::<f32>().map_err(|e| EmbedError::Runtime(e.to_string()))?;
        if shape.len() != 3 || shape[0] as usize != rows || shape[1] as usize != width || shape[2] as usize != self.dimension {
            return Err(EmbedError::Model(format!("unexpected output shape {:?}", &shape[..])));
        }
        Ok((0..rows).map(|row| mean_pool(&data[row * width * self.dimension..(row + 1) * width * self.dimension], &mask[row * width..(row + 1) * width], self.dimension)).collect())
    }
}

/// Mean of the token vectors where the mask is 1, scaled to unit length.
fn mean_pool(tokens: &[f32], mask: &[i64], dimension: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; dimension];
    let mut count = 0.0f32;
    for (token, &m) in tokens.chunks_exact(dimension).zip(mask) {
        if m != 0 {
            sum.iter_mut().zip(token).for_each(|(s, t)| *s += t);
            count += 1.0;
        }
    }
    let scale = 1.0 / count.max(1.0);
    sum.iter_mut().for_each(|s| *s *= scale);
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter_mut().for_each(|s| *s /= norm);
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pool_ignores_padding_and_normalises() {
        let tokens = [1.0, 0.0, 3.0, 0.0, 100.0, 100.0];
        let pooled = mean_pool(&tokens, &[1, 1, 0], 2);
        assert!((pooled[0] - 1.0).abs() < 1e-6 && pooled[1].abs() < 1e-6);
    }
}
