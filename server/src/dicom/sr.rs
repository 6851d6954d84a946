//! A signed radiology report as a DICOM Basic Text SR document (PS3.3 A.35.1), so any
//! DICOM viewer or PACS that reads the study sees the report: the patient and study
//! modules copied from the study, a new series (Modality SR), `VERIFIED` and
//! `COMPLETE` with the signer as verifying observer, and a content tree after TID 2000
//! (Basic Diagnostic Imaging Report): the author as observer context (TID 1002), then
//! Findings, Impressions and Recommendations sections with one TEXT item each, a
//! critical-result flag and the signed addenda. An amended report is a new document
//! that names the one it replaces in Predecessor Documents Sequence. Every instance of
//! the study is listed in Current Requested Procedure Evidence Sequence. Written as
//! Explicit VR Little Endian with Specific Character Set `ISO_IR 192` (UTF-8), so Thai
//! text is stored as typed.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::make::{NewInstance, da, in_study, part10, str_el, tm};
use crate::index::reports::{Evidence, ReportStudy};

/// LOINC 18748-4, the document title of TID 2000.
const TITLE: (&str, &str, &str) = ("18748-4", "LN", "Diagnostic Imaging Report");
const FINDINGS: (&str, &str, &str) = ("121070", "DCM", "Findings");
const FINDING: (&str, &str, &str) = ("121071", "DCM", "Finding");
const IMPRESSIONS: (&str, &str, &str) = ("121072", "DCM", "Impressions");
const IMPRESSION: (&str, &str, &str) = ("121073", "DCM", "Impression");
const RECOMMENDATIONS: (&str, &str, &str) = ("121074", "DCM", "Recommendations");
const RECOMMENDATION: (&str, &str, &str) = ("121075", "DCM", "Recommendation");
const OBSERVER_TYPE: (&str, &str, &str) = ("121005", "DCM", "Observer Type");
const PERSON: (&str, &str, &str) = ("121006", "DCM", "Person");
const PERSON_NAME: (&str, &str, &str) = ("121008", "DCM", "Person Observer Name");
// No standard code says "critical result" or "addendum" in TID 2000; a private coding
// scheme (designator starting with 99, PS3.16 8.2) keeps them machine-readable.
const CRITICAL: (&str, &str, &str) = ("CRITICAL", "99RANGSI", "Critical result");
const ADDENDA: (&str, &str, &str) = ("ADDENDA", "99RANGSI", "Addenda");
const ADDENDUM: (&str, &str, &str) = ("ADDENDUM", "99RANGSI", "Addendum");

/// What goes into one SR document.
pub struct SrReport<'a> {
    pub study: &'a ReportStudy,
    pub evidence: &'a [Evidence],
    pub findings: &'a str,
    pub impression: &'a str,
    pub recommendation: &'a str,
    pub critical: bool,
    /// Who wrote the report.
    pub author: &'a str,
    /// Who signed this version, and when (RFC 3339, UTC).
    pub signer: &'a str,
    pub signed_at: time::OffsetDateTime,
    /// Signed addenda, oldest first: (author, signed at RFC 3339, text).
    pub addenda: &'a [(String, String, String)],
    /// The SR this document replaces (an amendment): (series UID, SOP Instance UID).
    pub predecessor: Option<(&'a str, &'a str)>,
    /// This document's series and instance (fresh UIDs from [`new_uid`]).
    pub series_uid: &'a str,
    pub sop_uid: &'a str,
    pub instance_number: i32,
}

/// A new UID under the `2.25` root (PS3.5 B.2): a random 122-bit UUID as a decimal.
pub fn new_uid() -> String {
    let mut b = rand::random::<u128>();
    // UUID version 4, variant 1 (RFC 4122), as PS3.5 B.2 asks.
    b = (b & !(0xF << 76)) | (0x4 << 76);
    b = (b & !(0x3 << 62)) | (0x2 << 62);
    format!("2.25.{b}")
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

fn code(c: (&str, &str, &str)) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        str_el(tags::CODE_VALUE, VR::SH, c.0),
        str_el(tags::CODING_SCHEME_DESIGNATOR, VR::SH, c.1),
        str_el(tags::CODE_MEANING, VR::LO, c.2),
    ])
}

fn concept(c: (&str, &str, &str)) -> DataElement<InMemDicomObject> {
    seq(tags::CONCEPT_NAME_CODE_SEQUENCE, vec![code(c)])
}

fn text_item(relationship: &str, name: (&str, &str, &str), text: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        str_el(tags::RELATIONSHIP_TYPE, VR::CS, relationship),
        str_el(tags::VALUE_TYPE, VR::CS, "TEXT"),
        concept(name),
        str_el(tags::TEXT_VALUE, VR::UT, text),
    ])
}

fn container(name: (&str, &str, &str), items: Vec<InMemDicomObject>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        str_el(tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS"),
        str_el(tags::VALUE_TYPE, VR::CS, "CONTAINER"),
        concept(name),
        str_el(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"),
        seq(tags::CONTENT_SEQUENCE, items),
    ])
}

/// A Hierarchical SOP Instance Reference (PS3.3 C.17.2.1) of one study.
fn hierarchical_reference(study_uid: &str, refs: &[(&str, &str, &str)]) -> InMemDicomObject {
    let mut series: Vec<(&str, Vec<InMemDicomObject>)> = Vec::new();
    for (series_uid, class, sop) in refs {
        let item = InMemDicomObject::from_element_iter([
            str_el(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class),
            str_el(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, sop),
        ]);
        match series.iter_mut().find(|(s, _)| s == series_uid) {
            Some((_, items)) => items.push(item),
            None => series.push((series_uid, vec![item])),
        }
    }
    InMemDicomObject::from_element_iter([
        str_el(tags::STUDY_INSTANCE_UID, VR::UI, study_uid),
        seq(
            tags::REFERENCED_SERIES_SEQUENCE,
            series
                .into_iter()
                .map(|(uid, items)| {
                    InMemDicomObject::from_element_iter([
                        str_el(tags::SERIES_INSTANCE_UID, VR::UI, uid),
                        seq(tags::REFERENCED_SOP_SEQUENCE, items),
                    ])
                })
                .collect(),
        ),
    ])
}

/// The report as a Part 10 file (preamble, file meta, data set).
pub fn basic_text_sr(r: &SrReport<'_>) -> Result<Vec<u8>, String> {
    let s = r.study;
    let n = NewInstance {
        sop_class_uid: uids::BASIC_TEXT_SR_STORAGE,
        sop_uid: r.sop_uid,
        series_uid: r.series_uid,
        modality: "SR",
        series_number: 9000,
        series_description: "Radiology report",
        instance_number: r.instance_number,
        at: r.signed_at,
    };
    let t = r.signed_at.to_offset(time::UtcOffset::UTC);
    let mut obj = in_study(s, &n);
    let mut put = |tag: Tag, vr: VR, v: &str| obj.put(str_el(tag, vr, v));
    put(tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    put(tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
    put(tags::VERIFICATION_FLAG, VR::CS, "VERIFIED");
    obj.put(concept(TITLE));
    obj.put(seq(
        tags::CONTENT_TEMPLATE_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            str_el(tags::MAPPING_RESOURCE, VR::CS, "DCMR"),
            str_el(tags::TEMPLATE_IDENTIFIER, VR::CS, "2000"),
        ])],
    ));
    obj.put(seq(
        tags::VERIFYING_OBSERVER_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([
            str_el(tags::VERIFYING_ORGANIZATION, VR::LO, &s.hospital_name),
            str_el(
                tags::VERIFICATION_DATE_TIME,
                VR::DT,
                &format!("{}{}+0000", da(t), tm(t)),
            ),
            str_el(tags::VERIFYING_OBSERVER_NAME, VR::PN, r.signer),
            seq(
                tags::VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE,
                vec![],
            ),
        ])],
    ));
    obj.put(seq(
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        vec![],
    ));
    obj.put(seq(tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, vec![]));
    let evidence: Vec<(&str, &str, &str)> = r
        .evidence
        .iter()
        .map(|e| {
            (
                e.series_uid.as_str(),
                e.sop_class_uid.as_str(),
                e.sop_uid.as_str(),
            )
        })
        .collect();
    if !evidence.is_empty() {
        obj.put(seq(
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![hierarchical_reference(&s.study_uid, &evidence)],
        ));
    }
    if let Some((series, sop)) = r.predecessor {
        obj.put(seq(
            tags::PREDECESSOR_DOCUMENTS_SEQUENCE,
            vec![hierarchical_reference(
                &s.study_uid,
                &[(series, uids::BASIC_TEXT_SR_STORAGE, sop)],
            )],
        ));
    }

    let mut content = vec![
        InMemDicomObject::from_element_iter([
            str_el(tags::RELATIONSHIP_TYPE, VR::CS, "HAS OBS CONTEXT"),
            str_el(tags::VALUE_TYPE, VR::CS, "CODE"),
            concept(OBSERVER_TYPE),
            seq(tags::CONCEPT_CODE_SEQUENCE, vec![code(PERSON)]),
        ]),
        InMemDicomObject::from_element_iter([
            str_el(tags::RELATIONSHIP_TYPE, VR::CS, "HAS OBS CONTEXT"),
            str_el(tags::VALUE_TYPE, VR::CS, "PNAME"),
            concept(PERSON_NAME),
            str_el(tags::PERSON_NAME, VR::PN, r.author),
        ]),
    ];
    for (section, item, text) in [
        (FINDINGS, FINDING, r.findings),
        (IMPRESSIONS, IMPRESSION, r.impression),
        (RECOMMENDATIONS, RECOMMENDATION, r.recommendation),
    ] {
        if !text.trim().is_empty() {
            content.push(container(section, vec![text_item("CONTAINS", item, text)]));
        }
    }
    if r.critical {
        content.push(text_item(
            "CONTAINS",
            CRITICAL,
            "Critical result: the requesting physician must acknowledge this report.",
        ));
    }
    if !r.addenda.is_empty() {
        let items = r
            .addenda
            .iter()
            .map(|(who, at, text)| text_item("CONTAINS", ADDENDUM, &format!("{at} {who}: {text}")))
            .collect();
        content.push(container(ADDENDA, items));
    }
    obj.put(seq(tags::CONTENT_SEQUENCE, content));

    part10(obj, &n, uids::EXPLICIT_VR_LITTLE_ENDIAN).map_err(|e| format!("the SR: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_uids_are_valid_and_distinct() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        for u in [&a, &b] {
            assert!(crate::dicom::valid_uid(u), "{u}");
            assert!(u.len() <= 64);
        }
    }
}
