//! Client subcommands of `percolate`, built on the Rust SDK.

use anyhow::{Context, Result};
use clap::Subcommand;
use percolate_sdk::{Client, EntityInput, MomentInput, ResourceInput, pb};

use crate::output;

/// Commands that talk to a running server.
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Write a resource chunk (embedded by the server when no --embedding is given).
    Put {
        /// The document's uri.
        #[arg(long)]
        uri: String,
        /// Chunk ordinal.
        #[arg(long, default_value_t = 0)]
        ordinal: u32,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Comma-separated embedding components.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        embedding: Vec<f32>,
        /// Replace every other chunk of the uri.
        #[arg(long)]
        replace: bool,
        /// The chunk's text.
        content: String,
    },
    /// Find resources closest in meaning to a text or a vector.
    Search {
        /// Query text (embedded by the server).
        #[arg(long, conflicts_with = "vector", required_unless_present = "vector")]
        text: Option<String>,
        /// Comma-separated query vector.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        vector: Vec<f32>,
        /// Number of hits.
        #[arg(long, default_value_t = 10)]
        top_k: u32,
        /// Only resources with all of these tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Only resources whose uri starts with this.
        #[arg(long, default_value = "")]
        uri_prefix: String,
    },
    /// Entities: upsert and get.
    #[command(subcommand)]
    Entity(EntityCommand),
    /// Add an edge between two entities, named `type/key`.
    Link {
        /// Source entity, `type/key`.
        src: String,
        /// Relation type.
        rel_type: String,
        /// Destination entity, `type/key`.
        dst: String,
    },
    /// Walk the graph from an entity named `type/key`.
    Traverse {
        /// Start entity, `type/key`.
        start: String,
        /// Most hops.
        #[arg(long, default_value_t = 2)]
        depth: u32,
        /// Only these relation types.
        #[arg(long, value_delimiter = ',')]
        rel: Vec<String>,
        /// outgoing, incoming or both.
        #[arg(long, default_value = "outgoing")]
        direction: String,
    },
    /// Record a moment.
    Moment {
        /// What happened.
        name: String,
        /// Kind of moment.
        #[arg(long, default_value = "")]
        r#type: String,
        /// Description.
        #[arg(long, default_value = "")]
        summary: String,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// List moments, newest first.
    Feed {
        /// Only moments of this type.
        #[arg(long)]
        r#type: Option<String>,
        /// Most moments.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Counts and settings of the tenant.
    Stats,
    /// Queue ingestion of an uploaded file (an object key in the tenant's
    /// object store) as the resources of `uri`; `--wait` follows it.
    Ingest {
        /// The uploaded file's object key, for example `uploads/report.pdf`.
        object_key: String,
        /// The uri the document's chunks get.
        #[arg(long)]
        uri: String,
        /// Comma-separated tags for every chunk.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Content type, if known (the content is sniffed anyway).
        #[arg(long, default_value = "")]
        content_type: String,
        /// Follow the job until it finishes.
        #[arg(long)]
        wait: bool,
    },
    /// Upload files (streamed to the Upload service) for ingestion;
    /// `--wait` follows their jobs and prints a summary of each.
    Upload {
        /// The files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// The uri of the resources (one file only; default `upload://<name>`).
        #[arg(long)]
        uri: Option<String>,
        /// Comma-separated tags for every chunk.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Follow the jobs until they finish.
        #[arg(long)]
        wait: bool,
    },
    /// Background jobs: list, show, cancel, follow.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Ask the tenant's memory: `-m "question"`, or one question per line
    /// (the conversation is kept). Prints the sources, then the answer as it
    /// is written.
    Chat(crate::chat::ChatArgs),
}

/// Job subcommands.
#[derive(Subcommand)]
pub enum JobsCommand {
    /// The tenant's jobs, newest first.
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
        /// Most jobs.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One job.
    Get {
        /// The job id.
        id: String,
    },
    /// Cancel a job that has not finished.
    Cancel {
        /// The job id.
        id: String,
    },
    /// Print the job at each change until it finishes.
    Watch {
        /// The job id.
        id: String,
    },
}

fn job_state(name: &str) -> Result<pb::JobState> {
    pb::JobState::from_str_name(&format!("JOB_STATE_{}", name.to_uppercase())).filter(|s| *s != pb::JobState::Unspecified).with_context(|| format!("unknown job state '{name}' (queued, running, succeeded, failed, cancelled)"))
}

/// Entity subcommands.
#[derive(Subcommand)]
pub enum EntityCommand {
    /// Create an entity or merge properties into it.
    Upsert {
        /// Entity type.
        r#type: String,
        /// Entity key.
        key: String,
        /// Properties as a JSON object.
        #[arg(long, default_value = "{}")]
        props: String,
    },
    /// Show an entity with its edges.
    Get {
        /// Entity type.
        r#type: String,
        /// Entity key.
        key: String,
    },
}

/// Resolves `type/key` to an entity id.
async fn entity_id(client: &Client, name: &str) -> Result<String> {
    let (entity_type, key) = name.split_once('/').with_context(|| format!("'{name}' is not of the form type/key"))?;
    let entity = client.get_entity(entity_type, key).await?.with_context(|| format!("entity {name} does not exist"))?;
    Ok(entity.id)
}

/// Runs a client command and prints its result.
pub async fn run(client: &Client, command: ClientCommand, json: bool) -> Result<()> {
    match command {
        ClientCommand::Put { uri, ordinal, tags, embedding, replace, content } => {
            let input = ResourceInput::new(uri, content).ordinal(ordinal).tags(tags).embedding(embedding);
            let written = client.put_resources(vec![input], replace).await?;
            output::ids(&written.ids, json);
        }
        ClientCommand::Search { text, vector, top_k, tags, uri_prefix } => {
            let query = match text {
                Some(text) => pb::search_resources_request::Query::Text(text),
                None => pb::search_resources_request::Query::Vector(pb::Vector { values: vector }),
            };
            let request = pb::SearchResourcesRequest {
                query: Some(query),
                top_k,
                filter: Some(pb::ResourceFilter { tags_all: tags, uri_prefix, ..Default::default() }),
                ..Default::default()
            };
            output::hits(&client.search(request).await?.hits, json);
        }
        ClientCommand::Entity(EntityCommand::Upsert { r#type, key, props }) => {
            let props: serde_json::Value = serde_json::from_str(&props).context("--props is not JSON")?;
            anyhow::ensure!(props.is_object(), "--props must be a JSON object");
            let stored = client.upsert_entities(vec![EntityInput::new(r#type, key).properties(props)]).await?;
            output::entities(&stored, json);
        }
        ClientCommand::Entity(EntityCommand::Get { r#type, key }) => match client.get_entity(&r#type, &key).await? {
            Some(entity) => output::entities(&[entity], json),
            None => anyhow::bail!("entity {}/{key} does not exist", r#type),
        },
        ClientCommand::Link { src, rel_type, dst } => {
            let (src, dst) = (entity_id(client, &src).await?, entity_id(client, &dst).await?);
            client.add_edge(&src, &rel_type, &dst).await?;
            println!("{src} -[{rel_type}]-> {dst}");
        }
        ClientCommand::Traverse { start, depth, rel, direction } => {
            let direction = match direction.as_str() {
                "outgoing" => pb::Direction::Outgoing,
                "incoming" => pb::Direction::Incoming,
                "both" => pb::Direction::Both,
                other => anyhow::bail!("--direction must be outgoing, incoming or both, not '{other}'"),
            };
            let request = pb::TraverseRequest { start_ids: vec![entity_id(client, &start).await?], max_depth: depth, direction: direction as i32, rel_types: rel, limit: 0 };
            output::traversal(&client.traverse(request).await?, json);
        }
        ClientCommand::Moment { name, r#type, summary, tags } => {
            let ids = client.put_moments(vec![MomentInput::new(name).moment_type(r#type).summary(summary).tags(tags)]).await?;
            output::ids(&ids, json);
        }
        ClientCommand::Feed { r#type, limit } => {
            let request = pb::ListMomentsRequest { moment_types: r#type.into_iter().collect(), page_size: limit, ..Default::default() };
            output::moments(&client.list_moments(request).await?.moments, json);
        }
        ClientCommand::Stats => output::stats(&client.tenant_stats().await?, json),
        ClientCommand::Ingest { object_key, uri, tags, content_type, wait } => {
            let request = pb::SubmitJobRequest { kind: pb::JobKind::IngestDocument as i32, object_key, uri, tags, content_type, ..Default::default() };
            let job = client.submit_job(request).await?;
            let job = if wait { client.wait_for_job(&job.id).await? } else { job };
            output::jobs(&[job], json);
        }
        ClientCommand::Upload { files, uri, tags, wait } => crate::upload::run(client, crate::upload::UploadArgs { files, uri, tags, wait }, json).await?,
        ClientCommand::Jobs(command) => run_jobs(client, command, json).await?,
        ClientCommand::Chat(args) => {
            crate::chat::run(client, args, json).await?;
        }
    }
    Ok(())
}

async fn run_jobs(client: &Client, command: JobsCommand, json: bool) -> Result<()> {
    match command {
        JobsCommand::List { state, limit } => {
            let states = state.as_deref().map(job_state).transpose()?.into_iter().map(|s| s as i32).collect();
            let page = client.list_jobs(pb::ListJobsRequest { states, page_size: limit, cursor: String::new() }).await?;
            output::jobs(&page.jobs, json);
        }
        JobsCommand::Get { id } => output::jobs(&[client.get_job(&id).await?], json),
        JobsCommand::Cancel { id } => output::jobs(&[client.cancel_job(&id).await?], json),
        JobsCommand::Watch { id } => {
            let mut updates = client.watch_job(&id).await?;
            while let Some(job) = updates.message().await? {
                output::jobs(&[job], json);
            }
        }
    }
    Ok(())
}
