//! JPEG-LS (ITU-T T.87 | ISO/IEC 14495-1) for the DICOM transfer syntaxes
//! 1.2.840.10008.1.2.4.80 (lossless) and .81 (near-lossless), written here in
//! pure Rust so it builds for wasm32 and is fast there: no per-sample
//! allocation, a 64-bit bit cache refilled eight bytes at a time where the
//! stream has no 0xFF and kept in registers (the slow paths take and return
//! it by value), Golomb codes read with one leading-zero count, the gradient
//! quantisation in a table per scan, a mask instead of the modulo reduction
//! for lossless streams with MAXVAL = 2^n - 1, and samples converted to
//! their final type line by line.
//!
//! Supported: 2 to 16 bits per sample, NEAR 0 to 255, regular and run mode,
//! one to three components (DICOM has no more) in interleave modes none
//! (one scan per component), line and sample, preset coding parameters
//! (LSE type 1: MAXVAL, T1, T2, T3, RESET; type 4: oversize dimensions),
//! restart markers (DRI). Not supported, each a [`PixelError::Codec`] naming
//! it: the HP colour transforms (APP8 "mrfx"), mapping tables (LSE types 2
//! and 3, scan table selector), subsampled components and point transforms.
//! Streams follow the standard; CharLS's own streams with a MAXVAL below
//! 2^P - 1 do not (it keeps the RANGE of 2^P) and decode wrongly here, as in
//! libjpeg.
//!
//! The codestream stores samples as unsigned P-bit values; the crate's
//! [`SampleLayout::value`] masks them to Bits Stored and sign-extends, as for
//! every other codec.

use crate::frame::{SampleKind, SampleLayout};
use crate::{Frame, FrameSamples, ImageDescription, PixelError};

const CODEC: &str = "JPEG-LS";

// Marker codes (second byte after 0xFF).
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DRI: u8 = 0xDD;
const RST0: u8 = 0xD0;
const SOF55: u8 = 0xF7;
const LSE: u8 = 0xF8;
const APP8: u8 = 0xE8;

/// Run-length order table `J[RUNindex]` (T.87 A.7.1.2).
const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// Largest Golomb parameter a valid stream can need (errors are below 2^17
/// after the range check, so A/N is too); larger means corrupt data.
const MAX_K: u32 = 24;

/// Entries of the gradient quantisation table, indexed by d mod 2^17 for d
/// in -MAXVAL..=MAXVAL (|d| < 2^16, so negative and positive d do not
/// collide): a power of two, so the hot loop needs neither an offset nor a
/// bounds check.
const QTABLE_LEN: usize = 1 << 17;

/// The quantised gradient Q(d) from [`quantization_table`].
#[inline(always)]
fn quantize(table: &[i8; QTABLE_LEN], d: i32) -> i32 {
    i32::from(table[d as usize & (QTABLE_LEN - 1)])
}

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

/// Decode one frame (one JPEG-LS codestream) described by `desc`.
pub(crate) fn decode(desc: &ImageDescription, data: &[u8]) -> Result<Frame, PixelError> {
    let layout = SampleLayout::of(desc)?;
    if desc.float_pixels || !matches!(desc.bits_allocated, 8 | 16) {
        return Err(PixelError::UnsupportedLayout {
            reason: format!("JPEG-LS with {} bits allocated", desc.bits_allocated),
        });
    }
    let samples = decode_codestream(data, desc, &layout)?;
    let photometric = if desc.photometric == "YBR_FULL_422" {
        // Writers that keep the 4:2:2 label store every sample (no subsampling in DICOM JPEG-LS).
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

/// Decoded samples in their final type, written a line at a time through
/// the crate's masking and sign extension ([`SampleLayout::value`]), so the
/// frame needs no second pass.
enum Output {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
}

impl Output {
    fn new(layout: &SampleLayout, len: usize) -> Result<Self, PixelError> {
        Ok(match layout.kind {
            SampleKind::U8 => Output::U8(vec![0; len]),
            SampleKind::U16 => Output::U16(vec![0; len]),
            SampleKind::I16 => Output::I16(vec![0; len]),
            other => {
                return Err(PixelError::UnsupportedLayout {
                    reason: format!("JPEG-LS into {other:?} samples"),
                });
            }
        })
    }

    /// Store one decoded line of one component: samples `start`, `start + spp`, ...
    fn put_line(&mut self, layout: &SampleLayout, start: usize, spp: usize, line: &[i32]) {
        match self {
            Output::U8(v) => put(v, start, spp, line, |s| layout.value(s as u32) as u8),
            Output::U16(v) => put(v, start, spp, line, |s| layout.value(s as u32) as u16),
            Output::I16(v) => put(v, start, spp, line, |s| layout.value(s as u32) as i16),
        }
    }

    fn into_samples(self) -> FrameSamples {
        match self {
            Output::U8(v) => FrameSamples::U8(v),
            Output::U16(v) => FrameSamples::U16(v),
            Output::I16(v) => FrameSamples::I16(v),
        }
    }
}

#[inline(always)]
fn put<T>(out: &mut [T], start: usize, spp: usize, line: &[i32], f: impl Fn(i32) -> T) {
    let Some(out) = out.get_mut(start..) else {
        return;
    };
    if spp == 1 {
        for (o, &s) in out.iter_mut().zip(line) {
            *o = f(s);
        }
    } else {
        for (o, &s) in out.iter_mut().step_by(spp).zip(line) {
            *o = f(s);
        }
    }
}

/// The frame header (SOF55).
#[derive(Debug, Clone)]
struct FrameHeader {
    precision: u32,
    width: usize,
    height: usize,
    component_ids: Vec<u8>,
}

/// Preset coding parameters as signalled (LSE type 1); 0 means "default".
#[derive(Debug, Clone, Copy, Default)]
struct Presets {
    maxval: u32,
    t1: u32,
    t2: u32,
    t3: u32,
    reset: u32,
}

/// Walk the marker segments, decode every scan into interleaved samples.
fn decode_codestream(
    data: &[u8],
    desc: &ImageDescription,
    layout: &SampleLayout,
) -> Result<FrameSamples, PixelError> {
    if data.len() < 2 || data[0] != 0xFF || data[1] != SOI {
        return Err(corrupt("stream does not start with an SOI marker"));
    }
    let spp = usize::from(desc.samples_per_pixel);
    let mut frame: Option<FrameHeader> = None;
    let mut presets = Presets::default();
    let mut restart_interval = 0usize;
    let mut out: Option<Output> = None;
    let mut decoded = [false; 4];
    let mut pos = 2;
    // Without EOI the loop ends with the data: accepted if every component was decoded.
    while let Some((marker, at)) = next_marker(data, pos) {
        pos = at;
        if marker == EOI {
            break;
        }
        if marker == SOI || (RST0..RST0 + 8).contains(&marker) {
            return Err(corrupt(format!(
                "unexpected marker 0xFF{marker:02X} between segments"
            )));
        }
        let body = segment_body(data, pos)?;
        let next = pos + 4 + body.len();
        match marker {
            SOF55 => {
                if frame.is_some() {
                    return Err(corrupt("more than one frame header"));
                }
                let mut header = parse_frame_header(body)?;
                if header.height == 0 && oversize_height(&mut header, data, next).is_none() {
                    return Err(corrupt("frame height 0 (DNL) is not supported"));
                }
                check_frame(&header, desc)?;
                out = Some(Output::new(layout, header.width * header.height * spp)?);
                frame = Some(header);
            }
            LSE => match body.first() {
                Some(1) => presets = parse_presets(body)?,
                Some(2 | 3) => {} // Mapping table: an error only if a scan selects one.
                Some(4) => {
                    let Some(header) = frame.as_mut() else {
                        return Err(corrupt("oversize-dimension LSE before the frame header"));
                    };
                    let (height, width) = parse_oversize(body)?;
                    header.height = height;
                    header.width = width;
                    check_frame(header, desc)?;
                    out = Some(Output::new(layout, header.width * header.height * spp)?);
                }
                Some(id) => return Err(corrupt(format!("unknown LSE segment type {id}"))),
                None => return Err(corrupt("empty LSE segment")),
            },
            DRI => {
                if body.len() < 2 || body.len() > 4 {
                    return Err(corrupt("bad DRI segment length"));
                }
                restart_interval = body
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            }
            APP8 if body.starts_with(b"mrfx") => {
                let transform = body.get(4).copied().unwrap_or(0);
                if transform != 0 {
                    return Err(corrupt(format!(
                        "HP colour transform {transform} (APP8 \"mrfx\") is not supported"
                    )));
                }
            }
            SOS => {
                let (Some(header), Some(out)) = (frame.as_ref(), out.as_mut()) else {
                    return Err(corrupt("scan before the frame header"));
                };
                let scan = parse_scan_header(body, header)?;
                for &c in &scan.components {
                    if decoded[c] {
                        return Err(corrupt(format!("component {c} coded twice")));
                    }
                    decoded[c] = true;
                }
                let coding = Coding::new(header.precision, presets, scan.near)?;
                let mut decoder = ScanDecoder::new(coding, header.width)?;
                pos = decoder.decode_scan(
                    data,
                    next,
                    header,
                    &scan,
                    restart_interval,
                    out,
                    layout,
                    spp,
                )?;
                continue;
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Err(corrupt(format!(
                    "frame type SOF 0x{marker:02X} is not JPEG-LS"
                )));
            }
            0xF9 => {
                return Err(corrupt("JPEG-LS part 2 (SOF57) is not supported"));
            }
            _ => {} // APPn, COM, DNL and others: nothing needed here.
        }
        pos = next;
    }
    let Some(header) = frame else {
        return Err(corrupt("no frame header (SOF55)"));
    };
    if let Some(c) = (0..header.component_ids.len()).find(|&c| !decoded[c]) {
        return Err(corrupt(format!("no scan for component {c}")));
    }
    out.map(Output::into_samples)
        .ok_or_else(|| corrupt("no frame header (SOF55)"))
}

/// With Y = 0 in the frame header the height comes from a following LSE type 4.
fn oversize_height(header: &mut FrameHeader, data: &[u8], from: usize) -> Option<()> {
    let (marker, at) = next_marker(data, from)?;
    if marker != LSE {
        return None;
    }
    let body = segment_body(data, at).ok()?;
    if body.first() != Some(&4) {
        return None;
    }
    let (height, width) = parse_oversize(body).ok()?;
    header.height = height;
    header.width = width;
    (height > 0).then_some(())
}

/// Find the marker at or after `from` (skipping fill 0xFF bytes): its code and
/// the position of its 0xFF.
fn next_marker(data: &[u8], from: usize) -> Option<(u8, usize)> {
    let mut i = from;
    loop {
        // Markers start with 0xFF followed by a byte >= 0x80; stuffed bytes in
        // entropy-coded data are < 0x80, and garbage before a marker is skipped.
        let off = data.get(i..)?.iter().position(|&b| b == 0xFF)?;
        i += off;
        let mut j = i + 1;
        while data.get(j) == Some(&0xFF) {
            j += 1;
        }
        match data.get(j) {
            Some(&code) if code >= 0x80 => return Some((code, j - 1)),
            Some(_) => i = j + 1,
            None => return None,
        }
    }
}

/// The body of the marker segment whose 0xFF is at `at` (after the length).
fn segment_body(data: &[u8], at: usize) -> Result<&[u8], PixelError> {
    let len = data
        .get(at + 2..at + 4)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| corrupt("truncated marker segment"))?;
    if len < 2 {
        return Err(corrupt("marker segment length below 2"));
    }
    data.get(at + 4..at + 2 + len)
        .ok_or_else(|| corrupt("marker segment length exceeds the data"))
}

fn be16(b: &[u8], at: usize) -> Result<u32, PixelError> {
    b.get(at..at + 2)
        .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
        .ok_or_else(|| corrupt("marker segment too short"))
}

fn parse_frame_header(body: &[u8]) -> Result<FrameHeader, PixelError> {
    if body.len() < 6 {
        return Err(corrupt("frame header too short"));
    }
    let precision = u32::from(body[0]);
    let height = be16(body, 1)? as usize;
    let width = be16(body, 3)? as usize;
    let count = usize::from(body[5]);
    if body.len() < 6 + 3 * count {
        return Err(corrupt("frame header shorter than its component list"));
    }
    if !(2..=16).contains(&precision) {
        return Err(corrupt(format!(
            "sample precision {precision} outside 2..=16"
        )));
    }
    let mut component_ids = Vec::with_capacity(count);
    for c in body[6..6 + 3 * count].chunks_exact(3) {
        if c[1] != 0x11 {
            return Err(corrupt(format!(
                "subsampled component (sampling factors 0x{:02X})",
                c[1]
            )));
        }
        if component_ids.contains(&c[0]) {
            return Err(corrupt(format!("component id {} repeated", c[0])));
        }
        component_ids.push(c[0]);
    }
    Ok(FrameHeader {
        precision,
        width,
        height,
        component_ids,
    })
}

/// Check the frame header against the description before anything is allocated.
fn check_frame(header: &FrameHeader, desc: &ImageDescription) -> Result<(), PixelError> {
    if header.width != usize::from(desc.columns) {
        return Err(mismatch("columns", desc.columns, header.width));
    }
    if header.height != usize::from(desc.rows) {
        return Err(mismatch("rows", desc.rows, header.height));
    }
    if header.component_ids.len() != usize::from(desc.samples_per_pixel) {
        return Err(mismatch(
            "samples per pixel",
            desc.samples_per_pixel,
            header.component_ids.len(),
        ));
    }
    if header.precision > u32::from(desc.bits_allocated) {
        return Err(mismatch(
            "sample precision",
            desc.bits_allocated,
            header.precision,
        ));
    }
    Ok(())
}

fn parse_presets(body: &[u8]) -> Result<Presets, PixelError> {
    if body.len() < 11 {
        return Err(corrupt("preset parameters (LSE type 1) too short"));
    }
    Ok(Presets {
        maxval: be16(body, 1)?,
        t1: be16(body, 3)?,
        t2: be16(body, 5)?,
        t3: be16(body, 7)?,
        reset: be16(body, 9)?,
    })
}

/// LSE type 4: Wxy, then height and width of Wxy bytes each.
fn parse_oversize(body: &[u8]) -> Result<(usize, usize), PixelError> {
    let wxy = usize::from(*body.get(1).ok_or_else(|| corrupt("LSE type 4 too short"))?);
    if !(2..=4).contains(&wxy) || body.len() < 2 + 2 * wxy {
        return Err(corrupt("bad LSE type 4 segment"));
    }
    let num = |s: &[u8]| s.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok((num(&body[2..2 + wxy]), num(&body[2 + wxy..2 + 2 * wxy])))
}

/// One scan header (SOS).
#[derive(Debug, Clone)]
struct ScanHeader {
    /// Frame component indices, in scan order.
    components: Vec<usize>,
    near: u32,
    interleave: u8,
}

fn parse_scan_header(body: &[u8], frame: &FrameHeader) -> Result<ScanHeader, PixelError> {
    let count = usize::from(*body.first().ok_or_else(|| corrupt("empty scan header"))?);
    if count == 0 || body.len() < 1 + 2 * count + 3 {
        return Err(corrupt("scan header too short"));
    }
    let mut components = Vec::with_capacity(count);
    for c in body[1..1 + 2 * count].chunks_exact(2) {
        let Some(index) = frame.component_ids.iter().position(|&id| id == c[0]) else {
            return Err(corrupt(format!("scan names unknown component {}", c[0])));
        };
        if c[1] != 0 {
            return Err(corrupt(
                "mapping tables (palettised JPEG-LS) are not supported",
            ));
        }
        if components.contains(&index) {
            return Err(corrupt("component repeated in a scan"));
        }
        components.push(index);
    }
    let near = u32::from(body[1 + 2 * count]);
    let interleave = body[2 + 2 * count];
    let point_transform = body[3 + 2 * count];
    if point_transform & 0x0F != 0 {
        return Err(corrupt("point transform is not supported"));
    }
    match (interleave, count) {
        (0, 1) | (1, 1..=3) | (2, 1..=3) => {}
        (0, _) => return Err(corrupt("interleave mode none with several components")),
        (1 | 2, _) => return Err(corrupt(format!("{count} components in one scan"))),
        (other, _) => return Err(corrupt(format!("interleave mode {other}"))),
    }
    Ok(ScanHeader {
        components,
        near,
        interleave: if count == 1 { 0 } else { interleave },
    })
}

/// Coding parameters of one scan (T.87 A.2 and C.2.4.1).
#[derive(Debug, Clone, Copy)]
struct Coding {
    maxval: i32,
    near: i32,
    range: i32,
    qbpp: u32,
    limit: u32,
    /// Longest unary prefix of a regular-mode code: LIMIT - qbpp - 1.
    max_prefix: u32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
}

fn ceil_log2(v: u32) -> u32 {
    // Smallest n with 2^n >= v.
    32 - v.saturating_sub(1).leading_zeros()
}

impl Coding {
    fn new(precision: u32, presets: Presets, near: u32) -> Result<Self, PixelError> {
        let full = (1u32 << precision) - 1;
        let maxval = if presets.maxval == 0 {
            full
        } else if presets.maxval > full {
            return Err(corrupt(format!(
                "MAXVAL {} exceeds {precision}-bit samples",
                presets.maxval
            )));
        } else {
            presets.maxval
        };
        if near > (maxval / 2).min(255) {
            return Err(corrupt(format!(
                "NEAR {near} too large for MAXVAL {maxval}"
            )));
        }
        let (maxval, near) = (maxval as i32, near as i32);
        let range = (maxval + 2 * near) / (2 * near + 1) + 1;
        let bpp = ceil_log2(maxval as u32 + 1).max(2);
        let qbpp = ceil_log2(range as u32);
        let limit = 2 * (bpp + bpp.max(8));

        // Default thresholds (C.2.4.1.1), with CLAMP(i, j) = j when i is outside [j, MAXVAL].
        let clamp = |i: i32, j: i32| if i > maxval || i < j { j } else { i };
        let (d1, d2, d3) = if maxval >= 128 {
            let factor = (maxval.min(4095) + 128) / 256;
            let t1 = clamp(factor + 2 + 3 * near, near + 1);
            let t2 = clamp(factor * 4 + 3 + 5 * near, t1);
            (t1, t2, clamp(factor * 17 + 4 + 7 * near, t2))
        } else {
            let factor = 256 / (maxval + 1);
            let t1 = clamp((3 / factor).max(2) + 3 * near, near + 1);
            let t2 = clamp((7 / factor).max(3) + 5 * near, t1);
            (t1, t2, clamp((21 / factor).max(4) + 7 * near, t2))
        };
        let pick = |given: u32, default: i32| if given == 0 { default } else { given as i32 };
        let (t1, t2, t3) = (
            pick(presets.t1, d1),
            pick(presets.t2, d2),
            pick(presets.t3, d3),
        );
        let reset = pick(presets.reset, 64);
        if !(near < t1 && t1 <= t2 && t2 <= t3 && t3 <= maxval.max(near + 1)) {
            return Err(corrupt(format!(
                "thresholds T1={t1} T2={t2} T3={t3} invalid for MAXVAL {maxval}, NEAR {near}"
            )));
        }
        if !(3..=maxval.max(255)).contains(&reset) {
            return Err(corrupt(format!("RESET {reset} out of range")));
        }
        Ok(Coding {
            maxval,
            near,
            range,
            qbpp,
            limit,
            max_prefix: limit - qbpp - 1,
            t1,
            t2,
            t3,
            reset,
        })
    }

    /// Quantised gradient (A.3.3), as the standard writes it (the decoder
    /// uses [`quantization_table`]; a test checks that they agree).
    #[cfg(test)]
    fn quantize(&self, d: i32) -> i8 {
        if d <= -self.t3 {
            -4
        } else if d <= -self.t2 {
            -3
        } else if d <= -self.t1 {
            -2
        } else if d < -self.near {
            -1
        } else if d <= self.near {
            0
        } else if d < self.t1 {
            1
        } else if d < self.t2 {
            2
        } else if d < self.t3 {
            3
        } else {
            4
        }
    }
}

/// The quantised gradient for every d in -MAXVAL..=MAXVAL at index d mod
/// 2^17 (see [`quantize`]): nine runs of equal values (A.3.3), filled as such.
fn quantization_table(p: &Coding) -> Result<Box<[i8; QTABLE_LEN]>, PixelError> {
    let mut table = vec![0i8; QTABLE_LEN];
    let m = p.maxval;
    let mut fill = |lo: i32, hi: i32, q: i8| {
        let (lo, hi) = (lo.max(-m), hi.min(m));
        // Split at 0: negative d wraps to the top of the table.
        for (lo, hi) in [(lo, hi.min(-1)), (lo.max(0), hi)] {
            if lo <= hi {
                let at = |d: i32| d as usize & (QTABLE_LEN - 1);
                table[at(lo)..=at(hi)].fill(q);
            }
        }
    };
    fill(-m, -p.t3, -4);
    fill(-p.t3 + 1, -p.t2, -3);
    fill(-p.t2 + 1, -p.t1, -2);
    fill(-p.t1 + 1, -p.near - 1, -1);
    fill(p.near + 1, p.t1 - 1, 1);
    fill(p.t1, p.t2 - 1, 2);
    fill(p.t2, p.t3 - 1, 3);
    fill(p.t3, m, 4);
    table
        .into_boxed_slice()
        .try_into()
        .map_err(|_| corrupt("quantisation table size"))
}

/// MSB-first bit reader over entropy-coded data: after a 0xFF byte only the
/// low 7 bits of the next byte are data (bit stuffing); 0xFF followed by a
/// byte >= 0x80 is a marker, where the data ends. Past the end it supplies
/// zero bits and counts them, so running out is detected in [`Self::finish`]
/// rather than on every read (all-zero input ends any code with an error
/// quickly: a Golomb prefix is bounded by LIMIT).
///
/// `Copy`, and the slow paths take and return it by value, so that the hot
/// loop can keep it in registers (a `&mut self` slow path would pin it to memory).
#[derive(Clone, Copy)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Valid bits left-aligned; the bits below them are always zero.
    cache: u64,
    bits: u32,
    /// Zero bits appended after the end of the data (which is cut to `pos`
    /// at the marker, so the end is `pos == data.len()`).
    padding: u32,
}

/// True when any byte of `w` is 0xFF.
#[inline(always)]
fn has_ff_byte(w: u64) -> bool {
    let v = !w;
    (v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080) != 0
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        let mut r = BitReader {
            data,
            pos,
            cache: 0,
            bits: 0,
            padding: 0,
        };
        r.refill();
        r
    }

    /// Fill the cache to more than 48 bits.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let word = u64::from_be_bytes(b);
            if !has_ff_byte(word) {
                let n = (63 - self.bits) / 8;
                let filled = self.bits + 8 * n;
                self.cache |= (word >> self.bits) & !(u64::MAX >> filled);
                self.bits = filled;
                self.pos += n as usize;
                return;
            }
        }
        *self = self.refill_slow();
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(mut self) -> Self {
        while self.bits <= 56 {
            let Some(&byte) = self.data.get(self.pos) else {
                self.bits += 8;
                self.padding += 8;
                continue;
            };
            if byte == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(&next) if next < 0x80 => {
                        if self.bits > 49 {
                            return self;
                        }
                        self.cache |= 0xFFu64 << (56 - self.bits);
                        self.bits += 8;
                        self.cache |= u64::from(next) << (57 - self.bits);
                        self.bits += 7;
                        self.pos += 2;
                    }
                    // A marker (or the end): no more data.
                    _ => self.data = self.data.get(..self.pos).unwrap_or_default(),
                }
            } else {
                self.cache |= u64::from(byte) << (56 - self.bits);
                self.bits += 8;
                self.pos += 1;
            }
        }
        self
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.bits && n < 64);
        self.cache <<= n;
        self.bits -= n;
    }

    #[inline(always)]
    fn read_bit(&mut self) -> bool {
        if self.bits == 0 {
            self.refill();
        }
        let bit = self.cache >> 63 != 0;
        self.consume(1);
        bit
    }

    /// Read `n` <= 32 bits as an unsigned number.
    #[inline(always)]
    fn read_bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.bits < n {
            self.refill();
        }
        let v = (self.cache >> (64 - n)) as u32;
        self.consume(n);
        v
    }

    /// A limited-length Golomb code (A.5.3): a unary prefix, then k bits, or
    /// after `max_prefix` zeros an escape of `qbpp` bits holding value - 1.
    #[inline(always)]
    fn golomb(&mut self, k: u32, max_prefix: u32, qbpp: u32) -> Result<u32, PixelError> {
        if self.bits < 32 {
            self.refill();
        }
        let zeros = self.cache.leading_zeros();
        if zeros < max_prefix && zeros + 1 + k <= self.bits {
            let rest = self.cache << (zeros + 1);
            let low = if k == 0 { 0 } else { (rest >> (64 - k)) as u32 };
            self.consume(zeros + 1 + k);
            return Ok((zeros << k) | low);
        }
        let (reader, value) = self.golomb_slow(k, max_prefix, qbpp);
        *self = reader;
        value
    }

    #[cold]
    #[inline(never)]
    fn golomb_slow(
        mut self,
        k: u32,
        max_prefix: u32,
        qbpp: u32,
    ) -> (Self, Result<u32, PixelError>) {
        let mut prefix = 0u32;
        loop {
            if self.bits == 0 {
                self.refill();
            }
            let zeros = self.cache.leading_zeros().min(self.bits);
            prefix += zeros;
            if prefix > max_prefix {
                return (self, Err(corrupt("Golomb code longer than LIMIT")));
            }
            self.consume(zeros);
            if self.bits > 0 {
                self.consume(1);
                break;
            }
        }
        let value = if prefix < max_prefix {
            (prefix << k) | self.read_bits(k)
        } else {
            self.read_bits(qbpp) + 1
        };
        (self, Ok(value))
    }

    /// Check that the decoding used only real data; return where to look for
    /// the marker that ends this entropy-coded segment.
    fn finish(&self) -> Result<usize, PixelError> {
        if self.padding > self.bits {
            return Err(corrupt("entropy-coded data is truncated"));
        }
        Ok(self.pos)
    }
}

/// Context variables of one regular-mode context (A.2.1).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Context {
    a: u32,
    b: i32,
    /// N <= RESET <= 65535.
    n: u16,
    /// C stays in -128..=127 (A.6.2).
    c: i8,
    /// The Golomb parameter for the current A and N, kept up to date by the
    /// update so that the next sample in this context need not wait for it.
    k: u8,
}

impl Context {
    fn new(a: u32) -> Self {
        Context {
            a,
            b: 0,
            n: 1,
            c: 0,
            k: golomb_k(1, a) as u8,
        }
    }
}

/// Context variables of one run-interruption context (A.7.2).
#[derive(Debug, Clone, Copy)]
struct RunContext {
    a: u32,
    n: u32,
    nn: u32,
}

/// Golomb parameter: the smallest k with N·2^k >= A.
#[inline(always)]
fn golomb_k(n: u32, a: u32) -> u32 {
    let mut k = (n.leading_zeros()).saturating_sub(a.leading_zeros());
    if u64::from(n) << k < u64::from(a) {
        k += 1;
    }
    k
}

/// Median edge detector (A.4.1).
#[inline(always)]
fn predict(ra: i32, rb: i32, rc: i32) -> i32 {
    let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
    if rc >= hi {
        lo
    } else if rc <= lo {
        hi
    } else {
        ra + rb - rc
    }
}

/// Decodes one line of every component of a scan (see [`ScanDecoder::decode_lines`]).
type LineDecoder = for<'a> fn(
    &mut ScanDecoder,
    BitReader<'a>,
    &[i32],
    &mut [i32],
    usize,
    &mut [usize; 3],
) -> (BitReader<'a>, Result<(), PixelError>);

/// The decoding state of one scan. The per-line loops borrow its fields
/// separately (see [`ScanDecoder::decode_lines`]) so that the hot loop keeps
/// what it reads in registers.
struct ScanDecoder {
    p: Coding,
    /// Quantised gradient Q(d), see [`quantize`].
    qtable: Box<[i8; QTABLE_LEN]>,
    /// Regular-mode contexts indexed by |Q| & 511 (|Q| <= 364): a power of
    /// two, so no bounds check is needed.
    contexts: [Context; 512],
    run_contexts: [RunContext; 2],
    width: usize,
}

/// Rx from a prediction and a (signed, quantised) error, with modulo
/// reduction and clamping (A.4.2 / A.6).
#[inline(always)]
fn reconstruct(p: &Coding, px: i32, err: i32) -> i32 {
    let step = 2 * p.near + 1;
    let mut rx = px + err * step;
    if rx < -p.near {
        rx += p.range * step;
    } else if rx > p.maxval + p.near {
        rx -= p.range * step;
    }
    rx.max(0).min(p.maxval)
}

/// One regular-mode sample (A.4 to A.6): context `qs` (signed), MED
/// prediction `pred`. `POW2`: lossless with MAXVAL = 2^n - 1, where the
/// modulo reduction of the reconstructed value is a mask.
#[inline(always)]
fn decode_regular<const POW2: bool>(
    p: &Coding,
    contexts: &mut [Context; 512],
    r: &mut BitReader,
    qs: i32,
    pred: i32,
) -> Result<i32, PixelError> {
    let near = if POW2 { 0 } else { p.near };
    let sign = qs >> 31; // 0 or -1
    let ctx = &mut contexts[((qs ^ sign) - sign) as usize & 511];
    let px = (pred + ((i32::from(ctx.c) ^ sign) - sign))
        .max(0)
        .min(p.maxval);
    let k = u32::from(ctx.k);
    if k > MAX_K {
        return Err(corrupt("Golomb parameter out of range"));
    }
    let merr = r.golomb(k, p.max_prefix, p.qbpp)?;
    // Bounds B (|err| * (2 NEAR + 1) must fit); a valid stream has MErrval < RANGE.
    if !POW2 && merr > 2 * p.range as u32 {
        return Err(corrupt("prediction error out of range"));
    }
    let merr = merr as i32;
    // Inverse error mapping (A.5.2), with the special case for k = 0 and NEAR = 0.
    let mut err = (merr >> 1) ^ -(merr & 1);
    if k == 0 && near == 0 && 2 * ctx.b + i32::from(ctx.n) - 1 < 0 {
        err = !err;
    }
    // Context update (A.6).
    ctx.a = ctx.a.saturating_add(err.unsigned_abs());
    ctx.b = ctx.b.wrapping_add(err * (2 * near + 1));
    if i32::from(ctx.n) == p.reset {
        ctx.a >>= 1;
        ctx.b >>= 1;
        ctx.n >>= 1;
    }
    ctx.n += 1;
    ctx.k = golomb_k(u32::from(ctx.n), ctx.a) as u8;
    let n = i32::from(ctx.n);
    if ctx.b + n <= 0 {
        ctx.b = (ctx.b + n).max(1 - n);
        ctx.c = ctx.c.saturating_sub(1); // C stays >= MIN_C = -128
    } else if ctx.b > 0 {
        ctx.b = (ctx.b - n).min(0);
        ctx.c = ctx.c.saturating_add(1); // C stays <= MAX_C = 127
    }
    let err = (err ^ sign) - sign;
    if POW2 {
        Ok((px + err) & p.maxval)
    } else {
        Ok(reconstruct(p, px, err))
    }
}

/// The error of a run-interruption sample (A.7.2), with context update.
#[inline(always)]
fn decode_interruption_error(
    p: &Coding,
    contexts: &mut [RunContext; 2],
    r: &mut BitReader,
    ritype: u32,
    run_index: usize,
) -> Result<i32, PixelError> {
    let ctx = &mut contexts[ritype as usize & 1];
    let temp = ctx
        .a
        .saturating_add(if ritype == 1 { ctx.n >> 1 } else { 0 });
    let k = golomb_k(ctx.n, temp);
    if k > MAX_K {
        return Err(corrupt("Golomb parameter out of range"));
    }
    let glimit = p.limit - J[run_index & 31] - 1;
    let em = r.golomb(k, glimit.saturating_sub(p.qbpp + 1), p.qbpp)?;
    if em > 2 * p.range as u32 {
        return Err(corrupt("run interruption error out of range"));
    }
    let t = em + ritype;
    let map = t & 1;
    let abs = ((t + map) / 2) as i32;
    let err = if (k != 0 || 2 * ctx.nn >= ctx.n) == (map == 1) {
        -abs
    } else {
        abs
    };
    if err < 0 {
        ctx.nn += 1;
    }
    ctx.a = ctx.a.saturating_add((em + 1 - ritype) >> 1);
    if ctx.n as i32 == p.reset {
        ctx.a >>= 1;
        ctx.n >>= 1;
        ctx.nn >>= 1;
    }
    ctx.n += 1;
    Ok(err)
}

/// Run mode from sample `x` of a single-component line (A.7): the run
/// length, then the interruption sample unless the run reaches the end of
/// the line. Returns the number of samples decoded. Takes and returns the
/// reader by value (see [`BitReader`]).
#[inline(never)]
fn decode_run<'a>(
    p: &Coding,
    contexts: &mut [RunContext; 2],
    mut reader: BitReader<'a>,
    x: usize,
    prev: &[i32],
    cur: &mut [i32],
    run_index: &mut usize,
) -> (BitReader<'a>, Result<usize, PixelError>) {
    let r = &mut reader;
    let result = (|| {
        let w = prev.len() - 2;
        let ra = cur[x];
        let remaining = w - x;
        let count = run_length(r, remaining, run_index)?;
        cur[x + 1..x + 1 + count].fill(ra);
        if count == remaining {
            return Ok(count);
        }
        let rb = prev[x + count + 1];
        let ri = *run_index;
        let rx = if (ra - rb).abs() <= p.near {
            let err = decode_interruption_error(p, contexts, r, 1, ri)?;
            reconstruct(p, ra, err)
        } else {
            let err = decode_interruption_error(p, contexts, r, 0, ri)?;
            reconstruct(p, rb, if rb < ra { -err } else { err })
        };
        cur[x + count + 1] = rx;
        *run_index = run_index.saturating_sub(1);
        Ok(count + 1)
    })();
    (reader, result)
}

/// Run mode of a sample-interleaved line: whole pixels repeat; an
/// interruption codes each component with run context 0 from Rb (as the
/// T.87 conformance streams and CharLS do).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn decode_run_sample_interleaved<'a>(
    p: &Coding,
    contexts: &mut [RunContext; 2],
    mut reader: BitReader<'a>,
    x: usize,
    prev: &[i32],
    cur: &mut [i32],
    ncomp: usize,
    run_index: &mut usize,
) -> (BitReader<'a>, Result<usize, PixelError>) {
    let r = &mut reader;
    let result = (|| {
        let stride = prev.len() / ncomp;
        let w = stride - 2;
        let remaining = w - x;
        let count = run_length(r, remaining, run_index)?;
        for c in 0..ncomp {
            let line = &mut cur[c * stride..][..stride];
            let ra = line[x];
            line[x + 1..x + 1 + count].fill(ra);
        }
        if count == remaining {
            return Ok(count);
        }
        let ri = *run_index;
        for c in 0..ncomp {
            let ra = cur[c * stride + x];
            let rb = prev[c * stride + x + count + 1];
            let err = decode_interruption_error(p, contexts, r, 0, ri)?;
            cur[c * stride + x + count + 1] = reconstruct(p, rb, if rb < ra { -err } else { err });
        }
        *run_index = run_index.saturating_sub(1);
        Ok(count + 1)
    })();
    (reader, result)
}

impl ScanDecoder {
    fn new(p: Coding, width: usize) -> Result<Self, PixelError> {
        let mut decoder = ScanDecoder {
            p,
            qtable: quantization_table(&p)?,
            contexts: [Context::new(0); 512],
            run_contexts: [RunContext { a: 0, n: 1, nn: 0 }; 2],
            width,
        };
        decoder.reset();
        Ok(decoder)
    }

    /// Initial context values (A.2.1), at the scan start and each restart.
    fn reset(&mut self) {
        let a = ((self.p.range + 32) / 64).max(2) as u32;
        self.contexts.fill(Context::new(a));
        self.run_contexts.fill(RunContext { a, n: 1, nn: 0 });
    }

    /// Decode the scan whose entropy-coded data starts at `start`; samples go
    /// to `out` (interleaved, `spp` per pixel). Returns the position of the
    /// marker that follows the scan.
    #[allow(clippy::too_many_arguments)]
    fn decode_scan(
        &mut self,
        data: &[u8],
        start: usize,
        frame: &FrameHeader,
        scan: &ScanHeader,
        restart_interval: usize,
        out: &mut Output,
        layout: &SampleLayout,
        spp: usize,
    ) -> Result<usize, PixelError> {
        let w = self.width;
        let stride = w + 2;
        let ncomp = scan.components.len();
        // Line buffers per component, sample x at index x + 1; index 0 and
        // w + 1 hold the edge values (T.87 A.2.1: Ra and Rc at the line
        // start, Rd at its end).
        let mut prev = vec![0i32; ncomp * stride];
        let mut cur = vec![0i32; ncomp * stride];
        let mut run_index = [0usize; 3];
        let mut reader = BitReader::new(data, start);
        let mut restarts = 0u8;
        let pow2 = self.p.near == 0 && self.p.maxval & (self.p.maxval + 1) == 0;
        // Called through an opaque pointer: wasm-opt inlines functions that
        // have one caller, and the line loop merged into this function ran
        // 35% slower under V8 (worse register allocation).
        let line: LineDecoder = std::hint::black_box(match (scan.interleave, pow2) {
            (2, _) => ScanDecoder::decode_line_sample_interleaved,
            (_, true) => ScanDecoder::decode_lines::<true>,
            (_, false) => ScanDecoder::decode_lines::<false>,
        });
        for y in 0..frame.height {
            if restart_interval > 0 && y > 0 && y % restart_interval == 0 {
                let at = reader.finish()?;
                let expected = RST0 + (restarts & 7);
                match next_marker(data, at) {
                    Some((m, p)) if m == expected => reader = BitReader::new(data, p + 2),
                    Some((m, _)) => {
                        return Err(corrupt(format!(
                            "expected restart marker 0xFF{expected:02X}, found 0xFF{m:02X}"
                        )));
                    }
                    None => return Err(corrupt("restart marker missing (truncated data)")),
                }
                restarts = restarts.wrapping_add(1);
                self.reset();
                // The line above the first line of an interval is zero, as at
                // the top of the image (`cur` becomes `prev` just below).
                cur.fill(0);
                run_index = [0; 3];
            }
            std::mem::swap(&mut prev, &mut cur);
            // `prev` is now the line above; set the edge values.
            for c in 0..ncomp {
                let (pl, cl) = (
                    &mut prev[c * stride..][..stride],
                    &mut cur[c * stride..][..stride],
                );
                pl[w + 1] = pl[w];
                cl[0] = pl[1];
            }
            let (r, result) = line(self, reader, &prev, &mut cur, ncomp, &mut run_index);
            reader = r;
            result?;
            for (c, &component) in scan.components.iter().enumerate() {
                out.put_line(
                    layout,
                    y * w * spp + component,
                    spp,
                    &cur[c * stride + 1..][..w],
                );
            }
        }
        let at = reader.finish()?;
        next_marker(data, at)
            .map(|(_, p)| p)
            .ok_or_else(|| corrupt("no marker after the scan (truncated data)"))
    }

    /// Decode one line of each of the `ncomp` components (interleave modes
    /// none and line), one after the other; `prev` and `cur` hold `ncomp`
    /// lines of `width + 2` with the edges already set. The reader goes in
    /// and out by value so that the loop can keep it in registers.
    fn decode_lines<'a, const POW2: bool>(
        &mut self,
        reader: BitReader<'a>,
        prev: &[i32],
        cur: &mut [i32],
        ncomp: usize,
        run_index: &mut [usize; 3],
    ) -> (BitReader<'a>, Result<(), PixelError>) {
        let ScanDecoder {
            p,
            qtable,
            contexts,
            run_contexts,
            width,
        } = self;
        let (p, qtable, w) = (*p, &**qtable, *width);
        let stride = w + 2;
        // A by-value argument lives in memory; a fresh local can live in registers.
        let mut local = reader;
        let r = &mut local;
        let mut result = Ok(());
        for c in 0..ncomp.min(3) {
            let (prev, cur) = (
                &prev[c * stride..][..stride],
                &mut cur[c * stride..][..stride],
            );
            let run_index = &mut run_index[c];
            result = (|| {
                let quantize = |d: i32| quantize(qtable, d);
                let mut x = 0;
                let mut rb = prev[0];
                let mut rd = prev[1];
                while x < w {
                    let ra = cur[x];
                    let rc = rb;
                    rb = rd;
                    rd = prev[x + 2];
                    let qs = 81 * quantize(rd - rb) + 9 * quantize(rb - rc) + quantize(rc - ra);
                    if qs != 0 {
                        cur[x + 1] =
                            decode_regular::<POW2>(&p, contexts, r, qs, predict(ra, rb, rc))?;
                        x += 1;
                    } else {
                        let (reader, count) =
                            decode_run(&p, run_contexts, *r, x, prev, cur, run_index);
                        *r = reader;
                        x += count?;
                        rb = prev[x];
                        rd = prev[(x + 1).min(w + 1)];
                    }
                }
                Ok(())
            })();
            if result.is_err() {
                break;
            }
        }
        (local, result)
    }

    /// One line of a sample-interleaved scan: all components of a pixel in
    /// turn, sharing the contexts; run mode only when every component is flat.
    fn decode_line_sample_interleaved<'a>(
        &mut self,
        reader: BitReader<'a>,
        prev: &[i32],
        cur: &mut [i32],
        ncomp: usize,
        run_index: &mut [usize; 3],
    ) -> (BitReader<'a>, Result<(), PixelError>) {
        let run_index = &mut run_index[0];
        let ScanDecoder {
            p,
            qtable,
            contexts,
            run_contexts,
            width,
        } = self;
        let (p, qtable, w) = (*p, &**qtable, *width);
        // A by-value argument lives in memory; a fresh local can live in registers.
        let mut local = reader;
        let r = &mut local;
        let result = (|| {
            let stride = w + 2;
            let quantize = |d: i32| quantize(qtable, d);
            let mut x = 0;
            while x < w {
                let mut qs = [0i32; 3];
                let mut pred = [0i32; 3];
                for c in 0..ncomp {
                    let (pl, cl) = (&prev[c * stride..][..stride], &cur[c * stride..][..stride]);
                    let (ra, rb, rc, rd) = (cl[x], pl[x + 1], pl[x], pl[x + 2]);
                    qs[c] = 81 * quantize(rd - rb) + 9 * quantize(rb - rc) + quantize(rc - ra);
                    pred[c] = predict(ra, rb, rc);
                }
                if qs[..ncomp].iter().all(|&q| q == 0) {
                    let (reader, count) = decode_run_sample_interleaved(
                        &p,
                        run_contexts,
                        *r,
                        x,
                        prev,
                        cur,
                        ncomp,
                        run_index,
                    );
                    *r = reader;
                    x += count?;
                } else {
                    for c in 0..ncomp {
                        cur[c * stride + x + 1] =
                            decode_regular::<false>(&p, contexts, r, qs[c], pred[c])?;
                    }
                    x += 1;
                }
            }
            Ok(())
        })();
        (local, result)
    }
}

/// The length of a run (A.7.1.2 decoding): 1 bits each add 2^`J[RUNindex]`
/// samples (fewer at the end of the line); a 0 bit is followed by `J[RUNindex]`
/// bits of remainder, and an interruption sample follows.
#[inline(always)]
fn run_length(
    r: &mut BitReader,
    remaining: usize,
    run_index: &mut usize,
) -> Result<usize, PixelError> {
    let mut count = 0usize;
    while r.read_bit() {
        let segment = 1usize << J[*run_index];
        let n = segment.min(remaining - count);
        count += n;
        if n == segment && *run_index < 31 {
            *run_index += 1;
        }
        if count == remaining {
            return Ok(count);
        }
    }
    count += r.read_bits(J[*run_index]) as usize;
    if count > remaining {
        return Err(corrupt("run longer than the line"));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::{BitReader, Coding, Presets, golomb_k, quantization_table};

    #[test]
    fn default_thresholds_match_t87_table() {
        // T.87 C.2.4.1.1: 8-bit lossless 3/7/21; 12- and 16-bit lossless 18/67/276.
        for (precision, expected) in [(8, (3, 7, 21)), (12, (18, 67, 276)), (16, (18, 67, 276))] {
            let c = Coding::new(precision, Presets::default(), 0).expect("valid");
            assert_eq!(
                (c.t1, c.t2, c.t3, c.reset),
                (expected.0, expected.1, expected.2, 64)
            );
        }
        // 8-bit NEAR=3: FACTOR 1, T1 = 1+2+9 = 12, T2 = 4+3+15 = 22, T3 = 17+4+21 = 42.
        let c = Coding::new(8, Presets::default(), 3).expect("valid");
        assert_eq!((c.t1, c.t2, c.t3), (12, 22, 42));
        assert_eq!((c.range, c.qbpp, c.limit), (38, 6, 32));
        // 4-bit: FACTOR 16, T1 = max(2, 0) = 2, T2 = max(3, 0) = 3, T3 = max(4, 1) = 4.
        let c = Coding::new(4, Presets::default(), 0).expect("valid");
        assert_eq!((c.t1, c.t2, c.t3), (2, 3, 4));
    }

    #[test]
    fn quantization_table_matches_the_standard() {
        for (precision, near, t) in [
            (8, 0, None),
            (8, 3, None),
            (16, 0, Some((5, 20, 90))),
            (2, 0, None),
        ] {
            let mut presets = Presets::default();
            if let Some((t1, t2, t3)) = t {
                (presets.t1, presets.t2, presets.t3) = (t1, t2, t3);
            }
            let c = Coding::new(precision, presets, near).expect("valid");
            let table = quantization_table(&c).expect("table");
            for d in -c.maxval..=c.maxval {
                assert_eq!(super::quantize(&table, d) as i8, c.quantize(d), "d={d}");
            }
        }
    }

    #[test]
    fn golomb_parameter() {
        assert_eq!(golomb_k(1, 1), 0);
        assert_eq!(golomb_k(1, 2), 1);
        assert_eq!(golomb_k(3, 4), 1);
        assert_eq!(golomb_k(3, 12), 2);
        assert_eq!(golomb_k(3, 13), 3);
        assert_eq!(golomb_k(64, 64 << 15), 15);
    }

    #[test]
    fn bit_stuffing_and_marker_end() {
        // 0xFF 0x7F: 8 + 7 data bits; then 0xFF 0xD9 (EOI) ends the data.
        let data = [0xFF, 0x7F, 0xA5, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.read_bits(8), 0xFF);
        assert_eq!(r.read_bits(7), 0x7F);
        assert_eq!(r.read_bits(8), 0xA5);
        assert!(r.finish().is_ok());
        assert_eq!(r.read_bits(1), 0); // padding past the end
        assert!(r.finish().is_err());
    }

    #[test]
    fn golomb_escape_and_limit() {
        // k=2: "001" + "10" = (2 << 2) | 2 = 10.
        let data = [0b0011_0000, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.golomb(2, 23, 8).ok(), Some(10));
        // Escape after 23 zeros: 1, then 8 bits 0x2A → 43.
        let bits: u64 = (1 << 40) | (0x2A << 32);
        let data = bits.to_be_bytes();
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.golomb(2, 23, 8).ok(), Some(43));
        // All zeros: longer than LIMIT.
        let mut r = BitReader::new(&[0u8; 16], 0);
        assert!(r.golomb(2, 23, 8).is_err());
    }
}
