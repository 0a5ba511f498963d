//! Speech to text through `POST {base_url}/audio/transcriptions`.
//!
//! The request is `multipart/form-data` with `file`, `model`,
//! `response_format=verbose_json` and `timestamp_granularities[]=segment`
//! (and `language` when configured); the answer's `segments` carry start and
//! end times in seconds. A server that answers with `text` only gives one
//! segment covering the whole file.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;

use crate::OpenAiError;
use crate::http_client::HttpClient;

/// The path under the base URL.
const PATH: &str = "audio/transcriptions";

/// Where and how to transcribe.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionConfig {
    /// Base URL including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<String>,
    /// Model name, e.g. `whisper-1`.
    pub model: String,
    /// ISO-639-1 language of the audio, when known (helps accuracy).
    pub language: Option<String>,
    /// Longest one request may take, upload and answer included.
    pub timeout: Duration,
}

/// A span of recognised speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, in milliseconds from the start of the file sent.
    pub start_ms: u64,
    /// End, in milliseconds.
    pub end_ms: u64,
    /// What was said.
    pub text: String,
}

/// The answer for one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    /// Timed segments, in order; empty when nothing was heard.
    pub segments: Vec<Segment>,
}

/// A client of one transcription endpoint.
#[derive(Debug, Clone)]
pub struct Transcriber {
    http: HttpClient,
    config: TranscriptionConfig,
}

/// The parts of a `verbose_json` answer that are used.
#[derive(Deserialize)]
struct VerboseAnswer {
    text: Option<String>,
    duration: Option<f64>,
    segments: Option<Vec<AnswerSegment>>,
}

#[derive(Deserialize)]
struct AnswerSegment {
    start: f64,
    end: f64,
    text: String,
}

impl Transcriber {
    /// A client for `config`; checks the settings, connects lazily.
    pub fn new(config: TranscriptionConfig) -> Result<Self, OpenAiError> {
        if config.model.trim().is_empty() {
            return Err(OpenAiError::Config("the transcription model name is empty".into()));
        }
        let http = HttpClient::new(&config.base_url, config.api_key.clone(), config.timeout)?;
        Ok(Self { http, config })
    }

    /// The endpoint called, for messages.
    pub fn endpoint(&self) -> String {
        self.http.url(PATH)
    }

    /// Transcribes one audio file (`file_name` tells the server its format,
    /// e.g. `part-0.wav`). `duration_ms` is the file's length, used when
    /// the server gives no segment times.
    pub async fn transcribe(&self, audio: Bytes, file_name: &str, mime: &str, duration_ms: u64) -> Result<Transcript, OpenAiError> {
        let boundary = format!("percolate-{}", uuid::Uuid::new_v4().simple());
        let mut form = Form::new(&boundary, audio.len());
        form.field("model", &self.config.model);
        form.field("response_format", "verbose_json");
        form.field("timestamp_granularities[]", "segment");
        if let Some(language) = self.config.language.as_deref().filter(|l| !l.is_empty()) {
            form.field("language", language);
        }
        form.file("file", file_name, mime, &audio);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let body = self.http.post(PATH, &content_type, form.finish()).await?;
        parse_answer(&body, duration_ms).map_err(|detail| OpenAiError::Malformed { endpoint: self.endpoint(), detail })
    }
}

/// Reads a `verbose_json` (or plain `json`) answer.
fn parse_answer(body: &[u8], duration_ms: u64) -> Result<Transcript, String> {
    let answer: VerboseAnswer = serde_json::from_slice(body).map_err(|e| format!("not a transcription JSON object: {e}"))?;
    let ms = |seconds: f64| (seconds.max(0.0) * 1000.0).round() as u64;
    let mut segments = Vec::new();
    for (i, s) in answer.segments.unwrap_or_default().into_iter().enumerate() {
        if !s.start.is_finite() || !s.end.is_finite() || s.end < s.start {
            return Err(format!("segment {i} has impossible times {}..{}", s.start, s.end));
        }
        let text = s.text.trim();
        if !text.is_empty() {
            segments.push(Segment { start_ms: ms(s.start), end_ms: ms(s.end), text: text.to_string() });
        }
    }
    if segments.is_empty() {
        let text = answer.text.as_deref().map(str::trim).unwrap_or_default();
        if !text.is_empty() {
            let end_ms = answer.duration.filter(|d| d.is_finite()).map_or(duration_ms, ms);
            segments.push(Segment { start_ms: 0, end_ms, text: text.to_string() });
        } else if answer.text.is_none() {
            return Err("the answer has neither 'text' nor 'segments'".into());
        }
    }
    Ok(Transcript { segments })
}

/// A `multipart/form-data` body built in one buffer.
struct Form {
    boundary: String,
    body: BytesMut,
}

impl Form {
    fn new(boundary: &str, capacity: usize) -> Self {
        Self { boundary: boundary.to_string(), body: BytesMut::with_capacity(capacity + 1024) }
    }

    fn field(&mut self, name: &str, value: &str) {
        self.body.put_slice(format!("--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n", self.boundary).as_bytes());
    }

    fn file(&mut self, name: &str, file_name: &str, mime: &str, data: &[u8]) {
        let file_name = file_name.replace(['"', '\r', '\n'], "_");
        self.body.put_slice(format!("--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {mime}\r\n\r\n", self.boundary).as_bytes());
        self.body.put_slice(data);
        self.body.put_slice(b"\r\n");
    }

    fn finish(mut self) -> Bytes {
        self.body.put_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_answers_give_timed_segments() {
        let body = br#"{"task":"transcribe","language":"english","duration":7.5,"text":"hello there. general kenobi",
            "segments":[{"id":0,"start":0.0,"end":2.48,"text":" hello there."},{"id":1,"start":3.0,"end":7.5,"text":" general kenobi"},{"id":2,"start":7.5,"end":7.5,"text":"  "}]}"#;
        let t = parse_answer(body, 0).expect("parses");
        assert_eq!(t.segments, vec![
            Segment { start_ms: 0, end_ms: 2480, text: "hello there.".into() },
            Segment { start_ms: 3000, end_ms: 7500, text: "general kenobi".into() },
        ]);
    }

    #[test]
    fn text_only_answers_cover_the_file() {
        let t = parse_answer(br#"{"text":" just text "}"#, 4200).expect("parses");
        assert_eq!(t.segments, vec![Segment { start_ms: 0, end_ms: 4200, text: "just text".into() }]);
        assert!(parse_answer(br#"{"text":""}"#, 10).expect("silence").segments.is_empty());
    }

    #[test]
    fn broken_answers_are_refused() {
        assert!(parse_answer(b"<html>oops</html>", 0).is_err());
        assert!(parse_answer(br#"{"segments":[{"start":5.0,"end":1.0,"text":"x"}]}"#, 0).is_err());
        assert!(parse_answer(br#"{"unexpected":true}"#, 0).is_err());
    }

    #[test]
    fn forms_are_well_formed() {
        let mut form = Form::new("B", 4);
        form.field("model", "m");
        form.file("file", "a\"b.wav", "audio/wav", b"RIFF");
        let body = form.finish();
        assert_eq!(
            std::str::from_utf8(&body).expect("utf8"),
            "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--B--\r\n"
        );
    }
}
