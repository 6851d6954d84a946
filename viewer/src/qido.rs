//! The study search form ([`StudySearch`]) to a QIDO-RS `/studies` query string,
//! and percent-encoding for URLs (Thai text is sent as UTF-8 bytes, `%E0%B8%…`).

use crate::dates::Date;

/// Studies per page of the list.
pub const PAGE_SIZE: u32 = 25;

/// What the user searches for; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudySearch {
    /// Thai or Latin; every word is matched as the start of a name part (fuzzy).
    pub patient_name: String,
    /// HN / Patient ID; matched as a prefix.
    pub patient_id: String,
    /// `YYYY-MM-DD` as HTML date inputs give it.
    pub date_from: String,
    pub date_to: String,
    /// e.g. "CT"; empty for any.
    pub modality: String,
    pub page: u32,
}

/// Attributes asked for beyond QIDO's defaults.
const INCLUDE: &[&str] = &[
    "StudyDescription",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "ModalitiesInStudy",
    "InstitutionName",
];

impl StudySearch {
    /// The query string (without `?`) for `/dicomweb/studies`.
    pub fn query_string(&self) -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        let name = self.patient_name.trim();
        if !name.is_empty() {
            q.push(("PatientName", name.to_owned()));
            q.push(("fuzzymatching", "true".to_owned()));
        }
        let id = self.patient_id.trim();
        if !id.is_empty() {
            let id = if id.ends_with('*') {
                id.to_owned()
            } else {
                format!("{id}*")
            };
            q.push(("PatientID", id));
        }
        let from = Date::da_from_iso(&self.date_from);
        let to = Date::da_from_iso(&self.date_to);
        match (from, to) {
            (None, None) => {}
            (Some(f), Some(t)) if f == t => q.push(("StudyDate", f)),
            (f, t) => q.push((
                "StudyDate",
                format!("{}-{}", f.unwrap_or_default(), t.unwrap_or_default()),
            )),
        }
        let modality = self.modality.trim();
        if !modality.is_empty() {
            q.push(("ModalitiesInStudy", modality.to_ascii_uppercase()));
        }
        for field in INCLUDE {
            q.push(("includefield", (*field).to_owned()));
        }
        q.push(("limit", (PAGE_SIZE + 1).to_string()));
        q.push(("offset", (self.page * PAGE_SIZE).to_string()));
        q.iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `*`, which
/// QIDO wildcards use and which is safe in a query).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'*') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (form encoding) to UTF-8 text; invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_name_is_fuzzy_and_utf8_percent_encoded() {
        let s = StudySearch {
            patient_name: " สมชาย ".into(),
            ..Default::default()
        };
        let q = s.query_string();
        // "ส" is U+0E2A: UTF-8 E0 B8 AA.
        assert!(q.starts_with("PatientName=%E0%B8%AA"), "{q}");
        assert!(q.contains("&fuzzymatching=true"));
        assert!(q.contains("&limit=26&offset=0"));
    }

    #[test]
    fn id_prefix_date_range_and_modality() {
        let s = StudySearch {
            patient_id: "HN0001".into(),
            date_from: "2024-01-01".into(),
            date_to: "2024-12-31".into(),
            modality: "ct".into(),
            page: 2,
            ..Default::default()
        };
        let q = s.query_string();
        assert!(q.contains("PatientID=HN0001*"), "{q}");
        assert!(q.contains("StudyDate=20240101-20241231"));
        assert!(q.contains("ModalitiesInStudy=CT"));
        assert!(q.contains("offset=50"));
        assert!(!q.contains("PatientName"));
        let open = StudySearch {
            date_to: "2024-02-29".into(),
            ..Default::default()
        };
        assert!(open.query_string().contains("StudyDate=-20240229"));
    }

    #[test]
    fn percent_round_trip() {
        for s in ["สมชาย ใจดี", "a+b&c=d", "1.2.840.10008", "100%"] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(percent_decode("%ส%zz"), "%ส%zz");
    }
}
