//! The `Database` gRPC service over the tenant store.

use std::sync::Arc;

use percolate_proto::v1 as pb;
use percolate_proto::v1::database_server::Database;
use percolate_rem::mutation::{AddEdges, DeleteResources, IdList, PutMoments, PutResources, RemoveEdges, UpsertEntities};
use percolate_embedder::Embedder;
use percolate_rem::model::ResourceData;
use percolate_rem::stamp::now_micros;
use percolate_rem::validate::MAX_BATCH_ITEMS;
use percolate_rem::{FeedQuery, Op, SearchQuery, Tenant, TenantId, TenantStore, TraverseQuery};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::backfill::Backfill;
use crate::chat::{self, Chat, ChatPlan};
use crate::replication::Replication;
use crate::convert::{self, parse_ids};
use crate::error::DbError;
use crate::tenancy::tenant_of;

type Result<T> = std::result::Result<T, DbError>;

/// Largest `top_k` of a search.
const MAX_TOP_K: u32 = 1000;
/// Largest traversal depth.
const MAX_DEPTH: u32 = 10;
/// Largest traversal result.
const MAX_TRAVERSE_LIMIT: u32 = 10_000;
/// Largest page of the moment feed.
const MAX_PAGE_SIZE: u32 = 1000;
/// Longest a `DURABILITY_REPLICATED` write waits for the log.
const REPLICATED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Most ids in one read.
const MAX_READ_IDS: usize = 1000;

/// Serves `percolate.v1.Database`.
#[derive(Clone)]
pub struct DatabaseService {
    store: Arc<TenantStore>,
    embedder: Option<Arc<Embedder>>,
    backfill: Option<Arc<Backfill>>,
    replication: Option<Arc<Replication>>,
    chat: Chat,
}

impl DatabaseService {
    /// A service over `store`; with an `embedder` it embeds query text and
    /// resources written without a vector, and `backfill` embeds chunks that
    /// were stored without one.
    /// With `replication`, every tenant served is followed in the log and
    /// its local writes are published. `chat` says who writes chat
    /// answers (a language model, or extractive without one).
    pub fn new(store: Arc<TenantStore>, embedder: Option<Arc<Embedder>>, backfill: Option<Arc<Backfill>>, replication: Option<Arc<Replication>>, chat: Chat) -> Self {
        Self { store, embedder, backfill, replication, chat }
    }

    /// Runs a write like [`Self::on_tenant`]; with `DURABILITY_REPLICATED`
    /// it answers only once the replication log has taken the write (and
    /// every earlier one of the tenant), or `UNAVAILABLE` after
    /// [`REPLICATED_TIMEOUT`] (the write is committed here and stays queued).
    async fn on_tenant_write<Req, T>(&self, request: Request<Req>, work: impl FnOnce(&Tenant, Req) -> Result<T> + Send + 'static) -> std::result::Result<Response<T>, Status>
    where
        Req: Durable + Send + 'static,
        T: Send + 'static,
    {
        let replication = match (convert::durability_in(request.get_ref().durability())?, &self.replication) {
            (false, _) => None,
            (true, Some(replication)) => Some(replication.clone()),
            (true, None) => return Err(DbError::FailedPrecondition("DURABILITY_REPLICATED needs replication, which this node does not run (no nats_url)".into()).into()),
        };
        let tenant_id = tenant_of(request.metadata())?;
        let answer = self
            .on_tenant(request, move |tenant, req| {
                let out = work(tenant, req)?;
                Ok((out, tenant.outbox_next_position()))
            })
            .await?;
        let (out, written_below) = answer.into_inner();
        if let Some(replication) = replication {
            replication.wait_published(&tenant_id, written_below, REPLICATED_TIMEOUT).await?;
        }
        Ok(Response::new(out))
    }

    /// Runs `work` on the request's tenant on the blocking pool, inside a
    /// span carrying the tenant id. With replication, the first request
    /// after the tenant was opened here waits until the copy has caught up
    /// with the log (see [`Replication::catch_up`]).
    async fn on_tenant<Req, T>(&self, request: Request<Req>, work: impl FnOnce(&Tenant, Req) -> Result<T> + Send + 'static) -> std::result::Result<Response<T>, Status>
    where
        Req: Send + 'static,
        T: Send + 'static,
    {
        let tenant_id = tenant_of(request.metadata())?;
        Ok(Response::new(self.on_tenant_id(tenant_id, request.into_inner(), work).await?))
    }

    /// [`Self::on_tenant`] for a tenant id already checked.
    pub(crate) async fn on_tenant_id<Req, T>(&self, tenant_id: TenantId, message: Req, work: impl FnOnce(&Tenant, Req) -> Result<T> + Send + 'static) -> Result<T>
    where
        Req: Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        let backfill = self.backfill.clone();
        let replication = self.replication.clone();
        let span = tracing::info_span!("tenant", tenant_id = %tenant_id);
        let current = replication.clone();
        let task = tokio::task::spawn_blocking(move || -> Result<Step<Req, T, _>> {
            let tenant = store.tenant(&tenant_id)?;
            if let Some(backfill) = &backfill {
                backfill.check(&tenant);
            }
            if current.as_ref().is_some_and(|r| !r.is_current(&tenant_id)) {
                return Ok(Step::CatchUpFirst(tenant, message, work));
            }
            let result = work(&tenant, message);
            if let Some(replication) = &current {
                replication.serve_tenant(&tenant);
            }
            Ok(Step::Done(result))
        });
        let joined = |e: tokio::task::JoinError| DbError::Internal(format!("request task failed: {e}"));
        let step = task.instrument(span.clone()).await.map_err(joined)??;
        let result = match step {
            Step::Done(result) => result,
            Step::CatchUpFirst(tenant, message, work) => {
                if let Some(replication) = &replication {
                    replication.catch_up(&tenant).instrument(span.clone()).await;
                }
                tokio::task::spawn_blocking(move || work(&tenant, message)).instrument(span).await.map_err(joined)?
            }
        };
        result
    }
}

/// Where a request stands after its tenant was looked up.
enum Step<Req, T, W> {
    /// The work ran.
    Done(Result<T>),
    /// The tenant must catch up with the log before the work runs.
    CatchUpFirst(Arc<Tenant>, Req, W),
}

/// Embeds, with the node's model, the chunks written without a vector (and
/// with some text). Returns how many; sets `model` to the node's model.
fn embed_missing(embedder: &Embedder, resources: &mut [ResourceData], model: &mut String) -> Result<u32> {
    let pending: Vec<usize> = (0..resources.len()).filter(|&i| resources[i].embedding.is_empty() && !resources[i].content.trim().is_empty()).collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let supplied = resources.iter().any(|r| !r.embedding.is_empty());
    if supplied && model.as_str() != embedder.model_id() {
        return Err(DbError::invalid(format!(
            "this batch mixes supplied embeddings (model '{model}') with chunks this node would embed with '{}': send one kind per request",
            embedder.model_id()
        )));
    }
    let texts: Vec<&str> = pending.iter().map(|&i| resources[i].content.as_str()).collect();
    let vectors = embedder.embed(&texts)?;
    for (i, vector) in pending.iter().zip(vectors) {
        resources[*i].embedding = vector;
    }
    embedder.model_id().clone_into(model);
    Ok(pending.len() as u32)
}

/// The query vector of a text search, refusing tenants whose vectors come
/// from another (or an unknown) model: comparing them would be noise.
fn embed_query(embedder: Option<&Embedder>, tenant: &Tenant, text: &str) -> Result<Vec<f32>> {
    let embedder = query_embedder(embedder, tenant, "search with a vector")?;
    let mut vectors = embedder.embed(&[text])?;
    vectors.pop().ok_or_else(|| DbError::Internal("the model returned no vector".into()))
}

/// The node's model when query text embedded with it can be compared with
/// the tenant's vectors; otherwise why not, followed by `advice` (what the
/// caller can do instead).
pub(crate) fn query_embedder<'a>(embedder: Option<&'a Embedder>, tenant: &Tenant, advice: &str) -> Result<&'a Embedder> {
    let embedder = embedder.ok_or_else(|| DbError::FailedPrecondition(format!("this node has no embedding model: {advice}")))?;
    if tenant.dimension() != 0 {
        match tenant.embedding_model()? {
            Some(model) if model == embedder.model_id() => {}
            Some(model) => {
                return Err(DbError::FailedPrecondition(format!("this tenant's vectors come from model '{model}' but this node embeds with '{}': {advice}", embedder.model_id())));
            }
            None => {
                return Err(DbError::FailedPrecondition(format!(
                    "this tenant's vectors were written without a model name, so text cannot be compared with them: {advice}, or write with embedding_model set"
                )));
            }
        }
    }
    Ok(embedder)
}

fn check_read_ids(n: usize) -> Result<()> {
    if n > MAX_READ_IDS {
        return Err(DbError::invalid(format!("{n} ids in one read; the limit is {MAX_READ_IDS}")));
    }
    Ok(())
}

pub(crate) fn or_default(value: u32, default: u32, max: u32, what: &str) -> Result<u32> {
    match value {
        0 => Ok(default),
        v if v > max => Err(DbError::invalid(format!("{what} {v} is over the limit of {max}"))),
        v => Ok(v),
    }
}

/// Write requests, which name their durability.
trait Durable {
    fn durability(&self) -> i32;
}

macro_rules! durable {
    ($($request:ty),*) => {
        $(impl Durable for $request {
            fn durability(&self) -> i32 {
                self.durability
            }
        })*
    };
}

durable!(
    pb::PutResourcesRequest,
    pb::DeleteResourcesRequest,
    pb::UpsertEntitiesRequest,
    pb::DeleteEntitiesRequest,
    pb::AddEdgesRequest,
    pb::RemoveEdgesRequest,
    pb::PutMomentsRequest,
    pb::DeleteMomentsRequest
);

#[tonic::async_trait]
impl Database for DatabaseService {
    async fn put_resources(&self, request: Request<pb::PutResourcesRequest>) -> std::result::Result<Response<pb::PutResourcesResponse>, Status> {
        let embedder = self.embedder.clone();
        self.on_tenant_write(request, move |tenant, req| {
                        // Before any embedding work: an oversized batch costs nothing.
            if req.resources.len() > MAX_BATCH_ITEMS {
                return Err(DbError::invalid(format!("{} resources in one request; the limit is {MAX_BATCH_ITEMS}", req.resources.len())));
            }
            let now = now_micros();
            let resources = req.resources.into_iter().map(|r| convert::resource_in(r, now)).collect::<Result<Vec<_>>>()?;
            let ids = resources.iter().map(|r| percolate_rem::ids::resource_id(&r.uri, r.chunk_ordinal).to_string()).collect();
            let mut put = PutResources { resources, replace_uris: req.replace_uris, embedding_model: req.embedding_model };
            // Reject a bad batch before spending model time on it.
            percolate_rem::validate::validate_put(tenant, &put)?;
            let embedded_by_node = match &embedder {
                Some(embedder) => embed_missing(embedder, &mut put.resources, &mut put.embedding_model)?,
                None => 0,
            };
            let outcome = tenant.write(Op::PutResources(put))?;
            Ok(pb::PutResourcesResponse { ids, replaced_chunks: outcome.report.resources_deleted, embedded_by_node })
        })
        .await
    }

    async fn get_resources(&self, request: Request<pb::GetResourcesRequest>) -> std::result::Result<Response<pb::GetResourcesResponse>, Status> {
        self.on_tenant(request, |tenant, req| {
            check_read_ids(req.ids.len())?;
            let ids = parse_ids("resource", &req.ids)?;
            let mut out = pb::GetResourcesResponse::default();
            for (id, found) in ids.iter().zip(tenant.get_resources(&ids, req.include_embeddings)?) {
                match found {
                    Some(r) => out.resources.push(convert::resource_out(r)),
                    None => out.missing_ids.push(id.to_string()),
                }
            }
            if !req.uri.is_empty() {
                out.resources.extend(tenant.resources_by_uri(&req.uri, req.include_embeddings)?.into_iter().map(convert::resource_out));
            }
            Ok(out)
        })
        .await
    }

    async fn delete_resources(&self, request: Request<pb::DeleteResourcesRequest>) -> std::result::Result<Response<pb::DeleteResourcesResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        check_read_ids(req.ids.len())?;
            let ids = parse_ids("resource", &req.ids)?;
            // Ids that do not exist have nothing to delete.
            let chunks: Vec<_> = tenant.chunk_refs(&ids)?.into_iter().flatten().collect();
            if chunks.is_empty() && req.uris.is_empty() {
                return Ok(pb::DeleteResourcesResponse { deleted: 0 });
            }
            let outcome = tenant.write(Op::DeleteResources(DeleteResources { chunks, uris: req.uris }))?;
            Ok(pb::DeleteResourcesResponse { deleted: outcome.report.resources_deleted })
        })
        .await
    }

    async fn search_resources(&self, request: Request<pb::SearchResourcesRequest>) -> std::result::Result<Response<pb::SearchResourcesResponse>, Status> {
        let embedder = self.embedder.clone();
        self.on_tenant(request, move |tenant, req| {
            let vector = match req.query {
                Some(pb::search_resources_request::Query::Vector(v)) => v.values,
                Some(pb::search_resources_request::Query::Text(text)) => embed_query(embedder.as_deref(), tenant, &text)?,
                None => return Err(DbError::invalid("search needs a query: text or vector")),
            };
            percolate_rem::vectors::validate_vector("query vector", &vector)?;
            let dim = tenant.dimension();
            if dim != 0 && dim != vector.len() {
                return Err(DbError::invalid(format!("query vector has {} dimensions but this tenant's vectors have {dim}", vector.len())));
            }
            let query = SearchQuery {
                vector,
                top_k: or_default(req.top_k, 10, MAX_TOP_K, "top_k")? as usize,
                filter: convert::filter_in(req.filter)?,
                metric: convert::metric_in(req.metric)?,
                include_embeddings: req.include_embeddings,
            };
            let result = tenant.search(&query)?;
            Ok(pb::SearchResourcesResponse {
                hits: result.hits.into_iter().map(|(r, score)| pb::SearchHit { resource: Some(convert::resource_out(r)), score }).collect(),
                candidates: result.candidates as u32,
                pending_embeddings: result.pending_embeddings,
            })
        })
        .await
    }

    async fn upsert_entities(&self, request: Request<pb::UpsertEntitiesRequest>) -> std::result::Result<Response<pb::UpsertEntitiesResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let entities = req.entities.into_iter().map(convert::entity_in).collect::<Result<Vec<_>>>()?;
            let ids: Vec<_> = entities.iter().map(|e| percolate_rem::ids::entity_id(&e.entity_type, &e.key)).collect();
            tenant.write(Op::UpsertEntities(UpsertEntities { entities }))?;
            let stored = tenant.get_entities(&ids, false)?;
            Ok(pb::UpsertEntitiesResponse { entities: stored.into_iter().flatten().map(convert::entity_out).collect() })
        })
        .await
    }

    async fn get_entities(&self, request: Request<pb::GetEntitiesRequest>) -> std::result::Result<Response<pb::GetEntitiesResponse>, Status> {
        self.on_tenant(request, |tenant, req| {
            check_read_ids(req.ids.len() + req.keys.len())?;
            let mut ids = parse_ids("entity", &req.ids)?;
            ids.extend(req.keys.iter().map(|k| percolate_rem::ids::entity_id(&k.r#type, &k.key)));
            let mut out = pb::GetEntitiesResponse::default();
            for (id, found) in ids.iter().zip(tenant.get_entities(&ids, req.include_edges)?) {
                match found {
                    Some(e) => out.entities.push(convert::entity_out(e)),
                    None => out.missing_ids.push(id.to_string()),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_entities(&self, request: Request<pb::DeleteEntitiesRequest>) -> std::result::Result<Response<pb::DeleteEntitiesResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let ids = parse_ids("entity", &req.ids)?.iter().map(|id| id.as_bytes().to_vec()).collect();
            let outcome = tenant.write(Op::DeleteEntities(IdList { ids }))?;
            Ok(pb::DeleteEntitiesResponse { deleted: outcome.report.entities_deleted })
        })
        .await
    }

    async fn add_edges(&self, request: Request<pb::AddEdgesRequest>) -> std::result::Result<Response<pb::AddEdgesResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let edges = req.edges.into_iter().map(convert::edge_in).collect::<Result<Vec<_>>>()?;
            let outcome = tenant.write(Op::AddEdges(AddEdges { edges }))?;
            Ok(pb::AddEdgesResponse { added: outcome.report.edges_added })
        })
        .await
    }

    async fn remove_edges(&self, request: Request<pb::RemoveEdgesRequest>) -> std::result::Result<Response<pb::RemoveEdgesResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let edges = req.edges.into_iter().map(convert::edge_key_in).collect::<Result<Vec<_>>>()?;
            let outcome = tenant.write(Op::RemoveEdges(RemoveEdges { edges }))?;
            Ok(pb::RemoveEdgesResponse { removed: outcome.report.edges_removed })
        })
        .await
    }

    async fn traverse(&self, request: Request<pb::TraverseRequest>) -> std::result::Result<Response<pb::TraverseResponse>, Status> {
        self.on_tenant(request, |tenant, req| {
            check_read_ids(req.start_ids.len())?;
            if req.start_ids.is_empty() {
                return Err(DbError::invalid("traverse needs at least one start id"));
            }
            let query = TraverseQuery {
                start: parse_ids("start entity", &req.start_ids)?,
                max_depth: or_default(req.max_depth, 1, MAX_DEPTH, "max_depth")?,
                direction: convert::direction_in(req.direction)?,
                rel_types: req.rel_types,
                limit: or_default(req.limit, 100, MAX_TRAVERSE_LIMIT, "limit")? as usize,
            };
            let walk = tenant.traverse(&query)?;
            Ok(pb::TraverseResponse {
                nodes: walk.nodes.into_iter().map(|(e, depth)| pb::TraversalNode { entity: Some(convert::entity_out(e)), depth }).collect(),
                edges: walk.edges.into_iter().map(convert::edge_out).collect(),
                truncated: walk.truncated,
            })
        })
        .await
    }

    async fn put_moments(&self, request: Request<pb::PutMomentsRequest>) -> std::result::Result<Response<pb::PutMomentsResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let moments = req.moments.into_iter().map(convert::moment_in).collect::<Result<Vec<_>>>()?;
            let ids = moments.iter().map(|m| m.uuid().to_string()).collect();
            tenant.write(Op::PutMoments(PutMoments { moments }))?;
            Ok(pb::PutMomentsResponse { ids })
        })
        .await
    }

    async fn get_moments(&self, request: Request<pb::GetMomentsRequest>) -> std::result::Result<Response<pb::GetMomentsResponse>, Status> {
        self.on_tenant(request, |tenant, req| {
            check_read_ids(req.ids.len())?;
            let ids = parse_ids("moment", &req.ids)?;
            let mut out = pb::GetMomentsResponse::default();
            for (id, found) in ids.iter().zip(tenant.get_moments(&ids)?) {
                match found {
                    Some(m) => out.moments.push(convert::moment_out(m)),
                    None => out.missing_ids.push(id.to_string()),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_moments(&self, request: Request<pb::DeleteMomentsRequest>) -> std::result::Result<Response<pb::DeleteMomentsResponse>, Status> {
        self.on_tenant_write(request, |tenant, req| {
                        let ids = parse_ids("moment", &req.ids)?.iter().map(|id| id.as_bytes().to_vec()).collect();
            let outcome = tenant.write(Op::DeleteMoments(IdList { ids }))?;
            Ok(pb::DeleteMomentsResponse { deleted: outcome.report.moments_deleted })
        })
        .await
    }

    async fn list_moments(&self, request: Request<pb::ListMomentsRequest>) -> std::result::Result<Response<pb::ListMomentsResponse>, Status> {
        self.on_tenant(request, |tenant, req| {
            let query = FeedQuery {
                start_after: req.start_after.as_ref().map(convert::timestamp_micros).transpose()?,
                start_before: req.start_before.as_ref().map(convert::timestamp_micros).transpose()?,
                moment_types: req.moment_types,
                tags: req.tags,
                page_size: or_default(req.page_size, 50, MAX_PAGE_SIZE, "page_size")? as usize,
                cursor: (!req.cursor.is_empty()).then_some(req.cursor),
            };
            let (moments, next) = tenant.list_moments(&query)?;
            Ok(pb::ListMomentsResponse { moments: moments.into_iter().map(convert::moment_out).collect(), next_cursor: next.unwrap_or_default() })
        })
        .await
    }

    type ChatStream = chat::Events;

    async fn chat(&self, request: Request<pb::ChatRequest>) -> std::result::Result<Response<Self::ChatStream>, Status> {
        let arrived = std::time::Instant::now();
        let tenant_id = tenant_of(request.metadata())?;
        let plan = ChatPlan::from_request(request.into_inner(), self.chat.has_model())?;
        let embedder = self.embedder.clone();
        let prepared = self.on_tenant_id(tenant_id.clone(), plan, move |tenant, plan| chat::prepare(tenant, embedder, plan)).await?;
        self.chat.retrieved(arrived.elapsed());
        let writing = self.chat.open(&prepared).await?;
        let span = tracing::info_span!("chat", tenant_id = %tenant_id);
        let service = self.clone();
        let record = move |moment: percolate_rem::model::MomentData| async move {
            service
                .on_tenant_id(tenant_id, moment, |tenant, moment| {
                    let id = moment.uuid().to_string();
                    tenant.write(Op::PutMoments(PutMoments { moments: vec![moment] }))?;
                    Ok(id)
                })
                .await
        };
        Ok(Response::new(span.in_scope(|| self.chat.answer(prepared, writing, arrived, record))))
    }

    async fn get_tenant_stats(&self, request: Request<pb::GetTenantStatsRequest>) -> std::result::Result<Response<pb::TenantStats>, Status> {
        self.on_tenant(request, |tenant, _| {
            let counters = tenant.counters()?;
            Ok(pb::TenantStats {
                tenant_id: tenant.id().to_string(),
                resources: counters.resources,
                embedded_resources: counters.embedded,
                entities: counters.entities,
                moments: counters.moments,
                vector_dimension: tenant.dimension() as u32,
                embedding_model: tenant.embedding_model()?.unwrap_or_default(),
                disk_bytes: tenant.disk_bytes(),
            })
        })
        .await
    }
}
