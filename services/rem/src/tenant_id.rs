//! Validated tenant ids: safe as directory names and object-key prefixes.

use std::fmt;

use crate::error::{RemError, Result};

/// Longest tenant id accepted.
pub const MAX_TENANT_ID_LEN: usize = 63;

/// A tenant id matching `[a-z0-9][a-z0-9_-]{0,62}`. Constructing one is the
/// only way to name a tenant, so no path is ever built from unchecked input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `raw` as a tenant id.
    pub fn parse(raw: &str) -> Result<Self> {
        let reject = |reason| {
            let shown: String = raw.chars().take(80).collect();
            Err(RemError::InvalidTenantId { id: shown, reason })
        };
        if raw.is_empty() {
            return reject("it is empty");
        }
        if raw.len() > MAX_TENANT_ID_LEN {
            return reject("it is longer than 63 characters");
        }
        let bytes = raw.as_bytes();
        if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) {
            return reject("it must start with a lowercase letter or a digit");
        }
        let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-';
        if !bytes.iter().all(allowed) {
            return reject("only lowercase letters, digits, '_' and '-' are allowed");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ids() {
        for id in ["a", "0", "acme", "acme-prod_2", &"a".repeat(63)] {
            assert!(TenantId::parse(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_path_tricks_and_bad_shapes() {
        for id in ["", "..", "../x", "a/b", "A", "Acme", "-a", "_a", "a b", "a.b", "a\0", "ä", &"a".repeat(64), &"x".repeat(200)] {
            assert!(matches!(TenantId::parse(id), Err(RemError::InvalidTenantId { .. })), "{id:?}");
        }
    }
}
