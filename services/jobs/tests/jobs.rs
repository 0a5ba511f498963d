//! The job system against both real backends: a local RocksDB queue and a
//! real `nats-server` with JetStream. The same checks run on each.

use std::time::Duration;

use futures::StreamExt;
use percolate_jobs::{Jobs, JobsError, NatsConfig, Start};
use percolate_proto::v1::{JobKind, JobResult, JobState, SubmitJobRequest};
use percolate_rem::TenantId;
use percolate_testkit::NatsServer;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant id")
}

fn document(key: &str) -> SubmitJobRequest {
    SubmitJobRequest { kind: JobKind::IngestDocument as i32, object_key: format!("uploads/{key}"), uri: format!("doc://{key}"), ..Default::default() }
}

async fn nats_jobs(server: &NatsServer, max_deliveries: u32) -> Jobs {
    let config = NatsConfig { url: server.url().to_string(), tier: "small".into(), replicas: 1, ack_wait: Duration::from_secs(2), max_deliveries };
    Jobs::nats(config).await.expect("connect to nats-server")
}

/// Submit, read, list with paging and state filters, idempotency, and
/// tenant isolation.
async fn records_behave(jobs: &Jobs) {
    let acme = tenant("acme");
    let mut submitted = Vec::new();
    for i in 0..5 {
        let job = jobs.submit(&acme, document(&format!("f{i}"))).await.expect("submit");
        assert_eq!(job.state(), JobState::Queued);
        assert!(job.created_at.is_some());
        submitted.push(job.id.clone());
    }
    let read = jobs.get(&acme, &submitted[2]).await.expect("get");
    assert_eq!(read.request.as_ref().map(|r| r.uri.as_str()), Some("doc://f2"));

    // Newest first, two per page.
    let (page1, cursor1) = jobs.list(&acme, vec![], 2, "").await.expect("list");
    let (page2, cursor2) = jobs.list(&acme, vec![], 2, &cursor1).await.expect("list 2");
    let (page3, cursor3) = jobs.list(&acme, vec![], 2, &cursor2).await.expect("list 3");
    let listed: Vec<String> = page1.iter().chain(&page2).chain(&page3).map(|j| j.id.clone()).collect();
    let mut expected = submitted.clone();
    expected.reverse();
    assert_eq!(listed, expected);
    assert!(cursor3.is_empty(), "no page after the last");

    // Other tenants see nothing, and cannot read acme's jobs.
    let other = tenant("other");
    assert!(jobs.list(&other, vec![], 10, "").await.expect("list other").0.is_empty());
    assert!(matches!(jobs.get(&other, &submitted[0]).await, Err(JobsError::NotFound(_))));

    // The same idempotency key gives the same job.
    let mut keyed = document("keyed");
    keyed.idempotency_key = "upload-123".into();
    let first = jobs.submit(&acme, keyed.clone()).await.expect("keyed");
    let again = jobs.submit(&acme, keyed).await.expect("keyed again");
    assert_eq!(first.id, again.id);

    // Cancel: queued -> cancelled; cancelling again is fine; state filter.
    let cancelled = jobs.cancel(&acme, &submitted[0]).await.expect("cancel");
    assert_eq!(cancelled.state(), JobState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    jobs.cancel(&acme, &submitted[0]).await.expect("cancel twice");
    let (only_cancelled, _) = jobs.list(&acme, vec![JobState::Cancelled], 10, "").await.expect("filter");
    assert_eq!(only_cancelled.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec![submitted[0].as_str()]);

    // Bad input is refused with a clear error and stores nothing.
    let before = jobs.list(&acme, vec![], 1000, "").await.expect("list all").0.len();
    for bad in [
        SubmitJobRequest { kind: JobKind::IngestDocument as i32, object_key: "../../etc/passwd".into(), uri: "doc://x".into(), ..Default::default() },
        SubmitJobRequest { kind: JobKind::IngestDocument as i32, object_key: "/abs".into(), uri: "doc://x".into(), ..Default::default() },
        SubmitJobRequest { kind: JobKind::IngestDocument as i32, object_key: "a".into(), uri: "".into(), ..Default::default() },
        SubmitJobRequest { kind: 0, object_key: "a".into(), uri: "doc://x".into(), ..Default::default() },
        SubmitJobRequest { kind: 99, object_key: "a".into(), uri: "doc://x".into(), ..Default::default() },
        SubmitJobRequest { tags: vec![String::new()], ..document("t") },
    ] {
        assert!(matches!(jobs.submit(&acme, bad.clone()).await, Err(JobsError::InvalidArgument(_))), "{bad:?}");
    }
    assert_eq!(jobs.list(&acme, vec![], 1000, "").await.expect("list all").0.len(), before);
    assert!(matches!(jobs.get(&acme, "not-a-uuid").await, Err(JobsError::InvalidArgument(_))));
    assert!(matches!(jobs.list(&acme, vec![], 1001, "").await, Err(JobsError::InvalidArgument(_))));
    assert!(matches!(jobs.list(&acme, vec![], 10, "garbage").await, Err(JobsError::InvalidArgument(_))));
}

/// A worker's view: deliveries, progress, cancel while running, success,
/// redelivery after a release, and watch following a job to its end.
async fn deliveries_behave(jobs: &Jobs) {
    let acme = tenant("work");
    let job = jobs.submit(&acme, document("w1")).await.expect("submit");
    let mut watch = jobs.watch(&acme, &job.id).await.expect("watch");
    let first = watch.next().await.expect("current state").expect("ok");
    assert_eq!(first.state(), JobState::Queued);

    let delivery = next(jobs).await;
    assert_eq!(delivery.envelope.job_id, job.id);
    assert_eq!(delivery.attempt, 1);
    let Start::Run(running) = jobs.start(&delivery).await.expect("start") else { panic!("job should run") };
    assert_eq!(running.state(), JobState::Running);
    assert!(jobs.progress("work", &job.id, "parsing", 0.5).await.expect("progress"));

    // Handing it back makes it come again, counted as a second attempt.
    delivery.release(Duration::ZERO).await.expect("release");
    let again = next(jobs).await;
    assert_eq!(again.envelope.job_id, job.id);
    assert_eq!(again.attempt, 2);
    let Start::Run(_) = jobs.start(&again).await.expect("start again") else { panic!("second attempt should run") };
    jobs.succeed("work", &job.id, JobResult { resources: 3, entities: 2, moments: 1 }).await.expect("succeed");
    again.ack().await.expect("ack");

    // The watch saw it through to the end, then stopped.
    let states: Vec<JobState> = tokio::time::timeout(Duration::from_secs(10), watch.map(|j| j.expect("update").state()).collect::<Vec<_>>()).await.expect("watch ends");
    assert_eq!(states.last(), Some(&JobState::Succeeded), "{states:?}");
    let done = jobs.get(&acme, &job.id).await.expect("get");
    assert_eq!(done.result.map(|r| r.resources), Some(3));
    assert_eq!(done.progress, 1.0);
    assert!(matches!(jobs.cancel(&acme, &job.id).await, Err(JobsError::FailedPrecondition(_))));

    // Cancelling a running job: progress reports it, success cannot undo it.
    let job = jobs.submit(&acme, document("w2")).await.expect("submit 2");
    let delivery = next(jobs).await;
    let Start::Run(_) = jobs.start(&delivery).await.expect("start") else { panic!("should run") };
    jobs.cancel(&acme, &job.id).await.expect("cancel running");
    assert!(!jobs.progress("work", &job.id, "embedding", 0.7).await.expect("progress"));
    assert!(jobs.succeed("work", &job.id, JobResult::default()).await.expect("succeed").is_some_and(|j| j.state() == JobState::Cancelled));
    delivery.ack().await.expect("ack");

    // A cancelled queued job is skipped by the worker.
    let job = jobs.submit(&acme, document("w3")).await.expect("submit 3");
    jobs.cancel(&acme, &job.id).await.expect("cancel queued");
    let delivery = next(jobs).await;
    assert!(matches!(jobs.start(&delivery).await.expect("start"), Start::Skip(_)));
    delivery.ack().await.expect("ack");
}

/// A job whose deliveries run out is failed with its last error.
async fn gives_up_after_max_deliveries(jobs: &Jobs) {
    let acme = tenant("flaky");
    let job = jobs.submit(&acme, document("boom")).await.expect("submit");
    let max = jobs.max_deliveries();
    for attempt in 1..max {
        let delivery = next(jobs).await;
        assert_eq!(delivery.attempt, attempt);
        let Start::Run(_) = jobs.start(&delivery).await.expect("start") else { panic!("attempt {attempt} should run") };
        jobs.retry_later("flaky", &job.id, format!("attempt {attempt} broke")).await.expect("retry later");
        delivery.release(Duration::ZERO).await.expect("release");
    }
    let last = next(jobs).await;
    assert_eq!(last.attempt, max);
    let Start::GaveUp(failed) = jobs.start(&last).await.expect("start") else { panic!("the last delivery should give up") };
    last.ack().await.expect("ack");
    assert_eq!(failed.state(), JobState::Failed);
    assert!(failed.error.contains(&format!("attempt {} broke", max - 1)), "{}", failed.error);
}

async fn next(jobs: &Jobs) -> percolate_jobs::Delivery {
    tokio::time::timeout(Duration::from_secs(15), jobs.next()).await.expect("a job within 15 s").expect("next").expect("queue open")
}

#[tokio::test]
async fn local_backend_records() {
    let dir = tempfile::tempdir().expect("dir");
    records_behave(&Jobs::local(dir.path()).expect("open")).await;
}

#[tokio::test]
async fn local_backend_deliveries() {
    let dir = tempfile::tempdir().expect("dir");
    let jobs = Jobs::local(dir.path()).expect("open");
    deliveries_behave(&jobs).await;
    gives_up_after_max_deliveries(&jobs).await;
}

#[tokio::test]
async fn local_queue_survives_restart_and_counts_attempts() {
    let dir = tempfile::tempdir().expect("dir");
    let acme = tenant("acme");
    let job_id = {
        let jobs = Jobs::local(dir.path()).expect("open");
        let job = jobs.submit(&acme, document("durable")).await.expect("submit");
        // Delivered once, then the process "dies" without an ack.
        let delivery = next(&jobs).await;
        assert_eq!(delivery.attempt, 1);
        job.id
    };
    let jobs = Jobs::local(dir.path()).expect("reopen");
    let delivery = next(&jobs).await;
    assert_eq!(delivery.envelope.job_id, job_id);
    assert_eq!(delivery.attempt, 2, "the crashed delivery counts");
    delivery.ack().await.expect("ack");
    assert_eq!(jobs.depth().await.expect("depth"), 0);
    drop(jobs);
    let jobs = Jobs::local(dir.path()).expect("reopen again");
    assert!(tokio::time::timeout(Duration::from_millis(300), jobs.next()).await.is_err(), "an acknowledged job never comes back");
    assert_eq!(jobs.get(&acme, &job_id).await.expect("record kept").id, job_id);
}

#[tokio::test]
async fn nats_backend_records() {
    let server = NatsServer::start();
    records_behave(&nats_jobs(&server, 4).await).await;
}

#[tokio::test]
async fn nats_backend_deliveries() {
    let server = NatsServer::start();
    let jobs = nats_jobs(&server, 3).await;
    deliveries_behave(&jobs).await;
    gives_up_after_max_deliveries(&jobs).await;
}

#[tokio::test]
async fn nats_redelivers_when_the_ack_wait_passes() {
    let server = NatsServer::start();
    let jobs = nats_jobs(&server, 4).await;
    let job = jobs.submit(&tenant("acme"), document("silent")).await.expect("submit");
    let first = next(&jobs).await;
    assert_eq!(first.attempt, 1);
    // No ack, no heartbeat: after the 2 s ack wait it comes again.
    let second = next(&jobs).await;
    assert_eq!(second.envelope.job_id, job.id);
    assert_eq!(second.attempt, 2);
    second.ack().await.expect("ack");
}

#[tokio::test]
async fn nats_heartbeats_hold_a_long_job() {
    let server = NatsServer::start();
    let jobs = nats_jobs(&server, 4).await;
    jobs.submit(&tenant("acme"), document("long")).await.expect("submit");
    let delivery = next(&jobs).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        delivery.heartbeat().await.expect("heartbeat");
    }
    // 4.5 s > the 2 s ack wait, yet no redelivery happened.
    assert!(tokio::time::timeout(Duration::from_millis(500), jobs.next()).await.is_err(), "heartbeats must prevent redelivery");
    delivery.ack().await.expect("ack");
}
