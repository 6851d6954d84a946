//! Decoded frames ([`Frame`], [`FrameSamples`]) and the one place where raw
//! stored bits become sample values: masking to Bits Stored, honouring High
//! Bit, and sign extension for Pixel Representation 1.

use crate::{ImageDescription, PixelError};

/// Decoded samples of one frame, interleaved for colour (R G B R G B …).
#[derive(Debug, Clone, PartialEq)]
pub enum FrameSamples {
    /// Unsigned, 1 to 8 bits (1-bit data is unpacked to 0/1).
    U8(Vec<u8>),
    /// Unsigned, 9 to 16 bits.
    U16(Vec<u16>),
    /// Signed, up to 16 bits (also signed 8-bit data).
    I16(Vec<i16>),
    /// Unsigned, 17 to 32 bits.
    U32(Vec<u32>),
    /// Signed, 17 to 32 bits.
    I32(Vec<i32>),
    /// Float Pixel Data.
    F32(Vec<f32>),
    /// Double Float Pixel Data.
    F64(Vec<f64>),
}

impl FrameSamples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            FrameSamples::U8(v) => v.len(),
            FrameSamples::U16(v) => v.len(),
            FrameSamples::I16(v) => v.len(),
            FrameSamples::U32(v) => v.len(),
            FrameSamples::I32(v) => v.len(),
            FrameSamples::F32(v) => v.len(),
            FrameSamples::F64(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` as f64 (for rendering and statistics).
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        Some(match self {
            FrameSamples::U8(v) => f64::from(*v.get(i)?),
            FrameSamples::U16(v) => f64::from(*v.get(i)?),
            FrameSamples::I16(v) => f64::from(*v.get(i)?),
            FrameSamples::U32(v) => f64::from(*v.get(i)?),
            FrameSamples::I32(v) => f64::from(*v.get(i)?),
            FrameSamples::F32(v) => f64::from(*v.get(i)?),
            FrameSamples::F64(v) => *v.get(i)?,
        })
    }

    /// All samples as f64, in order.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            FrameSamples::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::U32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FrameSamples::F64(v) => v.clone(),
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub columns: u16,
    /// 3 for colour, always interleaved (planar 0) after decoding.
    pub samples_per_pixel: u16,
    /// Photometric interpretation of the decoded samples (e.g. "RGB" after a
    /// JPEG YBR decode, or "MONOCHROME2").
    pub photometric: String,
    /// Significant bits of each sample.
    pub bits_stored: u16,
    /// Masked to bits_stored and sign-extended when pixel_representation = 1.
    pub samples: FrameSamples,
}

impl Frame {
    /// The frame as it would be stored natively in Explicit VR Little Endian
    /// (1.2.840.10008.1.2.1): little-endian, bits_allocated of the ORIGINAL
    /// description, colour interleaved (so Planar Configuration 0, and the
    /// photometric interpretation is [`Frame::photometric`]). 1-bit data is
    /// packed least significant bit first; an odd total length is not padded.
    pub fn to_native_le_bytes(&self, desc: &ImageDescription) -> Vec<u8> {
        let shift = u32::from(desc.high_bit + 1).saturating_sub(u32::from(desc.bits_stored));
        let width = usize::from(desc.bits_allocated.max(1)).div_ceil(8);
        if desc.bits_allocated == 1 {
            let mut out = vec![0u8; self.samples.len().div_ceil(8)];
            for i in 0..self.samples.len() {
                if self.samples.get_f64(i).unwrap_or(0.0) != 0.0 {
                    out[i / 8] |= 1 << (i % 8);
                }
            }
            return out;
        }
        let mut out = Vec::with_capacity(self.samples.len() * width);
        match &self.samples {
            FrameSamples::F32(v) => {
                if width == 8 {
                    v.iter()
                        .for_each(|x| out.extend_from_slice(&f64::from(*x).to_le_bytes()));
                } else {
                    v.iter()
                        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                }
            }
            FrameSamples::F64(v) => {
                if width == 4 {
                    v.iter()
                        .for_each(|x| out.extend_from_slice(&(*x as f32).to_le_bytes()));
                } else {
                    v.iter()
                        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                }
            }
            FrameSamples::U8(v) => {
                push_ints(&mut out, v.iter().map(|&x| i64::from(x)), width, shift)
            }
            FrameSamples::U16(v) => {
                push_ints(&mut out, v.iter().map(|&x| i64::from(x)), width, shift)
            }
            FrameSamples::I16(v) => {
                push_ints(&mut out, v.iter().map(|&x| i64::from(x)), width, shift)
            }
            FrameSamples::U32(v) => {
                push_ints(&mut out, v.iter().map(|&x| i64::from(x)), width, shift)
            }
            FrameSamples::I32(v) => {
                push_ints(&mut out, v.iter().map(|&x| i64::from(x)), width, shift)
            }
        }
        out
    }
}

fn push_ints(out: &mut Vec<u8>, values: impl Iterator<Item = i64>, width: usize, shift: u32) {
    for v in values {
        // Two's complement truncation keeps signed values sign-extended to the full width.
        let bytes = (v << shift).to_le_bytes();
        out.extend_from_slice(&bytes[..width.min(8)]);
    }
}

/// Which [`FrameSamples`] variant a description decodes to, and how stored bits become values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SampleLayout {
    pub kind: SampleKind,
    pub bits_stored: u32,
    /// Bit position of the lowest stored bit (High Bit + 1 - Bits Stored).
    pub shift: u32,
    pub signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleKind {
    U8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl SampleLayout {
    pub fn of(desc: &ImageDescription) -> Result<Self, PixelError> {
        desc.validate()?;
        let signed = desc.pixel_representation == 1;
        let kind = match (desc.float_pixels, desc.bits_allocated, signed) {
            (true, 32, _) => SampleKind::F32,
            (true, 64, _) => SampleKind::F64,
            (false, 1 | 8, false) => SampleKind::U8,
            (false, 1 | 8, true) => SampleKind::I16,
            (false, 16, false) => SampleKind::U16,
            (false, 16, true) => SampleKind::I16,
            (false, 32, false) => SampleKind::U32,
            (false, 32, true) => SampleKind::I32,
            (_, bits, _) => {
                return Err(PixelError::UnsupportedLayout {
                    reason: format!("{bits} bits allocated"),
                });
            }
        };
        let bits_stored = u32::from(desc.bits_stored.max(1));
        Ok(SampleLayout {
            kind,
            bits_stored,
            shift: u32::from(desc.high_bit + 1).saturating_sub(bits_stored),
            signed,
        })
    }

    /// True when the stored bits fill the allocated width from bit 0 (no
    /// shift, no mask), for 8- and 16-bit samples.
    pub fn plain(&self) -> bool {
        self.shift == 0
            && match self.kind {
                SampleKind::U8 => self.bits_stored == 8,
                SampleKind::U16 | SampleKind::I16 => self.bits_stored == 16,
                _ => false,
            }
    }

    /// Stored bits (already in host order, before masking) to a sample value.
    #[inline]
    pub fn value(&self, raw: u32) -> i64 {
        let v = u64::from(raw >> self.shift.min(31)) & ((1u64 << self.bits_stored) - 1);
        if self.signed && (v >> (self.bits_stored - 1)) & 1 == 1 {
            v as i64 - (1i64 << self.bits_stored)
        } else {
            v as i64
        }
    }

    /// Typed samples from decoder output already in `i32` (JPEG 2000): the same
    /// result as [`SampleLayout::samples_from_raw`] of the two's-complement bits,
    /// with branch-free loops for 8- and 16-bit samples stored from bit 0.
    pub fn samples_from_i32(&self, data: &[i32]) -> FrameSamples {
        if self.shift == 0 && self.bits_stored <= 16 {
            let up = 32 - self.bits_stored;
            let mask = (1u32 << self.bits_stored) - 1;
            match self.kind {
                SampleKind::U8 => {
                    return FrameSamples::U8(
                        data.iter().map(|&v| (v as u32 & mask) as u8).collect(),
                    );
                }
                SampleKind::U16 => {
                    return FrameSamples::U16(
                        data.iter().map(|&v| (v as u32 & mask) as u16).collect(),
                    );
                }
                SampleKind::I16 => {
                    return FrameSamples::I16(
                        data.iter()
                            .map(|&v| (((v as u32) << up) as i32 >> up) as i16)
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        self.samples_from_raw(data.iter().map(|&v| v as u32))
    }

    /// Build typed samples from stored bit patterns (one `u32` per sample).
    pub fn samples_from_raw(&self, raw: impl Iterator<Item = u32>) -> FrameSamples {
        match self.kind {
            SampleKind::U8 => FrameSamples::U8(raw.map(|r| self.value(r) as u8).collect()),
            SampleKind::U16 => FrameSamples::U16(raw.map(|r| self.value(r) as u16).collect()),
            SampleKind::I16 => FrameSamples::I16(raw.map(|r| self.value(r) as i16).collect()),
            SampleKind::U32 => FrameSamples::U32(raw.map(|r| self.value(r) as u32).collect()),
            SampleKind::I32 => FrameSamples::I32(raw.map(|r| self.value(r) as i32).collect()),
            // Floats never come through here; keep the bit pattern meaningfully.
            SampleKind::F32 => FrameSamples::F32(raw.map(f32::from_bits).collect()),
            SampleKind::F64 => {
                FrameSamples::F64(raw.map(|r| f64::from(f32::from_bits(r))).collect())
            }
        }
    }
}
