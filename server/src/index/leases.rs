//! Leases (migration 0017): several `rangsi serve` nodes on one database agree on which
//! of them runs a background job (the tiering pass, the webhook sweep) by holding a
//! named lease in the index. Taking, renewing and the check that the last holder's lease
//! expired are one atomic statement on both engines (an upsert guarded by its `WHERE`),
//! so two nodes can never both hold one; a node that dies simply stops renewing and
//! another takes the lease over once it expires.
//!
//! Times are Unix milliseconds of the node's clock ([`now_ms`]); the nodes' clocks must
//! agree to well within a lease's lifetime (NTP).

use std::time::Duration;

use super::db;
use super::{Index, Result};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let t = time::OffsetDateTime::now_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A duration in milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Index {
    /// Takes or renews the lease `name` for `holder` for `ttl`: true when `holder` now
    /// holds it (it was free, expired, or already `holder`'s), false when another node's
    /// lease is still running. One statement: the upsert's `WHERE` decides, atomically.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = now_ms();
        let got: Option<String> = db::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at <= ? OR leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now.saturating_add(ms(ttl)))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(got.as_deref() == Some(holder))
    }

    /// Gives the lease `name` up if `holder` holds it (a clean shutdown: another node
    /// may take it at once instead of after its expiry).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        db::query("DELETE FROM leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_until_expiry_or_release() {
        let dir = std::env::temp_dir().join(format!("rangsi-leases-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let index = Index::open(&dir.join("index.sqlite")).await.expect("index");
        let long = Duration::from_secs(60);
        assert!(index.try_lease("tier", "a", long).await.expect("take"));
        assert!(!index.try_lease("tier", "b", long).await.expect("held by a"));
        assert!(index.try_lease("tier", "a", long).await.expect("renew"));
        // Another lease is independent.
        assert!(index.try_lease("webhooks", "b", long).await.expect("other"));
        // Released: free at once; b's release of a's lease does nothing.
        index.release_lease("tier", "b").await.expect("not b's");
        assert!(!index.try_lease("tier", "b", long).await.expect("still a's"));
        index.release_lease("tier", "a").await.expect("release");
        assert!(
            index
                .try_lease("tier", "b", Duration::ZERO)
                .await
                .expect("free")
        );
        // Expired (a zero lifetime): anyone takes it over.
        assert!(index.try_lease("tier", "a", long).await.expect("expired"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
