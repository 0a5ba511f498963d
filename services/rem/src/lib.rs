//! Percolate's storage engine: a multi-tenant REM (Resources, Entities,
//! Moments) database on RocksDB. No network code lives here.
//!
//! - [`TenantStore`] opens one RocksDB per tenant on demand, with shared
//!   memory budgets, and keeps a bounded set open.
//! - [`Tenant::write`] is the one write path: a change becomes a
//!   [`Mutation`], applied by [`apply::apply`] in one `WriteBatch`.
//! - Reads: resources by id, uri or meaning ([`SearchQuery`]), entities and
//!   graph walks ([`TraverseQuery`]), the moment feed ([`FeedQuery`]).

pub mod apply;
mod checkpoint;
pub mod error;
mod feed;
mod graph;
pub mod ids;
pub mod keys;
pub mod model;
pub mod mutation;
mod replication;
mod resources;
pub mod stamp;
mod store;
mod tenant;
pub mod tenant_id;
mod txn;
pub mod validate;
pub mod vectors;

pub use checkpoint::{CheckpointInfo, SnapshotMarker};
pub use error::{RemError, Result};
pub use feed::FeedQuery;
pub use graph::{Direction, Traversal, TraverseQuery};
pub use mutation::{Mutation, Op};
pub use resources::{SearchQuery, SearchResult, UnembeddedChunk};
pub use store::{CacheStats, StoreConfig, TenantSource, TenantStore};
pub use replication::{LoggedOutcome, OutboxEntry};
pub use tenant::{NodeContext, Tenant, WriteOutcome};
pub use tenant_id::TenantId;
pub use vectors::{Metric, SearchFilter};
