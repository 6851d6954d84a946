//! Hospital gateways on the regional server: gateway tokens (a user of role `gateway`
//! of one hospital, which may only store studies for it and report its status), the
//! status reports gateways send, and the list the admin portal shows with a health
//! computed from the last report.

use rangsi_wire::gateway::{
    GatewayHealth, GatewayInfo, GatewayList, GatewayReport, GatewayStatusAck, LATE_AFTER_SECS,
};

use super::auth::{Role, new_secret, secret_hash};
use super::{Archive, Principal, Result, ServiceError};
use crate::index::gateway::GatewayRow;

/// Prefix of a gateway's user name (never a person's: `:` cannot be typed in Basic auth).
const USER_PREFIX: &str = "gateway:";

/// The user name of a gateway's tokens.
pub fn gateway_user(name: &str) -> String {
    format!("{USER_PREFIX}{name}")
}

/// The gateway a user name belongs to, if it is a gateway's.
pub fn gateway_name(username: &str) -> Option<&str> {
    username.strip_prefix(USER_PREFIX)
}

/// A report's last error is cut to this many characters.
const MAX_ERROR_CHARS: usize = 2000;

/// Healthy, late or failing, from the last report's time and its errors.
pub fn health(
    reported_at: Option<&str>,
    report: Option<&GatewayReport>,
    now: time::OffsetDateTime,
) -> GatewayHealth {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    let Some(at) = reported_at.and_then(parse) else {
        return GatewayHealth::Late;
    };
    if (now - at).whole_seconds() > LATE_AFTER_SECS as i64 {
        return GatewayHealth::Late;
    }
    let Some(r) = report else {
        return GatewayHealth::Late;
    };
    let err = r.last_error_at.as_deref().and_then(parse);
    let ok = r.last_success_at.as_deref().and_then(parse);
    match (err, ok) {
        (Some(e), Some(o)) if e > o => GatewayHealth::Failing,
        (Some(_), None) => GatewayHealth::Failing,
        _ if r.failed > 0 => GatewayHealth::Failing,
        _ => GatewayHealth::Healthy,
    }
}

fn info(row: GatewayRow, now: time::OffsetDateTime) -> GatewayInfo {
    let report: Option<GatewayReport> = row
        .report
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok());
    GatewayInfo {
        health: health(row.reported_at.as_deref(), report.as_ref(), now),
        name: row.name,
        hospital_code: row.hospital_code,
        hospital_name: row.hospital_name,
        created_at: row.created_at,
        reported_at: row.reported_at,
        report,
    }
}

impl Archive {
    /// Creates a gateway of a hospital (first time) and a new token for it; prints once.
    pub async fn create_gateway_token(
        &self,
        name: &str,
        hospital_code: &str,
        expires_days: Option<u32>,
    ) -> Result<String> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ServiceError::BadRequest(
                "a gateway name is 1 to 64 letters, digits, '-', '_' or '.'".into(),
            ));
        }
        let hospital = self
            .index()
            .hospital_by_code(hospital_code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {hospital_code}")))?;
        let user_id = match self.index().gateway_by_name(name).await? {
            Some(g) if g.hospital_id != hospital.id => {
                return Err(ServiceError::Conflict(format!(
                    "gateway {name} belongs to hospital {}, not {hospital_code}",
                    g.hospital_code
                )));
            }
            Some(_) => {
                self.index()
                    .user_by_name(&format!("{USER_PREFIX}{name}"))
                    .await?
                    .ok_or_else(|| ServiceError::Internal(format!("gateway {name} has no user")))?
                    .id
            }
            None => {
                // The password is random and never shown: a gateway signs in by token only.
                let hash = super::auth::hash_password(&new_secret(""))?;
                let uid = self
                    .index()
                    .add_user(
                        &format!("{USER_PREFIX}{name}"),
                        Some(hospital.id),
                        Role::Gateway.as_str(),
                        &hash,
                    )
                    .await?;
                self.index().add_gateway(name, hospital.id, uid).await?;
                uid
            }
        };
        let token = new_secret("rgw_");
        let expires = expires_days.map(crate::index::rfc3339_in_days);
        self.index()
            .insert_credential("token", &secret_hash(&token), user_id, expires.as_deref())
            .await?;
        Ok(token)
    }

    /// A gateway reports its queue (`POST /api/gateways/status`).
    pub async fn gateway_report(
        &self,
        who: &Principal,
        mut report: GatewayReport,
    ) -> Result<GatewayStatusAck> {
        let gw = match (who.role, who.user_id) {
            (Role::Gateway, Some(uid)) => self.index().gateway_by_user(uid).await?,
            _ => None,
        }
        .ok_or_else(|| ServiceError::Forbidden("only a gateway token reports status".into()))?;
        if let Some(e) = &mut report.last_error
            && e.chars().count() > MAX_ERROR_CHARS
        {
            *e = e.chars().take(MAX_ERROR_CHARS).collect();
        }
        let json =
            serde_json::to_string(&report).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let at = self.index().record_gateway_report(gw.id, &json).await?;
        let now = time::OffsetDateTime::now_utc();
        Ok(GatewayStatusAck {
            health: health(Some(&at), Some(&report), now),
            name: gw.name,
        })
    }

    /// Gateways the caller may see: all for the regional administrator, its hospital's
    /// for a hospital's users; nothing for share links and gateways.
    pub async fn list_gateways(&self, who: &Principal) -> Result<GatewayList> {
        if who.share.is_some() || matches!(who.role, Role::Gateway | Role::Guest) {
            return Err(ServiceError::Forbidden(
                "gateways are listed for the region's staff only".into(),
            ));
        }
        let rows = match (who.role, who.hospital_id) {
            (Role::Admin, None) => self.index().list_gateways(None).await?,
            (_, Some(h)) => self.index().list_gateways(Some(h)).await?,
            (_, None) => vec![],
        };
        let now = time::OffsetDateTime::now_utc();
        Ok(GatewayList {
            gateways: rows.into_iter().map(|r| info(r, now)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs_ago: i64) -> String {
        crate::index::rfc3339(time::OffsetDateTime::now_utc() - time::Duration::seconds(secs_ago))
    }

    #[test]
    fn health_from_report_time_and_errors() {
        let now = time::OffsetDateTime::now_utc();
        let ok = GatewayReport {
            last_success_at: Some(at(5)),
            ..GatewayReport::default()
        };
        assert_eq!(
            health(Some(&at(10)), Some(&ok), now),
            GatewayHealth::Healthy
        );
        assert_eq!(health(None, Some(&ok), now), GatewayHealth::Late);
        assert_eq!(health(Some(&at(600)), Some(&ok), now), GatewayHealth::Late);
        let failing = GatewayReport {
            last_error: Some("connection refused".into()),
            last_error_at: Some(at(2)),
            last_success_at: Some(at(60)),
            ..GatewayReport::default()
        };
        assert_eq!(
            health(Some(&at(1)), Some(&failing), now),
            GatewayHealth::Failing
        );
        let recovered = GatewayReport {
            last_error_at: Some(at(60)),
            last_success_at: Some(at(2)),
            ..failing
        };
        assert_eq!(
            health(Some(&at(1)), Some(&recovered), now),
            GatewayHealth::Healthy
        );
    }
}
