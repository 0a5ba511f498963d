//! The worker loop: take a job, run it under a time limit with heartbeats,
//! record how it ended, and acknowledge or hand it back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use percolate_embedder::Embedder;
use percolate_jobs::{Delivery, Jobs, Start};
use percolate_objects::ObjectStore;
use percolate_proto::v1::Job;
use percolate_sdk::Client;
use tokio::sync::watch;

use crate::error::JobError;
use crate::ingest::run_job;
use crate::metrics::WorkerMetrics;
use crate::settings::WorkerSettings;

/// Shared parts of a worker.
pub(crate) struct WorkerInner {
    pub(crate) jobs: Jobs,
    pub(crate) objects: ObjectStore,
    pub(crate) embedder: Arc<Embedder>,
    pub(crate) settings: WorkerSettings,
    pub(crate) metrics: Arc<WorkerMetrics>,
    pub(crate) database: Client,
    /// The speech-to-text service audio goes to, when configured.
    pub(crate) transcriber: Option<percolate_openai::Transcriber>,
}

/// One job attempt in progress.
pub(crate) struct JobRun {
    pub(crate) worker: Arc<WorkerInner>,
    pub(crate) tenant: String,
    pub(crate) job: Job,
    pub(crate) db: Client,
    delivery: Arc<Delivery>,
}

impl JobRun {
    /// Records the stage and progress; fails with `Cancelled` when the job
    /// was cancelled meanwhile.
    pub(crate) async fn stage(&self, stage: &str, progress: f32) -> Result<(), JobError> {
        self.heartbeat().await;
        if self.worker.jobs.progress(&self.tenant, &self.job.id, stage, progress).await? {
            Ok(())
        } else {
            Err(JobError::Cancelled)
        }
    }

    /// Tells the queue the job is alive (failures are only logged: the
    /// worst case is a redelivery, which the idempotent writes absorb).
    pub(crate) async fn heartbeat(&self) {
        if let Err(error) = self.delivery.heartbeat().await {
            tracing::warn!(%error, job = %self.job.id, "heartbeat failed");
        }
    }
}

/// Pause before retrying attempt `attempt` (1-based): 2 s, 8 s, 32 s, ...
/// capped at five minutes.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_mul(4u64.saturating_pow(attempt.saturating_sub(1))).min(300))
}

/// Takes and runs jobs until `stop` turns true.
pub(crate) async fn work_loop(worker: Arc<WorkerInner>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let next = tokio::select! {
            next = worker.jobs.next() => next,
            _ = stop.changed() => return,
        };
        let delivery = match next {
            Ok(Some(delivery)) => delivery,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "cannot take the next job; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        handle(worker.clone(), delivery, stop.clone()).await;
    }
}

async fn handle(worker: Arc<WorkerInner>, delivery: Delivery, mut stop: watch::Receiver<bool>) {
    let tenant = delivery.envelope.tenant.clone();
    let job = match worker.jobs.start(&delivery).await {
        Ok(Start::Run(job)) => job,
        Ok(Start::Skip(why)) => {
            tracing::info!(%tenant, job = %delivery.envelope.job_id, %why, "skipping job");
            finish_delivery(delivery.ack().await);
            return;
        }
        Ok(Start::GaveUp(job)) => {
            tracing::warn!(%tenant, job = %job.id, error = %job.error, "job failed for good");
            worker.metrics.failed();
            finish_delivery(delivery.ack().await);
            return;
        }
        Err(error) => {
            tracing::error!(%error, %tenant, "cannot start job; handing it back");
            finish_delivery(delivery.release(Duration::from_secs(1)).await);
            return;
        }
    };
    worker.metrics.started();
    let started = Instant::now();
    let attempt = delivery.attempt;
    let max = worker.jobs.max_deliveries();
    let db = match worker.database.with_tenant(&tenant) {
        Ok(db) => db,
        Err(error) => {
            let _ = worker.jobs.fail(&tenant, &job.id, error.to_string()).await;
            finish_delivery(delivery.ack().await);
            return;
        }
    };
    let delivery = Arc::new(delivery);
    let run = JobRun { worker: worker.clone(), tenant: tenant.clone(), job: job.clone(), db, delivery: delivery.clone() };
    tracing::info!(%tenant, job = %job.id, attempt, "job started");

    // Heartbeats keep JetStream from redelivering a long job.
    let beats = {
        let delivery = delivery.clone();
        let every = worker.settings.heartbeat;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = delivery.heartbeat().await;
            }
        })
    };
    let outcome = {
        let work = tokio::time::timeout(worker.settings.job_timeout, run_job(&run));
        tokio::pin!(work);
        tokio::select! {
            outcome = &mut work => Some(outcome),
            _ = stop.changed() => {
                // Stopping: give the job the grace period, then hand it back.
                tokio::time::timeout(worker.settings.shutdown_grace, &mut work).await.ok()
            }
        }
    };
    beats.abort();
    let _ = beats.await;
    drop(run);
    let Ok(delivery) = Arc::try_unwrap(delivery) else {
        tracing::error!(job = %job.id, "delivery still shared after the job ended");
        return;
    };
    let outcome = match outcome {
        None => {
            tracing::info!(%tenant, job = %job.id, "worker stopping: handing the job back to the queue");
            let _ = worker.jobs.retry_later(&tenant, &job.id, "the worker stopped during the job".into()).await;
            finish_delivery(delivery.release(Duration::ZERO).await);
            return;
        }
        Some(Err(_elapsed)) => Err(JobError::Permanent(format!("the job took longer than its limit of {} s", worker.settings.job_timeout.as_secs()))),
        Some(Ok(result)) => result,
    };
    let elapsed = started.elapsed();
    match outcome {
        Ok(result) => {
            tracing::info!(%tenant, job = %job.id, resources = result.resources, entities = result.entities, seconds = elapsed.as_secs_f64(), "job succeeded");
            match worker.jobs.succeed(&tenant, &job.id, result).await {
                Ok(_) => {
                    worker.metrics.succeeded(elapsed);
                    finish_delivery(delivery.ack().await);
                }
                Err(error) => {
                    tracing::error!(%error, job = %job.id, "cannot record success; the job will run again");
                    finish_delivery(delivery.release(backoff(attempt)).await);
                }
            }
        }
        Err(JobError::Cancelled) => {
            tracing::info!(%tenant, job = %job.id, "job cancelled");
            worker.metrics.cancelled();
            finish_delivery(delivery.ack().await);
        }
        Err(JobError::Retryable(error)) if attempt + 1 < max => {
            tracing::warn!(%tenant, job = %job.id, attempt, %error, "job attempt failed; retrying");
            worker.metrics.retried();
            let _ = worker.jobs.retry_later(&tenant, &job.id, error).await;
            finish_delivery(delivery.release(backoff(attempt)).await);
        }
        Err(error) => {
            tracing::warn!(%tenant, job = %job.id, attempt, %error, "job failed");
            worker.metrics.failed();
            if let Err(store_error) = worker.jobs.fail(&tenant, &job.id, error.to_string()).await {
                tracing::error!(error = %store_error, job = %job.id, "cannot record the failure; the job will run again");
                finish_delivery(delivery.release(backoff(attempt)).await);
                return;
            }
            finish_delivery(delivery.ack().await);
        }
    }
}

fn finish_delivery(result: percolate_jobs::Result<()>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not acknowledge the job; it may be delivered again");
    }
}
