//! Reading entities and walking the graph.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

use crate::apply::split_edge_key;
use crate::error::Result;
use crate::keys::{Cf, KeyBuf};
use crate::model::{Edge, EdgeRow, Entity, EntityRow, PropertyRow};
use crate::tenant::Tenant;
use crate::txn::{decode, handle};

/// Which edges a traversal follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// From source to destination.
    #[default]
    Outgoing,
    /// From destination to source.
    Incoming,
    /// Both ways.
    Both,
}

/// A breadth-first walk of the graph.
#[derive(Clone, Debug, Default)]
pub struct TraverseQuery {
    /// Entities at depth 0.
    pub start: Vec<Uuid>,
    /// Most hops.
    pub max_depth: u32,
    /// Which edges to follow.
    pub direction: Direction,
    /// Only these relation types (all when empty).
    pub rel_types: Vec<String>,
    /// Most entities returned.
    pub limit: usize,
}

/// The answer to a [`TraverseQuery`].
#[derive(Clone, Debug, Default)]
pub struct Traversal {
    /// Entities reached with their depth, breadth-first.
    pub nodes: Vec<(Entity, u32)>,
    /// Edges walked between returned entities.
    pub edges: Vec<Edge>,
    /// Whether the limit cut the walk short.
    pub truncated: bool,
}

impl Tenant {
    /// Whether the entity exists.
    pub fn entity_exists(&self, id: Uuid) -> Result<bool> {
        Ok(self.entity_row(id)?.is_some_and(|r| r.is_live()))
    }

    fn entity_row(&self, id: Uuid) -> Result<Option<EntityRow>> {
        let raw = self.db.get_cf(handle(&self.db, Cf::Entities)?, id.as_bytes())?;
        raw.map(|b| decode(Cf::Entities, &b)).transpose()
    }

    /// Reads entities by id; `None` for ids that do not exist.
    pub fn get_entities(&self, ids: &[Uuid], include_edges: bool) -> Result<Vec<Option<Entity>>> {
        ids.iter().map(|id| self.get_entity(*id, include_edges)).collect()
    }

    /// Reads one entity.
    pub fn get_entity(&self, id: Uuid, include_edges: bool) -> Result<Option<Entity>> {
        let Some(row) = self.entity_row(id)?.filter(EntityRow::is_live) else { return Ok(None) };
        let mut properties = serde_json::Map::new();
        let mut updated = row.upserted.as_ref().map(|s| s.micros()).unwrap_or_default();
        let prefix = KeyBuf::new().id(&id).build();
        for item in self.db.prefix_iterator_cf(handle(&self.db, Cf::EntityProps)?, &prefix) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            let prop: PropertyRow = decode(Cf::EntityProps, &value)?;
            if let Some(stamp) = &prop.stamp {
                updated = updated.max(stamp.micros());
            }
            let Some(json) = prop.value_json else { continue };
            let name = String::from_utf8_lossy(&key[16..]).into_owned();
            properties.insert(name, serde_json::from_str(&json).unwrap_or(serde_json::Value::Null));
        }
        // Edges to entities that no longer exist are left out, as in `traverse`.
        let mut edges = Vec::new();
        if include_edges {
            for edge in self.edges_from(id, &[])? {
                if self.entity_row(edge.dst)?.is_some_and(|row| row.is_live()) {
                    edges.push(edge);
                }
            }
        }
        Ok(Some(Entity { id, entity_type: row.entity_type, key: row.key, properties, edges, updated_at: updated }))
    }

    /// Live outgoing edges of `src`, only of `rel_types` when not empty.
    pub fn edges_from(&self, src: Uuid, rel_types: &[String]) -> Result<Vec<Edge>> {
        let prefixes = edge_prefixes(src, rel_types);
        let cf = handle(&self.db, Cf::EdgesOut)?;
        let mut edges = Vec::new();
        for prefix in prefixes {
            for item in self.db.prefix_iterator_cf(cf, &prefix) {
                let (key, value) = item?;
                if !key.starts_with(&prefix) {
                    break;
                }
                let row: EdgeRow = decode(Cf::EdgesOut, &value)?;
                if row.live {
                    let (src, rel_type, dst) = split_edge_key(&key)?;
                    edges.push(Edge { src, dst, rel_type, properties_json: row.properties_json, weight: row.weight });
                }
            }
        }
        Ok(edges)
    }

    /// Live incoming edges of `dst`, only of `rel_types` when not empty.
    pub fn edges_to(&self, dst: Uuid, rel_types: &[String]) -> Result<Vec<Edge>> {
        let prefixes = edge_prefixes(dst, rel_types);
        let mut edges = Vec::new();
        for prefix in prefixes {
            for item in self.db.prefix_iterator_cf(handle(&self.db, Cf::EdgesIn)?, &prefix) {
                let (key, _) = item?;
                if !key.starts_with(&prefix) {
                    break;
                }
                let (dst, rel_type, src) = split_edge_key(&key)?;
                let out_key = crate::apply::edge_out_key(src, &rel_type, dst);
                if let Some(bytes) = self.db.get_cf(handle(&self.db, Cf::EdgesOut)?, out_key)? {
                    let row: EdgeRow = decode(Cf::EdgesOut, &bytes)?;
                    edges.push(Edge { src, dst, rel_type, properties_json: row.properties_json, weight: row.weight });
                }
            }
        }
        Ok(edges)
    }

    /// Walks the graph breadth first. Edges to entities that no longer exist
    /// are skipped.
    pub fn traverse(&self, query: &TraverseQuery) -> Result<Traversal> {
        let mut out = Traversal::default();
        let mut depth_of: HashMap<Uuid, u32> = HashMap::new();
        let mut walked: HashSet<(Uuid, String, Uuid)> = HashSet::new();
        let mut queue = VecDeque::new();
        for id in &query.start {
            if depth_of.contains_key(id) {
                continue;
            }
            if let Some(entity) = self.get_entity(*id, false)? {
                if out.nodes.len() >= query.limit {
                    out.truncated = true;
                    return Ok(out);
                }
                depth_of.insert(*id, 0);
                out.nodes.push((entity, 0));
                queue.push_back((*id, 0));
            }
        }
        while let Some((id, depth)) = queue.pop_front() {
            if depth >= query.max_depth {
                continue;
            }
            let mut steps = Vec::new();
            if query.direction != Direction::Incoming {
                steps.extend(self.edges_from(id, &query.rel_types)?.into_iter().map(|e| (e.dst, e)));
            }
            if query.direction != Direction::Outgoing {
                steps.extend(self.edges_to(id, &query.rel_types)?.into_iter().map(|e| (e.src, e)));
            }
            for (next, edge) in steps {
                let edge_key = (edge.src, edge.rel_type.clone(), edge.dst);
                if depth_of.contains_key(&next) {
                    if walked.insert(edge_key) {
                        out.edges.push(edge);
                    }
                    continue;
                }
                let Some(entity) = self.get_entity(next, false)? else { continue };
                if out.nodes.len() >= query.limit {
                    out.truncated = true;
                    return Ok(out);
                }
                depth_of.insert(next, depth + 1);
                out.nodes.push((entity, depth + 1));
                walked.insert(edge_key);
                out.edges.push(edge);
                queue.push_back((next, depth + 1));
            }
        }
        Ok(out)
    }
}

/// Key prefixes of an entity's edges (either direction's index), one per
/// relation type, or one for all of them.
fn edge_prefixes(id: Uuid, rel_types: &[String]) -> Vec<Vec<u8>> {
    if rel_types.is_empty() {
        vec![KeyBuf::new().id(&id).build()]
    } else {
        rel_types.iter().map(|rel| KeyBuf::new().id(&id).str(rel).build()).collect()
    }
}
