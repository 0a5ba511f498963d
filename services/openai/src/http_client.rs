//! One HTTP/1.1 client (plain or TLS with the system's roots) and the
//! request/response handling every call shares: a deadline over the whole
//! exchange, a cap on the answer's size, and status codes mapped to
//! [`OpenAiError`].

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::OpenAiError;

/// Largest answer read (transcripts and error bodies are small).
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// An HTTP client for one base URL.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base_url: String,
    api_key: Option<String>,
    timeout: Duration,
}

impl HttpClient {
    /// A client for `base_url` (http or https).
    pub(crate) fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, OpenAiError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let uri: Uri = base_url.parse().map_err(|e| OpenAiError::Config(format!("base URL '{base_url}' is not a URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(OpenAiError::Config(format!("base URL '{base_url}' must be http:// or https:// with a host")));
        }
        if timeout.is_zero() {
            return Err(OpenAiError::Config("the timeout must be more than zero".into()));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls_config()?).https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client, base_url, api_key: api_key.filter(|k| !k.is_empty()), timeout })
    }

    /// The URL of `path` under the base URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// POSTs `body` to `path` and returns the body of a 2xx answer.
    pub(crate) async fn post(&self, path: &str, content_type: &str, body: Bytes) -> Result<Bytes, OpenAiError> {
        let endpoint = self.url(path);
        let mut request = Request::post(&endpoint).header(http::header::CONTENT_TYPE, content_type).header(http::header::ACCEPT, "application/json");
        if let Some(key) = &self.api_key {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request.body(Full::new(body)).map_err(|e| OpenAiError::Config(format!("cannot build a request to {endpoint}: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| OpenAiError::Unavailable { endpoint: endpoint.clone(), detail: error_chain(&e) })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| OpenAiError::Unavailable { endpoint: endpoint.clone(), detail: format!("reading the answer failed: {e}") })?
                .to_bytes();
            Ok::<_, OpenAiError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| OpenAiError::Timeout { endpoint: endpoint.clone(), seconds: self.timeout.as_secs().max(1) })??;
        if status.is_success() {
            return Ok(body);
        }
        Err(status_error(endpoint, status, &body))
    }

    /// POSTs a JSON `body` to `path` and returns the head of a 2xx answer
    /// with its body still to be read (a stream); the deadline covers only
    /// the wait for the head.
    pub(crate) async fn post_json_streaming(&self, path: &str, body: Bytes) -> Result<http::Response<hyper::body::Incoming>, OpenAiError> {
        let endpoint = self.url(path);
        let mut request = Request::post(&endpoint).header(http::header::CONTENT_TYPE, "application/json").header(http::header::ACCEPT, "text/event-stream");
        if let Some(key) = &self.api_key {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request.body(Full::new(body)).map_err(|e| OpenAiError::Config(format!("cannot build a request to {endpoint}: {e}")))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| OpenAiError::Timeout { endpoint: endpoint.clone(), seconds: self.timeout.as_secs().max(1) })?
            .map_err(|e| OpenAiError::Unavailable { endpoint: endpoint.clone(), detail: error_chain(&e) })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = tokio::time::timeout(self.timeout, Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect()).await;
        let body = match body {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => Bytes::new(),
        };
        Err(status_error(endpoint, status, &body))
    }

    /// The longest wait for an answer (or for each piece of a stream).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The error of a non-2xx answer: worth retrying (408, 429, 5xx) or not.
fn status_error(endpoint: String, status: StatusCode, body: &[u8]) -> OpenAiError {
    let message = error_message(body);
    if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        OpenAiError::Unavailable { endpoint, detail: format!("HTTP {}: {message}", status.as_u16()) }
    } else {
        OpenAiError::Rejected { endpoint, status: status.as_u16(), message }
    }
}

/// TLS with the system's root certificates. Without any (a minimal
/// container), plain `http://` still works and `https://` fails to verify.
fn tls_config() -> Result<rustls::ClientConfig, OpenAiError> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OpenAiError::Config(format!("TLS setup failed: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system root certificates found: https endpoints cannot be verified (install ca-certificates)");
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// The message of an error answer: OpenAI's `{"error": {"message": ...}}`,
/// or the start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(message) = value.pointer("/error/message").and_then(|m| m.as_str()) {
            return message.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() { "(no message)".into() } else { text.chars().take(300).collect() }
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_json_body_or_the_text() {
        assert_eq!(error_message(br#"{"error":{"message":"bad model","type":"invalid_request_error"}}"#), "bad model");
        assert_eq!(error_message(b"  upstream exploded \n"), "upstream exploded");
        assert_eq!(error_message(b""), "(no message)");
    }

    #[test]
    fn base_urls_are_checked() {
        let ok = HttpClient::new("http://127.0.0.1:9/v1/", None, Duration::from_secs(1)).map(|c| c.url("audio/transcriptions"));
        assert_eq!(ok.ok().as_deref(), Some("http://127.0.0.1:9/v1/audio/transcriptions"));
        assert!(matches!(HttpClient::new("ftp://x/v1", None, Duration::from_secs(1)), Err(OpenAiError::Config(_))));
        assert!(matches!(HttpClient::new("not a url", None, Duration::from_secs(1)), Err(OpenAiError::Config(_))));
        assert!(matches!(HttpClient::new("http://x/v1", None, Duration::ZERO), Err(OpenAiError::Config(_))));
    }
}
