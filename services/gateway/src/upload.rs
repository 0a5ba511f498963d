//! The `Upload` service: a client stream of one metadata message and then
//! data chunks, written to object storage as they arrive (bounded memory),
//! checked against the size and SHA-256 the client declared, then queued for
//! ingestion.
//!
//! Nothing is left behind by a failed or cancelled upload: the object writer
//! is aborted (or, when the request future is dropped because the client
//! went away, aborts itself), and the job is only submitted once the object
//! is complete. The job's idempotency key is `upload:<upload_id>`, so a
//! re-sent upload returns the first job instead of creating another.

use std::sync::Arc;
use std::time::Instant;

use percolate_jobs::Jobs;
use percolate_objects::{ObjectStore, ObjectWriter};
use percolate_proto::TENANT_HEADER;
use percolate_proto::v1 as pb;
use percolate_proto::v1::upload_request::Part;
use percolate_rem::TenantId;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use crate::error::GatewayError;
use crate::metrics::GatewayMetrics;

type Result<T> = std::result::Result<T, GatewayError>;

/// Longest file name accepted.
const MAX_FILE_NAME: usize = 255;
/// Longest client-chosen upload id.
const MAX_UPLOAD_ID: usize = 64;
/// Largest gRPC message: a chunk of up to 4 MiB plus framing.
pub const MAX_MESSAGE_BYTES: usize = (4 << 20) + 4096;

/// Bounds on uploads.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Largest file accepted, in bytes.
    pub max_upload_bytes: u64,
}

/// Serves `percolate.v1.Upload`.
#[derive(Clone)]
pub struct UploadService {
    objects: ObjectStore,
    jobs: Jobs,
    limits: UploadLimits,
    metrics: Arc<GatewayMetrics>,
    abort: watch::Receiver<bool>,
}

/// What the first message asked for, validated.
struct Plan {
    upload_id: String,
    key: String,
    expected_size: Option<u64>,
    expected_sha256: Option<String>,
    job: pb::SubmitJobRequest,
}

impl UploadService {
    /// A service storing into `objects` and queueing on `jobs`. When `abort`
    /// turns true (a shutdown whose grace period is over), uploads still
    /// being received are aborted cleanly and answer `UNAVAILABLE`.
    pub fn new(objects: ObjectStore, jobs: Jobs, limits: UploadLimits, metrics: Arc<GatewayMetrics>, abort: watch::Receiver<bool>) -> Self {
        Self { objects, jobs, limits, metrics, abort }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::upload_server::UploadServer<Self> {
        pb::upload_server::UploadServer::new(self).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    async fn receive(&self, request: Request<Streaming<pb::UploadRequest>>) -> Result<pb::UploadResponse> {
        let tenant = tenant_of(&request)?;
        let mut stream = request.into_inner();
        let first = self.next_message(&mut stream).await?.ok_or_else(|| GatewayError::invalid("the stream ended before the metadata message"))?;
        let metadata = match first.part {
            Some(Part::Metadata(metadata)) => metadata,
            Some(Part::Chunk(_)) => return Err(GatewayError::invalid("the first message must carry the metadata, not data")),
            None => return Err(GatewayError::invalid("the first message is empty: it must carry the metadata")),
        };
        let plan = self.plan(metadata)?;
        if let Some(existing) = self.objects.size(tenant.as_str(), &plan.key).await? {
            return self.receive_again(&tenant, &mut stream, plan, existing).await;
        }
        let mut writer = self.objects.writer(tenant.as_str(), &plan.key).await?;
        if let Err(error) = self.stream_into(&mut writer, &mut stream, &plan).await {
            writer.abort().await;
            return Err(error);
        }
        let stored = writer.finish().await?;
        match self.jobs.submit(&tenant, plan.job.clone()).await {
            Ok(job) => Ok(pb::UploadResponse { upload_id: plan.upload_id, job_id: job.id, object_key: plan.key, size: stored.size, sha256: stored.sha256 }),
            Err(error) => {
                // No job, so no object either: the client retries the whole upload.
                if let Err(e) = self.objects.delete(tenant.as_str(), &plan.key).await {
                    tracing::warn!(key = %plan.key, error = %e, "removing the object of an upload whose job failed");
                }
                Err(error.into())
            }
        }
    }

    /// The next message, or `ShuttingDown` once the gateway gives up on
    /// uploads in flight.
    async fn next_message(&self, stream: &mut Streaming<pb::UploadRequest>) -> Result<Option<pb::UploadRequest>> {
        let mut abort = self.abort.clone();
        let aborted = async move {
            if abort.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            () = aborted => Err(GatewayError::ShuttingDown),
            message = stream.message() => message.map_err(GatewayError::Stream),
        }
    }

    /// Validates the metadata before a byte is stored.
    fn plan(&self, m: pb::UploadMetadata) -> Result<Plan> {
        if m.file_name.is_empty() || m.file_name.len() > MAX_FILE_NAME || m.file_name.chars().any(char::is_control) {
            return Err(GatewayError::invalid(format!("file_name must be 1 to {MAX_FILE_NAME} bytes without control characters")));
        }
        let upload_id = if m.upload_id.is_empty() {
            uuid::Uuid::now_v7().to_string()
        } else if m.upload_id.len() <= MAX_UPLOAD_ID && m.upload_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            m.upload_id.clone()
        } else {
            return Err(GatewayError::invalid(format!("upload_id must be 1 to {MAX_UPLOAD_ID} letters, digits, '-' or '_'")));
        };
        let expected_sha256 = match m.expected_sha256.as_str() {
            "" => None,
            hex if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Some(hex.to_ascii_lowercase()),
            _ => return Err(GatewayError::invalid("expected_sha256 must be 64 hex digits")),
        };
        if let Some(size) = m.expected_size {
            self.check_size(size)?;
        }
        let key = format!("uploads/{upload_id}/{}", safe_file_name(&m.file_name));
        let uri = if m.uri.is_empty() { format!("upload://{}", m.file_name) } else { m.uri };
        let job = pb::SubmitJobRequest {
            kind: pb::JobKind::IngestDocument as i32,
            object_key: key.clone(),
            uri,
            content_type: m.content_type,
            tags: m.tags,
            metadata: m.metadata,
            idempotency_key: format!("upload:{upload_id}"),
        };
        percolate_jobs::validate_submit(&job)?;
        Ok(Plan { upload_id, key, expected_size: m.expected_size, expected_sha256, job })
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let max = self.limits.max_upload_bytes;
        if size > max {
            return Err(GatewayError::TooLarge(format!("the file is {size} bytes, over this gateway's limit of {max} bytes")));
        }
        Ok(())
    }

    /// Writes the data messages; checks size limits on the way and the
    /// declared size and checksum at the end.
    async fn stream_into(&self, writer: &mut ObjectWriter, stream: &mut Streaming<pb::UploadRequest>, plan: &Plan) -> Result<()> {
        while let Some(message) = self.next_message(stream).await? {
            let chunk = match message.part {
                Some(Part::Chunk(chunk)) => chunk,
                Some(Part::Metadata(_)) => return Err(GatewayError::invalid("metadata may only come in the first message")),
                None => continue,
            };
            self.check_size(writer.size() + chunk.len() as u64)?;
            self.metrics.received(chunk.len());
            writer.write(&chunk).await?;
        }
        verify(plan, writer.size(), || writer.sha256())
    }

    /// An upload whose id already has a complete object: the bytes are
    /// hashed (not stored again) and compared with what is stored. The same
    /// file returns the first upload's job; a different one is refused.
    async fn receive_again(&self, tenant: &TenantId, stream: &mut Streaming<pb::UploadRequest>, plan: Plan, stored_size: u64) -> Result<pb::UploadResponse> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(message) = self.next_message(stream).await? {
            match message.part {
                Some(Part::Chunk(chunk)) => {
                    size += chunk.len() as u64;
                    self.check_size(size)?;
                    self.metrics.received(chunk.len());
                    hasher.update(&chunk);
                }
                Some(Part::Metadata(_)) => return Err(GatewayError::invalid("metadata may only come in the first message")),
                None => {}
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        verify(&plan, size, || sha256.clone())?;
        let same = size == stored_size && self.stored_sha256(tenant, &plan.key).await? == sha256;
        if !same {
            return Err(GatewayError::AlreadyExists(format!("upload_id '{}' was already used for a different file", plan.upload_id)));
        }
        let job = self.jobs.submit(tenant, plan.job.clone()).await?;
        Ok(pb::UploadResponse { upload_id: plan.upload_id, job_id: job.id, object_key: plan.key, size, sha256 })
    }

    async fn stored_sha256(&self, tenant: &TenantId, key: &str) -> Result<String> {
        use futures::TryStreamExt;
        let mut reader = self.objects.reader(tenant.as_str(), key).await?;
        let mut hasher = Sha256::new();
        while let Some(piece) = reader.body.try_next().await? {
            hasher.update(&piece);
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Checks a finished stream against what the metadata declared.
fn verify(plan: &Plan, size: u64, sha256: impl FnOnce() -> String) -> Result<()> {
    if size == 0 {
        return Err(GatewayError::invalid("the file is empty"));
    }
    if let Some(expected) = plan.expected_size.filter(|e| *e != size) {
        return Err(GatewayError::Mismatch(format!("received {size} bytes but expected_size is {expected}: nothing was stored")));
    }
    if let Some(expected) = &plan.expected_sha256 {
        let actual = sha256();
        if *expected != actual {
            return Err(GatewayError::Mismatch(format!("the SHA-256 of the received bytes is {actual}, not the expected {expected}: nothing was stored")));
        }
    }
    Ok(())
}

/// The file name as an object key segment: letters, digits, '.', '-' and
/// '_' kept, anything else (spaces, slashes, non-ASCII) replaced by '_', no
/// leading dot, at most 200 bytes.
fn safe_file_name(name: &str) -> String {
    let mut safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).take(200).collect();
    if safe.starts_with('.') {
        safe.replace_range(..1, "_");
    }
    safe
}

fn tenant_of<T>(request: &Request<T>) -> Result<TenantId> {
    let raw = request.metadata().get(TENANT_HEADER).ok_or_else(|| GatewayError::invalid(format!("missing '{TENANT_HEADER}' metadata: every call names its tenant")))?;
    let raw = raw.to_str().map_err(|_| GatewayError::invalid(format!("'{TENANT_HEADER}' is not ASCII")))?;
    TenantId::parse(raw).map_err(|e| GatewayError::invalid(e.to_string()))
}

#[tonic::async_trait]
impl pb::upload_server::Upload for UploadService {
    async fn upload(&self, request: Request<Streaming<pb::UploadRequest>>) -> std::result::Result<Response<pb::UploadResponse>, Status> {
        let started = Instant::now();
        let _in_flight = self.metrics.start();
        let result = self.receive(request).await.map_err(Status::from);
        let outcome = match &result {
            Ok(_) => "stored".to_string(),
            Err(status) => format!("{:?}", status.code()),
        };
        self.metrics.finished(&outcome, started.elapsed());
        result.map(Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names_become_safe_key_segments() {
        assert_eq!(safe_file_name("Q3 report (final).pdf"), "Q3_report__final_.pdf");
        assert_eq!(safe_file_name("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(safe_file_name(".hidden"), "_hidden");
        assert_eq!(safe_file_name("été.txt"), "_t_.txt");
        assert_eq!(safe_file_name(&"a".repeat(300)).len(), 200);
    }
}
