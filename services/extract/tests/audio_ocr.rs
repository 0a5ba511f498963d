//! Speech recognition and OCR through the public API, with the real Debian
//! programs: `espeak-ng` speaks test audio, `text2image` renders test
//! images, `pocketsphinx_continuous` and `tesseract` read them back. The
//! programs are installed by the bootstrap script; a missing one fails these
//! tests (it is not a reason to skip them).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use percolate_extract::{Document, ExtractError, Kind, Limits, Tools, extract};

/// Spoken by espeak-ng in its `en-us+m1` voice, this is transcribed by
/// PocketSphinx as "i would like to order a pizza the weather is really cool
/// to do we are going to the park".
const SPEECH: &str =
    "I would like to order a pizza. The weather is very good today. We are going to the park.";
const SPEECH_WORDS: &[&str] = &[
    "would", "like", "order", "pizza", "weather", "going", "park",
];

/// A second sentence, for the test with a pause.
const SPEECH_AFTER_PAUSE: &str = "The company reported strong sales.";

/// Runs a test-data generator, failing loudly when it is missing.
fn run(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (installed by the bootstrap script): {e}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `text` spoken by espeak-ng, as the bytes of a 22.05 kHz mono WAV file.
fn speak(text: &str, dir: &Path) -> Vec<u8> {
    let path = dir.join("speech.wav");
    let path_str = path.to_str().unwrap();
    run(
        "espeak-ng",
        &[
            "-v", "en-us+m1", "-s", "130", "-g", "4", "-w", path_str, text,
        ],
        dir,
    );
    std::fs::read(&path).unwrap()
}

/// The rate and 16-bit samples of a PCM WAV file.
fn read_wav(bytes: &[u8]) -> (u32, u16, Vec<i16>) {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let (mut rate, mut channels, mut samples) = (0, 0, Vec::new());
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match id {
            b"fmt " => {
                assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "not PCM");
                channels = u16::from_le_bytes([body[2], body[3]]);
                rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "not 16-bit");
            }
            b"data" => {
                samples = body
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect()
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    (rate, channels, samples)
}

/// A 16-bit PCM WAV file of interleaved `samples`.
fn write_wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

fn transcript(document: &Document) -> String {
    document
        .sections
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn found_words<'a>(text: &str, words: &[&'a str]) -> Vec<&'a str> {
    let heard: Vec<&str> = text.split_whitespace().collect();
    words
        .iter()
        .copied()
        .filter(|w| heard.contains(w))
        .collect()
}

#[test]
fn transcribes_speech() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speak(SPEECH, dir.path());
    let (rate, _, samples) = read_wav(&wav);
    let seconds = (samples.len() as u64).div_ceil(u64::from(rate));

    let document = extract(&wav, Kind::Audio, &Limits::default(), &Tools::default()).unwrap();
    let text = transcript(&document);
    eprintln!("transcript: {text}");
    let found = found_words(&text, SPEECH_WORDS);
    assert!(
        found.len() >= 5,
        "only {found:?} of {SPEECH_WORDS:?} recognised in {text:?}"
    );
    assert_eq!(document.kind, Kind::Audio);
    assert_eq!(document.pages, Some(seconds as u32));
    let end_limit = seconds * 1000;
    for section in &document.sections {
        let (start, end) = (section.start_ms.unwrap(), section.end_ms.unwrap());
        assert!(
            start < end && end <= end_limit,
            "bad span {start}..{end} in {seconds} s"
        );
        assert!(!section.ocr && section.page.is_none());
        assert!(
            !section.text.contains('<') && !section.text.contains('['),
            "filler left in {:?}",
            section.text
        );
        assert!(
            !section.text.contains('('),
            "variant number left in {:?}",
            section.text
        );
    }
}

/// Stereo at 44.1 kHz (downmix and a different resampling ratio), two
/// sentences two seconds apart: two sections, the second starting after
/// the pause.
#[test]
fn transcribes_stereo_and_splits_at_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let (rate, _, first) = read_wav(&speak(SPEECH, dir.path()));
    let (_, _, second) = read_wav(&speak(SPEECH_AFTER_PAUSE, dir.path()));
    assert_eq!(rate, 22_050);
    let mut mono = first.clone();
    mono.extend(std::iter::repeat_n(0, 2 * rate as usize));
    mono.extend_from_slice(&second);
    mono.extend(std::iter::repeat_n(0, rate as usize / 2));
    // 44.1 kHz by linear interpolation; the right channel is the left one
    // at half volume, so the mix is not simply one channel.
    let mut stereo = Vec::with_capacity(mono.len() * 4);
    for pair in mono.windows(2) {
        let middle = ((i32::from(pair[0]) + i32::from(pair[1])) / 2) as i16;
        for sample in [pair[0], middle] {
            stereo.push(sample);
            stereo.push(sample / 2);
        }
    }
    let wav = write_wav(2 * rate, 2, &stereo);

    let document = extract(&wav, Kind::Audio, &Limits::default(), &Tools::default()).unwrap();
    for section in &document.sections {
        eprintln!(
            "{:>6}..{:>6} ms: {}",
            section.start_ms.unwrap(),
            section.end_ms.unwrap(),
            section.text
        );
    }
    let text = transcript(&document);
    let found = found_words(&text, SPEECH_WORDS);
    assert!(
        found.len() >= 5,
        "only {found:?} of {SPEECH_WORDS:?} recognised in {text:?}"
    );
    assert!(text.contains("company"), "{text:?}");
    let pause_ms = first.len() as u64 * 1000 / u64::from(rate);
    let after = document
        .sections
        .iter()
        .find(|s| s.text.contains("company"))
        .unwrap();
    assert!(
        after.start_ms.unwrap() >= pause_ms + 1000,
        "second sentence section starts at {:?}",
        after.start_ms
    );
    assert!(document.sections.len() >= 2);
}

#[test]
fn silence_has_no_text() {
    let wav = write_wav(16_000, 1, &vec![0; 3 * 16_000]);
    let err = extract(&wav, Kind::Audio, &Limits::default(), &Tools::default()).unwrap_err();
    assert!(matches!(err, ExtractError::NoText(_)), "{err}");
}

#[test]
fn damaged_audio_is_corrupt() {
    let mut garbage = b"RIFF\x24\x00\x00\x00WAVE".to_vec();
    garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let header_only = write_wav(16_000, 1, &vec![0; 16_000])[..44].to_vec();
    let cut_header = write_wav(16_000, 1, &vec![0; 16_000])[..30].to_vec();
    let mp3_noise: Vec<u8> = b"ID3\x04\x00\x00\x00\x00\x00\x00"
        .iter()
        .copied()
        .chain([0x55; 5000])
        .collect();
    for (what, bytes) in [
        ("garbage", garbage),
        ("header only", header_only),
        ("cut header", cut_header),
        ("mp3 noise", mp3_noise),
    ] {
        match extract(&bytes, Kind::Audio, &Limits::default(), &Tools::default()) {
            Err(ExtractError::Corrupt { kind, detail }) => {
                assert_eq!(kind, "audio", "{what}");
                eprintln!("{what}: {detail}");
            }
            other => panic!("{what}: expected a corrupt-file error, got {other:?}"),
        }
    }
}

#[test]
fn long_audio_is_too_large() {
    let limits = Limits {
        max_audio_seconds: 2,
        ..Limits::default()
    };
    let wav = write_wav(8_000, 2, &vec![0; 2 * 5 * 8_000]);
    let err = extract(&wav, Kind::Audio, &limits, &Tools::default()).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("limit of 2 s"), "{err}");
}

#[test]
fn missing_or_slow_recogniser_is_a_tool_error() {
    let wav = write_wav(16_000, 1, &vec![0; 16_000]);
    let missing = Tools {
        pocketsphinx: "/nonexistent/pocketsphinx_continuous".into(),
        ..Tools::default()
    };
    let err = extract(&wav, Kind::Audio, &Limits::default(), &missing).unwrap_err();
    assert!(matches!(err, ExtractError::Tool { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("install the Debian package pocketsphinx"),
        "{err}"
    );

    let no_model = Tools {
        pocketsphinx_hmm: "/nonexistent/model".into(),
        ..Tools::default()
    };
    let err = extract(&wav, Kind::Audio, &Limits::default(), &no_model).unwrap_err();
    assert!(matches!(err, ExtractError::Tool { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/model"), "{err}");

    let hasty = Tools {
        timeout: Duration::from_millis(200),
        ..Tools::default()
    };
    let err = extract(&wav, Kind::Audio, &Limits::default(), &hasty).unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// `lines` rendered by text2image in DejaVu Sans (with its default scanner
/// degradation), as a bilevel Group 4 TIFF.
fn render_text(lines: &str, dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("text.txt"), lines).unwrap();
    run(
        "text2image",
        &[
            "--text=text.txt",
            "--outputbase=rendered",
            "--font=DejaVu Sans",
            "--fonts_dir=/usr/share/fonts",
            "--xsize=1600",
            "--ysize=400",
            "--margin=50",
        ],
        dir,
    );
    std::fs::read(dir.join("rendered.tif")).unwrap()
}

const PRINTED: &str = "Percolate extracts text from scanned invoices.\nThe quarterly budget meeting is on Thursday.\n";
const PRINTED_WORDS: &[&str] = &[
    "Percolate",
    "extracts",
    "scanned",
    "invoices",
    "quarterly",
    "budget",
    "Thursday",
];

#[test]
fn recognises_text_in_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = render_text(PRINTED, dir.path());
    let document = extract(&tiff, Kind::Image, &Limits::default(), &Tools::default()).unwrap();
    let text = transcript(&document);
    eprintln!("recognised: {text:?}");
    for word in PRINTED_WORDS {
        assert!(text.contains(word), "{word} not in {text:?}");
    }
    assert_eq!(document.kind, Kind::Image);
    assert!(document.sections.iter().all(|s| s.ocr && s.page.is_none()));
}

#[test]
fn unreadable_images_are_corrupt() {
    let truncated_png =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x00".to_vec();
    let mut bad_jpeg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    bad_jpeg.extend([0x42; 2000]);
    // Not an image at all: Tesseract would take it for a list of files.
    let file_list = b"/etc/passwd\n".to_vec();
    for (what, bytes) in [
        ("truncated PNG", truncated_png),
        ("bad JPEG", bad_jpeg),
        ("file list", file_list),
    ] {
        match extract(&bytes, Kind::Image, &Limits::default(), &Tools::default()) {
            Err(ExtractError::Corrupt { kind, detail }) => {
                assert_eq!(kind, "image", "{what}");
                eprintln!("{what}: {detail}");
            }
            other => panic!("{what}: expected a corrupt-file error, got {other:?}"),
        }
    }
}

#[test]
fn huge_images_are_too_large() {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&60_000u32.to_be_bytes());
    png.extend_from_slice(&60_000u32.to_be_bytes());
    png.extend_from_slice(&[1, 0, 0, 0, 0]);
    let err = extract(&png, Kind::Image, &Limits::default(), &Tools::default()).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge(_)), "{err}");
}

#[test]
fn missing_tesseract_language_is_a_tool_error() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = render_text("Hello\n", dir.path());
    let tools = Tools {
        tesseract_lang: "xx-none".into(),
        ..Tools::default()
    };
    let err = extract(&tiff, Kind::Image, &Limits::default(), &tools).unwrap_err();
    assert!(matches!(err, ExtractError::Tool { .. }), "{err}");
    assert!(err.to_string().contains("tesseract-ocr-xx-none"), "{err}");
}

/// The first strip of a single-strip TIFF and its width and height.
fn tiff_strip(tiff: &[u8]) -> (u32, u32, Vec<u8>) {
    assert_eq!(
        &tiff[..4],
        b"II*\x00",
        "text2image writes little-endian TIFF"
    );
    let u16_at = |at: usize| u16::from_le_bytes([tiff[at], tiff[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(tiff[at..at + 4].try_into().unwrap());
    let ifd = u32_at(4) as usize;
    let (mut width, mut height, mut offset, mut length, mut compression) = (0, 0, 0, 0, 0);
    for index in 0..u16_at(ifd) as usize {
        let entry = ifd + 2 + 12 * index;
        assert_eq!(
            u32_at(entry + 4),
            1,
            "one value per tag expected (a single strip)"
        );
        let value = if u16_at(entry + 2) == 3 {
            u32::from(u16_at(entry + 8))
        } else {
            u32_at(entry + 8)
        };
        match u16_at(entry) {
            256 => width = value,
            257 => height = value,
            259 => compression = value,
            273 => offset = value as usize,
            279 => length = value as usize,
            _ => {}
        }
    }
    assert_eq!(compression, 4, "Group 4 fax expected");
    (width, height, tiff[offset..offset + length].to_vec())
}

/// A PDF whose one page is a scan: a CCITT Group 4 image, drawn full page,
/// and no text, the way scanners and OCR tools write them.
#[test]
fn recognises_a_scanned_pdf() {
    use lopdf::{Object, Stream, dictionary};
    let dir = tempfile::tempdir().unwrap();
    let (width, height, fax) = tiff_strip(&render_text(PRINTED, dir.path()));

    let mut pdf = lopdf::Document::with_version("1.5");
    let pages_id = pdf.new_object_id();
    let image_id = pdf.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => width,
            "Height" => height,
            "ColorSpace" => "DeviceGray",
            "BitsPerComponent" => 1,
            "Filter" => "CCITTFaxDecode",
            "DecodeParms" => dictionary! { "K" => -1, "Columns" => width, "Rows" => height },
        },
        fax,
    ));
    // 300 dpi.
    let (w_pt, h_pt) = (
        f64::from(width) * 72.0 / 300.0,
        f64::from(height) * 72.0 / 300.0,
    );
    let draw = format!("q {w_pt} 0 0 {h_pt} 0 0 cm /Scan Do Q");
    let content_id = pdf.add_object(Stream::new(dictionary! {}, draw.into_bytes()));
    let page_id = pdf.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), w_pt.into(), h_pt.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Scan" => image_id } },
    });
    pdf.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog_id = pdf.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    pdf.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes).unwrap();

    let document = extract(&bytes, Kind::Pdf, &Limits::default(), &Tools::default()).unwrap();
    let text = transcript(&document);
    eprintln!("recognised: {text:?}");
    for word in PRINTED_WORDS {
        assert!(text.contains(word), "{word} not in {text:?}");
    }
    assert!(
        document.sections.iter().all(|s| s.ocr && s.page == Some(1)),
        "{:?}",
        document.sections
    );
}

/// Audio for a speech service: 16 kHz mono 16-bit WAV parts that together
/// hold the whole file, with their offsets.
#[test]
fn speech_parts_cover_the_file_in_16khz_wav() {
    use percolate_extract::{HeardSegment, decode_speech, speech_document};
    // 2.5 s of a 440 Hz tone at 44.1 kHz stereo.
    let samples: Vec<i16> = (0..(44_100 * 5 / 2))
        .flat_map(|i| {
            let v = ((i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
            [v, v]
        })
        .collect();
    let audio = decode_speech(&write_wav(44_100, 2, &samples), &Limits::default(), 1).unwrap();
    assert_eq!(audio.seconds, 3);
    let starts: Vec<u64> = audio.parts.iter().map(|p| p.start_ms).collect();
    assert_eq!(starts, vec![0, 1000, 2000]);
    let mut total = 0;
    for part in &audio.parts {
        let (rate, channels, pcm) = read_wav(&std::fs::read(&part.path).unwrap());
        assert_eq!((rate, channels), (16_000, 1));
        assert_eq!(part.duration_ms, pcm.len() as u64 * 1000 / 16_000);
        total += pcm.len();
    }
    assert!((39_900..=40_100).contains(&total), "2.5 s at 16 kHz, got {total} samples");
    assert!(audio.parts[..2].iter().all(|p| p.duration_ms == 1000));

    let heard = [
        HeardSegment { start_ms: 0, end_ms: 900, text: " first words ".into() },
        HeardSegment { start_ms: 1200, end_ms: 1900, text: "close behind".into() },
        HeardSegment { start_ms: 5000, end_ms: 5100, text: "after a pause".into() },
    ];
    let document = speech_document(&audio, &heard, &Limits::default()).unwrap();
    assert_eq!(document.kind, Kind::Audio);
    assert_eq!(document.pages, Some(3));
    let sections: Vec<(&str, Option<u64>, Option<u64>)> = document.sections.iter().map(|s| (s.text.as_str(), s.start_ms, s.end_ms)).collect();
    assert_eq!(sections, vec![("first words close behind", Some(0), Some(1900)), ("after a pause", Some(5000), Some(5100))]);
    let nothing = speech_document(&audio, &[], &Limits::default()).unwrap_err();
    assert!(matches!(nothing, ExtractError::NoText(_)), "{nothing}");

    let damaged = decode_speech(b"RIFF\x24\x00\x00\x00WAVEjunkjunk", &Limits::default(), 600).unwrap_err();
    assert!(matches!(damaged, ExtractError::Corrupt { .. }), "{damaged}");
}
