//! `rangsi backup` and `rangsi restore` with the index on PostgreSQL (`--database`).
//!
//! The same backup as `backup.rs`, in the same order, with PostgreSQL's own tools for
//! the index:
//! 1. A read-only `REPEATABLE READ` transaction exports its snapshot
//!    ([`crate::index::db::ExportedSnapshot`]); the blob keys are read in it and
//!    `pg_dump --format=custom --snapshot=…` dumps exactly that snapshot to
//!    `index.pgdump.partial` (every row as of one commit, while the server writes).
//! 2. The blobs that snapshot refers to are copied and checked (or, for an index-only
//!    backup, the store record is written), and the keys are listed durably in
//!    `blob-keys.tsv` (a dump cannot be read without restoring it: restore copies the
//!    blobs from this list before it touches the database).
//! 3. Only then is the dump renamed to `index.pgdump`, and the manifest written.
//!
//! Restore: blobs (or the store record) into the data directory first, then
//! `pg_restore --single-transaction` into an empty database (refused when it holds
//! tables, unless `--force`, which then replaces them with `--clean`): the index appears
//! whole or not at all. `pg_dump`/`pg_restore` are Debian's PostgreSQL client tools:
//! `RANGSI_PG_BIN` (a folder) if set, else the newest `/usr/lib/postgresql/N/bin`, else
//! `PATH`. The password of the database URL goes to them in `PGPASSWORD`, never on a
//! command line.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::backup::{self, CopyReport, RECORD};
use crate::service::Archive;

/// The finished dump of a PostgreSQL index in a backup folder.
pub const DUMP: &str = "index.pgdump";
/// `blob key <TAB> size` of every blob the dump refers to, one a line.
const KEYS: &str = "blob-keys.tsv";

/// Whether the backup in `from` holds a PostgreSQL dump (else a SQLite index).
pub fn is_dump(from: &Path) -> bool {
    from.join(DUMP).is_file()
}

/// Removes a PostgreSQL dump left in `to` by an earlier backup (a SQLite snapshot is
/// about to take its place).
pub(super) fn forget_dump(to: &Path) -> anyhow::Result<()> {
    for name in [DUMP, KEYS] {
        match std::fs::remove_file(to.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", to.join(name).display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A PostgreSQL client tool (`pg_dump`, `pg_restore`): in `RANGSI_PG_BIN` if set, else
/// in the newest `/usr/lib/postgresql/N/bin`, else on `PATH`.
pub fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RANGSI_PG_BIN") {
        let path = Path::new(&dir).join(name);
        anyhow::ensure!(
            path.is_file(),
            "{name} not found in RANGSI_PG_BIN={}",
            path.parent().unwrap_or(Path::new("")).display()
        );
        return Ok(path);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let path = e.path().join("bin").join(name);
            path.is_file().then_some((version, path))
        })
        .collect();
    debian.sort();
    if let Some((_, path)) = debian.pop() {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "{name} not found: the index is on PostgreSQL, and its backup and restore use \
                 PostgreSQL's client tools (Debian: apt-get install postgresql-client-15; or \
                 set RANGSI_PG_BIN to the folder holding {name})"
            )
        })
}

/// A database URL for libpq without its password, and the password (percent-decoded).
fn libpq_target(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some((userinfo, host)) = rest[..authority_end].rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    (
        format!("{scheme}://{user}@{host}{}", &rest[authority_end..]),
        Some(percent_decode(password)),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a PostgreSQL client tool against `url`; its stderr becomes the error.
async fn run_tool(name: &str, args: &[String], url: &str) -> anyhow::Result<()> {
    let tool = pg_tool(name)?;
    let (target, password) = libpq_target(url);
    let mut cmd = tokio::process::Command::new(&tool);
    cmd.args(args)
        .arg(format!("--dbname={target}"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .await
        .with_context(|| format!("running {}", tool.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{name} failed ({}) on {}: {}",
        out.status,
        crate::index::db::redact(url),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Online backup of an archive whose index is the PostgreSQL database `database` into
/// `to`: its blobs from `data/blobs`, or (`index_only`, naming where the blobs are)
/// none, with the store record instead.
pub async fn backup(
    archive: &Archive,
    database: &str,
    data: &Path,
    to: &Path,
    index_only: Option<&str>,
) -> anyhow::Result<CopyReport> {
    pg_tool("pg_dump")?;
    std::fs::create_dir_all(to)
        .with_context(|| format!("creating backup folder {}", to.display()))?;
    let partial = to.join(format!("{DUMP}.partial"));
    let _ = std::fs::remove_file(&partial);

    // 1. The snapshot: keys and dump of one commit.
    let mut snapshot = archive
        .index()
        .export_snapshot()
        .await
        .context("snapshot of the index")?;
    let (keys, instances) = snapshot.blob_keys().await?;
    let partial_arg = partial
        .to_str()
        .context("backup folder path is not valid UTF-8")?;
    let dumped = run_tool(
        "pg_dump",
        &[
            "--format=custom".into(),
            format!("--snapshot={}", snapshot.id()),
            format!("--file={partial_arg}"),
        ],
        database,
    )
    .await;
    snapshot.close().await?;
    dumped.context("dump of the index (pg_dump)")?;
    std::fs::File::open(&partial)?.sync_all()?;

    // 2. Blobs (or where they are), and the list restore copies them by.
    let mut report = CopyReport {
        referenced: keys.len(),
        instances,
        blobs_left_in: index_only.map(str::to_string),
        ..CopyReport::default()
    };
    match index_only {
        None => {
            std::fs::create_dir_all(to.join("blobs"))
                .with_context(|| format!("creating backup folder {}", to.display()))?;
            let (from_root, to_root) = (data.join("blobs"), to.join("blobs"));
            let keys = keys.clone();
            report = tokio::task::spawn_blocking(move || {
                backup::copy_blobs(&keys, &from_root, &to_root, &mut report).map(|()| report)
            })
            .await??;
            let _ = std::fs::remove_file(to.join(RECORD));
        }
        Some(_) => {
            let record = crate::store::location::record_for_backup(data)?;
            backup::write_durably(&to.join(RECORD), record.as_bytes())?;
        }
    }
    let list: String = keys.iter().map(|(k, n)| format!("{k}\t{n}\n")).collect();
    backup::write_durably(&to.join(KEYS), list.as_bytes())?;

    // 3. The dump takes its place last (over a SQLite snapshot of an earlier backup).
    let _ = std::fs::remove_file(to.join(backup::INDEX));
    std::fs::rename(&partial, to.join(DUMP))?;
    backup::write_manifest(data, to, "postgresql", instances, keys.len(), index_only)?;
    Ok(report)
}

fn read_keys(from: &Path) -> anyhow::Result<Vec<(String, i64)>> {
    let path = from.join(KEYS);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (key, size) = l.split_once('\t').context("no size")?;
            Ok((key.to_string(), size.parse()?))
        })
        .collect::<anyhow::Result<_>>()
        .with_context(|| format!("parsing {}", path.display()))
}

/// Restores the PostgreSQL backup in `from`: blobs (or the store record) into the data
/// directory `data` (empty or missing unless `force`), then the index into the database
/// `database` (without tables of its own unless `force`: then they are replaced).
pub async fn restore(
    from: &Path,
    data: &Path,
    database: &str,
    force: bool,
) -> anyhow::Result<CopyReport> {
    let dump = from.join(DUMP);
    anyhow::ensure!(
        dump.is_file(),
        "{} holds no finished backup (no {DUMP})",
        from.display()
    );
    pg_tool("pg_restore")?;
    let empty = crate::index::db::postgres_is_empty(database)
        .await
        .with_context(|| format!("connecting to {}", crate::index::db::redact(database)))?;
    anyhow::ensure!(
        empty || force,
        "database {} is not empty: restore into a new, empty database, or pass --force to \
         replace its tables",
        crate::index::db::redact(database)
    );
    let keys = read_keys(from)?;
    let instances = std::fs::read(from.join(backup::MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m.get("instances")?.as_i64())
        .unwrap_or_default();
    let (f, d, db) = (from.to_path_buf(), data.to_path_buf(), database.to_string());
    let report = tokio::task::spawn_blocking(move || {
        backup::restore_blobs(&f, &d, force, &keys, instances, Some(&db))
    })
    .await??;

    let mut args = vec![
        "--exit-on-error".to_string(),
        "--single-transaction".into(),
        "--no-owner".into(),
        "--no-privileges".into(),
    ];
    if !empty {
        args.extend(["--clean".into(), "--if-exists".into()]);
    }
    args.push(
        dump.to_str()
            .context("backup path is not valid UTF-8")?
            .into(),
    );
    run_tool("pg_restore", &args, database)
        .await
        .context("restore of the index (pg_restore)")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_apart() {
        assert_eq!(
            libpq_target("postgres://rangsi:p%40ss@db:5432/rangsi?sslmode=require"),
            (
                "postgres://rangsi@db:5432/rangsi?sslmode=require".to_string(),
                Some("p@ss".to_string())
            )
        );
        assert_eq!(
            libpq_target("postgres://rangsi@db/rangsi"),
            ("postgres://rangsi@db/rangsi".to_string(), None)
        );
    }
}
