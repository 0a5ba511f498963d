//! Client of OpenAI-compatible HTTP APIs.
//!
//! Percolate calls external models only through the OpenAI wire protocol,
//! so any server speaking it works: OpenAI itself, or a self-hosted one
//! (whisper servers, vLLM, llama.cpp, LocalAI, ...): speech to text (`POST
//! {base_url}/audio/transcriptions`) and streamed chat completions (`POST
//! {base_url}/chat/completions`).
//!
//! `base_url` includes the API version, as in the OpenAI SDKs:
//! `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.

mod chat;
mod error;
mod http_client;
mod transcription;

pub use chat::{ChatCompleter, ChatConfig, ChatMessage, ChatOptions, ChatStream};
pub use error::OpenAiError;
pub use transcription::{Segment, Transcriber, Transcript, TranscriptionConfig};
