//! Encoding rendered frames as JPEG, PNG or GIF, cropped and scaled to a
//! viewport (PS3.18 8.3.5.1.3: source region first, then the viewport).

use bytes::Bytes;
use rangsi_pixels::Rendered8;

use crate::service::retrieve::{ImageFormat, Viewport};
use crate::service::{Result, ServiceError};

/// An 8-bit image being placed: 1 or 3 channels, rows top to bottom.
struct Plane {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

/// The source region of the viewport (the whole image when none), flipped
/// where its width or height is negative.
fn crop(r: &Rendered8, v: &Viewport) -> Result<Plane> {
    let (w, h, ch) = (r.width as i64, r.height as i64, usize::from(r.channels));
    let Some(region) = v.region else {
        return Ok(Plane {
            width: w as usize,
            height: h as usize,
            channels: ch,
            pixels: r.pixels.clone(),
        });
    };
    let (sx, sy) = (i64::from(region.x), i64::from(region.y));
    if sx >= w || sy >= h {
        return Err(ServiceError::BadRequest(format!(
            "viewport source region starts at ({sx},{sy}), outside the {w}x{h} image"
        )));
    }
    let sw = region.width.unwrap_or(w - sx);
    let sh = region.height.unwrap_or(h - sy);
    if sw == 0 || sh == 0 {
        return Err(ServiceError::BadRequest(
            "viewport source region is empty".into(),
        ));
    }
    let (cw, chh) = (
        sw.unsigned_abs().min((w - sx) as u64) as usize,
        sh.unsigned_abs().min((h - sy) as u64) as usize,
    );
    let mut pixels = Vec::with_capacity(cw * chh * ch);
    for y in 0..chh {
        let src_y = if sh < 0 { chh - 1 - y } else { y } + sy as usize;
        for x in 0..cw {
            let src_x = if sw < 0 { cw - 1 - x } else { x } + sx as usize;
            let at = (src_y * w as usize + src_x) * ch;
            pixels.extend_from_slice(&r.pixels[at..at + ch]);
        }
    }
    Ok(Plane {
        width: cw,
        height: chh,
        channels: ch,
        pixels,
    })
}

/// Scales to fit the viewport, keeping the aspect ratio: a source region is
/// scaled up or down to fill it, a whole image only ever down (a viewport is
/// then a maximum, as WADO-URI's rows and columns are). Each output pixel is the
/// mean of the source pixels it covers (one source pixel when enlarging).
fn fit(p: Plane, v: &Viewport) -> Plane {
    let scale = f64::min(
        f64::from(v.width) / p.width as f64,
        f64::from(v.height) / p.height as f64,
    );
    let scale = if v.region.is_some() {
        scale
    } else {
        scale.min(1.0)
    };
    let ow = ((p.width as f64 * scale).round() as usize).max(1);
    let oh = ((p.height as f64 * scale).round() as usize).max(1);
    if (ow, oh) == (p.width, p.height) {
        return p;
    }
    let ch = p.channels;
    let mut out = vec![0u8; ow * oh * ch];
    for y in 0..oh {
        let y0 = y * p.height / oh;
        let y1 = ((y + 1) * p.height / oh).max(y0 + 1);
        for x in 0..ow {
            let x0 = x * p.width / ow;
            let x1 = ((x + 1) * p.width / ow).max(x0 + 1);
            for c in 0..ch {
                let mut sum = 0u32;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        sum += u32::from(p.pixels[(yy * p.width + xx) * ch + c]);
                    }
                }
                out[(y * ow + x) * ch + c] = (sum / ((y1 - y0) * (x1 - x0)) as u32) as u8;
            }
        }
    }
    Plane {
        width: ow,
        height: oh,
        channels: ch,
        pixels: out,
    }
}

pub fn encode(
    r: &Rendered8,
    viewport: Option<Viewport>,
    quality: Option<u8>,
    format: ImageFormat,
) -> Result<Bytes> {
    let p = match viewport {
        Some(v) => fit(crop(r, &v)?, &v),
        None => Plane {
            width: r.width as usize,
            height: r.height as usize,
            channels: usize::from(r.channels),
            pixels: r.pixels.clone(),
        },
    };
    let err = |e: String| ServiceError::Internal(format!("encoding image: {e}"));
    let (w, h) = (p.width as u32, p.height as u32);
    match format {
        ImageFormat::Png => {
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, w, h);
                enc.set_color(if p.channels == 3 {
                    png::ColorType::Rgb
                } else {
                    png::ColorType::Grayscale
                });
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(|e| err(e.to_string()))?;
                writer
                    .write_image_data(&p.pixels)
                    .map_err(|e| err(e.to_string()))?;
            }
            Ok(Bytes::from(out))
        }
        ImageFormat::Jpeg => {
            let mut out = Vec::new();
            let enc = jpeg_encoder::Encoder::new(&mut out, quality.unwrap_or(90).clamp(1, 100));
            let ct = if p.channels == 3 {
                jpeg_encoder::ColorType::Rgb
            } else {
                jpeg_encoder::ColorType::Luma
            };
            let (w16, h16) = (
                u16::try_from(w).map_err(|e| err(e.to_string()))?,
                u16::try_from(h).map_err(|e| err(e.to_string()))?,
            );
            enc.encode(&p.pixels, w16, h16, ct)
                .map_err(|e| err(e.to_string()))?;
            Ok(Bytes::from(out))
        }
        ImageFormat::Gif => {
            let (w16, h16) = (
                u16::try_from(w).map_err(|e| err(e.to_string()))?,
                u16::try_from(h).map_err(|e| err(e.to_string()))?,
            );
            Ok(Bytes::from(gif(&p, w16, h16)))
        }
    }
}

/// Levels per channel of the fixed colour palette of colour GIFs (6 × 7 × 6 = 252).
const GIF_LEVELS: [usize; 3] = [6, 7, 6];

/// A GIF89a: grey images exactly (a 256-grey palette), colour images mapped to
/// the nearest colour of a fixed 252-colour palette (GIF has no more colours).
fn gif(p: &Plane, w: u16, h: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.pixels.len() / 2 + 1024);
    out.extend_from_slice(b"GIF89a");
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    // Global colour table of 256 entries, 8 bits per primary.
    out.extend_from_slice(&[0xF7, 0, 0]);
    let level = |i: usize, n: usize| ((i * 255 + (n - 1) / 2) / (n - 1)) as u8;
    let indices: Vec<u8> = if p.channels == 1 {
        for v in 0..=255u8 {
            out.extend_from_slice(&[v, v, v]);
        }
        p.pixels.clone()
    } else {
        let [nr, ng, nb] = GIF_LEVELS;
        for i in 0..256 {
            let i = i.min(nr * ng * nb - 1);
            let (r, g, b) = (i / (ng * nb), (i / nb) % ng, i % nb);
            out.extend_from_slice(&[level(r, nr), level(g, ng), level(b, nb)]);
        }
        let q = |v: u8, n: usize| (usize::from(v) * (n - 1) + 127) / 255;
        p.pixels
            .chunks_exact(3)
            .map(|c| (q(c[0], nr) * ng * nb + q(c[1], ng) * nb + q(c[2], nb)) as u8)
            .collect()
    };
    // Image descriptor: whole canvas, no local table, not interlaced.
    out.push(0x2C);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.push(0);
    out.push(8); // LZW minimum code size
    let data = lzw(&indices);
    for block in data.chunks(255) {
        out.push(block.len() as u8);
        out.extend_from_slice(block);
    }
    out.push(0);
    out.push(0x3B);
    out
}

/// GIF's variable-length LZW (codes of 9 to 12 bits, least significant bit first).
fn lzw(data: &[u8]) -> Vec<u8> {
    const CLEAR: u16 = 256;
    const END: u16 = 257;
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    let (mut acc, mut nbits) = (0u32, 0u32);
    let mut emit = |code: u16, size: u32, out: &mut Vec<u8>| {
        acc |= u32::from(code) << nbits;
        nbits += size;
        while nbits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    };
    let mut table: std::collections::HashMap<(u16, u8), u16> = std::collections::HashMap::new();
    let mut size = 9u32;
    let mut next = END + 1;
    emit(CLEAR, size, &mut out);
    let Some((&first, rest)) = data.split_first() else {
        emit(END, size, &mut out);
        if nbits > 0 {
            out.push(acc as u8);
        }
        return out;
    };
    let mut prefix = u16::from(first);
    for &b in rest {
        if let Some(&code) = table.get(&(prefix, b)) {
            prefix = code;
            continue;
        }
        emit(prefix, size, &mut out);
        if next == 4096 {
            emit(CLEAR, size, &mut out);
            table.clear();
            next = END + 1;
            size = 9;
        } else {
            if u32::from(next) >= 1 << size {
                size += 1;
            }
            table.insert((prefix, b), next);
            next += 1;
        }
        prefix = u16::from(b);
    }
    emit(prefix, size, &mut out);
    emit(END, size, &mut out);
    if nbits > 0 {
        out.push(acc as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::retrieve::SourceRegion;

    fn ramp(w: u32, h: u32) -> Rendered8 {
        Rendered8 {
            width: w,
            height: h,
            channels: 1,
            pixels: (0..w * h).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn region_is_clipped_to_the_image_and_flipped() {
        let r = ramp(4, 3);
        let v = Viewport {
            width: 100,
            height: 100,
            region: Some(SourceRegion {
                x: 2,
                y: 1,
                width: Some(i64::MIN),
                height: Some(i64::MAX),
            }),
        };
        let p = crop(&r, &v).expect("crop");
        // Columns 2..4 of rows 1..3, left-right flipped.
        assert_eq!((p.width, p.height), (2, 2));
        assert_eq!(p.pixels, [7, 6, 11, 10]);
        let out = fit(p, &v);
        assert_eq!((out.width, out.height), (100, 100));
    }

    #[test]
    fn whole_image_viewport_only_shrinks() {
        let v = Viewport {
            width: 8,
            height: 8,
            region: None,
        };
        let p = fit(crop(&ramp(4, 2), &v).expect("crop"), &v);
        assert_eq!((p.width, p.height), (4, 2));
        let v = Viewport {
            width: 2,
            height: 2,
            region: None,
        };
        let p = fit(crop(&ramp(4, 2), &v).expect("crop"), &v);
        // Box means of 2x2 blocks: (0+1+4+5)/4, (2+3+6+7)/4.
        assert_eq!((p.width, p.height, p.pixels), (2, 1, vec![2, 4]));
    }
}
