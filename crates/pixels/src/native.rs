//! Native (uncompressed) frames: Implicit/Explicit VR Little Endian, Explicit
//! VR Big Endian and Deflated (whose frame bytes are little endian once the
//! data set is inflated). Handles 1-bit packing, planar configuration 1,
//! native YBR_FULL_422 subsampling and float pixel data.

use crate::frame::{SampleKind, SampleLayout};
use crate::{Frame, FrameSamples, ImageDescription, PixelError};

/// Decode one native frame. `big_endian` for Explicit VR Big Endian.
pub(crate) fn decode(
    desc: &ImageDescription,
    bytes: &[u8],
    big_endian: bool,
) -> Result<Frame, PixelError> {
    let layout = SampleLayout::of(desc)?;
    let expected = desc.native_frame_len();
    if bytes.len() < expected {
        return Err(PixelError::FrameTooShort {
            expected,
            actual: bytes.len(),
        });
    }
    let bytes = &bytes[..expected];
    let pixels = desc.pixels_per_frame();
    let spp = usize::from(desc.samples_per_pixel);
    let mut photometric = desc.photometric.clone();

    let samples = if desc.bits_allocated == 1 {
        FrameSamples::U8((0..pixels).map(|i| (bytes[i / 8] >> (i % 8)) & 1).collect())
    } else if layout.kind == SampleKind::F32 {
        FrameSamples::F32(
            bytes
                .chunks_exact(4)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    if big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    }
                })
                .collect(),
        )
    } else if layout.kind == SampleKind::F64 {
        FrameSamples::F64(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    if big_endian {
                        f64::from_be_bytes(b)
                    } else {
                        f64::from_le_bytes(b)
                    }
                })
                .collect(),
        )
    } else if let Some(samples) = fast_path(bytes, &layout, desc.bits_allocated, big_endian) {
        samples
    } else {
        let width = usize::from(desc.bits_allocated / 8);
        let raw = bytes
            .chunks_exact(width)
            .map(move |c| match (width, big_endian) {
                (1, _) => u32::from(c[0]),
                (2, false) => u32::from(u16::from_le_bytes([c[0], c[1]])),
                (2, true) => u32::from(u16::from_be_bytes([c[0], c[1]])),
                (_, false) => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                (_, true) => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            });
        layout.samples_from_raw(raw)
    };

    let samples = if spp == 3 && desc.photometric == "YBR_FULL_422" {
        if !pixels.is_multiple_of(2) {
            return Err(PixelError::UnsupportedLayout {
                reason: "native YBR_FULL_422 with an odd number of pixels".to_owned(),
            });
        }
        photometric = "YBR_FULL".to_owned();
        upsample_422(samples, pixels)
    } else if spp == 3 && desc.planar_configuration == 1 {
        interleave_planes(samples, pixels)
    } else {
        samples
    };

    Ok(Frame {
        rows: desc.rows,
        columns: desc.columns,
        samples_per_pixel: desc.samples_per_pixel,
        photometric,
        bits_stored: if desc.float_pixels {
            desc.bits_allocated
        } else {
            desc.bits_stored
        },
        samples,
    })
}

/// 8- and 16-bit samples without the per-sample generic path: a plain copy
/// when all bits are stored from bit 0 (the usual CT/MR frame), else shift,
/// mask and sign-extend in one branch-free loop per case. Each loop is simple
/// enough for the compiler to vectorise (SSE natively, SIMD128 in wasm built
/// with `+simd128`). `None`: not one of these layouts.
fn fast_path(
    bytes: &[u8],
    layout: &SampleLayout,
    bits_allocated: u16,
    big_endian: bool,
) -> Option<FrameSamples> {
    let (shift, bits) = (layout.shift, layout.bits_stored);
    match (layout.kind, bits_allocated) {
        (SampleKind::U8, 8) => {
            let mask = ((1u16 << bits) - 1) as u8;
            Some(FrameSamples::U8(if shift == 0 && bits == 8 {
                bytes.to_vec()
            } else {
                bytes.iter().map(|&b| (b >> shift) & mask).collect()
            }))
        }
        (SampleKind::U16 | SampleKind::I16, 16) => {
            let words: Vec<u16> = if big_endian {
                bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect()
            } else {
                bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect()
            };
            Some(if layout.kind == SampleKind::U16 {
                FrameSamples::U16(if shift == 0 && bits == 16 {
                    words
                } else {
                    let mask = ((1u32 << bits) - 1) as u16;
                    words.into_iter().map(|w| (w >> shift) & mask).collect()
                })
            } else {
                // Move the stored bits to the top, then an arithmetic shift back
                // sign-extends them.
                let up = 16 - bits;
                FrameSamples::I16(if shift == 0 && bits == 16 {
                    words.into_iter().map(|w| w as i16).collect()
                } else {
                    words
                        .into_iter()
                        .map(|w| (((w >> shift) << up) as i16) >> up)
                        .collect()
                })
            })
        }
        _ => None,
    }
}

/// Rebuild the samples in a new order: output sample `i` is input sample `source(i)`.
/// Callers guarantee `source(i)` is in bounds for `i < out_len`.
pub(crate) fn reindex(
    samples: FrameSamples,
    out_len: usize,
    source: impl Fn(usize) -> usize,
) -> FrameSamples {
    fn pick<T: Copy>(v: &[T], out_len: usize, source: impl Fn(usize) -> usize) -> Vec<T> {
        (0..out_len)
            .filter_map(|i| v.get(source(i)).copied())
            .collect()
    }
    match samples {
        FrameSamples::U8(v) => FrameSamples::U8(pick(&v, out_len, source)),
        FrameSamples::U16(v) => FrameSamples::U16(pick(&v, out_len, source)),
        FrameSamples::I16(v) => FrameSamples::I16(pick(&v, out_len, source)),
        FrameSamples::U32(v) => FrameSamples::U32(pick(&v, out_len, source)),
        FrameSamples::I32(v) => FrameSamples::I32(pick(&v, out_len, source)),
        FrameSamples::F32(v) => FrameSamples::F32(pick(&v, out_len, source)),
        FrameSamples::F64(v) => FrameSamples::F64(pick(&v, out_len, source)),
    }
}

/// Colour planes (RRR… GGG… BBB…) to interleaved (RGB RGB …).
pub(crate) fn interleave_planes(samples: FrameSamples, pixels: usize) -> FrameSamples {
    reindex(samples, pixels * 3, |i| (i % 3) * pixels + i / 3)
}

/// Native YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair) to full YBR (Y Cb Cr per pixel).
fn upsample_422(samples: FrameSamples, pixels: usize) -> FrameSamples {
    reindex(samples, pixels * 3, |i| {
        let (p, c) = (i / 3, i % 3);
        let g = 4 * (p / 2);
        if c == 0 { g + p % 2 } else { g + 1 + c }
    })
}
