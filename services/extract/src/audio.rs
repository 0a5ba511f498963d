//! Speech to text: audio is decoded here (Symphonia), mixed down to mono,
//! resampled to 16 kHz (rubato) and written as raw 16-bit PCM to a temporary
//! file, which Debian's `pocketsphinx_continuous` transcribes in a child
//! process.
//!
//! PocketSphinx is run as
//!
//! ```text
//! pocketsphinx_continuous -infile audio.raw -hmm <model dir> -lm <lm> \
//!     -dict <dict> -samprate 16000 -time yes
//! ```
//!
//! and prints, for each utterance it finds, the hypothesis on one line and
//! then one line per word: `word start end confidence`, times in seconds
//! from the start of the file. Only the word lines are read; silences,
//! sentence markers and noise words are dropped. Words are grouped into
//! sections at pauses and at most every [`MAX_SECTION_MS`].

use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;
use std::process::Command;

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as AudioError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;

use crate::process::{error_summary, run_tool, temp_dir};
use crate::{Document, ExtractError, Kind, Limits, Section, Tools};

/// The sample rate PocketSphinx's English model expects (and the one sent
/// to speech services).
pub(crate) const TARGET_RATE: u32 = 16_000;

/// Input frames per resampler call.
const RESAMPLE_CHUNK: usize = 4096;

/// A pause between words longer than this starts a new section.
const PAUSE_MS: u64 = 1_000;

/// The longest a section may grow before a new one starts.
const MAX_SECTION_MS: u64 = 30_000;

/// Decoder errors tolerated (and skipped) in one file.
const MAX_DECODE_ERRORS: usize = 1_000;

/// The Debian packages that provide the decoder and its English model.
const POCKETSPHINX_PACKAGE: &str = "pocketsphinx (and pocketsphinx-en-us for the English model)";

/// Transcribes an audio file. `pages` is its length in whole seconds
/// (rounded up); a file in which nothing was recognised has no sections.
pub(crate) fn extract(
    bytes: &[u8],
    limits: &Limits,
    tools: &Tools,
) -> Result<Document, ExtractError> {
    let dir = temp_dir()?;
    let pcm = dir.path().join("audio.raw");
    let decoded = crate::text::no_panic("audio", || decode_to_pcm(bytes, limits, &pcm))?;
    let words = transcribe(&pcm, dir.path(), tools)?;
    let seconds = decoded.seconds();
    audio_document(decoded.title, seconds, &words, limits)
}

/// The document of a transcript: words grouped into timed sections, the
/// length in seconds as its pages.
pub(crate) fn audio_document(
    title: Option<String>,
    seconds: u64,
    words: &[Word],
    limits: &Limits,
) -> Result<Document, ExtractError> {
    let sections = group(words);
    let chars: usize = sections.iter().map(|s| s.text.chars().count()).sum();
    if chars > limits.max_text_chars {
        return Err(ExtractError::TooLarge(format!(
            "the transcript is {chars} characters, over the limit of {}",
            limits.max_text_chars
        )));
    }
    Ok(Document {
        kind: Kind::Audio,
        title,
        sections,
        pages: Some(u32::try_from(seconds).unwrap_or(u32::MAX)),
    })
}

/// What decoding found.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Frames (samples per channel) decoded, at `rate`.
    frames: u64,
    /// The file's sample rate.
    rate: u32,
    /// The title tag, when the file has one.
    pub(crate) title: Option<String>,
}

impl Decoded {
    /// The length in whole seconds, rounded up.
    pub(crate) fn seconds(&self) -> u64 {
        self.frames.div_ceil(u64::from(self.rate.max(1)))
    }
}

/// Decodes `bytes` and writes them to `out` as 16 kHz mono signed 16-bit
/// little-endian samples. Packets the decoder rejects are skipped (up to
/// [`MAX_DECODE_ERRORS`]); a file with no decodable audio is corrupt, and
/// one longer than [`Limits::max_audio_seconds`] too large.
pub(crate) fn decode_to_pcm(bytes: &[u8], limits: &Limits, out: &Path) -> Result<Decoded, ExtractError> {
    let corrupt = |detail: String| ExtractError::corrupt("audio", detail);
    let max_seconds = u64::from(limits.max_audio_seconds);
    // Fails once `frames` at `rate` are over the limit.
    let check_length = |frames: u64, rate: u32| {
        if rate > 0 && frames > max_seconds.saturating_mul(u64::from(rate)) {
            return Err(ExtractError::TooLarge(format!(
                "the audio is longer than {} s, over the limit of {max_seconds} s",
                frames / u64::from(rate)
            )));
        }
        Ok(())
    };
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &Hint::new(),
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| corrupt(format!("the audio container could not be read ({e})")))?;
    let mut format = probed.format;
    let mut probed_metadata = probed.metadata;
    let title = title_tag(format.metadata().current()).or_else(|| {
        probed_metadata
            .get()
            .and_then(|log| title_tag(log.current()))
    });

    let track = format
        .default_track()
        .filter(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .or_else(|| {
            format
                .tracks()
                .iter()
                .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        })
        .ok_or_else(|| corrupt("the file has no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if let (Some(frames), Some(rate)) = (params.n_frames, params.sample_rate) {
        check_length(frames, rate)?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            AudioError::Unsupported(_) => {
                ExtractError::Unsupported(format!("this audio codec is not supported ({e})"))
            }
            other => corrupt(format!("the audio decoder could not start ({other})")),
        })?;

    let file = File::create(out).map_err(|e| ExtractError::tool("temporary file", e))?;
    let mut writer = PcmWriter::new(BufWriter::new(file));
    let mut samples: Option<SampleBuffer<f32>> = None;
    let mut rate = 0u32;
    let mut frames = 0u64;
    let mut errors = 0usize;
    let mut last_error = String::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(AudioError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(AudioError::ResetRequired) => break,
            Err(e) => {
                // A damaged container: keep what came before, if anything.
                if frames == 0 {
                    return Err(corrupt(format!("the audio could not be read ({e})")));
                }
                tracing::warn!(error = %e, "audio file is damaged after {frames} frames; the rest is ignored");
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(AudioError::DecodeError(why)) => {
                errors += 1;
                last_error = why.to_string();
                if errors > MAX_DECODE_ERRORS {
                    break;
                }
                continue;
            }
            Err(AudioError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(corrupt(format!("the audio could not be decoded ({e})"))),
        };
        let spec = *buffer.spec();
        let channels = spec.channels.count();
        let count = buffer.frames();
        if count == 0 || channels == 0 {
            continue;
        }
        if rate == 0 {
            if spec.rate == 0 {
                return Err(corrupt("the audio has a sample rate of 0".into()));
            }
            rate = spec.rate;
            writer
                .start(rate)
                .map_err(|e| corrupt(format!("cannot resample from {rate} Hz ({e})")))?;
        } else if spec.rate != rate {
            return Err(corrupt(format!(
                "the sample rate changes from {rate} Hz to {} Hz",
                spec.rate
            )));
        }
        frames += count as u64;
        check_length(frames, rate)?;
        let needed = buffer.capacity() * channels;
        let interleaved = match &mut samples {
            Some(existing) if existing.capacity() >= needed => existing,
            slot => slot.insert(SampleBuffer::new(buffer.capacity() as u64, spec)),
        };
        interleaved.copy_interleaved_ref(buffer);
        let scale = 1.0 / channels as f32;
        let mono = interleaved
            .samples()
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale);
        writer
            .push(mono)
            .map_err(|e| ExtractError::tool("temporary file", e))?;
    }
    if frames == 0 {
        let why = if last_error.is_empty() {
            String::new()
        } else {
            format!(" ({last_error})")
        };
        return Err(corrupt(format!(
            "the file contains no decodable audio{why}"
        )));
    }
    if errors > 0 {
        tracing::warn!(errors, last_error, "damaged audio packets were skipped");
    }
    writer
        .finish()
        .map_err(|e| ExtractError::tool("temporary file", e))?;
    Ok(Decoded {
        frames,
        rate,
        title,
    })
}

/// The non-blank title tag of a metadata revision.
fn title_tag(revision: Option<&MetadataRevision>) -> Option<String> {
    let tag = revision?
        .tags()
        .iter()
        .find(|tag| tag.std_key == Some(StandardTagKey::TrackTitle))?;
    let title = tag.value.to_string().trim().to_string();
    (!title.is_empty()).then_some(title)
}

/// Writes mono samples at the input rate as 16 kHz 16-bit PCM, resampling
/// in fixed chunks as they arrive so a long file never sits in memory.
struct PcmWriter<W: Write> {
    /// Where the samples go.
    out: W,
    /// The resampler, unless the input already is 16 kHz.
    resampler: Option<FftFixedIn<f32>>,
    /// Input samples not yet resampled.
    pending: Vec<f32>,
    /// Input rate.
    rate: u32,
    /// Input samples received.
    received: u64,
    /// Output samples written.
    written: u64,
    /// Leading output samples still to drop (the resampler's delay).
    skip: usize,
}

impl<W: Write> PcmWriter<W> {
    /// A writer that does not yet know the input rate.
    fn new(out: W) -> Self {
        Self {
            out,
            resampler: None,
            pending: Vec::new(),
            rate: TARGET_RATE,
            received: 0,
            written: 0,
            skip: 0,
        }
    }

    /// Sets the input rate.
    fn start(&mut self, rate: u32) -> Result<(), rubato::ResamplerConstructionError> {
        self.rate = rate;
        if rate != TARGET_RATE {
            let resampler =
                FftFixedIn::new(rate as usize, TARGET_RATE as usize, RESAMPLE_CHUNK, 2, 1)?;
            self.skip = resampler.output_delay();
            self.resampler = Some(resampler);
        }
        Ok(())
    }

    /// Takes more input samples.
    fn push(&mut self, samples: impl Iterator<Item = f32>) -> std::io::Result<()> {
        let before = self.pending.len();
        self.pending.extend(samples);
        self.received += (self.pending.len() - before) as u64;
        if self.resampler.is_none() {
            let all = std::mem::take(&mut self.pending);
            return self.write(&all);
        }
        let mut pending = std::mem::take(&mut self.pending);
        let mut start = 0;
        while pending.len() - start >= RESAMPLE_CHUNK {
            let output = self.resample(Some(&pending[start..start + RESAMPLE_CHUNK]))?;
            self.write(&output)?;
            start += RESAMPLE_CHUNK;
        }
        pending.drain(..start);
        self.pending = pending;
        Ok(())
    }

    /// Resamples the leftover input and the resampler's tail, then flushes.
    fn finish(mut self) -> std::io::Result<()> {
        if self.resampler.is_some() {
            let expected = (self.received * u64::from(TARGET_RATE)).div_ceil(u64::from(self.rate));
            let rest = std::mem::take(&mut self.pending);
            // An empty chunk would count as too short: send none instead.
            let output = self.resample((!rest.is_empty()).then_some(&rest[..]))?;
            self.write_until(&output, expected)?;
            // Zero input pushes the delayed samples out.
            let mut rounds = 0;
            while self.written < expected && rounds < 64 {
                let output = self.resample(None)?;
                self.write_until(&output, expected)?;
                rounds += 1;
            }
        }
        self.out.flush()
    }

    /// Runs the resampler on one chunk (a short or absent chunk is padded
    /// with silence).
    fn resample(&mut self, chunk: Option<&[f32]>) -> std::io::Result<Vec<f32>> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(chunk.map(<[f32]>::to_vec).unwrap_or_default());
        };
        let result = match chunk {
            Some(chunk) if chunk.len() == RESAMPLE_CHUNK => resampler.process(&[chunk], None),
            Some(chunk) => resampler.process_partial(Some(&[chunk]), None),
            None => resampler.process_partial(None::<&[&[f32]]>, None),
        };
        let mut channels = result.map_err(std::io::Error::other)?;
        let mut output = channels.pop().unwrap_or_default();
        let skipped = self.skip.min(output.len());
        self.skip -= skipped;
        output.drain(..skipped);
        Ok(output)
    }

    /// Writes samples, but no more than `limit` in all.
    fn write_until(&mut self, samples: &[f32], limit: u64) -> std::io::Result<()> {
        let room = usize::try_from(limit.saturating_sub(self.written)).unwrap_or(usize::MAX);
        self.write(&samples[..samples.len().min(room)])
    }

    /// Writes samples as 16-bit little-endian integers.
    fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(samples.len() * 2);
        for &sample in samples {
            let value = (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        self.written += samples.len() as u64;
        self.out.write_all(&bytes)
    }
}

/// One recognised word (or, from a speech service, one segment).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Word {
    /// The word as spelled in the dictionary, without its variant number.
    pub(crate) text: String,
    /// Start, in milliseconds from the start of the file.
    pub(crate) start_ms: u64,
    /// End, in milliseconds.
    pub(crate) end_ms: u64,
}

/// Runs PocketSphinx on 16 kHz raw PCM and returns the words it heard.
fn transcribe(pcm: &Path, work_dir: &Path, tools: &Tools) -> Result<Vec<Word>, ExtractError> {
    let mut command = Command::new(&tools.pocketsphinx);
    command
        .arg("-infile")
        .arg(pcm)
        .arg("-hmm")
        .arg(&tools.pocketsphinx_hmm)
        .arg("-lm")
        .arg(&tools.pocketsphinx_lm)
        .arg("-dict")
        .arg(&tools.pocketsphinx_dict)
        .arg("-samprate")
        .arg(TARGET_RATE.to_string())
        .arg("-time")
        .arg("yes")
        .current_dir(work_dir);
    let output = run_tool(
        &mut command,
        "pocketsphinx",
        POCKETSPHINX_PACKAGE,
        tools.timeout,
    )?;
    if !output.status.success() {
        let summary = error_summary(&output.stderr);
        let hint = if summary.contains("mdef")
            || summary.contains("Failed to open")
            || summary.contains("dictionary")
        {
            format!(" (is the model installed? Debian package {POCKETSPHINX_PACKAGE})")
        } else {
            String::new()
        };
        return Err(ExtractError::tool(
            "pocketsphinx",
            format!("{} {summary}{hint}", output.status),
        ));
    }
    Ok(parse_words(&String::from_utf8_lossy(&output.stdout)))
}

/// Reads the `word start end confidence` lines of PocketSphinx's output,
/// skipping hypothesis lines, silences (`<sil>`), utterance markers
/// (`<s>`, `</s>`) and noise words (`[NOISE]`, `++GARBAGE++`), and removing
/// pronunciation variant numbers (`to(2)`).
fn parse_words(output: &str) -> Vec<Word> {
    let mut words = Vec::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [word, start, end, confidence] = fields[..] else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(_)) = (
            start.parse::<f64>(),
            end.parse::<f64>(),
            confidence.parse::<f64>(),
        ) else {
            continue;
        };
        if word.starts_with('<') || word.starts_with('[') || word.starts_with("++") {
            continue;
        }
        let word = match word.find('(') {
            Some(at) if word.ends_with(')') => &word[..at],
            _ => word,
        };
        if word.is_empty() || !start.is_finite() || !end.is_finite() {
            continue;
        }
        let ms = |seconds: f64| (seconds.max(0.0) * 1000.0).round() as u64;
        words.push(Word {
            text: word.to_string(),
            start_ms: ms(start),
            end_ms: ms(end.max(start)),
        });
    }
    words
}

/// Groups words into sections: a new one starts after a pause longer than
/// [`PAUSE_MS`] or when a section would pass [`MAX_SECTION_MS`].
fn group(words: &[Word]) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<Section> = None;
    for word in words {
        if let Some(section) = current.as_mut() {
            let start = section.start_ms.unwrap_or(0);
            let end = section.end_ms.unwrap_or(0);
            if word.start_ms.saturating_sub(end) <= PAUSE_MS
                && word.end_ms.saturating_sub(start) <= MAX_SECTION_MS
            {
                section.text.push(' ');
                section.text.push_str(&word.text);
                section.end_ms = Some(word.end_ms.max(end));
                continue;
            }
        }
        if let Some(done) = current.take() {
            sections.push(done);
        }
        current = Some(Section {
            text: word.text.clone(),
            start_ms: Some(word.start_ms),
            end_ms: Some(word.end_ms),
            ..Section::default()
        });
    }
    sections.extend(current);
    sections
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OUTPUT: &str = "i would like to order a pizza\n\
        <s> 0.000 0.020 0.999300\n\
        i 0.030 0.080 0.126358\n\
        <sil> 0.090 0.130 0.840112\n\
        to(3) 0.690 0.760 0.313852\n\
        pizza 1.270 1.830 0.999800\n\
        [SPEECH] 1.840 2.090 0.785741\n\
        </s> 2.100 2.290 1.000000\n\
        the company\n\
        <s> 5.150 5.230 0.999800\n\
        the 5.240 5.370 0.791815\n\
        company 5.380 5.940 0.999900\n\
        ++NOISE++ 6.000 6.100 0.5\n";

    #[test]
    fn parses_word_lines_and_drops_fillers() {
        let words = parse_words(OUTPUT);
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["i", "to", "pizza", "the", "company"]);
        assert_eq!(
            words[2],
            Word {
                text: "pizza".into(),
                start_ms: 1270,
                end_ms: 1830
            }
        );
    }

    #[test]
    fn groups_words_at_pauses_and_length() {
        let sections = group(&parse_words(OUTPUT));
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].text, "i to pizza");
        assert_eq!(
            (sections[0].start_ms, sections[0].end_ms),
            (Some(30), Some(1830))
        );
        assert_eq!(sections[1].text, "the company");
        assert_eq!(
            (sections[1].start_ms, sections[1].end_ms),
            (Some(5240), Some(5940))
        );

        // Forty seconds of words with short gaps: cut at 30 s.
        let words: Vec<Word> = (0..80)
            .map(|i| Word {
                text: format!("w{i}"),
                start_ms: i * 500,
                end_ms: i * 500 + 400,
            })
            .collect();
        let sections = group(&words);
        assert_eq!(sections.len(), 2);
        assert!(
            sections
                .iter()
                .all(|s| s.end_ms.unwrap() - s.start_ms.unwrap() <= MAX_SECTION_MS)
        );
    }

    #[test]
    fn resampling_keeps_the_length() {
        let mut out = Vec::new();
        let mut writer = PcmWriter::new(&mut out);
        writer.start(44_100).unwrap();
        // One second of a 440 Hz tone in uneven pieces.
        let tone: Vec<f32> = (0..44_100)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 0.5)
            .collect();
        for piece in tone.chunks(1000) {
            writer.push(piece.iter().copied()).unwrap();
        }
        writer.finish().unwrap();
        assert_eq!(out.len(), 2 * 16_000);
        let samples: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let peak = samples[1000..15_000]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((15_000..17_500).contains(&peak), "peak {peak}");
    }

    #[test]
    fn resampling_a_whole_number_of_chunks() {
        let mut out = Vec::new();
        let mut writer = PcmWriter::new(&mut out);
        writer.start(48_000).unwrap();
        writer
            .push(std::iter::repeat_n(0.25, 3 * RESAMPLE_CHUNK))
            .unwrap();
        writer.finish().unwrap();
        assert_eq!(out.len(), 2 * 3 * RESAMPLE_CHUNK / 3);
    }

    #[test]
    fn sixteen_khz_is_copied() {
        let mut out = Vec::new();
        let mut writer = PcmWriter::new(&mut out);
        writer.start(TARGET_RATE).unwrap();
        writer.push([0.5, -1.5, 0.0].into_iter()).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            out,
            [16384i16, -32767, 0]
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<u8>>()
        );
    }
}
