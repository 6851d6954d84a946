//! `cargo xtask bench pixels`: how fast `rangsi-pixels` decodes frames, natively and
//! compiled to wasm in headless Chromium, beside the decoders Cornerstone3D uses for
//! the same transfer syntax, in the same page on the same frames.
//!
//! Steps, each bounded in time; one that fails gives "n/a (reason)" in its cells:
//! 1. Test frames (`bench-pixels/prepare.py`, cached in `~/.cache/rangsi/bench-data/pixels`):
//!    512² signed 16-bit CT slices from `../shared/gen_ct_series.py`, encoded by dcmtk,
//!    GDCM and OpenJPH, checked against pydicom's decoding, one file per frame.
//! 2. Native: `pixels-bench-native` (crate `rangsi-pixels-bench-wasm`, release build).
//! 3. Browser: the same crate for wasm32 (cargo profile `wasm-worker`, the viewer's
//!    decode worker's: opt-level 3, LTO, one codegen unit; `wasm-bindgen --target web`,
//!    `wasm-opt -O3` from npm binaryen), once as is and once with `+simd128`, then
//!    `bench-pixels/run.mjs` serves
//!    `bench-pixels/bench.js`, the module, the codec packages and the frames on
//!    127.0.0.1 and drives Chromium with playwright-core.
//!
//! Every decoder's output is checked against the source pixels (lossless syntaxes) and
//! rangsi's against the peer's, sample by sample, so the figures compare equal work.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::Table;
use crate::process;
use crate::setup::{self, Paths};

/// Test slices per transfer syntax.
const SLICES: u32 = 20;
const SEED: u32 = 21;
/// Each timed run lasts at least this long; the median of the runs is reported.
const SECONDS_PER_RUN: f64 = 1.0;
const RUNS: u32 = 5;
/// Must equal the `wasm-bindgen` pinned in `crates/pixels-bench-wasm/Cargo.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const CHROMIUM: &str = "/usr/bin/chromium";
const PACKAGE: &str = "rangsi-pixels-bench-wasm";
const WASM_NAME: &str = "rangsi_pixels_bench_wasm";
const BUILD_LIMIT: Duration = Duration::from_secs(1800);
/// The cargo profile of the viewer's decode worker (workspace Cargo.toml, used by
/// index.html), so the module measured is built like the one that ships.
const WASM_PROFILE: &str = "wasm-worker";

/// One output line of the native binary or of `run.mjs`: its `key=value` fields.
type Fields = HashMap<String, String>;

/// A benchmarked transfer syntax, from `manifest.tsv`.
struct Syntax {
    id: String,
    label: String,
    encoder: String,
    frames: u64,
    bytes: u64,
}

struct Options {
    seconds: f64,
    runs: u32,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut opts = Options {
            seconds: SECONDS_PER_RUN,
            runs: RUNS,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--seconds" => opts.seconds = value()?.parse().context("--seconds")?,
                "--runs" => opts.runs = value()?.parse().context("--runs")?,
                other => bail!("unknown option `{other}` (bench pixels [--seconds S] [--runs N])"),
            }
        }
        ensure!(
            opts.seconds > 0.0 && opts.runs > 0,
            "--seconds and --runs must be positive"
        );
        Ok(opts)
    }
}

/// What the browser step produced.
struct Browser {
    user_agent: String,
    results: Vec<Fields>,
    sizes: Vec<Fields>,
    module: Module,
    /// The `+simd128` build, or why there is none.
    simd: Result<Module, String>,
}

/// One wasm-bindgen build of the benchmark crate.
struct Module {
    /// wasm-bindgen's output folder (served as `/pkg` or `/pkg-simd128`).
    pkg: PathBuf,
    /// Size of the module before `wasm-opt`.
    pre_opt_bytes: u64,
    /// What happened to `wasm-opt`.
    wasm_opt: String,
}

/// Builds `rangsi-pixels-bench-wasm` for wasm32 with the profile the viewer's decode
/// worker ships with ([`WASM_PROFILE`]), runs wasm-bindgen
/// (`--target web`) and `wasm-opt -O3`. With `simd128`, with `-C target-feature=+simd128`
/// in a target folder of its own (other RUSTFLAGS would make cargo rebuild the other one).
fn build_module(paths: &Paths, web: &Path, wasm_bindgen: &Path, simd128: bool) -> Result<Module> {
    let variant = if simd128 { "simd128" } else { "default" };
    let mut build = paths.cargo();
    let target_dir = if simd128 {
        let dir = paths.target_dir.join("bench-pixels/target-simd128");
        build
            .env("CARGO_TARGET_DIR", &dir)
            .env("RUSTFLAGS", "-C target-feature=+simd128");
        dir
    } else {
        paths.target_dir.clone()
    };
    build.args([
        "build",
        "--profile",
        WASM_PROFILE,
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        PACKAGE,
        "--lib",
    ]);
    process::output_within(&mut build, None, BUILD_LIMIT)?;
    let wasm = target_dir.join(format!(
        "wasm32-unknown-unknown/{WASM_PROFILE}/{WASM_NAME}.wasm"
    ));
    let pkg = paths.target_dir.join(format!("bench-pixels/pkg-{variant}"));
    if pkg.exists() {
        fs::remove_dir_all(&pkg)?;
    }
    let mut bindgen = Command::new(wasm_bindgen);
    bindgen
        .args(["--target", "web", "--out-dir"])
        .arg(&pkg)
        .arg(&wasm);
    process::output_within(&mut bindgen, None, Duration::from_secs(120))?;
    let bg = pkg.join(format!("{WASM_NAME}_bg.wasm"));
    let pre_opt_bytes = fs::metadata(&bg)?.len();
    // The size and speed that would ship; without wasm-opt the module still runs.
    let optimised = pkg.join("opt.wasm");
    let mut opt = Command::new(web.join("node_modules/.bin/wasm-opt"));
    opt.args(["-O3"]).arg(&bg).arg("-o").arg(&optimised);
    let wasm_opt = match process::output_within(&mut opt, None, Duration::from_secs(600)) {
        Ok(_) => {
            fs::rename(&optimised, &bg)?;
            "`wasm-opt -O3` (npm binaryen)".to_string()
        }
        Err(e) => {
            eprintln!("bench pixels: wasm-opt failed, measuring the unoptimised module: {e:#}");
            format!("not optimised: wasm-opt failed ({e:#})")
        }
    };
    Ok(Module {
        pkg,
        pre_opt_bytes,
        wasm_opt,
    })
}

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let started = Instant::now();
    let load_at_start = load_average();
    setup::apt(setup::TEST_PACKAGES)?;
    setup::venv(paths)?;
    let shared = paths
        .shared()
        .context("../shared/gen_ct_series.py is needed for the test frames")?;
    let data = prepare_data(paths, &shared)?;
    let syntaxes = read_manifest(&data)?;

    step("native: building and running pixels-bench-native (release)");
    let native = run_native(paths, &data, &opts);
    if let Err(e) = &native {
        eprintln!("bench pixels: native: {e:#}");
    }
    step("browser: building the wasm module and running headless Chromium");
    let browser = run_browser(paths, &data, &opts);
    if let Err(e) = &browser {
        eprintln!("bench pixels: browser: {e:#}");
    }

    let load = format!(
        "load average {load_at_start} when the run started, {} when it ended",
        load_average()
    );
    let report = format!(
        "{}\n{}\n{}\n{}",
        header(paths, &load, &syntaxes, &opts, browser.as_ref().ok()),
        speed_table(&syntaxes, &native, &browser),
        size_table(&browser),
        notes(),
    );
    super::write_report(paths, "pixels", &report, started)
}

/// The one-minute load average: how busy the machine was besides this benchmark.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

fn step(what: &str) {
    eprintln!("bench pixels: {what}");
}

/// The folder with this benchmark's page, driver, data script and npm lockfile.
fn web_dir(paths: &Paths) -> PathBuf {
    paths.root.join("crates/xtask/bench-pixels")
}

/// Runs `prepare.py` into `~/.cache/rangsi/bench-data/pixels` unless the folder already
/// holds the output of the same scripts and arguments.
fn prepare_data(paths: &Paths, shared: &Path) -> Result<PathBuf> {
    let dir = paths.cache.join("bench-data/pixels");
    let gen_script = shared.join("gen_ct_series.py");
    let prepare = web_dir(paths).join("prepare.py");
    let mut scripts = fs::read(&gen_script)?;
    scripts.extend(fs::read(&prepare)?);
    let wanted = format!(
        "--slices {SLICES} --seed {SEED} {:016x}\n",
        setup::fnv1a64(&scripts)
    );
    let stamp = dir.join(".stamp");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(dir);
    }
    step("encoding the test frames (prepare.py)");
    let started = Instant::now();
    let mut cmd = Command::new(paths.python());
    cmd.arg(&prepare).arg(&gen_script).arg(&dir).args([
        "--slices",
        &SLICES.to_string(),
        "--seed",
        &SEED.to_string(),
    ]);
    let out = process::output_within(&mut cmd, None, Duration::from_secs(900))?;
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    fs::write(&stamp, wanted)?;
    eprintln!(
        "bench pixels: test frames ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}

fn read_manifest(data: &Path) -> Result<Vec<Syntax>> {
    let text = fs::read_to_string(data.join("manifest.tsv"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            ensure!(f.len() == 6, "manifest.tsv: bad line `{line}`");
            Ok(Syntax {
                id: f[0].into(),
                label: f[1].into(),
                encoder: f[3].into(),
                frames: f[4].parse()?,
                bytes: f[5].parse()?,
            })
        })
        .collect()
}

/// Native frames/s: `syntax id → fields` of the native binary's lines.
fn run_native(paths: &Paths, data: &Path, opts: &Options) -> Result<HashMap<String, Fields>> {
    let mut build = paths.cargo();
    build.args([
        "build",
        "--release",
        "-p",
        PACKAGE,
        "--bin",
        "pixels-bench-native",
    ]);
    process::output_within(&mut build, None, BUILD_LIMIT)?;
    let decoded = native_decoded_dir(paths);
    if decoded.exists() {
        fs::remove_dir_all(&decoded)?;
    }
    let mut cmd = Command::new(paths.target_dir.join("release/pixels-bench-native"));
    cmd.arg(data)
        .arg(opts.seconds.to_string())
        .arg(opts.runs.to_string())
        .arg(&decoded);
    let out = process::output_within(&mut cmd, None, run_limit(opts))?;
    Ok(parse_lines(&out.stdout)
        .into_iter()
        .filter_map(|(_, f)| Some((f.get("syntax")?.clone(), f)))
        .collect())
}

/// Where the native bench writes its decoded lossy frames for the page to compare.
fn native_decoded_dir(paths: &Paths) -> PathBuf {
    paths.target_dir.join("bench-pixels/native-decoded")
}

/// Generous bound for one measuring process: seven syntaxes, three decoders, a warm-up
/// and `runs` runs each, plus the checked passes of the slow codecs.
fn run_limit(opts: &Options) -> Duration {
    Duration::from_secs_f64(120.0 + 7.0 * 3.0 * f64::from(opts.runs + 1) * opts.seconds * 2.0)
}

fn run_browser(paths: &Paths, data: &Path, opts: &Options) -> Result<Browser> {
    let web = web_dir(paths);
    browser_setup(&web)?;
    let wasm_bindgen = wasm_bindgen(paths)?;
    wasm32_target()?;

    let module = build_module(paths, &web, &wasm_bindgen, false)?;
    // The same crate with wasm SIMD (every current browser has it): a third decoder.
    let simd = build_module(paths, &web, &wasm_bindgen, true);
    if let Err(e) = &simd {
        eprintln!("bench pixels: the +simd128 build failed, measuring without it: {e:#}");
    }

    let mut node = Command::new("node");
    node.arg(web.join("run.mjs"))
        .arg("--pkg")
        .arg(&module.pkg)
        .arg("--data")
        .arg(data)
        .arg("--native")
        .arg(native_decoded_dir(paths))
        .args(["--seconds", &opts.seconds.to_string()])
        .args(["--runs", &opts.runs.to_string()])
        .args(["--chromium", CHROMIUM])
        .args(["--timeout", &run_limit(opts).as_secs().to_string()])
        .current_dir(&web);
    if let Ok(simd) = &simd {
        node.arg("--pkg-simd").arg(&simd.pkg);
    }
    let out = process::output_within(&mut node, None, run_limit(opts) + Duration::from_secs(60))?;
    let lines = parse_lines(&out.stdout);
    let of = |kind: &str| -> Vec<Fields> {
        lines
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, f)| f.clone())
            .collect()
    };
    let results = of("result");
    ensure!(
        !results.is_empty(),
        "run.mjs printed no result: {}",
        process::tail_lines(&out.stderr, 6)
    );
    Ok(Browser {
        user_agent: of("browser")
            .first()
            .and_then(|f| f.get("user_agent").cloned())
            .unwrap_or_default(),
        results,
        sizes: of("size"),
        module,
        simd: simd.map_err(|e| format!("{e:#}")),
    })
}

/// Node 20+ (playwright-core needs it), Chromium, and `npm ci` from the lockfile when
/// `node_modules` does not match it.
fn browser_setup(web: &Path) -> Result<()> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let major = node.as_deref().and_then(|v| {
        v.trim_start_matches('v')
            .split('.')
            .next()?
            .parse::<u32>()
            .ok()
    });
    match major {
        Some(m) if m >= 20 => {}
        _ => bail!(
            "Node.js 20 or newer is needed (found {}); Debian's nodejs 18 is too old for playwright-core",
            node.as_deref().unwrap_or("none")
        ),
    }
    if !Path::new(CHROMIUM).exists() {
        setup::apt(&["chromium"])?;
    }
    let lock = fs::read(web.join("package-lock.json"))?;
    let wanted = format!("{:016x}\n", setup::fnv1a64(&lock));
    let stamp = web.join("node_modules/.rangsi-lock.fnv64");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    step("npm ci (bench-pixels/package-lock.json)");
    let mut ci = Command::new("npm");
    ci.args(["ci", "--no-audit", "--no-fund"]).current_dir(web);
    process::output_within(&mut ci, None, Duration::from_secs(600))?;
    fs::write(&stamp, wanted)?;
    Ok(())
}

/// `wasm-bindgen` of the pinned version in `~/.cache/rangsi/tools/bin`, installed if missing.
fn wasm_bindgen(paths: &Paths) -> Result<PathBuf> {
    let root = paths.cache.join("tools");
    let bin = root.join("bin/wasm-bindgen");
    let version = super::version_word(Command::new(&bin).arg("--version"), 1);
    if version.as_deref() == Some(WASM_BINDGEN_VERSION) {
        return Ok(bin);
    }
    step(&format!(
        "installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (several minutes)"
    ));
    // Not --locked: its lockfile names a crate version the registry no longer has.
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        WASM_BINDGEN_VERSION,
        "--root",
    ])
    .arg(&root);
    process::output_within(&mut cmd, None, BUILD_LIMIT)?;
    Ok(bin)
}

fn wasm32_target() -> Result<()> {
    let installed = process::capture(
        Command::new("rustup").args(["target", "list", "--installed"]),
        None,
    )?;
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step("rustup target add wasm32-unknown-unknown");
        process::output_within(
            Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
            None,
            Duration::from_secs(600),
        )?;
    }
    Ok(())
}

/// Lines of tab-separated fields: a leading word without `=` is the line's kind.
fn parse_lines(stdout: &[u8]) -> Vec<(String, Fields)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.contains('='))
        .map(|line| {
            let mut kind = String::new();
            let mut fields = Fields::new();
            for part in line.split('\t') {
                match part.split_once('=') {
                    Some((k, v)) => {
                        fields.insert(k.to_string(), v.to_string());
                    }
                    None => kind = part.to_string(),
                }
            }
            (kind, fields)
        })
        .collect()
}

fn fps(fields: &Fields) -> Option<f64> {
    fields.get("fps")?.parse().ok()
}

/// "367 frames/s (289–371)": the median and the spread of the runs.
fn fps_cell(fields: Option<&Fields>, missing: &str) -> String {
    let Some(f) = fields else {
        return format!("n/a ({missing})");
    };
    if let Some(e) = f.get("error") {
        return format!("n/a ({e})");
    }
    let Some(median) = fps(f) else {
        return "n/a (no figure)".into();
    };
    let runs: Vec<f64> = f
        .get("runs")
        .map(|r| r.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = runs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if runs.len() > 1 {
        format!("{} frames/s ({}–{})", round(median), round(lo), round(hi))
    } else {
        format!("{} frames/s", round(median))
    }
}

/// Three significant figures at most, no decimals above 100.
fn round(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn speed_table(
    syntaxes: &[Syntax],
    native: &Result<HashMap<String, Fields>>,
    browser: &Result<Browser>,
) -> String {
    let mut t = Table::new(vec![
        "rangsi native".into(),
        "rangsi wasm".into(),
        "rangsi wasm +simd128".into(),
        "peer in the same page".into(),
        "peer".into(),
        "rangsi wasm ÷ peer (+simd128 ÷ peer)".into(),
        "pixels checked".into(),
    ]);
    let reason = |e: &anyhow::Error| format!("{e:#}").replace('\n', " ");
    let native_reason = native.as_ref().err().map(reason);
    let browser_reason = browser.as_ref().err().map(reason);
    for s in syntaxes {
        let n = native.as_ref().ok().and_then(|m| m.get(&s.id));
        let pick = |role: &str| {
            browser.as_ref().ok().and_then(|b| {
                b.results.iter().find(|f| {
                    f.get("syntax") == Some(&s.id)
                        && f.get("role").map(String::as_str) == Some(role)
                })
            })
        };
        let (rangsi, simd, peer) = (pick("rangsi"), pick("rangsi-simd128"), pick("peer"));
        let native_missing = native_reason.as_deref().unwrap_or("no result");
        let browser_missing = browser_reason.as_deref().unwrap_or("no result");
        let peer_name = match (browser.as_ref().ok(), peer) {
            (_, Some(p)) => p.get("name").cloned().unwrap_or_default(),
            (Some(_), None) => "none".into(),
            (None, None) => format!("n/a ({browser_missing})"),
        };
        let peer_fps = match (browser.as_ref().ok(), peer) {
            (Some(_), None) => "—".into(),
            _ => fps_cell(peer, browser_missing),
        };
        let ratio = match (rangsi.and_then(fps), peer.and_then(fps)) {
            (Some(r), Some(p)) if p > 0.0 => {
                let x = r / p;
                let mut cell = if x >= 1.0 {
                    format!("{x:.2}× (rangsi faster)")
                } else if x > 0.9 {
                    format!("{x:.2}× (rangsi slightly slower)")
                } else {
                    format!("{x:.2}× (rangsi {:.1}× slower)", 1.0 / x)
                };
                if let Some(v) = simd.and_then(fps) {
                    cell.push_str(&format!(" ({:.2}×)", v / p));
                }
                cell
            }
            _ => "—".into(),
        };
        let simd_missing = match browser {
            Ok(b) => b.simd.as_ref().err().cloned().unwrap_or("no result".into()),
            Err(_) => browser_missing.to_string(),
        };
        t.row(
            &format!(
                "{} ({} frames, {:.0} KiB/frame)",
                s.label,
                s.frames,
                s.bytes as f64 / s.frames.max(1) as f64 / 1024.0
            ),
            vec![
                fps_cell(n, native_missing),
                fps_cell(rangsi, browser_missing),
                fps_cell(simd, &simd_missing),
                peer_name,
                peer_fps,
                ratio,
                checks(s, n, rangsi, simd, peer),
            ],
        );
    }
    t.markdown()
}

/// What was verified for one syntax, in words.
fn checks(
    s: &Syntax,
    native: Option<&Fields>,
    rangsi: Option<&Fields>,
    simd: Option<&Fields>,
    peer: Option<&Fields>,
) -> String {
    fn ok(f: Option<&Fields>) -> Option<&Fields> {
        f.filter(|f| !f.contains_key("error") && f.contains_key("digest"))
    }
    let (native, rangsi, simd, peer) = (ok(native), ok(rangsi), ok(simd), ok(peer));
    let mut said = Vec::new();
    let lossless = |f: Option<&Fields>| {
        f.and_then(|f| f.get("check"))
            .is_some_and(|c| c.contains("identical to the source"))
    };
    let mut identical = Vec::new();
    let decoders = [
        ("native", native),
        ("wasm", rangsi),
        ("wasm +simd128", simd),
        ("peer", peer),
    ];
    for (name, f) in decoders {
        if lossless(f) {
            identical.push(name);
        }
    }
    if !identical.is_empty() {
        said.push(format!(
            "{}: {}/{} frames identical to the source",
            identical.join(", "),
            s.frames,
            s.frames
        ));
    }
    for (name, wasm) in [("wasm", rangsi), ("wasm +simd128", simd)] {
        let (Some(n), Some(w)) = (native, wasm) else {
            continue;
        };
        if n.get("digest") == w.get("digest") {
            if !lossless(Some(n)) {
                said.push(format!("{name} identical to native (same checksums)"));
            }
        } else if let Some(agreement) = w.get("native_agreement") {
            said.push(format!("{name} {agreement}"));
        } else {
            said.push(format!("**{name} and native checksums differ**"));
        }
    }
    if let Some(agreement) = peer.and_then(|p| p.get("agreement")) {
        said.push(format!("peer {agreement}"));
    }
    if said.is_empty() {
        "—".into()
    } else {
        said.join("; ")
    }
}

fn size_table(browser: &Result<Browser>) -> String {
    let b = match browser {
        Ok(b) => b,
        Err(e) => {
            return format!(
                "Module sizes: n/a ({})\n",
                format!("{e:#}").replace('\n', " ")
            );
        }
    };
    let mut t = Table::new(vec![
        "bytes".into(),
        "brotli (q 11)".into(),
        "gzip (-9)".into(),
    ]);
    let kib = |f: &Fields, key: &str| {
        f.get(key)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or("n/a".into(), |n| format!("{:.0} KiB", n / 1024.0))
    };
    for f in &b.sizes {
        let mut name = f.get("name").cloned().unwrap_or_default();
        let module = match f.get("id").map(String::as_str) {
            Some("rangsi") => Some(&b.module),
            Some("rangsi-simd128") => b.simd.as_ref().ok(),
            _ => None,
        };
        if let Some(m) = module {
            name = format!(
                "{name}, {} ({:.0} KiB before)",
                m.wasm_opt,
                m.pre_opt_bytes as f64 / 1024.0
            );
        }
        t.row(
            &name,
            vec![kib(f, "bytes"), kib(f, "brotli"), kib(f, "gzip")],
        );
    }
    t.markdown()
}

fn header(
    paths: &Paths,
    load: &str,
    syntaxes: &[Syntax],
    opts: &Options,
    browser: Option<&Browser>,
) -> String {
    let rustc = super::version_word(Command::new("rustc").arg("--version"), 1).unwrap_or_default();
    let node = super::version_word(Command::new("node").arg("--version"), 0).unwrap_or_default();
    // The user agent says only the major version; `chromium --version` says all of it.
    let chromium = super::version_word(Command::new(CHROMIUM).arg("--version"), 1)
        .map(|v| format!("Chromium {v}"))
        .or_else(|| {
            browser.and_then(|b| {
                b.user_agent
                    .split_whitespace()
                    .find(|w| w.starts_with("HeadlessChrome/"))
                    .map(|w| w.replace("HeadlessChrome/", "Chromium "))
            })
        })
        .unwrap_or_else(|| "Chromium (version unknown)".into());
    let encoders: Vec<String> = syntaxes
        .iter()
        .map(|s| format!("{}: {}", s.label, s.encoder))
        .collect();
    let debs: Vec<String> = ["dcmtk", "libgdcm-tools", "openjph-tools"]
        .iter()
        .map(|p| format!("{p} {}", deb_version(p)))
        .collect();
    format!(
        "## rangsi-pixels decoding, native and in the browser: `cargo xtask bench pixels`\n\n\
         - date: {}\n\
         - machine: {} ({load}; other work on the machine shows as spread between runs)\n\
         - rangsi: {}, rustc {rustc}; native: `pixels-bench-native`, release build, one thread; \
           browser: crate `{PACKAGE}` for wasm32-unknown-unknown (profile `{WASM_PROFILE}`: \
           opt-level 3, LTO, 1 codegen unit, as the decode worker ships), wasm-bindgen \
           {WASM_BINDGEN_VERSION} `--target web`, {}\n\
         - browser: headless {chromium} (Debian) driven by playwright-core; Node.js {node}; \
           npm packages pinned in `crates/xtask/bench-pixels/package-lock.json`: {}\n\
         - data: {SLICES} × 512² signed 16-bit CT slices from `../shared/gen_ct_series.py` \
           (seed {SEED}; the JPEG Baseline row uses an 8-bit windowed copy), encoded by \
           third-party encoders ({}): {}\n\
         - timing: one thread decodes the frames in turn; per decoder a checked pass over all \
           frames, then {} runs of at least {} s each: in the browser after a warm-up run and \
           alternating between rangsi and the peer, natively round-robin over the syntaxes; \
           cells give the median frames/s and the (min–max) of the runs\n",
        super::today(),
        super::machine(),
        rangsi_version(paths),
        browser.map_or("wasm-opt n/a".into(), |b| {
            let simd = match &b.simd {
                Ok(_) => "also built with `RUSTFLAGS=-C target-feature=+simd128`".to_string(),
                Err(e) => format!("no +simd128 build ({e})"),
            };
            format!("{}; {simd}", b.module.wasm_opt)
        }),
        npm_versions(paths),
        debs.join(", "),
        encoders.join("; "),
        opts.runs,
        opts.seconds,
    )
}

fn notes() -> String {
    "Peers, each used as Cornerstone3D's dicom-image-loader uses it: encoded bytes copied \
     into the codec, decode, decoded samples copied out into a new typed array (rangsi's \
     module does the same: bytes in, a new `Int16Array`/`Uint8Array` out). \
     JPEG 2000, HTJ2K, JPEG-LS and JPEG Baseline: the emscripten builds in \
     `@cornerstonejs/codec-openjpeg`, `-openjph`, `-charls` and `-libjpeg-turbo-8bit`; \
     JPEG Lossless: `jpeg-lossless-decoder-js` (plain JavaScript, the loader's JPEG Lossless \
     decoder); native frames: the typed-array copy the loader makes. RLE has no peer here \
     (the loader's RLE decoder is JavaScript inside `@cornerstonejs/dicom-image-loader`). \
     \"identical to the source\": the decoded samples' checksums \
     (Σv and Σv·(i mod 65521 + 1)) equal the source slice's; the peer is also compared with \
     rangsi sample by sample, and for lossy JPEG (where IDCTs may round differently) the \
     wasm build's samples with the native build's. \
     \"+simd128\": the same crate built with `RUSTFLAGS=-C target-feature=+simd128`, which \
     lets LLVM vectorise and turns on jpeg-decoder's wasm SIMD IDCT and colour conversion \
     (every current browser runs wasm SIMD). \
     The wasm size is the whole `rangsi-pixels` module with every codec, as the viewer \
     would load it; each peer's size is that one codec's `.wasm` (or `.js`).\n"
        .to_string()
}

/// Versions of the npm packages pinned in `bench-pixels/package.json`.
fn npm_versions(paths: &Paths) -> String {
    let text = fs::read_to_string(web_dir(paths).join("package.json")).unwrap_or_default();
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("\"devDependencies\"") {
            in_deps = true;
        } else if in_deps && l.starts_with('}') {
            break;
        } else if in_deps {
            let parts: Vec<&str> = l.split('"').collect();
            if parts.len() >= 4 {
                out.push(format!("{} {}", parts[1], parts[3]));
            }
        }
    }
    out.join(", ")
}

fn deb_version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "(not installed)".into())
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
        "rangsi-pixels {} ({})",
        env!("CARGO_PKG_VERSION"),
        rev.as_deref().unwrap_or("uncommitted")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_tab_separated_fields() {
        let lines = parse_lines(
            b"syntax=rle\tfps=12.5\tcheck=20/20 frames identical\n\
              result\tsyntax=j2k\trole=peer\tname=a b=c\n\
              page: noise\n",
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, "");
        assert_eq!(lines[0].1["check"], "20/20 frames identical");
        assert_eq!(lines[1].0, "result");
        assert_eq!(lines[1].1["name"], "a b=c");
    }

    #[test]
    fn fps_cell_gives_median_and_spread_or_the_error() {
        let f: Fields = [("fps", "366.4"), ("runs", "323.9,366.9,366.4")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(fps_cell(Some(&f), "x"), "366 frames/s (324–367)");
        let e: Fields = [("error".to_string(), "boom".to_string())].into();
        assert_eq!(fps_cell(Some(&e), "x"), "n/a (boom)");
        assert_eq!(fps_cell(None, "no node"), "n/a (no node)");
    }
}
