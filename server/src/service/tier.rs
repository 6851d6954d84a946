//! Tiering: studies neither opened nor changed for N days move to the cold store
//! (`rangsi tier`, or `serve --tier-after-days N` hourly on the node holding the `tier`
//! lease: `service::nodes`).
//!
//! One blob moves in this order, so a crash (kill -9, power cut) at any point loses
//! nothing and leaves fsck clean:
//! 1. stream the hot copy into a staging file, hashing it: it must hash to its key;
//! 2. `put_file` it into the cold store (durable on return) and read it back: its
//!    SHA-256 must match again;
//! 3. record the key cold in the index (`blob_tiers`): from now on reads go to cold;
//! 4. delete the hot copy.
//!
//! Before 3 the index says hot and the hot copy is untouched (a cold copy, if any, is an
//! unreferenced leftover); after 3 the cold copy is verified; a hot copy left by a crash
//! before 4 is removed by the next run. Reads fall back to the other tier, so a
//! concurrent ingest of the same bytes is served either way.
//!
//! **Promotion** ("transparently retrieved"): when `serve` reads a study that has cold
//! blobs, they are brought back to hot in the background after the read, so the next
//! reading is fast. Per blob, again never without a verified copy the index points to:
//! 1. claim it in the index (`blob_tiers.tier = 'promoting'`: reads try hot first and
//!    fall back to cold; tier runs neither move it nor treat its hot copy as a leftover);
//! 2. stream the cold copy into a staging file, hashing it (must match its key), and
//!    `put_file` it into the hot store; its size there must be right;
//! 3. delete the row (the blob is hot); if the claim was lost meanwhile, stop here (the
//!    hot copy is then a leftover the next tier run removes);
//! 4. check the hot copy is still there (a tier run of another process may have deleted
//!    it as a leftover just before the claim) — if not, the row goes back to cold and the
//!    cold copy stays; else delete the cold copy.
//!
//! A crash before 3 leaves the row `promoting` (reads still work through the fallback);
//! a promotion after an hour takes such a claim over. A crash between 3 and 4 leaves an
//! unreferenced cold copy (fsck: unreferenced, harmless). Within a process one blob
//! changes tier at a time (`Inner::tier_moves`).

use std::time::Duration;

use super::{Archive, Result, ServiceError};
use crate::store::{BlobError, sha256_of_key, sha256_of_stream};

/// A promotion claim older than this was left by a crash and may be taken over.
const PROMOTION_STALE_SECS: u64 = 3600;

/// What a tier run did (or, dry, would do).
#[derive(Debug, Default)]
pub struct TierReport {
    pub studies: Vec<String>,
    pub blobs_moved: usize,
    pub bytes_moved: u64,
    /// Hot copies of blobs already cold, removed (left by an interrupted run).
    pub leftovers_removed: usize,
    /// Blobs not moved, with why (a hot copy that no longer matches its key).
    pub failures: Vec<String>,
    pub dry_run: bool,
}

impl std::fmt::Display for TierReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run { "would move" } else { "moved" };
        writeln!(
            f,
            "{verb} {} study(ies) to the cold tier: {} blob(s), {} bytes",
            self.studies.len(),
            self.blobs_moved,
            self.bytes_moved
        )?;
        for s in &self.studies {
            writeln!(f, "  study {s}")?;
        }
        if self.leftovers_removed > 0 {
            writeln!(
                f,
                "removed {} hot copy(ies) of blobs already cold",
                self.leftovers_removed
            )?;
        }
        for e in &self.failures {
            writeln!(f, "NOT MOVED: {e}")?;
        }
        Ok(())
    }
}

impl Archive {
    /// Moves the blobs of studies neither opened nor changed for `older_than_days` days
    /// to the cold store. `dry_run`: only reports which.
    pub async fn tier(&self, older_than_days: u32, dry_run: bool) -> Result<TierReport> {
        self.tier_with(older_than_days, dry_run, false).await
    }

    /// [`Archive::tier`] on a node holding the `tier` lease (`service::nodes`): the lease
    /// is renewed before each study, and the pass stops where it was lost.
    pub(crate) async fn tier_leased(&self, older_than_days: u32) -> Result<TierReport> {
        self.tier_with(older_than_days, false, true).await
    }

    async fn tier_with(
        &self,
        older_than_days: u32,
        dry_run: bool,
        leased: bool,
    ) -> Result<TierReport> {
        let cold = self.tiers().cold();
        if cold.is_none() && !dry_run {
            return Err(ServiceError::BadRequest(
                "no cold store configured: give --cold-blobs s3://BUCKET/PREFIX or a folder".into(),
            ));
        }
        let hot = self.tiers().hot();
        let mut report = TierReport {
            dry_run,
            ..TierReport::default()
        };
        let cutoff = time::OffsetDateTime::now_utc()
            - Duration::from_secs(u64::from(older_than_days) * 86_400);
        let cutoff = crate::index::rfc3339(cutoff);

        if !dry_run {
            // Finish moves a crash interrupted between the index update and the delete.
            let cold_keys: std::collections::HashSet<String> =
                self.index().cold_keys().await?.into_iter().collect();
            if !cold_keys.is_empty() {
                for key in hot.list_keys().await? {
                    if cold_keys.contains(&key) {
                        // Re-checked now, under the move lock: a promotion may have
                        // claimed the blob since the list was read.
                        let _moving = self.inner.tier_moves.lock().await;
                        if self.index().is_cold(&key).await? {
                            hot.delete(&key).await?;
                            report.leftovers_removed += 1;
                        }
                    }
                }
            }
        }

        for (study_ref, study_uid) in self.index().tier_candidates(&cutoff).await? {
            if leased && !self.hold_lease(super::nodes::TIER_LEASE).await {
                tracing::warn!("tiering pass stopped: this node no longer holds the tier lease");
                break;
            }
            let blobs = self.index().hot_blobs_of_study(study_ref).await?;
            let mut moved_all = true;
            for blob in blobs {
                let Some(cold) = cold.filter(|_| !dry_run) else {
                    report.blobs_moved += 1;
                    report.bytes_moved += blob.size_bytes as u64;
                    continue;
                };
                let moved = {
                    let _moving = self.inner.tier_moves.lock().await;
                    self.move_blob_to_cold(&blob.key, cold).await
                };
                match moved {
                    Ok(bytes) => {
                        report.blobs_moved += 1;
                        report.bytes_moved += bytes;
                    }
                    Err(e @ ServiceError::Blob(BlobError::Unavailable { .. })) => return Err(e),
                    Err(e) => {
                        moved_all = false;
                        tracing::error!(key = blob.key, error = %e, "tiering: blob not moved");
                        report.failures.push(format!("{}: {e}", blob.key));
                    }
                }
            }
            if moved_all {
                report.studies.push(study_uid);
            }
        }
        if !dry_run && !report.studies.is_empty() {
            tracing::info!(
                studies = report.studies.len(),
                blobs = report.blobs_moved,
                bytes = report.bytes_moved,
                "tiering: moved to the cold store"
            );
        }
        Ok(report)
    }

    /// Steps 1–4 of the module docs for one blob; returns its size.
    async fn move_blob_to_cold(
        &self,
        key: &str,
        cold: &dyn crate::store::BlobStore,
    ) -> Result<u64> {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;

        let hot = self.tiers().hot();
        let expected = sha256_of_key(key);
        // 1. hot → staging file, hashed on the way.
        let staged = self
            .tmp_dir()
            .join(format!("tier-{}-{}.part", std::process::id(), expected));
        let mut file = tokio::fs::File::create(&staged).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = hot.stream(key, None).await?;
        let copied: Result<()> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        drop(file);
        let fail = |e: ServiceError| async {
            let _ = tokio::fs::remove_file(&staged).await;
            Err(e)
        };
        if let Err(e) = copied {
            return fail(e).await;
        }
        if hex::encode(hasher.finalize()) != expected {
            return fail(ServiceError::Internal(format!(
                "hot copy of {key} does not hash to its key (corrupt: see rangsi fsck --verify)"
            )))
            .await;
        }
        // 2. into the cold store, durably; then read back and hash again.
        if let Err(e) = cold.put_file(key, &staged).await {
            return fail(e.into()).await;
        }
        let _ = tokio::fs::remove_file(&staged).await;
        if sha256_of_stream(cold, key).await? != expected {
            return Err(ServiceError::Internal(format!(
                "cold copy of {key} does not hash to its key after writing it"
            )));
        }
        // 3. the index says cold: reads go there from now on.
        self.index()
            .mark_cold(key, &crate::index::now_rfc3339())
            .await?;
        // 4. the hot copy is no longer needed.
        hot.delete(key).await?;
        Ok(size)
    }

    /// `serve`: reads of cold studies promote them back to hot (`note_opened`).
    pub fn promote_on_read(&self) {
        self.inner
            .promote_on_read
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// After a successful read of a study: if it has cold blobs, brings them back to hot
    /// in a background task (one per study at a time).
    pub(super) fn promote_in_background(&self, study_uid: &str) {
        if !self
            .inner
            .promote_on_read
            .load(std::sync::atomic::Ordering::Relaxed)
            || !self.tiers().has_cold()
        {
            return;
        }
        {
            let Ok(mut promoting) = self.inner.promoting.lock() else {
                return;
            };
            if !promoting.insert(study_uid.to_string()) {
                return;
            }
        }
        let archive = self.clone();
        let uid = study_uid.to_string();
        tokio::spawn(async move {
            match archive.promote_study(&uid).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(blobs = n, "tiering: promoted an opened study to hot"),
                Err(e) => {
                    tracing::warn!(error = %e, "tiering: promotion failed (the study stays cold)")
                }
            }
            if let Ok(mut promoting) = archive.inner.promoting.lock() {
                promoting.remove(&uid);
            }
        });
    }

    /// Promotes the cold blobs of the studies with this UID to hot; how many moved.
    pub async fn promote_study(&self, study_uid: &str) -> Result<usize> {
        let Some(cold) = self.tiers().cold() else {
            return Ok(0);
        };
        let stale = crate::index::rfc3339(
            time::OffsetDateTime::now_utc() - Duration::from_secs(PROMOTION_STALE_SECS),
        );
        let mut moved = 0;
        for blob in self
            .index()
            .cold_blobs_of_study_uid(study_uid, &stale)
            .await?
        {
            let _moving = self.inner.tier_moves.lock().await;
            if self
                .promote_blob(&blob.key, blob.size_bytes, cold, &stale)
                .await?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Steps 1–4 of promotion for one blob (module docs); whether it is hot now.
    async fn promote_blob(
        &self,
        key: &str,
        size: i64,
        cold: &dyn crate::store::BlobStore,
        stale: &str,
    ) -> Result<bool> {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;

        let at = crate::index::now_rfc3339();
        // 1. claim.
        if !self.index().claim_promotion(key, &at, stale).await? {
            return Ok(false);
        }
        let hot = self.tiers().hot();
        let expected = sha256_of_key(key);
        // 2. cold → staging (hashed) → hot.
        let staged =
            self.tmp_dir()
                .join(format!("promote-{}-{}.part", std::process::id(), expected));
        let copied: Result<()> = async {
            let mut file = tokio::fs::File::create(&staged).await?;
            let mut hasher = Sha256::new();
            let mut stream = cold.stream(key, None).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            drop(file);
            if hex::encode(hasher.finalize()) != expected {
                return Err(ServiceError::Internal(format!(
                    "cold copy of {key} does not hash to its key (corrupt: see rangsi fsck --verify)"
                )));
            }
            hot.put_file(key, &staged).await?;
            if hot.size(key).await? != Some(size as u64) {
                return Err(ServiceError::Internal(format!(
                    "hot copy of {key} has the wrong size after writing it"
                )));
            }
            Ok(())
        }
        .await;
        let _ = tokio::fs::remove_file(&staged).await;
        if let Err(e) = copied {
            self.index().abandon_promotion(key, &at).await?;
            return Err(e);
        }
        // 3. the index says hot.
        if !self.index().finish_promotion(key, &at).await? {
            return Ok(false);
        }
        // 4. the cold copy goes only while the hot one is there.
        if hot.size(key).await? != Some(size as u64) {
            self.index().mark_cold(key, &at).await?;
            return Err(ServiceError::Internal(format!(
                "hot copy of {key} vanished during its promotion; it stays cold"
            )));
        }
        cold.delete(key).await?;
        Ok(true)
    }
}
