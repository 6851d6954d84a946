//! "Take into archive": a referred study copied under the receiving hospital, with that
//! hospital's patient ID. Index rows only: the blobs are content-addressed and shared,
//! never rewritten (stored exactly as received); the copy's DICOM JSON carries the new
//! Patient ID, and the sender's ID (and the national ID) in Other Patient IDs Sequence.

use sqlx::Row;

use super::db;
use super::{Index, IndexError, Result, now_rfc3339};

/// The receiving hospital's identity for the copy.
pub struct CopyIdentity<'a> {
    pub hospital_id: i64,
    pub patient_id: &'a str,
    pub issuer: &'a str,
    /// (ID, issuer) pairs for Other Patient IDs Sequence.
    pub other_ids: &'a [(String, String)],
    pub source: &'a str,
}

/// The DICOM JSON of an instance with the copy's patient identity.
pub fn with_identity(metadata: &str, who: &CopyIdentity<'_>) -> Result<String> {
    use serde_json::{Value, json};
    let mut v: Value = serde_json::from_str(metadata)
        .map_err(|e| IndexError::Conflict(format!("stored metadata is not JSON: {e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(IndexError::Conflict(
            "stored metadata is not an object".into(),
        ));
    };
    obj.insert(
        "00100020".into(),
        json!({"vr": "LO", "Value": [who.patient_id]}),
    );
    if who.issuer.is_empty() {
        obj.remove("00100021");
    } else {
        obj.insert(
            "00100021".into(),
            json!({"vr": "LO", "Value": [who.issuer]}),
        );
    }
    let items: Vec<Value> = who
        .other_ids
        .iter()
        .map(|(id, issuer)| {
            json!({"00100020": {"vr": "LO", "Value": [id]}, "00100021": {"vr": "LO", "Value": [issuer]}})
        })
        .collect();
    obj.insert("00101002".into(), json!({"vr": "SQ", "Value": items}));
    Ok(v.to_string())
}

impl Index {
    /// DICOM JSON of the first instance of a study (for identity: Other Patient IDs).
    pub async fn first_metadata_of_study(&self, study_ref: i64) -> Result<Option<String>> {
        Ok(db::query_scalar(
            "SELECT i.metadata FROM instances i JOIN series se ON se.id = i.series_ref \
             WHERE se.study_ref = ? ORDER BY i.id LIMIT 1",
        )
        .bind(study_ref)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// DICOM JSON of the first instance of a patient's first study.
    pub async fn first_metadata_of_patient(&self, patient_ref: i64) -> Result<Option<String>> {
        Ok(db::query_scalar(
            "SELECT i.metadata FROM instances i JOIN series se ON se.id = i.series_ref \
             JOIN studies st ON st.id = se.study_ref WHERE st.patient_ref = ? ORDER BY i.id LIMIT 1",
        )
        .bind(patient_ref)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Copies one study (its series and instances) under `who.hospital_id` for
    /// `who.patient_id`, in one transaction. Returns the number of instances. A study
    /// or instance the hospital already holds is a conflict (nothing is copied).
    pub async fn copy_study(&self, study_ref: i64, who: &CopyIdentity<'_>) -> Result<i64> {
        let now = now_rfc3339();
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO patients (hospital_id, patient_id, issuer, patient_name, name_search, birth_date, sex) \
             SELECT ?, ?, ?, p.patient_name, p.name_search, p.birth_date, p.sex FROM studies st \
             JOIN patients p ON p.id = st.patient_ref WHERE st.id = ? \
             ON CONFLICT (hospital_id, patient_id, issuer) DO NOTHING",
        )
        .bind(who.hospital_id)
        .bind(who.patient_id)
        .bind(who.issuer)
        .bind(study_ref)
        .execute(&mut *tx)
        .await?;
        let patient_ref: i64 = db::query_scalar(
            "SELECT id FROM patients WHERE hospital_id = ? AND patient_id = ? AND issuer = ?",
        )
        .bind(who.hospital_id)
        .bind(who.patient_id)
        .bind(who.issuer)
        .fetch_one(&mut *tx)
        .await?;
        let inserted = db::query_scalar::<i64>(
            "INSERT INTO studies (hospital_id, patient_ref, study_uid, study_date, study_time, accession, study_id, \
             description, referring_physician, modalities, num_series, num_instances, created_at, updated_at) \
             SELECT ?, ?, study_uid, study_date, study_time, accession, study_id, description, referring_physician, \
             modalities, num_series, num_instances, ?, ? FROM studies WHERE id = ? RETURNING id",
        )
        .bind(who.hospital_id)
        .bind(patient_ref)
        .bind(&now)
        .bind(&now)
        .bind(study_ref)
        .fetch_one(&mut *tx)
        .await;
        let new_study = match inserted {
            Ok(d) => d,
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(IndexError::Conflict(
                    "this hospital already holds the study".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let series: Vec<i64> =
            db::query_scalar("SELECT id FROM series WHERE study_ref = ? ORDER BY id")
                .bind(study_ref)
                .fetch_all(&mut *tx)
                .await?;
        let mut count = 0;
        for old in series {
            let new_series = db::query_scalar::<i64>(
                "INSERT INTO series (study_ref, series_uid, modality, series_number, description, body_part, \
                 pps_start_date, pps_start_time, num_instances) SELECT ?, series_uid, modality, series_number, \
                 description, body_part, pps_start_date, pps_start_time, num_instances FROM series WHERE id = ? RETURNING id",
            )
            .bind(new_study)
            .bind(old)
            .fetch_one(&mut *tx)
            .await?;
            let rows =
                db::query("SELECT id, metadata FROM instances WHERE series_ref = ? ORDER BY id")
                    .bind(old)
                    .fetch_all(&mut *tx)
                    .await?;
            for r in rows {
                let old_instance: i64 = r.get(0);
                let metadata = with_identity(&r.get::<String, _>(1), who)?;
                let done = db::query(
                    "INSERT INTO instances (series_ref, hospital_id, sop_uid, sop_class_uid, instance_number, \
                     transfer_syntax, rows, columns, bits_allocated, number_of_frames, blob_key, size_bytes, sha256, \
                     dataset_offset, pixel_layout, metadata, received_at, source) \
                     SELECT ?, ?, sop_uid, sop_class_uid, instance_number, transfer_syntax, rows, columns, \
                     bits_allocated, number_of_frames, blob_key, size_bytes, sha256, dataset_offset, pixel_layout, \
                     ?, ?, ? FROM instances WHERE id = ?",
                )
                .bind(new_series)
                .bind(who.hospital_id)
                .bind(&metadata)
                .bind(&now)
                .bind(who.source)
                .bind(old_instance)
                .execute(&mut *tx)
                .await;
                match done {
                    Ok(_) => count += 1,
                    Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                        return Err(IndexError::Conflict(
                            "this hospital already holds an instance of the study".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        tx.commit().await?;
        Ok(count)
    }
}
