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
