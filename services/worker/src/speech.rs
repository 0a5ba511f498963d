//! Audio through an OpenAI-compatible transcription endpoint, when one is
//! configured (otherwise audio goes to PocketSphinx inside extraction).
//!
//! The file is decoded and cut into WAV parts on a blocking thread, the
//! parts are sent one at a time (one request in flight per job, progress
//! reported after each), and the segments, shifted by each part's offset,
//! become the document.

use percolate_extract::{Document, HeardSegment, Limits, SpeechAudio, decode_speech, speech_document};
use percolate_openai::{OpenAiError, Transcriber};

use crate::error::JobError;
use crate::runner::JobRun;

/// Longest WAV part sent in one request: 10 minutes of 16 kHz 16-bit mono
/// is 19.2 MB, under OpenAI's 25 MB limit.
pub(crate) const PART_SECONDS: u32 = 600;

impl From<OpenAiError> for JobError {
    fn from(error: OpenAiError) -> Self {
        let message = format!("transcription: {error}");
        if error.is_retryable() { JobError::Retryable(message) } else { JobError::Permanent(message) }
    }
}

/// Transcribes `bytes` (already sniffed as audio) with `transcriber`.
pub(crate) async fn transcribe(run: &JobRun, transcriber: &Transcriber, bytes: Vec<u8>) -> Result<Document, JobError> {
    let limits: Limits = run.worker.settings.limits.clone();
    let decode_limits = limits.clone();
    let audio: SpeechAudio = match tokio::task::spawn_blocking(move || decode_speech(&bytes, &decode_limits, PART_SECONDS)).await {
        Ok(result) => result?,
        Err(e) if e.is_panic() => return Err(JobError::Permanent("the audio decoder crashed on this file (it is probably corrupt)".into())),
        Err(e) => return Err(JobError::Retryable(format!("decoding was interrupted: {e}"))),
    };
    let mut heard = Vec::new();
    let parts = audio.parts.len().max(1);
    for (i, part) in audio.parts.iter().enumerate() {
        run.stage("transcribing", 0.05 + 0.05 * i as f32 / parts as f32).await?;
        let wav = tokio::fs::read(&part.path).await.map_err(|e| JobError::Retryable(format!("reading decoded audio: {e}")))?;
        let name = format!("part-{i}.wav");
        let transcript = transcriber.transcribe(wav.into(), &name, "audio/wav", part.duration_ms).await?;
        heard.extend(transcript.segments.into_iter().map(|s| HeardSegment {
            start_ms: part.start_ms + s.start_ms.min(part.duration_ms),
            end_ms: part.start_ms + s.end_ms.min(part.duration_ms),
            text: s.text,
        }));
    }
    tokio::task::spawn_blocking(move || speech_document(&audio, &heard, &limits))
        .await
        .map_err(|e| JobError::Retryable(format!("building the transcript was interrupted: {e}")))?
        .map_err(JobError::from)
}
