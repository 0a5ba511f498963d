//! Rust client for Percolate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), percolate_sdk::Error> {
//! use percolate_sdk::{Client, ResourceInput};
//! let client = Client::connect("http://127.0.0.1:50051", "acme").await?;
//! client.put_resources(vec![ResourceInput::new("doc://a", "hello").embedding(vec![0.1, 0.2])], false).await?;
//! let hits = client.search_vector(vec![0.1, 0.2], 5).await?;
//! # Ok(()) }
//! ```
//!
//! The client names its tenant in every call (`x-tenant-id` metadata). The
//! generated types are re-exported as [`pb`] for everything the helpers do
//! not cover; [`Client::raw`] gives the generated client itself.

mod builders;
mod client;
mod upload;

pub use builders::{EntityInput, MomentInput, ResourceInput, json_to_struct, struct_to_json};
pub use client::{Client, Error, MomentPage};
pub use upload::{Progress, UploadOptions};
/// The generated protobuf types and clients.
pub use percolate_proto::v1 as pb;
