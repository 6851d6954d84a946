//! 8-bit display rendering: Modality LUT (rescale or Modality LUT Sequence),
//! VOI (a window with LINEAR, LINEAR_EXACT or SIGMOID, or a VOI LUT Sequence
//! item; PS3.3 C.11), inversion (Presentation LUT Shape, else MONOCHROME1),
//! and for colour YBR to RGB and Palette Color lookup.

use crate::{
    Frame, FrameSamples, GreyscalePipeline, ImageDescription, PixelError, Voi, VoiFunction,
    VoiWindow,
};

/// A frame ready for display: 8 bits per channel, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered8 {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// 1 (grey) or 3 (RGB, interleaved).
    pub channels: u8,
    /// `width × height × channels` bytes.
    pub pixels: Vec<u8>,
}

/// Render a frame to 8-bit for display: rescale, linear VOI window (the
/// given one, else the first of `desc.windows`, else min/max of the frame),
/// MONOCHROME1 inverted; colour passes through (YBR converted to RGB,
/// palette applied). [`render_8bit_with`] with the default pipeline.
pub fn render_8bit(
    frame: &Frame,
    desc: &ImageDescription,
    window: Option<VoiWindow>,
) -> Result<Rendered8, PixelError> {
    render_8bit_with(
        frame,
        desc,
        &GreyscalePipeline::default(),
        window.map(Voi::Window),
    )
}

/// Render a frame to 8-bit for display with the whole greyscale pipeline:
/// Modality LUT Sequence (else rescale), then the VOI transform `voi` (else
/// the first window of `desc`, else the first VOI LUT, else min/max of the
/// frame), then inversion per Presentation LUT Shape (else MONOCHROME1).
/// A `Voi::Lut` index past the sequence is an error.
pub fn render_8bit_with(
    frame: &Frame,
    desc: &ImageDescription,
    pipeline: &GreyscalePipeline,
    voi: Option<Voi>,
) -> Result<Rendered8, PixelError> {
    let pixels = usize::from(frame.rows) * usize::from(frame.columns);
    let spp = usize::from(frame.samples_per_pixel);
    if frame.samples.len() != pixels * spp || !matches!(spp, 1 | 3) {
        return Err(PixelError::FrameMismatch {
            reason: format!(
                "{} samples for {}x{} with {} samples per pixel",
                frame.samples.len(),
                frame.columns,
                frame.rows,
                spp
            ),
        });
    }
    let (channels, out) = if spp == 3 {
        (3, render_colour(frame)?)
    } else if frame.photometric == "PALETTE COLOR" {
        let palette = desc.palette.as_ref().ok_or(PixelError::MissingAttribute {
            keyword: "RedPaletteColorLookupTableData",
        })?;
        (3, render_palette(frame, palette))
    } else {
        (1, render_grey(frame, desc, pipeline, voi)?)
    };
    Ok(Rendered8 {
        width: u32::from(frame.columns),
        height: u32::from(frame.rows),
        channels,
        pixels: out,
    })
}

fn render_grey(
    frame: &Frame,
    desc: &ImageDescription,
    pipeline: &GreyscalePipeline,
    voi: Option<Voi>,
) -> Result<Vec<u8>, PixelError> {
    let (slope, intercept) = (desc.rescale_slope, desc.rescale_intercept);
    let values: Vec<f64> = match &pipeline.modality_lut {
        Some(lut) => frame
            .samples
            .to_f64_vec()
            .into_iter()
            .map(|v| f64::from(lut.lookup(v)))
            .collect(),
        None => frame
            .samples
            .to_f64_vec()
            .into_iter()
            .map(|v| v * slope + intercept)
            .collect(),
    };
    let voi = match voi {
        Some(Voi::Window(w)) if !(w.width.is_finite() && w.center.is_finite() && w.width > 0.0) => {
            None
        }
        other => other,
    }
    .or_else(|| desc.windows.first().copied().map(Voi::Window))
    .or_else(|| (!pipeline.voi_luts.is_empty()).then_some(Voi::Lut(0)));
    let invert = pipeline.inverts(&frame.photometric);
    let map: Box<dyn Fn(f64) -> f64> = match voi {
        Some(Voi::Window(VoiWindow { center, width })) => match pipeline.voi_function {
            // DICOM linear VOI function; width 1 degenerates to a threshold.
            VoiFunction::Linear => {
                let c = center - 0.5;
                let w = (width - 1.0).max(0.0);
                Box::new(move |x| {
                    if x <= c - w / 2.0 {
                        0.0
                    } else if x > c + w / 2.0 || w == 0.0 {
                        255.0
                    } else {
                        ((x - c) / w + 0.5) * 255.0
                    }
                })
            }
            VoiFunction::LinearExact => Box::new(move |x| {
                if x <= center - width / 2.0 {
                    0.0
                } else if x > center + width / 2.0 {
                    255.0
                } else {
                    ((x - center) / width + 0.5) * 255.0
                }
            }),
            VoiFunction::Sigmoid => {
                Box::new(move |x| 255.0 / (1.0 + (-4.0 * (x - center) / width).exp()))
            }
        },
        Some(Voi::Lut(i)) => {
            let lut = pipeline
                .voi_luts
                .get(i)
                .ok_or_else(|| PixelError::InvalidAttribute {
                    keyword: "VOILUTSequence",
                    value: format!(
                        "item {} asked for, {} present",
                        i + 1,
                        pipeline.voi_luts.len()
                    ),
                })?;
            let scale = 255.0 / lut.max_output();
            Box::new(move |x| f64::from(lut.lookup(x)) * scale)
        }
        None => {
            let (lo, hi) = values
                .iter()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            if hi > lo {
                Box::new(move |x| (x - lo) / (hi - lo) * 255.0)
            } else {
                Box::new(|_| 128.0)
            }
        }
    };
    Ok(values
        .into_iter()
        .map(|v| {
            let y = to_u8(if v.is_nan() { 0.0 } else { map(v) });
            if invert { 255 - y } else { y }
        })
        .collect())
}

fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Colour samples scaled to 8 bits.
fn colour_8bit(frame: &Frame) -> Result<Vec<u8>, PixelError> {
    let down = u32::from(frame.bits_stored.saturating_sub(8));
    Ok(match &frame.samples {
        FrameSamples::U8(v) => v.clone(),
        FrameSamples::U16(v) => v
            .iter()
            .map(|&x| (u32::from(x) >> down).min(255) as u8)
            .collect(),
        FrameSamples::U32(v) => v.iter().map(|&x| (x >> down).min(255) as u8).collect(),
        _ => {
            return Err(PixelError::UnsupportedLayout {
                reason: "signed or float colour samples".to_owned(),
            });
        }
    })
}

fn render_colour(frame: &Frame) -> Result<Vec<u8>, PixelError> {
    let mut rgb = colour_8bit(frame)?;
    match frame.photometric.as_str() {
        "YBR_FULL" | "YBR_FULL_422" => rgb.chunks_exact_mut(3).for_each(ybr_full_to_rgb),
        "YBR_PARTIAL_422" | "YBR_PARTIAL_420" => {
            rgb.chunks_exact_mut(3).for_each(ybr_partial_to_rgb)
        }
        _ => {}
    }
    Ok(rgb)
}

/// ITU-R BT.601 full range (PS3.3 C.7.6.3.1.2).
fn ybr_full_to_rgb(p: &mut [u8]) {
    let (y, cb, cr) = (
        f64::from(p[0]),
        f64::from(p[1]) - 128.0,
        f64::from(p[2]) - 128.0,
    );
    p[0] = to_u8(y + 1.402 * cr);
    p[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
    p[2] = to_u8(y + 1.772 * cb);
}

/// BT.601 studio range (Y 16..235, chroma 16..240).
fn ybr_partial_to_rgb(p: &mut [u8]) {
    let (y, cb, cr) = (
        f64::from(p[0]) - 16.0,
        f64::from(p[1]) - 128.0,
        f64::from(p[2]) - 128.0,
    );
    p[0] = to_u8(1.164 * y + 1.596 * cr);
    p[1] = to_u8(1.164 * y - 0.392 * cb - 0.813 * cr);
    p[2] = to_u8(1.164 * y + 2.017 * cb);
}

fn render_palette(frame: &Frame, lut: &crate::PaletteLut) -> Vec<u8> {
    let n = lut.red.len().min(lut.green.len()).min(lut.blue.len());
    let shift = if lut.bits == 16 {
        // Some writers declare 16 bits but store 8-bit values.
        let max = lut
            .red
            .iter()
            .chain(&lut.green)
            .chain(&lut.blue)
            .copied()
            .max()
            .unwrap_or(0);
        if max > 255 { 8 } else { 0 }
    } else {
        0
    };
    let mut out = Vec::with_capacity(frame.samples.len() * 3);
    for i in 0..frame.samples.len() {
        let v = frame.samples.get_f64(i).unwrap_or(0.0) as i64 - i64::from(lut.first_mapped);
        let idx = v.clamp(0, n.saturating_sub(1) as i64) as usize;
        for ch in [&lut.red, &lut.green, &lut.blue] {
            out.push(ch.get(idx).map_or(0, |&e| (e >> shift).min(255) as u8));
        }
    }
    out
}
