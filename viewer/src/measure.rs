//! Measurement and pixel-probe math, target-independent and tested natively: which
//! spacing a distance is measured with ([`Spacing`], PS3.3 10.7.1.3), lengths, angles,
//! Cobb angles, ellipse and rectangle ROI statistics on modality values, the pixel
//! probe (stored value, modality value, patient coordinate), the drawing state of a
//! new measurement ([`Draft`]) and the labels shown beside each.
//!
//! Positions are image positions `[column, row]` in pixels with (0, 0) the top left
//! corner of the first pixel (as `rangsi_render::ViewState` maps the screen), so the
//! pixel `(c, r)` covers `[c, c+1) × [r, r+1)` and its centre is `(c+0.5, r+0.5)`.

use rangsi_wire::api::MeasurementKind;
use serde_json::Value;

use crate::dicom::Attrs;
use crate::i18n::{Lang, Text, tr};

/// An image position `[column, row]` (pixels, see the module docs).
pub type Point = [f64; 2];

/// Tags of the calibration attributes, as DICOM JSON keys.
pub mod tags {
    pub const PIXEL_SPACING: &str = "00280030";
    pub const IMAGER_PIXEL_SPACING: &str = "00181164";
    pub const ESTIMATED_RADIOGRAPHIC_MAGNIFICATION_FACTOR: &str = "00185022";
    pub const PIXEL_SPACING_CALIBRATION_TYPE: &str = "00280A02";
    pub const MODALITY: &str = "00080060";
}

/// Which spacing a distance on this image is measured with.
#[derive(Debug, Clone, PartialEq)]
pub enum Calibration {
    /// Pixel Spacing: in the patient (for cross-sectional images) or calibrated to the
    /// patient plane as Pixel Spacing Calibration Type says (`GEOMETRY`, `FIDUCIAL`).
    PixelSpacing { calibration_type: Option<String> },
    /// Imager Pixel Spacing only: distances at the detector plane (magnified).
    Detector,
    /// Imager Pixel Spacing divided by the Estimated Radiographic Magnification Factor.
    MagnificationCorrected { factor: f64 },
    /// No usable spacing: distances in pixels.
    Uncalibrated,
}

impl Calibration {
    /// The calibration as the label under a measurement says it.
    pub fn label(&self, lang: Lang) -> String {
        match self {
            Calibration::PixelSpacing {
                calibration_type: Some(t),
            } => format!("{} ({t})", tr(lang, Text::CalibrationPixelSpacing)),
            Calibration::PixelSpacing {
                calibration_type: None,
            } => tr(lang, Text::CalibrationPixelSpacing).to_owned(),
            Calibration::Detector => tr(lang, Text::CalibrationDetector).to_owned(),
            Calibration::MagnificationCorrected { factor } => {
                format!("{} (÷{factor})", tr(lang, Text::CalibrationMagnification))
            }
            Calibration::Uncalibrated => tr(lang, Text::CalibrationNone).to_owned(),
        }
    }
}

/// The spacing attributes of one image, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpacingAttributes {
    /// Pixel Spacing: row spacing, column spacing (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    /// Imager Pixel Spacing: row spacing, column spacing at the detector (mm).
    pub imager_pixel_spacing: Option<[f64; 2]>,
    pub magnification_factor: Option<f64>,
    pub calibration_type: Option<String>,
}

fn pair(v: Vec<f64>) -> Option<[f64; 2]> {
    (v.len() == 2 && v.iter().all(|x| *x > 0.0 && x.is_finite())).then(|| [v[0], v[1]])
}

impl SpacingAttributes {
    /// From an instance's DICOM JSON (`/metadata`).
    pub fn from_json(v: &Value) -> SpacingAttributes {
        let a = Attrs(v);
        SpacingAttributes {
            pixel_spacing: pair(a.numbers(tags::PIXEL_SPACING)),
            imager_pixel_spacing: pair(a.numbers(tags::IMAGER_PIXEL_SPACING)),
            magnification_factor: a
                .number(tags::ESTIMATED_RADIOGRAPHIC_MAGNIFICATION_FACTOR)
                .filter(|f| *f > 0.0),
            calibration_type: a
                .string(tags::PIXEL_SPACING_CALIBRATION_TYPE)
                .filter(|s| !s.is_empty()),
        }
    }

    /// Pixel Spacing alone (cross-sectional images: CT, MR, ...).
    pub fn pixel_spacing(pixel_spacing: Option<[f64; 2]>) -> SpacingAttributes {
        SpacingAttributes {
            pixel_spacing: pixel_spacing.and_then(|p| pair(p.to_vec())),
            ..SpacingAttributes::default()
        }
    }

    /// Which spacing applies (PS3.3 10.7.1.3): Pixel Spacing when it is present and is
    /// not merely a copy of Imager Pixel Spacing (a calibration type, or a value
    /// different from the detector's, says it was calibrated); otherwise Imager Pixel
    /// Spacing, corrected by the Estimated Radiographic Magnification Factor when one
    /// is given; otherwise pixels.
    pub fn spacing(&self) -> Spacing {
        let close = |a: [f64; 2], b: [f64; 2]| {
            (a[0] - b[0]).abs() <= 1e-6 * a[0].max(b[0])
                && (a[1] - b[1]).abs() <= 1e-6 * a[1].max(b[1])
        };
        if let Some(ps) = self.pixel_spacing {
            let copy_of_detector = self.calibration_type.is_none()
                && self.imager_pixel_spacing.is_some_and(|ips| close(ps, ips));
            if !copy_of_detector {
                return Spacing {
                    row_mm: ps[0],
                    column_mm: ps[1],
                    calibration: Calibration::PixelSpacing {
                        calibration_type: self.calibration_type.clone(),
                    },
                };
            }
        }
        if let Some(ips) = self.imager_pixel_spacing {
            return match self.magnification_factor {
                Some(factor) => Spacing {
                    row_mm: ips[0] / factor,
                    column_mm: ips[1] / factor,
                    calibration: Calibration::MagnificationCorrected { factor },
                },
                None => Spacing {
                    row_mm: ips[0],
                    column_mm: ips[1],
                    calibration: Calibration::Detector,
                },
            };
        }
        Spacing::UNCALIBRATED
    }
}

/// Millimetres per pixel along rows and columns, and where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spacing {
    /// Distance between rows (vertical), mm.
    pub row_mm: f64,
    /// Distance between columns (horizontal), mm.
    pub column_mm: f64,
    pub calibration: Calibration,
}

impl Spacing {
    pub const UNCALIBRATED: Spacing = Spacing {
        row_mm: 1.0,
        column_mm: 1.0,
        calibration: Calibration::Uncalibrated,
    };

    pub fn is_calibrated(&self) -> bool {
        self.calibration != Calibration::Uncalibrated
    }

    /// "mm" or "px".
    pub fn unit(&self) -> &'static str {
        if self.is_calibrated() { "mm" } else { "px" }
    }

    /// A vector between image positions in physical units (mm, or pixels).
    fn physical(&self, a: Point, b: Point) -> [f64; 2] {
        [(b[0] - a[0]) * self.column_mm, (b[1] - a[1]) * self.row_mm]
    }

    /// Distance from `a` to `b` (mm, or pixels when uncalibrated).
    pub fn length(&self, a: Point, b: Point) -> f64 {
        let [dx, dy] = self.physical(a, b);
        dx.hypot(dy)
    }

    /// The angle at `vertex` between the arms to `a` and `b`, degrees in [0, 180],
    /// measured in the patient (non-square pixels are accounted for).
    pub fn angle_deg(&self, a: Point, vertex: Point, b: Point) -> Option<f64> {
        angle_between(self.physical(vertex, a), self.physical(vertex, b))
    }

    /// The Cobb angle: the angle between the line `p1`–`p2` and the line `p3`–`p4`,
    /// degrees in [0, 90] (lines have no direction).
    pub fn cobb_deg(&self, p1: Point, p2: Point, p3: Point, p4: Point) -> Option<f64> {
        let a = angle_between(self.physical(p1, p2), self.physical(p3, p4))?;
        Some(if a > 90.0 { 180.0 - a } else { a })
    }
}

fn angle_between(u: [f64; 2], v: [f64; 2]) -> Option<f64> {
    let (nu, nv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
    if nu <= 0.0 || nv <= 0.0 {
        return None;
    }
    // atan2 of cross and dot is accurate near 0 and 180 degrees, unlike acos.
    let cross = u[0] * v[1] - u[1] * v[0];
    let dot = u[0] * v[0] + u[1] * v[1];
    Some(cross.abs().atan2(dot).to_degrees())
}

/// Where an image plane lies in the patient: Image Position (Patient) of the first
/// pixel's centre, Image Orientation (Patient) and Pixel Spacing (PS3.3 C.7.6.2.1.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneGeometry {
    pub position: [f64; 3],
    /// Row direction cosines (along a row: increasing column), then column direction.
    pub orientation: [f64; 6],
    /// Row spacing, column spacing (mm).
    pub pixel_spacing: [f64; 2],
}

impl PlaneGeometry {
    /// The patient coordinate (mm) of the centre of pixel (`column`, `row`) (indices
    /// from 0; fractions allowed): P = S + X·Δc·column + Y·Δr·row.
    pub fn patient_from_pixel(&self, column: f64, row: f64) -> [f64; 3] {
        let [rx, ry, rz, cx, cy, cz] = self.orientation;
        let (dc, dr) = (self.pixel_spacing[1], self.pixel_spacing[0]);
        let s = self.position;
        [
            s[0] + rx * dc * column + cx * dr * row,
            s[1] + ry * dc * column + cy * dr * row,
            s[2] + rz * dc * column + cz * dr * row,
        ]
    }
}

/// What the probe reads at one pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReading {
    pub column: u32,
    pub row: u32,
    /// The stored sample.
    pub stored: f64,
    /// Rescale Slope × stored + Rescale Intercept (HU for CT).
    pub modality: f64,
    /// Patient coordinate of the pixel centre (mm), when the image has a plane.
    pub patient: Option<[f64; 3]>,
}

/// The pixel under an image position, when it is inside a `columns` × `rows` image.
pub fn pixel_at(p: Point, columns: u32, rows: u32) -> Option<(u32, u32)> {
    let (c, r) = (p[0].floor(), p[1].floor());
    (c >= 0.0 && r >= 0.0 && c < f64::from(columns) && r < f64::from(rows))
        .then_some((c as u32, r as u32))
}

/// Reads the pixel under `p`; `stored_at(index)` gives the stored sample at a
/// row-major index.
pub fn probe(
    p: Point,
    columns: u32,
    rows: u32,
    stored_at: impl Fn(usize) -> Option<f64>,
    rescale: Rescale,
    plane: Option<&PlaneGeometry>,
) -> Option<ProbeReading> {
    let (column, row) = pixel_at(p, columns, rows)?;
    let stored = stored_at(row as usize * columns as usize + column as usize)?;
    Some(ProbeReading {
        column,
        row,
        stored,
        modality: rescale.apply(stored),
        patient: plane.map(|g| g.patient_from_pixel(f64::from(column), f64::from(row))),
    })
}

/// Rescale Slope and Intercept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Rescale {
    pub fn apply(self, stored: f64) -> f64 {
        stored * self.slope + self.intercept
    }
}

/// The pixels `[column0, column1) × [row0, row1)` an ROI needs, clipped to the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    pub column0: u32,
    pub row0: u32,
    pub column1: u32,
    pub row1: u32,
}

impl PixelBox {
    pub fn columns(&self) -> usize {
        (self.column1 - self.column0) as usize
    }
    pub fn rows(&self) -> usize {
        (self.row1 - self.row0) as usize
    }
}

/// An ellipse or rectangle given by two opposite corners of its bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub ellipse: bool,
    pub a: Point,
    pub b: Point,
}

impl Roi {
    /// True when the image position `p` is inside (pixel centres decide membership).
    pub fn contains(&self, p: Point) -> bool {
        let (x0, x1) = (self.a[0].min(self.b[0]), self.a[0].max(self.b[0]));
        let (y0, y1) = (self.a[1].min(self.b[1]), self.a[1].max(self.b[1]));
        if !self.ellipse {
            return p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
        }
        let (rx, ry) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
        if rx <= 0.0 || ry <= 0.0 {
            return false;
        }
        let (dx, dy) = ((p[0] - (x0 + rx)) / rx, (p[1] - (y0 + ry)) / ry);
        dx * dx + dy * dy <= 1.0
    }

    /// The pixels whose centres may be inside, clipped to a `columns` × `rows` image;
    /// `None` when none are.
    pub fn pixel_box(&self, columns: u32, rows: u32) -> Option<PixelBox> {
        let clip = |v: f64, n: u32| v.clamp(0.0, f64::from(n)) as u32;
        let (x0, x1) = (self.a[0].min(self.b[0]), self.a[0].max(self.b[0]));
        let (y0, y1) = (self.a[1].min(self.b[1]), self.a[1].max(self.b[1]));
        // Centre c+0.5 >= x0  <=>  c >= x0-0.5; centre <= x1  <=>  c <= x1-0.5.
        let b = PixelBox {
            column0: clip((x0 - 0.5).ceil(), columns),
            row0: clip((y0 - 0.5).ceil(), rows),
            column1: clip((x1 - 0.5).floor() + 1.0, columns),
            row1: clip((y1 - 0.5).floor() + 1.0, rows),
        };
        (b.column1 > b.column0 && b.row1 > b.row0).then_some(b)
    }

    /// Area of the shape itself (mm², or pixels² when uncalibrated).
    pub fn area(&self, spacing: &Spacing) -> f64 {
        let w = (self.b[0] - self.a[0]).abs() * spacing.column_mm;
        let h = (self.b[1] - self.a[1]).abs() * spacing.row_mm;
        if self.ellipse {
            std::f64::consts::PI * w * h / 4.0
        } else {
            w * h
        }
    }

    /// Statistics of the modality values of the pixels inside. `stored` holds the
    /// stored samples of `pixels` (row-major, `pixels.columns()` per row).
    pub fn stats(
        &self,
        pixels: PixelBox,
        stored: &[f64],
        rescale: Rescale,
        spacing: &Spacing,
    ) -> Option<RoiStats> {
        let (mut n, mut sum, mut min, mut max) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        let mut values = Vec::new();
        for (k, s) in stored
            .iter()
            .enumerate()
            .take(pixels.columns() * pixels.rows())
        {
            let c = pixels.column0 as usize + k % pixels.columns();
            let r = pixels.row0 as usize + k / pixels.columns();
            if !self.contains([c as f64 + 0.5, r as f64 + 0.5]) {
                continue;
            }
            let v = rescale.apply(*s);
            n += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
            values.push(v);
        }
        if n == 0 {
            return None;
        }
        let mean = sum / n as f64;
        // Population standard deviation (all pixels of the region, not a sample of it).
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        Some(RoiStats {
            mean,
            sd: var.sqrt(),
            min,
            max,
            area: self.area(spacing),
            pixels: n,
        })
    }
}

/// ROI statistics on modality values.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiStats {
    pub mean: f64,
    /// Population standard deviation.
    pub sd: f64,
    pub min: f64,
    pub max: f64,
    /// Area of the drawn shape (mm², or pixels² when uncalibrated).
    pub area: f64,
    /// Pixels whose centres are inside.
    pub pixels: usize,
}

/// Units of modality values: HU for CT, none otherwise.
pub fn modality_unit(modality: &str) -> &'static str {
    if modality == "CT" { "HU" } else { "" }
}

/// What a measurement measures, computed from its points (ROI statistics need the
/// pixels and are computed separately, see [`Roi::stats`]).
#[derive(Debug, Clone, PartialEq)]
pub enum MeasuredValue {
    Length(f64),
    Angle(f64),
    Roi(Option<RoiStats>),
    /// Points that do not make a value (an angle arm of length zero).
    Undefined,
}

/// The value of a length, angle or Cobb measurement.
pub fn geometric_value(
    kind: MeasurementKind,
    points: &[Point],
    spacing: &Spacing,
) -> MeasuredValue {
    let p = |i: usize| points.get(i).copied();
    let v = match kind {
        MeasurementKind::Length => p(0)
            .zip(p(1))
            .map(|(a, b)| MeasuredValue::Length(spacing.length(a, b))),
        MeasurementKind::Angle => match (p(0), p(1), p(2)) {
            (Some(a), Some(v), Some(b)) => spacing.angle_deg(a, v, b).map(MeasuredValue::Angle),
            _ => None,
        },
        MeasurementKind::Cobb => match (p(0), p(1), p(2), p(3)) {
            (Some(a), Some(b), Some(c), Some(d)) => {
                spacing.cobb_deg(a, b, c, d).map(MeasuredValue::Angle)
            }
            _ => None,
        },
        MeasurementKind::Ellipse | MeasurementKind::Rectangle => Some(MeasuredValue::Roi(None)),
    };
    v.unwrap_or(MeasuredValue::Undefined)
}

/// The lines of a measurement's label: the value(s), then the calibration.
pub fn label_lines(
    value: &MeasuredValue,
    spacing: &Spacing,
    unit: &str,
    lang: Lang,
) -> Vec<String> {
    let u = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let mut lines = match value {
        MeasuredValue::Length(mm) => vec![format!("{mm:.1} {}", spacing.unit())],
        MeasuredValue::Angle(deg) => return vec![format!("{deg:.1}°")],
        MeasuredValue::Roi(Some(s)) => {
            let area_unit = if spacing.is_calibrated() {
                "mm²"
            } else {
                "px²"
            };
            vec![
                format!(
                    "{} {:.1}{u}  {} {:.1}",
                    tr(lang, Text::Mean),
                    s.mean,
                    tr(lang, Text::StdDev),
                    s.sd
                ),
                format!(
                    "{} {}  {} {}",
                    tr(lang, Text::Min),
                    trim_number(s.min),
                    tr(lang, Text::Max),
                    trim_number(s.max)
                ),
                format!(
                    "{} {:.1} {area_unit} ({} {})",
                    tr(lang, Text::Area),
                    s.area,
                    s.pixels,
                    tr(lang, Text::PixelCount)
                ),
            ]
        }
        MeasuredValue::Roi(None) => vec![tr(lang, Text::Loading).to_owned()],
        MeasuredValue::Undefined => return vec!["–".to_owned()],
    };
    lines.push(spacing.calibration.label(lang));
    lines
}

/// A number without a needless ".0" (stored values are usually integers).
pub fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A new measurement id: time and randomness, in the characters the server accepts.
pub fn new_id(millis: f64, random: f64) -> String {
    format!(
        "m{:x}-{:08x}",
        millis.max(0.0) as u64,
        (random.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u32
    )
}

/// A measurement being drawn. Length, ellipse and rectangle: press, drag, release.
/// Angle: drag the first arm, then click the end of the second. Cobb: drag one line,
/// then the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: MeasurementKind,
    pub points: Vec<Point>,
    /// The pointer is down (dragging the point being placed).
    down: bool,
}

impl Draft {
    /// Pressed at `p` with `kind`'s tool, nothing drawn yet.
    pub fn start(kind: MeasurementKind, p: Point) -> Draft {
        Draft {
            kind,
            points: vec![p, p],
            down: true,
        }
    }

    /// The pointer moved: the point being dragged follows it, and so does the end of
    /// an angle's second arm (placed by a click); between the two lines of a Cobb
    /// angle nothing moves.
    pub fn moved(&mut self, p: Point) {
        let follows = self.down || (self.kind == MeasurementKind::Angle && self.points.len() == 3);
        if follows && let Some(last) = self.points.last_mut() {
            *last = p;
        }
    }

    /// Pressed again while drawing (second arm of an angle, second line of a Cobb).
    pub fn pressed(&mut self, p: Point) {
        self.down = true;
        match (self.kind, self.points.len()) {
            (MeasurementKind::Cobb, 2) => self.points.extend([p, p]),
            _ => self.moved(p),
        }
    }

    /// Released at `p`; true when the measurement is complete.
    pub fn released(&mut self, p: Point) -> bool {
        self.moved(p);
        self.down = false;
        if self.kind == MeasurementKind::Angle && self.points.len() == 2 {
            // The first arm is drawn; the third point follows the pointer until a click.
            self.points.push(p);
            return false;
        }
        self.points.len() >= self.kind.points()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ct_length_uses_pixel_spacing_row_then_column() {
        // Pixel Spacing 0.5 (rows) \ 0.8 (columns): 30 columns and 40 rows apart is
        // sqrt((30*0.8)^2 + (40*0.5)^2) = sqrt(576 + 400) = 31.240998...
        let s = SpacingAttributes::pixel_spacing(Some([0.5, 0.8])).spacing();
        assert_eq!(
            s.calibration,
            Calibration::PixelSpacing {
                calibration_type: None
            }
        );
        assert!(close(
            s.length([10.0, 10.0], [40.0, 50.0]),
            976f64.sqrt(),
            1e-12
        ));
        assert_eq!(s.unit(), "mm");
    }

    #[test]
    fn projection_calibration_follows_ps3_3_10_7_1_3() {
        let detector = SpacingAttributes {
            imager_pixel_spacing: Some([0.2, 0.2]),
            ..Default::default()
        };
        let s = detector.spacing();
        assert_eq!(s.calibration, Calibration::Detector);
        assert!(close(s.length([0.0, 0.0], [100.0, 0.0]), 20.0, 1e-12));

        // Magnification 1.25: 0.2 / 1.25 = 0.16 mm per pixel at the patient.
        let magnified = SpacingAttributes {
            magnification_factor: Some(1.25),
            ..detector.clone()
        };
        let s = magnified.spacing();
        assert_eq!(
            s.calibration,
            Calibration::MagnificationCorrected { factor: 1.25 }
        );
        assert!(close(s.length([0.0, 0.0], [100.0, 0.0]), 16.0, 1e-12));

        // Pixel Spacing equal to Imager Pixel Spacing and no calibration type: only the
        // detector spacing copied, so the magnification correction still applies.
        let copied = SpacingAttributes {
            pixel_spacing: Some([0.2, 0.2]),
            ..magnified.clone()
        };
        assert_eq!(
            copied.spacing().calibration,
            Calibration::MagnificationCorrected { factor: 1.25 }
        );

        // A calibration type makes Pixel Spacing the calibrated one.
        let geometry = SpacingAttributes {
            pixel_spacing: Some([0.15, 0.15]),
            calibration_type: Some("GEOMETRY".into()),
            ..magnified.clone()
        };
        let s = geometry.spacing();
        assert_eq!(
            s.calibration,
            Calibration::PixelSpacing {
                calibration_type: Some("GEOMETRY".into())
            }
        );
        assert!(close(s.length([0.0, 0.0], [0.0, 10.0]), 1.5, 1e-12));
        assert_eq!(s.calibration.label(Lang::En), "PixelSpacing (GEOMETRY)");

        let none = SpacingAttributes::default().spacing();
        assert_eq!(none.calibration, Calibration::Uncalibrated);
        assert_eq!(none.unit(), "px");
        assert!(close(none.length([0.0, 0.0], [3.0, 4.0]), 5.0, 1e-12));
        assert_eq!(none.calibration.label(Lang::En), "pixels (uncalibrated)");
    }

    #[test]
    fn spacing_attributes_come_from_dicom_json() {
        let v: Value = serde_json::from_str(
            r#"{"00280030":{"vr":"DS","Value":[0.139,0.139]},
                "00181164":{"vr":"DS","Value":["0.150","0.150"]},
                "00185022":{"vr":"DS","Value":[1.08]},
                "00280A02":{"vr":"CS","Value":["FIDUCIAL"]}}"#,
        )
        .expect("json");
        let a = SpacingAttributes::from_json(&v);
        assert_eq!(a.pixel_spacing, Some([0.139, 0.139]));
        assert_eq!(a.imager_pixel_spacing, Some([0.15, 0.15]));
        assert_eq!(a.magnification_factor, Some(1.08));
        assert_eq!(a.calibration_type.as_deref(), Some("FIDUCIAL"));
        // Zero or negative spacings are not spacings.
        let bad: Value =
            serde_json::from_str(r#"{"00280030":{"vr":"DS","Value":[0,0.5]}}"#).expect("json");
        assert_eq!(
            SpacingAttributes::from_json(&bad).spacing(),
            Spacing::UNCALIBRATED
        );
    }

    #[test]
    fn angles_by_hand() {
        let s = Spacing::UNCALIBRATED;
        // Right angle at the origin.
        assert!(close(
            s.angle_deg([10.0, 0.0], [0.0, 0.0], [0.0, 7.0]).expect("a"),
            90.0,
            1e-12
        ));
        // (1,0) and (1,1): 45 degrees; (1,0) and (-1,0): 180.
        assert!(close(
            s.angle_deg([1.0, 0.0], [0.0, 0.0], [1.0, 1.0]).expect("a"),
            45.0,
            1e-12
        ));
        assert!(close(
            s.angle_deg([1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]).expect("a"),
            180.0,
            1e-12
        ));
        assert_eq!(s.angle_deg([0.0, 0.0], [0.0, 0.0], [1.0, 1.0]), None);
        // Non-square pixels: (1,1) pixels with rows twice as far apart is atan(2) from
        // the row direction = 63.4349488 degrees.
        let tall = Spacing {
            row_mm: 2.0,
            column_mm: 1.0,
            calibration: Calibration::PixelSpacing {
                calibration_type: None,
            },
        };
        assert!(close(
            tall.angle_deg([1.0, 0.0], [0.0, 0.0], [1.0, 1.0])
                .expect("a"),
            63.43494882292201,
            1e-9
        ));
    }

    #[test]
    fn cobb_angle_is_between_lines_and_at_most_90() {
        let s = Spacing::UNCALIBRATED;
        // Horizontal line and a line at 30 degrees (direction (cos30, sin30)).
        let (c, n) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let a = s
            .cobb_deg(
                [0.0, 0.0],
                [10.0, 0.0],
                [0.0, 5.0],
                [10.0 * c, 5.0 + 10.0 * n],
            )
            .expect("cobb");
        assert!(close(a, 30.0, 1e-9));
        // The same lines drawn in the opposite directions: still 30, not 150.
        let b = s
            .cobb_deg(
                [10.0, 0.0],
                [0.0, 0.0],
                [0.0, 5.0],
                [10.0 * c, 5.0 + 10.0 * n],
            )
            .expect("cobb");
        assert!(close(b, 30.0, 1e-9));
        // Parallel lines: 0.
        assert!(close(
            s.cobb_deg([0.0, 0.0], [1.0, 1.0], [5.0, 0.0], [7.0, 2.0])
                .expect("c"),
            0.0,
            1e-9
        ));
    }

    #[test]
    fn patient_coordinate_of_an_axial_and_an_oblique_plane() {
        // Axial CT: IPP (-250, -250, 100), rows along +x, columns along +y, 0.5 \ 0.7 mm.
        let axial = PlaneGeometry {
            position: [-250.0, -250.0, 100.0],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            pixel_spacing: [0.5, 0.7],
        };
        // Column 10 moves x by 10*0.7 = 7; row 20 moves y by 20*0.5 = 10.
        assert_eq!(
            axial.patient_from_pixel(10.0, 20.0),
            [-243.0, -240.0, 100.0]
        );
        // Coronal: rows along +x, columns along -z.
        let coronal = PlaneGeometry {
            position: [0.0, 50.0, 0.0],
            orientation: [1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
            pixel_spacing: [2.0, 1.0],
        };
        assert_eq!(coronal.patient_from_pixel(3.0, 4.0), [3.0, 50.0, -8.0]);
    }

    #[test]
    fn probe_reads_stored_and_hu_at_the_pixel_under_the_point() {
        // A 4x3 image, stored value = 100*row + column.
        let stored: Vec<f64> = (0..12).map(|i| f64::from(100 * (i / 4) + i % 4)).collect();
        let ct = Rescale {
            slope: 1.0,
            intercept: -1024.0,
        };
        let plane = PlaneGeometry {
            position: [0.0, 0.0, 5.0],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            pixel_spacing: [0.5, 0.5],
        };
        let r = probe(
            [2.9, 1.1],
            4,
            3,
            |i| stored.get(i).copied(),
            ct,
            Some(&plane),
        )
        .expect("inside");
        assert_eq!((r.column, r.row), (2, 1));
        assert_eq!(r.stored, 102.0);
        assert_eq!(r.modality, 102.0 - 1024.0);
        assert_eq!(r.patient, Some([1.0, 0.5, 5.0]));
        assert_eq!(
            probe([4.0, 0.0], 4, 3, |i| stored.get(i).copied(), ct, None),
            None
        );
        assert_eq!(
            probe([-0.1, 0.0], 4, 3, |i| stored.get(i).copied(), ct, None),
            None
        );
    }

    #[test]
    fn rectangle_statistics_by_hand() {
        // 4x4 image, stored = column + 4*row, slope 2 intercept -10.
        let stored: Vec<f64> = (0..16).map(f64::from).collect();
        let roi = Roi {
            ellipse: false,
            a: [1.0, 1.0],
            b: [3.0, 3.0],
        };
        // Pixel centres inside [1,3]x[1,3]: columns 1,2 and rows 1,2 -> 5, 6, 9, 10.
        let bx = roi.pixel_box(4, 4).expect("box");
        assert_eq!(
            bx,
            PixelBox {
                column0: 1,
                row0: 1,
                column1: 3,
                row1: 3
            }
        );
        let sub: Vec<f64> = (bx.row0..bx.row1)
            .flat_map(|r| (bx.column0..bx.column1).map(move |c| (r, c)))
            .map(|(r, c)| stored[(r * 4 + c) as usize])
            .collect();
        let spacing = SpacingAttributes::pixel_spacing(Some([0.5, 0.25])).spacing();
        let s = roi
            .stats(
                bx,
                &sub,
                Rescale {
                    slope: 2.0,
                    intercept: -10.0,
                },
                &spacing,
            )
            .expect("stats");
        // Modality values 0, 2, 8, 10: mean 5, population SD sqrt((25+9+9+25)/4) = sqrt(17).
        assert_eq!(s.pixels, 4);
        assert!(close(s.mean, 5.0, 1e-12));
        assert!(close(s.sd, 17f64.sqrt(), 1e-12));
        assert_eq!((s.min, s.max), (0.0, 10.0));
        // 2 columns x 0.25 mm by 2 rows x 0.5 mm = 0.5 mm x 1 mm.
        assert!(close(s.area, 0.5, 1e-12));
    }

    #[test]
    fn ellipse_statistics_by_hand() {
        // A circle of radius 2 centred on (3, 3) in a 6x6 image of ones, with a 9 at
        // pixel (2, 2) (centre (2.5, 2.5): inside) and 100 at (0, 0) (outside).
        let mut stored = vec![1.0; 36];
        stored[2 * 6 + 2] = 9.0;
        stored[0] = 100.0;
        let roi = Roi {
            ellipse: true,
            a: [1.0, 1.0],
            b: [5.0, 5.0],
        };
        let bx = roi.pixel_box(6, 6).expect("box");
        assert_eq!((bx.column0, bx.column1, bx.row0, bx.row1), (1, 5, 1, 5));
        let sub: Vec<f64> = (bx.row0..bx.row1)
            .flat_map(|r| (bx.column0..bx.column1).map(|c| (r, c)).collect::<Vec<_>>())
            .map(|(r, c)| stored[(r * 6 + c) as usize])
            .collect();
        let s = roi
            .stats(
                bx,
                &sub,
                Rescale {
                    slope: 1.0,
                    intercept: 0.0,
                },
                &Spacing::UNCALIBRATED,
            )
            .expect("stats");
        // Centres (c+0.5, r+0.5) within distance 2 of (3,3): offsets (+-0.5, +-0.5),
        // (+-1.5, +-0.5) and (+-0.5, +-1.5): 4 + 4 + 4 = 12 pixels ((1.5,1.5) is 2.12 away).
        assert_eq!(s.pixels, 12);
        assert!(close(s.mean, (11.0 + 9.0) / 12.0, 1e-12));
        assert_eq!((s.min, s.max), (1.0, 9.0));
        assert!(close(s.area, std::f64::consts::PI * 4.0, 1e-12));
    }

    #[test]
    fn roi_boxes_clip_to_the_image() {
        let roi = Roi {
            ellipse: false,
            a: [-5.0, -5.0],
            b: [2.0, 100.0],
        };
        assert_eq!(
            roi.pixel_box(10, 10),
            Some(PixelBox {
                column0: 0,
                row0: 0,
                column1: 2,
                row1: 10
            })
        );
        let outside = Roi {
            ellipse: true,
            a: [20.0, 20.0],
            b: [30.0, 30.0],
        };
        assert_eq!(outside.pixel_box(10, 10), None);
    }

    #[test]
    fn drafts_complete_after_the_right_gestures() {
        let mut d = Draft::start(MeasurementKind::Length, [1.0, 1.0]);
        d.moved([5.0, 1.0]);
        assert!(d.released([6.0, 1.0]));
        assert_eq!(d.points, vec![[1.0, 1.0], [6.0, 1.0]]);

        let mut a = Draft::start(MeasurementKind::Angle, [0.0, 0.0]);
        assert!(!a.released([10.0, 0.0]));
        a.moved([10.0, 10.0]);
        a.pressed([10.0, 12.0]);
        assert!(a.released([10.0, 12.0]));
        assert_eq!(a.points, vec![[0.0, 0.0], [10.0, 0.0], [10.0, 12.0]]);

        let mut c = Draft::start(MeasurementKind::Cobb, [0.0, 0.0]);
        assert!(!c.released([10.0, 0.0]));
        // Moving to the second line's start leaves the first line alone.
        c.moved([0.0, 5.0]);
        assert_eq!(c.points, vec![[0.0, 0.0], [10.0, 0.0]]);
        c.pressed([0.0, 5.0]);
        c.moved([8.0, 9.0]);
        assert!(c.released([10.0, 10.0]));
        assert_eq!(c.points.len(), 4);
        assert_eq!(c.points[3], [10.0, 10.0]);
    }

    #[test]
    fn labels_state_the_value_and_the_calibration() {
        let ct = SpacingAttributes::pixel_spacing(Some([0.5, 0.5])).spacing();
        let v = geometric_value(MeasurementKind::Length, &[[0.0, 0.0], [30.0, 40.0]], &ct);
        assert_eq!(v, MeasuredValue::Length(25.0));
        assert_eq!(
            label_lines(&v, &ct, "HU", Lang::En),
            vec!["25.0 mm", "PixelSpacing"]
        );
        let stats = MeasuredValue::Roi(Some(RoiStats {
            mean: 40.26,
            sd: 3.0,
            min: -2.0,
            max: 80.0,
            area: 12.5,
            pixels: 50,
        }));
        assert_eq!(
            label_lines(&stats, &ct, "HU", Lang::En),
            vec![
                "Mean 40.3 HU  SD 3.0",
                "Min -2  Max 80",
                "Area 12.5 mm² (50 pixels)",
                "PixelSpacing"
            ]
        );
        let angle = geometric_value(
            MeasurementKind::Angle,
            &[[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]],
            &ct,
        );
        assert_eq!(label_lines(&angle, &ct, "", Lang::En), vec!["90.0°"]);
    }

    #[test]
    fn ids_are_what_the_server_accepts() {
        let id = new_id(1_700_000_000_000.0, 0.5);
        assert!(id.len() <= 64);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert_ne!(id, new_id(1_700_000_000_000.0, 0.25));
    }
}
