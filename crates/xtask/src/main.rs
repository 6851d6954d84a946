//! `cargo xtask`: Rangsi's developer automation, one binary with subcommands
//! (reached through the alias in `.cargo/config.toml`).
//!
//! - `cargo xtask run`: build the viewer and the release server, seed a demo data dir, serve it.
//! - `cargo xtask test [PYTEST ARGS]`: cargo tests (also wasm32 in headless Chromium),
//!   then the Python integration tests.
//! - `cargo xtask fuzz [SECONDS]`: each cargo-fuzz target for SECONDS (default 60).
//! - `cargo xtask bench server [--backend local|s3|postgres+s3|all] [--dev-build]`: rangsi
//!   and Orthanc side by side on the same data (rangsi's blobs on local disk, on a
//!   throwaway Garage S3; its index on SQLite or a throwaway PostgreSQL; or all of them).
//! - `cargo xtask bench pixels`: decode rates, native and wasm beside Cornerstone's codecs.
//! - `cargo xtask bench viewer`: the viewer beside OHIF in headless Chromium on a 300-slice CT.
//! - `cargo xtask bench volume`: MPR and 3D frame times, native and in Chromium beside OHIF.
//!
//! Each subcommand first runs the idempotent set-up it needs (`setup.rs`).

mod bench;
mod fuzz;
mod process;
mod run;
mod setup;
mod test;
mod viewer;

use std::process::ExitCode;

use setup::Paths;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  run [SERVE ARGS]      build the viewer (trunk) and rangsi (release), seed ./rangsi-data with a
                        demo hospital, user and CT study if absent, then `rangsi serve` (extra
                        args go to serve); the viewer is at http://127.0.0.1:8080/
  test [PYTEST ARGS]    trunk build of the viewer + cargo build + cargo test --workspace +
                        rangsi-pixels' tests as wasm32 in headless Chromium + the viewer's e2e
                        tests (e2e/, Chromium: WebGPU, WebGL2, 375 px) + pytest server/tests/integration
                        (extra args go to pytest, e.g. `cargo xtask test -k tenancy`)
  fuzz [SECONDS]        run each cargo-fuzz target (crates/pixels/fuzz) for SECONDS, default 60;
                        crashing inputs land in crates/pixels/fuzz/artifacts/
  bench server          rangsi vs Orthanc on this machine; markdown table to stdout and
                        $CARGO_TARGET_DIR/bench-server.md. --backend s3: rangsi's blobs on a
                        throwaway Garage; --backend all: rangsi local + S3, Orthanc, Orthanc on
                        PostgreSQL, with ratios (default: local); --backend postgres+s3: rangsi
                        local, rangsi with its index on PostgreSQL and blobs on Garage, Orthanc on
                        PostgreSQL (also in all); --dev-build: measure the dev-profile binary
  bench pixels          rangsi-pixels decode rates natively and as wasm in headless Chromium
                        beside Cornerstone's WASM codecs; $CARGO_TARGET_DIR/bench-pixels.md
  bench viewer          the viewer beside OHIF 3.13 in headless Chromium on a 300-slice CT from the
                        same rangsi serve: first-load bytes, first image on emulated 30 and 10 Mbit/s
                        links, whole series loaded, scroll fps, memory; $CARGO_TARGET_DIR/bench-viewer.md
                        ([--runs N] [--links 30/10,10/50] [--rangsi BIN] [--gpu webgpu|webgl2])
  bench volume          MPR (3 views) and 3D frame times of a 512×512×300 CT natively (wgpu on
                        Vulkan: lavapipe without a GPU) and in headless Chromium beside OHIF 3.13's
                        MPR/3D, memory with the volume loaded; $CARGO_TARGET_DIR/bench-volume.md
                        (`cargo xtask bench volume --help` for its options)

Set-up (Debian packages, Python venv in ~/.cache/rangsi/tools/venv, pinned wasm-bindgen-cli
and cargo-fuzz in ~/.cache/rangsi/tools/bin) runs as needed.
CARGO_TARGET_DIR defaults to ~/.cache/rangsi/target for the cargo commands xtask runs.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = Paths::discover().and_then(|paths| match command.as_str() {
        "run" => run::main(&paths, rest),
        "test" => test::main(&paths, rest),
        "fuzz" => fuzz::main(&paths, rest),
        "bench" => bench::main(&paths, rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {command}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
