//! `percolate-bench embed`: embedding throughput of `percolate-embedder` in
//! this process, side by side with the Python peer
//! (`peers/python_onnxruntime_embed.py`: onnxruntime + tokenizers + numpy)
//! on exactly the same sentences, plus single-query latency.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use percolate_embedder::{Embedder, EmbedderConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::prose;
use crate::stats::{Report, Samples};

/// Options of `percolate-bench embed`.
#[derive(clap::Args)]
pub struct EmbedArgs {
    /// Sentences embedded in batches of the embedder's batch size.
    #[arg(long, default_value_t = 1024)]
    batched: usize,
    /// Sentences embedded one call each.
    #[arg(long, default_value_t = 256)]
    single: usize,
    /// Short queries (6-15 words) embedded one at a time for the latency.
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Sentences embedded before each timed run, on both sides.
    #[arg(long, default_value_t = 32)]
    warmup: usize,
    /// Python interpreter that runs the peer.
    #[arg(long, default_value = "python3")]
    python: String,
    /// The Python peer script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/python_onnxruntime_embed.py"))]
    peer: PathBuf,
    /// Measure the Rust side only.
    #[arg(long)]
    no_python: bool,
    /// Keep the sentences in this file (default: a temporary file).
    #[arg(long)]
    sentences_file: Option<PathBuf>,
    /// Seed of the generated text.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rounds of every throughput measurement (Rust and Python alternate
    /// going first); the table shows the median and the range.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Sentences per second measured in each round, on each side.
#[derive(Default)]
struct Rates {
    rust: Vec<f64>,
    python: Vec<f64>,
}

/// The median of `values` with `decimals` decimals, then their range when
/// there is more than one: `median (min-max)`.
fn summary(values: &[f64], decimals: usize, unit: &str) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match (sorted.first(), sorted.last()) {
        (Some(min), Some(max)) if sorted.len() > 1 => format!("{:.decimals$}{unit} ({min:.decimals$}-{max:.decimals$})", median(&sorted)),
        (Some(only), _) => format!("{only:.decimals$}{unit}"),
        _ => String::new(),
    }
}

/// The median of already sorted values.
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl Rates {
    /// A table row: both sides and the ratio of each round's pair.
    fn row(&self, what: &str) -> String {
        let ratios: Vec<f64> = self.rust.iter().zip(&self.python).map(|(r, p)| r / p).collect();
        let (ratio, python) = (summary(&ratios, 2, "x"), summary(&self.python, 1, " sentences/s"));
        format!("| {what} | {} | {python} | {ratio} |", summary(&self.rust, 1, " sentences/s"))
    }
}

/// Runs the embedding benchmark and prints its tables.
pub fn run(args: &EmbedArgs) -> Result<()> {
    let config = EmbedderConfig::default();
    let embedder = Embedder::load(&config).with_context(|| format!("loading the model from {} (run scripts/bootstrap)", config.model_path.display()))?;
    let batch = config.batch_size;

    let mut rng = StdRng::seed_from_u64(args.seed);
    let count = args.batched.max(args.single).max(args.warmup);
    let sentences: Vec<String> = (0..count).map(|_| prose::sentence(&mut rng, 20, 60)).collect();
    let scratch = tempfile::tempdir()?;
    let file = args.sentences_file.clone().unwrap_or_else(|| scratch.path().join("sentences.txt"));
    std::fs::write(&file, sentences.join("\n") + "\n").with_context(|| format!("writing {}", file.display()))?;
    let words = sentences.iter().map(|s| s.split_whitespace().count()).sum::<usize>() as f64 / count as f64;
    // Special tokens ([CLS], [SEP]) included, as the model sees them.
    let tokens = sentences.iter().map(|s| (embedder.count_tokens(s) + 2).min(embedder.max_tokens())).sum::<usize>() as f64 / count as f64;
    eprintln!("{count} sentences in {}: {words:.1} words, {tokens:.1} tokens each on average", file.display());

    let (mut batched, mut single, mut one_call) = (Rates::default(), Rates::default(), Vec::new());
    for round in 0..args.rounds.max(1) {
        // Alternate which side goes first, so drift favours neither.
        for python_first in [round % 2 == 1, round % 2 == 0] {
            if python_first && !args.no_python {
                batched.python.push(python_rate(args, &config, &file, batch, args.batched)?);
                single.python.push(python_rate(args, &config, &file, 1, args.single)?);
            } else if !python_first {
                batched.rust.push(rust_rate(&embedder, &sentences[..args.warmup], &sentences[..args.batched], batch)?);
                single.rust.push(rust_rate(&embedder, &sentences[..args.warmup], &sentences[..args.single], 1)?);
                // One call with every text: the embedder sorts them by length first.
                embedder.embed(&sentences[..args.warmup])?;
                let started = Instant::now();
                embedder.embed(&sentences[..args.batched])?;
                one_call.push(args.batched as f64 / started.elapsed().as_secs_f64());
            }
        }
    }

    let rounds = if args.rounds > 1 { format!("; median (range) of {} rounds", args.rounds) } else { String::new() };
    println!("| embedding, sentences of 20-60 words ({words:.1} words, {tokens:.1} tokens on average), {} intra-op threads{rounds} | Rust `percolate-embedder` | Python onnxruntime + tokenizers | Rust/Python |", config.intra_threads);
    println!("|---|---|---|---|");
    println!("{}", batched.row(&format!("batch {batch}, {} sentences", args.batched)));
    println!("{}", single.row(&format!("batch 1, {} sentences", args.single)));
    println!("| one `embed` call of {} sentences (sorted by length, batches of {batch}) | {} | | |", args.batched, summary(&one_call, 1, " sentences/s"));
    println!();
    let mut queries = Samples::default();
    let texts: Vec<String> = (0..args.queries + 10).map(|_| prose::query(&mut rng, 6, 15)).collect();
    for (i, query) in texts.iter().enumerate() {
        let started = Instant::now();
        let vectors = embedder.embed(std::slice::from_ref(query))?;
        // The first ten are warm-up.
        if i >= 10 {
            queries.push(started.elapsed());
        }
        anyhow::ensure!(vectors.len() == 1 && vectors[0].len() == embedder.dimension(), "bad embedding");
    }
    let mut report = Report::default();
    report.latency("embed one query of 6-15 words (in process)", &queries);
    report.print();
    Ok(())
}

/// Sentences per second of `embedder` over `texts` in calls of `batch`,
/// after embedding `warmup` the same way.
fn rust_rate(embedder: &Embedder, warmup: &[String], texts: &[String], batch: usize) -> Result<f64> {
    for group in warmup.chunks(batch) {
        embedder.embed(group)?;
    }
    let started = Instant::now();
    for group in texts.chunks(batch) {
        let vectors = embedder.embed(group)?;
        anyhow::ensure!(vectors.len() == group.len(), "embedded {} of {} texts", vectors.len(), group.len());
    }
    let rate = texts.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!("rust: sentences_per_second={rate:.1} sentences={} batch={batch}", texts.len());
    Ok(rate)
}

/// Runs the Python peer on the same file and settings; returns its
/// sentences per second.
fn python_rate(args: &EmbedArgs, config: &EmbedderConfig, file: &Path, batch: usize, count: usize) -> Result<f64> {
    let output = Command::new(&args.python)
        .arg(&args.peer)
        .arg("--input")
        .arg(file)
        .args(["--batch", &batch.to_string(), "--count", &count.to_string(), "--warmup", &args.warmup.to_string()])
        .args(["--threads", &config.intra_threads.to_string(), "--max-tokens", &config.max_tokens.to_string()])
        .arg("--model")
        .arg(&config.model_path)
        .arg("--tokenizer")
        .arg(&config.tokenizer_path)
        .output()
        .with_context(|| format!("running {} {} (or pass --no-python)", args.python, args.peer.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("the Python peer failed ({}): {}{}", output.status, stdout, String::from_utf8_lossy(&output.stderr));
    }
    let line = stdout.lines().find(|l| l.starts_with("sentences_per_second=")).with_context(|| format!("no sentences_per_second= line in the peer's output: {stdout}"))?;
    eprintln!("python: {line}");
    let value = line.split_whitespace().next().and_then(|field| field.strip_prefix("sentences_per_second=")).unwrap_or_default();
    value.parse::<f64>().with_context(|| format!("cannot read {value:?} as a number"))
}
