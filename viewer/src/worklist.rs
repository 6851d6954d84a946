//! The reading worklist's filters (pure: tested natively). The server sends the
//! caller's whole worklist already sorted by priority and due time
//! (`GET /api/worklist`); the page narrows it without asking again.

use rangsi_wire::reports::WorklistItem;

/// Which items: reading requests, the hospital's own unreported studies, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    All,
    Requests,
    Local,
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::All => "all",
            Source::Requests => "requests",
            Source::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Source {
        match s {
            "requests" => Source::Requests,
            "local" => Source::Local,
            _ => Source::All,
        }
    }
}

/// What the radiologist narrowed the list to; the default shows everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Words that must all appear in the patient's name, ID, the study description or
    /// the sending hospital (any case; Thai as typed).
    pub text: String,
    /// `stat`, `urgent`, `routine`; empty: any.
    pub priority: String,
    /// A modality (CT, MR, …) the study must have; empty: any.
    pub modality: String,
    pub source: Source,
    /// Only what is overdue.
    pub overdue: bool,
    /// Only requests the caller claimed.
    pub mine: bool,
}

impl Filter {
    /// Whether `item` stays in the list for user `me`.
    pub fn keeps(&self, item: &WorklistItem, me: &str) -> bool {
        let request = item.consult.is_some();
        match self.source {
            Source::Requests if !request => return false,
            Source::Local if request => return false,
            _ => {}
        }
        if !self.priority.is_empty() && item.priority != self.priority {
            return false;
        }
        if !self.modality.is_empty()
            && !item
                .modalities
                .split(|c: char| c == '\\' || c == ',' || c.is_whitespace())
                .any(|m| m.eq_ignore_ascii_case(&self.modality))
        {
            return false;
        }
        if self.overdue && !item.overdue {
            return false;
        }
        if self.mine && item.consult.as_ref().and_then(|c| c.claimed_by.as_deref()) != Some(me) {
            return false;
        }
        let haystack = format!(
            "{} {} {} {}",
            item.patient_name.replace('^', " "),
            item.patient_id,
            item.description,
            item.hospital
        )
        .to_lowercase();
        self.text
            .split_whitespace()
            .all(|w| haystack.contains(&w.to_lowercase()))
    }

    /// The modalities present in `items`, sorted, for the modality choice.
    pub fn modalities(items: &[WorklistItem]) -> Vec<String> {
        let mut all: Vec<String> = items
            .iter()
            .flat_map(|i| {
                i.modalities
                    .split(|c: char| c == '\\' || c == ',' || c.is_whitespace())
                    .filter(|m| !m.is_empty())
                    .map(str::to_uppercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_wire::reports::Consult;

    fn item(
        name: &str,
        priority: &str,
        modalities: &str,
        consult: Option<&str>,
        overdue: bool,
    ) -> WorklistItem {
        WorklistItem {
            consult: consult.map(|claimed| {
                let mut c: Consult = serde_json::from_value(serde_json::json!({
                    "id": 1, "study_uid": "1.2", "patient_id": "HN1", "patient_name": "",
                    "study_description": "", "modalities": modalities,
                    "from_hospital": "10670", "to_hospital": "10671", "requested_by": "alice",
                    "priority": priority, "due_at": "2026-11-27T00:00:00Z", "overdue": overdue,
                    "history": "", "question": "", "patient_data": {}, "status": "requested",
                    "created_at": ""
                }))
                .unwrap_or_else(|e| panic!("consult: {e}"));
                c.claimed_by = (!claimed.is_empty()).then(|| claimed.to_string());
                c
            }),
            study_uid: "1.2".into(),
            patient_id: "HN00012".into(),
            patient_name: name.into(),
            study_date: "20261127".into(),
            description: "CT BRAIN".into(),
            modalities: modalities.into(),
            hospital: "รพ.สกลนคร".into(),
            priority: priority.into(),
            due_at: None,
            overdue,
            report_state: None,
        }
    }

    #[test]
    fn each_filter_narrows_and_the_default_keeps_all() {
        let items = [
            item("สมชาย^ใจดี", "stat", "CT", Some("rad1"), true),
            item("Anong^Sri", "routine", "MR\\SR", None, false),
            item("มาลี^สุข", "urgent", "CT", Some(""), false),
        ];
        let kept = |f: &Filter| items.iter().filter(|i| f.keeps(i, "rad1")).count();
        assert_eq!(kept(&Filter::default()), 3);
        let f = |g: fn(&mut Filter)| {
            let mut f = Filter::default();
            g(&mut f);
            f
        };
        assert_eq!(kept(&f(|f| f.priority = "stat".into())), 1);
        assert_eq!(kept(&f(|f| f.modality = "mr".into())), 1);
        assert_eq!(kept(&f(|f| f.source = Source::Requests)), 2);
        assert_eq!(kept(&f(|f| f.source = Source::Local)), 1);
        assert_eq!(kept(&f(|f| f.overdue = true)), 1);
        assert_eq!(kept(&f(|f| f.mine = true)), 1);
        // Thai words, any order; Latin in any case; the ID and the hospital count too.
        assert_eq!(kept(&f(|f| f.text = "ใจดี สมชาย".into())), 1);
        assert_eq!(kept(&f(|f| f.text = "anong".into())), 1);
        assert_eq!(kept(&f(|f| f.text = "hn00012 สกลนคร".into())), 3);
        assert_eq!(kept(&f(|f| f.text = "nobody".into())), 0);
        assert_eq!(Filter::modalities(&items), ["CT", "MR", "SR"]);
        assert_eq!(Source::parse(Source::Local.code()), Source::Local);
    }
}
