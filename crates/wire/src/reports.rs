//! Radiology reports in the JSON API (issue 7): `GET /api/reports?study=UID`,
//! `POST /api/reports`, `PUT /api/reports/{id}`, `POST /api/reports/{id}/sign`,
//! `POST /api/reports/{id}/addenda`, `POST /api/reports/{id}/acknowledge`,
//! `GET /api/reports/{id}/fhir`, the templates under `/api/report-templates`, and the
//! notifications of report events (`GET /api/notifications`).

use serde::{Deserialize, Serialize};

/// Where a report is in its life. Only `Draft` and `Preliminary` can be edited; a
/// signed report (`Final`) changes only by signed addenda (`Amended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportState {
    Draft,
    Preliminary,
    Final,
    Amended,
}

impl ReportState {
    pub fn name(self) -> &'static str {
        match self {
            ReportState::Draft => "draft",
            ReportState::Preliminary => "preliminary",
            ReportState::Final => "final",
            ReportState::Amended => "amended",
        }
    }

    pub fn from_name(s: &str) -> Option<ReportState> {
        [
            ReportState::Draft,
            ReportState::Preliminary,
            ReportState::Final,
            ReportState::Amended,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }

    /// Signed: the text is fixed.
    pub fn is_signed(self) -> bool {
        matches!(self, ReportState::Final | ReportState::Amended)
    }
}

/// The structured part of a report as the radiologist writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportContent {
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub impression: String,
    #[serde(default)]
    pub recommendation: String,
    /// A critical result: the requester must acknowledge it.
    #[serde(default)]
    pub critical: bool,
}

/// `POST /api/reports`: a new draft on a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub study_uid: String,
    /// Start from this template's text (fields given in `content` win where not empty).
    #[serde(default)]
    pub template_id: Option<i64>,
    #[serde(default)]
    pub content: ReportContent,
}

/// `PUT /api/reports/{id}`: save the text, optionally moving draft ↔ preliminary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveReport {
    pub content: ReportContent,
    #[serde(default)]
    pub state: Option<ReportState>,
}

/// `POST /api/reports/{id}/sign`: the signer's password again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignReport {
    pub password: String,
}

/// `POST /api/reports/{id}/addenda`: a signed addendum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAddendum {
    pub text: String,
    pub password: String,
}

/// A signed addendum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addendum {
    pub author: String,
    pub text: String,
    pub signed_at: String,
    /// The SR instance stored into the study with it.
    pub sr_sop_uid: String,
}

/// One step in a report's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEvent {
    pub at: String,
    pub user: String,
    /// create | save | sign | addendum | acknowledge
    pub action: String,
    /// The state after the step.
    pub state: ReportState,
    /// The content after the step.
    pub content: ReportContent,
}

/// A report as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: i64,
    pub study_uid: String,
    pub state: ReportState,
    pub content: ReportContent,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub signed_by: Option<String>,
    #[serde(default)]
    pub signed_at: Option<String>,
    #[serde(default)]
    pub critical_acknowledged_by: Option<String>,
    #[serde(default)]
    pub critical_acknowledged_at: Option<String>,
    /// The latest SR instance stored into the study (final or amended).
    #[serde(default)]
    pub sr_sop_uid: Option<String>,
    #[serde(default)]
    pub addenda: Vec<Addendum>,
    #[serde(default)]
    pub history: Vec<ReportEvent>,
}

/// `GET /api/reports?study=UID`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportList {
    pub reports: Vec<Report>,
}

/// A report template (per modality and body part, Thai or English).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportTemplate {
    /// Set by the server; ignored in a request.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// `th` or `en`.
    pub lang: String,
    /// DICOM Modality, or empty for any.
    #[serde(default)]
    pub modality: String,
    /// DICOM Body Part Examined, or empty for any.
    #[serde(default)]
    pub body_part: String,
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub impression: String,
    #[serde(default)]
    pub recommendation: String,
}

/// `GET /api/report-templates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTemplateList {
    pub templates: Vec<ReportTemplate>,
}

/// A report event for the hospital that asked for the reading (`GET /api/notifications`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    /// `report-preliminary`, `report-final` or `report-amended`.
    pub kind: String,
    pub study_uid: String,
    #[serde(default)]
    pub report_id: Option<i64>,
    /// The report carries a critical result.
    #[serde(default)]
    pub critical: bool,
    pub text: String,
    pub created_at: String,
    /// Read by the calling user.
    #[serde(default)]
    pub read: bool,
}

/// `GET /api/notifications`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationList {
    pub notifications: Vec<Notification>,
    /// Unread by the calling user, of those listed.
    pub unread: u32,
}

/// Turnaround of signed reports for one hospital or one radiologist
/// (`GET /api/reports/turnaround`, administrators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnaroundRow {
    /// Hospital code, or the radiologist's user name.
    pub key: String,
    /// Signed reports counted.
    pub reports: u32,
    /// Hours from the study's arrival in the archive to the signature.
    pub median_hours: f64,
    pub p90_hours: f64,
    pub max_hours: f64,
}

/// `GET /api/reports/turnaround[?from=YYYY-MM-DD&to=YYYY-MM-DD]`: by the study's hospital
/// and by the signing radiologist, over reports signed in that range (UTC days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turnaround {
    pub by_hospital: Vec<TurnaroundRow>,
    pub by_radiologist: Vec<TurnaroundRow>,
}

// ---- consultation requests and the reading worklist ----

/// What the reader needs to know of the patient, entered with the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientData {
    #[serde(default)]
    pub weight_kg: String,
    #[serde(default)]
    pub labs: String,
    #[serde(default)]
    pub allergies: String,
    #[serde(default)]
    pub prior_treatment: String,
}

/// `POST /api/consults`: ask for a reading of a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConsult {
    pub study_uid: String,
    /// The reading hospital (MOPH code): its radiologists as a group…
    pub to_hospital: String,
    /// …or one of them by user name.
    #[serde(default)]
    pub to_radiologist: Option<String>,
    /// `stat`, `urgent` or `routine`.
    pub priority: String,
    /// When the report is due (RFC 3339); default by priority (1 h, 6 h, 3 days).
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub history: String,
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub patient_data: PatientData,
}

/// A consultation request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consult {
    pub id: i64,
    pub study_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_description: String,
    pub modalities: String,
    /// Requesting and reading hospitals (MOPH codes).
    pub from_hospital: String,
    pub to_hospital: String,
    #[serde(default)]
    pub to_radiologist: Option<String>,
    pub requested_by: String,
    pub priority: String,
    pub due_at: String,
    pub overdue: bool,
    pub history: String,
    pub question: String,
    pub patient_data: PatientData,
    /// `requested`, `claimed`, `reported` or `withdrawn`.
    pub status: String,
    #[serde(default)]
    pub claimed_by: Option<String>,
    /// The study's report, once one exists.
    #[serde(default)]
    pub report_id: Option<i64>,
    #[serde(default)]
    pub report_state: Option<ReportState>,
    pub created_at: String,
}

/// One row of the reading worklist: a request, or a local study with no signed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorklistItem {
    #[serde(default)]
    pub consult: Option<Consult>,
    pub study_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_date: String,
    pub description: String,
    pub modalities: String,
    pub hospital: String,
    /// `stat`, `urgent`, `routine` (local studies: `routine`).
    pub priority: String,
    #[serde(default)]
    pub due_at: Option<String>,
    pub overdue: bool,
    #[serde(default)]
    pub report_state: Option<ReportState>,
}

/// `GET /api/worklist`, `GET /api/consults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worklist {
    pub items: Vec<WorklistItem>,
}

/// `GET /api/consults?study=UID` or the caller's hospital's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsultList {
    pub consults: Vec<Consult>,
}
