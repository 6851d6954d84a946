//! Measurements saved per user: list a study's, create or replace one, delete one.
//!
//! Tenancy is retrieval's: a measurement can only be saved on an instance the
//! principal may read ([`Principal::scope`]), and a study the principal cannot see
//! answers "not found", as `/metadata` does. A measurement belongs to the user who
//! drew it; other users (even of the same hospital) never see it. Every call is
//! audited like other access to patient data. Input is validated here, so bad
//! requests are a [`ServiceError::BadRequest`] with a message.

use rangsi_wire::api::{Measurement, MeasurementList};

use super::{Archive, Principal, Result, ServiceError};

/// Longest measurement id.
const MAX_ID: usize = 64;
/// Longest UID (PS3.5 9.1).
const MAX_UID: usize = 64;
/// Coordinates beyond this (in image pixels) are not a position in any image.
const MAX_COORDINATE: f64 = 1.0e6;
/// The most measurements one user keeps on one study.
pub const MAX_PER_STUDY: i64 = 1000;

fn check_uid(name: &str, uid: &str) -> Result<()> {
    let ok = !uid.is_empty()
        && uid.len() <= MAX_UID
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "{name} must be a DICOM UID (digits and dots, at most {MAX_UID}), got {uid:?}"
        )))
    }
}

/// A measurement id: 1 to 64 letters, digits, `-` or `_`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "a measurement id is 1 to {MAX_ID} letters, digits, '-' or '_', got {id:?}"
        )))
    }
}

/// Checks a measurement as sent; the id of the URL wins over an empty one in the body.
pub fn validate(path_id: &str, mut m: Measurement) -> Result<Measurement> {
    check_id(path_id)?;
    if !m.id.is_empty() && m.id != path_id {
        return Err(ServiceError::BadRequest(format!(
            "the body's id {:?} is not the URL's {path_id:?}",
            m.id
        )));
    }
    m.id = path_id.to_owned();
    check_uid("study_uid", &m.study_uid)?;
    check_uid("series_uid", &m.series_uid)?;
    check_uid("sop_uid", &m.sop_uid)?;
    if m.frame == 0 {
        return Err(ServiceError::BadRequest("frame numbers start at 1".into()));
    }
    let wanted = m.kind.points();
    if m.points.len() != wanted {
        return Err(ServiceError::BadRequest(format!(
            "a {} measurement has {wanted} points, got {}",
            m.kind.name(),
            m.points.len()
        )));
    }
    if let Some(p) = m
        .points
        .iter()
        .find(|p| p.iter().any(|v| !v.is_finite() || v.abs() > MAX_COORDINATE))
    {
        return Err(ServiceError::BadRequest(format!(
            "point {p:?} is not an image position (finite, at most {MAX_COORDINATE:e} pixels)"
        )));
    }
    m.updated_at = String::new();
    Ok(m)
}

fn user_of(who: &Principal) -> Result<i64> {
    who.user_id.ok_or_else(|| {
        ServiceError::Forbidden("measurements are saved for a logged-in user".into())
    })
}

impl Archive {
    /// The caller's measurements on a study; 404 when the study is not visible.
    pub async fn measurements(&self, who: &Principal, study_uid: &str) -> Result<MeasurementList> {
        check_uid("study", study_uid)?;
        let user = user_of(who)?;
        let scope = who.scope();
        let Some(patient) = self
            .index()
            .visible_study_patient(&scope, study_uid)
            .await?
        else {
            self.audit(who, "measurements", study_uid, "", "list", "not-found")
                .await?;
            return Err(ServiceError::NotFound("no such study".into()));
        };
        let measurements = self
            .index()
            .measurements_of_study(&scope, user, study_uid)
            .await?;
        self.audit(
            who,
            "measurements",
            study_uid,
            &patient,
            &format!("list: {}", measurements.len()),
            "ok",
        )
        .await?;
        Ok(MeasurementList { measurements })
    }

    /// Audits a refused save and gives the 404 to return (an audit failure wins).
    async fn save_not_found(&self, who: &Principal, m: &Measurement, what: &str) -> ServiceError {
        match self
            .audit(
                who,
                "measurement-save",
                &m.study_uid,
                "",
                &m.id,
                "not-found",
            )
            .await
        {
            Ok(()) => ServiceError::NotFound(what.into()),
            Err(e) => e,
        }
    }

    /// Creates or replaces the caller's measurement `id` (validated by [`validate`]);
    /// 404 when its instance is not visible. Returns it as stored.
    pub async fn put_measurement(&self, who: &Principal, m: Measurement) -> Result<Measurement> {
        let user = user_of(who)?;
        let scope = who.scope();
        let Some(study) = self
            .index()
            .study_of_instance(&scope, &m.study_uid, &m.series_uid, &m.sop_uid)
            .await?
        else {
            return Err(self
                .save_not_found(who, &m, "no such study, series or instance")
                .await);
        };
        let existing = self.index().measurement(&scope, user, &m.id).await?;
        if existing.is_none()
            && self
                .index()
                .count_measurements(user, study.study_ref)
                .await?
                >= MAX_PER_STUDY
        {
            return Err(ServiceError::BadRequest(format!(
                "at most {MAX_PER_STUDY} measurements per study; delete some first"
            )));
        }
        let Some(updated_at) = self
            .index()
            .put_measurement(&scope, user, study.study_ref, &m)
            .await?
        else {
            // The id names a measurement of this user on a study no longer visible.
            return Err(self.save_not_found(who, &m, "no such measurement").await);
        };
        self.audit(
            who,
            "measurement-save",
            &m.study_uid,
            &study.patient_id,
            &format!("{} {} on {}", m.kind.name(), m.id, m.sop_uid),
            "ok",
        )
        .await?;
        Ok(Measurement { updated_at, ..m })
    }

    /// Deletes the caller's measurement `id`; 404 when there is none they can see.
    pub async fn delete_measurement(&self, who: &Principal, id: &str) -> Result<()> {
        check_id(id)?;
        let user = user_of(who)?;
        let scope = who.scope();
        let Some(found) = self.index().measurement(&scope, user, id).await? else {
            self.audit(who, "measurement-delete", "", "", id, "not-found")
                .await?;
            return Err(ServiceError::NotFound("no such measurement".into()));
        };
        self.index().delete_measurement(&scope, user, id).await?;
        self.audit(
            who,
            "measurement-delete",
            &found.measurement.study_uid,
            &found.patient_id,
            &format!("{} {id}", found.measurement.kind.name()),
            "ok",
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rangsi_wire::api::MeasurementKind;

    fn length() -> Measurement {
        Measurement {
            id: String::new(),
            study_uid: "1.2.3".into(),
            series_uid: "1.2.3.4".into(),
            sop_uid: "1.2.3.4.5".into(),
            frame: 1,
            kind: MeasurementKind::Length,
            points: vec![[1.0, 2.0], [30.5, 40.25]],
            updated_at: "client value".into(),
        }
    }

    #[test]
    fn a_good_measurement_takes_the_urls_id() {
        let m = validate("m-1_a", length()).expect("valid");
        assert_eq!(m.id, "m-1_a");
        assert_eq!(m.updated_at, "");
    }

    #[test]
    fn bad_measurements_are_refused_with_a_reason() {
        let msg = |r: Result<Measurement>| match r {
            Err(ServiceError::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        };
        assert!(msg(validate("a/b", length())).contains("id"));
        assert!(msg(validate(&"x".repeat(65), length())).contains("id"));
        let mut m = length();
        m.id = "other".into();
        assert!(msg(validate("mine", m)).contains("URL"));
        let mut m = length();
        m.points.push([0.0, 0.0]);
        assert!(msg(validate("a", m)).contains("2 points"));
        let mut m = length();
        m.points[1] = [f64::NAN, 0.0];
        assert!(msg(validate("a", m)).contains("image position"));
        let mut m = length();
        m.points[0] = [2.0e6, 0.0];
        assert!(msg(validate("a", m)).contains("image position"));
        let mut m = length();
        m.sop_uid = "1.2.abc".into();
        assert!(msg(validate("a", m)).contains("sop_uid"));
        let mut m = length();
        m.frame = 0;
        assert!(msg(validate("a", m)).contains("frame"));
    }
}
