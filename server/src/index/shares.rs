//! Share links: a token (stored as SHA-256) for exactly some study rows, its optional PIN
//! (argon2id) or birth-date check, expiry and revocation, and the browser sessions that
//! opened it. The studies become [`super::Scope::Studies`] for whoever holds a session.
//! Times are passed in (`now`), so the service's clock decides what has expired.

use sqlx::Row;

use super::db;
use super::{Index, Result, now_rfc3339};

#[derive(Debug, Clone)]
pub struct ShareLinkRow {
    pub id: i64,
    pub hospital_id: Option<i64>,
    pub created_by: String,
    pub referral_id: Option<i64>,
    pub audience: String,
    pub pin_hash: Option<String>,
    pub birth_date_check: bool,
    pub allow_download: bool,
    pub label: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

pub struct NewShareLinkRow<'a> {
    pub token_hash: &'a str,
    pub hospital_id: Option<i64>,
    pub created_by: &'a str,
    pub referral_id: Option<i64>,
    pub audience: &'a str,
    pub pin_hash: Option<&'a str>,
    pub birth_date_check: bool,
    pub allow_download: bool,
    pub label: &'a str,
    pub expires_at: &'a str,
    pub study_refs: &'a [i64],
}

const LINK_COLS: &str = "l.id, l.hospital_id, l.created_by, l.referral_id, l.audience, l.pin_hash, \
     l.birth_date_check, l.allow_download, l.label, l.created_at, l.expires_at, l.revoked_at";

fn link_from(r: &db::Row) -> ShareLinkRow {
    ShareLinkRow {
        id: r.get(0),
        hospital_id: r.get(1),
        created_by: r.get(2),
        referral_id: r.get(3),
        audience: r.get(4),
        pin_hash: r.get(5),
        birth_date_check: r.get::<i64, _>(6) != 0,
        allow_download: r.get::<i64, _>(7) != 0,
        label: r.get(8),
        created_at: r.get(9),
        expires_at: r.get(10),
        revoked_at: r.get(11),
    }
}

impl Index {
    pub async fn create_share_link(&self, l: &NewShareLinkRow<'_>) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = db::query_scalar::<i64>(
            "INSERT INTO share_links (token_hash, hospital_id, created_by, referral_id, audience, pin_hash, \
             birth_date_check, allow_download, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(l.token_hash)
        .bind(l.hospital_id)
        .bind(l.created_by)
        .bind(l.referral_id)
        .bind(l.audience)
        .bind(l.pin_hash)
        .bind(i64::from(l.birth_date_check))
        .bind(i64::from(l.allow_download))
        .bind(l.label)
        .bind(now_rfc3339())
        .bind(l.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        for s in l.study_refs {
            db::query(
                "INSERT INTO share_link_studies (link_id, study_ref) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(s)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn share_link(&self, id: i64) -> Result<Option<ShareLinkRow>> {
        let row = db::query(&(format!("SELECT {LINK_COLS} FROM share_links l WHERE l.id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(link_from))
    }

    pub async fn share_link_by_token(&self, token_hash: &str) -> Result<Option<ShareLinkRow>> {
        let row =
            db::query(&(format!("SELECT {LINK_COLS} FROM share_links l WHERE l.token_hash = ?")))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(link_from))
    }

    /// Links made at a hospital (`None`: every link, for the regional administrator).
    pub async fn share_links_of(&self, hospital_id: Option<i64>) -> Result<Vec<ShareLinkRow>> {
        let rows = match hospital_id {
            Some(h) => {
                db::query(&(format!(
                    "SELECT {LINK_COLS} FROM share_links l WHERE l.hospital_id = ? ORDER BY l.id DESC LIMIT 500"
                )))
                .bind(h)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                db::query(&(format!(
                    "SELECT {LINK_COLS} FROM share_links l ORDER BY l.id DESC LIMIT 500"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.iter().map(link_from).collect())
    }

    /// The study rows of a link: (row id, Study Instance UID).
    pub async fn share_link_studies(&self, link_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = db::query(
            "SELECT st.id, st.study_uid FROM share_link_studies s JOIN studies st ON st.id = s.study_ref \
             WHERE s.link_id = ? ORDER BY st.study_date DESC, st.id",
        )
        .bind(link_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Birth dates (DICOM DA) of the patients of a link's studies.
    pub async fn share_link_birth_dates(&self, link_id: i64) -> Result<Vec<String>> {
        Ok(db::query_scalar(
            "SELECT DISTINCT p.birth_date FROM share_link_studies s JOIN studies st ON st.id = s.study_ref \
             JOIN patients p ON p.id = st.patient_ref WHERE s.link_id = ?",
        )
        .bind(link_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn revoke_share_link(&self, id: i64) -> Result<()> {
        db::query("UPDATE share_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now_rfc3339())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_share_session(
        &self,
        secret_hash: &str,
        link_id: i64,
        expires_at: &str,
    ) -> Result<()> {
        db::query(
            "INSERT INTO share_sessions (secret_hash, link_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(secret_hash)
        .bind(link_id)
        .bind(now_rfc3339())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The link of a live session: neither the session nor the link expired at `now`,
    /// the link not revoked.
    pub async fn share_session(
        &self,
        secret_hash: &str,
        now: &str,
    ) -> Result<Option<ShareLinkRow>> {
        let row = db::query(&(format!(
            "SELECT {LINK_COLS} FROM share_sessions s JOIN share_links l ON l.id = s.link_id \
             WHERE s.secret_hash = ? AND s.expires_at > ? AND l.expires_at > ? AND l.revoked_at IS NULL"
        )))
        .bind(secret_hash)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(link_from))
    }
}

impl Index {
    /// Study rows with these UIDs that `scope` can see (both copies when two hospitals
    /// hold the same study and the caller sees both).
    pub async fn visible_studies(
        &self,
        scope: &super::Scope,
        uids: &[String],
    ) -> Result<Vec<super::referrals::StudyRow>> {
        let (scope_sql, scope_args) = scope.sql();
        let mut out = Vec::new();
        for uid in uids {
            let sql = format!(
                "SELECT st.id, st.patient_ref, st.study_uid, st.study_date, st.description, \
                 st.modalities, st.num_instances FROM studies st WHERE ({scope_sql}) AND st.study_uid = ?"
            );
            let mut q = db::query(&(sql));
            for a in &scope_args {
                q = q.bind(*a);
            }
            let rows = q.bind(uid).fetch_all(&self.pool).await?;
            out.extend(rows.iter().map(super::referrals::study_from));
        }
        Ok(out)
    }
}

/// Failed share-link openings (migration 0017), counted in the index so that every node
/// behind a load balancer throttles the same guesses.
impl Index {
    /// Records one failure of `subject` (a token hash or an address) at `now_ms`, and
    /// forgets failures older than the window.
    pub async fn share_failure(&self, subject: &str, now_ms: i64, window_ms: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        db::query("DELETE FROM share_failures WHERE at <= ?")
            .bind(now_ms.saturating_sub(window_ms))
            .execute(&mut *tx)
            .await?;
        db::query("INSERT INTO share_failures (subject, at) VALUES (?, ?)")
            .bind(subject)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many failures `subject` had after `since_ms`, and the oldest of them.
    pub async fn share_failures_since(
        &self,
        subject: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>)> {
        let row =
            db::query("SELECT COUNT(*), MIN(at) FROM share_failures WHERE subject = ? AND at > ?")
                .bind(subject)
                .bind(since_ms)
                .fetch_one(&self.pool)
                .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
}
