//! Child processes: run to completion, capture output, or stop after a deadline.
//!
//! Every error names the command line, so a failing step in `cargo xtask …` says
//! what it ran without a backtrace.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The command line as a user would type it (program name and arguments, no environment).
pub fn describe(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program());
    let mut s = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains([' ', '"', '\'', '*']) {
            s.push_str(&format!(" '{arg}'"));
        } else {
            s.push(' ');
            s.push_str(&arg);
        }
    }
    s
}

/// Runs `cmd` with inherited stdio; `Ok` only on exit status 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio and returns its exit status, whatever it is.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))
}

/// Runs `cmd`, optionally feeding `stdin`, and returns its stdout (trimmed) when it exits 0.
/// On failure the error carries the tail of stderr.
pub fn capture(cmd: &mut Command, stdin: Option<&str>) -> Result<String> {
    let out = output_within(cmd, stdin, Duration::from_secs(600))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `cmd` with stdout and stderr captured, killing it after `limit`.
/// `Ok` only on exit status 0; errors carry the last lines of stderr (or stdout).
pub fn output_within(cmd: &mut Command, stdin: Option<&str>, limit: Duration) -> Result<Output> {
    let out = raw_output_within(cmd, stdin, limit)?;
    if !out.status.success() {
        let tail = tail_lines(
            if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            },
            6,
        );
        bail!("`{}` failed ({}): {tail}", describe(cmd), out.status);
    }
    Ok(out)
}

/// Like [`output_within`] but returns the output whatever the exit status.
pub fn raw_output_within(
    cmd: &mut Command,
    stdin: Option<&str>,
    limit: Duration,
) -> Result<Output> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(text.as_bytes())
            .context("writing to child's stdin")?;
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = match wait_within(&mut child, limit)? {
        Some(status) => status,
        None => bail!(
            "`{}` did not finish within {} s (killed)",
            describe(cmd),
            limit.as_secs()
        ),
    };
    let join = |h: thread::JoinHandle<Vec<u8>>| h.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

/// Waits for `child` up to `limit`; kills it and returns `None` when the time is up.
pub fn wait_within(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().context("waiting for child")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Asks `child` to stop with SIGTERM (graceful), then kills it after `grace`.
pub fn terminate(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    if matches!(wait_within(child, grace), Ok(None) | Err(_)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The last `n` non-empty lines of `bytes`, joined with " | ".
pub fn tail_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}
