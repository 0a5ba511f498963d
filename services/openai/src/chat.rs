//! Chat completions, streamed token by token: `POST
//! {base_url}/chat/completions` with `"stream": true`. The answer is a
//! stream of server-sent events, each `data: <chunk JSON>` whose
//! `choices[0].delta.content` is the next piece of text, ending with
//! `data: [DONE]`. A stream that stops before `[DONE]`, an event that is not
//! a chunk, or an `error` event is an error, never a silently short answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Serialize;

use crate::OpenAiError;
use crate::http_client::HttpClient;

/// Largest server-sent event accepted.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// How to reach a chat-completions endpoint. `Debug` leaves the key out.
#[derive(Clone)]
pub struct ChatConfig {
    /// Base URL including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer token, if the server wants one.
    pub api_key: Option<String>,
    /// Model used when a request names none.
    pub model: String,
    /// Longest wait for the answer to start, and between two pieces of it.
    pub timeout: Duration,
}

impl std::fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

impl ChatMessage {
    /// A turn of `role`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.to_string(), content: content.into() }
    }
}

/// Per-request settings; unset ones are left to the server (or the
/// configured model).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatOptions {
    /// Model to use instead of the configured one.
    pub model: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
}

/// The request body.
#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

/// Client of one chat-completions endpoint.
#[derive(Clone, Debug)]
pub struct ChatCompleter {
    http: HttpClient,
    model: String,
}

impl ChatCompleter {
    /// A client for `config`; checks it, connects lazily.
    pub fn new(config: ChatConfig) -> Result<Self, OpenAiError> {
        if config.model.trim().is_empty() {
            return Err(OpenAiError::Config("a chat model name is required".into()));
        }
        Ok(Self { http: HttpClient::new(&config.base_url, config.api_key, config.timeout)?, model: config.model })
    }

    /// The URL called.
    pub fn endpoint(&self) -> String {
        self.http.url("chat/completions")
    }

    /// The configured model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Starts a streamed completion of `messages`.
    pub async fn stream(&self, messages: &[ChatMessage], options: &ChatOptions) -> Result<ChatStream, OpenAiError> {
        let model = options.model.as_deref().filter(|m| !m.trim().is_empty()).unwrap_or(&self.model);
        let body = ChatRequest { model, messages, stream: true, temperature: options.temperature, max_tokens: options.max_tokens };
        let body = serde_json::to_vec(&body).map_err(|e| OpenAiError::Config(format!("cannot encode the request: {e}")))?;
        let response = self.http.post_json_streaming("chat/completions", Bytes::from(body)).await?;
        Ok(ChatStream { body: response.into_body(), buffer: Vec::new(), endpoint: self.endpoint(), idle: self.http.timeout(), model: model.to_string(), done: false })
    }
}

/// A completion being received.
pub struct ChatStream {
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
    endpoint: String,
    idle: Duration,
    model: String,
    done: bool,
}

/// What one server-sent event says.
#[derive(Debug, PartialEq)]
enum Event {
    /// A piece of the answer (possibly empty: a role or finish chunk).
    Delta { text: String, model: Option<String> },
    /// `[DONE]`.
    Done,
    /// A comment or an event without data.
    Nothing,
}

impl ChatStream {
    /// The model answering (as the server names it, once it has).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The next piece of the answer; `None` after `[DONE]`. The timeout
    /// bounds the wait for the next piece *of text*: keep-alive comments
    /// and empty chunks do not extend it.
    pub async fn next_delta(&mut self) -> Result<Option<String>, OpenAiError> {
        let deadline = tokio::time::Instant::now() + self.idle;
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(raw) = take_event(&mut self.buffer) {
                match parse_event(&raw).map_err(|detail| self.malformed(detail))? {
                    Event::Done => self.done = true,
                    Event::Delta { text, model } => {
                        if let Some(model) = model {
                            self.model = model;
                        }
                        if !text.is_empty() {
                            return Ok(Some(text));
                        }
                    }
                    Event::Nothing => {}
                }
                continue;
            }
            if self.buffer.len() > MAX_EVENT_BYTES {
                return Err(self.malformed(format!("an event is longer than {MAX_EVENT_BYTES} bytes")));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await;
            match frame {
                Err(_) => return Err(OpenAiError::Timeout { endpoint: self.endpoint.clone(), seconds: self.idle.as_secs().max(1) }),
                Ok(None) => return Err(self.malformed("the stream ended before [DONE]".into())),
                Ok(Some(Err(e))) => return Err(OpenAiError::Unavailable { endpoint: self.endpoint.clone(), detail: format!("the stream broke: {e}") }),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    fn malformed(&self, detail: String) -> OpenAiError {
        OpenAiError::Malformed { endpoint: self.endpoint.clone(), detail }
    }
}

/// Removes the first complete event (up to a blank line) from `buffer`.
fn take_event(buffer: &mut Vec<u8>) -> Option<String> {
    let (end, separator) = [b"\r\n\r\n".as_slice(), b"\n\n".as_slice()]
        .iter()
        .filter_map(|sep| buffer.windows(sep.len()).position(|w| w == *sep).map(|at| (at, sep.len())))
        .min()?;
    let event = String::from_utf8_lossy(&buffer[..end]).into_owned();
    buffer.drain(..end + separator);
    Some(event)
}

/// Reads one event: its `data:` lines joined, as a chunk, `[DONE]` or an
/// error the server reports in the stream.
fn parse_event(raw: &str) -> Result<Event, String> {
    let data: Vec<&str> = raw.lines().filter_map(|line| line.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
    if data.is_empty() {
        return Ok(Event::Nothing);
    }
    let data = data.join("\n");
    if data.trim() == "[DONE]" {
        return Ok(Event::Done);
    }
    let chunk: serde_json::Value = serde_json::from_str(&data).map_err(|e| format!("an event is not JSON ({e}): {}", data.chars().take(120).collect::<String>()))?;
    if let Some(message) = chunk.pointer("/error/message").and_then(|m| m.as_str()) {
        return Err(format!("the server reported an error mid-stream: {message}"));
    }
    let choices = chunk.get("choices").and_then(|c| c.as_array()).ok_or_else(|| "a chunk has no choices".to_string())?;
    let text = choices.first().and_then(|c| c.pointer("/delta/content")).and_then(|t| t.as_str()).unwrap_or_default().to_string();
    let model = chunk.get("model").and_then(|m| m.as_str()).map(str::to_string);
    Ok(Event::Delta { text, model })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_of_either_kind() {
        let mut buffer = b"data: a\n\ndata: b\r\n\r\ndata: c".to_vec();
        assert_eq!(take_event(&mut buffer).as_deref(), Some("data: a"));
        assert_eq!(take_event(&mut buffer).as_deref(), Some("data: b"));
        assert_eq!(take_event(&mut buffer), None, "the third is not complete yet");
        assert_eq!(buffer, b"data: c");
    }

    #[test]
    fn chunks_done_comments_and_errors_are_told_apart() {
        let chunk = r#"data: {"id":"x","model":"m-1","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#;
        assert_eq!(parse_event(chunk), Ok(Event::Delta { text: "Hel".into(), model: Some("m-1".into()) }));
        let role = r#"data: {"choices":[{"delta":{"role":"assistant"}}]}"#;
        assert_eq!(parse_event(role), Ok(Event::Delta { text: String::new(), model: None }));
        assert_eq!(parse_event("data: [DONE]"), Ok(Event::Done));
        assert_eq!(parse_event(": keep-alive"), Ok(Event::Nothing));
        assert!(parse_event("data: {not json").unwrap_err().contains("not JSON"));
        assert!(parse_event(r#"data: {"error":{"message":"overloaded"}}"#).unwrap_err().contains("overloaded"));
        assert!(parse_event(r#"data: {"id":"x"}"#).unwrap_err().contains("no choices"));
    }

    #[test]
    fn a_model_is_required() {
        let config = ChatConfig { base_url: "http://127.0.0.1:9/v1".into(), api_key: None, model: " ".into(), timeout: Duration::from_secs(1) };
        assert!(matches!(ChatCompleter::new(config), Err(OpenAiError::Config(_))));
    }
}
