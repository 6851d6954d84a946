//! DICOM knowledge the server needs beyond dicom-rs: character sets, DICOM JSON, the
//! structure of stored files, and the index attributes of an instance.

pub mod attach;
pub mod charset;
pub mod deflated;
pub mod json;
pub mod make;
pub mod part10;
pub mod scan;
pub mod sr;

use std::path::Path;

use dicom_core::Tag;
use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};

use crate::index::ingest::{InstanceAttrs, PatientAttrs, SeriesAttrs, StudyAttrs};
use crate::index::query::name_search_key;
use charset::CharsetContext;
use scan::{FileLayout, PixelLayout};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("{0}")]
    Structure(#[from] scan::ScanError),
    #[error("cannot parse data set: {0}")]
    Dicom(String),
    #[error("missing required attribute {0}")]
    Missing(&'static str),
    #[error("invalid UID in {0}: {1:?}")]
    BadUid(&'static str, String),
}

/// A stored file, parsed up to its pixel data, with its structure.
pub struct Parsed {
    pub obj: InMemDicomObject,
    pub layout: FileLayout,
    pub pixel_layout: Option<PixelLayout>,
    pub charset: CharsetContext,
    pub pixel_vr: Option<&'static str>,
}

/// A file read from `start` with the byte ranges `skip` (sorted, `[start, end)`) left out.
struct SkipRanges {
    file: std::io::BufReader<std::fs::File>,
    pos: u64,
    skip: std::collections::VecDeque<(u64, u64)>,
}

impl SkipRanges {
    fn new(file: std::fs::File, start: u64, skip: Vec<(u64, u64)>) -> std::io::Result<Self> {
        use std::io::Seek;
        let mut file = std::io::BufReader::with_capacity(64 * 1024, file);
        file.seek(std::io::SeekFrom::Start(start))?;
        Ok(SkipRanges {
            file,
            pos: start,
            skip: skip.into(),
        })
    }
}

impl std::io::Read for SkipRanges {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(&(from, to)) = self.skip.front() {
            if self.pos < from {
                let room = usize::try_from(from - self.pos).unwrap_or(usize::MAX);
                let want = buf.len().min(room);
                let n = self.file.read(&mut buf[..want])?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.skip.pop_front();
            if self.pos < to {
                self.file.seek_relative((to - self.pos) as i64)?;
                self.pos = to;
            }
        }
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Gives elements that arrived as UN a VR from the standard dictionary.
///
/// A gateway that converted Implicit to Explicit VR without a dictionary writes known
/// attributes (Study Instance UID, Patient's Name, ...) as UN; PS3.5 §6.2.2 says such a
/// value is encoded as in Implicit VR Little Endian. Text is decoded as dicom-rs decodes
/// text, with the first Specific Character Set value (`first_charset`; `None` resolves
/// only ASCII values, before the character set is known), so the charset repair applied
/// to every other element applies to these too. Top-level elements only; sequences,
/// bulk data and private tags stay as they are.
fn resolve_unknown_vrs(obj: &mut InMemDicomObject, first_charset: Option<&str>) {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
    let dict = dicom_dictionary_std::StandardDataDictionary;
    let mut fixed = Vec::new();
    for e in obj.iter() {
        if e.vr() != VR::UN || e.header().tag.group() % 2 == 1 {
            continue;
        }
        let Value::Primitive(PrimitiveValue::U8(bytes)) = e.value() else {
            continue;
        };
        let Some(vr) = dict.by_tag(e.header().tag).map(|d| d.vr().relaxed()) else {
            continue;
        };
        let value = match vr {
            VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT => {
                let text = match first_charset {
                    _ if bytes.is_ascii() => String::from_utf8_lossy(bytes).into_owned(),
                    None => continue,
                    Some(code) => {
                        let codec = SpecificCharacterSet::from_code(code).unwrap_or_default();
                        match codec.decode(bytes) {
                            Ok(t) => t,
                            Err(_) => continue,
                        }
                    }
                };
                let text = text.trim_end_matches(['\0', ' ']);
                if text.is_empty() {
                    PrimitiveValue::Empty
                } else {
                    PrimitiveValue::Strs(text.split('\\').map(str::to_owned).collect())
                }
            }
            VR::US => {
                PrimitiveValue::U16(le_chunks(bytes, u16::from_le_bytes).into_iter().collect())
            }
            VR::SS => {
                PrimitiveValue::I16(le_chunks(bytes, i16::from_le_bytes).into_iter().collect())
            }
            VR::UL => {
                PrimitiveValue::U32(le_chunks(bytes, u32::from_le_bytes).into_iter().collect())
            }
            VR::SL => {
                PrimitiveValue::I32(le_chunks(bytes, i32::from_le_bytes).into_iter().collect())
            }
            VR::FL => {
                PrimitiveValue::F32(le_chunks(bytes, f32::from_le_bytes).into_iter().collect())
            }
            VR::FD => {
                PrimitiveValue::F64(le_chunks(bytes, f64::from_le_bytes).into_iter().collect())
            }
            _ => continue,
        };
        fixed.push(DataElement::new(e.header().tag, vr, value));
    }
    for e in fixed {
        obj.put(e);
    }
}

/// Little-endian values of `N` bytes each (a trailing partial value is dropped).
fn le_chunks<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            f(a)
        })
        .collect()
}

/// First value of an element as trimmed text (charset-repaired for text VRs).
pub fn get_str(obj: &InMemDicomObject, cs: &CharsetContext, tag: Tag) -> String {
    match obj.element_opt(tag) {
        Ok(Some(e)) => match e.value() {
            Value::Primitive(p) => json::text_values(p, e.vr(), cs)
                .into_iter()
                .next()
                .unwrap_or_default(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

pub fn get_int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let e = obj.element_opt(tag).ok()??;
    if let Ok(v) = e.to_int::<i64>() {
        return Some(v);
    }
    e.to_str()
        .ok()?
        .trim()
        .trim_end_matches('\0')
        .parse::<f64>()
        .ok()
        .map(|f| f as i64)
}

pub fn valid_uid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn required_uid(
    obj: &InMemDicomObject,
    cs: &CharsetContext,
    tag: Tag,
    name: &'static str,
) -> Result<String, ParseError> {
    let v = get_str(obj, cs, tag);
    if v.is_empty() {
        return Err(ParseError::Missing(name));
    }
    if !valid_uid(&v) {
        return Err(ParseError::BadUid(name, v));
    }
    Ok(v)
}

/// Reads the structure and the attributes of a complete stored Part 10 file.
/// Blocking: run it on a blocking thread.
pub fn parse_stored(path: &Path) -> Result<Parsed, ParseError> {
    let layout = scan::scan_file(path)?;
    let deflated = layout.transfer_syntax == "1.2.840.10008.1.2.1.99";
    let opts = if deflated {
        OpenFileOptions::new()
    } else {
        OpenFileOptions::new().read_until(tags::PIXEL_DATA)
    };
    let file = if layout.unknown_sequences.is_empty() {
        opts.open_file(path)
    } else {
        // dicom-rs cannot read UN sequences of undefined length: parse the file with
        // them left out (the stored file keeps them, byte for byte).
        let f = std::fs::File::open(path).map_err(scan::ScanError::from)?;
        let mut skipping = SkipRanges::new(f, 128, layout.unknown_sequences.clone())
            .map_err(scan::ScanError::from)?;
        opts.read_preamble(dicom_object::file::ReadPreamble::Never)
            .from_reader(&mut skipping)
    }
    .map_err(|e| ParseError::Dicom(e.to_string()))?;
    let mut obj = file.into_inner();
    resolve_unknown_vrs(&mut obj, None);
    let cs_values: Vec<String> = match obj.element_opt(tags::SPECIFIC_CHARACTER_SET) {
        Ok(Some(e)) => e.to_multi_str().map(|v| v.to_vec()).unwrap_or_default(),
        _ => vec![],
    };
    if let Some(first) = cs_values.first() {
        resolve_unknown_vrs(&mut obj, Some(first));
    }
    let charset = CharsetContext::new(&cs_values);
    let mut pixel_vr = None;
    let mut pixel_layout = None;
    if deflated {
        if let Ok(Some(e)) = obj.element_opt(tags::PIXEL_DATA) {
            pixel_vr = Some(if e.vr() == dicom_core::VR::OW {
                "OW"
            } else {
                "OB"
            });
        }
        obj.remove_element(tags::PIXEL_DATA);
    } else if let Some(raw) = &layout.pixel {
        let bits = get_int(&obj, tags::BITS_ALLOCATED).unwrap_or(0);
        pixel_vr = Some(if !raw.encapsulated && bits > 8 {
            "OW"
        } else {
            "OB"
        });
        let frames = get_int(&obj, tags::NUMBER_OF_FRAMES)
            .unwrap_or(1)
            .clamp(1, u32::MAX as i64) as u32;
        // The native frame size as the pixel crate reads it (bit-packed 1-bit data,
        // two samples a pixel for YBR_*_422); frames of 1-bit data that do not end on
        // a byte boundary cannot be byte ranges.
        let frame_bytes = rangsi_pixels::ImageDescription::from_object(&obj)
            .ok()
            .and_then(|d| {
                let len = d.native_frame_len() as u64;
                let whole_bytes =
                    frames == 1 || d.bits_allocated != 1 || d.pixels_per_frame() % 8 == 0;
                (len > 0 && whole_bytes).then_some(len)
            });
        pixel_layout = scan::frames(raw, frames, frame_bytes);
        if pixel_layout.is_none()
            && raw.encapsulated
            && raw.bot.is_empty()
            && raw.extended_offsets.is_none()
        {
            let starts = codestream_starts(path, &raw.fragments)?;
            pixel_layout = scan::frames_by_markers(raw, frames, &starts);
        }
    }
    Ok(Parsed {
        obj,
        layout,
        pixel_layout,
        charset,
        pixel_vr,
    })
}

fn codestream_starts(path: &Path, fragments: &[(u64, u64)]) -> Result<Vec<bool>, ParseError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(scan::ScanError::from)?;
    let mut out = Vec::with_capacity(fragments.len());
    for &(off, len) in fragments {
        let mut b = [0u8; 2];
        if len >= 2 {
            f.seek(SeekFrom::Start(off))
                .map_err(scan::ScanError::from)?;
            f.read_exact(&mut b).map_err(scan::ScanError::from)?;
        }
        out.push(b == [0xFF, 0xD8] || b == [0xFF, 0x4F]);
    }
    Ok(out)
}

/// Index attributes of a parsed instance.
pub struct IndexAttrs {
    pub patient: PatientAttrs,
    pub study: StudyAttrs,
    pub series: SeriesAttrs,
    pub instance: InstanceAttrs,
}

pub fn index_attrs(p: &Parsed) -> Result<IndexAttrs, ParseError> {
    let o = &p.obj;
    let cs = &p.charset;
    // A NUL inside a text value (never valid DICOM; trailing ones are padding and gone
    // already) is left out of the index: PostgreSQL refuses it in any text column, and
    // the index must hold the same on both engines. The stored file keeps its bytes.
    let get_str = |o: &InMemDicomObject, cs: &CharsetContext, tag: Tag| -> String {
        let v = get_str(o, cs, tag);
        if v.contains('\0') {
            v.replace('\0', "")
        } else {
            v
        }
    };
    let name = get_str(o, cs, tags::PATIENT_NAME);
    let patient = PatientAttrs {
        patient_id: get_str(o, cs, tags::PATIENT_ID),
        issuer: get_str(o, cs, tags::ISSUER_OF_PATIENT_ID),
        name_search: name_search_key(&name),
        name,
        birth_date: get_str(o, cs, tags::PATIENT_BIRTH_DATE),
        sex: get_str(o, cs, tags::PATIENT_SEX),
    };
    let study = StudyAttrs {
        study_uid: required_uid(o, cs, tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?,
        date: get_str(o, cs, tags::STUDY_DATE),
        time: get_str(o, cs, tags::STUDY_TIME),
        accession: get_str(o, cs, tags::ACCESSION_NUMBER),
        study_id: get_str(o, cs, tags::STUDY_ID),
        description: get_str(o, cs, tags::STUDY_DESCRIPTION),
        referring_physician: get_str(o, cs, tags::REFERRING_PHYSICIAN_NAME),
    };
    let series = SeriesAttrs {
        series_uid: required_uid(o, cs, tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?,
        modality: get_str(o, cs, tags::MODALITY),
        number: get_int(o, tags::SERIES_NUMBER),
        description: get_str(o, cs, tags::SERIES_DESCRIPTION),
        body_part: get_str(o, cs, tags::BODY_PART_EXAMINED),
        pps_start_date: get_str(o, cs, tags::PERFORMED_PROCEDURE_STEP_START_DATE),
        pps_start_time: get_str(o, cs, tags::PERFORMED_PROCEDURE_STEP_START_TIME),
    };
    let sop_uid = required_uid(o, cs, tags::SOP_INSTANCE_UID, "SOPInstanceUID")?;
    let sop_class_uid = required_uid(o, cs, tags::SOP_CLASS_UID, "SOPClassUID")?;
    let instance_url = format!(
        "{}/studies/{}/series/{}/instances/{}",
        json::BASE_PLACEHOLDER,
        study.study_uid,
        series.series_uid,
        sop_uid
    );
    let ctx = json::JsonContext {
        charset: cs,
        instance_url: &instance_url,
    };
    let metadata = serde_json::Value::Object(json::instance_json(
        o,
        &ctx,
        p.pixel_vr,
        &p.layout.transfer_syntax,
    ))
    .to_string();
    let instance = InstanceAttrs {
        sop_uid,
        sop_class_uid,
        number: get_int(o, tags::INSTANCE_NUMBER),
        transfer_syntax: p.layout.transfer_syntax.clone(),
        rows: get_int(o, tags::ROWS),
        columns: get_int(o, tags::COLUMNS),
        bits_allocated: get_int(o, tags::BITS_ALLOCATED),
        number_of_frames: get_int(o, tags::NUMBER_OF_FRAMES),
        dataset_offset: p.layout.dataset_offset as i64,
        pixel_layout: p
            .pixel_layout
            .as_ref()
            .and_then(|l| serde_json::to_string(l).ok()),
        metadata,
    };
    Ok(IndexAttrs {
        patient,
        study,
        series,
        instance,
    })
}
