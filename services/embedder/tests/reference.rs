//! The real all-MiniLM-L6-v2 model, run through `ort`, against reference
//! vectors computed by Python's onnxruntime + tokenizers
//! (`fixtures/make_reference.py`). Needs the files `scripts/bootstrap`
//! installs.

use percolate_embedder::{EmbedError, Embedder, EmbedderConfig};

#[derive(serde::Deserialize)]
struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn embedder() -> Embedder {
    let config = EmbedderConfig::default();
    assert!(config.files_present(), "model files missing under {}: run scripts/bootstrap", config.model_path.display());
    Embedder::load(&config).expect("model loads")
}

#[test]
fn matches_python_onnxruntime_reference() {
    let reference: Reference = serde_json::from_str(include_str!("fixtures/reference_embeddings.json")).expect("fixture parses");
    let embedder = embedder();
    assert_eq!(embedder.dimension(), 384);
    // One call for all sentences: batches of mixed lengths exercise padding
    // and the restore-to-input-order step.
    let vectors = embedder.embed(&reference.sentences).expect("embeds");
    for ((sentence, got), want) in reference.sentences.iter().zip(&vectors).zip(&reference.vectors) {
        let similarity = cosine(got, want);
        assert!(similarity >= 0.999, "cosine {similarity:.5} for {:?}", &sentence[..sentence.len().min(40)]);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[test]
fn paraphrases_are_close_and_unrelated_texts_are_not() {
    let embedder = embedder();
    let v = embedder
        .embed(&["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome.", "How do I reset my password?", "I forgot my login credentials and need a new password."])
        .expect("embeds");
    assert!(cosine(&v[0], &v[1]) > 0.7, "paraphrase: {}", cosine(&v[0], &v[1]));
    assert!(cosine(&v[3], &v[4]) > 0.5, "same question: {}", cosine(&v[3], &v[4]));
    assert!(cosine(&v[0], &v[2]) < 0.2, "unrelated: {}", cosine(&v[0], &v[2]));
    assert!(cosine(&v[0], &v[3]) < 0.2, "unrelated: {}", cosine(&v[0], &v[3]));
    let empty = embedder.embed(&[""]).expect("empty text embeds");
    assert_eq!(empty[0].len(), 384);
}

#[test]
fn missing_files_are_a_clear_error() {
    let config = EmbedderConfig { model_path: "/nonexistent/model.onnx".into(), ..EmbedderConfig::default() };
    let err = Embedder::load(&config).err().expect("fails");
    assert!(matches!(err, EmbedError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/model.onnx"));
}
