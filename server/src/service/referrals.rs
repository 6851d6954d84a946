//! Referrals: hospital A sends a patient (chosen studies, or all of the patient's) to
//! hospital B. Creating one gives B an explicit grant on those studies — rows of
//! `grants`, which [`crate::index::Scope::Hospital`] reads, so B's QIDO, WADO, frames and
//! viewer see them through the one tenancy check and nothing else. Only B moves the
//! status forward; a declined referral's grants are revoked. Everything is audited.

use rangsi_wire::sharing::{
    HospitalList, HospitalProfile, HospitalProfileUpdate, NewReferral, Referral, ReferralList,
    ReferralPatient, ReferralStatus, ReferralStudy, Urgency,
};

use super::auth::Role;
use super::{Archive, Principal, Result, ServiceError};
use crate::index::referrals::{HospitalProfileRow, NewReferralRow, ReferralRow};

const MAX_TEXT: usize = 8000;

/// A signed-in user of the archive (not a share-link guest, not a DICOM peer).
pub(crate) fn require_user(who: &Principal) -> Result<()> {
    if who.share.is_some() || who.user_id.is_none() || who.role == Role::Guest {
        return Err(ServiceError::Forbidden(
            "this needs a signed-in user of a hospital".into(),
        ));
    }
    Ok(())
}

pub(crate) fn profile(h: &HospitalProfileRow) -> HospitalProfile {
    HospitalProfile {
        code: h.code.clone(),
        name: h.name.clone(),
        name_th: h.name_th.clone(),
        name_en: h.name_en.clone(),
        capabilities: h
            .capabilities
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        contact: h.contact.clone(),
    }
}

fn check_text(what: &str, text: &str, required: bool) -> Result<()> {
    if required && text.trim().is_empty() {
        return Err(ServiceError::BadRequest(format!(
            "{what} must not be empty"
        )));
    }
    if text.len() > MAX_TEXT {
        return Err(ServiceError::BadRequest(format!(
            "{what} is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

impl Archive {
    /// The region's hospitals (for the referral form).
    pub async fn hospitals(&self, who: &Principal) -> Result<HospitalList> {
        require_user(who)?;
        let rows = self.index().hospital_profiles().await?;
        Ok(HospitalList {
            hospitals: rows.iter().map(profile).collect(),
        })
    }

    /// Sets a hospital's profile (regional administrator, or the CLI).
    pub async fn set_hospital_profile(
        &self,
        who: &Principal,
        code: &str,
        update: &HospitalProfileUpdate,
    ) -> Result<HospitalProfile> {
        if who.protocol != super::Protocol::Cli {
            require_user(who)?;
        }
        // The regional administrator (or the CLI), not a hospital's own administrator.
        if who.role != Role::Admin
            || (who.hospital_id.is_some() && who.protocol != super::Protocol::Cli)
        {
            return Err(ServiceError::Forbidden(
                "only the regional administrator changes hospitals".into(),
            ));
        }
        let id = self
            .index()
            .hospital_by_code(code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {code}")))?
            .id;
        let mut p = self
            .index()
            .hospital_profile(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {code}")))?;
        if let Some(v) = &update.name_th {
            check_text("name_th", v, false)?;
            p.name_th = v.trim().to_string();
        }
        if let Some(v) = &update.name_en {
            check_text("name_en", v, false)?;
            p.name_en = v.trim().to_string();
        }
        if let Some(v) = &update.capabilities {
            if v.iter().any(|c| c.contains(',') || c.len() > 64) {
                return Err(ServiceError::BadRequest(
                    "a capability has no comma and at most 64 bytes".into(),
                ));
            }
            p.capabilities = v.iter().map(|c| c.trim()).collect::<Vec<_>>().join(",");
        }
        if let Some(v) = &update.contact {
            check_text("contact", v, false)?;
            p.contact = v.trim().to_string();
        }
        self.index().set_hospital_profile(&p).await?;
        self.audit(
            who,
            "hospital-update",
            "",
            "",
            &format!("hospital {code} (id {id})"),
            "ok",
        )
        .await?;
        Ok(profile(&p))
    }

    pub async fn create_referral(&self, who: &Principal, req: &NewReferral) -> Result<Referral> {
        require_user(who)?;
        let from = who.hospital_id.ok_or_else(|| {
            ServiceError::Forbidden("only a user of a hospital can refer a patient".into())
        })?;
        check_text("reason", &req.reason, true)?;
        check_text("clinical_summary", &req.clinical_summary, false)?;
        let to = self
            .index()
            .hospital_by_code(&req.to_hospital)
            .await?
            .ok_or_else(|| ServiceError::BadRequest(format!("no hospital {}", req.to_hospital)))?;
        if to.id == from {
            return Err(ServiceError::BadRequest(
                "a referral goes to another hospital".into(),
            ));
        }
        let studies = match (&req.patient_id, req.study_uids.is_empty()) {
            (Some(pid), true) => {
                let issuer = req.issuer.as_deref().unwrap_or("");
                let patient = self
                    .index()
                    .patient_by_key(from, pid, issuer)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no patient {pid}")))?;
                self.index().studies_of_patient(patient.id).await?
            }
            (None, false) => {
                let found = self.index().own_studies(from, &req.study_uids).await?;
                if found.len() != req.study_uids.len() {
                    return Err(ServiceError::NotFound(
                        "a study to refer is not one of this hospital's".into(),
                    ));
                }
                found
            }
            _ => {
                return Err(ServiceError::BadRequest(
                    "give either study_uids or patient_id".into(),
                ));
            }
        };
        let Some(first) = studies.first() else {
            return Err(ServiceError::BadRequest("the patient has no study".into()));
        };
        if studies.iter().any(|s| s.patient_ref != first.patient_ref) {
            return Err(ServiceError::BadRequest(
                "a referral is for one patient: the studies belong to several".into(),
            ));
        }
        let refs: Vec<i64> = studies.iter().map(|s| s.id).collect();
        let id = self
            .index()
            .create_referral(&NewReferralRow {
                from_hospital: from,
                to_hospital: to.id,
                patient_ref: first.patient_ref,
                reason: req.reason.trim(),
                urgency: req.urgency.as_str(),
                clinical_summary: req.clinical_summary.trim(),
                created_by: &who.actor,
                study_refs: &refs,
            })
            .await?;
        let patient = self.index().patient(first.patient_ref).await?;
        let pid = patient.map(|p| p.patient_id).unwrap_or_default();
        for s in &studies {
            self.audit(
                who,
                "grant",
                &s.study_uid,
                &pid,
                &format!("referral {id}: hospital {} may read", to.code),
                "ok",
            )
            .await?;
        }
        self.audit(
            who,
            "referral-create",
            "",
            &pid,
            &format!("referral {id} to {}", to.code),
            "ok",
        )
        .await?;
        self.referral_json(id).await
    }

    async fn referral_json(&self, id: i64) -> Result<Referral> {
        let r = self
            .index()
            .referral(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no referral {id}")))?;
        self.referral_of_row(&r).await
    }

    async fn referral_of_row(&self, r: &ReferralRow) -> Result<Referral> {
        let hospital = |id| async move {
            self.index()
                .hospital_profile(id)
                .await
                .map(|h| profile(&h.unwrap_or_default()))
        };
        let patient = self.index().patient(r.patient_ref).await?;
        let studies = self.index().referral_studies(r.id).await?;
        Ok(Referral {
            id: r.id,
            from_hospital: hospital(r.from_hospital).await?,
            to_hospital: hospital(r.to_hospital).await?,
            patient: patient
                .map(|p| ReferralPatient {
                    patient_id: p.patient_id,
                    name: p.name,
                    birth_date: p.birth_date,
                    sex: p.sex,
                })
                .unwrap_or(ReferralPatient {
                    patient_id: String::new(),
                    name: String::new(),
                    birth_date: String::new(),
                    sex: String::new(),
                }),
            reason: r.reason.clone(),
            urgency: Urgency::parse(&r.urgency).unwrap_or(Urgency::Routine),
            clinical_summary: r.clinical_summary.clone(),
            status: ReferralStatus::parse(&r.status).unwrap_or(ReferralStatus::Sent),
            created_by: r.created_by.clone(),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
            studies: studies
                .into_iter()
                .map(|s| ReferralStudy {
                    study_uid: s.study_uid,
                    study_date: s.study_date,
                    description: s.description,
                    modalities: s.modalities,
                    num_instances: s.num_instances,
                })
                .collect(),
        })
    }

    /// A referral the caller's hospital sent or received (any, for the administrator).
    pub(crate) async fn visible_referral(&self, who: &Principal, id: i64) -> Result<ReferralRow> {
        require_user(who)?;
        let r = self.index().referral(id).await?;
        match r {
            Some(r)
                if (who.role == Role::Admin && who.hospital_id.is_none())
                    || who.hospital_id == Some(r.from_hospital)
                    || who.hospital_id == Some(r.to_hospital) =>
            {
                Ok(r)
            }
            _ => Err(ServiceError::NotFound(format!("no referral {id}"))),
        }
    }

    pub async fn referral(&self, who: &Principal, id: i64) -> Result<Referral> {
        let r = self.visible_referral(who, id).await?;
        self.referral_of_row(&r).await
    }

    /// The caller's hospital's incoming or outgoing referrals, newest first.
    pub async fn referrals(&self, who: &Principal, incoming: bool) -> Result<ReferralList> {
        require_user(who)?;
        let hospital = who.hospital_id.ok_or_else(|| {
            ServiceError::BadRequest("referral lists are per hospital; this user has none".into())
        })?;
        let rows = self.index().referrals_of(hospital, incoming).await?;
        let mut referrals = Vec::with_capacity(rows.len());
        for r in &rows {
            referrals.push(self.referral_of_row(r).await?);
        }
        Ok(ReferralList { referrals })
    }

    /// Moves a referral forward. Only a user of the receiving hospital may, and only
    /// along [`ReferralStatus::next`].
    pub async fn set_referral_status(
        &self,
        who: &Principal,
        id: i64,
        to: ReferralStatus,
    ) -> Result<Referral> {
        let r = self.visible_referral(who, id).await?;
        if who.hospital_id != Some(r.to_hospital) {
            self.audit(
                who,
                "referral-status",
                "",
                "",
                &format!("referral {id} -> {}", to.as_str()),
                "denied",
            )
            .await?;
            return Err(ServiceError::Forbidden(
                "only the receiving hospital changes a referral's status".into(),
            ));
        }
        let from = ReferralStatus::parse(&r.status).unwrap_or(ReferralStatus::Sent);
        if !from.next().contains(&to) {
            return Err(ServiceError::Conflict(format!(
                "a {} referral cannot become {}",
                from.as_str(),
                to.as_str()
            )));
        }
        if !self
            .index()
            .set_referral_status(id, from.as_str(), to.as_str())
            .await?
        {
            return Err(ServiceError::Conflict(
                "the referral changed meanwhile; reload it".into(),
            ));
        }
        self.audit(
            who,
            "referral-status",
            "",
            "",
            &format!("referral {id}: {} -> {}", from.as_str(), to.as_str()),
            "ok",
        )
        .await?;
        if to == ReferralStatus::Declined {
            for s in self.index().referral_studies(id).await? {
                self.audit(
                    who,
                    "grant-revoke",
                    &s.study_uid,
                    "",
                    &format!("referral {id} declined"),
                    "ok",
                )
                .await?;
            }
        }
        self.referral_json(id).await
    }
}

/// Other Patient IDs (0010,1000) and the IDs of Other Patient IDs Sequence (0010,1002)
/// of an instance's DICOM JSON.
fn other_patient_ids(metadata: Option<&str>) -> Vec<String> {
    let Some(v) = metadata.and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()) else {
        return Vec::new();
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.get("Value")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = v.get("00101000").map(strings).unwrap_or_default();
    if let Some(items) = v
        .get("00101002")
        .and_then(|s| s.get("Value"))
        .and_then(|a| a.as_array())
    {
        for item in items {
            out.extend(item.get("00100020").map(strings).unwrap_or_default());
        }
    }
    out
}

impl Archive {
    /// Copies referred studies under the receiving hospital with its patient ID (HN),
    /// after reconciling identity: when both records carry a Thai national ID (Patient
    /// ID with its issuer, or Other Patient IDs) they must agree.
    pub async fn take_into_archive(
        &self,
        who: &Principal,
        id: i64,
        req: &rangsi_wire::sharing::TakeIntoArchive,
    ) -> Result<rangsi_wire::sharing::TakenIntoArchive> {
        use super::thai_id;
        let r = self.visible_referral(who, id).await?;
        if who.hospital_id != Some(r.to_hospital) {
            return Err(ServiceError::Forbidden(
                "only the receiving hospital takes a referral's studies into its archive".into(),
            ));
        }
        if r.status == ReferralStatus::Declined.as_str() {
            return Err(ServiceError::Conflict("the referral was declined".into()));
        }
        let pid = req.patient_id.trim();
        let issuer = req.issuer.as_deref().unwrap_or("").trim();
        let bad = |s: &str| s.len() > 64 || s.chars().any(|c| c.is_control() || c == '\\');
        if pid.is_empty() || bad(pid) || bad(issuer) {
            return Err(ServiceError::BadRequest(
                "patient_id: 1 to 64 characters, no backslash".into(),
            ));
        }
        let mut studies = self.index().referral_studies(id).await?;
        if !req.study_uids.is_empty() {
            studies.retain(|s| req.study_uids.contains(&s.study_uid));
            if studies.len() != req.study_uids.len() {
                return Err(ServiceError::NotFound(
                    "a study is not part of the referral".into(),
                ));
            }
        }
        let Some(first) = studies.first() else {
            return Err(ServiceError::BadRequest("the referral has no study".into()));
        };
        let theirs = self
            .index()
            .patient(r.patient_ref)
            .await?
            .ok_or_else(|| ServiceError::NotFound("the referred patient is gone".into()))?;
        let their_meta = self.index().first_metadata_of_study(first.id).await?;
        let their_nid = thai_id::from_patient(
            &theirs.patient_id,
            &theirs.issuer,
            other_patient_ids(their_meta.as_deref())
                .iter()
                .map(String::as_str),
        );
        let ours = self
            .index()
            .patient_by_key(r.to_hospital, pid, issuer)
            .await?;
        let our_meta = match &ours {
            Some(p) => self.index().first_metadata_of_patient(p.id).await?,
            None => None,
        };
        let our_nid = thai_id::from_patient(
            pid,
            issuer,
            other_patient_ids(our_meta.as_deref())
                .iter()
                .map(String::as_str),
        );
        if let (Some(a), Some(b)) = (&their_nid, &our_nid)
            && a != b
        {
            self.audit(
                who,
                "take-into-archive",
                &first.study_uid,
                pid,
                &format!("referral {id}: national IDs differ"),
                "denied",
            )
            .await?;
            return Err(ServiceError::Conflict(
                "the Thai national IDs of the two patient records differ: check the patient ID"
                    .into(),
            ));
        }
        let national_id = their_nid.or(our_nid);
        let from_code = self
            .index()
            .hospital_code(r.from_hospital)
            .await?
            .unwrap_or_default();
        let mut other_ids = vec![(theirs.patient_id.clone(), from_code)];
        if let Some(n) = &national_id {
            other_ids.push((n.clone(), "TH-NID".to_string()));
        }
        let source = format!("referral {id}");
        let identity = crate::index::copy::CopyIdentity {
            hospital_id: r.to_hospital,
            patient_id: pid,
            issuer,
            other_ids: &other_ids,
            source: &source,
        };
        let mut instances = 0;
        let mut uids = Vec::new();
        for s in &studies {
            instances += self
                .index()
                .copy_study(s.id, &identity)
                .await
                .map_err(|e| match e {
                    crate::index::IndexError::Conflict(m) => ServiceError::Conflict(m),
                    other => other.into(),
                })?;
            self.audit(
                who,
                "take-into-archive",
                &s.study_uid,
                pid,
                &format!("referral {id}, from patient {}", theirs.patient_id),
                "ok",
            )
            .await?;
            uids.push(s.study_uid.clone());
        }
        Ok(rangsi_wire::sharing::TakenIntoArchive {
            patient_id: pid.to_string(),
            national_id,
            studies: uids,
            instances,
        })
    }
}

impl Archive {
    /// The referral letter as PDF, with the QR code of a new share link (for clinicians,
    /// the referral's studies, the server's default expiry) printed on it.
    pub async fn referral_letter(
        &self,
        who: &Principal,
        id: i64,
        days: u32,
        origin: &str,
        font_path: &std::path::Path,
    ) -> Result<Vec<u8>> {
        let referral = self.referral(who, id).await?;
        let font = super::letter::read_font(font_path).await?;
        let link = self
            .create_share_link(
                who,
                &rangsi_wire::sharing::NewShareLink {
                    referral_id: Some(id),
                    label: format!("referral letter {id}"),
                    ..Default::default()
                },
                days,
                origin,
            )
            .await?;
        let url = format!("{origin}{}", link.path);
        let modules = super::shares::qr_modules(&url)?;
        let pdf = letter_pdf(&referral, &link.link.expires_at, &modules, &font)?;
        self.audit(
            who,
            "referral-letter",
            "",
            &referral.patient.patient_id,
            &format!("referral {id}, share link {}", link.link.id),
            "ok",
        )
        .await?;
        Ok(pdf)
    }
}

/// DICOM DA (YYYYMMDD) as a Thai date: day, month name, Buddhist Era year.
fn thai_date(da: &str) -> String {
    const MONTHS: [&str; 12] = [
        "มกราคม",
        "กุมภาพันธ์",
        "มีนาคม",
        "เมษายน",
        "พฤษภาคม",
        "มิถุนายน",
        "กรกฎาคม",
        "สิงหาคม",
        "กันยายน",
        "ตุลาคม",
        "พฤศจิกายน",
        "ธันวาคม",
    ];
    let digits: String = da.chars().filter(char::is_ascii_digit).take(8).collect();
    if digits.len() != 8 {
        return da.to_string();
    }
    let (y, md) = digits.split_at(4);
    let (m, d) = md.split_at(2);
    match (y.parse::<i32>(), m.parse::<usize>(), d.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(d)) if (1..=12).contains(&m) => {
            format!("{d} {} {}", MONTHS[m - 1], y + 543)
        }
        _ => da.to_string(),
    }
}

fn letter_pdf(r: &Referral, expires_at: &str, qr: &[Vec<bool>], font: &[u8]) -> Result<Vec<u8>> {
    use super::letter::Letter;
    let mut l = Letter::new(font)?;
    let from = &r.from_hospital;
    let name_th = if from.name_th.is_empty() {
        &from.name
    } else {
        &from.name_th
    };
    l.paragraph(name_th, 18.0, 0.0);
    if !from.name_en.is_empty() {
        l.paragraph(&from.name_en, 12.0, 0.0);
    }
    let contact = if from.contact.is_empty() {
        format!("รหัสสถานพยาบาล / Hospital code {}", from.code)
    } else {
        format!("{} · รหัส {}", from.contact, from.code)
    };
    l.paragraph(&contact, 10.0, 0.0);
    l.rule();
    l.paragraph("หนังสือส่งตัวผู้ป่วย / Referral letter", 16.0, 0.0);
    let created = r
        .created_at
        .get(..10)
        .unwrap_or(&r.created_at)
        .replace('-', "");
    l.paragraph(
        &format!("เลขที่ / No. {}    วันที่ / Date {}", r.id, thai_date(&created)),
        11.0,
        0.0,
    );
    let to = &r.to_hospital;
    let to_name = if to.name_th.is_empty() {
        to.name.clone()
    } else {
        format!("{} ({})", to.name_th, to.name)
    };
    l.paragraph(&format!("เรียน / To: {to_name}"), 12.0, 0.0);
    if !to.contact.is_empty() {
        l.paragraph(&format!("ติดต่อ / Contact: {}", to.contact), 10.0, 16.0);
    }
    l.gap(4.0);
    let p = &r.patient;
    l.paragraph(
        &format!(
            "ผู้ป่วย / Patient: {}    HN {}    เกิด / Born {}    เพศ / Sex {}",
            p.name.replace('^', " "),
            p.patient_id,
            thai_date(&p.birth_date),
            p.sex
        ),
        12.0,
        0.0,
    );
    let urgency = match r.urgency {
        Urgency::Routine => "ปกติ / Routine",
        Urgency::Urgent => "เร่งด่วน / Urgent",
        Urgency::Emergency => "ฉุกเฉิน / Emergency",
    };
    l.paragraph(&format!("ความเร่งด่วน / Urgency: {urgency}"), 12.0, 0.0);
    l.paragraph(&format!("เหตุผลที่ส่งต่อ / Reason: {}", r.reason), 12.0, 0.0);
    if !r.clinical_summary.is_empty() {
        l.paragraph("สรุปอาการทางคลินิก / Clinical summary:", 12.0, 0.0);
        l.paragraph(&r.clinical_summary, 11.0, 16.0);
    }
    l.paragraph("ภาพถ่ายทางรังสีที่ส่งไป / Studies sent:", 12.0, 0.0);
    for s in &r.studies {
        l.paragraph(
            &format!(
                "• {}  {}  {}  ({} ภาพ / images)",
                thai_date(&s.study_date),
                s.modalities.replace('\\', "/"),
                s.description,
                s.num_instances
            ),
            11.0,
            16.0,
        );
    }
    l.gap(6.0);
    l.paragraph(&format!("ผู้ส่ง / Referred by: {}", r.created_by), 11.0, 0.0);
    l.rule();
    let size = 130.0;
    let top = l.y;
    l.qr(qr, 595.0 - 56.0 - size, top, size);
    l.paragraph("สแกน QR เพื่อดูภาพ (ไม่ต้องติดตั้งโปรแกรม)", 11.0, 0.0);
    l.paragraph("Scan the QR code to view the images", 11.0, 0.0);
    let expires = expires_at.get(..10).unwrap_or(expires_at).replace('-', "");
    l.paragraph(
        &format!("ใช้ได้ถึง / Valid until {}", thai_date(&expires)),
        10.0,
        0.0,
    );
    l.finish(font, &format!("Referral {}", r.id))
}
