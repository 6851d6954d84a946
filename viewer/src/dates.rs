//! DICOM dates (DA, `YYYYMMDD`) for display, in the Buddhist Era (Thai custom,
//! CE + 543) or the Common Era, with Thai or English month names.

use crate::i18n::Lang;

/// Which calendar era dates are shown in (a user preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Buddhist,
    Common,
}

impl Era {
    pub fn code(self) -> &'static str {
        match self {
            Era::Buddhist => "be",
            Era::Common => "ce",
        }
    }

    pub fn from_code(code: &str) -> Option<Era> {
        match code {
            "be" => Some(Era::Buddhist),
            "ce" => Some(Era::Common),
            _ => None,
        }
    }
}

const MONTHS_TH: [&str; 12] = [
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A parsed DICOM date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parses DA (`YYYYMMDD`, also the old `YYYY.MM.DD`); `None` for anything else.
    pub fn parse(da: &str) -> Option<Date> {
        let digits: String = da.trim().chars().filter(|c| *c != '.').collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year = digits[0..4].parse().ok()?;
        let month = digits[4..6].parse().ok()?;
        let day = digits[6..8].parse().ok()?;
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Date { year, month, day })
    }

    /// `YYYYMMDD` from an HTML date input value (`YYYY-MM-DD`).
    pub fn da_from_iso(iso: &str) -> Option<String> {
        let d: String = iso.trim().chars().filter(|c| *c != '-').collect();
        Date::parse(&d).map(|_| d)
    }
}

/// A DICOM date for display; unparseable values are shown as they are.
pub fn format_da(da: &str, lang: Lang, era: Era) -> String {
    let Some(d) = Date::parse(da) else {
        return da.trim().to_owned();
    };
    let m = usize::from(d.month - 1);
    let year = match era {
        Era::Buddhist => u32::from(d.year) + 543,
        Era::Common => u32::from(d.year),
    };
    match (lang, era) {
        (Lang::Th, Era::Buddhist) => format!("{} {} {year}", d.day, MONTHS_TH[m]),
        (Lang::Th, Era::Common) => format!("{} {} ค.ศ. {year}", d.day, MONTHS_TH[m]),
        (Lang::En, Era::Buddhist) => format!("{} {} {year} BE", d.day, MONTHS_EN[m]),
        (Lang::En, Era::Common) => format!("{} {} {year}", d.day, MONTHS_EN[m]),
    }
}

/// A DICOM date and a time of day (24 h) for display.
pub fn format_da_time(da: &str, hour: u32, minute: u32, lang: Lang, era: Era) -> String {
    format!("{} {hour:02}:{minute:02}", format_da(da, lang, era))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_and_time() {
        assert_eq!(
            format_da_time("20261127", 14, 5, Lang::Th, Era::Buddhist),
            "27 พ.ย. 2569 14:05"
        );
        assert_eq!(
            format_da_time("20261127", 9, 0, Lang::En, Era::Common),
            "27 Nov 2026 09:00"
        );
    }

    #[test]
    fn buddhist_era_adds_543_years() {
        assert_eq!(
            format_da("20240315", Lang::Th, Era::Buddhist),
            "15 มี.ค. 2567"
        );
        assert_eq!(
            format_da("20240315", Lang::En, Era::Buddhist),
            "15 Mar 2567 BE"
        );
        assert_eq!(format_da("20241231", Lang::En, Era::Common), "31 Dec 2024");
        assert_eq!(
            format_da("19700101", Lang::Th, Era::Common),
            "1 ม.ค. ค.ศ. 1970"
        );
    }

    #[test]
    fn odd_values_are_shown_unchanged_or_parsed_leniently() {
        assert_eq!(format_da("", Lang::En, Era::Common), "");
        assert_eq!(format_da("2024", Lang::En, Era::Common), "2024");
        assert_eq!(format_da("20241301", Lang::En, Era::Common), "20241301");
        assert_eq!(
            format_da("2024.03.15", Lang::En, Era::Common),
            "15 Mar 2024"
        );
    }

    #[test]
    fn html_date_inputs_become_dicom_dates() {
        assert_eq!(Date::da_from_iso("2024-03-05").as_deref(), Some("20240305"));
        assert_eq!(Date::da_from_iso(""), None);
        assert_eq!(Date::da_from_iso("2024-3-5"), None);
    }
}
