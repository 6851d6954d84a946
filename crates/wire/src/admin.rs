//! The admin portal's JSON API (`/api/admin/…`): hospitals with province and
//! capabilities, users and roles, AE titles, API tokens, per-hospital statistics and the
//! audit log. The regional administrator (role `admin` without a hospital) sees all of
//! it; a hospital's own administrator only their hospital's users, AE titles, tokens,
//! statistics and audit records.

use serde::{Deserialize, Serialize};

/// The seven provinces of Health Region 8 (English, Thai). Other provinces are allowed
/// (a hospital outside the region that sends or reads), these are the suggestions.
pub const PROVINCES: &[(&str, &str)] = &[
    ("Udon Thani", "อุดรธานี"),
    ("Sakon Nakhon", "สกลนคร"),
    ("Nakhon Phanom", "นครพนม"),
    ("Loei", "เลย"),
    ("Nong Khai", "หนองคาย"),
    ("Nong Bua Lam Phu", "หนองบัวลำภู"),
    ("Bueng Kan", "บึงกาฬ"),
];

/// Suggested capabilities; any short label is allowed.
pub const CAPABILITIES: &[&str] = &[
    "CT",
    "MR",
    "US",
    "DX",
    "CR",
    "MG",
    "radiologist-on-site",
    REGIONAL_POOL,
];

/// The capability that makes a hospital a regional reading pool: its radiologists are
/// the "regional readers".
pub const REGIONAL_POOL: &str = "regional-pool";

/// The roles an administrator assigns. `regional_reader` is a radiologist of a hospital
/// with the [`REGIONAL_POOL`] capability (stored as `radiologist`).
pub const ROLES: &[&str] = &[
    "admin",
    "radiologist",
    "doctor",
    "technologist",
    "regional_reader",
];

/// A hospital as the portal lists it (`GET /api/admin/hospitals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminHospital {
    /// 5-digit MOPH hospital code.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_th: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub contact: String,
    /// Users and AE titles of the hospital.
    #[serde(default)]
    pub users: u32,
    #[serde(default)]
    pub aes: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminHospitalList {
    pub hospitals: Vec<AdminHospital>,
}

/// Body of `POST /api/admin/hospitals` (regional administrator).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHospital {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_th: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub contact: String,
}

/// Body of `PUT /api/admin/hospitals/{code}`: the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HospitalUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub name_th: Option<String>,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub contact: Option<String>,
}

/// A user account (`GET /api/admin/users`). No password hash ever leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub username: String,
    /// `admin`, `radiologist`, `doctor` or `technologist`.
    pub role: String,
    /// Hospital code; `None` for the regional administrator.
    #[serde(default)]
    pub hospital: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    /// A radiologist of a regional reading pool.
    #[serde(default)]
    pub regional_reader: bool,
    #[serde(default)]
    pub created_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserList {
    pub users: Vec<AdminUser>,
}

/// Body of `POST /api/admin/users`. Without `password` one is generated and answered once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    /// One of [`ROLES`].
    pub role: String,
    #[serde(default)]
    pub hospital: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// Body of `PUT /api/admin/users/{username}`: the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// One of [`ROLES`].
    #[serde(default)]
    pub role: Option<String>,
    /// Disabling ends the user's sessions and refuses their tokens at once.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Body of `POST /api/admin/users/{username}/password`: without `password` one is
/// generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    #[serde(default)]
    pub password: Option<String>,
}

/// Answer of a user creation or password reset: the password when the server generated
/// it (shown this once, never stored in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSaved {
    pub user: AdminUser,
    #[serde(default)]
    pub password: Option<String>,
}

/// A DICOM application entity of a hospital (`GET /api/admin/aes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAe {
    pub ae_title: String,
    pub hospital: String,
    /// Where C-MOVE sends to (both or neither).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAeList {
    pub aes: Vec<AdminAe>,
}

/// An API token (`GET /api/admin/tokens`); its secret is shown only when created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub hospital: Option<String>,
    /// `token` (DICOMweb/API bearer token), or another kind of machine credential.
    pub kind: String,
    #[serde(default)]
    pub note: String,
    pub created_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTokenList {
    pub tokens: Vec<AdminToken>,
}

/// Body of `POST /api/admin/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub username: String,
    /// Days until it expires (1–3650); none: never.
    #[serde(default)]
    pub expires_days: Option<u32>,
    /// What the token is for.
    #[serde(default)]
    pub note: String,
}

/// Answer of `POST /api/admin/tokens`: the secret, this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub token: AdminToken,
    pub secret: String,
}

/// Body of `POST /api/admin/gateway-tokens`: a token for a hospital's gateway (the
/// gateway is created on first use; its STOW-RS and status reports only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGatewayToken {
    /// The gateway's name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Its hospital (MOPH code).
    pub hospital: String,
    /// Days until it expires (1–3650); none: never.
    #[serde(default)]
    pub expires_days: Option<u32>,
}

/// Answer of `POST /api/admin/gateway-tokens`: the secret, this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayTokenCreated {
    pub name: String,
    pub hospital: String,
    pub secret: String,
}

/// Instances received on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub instances: u64,
}

/// `GET /api/admin/hospitals/{code}/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HospitalStats {
    pub code: String,
    pub studies: u64,
    pub instances: u64,
    /// Sum of the stored instances' sizes.
    pub storage_bytes: u64,
    /// The last 30 days, oldest first, days without instances included.
    pub per_day: Vec<DayCount>,
}

/// One audit record (`GET /api/admin/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    /// The actor's hospital code.
    #[serde(default)]
    pub hospital: Option<String>,
    pub protocol: String,
    pub remote: String,
    pub action: String,
    pub study_uid: String,
    pub patient_id: String,
    pub detail: String,
    pub outcome: String,
}

/// A page of audit records, newest first; `next_offset` when there are more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default)]
    pub next_offset: Option<u64>,
}

/// The audit search's filters (query parameters of `GET /api/admin/audit` and
/// `GET /api/admin/audit.csv`); empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub patient: String,
    /// Exact user name (actor).
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub study: String,
    /// Exact action (`login`, `qido`, `admin-user-create`, …).
    #[serde(default)]
    pub action: String,
    /// Hospital code of the actor (regional administrator only).
    #[serde(default)]
    pub hospital: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl AuditFilter {
    /// The filter as a query string (without `?`), empty fields left out.
    pub fn query_string(&self) -> String {
        [
            ("patient", &self.patient),
            ("user", &self.user),
            ("study", &self.study),
            ("action", &self.action),
            ("hospital", &self.hospital),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Percent-encoding of a query value (unreserved characters kept).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_query_string_encodes_thai_and_skips_empty() {
        let f = AuditFilter {
            patient: "HN 1".into(),
            user: "สมชาย".into(),
            ..Default::default()
        };
        assert_eq!(
            f.query_string(),
            "patient=HN%201&user=%E0%B8%AA%E0%B8%A1%E0%B8%8A%E0%B8%B2%E0%B8%A2"
        );
        assert_eq!(AuditFilter::default().query_string(), "");
    }
}
