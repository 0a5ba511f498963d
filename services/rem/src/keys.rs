//! Binary, order-preserving key encoding and the column families.
//!
//! Strings are length-prefixed (u32 big-endian) so no separator can be forged;
//! integers are big-endian, signed ones with the sign bit flipped so byte order
//! equals numeric order.

use uuid::Uuid;

/// The column families of a tenant database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// Resource rows (and tombstones) by resource id.
    Resources,
    /// Embeddings with the filter attributes search needs, by resource id.
    Vectors,
    /// `uri | ordinal -> resource id` of live chunks.
    UriChunks,
    /// `uri -> stamp` below which every chunk of the uri is deleted.
    UriFloors,
    /// Entity rows by entity id.
    Entities,
    /// `entity id | property name -> stamped value`.
    EntityProps,
    /// `src | rel_type | dst -> edge` (and edge tombstones).
    EdgesOut,
    /// `dst | rel_type | src -> ()`: the reverse index of live edges.
    EdgesIn,
    /// Moment rows by moment id.
    Moments,
    /// `start_time | moment id -> ()` of live moments, for the feed.
    MomentTimes,
    /// Tenant settings and counters.
    Meta,
    /// Node-local replication bookkeeping (the outbox of local mutations not
    /// yet in the log, the last log sequence applied). Not tenant state:
    /// replicas differ here and nowhere else.
    Replication,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 12] = [
        Cf::Resources,
        Cf::Vectors,
        Cf::UriChunks,
        Cf::UriFloors,
        Cf::Entities,
        Cf::EntityProps,
        Cf::EdgesOut,
        Cf::EdgesIn,
        Cf::Moments,
        Cf::MomentTimes,
        Cf::Meta,
        Cf::Replication,
    ];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Resources => "resources",
            Cf::Vectors => "vectors",
            Cf::UriChunks => "uri_chunks",
            Cf::UriFloors => "uri_floors",
            Cf::Entities => "entities",
            Cf::EntityProps => "entity_props",
            Cf::EdgesOut => "edges_out",
            Cf::EdgesIn => "edges_in",
            Cf::Moments => "moments",
            Cf::MomentTimes => "moment_times",
            Cf::Meta => "meta",
            Cf::Replication => "replication",
        }
    }
}

/// Meta key of the tenant's vector dimension.
pub const META_DIMENSION: &[u8] = b"dimension";
/// Meta key of the tenant's counters.
pub const META_COUNTERS: &[u8] = b"counters";
/// Meta key of the embedding model that produced the tenant's vectors.
pub const META_EMBEDDING_MODEL: &[u8] = b"embedding_model";

/// Builds a key from parts.
#[derive(Default)]
pub struct KeyBuf(Vec<u8>);

impl KeyBuf {
    /// An empty key.
    pub fn new() -> Self {
        Self(Vec::with_capacity(64))
    }
    /// Appends a 16-byte id.
    pub fn id(mut self, id: &Uuid) -> Self {
        self.0.extend_from_slice(id.as_bytes());
        self
    }
    /// Appends a length-prefixed string.
    pub fn str(mut self, s: &str) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// Appends raw bytes (only as the last part of a key).
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    /// Appends a big-endian u32.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Appends an order-preserving i64.
    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&encode_i64(v));
        self
    }
    /// The finished key.
    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

/// Order-preserving encoding of an i64.
pub fn encode_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_i64`].
pub fn decode_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// Reads the 16-byte id at `offset` of `key`.
pub fn id_at(key: &[u8], offset: usize) -> Option<Uuid> {
    let bytes: [u8; 16] = key.get(offset..offset + 16)?.try_into().ok()?;
    Some(Uuid::from_bytes(bytes))
}

/// Reads a length-prefixed string at `offset`; returns it and the next offset.
pub fn str_at(key: &[u8], offset: usize) -> Option<(&str, usize)> {
    let len = u32::from_be_bytes(key.get(offset..offset + 4)?.try_into().ok()?) as usize;
    let start = offset + 4;
    let s = std::str::from_utf8(key.get(start..start + len)?).ok()?;
    Some((s, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_encoding_preserves_order() {
        let values = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in values.windows(2) {
            assert!(encode_i64(w[0]) < encode_i64(w[1]));
            assert_eq!(decode_i64(encode_i64(w[0])), w[0]);
        }
    }

    #[test]
    fn length_prefix_keeps_strings_apart() {
        // "a:b" + "c" must not collide with "a" + "b:c".
        let k1 = KeyBuf::new().str("a:b").str("c").build();
        let k2 = KeyBuf::new().str("a").str("b:c").build();
        assert_ne!(k1, k2);
        let (s, next) = str_at(&k1, 0).expect("decodes");
        assert_eq!(s, "a:b");
        assert_eq!(str_at(&k1, next).expect("decodes").0, "c");
    }
}
