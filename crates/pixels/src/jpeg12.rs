//! 12-bit sequential DCT JPEG (JPEG Extended, process 4; T.81 Annex F with
//! Huffman coding), which `jpeg-decoder` does not implement. Handles
//! interleaved and non-interleaved scans, restart intervals, 8- and 16-bit
//! quantisation tables and chroma subsampling (by replication). Output is one
//! `u32` per sample, interleaved, 0..=4095.

use crate::jpeg::CODEC;
use crate::{ImageDescription, PixelError};

const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

fn corrupt(message: impl Into<String>) -> PixelError {
    PixelError::Codec {
        codec: CODEC,
        message: message.into(),
    }
}

/// Canonical Huffman table (T.81 F.2.2.3 decoding procedure).
#[derive(Clone)]
struct Huffman {
    maxcode: [i32; 17],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Self {
        let mut maxcode = [-1i32; 17];
        let mut valptr = [0i32; 17];
        let mut mincode = [0i32; 17];
        let mut code = 0i32;
        let mut k = 0i32;
        for l in 1..=16 {
            let n = i32::from(counts[l - 1]);
            if n > 0 {
                valptr[l] = k;
                mincode[l] = code;
                code += n;
                k += n;
                maxcode[l] = code - 1;
            }
            code <<= 1;
        }
        Huffman {
            maxcode,
            valptr,
            mincode,
            values,
        }
    }

    fn decode(&self, bits: &mut BitReader) -> Result<u8, PixelError> {
        let mut code = 0i32;
        for l in 1..=16 {
            code = (code << 1) | bits.bit() as i32;
            if code <= self.maxcode[l] {
                let idx = self.valptr[l] + code - self.mincode[l];
                return usize::try_from(idx)
                    .ok()
                    .and_then(|i| self.values.get(i).copied())
                    .ok_or_else(|| corrupt("Huffman value index out of range"));
            }
        }
        Err(corrupt("invalid Huffman code"))
    }
}

/// Entropy-coded data reader: removes stuffed zero bytes, stops at markers
/// (then yields zero bits, as libjpeg does for corrupt data).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    nbits: u32,
    hit_marker: bool,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader {
            data,
            pos,
            acc: 0,
            nbits: 0,
            hit_marker: false,
        }
    }

    fn bit(&mut self) -> u32 {
        if self.nbits == 0 {
            let byte = if self.hit_marker {
                0
            } else {
                match self.data.get(self.pos) {
                    Some(0xFF) if self.data.get(self.pos + 1) == Some(&0x00) => {
                        self.pos += 2;
                        0xFF
                    }
                    Some(0xFF) | None => {
                        self.hit_marker = true;
                        0
                    }
                    Some(&b) => {
                        self.pos += 1;
                        b
                    }
                }
            };
            self.acc = u32::from(byte);
            self.nbits = 8;
        }
        self.nbits -= 1;
        (self.acc >> self.nbits) & 1
    }

    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| (v << 1) | self.bit())
    }

    /// T.81 F.2.2.1 EXTEND of an `n`-bit magnitude.
    fn receive_extend(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let v = self.bits(n) as i32;
        if v < (1 << (n - 1)) {
            v - (1 << n) + 1
        } else {
            v
        }
    }

    /// Consume an RSTn marker at the current position (after byte alignment).
    fn restart(&mut self) -> Result<(), PixelError> {
        self.nbits = 0;
        self.hit_marker = false;
        // Skip fill bytes up to the marker.
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
            (Some(0xFF), Some(m)) if (0xD0..=0xD7).contains(m) => {
                self.pos += 2;
                Ok(())
            }
            _ => Err(corrupt("expected a restart marker")),
        }
    }
}

#[derive(Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Blocks per line and per column, padded to whole MCUs.
    bw: usize,
    bh: usize,
    /// Samples, `bw*8` wide.
    plane: Vec<i32>,
    dc_pred: i32,
}

/// Inverse DCT (separable, f32) of one dequantised block in natural order,
/// level-shifted by 2048 and clamped to 12 bits.
fn idct_12bit(coef: &[f32; 64], cos: &[[f32; 8]; 8], out: &mut [i32; 64]) {
    let mut tmp = [0f32; 64];
    for y in 0..8 {
        for u in 0..8 {
            // Row pass over v for fixed (y, u).
            let mut s = 0f32;
            for v in 0..8 {
                s += cos[y][v] * coef[v * 8 + u];
            }
            tmp[y * 8 + u] = s;
        }
    }
    for y in 0..8 {
        for x in 0..8 {
            let mut s = 0f32;
            for u in 0..8 {
                s += cos[x][u] * tmp[y * 8 + u];
            }
            out[y * 8 + x] = ((s / 4.0).round() as i32 + 2048).clamp(0, 4095);
        }
    }
}

fn cos_table() -> [[f32; 8]; 8] {
    let mut t = [[0f32; 8]; 8];
    for (x, row) in t.iter_mut().enumerate() {
        for (u, c) in row.iter_mut().enumerate() {
            let cu = if u == 0 {
                std::f32::consts::FRAC_1_SQRT_2
            } else {
                1.0
            };
            *c = cu * (((2 * x + 1) as f32) * (u as f32) * std::f32::consts::PI / 16.0).cos();
        }
    }
    t
}

fn segment(data: &[u8], at: usize) -> Result<(&[u8], usize), PixelError> {
    let len = data
        .get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| corrupt("truncated marker segment"))?;
    if len < 2 || at + len > data.len() {
        return Err(corrupt("marker segment exceeds the data"));
    }
    Ok((&data[at + 2..at + len], at + len))
}

/// Decode a 12-bit DCT stream; `ycc` converts 3-component YCbCr to RGB.
pub(crate) fn decode(
    data: &[u8],
    desc: &ImageDescription,
    ycc: bool,
) -> Result<Vec<u32>, PixelError> {
    let mut qt: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = [None, None, None, None];
    let mut ac: [Option<Huffman>; 4] = [None, None, None, None];
    let mut restart_interval = 0usize;
    let mut comps: Vec<Component> = Vec::new();
    let (mut width, mut height, mut hmax, mut vmax) = (0usize, 0usize, 1usize, 1usize);
    let (mut mcux, mut mcuy) = (0usize, 0usize);
    let cos = cos_table();

    let mut i = 2usize;
    loop {
        while data.get(i).is_some_and(|&b| b != 0xFF) {
            i += 1;
        }
        while data.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = data.get(i) else { break };
        i += 1;
        match marker {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => {}
            0xDB => {
                let (body, next) = segment(data, i)?;
                let mut p = 0;
                while p < body.len() {
                    let (pq, tq) = (body[p] >> 4, usize::from(body[p] & 15));
                    p += 1;
                    let n = if pq == 0 { 64 } else { 128 };
                    let raw = body.get(p..p + n).ok_or_else(|| corrupt("truncated DQT"))?;
                    let mut table = [0u16; 64];
                    for (k, q) in table.iter_mut().enumerate() {
                        *q = if pq == 0 {
                            u16::from(raw[k])
                        } else {
                            u16::from_be_bytes([raw[2 * k], raw[2 * k + 1]])
                        };
                    }
                    *qt.get_mut(tq).ok_or_else(|| corrupt("DQT table id"))? = Some(table);
                    p += n;
                }
                i = next;
            }
            0xC4 => {
                let (body, next) = segment(data, i)?;
                let mut p = 0;
                while p < body.len() {
                    let (tc, th) = (body[p] >> 4, usize::from(body[p] & 15));
                    let counts: [u8; 16] = body
                        .get(p + 1..p + 17)
                        .and_then(|c| c.try_into().ok())
                        .ok_or_else(|| corrupt("truncated DHT"))?;
                    let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let values = body
                        .get(p + 17..p + 17 + n)
                        .ok_or_else(|| corrupt("truncated DHT"))?
                        .to_vec();
                    let table = Some(Huffman::new(&counts, values));
                    let slot = if tc == 0 {
                        dc.get_mut(th)
                    } else {
                        ac.get_mut(th)
                    };
                    *slot.ok_or_else(|| corrupt("DHT table id"))? = table;
                    p += 17 + n;
                }
                i = next;
            }
            0xDD => {
                let (body, next) = segment(data, i)?;
                restart_interval = body
                    .get(..2)
                    .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
                i = next;
            }
            0xC0 | 0xC1 => {
                let (body, next) = segment(data, i)?;
                // A second SOF would add its components to the first's.
                if !comps.is_empty() {
                    return Err(corrupt("more than one frame header"));
                }
                if body.len() < 6 || body[0] != 12 {
                    return Err(corrupt("not a 12-bit frame header"));
                }
                height = usize::from(u16::from_be_bytes([body[1], body[2]]));
                width = usize::from(u16::from_be_bytes([body[3], body[4]]));
                let n = usize::from(body[5]);
                if height != usize::from(desc.rows)
                    || width != usize::from(desc.columns)
                    || n != usize::from(desc.samples_per_pixel)
                {
                    return Err(corrupt("frame header does not match the description"));
                }
                for c in 0..n {
                    let b = body
                        .get(6 + 3 * c..9 + 3 * c)
                        .ok_or_else(|| corrupt("truncated SOF"))?;
                    let (h, v) = (usize::from(b[1] >> 4), usize::from(b[1] & 15));
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) || b[2] > 3 {
                        return Err(corrupt("invalid component in SOF"));
                    }
                    comps.push(Component {
                        id: b[0],
                        h,
                        v,
                        tq: usize::from(b[2]),
                        bw: 0,
                        bh: 0,
                        plane: Vec::new(),
                        dc_pred: 0,
                    });
                }
                hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
                vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
                mcux = width.div_ceil(8 * hmax);
                mcuy = height.div_ceil(8 * vmax);
                for c in &mut comps {
                    c.bw = mcux * c.h;
                    c.bh = mcuy * c.v;
                    c.plane = vec![0; c.bw * 8 * c.bh * 8];
                }
                i = next;
            }
            0xDA => {
                let (body, next) = segment(data, i)?;
                if comps.is_empty() {
                    return Err(corrupt("scan before frame header"));
                }
                let ns = usize::from(*body.first().ok_or_else(|| corrupt("empty SOS"))?);
                let mut scan = Vec::with_capacity(ns);
                for s in 0..ns {
                    let b = body
                        .get(1 + 2 * s..3 + 2 * s)
                        .ok_or_else(|| corrupt("truncated SOS"))?;
                    let ci = comps
                        .iter()
                        .position(|c| c.id == b[0])
                        .ok_or_else(|| corrupt("SOS names an unknown component"))?;
                    let (td, ta) = (usize::from(b[1] >> 4), usize::from(b[1] & 15));
                    let dct = dc
                        .get(td)
                        .cloned()
                        .flatten()
                        .ok_or_else(|| corrupt("missing DC Huffman table"))?;
                    let act = ac
                        .get(ta)
                        .cloned()
                        .flatten()
                        .ok_or_else(|| corrupt("missing AC Huffman table"))?;
                    scan.push((ci, dct, act));
                }
                if scan.is_empty() {
                    return Err(corrupt("scan with no components"));
                }
                i = decode_scan(
                    data,
                    next,
                    &mut comps,
                    &scan,
                    &qt,
                    restart_interval,
                    (mcux, mcuy, width, height, hmax, vmax),
                    &cos,
                )?;
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(corrupt("only sequential Huffman 12-bit DCT is supported"));
            }
            _ => {
                let (_, next) = segment(data, i)?;
                i = next;
            }
        }
    }
    if comps.is_empty() {
        return Err(corrupt("no frame decoded"));
    }

    let n = comps.len();
    let mut out = Vec::with_capacity(width * height * n);
    for y in 0..height {
        for x in 0..width {
            let mut px = [0i32; 4];
            for (c, comp) in comps.iter().enumerate().take(4) {
                let (sx, sy) = (x * comp.h / hmax, y * comp.v / vmax);
                px[c] = comp.plane.get(sy * comp.bw * 8 + sx).copied().unwrap_or(0);
            }
            if ycc && n == 3 {
                let (yv, cb, cr) = (px[0] as f32, px[1] as f32 - 2048.0, px[2] as f32 - 2048.0);
                let clamp = |v: f32| v.round().clamp(0.0, 4095.0) as u32;
                out.push(clamp(yv + 1.402 * cr));
                out.push(clamp(yv - 0.344_136 * cb - 0.714_136 * cr));
                out.push(clamp(yv + 1.772 * cb));
            } else {
                out.extend(px[..n].iter().map(|&v| v as u32));
            }
        }
    }
    Ok(out)
}

type Geometry = (usize, usize, usize, usize, usize, usize);

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    data: &[u8],
    start: usize,
    comps: &mut [Component],
    scan: &[(usize, Huffman, Huffman)],
    qt: &[Option<[u16; 64]>; 4],
    restart_interval: usize,
    (mcux, mcuy, width, height, hmax, vmax): Geometry,
    cos: &[[f32; 8]; 8],
) -> Result<usize, PixelError> {
    let mut bits = BitReader::new(data, start);
    for &(ci, _, _) in scan {
        comps[ci].dc_pred = 0;
    }
    // Non-interleaved scans cover only the component's own blocks.
    let (units_x, units_y) = if scan.len() == 1 {
        let c = &comps[scan[0].0];
        let cw = (width * c.h).div_ceil(hmax);
        let ch = (height * c.v).div_ceil(vmax);
        (cw.div_ceil(8), ch.div_ceil(8))
    } else {
        (mcux, mcuy)
    };
    let total = units_x * units_y;
    let mut coef = [0f32; 64];
    let mut block = [0i32; 64];
    for unit in 0..total {
        if restart_interval > 0 && unit > 0 && unit % restart_interval == 0 {
            bits.restart()?;
            for &(ci, _, _) in scan {
                comps[ci].dc_pred = 0;
            }
        }
        let (ux, uy) = (unit % units_x, unit / units_x);
        for (ci, dct, act) in scan {
            let comp = &mut comps[*ci];
            let q = qt[comp.tq].ok_or_else(|| corrupt("missing quantisation table"))?;
            let (bx_n, by_n) = if scan.len() == 1 {
                (1, 1)
            } else {
                (comp.h, comp.v)
            };
            for by in 0..by_n {
                for bx in 0..bx_n {
                    coef.fill(0.0);
                    let t = u32::from(dct.decode(&mut bits)?);
                    if t > 16 {
                        return Err(corrupt("DC magnitude category too large"));
                    }
                    comp.dc_pred = comp.dc_pred.wrapping_add(bits.receive_extend(t));
                    coef[0] = comp.dc_pred as f32 * f32::from(q[0]);
                    let mut k = 1;
                    while k < 64 {
                        let rs = act.decode(&mut bits)?;
                        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
                        if s == 0 {
                            if r == 15 {
                                k += 16;
                                continue;
                            }
                            break;
                        }
                        k += r;
                        if k > 63 {
                            return Err(corrupt("AC coefficient index out of range"));
                        }
                        coef[ZIGZAG[k]] = bits.receive_extend(s) as f32 * f32::from(q[k]);
                        k += 1;
                    }
                    idct_12bit(&coef, cos, &mut block);
                    let (gx, gy) = if scan.len() == 1 {
                        (ux, uy)
                    } else {
                        (ux * comp.h + bx, uy * comp.v + by)
                    };
                    if gx < comp.bw && gy < comp.bh {
                        let stride = comp.bw * 8;
                        for y in 0..8 {
                            let row = (gy * 8 + y) * stride + gx * 8;
                            comp.plane[row..row + 8].copy_from_slice(&block[y * 8..y * 8 + 8]);
                        }
                    }
                }
            }
        }
    }
    // Continue after the entropy-coded data: the next marker that is not RSTn.
    let mut p = bits.pos;
    while p + 1 < data.len() {
        if data[p] == 0xFF
            && data[p + 1] != 0
            && !(0xD0..=0xD7).contains(&data[p + 1])
            && data[p + 1] != 0xFF
        {
            return Ok(p);
        }
        p += 1;
    }
    Ok(data.len())
}
