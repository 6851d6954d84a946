//! DICOM JSON (PS3.18 F.2), as QIDO-RS and `/metadata` answer, to the few things the
//! viewer shows: [`Study`], [`Series`], [`Instance`] (with its pixel module), and
//! person names for display ([`PersonName`]).

use rangsi_wire::decode::{LutData, PaletteSource, PixelModule};
use serde_json::Value;

/// Tags by keyword, as DICOM JSON keys.
pub mod tags {
    pub const TRANSFER_SYNTAX_UID: &str = "00020010";
    pub const SOP_INSTANCE_UID: &str = "00080018";
    pub const STUDY_DATE: &str = "00080020";
    pub const STUDY_TIME: &str = "00080030";
    pub const ACCESSION_NUMBER: &str = "00080050";
    pub const MODALITY: &str = "00080060";
    pub const MODALITIES_IN_STUDY: &str = "00080061";
    pub const INSTITUTION_NAME: &str = "00080080";
    pub const STUDY_DESCRIPTION: &str = "00081030";
    pub const SERIES_DESCRIPTION: &str = "0008103E";
    pub const PATIENT_NAME: &str = "00100010";
    pub const PATIENT_ID: &str = "00100020";
    pub const PATIENT_BIRTH_DATE: &str = "00100030";
    pub const PATIENT_SEX: &str = "00100040";
    pub const SLICE_THICKNESS: &str = "00180050";
    pub const STUDY_INSTANCE_UID: &str = "0020000D";
    pub const SERIES_INSTANCE_UID: &str = "0020000E";
    pub const SERIES_NUMBER: &str = "00200011";
    pub const INSTANCE_NUMBER: &str = "00200013";
    pub const IMAGE_POSITION_PATIENT: &str = "00200032";
    pub const IMAGE_ORIENTATION_PATIENT: &str = "00200037";
    pub const SLICE_LOCATION: &str = "00201041";
    pub const NUMBER_OF_STUDY_RELATED_SERIES: &str = "00201206";
    pub const NUMBER_OF_STUDY_RELATED_INSTANCES: &str = "00201208";
    pub const NUMBER_OF_SERIES_RELATED_INSTANCES: &str = "00201209";
    pub const SAMPLES_PER_PIXEL: &str = "00280002";
    pub const PHOTOMETRIC_INTERPRETATION: &str = "00280004";
    pub const PLANAR_CONFIGURATION: &str = "00280006";
    pub const NUMBER_OF_FRAMES: &str = "00280008";
    pub const ROWS: &str = "00280010";
    pub const COLUMNS: &str = "00280011";
    pub const PIXEL_SPACING: &str = "00280030";
    pub const BITS_ALLOCATED: &str = "00280100";
    pub const BITS_STORED: &str = "00280101";
    pub const HIGH_BIT: &str = "00280102";
    pub const PIXEL_REPRESENTATION: &str = "00280103";
    pub const WINDOW_CENTER: &str = "00281050";
    pub const WINDOW_WIDTH: &str = "00281051";
    pub const RESCALE_INTERCEPT: &str = "00281052";
    pub const RESCALE_SLOPE: &str = "00281053";
    pub const WINDOW_EXPLANATION: &str = "00281055";
    pub const FLOAT_PIXEL_DATA: &str = "7FE00008";
    pub const DOUBLE_FLOAT_PIXEL_DATA: &str = "7FE00009";
    // reading tools: frame of reference and cine timing
    pub const FRAME_OF_REFERENCE_UID: &str = "00200052";
    pub const FRAME_TIME: &str = "00181063";
    pub const RECOMMENDED_DISPLAY_FRAME_RATE: &str = "00082144";
    pub const CINE_RATE: &str = "00180040";
    // end reading tools
    // colour: PALETTE COLOR lookup tables (data +0, +1, +2 for red, green, blue)
    pub const RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR: &str = "00281101";
    pub const RED_PALETTE_COLOR_LOOKUP_TABLE_DATA: [&str; 3] = ["00281201", "00281202", "00281203"];
    pub const SEGMENTED_PALETTE_COLOR_LOOKUP_TABLE_DATA: [&str; 3] =
        ["00281221", "00281222", "00281223"];
}

/// One DICOM JSON data set (an object keyed by tag).
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a>(pub &'a Value);

impl<'a> Attrs<'a> {
    fn values(&self, tag: &str) -> Option<&'a Vec<Value>> {
        self.0.get(tag)?.get("Value")?.as_array()
    }

    pub fn has(&self, tag: &str) -> bool {
        self.0.get(tag).is_some()
    }

    /// First value as text (strings, and numbers written out).
    pub fn string(&self, tag: &str) -> Option<String> {
        self.strings(tag).into_iter().next()
    }

    /// All values as text.
    pub fn strings(&self, tag: &str) -> Vec<String> {
        self.values(tag)
            .map(|v| {
                v.iter()
                    .filter_map(|x| match x {
                        Value::String(s) => Some(s.trim().to_owned()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All values as numbers (DS/IS may arrive as JSON numbers or as strings).
    pub fn numbers(&self, tag: &str) -> Vec<f64> {
        self.values(tag)
            .map(|v| {
                v.iter()
                    .filter_map(|x| match x {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    })
                    .filter(|x| x.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn number(&self, tag: &str) -> Option<f64> {
        self.numbers(tag).into_iter().next()
    }

    pub fn int(&self, tag: &str) -> Option<i64> {
        self.number(tag).map(|v| v as i64)
    }

    fn u16_or(&self, tag: &str, default: u16) -> u16 {
        self.number(tag)
            .filter(|v| (0.0..=65535.0).contains(v))
            .map_or(default, |v| v as u16)
    }

    /// A binary value: base64 InlineBinary or a BulkDataURI.
    pub fn binary(&self, tag: &str) -> Option<LutData> {
        let e = self.0.get(tag)?;
        if let Some(b64) = e.get("InlineBinary").and_then(Value::as_str) {
            return Some(LutData::Inline(b64.to_owned()));
        }
        e.get("BulkDataURI")
            .and_then(Value::as_str)
            .map(|url| LutData::Bulk(url.to_owned()))
    }

    /// The Palette Color LUT of a PALETTE COLOR image: plain data, else segmented.
    fn palette(&self) -> Option<PaletteSource> {
        let descriptor: Vec<i32> = self
            .numbers(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR)
            .into_iter()
            .map(|v| v as i32)
            .collect();
        let channels = |tags: [&str; 3]| {
            Some([
                self.binary(tags[0])?,
                self.binary(tags[1])?,
                self.binary(tags[2])?,
            ])
        };
        let (segmented, [red, green, blue]) =
            match channels(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA) {
                Some(c) => (false, c),
                None => (
                    true,
                    channels(tags::SEGMENTED_PALETTE_COLOR_LOOKUP_TABLE_DATA)?,
                ),
            };
        (descriptor.len() == 3).then_some(PaletteSource {
            descriptor,
            segmented,
            red,
            green,
            blue,
        })
    }

    pub fn person_name(&self, tag: &str) -> PersonName {
        let first = self.values(tag).and_then(|v| v.first());
        let group = |g: &str| {
            first
                .and_then(|p| p.get(g))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        PersonName {
            alphabetic: group("Alphabetic"),
            ideographic: group("Ideographic"),
            phonetic: group("Phonetic"),
        }
    }
}

/// A Person Name (PN): `Family^Given^Middle^Prefix^Suffix` per component group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    pub alphabetic: String,
    pub ideographic: String,
    pub phonetic: String,
}

fn is_thai(s: &str) -> bool {
    s.chars().any(|c| ('\u{0E00}'..='\u{0E7F}').contains(&c))
}

/// One component group for display: Thai names as "Given Family" (the Thai order),
/// others as "FAMILY, Given".
fn display_group(group: &str) -> String {
    let parts: Vec<&str> = group.split('^').map(str::trim).collect();
    let family = parts.first().copied().unwrap_or("");
    let given: Vec<&str> = parts
        .iter()
        .skip(1)
        .take(2)
        .copied()
        .filter(|p| !p.is_empty())
        .collect();
    let given = given.join(" ");
    let prefix = parts.get(3).copied().unwrap_or("");
    let suffix = parts.get(4).copied().unwrap_or("");
    let core = match (family.is_empty(), given.is_empty()) {
        (true, _) => given,
        (false, true) => family.to_owned(),
        (false, false) if is_thai(group) => format!("{given} {family}"),
        (false, false) => format!("{family}, {given}"),
    };
    [prefix, core.as_str(), suffix]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

impl PersonName {
    /// For display: the alphabetic group, then the ideographic one in parentheses when both exist.
    pub fn display(&self) -> String {
        let a = display_group(&self.alphabetic);
        let i = display_group(&self.ideographic);
        match (a.is_empty(), i.is_empty()) {
            (false, false) => format!("{a} ({i})"),
            (false, true) => a,
            (true, false) => i,
            (true, true) => String::new(),
        }
    }
}

/// A row of the study list (QIDO-RS `/studies`).
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    pub study_uid: String,
    pub patient_name: PersonName,
    pub patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub study_date: String,
    pub study_time: String,
    pub accession: String,
    pub description: String,
    pub institution: String,
    pub modalities: Vec<String>,
    pub series_count: Option<u32>,
    pub instance_count: Option<u32>,
}

impl Study {
    pub fn from_json(v: &Value) -> Option<Study> {
        let a = Attrs(v);
        Some(Study {
            study_uid: a.string(tags::STUDY_INSTANCE_UID)?,
            patient_name: a.person_name(tags::PATIENT_NAME),
            patient_id: a.string(tags::PATIENT_ID).unwrap_or_default(),
            birth_date: a.string(tags::PATIENT_BIRTH_DATE).unwrap_or_default(),
            sex: a.string(tags::PATIENT_SEX).unwrap_or_default(),
            study_date: a.string(tags::STUDY_DATE).unwrap_or_default(),
            study_time: a.string(tags::STUDY_TIME).unwrap_or_default(),
            accession: a.string(tags::ACCESSION_NUMBER).unwrap_or_default(),
            description: a.string(tags::STUDY_DESCRIPTION).unwrap_or_default(),
            institution: a.string(tags::INSTITUTION_NAME).unwrap_or_default(),
            modalities: a.strings(tags::MODALITIES_IN_STUDY),
            series_count: a
                .int(tags::NUMBER_OF_STUDY_RELATED_SERIES)
                .map(|n| n as u32),
            instance_count: a
                .int(tags::NUMBER_OF_STUDY_RELATED_INSTANCES)
                .map(|n| n as u32),
        })
    }

    /// Parses a QIDO answer (a JSON array), newest study first.
    pub fn list_from_json(v: &Value) -> Vec<Study> {
        let mut out: Vec<Study> = v
            .as_array()
            .map(|a| a.iter().filter_map(Study::from_json).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| {
            (b.study_date.as_str(), b.study_time.as_str())
                .cmp(&(a.study_date.as_str(), a.study_time.as_str()))
        });
        out
    }
}

/// A series of a study (QIDO-RS `/studies/{s}/series`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The study it belongs to (the reading page may show several studies' series).
    pub study_uid: String,
    pub series_uid: String,
    pub modality: String,
    pub number: Option<i64>,
    pub description: String,
    pub instance_count: Option<u32>,
}

impl Series {
    pub fn from_json(v: &Value) -> Option<Series> {
        let a = Attrs(v);
        Some(Series {
            study_uid: a.string(tags::STUDY_INSTANCE_UID).unwrap_or_default(),
            series_uid: a.string(tags::SERIES_INSTANCE_UID)?,
            modality: a.string(tags::MODALITY).unwrap_or_default(),
            number: a.int(tags::SERIES_NUMBER),
            description: a.string(tags::SERIES_DESCRIPTION).unwrap_or_default(),
            instance_count: a
                .int(tags::NUMBER_OF_SERIES_RELATED_INSTANCES)
                .map(|n| n as u32),
        })
    }

    /// Parses a QIDO answer, ordered by series number.
    pub fn list_from_json(v: &Value) -> Vec<Series> {
        let mut out: Vec<Series> = v
            .as_array()
            .map(|a| a.iter().filter_map(Series::from_json).collect())
            .unwrap_or_default();
        out.sort_by_key(|s| s.number.unwrap_or(i64::MAX));
        out
    }

    /// The series to show first: the first CT (or MR) with images, else the first with images.
    pub fn pick_first(list: &[Series]) -> Option<usize> {
        let has_images = |s: &Series| s.instance_count != Some(0);
        list.iter()
            .position(|s| has_images(s) && matches!(s.modality.as_str(), "CT" | "MR"))
            .or_else(|| {
                list.iter().position(|s| {
                    has_images(s) && !matches!(s.modality.as_str(), "SR" | "PR" | "KO")
                })
            })
            .or_else(|| (!list.is_empty()).then_some(0))
    }
}

/// A VOI window from the file, with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct FileWindow {
    pub center: f64,
    pub width: f64,
    pub explanation: String,
}

/// One instance of a series (from `/metadata`): what ordering, loading and the overlay need.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub sop_uid: String,
    pub instance_number: Option<i64>,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    pub slice_location: Option<f64>,
    pub slice_thickness: Option<f64>,
    /// Row spacing, column spacing (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    pub windows: Vec<FileWindow>,
    pub pixel: PixelModule,
    /// Frame of Reference UID: reference lines and synchronised scrolling need a shared one.
    pub frame_of_reference: Option<String>,
    /// Cine speed of a multi-frame instance: Frame Time, else Recommended Display
    /// Frame Rate, else Cine Rate, as milliseconds per frame.
    pub frame_time_ms: Option<f64>,
}

impl Instance {
    pub fn from_json(v: &Value) -> Option<Instance> {
        let a = Attrs(v);
        let fixed = |tag: &str, n: usize| {
            let v = a.numbers(tag);
            (v.len() == n).then_some(v)
        };
        let centers = a.numbers(tags::WINDOW_CENTER);
        let widths = a.numbers(tags::WINDOW_WIDTH);
        let explanations = a.strings(tags::WINDOW_EXPLANATION);
        let windows = centers
            .iter()
            .zip(&widths)
            .enumerate()
            .filter(|(_, (_, w))| **w >= 1.0)
            .map(|(i, (&center, &width))| FileWindow {
                center,
                width,
                explanation: explanations.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let bits_allocated = a.u16_or(tags::BITS_ALLOCATED, 16);
        let bits_stored = a.u16_or(tags::BITS_STORED, bits_allocated);
        let samples_per_pixel = a.u16_or(tags::SAMPLES_PER_PIXEL, 1);
        Some(Instance {
            sop_uid: a.string(tags::SOP_INSTANCE_UID)?,
            instance_number: a.int(tags::INSTANCE_NUMBER),
            position: fixed(tags::IMAGE_POSITION_PATIENT, 3).map(|v| [v[0], v[1], v[2]]),
            orientation: fixed(tags::IMAGE_ORIENTATION_PATIENT, 6)
                .map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]]),
            slice_location: a.number(tags::SLICE_LOCATION),
            slice_thickness: a.number(tags::SLICE_THICKNESS),
            pixel_spacing: fixed(tags::PIXEL_SPACING, 2).map(|v| [v[0], v[1]]),
            windows,
            pixel: PixelModule {
                rows: a.u16_or(tags::ROWS, 0),
                columns: a.u16_or(tags::COLUMNS, 0),
                samples_per_pixel,
                bits_allocated,
                bits_stored,
                high_bit: a.u16_or(tags::HIGH_BIT, bits_stored.saturating_sub(1)),
                pixel_representation: a.u16_or(tags::PIXEL_REPRESENTATION, 0),
                planar_configuration: a.u16_or(tags::PLANAR_CONFIGURATION, 0),
                photometric: a
                    .string(tags::PHOTOMETRIC_INTERPRETATION)
                    .unwrap_or_else(|| {
                        if samples_per_pixel == 1 {
                            "MONOCHROME2"
                        } else {
                            "RGB"
                        }
                        .to_owned()
                    }),
                number_of_frames: a
                    .int(tags::NUMBER_OF_FRAMES)
                    .map_or(1, |n| n.clamp(1, i64::from(u32::MAX)) as u32),
                rescale_slope: a
                    .number(tags::RESCALE_SLOPE)
                    .filter(|s| *s != 0.0)
                    .unwrap_or(1.0),
                rescale_intercept: a.number(tags::RESCALE_INTERCEPT).unwrap_or(0.0),
                float_pixels: a.has(tags::FLOAT_PIXEL_DATA) || a.has(tags::DOUBLE_FLOAT_PIXEL_DATA),
                transfer_syntax: a.string(tags::TRANSFER_SYNTAX_UID),
                palette: a.palette(),
            },
            frame_of_reference: a.string(tags::FRAME_OF_REFERENCE_UID),
            frame_time_ms: a.number(tags::FRAME_TIME).filter(|t| *t > 0.0).or_else(|| {
                a.number(tags::RECOMMENDED_DISPLAY_FRAME_RATE)
                    .or_else(|| a.number(tags::CINE_RATE))
                    .filter(|r| *r > 0.0)
                    .map(|r| 1000.0 / r)
            }),
        })
    }

    /// Parses a `/metadata` answer (instances in any order).
    pub fn list_from_json(v: &Value) -> Vec<Instance> {
        v.as_array()
            .map(|a| a.iter().filter_map(Instance::from_json).collect())
            .unwrap_or_default()
    }

    /// True when this viewer can show the instance: an image with pixels, grayscale
    /// (MONOCHROME1/2), colour (three samples: RGB or the YBR family) or PALETTE
    /// COLOR with its table.
    pub fn is_displayable(&self) -> bool {
        let p = &self.pixel;
        p.rows > 0
            && p.columns > 0
            && match p.samples_per_pixel {
                1 => {
                    p.photometric.starts_with("MONOCHROME")
                        || (p.photometric == "PALETTE COLOR" && p.palette.is_some())
                }
                3 => p.photometric == "RGB" || p.photometric.starts_with("YBR_"),
                _ => false,
            }
    }

    /// True for colour images (shown as they are, no VOI window of their own).
    pub fn is_colour(&self) -> bool {
        self.pixel.samples_per_pixel == 3 || self.pixel.photometric == "PALETTE COLOR"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thai_names_read_given_then_family_latin_family_first() {
        let thai = PersonName {
            alphabetic: "ใจดี^สมชาย".into(),
            ..Default::default()
        };
        assert_eq!(thai.display(), "สมชาย ใจดี");
        let latin = PersonName {
            alphabetic: "DOE^JOHN^Q^DR".into(),
            ..Default::default()
        };
        assert_eq!(latin.display(), "DR DOE, JOHN Q");
        let both = PersonName {
            alphabetic: "Jaidee^Somchai".into(),
            ideographic: "ใจดี^สมชาย".into(),
            phonetic: String::new(),
        };
        assert_eq!(both.display(), "Jaidee, Somchai (สมชาย ใจดี)");
        assert_eq!(PersonName::default().display(), "");
    }

    #[test]
    fn studies_from_qido_json_with_string_or_number_values() {
        let v = json!([
            {"0020000D": {"vr": "UI", "Value": ["1.2.3"]},
             "00100010": {"vr": "PN", "Value": [{"Alphabetic": "รักไทย^สมหญิง"}]},
             "00080020": {"vr": "DA", "Value": ["20240101"]},
             "00080061": {"vr": "CS", "Value": ["CT", "SR"]},
             "00201208": {"vr": "IS", "Value": [40]}},
            {"0020000D": {"vr": "UI", "Value": ["1.2.4"]},
             "00080020": {"vr": "DA", "Value": ["20240302"]},
             "00201208": {"vr": "IS", "Value": ["7"]}},
            {"00100010": {"vr": "PN"}}
        ]);
        let list = Study::list_from_json(&v);
        assert_eq!(
            list.len(),
            2,
            "the row without a Study Instance UID is dropped"
        );
        assert_eq!(list[0].study_uid, "1.2.4", "newest first");
        assert_eq!(list[0].instance_count, Some(7));
        assert_eq!(list[1].patient_name.display(), "สมหญิง รักไทย");
        assert_eq!(list[1].modalities, vec!["CT", "SR"]);
        assert_eq!(list[1].instance_count, Some(40));
    }

    #[test]
    fn first_series_prefers_ct_with_images() {
        let v = json!([
            {"0020000E": {"vr": "UI", "Value": ["sr"]}, "00080060": {"vr": "CS", "Value": ["SR"]}, "00200011": {"vr": "IS", "Value": [1]}},
            {"0020000E": {"vr": "UI", "Value": ["scout"]}, "00080060": {"vr": "CS", "Value": ["OT"]}, "00200011": {"vr": "IS", "Value": [2]}},
            {"0020000E": {"vr": "UI", "Value": ["ax"]}, "00080060": {"vr": "CS", "Value": ["CT"]}, "00200011": {"vr": "IS", "Value": [3]},
             "00201209": {"vr": "IS", "Value": [40]}}
        ]);
        let list = Series::list_from_json(&v);
        assert_eq!(Series::pick_first(&list), Some(2));
        assert_eq!(Series::pick_first(&list[..2]), Some(1));
        assert_eq!(Series::pick_first(&[]), None);
    }

    #[test]
    fn instance_pixel_module_and_windows() {
        let v = json!({
            "00080018": {"vr": "UI", "Value": ["9.9"]},
            "00200013": {"vr": "IS", "Value": [3]},
            "00200032": {"vr": "DS", "Value": [-179.6, "-179.6", -2.0]},
            "00280010": {"vr": "US", "Value": [512]},
            "00280011": {"vr": "US", "Value": [512]},
            "00280100": {"vr": "US", "Value": [16]},
            "00280101": {"vr": "US", "Value": [16]},
            "00280102": {"vr": "US", "Value": [15]},
            "00280103": {"vr": "US", "Value": [1]},
            "00280004": {"vr": "CS", "Value": ["MONOCHROME2"]},
            "00281050": {"vr": "DS", "Value": ["40", "-600"]},
            "00281051": {"vr": "DS", "Value": [400, 1500]},
            "00281055": {"vr": "LO", "Value": ["MEDIASTINUM", "LUNG"]},
            "00281052": {"vr": "DS", "Value": ["-1024"]},
            "00281053": {"vr": "DS", "Value": ["1"]}
        });
        let i = Instance::from_json(&v).expect("an instance");
        assert_eq!(i.position, Some([-179.6, -179.6, -2.0]));
        assert_eq!(i.pixel.rows, 512);
        assert_eq!(i.pixel.pixel_representation, 1);
        assert_eq!(i.pixel.rescale_intercept, -1024.0);
        assert_eq!(i.windows.len(), 2);
        assert_eq!(i.windows[1].center, -600.0);
        assert_eq!(i.windows[1].explanation, "LUNG");
        assert!(i.is_displayable());
    }

    // reading tools
    #[test]
    fn frame_of_reference_and_cine_timing() {
        let v = json!({
            "00080018": {"vr": "UI", "Value": ["9.9"]},
            "00200052": {"vr": "UI", "Value": ["1.2.3.4"]},
            "00082144": {"vr": "IS", "Value": [25]},
        });
        let i = Instance::from_json(&v).expect("an instance");
        assert_eq!(i.frame_of_reference.as_deref(), Some("1.2.3.4"));
        assert_eq!(i.frame_time_ms, Some(40.0));
        // Frame Time wins over the recommended rate.
        let v = json!({
            "00080018": {"vr": "UI", "Value": ["9.9"]},
            "00181063": {"vr": "DS", "Value": [33.3]},
            "00082144": {"vr": "IS", "Value": [25]},
        });
        assert_eq!(
            Instance::from_json(&v).and_then(|i| i.frame_time_ms),
            Some(33.3)
        );
    }
    // end reading tools

    #[test]
    fn colour_and_palette_instances_are_displayable() {
        let rgb = json!({
            "00080018": {"vr": "UI", "Value": ["1"]},
            "00280002": {"vr": "US", "Value": [3]},
            "00280004": {"vr": "CS", "Value": ["YBR_FULL_422"]},
            "00280010": {"vr": "US", "Value": [2]},
            "00280011": {"vr": "US", "Value": [2]},
        });
        let i = Instance::from_json(&rgb).expect("an instance");
        assert!(i.is_displayable() && i.is_colour());
        // Palette: red and green inline, blue as bulk data (a larger table).
        let mut pal = json!({
            "00080018": {"vr": "UI", "Value": ["2"]},
            "00280004": {"vr": "CS", "Value": ["PALETTE COLOR"]},
            "00280010": {"vr": "US", "Value": [2]},
            "00280011": {"vr": "US", "Value": [2]},
            "00281101": {"vr": "US", "Value": [0, 0, 16]},
            "00281201": {"vr": "OW", "InlineBinary": "AAE="},
            "00281202": {"vr": "OW", "InlineBinary": "AAI="},
        });
        let i = Instance::from_json(&pal).expect("an instance");
        assert!(!i.is_displayable(), "no blue table: nothing to show");
        pal["00281203"] = json!({"vr": "OW", "BulkDataURI": "http://h/bulk/00281203"});
        let i = Instance::from_json(&pal).expect("an instance");
        assert!(i.is_displayable() && i.is_colour());
        let p = i.pixel.palette.expect("palette");
        assert_eq!(p.descriptor, vec![0, 0, 16]);
        assert!(!p.segmented);
        assert_eq!(p.red, LutData::Inline("AAE=".into()));
        assert_eq!(p.blue, LutData::Bulk("http://h/bulk/00281203".into()));
    }
}
