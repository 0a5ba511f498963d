//! Running the gateway: gRPC (`Upload`, `Jobs`, health, reflection), the
//! admin port, and a shutdown that lets uploads in flight finish (up to
//! `drain_secs`), then aborts the rest cleanly (no partial object, no
//! multipart upload, no job) before exiting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use percolate_jobs::{Jobs, JobsService};
use percolate_objects::ObjectStore;
use percolate_runtime::{RenderMetrics, incoming_without_nagle, serve_admin};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::GatewayConfig;
use crate::metrics::GatewayMetrics;
use crate::upload::{UploadLimits, UploadService};

/// After aborting, how long the aborted uploads get to answer.
const ABORT_GRACE: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then drains (see the module docs).
pub async fn serve(config: GatewayConfig, grpc: TcpListener, admin: Option<TcpListener>, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let objects = ObjectStore::open(&config.objects).await?;
    let jobs = Jobs::nats(config.nats()).await?;
    tracing::info!(objects = %objects.describe(), nats = %config.nats_url, tier = %config.tier, "gateway ready");
    let metrics = Arc::new(GatewayMetrics::new());
    let (abort_tx, abort_rx) = watch::channel(false);
    let upload = UploadService::new(objects, jobs.clone(), UploadLimits { max_upload_bytes: config.max_upload_bytes() }, metrics.clone(), abort_rx);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in ["percolate.v1.Upload", "percolate.v1.Jobs"] {
        health_reporter.set_service_status(name, tonic_health::ServingStatus::Serving).await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(percolate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let admin_task = admin.map(|listener| {
        let metrics = metrics.clone();
        let render: RenderMetrics = Arc::new(move || metrics.render());
        tokio::spawn(serve_admin(listener, render))
    });

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_accepting = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let serving = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(upload.into_server())
        .add_service(JobsService::new(jobs.clone()).into_server())
        .serve_with_incoming_shutdown(incoming_without_nagle(grpc), stop_accepting);
    tokio::pin!(serving);

    let drain = Duration::from_secs(config.drain_secs);
    let deadline = async {
        if stopping_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!(in_flight = metrics.in_flight(), ?drain, "shutting down: uploads in flight may finish");
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = &mut serving => served?,
        () = deadline => {
            tracing::warn!(in_flight = metrics.in_flight(), "drain period over: aborting uploads in flight");
            let _ = abort_tx.send(true);
            if tokio::time::timeout(ABORT_GRACE, &mut serving).await.is_err() {
                tracing::warn!("connections still open after aborting; closing them");
            }
        }
    }
    if let Some(task) = admin_task {
        task.abort();
    }
    jobs.close();
    tracing::info!("gateway stopped");
    Ok(())
}
