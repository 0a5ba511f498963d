//! Exact vector search over a tenant's embeddings, held in memory.
//!
//! Vectors live contiguously in one `Vec<f32>`; the dot product works on
//! fixed-size chunks with independent accumulators so the compiler emits SIMD
//! code for it. A search scores every vector that passes the filter and keeps
//! the best `k` in a small heap.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use uuid::Uuid;

use crate::error::{RemError, Result};
use crate::model::VectorRow;

/// Largest vector dimension accepted.
pub const MAX_DIMENSION: usize = 8192;

/// Similarity measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity.
    #[default]
    Cosine,
    /// Raw dot product.
    Dot,
}

/// Conditions a resource must meet to be a search candidate.
#[derive(Clone, Debug, Default)]
pub struct SearchFilter {
    /// Must carry all of these tags.
    pub tags_all: Vec<String>,
    /// Must carry one of these tags, when not empty.
    pub tags_any: Vec<String>,
    /// Uri must start with this.
    pub uri_prefix: String,
    /// Content type must be one of these, when not empty.
    pub content_types: Vec<String>,
    /// Created at or after (microseconds).
    pub created_after: Option<i64>,
    /// Created before (microseconds).
    pub created_before: Option<i64>,
}

impl SearchFilter {
    fn is_empty(&self) -> bool {
        self.tags_all.is_empty()
            && self.tags_any.is_empty()
            && self.uri_prefix.is_empty()
            && self.content_types.is_empty()
            && self.created_after.is_none()
            && self.created_before.is_none()
    }

    fn accepts(&self, slot: &Slot) -> bool {
        self.tags_all.iter().all(|t| slot.tags.contains(t))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(|t| slot.tags.contains(t)))
            && slot.uri.starts_with(&self.uri_prefix)
            && (self.content_types.is_empty() || self.content_types.contains(&slot.content_type))
            && self.created_after.is_none_or(|t| slot.created_at >= t)
            && self.created_before.is_none_or(|t| slot.created_at < t)
    }
}

/// A search result: a resource id and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredId {
    /// Resource id.
    pub id: Uuid,
    /// Similarity; higher is closer.
    pub score: f32,
}

struct Slot {
    id: Uuid,
    uri: String,
    content_type: String,
    tags: Vec<String>,
    created_at: i64,
}

/// All embeddings of one tenant.
#[derive(Default)]
pub struct VectorIndex {
    dim: usize,
    data: Vec<f32>,
    inv_norms: Vec<f32>,
    slots: Vec<Slot>,
    by_id: HashMap<Uuid, usize>,
}

impl VectorIndex {
    /// An empty index for vectors of `dim` components (0: not known yet).
    pub fn new(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    /// An empty index with room for `capacity` vectors of `dim` components.
    pub fn with_capacity(dim: usize, capacity: usize) -> Self {
        Self {
            dim,
            data: Vec::with_capacity(dim * capacity),
            inv_norms: Vec::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            by_id: HashMap::with_capacity(capacity),
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the index holds no vector.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Dimension of the vectors (0 before the first).
    pub fn dimension(&self) -> usize {
        self.dim
    }

    /// Sets the dimension of an empty index.
    pub fn set_dimension(&mut self, dim: usize) {
        if self.slots.is_empty() {
            self.dim = dim;
        }
    }

    /// Inserts or replaces the vector of a resource, decoding its bytes in
    /// place (this runs for every vector when a tenant opens).
    pub fn upsert(&mut self, id: Uuid, row: VectorRow) -> Result<()> {
        let (components, rest) = row.values.as_chunks::<4>();
        if self.dim == 0 {
            self.dim = components.len();
        }
        if !rest.is_empty() || components.len() != self.dim || self.dim == 0 {
            return Err(RemError::Corrupt { cf: "vectors", detail: format!("vector of resource {id} has {} bytes, the tenant's dimension is {}", row.values.len(), self.dim) });
        }
        let slot = Slot { id, uri: row.uri, content_type: row.content_type, tags: row.tags, created_at: row.created_at };
        let index = match self.by_id.get(&id) {
            Some(&index) => {
                let target = &mut self.data[index * self.dim..(index + 1) * self.dim];
                target.iter_mut().zip(components).for_each(|(dst, c)| *dst = f32::from_le_bytes(*c));
                self.slots[index] = slot;
                index
            }
            None => {
                let index = self.slots.len();
                self.by_id.insert(id, index);
                self.data.extend(components.iter().map(|c| f32::from_le_bytes(*c)));
                self.inv_norms.push(0.0);
                self.slots.push(slot);
                index
            }
        };
        let vector = &self.data[index * self.dim..(index + 1) * self.dim];
        let norm = dot(vector, vector).sqrt();
        self.inv_norms[index] = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        Ok(())
    }

    /// Removes the vector of a resource, if present.
    pub fn remove(&mut self, id: Uuid) {
        let Some(index) = self.by_id.remove(&id) else { return };
        let last = self.slots.len() - 1;
        if index != last {
            let (dim, moved) = (self.dim, self.slots[last].id);
            self.data.copy_within(last * dim..(last + 1) * dim, index * dim);
            self.inv_norms.swap(index, last);
            self.slots.swap(index, last);
            self.by_id.insert(moved, index);
        }
        self.data.truncate(last * self.dim);
        self.inv_norms.truncate(last);
        self.slots.truncate(last);
    }

    /// The `k` best matches of `query` among vectors passing `filter`, best
    /// first, and how many vectors were scored.
    pub fn search(&self, query: &[f32], k: usize, filter: &SearchFilter, metric: Metric) -> (Vec<ScoredId>, usize) {
        if k == 0 || self.slots.is_empty() || query.len() != self.dim {
            return (Vec::new(), 0);
        }
        let query_scale = match metric {
            Metric::Cosine => 1.0 / dot(query, query).sqrt().max(f32::MIN_POSITIVE),
            Metric::Dot => 1.0,
        };
        let check = !filter.is_empty();
        let mut heap: BinaryHeap<Reverse<Candidate>> = BinaryHeap::with_capacity(k + 1);
        let mut scored = 0;
        for (index, vector) in self.data.chunks_exact(self.dim).enumerate() {
            if check && !filter.accepts(&self.slots[index]) {
                continue;
            }
            scored += 1;
            let mut score = dot(query, vector) * query_scale;
            if metric == Metric::Cosine {
                score *= self.inv_norms[index];
            }
            if heap.len() < k {
                heap.push(Reverse(Candidate { score, index }));
            } else if heap.peek().is_some_and(|Reverse(worst)| score > worst.score) {
                heap.pop();
                heap.push(Reverse(Candidate { score, index }));
            }
        }
        let mut hits: Vec<Candidate> = heap.into_iter().map(|Reverse(c)| c).collect();
        hits.sort_by(|a, b| b.cmp(a));
        (hits.into_iter().map(|c| ScoredId { id: self.slots[c.index].id, score: c.score }).collect(), scored)
    }
}

#[derive(Clone, Copy)]
struct Candidate {
    score: f32,
    index: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// By score; ties broken by position so results are deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.index.cmp(&self.index))
    }
}

/// Dot product, written so the compiler vectorises it: 16 independent
/// accumulators over fixed-size chunks, then the remainder.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// Checks that a vector can be stored or searched with.
pub fn validate_vector(what: &str, values: &[f32]) -> Result<()> {
    if values.is_empty() {
        return Err(RemError::invalid(format!("{what} is empty")));
    }
    if values.len() > MAX_DIMENSION {
        return Err(RemError::invalid(format!("{what} has {} dimensions, more than the maximum of {MAX_DIMENSION}", values.len())));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(RemError::invalid(format!("{what} has a non-finite value ({}) at index {i}", values[i])));
    }
    if values.iter().all(|v| *v == 0.0) {
        return Err(RemError::invalid(format!("{what} is all zeros")));
    }
    if !dot(values, values).is_finite() {
        return Err(RemError::invalid(format!("{what} is too large: its squared length overflows f32")));
    }
    Ok(())
}

/// Little-endian bytes of a vector.
pub fn vector_to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A vector from little-endian bytes; `None` if the length is not a multiple of 4.
pub fn vector_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    let (chunks, rest) = bytes.as_chunks::<4>();
    rest.is_empty().then(|| chunks.iter().map(|c| f32::from_le_bytes(*c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[f32], tags: &[&str]) -> VectorRow {
        VectorRow { values: vector_to_bytes(values), uri: "u".into(), content_type: "text/plain".into(), tags: tags.iter().map(|t| t.to_string()).collect(), created_at: 0 }
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }

    #[test]
    fn search_ranks_by_cosine_and_filters() {
        let mut index = VectorIndex::new(2);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        index.upsert(a, row(&[1.0, 0.0], &["x"])).expect("upsert");
        index.upsert(b, row(&[10.0, 1.0], &["y"])).expect("upsert");
        index.upsert(c, row(&[0.0, 1.0], &["x"])).expect("upsert");
        let (hits, scored) = index.search(&[1.0, 0.0], 2, &SearchFilter::default(), Metric::Cosine);
        assert_eq!(scored, 3);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![a, b]);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        let (dot_hits, _) = index.search(&[1.0, 0.0], 1, &SearchFilter::default(), Metric::Dot);
        assert_eq!(dot_hits[0].id, b);
        let filter = SearchFilter { tags_all: vec!["x".into()], ..Default::default() };
        let (hits, scored) = index.search(&[0.0, 1.0], 5, &filter, Metric::Cosine);
        assert_eq!(scored, 2);
        assert_eq!(hits[0].id, c);
        index.remove(a);
        let (hits, _) = index.search(&[1.0, 0.0], 5, &SearchFilter::default(), Metric::Cosine);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![b, c]);
    }

    #[test]
    fn rejects_bad_vectors() {
        assert!(validate_vector("v", &[]).is_err());
        assert!(validate_vector("v", &[f32::NAN]).is_err());
        assert!(validate_vector("v", &[f32::INFINITY, 1.0]).is_err());
        assert!(validate_vector("v", &[0.0, 0.0]).is_err());
        assert!(validate_vector("v", &[1e20, 1.0]).is_err());
        assert!(validate_vector("v", &[0.1, 0.0]).is_ok());
    }
}
