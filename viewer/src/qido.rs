//! The study search ([`StudySearch`]): the form's fields, sort and page to the query
//! string of the server's study list API (`GET /api/studies`, which QIDO-RS cannot
//! replace: it sorts by any column and counts the matches), quick date ranges
//! (today, yesterday, 7 and 30 days), the round trip through the session's memory,
//! and percent-encoding for URLs (Thai text is sent as UTF-8 bytes, `%E0%B8%…`).

use rangsi_wire::api::StudySort;

use crate::dates::Date;

/// Studies per page unless the user picks another size.
pub const PAGE_SIZE: u32 = 25;
/// The page sizes the list offers.
pub const PAGE_SIZES: &[u32] = &[25, 50, 100];

/// What the user searches for; empty fields do not filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudySearch {
    /// Thai or Latin; every word is matched as the start of a name part (fuzzy).
    pub patient_name: String,
    /// HN / Patient ID; matched as a prefix.
    pub patient_id: String,
    /// Accession number; matched as a prefix.
    pub accession: String,
    /// `YYYY-MM-DD` as HTML date inputs give it.
    pub date_from: String,
    pub date_to: String,
    /// e.g. "CT"; empty for any.
    pub modality: String,
    /// Hospital code; empty for every hospital the user can see.
    pub hospital: String,
    /// One patient exactly (IHE IID `requestType=PATIENT`); not a form field.
    pub exact_patient: Option<String>,
    pub sort: StudySort,
    pub page: u32,
    pub page_size: u32,
}

impl Default for StudySearch {
    fn default() -> Self {
        StudySearch {
            patient_name: String::new(),
            patient_id: String::new(),
            accession: String::new(),
            date_from: String::new(),
            date_to: String::new(),
            modality: String::new(),
            hospital: String::new(),
            exact_patient: None,
            sort: StudySort::default(),
            page: 0,
            page_size: PAGE_SIZE,
        }
    }
}

/// The quick date ranges of the search form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickRange {
    Today,
    Yesterday,
    Last7Days,
    Last30Days,
}

impl QuickRange {
    pub const ALL: &'static [QuickRange] = &[
        QuickRange::Today,
        QuickRange::Yesterday,
        QuickRange::Last7Days,
        QuickRange::Last30Days,
    ];

    /// `(from, to)` as `YYYY-MM-DD`, both included, for the local date `today`.
    pub fn range(self, today: Date) -> (String, String) {
        let day = days_from_civil(today);
        let (from, to) = match self {
            QuickRange::Today => (day, day),
            QuickRange::Yesterday => (day - 1, day - 1),
            QuickRange::Last7Days => (day - 6, day),
            QuickRange::Last30Days => (day - 29, day),
        };
        (iso(civil_from_days(from)), iso(civil_from_days(to)))
    }
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(d: Date) -> i64 {
    let (m, dd) = (i64::from(d.month), i64::from(d.day));
    let y = i64::from(d.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date {
        year: u16::try_from(year).unwrap_or(0),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
    }
}

impl StudySearch {
    /// The query string (without `?`) for `GET /api/studies`.
    pub fn api_query(&self) -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        let mut text = |k, v: &str| {
            let v = v.trim();
            if !v.is_empty() {
                q.push((k, v.to_owned()));
            }
        };
        text("name", &self.patient_name);
        text("id", &self.patient_id);
        text("accession", &self.accession);
        text("modality", &self.modality.to_ascii_uppercase());
        text("hospital", &self.hospital);
        if let Some(p) = &self.exact_patient {
            text("patient", p);
        }
        if let Some(f) = Date::da_from_iso(&self.date_from) {
            q.push(("from", f));
        }
        if let Some(t) = Date::da_from_iso(&self.date_to) {
            q.push(("to", t));
        }
        q.push(("sort", self.sort.param()));
        q.push(("offset", (self.page * self.page_size).to_string()));
        q.push(("limit", self.page_size.to_string()));
        join(&q)
    }

    /// The form, sort and page as a query string, to remember the last search in the
    /// session (`sessionStorage`); [`StudySearch::from_saved`] reads it back.
    pub fn to_saved(&self) -> String {
        let q: Vec<(&str, String)> = vec![
            ("name", self.patient_name.clone()),
            ("id", self.patient_id.clone()),
            ("accession", self.accession.clone()),
            ("from", self.date_from.clone()),
            ("to", self.date_to.clone()),
            ("modality", self.modality.clone()),
            ("hospital", self.hospital.clone()),
            ("sort", self.sort.param()),
            ("page", self.page.to_string()),
            ("size", self.page_size.to_string()),
        ];
        join(&q)
    }

    /// A remembered search; unknown or broken values fall back to the defaults.
    pub fn from_saved(saved: &str) -> StudySearch {
        let mut s = StudySearch::default();
        for pair in saved.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "name" => s.patient_name = v,
                "id" => s.patient_id = v,
                "accession" => s.accession = v,
                "from" => s.date_from = v,
                "to" => s.date_to = v,
                "modality" => s.modality = v,
                "hospital" => s.hospital = v,
                "sort" => s.sort = StudySort::from_param(&v).unwrap_or_default(),
                "page" => s.page = v.parse().unwrap_or(0),
                "size" => {
                    s.page_size = v
                        .parse()
                        .ok()
                        .filter(|n| PAGE_SIZES.contains(n))
                        .unwrap_or(PAGE_SIZE)
                }
                _ => {}
            }
        }
        s
    }

    /// Clicking a column header: the same column flips direction, another column
    /// starts in its natural direction (dates and image counts largest first); back
    /// to the first page.
    pub fn sort_by(&mut self, key: rangsi_wire::api::StudySortKey) {
        use rangsi_wire::api::StudySortKey as K;
        self.sort = if self.sort.key == key {
            StudySort {
                key,
                descending: !self.sort.descending,
            }
        } else {
            StudySort {
                key,
                descending: matches!(key, K::Date | K::Images),
            }
        };
        self.page = 0;
    }

    /// "1–25 of 1234" as numbers: (first, last, total), 0-based page to 1-based rows.
    pub fn shown_range(&self, rows: usize, total: u64) -> (u64, u64, u64) {
        let first = u64::from(self.page) * u64::from(self.page_size);
        if rows == 0 {
            (0, 0, total)
        } else {
            (first + 1, first + rows as u64, total)
        }
    }

    /// Whether a page follows this one.
    pub fn has_next(&self, total: u64) -> bool {
        u64::from(self.page + 1) * u64::from(self.page_size) < total
    }
}

fn join(q: &[(&str, String)]) -> String {
    q.iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The QIDO-RS query for one study's row (what the reading page's header and overlay
/// show). `index.html` sends the same URL early for a deep link: keep the two equal
/// (a test checks it), or the app asks a second time.
pub fn study_query_url(study_uid: &str) -> String {
    format!(
        "/dicomweb/studies?StudyInstanceUID={}&includefield=StudyDescription&includefield=InstitutionName&includefield=ModalitiesInStudy",
        percent_encode(study_uid)
    )
}

/// The QIDO-RS query for a study's series; `index.html` sends it early too.
pub fn series_query_url(study_uid: &str) -> String {
    format!(
        "/dicomweb/studies/{}/series?includefield=SeriesDescription&includefield=NumberOfSeriesRelatedInstances",
        percent_encode(study_uid)
    )
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
    fn index_html_sends_the_same_early_queries_as_the_app() {
        // index.html builds them as JS template literals over encodeURIComponent(uid);
        // for a UID (digits and dots) both encodings leave it as it is.
        let html = include_str!("../../index.html").replace("${u}", "1.2.840.99.7");
        for url in [
            study_query_url("1.2.840.99.7"),
            series_query_url("1.2.840.99.7"),
        ] {
            assert!(html.contains(&format!("`{url}`")), "index.html lacks {url}");
        }
    }
    use rangsi_wire::api::StudySortKey;

    #[test]
    fn thai_name_is_utf8_percent_encoded() {
        let s = StudySearch {
            patient_name: " สมชาย ".into(),
            ..Default::default()
        };
        let q = s.api_query();
        // "ส" is U+0E2A: UTF-8 E0 B8 AA.
        assert!(q.starts_with("name=%E0%B8%AA"), "{q}");
        assert!(q.ends_with("&sort=-date&offset=0&limit=25"), "{q}");
    }

    #[test]
    fn every_filter_sort_and_page() {
        let s = StudySearch {
            patient_id: "HN0001".into(),
            accession: "A12".into(),
            date_from: "2024-01-01".into(),
            date_to: "2024-12-31".into(),
            modality: "ct".into(),
            hospital: "10670".into(),
            sort: StudySort {
                key: StudySortKey::Name,
                descending: false,
            },
            page: 2,
            page_size: 50,
            ..Default::default()
        };
        assert_eq!(
            s.api_query(),
            "id=HN0001&accession=A12&modality=CT&hospital=10670&from=20240101&to=20241231\
             &sort=name&offset=100&limit=50"
        );
        let iid = StudySearch {
            exact_patient: Some("HN 7".into()),
            date_to: "2024-02-29".into(),
            ..Default::default()
        };
        assert_eq!(
            iid.api_query(),
            "patient=HN%207&to=20240229&sort=-date&offset=0&limit=25"
        );
    }

    #[test]
    fn the_saved_search_comes_back_the_same() {
        let s = StudySearch {
            patient_name: "สมชาย ใจ".into(),
            patient_id: "HN&1=2".into(),
            date_from: "2024-01-01".into(),
            modality: "MR".into(),
            sort: StudySort {
                key: StudySortKey::Images,
                descending: false,
            },
            page: 3,
            page_size: 100,
            ..Default::default()
        };
        assert_eq!(StudySearch::from_saved(&s.to_saved()), s);
        assert_eq!(
            StudySearch::from_saved("size=7&sort=zz&page=x"),
            StudySearch::default()
        );
    }

    #[test]
    fn quick_ranges_cross_month_and_year_ends() {
        let d = |year, month, day| Date { year, month, day };
        assert_eq!(
            QuickRange::Today.range(d(2024, 3, 1)),
            ("2024-03-01".into(), "2024-03-01".into())
        );
        assert_eq!(
            QuickRange::Yesterday.range(d(2024, 3, 1)),
            ("2024-02-29".into(), "2024-02-29".into())
        );
        assert_eq!(
            QuickRange::Last7Days.range(d(2025, 1, 3)),
            ("2024-12-28".into(), "2025-01-03".into())
        );
        assert_eq!(
            QuickRange::Last30Days.range(d(2023, 3, 15)),
            ("2023-02-14".into(), "2023-03-15".into())
        );
    }

    #[test]
    fn header_clicks_flip_the_direction() {
        let mut s = StudySearch {
            page: 4,
            ..Default::default()
        };
        s.sort_by(StudySortKey::Name);
        assert_eq!(s.sort.param(), "name");
        assert_eq!(s.page, 0);
        s.sort_by(StudySortKey::Name);
        assert_eq!(s.sort.param(), "-name");
        s.sort_by(StudySortKey::Images);
        assert_eq!(s.sort.param(), "-images");
    }

    #[test]
    fn paging_numbers() {
        let s = StudySearch {
            page: 1,
            ..Default::default()
        };
        assert_eq!(s.shown_range(25, 60), (26, 50, 60));
        assert!(s.has_next(60));
        assert!(!s.has_next(50));
        assert_eq!(s.shown_range(0, 0), (0, 0, 0));
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
