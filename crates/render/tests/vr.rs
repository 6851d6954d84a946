//! Golden images of the volume renderer: phantoms with known objects at known patient
//! coordinates, acquired synthetically (`rangsi_volume::synthetic`), uploaded slice by
//! slice into the MPR bricks and ray-cast by wgpu natively (lavapipe on CI), compared
//! with `rangsi_volume::vr::render_vr` — the CPU reference in f64, which evaluates the
//! transfer function exactly where the GPU reads a baked LUT.
//!
//! Tolerance: per channel ±3 of 255 on at least 99 % of the pixels and a mean absolute
//! error of at most 0.5 levels (f32 against f64, the 1024-entry LUT against the exact
//! function, a sample on a clip face counted on one side only). Every case is also
//! drawn with empty-space skipping off and must come out bit-identical: skipping only
//! leaves out samples that cannot change a pixel. Each drawn image is kept as
//! `<name>-actual.png` under `CARGO_TARGET_TMPDIR`; on a mismatch `-expected.png` and
//! `-diff.png` join it.

mod common;

use common::{SIZE, gpu, save};
use rangsi_render::{
    MprPaneCache, MprRenderer, MprView, PREVIEW_SCALE, Pane, PaneQuality, SliceTexels, VoiWindow,
    VolumeFormat, VrRenderer, VrView, wgpu,
};
use rangsi_volume::mpr::{Orientation, Plane, Slab};
use rangsi_volume::synthetic::{Acquisition, voxels};
use rangsi_volume::vr::{
    Camera, ClipBox, ControlPoint, Quality, TransferFunction, ViewFrom, VrMode, render_vr,
};
use rangsi_volume::{Vec3, Volume, assemble};

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const INTERCEPT: f64 = -1000.0;

/// Stored values (HU + 1000): air outside; a 50 mm soft-tissue sphere (40 HU) around
/// the origin holding a 24 mm bone cube (1000 HU) right-anterior-head of centre and a
/// 10 mm contrast-filled "vessel" sphere (300 HU) left-posterior-foot.
fn phantom(p: Vec3) -> f32 {
    let cube = [-10.0, -5.0, 12.0];
    let vessel = [22.0, 18.0, -20.0];
    let dist =
        |c: Vec3| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
    if (0..3).all(|a| (p[a] - cube[a]).abs() <= 12.0) {
        2000.0
    } else if dist(vessel) <= 10.0 {
        1300.0
    } else if dist([0.0; 3]) <= 50.0 {
        1040.0
    } else {
        0.0
    }
}

/// Soft tissue faint and warm, contrast brighter, bone opaque and white.
fn test_tf() -> TransferFunction {
    let p = |value, color, opacity_per_mm| ControlPoint {
        value,
        color,
        opacity_per_mm,
    };
    TransferFunction::new(vec![
        p(-1000.0, [0.0, 0.0, 0.0], 0.0),
        p(-300.0, [0.8, 0.45, 0.35], 0.0),
        p(40.0, [0.9, 0.55, 0.45], 0.008),
        p(300.0, [0.95, 0.3, 0.25], 0.08),
        p(700.0, [1.0, 1.0, 0.9], 0.5),
        p(3000.0, [1.0, 1.0, 1.0], 0.5),
    ])
}

struct Case {
    name: &'static str,
    camera: Camera,
    mode: VrMode,
    tf: TransferFunction,
    clip: Option<ClipBox>,
}

/// Uploads `acq` of the phantom (slices out of order, as from the network) and checks
/// every case against the CPU reference.
fn check(acq: &Acquisition, format: VolumeFormat, max_3d_side: Option<u32>, cases: &[Case]) {
    let gpu = gpu();
    let mut mpr = MprRenderer::new(&gpu, FORMAT);
    if let Some(side) = max_3d_side {
        mpr.limit_3d_side(side);
    }
    let mut vr = VrRenderer::new(&gpu, FORMAT);
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let pixels = acq.pixels(&phantom);
    let reference_voxels = voxels(volume, &pixels);
    let mut gpu_volume = mpr
        .create_volume(volume.dims, format, 1 << 30)
        .expect("layout");
    if let Some(side) = max_3d_side {
        assert!(
            gpu_volume.layout.bricks > 1,
            "must span bricks within {side}"
        );
    }
    common::upload_out_of_order(&mpr, &mut gpu_volume, volume, &pixels, format);
    for case in cases {
        let view = VrView {
            camera: case.camera,
            viewport_px: [SIZE, SIZE],
            mode: case.mode,
            transfer_function: case.tf.clone(),
            clip: case.clip.unwrap_or(ClipBox::whole(volume.dims)),
            step_mm: Quality::Full.step_mm(volume.spacing),
            rescale_slope: 1.0,
            rescale_intercept: INTERCEPT,
        };
        vr.set_empty_space_skipping(true);
        let actual = vr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        vr.set_empty_space_skipping(false);
        let unskipped = vr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        let name = format!("vr-{}", case.name);
        save(&name, "actual", &actual);
        compare(
            &name,
            volume,
            &reference_voxels,
            &view,
            &actual,
            Tolerance::Exact,
        );
        if actual != unskipped {
            save(&name, "unskipped", &unskipped);
            let differing = actual
                .iter()
                .zip(&unskipped)
                .filter(|(a, b)| a != b)
                .count();
            panic!("{name}: empty-space skipping changed {differing} bytes");
        }
    }
}

/// How close a drawn image must be to the reference.
#[derive(Clone, Copy)]
enum Tolerance {
    /// Pixel for pixel (the full-resolution ray caster).
    Exact,
    /// A preview upscaled from 1/`PREVIEW_SCALE` of the resolution: each pixel within
    /// the range the reference takes in its neighbourhood of that radius (bilinear
    /// upscaling interpolates between rays cast that far apart), and a mean error of
    /// at most 1.5 levels (edges are soft, areas right).
    Preview,
}

fn compare(
    name: &str,
    volume: &Volume,
    voxels: &[f32],
    view: &VrView,
    actual: &[u8],
    tolerance: Tolerance,
) {
    let reference = render_vr(volume, voxels, view);
    let to_u8 = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    let expected: Vec<u8> = reference
        .rgba
        .iter()
        .flat_map(|px| [to_u8(px[0]), to_u8(px[1]), to_u8(px[2]), 255])
        .collect();
    let (radius, mean_limit) = match tolerance {
        Tolerance::Exact => (0, 0.5),
        Tolerance::Preview => (PREVIEW_SCALE as usize, 1.5),
    };
    let side = SIZE as usize;
    let mut diff = Vec::with_capacity(actual.len());
    let (mut outside, mut sum, mut worst, mut lit) = (0usize, 0u64, 0u8, 0usize);
    let mut examples = Vec::new();
    for i in 0..side * side {
        let (x, y) = (i % side, i / side);
        let want = &expected[i * 4..i * 4 + 4];
        let got = &actual[i * 4..i * 4 + 4];
        // Distance of each channel from the reference's range around the pixel.
        let mut d = 0u8;
        for c in 0..3 {
            let (mut lo, mut hi) = (255u8, 0u8);
            for ny in y.saturating_sub(radius)..=(y + radius).min(side - 1) {
                for nx in x.saturating_sub(radius)..=(x + radius).min(side - 1) {
                    let v = expected[(ny * side + nx) * 4 + c];
                    (lo, hi) = (lo.min(v), hi.max(v));
                }
            }
            d = d.max(lo.saturating_sub(got[c]).max(got[c].saturating_sub(hi)));
        }
        sum += (0..3)
            .map(|c| u64::from(got[c].abs_diff(want[c])))
            .sum::<u64>();
        if d > 3 {
            outside += 1;
            if examples.len() < 6 {
                examples.push(format!(
                    "({x},{y}) got {:?} want {:?}",
                    &got[..3],
                    &want[..3]
                ));
            }
        }
        worst = worst.max(d);
        if want[..3].iter().any(|&c| c > 10) {
            lit += 1;
        }
        assert_eq!(got[3], 255, "{name}: opaque output");
        diff.extend_from_slice(&[d.saturating_mul(40), 0, 0, 255]);
    }
    let pixels = side * side;
    let mean = sum as f64 / (pixels * 3) as f64;
    eprintln!("{name}: {outside} pixels beyond ±3, worst {worst}, mean error {mean:.3}, {lit} lit");
    if outside * 100 > pixels || mean > mean_limit || lit * 20 < pixels {
        save(name, "expected", &expected);
        save(name, "diff", &diff);
        panic!(
            "{name}: {outside} pixels beyond ±3 (worst {worst}: {}), mean error {mean:.3}, {lit} lit pixels; images in {}",
            examples.join(", "),
            env!("CARGO_TARGET_TMPDIR")
        );
    }
}

fn axial_acquisition() -> Acquisition {
    Acquisition {
        row: [1.0, 0.0, 0.0],
        col: [0.0, 1.0, 0.0],
        first: [-80.0, -80.0, -60.0],
        n: 40,
        size: 64,
        ps: 2.5,
        gap: 3.0,
        shift_per_slice: [0.0; 3],
    }
}

/// Views of the phantom's centre, 1.6 × the fit of the whole grid.
fn camera(acq: &Acquisition, from: ViewFrom) -> Camera {
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let mut c = Camera::fit(&assembly.volumes[0], from, [SIZE, SIZE]).zoomed(1.6);
    c.view.center = [0.0, 0.0, 0.0];
    c
}

#[test]
fn vr_and_mip_from_standard_and_oblique_views_match_the_cpu_reference() {
    let acq = axial_acquisition();
    let anterior = camera(&acq, ViewFrom::Anterior);
    let oblique = anterior.orbit(35.0, 20.0);
    let composite = VrMode::Composite { shading: false };
    let shaded = VrMode::Composite { shading: true };
    let mip = VrMode::Mip {
        window: [300.0, 1600.0],
    };
    // The anterior half of the soft-tissue sphere cut away (j ≥ 30.3: y ≥ −4.25 mm),
    // opening the bone cube.
    let cut = ClipBox {
        min: [0.0, 30.3, 0.0],
        max: [63.0, 63.0, 39.0],
    };
    check(
        &acq,
        VolumeFormat::U16,
        None,
        &[
            Case {
                name: "anterior",
                camera: anterior,
                mode: composite,
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "lateral-shaded",
                camera: camera(&acq, ViewFrom::Left),
                mode: shaded,
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "oblique-shaded",
                camera: oblique,
                mode: shaded,
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "clip-shaded",
                camera: oblique,
                mode: shaded,
                tf: test_tf(),
                clip: Some(cut),
            },
            Case {
                name: "bone-preset",
                camera: anterior.orbit(-30.0, 10.0),
                mode: shaded,
                tf: TransferFunction::ct_bone(),
                clip: None,
            },
            Case {
                name: "mip-anterior",
                camera: anterior,
                mode: mip,
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "mip-lateral",
                camera: camera(&acq, ViewFrom::Left),
                mode: mip,
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "mip-oblique-zoomed-panned-clipped",
                camera: anterior.orbit(-40.0, 15.0).zoomed(1.3).panned_px(7.0, -5.0),
                mode: mip,
                tf: test_tf(),
                clip: Some(ClipBox {
                    min: [0.0, 0.0, 17.2],
                    max: [63.0, 63.0, 39.0],
                }),
            },
        ],
    );
}

#[test]
fn tilted_and_bricked_volumes_are_exact() {
    let tilted = Acquisition {
        shift_per_slice: [0.0, 3.0 * 15f64.to_radians().tan(), 0.0],
        ..axial_acquisition()
    };
    let oblique = camera(&tilted, ViewFrom::Anterior).orbit(25.0, -15.0);
    check(
        &tilted,
        VolumeFormat::I16,
        None,
        &[Case {
            name: "tilted-oblique-shaded",
            camera: oblique,
            mode: VrMode::Composite { shading: true },
            tf: test_tf(),
            clip: None,
        }],
    );
    let deep = Acquisition {
        size: 32,
        ps: 5.0,
        n: 70,
        gap: 2.0,
        ..axial_acquisition()
    };
    check(
        &deep,
        VolumeFormat::I16,
        Some(32),
        &[
            Case {
                name: "bricks-oblique-shaded",
                camera: camera(&deep, ViewFrom::Anterior).orbit(50.0, 25.0),
                mode: VrMode::Composite { shading: true },
                tf: test_tf(),
                clip: None,
            },
            Case {
                name: "bricks-mip-lateral",
                camera: camera(&deep, ViewFrom::Left),
                mode: VrMode::Mip {
                    window: [300.0, 1600.0],
                },
                tf: test_tf(),
                clip: None,
            },
        ],
    );
}

#[test]
fn skipping_follows_slices_as_they_arrive() {
    // The block atlas must follow the slices as they arrive, or the blocks of late
    // slices would stay "transparent" and their objects missing.
    let acq = axial_acquisition();
    let gpu = gpu();
    let mpr = MprRenderer::new(&gpu, FORMAT);
    let mut vr = VrRenderer::new(&gpu, FORMAT);
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let pixels = acq.pixels(&phantom);
    let full = voxels(volume, &pixels);
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::U16, 1 << 30)
        .expect("layout");
    let [nx, ny, nz] = volume.dims.map(|d| d as usize);
    let upload = |gpu_volume: &mut rangsi_render::GpuVolume, k: usize| {
        let v: Vec<u16> = full[k * nx * ny..(k + 1) * nx * ny]
            .iter()
            .map(|&x| x as u16)
            .collect();
        mpr.upload_slice(gpu_volume, k as u32, SliceTexels::U16(&v))
            .expect("upload");
    };
    let view = VrView {
        camera: camera(&acq, ViewFrom::Anterior).orbit(20.0, 10.0),
        viewport_px: [SIZE, SIZE],
        mode: VrMode::Composite { shading: true },
        transfer_function: test_tf(),
        clip: ClipBox::whole(volume.dims),
        // The interactive (coarser) step, as while dragging: a preview.
        step_mm: Quality::Interactive.step_mm(volume.spacing),
        rescale_slope: 1.0,
        rescale_intercept: INTERCEPT,
    };
    // Three batches from the feet up; after each the picture must match the voxels
    // that have arrived (the rest of the texture is still zero: air). The later
    // batches rebuild only the block layers they touch (scissored tiles of the atlas).
    let mut previous = Vec::new();
    for (batch, slices) in [(0, 0..nz / 2), (1, nz / 2..nz * 3 / 4), (2, nz * 3 / 4..nz)] {
        let arrived = slices.end;
        for k in slices {
            upload(&mut gpu_volume, k);
        }
        let mut partial = full.clone();
        partial[arrived * nx * ny..].fill(0.0);
        let image = vr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        let name = format!("vr-streaming-{batch}");
        save(&name, "actual", &image);
        compare(&name, volume, &partial, &view, &image, Tolerance::Preview);
        assert_ne!(image, previous, "{name}: the new slices show");
        previous = image;
    }
}

#[test]
fn an_srgb_target_shows_the_same_colours() {
    // Canvases are often sRGB: the shader writes linear values that encode back to
    // the reference's colours.
    let acq = axial_acquisition();
    let gpu = gpu();
    let mpr = MprRenderer::new(&gpu, FORMAT);
    let mut vr = VrRenderer::new(&gpu, wgpu::TextureFormat::Rgba8UnormSrgb);
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let full = voxels(volume, &acq.pixels(&phantom));
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::U16, 1 << 30)
        .expect("layout");
    let slice = (volume.dims[0] * volume.dims[1]) as usize;
    for (k, values) in full.chunks(slice).enumerate() {
        let v: Vec<u16> = values.iter().map(|&x| x as u16).collect();
        mpr.upload_slice(&mut gpu_volume, k as u32, SliceTexels::U16(&v))
            .expect("upload");
    }
    let view = VrView {
        camera: camera(&acq, ViewFrom::Right).orbit(0.0, -25.0),
        viewport_px: [SIZE, SIZE],
        mode: VrMode::Composite { shading: true },
        transfer_function: test_tf(),
        clip: ClipBox::whole(volume.dims),
        step_mm: Quality::Full.step_mm(volume.spacing),
        rescale_slope: 1.0,
        rescale_intercept: INTERCEPT,
    };
    let image = vr
        .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
        .expect("draw");
    save("vr-srgb-right", "actual", &image);
    compare(
        "vr-srgb-right",
        volume,
        &full,
        &view,
        &image,
        Tolerance::Exact,
    );
}

#[test]
fn interactive_views_are_previews_close_to_the_cpu_reference() {
    // While the user drags, the view's step is Quality::Interactive and the renderer
    // casts a quarter of the rays, upscaling them: each such picture must still match
    // the reference of the full-resolution view within the preview tolerance, and the
    // same view with previews off pixel for pixel.
    let acq = axial_acquisition();
    let gpu = gpu();
    let mpr = MprRenderer::new(&gpu, FORMAT);
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let pixels = acq.pixels(&phantom);
    let full = voxels(volume, &pixels);
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::U16, 1 << 30)
        .expect("layout");
    common::upload_out_of_order(&mpr, &mut gpu_volume, volume, &pixels, VolumeFormat::U16);
    let anterior = camera(&acq, ViewFrom::Anterior);
    let cases = [
        (
            "oblique-shaded",
            FORMAT,
            anterior.orbit(35.0, 20.0),
            VrMode::Composite { shading: true },
        ),
        (
            "mip-lateral",
            FORMAT,
            camera(&acq, ViewFrom::Left),
            VrMode::Mip {
                window: [300.0, 1600.0],
            },
        ),
        (
            "srgb-composite",
            wgpu::TextureFormat::Rgba8UnormSrgb,
            anterior.orbit(-30.0, 10.0),
            VrMode::Composite { shading: false },
        ),
    ];
    for (case, target, camera, mode) in cases {
        let mut vr = VrRenderer::new(&gpu, target);
        let view = VrView {
            camera,
            viewport_px: [SIZE, SIZE],
            mode,
            transfer_function: test_tf(),
            clip: ClipBox::whole(volume.dims),
            step_mm: Quality::Interactive.step_mm(volume.spacing),
            rescale_slope: 1.0,
            rescale_intercept: INTERCEPT,
        };
        let preview = vr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        let name = format!("vr-preview-{case}");
        save(&name, "actual", &preview);
        compare(&name, volume, &full, &view, &preview, Tolerance::Preview);
        vr.set_previews(false);
        let sharp = vr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        let name = format!("vr-interactive-{case}");
        save(&name, "actual", &sharp);
        compare(&name, volume, &full, &view, &sharp, Tolerance::Exact);
        assert_ne!(
            preview, sharp,
            "{case}: the preview is drawn at reduced resolution"
        );
    }
}

/// Benchmark hook, not an assertion: ms per 512×512 frame of a 512×512×300 volume
/// (0.7 × 0.7 × 1 mm, the phantom in air) for each mode, still and interactive, and of
/// MPR's three 512×512 panes in one pass. `cargo test -p rangsi-render --test vr --
/// --ignored --nocapture bench`; on lavapipe the numbers are CPU-bound. With
/// `RANGSI_VR_BENCH_UNSKIPPED=1` each VR case is also timed without empty-space
/// skipping (minutes a frame on lavapipe); `RANGSI_VR_BENCH_ONLY=MIP` (or `VR`, `VR
/// shaded`) times one mode.
#[test]
#[ignore = "benchmark: run by hand"]
fn bench_vr_512() {
    let gpu = gpu();
    let mpr = MprRenderer::new(&gpu, FORMAT);
    let mut vr = VrRenderer::new(&gpu, FORMAT);
    let acq = Acquisition {
        first: [-179.2, -179.2, -150.0],
        n: 300,
        size: 512,
        ps: 0.7,
        gap: 1.0,
        ..axial_acquisition()
    };
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::U16, 1 << 30)
        .expect("layout");
    let started = std::time::Instant::now();
    for k in 0..acq.n {
        let z = acq.position(k)[2];
        let mut slice = Vec::with_capacity(512 * 512);
        for j in 0..512 {
            for i in 0..512 {
                let p = [
                    acq.first[0] + acq.ps * f64::from(i),
                    acq.first[1] + acq.ps * f64::from(j),
                    z,
                ];
                slice.push(phantom(p) as u16);
            }
        }
        mpr.upload_slice(&mut gpu_volume, k as u32, SliceTexels::U16(&slice))
            .expect("upload");
    }
    eprintln!(
        "volume {:?} made and uploaded in {:.1} s on {}",
        volume.dims,
        started.elapsed().as_secs_f64(),
        gpu.adapter_name
    );
    let texture = rangsi_render::offscreen_target(&gpu.device, FORMAT, 512, 512);
    let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let camera = Camera::fit(volume, ViewFrom::Anterior, [512, 512]).orbit(30.0, 15.0);
    let modes = [
        (
            "MIP",
            VrMode::Mip {
                window: [300.0, 1600.0],
            },
        ),
        ("VR", VrMode::Composite { shading: false }),
        ("VR shaded", VrMode::Composite { shading: true }),
    ];
    let skipping_runs: &[bool] = if std::env::var_os("RANGSI_VR_BENCH_UNSKIPPED").is_some() {
        &[true, false]
    } else {
        &[true]
    };
    // Wall and CPU milliseconds a frame: at least 2 frames and 1 s after a warm-up
    // frame. The CPU time (all threads: lavapipe's rasterizer threads included) is the
    // steadier figure on a machine shared with other work.
    let time = |draw: &mut dyn FnMut()| {
        draw();
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        let (t, cpu) = (std::time::Instant::now(), cpu_seconds());
        let mut frames = 0u32;
        while frames < 2 || t.elapsed().as_secs_f64() < 1.0 {
            draw();
            let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
            frames += 1;
        }
        let per_frame = |s: f64| s * 1000.0 / f64::from(frames);
        (
            per_frame(t.elapsed().as_secs_f64()),
            per_frame(cpu_seconds() - cpu),
        )
    };
    let only = std::env::var("RANGSI_VR_BENCH_ONLY").unwrap_or_default();
    for (label, mode) in modes
        .into_iter()
        .filter(|(l, _)| only.is_empty() || only == *l)
    {
        for quality in [Quality::Full, Quality::Interactive] {
            for &skipping in skipping_runs {
                let view = VrView {
                    camera,
                    viewport_px: [512, 512],
                    mode,
                    transfer_function: test_tf(),
                    clip: ClipBox::whole(volume.dims),
                    step_mm: quality.step_mm(volume.spacing),
                    rescale_slope: 1.0,
                    rescale_intercept: INTERCEPT,
                };
                vr.set_empty_space_skipping(skipping);
                let (ms, cpu) = time(&mut || {
                    vr.draw(&target, &gpu_volume, &volume.voxel_from_patient, &view);
                });
                eprintln!(
                    "{label:>9} {quality:?} skipping {}: {ms:.1} ms/frame (cpu {cpu:.1} ms/frame)",
                    if skipping { "on " } else { "off" },
                );
            }
        }
    }
    // MPR: axial, coronal and sagittal through the centre, 512×512 each, one pass.
    let center = [0.0, 0.0, 0.0];
    let panes: Vec<(MprView, Pane)> = [
        Orientation::Axial,
        Orientation::Coronal,
        Orientation::Sagittal,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, orientation)| {
        let view = MprView {
            plane: Plane::standard(orientation, center),
            viewport_px: [512, 512],
            mm_per_pixel: 0.7,
            slab: Slab::THIN,
            slab_step_mm: 0.7,
            window: VoiWindow {
                center: 40.0,
                width: 400.0,
            },
            rescale_slope: 1.0,
            rescale_intercept: INTERCEPT,
            invert: false,
        };
        let pane = Pane {
            target_size: [1536, 512],
            origin: [512 * n as u32, 0],
            clear: n == 0,
        };
        (view, pane)
    })
    .collect();
    let wide = rangsi_render::offscreen_target(&gpu.device, FORMAT, 1536, 512);
    let wide = wide.create_view(&wgpu::TextureViewDescriptor::default());
    let (ms, cpu) = time(&mut || {
        mpr.draw_panes(&wide, &gpu_volume, &volume.voxel_from_patient, &panes);
    });
    eprintln!("MPR 3 panes of 512×512: {ms:.1} ms/frame (cpu {cpu:.1} ms/frame)");

    // The viewer's path: kept panes copied into a 1024² canvas, the axial pane scrolled
    // one slice a frame (one pane drawn) or the crosshair moved (two panes drawn), at
    // full quality and as previews (PaneQuality::Preview, while input lasts).
    let canvas = rangsi_render::offscreen_target(&gpu.device, FORMAT, 1024, 1024);
    let canvas = canvas.create_view(&wgpu::TextureViewDescriptor::default());
    let origins = [[0, 0], [512, 0], [0, 512]];
    for quality in [PaneQuality::Full, PaneQuality::Preview] {
        for (what, moved) in [
            ("scroll (1 pane drawn)", 1),
            ("crosshair (2 panes drawn)", 2),
        ] {
            let mut cache = MprPaneCache::new();
            let mut step = 0u32;
            let (ms, cpu) = time(&mut || {
                step += 1;
                let shift = if step.is_multiple_of(2) { 0.7 } else { 0.0 };
                let kept: Vec<(MprView, [u32; 2])> = panes
                    .iter()
                    .zip(origins)
                    .enumerate()
                    .map(|(n, ((view, _), origin))| {
                        let mut view = *view;
                        let moves = if moved == 1 { n == 0 } else { n > 0 };
                        if moves {
                            let normal = view.plane.normal();
                            for (c, n) in view.plane.center.iter_mut().zip(normal) {
                                *c += n * shift;
                            }
                        }
                        (view, origin)
                    })
                    .collect();
                mpr.draw_panes_cached(
                    &mut cache,
                    &canvas,
                    [1024, 1024],
                    &gpu_volume,
                    &volume.voxel_from_patient,
                    &kept,
                    quality,
                );
            });
            eprintln!(
                "MPR kept panes, {what}, {quality:?}: {ms:.1} ms/frame (cpu {cpu:.1} ms/frame)"
            );
        }
    }
}

/// CPU seconds this process has used, all threads (Linux `/proc/self/stat`, at 100
/// ticks a second); 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
