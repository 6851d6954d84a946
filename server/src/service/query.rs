//! Queries: QIDO-RS and C-FIND parameters to one index query, and matched entities to
//! DICOM JSON. Answered from the index alone, never by reading files.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use futures::FutureExt;
use serde_json::{Map, Value as J, json};
use tokio::sync::mpsc;

use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::json::{BASE_PLACEHOLDER, tag_key};
use crate::index::query::{Col, Hit, Level, Matcher, Query};

/// A parsed query: matching keys, requested return keys, paging.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub level: Level,
    /// (tag, value as given); empty values are return keys only.
    pub keys: Vec<(Tag, String)>,
    pub include: Include,
    pub fuzzy: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Include {
    #[default]
    Defaults,
    Tags(Vec<Tag>),
    All,
}

/// Resolves `PatientName`, `00100010` or `(0010,0010)`.
pub fn parse_tag(s: &str) -> Option<Tag> {
    StandardDataDictionary.parse_tag(s.trim())
}

pub fn vr_of(tag: Tag) -> VR {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.vr().relaxed())
        .unwrap_or(VR::UN)
}

fn col_for(tag: Tag) -> Option<Col> {
    Some(match tag {
        tags::PATIENT_NAME => Col::PatientName,
        tags::PATIENT_ID => Col::PatientId,
        tags::ISSUER_OF_PATIENT_ID => Col::Issuer,
        tags::PATIENT_BIRTH_DATE => Col::BirthDate,
        tags::PATIENT_SEX => Col::Sex,
        tags::STUDY_INSTANCE_UID => Col::StudyUid,
        tags::STUDY_DATE => Col::StudyDate,
        tags::STUDY_TIME => Col::StudyTime,
        tags::ACCESSION_NUMBER => Col::Accession,
        tags::STUDY_ID => Col::StudyId,
        tags::STUDY_DESCRIPTION => Col::StudyDescription,
        tags::REFERRING_PHYSICIAN_NAME => Col::ReferringPhysician,
        tags::MODALITIES_IN_STUDY => Col::ModalitiesInStudy,
        tags::SERIES_INSTANCE_UID => Col::SeriesUid,
        tags::MODALITY => Col::Modality,
        tags::SERIES_NUMBER => Col::SeriesNumber,
        tags::SERIES_DESCRIPTION => Col::SeriesDescription,
        tags::BODY_PART_EXAMINED => Col::BodyPart,
        tags::PERFORMED_PROCEDURE_STEP_START_DATE => Col::PpsStartDate,
        tags::PERFORMED_PROCEDURE_STEP_START_TIME => Col::PpsStartTime,
        tags::SOP_INSTANCE_UID => Col::SopUid,
        tags::SOP_CLASS_UID => Col::SopClassUid,
        tags::INSTANCE_NUMBER => Col::InstanceNumber,
        _ => return None,
    })
}

fn normalize_range_side(s: &str, vr: VR) -> String {
    let t = s.trim();
    if vr == VR::TM {
        t.replace(':', "")
    } else {
        t.replace(['.', '-'], "")
    }
}

/// One key/value to a matcher, per PS3.4 C.2.2.2 and PS3.18 8.3.4.
fn matcher(tag: Tag, col: Col, value: &str, fuzzy: bool) -> Result<Option<Matcher>> {
    let v = value.trim();
    if v.is_empty() || v == "*" {
        return Ok(None); // universal matching
    }
    // Never valid in a DICOM value; PostgreSQL would refuse the statement where SQLite
    // found nothing: refused alike on both engines.
    if v.contains('\0') {
        return Err(ServiceError::BadRequest(format!(
            "{} contains a NUL character",
            tag_key(tag)
        )));
    }
    let vr = vr_of(tag);
    Ok(Some(match col {
        Col::PatientName | Col::ReferringPhysician => Matcher::PersonName {
            pattern: v.to_string(),
            fuzzy,
        },
        Col::StudyUid | Col::SeriesUid | Col::SopUid | Col::SopClassUid => {
            let uids: Vec<String> = v
                .split(['\\', ','])
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect();
            if uids.iter().any(|u| !crate::dicom::valid_uid(u)) {
                return Err(ServiceError::BadRequest(format!(
                    "invalid UID list for {}: {v:?}",
                    tag_key(tag)
                )));
            }
            Matcher::UidList(uids)
        }
        Col::ModalitiesInStudy => {
            Matcher::AnyModality(v.split(['\\', ',']).map(|m| m.trim().to_string()).collect())
        }
        Col::SeriesNumber | Col::InstanceNumber => Matcher::Int(v.parse().map_err(|_| {
            ServiceError::BadRequest(format!("{} must be an integer: {v:?}", tag_key(tag)))
        })?),
        _ if matches!(vr, VR::DA | VR::TM | VR::DT) && v.contains('-') => {
            let (from, to) = v.split_once('-').unwrap_or((v, ""));
            check_date_time(tag, vr, from)?;
            check_date_time(tag, vr, to)?;
            let from = Some(normalize_range_side(from, vr)).filter(|s| !s.is_empty());
            let to = Some(normalize_range_side(to, vr)).filter(|s| !s.is_empty());
            Matcher::Range(from, to)
        }
        _ if matches!(vr, VR::DA) => {
            check_date_time(tag, vr, v)?;
            Matcher::Equals(normalize_range_side(v, vr))
        }
        _ if v.contains(['*', '?']) => Matcher::Wildcard(v.to_string()),
        _ => Matcher::Equals(v.to_string()),
    }))
}

/// DA is YYYYMMDD (YYYY.MM.DD tolerated), TM HHMMSS.FFFFFF (colons tolerated).
fn check_date_time(tag: Tag, vr: VR, side: &str) -> Result<()> {
    let t = normalize_range_side(side, vr);
    let ok = match vr {
        VR::DA => {
            t.is_empty()
                || (t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) && {
                    let m: u32 = t[4..6].parse().unwrap_or(0);
                    let d: u32 = t[6..8].parse().unwrap_or(0);
                    (1..=12).contains(&m) && (1..=31).contains(&d)
                })
        }
        VR::TM => t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.len() <= 13,
        _ => t.bytes().all(|b| b.is_ascii_digit() || b"+-.".contains(&b)),
    };
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "invalid date/time for {}: {side:?}",
            tag_key(tag)
        )))
    }
}

fn allowed_at(level: Level, col: Col) -> bool {
    let l = col.level();
    match level {
        Level::Patient => l == Level::Patient,
        Level::Study => matches!(l, Level::Patient | Level::Study),
        Level::Series => l != Level::Instance,
        Level::Instance => true,
    }
}

/// A query's answer as it is read from the index: QIDO-RS bodies and C-FIND responses
/// are sent from it match by match, so memory stays flat whatever the number of
/// matches. The query is audited, with the number of results sent, when the stream ends
/// (or is dropped early: a client that went away).
pub struct QueryStream {
    /// Keys given for matching that the index cannot match on (reported, not applied).
    pub unsupported: Vec<Tag>,
    hits: mpsc::Receiver<crate::index::Result<Hit>>,
    level: Level,
    include: Include,
    sent: usize,
    /// Who asked and what, until the audit record is written.
    audit: Option<(Archive, Principal, String)>,
}

impl QueryStream {
    /// The next match as DICOM JSON (with `{{BASE}}` placeholders), `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Map<String, J>>> {
        match self.hits.recv().await {
            Some(Ok(h)) => {
                self.sent += 1;
                Some(Ok(hit_json(self.level, &h, &self.include)))
            }
            Some(Err(e)) => {
                self.audit_once("failed");
                Some(Err(e.into()))
            }
            None => {
                self.audit_once("ok");
                None
            }
        }
    }

    fn audit_once(&mut self, outcome: &str) {
        if let Some((archive, who, what)) = self.audit.take() {
            let detail = format!("{what} results={}", self.sent);
            // `Archive::audit` only queues the record for the batch writer: it completes
            // on its first poll, so this works from `drop` too.
            let queued = archive
                .audit(&who, "query", "", "", &detail, outcome)
                .now_or_never();
            if !matches!(queued, Some(Ok(()))) {
                tracing::error!(%detail, "cannot queue the audit record of a query");
            }
        }
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        self.audit_once("aborted");
    }
}

fn put_str(m: &mut Map<String, J>, tag: Tag, vr: &str, v: &str) {
    let mut e = Map::new();
    e.insert("vr".into(), J::String(vr.into()));
    if !v.is_empty() {
        if vr == "PN" {
            let mut pn = Map::new();
            for (i, g) in v.split('=').enumerate().take(3) {
                if !g.is_empty() {
                    pn.insert(
                        ["Alphabetic", "Ideographic", "Phonetic"][i].into(),
                        J::String(g.into()),
                    );
                }
            }
            e.insert("Value".into(), json!([pn]));
        } else if vr == "CS" && v.contains('\\') {
            e.insert(
                "Value".into(),
                J::Array(v.split('\\').map(|s| J::String(s.into())).collect()),
            );
        } else {
            e.insert("Value".into(), json!([v]));
        }
    }
    m.insert(tag_key(tag), J::Object(e));
}

fn put_int(m: &mut Map<String, J>, tag: Tag, vr: &str, v: Option<i64>) {
    let mut e = Map::new();
    e.insert("vr".into(), J::String(vr.into()));
    if let Some(v) = v {
        e.insert("Value".into(), json!([v]));
    }
    m.insert(tag_key(tag), J::Object(e));
}

fn patient_attrs(m: &mut Map<String, J>, h: &Hit) {
    put_str(m, tags::PATIENT_NAME, "PN", &h.patient_name);
    put_str(m, tags::PATIENT_ID, "LO", &h.patient_id);
    if !h.issuer.is_empty() {
        put_str(m, tags::ISSUER_OF_PATIENT_ID, "LO", &h.issuer);
    }
    put_str(m, tags::PATIENT_BIRTH_DATE, "DA", &h.birth_date);
    put_str(m, tags::PATIENT_SEX, "CS", &h.sex);
}

fn study_attrs(m: &mut Map<String, J>, h: &Hit) {
    patient_attrs(m, h);
    put_str(m, tags::STUDY_INSTANCE_UID, "UI", &h.study_uid);
    put_str(m, tags::STUDY_DATE, "DA", &h.study_date);
    put_str(m, tags::STUDY_TIME, "TM", &h.study_time);
    put_str(m, tags::ACCESSION_NUMBER, "SH", &h.accession);
    put_str(m, tags::STUDY_ID, "SH", &h.study_id);
    put_str(m, tags::STUDY_DESCRIPTION, "LO", &h.study_description);
    put_str(
        m,
        tags::REFERRING_PHYSICIAN_NAME,
        "PN",
        &h.referring_physician,
    );
    put_str(m, tags::MODALITIES_IN_STUDY, "CS", &h.modalities);
    put_int(
        m,
        tags::NUMBER_OF_STUDY_RELATED_SERIES,
        "IS",
        Some(h.num_study_series),
    );
    put_int(
        m,
        tags::NUMBER_OF_STUDY_RELATED_INSTANCES,
        "IS",
        Some(h.num_study_instances),
    );
    put_str(m, tags::INSTITUTION_CODE_SEQUENCE, "SQ", "");
}

fn series_attrs(m: &mut Map<String, J>, h: &Hit) {
    put_str(m, tags::SERIES_INSTANCE_UID, "UI", &h.series_uid);
    put_str(m, tags::MODALITY, "CS", &h.modality);
    put_int(m, tags::SERIES_NUMBER, "IS", h.series_number);
    put_str(m, tags::SERIES_DESCRIPTION, "LO", &h.series_description);
    put_str(m, tags::BODY_PART_EXAMINED, "CS", &h.body_part);
    put_str(
        m,
        tags::PERFORMED_PROCEDURE_STEP_START_DATE,
        "DA",
        &h.pps_start_date,
    );
    put_str(
        m,
        tags::PERFORMED_PROCEDURE_STEP_START_TIME,
        "TM",
        &h.pps_start_time,
    );
    put_int(
        m,
        tags::NUMBER_OF_SERIES_RELATED_INSTANCES,
        "IS",
        Some(h.num_series_instances),
    );
}

fn hit_json(level: Level, h: &Hit, include: &Include) -> Map<String, J> {
    let mut m = Map::new();
    put_str(&mut m, tags::SPECIFIC_CHARACTER_SET, "CS", "ISO_IR 192");
    match level {
        Level::Patient => {
            patient_attrs(&mut m, h);
            put_int(
                &mut m,
                tags::NUMBER_OF_PATIENT_RELATED_STUDIES,
                "IS",
                Some(h.num_patient_studies),
            );
        }
        Level::Study => {
            study_attrs(&mut m, h);
            put_str(&mut m, tags::INSTANCE_AVAILABILITY, "CS", "ONLINE");
            put_str(
                &mut m,
                tags::RETRIEVE_URL,
                "UR",
                &format!("{BASE_PLACEHOLDER}/studies/{}", h.study_uid),
            );
        }
        Level::Series => {
            study_attrs(&mut m, h);
            series_attrs(&mut m, h);
            put_str(&mut m, tags::INSTANCE_AVAILABILITY, "CS", "ONLINE");
            put_str(
                &mut m,
                tags::RETRIEVE_URL,
                "UR",
                &format!(
                    "{BASE_PLACEHOLDER}/studies/{}/series/{}",
                    h.study_uid, h.series_uid
                ),
            );
        }
        Level::Instance => {
            study_attrs(&mut m, h);
            series_attrs(&mut m, h);
            put_str(&mut m, tags::SOP_CLASS_UID, "UI", &h.sop_class_uid);
            put_str(&mut m, tags::SOP_INSTANCE_UID, "UI", &h.sop_uid);
            put_int(&mut m, tags::INSTANCE_NUMBER, "IS", h.instance_number);
            put_int(&mut m, tags::ROWS, "US", h.rows);
            put_int(&mut m, tags::COLUMNS, "US", h.columns);
            put_int(&mut m, tags::BITS_ALLOCATED, "US", h.bits_allocated);
            put_int(&mut m, tags::NUMBER_OF_FRAMES, "IS", h.number_of_frames);
            put_str(
                &mut m,
                tags::AVAILABLE_TRANSFER_SYNTAX_UID,
                "UI",
                &h.transfer_syntax,
            );
            put_str(&mut m, tags::INSTANCE_AVAILABILITY, "CS", "ONLINE");
            put_str(
                &mut m,
                tags::RETRIEVE_URL,
                "UR",
                &format!(
                    "{BASE_PLACEHOLDER}/studies/{}/series/{}/instances/{}",
                    h.study_uid, h.series_uid, h.sop_uid
                ),
            );
        }
    }
    m.remove(&tag_key(tags::INSTITUTION_CODE_SEQUENCE));
    // includefield: attributes the index lacks come from a representative instance's
    // stored DICOM JSON (still the index, not the files).
    if let (Some(meta), true) = (&h.metadata, *include != Include::Defaults) {
        if let Ok(J::Object(meta)) = serde_json::from_str::<J>(meta) {
            match include {
                Include::All => {
                    for (k, v) in meta {
                        let bulk = v.get("BulkDataURI").is_some();
                        if !bulk && !m.contains_key(&k) && level_allows_meta(level, &k) {
                            m.insert(k, v);
                        }
                    }
                }
                Include::Tags(tags) => {
                    for t in tags {
                        let k = tag_key(*t);
                        if !m.contains_key(&k) {
                            if let Some(v) = meta.get(&k) {
                                m.insert(k, v.clone());
                            }
                        }
                    }
                }
                Include::Defaults => {}
            }
        }
    }
    m
}

/// At study and series level, `includefield=all` must not present one instance's
/// attributes as if they described the whole study or series.
fn level_allows_meta(level: Level, key: &str) -> bool {
    /// Attributes that differ per instance (image, acquisition and content identity).
    const INSTANCE_LEVEL: &[&str] = &[
        "00080008", "00080012", "00080013", "00080016", "00080018", "00080022", "00080023",
        "0008002A", "00080032", "00080033", "00083002", "00200012", "00200013", "00200032",
        "00200037", "00201041", "00180050", "00181150", "00181151", "00181152", "00189345",
        "00200100", "00200105",
    ];
    /// Attributes that differ per series.
    const SERIES_LEVEL: &[&str] = &[
        "0020000E", "00200011", "0008103E", "00080060", "00080021", "00080031", "00180015",
        "00185100", "00200052", "00200060", "00081111", "00400244", "00400245", "00400253",
        "00400254",
    ];
    let group = &key[0..4];
    match level {
        Level::Instance => true,
        Level::Series => {
            matches!(group, "0008" | "0010" | "0018" | "0020" | "0032" | "0040")
                && !INSTANCE_LEVEL.contains(&key)
        }
        Level::Study => {
            matches!(group, "0008" | "0010" | "0020" | "0032" | "0040")
                && !INSTANCE_LEVEL.contains(&key)
                && !SERIES_LEVEL.contains(&key)
        }
        Level::Patient => group == "0010",
    }
}

impl Archive {
    /// Runs a query for `who` (tenancy applied in the index's SQL); matches are read as
    /// the caller takes them.
    pub async fn query_stream(&self, who: &Principal, spec: &QuerySpec) -> Result<QueryStream> {
        let mut conds = Vec::new();
        let mut unsupported = Vec::new();
        for (tag, value) in &spec.keys {
            if *tag == tags::SPECIFIC_CHARACTER_SET || *tag == tags::QUERY_RETRIEVE_LEVEL {
                continue;
            }
            match col_for(*tag) {
                Some(col) if allowed_at(spec.level, col) => {
                    if let Some(m) = matcher(*tag, col, value, spec.fuzzy)? {
                        conds.push((col, m));
                    }
                }
                Some(_) => {
                    if !value.trim().is_empty() {
                        return Err(ServiceError::BadRequest(format!(
                            "attribute {} cannot be matched at this query level",
                            tag_key(*tag)
                        )));
                    }
                }
                None if !value.trim().is_empty() => unsupported.push(*tag),
                None => {}
            }
        }
        let want_metadata = spec.include != Include::Defaults
            || spec
                .keys
                .iter()
                .any(|(t, v)| v.trim().is_empty() && col_for(*t).is_none());
        let q = Query {
            level: spec.level,
            conds,
            limit: spec.limit,
            offset: spec.offset,
            want_metadata,
        };
        let include = match (&spec.include, want_metadata) {
            (Include::Defaults, true) => Include::Tags(spec.keys.iter().map(|(t, _)| *t).collect()),
            (i, _) => i.clone(),
        };
        let what = format!(
            "level={:?} keys={}",
            spec.level,
            spec.keys
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(t, v)| format!("{}={v}", tag_key(*t)))
                .collect::<Vec<_>>()
                .join("&"),
        );
        Ok(QueryStream {
            unsupported,
            hits: self.index().query_stream(&who.scope(), &q),
            level: spec.level,
            include,
            sent: 0,
            audit: Some((self.clone(), who.clone(), what)),
        })
    }
}
