//! A report as FHIR R4 JSON: a `collection` Bundle of the DiagnosticReport, the
//! ImagingStudy it reads and the Patient both refer to, so a HIS can take the report
//! without speaking DICOM. Resource ids are derived from the report and study, so the
//! same report gives the same ids every time. FHIR forbids empty strings, so an empty
//! DICOM attribute leaves its element out.

use base64::Engine;
use rangsi_wire::reports::{Addendum, ReportState};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::index::reports::{Evidence, StoredReport};

/// A stable `urn:uuid:` from a name (SHA-256 shaped as a version 5-style UUID).
fn urn_uuid(name: &str) -> String {
    let h = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// DICOM DA `YYYYMMDD` as a FHIR date, when it is one.
fn fhir_date(da: &str) -> Option<String> {
    let d = da.trim();
    (d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8]))
}

fn gender(sex: &str) -> &'static str {
    match sex.trim() {
        "M" => "male",
        "F" => "female",
        "O" => "other",
        _ => "unknown",
    }
}

/// Inserts `key: value` when the string is not empty.
fn put_str(obj: &mut Value, key: &str, value: &str) {
    let v = value.trim();
    if !v.is_empty() {
        obj[key] = json!(v);
    }
}

fn status(s: ReportState) -> &'static str {
    match s {
        ReportState::Draft => "registered",
        ReportState::Preliminary => "preliminary",
        ReportState::Final => "final",
        ReportState::Amended => "amended",
    }
}

/// The report's whole text, as a person reads it (the presented form).
pub fn report_text(r: &StoredReport, addenda: &[Addendum]) -> String {
    let mut t = String::new();
    for (title, body) in [
        ("Findings", &r.content.findings),
        ("Impression", &r.content.impression),
        ("Recommendation", &r.content.recommendation),
    ] {
        if !body.trim().is_empty() {
            t.push_str(&format!("{title}:\n{}\n\n", body.trim()));
        }
    }
    if r.content.critical {
        t.push_str("CRITICAL RESULT\n\n");
    }
    for a in addenda {
        t.push_str(&format!(
            "Addendum ({}, {}):\n{}\n\n",
            a.author,
            a.signed_at,
            a.text.trim()
        ));
    }
    if let (Some(by), Some(at)) = (&r.signed_by, &r.signed_at) {
        t.push_str(&format!("Signed by {by} at {at}\n"));
    }
    t
}

/// The Bundle.
pub fn report_bundle(r: &StoredReport, evidence: &[Evidence], addenda: &[Addendum]) -> Value {
    let s = &r.study;
    let patient_url = urn_uuid(&format!(
        "rangsi/patient/{}/{}",
        s.hospital_id, s.patient_id
    ));
    let study_url = urn_uuid(&format!("rangsi/study/{}", s.study_ref));
    let report_url = urn_uuid(&format!("rangsi/report/{}", r.id));
    let id = |url: &str| url.trim_start_matches("urn:uuid:").to_owned();

    let mut patient =
        json!({ "resourceType": "Patient", "id": id(&patient_url), "gender": gender(&s.sex) });
    if !s.patient_id.trim().is_empty() {
        let mut ident = json!({ "value": s.patient_id.trim() });
        if !s.issuer.trim().is_empty() {
            ident["assigner"] = json!({ "display": s.issuer.trim() });
        }
        patient["identifier"] = json!([ident]);
    }
    let name = s.patient_name.replace('^', " ");
    if !name.trim().is_empty() {
        patient["name"] =
            json!([{ "text": name.split_whitespace().collect::<Vec<_>>().join(" ") }]);
    }
    if let Some(d) = fhir_date(&s.birth_date) {
        patient["birthDate"] = json!(d);
    }

    // Series in evidence order, each with its instances; the study's SR documents
    // are part of the study too.
    let mut series: Vec<(&Evidence, Vec<&Evidence>)> = Vec::new();
    for e in evidence {
        match series
            .iter_mut()
            .find(|(f, _)| f.series_uid == e.series_uid)
        {
            Some((_, v)) => v.push(e),
            None => series.push((e, vec![e])),
        }
    }
    let series_json: Vec<Value> = series
        .iter()
        .map(|(first, instances)| {
            let modality = if first.modality.trim().is_empty() { "OT" } else { first.modality.trim() };
            let mut v = json!({
                "uid": first.series_uid,
                "modality": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": modality },
                "numberOfInstances": instances.len(),
                "instance": instances.iter().map(|i| json!({
                    "uid": i.sop_uid,
                    "sopClass": { "system": "urn:ietf:rfc:3986", "code": format!("urn:oid:{}", i.sop_class_uid) },
                })).collect::<Vec<_>>(),
            });
            if let Some(n) = first.series_number.filter(|n| *n >= 0) {
                v["number"] = json!(n);
            }
            v
        })
        .collect();
    let mut identifiers =
        vec![json!({ "system": "urn:dicom:uid", "value": format!("urn:oid:{}", s.study_uid) })];
    if !s.accession.trim().is_empty() {
        identifiers.push(json!({
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN" }] },
            "value": s.accession.trim(),
        }));
    }
    let mut study = json!({
        "resourceType": "ImagingStudy",
        "id": id(&study_url),
        "identifier": identifiers,
        "status": "available",
        "subject": { "reference": patient_url },
        "numberOfSeries": series.len(),
        "numberOfInstances": evidence.len(),
        "series": series_json,
    });
    if let Some(d) = fhir_date(&s.study_date) {
        study["started"] = json!(d);
    }
    put_str(&mut study, "description", &s.description);

    let text = report_text(r, addenda);
    let mut report = json!({
        "resourceType": "DiagnosticReport",
        "id": id(&report_url),
        "status": status(r.state),
        "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology" }] }],
        "code": { "coding": [{ "system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study" }] },
        "subject": { "reference": patient_url },
        "imagingStudy": [{ "reference": study_url }],
        "performer": [{ "display": s.hospital_name }],
        "presentedForm": [{
            "contentType": "text/plain; charset=utf-8",
            "title": "Radiology report",
            "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        }],
    });
    if let Some(sop) = &r.sr_sop_uid {
        report["identifier"] =
            json!([{ "system": "urn:dicom:uid", "value": format!("urn:oid:{sop}") }]);
    }
    if let Some(d) = fhir_date(&s.study_date) {
        report["effectiveDateTime"] = json!(d);
    }
    if let Some(at) = &r.signed_at {
        report["issued"] = json!(at);
    }
    if let Some(by) = &r.signed_by {
        report["resultsInterpreter"] = json!([{ "display": by }]);
    }
    put_str(&mut report, "conclusion", &r.content.impression);

    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            { "fullUrl": report_url, "resource": report },
            { "fullUrl": study_url, "resource": study },
            { "fullUrl": patient_url, "resource": patient },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_ids() {
        assert_eq!(fhir_date("20240131").as_deref(), Some("2024-01-31"));
        assert_eq!(fhir_date(""), None);
        assert_eq!(fhir_date("2024"), None);
        let a = urn_uuid("x");
        assert_eq!(a, urn_uuid("x"));
        assert_ne!(a, urn_uuid("y"));
        // urn:uuid: + 36 characters, version 5, variant 1.
        assert_eq!(a.len(), 9 + 36);
        assert_eq!(&a[9 + 14..9 + 15], "5");
        assert!(matches!(&a[9 + 19..9 + 20], "8" | "9" | "a" | "b"));
    }
}
