//! `percolate-bench ingest`: end-to-end ingestion in the embedded default.
//!
//! Wires the pipeline in this process the way `percolate dev` does: a
//! database node (`Node::open(..).serve(..)`) on a free loopback port with a
//! temporary data directory, the local job queue (`Jobs::local`) served as
//! the `Jobs` gRPC service next to `Database`, a local object store, and a
//! `Worker` sharing the node's embedder. Files are put in the object store,
//! jobs are submitted and followed over gRPC with the SDK, like a client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use percolate_database::{DbConfig, Extras, Node};
use percolate_embedder::Embedder;
use percolate_extract::{ChunkOptions, Limits, TokenCounter, Tools, chunk_sections};
use percolate_jobs::{Jobs, JobsService};
use percolate_objects::ObjectStore;
use percolate_sdk::{Client, pb};
use percolate_worker::{Worker, WorkerMetrics, WorkerSettings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tonic::service::Routes;

use crate::{pdf, prose};

/// Longest a measured phase may take before the benchmark gives up.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Options of `percolate-bench ingest`.
#[derive(clap::Args)]
pub struct IngestArgs {
    /// Pages of the PDF.
    #[arg(long, default_value_t = 50)]
    pages: usize,
    /// Markdown documents submitted at once.
    #[arg(long, default_value_t = 200)]
    docs: usize,
    /// Jobs the worker runs at once (`percolate dev` runs one).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seed of the generated text.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Afterwards, embed the PDF's chunks again apart from the pipeline, in
    /// document order and sorted by length, to show what padding costs.
    #[arg(long)]
    padding_check: bool,
}

/// The embedded default running in this process.
struct Pipeline {
    endpoint: String,
    objects: ObjectStore,
    embedder: Arc<Embedder>,
    metrics: Arc<WorkerMetrics>,
    jobs: Jobs,
    stop_worker: watch::Sender<bool>,
    worker: JoinHandle<()>,
    stop_node: oneshot::Sender<()>,
    node: JoinHandle<Result<()>>,
}

impl Pipeline {
    /// Starts node, Jobs service and worker with data under `data_dir`.
    async fn start(data_dir: std::path::PathBuf, concurrency: usize) -> Result<Self> {
        let config = DbConfig { data_dir: data_dir.clone(), admin_listen: None, ..Default::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let node = Node::open(config).await?;
        let embedder = node.embedder().context("no embedding model (run scripts/bootstrap)")?;
        let jobs_dir = data_dir.join("jobs");
        let jobs = tokio::task::spawn_blocking(move || Jobs::local(&jobs_dir)).await??;
        let objects = ObjectStore::local(data_dir.join("objects"));
        let settings = WorkerSettings { database_url: endpoint.clone(), concurrency, ..WorkerSettings::default() };
        let worker = Worker::new(jobs.clone(), objects.clone(), embedder.clone(), settings)?;
        let metrics = worker.metrics();
        let extras = Extras { routes: Some(Routes::new(JobsService::new(jobs.clone()).into_server())), service_names: vec!["percolate.v1.Jobs"], metrics: None };
        let (stop_worker, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(async move { worker.run(stop_rx).await });
        let (stop_node, stopped) = oneshot::channel::<()>();
        let node = tokio::spawn(node.serve(listener, None, extras, async move {
            let _ = stopped.await;
        }));
        Ok(Self { endpoint, objects, embedder, metrics, jobs, stop_worker, worker, stop_node, node })
    }

    /// Stops the worker, then the node, as `percolate dev` does on a signal.
    async fn stop(self) -> Result<()> {
        let _ = self.stop_worker.send(true);
        self.jobs.close();
        self.worker.await?;
        let _ = self.stop_node.send(());
        self.node.await?
    }

    async fn client(&self, tenant: &str) -> Result<Client> {
        Ok(Client::connect(self.endpoint.clone(), tenant).await?)
    }

    /// Seconds spent in embedding model calls so far (the worker's metric).
    fn embedding_seconds(&self) -> f64 {
        self.metrics.render().lines().find_map(|line| line.strip_prefix("percolate_worker_embedding_batch_seconds_sum ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
    }

    /// Ingests a small document into `tenant` so the tenant exists and the
    /// worker and connections are warm before timing.
    async fn warm_up(&self, client: &Client, tenant: &str) -> Result<()> {
        let text = prose::markdown(&mut StdRng::seed_from_u64(1), 0, 100, 150);
        self.objects.put(tenant, "uploads/warm-up.md", text.as_bytes()).await?;
        let job = client.ingest("uploads/warm-up.md", "doc://warm-up").await?;
        finished(client, &job).await?;
        Ok(())
    }
}

/// Waits for `job` to finish; fails unless it succeeded. Returns its chunks.
async fn finished(client: &Client, job: &pb::Job) -> Result<u32> {
    let done = tokio::time::timeout(PHASE_TIMEOUT, client.wait_for_job(&job.id)).await.context("the job did not finish in time")??;
    if done.state() != pb::JobState::Succeeded {
        bail!("job {} ended {}: {}", done.id, done.state().as_str_name(), done.error);
    }
    Ok(done.result.map(|r| r.resources).unwrap_or(0))
}

/// Counts tokens with the embedding model's tokenizer, as the worker does.
struct ModelTokens(Arc<Embedder>);

impl TokenCounter for ModelTokens {
    fn count(&self, text: &str) -> usize {
        self.0.count_tokens(text)
    }
}

/// Seconds to sniff, extract and chunk `files` outside the pipeline, with
/// the worker's settings (the parsing share of the measured time), and the
/// chunks' texts.
async fn parse_seconds(embedder: Arc<Embedder>, files: Vec<(String, Vec<u8>)>) -> Result<(f64, Vec<String>)> {
    tokio::task::spawn_blocking(move || -> Result<(f64, Vec<String>)> {
        let (limits, tools, chunking): (Limits, Tools, ChunkOptions) = {
            let settings = WorkerSettings::default();
            (settings.limits, settings.tools, settings.chunking)
        };
        let counter = ModelTokens(embedder);
        let started = Instant::now();
        let mut chunks = Vec::new();
        for (name, bytes) in &files {
            let kind = percolate_extract::sniff(bytes, None, Some(name))?;
            let document = percolate_extract::extract(bytes, kind, &limits, &tools)?;
            chunks.extend(chunk_sections(&document.sections, &chunking, &counter));
        }
        let seconds = started.elapsed().as_secs_f64();
        let tokens: usize = chunks.iter().map(|c| counter.count(&c.text)).sum();
        eprintln!("{} files: {} chunks of {:.0} tokens on average", files.len(), chunks.len(), tokens as f64 / chunks.len().max(1) as f64);
        Ok((seconds, chunks.into_iter().map(|c| c.text).collect()))
    })
    .await?
}

/// Embeds `texts` outside the pipeline twice: in calls of 32 in document
/// order (what the worker does, so each call pads to its longest chunk),
/// then in one call, which the embedder sorts by length first. Prints both.
async fn padding_check(embedder: Arc<Embedder>, texts: Vec<String>) -> Result<()> {
    tokio::task::spawn_blocking(move || -> Result<()> {
        let started = Instant::now();
        for group in texts.chunks(32) {
            embedder.embed(group)?;
        }
        let in_order = started.elapsed().as_secs_f64();
        let started = Instant::now();
        embedder.embed(&texts)?;
        let sorted = started.elapsed().as_secs_f64();
        eprintln!("embedding {} chunks apart from the pipeline: {in_order:.2} s in calls of 32 in document order, {sorted:.2} s in one call sorted by length", texts.len());
        Ok(())
    })
    .await?
}

/// One measured row.
struct Row {
    /// What was ingested.
    what: String,
    /// Pages or documents.
    items: usize,
    /// "pages" or "docs".
    unit: &'static str,
    /// Resources the jobs wrote.
    chunks: u64,
    /// From the (first) submit to the (last) SUCCEEDED.
    seconds: f64,
    /// Seconds inside embedding calls meanwhile.
    embedding: f64,
    /// Seconds to sniff, extract and chunk the same files apart.
    parsing: f64,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} | {} {} | {} | {:.2} s | {:.2} {}/s | {:.1} chunks/s | {:.2} s ({:.0}%) | {:.2} s ({:.0}%) |",
            self.what,
            self.items,
            self.unit,
            self.chunks,
            self.seconds,
            self.items as f64 / self.seconds,
            self.unit,
            self.chunks as f64 / self.seconds,
            self.embedding,
            100.0 * self.embedding / self.seconds,
            self.parsing,
            100.0 * self.parsing / self.seconds,
        );
    }
}

/// Runs the ingestion benchmark and prints its table.
pub async fn run(args: &IngestArgs) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let pipeline = Pipeline::start(scratch.path().join("data"), args.concurrency).await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let pdf_row = measure_pdf(&pipeline, &mut rng, args.pages, args.padding_check).await?;
    let markdown_row = measure_markdown(&pipeline, &mut rng, args.docs).await?;
    pipeline.stop().await?;

    println!("| ingestion, embedded default in one process, worker concurrency {} | items | chunks | submit to last SUCCEEDED | items/s | chunks/s | in embedding calls | extract + chunk (measured apart) |", args.concurrency);
    println!("|---|---|---|---|---|---|---|---|");
    pdf_row.print();
    markdown_row.print();
    Ok(())
}

/// One PDF of `pages` pages: from submit to SUCCEEDED.
async fn measure_pdf(pipeline: &Pipeline, rng: &mut StdRng, pages: usize, padding: bool) -> Result<Row> {
    let tenant = "bench-pdf";
    let client = pipeline.client(tenant).await?;
    pipeline.warm_up(&client, tenant).await?;
    let page_lines: Vec<Vec<String>> = (0..pages).map(|_| pdf::page_lines(rng)).collect();
    let words: usize = page_lines.iter().flatten().map(|l| l.split_whitespace().count()).sum();
    let bytes = pdf::build(&page_lines, "Benchmark report");
    let size = bytes.len();
    pipeline.objects.put(tenant, "uploads/report.pdf", &bytes).await?;

    let embedding_before = pipeline.embedding_seconds();
    let started = Instant::now();
    let job = client.ingest("uploads/report.pdf", "doc://report").await?;
    let chunks = finished(&client, &job).await?;
    let seconds = started.elapsed().as_secs_f64();
    let embedding = pipeline.embedding_seconds() - embedding_before;
    let (parsing, texts) = parse_seconds(pipeline.embedder.clone(), vec![("report.pdf".into(), bytes)]).await?;
    if padding {
        padding_check(pipeline.embedder.clone(), texts).await?;
    }
    let what = format!("PDF, {pages} pages of prose ({} words/page, {} KiB)", words / pages.max(1), size / 1024);
    Ok(Row { what, items: pages, unit: "pages", chunks: u64::from(chunks), seconds, embedding, parsing })
}

/// `docs` Markdown files submitted at once: from the first submit to the
/// last SUCCEEDED.
async fn measure_markdown(pipeline: &Pipeline, rng: &mut StdRng, docs: usize) -> Result<Row> {
    let tenant = "bench-md";
    let client = pipeline.client(tenant).await?;
    pipeline.warm_up(&client, tenant).await?;
    let mut files = Vec::with_capacity(docs);
    let mut words = 0;
    for i in 0..docs {
        let text = prose::markdown(rng, i, 200, 400);
        words += text.split_whitespace().filter(|w| !w.starts_with('#')).count();
        let key = format!("uploads/note-{i:04}.md");
        pipeline.objects.put(tenant, &key, text.as_bytes()).await?;
        files.push((key, text.into_bytes()));
    }

    let embedding_before = pipeline.embedding_seconds();
    let started = Instant::now();
    let mut submitted = Vec::with_capacity(docs);
    for (i, (key, _)) in files.iter().enumerate() {
        submitted.push(client.ingest(key, &format!("doc://note/{i}")).await?);
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    let mut chunks = 0u64;
    // The queue is first in, first out: waiting in order ends at the last.
    for job in &submitted {
        chunks += u64::from(finished(&client, job).await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let embedding = pipeline.embedding_seconds() - embedding_before;
    eprintln!("submitting {docs} jobs took {submit_seconds:.2} s");
    let named: Vec<(String, Vec<u8>)> = files.into_iter().map(|(key, bytes)| (key.rsplit('/').next().unwrap_or_default().to_string(), bytes)).collect();
    let (parsing, _) = parse_seconds(pipeline.embedder.clone(), named).await?;
    Ok(Row { what: format!("Markdown, {docs} files of 200-400 words ({} words on average)", words / docs.max(1)), items: docs, unit: "docs", chunks, seconds, embedding, parsing })
}
