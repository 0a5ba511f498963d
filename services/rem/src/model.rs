//! The REM data model: what is written, what is stored and what is read.
//!
//! The `*Data` and `*Row` types are prost messages because they are stored
//! on disk and carried in replicated mutations: new fields can be added
//! without breaking old data. JSON values (metadata, properties) are kept as
//! JSON text.

use uuid::Uuid;

use crate::stamp::Stamp;

/// The content of a resource chunk, as written by a client.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceData {
    /// Document the chunk belongs to.
    #[prost(string, tag = "1")]
    pub uri: String,
    /// Position of the chunk within the document.
    #[prost(uint32, tag = "2")]
    pub chunk_ordinal: u32,
    /// Text of the chunk.
    #[prost(string, tag = "3")]
    pub content: String,
    /// MIME type of the source document.
    #[prost(string, tag = "4")]
    pub content_type: String,
    /// JSON object text; empty for none.
    #[prost(string, tag = "5")]
    pub metadata_json: String,
    /// Labels for filtering.
    #[prost(string, repeated, tag = "6")]
    pub tags: Vec<String>,
    /// Creation time, microseconds since the Unix epoch.
    #[prost(int64, tag = "7")]
    pub created_at: i64,
    /// The embedding; empty when not computed yet. Stored apart from the row.
    #[prost(float, repeated, tag = "8")]
    pub embedding: Vec<f32>,
}

/// A stored resource row, or the tombstone of a deleted one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceRow {
    /// Version of the last write.
    #[prost(message, optional, tag = "1")]
    pub stamp: Option<Stamp>,
    /// True for a tombstone.
    #[prost(bool, tag = "2")]
    pub deleted: bool,
    /// The content, without the embedding (absent in tombstones).
    #[prost(message, optional, tag = "3")]
    pub data: Option<ResourceData>,
    /// Whether an embedding is stored for it.
    #[prost(bool, tag = "4")]
    pub has_embedding: bool,
}

/// A stored embedding with the attributes that search filters on, so that
/// opening a tenant reads only this column family.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VectorRow {
    /// Little-endian f32 components.
    #[prost(bytes = "vec", tag = "1")]
    pub values: Vec<u8>,
    /// Document uri.
    #[prost(string, tag = "2")]
    pub uri: String,
    /// MIME type.
    #[prost(string, tag = "3")]
    pub content_type: String,
    /// Labels.
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    /// Creation time in microseconds.
    #[prost(int64, tag = "5")]
    pub created_at: i64,
}

/// A resource as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Deterministic id from `(uri, chunk_ordinal)`.
    pub id: Uuid,
    /// Its content (the embedding only when asked for).
    pub data: ResourceData,
    /// Whether it has an embedding.
    pub has_embedding: bool,
}

/// One property change of an entity upsert.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyWrite {
    /// Property name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// JSON text of the new value; absent removes the property.
    #[prost(string, optional, tag = "2")]
    pub value_json: Option<String>,
}

/// An entity to create or merge.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntityWrite {
    /// Entity type.
    #[prost(string, tag = "1")]
    pub entity_type: String,
    /// Key within the type.
    #[prost(string, tag = "2")]
    pub key: String,
    /// Property changes, merged field by field.
    #[prost(message, repeated, tag = "3")]
    pub properties: Vec<PropertyWrite>,
}

/// A stored entity row. The entity exists while `upserted > deleted`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntityRow {
    /// Entity type.
    #[prost(string, tag = "1")]
    pub entity_type: String,
    /// Key within the type.
    #[prost(string, tag = "2")]
    pub key: String,
    /// Newest upsert.
    #[prost(message, optional, tag = "3")]
    pub upserted: Option<Stamp>,
    /// Newest delete.
    #[prost(message, optional, tag = "4")]
    pub deleted: Option<Stamp>,
}

impl EntityRow {
    /// Whether the entity currently exists.
    pub fn is_live(&self) -> bool {
        match (&self.upserted, &self.deleted) {
            (Some(up), Some(del)) => up > del,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// A stored property value with its version.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyRow {
    /// Version of the last write of this property.
    #[prost(message, optional, tag = "1")]
    pub stamp: Option<Stamp>,
    /// JSON text; absent when the property was removed.
    #[prost(string, optional, tag = "2")]
    pub value_json: Option<String>,
}

/// An edge to add.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EdgeWrite {
    /// Source entity id (16 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub src: Vec<u8>,
    /// Destination entity id (16 bytes).
    #[prost(bytes = "vec", tag = "2")]
    pub dst: Vec<u8>,
    /// Relation type.
    #[prost(string, tag = "3")]
    pub rel_type: String,
    /// JSON object text; empty for none.
    #[prost(string, tag = "4")]
    pub properties_json: String,
    /// Weight; 0 for unweighted.
    #[prost(float, tag = "5")]
    pub weight: f32,
}

/// A stored edge, or the tombstone of a removed one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EdgeRow {
    /// Version of the last write.
    #[prost(message, optional, tag = "1")]
    pub stamp: Option<Stamp>,
    /// False for a tombstone.
    #[prost(bool, tag = "2")]
    pub live: bool,
    /// JSON object text.
    #[prost(string, tag = "3")]
    pub properties_json: String,
    /// Weight.
    #[prost(float, tag = "4")]
    pub weight: f32,
}

/// An entity as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Deterministic id from `(type, key)`.
    pub id: Uuid,
    /// Entity type.
    pub entity_type: String,
    /// Key within the type.
    pub key: String,
    /// Properties as a JSON object.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Outgoing edges, when asked for.
    pub edges: Vec<Edge>,
    /// When it last changed, in microseconds.
    pub updated_at: i64,
}

/// An edge as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Source entity.
    pub src: Uuid,
    /// Destination entity.
    pub dst: Uuid,
    /// Relation type.
    pub rel_type: String,
    /// JSON object text.
    pub properties_json: String,
    /// Weight.
    pub weight: f32,
}

/// The content of a moment.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MomentData {
    /// Id (16 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    /// Short name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Description.
    #[prost(string, tag = "3")]
    pub summary: String,
    /// Start, microseconds since the Unix epoch.
    #[prost(int64, tag = "4")]
    pub start_time: i64,
    /// End, if any.
    #[prost(int64, optional, tag = "5")]
    pub end_time: Option<i64>,
    /// Kind of moment.
    #[prost(string, tag = "6")]
    pub moment_type: String,
    /// Labels.
    #[prost(string, repeated, tag = "7")]
    pub tags: Vec<String>,
    /// Referenced entity ids.
    #[prost(string, repeated, tag = "8")]
    pub entity_refs: Vec<String>,
    /// Referenced resource ids.
    #[prost(string, repeated, tag = "9")]
    pub resource_refs: Vec<String>,
    /// JSON object text.
    #[prost(string, tag = "10")]
    pub metadata_json: String,
}

impl MomentData {
    /// The moment's id.
    pub fn uuid(&self) -> Uuid {
        Uuid::from_slice(&self.id).unwrap_or_default()
    }
}

/// A stored moment row, or the tombstone of a deleted one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MomentRow {
    /// Version of the last write.
    #[prost(message, optional, tag = "1")]
    pub stamp: Option<Stamp>,
    /// True for a tombstone.
    #[prost(bool, tag = "2")]
    pub deleted: bool,
    /// The content (absent in tombstones).
    #[prost(message, optional, tag = "3")]
    pub data: Option<MomentData>,
}

/// Live-row counters of a tenant, kept in the same batch as the rows.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Counters {
    /// Live resources.
    #[prost(uint64, tag = "1")]
    pub resources: u64,
    /// Live resources with an embedding.
    #[prost(uint64, tag = "2")]
    pub embedded: u64,
    /// Live entities.
    #[prost(uint64, tag = "3")]
    pub entities: u64,
    /// Live moments.
    #[prost(uint64, tag = "4")]
    pub moments: u64,
}
