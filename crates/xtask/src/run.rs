//! `cargo xtask run`: the README's first command. Builds the viewer (trunk) and the
//! release server that embeds it, seeds `./rangsi-data` once with a demo hospital, a
//! doctor, a registered modality AE and a Thai-named CT study, prints how to connect,
//! then becomes `rangsi serve`.
//! With an existing data dir it only builds and serves.

use std::env;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::setup::{self, Paths};
use crate::{process, viewer};

const HOSPITAL_CODE: &str = "10670";
const HOSPITAL_NAME: &str = "โรงพยาบาลอุดรธานี (Udon Thani Hospital)";
const USER: &str = "demo";
const PASSWORD: &str = "demo-demo";
const MODALITY_AE: &str = "MODALITY";
const DEMO_SLICES: &str = "40";

pub fn main(paths: &Paths, serve_args: &[String]) -> Result<()> {
    setup::venv(paths)?;
    // The release binary embeds viewer/dist: build the viewer first.
    viewer::build(paths)?;
    let bin = paths.build_rangsi(true)?;
    let data = paths.root.join("rangsi-data");
    if !data.exists() {
        println!("xtask run: seeding demo data in {}", data.display());
        if let Err(e) = seed(paths, &bin, &data) {
            // A half-seeded dir would be taken as "already seeded" next time.
            let _ = fs::remove_dir_all(&data);
            return Err(e.context("seeding the demo data dir (removed again)"));
        }
    }
    print_how_to_connect(&bin, &data);
    let mut serve = Command::new(&bin);
    serve
        .arg("serve")
        .arg("--data")
        .arg(&data)
        .args(serve_args)
        .env_remove("RANGSI_ADMIN_PASSWORD");
    let err = serve.exec();
    Err(err).with_context(|| format!("cannot exec `{}`", process::describe(&serve)))
}

fn seed(paths: &Paths, bin: &Path, data: &Path) -> Result<()> {
    // The first command on the empty dir creates the `admin` user and prints its
    // generated password on stderr: show everything the commands print.
    let rangsi = |args: &[&str], stdin: Option<&str>| -> Result<()> {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("RANGSI_DATA", data)
            .env("RANGSI_LOG", "warn")
            .env_remove("RANGSI_ADMIN_PASSWORD");
        let out = process::output_within(&mut cmd, stdin, Duration::from_secs(600))?;
        let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            println!("  {line}");
        }
        Ok(())
    };
    rangsi(&["hospital", "add", HOSPITAL_CODE, HOSPITAL_NAME], None)?;
    let user = [
        "user",
        "add",
        USER,
        "--hospital",
        HOSPITAL_CODE,
        "--role",
        "doctor",
        "--password-stdin",
    ];
    rangsi(&user, Some(&format!("{PASSWORD}\n")))?;
    rangsi(
        &["ae", "add", MODALITY_AE, "--hospital", HOSPITAL_CODE],
        None,
    )?;

    let Some(shared) = paths.shared() else {
        println!(
            "  ../shared/gen_ct_series.py not found: no demo study (import one with `rangsi import`)"
        );
        return Ok(());
    };
    let series = env::temp_dir().join(format!("rangsi-demo-ct-{}", std::process::id()));
    let generated = process::capture(
        Command::new(paths.python())
            .arg(shared.join("gen_ct_series.py"))
            .arg("--out")
            .arg(&series)
            .args(["--slices", DEMO_SLICES, "--thai"]),
        None,
    );
    println!("  demo CT: {DEMO_SLICES} slices, Thai patient names");
    let series_arg = series.to_string_lossy();
    let imported =
        generated.and_then(|_| rangsi(&["import", "--hospital", HOSPITAL_CODE, &series_arg], None));
    let _ = fs::remove_dir_all(&series);
    imported
}

fn print_how_to_connect(bin: &Path, data: &Path) {
    let bin = bin.display();
    let data = data.display();
    println!(
        "
──────────────────────────────── Rangsi demo ────────────────────────────────
 data dir   {data}
 viewer     http://127.0.0.1:8080   log in as {USER} / {PASSWORD} (doctor, hospital {HOSPITAL_CODE})
 admin      user `admin`: its password was printed once, when the data dir was created
 DIMSE      AE RANGSI at 127.0.0.1:11112; AE {MODALITY_AE} is registered (others are rejected):
              storescu -aec RANGSI -aet {MODALITY_AE} 127.0.0.1 11112 FILE.dcm
 DICOMweb   base URL http://127.0.0.1:8080/dicomweb (QIDO-RS, WADO-RS, STOW-RS)
              curl -u {USER}:{PASSWORD} http://127.0.0.1:8080/dicomweb/studies
            or with a token:
              {bin} token create --data {data} --user {USER}
              curl -H \"Authorization: Bearer TOKEN\" http://127.0.0.1:8080/dicomweb/studies
 (default addresses; arguments after `cargo xtask run` go to `rangsi serve`)
 Stop with Ctrl-C.
─────────────────────────────────────────────────────────────────────────────
"
    );
}
