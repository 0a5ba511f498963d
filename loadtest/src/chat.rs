//! Chat latency on a real `percolate-db` with the embedding model: a tenant
//! of `resources` prose chunks (embedded by the node), entities named in
//! them with edges, and moments; then questions asked three ways, side by
//! side: a plain `SearchResources` (the retrieval floor), `Chat` in
//! extractive mode, and `Chat` written by an OpenAI-compatible server on
//! loopback (`testkit/servers/chat_server.py`, 10 ms between pieces). For
//! each: time to the first citation, to the first piece of text, to `done`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use percolate_sdk::{Client, EntityInput, ResourceInput, pb};
use percolate_testkit::{CHAT_API_KEY, ChatServer, ServerProcess};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::prose;
use crate::stats::{Report, Samples};

/// Options of `percolate-bench chat`.
#[derive(clap::Args)]
pub struct ChatArgs {
    /// Resource chunks in the tenant (embedded by the node).
    #[arg(long, default_value_t = 2000)]
    resources: usize,
    /// Questions asked per mode.
    #[arg(long, default_value_t = 50)]
    questions: usize,
}

/// Times of one answer.
#[derive(Default)]
struct Timings {
    citation: Samples,
    first_piece: Samples,
    done: Samples,
}

fn start_node(dir: &tempfile::TempDir, server: &ChatServer) -> Result<ServerProcess> {
    let binary = std::env::current_exe()?.parent().context("binary directory")?.join("percolate-db");
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--embedding-mode", "required", "--chat-url", server.base_url(), "--chat-model", "bench-model", "--data-dir"])
        .arg(dir.path())
        .env("PERCOLATE_CHAT_API_KEY", CHAT_API_KEY)
        .env("RUST_LOG", "warn");
    Ok(ServerProcess::start(command))
}

async fn seed(client: &Client, rng: &mut StdRng, resources: usize) -> Result<Vec<String>> {
    let mut questions = Vec::new();
    for start in (0..resources).step_by(64) {
        let batch: Vec<ResourceInput> = (start..(start + 64).min(resources)).map(|i| ResourceInput::new(format!("doc://bench/{}", i / 4), prose::paragraph(rng, 4)).ordinal((i % 4) as u32)).collect();
        client.put_resources(batch, false).await?;
    }
    let people = ["Maria", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson"];
    let entities: Vec<EntityInput> = people.iter().map(|name| EntityInput::new("person", name.to_lowercase()).properties(serde_json::json!({"name": name}))).collect();
    let stored = client.upsert_entities(entities).await?;
    for pair in stored.windows(2) {
        client.add_edge(&pair[0].id, "works_with", &pair[1].id).await?;
    }
    let moments: Vec<pb::Moment> = (0..200)
        .map(|i| pb::Moment { name: format!("Meeting {i}"), summary: prose::sentence(rng, 8, 16), start_time: Some(prost_types_now(i)), moment_type: "meeting".into(), ..Default::default() })
        .collect();
    client.raw().put_moments(client.request(pb::PutMomentsRequest { moments, ..Default::default() })).await?;
    for i in 0..64 {
        let question = prose::query(rng, 5, 10);
        // Half of them name a person, so entities are looked up too.
        questions.push(if i % 2 == 0 { format!("{} Ask {}.", question, people[rng.random_range(0..people.len())]) } else { question });
    }
    Ok(questions)
}

fn prost_types_now(minutes_ago: u64) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now() - Duration::from_secs(minutes_ago * 60))
}

async fn ask(client: &Client, question: &str, model: &str, timings: &mut Timings) -> Result<()> {
    let started = Instant::now();
    let request = pb::ChatRequest { question: question.into(), model: model.into(), ..Default::default() };
    let mut events = client.chat(request).await?;
    let (mut citation, mut piece) = (None, None);
    while let Some(event) = events.message().await? {
        match event.event {
            Some(pb::chat_event::Event::Citation(_)) => {
                citation.get_or_insert_with(|| started.elapsed());
            }
            Some(pb::chat_event::Event::Delta(_)) => {
                piece.get_or_insert_with(|| started.elapsed());
            }
            Some(pb::chat_event::Event::Done(_)) => {
                timings.citation.push(citation.context("no citation")?);
                timings.first_piece.push(piece.context("no text")?);
                timings.done.push(started.elapsed());
                return Ok(());
            }
            None => {}
        }
    }
    anyhow::bail!("the answer ended without done")
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(args: &ChatArgs) -> Result<()> {
    let server = ChatServer::start();
    let dir = tempfile::tempdir()?;
    let node = start_node(&dir, &server)?;
    let client = Client::connect(format!("http://{}", node.addr_after("on")), "bench").await?;
    let mut rng = StdRng::seed_from_u64(7);
    let seeding = Instant::now();
    let questions = seed(&client, &mut rng, args.resources).await?;
    eprintln!("seeded {} chunks in {:.1} s", args.resources, seeding.elapsed().as_secs_f64());
    let asked: Vec<&String> = questions.iter().cycle().take(args.questions).collect();

    let mut report = Report::default();
    let mut search = Samples::default();
    for question in &asked {
        let started = Instant::now();
        client.search_text(question, 5).await?;
        search.push(started.elapsed());
    }
    report.latency(&format!("SearchResources top-5 by text, {} chunks (retrieval floor)", args.resources), &search);
    for (mode, model) in [("extractive", "extractive"), ("model on loopback", "")] {
        let mut timings = Timings::default();
        for question in &asked {
            ask(&client, question, model, &mut timings).await?;
        }
        report.latency(&format!("Chat {mode}: first citation"), &timings.citation);
        report.latency(&format!("Chat {mode}: first piece of text"), &timings.first_piece);
        report.latency(&format!("Chat {mode}: done"), &timings.done);
    }
    report.print();
    Ok(())
}
