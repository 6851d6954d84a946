//! 3D volume rendering math, pure and in f64: the [`TransferFunction`] (modality value
//! → colour and opacity per mm, editable, with the usual CT and MR presets) and its
//! baked [`Lut`] for the GPU, an orthographic orbit [`Camera`], a [`ClipBox`], and
//! [`render_vr`] — the CPU ray caster (MIP, or front-to-back compositing with optional
//! gradient shading) that is the oracle of `rangsi-render`'s WGSL ray caster.
//!
//! The rules both implementations follow, so that they agree sample for sample:
//! - The ray of pixel (x, y) starts at `camera.ray` on the plane through the camera's
//!   target and runs along `right × down`; samples lie at `t = k · step_mm` for every
//!   integer k whose point is inside the clip box ∩ the grid's voxel centres (in voxel
//!   space, so a sheared — tilted — grid is exact), at most [`MAX_SAMPLES`] a ray.
//! - A sample is the trilinear interpolation of stored values (coordinates clamped to
//!   the grid), times the rescale slope plus intercept.
//! - MIP: the largest sample, windowed by the VOI LINEAR formula; no sample → black.
//! - Composite: the transfer function gives colour and opacity per mm α; one sample of
//!   `step_mm` weighs `1 − (1 − α)^step_mm` (opacity correction); colours are composited
//!   front to back over black, and a ray stops once its opacity reaches
//!   [`EARLY_TERMINATION`] ([`EARLY_TERMINATION_INTERACTIVE`] in a view whose step is as
//!   coarse as [`Quality::Interactive`], [`Quality::of_step`] of [`grid_spacing`]). Shading: the gradient by central differences (one voxel)
//!   in patient space as the normal, a headlight, `ambient + diffuse·|n·l| +
//!   specular·|n·l|^shininess` (two-sided: the sign of a gradient is not a side).

use crate::assemble::Volume;
use crate::geometry::{Affine, Vec3, add, dot, norm, scale, sub, unit};
use crate::mpr::Plane;

/// Entries of a baked [`Lut`].
pub const LUT_SIZE: usize = 1024;
/// LUT entries per occupancy group (empty-space skipping works on groups).
pub const LUT_GROUP: usize = 4;
/// Occupancy groups over a [`Lut`].
pub const LUT_GROUPS: usize = LUT_SIZE / LUT_GROUP;
/// Accumulated opacity at which a ray stops.
pub const EARLY_TERMINATION: f64 = 0.99;
/// Accumulated opacity at which a ray of an interactive view ([`Quality::Interactive`],
/// drawn while the user drags) stops: the last few percent of opacity are not worth a
/// third more samples in a preview.
pub const EARLY_TERMINATION_INTERACTIVE: f64 = 0.95;
/// Most samples along one ray.
pub const MAX_SAMPLES: i64 = 4096;

/// Shading constants (headlight Blinn-Phong).
pub const AMBIENT: f64 = 0.25;
pub const DIFFUSE: f64 = 0.75;
pub const SPECULAR: f64 = 0.3;
pub const SHININESS: f64 = 24.0;
/// Gradients shorter than this (modality units per mm) leave a sample unshaded.
pub const MIN_GRADIENT: f64 = 1e-3;

/// One control point: at modality `value` (HU for CT), colour `color` (linear RGB in
/// 0..=1) and `opacity_per_mm`: the opacity of 1 mm of such material (0..=1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlPoint {
    pub value: f64,
    pub color: [f64; 3],
    pub opacity_per_mm: f64,
}

/// A piecewise-linear transfer function over modality values; constant beyond its
/// first and last points, fully transparent when it has none. Points are kept sorted
/// by value (ties keep their order: a step).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransferFunction {
    points: Vec<ControlPoint>,
}

impl TransferFunction {
    /// A transfer function of `points` in any order; non-finite points are dropped,
    /// colours and opacities clamped to 0..=1.
    pub fn new(points: Vec<ControlPoint>) -> TransferFunction {
        let mut tf = TransferFunction { points: Vec::new() };
        for p in points {
            tf.add(p);
        }
        tf
    }

    /// Merges separate opacity and colour curves (value, opacity per mm) and (value,
    /// RGB), as VTK, 3D Slicer and vtk.js store them, into one exact piecewise-linear
    /// function: every breakpoint of either curve becomes a control point.
    pub fn from_curves(opacity: &[(f64, f64)], color: &[(f64, [f64; 3])]) -> TransferFunction {
        let mut values: Vec<f64> = opacity
            .iter()
            .map(|p| p.0)
            .chain(color.iter().map(|p| p.0))
            .filter(|v| v.is_finite())
            .collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let points = values
            .into_iter()
            .map(|v| ControlPoint {
                value: v,
                color: [0, 1, 2].map(|c| piecewise(color, v, |p| p.1[c])),
                opacity_per_mm: piecewise(opacity, v, |p| p.1),
            })
            .collect();
        TransferFunction::new(points)
    }

    pub fn points(&self) -> &[ControlPoint] {
        &self.points
    }

    /// Adds a point; returns its index (after existing points of the same value).
    pub fn add(&mut self, p: ControlPoint) -> Option<usize> {
        if !p.value.is_finite()
            || !p.opacity_per_mm.is_finite()
            || p.color.iter().any(|c| !c.is_finite())
        {
            return None;
        }
        let p = ControlPoint {
            value: p.value,
            color: p.color.map(|c| c.clamp(0.0, 1.0)),
            opacity_per_mm: p.opacity_per_mm.clamp(0.0, 1.0),
        };
        let at = self.points.partition_point(|q| q.value <= p.value);
        self.points.insert(at, p);
        Some(at)
    }

    /// Replaces point `index` (moves it, recolours it); returns its new index.
    pub fn set(&mut self, index: usize, p: ControlPoint) -> Option<usize> {
        if index >= self.points.len() {
            return None;
        }
        let old = self.points.remove(index);
        match self.add(p) {
            Some(i) => Some(i),
            None => {
                self.points.insert(index, old);
                None
            }
        }
    }

    pub fn remove(&mut self, index: usize) -> Option<ControlPoint> {
        (index < self.points.len()).then(|| self.points.remove(index))
    }

    /// First and last control values.
    pub fn range(&self) -> Option<(f64, f64)> {
        Some((self.points.first()?.value, self.points.last()?.value))
    }

    /// Colour and opacity per mm at `value`: `[r, g, b, opacity_per_mm]`.
    pub fn evaluate(&self, value: f64) -> [f64; 4] {
        let rgba = |p: &ControlPoint| [p.color[0], p.color[1], p.color[2], p.opacity_per_mm];
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return [0.0; 4];
        };
        if value <= first.value {
            return rgba(first);
        }
        if value >= last.value {
            return rgba(last);
        }
        // The first point above `value`; its predecessor is at or below it.
        let hi = self.points.partition_point(|p| p.value <= value);
        let (a, b) = (&self.points[hi - 1], &self.points[hi]);
        let f = (value - a.value) / (b.value - a.value);
        let (ca, cb) = (rgba(a), rgba(b));
        [0, 1, 2, 3].map(|c| ca[c] + (cb[c] - ca[c]) * f)
    }

    /// [`LUT_SIZE`] entries evenly over [`Self::range`] (entry 0 at the first point's
    /// value, the last entry at the last point's), read with linear interpolation.
    pub fn bake(&self) -> Lut {
        let (min, max) = self.range().unwrap_or((0.0, 0.0));
        let rgba = (0..LUT_SIZE)
            .map(|i| {
                let v = if max > min {
                    min + (max - min) * i as f64 / (LUT_SIZE - 1) as f64
                } else {
                    min
                };
                self.evaluate(v).map(|x| x as f32)
            })
            .collect();
        Lut { min, max, rgba }
    }

    /// Every point moved by `offset` modality units (dragging the whole ramp, as a
    /// window level does for gray values).
    pub fn shifted(&self, offset: f64) -> TransferFunction {
        if !offset.is_finite() {
            return self.clone();
        }
        TransferFunction {
            points: self
                .points
                .iter()
                .map(|p| ControlPoint {
                    value: p.value + offset,
                    ..*p
                })
                .collect(),
        }
    }

    /// Every opacity times `factor` (clamped to 0..=1): more or less see-through.
    pub fn opacity_scaled(&self, factor: f64) -> TransferFunction {
        let factor = if factor.is_finite() {
            factor.max(0.0)
        } else {
            1.0
        };
        TransferFunction {
            points: self
                .points
                .iter()
                .map(|p| ControlPoint {
                    opacity_per_mm: (p.opacity_per_mm * factor).min(1.0),
                    ..*p
                })
                .collect(),
        }
    }

    /// Bone: transparent up to fat/water, opaque from dense bone. 3D Slicer's
    /// "CT-Bone" preset (`presets.xml` of the VolumeRendering module, shared with
    /// ParaView/vtk.js), opacities read as per mm.
    pub fn ct_bone() -> TransferFunction {
        TransferFunction::from_curves(
            &[
                (-3024.0, 0.0),
                (-16.4458, 0.0),
                (641.385, 0.715686),
                (3071.0, 0.705882),
            ],
            &[
                (-3024.0, [0.0, 0.0, 0.0]),
                (-16.4458, [0.729412, 0.254902, 0.301961]),
                (641.385, [0.905882, 0.815686, 0.552941]),
                (3071.0, [1.0, 1.0, 1.0]),
            ],
        )
    }

    /// Soft tissue: fat and muscle faintly, enhancing organs and bone more opaque. The
    /// opacity curve of 3D Slicer's "CT-Soft-Tissue"; colours a flesh-to-white ramp.
    pub fn ct_soft_tissue() -> TransferFunction {
        TransferFunction::from_curves(
            &[
                (-2048.0, 0.0),
                (-167.01, 0.0),
                (-160.0, 0.0556),
                (240.0, 0.825),
                (3661.0, 0.825),
            ],
            &[
                (-2048.0, [0.0, 0.0, 0.0]),
                (-167.01, [0.0, 0.0, 0.0]),
                (-160.0, [0.55, 0.25, 0.15]),
                (40.0, [0.85, 0.45, 0.35]),
                (240.0, [1.0, 0.94, 0.86]),
                (3661.0, [1.0, 1.0, 1.0]),
            ],
        )
    }

    /// Contrast-filled vessels (CT angiography): nothing below ~140 HU, enhanced
    /// lumen red to white, calcium and bone white. 3D Slicer's "CT-AAA" preset.
    pub fn ct_angio() -> TransferFunction {
        TransferFunction::from_curves(
            &[
                (-3024.0, 0.0),
                (143.556, 0.0),
                (166.222, 0.686275),
                (214.389, 0.696078),
                (419.736, 0.833333),
                (3071.0, 0.803922),
            ],
            &[
                (-3024.0, [0.0, 0.0, 0.0]),
                (143.556, [0.615686, 0.356863, 0.184314]),
                (166.222, [0.882353, 0.603922, 0.290196]),
                (214.389, [1.0, 1.0, 1.0]),
                (419.736, [1.0, 0.937033, 0.954531]),
                (3071.0, [0.827451, 0.658824, 1.0]),
            ],
        )
    }

    /// Lung: aerated parenchyma (−600…−400 HU) translucent, air, soft tissue and bone
    /// transparent. After 3D Slicer's "CT-Lung" preset.
    pub fn ct_lung() -> TransferFunction {
        TransferFunction::from_curves(
            &[
                (-1000.0, 0.0),
                (-600.0, 0.0),
                (-599.0, 0.15),
                (-400.0, 0.15),
                (-399.0, 0.0),
                (2952.0, 0.0),
            ],
            &[
                (-1000.0, [0.3, 0.3, 1.0]),
                (-600.0, [0.0, 0.0, 1.0]),
                (-530.0, [0.134704, 0.781726, 0.0724558]),
                (-460.0, [0.929244, 1.0, 0.109473]),
                (-400.0, [0.888889, 0.254949, 0.0240258]),
                (2952.0, [1.0, 0.3, 0.3]),
            ],
        )
    }

    /// MR: signal above the noise floor rising to half opacity; for stored values of a
    /// typical 0…1024 range. 3D Slicer's "MR-Default" preset.
    pub fn mr_default() -> TransferFunction {
        TransferFunction::from_curves(
            &[
                (0.0, 0.0),
                (20.0, 0.0),
                (40.0, 0.15),
                (120.0, 0.3),
                (220.0, 0.375),
                (1024.0, 0.5),
            ],
            &[
                (0.0, [0.0, 0.0, 0.0]),
                (20.0, [0.168627, 0.0, 0.0]),
                (40.0, [0.403922, 0.145098, 0.0784314]),
                (120.0, [0.780392, 0.607843, 0.380392]),
                (220.0, [0.847059, 0.835294, 0.788235]),
                (1024.0, [1.0, 1.0, 1.0]),
            ],
        )
    }
}

/// The named presets, for a picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    CtBone,
    CtSoftTissue,
    CtAngio,
    CtLung,
    MrDefault,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::CtBone,
        Preset::CtSoftTissue,
        Preset::CtAngio,
        Preset::CtLung,
        Preset::MrDefault,
    ];

    /// A stable key (settings, URLs).
    pub fn key(self) -> &'static str {
        match self {
            Preset::CtBone => "ct-bone",
            Preset::CtSoftTissue => "ct-soft-tissue",
            Preset::CtAngio => "ct-angio",
            Preset::CtLung => "ct-lung",
            Preset::MrDefault => "mr-default",
        }
    }

    pub fn from_key(key: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn transfer_function(self) -> TransferFunction {
        match self {
            Preset::CtBone => TransferFunction::ct_bone(),
            Preset::CtSoftTissue => TransferFunction::ct_soft_tissue(),
            Preset::CtAngio => TransferFunction::ct_angio(),
            Preset::CtLung => TransferFunction::ct_lung(),
            Preset::MrDefault => TransferFunction::mr_default(),
        }
    }
}

/// Linear interpolation through `(value, y)` points sorted by value, constant beyond.
fn piecewise<T>(points: &[(f64, T)], v: f64, y: impl Fn(&(f64, T)) -> f64) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    if v <= first.0 {
        return y(first);
    }
    if v >= last.0 {
        return y(last);
    }
    let hi = points.partition_point(|p| p.0 <= v);
    let (a, b) = (&points[hi - 1], &points[hi]);
    y(a) + (y(b) - y(a)) * (v - a.0) / (b.0 - a.0)
}

/// A transfer function baked for the GPU: [`LUT_SIZE`] RGBA entries (opacity per mm
/// in `a`) evenly from `min` to `max`, clamped beyond.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    pub min: f64,
    pub max: f64,
    pub rgba: Vec<[f32; 4]>,
}

impl Lut {
    /// Entries per modality unit (0 for a single-valued function).
    pub fn scale(&self) -> f64 {
        if self.max > self.min {
            (LUT_SIZE - 1) as f64 / (self.max - self.min)
        } else {
            0.0
        }
    }

    /// Continuous entry position of `value`.
    pub fn position(&self, value: f64) -> f64 {
        ((value - self.min) * self.scale()).clamp(0.0, (LUT_SIZE - 1) as f64)
    }

    /// The interpolated entry at `value` (what the shader reads).
    pub fn lookup(&self, value: f64) -> [f64; 4] {
        let p = self.position(value);
        let i = p.floor() as usize;
        let f = p - i as f64;
        let a = self.rgba[i];
        let b = self.rgba[(i + 1).min(LUT_SIZE - 1)];
        [0, 1, 2, 3].map(|c| f64::from(a[c]) + (f64::from(b[c]) - f64::from(a[c])) * f)
    }

    /// For each group g of entries `4g ..= 4g + 4`, the number of groups up to and
    /// including g with any opacity: a value range is empty under this LUT when the
    /// count does not change over its groups (empty-space skipping, in the shader).
    pub fn occupancy_prefix(&self) -> Vec<u32> {
        let mut count = 0;
        (0..LUT_GROUPS)
            .map(|g| {
                let last = (g * LUT_GROUP + LUT_GROUP).min(LUT_SIZE - 1);
                if self.rgba[g * LUT_GROUP..=last].iter().any(|e| e[3] > 0.0) {
                    count += 1;
                }
                count
            })
            .collect()
    }

    /// Whether every value in `lo..=hi` is fully transparent (by the occupancy groups,
    /// as the shader decides it: conservative, never "empty" when it is not).
    pub fn range_is_empty(&self, prefix: &[u32], lo: f64, hi: f64) -> bool {
        let group =
            |v: f64| ((self.position(v) / LUT_GROUP as f64).floor() as usize).min(LUT_GROUPS - 1);
        let (g0, g1) = (group(lo.min(hi)), group(lo.max(hi)));
        let before = if g0 == 0 { 0 } else { prefix[g0 - 1] };
        prefix[g1] == before
    }
}

/// The opacity of one sample `step_mm` long of material with `opacity_per_mm`.
pub fn sample_opacity(opacity_per_mm: f64, step_mm: f64) -> f64 {
    1.0 - (step_mm * (1.0 - opacity_per_mm).max(1e-6).ln()).exp()
}

/// Where a standard view looks from (radiological: head up, the patient's right on
/// the screen's left when seen from the front).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewFrom {
    Anterior,
    Posterior,
    /// From the patient's left (anterior on the screen's left).
    Left,
    Right,
    /// From above the head (anterior up).
    Superior,
    /// From the feet (anterior up, the patient's left on the screen's right).
    Inferior,
}

/// An orthographic camera orbiting `target`: `view` is a plane through the target
/// whose `right`/`down` are the screen axes in patient space; rays run along
/// `right × down`. Zoom is `mm_per_pixel`; pan moves the picture by `pan_mm` on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub view: Plane,
    pub mm_per_pixel: f64,
    pub pan_mm: [f64; 2],
}

impl Camera {
    pub fn new(from: ViewFrom, target: Vec3, mm_per_pixel: f64) -> Camera {
        let (right, down) = match from {
            ViewFrom::Anterior => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            ViewFrom::Posterior => ([-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            ViewFrom::Left => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
            ViewFrom::Right => ([0.0, -1.0, 0.0], [0.0, 0.0, -1.0]),
            ViewFrom::Superior => ([-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
            ViewFrom::Inferior => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
        };
        Camera {
            view: Plane {
                center: target,
                right,
                down,
            },
            mm_per_pixel,
            pan_mm: [0.0, 0.0],
        }
    }

    /// The whole volume in a `viewport_px` view from `from`, turning about its centre.
    pub fn fit(volume: &Volume, from: ViewFrom, viewport_px: [u32; 2]) -> Camera {
        let mut camera = Camera::new(from, volume.center(), 1.0);
        // Any orientation: fit the bounding sphere of the grid.
        let radius = corners(volume)
            .iter()
            .map(|&c| norm(sub(c, volume.center())))
            .fold(1.0, f64::max);
        let side = f64::from(viewport_px[0].min(viewport_px[1]).max(1));
        camera.mm_per_pixel = 2.0 * radius / side;
        camera
    }

    /// Into the screen.
    pub fn direction(&self) -> Vec3 {
        self.view.normal()
    }

    /// The ray through the centre of pixel `(x, y)` of a `viewport_px` view: its origin
    /// on the plane through the target, and its unit direction.
    pub fn ray(&self, x: u32, y: u32, viewport_px: [u32; 2]) -> (Vec3, Vec3) {
        let u = (f64::from(x) + 0.5 - f64::from(viewport_px[0]) / 2.0) * self.mm_per_pixel;
        let v = (f64::from(y) + 0.5 - f64::from(viewport_px[1]) / 2.0) * self.mm_per_pixel;
        (
            self.view.patient_at(u - self.pan_mm[0], v - self.pan_mm[1]),
            self.direction(),
        )
    }

    /// The ray origin of the screen's centre pixel offset: where the shader starts.
    pub fn origin(&self) -> Vec3 {
        self.view.patient_at(-self.pan_mm[0], -self.pan_mm[1])
    }

    /// Screen-relative orbit about the target: `yaw_deg` about the screen's vertical
    /// axis (positive turns the front of the object to the screen's right), then
    /// `pitch_deg` about its horizontal axis (positive tips the top towards the viewer).
    pub fn orbit(&self, yaw_deg: f64, pitch_deg: f64) -> Camera {
        let v = self.view.rotated(self.view.down, yaw_deg);
        let v = v.rotated(v.right, pitch_deg);
        self.with_view(v)
    }

    /// Rotated by `degrees` about a patient-space `axis` through the target.
    pub fn rotated(&self, axis: Vec3, degrees: f64) -> Camera {
        self.with_view(self.view.rotated(axis, degrees))
    }

    /// `factor` × larger on screen.
    pub fn zoomed(&self, factor: f64) -> Camera {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        Camera {
            mm_per_pixel: self.mm_per_pixel / factor,
            ..*self
        }
    }

    /// The picture moved by `(dx, dy)` screen pixels.
    pub fn panned_px(&self, dx: f64, dy: f64) -> Camera {
        Camera {
            pan_mm: [
                self.pan_mm[0] + dx * self.mm_per_pixel,
                self.pan_mm[1] + dy * self.mm_per_pixel,
            ],
            ..*self
        }
    }

    /// Keeps the screen axes orthonormal after many small rotations.
    fn with_view(&self, v: Plane) -> Camera {
        let right = unit(v.right).unwrap_or(self.view.right);
        let down = unit(sub(v.down, scale(right, dot(v.down, right)))).unwrap_or(self.view.down);
        Camera {
            view: Plane {
                center: v.center,
                right,
                down,
            },
            ..*self
        }
    }
}

/// A box of (continuous) voxel coordinates of the volume's grid, inclusive; the
/// renderers draw only what is inside it and inside the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipBox {
    pub min: Vec3,
    pub max: Vec3,
}

impl ClipBox {
    /// The whole grid of a volume of `dims` voxels.
    pub fn whole(dims: [u32; 3]) -> ClipBox {
        ClipBox {
            min: [0.0; 3],
            max: dims.map(|d| f64::from(d) - 1.0),
        }
    }

    /// This box within the grid of `dims` voxels.
    pub fn within(&self, dims: [u32; 3]) -> ClipBox {
        ClipBox {
            min: [0, 1, 2].map(|a| self.min[a].max(0.0)),
            max: [0, 1, 2].map(|a| self.max[a].min(f64::from(dims[a]) - 1.0)),
        }
    }
}

/// The parameter interval where the line `o + t·d` is inside the box `lo..=hi`.
pub fn ray_box(o: Vec3, d: Vec3, lo: Vec3, hi: Vec3) -> Option<(f64, f64)> {
    let (mut t0, mut t1) = (f64::NEG_INFINITY, f64::INFINITY);
    for a in 0..3 {
        if lo[a] > hi[a] {
            return None;
        }
        if d[a].abs() < 1e-12 {
            if o[a] < lo[a] || o[a] > hi[a] {
                return None;
            }
        } else {
            let ta = (lo[a] - o[a]) / d[a];
            let tb = (hi[a] - o[a]) / d[a];
            t0 = t0.max(ta.min(tb));
            t1 = t1.min(ta.max(tb));
        }
    }
    (t0 <= t1).then_some((t0, t1))
}

/// How rays are turned into pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VrMode {
    /// Maximum intensity projection, windowed (centre, width in modality units).
    Mip { window: [f64; 2] },
    /// Front-to-back compositing through the transfer function.
    Composite { shading: bool },
}

/// Sampling density: the viewer draws `Interactive` while the user drags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Full,
    Interactive,
}

impl Quality {
    /// The sample distance for a grid of `spacing` mm: half the finest spacing when
    /// still, 1.5 × it while dragging (3 × fewer samples).
    pub fn step_mm(self, spacing: Vec3) -> f64 {
        let finest = spacing.iter().copied().fold(f64::INFINITY, f64::min);
        let finest = if finest.is_finite() && finest > 0.0 {
            finest
        } else {
            1.0
        };
        match self {
            Quality::Full => finest * 0.5,
            Quality::Interactive => finest * 1.5,
        }
    }

    /// The quality a view sampled every `step_mm` over a grid of `spacing` mm is drawn
    /// at: [`Quality::Interactive`] when its samples are further apart than the finest
    /// spacing (fewer than one a voxel: a preview), else [`Quality::Full`].
    pub fn of_step(step_mm: f64, spacing: Vec3) -> Quality {
        let finest = Quality::Full.step_mm(spacing) * 2.0;
        if step_mm > finest * (1.0 + 1e-9) {
            Quality::Interactive
        } else {
            Quality::Full
        }
    }

    /// The accumulated opacity at which a ray stops at this quality.
    pub fn early_termination(self) -> f64 {
        match self {
            Quality::Full => EARLY_TERMINATION,
            Quality::Interactive => EARLY_TERMINATION_INTERACTIVE,
        }
    }
}

/// The distance between neighbouring voxels along each grid axis (mm) of the grid
/// `voxel_from_patient` maps into — the lengths of the columns of its inverse, which
/// the GPU ray caster and [`render_vr`] both judge a view's quality by.
pub fn grid_spacing(voxel_from_patient: &Affine) -> Option<Vec3> {
    voxel_from_patient
        .inverse()
        .map(|patient_from_voxel| patient_from_voxel.columns.map(norm))
}

/// Everything one volume-rendered picture depends on besides the voxels.
#[derive(Debug, Clone, PartialEq)]
pub struct VrScene {
    pub camera: Camera,
    pub viewport_px: [u32; 2],
    pub mode: VrMode,
    pub transfer_function: TransferFunction,
    pub clip: ClipBox,
    /// Distance between samples along a ray (mm), e.g. [`Quality::step_mm`].
    pub step_mm: f64,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
}

/// A rendered picture: row-major linear RGB over black and the accumulated opacity.
#[derive(Debug, Clone, PartialEq)]
pub struct VrImage {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<[f64; 4]>,
}

/// Trilinear sample of `voxels` (i fastest) at `v`, coordinates clamped to the grid.
pub fn sample_clamped(dims: [u32; 3], voxels: &[f32], v: Vec3) -> f64 {
    let n = dims.map(|d| d.max(1) as usize);
    let mut base = [0usize; 3];
    let mut f = [0.0f64; 3];
    for a in 0..3 {
        let c = v[a].clamp(0.0, (n[a] - 1) as f64);
        base[a] = (c.floor() as usize).min(n[a].saturating_sub(2));
        f[a] = (c - base[a] as f64).clamp(0.0, 1.0);
    }
    let at = |x: usize, y: usize, z: usize| {
        f64::from(voxels[(z.min(n[2] - 1) * n[1] + y.min(n[1] - 1)) * n[0] + x.min(n[0] - 1)])
    };
    let [x0, y0, z0] = base;
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let plane = |z: usize| {
        lerp(
            lerp(at(x0, y0, z), at(x0 + 1, y0, z), f[0]),
            lerp(at(x0, y0 + 1, z), at(x0 + 1, y0 + 1, z), f[0]),
            f[1],
        )
    };
    lerp(plane(z0), plane(z0 + 1), f[2])
}

/// The VOI LINEAR window (PS3.3 C.11.2.1.2.1) to 0..=1.
pub fn voi_linear(x: f64, window: [f64; 2]) -> f64 {
    let [c, w] = window;
    let w = w.max(1.0);
    ((x - (c - 0.5)) / (w - 1.0).max(1e-3) + 0.5).clamp(0.0, 1.0)
}

/// The CPU reference ray caster over `volume`'s `voxels` (i fastest, then j, then k).
pub fn render_vr(volume: &Volume, voxels: &[f32], scene: &VrScene) -> VrImage {
    let [w, h] = scene.viewport_px;
    let vfp = &volume.voxel_from_patient;
    let clip = scene.clip.within(volume.dims);
    let step = scene.step_mm.max(1e-3);
    let early_termination =
        Quality::of_step(scene.step_mm, grid_spacing(vfp).unwrap_or(volume.spacing))
            .early_termination();
    let (slope, intercept) = (scene.rescale_slope, scene.rescale_intercept);
    let value = |v: Vec3| sample_clamped(volume.dims, voxels, v) * slope + intercept;
    let mut rgba = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h {
        for x in 0..w {
            let (o, d) = scene.camera.ray(x, y, scene.viewport_px);
            let (ov, dv) = (vfp.apply(o), vfp.apply_vector(d));
            let Some((t0, t1)) = ray_box(ov, dv, clip.min, clip.max) else {
                rgba.push([0.0; 4]);
                continue;
            };
            let k0 = (t0 / step).ceil() as i64;
            let k1 = ((t1 / step).floor() as i64).min(k0 + MAX_SAMPLES - 1);
            let at = |k: i64| add(ov, scale(dv, k as f64 * step));
            rgba.push(match scene.mode {
                VrMode::Mip { window } => {
                    let max = (k0..=k1).map(|k| value(at(k))).reduce(f64::max);
                    match max {
                        Some(m) => {
                            let g = voi_linear(m, window);
                            [g, g, g, 1.0]
                        }
                        None => [0.0; 4],
                    }
                }
                VrMode::Composite { shading } => {
                    let mut acc = [0.0f64; 3];
                    let mut alpha = 0.0f64;
                    for k in k0..=k1 {
                        let v = at(k);
                        let c = scene.transfer_function.evaluate(value(v));
                        if c[3] <= 0.0 {
                            continue;
                        }
                        let a = sample_opacity(c[3], step);
                        let mut rgb = [c[0], c[1], c[2]];
                        if shading {
                            rgb = shade(rgb, gradient(volume, &value, v), d);
                        }
                        for ch in 0..3 {
                            acc[ch] += (1.0 - alpha) * a * rgb[ch];
                        }
                        alpha += (1.0 - alpha) * a;
                        if alpha >= early_termination {
                            break;
                        }
                    }
                    [acc[0], acc[1], acc[2], alpha]
                }
            });
        }
    }
    VrImage {
        width: w as usize,
        height: h as usize,
        rgba,
    }
}

/// The gradient of the rescaled value in patient space (per mm) at voxel coordinate
/// `v`, by central differences one voxel apart.
fn gradient(volume: &Volume, value: &dyn Fn(Vec3) -> f64, v: Vec3) -> Vec3 {
    let g_voxel = [0, 1, 2].map(|a| {
        let mut p = v;
        let mut m = v;
        p[a] += 1.0;
        m[a] -= 1.0;
        (value(p) - value(m)) * 0.5
    });
    // ∂f/∂p_j = Σ_i ∂f/∂v_i · ∂v_i/∂p_j; column j of voxel_from_patient is ∂v/∂p_j.
    volume.voxel_from_patient.columns.map(|c| dot(g_voxel, c))
}

/// Headlight Blinn-Phong (the light and the eye along −`direction`).
pub fn shade(rgb: [f64; 3], gradient: Vec3, direction: Vec3) -> [f64; 3] {
    let length = norm(gradient);
    if length < MIN_GRADIENT {
        return rgb;
    }
    let ndl = (dot(gradient, direction) / length).abs();
    let diffuse = AMBIENT + DIFFUSE * ndl;
    let specular = SPECULAR * ndl.powf(SHININESS);
    rgb.map(|c| (c * diffuse + specular).min(1.0))
}

/// The corners of the grid of `volume` in patient space (for fitting and overlays).
pub fn corners(volume: &Volume) -> [Vec3; 8] {
    let m = volume.dims.map(|d| f64::from(d) - 1.0);
    std::array::from_fn(|i| {
        volume.patient_from_voxel.apply([
            if i & 1 == 0 { 0.0 } else { m[0] },
            if i & 2 == 0 { 0.0 } else { m[1] },
            if i & 4 == 0 { 0.0 } else { m[2] },
        ])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_tells_its_quality() {
        for spacing in [[0.7, 0.7, 1.0], [0.5, 0.5, 0.5], [1.0, 0.9, 5.0], [0.0; 3]] {
            for q in [Quality::Full, Quality::Interactive] {
                assert_eq!(
                    Quality::of_step(q.step_mm(spacing), spacing),
                    q,
                    "{spacing:?}"
                );
            }
        }
        // 0.7 mm pixels: one sample a voxel is still full quality, 0.71 mm a preview.
        assert_eq!(Quality::of_step(0.7, [0.7, 0.7, 1.0]), Quality::Full);
        assert_eq!(
            Quality::of_step(0.71, [0.7, 0.7, 1.0]),
            Quality::Interactive
        );
    }

    fn point(value: f64, grey: f64, opacity: f64) -> ControlPoint {
        ControlPoint {
            value,
            color: [grey; 3],
            opacity_per_mm: opacity,
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn piecewise_linear_between_points_constant_beyond() {
        let tf = TransferFunction::new(vec![point(100.0, 1.0, 0.5), point(-100.0, 0.0, 0.0)]);
        assert_eq!(tf.points()[0].value, -100.0, "sorted");
        assert_eq!(tf.evaluate(0.0), [0.5, 0.5, 0.5, 0.25]);
        assert_eq!(tf.evaluate(50.0), [0.75, 0.75, 0.75, 0.375]);
        assert_eq!(tf.evaluate(-1000.0), [0.0; 4]);
        assert_eq!(tf.evaluate(5000.0), [1.0, 1.0, 1.0, 0.5]);
        assert_eq!(TransferFunction::default().evaluate(3.0), [0.0; 4]);
    }

    #[test]
    fn editing_keeps_points_sorted() {
        let mut tf = TransferFunction::new(vec![point(0.0, 0.0, 0.0), point(100.0, 1.0, 1.0)]);
        assert_eq!(tf.add(point(50.0, 0.5, 2.0)), Some(1));
        assert_eq!(tf.points()[1].opacity_per_mm, 1.0, "clamped to 0..=1");
        // Move the middle point past the last one.
        assert_eq!(tf.set(1, point(150.0, 0.2, 0.2)), Some(2));
        let values: Vec<f64> = tf.points().iter().map(|p| p.value).collect();
        assert_eq!(values, [0.0, 100.0, 150.0]);
        assert_eq!(tf.set(0, point(f64::NAN, 0.0, 0.0)), None);
        assert_eq!(tf.points().len(), 3, "a rejected move keeps the point");
        assert_eq!(tf.remove(2).map(|p| p.value), Some(150.0));
        assert_eq!(tf.remove(7), None);
        // A step: two points at one value.
        tf.add(point(100.0, 0.0, 0.0));
        assert!(tf.evaluate(99.999)[3] > 0.99);
        assert_eq!(tf.evaluate(100.0 + 1e-9)[3], 0.0);
    }

    #[test]
    fn merged_curves_are_exact() {
        let tf = TransferFunction::from_curves(
            &[(0.0, 0.0), (100.0, 1.0)],
            &[(-50.0, [1.0, 0.0, 0.0]), (50.0, [0.0, 0.0, 1.0])],
        );
        assert_eq!(tf.points().len(), 4);
        let at = tf.evaluate(25.0);
        assert!(
            close(at[3], 0.25, 1e-12) && close(at[0], 0.25, 1e-12) && close(at[2], 0.75, 1e-12)
        );
    }

    #[test]
    fn lut_reproduces_the_function_and_skips_only_transparent_ranges() {
        let tf = TransferFunction::ct_bone();
        let lut = tf.bake();
        assert_eq!(lut.rgba.len(), LUT_SIZE);
        assert_eq!((lut.min, lut.max), (-3024.0, 3071.0));
        // Away from breakpoints (one entry ≈ 6 HU) the interpolated LUT is the function.
        for hu in [-2000.0, -500.0, 300.0, 1000.0, 2500.0] {
            let (a, b) = (lut.lookup(hu), tf.evaluate(hu));
            for c in 0..4 {
                assert!(close(a[c], b[c], 2e-3), "{hu}: {a:?} vs {b:?}");
            }
        }
        let prefix = lut.occupancy_prefix();
        assert!(
            lut.range_is_empty(&prefix, -1000.0, -100.0),
            "air to fat is transparent"
        );
        assert!(!lut.range_is_empty(&prefix, -1000.0, 200.0));
        assert!(!lut.range_is_empty(&prefix, 700.0, 700.0));
        // Exhaustively: never "empty" where any interpolated value is opaque.
        for lo in (-3100..3100).step_by(37) {
            for width in [0, 3, 40, 400] {
                let (lo, hi) = (f64::from(lo), f64::from(lo + width));
                let opaque =
                    (0..=100).any(|s| lut.lookup(lo + (hi - lo) * f64::from(s) / 100.0)[3] > 0.0);
                if opaque {
                    assert!(!lut.range_is_empty(&prefix, lo, hi), "{lo}..{hi}");
                }
            }
        }
    }

    #[test]
    fn presets_show_what_they_are_named_for() {
        let op = |tf: &TransferFunction, hu: f64| tf.evaluate(hu)[3];
        let non_decreasing = |tf: &TransferFunction, from: f64, to: f64| {
            let mut last = -1.0;
            let mut hu = from;
            while hu <= to {
                let o = op(tf, hu);
                assert!(o >= last - 1e-12, "{hu}");
                last = o;
                hu += 5.0;
            }
        };
        let bone = TransferFunction::ct_bone();
        assert_eq!(op(&bone, -1000.0), 0.0);
        assert_eq!(op(&bone, -50.0), 0.0, "fat hidden");
        assert!(op(&bone, 40.0) < 0.1, "soft tissue nearly hidden");
        assert!(op(&bone, 1000.0) > 0.7, "cortical bone opaque");
        non_decreasing(&bone, -1100.0, 640.0);
        let soft = TransferFunction::ct_soft_tissue();
        assert_eq!(op(&soft, -1000.0), 0.0, "air hidden");
        assert!(op(&soft, -100.0) > 0.0, "fat shown");
        assert!(op(&soft, 40.0) > op(&soft, -100.0));
        non_decreasing(&soft, -1100.0, 240.0);
        let angio = TransferFunction::ct_angio();
        assert_eq!(op(&angio, 60.0), 0.0, "unenhanced soft tissue hidden");
        assert!(op(&angio, 300.0) > 0.6, "contrast-filled lumen shown");
        non_decreasing(&angio, -1100.0, 420.0);
        let lung = TransferFunction::ct_lung();
        assert_eq!(op(&lung, -950.0), 0.0, "air hidden");
        assert!(op(&lung, -500.0) > 0.1, "parenchyma shown");
        assert_eq!(op(&lung, 40.0), 0.0, "soft tissue hidden");
        assert_eq!(op(&lung, 1000.0), 0.0, "bone hidden");
        let mr = TransferFunction::mr_default();
        assert_eq!(op(&mr, 10.0), 0.0, "noise floor hidden");
        non_decreasing(&mr, 0.0, 2000.0);
        for tf in [bone, soft, angio, lung, mr] {
            for p in tf.points() {
                assert!((0.0..=1.0).contains(&p.opacity_per_mm));
            }
        }
    }

    #[test]
    fn shift_and_opacity_scale_edit_the_whole_function() {
        let tf = TransferFunction::ct_bone();
        let moved = tf.shifted(100.0);
        assert_eq!(moved.evaluate(741.385), tf.evaluate(641.385));
        let faint = tf.opacity_scaled(0.5);
        assert!(close(
            faint.evaluate(1000.0)[3],
            tf.evaluate(1000.0)[3] * 0.5,
            1e-12
        ));
        assert_eq!(faint.evaluate(1000.0)[..3], tf.evaluate(1000.0)[..3]);
        assert_eq!(tf.opacity_scaled(10.0).evaluate(2000.0)[3], 1.0);
        assert_eq!(tf.shifted(f64::NAN), tf);
        for p in Preset::ALL {
            assert_eq!(Preset::from_key(p.key()), Some(p));
            assert!(p.transfer_function().points().len() >= 4);
        }
    }

    #[test]
    fn opacity_correction_composes_over_distance() {
        // Two samples of 0.5 mm weigh as much as one of 1 mm.
        let a = sample_opacity(0.4, 0.5);
        assert!(close(1.0 - (1.0 - a) * (1.0 - a), 0.4, 1e-12));
        assert!(close(sample_opacity(0.4, 1.0), 0.4, 1e-12));
        assert_eq!(sample_opacity(0.0, 3.0), 0.0);
        assert!(sample_opacity(1.0, 0.1) > 0.7);
    }

    #[test]
    fn standard_views_are_radiological() {
        let c = Camera::new(ViewFrom::Anterior, [0.0; 3], 1.0);
        assert_eq!(c.direction(), [0.0, 1.0, 0.0], "looks posteriorly");
        assert_eq!(crate::geometry::direction_label(c.view.right), "L");
        assert_eq!(crate::geometry::direction_label(c.view.down), "F");
        let l = Camera::new(ViewFrom::Left, [0.0; 3], 1.0);
        assert_eq!(crate::geometry::direction_label(l.direction()), "R");
        assert_eq!(l.view.edge_labels()[0], "A", "anterior on the left");
        for from in [
            ViewFrom::Posterior,
            ViewFrom::Right,
            ViewFrom::Superior,
            ViewFrom::Inferior,
        ] {
            let cam = Camera::new(from, [0.0; 3], 1.0);
            let n = cam.direction();
            assert!(close(norm(n), 1.0, 1e-12));
        }
        assert_eq!(
            Camera::new(ViewFrom::Superior, [0.0; 3], 1.0).direction(),
            [0.0, 0.0, -1.0]
        );
        assert_eq!(
            Camera::new(ViewFrom::Inferior, [0.0; 3], 1.0).direction(),
            [0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn orbit_zoom_and_pan() {
        let target = [10.0, 20.0, 30.0];
        let c = Camera::new(ViewFrom::Anterior, target, 0.5);
        // A quarter yaw turns the anterior view into a lateral one.
        let q = c.orbit(90.0, 0.0);
        let d = q.direction();
        assert!(
            close(d[0].abs(), 1.0, 1e-12) && close(d[1], 0.0, 1e-12),
            "{d:?}"
        );
        // Many small turns stay orthonormal and come back.
        let mut r = c;
        for _ in 0..360 {
            r = r.orbit(1.0, 0.0);
        }
        for a in 0..3 {
            assert!(close(r.view.right[a], c.view.right[a], 1e-9));
            assert!(close(r.view.down[a], c.view.down[a], 1e-9));
        }
        let p = c.orbit(0.0, 90.0).direction();
        assert!(
            close(p[2].abs(), 1.0, 1e-12),
            "pitch looks along the head-foot axis"
        );
        // The centre of the screen looks through the target; pan moves the picture.
        let (o, _) = c.ray(50, 50, [100, 100]);
        assert_eq!(o, [10.25, 20.0, 29.75]);
        let panned = c.panned_px(10.0, 0.0);
        let (o2, _) = panned.ray(60, 50, [100, 100]);
        assert_eq!(o2, o, "the target's pixel moved 10 px right");
        let z = c.zoomed(2.0);
        assert_eq!(z.mm_per_pixel, 0.25);
        assert_eq!(c.zoomed(0.0).mm_per_pixel, 0.5);
    }

    #[test]
    fn ray_box_intervals() {
        let lo = [0.0; 3];
        let hi = [10.0; 3];
        assert_eq!(
            ray_box([5.0, 5.0, -3.0], [0.0, 0.0, 1.0], lo, hi),
            Some((3.0, 13.0))
        );
        assert_eq!(ray_box([15.0, 5.0, -3.0], [0.0, 0.0, 1.0], lo, hi), None);
        let (t0, t1) = ray_box([-1.0, -1.0, 5.0], [1.0, 1.0, 0.0], lo, hi).expect("hits");
        assert!(close(t0, 1.0, 1e-12) && close(t1, 11.0, 1e-12));
        assert_eq!(ray_box([5.0; 3], [1.0, 0.0, 0.0], [4.0; 3], [3.0; 3]), None);
    }

    #[test]
    fn a_uniform_block_composites_to_the_hand_computed_opacity() {
        // 10 × 10 × 10 voxels of 1 mm, all 100; 9 mm between the first and last centre.
        let acq = crate::synthetic::Acquisition {
            row: [1.0, 0.0, 0.0],
            col: [0.0, 1.0, 0.0],
            first: [0.0, 0.0, 0.0],
            n: 10,
            size: 10,
            ps: 1.0,
            gap: 1.0,
            shift_per_slice: [0.0; 3],
        };
        let assembly = crate::assemble(&acq.slices()).expect("volume");
        let volume = &assembly.volumes[0];
        let voxels = vec![100.0f32; 1000];
        let white = |o: f64| ControlPoint {
            value: 0.0,
            color: [1.0; 3],
            opacity_per_mm: o,
        };
        let mut scene = VrScene {
            camera: Camera::new(ViewFrom::Anterior, volume.center(), 1.0),
            viewport_px: [20, 20],
            mode: VrMode::Composite { shading: false },
            transfer_function: TransferFunction::new(vec![white(0.1)]),
            clip: ClipBox::whole(volume.dims),
            step_mm: 1.0,
            rescale_slope: 1.0,
            rescale_intercept: -50.0,
        };
        let image = render_vr(volume, &voxels, &scene);
        // Through the middle the grid spans t ∈ [−4.5, 4.5] mm around the target:
        // samples at t = −4 … 4, nine of 1 mm.
        let want = 1.0 - 0.9f64.powi(9);
        let mid = image.rgba[10 * 20 + 10];
        assert!(
            close(mid[3], want, 1e-9) && close(mid[0], want, 1e-9),
            "{mid:?}"
        );
        // Outside the grid's footprint (pixel 0 is 10 mm left of the centre): nothing.
        assert_eq!(image.rgba[10 * 20], [0.0; 4]);
        // Clipped to y ≤ 4.2 voxels: samples at t = −4 … −1, four.
        scene.clip.max[1] = 4.2;
        let clipped = render_vr(volume, &voxels, &scene).rgba[10 * 20 + 10];
        assert!(close(clipped[3], 1.0 - 0.9f64.powi(4), 1e-9), "{clipped:?}");
        // Opaque material stops the ray early, short of full opacity by at most 1 %.
        scene.transfer_function = TransferFunction::new(vec![white(1.0)]);
        let opaque = render_vr(volume, &voxels, &scene).rgba[10 * 20 + 10];
        assert!(opaque[3] >= EARLY_TERMINATION);
        // MIP: the rescaled value, windowed.
        scene.mode = VrMode::Mip {
            window: [50.5, 101.0],
        };
        let mip = render_vr(volume, &voxels, &scene).rgba[10 * 20 + 10];
        assert!(close(mip[0], 0.5, 1e-9), "{mip:?}");
    }

    #[test]
    fn shading_is_brightest_facing_the_viewer() {
        let rgb = [0.5; 3];
        let facing = shade(rgb, [0.0, -100.0, 0.0], [0.0, 1.0, 0.0]);
        let grazing = shade(rgb, [100.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
        assert!(close(facing[0], 0.5 + SPECULAR, 1e-12));
        assert!(close(grazing[0], 0.5 * AMBIENT, 1e-12));
        assert_eq!(
            shade(rgb, [0.0; 3], [0.0, 1.0, 0.0]),
            rgb,
            "flat regions unshaded"
        );
    }
}
