//! Editing the 3D view, host-testable: the histogram of a volume's modality values
//! (gathered slice by slice as frames land, so no copy of the voxels is kept), the
//! transfer-function editor's axes (value → x, opacity → y), the edits themselves
//! (move, add, remove a control point; shift the whole function), and the clip box
//! (per-axis voxel ranges; its 12 edges in patient space for the MPR outline).
//!
//! The transfer function and the clip box are `rangsi_volume::vr` types, drawn as
//! they are by the GPU ray caster; this module only decides how the UI changes them.

use rangsi_volume::geometry::{Affine, Vec3};
use rangsi_volume::vr::{ClipBox, ControlPoint, TransferFunction};

/// Counts of modality values in bins of `bin_width`, bin `k` covering
/// `[start + k·bin_width, start + (k+1)·bin_width)`; grows as values arrive.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub bin_width: f64,
    /// Index (in units of `bin_width` from 0) of the first bin.
    pub first: i64,
    pub counts: Vec<u64>,
}

/// Bins per histogram unit of rescale slope: 16 HU wide for CT (slope 1).
const BIN_RAW: f64 = 16.0;

impl Histogram {
    /// An empty histogram for stored values rescaled by `slope`.
    pub fn new(slope: f64) -> Histogram {
        let w = (slope.abs() * BIN_RAW).max(1e-6);
        Histogram {
            bin_width: if w.is_finite() { w } else { BIN_RAW },
            first: 0,
            counts: Vec::new(),
        }
    }

    /// Lower edge of the first bin.
    pub fn start(&self) -> f64 {
        self.first as f64 * self.bin_width
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds modality values (non-finite ones are skipped).
    pub fn add(&mut self, values: impl IntoIterator<Item = f64>) {
        for v in values {
            if !v.is_finite() {
                continue;
            }
            let k = (v / self.bin_width).floor() as i64;
            if self.counts.is_empty() {
                self.first = k;
                self.counts.push(0);
            }
            if k < self.first {
                let grow = (self.first - k) as usize;
                self.counts.splice(0..0, std::iter::repeat_n(0, grow));
                self.first = k;
            } else if k >= self.first + self.counts.len() as i64 {
                self.counts.resize((k - self.first + 1) as usize, 0);
            }
            self.counts[(k - self.first) as usize] += 1;
        }
    }

    /// Adds stored samples after the modality rescale.
    pub fn add_stored<T: Copy + Into<f64>>(&mut self, samples: &[T], slope: f64, intercept: f64) {
        self.add(samples.iter().map(|&x| x.into() * slope + intercept));
    }

    /// Lowest and highest value seen (bin edges); `None` while empty.
    pub fn range(&self) -> Option<(f64, f64)> {
        let lo = self.counts.iter().position(|&c| c > 0)?;
        let hi = self.counts.iter().rposition(|&c| c > 0)?;
        Some((
            self.start() + lo as f64 * self.bin_width,
            self.start() + (hi + 1) as f64 * self.bin_width,
        ))
    }
}

/// The editor's axes: modality values `lo..hi` across `width` units, opacity per mm
/// 0..1 from the bottom (`height`) to the top (0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EditorAxes {
    pub lo: f64,
    pub hi: f64,
    pub width: f64,
    pub height: f64,
}

impl EditorAxes {
    /// Axes over the volume's values (a 5 % margin each side), or over the transfer
    /// function's own range before any value is known.
    pub fn new(hist: &Histogram, tf: &TransferFunction, width: f64, height: f64) -> EditorAxes {
        let (lo, hi) = hist.range().or_else(|| tf.range()).unwrap_or((0.0, 1.0));
        let pad = ((hi - lo) * 0.05).max(1.0);
        EditorAxes {
            lo: lo - pad,
            hi: hi + pad,
            width,
            height,
        }
    }

    pub fn x_of(&self, value: f64) -> f64 {
        (value - self.lo) / (self.hi - self.lo) * self.width
    }

    pub fn value_at(&self, x: f64) -> f64 {
        self.lo + x / self.width * (self.hi - self.lo)
    }

    pub fn y_of(&self, opacity: f64) -> f64 {
        (1.0 - opacity) * self.height
    }

    pub fn opacity_at(&self, y: f64) -> f64 {
        (1.0 - y / self.height).clamp(0.0, 1.0)
    }

    /// Modality units per editor unit (a drag of `dx` moves a point this much × dx).
    pub fn value_per_unit(&self) -> f64 {
        (self.hi - self.lo) / self.width
    }
}

/// The fewest points the editor leaves (a function needs two to be a ramp).
pub const MIN_POINTS: usize = 2;

/// Moves point `index` to `value` and `opacity`, keeping its colour; returns its new
/// index (points stay sorted by value).
pub fn move_point(
    tf: &mut TransferFunction,
    index: usize,
    value: f64,
    opacity: f64,
) -> Option<usize> {
    let p = *tf.points().get(index)?;
    tf.set(
        index,
        ControlPoint {
            value,
            opacity_per_mm: opacity,
            ..p
        },
    )
}

/// Adds a point at `value` with `opacity` and the colour the function has there.
pub fn add_point(tf: &mut TransferFunction, value: f64, opacity: f64) -> Option<usize> {
    let [r, g, b, _] = tf.evaluate(value);
    tf.add(ControlPoint {
        value,
        color: [r, g, b],
        opacity_per_mm: opacity,
    })
}

/// Removes point `index` unless only [`MIN_POINTS`] are left.
pub fn remove_point(tf: &mut TransferFunction, index: usize) -> bool {
    tf.points().len() > MIN_POINTS && tf.remove(index).is_some()
}

/// The index of the point nearest editor position (x, y) within `radius` units.
pub fn hit(tf: &TransferFunction, axes: &EditorAxes, x: f64, y: f64, radius: f64) -> Option<usize> {
    tf.points()
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let px = axes.x_of(p.value).clamp(0.0, axes.width);
            (k, (px - x).hypot(axes.y_of(p.opacity_per_mm) - y))
        })
        .filter(|&(_, d)| d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

/// Sets one side of the clip box along `axis` (0 = i, 1 = j, 2 = k) to voxel
/// `index`, keeping min ≤ max (the other side follows when crossed) and the box
/// within the grid of `dims`.
pub fn set_clip(
    clip: &ClipBox,
    dims: [u32; 3],
    axis: usize,
    max_side: bool,
    index: f64,
) -> ClipBox {
    let mut c = *clip;
    let top = f64::from(dims[axis].max(1)) - 1.0;
    let v = index.clamp(0.0, top);
    if max_side {
        c.max[axis] = v;
        c.min[axis] = c.min[axis].min(v);
    } else {
        c.min[axis] = v;
        c.max[axis] = c.max[axis].max(v);
    }
    c.within(dims)
}

/// Whether the box is the whole grid (nothing clipped).
pub fn is_whole(clip: &ClipBox, dims: [u32; 3]) -> bool {
    *clip == ClipBox::whole(dims)
}

/// The 12 edges of the clip box in patient coordinates (mm), each as its two ends.
/// The box is of voxel centres, so its faces lie on the outermost kept voxels.
pub fn clip_edges(clip: &ClipBox, patient_from_voxel: &Affine) -> Vec<(Vec3, Vec3)> {
    let corner = |bits: usize| {
        let pick = |a: usize| {
            if bits >> a & 1 == 1 {
                clip.max[a]
            } else {
                clip.min[a]
            }
        };
        patient_from_voxel.apply([pick(0), pick(1), pick(2)])
    };
    let mut edges = Vec::with_capacity(12);
    for bits in 0..8usize {
        for a in 0..3 {
            if bits >> a & 1 == 0 {
                edges.push((corner(bits), corner(bits | 1 << a)));
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf() -> TransferFunction {
        TransferFunction::new(vec![
            ControlPoint {
                value: 0.0,
                color: [0.0, 0.0, 0.0],
                opacity_per_mm: 0.0,
            },
            ControlPoint {
                value: 100.0,
                color: [1.0, 0.5, 0.0],
                opacity_per_mm: 0.8,
            },
        ])
    }

    #[test]
    fn histogram_bins_by_hand() {
        let mut h = Histogram::new(1.0);
        h.add_stored(&[-1000i16, -1000, -990, 0, 15, 16, 40], 1.0, 0.0);
        // 16-wide bins: -1000 and -990 in [-1008, -992) and [-992, -976); 0 and 15 in
        // [0, 16); 16 in [16, 32); 40 in [32, 48).
        assert_eq!(h.start(), -1008.0);
        assert_eq!(h.counts[0], 2);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[63], 2);
        assert_eq!(h.counts[64], 1);
        assert_eq!(h.counts[65], 1);
        assert_eq!(h.total(), 7);
        assert_eq!(h.range(), Some((-1008.0, 48.0)));
        // Rescaled: stored 10 with slope 2, intercept -1024 is -1004.
        let mut h = Histogram::new(2.0);
        h.add_stored(&[10u16], 2.0, -1024.0);
        assert_eq!(
            (h.bin_width, h.start(), h.counts.clone()),
            (32.0, -1024.0, vec![1])
        );
    }

    #[test]
    fn axes_round_trip() {
        let mut h = Histogram::new(1.0);
        h.add([0.0, 199.0]);
        let a = EditorAxes::new(&h, &tf(), 300.0, 100.0);
        // Values 0..208 (bin edges), 10.4 margin each side.
        assert!(
            (a.lo + 10.4).abs() < 1e-9 && (a.hi - 218.4).abs() < 1e-9,
            "{a:?}"
        );
        assert!((a.value_at(a.x_of(123.0)) - 123.0).abs() < 1e-9);
        assert_eq!(a.y_of(1.0), 0.0);
        assert_eq!(a.opacity_at(a.y_of(0.25)), 0.25);
        assert_eq!(a.opacity_at(-5.0), 1.0);
    }

    #[test]
    fn edits() {
        let mut f = tf();
        // A point added in the middle takes the colour there.
        assert_eq!(add_point(&mut f, 50.0, 0.3), Some(1));
        assert_eq!(f.points()[1].color, [0.5, 0.25, 0.0]);
        // Moving it past the last point reorders.
        assert_eq!(move_point(&mut f, 1, 150.0, 0.6), Some(2));
        assert_eq!(f.points()[2].opacity_per_mm, 0.6);
        assert_eq!(f.points()[2].color, [0.5, 0.25, 0.0]);
        assert!(remove_point(&mut f, 2));
        assert!(!remove_point(&mut f, 0), "two points stay");
        let axes = EditorAxes {
            lo: 0.0,
            hi: 100.0,
            width: 100.0,
            height: 100.0,
        };
        assert_eq!(hit(&f, &axes, 99.0, 22.0, 6.0), Some(1));
        assert_eq!(hit(&f, &axes, 50.0, 50.0, 6.0), None);
    }

    #[test]
    fn clip_sides_and_edges() {
        let dims = [10, 20, 5];
        let whole = ClipBox::whole(dims);
        let c = set_clip(&whole, dims, 0, true, 3.0);
        assert_eq!((c.min[0], c.max[0]), (0.0, 3.0));
        // The min side crossing the max pushes it.
        let c2 = set_clip(&c, dims, 0, false, 7.0);
        assert_eq!((c2.min[0], c2.max[0]), (7.0, 7.0));
        assert_eq!(set_clip(&whole, dims, 2, true, 99.0).max[2], 4.0);
        assert!(is_whole(&whole, dims) && !is_whole(&c, dims));
        // A 2 mm grid shifted by 100 mm: edges span the kept voxel centres.
        let a = Affine {
            columns: [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]],
            translation: [100.0, 0.0, 0.0],
        };
        let edges = clip_edges(&c, &a);
        assert_eq!(edges.len(), 12);
        let xs: Vec<f64> = edges.iter().flat_map(|(p, q)| [p[0], q[0]]).collect();
        assert_eq!(xs.iter().copied().fold(f64::INFINITY, f64::min), 100.0);
        assert_eq!(xs.iter().copied().fold(f64::NEG_INFINITY, f64::max), 106.0);
        for (p, q) in &edges {
            let d: f64 = (0..3).map(|i| (p[i] - q[i]).abs()).sum();
            assert!(
                [6.0, 38.0, 8.0].contains(&d),
                "an edge is along one axis: {p:?} {q:?}"
            );
        }
    }
}
