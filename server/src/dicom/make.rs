//! The parts every DICOM object Rangsi makes in a study shares (the signed report's
//! SR, attachments as Encapsulated PDF or Secondary Capture): the patient, study,
//! series and instance attributes copied from the study as indexed, UTF-8 text
//! (`ISO_IR 192`), and the Part 10 file around the data set.

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::dimse::IMPLEMENTATION_CLASS_UID;
use crate::index::reports::ReportStudy;

/// What identifies the new object in its study.
pub struct NewInstance<'a> {
    pub sop_class_uid: &'a str,
    pub sop_uid: &'a str,
    pub series_uid: &'a str,
    pub modality: &'a str,
    pub series_number: u32,
    pub series_description: &'a str,
    pub instance_number: i32,
    /// When it was made (its instance creation and content date and time, UTC).
    pub at: time::OffsetDateTime,
}

pub fn str_el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

pub fn da(t: time::OffsetDateTime) -> String {
    format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day())
}

pub fn tm(t: time::OffsetDateTime) -> String {
    format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second())
}

/// A data set with the patient, study, series and instance modules of `n` in study `s`.
pub fn in_study(s: &ReportStudy, n: &NewInstance<'_>) -> InMemDicomObject {
    let t = n.at.to_offset(time::UtcOffset::UTC);
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag: Tag, vr: VR, v: &str| obj.put(str_el(tag, vr, v));
    put(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(tags::SOP_CLASS_UID, VR::UI, n.sop_class_uid);
    put(tags::SOP_INSTANCE_UID, VR::UI, n.sop_uid);
    put(tags::INSTANCE_CREATION_DATE, VR::DA, &da(t));
    put(tags::INSTANCE_CREATION_TIME, VR::TM, &tm(t));
    put(tags::STUDY_DATE, VR::DA, &s.study_date);
    put(tags::STUDY_TIME, VR::TM, &s.study_time);
    put(tags::CONTENT_DATE, VR::DA, &da(t));
    put(tags::CONTENT_TIME, VR::TM, &tm(t));
    put(tags::ACCESSION_NUMBER, VR::SH, &s.accession);
    put(tags::MODALITY, VR::CS, n.modality);
    put(tags::MANUFACTURER, VR::LO, "Rangsi");
    put(tags::INSTITUTION_NAME, VR::LO, &s.hospital_name);
    put(
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        &s.referring_physician,
    );
    put(tags::STUDY_DESCRIPTION, VR::LO, &s.description);
    put(tags::SERIES_DESCRIPTION, VR::LO, n.series_description);
    put(tags::PATIENT_NAME, VR::PN, &s.patient_name);
    put(tags::PATIENT_ID, VR::LO, &s.patient_id);
    if !s.issuer.is_empty() {
        put(tags::ISSUER_OF_PATIENT_ID, VR::LO, &s.issuer);
    }
    put(tags::PATIENT_BIRTH_DATE, VR::DA, &s.birth_date);
    put(tags::PATIENT_SEX, VR::CS, &s.sex);
    put(tags::STUDY_INSTANCE_UID, VR::UI, &s.study_uid);
    put(tags::SERIES_INSTANCE_UID, VR::UI, n.series_uid);
    put(tags::STUDY_ID, VR::SH, &s.study_id);
    put(tags::SERIES_NUMBER, VR::IS, &n.series_number.to_string());
    put(
        tags::INSTANCE_NUMBER,
        VR::IS,
        &n.instance_number.to_string(),
    );
    obj
}

/// The Part 10 file (preamble, file meta, data set) of `obj` in transfer syntax `ts`.
pub fn part10(obj: InMemDicomObject, n: &NewInstance<'_>, ts: &str) -> Result<Vec<u8>, String> {
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid(n.sop_class_uid)
                .media_storage_sop_instance_uid(n.sop_uid)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name("RANGSI_0_1"),
        )
        .map_err(|e| format!("file meta: {e}"))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| format!("writing the file: {e}"))?;
    Ok(out)
}
