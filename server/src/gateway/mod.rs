//! `rangsi gateway`: the hospital gateway (store and forward).
//!
//! Modalities on the hospital's LAN send C-STORE to the gateway. The gateway is a small
//! archive of its own (the same `Archive`, DIMSE SCP and ingest as the regional server,
//! on its own data directory), so the C-STORE success is sent only once the instance is
//! durable on the gateway's disk (the archive's invariant: blob fsynced, index committed).
//! Every instance of that local index gets a row in the forwarding queue
//! (`gateway_queue`, see `index::gateway`); the forwarder (`forward.rs`) sends pending
//! instances in arrival order by STOW-RS to the regional server with the gateway token,
//! and marks them done only after the regional server acknowledged them. A crash between
//! "regional stored" and "gateway marked done" re-sends identical bytes, which regional
//! ingest treats as a duplicate: each instance is stored there exactly once.
//!
//! Forwarded instances stay in the local archive for `--cache-days` (default 0), so
//! local workstations can C-FIND, C-GET and C-MOVE them from the gateway while the link
//! is down; then `prune.rs` forgets them. `status.rs` is `rangsi gateway status |
//! retry` and the report the gateway sends every ~30 s.

mod forward;
mod prune;
mod status;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ServeConfig};
use crate::service::Archive;

pub const DEFAULT_DATA: &str = "./rangsi-gateway";
pub const DEFAULT_DICOM: &str = "127.0.0.1:11112";
pub const DEFAULT_AE_TITLE: &str = "RANGSI_GW";
/// Code of the one hospital of the gateway's own archive (local only).
pub const DEFAULT_LOCAL_HOSPITAL: &str = "LOCAL";

/// `rangsi gateway [OPTIONS]` runs the gateway; `status` and `retry` inspect its queue.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum GatewayCommand {
    /// Queue length, failed instances with reasons, last error and last success.
    Status {
        #[arg(long, env = "RANGSI_GATEWAY_DATA")]
        data: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put failed instances back in the queue (each is sent on its own).
    Retry {
        #[arg(long, env = "RANGSI_GATEWAY_DATA")]
        data: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// The gateway's own data directory (queue, index and instances).
    #[arg(long, env = "RANGSI_GATEWAY_DATA")]
    pub data: Option<PathBuf>,
    /// DICOM (DIMSE) listen address for the hospital's modalities.
    #[arg(long, env = "RANGSI_GATEWAY_DICOM")]
    pub dicom: Option<std::net::SocketAddr>,
    /// The gateway's AE title.
    #[arg(long, env = "RANGSI_GATEWAY_AE_TITLE")]
    pub ae_title: Option<String>,
    /// Base URL of the regional server, e.g. https://pacs.region8.example
    #[arg(long, env = "RANGSI_GATEWAY_UPSTREAM")]
    pub upstream: Option<String>,
    /// Gateway token (`rangsi token create --gateway NAME --hospital CODE` on the
    /// regional server). Prefer the environment variable to the command line.
    #[arg(long, env = "RANGSI_GATEWAY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of a private CA that signed the regional server's certificate.
    #[arg(long, env = "RANGSI_GATEWAY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// TOML configuration file (keys as the long options, with underscores).
    #[arg(long, env = "RANGSI_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Most instances per STOW-RS request (default 32).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Most MiB per STOW-RS request, before compression (default 32).
    #[arg(long)]
    pub batch_mb: Option<u64>,
    /// Longest wait between retries, in seconds (default 60).
    #[arg(long)]
    pub retry_max_secs: Option<u64>,
    /// Seconds between status reports to the regional server (default 30).
    #[arg(long)]
    pub report_secs: Option<u64>,
    /// Most DIMSE associations at once.
    #[arg(long)]
    pub max_associations: Option<usize>,
    /// Largest instance accepted over DIMSE, in MiB (default 4096).
    #[arg(long)]
    pub max_instance_mb: Option<u64>,
    /// Keep forwarded instances this many days for local C-FIND/C-GET/C-MOVE (default
    /// 0: forget them once the regional server has them).
    #[arg(long, env = "RANGSI_GATEWAY_CACHE_DAYS")]
    pub cache_days: Option<u32>,
}

/// The TOML file of `rangsi gateway --config`: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub dicom: Option<std::net::SocketAddr>,
    pub ae_title: Option<String>,
    pub upstream: Option<String>,
    pub token: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub batch: Option<u32>,
    pub batch_mb: Option<u64>,
    pub retry_max_secs: Option<u64>,
    pub report_secs: Option<u64>,
    pub max_associations: Option<usize>,
    pub max_instance_mb: Option<u64>,
    pub cache_days: Option<u32>,
}

/// Settings of `rangsi gateway`, resolved (flag > env > file > default).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub data: PathBuf,
    pub dicom: std::net::SocketAddr,
    pub ae_title: String,
    /// Base URL without a trailing slash.
    pub upstream: String,
    pub token: String,
    pub ca_cert: Option<PathBuf>,
    pub batch: usize,
    pub batch_bytes: u64,
    pub retry_max: Duration,
    pub report_every: Duration,
    pub max_associations: usize,
    pub max_instance_bytes: u64,
    /// How long forwarded instances stay on the gateway.
    pub cache: Duration,
}

fn resolve(args: RunArgs) -> anyhow::Result<GatewayConfig> {
    let file: FileConfig = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing config file {}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let upstream = args.upstream.or(file.upstream).context(
        "the regional server's URL is missing: give --upstream https://… (or RANGSI_GATEWAY_UPSTREAM)",
    )?;
    let upstream = upstream.trim().trim_end_matches('/').to_string();
    anyhow::ensure!(
        upstream.starts_with("https://") || upstream.starts_with("http://"),
        "--upstream must be an http:// or https:// URL, got {upstream:?}"
    );
    let token = args.token.or(file.token).context(
        "the gateway token is missing: set RANGSI_GATEWAY_TOKEN (or --token) to the token from \
         `rangsi token create --gateway NAME --hospital CODE` on the regional server",
    )?;
    let token = token.trim().to_string();
    anyhow::ensure!(!token.is_empty(), "the gateway token is empty");
    let ae_title = config::validate_ae_title(
        &args
            .ae_title
            .or(file.ae_title)
            .unwrap_or_else(|| DEFAULT_AE_TITLE.into()),
    )?;
    let dicom = match args.dicom.or(file.dicom) {
        Some(a) => a,
        None => DEFAULT_DICOM.parse().context("default DICOM address")?,
    };
    Ok(GatewayConfig {
        data: args
            .data
            .or(file.data)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
        dicom,
        ae_title,
        upstream,
        token,
        ca_cert: args.ca_cert.or(file.ca_cert),
        batch: args.batch.or(file.batch).unwrap_or(32).clamp(1, 1000) as usize,
        batch_bytes: args
            .batch_mb
            .or(file.batch_mb)
            .unwrap_or(32)
            .clamp(1, 4096)
            .saturating_mul(1 << 20),
        retry_max: Duration::from_secs(
            args.retry_max_secs
                .or(file.retry_max_secs)
                .unwrap_or(60)
                .max(1),
        ),
        report_every: Duration::from_secs(
            args.report_secs.or(file.report_secs).unwrap_or(30).max(1),
        ),
        max_associations: args
            .max_associations
            .or(file.max_associations)
            .unwrap_or(config::DEFAULT_MAX_ASSOCIATIONS),
        max_instance_bytes: args
            .max_instance_mb
            .or(file.max_instance_mb)
            .unwrap_or(config::DEFAULT_MAX_BODY_MB)
            .saturating_mul(1 << 20),
        cache: Duration::from_secs(
            u64::from(args.cache_days.or(file.cache_days).unwrap_or(0)) * 86_400,
        ),
    })
}

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    match args.command {
        Some(GatewayCommand::Status { data, json }) => {
            status::print_status(&data_dir(data), json).await
        }
        Some(GatewayCommand::Retry { data }) => status::retry(&data_dir(data)).await,
        None => serve(resolve(args.run)?).await,
    }
}

fn data_dir(data: Option<PathBuf>) -> PathBuf {
    data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
}

/// Opens the gateway's own archive (creating its one local hospital the first time).
async fn open_local(data: &Path) -> anyhow::Result<Archive> {
    let archive = Archive::open(data).await?;
    if archive
        .index()
        .hospital_by_code(DEFAULT_LOCAL_HOSPITAL)
        .await?
        .is_none()
    {
        archive
            .admin()
            .add_hospital(DEFAULT_LOCAL_HOSPITAL, "Gateway (local)")
            .await?;
    }
    Ok(archive)
}

/// Runs the gateway until SIGINT/SIGTERM.
async fn serve(cfg: GatewayConfig) -> anyhow::Result<()> {
    // One gateway per data directory: two forwarders would send everything twice.
    // The OS drops the lock with the process, so a restart after a crash just works.
    std::fs::create_dir_all(&cfg.data)
        .with_context(|| format!("creating {}", cfg.data.display()))?;
    let lock_path = cfg.data.join("gateway.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another rangsi gateway already runs on {}",
            cfg.data.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    let archive = open_local(&cfg.data).await?;
    let cleaned = archive.clean_staging()?;
    if cleaned > 0 {
        tracing::info!(
            cleaned,
            "removed unfinished staging files from an earlier run"
        );
    }
    archive
        .index()
        .gateway_state_set("upstream", &cfg.upstream)
        .await?;
    let forwarder = forward::Forwarder::new(archive.clone(), &cfg)?;
    let dicom = tokio::net::TcpListener::bind(cfg.dicom)
        .await
        .with_context(|| format!("binding DICOM on {}", cfg.dicom))?;
    let dicom_addr = dicom.local_addr()?;
    println!(
        "rangsi: dicom listening on {dicom_addr} as AE {}",
        cfg.ae_title
    );
    println!("rangsi: gateway forwarding to {}", cfg.upstream);
    {
        use std::io::Write;
        std::io::stdout().flush()?;
    }
    // The DIMSE SCP of the archive, on the gateway's archive: any calling AE on the LAN
    // stores for the local hospital.
    let scp_cfg = ServeConfig {
        data: cfg.data.clone(),
        http: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dicom: dicom_addr,
        ae_title: cfg.ae_title.clone(),
        dicom_open: Some(DEFAULT_LOCAL_HOSPITAL.into()),
        max_associations: cfg.max_associations,
        max_body_bytes: cfg.max_instance_bytes,
        max_dimse_dataset_bytes: cfg.max_instance_bytes,
        cors_origins: vec![],
        share_expiry_days: crate::service::shares::DEFAULT_EXPIRY_DAYS,
        public_url: None,
        letter_font: PathBuf::from(crate::service::letter::DEFAULT_FONT),
        ops: Default::default(),
        stores: Default::default(),
        tier_after_days: None,
    };
    let shutdown = CancellationToken::new();
    let dimse = tokio::spawn(crate::dimse::serve(
        dicom,
        archive.clone(),
        scp_cfg,
        shutdown.clone(),
    ));
    let fwd = tokio::spawn(forwarder.clone().run(shutdown.clone()));
    let rep = tokio::spawn(status::report_loop(
        archive.clone(),
        forwarder,
        cfg.report_every,
        shutdown.clone(),
    ));
    let prune = tokio::spawn(prune::prune_loop(
        archive.clone(),
        cfg.data.clone(),
        cfg.cache,
        shutdown.clone(),
    ));
    crate::web::shutdown_signal().await;
    tracing::info!("gateway shutting down: finishing in-flight associations and requests");
    shutdown.cancel();
    // Associations in progress finish, for at most the serve command's default grace.
    let grace = std::time::Duration::from_secs(crate::ops::DEFAULT_SHUTDOWN_GRACE_SECS);
    let _ = tokio::time::timeout(grace, dimse).await;
    let _ = fwd.await;
    let _ = rep.await;
    let _ = prune.await;
    archive.flush_audit().await;
    drop(lock);
    Ok(())
}
