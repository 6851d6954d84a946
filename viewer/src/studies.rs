//! The studies open together on the reading page (a deep link may name several, an
//! IHE IID `requestType=PATIENT` link opens every study of the patient): their series
//! grouped by study under a header, newest study first, and which series hangs first
//! (the first requested study's most relevant one, by [`Series::pick_first`]).
//!
//! Viewports refer to a series by its index in [`OpenStudies::series`], the flat list
//! in panel order; [`OpenStudies::rows`] is what the series panel draws.

use crate::dicom::{Series, Study};

/// One study and its series, in series-number order.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyGroup {
    pub study: Study,
    /// Index of the group's first series in [`OpenStudies::series`].
    pub first_series: usize,
    pub series_count: usize,
}

/// A line of the series panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelRow {
    /// The header of group `k` (date, description, modalities).
    Study(usize),
    /// Series `i` of [`OpenStudies::series`].
    Series(usize),
}

/// What the reading page opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenStudies {
    /// Newest study first (by Study Date and Time; studies without a date last).
    pub groups: Vec<StudyGroup>,
    /// Every series of every group, group after group; each carries its study's UID.
    pub series: Vec<Series>,
    /// Requested studies that do not exist or that this user may not see, as asked.
    pub missing: Vec<String>,
    /// The series to hang in the first viewport.
    pub first: Option<usize>,
}

impl OpenStudies {
    /// Arranges what the server answered for each requested study UID (`asked`, in
    /// the order of the link): `found` holds the studies it knows and the user may see,
    /// with their series, in any order.
    pub fn arrange(asked: &[String], found: Vec<(Study, Vec<Series>)>) -> OpenStudies {
        let mut found: Vec<(Study, Vec<Series>)> = found
            .into_iter()
            .filter(|(s, _)| asked.contains(&s.study_uid))
            .collect();
        // The same study twice in the link is one group.
        let mut seen = Vec::new();
        found.retain(|(s, _)| {
            let new = !seen.contains(&s.study_uid);
            seen.push(s.study_uid.clone());
            new
        });
        let missing: Vec<String> = asked
            .iter()
            .filter(|u| !found.iter().any(|(s, _)| &s.study_uid == *u))
            .fold(Vec::new(), |mut out, u| {
                if !out.contains(u) {
                    out.push(u.clone());
                }
                out
            });
        let requested_first = asked
            .iter()
            .find(|u| found.iter().any(|(s, _)| &s.study_uid == *u))
            .cloned();
        // Newest first; an undated study goes last; equal dates keep the link's order.
        found.sort_by(|(a, _), (b, _)| {
            let key = |s: &Study| {
                (
                    !s.study_date.is_empty(),
                    s.study_date.clone(),
                    s.study_time.clone(),
                )
            };
            key(b).cmp(&key(a))
        });
        let mut out = OpenStudies {
            missing,
            ..OpenStudies::default()
        };
        for (study, mut series) in found {
            series.sort_by_key(|s| s.number.unwrap_or(i64::MAX));
            for s in &mut series {
                s.study_uid.clone_from(&study.study_uid);
            }
            let first_series = out.series.len();
            if Some(&study.study_uid) == requested_first.as_ref() {
                out.first = Series::pick_first(&series).map(|i| first_series + i);
            }
            out.groups.push(StudyGroup {
                study,
                first_series,
                series_count: series.len(),
            });
            out.series.extend(series);
        }
        out
    }

    /// The series panel, top to bottom: each study's header, then its series.
    pub fn rows(&self) -> Vec<PanelRow> {
        self.groups
            .iter()
            .enumerate()
            .flat_map(|(k, g)| {
                std::iter::once(PanelRow::Study(k))
                    .chain((g.first_series..g.first_series + g.series_count).map(PanelRow::Series))
            })
            .collect()
    }

    /// The series of group `k`.
    pub fn group_series(&self, k: usize) -> &[Series] {
        self.groups
            .get(k)
            .and_then(|g| {
                self.series
                    .get(g.first_series..g.first_series + g.series_count)
            })
            .unwrap_or(&[])
    }

    /// The study that series `index` belongs to.
    pub fn study_of(&self, index: usize) -> Option<&Study> {
        self.groups
            .iter()
            .find(|g| (g.first_series..g.first_series + g.series_count).contains(&index))
            .map(|g| &g.study)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::PersonName;

    fn study(uid: &str, date: &str, time: &str) -> Study {
        Study {
            study_uid: uid.into(),
            patient_name: PersonName::default(),
            patient_id: "HN1".into(),
            birth_date: String::new(),
            sex: String::new(),
            study_date: date.into(),
            study_time: time.into(),
            accession: String::new(),
            description: format!("study {uid}"),
            institution: String::new(),
            modalities: vec![],
            series_count: None,
            instance_count: None,
        }
    }

    fn series(uid: &str, modality: &str, number: i64, images: u32) -> Series {
        Series {
            study_uid: String::new(),
            series_uid: uid.into(),
            modality: modality.into(),
            number: Some(number),
            description: String::new(),
            instance_count: Some(images),
        }
    }

    fn uids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn groups_newest_first_and_hangs_the_first_requested_study() {
        // The link names the older study first (a prior opened from its report).
        let asked = uids(&["old", "new"]);
        let open = OpenStudies::arrange(
            &asked,
            vec![
                (
                    study("new", "20250102", "090000"),
                    vec![series("n-ct", "CT", 2, 300), series("n-sr", "SR", 1, 1)],
                ),
                (
                    study("old", "20240101", "120000"),
                    vec![series("o-sc", "OT", 1, 1), series("o-ct", "CT", 3, 120)],
                ),
            ],
        );
        let order: Vec<&str> = open.series.iter().map(|s| s.series_uid.as_str()).collect();
        // Newest study on top; each study's series by series number.
        assert_eq!(order, ["n-sr", "n-ct", "o-sc", "o-ct"]);
        assert_eq!(open.groups[0].study.study_uid, "new");
        assert_eq!(open.groups[1].study.study_uid, "old");
        // The first requested study ("old") hangs, with its CT: flat index 3.
        assert_eq!(open.first, Some(3));
        assert_eq!(
            open.rows(),
            [
                PanelRow::Study(0),
                PanelRow::Series(0),
                PanelRow::Series(1),
                PanelRow::Study(1),
                PanelRow::Series(2),
                PanelRow::Series(3),
            ]
        );
        // Every series knows its study (frames are fetched under it).
        assert!(open.series[..2].iter().all(|s| s.study_uid == "new"));
        assert!(open.series[2..].iter().all(|s| s.study_uid == "old"));
        assert_eq!(open.study_of(3).map(|s| s.study_uid.as_str()), Some("old"));
        assert_eq!(open.study_of(0).map(|s| s.study_uid.as_str()), Some("new"));
        assert_eq!(open.study_of(4), None);
        assert_eq!(open.group_series(1), &open.series[2..]);
        assert!(open.group_series(2).is_empty());
        assert!(open.missing.is_empty());
    }

    #[test]
    fn missing_studies_are_named_and_the_rest_still_open() {
        let asked = uids(&["gone", "other-hospital", "mine", "gone"]);
        let open = OpenStudies::arrange(
            &asked,
            vec![(
                study("mine", "20250101", ""),
                vec![series("m1", "MR", 1, 20)],
            )],
        );
        assert_eq!(open.missing, uids(&["gone", "other-hospital"]));
        assert_eq!(open.groups.len(), 1);
        // "mine" is the first study that could be opened: it hangs.
        assert_eq!(open.first, Some(0));

        let none = OpenStudies::arrange(&asked, vec![]);
        assert_eq!(none.first, None);
        assert!(none.rows().is_empty());
        assert_eq!(none.missing, uids(&["gone", "other-hospital", "mine"]));
    }

    #[test]
    fn same_day_by_time_undated_last_duplicates_once() {
        let asked = uids(&["a", "b", "c"]);
        let open = OpenStudies::arrange(
            &asked,
            vec![
                (study("c", "", ""), vec![series("c1", "CR", 1, 1)]),
                (study("a", "20250101", "080000"), vec![]),
                (
                    study("b", "20250101", "173000"),
                    vec![series("b1", "CT", 1, 5)],
                ),
                // A server answering one study twice, and a study nobody asked for.
                (
                    study("b", "20250101", "173000"),
                    vec![series("b1", "CT", 1, 5)],
                ),
                (study("z", "20300101", ""), vec![series("z1", "CT", 1, 5)]),
            ],
        );
        let groups: Vec<&str> = open
            .groups
            .iter()
            .map(|g| g.study.study_uid.as_str())
            .collect();
        assert_eq!(groups, ["b", "a", "c"]);
        // "a" (asked first) has no series: nothing hangs rather than another study's.
        assert_eq!(open.first, None);
        assert_eq!(open.rows().len(), 5);
        assert_eq!(open.study_of(1).map(|s| s.study_uid.as_str()), Some("c"));
    }
}
