//! The local cache's retention: instances the regional server acknowledged more than
//! `--cache-days` ago (default 0: right away) are forgotten by the gateway — index rows
//! and queue rows in one transaction, then their blobs.
//!
//! A blob is removed in two steps so that an identical instance received meanwhile
//! keeps its bytes: no row refers to it → renamed to `<key>.pruning` (invisible to the
//! store) → one round later, still no row → removed; a row again (the same bytes were
//! stored again while the rename happened) → renamed back. The ingest's window between
//! writing a blob and committing its row is far shorter than a round. Only pending and
//! failed instances never leave the gateway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::Archive;

const TRASH_SUFFIX: &str = ".pruning";
/// Time between rounds.
const ROUND: Duration = Duration::from_secs(2);
/// Most instances forgotten per round.
const PER_ROUND: i64 = 500;

/// The blob file of a key under the gateway's file store (`Archive::open` puts it in
/// `DATA/blobs`); None for a key that is not ours (never a path outside the root).
fn blob_path(root: &Path, key: &str) -> Option<PathBuf> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    ok.then(|| root.join(key))
}

fn trash_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(TRASH_SUFFIX);
    PathBuf::from(s)
}

pub async fn prune_loop(
    archive: Archive,
    data: PathBuf,
    cache: Duration,
    shutdown: CancellationToken,
) {
    let root = data.join("blobs");
    if let Err(e) = settle_leftovers(&archive, &root).await {
        tracing::warn!(error = %e, "cannot settle blobs left half-pruned");
    }
    let mut trash: Vec<(String, String)> = Vec::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ROUND) => {}
            _ = shutdown.cancelled() => return,
        }
        for (key, sop_uid) in std::mem::take(&mut trash) {
            let Some(path) = blob_path(&root, &key) else {
                continue;
            };
            let settled = match archive.index().blob_key_referenced(&key, &sop_uid).await {
                Ok(true) => std::fs::rename(trash_of(&path), &path),
                Ok(false) => std::fs::remove_file(trash_of(&path)),
                Err(e) => {
                    tracing::warn!(error = %e, key, "cannot check a pruned blob; later");
                    trash.push((key, sop_uid));
                    continue;
                }
            };
            if let Err(e) = settled
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, key, "cannot settle a pruned blob");
            }
        }
        let cutoff = time::OffsetDateTime::now_utc()
            - time::Duration::try_from(cache).unwrap_or(time::Duration::ZERO);
        match archive
            .index()
            .gateway_prune(&crate::index::rfc3339(cutoff), PER_ROUND)
            .await
        {
            Ok((0, _)) => {}
            Ok((n, keys)) => {
                tracing::debug!(forgotten = n, blobs = keys.len(), "cache pruned");
                for (key, sop_uid) in keys {
                    let Some(path) = blob_path(&root, &key) else {
                        continue;
                    };
                    match std::fs::rename(&path, trash_of(&path)) {
                        Ok(()) => trash.push((key, sop_uid)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::warn!(error = %e, key, "cannot prune a blob"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot prune the cache"),
        }
    }
}

/// Blobs a crash left renamed to `.pruning`: back if a row refers to them, else removed.
async fn settle_leftovers(archive: &Archive, root: &Path) -> anyhow::Result<()> {
    let root_owned = root.to_path_buf();
    let found: Vec<PathBuf> = tokio::task::spawn_blocking(move || {
        walkdir::WalkDir::new(&root_owned)
            .min_depth(3)
            .max_depth(3)
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .filter(|p| p.to_string_lossy().ends_with(TRASH_SUFFIX))
            .collect()
    })
    .await?;
    for trash in found {
        let path_text = trash.to_string_lossy();
        let path = PathBuf::from(path_text.trim_end_matches(TRASH_SUFFIX));
        let key = path
            .strip_prefix(root)
            .map(|k| k.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if archive.index().blob_key_referenced_anywhere(&key).await? {
            std::fs::rename(&trash, &path)?;
        } else {
            std::fs::remove_file(&trash)?;
        }
    }
    Ok(())
}
