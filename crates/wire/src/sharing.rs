//! Referral and sharing on the wire: the region's hospitals, referrals from one hospital
//! to another (with their status), and share links that open the viewer on exactly some
//! studies without an account.

use serde::{Deserialize, Serialize};

/// A hospital of the region as admin data (`GET /api/hospitals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalProfile {
    /// MOPH code.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_th: String,
    #[serde(default)]
    pub name_en: String,
    /// What the hospital can do ("CT", "MRI", "cath lab", ...).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Whom to call: phone, department.
    #[serde(default)]
    pub contact: String,
}

/// Body of `PUT /api/hospitals/{code}` (regional administrator only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HospitalProfileUpdate {
    #[serde(default)]
    pub name_th: Option<String>,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub contact: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalList {
    pub hospitals: Vec<HospitalProfile>,
}

/// Where a referral stands. The receiving hospital moves it forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferralStatus {
    Sent,
    Received,
    Accepted,
    Completed,
    Declined,
}

impl ReferralStatus {
    pub const ALL: &'static [ReferralStatus] = &[
        ReferralStatus::Sent,
        ReferralStatus::Received,
        ReferralStatus::Accepted,
        ReferralStatus::Completed,
        ReferralStatus::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Sent => "sent",
            ReferralStatus::Received => "received",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Completed => "completed",
            ReferralStatus::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// The statuses the receiving hospital may set from this one.
    pub fn next(self) -> &'static [ReferralStatus] {
        use ReferralStatus::*;
        match self {
            Sent => &[Received, Accepted, Declined],
            Received => &[Accepted, Declined],
            Accepted => &[Completed],
            Completed | Declined => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Routine,
    Urgent,
    Emergency,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Urgency::Routine, Urgency::Urgent, Urgency::Emergency]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Body of `POST /api/referrals`: either chosen studies (`study_uids`) or every study of
/// a patient (`patient_id`, with `issuer` when the hospital uses one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReferral {
    /// Receiving hospital's code.
    pub to_hospital: String,
    pub reason: String,
    pub urgency: Urgency,
    #[serde(default)]
    pub clinical_summary: String,
    #[serde(default)]
    pub study_uids: Vec<String>,
    #[serde(default)]
    pub patient_id: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A study a referral sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralStudy {
    pub study_uid: String,
    pub study_date: String,
    pub description: String,
    pub modalities: String,
    pub num_instances: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralPatient {
    pub patient_id: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: i64,
    pub from_hospital: HospitalProfile,
    pub to_hospital: HospitalProfile,
    pub patient: ReferralPatient,
    pub reason: String,
    pub urgency: Urgency,
    pub clinical_summary: String,
    pub status: ReferralStatus,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub studies: Vec<ReferralStudy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralList {
    pub referrals: Vec<Referral>,
}

/// Body of `POST /api/referrals/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: ReferralStatus,
}

/// Body of `POST /api/referrals/{id}/take`: the receiving hospital's patient ID (HN)
/// for its own copy of the referred studies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeIntoArchive {
    pub patient_id: String,
    #[serde(default)]
    pub issuer: Option<String>,
    /// Only these studies of the referral; all when empty.
    #[serde(default)]
    pub study_uids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenIntoArchive {
    pub patient_id: String,
    /// The Thai national ID both records agree on, when one was found.
    pub national_id: Option<String>,
    pub studies: Vec<String>,
    pub instances: i64,
}

/// Who a share link is for: a clinician (referral, consult) or the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    #[default]
    Clinician,
    Patient,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Clinician => "clinician",
            Audience::Patient => "patient",
        }
    }
}

/// Body of `POST /api/shares`: studies (`study_uids`) or a referral (`referral_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewShareLink {
    #[serde(default)]
    pub study_uids: Vec<String>,
    #[serde(default)]
    pub referral_id: Option<i64>,
    #[serde(default)]
    pub audience: Audience,
    /// 4 to 12 digits, asked before the images open.
    #[serde(default)]
    pub pin: Option<String>,
    /// Ask for the patient's birth date before the images open.
    #[serde(default)]
    pub birth_date_check: bool,
    #[serde(default)]
    pub allow_download: bool,
    /// Days until the link expires (1–90); the server's default when absent.
    #[serde(default)]
    pub expires_days: Option<u32>,
    #[serde(default)]
    pub label: String,
}

/// A share link as listed (`GET /api/shares`): never its token, which is stored hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLinkInfo {
    pub id: i64,
    pub audience: Audience,
    pub label: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub pin: bool,
    pub birth_date_check: bool,
    pub allow_download: bool,
    pub referral_id: Option<i64>,
    pub study_uids: Vec<String>,
}

/// Answer of `POST /api/shares`: the only time the token is seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLinkCreated {
    pub link: ShareLinkInfo,
    pub token: String,
    /// Path of the landing page (`/s/{token}`); the viewer adds its origin.
    pub path: String,
    /// The QR code of the full URL as an SVG document.
    pub qr_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLinkList {
    pub links: Vec<ShareLinkInfo>,
}

/// Body of `POST /api/share/open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ShareOpen {
    pub token: String,
    #[serde(default)]
    pub pin: Option<String>,
    /// YYYY-MM-DD or YYYYMMDD; a Buddhist Era year (> 2400) is accepted too.
    #[serde(default)]
    pub birth_date: Option<String>,
}

/// What a share link needs before it opens (in a 401 answer's `needs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareNeeds {
    Pin,
    BirthDate,
}

/// Answer of `POST /api/share/open` and `GET /api/share/session`: what the browser may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareOpened {
    pub study_uids: Vec<String>,
    pub allow_download: bool,
    pub audience: Audience,
    pub expires_at: String,
    pub hospital: Option<String>,
}
