//! Percolate's gRPC contracts, generated from `proto/percolate/v1/*.proto`.
//!
//! Everything here is generated; the `.proto` files are the source of truth.
//! [`FILE_DESCRIPTOR_SET`] is the encoded descriptor set that server
//! reflection (and so `grpcurl`) serves.

pub mod json;

/// The `percolate.v1` package: messages, clients and server traits.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("percolate.v1");
}

/// Encoded `FileDescriptorSet` of all Percolate protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("percolate_descriptor");

/// gRPC metadata key that names the tenant of a request.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// Fully qualified names of the four Percolate services.
pub const SERVICE_NAMES: [&str; 4] = [
    "percolate.v1.Database",
    "percolate.v1.Sync",
    "percolate.v1.Jobs",
    "percolate.v1.Upload",
];
