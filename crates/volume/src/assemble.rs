//! Volume assembly: from the images of one series (single-frame instances or the
//! frames of an Enhanced multi-frame object) to one or more regular voxel grids with
//! their patient geometry, or a reason why the series is not volumetric.
//!
//! Steps: keep the largest group of images that share orientation, size and pixel
//! spacing (the others — a localizer, a dose screen — are left out and said so);
//! split repeated positions into phases (4D: temporal position, trigger time,
//! b-value, echo, acquisition, stack); sort each phase along the slice normal; fit the
//! slice step (a step with an in-plane component is gantry/detector tilt: the grid is
//! sheared, and the geometry stays exact); irregular spacing is resampled to a
//! uniform grid by linear interpolation between neighbouring slices, and said so.

use crate::geometry::{Affine, Vec3, cross, dot, norm, scale, sub, unit};
use std::collections::BTreeMap;
use std::fmt;

/// Fewer images than this make no volume.
pub const MIN_SLICES: usize = 3;
/// Positions closer than this along the normal (mm) count as the same position.
const SAME_POSITION_MM: f64 = 0.01;
/// Direction cosines that differ by less than this per component are equal.
const SAME_ORIENTATION: f64 = 1e-3;
/// Resampling never makes more than this many slices per source slice.
const MAX_RESAMPLE_FACTOR: usize = 4;

/// Where an image comes from: the caller's instance index and the frame in it (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Source {
    pub instance: usize,
    pub frame: u32,
}

/// What assembly needs to know of one image (one frame).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SliceInfo {
    pub source: Source,
    /// Image Position (Patient), mm.
    pub position: Option<Vec3>,
    /// Image Orientation (Patient): row direction, then column direction.
    pub orientation: Option<[f64; 6]>,
    /// Pixel Spacing as DICOM orders it: between rows, then between columns (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub frame_of_reference: Option<String>,
    /// Attributes that may tell phases of a 4D series apart, in order of preference
    /// (name, value), e.g. ("TemporalPositionIdentifier", "3").
    pub phase_keys: Vec<(&'static str, String)>,
    /// Instance Number (then frame) orders images at one position when no key does.
    pub instance_number: Option<i64>,
}

/// What one slice of the assembled grid is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SliceSource {
    /// An image as it is.
    Exact(Source),
    /// `below × (1 − weight) + above × weight` (resampled irregular spacing).
    Blend {
        below: Source,
        above: Source,
        weight: f32,
    },
}

/// Something the reader should be told about a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Images of the series that are not part of the volume, and why.
    LeftOut { count: usize, reason: String },
    /// Slices are stacked along a direction that is not the image normal.
    Tilt { degrees: f64 },
    /// Slice gaps differ; the volume is resampled to a uniform spacing.
    Resampled {
        min_gap_mm: f64,
        max_gap_mm: f64,
        spacing_mm: f64,
        slices: usize,
    },
    /// The series holds several volumes at the same positions (4D); this is one of them.
    Phase {
        index: usize,
        count: usize,
        key: &'static str,
        value: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::LeftOut { count, reason } => write!(f, "{count} image(s) left out: {reason}"),
            Notice::Tilt { degrees } => write!(
                f,
                "gantry/detector tilt of {degrees:.1}°: the volume is sheared to keep the geometry exact"
            ),
            Notice::Resampled {
                min_gap_mm,
                max_gap_mm,
                spacing_mm,
                slices,
            } => write!(
                f,
                "irregular slice spacing ({min_gap_mm:.2}–{max_gap_mm:.2} mm): resampled to {slices} slices {spacing_mm:.2} mm apart by linear interpolation"
            ),
            Notice::Phase {
                index,
                count,
                key,
                value,
            } => {
                write!(f, "phase {} of {count} ({key} {value})", index + 1)
            }
        }
    }
}

/// Why a series (or the images left of it) make no volume.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotVolumetric {
    #[error("{found} image(s) with a common geometry; a volume needs at least {MIN_SLICES}")]
    TooFewSlices { found: usize },
    #[error("no image has {what}")]
    MissingGeometry { what: &'static str },
    #[error("colour images ({samples} samples per pixel) are not assembled into volumes")]
    Colour { samples: u16 },
    #[error("the images belong to {count} different frames of reference")]
    MixedFrameOfReference { count: usize },
    #[error("{images} images at {positions} positions that do not split into phases")]
    RepeatedPositions { images: usize, positions: usize },
    #[error("image positions do not lie on one line (off by {offset_mm:.2} mm)")]
    ScatteredPositions { offset_mm: f64 },
    #[error("Image Orientation (Patient) is degenerate")]
    DegenerateOrientation,
}

/// One regular voxel grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Columns (i), rows (j), slices (k).
    pub dims: [u32; 3],
    /// For each k, what the slice is made of.
    pub slices: Vec<SliceSource>,
    /// Voxel (i, j, k) → patient (mm, LPS). Voxel centres are at integer indices.
    pub patient_from_voxel: Affine,
    pub voxel_from_patient: Affine,
    /// Column spacing, row spacing, slice spacing along the normal (mm).
    pub spacing: Vec3,
    pub frame_of_reference: Option<String>,
    pub notices: Vec<Notice>,
}

impl Volume {
    /// Unit direction of the image normal (row × column): the direction of +k
    /// projected on it.
    pub fn normal(&self) -> Vec3 {
        let [a, b, _] = self.patient_from_voxel.columns;
        unit(cross(a, b)).unwrap_or([0.0, 0.0, 1.0])
    }

    /// The patient coordinate of the centre of the grid.
    pub fn center(&self) -> Vec3 {
        let c = self.dims.map(|d| (f64::from(d) - 1.0) / 2.0);
        self.patient_from_voxel.apply(c)
    }

    /// LPS labels of +i, +j, +k ("L", "P", "H" for an axial stack from feet to head).
    pub fn axis_labels(&self) -> [String; 3] {
        self.patient_from_voxel
            .columns
            .map(|c| crate::geometry::direction_label(unit(c).unwrap_or(c)))
    }

    /// Whether a (continuous) voxel coordinate lies inside the grid's voxel centres.
    pub fn contains(&self, v: Vec3) -> bool {
        (0..3).all(|a| v[a] >= -1e-9 && v[a] <= f64::from(self.dims[a]) - 1.0 + 1e-9)
    }

    /// Number of voxels.
    pub fn voxel_count(&self) -> u64 {
        self.dims.iter().map(|&d| u64::from(d)).product()
    }
}

/// The volumes of a series: one, or one per phase of a 4D series.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembly {
    pub volumes: Vec<Volume>,
}

/// Assembles the images of one series.
pub fn assemble(images: &[SliceInfo]) -> Result<Assembly, NotVolumetric> {
    if let Some(s) = images.iter().find(|s| s.samples_per_pixel > 1) {
        return Err(NotVolumetric::Colour {
            samples: s.samples_per_pixel,
        });
    }
    let mut left_out: Vec<Notice> = Vec::new();
    let with_geometry: Vec<&SliceInfo> = images
        .iter()
        .filter(|s| s.position.is_some() && s.orientation.is_some())
        .collect();
    if with_geometry.is_empty() {
        return Err(NotVolumetric::MissingGeometry {
            what: "Image Position and Orientation (Patient)",
        });
    }
    if with_geometry.len() < images.len() {
        left_out.push(Notice::LeftOut {
            count: images.len() - with_geometry.len(),
            reason: "no Image Position/Orientation (Patient)".into(),
        });
    }
    let main = largest_group(&with_geometry, &mut left_out);
    if main.len() < MIN_SLICES {
        return Err(NotVolumetric::TooFewSlices { found: main.len() });
    }
    if main[0].pixel_spacing.is_none() {
        return Err(NotVolumetric::MissingGeometry {
            what: "Pixel Spacing",
        });
    }
    let frames: std::collections::BTreeSet<&str> = main
        .iter()
        .filter_map(|s| s.frame_of_reference.as_deref())
        .collect();
    if frames.len() > 1 {
        return Err(NotVolumetric::MixedFrameOfReference {
            count: frames.len(),
        });
    }
    let iop = main[0].orientation.unwrap_or_default();
    let row: Vec3 = [iop[0], iop[1], iop[2]];
    let col: Vec3 = [iop[3], iop[4], iop[5]];
    let (Some(row), Some(col)) = (unit(row), unit(col)) else {
        return Err(NotVolumetric::DegenerateOrientation);
    };
    let Some(normal) = unit(cross(row, col)) else {
        return Err(NotVolumetric::DegenerateOrientation);
    };
    let phases = split_phases(&main, normal)?;
    let count = phases.len();
    let mut volumes = Vec::with_capacity(count);
    for (index, (label, phase)) in phases.into_iter().enumerate() {
        let mut v = build(&phase, row, col, normal)?;
        let mut notices = left_out.clone();
        if let Some((key, value)) = label {
            notices.push(Notice::Phase {
                index,
                count,
                key,
                value,
            });
        }
        notices.append(&mut v.notices);
        v.notices = notices;
        volumes.push(v);
    }
    Ok(Assembly { volumes })
}

fn same_orientation(a: &[f64; 6], b: &[f64; 6]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= SAME_ORIENTATION)
}

fn same_spacing(a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (0..2).all(|k| (a[k] - b[k]).abs() <= 1e-4 * a[k].abs().max(1.0)),
        (None, None) => true,
        _ => false,
    }
}

/// The largest set of images with one orientation, size and pixel spacing (the first
/// such set on a tie); the rest are reported in `left_out`.
fn largest_group<'a>(images: &[&'a SliceInfo], left_out: &mut Vec<Notice>) -> Vec<&'a SliceInfo> {
    let mut groups: Vec<Vec<&SliceInfo>> = Vec::new();
    for &s in images {
        let o = s.orientation.unwrap_or_default();
        match groups.iter_mut().find(|g| {
            let h = g[0];
            same_orientation(&h.orientation.unwrap_or_default(), &o)
                && h.rows == s.rows
                && h.columns == s.columns
                && same_spacing(h.pixel_spacing, s.pixel_spacing)
        }) {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    let best = (0..groups.len())
        .rev()
        .max_by_key(|&g| groups[g].len())
        .unwrap_or(0);
    let main = groups.swap_remove(best);
    let others: usize = groups.iter().map(Vec::len).sum();
    if others > 0 {
        left_out.push(Notice::LeftOut {
            count: others,
            reason: "another orientation, size or pixel spacing than the rest of the series".into(),
        });
    }
    main
}

type Phase<'a> = (Option<(&'static str, String)>, Vec<&'a SliceInfo>);

/// Splits images at repeated positions into phases, each with one image per position.
fn split_phases<'a>(
    images: &[&'a SliceInfo],
    normal: Vec3,
) -> Result<Vec<Phase<'a>>, NotVolumetric> {
    let mut order: Vec<&SliceInfo> = images.to_vec();
    let along = |s: &SliceInfo| dot(s.position.unwrap_or_default(), normal);
    order.sort_by(|a, b| along(a).total_cmp(&along(b)));
    // Runs of images at the same position.
    let mut positions: Vec<Vec<&SliceInfo>> = Vec::new();
    for s in order {
        match positions.last_mut() {
            Some(run) if (along(s) - along(run[0])).abs() <= SAME_POSITION_MM => run.push(s),
            _ => positions.push(vec![s]),
        }
    }
    if positions.iter().all(|p| p.len() == 1) {
        return Ok(vec![(None, images.to_vec())]);
    }
    let key_names: Vec<&'static str> = {
        let mut names: Vec<&'static str> = Vec::new();
        for s in images {
            for (k, _) in &s.phase_keys {
                if !names.contains(k) {
                    names.push(k);
                }
            }
        }
        names
    };
    for key in key_names {
        // Every image must have the key, and it must be distinct within a position.
        let value = |s: &SliceInfo| {
            s.phase_keys
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        };
        if images.iter().any(|s| value(s).is_none()) {
            continue;
        }
        let distinct = positions.iter().all(|p| {
            let mut vs: Vec<String> = p.iter().filter_map(|s| value(s)).collect();
            vs.sort();
            vs.dedup();
            vs.len() == p.len()
        });
        if !distinct {
            continue;
        }
        let mut by_value: BTreeMap<PhaseOrder, Vec<&SliceInfo>> = BTreeMap::new();
        for &s in images {
            let v = value(s).unwrap_or_default();
            by_value.entry(PhaseOrder(v)).or_default().push(s);
        }
        if by_value.values().all(|g| g.len() >= MIN_SLICES) {
            return Ok(by_value
                .into_iter()
                .map(|(v, g)| (Some((key, v.0)), g))
                .collect());
        }
    }
    // No key: equal runs split by Instance Number order.
    let m = positions[0].len();
    if positions.iter().all(|p| p.len() == m) {
        let mut phases: Vec<Vec<&SliceInfo>> = vec![Vec::new(); m];
        for mut run in positions {
            run.sort_by_key(|s| (s.instance_number.unwrap_or(i64::MAX), s.source));
            for (p, s) in run.into_iter().enumerate() {
                phases[p].push(s);
            }
        }
        return Ok(phases
            .into_iter()
            .enumerate()
            .map(|(p, g)| (Some(("InstanceNumber order", (p + 1).to_string())), g))
            .collect());
    }
    Err(NotVolumetric::RepeatedPositions {
        images: images.len(),
        positions: positions.len(),
    })
}

/// Orders phase values numerically when they are numbers, else as text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PhaseOrder(String);

impl Ord for PhaseOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0.trim().parse::<f64>(), other.0.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => a.total_cmp(&b).then_with(|| self.0.cmp(&other.0)),
            _ => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for PhaseOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One phase (one image per position) to a grid.
fn build(
    images: &[&SliceInfo],
    row: Vec3,
    col: Vec3,
    normal: Vec3,
) -> Result<Volume, NotVolumetric> {
    if images.len() < MIN_SLICES {
        return Err(NotVolumetric::TooFewSlices {
            found: images.len(),
        });
    }
    let mut sorted: Vec<&SliceInfo> = images.to_vec();
    let along = |s: &SliceInfo| dot(s.position.unwrap_or_default(), normal);
    sorted.sort_by(|a, b| along(a).total_cmp(&along(b)));
    let n = sorted.len();
    let d: Vec<f64> = sorted.iter().map(|s| along(s)).collect();
    let p0 = sorted[0].position.unwrap_or_default();
    let pn = sorted[n - 1].position.unwrap_or_default();
    let span = d[n - 1] - d[0];
    if span.is_nan() || span <= 0.0 {
        return Err(NotVolumetric::RepeatedPositions {
            images: n,
            positions: 1,
        });
    }
    // Patient displacement per mm along the normal (the stacking direction).
    let per_mm = scale(sub(pn, p0), 1.0 / span);
    let ps = sorted[0].pixel_spacing.unwrap_or([1.0, 1.0]);
    // Every position must lie on the line p0 + t·per_mm.
    let tolerance = (0.5 * ps[0].min(ps[1])).max(0.1);
    let mut worst: f64 = 0.0;
    for (s, &dk) in sorted.iter().zip(&d) {
        let expected = crate::geometry::add(p0, scale(per_mm, dk - d[0]));
        worst = worst.max(norm(sub(s.position.unwrap_or_default(), expected)));
    }
    if worst > tolerance {
        return Err(NotVolumetric::ScatteredPositions { offset_mm: worst });
    }
    let mut notices = Vec::new();
    let in_plane = norm(sub(per_mm, scale(normal, dot(per_mm, normal))));
    let tilt = in_plane.atan2(dot(per_mm, normal)).to_degrees();
    if tilt.abs() > 0.01 {
        notices.push(Notice::Tilt { degrees: tilt });
    }
    let gaps: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).collect();
    let min_gap = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let max_gap = gaps.iter().copied().fold(0.0, f64::max);
    let mean_gap = span / (n - 1) as f64;
    let regular = gaps
        .iter()
        .all(|g| (g - mean_gap).abs() <= (0.01 * mean_gap).max(0.005));
    let slices: Vec<SliceSource>;
    let spacing;
    if regular {
        spacing = mean_gap;
        slices = sorted
            .iter()
            .map(|s| SliceSource::Exact(s.source))
            .collect();
    } else {
        let wanted = (span / min_gap).round() as usize + 1;
        let count = wanted.clamp(n, MAX_RESAMPLE_FACTOR * n);
        spacing = span / (count - 1) as f64;
        slices = (0..count)
            .map(|t| {
                let p = d[0] + t as f64 * spacing;
                let a = d
                    .partition_point(|&x| x <= p + 1e-9)
                    .saturating_sub(1)
                    .min(n - 1);
                if a + 1 >= n {
                    return SliceSource::Exact(sorted[n - 1].source);
                }
                let w = (p - d[a]) / (d[a + 1] - d[a]);
                if w <= 1e-6 {
                    SliceSource::Exact(sorted[a].source)
                } else if w >= 1.0 - 1e-6 {
                    SliceSource::Exact(sorted[a + 1].source)
                } else {
                    SliceSource::Blend {
                        below: sorted[a].source,
                        above: sorted[a + 1].source,
                        weight: w as f32,
                    }
                }
            })
            .collect();
        notices.push(Notice::Resampled {
            min_gap_mm: min_gap,
            max_gap_mm: max_gap,
            spacing_mm: spacing,
            slices: count,
        });
    }
    let patient_from_voxel = Affine {
        columns: [scale(row, ps[1]), scale(col, ps[0]), scale(per_mm, spacing)],
        translation: p0,
    };
    let voxel_from_patient = patient_from_voxel
        .inverse()
        .ok_or(NotVolumetric::DegenerateOrientation)?;
    Ok(Volume {
        dims: [sorted[0].columns, sorted[0].rows, slices.len() as u32],
        slices,
        patient_from_voxel,
        voxel_from_patient,
        spacing: [ps[1], ps[0], spacing],
        frame_of_reference: sorted[0].frame_of_reference.clone(),
        notices,
    })
}
