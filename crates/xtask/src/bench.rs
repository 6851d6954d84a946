//! `cargo xtask bench <what>`: benchmarks that measure Rangsi side by side with a peer
//! in the same run, on the same machine and data, and write a markdown table.
//!
//! Add a benchmark as a module under `bench/` and one arm in [`main`].

mod peer;
mod pixels;
mod server;
mod studylist;
mod viewer;
mod volume;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::setup::Paths;

const USAGE: &str = "usage: cargo xtask bench server|pixels|viewer|studylist|volume";

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("server") => server::main(paths, &args[1..]),
        Some("pixels") => pixels::main(paths, &args[1..]),
        Some("viewer") => viewer::main(paths, &args[1..]),
        Some("studylist") => studylist::main(paths, &args[1..]),
        Some("volume") => volume::main(paths, &args[1..]),
        Some(other) => bail!("unknown benchmark `{other}`\n{USAGE}"),
        None => bail!("{USAGE}"),
    }
}

/// A results table: one row per figure, one column per system measured.
pub struct Table {
    columns: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, label: &str, cells: Vec<String>) {
        self.rows.push((label.to_string(), cells));
    }

    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("| measurement | {} |\n", self.columns.join(" | "));
        out.push_str(&format!("|---|{}\n", "---|".repeat(self.columns.len())));
        for (label, cells) in &self.rows {
            let cells: Vec<String> = cells.iter().map(|c| esc(c)).collect();
            out.push_str(&format!("| {} | {} |\n", esc(label), cells.join(" | ")));
        }
        out
    }
}

/// A scratch folder removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("rangsi-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A TCP port that was free a moment ago (for servers that cannot bind port 0 themselves).
/// Prints a benchmark's markdown report and writes it to `$CARGO_TARGET_DIR/bench-NAME.md`.
pub fn write_report(
    paths: &Paths,
    name: &str,
    report: &str,
    started: std::time::Instant,
) -> Result<()> {
    println!("{report}");
    fs::create_dir_all(&paths.target_dir)?;
    let file = paths.target_dir.join(format!("bench-{name}.md"));
    fs::write(&file, report)?;
    eprintln!(
        "bench {name}: done in {:.0} s; wrote {}",
        started.elapsed().as_secs_f64(),
        file.display()
    );
    Ok(())
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One line naming the machine: CPU model, cores, memory.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {mem_gib:.0} GiB RAM")
}

/// Word `n` (from 0) of the first line `cmd` prints: a tool's version.
pub fn version_word(cmd: &mut Command, n: usize) -> Option<String> {
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()?
        .split_whitespace()
        .nth(n)
        .map(String::from)
}

/// Today's date (UTC), as `date` prints it.
pub fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table_escapes_pipes_and_aligns_columns() {
        let mut t = Table::new(vec!["rangsi".into(), "Orthanc".into()]);
        t.row("QIDO a|b", vec!["1 ms".into(), "n/a (x | y)".into()]);
        assert_eq!(
            t.markdown(),
            "| measurement | rangsi | Orthanc |\n|---|---|---|\n| QIDO a\\|b | 1 ms | n/a (x \\| y) |\n"
        );
    }
}
