//! The `percolate-gateway` binary.

use clap::Parser;
use percolate_gateway::{GatewayArgs, GatewayConfig};
use std::io::Write;

/// Percolate's upload gateway: Upload and Jobs over gRPC.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    args: GatewayArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = GatewayConfig::load(&cli.args)?;
    percolate_runtime::init_logging(&config.log_format);
    let grpc = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let admin = match config.admin_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?),
        None => None,
    };
    let line = format!(
        "percolate-gateway listening on {} admin {}\n",
        grpc.local_addr()?,
        admin.as_ref().map(|l| l.local_addr()).transpose()?.map_or("off".to_string(), |a| a.to_string())
    );
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush());
    percolate_gateway::serve(config, grpc, admin, percolate_runtime::shutdown_signal()).await
}
