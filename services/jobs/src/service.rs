//! The `Jobs` gRPC service over [`Jobs`].

use futures::StreamExt;
use futures::stream::BoxStream;
use percolate_proto::TENANT_HEADER;
use percolate_proto::v1 as pb;
use percolate_proto::v1::JobState;
use percolate_rem::TenantId;
use tonic::{Request, Response, Status};

use crate::error::JobsError;
use crate::jobs::Jobs;

/// Serves `percolate.v1.Jobs`.
#[derive(Clone)]
pub struct JobsService {
    jobs: Jobs,
}

impl JobsService {
    /// A service over `jobs`.
    pub fn new(jobs: Jobs) -> Self {
        Self { jobs }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::jobs_server::JobsServer<Self> {
        pb::jobs_server::JobsServer::new(self)
    }
}

fn tenant_of<T>(request: &Request<T>) -> Result<TenantId, JobsError> {
    let raw = request.metadata().get(TENANT_HEADER).ok_or_else(|| JobsError::invalid(format!("missing '{TENANT_HEADER}' metadata: every call names its tenant")))?;
    let raw = raw.to_str().map_err(|_| JobsError::invalid(format!("'{TENANT_HEADER}' metadata is not printable ASCII")))?;
    Ok(TenantId::parse(raw)?)
}

#[tonic::async_trait]
impl pb::jobs_server::Jobs for JobsService {
    async fn submit_job(&self, request: Request<pb::SubmitJobRequest>) -> Result<Response<pb::Job>, Status> {
        let tenant = tenant_of(&request)?;
        Ok(Response::new(self.jobs.submit(&tenant, request.into_inner()).await?))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let tenant = tenant_of(&request)?;
        Ok(Response::new(self.jobs.get(&tenant, &request.get_ref().id).await?))
    }

    async fn list_jobs(&self, request: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let message = request.into_inner();
        let mut states = Vec::with_capacity(message.states.len());
        for raw in &message.states {
            match JobState::try_from(*raw) {
                Ok(JobState::Unspecified) | Err(_) => return Err(JobsError::invalid(format!("unknown job state {raw}")).into()),
                Ok(state) => states.push(state),
            }
        }
        let (jobs, next_cursor) = self.jobs.list(&tenant, states, message.page_size, &message.cursor).await?;
        Ok(Response::new(pb::ListJobsResponse { jobs, next_cursor }))
    }

    async fn cancel_job(&self, request: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        let tenant = tenant_of(&request)?;
        Ok(Response::new(self.jobs.cancel(&tenant, &request.get_ref().id).await?))
    }

    type WatchJobStream = BoxStream<'static, Result<pb::Job, Status>>;

    async fn watch_job(&self, request: Request<pb::WatchJobRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        let tenant = tenant_of(&request)?;
        let updates = self.jobs.watch(&tenant, &request.get_ref().id).await?;
        Ok(Response::new(updates.map(|item| item.map_err(Status::from)).boxed()))
    }
}
