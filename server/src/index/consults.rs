//! The SQL of consultation requests (migration 0012). A request and the grants it
//! gives the reading hospital (the patient's studies at the requesting hospital) are
//! written in one transaction; withdrawing it revokes them in one transaction too.

use rangsi_wire::reports::{Consult, PatientData, ReportState};
use sqlx::Row;

use super::db;
use super::{Index, Result, now_rfc3339};

/// A request to record.
pub struct NewConsultRow<'a> {
    pub study_ref: i64,
    pub from_hospital: i64,
    pub requested_by: i64,
    pub to_hospital: i64,
    pub to_user: Option<i64>,
    pub priority: &'a str,
    pub due_at: &'a str,
    pub history: &'a str,
    pub question: &'a str,
    pub patient_data: &'a str,
}

/// A stored request with the ids the service's rules need.
#[derive(Debug, Clone)]
pub struct ConsultRow {
    pub consult: Consult,
    pub from_hospital_id: i64,
    pub to_hospital_id: i64,
    pub to_user_id: Option<i64>,
    pub claimed_by_id: Option<i64>,
}

const SELECT: &str = "SELECT c.id, st.study_uid, p.patient_id, p.patient_name, st.description, \
     st.modalities, hf.code, ht.code, tu.username, ru.username, c.priority, c.due_at, c.history, \
     c.question, c.patient_data, c.status, cu.username, r.id, r.state, c.created_at, \
     c.from_hospital, c.to_hospital, c.to_user, c.claimed_by \
     FROM consults c JOIN studies st ON st.id = c.study_ref \
     JOIN patients p ON p.id = st.patient_ref \
     JOIN hospitals hf ON hf.id = c.from_hospital JOIN hospitals ht ON ht.id = c.to_hospital \
     JOIN users ru ON ru.id = c.requested_by LEFT JOIN users tu ON tu.id = c.to_user \
     LEFT JOIN users cu ON cu.id = c.claimed_by LEFT JOIN reports r ON r.study_ref = c.study_ref";

fn row(r: &db::Row, now: &str) -> ConsultRow {
    let due_at: String = r.get(11);
    let status: String = r.get(15);
    let patient_data: String = r.get(14);
    let state: Option<String> = r.get(18);
    ConsultRow {
        consult: Consult {
            id: r.get(0),
            study_uid: r.get(1),
            patient_id: r.get(2),
            patient_name: r.get(3),
            study_description: r.get(4),
            modalities: r.get(5),
            from_hospital: r.get(6),
            to_hospital: r.get(7),
            to_radiologist: r.get(8),
            requested_by: r.get(9),
            priority: r.get(10),
            overdue: matches!(status.as_str(), "requested" | "claimed") && due_at.as_str() < now,
            due_at,
            history: r.get(12),
            question: r.get(13),
            patient_data: serde_json::from_str::<PatientData>(&patient_data).unwrap_or_default(),
            status,
            claimed_by: r.get(16),
            report_id: r.get(17),
            report_state: state.as_deref().and_then(ReportState::from_name),
            created_at: r.get(19),
        },
        from_hospital_id: r.get(20),
        to_hospital_id: r.get(21),
        to_user_id: r.get(22),
        claimed_by_id: r.get(23),
    }
}

impl Index {
    /// Records a request and grants the reading hospital the patient's studies at the
    /// requesting hospital; the request's id.
    pub async fn create_consult(&self, c: &NewConsultRow<'_>) -> Result<i64> {
        let now = now_rfc3339();
        let mut tx = self.pool.begin().await?;
        let id: i64 = db::query_scalar(
            "INSERT INTO consults (study_ref, from_hospital, requested_by, to_hospital, to_user, \
             priority, due_at, history, question, patient_data, status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?) RETURNING id",
        )
        .bind(c.study_ref)
        .bind(c.from_hospital)
        .bind(c.requested_by)
        .bind(c.to_hospital)
        .bind(c.to_user)
        .bind(c.priority)
        .bind(c.due_at)
        .bind(c.history)
        .bind(c.question)
        .bind(c.patient_data)
        .bind(&now)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        db::query(
            "INSERT INTO grants (grantee_hospital, study_ref, reason, created_at, consult_id) \
             SELECT ?, st.id, ?, ?, ? FROM studies st \
             WHERE st.hospital_id = ? AND st.patient_ref = \
             (SELECT patient_ref FROM studies WHERE id = ?)",
        )
        .bind(c.to_hospital)
        .bind(format!("consult {id}"))
        .bind(&now)
        .bind(id)
        .bind(c.from_hospital)
        .bind(c.study_ref)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One request.
    pub async fn consult(&self, id: i64) -> Result<Option<ConsultRow>> {
        let now = now_rfc3339();
        let r = db::query(&(format!("{SELECT} WHERE c.id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| row(&r, &now)))
    }

    /// Requests a hospital made or received (`hospital` None: all), newest first; of one
    /// study when `study_uid` is given.
    pub async fn consults_of(
        &self,
        hospital: Option<i64>,
        study_uid: Option<&str>,
    ) -> Result<Vec<ConsultRow>> {
        let now = now_rfc3339();
        let rows = db::query(
            &(format!(
                "{SELECT} WHERE (? IS NULL OR c.from_hospital = ? OR c.to_hospital = ?) \
             AND (? IS NULL OR st.study_uid = ?) ORDER BY c.id DESC LIMIT 500"
            )),
        )
        .bind(hospital)
        .bind(hospital)
        .bind(hospital)
        .bind(study_uid)
        .bind(study_uid)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| row(r, &now)).collect())
    }

    /// Open requests for a reader: to their hospital's group or to them by name.
    pub async fn consults_for_reader(&self, hospital: i64, user: i64) -> Result<Vec<ConsultRow>> {
        let now = now_rfc3339();
        let rows = db::query(
            &(format!(
                "{SELECT} WHERE c.to_hospital = ? AND (c.to_user IS NULL OR c.to_user = ?) \
             AND (c.status = 'requested' OR (c.status = 'claimed' AND c.claimed_by = ?)) \
             ORDER BY c.due_at"
            )),
        )
        .bind(hospital)
        .bind(user)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| row(r, &now)).collect())
    }

    /// Moves a request from one of `from` to `to` (claimed_by set or cleared); false
    /// when it was in none of them.
    pub async fn consult_status(
        &self,
        id: i64,
        from: &[&str],
        to: &str,
        claimed_by: Option<i64>,
    ) -> Result<bool> {
        let marks = vec!["?"; from.len()].join(", ");
        let sql = format!(
            "UPDATE consults SET status = ?, claimed_by = ?, updated_at = ? WHERE id = ? AND status IN ({marks})"
        );
        let mut q = db::query(&(sql))
            .bind(to)
            .bind(claimed_by)
            .bind(now_rfc3339())
            .bind(id);
        for f in from {
            q = q.bind(*f);
        }
        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Withdraws an open request and revokes its grants.
    pub async fn withdraw_consult(&self, id: i64) -> Result<bool> {
        let now = now_rfc3339();
        let update = db::query(
            "UPDATE consults SET status = 'withdrawn', updated_at = ? WHERE id = ? \
             AND status IN ('requested', 'claimed')",
        )
        .bind(&now)
        .bind(id);
        let Some(mut tx) = self.guarded(update).await? else {
            return Ok(false);
        };
        db::query("UPDATE grants SET revoked_at = ? WHERE consult_id = ? AND revoked_at IS NULL")
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A signed report on a study row completes its open requests.
    pub async fn consults_reported(&self, study_ref: i64) -> Result<()> {
        db::query(
            "UPDATE consults SET status = 'reported', updated_at = ? WHERE study_ref = ? \
             AND status IN ('requested', 'claimed')",
        )
        .bind(now_rfc3339())
        .bind(study_ref)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A hospital's own recent studies with no signed report, newest first.
    pub async fn unreported_studies(
        &self,
        hospital: i64,
        limit: i64,
    ) -> Result<Vec<UnreportedStudy>> {
        let rows = db::query(
            "SELECT st.study_uid, p.patient_id, p.patient_name, st.study_date, st.description, \
             st.modalities, h.code, r.state FROM studies st JOIN patients p ON p.id = st.patient_ref \
             JOIN hospitals h ON h.id = st.hospital_id LEFT JOIN reports r ON r.study_ref = st.id \
             WHERE st.hospital_id = ? AND (r.id IS NULL OR r.state IN ('draft', 'preliminary')) \
             AND st.modalities NOT IN ('SR', 'PR', 'KO', 'DOC') \
             ORDER BY st.created_at DESC LIMIT ?",
        )
        .bind(hospital)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let state: Option<String> = r.get(7);
                UnreportedStudy {
                    study_uid: r.get(0),
                    patient_id: r.get(1),
                    patient_name: r.get(2),
                    study_date: r.get(3),
                    description: r.get(4),
                    modalities: r.get(5),
                    hospital: r.get(6),
                    report_state: state.as_deref().and_then(ReportState::from_name),
                }
            })
            .collect())
    }

    /// Of these study rows, those with an open consultation request (the list's badge).
    pub async fn consult_study_rows(&self, rows: &[i64]) -> Result<Vec<i64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; rows.len()].join(",");
        let sql = format!(
            "SELECT DISTINCT study_ref FROM consults WHERE status IN ('requested', 'claimed') \
             AND study_ref IN ({marks})"
        );
        let mut q = db::query_scalar(&(sql));
        for r in rows {
            q = q.bind(*r);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }
}

/// A local study the hospital's radiologists still have to report.
#[derive(Debug, Clone)]
pub struct UnreportedStudy {
    pub study_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_date: String,
    pub description: String,
    pub modalities: String,
    pub hospital: String,
    pub report_state: Option<ReportState>,
}
