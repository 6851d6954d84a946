//! Hospitals' profiles, referrals and the grants they give. A referral's grant is a row
//! of `grants`, which [`super::Scope::Hospital`] already reads: the receiving hospital
//! sees the referred studies through the same tenancy condition as its own.

use sqlx::Row;

use super::db;
use super::{Index, IndexError, Result, now_rfc3339};

#[derive(Debug, Clone, Default)]
pub struct HospitalProfileRow {
    pub code: String,
    pub name: String,
    pub name_th: String,
    pub name_en: String,
    /// Comma-separated.
    pub capabilities: String,
    pub contact: String,
}

/// A study row with what a referral shows of it.
#[derive(Debug, Clone)]
pub struct StudyRow {
    pub id: i64,
    pub patient_ref: i64,
    pub study_uid: String,
    pub study_date: String,
    pub description: String,
    pub modalities: String,
    pub num_instances: i64,
}

#[derive(Debug, Clone)]
pub struct PatientRow {
    pub id: i64,
    pub patient_id: String,
    pub issuer: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
}

#[derive(Debug, Clone)]
pub struct ReferralRow {
    pub id: i64,
    pub from_hospital: i64,
    pub to_hospital: i64,
    pub patient_ref: i64,
    pub reason: String,
    pub urgency: String,
    pub clinical_summary: String,
    pub status: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const HOSPITAL_COLS: &str = "code, name, name_th, name_en, capabilities, contact";
const STUDY_COLS: &str = "st.id, st.patient_ref, st.study_uid, st.study_date, st.description, st.modalities, st.num_instances";
const REFERRAL_COLS: &str = "id, from_hospital, to_hospital, patient_ref, reason, urgency, clinical_summary, status, created_by, created_at, updated_at";

fn hospital_from(r: &db::Row) -> HospitalProfileRow {
    HospitalProfileRow {
        code: r.get(0),
        name: r.get(1),
        name_th: r.get(2),
        name_en: r.get(3),
        capabilities: r.get(4),
        contact: r.get(5),
    }
}

pub(crate) fn study_from(r: &db::Row) -> StudyRow {
    StudyRow {
        id: r.get(0),
        patient_ref: r.get(1),
        study_uid: r.get(2),
        study_date: r.get(3),
        description: r.get(4),
        modalities: r.get(5),
        num_instances: r.get(6),
    }
}

fn referral_from(r: &db::Row) -> ReferralRow {
    ReferralRow {
        id: r.get(0),
        from_hospital: r.get(1),
        to_hospital: r.get(2),
        patient_ref: r.get(3),
        reason: r.get(4),
        urgency: r.get(5),
        clinical_summary: r.get(6),
        status: r.get(7),
        created_by: r.get(8),
        created_at: r.get(9),
        updated_at: r.get(10),
    }
}

/// What a new referral holds (checked by the service).
pub struct NewReferralRow<'a> {
    pub from_hospital: i64,
    pub to_hospital: i64,
    pub patient_ref: i64,
    pub reason: &'a str,
    pub urgency: &'a str,
    pub clinical_summary: &'a str,
    pub created_by: &'a str,
    pub study_refs: &'a [i64],
}

impl Index {
    pub async fn hospital_profiles(&self) -> Result<Vec<HospitalProfileRow>> {
        let rows = db::query(&(format!("SELECT {HOSPITAL_COLS} FROM hospitals ORDER BY code")))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(hospital_from).collect())
    }

    pub async fn hospital_profile(&self, id: i64) -> Result<Option<HospitalProfileRow>> {
        let row = db::query(&(format!("SELECT {HOSPITAL_COLS} FROM hospitals WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(hospital_from))
    }

    pub async fn set_hospital_profile(&self, p: &HospitalProfileRow) -> Result<()> {
        let done = db::query(
            "UPDATE hospitals SET name_th = ?, name_en = ?, capabilities = ?, contact = ? WHERE code = ?",
        )
        .bind(&p.name_th)
        .bind(&p.name_en)
        .bind(&p.capabilities)
        .bind(&p.contact)
        .bind(&p.code)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(IndexError::Conflict(format!("no hospital {}", p.code)));
        }
        Ok(())
    }

    /// A hospital's own studies with these Study Instance UIDs (never granted ones).
    pub async fn own_studies(&self, hospital_id: i64, uids: &[String]) -> Result<Vec<StudyRow>> {
        let mut out = Vec::new();
        for uid in uids {
            let row = db::query(&(format!(
                "SELECT {STUDY_COLS} FROM studies st WHERE st.hospital_id = ? AND st.study_uid = ?"
            )))
            .bind(hospital_id)
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row {
                out.push(study_from(&r));
            }
        }
        Ok(out)
    }

    /// Every study of one patient row.
    pub async fn studies_of_patient(&self, patient_ref: i64) -> Result<Vec<StudyRow>> {
        let rows = db::query(&(format!(
            "SELECT {STUDY_COLS} FROM studies st WHERE st.patient_ref = ? ORDER BY st.study_date DESC, st.id"
        )))
        .bind(patient_ref)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(study_from).collect())
    }

    pub async fn patient_by_key(
        &self,
        hospital_id: i64,
        patient_id: &str,
        issuer: &str,
    ) -> Result<Option<PatientRow>> {
        let row = db::query(
            "SELECT id, patient_id, issuer, patient_name, birth_date, sex FROM patients \
             WHERE hospital_id = ? AND patient_id = ? AND issuer = ?",
        )
        .bind(hospital_id)
        .bind(patient_id)
        .bind(issuer)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(patient_from))
    }

    pub async fn patient(&self, id: i64) -> Result<Option<PatientRow>> {
        let row = db::query(
            "SELECT id, patient_id, issuer, patient_name, birth_date, sex FROM patients WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(patient_from))
    }

    /// Creates the referral, its study list and the receiving hospital's grants in one
    /// transaction: a referral never exists without its access, nor the access without it.
    pub async fn create_referral(&self, r: &NewReferralRow<'_>) -> Result<i64> {
        let now = now_rfc3339();
        let mut tx = self.begin_write().await?;
        let id = db::query_scalar::<i64>(
            "INSERT INTO referrals (from_hospital, to_hospital, patient_ref, reason, urgency, clinical_summary, \
             status, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?) RETURNING id",
        )
        .bind(r.from_hospital)
        .bind(r.to_hospital)
        .bind(r.patient_ref)
        .bind(r.reason)
        .bind(r.urgency)
        .bind(r.clinical_summary)
        .bind(r.created_by)
        .bind(&now)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        for s in r.study_refs {
            db::query("INSERT INTO referral_studies (referral_id, study_ref) VALUES (?, ?)")
                .bind(id)
                .bind(s)
                .execute(&mut *tx)
                .await?;
            db::query(
                "INSERT INTO grants (grantee_hospital, study_ref, reason, created_at, referral_id) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(r.to_hospital)
            .bind(s)
            .bind(format!("referral {id}"))
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn referral(&self, id: i64) -> Result<Option<ReferralRow>> {
        let row = db::query(&(format!("SELECT {REFERRAL_COLS} FROM referrals WHERE id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(referral_from))
    }

    /// A hospital's referrals, newest first: `incoming` (to it) or outgoing (from it).
    pub async fn referrals_of(&self, hospital_id: i64, incoming: bool) -> Result<Vec<ReferralRow>> {
        let col = if incoming {
            "to_hospital"
        } else {
            "from_hospital"
        };
        let rows = db::query(&(format!(
            "SELECT {REFERRAL_COLS} FROM referrals WHERE {col} = ? ORDER BY created_at DESC, id DESC LIMIT 500"
        )))
        .bind(hospital_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(referral_from).collect())
    }

    pub async fn referral_studies(&self, id: i64) -> Result<Vec<StudyRow>> {
        let rows = db::query(&(format!(
            "SELECT {STUDY_COLS} FROM referral_studies rs JOIN studies st ON st.id = rs.study_ref \
             WHERE rs.referral_id = ? ORDER BY st.study_date DESC, st.id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(study_from).collect())
    }

    /// Moves a referral from `from` to `to` (compare-and-set, so two clicks cannot both
    /// win); a declined referral's grants are revoked in the same transaction.
    pub async fn set_referral_status(&self, id: i64, from: &str, to: &str) -> Result<bool> {
        let now = now_rfc3339();
        let mut tx = self.begin_write().await?;
        let done = db::query(
            "UPDATE referrals SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        )
        .bind(to)
        .bind(&now)
        .bind(id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if to == "declined" {
            db::query(
                "UPDATE grants SET revoked_at = ? WHERE referral_id = ? AND revoked_at IS NULL",
            )
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn patient_from(r: &db::Row) -> PatientRow {
    PatientRow {
        id: r.get(0),
        patient_id: r.get(1),
        issuer: r.get(2),
        name: r.get(3),
        birth_date: r.get(4),
        sex: r.get(5),
    }
}
