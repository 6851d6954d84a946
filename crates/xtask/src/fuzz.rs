//! `cargo xtask fuzz [SECONDS]`: runs every cargo-fuzz target of
//! `crates/pixels/fuzz` for SECONDS each (default 60), one after the other.
//!
//! cargo-fuzz needs nightly compiler flags (sanitizers, coverage); this stable
//! toolchain accepts them with `RUSTC_BOOTSTRAP=1`. Targets build with
//! `--release` so the codecs run as they ship (see the fuzz crate's manifest).
//! The corpus grows in `~/.cache/rangsi/fuzz/pixels/<target>` (kept between
//! runs, outside the clone), seeded from the committed `fuzz/seeds/<target>`;
//! a crash, hang or oversized allocation stops that target and leaves its input
//! in `crates/pixels/fuzz/artifacts/<target>/`.

use std::fs;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::process;
use crate::setup::{self, Paths};

/// The crate whose `fuzz/` folder holds the targets.
const CRATE_DIR: &str = "crates/pixels";
const DEFAULT_SECONDS: u64 = 60;
/// An input slower than this is reported as a hang.
const TIMEOUT_SECONDS: u64 = 10;
/// A single allocation above this is reported: inputs describe at most
/// 1024² × 3 samples (25 MB even as f64), so a decoder asking for more is
/// trusting the stream over the description.
const MALLOC_LIMIT_MB: u64 = 512;
/// The whole process (AddressSanitizer's quarantine alone takes 256 MB).
const RSS_LIMIT_MB: u64 = 2048;

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => DEFAULT_SECONDS,
        [s] => s
            .parse()
            .with_context(|| format!("SECONDS must be a whole number, not `{s}`"))?,
        _ => bail!("usage: cargo xtask fuzz [SECONDS]"),
    };
    setup::cargo_fuzz(paths)?;
    let crate_dir = paths.root.join(CRATE_DIR);
    let targets_dir = crate_dir.join("fuzz/fuzz_targets");
    let mut targets: Vec<String> = fs::read_dir(&targets_dir)
        .with_context(|| format!("reading {}", targets_dir.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    targets.sort();

    let mut failed = Vec::new();
    for target in &targets {
        println!("\n=== xtask fuzz: {target} for {seconds} s");
        let corpus = paths.cache.join("fuzz/pixels").join(target);
        fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
        let seeds = crate_dir.join("fuzz/seeds").join(target);
        let mut cmd = paths.cargo();
        cmd.current_dir(&crate_dir)
            .env("PATH", paths.path_with_tools())
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--release", target])
            .arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--").args([
            format!("-max_total_time={seconds}"),
            format!("-timeout={TIMEOUT_SECONDS}"),
            format!("-rss_limit_mb={RSS_LIMIT_MB}"),
            format!("-malloc_limit_mb={MALLOC_LIMIT_MB}"),
            "-print_final_stats=1".to_owned(),
        ]);
        println!("{}", process::describe(&cmd));
        let started = Instant::now();
        let status = process::status(&mut cmd)?;
        let secs = started.elapsed().as_secs_f64();
        if status.success() {
            println!("xtask fuzz: {target}: no finding in {secs:.0} s");
        } else {
            println!(
                "xtask fuzz: {target}: FAILED after {secs:.0} s ({status}); inputs in {}",
                setup::rel(&paths.root, &crate_dir.join("fuzz/artifacts").join(target))
            );
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        bail!("findings in: {}", failed.join(", "));
    }
    println!("xtask fuzz: {} target(s), no finding", targets.len());
    Ok(())
}
