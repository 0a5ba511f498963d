//! `percolate`: the all-in-one binary. `percolate dev` runs a database node,
//! the Jobs service and a worker on the local job queue, on local disk with
//! no other servers (the embedded default); the other
//! subcommands are a command-line client built on the Rust SDK.

mod chat;
mod cli;
mod output;
mod upload;

use std::io::Write;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use percolate_jobs::{Jobs, JobsService};
use percolate_objects::ObjectStore;
use percolate_gateway::{GatewayMetrics, UploadLimits, UploadService};
use percolate_worker::{Worker, WorkerSettings};
use tonic::service::Routes;

/// Percolate: a multi-tenant REM memory database for AI applications.
#[derive(Parser)]
#[command(name = "percolate", version)]
struct Cli {
    /// Server to talk to (client commands).
    #[arg(long, global = true, env = "PERCOLATE_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// Tenant to act as (client commands).
    #[arg(long, global = true, env = "PERCOLATE_TENANT", default_value = "default")]
    tenant: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Percolate locally: data on local disk, no other servers needed.
    Dev(percolate_database::DbArgs),
    /// Client commands.
    #[command(flatten)]
    Client(cli::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => run_dev(args).await,
        Command::Client(command) => {
            let client = percolate_sdk::Client::connect(cli.endpoint.clone(), &cli.tenant).await.map_err(|e| anyhow::anyhow!("{e} (is `percolate dev` running at {}?)", cli.endpoint))?;
            cli::run(&client, command, cli.json).await
        }
    }
}

async fn run_dev(args: percolate_database::DbArgs) -> anyhow::Result<()> {
    let config = percolate_database::DbConfig::load(&args)?;
    percolate_database::init_logging(&config.log_format);
    let grpc = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let admin = match config.admin_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?),
        None => None,
    };
    let addr = grpc.local_addr()?;
    let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
    // Written without panicking: whoever started us may stop reading.
    let banner = format!(
        "percolate dev listening on {addr} admin {admin}\n\
         data in {data}\n\
         try:\n  \
         percolate --endpoint http://{addr} --tenant demo put --uri note://1 \"Percolate remembers documents, entities and moments\"\n  \
         percolate --endpoint http://{addr} --tenant demo search --text \"what does it remember?\"\n  \
         percolate --endpoint http://{addr} --tenant demo chat -m \"what does Percolate remember?\"\n  \
         grpcurl -plaintext -H 'x-tenant-id: demo' {addr} percolate.v1.Database/GetTenantStats\n",
        admin = admin_addr.map_or("off".into(), |a| a.to_string()),
        data = config.data_dir.display(),
    );
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());

    let node = percolate_database::Node::open(config.clone()).await?;
    let jobs_dir = config.data_dir.join("jobs");
    let jobs = tokio::task::spawn_blocking(move || Jobs::local(&jobs_dir)).await??;
    let objects = ObjectStore::local(config.data_dir.join("objects"));
    // The in-process worker takes the worker's settings from PERCOLATE_*
    // variables (limits, chunking, transcription, ...); uploads are bounded
    // by the largest file it accepts.
    let worker_settings = WorkerSettings { database_url: format!("http://{addr}"), ..percolate_worker::WorkerConfig::load(&percolate_worker::WorkerArgs::default())?.settings() };
    let upload_metrics = Arc::new(GatewayMetrics::new());
    let (abort_uploads, abort_rx) = tokio::sync::watch::channel(false);
    let upload = UploadService::new(objects.clone(), jobs.clone(), UploadLimits { max_upload_bytes: worker_settings.limits.max_file_bytes }, upload_metrics.clone(), abort_rx);
    let worker = match node.embedder() {
        Some(embedder) => Some(Worker::new(jobs.clone(), objects, embedder, worker_settings)?),
        None => {
            tracing::warn!("no embedding model: the in-process worker is off and submitted jobs wait in the queue");
            None
        }
    };
    let worker_metrics = worker.as_ref().map(|w| w.metrics());
    let extras = percolate_database::Extras {
        routes: Some(Routes::new(JobsService::new(jobs.clone()).into_server()).add_service(upload.into_server())),
        service_names: vec!["percolate.v1.Jobs", "percolate.v1.Upload"],
        metrics: Some(Arc::new(move || {
            let mut text = upload_metrics.render();
            if let Some(metrics) = &worker_metrics {
                text.push_str(&metrics.render());
            }
            text
        }) as percolate_runtime::RenderMetrics),
    };
    // On a signal the worker stops first (finishing or handing back its
    // job, which needs the database), then the node drains and closes.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker_task = worker.map(|worker| tokio::spawn(async move { worker.run(stop_rx).await }));
    let shutdown = async move {
        percolate_database::shutdown_signal().await;
        let _ = stop_tx.send(true);
        jobs.close();
        if let Some(task) = worker_task {
            let _ = task.await;
        }
        // Uploads in flight get most of the node's drain period, then are
        // aborted cleanly (their partial files removed).
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let _ = abort_uploads.send(true);
        });
    };
    node.serve(grpc, admin, extras, shutdown).await
}
