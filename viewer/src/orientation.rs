//! Patient orientation on screen: the L/R/A/P/H/F markers at the four edges of a
//! viewport from Image Orientation (Patient) and the viewport's rotation/flip, the
//! reference line of one slice on another image of the same frame of reference, and
//! the slice nearest to a position for synchronised scrolling.
//!
//! Patient axes (PS3.3 C.7.6.2.1.1, LPS): +x towards the patient's Left, +y
//! Posterior, +z Head. Directions on screen come in as image-space vectors (x along
//! a row, y down a column): the viewer gets them from `rangsi_render::Orientation`.

use crate::dicom::Instance;

/// The letters of a patient direction (one definition, in `rangsi-volume`, shared with
/// the MPR and 3D views).
pub use rangsi_volume::direction_label;

/// Labels at the left, right, top and bottom edges of the viewport.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Markers {
    pub left: String,
    pub right: String,
    pub top: String,
    pub bottom: String,
}

/// Markers for an image with Image Orientation (Patient) `iop` (row direction, then
/// column direction) when screen right and screen down point along the image-space
/// vectors `image_right` and `image_down`.
pub fn markers(iop: [f64; 6], image_right: [f64; 2], image_down: [f64; 2]) -> Markers {
    let row = [iop[0], iop[1], iop[2]];
    let col = [iop[3], iop[4], iop[5]];
    let patient = |v: [f64; 2]| {
        [
            v[0] * row[0] + v[1] * col[0],
            v[0] * row[1] + v[1] * col[1],
            v[0] * row[2] + v[1] * col[2],
        ]
    };
    let neg = |p: [f64; 3]| [-p[0], -p[1], -p[2]];
    let right = patient(image_right);
    let down = patient(image_down);
    Markers {
        left: direction_label(neg(right)),
        right: direction_label(right),
        top: direction_label(neg(down)),
        bottom: direction_label(down),
    }
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Position of a slice along its own normal (mm), for synchronised scrolling.
pub fn position_along(instance: &Instance, normal: [f64; 3]) -> Option<f64> {
    Some(dot(instance.position?, normal))
}

/// The unit normal of an image plane.
pub fn normal(instance: &Instance) -> Option<[f64; 3]> {
    let o = instance.orientation?;
    let n = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let len = dot(n, n).sqrt();
    (len > 1e-6).then(|| [n[0] / len, n[1] / len, n[2] / len])
}

/// The slice of `stack` whose plane lies nearest to the plane of `reference`, when both
/// are (nearly) parallel; `None` when they are not (scrolling an axial series does not
/// move a sagittal one) or geometry is missing.
pub fn nearest_slice(stack: &[Instance], reference: &Instance) -> Option<usize> {
    let n = normal(reference)?;
    let target = position_along(reference, n)?;
    let first = stack.first()?;
    let m = normal(first)?;
    if dot(n, m).abs() < 0.99 {
        return None;
    }
    stack
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, (position_along(s, n)? - target).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Where the plane of `slice` cuts the image `image`: the segment's two ends in image
/// pixel coordinates of `image` ((0,0) = top-left corner of its first pixel), or
/// `None` when the planes are parallel, do not meet inside the image, or geometry is
/// missing.
pub fn reference_line(image: &Instance, slice: &Instance) -> Option<[[f64; 2]; 2]> {
    let n = normal(slice)?;
    if let Some(m) = normal(image)
        && dot(n, m).abs() > 0.99
    {
        return None;
    }
    let o = image.orientation?;
    let origin = image.position?;
    let spacing = image.pixel_spacing?; // row spacing, column spacing
    let d = dot(slice.position?, n);
    let (cols, rows) = (f64::from(image.pixel.columns), f64::from(image.pixel.rows));
    // Patient position of image point (x, y); pixel centres at half-integers.
    let at = |x: f64, y: f64| {
        let (u, v) = ((x - 0.5) * spacing[1], (y - 0.5) * spacing[0]);
        [
            origin[0] + u * o[0] + v * o[3],
            origin[1] + u * o[1] + v * o[4],
            origin[2] + u * o[2] + v * o[5],
        ]
    };
    let corners = [(0.0, 0.0), (cols, 0.0), (cols, rows), (0.0, rows)];
    let dist: Vec<f64> = corners.iter().map(|&(x, y)| dot(at(x, y), n) - d).collect();
    let mut ends = Vec::new();
    for k in 0..4 {
        let (a, b) = (k, (k + 1) % 4);
        let (da, db) = (dist[a], dist[b]);
        if (da <= 0.0 && db > 0.0) || (da > 0.0 && db <= 0.0) {
            let t = da / (da - db);
            let (xa, ya) = corners[a];
            let (xb, yb) = corners[b];
            ends.push([xa + t * (xb - xa), ya + t * (yb - ya)]);
        }
    }
    (ends.len() >= 2).then(|| [ends[0], ends[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_wire::decode::PixelModule;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    const CORONAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];
    const SAGITTAL: [f64; 6] = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];

    fn slice(iop: [f64; 6], position: [f64; 3]) -> Instance {
        Instance {
            sop_uid: "1".into(),
            instance_number: None,
            position: Some(position),
            orientation: Some(iop),
            slice_location: None,
            slice_thickness: None,
            pixel_spacing: Some([1.0, 1.0]),
            windows: vec![],
            pixel: PixelModule {
                rows: 100,
                columns: 100,
                samples_per_pixel: 1,
                bits_allocated: 16,
                bits_stored: 16,
                high_bit: 15,
                pixel_representation: 1,
                planar_configuration: 0,
                photometric: "MONOCHROME2".into(),
                number_of_frames: 1,
                rescale_slope: 1.0,
                rescale_intercept: 0.0,
                float_pixels: false,
                transfer_syntax: None,
                palette: None,
            },
            frame_of_reference: Some("1.2.3".into()),
            frame_time_ms: None,
        }
    }

    /// As shown with no rotation or flip.
    const RIGHT: [f64; 2] = [1.0, 0.0];
    const DOWN: [f64; 2] = [0.0, 1.0];

    #[test]
    fn standard_planes_read_as_radiologists_expect() {
        // Axial: the patient's right on the viewer's left, anterior at the top.
        let m = markers(AXIAL, RIGHT, DOWN);
        assert_eq!(
            (
                m.left.as_str(),
                m.right.as_str(),
                m.top.as_str(),
                m.bottom.as_str()
            ),
            ("R", "L", "A", "P")
        );
        let m = markers(CORONAL, RIGHT, DOWN);
        assert_eq!(
            (
                m.left.as_str(),
                m.right.as_str(),
                m.top.as_str(),
                m.bottom.as_str()
            ),
            ("R", "L", "H", "F")
        );
        let m = markers(SAGITTAL, RIGHT, DOWN);
        assert_eq!(
            (
                m.left.as_str(),
                m.right.as_str(),
                m.top.as_str(),
                m.bottom.as_str()
            ),
            ("A", "P", "H", "F")
        );
    }

    #[test]
    fn markers_follow_rotation_and_flip() {
        // Axial rotated 90° clockwise: screen right now shows what was the image top
        // (anterior), screen down what was the image right (patient left).
        let m = markers(AXIAL, [0.0, -1.0], [1.0, 0.0]);
        assert_eq!(
            (
                m.left.as_str(),
                m.right.as_str(),
                m.top.as_str(),
                m.bottom.as_str()
            ),
            ("P", "A", "R", "L")
        );
        // Axial mirrored left-right: L on the left.
        let m = markers(AXIAL, [-1.0, 0.0], DOWN);
        assert_eq!((m.left.as_str(), m.right.as_str()), ("L", "R"));
        // Mirrored top-bottom: posterior at the top.
        let m = markers(AXIAL, RIGHT, [0.0, -1.0]);
        assert_eq!((m.top.as_str(), m.bottom.as_str()), ("P", "A"));
    }

    #[test]
    fn oblique_directions_name_the_strongest_axis_first() {
        let c = 30f64.to_radians().cos();
        let s = 30f64.to_radians().sin();
        assert_eq!(direction_label([c, s, 0.0]), "LP");
        assert_eq!(direction_label([-s, 0.0, c]), "HR");
        assert_eq!(direction_label([0.99, 0.1, 0.05]), "L");
    }

    #[test]
    fn a_sagittal_slice_cuts_an_axial_image_in_a_vertical_line() {
        // Axial image at z = 0 from (-50,-50); sagittal slice at x = 10 (patient left of centre).
        let axial = slice(AXIAL, [-49.5, -49.5, 0.0]);
        let sag = slice(SAGITTAL, [10.0, -49.5, 49.5]);
        let [a, b] = reference_line(&axial, &sag).expect("planes meet");
        // x = 10 mm is column 59.5 + 0.5 = 60 (left edge of pixel 60 is -49.5 - 0.5 + 60).
        for p in [a, b] {
            assert!((p[0] - 60.0).abs() < 1e-9, "{p:?}");
        }
        let ys = [a[1].min(b[1]), a[1].max(b[1])];
        assert_eq!(ys, [0.0, 100.0]);
        // Parallel planes: no line.
        assert!(reference_line(&axial, &slice(AXIAL, [0.0, 0.0, 5.0])).is_none());
        // A sagittal slice outside the image: no line.
        assert!(reference_line(&axial, &slice(SAGITTAL, [80.0, 0.0, 0.0])).is_none());
    }

    #[test]
    fn synchronised_scrolling_picks_the_nearest_parallel_slice() {
        let stack: Vec<Instance> = (0..10)
            .map(|k| slice(AXIAL, [0.0, 0.0, -2.5 * f64::from(k)]))
            .collect();
        assert_eq!(
            nearest_slice(&stack, &slice(AXIAL, [0.0, 0.0, -11.0])),
            Some(4)
        );
        assert_eq!(
            nearest_slice(&stack, &slice(AXIAL, [5.0, 5.0, 100.0])),
            Some(0)
        );
        assert_eq!(
            nearest_slice(&stack, &slice(SAGITTAL, [0.0, 0.0, -11.0])),
            None
        );
    }
}
