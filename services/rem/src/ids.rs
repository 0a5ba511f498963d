//! Deterministic ids: the same `(uri, chunk_ordinal)` or `(type, key)` always
//! names the same row, on every node, so re-ingestion and replication never
//! create duplicates.

use uuid::Uuid;

/// Namespace of resource ids (UUID v5).
const RESOURCE_NAMESPACE: Uuid = Uuid::from_u128(0x7e1c_52a4_9a0b_4d7c_8f4e_2b1d_3c5a_6e01);
/// Namespace of entity ids (UUID v5).
const ENTITY_NAMESPACE: Uuid = Uuid::from_u128(0x7e1c_52a4_9a0b_4d7c_8f4e_2b1d_3c5a_6e02);

/// Length-prefixed concatenation, so `("a:b", "c")` and `("a", "b:c")` differ.
fn name_of(a: &str, b: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(8 + a.len() + b.len());
    name.extend_from_slice(&(a.len() as u32).to_be_bytes());
    name.extend_from_slice(a.as_bytes());
    name.extend_from_slice(&(b.len() as u32).to_be_bytes());
    name.extend_from_slice(b);
    name
}

/// Id of the chunk `chunk_ordinal` of the document at `uri`.
pub fn resource_id(uri: &str, chunk_ordinal: u32) -> Uuid {
    Uuid::new_v5(&RESOURCE_NAMESPACE, &name_of(uri, &chunk_ordinal.to_be_bytes()))
}

/// Id of the entity `key` of type `entity_type`.
pub fn entity_id(entity_type: &str, key: &str) -> Uuid {
    Uuid::new_v5(&ENTITY_NAMESPACE, &name_of(entity_type, key.as_bytes()))
}

/// Parses an id given by a client.
pub fn parse_id(what: &str, raw: &str) -> crate::Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| crate::RemError::invalid(format!("{what} id '{}' is not a UUID", raw.chars().take(80).collect::<String>())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(resource_id("doc", 0), resource_id("doc", 0));
        assert_ne!(resource_id("doc", 0), resource_id("doc", 1));
        assert_ne!(entity_id("person", "ada"), entity_id("org", "ada"));
        assert_ne!(entity_id("a:b", "c"), entity_id("a", "b:c"));
    }
}
