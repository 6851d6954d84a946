//! Golden-image tests of tiled frames: a frame larger than the (forced) 2D texture
//! limit is uploaded as a grid of tiles and must draw exactly, byte for byte, what the
//! same frame in one texture draws — at fit, 1:1, high zoom on a tile corner, every
//! rotation and flip, inversion, non-square pixels, colour, float, an sRGB target and
//! a budget-reduced frame — and, at 1:1, the stored values windowed by the
//! standard's formula written out here. The frames are noise (every texel differs
//! from its neighbours), so a seam, a texel read from the wrong tile or an
//! off-by-one at a tile border changes pixels. Runs on whatever Vulkan adapter the
//! machine has (lavapipe on CI). On a mismatch both images are written as PNGs under
//! `CARGO_TARGET_TMPDIR`.

use rangsi_render::{
    FrameTexels, Gpu, GpuImage, Orientation, Renderer, ViewState, VoiWindow, tile_grid, wgpu,
};

/// The forced texture limit: 3000×2000 frames become 3×2 tiles owning 1000² each.
const LIMIT: u32 = 1024;
const W: u32 = 3000;
const H: u32 = 2000;
/// Side of the square targets drawn.
const SIDE: u32 = 160;

fn gpu() -> Gpu {
    pollster::block_on(Gpu::headless()).unwrap_or_else(|e| {
        panic!("{e}: these tests need a Vulkan adapter (Mesa's lavapipe: apt-get install mesa-vulkan-drivers)")
    })
}

/// A renderer that keeps frames in one texture, and one forced to tile them.
fn renderers(gpu: &Gpu, format: wgpu::TextureFormat) -> (Renderer, Renderer) {
    let whole = Renderer::new(gpu, format);
    assert!(
        whole.max_texture_side() >= W,
        "the adapter's own limit must hold the whole frame"
    );
    let mut tiled = Renderer::new(gpu, format);
    tiled.limit_texture_side(LIMIT);
    (whole, tiled)
}

/// 16-bit noise, full range, from a hash of the position (deterministic).
fn noise(x: u32, y: u32) -> u16 {
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
    h ^= h >> 15;
    h = h.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 13;
    (h & 0xFFFF) as u16
}

fn u16_frame() -> Vec<u16> {
    (0..H)
        .flat_map(|y| (0..W).map(move |x| noise(x, y)))
        .collect()
}

fn base_view(window: VoiWindow) -> ViewState {
    ViewState {
        viewport_px: [SIDE as f32, SIDE as f32],
        image_px: [W as f32, H as f32],
        pixel_aspect: 1.0,
        zoom: 1.0,
        pan_px: [0.0, 0.0],
        orientation: Orientation::default(),
        window,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        invert: false,
    }
}

/// `v` zoomed to `scale` screen pixels per image pixel, with image point `at` at
/// screen point `screen`.
fn looking_at(mut v: ViewState, scale: f32, at: [f32; 2], screen: [f32; 2]) -> ViewState {
    v.zoom = v.zoom_for_scale(scale);
    v.pan_px = [0.0, 0.0];
    let now = v.screen_from_image(at);
    v.pan_px = [screen[0] - now[0], screen[1] - now[1]];
    v
}

/// The views every test draws: fit, 1:1 and high zooms centred on tile borders and
/// corners (with fractional pans), under all 8 rotations/flips, inverted or not.
fn views(window: VoiWindow) -> Vec<(String, ViewState)> {
    let c = SIDE as f32 / 2.0;
    let mut out = vec![("fit".to_owned(), base_view(window))];
    let spots: [(&str, f32, [f32; 2], [f32; 2]); 5] = [
        ("one-to-one-corner", 1.0, [1000.0, 1000.0], [c, c]),
        (
            "zoom-3.7-corner",
            3.7,
            [2000.0, 1000.0],
            [c + 0.31, c - 0.27],
        ),
        ("zoom-11-edge", 11.0, [1000.0, 1500.3], [c + 0.5, c]),
        ("zoom-0.3-edge", 0.3, [2000.0, 1000.0], [c + 0.13, c + 0.4]),
        ("zoom-1.5-corner", 1.5, [999.5, 1000.5], [c, c]),
    ];
    for (name, scale, at, screen) in spots {
        for k in 0..4u8 {
            for flip in [false, true] {
                let mut v = base_view(window);
                v.orientation = Orientation {
                    quarter_turns: k,
                    flip,
                };
                let v = looking_at(v, scale, at, screen);
                out.push((format!("{name}-r{k}-f{}", u8::from(flip)), v));
                let mut inverted = v;
                inverted.invert = true;
                out.push((format!("{name}-r{k}-f{}-inv", u8::from(flip)), inverted));
            }
        }
    }
    out
}

fn save(name: &str, rgba: &[u8]) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    if let Ok(file) = std::fs::File::create(&path) {
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), SIDE, SIDE);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        if let Ok(mut w) = enc.write_header() {
            let _ = w.write_image_data(rgba);
        }
    }
    path.display().to_string()
}

/// Draws `view` with both images and demands identical bytes.
fn assert_same(
    name: &str,
    (whole, tiled): (&Renderer, &Renderer),
    (one, many): (&GpuImage, &GpuImage),
    view: &ViewState,
) -> Vec<u8> {
    let a = whole
        .draw_offscreen(SIDE, SIDE, Some(one), view)
        .expect("draw one texture");
    let b = tiled
        .draw_offscreen(SIDE, SIDE, Some(many), view)
        .expect("draw tiles");
    if a != b {
        let differing = a
            .chunks(4)
            .zip(b.chunks(4))
            .enumerate()
            .filter(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| format!("({},{}) {p:?} vs {q:?}", i as u32 % SIDE, i as u32 / SIDE))
            .take(8)
            .collect::<Vec<_>>();
        let pa = save(&format!("tiles-{name}-whole"), &a);
        let pb = save(&format!("tiles-{name}-tiled"), &b);
        panic!(
            "{name}: tiled differs from one texture ({pa}, {pb}):\n{}",
            differing.join("\n")
        );
    }
    // Something was drawn: not a blank target.
    assert!(a.chunks(4).any(|p| p[0] != 0), "{name}: nothing drawn");
    a
}

#[test]
fn the_forced_limit_tiles_the_frame_at_full_resolution() {
    let gpu = gpu();
    let (whole, tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    let stored = u16_frame();
    let one = whole.upload(W, H, FrameTexels::U16(&stored)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::U16(&stored))
        .expect("tiles");
    assert_eq!((one.tile_count(), one.reduction), (1, 1));
    assert_eq!((many.tile_count(), many.reduction), (6, 1));
    assert_eq!(many.tile_rects(), tile_grid(W, H, LIMIT));
    // Each texel once, plus one-texel aprons either side of the two inner column
    // borders and the one inner row border.
    assert_eq!(many.bytes(), u64::from((W + 4) * (H + 2) * 2));
    assert_eq!(one.bytes(), u64::from(W * H * 2));
}

#[test]
fn tiled_u16_frames_draw_exactly_like_one_texture() {
    let gpu = gpu();
    let (whole, tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    let stored = u16_frame();
    let one = whole.upload(W, H, FrameTexels::U16(&stored)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::U16(&stored))
        .expect("tiles");
    let window = VoiWindow {
        center: 30000.0,
        width: 50000.0,
    };
    for (name, v) in views(window) {
        assert_same(&name, (&whole, &tiled), (&one, &many), &v);
    }
}

/// The standard's VOI LINEAR formula (PS3.3 C.11.2.1.2.1), written out.
fn expected_gray(x: f64, center: f64, width: f64) -> u8 {
    let y = if x <= center - 0.5 - (width - 1.0) / 2.0 {
        0.0
    } else if x > center - 0.5 + (width - 1.0) / 2.0 {
        1.0
    } else {
        (x - (center - 0.5)) / (width - 1.0) + 0.5
    };
    (y * 255.0).round() as u8
}

#[test]
fn tiled_monochrome1_at_one_to_one_shows_the_stored_values_across_a_tile_corner() {
    let gpu = gpu();
    let (_, tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    let stored = u16_frame();
    let many = tiled
        .upload(W, H, FrameTexels::U16(&stored))
        .expect("tiles");
    let (center, width) = (32768.0, 65536.0);
    let mut v = base_view(VoiWindow { center, width });
    v.invert = true;
    // 1:1 with the image's (1000, 1000), the corner of four tiles, at the target's
    // centre: screen pixel (x, y) shows image pixel (x + 920, y + 920) exactly.
    let half = (SIDE / 2) as f32;
    let v = looking_at(v, 1.0, [1000.0, 1000.0], [half, half]);
    let out = tiled
        .draw_offscreen(SIDE, SIDE, Some(&many), &v)
        .expect("draw");
    let o = 1000 - SIDE / 2;
    let mut bad = Vec::new();
    for y in 0..SIDE {
        for x in 0..SIDE {
            let i = ((y * SIDE + x) * 4) as usize;
            let want = 255 - expected_gray(f64::from(noise(x + o, y + o)), center, width);
            let got = &out[i..i + 4];
            if (got[0].abs_diff(want) > 1 || got[0] != got[1] || got[1] != got[2]) && bad.len() < 8
            {
                bad.push(format!("({x},{y}) got {got:?} want {want}"));
            }
        }
    }
    if !bad.is_empty() {
        let path = save("tiles-one-to-one-actual", &out);
        panic!(
            "1:1 differs from the stored values ({path}):\n{}",
            bad.join("\n")
        );
    }
}

#[test]
fn tiled_signed_float_and_colour_frames_and_non_square_pixels_match_one_texture() {
    let gpu = gpu();
    let (whole, tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    let pair = (&whole, &tiled);
    // Signed CT-like values with a rescale.
    let signed: Vec<i16> = u16_frame()
        .iter()
        .map(|&v| (v >> 4) as i16 - 2048)
        .collect();
    let one = whole.upload(W, H, FrameTexels::I16(&signed)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::I16(&signed))
        .expect("tiles");
    let mut v = base_view(VoiWindow {
        center: 40.0,
        width: 1500.0,
    });
    v.rescale_slope = 1.5;
    v.rescale_intercept = -1024.0;
    v.pixel_aspect = 1.37;
    for (name, view) in [
        ("i16-aspect-fit", v),
        (
            "i16-aspect-zoom",
            looking_at(v, 2.6, [2000.0, 1000.0], [80.2, 79.6]),
        ),
    ] {
        assert_same(name, pair, (&one, &many), &view);
    }
    // Float.
    let float: Vec<f32> = u16_frame()
        .iter()
        .map(|&v| f32::from(v) * 0.25 - 99.5)
        .collect();
    let one = whole.upload(W, H, FrameTexels::F32(&float)).expect("one");
    let many = tiled.upload(W, H, FrameTexels::F32(&float)).expect("tiles");
    let v = base_view(VoiWindow {
        center: 8000.0,
        width: 16000.0,
    });
    assert_same(
        "f32-zoom",
        pair,
        (&one, &many),
        &looking_at(v, 5.3, [1000.0, 1000.0], [81.7, 78.2]),
    );
    // Colour: three noise channels, junk in the fourth byte.
    let rgba: Vec<u8> = (0..H)
        .flat_map(|y| {
            (0..W).flat_map(move |x| {
                let n = noise(x, y);
                [n as u8, (n >> 8) as u8, (n as u8) ^ 0x5A, 7]
            })
        })
        .collect();
    let one = whole.upload(W, H, FrameTexels::Rgba8(&rgba)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::Rgba8(&rgba))
        .expect("tiles");
    assert_eq!(many.tile_count(), 6);
    for (name, view) in views(VoiWindow::COLOUR_AS_IS).into_iter().step_by(5) {
        assert_same(&format!("rgba-{name}"), pair, (&one, &many), &view);
    }
}

#[test]
fn tiled_frames_match_one_texture_on_an_srgb_target() {
    let gpu = gpu();
    let (whole, tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8UnormSrgb);
    let stored = u16_frame();
    let one = whole.upload(W, H, FrameTexels::U16(&stored)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::U16(&stored))
        .expect("tiles");
    let window = VoiWindow {
        center: 20000.0,
        width: 30000.0,
    };
    for (name, v) in views(window).into_iter().step_by(7) {
        assert_same(&format!("srgb-{name}"), (&whole, &tiled), (&one, &many), &v);
    }
}

#[test]
fn a_budget_reduced_frame_is_tiled_like_its_single_texture() {
    let gpu = gpu();
    let (mut whole, mut tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    // Half the side fits the budget: 1500×1000 texels, tiled with a limit of 600.
    let budget = 1500 * 1000 * 2;
    whole.limit_frame_bytes(budget);
    tiled.limit_frame_bytes(budget);
    tiled.limit_texture_side(600);
    let stored = u16_frame();
    let one = whole.upload(W, H, FrameTexels::U16(&stored)).expect("one");
    let many = tiled
        .upload(W, H, FrameTexels::U16(&stored))
        .expect("tiles");
    assert_eq!((one.reduction, one.tile_count()), (2, 1));
    assert_eq!((many.reduction, many.tile_count()), (2, 3 * 2));
    let window = VoiWindow {
        center: 30000.0,
        width: 50000.0,
    };
    for (name, v) in views(window).into_iter().step_by(3) {
        assert_same(
            &format!("reduced-{name}"),
            (&whole, &tiled),
            (&one, &many),
            &v,
        );
    }
}

#[test]
fn many_small_uneven_tiles_still_draw_exactly_like_one_texture() {
    let gpu = gpu();
    let (whole, mut tiled) = renderers(&gpu, wgpu::TextureFormat::Rgba8Unorm);
    // 700×301 with a limit of 64: 12 × 5 tiles of 59 or fewer texels (the last ones
    // narrower), so borders fall everywhere on screen, also at high zoom.
    tiled.limit_texture_side(64);
    let (w, h) = (700u32, 301u32);
    let stored: Vec<u16> = (0..h)
        .flat_map(|y| (0..w).map(move |x| noise(x, y)))
        .collect();
    let one = whole.upload(w, h, FrameTexels::U16(&stored)).expect("one");
    let many = tiled
        .upload(w, h, FrameTexels::U16(&stored))
        .expect("tiles");
    assert_eq!(many.tile_count(), tile_grid(w, h, 64).len());
    assert!(many.tile_count() >= 50, "{}", many.tile_count());
    let window = VoiWindow {
        center: 30000.0,
        width: 40000.0,
    };
    let mut base = base_view(window);
    base.image_px = [w as f32, h as f32];
    let c = SIDE as f32 / 2.0;
    for (i, (scale, at)) in [
        (0.2, [350.0, 150.0]),
        (1.0, [62.0, 62.0]),
        (2.3, [124.4, 120.6]),
        (9.0, [649.0, 300.5]),
        (0.9, [699.0, 0.5]),
    ]
    .into_iter()
    .enumerate()
    {
        for k in 0..4u8 {
            let mut v = base;
            v.orientation = Orientation {
                quarter_turns: k,
                flip: k % 2 == 0,
            };
            v.invert = k == 1;
            let v = looking_at(v, scale, at, [c + 0.21, c - 0.37]);
            assert_same(
                &format!("small-{i}-r{k}"),
                (&whole, &tiled),
                (&one, &many),
                &v,
            );
        }
    }
}
