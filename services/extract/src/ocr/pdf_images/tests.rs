//! OCR of scanned PDF pages: a phrase rendered in a block font, stored as
//! each kind of image a PDF can hold, must be read back.

#![allow(clippy::unwrap_used)]

use lopdf::{Object, Stream, dictionary};

use super::number;
use crate::ocr::ocr_pdf_page;
use crate::{ExtractError, Limits, Tools};

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
                            ink[((4 + y) * scale + dy) * width + (2 + i * 6 + x) * scale + dx] =
                                true;
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
