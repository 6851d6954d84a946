//! Native half of `cargo xtask bench pixels` (run by xtask as a release build):
//! decodes every test frame of each transfer syntax with
//! [`rangsi_pixels::decode_frame`] on one thread and prints one line per syntax.
//!
//! Usage: `pixels-bench-native DATA_DIR [SECONDS_PER_RUN] [RUNS] [DECODED_DIR]`, where
//! `DATA_DIR` holds the `manifest.json` and frames written by `bench-pixels/prepare.py`.
//! With `DECODED_DIR`, the decoded frames of lossy syntaxes are written there
//! (`ID/NNN.raw`, little endian) for the page to compare with the wasm build's.
//! Output lines are tab-separated `key=value` fields: `syntax`, then either `error`
//! or `fps` (median of the runs), `runs` (each run's frames/s), `check` and `digest`.
//!
//! Each syntax first gets one checked pass over its frames; then the timed runs go
//! round-robin over the syntaxes, so a burst of other work on the machine spreads
//! over all of them instead of spoiling one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rangsi_pixels::{ImageDescription, decode_frame};
use rangsi_pixels_bench_wasm::{checksum, description};
use serde_json::Value;

/// One syntax's frames, ready to be timed.
struct Syntax {
    id: String,
    ts: String,
    desc: ImageDescription,
    frames: Vec<Vec<u8>>,
    check: String,
    digest: String,
    /// Next frame to decode: runs continue where the last one stopped.
    cursor: usize,
    rates: Vec<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: pixels-bench-native DATA_DIR [SECONDS_PER_RUN] [RUNS] [DECODED_DIR]");
        std::process::exit(2);
    };
    let per_run = Duration::from_secs_f64(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1.0));
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let decoded_dir = args.get(3).map(PathBuf::from);
    let manifest = match std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("pixels-bench-native: manifest.json: {e}");
            std::process::exit(1);
        }
    };
    let empty = Vec::new();
    let mut results: Vec<(String, Result<Syntax, String>)> = manifest["syntaxes"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|s| {
            let id = s["id"].as_str().unwrap_or("?").to_owned();
            let prepared = prepare(&dir, s, decoded_dir.as_deref());
            (id, prepared)
        })
        .collect();
    for _ in 0..runs.max(1) {
        for (_, result) in &mut results {
            let Ok(syntax) = result else { continue };
            if let Err(e) = timed_run(syntax, per_run) {
                *result = Err(e);
            }
        }
    }
    for (id, result) in results {
        match result {
            Ok(s) => {
                let runs: Vec<String> = s.rates.iter().map(|r| format!("{r:.1}")).collect();
                let mut sorted = s.rates.clone();
                sorted.sort_by(f64::total_cmp);
                println!(
                    "syntax={id}\tfps={:.1}\truns={}\tcheck={}\tdigest={}",
                    sorted[sorted.len() / 2],
                    runs.join(","),
                    s.check,
                    s.digest
                );
            }
            Err(e) => println!("syntax={id}\terror={}", e.replace(['\t', '\n'], " ")),
        }
    }
}

/// Loads one syntax's frames and decodes each once, checking it against the source.
fn prepare(dir: &Path, syntax: &Value, decoded_dir: Option<&Path>) -> Result<Syntax, String> {
    let num = |key: &str| -> Result<u16, String> {
        syntax[key]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("manifest: no `{key}`"))
    };
    let id = syntax["id"].as_str().unwrap_or("unknown").to_owned();
    let ts = syntax["ts"].as_str().ok_or("manifest: no `ts`")?.to_owned();
    let desc = description(
        num("rows")?,
        num("columns")?,
        num("bits_allocated")?,
        num("bits_stored")?,
        num("high_bit")?,
        num("pixel_representation")?,
        syntax["photometric"].as_str().unwrap_or("MONOCHROME2"),
    );
    let lossy = syntax["lossy"].as_bool().unwrap_or(false);
    let frames: Vec<Vec<u8>> = syntax["files"]
        .as_array()
        .ok_or("manifest: no `files`")?
        .iter()
        .map(|f| {
            let path = dir.join(f.as_str().unwrap_or_default());
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    if frames.is_empty() {
        return Err("no frames".into());
    }
    let expected: Vec<(i64, i64)> = syntax["expected"]
        .as_array()
        .ok_or("manifest: no `expected`")?
        .iter()
        .map(|c| (c[0].as_i64().unwrap_or(0), c[1].as_i64().unwrap_or(0)))
        .collect();

    let mut sums = Vec::with_capacity(frames.len());
    for (n, bytes) in frames.iter().enumerate() {
        let frame = decode_frame(&ts, &desc, bytes).map_err(|e| format!("frame {n}: {e}"))?;
        let sum = checksum(&frame.samples).ok_or("float samples")?;
        if !lossy && Some(&sum) != expected.get(n) {
            return Err(format!("frame {n}: decoded pixels differ from the source"));
        }
        sums.push(sum);
        if let (true, Some(out)) = (lossy, decoded_dir) {
            let path = out.join(&id).join(format!("{n:03}.raw"));
            std::fs::create_dir_all(out.join(&id))
                .and_then(|()| std::fs::write(&path, frame.to_native_le_bytes(&desc)))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let check = if lossy {
        "lossy: compared with the browser decoders".to_owned()
    } else {
        format!(
            "{}/{} frames identical to the source",
            frames.len(),
            frames.len()
        )
    };
    Ok(Syntax {
        id,
        ts,
        desc,
        frames,
        check,
        digest: digest(&sums),
        cursor: 0,
        rates: Vec::new(),
    })
}

/// Decodes frames in turn for at least `per_run`; records frames/s.
fn timed_run(s: &mut Syntax, per_run: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut decoded = 0usize;
    while decoded == 0 || started.elapsed() < per_run {
        let frame = decode_frame(&s.ts, &s.desc, &s.frames[s.cursor])
            .map_err(|e| format!("{}: {e}", s.id))?;
        std::hint::black_box(&frame);
        s.cursor = (s.cursor + 1) % s.frames.len();
        decoded += 1;
    }
    s.rates
        .push(decoded as f64 / started.elapsed().as_secs_f64());
    Ok(())
}

/// All frames' checksums in one string, to compare with the wasm build's.
fn digest(sums: &[(i64, i64)]) -> String {
    let h = sums.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, (a, b)| {
        a.to_le_bytes()
            .iter()
            .chain(b.to_le_bytes().iter())
            .fold(h, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3))
    });
    format!("{h:016x}")
}
