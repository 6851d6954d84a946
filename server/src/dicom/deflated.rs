//! Frames of a Deflated Explicit VR Little Endian file (PS3.5 A.5), read by
//! inflating the data set as a stream.
//!
//! In a deflated file the frames are inside one zlib (raw deflate) stream, so
//! they cannot be byte ranges of the blob like those of every other syntax
//! (`scan::PixelLayout` is `None` for them). Here the data set is inflated on
//! the fly and walked once: the elements before Pixel Data are kept (they
//! describe the frames), Pixel Data is skipped up to each wanted frame, and
//! the stream is dropped after the last one. Memory holds the data set before
//! the pixel data and the wanted frames, never the whole inflated file.

use std::io::{BufRead, BufReader, Read};

use dicom_object::InMemDicomObject;

use super::scan::{self, ScanError};

pub const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";

/// Largest data set before Pixel Data kept in memory (private tags, icons,
/// overlays): far beyond real files, a bound against a deflate bomb.
const MAX_HEADER_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeflatedError {
    #[error("deflated data set: {0}")]
    Malformed(String),
    #[error("the deflated data set has no native Pixel Data")]
    NoPixelData,
    #[error("frame {asked} does not exist (the instance has {count})")]
    NoSuchFrame { asked: u32, count: u32 },
    #[error("{0}")]
    Unsupported(String),
    #[error("I/O reading the stored file: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the given frames (1-based) of a stored deflated Part 10 file: their
/// bytes (Explicit VR Little Endian), in the order asked. `frame_len` gives a
/// frame's byte length and the number of frames from the data set before
/// Pixel Data (the caller knows the pixel module).
pub fn read_frames<R: Read>(
    file: R,
    numbers: &[u32],
    frame_len: impl FnOnce(&InMemDicomObject) -> Result<(u64, u32), DeflatedError>,
) -> Result<Vec<Vec<u8>>, DeflatedError> {
    let mut file = BufReader::with_capacity(64 * 1024, file);
    skip_file_meta(&mut file)?;
    let inflated = BufReader::with_capacity(64 * 1024, flate2::bufread::DeflateDecoder::new(file));
    let walk = scan::forward_to_pixel_data(inflated, MAX_HEADER_BYTES).map_err(|e| match e {
        ScanError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DeflatedError::NoPixelData
        }
        ScanError::Io(io) => DeflatedError::Io(io),
        other => DeflatedError::Malformed(other.to_string()),
    })?;
    let Some(value_len) = walk.pixel_value_len else {
        return Err(DeflatedError::Unsupported(
            "encapsulated pixel data in a deflated data set".into(),
        ));
    };
    let explicit_le = dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN.erased();
    let header =
        InMemDicomObject::read_dataset_with_ts(std::io::Cursor::new(&walk.header), &explicit_le)
            .map_err(|e| DeflatedError::Malformed(e.to_string()))?;
    let (len, count) = frame_len(&header)?;
    if len == 0 || len.saturating_mul(u64::from(count)) > u64::from(value_len) {
        return Err(DeflatedError::Malformed(format!(
            "{count} frame(s) of {len} bytes do not fit in {value_len} bytes of Pixel Data"
        )));
    }
    if let Some(&asked) = numbers.iter().find(|&&n| n == 0 || n > count) {
        return Err(DeflatedError::NoSuchFrame { asked, count });
    }
    // One pass in file order, each distinct frame read once.
    let mut order: Vec<u32> = numbers.to_vec();
    order.sort_unstable();
    order.dedup();
    let mut read: Vec<(u32, Vec<u8>)> = Vec::with_capacity(order.len());
    let mut at = 0u64;
    let mut rest = walk.reader;
    for n in order {
        let start = u64::from(n - 1) * len;
        std::io::copy(&mut (&mut rest).take(start - at), &mut std::io::sink())?;
        let mut buf = vec![0u8; len as usize];
        rest.read_exact(&mut buf)?;
        at = start + len;
        read.push((n, buf));
    }
    Ok(numbers
        .iter()
        .map(|n| {
            read.iter()
                .find(|(m, _)| m == n)
                .map(|(_, b)| b.clone())
                .unwrap_or_default()
        })
        .collect())
}

/// Consumes the preamble, "DICM" and the (never deflated) file meta group.
fn skip_file_meta<R: BufRead>(r: &mut R) -> Result<(), DeflatedError> {
    let mut pre = [0u8; 132];
    r.read_exact(&mut pre)?;
    if &pre[128..] != b"DICM" {
        return Err(DeflatedError::Malformed("no DICM prefix".into()));
    }
    loop {
        let peek = r.fill_buf()?;
        if peek.len() < 2 || u16::from_le_bytes([peek[0], peek[1]]) != 0x0002 {
            return Ok(());
        }
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        let vr = &head[4..6];
        let len = if matches!(vr, b"OB" | b"OW" | b"UN" | b"UT" | b"SQ" | b"UC" | b"UR") {
            let mut l = [0u8; 4];
            r.read_exact(&mut l)?;
            u64::from(u32::from_le_bytes(l))
        } else {
            u64::from(u16::from_le_bytes([head[6], head[7]]))
        };
        if len == 0xFFFF_FFFF {
            return Err(DeflatedError::Malformed(
                "undefined length in the file meta group".into(),
            ));
        }
        std::io::copy(&mut (&mut *r).take(len), &mut std::io::sink())?;
    }
}
