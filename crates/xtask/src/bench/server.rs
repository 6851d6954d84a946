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

/// Requests per latency figure (their median is reported)...
const RUNS: u32 = 20;
/// ...unless this many seconds have passed (at least 3 requests are made).
const BUDGET_SECONDS: u32 = 10;
const STOW_BATCH: usize = 20;
/// `storescu` processes sending the 9,500 extra QIDO studies side by side.
const PARALLEL_STORESCU: usize = 4;
const WRK_CONNECTIONS: u32 = 16;
/// wrk runs per frames figure, after one warm-up run; the median of each figure is reported.
const WRK_RUNS: usize = 3;
const WRK_SECONDS: u64 = 5;
const WRK_WARMUP_SECONDS: u64 = 3;
/// Frames as stored.
const STORED_ACCEPT: &str =
    r#"multipart/related; type="application/octet-stream"; transfer-syntax=*"#;
/// Frames decoded by the server to Explicit VR Little Endian.
const DECODED_ACCEPT: &str =
    r#"multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1"#;
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
    /// 9,500 more of them (other UIDs): QIDO over ~10,000 studies.
    qido9500: PathBuf,
    /// 1,000 64×64 slices in one series: `/metadata` of a big series.
    meta1000: Series,
    /// 50 × 512² CT in JPEG 2000 lossless: frames decoded by the server.
    j2k50: Series,
    /// 50 × 512² CT in RLE lossless: frames decoded by the server.
    rle50: Series,
}

/// One measurement: the table rows it fills and the function that fills them for one server.
struct Measurement {
    /// Short name, for the memory table.
    step: &'static str,
    rows: &'static [&'static str],
    run: fn(&Bench, &mut Peer) -> Result<Vec<String>>,
}

const MEASUREMENTS: &[Measurement] = &[
    Measurement {
        step: "C-STORE 300 × 512²",
        rows: &["C-STORE ingest, 300 × 512² CT, `storescu`"],
        run: cstore_ingest,
    },
    Measurement {
        step: "STOW-RS 300 × 512²",
        rows: &["STOW-RS ingest, 300 × 512² CT, batches of 20"],
        run: stow_ingest,
    },
    Measurement {
        step: "500 QIDO studies loaded, queried",
        rows: &[
            "QIDO, ~500 studies: `/studies` (all), p50",
            "QIDO, ~500 studies: `PatientName=DOE*`, p50",
            "QIDO, ~500 studies: `StudyDate=20240101-20240331&ModalitiesInStudy=CT`, p50",
        ],
        run: qido500,
    },
    Measurement {
        step: "`/metadata` 300",
        rows: &["series `/metadata`, 300 instances, p50"],
        run: metadata300,
    },
    Measurement {
        step: "frames as stored (1,100 instances held)",
        rows: &[
            "WADO-RS `/frames/1` as stored, 1,100 instances held, 16 clients: p50 latency",
            "WADO-RS `/frames/1` as stored, 1,100 instances held, 16 clients: p99 latency",
            "WADO-RS `/frames/1` as stored, 1,100 instances held, 16 clients: throughput",
        ],
        run: frames_stored,
    },
    Measurement {
        step: "9,500 more studies loaded",
        rows: &["C-STORE ingest, 9,500 one-slice 64² studies, 4 `storescu` in parallel"],
        run: load_qido9500,
    },
    Measurement {
        step: "QIDO over ~10,000 studies",
        rows: &[
            "QIDO, ~10,000 studies: `/studies` (all, unbounded), p50 of 3",
            "QIDO, ~10,000 studies: `/studies?limit=100` (all, first page), p50",
            "QIDO, ~10,000 studies: `PatientName=DOE*` (unbounded), p50",
            "QIDO, ~10,000 studies: `PatientName=DOE*&limit=100`, p50",
            "QIDO, ~10,000 studies: `StudyDate=20240101-20240331&ModalitiesInStudy=CT`, p50",
        ],
        run: qido10k,
    },
    Measurement {
        step: "1,000-instance series loaded, `/metadata`",
        rows: &["series `/metadata`, 1,000 instances (64²), p50"],
        run: metadata1000,
    },
    Measurement {
        step: "frames as stored (11,600 instances held)",
        rows: &[
            "WADO-RS `/frames/1` as stored, 11,600 instances held, 16 clients: p50 latency",
            "WADO-RS `/frames/1` as stored, 11,600 instances held, 16 clients: p99 latency",
            "WADO-RS `/frames/1` as stored, 11,600 instances held, 16 clients: throughput",
        ],
        run: frames_stored,
    },
    Measurement {
        step: "RLE series loaded, decoded frames",
        rows: &[
            "WADO-RS `/frames/1` RLE → explicit VR LE: one frame checked",
            "WADO-RS `/frames/1` RLE → explicit VR LE, 16 clients: p50 latency",
            "WADO-RS `/frames/1` RLE → explicit VR LE, 16 clients: p99 latency",
            "WADO-RS `/frames/1` RLE → explicit VR LE, 16 clients: throughput",
        ],
        run: frames_rle,
    },
    Measurement {
        step: "JPEG 2000 series loaded, decoded frames",
        rows: &[
            "WADO-RS `/frames/1` JPEG 2000 → explicit VR LE: one frame checked",
            "WADO-RS `/frames/1` JPEG 2000 → explicit VR LE, 16 clients: p50 latency",
            "WADO-RS `/frames/1` JPEG 2000 → explicit VR LE, 16 clients: p99 latency",
            "WADO-RS `/frames/1` JPEG 2000 → explicit VR LE, 16 clients: throughput",
        ],
        run: frames_j2k,
    },
];

/// Where rangsi keeps its blobs and index in a run: `--backend local|s3|postgres+s3|all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// Local disk (`DATA/blobs`): rangsi and Orthanc, as the benchmark always did.
    Local,
    /// A throwaway Garage (S3 API): rangsi on S3 and Orthanc.
    S3,
    /// rangsi with SQLite + local disk, rangsi with its index on PostgreSQL and its blobs
    /// on Garage, Orthanc on PostgreSQL (one cluster, a database each), with ratios.
    PostgresS3,
    /// All of the above: rangsi local, on S3, on PostgreSQL + S3; Orthanc, Orthanc on
    /// PostgreSQL; with ratios.
    All,
}

const USAGE: &str =
    "usage: cargo xtask bench server [--backend local|s3|postgres+s3|all] [--dev-build]";

/// `--dev-build`: measure the dev-profile binary (`cargo build`, dependencies at
/// opt-level 2, rangsi itself at 0) where a release build is not allowed, e.g. a build
/// machine shared by several people. Its figures are rangsi's lower bound; the report
/// says so.
fn parse_dev_build(args: &[String]) -> (bool, Vec<String>) {
    let rest: Vec<String> = args
        .iter()
        .filter(|a| a.as_str() != "--dev-build")
        .cloned()
        .collect();
    (rest.len() != args.len(), rest)
}

fn parse_backend(args: &[String]) -> Result<Backend> {
    let value = match args {
        [] => return Ok(Backend::Local),
        [flag, v] if flag == "--backend" => v.as_str(),
        [one] => match one.strip_prefix("--backend=") {
            Some(v) => v,
            None => bail!("unknown argument `{one}`\n{USAGE}"),
        },
        _ => bail!("{USAGE}"),
    };
    Ok(match value {
        "local" => Backend::Local,
        "s3" => Backend::S3,
        "postgres+s3" => Backend::PostgresS3,
        "all" => Backend::All,
        other => bail!("unknown backend `{other}`\n{USAGE}"),
    })
}

/// One column of the results: a server and what it gave.
struct Column {
    name: String,
    run: ServerRun,
}

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    let (dev_build, args) = parse_dev_build(args);
    let backend = parse_backend(&args)?;
    setup::apt(&[setup::TEST_PACKAGES, setup::BENCH_PACKAGES].concat())?;
    setup::venv(paths)?;
    if backend != Backend::Local {
        setup::garage(paths)?;
    }
    let shared = paths
        .shared()
        .context("../shared/gen_ct_series.py is needed for the benchmark data")?;
    let bench = Bench::prepare(paths, &shared)?;
    println!(
        "bench: building rangsi ({})",
        if dev_build { "dev profile" } else { "release" }
    );
    let rangsi_bin = paths.build_rangsi(!dev_build);
    let garage_bin = setup::garage_bin(paths);
    // One PostgreSQL cluster for the run: a database for rangsi, one for Orthanc.
    let postgres = matches!(backend, Backend::PostgresS3 | Backend::All)
        .then(|| peer::Postgres::start_shared().map_err(|e| format!("{e:#}")));
    let cluster = || -> Result<std::sync::Arc<peer::Postgres>> {
        match &postgres {
            Some(Ok(pg)) => Ok(pg.clone()),
            Some(Err(e)) => bail!("PostgreSQL did not start: {e}"),
            None => bail!("no PostgreSQL in this run"),
        }
    };
    let start_rangsi = |s3: bool, pg: bool| {
        let garage_bin = &garage_bin;
        let rangsi_bin = &rangsi_bin;
        let cluster = &cluster;
        move || match rangsi_bin {
            Ok(bin) => {
                let database = if pg { Some(cluster()?) } else { None };
                let garage = if s3 {
                    Some(peer::Garage::start(garage_bin).context("starting Garage")?)
                } else {
                    None
                };
                peer::start_rangsi(bin, garage, database)
            }
            Err(e) => bail!("build failed: {e:#}"),
        }
    };
    let version = rangsi_version(paths);
    let load_before = load_average();
    let mut columns = Vec::new();
    if backend != Backend::S3 {
        let name = match backend {
            Backend::All | Backend::PostgresS3 => format!("rangsi {version}, local disk"),
            _ => format!("rangsi {version}"),
        };
        let run = measure_all(&bench, "rangsi", start_rangsi(false, false));
        columns.push(Column { name, run });
    }
    if matches!(backend, Backend::S3 | Backend::All) {
        let name = format!(
            "rangsi {version}, S3 ({})",
            peer::garage_version(&garage_bin)
        );
        let run = measure_all(&bench, "rangsi on S3", start_rangsi(true, false));
        columns.push(Column { name, run });
    }
    if matches!(backend, Backend::PostgresS3 | Backend::All) {
        let name = format!(
            "rangsi {version}, index on PostgreSQL + blobs on S3 ({}, {})",
            peer::postgres_version(),
            peer::garage_version(&garage_bin)
        );
        let run = measure_all(
            &bench,
            "rangsi on PostgreSQL + S3",
            start_rangsi(true, true),
        );
        columns.push(Column { name, run });
    }
    if backend != Backend::PostgresS3 {
        let run = measure_all(&bench, "Orthanc", peer::start_orthanc);
        columns.push(Column {
            name: peer::orthanc_version(),
            run,
        });
    }
    if matches!(backend, Backend::PostgresS3 | Backend::All) {
        let run = measure_all(&bench, "Orthanc on PostgreSQL", || {
            peer::start_orthanc_postgres(cluster()?)
        });
        columns.push(Column {
            name: format!(
                "{} + PostgreSQL index {} ({})",
                peer::orthanc_version(),
                peer::dpkg_version("orthanc-postgresql"),
                peer::postgres_version()
            ),
            run,
        });
    }
    let load_after = load_average();
    drop(postgres);

    let ratio_pairs = ratio_pairs(&columns);
    let mut names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    names.extend(ratio_pairs.iter().map(|(_, _, n)| n.clone()));
    let with_ratios = |cells: Vec<String>| -> Vec<String> {
        let mut out = cells.clone();
        out.extend(
            ratio_pairs
                .iter()
                .map(|&(a, b, _)| ratio(&cells[a], &cells[b])),
        );
        out
    };

    let mut table = Table::new(names.clone());
    let labels = MEASUREMENTS.iter().flat_map(|m| m.rows.iter());
    for (i, label) in labels.enumerate() {
        table.row(
            label,
            with_ratios(columns.iter().map(|c| c.run.cells[i].clone()).collect()),
        );
    }
    table.row(
        "peak RSS (VmHWM) after all of the above",
        with_ratios(columns.iter().map(|c| c.run.peak_rss()).collect()),
    );
    table.row(
        "index size after all of the above (SQLite + WAL files; PostgreSQL: pg_database_size)",
        with_ratios(
            columns
                .iter()
                .map(|c| match c.run.index_bytes {
                    Some(b) => format!("{:.1} MB", b as f64 / 1e6),
                    None => "n/a (no index of its own measured)".into(),
                })
                .collect(),
        ),
    );
    let mut memory = Table::new(names);
    for (i, m) in MEASUREMENTS.iter().enumerate() {
        memory.row(
            &format!("after: {}", m.step),
            with_ratios(columns.iter().map(|c| c.run.memory_cell(i)).collect()),
        );
    }
    let report = format!(
        "{}\n{}\n{}\n### Memory after each step (VmHWM peak, VmRSS now)\n\n{}",
        header(&load_before, &load_after, backend, dev_build),
        table.markdown(),
        notes(backend),
        memory.markdown()
    );
    println!("\n{report}");
    let out = paths.target_dir.join("bench-server.md");
    fs::create_dir_all(&paths.target_dir)?;
    fs::write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
    println!("bench: written to {}", out.display());
    Ok(())
}

/// A column's name for a ratio header: "rangsi local", "S3", "PG+S3", "Orthanc",
/// "Orthanc+PG".
fn short_name(name: &str) -> &'static str {
    let rangsi = name.starts_with("rangsi");
    if rangsi && name.contains("PostgreSQL") {
        "PG+S3"
    } else if rangsi && name.contains(", S3 (") {
        "S3"
    } else if name.contains("PostgreSQL") {
        "Orthanc+PG"
    } else if name.starts_with("Orthanc") {
        "Orthanc"
    } else {
        "rangsi local"
    }
}

/// The ratio columns: (numerator column, denominator column, header). rangsi on S3
/// against every other column but PostgreSQL + S3; rangsi on PostgreSQL + S3 against
/// rangsi on SQLite + local disk, rangsi on S3 and Orthanc on PostgreSQL.
fn ratio_pairs(columns: &[Column]) -> Vec<(usize, usize, String)> {
    let find = |short: &str| columns.iter().position(|c| short_name(&c.name) == short);
    let mut pairs = Vec::new();
    if let Some(s3) = find("S3") {
        for (i, c) in columns.iter().enumerate() {
            if i != s3 && short_name(&c.name) != "PG+S3" {
                pairs.push((s3, i, format!("S3 ÷ {}", short_name(&c.name))));
            }
        }
    }
    if let Some(pg) = find("PG+S3") {
        for other in ["rangsi local", "S3", "Orthanc+PG"] {
            if let Some(i) = find(other) {
                pairs.push((pg, i, format!("PG+S3 ÷ {other}")));
            }
        }
    }
    pairs
}

/// `a ÷ b` of the leading figures of two cells with the same unit ("451 inst/s",
/// "4.0 ms", "182 MiB (173 MiB)"), e.g. "0.84×"; "—" where either has none.
fn ratio(a: &str, b: &str) -> String {
    match (leading_figure(a), leading_figure(b)) {
        (Some((x, ux)), Some((y, uy))) if ux == uy && y > 0.0 => format!("{:.2}×", x / y),
        _ => "—".into(),
    }
}

/// The number a cell starts with and the word after it (its unit).
fn leading_figure(cell: &str) -> Option<(f64, &str)> {
    let mut words = cell.split_whitespace();
    let number = words.next()?.parse().ok()?;
    let unit = words.next()?.trim_end_matches([',', ';']);
    (unit != "bytes").then_some((number, unit))
}

/// What one server gave: a cell per row, and its memory (VmHWM, VmRSS in MiB) after each
/// measurement (`None` once it is gone).
struct ServerRun {
    cells: Vec<String>,
    memory: Vec<Option<(f64, f64)>>,
    /// Why it could not be measured at the end, if it could not.
    gone: Option<String>,
    /// Its index files' size at the end, if it keeps them on disk.
    index_bytes: Option<u64>,
}

impl ServerRun {
    fn peak_rss(&self) -> String {
        let last = self
            .memory
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| m.map(|m| (i, m)));
        match (last, &self.gone) {
            (Some((_, (hwm, _))), None) => format!("{hwm:.0} MiB"),
            (Some((i, (hwm, _))), Some(why)) => format!(
                "{hwm:.0} MiB after “{}”, the last reading ({why})",
                MEASUREMENTS[i].step
            ),
            (None, why) => format!("n/a ({})", why.as_deref().unwrap_or("no reading")),
        }
    }

    fn memory_cell(&self, i: usize) -> String {
        match self.memory.get(i).copied().flatten() {
            Some((hwm, rss)) => format!("{hwm:.0} MiB ({rss:.0} MiB)"),
            None => "n/a".into(),
        }
    }
}

/// Starts one server, runs every measurement against it, stops it.
fn measure_all(bench: &Bench, name: &str, start: impl FnOnce() -> Result<Peer>) -> ServerRun {
    let row_count: usize = MEASUREMENTS.iter().map(|m| m.rows.len()).sum();
    println!("bench: starting {name}");
    let mut peer = match start() {
        Ok(peer) => peer,
        Err(e) => {
            let e = e.context(format!("{name} did not start"));
            return ServerRun {
                cells: vec![not_available(&e); row_count],
                memory: vec![None; MEASUREMENTS.len()],
                gone: Some(format!("{e:#}")),
                index_bytes: None,
            };
        }
    };
    let mut run = ServerRun {
        cells: Vec::with_capacity(row_count),
        memory: Vec::new(),
        gone: None,
        index_bytes: None,
    };
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
        let memory = peer.ensure_running().and_then(|()| {
            let mib = |key| -> Result<f64> { Ok(peer.memory_kib(key)? as f64 / 1024.0) };
            Ok((mib("VmHWM")?, mib("VmRSS")?))
        });
        run.gone = memory.as_ref().err().map(|e| format!("{e:#}"));
        println!(
            "bench: {name}: {}: {} ({:.1} s; {})",
            m.step,
            row_cells.join("; "),
            started.elapsed().as_secs_f64(),
            match &memory {
                Ok((hwm, rss)) => format!("VmHWM {hwm:.0} MiB, VmRSS {rss:.0} MiB"),
                Err(e) => format!("memory: {e:#}"),
            }
        );
        run.memory.push(memory.ok());
        run.cells.extend(row_cells);
    }
    run.index_bytes = peer.index_bytes();
    println!("bench: stopping {name}");
    drop(peer);
    run
}

fn not_available(e: &anyhow::Error) -> String {
    let mut reason = format!("{e:#}");
    if reason.chars().count() > 200 {
        reason = reason.chars().take(200).collect::<String>() + "…";
    }
    format!("n/a ({reason})")
}

fn cstore_ingest(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let secs = storescu(peer, &[&b.ct300.dir], &[], Duration::from_secs(300))?;
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

fn qido500(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    storescu(peer, &[&b.qido500], &["+r"], Duration::from_secs(300))
        .context("loading the 500 QIDO studies")?;
    qido_queries(
        b,
        peer,
        &[
            ("", RUNS),
            ("?PatientName=DOE*", RUNS),
            ("?StudyDate=20240101-20240331&ModalitiesInStudy=CT", RUNS),
        ],
    )
}

/// Sends the 9,500 extra QIDO studies with [`PARALLEL_STORESCU`] `storescu` processes.
fn load_qido9500(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(&b.qido9500)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    dirs.retain(|d| d.is_dir());
    dirs.sort();
    ensure!(
        !dirs.is_empty(),
        "no study folders in {}",
        b.qido9500.display()
    );
    let mut groups = vec![Vec::new(); PARALLEL_STORESCU];
    for (i, dir) in dirs.iter().enumerate() {
        groups[i % PARALLEL_STORESCU].push(dir.as_path());
    }
    let limit = Duration::from_secs(600);
    let started = Instant::now();
    let results: Vec<Result<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| s.spawn(|| storescu(peer, group, &[], limit)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("storescu thread panicked"))
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    Ok(vec![format!(
        "{:.0} inst/s ({} sent, {secs:.1} s)",
        dirs.len() as f64 / secs,
        dirs.len()
    )])
}

fn qido10k(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    qido_queries(
        b,
        peer,
        &[
            ("", 3),
            ("?limit=100", RUNS),
            ("?PatientName=DOE*", RUNS),
            ("?PatientName=DOE*&limit=100", RUNS),
            ("?StudyDate=20240101-20240331&ModalitiesInStudy=CT", RUNS),
        ],
    )
}

/// `/studies{query}` for each (query, requests): "p50 (count)" cells.
fn qido_queries(b: &Bench, peer: &Peer, queries: &[(&str, u32)]) -> Result<Vec<String>> {
    let mut cells = Vec::new();
    for &(q, runs) in queries {
        let url = format!("{}/studies{q}", peer.dicomweb());
        let out = b.get(peer, &url, runs, "application/dicom+json")?;
        let done: u32 = field(&out, "runs")?;
        let of = if done == RUNS || runs < RUNS {
            String::new()
        } else {
            format!(", p50 of {done} in {BUDGET_SECONDS} s")
        };
        cells.push(format!(
            "{:.1} ms ({} studies{of})",
            field::<f64>(&out, "p50_ms")?,
            field::<u64>(&out, "count")?
        ));
    }
    Ok(cells)
}

fn metadata300(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    series_metadata(b, peer, &b.ct300)
}

fn metadata1000(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    storescu(peer, &[&b.meta1000.dir], &[], Duration::from_secs(300))
        .context("loading the 1,000-instance series")?;
    series_metadata(b, peer, &b.meta1000)
}

fn series_metadata(b: &Bench, peer: &Peer, s: &Series) -> Result<Vec<String>> {
    let url = format!(
        "{}/studies/{}/series/{}/metadata",
        peer.dicomweb(),
        s.study,
        s.series
    );
    let out = b.get(peer, &url, RUNS, "application/dicom+json")?;
    let count: u64 = field(&out, "count")?;
    ensure!(
        count == s.sops.len() as u64,
        "the server returned {count} of {} instances",
        s.sops.len()
    );
    let done: u32 = field(&out, "runs")?;
    let of = if done == RUNS {
        String::new()
    } else {
        format!(", p50 of {done} in {BUDGET_SECONDS} s")
    };
    Ok(vec![format!(
        "{:.1} ms ({count} instances, {:.1} MB; first {:.0} ms{of})",
        field::<f64>(&out, "p50_ms")?,
        field::<f64>(&out, "bytes")? / 1e6,
        field::<f64>(&out, "first_ms")?,
    )])
}

fn frames_stored(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    let urls = frame_urls(peer, &b.ct300);
    // One request first: wrk would happily measure how fast a server says 404.
    let first = b.get(peer, &format!("{}{}", peer.http, urls[0]), 1, STORED_ACCEPT)?;
    let bytes: u64 = field(&first, "bytes")?;
    let ctype = first.get("content_type").cloned().unwrap_or_default();
    ensure!(
        bytes >= FRAME_BYTES && ctype.starts_with("multipart/related"),
        "first frame: {bytes} bytes of {ctype:?}, expected a {FRAME_BYTES}-byte frame in multipart/related"
    );
    b.wrk_median(peer, "stored", &urls, STORED_ACCEPT)
}

fn frames_j2k(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    frames_decoded(b, peer, &b.j2k50, "-xv")
}

fn frames_rle(b: &Bench, peer: &mut Peer) -> Result<Vec<String>> {
    frames_decoded(b, peer, &b.rle50, "-xr")
}

/// Loads a compressed series (`storescu` proposing its transfer syntax with `propose`),
/// checks one frame the server decodes against pydicom's decoding of the same file,
/// then measures decoded frames under load.
fn frames_decoded(b: &Bench, peer: &mut Peer, s: &Series, propose: &str) -> Result<Vec<String>> {
    storescu(peer, &[&s.dir], &[propose], Duration::from_secs(300))
        .context("loading the compressed series")?;
    let stored = b.count_instances(peer, s)?;
    ensure!(
        stored == s.sops.len() as u64,
        "{stored} of {} instances stored",
        s.sops.len()
    );
    let checked = check_and_load_decoded(b, peer, s, propose);
    if checked.is_err() {
        // A crashed server explains itself better than the client's connection error.
        std::thread::sleep(Duration::from_millis(500));
        peer.ensure_running()?;
    }
    checked
}

/// The decoded first frame of `s` compared with pydicom's decoding, then wrk on decoded frames.
fn check_and_load_decoded(
    b: &Bench,
    peer: &mut Peer,
    s: &Series,
    tag: &str,
) -> Result<Vec<String>> {
    let urls = frame_urls(peer, s);
    let file = s.dir.join("CT00001.dcm");
    let url = format!("{}{}", peer.http, urls[0]);
    let check = b.client(
        peer,
        &["frame", &url, DECODED_ACCEPT, &file.to_string_lossy()],
        Duration::from_secs(120),
    )?;
    let bytes: u64 = field(&check, "bytes")?;
    let expected: u64 = field(&check, "expected")?;
    ensure!(
        bytes == expected,
        "first frame decoded to {bytes} bytes, expected {expected} (part {:?})",
        check.get("part_type").map_or("", String::as_str)
    );
    let verdict = if field::<u8>(&check, "match")? == 1 {
        "pixel-exact against pydicom's decoding"
    } else {
        "right size but pixels DIFFER from pydicom's decoding"
    };
    let mut cells = vec![format!("{bytes} bytes, {verdict}")];
    match b.wrk_median(peer, tag, &urls, DECODED_ACCEPT) {
        Ok(figures) => cells.extend(figures),
        Err(e) => {
            // Keep the check: say why there are no figures (a crash shows only now).
            std::thread::sleep(Duration::from_millis(500));
            let e = peer.ensure_running().err().unwrap_or(e);
            cells.extend(vec![not_available(&e.context("under load")); 3]);
        }
    }
    Ok(cells)
}

/// Paths of frame 1 of every instance of `s` on `peer`.
fn frame_urls(peer: &Peer, s: &Series) -> Vec<String> {
    s.sops
        .iter()
        .map(|sop| {
            format!(
                "{}/studies/{}/series/{}/instances/{sop}/frames/1",
                peer.dicomweb_path, s.study, s.series
            )
        })
        .collect()
}

/// Sends the DICOM files in `inputs` (folders: `+sd`; add `+r` to `extra` to recurse)
/// with dcmtk's storescu over one association; returns the seconds taken.
fn storescu(peer: &Peer, inputs: &[&Path], extra: &[&str], limit: Duration) -> Result<f64> {
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
    cmd.args(extra).args(["+sp", "*.dcm"]).args(inputs);
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
        let data = |name: &str, args: &str| {
            let args: Vec<&str> = args.split_whitespace().collect();
            generate(paths, shared, name, &args)
        };
        let small = "--slices 1 --rows 64 --cols 64";
        let mut bench = Bench {
            python: paths.python(),
            client,
            lua,
            ct300: Series::empty(data("ct300", "--slices 300 --seed 1")?),
            stow300: Series::empty(data("stow300", "--slices 300 --seed 2")?),
            qido500: data("qido500", &format!("--studies 500 {small} --seed 3"))?,
            qido9500: data("qido9500", &format!("--studies 9500 {small} --seed 4"))?,
            meta1000: Series::empty(data(
                "meta1000",
                "--slices 1000 --rows 64 --cols 64 --seed 5",
            )?),
            j2k50: Series::empty(data("j2k50", "--slices 50 --ts j2k --seed 6")?),
            rle50: Series::empty(data("rle50", "--slices 50 --ts rle --seed 7")?),
            work,
        };
        for series in [
            &mut bench.ct300,
            &mut bench.stow300,
            &mut bench.meta1000,
            &mut bench.j2k50,
            &mut bench.rle50,
        ] {
            *series = read_series(&bench.python, &bench.client, &series.dir)?;
        }
        Ok(bench)
    }

    /// [`WRK_RUNS`] wrk runs of [`WRK_SECONDS`] after a warm-up, rotating over `urls`
    /// with `accept`: cells for the median p50, the median p99 and the median throughput
    /// (with the spread over the runs).
    fn wrk_median(
        &self,
        peer: &mut Peer,
        tag: &str,
        urls: &[String],
        accept: &str,
    ) -> Result<Vec<String>> {
        let list = self
            .work
            .path()
            .join(format!("frames-{}-{tag}.txt", peer.dicom_port));
        fs::write(&list, urls.join("\n") + "\n")?;
        self.wrk(peer, &list, accept, WRK_WARMUP_SECONDS)?;
        peer.ensure_running()?;
        let (mut p50, mut p99, mut rate, mut mbps) = (vec![], vec![], vec![], vec![]);
        let mut socket_errors = 0;
        for _ in 0..WRK_RUNS {
            let r = self.wrk(peer, &list, accept, WRK_SECONDS)?;
            peer.ensure_running()?;
            let requests: f64 = field(&r, "requests")?;
            let non2xx: u64 = field(&r, "non2xx")?;
            ensure!(requests > 0.0, "wrk completed no request");
            ensure!(non2xx == 0, "{non2xx} of {requests} responses were not 2xx");
            let secs = field::<f64>(&r, "duration_us")? / 1e6;
            socket_errors += ["connect", "read", "write", "timeout"]
                .iter()
                .map(|k| field::<u64>(&r, k).unwrap_or(0))
                .sum::<u64>();
            p50.push(field::<f64>(&r, "p50_us")? / 1e3);
            p99.push(field::<f64>(&r, "p99_us")? / 1e3);
            rate.push(requests / secs);
            mbps.push(field::<f64>(&r, "bytes")? / secs / 1e6);
        }
        let errors = if socket_errors > 0 {
            format!("; {socket_errors} socket errors")
        } else {
            String::new()
        };
        let spread = |v: &[f64], digits: usize| {
            let (lo, hi) = min_max(v);
            format!("{lo:.digits$}–{hi:.digits$}")
        };
        Ok(vec![
            format!("{:.1} ms ({})", median(&p50), spread(&p50, 1)),
            format!("{:.1} ms ({})", median(&p99), spread(&p99, 1)),
            format!(
                "{:.0} frames/s ({}; {:.0} MB/s{errors})",
                median(&rate),
                spread(&rate, 0),
                median(&mbps)
            ),
        ])
    }

    /// wrk with [`WRK_CONNECTIONS`] connections for `seconds`; the RESULT fields of frames.lua.
    fn wrk(
        &self,
        peer: &Peer,
        list: &Path,
        accept: &str,
        seconds: u64,
    ) -> Result<HashMap<String, String>> {
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
        .env("RANGSI_BENCH_ACCEPT", accept)
        .env("RANGSI_BENCH_AUTH", peer.auth.as_deref().unwrap_or(""));
        let out = process::output_within(&mut cmd, None, Duration::from_secs(seconds + 60))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .context("wrk printed no RESULT line")?;
        Ok(parse_fields(line))
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

    /// `runs` sequential GETs of `url` over one keep-alive connection (fewer once
    /// [`BUDGET_SECONDS`] have passed, but at least 3).
    fn get(
        &self,
        peer: &Peer,
        url: &str,
        runs: u32,
        accept: &str,
    ) -> Result<HashMap<String, String>> {
        self.client(
            peer,
            &[
                "get",
                url,
                &runs.to_string(),
                &BUDGET_SECONDS.to_string(),
                accept,
            ],
            Duration::from_secs(u64::from(BUDGET_SECONDS) + 3 * 120),
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

/// UIDs of the one series in `dir`, read by pydicom.
fn read_series(python: &Path, client: &Path, dir: &Path) -> Result<Series> {
    let out = process::capture(Command::new(python).arg(client).arg("sops").arg(dir), None)?;
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
pub(super) fn generate(paths: &Paths, shared: &Path, name: &str, args: &[&str]) -> Result<PathBuf> {
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

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
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

/// `/proc/loadavg`'s 1, 5 and 15 minute figures: other work on the machine.
fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(load_before: &str, load_after: &str, backend: Backend, dev_build: bool) -> String {
    // `storescu --version` starts with `$dcmtk: storescu v3.6.7 2022-04-22 $`.
    let storescu =
        super::version_word(Command::new("storescu").arg("--version"), 2).unwrap_or_default();
    format!(
        "## rangsi vs Orthanc: `cargo xtask bench server`\n\n\
         - date: {}\n\
         - machine: {} (both servers on it, one after the other, each with fresh data); \
           load average (1/5/15 min) {load_before} before the measurements, {load_after} after\n\
         - data: `../shared/gen_ct_series.py`: 300 × 512² CT (C-STORE, `/metadata`, frames), \
           another 300 (STOW-RS), 500 + 9,500 one-slice 64² studies (QIDO), one 1,000 × 64² series \
           (`/metadata`), all explicit VR little endian; 50 × 512² CT in JPEG 2000 lossless and \
           50 in RLE lossless (decoded frames)\n\
         - clients: dcmtk `storescu` {} with `TCP_NODELAY=1`; Python requests; \
           `wrk` (2 threads, {WRK_CONNECTIONS} connections, {WRK_RUNS} runs of {WRK_SECONDS} s \
           after a {WRK_WARMUP_SECONDS} s warm-up)\n\
         - rangsi: {} build, `serve --http 127.0.0.1:0 --dicom 127.0.0.1:0`, `RANGSI_LOG=warn`, bearer token\n\
         - Orthanc: Debian package, own JSON config, DICOMweb and GDCM (JPEG 2000 only) plugins, `TCP_NODELAY=1`, \
           no authentication, storage compression off\n{}",
        super::today(),
        super::machine(),
        storescu,
        if dev_build {
            "**dev-profile** (`--dev-build`: dependencies at opt-level 2, rangsi's own code at 0; \
             no release build was allowed on the machine, so rangsi's absolute figures are a lower \
             bound and its ratios to Orthanc favour Orthanc; ratios between rangsi columns compare \
             like with like)"
        } else {
            "release"
        },
        backend_header(backend),
    )
}

macro_rules! s3_header {
    () => {
        "- rangsi on S3: the same, with `--blobs s3://rangsi/bench --s3-endpoint http://127.0.0.1:PORT \
         --s3-region garage` against a throwaway single-node Garage (fresh folder, random loopback \
         ports, `replication_factor = 1`, `metadata_fsync = false`, `data_fsync = false`), started \
         before the server; ready when rangsi's `/readyz` says 200; the memory figures are rangsi's \
         only, not Garage's\n"
    };
}

macro_rules! pg_header {
    () => {
        "- one throwaway PostgreSQL 15 cluster for the run, on loopback with default durability \
         (`fsync`, `synchronous_commit` on; `initdb --no-sync`), a fresh database for each server \
         that uses it\n\
         - rangsi on PostgreSQL + S3: the same as rangsi, with `--database \
         postgres://postgres@127.0.0.1:PORT/rangsi` (its index; pool of 16 connections) and its \
         blobs on a throwaway Garage as for rangsi on S3; the memory figures are rangsi's only, \
         not PostgreSQL's or Garage's\n\
         - Orthanc on PostgreSQL: as Orthanc plus Debian's `orthanc-postgresql` index plugin \
         (`EnableIndex`, DICOM files still in its storage folder), database `orthanc`; the memory \
         figures are Orthanc's only, not PostgreSQL's\n"
    };
}

/// The header lines of the S3 and PostgreSQL columns.
fn backend_header(backend: Backend) -> &'static str {
    match backend {
        Backend::Local => "",
        Backend::S3 => S3_HEADER,
        Backend::PostgresS3 => concat!(
            "- backend: `--backend postgres+s3`\n",
            s3_header!(),
            pg_header!(),
        ),
        Backend::All => concat!("- backend: `--backend all`\n", s3_header!(), pg_header!()),
    }
}

const S3_HEADER: &str = concat!("- backend: `--backend s3`\n", s3_header!());

fn notes(backend: Backend) -> String {
    let ratios = match backend {
        Backend::Local => "",
        _ => {
            " Ratio columns `A ÷ B` divide column A's leading figure by column B's (same unit \
              only; \"—\" otherwise; S3 = rangsi on S3, PG+S3 = rangsi with its index on \
              PostgreSQL and its blobs on S3): above 1 means more for A — better for inst/s and \
              frames/s, worse for ms and MiB. Each server ran at its own minutes' load: compare \
              ratios with that in mind."
        }
    };
    format!(
        "Rows run in the order shown, against one server process that keeps all data sent \
         so far: the ~10,000-study QIDO rows and everything after them run with 10,002 or \
         more studies in the archive (frames as stored are measured before and after). \
         Ingest rates count the instances sent over the wall time of the whole transfer; \
         \"stored\" is what the server's QIDO-RS then lists for that series (the 9,500 studies \
         are counted by the unbounded `/studies` row). Ingest is measured once per run (a \
         repeat would need fresh UIDs). \
         Latencies are time to the last byte of the body, the median of {RUNS} sequential \
         requests on one keep-alive connection (fewer when {BUDGET_SECONDS} s have passed, \
         at least 3, as said in the cell; the first one is also given for `/metadata`); the \
         counts in brackets are what the server returned. At ~10,000 studies `PatientName=DOE*` \
         matches a quarter of them (the generator has four patient names), so it is measured \
         unbounded and with `limit=100`, the page size of a study list. \
         Frames rotate over every instance of the series: \"as stored\" asks \
         `transfer-syntax=*`, the decoded rows ask `transfer-syntax=1.2.840.10008.1.2.1` \
         (`Accept: multipart/related; type=\"application/octet-stream\"; transfer-syntax=…`) of \
         the JPEG 2000 or RLE series; one decoded frame per server is compared with pydicom's \
         decoding (pylibjpeg) of the same file. wrk figures are the median of {WRK_RUNS} runs \
         of {WRK_SECONDS} s with the min–max over those runs in brackets. Memory is read from \
         `/proc/PID/status` after each step: VmHWM, the peak resident set size of the server \
         process so far, and VmRSS, its resident size at that moment.{ratios}\n"
    )
}

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

    #[test]
    fn parses_the_backend() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_backend(&[]).ok(), Some(Backend::Local));
        assert_eq!(
            parse_backend(&args(&["--backend", "s3"])).ok(),
            Some(Backend::S3)
        );
        assert_eq!(
            parse_backend(&args(&["--backend=all"])).ok(),
            Some(Backend::All)
        );
        assert_eq!(
            parse_backend(&args(&["--backend", "postgres+s3"])).ok(),
            Some(Backend::PostgresS3)
        );
        assert!(parse_backend(&args(&["--backend", "postgres"])).is_err());
        assert_eq!(
            parse_dev_build(&args(&["--backend", "all", "--dev-build"])),
            (true, args(&["--backend", "all"]))
        );
        assert!(parse_backend(&args(&["s3"])).is_err());
    }

    #[test]
    fn ratio_columns_of_an_all_run() {
        let column = |name: &str| Column {
            name: name.into(),
            run: ServerRun {
                cells: Vec::new(),
                memory: Vec::new(),
                gone: None,
                index_bytes: None,
            },
        };
        let columns = [
            column("rangsi 0.1.0 (x), local disk"),
            column("rangsi 0.1.0 (x), S3 (Garage 2.5.0)"),
            column(
                "rangsi 0.1.0 (x), index on PostgreSQL + blobs on S3 (PostgreSQL 15.18, Garage 2.5.0)",
            ),
            column("Orthanc 1.10.1"),
            column("Orthanc 1.10.1 + PostgreSQL index 4.0 (PostgreSQL 15.18)"),
        ];
        let names: Vec<String> = ratio_pairs(&columns)
            .into_iter()
            .map(|(a, b, n)| format!("{a}/{b} {n}"))
            .collect();
        assert_eq!(
            names,
            [
                "1/0 S3 ÷ rangsi local",
                "1/3 S3 ÷ Orthanc",
                "1/4 S3 ÷ Orthanc+PG",
                "2/0 PG+S3 ÷ rangsi local",
                "2/1 PG+S3 ÷ S3",
                "2/4 PG+S3 ÷ Orthanc+PG",
            ]
        );
    }

    #[test]
    fn ratios_of_cells_with_the_same_unit() {
        assert_eq!(
            ratio("300 inst/s (300/300 stored, 1.0 s)", "600 inst/s (x)"),
            "0.50×"
        );
        assert_eq!(ratio("8.0 ms (3.4–4.1)", "4.0 ms"), "2.00×");
        assert_eq!(ratio("8.0 ms", "4000 frames/s"), "—");
        assert_eq!(ratio("n/a (server crashed)", "4.0 ms"), "—");
        assert_eq!(
            ratio("524288 bytes, pixel-exact", "524288 bytes, pixel-exact"),
            "—"
        );
        assert_eq!(ratio("1.0 ms", "0.0 ms"), "—");
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(min_max(&[3.0, 1.0, 2.0]), (1.0, 3.0));
    }
}
