//! Where things live, and the idempotent set-up every subcommand shares: Debian
//! packages, the pinned Python venv of third-party DICOM clients, and pinned
//! cargo-installed tools (wasm-bindgen-cli for browser tests, cargo-fuzz).
//!
//! Set-up prints only what it installs; when everything is present it is silent.
//! Everything lands outside the clone (`$HOME/.cache/rangsi`), so a fresh CI clone
//! reuses the cargo target folder and the venv of the previous run.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process;

/// Debian packages the tests need: the third-party DICOM peers and encoders.
pub const TEST_PACKAGES: &[&str] = &[
    "dcmtk",
    "libgdcm-tools",
    "libopenjp2-tools",
    "openjph-tools",
    // Mesa's software Vulkan (lavapipe): rangsi-render's golden-image tests on machines without a GPU.
    "mesa-vulkan-drivers",
    "libvulkan1",
    // zbarimg: an independent QR decoder for the share-link tests (pytest and e2e).
    "zbar-tools",
    // openssl: a private CA and a server certificate for the gateway's HTTPS test.
    "openssl",
    // The referral letter's default Thai font (TLWG Loma), and poppler's pdftotext /
    // pdffonts / pdftoppm to check the letter independently.
    "fonts-tlwg-loma-ttf",
    "poppler-utils",
    // test_ops.py: certificates for the TLS tests, and curl as an HTTPS client.
    "openssl",
    "curl",
    // The pytest pass with the index on PostgreSQL: a throwaway cluster of Debian's
    // server (postgres.py runs initdb and pg_ctl from /usr/lib/postgresql/15/bin).
    "postgresql-15",
];
/// Debian packages the browser tests of the wasm32 build need: Chromium and its
/// WebDriver, and Thai fonts (screenshots of Thai text).
pub const BROWSER_PACKAGES: &[&str] = &["chromium", "chromium-driver", "fonts-thai-tlwg"];
/// WebDriver of the Debian `chromium-driver` package, unless `CHROMEDRIVER` says otherwise.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The Rust target of the browser build.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// cargo-fuzz, for `cargo xtask fuzz`.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Extra Debian packages `bench server` needs: the peer archive (with GDCM, its JPEG 2000
/// decoder) and the HTTP load generator.
pub const BENCH_PACKAGES: &[&str] = &[
    "orthanc",
    "orthanc-dicomweb",
    "orthanc-gdcm",
    "wrk",
    // `bench server --backend all`: Orthanc with its index on PostgreSQL (15, Debian's).
    "orthanc-postgresql",
    "postgresql-15",
];

/// Paths of the workspace and of the caches outside it.
pub struct Paths {
    /// The workspace root (the folder with the virtual `Cargo.toml`).
    pub root: PathBuf,
    /// Cargo's target folder for every cargo command xtask spawns.
    pub target_dir: PathBuf,
    /// `$HOME/.cache/rangsi`: tools and generated benchmark data.
    pub cache: PathBuf,
}

impl Paths {
    pub fn discover() -> Result<Paths> {
        let root = workspace_root()?;
        let home = env::var_os("HOME")
            .map(PathBuf::from)
            .context("HOME is not set")?;
        let cache = home.join(".cache/rangsi");
        let target_dir = match env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
            // cargo resolves a relative CARGO_TARGET_DIR against the directory it runs in.
            Some(dir) => env::current_dir()?.join(dir),
            None => cache.join("target"),
        };
        Ok(Paths {
            root,
            target_dir,
            cache,
        })
    }

    /// `cargo` (the one running us, when known) in the workspace root, with our target folder.
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
        cmd.current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target_dir);
        cmd
    }

    /// Where `cargo install --root` puts pinned tools (wasm-bindgen-cli, cargo-fuzz).
    pub fn tools(&self) -> PathBuf {
        self.cache.join("tools")
    }

    /// `PATH` with the pinned tools' `bin` first.
    pub fn path_with_tools(&self) -> OsString {
        let mut dirs = vec![self.tools().join("bin")];
        dirs.extend(env::var_os("PATH").map_or_else(Vec::new, |p| env::split_paths(&p).collect()));
        env::join_paths(dirs).unwrap_or_default()
    }

    /// The Python venv with the pinned clients.
    pub fn venv(&self) -> PathBuf {
        self.cache.join("tools/venv")
    }

    /// The venv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.venv().join("bin/python")
    }

    /// The folder with the CT series generator: `$RANGSI_SHARED` if set, else
    /// `../shared` beside the clone, else `/work/shared` (where a clone made
    /// elsewhere, say under /tmp, still finds it on this machine kind).
    pub fn shared(&self) -> Option<PathBuf> {
        let candidates = std::env::var_os("RANGSI_SHARED")
            .map(PathBuf::from)
            .into_iter()
            .chain(self.root.parent().map(|p| p.join("shared")))
            .chain(std::iter::once(PathBuf::from("/work/shared")));
        candidates
            .into_iter()
            .find(|dir| dir.join("gen_ct_series.py").is_file())
    }

    pub fn requirements(&self) -> PathBuf {
        self.root.join("server/tests/integration/requirements.txt")
    }

    /// Builds `rangsi` with `cargo build [--release] -p rangsi` and returns the binary's path.
    pub fn build_rangsi(&self, release: bool) -> Result<PathBuf> {
        let mut cmd = self.cargo();
        cmd.args(["build", "-p", "rangsi"]);
        if release {
            cmd.arg("--release");
        }
        process::run(&mut cmd)?;
        Ok(self
            .target_dir
            .join(if release { "release" } else { "debug" })
            .join("rangsi"))
    }
}

/// Makes sure the Debian `packages` are installed: one `apt-get update` and one
/// `apt-get install` for all missing ones, nothing when none is missing.
pub fn apt(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    println!("setup: installing Debian packages: {}", missing.join(" "));
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            cmd.args(["-n", "apt-get"]);
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    // apt and dpkg chatter goes to the error message only when something fails.
    let limit = Duration::from_secs(1800);
    process::output_within(&mut apt(&["-q", "update"]), None, limit)?;
    let mut install = apt(&["install", "-y", "-q"]);
    install.args(&missing);
    process::output_within(&mut install, None, limit)?;
    let still: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if !still.is_empty() {
        bail!("apt-get did not install: {}", still.join(" "));
    }
    println!(
        "setup: Debian packages installed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Everything `cargo test --target wasm32-unknown-unknown` needs: the Rust
/// target, Chromium with its WebDriver, and `wasm-bindgen-test-runner` of the
/// wasm-bindgen version in Cargo.lock (the two must be equal).
pub fn browser_tests(paths: &Paths) -> Result<()> {
    rust_target(WASM_TARGET)?;
    apt(BROWSER_PACKAGES)?;
    let version = locked_version(&paths.root, "wasm-bindgen")?;
    // Not --locked: its lockfile names a crate version the registry no longer has.
    cargo_tool(paths, "wasm-bindgen-cli", "wasm-bindgen", &version, false)
}

/// cargo-fuzz, pinned, in the tools folder.
pub fn cargo_fuzz(paths: &Paths) -> Result<()> {
    cargo_tool(paths, "cargo-fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, true)
}

/// Makes sure rustup has the standard library of `target`.
pub fn rust_target(target: &str) -> Result<()> {
    let installed = process::capture(
        Command::new("rustup").args(["target", "list", "--installed"]),
        None,
    )?;
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    println!("setup: rustup target add {target}");
    process::output_within(
        Command::new("rustup").args(["target", "add", target]),
        None,
        Duration::from_secs(600),
    )?;
    Ok(())
}

/// Garage, the S3-compatible object store the S3 tests run against (a real one, no
/// mock). AGPL: it only ever runs as a separate test service, nothing links it.
pub const GARAGE_VERSION: &str = "2.5.0";

/// Where the pinned Garage binary lives.
pub fn garage_bin(paths: &Paths) -> PathBuf {
    paths.tools().join("garage/bin/garage")
}

/// Installs Garage `GARAGE_VERSION` (SQLite metadata, bundled libs: gcc only) unless
/// `garage --version` there already reports it. A build of 15–30 min on 2 cores, with its
/// own target folder under the cache so a later reinstall reuses it.
pub fn garage(paths: &Paths) -> Result<()> {
    let bin = garage_bin(paths);
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.is_some_and(|v| garage_version_matches(&v)) {
        return Ok(());
    }
    let started = Instant::now();
    println!(
        "setup: installing garage {GARAGE_VERSION} for the S3 tests (a build of 15-30 minutes)"
    );
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    cmd.args([
        "install",
        "garage",
        "--version",
        GARAGE_VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        "bundled-libs,sqlite",
        "--root",
    ])
    .arg(paths.tools().join("garage"))
    .env("CARGO_TARGET_DIR", paths.cache.join("garage-build"));
    process::output_within(&mut cmd, None, Duration::from_secs(3600))?;
    println!(
        "setup: garage {GARAGE_VERSION} installed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether `garage --version` output names `GARAGE_VERSION`:
/// `garage cargo:2.5.0 [features: bundled-libs, sqlite]` (a cargo install), or
/// `garage v2.5.0 […]` (a release build).
fn garage_version_matches(out: &str) -> bool {
    out.split_whitespace().nth(1).is_some_and(|w| {
        w.rsplit(':').next().map(|x| x.trim_start_matches('v')) == Some(GARAGE_VERSION)
    })
}

/// Installs crates.io `package` at exactly `version` into the tools folder,
/// unless `binary --version` there already names that version.
pub fn cargo_tool(
    paths: &Paths,
    package: &str,
    binary: &str,
    version: &str,
    locked: bool,
) -> Result<()> {
    let bin = paths.tools().join("bin").join(binary);
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // `wasm-bindgen 0.2.130`, `cargo-fuzz 0.13.2`.
    if installed.is_some_and(|v| v.split_whitespace().nth(1) == Some(version)) {
        return Ok(());
    }
    let started = Instant::now();
    println!("setup: installing {package} {version} (a build of several minutes)");
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    // A bare version is an exact one for `cargo install`.
    cmd.args(["install", package, "--version", version, "--root"])
        .arg(paths.tools())
        // Its own temporary target folder: release builds of tools stay out of ours.
        .env_remove("CARGO_TARGET_DIR");
    if locked {
        cmd.arg("--locked");
    }
    process::output_within(&mut cmd, None, Duration::from_secs(1800))?;
    println!(
        "setup: {package} {version} installed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The version Cargo.lock resolved for crates.io package `name` (exactly one).
pub fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock = fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let head = format!("name = \"{name}\"\nversion = \"");
    let versions: Vec<&str> = lock
        .split("[[package]]")
        .filter_map(|p| p.trim_start().strip_prefix(&head)?.split('"').next())
        .collect();
    match versions.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => bail!("Cargo.lock has no {name}"),
        many => bail!("Cargo.lock has several {name}: {}", many.join(", ")),
    }
}

/// Makes sure the venv exists and holds exactly what requirements.txt pins.
/// Reinstalls only when the file's hash differs from the stamp written by the last install.
pub fn venv(paths: &Paths) -> Result<()> {
    let req = paths.requirements();
    let wanted = fs::read(&req).with_context(|| format!("reading {}", req.display()))?;
    let wanted = format!("{:016x}\n", fnv1a64(&wanted));
    let venv = paths.venv();
    let stamp = venv.join(".requirements.fnv64");
    let usable = Command::new(paths.python())
        .args(["-c", ""])
        .status()
        .is_ok_and(|s| s.success());
    if usable && fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    let started = Instant::now();
    if !usable {
        println!("setup: creating Python venv {}", venv.display());
        if venv.exists() {
            fs::remove_dir_all(&venv)
                .with_context(|| format!("removing broken venv {}", venv.display()))?;
        }
        process::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    println!(
        "setup: installing Python packages from {}",
        rel(&paths.root, &req)
    );
    let _ = fs::remove_file(&stamp);
    process::run(
        Command::new(paths.python())
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&req),
    )?;
    fs::write(&stamp, wanted)?;
    println!(
        "setup: Python venv ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// FNV-1a, 64 bits: a stable content hash for stamp files (not for security).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `path` relative to `base` when below it, for shorter messages.
pub fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).ends_with("install ok installed")
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The workspace root: cargo tells a binary it runs where its manifest is
/// (`crates/xtask`); run by hand, search upwards from the current directory.
fn workspace_root() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") {
        let dir = PathBuf::from(dir);
        if let Some(root) = dir.ancestors().nth(2).filter(|r| is_workspace_root(r)) {
            return Ok(root.to_path_buf());
        }
    }
    let cwd = env::current_dir()?;
    cwd.ancestors()
        .find(|d| is_workspace_root(d))
        .map(Path::to_path_buf)
        .with_context(|| format!("no Cargo workspace root above {}", cwd.display()))
}

fn is_workspace_root(dir: &Path) -> bool {
    fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_version_reads_one_package() {
        let dir = env::temp_dir().join(format!("xtask-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        fs::write(
            dir.join("Cargo.lock"),
            "version = 4\n\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\n\
             [[package]]\nname = \"wasm-bindgen-test\"\nversion = \"0.3.80\"\n",
        )
        .expect("write");
        assert_eq!(
            locked_version(&dir, "wasm-bindgen").expect("found"),
            "0.2.130"
        );
        assert!(locked_version(&dir, "wasm-bindgen-cli").is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn garage_version_is_read_from_either_format() {
        assert!(garage_version_matches(
            "garage cargo:2.5.0 [features: bundled-libs, sqlite]\n"
        ));
        assert!(garage_version_matches("garage v2.5.0 [features: k2v]"));
        assert!(!garage_version_matches(
            "garage cargo:2.4.0 [features: sqlite]"
        ));
        assert!(!garage_version_matches(""));
    }

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
