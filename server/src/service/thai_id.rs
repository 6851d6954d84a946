//! The Thai national ID (เลขประจำตัวประชาชน): 13 digits, the last a check digit over the
//! first twelve (weights 13 down to 2, `(11 − sum mod 11) mod 10`). It is the region's
//! patient key across hospitals: found in Patient ID when its issuer names it, or in
//! Other Patient IDs.

/// The ID with separators (spaces, dashes) removed, when it is 13 digits with a valid
/// check digit.
pub fn normalize(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    is_valid(&digits).then_some(digits)
}

/// 13 ASCII digits whose last is the check digit of the first twelve.
pub fn is_valid(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..12]
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * (13 - i as u32))
        .sum();
    (11 - sum % 11) % 10 == u32::from(b[12] - b'0')
}

/// Whether an Issuer of Patient ID names the Thai national ID.
pub fn issuer_is_national_id(issuer: &str) -> bool {
    let u = issuer.trim().to_ascii_uppercase();
    u == "NID"
        || u == "TH-NID"
        || u.contains("NATIONAL ID")
        || u.contains("NATIONALID")
        || issuer.contains("ประจำตัวประชาชน")
}

/// The national ID of a patient record: its Patient ID when the issuer says it is one
/// (or it is a valid 13-digit ID with no issuer), else the first valid Other Patient ID.
pub fn from_patient<'a>(
    patient_id: &str,
    issuer: &str,
    other_ids: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if (issuer_is_national_id(issuer) || issuer.is_empty())
        && let Some(id) = normalize(patient_id)
    {
        return Some(id);
    }
    other_ids.into_iter().find_map(normalize)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Check digits computed independently, by hand and with
    // python3 -c "d='110170020333'; s=sum(int(c)*(13-i) for i,c in enumerate(d)); print((11-s%11)%10)"
    // 1-1017-00203-33-?: 1·13+1·12+0·11+1·10+7·9+0·8+0·7+2·6+0·5+3·4+3·3+3·2 = 137,
    // 137 mod 11 = 5, (11 − 5) mod 10 = 6.
    const VALID: &[&str] = &[
        "1101700203336",
        "3100600123450",
        "1234567890121",
        "1000000000009",
    ];

    #[test]
    fn known_valid_ids_pass() {
        for id in VALID {
            assert!(is_valid(id), "{id} should be valid");
        }
    }

    #[test]
    fn every_other_check_digit_fails() {
        for id in VALID {
            let good = id.as_bytes()[12];
            for d in b'0'..=b'9' {
                if d != good {
                    let mut bad = id.as_bytes().to_vec();
                    bad[12] = d;
                    let bad = String::from_utf8(bad).unwrap_or_default();
                    assert!(!is_valid(&bad), "{bad} should be invalid");
                }
            }
        }
    }

    #[test]
    fn wrong_shapes_fail() {
        for s in [
            "",
            "110170020333",
            "11017002033361",
            "1101700203a36",
            "๑๑๐๑๗๐๐๒๐๓๓๓๖",
        ] {
            assert!(!is_valid(s), "{s:?}");
        }
    }

    #[test]
    fn separators_are_removed() {
        assert_eq!(
            normalize("1-1017-00203-33-6").as_deref(),
            Some("1101700203336")
        );
        assert_eq!(
            normalize("1 1017 00203 33 6").as_deref(),
            Some("1101700203336")
        );
        assert_eq!(normalize("1-1017-00203-33-7"), None);
    }

    #[test]
    fn found_in_patient_id_or_other_ids() {
        assert_eq!(
            from_patient("1101700203336", "TH-NID", []).as_deref(),
            Some("1101700203336")
        );
        // A hospital number that happens to have 13 digits is not taken when its issuer is the hospital.
        assert_eq!(from_patient("1101700203336", "10670", []), None);
        assert_eq!(
            from_patient("HN0001", "10670", ["X1", "3100600123450"]).as_deref(),
            Some("3100600123450")
        );
    }
}
