//! `percolate`: the all-in-one binary. `percolate dev` runs a database node
//! on local disk with no other servers (the embedded default); the other
//! subcommands are a command-line client built on the Rust SDK.

mod cli;
mod output;

use std::io::Write;

use clap::{Parser, Subcommand};

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
    percolate_database::config::init_logging(&config.log_format);
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
         grpcurl -plaintext -H 'x-tenant-id: demo' {addr} percolate.v1.Database/GetTenantStats\n",
        admin = admin_addr.map_or("off".into(), |a| a.to_string()),
        data = config.data_dir.display(),
    );
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
    percolate_database::serve(config, grpc, admin, percolate_database::shutdown_signal()).await
}
