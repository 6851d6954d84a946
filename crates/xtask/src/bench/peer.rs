//! The two archives under test, each started as a plain child process on loopback
//! with its own scratch data: rangsi (`serve --http 127.0.0.1:0 --dicom 127.0.0.1:0`
//! with a hospital, a registered AE, a user and a token) and Orthanc (Debian package,
//! own JSON config, DICOMweb plugin, `TCP_NODELAY=1`). Dropping a [`Peer`] stops it.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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

/// Seeds a fresh data dir and starts `rangsi serve` on free loopback ports.
pub fn start_rangsi(bin: &Path) -> Result<Peer> {
    let scratch = Scratch::new("bench-rangsi")?;
    let data = scratch.path().join("data");
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("RANGSI_DATA", &data)
            .env("RANGSI_LOG", "warn");
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
    Ok(Peer {
        http,
        dicomweb_path: "/dicomweb",
        dicom_port,
        called_ae,
        auth: Some(format!("Bearer {token}")),
        child,
        scratch,
    })
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
    let version = |package: &str| {
        process::capture(
            Command::new("dpkg-query").args(["-W", "-f=${Version}", package]),
            None,
        )
        .map(|v| v.split(['+', '-']).next().unwrap_or_default().to_string())
        .unwrap_or_default()
    };
    format!(
        "Orthanc {core} + DICOMweb {} + GDCM {}",
        version("orthanc-dicomweb"),
        version("orthanc-gdcm")
    )
}

/// Starts Orthanc from a JSON config of its own in a scratch dir, on free ports.
pub fn start_orthanc() -> Result<Peer> {
    let exe = orthanc_exe()?;
    let is_plugin = |p: &Path| p.extension().is_some_and(|e| e == "so");
    let plugins = [
        dpkg_file("orthanc-dicomweb", is_plugin)?,
        // GDCM decodes JPEG 2000 for Orthanc (its DCMTK cannot): needed to transcode frames.
        dpkg_file("orthanc-gdcm", is_plugin)?,
    ];
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
  "Gdcm": {{ "Enable": true, "RestrictTransferSyntaxes": [{j2k}] }}
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
    }
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
}
