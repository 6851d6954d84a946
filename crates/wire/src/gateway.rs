//! Hospital gateways on the wire: what a gateway reports to the regional server every
//! ~30 s (`POST /api/gateways/status`, with its gateway token) and what the regional
//! admin portal lists (`GET /api/gateways`: the regional administrator sees every
//! gateway, a hospital's users see their hospital's).

use serde::{Deserialize, Serialize};

/// A gateway's report of its queue (body of `POST /api/gateways/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GatewayReport {
    /// The gateway's `rangsi` version.
    #[serde(default)]
    pub version: String,
    /// Instances received and not yet acknowledged by the regional server.
    #[serde(default)]
    pub queue_length: u64,
    /// Their bytes.
    #[serde(default)]
    pub bytes_pending: u64,
    /// Age of the oldest pending instance, in seconds (None: nothing pending).
    #[serde(default)]
    pub oldest_pending_secs: Option<u64>,
    /// Instances the regional server refused for good (kept on the gateway, with reason).
    #[serde(default)]
    pub failed: u64,
    /// Instances forwarded and acknowledged since the queue was created.
    #[serde(default)]
    pub forwarded_total: u64,
    /// The last forwarding error (network, authentication, refusal), if any.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When it happened (RFC 3339).
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// The last time the regional server acknowledged instances (RFC 3339).
    #[serde(default)]
    pub last_success_at: Option<String>,
}

/// How a gateway is doing, as the regional server judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayHealth {
    /// Reported recently, and its last forward succeeded.
    Healthy,
    /// No report for longer than [`LATE_AFTER_SECS`] (or never).
    Late,
    /// Reported recently, but its last error is newer than its last success.
    Failing,
}

/// A gateway that has not reported for this long is late.
pub const LATE_AFTER_SECS: u64 = 120;

/// One gateway as listed by `GET /api/gateways`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub name: String,
    /// MOPH code of the hospital it stores for.
    pub hospital_code: String,
    pub hospital_name: String,
    pub created_at: String,
    /// When its last report arrived (RFC 3339), None if it never reported.
    pub reported_at: Option<String>,
    pub health: GatewayHealth,
    /// Its last report.
    pub report: Option<GatewayReport>,
}

/// Body of `GET /api/gateways`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayList {
    pub gateways: Vec<GatewayInfo>,
}

/// Answer to `POST /api/gateways/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatusAck {
    pub name: String,
    pub health: GatewayHealth,
}
