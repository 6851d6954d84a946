//! Tiering in the index: when studies were last opened, which studies the policy moves
//! to the cold store, and which blob keys are cold (`blob_tiers`, migration 0016).

use sqlx::Row;

use super::db;
use super::{Index, Result};

/// SQL for a blob key qualified by its tier (`cold:KEY` or `KEY`), for a column `col`.
pub fn tiered_key_sql(col: &str) -> String {
    format!(
        "CASE WHEN EXISTS (SELECT 1 FROM blob_tiers bt WHERE bt.blob_key = {col} AND bt.tier = 'cold') \
         THEN 'cold:' || {col} ELSE {col} END"
    )
}

/// A hot blob of a study that the policy moves.
#[derive(Debug, Clone)]
pub struct HotBlob {
    pub key: String,
    pub size_bytes: i64,
}

impl Index {
    /// Records that these studies were opened at `at` (RFC 3339), in one transaction.
    pub async fn mark_opened(&self, study_uids: &[String], at: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for uid in study_uids {
            db::query("UPDATE studies SET last_opened_at = ? WHERE study_uid = ?")
                .bind(at)
                .bind(uid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Studies neither opened nor changed since `cutoff` (RFC 3339) that still have hot
    /// blobs: (row id, Study Instance UID), oldest first.
    pub async fn tier_candidates(&self, cutoff: &str) -> Result<Vec<(i64, String)>> {
        let rows = db::query(
            "SELECT st.id, st.study_uid FROM studies st \
             WHERE (CASE WHEN st.last_opened_at IS NOT NULL AND st.last_opened_at > st.updated_at \
                    THEN st.last_opened_at ELSE st.updated_at END) < ? \
             AND EXISTS (SELECT 1 FROM series se JOIN instances i ON i.series_ref = se.id \
                         WHERE se.study_ref = st.id \
                         AND NOT EXISTS (SELECT 1 FROM blob_tiers bt WHERE bt.blob_key = i.blob_key)) \
             ORDER BY st.updated_at, st.id",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The blobs of a study that are still hot.
    pub async fn hot_blobs_of_study(&self, study_ref: i64) -> Result<Vec<HotBlob>> {
        let rows = db::query(
            "SELECT i.blob_key, MIN(i.size_bytes) FROM instances i \
             JOIN series se ON se.id = i.series_ref WHERE se.study_ref = ? \
             AND NOT EXISTS (SELECT 1 FROM blob_tiers bt WHERE bt.blob_key = i.blob_key) \
             GROUP BY i.blob_key ORDER BY i.blob_key",
        )
        .bind(study_ref)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(HotBlob::from_row).collect())
    }

    /// Records a blob as cold: from now on every read goes to the cold store first.
    /// Only after its cold copy is written and verified.
    pub async fn mark_cold(&self, key: &str, at: &str) -> Result<()> {
        db::query(
            "INSERT INTO blob_tiers (blob_key, tier, moved_at) VALUES (?, 'cold', ?) \
             ON CONFLICT (blob_key) DO NOTHING",
        )
        .bind(key)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keys recorded cold (for removing hot copies a crash left behind).
    pub async fn cold_keys(&self) -> Result<Vec<String>> {
        let rows = db::query("SELECT blob_key FROM blob_tiers WHERE tier = 'cold'")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Whether the index has a blob in the cold tier right now (re-checked before a hot
    /// leftover is deleted).
    pub async fn is_cold(&self, key: &str) -> Result<bool> {
        let n: i64 = db::query_scalar(
            "SELECT COUNT(*) FROM blob_tiers WHERE blob_key = ? AND tier = 'cold'",
        )
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The cold blobs of the studies with this Study Instance UID (every hospital's
    /// copy), with their sizes: what a promotion brings back. A blob whose promotion
    /// began before `stale` (RFC 3339) and never finished (a crash) is included again.
    pub async fn cold_blobs_of_study_uid(
        &self,
        study_uid: &str,
        stale: &str,
    ) -> Result<Vec<HotBlob>> {
        let rows = db::query(
            "SELECT i.blob_key, MIN(i.size_bytes) FROM instances i \
             JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
             JOIN blob_tiers bt ON bt.blob_key = i.blob_key \
             WHERE st.study_uid = ? AND (bt.tier = 'cold' OR (bt.tier = 'promoting' AND bt.moved_at < ?)) \
             GROUP BY i.blob_key ORDER BY i.blob_key",
        )
        .bind(study_uid)
        .bind(stale)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(HotBlob::from_row).collect())
    }

    /// Claims a cold blob for promotion (`tier = 'promoting'`: reads try hot first, tier
    /// runs leave it alone); false if another promotion has it or it is no longer cold.
    pub async fn claim_promotion(&self, key: &str, at: &str, stale: &str) -> Result<bool> {
        let done = db::query(
            "UPDATE blob_tiers SET tier = 'promoting', moved_at = ? WHERE blob_key = ? \
             AND (tier = 'cold' OR (tier = 'promoting' AND moved_at < ?))",
        )
        .bind(at)
        .bind(key)
        .bind(stale)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A promotion that could not finish: the blob is cold again.
    pub async fn abandon_promotion(&self, key: &str, at: &str) -> Result<()> {
        db::query(
            "UPDATE blob_tiers SET tier = 'cold' WHERE blob_key = ? AND tier = 'promoting' AND moved_at = ?",
        )
        .bind(key)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The blob is hot again (its hot copy written and verified): whether this promotion
    /// still held it (else nothing changed).
    pub async fn finish_promotion(&self, key: &str, at: &str) -> Result<bool> {
        let done = db::query(
            "DELETE FROM blob_tiers WHERE blob_key = ? AND tier = 'promoting' AND moved_at = ?",
        )
        .bind(key)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl HotBlob {
    /// From a `(blob_key, size_bytes)` row.
    fn from_row(r: &super::db::Row) -> Self {
        HotBlob {
            key: r.get(0),
            size_bytes: r.get(1),
        }
    }
}
