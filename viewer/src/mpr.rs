//! MPR reading state, host-testable: three linked planes through one crosshair point
//! (axial, sagittal, coronal to start with; rotated for oblique MPR), a shared screen
//! centre, zoom, window and slab, and the maps between pane pixels and patient space
//! the pointer tools and the crosshair overlay need. Geometry comes from
//! `rangsi-volume`; the GPU draws what [`MprState::plane`] says.
//!
//! Each pane keeps its own screen axes (`right`, `down`); its plane passes through
//! the crosshair, and its screen centre is the shared view centre projected onto it,
//! so moving the crosshair moves the lines, not the images.

use crate::i18n::Lang;
use crate::stack::WindowLevel;
use rangsi_volume::assemble::MIN_SLICES;
use rangsi_volume::geometry::{Vec3, add, cross, dot, scale, sub, unit};
use rangsi_volume::mpr::{Orientation, Plane, Slab, SlabMode};
use rangsi_volume::{NotVolumetric, Volume};

/// Pane order on screen: axial, sagittal, coronal.
pub const PANES: [Orientation; 3] = [
    Orientation::Axial,
    Orientation::Sagittal,
    Orientation::Coronal,
];

/// The three views of an MPR reading.
#[derive(Debug, Clone, PartialEq)]
pub struct MprState {
    /// The point all three planes pass through (patient mm).
    pub crosshair: Vec3,
    /// The patient point at the centre of every pane (before projection on its plane).
    pub view_center: Vec3,
    /// Screen axes of each pane in patient space.
    pub axes: [(Vec3, Vec3); 3],
    /// Patient mm per physical pixel, shared by the panes.
    pub mm_per_px: f64,
    pub window: WindowLevel,
    pub slab: Slab,
    /// Distance between slab samples (mm): the smallest voxel spacing.
    pub step_mm: f64,
    /// Rows of the volume's voxel_from_patient (linear part): voxels per mm along
    /// each patient direction, for one-slice scroll steps in any plane.
    pub voxel_rows: [Vec3; 3],
    /// The extent that fits a pane at zoom 1 (mm).
    pub fit_mm: f64,
}

impl MprState {
    /// Standard planes through the volume's centre, the whole volume fitted into a
    /// pane of `pane_px` physical pixels.
    pub fn new(volume: &Volume, window: WindowLevel, pane_px: [u32; 2]) -> MprState {
        let center = volume.center();
        let extent = (0..3)
            .map(|a| f64::from(volume.dims[a].saturating_sub(1)) * volume.spacing[a])
            .fold(0.0, f64::max)
            .max(1.0);
        let axes = PANES.map(|o| {
            let p = Plane::standard(o, center);
            (p.right, p.down)
        });
        let mut s = MprState {
            crosshair: center,
            view_center: center,
            axes,
            mm_per_px: 1.0,
            window,
            slab: Slab::THIN,
            step_mm: volume
                .spacing
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .max(1e-3),
            voxel_rows: {
                let c = volume.voxel_from_patient.columns;
                [0, 1, 2].map(|r| [c[0][r], c[1][r], c[2][r]])
            },
            fit_mm: extent * 1.05,
        };
        s.fit(pane_px);
        s
    }

    /// Zoom so the volume fits a pane of `pane_px`.
    pub fn fit(&mut self, pane_px: [u32; 2]) {
        let side = f64::from(pane_px[0].min(pane_px[1]).max(1));
        self.mm_per_px = self.fit_mm / side;
    }

    /// Pane `p`'s plane: through the crosshair, centred on the view centre.
    pub fn plane(&self, p: usize) -> Plane {
        let (right, down) = self.axes[p];
        let normal = cross(right, down);
        let offset = dot(sub(self.view_center, self.crosshair), normal);
        Plane {
            center: sub(self.view_center, scale(normal, offset)),
            right,
            down,
        }
    }

    /// The patient point under physical pixel `px` of pane `p` (`pane_px` big).
    pub fn patient_at(&self, p: usize, px: [f64; 2], pane_px: [u32; 2]) -> Vec3 {
        let u = (px[0] - f64::from(pane_px[0]) / 2.0) * self.mm_per_px;
        let v = (px[1] - f64::from(pane_px[1]) / 2.0) * self.mm_per_px;
        self.plane(p).patient_at(u, v)
    }

    /// Pane pixel of a patient point (on or off the plane).
    pub fn pixel_of(&self, p: usize, point: Vec3, pane_px: [u32; 2]) -> [f64; 2] {
        let (u, v, _) = self.plane(p).project(point);
        [
            u / self.mm_per_px + f64::from(pane_px[0]) / 2.0,
            v / self.mm_per_px + f64::from(pane_px[1]) / 2.0,
        ]
    }

    /// Moves the crosshair to the point under `px` of pane `p` (the other two planes follow).
    pub fn set_crosshair(&mut self, p: usize, px: [f64; 2], pane_px: [u32; 2]) {
        self.crosshair = self.patient_at(p, px, pane_px);
    }

    /// Scrolls pane `p`'s plane by `steps` slices along its normal: one slice is the
    /// distance along the normal that moves one voxel along the grid axis the normal
    /// is closest to (the slice gap in the acquisition plane, a pixel across it).
    pub fn scroll(&mut self, p: usize, steps: f64) {
        let normal = self.plane(p).normal();
        self.crosshair = add(
            self.crosshair,
            scale(normal, steps * self.scroll_step_mm(p)),
        );
    }

    /// The distance (mm) one scroll step moves pane `p`'s plane.
    pub fn scroll_step_mm(&self, p: usize) -> f64 {
        let normal = self.plane(p).normal();
        let per_mm = self
            .voxel_rows
            .iter()
            .map(|r| dot(*r, normal).abs())
            .fold(0.0, f64::max);
        if per_mm > 1e-9 {
            1.0 / per_mm
        } else {
            self.step_mm
        }
    }

    /// Rotates the other panes' planes about pane `p`'s normal through the crosshair
    /// (oblique MPR); pane `p` itself stays as it is.
    pub fn rotate(&mut self, p: usize, degrees: f64) {
        let normal = self.plane(p).normal();
        for q in 0..3 {
            if q != p {
                let plane = Plane {
                    center: self.crosshair,
                    right: self.axes[q].0,
                    down: self.axes[q].1,
                }
                .rotated(normal, degrees);
                self.axes[q] = (plane.right, plane.down);
            }
        }
    }

    /// Pans every pane by a drag of `d` physical pixels in pane `p`.
    pub fn pan(&mut self, p: usize, d: [f64; 2]) {
        let (right, down) = self.axes[p];
        let shift = add(
            scale(right, -d[0] * self.mm_per_px),
            scale(down, -d[1] * self.mm_per_px),
        );
        self.view_center = add(self.view_center, shift);
    }

    /// Zooms by `factor` (> 1 magnifies).
    pub fn zoom(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            self.mm_per_px = (self.mm_per_px / factor).clamp(1e-3, 1e3);
        }
    }

    /// The lines where the other two planes cut pane `p`: (pane q, two end points in
    /// pane pixels spanning the pane).
    pub fn crosshair_lines(&self, p: usize, pane_px: [u32; 2]) -> Vec<(usize, [f64; 2], [f64; 2])> {
        let here = self.plane(p);
        let reach = f64::from(pane_px[0].max(pane_px[1])) * 1.5;
        (0..3)
            .filter(|&q| q != p)
            .filter_map(|q| {
                let (point, dir) = here.intersection(&self.plane(q))?;
                let c = [
                    point[0] / self.mm_per_px + f64::from(pane_px[0]) / 2.0,
                    point[1] / self.mm_per_px + f64::from(pane_px[1]) / 2.0,
                ];
                Some((
                    q,
                    [c[0] - dir[0] * reach, c[1] - dir[1] * reach],
                    [c[0] + dir[0] * reach, c[1] + dir[1] * reach],
                ))
            })
            .collect()
    }

    /// Sets the slab (0 mm: a single plane).
    pub fn set_slab(&mut self, thickness_mm: f64, mode: SlabMode) {
        self.slab = Slab {
            thickness_mm: thickness_mm.max(0.0),
            mode,
        };
    }

    /// Back to the standard planes through the volume centre, fitted.
    pub fn reset(&mut self, volume: &Volume, pane_px: [u32; 2]) {
        *self = MprState::new(volume, self.window, pane_px);
    }

    /// The angle (degrees) of the pointer at `px` about the centre of pane `p`'s
    /// crosshair, for rotating by a drag.
    pub fn angle_about_crosshair(&self, p: usize, px: [f64; 2], pane_px: [u32; 2]) -> f64 {
        let c = self.pixel_of(p, self.crosshair, pane_px);
        (px[1] - c[1]).atan2(px[0] - c[0]).to_degrees()
    }

    /// Distance in mm between two pixels of one pane.
    pub fn length_mm(&self, a: [f64; 2], b: [f64; 2]) -> f64 {
        ((b[0] - a[0]).hypot(b[1] - a[1])) * self.mm_per_px
    }

    /// Whether pane `p` still shows a standard (unrotated) plane.
    pub fn is_standard(&self, p: usize) -> bool {
        let std = Plane::standard(PANES[p], self.crosshair);
        unit(sub(self.axes[p].0, std.right)).is_none()
            && unit(sub(self.axes[p].1, std.down)).is_none()
    }
}

/// Why a series is not a volume, in the reader's language.
pub fn not_volume_text(lang: Lang, e: &NotVolumetric) -> String {
    if lang == Lang::En {
        return format!("not a volume: {e}");
    }
    let why = match e {
        NotVolumetric::TooFewSlices { found } => {
            format!("มีภาพที่เรขาคณิตตรงกันเพียง {found} ภาพ ต้องมีอย่างน้อย {MIN_SLICES} ภาพ")
        }
        NotVolumetric::MissingGeometry { what } => format!("ไม่มีภาพใดมี {what}"),
        NotVolumetric::Colour { samples } => {
            format!("ภาพสี ({samples} ค่าต่อพิกเซล) ไม่นำมาประกอบเป็นภาพปริมาตร")
        }
        NotVolumetric::MixedFrameOfReference { count } => {
            format!("ภาพอยู่ใน Frame of Reference ต่างกัน {count} ชุด")
        }
        NotVolumetric::RepeatedPositions { images, positions } => {
            format!("ภาพ {images} ภาพที่ {positions} ตำแหน่ง แบ่งเป็นเฟสไม่ได้")
        }
        NotVolumetric::ScatteredPositions { offset_mm } => {
            format!("ตำแหน่งภาพไม่อยู่บนเส้นเดียวกัน (คลาดไป {offset_mm:.2} มม.)")
        }
        NotVolumetric::DegenerateOrientation => "Image Orientation (Patient) ใช้ไม่ได้".to_owned(),
    };
    format!("ไม่ใช่ภาพปริมาตร: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_volume::assemble;
    use rangsi_volume::synthetic::Acquisition;

    fn volume() -> Volume {
        let acq = Acquisition {
            row: [1.0, 0.0, 0.0],
            col: [0.0, 1.0, 0.0],
            first: [-100.0, -100.0, -50.0],
            n: 51,
            size: 101,
            ps: 2.0,
            gap: 3.0,
            shift_per_slice: [0.0; 3],
        };
        assemble(&acq.slices())
            .expect("volumetric")
            .volumes
            .remove(0)
    }

    const PANE: [u32; 2] = [400, 400];

    fn close(a: Vec3, b: Vec3) -> bool {
        (0..3).all(|k| (a[k] - b[k]).abs() < 1e-9)
    }

    #[test]
    fn starts_centred_and_fitted_with_standard_planes() {
        let s = MprState::new(
            &volume(),
            WindowLevel {
                center: 40.0,
                width: 400.0,
            },
            PANE,
        );
        assert!(close(s.crosshair, [0.0, 0.0, 25.0]));
        assert!((s.mm_per_px - 200.0 * 1.05 / 400.0).abs() < 1e-12);
        assert_eq!(
            s.plane(0).edge_labels(),
            ["R", "L", "A", "P"].map(String::from)
        );
        assert_eq!(
            s.plane(1).edge_labels(),
            ["A", "P", "H", "F"].map(String::from)
        );
        assert_eq!(
            s.plane(2).edge_labels(),
            ["R", "L", "H", "F"].map(String::from)
        );
        assert!((0..3).all(|p| s.is_standard(p)));
        // The pane centre is the crosshair.
        assert!(close(
            s.patient_at(0, [200.0, 200.0], PANE),
            [0.0, 0.0, 25.0]
        ));
    }

    #[test]
    fn clicking_moves_the_crosshair_and_the_other_planes_follow() {
        let mut s = MprState::new(
            &volume(),
            WindowLevel {
                center: 40.0,
                width: 400.0,
            },
            PANE,
        );
        // 100 px right and 50 px down of the axial pane's centre: patient left and posterior.
        s.set_crosshair(0, [300.0, 250.0], PANE);
        let mm = s.mm_per_px;
        assert!(close(s.crosshair, [100.0 * mm, 50.0 * mm, 25.0]));
        // The sagittal plane now sits at that x, the coronal at that y.
        assert!((s.plane(1).center[0] - 100.0 * mm).abs() < 1e-9);
        assert!((s.plane(2).center[1] - 50.0 * mm).abs() < 1e-9);
        // Images do not move: the axial pane still shows the same patient point at its centre.
        assert!(close(
            s.patient_at(0, [200.0, 200.0], PANE),
            [0.0, 0.0, 25.0]
        ));
        // The crosshair lines of the axial pane pass through the clicked pixel.
        for (_, a, b) in s.crosshair_lines(0, PANE) {
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let cross = (300.0 - a[0]) * dy - (250.0 - a[1]) * dx;
            assert!(cross.abs() / dx.hypot(dy) < 1e-6);
        }
        assert_eq!(s.crosshair_lines(0, PANE).len(), 2);
    }

    #[test]
    fn scrolling_moves_along_the_pane_normal() {
        let mut s = MprState::new(
            &volume(),
            WindowLevel {
                center: 40.0,
                width: 400.0,
            },
            PANE,
        );
        s.scroll(0, 3.0); // axial: towards the head, three 3 mm slices
        assert!(close(s.crosshair, [0.0, 0.0, 34.0]));
        s.scroll(1, 1.0); // sagittal normal points to the patient's right (−x), 2 mm pixels
        assert!(close(s.crosshair, [-2.0, 0.0, 34.0]));
        // Oblique at 45° about z: one step moves one pixel along x or y.
        s.rotate(0, 45.0);
        assert!((s.scroll_step_mm(1) - 2.0 * 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn rotating_tilts_the_other_planes_about_this_pane_normal() {
        let mut s = MprState::new(
            &volume(),
            WindowLevel {
                center: 40.0,
                width: 400.0,
            },
            PANE,
        );
        s.rotate(0, 30.0);
        assert!(s.is_standard(0) && !s.is_standard(1) && !s.is_standard(2));
        // Still orthogonal to the axial plane (they contain its normal, the z axis).
        for q in 1..3 {
            assert!(dot(s.plane(q).normal(), [0.0, 0.0, 1.0]).abs() < 1e-12);
        }
        // The crosshair lines in the axial pane turned by 30°.
        let lines = s.crosshair_lines(0, PANE);
        let (_, a, b) = lines
            .iter()
            .find(|(q, _, _)| *q == 2)
            .copied()
            .expect("coronal line");
        let angle = (b[1] - a[1])
            .atan2(b[0] - a[0])
            .to_degrees()
            .rem_euclid(180.0);
        assert!((angle - 30.0).abs() < 1e-6, "{angle}");
        s.reset(&volume(), PANE);
        assert!((0..3).all(|p| s.is_standard(p)));
    }

    #[test]
    fn pan_zoom_and_length() {
        let mut s = MprState::new(
            &volume(),
            WindowLevel {
                center: 40.0,
                width: 400.0,
            },
            PANE,
        );
        let before = s.patient_at(0, [200.0, 200.0], PANE);
        s.pan(0, [10.0, 0.0]);
        let after = s.patient_at(0, [210.0, 200.0], PANE);
        assert!(close(before, after));
        let mm = s.mm_per_px;
        s.zoom(2.0);
        assert!((s.mm_per_px - mm / 2.0).abs() < 1e-12);
        assert!((s.length_mm([0.0, 0.0], [30.0, 40.0]) - 50.0 * s.mm_per_px).abs() < 1e-12);
        s.set_slab(20.0, SlabMode::Mip);
        assert_eq!(
            s.slab,
            Slab {
                thickness_mm: 20.0,
                mode: SlabMode::Mip
            }
        );
    }

    #[test]
    fn not_a_volume_in_both_languages() {
        let e = NotVolumetric::TooFewSlices { found: 2 };
        assert_eq!(
            super::not_volume_text(Lang::En, &e),
            "not a volume: 2 image(s) with a common geometry; a volume needs at least 3"
        );
        assert_eq!(
            super::not_volume_text(Lang::Th, &e),
            "ไม่ใช่ภาพปริมาตร: มีภาพที่เรขาคณิตตรงกันเพียง 2 ภาพ ต้องมีอย่างน้อย 3 ภาพ"
        );
    }
}
