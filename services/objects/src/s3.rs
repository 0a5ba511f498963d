//! Objects on any S3-compatible server, through `aws-sdk-s3`.
//!
//! Layout: one bucket with keys `tenants/<tenant>/<key>`, or (with
//! `bucket_per_tenant`) a bucket `<bucket><tenant>` per tenant with keys
//! `<key>`. A write is a single `PutObject` when it fits in one part, else a
//! multipart upload with one part in flight (memory stays near one part
//! size); a failed, aborted or dropped write aborts its multipart upload so
//! no orphaned parts remain. Request checksums are only sent where S3
//! requires them (many S3-compatible servers reject the SDK's default
//! CRC32 trailers); integrity is the SHA-256 the writer computes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use tokio::sync::Mutex;

use crate::error::{ObjectError, Result};
use crate::writer::{ObjectWriter, Sink};
use crate::{ByteStream, ListedObject, ObjectReader};

/// Smallest part S3 accepts (except the last).
const MIN_PART_SIZE: usize = 5 << 20;

/// How to reach the server.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible server; AWS's when `None`.
    pub endpoint: Option<String>,
    /// Region (S3-compatible servers mostly ignore it; `us-east-1`).
    pub region: String,
    /// The bucket, or the bucket name prefix with `bucket_per_tenant`.
    pub bucket: String,
    /// Static credentials; when both are `None` the SDK's default chain
    /// (environment, profile, web identity, instance metadata) is used.
    pub access_key: Option<String>,
    /// Secret of `access_key`.
    pub secret_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// S3-compatible servers need.
    pub path_style: bool,
    /// One bucket per tenant, named `<bucket><tenant>`.
    pub bucket_per_tenant: bool,
    /// Create missing buckets on first write.
    pub create_buckets: bool,
    /// Bytes per multipart part (at least 5 MiB).
    pub part_size: usize,
    /// Longest one request attempt may take.
    pub request_timeout: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: "percolate".into(),
            access_key: None,
            secret_key: None,
            path_style: true,
            bucket_per_tenant: false,
            create_buckets: true,
            part_size: 8 << 20,
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// A client of one S3-compatible server.
#[derive(Clone)]
pub struct S3Objects {
    client: Client,
    config: Arc<S3Config>,
    buckets_ready: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for S3Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Maps an SDK error to [`ObjectError::Remote`].
fn remote<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug + 'static>(operation: &'static str, key: &str, error: SdkError<E, R>) -> ObjectError {
    let detail = match error.code() {
        Some(code) => format!("{code}: {}", error.message().unwrap_or("no message")),
        None => error_chain(&error),
    };
    ObjectError::Remote { operation, key: key.to_string(), detail }
}

/// An error and its sources on one line, without debug dumps.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

impl S3Objects {
    /// A client for `config`; checks it, connects lazily.
    pub async fn new(config: S3Config) -> Result<Self> {
        if config.part_size < MIN_PART_SIZE {
            return Err(ObjectError::Config(format!("part_size {} is under S3's minimum of 5 MiB", config.part_size)));
        }
        if config.access_key.is_some() != config.secret_key.is_some() {
            return Err(ObjectError::Config("set both the access key and the secret key, or neither".into()));
        }
        if !config.bucket_per_tenant {
            check_bucket_name(&config.bucket)?;
        }
        let mut builder = match (&config.access_key, &config.secret_key) {
            (Some(key), Some(secret)) => aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(Credentials::new(key, secret, None, None, "percolate-config")),
            _ => {
                let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
                aws_sdk_s3::config::Builder::from(&shared)
            }
        };
        builder = builder
            .region(Region::new(config.region.clone()))
            .force_path_style(config.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_attempt_timeout(config.request_timeout).build())
            .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(200)).with_max_backoff(Duration::from_secs(5)));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Ok(Self { client: Client::from_conf(builder.build()), config: Arc::new(config), buckets_ready: Arc::new(Mutex::new(HashSet::new())) })
    }

    /// Where the objects are, for logs.
    pub fn describe(&self) -> String {
        let endpoint = self.config.endpoint.as_deref().unwrap_or("AWS");
        if self.config.bucket_per_tenant {
            format!("S3 {endpoint}, a bucket per tenant named {}<tenant>", self.config.bucket)
        } else {
            format!("S3 {endpoint}, bucket {}", self.config.bucket)
        }
    }

    /// The SDK client (for tests and tools that list or clean up).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket and key of an object.
    pub fn location(&self, tenant: &str, key: &str) -> Result<(String, String)> {
        let (bucket, area) = self.area(tenant)?;
        Ok((bucket, format!("{area}{key}")))
    }

    /// The bucket of a tenant's objects and the prefix of their keys.
    fn area(&self, tenant: &str) -> Result<(String, String)> {
        if self.config.bucket_per_tenant {
            let bucket = format!("{}{tenant}", self.config.bucket);
            check_bucket_name(&bucket)?;
            Ok((bucket, String::new()))
        } else {
            Ok((self.config.bucket.clone(), format!("tenants/{tenant}/")))
        }
    }

    /// Creates `bucket` once per process when configured to.
    async fn ensure_bucket(&self, bucket: &str) -> Result<()> {
        if !self.config.create_buckets {
            return Ok(());
        }
        let mut ready = self.buckets_ready.lock().await;
        if ready.contains(bucket) {
            return Ok(());
        }
        match self.client.create_bucket().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_exists() || s.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(remote("CreateBucket", bucket, e)),
        }
        ready.insert(bucket.to_string());
        Ok(())
    }

    pub(crate) async fn reader(&self, tenant: &str, key: &str) -> Result<ObjectReader> {
        let (bucket, object) = self.location(tenant, key)?;
        let output = match self.client.get_object().bucket(&bucket).key(&object).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || e.code() == Some("NoSuchBucket") => return Err(ObjectError::NotFound(key.to_string())),
            Err(e) => return Err(remote("GetObject", key, e)),
        };
        let size = output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let owned_key = key.to_string();
        let body: ByteStream = Box::pin(futures::stream::unfold(Some(output.body), move |state| {
            let key = owned_key.clone();
            async move {
                let mut body = state?;
                match body.next().await {
                    None => None,
                    Some(Ok(piece)) => Some((Ok(piece), Some(body))),
                    Some(Err(e)) => Some((Err(ObjectError::Remote { operation: "GetObject", key, detail: error_chain(&e) }), None)),
                }
            }
        }));
        Ok(ObjectReader { size, body })
    }

    pub(crate) async fn size(&self, tenant: &str, key: &str) -> Result<Option<u64>> {
        let (bucket, object) = self.location(tenant, key)?;
        match self.client.head_object().bucket(&bucket).key(&object).send().await {
            Ok(output) => Ok(Some(output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(remote("HeadObject", key, e)),
        }
    }

    pub(crate) async fn delete(&self, tenant: &str, key: &str) -> Result<()> {
        let (bucket, object) = self.location(tenant, key)?;
        match self.client.delete_object().bucket(&bucket).key(&object).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchBucket") || e.code() == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(remote("DeleteObject", key, e)),
        }
    }

    pub(crate) async fn list(&self, tenant: &str, prefix: &str) -> Result<Vec<ListedObject>> {
        let (bucket, area) = self.area(tenant)?;
        let mut listed = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&bucket).prefix(format!("{area}{prefix}/")).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("NoSuchBucket") => return Ok(Vec::new()),
                Err(e) => return Err(remote("ListObjectsV2", prefix, e)),
            };
            for object in page.contents() {
                let (Some(key), Some(size)) = (object.key(), object.size()) else { continue };
                if let Some(key) = key.strip_prefix(area.as_str()) {
                    listed.push(ListedObject { key: key.to_string(), size: u64::try_from(size).unwrap_or(0) });
                }
            }
        }
        Ok(listed)
    }

    pub(crate) async fn writer(&self, tenant: &str, key: &str) -> Result<ObjectWriter> {
        let (bucket, object) = self.location(tenant, key)?;
        self.ensure_bucket(&bucket).await?;
        let sink = S3Sink { client: self.client.clone(), bucket, object, key: key.to_string(), part_size: self.config.part_size, buffer: BytesMut::new(), upload_id: None, parts: Vec::new(), written: 0 };
        Ok(ObjectWriter::new(key, Sink::S3(sink)))
    }
}

/// Checks the S3 rules for bucket names (3-63 lowercase letters, digits,
/// '-' and '.', starting and ending with a letter or digit).
fn check_bucket_name(bucket: &str) -> Result<()> {
    let b = bucket.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=63).contains(&b.len()) && b.first().is_some_and(edge) && b.last().is_some_and(edge) && b.iter().all(|c| edge(c) || *c == b'-' || *c == b'.');
    if ok {
        Ok(())
    } else {
        Err(ObjectError::Config(format!("'{bucket}' is not a valid S3 bucket name (3-63 lowercase letters, digits, '-' or '.'; tenant ids with '_' cannot name a bucket)")))
    }
}

/// An S3 object being written.
pub(crate) struct S3Sink {
    client: Client,
    bucket: String,
    object: String,
    key: String,
    part_size: usize,
    buffer: BytesMut,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    written: u64,
}

impl S3Sink {
    pub(crate) async fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = self.part_size - self.buffer.len();
            let take = room.min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == self.part_size {
                let part = self.buffer.split().freeze();
                self.upload_part(part).await?;
            }
        }
        Ok(())
    }

    async fn upload_part(&mut self, part: Bytes) -> Result<()> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self.client.create_multipart_upload().bucket(&self.bucket).key(&self.object).send().await.map_err(|e| remote("CreateMultipartUpload", &self.key, e))?;
                let id = created.upload_id().ok_or_else(|| ObjectError::Remote { operation: "CreateMultipartUpload", key: self.key.clone(), detail: "the answer has no upload id".into() })?.to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).map_err(|_| ObjectError::Config("too many parts".into()))?;
        let uploaded = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.object)
            .upload_id(&upload_id)
            .part_number(number)
            .body(SdkByteStream::from(part))
            .send()
            .await
            .map_err(|e| remote("UploadPart", &self.key, e))?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(uploaded.e_tag().map(str::to_string)).build());
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> Result<()> {
        let rest = self.buffer.split().freeze();
        let Some(upload_id) = self.upload_id.clone() else {
            self.client.put_object().bucket(&self.bucket).key(&self.object).body(SdkByteStream::from(rest)).send().await.map_err(|e| remote("PutObject", &self.key, e))?;
            return Ok(());
        };
        if !rest.is_empty() {
            self.upload_part(rest).await?;
        }
        let parts = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
        let completed = self.client.complete_multipart_upload().bucket(&self.bucket).key(&self.object).upload_id(&upload_id).multipart_upload(parts).send().await;
        match completed {
            Ok(_) => {}
            // Some servers (moto 5) answer 200 with a body the SDK cannot
            // parse (`CompleteMultipartUploadResponse`): the object is there
            // when it has exactly the bytes written.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) && self.stored_size().await == Some(self.written) => {
                tracing::debug!(key = %self.key, "CompleteMultipartUpload answer unreadable; the object is complete");
            }
            Err(e) => return Err(remote("CompleteMultipartUpload", &self.key, e)),
        }
        self.upload_id = None;
        Ok(())
    }

    /// Size of the stored object, if it exists.
    async fn stored_size(&self) -> Option<u64> {
        let head = self.client.head_object().bucket(&self.bucket).key(&self.object).send().await.ok()?;
        head.content_length().and_then(|n| u64::try_from(n).ok())
    }

    pub(crate) async fn abort(mut self) {
        if let Some(upload_id) = self.upload_id.take() {
            abort_upload(&self.client, &self.bucket, &self.object, &upload_id).await;
        }
    }
}

async fn abort_upload(client: &Client, bucket: &str, object: &str, upload_id: &str) {
    if let Err(e) = client.abort_multipart_upload().bucket(bucket).key(object).upload_id(upload_id).send().await {
        tracing::warn!(bucket, object, error = %error_chain(&e), "aborting a multipart upload failed");
    }
}

impl Drop for S3Sink {
    /// A writer dropped with a multipart upload open (a cancelled request)
    /// aborts it in the background.
    fn drop(&mut self) {
        if let Some(upload_id) = self.upload_id.take() {
            let (client, bucket, object) = (self.client.clone(), self.bucket.clone(), self.object.clone());
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { abort_upload(&client, &bucket, &object, &upload_id).await });
                }
                Err(_) => tracing::warn!(bucket, object, "a multipart upload was left open: no runtime to abort it"),
            }
        }
    }
}
