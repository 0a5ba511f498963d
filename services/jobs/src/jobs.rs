//! The job system as callers see it: submit, read, list, cancel, watch; and
//! the worker's side: take the next job, report progress, finish it.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use percolate_proto::v1::{Job, JobResult, JobState, SubmitJobRequest};
use percolate_rem::TenantId;

use crate::backend::{Backend, Delivery};
use crate::error::{JobsError, Result};
use crate::local::LocalBackend;
use crate::model::{self, is_finished, now, parse_job_id};
use crate::nats::{NatsBackend, NatsConfig};

/// Default page of `list`.
const DEFAULT_PAGE: usize = 50;
/// Largest page of `list`.
const MAX_PAGE: usize = 1000;
/// Most deliveries of a local job before it is failed for good.
pub const LOCAL_MAX_DELIVERIES: u32 = 4;

/// The job system: submit and follow jobs, or take them as a worker.
#[derive(Clone)]
pub struct Jobs {
    backend: Backend,
}

/// What `start` decided about a delivered job.
#[derive(Debug)]
pub enum Start {
    /// Run it: the record is now RUNNING.
    Run(Job),
    /// Do not run it (finished, cancelled or unknown): acknowledge it.
    Skip(String),
    /// It has used up its deliveries: it was marked failed; acknowledge.
    GaveUp(Job),
}

impl Jobs {
    /// The embedded default's jobs, in a RocksDB at `path`.
    pub fn local(path: &Path) -> Result<Self> {
        Ok(Self { backend: Backend::Local(LocalBackend::open(path)?) })
    }

    /// Jobs on NATS JetStream.
    pub async fn nats(config: NatsConfig) -> Result<Self> {
        Ok(Self { backend: Backend::Nats(Arc::new(NatsBackend::connect(config).await?)) })
    }

    /// Which backend this is, for logs: `local` or `nats`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Local(_) => "local",
            Backend::Nats(_) => "nats",
        }
    }

    /// Queues a job (or returns the one its idempotency key already names).
    pub async fn submit(&self, tenant: &TenantId, request: SubmitJobRequest) -> Result<Job> {
        model::validate_submit(&request)?;
        let key = request.idempotency_key.clone();
        let (job, _created) = self.backend.insert(tenant.as_str(), model::new_job(request), &key).await?;
        Ok(job)
    }

    /// Reads one job.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Job> {
        let uuid = parse_job_id(id)?;
        self.backend.get(tenant.as_str(), &uuid).await?.ok_or_else(|| JobsError::NotFound(id.to_string()))
    }

    /// One page of the tenant's jobs, newest first, optionally only in
    /// `states`; the cursor continues after the last job returned.
    pub async fn list(&self, tenant: &TenantId, states: Vec<JobState>, page_size: u32, cursor: &str) -> Result<(Vec<Job>, String)> {
        let limit = match page_size as usize {
            0 => DEFAULT_PAGE,
            n if n > MAX_PAGE => return Err(JobsError::invalid(format!("page_size is at most {MAX_PAGE}"))),
            n => n,
        };
        let before = if cursor.is_empty() { None } else { Some(parse_job_id(cursor).map_err(|_| JobsError::invalid("cursor is not one this service returned"))?) };
        let wanted: Vec<i32> = states.iter().map(|s| *s as i32).collect();
        let jobs = self.backend.list(tenant.as_str(), before, limit + 1, move |job| wanted.is_empty() || wanted.contains(&job.state)).await?;
        let mut jobs = jobs;
        let next = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|j| j.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((jobs, next))
    }

    /// Cancels a job that has not finished. Cancelling a cancelled job is a
    /// no-op; cancelling one that succeeded or failed is an error.
    pub async fn cancel(&self, tenant: &TenantId, id: &str) -> Result<Job> {
        let uuid = parse_job_id(id)?;
        let job = self
            .backend
            .update(tenant.as_str(), &uuid, |job| {
                if is_finished(job.state()) {
                    return false;
                }
                job.state = JobState::Cancelled as i32;
                job.stage = "cancelled".into();
                job.finished_at = Some(now());
                true
            })
            .await?
            .ok_or_else(|| JobsError::NotFound(id.to_string()))?;
        match job.state() {
            JobState::Cancelled => Ok(job),
            state => Err(JobsError::FailedPrecondition(format!("job {id} already finished ({})", state.as_str_name()))),
        }
    }

    /// The job now and at each change, ending after it has finished.
    pub async fn watch(&self, tenant: &TenantId, id: &str) -> Result<BoxStream<'static, Result<Job>>> {
        let uuid = parse_job_id(id)?;
        if self.backend.get(tenant.as_str(), &uuid).await?.is_none() {
            return Err(JobsError::NotFound(id.to_string()));
        }
        let updates = self.backend.watch(tenant.as_str(), &uuid).await?;
        // Ends right after the first finished state, without waiting for
        // another change that will never come.
        Ok(futures::stream::unfold(Some(updates), |updates| async move {
            let mut updates = updates?;
            let item = updates.next().await?;
            let finished = item.as_ref().is_ok_and(|job| is_finished(job.state()));
            Some((item, (!finished).then_some(updates)))
        })
        .boxed())
    }

    // ---- the worker's side ----

    /// Waits for the next job to run; None once the queue is closed.
    pub async fn next(&self) -> Result<Option<Delivery>> {
        self.backend.next().await
    }

    /// Jobs waiting or in progress (the queue's lag).
    pub async fn depth(&self) -> Result<u64> {
        self.backend.depth().await
    }

    /// Most deliveries of one job; the last only records the failure.
    pub fn max_deliveries(&self) -> u32 {
        self.backend.max_deliveries(LOCAL_MAX_DELIVERIES)
    }

    /// Stops a local queue handing out jobs (NATS consumers just stop
    /// pulling when the worker stops asking).
    pub fn close(&self) {
        if let Backend::Local(local) = &self.backend {
            local.close();
        }
    }

    /// Decides whether a delivered job runs, and marks it RUNNING if so.
    pub async fn start(&self, delivery: &Delivery) -> Result<Start> {
        let tenant = &delivery.envelope.tenant;
        let Ok(uuid) = parse_job_id(&delivery.envelope.job_id) else { return Ok(Start::Skip("the message names no valid job id".into())) };
        let attempt = delivery.attempt;
        let max = self.backend.max_deliveries(LOCAL_MAX_DELIVERIES);
        let job = self
            .backend
            .update(tenant, &uuid, move |job| {
                if is_finished(job.state()) {
                    return false;
                }
                job.attempts = attempt;
                if attempt >= max {
                    job.state = JobState::Failed as i32;
                    job.stage = "failed".into();
                    let earlier = if job.error.is_empty() { "the worker stopped during each attempt".to_string() } else { job.error.clone() };
                    job.error = format!("gave up after {} attempts: {earlier}", attempt - 1);
                    job.finished_at = Some(now());
                } else {
                    job.state = JobState::Running as i32;
                    job.stage = "starting".into();
                    job.started_at = Some(now());
                }
                true
            })
            .await?;
        Ok(match job {
            None => Start::Skip(format!("job {} of tenant {tenant} does not exist", delivery.envelope.job_id)),
            Some(job) if job.state() == JobState::Running => Start::Run(job),
            Some(job) if job.state() == JobState::Failed && job.attempts == attempt && attempt >= max => Start::GaveUp(job),
            Some(job) => Start::Skip(format!("job {} is {}", job.id, job.state().as_str_name())),
        })
    }

    /// Records progress. Returns false when the job was cancelled (or
    /// otherwise finished) meanwhile: the worker should stop.
    pub async fn progress(&self, tenant: &str, id: &str, stage: &str, progress: f32) -> Result<bool> {
        let uuid = parse_job_id(id)?;
        let stage = stage.to_string();
        let job = self
            .backend
            .update(tenant, &uuid, move |job| {
                if job.state() != JobState::Running {
                    return false;
                }
                job.stage = stage.clone();
                job.progress = progress.clamp(0.0, 1.0);
                true
            })
            .await?;
        Ok(job.is_some_and(|j| j.state() == JobState::Running))
    }

    /// Marks a running job succeeded with what it produced.
    pub async fn succeed(&self, tenant: &str, id: &str, result: JobResult) -> Result<Option<Job>> {
        self.finish(tenant, id, JobState::Succeeded, String::new(), Some(result)).await
    }

    /// Marks a running job failed for good.
    pub async fn fail(&self, tenant: &str, id: &str, error: String) -> Result<Option<Job>> {
        self.finish(tenant, id, JobState::Failed, error, None).await
    }

    /// Puts a running job back to QUEUED after a failed attempt that will
    /// be retried, keeping the error for the record.
    pub async fn retry_later(&self, tenant: &str, id: &str, error: String) -> Result<Option<Job>> {
        let uuid = parse_job_id(id)?;
        self.backend
            .update(tenant, &uuid, move |job| {
                if job.state() != JobState::Running {
                    return false;
                }
                job.state = JobState::Queued as i32;
                job.stage = "waiting to retry".into();
                job.error = error.clone();
                true
            })
            .await
    }

    async fn finish(&self, tenant: &str, id: &str, state: JobState, error: String, result: Option<JobResult>) -> Result<Option<Job>> {
        let uuid = parse_job_id(id)?;
        self.backend
            .update(tenant, &uuid, move |job| {
                // A cancel that landed while the job ran wins.
                if job.state() != JobState::Running {
                    return false;
                }
                job.state = state as i32;
                job.stage = if state == JobState::Succeeded { "done".into() } else { "failed".into() };
                if state == JobState::Succeeded {
                    job.progress = 1.0;
                }
                job.error = error.clone();
                job.result = result;
                job.finished_at = Some(now());
                true
            })
            .await
    }
}
