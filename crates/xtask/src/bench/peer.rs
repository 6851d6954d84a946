//! The two archives under test, each started as a plain child process on loopback
//! with its own scratch data: rangsi (`serve --http 127.0.0.1:0 --dicom 127.0.0.1:0`
//! with a hospital, a registered AE, a user and a token) and Orthanc (Debian package,
//! own JSON config, DICOMweb plugin, `TCP_NODELAY=1`). Dropping a [`Peer`] stops it.
//!
//! Either may bring a throwaway service of its own, stopped after it: rangsi its blobs on
//! a single-node Garage ([`Garage`], a real S3 server on random loopback ports), Orthanc
//! its index on a PostgreSQL cluster ([`Postgres`], Debian's `orthanc-postgresql` plugin).
//! One cluster serves a whole run (shared through an `Arc`, stopped after the last
//! server using it): rangsi (`--database`) and Orthanc each get a database of their own.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Scratch, free_port};
use crate::process;

/// The calling AE title the benchmark's clients use; registered on both servers.
pub const CALLING_AE: &str = "BENCH";
const HOSPITAL: &str = "99999";
const USER: &str = "bench";
const PASSWORD: &str = "bench-bench-bench";
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running archive with everything a client needs to reach it.
pub struct Peer {
    /// `http://127.0.0.1:PORT`
    pub http: String,
    /// Path of the DICOMweb root on `http`, no trailing slash (`/dicomweb`, `/dicom-web`).
    pub dicomweb_path: &'static str,
    pub dicom_port: u16,
    pub called_ae: String,
    /// Value of the `Authorization` header, when the server wants one.
    pub auth: Option<String>,
    child: Child,
    scratch: Scratch,
    /// Services the server needs (object store, database), stopped after it.
    companions: Vec<Box<dyn std::any::Any + Send + Sync>>,
    /// The folder and file-name prefix of the server's own index files, when it has them.
    index_files: Option<(PathBuf, &'static str)>,
    /// The PostgreSQL database of the server's index, when it has one.
    index_database: Option<(Arc<Postgres>, &'static str)>,
}

impl Peer {
    /// `http://127.0.0.1:PORT/dicomweb`
    pub fn dicomweb(&self) -> String {
        format!("{}{}", self.http, self.dicomweb_path)
    }

    /// An error if the process has exited (with the tail of its log unless a signal killed it).
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            if status.code().is_none() {
                bail!("server crashed ({status})");
            }
            bail!("server exited ({status}): {}", self.log_tail());
        }
        Ok(())
    }

    /// A memory figure of `/proc/PID/status` in KiB: `VmHWM` (peak resident set size)
    /// or `VmRSS` (current).
    pub fn memory_kib(&self, key: &str) -> Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {key} in /proc/PID/status"))
    }

    /// Bytes of the server's index now: its files on disk (SQLite with its WAL), or its
    /// PostgreSQL database (`pg_database_size`).
    pub fn index_bytes(&self) -> Option<u64> {
        if let Some((pg, db)) = &self.index_database {
            return pg
                .psql(&format!("SELECT pg_database_size('{db}')"))
                .ok()?
                .trim()
                .parse()
                .ok();
        }
        let (dir, prefix) = self.index_files.as_ref()?;
        let total = fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        Some(total)
    }

    fn log_tail(&self) -> String {
        let log = fs::read(self.scratch.path().join("server.log")).unwrap_or_default();
        process::tail_lines(&log, 4)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        process::terminate(&mut self.child, Duration::from_secs(15));
    }
}

/// Seeds a fresh data dir and starts `rangsi serve` on free loopback ports; with `s3`,
/// its blobs go to that Garage (`--blobs s3://…`, recorded by the first command) and the
/// server counts as started once `/readyz` (a write and read-back of the store) says 200;
/// with `postgres`, its index is a fresh database `rangsi` of that cluster (`--database`).
pub fn start_rangsi(
    bin: &Path,
    s3: Option<Garage>,
    postgres: Option<Arc<Postgres>>,
) -> Result<Peer> {
    let scratch = Scratch::new("bench-rangsi")?;
    let data = scratch.path().join("data");
    let mut blob_env = s3.as_ref().map(Garage::rangsi_env).unwrap_or_default();
    if let Some(pg) = &postgres {
        blob_env.push((
            "RANGSI_DATABASE".into(),
            pg.create_database(RANGSI_DATABASE)?,
        ));
    }
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("RANGSI_DATA", &data)
            .env("RANGSI_LOG", "warn")
            .envs(blob_env.iter().map(|(k, v)| (k, v)));
        cmd
    };
    process::capture(
        &mut cli(&["hospital", "add", HOSPITAL, "Bench Hospital"]),
        None,
    )?;
    process::capture(
        &mut cli(&[
            "user",
            "add",
            USER,
            "--hospital",
            HOSPITAL,
            "--role",
            "technologist",
            "--password-stdin",
        ]),
        Some(&format!("{PASSWORD}\n")),
    )?;
    process::capture(
        &mut cli(&["ae", "add", CALLING_AE, "--hospital", HOSPITAL]),
        None,
    )?;
    let token = process::capture(&mut cli(&["token", "create", "--user", USER]), None)?;
    anyhow::ensure!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "`rangsi token create` printed {token:?}, not a token"
    );

    let log = File::create(scratch.path().join("server.log"))?;
    let mut cmd = cli(&["serve", "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0"]);
    cmd.env("RANGSI_ADMIN_PASSWORD", "bench-admin-password")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.try_clone()?);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", process::describe(&cmd)))?;
    let lines = forward_lines(child.stdout.take(), log);

    let (mut http, mut dicom) = (None, None);
    let deadline = Instant::now() + START_LIMIT;
    while http.is_none() || dicom.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                if let Some(url) = line.strip_prefix("rangsi: http listening on ") {
                    http = Some(url.trim().trim_end_matches('/').to_string());
                } else if let Some(rest) = line.strip_prefix("rangsi: dicom listening on ") {
                    dicom = parse_dicom_line(rest);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
            Err(_) => {
                thread::sleep(Duration::from_millis(300)); // let a dying server finish exiting
                let mut peer = unready(child, scratch);
                peer.ensure_running()?;
                bail!(
                    "rangsi did not print both listening lines within {} s",
                    START_LIMIT.as_secs()
                );
            }
        }
    }
    let (Some(http), Some((dicom_port, called_ae))) = (http, dicom) else {
        unreachable!()
    };
    let mut peer = Peer {
        http,
        dicomweb_path: "/dicomweb",
        dicom_port,
        called_ae,
        auth: Some(format!("Bearer {token}")),
        child,
        scratch,
        companions: Vec::new(),
        index_files: None,
        index_database: None,
    };
    match postgres {
        Some(pg) => {
            peer.index_database = Some((pg.clone(), RANGSI_DATABASE));
            peer.companions.push(Box::new(pg));
        }
        None => peer.index_files = Some((data, "index.sqlite")),
    }
    if let Some(garage) = s3 {
        peer.companions.push(Box::new(garage));
        let port = port_of(&peer.http)?;
        let deadline = Instant::now() + START_LIMIT;
        while http_status(port, "/readyz") != Some(200) {
            peer.ensure_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "rangsi's /readyz did not say 200 within {} s (blobs on S3)",
                    START_LIMIT.as_secs()
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(peer)
}

/// `HOST:PORT as AE TITLE` → (port, title).
fn parse_dicom_line(rest: &str) -> Option<(u16, String)> {
    let (addr, ae) = rest.trim().split_once(" as AE ")?;
    let port = addr.rsplit_once(':')?.1.parse().ok()?;
    Some((port, ae.trim().to_string()))
}

/// Orthanc's version (`Orthanc 1.10.1`) and its plugins' Debian versions.
pub fn orthanc_version() -> String {
    // `Orthanc --version` starts with `/usr/sbin/Orthanc 1.10.1`.
    let exe = orthanc_exe().unwrap_or_else(|_| "Orthanc".into());
    let core = super::version_word(Command::new(exe).arg("--version"), 1).unwrap_or_default();
    format!(
        "Orthanc {core} + DICOMweb {} + GDCM {}",
        dpkg_version("orthanc-dicomweb"),
        dpkg_version("orthanc-gdcm")
    )
}

/// The upstream part of a Debian package's installed version ("" when not installed).
pub fn dpkg_version(package: &str) -> String {
    process::capture(
        Command::new("dpkg-query").args(["-W", "-f=${Version}", package]),
        None,
    )
    .map(|v| v.split(['+', '-']).next().unwrap_or_default().to_string())
    .unwrap_or_default()
}

/// Starts Orthanc from a JSON config of its own in a scratch dir, on free ports.
pub fn start_orthanc() -> Result<Peer> {
    start_orthanc_with(None)
}

/// Orthanc as [`start_orthanc`], but its index in a fresh database `orthanc` of the
/// cluster `pg` (Debian's `orthanc-postgresql` index plugin; the DICOM files stay in its
/// storage folder).
pub fn start_orthanc_postgres(pg: Arc<Postgres>) -> Result<Peer> {
    let plugin = dpkg_file("orthanc-postgresql", |p| {
        p.extension().is_some_and(|e| e == "so")
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("Index"))
    })
    .context("Debian's orthanc-postgresql is not installed")?;
    pg.create_database(ORTHANC_DATABASE)?;
    start_orthanc_with(Some((pg, plugin)))
}

/// The databases the benchmark's servers get in its PostgreSQL cluster.
const RANGSI_DATABASE: &str = "rangsi";
const ORTHANC_DATABASE: &str = "orthanc";

fn start_orthanc_with(postgres: Option<(Arc<Postgres>, PathBuf)>) -> Result<Peer> {
    let exe = orthanc_exe()?;
    let is_plugin = |p: &Path| p.extension().is_some_and(|e| e == "so");
    let mut plugins = vec![
        dpkg_file("orthanc-dicomweb", is_plugin)?,
        // GDCM decodes JPEG 2000 for Orthanc (its DCMTK cannot): needed to transcode frames.
        dpkg_file("orthanc-gdcm", is_plugin)?,
    ];
    let postgres_config = match &postgres {
        Some((pg, plugin)) => {
            plugins.push(plugin.clone());
            format!(
                r#",
  "PostgreSQL": {{ "EnableIndex": true, "EnableStorage": false, "Host": "127.0.0.1",
    "Port": {}, "Database": "{ORTHANC_DATABASE}", "Username": "postgres", "Password": "",
    "Lock": false, "EnableSsl": false, "MaximumConnectionRetries": 2,
    "ConnectionRetryInterval": 1 }}"#,
                pg.port
            )
        }
        None => String::new(),
    };
    // Only for JPEG 2000: given RLE too, the GDCM plugin 1.5 crashes Orthanc (segfault in
    // libgdcmMSFF) where Orthanc's own DCMTK decodes RLE fine.
    let j2k = r#""1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91""#;
    let scratch = Scratch::new("bench-orthanc")?;
    let (http_port, dicom_port) = (free_port()?, free_port()?);
    let dir = scratch.path();
    let config = format!(
        r#"{{
  "Name": "rangsi-bench-orthanc",
  "StorageDirectory": {storage},
  "IndexDirectory": {index},
  "StorageCompression": false,
  "HttpServerEnabled": true,
  "HttpPort": {http_port},
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "KeepAlive": true,
  "TcpNoDelay": true,
  "DicomServerEnabled": true,
  "DicomAet": "ORTHANC",
  "DicomPort": {dicom_port},
  "DicomCheckCalledAet": false,
  "DicomModalities": {{ "bench": ["{CALLING_AE}", "127.0.0.1", 104] }},
  "DefaultEncoding": "Utf8",
  "SaveJobs": false,
  "Plugins": [{plugins}],
  "DicomWeb": {{ "Enable": true, "Root": "/dicom-web/" }},
  "Gdcm": {{ "Enable": true, "RestrictTransferSyntaxes": [{j2k}] }}{postgres_config}
}}
"#,
        storage = json_str(&dir.join("storage")),
        index = json_str(&dir.join("index")),
        plugins = plugins
            .iter()
            .map(|p| json_str(p))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let config_path = dir.join("orthanc.json");
    fs::write(&config_path, config)?;
    let log = File::create(dir.join("server.log"))?;
    let mut cmd = Command::new(&exe);
    cmd.arg(&config_path)
        .current_dir(dir)
        .env("TCP_NODELAY", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", process::describe(&cmd)))?;
    let mut peer = unready(child, scratch);
    match postgres {
        Some((pg, _)) => {
            peer.index_database = Some((pg.clone(), ORTHANC_DATABASE));
            peer.companions.push(Box::new(pg));
        }
        // Orthanc's SQLite index (`index` and its journal) in IndexDirectory.
        None => peer.index_files = Some((peer.scratch.path().join("index"), "index")),
    }
    peer.http = format!("http://127.0.0.1:{http_port}");
    peer.dicomweb_path = "/dicom-web";
    peer.dicom_port = dicom_port;
    peer.called_ae = "ORTHANC".into();

    // Orthanc prints no "listening" line we could rely on: wait until both ports answer.
    let deadline = Instant::now() + START_LIMIT;
    while !(connects(http_port) && connects(dicom_port)) {
        peer.ensure_running()?;
        if Instant::now() >= deadline {
            bail!(
                "Orthanc did not open ports {http_port} and {dicom_port} within {} s",
                START_LIMIT.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(peer)
}

/// A peer whose addresses are not known yet; dropping it still stops the process.
fn unready(child: Child, scratch: Scratch) -> Peer {
    Peer {
        http: String::new(),
        dicomweb_path: "",
        dicom_port: 0,
        called_ae: String::new(),
        auth: None,
        child,
        scratch,
        companions: Vec::new(),
        index_files: None,
        index_database: None,
    }
}

/// A throwaway single-node Garage (S3 API) with one bucket and one key, on random
/// loopback ports in a fresh folder; dropping it stops it and removes its data.
pub struct Garage {
    child: Child,
    s3_port: u16,
    access_key: String,
    secret_key: String,
    _scratch: Scratch,
}

/// The bucket the benchmark's Garage creates, and its S3 region.
const GARAGE_BUCKET: &str = "rangsi";
const GARAGE_REGION: &str = "garage";

impl Garage {
    /// Starts `bin` (`garage server --single-node --default-bucket`) and waits for its
    /// admin `/health` to say 200.
    pub fn start(bin: &Path) -> Result<Garage> {
        let scratch = Scratch::new("bench-garage")?;
        let dir = scratch.path().to_path_buf();
        let (rpc, s3_port, admin) = (free_port()?, free_port()?, free_port()?);
        let config = format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
             metadata_fsync = false\ndata_fsync = false\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_secret = \"{secret}\"\n[s3_api]\ns3_region = \"{GARAGE_REGION}\"\n\
             api_bind_addr = \"127.0.0.1:{s3_port}\"\n[admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
            meta = dir.join("meta").display(),
            data = dir.join("data").display(),
            secret = random_hex(32)?,
        );
        let config_path = dir.join("garage.toml");
        fs::write(&config_path, config)?;
        let access_key = format!("GK{}", random_hex(12)?);
        let secret_key = random_hex(32)?;
        let log = File::create(dir.join("garage.log"))?;
        let mut cmd = Command::new(bin);
        cmd.args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_CONFIG_FILE", &config_path)
            .env("GARAGE_DEFAULT_ACCESS_KEY", &access_key)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret_key)
            .env("GARAGE_DEFAULT_BUCKET", GARAGE_BUCKET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", process::describe(&cmd)))?;
        let mut garage = Garage {
            child,
            s3_port,
            access_key,
            secret_key,
            _scratch: scratch,
        };
        let deadline = Instant::now() + START_LIMIT;
        while http_status(admin, "/health") != Some(200) {
            if let Some(status) = garage.child.try_wait()? {
                let log = fs::read(dir.join("garage.log")).unwrap_or_default();
                bail!("garage exited ({status}): {}", process::tail_lines(&log, 4));
            }
            if Instant::now() >= deadline {
                bail!("garage not healthy within {} s", START_LIMIT.as_secs());
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(garage)
    }

    /// The environment that puts a rangsi data dir's blobs in this Garage.
    fn rangsi_env(&self) -> Vec<(String, String)> {
        [
            ("RANGSI_BLOBS", format!("s3://{GARAGE_BUCKET}/bench")),
            (
                "RANGSI_S3_ENDPOINT",
                format!("http://127.0.0.1:{}", self.s3_port),
            ),
            ("RANGSI_S3_REGION", GARAGE_REGION.to_string()),
            ("RANGSI_S3_ACCESS_KEY_ID", self.access_key.clone()),
            ("RANGSI_S3_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        process::terminate(&mut self.child, Duration::from_secs(15));
    }
}

/// The installed Garage's version (`garage --version` prints `garage v2.5.0 […]`).
pub fn garage_version(bin: &Path) -> String {
    super::version_word(Command::new(bin).arg("--version"), 1).map_or_else(
        || "Garage".into(),
        |v| format!("Garage {}", v.trim_start_matches("cargo:")),
    )
}

/// A throwaway PostgreSQL 15 cluster (Debian's, run as the `postgres` user) on a random
/// loopback port, with the default durability (`fsync`, `synchronous_commit` on: a
/// production setting, as rangsi's SQLite runs with `synchronous=FULL`).
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    _scratch: Scratch,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl Postgres {
    /// Starts a fresh cluster, shared by the servers of a run.
    pub fn start_shared() -> Result<Arc<Postgres>> {
        Self::start().map(Arc::new)
    }

    /// Runs one SQL statement as `postgres` (psql, unaligned tuples): its output.
    fn psql(&self, sql: &str) -> Result<String> {
        process::capture(
            Command::new(format!("{PG_BIN}/psql"))
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
                .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
                .arg("-p")
                .arg(self.port.to_string()),
            None,
        )
        .with_context(|| format!("psql {sql:?}"))
    }

    /// Creates the database `name` (fresh for each server): its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        self.psql(&format!("DROP DATABASE IF EXISTS {name}"))?;
        self.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }

    fn start() -> Result<Postgres> {
        let scratch = Scratch::new("bench-pg")?;
        let dir = scratch.path().to_path_buf();
        process::capture(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir),
            None,
        )?;
        let data = dir.join("data");
        process::capture(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(format!("{PG_BIN}/initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
                .args(["--locale=C.UTF-8", "--no-sync"]),
            None,
        )
        .context("initdb (PostgreSQL 15, run as the postgres user)")?;
        let port = free_port()?;
        let pg = Postgres {
            port,
            data: data.clone(),
            _scratch: scratch,
        };
        process::capture(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(format!("{PG_BIN}/pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("log"))
                .args(["-w", "start", "-o"])
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -p {port} -k {}",
                    dir.display()
                )),
            None,
        )
        .context("starting PostgreSQL")?;
        Ok(pg)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = process::capture(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(format!("{PG_BIN}/pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "stop"]),
            None,
        );
    }
}

/// PostgreSQL's version, e.g. `PostgreSQL 15.14`.
pub fn postgres_version() -> String {
    super::version_word(
        Command::new(format!("{PG_BIN}/postgres")).arg("--version"),
        2,
    )
    .map_or_else(|| "PostgreSQL".into(), |v| format!("PostgreSQL {v}"))
}

/// `n` random bytes from the kernel, as hex.
fn random_hex(n: usize) -> Result<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The port of `http://HOST:PORT`.
fn port_of(url: &str) -> Result<u16> {
    url.rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches('/').parse().ok())
        .with_context(|| format!("no port in {url}"))
}

/// The status code of a plain `GET path` on 127.0.0.1:`port`, if it answers at all.
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Copies each stdout line to `log` and sends it on the returned channel.
fn forward_lines(
    stdout: Option<std::process::ChildStdout>,
    mut log: File,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(log, "{line}");
            let _ = tx.send(line);
        }
    });
    rx
}

fn connects(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

fn orthanc_exe() -> Result<PathBuf> {
    dpkg_file("orthanc", |p| p.file_name().is_some_and(|n| n == "Orthanc"))
}

/// The first existing file of Debian package `package` that `pick` accepts.
fn dpkg_file(package: &str, pick: impl Fn(&Path) -> bool) -> Result<PathBuf> {
    let list = process::capture(Command::new("dpkg").args(["-L", package]), None)?;
    list.lines()
        .map(PathBuf::from)
        .find(|p| pick(p) && p.is_file())
        .with_context(|| format!("no such file in Debian package {package}"))
}

/// `path` as a JSON string literal.
fn json_str(path: &Path) -> String {
    let s = path.to_string_lossy();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rangsi_dicom_listening_line() {
        assert_eq!(
            parse_dicom_line("127.0.0.1:40123 as AE RANGSI\n"),
            Some((40123, "RANGSI".into()))
        );
        assert_eq!(
            parse_dicom_line("[::1]:104 as AE PACS_1"),
            Some((104, "PACS_1".into()))
        );
        assert_eq!(parse_dicom_line("127.0.0.1:x as AE RANGSI"), None);
    }

    #[test]
    fn finds_the_port_of_a_url() {
        assert_eq!(port_of("http://127.0.0.1:8042").ok(), Some(8042));
        assert!(port_of("http://127.0.0.1").is_err());
    }
}
