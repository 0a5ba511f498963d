//! Conversions between the wire types (`percolate_proto::v1`) and the
//! storage engine's types. Validation of shapes happens here, at the edge;
//! the engine validates what depends on the tenant's state.

use percolate_proto::v1 as pb;
use percolate_rem::model::{Edge, EdgeWrite, Entity, EntityWrite, MomentData, PropertyWrite, Resource, ResourceData};
use percolate_rem::{Metric, SearchFilter};
use percolate_proto::json::json_to_struct;
use prost_types::{Struct, Timestamp};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::error::DbError;

type Result<T> = std::result::Result<T, DbError>;

/// A protobuf `Struct` as a JSON object; NaN and infinities are refused.
pub fn struct_to_json(s: &Struct) -> Result<Map<String, Json>> {
    percolate_proto::json::struct_to_json(s).map_err(|e| DbError::invalid(e.to_string()))
}

/// JSON text of an optional `Struct` (empty for none).
fn struct_to_text(s: &Option<Struct>) -> Result<String> {
    match s {
        Some(s) if !s.fields.is_empty() => Ok(Json::Object(struct_to_json(s)?).to_string()),
        _ => Ok(String::new()),
    }
}

/// A `Struct` from stored JSON object text (none for empty text).
fn text_to_struct(text: &str) -> Option<Struct> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => Some(json_to_struct(&map)),
        _ => None,
    }
}

/// Microseconds since the epoch of a timestamp.
pub fn timestamp_micros(t: &Timestamp) -> Result<i64> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(DbError::invalid(format!("timestamp nanos {} out of range", t.nanos)));
    }
    t.seconds.checked_mul(1_000_000).and_then(|s| s.checked_add(i64::from(t.nanos / 1000))).ok_or_else(|| DbError::invalid("timestamp out of range"))
}

/// A timestamp from microseconds since the epoch.
pub fn micros_timestamp(micros: i64) -> Timestamp {
    Timestamp { seconds: micros.div_euclid(1_000_000), nanos: (micros.rem_euclid(1_000_000) * 1000) as i32 }
}

/// Parses a client-supplied id.
pub fn parse_id(what: &str, raw: &str) -> Result<Uuid> {
    Ok(percolate_rem::ids::parse_id(what, raw)?)
}

/// Parses a list of client-supplied ids.
pub fn parse_ids(what: &str, raw: &[String]) -> Result<Vec<Uuid>> {
    raw.iter().map(|r| parse_id(what, r)).collect()
}

/// A resource to write, from the wire.
pub fn resource_in(r: pb::Resource, now_micros: i64) -> Result<ResourceData> {
    let pb::Resource { id: _, uri, chunk_ordinal, content, content_type, metadata, tags, created_at, embedding, embedding_pending: _ } = r;
    Ok(ResourceData {
        uri,
        chunk_ordinal,
        content,
        content_type,
        metadata_json: struct_to_text(&metadata)?,
        tags,
        created_at: created_at.as_ref().map(timestamp_micros).transpose()?.unwrap_or(now_micros),
        embedding,
    })
}

/// A stored resource, for the wire.
pub fn resource_out(r: Resource) -> pb::Resource {
    let ResourceData { uri, chunk_ordinal, content, content_type, metadata_json, tags, created_at, embedding } = r.data;
    pb::Resource {
        id: r.id.to_string(),
        uri,
        chunk_ordinal,
        content,
        content_type,
        metadata: text_to_struct(&metadata_json),
        tags,
        created_at: Some(micros_timestamp(created_at)),
        embedding,
        embedding_pending: !r.has_embedding,
    }
}

/// An entity upsert, from the wire. JSON null removes a property.
pub fn entity_in(e: pb::EntityUpsert) -> Result<EntityWrite> {
    let pb::EntityUpsert { r#type, key, properties } = e;
    let properties = match properties {
        Some(s) => struct_to_json(&s)?
            .into_iter()
            .map(|(name, value)| PropertyWrite { name, value_json: (!value.is_null()).then(|| value.to_string()) })
            .collect(),
        None => Vec::new(),
    };
    Ok(EntityWrite { entity_type: r#type, key, properties })
}

/// A stored entity, for the wire.
pub fn entity_out(e: Entity) -> pb::Entity {
    pb::Entity {
        id: e.id.to_string(),
        r#type: e.entity_type,
        key: e.key,
        properties: Some(json_to_struct(&e.properties)),
        edges: e.edges.into_iter().map(edge_out).collect(),
        updated_at: Some(micros_timestamp(e.updated_at)),
    }
}

/// An edge to write, from the wire.
pub fn edge_in(e: pb::Edge) -> Result<EdgeWrite> {
    let pb::Edge { src, dst, rel_type, properties, weight } = e;
    Ok(EdgeWrite {
        src: parse_id("edge src", &src)?.as_bytes().to_vec(),
        dst: parse_id("edge dst", &dst)?.as_bytes().to_vec(),
        rel_type,
        properties_json: struct_to_text(&properties)?,
        weight,
    })
}

/// An edge key to remove, from the wire.
pub fn edge_key_in(e: pb::EdgeKey) -> Result<EdgeWrite> {
    let pb::EdgeKey { src, dst, rel_type } = e;
    Ok(EdgeWrite {
        src: parse_id("edge src", &src)?.as_bytes().to_vec(),
        dst: parse_id("edge dst", &dst)?.as_bytes().to_vec(),
        rel_type,
        properties_json: String::new(),
        weight: 0.0,
    })
}

/// A stored edge, for the wire.
pub fn edge_out(e: Edge) -> pb::Edge {
    pb::Edge { src: e.src.to_string(), dst: e.dst.to_string(), rel_type: e.rel_type, properties: text_to_struct(&e.properties_json), weight: e.weight }
}

/// A moment to write, from the wire; a missing id gets a new UUID v7.
pub fn moment_in(m: pb::Moment) -> Result<MomentData> {
    let pb::Moment { id, name, summary, start_time, end_time, moment_type, tags, entity_refs, resource_refs, metadata } = m;
    let id = if id.is_empty() { Uuid::now_v7() } else { parse_id("moment", &id)? };
    let start_time = start_time.as_ref().ok_or_else(|| DbError::invalid(format!("moment {id} has no start_time")))?;
    Ok(MomentData {
        id: id.as_bytes().to_vec(),
        name,
        summary,
        start_time: timestamp_micros(start_time)?,
        end_time: end_time.as_ref().map(timestamp_micros).transpose()?,
        moment_type,
        tags,
        entity_refs,
        resource_refs,
        metadata_json: struct_to_text(&metadata)?,
    })
}

/// A stored moment, for the wire.
pub fn moment_out(m: MomentData) -> pb::Moment {
    pb::Moment {
        id: m.uuid().to_string(),
        name: m.name,
        summary: m.summary,
        start_time: Some(micros_timestamp(m.start_time)),
        end_time: m.end_time.map(micros_timestamp),
        moment_type: m.moment_type,
        tags: m.tags,
        entity_refs: m.entity_refs,
        resource_refs: m.resource_refs,
        metadata: text_to_struct(&m.metadata_json),
    }
}

/// Search filter from the wire.
pub fn filter_in(f: Option<pb::ResourceFilter>) -> Result<SearchFilter> {
    let Some(pb::ResourceFilter { tags_all, tags_any, uri_prefix, content_types, created_after, created_before }) = f else {
        return Ok(SearchFilter::default());
    };
    Ok(SearchFilter {
        tags_all,
        tags_any,
        uri_prefix,
        content_types,
        created_after: created_after.as_ref().map(timestamp_micros).transpose()?,
        created_before: created_before.as_ref().map(timestamp_micros).transpose()?,
    })
}

/// Similarity measure from the wire.
pub fn metric_in(raw: i32) -> Result<Metric> {
    match pb::Metric::try_from(raw) {
        Ok(pb::Metric::Unspecified | pb::Metric::Cosine) => Ok(Metric::Cosine),
        Ok(pb::Metric::Dot) => Ok(Metric::Dot),
        Err(_) => Err(DbError::invalid(format!("unknown metric {raw}"))),
    }
}

/// Traversal direction from the wire.
pub fn direction_in(raw: i32) -> Result<percolate_rem::Direction> {
    use percolate_rem::Direction;
    match pb::Direction::try_from(raw) {
        Ok(pb::Direction::Unspecified | pb::Direction::Outgoing) => Ok(Direction::Outgoing),
        Ok(pb::Direction::Incoming) => Ok(Direction::Incoming),
        Ok(pb::Direction::Both) => Ok(Direction::Both),
        Err(_) => Err(DbError::invalid(format!("unknown direction {raw}"))),
    }
}

/// Reads the requested durability: true when the write must wait for the
/// replication log's ack.
pub fn durability_in(raw: i32) -> Result<bool> {
    match pb::Durability::try_from(raw) {
        Ok(pb::Durability::Unspecified | pb::Durability::Local) => Ok(false),
        Ok(pb::Durability::Replicated) => Ok(true),
        Err(_) => Err(DbError::invalid(format!("unknown durability {raw}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for micros in [0, 1, -1, 1_700_000_000_123_456] {
            assert_eq!(timestamp_micros(&micros_timestamp(micros)).expect("valid"), micros);
        }
    }
}
