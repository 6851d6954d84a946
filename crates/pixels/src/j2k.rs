//! JPEG 2000 (.4.90 lossless, .4.91) and High-Throughput JPEG 2000 (.4.201,
//! .4.202, .4.203) through the pure-Rust `openjp2` port (via `jpeg2k`), in
//! strict mode so a truncated stream is an error rather than a blurred image.
//! The SIZ header is checked against the description before any decoding so
//! a lying header cannot make the decoder allocate more than the description allows.
//!
//! Signed samples in reversible streams: some encoders (OpenJPH 0.9's raw/YUV
//! reader, for one: it reads 16-bit samples as `u16` whatever `-signed` says)
//! code the two's-complement *bit pattern* of signed samples in a component
//! whose SIZ says "signed, P bits" without a DC level shift, so -990 is coded
//! as 64546. A conforming decoder (OpenJPEG, openjp2) clips that to
//! 2^(P-1) - 1; OpenJPH's own decoder hides it by truncating to 16 bits on
//! output. A reversible (5/3) stream in a lossless-only transfer syntax (.90,
//! .201, .202) cannot legitimately hold a sample outside its declared range
//! (a rate-truncated 5/3 stream in .91 can overshoot it a little), and its precision enters decoding only through that
//! final clip (the bit-plane count comes from QCD), so for reversible streams
//! we widen each signed component's SIZ precision by one bit in a copy of the
//! header, and the usual masking to Bits Stored with sign extension (as for
//! an unsigned codestream with Pixel Representation 1) recovers the samples
//! exactly. In-range samples of conforming streams are unchanged. Lossy
//! syntaxes and irreversible (9/7) streams are left alone (for 9/7 the
//! precision also sets the quantiser step).

use jpeg2k::{DecodeParameters, Image};

use crate::frame::SampleLayout;
use crate::{Frame, ImageDescription, PixelError};

const CODEC: &str = "JPEG 2000";

fn corrupt(message: impl Into<String>) -> PixelError {
    PixelError::Codec {
        codec: CODEC,
        message: message.into(),
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

/// Image size and components from the SIZ marker segment.
#[derive(Debug)]
struct Siz {
    width: u32,
    height: u32,
    components: u16,
    /// Per component: (signed, precision, dx, dy).
    comps: Vec<(bool, u8, u8, u8)>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Find the codestream (inside a JP2 wrapper if there is one).
fn codestream(data: &[u8]) -> Result<&[u8], PixelError> {
    if data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Ok(data);
    }
    // JP2 boxes: length (4, big endian), type (4). Length 1: 8-byte length follows; 0: to the end.
    let mut i = 0usize;
    while i + 8 <= data.len() {
        let len32 = be32(data, i).unwrap_or(0) as usize;
        let kind = &data[i + 4..i + 8];
        let (header, len) = match len32 {
            0 => (8, data.len() - i),
            1 => {
                let hi = be32(data, i + 8).unwrap_or(u32::MAX) as usize;
                let lo = be32(data, i + 12).unwrap_or(0) as usize;
                (16, hi.checked_shl(32).unwrap_or(usize::MAX) | lo)
            }
            n => (8, n),
        };
        if len < header || i.saturating_add(len) > data.len() {
            break;
        }
        if kind == b"jp2c" {
            return Ok(&data[i + header..i + len]);
        }
        i += len;
    }
    Err(corrupt(
        "neither a J2K codestream nor a JP2 file with a codestream box",
    ))
}

/// Offset of component `c`'s Ssiz byte from the start of the codestream.
fn ssiz_offset(c: usize) -> usize {
    6 + 36 + 3 * c
}

/// True when the main header's COD selects the reversible 5/3 wavelet.
fn is_reversible(cs: &[u8]) -> bool {
    // Marker segments after SIZ, up to the first tile-part (SOT, FF90).
    let mut i = 4 + usize::from(u16::from_be_bytes([cs[4], cs[5]]));
    while i + 4 <= cs.len() && cs[i] == 0xFF {
        let marker = cs[i + 1];
        let len = usize::from(u16::from_be_bytes([cs[i + 2], cs[i + 3]]));
        if marker == 0x90 || len < 2 {
            break;
        }
        if marker == 0x52 {
            // COD: Lcod, Scod, SGcod (4), SPcod: levels, cb w, cb h, style, transform.
            return cs.get(i + 4 + 1 + 4 + 4).is_some_and(|&t| t == 1);
        }
        i += 2 + len;
    }
    false
}

fn read_siz(cs: &[u8]) -> Result<Siz, PixelError> {
    // SOC (FF4F), SIZ (FF51) must be the first two markers.
    if !cs.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) || cs.len() < 6 + 38 {
        return Err(corrupt("codestream does not start with SOC and SIZ"));
    }
    let s = &cs[6..];
    let field = |at: usize| be32(s, at).ok_or_else(|| corrupt("truncated SIZ"));
    let (xsiz, ysiz, xo, yo) = (field(2)?, field(6)?, field(10)?, field(14)?);
    let components = u16::from_be_bytes([s[34], s[35]]);
    let mut comps = Vec::with_capacity(usize::from(components));
    for c in 0..usize::from(components) {
        let at = 36 + 3 * c;
        let b = s
            .get(at..at + 3)
            .ok_or_else(|| corrupt("truncated SIZ component list"))?;
        comps.push((b[0] & 0x80 != 0, (b[0] & 0x7F) + 1, b[1], b[2]));
    }
    Ok(Siz {
        width: xsiz.saturating_sub(xo),
        height: ysiz.saturating_sub(yo),
        components,
        comps,
    })
}

/// `lossless`: the transfer syntax is a lossless-only one (see the module docs).
pub(crate) fn decode(
    desc: &ImageDescription,
    data: &[u8],
    lossless: bool,
) -> Result<Frame, PixelError> {
    let layout = SampleLayout::of(desc)?;
    if desc.float_pixels || !matches!(desc.bits_allocated, 8 | 16 | 32) {
        return Err(PixelError::UnsupportedLayout {
            reason: format!("JPEG 2000 with {} bits allocated", desc.bits_allocated),
        });
    }
    let siz = read_siz(codestream(data)?)?;
    if siz.width != u32::from(desc.columns) {
        return Err(mismatch("columns", desc.columns, siz.width));
    }
    if siz.height != u32::from(desc.rows) {
        return Err(mismatch("rows", desc.rows, siz.height));
    }
    if siz.components != desc.samples_per_pixel {
        return Err(mismatch(
            "samples per pixel",
            desc.samples_per_pixel,
            siz.components,
        ));
    }
    for &(_, precision, dx, dy) in &siz.comps {
        if dx != 1 || dy != 1 {
            return Err(PixelError::UnsupportedLayout {
                reason: format!("JPEG 2000 component subsampling {dx}x{dy}"),
            });
        }
        if u16::from(precision) > desc.bits_allocated {
            return Err(mismatch(
                "component precision",
                desc.bits_allocated,
                precision,
            ));
        }
    }

    // See the module docs: widen signed components of reversible streams by a bit.
    let cs = codestream(data)?;
    let widen = lossless
        && is_reversible(cs)
        && siz
            .comps
            .iter()
            .any(|&(signed, precision, _, _)| signed && precision < 31);
    let patched;
    let data = if widen {
        let start = cs.as_ptr() as usize - data.as_ptr() as usize;
        let mut copy = data.to_vec();
        for (c, &(signed, precision, _, _)) in siz.comps.iter().enumerate() {
            if signed && precision < 31 {
                // Ssiz holds precision - 1 in its low 7 bits.
                copy[start + ssiz_offset(c)] = 0x80 | precision;
            }
        }
        patched = copy;
        &patched[..]
    } else {
        data
    };

    let params = DecodeParameters::new().strict(true);
    let image = crate::guard(CODEC, || Image::from_bytes_with(data, params))?
        .map_err(|e| corrupt(e.to_string()))?;
    let components = image.components();
    let spp = usize::from(desc.samples_per_pixel);
    let pixels = desc.pixels_per_frame();
    if components.len() != spp {
        return Err(mismatch("decoded components", spp, components.len()));
    }
    for c in components {
        if c.data().len() != pixels {
            return Err(mismatch("decoded component size", pixels, c.data().len()));
        }
    }
    // Values are already sign-aware i32; their two's complement bits go through the
    // common masking so Bits Stored and Pixel Representation rule the result.
    let samples = if spp == 1 {
        layout.samples_from_i32(components[0].data())
    } else {
        let raw = (0..pixels * spp).map(|i| components[i % spp].data()[i / spp] as u32);
        layout.samples_from_raw(raw)
    };
    let photometric = match desc.photometric.as_str() {
        // The decoder undoes the reversible/irreversible component transform.
        "YBR_RCT" | "YBR_ICT" => "RGB".to_owned(),
        other => other.to_owned(),
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
