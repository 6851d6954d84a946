//! `cargo xtask test`: everything CI runs, in order: set-up, the viewer's release build
//! (trunk), `cargo build -p rangsi` (dev profile, to keep CI fast; it embeds the viewer),
//! `cargo test --workspace` (the viewer's logic and the renderer's golden images
//! natively too), the pixel crate's
//! tests again as wasm32 in headless Chromium (after their own set-up), the viewer's
//! e2e tests (Playwright + Chromium, WebGPU and WebGL2), then pytest over
//! `server/tests/integration` against the freshly built binary with third-party
//! clients (pynetdicom, dicomweb-client, dcmtk). Ends with a summary; fails if any step did.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::setup::{self, Paths};
use crate::{process, viewer};

const INTEGRATION_DIR: &str = "server/tests/integration";

/// pytest's exit code when it collected no test (an empty suite, or a `-k` that matched none).
const PYTEST_NO_TESTS: i32 = 5;

enum Outcome {
    Passed,
    /// Ran nothing, for the given reason; not a failure.
    Skipped(String),
    Failed(String),
}

struct Step {
    name: &'static str,
    outcome: Outcome,
    secs: f64,
}

pub fn main(paths: &Paths, pytest_args: &[String]) -> Result<()> {
    let mut steps = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Outcome| {
        println!("\n=== xtask test: {name}");
        let started = Instant::now();
        let outcome = f();
        steps.push(Step {
            name,
            outcome,
            secs: started.elapsed().as_secs_f64(),
        });
        matches!(
            steps.last().map(|s| &s.outcome),
            Some(Outcome::Passed | Outcome::Skipped(_))
        )
    };

    let ready = step("setup", &mut || {
        from_result(setup::apt(setup::TEST_PACKAGES).and_then(|()| setup::venv(paths)))
    });
    // Its own step: without it only the S3 tests fail (saying so), the rest still run.
    step("garage (S3 server of the tests)", &mut || {
        from_result(setup::garage(paths))
    });
    // Before the server build, which embeds viewer/dist.
    let viewer_built = step("viewer build (trunk)", &mut || {
        from_result(viewer::build(paths))
    });
    let built = ready
        && step("cargo build -p rangsi", &mut || {
            from_result(paths.build_rangsi(false).map(drop))
        });
    step("cargo test --workspace", &mut || {
        from_result(process::run(paths.cargo().args(["test", "--workspace"])))
    });
    let browser = step("wasm32 setup", &mut || {
        from_result(setup::browser_tests(paths))
    });
    step("wasm32 tests (chromium)", &mut || {
        if browser {
            from_result(process::run(&mut wasm_tests(paths)))
        } else {
            Outcome::Skipped("wasm32 setup failed".into())
        }
    });
    step("viewer e2e (chromium)", &mut || {
        if !built {
            Outcome::Skipped("no server binary to test".into())
        } else if !viewer_built {
            Outcome::Skipped("the viewer did not build".into())
        } else {
            from_result(viewer::e2e(paths, &paths.target_dir.join("debug/rangsi")))
        }
    });
    if built {
        step("pytest", &mut || {
            pytest(paths, pytest_args, Backend::Default)
        });
        step("pytest, index on PostgreSQL", &mut || {
            pytest(paths, pytest_args, Backend::Postgres)
        });
        step("pytest, PostgreSQL + S3", &mut || {
            pytest(paths, pytest_args, Backend::PostgresS3)
        });
    } else {
        for name in [
            "pytest",
            "pytest, index on PostgreSQL",
            "pytest, PostgreSQL + S3",
        ] {
            steps.push(Step {
                name,
                outcome: Outcome::Skipped("no server binary to test".into()),
                secs: 0.0,
            });
        }
    }

    println!("\n=== xtask test summary");
    let mut failed = Vec::new();
    for s in &steps {
        let (word, note) = match &s.outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Skipped(why) => ("skipped", format!("  ({why})")),
            Outcome::Failed(why) => {
                failed.push(s.name);
                ("FAILED", format!("  ({why})"))
            }
        };
        let (first, _) = note.split_once('\n').unwrap_or((&note, ""));
        println!("  {:<30} {:<8} {:>7.1} s{first}", s.name, word, s.secs);
    }
    // A failure's further lines (the failing e2e tests, say) after the table.
    for s in &steps {
        if let Outcome::Failed(why) = &s.outcome
            && let Some((_, rest)) = why.split_once('\n')
        {
            println!("\n--- {}:\n{rest}", s.name);
        }
    }
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    println!("xtask test: all steps passed");
    Ok(())
}

fn from_result<T>(r: Result<T>) -> Outcome {
    match r {
        Ok(_) => Outcome::Passed,
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}

/// `rangsi-pixels`' integration tests built for wasm32 and run by
/// `wasm-bindgen-test-runner` (the runner in `.cargo/config.toml`) in headless
/// Chromium, with the flags of `crates/pixels/webdriver.json`.
fn wasm_tests(paths: &Paths) -> Command {
    let mut cmd = paths.cargo();
    cmd.args([
        "test",
        "-p",
        "rangsi-pixels",
        "--target",
        setup::WASM_TARGET,
    ])
    .env("PATH", paths.path_with_tools());
    if env::var_os("CHROMEDRIVER").is_none() {
        cmd.env("CHROMEDRIVER", setup::CHROMEDRIVER);
    }
    println!("{}", process::describe(&cmd));
    cmd
}

/// Where the servers of a pytest pass keep their index and blobs.
#[derive(Clone, Copy, PartialEq)]
enum Backend {
    /// SQLite in the data directory, blobs in its folder.
    Default,
    /// The whole suite again with every server's index in a database of its own on a
    /// real PostgreSQL (`RANGSI_TEST_DB=postgres`, server/tests/integration/postgres.py).
    Postgres,
    /// The scale-out configuration, index on PostgreSQL and blobs on Garage
    /// (`RANGSI_TEST_BLOBS=s3`), for [`S3_SUBSET`].
    PostgresS3,
}

/// The archive tests run a third time with every server's index on PostgreSQL and
/// blobs on Garage: STOW, WADO (frames, ranges), DIMSE C-STORE/C-GET, import, fsck,
/// kill -9, tiering from S3 to a cold folder and back (promotion), and two `serve` nodes
/// on one database and one bucket (test_nodes.py, which brings its own PostgreSQL and
/// Garage in every pass). test_s3.py and test_blob_cache.py (their own Garage, SQLite)
/// run in the first pass.
const S3_SUBSET: &[&str] = &[
    "test_stow.py",
    "test_wado.py",
    "test_dimse.py",
    "test_cli.py",
    "test_crash.py",
    "test_tiering.py",
    "test_nodes.py",
    "test_tier_promote.py",
];

fn pytest(paths: &Paths, args: &[String], backend: Backend) -> Outcome {
    let dir = paths.root.join(INTEGRATION_DIR);
    if !has_python_tests(&dir) {
        return Outcome::Skipped(format!("no test_*.py in {INTEGRATION_DIR}"));
    }
    // test_reports.py validates FHIR with a node package installed in e2e/.
    if let Err(e) = viewer::node().and_then(|()| viewer::npm_ci(&paths.root.join("e2e"))) {
        return Outcome::Failed(format!("{e:#}"));
    }
    let bin = paths.target_dir.join("debug/rangsi");
    let mut cmd = Command::new(paths.python());
    // -p no:cacheprovider: no .pytest_cache folder in the clone.
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"]);
    if backend == Backend::PostgresS3 {
        cmd.args(S3_SUBSET.iter().map(|f| format!("{INTEGRATION_DIR}/{f}")))
            .env("RANGSI_TEST_BLOBS", "s3");
    } else {
        cmd.arg(INTEGRATION_DIR).env_remove("RANGSI_TEST_BLOBS");
    }
    if backend == Backend::Default {
        cmd.env_remove("RANGSI_TEST_DB");
    } else {
        cmd.env("RANGSI_TEST_DB", "postgres");
    }
    cmd.args(args)
        .env("RANGSI_GARAGE", setup::garage_bin(paths))
        .current_dir(&paths.root)
        .env("RANGSI_BIN", &bin)
        .env("PATH", path_with_venv(paths));
    match paths.shared() {
        Some(shared) => cmd.env("RANGSI_SHARED", shared),
        None => cmd.env_remove("RANGSI_SHARED"),
    };
    println!("RANGSI_BIN={} {}", bin.display(), process::describe(&cmd));
    match process::status(&mut cmd) {
        Ok(s) if s.success() => Outcome::Passed,
        Ok(s) if s.code() == Some(PYTEST_NO_TESTS) => {
            Outcome::Skipped("pytest collected no tests".into())
        }
        Ok(s) => Outcome::Failed(format!("pytest {s}")),
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}

/// `PATH` with /usr/bin first: pynetdicom installs Python `storescu`, `findscu`, ...
/// into the venv, and the tests mean dcmtk's. The venv's `bin` follows (tests spawn
/// Python through `sys.executable`, the venv's own).
fn path_with_venv(paths: &Paths) -> OsString {
    let mut dirs: Vec<std::path::PathBuf> = vec!["/usr/bin".into(), paths.venv().join("bin")];
    dirs.extend(
        env::var_os("PATH")
            .map(|p| env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    env::join_paths(dirs).unwrap_or_default()
}

fn has_python_tests(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        (name.starts_with("test_") && name.ends_with(".py"))
            || (path.is_dir() && has_python_tests(&path))
    })
}
