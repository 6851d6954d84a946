//! Radiology reports (issue 7): write, save, sign, amend by addendum, acknowledge a
//! critical result; templates; the report as FHIR R4.
//!
//! Rules, each enforced here once for every protocol:
//! - A report is as visible as its study ([`Principal::scope`], grants included); a
//!   study the caller cannot see answers "not found", as `/metadata` does. A draft
//!   is seen by radiologists (and administrators) only.
//! - Only radiologists write reports; only the author edits and signs, and only while
//!   unsigned. Signing asks for the password again. A signed report never changes:
//!   amendments are signed addenda, and every step is kept in the history.
//! - Signing (and each addendum) stores a Basic Text SR into the study under the
//!   study's own hospital (`dicom::sr`), so every DICOM client of the archive sees it;
//!   the row is marked signed only after the SR is durably stored.
//! - A critical result is acknowledged once, by a user of the study's hospital other
//!   than its author.
//! - Preliminary, final and amended are notified to the study's hospital (in the app
//!   and by its webhook: `service::notify`).
//! - Every call is audited like other access to patient data.

use rangsi_wire::reports::{
    NewAddendum, NewReport, Report, ReportContent, ReportList, ReportState, ReportTemplate,
    ReportTemplateList, SaveReport, Turnaround, TurnaroundRow,
};

use super::auth::Role;
use super::ingest::{Expect, StagedWriter};
use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::sr::{SrReport, basic_text_sr, new_uid};
use crate::index::reports::StoredReport;
use crate::index::rfc3339;

/// The longest text of one report field or addendum (a long CT report is ~10 KB).
pub const MAX_TEXT: usize = 64 * 1024;
/// Longest template name.
const MAX_NAME: usize = 128;

fn check_text(name: &str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT {
        return Err(ServiceError::BadRequest(format!(
            "{name} is longer than {MAX_TEXT} bytes"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ServiceError::BadRequest(format!(
            "{name} contains control characters"
        )));
    }
    Ok(())
}

fn check_content(c: &ReportContent) -> Result<()> {
    check_text("findings", &c.findings)?;
    check_text("impression", &c.impression)?;
    check_text("recommendation", &c.recommendation)
}

fn radiologist(who: &Principal) -> Result<i64> {
    match (who.role, who.user_id) {
        (Role::Radiologist, Some(id)) => Ok(id),
        _ => Err(ServiceError::Forbidden(
            "only a radiologist's account writes and signs reports".into(),
        )),
    }
}

/// A draft is the radiologists' working copy: others see a report from preliminary on.
fn sees_state(who: &Principal, state: ReportState) -> bool {
    state != ReportState::Draft || matches!(who.role, Role::Radiologist | Role::Admin)
}

fn user_of(who: &Principal) -> Result<i64> {
    who.user_id
        .ok_or_else(|| ServiceError::Forbidden("reports need a logged-in user".into()))
}

impl Archive {
    async fn load_report(&self, who: &Principal, id: i64) -> Result<StoredReport> {
        match self.index().report(&who.scope(), id).await? {
            Some(r) if sees_state(who, r.state) => Ok(r),
            _ => {
                self.audit(who, "report", "", "", &format!("report {id}"), "not-found")
                    .await?;
                Err(ServiceError::NotFound("no such report".into()))
            }
        }
    }

    /// Notifies the study's hospital (`service::notify`). The report's change is
    /// already durable, so a failure here is logged, not returned.
    async fn tell(&self, r: &StoredReport, state: ReportState) {
        if let Err(e) = self.notify_report(r, state.name()).await {
            tracing::warn!(report = r.id, error = %e, "notifying the report's hospital");
        }
    }

    async fn full_report(&self, r: StoredReport) -> Result<Report> {
        let addenda = self.index().report_addenda(r.id).await?;
        let history = self.index().report_history(r.id).await?;
        Ok(Report {
            id: r.id,
            study_uid: r.study.study_uid,
            state: r.state,
            content: r.content,
            author: r.author,
            created_at: r.created_at,
            updated_at: r.updated_at,
            signed_by: r.signed_by,
            signed_at: r.signed_at,
            critical_acknowledged_by: r.critical_ack_by,
            critical_acknowledged_at: r.critical_ack_at,
            sr_sop_uid: r.sr_sop_uid,
            addenda,
            history,
        })
    }

    /// The reports on a study; 404 when the study is not visible.
    pub async fn reports(&self, who: &Principal, study_uid: &str) -> Result<ReportList> {
        let scope = who.scope();
        let Some(study) = self.index().report_study(&scope, study_uid).await? else {
            self.audit(who, "reports", study_uid, "", "list", "not-found")
                .await?;
            return Err(ServiceError::NotFound("no such study".into()));
        };
        let mut reports = Vec::new();
        for r in self.index().reports_of_study(&scope, study_uid).await? {
            if sees_state(who, r.state) {
                reports.push(self.full_report(r).await?);
            }
        }
        self.audit(
            who,
            "reports",
            study_uid,
            &study.patient_id,
            &format!("list: {}", reports.len()),
            "ok",
        )
        .await?;
        Ok(ReportList { reports })
    }

    /// One report.
    pub async fn report(&self, who: &Principal, id: i64) -> Result<Report> {
        let r = self.load_report(who, id).await?;
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("read {id}"),
            "ok",
        )
        .await?;
        self.full_report(r).await
    }

    /// A new draft on a study, from a template and/or the given text.
    pub async fn create_report(&self, who: &Principal, req: NewReport) -> Result<Report> {
        let author = radiologist(who)?;
        let mut content = req.content;
        if let Some(t) = req.template_id {
            let t = self
                .index()
                .report_template(t)
                .await?
                .ok_or_else(|| ServiceError::BadRequest(format!("no report template {t}")))?;
            for (field, from) in [
                (&mut content.findings, t.findings),
                (&mut content.impression, t.impression),
                (&mut content.recommendation, t.recommendation),
            ] {
                if field.trim().is_empty() {
                    *field = from;
                }
            }
        }
        check_content(&content)?;
        let Some(study) = self
            .index()
            .report_study(&who.scope(), &req.study_uid)
            .await?
        else {
            self.audit(who, "report", &req.study_uid, "", "create", "not-found")
                .await?;
            return Err(ServiceError::NotFound("no such study".into()));
        };
        let Some(id) = self
            .index()
            .create_report(study.study_ref, author, &content)
            .await?
        else {
            let existing = self.index().report_of_study_row(study.study_ref).await?;
            return Err(ServiceError::Conflict(format!(
                "the study has a report already (id {})",
                existing.map_or_else(|| "?".into(), |i| i.to_string())
            )));
        };
        self.audit(
            who,
            "report",
            &study.study_uid,
            &study.patient_id,
            &format!("create {id}"),
            "ok",
        )
        .await?;
        self.full_report(self.load_report(who, id).await?).await
    }

    /// Saves the text of an unsigned report (its author only), optionally moving it
    /// between draft and preliminary.
    pub async fn save_report(&self, who: &Principal, id: i64, req: SaveReport) -> Result<Report> {
        let user = radiologist(who)?;
        check_content(&req.content)?;
        let r = self.load_report(who, id).await?;
        if r.author_id != user {
            return Err(ServiceError::Forbidden(format!(
                "only the author ({}) edits this report",
                r.author
            )));
        }
        let state = match req.state {
            None => r.state,
            Some(s @ (ReportState::Draft | ReportState::Preliminary)) => s,
            Some(s) => {
                return Err(ServiceError::BadRequest(format!(
                    "a report becomes {} by signing, not by saving",
                    s.name()
                )));
            }
        };
        if r.state.is_signed()
            || !self
                .index()
                .save_report(id, user, state, &req.content)
                .await?
        {
            return Err(ServiceError::Conflict(
                "the report is signed: add an addendum instead".into(),
            ));
        }
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("save {id} ({})", state.name()),
            "ok",
        )
        .await?;
        let saved = self.load_report(who, id).await?;
        if r.state == ReportState::Draft && state == ReportState::Preliminary {
            self.tell(&saved, state).await;
        }
        self.full_report(saved).await
    }

    /// The caller's password, checked again before a signature. A wrong one is a 403
    /// (the session stays valid) and is audited as a failed login.
    async fn confirm_password(&self, who: &Principal, password: &str) -> Result<()> {
        match self
            .auth()
            .login(&who.actor, password, who.protocol, &who.remote)
            .await
        {
            Ok(p) if p.user_id == who.user_id => Ok(()),
            Ok(_) | Err(ServiceError::Unauthenticated) => Err(ServiceError::Forbidden(
                "the password does not match: the report was not signed".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Stores a Part 10 file Rangsi made into study `study` (the SR of a report, an
    /// attachment) through the same ingest as any instance, for the study's own
    /// hospital whoever asked (a remote reader too).
    pub(crate) async fn store_made(
        &self,
        who: &Principal,
        study: &crate::index::reports::ReportStudy,
        sop_uid: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let mut staged = StagedWriter::create(self, bytes.len() as u64 + 1).await?;
        staged
            .write(bytes)
            .await
            .map_err(|e| ServiceError::Internal(format!("staging {sop_uid}: {e}")))?;
        let staged = staged
            .finish()
            .await
            .map_err(|e| ServiceError::Internal(format!("staging {sop_uid}: {e}")))?;
        let owner = Principal {
            hospital_id: Some(study.hospital_id),
            ..who.clone()
        };
        let expect = Expect {
            study_uid: Some(study.study_uid.clone()),
            sop_class_uid: None,
            sop_instance_uid: Some(sop_uid.to_owned()),
        };
        self.ingest(&owner, staged, &expect)
            .await
            .map_err(|e| ServiceError::Internal(format!("storing {sop_uid}: {e}")))?;
        Ok(())
    }

    /// Builds and stores the SR of `r` (plus `addenda`) into its study; its SOP
    /// Instance UID.
    async fn store_sr(
        &self,
        who: &Principal,
        r: &StoredReport,
        signer: &str,
        signed_at: time::OffsetDateTime,
        addenda: &[(String, String, String)],
    ) -> Result<String> {
        let evidence = self.index().study_evidence(r.study.study_ref).await?;
        // The study's SR instances are not evidence of the imaging procedure.
        let evidence: Vec<_> = evidence
            .into_iter()
            .filter(|e| e.modality != "SR")
            .collect();
        let predecessor_series;
        let predecessor = match &r.sr_sop_uid {
            Some(sop) => {
                predecessor_series = self
                    .index()
                    .series_of_instance(r.study.study_ref, sop)
                    .await?
                    .unwrap_or_default();
                Some((predecessor_series.as_str(), sop.as_str()))
            }
            None => None,
        };
        let series_uid = new_uid();
        let sop_uid = new_uid();
        let bytes = basic_text_sr(&SrReport {
            study: &r.study,
            evidence: &evidence,
            findings: &r.content.findings,
            impression: &r.content.impression,
            recommendation: &r.content.recommendation,
            critical: r.content.critical,
            author: &r.author,
            signer,
            signed_at,
            addenda,
            predecessor,
            series_uid: &series_uid,
            sop_uid: &sop_uid,
            instance_number: 1 + i32::try_from(addenda.len()).unwrap_or(0),
        })
        .map_err(ServiceError::Internal)?;
        self.store_made(who, &r.study, &sop_uid, &bytes).await?;
        Ok(sop_uid)
    }

    /// Signs an unsigned report (its author, password again): stores the SR, then
    /// marks the report final.
    pub async fn sign_report(&self, who: &Principal, id: i64, password: &str) -> Result<Report> {
        let user = radiologist(who)?;
        let r = self.load_report(who, id).await?;
        if r.author_id != user {
            return Err(ServiceError::Forbidden(format!(
                "only the author ({}) signs this report",
                r.author
            )));
        }
        if r.state.is_signed() {
            return Err(ServiceError::Conflict(
                "the report is signed already".into(),
            ));
        }
        if r.content.findings.trim().is_empty() && r.content.impression.trim().is_empty() {
            return Err(ServiceError::BadRequest(
                "an empty report cannot be signed: write findings or an impression".into(),
            ));
        }
        self.confirm_password(who, password).await?;
        let now = time::OffsetDateTime::now_utc();
        let at = rfc3339(now);
        let sr = self.store_sr(who, &r, &who.actor, now, &[]).await?;
        if !self
            .index()
            .sign_report(id, user, &at, &sr, &r.content)
            .await?
        {
            return Err(ServiceError::Conflict(
                "the report was signed meanwhile".into(),
            ));
        }
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("sign {id}: SR {sr}"),
            "ok",
        )
        .await?;
        // A signed report completes the study's open consultation requests.
        self.index().consults_reported(r.study.study_ref).await?;
        let signed = self.load_report(who, id).await?;
        self.tell(&signed, ReportState::Final).await;
        self.full_report(signed).await
    }

    /// A signed addendum to a signed report, by any radiologist who can see it.
    pub async fn add_addendum(&self, who: &Principal, id: i64, req: NewAddendum) -> Result<Report> {
        let user = radiologist(who)?;
        check_text("the addendum", &req.text)?;
        if req.text.trim().is_empty() {
            return Err(ServiceError::BadRequest("the addendum is empty".into()));
        }
        let r = self.load_report(who, id).await?;
        if !r.state.is_signed() {
            return Err(ServiceError::Conflict(
                "the report is not signed yet: edit it instead of adding an addendum".into(),
            ));
        }
        self.confirm_password(who, &req.password).await?;
        let now = time::OffsetDateTime::now_utc();
        let at = rfc3339(now);
        let mut addenda: Vec<(String, String, String)> = self
            .index()
            .report_addenda(id)
            .await?
            .into_iter()
            .map(|a| (a.author, a.signed_at, a.text))
            .collect();
        addenda.push((who.actor.clone(), at.clone(), req.text.clone()));
        let sr = self.store_sr(who, &r, &who.actor, now, &addenda).await?;
        if !self
            .index()
            .add_addendum(id, user, &at, &req.text, &sr, &r.content)
            .await?
        {
            return Err(ServiceError::Conflict("the report is not signed".into()));
        }
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("addendum {id}: SR {sr}"),
            "ok",
        )
        .await?;
        let amended = self.load_report(who, id).await?;
        self.tell(&amended, ReportState::Amended).await;
        self.full_report(amended).await
    }

    /// The requester acknowledges a signed report's critical result.
    pub async fn acknowledge_report(&self, who: &Principal, id: i64) -> Result<Report> {
        let user = user_of(who)?;
        let r = self.load_report(who, id).await?;
        if who.hospital_id != Some(r.study.hospital_id) || r.author_id == user {
            return Err(ServiceError::Forbidden(
                "a critical result is acknowledged by the requesting hospital's doctor".into(),
            ));
        }
        if !r.content.critical || !r.state.is_signed() {
            return Err(ServiceError::Conflict(
                "there is no signed critical result to acknowledge".into(),
            ));
        }
        if !self
            .index()
            .acknowledge_report(id, user, r.state, &r.content)
            .await?
        {
            return Err(ServiceError::Conflict("acknowledged already".into()));
        }
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("acknowledge {id}"),
            "ok",
        )
        .await?;
        self.full_report(self.load_report(who, id).await?).await
    }

    /// The report as a FHIR R4 Bundle (DiagnosticReport + ImagingStudy).
    pub async fn report_fhir(&self, who: &Principal, id: i64) -> Result<serde_json::Value> {
        let r = self.load_report(who, id).await?;
        let evidence = self.index().study_evidence(r.study.study_ref).await?;
        let addenda = self.index().report_addenda(id).await?;
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("fhir {id}"),
            "ok",
        )
        .await?;
        Ok(super::fhir::report_bundle(&r, &evidence, &addenda))
    }

    /// Report templates, those fitting `modality` / `body_part` first.
    pub async fn report_templates(
        &self,
        who: &Principal,
        lang: Option<&str>,
        modality: &str,
        body_part: &str,
    ) -> Result<ReportTemplateList> {
        user_of(who)?;
        Ok(ReportTemplateList {
            templates: self
                .index()
                .report_templates(lang, modality, body_part)
                .await?,
        })
    }

    /// Creates (`id` 0) or replaces a template: administrators only.
    pub async fn put_report_template(
        &self,
        who: &Principal,
        id: i64,
        mut t: ReportTemplate,
    ) -> Result<ReportTemplate> {
        // Templates are the region's: its administrator edits them, not a hospital's.
        if who.role != Role::Admin || who.hospital_id.is_some() {
            return Err(ServiceError::Forbidden(
                "report templates are edited by the regional administrator".into(),
            ));
        }
        t.id = id;
        t.name = t.name.trim().to_owned();
        if t.name.is_empty() || t.name.chars().count() > MAX_NAME {
            return Err(ServiceError::BadRequest(format!(
                "a template name has 1 to {MAX_NAME} characters"
            )));
        }
        if t.lang != "th" && t.lang != "en" {
            return Err(ServiceError::BadRequest(format!(
                "a template's language is \"th\" or \"en\", got {:?}",
                t.lang
            )));
        }
        for (name, v) in [("modality", &t.modality), ("body_part", &t.body_part)] {
            if v.len() > 16
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b' ')
            {
                return Err(ServiceError::BadRequest(format!(
                    "{name} is a DICOM code string (upper case, at most 16), got {v:?}"
                )));
            }
        }
        check_content(&ReportContent {
            findings: t.findings.clone(),
            impression: t.impression.clone(),
            recommendation: t.recommendation.clone(),
            critical: false,
        })?;
        let id = self
            .index()
            .put_report_template(&t)
            .await
            .map_err(|e| match e {
                crate::index::IndexError::Conflict(m) => ServiceError::Conflict(m),
                e => e.into(),
            })?
            .ok_or_else(|| ServiceError::NotFound(format!("no report template {id}")))?;
        self.audit(
            who,
            "report-template",
            "",
            "",
            &format!("put {id} {:?}", t.name),
            "ok",
        )
        .await?;
        t.id = id;
        Ok(t)
    }

    /// Deletes a template: administrators only.
    pub async fn delete_report_template(&self, who: &Principal, id: i64) -> Result<()> {
        // Templates are the region's: its administrator edits them, not a hospital's.
        if who.role != Role::Admin || who.hospital_id.is_some() {
            return Err(ServiceError::Forbidden(
                "report templates are edited by the regional administrator".into(),
            ));
        }
        if !self.index().delete_report_template(id).await? {
            return Err(ServiceError::NotFound(format!("no report template {id}")));
        }
        self.audit(
            who,
            "report-template",
            "",
            "",
            &format!("delete {id}"),
            "ok",
        )
        .await?;
        Ok(())
    }
}

/// A `YYYY-MM-DD` day as the RFC 3339 instant it starts at (UTC).
fn day_start(day: &str, name: &str) -> Result<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day.trim(), &format).map_err(|_| {
        ServiceError::BadRequest(format!("{name} is a day as YYYY-MM-DD, got {day:?}"))
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn turnaround_rows(mut groups: Vec<(String, Vec<f64>)>) -> Vec<TurnaroundRow> {
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .map(|(key, mut hours)| {
            hours.sort_by(f64::total_cmp);
            let round = |h: f64| (h * 100.0).round() / 100.0;
            TurnaroundRow {
                key,
                reports: u32::try_from(hours.len()).unwrap_or(u32::MAX),
                median_hours: round(percentile(&hours, 0.5)),
                p90_hours: round(percentile(&hours, 0.9)),
                max_hours: round(hours.last().copied().unwrap_or(0.0)),
            }
        })
        .collect()
}

impl Archive {
    /// Turnaround (arrival in the archive → signature) of reports signed from `from`
    /// to `to` (days, inclusive; default the last 30 days), by hospital and by
    /// radiologist: administrators only.
    pub async fn turnaround(
        &self,
        who: &Principal,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Turnaround> {
        if who.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "turnaround figures are for administrators".into(),
            ));
        }
        let today = time::OffsetDateTime::now_utc().date();
        let to = match to {
            Some(d) => day_start(d, "to")?,
            None => today,
        };
        let from = match from {
            Some(d) => day_start(d, "from")?,
            None => to - time::Duration::days(29),
        };
        if from > to {
            return Err(ServiceError::BadRequest("from is after to".into()));
        }
        let instant = |d: time::Date| rfc3339(d.midnight().assume_utc());
        let end = to.next_day().unwrap_or(to);
        let mut rows = self
            .index()
            .signed_reports(&instant(from), &instant(end))
            .await?;
        // A hospital's own administrator sees their hospital's studies only.
        if let Some(h) = who.hospital_id {
            let code = self.index().hospital_code(h).await?.unwrap_or_default();
            rows.retain(|r| r.hospital_code == code);
        }
        let parse = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        };
        let mut by_hospital: Vec<(String, Vec<f64>)> = Vec::new();
        let mut by_radiologist: Vec<(String, Vec<f64>)> = Vec::new();
        for r in rows {
            let (Some(a), Some(b)) = (parse(&r.received_at), parse(&r.signed_at)) else {
                continue;
            };
            let hours = ((b - a).as_seconds_f64() / 3600.0).max(0.0);
            for (groups, key) in [
                (&mut by_hospital, r.hospital_code),
                (&mut by_radiologist, r.signer),
            ] {
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(hours),
                    None => groups.push((key, vec![hours])),
                }
            }
        }
        self.audit(
            who,
            "report-turnaround",
            "",
            "",
            &format!("{from} to {to}"),
            "ok",
        )
        .await?;
        Ok(Turnaround {
            by_hospital: turnaround_rows(by_hospital),
            by_radiologist: turnaround_rows(by_radiologist),
        })
    }
}

/// DICOM DA as `YYYY-MM-DD (พ.ศ. YYYY+543)`; anything else as it is.
fn pdf_date(da: &str) -> String {
    let d = da.trim();
    match d.get(0..4).and_then(|y| y.parse::<u32>().ok()) {
        Some(year) if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!(
                "{}-{}-{} (พ.ศ. {})",
                &d[0..4],
                &d[4..6],
                &d[6..8],
                year + 543
            )
        }
        _ => d.to_owned(),
    }
}

/// The report as a PDF: the hospital's header, patient and study, the sections, the
/// critical result, addenda and the signature block, pages numbered.
fn report_pdf(
    r: &StoredReport,
    addenda: &[rangsi_wire::reports::Addendum],
    font: &[u8],
) -> Result<Vec<u8>> {
    use super::letter::Letter;
    let s = &r.study;
    let mut l = Letter::new(font)?;
    let name_th = if s.hospital_name_th.is_empty() {
        &s.hospital_name
    } else {
        &s.hospital_name_th
    };
    l.paragraph(name_th, 18.0, 0.0);
    if !s.hospital_name_en.is_empty() {
        l.paragraph(&s.hospital_name_en, 12.0, 0.0);
    }
    l.rule();
    l.paragraph("รายงานผลการตรวจทางรังสีวิทยา / Radiology report", 15.0, 0.0);
    match r.state {
        ReportState::Draft => l.paragraph("ฉบับร่าง ยังไม่ลงนาม / DRAFT, not signed", 12.0, 0.0),
        ReportState::Preliminary => l.paragraph(
            "รายงานเบื้องต้น ยังไม่ลงนาม / PRELIMINARY, not signed",
            12.0,
            0.0,
        ),
        ReportState::Final | ReportState::Amended => {}
    }
    l.gap(4.0);
    let patient = s.patient_name.replace('^', " ");
    let sex = match s.sex.trim() {
        "M" => "ชาย / M",
        "F" => "หญิง / F",
        "" => "-",
        _ => "อื่น ๆ / O",
    };
    for line in [
        format!("ผู้ป่วย / Patient: {}   HN: {}", patient.trim(), s.patient_id),
        format!(
            "วันเกิด / Born: {}   เพศ / Sex: {sex}",
            pdf_date(&s.birth_date)
        ),
        format!(
            "การตรวจ / Study: {}   วันที่ / Date: {}",
            s.description,
            pdf_date(&s.study_date)
        ),
        format!(
            "เลขที่ตรวจ / Accession: {}   Study UID: {}",
            s.accession, s.study_uid
        ),
    ] {
        l.paragraph(&line, 10.5, 0.0);
    }
    l.rule();
    for (title, text) in [
        ("สิ่งที่ตรวจพบ / Findings", &r.content.findings),
        ("สรุปผล / Impression", &r.content.impression),
        ("คำแนะนำ / Recommendation", &r.content.recommendation),
    ] {
        if text.trim().is_empty() {
            continue;
        }
        l.gap(4.0);
        l.paragraph(title, 12.5, 0.0);
        l.paragraph(text.trim(), 11.0, 12.0);
    }
    if r.content.critical {
        l.gap(6.0);
        l.paragraph(
            "ผลวิกฤต / CRITICAL RESULT: แพทย์ผู้ส่งตรวจต้องรับทราบ / the requester must acknowledge",
            12.0,
            0.0,
        );
        if let (Some(by), Some(at)) = (&r.critical_ack_by, &r.critical_ack_at) {
            l.paragraph(
                &format!("รับทราบโดย / Acknowledged by {by}, {at}"),
                10.5,
                12.0,
            );
        }
    }
    for a in addenda {
        l.gap(6.0);
        l.paragraph(
            &format!("ข้อความเพิ่มเติม / Addendum: {}, {}", a.author, a.signed_at),
            12.0,
            0.0,
        );
        l.paragraph(a.text.trim(), 11.0, 12.0);
    }
    l.gap(10.0);
    l.rule();
    match (&r.signed_by, &r.signed_at) {
        (Some(by), Some(at)) => {
            l.paragraph(
                &format!("ลงนามอิเล็กทรอนิกส์โดย / Electronically signed by: {by}"),
                11.0,
                0.0,
            );
            l.paragraph(&format!("เมื่อ / At: {at}"), 10.5, 0.0);
            if let Some(sr) = &r.sr_sop_uid {
                l.paragraph(&format!("DICOM SR: {sr}"), 9.0, 0.0);
            }
        }
        _ => l.paragraph(
            &format!("ผู้เขียน / Author: {} (ยังไม่ลงนาม / not signed)", r.author),
            11.0,
            0.0,
        ),
    }
    l.page_numbers("หน้า / Page");
    l.finish(font, "Radiology report")
}

impl Archive {
    /// The report as a PDF (`font_path`: a TrueType font with Thai, as for letters).
    pub async fn report_pdf(
        &self,
        who: &Principal,
        id: i64,
        font_path: &std::path::Path,
    ) -> Result<Vec<u8>> {
        let r = self.load_report(who, id).await?;
        let addenda = self.index().report_addenda(id).await?;
        let font = super::letter::read_font(font_path).await?;
        let pdf =
            tokio::task::spawn_blocking(move || report_pdf(&r, &addenda, &font).map(|p| (p, r)))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let (pdf, r) = pdf;
        self.audit(
            who,
            "report",
            &r.study.study_uid,
            &r.study.patient_id,
            &format!("pdf {id}"),
            "ok",
        )
        .await?;
        Ok(pdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&[3.0], 0.9), 3.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
