//! `cargo xtask bench volume`: frame times of MPR (three views) and 3D volume rendering
//! of a 512×512×300 CT, natively (wgpu on whatever Vulkan adapter there is: Mesa's
//! lavapipe without a GPU), and in headless Chromium beside OHIF's MPR and 3D
//! (Cornerstone3D / vtk.js, npm `@ohif/app` 3.13.2) on the same data from the same
//! `rangsi serve`; memory with the volume loaded against its raw voxel bytes.
//!
//! Steps:
//! 1. Builds what is measured, as `bench viewer` does (the viewer with trunk, then
//!    `rangsi` release); `--rangsi BIN` measures a given binary and builds nothing.
//! 2. The CT: `gen_ct_series.py --slices 300 --seed 1`, cached in
//!    `~/.cache/rangsi/bench-data/ct300` (shared with `bench server` and `bench viewer`),
//!    and its voxels as one raw file for the native run (`ct_raw.py`, pydicom), kept
//!    beside it.
//! 3. Native: `cargo run --release -p rangsi-render --example volume_bench` (see that
//!    example for what each case draws).
//! 4. Browser: `npm ci` in `crates/xtask/bench-viewer`, then `bench-viewer/volume.mjs`
//!    (which reuses `run.mjs`'s set-up: data dir, `rangsi serve`, `proxy.mjs` serving
//!    OHIF, the probe, memory read-outs).
//!
//! Writes a markdown table to stdout and `$CARGO_TARGET_DIR/bench-volume.md`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::Table;
use super::viewer::{Fields, load_average, mb, npm_ci, num, parse_lines, run_streaming};
use crate::process;
use crate::setup::{self, Paths};
use crate::viewer;

const CHROMIUM: &str = "/usr/bin/chromium";
const OHIF_VERSION: &str = "3.13.2";
/// The CT: 300 slices of 512 × 512 signed 16-bit samples.
const SLICES: u64 = 300;
const SIDE: u64 = 512;
const SECONDS: u64 = 5;
/// How long one browser interaction may wait for its first drawn frame.
const MAX_SECONDS: u64 = 240;
const NATIVE_SECONDS: u64 = 3;
const LOAD_TIMEOUT_SECS: u64 = 300;
/// The targets on software rendering (interactive at reduced quality) and for memory.
const TARGET_SOFTWARE_FPS: f64 = 10.0;
const TARGET_MEMORY_RATIO: f64 = 1.2;

pub const USAGE: &str = "usage: cargo xtask bench volume [--seconds S] [--max-seconds S] [--native-seconds S] \
[--load-timeout S] [--gpu webgpu|webgl2] [--viewers rangsi,ohif] [--views mpr,3d] [--input real|synthetic] \
[--no-native] [--no-browser] [--rangsi BIN]

  --seconds S          how long each browser interaction runs (default 5)
  --max-seconds S      how long it may run for its first frame on slow (software) GPUs (default 240)
  --native-seconds S   how long each native case draws (at least 3 frames; default 3)
  --load-timeout S     how long a viewer may take to load the volume (default 300)
  --gpu                Chromium's GPU path for Rangsi: WebGPU (default) or WebGL2, both on SwiftShader
  --viewers            which viewers the browser part measures (default rangsi,ohif)
  --views              which of their views (default mpr,3d)
  --input              real (default): Chromium's input pipeline, one event per animation frame;
                       synthetic: events made in the page inside requestAnimationFrame (earlier runs)
  --no-native          skip the native (wgpu on Vulkan) part; --no-browser skips Chromium
  --rangsi BIN         measure this rangsi binary (its embedded viewer) and build nothing";

struct Options {
    seconds: u64,
    max_seconds: u64,
    native_seconds: u64,
    load_timeout_secs: u64,
    gpu: String,
    viewers: String,
    views: String,
    input: String,
    native: bool,
    browser: bool,
    rangsi: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            seconds: SECONDS,
            max_seconds: MAX_SECONDS,
            native_seconds: NATIVE_SECONDS,
            load_timeout_secs: LOAD_TIMEOUT_SECS,
            gpu: "webgpu".into(),
            viewers: "rangsi,ohif".into(),
            views: "mpr,3d".into(),
            input: "real".into(),
            native: true,
            browser: true,
            rangsi: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .with_context(|| format!("{arg} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--seconds" => o.seconds = value()?.parse().context("--seconds")?,
                "--max-seconds" => o.max_seconds = value()?.parse().context("--max-seconds")?,
                "--native-seconds" => {
                    o.native_seconds = value()?.parse().context("--native-seconds")?
                }
                "--load-timeout" => {
                    o.load_timeout_secs = value()?.parse().context("--load-timeout")?
                }
                "--gpu" => o.gpu = value()?.clone(),
                "--viewers" => o.viewers = value()?.clone(),
                "--views" => o.views = value()?.clone(),
                "--input" => o.input = value()?.clone(),
                "--no-native" => o.native = false,
                "--no-browser" => o.browser = false,
                "--rangsi" => o.rangsi = Some(PathBuf::from(value()?)),
                "--help" | "-h" => bail!("{USAGE}"),
                other => bail!("unknown option `{other}`\n{USAGE}"),
            }
        }
        ensure!(o.seconds > 0, "--seconds must be positive");
        ensure!(
            matches!(o.gpu.as_str(), "webgpu" | "webgl2"),
            "--gpu is webgpu or webgl2"
        );
        ensure!(
            o.viewers.split(',').all(|v| matches!(v, "rangsi" | "ohif")),
            "--viewers is a list of rangsi and ohif"
        );
        ensure!(
            o.views.split(',').all(|v| matches!(v, "mpr" | "3d")),
            "--views is a list of mpr and 3d"
        );
        ensure!(
            matches!(o.input.as_str(), "real" | "synthetic"),
            "--input is real or synthetic"
        );
        ensure!(
            o.native || o.browser,
            "--no-native and --no-browser: nothing to measure"
        );
        Ok(o)
    }
}

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let started = Instant::now();
    let load_before = load_average();
    setup::apt(setup::TEST_PACKAGES)?;
    setup::apt(setup::BROWSER_PACKAGES)?;
    setup::venv(paths)?;
    let shared = paths
        .shared()
        .context("../shared/gen_ct_series.py is needed for the CT series")?;
    let data =
        super::server::generate(paths, &shared, "ct300", &["--slices", "300", "--seed", "1"])?;

    let mut lines = Vec::new();
    if opts.native {
        step("native: the volume_bench example (release) on wgpu's Vulkan adapter");
        lines.extend(native(paths, &data, &opts)?);
    }
    let mut rangsi = None;
    if opts.browser {
        let bin = match &opts.rangsi {
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
        let web = paths.root.join("crates/xtask/bench-viewer");
        npm_ci(&web)?;
        step("browser (volume.mjs): Rangsi and OHIF in headless Chromium");
        let mut node = Command::new("node");
        node.arg(web.join("volume.mjs"))
            .arg("--rangsi")
            .arg(&bin)
            .arg("--ohif")
            .arg(web.join("node_modules/@ohif/app/dist"))
            .arg("--data")
            .arg(&data)
            .arg("--br-cache")
            .arg(paths.target_dir.join("bench-viewer/ohif-brotli"))
            .args(["--seconds", &opts.seconds.to_string()])
            .args(["--max-seconds", &opts.max_seconds.to_string()])
            .args(["--load-timeout", &opts.load_timeout_secs.to_string()])
            .args(["--gpu", &opts.gpu])
            .args(["--viewers", &opts.viewers])
            .args(["--rangsi-views", &opts.views])
            .args(["--ohif-views", &opts.views])
            .args(["--input", &opts.input])
            .args(["--chromium", CHROMIUM])
            .current_dir(&web)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Two viewers, each: load (bounded), a handful of interactions (each at most
        // --max-seconds), memory.
        let limit = Duration::from_secs(600 + 3 * opts.load_timeout_secs + 8 * opts.max_seconds);
        let out = run_streaming(&mut node, limit)?;
        lines.extend(parse_lines(&out));
        rangsi = Some(bin);
    }

    let load = format!(
        "load average {load_before} when the run started, {} when it ended",
        load_average()
    );
    let report = format!(
        "{}\n{}\n{}",
        header(paths, &opts, &lines, rangsi.as_deref(), &load),
        table(&lines),
        notes(&opts)
    );
    super::write_report(paths, "volume", &report, started)
}

fn step(what: &str) {
    eprintln!("bench volume: {what}");
}

/// The CT's voxels as one raw file (cached beside the series) and its geometry
/// (`ct_raw.py`'s `geometry` line).
fn raw_volume(paths: &Paths, data: &Path) -> Result<(PathBuf, Fields)> {
    let raw = data.with_extension("raw");
    let meta = data.with_extension("raw.txt");
    if !(raw.is_file() && meta.is_file()) {
        step("writing the CT's voxels as one raw file (ct_raw.py)");
        let script = paths.root.join("crates/xtask/src/bench/ct_raw.py");
        let tmp = data.with_extension("raw.tmp");
        let mut py = Command::new(paths.python());
        py.arg(&script).arg(data).arg(&tmp);
        let out = process::output_within(&mut py, None, Duration::from_secs(600))?;
        ensure!(
            out.status.success(),
            "ct_raw.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(&meta, &out.stdout)?;
        fs::rename(&tmp, &raw)?;
    }
    let geometry = parse_lines(&fs::read(&meta)?)
        .into_iter()
        .find(|(k, _)| k == "geometry")
        .map(|(_, f)| f)
        .with_context(|| format!("{}: no geometry line", meta.display()))?;
    Ok((raw, geometry))
}

fn native(paths: &Paths, data: &Path, opts: &Options) -> Result<Vec<(String, Fields)>> {
    let (raw, g) = raw_volume(paths, data)?;
    let mut cargo = paths.cargo();
    cargo.args([
        "run",
        "--release",
        "-q",
        "-p",
        "rangsi-render",
        "--example",
        "volume_bench",
        "--",
    ]);
    cargo.arg("--raw").arg(&raw);
    for key in [
        "size",
        "slices",
        "first",
        "spacing",
        "gap",
        "slope",
        "intercept",
    ] {
        let value = g
            .get(key)
            .with_context(|| format!("{key} in the raw volume's geometry"))?;
        cargo.arg(format!("--{key}")).arg(value);
    }
    cargo
        .args(["--seconds", &opts.native_seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Building the example, then 5 cases of a few frames (seconds each on lavapipe).
    let out = run_streaming(&mut cargo, Duration::from_secs(3600))?;
    let lines = parse_lines(&out);
    ensure!(
        lines.iter().any(|(k, _)| k == "native"),
        "volume_bench measured nothing"
    );
    Ok(lines)
}

fn find<'a>(
    lines: &'a [(String, Fields)],
    kind: &str,
    pairs: &[(&str, &str)],
) -> Option<&'a Fields> {
    lines
        .iter()
        .find(|(k, f)| {
            k == kind
                && pairs
                    .iter()
                    .all(|(key, v)| f.get(*key).map(String::as_str) == Some(*v))
        })
        .map(|(_, f)| f)
}

/// A native case's cell: p50 frame time and its rate.
fn native_cell(lines: &[(String, Fields)], case: &str, quality: &str) -> (String, Option<f64>) {
    match find(lines, "native", &[("case", case), ("quality", quality)]) {
        Some(f) => {
            let p50 = num(f, "p50Ms");
            (
                format!(
                    "{:.0} ms ({:.2} fps; p95 {:.0} ms, {} frames)",
                    p50.unwrap_or(f64::NAN),
                    1000.0 / p50.unwrap_or(f64::NAN),
                    num(f, "p95Ms").unwrap_or(f64::NAN),
                    f.get("frames").map_or("?", String::as_str)
                ),
                p50.map(|ms| 1000.0 / ms),
            )
        }
        None => ("not measured".into(), None),
    }
}

/// A browser interaction's cell: time per drawn frame and the animation-frame pacing.
fn browser_cell(lines: &[(String, Fields)], viewer: &str, what: &str) -> (String, Option<f64>) {
    if let Some(f) = find(lines, "interact", &[("viewer", viewer), ("what", what)]) {
        if let Some(e) = f.get("error") {
            return (format!("n/a ({e})"), None);
        }
        let updated = num(f, "updated").unwrap_or(0.0);
        if updated == 0.0 {
            return (
                format!(
                    "no frame drawn in {:.1} s ({} inputs)",
                    num(f, "seconds").unwrap_or(f64::NAN),
                    f.get("inputs").map_or("?", String::as_str)
                ),
                Some(0.0),
            );
        }
        let fps = num(f, "fps");
        // CPU per drawn frame of the GPU process (SwiftShader) and the renderer.
        let cpu = match (num(f, "gpuCpuMs"), num(f, "rendererCpuMs")) {
            (Some(g), Some(r)) => {
                format!("; CPU a frame: GPU process {g:.0} ms, renderer {r:.0} ms")
            }
            _ => String::new(),
        };
        return (
            format!(
                "{:.0} ms ({:.1} fps; {:.0} frames in {:.1} s, rAF p50 {:.0} / p95 {:.0} ms{cpu})",
                num(f, "frameMs").unwrap_or(f64::NAN),
                fps.unwrap_or(f64::NAN),
                updated,
                num(f, "seconds").unwrap_or(f64::NAN),
                num(f, "rafP50Ms").unwrap_or(f64::NAN),
                num(f, "rafP95Ms").unwrap_or(f64::NAN),
            ),
            fps,
        );
    }
    let view = if what.starts_with("mpr") { "mpr" } else { "3d" };
    // Rangsi's errors name no view (one page for both); OHIF's name theirs.
    let error = find(lines, "error", &[("viewer", viewer), ("view", view)]).or_else(|| {
        lines
            .iter()
            .find(|(k, f)| {
                k == "error"
                    && f.get("viewer").map(String::as_str) == Some(viewer)
                    && !f.contains_key("view")
            })
            .map(|(_, f)| f)
    });
    match error {
        Some(e) => (
            format!("n/a ({})", e.get("error").map_or("", String::as_str)),
            None,
        ),
        None => ("not measured".into(), None),
    }
}

fn fps_check(fps: Option<f64>) -> String {
    match fps {
        Some(v) if v >= TARGET_SOFTWARE_FPS => "≥ 10 fps ✓".into(),
        Some(_) => "≥ 10 fps ✗".into(),
        None => "≥ 10 fps ?".into(),
    }
}

/// Page memory (JS heap + ArrayBuffers + wasm memory) and PSS of renderer + GPU process.
fn memory_cells(
    lines: &[(String, Fields)],
    viewer: &str,
    view: &str,
) -> (String, String, Option<f64>) {
    let raw = (SLICES * SIDE * SIDE * 2) as f64;
    let Some(f) = find(lines, "memory", &[("viewer", viewer), ("view", view)]) else {
        return ("not measured".into(), "not measured".into(), None);
    };
    let used = num(f, "heapUsage_usedSize").unwrap_or(0.0);
    let backing = num(f, "heapUsage_backingStorageSize").unwrap_or(0.0);
    let wasm = num(f, "wasmBytes").unwrap_or(0.0);
    let wasm_extra = if backing >= wasm { 0.0 } else { wasm };
    let page = used + backing + wasm_extra;
    let page_cell = format!(
        "{} = JS heap {} + ArrayBuffers {}{} ({:.2}× raw)",
        mb(page),
        mb(used),
        mb(backing),
        if wasm_extra > 0.0 {
            format!(" + wasm memory {}", mb(wasm_extra))
        } else {
            String::new()
        },
        page / raw
    );
    let pss = |k: &str| num(f, &format!("pssKiB_{k}")).map(|v| v * 1024.0);
    let (pss_cell, whole) = match (pss("renderer"), pss("gpu-process")) {
        (Some(r), Some(g)) => (
            format!(
                "{} = renderer {} + GPU process {} ({:.2}× raw)",
                mb(r + g),
                mb(r),
                mb(g),
                (r + g) / raw
            ),
            Some((r + g) / raw),
        ),
        _ => ("n/a".into(), None),
    };
    (page_cell, pss_cell, whole)
}

fn table(lines: &[(String, Fields)]) -> String {
    let raw = (SLICES * SIDE * SIDE * 2) as f64;
    let mut t = Table::new(vec![
        "Rangsi native (wgpu, Vulkan)".into(),
        "Rangsi in Chromium".into(),
        format!("OHIF {OHIF_VERSION} in Chromium"),
        "target (software rendering)".into(),
    ]);
    let na = || "—".to_string();
    // MPR.
    let (n, _) = native_cell(lines, "mpr3", "full");
    let (r, r_fps) = browser_cell(lines, "rangsi", "mpr-scroll");
    let (o, _) = browser_cell(lines, "ohif", "mpr-scroll");
    t.row(
        "MPR, 3 views: scrolling the axial view one slice per frame (thin slab)",
        vec![n, r, o, fps_check(r_fps)],
    );
    let (r, r_fps) = browser_cell(lines, "rangsi", "mpr-crosshair");
    let (o, _) = browser_cell(lines, "ohif", "mpr-crosshair");
    t.row(
        "MPR, 3 views: dragging the crosshair in the axial view (the other two follow)",
        vec![na(), r, o, fps_check(r_fps)],
    );
    // VR.
    for (label, case, rangsi_what, ohif_what, quality) in [
        (
            "VR, CT bone, shaded: rotating by dragging (interactive quality)",
            "vr-composite",
            "vr-rotate",
            Some("vr-rotate"),
            "interactive",
        ),
        (
            "VR, CT bone, shaded: zooming by the wheel (each step at full quality)",
            "vr-composite",
            "vr-zoom",
            Some("vr-zoom"),
            "full",
        ),
        (
            "MIP: rotating by dragging (interactive quality)",
            "vr-mip",
            "mip-rotate",
            None,
            "interactive",
        ),
        (
            "MIP: zooming by the wheel (full quality)",
            "vr-mip",
            "mip-zoom",
            None,
            "full",
        ),
    ] {
        let (n, n_fps) = native_cell(lines, case, quality);
        let (r, r_fps) = browser_cell(lines, "rangsi", rangsi_what);
        let o = match ohif_what {
            Some(w) => browser_cell(lines, "ohif", w).0,
            None => "not measured (OHIF's 3D protocol shows its CT-Bone preset)".into(),
        };
        let target = if quality == "interactive" {
            format!(
                "{} (browser), {} (native)",
                fps_check(r_fps),
                fps_check(n_fps)
            )
        } else {
            String::new()
        };
        t.row(label, vec![n, r, o, target]);
    }
    // Ready.
    let ready = |viewer: &str, view: &str| -> String {
        match find(lines, "ready", &[("viewer", viewer), ("view", view)]) {
            Some(f) if f.get("ok").map(String::as_str) == Some("false") => format!(
                "not ready ({} volume(s), loaded {}, viewports: {})",
                f.get("volumes").map_or("?", String::as_str),
                f.get("loaded").map_or("?", String::as_str),
                f.get("viewports").map_or("none", String::as_str)
            ),
            Some(f) => match num(f, "ms") {
                Some(ms) => format!("{:.1} s", ms / 1000.0),
                None => "shown".into(),
            },
            None => "not measured".into(),
        }
    };
    t.row(
        "MPR ready: Rangsi from the MPR button (2D view already open), OHIF from navigation to its `mpr` protocol, until the volume is loaded and every view drawn",
        vec![na(), ready("rangsi", "mpr"), ready("ohif", "mpr"), String::new()],
    );
    t.row(
        "3D first frame: Rangsi from its 3D button (volume already loaded for MPR) until the first 3D frame is submitted, OHIF from switching the MPR page to its `only3D` protocol until the 3D viewport is drawn (not blank)",
        vec![na(), ready("rangsi", "3d"), ready("ohif", "3d"), String::new()],
    );
    // Memory.
    for (view, what) in [("mpr", "MPR"), ("3d", "3D")] {
        let (rp, rpss, _) = memory_cells(lines, "rangsi", view);
        let (op, opss, _) = memory_cells(lines, "ohif", view);
        let (r_page_ratio, _) = {
            let f = find(lines, "memory", &[("viewer", "rangsi"), ("view", view)]);
            let page = f.map(|f| {
                let used = num(f, "heapUsage_usedSize").unwrap_or(0.0);
                let backing = num(f, "heapUsage_backingStorageSize").unwrap_or(0.0);
                let wasm = num(f, "wasmBytes").unwrap_or(0.0);
                used + backing + if backing >= wasm { 0.0 } else { wasm }
            });
            (page.map(|p| p / raw), ())
        };
        t.row(
            &format!(
                "memory with the volume in {what}: page JS heap + ArrayBuffers + wasm memory (raw voxels {})",
                mb(raw)
            ),
            vec![
                na(),
                rp,
                op,
                match r_page_ratio {
                    Some(x) if x <= TARGET_MEMORY_RATIO => "≤ 1.2× raw ✓".into(),
                    Some(_) => "≤ 1.2× raw ✗".into(),
                    None => "≤ 1.2× raw ?".into(),
                },
            ],
        );
        t.row(
            &format!("memory with the volume in {what}: PSS of the renderer and GPU processes"),
            vec![na(), rpss, opss, String::new()],
        );
    }
    t.markdown()
}

fn header(
    paths: &Paths,
    o: &Options,
    lines: &[(String, Fields)],
    rangsi: Option<&Path>,
    load: &str,
) -> String {
    let env = lines
        .iter()
        .find(|(k, f)| k == "env" && f.contains_key("chromium"));
    let chromium = env
        .and_then(|(_, f)| f.get("chromium").cloned())
        .unwrap_or_else(|| "not run".into());
    let native = lines
        .iter()
        .find(|(k, f)| k == "env" && f.contains_key("adapter"));
    let adapter = native.map_or_else(
        || "not run".to_string(),
        |(_, f)| {
            format!(
                "{} (volume {}, {} brick(s), {} of texture, uploaded in {} ms)",
                f.get("adapter").map_or("?", String::as_str),
                f.get("dims").map_or("?", String::as_str),
                f.get("bricks").map_or("?", String::as_str),
                num(f, "textureBytes").map_or("?".into(), mb),
                f.get("uploadMs").map_or("?", String::as_str)
            )
        },
    );
    let backend = find(lines, "ready", &[("viewer", "rangsi"), ("view", "mpr")])
        .and_then(|f| f.get("backend").cloned())
        .unwrap_or_else(|| "unknown".into());
    let ohif_volume = find(lines, "ready", &[("viewer", "ohif"), ("view", "mpr")])
        .map(|f| {
            format!(
                "volume {} ({})",
                f.get("dims").map_or("?", String::as_str),
                f.get("dataType").map_or("?", String::as_str)
            )
        })
        .unwrap_or_default();
    let rev = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(&paths.root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "## Volume rendering: `cargo xtask bench volume`\n\n\
         - date: {}\n\
         - machine: {} ({load})\n\
         - clone at {rev}; Rangsi binary: {}\n\
         - native: wgpu on {adapter}; release build of `crates/render/examples/volume_bench.rs`\n\
         - browser: headless {chromium} (Debian), window sized for 512 × 512 views, device pixel ratio 1, \
           playwright-core from Node.js {node}, a fresh profile per viewer; Rangsi: {backend} ({} flags, SwiftShader); OHIF {OHIF_VERSION} \
           (`@ohif/app` prebuilt `dist/`, served by `proxy.mjs`) with WebGL2 on SwiftShader, {ohif_volume}\n\
         - data: {SLICES} × {SIDE}×{SIDE} signed 16-bit CT (`gen_ct_series.py --slices 300 --seed 1`), \
           raw voxels {:.1} MB\n\
         - each browser interaction ran {} s with `--input {}` (see below), each native case {} s (at least 3 \
           frames) after one untimed frame\n",
        super::today(),
        super::machine(),
        rangsi.map_or("not run".into(), |p| format!("`{}`", p.display())),
        o.gpu,
        (SLICES * SIDE * SIDE * 2) as f64 / 1e6,
        o.seconds,
        o.input,
        o.native_seconds,
    )
}

fn notes(o: &Options) -> String {
    format!(
        "How each figure is taken (`crates/render/examples/volume_bench.rs`, `crates/xtask/bench-viewer/volume.mjs`):\n\n\
         - Native: the CT's voxels (sorted by z, as stored) assembled with `rangsi_volume::assemble` and uploaded \
           slice by slice into the 16-bit 3D texture; MPR = the three 512² panes (axial, sagittal, coronal) in one \
           render pass into a 1024² target, the axial plane moved one slice per frame; VR = one 512² view, orbiting \
           3° per frame, CT bone preset with shading or MIP (window 40/400), full quality (samples every half voxel) \
           or interactive (every 1.5 voxels). After each draw the device is waited for (`poll(wait)`), so a frame's \
           time is all its GPU work; p50 over the frames drawn in {} s.\n\
         - Browser: the window is resized until each MPR view and the 3D view is 512 × 512 CSS pixels (device \
           pixel ratio 1). After two idle animation frames, one input per animation frame for {} s \
           (`--input real`: sent through Chromium's own input pipeline with the DevTools protocol, the next once \
           the page has run a frame, so it is dispatched at the start of a frame as a user's is; `--input \
           synthetic`: events made in the page inside a `requestAnimationFrame` callback, where a viewer that \
           draws at the next animation frame waits one frame) and until the viewer drew at least once (MPR: wheel notches back and forth over 40 slices; 3D: zoom \
           in and out on alternate notches; drags round a circle, 6° per frame), then two more animation frames. Frame time = that elapsed time / animation frames \
           in which the viewer drew: Rangsi's MPR panel `data-draws` changed (one draw = all three panes or the 3D \
           view), OHIF fired at least one `CORNERSTONE_IMAGE_RENDERED`. Chromium paces animation frames by the GPU \
           process, so a frame not yet done on the GPU holds back the next. rAF p50/p95: the animation-frame \
           intervals. An interaction with no animation frame for `--max-seconds` + 120 s is given up, with the rest \
           of that view.\n\
         - Rangsi: logged in, the study opened, the MPR button pressed; ready = the panel drew with every slice \
           uploaded (`data-drawn-loaded` = `data-total`). The 3D button then shows the viewer's defaults (CT bone, \
           shading on); dragging draws at interactive quality, each wheel step (zoom) at full quality; then the MIP \
           preset the same way.\n\
         - OHIF: `/viewer?StudyInstanceUIDs=…&hangingProtocolId=mpr` (three orthographic volume viewports), ready \
           when cornerstone's cached volume reports `loadStatus.loaded` and the three viewports' canvases are not \
           blank; wheel = its stack scroll; the crosshair drag with its `Crosshairs` tool made active on the left \
           button. 3D: on the same page, the layout switched to its `only3D` protocol \
           (`services.hangingProtocolService.setProtocol`: one `volume3d` viewport, preset CT-Bone), left drag = \
           its trackball rotate, wheel = its zoom. OHIF has no reduced quality while dragging.\n\
         - Memory: as in `bench viewer` (after a forced GC, CDP `Runtime.getHeapUsage` of the page: V8 heap + \
           ArrayBuffer backing stores, wasm memory; PSS from `/proc/PID/smaps_rollup` of the renderer (page + \
           workers) and GPU processes — with SwiftShader the textures are in the GPU process).\n",
        o.native_seconds, o.seconds
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
    fn cells_say_what_was_measured_or_why_not() {
        let lines = vec![
            line(
                "native",
                &[
                    ("case", "mpr3"),
                    ("quality", "full"),
                    ("p50Ms", "250"),
                    ("p95Ms", "300"),
                    ("frames", "12"),
                ],
            ),
            line(
                "interact",
                &[
                    ("viewer", "rangsi"),
                    ("what", "mpr-scroll"),
                    ("updated", "50"),
                    ("seconds", "5"),
                    ("frameMs", "100"),
                    ("fps", "10"),
                    ("rafP50Ms", "90"),
                    ("rafP95Ms", "150"),
                ],
            ),
            line(
                "error",
                &[("viewer", "ohif"), ("view", "3d"), ("error", "blank")],
            ),
        ];
        assert_eq!(
            native_cell(&lines, "mpr3", "full"),
            ("250 ms (4.00 fps; p95 300 ms, 12 frames)".into(), Some(4.0))
        );
        assert_eq!(
            browser_cell(&lines, "rangsi", "mpr-scroll").0,
            "100 ms (10.0 fps; 50 frames in 5.0 s, rAF p50 90 / p95 150 ms)"
        );
        assert_eq!(browser_cell(&lines, "ohif", "vr-rotate").0, "n/a (blank)");
        assert_eq!(browser_cell(&lines, "ohif", "mpr-scroll").0, "not measured");
        assert_eq!(fps_check(Some(10.0)), "≥ 10 fps ✓");
    }

    #[test]
    fn help_is_usage() {
        assert!(Options::parse(&["--bogus".into()]).is_err());
        assert!(Options::parse(&["--no-native".into(), "--no-browser".into()]).is_err());
        let o = Options::parse(&["--seconds".into(), "2".into()]).expect("options");
        assert_eq!(o.seconds, 2);
    }
}
