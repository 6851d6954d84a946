//! A structural walk over a stored Part 10 file, without decoding values.
//!
//! It proves the file is complete (every length fits, every undefined-length sequence
//! is closed) and records where the data set and each frame's bytes are, so that
//! `/frames` and C-GET can serve byte ranges straight from the blob store. It reads
//! headers only and seeks over values: memory stays flat for any file size.

use std::io::{BufReader, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_DELIM: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_DELIM: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const EXTENDED_OFFSET_TABLE: (u16, u16) = (0x7FE0, 0x0001);
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Deepest nesting of sequences we follow; real data sets stay far below.
const MAX_DEPTH: u32 = 64;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    #[error("not a DICOM Part 10 file: {0}")]
    NotPart10(String),
    #[error("truncated or malformed data set at byte {offset}: {what}")]
    Malformed { offset: u64, what: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the frames of an instance are in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelLayout {
    pub encapsulated: bool,
    /// For each frame, the (file offset, length) of its byte ranges: one range for
    /// native data, one per fragment for encapsulated data.
    pub frames: Vec<Vec<(u64, u64)>>,
}

/// The raw structure of the pixel data element, before frames are assigned.
#[derive(Debug, Clone, Default)]
pub struct RawPixel {
    pub encapsulated: bool,
    /// Native: the value's (offset, length). Encapsulated: the Basic Offset Table.
    pub value: (u64, u64),
    pub bot: Vec<u32>,
    /// Encapsulated: every fragment (item value offset, length), and the offset of the
    /// first fragment's item tag (BOT offsets are relative to it).
    pub fragments: Vec<(u64, u64)>,
    pub first_fragment_item: u64,
    pub extended_offsets: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Default)]
pub struct FileLayout {
    pub dataset_offset: u64,
    pub transfer_syntax: String,
    pub pixel: Option<RawPixel>,
    /// Byte ranges `[start, end)` of top-level UN elements of undefined length in an
    /// explicit VR data set (sequences in Implicit VR inside, PS3.5 6.2.2), which
    /// dicom-rs 0.10 cannot read: `parse_stored` parses around them.
    pub unknown_sequences: Vec<(u64, u64)>,
}

#[derive(Clone, Copy)]
struct Syntax {
    explicit: bool,
    big_endian: bool,
}

struct Walker<R> {
    r: R,
    pos: u64,
    size: u64,
}

impl<R: Read + Seek> Walker<R> {
    fn bad(&self, what: impl Into<String>) -> ScanError {
        ScanError::Malformed {
            offset: self.pos,
            what: what.into(),
        }
    }
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ScanError> {
        if self.pos + buf.len() as u64 > self.size {
            return Err(self.bad("unexpected end of file"));
        }
        self.r.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }
    fn skip(&mut self, n: u64) -> Result<(), ScanError> {
        if self.pos + n > self.size {
            return Err(self.bad(format!("value of {n} bytes runs past the end of the file")));
        }
        // BufReader keeps its buffer for seeks inside it (std's specialised seek_relative).
        Seek::seek_relative(&mut self.r, n as i64)?;
        self.pos += n;
        Ok(())
    }
    fn u16(&mut self, be: bool) -> Result<u16, ScanError> {
        let mut b = [0u8; 2];
        self.read_exact(&mut b)?;
        Ok(if be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&mut self, be: bool) -> Result<u32, ScanError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Reads one element header: (tag, vr, length).
    fn header(&mut self, syn: Syntax) -> Result<((u16, u16), [u8; 2], u32), ScanError> {
        let group = self.u16(syn.big_endian)?;
        let elem = self.u16(syn.big_endian)?;
        let tag = (group, elem);
        if group == 0xFFFE {
            // Items and delimiters have no VR and are always little endian in LE syntaxes.
            let len = self.u32(syn.big_endian)?;
            return Ok((tag, *b"  ", len));
        }
        if !syn.explicit {
            let len = self.u32(false)?;
            return Ok((tag, *b"UN", len));
        }
        let mut vr = [0u8; 2];
        self.read_exact(&mut vr)?;
        let long = matches!(
            &vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"UC"
                | b"UR"
                | b"UT"
                | b"UN"
                | b"SV"
                | b"UV"
        );
        let len = if long {
            self.skip(2)?;
            self.u32(syn.big_endian)?
        } else {
            u32::from(self.u16(syn.big_endian)?)
        };
        Ok((tag, vr, len))
    }

    /// Skips the items of an undefined-length sequence up to its delimiter.
    fn skip_sequence(&mut self, syn: Syntax, depth: u32) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(self.bad("sequences nested too deeply"));
        }
        loop {
            let (tag, _, len) = self.header(syn)?;
            match tag {
                SEQ_DELIM => return Ok(()),
                ITEM if len == UNDEFINED => self.skip_item_elements(syn, depth + 1)?,
                ITEM => self.skip(u64::from(len))?,
                _ => {
                    return Err(self.bad(format!(
                        "unexpected ({:04X},{:04X}) inside a sequence",
                        tag.0, tag.1
                    )));
                }
            }
        }
    }

    /// Skips the elements of an undefined-length item up to its delimiter.
    fn skip_item_elements(&mut self, syn: Syntax, depth: u32) -> Result<(), ScanError> {
        loop {
            let (tag, vr, len) = self.header(syn)?;
            if tag == ITEM_DELIM {
                return Ok(());
            }
            if len == UNDEFINED {
                // UN of undefined length: Implicit VR Little Endian inside (CP-246).
                let inner = if &vr == b"UN" {
                    Syntax {
                        explicit: false,
                        big_endian: false,
                    }
                } else {
                    syn
                };
                self.skip_sequence(inner, depth + 1)?;
            } else {
                self.skip(u64::from(len))?;
            }
        }
    }
}

/// The file meta group: returns (transfer syntax, offset where the data set starts).
fn read_meta<R: Read + Seek>(w: &mut Walker<R>) -> Result<String, ScanError> {
    let mut pre = [0u8; 132];
    w.read_exact(&mut pre)
        .map_err(|_| ScanError::NotPart10("shorter than the preamble".into()))?;
    if &pre[128..132] != b"DICM" {
        return Err(ScanError::NotPart10(
            "no DICM prefix after the 128-byte preamble".into(),
        ));
    }
    let mut ts = None;
    loop {
        let start = w.pos;
        let mut peek = [0u8; 2];
        if w.pos + 2 > w.size {
            break;
        }
        w.read_exact(&mut peek)?;
        // Relative, so a BufReader keeps its buffer (an absolute seek empties it: one
        // 64 KiB read per meta element).
        w.r.seek_relative(-2)?;
        w.pos = start;
        if u16::from_le_bytes(peek) != 0x0002 {
            break;
        }
        let (tag, _vr, len) = w.header(Syntax {
            explicit: true,
            big_endian: false,
        })?;
        if len == UNDEFINED {
            return Err(w.bad("undefined length in the file meta group"));
        }
        if tag == (0x0002, 0x0010) {
            if len > 128 {
                return Err(w.bad("transfer syntax UID too long"));
            }
            let mut buf = vec![0u8; len as usize];
            w.read_exact(&mut buf)?;
            ts = Some(
                String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\0', ' '])
                    .to_string(),
            );
        } else {
            w.skip(u64::from(len))?;
        }
    }
    ts.ok_or_else(|| ScanError::NotPart10("file meta has no Transfer Syntax UID".into()))
}

pub fn scan_file(path: &std::path::Path) -> Result<FileLayout, ScanError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    scan(BufReader::with_capacity(64 * 1024, file), size)
}

pub fn scan<R: Read + Seek>(reader: R, size: u64) -> Result<FileLayout, ScanError> {
    let mut w = Walker {
        r: reader,
        pos: 0,
        size,
    };
    let ts = read_meta(&mut w)?;
    let dataset_offset = w.pos;
    let mut layout = FileLayout {
        dataset_offset,
        transfer_syntax: ts.clone(),
        pixel: None,
        unknown_sequences: Vec::new(),
    };
    let syn = match ts.as_str() {
        "1.2.840.10008.1.2" => Syntax {
            explicit: false,
            big_endian: false,
        },
        "1.2.840.10008.1.2.2" => Syntax {
            explicit: true,
            big_endian: true,
        },
        // Deflated: the structure is inside a zlib stream; the full parser validates it.
        "1.2.840.10008.1.2.1.99" => return Ok(layout),
        _ => Syntax {
            explicit: true,
            big_endian: false,
        },
    };
    if w.pos == size {
        return Err(w.bad("empty data set"));
    }
    let mut eot: Option<Vec<u64>> = None;
    while w.pos < size {
        let element_start = w.pos;
        let (tag, vr, len) = w.header(syn)?;
        if tag == PIXEL_DATA {
            if len == UNDEFINED {
                let mut raw = RawPixel {
                    encapsulated: true,
                    ..RawPixel::default()
                };
                let mut first = true;
                loop {
                    let item_pos = w.pos;
                    let (t, _, l) = w.header(syn)?;
                    match t {
                        SEQ_DELIM => break,
                        ITEM if l == UNDEFINED => {
                            return Err(w.bad("undefined-length pixel data fragment"));
                        }
                        ITEM => {
                            if first {
                                if l % 4 != 0 {
                                    return Err(
                                        w.bad("basic offset table length is not a multiple of 4")
                                    );
                                }
                                let mut buf = vec![0u8; l as usize];
                                w.read_exact(&mut buf)?;
                                raw.bot = buf
                                    .chunks_exact(4)
                                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                                    .collect();
                                first = false;
                            } else {
                                if raw.fragments.is_empty() {
                                    raw.first_fragment_item = item_pos;
                                }
                                raw.fragments.push((w.pos, u64::from(l)));
                                w.skip(u64::from(l))?;
                            }
                        }
                        _ => return Err(w.bad("unexpected element inside encapsulated pixel data")),
                    }
                }
                raw.extended_offsets = eot.take();
                layout.pixel = Some(raw);
            } else {
                let raw = RawPixel {
                    encapsulated: false,
                    value: (w.pos, u64::from(len)),
                    ..RawPixel::default()
                };
                w.skip(u64::from(len))?;
                layout.pixel = Some(raw);
            }
            continue;
        }
        if tag == EXTENDED_OFFSET_TABLE
            && len != UNDEFINED
            && len % 8 == 0
            && len <= 64 * 1024 * 1024
        {
            let mut buf = vec![0u8; len as usize];
            w.read_exact(&mut buf)?;
            eot = Some(
                buf.chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            );
            continue;
        }
        if len == UNDEFINED {
            if syn.explicit && &vr != b"SQ" && &vr != b"UN" {
                return Err(w.bad(format!(
                    "undefined length on a {} element",
                    String::from_utf8_lossy(&vr)
                )));
            }
            // UN with undefined length is a sequence whose items are encoded in
            // Implicit VR Little Endian, whatever the file's syntax (PS3.5 6.2.2, CP-246).
            let inner = if &vr == b"UN" {
                Syntax {
                    explicit: false,
                    big_endian: false,
                }
            } else {
                syn
            };
            w.skip_sequence(inner, 1)?;
            if &vr == b"UN" && syn.explicit {
                layout.unknown_sequences.push((element_start, w.pos));
            }
        } else {
            w.skip(u64::from(len))?;
        }
    }
    Ok(layout)
}

/// What [`forward_to_pixel_data`] found.
pub struct PixelDataAhead<R> {
    /// The data set's bytes before the Pixel Data element.
    pub header: Vec<u8>,
    /// Pixel Data's value length; `None` when undefined (encapsulated).
    pub pixel_value_len: Option<u32>,
    /// The stream, positioned at the first byte of the Pixel Data value.
    pub reader: R,
}

/// A forward-only reader that keeps what it reads (up to `limit` bytes); its
/// `Seek` moves forward only, by reading, so [`Walker`] can walk a stream.
struct Recording<R> {
    inner: R,
    kept: Vec<u8>,
    limit: usize,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.kept.len() + n > self.limit {
            return Err(std::io::Error::other(format!(
                "more than {} bytes before Pixel Data",
                self.limit
            )));
        }
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> Seek for Recording<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match pos {
            SeekFrom::Current(n) if n >= 0 => {
                let n = n as u64;
                if std::io::copy(&mut self.by_ref().take(n), &mut std::io::sink())? < n {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                Ok(self.kept.len() as u64)
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a data set stream only moves forward",
            )),
        }
    }
}

/// Walks an Explicit VR Little Endian data set from a stream (an inflated
/// deflated data set) up to its top-level Pixel Data, keeping the bytes
/// before it (at most `limit`). A data set without Pixel Data ends in an
/// `UnexpectedEof` I/O error.
pub fn forward_to_pixel_data<R: Read>(
    reader: R,
    limit: usize,
) -> Result<PixelDataAhead<R>, ScanError> {
    let syn = Syntax {
        explicit: true,
        big_endian: false,
    };
    let mut w = Walker {
        r: Recording {
            inner: reader,
            kept: Vec::new(),
            limit,
        },
        pos: 0,
        size: u64::MAX,
    };
    loop {
        let start = w.pos;
        let (tag, vr, len) = w.header(syn)?;
        if tag == PIXEL_DATA {
            let Recording {
                inner, mut kept, ..
            } = w.r;
            kept.truncate(start as usize);
            return Ok(PixelDataAhead {
                header: kept,
                pixel_value_len: (len != UNDEFINED).then_some(len),
                reader: inner,
            });
        }
        if len == UNDEFINED {
            if &vr != b"SQ" && &vr != b"UN" {
                return Err(w.bad(format!(
                    "undefined length on a {} element",
                    String::from_utf8_lossy(&vr)
                )));
            }
            let inner = Syntax {
                explicit: &vr != b"UN",
                big_endian: false,
            };
            w.skip_sequence(inner, 1)?;
        } else {
            w.skip(u64::from(len))?;
        }
    }
}

/// Assigns byte ranges to frames. `frame_bytes` is the native size of one frame
/// (rows × columns × samples × bits allocated / 8) when known.
pub fn frames(
    raw: &RawPixel,
    number_of_frames: u32,
    frame_bytes: Option<u64>,
) -> Option<PixelLayout> {
    let n = number_of_frames.max(1) as usize;
    if !raw.encapsulated {
        let fb = frame_bytes?;
        if fb == 0 || fb.checked_mul(n as u64)? > raw.value.1 {
            return None;
        }
        let frames = (0..n as u64)
            .map(|i| vec![(raw.value.0 + i * fb, fb)])
            .collect();
        return Some(PixelLayout {
            encapsulated: false,
            frames,
        });
    }
    let frags = &raw.fragments;
    if frags.is_empty() {
        return None;
    }
    if n == 1 {
        return Some(PixelLayout {
            encapsulated: true,
            frames: vec![frags.clone()],
        });
    }
    // Frame start offsets relative to the first fragment's item tag.
    let starts: Option<Vec<u64>> = if let Some(eot) = &raw.extended_offsets {
        Some(eot.clone())
    } else if !raw.bot.is_empty() {
        Some(raw.bot.iter().map(|&o| u64::from(o)).collect())
    } else {
        None
    };
    if let Some(starts) = starts {
        if starts.len() == n {
            let mut frames: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
            for &(off, len) in frags {
                // The fragment's item tag is 8 bytes before its value.
                let rel = off - 8 - raw.first_fragment_item;
                let idx = starts.iter().rposition(|&s| s <= rel)?;
                frames[idx].push((off, len));
            }
            if frames.iter().all(|f| !f.is_empty()) {
                return Some(PixelLayout {
                    encapsulated: true,
                    frames,
                });
            }
        }
        return None;
    }
    if frags.len() == n {
        return Some(PixelLayout {
            encapsulated: true,
            frames: frags.iter().map(|f| vec![*f]).collect(),
        });
    }
    None
}

/// Without an offset table and with more fragments than frames, a frame starts at each
/// fragment that begins with a codestream start marker (JPEG SOI, JPEG 2000 SOC).
pub fn frames_by_markers(
    raw: &RawPixel,
    number_of_frames: u32,
    starts_codestream: &[bool],
) -> Option<PixelLayout> {
    let n = number_of_frames.max(1) as usize;
    let mut frames: Vec<Vec<(u64, u64)>> = Vec::new();
    for (frag, &start) in raw.fragments.iter().zip(starts_codestream) {
        if start || frames.is_empty() {
            frames.push(Vec::new());
        }
        if let Some(last) = frames.last_mut() {
            last.push(*frag);
        }
    }
    (frames.len() == n).then_some(PixelLayout {
        encapsulated: true,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn part10(ts: &str, dataset: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        let mut uid = ts.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        v.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        v.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        v.extend_from_slice(&uid);
        v.extend_from_slice(dataset);
        v
    }

    fn elem_ex(g: u16, e: u16, vr: &[u8; 2], val: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&g.to_le_bytes());
        v.extend_from_slice(&e.to_le_bytes());
        v.extend_from_slice(vr);
        v.extend_from_slice(&(val.len() as u16).to_le_bytes());
        v.extend_from_slice(val);
        v
    }

    #[test]
    fn native_pixel_data_frames() {
        let mut ds = elem_ex(0x0008, 0x0060, b"CS", b"CT");
        ds.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        ds.extend_from_slice(&8u32.to_le_bytes());
        ds.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let f = part10("1.2.840.10008.1.2.1", &ds);
        let l = scan(Cursor::new(&f), f.len() as u64).expect("scan");
        let raw = l.pixel.expect("pixel");
        let pl = frames(&raw, 2, Some(4)).expect("frames");
        assert_eq!(pl.frames.len(), 2);
        let (o, n) = pl.frames[1][0];
        assert_eq!(&f[o as usize..(o + n) as usize], &[5, 6, 7, 8]);
    }

    /// A reader that counts the reads reaching it (below a `BufReader`).
    struct CountingReads<R> {
        inner: R,
        reads: std::rc::Rc<std::cell::Cell<usize>>,
    }
    impl<R: Read> Read for CountingReads<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads.set(self.reads.get() + 1);
            self.inner.read(buf)
        }
    }
    impl<R: Seek> Seek for CountingReads<R> {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn a_small_file_is_read_once_through_the_buffer() {
        // Five meta elements, as a C-STORE's file has: peeking at each group number must
        // not empty the buffer (it did, costing a 64 KiB read per element).
        let mut meta = part10("1.2.840.10008.1.2.1", &[]);
        for e in [0x0002u16, 0x0003, 0x0012, 0x0013] {
            meta.extend_from_slice(&elem_ex(0x0002, e, b"UI", b"1.2.3.4\0"));
        }
        let mut f = meta;
        f.extend_from_slice(&elem_ex(0x0008, 0x0060, b"CS", b"CT"));
        f.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        f.extend_from_slice(&4096u32.to_le_bytes());
        f.extend(std::iter::repeat_n(7u8, 4096));
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = CountingReads {
            inner: Cursor::new(&f),
            reads: reads.clone(),
        };
        let l = scan(BufReader::with_capacity(64 * 1024, counted), f.len() as u64).expect("scan");
        assert_eq!(l.transfer_syntax, "1.2.840.10008.1.2.1");
        assert!(l.pixel.is_some());
        assert_eq!(reads.get(), 1, "the whole file fits the buffer: one read");
    }

    #[test]
    fn encapsulated_with_bot_and_truncation() {
        let mut ds = Vec::new();
        ds.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        ds.extend_from_slice(&UNDEFINED.to_le_bytes());
        // BOT: frame 0 at 0, frame 1 at 12 (item header 8 + 4 bytes fragment).
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 8, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 0xFF, 0xD8, 1, 2]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 0xFF, 0xD8]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 3, 4]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let f = part10("1.2.840.10008.1.2.4.50", &ds);
        let l = scan(Cursor::new(&f), f.len() as u64).expect("scan");
        let pl = frames(l.pixel.as_ref().expect("pixel"), 2, None).expect("frames");
        assert_eq!(pl.frames[0].len(), 1);
        assert_eq!(pl.frames[1].len(), 2);
        let cut = &f[..f.len() - 5];
        assert!(scan(Cursor::new(cut), cut.len() as u64).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut seed = 0x1234_5678u32;
        for n in 0..200usize {
            let mut f = part10("1.2.840.10008.1.2", &[]);
            for _ in 0..n {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                f.push((seed >> 16) as u8);
            }
            let _ = scan(Cursor::new(&f), f.len() as u64);
        }
    }
}
