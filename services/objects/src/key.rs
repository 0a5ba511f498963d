//! Object keys: relative paths inside one tenant's area.

use crate::error::{ObjectError, Result};

/// Longest accepted key.
const MAX_KEY_LEN: usize = 1024;

/// Accepts relative `/`-separated keys of printable ASCII, without spaces,
/// backslashes, or empty, `.` or `..` segments: anything else could escape
/// the tenant's directory or prefix.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why| Err(ObjectError::InvalidKey { key: key.escape_default().to_string(), why });
    if key.is_empty() {
        return bad("is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("is longer than 1024 bytes");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return bad("may contain only printable ASCII without spaces or backslashes");
    }
    if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return bad("must be a relative path without empty, '.' or '..' segments");
    }
    Ok(())
}

/// Accepts tenant ids as the database does (`[a-z0-9][a-z0-9_-]{0,62}`):
/// checked again here so that no caller can build a path or key prefix
/// from an unchecked one.
pub fn validate_tenant(tenant: &str) -> Result<()> {
    let bad = |why| Err(ObjectError::InvalidKey { key: tenant.escape_default().to_string(), why });
    let bytes = tenant.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 {
        return bad("is not a tenant id of 1 to 63 characters");
    }
    if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) || !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-') {
        return bad("is not a tenant id (lowercase letters, digits, '_' and '-', starting with a letter or digit)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{validate_key, validate_tenant};

    #[test]
    fn tenants_are_single_safe_segments() {
        for ok in ["acme", "a", "t-1_x"] {
            assert!(validate_tenant(ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", "a/b", "Acme", "-a", "a.b", &"a".repeat(64)] {
            assert!(validate_tenant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn accepts_plain_relative_keys() {
        for key in ["a", "uploads/2026/report.pdf", "x-y_z.1"] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn refuses_keys_that_could_escape() {
        for key in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "./a", "a/.", "a\\b", "a b", "a\0b", "é"] {
            assert!(validate_key(key).is_err(), "{key:?}");
        }
        assert!(validate_key(&"a".repeat(1025)).is_err());
    }
}
