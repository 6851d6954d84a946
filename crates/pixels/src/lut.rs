//! The greyscale display pipeline beyond Rescale Slope/Intercept and a linear
//! window (PS3.3 C.11): Modality LUT Sequence, VOI LUT Function (LINEAR,
//! LINEAR_EXACT, SIGMOID), VOI LUT Sequence and Presentation LUT Shape, read
//! once per instance into a [`GreyscalePipeline`]; and the expansion of
//! Segmented Palette Color LUT Data (C.7.9.2) into plain tables.
//!
//! These live beside [`ImageDescription`](crate::ImageDescription) rather than
//! in it so that descriptions built field by field (the viewer's worker, from
//! the metadata it already has) stay valid; [`render_8bit`](crate::render_8bit)
//! uses the default pipeline (rescale, linear window, MONOCHROME1 inverted).

use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::{PixelError, VoiWindow};

/// A lookup table (Modality LUT or VOI LUT item): LUT Descriptor and LUT Data.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    /// First input value mapped (second value of LUT Descriptor).
    pub first_mapped: i32,
    /// Bits per entry (third value of LUT Descriptor): outputs are 0 ..= 2^bits - 1.
    pub bits: u16,
    /// The entries (at least one).
    pub entries: Vec<u16>,
    /// LUT Explanation (0028,3003), empty when absent.
    pub explanation: String,
}

impl Lut {
    /// The entry for input `x`: inputs below the first mapped value give the
    /// first entry, inputs past the end the last (PS3.3 C.11.1.1.1).
    pub fn lookup(&self, x: f64) -> u16 {
        let last = self.entries.len().saturating_sub(1);
        let i = (x.floor() - f64::from(self.first_mapped)).clamp(0.0, last as f64);
        self.entries.get(i as usize).copied().unwrap_or(0)
    }

    /// Largest output value the descriptor allows.
    pub fn max_output(&self) -> f64 {
        f64::from((1u32 << self.bits.min(16)) - 1).max(1.0)
    }
}

/// VOI LUT Function (0028,1056), applied with a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiFunction {
    /// PS3.3 C.11.2.1.2.1 (the default).
    #[default]
    Linear,
    /// C.11.2.1.3.2: no half-unit offsets; widths below 1 allowed.
    LinearExact,
    /// C.11.2.1.3.1: 1 / (1 + exp(-4 (x - c) / w)).
    Sigmoid,
}

/// Presentation LUT Shape (2050,0020).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentationLutShape {
    /// Output is the VOI output.
    Identity,
    /// Output is inverted (minimum VOI output is white).
    Inverse,
}

/// Which VOI transform to apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Voi {
    /// A window, with the pipeline's [`VoiFunction`].
    Window(VoiWindow),
    /// Item `i` of the VOI LUT Sequence.
    Lut(usize),
}

/// The greyscale transforms of an instance other than rescale and windows
/// (which are in [`ImageDescription`](crate::ImageDescription)).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GreyscalePipeline {
    /// Modality LUT Sequence (0028,3000), first item; replaces rescale when present.
    pub modality_lut: Option<Lut>,
    /// VOI LUT Function (0028,1056), for the windows.
    pub voi_function: VoiFunction,
    /// VOI LUT Sequence (0028,3010) items, in file order (explanations in each).
    pub voi_luts: Vec<Lut>,
    /// Presentation LUT Shape (2050,0020), when given. Absent, MONOCHROME1 is inverted.
    pub presentation_lut_shape: Option<PresentationLutShape>,
}

impl GreyscalePipeline {
    /// Read from a data set. Unknown VOI LUT Function values fall back to
    /// LINEAR; a LUT whose descriptor and data disagree is an error.
    pub fn from_object(obj: &InMemDicomObject) -> Result<Self, PixelError> {
        let signed = obj
            .get(tags::PIXEL_REPRESENTATION)
            .and_then(|e| e.to_int::<u16>().ok())
            == Some(1);
        let text = |tag| {
            obj.get(tag)
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_matches([' ', '\0']).to_ascii_uppercase())
        };
        let voi_function = match text(tags::VOILUT_FUNCTION).as_deref() {
            Some("LINEAR_EXACT") => VoiFunction::LinearExact,
            Some("SIGMOID") => VoiFunction::Sigmoid,
            _ => VoiFunction::Linear,
        };
        let presentation_lut_shape = match text(tags::PRESENTATION_LUT_SHAPE).as_deref() {
            Some("INVERSE") => Some(PresentationLutShape::Inverse),
            Some("IDENTITY") => Some(PresentationLutShape::Identity),
            _ => None,
        };
        let items = |seq| {
            obj.get(seq)
                .and_then(|e| e.items())
                .map(|items| items.iter().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let modality_lut = match items(tags::MODALITY_LUT_SEQUENCE).first() {
            Some(item) => Some(read_lut(item, signed, "ModalityLUTSequence")?),
            None => None,
        };
        let voi_luts = items(tags::VOILUT_SEQUENCE)
            .into_iter()
            .map(|item| read_lut(item, signed, "VOILUTSequence"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GreyscalePipeline {
            modality_lut,
            voi_function,
            voi_luts,
            presentation_lut_shape,
        })
    }

    /// Whether the display is inverted: Presentation LUT Shape when given,
    /// else MONOCHROME1.
    pub fn inverts(&self, photometric: &str) -> bool {
        match self.presentation_lut_shape {
            Some(shape) => shape == PresentationLutShape::Inverse,
            None => photometric == "MONOCHROME1",
        }
    }
}

fn invalid(keyword: &'static str, value: impl Into<String>) -> PixelError {
    PixelError::InvalidAttribute {
        keyword,
        value: value.into(),
    }
}

/// LUT Descriptor: (entries, first mapped, bits). The first mapped value is
/// US or SS depending on Pixel Representation, so a US reading above 32767
/// of a signed image's descriptor is negative.
pub(crate) fn descriptor(values: &[i32], signed: bool) -> Option<(usize, i32, u16)> {
    let [count, first, bits] = values else {
        return None;
    };
    let count = match *count {
        0 => 65536,
        n if n < 0 => usize::from(n as u16),
        n => usize::try_from(n).ok()?,
    };
    let first = if signed && (32768..=65535).contains(first) {
        first - 65536
    } else {
        *first
    };
    let bits = u16::try_from(*bits).ok().filter(|b| (1..=16).contains(b))?;
    Some((count, first, bits))
}

/// LUT data as 16-bit words, whatever way the parser kept the OW/US value.
pub(crate) fn lut_words(e: &InMemElement) -> Option<Vec<u16>> {
    match e.value() {
        Value::Primitive(PrimitiveValue::U16(v)) => Some(v.to_vec()),
        Value::Primitive(PrimitiveValue::I16(v)) => Some(v.iter().map(|&x| x as u16).collect()),
        Value::Primitive(PrimitiveValue::U8(v)) => Some(
            v.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        _ => None,
    }
}

/// `count` entries from LUT data words; 8-bit tables may pack two entries a word.
pub(crate) fn entries(words: &[u16], count: usize, bits: u16) -> Option<Vec<u16>> {
    if words.len() >= count {
        Some(words[..count].to_vec())
    } else if bits <= 8 && words.len() * 2 >= count {
        Some(
            words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(count)
                .map(u16::from)
                .collect(),
        )
    } else {
        None
    }
}

fn read_lut(
    item: &InMemDicomObject,
    signed: bool,
    keyword: &'static str,
) -> Result<Lut, PixelError> {
    let desc: Vec<i32> = item
        .get(tags::LUT_DESCRIPTOR)
        .ok_or(PixelError::MissingAttribute {
            keyword: "LUTDescriptor",
        })?
        .to_multi_int()
        .map_err(|_| invalid(keyword, "LUT Descriptor is not numeric"))?;
    let (count, first_mapped, bits) = descriptor(&desc, signed)
        .ok_or_else(|| invalid(keyword, format!("LUT Descriptor {desc:?}")))?;
    let words = item
        .get(tags::LUT_DATA)
        .and_then(lut_words)
        .ok_or(PixelError::MissingAttribute { keyword: "LUTData" })?;
    let entries = entries(&words, count, bits).ok_or_else(|| {
        invalid(
            keyword,
            format!("{} LUT Data words for {count} entries", words.len()),
        )
    })?;
    if entries.is_empty() {
        return Err(invalid(keyword, "empty LUT"));
    }
    let explanation = item
        .get(tags::LUT_EXPLANATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches([' ', '\0']).to_owned())
        .unwrap_or_default();
    Ok(Lut {
        first_mapped,
        bits,
        entries,
        explanation,
    })
}

/// Largest expanded segmented table (the descriptor cannot ask for more).
const MAX_SEGMENTED_ENTRIES: usize = 65536;

/// Expand Segmented Palette Color LUT Data (PS3.3 C.7.9.2): discrete (opcode
/// 0), linear (1) and indirect (2) segments. `data` are the table's entries
/// (16-bit words, or bytes of 8-bit tables). Linear segments round to the
/// nearest integer, ties to even (as pydicom's `np.around` does). The
/// indirect segment's 32-bit offset (least significant word first) locates
/// the first segment to copy counted in table entries from the start, as
/// pydicom reads it; it must point back to an earlier segment. `None` for a
/// malformed table.
pub(crate) fn expand_segmented(data: &[u16], bytes_per_entry: usize) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    // Segments visited in all, bounding the work nested indirect segments can ask for.
    let mut budget = 1usize << 20;
    expand_from(data, 0, None, bytes_per_entry, 0, &mut budget, &mut out)?;
    Some(out)
}

fn expand_from(
    data: &[u16],
    mut at: usize,
    max_segments: Option<usize>,
    bytes_per_entry: usize,
    depth: u8,
    budget: &mut usize,
    out: &mut Vec<u16>,
) -> Option<()> {
    let mut segments = 0usize;
    // `at + 1 <`: a trailing pad entry is not a segment.
    while at + 1 < data.len() && max_segments.is_none_or(|m| segments < m) {
        let (opcode, length) = (data[at], usize::from(data[at + 1]));
        at += 2;
        *budget = budget.checked_sub(1)?;
        if out.len() + length > MAX_SEGMENTED_ENTRIES {
            return None;
        }
        match opcode {
            0 => {
                out.extend_from_slice(data.get(at..at + length)?);
                at += length;
            }
            1 => {
                let y0 = f64::from(*out.last()?);
                let y1 = f64::from(*data.get(at)?);
                at += 1;
                let n = length as f64;
                out.extend((1..=length).map(|j| {
                    (y0 + (y1 - y0) * j as f64 / n)
                        .round_ties_even()
                        .clamp(0.0, 65535.0) as u16
                }));
            }
            2 => {
                // Each indirect segment may point at earlier segments; a bound on
                // nesting keeps a self-referencing table from looping.
                if out.is_empty() || depth >= 4 {
                    return None;
                }
                let offset = if bytes_per_entry == 1 {
                    // Four 8-bit entries, least significant pair first (as words).
                    let b = data.get(at..at + 4)?;
                    at += 4;
                    (u32::from(b[2]) | u32::from(b[3]) << 8) << 16
                        | u32::from(b[0])
                        | u32::from(b[1]) << 8
                } else {
                    let w = data.get(at..at + 2)?;
                    at += 2;
                    u32::from(w[0]) | u32::from(w[1]) << 16
                };
                let start = offset as usize;
                if start >= at {
                    return None;
                }
                expand_from(
                    data,
                    start,
                    Some(length),
                    bytes_per_entry,
                    depth + 1,
                    budget,
                    out,
                )?;
            }
            _ => return None,
        }
        segments += 1;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_by_hand() {
        // Discrete 2, linear 4 from 10 to 50, indirect copy of the first segment.
        let data = [0, 2, 0, 10, 1, 4, 50, 2, 1, 0, 0];
        let out = expand_segmented(&data, 2).expect("expands");
        assert_eq!(out, [0, 10, 20, 30, 40, 50, 0, 10]);
        // An indirect copy of the linear segment at entry 4, ramping from the
        // value before it; 27.5 rounds to even (pydicom's `_expand_segmented_lut`
        // gives the same: [0, 10, 30, 50, 5, 28, 50]).
        let data = [0, 2, 0, 10, 1, 2, 50, 0, 1, 5, 2, 1, 4, 0];
        let out = expand_segmented(&data, 2).expect("expands");
        assert_eq!(out, [0, 10, 30, 50, 5, 28, 50]);
    }

    #[test]
    fn malformed_segments_are_refused() {
        assert_eq!(expand_segmented(&[1, 4, 50], 2), None, "linear first");
        assert_eq!(expand_segmented(&[0, 5, 1, 2], 2), None, "short discrete");
        assert_eq!(expand_segmented(&[7, 1, 1], 2), None, "unknown opcode");
        // An indirect segment pointing at itself.
        assert_eq!(expand_segmented(&[0, 1, 5, 2, 1, 3, 0], 2), None);
    }

    #[test]
    fn random_tables_end_without_panic_or_runaway_output() {
        let mut seed = 0x2545_f491_u32;
        for n in 0..2000usize {
            let data: Vec<u16> = (0..n % 64)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Mostly small values, so opcodes 0..2 and short lengths are common.
                    let v = (seed >> 16) as u16;
                    if v.is_multiple_of(3) { v } else { v % 4 }
                })
                .collect();
            for width in [1, 2] {
                if let Some(out) = expand_segmented(&data, width) {
                    assert!(out.len() <= MAX_SEGMENTED_ENTRIES);
                }
            }
        }
    }
}
