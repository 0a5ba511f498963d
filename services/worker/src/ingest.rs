//! The document pipeline: read the file, find out what it is, extract its
//! text, chunk it, embed the chunks, find entities, and write it all back
//! through the Database API.
//!
//! Every write is idempotent: resource ids come from `(uri, ordinal)`,
//! entity ids from `(type, key)`, edges are a set, and the ingestion moment's
//! id comes from the job id. A job delivered twice leaves one copy.

use std::sync::Arc;
use std::time::Instant;

use percolate_extract::{Chunk, Document, FoundEntity, Kind, TokenCounter, chunk_sections, find_entities};
use percolate_proto::v1::{self as pb, JobResult};
use percolate_sdk::{json_to_struct, struct_to_json};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::error::JobError;
use crate::runner::JobRun;

/// Relation from a document entity to what it mentions.
pub const MENTIONS: &str = "mentions";
/// Entity type of an ingested document.
pub const DOCUMENT_TYPE: &str = "document";
/// Most characters of text searched for entities.
const ENTITY_TEXT_CHARS: usize = 2_000_000;
/// Most references a moment carries.
const MAX_MOMENT_REFS: usize = 100;
/// Namespace of ingestion moment ids.
const MOMENT_NAMESPACE: Uuid = Uuid::from_u128(0x6d0a_51c4_9a6e_4f0e_8f7e_2b1c_3d4e_5f60);

/// Ingests the document a job names and returns what it wrote.
pub(crate) async fn ingest_document(run: &JobRun) -> Result<JobResult, JobError> {
    let request = run.job.request.clone().unwrap_or_default();
    run.stage("reading", 0.02).await?;
    let bytes = run.worker.objects.get(&run.tenant, &request.object_key, run.worker.settings.limits.max_file_bytes).await?;

    run.stage("parsing", 0.05).await?;
    let (document, chunks) = parse_and_chunk(run, bytes, &request).await?;
    if chunks.is_empty() {
        return Err(JobError::Permanent(format!("no text found in the {} file", document.kind.content_type())));
    }

    let vectors = embed_chunks(run, &chunks).await?;

    run.stage("writing resources", 0.9).await?;
    let resource_ids = write_resources(run, &request, &document, &chunks, vectors).await?;

    run.stage("extracting entities", 0.95).await?;
    let text = joined_text(&chunks);
    let found = tokio::task::spawn_blocking(move || find_entities(&text)).await.map_err(|e| JobError::Permanent(format!("entity extraction crashed: {e}")))?;
    let (document_id, entity_ids) = write_entities(run, &request, &document, chunks.len(), &found).await?;

    run.stage("recording the moment", 0.98).await?;
    write_moment(run, &request, &document, &resource_ids, &document_id, &entity_ids).await?;
    Ok(JobResult { resources: resource_ids.len() as u32, entities: entity_ids.len() as u32 + 1, moments: 1 })
}

/// Sniffs, extracts (or transcribes through the configured service) and
/// chunks; parsing runs on blocking threads.
async fn parse_and_chunk(run: &JobRun, bytes: Vec<u8>, request: &pb::SubmitJobRequest) -> Result<(Document, Vec<Chunk>), JobError> {
    let declared = (!request.content_type.is_empty()).then(|| request.content_type.clone());
    let name = request.object_key.rsplit('/').next().map(str::to_string);
    let (kind, bytes) = on_blocking_thread(move || Ok((percolate_extract::sniff(&bytes, declared.as_deref(), name.as_deref())?, bytes))).await?;
    let document = match (&run.worker.transcriber, kind) {
        (Some(transcriber), Kind::Audio) => crate::speech::transcribe(run, transcriber, bytes).await?,
        _ => {
            let settings = run.worker.settings.clone();
            on_blocking_thread(move || Ok(percolate_extract::extract(&bytes, kind, &settings.limits, &settings.tools)?)).await?
        }
    };
    let settings = run.worker.settings.clone();
    let counter = ModelTokens(run.worker.embedder.clone());
    on_blocking_thread(move || {
        let chunks = chunk_sections(&document.sections, &settings.chunking, &counter);
        Ok((document, chunks))
    })
    .await
}

/// Runs parser code on a blocking thread. A parser panic (some third-party
/// parsers panic on hostile files) fails the job, not the worker.
async fn on_blocking_thread<T: Send + 'static>(work: impl FnOnce() -> Result<T, JobError> + Send + 'static) -> Result<T, JobError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(JobError::Permanent("the parser crashed on this file (it is probably corrupt)".into())),
        Err(e) => Err(JobError::Retryable(format!("parsing was interrupted: {e}"))),
    }
}

/// Counts tokens with the embedding model's own tokenizer.
struct ModelTokens(Arc<percolate_embedder::Embedder>);

impl TokenCounter for ModelTokens {
    fn count(&self, text: &str) -> usize {
        self.0.count_tokens(text)
    }
}

/// Embeds chunks in batches, reporting progress (and noticing a cancel)
/// after each batch. Batches are formed from chunks of similar token counts
/// (a batch is padded to its longest input), and the vectors are returned
/// in chunk order.
async fn embed_chunks(run: &JobRun, chunks: &[Chunk]) -> Result<Vec<Vec<f32>>, JobError> {
    let batch = run.worker.settings.embed_batch.max(1);
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| chunks[i].tokens);
    let mut vectors = vec![Vec::new(); chunks.len()];
    for (done, group) in order.chunks(batch).enumerate() {
        run.stage("embedding", 0.1 + 0.8 * (done * batch) as f32 / chunks.len() as f32).await?;
        let texts: Vec<String> = group.iter().map(|&i| chunks[i].text.clone()).collect();
        let embedder = run.worker.embedder.clone();
        let started = Instant::now();
        let embedded = tokio::task::spawn_blocking(move || embedder.embed(&texts)).await.map_err(|e| JobError::Retryable(format!("embedding was interrupted: {e}")))??;
        run.worker.metrics.observe_embedding(started.elapsed(), group.len());
        if embedded.len() != group.len() {
            return Err(JobError::Retryable(format!("the model returned {} vectors for {} chunks", embedded.len(), group.len())));
        }
        for (&i, vector) in group.iter().zip(embedded) {
            vectors[i] = vector;
        }
    }
    Ok(vectors)
}

fn joined_text(chunks: &[Chunk]) -> String {
    let mut text = String::new();
    for chunk in chunks {
        if text.len() >= ENTITY_TEXT_CHARS {
            break;
        }
        text.push_str(&chunk.text);
        text.push_str("\n\n");
    }
    text
}

/// Metadata of one chunk: where it came from, plus the caller's metadata.
fn chunk_metadata(request: &pb::SubmitJobRequest, document: &Document, chunk: &Chunk, job_id: &str) -> Json {
    let mut map: Map<String, Json> = request.metadata.as_ref().map(struct_to_json).and_then(|v| v.as_object().cloned()).unwrap_or_default();
    map.insert("source_object".into(), json!(request.object_key));
    map.insert("job_id".into(), json!(job_id));
    if let Some(title) = &document.title {
        map.insert("title".into(), json!(title));
    }
    let location = [
        ("heading", chunk.heading.as_ref().map(|h| json!(h))),
        ("sheet", chunk.sheet.as_ref().map(|s| json!(s))),
        ("page", chunk.page_start.map(|p| json!(p))),
        ("page_end", chunk.page_end.filter(|end| Some(*end) != chunk.page_start).map(|p| json!(p))),
        ("start_ms", chunk.start_ms.map(|t| json!(t))),
        ("end_ms", chunk.end_ms.map(|t| json!(t))),
        ("ocr", chunk.ocr.then(|| json!(true))),
    ];
    for (key, value) in location {
        if let Some(value) = value {
            map.insert(key.to_string(), value);
        }
    }
    Json::Object(map)
}

async fn write_resources(run: &JobRun, request: &pb::SubmitJobRequest, document: &Document, chunks: &[Chunk], vectors: Vec<Vec<f32>>) -> Result<Vec<String>, JobError> {
    let content_type = document.kind.content_type().to_string();
    let resources: Vec<pb::Resource> = chunks
        .iter()
        .zip(vectors)
        .enumerate()
        .map(|(ordinal, (chunk, embedding))| pb::Resource {
            uri: request.uri.clone(),
            chunk_ordinal: ordinal as u32,
            content: chunk.text.clone(),
            content_type: content_type.clone(),
            metadata: chunk_metadata(request, document, chunk, &run.job.id).as_object().map(json_to_struct),
            tags: request.tags.clone(),
            embedding,
            ..Default::default()
        })
        .collect();
    let mut ids = Vec::with_capacity(resources.len());
    let batch = run.worker.settings.write_batch.max(1);
    let mut rest = resources.into_iter().peekable();
    let mut first = true;
    while rest.peek().is_some() {
        let group: Vec<pb::Resource> = rest.by_ref().take(batch).collect();
        // The first batch replaces the uri whole (older chunks beyond the
        // new count go); later batches add to it.
        let message = pb::PutResourcesRequest { resources: group, replace_uris: first, embedding_model: run.worker.embedder.model_id().to_string(), ..Default::default() };
        let response = run.db.raw().put_resources(run.db.request(message)).await.map_err(percolate_sdk::Error::from)?.into_inner();
        ids.extend(response.ids);
        first = false;
        run.heartbeat().await;
    }
    Ok(ids)
}

async fn write_entities(run: &JobRun, request: &pb::SubmitJobRequest, document: &Document, chunks: usize, found: &[FoundEntity]) -> Result<(String, Vec<String>), JobError> {
    let mut properties = Map::new();
    properties.insert("uri".into(), json!(request.uri));
    properties.insert("content_type".into(), json!(document.kind.content_type()));
    properties.insert("chunks".into(), json!(chunks));
    properties.insert("source_object".into(), json!(request.object_key));
    if let Some(title) = &document.title {
        properties.insert("title".into(), json!(title));
    }
    if let Some(pages) = document.pages {
        properties.insert("pages".into(), json!(pages));
    }
    let document_entity = pb::EntityUpsert { r#type: DOCUMENT_TYPE.into(), key: request.uri.clone(), properties: Some(json_to_struct(&properties)) };
    let upserts: Vec<pb::EntityUpsert> = std::iter::once(document_entity)
        .chain(found.iter().map(|f| {
            let mut props = Map::new();
            props.insert("name".into(), json!(f.name));
            pb::EntityUpsert { r#type: f.kind.as_str().into(), key: f.key.clone(), properties: Some(json_to_struct(&props)) }
        }))
        .collect();
    let mut ids = Vec::with_capacity(upserts.len());
    for group in upserts.chunks(run.worker.settings.write_batch.max(1)) {
        let message = pb::UpsertEntitiesRequest { entities: group.to_vec(), ..Default::default() };
        let response = run.db.raw().upsert_entities(run.db.request(message)).await.map_err(percolate_sdk::Error::from)?.into_inner();
        ids.extend(response.entities.into_iter().map(|e| e.id));
    }
    let Some((document_id, mentioned)) = ids.split_first() else { return Err(JobError::Retryable("the database returned no entity ids".into())) };
    let edges: Vec<pb::Edge> = mentioned
        .iter()
        .zip(found)
        .map(|(dst, f)| {
            let mut props = Map::new();
            props.insert("count".into(), json!(f.count));
            pb::Edge { src: document_id.clone(), dst: dst.clone(), rel_type: MENTIONS.into(), properties: Some(json_to_struct(&props)), weight: f.count as f32 }
        })
        .collect();
    for group in edges.chunks(run.worker.settings.write_batch.max(1)) {
        let message = pb::AddEdgesRequest { edges: group.to_vec(), ..Default::default() };
        run.db.raw().add_edges(run.db.request(message)).await.map_err(percolate_sdk::Error::from)?;
    }
    Ok((document_id.clone(), mentioned.to_vec()))
}

async fn write_moment(run: &JobRun, request: &pb::SubmitJobRequest, document: &Document, resource_ids: &[String], document_id: &str, entity_ids: &[String]) -> Result<(), JobError> {
    let id = Uuid::new_v5(&MOMENT_NAMESPACE, format!("{}/{}", run.tenant, run.job.id).as_bytes());
    let title = document.title.clone().unwrap_or_else(|| request.uri.clone());
    let summary = format!("{} chunks of {} from {}; {} entities mentioned", resource_ids.len(), document.kind.content_type(), request.object_key, entity_ids.len());
    let mut metadata = Map::new();
    metadata.insert("job_id".into(), json!(run.job.id));
    metadata.insert("uri".into(), json!(request.uri));
    let moment = pb::Moment {
        id: id.to_string(),
        name: format!("Ingested {title}"),
        summary,
        start_time: run.job.created_at,
        end_time: Some(now_timestamp()),
        moment_type: "ingestion".into(),
        tags: request.tags.clone(),
        entity_refs: std::iter::once(document_id.to_string()).chain(entity_ids.iter().cloned()).take(MAX_MOMENT_REFS).collect(),
        resource_refs: resource_ids.iter().take(MAX_MOMENT_REFS).cloned().collect(),
        metadata: Some(json_to_struct(&metadata)),
    };
    let message = pb::PutMomentsRequest { moments: vec![moment], ..Default::default() };
    run.db.raw().put_moments(run.db.request(message)).await.map_err(percolate_sdk::Error::from)?;
    Ok(())
}

fn now_timestamp() -> prost_types::Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 }
}

/// The job's kind decides the pipeline.
pub(crate) async fn run_job(run: &JobRun) -> Result<JobResult, JobError> {
    match run.job.kind() {
        pb::JobKind::IngestDocument => ingest_document(run).await,
        other => Err(JobError::Permanent(format!("this worker does not run {} jobs", other.as_str_name()))),
    }
}

