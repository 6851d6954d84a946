//! Attachments to a study (a scanned request form, an outside report) as DICOM, so any
//! PACS reading the study has them too: a PDF becomes an Encapsulated PDF (PS3.3
//! A.45.1, the document stored byte for byte), a JPEG a Secondary Capture image whose
//! pixel data is that JPEG unchanged as one fragment (JPEG Baseline, PS3.5 A.4.1), with
//! its size and colour model read from the JPEG's frame header.

use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};

use super::make::{NewInstance, in_study, part10, str_el};
use crate::index::reports::ReportStudy;

/// The largest attachment accepted.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// What a JPEG's frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegFrame {
    pub rows: u16,
    pub columns: u16,
    pub components: u8,
    /// Chroma subsampled (a colour JPEG whose first component has sampling factors
    /// above 1): YBR_FULL_422 rather than YBR_FULL.
    pub subsampled: bool,
}

/// Reads the frame header (SOF0, baseline) of a JFIF/EXIF JPEG; anything else (a
/// progressive or 12-bit JPEG, not a JPEG) is refused with the reason.
pub fn jpeg_frame(b: &[u8]) -> Result<JpegFrame, String> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Err("not a JPEG file (no SOI marker)".into());
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return Err(format!("JPEG marker expected at byte {i}"));
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        match marker {
            0xC0 => {
                let seg = b
                    .get(i + 4..i + 2 + len)
                    .ok_or("the JPEG frame header is cut short")?;
                if seg.len() < 6 || seg[0] != 8 {
                    return Err("only 8-bit baseline JPEG is accepted".into());
                }
                let rows = u16::from_be_bytes([seg[1], seg[2]]);
                let columns = u16::from_be_bytes([seg[3], seg[4]]);
                let components = seg[5];
                if rows == 0 || columns == 0 || !(components == 1 || components == 3) {
                    return Err(format!(
                        "a JPEG of {columns}×{rows} with {components} components cannot be stored"
                    ));
                }
                let sampling = seg.get(7).copied().unwrap_or(0x11);
                return Ok(JpegFrame {
                    rows,
                    columns,
                    components,
                    subsampled: components == 3 && sampling != 0x11,
                });
            }
            0xC1..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(
                    "only baseline JPEG is accepted (this one is progressive, extended or lossless): save it as a baseline JPEG"
                        .into(),
                );
            }
            0xD9 | 0xDA => break,
            _ => i += 2 + len,
        }
    }
    Err("the JPEG has no frame header".into())
}

/// A PDF as an Encapsulated PDF instance in study `s`.
pub fn encapsulated_pdf(
    s: &ReportStudy,
    n: &NewInstance<'_>,
    title: &str,
    pdf: &[u8],
) -> Result<Vec<u8>, String> {
    if !pdf.starts_with(b"%PDF-") {
        return Err("not a PDF file".into());
    }
    let mut obj = in_study(s, n);
    obj.put(str_el(tags::DOCUMENT_TITLE, VR::ST, title));
    obj.put(str_el(
        tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT,
        VR::LO,
        "application/pdf",
    ));
    obj.put(str_el(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"));
    obj.put(DataElement::new(
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::<dicom_object::InMemDicomObject>::new(
            Vec::new(),
            dicom_core::Length::UNDEFINED,
        ),
    ));
    let mut doc = pdf.to_vec();
    if doc.len() % 2 == 1 {
        doc.push(0);
    }
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT,
        VR::OB,
        PrimitiveValue::from(doc),
    ));
    part10(obj, n, uids::EXPLICIT_VR_LITTLE_ENDIAN)
}

/// A baseline JPEG as a Secondary Capture image in study `s`, its bytes the one frame.
pub fn secondary_capture_jpeg(
    s: &ReportStudy,
    n: &NewInstance<'_>,
    jpeg: &[u8],
) -> Result<Vec<u8>, String> {
    let f = jpeg_frame(jpeg)?;
    let mut obj = in_study(s, n);
    let photometric = match (f.components, f.subsampled) {
        (1, _) => "MONOCHROME2",
        (_, true) => "YBR_FULL_422",
        _ => "YBR_FULL",
    };
    obj.put(str_el(tags::CONVERSION_TYPE, VR::CS, "DF"));
    obj.put(str_el(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"));
    obj.put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(u16::from(f.components)),
    ));
    obj.put(str_el(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        photometric,
    ));
    if f.components == 3 {
        obj.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(0_u16),
        ));
    }
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(f.rows),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(f.columns),
    ));
    obj.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(8_u16),
    ));
    obj.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(8_u16),
    ));
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(7_u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0_u16),
    ));
    obj.put(str_el(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "01"));
    let mut frame = jpeg.to_vec();
    if frame.len() % 2 == 1 {
        frame.push(0);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PixelFragmentSequence::new(Vec::<u32>::new(), vec![frame]),
    ));
    part10(obj, n, uids::JPEG_BASELINE8_BIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG header: SOI, an APP0, SOF0 of 3×2 with 3 components, 2×2 luma.
    fn header(sof: u8, precision: u8, comps: u8, sampling: u8) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        let mut seg = vec![precision, 0, 2, 0, 3, comps];
        for k in 0..comps {
            seg.extend([k + 1, if k == 0 { sampling } else { 0x11 }, 0]);
        }
        b.extend([0xFF, sof]);
        b.extend(u16::try_from(seg.len() + 2).unwrap_or(0).to_be_bytes());
        b.extend(seg);
        b.extend([0xFF, 0xD9]);
        b
    }

    #[test]
    fn reads_baseline_frame_headers_and_refuses_the_rest() {
        assert_eq!(
            jpeg_frame(&header(0xC0, 8, 3, 0x22)),
            Ok(JpegFrame {
                rows: 2,
                columns: 3,
                components: 3,
                subsampled: true
            })
        );
        assert_eq!(
            jpeg_frame(&header(0xC0, 8, 1, 0x11)).map(|f| (f.components, f.subsampled)),
            Ok((1, false))
        );
        assert!(jpeg_frame(&header(0xC2, 8, 3, 0x22)).is_err()); // progressive
        assert!(jpeg_frame(&header(0xC0, 12, 1, 0x11)).is_err()); // 12-bit
        assert!(jpeg_frame(b"%PDF-1.4").is_err());
        assert!(jpeg_frame(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00]).is_err()); // cut short
    }
}
