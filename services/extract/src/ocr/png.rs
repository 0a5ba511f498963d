//! PNG files written around a zlib stream of rows, each led by its PNG
//! filter type: the image data of a PNG, and exactly what a PDF Flate
//! stream with PNG predictors holds, so it is never inflated here.

use super::{Colour, ImageFile};

/// A PNG of `width` × `height` pixels of `bits`-bit samples coloured as
/// `colour`, whose image data is `data`.
pub(super) fn predicted_png(
    data: &[u8],
    width: u32,
    height: u32,
    bits: u16,
    colour: &Colour,
) -> Result<ImageFile, String> {
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
    for part in data.chunks(1 << 20) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_crc_matches_the_standard() {
        // CRC of "IEND" with no data, as in every PNG.
        let mut png = Vec::new();
        png_chunk(&mut png, b"IEND", &[]);
        assert_eq!(&png[8..], &[0xAE, 0x42, 0x60, 0x82]);
    }
}
