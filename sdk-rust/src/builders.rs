//! Small builders so callers rarely assemble protobuf messages by hand.

use std::time::{SystemTime, UNIX_EPOCH};

use percolate_proto::v1 as pb;
pub use percolate_proto::json::json_to_struct;
use prost_types::{Struct, Timestamp};
use serde_json::Value as Json;

/// A resource chunk to write.
#[derive(Clone, Debug, Default)]
pub struct ResourceInput(pub pb::Resource);

impl ResourceInput {
    /// Chunk 0 of `uri` with `content`.
    pub fn new(uri: impl Into<String>, content: impl Into<String>) -> Self {
        Self(pb::Resource { uri: uri.into(), content: content.into(), ..Default::default() })
    }
    /// Sets the chunk ordinal.
    pub fn ordinal(mut self, ordinal: u32) -> Self {
        self.0.chunk_ordinal = ordinal;
        self
    }
    /// Sets the embedding.
    pub fn embedding(mut self, embedding: Vec<f32>) -> Self {
        self.0.embedding = embedding;
        self
    }
    /// Sets the tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.0.tags = tags.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the content type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.0.content_type = content_type.into();
        self
    }
    /// Sets the metadata (a JSON object; other values are ignored).
    pub fn metadata(mut self, metadata: Json) -> Self {
        self.0.metadata = as_struct(metadata);
        self
    }
}

/// An entity to upsert.
#[derive(Clone, Debug, Default)]
pub struct EntityInput(pub pb::EntityUpsert);

impl EntityInput {
    /// The entity `key` of type `entity_type`.
    pub fn new(entity_type: impl Into<String>, key: impl Into<String>) -> Self {
        Self(pb::EntityUpsert { r#type: entity_type.into(), key: key.into(), properties: None })
    }
    /// Sets the properties to merge (a JSON object; null removes a field).
    pub fn properties(mut self, properties: Json) -> Self {
        self.0.properties = as_struct(properties);
        self
    }
}

/// A moment to write.
#[derive(Clone, Debug, Default)]
pub struct MomentInput(pub pb::Moment);

impl MomentInput {
    /// A moment named `name` starting now.
    pub fn new(name: impl Into<String>) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let start = Timestamp { seconds: now.as_secs() as i64, nanos: now.subsec_nanos() as i32 };
        Self(pb::Moment { name: name.into(), start_time: Some(start), ..Default::default() })
    }
    /// Sets the start time in seconds since the Unix epoch.
    pub fn start_seconds(mut self, seconds: i64) -> Self {
        self.0.start_time = Some(Timestamp { seconds, nanos: 0 });
        self
    }
    /// Sets the moment type.
    pub fn moment_type(mut self, moment_type: impl Into<String>) -> Self {
        self.0.moment_type = moment_type.into();
        self
    }
    /// Sets the summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.0.summary = summary.into();
        self
    }
    /// Sets the tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.0.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

fn as_struct(value: Json) -> Option<Struct> {
    match value {
        Json::Object(map) => Some(json_to_struct(&map)),
        _ => None,
    }
}

/// A protobuf `Struct` as JSON (non-finite numbers become null).
pub fn struct_to_json(s: &Struct) -> Json {
    Json::Object(s.fields.iter().map(|(k, v)| (k.clone(), percolate_proto::json::value_to_json(v).unwrap_or(Json::Null))).collect())
}
