//! Command-line interface: argument definitions and dispatch to the service layer.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, FileConfig, ServeConfig};
use crate::service::{Archive, auth::Role};

#[derive(Parser, Debug)]
#[command(
    name = "rangsi",
    version,
    about = "Rangsi regional PACS: DICOM archive and viewer server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr: text, or json (one JSON object per line). Filter with
    /// RANGSI_LOG or RUST_LOG (e.g. `info,rangsi=debug`).
    #[arg(long, global = true, env = "RANGSI_LOG_FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct DataArg {
    /// Data directory (index database and blobs).
    #[arg(long, env = "RANGSI_DATA")]
    pub data: Option<PathBuf>,
    /// Blob store: a folder or s3://BUCKET[/PREFIX] (default DATA/blobs). Recorded in
    /// the data directory, so later commands need not repeat it.
    #[arg(long, env = "RANGSI_BLOBS")]
    pub blobs: Option<String>,
    /// Colder blob store for tiering: a folder or s3://BUCKET[/PREFIX] (recorded too).
    #[arg(long, env = "RANGSI_COLD_BLOBS")]
    pub cold_blobs: Option<String>,
    /// S3-compatible endpoint URL, e.g. http://127.0.0.1:3900 (default: AWS). Keys from
    /// RANGSI_S3_ACCESS_KEY_ID / RANGSI_S3_SECRET_ACCESS_KEY or AWS_*.
    #[arg(long, env = "RANGSI_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (Garage: its s3_region).
    #[arg(long, env = "RANGSI_S3_REGION")]
    pub s3_region: Option<String>,
    /// Index on PostgreSQL: postgres://USER[:PASSWORD]@HOST[:PORT]/DB (default: SQLite
    /// in the data directory). Several `rangsi serve` nodes may share one.
    #[arg(long, env = "RANGSI_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
}

impl DataArg {
    fn dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA))
    }

    /// The blob stores named on the command line / environment (the rest comes from
    /// the data directory's record).
    fn stores(&self) -> anyhow::Result<crate::store::StoreConfig> {
        Ok(crate::store::StoreConfig {
            blobs: self.blobs.as_deref().map(str::parse).transpose()?,
            cold: self.cold_blobs.as_deref().map(str::parse).transpose()?,
            s3: crate::store::S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                ..Default::default()
            },
            database: self.database.clone(),
            cache: None,
        })
    }
}

// Parsed once per process: the size of `Serve`'s flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the archive: DICOMweb + JSON API over HTTP, DIMSE over DICOM.
    Serve(ServeArgs),
    /// Import DICOM files from folders, DICOMDIR media or zip files.
    Import {
        #[command(flatten)]
        data: DataArg,
        /// Hospital (MOPH code) the imported studies belong to.
        #[arg(long)]
        hospital: String,
        /// Files, folders or zip files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Hospitals of the region.
    Hospital {
        #[command(subcommand)]
        command: HospitalCommand,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// DICOM application entities (modalities, PACS, workstations).
    Ae {
        #[command(subcommand)]
        command: AeCommand,
    },
    /// API tokens for DICOMweb clients.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Hospital gateway: receive C-STORE on the LAN, queue durably, forward by STOW-RS.
    Gateway(crate::gateway::GatewayArgs),
    /// Check the index against the blob store.
    Fsck {
        #[command(flatten)]
        data: DataArg,
        /// Also read every blob and check its SHA-256 against its key.
        #[arg(long)]
        verify: bool,
    },
    /// Back up a data directory while the server runs: a consistent index snapshot and
    /// the blobs it refers to (only those not already in the backup folder).
    Backup {
        #[command(flatten)]
        data: DataArg,
        /// Backup folder (created; may hold an earlier backup of the same archive).
        #[arg(long)]
        to: PathBuf,
        /// Back up the index and the blob store record (blob-store.toml) only, no blobs:
        /// the default when the blobs are not in the local DATA/blobs folder (S3, another
        /// folder, a cold tier), whose own versioning/replication keeps them safe.
        #[arg(long)]
        index_only: bool,
    },
    /// Restore a backup into a new data directory (the server must not run on it).
    Restore {
        /// Backup folder made by `rangsi backup`.
        #[arg(long)]
        from: PathBuf,
        /// Data directory to restore into; must be empty or missing.
        #[arg(long)]
        data: PathBuf,
        /// Restore into a non-empty data directory, replacing its index.
        #[arg(long)]
        force: bool,
        /// For a backup of an index on PostgreSQL (index.pgdump): the empty database to
        /// restore it into, postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
        #[arg(long, env = "RANGSI_DATABASE", hide_env_values = true)]
        database: Option<String>,
    },
    /// Move the blobs of studies not opened for N days to the cold store (--cold-blobs).
    Tier {
        #[command(flatten)]
        data: DataArg,
        /// Studies neither opened nor changed for this many days move.
        #[arg(long)]
        older_than_days: u32,
        /// Only list what would move.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// HTTP listen address (DICOMweb, API, viewer).
    #[arg(long, env = "RANGSI_HTTP")]
    pub http: Option<std::net::SocketAddr>,
    /// DICOM (DIMSE) listen address.
    #[arg(long, env = "RANGSI_DICOM")]
    pub dicom: Option<std::net::SocketAddr>,
    /// Our AE title.
    #[arg(long, env = "RANGSI_AE_TITLE")]
    pub ae_title: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "RANGSI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Lab setting only: accept associations from unregistered AE titles as this hospital.
    #[arg(long, env = "RANGSI_DICOM_OPEN")]
    pub dicom_open: Option<String>,
    /// Most DIMSE associations at once; more are rejected (transient).
    #[arg(long, env = "RANGSI_MAX_ASSOCIATIONS")]
    pub max_associations: Option<usize>,
    /// Largest HTTP request body (STOW-RS) in MiB.
    #[arg(long, env = "RANGSI_MAX_BODY_MB")]
    pub max_body_mb: Option<u64>,
    /// Browser origin allowed to call DICOMweb cross-origin (repeatable or comma-separated),
    /// e.g. an OHIF viewer served from another host.
    #[arg(
        long = "cors-origin",
        env = "RANGSI_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Default lifetime of a share link in days (1–90; default 7).
    #[arg(long, env = "RANGSI_SHARE_EXPIRY_DAYS")]
    pub share_expiry_days: Option<u32>,
    /// Public origin of the server (https://pacs.example) for share links' QR codes;
    /// default: the Host the request came to.
    #[arg(long, env = "RANGSI_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// TrueType font with Thai for referral letters (default: TLWG Loma from Debian's
    /// fonts-tlwg-loma-ttf).
    #[arg(long, env = "RANGSI_LETTER_FONT")]
    pub letter_font: Option<PathBuf>,
    #[command(flatten)]
    pub ops: crate::ops::OpsArgs,
    /// Move studies neither opened nor changed for this many days to the cold store
    /// (--cold-blobs), hourly. Off by default.
    #[arg(long, env = "RANGSI_TIER_AFTER_DAYS")]
    pub tier_after_days: Option<u32>,
    /// Local read cache in front of blobs on S3: a folder (default DATA/blob-cache).
    /// Recorded in the data directory like the stores; a later flag overrides it.
    #[arg(long, env = "RANGSI_BLOB_CACHE")]
    pub blob_cache: Option<PathBuf>,
    /// Size of the blob cache in GB (default 20; 0 turns it off).
    #[arg(long, env = "RANGSI_BLOB_CACHE_GB")]
    pub blob_cache_gb: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum HospitalCommand {
    /// Add a hospital: 5-digit MOPH code and name.
    Add {
        #[command(flatten)]
        data: DataArg,
        code: String,
        name: String,
    },
    /// List hospitals.
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Set the URL that receives the hospital's report events (prints the signing
    /// secret of `X-Rangsi-Signature`), or remove it.
    Webhook {
        #[command(flatten)]
        data: DataArg,
        code: String,
        /// http:// or https:// URL to POST events to.
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        url: Option<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Set a hospital's profile: names in Thai and English, capabilities, contact.
    Set {
        #[command(flatten)]
        data: DataArg,
        code: String,
        #[arg(long)]
        name_th: Option<String>,
        #[arg(long)]
        name_en: Option<String>,
        /// Comma-separated, e.g. "CT,MRI,cath lab".
        #[arg(long)]
        capabilities: Option<String>,
        #[arg(long)]
        contact: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from stdin with --password-stdin, else generated and printed.
    Add {
        #[command(flatten)]
        data: DataArg,
        name: String,
        #[arg(long)]
        hospital: Option<String>,
        #[arg(long, default_value = "doctor")]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum AeCommand {
    /// Register an AE title for a hospital; host and port make it a C-MOVE destination.
    Add {
        #[command(flatten)]
        data: DataArg,
        ae_title: String,
        #[arg(long)]
        hospital: String,
        #[arg(long, requires = "port")]
        host: Option<String>,
        #[arg(long, requires = "host")]
        port: Option<u16>,
    },
    /// List AE titles.
    List {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user, or a gateway token (`--gateway NAME --hospital
    /// CODE`: may only store that hospital's studies and report status); prints it once.
    Create {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, required_unless_present = "gateway", conflicts_with = "gateway")]
        user: Option<String>,
        /// Name of a hospital gateway (created on first use).
        #[arg(long, requires = "hospital")]
        gateway: Option<String>,
        /// The gateway's hospital (MOPH code).
        #[arg(long, requires = "gateway")]
        hospital: Option<String>,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires: Option<u32>,
    },
    /// List API and gateway tokens (id, kind, user or gateway, hospital, dates, note;
    /// never a secret).
    List {
        #[command(flatten)]
        data: DataArg,
        /// Only this gateway's tokens.
        #[arg(long)]
        gateway: Option<String>,
        /// One JSON object (`{"tokens": [...]}`, as `GET /api/admin/tokens`).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once, by the id `token list` shows (audited).
    Revoke {
        #[command(flatten)]
        data: DataArg,
        id: i64,
    },
}

fn init_tracing(format: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RANGSI_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == Some("json") {
        // One object per line: timestamp, level, target, message and fields at the top,
        // `span` (innermost: request or association) and `spans` (all open ones).
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}

/// The first command on an empty data dir creates the regional `admin` user (password
/// from `RANGSI_ADMIN_PASSWORD`, else generated and printed once).
pub async fn bootstrap(archive: &Archive, to_stdout: bool) -> anyhow::Result<()> {
    if let Some(password) = archive
        .auth()
        .bootstrap_admin(std::env::var("RANGSI_ADMIN_PASSWORD").ok())
        .await?
    {
        if to_stdout {
            println!("rangsi: admin password: {password}");
        } else {
            eprintln!("rangsi: created user admin with password: {password}");
        }
    }
    Ok(())
}

async fn open(data: &DataArg) -> anyhow::Result<Archive> {
    let archive = Archive::open_with(&data.dir(), &data.stores()?).await?;
    bootstrap(&archive, false).await?;
    let _ = LAST_ARCHIVE.set(archive.clone());
    Ok(archive)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    init_tracing(cli.log_format.as_deref());
    let result = run_command(cli).await;
    // CLI commands audit too; let the batch writer finish before the process exits.
    if let Some(a) = LAST_ARCHIVE.get() {
        a.flush_audit().await;
    }
    result
}

static LAST_ARCHIVE: std::sync::OnceLock<Archive> = std::sync::OnceLock::new();

async fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let cfg = resolve_serve(args)?;
            crate::web::serve(cfg).await
        }
        Command::Import {
            data,
            hospital,
            paths,
        } => {
            let archive = open(&data).await?;
            crate::import::run(&archive, &hospital, &paths).await
        }
        Command::Hospital { command } => match command {
            HospitalCommand::Add { data, code, name } => {
                let archive = open(&data).await?;
                archive.admin().add_hospital(&code, &name).await?;
                println!("hospital {code} added");
                Ok(())
            }
            HospitalCommand::List { data } => {
                let archive = open(&data).await?;
                for h in archive.admin().list_hospitals().await? {
                    println!("{}\t{}", h.code, h.name);
                }
                Ok(())
            }
            HospitalCommand::Webhook {
                data,
                code,
                url,
                remove,
            } => {
                let archive = open(&data).await?;
                match url {
                    Some(url) if !remove => {
                        let secret = archive.set_webhook(&code, &url).await?;
                        println!("{secret}");
                        eprintln!(
                            "hospital {code}: report events go to {url}, signed with the secret above (X-Rangsi-Signature: sha256=HMAC)"
                        );
                    }
                    _ => {
                        archive.remove_webhook(&code).await?;
                        eprintln!("hospital {code}: webhook removed");
                    }
                }
                Ok(())
            }
            HospitalCommand::Set {
                data,
                code,
                name_th,
                name_en,
                capabilities,
                contact,
            } => {
                let archive = open(&data).await?;
                let update = rangsi_wire::sharing::HospitalProfileUpdate {
                    name_th,
                    name_en,
                    capabilities: capabilities.map(|c| {
                        c.split(',')
                            .map(str::trim)
                            .filter(|c| !c.is_empty())
                            .map(String::from)
                            .collect()
                    }),
                    contact,
                };
                let p = archive
                    .set_hospital_profile(&crate::service::Principal::cli(None), &code, &update)
                    .await?;
                archive.flush_audit().await;
                println!(
                    "hospital {}: {} / {} [{}] {}",
                    p.code,
                    p.name_th,
                    p.name_en,
                    p.capabilities.join(", "),
                    p.contact
                );
                Ok(())
            }
        },
        Command::User { command } => match command {
            UserCommand::Add {
                data,
                name,
                hospital,
                role,
                password_stdin,
            } => {
                let role: Role = role.parse()?;
                let archive = open(&data).await?;
                let (password, generated) = if password_stdin {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading password from stdin")?;
                    let p = s.trim_end_matches(['\r', '\n']).to_string();
                    anyhow::ensure!(
                        p.chars().count() >= 8,
                        "password must be at least 8 characters"
                    );
                    (p, false)
                } else {
                    (crate::service::auth::generate_password(), true)
                };
                archive
                    .admin()
                    .add_user(&name, hospital.as_deref(), role, &password)
                    .await?;
                println!("user {name} added");
                if generated {
                    println!("password: {password}");
                }
                Ok(())
            }
            UserCommand::List { data } => {
                let archive = open(&data).await?;
                for u in archive.admin().list_users().await? {
                    println!(
                        "{}\t{}\t{}",
                        u.username,
                        u.role,
                        u.hospital_code.unwrap_or_default()
                    );
                }
                Ok(())
            }
        },
        Command::Ae { command } => match command {
            AeCommand::Add {
                data,
                ae_title,
                hospital,
                host,
                port,
            } => {
                let ae = config::validate_ae_title(&ae_title)?;
                let archive = open(&data).await?;
                archive
                    .admin()
                    .add_ae(&ae, &hospital, host.as_deref(), port)
                    .await?;
                println!("AE {ae} added");
                Ok(())
            }
            AeCommand::List { data } => {
                let archive = open(&data).await?;
                for a in archive.admin().list_aes().await? {
                    let dest = match (a.host, a.port) {
                        (Some(h), Some(p)) => format!("{h}:{p}"),
                        _ => String::new(),
                    };
                    println!("{}\t{}\t{}", a.ae_title, a.hospital_code, dest);
                }
                Ok(())
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create {
                data,
                user,
                gateway,
                hospital,
                expires,
            } => {
                let archive = open(&data).await?;
                let token = match (user, gateway, hospital) {
                    (_, Some(g), Some(h)) => archive.create_gateway_token(&g, &h, expires).await?,
                    (Some(u), _, _) => archive.auth().create_api_token(&u, expires).await?,
                    _ => anyhow::bail!("give --user NAME, or --gateway NAME --hospital CODE"),
                };
                println!("{token}");
                Ok(())
            }
            TokenCommand::List {
                data,
                gateway,
                json,
            } => {
                let archive = open(&data).await?;
                let mut list = archive
                    .admin_tokens(&crate::service::Principal::cli(None))
                    .await?;
                if let Some(g) = gateway {
                    let user = crate::service::gateways::gateway_user(g.trim());
                    list.tokens.retain(|t| t.username == user);
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                    return Ok(());
                }
                println!("ID\tKIND\tFOR\tHOSPITAL\tCREATED\tEXPIRES\tNOTE");
                for t in &list.tokens {
                    let owner = match crate::service::gateways::gateway_name(&t.username) {
                        Some(g) => format!("gateway {g}"),
                        None => format!("user {}", t.username),
                    };
                    println!(
                        "{}\t{}\t{owner}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.kind,
                        t.hospital.as_deref().unwrap_or("-"),
                        t.created_at,
                        t.expires_at.as_deref().unwrap_or("never"),
                        t.note
                    );
                }
                Ok(())
            }
            TokenCommand::Revoke { data, id } => {
                let archive = open(&data).await?;
                archive
                    .admin_revoke_token(&crate::service::Principal::cli(None), id)
                    .await?;
                println!("token {id} revoked");
                Ok(())
            }
        },
        Command::Gateway(args) => crate::gateway::run(args).await,
        Command::Backup {
            data,
            to,
            index_only,
        } => {
            let archive = open(&data).await?;
            let dir = data.dir();
            // A full backup copies the blob folder DATA/blobs; blobs anywhere else (S3,
            // another folder, a cold tier) are kept safe by that store's own
            // versioning/replication, and the backup keeps the index and where they are.
            let local = format!("blobs in {}", dir.join("blobs").display());
            let stores = archive.tiers().describe();
            let index_only = if !index_only && stores != local {
                println!(
                    "the blobs are not in a local folder ({stores}): index-only backup \
                     (the index and blob-store.toml; protect the blobs with the store's own \
                     versioning or replication)"
                );
                true
            } else {
                index_only
            };
            let dest = to.clone();
            let on_postgres = archive.index().dialect() == crate::index::Dialect::Postgres;
            let report = match data.database.as_deref() {
                Some(url) if on_postgres => {
                    crate::ops::pg_backup::backup(
                        &archive,
                        url,
                        &dir,
                        &dest,
                        index_only.then_some(stores.as_str()),
                    )
                    .await?
                }
                _ => {
                    tokio::task::spawn_blocking(move || {
                        if index_only {
                            crate::ops::backup::backup_index_only(&dir, &dest, &stores)
                        } else {
                            crate::ops::backup::backup(&dir, &dest)
                        }
                    })
                    .await??
                }
            };
            archive
                .audit(
                    &crate::service::Principal::cli(None),
                    "backup",
                    "",
                    "",
                    &format!("to {}: {report}", to.display()),
                    "ok",
                )
                .await?;
            println!(
                "backup of {} in {}: {report}",
                data.dir().display(),
                to.display()
            );
            Ok(())
        }
        Command::Restore {
            from,
            data,
            force,
            database,
        } => {
            let report = if crate::ops::pg_backup::is_dump(&from) {
                let url = database.as_deref().with_context(|| {
                    format!(
                        "{} is a backup of an index on PostgreSQL: give the (empty) database to \
                         restore it into with --database postgres://USER@HOST[:PORT]/DB or RANGSI_DATABASE",
                        from.display()
                    )
                })?;
                crate::ops::pg_backup::restore(&from, &data, url, force).await?
            } else {
                anyhow::ensure!(
                    database.is_none(),
                    "{} is a backup of a SQLite index: restore it without --database / \
                     RANGSI_DATABASE (moving an index between engines is not supported)",
                    from.display()
                );
                let (f, d) = (from.clone(), data.clone());
                tokio::task::spawn_blocking(move || crate::ops::backup::restore(&f, &d, force))
                    .await??
            };
            println!(
                "restored {} into {}: {report}",
                from.display(),
                data.display()
            );
            let archive = open(&DataArg {
                data: Some(data),
                blobs: None,
                cold_blobs: None,
                s3_endpoint: None,
                s3_region: None,
                database,
            })
            .await?;
            let check = archive.fsck().await?;
            print!("{check}");
            anyhow::ensure!(
                check.is_consistent(),
                "restored data directory is inconsistent"
            );
            Ok(())
        }
        Command::Tier {
            data,
            older_than_days,
            dry_run,
        } => {
            let archive = open(&data).await?;
            let report = archive.tier(older_than_days, dry_run).await?;
            print!("{report}");
            anyhow::ensure!(
                report.failures.is_empty(),
                "some blobs were not moved (they stay hot)"
            );
            Ok(())
        }
        Command::Fsck { data, verify } => {
            let archive = open(&data).await?;
            let report = archive.fsck_with(verify).await?;
            print!("{report}");
            if report.is_consistent() {
                Ok(())
            } else {
                anyhow::bail!("index and blob store are inconsistent")
            }
        }
    }
}

fn resolve_serve(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let parse = |s: &str| {
        s.parse::<std::net::SocketAddr>()
            .expect("default address is valid")
    };
    let ae_title = config::validate_ae_title(
        &args
            .ae_title
            .or(file.ae_title)
            .unwrap_or_else(|| config::DEFAULT_AE_TITLE.into()),
    )?;
    let max_body_mb = args
        .max_body_mb
        .or(file.max_body_mb)
        .unwrap_or(config::DEFAULT_MAX_BODY_MB);
    let share_expiry_days = args
        .share_expiry_days
        .or(file.share_expiry_days)
        .unwrap_or(crate::service::shares::DEFAULT_EXPIRY_DAYS);
    anyhow::ensure!(
        (1..=crate::service::shares::MAX_EXPIRY_DAYS).contains(&share_expiry_days),
        "share expiry must be 1 to {} days",
        crate::service::shares::MAX_EXPIRY_DAYS
    );
    let stores = crate::store::StoreConfig {
        blobs: args
            .data
            .blobs
            .clone()
            .or(file.blobs)
            .as_deref()
            .map(str::parse)
            .transpose()?,
        cold: args
            .data
            .cold_blobs
            .clone()
            .or(file.cold_blobs)
            .as_deref()
            .map(str::parse)
            .transpose()?,
        s3: crate::store::S3Settings {
            endpoint: args.data.s3_endpoint.clone().or(file.s3_endpoint),
            region: args.data.s3_region.clone().or(file.s3_region),
            access_key_id: file.s3_access_key_id,
            secret_access_key: file.s3_secret_access_key,
        },
        database: args.data.database.clone().or(file.database),
        cache: Some(crate::store::CacheFlags {
            dir: args.blob_cache.or(file.blob_cache),
            gb: args.blob_cache_gb.or(file.blob_cache_gb),
        }),
    };
    Ok(ServeConfig {
        stores,
        tier_after_days: args.tier_after_days.or(file.tier_after_days),
        share_expiry_days,
        public_url: args.public_url.or(file.public_url),
        letter_font: args
            .letter_font
            .or(file.letter_font)
            .unwrap_or_else(|| PathBuf::from(crate::service::letter::DEFAULT_FONT)),
        data: args
            .data
            .data
            .or(file.data)
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA)),
        http: args
            .http
            .or(file.http)
            .unwrap_or_else(|| parse(config::DEFAULT_HTTP)),
        dicom: args
            .dicom
            .or(file.dicom)
            .unwrap_or_else(|| parse(config::DEFAULT_DICOM)),
        ae_title,
        dicom_open: args.dicom_open.or(file.dicom_open),
        max_associations: args
            .max_associations
            .or(file.max_associations)
            .unwrap_or(config::DEFAULT_MAX_ASSOCIATIONS),
        max_body_bytes: max_body_mb.saturating_mul(1024 * 1024),
        max_dimse_dataset_bytes: max_body_mb.saturating_mul(1024 * 1024),
        ops: {
            let ops = args.ops.or(file.ops);
            ops.validate()?;
            ops
        },
        cors_origins: if args.cors_origins.is_empty() {
            file.cors_origins.unwrap_or_default()
        } else {
            args.cors_origins
        },
    })
}
