//! The viewer's study list: what QIDO-RS cannot give (sorting by any column, a total
//! count for paging, the owning hospital's name). Parameters are validated here (bad
//! input is a [`ServiceError::BadRequest`]); tenancy is the principal's
//! [`Principal::scope`], as for QIDO; every search is audited like a QIDO query.

use rangsi_wire::api::{HospitalList, StudyPage, StudySort, StudySortKey};

use super::{Archive, Principal, Result, ServiceError};
use crate::index::query::name_search_key;
use crate::index::studies::StudyFilter;

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 25;
/// The most rows one page may have.
pub const MAX_LIMIT: i64 = 500;
/// Longest accepted text parameter (names, IDs), in characters.
const MAX_TEXT: usize = 200;
/// The most UIDs one request may list.
const MAX_UIDS: usize = 100;

/// The parameters of `GET /api/studies`, as given (all optional).
#[derive(Debug, Clone, Default)]
pub struct StudyListRequest {
    /// Patient name, Thai or Latin: each word the start of a name part.
    pub name: Option<String>,
    /// Patient ID / HN prefix.
    pub id: Option<String>,
    /// Patient ID, exactly.
    pub patient: Option<String>,
    /// Accession number prefix.
    pub accession: Option<String>,
    pub modality: Option<String>,
    /// `YYYYMMDD` or `YYYY-MM-DD`.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Hospital code.
    pub hospital: Option<String>,
    /// Comma-separated Study Instance UIDs.
    pub uid: Option<String>,
    /// `date`, `-date`, `name`, ... (see [`StudySortKey`]).
    pub sort: Option<String>,
    pub offset: Option<String>,
    pub limit: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn text(name: &str, v: &Option<String>) -> Result<Option<String>> {
    match non_empty(v) {
        None => Ok(None),
        Some(s) if s.chars().count() > MAX_TEXT => Err(ServiceError::BadRequest(format!(
            "{name} is longer than {MAX_TEXT} characters"
        ))),
        Some(s) if s.chars().any(char::is_control) => Err(ServiceError::BadRequest(format!(
            "{name} contains control characters"
        ))),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// `YYYYMMDD` (or `YYYY-MM-DD`, `YYYY.MM.DD`) with a real month and day.
fn date(name: &str, v: &Option<String>) -> Result<Option<String>> {
    let Some(s) = non_empty(v) else {
        return Ok(None);
    };
    let digits: String = s.chars().filter(|c| !matches!(c, '-' | '.')).collect();
    let valid = digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&digits[4..6].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&digits[6..8].parse::<u32>().unwrap_or(0));
    if valid {
        Ok(Some(digits))
    } else {
        Err(ServiceError::BadRequest(format!(
            "{name} must be a date YYYYMMDD or YYYY-MM-DD, got {s:?}"
        )))
    }
}

fn number(name: &str, v: &Option<String>, default: i64, max: i64) -> Result<i64> {
    let Some(s) = non_empty(v) else {
        return Ok(default);
    };
    match s.parse::<i64>() {
        Ok(n) if (0..=max).contains(&n) => Ok(n),
        _ => Err(ServiceError::BadRequest(format!(
            "{name} must be an integer from 0 to {max}, got {s:?}"
        ))),
    }
}

impl StudyListRequest {
    /// Validated filter, sort, offset and limit.
    pub fn parse(&self) -> Result<(StudyFilter, StudySort, i64, i64)> {
        let name = text("name", &self.name)?;
        let modality = text("modality", &self.modality)?.map(|m| m.to_ascii_uppercase());
        if let Some(m) = &modality {
            if m.len() > 16 || !m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ServiceError::BadRequest(format!(
                    "modality must be a code such as CT or MR, got {m:?}"
                )));
            }
        }
        let date_from = date("from", &self.from)?;
        let date_to = date("to", &self.to)?;
        if let (Some(f), Some(t)) = (&date_from, &date_to) {
            if f > t {
                return Err(ServiceError::BadRequest(format!(
                    "from ({f}) is after to ({t})"
                )));
            }
        }
        let study_uids: Vec<String> = non_empty(&self.uid)
            .map(|v| {
                v.split([',', '\\'])
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if study_uids.len() > MAX_UIDS {
            return Err(ServiceError::BadRequest(format!(
                "at most {MAX_UIDS} study UIDs per request"
            )));
        }
        if let Some(bad) = study_uids.iter().find(|u| !crate::dicom::valid_uid(u)) {
            return Err(ServiceError::BadRequest(format!(
                "invalid Study Instance UID {bad:?}"
            )));
        }
        let sort = match non_empty(&self.sort) {
            None => StudySort::default(),
            Some(s) => StudySort::from_param(s).ok_or_else(|| {
                let keys: Vec<&str> = StudySortKey::ALL.iter().map(|k| k.param()).collect();
                ServiceError::BadRequest(format!(
                    "sort must be one of {} (with - for descending), got {s:?}",
                    keys.join(", ")
                ))
            })?,
        };
        let filter = StudyFilter {
            // The same tokens ingest writes into `name_search` (lower-cased components).
            name_tokens: name
                .map(|n| {
                    name_search_key(&n)
                        .split(' ')
                        .map(|t| t.trim_end_matches('*').to_owned())
                        .filter(|t| !t.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            patient_id_prefix: text("id", &self.id)?,
            patient_id: text("patient", &self.patient)?,
            accession_prefix: text("accession", &self.accession)?,
            modality,
            date_from,
            date_to,
            hospital: text("hospital", &self.hospital)?,
            study_uids,
        };
        let offset = number("offset", &self.offset, 0, 10_000_000)?;
        let limit = number("limit", &self.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
        Ok((filter, sort, offset, limit))
    }

    /// The given parameters as `k=v&...` for the audit record.
    fn audit_detail(&self, results: usize, total: i64) -> String {
        let given = [
            ("name", &self.name),
            ("id", &self.id),
            ("patient", &self.patient),
            ("accession", &self.accession),
            ("modality", &self.modality),
            ("from", &self.from),
            ("to", &self.to),
            ("hospital", &self.hospital),
            ("uid", &self.uid),
            ("sort", &self.sort),
            ("offset", &self.offset),
            ("limit", &self.limit),
        ];
        let keys: Vec<String> = given
            .iter()
            .filter_map(|(k, v)| non_empty(v).map(|v| format!("{k}={v}")))
            .collect();
        format!(
            "study list keys={} results={results} total={total}",
            keys.join("&")
        )
    }
}

impl Archive {
    /// One page of the study list the principal may see.
    pub async fn study_list(&self, who: &Principal, req: &StudyListRequest) -> Result<StudyPage> {
        let (filter, sort, offset, limit) = req.parse()?;
        let (rows, total) = self
            .index()
            .study_list(&who.scope(), &filter, sort, offset, limit)
            .await?;
        self.audit(
            who,
            "query",
            "",
            filter.patient_id.as_deref().unwrap_or(""),
            &req.audit_detail(rows.len(), total),
            "ok",
        )
        .await?;
        Ok(StudyPage {
            total: u64::try_from(total).unwrap_or(0),
            offset: offset as u64,
            limit: limit as u64,
            rows,
        })
    }

    /// The hospitals whose studies the principal may see (the list's hospital filter).
    pub async fn study_list_hospitals(&self, who: &Principal) -> Result<HospitalList> {
        Ok(HospitalList {
            hospitals: self.index().study_list_hospitals(&who.scope()).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> StudyListRequest {
        StudyListRequest::default()
    }

    #[test]
    fn defaults_are_newest_first_25_rows() {
        let (f, s, o, l) = req().parse().expect("empty request");
        assert_eq!(f, StudyFilter::default());
        assert_eq!(s, StudySort::default());
        assert_eq!((o, l), (0, 25));
    }

    #[test]
    fn thai_name_becomes_lower_cased_tokens() {
        let r = StudyListRequest {
            name: Some(" สมชาย  ใจ ".into()),
            ..req()
        };
        assert_eq!(r.parse().expect("name").0.name_tokens, ["สมชาย", "ใจ"]);
        let r = StudyListRequest {
            name: Some("DOE^Jo*".into()),
            ..req()
        };
        assert_eq!(r.parse().expect("name").0.name_tokens, ["doe", "jo"]);
    }

    #[test]
    fn dates_in_either_form() {
        let r = StudyListRequest {
            from: Some("2024-01-31".into()),
            to: Some("20241231".into()),
            ..req()
        };
        let f = r.parse().expect("dates").0;
        assert_eq!(f.date_from.as_deref(), Some("20240131"));
        assert_eq!(f.date_to.as_deref(), Some("20241231"));
    }

    #[test]
    fn bad_parameters_are_rejected_with_a_reason() {
        let cases = [
            StudyListRequest {
                from: Some("2024-13-01".into()),
                ..req()
            },
            StudyListRequest {
                from: Some("20240201".into()),
                to: Some("20240101".into()),
                ..req()
            },
            StudyListRequest {
                sort: Some("-shoe".into()),
                ..req()
            },
            StudyListRequest {
                limit: Some("100000".into()),
                ..req()
            },
            StudyListRequest {
                offset: Some("-1".into()),
                ..req()
            },
            StudyListRequest {
                modality: Some("CT' OR 1=1".into()),
                ..req()
            },
            StudyListRequest {
                uid: Some("1.2.abc".into()),
                ..req()
            },
            StudyListRequest {
                name: Some("x".repeat(201)),
                ..req()
            },
        ];
        for r in cases {
            assert!(
                matches!(r.parse(), Err(ServiceError::BadRequest(_))),
                "{r:?}"
            );
        }
    }
}
