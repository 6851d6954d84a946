//! `cargo xtask bench server`: rangsi and Orthanc, one after the other in the same
//! run, on the same machine, fed the same generated CT data by the same third-party
//! clients (dcmtk `storescu`, Python `requests`, `wrk`).
//!
//! Each measurement is one function with its own time limit; one that fails for one
//! server gives "n/a (reason)" in that server's column and the run goes on.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::peer::{self, CALLING_AE, Peer};
use super::{Scratch, Table};
use crate::process;
use crate::setup::{self, Paths};

/// Requests per latency figure (p50 reported).
const RUNS: u32 = 20;
const STOW_BATCH: usize = 20;
const WRK_CONNECTIONS: u32 = 16;
const WRK_SECONDS: u64 = 10;
const WRK_WARMUP_SECONDS: u64 = 3;
const FRAME_ACCEPT: &str =
    r#"multipart/related; type="application/octet-stream"; transfer-syntax=*"#;
/// One 512×512 16-bit frame.
const FRAME_BYTES: u64 = 512 * 512 * 2;
const CLIENT_PY: &str = include_str!("client.py");
const FRAMES_LUA: &str = include_str!("frames.lua");

/// A series of the benchmark data on disk, with its UIDs.
struct Series {
    dir: PathBuf,
    study: String,
    series: String,
    sops: Vec<String>,
}

/// Everything the measurements share: data, client scripts, scratch space.
struct Bench {
    python: PathBuf,
    client: PathBuf,
    lua: PathBuf,
    work: Scratch,
    /// C-STORE ingest, then `/metadata` and frames.
    ct300: Series,
    /// STOW-RS ingest (other UIDs than `ct300`, so nothing is a duplicate).
    stow300: Series,
    /// 500 one-slice 64×64 studies, one folder each, for QIDO.
    qido500: PathBuf,
}

/// One measurement: the table rows it fills and the function that fills them for one server.
struct Measurement {
    rows: &'static [&'static str],
    run: fn(&Bench, &mut Peer) -> Result<Vec<String>>,
}

const MEASUREMENTS: &[Measurement] = &[
    Measurement {
        rows: &["C-STORE ingest, 300 × 512² CT, `storescu`"],
        run: cstore_ingest,
    },
    Measurement {
        rows: &["STOW-RS ingest, 300 × 512² CT, batches of 20"],
        run: stow_ingest,
    },
    Measurement {
        rows: &[
            "QIDO `/studies` (all), p50 of 20",
            "QIDO `PatientName=DOE*`, p50 of 20",
            "QIDO `StudyDate=20240101-20240331&ModalitiesInStudy=CT`, p50 of 20",
        ],
        run: qido,
    },
    Measurement {
        rows: &["series `/metadata`, 300 instances, p50 of 20"],
        run: series_metadata,
    },
    Measurement {
        rows: &[
            "WADO-RS `/frames/1`, 16 clients: p50 latency",
            "WADO-RS `/frames/1`, 16 clients: p99 latency",
            "WADO-RS `/frames/1`, 16 clients: throughput",
        ],
        run: frames,
    },
    Measurement {
        rows: &["peak RSS (VmHWM) after all of the above"],
        run: peak_rss,
    },
];

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    ensure!(args.is_empty(), "`bench server` takes no arguments");
    setup::apt(&[setup::TEST_PACKAGES, setup::BENCH_PACKAGES].concat())?;
    setup::venv(paths)?;
    let shared = paths
        .shared()
        .context("../shared/gen_ct_series.py is needed for the benchmark data")?;
    let bench = Bench::prepare(paths, &shared)?;
    println!("bench: building rangsi (release)");
    let rangsi_bin = paths.build_rangsi(true);
    let rangsi = measure_all(&bench, "rangsi", || match &rangsi_bin {
        Ok(bin) => peer::start_rangsi(bin),
        Err(e) => bail!("build failed: {e:#}"),
    });
    let orthanc = measure_all(&bench, "Orthanc", peer::start_orthanc);

    let mut table = Table::new(vec![
        format!("rangsi {}", rangsi_version(paths)),
        peer::orthanc_version(),
    ]);
    let labels = MEASUREMENTS.iter().flat_map(|m| m.rows.iter());
    for (i, label) in labels.enumerate() {
        table.row(label, vec![rangsi[i].clone(), orthanc[i].clone()]);
    }
    let report = format!("{}\n{}\n{}", header(), table.markdown(), NOTES);
    println!("\n{report}");
    let out = paths.target_dir.join("bench-server.md");
    fs::create_dir_all(&paths.target_dir)?;
    fs::write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
    println!("bench: written to {}", out.display());
    Ok(())
}

/// Starts one server, runs every measurement against it, stops it; one cell per row.
fn measure_all(bench: &Bench, name: &str, start: impl FnOnce() -> Result<Peer>) -> Vec<String> {
    let row_count: usize = MEASUREMENTS.iter().map(|m| m.rows.len()).sum();
    println!("bench: starting {name}");
    let mut peer = match start() {
        Ok(peer) => peer,
        Err(e) => {
            return vec![not_available(&e.context(format!("{name} did not start"))); row_count];
        }
    };
    let mut cells = Vec::with_capacity(row_count);
    for m in MEASUREMENTS {
        let started = Instant::now();
        let result = peer
            .ensure_running()
            .and_then(|()| (m.run)(bench, &mut peer));
        let result = result.and_then(|v| {
            ensure!(
                v.len() == m.rows.len(),
                "measurement gave {} cells for {} rows",
                v.len(),
                m.rows.len()
            );
            Ok(v)
        });
        let row_cells = result.unwrap_or_else(|e| vec![not_available(&e); m.rows.len()]);
        println!(
            "bench: {name}: {}: {} ({:.1} s)",
            m.rows[0],
            row_cells.join("; "),
            started.elapsed().as_secs_f64()
        );
        cells.extend(row_cells);
    }
    println!("bench: stopping {name}");
    drop(peer);
    cells
}

fn not_available(e: &anyhow::Error) -> String {
    let mut reason = format!("{e:#}");
    if reason.chars().count() > 200 {
        reason = reason.chars().take(200).collect::<String>() + "…";
    }
    format!("n/a ({reason})")
}

fn cstore_ingest(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let secs = storescu(peer, &b.ct300.dir, false, Duration::from_secs(300))?;
    let stored = b.count_instances(peer, &b.ct300)?;
    Ok(vec![ingest_cell(b.ct300.sops.len(), stored, secs)])
}

fn stow_ingest(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let url = format!("{}/studies", peer.dicomweb());
    let dir = b.stow300.dir.to_string_lossy();
    let out = b.client(
        peer,
        &["stow", &url, &dir, &STOW_BATCH.to_string()],
        Duration::from_secs(300),
    )?;
    let secs: f64 = field(&out, "seconds")?;
    let stored = b.count_instances(peer, &b.stow300).unwrap_or(0);
    ensure!(
        stored > 0,
        "nothing stored (HTTP {})",
        out.get("statuses").map_or("?", String::as_str)
    );
    Ok(vec![ingest_cell(b.stow300.sops.len(), stored, secs)])
}

fn qido(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    storescu(peer, &b.qido500, true, Duration::from_secs(300))
        .context("loading the 500 QIDO studies")?;
    let queries = [
        "",
        "?PatientName=DOE*",
        "?StudyDate=20240101-20240331&ModalitiesInStudy=CT",
    ];
    let mut cells = Vec::new();
    for q in queries {
        let url = format!("{}/studies{q}", peer.dicomweb());
        let out = b.get(peer, &url, RUNS, "application/dicom+json")?;
        cells.push(format!(
            "{:.1} ms ({} studies)",
            field::<f64>(&out, "p50_ms")?,
            field::<u64>(&out, "count")?
        ));
    }
    Ok(cells)
}

fn series_metadata(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let s = &b.ct300;
    let url = format!(
        "{}/studies/{}/series/{}/metadata",
        peer.dicomweb(),
        s.study,
        s.series
    );
    let out = b.get(peer, &url, RUNS, "application/dicom+json")?;
    Ok(vec![format!(
        "{:.1} ms ({} instances, {:.1} MB; first {:.0} ms)",
        field::<f64>(&out, "p50_ms")?,
        field::<u64>(&out, "count")?,
        field::<f64>(&out, "bytes")? / 1e6,
        field::<f64>(&out, "first_ms")?,
    )])
}

fn frames(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let s = &b.ct300;
    let urls: Vec<String> = s
        .sops
        .iter()
        .map(|sop| {
            format!(
                "{}/studies/{}/series/{}/instances/{sop}/frames/1",
                peer.dicomweb_path, s.study, s.series
            )
        })
        .collect();
    let list = b
        .work
        .path()
        .join(format!("frames-{}.txt", peer.dicom_port));
    fs::write(&list, urls.join("\n") + "\n")?;

    // One request first: wrk would happily measure how fast a server says 404.
    let first = b.get(peer, &format!("{}{}", peer.http, urls[0]), 1, FRAME_ACCEPT)?;
    let bytes: u64 = field(&first, "bytes")?;
    let ctype = first.get("content_type").cloned().unwrap_or_default();
    ensure!(
        bytes >= FRAME_BYTES && ctype.starts_with("multipart/related"),
        "first frame: {bytes} bytes of {ctype:?}, expected a {FRAME_BYTES}-byte frame in multipart/related"
    );

    b.wrk(peer, &list, WRK_WARMUP_SECONDS)?;
    let r = b.wrk(peer, &list, WRK_SECONDS)?;
    let requests: f64 = field(&r, "requests")?;
    let non2xx: u64 = field(&r, "non2xx")?;
    ensure!(requests > 0.0, "wrk completed no request");
    ensure!(non2xx == 0, "{non2xx} of {requests} responses were not 2xx");
    let secs = field::<f64>(&r, "duration_us")? / 1e6;
    let socket_errors: u64 = ["connect", "read", "write", "timeout"]
        .iter()
        .map(|k| field::<u64>(&r, k).unwrap_or(0))
        .sum();
    let errors = if socket_errors > 0 {
        format!(", {socket_errors} socket errors")
    } else {
        String::new()
    };
    Ok(vec![
        format!("{:.1} ms", field::<f64>(&r, "p50_us")? / 1e3),
        format!("{:.1} ms", field::<f64>(&r, "p99_us")? / 1e3),
        format!(
            "{:.0} frames/s ({:.0} MB/s{errors})",
            requests / secs,
            field::<f64>(&r, "bytes")? / secs / 1e6
        ),
    ])
}

fn peak_rss(_: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    Ok(vec![format!(
        "{:.0} MiB",
        peer.peak_rss_kib()? as f64 / 1024.0
    )])
}

/// Sends `dir` (recursively when `recursive`) with dcmtk's storescu; returns the seconds taken.
fn storescu(peer: &Peer, dir: &Path, recursive: bool, limit: Duration) -> Result<f64> {
    let mut cmd = Command::new("storescu");
    cmd.env("TCP_NODELAY", "1").args([
        "-aet",
        CALLING_AE,
        "-aec",
        &peer.called_ae,
        "127.0.0.1",
        &peer.dicom_port.to_string(),
        "+sd",
    ]);
    if recursive {
        cmd.arg("+r");
    }
    cmd.args(["+sp", "*.dcm"]).arg(dir);
    let started = Instant::now();
    let out = process::output_within(&mut cmd, None, limit)?;
    let secs = started.elapsed().as_secs_f64();
    // storescu reports refused C-STOREs on stderr but may still exit 0.
    let log = String::from_utf8_lossy(&out.stderr);
    if let Some(line) = log.lines().find(|l| l.starts_with("E:")) {
        bail!("storescu: {}", line.trim());
    }
    Ok(secs)
}

impl Bench {
    fn prepare(paths: &Paths, shared: &Path) -> Result<Bench> {
        let work = Scratch::new("bench")?;
        let client = work.path().join("client.py");
        let lua = work.path().join("frames.lua");
        fs::write(&client, CLIENT_PY)?;
        fs::write(&lua, FRAMES_LUA)?;
        let data = |name: &str, args: &[&str]| generate(paths, shared, name, args);
        let ct300 = data("ct300", &["--slices", "300", "--seed", "1"])?;
        let stow300 = data("stow300", &["--slices", "300", "--seed", "2"])?;
        let qido500 = data(
            "qido500",
            &[
                "--studies",
                "500",
                "--slices",
                "1",
                "--rows",
                "64",
                "--cols",
                "64",
                "--seed",
                "3",
            ],
        )?;
        let mut bench = Bench {
            python: paths.python(),
            client,
            lua,
            work,
            ct300: Series::empty(ct300),
            stow300: Series::empty(stow300),
            qido500,
        };
        bench.ct300 = bench.read_series(&bench.ct300.dir)?;
        bench.stow300 = bench.read_series(&bench.stow300.dir)?;
        Ok(bench)
    }

    /// wrk with [`WRK_CONNECTIONS`] connections for `seconds`; the RESULT fields of frames.lua.
    fn wrk(&self, peer: &Peer, list: &Path, seconds: u64) -> Result<HashMap<String, String>> {
        let mut cmd = Command::new("wrk");
        cmd.args([
            "-t2",
            &format!("-c{WRK_CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(&self.lua)
        .arg(&peer.http)
        .env("RANGSI_BENCH_PATHS", list)
        .env("RANGSI_BENCH_AUTH", peer.auth.as_deref().unwrap_or(""));
        let out = process::output_within(&mut cmd, None, Duration::from_secs(seconds + 60))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .context("wrk printed no RESULT line")?;
        Ok(parse_fields(line))
    }

    /// UIDs of the one series in `dir`, read by pydicom.
    fn read_series(&self, dir: &Path) -> Result<Series> {
        let out = process::capture(
            Command::new(&self.python)
                .arg(&self.client)
                .arg("sops")
                .arg(dir),
            None,
        )?;
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let Some(first) = rows.first().filter(|r| r.len() == 3) else {
            bail!("no DICOM files in {}", dir.display())
        };
        ensure!(
            rows.iter().all(|r| r.len() == 3 && r[..2] == first[..2]),
            "{} holds more than one series",
            dir.display()
        );
        Ok(Series {
            dir: dir.to_path_buf(),
            study: first[0].to_string(),
            series: first[1].to_string(),
            sops: rows.iter().map(|r| r[2].to_string()).collect(),
        })
    }

    /// Runs a client.py command against `peer`; its key=value output.
    fn client(
        &self,
        peer: &Peer,
        args: &[&str],
        limit: Duration,
    ) -> Result<HashMap<String, String>> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.client)
            .args(args)
            .env("RANGSI_BENCH_AUTH", peer.auth.as_deref().unwrap_or(""));
        let out = process::output_within(&mut cmd, None, limit)?;
        Ok(parse_fields(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// `runs` sequential GETs of `url` over one keep-alive connection.
    fn get(
        &self,
        peer: &Peer,
        url: &str,
        runs: u32,
        accept: &str,
    ) -> Result<HashMap<String, String>> {
        self.client(
            peer,
            &["get", url, &runs.to_string(), accept],
            Duration::from_secs(120),
        )
    }

    /// How many instances of `series` the server lists (QIDO-RS).
    fn count_instances(&self, peer: &Peer, series: &Series) -> Result<u64> {
        let url = format!(
            "{}/studies/{}/series/{}/instances",
            peer.dicomweb(),
            series.study,
            series.series
        );
        field(&self.get(peer, &url, 1, "application/dicom+json")?, "count")
    }
}

impl Series {
    fn empty(dir: PathBuf) -> Series {
        Series {
            dir,
            study: String::new(),
            series: String::new(),
            sops: Vec::new(),
        }
    }
}

/// Runs gen_ct_series.py into `~/.cache/rangsi/bench-data/NAME` unless the folder
/// already holds the output of the same arguments and the same generator.
fn generate(paths: &Paths, shared: &Path, name: &str, args: &[&str]) -> Result<PathBuf> {
    let dir = paths.cache.join("bench-data").join(name);
    let script = shared.join("gen_ct_series.py");
    let stamp = dir.join(".stamp");
    let wanted = format!(
        "{} {:016x}\n",
        args.join(" "),
        setup::fnv1a64(&fs::read(&script)?)
    );
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(dir);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    println!(
        "bench: generating {name}: gen_ct_series.py {}",
        args.join(" ")
    );
    let started = Instant::now();
    let mut cmd = Command::new(paths.python());
    cmd.arg(&script).arg("--out").arg(&dir).args(args);
    process::output_within(&mut cmd, None, Duration::from_secs(900))?;
    fs::write(&stamp, wanted)?;
    println!(
        "bench: generated {name} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}

fn ingest_cell(sent: usize, stored: u64, secs: f64) -> String {
    format!(
        "{:.0} inst/s ({stored}/{sent} stored, {secs:.1} s)",
        sent as f64 / secs
    )
}

/// `key=value key=value` → map.
fn parse_fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field<T: std::str::FromStr>(fields: &HashMap<String, String>, key: &str) -> Result<T> {
    fields
        .get(key)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("client output has no numeric `{key}`"))
}

fn rangsi_version(paths: &Paths) -> String {
    let rev = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(&paths.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        rev.as_deref().unwrap_or("uncommitted")
    )
}

fn header() -> String {
    // `storescu --version` starts with `$dcmtk: storescu v3.6.7 2022-04-22 $`.
    let storescu =
        super::version_word(Command::new("storescu").arg("--version"), 2).unwrap_or_default();
    format!(
        "## rangsi vs Orthanc: `cargo xtask bench server`\n\n\
         - date: {}\n\
         - machine: {} (both servers on it, one after the other, each with fresh data)\n\
         - data: `../shared/gen_ct_series.py`: 300 × 512² CT (C-STORE, metadata, frames), \
           another 300 (STOW-RS), 500 one-slice 64² studies (QIDO), explicit VR little endian\n\
         - clients: dcmtk `storescu` {} with `TCP_NODELAY=1`; Python requests; \
           `wrk` (2 threads, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s after a {WRK_WARMUP_SECONDS} s warm-up)\n\
         - rangsi: release build, `serve --http 127.0.0.1:0 --dicom 127.0.0.1:0`, `RANGSI_LOG=warn`, bearer token\n\
         - Orthanc: Debian package, own JSON config, DICOMweb plugin, `TCP_NODELAY=1`, \
           no authentication, storage compression off\n",
        super::today(),
        super::machine(),
        storescu,
    )
}

const NOTES: &str = "\
Ingest rates count the instances sent over the wall time of the whole transfer; \
\"stored\" is what the server's QIDO-RS then lists for that series. \
Latencies are time to the last byte of the body, 20 sequential requests on one keep-alive \
connection (p50, and the first one for `/metadata`); the counts in brackets are what the server returned. \
Frames are fetched with `Accept: multipart/related; type=\"application/octet-stream\"; transfer-syntax=*`, \
rotating over all 300 instances.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_lines() {
        let f = parse_fields(
            "requests=1200 duration_us=10000000 content_type=multipart/related;type=x",
        );
        assert_eq!(field::<u64>(&f, "requests").ok(), Some(1200));
        assert_eq!(
            f.get("content_type").map(String::as_str),
            Some("multipart/related;type=x")
        );
        assert!(field::<u64>(&f, "missing").is_err());
    }
}
