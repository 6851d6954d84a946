//! The viewer's JSON API (docs/CONTRACT.md): `POST /api/login`, `GET /api/me`, errors.

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
}
