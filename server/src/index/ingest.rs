//! Recording a stored instance: patient, study, series and instance rows, and counters,
//! in one transaction. Uniqueness of an instance is decided here, by the database
//! (UNIQUE (hospital_id, sop_uid)), never by the blob store.

use sqlx::Row;

use super::{Index, Result, now_rfc3339};

#[derive(Debug, Clone, Default)]
pub struct PatientAttrs {
    pub patient_id: String,
    pub issuer: String,
    pub name: String,
    pub name_search: String,
    pub birth_date: String,
    pub sex: String,
}

#[derive(Debug, Clone, Default)]
pub struct StudyAttrs {
    pub study_uid: String,
    pub date: String,
    pub time: String,
    pub accession: String,
    pub study_id: String,
    pub description: String,
    pub referring_physician: String,
}

#[derive(Debug, Clone, Default)]
pub struct SeriesAttrs {
    pub series_uid: String,
    pub modality: String,
    pub number: Option<i64>,
    pub description: String,
    pub body_part: String,
    pub pps_start_date: String,
    pub pps_start_time: String,
}

#[derive(Debug, Clone, Default)]
pub struct InstanceAttrs {
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub bits_allocated: Option<i64>,
    pub number_of_frames: Option<i64>,
    pub dataset_offset: i64,
    pub pixel_layout: Option<String>,
    pub metadata: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewInstance {
    pub hospital_id: i64,
    pub patient: PatientAttrs,
    pub study: StudyAttrs,
    pub series: SeriesAttrs,
    pub instance: InstanceAttrs,
    pub blob_key: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub source: String,
}

/// What the index already holds under (hospital, SOP Instance UID).
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingInstance {
    pub sha256: String,
    pub study_uid: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Inserted,
    /// Someone stored this SOP Instance UID first (possibly in a race).
    AlreadyPresent(ExistingInstance),
}

impl Index {
    /// Inserts the instance and its audit record in one transaction.
    pub async fn insert_instance(
        &self,
        rec: &NewInstance,
        audit: &super::AuditRecord<'_>,
    ) -> Result<InsertOutcome> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query(
            "SELECT i.sha256, st.study_uid FROM instances i JOIN series se ON se.id = i.series_ref \
             JOIN studies st ON st.id = se.study_ref WHERE i.hospital_id = ? AND i.sop_uid = ?",
        )
        .bind(rec.hospital_id)
        .bind(&rec.instance.sop_uid)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = existing {
            return Ok(InsertOutcome::AlreadyPresent(ExistingInstance {
                sha256: r.get(0),
                study_uid: r.get(1),
            }));
        }
        let now = now_rfc3339();
        let p = &rec.patient;
        let patient_ref: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM patients WHERE hospital_id = ? AND patient_id = ? AND issuer = ?",
        )
        .bind(rec.hospital_id)
        .bind(&p.patient_id)
        .bind(&p.issuer)
        .fetch_optional(&mut *tx)
        .await?;
        let patient_ref = match patient_ref {
            Some(id) => {
                // The newest non-empty demographics win (corrections from the modality).
                sqlx::query(
                    "UPDATE patients SET patient_name = CASE WHEN ? != '' THEN ? ELSE patient_name END, \
                     name_search = CASE WHEN ? != '' THEN ? ELSE name_search END, \
                     birth_date = CASE WHEN ? != '' THEN ? ELSE birth_date END, \
                     sex = CASE WHEN ? != '' THEN ? ELSE sex END WHERE id = ?",
                )
                .bind(&p.name)
                .bind(&p.name)
                .bind(&p.name_search)
                .bind(&p.name_search)
                .bind(&p.birth_date)
                .bind(&p.birth_date)
                .bind(&p.sex)
                .bind(&p.sex)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO patients (hospital_id, patient_id, issuer, patient_name, name_search, birth_date, sex) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(rec.hospital_id)
            .bind(&p.patient_id)
            .bind(&p.issuer)
            .bind(&p.name)
            .bind(&p.name_search)
            .bind(&p.birth_date)
            .bind(&p.sex)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        };

        let s = &rec.study;
        let study_ref: Option<i64> =
            sqlx::query_scalar("SELECT id FROM studies WHERE hospital_id = ? AND study_uid = ?")
                .bind(rec.hospital_id)
                .bind(&s.study_uid)
                .fetch_optional(&mut *tx)
                .await?;
        let study_ref = match study_ref {
            Some(id) => id,
            None => sqlx::query(
                "INSERT INTO studies (hospital_id, patient_ref, study_uid, study_date, study_time, accession, study_id, \
                 description, referring_physician, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(rec.hospital_id)
            .bind(patient_ref)
            .bind(&s.study_uid)
            .bind(&s.date)
            .bind(&s.time)
            .bind(&s.accession)
            .bind(&s.study_id)
            .bind(&s.description)
            .bind(&s.referring_physician)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        };

        let se = &rec.series;
        let series_ref: Option<i64> =
            sqlx::query_scalar("SELECT id FROM series WHERE study_ref = ? AND series_uid = ?")
                .bind(study_ref)
                .bind(&se.series_uid)
                .fetch_optional(&mut *tx)
                .await?;
        let (series_ref, new_series) = match series_ref {
            Some(id) => (id, false),
            None => (
                sqlx::query(
                    "INSERT INTO series (study_ref, series_uid, modality, series_number, description, body_part, \
                     pps_start_date, pps_start_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(study_ref)
                .bind(&se.series_uid)
                .bind(&se.modality)
                .bind(se.number)
                .bind(&se.description)
                .bind(&se.body_part)
                .bind(&se.pps_start_date)
                .bind(&se.pps_start_time)
                .execute(&mut *tx)
                .await?
                .last_insert_rowid(),
                true,
            ),
        };

        let i = &rec.instance;
        sqlx::query(
            "INSERT INTO instances (series_ref, hospital_id, sop_uid, sop_class_uid, instance_number, transfer_syntax, \
             rows, columns, bits_allocated, number_of_frames, blob_key, size_bytes, sha256, dataset_offset, \
             pixel_layout, metadata, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(series_ref)
        .bind(rec.hospital_id)
        .bind(&i.sop_uid)
        .bind(&i.sop_class_uid)
        .bind(i.number)
        .bind(&i.transfer_syntax)
        .bind(i.rows)
        .bind(i.columns)
        .bind(i.bits_allocated)
        .bind(i.number_of_frames)
        .bind(&rec.blob_key)
        .bind(rec.size_bytes)
        .bind(&rec.sha256)
        .bind(i.dataset_offset)
        .bind(&i.pixel_layout)
        .bind(&i.metadata)
        .bind(&now)
        .bind(&rec.source)
        .execute(&mut *tx)
        .await?;

        sqlx::query("UPDATE series SET num_instances = num_instances + 1 WHERE id = ?")
            .bind(series_ref)
            .execute(&mut *tx)
            .await?;
        if new_series {
            let mods: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT modality FROM series WHERE study_ref = ? AND modality != '' ORDER BY modality")
                    .bind(study_ref)
                    .fetch_all(&mut *tx)
                    .await?;
            sqlx::query(
                "UPDATE studies SET num_series = num_series + 1, num_instances = num_instances + 1, modalities = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(mods.join("\\"))
            .bind(&now)
            .bind(study_ref)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE studies SET num_instances = num_instances + 1, updated_at = ? WHERE id = ?",
            )
            .bind(&now)
            .bind(study_ref)
            .execute(&mut *tx)
            .await?;
        }
        super::insert_audit(&mut tx, &now, audit).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted)
    }

    /// Keeps a conflicting instance (same SOP Instance UID, other content) for review.
    pub async fn insert_conflict(
        &self,
        hospital_id: i64,
        sop_uid: &str,
        blob_key: &str,
        sha256: &str,
        size: i64,
        source: &str,
    ) -> Result<()> {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM instance_conflicts WHERE hospital_id = ? AND sha256 = ?",
        )
        .bind(hospital_id)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        if exists.is_none() {
            sqlx::query(
                "INSERT INTO instance_conflicts (hospital_id, sop_uid, blob_key, sha256, size_bytes, received_at, source) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(hospital_id)
            .bind(sop_uid)
            .bind(blob_key)
            .bind(sha256)
            .bind(size)
            .bind(now_rfc3339())
            .bind(source)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}
