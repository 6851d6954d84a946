//! The viewer's build and browser tests, for `cargo xtask run` and `cargo xtask test`.
//!
//! - [`tools`]: pinned trunk (cargo install), wasm-bindgen-cli (the Cargo.lock version)
//!   and wasm-opt from npm `binaryen` (Debian's binaryen 108 miscompiles; never use it),
//!   all under `~/.cache/rangsi/tools`.
//! - [`build`]: `trunk build --release=true` (index.html, Trunk.toml) into `viewer/dist`,
//!   then a second build of the decode worker with wasm SIMD (`+simd128`) beside trunk's
//!   and a loader that picks one in the browser ([`simd_worker`]), then a brotli twin of
//!   every file (the server embeds both, `server/build.rs`) and a size report of the
//!   first load.
//! - [`e2e`]: `npm ci` in `e2e/` (pinned playwright-core, no browser download) and the
//!   node test runner against the freshly built server, in Debian's Chromium.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process;
use crate::setup::{self, Paths};

pub const TRUNK_VERSION: &str = "0.21.14";
/// npm `binaryen`: its `wasm-opt --version` says `version 132`; Trunk.toml pins the same.
pub const BINARYEN_VERSION: &str = "132";
/// Debian packages for node and npm, installed only when `node` or `npm` is missing
/// (a NodeSource node ships its own npm, which Debian's `npm` package conflicts with).
pub const NODE_PACKAGES: &[&str] = &["nodejs", "npm"];

/// Where the built viewer lands (Trunk.toml `dist`).
pub fn dist(paths: &Paths) -> PathBuf {
    paths.root.join("viewer/dist")
}

fn binaryen_dir(paths: &Paths) -> PathBuf {
    paths.tools().join("binaryen")
}

/// `PATH` for trunk: npm binaryen's `wasm-opt` first, then the pinned cargo tools.
fn trunk_path(paths: &Paths) -> OsString {
    let mut dirs = vec![
        binaryen_dir(paths).join("node_modules/.bin"),
        paths.tools().join("bin"),
    ];
    dirs.extend(env::var_os("PATH").map_or_else(Vec::new, |p| env::split_paths(&p).collect()));
    env::join_paths(dirs).unwrap_or_default()
}

/// Installs what building the viewer needs, each only when missing or of another version.
pub fn tools(paths: &Paths) -> Result<()> {
    setup::rust_target(setup::WASM_TARGET)?;
    node()?;
    let bindgen = setup::locked_version(&paths.root, "wasm-bindgen")?;
    // Not --locked: wasm-bindgen-cli's lockfile names a crate version the registry lacks.
    setup::cargo_tool(paths, "wasm-bindgen-cli", "wasm-bindgen", &bindgen, false)?;
    setup::cargo_tool(paths, "trunk", "trunk", TRUNK_VERSION, true)?;
    binaryen(paths)
}

pub fn node() -> Result<()> {
    let works = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("node") && works("npm") {
        return Ok(());
    }
    setup::apt(NODE_PACKAGES)
}

fn binaryen(paths: &Paths) -> Result<()> {
    let dir = binaryen_dir(paths);
    let wasm_opt = dir.join("node_modules/.bin/wasm-opt");
    let current = Command::new(&wasm_opt)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // "wasm-opt version 132 (version_132)"
    if current.is_some_and(|v| v.split_whitespace().nth(2) == Some(BINARYEN_VERSION)) {
        return Ok(());
    }
    println!(
        "setup: npm install binaryen@{BINARYEN_VERSION} (wasm-opt) into {}",
        dir.display()
    );
    fs::create_dir_all(&dir)?;
    process::output_within(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-save"])
            .arg(format!("binaryen@{BINARYEN_VERSION}"))
            .current_dir(&dir),
        None,
        Duration::from_secs(600),
    )?;
    Ok(())
}

/// `trunk build --release=true`, then brotli twins and the first-load size report.
pub fn build(paths: &Paths) -> Result<()> {
    tools(paths)?;
    let started = Instant::now();
    let mut trunk = Command::new(paths.tools().join("bin/trunk"));
    trunk
        .args(["build", "--release=true"])
        .current_dir(&paths.root)
        .env("PATH", trunk_path(paths))
        .env("CARGO_TARGET_DIR", &paths.target_dir)
        .env_remove("RUSTFLAGS");
    println!("{}", process::describe(&trunk));
    process::run(&mut trunk)?;
    simd_worker(paths)?;
    let report = compress(&dist(paths))?;
    println!(
        "viewer: built in {:.0} s into {}\n{report}",
        started.elapsed().as_secs_f64(),
        setup::rel(&paths.root, &dist(paths))
    );
    fs::write(paths.target_dir.join("viewer-size.md"), &report)?;
    Ok(())
}

/// The decode worker's crate and binary (index.html's `data-type="worker"` link).
const WORKER_PACKAGE: &str = "rangsi-viewer-worker";
const WORKER_BIN: &str = "decode-worker";
/// Cargo profile of the decode worker (index.html `data-cargo-profile-release`).
const WORKER_PROFILE: &str = "wasm-worker";
/// File names of the `+simd128` build in `dist`: `<name>.js` and `<name>_bg.wasm`.
const SIMD_WORKER: &str = "decode-worker-simd128";

/// The loader the viewer starts each decode worker with (`decode-worker_loader.js`,
/// written over trunk's): the `+simd128` build where the browser validates a wasm
/// SIMD module (every current browser; Safari from 16.4), trunk's baseline build
/// elsewhere. `?build=baseline|simd128` on the worker's URL forces one (the viewer
/// passes the `rangsi.decodeBuild` setting; e2e compares the two). The probe is
/// wasm-feature-detect's: `(func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)`.
const WORKER_LOADER: &str = r#"// Written by `cargo xtask` (crates/xtask/src/viewer.rs) over trunk's loader: runs the
// +simd128 build of the decode worker where the browser has wasm SIMD, else the baseline
// build; `?build=baseline|simd128` on this script's URL forces one.
(() => {
  const forced = new URL(self.location.href).searchParams.get('build');
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  const simd = forced ? forced === 'simd128' : WebAssembly.validate(probe);
  const name = simd ? 'decode-worker-simd128' : 'decode-worker';
  importScripts(`./${name}.js`);
  wasm_bindgen(`./${name}_bg.wasm`);
})();
"#;

/// Builds the decode worker a second time with `-C target-feature=+simd128` (in a
/// target folder of its own: other RUSTFLAGS would make cargo rebuild trunk's), runs
/// the same wasm-bindgen (`--target no-modules`, as trunk does for a worker) and
/// `wasm-opt -O3` (index.html's `data-wasm-opt="3"`) into `dist`, and writes the loader
/// that chooses ([`WORKER_LOADER`]). Measured in BENCHMARKS.md (Pixels, `+simd128`).
fn simd_worker(paths: &Paths) -> Result<()> {
    let target_dir = paths.target_dir.join("wasm-simd128");
    let mut build = paths.cargo();
    build
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+simd128")
        .args([
            "build",
            "--profile",
            WORKER_PROFILE,
            "--target",
            setup::WASM_TARGET,
        ])
        .args(["-p", WORKER_PACKAGE, "--bin", WORKER_BIN]);
    println!("{}", process::describe(&build));
    process::run(&mut build)?;
    let wasm = target_dir.join(format!(
        "{}/{WORKER_PROFILE}/{WORKER_BIN}.wasm",
        setup::WASM_TARGET
    ));
    let out = paths.target_dir.join("wasm-simd128/bindgen");
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    process::run(
        Command::new(paths.tools().join("bin/wasm-bindgen"))
            .args([
                "--target",
                "no-modules",
                "--no-typescript",
                "--out-name",
                SIMD_WORKER,
            ])
            .arg("--out-dir")
            .arg(&out)
            .arg(&wasm),
    )?;
    let dist = dist(paths);
    let bg = format!("{SIMD_WORKER}_bg.wasm");
    process::run(
        Command::new(binaryen_dir(paths).join("node_modules/.bin/wasm-opt"))
            .arg("-O3")
            .arg(out.join(&bg))
            .arg("-o")
            .arg(dist.join(&bg)),
    )?;
    let js = format!("{SIMD_WORKER}.js");
    fs::copy(out.join(&js), dist.join(&js))?;
    fs::write(dist.join("decode-worker_loader.js"), WORKER_LOADER)?;
    Ok(())
}

/// Writes `NAME.br` (brotli, quality 11) beside every file of `dist` whose twin is
/// missing or older, and returns a table of raw and compressed sizes.
fn compress(dist: &Path) -> Result<String> {
    let mut rows = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dist)
        .with_context(|| format!("reading {}", dist.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "br"))
        .collect();
    files.sort();
    // Remove twins of files trunk no longer writes (old hashes).
    for e in fs::read_dir(dist)?.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "br") && !p.with_extension("").exists() {
            let _ = fs::remove_file(&p);
        }
    }
    let (mut first_raw, mut first_br) = (0u64, 0u64);
    // The decode worker's loader, its baseline build, its +simd128 build.
    let (mut loader_br, mut worker_br, mut simd_br) = (0u64, 0u64, 0u64);
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let raw = fs::read(&path)?;
        let twin = path.with_file_name(format!("{name}.br"));
        let fresh = matches!(
            (fs::metadata(&twin).and_then(|m| m.modified()), fs::metadata(&path).and_then(|m| m.modified())),
            (Ok(t), Ok(f)) if t >= f
        );
        if !fresh {
            let mut out = Vec::new();
            {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    lgwin: 22,
                    ..Default::default()
                };
                let mut w = brotli::CompressorWriter::with_params(&mut out, 64 * 1024, &params);
                w.write_all(&raw)?;
            }
            fs::write(&twin, out)?;
        }
        let br = fs::metadata(&twin)?.len();
        if name.starts_with("decode-worker_loader") {
            loader_br += br;
        } else if name.starts_with(SIMD_WORKER) {
            simd_br += br;
        } else if name.starts_with("decode-worker") {
            worker_br += br;
        } else if !name.ends_with(".svg") {
            first_raw += raw.len() as u64;
            first_br += br;
        }
        rows.push(format!("| {name} | {} | {br} |", raw.len()));
    }
    Ok(format!(
        "| file | bytes | brotli |\n|---|---:|---:|\n{}\n\nfirst load (html + js + wasm + css): {:.0} KB, {:.0} KB brotli; \
         decode worker (loaded with the first study): {:.0} KB brotli, or {:.0} KB for its \
         +simd128 build (one of the two is loaded)",
        rows.join("\n"),
        first_raw as f64 / 1024.0,
        first_br as f64 / 1024.0,
        (loader_br + worker_br) as f64 / 1024.0,
        (loader_br + simd_br) as f64 / 1024.0
    ))
}

/// `npm ci` when `e2e/node_modules` is missing or older than the lockfile. Also the
/// pytest suite's FHIR schema validator (`server/tests/integration/fhir_validate.cjs`).
pub fn npm_ci(e2e: &Path) -> Result<()> {
    let stamp = e2e.join("node_modules/.package-lock.json");
    let lock = e2e.join("package-lock.json");
    let fresh = matches!(
        (fs::metadata(&stamp).and_then(|m| m.modified()), fs::metadata(&lock).and_then(|m| m.modified())),
        (Ok(s), Ok(l)) if s >= l
    );
    if fresh {
        return Ok(());
    }
    println!(
        "setup: npm ci in e2e/ (playwright-core, FHIR schema validator; pinned; no browser download)"
    );
    process::output_within(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(e2e),
        None,
        Duration::from_secs(600),
    )?;
    Ok(())
}

/// The browser tests (`e2e/tests`) against `rangsi` (`bin`), in Debian's Chromium.
pub fn e2e(paths: &Paths, bin: &Path) -> Result<()> {
    setup::apt(setup::BROWSER_PACKAGES)?;
    node()?;
    if !dist(paths).join("index.html").is_file() {
        bail!("no built viewer in viewer/dist");
    }
    let e2e = paths.root.join("e2e");
    npm_ci(&e2e)?;
    let results = e2e.join("test-results");
    std::fs::create_dir_all(&results)?;
    // TAP on stdout as before, and the spec reporter into a file whose "failing tests"
    // part is repeated at the end, where a CI log's tail shows it.
    let spec = results.join("e2e-spec.txt");
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-concurrency=1"])
        .args(["--test-reporter=tap", "--test-reporter-destination=stdout"])
        .arg("--test-reporter=spec")
        .arg(format!("--test-reporter-destination={}", spec.display()))
        .arg("tests/")
        .current_dir(&e2e)
        .env("RANGSI_BIN", bin)
        .env("RANGSI_PYTHON", paths.python())
        .env("E2E_RESULTS", e2e.join("test-results"));
    match paths.shared() {
        Some(shared) => cmd.env("RANGSI_SHARED", shared),
        None => bail!("../shared/gen_ct_series.py not found: the e2e tests need it for their CT"),
    };
    println!("{}", process::describe(&cmd));
    if let Err(e) = process::run(&mut cmd) {
        let failing = std::fs::read_to_string(&spec)
            .map(|s| failing_tests(&s))
            .unwrap_or_default();
        return Err(anyhow::anyhow!("{e:#}\n{failing}"));
    }
    println!(
        "e2e: screenshots in {}",
        setup::rel(&paths.root, &e2e.join("test-results"))
    );
    Ok(())
}

/// The "failing tests" part of node's spec reporter, without stack frames, at most 60
/// lines: what a reader of a CI log needs to see first.
fn failing_tests(spec: &str) -> String {
    let Some(at) = spec.find("failing tests:") else {
        return String::new();
    };
    let lines: Vec<&str> = spec[at..]
        .lines()
        .filter(|l| !l.trim_start().starts_with("at ") && !l.trim().is_empty())
        .collect();
    let mut out = lines
        .iter()
        .take(60)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > 60 {
        out.push_str(&format!("\n… {} more lines", lines.len() - 60));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn failing_tests_keeps_the_messages_and_drops_the_stack() {
        let spec = "✔ b\n✖ failing tests:\n\ntest at x.js:3:1\n✖ a (1ms)\n  AssertionError: 1 !== 2\n      at TestContext (file:///x.js:3:26)\n";
        assert_eq!(
            super::failing_tests(spec),
            "failing tests:\ntest at x.js:3:1\n✖ a (1ms)\n  AssertionError: 1 !== 2"
        );
        assert_eq!(super::failing_tests("ℹ fail 0\n"), "");
    }
}
