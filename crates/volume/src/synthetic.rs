//! Synthetic acquisitions as scanners write them (slice positions, orientation,
//! spacing, optional tilt) and their pixels sampled from a phantom defined in patient
//! space: the fixtures of this crate's tests, of the GPU renderer's golden images
//! and of the volume benchmark, with the truth known exactly.

use crate::assemble::{SliceInfo, SliceSource, Source, Volume};
use crate::geometry::{Vec3, add, cross, scale};

/// A scanner's acquisition: `n` slices of `size`² pixels, `ps` mm pixels, slices
/// `gap` mm apart along the normal, an optional in-plane shift per slice (tilt).
pub struct Acquisition {
    pub row: Vec3,
    pub col: Vec3,
    pub first: Vec3,
    pub n: usize,
    pub size: u32,
    pub ps: f64,
    pub gap: f64,
    pub shift_per_slice: Vec3,
}

impl Acquisition {
    pub fn normal(&self) -> Vec3 {
        cross(self.row, self.col)
    }

    pub fn position(&self, k: usize) -> Vec3 {
        add(
            self.first,
            add(
                scale(self.normal(), self.gap * k as f64),
                scale(self.shift_per_slice, k as f64),
            ),
        )
    }

    pub fn slices(&self) -> Vec<SliceInfo> {
        (0..self.n)
            .map(|k| SliceInfo {
                source: Source {
                    instance: k,
                    frame: 0,
                },
                position: Some(self.position(k)),
                orientation: Some([
                    self.row[0],
                    self.row[1],
                    self.row[2],
                    self.col[0],
                    self.col[1],
                    self.col[2],
                ]),
                pixel_spacing: Some([self.ps, self.ps]),
                rows: self.size,
                columns: self.size,
                samples_per_pixel: 1,
                frame_of_reference: Some("1.2.3".into()),
                phase_keys: Vec::new(),
                instance_number: Some(k as i64 + 1),
            })
            .collect()
    }

    /// The acquisition's pixels of a phantom: slice `k`'s pixel (i, j) sits at
    /// position(k) + i·ps·row + j·ps·col.
    pub fn pixels(&self, phantom: &dyn Fn(Vec3) -> f32) -> Vec<Vec<f32>> {
        (0..self.n)
            .map(|k| {
                let p0 = self.position(k);
                let mut v = Vec::with_capacity((self.size * self.size) as usize);
                for j in 0..self.size {
                    for i in 0..self.size {
                        let p = add(
                            p0,
                            add(
                                scale(self.row, self.ps * f64::from(i)),
                                scale(self.col, self.ps * f64::from(j)),
                            ),
                        );
                        v.push(phantom(p));
                    }
                }
                v
            })
            .collect()
    }
}

/// The voxels of an assembled volume (i fastest), from the acquisition's pixels.
pub fn voxels(vol: &Volume, pixels: &[Vec<f32>]) -> Vec<f32> {
    let mut out = Vec::with_capacity(vol.voxel_count() as usize);
    for s in &vol.slices {
        match *s {
            SliceSource::Exact(src) => out.extend_from_slice(&pixels[src.instance]),
            SliceSource::Blend {
                below,
                above,
                weight,
            } => out.extend(
                pixels[below.instance]
                    .iter()
                    .zip(&pixels[above.instance])
                    .map(|(a, b)| a * (1.0 - weight) + b * weight),
            ),
        }
    }
    out
}
