//! RLE Lossless (1.2.840.10008.1.2.5, PS3.5 Annex G): a 64-byte header of
//! segment offsets, then one PackBits segment per byte plane, most
//! significant byte first, sample planes in order. Written here rather than
//! via dicom-pixeldata so 32-bit data works and short segments are errors.

use crate::frame::{SampleKind, SampleLayout};
use crate::{Frame, FrameSamples, ImageDescription, PixelError};

const CODEC: &str = "RLE Lossless";
/// PackBits expands at most 64×: a two-byte replicate run gives 128 bytes.
const MAX_EXPANSION: usize = 64;

fn corrupt(message: impl Into<String>) -> PixelError {
    PixelError::Codec {
        codec: CODEC,
        message: message.into(),
    }
}

pub(crate) fn decode(desc: &ImageDescription, data: &[u8]) -> Result<Frame, PixelError> {
    let layout = SampleLayout::of(desc)?;
    if desc.float_pixels || !matches!(desc.bits_allocated, 8 | 16 | 32) {
        return Err(PixelError::UnsupportedLayout {
            reason: format!("RLE with {} bits allocated", desc.bits_allocated),
        });
    }
    let bytes_per_sample = usize::from(desc.bits_allocated / 8);
    let spp = usize::from(desc.samples_per_pixel);
    let pixels = desc.pixels_per_frame();
    let segments = read_header(data, spp * bytes_per_sample)?;

    let mut planes = Vec::with_capacity(segments.len());
    for (i, &(start, end)) in segments.iter().enumerate() {
        let segment = &data[start..end];
        if pixels > segment.len().saturating_mul(MAX_EXPANSION) {
            return Err(corrupt(format!(
                "segment {i} has {} bytes, too few for {pixels} pixels",
                segment.len()
            )));
        }
        planes.push(unpack_bits(segment, pixels).map_err(|decoded| {
            corrupt(format!(
                "segment {i} decodes to {decoded} bytes, expected {pixels}"
            ))
        })?);
    }

    let samples = match (spp, bytes_per_sample, layout.kind) {
        // Grey 8- and 16-bit with every bit stored: join the byte planes
        // directly (the most significant plane comes first).
        (1, 1, SampleKind::U8) if layout.plain() => {
            FrameSamples::U8(planes.pop().unwrap_or_default())
        }
        (1, 2, SampleKind::U16 | SampleKind::I16) if layout.plain() => {
            let words = planes[0]
                .iter()
                .zip(&planes[1])
                .map(|(&hi, &lo)| u16::from_be_bytes([hi, lo]));
            if layout.kind == SampleKind::U16 {
                FrameSamples::U16(words.collect())
            } else {
                FrameSamples::I16(words.map(|w| w as i16).collect())
            }
        }
        _ => {
            let raw = (0..pixels * spp).map(|i| {
                let (p, s) = (i / spp, i % spp);
                planes[s * bytes_per_sample..(s + 1) * bytes_per_sample]
                    .iter()
                    .fold(0u32, |acc, plane| (acc << 8) | u32::from(plane[p]))
            });
            layout.samples_from_raw(raw)
        }
    };
    let photometric = if desc.photometric == "YBR_FULL_422" {
        // RLE cannot carry subsampled data; writers that keep the label store full YBR.
        "YBR_FULL".to_owned()
    } else {
        desc.photometric.clone()
    };
    Ok(Frame {
        rows: desc.rows,
        columns: desc.columns,
        samples_per_pixel: desc.samples_per_pixel,
        photometric,
        bits_stored: desc.bits_stored,
        samples,
    })
}

/// Segment byte ranges from the RLE header, checked against the data length.
fn read_header(data: &[u8], expected_segments: usize) -> Result<Vec<(usize, usize)>, PixelError> {
    if data.len() < 64 {
        return Err(corrupt(format!(
            "{} bytes, shorter than the 64-byte header",
            data.len()
        )));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            data[4 * i],
            data[4 * i + 1],
            data[4 * i + 2],
            data[4 * i + 3],
        ]) as usize
    };
    let count = word(0);
    if count != expected_segments {
        return Err(PixelError::Mismatch {
            codec: CODEC,
            what: "number of segments",
            expected: expected_segments.to_string(),
            found: count.to_string(),
        });
    }
    if count == 0 || count > 15 {
        return Err(corrupt(format!("{count} segments")));
    }
    let offsets: Vec<usize> = (1..=count).map(word).collect();
    let mut ranges = Vec::with_capacity(count);
    for (i, &start) in offsets.iter().enumerate() {
        let end = offsets.get(i + 1).copied().unwrap_or(data.len());
        if start < 64 || start > end || end > data.len() {
            return Err(corrupt(format!(
                "segment {i} offset {start}..{end} outside {} bytes",
                data.len()
            )));
        }
        ranges.push((start, end));
    }
    Ok(ranges)
}

/// PackBits-decode one segment to exactly `len` bytes. Extra output (writers
/// pad runs to even lengths) is dropped; short output is an error giving the
/// decoded length.
pub(crate) fn unpack_bits(src: &[u8], len: usize) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < src.len() && out.len() < len {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let count = n as usize + 1;
            let end = (i + count).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if n != -128 {
            let count = 1 - isize::from(n);
            if let Some(&b) = src.get(i) {
                out.extend(std::iter::repeat_n(b, count as usize));
                i += 1;
            }
        }
    }
    if out.len() < len {
        return Err(out.len());
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::unpack_bits;

    #[test]
    fn packbits_literal_and_replicate() {
        // Literal of 3, replicate 'x' 4 times, no-op, literal of 1.
        let src = [2, b'a', b'b', b'c', (-3i8) as u8, b'x', 0x80, 0, b'z'];
        assert_eq!(unpack_bits(&src, 8).as_deref(), Ok(&b"abcxxxxz"[..]));
        assert_eq!(unpack_bits(&src, 10), Err(8));
        assert_eq!(unpack_bits(&src, 5).as_deref(), Ok(&b"abcxx"[..]));
    }
}
