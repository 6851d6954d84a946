//! The SQL of notifications, hospitals' webhooks and webhook deliveries (migration
//! 0011). A notification and the delivery of its webhook are inserted in one
//! transaction, so a registered webhook cannot miss an event the app shows.

use rangsi_wire::reports::Notification;
use sqlx::Row;

use super::db;
use super::{Index, Result, now_rfc3339};

/// A notification to be recorded.
pub struct NewNotification<'a> {
    pub hospital_id: i64,
    pub kind: &'a str,
    pub study_uid: &'a str,
    pub report_id: Option<i64>,
    pub critical: bool,
    pub text: &'a str,
    pub payload: &'a str,
}

/// A webhook delivery still to be made.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub payload: String,
    pub kind: String,
    pub attempts: i64,
}

impl Index {
    /// Records a notification, and a pending delivery when the hospital has a webhook;
    /// the delivery's id.
    pub async fn notify(&self, n: &NewNotification<'_>) -> Result<Option<i64>> {
        let at = now_rfc3339();
        let mut tx = self.pool.begin().await?;
        let id: i64 = db::query_scalar(
            "INSERT INTO notifications (hospital_id, kind, study_uid, report_id, critical, text, \
             payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(n.hospital_id)
        .bind(n.kind)
        .bind(n.study_uid)
        .bind(n.report_id)
        .bind(i64::from(n.critical))
        .bind(n.text)
        .bind(n.payload)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        let delivery: Option<i64> = db::query_scalar(
            "INSERT INTO webhook_deliveries (notification_id, url, status, updated_at) \
             SELECT ?, url, 'pending', ? FROM hospital_webhooks WHERE hospital_id = ? RETURNING id",
        )
        .bind(id)
        .bind(&at)
        .bind(n.hospital_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// The newest notifications of a hospital (at most `limit`), with whether `user`
    /// has read each.
    pub async fn notifications(
        &self,
        hospital_id: i64,
        user: i64,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let rows = db::query(
            "SELECT n.id, n.kind, n.study_uid, n.report_id, n.critical, n.text, n.created_at, \
             CASE WHEN r.read_at IS NULL THEN 0 ELSE 1 END FROM notifications n \
             LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.user_id = ? \
             WHERE n.hospital_id = ? AND (? = 0 OR r.read_at IS NULL) ORDER BY n.id DESC LIMIT ?",
        )
        .bind(user)
        .bind(hospital_id)
        .bind(i64::from(unread_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Notification {
                id: r.get(0),
                kind: r.get(1),
                study_uid: r.get(2),
                report_id: r.get(3),
                critical: r.get::<i64, _>(4) != 0,
                text: r.get(5),
                created_at: r.get(6),
                read: r.get::<i64, _>(7) != 0,
            })
            .collect())
    }

    /// Marks a notification of `hospital_id` read by `user`; false when there is none.
    pub async fn mark_read(&self, hospital_id: i64, user: i64, id: i64) -> Result<bool> {
        let done = db::query(
            "INSERT INTO notification_reads (notification_id, user_id, read_at) \
             SELECT id, ?, ? FROM notifications WHERE id = ? AND hospital_id = ? \
             ON CONFLICT (notification_id, user_id) DO NOTHING",
        )
        .bind(user)
        .bind(now_rfc3339())
        .bind(id)
        .bind(hospital_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 1 {
            return Ok(true);
        }
        // Read before, or none of this hospital's.
        Ok(db::query_scalar::<i64>(
            "SELECT COUNT(*) FROM notifications WHERE id = ? AND hospital_id = ?",
        )
        .bind(id)
        .bind(hospital_id)
        .fetch_one(&self.pool)
        .await?
            == 1)
    }

    /// Sets (or replaces) a hospital's webhook.
    pub async fn set_webhook(&self, hospital_id: i64, url: &str, secret: &str) -> Result<()> {
        db::query(
            "INSERT INTO hospital_webhooks (hospital_id, url, secret, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (hospital_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, \
             created_at = excluded.created_at",
        )
        .bind(hospital_id)
        .bind(url)
        .bind(secret)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a hospital's webhook; false when it had none.
    pub async fn remove_webhook(&self, hospital_id: i64) -> Result<bool> {
        Ok(
            db::query("DELETE FROM hospital_webhooks WHERE hospital_id = ?")
                .bind(hospital_id)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Deliveries still pending (oldest first), with what they send.
    pub async fn pending_deliveries(&self, id: Option<i64>) -> Result<Vec<PendingDelivery>> {
        let rows = db::query(
            "SELECT d.id, d.url, COALESCE(w.secret, ''), n.payload, n.kind, d.attempts \
             FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id \
             LEFT JOIN hospital_webhooks w ON w.hospital_id = n.hospital_id \
             WHERE d.status = 'pending' AND (? IS NULL OR d.id = ?) ORDER BY d.id",
        )
        .bind(id)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PendingDelivery {
                id: r.get(0),
                url: r.get(1),
                secret: r.get(2),
                payload: r.get(3),
                kind: r.get(4),
                attempts: r.get(5),
            })
            .collect())
    }

    /// Records one attempt by `node`: `status` pending (to retry), delivered or failed.
    /// The claim is kept while pending and cleared otherwise; a node whose claim was
    /// taken over (it stalled past its expiry) records nothing: false.
    pub async fn delivery_attempt(
        &self,
        id: i64,
        node: &str,
        status: &str,
        error: &str,
    ) -> Result<bool> {
        Ok(db::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, last_error = ?, \
             updated_at = ?, claimed_by = CASE WHEN ? = 'pending' THEN claimed_by ELSE NULL END, \
             claimed_until = CASE WHEN ? = 'pending' THEN claimed_until ELSE NULL END \
             WHERE id = ? AND claimed_by = ?",
        )
        .bind(status)
        .bind(error)
        .bind(now_rfc3339())
        .bind(status)
        .bind(status)
        .bind(id)
        .bind(node)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Claims a pending delivery for `node` until `until_ms` (Unix ms), or renews its own
    /// claim: one guarded UPDATE, so of several nodes exactly one sends. What to send
    /// when claimed; `None` when it is delivered, failed, or another node's claim runs.
    pub async fn claim_delivery(
        &self,
        id: i64,
        node: &str,
        until_ms: i64,
    ) -> Result<Option<PendingDelivery>> {
        let claimed = db::query(
            "UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ? \
             WHERE id = ? AND status = 'pending' \
             AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until <= ?)",
        )
        .bind(node)
        .bind(until_ms)
        .bind(id)
        .bind(node)
        .bind(super::leases::now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            return Ok(None);
        }
        Ok(self.pending_deliveries(Some(id)).await?.into_iter().next())
    }

    /// Pending deliveries nobody is sending: never claimed, or their node's claim
    /// expired (it died or stalled). The sweep hands them to this node.
    pub async fn unclaimed_deliveries(&self) -> Result<Vec<i64>> {
        Ok(db::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' \
             AND (claimed_by IS NULL OR claimed_until <= ?) ORDER BY id",
        )
        .bind(super::leases::now_ms())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Gives up `node`'s claims on deliveries still pending (a clean shutdown: another
    /// node's sweep sends them without waiting for the claims to expire).
    pub async fn release_claims(&self, node: &str) -> Result<u64> {
        Ok(db::query(
            "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL \
             WHERE claimed_by = ? AND status = 'pending'",
        )
        .bind(node)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
