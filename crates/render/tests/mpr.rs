//! Golden images of the MPR renderer: a phantom with known objects at known patient
//! coordinates, acquired synthetically (`rangsi_volume::synthetic`), uploaded slice by
//! slice and drawn by wgpu natively (lavapipe on CI), compared pixel by pixel with
//! `rangsi_volume::mpr::render` — the CPU reference, in f64 — windowed by the DICOM
//! VOI LINEAR formula. Each drawn image is kept as `<name>-actual.png` under
//! `CARGO_TARGET_TMPDIR`; on a mismatch `-expected.png` and `-diff.png` join it.

mod common;

use common::{SIZE, gpu, save};
use rangsi_render::{
    MprPaneCache, MprRenderer, MprView, PREVIEW_DIVISOR, PaneQuality, VoiWindow, VolumeFormat, wgpu,
};
use rangsi_volume::mpr::{Orientation, Plane, Raster, Slab, SlabMode, render};
use rangsi_volume::synthetic::{Acquisition, voxels};
use rangsi_volume::{Vec3, assemble};

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const MM_PER_PIXEL: f64 = 1.5;
const WINDOW: VoiWindow = VoiWindow {
    center: -500.0,
    width: 1000.0,
};
const INTERCEPT: f64 = -1000.0;

/// Air outside, a 20 mm cube of water (stored 1000 → 0 HU) at the patient's
/// left-posterior-head, a 10 mm sphere (stored 500 → −500 HU) right-anterior-foot.
fn phantom(p: Vec3) -> f32 {
    let cube = [40.0, 30.0, 20.0];
    let d = [p[0] + 30.0, p[1] + 40.0, p[2] + 25.0];
    if (0..3).all(|a| (p[a] - cube[a]).abs() <= 10.0) {
        1000.0
    } else if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() <= 10.0 {
        500.0
    } else {
        0.0
    }
}

fn gray(hu: f64) -> u8 {
    let (c, w) = (WINDOW.center, WINDOW.width);
    let y = ((hu - (c - 0.5)) / (w - 1.0) + 0.5).clamp(0.0, 1.0);
    (y * 255.0).round() as u8
}

struct Case<'a> {
    name: &'a str,
    plane: Plane,
    slab: Slab,
}

/// Draws every case of one acquisition and checks it against the CPU reference:
/// ±2 gray levels (f32 on the GPU against f64) wherever the reference has a sample;
/// pixels within one sample of the volume's edge may differ in coverage (at most
/// 1 % of them).
fn check(acq: &Acquisition, format: VolumeFormat, max_3d_side: Option<u32>, cases: &[Case<'_>]) {
    let gpu = gpu();
    let mut mpr = MprRenderer::new(&gpu, FORMAT);
    if let Some(side) = max_3d_side {
        mpr.limit_3d_side(side);
    }
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
            "the test must span bricks: {:?} within {side}",
            gpu_volume.layout
        );
    }
    assert!(!gpu_volume.layout.is_reduced());
    // Slices arrive out of order, as from the network.
    common::upload_out_of_order(&mpr, &mut gpu_volume, volume, &pixels, format);
    let n = volume.dims[2];
    assert_eq!(gpu_volume.loaded_slices(), n as usize);
    let panes_checked = check_panes(&mpr, &gpu_volume, volume, cases);
    assert!(panes_checked || cases.len() < 2);
    let step = volume.spacing.iter().copied().fold(f64::INFINITY, f64::min);
    for case in cases {
        let view = MprView {
            plane: case.plane,
            viewport_px: [SIZE, SIZE],
            mm_per_pixel: MM_PER_PIXEL,
            slab: case.slab,
            slab_step_mm: step,
            window: WINDOW,
            rescale_slope: 1.0,
            rescale_intercept: INTERCEPT,
            invert: false,
        };
        let actual = mpr
            .draw_offscreen(&gpu_volume, &volume.voxel_from_patient, &view)
            .expect("draw");
        let raster = Raster {
            width: SIZE as usize,
            height: SIZE as usize,
            mm_per_pixel: MM_PER_PIXEL,
        };
        let reference = render(volume, &reference_voxels, &case.plane, raster, case.slab);
        let mut expected = Vec::with_capacity(actual.len());
        let (mut coverage, mut bad, mut worst) = (0usize, Vec::new(), 0u8);
        let mut diff = Vec::with_capacity(actual.len());
        let mut objects = 0;
        for y in 0..SIZE as usize {
            for x in 0..SIZE as usize {
                let i = (y * SIZE as usize + x) * 4;
                let got = actual[i];
                let want = reference.at(x, y).map(|v| gray(f64::from(v) + INTERCEPT));
                let w = want.unwrap_or(0);
                expected.extend_from_slice(&[w, w, w, 255]);
                let d = got.abs_diff(w);
                diff.extend_from_slice(&[d.saturating_mul(40), 0, 0, 255]);
                if w > 0 {
                    objects += 1;
                }
                match want {
                    Some(w) if got.abs_diff(w) > 2 => {
                        worst = worst.max(got.abs_diff(w));
                        if bad.len() < 8 {
                            bad.push(format!("({x},{y}) got {got} want {w}"));
                        }
                    }
                    None if got != 0 => coverage += 1,
                    _ => {}
                }
                assert_eq!(actual[i + 3], 255);
            }
        }
        let name = format!("mpr-{}", case.name);
        save(&name, "actual", &actual);
        let too_many = coverage > (SIZE * SIZE) as usize / 100;
        if !bad.is_empty() || too_many || objects == 0 {
            save(&name, "expected", &expected);
            save(&name, "diff", &diff);
            panic!(
                "{name}: {} pixels off by up to {worst} ({}), {coverage} outside coverage, {objects} object pixels; images in {}",
                bad.len(),
                bad.join(", "),
                env!("CARGO_TARGET_TMPDIR")
            );
        }
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

#[test]
fn standard_oblique_and_slab_planes_match_the_cpu_reference() {
    let cube = [40.0, 30.0, 20.0];
    let sphere = [-30.0, -40.0, -25.0];
    let oblique = Plane::standard(Orientation::Axial, cube).rotated([1.0, 1.0, 0.0], 30.0);
    check(
        &axial_acquisition(),
        VolumeFormat::U16,
        None,
        &[
            Case {
                name: "axial",
                plane: Plane::standard(Orientation::Axial, cube),
                slab: Slab::THIN,
            },
            Case {
                name: "coronal",
                plane: Plane::standard(Orientation::Coronal, sphere),
                slab: Slab::THIN,
            },
            Case {
                name: "sagittal",
                plane: Plane::standard(Orientation::Sagittal, cube),
                slab: Slab::THIN,
            },
            Case {
                name: "oblique",
                plane: oblique,
                slab: Slab::THIN,
            },
            Case {
                name: "mip",
                plane: Plane::standard(Orientation::Axial, [0.0, 0.0, 0.0]),
                slab: Slab {
                    thickness_mm: 60.0,
                    mode: SlabMode::Mip,
                },
            },
            Case {
                name: "minip",
                plane: Plane::standard(Orientation::Coronal, [0.0, 30.0, 0.0]),
                slab: Slab {
                    thickness_mm: 12.0,
                    mode: SlabMode::MinIp,
                },
            },
            Case {
                name: "average",
                plane: Plane::standard(Orientation::Sagittal, [40.0, 0.0, 0.0]),
                slab: Slab {
                    thickness_mm: 30.0,
                    mode: SlabMode::Average,
                },
            },
        ],
    );
}

#[test]
fn tilted_acquisition_is_exact() {
    let acq = Acquisition {
        shift_per_slice: [0.0, 3.0 * 15f64.to_radians().tan(), 0.0],
        ..axial_acquisition()
    };
    check(
        &acq,
        VolumeFormat::I16,
        None,
        &[
            Case {
                name: "tilted-sagittal",
                plane: Plane::standard(Orientation::Sagittal, [40.0, 30.0, 20.0]),
                slab: Slab::THIN,
            },
            Case {
                name: "tilted-coronal",
                plane: Plane::standard(Orientation::Coronal, [-30.0, -40.0, -25.0]),
                slab: Slab::THIN,
            },
        ],
    );
}

#[test]
fn a_volume_deeper_than_the_texture_limit_spans_bricks() {
    let acq = Acquisition {
        size: 32,
        ps: 5.0,
        n: 70,
        gap: 2.0,
        first: [-80.0, -80.0, -60.0],
        ..axial_acquisition()
    };
    check(
        &acq,
        VolumeFormat::I16,
        Some(32),
        &[
            Case {
                name: "bricks-sagittal",
                plane: Plane::standard(Orientation::Sagittal, [40.0, 30.0, 20.0]),
                slab: Slab::THIN,
            },
            Case {
                name: "bricks-coronal-mip",
                plane: Plane::standard(Orientation::Coronal, [0.0, 0.0, 0.0]),
                slab: Slab {
                    thickness_mm: 150.0,
                    mode: SlabMode::Mip,
                },
            },
        ],
    );
}

/// The first two cases drawn as two panes of one target (what the viewer does: one
/// canvas, three panes) equal each drawn alone.
fn check_panes(
    mpr: &MprRenderer,
    gpu_volume: &rangsi_render::GpuVolume,
    volume: &rangsi_volume::Volume,
    cases: &[Case<'_>],
) -> bool {
    if cases.len() < 2 {
        return false;
    }
    let step = volume.spacing.iter().copied().fold(f64::INFINITY, f64::min);
    let view = |c: &Case<'_>| MprView {
        plane: c.plane,
        viewport_px: [SIZE, SIZE],
        mm_per_pixel: MM_PER_PIXEL,
        slab: c.slab,
        slab_step_mm: step,
        window: WINDOW,
        rescale_slope: 1.0,
        rescale_intercept: INTERCEPT,
        invert: false,
    };
    let (a, b) = (view(&cases[0]), view(&cases[1]));
    let alone_a = mpr
        .draw_offscreen(gpu_volume, &volume.voxel_from_patient, &a)
        .expect("draw");
    let alone_b = mpr
        .draw_offscreen(gpu_volume, &volume.voxel_from_patient, &b)
        .expect("draw");
    let both = mpr
        .draw_panes_offscreen(
            [2 * SIZE, SIZE],
            gpu_volume,
            &volume.voxel_from_patient,
            &[(a, [0, 0]), (b, [SIZE, 0])],
        )
        .expect("draw");
    let row = (SIZE * 4) as usize;
    for y in 0..SIZE as usize {
        let line = &both[y * 2 * row..(y + 1) * 2 * row];
        assert_eq!(
            &line[..row],
            &alone_a[y * row..(y + 1) * row],
            "left pane, row {y}"
        );
        assert_eq!(
            &line[row..],
            &alone_b[y * row..(y + 1) * row],
            "right pane, row {y}"
        );
    }
    // The second pane changes (its window here; a scroll elsewhere).
    let other = MprView {
        window: VoiWindow {
            center: WINDOW.center + 100.0,
            width: WINDOW.width,
        },
        ..b
    };
    check_cached_panes(mpr, gpu_volume, volume, [a, b], other, &both);
    true
}

/// [`MprPaneCache`]: the canvas is byte-identical to the panes drawn directly; an
/// unchanged frame draws no pane, a frame where one pane changed draws that one. A
/// preview frame draws the changed pane at reduced resolution, close to the full one,
/// and the next full-quality frame draws it again, byte-identical to the direct draw.
fn check_cached_panes(
    mpr: &MprRenderer,
    gpu_volume: &rangsi_render::GpuVolume,
    volume: &rangsi_volume::Volume,
    [a, b]: [MprView; 2],
    other: MprView,
    both: &[u8],
) {
    let vfp = &volume.voxel_from_patient;
    let size = [2 * SIZE, SIZE];
    let mut cache = MprPaneCache::new();
    let at = |cache: &mut MprPaneCache, b: MprView, quality| {
        mpr.draw_panes_cached_offscreen(
            cache,
            size,
            gpu_volume,
            vfp,
            &[(a, [0, 0]), (b, [SIZE, 0])],
            quality,
        )
        .expect("draw")
    };
    let cached = |cache: &mut MprPaneCache, b: MprView| at(cache, b, PaneQuality::Full);
    assert!(
        cached(&mut cache, b) == both,
        "cached panes differ from drawn ones"
    );
    assert_eq!(cache.last_drawn, 2);
    assert!(
        cached(&mut cache, b) == both,
        "kept panes differ from drawn ones"
    );
    assert_eq!(cache.last_drawn, 0, "nothing changed: nothing drawn");
    // One pane changes (a scroll in it): that one is drawn, the other copied.
    let direct = mpr
        .draw_panes_offscreen(size, gpu_volume, vfp, &[(a, [0, 0]), (other, [SIZE, 0])])
        .expect("draw");
    assert!(
        cached(&mut cache, other) == direct,
        "after one pane changed"
    );
    assert_eq!(cache.last_drawn, 1);
    assert_eq!(cache.previews(), 0);

    // A preview frame (the user drags): the changed pane only, at reduced resolution.
    let preview = at(&mut cache, b, PaneQuality::Preview);
    assert_eq!((cache.last_drawn, cache.previews()), (1, 1));
    let row = (2 * SIZE * 4) as usize;
    let half = (SIZE * 4) as usize;
    let (mut sum, mut lit, mut n) = (0u64, 0usize, 0u64);
    for y in 0..SIZE as usize {
        let line = y * row;
        assert_eq!(
            &preview[line..line + half],
            &both[line..line + half],
            "the unchanged pane is kept at full quality during a preview, row {y}"
        );
        for x in 0..SIZE as usize {
            let i = line + half + x * 4;
            let (got, want) = (preview[i], both[i]);
            sum += u64::from(got.abs_diff(want));
            n += 1;
            if want > 0 {
                lit += 1;
            }
        }
    }
    // A quarter of the pixels, stretched bilinearly: edges blur, nothing moves. The
    // full-resolution draw, checked against the CPU reference above, is the oracle.
    let mean = sum as f64 / n as f64;
    assert!(lit > 0, "the oracle pane shows something");
    assert!(
        mean < 4.0,
        "preview (1/{PREVIEW_DIVISOR} per side) differs from the full pane by {mean:.2} gray levels on average"
    );
    // Nothing changed, preview again: nothing drawn, the preview stays.
    assert!(at(&mut cache, b, PaneQuality::Preview) == preview);
    assert_eq!((cache.last_drawn, cache.previews()), (0, 1));
    // Input paused: the full-quality frame draws the previewed pane again, exactly.
    assert!(
        cached(&mut cache, b) == both,
        "full quality after a preview differs from the panes drawn directly"
    );
    assert_eq!((cache.last_drawn, cache.previews()), (1, 0));
}

/// The kept panes are copied texel for texel into an sRGB canvas too (the decode
/// and re-encode of the copy lose nothing).
#[test]
fn kept_panes_on_an_srgb_target_equal_panes_drawn_directly() {
    let gpu = gpu();
    let mpr = MprRenderer::new(&gpu, wgpu::TextureFormat::Rgba8UnormSrgb);
    let acq = axial_acquisition();
    let assembly = assemble(&acq.slices()).expect("volumetric");
    let volume = &assembly.volumes[0];
    let pixels = acq.pixels(&phantom);
    let mut gpu_volume = mpr
        .create_volume(volume.dims, VolumeFormat::U16, 1 << 30)
        .expect("layout");
    common::upload_out_of_order(&mpr, &mut gpu_volume, volume, &pixels, VolumeFormat::U16);
    let view = |o: Orientation, p: Vec3| MprView {
        plane: Plane::standard(o, p),
        viewport_px: [SIZE, SIZE],
        mm_per_pixel: MM_PER_PIXEL,
        slab: Slab::THIN,
        slab_step_mm: 2.5,
        window: WINDOW,
        rescale_slope: 1.0,
        rescale_intercept: INTERCEPT,
        invert: false,
    };
    let (a, b) = (
        view(Orientation::Axial, [40.0, 30.0, 20.0]),
        view(Orientation::Coronal, [-30.0, -40.0, -25.0]),
    );
    let both = mpr
        .draw_panes_offscreen(
            [2 * SIZE, SIZE],
            &gpu_volume,
            &volume.voxel_from_patient,
            &[(a, [0, 0]), (b, [SIZE, 0])],
        )
        .expect("draw");
    check_cached_panes(
        &mpr,
        &gpu_volume,
        volume,
        [a, b],
        view(Orientation::Sagittal, [40.0, 30.0, 20.0]),
        &both,
    );
}
