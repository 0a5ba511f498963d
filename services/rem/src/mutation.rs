//! Mutations: the one way anything changes. A client write becomes a
//! [`Mutation`]; replication ships the same value to other nodes, which apply
//! it with the same function.

use crate::model::{EdgeWrite, EntityWrite, MomentData, ResourceData};
use crate::stamp::Stamp;

/// One atomic change of a tenant.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mutation {
    /// Unique id (16 bytes, UUID v7).
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    /// Version of every row this mutation writes.
    #[prost(message, optional, tag = "2")]
    pub stamp: Option<Stamp>,
    /// What changes.
    #[prost(oneof = "Op", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18")]
    pub op: Option<Op>,
}

/// What a mutation changes.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Op {
    /// Write resource chunks.
    #[prost(message, tag = "10")]
    PutResources(PutResources),
    /// Delete resources.
    #[prost(message, tag = "11")]
    DeleteResources(DeleteResources),
    /// Create or merge entities.
    #[prost(message, tag = "12")]
    UpsertEntities(UpsertEntities),
    /// Delete entities.
    #[prost(message, tag = "13")]
    DeleteEntities(IdList),
    /// Add edges.
    #[prost(message, tag = "14")]
    AddEdges(AddEdges),
    /// Remove edges.
    #[prost(message, tag = "15")]
    RemoveEdges(RemoveEdges),
    /// Write moments.
    #[prost(message, tag = "16")]
    PutMoments(PutMoments),
    /// Delete moments.
    #[prost(message, tag = "17")]
    DeleteMoments(IdList),
    /// Add embeddings to chunks stored without one.
    #[prost(message, tag = "18")]
    SetEmbeddings(SetEmbeddings),
}

/// Write resource chunks, optionally replacing their uris whole.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResources {
    /// Chunks to write.
    #[prost(message, repeated, tag = "1")]
    pub resources: Vec<ResourceData>,
    /// Delete every other chunk of the uris written.
    #[prost(bool, tag = "2")]
    pub replace_uris: bool,
    /// Model that produced the embeddings, recorded for the tenant; empty
    /// when unknown.
    #[prost(string, tag = "3")]
    pub embedding_model: String,
}

/// Delete resource chunks and whole uris.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteResources {
    /// Chunks to delete, named by uri and ordinal (the id derives from them;
    /// the uri lets a replica check the delete against the uri's floor).
    #[prost(message, repeated, tag = "1")]
    pub chunks: Vec<ChunkRef>,
    /// Uris whose chunks are all deleted.
    #[prost(string, repeated, tag = "2")]
    pub uris: Vec<String>,
}

/// Names one chunk of a document.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct ChunkRef {
    /// The document's uri.
    #[prost(string, tag = "1")]
    pub uri: String,
    /// The chunk's ordinal.
    #[prost(uint32, tag = "2")]
    pub chunk_ordinal: u32,
}

/// Create or merge entities.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpsertEntities {
    /// The entities.
    #[prost(message, repeated, tag = "1")]
    pub entities: Vec<EntityWrite>,
}

/// A list of 16-byte ids.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdList {
    /// The ids.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub ids: Vec<Vec<u8>>,
}

/// Add or overwrite edges.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddEdges {
    /// The edges.
    #[prost(message, repeated, tag = "1")]
    pub edges: Vec<EdgeWrite>,
}

/// Remove edges (only `src`, `dst` and `rel_type` are used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoveEdges {
    /// The edges.
    #[prost(message, repeated, tag = "1")]
    pub edges: Vec<EdgeWrite>,
}

/// Write moments.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutMoments {
    /// The moments, with their ids set.
    #[prost(message, repeated, tag = "1")]
    pub moments: Vec<MomentData>,
}

/// Add embeddings to chunks that were stored without one (the node's
/// back-fill). Each applies only to the exact version of the chunk that was
/// embedded: a chunk rewritten or deleted since keeps its newer state.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetEmbeddings {
    /// The embeddings.
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<ChunkEmbedding>,
    /// Model that produced them, recorded for the tenant.
    #[prost(string, tag = "2")]
    pub embedding_model: String,
}

/// The embedding of one version of one chunk.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChunkEmbedding {
    /// The chunk.
    #[prost(message, optional, tag = "1")]
    pub chunk: Option<ChunkRef>,
    /// Version of the chunk's row that was embedded.
    #[prost(message, optional, tag = "2")]
    pub version: Option<Stamp>,
    /// The vector.
    #[prost(float, repeated, tag = "3")]
    pub embedding: Vec<f32>,
}
