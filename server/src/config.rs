//! Server configuration: flags, `RANGSI_*` environment variables and an optional TOML file.
//!
//! Precedence: command-line flag > environment variable > TOML file > default. clap
//! already merges flags with env vars, so the file only fills what both left unset.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Settings of `rangsi serve`, fully resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: PathBuf,
    pub http: SocketAddr,
    pub dicom: SocketAddr,
    pub ae_title: String,
    /// Hospital code that unknown calling AE titles are mapped to (lab setting only).
    pub dicom_open: Option<String>,
    pub max_associations: usize,
    pub max_body_bytes: u64,
    /// Largest single DIMSE data set accepted, in bytes.
    pub max_dimse_dataset_bytes: u64,
    /// Browser origins allowed by CORS (none by default: same origin only).
    pub cors_origins: Vec<String>,
    /// Default lifetime of a share link, in days (1–90).
    pub share_expiry_days: u32,
    /// Public origin (`https://pacs.example`) for share links' QR codes.
    pub public_url: Option<String>,
    /// TrueType font with Thai glyphs for referral letters (PDF).
    pub letter_font: PathBuf,
    /// Metrics listener, shutdown grace, TLS (`ops`).
    pub ops: crate::ops::OpsConfig,
    /// Blob stores (local folder or S3; cold tier).
    pub stores: crate::store::StoreConfig,
    /// Tiering policy of the background job (None: off).
    pub tier_after_days: Option<u32>,
}

/// The TOML file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub http: Option<SocketAddr>,
    pub dicom: Option<SocketAddr>,
    pub ae_title: Option<String>,
    pub dicom_open: Option<String>,
    pub max_associations: Option<usize>,
    pub max_body_mb: Option<u64>,
    pub cors_origins: Option<Vec<String>>,
    pub share_expiry_days: Option<u32>,
    pub public_url: Option<String>,
    pub letter_font: Option<PathBuf>,
    /// `[ops]`: metrics listener, shutdown grace, TLS (the flags' names in snake_case).
    #[serde(default)]
    pub ops: crate::ops::OpsArgs,
    /// `s3://BUCKET[/PREFIX]` or a folder.
    pub blobs: Option<String>,
    /// `postgres://…` (the index on PostgreSQL).
    pub database: Option<String>,
    pub cold_blobs: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// Overridden by RANGSI_S3_ACCESS_KEY_ID / RANGSI_S3_SECRET_ACCESS_KEY.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub tier_after_days: Option<u32>,
    /// The read cache in front of S3 (`--blob-cache`, `--blob-cache-gb`).
    pub blob_cache: Option<PathBuf>,
    pub blob_cache_gb: Option<f64>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

pub const DEFAULT_DATA: &str = "./rangsi-data";
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
pub const DEFAULT_DICOM: &str = "127.0.0.1:11112";
pub const DEFAULT_AE_TITLE: &str = "RANGSI";
pub const DEFAULT_MAX_ASSOCIATIONS: usize = 64;
pub const DEFAULT_MAX_BODY_MB: u64 = 4096;

/// Checks an AE title: 1–16 characters of the default repertoire, no backslash or control chars.
pub fn validate_ae_title(ae: &str) -> anyhow::Result<String> {
    let t = ae.trim();
    anyhow::ensure!(
        !t.is_empty() && t.len() <= 16,
        "AE title must be 1 to 16 characters: {ae:?}"
    );
    anyhow::ensure!(
        t.chars()
            .all(|c| c.is_ascii_graphic() && c != '\\' || c == ' '),
        "AE title may only contain printable ASCII without backslash: {ae:?}"
    );
    Ok(t.to_string())
}
