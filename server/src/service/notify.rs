//! Notifications of report events to the hospital whose study was read: in the app
//! (`GET /api/notifications`, read per user) and by the hospital's webhook, if it
//! registered one (`rangsi hospital webhook CODE --url URL`), so it can forward the
//! event to its HIS or a chat channel.
//!
//! A webhook is a `POST` of the event as JSON with `X-Rangsi-Event` (the kind),
//! `X-Rangsi-Delivery` (the delivery id, the same on every retry: receivers can drop
//! repeats) and `X-Rangsi-Signature: sha256=<hex HMAC-SHA256 of the body with the
//! hospital's secret>`. Any 2xx answer delivers it; otherwise it is retried
//! [`ATTEMPTS`] times in all with growing pauses, then marked failed. Pending
//! deliveries are picked up again when the server starts, so a restart loses none.
//!
//! With several nodes on one database, a delivery is sent by the node that claimed it
//! (`claimed_by` / `claimed_until`, renewed before each attempt); a node that dies
//! leaves a claim that expires, and the sweep (`service::nodes`, under the `webhooks`
//! lease) hands the delivery to a live node. A receiver sees a delivery once, except
//! after a node died between the receiver's answer and its record (the same
//! `X-Rangsi-Delivery` id again).

use std::sync::OnceLock;
use std::time::Duration;

use rangsi_wire::reports::NotificationList;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Archive, Principal, Result, ServiceError};
use crate::index::notify::{NewNotification, PendingDelivery};
use crate::index::reports::StoredReport;

/// Attempts per delivery before it is marked failed.
pub const ATTEMPTS: i64 = 5;
/// Pause after attempt n (1-based), the last repeated.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most notifications one listing returns.
const LIST_LIMIT: i64 = 100;

/// HMAC-SHA256 (RFC 2104) of `message` with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn client() -> std::result::Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<std::result::Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .user_agent(concat!("Rangsi/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One attempt; `Err` says why it did not deliver.
async fn post(d: &PendingDelivery) -> std::result::Result<(), String> {
    let signature = hex::encode(hmac_sha256(d.secret.as_bytes(), d.payload.as_bytes()));
    let answer = client()?
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("X-Rangsi-Event", &d.kind)
        .header("X-Rangsi-Delivery", d.id.to_string())
        .header("X-Rangsi-Signature", format!("sha256={signature}"))
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", answer.status()))
    }
}

/// A webhook URL: http or https, with a host.
pub fn check_webhook_url(url: &str) -> Result<()> {
    let ok = match url.split_once("://") {
        Some(("http" | "https", rest)) => !rest.is_empty() && !rest.starts_with('/'),
        _ => false,
    };
    if ok && url.len() <= 2048 && !url.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "a webhook is an http:// or https:// URL, got {url:?}"
        )))
    }
}

impl Archive {
    /// Tells the study's hospital that its report moved to `state` (`preliminary`,
    /// `final`, `amended`).
    pub(crate) async fn notify_report(&self, r: &StoredReport, state: &str) -> Result<()> {
        let s = &r.study;
        let kind = format!("report-{state}");
        let what = match state {
            "preliminary" => "รายงานเบื้องต้น / Preliminary report",
            "final" => "รายงานผลลงนามแล้ว / Report signed",
            _ => "รายงานผลแก้ไขเพิ่มเติม / Report amended",
        };
        let critical = if r.content.critical {
            " — ผลวิกฤต / CRITICAL RESULT"
        } else {
            ""
        };
        let text = format!(
            "{what}{critical}: HN {} {} ({})",
            s.patient_id, s.description, s.accession
        );
        let payload = json!({
            "event": kind,
            "report_id": r.id,
            "state": state,
            "critical": r.content.critical,
            "hospital": s.hospital_code,
            "study_uid": s.study_uid,
            "accession": s.accession,
            "patient_id": s.patient_id,
            "text": text,
            "at": crate::index::now_rfc3339(),
            "report": format!("/api/reports/{}", r.id),
            "fhir": format!("/api/reports/{}/fhir", r.id),
        })
        .to_string();
        let delivery = self
            .index()
            .notify(&NewNotification {
                hospital_id: s.hospital_id,
                kind: &kind,
                study_uid: &s.study_uid,
                report_id: Some(r.id),
                critical: r.content.critical,
                text: &text,
                payload: &payload,
            })
            .await?;
        if let Some(id) = delivery {
            self.spawn_delivery(id);
        }
        Ok(())
    }

    fn spawn_delivery(&self, id: i64) {
        let archive = self.clone();
        tokio::spawn(async move { archive.deliver(id).await });
    }

    /// Tries a delivery until it is delivered or out of attempts. Several nodes may be
    /// told of one delivery (its own node, a sweep, a restart): each attempt first claims
    /// it in the index (`claim_delivery`, a guarded UPDATE), and only the claimer sends.
    async fn deliver(&self, id: i64) {
        let node = self.node_id().to_string();
        loop {
            // The claim covers this attempt and the pause after it, with room to spare.
            let until = crate::index::leases::now_ms()
                .saturating_add(crate::index::leases::ms(
                    TIMEOUT + BACKOFF[BACKOFF.len() - 1],
                ))
                .saturating_add(crate::index::leases::ms(super::nodes::lease_ttl()));
            let d = match self.index().claim_delivery(id, &node, until).await {
                Ok(Some(d)) => d,
                // Delivered, failed, or another node is sending it.
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(delivery = id, error = %e, "webhook delivery: claiming it");
                    return;
                }
            };
            let (status, error) = match post(&d).await {
                Ok(()) => ("delivered", String::new()),
                Err(e) if d.attempts + 1 >= ATTEMPTS => ("failed", e),
                Err(e) => ("pending", e),
            };
            if !error.is_empty() {
                tracing::warn!(delivery = id, url = %d.url, error = %error, attempt = d.attempts + 1, "webhook delivery");
            }
            match self
                .index()
                .delivery_attempt(id, &node, status, &error)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(delivery = id, "webhook delivery: another node took it over");
                    return;
                }
                Err(e) => {
                    tracing::warn!(delivery = id, error = %e, "webhook delivery: recording the attempt");
                    return;
                }
            }
            if status != "pending" {
                return;
            }
            let k = usize::try_from(d.attempts)
                .unwrap_or(0)
                .min(BACKOFF.len() - 1);
            tokio::time::sleep(BACKOFF[k]).await;
        }
    }

    /// Picks up deliveries left pending by a previous run (called when serving starts)
    /// or by a node that died (the sweep): those nobody holds a live claim on.
    pub async fn resume_deliveries(&self) -> Result<usize> {
        let pending = self.index().unclaimed_deliveries().await?;
        for id in &pending {
            self.spawn_delivery(*id);
        }
        Ok(pending.len())
    }

    /// The caller's hospital's newest notifications.
    pub async fn notifications(
        &self,
        who: &Principal,
        unread_only: bool,
    ) -> Result<NotificationList> {
        let (Some(user), Some(hospital)) = (who.user_id, who.hospital_id) else {
            return Ok(NotificationList::default());
        };
        let notifications = self
            .index()
            .notifications(hospital, user, unread_only, LIST_LIMIT)
            .await?;
        let unread = notifications.iter().filter(|n| !n.read).count();
        Ok(NotificationList {
            unread: u32::try_from(unread).unwrap_or(u32::MAX),
            notifications,
        })
    }

    /// Marks one of the caller's hospital's notifications read for the caller.
    pub async fn mark_notification_read(&self, who: &Principal, id: i64) -> Result<()> {
        let (Some(user), Some(hospital)) = (who.user_id, who.hospital_id) else {
            return Err(ServiceError::NotFound("no such notification".into()));
        };
        if self.index().mark_read(hospital, user, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("no such notification".into()))
        }
    }

    /// Registers (or replaces) a hospital's webhook; its new signing secret.
    pub async fn set_webhook(&self, hospital_code: &str, url: &str) -> Result<String> {
        check_webhook_url(url)?;
        let h = self
            .index()
            .hospital_by_code(hospital_code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {hospital_code}")))?;
        let secret = super::auth::new_secret("whsec_");
        self.index().set_webhook(h.id, url, &secret).await?;
        Ok(secret)
    }

    /// Removes a hospital's webhook.
    pub async fn remove_webhook(&self, hospital_code: &str) -> Result<()> {
        let h = self
            .index()
            .hospital_by_code(hospital_code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {hospital_code}")))?;
        if self.index().remove_webhook(h.id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "hospital {hospital_code} has no webhook"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn webhook_urls() {
        assert!(check_webhook_url("https://his.example/hook").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/x").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https:///x",
            "his.example",
            "http://a b",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }
}
