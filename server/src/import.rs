//! `rangsi import`: folders, DICOMDIR media (a patient's CD) and zip files, through the
//! same ingest path as DIMSE and STOW, with a progress bar and a summary.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::service::ingest::{Expect, IngestError, StagedWriter, Stored};
use crate::service::{Archive, Principal};

/// SOP Class of a DICOMDIR (Media Storage Directory Storage).
const MEDIA_DIRECTORY: &[u8] = b"1.2.840.10008.1.3.10";

#[derive(Default, Debug)]
struct Summary {
    imported: usize,
    duplicates: usize,
    conflicts: usize,
    failed: usize,
    skipped: usize,
}

/// One thing to import: a file on disk or an entry of a zip file.
enum Source {
    File(PathBuf),
    ZipEntry {
        zip: PathBuf,
        index: usize,
        name: String,
    },
}

fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

fn collect(path: &Path, out: &mut Vec<Source>) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry?;
            if entry.file_type().is_file() {
                collect_file(entry.path(), out)?;
            }
        }
    } else if path
        .file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
    {
        // A DICOMDIR names files on the same medium: import the whole medium.
        collect(path.parent().unwrap_or(Path::new(".")), out)?;
    } else {
        collect_file(path, out)?;
    }
    Ok(())
}

fn collect_file(path: &Path, out: &mut Vec<Source>) -> anyhow::Result<()> {
    if is_zip(path) {
        let f = std::fs::File::open(path)?;
        let mut z =
            zip::ZipArchive::new(f).with_context(|| format!("reading zip {}", path.display()))?;
        for i in 0..z.len() {
            let e = z.by_index(i)?;
            if e.is_file() {
                out.push(Source::ZipEntry {
                    zip: path.to_path_buf(),
                    index: i,
                    name: e.name().to_string(),
                });
            }
        }
    } else {
        out.push(Source::File(path.to_path_buf()));
    }
    Ok(())
}

/// Reads a source fully into memory-bounded chunks; returns None if it is not Part 10.
fn read_source(
    src: &Source,
    mut sink: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let mut reader: Box<dyn Read> = match src {
        Source::File(p) => Box::new(std::fs::File::open(p)?),
        Source::ZipEntry { zip, index, .. } => {
            let f = std::fs::File::open(zip)?;
            let mut z = zip::ZipArchive::new(f)?;
            let mut e = z.by_index(*index)?;
            let mut buf = Vec::new();
            e.read_to_end(&mut buf)?;
            Box::new(std::io::Cursor::new(buf))
        }
    };
    let mut head = [0u8; 132];
    let mut got = 0;
    while got < head.len() {
        let n = reader.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let part10 = got >= 132 && &head[128..132] == b"DICM";
    // Also accepted: a file meta group without preamble (pydicom's dcmwrite of in-memory data sets).
    let bare_meta = got >= 2 && head[0] == 0x02 && head[1] == 0x00;
    if !part10 && !bare_meta {
        return Ok(false);
    }
    sink(&head[..got])?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sink(&buf[..n])?;
    }
    Ok(true)
}

fn name_of(src: &Source) -> String {
    match src {
        Source::File(p) => p.display().to_string(),
        Source::ZipEntry { zip, name, .. } => format!("{}!{name}", zip.display()),
    }
}

pub async fn run(archive: &Archive, hospital: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    let h = archive
        .index()
        .hospital_by_code(hospital)
        .await?
        .with_context(|| {
            format!("no hospital with code {hospital}; add it with `rangsi hospital add`")
        })?;
    let mut sources = Vec::new();
    for p in paths {
        collect(p, &mut sources)?;
    }
    let who = Principal::cli(Some(h.id));
    let bar = ProgressBar::new(sources.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut sum = Summary::default();
    for src in &sources {
        bar.inc(1);
        // Read synchronously into a buffer, then stage (keeps the zip reader simple).
        let mut chunks: Vec<u8> = Vec::new();
        let src_name = name_of(src);
        let is_dicom = match read_source(src, |b| {
            chunks.extend_from_slice(b);
            Ok(())
        }) {
            Ok(d) => d,
            Err(e) => {
                bar.println(format!("failed: {src_name}: {e}"));
                sum.failed += 1;
                continue;
            }
        };
        if !is_dicom {
            sum.skipped += 1;
            continue;
        }
        // The media directory itself is not an instance.
        let head = &chunks[..chunks.len().min(1024)];
        if src_name
            .rsplit(['/', '!'])
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
            || head
                .windows(MEDIA_DIRECTORY.len())
                .any(|w| w == MEDIA_DIRECTORY)
        {
            sum.skipped += 1;
            continue;
        }
        // Files written without a complete file meta group get a standard container.
        let chunks = match crate::dicom::part10::normalize_head(&chunks, true) {
            crate::dicom::part10::Head::Rewrite {
                mut prefix,
                consumed,
            } => {
                prefix.extend_from_slice(&chunks[consumed..]);
                prefix
            }
            _ => chunks,
        };
        let mut w = StagedWriter::create(archive, u64::MAX).await?;
        w.write(&chunks).await?;
        let staged = w.finish().await?;
        match archive.ingest(&who, staged, &Expect::default()).await {
            Ok(o) => match o.stored {
                Stored::New => sum.imported += 1,
                Stored::Duplicate => sum.duplicates += 1,
                Stored::Conflict => {
                    sum.conflicts += 1;
                    bar.println(format!(
                        "conflict (first kept): {src_name}: SOP Instance UID {}",
                        o.sop_instance_uid
                    ));
                }
            },
            Err(IngestError::Service(e)) => return Err(e.into()),
            Err(e) => {
                sum.failed += 1;
                bar.println(format!("failed: {src_name}: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "imported {}, duplicates {}, conflicts {}, failed {} (skipped {} non-DICOM files)",
        sum.imported, sum.duplicates, sum.conflicts, sum.failed, sum.skipped
    );
    if sum.failed > 0 && sum.imported + sum.duplicates + sum.conflicts == 0 {
        anyhow::bail!("nothing could be imported");
    }
    Ok(())
}
