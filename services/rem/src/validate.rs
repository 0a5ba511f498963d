//! Checks a client's change before it is stamped: anything invalid is
//! rejected whole, so a bad request never writes part of a batch.

use std::collections::HashSet;

use uuid::Uuid;

use crate::error::{RemError, Result};
use crate::ids::resource_id;
use crate::mutation::{Op, PutResources};
use crate::tenant::Tenant;
use crate::vectors::validate_vector;

/// Most items (resources, entities, edges, moments, ids) in one write.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Longest uri, entity type, key, relation type or property name, in bytes.
pub const MAX_NAME_BYTES: usize = 4096;
/// Most tags on one resource or moment.
pub const MAX_TAGS: usize = 64;
/// Longest tag, in bytes.
pub const MAX_TAG_BYTES: usize = 256;

fn check_batch(what: &str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(RemError::invalid(format!("no {what} given")));
    }
    if len > MAX_BATCH_ITEMS {
        return Err(RemError::invalid(format!("{len} {what} in one request; the limit is {MAX_BATCH_ITEMS}")));
    }
    Ok(())
}

/// Checks a required name-like field: not empty, not too long.
pub fn check_name(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(RemError::invalid(format!("{what} is empty")));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(RemError::invalid(format!("{what} is {} bytes long; the limit is {MAX_NAME_BYTES}", value.len())));
    }
    Ok(())
}

fn check_tags(what: &str, tags: &[String]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(RemError::invalid(format!("{what} has {} tags; the limit is {MAX_TAGS}", tags.len())));
    }
    if let Some(tag) = tags.iter().find(|t| t.is_empty() || t.len() > MAX_TAG_BYTES) {
        return Err(RemError::invalid(format!("{what} has a tag of {} bytes; tags must be 1 to {MAX_TAG_BYTES} bytes", tag.len())));
    }
    Ok(())
}

fn check_json_object(what: &str, json: &str) -> Result<()> {
    if json.is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(RemError::invalid(format!("{what} must be a JSON object"))),
        Err(e) => Err(RemError::invalid(format!("{what} is not valid JSON: {e}"))),
    }
}

fn check_id_bytes(what: &str, id: &[u8]) -> Result<Uuid> {
    Uuid::from_slice(id).map_err(|_| RemError::invalid(format!("{what} is not a 16-byte id")))
}

/// Validates a resource put against the tenant's current state.
pub fn validate_put(tenant: &Tenant, put: &PutResources) -> Result<()> {
    check_batch("resources", put.resources.len())?;
    if !put.embedding_model.is_empty() && put.resources.iter().any(|r| !r.embedding.is_empty()) {
        if let Some(recorded) = tenant.embedding_model()?.filter(|m| *m != put.embedding_model) {
            return Err(RemError::FailedPrecondition(format!("this tenant's vectors come from model '{recorded}', not '{}'", put.embedding_model)));
        }
    }
    let mut seen = HashSet::new();
    let mut dim = tenant.dimension();
    for (i, r) in put.resources.iter().enumerate() {
        let what = format!("resources[{i}]");
        check_name(&format!("{what}.uri"), &r.uri)?;
        check_tags(&what, &r.tags)?;
        check_json_object(&format!("{what}.metadata"), &r.metadata_json)?;
        if !seen.insert(resource_id(&r.uri, r.chunk_ordinal)) {
            return Err(RemError::invalid(format!("{what} repeats uri '{}' chunk {} of the same request", r.uri, r.chunk_ordinal)));
        }
        if !r.embedding.is_empty() {
            validate_vector(&format!("{what}.embedding"), &r.embedding)?;
            if dim == 0 {
                dim = r.embedding.len();
            } else if r.embedding.len() != dim {
                return Err(RemError::invalid(format!("{what}.embedding has {} dimensions but this tenant's vectors have {dim}", r.embedding.len())));
            }
        }
    }
    Ok(())
}

/// Validates `op` against the tenant's current state.
pub fn validate_op(tenant: &Tenant, op: &Op) -> Result<()> {
    match op {
        Op::PutResources(put) => validate_put(tenant, put),
        Op::DeleteResources(del) => {
            check_batch("resource ids or uris", del.chunks.len() + del.uris.len())?;
            del.chunks.iter().try_for_each(|c| check_name("uri", &c.uri))?;
            del.uris.iter().try_for_each(|uri| check_name("uri", uri))
        }
        Op::UpsertEntities(up) => {
            check_batch("entities", up.entities.len())?;
            let mut seen = HashSet::new();
            for (i, e) in up.entities.iter().enumerate() {
                check_name(&format!("entities[{i}].type"), &e.entity_type)?;
                check_name(&format!("entities[{i}].key"), &e.key)?;
                if !seen.insert((&e.entity_type, &e.key)) {
                    return Err(RemError::invalid(format!("entities[{i}] repeats ({}, {}) of the same request", e.entity_type, e.key)));
                }
                for p in &e.properties {
                    check_name(&format!("entities[{i}] property name"), &p.name)?;
                }
            }
            Ok(())
        }
        Op::DeleteEntities(ids) | Op::DeleteMoments(ids) => {
            check_batch("ids", ids.ids.len())?;
            ids.ids.iter().try_for_each(|id| check_id_bytes("id", id).map(drop))
        }
        Op::AddEdges(add) => {
            check_batch("edges", add.edges.len())?;
            for (i, e) in add.edges.iter().enumerate() {
                check_name(&format!("edges[{i}].rel_type"), &e.rel_type)?;
                check_json_object(&format!("edges[{i}].properties"), &e.properties_json)?;
                if !e.weight.is_finite() {
                    return Err(RemError::invalid(format!("edges[{i}].weight is not finite")));
                }
                for (end, id) in [("src", &e.src), ("dst", &e.dst)] {
                    let id = check_id_bytes(&format!("edges[{i}].{end}"), id)?;
                    if !tenant.entity_exists(id)? {
                        return Err(RemError::NotFound(format!("edges[{i}].{end}: entity {id} does not exist")));
                    }
                }
            }
            Ok(())
        }
        Op::RemoveEdges(rm) => {
            check_batch("edges", rm.edges.len())?;
            for (i, e) in rm.edges.iter().enumerate() {
                check_name(&format!("edges[{i}].rel_type"), &e.rel_type)?;
                check_id_bytes(&format!("edges[{i}].src"), &e.src)?;
                check_id_bytes(&format!("edges[{i}].dst"), &e.dst)?;
            }
            Ok(())
        }
        Op::PutMoments(put) => {
            check_batch("moments", put.moments.len())?;
            let mut seen = HashSet::new();
            for (i, m) in put.moments.iter().enumerate() {
                let id = check_id_bytes(&format!("moments[{i}].id"), &m.id)?;
                if !seen.insert(id) {
                    return Err(RemError::invalid(format!("moments[{i}] repeats id {id} of the same request")));
                }
                check_tags(&format!("moments[{i}]"), &m.tags)?;
                check_json_object(&format!("moments[{i}].metadata"), &m.metadata_json)?;
                if m.end_time.is_some_and(|end| end < m.start_time) {
                    return Err(RemError::invalid(format!("moments[{i}] ends before it starts")));
                }
            }
            Ok(())
        }
        Op::SetEmbeddings(set) => {
            check_batch("embeddings", set.items.len())?;
            check_name("embedding_model", &set.embedding_model)?;
            if let Some(recorded) = tenant.embedding_model()?.filter(|m| *m != set.embedding_model) {
                return Err(RemError::FailedPrecondition(format!("this tenant's vectors come from model '{recorded}', not '{}'", set.embedding_model)));
            }
            let dim = tenant.dimension();
            for (i, item) in set.items.iter().enumerate() {
                let chunk = item.chunk.as_ref().ok_or_else(|| RemError::invalid(format!("items[{i}] names no chunk")))?;
                check_name(&format!("items[{i}].uri"), &chunk.uri)?;
                validate_vector(&format!("items[{i}].embedding"), &item.embedding)?;
                let expected = if dim == 0 { set.items[0].embedding.len() } else { dim };
                if item.embedding.len() != expected {
                    return Err(RemError::invalid(format!("items[{i}].embedding has {} dimensions, not {expected}", item.embedding.len())));
                }
            }
            Ok(())
        }
    }
}
