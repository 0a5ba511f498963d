//! Job records: creating them, validating requests, and the rules of their
//! life cycle (which states are final, what a cancel may change).

use std::time::{SystemTime, UNIX_EPOCH};

use percolate_proto::v1::{Job, JobKind, JobState, SubmitJobRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{JobsError, Result};

/// Longest `uri` of a document job.
const MAX_URI_LEN: usize = 2048;
/// Longest idempotency key.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;
/// Most tags on a job.
const MAX_TAGS: usize = 64;
/// Longest tag.
const MAX_TAG_BYTES: usize = 256;

/// What travels on the queue: which tenant's job to run. The record holds
/// everything else, so a cancel or an update is never stale on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The tenant the job belongs to.
    pub tenant: String,
    /// The job's id.
    pub job_id: String,
}

impl Envelope {
    /// Encodes the envelope for the queue.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a queue payload.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| JobsError::Corrupt(format!("queue entry: {e}")))
    }
}

/// The current time as a protobuf timestamp.
pub fn now() -> prost_types::Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 }
}

/// True for the states a job never leaves.
pub fn is_finished(state: JobState) -> bool {
    matches!(state, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
}

/// A new queued job for `request`, with a time-ordered id (UUID v7) so a
/// tenant's jobs list newest first by id.
pub fn new_job(request: SubmitJobRequest) -> Job {
    Job {
        id: Uuid::now_v7().to_string(),
        kind: request.kind,
        state: JobState::Queued as i32,
        progress: 0.0,
        stage: "queued".to_string(),
        created_at: Some(now()),
        request: Some(request),
        ..Job::default()
    }
}

/// Parses a job id given by a caller.
pub fn parse_job_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| JobsError::invalid(format!("job id '{raw}' is not a UUID")))
}

/// Checks a submit request before anything is stored.
pub fn validate_submit(request: &SubmitJobRequest) -> Result<()> {
    match JobKind::try_from(request.kind) {
        Ok(JobKind::IngestDocument) => {
            validate_object_key(&request.object_key)?;
            if request.uri.trim().is_empty() {
                return Err(JobsError::invalid("a document job needs a 'uri' for its resources"));
            }
            if request.uri.len() > MAX_URI_LEN {
                return Err(JobsError::invalid(format!("uri is longer than {MAX_URI_LEN} bytes")));
            }
        }
        Ok(JobKind::EmbedResources) => {
            return Err(JobsError::FailedPrecondition(
                "JOB_KIND_EMBED_RESOURCES is not a job: resources written without a vector are embedded by the database node, inline when it has a model and otherwise by the back-fill of the first node with a model that serves the tenant".into(),
            ));
        }
        _ => return Err(JobsError::invalid("'kind' must be JOB_KIND_INGEST_DOCUMENT or JOB_KIND_EMBED_RESOURCES")),
    }
    if request.tags.len() > MAX_TAGS {
        return Err(JobsError::invalid(format!("at most {MAX_TAGS} tags")));
    }
    if request.tags.iter().any(|t| t.is_empty() || t.len() > MAX_TAG_BYTES) {
        return Err(JobsError::invalid(format!("tags must be 1 to {MAX_TAG_BYTES} bytes")));
    }
    if request.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(JobsError::invalid(format!("idempotency_key is longer than {MAX_IDEMPOTENCY_KEY_LEN} bytes")));
    }
    if request.content_type.len() > 255 {
        return Err(JobsError::invalid("content_type is longer than 255 bytes"));
    }
    if let Some(metadata) = &request.metadata {
        percolate_proto::json::struct_to_json(metadata).map_err(|e| JobsError::invalid(format!("metadata: {e}")))?;
    }
    Ok(())
}

/// Object keys are relative paths inside the tenant's own area of the
/// object store (see [`percolate_objects::validate_key`]).
pub fn validate_object_key(key: &str) -> Result<()> {
    percolate_objects::validate_key(key).map_err(|e| JobsError::invalid(e.to_string()))
}
