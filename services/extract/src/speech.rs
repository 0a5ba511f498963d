//! Audio for an external speech-to-text service (an OpenAI-compatible
//! `/audio/transcriptions` endpoint): the file is decoded and resampled the
//! same way as for PocketSphinx, then cut into 16 kHz mono 16-bit WAV parts
//! short enough for such services (OpenAI takes at most 25 MB per request;
//! ten minutes is 19.2 MB). The caller sends the parts and turns the timed
//! segments it gets back into a document with [`speech_document`].

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use crate::audio::{TARGET_RATE, Word, audio_document, decode_to_pcm};
use crate::process::temp_dir;
use crate::{Document, ExtractError, Limits};

/// Bytes per 16-bit mono sample.
const SAMPLE_BYTES: u64 = 2;

/// Decoded audio, cut into WAV files in a temporary directory that lives as
/// long as this value.
#[derive(Debug)]
pub struct SpeechAudio {
    _dir: tempfile::TempDir,
    /// The parts, in order.
    pub parts: Vec<SpeechPart>,
    /// The title tag, when the file has one.
    pub title: Option<String>,
    /// Length of the whole file, in whole seconds (rounded up).
    pub seconds: u64,
}

/// One WAV part of a [`SpeechAudio`].
#[derive(Debug, Clone)]
pub struct SpeechPart {
    /// The WAV file.
    pub path: PathBuf,
    /// Where the part starts in the whole file, in milliseconds.
    pub start_ms: u64,
    /// Its length, in milliseconds.
    pub duration_ms: u64,
}

/// A span of speech heard by the service, in milliseconds from the start of
/// the whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct HeardSegment {
    /// Start.
    pub start_ms: u64,
    /// End.
    pub end_ms: u64,
    /// What was said.
    pub text: String,
}

/// Decodes `bytes` (any format [`crate::Kind::Audio`] covers, within
/// [`Limits::max_audio_seconds`]) into WAV parts of at most `part_seconds`.
pub fn decode_speech(bytes: &[u8], limits: &Limits, part_seconds: u32) -> Result<SpeechAudio, ExtractError> {
    limits.check_file_size(bytes.len() as u64)?;
    let dir = temp_dir()?;
    let pcm = dir.path().join("audio.raw");
    let decoded = crate::text::no_panic("audio", || decode_to_pcm(bytes, limits, &pcm))?;
    let io = |e: std::io::Error| ExtractError::tool("audio parts", e);
    let total = std::fs::metadata(&pcm).map_err(io)?.len();
    let part_bytes = u64::from(part_seconds.max(1)) * u64::from(TARGET_RATE) * SAMPLE_BYTES;
    let mut reader = BufReader::new(File::open(&pcm).map_err(io)?);
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < total {
        let len = part_bytes.min(total - offset);
        let path = dir.path().join(format!("part-{}.wav", parts.len()));
        let mut out = BufWriter::new(File::create(&path).map_err(io)?);
        out.write_all(&wav_header(len)).map_err(io)?;
        let copied = std::io::copy(&mut (&mut reader).take(len), &mut out).map_err(io)?;
        out.flush().map_err(io)?;
        if copied != len {
            return Err(ExtractError::tool("audio parts", format!("decoded audio ended early ({copied} of {len} bytes)")));
        }
        parts.push(SpeechPart { path, start_ms: ms_of(offset), duration_ms: ms_of(len) });
        offset += len;
    }
    std::fs::remove_file(&pcm).map_err(io)?;
    Ok(SpeechAudio { _dir: dir, parts, title: decoded.title.clone(), seconds: decoded.seconds() })
}

/// The document of what the service heard: segments grouped into timed
/// sections like PocketSphinx's words. Nothing heard is
/// [`ExtractError::NoText`], as for any other file without text.
pub fn speech_document(audio: &SpeechAudio, segments: &[HeardSegment], limits: &Limits) -> Result<Document, ExtractError> {
    let words: Vec<Word> = segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| Word { text: s.text.trim().to_string(), start_ms: s.start_ms, end_ms: s.end_ms.max(s.start_ms) })
        .collect();
    if words.is_empty() {
        return Err(ExtractError::NoText(crate::Kind::Audio.content_type().to_string()));
    }
    audio_document(audio.title.clone(), audio.seconds, &words, limits)
}

/// Milliseconds of `bytes` of 16 kHz 16-bit mono audio.
fn ms_of(bytes: u64) -> u64 {
    bytes / SAMPLE_BYTES * 1000 / u64::from(TARGET_RATE)
}

/// The 44-byte header of a PCM WAV file of `data_len` bytes, 16 kHz mono
/// 16-bit.
fn wav_header(data_len: u64) -> [u8; 44] {
    let data_len = u32::try_from(data_len).unwrap_or(u32::MAX - 36);
    let byte_rate = TARGET_RATE * SAMPLE_BYTES as u32;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&TARGET_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&(SAMPLE_BYTES as u16).to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}
