//! `percolate-gateway`: the way files get in. Clients stream a file with
//! `Upload` (client streaming); the gateway writes it to object storage as it
//! arrives (never whole in memory), verifies its size and SHA-256, and queues
//! its ingestion job on NATS JetStream for the workers. It also serves
//! `Jobs`, so clients can follow their uploads. The database nodes are not in
//! this path: workers read the object and write through `Database`.
//!
//! [`UploadService`] is also served by `percolate dev` (local directory and
//! local queue), on the same port as everything else.

pub mod config;
mod error;
mod metrics;
mod server;
mod upload;

pub use config::{GatewayArgs, GatewayConfig};
pub use error::GatewayError;
pub use metrics::GatewayMetrics;
pub use server::serve;
pub use upload::{MAX_MESSAGE_BYTES, UploadLimits, UploadService};
