//! Where a data directory keeps its blobs: the local `DATA/blobs` folder (default), an
//! S3 bucket and prefix, and optionally a colder store for tiering — and the one
//! constructor every command goes through (`StoreConfig::open`).
//!
//! The choice is recorded in `DATA/blob-store.toml` (locations, endpoint and region; never
//! credentials) by the first command that names it, so `rangsi import`, `fsck`, `tier` …
//! on that data directory use the same stores as `serve` without repeating the flags,
//! and a later command naming another store is refused instead of silently writing
//! blobs where the server never looks.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{
    BlobCache, BlobStore, CacheSettings, CachedBlobStore, FsBlobStore, S3BlobStore, S3Settings,
    TieredBlobStore,
};
use crate::ops::metrics::MeteredBlobStore;

/// The file in the data directory that records the stores.
pub const RECORD_FILE: &str = "blob-store.toml";

/// One blob store: a local folder or `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl FromStr for BlobLocation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(
                !bucket.is_empty()
                    && bucket
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
                "bad S3 bucket name in {s:?} (expected s3://BUCKET[/PREFIX])"
            );
            let prefix = prefix.trim_matches('/');
            anyhow::ensure!(
                !prefix.split('/').any(|c| c == "." || c == "..") && !prefix.contains("//"),
                "bad S3 prefix in {s:?}"
            );
            return Ok(BlobLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        anyhow::ensure!(!path.is_empty(), "empty blob store location");
        anyhow::ensure!(
            !path.contains("://"),
            "unsupported blob store {s:?}: use a folder or s3://BUCKET[/PREFIX]"
        );
        Ok(BlobLocation::Dir(
            std::path::absolute(path).with_context(|| format!("blob folder {path}"))?,
        ))
    }
}

impl fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobLocation::Dir(p) => write!(f, "{}", p.display()),
            BlobLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            BlobLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl BlobLocation {
    /// Opens the store; an S3 one behind the read cache when there is one (a local folder
    /// needs none).
    fn open(
        &self,
        s3: &S3Settings,
        cache: Option<&Arc<BlobCache>>,
    ) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(match self {
            // Each tier timed for /metrics (rangsi_blob_operation_duration_seconds).
            BlobLocation::Dir(dir) => Arc::new(MeteredBlobStore::new(
                FsBlobStore::new(dir.clone())
                    .with_context(|| format!("blob folder {}", dir.display()))?,
            )),
            BlobLocation::S3 { bucket, prefix } => {
                let store: Arc<dyn BlobStore> =
                    Arc::new(MeteredBlobStore::new(S3BlobStore::new(bucket, prefix, s3)?));
                match cache {
                    Some(cache) => Arc::new(CachedBlobStore::new(store, Arc::clone(cache))),
                    None => store,
                }
            }
        })
    }
}

/// The stores as given on the command line / environment / TOML file (all optional:
/// what is not given comes from the data directory's record, else the default).
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// Hot blobs; default `DATA/blobs`.
    pub blobs: Option<BlobLocation>,
    /// Cold blobs (tiering); default none.
    pub cold: Option<BlobLocation>,
    pub s3: S3Settings,
    /// The index on PostgreSQL (`postgres://…`); none: SQLite in the data directory.
    pub database: Option<String>,
    /// The local read cache in front of S3 stores (`serve` only; None: no cache, as for
    /// the other commands, which read in bulk).
    pub cache: Option<CacheFlags>,
}

/// `--blob-cache DIR` and `--blob-cache-gb N` as given (what is not given comes from
/// the data directory's record, else the default: `DATA/blob-cache`, 20 GB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheFlags {
    pub dir: Option<PathBuf>,
    /// Budget in GB (10⁹ bytes); 0 turns the cache off.
    pub gb: Option<f64>,
}

/// The cache folder's default name in the data directory.
pub const DEFAULT_CACHE_DIR: &str = "blob-cache";

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Absent: `DATA/blobs`.
    blobs: Option<String>,
    cold_blobs: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    /// The PostgreSQL index, password left out; absent: SQLite in the data directory.
    #[serde(default)]
    index: Option<String>,
    /// The read cache's folder (absent: `DATA/blob-cache`) and budget in GB, as `serve`
    /// was last given them.
    #[serde(default)]
    blob_cache: Option<String>,
    #[serde(default)]
    blob_cache_gb: Option<f64>,
}

fn read_record(data: &Path) -> anyhow::Result<Option<Record>> {
    let record_path = data.join(RECORD_FILE);
    match std::fs::read_to_string(&record_path) {
        Ok(text) => {
            Ok(Some(toml::from_str(&text).with_context(|| {
                format!("parsing {}", record_path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", record_path.display())),
    }
}

impl StoreConfig {
    /// The index database of the data directory `data`: the one given, which must be the
    /// one recorded (a directory whose index is on PostgreSQL never falls back to a new,
    /// empty SQLite file because a flag was forgotten).
    pub fn database(&self, data: &Path) -> anyhow::Result<Option<String>> {
        use crate::index::db::redact;
        let recorded = read_record(data)?.and_then(|r| r.index);
        match (&self.database, recorded) {
            (Some(given), Some(was)) if redact(given) != was => anyhow::bail!(
                "data directory {} keeps its index in {was}, not {}",
                data.display(),
                redact(given)
            ),
            (None, Some(was)) => anyhow::bail!(
                "data directory {} keeps its index in {was}: give it with --database or RANGSI_DATABASE",
                data.display()
            ),
            (Some(given), None) => {
                anyhow::ensure!(
                    !data.join("index.sqlite").exists(),
                    "data directory {} already has a SQLite index; it cannot switch to {}",
                    data.display(),
                    redact(given)
                );
                Ok(Some(given.clone()))
            }
            (given, _) => Ok(given.clone()),
        }
    }

    /// Resolves the stores of the data directory `data` (flags over its record over the
    /// default), records them, and opens them.
    pub fn open(&self, data: &Path) -> anyhow::Result<TieredBlobStore> {
        let record_path = data.join(RECORD_FILE);
        if let Some(gb) = self.cache.as_ref().and_then(|c| c.gb) {
            anyhow::ensure!(
                gb.is_finite() && gb >= 0.0,
                "--blob-cache-gb must be a number of GB, 0 or more (0: off), not {gb}"
            );
        }
        let recorded = read_record(data)?;
        let rec = recorded.as_ref();
        let parse = |s: &Option<String>| -> anyhow::Result<Option<BlobLocation>> {
            s.as_deref().map(str::parse).transpose()
        };
        let rec_blobs = parse(&rec.and_then(|r| r.blobs.clone()))?;
        let rec_cold = parse(&rec.and_then(|r| r.cold_blobs.clone()))?;

        let hot = match (&self.blobs, rec_blobs) {
            (Some(given), Some(was)) if *given != was => anyhow::bail!(
                "data directory {} keeps its blobs in {was}, not {given} (moving an archive between stores is not supported)",
                data.display()
            ),
            (Some(given), None) => {
                let local = data.join("blobs");
                let has_local = std::fs::read_dir(&local)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                anyhow::ensure!(
                    !has_local || *given == BlobLocation::Dir(local.clone()),
                    "data directory {} already keeps blobs in {}; it cannot switch to {given}",
                    data.display(),
                    local.display()
                );
                Some(given.clone())
            }
            (given, was) => given.clone().or(was),
        };
        let cold = match (&self.cold, rec_cold) {
            (Some(given), Some(was)) if *given != was => anyhow::bail!(
                "data directory {} keeps cold blobs in {was}, not {given} (studies already moved there would be lost)",
                data.display()
            ),
            (given, was) => given.clone().or(was),
        };
        let s3 = S3Settings {
            endpoint: self
                .s3
                .endpoint
                .clone()
                .or_else(|| rec.and_then(|r| r.s3_endpoint.clone())),
            region: self
                .s3
                .region
                .clone()
                .or_else(|| rec.and_then(|r| r.s3_region.clone())),
            ..self.s3.clone()
        }
        .with_env_credentials();

        let record = Record {
            blobs: hot.as_ref().map(ToString::to_string),
            cold_blobs: cold.as_ref().map(ToString::to_string),
            s3_endpoint: s3.endpoint.clone(),
            s3_region: s3.region.clone(),
            index: self
                .database
                .as_deref()
                .map(crate::index::db::redact)
                .or_else(|| rec.and_then(|r| r.index.clone())),
            blob_cache: self
                .cache
                .as_ref()
                .and_then(|c| c.dir.as_ref())
                .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone()))
                .map(|d| d.display().to_string())
                .or_else(|| rec.and_then(|r| r.blob_cache.clone())),
            blob_cache_gb: self
                .cache
                .as_ref()
                .and_then(|c| c.gb)
                .or_else(|| rec.and_then(|r| r.blob_cache_gb)),
        };
        let hot_location = hot.unwrap_or_else(|| BlobLocation::Dir(data.join("blobs")));
        let on_s3 = [Some(&hot_location), cold.as_ref()]
            .into_iter()
            .flatten()
            .any(|l| matches!(l, BlobLocation::S3 { .. }));
        let cache = match &self.cache {
            Some(_) if on_s3 => {
                let gb = record
                    .blob_cache_gb
                    .unwrap_or(super::cache::DEFAULT_CACHE_GB as f64);
                anyhow::ensure!(
                    gb.is_finite() && gb >= 0.0,
                    "the blob cache's size must be a number of GB, 0 or more (0: off)"
                );
                let dir = record
                    .blob_cache
                    .as_ref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data.join(DEFAULT_CACHE_DIR));
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                // Eviction deletes files: never in or over a folder that holds blobs.
                for l in [Some(&hot_location), cold.as_ref()].into_iter().flatten() {
                    if let BlobLocation::Dir(blobs) = l {
                        anyhow::ensure!(
                            !dir.starts_with(blobs) && !blobs.starts_with(&dir),
                            "the blob cache {} must not overlap the blob folder {}",
                            dir.display(),
                            blobs.display()
                        );
                    }
                }
                let max_bytes = (gb * 1e9) as u64;
                if max_bytes == 0 {
                    None
                } else {
                    let cache = BlobCache::open(&CacheSettings {
                        dir: dir.clone(),
                        max_bytes,
                    })
                    .with_context(|| format!("blob cache {}", dir.display()))?;
                    Some(cache)
                }
            }
            _ => None,
        };
        // Recorded only once everything given was accepted.
        if recorded.as_ref() != Some(&record) {
            let text = toml::to_string(&record).context("writing the blob store record")?;
            let tmp = data.join(format!("{RECORD_FILE}.tmp"));
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
                .and_then(|()| std::fs::rename(&tmp, &record_path))
                .with_context(|| format!("writing {}", record_path.display()))?;
        }

        let hot_store = hot_location.open(&s3, cache.as_ref())?;
        let cold_store = cold
            .as_ref()
            .map(|c| c.open(&s3, cache.as_ref()).map(|s| (c.clone(), s)))
            .transpose()?;
        let tiers = TieredBlobStore::new((hot_location, hot_store), cold_store);
        Ok(match &cache {
            Some(c) => tiers.with_cache_note(format!(
                "read cache in {} ({:.1} GB, {:.1} GB held)",
                c.dir().display(),
                c.max_bytes() as f64 / 1e9,
                c.bytes() as f64 / 1e9
            )),
            None => tiers,
        })
    }
}

/// The record of the data directory `data` as an index-only backup keeps it (see
/// `ops::backup`): the stores spelled out, a default `DATA/blobs` as its absolute path,
/// so a data directory restored elsewhere reads the same blobs. Never credentials: the
/// record holds none.
pub fn record_for_backup(data: &Path) -> anyhow::Result<String> {
    let path = data.join(RECORD_FILE);
    let mut record: Record = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // The read cache is a folder of this machine: a restored directory gets its own.
    record.blob_cache = None;
    if record.blobs.is_none() {
        let local = std::path::absolute(data.join("blobs"))
            .with_context(|| format!("blob folder of {}", data.display()))?;
        record.blobs = Some(BlobLocation::Dir(local).to_string());
    }
    toml::to_string(&record).context("writing the blob store record")
}

/// A store record (as `record_for_backup` writes it) naming `database` as the index
/// (password left out; none: SQLite), for a data directory restored onto another
/// PostgreSQL database than the one backed up.
pub fn record_with_index(text: &str, database: Option<&str>) -> anyhow::Result<String> {
    let mut record: Record = toml::from_str(text)?;
    record.index = database.map(crate::index::db::redact);
    toml::to_string(&record).context("writing the blob store record")
}

/// Parses a store record (as `record_for_backup` writes it); its stores must parse.
pub fn check_record(text: &str) -> anyhow::Result<()> {
    describe_record(text).map(|_| ())
}

/// The stores a record names, worded as `TieredBlobStore::describe` words them.
pub fn describe_record(text: &str) -> anyhow::Result<String> {
    let record: Record = toml::from_str(text)?;
    let parse = |s: &Option<String>| -> anyhow::Result<Option<BlobLocation>> {
        s.as_deref().map(str::parse).transpose()
    };
    let hot = parse(&record.blobs)?
        .map(|l| l.to_string())
        .unwrap_or_else(|| "DATA/blobs".to_string());
    Ok(match parse(&record.cold_blobs)? {
        Some(cold) => format!("blobs in {hot}, cold tier in {cold}"),
        None => format!("blobs in {hot}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            "s3://pacs/region8/".parse::<BlobLocation>().expect("s3"),
            BlobLocation::S3 {
                bucket: "pacs".into(),
                prefix: "region8".into()
            }
        );
        assert_eq!(
            "s3://pacs".parse::<BlobLocation>().expect("s3").to_string(),
            "s3://pacs"
        );
        assert!(matches!(
            "/srv/cold".parse::<BlobLocation>().expect("dir"),
            BlobLocation::Dir(p) if p == Path::new("/srv/cold")
        ));
        assert!("s3://".parse::<BlobLocation>().is_err());
        assert!("s3://a/../b".parse::<BlobLocation>().is_err());
        assert!("gs://bucket".parse::<BlobLocation>().is_err());
    }

    #[test]
    fn the_record_keeps_later_commands_on_the_same_store() {
        let dir = std::env::temp_dir().join(format!("rangsi-loc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let cold = dir.join("cold");
        let first = StoreConfig {
            cold: Some(BlobLocation::Dir(cold.clone())),
            ..StoreConfig::default()
        };
        first.open(&dir).expect("first open");
        // A later command without flags gets the cold store from the record.
        let again = StoreConfig::default().open(&dir).expect("second open");
        assert!(again.has_cold());
        // Naming another cold store is refused.
        let other = StoreConfig {
            cold: Some(BlobLocation::Dir(dir.join("elsewhere"))),
            ..StoreConfig::default()
        };
        assert!(other.open(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_backup_record_spells_out_the_local_folder() {
        let dir = std::env::temp_dir().join(format!("rangsi-locbk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join(RECORD_FILE),
            "cold_blobs = \"s3://cold/r8\"\ns3_region = \"garage\"\n",
        )
        .expect("record");
        let text = record_for_backup(&dir).expect("backup record");
        let local = dir.join("blobs");
        assert_eq!(
            describe_record(&text).expect("describe"),
            format!("blobs in {}, cold tier in s3://cold/r8", local.display())
        );
        assert!(text.contains("s3_region"));
        assert!(check_record("blobs = 3").is_err());
        assert!(check_record("blobs = \"gs://x\"").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
