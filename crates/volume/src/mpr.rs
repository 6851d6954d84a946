//! MPR planes in patient space and a CPU reference for sampling them.
//!
//! A [`Plane`] is a centre and two orthonormal screen directions (`right`, `down`) in
//! patient coordinates; the view looks along `right × down`. The standard planes
//! follow radiological convention: axial seen from the feet (patient's left on the
//! screen's right), coronal seen from the front, sagittal seen from the patient's left
//! (anterior on the screen's left). Oblique planes are rotations of these.
//!
//! [`render`] is the CPU oracle the GPU renderer's golden images are checked against:
//! trilinear sampling between voxel centres, slabs as MIP, MinIP or average of samples
//! one voxel apart along the plane normal.

use crate::assemble::Volume;
use crate::geometry::{Vec3, add, cross, dot, norm, scale, sub, unit};

/// The three standard orientations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Axial,
    Coronal,
    Sagittal,
}

/// A view plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    pub center: Vec3,
    /// Unit vector of the screen's +x in patient space.
    pub right: Vec3,
    /// Unit vector of the screen's +y (downwards) in patient space.
    pub down: Vec3,
}

impl Plane {
    pub fn standard(orientation: Orientation, center: Vec3) -> Plane {
        let (right, down) = match orientation {
            Orientation::Axial => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
            Orientation::Coronal => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            Orientation::Sagittal => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
        };
        Plane {
            center,
            right,
            down,
        }
    }

    /// The viewing direction (into the screen).
    pub fn normal(&self) -> Vec3 {
        cross(self.right, self.down)
    }

    /// The patient coordinate `u` mm right and `v` mm down of the centre.
    pub fn patient_at(&self, u: f64, v: f64) -> Vec3 {
        add(self.center, add(scale(self.right, u), scale(self.down, v)))
    }

    /// Screen offsets (mm right, mm down) of a patient point and its distance in front
    /// of the plane (along the normal).
    pub fn project(&self, p: Vec3) -> (f64, f64, f64) {
        let d = sub(p, self.center);
        (dot(d, self.right), dot(d, self.down), dot(d, self.normal()))
    }

    /// The plane moved by `mm` along its normal (scrolling).
    pub fn moved(&self, mm: f64) -> Plane {
        Plane {
            center: add(self.center, scale(self.normal(), mm)),
            ..*self
        }
    }

    /// The plane rotated by `degrees` about `axis` (patient space, through the centre).
    pub fn rotated(&self, axis: Vec3, degrees: f64) -> Plane {
        let Some(k) = unit(axis) else { return *self };
        let r = |v: Vec3| rotate(v, k, degrees.to_radians());
        Plane {
            center: self.center,
            right: r(self.right),
            down: r(self.down),
        }
    }

    /// Orientation letters at the left, right, top and bottom edges.
    pub fn edge_labels(&self) -> [String; 4] {
        let l = crate::geometry::direction_label;
        [
            l(scale(self.right, -1.0)),
            l(self.right),
            l(scale(self.down, -1.0)),
            l(self.down),
        ]
    }

    /// Where `other` cuts this plane, as a point (mm right, mm down) and a unit
    /// direction on this plane's screen: the crosshair line of a linked view.
    pub fn intersection(&self, other: &Plane) -> Option<([f64; 2], [f64; 2])> {
        let n1 = self.normal();
        let n2 = other.normal();
        let dir = unit(cross(n1, n2))?;
        // A point on both planes: solve along the in-plane direction perpendicular to dir.
        let inward = cross(n1, dir); // in this plane, perpendicular to the line
        let denom = dot(inward, n2);
        if denom.abs() < 1e-12 {
            return None;
        }
        let t = dot(sub(other.center, self.center), n2) / denom;
        let p = add(self.center, scale(inward, t));
        let (u, v, _) = self.project(p);
        let du = dot(dir, self.right);
        let dv = dot(dir, self.down);
        let len = (du * du + dv * dv).sqrt();
        Some(([u, v], [du / len, dv / len]))
    }
}

/// Rodrigues' rotation of `v` about the unit axis `k`.
fn rotate(v: Vec3, k: Vec3, angle: f64) -> Vec3 {
    let (s, c) = angle.sin_cos();
    add(
        add(scale(v, c), scale(cross(k, v), s)),
        scale(k, dot(k, v) * (1.0 - c)),
    )
}

/// How a slab thicker than one sample combines its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlabMode {
    Mip,
    MinIp,
    Average,
}

/// One output image of the CPU reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Render {
    pub width: usize,
    pub height: usize,
    /// Row-major samples; `None` outside the volume.
    pub samples: Vec<Option<f32>>,
}

impl Render {
    pub fn at(&self, x: usize, y: usize) -> Option<f32> {
        self.samples[y * self.width + x]
    }
}

/// Trilinear sample of `voxels` (i fastest, then j, then k) at a continuous voxel
/// coordinate; `None` outside the voxel centres.
pub fn sample(dims: [u32; 3], voxels: &[f32], v: Vec3) -> Option<f32> {
    let [nx, ny, nz] = dims.map(|d| d as usize);
    if (0..3).any(|a| !(v[a] >= -1e-6 && v[a] <= f64::from(dims[a]) - 1.0 + 1e-6)) {
        return None;
    }
    let base = |a: usize, n: usize| (v[a].max(0.0).floor() as usize).min(n.saturating_sub(2));
    let (x0, y0, z0) = (base(0, nx), base(1, ny), base(2, nz));
    let f = |a: usize, b0: usize| (v[a] - b0 as f64).clamp(0.0, 1.0) as f32;
    let (fx, fy, fz) = (f(0, x0), f(1, y0), f(2, z0));
    let at = |x: usize, y: usize, z: usize| {
        voxels[(z.min(nz - 1) * ny + y.min(ny - 1)) * nx + x.min(nx - 1)]
    };
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let plane = |z: usize| {
        lerp(
            lerp(at(x0, y0, z), at(x0 + 1, y0, z), fx),
            lerp(at(x0, y0 + 1, z), at(x0 + 1, y0 + 1, z), fx),
            fy,
        )
    };
    Some(lerp(plane(z0), plane(z0 + 1), fz))
}

/// The output raster of a view: `width × height` pixels of `mm_per_pixel`, centred on
/// the plane's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub mm_per_pixel: f64,
}

/// A slab of `thickness_mm` (0 = a single sample) combined by `mode`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slab {
    pub thickness_mm: f64,
    pub mode: SlabMode,
}

impl Slab {
    pub const THIN: Slab = Slab {
        thickness_mm: 0.0,
        mode: SlabMode::Average,
    };
}

/// Renders `plane` over `volume` (voxels i fastest, then j, then k) into `raster`.
pub fn render(
    volume: &Volume,
    voxels: &[f32],
    plane: &Plane,
    raster: Raster,
    slab: Slab,
) -> Render {
    let Raster {
        width,
        height,
        mm_per_pixel,
    } = raster;
    let (slab_mm, mode) = (slab.thickness_mm, slab.mode);
    let step = volume
        .spacing
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1e-3);
    let half = (slab_mm / 2.0 / step).floor() as i64;
    let normal = plane.normal();
    let mut samples = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let u = (x as f64 + 0.5 - width as f64 / 2.0) * mm_per_pixel;
            let v = (y as f64 + 0.5 - height as f64 / 2.0) * mm_per_pixel;
            let p = plane.patient_at(u, v);
            let mut acc: Option<(f32, f32, f32, u32)> = None; // max, min, sum, n
            for s in -half..=half {
                let q = add(p, scale(normal, s as f64 * step));
                if let Some(val) = sample(volume.dims, voxels, volume.voxel_from_patient.apply(q)) {
                    acc = Some(match acc {
                        None => (val, val, val, 1),
                        Some((mx, mn, sum, n)) => (mx.max(val), mn.min(val), sum + val, n + 1),
                    });
                }
            }
            samples.push(acc.map(|(mx, mn, sum, n)| match mode {
                SlabMode::Mip => mx,
                SlabMode::MinIp => mn,
                SlabMode::Average => sum / n as f32,
            }));
        }
    }
    Render {
        width,
        height,
        samples,
    }
}

/// The length in mm of a segment between two screen points of a plane view.
pub fn length_mm(a: [f64; 2], b: [f64; 2], mm_per_pixel: f64) -> f64 {
    norm([
        (b[0] - a[0]) * mm_per_pixel,
        (b[1] - a[1]) * mm_per_pixel,
        0.0,
    ])
}
