//! Optical character recognition with Tesseract, run as a child process.
//!
//! [`extract_image`] reads an uploaded image; [`ocr_pdf_page`] reads the
//! images of a PDF page that has no text layer (a scan). Tesseract never sees
//! anything but a temporary image file whose format we checked: an unknown
//! format would make it read the file as a *list of file names*.
//!
//! PDF images are handed to Tesseract in their own compression whenever a
//! standard image format can carry it, so this process never inflates a
//! (possibly hostile) stream: JPEG (`DCTDecode`) and JPEG 2000
//! (`JPXDecode`) streams are image files already; CCITT fax, Flate, LZW and
//! uncompressed samples are wrapped in a TIFF with a hand-written header;
//! Flate streams with PNG predictors are wrapped in a PNG. Anything else
//! (JBIG2, chains of filters, exotic colour spaces) is skipped with a
//! warning.
//!
//! This module also holds [`run_tool`], the bounded child-process runner
//! that the audio transcriber shares.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use lopdf::{Dictionary, Object, ObjectId, Stream};

use crate::{Document, ExtractError, Kind, Limits, Section, Tools};

/// Largest image (width × height, in pixels) handed to Tesseract: 100
/// megapixels, a letter page scanned at 1200 dpi in colour is 135.
const MAX_PIXELS: u64 = 100_000_000;

/// Most images of one PDF page that are recognised (the largest ones).
const MAX_IMAGES_PER_PAGE: usize = 16;

/// Images with fewer pixels than this cannot hold a line of text.
const MIN_IMAGE_PIXELS: u64 = 2_000;

/// How deep Form XObjects are searched for images.
const MAX_FORM_DEPTH: usize = 4;

/// Most bytes a tool may write to its standard output.
const MAX_TOOL_STDOUT: usize = 64 * 1024 * 1024;

/// How much of a tool's error output is kept for error messages.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// The Debian package that provides `tesseract` with English data.
const TESSERACT_PACKAGE: &str = "tesseract-ocr (and tesseract-ocr-eng for English)";

/// Recognises the text of an image file (PNG, JPEG, TIFF, BMP, GIF, WebP).
/// A multi-page TIFF gives one section per page, numbered from 1.
pub(crate) fn extract_image(
    bytes: &[u8],
    limits: &Limits,
    tools: &Tools,
) -> Result<Document, ExtractError> {
    let format = ImageFormat::detect(bytes).ok_or_else(|| {
        ExtractError::corrupt(
            "image",
            "the file is not a PNG, JPEG, TIFF, BMP, GIF or WebP image",
        )
    })?;
    if let Some((width, height)) = image_dimensions(bytes) {
        check_pixels(width, height)?;
    }
    let dir = temp_dir()?;
    let path = dir.path().join(format!("image.{}", format.suffix()));
    std::fs::write(&path, bytes).map_err(|e| ExtractError::tool("temporary file", e))?;
    let text = run_tesseract(&path, dir.path(), tools)?;
    let chars = text.chars().count();
    if chars > limits.max_text_chars {
        return Err(ExtractError::TooLarge(format!(
            "the recognised text is {chars} characters, over the limit of {}",
            limits.max_text_chars
        )));
    }
    // Tesseract ends every page with a form feed.
    let pages: Vec<String> = text.split('\u{c}').map(tidy).collect();
    let numbered = pages.iter().filter(|p| !p.is_empty()).count() > 1;
    let sections = pages
        .into_iter()
        .enumerate()
        .filter(|(_, text)| !text.is_empty())
        .map(|(index, text)| Section {
            text,
            page: numbered.then(|| u32::try_from(index + 1).unwrap_or(u32::MAX)),
            ocr: true,
            ..Section::default()
        })
        .collect();
    Ok(Document {
        kind: Kind::Image,
        title: None,
        sections,
        pages: None,
    })
}

/// Recognises the text in the images of page `page_number` (1-based) of a
/// PDF, for pages without a text layer. `Ok(None)` when the page has no image
/// that could be read. Images in formats Tesseract cannot take, and images
/// Tesseract finds unreadable, are skipped with a warning; a missing or
/// failing Tesseract is an error.
pub(crate) fn ocr_pdf_page(
    doc: &lopdf::Document,
    page_number: u32,
    limits: &Limits,
    tools: &Tools,
) -> Result<Option<String>, ExtractError> {
    let Some(&page_id) = doc.get_pages().get(&page_number) else {
        return Ok(None);
    };
    let images = page_images(doc, page_id);
    if images.is_empty() {
        return Ok(None);
    }
    let dir = temp_dir()?;
    let mut texts = Vec::new();
    let mut chars = 0usize;
    for (index, image_id) in images.into_iter().enumerate() {
        let Ok(stream) = doc.get_object(image_id).and_then(Object::as_stream) else {
            continue;
        };
        let file = match image_file(doc, stream)? {
            Ok(file) => file,
            Err(why) => {
                tracing::warn!(page = page_number, image = ?image_id, "PDF image skipped for OCR: {why}");
                continue;
            }
        };
        let path = dir
            .path()
            .join(format!("page{page_number}-{index}.{}", file.suffix));
        std::fs::write(&path, &file.bytes).map_err(|e| ExtractError::tool("temporary file", e))?;
        let text = match run_tesseract(&path, dir.path(), tools) {
            Ok(text) => tidy(&text.replace('\u{c}', "\n")),
            Err(ExtractError::Corrupt { detail, .. }) => {
                tracing::warn!(page = page_number, image = ?image_id, "PDF image could not be recognised: {detail}");
                continue;
            }
            Err(other) => return Err(other),
        };
        let _ = std::fs::remove_file(&path);
        if text.is_empty() {
            continue;
        }
        chars += text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ExtractError::TooLarge(format!(
                "the text recognised on page {page_number} is over the limit of {} characters",
                limits.max_text_chars
            )));
        }
        texts.push(text);
    }
    Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
}

// ---------------------------------------------------------------------------
// Running Tesseract

/// Runs `tesseract <image> stdout -l <lang>` and returns what it printed.
/// An image Tesseract cannot read (or crashes on) is
/// [`ExtractError::Corrupt`]; a missing program or language is
/// [`ExtractError::Tool`].
fn run_tesseract(image: &Path, work_dir: &Path, tools: &Tools) -> Result<String, ExtractError> {
    let mut command = Command::new(&tools.tesseract);
    command
        .arg(image)
        .arg("stdout")
        .arg("-l")
        .arg(&tools.tesseract_lang)
        .current_dir(work_dir)
        // One thread per run: extraction jobs already run in parallel.
        .env("OMP_THREAD_LIMIT", "1");
    let output = run_tool(&mut command, "tesseract", TESSERACT_PACKAGE, tools.timeout)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = &output.stderr;
    if stderr.contains("Failed loading language")
        || stderr.contains("Could not initialize tesseract")
        || stderr.contains("Error opening data file")
    {
        return Err(ExtractError::tool(
            "tesseract",
            format!(
                "language data `{}` is not installed (Debian package tesseract-ocr-{}): {}",
                tools.tesseract_lang,
                tools.tesseract_lang,
                error_summary(stderr)
            ),
        ));
    }
    let detail = match output.status.code() {
        Some(_) => format!("the image could not be read: {}", error_summary(stderr)),
        None => format!("tesseract crashed on the image ({})", output.status),
    };
    Err(ExtractError::corrupt("image", detail))
}

/// Trims trailing blanks from lines, drops form feeds and leading/trailing
/// blank lines, and keeps at most one blank line between paragraphs.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.lines() {
        let line = line.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{c}');
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

/// A fresh temporary directory, removed when dropped.
pub(crate) fn temp_dir() -> Result<tempfile::TempDir, ExtractError> {
    tempfile::Builder::new()
        .prefix("percolate-extract-")
        .tempdir()
        .map_err(|e| ExtractError::tool("temporary directory", e))
}

// ---------------------------------------------------------------------------
// Running a child process under a deadline

/// What a child process left behind when it exited on its own.
#[derive(Debug)]
pub(crate) struct ToolOutput {
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Everything it wrote to standard output.
    pub(crate) stdout: Vec<u8>,
    /// The last [`STDERR_TAIL_BYTES`] of its error output.
    pub(crate) stderr: String,
}

/// Runs `command` with no standard input, collecting its output, and kills
/// it once `timeout` has passed. Fails with [`ExtractError::Tool`] when the
/// program cannot be started (naming the Debian `package` to install when
/// it does not exist), when it runs out of time, or when it writes more than
/// [`MAX_TOOL_STDOUT`] bytes. Exiting with an error status is not a failure
/// here: the caller reads [`ToolOutput::status`] and decides what it means.
pub(crate) fn run_tool(
    command: &mut Command,
    tool: &str,
    package: &str,
    timeout: Duration,
) -> Result<ToolOutput, ExtractError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = PathBuf::from(command.get_program());
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ExtractError::tool(
            tool,
            format!(
                "the program `{}` was not found: install the Debian package {package}",
                program.display()
            ),
        ),
        _ => ExtractError::tool(
            tool,
            format!("`{}` could not be started: {e}", program.display()),
        ),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::scope(|scope| {
        let out_reader = scope.spawn(move || read_capped(stdout, MAX_TOOL_STDOUT));
        let err_reader = scope.spawn(move || read_tail(stderr, STDERR_TAIL_BYTES));
        let waited = wait_until(&mut child, Instant::now() + timeout);
        if !matches!(waited, Ok(Some(_))) {
            // Out of time, or waiting failed: make sure it is gone. The
            // readers then see the pipes close.
            let _ = child.kill();
            let _ = child.wait();
        }
        let (stdout, overflowed) = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        let status = match waited {
            Ok(Some(status)) => status,
            Ok(None) => {
                return Err(ExtractError::tool(
                    tool,
                    format!(
                        "timed out after {} s and was stopped",
                        timeout.as_secs_f64()
                    ),
                ));
            }
            Err(e) => {
                return Err(ExtractError::tool(
                    tool,
                    format!("waiting for it failed: {e}"),
                ));
            }
        };
        if overflowed {
            return Err(ExtractError::tool(
                tool,
                format!("wrote more than {MAX_TOOL_STDOUT} bytes of output"),
            ));
        }
        Ok(ToolOutput {
            status,
            stdout,
            stderr,
        })
    })
}

/// Waits for `child` to exit, polling, until `deadline`. `Ok(None)` when the
/// deadline passed first.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Reads `source` to its end, keeping the first `cap` bytes; the flag says
/// whether more came.
fn read_capped(source: Option<impl Read>, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut overflowed = false;
    let Some(mut source) = source else {
        return (kept, overflowed);
    };
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
                overflowed |= n > room;
            }
        }
    }
    (kept, overflowed)
}

/// Reads `source` to its end, keeping the last `keep` bytes, as text.
fn read_tail(source: Option<impl Read>, keep: usize) -> String {
    let mut tail = Vec::new();
    let Some(mut source) = source else {
        return String::new();
    };
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buffer[..n]);
                if tail.len() > 2 * keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    String::from_utf8_lossy(&tail).into_owned()
}

/// The part of a tool's error output worth showing a user: its `ERROR` and
/// `FATAL` lines when it has any, else its last few lines, at most about
/// 600 characters.
pub(crate) fn error_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let flagged: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("FATAL"))
        .collect();
    let chosen = if flagged.is_empty() {
        &lines[lines.len().saturating_sub(4)..]
    } else {
        &flagged[..]
    };
    let mut summary = chosen.join("; ");
    if summary.is_empty() {
        summary = "no error output".to_string();
    }
    if summary.chars().count() > 600 {
        let cut: String = summary
            .chars()
            .rev()
            .take(600)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        summary = format!("…{cut}");
    }
    summary
}

// ---------------------------------------------------------------------------
// Image files

/// The image file formats handed to Tesseract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFormat {
    Png,
    Jpeg,
    Tiff,
    Gif,
    Bmp,
    WebP,
    Jpeg2000,
}

impl ImageFormat {
    /// The format of `bytes`, from their signature.
    fn detect(b: &[u8]) -> Option<Self> {
        if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if b.starts_with(b"\xFF\xD8\xFF") {
            Some(Self::Jpeg)
        } else if b.starts_with(b"II*\x00") || b.starts_with(b"MM\x00*") {
            Some(Self::Tiff)
        } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if b.len() >= 26 && b.starts_with(b"BM") {
            Some(Self::Bmp)
        } else if b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
            Some(Self::WebP)
        } else if b.starts_with(b"\x00\x00\x00\x0cjP  \r\n\x87\n")
            || b.starts_with(b"\xFF\x4F\xFF\x51")
        {
            Some(Self::Jpeg2000)
        } else {
            None
        }
    }

    /// The file name suffix Tesseract's image library expects.
    fn suffix(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Tiff => "tif",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::WebP => "webp",
            Self::Jpeg2000 => "jp2",
        }
    }
}

/// Fails with [`ExtractError::TooLarge`] when an image has more than
/// [`MAX_PIXELS`] pixels.
fn check_pixels(width: u64, height: u64) -> Result<(), ExtractError> {
    let pixels = width.saturating_mul(height);
    if pixels > MAX_PIXELS {
        return Err(ExtractError::TooLarge(format!(
            "the image is {width}×{height} pixels, over the limit of {MAX_PIXELS} pixels"
        )));
    }
    Ok(())
}

/// Width and height of an image, read from its header, when the format is
/// one we can read it from (PNG, JPEG, GIF, BMP, TIFF, WebP).
fn image_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let be32 = |at: usize| Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64);
    let le16 = |at: usize| Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64);
    let le24 = |at: usize| {
        Some(u32::from_le_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, 0]) as u64)
    };
    let le32 = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    match ImageFormat::detect(b)? {
        ImageFormat::Png => Some((be32(16)?, be32(20)?)),
        ImageFormat::Gif => Some((le16(6)?, le16(8)?)),
        ImageFormat::Bmp => {
            if le32(14)? == 12 {
                Some((le16(18)?, le16(20)?))
            } else {
                let width = le32(18)? as i32;
                let height = le32(22)? as i32;
                Some((
                    u64::from(width.unsigned_abs()),
                    u64::from(height.unsigned_abs()),
                ))
            }
        }
        ImageFormat::WebP => match b.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8L" => {
                let bits = le32(21)?;
                Some((
                    u64::from(bits & 0x3FFF) + 1,
                    u64::from((bits >> 14) & 0x3FFF) + 1,
                ))
            }
            b"VP8 " => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            _ => None,
        },
        ImageFormat::Jpeg => jpeg_dimensions(b),
        ImageFormat::Tiff => tiff_dimensions(b),
        ImageFormat::Jpeg2000 => None,
    }
}

/// Width and height from a JPEG's first start-of-frame marker.
fn jpeg_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let mut at = 2;
    loop {
        // Skip fill bytes before a marker.
        while *b.get(at)? == 0xFF && *b.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *b.get(at)? != 0xFF {
            return None;
        }
        let marker = *b.get(at + 1)?;
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        let length = u16::from_be_bytes([*b.get(at + 2)?, *b.get(at + 3)?]) as usize;
        let is_frame = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let height = u16::from_be_bytes([*b.get(at + 5)?, *b.get(at + 6)?]);
            let width = u16::from_be_bytes([*b.get(at + 7)?, *b.get(at + 8)?]);
            return Some((u64::from(width), u64::from(height)));
        }
        at += 2 + length;
    }
}

/// Width and height from the first image directory of a TIFF.
fn tiff_dimensions(b: &[u8]) -> Option<(u64, u64)> {
    let big = b.starts_with(b"MM");
    let u16_at = |at: usize| {
        let raw: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        })
    };
    let u32_at = |at: usize| {
        let raw: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    let (mut width, mut height) = (None, None);
    for index in 0..count {
        let entry = ifd + 2 + 12 * index;
        let value = match u16_at(entry + 2)? {
            3 => u64::from(u16_at(entry + 8)?),
            4 => u64::from(u32_at(entry + 8)?),
            _ => continue,
        };
        match u16_at(entry)? {
            256 => width = Some(value),
            257 => height = Some(value),
            _ => {}
        }
    }
    Some((width?, height?))
}

// ---------------------------------------------------------------------------
// Images of a PDF page

/// The image XObjects a page uses, directly or through Form XObjects, in
/// resource order: at most [`MAX_IMAGES_PER_PAGE`] (the largest), none too
/// small to hold text.
fn page_images(doc: &lopdf::Document, page_id: ObjectId) -> Vec<ObjectId> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    if let Some(resources) = page_resources(doc, page_id) {
        collect_images(doc, resources, 0, &mut seen, &mut found);
    }
    if found.len() > MAX_IMAGES_PER_PAGE {
        let mut by_size: Vec<(usize, u64)> = found
            .iter()
            .enumerate()
            .map(|(i, &(_, px))| (i, px))
            .collect();
        by_size.sort_by_key(|&(_, pixels)| std::cmp::Reverse(pixels));
        let mut keep: Vec<usize> = by_size
            .into_iter()
            .take(MAX_IMAGES_PER_PAGE)
            .map(|(i, _)| i)
            .collect();
        keep.sort_unstable();
        tracing::warn!(
            images = found.len(),
            "PDF page has many images: only the {MAX_IMAGES_PER_PAGE} largest are recognised"
        );
        return keep.into_iter().map(|i| found[i].0).collect();
    }
    found.into_iter().map(|(id, _)| id).collect()
}

/// A page's resource dictionary: its own, or the nearest one up the page
/// tree (resources are inherited).
fn page_resources(doc: &lopdf::Document, page_id: ObjectId) -> Option<&Dictionary> {
    let mut node = doc.get_dictionary(page_id).ok()?;
    // A page tree is shallow; a long chain of parents is a loop.
    for _ in 0..64 {
        if let Ok(resources) = node.get(b"Resources") {
            return deref(doc, resources).as_dict().ok();
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// Adds the images of a resource dictionary's `/XObject` entry to `found`
/// with their pixel counts, descending into Form XObjects.
fn collect_images(
    doc: &lopdf::Document,
    resources: &Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    found: &mut Vec<(ObjectId, u64)>,
) {
    let Some(xobjects) = resources
        .get(b"XObject")
        .ok()
        .and_then(|o| deref(doc, o).as_dict().ok())
    else {
        return;
    };
    for (_, value) in xobjects.iter() {
        let Ok(id) = value.as_reference() else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => {
                let width = int(doc, &stream.dict, b"Width").unwrap_or(0).max(0) as u64;
                let height = int(doc, &stream.dict, b"Height").unwrap_or(0).max(0) as u64;
                let pixels = width.saturating_mul(height);
                if pixels >= MIN_IMAGE_PIXELS && width >= 8 && height >= 8 {
                    found.push((id, pixels));
                }
            }
            Ok(b"Form") if depth < MAX_FORM_DEPTH => {
                if let Some(inner) = stream
                    .dict
                    .get(b"Resources")
                    .ok()
                    .and_then(|o| deref(doc, o).as_dict().ok())
                {
                    collect_images(doc, inner, depth + 1, seen, found);
                }
            }
            _ => {}
        }
    }
}

/// An image as a standalone file Tesseract can read.
#[derive(Debug)]
struct ImageFile {
    /// File name suffix.
    suffix: &'static str,
    /// The file's bytes.
    bytes: Vec<u8>,
}

/// How the samples of a PDF image are coloured.
#[derive(Debug, Clone, PartialEq)]
enum Colour {
    /// One component, 0 is black (`inverted`: 0 is white).
    Gray {
        /// A `/Decode [1 0]` array flips black and white.
        inverted: bool,
    },
    /// Red, green, blue.
    Rgb,
    /// Indices into a palette of RGB triples.
    Indexed(Vec<[u8; 3]>),
}

/// Turns an image XObject into an image file. The outer error is a limit
/// (too many pixels); the inner one says why an image cannot be used.
fn image_file(
    doc: &lopdf::Document,
    stream: &Stream,
) -> Result<Result<ImageFile, String>, ExtractError> {
    let dict = &stream.dict;
    let (Some(width), Some(height)) = (int(doc, dict, b"Width"), int(doc, dict, b"Height")) else {
        return Ok(Err("it has no width or height".into()));
    };
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Ok(Err(format!("its size {width}×{height} is invalid")));
    };
    if width == 0 || height == 0 {
        return Ok(Err("it is empty".into()));
    }
    check_pixels(u64::from(width), u64::from(height))?;

    let filters: Vec<&[u8]> = match dict.get(b"Filter").map(|o| deref(doc, o)) {
        Err(_) => Vec::new(),
        Ok(Object::Name(name)) => vec![name.as_slice()],
        Ok(Object::Array(names)) => names
            .iter()
            .filter_map(|n| deref(doc, n).as_name().ok())
            .collect(),
        Ok(_) => return Ok(Err("its /Filter is malformed".into())),
    };
    let params = match dict.get(b"DecodeParms").map(|o| deref(doc, o)) {
        Ok(Object::Dictionary(d)) => Some(d),
        Ok(Object::Array(list)) => list.first().and_then(|o| deref(doc, o).as_dict().ok()),
        _ => None,
    };
    if filters.len() > 1 {
        let names: Vec<String> = filters
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        return Ok(Err(format!(
            "chained filters {} are not supported",
            names.join(", ")
        )));
    }
    let filter = filters.first().copied();

    // Self-contained formats: the stream is the file.
    match filter {
        Some(b"DCTDecode") => {
            if let Some((w, h)) = jpeg_dimensions(&stream.content) {
                check_pixels(w, h)?;
            }
            return Ok(Ok(ImageFile {
                suffix: "jpg",
                bytes: stream.content.clone(),
            }));
        }
        Some(b"JPXDecode") => {
            return Ok(Ok(ImageFile {
                suffix: "jp2",
                bytes: stream.content.clone(),
            }));
        }
        Some(b"JBIG2Decode") => return Ok(Err("JBIG2 images are not supported".into())),
        _ => {}
    }

    let image_mask = matches!(
        dict.get(b"ImageMask").map(|o| deref(doc, o)),
        Ok(Object::Boolean(true))
    );
    let decode_inverted = dict
        .get(b"Decode")
        .ok()
        .and_then(|o| deref(doc, o).as_array().ok())
        .and_then(|a| a.first().map(number))
        .is_some_and(|first| first >= 0.5);
    let (colour, bits) = if image_mask {
        (
            Colour::Gray {
                inverted: decode_inverted,
            },
            1,
        )
    } else {
        let bits =
            int(doc, dict, b"BitsPerComponent").unwrap_or(if filter == Some(b"CCITTFaxDecode") {
                1
            } else {
                8
            });
        let colour = match dict.get(b"ColorSpace") {
            Ok(space) => match colour_space(doc, space, bits, decode_inverted) {
                Ok(colour) => colour,
                Err(why) => return Ok(Err(why)),
            },
            Err(_) => return Ok(Err("it has no colour space".into())),
        };
        (colour, bits)
    };
    if !matches!(bits, 1 | 2 | 4 | 8 | 16) {
        return Ok(Err(format!("{bits} bits per component are not supported")));
    }
    let bits = bits as u16;

    if filter == Some(b"CCITTFaxDecode") {
        return Ok(ccitt_tiff(doc, stream, params, width, height, &colour));
    }
    let predictor = params.and_then(|p| int(doc, p, b"Predictor")).unwrap_or(1);
    let compression = match filter {
        None => TIFF_NONE,
        Some(b"FlateDecode") if predictor >= 10 => {
            return Ok(flate_png(doc, stream, params, width, height, bits, &colour));
        }
        Some(b"FlateDecode") => TIFF_DEFLATE,
        Some(b"LZWDecode") => {
            if params.and_then(|p| int(doc, p, b"EarlyChange")) == Some(0) {
                return Ok(Err("LZW without early change is not supported".into()));
            }
            TIFF_LZW
        }
        Some(other) => {
            return Ok(Err(format!(
                "the {} filter is not supported",
                String::from_utf8_lossy(other)
            )));
        }
    };
    let tiff_predictor = match predictor {
        1 => None,
        2 if filter.is_some() && bits >= 8 => Some(2),
        other => return Ok(Err(format!("predictor {other} is not supported"))),
    };
    if compression == TIFF_NONE {
        let samples = if matches!(colour, Colour::Rgb) { 3 } else { 1 };
        let row = (u64::from(width) * u64::from(bits) * samples).div_ceil(8);
        if (stream.content.len() as u64) < row * u64::from(height) {
            return Ok(Err("its samples are shorter than its size".into()));
        }
    }
    Ok(sample_tiff(
        &stream.content,
        width,
        height,
        bits,
        &colour,
        compression,
        tiff_predictor,
    ))
}

/// The colour of a `/ColorSpace` value, for `bits`-bit samples.
fn colour_space(
    doc: &lopdf::Document,
    space: &Object,
    bits: i64,
    inverted: bool,
) -> Result<Colour, String> {
    let (family, rest) = split_space(doc, space)?;
    if family != b"Indexed" && family != b"I" {
        return match components(doc, space) {
            Some(1) => Ok(Colour::Gray { inverted }),
            Some(3) => Ok(Colour::Rgb),
            _ => Err(format!(
                "the {} colour space is not supported",
                String::from_utf8_lossy(family)
            )),
        };
    }
    let [base, high, lookup, ..] = rest else {
        return Err("a malformed indexed colour space".into());
    };
    if bits > 8 {
        return Err("indexed images over 8 bits are not supported".into());
    }
    let per_entry =
        components(doc, base).ok_or("an indexed colour space with an unsupported base")?;
    let high = number(deref(doc, high)).clamp(0.0, 255.0) as usize;
    let table: Vec<u8> = match deref(doc, lookup) {
        Object::String(bytes, _) => bytes.clone(),
        Object::Stream(s) if s.dict.get(b"Filter").is_err() => s.content.clone(),
        // A palette is at most 1 KiB: inflating a small stream is harmless.
        Object::Stream(s) if s.content.len() <= 4096 => s
            .decompressed_content()
            .map_err(|e| format!("its palette is unreadable: {e}"))?,
        _ => return Err("a malformed palette".into()),
    };
    let palette = table
        .chunks_exact(per_entry)
        .take(high + 1)
        .map(|entry| match entry {
            [g] => [*g; 3],
            [r, g, b] => [*r, *g, *b],
            [c, m, y, k] => {
                let ink = |v: u8| ((255 - u32::from(v)) * (255 - u32::from(*k)) / 255) as u8;
                [ink(*c), ink(*m), ink(*y)]
            }
            _ => [0; 3],
        })
        .collect();
    Ok(Colour::Indexed(palette))
}

/// The family name of a colour space and its operands.
fn split_space<'a>(
    doc: &'a lopdf::Document,
    space: &'a Object,
) -> Result<(&'a [u8], &'a [Object]), String> {
    match deref(doc, space) {
        Object::Name(name) => Ok((name, &[])),
        Object::Array(items) => match items.split_first() {
            Some((first, rest)) => Ok((
                deref(doc, first)
                    .as_name()
                    .map_err(|_| "a malformed colour space")?,
                rest,
            )),
            None => Err("an empty colour space".into()),
        },
        _ => Err("a malformed colour space".into()),
    }
}

/// How many components a gray, RGB or CMYK colour space has (`None` for
/// any other).
fn components(doc: &lopdf::Document, space: &Object) -> Option<usize> {
    let (family, rest) = split_space(doc, space).ok()?;
    match family {
        b"DeviceGray" | b"CalGray" | b"G" => Some(1),
        b"DeviceRGB" | b"CalRGB" | b"RGB" => Some(3),
        b"DeviceCMYK" | b"CMYK" => Some(4),
        b"ICCBased" => {
            let stream = deref(doc, rest.first()?).as_stream().ok()?;
            usize::try_from(int(doc, &stream.dict, b"N")?)
                .ok()
                .filter(|n| matches!(n, 1 | 3 | 4))
        }
        _ => None,
    }
}

/// TIFF compression: none.
const TIFF_NONE: u32 = 1;
/// TIFF compression: CCITT Group 3 fax.
const TIFF_G3: u32 = 3;
/// TIFF compression: CCITT Group 4 fax.
const TIFF_G4: u32 = 4;
/// TIFF compression: LZW (with PDF's default early change).
const TIFF_LZW: u32 = 5;
/// TIFF compression: zlib (Adobe Deflate), what PDF calls Flate.
const TIFF_DEFLATE: u32 = 8;

/// A TIFF around the (compressed) samples of a gray, RGB or indexed image.
fn sample_tiff(
    data: &[u8],
    width: u32,
    height: u32,
    bits: u16,
    colour: &Colour,
    compression: u32,
    predictor: Option<u32>,
) -> Result<ImageFile, String> {
    let mut tags = vec![
        (256, TiffValue::Long(vec![width])),
        (257, TiffValue::Long(vec![height])),
        (259, TiffValue::Short(vec![compression as u16])),
        (278, TiffValue::Long(vec![height])),
        (284, TiffValue::Short(vec![1])),
    ];
    match colour {
        Colour::Gray { inverted } => {
            tags.push((258, TiffValue::Short(vec![bits])));
            tags.push((262, TiffValue::Short(vec![if *inverted { 0 } else { 1 }])));
            tags.push((277, TiffValue::Short(vec![1])));
        }
        Colour::Rgb => {
            tags.push((258, TiffValue::Short(vec![bits; 3])));
            tags.push((262, TiffValue::Short(vec![2])));
            tags.push((277, TiffValue::Short(vec![3])));
        }
        Colour::Indexed(palette) => {
            if bits > 8 {
                return Err("indexed images over 8 bits are not supported".into());
            }
            let size = 1usize << bits;
            let mut map = vec![0u16; 3 * size];
            for (index, rgb) in palette.iter().take(size).enumerate() {
                for (channel, value) in rgb.iter().enumerate() {
                    map[channel * size + index] = u16::from(*value) * 257;
                }
            }
            tags.push((258, TiffValue::Short(vec![bits])));
            tags.push((262, TiffValue::Short(vec![3])));
            tags.push((277, TiffValue::Short(vec![1])));
            tags.push((320, TiffValue::Short(map)));
        }
    }
    if let Some(predictor) = predictor {
        tags.push((317, TiffValue::Short(vec![predictor as u16])));
    }
    Ok(ImageFile {
        suffix: "tif",
        bytes: write_tiff(data, tags)?,
    })
}

/// A TIFF around a CCITT fax stream: Group 4 (`/K` < 0), or Group 3 with
/// end-of-line codes. A fax decoder paints black runs as black unless
/// `/BlackIs1` or an inverted `/Decode` say otherwise.
fn ccitt_tiff(
    doc: &lopdf::Document,
    stream: &Stream,
    params: Option<&Dictionary>,
    width: u32,
    height: u32,
    colour: &Colour,
) -> Result<ImageFile, String> {
    let param = |key: &[u8]| params.and_then(|p| p.get(key).ok()).map(|o| deref(doc, o));
    let flag = |key: &[u8]| matches!(param(key), Some(Object::Boolean(true)));
    let k = param(b"K").map(number).unwrap_or(0.0);
    let columns = param(b"Columns").map(number).map_or(1728, |c| c as u32);
    let rows = param(b"Rows").map(number).map_or(0, |r| r as u32);
    let rows = if rows == 0 { height } else { rows };
    if columns != width {
        tracing::debug!(columns, width, "CCITT columns differ from the image width");
    }
    check_pixels(u64::from(columns), u64::from(rows)).map_err(|e| e.to_string())?;
    // Whether a 0 sample shows as black (then the fax's black runs, which
    // decode to 0 unless /BlackIs1, show as black).
    let zero_is_black = match colour {
        Colour::Gray { inverted } => !inverted,
        Colour::Indexed(palette) => match palette.as_slice() {
            [zero, one, ..] => brightness(zero) < brightness(one),
            _ => true,
        },
        Colour::Rgb => return Err("a CCITT fax image in RGB is malformed".into()),
    };
    let black_is_black = flag(b"BlackIs1") != zero_is_black;
    let mut tags = vec![
        (256, TiffValue::Long(vec![columns])),
        (257, TiffValue::Long(vec![rows])),
        (258, TiffValue::Short(vec![1])),
        (
            262,
            TiffValue::Short(vec![if black_is_black { 0 } else { 1 }]),
        ),
        (277, TiffValue::Short(vec![1])),
        (278, TiffValue::Long(vec![rows])),
    ];
    if k < 0.0 {
        tags.push((259, TiffValue::Short(vec![TIFF_G4 as u16])));
        tags.push((293, TiffValue::Long(vec![0])));
    } else if flag(b"EndOfLine") {
        let two_d = if k > 0.0 { 1 } else { 0 };
        let fill = if flag(b"EncodedByteAlign") { 4 } else { 0 };
        tags.push((259, TiffValue::Short(vec![TIFF_G3 as u16])));
        tags.push((292, TiffValue::Long(vec![two_d | fill])));
    } else {
        return Err("CCITT Group 3 images without end-of-line codes are not supported".into());
    }
    Ok(ImageFile {
        suffix: "tif",
        bytes: write_tiff(&stream.content, tags)?,
    })
}

/// The sum of the components of a colour.
fn brightness(rgb: &[u8; 3]) -> u32 {
    rgb.iter().map(|&c| u32::from(c)).sum()
}

/// The value of a TIFF tag.
#[derive(Debug)]
enum TiffValue {
    /// 16-bit values.
    Short(Vec<u16>),
    /// 32-bit values.
    Long(Vec<u32>),
}

/// A big-endian, single-strip TIFF holding `strip` as its image data and
/// the given tags (strip offset and byte count are added here).
fn write_tiff(strip: &[u8], mut tags: Vec<(u16, TiffValue)>) -> Result<Vec<u8>, String> {
    let too_big = || "the image is too large for a TIFF".to_string();
    let strip_len = u32::try_from(strip.len()).map_err(|_| too_big())?;
    tags.push((273, TiffValue::Long(vec![8])));
    tags.push((279, TiffValue::Long(vec![strip_len])));
    tags.sort_by_key(|(tag, _)| *tag);

    let mut ifd_at = 8 + strip.len();
    ifd_at += ifd_at % 2;
    let mut extra_at = ifd_at + 2 + 12 * tags.len() + 4;
    let mut out = Vec::with_capacity(extra_at + 1024);
    out.extend_from_slice(b"MM\x00\x2A");
    out.extend_from_slice(&u32::try_from(ifd_at).map_err(|_| too_big())?.to_be_bytes());
    out.extend_from_slice(strip);
    out.resize(ifd_at, 0);
    out.extend_from_slice(&(tags.len() as u16).to_be_bytes());
    let mut extra = Vec::new();
    for (tag, value) in &tags {
        let (kind, count, bytes): (u16, usize, Vec<u8>) = match value {
            TiffValue::Short(v) => (3, v.len(), v.iter().flat_map(|x| x.to_be_bytes()).collect()),
            TiffValue::Long(v) => (4, v.len(), v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        };
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&u32::try_from(count).map_err(|_| too_big())?.to_be_bytes());
        if bytes.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..bytes.len()].copy_from_slice(&bytes);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(
                &u32::try_from(extra_at)
                    .map_err(|_| too_big())?
                    .to_be_bytes(),
            );
            extra_at += bytes.len() + bytes.len() % 2;
            extra.extend_from_slice(&bytes);
            extra.resize(extra.len() + bytes.len() % 2, 0);
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&extra);
    Ok(out)
}

/// A PNG around a Flate stream with PNG predictors: PNG's image data is
/// exactly that (a zlib stream of rows, each led by its filter type).
fn flate_png(
    doc: &lopdf::Document,
    stream: &Stream,
    params: Option<&Dictionary>,
    width: u32,
    height: u32,
    bits: u16,
    colour: &Colour,
) -> Result<ImageFile, String> {
    let param = |key: &[u8], default: i64| params.and_then(|p| int(doc, p, key)).unwrap_or(default);
    let samples = if matches!(colour, Colour::Rgb) { 3 } else { 1 };
    if param(b"Columns", 1) != i64::from(width)
        || param(b"Colors", 1) != samples
        || param(b"BitsPerComponent", 8) != i64::from(bits)
    {
        return Err("its predictor parameters do not match the image".into());
    }
    let (colour_type, palette): (u8, Option<Vec<[u8; 3]>>) = match colour {
        Colour::Gray { inverted: false } => (0, None),
        Colour::Gray { inverted: true } if bits <= 8 => {
            let levels = (1u32 << bits) - 1;
            let ramp = (0..=levels)
                .map(|v| [(255 - v * 255 / levels) as u8; 3])
                .collect();
            (3, Some(ramp))
        }
        Colour::Gray { inverted: true } => {
            return Err("inverted 16-bit images are not supported".into());
        }
        Colour::Rgb if bits >= 8 => (2, None),
        Colour::Rgb => return Err("RGB images under 8 bits are not supported".into()),
        Colour::Indexed(palette) => (3, Some(palette.clone())),
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[bits as u8, colour_type, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &header);
    if let Some(palette) = palette {
        let mut entries: Vec<u8> = palette
            .iter()
            .take(1 << bits.min(8))
            .flatten()
            .copied()
            .collect();
        if entries.is_empty() {
            entries = vec![0, 0, 0];
        }
        png_chunk(&mut png, b"PLTE", &entries);
    }
    for part in stream.content.chunks(1 << 20) {
        png_chunk(&mut png, b"IDAT", part);
    }
    png_chunk(&mut png, b"IEND", &[]);
    Ok(ImageFile {
        suffix: "png",
        bytes: png,
    })
}

/// Appends one PNG chunk: length, type, data, CRC of type and data.
fn png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = !data
        .iter()
        .fold(crc32_update(!0, kind), |crc, &b| crc32_byte(crc, b));
    png.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (the PNG/zlib polynomial) lookup table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// Feeds one byte to a running CRC-32.
fn crc32_byte(crc: u32, byte: u8) -> u32 {
    CRC_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8)
}

/// Feeds bytes to a running CRC-32.
fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(crc, |crc, &b| crc32_byte(crc, b))
}

/// Follows a reference (once; lopdf resolves chains) to its object.
fn deref<'a>(doc: &'a lopdf::Document, object: &'a Object) -> &'a Object {
    doc.dereference(object).map(|(_, o)| o).unwrap_or(object)
}

/// An integer entry of a dictionary, following a reference.
fn int(doc: &lopdf::Document, dict: &Dictionary, key: &[u8]) -> Option<i64> {
    match deref(doc, dict.get(key).ok()?) {
        Object::Integer(i) => Some(*i),
        Object::Real(r) => Some(*r as i64),
        _ => None,
    }
}

/// A number object as a float (0 for anything else).
fn number(object: &Object) -> f32 {
    match object {
        Object::Integer(i) => *i as f32,
        Object::Real(r) => *r,
        _ => 0.0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    #[test]
    fn tidies_tesseract_output() {
        assert_eq!(
            tidy("  a line  \n\n\n\nnext\nthird \n\u{c}"),
            "  a line\n\nnext\nthird"
        );
        assert_eq!(tidy("\n\n"), "");
    }

    #[test]
    fn reads_image_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_dimensions(&png), Some((640, 480)));
        let tiff = write_tiff(
            &[0; 4],
            vec![
                (256, TiffValue::Long(vec![70_000])),
                (257, TiffValue::Short(vec![9])),
            ],
        )
        .unwrap();
        assert_eq!(image_dimensions(&tiff), Some((70_000, 9)));
        let jpeg = b"\xFF\xD8\xFF\xE0\x00\x04ab\xFF\xC0\x00\x0b\x08\x01\x00\x02\x00\x01";
        assert_eq!(image_dimensions(jpeg), Some((512, 256)));
        assert!(check_pixels(20_000, 20_000).is_err());
    }

    #[test]
    fn png_crc_matches_the_standard() {
        // CRC of "IEND" with no data, as in every PNG.
        let mut png = Vec::new();
        png_chunk(&mut png, b"IEND", &[]);
        assert_eq!(&png[8..], &[0xAE, 0x42, 0x60, 0x82]);
    }

    #[test]
    fn summarises_tool_errors() {
        let log = "INFO: a\nERROR: \"acmod.c\", line 78: no model\nINFO: b\n";
        assert_eq!(error_summary(log), "ERROR: \"acmod.c\", line 78: no model");
        assert_eq!(error_summary("one\ntwo\n"), "one; two");
        assert_eq!(error_summary(""), "no error output");
    }

    #[test]
    fn a_missing_program_names_its_package() {
        let mut command = Command::new("/nonexistent/tesseract");
        let err = run_tool(
            &mut command,
            "tesseract",
            "tesseract-ocr",
            Duration::from_secs(5),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("install the Debian package tesseract-ocr"),
            "{message}"
        );
    }

    /// 5×7 glyphs for the letters of the test phrases (1 = ink).
    const GLYPHS: &[(char, [&str; 7])] = &[
        (
            'P',
            [
                "11110", "10001", "10001", "11110", "10000", "10000", "10000",
            ],
        ),
        (
            'E',
            [
                "11111", "10000", "10000", "11110", "10000", "10000", "11111",
            ],
        ),
        (
            'R',
            [
                "11110", "10001", "10001", "11110", "10100", "10010", "10001",
            ],
        ),
        (
            'C',
            [
                "01110", "10001", "10000", "10000", "10000", "10001", "01110",
            ],
        ),
        (
            'O',
            [
                "01110", "10001", "10001", "10001", "10001", "10001", "01110",
            ],
        ),
        (
            'L',
            [
                "10000", "10000", "10000", "10000", "10000", "10000", "11111",
            ],
        ),
        (
            'A',
            [
                "01110", "10001", "10001", "11111", "10001", "10001", "10001",
            ],
        ),
        (
            'T',
            [
                "11111", "00100", "00100", "00100", "00100", "00100", "00100",
            ],
        ),
        (
            'S',
            [
                "01111", "10000", "10000", "01110", "00001", "00001", "11110",
            ],
        ),
        (
            'N',
            [
                "10001", "11001", "10101", "10011", "10001", "10001", "10001",
            ],
        ),
        (
            'D',
            [
                "11110", "10001", "10001", "10001", "10001", "10001", "11110",
            ],
        ),
        (
            ' ',
            [
                "00000", "00000", "00000", "00000", "00000", "00000", "00000",
            ],
        ),
    ];

    const PHRASE: &str = "PERCOLATE SCANNED";

    /// Renders `text` in the block font, 4× scaled: a row-major bitmap,
    /// true where there is ink.
    fn render(text: &str) -> (u32, u32, Vec<bool>) {
        let scale = 4;
        let width = (text.len() * 6 + 4) * scale;
        let height = 15 * scale;
        let mut ink = vec![false; width * height];
        for (i, ch) in text.chars().enumerate() {
            let glyph = GLYPHS.iter().find(|(c, _)| *c == ch).unwrap().1;
            for (y, row) in glyph.iter().enumerate() {
                for (x, bit) in row.bytes().enumerate() {
                    if bit == b'1' {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                ink[((4 + y) * scale + dy) * width
                                    + (2 + i * 6 + x) * scale
                                    + dx] = true;
                            }
                        }
                    }
                }
            }
        }
        (width as u32, height as u32, ink)
    }

    /// Packs one bit per pixel, rows padded to bytes; `one` is the value of
    /// an inked pixel.
    fn pack_bits(width: u32, ink: &[bool], one: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for row in ink.chunks(width as usize) {
            for byte in row.chunks(8) {
                let mut value = 0u8;
                for (bit, &inked) in byte.iter().enumerate() {
                    if inked == one {
                        value |= 0x80 >> bit;
                    }
                }
                out.push(value);
            }
        }
        out
    }

    fn image(width: u32, height: u32, entries: Vec<(&str, Object)>, data: Vec<u8>) -> Stream {
        let mut dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => width,
            "Height" => height,
        };
        for (key, value) in entries {
            dict.set(key, value);
        }
        Stream::new(dict, data)
    }

    fn flate(mut stream: Stream) -> Stream {
        stream.compress().unwrap();
        assert!(
            stream.dict.get(b"Filter").is_ok(),
            "compression was skipped"
        );
        stream
    }

    /// A one-page PDF drawing `image` full page. With `inherited`, the
    /// resources sit on the page tree node instead of the page.
    fn one_page_pdf(image: Stream, inherited: bool) -> lopdf::Document {
        let mut doc = lopdf::Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let (width, height) = (
            image.dict.get(b"Width").unwrap().clone(),
            image.dict.get(b"Height").unwrap().clone(),
        );
        let image_id = doc.add_object(image);
        let draw = format!(
            "q {} 0 0 {} 0 0 cm /Im0 Do Q",
            number(&width),
            number(&height)
        );
        let content_id = doc.add_object(Stream::new(dictionary! {}, draw.into_bytes()));
        let resources = dictionary! { "XObject" => dictionary! { "Im0" => image_id } };
        let mut page = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), width, height],
        };
        let mut pages = dictionary! { "Type" => "Pages", "Count" => 1 };
        if inherited {
            pages.set("Resources", resources);
        } else {
            page.set("Resources", resources);
        }
        let page_id = doc.add_object(page);
        pages.set("Kids", vec![page_id.into()]);
        doc.objects.insert(pages_id, Object::Dictionary(pages));
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc
    }

    fn ocr(image: Stream) -> Result<Option<String>, ExtractError> {
        ocr_pdf_page(
            &one_page_pdf(image, false),
            1,
            &Limits::default(),
            &Tools::default(),
        )
    }

    #[test]
    fn recognises_the_image_encodings_of_scanned_pdfs() {
        let (w, h, ink) = render(PHRASE);
        let gray: Vec<u8> = ink.iter().map(|&i| if i { 0 } else { 255 }).collect();
        let name = |n: &str| Object::Name(n.as_bytes().to_vec());
        let gray8 = || {
            vec![
                ("ColorSpace", name("DeviceGray")),
                ("BitsPerComponent", Object::from(8)),
            ]
        };
        // Rows led by PNG filter types: alternately None and Sub.
        let mut predicted = Vec::new();
        for (y, row) in gray.chunks(w as usize).enumerate() {
            if y % 2 == 0 {
                predicted.push(0);
                predicted.extend_from_slice(row);
            } else {
                predicted.push(1);
                predicted.extend(
                    row.iter()
                        .enumerate()
                        .map(|(x, &v)| v.wrapping_sub(if x == 0 { 0 } else { row[x - 1] })),
                );
            }
        }
        let mut predicted_image = flate(image(w, h, gray8(), predicted));
        predicted_image.dict.set(
            "DecodeParms",
            dictionary! { "Predictor" => 15, "Columns" => w, "Colors" => 1, "BitsPerComponent" => 8 },
        );
        let rgb: Vec<u8> = ink
            .iter()
            .flat_map(|&i| if i { [20, 20, 160] } else { [250, 240, 120] })
            .collect();
        let palette = Object::Array(vec![
            name("Indexed"),
            name("DeviceRGB"),
            Object::from(1),
            Object::String(
                vec![255, 255, 255, 0, 0, 0],
                lopdf::StringFormat::Hexadecimal,
            ),
        ]);
        let indices: Vec<u8> = ink.iter().map(|&i| u8::from(i)).collect();
        let cases: Vec<(&str, Stream)> = vec![
            (
                "8-bit gray, uncompressed",
                image(w, h, gray8(), gray.clone()),
            ),
            (
                "8-bit gray, Flate",
                flate(image(w, h, gray8(), gray.clone())),
            ),
            ("8-bit gray, Flate with PNG predictors", predicted_image),
            (
                "1-bit gray, Flate",
                flate(image(
                    w,
                    h,
                    vec![
                        ("ColorSpace", name("DeviceGray")),
                        ("BitsPerComponent", Object::from(1)),
                    ],
                    pack_bits(w, &ink, false),
                )),
            ),
            (
                "1-bit inverted gray",
                image(
                    w,
                    h,
                    vec![
                        ("ColorSpace", name("DeviceGray")),
                        ("BitsPerComponent", Object::from(1)),
                        ("Decode", Object::Array(vec![1.into(), 0.into()])),
                    ],
                    pack_bits(w, &ink, true),
                ),
            ),
            (
                "image mask",
                image(
                    w,
                    h,
                    vec![("ImageMask", Object::Boolean(true))],
                    pack_bits(w, &ink, false),
                ),
            ),
            (
                "indexed, Flate",
                flate(image(
                    w,
                    h,
                    vec![
                        ("ColorSpace", palette),
                        ("BitsPerComponent", Object::from(8)),
                    ],
                    indices,
                )),
            ),
            (
                "RGB, Flate",
                flate(image(
                    w,
                    h,
                    vec![
                        ("ColorSpace", name("DeviceRGB")),
                        ("BitsPerComponent", Object::from(8)),
                    ],
                    rgb,
                )),
            ),
        ];
        for (what, stream) in cases {
            let text = ocr(stream)
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .unwrap_or_default();
            assert!(
                text.contains("PERCOLATE") && text.contains("SCANNED"),
                "{what}: recognised {text:?}"
            );
        }
    }

    #[test]
    fn finds_images_through_inherited_resources() {
        let (w, h, ink) = render(PHRASE);
        let gray: Vec<u8> = ink.iter().map(|&i| if i { 0 } else { 255 }).collect();
        let stream = image(
            w,
            h,
            vec![
                ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
                ("BitsPerComponent", 8.into()),
            ],
            gray,
        );
        let doc = one_page_pdf(stream, true);
        let text = ocr_pdf_page(&doc, 1, &Limits::default(), &Tools::default())
            .unwrap()
            .unwrap();
        assert!(text.contains("SCANNED"), "{text:?}");
    }

    #[test]
    fn unusable_images_give_no_text() {
        let jbig2 = image(
            100,
            100,
            vec![
                ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
                ("BitsPerComponent", 1.into()),
                ("Filter", Object::Name(b"JBIG2Decode".to_vec())),
            ],
            vec![0; 64],
        );
        assert_eq!(ocr(jbig2).unwrap(), None);
        let truncated = image(
            100,
            100,
            vec![
                ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
                ("BitsPerComponent", 8.into()),
            ],
            vec![0; 64],
        );
        assert_eq!(ocr(truncated).unwrap(), None);
        let garbage = image(
            100,
            100,
            vec![("Filter", Object::Name(b"DCTDecode".to_vec()))],
            b"\xFF\xD8\xFF not really a jpeg".to_vec(),
        );
        assert_eq!(ocr(garbage).unwrap(), None);
        assert_eq!(
            ocr_pdf_page(
                &one_page_pdf(image(100, 100, vec![], vec![]), false),
                7,
                &Limits::default(),
                &Tools::default()
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn huge_pdf_images_are_too_large() {
        let huge = image(
            20_000,
            20_000,
            vec![
                ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
                ("BitsPerComponent", 8.into()),
            ],
            vec![0; 16],
        );
        assert!(matches!(ocr(huge), Err(ExtractError::TooLarge(_))));
    }

    #[test]
    fn a_slow_program_is_stopped() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let started = Instant::now();
        let err = run_tool(
            &mut command,
            "sleep",
            "coreutils",
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
