//! Reading resources: by id, by uri, and by meaning.

use uuid::Uuid;

use crate::error::{RemError, Result};
use crate::keys::{Cf, KeyBuf};
use crate::model::{Resource, ResourceRow, VectorRow};
use crate::mutation::ChunkRef;
use crate::stamp::Stamp;
use crate::tenant::Tenant;
use crate::txn::{decode, handle};
use crate::vectors::{Metric, SearchFilter, vector_from_bytes};

/// A semantic search.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// The query vector, of the tenant's dimension.
    pub vector: Vec<f32>,
    /// How many hits to return.
    pub top_k: usize,
    /// Conditions on candidates.
    pub filter: SearchFilter,
    /// Similarity measure.
    pub metric: Metric,
    /// Include embeddings in the hits.
    pub include_embeddings: bool,
}

/// The answer to a [`SearchQuery`].
#[derive(Clone, Debug, Default)]
pub struct SearchResult {
    /// Hits with their scores, best first.
    pub hits: Vec<(Resource, f32)>,
    /// Vectors that passed the filter and were scored.
    pub candidates: usize,
    /// Resources still without an embedding.
    pub pending_embeddings: u64,
}

/// A live chunk stored without an embedding, to be embedded by the node.
#[derive(Clone, Debug)]
pub struct UnembeddedChunk {
    /// Its id, the cursor of the next scan.
    pub id: Uuid,
    /// The chunk.
    pub chunk: ChunkRef,
    /// Version of its row.
    pub version: Option<Stamp>,
    /// Its text.
    pub content: String,
}

impl Tenant {
    /// Up to `limit` live chunks with text but no embedding, in id order
    /// after `after`. Chunks without text are skipped: there is nothing to
    /// embed.
    pub fn unembedded_chunks(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<UnembeddedChunk>> {
        let cf = handle(&self.db, Cf::Resources)?;
        let start = after.map(|id| id.as_bytes().to_vec());
        let mode = match &start {
            Some(key) => rocksdb::IteratorMode::From(key, rocksdb::Direction::Forward),
            None => rocksdb::IteratorMode::Start,
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf, mode) {
            let (key, value) = item?;
            if start.as_deref() == Some(&key[..]) {
                continue;
            }
            let row: ResourceRow = decode(Cf::Resources, &value)?;
            if row.deleted || row.has_embedding {
                continue;
            }
            let Some(data) = row.data else { continue };
            if data.content.trim().is_empty() {
                continue;
            }
            let id = Uuid::from_slice(&key).map_err(|_| RemError::Corrupt { cf: "resources", detail: "key is not a 16-byte id".into() })?;
            out.push(UnembeddedChunk { id, chunk: ChunkRef { uri: data.uri, chunk_ordinal: data.chunk_ordinal }, version: row.stamp, content: data.content });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Reads resources by id; `None` for ids that do not exist.
    pub fn get_resources(&self, ids: &[Uuid], include_embeddings: bool) -> Result<Vec<Option<Resource>>> {
        let cf = handle(&self.db, Cf::Resources)?;
        let rows = self.db.batched_multi_get_cf(cf, ids.iter().map(|id| id.as_bytes()), false);
        let mut out = Vec::with_capacity(ids.len());
        for (id, row) in ids.iter().zip(rows) {
            let resource = match row? {
                Some(bytes) => self.live_resource(*id, decode(Cf::Resources, &bytes)?, include_embeddings)?,
                None => None,
            };
            out.push(resource);
        }
        Ok(out)
    }

    /// The uri and ordinal of each live resource among `ids` (`None` for ids
    /// that do not exist), to name them in a delete.
    pub fn chunk_refs(&self, ids: &[Uuid]) -> Result<Vec<Option<ChunkRef>>> {
        Ok(self
            .get_resources(ids, false)?
            .into_iter()
            .map(|r| r.map(|r| ChunkRef { uri: r.data.uri, chunk_ordinal: r.data.chunk_ordinal }))
            .collect())
    }

    /// Every live chunk of `uri`, in chunk order.
    pub fn resources_by_uri(&self, uri: &str, include_embeddings: bool) -> Result<Vec<Resource>> {
        let prefix = KeyBuf::new().str(uri).build();
        let mut ids = Vec::new();
        for item in self.db.prefix_iterator_cf(handle(&self.db, Cf::UriChunks)?, &prefix) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            if let Ok(id) = Uuid::from_slice(&value) {
                ids.push(id);
            }
        }
        Ok(self.get_resources(&ids, include_embeddings)?.into_iter().flatten().collect())
    }

    /// The resources closest to the query vector.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResult> {
        let (scored, candidates) = self.vectors.read().search(&query.vector, query.top_k, &query.filter, query.metric);
        let ids: Vec<Uuid> = scored.iter().map(|s| s.id).collect();
        let resources = self.get_resources(&ids, query.include_embeddings)?;
        let hits = resources.into_iter().zip(&scored).filter_map(|(r, s)| r.map(|r| (r, s.score))).collect();
        let counters = self.counters()?;
        Ok(SearchResult { hits, candidates, pending_embeddings: counters.resources.saturating_sub(counters.embedded) })
    }

    fn live_resource(&self, id: Uuid, row: ResourceRow, include_embeddings: bool) -> Result<Option<Resource>> {
        let Some(mut data) = row.data.filter(|_| !row.deleted) else { return Ok(None) };
        if include_embeddings && row.has_embedding {
            if let Some(bytes) = self.db.get_cf(handle(&self.db, Cf::Vectors)?, id.as_bytes())? {
                let vector: VectorRow = decode(Cf::Vectors, &bytes)?;
                data.embedding = vector_from_bytes(&vector.values).unwrap_or_default();
            }
        }
        Ok(Some(Resource { id, data, has_embedding: row.has_embedding }))
    }
}
