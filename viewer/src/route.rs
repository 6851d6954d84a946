//! Which page a URL shows. Deep links other systems use open straight into the viewer:
//! `/viewer?StudyInstanceUIDs=UID[,UID]` (the OHIF convention) and IHE Invoke Image
//! Display `/iid?requestType=STUDY&studyUID=…` or `requestType=PATIENT&patientID=…`
//! (every study of that patient, newest first; `mostRecentResults=N` only the N newest).
//! Several studies open together, their series grouped by study ([`crate::studies`]).
//! The URL stays while the login page shows, so after login the deep link opens.

use crate::qido::{percent_decode, percent_encode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The study list, optionally only the studies of one patient (exact patient ID).
    Studies { patient_id: Option<String> },
    /// A patient's studies (exact patient ID) open in the viewer, newest first; only
    /// the `most_recent` newest when given (IID `mostRecentResults`).
    Patient {
        patient_id: String,
        most_recent: Option<u32>,
    },
    /// One or more studies open in the viewer (the first one's series hangs first).
    Viewer { study_uids: Vec<String> },
    /// A share link's landing page (`/s/{token}`): no login; asks the PIN or birth
    /// date when the link needs one, then opens the viewer on the link's studies.
    Share { token: String },
    /// The hospital's incoming and outgoing referrals.
    Referrals,
    /// A radiologist's reading worklist.
    Worklist,
    /// The admin portal (administrators).
    Admin,
}

impl Route {
    /// From `location.pathname` and `location.search` (with or without the `?`).
    pub fn parse(path: &str, search: &str) -> Route {
        let params = query_params(search);
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let uids = |v: Option<String>| -> Vec<String> {
            v.map(|v| {
                v.split([',', '\\'])
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        if let Some(token) = path.strip_prefix("/s/") {
            let token = percent_decode(token.trim_end_matches('/'));
            if !token.is_empty() && !token.contains('/') {
                return Route::Share { token };
            }
        }
        match path.trim_end_matches('/') {
            "/referrals" => Route::Referrals,
            "/worklist" => Route::Worklist,
            "/admin" => Route::Admin,
            "/viewer" => {
                let study_uids = uids(get("StudyInstanceUIDs"));
                if study_uids.is_empty() {
                    Route::Studies { patient_id: None }
                } else {
                    Route::Viewer { study_uids }
                }
            }
            "/iid" => match get("requestType")
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("STUDY") => {
                    let study_uids = uids(get("studyUID"));
                    if study_uids.is_empty() {
                        Route::Studies { patient_id: None }
                    } else {
                        Route::Viewer { study_uids }
                    }
                }
                Some("PATIENT") => {
                    // IID sends a CX (`HN^^^&issuer&ISO`); the ID is its first component.
                    let patient_id = get("patientID")
                        .map(|p| p.split("^^^").next().unwrap_or("").trim().to_owned())
                        .filter(|p| !p.is_empty());
                    let most_recent = get("mostRecentResults")
                        .and_then(|n| n.trim().parse::<u32>().ok())
                        .filter(|&n| n > 0);
                    match patient_id {
                        Some(patient_id) => Route::Patient {
                            patient_id,
                            most_recent,
                        },
                        None => Route::Studies { patient_id: None },
                    }
                }
                _ => Route::Studies { patient_id: None },
            },
            // The study list of one patient.
            "" => Route::Studies {
                patient_id: get("patientID").filter(|p| !p.trim().is_empty()),
            },
            _ => Route::Studies { patient_id: None },
        }
    }

    /// The canonical URL (path and query) of this route.
    pub fn url(&self) -> String {
        match self {
            Route::Studies { patient_id: None } => "/".to_owned(),
            Route::Studies {
                patient_id: Some(id),
            } => format!("/?patientID={}", percent_encode(id)),
            Route::Patient {
                patient_id,
                most_recent,
            } => {
                let mut url = format!(
                    "/iid?requestType=PATIENT&patientID={}",
                    percent_encode(patient_id)
                );
                if let Some(n) = most_recent {
                    url.push_str(&format!("&mostRecentResults={n}"));
                }
                url
            }
            Route::Viewer { study_uids } => {
                format!("/viewer?StudyInstanceUIDs={}", study_uids.join(","))
            }
            Route::Share { token } => format!("/s/{}", percent_encode(token)),
            Route::Referrals => "/referrals".to_owned(),
            Route::Worklist => "/worklist".to_owned(),
            Route::Admin => "/admin".to_owned(),
        }
    }
}

/// The `maxTexture=N` test aid of a page's query string (`?gpu=webgl2&maxTexture=1024`):
/// the 2D texture side the viewer's renderer is told to tile frames above.
pub fn forced_texture_limit(search: &str) -> Option<u32> {
    query_params(search)
        .into_iter()
        .find(|(k, _)| k == "maxTexture")
        .and_then(|(_, v)| v.parse().ok())
}

fn query_params(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_texture_test_aid_is_read_from_the_query() {
        assert_eq!(forced_texture_limit("?maxTexture=1024"), Some(1024));
        assert_eq!(
            forced_texture_limit("?StudyInstanceUIDs=1.2&maxTexture=64&gpu=webgl2"),
            Some(64)
        );
        assert_eq!(forced_texture_limit("?StudyInstanceUIDs=1.2"), None);
        assert_eq!(forced_texture_limit("?maxTexture=big"), None);
    }

    #[test]
    fn ohif_style_deep_link_with_several_studies() {
        let r = Route::parse("/viewer", "?StudyInstanceUIDs=1.2.3,1.2.4");
        assert_eq!(
            r,
            Route::Viewer {
                study_uids: vec!["1.2.3".into(), "1.2.4".into()]
            }
        );
        assert_eq!(Route::parse("/viewer", &r.url()[7..]), r);
        assert_eq!(
            Route::parse("/viewer/", "studyinstanceuids=1.2.3%2C1.2.5"),
            Route::Viewer {
                study_uids: vec!["1.2.3".into(), "1.2.5".into()]
            }
        );
    }

    #[test]
    fn ihe_iid_study_and_patient_requests() {
        assert_eq!(
            Route::parse("/iid", "requestType=STUDY&studyUID=1.2.3"),
            Route::Viewer {
                study_uids: vec!["1.2.3".into()]
            }
        );
        assert_eq!(
            Route::parse("/iid", "?requestType=PATIENT&patientID=HN%200001"),
            Route::Patient {
                patient_id: "HN 0001".into(),
                most_recent: None,
            }
        );
        assert_eq!(
            Route::parse(
                "/iid",
                "requestType=PATIENT&patientID=HN7%5E%5E%5E%261.2.3%26ISO&mostRecentResults=3"
            ),
            Route::Patient {
                patient_id: "HN7".into(),
                most_recent: Some(3),
            }
        );
        // A count that is not a positive number limits nothing.
        assert_eq!(
            Route::parse(
                "/iid",
                "requestType=PATIENT&patientID=HN7&mostRecentResults=0"
            ),
            Route::Patient {
                patient_id: "HN7".into(),
                most_recent: None,
            }
        );
        for r in [
            Route::Patient {
                patient_id: "HN 7".into(),
                most_recent: Some(1),
            },
            Route::Patient {
                patient_id: "ส 1".into(),
                most_recent: None,
            },
            Route::Studies {
                patient_id: Some("ส 1".into()),
            },
        ] {
            let url = r.url();
            let (path, query) = url.split_once('?').unwrap_or((&url, ""));
            assert_eq!(Route::parse(path, query), r);
        }
        assert_eq!(
            Route::parse("/iid", ""),
            Route::Studies { patient_id: None }
        );
        assert_eq!(
            Route::parse("/iid", "requestType=PATIENT"),
            Route::Studies { patient_id: None }
        );
    }

    #[test]
    fn anything_else_is_the_study_list() {
        for (p, q) in [("/", ""), ("/viewer", ""), ("/nope", "x=1"), ("", "")] {
            assert_eq!(
                Route::parse(p, q),
                Route::Studies { patient_id: None },
                "{p}?{q}"
            );
        }
    }

    #[test]
    fn share_links_and_referrals() {
        let r = Route::parse("/s/rgsh_abc-DEF_123", "");
        assert_eq!(
            r,
            Route::Share {
                token: "rgsh_abc-DEF_123".into()
            }
        );
        assert_eq!(Route::parse(&r.url(), ""), r);
        assert_eq!(Route::parse("/s/", ""), Route::Studies { patient_id: None });
        assert_eq!(
            Route::parse("/s/a/b", ""),
            Route::Studies { patient_id: None }
        );
        assert_eq!(Route::parse("/referrals", ""), Route::Referrals);
        assert_eq!(Route::Referrals.url(), "/referrals");
        assert_eq!(Route::parse("/admin", ""), Route::Admin);
        assert_eq!(Route::Admin.url(), "/admin");
    }
}
