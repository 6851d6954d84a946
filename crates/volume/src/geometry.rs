//! Patient geometry as explicit transforms: [`Affine`] maps voxel indices (i along a
//! row, j down a column, k along the sorted slices) to patient coordinates in mm
//! (LPS, PS3.3 C.7.6.2.1.1: +x the patient's Left, +y Posterior, +z Head) and back.
//!
//! The slice axis need not be orthogonal to the image plane (gantry tilt): the
//! transform is a general affine, inverted as such, never assumed orthonormal.

/// A 3-vector in mm or voxel units.
pub type Vec3 = [f64; 3];

pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// `a` scaled to length 1; `None` for a (near) zero vector.
pub fn unit(a: Vec3) -> Option<Vec3> {
    let n = norm(a);
    (n > 1e-9 && n.is_finite()).then(|| scale(a, 1.0 / n))
}

/// `x ↦ m·x + t` with `m` stored by columns: `m[c]` is the image of the c-th unit
/// vector (for `patient_from_voxel`: the step in mm of one voxel along i, j, k).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub columns: [Vec3; 3],
    pub translation: Vec3,
}

impl Affine {
    pub const IDENTITY: Affine = Affine {
        columns: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        translation: [0.0; 3],
    };

    pub fn apply(&self, x: Vec3) -> Vec3 {
        let [a, b, c] = self.columns;
        add(
            add(add(scale(a, x[0]), scale(b, x[1])), scale(c, x[2])),
            self.translation,
        )
    }

    /// The linear part only (directions, not points).
    pub fn apply_vector(&self, x: Vec3) -> Vec3 {
        let [a, b, c] = self.columns;
        add(add(scale(a, x[0]), scale(b, x[1])), scale(c, x[2]))
    }

    pub fn determinant(&self) -> f64 {
        let [a, b, c] = self.columns;
        dot(a, cross(b, c))
    }

    /// The inverse transform; `None` when the columns are (near) linearly dependent.
    pub fn inverse(&self) -> Option<Affine> {
        let [a, b, c] = self.columns;
        let det = self.determinant();
        let size = norm(a) * norm(b) * norm(c);
        if !det.is_finite() || det.abs() <= 1e-12 * size.max(1e-300) {
            return None;
        }
        // Rows of the inverse are the cross products of the columns over det.
        let r0 = scale(cross(b, c), 1.0 / det);
        let r1 = scale(cross(c, a), 1.0 / det);
        let r2 = scale(cross(a, b), 1.0 / det);
        let columns = [
            [r0[0], r1[0], r2[0]],
            [r0[1], r1[1], r2[1]],
            [r0[2], r1[2], r2[2]],
        ];
        let t = self.translation;
        let translation = [-dot(r0, t), -dot(r1, t), -dot(r2, t)];
        Some(Affine {
            columns,
            translation,
        })
    }

    /// `self ∘ other` (apply `other` first).
    pub fn then_after(&self, other: &Affine) -> Affine {
        Affine {
            columns: other.columns.map(|c| self.apply_vector(c)),
            translation: self.apply(other.translation),
        }
    }

    /// Column-major 4×4 matrix in f32, the layout WGSL's `mat4x4<f32>` expects.
    pub fn to_mat4_f32(&self) -> [[f32; 4]; 4] {
        let [a, b, c] = self.columns;
        let t = self.translation;
        let f = |v: Vec3, w: f32| [v[0] as f32, v[1] as f32, v[2] as f32, w];
        [f(a, 0.0), f(b, 0.0), f(c, 0.0), f(t, 1.0)]
    }
}

/// The letters of a patient direction (LPS), strongest component first; components
/// under 0.25 are left out, so an oblique axial row reads "LA", not "L".
pub fn direction_label(d: Vec3) -> String {
    let letters = [('L', 'R'), ('P', 'A'), ('H', 'F')];
    let mut parts: Vec<(f64, char)> = Vec::with_capacity(3);
    for (k, &(pos, neg)) in letters.iter().enumerate() {
        if d[k].abs() >= 0.25 {
            parts.push((d[k].abs(), if d[k] > 0.0 { pos } else { neg }));
        }
    }
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    parts.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrng::Rng;

    fn close(a: Vec3, b: Vec3, tol: f64) -> bool {
        (0..3).all(|k| (a[k] - b[k]).abs() <= tol)
    }

    #[test]
    fn inverse_round_trips_random_affines() {
        let mut rng = Rng::new(7);
        let mut tested = 0;
        for _ in 0..2000 {
            let a = Affine {
                columns: [rng.vec3(5.0), rng.vec3(5.0), rng.vec3(5.0)],
                translation: rng.vec3(500.0),
            };
            let Some(inv) = a.inverse() else { continue };
            if a.determinant().abs() < 1e-3 {
                continue; // ill-conditioned: round-off dominates
            }
            tested += 1;
            for _ in 0..5 {
                let x = rng.vec3(600.0);
                assert!(close(inv.apply(a.apply(x)), x, 1e-6), "{a:?} {x:?}");
                assert!(close(a.apply(inv.apply(x)), x, 1e-6), "{a:?} {x:?}");
            }
            let id = inv.then_after(&a);
            assert!(close(id.apply([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0], 1e-8));
        }
        assert!(tested > 1500);
    }

    #[test]
    fn singular_affine_has_no_inverse() {
        let a = Affine {
            columns: [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        };
        assert!(a.inverse().is_none());
    }

    #[test]
    fn labels() {
        assert_eq!(direction_label([1.0, 0.0, 0.0]), "L");
        assert_eq!(direction_label([-1.0, 0.0, 0.0]), "R");
        assert_eq!(direction_label([0.0, 0.0, -1.0]), "F");
        assert_eq!(direction_label([0.8, -0.6, 0.0]), "LA");
        assert_eq!(direction_label([0.1, 0.0, 0.99]), "H");
    }

    #[test]
    fn mat4_is_column_major_with_translation_last() {
        let a = Affine {
            columns: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
            translation: [10.0, 11.0, 12.0],
        };
        let m = a.to_mat4_f32();
        assert_eq!(m[0], [1.0, 2.0, 3.0, 0.0]);
        assert_eq!(m[3], [10.0, 11.0, 12.0, 1.0]);
    }
}
