//! The viewer's JSON API (docs/CONTRACT.md): `POST /api/login`, `GET /api/me`, errors,
//! and the study list (`GET /api/studies`: filters, sorting, paging with a total).

use serde::{Deserialize, Serialize};

/// Body of `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Who is logged in: the answer of `POST /api/login` and `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: String,
    /// Hospital code; `None` for the regional administrator.
    #[serde(default)]
    pub hospital: Option<String>,
}

/// Every 4xx/5xx answer: `{"error": "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

// ---- study list (`GET /api/studies`, `GET /api/studies/hospitals`) ----

/// A column the study list can be sorted by: `sort=KEY` ascending, `sort=-KEY` descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudySortKey {
    /// Study date, then time.
    Date,
    /// Patient name as stored (family name first).
    Name,
    /// Patient ID / HN.
    Id,
    Accession,
    /// Modalities in the study.
    Modality,
    Description,
    /// Hospital name.
    Hospital,
    /// Number of images.
    Images,
}

impl StudySortKey {
    pub const ALL: &'static [StudySortKey] = &[
        StudySortKey::Date,
        StudySortKey::Name,
        StudySortKey::Id,
        StudySortKey::Accession,
        StudySortKey::Modality,
        StudySortKey::Description,
        StudySortKey::Hospital,
        StudySortKey::Images,
    ];

    /// The name used in the `sort` parameter.
    pub fn param(self) -> &'static str {
        match self {
            StudySortKey::Date => "date",
            StudySortKey::Name => "name",
            StudySortKey::Id => "id",
            StudySortKey::Accession => "accession",
            StudySortKey::Modality => "modality",
            StudySortKey::Description => "description",
            StudySortKey::Hospital => "hospital",
            StudySortKey::Images => "images",
        }
    }

    pub fn from_param(s: &str) -> Option<StudySortKey> {
        StudySortKey::ALL.iter().copied().find(|k| k.param() == s)
    }
}

/// A sort order of the study list (`sort=-date` is the default: newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StudySort {
    pub key: StudySortKey,
    pub descending: bool,
}

impl Default for StudySort {
    fn default() -> Self {
        StudySort {
            key: StudySortKey::Date,
            descending: true,
        }
    }
}

impl StudySort {
    /// `date`, `-date`, ...; `None` for an unknown key.
    pub fn from_param(s: &str) -> Option<StudySort> {
        let s = s.trim();
        let (descending, key) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        StudySortKey::from_param(key).map(|key| StudySort { key, descending })
    }

    pub fn param(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.key.param()
        )
    }
}

/// A hospital as the study list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalRef {
    pub code: String,
    pub name: String,
}

/// Marks on a study that later features set (a report, a referral, a consult request).
/// All false until then; the list shows nothing for a false badge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyBadges {
    #[serde(default)]
    pub reported: bool,
    #[serde(default)]
    pub referred: bool,
    #[serde(default)]
    pub consult_requested: bool,
}

/// One row of the study list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyListRow {
    pub study_uid: String,
    /// DICOM PN as stored (UTF-8): `Family^Given=Ideographic=Phonetic`.
    pub patient_name: String,
    pub patient_id: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub sex: String,
    /// DA `YYYYMMDD`, TM `HHMMSS[.F]`; empty when unknown.
    pub study_date: String,
    #[serde(default)]
    pub study_time: String,
    #[serde(default)]
    pub accession: String,
    #[serde(default)]
    pub description: String,
    pub modalities: Vec<String>,
    pub series: u32,
    pub images: u32,
    pub hospital: HospitalRef,
    #[serde(default)]
    pub badges: StudyBadges,
}

/// One page of `GET /api/studies`: the rows and how many studies match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyPage {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub rows: Vec<StudyListRow>,
}

/// `GET /api/studies/hospitals`: the hospitals whose studies the caller can see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalList {
    pub hospitals: Vec<HospitalRef>,
}

// ---- measurements (`GET /api/measurements?study=UID`, `PUT|DELETE /api/measurements/{id}`) ----

/// What a saved measurement is; the number of points each kind has is [`MeasurementKind::points`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeasurementKind {
    /// Two points: a distance.
    Length,
    /// Three points: the angle at the second.
    Angle,
    /// Four points: the angle between the line 1–2 and the line 3–4.
    Cobb,
    /// Two opposite corners of the ellipse's bounding box: ROI statistics.
    Ellipse,
    /// Two opposite corners: ROI statistics.
    Rectangle,
}

impl MeasurementKind {
    pub const ALL: &'static [MeasurementKind] = &[
        MeasurementKind::Length,
        MeasurementKind::Angle,
        MeasurementKind::Cobb,
        MeasurementKind::Ellipse,
        MeasurementKind::Rectangle,
    ];

    /// How many points a measurement of this kind has.
    pub fn points(self) -> usize {
        match self {
            MeasurementKind::Length | MeasurementKind::Ellipse | MeasurementKind::Rectangle => 2,
            MeasurementKind::Angle => 3,
            MeasurementKind::Cobb => 4,
        }
    }

    /// The name in JSON and in the database.
    pub fn name(self) -> &'static str {
        match self {
            MeasurementKind::Length => "length",
            MeasurementKind::Angle => "angle",
            MeasurementKind::Cobb => "cobb",
            MeasurementKind::Ellipse => "ellipse",
            MeasurementKind::Rectangle => "rectangle",
        }
    }

    pub fn from_name(s: &str) -> Option<MeasurementKind> {
        MeasurementKind::ALL.iter().copied().find(|k| k.name() == s)
    }
}

/// One measurement a user drew on one frame, saved for that user only. Points are
/// image positions `[column, row]` in pixels, (0, 0) being the top left corner of the
/// first pixel (as `rangsi_render::ViewState` maps them), so the values are computed
/// again from the pixels and the calibration whenever it is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Chosen by the viewer (letters, digits, `-`, `_`; at most 64); the `{id}` of the URL.
    #[serde(default)]
    pub id: String,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    /// Frame number, from 1.
    #[serde(default = "first_frame")]
    pub frame: u32,
    pub kind: MeasurementKind,
    pub points: Vec<[f64; 2]>,
    /// Set by the server (RFC 3339); ignored in a request.
    #[serde(default)]
    pub updated_at: String,
}

fn first_frame() -> u32 {
    1
}

/// `GET /api/measurements?study=UID`: the caller's measurements on that study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementList {
    pub measurements: Vec<Measurement>,
}

// ---- end of measurements ----

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_reads_the_servers_json() {
        let me: Me =
            serde_json::from_str(r#"{"username":"demo","role":"doctor","hospital":"10670"}"#)
                .expect("doctor");
        assert_eq!(me.hospital.as_deref(), Some("10670"));
        let admin: Me =
            serde_json::from_str(r#"{"username":"admin","role":"admin","hospital":null}"#)
                .expect("admin");
        assert_eq!(admin.hospital, None);
    }

    #[test]
    fn study_sort_params_round_trip() {
        for &key in StudySortKey::ALL {
            for descending in [false, true] {
                let s = StudySort { key, descending };
                assert_eq!(StudySort::from_param(&s.param()), Some(s));
            }
        }
        assert_eq!(StudySort::default().param(), "-date");
        assert_eq!(
            StudySort::from_param("+name").map(|s| s.descending),
            Some(false)
        );
        assert_eq!(StudySort::from_param("-nope"), None);
        assert_eq!(StudySort::from_param(""), None);
    }
}
