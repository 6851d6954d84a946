//! The SQL of radiology reports and their templates (migration 0010). A report row
//! belongs to one study row, and every read carries the caller's [`Scope`] on that
//! study, so a report is exactly as visible as its study (grants included). Every
//! change writes a `report_events` row with a snapshot in the same transaction: the
//! history cannot miss a step.

use rangsi_wire::reports::{Addendum, ReportContent, ReportEvent, ReportState, ReportTemplate};
use sqlx::Arguments;
use sqlx::Row;

use super::db;
use super::{Index, IndexError, Result, Scope, now_rfc3339};

/// A study as a report needs it: its row, owner and the patient and study attributes
/// an SR document and a FHIR DiagnosticReport carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportStudy {
    pub study_ref: i64,
    pub hospital_id: i64,
    pub hospital_code: String,
    pub hospital_name: String,
    pub patient_id: String,
    pub issuer: String,
    pub patient_name: String,
    pub birth_date: String,
    pub sex: String,
    pub study_uid: String,
    pub study_date: String,
    pub study_time: String,
    pub accession: String,
    pub study_id: String,
    pub description: String,
    pub referring_physician: String,
    /// The hospital's names in Thai and English (its profile; may be empty).
    pub hospital_name_th: String,
    pub hospital_name_en: String,
}

/// One instance of a study: the evidence an SR lists and FHIR ImagingStudy counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub series_uid: String,
    pub series_number: Option<i64>,
    pub modality: String,
    pub body_part: String,
    pub sop_class_uid: String,
    pub sop_uid: String,
}

/// A report row with its study and the names of the people on it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: i64,
    pub study: ReportStudy,
    pub author_id: i64,
    pub author: String,
    pub state: ReportState,
    pub content: ReportContent,
    pub created_at: String,
    pub updated_at: String,
    pub signed_by: Option<String>,
    pub signed_at: Option<String>,
    pub critical_ack_by: Option<String>,
    pub critical_ack_at: Option<String>,
    pub sr_sop_uid: Option<String>,
}

const STUDY_COLS: &str = "st.id, st.hospital_id, h.code, h.name, p.patient_id, p.issuer, \
     p.patient_name, p.birth_date, p.sex, st.study_uid, st.study_date, st.study_time, \
     st.accession, st.study_id, st.description, st.referring_physician, h.name_th, h.name_en";
/// The patient and hospital of a study row `st`.
const STUDY_JOINS: &str = "JOIN patients p ON p.id = st.patient_ref \
     JOIN hospitals h ON h.id = st.hospital_id";

fn study_from(r: &db::Row, at: usize) -> ReportStudy {
    ReportStudy {
        study_ref: r.get(at),
        hospital_id: r.get(at + 1),
        hospital_code: r.get(at + 2),
        hospital_name: r.get(at + 3),
        patient_id: r.get(at + 4),
        issuer: r.get(at + 5),
        patient_name: r.get(at + 6),
        birth_date: r.get(at + 7),
        sex: r.get(at + 8),
        study_uid: r.get(at + 9),
        study_date: r.get(at + 10),
        study_time: r.get(at + 11),
        accession: r.get(at + 12),
        study_id: r.get(at + 13),
        description: r.get(at + 14),
        referring_physician: r.get(at + 15),
        hospital_name_th: r.get(at + 16),
        hospital_name_en: r.get(at + 17),
    }
}

fn report_select() -> String {
    format!(
        "SELECT r.id, r.author_id, a.username, r.state, r.findings, r.impression, \
         r.recommendation, r.critical, r.created_at, r.updated_at, s.username, r.signed_at, \
         k.username, r.critical_ack_at, r.sr_sop_uid, {STUDY_COLS} \
         FROM reports r JOIN users a ON a.id = r.author_id \
         LEFT JOIN users s ON s.id = r.signed_by LEFT JOIN users k ON k.id = r.critical_ack_by \
         JOIN studies st ON st.id = r.study_ref {STUDY_JOINS}"
    )
}

fn report_from(r: &db::Row) -> Result<StoredReport> {
    let state: String = r.get(3);
    let state = ReportState::from_name(&state)
        .ok_or_else(|| IndexError::Conflict(format!("stored report in unknown state {state:?}")))?;
    Ok(StoredReport {
        id: r.get(0),
        author_id: r.get(1),
        author: r.get(2),
        state,
        content: ReportContent {
            findings: r.get(4),
            impression: r.get(5),
            recommendation: r.get(6),
            critical: r.get::<i64, _>(7) != 0,
        },
        created_at: r.get(8),
        updated_at: r.get(9),
        signed_by: r.get(10),
        signed_at: r.get(11),
        critical_ack_by: r.get(12),
        critical_ack_at: r.get(13),
        sr_sop_uid: r.get(14),
        study: study_from(r, 15),
    })
}

/// The snapshot an event keeps.
fn snapshot(state: ReportState, content: &ReportContent) -> String {
    serde_json::json!({ "state": state.name(), "content": content }).to_string()
}

async fn event(
    tx: &mut db::Conn,
    report: i64,
    at: &str,
    user: i64,
    action: &str,
    state: ReportState,
    content: &ReportContent,
) -> Result<()> {
    db::query(
        "INSERT INTO report_events (report_id, at, user_id, action, snapshot) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(report)
    .bind(at)
    .bind(user)
    .bind(action)
    .bind(snapshot(state, content))
    .execute(tx)
    .await?;
    Ok(())
}

fn template_from(r: &db::Row) -> ReportTemplate {
    ReportTemplate {
        id: r.get(0),
        name: r.get(1),
        lang: r.get(2),
        modality: r.get(3),
        body_part: r.get(4),
        findings: r.get(5),
        impression: r.get(6),
        recommendation: r.get(7),
    }
}

const TEMPLATE_COLS: &str =
    "id, name, lang, modality, body_part, findings, impression, recommendation";

impl Index {
    /// The study row a report on `study_uid` belongs to, when visible in `scope`; the
    /// lowest row when a regional administrator sees two hospitals' copies.
    pub async fn report_study(
        &self,
        scope: &Scope,
        study_uid: &str,
    ) -> Result<Option<ReportStudy>> {
        let (sql, mut args) = scope.scoped(format!(
                "SELECT {STUDY_COLS} FROM studies st {STUDY_JOINS} WHERE {{scope}} AND st.study_uid = ? \
                 ORDER BY st.id LIMIT 1"
            ),
        );
        let _ = args.add(study_uid.to_owned());
        let row = db::query_with(&(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| study_from(&r, 0)))
    }

    /// Every instance of a study row, by series then instance number.
    pub async fn study_evidence(&self, study_ref: i64) -> Result<Vec<Evidence>> {
        let rows = db::query(
            "SELECT se.series_uid, se.series_number, se.modality, se.body_part, i.sop_class_uid, i.sop_uid \
             FROM instances i JOIN series se ON se.id = i.series_ref WHERE se.study_ref = ? \
             ORDER BY se.series_number NULLS FIRST, se.id, i.instance_number NULLS FIRST, i.id",
        )
        .bind(study_ref)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Evidence {
                series_uid: r.get(0),
                series_number: r.get(1),
                modality: r.get(2),
                body_part: r.get(3),
                sop_class_uid: r.get(4),
                sop_uid: r.get(5),
            })
            .collect())
    }

    /// The series of an instance of a study row.
    pub async fn series_of_instance(
        &self,
        study_ref: i64,
        sop_uid: &str,
    ) -> Result<Option<String>> {
        Ok(db::query_scalar(
            "SELECT se.series_uid FROM instances i JOIN series se ON se.id = i.series_ref \
             WHERE se.study_ref = ? AND i.sop_uid = ?",
        )
        .bind(study_ref)
        .bind(sop_uid)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A report visible in `scope`.
    pub async fn report(&self, scope: &Scope, id: i64) -> Result<Option<StoredReport>> {
        let (sql, mut args) =
            scope.scoped(format!("{} WHERE {{scope}} AND r.id = ?", report_select()));
        let _ = args.add(id);
        let row = db::query_with(&(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(report_from).transpose()
    }

    /// The reports on every visible copy of a study.
    pub async fn reports_of_study(
        &self,
        scope: &Scope,
        study_uid: &str,
    ) -> Result<Vec<StoredReport>> {
        let (sql, mut args) = scope.scoped(format!(
            "{} WHERE {{scope}} AND st.study_uid = ? ORDER BY r.id",
            report_select()
        ));
        let _ = args.add(study_uid.to_owned());
        let rows = db::query_with(&(sql), args).fetch_all(&self.pool).await?;
        rows.iter().map(report_from).collect()
    }

    /// The id of the report on a study row, if there is one.
    pub async fn report_of_study_row(&self, study_ref: i64) -> Result<Option<i64>> {
        Ok(
            db::query_scalar("SELECT id FROM reports WHERE study_ref = ?")
                .bind(study_ref)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A new draft; `None` when the study row has a report already.
    pub async fn create_report(
        &self,
        study_ref: i64,
        author: i64,
        content: &ReportContent,
    ) -> Result<Option<i64>> {
        let at = now_rfc3339();
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = db::query_scalar(
            "INSERT INTO reports (study_ref, author_id, state, findings, impression, recommendation, \
             critical, created_at, updated_at) VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (study_ref) DO NOTHING RETURNING id",
        )
        .bind(study_ref)
        .bind(author)
        .bind(&content.findings)
        .bind(&content.impression)
        .bind(&content.recommendation)
        .bind(i64::from(content.critical))
        .bind(&at)
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        event(
            &mut tx,
            id,
            &at,
            author,
            "create",
            ReportState::Draft,
            content,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Saves the text of an unsigned report; false when it was signed meanwhile.
    pub async fn save_report(
        &self,
        id: i64,
        user: i64,
        state: ReportState,
        content: &ReportContent,
    ) -> Result<bool> {
        let at = now_rfc3339();
        let update = db::query(
            "UPDATE reports SET state = ?, findings = ?, impression = ?, recommendation = ?, \
             critical = ?, updated_at = ? WHERE id = ? AND state IN ('draft', 'preliminary')",
        )
        .bind(state.name())
        .bind(&content.findings)
        .bind(&content.impression)
        .bind(&content.recommendation)
        .bind(i64::from(content.critical))
        .bind(&at)
        .bind(id);
        let Some(mut tx) = self.guarded(update).await? else {
            return Ok(false);
        };
        event(&mut tx, id, &at, user, "save", state, content).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks an unsigned report final, signed by `user` at `at` with the SR stored;
    /// false when it was signed meanwhile.
    pub async fn sign_report(
        &self,
        id: i64,
        user: i64,
        at: &str,
        sr_sop_uid: &str,
        content: &ReportContent,
    ) -> Result<bool> {
        let update = db::query(
            "UPDATE reports SET state = 'final', signed_by = ?, signed_at = ?, sr_sop_uid = ?, \
             updated_at = ? WHERE id = ? AND state IN ('draft', 'preliminary')",
        )
        .bind(user)
        .bind(at)
        .bind(sr_sop_uid)
        .bind(at)
        .bind(id);
        let Some(mut tx) = self.guarded(update).await? else {
            return Ok(false);
        };
        event(&mut tx, id, at, user, "sign", ReportState::Final, content).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Appends a signed addendum to a signed report and makes it `amended`.
    pub async fn add_addendum(
        &self,
        id: i64,
        user: i64,
        at: &str,
        text: &str,
        sr_sop_uid: &str,
        content: &ReportContent,
    ) -> Result<bool> {
        let update = db::query(
            "UPDATE reports SET state = 'amended', sr_sop_uid = ?, updated_at = ? \
             WHERE id = ? AND state IN ('final', 'amended')",
        )
        .bind(sr_sop_uid)
        .bind(at)
        .bind(id);
        let Some(mut tx) = self.guarded(update).await? else {
            return Ok(false);
        };
        db::query(
            "INSERT INTO report_addenda (report_id, author_id, text, signed_at, sr_sop_uid) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(user)
        .bind(text)
        .bind(at)
        .bind(sr_sop_uid)
        .execute(&mut *tx)
        .await?;
        event(
            &mut tx,
            id,
            at,
            user,
            "addendum",
            ReportState::Amended,
            content,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records that the requester saw a critical result (once; false if done before).
    pub async fn acknowledge_report(
        &self,
        id: i64,
        user: i64,
        state: ReportState,
        content: &ReportContent,
    ) -> Result<bool> {
        let at = now_rfc3339();
        let update = db::query(
            "UPDATE reports SET critical_ack_by = ?, critical_ack_at = ? \
             WHERE id = ? AND critical = 1 AND critical_ack_at IS NULL",
        )
        .bind(user)
        .bind(&at)
        .bind(id);
        let Some(mut tx) = self.guarded(update).await? else {
            return Ok(false);
        };
        event(&mut tx, id, &at, user, "acknowledge", state, content).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A report's signed addenda, oldest first.
    pub async fn report_addenda(&self, id: i64) -> Result<Vec<Addendum>> {
        let rows = db::query(
            "SELECT u.username, a.text, a.signed_at, a.sr_sop_uid FROM report_addenda a \
             JOIN users u ON u.id = a.author_id WHERE a.report_id = ? ORDER BY a.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Addendum {
                author: r.get(0),
                text: r.get(1),
                signed_at: r.get(2),
                sr_sop_uid: r.get(3),
            })
            .collect())
    }

    /// A report's history, oldest first.
    pub async fn report_history(&self, id: i64) -> Result<Vec<ReportEvent>> {
        let rows = db::query(
            "SELECT e.at, u.username, e.action, e.snapshot FROM report_events e \
             JOIN users u ON u.id = e.user_id WHERE e.report_id = ? ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let snap: String = r.get(3);
                #[derive(serde::Deserialize)]
                struct Snapshot {
                    state: String,
                    content: ReportContent,
                }
                let s: Snapshot = serde_json::from_str(&snap)
                    .map_err(|e| IndexError::Conflict(format!("stored report event: {e}")))?;
                let state = ReportState::from_name(&s.state).ok_or_else(|| {
                    IndexError::Conflict(format!("stored report event in state {:?}", s.state))
                })?;
                Ok(ReportEvent {
                    at: r.get(0),
                    user: r.get(1),
                    action: r.get(2),
                    state,
                    content: s.content,
                })
            })
            .collect()
    }

    /// Templates, optionally of one language, those for `modality` / `body_part` (or for
    /// any) first.
    pub async fn report_templates(
        &self,
        lang: Option<&str>,
        modality: &str,
        body_part: &str,
    ) -> Result<Vec<ReportTemplate>> {
        let sql = format!(
            "SELECT {TEMPLATE_COLS} FROM report_templates WHERE (? IS NULL OR lang = ?) \
             ORDER BY (CASE WHEN modality = ? AND modality != '' THEN 1 ELSE 0 END) + (CASE WHEN body_part = ? AND body_part != '' THEN 1 ELSE 0 END) DESC, \
             (modality = '' AND body_part = '') DESC, name"
        );
        let rows = db::query(&(sql))
            .bind(lang)
            .bind(lang)
            .bind(modality)
            .bind(body_part)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(template_from).collect())
    }

    pub async fn report_template(&self, id: i64) -> Result<Option<ReportTemplate>> {
        let sql = format!("SELECT {TEMPLATE_COLS} FROM report_templates WHERE id = ?");
        let row = db::query(&(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(template_from))
    }

    /// Creates (`id` 0) or replaces a template; its id, or `None` when `id` names none.
    /// A name already used in that language is a conflict.
    pub async fn put_report_template(&self, t: &ReportTemplate) -> Result<Option<i64>> {
        let at = now_rfc3339();
        let q = if t.id == 0 {
            db::query_scalar(
                "INSERT INTO report_templates (name, lang, modality, body_part, findings, \
                 impression, recommendation, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
        } else {
            db::query_scalar(
                "UPDATE report_templates SET name = ?, lang = ?, modality = ?, body_part = ?, \
                 findings = ?, impression = ?, recommendation = ?, updated_at = ? WHERE id = ? RETURNING id",
            )
        };
        let mut q = q
            .bind(&t.name)
            .bind(&t.lang)
            .bind(&t.modality)
            .bind(&t.body_part)
            .bind(&t.findings)
            .bind(&t.impression)
            .bind(&t.recommendation)
            .bind(at);
        if t.id != 0 {
            q = q.bind(t.id);
        }
        match q.fetch_optional(&self.pool).await {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(IndexError::Conflict(format!(
                    "a template named {:?} exists in {:?} already",
                    t.name, t.lang
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a template; false when there was none.
    pub async fn delete_report_template(&self, id: i64) -> Result<bool> {
        Ok(db::query("DELETE FROM report_templates WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    /// Of these study rows, those with a report (for the study list's badge).
    pub async fn reported_study_rows(&self, rows: &[i64]) -> Result<Vec<i64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; rows.len()].join(",");
        let sql = format!(
            "SELECT study_ref FROM reports WHERE state IN ('final', 'amended') AND study_ref IN ({marks})"
        );
        let mut q = db::query_scalar(&(sql));
        for r in rows {
            q = q.bind(*r);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }
}

/// One signed report for turnaround figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedReport {
    pub hospital_code: String,
    pub signer: String,
    /// When the study reached the archive and when its report was signed (RFC 3339).
    pub received_at: String,
    pub signed_at: String,
}

impl Index {
    /// Reports signed at or after `from` and before `to` (RFC 3339 UTC bounds, compared
    /// as text: stored times are UTC with the same layout).
    pub async fn signed_reports(&self, from: &str, to: &str) -> Result<Vec<SignedReport>> {
        let rows = db::query(
            "SELECT h.code, u.username, st.created_at, r.signed_at FROM reports r \
             JOIN studies st ON st.id = r.study_ref JOIN hospitals h ON h.id = st.hospital_id \
             JOIN users u ON u.id = r.signed_by \
             WHERE r.signed_at IS NOT NULL AND r.signed_at >= ? AND r.signed_at < ? ORDER BY r.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SignedReport {
                hospital_code: r.get(0),
                signer: r.get(1),
                received_at: r.get(2),
                signed_at: r.get(3),
            })
            .collect())
    }
}
