//! `cargo xtask bench viewer`: Rangsi's viewer beside OHIF (npm `@ohif/app`, its
//! prebuilt `dist/`) in the same headless Chromium, on the same 300-slice CT, from the
//! same `rangsi serve`.
//!
//! Steps:
//! 1. Builds what is measured, as `cargo xtask test` does: the viewer (trunk, release)
//!    then `rangsi` (release, which embeds it). `--rangsi BIN` measures a given binary
//!    instead (its embedded viewer) and builds nothing.
//! 2. The CT: `gen_ct_series.py --slices 300 --seed 1` (512² signed 16-bit, explicit VR
//!    little endian), cached in `~/.cache/rangsi/bench-data/ct300` (shared with
//!    `bench server`).
//! 3. `npm ci` in `crates/xtask/bench-viewer` (OHIF and playwright-core pinned; OHIF's
//!    build-time dependencies are replaced by an empty package, only `dist/` is served).
//! 4. `bench-viewer/run.mjs` seeds a fresh data dir, starts `rangsi serve` and
//!    `proxy.mjs` (OHIF's `dist/` + `/dicomweb` forwarded to the same server with a
//!    bearer token), and measures each viewer in fresh browser profiles: first-load
//!    bytes, first diagnostic image and whole series loaded on emulated links
//!    (CDP `Network.emulateNetworkConditions`), scroll frame rate and memory with the
//!    series loaded. What "first diagnostic image" means for each viewer is in
//!    `bench-viewer/probe.js`.
//!
//! Writes a markdown table (medians over `--runs`, with min–max) to stdout and
//! `$CARGO_TARGET_DIR/bench-viewer.md`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::Table;
use crate::process;
use crate::setup::{self, Paths};
use crate::viewer;

const CHROMIUM: &str = "/usr/bin/chromium";
const OHIF_VERSION: &str = "3.13.2";
/// The CT: 300 slices of 512 × 512 signed 16-bit samples.
const SLICES: u64 = 300;
const ROWS: u64 = 512;
const COLUMNS: u64 = 512;
const RUNS: u32 = 3;
/// Emulated links, `Mbit/s/latency ms`, as the issue names them.
const LINKS: &str = "30/10,10/50";
const LOAD_TIMEOUT_SECS: u64 = 180;
const SCROLL_SECS: u64 = 4;

/// Targets of the issue (Rangsi's column is checked against them).
const TARGET_FIRST_LOAD_BYTES: f64 = 1.2e6;
const TARGET_FIRST_IMAGE_MS: [(&str, f64); 2] =
    [("30 Mbit/s, 10 ms", 500.0), ("10 Mbit/s, 50 ms", 1500.0)];
const TARGET_FPS: f64 = 60.0;
const TARGET_MEMORY_RATIO: f64 = 1.2;

/// One output line of `run.mjs`: its kind and `key=value` fields.
pub(super) type Fields = HashMap<String, String>;

struct Options {
    runs: u32,
    links: String,
    load_timeout_secs: u64,
    scroll_secs: u64,
    gpu: String,
    rangsi: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            runs: RUNS,
            links: LINKS.into(),
            load_timeout_secs: LOAD_TIMEOUT_SECS,
            scroll_secs: SCROLL_SECS,
            gpu: "webgpu".into(),
            rangsi: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--runs" => o.runs = value()?.parse().context("--runs")?,
                "--links" => o.links = value()?.clone(),
                "--load-timeout" => {
                    o.load_timeout_secs = value()?.parse().context("--load-timeout")?
                }
                "--scroll-seconds" => {
                    o.scroll_secs = value()?.parse().context("--scroll-seconds")?
                }
                "--gpu" => o.gpu = value()?.clone(),
                "--rangsi" => o.rangsi = Some(PathBuf::from(value()?)),
                other => bail!(
                    "unknown option `{other}` (bench viewer [--runs N] [--links 30/10,10/50] \
                     [--load-timeout S] [--scroll-seconds S] [--gpu webgpu|webgl2] [--rangsi BIN])"
                ),
            }
        }
        ensure!(o.runs > 0, "--runs must be positive");
        ensure!(
            matches!(o.gpu.as_str(), "webgpu" | "webgl2"),
            "--gpu is webgpu or webgl2"
        );
        for link in o.links.split(',').filter(|l| !l.is_empty()) {
            let ok = link
                .split_once('/')
                .is_some_and(|(a, b)| a.parse::<f64>().is_ok() && b.parse::<f64>().is_ok());
            ensure!(ok, "--links: `{link}` is not MBIT/LATENCY_MS");
        }
        Ok(o)
    }
}

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let started = Instant::now();
    let load_before = load_average();
    setup::apt(setup::BROWSER_PACKAGES)?;
    setup::venv(paths)?;
    let shared = paths
        .shared()
        .context("../shared/gen_ct_series.py is needed for the CT series")?;
    let rangsi = match &opts.rangsi {
        Some(bin) => {
            ensure!(bin.is_file(), "--rangsi {}: no such file", bin.display());
            bin.clone()
        }
        None => {
            step("building the viewer (trunk) and rangsi (release)");
            viewer::build(paths)?;
            paths.build_rangsi(true)?
        }
    };
    let data =
        super::server::generate(paths, &shared, "ct300", &["--slices", "300", "--seed", "1"])?;
    let web = web_dir(paths);
    npm_ci(&web)?;

    step("measuring (run.mjs): Rangsi and OHIF in headless Chromium");
    let limit = run_limit(&opts);
    let mut node = Command::new("node");
    node.arg(web.join("run.mjs"))
        .arg("--rangsi")
        .arg(&rangsi)
        .arg("--ohif")
        .arg(web.join("node_modules/@ohif/app/dist"))
        .arg("--data")
        .arg(&data)
        .arg("--br-cache")
        .arg(paths.target_dir.join("bench-viewer/ohif-brotli"))
        .args(["--runs", &opts.runs.to_string()])
        .args(["--links", &opts.links])
        .args(["--load-timeout", &opts.load_timeout_secs.to_string()])
        .args(["--scroll-seconds", &opts.scroll_secs.to_string()])
        .args(["--gpu", &opts.gpu])
        .args(["--chromium", CHROMIUM])
        .current_dir(&web)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let out = run_streaming(&mut node, limit)?;
    let lines = parse_lines(&out);
    ensure!(
        lines.iter().any(|(k, _)| k == "run"),
        "run.mjs measured nothing (see its messages above)"
    );

    let load = format!(
        "load average {load_before} when the run started, {} when it ended",
        load_average()
    );
    let report = format!(
        "{}\n{}\n{}",
        header(paths, &opts, &lines, &rangsi, &load),
        table(&lines),
        notes(&opts)
    );
    super::write_report(paths, "viewer", &report, started)
}

fn step(what: &str) {
    eprintln!("bench viewer: {what}");
}

fn web_dir(paths: &Paths) -> PathBuf {
    paths.root.join("crates/xtask/bench-viewer")
}

/// The one-minute load average: how busy the machine was besides this benchmark.
pub(super) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

/// Generous bound for run.mjs: a warm-up and `runs` loads per viewer and link (each
/// at most the load timeout), one unthrottled load with scrolling, start-up and import.
fn run_limit(o: &Options) -> Duration {
    let links = o.links.split(',').filter(|l| !l.is_empty()).count() as u64;
    let loads = 2 * (2 + links * u64::from(o.runs));
    Duration::from_secs(300 + loads * (o.load_timeout_secs + 30) + 2 * o.scroll_secs)
}

/// Runs `cmd` (stdout piped, stderr shown as it comes) and returns its stdout.
pub(super) fn run_streaming(cmd: &mut Command, limit: Duration) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", process::describe(cmd)))?;
    let mut pipe = child.stdout.take().context("no stdout pipe")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    });
    let status = process::wait_within(&mut child, limit)?;
    let out = reader.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(out),
        Some(s) => bail!("`{}` failed ({s})", process::describe(cmd)),
        None => bail!(
            "`{}` did not finish within {} s (killed)",
            process::describe(cmd),
            limit.as_secs()
        ),
    }
}

/// `npm ci` when `node_modules` does not match the lockfile (a hash stamp).
pub(super) fn npm_ci(web: &Path) -> Result<()> {
    let lock = fs::read(web.join("package-lock.json"))?;
    let wanted = format!("{:016x}\n", setup::fnv1a64(&lock));
    let stamp = web.join("node_modules/.rangsi-lock.fnv64");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    step("npm ci (bench-viewer/package-lock.json: @ohif/app, playwright-core)");
    let mut ci = Command::new("npm");
    ci.args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(web);
    process::output_within(&mut ci, None, Duration::from_secs(900))?;
    fs::write(&stamp, wanted)?;
    Ok(())
}

/// `kind<TAB>key=value…` lines; other lines are ignored.
pub(super) fn parse_lines(stdout: &[u8]) -> Vec<(String, Fields)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let kind = parts.next()?.to_string();
            let fields: Fields = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (!fields.is_empty()).then_some((kind, fields))
        })
        .collect()
}

pub(super) fn num(f: &Fields, key: &str) -> Option<f64> {
    f.get(key)?.parse().ok()
}

pub(super) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Median and range of `key` over the runs of `viewer` on `link`, or why there is none.
fn summary(
    lines: &[(String, Fields)],
    viewer: &str,
    link: &str,
    key: &str,
) -> Result<(f64, f64, f64), String> {
    let runs: Vec<&Fields> = lines
        .iter()
        .filter(|(k, f)| {
            k == "run"
                && f.get("viewer").map(String::as_str) == Some(viewer)
                && f.get("link").map(String::as_str) == Some(link)
        })
        .map(|(_, f)| f)
        .collect();
    if runs.is_empty() {
        return Err("not measured".into());
    }
    let mut values: Vec<f64> = runs.iter().filter_map(|f| num(f, key)).collect();
    if values.len() < runs.len() {
        let why = runs
            .iter()
            .find_map(|f| f.get("error").cloned())
            .unwrap_or_else(|| {
                let r = runs.iter().find(|f| num(f, key).is_none()).copied();
                let loaded = r.and_then(|f| f.get("loaded").cloned()).unwrap_or_default();
                let total = r.and_then(|f| f.get("total").cloned()).unwrap_or_default();
                let limit = r.and_then(|f| num(f, "timeoutMs")).unwrap_or(0.0) / 1000.0;
                format!("not reached within {limit:.0} s ({loaded}/{total} slices)")
            });
        return Err(format!(
            "{}/{} runs: {why}",
            runs.len() - values.len(),
            runs.len()
        ));
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = median(&mut values).unwrap_or(f64::NAN);
    Ok((m, lo, hi))
}

fn secs_cell(s: &Result<(f64, f64, f64), String>) -> String {
    match s {
        Ok((m, lo, hi)) if (hi - lo).abs() < 1.0 => format!("{:.2} s", m / 1000.0),
        Ok((m, lo, hi)) => format!(
            "{:.2} s ({:.2}–{:.2})",
            m / 1000.0,
            lo / 1000.0,
            hi / 1000.0
        ),
        Err(e) => format!("n/a ({e})"),
    }
}

fn ratio_cell(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

fn check(value: Option<f64>, target: f64, at_most: bool) -> &'static str {
    match value {
        Some(v) if (at_most && v <= target) || (!at_most && v >= target) => "✓",
        Some(_) => "✗",
        None => "?",
    }
}

pub(super) fn mb(bytes: f64) -> String {
    format!("{:.2} MB", bytes / 1e6)
}

/// The first field of `kind` lines for `viewer`.
fn single<'a>(lines: &'a [(String, Fields)], kind: &str, viewer: &str) -> Option<&'a Fields> {
    lines
        .iter()
        .find(|(k, f)| k == kind && f.get("viewer").map(String::as_str) == Some(viewer))
        .map(|(_, f)| f)
}

fn links(lines: &[(String, Fields)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (k, f) in lines {
        if k == "run"
            && let Some(l) = f.get("link")
            && !out.contains(l)
        {
            out.push(l.clone());
        }
    }
    // The unthrottled load last.
    out.sort_by_key(|l| l == "loopback");
    out
}

fn table(lines: &[(String, Fields)]) -> String {
    let raw = (SLICES * ROWS * COLUMNS * 2) as f64;
    let mut t = Table::new(vec![
        "Rangsi".into(),
        format!("OHIF {OHIF_VERSION}"),
        "Rangsi / OHIF".into(),
        "target (Rangsi)".into(),
    ]);
    let links = links(lines);
    let first_link = links.first().cloned().unwrap_or_default();

    // (1) First-load bytes: the app's own files up to the first image, first throttled run.
    let app = |viewer: &str| -> (Option<f64>, String) {
        let f = lines
            .iter()
            .find(|(k, f)| {
                k == "run"
                    && f.get("viewer").map(String::as_str) == Some(viewer)
                    && f.get("link") == Some(&first_link)
                    && f.contains_key("bytesToFirstImage_app")
            })
            .map(|(_, f)| f);
        match f {
            Some(f) => {
                let part = |k: &str| num(f, &format!("bytesToFirstImage_{k}")).unwrap_or(0.0) / 1e3;
                let total = num(f, "bytesToFirstImage_app");
                (
                    total,
                    format!(
                        "{} (wasm {:.0} KB, js {:.0} KB, css {:.0} KB, html + other {:.0} KB)",
                        total.map_or("?".into(), mb),
                        part("wasm"),
                        part("js"),
                        part("css"),
                        part("html") + part("other")
                    ),
                )
            }
            None => (None, "n/a (no image shown)".into()),
        }
    };
    let (r_bytes, r_cell) = app("rangsi");
    let (o_bytes, o_cell) = app("ohif");
    t.row(
        "(1) first load: app files transferred until the first image (compressed, on the wire)",
        vec![
            r_cell,
            o_cell,
            ratio_cell(r_bytes, o_bytes),
            format!("≤ 1.2 MB {}", check(r_bytes, TARGET_FIRST_LOAD_BYTES, true)),
        ],
    );

    // (2) First diagnostic image, (3) whole series, per link.
    for (label, key) in [
        ("(2) navigation → first diagnostic image", "firstImageMs"),
        (
            "(3) navigation → whole series scrollable (all slices decoded)",
            "allLoadedMs",
        ),
    ] {
        for link in &links {
            let r = summary(lines, "rangsi", link, key);
            let o = summary(lines, "ohif", link, key);
            let target = if key == "firstImageMs" {
                TARGET_FIRST_IMAGE_MS
                    .iter()
                    .find(|(l, _)| l == link)
                    .map(|(_, ms)| {
                        format!(
                            "≤ {:.1} s {}",
                            ms / 1000.0,
                            check(r.as_ref().ok().map(|v| v.0), *ms, true)
                        )
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let what = if link == "loopback" {
                "loopback, not throttled".to_string()
            } else {
                link.clone()
            };
            t.row(
                &format!("{label}, {what}"),
                vec![
                    secs_cell(&r),
                    secs_cell(&o),
                    ratio_cell(r.as_ref().ok().map(|v| v.0), o.as_ref().ok().map(|v| v.0)),
                    target,
                ],
            );
        }
    }

    // (4) Scrolling.
    let scroll = |viewer: &str| single(lines, "scroll", viewer);
    let fps = |viewer: &str| scroll(viewer).and_then(|f| num(f, "fps"));
    let shown = |viewer: &str| scroll(viewer).and_then(|f| num(f, "rendersPerSec"));
    let scroll_cell = |viewer: &str| match scroll(viewer) {
        Some(f) if f.contains_key("error") => format!("n/a ({})", f["error"]),
        Some(f) => format!(
            "{:.1} fps (frame p50 {:.1} ms, p95 {:.1} ms); {:.1} slices drawn/s",
            num(f, "fps").unwrap_or(f64::NAN),
            num(f, "p50FrameMs").unwrap_or(f64::NAN),
            num(f, "p95FrameMs").unwrap_or(f64::NAN),
            num(f, "rendersPerSec").unwrap_or(f64::NAN),
        ),
        None => "n/a (not measured)".into(),
    };
    t.row(
        "(4) scrolling the loaded series, one wheel event per animation frame",
        vec![
            scroll_cell("rangsi"),
            scroll_cell("ohif"),
            format!(
                "{} (slices/s {})",
                ratio_cell(fps("rangsi"), fps("ohif")),
                ratio_cell(shown("rangsi"), shown("ohif"))
            ),
            format!(
                "60 fps {}",
                check(shown("rangsi"), TARGET_FPS * 0.95, false)
            ),
        ],
    );

    // (5) Memory.
    let memory = |viewer: &str| single(lines, "memory", viewer);
    let heap = |viewer: &str| {
        memory(viewer).map(|f| {
            let used = num(f, "heapUsage_usedSize").unwrap_or(0.0);
            let backing = num(f, "heapUsage_backingStorageSize").unwrap_or(0.0);
            // The viewer's wasm memory (Rangsi's main module) when backingStorageSize
            // does not already count it.
            let wasm = num(f, "wasmBytes").unwrap_or(0.0);
            let wasm_extra = if backing >= wasm { 0.0 } else { wasm };
            used + backing + wasm_extra
        })
    };
    let heap_cell = |viewer: &str| match memory(viewer) {
        Some(f) => {
            let backing = num(f, "heapUsage_backingStorageSize").unwrap_or(0.0);
            let wasm = num(f, "wasmBytes").filter(|w| *w > backing);
            format!(
                "{} = JS heap {} + ArrayBuffers {}{} ({:.2}× raw)",
                heap(viewer).map_or("?".into(), mb),
                num(f, "heapUsage_usedSize").map_or("?".into(), mb),
                mb(backing),
                wasm.map_or(String::new(), |w| format!(" + wasm memory {}", mb(w))),
                heap(viewer).unwrap_or(0.0) / raw
            )
        }
        None => "n/a (not measured)".into(),
    };
    t.row(
        &format!(
            "(5) page memory with the series loaded: JS heap + ArrayBuffers/wasm (CDP Runtime.getHeapUsage), raw pixels {}",
            mb(raw)
        ),
        vec![
            heap_cell("rangsi"),
            heap_cell("ohif"),
            ratio_cell(heap("rangsi"), heap("ohif")),
            format!(
                "≤ 1.2× raw {}",
                check(heap("rangsi").map(|h| h / raw), TARGET_MEMORY_RATIO, true)
            ),
        ],
    );
    let pss = |viewer: &str, kind: &str| {
        memory(viewer)
            .and_then(|f| num(f, &format!("pssKiB_{kind}")))
            .map(|k| k * 1024.0)
    };
    let pss_total = |viewer: &str| Some(pss(viewer, "renderer")? + pss(viewer, "gpu-process")?);
    let pss_cell = |viewer: &str| match (pss(viewer, "renderer"), pss(viewer, "gpu-process")) {
        (Some(r), Some(g)) => format!(
            "{} = renderer {} + GPU process {} ({:.2}× raw)",
            mb(r + g),
            mb(r),
            mb(g),
            (r + g) / raw
        ),
        _ => "n/a".into(),
    };
    t.row(
        "(5b) the same, by the OS: PSS of the renderer (page + workers) and GPU processes (textures live there)",
        vec![
            pss_cell("rangsi"),
            pss_cell("ohif"),
            ratio_cell(pss_total("rangsi"), pss_total("ohif")),
            String::new(),
        ],
    );
    t.markdown()
}

fn header(
    paths: &Paths,
    o: &Options,
    lines: &[(String, Fields)],
    rangsi: &Path,
    load: &str,
) -> String {
    let env = lines.iter().find(|(k, _)| k == "env").map(|(_, f)| f);
    let chromium = env
        .and_then(|f| f.get("chromium").cloned())
        .unwrap_or_else(|| "unknown".into());
    let backend = lines
        .iter()
        .find_map(|(k, f)| (k == "run").then(|| f.get("backend").cloned()).flatten())
        .unwrap_or_else(|| "unknown".into());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let rev = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(&paths.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let gpu = if o.gpu == "webgpu" {
        "flags for WebGPU on SwiftShader Vulkan (`--enable-unsafe-webgpu --use-vulkan=swiftshader \
         --use-angle=swiftshader`, as the e2e tests); WebGL2 on SwiftShader (ANGLE) for OHIF's cornerstone3D"
    } else {
        "WebGL2 only (SwiftShader) for both"
    };
    format!(
        "## Viewer: Rangsi beside OHIF in the browser: `cargo xtask bench viewer`\n\n\
         - date: {}\n\
         - machine: {} ({load}; other builds shared the 2 cores, so times are inflated and noisy)\n\
         - Rangsi: {}, release build with the trunk-built viewer embedded; its viewer drew with {backend}\n\
         - OHIF: npm `@ohif/app` {OHIF_VERSION} prebuilt `dist/` (3 decode web workers, its default), served by \
           `crates/xtask/bench-viewer/proxy.mjs` on one origin with `/dicomweb` forwarded to the same `rangsi serve` \
           (bearer token), brotli quality 11 like Rangsi's embedded assets\n\
         - browser: headless {chromium} (Debian), 1280×800, driven by playwright-core from Node.js {node}; \
           GPU path: {gpu}; a fresh profile (empty cache) per load\n\
         - data: {SLICES} × {ROWS}×{COLUMNS} signed 16-bit CT slices, explicit VR little endian \
           (`gen_ct_series.py --slices 300 --seed 1`); raw pixels {:.1} MB; the server compresses frames on request \
           (both viewers accept br/gzip)\n\
         - runs: {} measured loads per viewer and link (median, min–max) after one warm-up load each; \
           scrolling and memory from one unthrottled load\n",
        super::today(),
        super::machine(),
        if o.rangsi.is_some() {
            format!(
                "`{}` (given with `--rangsi`; the clone is at {rev})",
                rangsi.display()
            )
        } else {
            format!("built from the clone at {rev}")
        },
        (SLICES * ROWS * COLUMNS * 2) as f64 / 1e6,
        o.runs,
    )
}

fn notes(o: &Options) -> String {
    format!(
        "How each figure is taken (`crates/xtask/bench-viewer/run.mjs`, `probe.js`):\n\n\
         - Links: CDP `Network.emulateNetworkConditions` (throughput both ways, latency per request) on the page \
           from before navigation; Chromium applies it to the page's workers' fetches too (Rangsi's frames are \
           fetched by its decode worker). Rangsi is logged in first (`POST /api/login`, session cookie), then both \
           open `/viewer?StudyInstanceUIDs=UID`.\n\
         - First diagnostic image, Rangsi: the viewport's `data-drawn` attribute is first set (the slice's decoded \
           16-bit pixels were uploaded and presented; what the e2e tests wait on). OHIF: the first \
           `CORNERSTONE_IMAGE_RENDERED` event after which the viewport's `canvas.cornerstone-canvas` is not blank. \
           Times are `performance.now()` in the page, i.e. from navigation start.\n\
         - Whole series scrollable, Rangsi: `data-loaded` = `data-total` (every slice decoded and on the GPU). OHIF: \
           every image id of the displayed stack is a loaded image in cornerstone's cache (`window.cornerstone.cache`); \
           OHIF prefetches the stack by itself. Load timeout {} s.\n\
         - First-load bytes: responses other than `/dicomweb` and `/api` finished before the first image, bytes on \
           the wire (headers + compressed body, CDP `encodedDataLength` via playwright's `request.sizes()`), page \
           and workers.\n\
         - Scrolling: with the series loaded, one synthetic wheel event (as Chromium sends for a notch) per \
           `requestAnimationFrame` on the viewer's canvas for {} s, reversing at the ends; fps = animation frames/s, \
           slices drawn/s = the viewer's renders (Rangsi `data-draws`, OHIF `CORNERSTONE_IMAGE_RENDERED`).\n\
         - Memory: after `HeapProfiler.collectGarbage`, `Runtime.getHeapUsage` of the page (V8 heap used + \
           ArrayBuffer backing stores, wasm memory included) — the page only: workers' heaps are not in it. Rangsi \
           keeps decoded slices as GPU textures (in the GPU process with SwiftShader), OHIF as typed arrays in the \
           page; the PSS row counts both sides whole.\n",
        o.load_timeout_secs, o.scroll_secs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: &str, fields: &[(&str, &str)]) -> (String, Fields) {
        (
            kind.to_string(),
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn parses_flattened_lines() {
        let l = parse_lines(b"run\tviewer=rangsi\tbytesToFirstImage_wasm=1000\nnoise\n");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].1["bytesToFirstImage_wasm"], "1000");
    }

    #[test]
    fn summary_gives_median_and_range_or_why_not() {
        let lines = vec![
            line(
                "run",
                &[("viewer", "ohif"), ("link", "x"), ("firstImageMs", "3000")],
            ),
            line(
                "run",
                &[("viewer", "ohif"), ("link", "x"), ("firstImageMs", "1000")],
            ),
            line(
                "run",
                &[("viewer", "ohif"), ("link", "x"), ("firstImageMs", "2000")],
            ),
            line(
                "run",
                &[
                    ("viewer", "rangsi"),
                    ("link", "x"),
                    ("loaded", "10"),
                    ("total", "300"),
                    ("timeoutMs", "180000"),
                ],
            ),
        ];
        assert_eq!(
            summary(&lines, "ohif", "x", "firstImageMs"),
            Ok((2000.0, 1000.0, 3000.0))
        );
        assert_eq!(
            secs_cell(&summary(&lines, "ohif", "x", "firstImageMs")),
            "2.00 s (1.00–3.00)"
        );
        assert_eq!(
            summary(&lines, "rangsi", "x", "firstImageMs"),
            Err("1/1 runs: not reached within 180 s (10/300 slices)".into())
        );
    }
}
