//! `percolate-db`: a database node.

use std::io::Write;

use clap::Parser;
use percolate_database::{DbArgs, DbConfig, serve, shutdown_signal};

/// Percolate database node: serves the Database gRPC service.
#[derive(Parser)]
#[command(name = "percolate-db", version)]
struct Cli {
    #[command(flatten)]
    args: DbArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = DbConfig::load(&cli.args)?;
    percolate_database::init_logging(&config.log_format);
    let grpc = tokio::net::TcpListener::bind(config.listen).await?;
    let admin = match config.admin_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
    // Tests and scripts read this first line to find the bound ports.
    let mut stdout = std::io::stdout();
    let line = format!("percolate-db listening on {} admin {}\n", grpc.local_addr()?, admin_addr.map_or("off".to_string(), |a| a.to_string()));
    let _ = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush());
    serve(config, grpc, admin, shutdown_signal()).await
}
