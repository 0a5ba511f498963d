//! The images of a PDF page as files Tesseract can read: which image
//! XObjects a page draws (directly or through Form XObjects), and how each
//! one's samples are handed over without decoding them.

use std::collections::HashSet;

use lopdf::{Dictionary, Object, ObjectId, Stream};

use super::png::predicted_png;
use super::tiff::{FaxCoding, TIFF_DEFLATE, TIFF_LZW, TIFF_NONE, fax_tiff, sample_tiff};
use super::{Colour, ImageFile, check_pixels, jpeg_dimensions};
use crate::ExtractError;
use crate::pdf::{deref, inherited_resources, xobjects};

/// Most images of one PDF page that are recognised (the largest ones).
const MAX_IMAGES_PER_PAGE: usize = 16;

/// Images with fewer pixels than this cannot hold a line of text.
const MIN_IMAGE_PIXELS: u64 = 2_000;

/// How deep Form XObjects are searched for images.
const MAX_FORM_DEPTH: usize = 4;

/// The image XObjects a page uses, directly or through Form XObjects, in
/// resource order: at most [`MAX_IMAGES_PER_PAGE`] (the largest), none too
/// small to hold text.
pub(super) fn page_images(doc: &lopdf::Document, page_id: ObjectId) -> Vec<ObjectId> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    if let Some(resources) = inherited_resources(doc, page_id) {
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

/// Adds the images of a resource dictionary's `/XObject` entry to `found`
/// with their pixel counts, descending into Form XObjects.
fn collect_images(
    doc: &lopdf::Document,
    resources: &Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    found: &mut Vec<(ObjectId, u64)>,
) {
    let Some(xobjects) = xobjects(doc, resources) else {
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

/// Turns an image XObject into an image file. The outer error is a limit
/// (too many pixels); the inner one says why an image cannot be used.
pub(super) fn image_file(
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
    let coding = if k < 0.0 {
        FaxCoding::Group4
    } else if flag(b"EndOfLine") {
        FaxCoding::Group3 {
            two_d: k > 0.0,
            byte_aligned: flag(b"EncodedByteAlign"),
        }
    } else {
        return Err("CCITT Group 3 images without end-of-line codes are not supported".into());
    };
    fax_tiff(&stream.content, columns, rows, black_is_black, coding)
}

/// The sum of the components of a colour.
fn brightness(rgb: &[u8; 3]) -> u32 {
    rgb.iter().map(|&c| u32::from(c)).sum()
}

/// A PNG around a Flate stream with PNG predictors (see [`predicted_png`]),
/// when the predictor's parameters match the image.
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
    predicted_png(&stream.content, width, height, bits, colour)
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
mod tests;
