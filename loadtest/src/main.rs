//! `percolate-bench`: measures put throughput, exact search latency, entity
//! get and traversal latency through gRPC, and tenant open time. Prints a
//! Markdown table for `docs/benchmarks.md`.
//!
//! By default it starts a database node in-process on a free loopback port
//! with a temporary data directory; `--endpoint` measures a running node.
//! `percolate-bench embed` measures the embedder against the Python peer,
//! `percolate-bench ingest` the ingestion pipeline of the embedded default,
//! `percolate-bench upload` the gateway against direct S3 puts,
//! `percolate-bench chat` chat latency beside a plain search.

mod chat;
mod embed;
mod ingest;
mod pdf;
mod prose;
mod replication;
mod restore;
mod stats;
mod upload;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use percolate_rem::model::ResourceData;
use percolate_rem::mutation::PutResources;
use percolate_rem::{Op, StoreConfig, TenantId, TenantStore};
use percolate_sdk::{Client, EntityInput, ResourceInput, pb};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::stats::{Report, Samples};

/// Benchmarks for Percolate. Without a subcommand: writes, search, graph
/// and tenant open.
#[derive(Parser)]
#[command(name = "percolate-bench", args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Bench>,
    /// Measure this running node instead of starting one.
    #[arg(long)]
    endpoint: Option<String>,
    /// Vector dimension.
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Searches per measured size.
    #[arg(long, default_value_t = 1000)]
    searches: usize,
    /// Largest tenant size for the search benchmark.
    #[arg(long, default_value_t = 100_000)]
    max_vectors: usize,
    /// Resources per put request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Only the tenant-open benchmark.
    #[arg(long)]
    open_only: bool,
    /// Entities in the graph benchmark.
    #[arg(long, default_value_t = 10_000)]
    entities: usize,
}

/// The other benchmarks.
#[derive(clap::Subcommand)]
enum Bench {
    /// Embedding throughput, Rust in process against the Python peer on the
    /// same sentences, and query embedding latency.
    Embed(embed::EmbedArgs),
    /// End-to-end ingestion in the embedded default: one multi-page PDF,
    /// then many small Markdown files submitted at once.
    Ingest(ingest::IngestArgs),
    /// Upload throughput through the gateway against direct S3 puts, and
    /// the gateway's memory.
    Upload(upload::UploadArgs),
    /// Write latency (local and wait-for-the-log) and replication lag across
    /// three database nodes on one NATS server.
    Replication(replication::ReplicationArgs),
    /// Restore time of a tenant from its snapshot plus log replay, and the
    /// first-call latency on nodes that did not hold it.
    Restore(restore::RestoreArgs),
    /// Chat latency (first citation, first piece, done) in extractive mode
    /// and with a model on loopback, beside a plain text search.
    Chat(chat::ChatArgs),
}

fn random_vector(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    match &args.command {
        Some(Bench::Embed(embed)) => return embed::run(embed),
        Some(Bench::Ingest(ingest)) => return ingest::run(ingest).await,
        Some(Bench::Upload(upload)) => return upload::run(upload).await,
        Some(Bench::Replication(replication)) => return replication::run(replication).await,
        Some(Bench::Restore(restore)) => return restore::run(restore).await,
        Some(Bench::Chat(chat)) => return chat::run(chat).await,
        None => {}
    }
    let scratch = tempfile::tempdir()?;
    let endpoint = match &args.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => start_node(scratch.path().join("node")).await?,
    };
    let client = Client::connect(endpoint.clone(), "bench").await?;
    let mut rng = StdRng::seed_from_u64(42);
    let mut report = Report::default();
    if args.open_only {
        report.latency("tenant open, 10k resources with vectors (engine)", &measure_tenant_open(scratch.path().join("open"), args.dim)?);
        report.print();
        return Ok(());
    }

    // Puts and search at 10k, then grow to max_vectors and search again.
    let mut loaded = 0;
    for target in [10_000, args.max_vectors] {
        let started = Instant::now();
        let put_latency = load_resources(&client, &mut rng, args.dim, args.batch, loaded, target).await?;
        let elapsed = started.elapsed();
        if loaded == 0 {
            report.throughput(&format!("put resources ({}-d vectors, batches of {})", args.dim, args.batch), (target - loaded) as f64 / elapsed.as_secs_f64(), "resources/s");
            report.latency(&format!("put batch of {} (fsync on)", args.batch), &put_latency);
        }
        loaded = target;
        let searches = measure_search(&client, &mut rng, args.dim, args.searches).await?;
        report.latency(&format!("search top-10, exact, {}k vectors (gRPC)", target / 1000), &searches);
    }

    let (gets, hops) = measure_graph(&client, &mut rng, args.entities).await?;
    report.latency("entity get by id (gRPC)", &gets);
    report.latency("traverse 2 hops, 5 edges/entity, limit 100 (gRPC)", &hops);

    let text_client = client.with_tenant("bench-text")?;
    let started = Instant::now();
    let (put_text, chunks) = load_text(&text_client, &mut rng).await?;
    report.throughput("put text-only chunks, ~40 words, embedded on the node (batches of 32)", chunks as f64 / started.elapsed().as_secs_f64(), "chunks/s");
    report.latency("put batch of 32 text-only chunks (embedding + fsync)", &put_text);
    report.latency(&format!("search by text, top-10, {chunks} chunks (embed query + exact search, gRPC)"), &measure_text_search(&text_client, &mut rng).await?);

    let open = measure_tenant_open(scratch.path().join("open"), args.dim)?;
    report.latency("tenant open, 10k resources with vectors (engine)", &open);

    report.print();
    Ok(())
}

/// Starts a node in this process on a free port; returns its endpoint.
async fn start_node(data_dir: std::path::PathBuf) -> Result<String> {
    let config = percolate_database::DbConfig { data_dir, admin_listen: None, ..Default::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = percolate_database::serve(config, listener, None, std::future::pending()).await {
            eprintln!("node failed: {error}");
        }
    });
    Ok(format!("http://{addr}"))
}

async fn load_resources(client: &Client, rng: &mut StdRng, dim: usize, batch: usize, from: usize, to: usize) -> Result<Samples> {
    let mut latency = Samples::default();
    for start in (from..to).step_by(batch) {
        let chunks = (start..(start + batch).min(to)).map(|i| ResourceInput::new(format!("bench://doc/{}", i / 10), format!("chunk {i}")).ordinal((i % 10) as u32).embedding(random_vector(rng, dim)).tags([format!("t{}", i % 7)])).collect();
        let started = Instant::now();
        client.put_resources(chunks, false).await?;
        latency.push(started.elapsed());
    }
    Ok(latency)
}

async fn measure_search(client: &Client, rng: &mut StdRng, dim: usize, n: usize) -> Result<Samples> {
    let mut latency = Samples::default();
    for _ in 0..n {
        let query = random_vector(rng, dim);
        let started = Instant::now();
        let hits = client.search_vector(query, 10).await?;
        latency.push(started.elapsed());
        anyhow::ensure!(hits.len() == 10, "search returned {} hits", hits.len());
    }
    Ok(latency)
}

const WORDS: [&str; 24] = [
    "memory", "agent", "database", "vector", "tenant", "graph", "moment", "search", "invoice", "customer", "meeting", "project",
    "deadline", "report", "revenue", "engineer", "release", "incident", "design", "budget", "contract", "travel", "policy", "support",
];

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

/// Writes text-only chunks that the node embeds; returns put latencies and the chunk count.
async fn load_text(client: &Client, rng: &mut StdRng) -> Result<(Samples, usize)> {
    let mut latency = Samples::default();
    let total = 1024;
    for start in (0..total).step_by(32) {
        let chunks = (start..start + 32).map(|i| ResourceInput::new(format!("text://doc/{}", i / 8), sentence(rng, 40)).ordinal((i % 8) as u32)).collect();
        let started = Instant::now();
        let written = client.put_resources(chunks, false).await?;
        latency.push(started.elapsed());
        anyhow::ensure!(written.embedded_by_node == 32, "the node did not embed (is the model installed? run scripts/bootstrap)");
    }
    Ok((latency, total))
}

async fn measure_text_search(client: &Client, rng: &mut StdRng) -> Result<Samples> {
    let mut latency = Samples::default();
    for _ in 0..200 {
        let query = sentence(rng, 6);
        let started = Instant::now();
        let hits = client.search_text(&query, 10).await?;
        latency.push(started.elapsed());
        anyhow::ensure!(hits.len() == 10, "text search returned {} hits", hits.len());
    }
    Ok(latency)
}

async fn measure_graph(client: &Client, rng: &mut StdRng, n: usize) -> Result<(Samples, Samples)> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(500) {
        let batch = (start..(start + 500).min(n)).map(|i| EntityInput::new("node", format!("n{i}")).properties(serde_json::json!({"rank": i, "name": format!("node {i}")}))).collect();
        ids.extend(client.upsert_entities(batch).await?.into_iter().map(|e| e.id));
    }
    let mut edges = Vec::new();
    for src in &ids {
        for _ in 0..5 {
            edges.push(pb::Edge { src: src.clone(), dst: ids[rng.random_range(0..n)].clone(), rel_type: "links".into(), ..Default::default() });
        }
        if edges.len() >= 1000 {
            client.add_edges(std::mem::take(&mut edges)).await?;
        }
    }
    if !edges.is_empty() {
        client.add_edges(edges).await?;
    }
    let mut gets = Samples::default();
    for _ in 0..5000 {
        let id = ids[rng.random_range(0..n)].clone();
        let started = Instant::now();
        let got = client.get_entities(vec![id], false).await?;
        gets.push(started.elapsed());
        anyhow::ensure!(got.entities.len() == 1, "entity missing");
    }
    let mut hops = Samples::default();
    for _ in 0..1000 {
        let start = ids[rng.random_range(0..n)].clone();
        let request = pb::TraverseRequest { start_ids: vec![start], max_depth: 2, limit: 100, ..Default::default() };
        let started = Instant::now();
        client.traverse(request).await?;
        hops.push(started.elapsed());
    }
    Ok((gets, hops))
}

/// Writes 10k resources to a tenant, then closes and reopens it repeatedly.
fn measure_tenant_open(dir: std::path::PathBuf, dim: usize) -> Result<Samples> {
    let store = Arc::new(TenantStore::open(StoreConfig { sync_writes: false, ..StoreConfig::new(&dir) })?);
    let tenant_id = TenantId::parse("open-bench")?;
    let mut rng = StdRng::seed_from_u64(7);
    {
        let tenant = store.tenant(&tenant_id)?;
        for start in (0..10_000).step_by(500) {
            let resources = (start..start + 500)
                .map(|i| ResourceData { uri: format!("bench://{}", i / 10), chunk_ordinal: i % 10, content: format!("chunk {i} ").repeat(20), embedding: random_vector(&mut rng, dim), ..Default::default() })
                .collect();
            tenant.write(Op::PutResources(PutResources { resources, replace_uris: false, embedding_model: String::new() }))?;
        }
    }
    let mut samples = Samples::default();
    let mut inner = Samples::default();
    for _ in 0..20 {
        store.close_all();
        let started = Instant::now();
        let tenant = store.tenant(&tenant_id)?;
        samples.push(started.elapsed());
        anyhow::ensure!(tenant.dimension() == dim, "vectors not loaded");
        inner.push(tenant.opened_in());
    }
    eprintln!("tenant open inside Tenant::open: p50 {:?} max {:?}", inner.quantile(0.5), inner.quantile(1.0));
    Ok(samples)
}
