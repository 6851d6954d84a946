//! The SQL of saved measurements (migration 0002). A measurement row belongs to one
//! user and one study row; every statement here carries the caller's [`Scope`] on
//! that study, so a measurement on a study the caller can no longer see is as absent
//! as the study itself, and the user id, so one user never reads another's.

use rangsi_wire::api::{Measurement, MeasurementKind};
use sqlx::Arguments;
use sqlx::Row;

use super::db;
use super::{Index, IndexError, Result, Scope, now_rfc3339};

/// The study an instance belongs to, when the scope lets the caller see it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyOfInstance {
    pub study_ref: i64,
    pub patient_id: String,
}

/// A saved row as stored, with the study's patient for the audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeasurement {
    pub measurement: Measurement,
    pub patient_id: String,
}

fn row_to_measurement(r: &db::Row) -> Result<StoredMeasurement> {
    let kind: String = r.get("kind");
    let points: String = r.get("points");
    let kind = MeasurementKind::from_name(&kind).ok_or_else(|| {
        IndexError::Conflict(format!("stored measurement of unknown kind {kind:?}"))
    })?;
    let points: Vec<[f64; 2]> = serde_json::from_str(&points)
        .map_err(|e| IndexError::Conflict(format!("stored measurement points: {e}")))?;
    let frame: i64 = r.get("frame");
    Ok(StoredMeasurement {
        measurement: Measurement {
            id: r.get("client_id"),
            study_uid: r.get("study_uid"),
            series_uid: r.get("series_uid"),
            sop_uid: r.get("sop_uid"),
            frame: u32::try_from(frame).unwrap_or(1),
            kind,
            points,
            updated_at: r.get("updated_at"),
        },
        patient_id: r.get("patient_id"),
    })
}

const SELECT: &str = "SELECT m.client_id, st.study_uid, m.series_uid, m.sop_uid, m.frame, m.kind, \
     m.points, m.updated_at, p.patient_id FROM measurements m \
     JOIN studies st ON st.id = m.study_ref JOIN patients p ON p.id = st.patient_ref";

impl Index {
    /// The study row of an instance (study, series, SOP Instance UIDs) visible in `scope`;
    /// the lowest row when a regional administrator sees two hospitals' copies.
    pub async fn study_of_instance(
        &self,
        scope: &Scope,
        study_uid: &str,
        series_uid: &str,
        sop_uid: &str,
    ) -> Result<Option<StudyOfInstance>> {
        let (sql, mut args) = scope.scoped(
            "SELECT st.id, p.patient_id FROM instances i JOIN series se ON se.id = i.series_ref \
             JOIN studies st ON st.id = se.study_ref JOIN patients p ON p.id = st.patient_ref \
             WHERE {scope} AND st.study_uid = ? AND se.series_uid = ? AND i.sop_uid = ? \
             ORDER BY st.id LIMIT 1"
                .to_owned(),
        );
        let _ = args.add(study_uid.to_owned());
        let _ = args.add(series_uid.to_owned());
        let _ = args.add(sop_uid.to_owned());
        let row = db::query_with(&(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| StudyOfInstance {
            study_ref: r.get(0),
            patient_id: r.get(1),
        }))
    }

    /// The patient of a study visible in `scope`, `None` when there is none.
    pub async fn visible_study_patient(
        &self,
        scope: &Scope,
        study_uid: &str,
    ) -> Result<Option<String>> {
        let (sql, mut args) = scope.scoped(
            "SELECT p.patient_id FROM studies st JOIN patients p ON p.id = st.patient_ref \
             WHERE {scope} AND st.study_uid = ? ORDER BY st.id LIMIT 1"
                .to_owned(),
        );
        let _ = args.add(study_uid.to_owned());
        Ok(db::query_scalar_with(&(sql), args)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A user's measurements on a study (every visible copy), oldest first.
    pub async fn measurements_of_study(
        &self,
        scope: &Scope,
        user_id: i64,
        study_uid: &str,
    ) -> Result<Vec<Measurement>> {
        let (sql, mut args) = scope.scoped(format!(
            "{SELECT} WHERE {{scope}} AND m.user_id = ? AND st.study_uid = ? ORDER BY m.id"
        ));
        let _ = args.add(user_id);
        let _ = args.add(study_uid.to_owned());
        let rows = db::query_with(&(sql), args).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| row_to_measurement(r).map(|s| s.measurement))
            .collect()
    }

    /// One of a user's measurements, when its study is visible in `scope`.
    pub async fn measurement(
        &self,
        scope: &Scope,
        user_id: i64,
        client_id: &str,
    ) -> Result<Option<StoredMeasurement>> {
        let (sql, mut args) = scope.scoped(format!(
            "{SELECT} WHERE {{scope}} AND m.user_id = ? AND m.client_id = ?"
        ));
        let _ = args.add(user_id);
        let _ = args.add(client_id.to_owned());
        let row = db::query_with(&(sql), args)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_measurement).transpose()
    }

    /// How many measurements a user has on one study row.
    pub async fn count_measurements(&self, user_id: i64, study_ref: i64) -> Result<i64> {
        Ok(db::query_scalar(
            "SELECT COUNT(*) FROM measurements WHERE user_id = ? AND study_ref = ?",
        )
        .bind(user_id)
        .bind(study_ref)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Creates or replaces a user's measurement `m.id` on the study row `study_ref`
    /// (which the service found visible). Returns the stored `updated_at`.
    ///
    /// A row of the same user and id on a study the caller cannot see any more is not
    /// touched: the statement then changes nothing and the caller is told "not found".
    pub async fn put_measurement(
        &self,
        scope: &Scope,
        user_id: i64,
        study_ref: i64,
        m: &Measurement,
    ) -> Result<Option<String>> {
        let now = now_rfc3339();
        let points = serde_json::to_string(&m.points)
            .map_err(|e| IndexError::Conflict(format!("measurement points: {e}")))?;
        let (scope_sql, scope_args) = scope.sql();
        let sql = format!(
            "INSERT INTO measurements (user_id, client_id, study_ref, series_uid, sop_uid, frame, kind, points, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET study_ref = excluded.study_ref, \
             series_uid = excluded.series_uid, sop_uid = excluded.sop_uid, frame = excluded.frame, \
             kind = excluded.kind, points = excluded.points, updated_at = excluded.updated_at \
             WHERE measurements.study_ref IN (SELECT st.id FROM studies st WHERE {scope_sql})"
        );
        let mut args = db::Args::default();
        let _ = args.add(user_id);
        let _ = args.add(m.id.clone());
        let _ = args.add(study_ref);
        let _ = args.add(m.series_uid.clone());
        let _ = args.add(m.sop_uid.clone());
        let _ = args.add(i64::from(m.frame));
        let _ = args.add(m.kind.name());
        let _ = args.add(points);
        let _ = args.add(now.clone());
        let _ = args.add(now.clone());
        for a in scope_args {
            let _ = args.add(a);
        }
        let done = db::query_with(&(sql), args).execute(&self.pool).await?;
        Ok((done.rows_affected() > 0).then_some(now))
    }

    /// Deletes a user's measurement when its study is visible in `scope`; false when
    /// there was none.
    pub async fn delete_measurement(
        &self,
        scope: &Scope,
        user_id: i64,
        client_id: &str,
    ) -> Result<bool> {
        let (scope_sql, scope_args) = scope.sql();
        let sql = format!(
            "DELETE FROM measurements WHERE user_id = ? AND client_id = ? \
             AND study_ref IN (SELECT st.id FROM studies st WHERE {scope_sql})"
        );
        let mut args = db::Args::default();
        let _ = args.add(user_id);
        let _ = args.add(client_id.to_owned());
        for a in scope_args {
            let _ = args.add(a);
        }
        let done = db::query_with(&(sql), args).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}
