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
//! [`pdf_images`] finds the images of a page and decides how each is handed
//! over; [`tiff`] and [`png`] write the containers it wraps them in.

use std::path::Path;
use std::process::Command;

use lopdf::Object;

use crate::process::{error_summary, run_tool, temp_dir};
use crate::text::tidy_lines;
use crate::{Document, ExtractError, Kind, Limits, Section, Tools};

mod pdf_images;
mod png;
mod tiff;

/// Largest image (width × height, in pixels) handed to Tesseract: 100
/// megapixels, a letter page scanned at 1200 dpi in colour is 135.
const MAX_PIXELS: u64 = 100_000_000;

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
    let pages: Vec<String> = text.split('\u{c}').map(tidy_lines).collect();
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
    let images = pdf_images::page_images(doc, page_id);
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
        let file = match pdf_images::image_file(doc, stream)? {
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
            Ok(text) => tidy_lines(&text.replace('\u{c}', "\n")),
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

// ---------------------------------------------------------------------------
// Image files

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::tiff::{TiffValue, write_tiff};
    use super::*;

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
}
