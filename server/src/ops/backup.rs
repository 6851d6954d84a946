//! `rangsi backup` and `rangsi restore`: an online, consistent copy of a data directory.
//!
//! Backup order is what makes it consistent while `serve` runs:
//! 1. `VACUUM INTO` writes a snapshot of the index (one read transaction: every row as
//!    of one commit; WAL readers never block the server's writers) to
//!    `index.sqlite.partial` in the backup folder.
//! 2. Every blob *that snapshot* refers to is copied (blobs are immutable and
//!    content-addressed, and ingest makes a blob durable before the commit that refers
//!    to it, so all of them exist). A key already in the backup is skipped: repeated
//!    backups into one folder copy only new blobs. Each copy is checked against its
//!    SHA-256 key and fsynced before it is renamed into place.
//! 3. Only then is the snapshot renamed to `index.sqlite`: a backup folder's index never
//!    refers to a blob the folder lacks, even if the backup is interrupted.
//!
//! Restore copies the other way into an empty data directory (or one given `--force`),
//! blobs first and the index last, checking every blob's SHA-256.
//!
//! **Index-only backups** (`--index-only`, and the default for an archive whose blobs
//! are not in its local `DATA/blobs` folder: S3, another folder, or a cold tier) take the
//! same snapshot (1. and 3.) and copy no blobs: instead they keep the data directory's
//! blob store record (`blob-store.toml`: locations, endpoint, region — it never holds
//! credentials), with a default local folder spelled out as its absolute path, written
//! before the index is renamed into place. The manifest says `"blobs_included": false`
//! and names the stores. Restoring one writes the index and that record, so the restored
//! data directory reads the same bucket/prefix and cold tier; the blobs themselves are
//! protected by the store (bucket versioning or replication), not by the backup.
//!
//! With the index on PostgreSQL the snapshot is a `pg_dump` archive instead of
//! `index.sqlite` (`pg_backup.rs`); the blobs, the store record, the manifest and the
//! order of the steps are the same, shared from here.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

pub(super) const INDEX: &str = "index.sqlite";
pub(super) const MANIFEST: &str = "rangsi-backup.json";
pub(super) const RECORD: &str = crate::store::location::RECORD_FILE;

#[derive(Debug, Default)]
pub struct CopyReport {
    /// Blob keys the index refers to.
    pub referenced: usize,
    /// Blobs copied now (the rest were already there).
    pub copied: usize,
    pub bytes_copied: u64,
    /// Instances in the index copied.
    pub instances: i64,
    /// Index-only: the stores that keep the blobs (none were copied).
    pub blobs_left_in: Option<String>,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(stores) = &self.blobs_left_in {
            return write!(
                f,
                "{} instances, {} blobs referenced, none copied (index-only: {stores})",
                self.instances, self.referenced
            );
        }
        write!(
            f,
            "{} instances, {} blobs referenced, {} copied ({} bytes), {} already present",
            self.instances,
            self.referenced,
            self.copied,
            self.bytes_copied,
            self.referenced - self.copied
        )
    }
}

fn referenced_keys(index: &Path) -> anyhow::Result<(Vec<(String, i64)>, i64)> {
    let conn = rusqlite::Connection::open_with_flags(
        index,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", index.display()))?;
    let mut stmt = conn.prepare(
        "SELECT blob_key, size_bytes FROM instances UNION SELECT blob_key, size_bytes FROM instance_conflicts",
    )?;
    let keys = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let instances: i64 = conn.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))?;
    Ok((keys, instances))
}

/// Checks a key's shape (`ab/cd/<64 hex>.dcm`) and returns its SHA-256 hex.
fn key_sha(key: &str) -> anyhow::Result<&str> {
    let parts: Vec<&str> = key.split('/').collect();
    let ok = parts.len() == 3
        && parts[2].len() == 68
        && parts[2].ends_with(".dcm")
        && parts[2][..64].bytes().all(|b| b.is_ascii_hexdigit())
        && parts[0] == &parts[2][0..2]
        && parts[1] == &parts[2][2..4];
    anyhow::ensure!(ok, "not a blob key: {key:?}");
    Ok(&parts[2][..64])
}

pub(super) fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Copies one blob, verifying its SHA-256 against the key, durably (temp, fsync, rename).
/// Returns the bytes copied, or None when the destination already holds it.
fn copy_blob(
    from_root: &Path,
    to_root: &Path,
    key: &str,
    size: i64,
) -> anyhow::Result<Option<u64>> {
    let want = key_sha(key)?;
    let dest = to_root.join(key);
    if std::fs::metadata(&dest).is_ok_and(|m| m.len() as i64 == size) {
        return Ok(None);
    }
    let src = from_root.join(key);
    let dir = dest.parent().context("blob key without a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{}.partial", &want[..16]));
    let mut input = std::fs::File::open(&src)
        .with_context(|| format!("blob {key} is missing from {}", from_root.display()))?;
    let mut out =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = input.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        out.write_all(&buf[..k])?;
        n += k as u64;
    }
    out.sync_all()?;
    drop(out);
    let got = hex::encode(hasher.finalize());
    if got != want {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!(
            "blob {key} is corrupt in {} (SHA-256 {got})",
            from_root.display()
        );
    }
    std::fs::rename(&tmp, &dest)?;
    fsync_dir(dir)?;
    Ok(Some(n))
}

pub(super) fn copy_blobs(
    keys: &[(String, i64)],
    from_root: &Path,
    to_root: &Path,
    report: &mut CopyReport,
) -> anyhow::Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for (key, size) in keys {
        if let Some(n) = copy_blob(from_root, to_root, key, *size)? {
            report.copied += 1;
            report.bytes_copied += n;
            if let Some(d) = Path::new(key).parent() {
                dirs.insert(d.to_path_buf());
            }
        }
    }
    // The fan-out folders' own entries: made durable once each.
    for d in dirs {
        if let Some(parent) = to_root.join(&d).parent() {
            fsync_dir(parent)?;
        }
    }
    fsync_dir(to_root)?;
    Ok(())
}

/// Step 1: the consistent snapshot of `data`'s index as `to/index.sqlite.partial`.
fn snapshot_index(data: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    let index = data.join(INDEX);
    anyhow::ensure!(index.is_file(), "no Rangsi index at {}", index.display());
    std::fs::create_dir_all(to)
        .with_context(|| format!("creating backup folder {}", to.display()))?;
    let partial = to.join(format!("{INDEX}.partial"));
    let _ = std::fs::remove_file(&partial);
    {
        let conn = rusqlite::Connection::open(&index)
            .with_context(|| format!("opening {}", index.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        let target = partial
            .to_str()
            .context("backup folder path is not valid UTF-8")?;
        conn.execute("VACUUM INTO ?1", [target])
            .context("snapshot of the index (VACUUM INTO)")?;
    }
    std::fs::File::open(&partial)?.sync_all()?;
    Ok(partial)
}

/// Writes `bytes` to `path` durably (temp, fsync, rename).
pub(super) fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("file name")?;
    let tmp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

/// The backup's manifest; `index` is the engine of its index snapshot (`sqlite`:
/// `index.sqlite`, `postgresql`: a `pg_dump` archive).
pub(super) fn write_manifest(
    data: &Path,
    to: &Path,
    index: &str,
    instances: i64,
    blobs: usize,
    stores: Option<&str>,
) -> anyhow::Result<()> {
    let mut manifest = serde_json::json!({
        "format": 1,
        "rangsi_version": env!("CARGO_PKG_VERSION"),
        "created": crate::index::now_rfc3339(),
        "source": data.display().to_string(),
        "index": index,
        "instances": instances,
        "blobs": blobs,
        "blobs_included": stores.is_none(),
    });
    if let Some(stores) = stores {
        manifest["stores"] = serde_json::Value::String(stores.to_string());
    }
    write_durably(&to.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?)?;
    fsync_dir(to)?;
    Ok(())
}

/// Online backup of `data` into `to` (created if missing; may hold an earlier backup).
pub fn backup(data: &Path, to: &Path) -> anyhow::Result<CopyReport> {
    let partial = snapshot_index(data, to)?;
    std::fs::create_dir_all(to.join("blobs"))
        .with_context(|| format!("creating backup folder {}", to.display()))?;
    let (keys, instances) = referenced_keys(&partial)?;
    let mut report = CopyReport {
        referenced: keys.len(),
        instances,
        ..CopyReport::default()
    };
    copy_blobs(&keys, &data.join("blobs"), &to.join("blobs"), &mut report)?;
    // A full backup restores into local blobs: no store record from an earlier
    // index-only backup into this folder may redirect it.
    let _ = std::fs::remove_file(to.join(RECORD));
    super::pg_backup::forget_dump(to)?;
    std::fs::rename(&partial, to.join(INDEX))?;
    write_manifest(data, to, "sqlite", instances, keys.len(), None)?;
    Ok(report)
}

/// Online index-only backup of `data` into `to`: the index snapshot and the blob store
/// record (the blobs stay in `stores`, which is what the manifest records).
pub fn backup_index_only(data: &Path, to: &Path, stores: &str) -> anyhow::Result<CopyReport> {
    let partial = snapshot_index(data, to)?;
    let record = crate::store::location::record_for_backup(data)?;
    write_durably(&to.join(RECORD), record.as_bytes())?;
    let (keys, instances) = referenced_keys(&partial)?;
    super::pg_backup::forget_dump(to)?;
    std::fs::rename(&partial, to.join(INDEX))?;
    write_manifest(data, to, "sqlite", instances, keys.len(), Some(stores))?;
    Ok(CopyReport {
        referenced: keys.len(),
        instances,
        blobs_left_in: Some(stores.to_string()),
        ..CopyReport::default()
    })
}

/// Whether the backup in `from` includes its blobs (its manifest; backups made before
/// index-only ones existed always did).
pub(super) fn blobs_included(from: &Path) -> anyhow::Result<bool> {
    let path = from.join(MANIFEST);
    let manifest: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(manifest
        .get("blobs_included")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true))
}

/// Restores the backup in `from` into the data directory `data`, which must be empty or
/// missing unless `force` (then its index is replaced and its blobs kept). The server
/// must not be running on `data`.
pub fn restore(from: &Path, data: &Path, force: bool) -> anyhow::Result<CopyReport> {
    let index = from.join(INDEX);
    anyhow::ensure!(
        index.is_file(),
        "{} holds no finished backup (no {INDEX})",
        from.display()
    );
    let (keys, instances) = referenced_keys(&index)?;
    let report = restore_blobs(from, data, force, &keys, instances, None)?;
    let partial: PathBuf = data.join(format!("{INDEX}.partial"));
    std::fs::copy(&index, &partial).with_context(|| format!("copying {}", index.display()))?;
    std::fs::File::open(&partial)?.sync_all()?;
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("{INDEX}{stale}")));
    }
    std::fs::rename(&partial, data.join(INDEX))?;
    fsync_dir(data)?;
    Ok(report)
}

/// The part of a restore before its index, for both engines: checks that `data` is
/// empty (or `force`), then copies the blobs `keys` from the backup's folder or, for an
/// index-only backup, writes its store record into `data` (naming `database`, the
/// PostgreSQL index restored into, when there is one).
pub(super) fn restore_blobs(
    from: &Path,
    data: &Path,
    force: bool,
    keys: &[(String, i64)],
    instances: i64,
    database: Option<&str>,
) -> anyhow::Result<CopyReport> {
    let non_empty = std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some());
    anyhow::ensure!(
        !non_empty || force,
        "{} is not empty: restore into a new folder, or pass --force to replace its index",
        data.display()
    );
    let with_blobs = blobs_included(from)?;
    let record = if with_blobs {
        None
    } else {
        let path = from.join(RECORD);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                "{} is an index-only backup (its manifest says the blobs are not included) \
                 but has no {RECORD}: it does not say where the blobs are, so it cannot be restored",
                from.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        crate::store::location::check_record(&text)
            .with_context(|| format!("the store record {}", path.display()))?;
        let text = crate::store::location::record_with_index(&text, database)
            .with_context(|| format!("the store record {}", path.display()))?;
        if let Ok(existing) = std::fs::read_to_string(data.join(RECORD)) {
            anyhow::ensure!(
                existing.trim() == text.trim(),
                "{} records other blob stores than the backup; restore into a new folder",
                data.display()
            );
        }
        Some(text)
    };
    std::fs::create_dir_all(data.join("blobs"))
        .with_context(|| format!("creating {}", data.display()))?;
    std::fs::create_dir_all(data.join("tmp"))?;
    let mut report = CopyReport {
        referenced: keys.len(),
        instances,
        ..CopyReport::default()
    };
    match &record {
        None => copy_blobs(keys, &from.join("blobs"), &data.join("blobs"), &mut report)?,
        Some(text) => {
            write_durably(&data.join(RECORD), text.as_bytes())?;
            report.blobs_left_in = Some(crate::store::location::describe_record(text)?);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_is_checked() {
        let hex = "ab".repeat(32);
        let key = format!("ab/ab/{hex}.dcm");
        assert_eq!(key_sha(&key).ok(), Some(hex.as_str()));
        assert!(key_sha("../x").is_err());
        assert!(key_sha(&format!("ab/cd/{hex}.dcm")).is_err());
    }
}
