//! Finding the tenant of a request: the `x-tenant-id` metadata, validated
//! before anything touches the disk.

use percolate_proto::TENANT_HEADER;
use percolate_rem::TenantId;
use tonic::metadata::MetadataMap;

use crate::error::DbError;

/// The validated tenant named by a request's metadata.
pub fn tenant_of(metadata: &MetadataMap) -> Result<TenantId, DbError> {
    let raw = metadata.get(TENANT_HEADER).ok_or_else(|| DbError::invalid(format!("missing '{TENANT_HEADER}' metadata: every call names its tenant")))?;
    let raw = raw.to_str().map_err(|_| DbError::invalid(format!("'{TENANT_HEADER}' metadata is not printable ASCII")))?;
    Ok(TenantId::parse(raw)?)
}
