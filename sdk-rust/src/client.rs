//! The typed client.

use std::time::Duration;

use percolate_proto::TENANT_HEADER;
use percolate_proto::v1 as pb;
use percolate_proto::v1::database_client::DatabaseClient;
use percolate_proto::v1::jobs_client::JobsClient;
use percolate_proto::v1::upload_client::UploadClient;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::builders::{EntityInput, MomentInput, ResourceInput};

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached.
    #[error("cannot connect: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// The server answered with an error status (its message says it all,
    /// so it is not repeated as a source).
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Status),
    /// The tenant id cannot be sent as metadata.
    #[error("tenant id '{0}' is not valid ASCII metadata")]
    InvalidTenant(String),
    /// A local file or reader being uploaded failed.
    #[error("reading the upload: {0}")]
    Io(std::io::Error),
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        Error::Status(status)
    }
}

impl Error {
    /// The gRPC status code, for errors the server returned.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Status(status) => Some(status.code()),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, Error>;

/// A client bound to one tenant. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    inner: DatabaseClient<Channel>,
    jobs: JobsClient<Channel>,
    pub(crate) upload: UploadClient<Channel>,
    tenant: MetadataValue<tonic::metadata::Ascii>,
    timeout: Option<Duration>,
}

/// One page of the moment feed.
#[derive(Clone, Debug, Default)]
pub struct MomentPage {
    /// Moments, newest first.
    pub moments: Vec<pb::Moment>,
    /// Cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

impl Client {
    /// Connects to `endpoint` (for example `http://127.0.0.1:50051`) as `tenant`.
    pub async fn connect(endpoint: impl Into<String>, tenant: &str) -> Result<Self> {
        let channel = Endpoint::from_shared(endpoint.into())?.connect().await?;
        Self::from_channel(channel, tenant)
    }

    /// A client over an existing channel.
    pub fn from_channel(channel: Channel, tenant: &str) -> Result<Self> {
        let tenant = MetadataValue::try_from(tenant).map_err(|_| Error::InvalidTenant(tenant.to_owned()))?;
        let inner = DatabaseClient::new(channel.clone()).max_decoding_message_size(64 << 20).max_encoding_message_size(64 << 20);
        let jobs = JobsClient::new(channel.clone());
        let upload = UploadClient::new(channel);
        Ok(Self { inner, jobs, upload, tenant, timeout: None })
    }

    /// The same connection, as another tenant.
    pub fn with_tenant(&self, tenant: &str) -> Result<Self> {
        let tenant = MetadataValue::try_from(tenant).map_err(|_| Error::InvalidTenant(tenant.to_owned()))?;
        Ok(Self { tenant, ..self.clone() })
    }

    /// Sets a deadline for every call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The generated client, for calls the helpers do not cover. Remember to
    /// add the tenant with [`Client::request`].
    pub fn raw(&self) -> DatabaseClient<Channel> {
        self.inner.clone()
    }

    /// The generated `Jobs` client (served by `percolate dev` and the
    /// gateway). Remember to add the tenant with [`Client::request`].
    pub fn raw_jobs(&self) -> JobsClient<Channel> {
        self.jobs.clone()
    }

    /// Wraps a message in a request naming this client's tenant.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(TENANT_HEADER, self.tenant.clone());
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        request
    }

    /// Writes resource chunks; with `replace_uris` their uris are replaced whole.
    pub async fn put_resources(&self, resources: Vec<ResourceInput>, replace_uris: bool) -> Result<pb::PutResourcesResponse> {
        let message = pb::PutResourcesRequest { resources: resources.into_iter().map(|r| r.0).collect(), replace_uris, ..Default::default() };
        Ok(self.raw().put_resources(self.request(message)).await?.into_inner())
    }

    /// Reads resources by id.
    pub async fn get_resources(&self, ids: Vec<String>) -> Result<pb::GetResourcesResponse> {
        let message = pb::GetResourcesRequest { ids, ..Default::default() };
        Ok(self.raw().get_resources(self.request(message)).await?.into_inner())
    }

    /// Reads every chunk of a uri.
    pub async fn get_uri(&self, uri: &str) -> Result<Vec<pb::Resource>> {
        let message = pb::GetResourcesRequest { uri: uri.to_owned(), ..Default::default() };
        Ok(self.raw().get_resources(self.request(message)).await?.into_inner().resources)
    }

    /// Deletes resources by id and whole uris; returns how many existed.
    pub async fn delete_resources(&self, ids: Vec<String>, uris: Vec<String>) -> Result<u32> {
        let message = pb::DeleteResourcesRequest { ids, uris, durability: 0 };
        Ok(self.raw().delete_resources(self.request(message)).await?.into_inner().deleted)
    }

    /// The `top_k` resources closest to `vector` (cosine).
    pub async fn search_vector(&self, vector: Vec<f32>, top_k: u32) -> Result<Vec<pb::SearchHit>> {
        let message = pb::SearchResourcesRequest {
            query: Some(pb::search_resources_request::Query::Vector(pb::Vector { values: vector })),
            top_k,
            ..Default::default()
        };
        Ok(self.search(message).await?.hits)
    }

    /// The `top_k` resources closest in meaning to `text` (embedded by the
    /// node with the tenant's model).
    pub async fn search_text(&self, text: &str, top_k: u32) -> Result<Vec<pb::SearchHit>> {
        let message = pb::SearchResourcesRequest { query: Some(pb::search_resources_request::Query::Text(text.to_owned())), top_k, ..Default::default() };
        Ok(self.search(message).await?.hits)
    }

    /// A search with every option.
    pub async fn search(&self, message: pb::SearchResourcesRequest) -> Result<pb::SearchResourcesResponse> {
        Ok(self.raw().search_resources(self.request(message)).await?.into_inner())
    }

    /// Creates or merges entities; returns them as stored.
    pub async fn upsert_entities(&self, entities: Vec<EntityInput>) -> Result<Vec<pb::Entity>> {
        let message = pb::UpsertEntitiesRequest { entities: entities.into_iter().map(|e| e.0).collect(), durability: 0 };
        Ok(self.raw().upsert_entities(self.request(message)).await?.into_inner().entities)
    }

    /// Reads one entity by `(type, key)`, with its edges.
    pub async fn get_entity(&self, entity_type: &str, key: &str) -> Result<Option<pb::Entity>> {
        let message = pb::GetEntitiesRequest { keys: vec![pb::EntityKey { r#type: entity_type.into(), key: key.into() }], include_edges: true, ..Default::default() };
        Ok(self.raw().get_entities(self.request(message)).await?.into_inner().entities.pop())
    }

    /// Reads entities by id.
    pub async fn get_entities(&self, ids: Vec<String>, include_edges: bool) -> Result<pb::GetEntitiesResponse> {
        let message = pb::GetEntitiesRequest { ids, include_edges, ..Default::default() };
        Ok(self.raw().get_entities(self.request(message)).await?.into_inner())
    }

    /// Deletes entities; returns how many existed.
    pub async fn delete_entities(&self, ids: Vec<String>) -> Result<u32> {
        let message = pb::DeleteEntitiesRequest { ids, durability: 0 };
        Ok(self.raw().delete_entities(self.request(message)).await?.into_inner().deleted)
    }

    /// Adds an edge `src -[rel_type]-> dst`.
    pub async fn add_edge(&self, src: &str, rel_type: &str, dst: &str) -> Result<u32> {
        let edge = pb::Edge { src: src.into(), dst: dst.into(), rel_type: rel_type.into(), ..Default::default() };
        self.add_edges(vec![edge]).await
    }

    /// Adds edges; returns how many were written.
    pub async fn add_edges(&self, edges: Vec<pb::Edge>) -> Result<u32> {
        let message = pb::AddEdgesRequest { edges, durability: 0 };
        Ok(self.raw().add_edges(self.request(message)).await?.into_inner().added)
    }

    /// Removes an edge; returns 1 if it existed.
    pub async fn remove_edge(&self, src: &str, rel_type: &str, dst: &str) -> Result<u32> {
        let message = pb::RemoveEdgesRequest { edges: vec![pb::EdgeKey { src: src.into(), dst: dst.into(), rel_type: rel_type.into() }], durability: 0 };
        Ok(self.raw().remove_edges(self.request(message)).await?.into_inner().removed)
    }

    /// Walks the graph from `start_ids`.
    pub async fn traverse(&self, message: pb::TraverseRequest) -> Result<pb::TraverseResponse> {
        Ok(self.raw().traverse(self.request(message)).await?.into_inner())
    }

    /// Writes moments; returns their ids.
    pub async fn put_moments(&self, moments: Vec<MomentInput>) -> Result<Vec<String>> {
        let message = pb::PutMomentsRequest { moments: moments.into_iter().map(|m| m.0).collect(), durability: 0 };
        Ok(self.raw().put_moments(self.request(message)).await?.into_inner().ids)
    }

    /// Reads moments by id.
    pub async fn get_moments(&self, ids: Vec<String>) -> Result<pb::GetMomentsResponse> {
        Ok(self.raw().get_moments(self.request(pb::GetMomentsRequest { ids })).await?.into_inner())
    }

    /// Deletes moments; returns how many existed.
    pub async fn delete_moments(&self, ids: Vec<String>) -> Result<u32> {
        Ok(self.raw().delete_moments(self.request(pb::DeleteMomentsRequest { ids, durability: 0 })).await?.into_inner().deleted)
    }

    /// One page of the moment feed, newest first.
    pub async fn list_moments(&self, message: pb::ListMomentsRequest) -> Result<MomentPage> {
        let page = self.raw().list_moments(self.request(message)).await?.into_inner();
        Ok(MomentPage { moments: page.moments, next_cursor: (!page.next_cursor.is_empty()).then_some(page.next_cursor) })
    }

    /// Every moment matching `query`, following the cursor page by page.
    pub async fn all_moments(&self, mut query: pb::ListMomentsRequest) -> Result<Vec<pb::Moment>> {
        let mut all = Vec::new();
        loop {
            let page = self.list_moments(query.clone()).await?;
            all.extend(page.moments);
            match page.next_cursor {
                Some(cursor) => query.cursor = cursor,
                None => return Ok(all),
            }
        }
    }

    /// Asks a question of the tenant's memory: the events of the answer
    /// (every citation, then the text in pieces, then `done`). A stream that
    /// ends without `done` ended with an error.
    pub async fn chat(&self, request: pb::ChatRequest) -> Result<tonic::Streaming<pb::ChatEvent>> {
        Ok(self.raw().chat(self.request(request)).await?.into_inner())
    }

    /// Counts and settings of the tenant.
    pub async fn tenant_stats(&self) -> Result<pb::TenantStats> {
        Ok(self.raw().get_tenant_stats(self.request(pb::GetTenantStatsRequest {})).await?.into_inner())
    }

    // ---- jobs ----

    /// Queues a background job.
    pub async fn submit_job(&self, request: pb::SubmitJobRequest) -> Result<pb::Job> {
        Ok(self.raw_jobs().submit_job(self.request(request)).await?.into_inner())
    }

    /// Queues ingestion of an uploaded object as the resources of `uri`.
    pub async fn ingest(&self, object_key: &str, uri: &str) -> Result<pb::Job> {
        let request = pb::SubmitJobRequest { kind: pb::JobKind::IngestDocument as i32, object_key: object_key.into(), uri: uri.into(), ..Default::default() };
        self.submit_job(request).await
    }

    /// Reads a job.
    pub async fn get_job(&self, id: &str) -> Result<pb::Job> {
        Ok(self.raw_jobs().get_job(self.request(pb::GetJobRequest { id: id.into() })).await?.into_inner())
    }

    /// One page of the tenant's jobs, newest first.
    pub async fn list_jobs(&self, request: pb::ListJobsRequest) -> Result<pb::ListJobsResponse> {
        Ok(self.raw_jobs().list_jobs(self.request(request)).await?.into_inner())
    }

    /// Cancels a job that has not finished.
    pub async fn cancel_job(&self, id: &str) -> Result<pb::Job> {
        Ok(self.raw_jobs().cancel_job(self.request(pb::CancelJobRequest { id: id.into() })).await?.into_inner())
    }

    /// The job now and at each change until it finishes.
    pub async fn watch_job(&self, id: &str) -> Result<tonic::Streaming<pb::Job>> {
        Ok(self.raw_jobs().watch_job(self.request(pb::WatchJobRequest { id: id.into() })).await?.into_inner())
    }

    /// Follows a job until it finishes and returns its final state.
    pub async fn wait_for_job(&self, id: &str) -> Result<pb::Job> {
        let mut updates = self.watch_job(id).await?;
        let mut last = None;
        while let Some(job) = updates.message().await? {
            last = Some(job);
        }
        match last {
            Some(job) => Ok(job),
            None => self.get_job(id).await,
        }
    }
}
