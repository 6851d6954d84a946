//! Encoding rendered frames as JPEG or PNG, scaled to a viewport.

use bytes::Bytes;
use rangsi_pixels::Rendered8;

use crate::service::retrieve::ImageFormat;
use crate::service::{Result, ServiceError};

/// Nearest-neighbour-free box downscale to fit (w, h), keeping the aspect ratio.
fn fit(r: &Rendered8, viewport: Option<(u32, u32)>) -> (u32, u32, Vec<u8>) {
    let (vw, vh) = match viewport {
        Some((w, h)) if w > 0 && h > 0 && (w < r.width || h < r.height) => (w, h),
        _ => return (r.width, r.height, r.pixels.clone()),
    };
    let scale = f64::min(
        f64::from(vw) / f64::from(r.width),
        f64::from(vh) / f64::from(r.height),
    );
    let ow = ((f64::from(r.width) * scale).round() as u32).max(1);
    let oh = ((f64::from(r.height) * scale).round() as u32).max(1);
    let ch = r.channels as usize;
    let mut out = vec![0u8; ow as usize * oh as usize * ch];
    for y in 0..oh as usize {
        let y0 = y * r.height as usize / oh as usize;
        let y1 = (((y + 1) * r.height as usize) / oh as usize).max(y0 + 1);
        for x in 0..ow as usize {
            let x0 = x * r.width as usize / ow as usize;
            let x1 = (((x + 1) * r.width as usize) / ow as usize).max(x0 + 1);
            for c in 0..ch {
                let mut sum = 0u32;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        sum += u32::from(r.pixels[(yy * r.width as usize + xx) * ch + c]);
                    }
                }
                out[(y * ow as usize + x) * ch + c] = (sum / ((y1 - y0) * (x1 - x0)) as u32) as u8;
            }
        }
    }
    (ow, oh, out)
}

pub fn encode(
    r: &Rendered8,
    viewport: Option<(u32, u32)>,
    quality: Option<u8>,
    format: ImageFormat,
) -> Result<Bytes> {
    let (w, h, px) = fit(r, viewport);
    let err = |e: String| ServiceError::Internal(format!("encoding image: {e}"));
    match format {
        ImageFormat::Png => {
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, w, h);
                enc.set_color(if r.channels == 3 {
                    png::ColorType::Rgb
                } else {
                    png::ColorType::Grayscale
                });
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(|e| err(e.to_string()))?;
                writer
                    .write_image_data(&px)
                    .map_err(|e| err(e.to_string()))?;
            }
            Ok(Bytes::from(out))
        }
        ImageFormat::Jpeg => {
            let mut out = Vec::new();
            let enc = jpeg_encoder::Encoder::new(&mut out, quality.unwrap_or(90).clamp(1, 100));
            let ct = if r.channels == 3 {
                jpeg_encoder::ColorType::Rgb
            } else {
                jpeg_encoder::ColorType::Luma
            };
            let (w16, h16) = (
                u16::try_from(w).map_err(|e| err(e.to_string()))?,
                u16::try_from(h).map_err(|e| err(e.to_string()))?,
            );
            enc.encode(&px, w16, h16, ct)
                .map_err(|e| err(e.to_string()))?;
            Ok(Bytes::from(out))
        }
    }
}
