//! Golden-image tests: frames drawn natively by wgpu on whatever adapter the machine
//! has (lavapipe, Mesa's software Vulkan, on CI) and read back, pixel by pixel,
//! against gray levels computed here from the DICOM VOI LINEAR formula
//! (PS3.3 C.11.2.1.2.1), independently of the shader and of `VoiWindow`; colour
//! frames against the RGB values they were made of.
//! On a mismatch the drawn image is written as `<name>-actual.png` under
//! `CARGO_TARGET_TMPDIR` for a look.

use rangsi_render::{FrameTexels, Gpu, Orientation, Renderer, ViewState, VoiWindow, wgpu};

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

fn gpu() -> Gpu {
    pollster::block_on(Gpu::headless()).unwrap_or_else(|e| {
        panic!(
            "{e}: these tests need a Vulkan adapter; on a machine without a GPU install Mesa's \
             software one (apt-get install mesa-vulkan-drivers libvulkan1; `cargo xtask test` does)"
        )
    })
}

/// The standard's formula, written out: 0 below, 255 above, linear between.
fn expected_gray(modality: f64, center: f64, width: f64) -> u8 {
    let lo = center - 0.5 - (width - 1.0) / 2.0;
    let hi = center - 0.5 + (width - 1.0) / 2.0;
    let y = if modality <= lo {
        0.0
    } else if modality > hi {
        1.0
    } else {
        (modality - (center - 0.5)) / (width - 1.0) + 0.5
    };
    (y * 255.0).round() as u8
}

fn view(columns: u32, rows: u32, viewport: [u32; 2], center: f64, width: f64) -> ViewState {
    ViewState {
        viewport_px: [viewport[0] as f32, viewport[1] as f32],
        image_px: [columns as f32, rows as f32],
        pixel_aspect: 1.0,
        zoom: 1.0,
        pan_px: [0.0, 0.0],
        orientation: Orientation::default(),
        window: VoiWindow { center, width },
        rescale_slope: 1.0,
        rescale_intercept: -1024.0,
        invert: false,
    }
}

fn save_actual(name: &str, rgba: &[u8], width: u32, height: u32) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-actual.png"));
    if let Ok(file) = std::fs::File::create(&path) {
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        if let Ok(mut w) = enc.write_header() {
            let _ = w.write_image_data(rgba);
        }
    }
    path.display().to_string()
}

/// Compares gray output with `expected(x, y)`, ±1 level (float rounding on the GPU).
fn assert_gray(
    name: &str,
    rgba: &[u8],
    width: u32,
    height: u32,
    expected: impl Fn(u32, u32) -> u8,
) {
    let mut bad = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let i = ((y * width + x) * 4) as usize;
            let px = &rgba[i..i + 4];
            let want = expected(x, y);
            let ok = px[0] == px[1] && px[1] == px[2] && px[3] == 255 && px[0].abs_diff(want) <= 1;
            if !ok && bad.len() < 8 {
                bad.push(format!("({x},{y}) got {px:?} want {want}"));
            }
        }
    }
    if !bad.is_empty() {
        let path = save_actual(name, rgba, width, height);
        panic!("{name}: pixels differ (image: {path}):\n{}", bad.join("\n"));
    }
}

/// A 64×48 CT-like frame, stored = HU + 1024, not symmetric in any axis:
/// HU rises left to right from -1000 by 30 per column, plus 7 per row.
fn ct_frame() -> (u32, u32, Vec<i16>) {
    let (w, h) = (64u32, 48u32);
    let stored = (0..h)
        .flat_map(|y| (0..w).map(move |x| (-1000 + 30 * x as i32 + 7 * y as i32 + 1024) as i16))
        .collect();
    (w, h, stored)
}

fn hu(x: u32, y: u32) -> f64 {
    f64::from(-1000 + 30 * x as i32 + 7 * y as i32)
}

#[test]
fn ct_frame_is_windowed_per_the_standard_at_one_to_one() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, stored) = ct_frame();
    let image = r.upload(w, h, FrameTexels::I16(&stored)).expect("upload");
    let out = r
        .draw_offscreen(w, h, Some(&image), &view(w, h, [w, h], 40.0, 400.0))
        .expect("draw and read back");
    assert_gray("ct-40-400", &out, w, h, |x, y| {
        expected_gray(hu(x, y), 40.0, 400.0)
    });
}

#[test]
fn window_changes_reuse_the_uploaded_texture() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, stored) = ct_frame();
    let image = r.upload(w, h, FrameTexels::I16(&stored)).expect("upload");
    // Brain, lung, bone: the same GpuImage, only the uniform changes.
    for (c, ww) in [(40.0, 80.0), (-600.0, 1500.0), (400.0, 1800.0)] {
        let out = r
            .draw_offscreen(w, h, Some(&image), &view(w, h, [w, h], c, ww))
            .expect("draw and read back");
        assert_gray(&format!("ct-{c}-{ww}"), &out, w, h, |x, y| {
            expected_gray(hu(x, y), c, ww)
        });
    }
}

#[test]
fn unsigned_monochrome1_is_inverted() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h) = (40u32, 30u32);
    // 12-bit CR-like values; MONOCHROME1: high values dark.
    let stored: Vec<u16> = (0..w * h).map(|i| ((i * 97) % 4096) as u16).collect();
    let image = r.upload(w, h, FrameTexels::U16(&stored)).expect("upload");
    let mut v = view(w, h, [w, h], 2048.0, 4096.0);
    v.rescale_intercept = 0.0;
    v.invert = true;
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("mono1", &out, w, h, |x, y| {
        255 - expected_gray(f64::from(stored[(y * w + x) as usize]), 2048.0, 4096.0)
    });
}

#[test]
fn float_frames_use_the_f32_texture() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h) = (16u32, 16u32);
    let stored: Vec<f32> = (0..w * h).map(|i| i as f32 * 0.5 - 20.0).collect();
    let image = r.upload(w, h, FrameTexels::F32(&stored)).expect("upload");
    let mut v = view(w, h, [w, h], 20.0, 100.0);
    v.rescale_slope = 2.0;
    v.rescale_intercept = 3.0;
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("f32", &out, w, h, |x, y| {
        expected_gray(
            f64::from(stored[(y * w + x) as usize]) * 2.0 + 3.0,
            20.0,
            100.0,
        )
    });
}

#[test]
fn fitted_image_is_centred_on_black_with_top_left_kept() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, stored) = ct_frame();
    let image = r.upload(w, h, FrameTexels::I16(&stored)).expect("upload");
    // Twice as wide a viewport at the same height: 32 black columns each side.
    let (vw, vh) = (2 * w, h);
    let out = r
        .draw_offscreen(vw, vh, Some(&image), &view(w, h, [vw, vh], 40.0, 4000.0))
        .expect("draw and read back");
    let left = (vw - w) / 2;
    assert_gray("fit", &out, vw, vh, |x, y| {
        if x < left || x >= left + w {
            0
        } else {
            expected_gray(hu(x - left, y), 40.0, 4000.0)
        }
    });
}

#[test]
fn rotated_and_flipped_frames_land_where_screen_from_image_says() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, stored) = ct_frame();
    let image = r.upload(w, h, FrameTexels::I16(&stored)).expect("upload");
    // Rotated right at 1:1 in an h×w target: screen (x, y) shows image column y,
    // row h-1-x (the image's top-left pixel is now at the top right).
    let mut v = view(w, h, [h, w], 40.0, 4000.0);
    v.orientation = Orientation::default().rotated(1);
    let out = r
        .draw_offscreen(h, w, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("rotate-right", &out, h, w, |x, y| {
        expected_gray(hu(y, h - 1 - x), 40.0, 4000.0)
    });
    // Rotated left: column w-1-y, row x.
    v.orientation = Orientation::default().rotated(-1);
    let out = r
        .draw_offscreen(h, w, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("rotate-left", &out, h, w, |x, y| {
        expected_gray(hu(w - 1 - y, x), 40.0, 4000.0)
    });
    // Flipped horizontally and vertically, in a w×h target.
    let mut v = view(w, h, [w, h], 40.0, 4000.0);
    v.orientation = Orientation::default().flipped_horizontally();
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("flip-h", &out, w, h, |x, y| {
        expected_gray(hu(w - 1 - x, y), 40.0, 4000.0)
    });
    v.orientation = Orientation::default().flipped_vertically();
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_gray("flip-v", &out, w, h, |x, y| {
        expected_gray(hu(x, h - 1 - y), 40.0, 4000.0)
    });
}

#[test]
fn zoom_two_with_pan_shows_each_image_pixel_as_a_2x2_block() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, stored) = ct_frame();
    let image = r.upload(w, h, FrameTexels::I16(&stored)).expect("upload");
    // 1:1 fits exactly, so zoom 2 is two device pixels per image pixel. Pan so that
    // image (10, 6) lands at the target's top-left: pan = -(centre offset).
    let mut v = view(w, h, [w, h], 40.0, 4000.0);
    v.zoom = 2.0;
    let at = v.screen_from_image([10.0, 6.0]);
    v.pan_px = [-at[0], -at[1]];
    let (tw, th) = (32u32, 24u32);
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    let crop: Vec<u8> = (0..th)
        .flat_map(|y| {
            let row = (y * w * 4) as usize;
            out[row..row + (tw * 4) as usize].to_vec()
        })
        .collect();
    // Sample the centres of each 2×2 block only (bilinear blends at block edges).
    let mut bad = Vec::new();
    for by in 0..th / 2 {
        for bx in 0..tw / 2 {
            let i = (((2 * by) * tw + 2 * bx) * 4) as usize;
            let want = expected_gray(hu(10 + bx, 6 + by), 40.0, 4000.0);
            // The top-left texel of each block lies 0.25 px from the pixel centre.
            let near = [
                expected_gray(hu((10 + bx).saturating_sub(1), 6 + by), 40.0, 4000.0),
                expected_gray(hu(10 + bx, (6 + by).saturating_sub(1)), 40.0, 4000.0),
            ];
            let lo = near.iter().copied().chain([want]).min().unwrap_or(want);
            let hi = near.iter().copied().chain([want]).max().unwrap_or(want);
            if crop[i] + 1 < lo || crop[i] > hi + 1 {
                bad.push(format!("block ({bx},{by}) got {} want {lo}..{hi}", crop[i]));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn frames_over_the_memory_budget_are_reduced_not_refused() {
    let gpu = gpu();
    let mut r = Renderer::new(&gpu, FORMAT);
    // A per-frame budget a quarter of the frame's side fits: 16×12 texels of 2 bytes.
    // (A frame over the texture limit alone is tiled at full size: tests/tiles.rs.)
    r.limit_frame_bytes(16 * 12 * 2);
    let (w, h, stored) = ct_frame();
    let image = r
        .upload(w, h, FrameTexels::I16(&stored))
        .expect("reduced, not refused");
    assert_eq!((image.columns, image.rows, image.reduction), (64, 48, 4));
    assert_eq!(image.bytes(), 16 * 12 * 2);
    let out = r
        .draw_offscreen(w, h, Some(&image), &view(w, h, [w, h], 40.0, 4000.0))
        .expect("draw and read back");
    // The ramp is linear, and so are 4×4 means and bilinear interpolation between
    // them: away from the clamped border every pixel keeps its own value.
    let mut bad = Vec::new();
    for y in 2..h - 2 {
        for x in 2..w - 2 {
            let i = ((y * w + x) * 4) as usize;
            let want = expected_gray(hu(x, y), 40.0, 4000.0);
            if out[i].abs_diff(want) > 1 && bad.len() < 8 {
                bad.push(format!("({x},{y}) got {} want {want}", out[i]));
            }
        }
    }
    if !bad.is_empty() {
        let path = save_actual("reduced", &out, w, h);
        panic!("reduced frame differs (image: {path}):\n{}", bad.join("\n"));
    }
}

#[test]
fn wrong_sample_count_is_an_error_not_a_panic() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    assert!(r.upload(4, 4, FrameTexels::I16(&[0; 15])).is_err());
    assert!(r.upload(0, 0, FrameTexels::I16(&[])).is_err());
}

// ---- colour (Rgba8) ----

/// A 48×32 colour frame, every channel a different linear ramp (none symmetric):
/// R = 5x, G = 7y, B = 2x + 3y; the fourth byte is junk the renderer must ignore.
fn colour_frame() -> (u32, u32, Vec<u8>) {
    let (w, h) = (48u32, 32u32);
    let rgba = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| rgb(x, y).into_iter().chain([7u8])))
        .collect();
    (w, h, rgba)
}

fn rgb(x: u32, y: u32) -> [u8; 3] {
    [(5 * x) as u8, (7 * y) as u8, (2 * x + 3 * y) as u8]
}

fn colour_view(w: u32, h: u32, viewport: [u32; 2]) -> ViewState {
    let mut v = view(w, h, viewport, 128.0, 256.0);
    v.rescale_intercept = 0.0;
    v
}

/// Compares colour output with `expected(x, y)`, each channel ±`tolerance`.
fn assert_rgb(
    name: &str,
    out: &[u8],
    width: u32,
    height: u32,
    tolerance: u8,
    expected: impl Fn(u32, u32) -> Option<[u8; 3]>,
) {
    let mut bad = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let Some(want) = expected(x, y) else { continue };
            let i = ((y * width + x) * 4) as usize;
            let px = &out[i..i + 4];
            let ok = px[3] == 255 && (0..3).all(|c| px[c].abs_diff(want[c]) <= tolerance);
            if !ok && bad.len() < 8 {
                bad.push(format!("({x},{y}) got {px:?} want {want:?}"));
            }
        }
    }
    if !bad.is_empty() {
        let path = save_actual(name, out, width, height);
        panic!("{name}: pixels differ (image: {path}):\n{}", bad.join("\n"));
    }
}

#[test]
fn colour_frame_is_shown_as_is() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, rgba) = colour_frame();
    let image = r.upload(w, h, FrameTexels::Rgba8(&rgba)).expect("upload");
    assert_eq!(image.bytes(), u64::from(w * h * 4));
    assert_eq!(
        VoiWindow::COLOUR_AS_IS,
        VoiWindow {
            center: 128.0,
            width: 256.0
        }
    );
    let out = r
        .draw_offscreen(w, h, Some(&image), &colour_view(w, h, [w, h]))
        .expect("draw and read back");
    assert_rgb("colour", &out, w, h, 1, |x, y| Some(rgb(x, y)));
}

#[test]
fn colour_frame_rotates_flips_and_inverts_like_gray() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, rgba) = colour_frame();
    let image = r.upload(w, h, FrameTexels::Rgba8(&rgba)).expect("upload");
    // Rotated right: screen (x, y) shows image column y, row h-1-x.
    let mut v = colour_view(w, h, [h, w]);
    v.orientation = Orientation::default().rotated(1);
    let out = r
        .draw_offscreen(h, w, Some(&image), &v)
        .expect("draw and read back");
    assert_rgb("colour-rotate-right", &out, h, w, 1, |x, y| {
        Some(rgb(y, h - 1 - x))
    });
    // Flipped horizontally and inverted: 255 - each channel.
    let mut v = colour_view(w, h, [w, h]);
    v.orientation = Orientation::default().flipped_horizontally();
    v.invert = true;
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_rgb("colour-flip-invert", &out, w, h, 1, |x, y| {
        Some(rgb(w - 1 - x, y).map(|c| 255 - c))
    });
}

#[test]
fn window_level_on_colour_is_linear_contrast_per_channel() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    let (w, h, rgba) = colour_frame();
    let image = r.upload(w, h, FrameTexels::Rgba8(&rgba)).expect("upload");
    let mut v = colour_view(w, h, [w, h]);
    v.window = VoiWindow {
        center: 100.0,
        width: 120.0,
    };
    let out = r
        .draw_offscreen(w, h, Some(&image), &v)
        .expect("draw and read back");
    assert_rgb("colour-window", &out, w, h, 1, |x, y| {
        Some(rgb(x, y).map(|c| expected_gray(f64::from(c), 100.0, 120.0)))
    });
}

#[test]
fn colour_frames_over_the_memory_budget_are_reduced_per_channel() {
    let gpu = gpu();
    let mut r = Renderer::new(&gpu, FORMAT);
    r.limit_frame_bytes(12 * 8 * 4);
    let (w, h, rgba) = colour_frame();
    let image = r
        .upload(w, h, FrameTexels::Rgba8(&rgba))
        .expect("reduced, not refused");
    assert_eq!((image.reduction, image.bytes()), (4, 12 * 8 * 4));
    let out = r
        .draw_offscreen(w, h, Some(&image), &colour_view(w, h, [w, h]))
        .expect("draw and read back");
    // Linear ramps survive 4×4 means and bilinear interpolation, away from the
    // clamped border (±2: the means are rounded to bytes).
    assert_rgb("colour-reduced", &out, w, h, 2, |x, y| {
        (2..w - 2).contains(&x).then_some(())?;
        (2..h - 2).contains(&y).then_some(())?;
        Some(rgb(x, y))
    });
}

#[test]
fn colour_frame_of_the_wrong_size_is_an_error() {
    let gpu = gpu();
    let r = Renderer::new(&gpu, FORMAT);
    assert!(r.upload(2, 2, FrameTexels::Rgba8(&[0; 15])).is_err());
    assert!(r.upload(2, 2, FrameTexels::Rgba8(&[0; 12])).is_err());
    assert!(r.upload(2, 2, FrameTexels::Rgba8(&[0; 16])).is_ok());
}
