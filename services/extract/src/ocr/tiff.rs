//! Big-endian, single-strip TIFF files written around image data as it
//! is (raw samples, or compressed with a scheme TIFF shares with PDF), so
//! the data is never decoded here.

use super::{Colour, ImageFile};

/// TIFF compression: none.
pub(super) const TIFF_NONE: u32 = 1;
/// TIFF compression: CCITT Group 3 fax.
const TIFF_G3: u32 = 3;
/// TIFF compression: CCITT Group 4 fax.
const TIFF_G4: u32 = 4;
/// TIFF compression: LZW (with PDF's default early change).
pub(super) const TIFF_LZW: u32 = 5;
/// TIFF compression: zlib (Adobe Deflate), what PDF calls Flate.
pub(super) const TIFF_DEFLATE: u32 = 8;

/// A TIFF around the (compressed) samples of a gray, RGB or indexed image.
pub(super) fn sample_tiff(
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

/// How a CCITT fax stream is coded.
#[derive(Debug, Clone, Copy)]
pub(super) enum FaxCoding {
    /// Group 4.
    Group4,
    /// Group 3 with end-of-line codes.
    Group3 {
        /// One- and two-dimensional coding mixed (else one-dimensional).
        two_d: bool,
        /// Every line starts on a byte boundary.
        byte_aligned: bool,
    },
}

/// A TIFF around a CCITT fax stream of `columns` × `rows` pixels.
/// `black_is_black`: the black runs of the fax show as black (else as
/// white).
pub(super) fn fax_tiff(
    data: &[u8],
    columns: u32,
    rows: u32,
    black_is_black: bool,
    coding: FaxCoding,
) -> Result<ImageFile, String> {
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
    match coding {
        FaxCoding::Group4 => {
            tags.push((259, TiffValue::Short(vec![TIFF_G4 as u16])));
            tags.push((293, TiffValue::Long(vec![0])));
        }
        FaxCoding::Group3 {
            two_d,
            byte_aligned,
        } => {
            let fill = if byte_aligned { 4 } else { 0 };
            tags.push((259, TiffValue::Short(vec![TIFF_G3 as u16])));
            tags.push((292, TiffValue::Long(vec![u32::from(two_d) | fill])));
        }
    }
    Ok(ImageFile {
        suffix: "tif",
        bytes: write_tiff(data, tags)?,
    })
}

/// The value of a TIFF tag.
#[derive(Debug)]
pub(super) enum TiffValue {
    /// 16-bit values.
    Short(Vec<u16>),
    /// 32-bit values.
    Long(Vec<u32>),
}

/// A big-endian, single-strip TIFF holding `strip` as its image data and
/// the given tags (strip offset and byte count are added here).
pub(super) fn write_tiff(strip: &[u8], mut tags: Vec<(u16, TiffValue)>) -> Result<Vec<u8>, String> {
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
