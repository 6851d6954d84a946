//! Assembly and MPR tests: synthetic acquisitions as scanners write them (axial,
//! coronal, sagittal, oblique, tilted, irregular, 4D, with a localizer mixed in), and a
//! phantom with known objects at known patient coordinates that must appear at the
//! right pixels, with the right orientation labels, in every MPR plane.

use crate::assemble::{
    MIN_SLICES, NotVolumetric, Notice, SliceInfo, SliceSource, Source, assemble,
};
use crate::geometry::{Vec3, add, cross, dot, norm, scale, sub, unit};
use crate::mpr::{Orientation, Plane, Raster, Slab, SlabMode, render};
use crate::synthetic::{Acquisition, voxels};
use crate::testrng::Rng;

fn axial(n: usize) -> Acquisition {
    Acquisition {
        row: [1.0, 0.0, 0.0],
        col: [0.0, 1.0, 0.0],
        first: [-100.0, -100.0, -60.0],
        n,
        size: 100,
        ps: 2.0,
        gap: 2.0,
        shift_per_slice: [0.0; 3],
    }
}

fn shuffled(mut v: Vec<SliceInfo>, seed: u64) -> Vec<SliceInfo> {
    let mut rng = Rng::new(seed);
    for i in (1..v.len()).rev() {
        let j = rng.below(i + 1);
        v.swap(i, j);
    }
    v
}

fn close(a: Vec3, b: Vec3, tol: f64) -> bool {
    (0..3).all(|k| (a[k] - b[k]).abs() <= tol)
}

#[test]
fn axial_series_sorts_whatever_the_arrival_order() {
    let acq = axial(40);
    for seed in 0..20 {
        let a = assemble(&shuffled(acq.slices(), seed)).expect("volumetric");
        assert_eq!(a.volumes.len(), 1);
        let v = &a.volumes[0];
        assert_eq!(v.dims, [100, 100, 40]);
        assert!(v.notices.is_empty(), "{:?}", v.notices);
        for (k, s) in v.slices.iter().enumerate() {
            assert_eq!(
                *s,
                SliceSource::Exact(Source {
                    instance: k,
                    frame: 0
                })
            );
        }
        assert_eq!(v.axis_labels(), ["L".to_string(), "P".into(), "H".into()]);
        assert!(close(v.spacing, [2.0, 2.0, 2.0], 1e-9));
    }
}

#[test]
fn geometry_round_trips_for_random_orientations_and_tilts() {
    let mut rng = Rng::new(99);
    for case in 0..300 {
        let row = unit(rng.vec3(1.0)).expect("nonzero");
        let col = unit(cross(unit(rng.vec3(1.0)).expect("nonzero"), row)).expect("nonzero");
        let normal = cross(row, col);
        let tilt = if case % 2 == 0 {
            0.0
        } else {
            rng.range(-0.4, 0.4)
        };
        let acq = Acquisition {
            row,
            col,
            first: rng.vec3(300.0),
            n: 3 + rng.below(30),
            size: 16 + rng.below(64) as u32,
            ps: rng.range(0.2, 3.0),
            gap: rng.range(0.3, 6.0),
            shift_per_slice: scale(row, tilt),
        };
        let a = assemble(&shuffled(acq.slices(), case)).expect("volumetric");
        let v = &a.volumes[0];
        assert!(dot(v.normal(), normal) > 0.999);
        for k in 0..acq.n {
            // The first pixel of each slice is voxel (0, 0, k), both ways.
            let p = acq.position(k);
            assert!(
                close(v.patient_from_voxel.apply([0.0, 0.0, k as f64]), p, 1e-6),
                "case {case}"
            );
            assert!(
                close(v.voxel_from_patient.apply(p), [0.0, 0.0, k as f64], 1e-6),
                "case {case}"
            );
        }
        for _ in 0..10 {
            let x = [
                rng.range(0.0, 50.0),
                rng.range(0.0, 50.0),
                rng.range(0.0, 20.0),
            ];
            let back = v.voxel_from_patient.apply(v.patient_from_voxel.apply(x));
            assert!(close(back, x, 1e-6), "case {case}");
        }
        let tilted = v.notices.iter().any(|n| matches!(n, Notice::Tilt { .. }));
        assert_eq!(
            tilted,
            tilt.abs() * acq.ps > 0.0 && tilt != 0.0,
            "case {case}: {:?}",
            v.notices
        );
    }
}

#[test]
fn gantry_tilt_reports_the_angle_and_keeps_exact_positions() {
    // 10° tilt: each 5 mm slice step moves 5·tan(10°) mm posteriorly.
    let mut acq = axial(30);
    acq.gap = 5.0;
    acq.shift_per_slice = [0.0, 5.0 * 10f64.to_radians().tan(), 0.0];
    let v = &assemble(&acq.slices()).expect("volumetric").volumes[0];
    let tilt = v.notices.iter().find_map(|n| match n {
        Notice::Tilt { degrees } => Some(*degrees),
        _ => None,
    });
    assert!((tilt.expect("tilt notice") - 10.0).abs() < 1e-6);
    assert!(v.notices[0].to_string().contains("10.0°"));
    assert!(close(v.spacing, [2.0, 2.0, 5.0], 1e-9));
}

#[test]
fn missing_slice_is_resampled_and_said() {
    let acq = axial(20);
    let mut slices = acq.slices();
    slices.remove(7);
    let v = &assemble(&slices).expect("volumetric").volumes[0];
    assert_eq!(v.dims[2], 20);
    assert!(close(v.spacing, [2.0, 2.0, 2.0], 1e-9));
    assert_eq!(
        v.slices[7],
        SliceSource::Blend {
            below: Source {
                instance: 6,
                frame: 0
            },
            above: Source {
                instance: 8,
                frame: 0
            },
            weight: 0.5
        }
    );
    assert_eq!(
        v.slices[8],
        SliceSource::Exact(Source {
            instance: 8,
            frame: 0
        })
    );
    assert!(
        matches!(v.notices[0], Notice::Resampled { slices: 20, .. }),
        "{:?}",
        v.notices
    );
}

#[test]
fn localizer_is_left_out_and_said() {
    let mut slices = axial(12).slices();
    slices.push(SliceInfo {
        source: Source {
            instance: 12,
            frame: 0,
        },
        position: Some([-250.0, 0.0, 250.0]),
        orientation: Some([1.0, 0.0, 0.0, 0.0, 0.0, -1.0]),
        pixel_spacing: Some([1.0, 1.0]),
        rows: 512,
        columns: 512,
        samples_per_pixel: 1,
        ..Default::default()
    });
    let v = &assemble(&slices).expect("volumetric").volumes[0];
    assert_eq!(v.dims, [100, 100, 12]);
    assert!(matches!(&v.notices[0], Notice::LeftOut { count: 1, .. }));
}

#[test]
fn phases_split_by_temporal_position_or_instance_number() {
    let acq = axial(10);
    let mut slices = Vec::new();
    for phase in 0..3 {
        for mut s in acq.slices() {
            s.source.instance += 100 * phase;
            s.instance_number = Some((100 * phase + s.source.instance) as i64);
            s.phase_keys = vec![("TemporalPositionIdentifier", (phase + 1).to_string())];
            slices.push(s);
        }
    }
    let a = assemble(&shuffled(slices.clone(), 3)).expect("volumetric");
    assert_eq!(a.volumes.len(), 3);
    for (p, v) in a.volumes.iter().enumerate() {
        assert_eq!(v.dims[2], 10);
        assert!(
            v.slices
                .iter()
                .all(|s| matches!(s, SliceSource::Exact(src) if src.instance / 100 == p))
        );
        assert!(v.notices.iter().any(|n| matches!(n, Notice::Phase { index, count: 3, key: "TemporalPositionIdentifier", .. } if *index == p)));
    }
    for s in &mut slices {
        s.phase_keys.clear();
    }
    let a = assemble(&shuffled(slices, 4)).expect("volumetric");
    assert_eq!(a.volumes.len(), 3);
    assert!(
        a.volumes[2]
            .slices
            .iter()
            .all(|s| matches!(s, SliceSource::Exact(src) if src.instance >= 200))
    );
}

#[test]
fn not_volumetric_says_why() {
    let acq = axial(10);
    let two: Vec<SliceInfo> = acq.slices().into_iter().take(MIN_SLICES - 1).collect();
    assert_eq!(
        assemble(&two),
        Err(NotVolumetric::TooFewSlices { found: 2 })
    );
    let mut colour = acq.slices();
    colour[0].samples_per_pixel = 3;
    assert!(matches!(
        assemble(&colour),
        Err(NotVolumetric::Colour { samples: 3 })
    ));
    let no_spacing: Vec<SliceInfo> = acq
        .slices()
        .into_iter()
        .map(|mut s| {
            s.pixel_spacing = None;
            s
        })
        .collect();
    assert_eq!(
        assemble(&no_spacing),
        Err(NotVolumetric::MissingGeometry {
            what: "Pixel Spacing"
        })
    );
    let no_position: Vec<SliceInfo> = acq
        .slices()
        .into_iter()
        .map(|mut s| {
            s.position = None;
            s
        })
        .collect();
    assert!(matches!(
        assemble(&no_position),
        Err(NotVolumetric::MissingGeometry { .. })
    ));
    let mut scattered = acq.slices();
    scattered[4].position = Some(add(acq.position(4), [30.0, 0.0, 0.0]));
    assert!(matches!(
        assemble(&scattered),
        Err(NotVolumetric::ScatteredPositions { .. })
    ));
    let mut uneven = acq.slices();
    let mut dup = uneven[3].clone();
    dup.source.instance = 50;
    uneven.push(dup);
    assert!(matches!(
        assemble(&uneven),
        Err(NotVolumetric::RepeatedPositions { .. })
    ));
    for e in [
        NotVolumetric::TooFewSlices { found: 2 },
        NotVolumetric::Colour { samples: 3 },
    ] {
        assert!(!e.to_string().is_empty());
    }
}

/// A phantom: a 20 mm cube centred at the patient's left-posterior-head, a 10 mm
/// sphere at the right-anterior-foot, nothing elsewhere.
fn phantom(p: Vec3) -> f32 {
    let cube = [40.0, 30.0, 20.0];
    let sphere = [-30.0, -40.0, -25.0];
    if (0..3).all(|a| (p[a] - cube[a]).abs() <= 10.0) {
        1000.0
    } else if norm(sub(p, sphere)) <= 10.0 {
        500.0
    } else {
        0.0
    }
}

/// Whether `p` is within a margin of a surface of the phantom's objects, where
/// interpolated values are expected to lie between the two sides.
fn near_surface(p: Vec3) -> bool {
    let cube = [40.0, 30.0, 20.0];
    // Trilinear sampling mixes voxels up to one voxel diagonal (≤ 3.5 mm here) away.
    const MARGIN: f64 = 4.0;
    let inside_band = (0..3).all(|a| (p[a] - cube[a]).abs() <= 10.0 + MARGIN);
    let outside_core = (0..3).any(|a| (p[a] - cube[a]).abs() >= 10.0 - MARGIN);
    let s = norm(sub(p, [-30.0, -40.0, -25.0]));
    (inside_band && outside_core) || (10.0 - MARGIN..=10.0 + MARGIN).contains(&s)
}

fn check_phantom(acq: &Acquisition, name: &str) {
    let a = assemble(&shuffled(acq.slices(), 11)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let v = &a.volumes[0];
    let vox = voxels(v, &acq.pixels(&phantom));
    for (orientation, labels) in [
        (Orientation::Axial, ["R", "L", "A", "P"]),
        (Orientation::Coronal, ["R", "L", "H", "F"]),
        (Orientation::Sagittal, ["A", "P", "H", "F"]),
    ] {
        for center in [[40.0, 30.0, 20.0], [-30.0, -40.0, -25.0]] {
            let plane = Plane::standard(orientation, center);
            assert_eq!(
                plane.edge_labels(),
                labels.map(String::from),
                "{name} {orientation:?}"
            );
            let mm = 1.0;
            let out = render(
                v,
                &vox,
                &plane,
                Raster {
                    width: 80,
                    height: 80,
                    mm_per_pixel: mm,
                },
                Slab::THIN,
            );
            let mut checked = 0;
            for y in 0..80 {
                for x in 0..80 {
                    let u = (x as f64 + 0.5 - 40.0) * mm;
                    let w = (y as f64 + 0.5 - 40.0) * mm;
                    let p = plane.patient_at(u, w);
                    if near_surface(p) {
                        continue;
                    }
                    if let Some(got) = out.at(x, y) {
                        assert_eq!(got, phantom(p), "{name} {orientation:?} at {p:?}");
                        checked += 1;
                    }
                }
            }
            assert!(
                checked > 1000,
                "{name} {orientation:?}: only {checked} pixels inside the volume"
            );
        }
        // The cube is on the patient's left: right of the screen centre in axial and
        // coronal; posterior: right of centre in sagittal.
        let plane = Plane::standard(orientation, [0.0, 0.0, 20.0]);
        let (u, _, _) = plane.project([40.0, 30.0, 20.0]);
        assert!(u > 0.0, "{name} {orientation:?}");
    }
}

#[test]
fn phantom_appears_where_it_is_in_every_plane_for_every_acquisition() {
    check_phantom(
        &Acquisition {
            size: 80,
            ps: 2.0,
            gap: 2.0,
            n: 70,
            first: [-80.0, -80.0, -70.0],
            ..axial(0)
        },
        "axial",
    );
    check_phantom(
        &Acquisition {
            row: [1.0, 0.0, 0.0],
            col: [0.0, 0.0, -1.0],
            first: [-80.0, 80.0, 80.0],
            n: 60,
            size: 80,
            ps: 2.0,
            gap: -2.5, // sent from posterior to anterior: against the normal (+y)
            shift_per_slice: [0.0; 3],
        },
        "coronal",
    );
    check_phantom(
        &Acquisition {
            row: [0.0, 1.0, 0.0],
            col: [0.0, 0.0, -1.0],
            first: [70.0, -80.0, 80.0], // the normal (row × column) points to the patient's right
            n: 60,
            size: 80,
            ps: 2.0,
            gap: 2.5,
            shift_per_slice: [0.0; 3],
        },
        "sagittal",
    );
    let row = unit([1.0, 0.3, 0.0]).expect("nonzero");
    let col = unit(cross(cross(row, [0.0, 1.0, 0.1]), row)).expect("nonzero");
    check_phantom(
        &Acquisition {
            row,
            col,
            first: sub(
                [0.0, 0.0, 0.0],
                scale(add(row, add(col, cross(row, col))), 80.0),
            ),
            n: 80,
            size: 80,
            ps: 2.0,
            gap: 2.0,
            shift_per_slice: [0.0; 3],
        },
        "oblique",
    );
    check_phantom(
        &Acquisition {
            size: 80,
            ps: 2.0,
            gap: 2.0,
            n: 70,
            first: [-80.0, -100.0, -70.0],
            shift_per_slice: [0.0, 2.0 * 15f64.to_radians().tan(), 0.0],
            ..axial(0)
        },
        "tilted",
    );
}

#[test]
fn slab_modes_and_oblique_planes() {
    const R20: Raster = Raster {
        width: 20,
        height: 20,
        mm_per_pixel: 1.0,
    };
    let acq = Acquisition {
        size: 60,
        ps: 2.0,
        gap: 2.0,
        n: 60,
        first: [-60.0, -60.0, -60.0],
        ..axial(0)
    };
    let v = &assemble(&acq.slices()).expect("volumetric").volumes[0];
    let vox = voxels(v, &acq.pixels(&phantom));
    // An axial plane 14 mm below the cube's lower face: empty alone, the cube in a 40 mm MIP slab.
    let plane = Plane::standard(Orientation::Axial, [40.0, 30.0, -4.0]);
    let thin = render(
        v,
        &vox,
        &plane,
        R20,
        Slab {
            thickness_mm: 0.0,
            mode: SlabMode::Mip,
        },
    );
    let thick = render(
        v,
        &vox,
        &plane,
        R20,
        Slab {
            thickness_mm: 40.0,
            mode: SlabMode::Mip,
        },
    );
    let min = render(
        v,
        &vox,
        &plane,
        R20,
        Slab {
            thickness_mm: 40.0,
            mode: SlabMode::MinIp,
        },
    );
    let avg = render(
        v,
        &vox,
        &plane,
        R20,
        Slab {
            thickness_mm: 40.0,
            mode: SlabMode::Average,
        },
    );
    assert_eq!(thin.at(10, 10), Some(0.0));
    assert_eq!(thick.at(10, 10), Some(1000.0));
    assert_eq!(min.at(10, 10), Some(0.0));
    let a = avg.at(10, 10).expect("inside");
    assert!(a > 0.0 && a < 1000.0, "{a}");
    // Rotating the axial plane 90° about the patient's x axis gives the coronal plane.
    let rotated = Plane::standard(Orientation::Axial, [0.0; 3]).rotated([1.0, 0.0, 0.0], -90.0);
    let coronal = Plane::standard(Orientation::Coronal, [0.0; 3]);
    assert!(close(rotated.right, coronal.right, 1e-12) && close(rotated.down, coronal.down, 1e-12));
    // Crosshair: the coronal plane through y = 30 cuts the axial view in a horizontal line 30 mm down.
    let ax = Plane::standard(Orientation::Axial, [0.0, 0.0, 20.0]);
    let (p, d) = ax
        .intersection(&Plane::standard(Orientation::Coronal, [0.0, 30.0, 0.0]))
        .expect("cut");
    assert!((p[1] - 30.0).abs() < 1e-9 && d[1].abs() < 1e-12 && (d[0].abs() - 1.0).abs() < 1e-12);
    assert!(ax.intersection(&ax.moved(5.0)).is_none());
    assert_eq!(ax.moved(5.0).center, [0.0, 0.0, 25.0]);
}

#[test]
fn metadata_json_classic_and_enhanced() {
    use serde_json::json;
    let classic: Vec<serde_json::Value> = (0..3)
        .map(|k| {
            json!({
                "00200032": {"vr": "DS", "Value": [-100.0, -100.0, 2.5 * k as f64]},
                "00200037": {"vr": "DS", "Value": ["1", "0", "0", "0", "1", "0"]},
                "00280030": {"vr": "DS", "Value": [0.5, 0.5]},
                "00280010": {"vr": "US", "Value": [512]},
                "00280011": {"vr": "US", "Value": [512]},
                "00200052": {"vr": "UI", "Value": ["1.2.3"]},
                "00200013": {"vr": "IS", "Value": [k + 1]},
            })
        })
        .collect();
    let s = crate::json::slices_from_metadata(&classic);
    assert_eq!(s.len(), 3);
    assert_eq!(s[2].position, Some([-100.0, -100.0, 5.0]));
    assert_eq!(
        assemble(&s).expect("volumetric").volumes[0].spacing,
        [0.5, 0.5, 2.5]
    );

    let frame = |z: f64, t: u32| {
        json!({
            "00209113": {"vr": "SQ", "Value": [{"00200032": {"vr": "DS", "Value": [0.0, 0.0, z]}}]},
            "00209111": {"vr": "SQ", "Value": [{"00209128": {"vr": "UL", "Value": [t]}}]},
        })
    };
    let frames: Vec<serde_json::Value> = (1..=2)
        .flat_map(|t| (0..4).map(move |z| frame(3.0 * f64::from(z), t)))
        .collect();
    let enhanced = json!({
        "00280008": {"vr": "IS", "Value": [8]},
        "00280010": {"vr": "US", "Value": [64]},
        "00280011": {"vr": "US", "Value": [64]},
        "52009229": {"vr": "SQ", "Value": [{
            "00209116": {"vr": "SQ", "Value": [{"00200037": {"vr": "DS", "Value": [1, 0, 0, 0, 1, 0]}}]},
            "00289110": {"vr": "SQ", "Value": [{"00280030": {"vr": "DS", "Value": [0.8, 0.8]}}]}
        }]},
        "52009230": {"vr": "SQ", "Value": frames},
    });
    let s = crate::json::slices_from_metadata(&[enhanced]);
    assert_eq!(s.len(), 8);
    assert_eq!(
        s[5].source,
        Source {
            instance: 0,
            frame: 5
        }
    );
    let a = assemble(&s).expect("volumetric");
    assert_eq!(a.volumes.len(), 2, "two temporal positions");
    assert_eq!(
        a.volumes[1].slices[3],
        SliceSource::Exact(Source {
            instance: 0,
            frame: 7
        })
    );
    assert_eq!(a.volumes[0].spacing, [0.8, 0.8, 3.0]);

    // A lying Number of Frames makes no more images than there are frame groups.
    let lying = json!({
        "00280008": {"vr": "IS", "Value": [4_000_000_000u64]},
        "52009230": {"vr": "SQ", "Value": [frame(0.0, 1)]},
    });
    assert_eq!(crate::json::slices_from_metadata(&[lying]).len(), 1);
    let cine = json!({"00280008": {"vr": "IS", "Value": [1_000_000]}, "00200032": {"vr": "DS", "Value": [0, 0, 0]}});
    assert_eq!(crate::json::slices_from_metadata(&[cine]).len(), 1);
}
