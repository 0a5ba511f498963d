//! `percolate-db`: the database node. Serves the `Database` gRPC service
//! over the REM storage engine, with health, reflection and metrics.

pub mod backfill;
pub mod changes;
pub mod chat;
pub mod config;
pub mod convert;
pub mod error;
pub mod metrics;
pub mod replication;
pub mod restore;
pub mod server;
pub mod service;
pub mod snapshots;
pub mod sync;
pub mod tenancy;

pub use config::{DbArgs, DbConfig};
pub use server::{Extras, Node, serve};
pub use percolate_runtime::{init_logging, shutdown_signal};
