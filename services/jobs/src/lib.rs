//! Durable background jobs for Percolate.
//!
//! One abstraction, [`Jobs`], over two real backends chosen by
//! configuration: NATS JetStream (work-queue stream, durable pull consumer,
//! explicit acks, `Nats-Msg-Id` de-duplication, records in a JetStream KV
//! bucket) for distributed mode, and a RocksDB-backed queue and record store
//! for the embedded default. [`JobsService`] serves `percolate.v1.Jobs` over
//! either; workers take jobs with [`Jobs::next`] and report through
//! [`Jobs::start`], [`Jobs::progress`], [`Jobs::succeed`] and [`Jobs::fail`].

mod backend;
mod error;
mod jobs;
mod local;
mod model;
mod nats;
mod service;

pub use backend::Delivery;
pub use error::{JobsError, Result};
pub use jobs::{Jobs, LOCAL_MAX_DELIVERIES, Start};
pub use model::{Envelope, is_finished, validate_object_key, validate_submit};
pub use nats::{BUCKET, NatsConfig, STREAM};
pub use service::JobsService;
