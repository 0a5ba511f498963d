//! The single write path: [`apply`] turns one [`Mutation`] into one
//! `WriteBatch`. Local writes and replicated writes both go through it.
//!
//! Every row carries the [`Stamp`] of the mutation that wrote it, and a write
//! only replaces a row with an older stamp (last-writer-wins by
//! `(hlc, node_id)`). Deletes leave tombstones (or raise a per-uri floor, or an
//! entity's `deleted` stamp) so that an older write arriving later is ignored.
//! Applying a mutation twice, or two mutations in either order, therefore
//! gives the same state.

use uuid::Uuid;

use crate::error::{RemError, Result};
use crate::ids::{entity_id, resource_id};
use crate::keys::{Cf, KeyBuf, META_COUNTERS, META_DIMENSION, META_EMBEDDING_MODEL};
use crate::model::{Counters, EdgeRow, EdgeWrite, EntityRow, EntityWrite, MomentData, MomentRow, PropertyRow, ResourceData, ResourceRow, VectorRow};
use crate::mutation::{ChunkEmbedding, DeleteResources, Mutation, Op, PutResources, SetEmbeddings};
use crate::stamp::Stamp;
use crate::txn::{BatchTxn, decode};
use crate::vectors::vector_to_bytes;

/// A change to the in-memory vector index, made once the batch is committed.
#[derive(Debug, Clone)]
pub enum VectorChange {
    /// Insert or replace the vector of a resource.
    Upsert(Uuid, VectorRow),
    /// Remove the vector of a resource.
    Remove(Uuid),
}

/// What applying a mutation did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Live resources deleted (by id, by uri, or replaced).
    pub resources_deleted: u32,
    /// Chunks that gained an embedding through [`Op::SetEmbeddings`].
    pub resources_embedded: u32,
    /// Live entities deleted.
    pub entities_deleted: u32,
    /// Live edges removed.
    pub edges_removed: u32,
    /// Edges written.
    pub edges_added: u32,
    /// Live moments deleted.
    pub moments_deleted: u32,
    /// Vector dimension set by this mutation, if it set the tenant's first.
    pub new_dimension: Option<u32>,
    /// Changes for the in-memory vector index, in order.
    pub vector_changes: Vec<VectorChange>,
}

/// Applies `mutation` to `txn`. Deterministic: depends only on the mutation
/// and the state it is applied to.
pub fn apply(txn: &mut BatchTxn<'_>, mutation: &Mutation) -> Result<ApplyReport> {
    let stamp = mutation.stamp.clone().ok_or_else(|| RemError::invalid("mutation has no stamp"))?;
    let op = mutation.op.as_ref().ok_or_else(|| RemError::invalid("mutation has no operation"))?;
    let mut applier = Applier { txn, stamp, counters: Counters::default(), report: ApplyReport::default() };
    applier.counters = applier.txn.get_msg(Cf::Meta, META_COUNTERS)?.unwrap_or_default();
    let before = applier.counters;
    match op {
        Op::PutResources(put) => applier.put_resources(put)?,
        Op::DeleteResources(del) => applier.delete_resources(del)?,
        Op::UpsertEntities(up) => up.entities.iter().try_for_each(|e| applier.upsert_entity(e))?,
        Op::DeleteEntities(ids) => ids.ids.iter().try_for_each(|id| applier.delete_entity(parse_bytes(id)?))?,
        Op::AddEdges(add) => add.edges.iter().try_for_each(|e| applier.add_edge(e))?,
        Op::RemoveEdges(rm) => rm.edges.iter().try_for_each(|e| applier.remove_edge(e))?,
        Op::PutMoments(put) => put.moments.iter().try_for_each(|m| applier.put_moment(m))?,
        Op::DeleteMoments(ids) => ids.ids.iter().try_for_each(|id| applier.delete_moment(parse_bytes(id)?))?,
        Op::SetEmbeddings(set) => applier.set_embeddings(set)?,
    }
    if applier.counters != before {
        // All-zero counters are stored as no key, so the same state always
        // has the same bytes whatever order mutations came in.
        let counters = applier.counters;
        if counters == Counters::default() {
            applier.txn.delete(Cf::Meta, META_COUNTERS.to_vec());
        } else {
            applier.txn.put_msg(Cf::Meta, META_COUNTERS.to_vec(), &counters);
        }
    }
    Ok(applier.report)
}

fn parse_bytes(id: &[u8]) -> Result<Uuid> {
    Uuid::from_slice(id).map_err(|_| RemError::invalid(format!("id of {} bytes is not a 16-byte id", id.len())))
}

/// Reads the tenant's vector dimension (0 before the first vector).
pub fn read_dimension(txn: &BatchTxn<'_>) -> Result<u32> {
    match txn.get(Cf::Meta, META_DIMENSION)? {
        None => Ok(0),
        Some(bytes) => {
            let raw: [u8; 4] = bytes.as_slice().try_into().map_err(|_| RemError::Corrupt { cf: "meta", detail: "dimension is not 4 bytes".into() })?;
            Ok(u32::from_be_bytes(raw))
        }
    }
}

struct Applier<'t, 'db> {
    txn: &'t mut BatchTxn<'db>,
    stamp: Stamp,
    counters: Counters,
    report: ApplyReport,
}

impl Applier<'_, '_> {
    /// True when a row written at `existing` must be kept over this mutation.
    fn is_newer(&self, existing: &Option<Stamp>) -> bool {
        existing.as_ref().is_some_and(|s| *s > self.stamp)
    }

    // ---- resources ----

    fn put_resources(&mut self, put: &PutResources) -> Result<()> {
        if !put.embedding_model.is_empty() && put.resources.iter().any(|r| !r.embedding.is_empty()) {
            self.record_embedding_model(&put.embedding_model)?;
        }
        if put.replace_uris {
            let mut uris: Vec<&str> = put.resources.iter().map(|r| r.uri.as_str()).collect();
            uris.sort_unstable();
            uris.dedup();
            for uri in uris {
                let rewritten: Vec<u32> = put.resources.iter().filter(|r| r.uri == uri).map(|r| r.chunk_ordinal).collect();
                self.raise_uri_floor(uri, &rewritten)?;
            }
        }
        put.resources.iter().try_for_each(|r| self.put_resource(r))
    }

    fn uri_floor(&self, uri: &str) -> Result<Option<Stamp>> {
        self.txn.get_msg(Cf::UriFloors, &KeyBuf::new().str(uri).build())
    }

    /// Deletes every chunk row (live or tombstone) of `uri` older than this
    /// mutation and keeps older writes to the uri out from now on, so a uri's
    /// floor and its rows never depend on arrival order. Chunks at `rewritten`
    /// ordinals are about to be written again, so they do not count as
    /// deleted.
    fn raise_uri_floor(&mut self, uri: &str, rewritten: &[u32]) -> Result<()> {
        let floor_key = KeyBuf::new().str(uri).build();
        let floor = self.uri_floor(uri)?;
        if self.is_newer(&floor) {
            return Ok(());
        }
        self.txn.put_msg(Cf::UriFloors, floor_key, &self.stamp.clone());
        let prefix = KeyBuf::new().str(uri).build();
        for (index_key, id_bytes) in self.txn.scan_prefix(Cf::UriChunks, &prefix)? {
            let id = parse_bytes(&id_bytes)?;
            let Some(row) = self.txn.get_msg::<ResourceRow>(Cf::Resources, id.as_bytes())? else { continue };
            if row.stamp.as_ref().is_some_and(|s| *s >= self.stamp) {
                continue;
            }
            if !row.deleted {
                let ordinal = row.data.as_ref().map(|d| d.chunk_ordinal);
                let deleted = !ordinal.is_some_and(|o| rewritten.contains(&o));
                self.remove_live_resource(id, &row, deleted);
            }
            self.txn.delete(Cf::Resources, id.as_bytes().to_vec());
            self.txn.delete(Cf::UriChunks, index_key);
        }
        Ok(())
    }

    fn put_resource(&mut self, data: &ResourceData) -> Result<()> {
        let has_embedding = !data.embedding.is_empty();
        if has_embedding {
            // Before any skip: the tenant's dimension must not depend on the
            // order mutations arrive in.
            self.check_dimension(data.embedding.len())?;
        }
        let floor = self.uri_floor(&data.uri)?;
        if self.is_newer(&floor) {
            return Ok(());
        }
        let id = resource_id(&data.uri, data.chunk_ordinal);
        let existing: Option<ResourceRow> = self.txn.get_msg(Cf::Resources, id.as_bytes())?;
        if self.is_newer(&existing.as_ref().and_then(|r| r.stamp.clone())) {
            return Ok(());
        }
        if let Some(old) = existing.as_ref().filter(|r| !r.deleted) {
            self.remove_live_resource(id, old, false);
        }
        if has_embedding {
            self.store_vector(id, data, &data.embedding);
        }
        let row = ResourceRow {
            stamp: Some(self.stamp.clone()),
            deleted: false,
            data: Some(ResourceData { embedding: Vec::new(), ..data.clone() }),
            has_embedding,
        };
        self.txn.put_msg(Cf::Resources, id.as_bytes().to_vec(), &row);
        self.txn.put(Cf::UriChunks, KeyBuf::new().str(&data.uri).u32(data.chunk_ordinal).build(), id.as_bytes().to_vec());
        self.counters.resources += 1;
        Ok(())
    }

    fn set_embeddings(&mut self, set: &SetEmbeddings) -> Result<()> {
        if !set.items.is_empty() {
            self.record_embedding_model(&set.embedding_model)?;
        }
        set.items.iter().try_for_each(|item| self.set_embedding(item))
    }

    /// Stores the embedding of one chunk when the chunk is still live, still
    /// without a vector and still at the version that was embedded. The row
    /// keeps its stamp: its content did not change.
    fn set_embedding(&mut self, item: &ChunkEmbedding) -> Result<()> {
        self.check_dimension(item.embedding.len())?;
        let chunk = item.chunk.as_ref().ok_or_else(|| RemError::invalid("embedding without a chunk"))?;
        let id = resource_id(&chunk.uri, chunk.chunk_ordinal);
        let Some(mut row) = self.txn.get_msg::<ResourceRow>(Cf::Resources, id.as_bytes())? else { return Ok(()) };
        if row.deleted || row.has_embedding || row.stamp != item.version {
            return Ok(());
        }
        let Some(data) = row.data.as_ref() else { return Ok(()) };
        self.store_vector(id, data, &item.embedding);
        row.has_embedding = true;
        self.txn.put_msg(Cf::Resources, id.as_bytes().to_vec(), &row);
        self.report.resources_embedded += 1;
        Ok(())
    }

    /// Writes the vector of resource `id` with the attributes search filters
    /// on, and counts it.
    fn store_vector(&mut self, id: Uuid, data: &ResourceData, embedding: &[f32]) {
        let vector = VectorRow {
            values: vector_to_bytes(embedding),
            uri: data.uri.clone(),
            content_type: data.content_type.clone(),
            tags: data.tags.clone(),
            created_at: data.created_at,
        };
        self.txn.put_msg(Cf::Vectors, id.as_bytes().to_vec(), &vector);
        self.report.vector_changes.push(VectorChange::Upsert(id, vector));
        self.counters.embedded += 1;
    }

    /// Records which model made the tenant's vectors; one model per tenant.
    fn record_embedding_model(&mut self, model: &str) -> Result<()> {
        match self.txn.get(Cf::Meta, META_EMBEDDING_MODEL)? {
            None => self.txn.put(Cf::Meta, META_EMBEDDING_MODEL.to_vec(), model.as_bytes().to_vec()),
            Some(recorded) if recorded == model.as_bytes() => {}
            Some(recorded) => {
                return Err(RemError::FailedPrecondition(format!(
                    "this tenant's vectors come from model '{}', not '{model}'",
                    String::from_utf8_lossy(&recorded)
                )));
            }
        }
        Ok(())
    }

    fn check_dimension(&mut self, len: usize) -> Result<()> {
        let dim = read_dimension(self.txn)?;
        if dim == 0 {
            let len = u32::try_from(len).map_err(|_| RemError::invalid("vector is too long"))?;
            self.txn.put(Cf::Meta, META_DIMENSION.to_vec(), len.to_be_bytes().to_vec());
            self.report.new_dimension = Some(len);
        } else if dim as usize != len {
            return Err(RemError::FailedPrecondition(format!("vector has {len} dimensions but this tenant's vectors have {dim}")));
        }
        Ok(())
    }

    /// Drops the vector and counts of a live resource (not its row, nor its
    /// uri index entry, which tombstones keep);
    /// `deleted` says whether it counts as deleted rather than overwritten.
    fn remove_live_resource(&mut self, id: Uuid, row: &ResourceRow, deleted: bool) {
        if row.has_embedding {
            self.txn.delete(Cf::Vectors, id.as_bytes().to_vec());
            self.report.vector_changes.push(VectorChange::Remove(id));
            self.counters.embedded = self.counters.embedded.saturating_sub(1);
        }
        self.counters.resources = self.counters.resources.saturating_sub(1);
        self.report.resources_deleted += u32::from(deleted);
    }

    fn delete_resources(&mut self, del: &DeleteResources) -> Result<()> {
        for chunk in &del.chunks {
            if self.is_newer(&self.uri_floor(&chunk.uri)?) {
                continue;
            }
            let id = resource_id(&chunk.uri, chunk.chunk_ordinal);
            let existing: Option<ResourceRow> = self.txn.get_msg(Cf::Resources, id.as_bytes())?;
            if self.is_newer(&existing.as_ref().and_then(|r| r.stamp.clone())) {
                continue;
            }
            if let Some(old) = existing.as_ref().filter(|r| !r.deleted) {
                self.remove_live_resource(id, old, true);
            }
            // The tombstone keeps its uri and its index entry, so a later
            // floor on the uri can find and drop it.
            let named = ResourceData { uri: chunk.uri.clone(), chunk_ordinal: chunk.chunk_ordinal, ..Default::default() };
            let tombstone = ResourceRow { stamp: Some(self.stamp.clone()), deleted: true, data: Some(named), has_embedding: false };
            self.txn.put_msg(Cf::Resources, id.as_bytes().to_vec(), &tombstone);
            self.txn.put(Cf::UriChunks, KeyBuf::new().str(&chunk.uri).u32(chunk.chunk_ordinal).build(), id.as_bytes().to_vec());
        }
        for uri in &del.uris {
            self.raise_uri_floor(uri, &[])?;
        }
        Ok(())
    }

    // ---- entities ----

    fn entity_row(&self, id: Uuid) -> Result<Option<EntityRow>> {
        self.txn.get_msg(Cf::Entities, id.as_bytes())
    }

    fn upsert_entity(&mut self, write: &EntityWrite) -> Result<()> {
        let id = entity_id(&write.entity_type, &write.key);
        let mut row = self.entity_row(id)?.unwrap_or_default();
        let was_live = row.is_live();
        row.entity_type.clone_from(&write.entity_type);
        row.key.clone_from(&write.key);
        if row.upserted.as_ref().is_none_or(|s| *s < self.stamp) {
            row.upserted = Some(self.stamp.clone());
        }
        let deleted_later = self.is_newer(&row.deleted);
        if !deleted_later {
            for prop in &write.properties {
                let key = KeyBuf::new().id(&id).raw(prop.name.as_bytes()).build();
                let existing: Option<PropertyRow> = self.txn.get_msg(Cf::EntityProps, &key)?;
                if self.is_newer(&existing.and_then(|p| p.stamp)) {
                    continue;
                }
                let value = PropertyRow { stamp: Some(self.stamp.clone()), value_json: prop.value_json.clone() };
                self.txn.put_msg(Cf::EntityProps, key, &value);
            }
        }
        self.count_entity_transition(was_live, row.is_live());
        self.txn.put_msg(Cf::Entities, id.as_bytes().to_vec(), &row);
        Ok(())
    }

    fn count_entity_transition(&mut self, was_live: bool, is_live: bool) {
        match (was_live, is_live) {
            (false, true) => self.counters.entities += 1,
            (true, false) => {
                self.counters.entities = self.counters.entities.saturating_sub(1);
                self.report.entities_deleted += 1;
            }
            _ => {}
        }
    }

    fn delete_entity(&mut self, id: Uuid) -> Result<()> {
        let mut row = self.entity_row(id)?.unwrap_or_default();
        let was_live = row.is_live();
        if row.deleted.as_ref().is_none_or(|s| *s < self.stamp) {
            row.deleted = Some(self.stamp.clone());
        }
        let deleted = row.deleted.clone().unwrap_or_default();
        let prefix = KeyBuf::new().id(&id).build();
        for (key, value) in self.txn.scan_prefix(Cf::EntityProps, &prefix)? {
            let prop: PropertyRow = decode(Cf::EntityProps, &value)?;
            if prop.stamp.is_none_or(|s| s < deleted) {
                self.txn.delete(Cf::EntityProps, key);
            }
        }
        for (key, value) in self.txn.scan_prefix(Cf::EdgesOut, &prefix)? {
            let edge: EdgeRow = decode(Cf::EdgesOut, &value)?;
            if edge.stamp.is_none_or(|s| s < deleted) {
                if edge.live {
                    self.txn.delete(Cf::EdgesIn, reverse_edge_key(&key)?);
                }
                self.txn.delete(Cf::EdgesOut, key);
            }
        }
        self.count_entity_transition(was_live, row.is_live());
        self.txn.put_msg(Cf::Entities, id.as_bytes().to_vec(), &row);
        Ok(())
    }

    /// Whether the edge's source was deleted after this mutation.
    fn source_deleted_later(&self, src: Uuid) -> Result<bool> {
        Ok(self.is_newer(&self.entity_row(src)?.and_then(|r| r.deleted)))
    }

    fn add_edge(&mut self, edge: &EdgeWrite) -> Result<()> {
        self.write_edge(edge, true)
    }

    fn remove_edge(&mut self, edge: &EdgeWrite) -> Result<()> {
        self.write_edge(edge, false)
    }

    fn write_edge(&mut self, edge: &EdgeWrite, live: bool) -> Result<()> {
        let (src, dst) = (parse_bytes(&edge.src)?, parse_bytes(&edge.dst)?);
        if self.source_deleted_later(src)? {
            return Ok(());
        }
        let key = edge_out_key(src, &edge.rel_type, dst);
        let existing: Option<EdgeRow> = self.txn.get_msg(Cf::EdgesOut, &key)?;
        if self.is_newer(&existing.as_ref().and_then(|e| e.stamp.clone())) {
            return Ok(());
        }
        let was_live = existing.is_some_and(|e| e.live);
        let reverse = edge_in_key(dst, &edge.rel_type, src);
        let row = if live {
            self.txn.put(Cf::EdgesIn, reverse, Vec::new());
            self.report.edges_added += 1;
            EdgeRow { stamp: Some(self.stamp.clone()), live, properties_json: edge.properties_json.clone(), weight: edge.weight }
        } else {
            self.txn.delete(Cf::EdgesIn, reverse);
            self.report.edges_removed += u32::from(was_live);
            EdgeRow { stamp: Some(self.stamp.clone()), live, properties_json: String::new(), weight: 0.0 }
        };
        self.txn.put_msg(Cf::EdgesOut, key, &row);
        Ok(())
    }

    // ---- moments ----

    fn put_moment(&mut self, data: &MomentData) -> Result<()> {
        let id = parse_bytes(&data.id)?;
        let existing: Option<MomentRow> = self.txn.get_msg(Cf::Moments, id.as_bytes())?;
        if self.is_newer(&existing.as_ref().and_then(|m| m.stamp.clone())) {
            return Ok(());
        }
        match existing.as_ref().and_then(|m| m.data.as_ref().filter(|_| !m.deleted)) {
            Some(old) => self.txn.delete(Cf::MomentTimes, moment_time_key(old.start_time, id)),
            None => self.counters.moments += 1,
        }
        self.txn.put(Cf::MomentTimes, moment_time_key(data.start_time, id), Vec::new());
        let row = MomentRow { stamp: Some(self.stamp.clone()), deleted: false, data: Some(data.clone()) };
        self.txn.put_msg(Cf::Moments, id.as_bytes().to_vec(), &row);
        Ok(())
    }

    fn delete_moment(&mut self, id: Uuid) -> Result<()> {
        let existing: Option<MomentRow> = self.txn.get_msg(Cf::Moments, id.as_bytes())?;
        if self.is_newer(&existing.as_ref().and_then(|m| m.stamp.clone())) {
            return Ok(());
        }
        if let Some(old) = existing.as_ref().and_then(|m| m.data.as_ref().filter(|_| !m.deleted)) {
            self.txn.delete(Cf::MomentTimes, moment_time_key(old.start_time, id));
            self.counters.moments = self.counters.moments.saturating_sub(1);
            self.report.moments_deleted += 1;
        }
        let tombstone = MomentRow { stamp: Some(self.stamp.clone()), deleted: true, data: None };
        self.txn.put_msg(Cf::Moments, id.as_bytes().to_vec(), &tombstone);
        Ok(())
    }
}

/// Key of an outgoing edge: `src | rel_type | dst`.
pub fn edge_out_key(src: Uuid, rel_type: &str, dst: Uuid) -> Vec<u8> {
    KeyBuf::new().id(&src).str(rel_type).id(&dst).build()
}

/// Key of the reverse index entry: `dst | rel_type | src`.
pub fn edge_in_key(dst: Uuid, rel_type: &str, src: Uuid) -> Vec<u8> {
    KeyBuf::new().id(&dst).str(rel_type).id(&src).build()
}

/// Splits an edge key (either direction) into its three parts.
pub fn split_edge_key(key: &[u8]) -> Result<(Uuid, String, Uuid)> {
    let corrupt = || RemError::Corrupt { cf: "edges", detail: "malformed edge key".into() };
    let first = crate::keys::id_at(key, 0).ok_or_else(corrupt)?;
    let (rel, next) = crate::keys::str_at(key, 16).ok_or_else(corrupt)?;
    let second = crate::keys::id_at(key, next).ok_or_else(corrupt)?;
    Ok((first, rel.to_owned(), second))
}

fn reverse_edge_key(out_key: &[u8]) -> Result<Vec<u8>> {
    let (src, rel, dst) = split_edge_key(out_key)?;
    Ok(edge_in_key(dst, &rel, src))
}

/// Key of the feed index: `start_time | id`.
pub fn moment_time_key(start_time: i64, id: Uuid) -> Vec<u8> {
    KeyBuf::new().i64(start_time).id(&id).build()
}
