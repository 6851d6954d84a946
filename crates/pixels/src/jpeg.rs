//! JPEG (ITU-T T.81) transfer syntaxes: Baseline (.4.50), Extended (.4.51),
//! Lossless (.4.57) and Lossless SV1 (.4.70). 8-bit DCT and all lossless
//! precisions go through `jpeg-decoder`; 12-bit DCT, which that crate lacks,
//! goes through [`crate::jpeg12`]. The colour transform is chosen from the
//! DICOM photometric interpretation (as dcmtk does), not guessed from the
//! stream, so RGB-coded streams keep their colours.

use jpeg_decoder::{ColorTransform, Decoder};

use crate::frame::{SampleKind, SampleLayout};
use crate::{Frame, FrameSamples, ImageDescription, PixelError};

pub(crate) const CODEC: &str = "JPEG";

/// What the marker segments before the first scan say about the stream.
#[derive(Debug, Clone)]
pub(crate) struct StreamInfo {
    /// SOF marker code (0xC0..=0xCF).
    pub sof: u8,
    pub precision: u8,
    pub height: u16,
    pub width: u16,
    pub components: u8,
    pub jfif: bool,
    /// Adobe APP14 transform flag, when present.
    pub adobe_transform: Option<u8>,
}

impl StreamInfo {
    pub fn is_lossless(&self) -> bool {
        self.sof == 0xC3
    }
}

fn corrupt(message: impl Into<String>) -> PixelError {
    PixelError::Codec {
        codec: CODEC,
        message: message.into(),
    }
}

/// Read the marker segments up to the frame header.
pub(crate) fn read_stream_info(data: &[u8]) -> Result<StreamInfo, PixelError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(corrupt("stream does not start with an SOI marker"));
    }
    let mut jfif = false;
    let mut adobe_transform = None;
    let mut i = 2;
    loop {
        // Skip to the next marker (fill bytes 0xFF allowed).
        while i < data.len() && data[i] != 0xFF {
            i += 1;
        }
        while i < data.len() && data[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = data.get(i) else {
            return Err(corrupt("no frame header (SOF) found"));
        };
        i += 1;
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err(corrupt("scan or end of image before the frame header"));
        }
        let len = match data.get(i..i + 2) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => return Err(corrupt("truncated marker segment")),
        };
        if len < 2 || i + len > data.len() {
            return Err(corrupt("marker segment length exceeds the data"));
        }
        let body = &data[i + 2..i + len];
        match marker {
            0xE0 if body.starts_with(b"JFIF\0") => jfif = true,
            0xEE if body.starts_with(b"Adobe") && body.len() >= 12 => {
                adobe_transform = Some(body[11]);
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if body.len() < 6 {
                    return Err(corrupt("frame header too short"));
                }
                return Ok(StreamInfo {
                    sof: marker,
                    precision: body[0],
                    height: u16::from_be_bytes([body[1], body[2]]),
                    width: u16::from_be_bytes([body[3], body[4]]),
                    components: body[5],
                    jfif,
                    adobe_transform,
                });
            }
            _ => {}
        }
        i += len;
    }
}

fn mismatch(what: &'static str, expected: impl ToString, found: impl ToString) -> PixelError {
    PixelError::Mismatch {
        codec: CODEC,
        what,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Check the stream's frame header against the description.
pub(crate) fn check_header(info: &StreamInfo, desc: &ImageDescription) -> Result<(), PixelError> {
    if info.width != desc.columns {
        return Err(mismatch("columns", desc.columns, info.width));
    }
    if info.height != desc.rows {
        return Err(mismatch("rows", desc.rows, info.height));
    }
    if u16::from(info.components) != desc.samples_per_pixel {
        return Err(mismatch(
            "samples per pixel",
            desc.samples_per_pixel,
            info.components,
        ));
    }
    if desc.float_pixels || !matches!(desc.bits_allocated, 8 | 16) {
        return Err(PixelError::UnsupportedLayout {
            reason: format!("JPEG with {} bits allocated", desc.bits_allocated),
        });
    }
    if usize::from(info.precision) > usize::from(desc.bits_allocated) {
        return Err(mismatch(
            "sample precision",
            desc.bits_allocated,
            info.precision,
        ));
    }
    Ok(())
}

/// Whether a 3-component DCT stream should be converted from YCbCr to RGB.
fn is_ycbcr_coded(info: &StreamInfo, photometric: &str) -> bool {
    match photometric {
        "RGB" => info.jfif || info.adobe_transform == Some(1),
        _ => info.adobe_transform != Some(0),
    }
}

/// Photometric interpretation of what the decoder produced.
pub(crate) fn decoded_photometric(info: &StreamInfo, desc: &ImageDescription) -> String {
    if desc.samples_per_pixel == 3 && !info.is_lossless() && is_ycbcr_coded(info, &desc.photometric)
    {
        "RGB".to_owned()
    } else if desc.photometric == "YBR_FULL_422" {
        // Lossless streams are never subsampled by DICOM writers: full YBR.
        "YBR_FULL".to_owned()
    } else {
        desc.photometric.clone()
    }
}

pub(crate) fn decode(desc: &ImageDescription, data: &[u8]) -> Result<Frame, PixelError> {
    let layout = SampleLayout::of(desc)?;
    let info = read_stream_info(data)?;
    check_header(&info, desc)?;
    let least = min_stream_len(&info);
    if data.len() < least {
        return Err(corrupt(format!(
            "{} bytes cannot code a {}x{} frame (at least {least}): truncated",
            data.len(),
            info.width,
            info.height
        )));
    }
    let photometric = decoded_photometric(&info, desc);
    let ycc = desc.samples_per_pixel == 3
        && !info.is_lossless()
        && is_ycbcr_coded(&info, &desc.photometric);

    let raw: Decoded = match info.sof {
        // Baseline, extended sequential and lossless, Huffman coded.
        0xC0 | 0xC1 | 0xC3 => {
            if info.precision == 12 && !info.is_lossless() {
                Decoded::Wide(crate::jpeg12::decode(data, desc, ycc)?)
            } else if info.precision > 8 && !info.is_lossless() {
                return Err(corrupt(format!("{}-bit DCT", info.precision)));
            } else {
                decode_with_jpeg_decoder(data, &info, desc, ycc)?
            }
        }
        0xC2 => {
            if info.precision != 8 {
                return Err(corrupt(format!("{}-bit progressive DCT", info.precision)));
            }
            decode_with_jpeg_decoder(data, &info, desc, ycc)?
        }
        other => {
            let what = match other {
                0xC9..=0xCB => "arithmetic coding",
                0xC5..=0xC7 | 0xCD..=0xCF => "hierarchical coding",
                _ => "an unknown frame type",
            };
            return Err(corrupt(format!(
                "{what} (SOF marker 0x{other:02X}) is not supported"
            )));
        }
    };
    let expected = desc.samples_per_frame();
    if raw.len() != expected {
        return Err(mismatch("decoded samples", expected, raw.len()));
    }
    let samples = match raw {
        // The common cases (8-bit baseline, 16-bit lossless) without a
        // per-sample pass through 32-bit values.
        Decoded::Bytes(b) if layout.kind == SampleKind::U8 && layout.plain() => FrameSamples::U8(b),
        Decoded::Words(w) if layout.kind == SampleKind::U16 && layout.plain() => {
            FrameSamples::U16(w)
        }
        Decoded::Words(w) if layout.kind == SampleKind::I16 && layout.shift == 0 => {
            let up = 16 - layout.bits_stored;
            FrameSamples::I16(w.into_iter().map(|v| ((v << up) as i16) >> up).collect())
        }
        Decoded::Bytes(b) => layout.samples_from_raw(b.into_iter().map(u32::from)),
        Decoded::Words(w) => layout.samples_from_raw(w.into_iter().map(u32::from)),
        Decoded::Wide(w) => layout.samples_from_raw(w.into_iter()),
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

/// A decoder's output, in the width it came in.
enum Decoded {
    /// 8-bit samples.
    Bytes(Vec<u8>),
    /// 9- to 16-bit samples.
    Words(Vec<u16>),
    /// Samples already widened (the 12-bit DCT decoder).
    Wide(Vec<u32>),
}

impl Decoded {
    fn len(&self) -> usize {
        match self {
            Decoded::Bytes(v) => v.len(),
            Decoded::Words(v) => v.len(),
            Decoded::Wide(v) => v.len(),
        }
    }
}

/// A lower bound on the bytes a whole frame of this size is coded in.
/// Huffman codes are at least one bit long, so each lossless sample costs at
/// least a bit, and each 8×8 block at least one (its DC difference; two in a
/// sequential scan). The bound assumes the sparsest stream: only one
/// component, subsampled 4×4 (a sample per 16 pixels, a block per 32×32).
///
/// Shorter streams are truncated, and the decoders would zero-fill them to
/// whatever size the header claims: 240 bytes made a 16384×16384 frame
/// (2 GB of memory, 12 s of CPU) before this check.
fn min_stream_len(info: &StreamInfo) -> usize {
    let pixels = usize::from(info.width) * usize::from(info.height);
    let pixels_per_bit = if info.is_lossless() { 16 } else { 32 * 32 };
    pixels / pixels_per_bit / 8
}

fn decode_with_jpeg_decoder(
    data: &[u8],
    info: &StreamInfo,
    desc: &ImageDescription,
    to_rgb: bool,
) -> Result<Decoded, PixelError> {
    let mut decoder = Decoder::new(data);
    // The description bounds the output; anything larger is a corrupt stream.
    decoder.set_max_decoding_buffer_size(desc.samples_per_frame().saturating_mul(2).max(1024));
    if desc.samples_per_pixel == 3 && !info.is_lossless() {
        // `ColorTransform::RGB` interleaves the planes unchanged; jpeg-decoder's
        // `None` leaves each line planar, which is the wrong-colours defect.
        decoder.set_color_transform(if to_rgb {
            ColorTransform::YCbCr
        } else {
            ColorTransform::RGB
        });
    }
    let bytes =
        crate::guard(CODEC, move || decoder.decode())?.map_err(|e| corrupt(e.to_string()))?;
    Ok(if info.precision > 8 {
        // jpeg-decoder returns native-endian 16-bit samples above 8 bits.
        Decoded::Words(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                .collect(),
        )
    } else {
        Decoded::Bytes(bytes)
    })
}
