//! Consultation requests and the reading worklist (issue 7).
//!
//! Rules, here once for every protocol:
//! - A hospital asks for a reading of one of its own studies: from a reading hospital's
//!   radiologists as a group, or from one of them by name; STAT / urgent / routine with a
//!   due time (default 1 h, 6 h, 3 days), the clinical history, the question and the
//!   patient data a reader needs.
//! - The request grants the reading hospital the patient's studies at the requesting
//!   hospital (the study and its priors, nothing else) through the same `grants` every
//!   query's `Scope` reads; withdrawing the request revokes them. Both are audited.
//! - A reader claims a request (only one reader holds it) and may release it; signing
//!   the study's report completes it. The requester's hospital sees its status.
//! - The worklist of a radiologist: open requests to them or their group, then their
//!   hospital's own studies with no signed report; STAT first, then by due time.

use rangsi_wire::reports::{ConsultList, NewConsult, Worklist, WorklistItem};

use super::auth::Role;
use super::{Archive, Principal, Result, ServiceError};
use crate::index::consults::{ConsultRow, NewConsultRow};
use crate::index::rfc3339;

const PRIORITIES: [(&str, i64); 3] = [("stat", 1), ("urgent", 6), ("routine", 72)];
/// The longest history or question.
const MAX_TEXT: usize = 16 * 1024;
/// Local unreported studies shown in a worklist.
const LOCAL_LIMIT: i64 = 200;

fn rank(priority: &str) -> usize {
    PRIORITIES
        .iter()
        .position(|(p, _)| *p == priority)
        .unwrap_or(PRIORITIES.len())
}

fn member(who: &Principal) -> Result<(i64, i64)> {
    match (who.user_id, who.hospital_id, who.share.is_some()) {
        (Some(u), Some(h), false) => Ok((u, h)),
        _ => Err(ServiceError::Forbidden(
            "consultations are for users of a hospital".into(),
        )),
    }
}

fn check_text(name: &str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT {
        return Err(ServiceError::BadRequest(format!(
            "{name} is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

impl Archive {
    async fn load_consult(&self, who: &Principal, id: i64) -> Result<ConsultRow> {
        let row = self.index().consult(id).await?;
        match row {
            Some(c)
                if who.role == Role::Admin && who.hospital_id.is_none()
                    || who.hospital_id == Some(c.from_hospital_id)
                    || who.hospital_id == Some(c.to_hospital_id) =>
            {
                Ok(c)
            }
            _ => Err(ServiceError::NotFound(
                "no such consultation request".into(),
            )),
        }
    }

    /// Asks for a reading of one of the caller's hospital's studies.
    pub async fn create_consult(&self, who: &Principal, req: NewConsult) -> Result<ConsultList> {
        let (user, hospital) = member(who)?;
        let Some(hours) = PRIORITIES
            .iter()
            .find(|(p, _)| *p == req.priority)
            .map(|(_, h)| *h)
        else {
            return Err(ServiceError::BadRequest(format!(
                "priority is stat, urgent or routine, got {:?}",
                req.priority
            )));
        };
        check_text("history", &req.history)?;
        check_text("question", &req.question)?;
        let pd = &req.patient_data;
        for (name, v) in [
            ("weight", &pd.weight_kg),
            ("labs", &pd.labs),
            ("allergies", &pd.allergies),
            ("prior treatment", &pd.prior_treatment),
        ] {
            check_text(name, v)?;
        }
        let now = time::OffsetDateTime::now_utc();
        let due_at = match &req.due_at {
            None => rfc3339(now + time::Duration::hours(hours)),
            Some(d) => {
                let t =
                    time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| {
                            ServiceError::BadRequest(format!(
                                "due_at is an RFC 3339 time, got {d:?}"
                            ))
                        })?;
                rfc3339(t.to_offset(time::UtcOffset::UTC))
            }
        };
        let study = self
            .index()
            .report_study(&crate::index::Scope::Hospital(hospital), &req.study_uid)
            .await?
            .filter(|s| s.hospital_id == hospital)
            .ok_or_else(|| ServiceError::NotFound("no such study of your hospital".into()))?;
        let to = self
            .index()
            .hospital_by_code(&req.to_hospital)
            .await?
            .ok_or_else(|| {
                ServiceError::BadRequest(format!("no hospital {:?}", req.to_hospital))
            })?;
        let to_user = match &req.to_radiologist {
            None => None,
            Some(name) => {
                let u = self.index().user_by_name(name).await?.filter(|u| {
                    !u.disabled
                        && u.role == Role::Radiologist.as_str()
                        && u.hospital_id == Some(to.id)
                });
                Some(
                    u.ok_or_else(|| {
                        ServiceError::BadRequest(format!(
                            "{name:?} is no radiologist of hospital {}",
                            to.code
                        ))
                    })?
                    .id,
                )
            }
        };
        let patient_data =
            serde_json::to_string(pd).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let id = self
            .index()
            .create_consult(&NewConsultRow {
                study_ref: study.study_ref,
                from_hospital: hospital,
                requested_by: user,
                to_hospital: to.id,
                to_user,
                priority: &req.priority,
                due_at: &due_at,
                history: &req.history,
                question: &req.question,
                patient_data: &patient_data,
            })
            .await?;
        self.audit(
            who,
            "consult",
            &study.study_uid,
            &study.patient_id,
            &format!(
                "request {id} to {} ({}): grants the patient's studies",
                to.code, req.priority
            ),
            "ok",
        )
        .await?;
        self.consults(who, Some(&req.study_uid)).await
    }

    /// The requests the caller's hospital made or received (all for the regional
    /// administrator), optionally of one study.
    pub async fn consults(&self, who: &Principal, study_uid: Option<&str>) -> Result<ConsultList> {
        let hospital = match (who.role, who.hospital_id, who.share.is_some()) {
            (_, _, true) => return Err(ServiceError::Forbidden("not for share links".into())),
            (Role::Admin, None, _) => None,
            (_, Some(h), _) => Some(h),
            _ => return Ok(ConsultList::default()),
        };
        let rows = self.index().consults_of(hospital, study_uid).await?;
        Ok(ConsultList {
            consults: rows.into_iter().map(|r| r.consult).collect(),
        })
    }

    /// Claims, releases or withdraws a request.
    pub async fn consult_action(
        &self,
        who: &Principal,
        id: i64,
        action: &str,
    ) -> Result<ConsultList> {
        let (user, hospital) = member(who)?;
        let c = self.load_consult(who, id).await?;
        let reader = who.role == Role::Radiologist
            && hospital == c.to_hospital_id
            && c.to_user_id.is_none_or(|u| u == user);
        let done = match action {
            "claim" if reader => {
                self.index()
                    .consult_status(id, &["requested"], "claimed", Some(user))
                    .await?
            }
            "release" if reader && c.claimed_by_id == Some(user) => {
                self.index()
                    .consult_status(id, &["claimed"], "requested", None)
                    .await?
            }
            "withdraw" if hospital == c.from_hospital_id => {
                self.index().withdraw_consult(id).await?
            }
            "claim" | "release" | "withdraw" => {
                return Err(ServiceError::Forbidden(format!(
                    "you cannot {action} this request"
                )));
            }
            other => {
                return Err(ServiceError::BadRequest(format!(
                    "unknown action {other:?}"
                )));
            }
        };
        if !done {
            return Err(ServiceError::Conflict(format!(
                "the request is {}: it cannot be {action}ed now",
                c.consult.status
            )));
        }
        self.audit(
            who,
            "consult",
            &c.consult.study_uid,
            &c.consult.patient_id,
            &format!("{action} {id}"),
            "ok",
        )
        .await?;
        self.consults(who, Some(&c.consult.study_uid)).await
    }

    /// The caller's reading worklist (radiologists).
    pub async fn worklist(&self, who: &Principal) -> Result<Worklist> {
        let (user, hospital) = member(who)?;
        if who.role != Role::Radiologist {
            return Err(ServiceError::Forbidden(
                "the reading worklist is for radiologists".into(),
            ));
        }
        let mut items: Vec<WorklistItem> = self
            .index()
            .consults_for_reader(hospital, user)
            .await?
            .into_iter()
            .map(|r| {
                let c = r.consult;
                WorklistItem {
                    study_uid: c.study_uid.clone(),
                    patient_id: c.patient_id.clone(),
                    patient_name: c.patient_name.clone(),
                    study_date: String::new(),
                    description: c.study_description.clone(),
                    modalities: c.modalities.clone(),
                    hospital: c.from_hospital.clone(),
                    priority: c.priority.clone(),
                    due_at: Some(c.due_at.clone()),
                    overdue: c.overdue,
                    report_state: c.report_state,
                    consult: Some(c),
                }
            })
            .collect();
        for s in self
            .index()
            .unreported_studies(hospital, LOCAL_LIMIT)
            .await?
        {
            if items.iter().any(|i| i.study_uid == s.study_uid) {
                continue;
            }
            items.push(WorklistItem {
                consult: None,
                study_uid: s.study_uid,
                patient_id: s.patient_id,
                patient_name: s.patient_name,
                study_date: s.study_date,
                description: s.description,
                modalities: s.modalities,
                hospital: s.hospital,
                priority: "routine".into(),
                due_at: None,
                overdue: false,
                report_state: s.report_state,
            });
        }
        // STAT, urgent, routine; within each, the earliest due first (requests before
        // local studies, which have no due time).
        items.sort_by(|a, b| {
            rank(&a.priority)
                .cmp(&rank(&b.priority))
                .then_with(|| match (&a.due_at, &b.due_at) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        Ok(Worklist { items })
    }
}

impl Archive {
    /// Stores a PDF or JPEG into one of the caller's hospital's studies as DICOM
    /// (`dicom::attach`): a scanned request form, an outside report. Its SOP Instance UID.
    pub async fn attach(
        &self,
        who: &Principal,
        study_uid: &str,
        media_type: &str,
        title: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let (_, hospital) = member(who)?;
        if title.chars().count() > 64 {
            return Err(ServiceError::BadRequest(
                "a title has at most 64 characters".into(),
            ));
        }
        let study = self
            .index()
            .report_study(&crate::index::Scope::Hospital(hospital), study_uid)
            .await?
            .filter(|s| s.hospital_id == hospital)
            .ok_or_else(|| ServiceError::NotFound("no such study of your hospital".into()))?;
        let (class, modality, what) = match media_type {
            "application/pdf" => (
                dicom_dictionary_std::uids::ENCAPSULATED_PDF_STORAGE,
                "DOC",
                "Attachment (PDF)",
            ),
            "image/jpeg" => (
                dicom_dictionary_std::uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
                "OT",
                "Attachment (image)",
            ),
            other => {
                return Err(ServiceError::Unsupported(format!(
                    "an attachment is application/pdf or image/jpeg, got {other:?}"
                )));
            }
        };
        let series_uid = crate::dicom::sr::new_uid();
        let sop_uid = crate::dicom::sr::new_uid();
        let n = crate::dicom::make::NewInstance {
            sop_class_uid: class,
            sop_uid: &sop_uid,
            series_uid: &series_uid,
            modality,
            series_number: 9100,
            series_description: if title.is_empty() { what } else { title },
            instance_number: 1,
            at: time::OffsetDateTime::now_utc(),
        };
        let file = match media_type {
            "application/pdf" => crate::dicom::attach::encapsulated_pdf(&study, &n, title, bytes),
            _ => crate::dicom::attach::secondary_capture_jpeg(&study, &n, bytes),
        }
        .map_err(ServiceError::BadRequest)?;
        self.store_made(who, &study, &sop_uid, &file).await?;
        self.audit(
            who,
            "attachment",
            &study.study_uid,
            &study.patient_id,
            &format!("{media_type} {sop_uid}"),
            "ok",
        )
        .await?;
        Ok(sop_uid)
    }
}
