//! Share links: a long random token (stored as SHA-256) that opens the viewer on exactly
//! some studies, without an account. It expires (default 7 days), can be revoked, may ask
//! a PIN or the patient's birth date, and wrong answers are throttled per token and per
//! address. Opening it makes a share session (a second random secret in a cookie) whose
//! principal has [`super::Scope`]`::Studies` — the same tenancy condition every query
//! carries — and is read-only (`web::auth` lets it GET the viewer's paths only).
//! Every opening, refused or not, is audited with address and user agent.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rangsi_wire::sharing::{
    Audience, NewShareLink, ShareLinkCreated, ShareLinkInfo, ShareLinkList, ShareNeeds, ShareOpen,
    ShareOpened,
};

use super::auth::{Role, hash_password, new_secret, secret_hash};
use super::referrals::require_user;
use super::{Archive, Principal, Protocol, Result, ServiceError, ShareAccess};
use crate::index::shares::{NewShareLinkRow, ShareLinkRow};

pub const DEFAULT_EXPIRY_DAYS: u32 = 7;
pub const MAX_EXPIRY_DAYS: u32 = 90;
/// A share session lives at most this long (and never past its link).
const SESSION_HOURS: i64 = 12;
/// Wrong PINs / birth dates per token, and failed openings per address, in [`WINDOW`].
pub const MAX_FAILURES_PER_TOKEN: usize = 5;
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The landing page of a token: `/s/{token}`.
pub const LANDING_PREFIX: &str = "/s/";
pub const TOKEN_PREFIX: &str = "rgsh_";

/// Seconds added to the share clock; settable only in test builds (debug assertions),
/// so integration tests can make links expire without sleeping.
static CLOCK_OFFSET_SECS: AtomicI64 = AtomicI64::new(0);

#[cfg(debug_assertions)]
pub fn set_test_clock_offset(secs: i64) {
    CLOCK_OFFSET_SECS.store(secs, Ordering::SeqCst);
}

fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc()
        + time::Duration::seconds(CLOCK_OFFSET_SECS.load(Ordering::SeqCst));
    t.replace_nanosecond(0).unwrap_or(t)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Archive {
    /// Seconds until `key` (token hash or address) may try again, when it has `limit`
    /// failures in the window. Counted in the index: the same on every node.
    async fn share_blocked(&self, key: &str, limit: usize) -> Result<Option<u64>> {
        use crate::index::leases::{ms, now_ms};
        let (now, window) = (now_ms(), ms(WINDOW));
        let (n, oldest) = self
            .index()
            .share_failures_since(key, now.saturating_sub(window))
            .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) < limit {
            return Ok(None);
        }
        let left_ms = oldest.map_or(window, |t| t.saturating_add(window).saturating_sub(now));
        Ok(Some(u64::try_from(left_ms / 1000).unwrap_or(0).max(1)))
    }

    /// Counts one failure of each key.
    async fn share_fail(&self, keys: &[&str]) -> Result<()> {
        use crate::index::leases::{ms, now_ms};
        for key in keys {
            self.index()
                .share_failure(key, now_ms(), ms(WINDOW))
                .await?;
        }
        Ok(())
    }
}

/// The address without its port: guesses from one host count together.
fn host_of(remote: &str) -> String {
    remote
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| remote.to_string())
}

/// A birth date as the patient types it: YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY, the year
/// in the Common or the Buddhist Era (> 2400: minus 543). DICOM DA out.
pub fn birth_date_as_da(text: &str) -> Option<String> {
    let t = text.trim();
    let (y, m, d) = if let Some((d, rest)) = t.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        (y, m, d)
    } else {
        let digits: String = t.chars().filter(|c| *c != '-').collect();
        if digits.len() != 8 {
            return None;
        }
        let (y, md) = digits.split_at(4);
        let (m, d) = md.split_at(2);
        return birth_date_as_da(&format!("{d}/{m}/{y}"));
    };
    let mut y: i32 = y.trim().parse().ok()?;
    let m: u8 = m.trim().parse().ok()?;
    let d: u8 = d.trim().parse().ok()?;
    if y > 2400 {
        y -= 543;
    }
    let month = time::Month::try_from(m).ok()?;
    let date = time::Date::from_calendar_date(y, month, d).ok()?;
    Some(format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

fn valid_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

fn info(l: &ShareLinkRow, study_uids: Vec<String>) -> ShareLinkInfo {
    ShareLinkInfo {
        id: l.id,
        audience: if l.audience == "patient" {
            Audience::Patient
        } else {
            Audience::Clinician
        },
        label: l.label.clone(),
        created_by: l.created_by.clone(),
        created_at: l.created_at.clone(),
        expires_at: l.expires_at.clone(),
        revoked_at: l.revoked_at.clone(),
        pin: l.pin_hash.is_some(),
        birth_date_check: l.birth_date_check,
        allow_download: l.allow_download,
        referral_id: l.referral_id,
        study_uids,
    }
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ServiceError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// The QR code of `text` as module rows (true = dark), with a 4-module quiet zone.
pub fn qr_modules(text: &str) -> Result<Vec<Vec<bool>>> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ServiceError::Internal(format!("QR code: {e}")))?;
    let w = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = w + 2 * quiet;
    let mut rows = vec![vec![false; size]; size];
    for y in 0..w {
        for x in 0..w {
            rows[y + quiet][x + quiet] = colors[y * w + x] == qrcode::Color::Dark;
        }
    }
    Ok(rows)
}

/// The QR code of `text` as an 8-bit grayscale PNG, `scale` pixels per module.
pub fn qr_png(text: &str, scale: usize) -> Result<Vec<u8>> {
    let rows = qr_modules(text)?;
    let size = rows.len() * scale;
    let mut pixels = Vec::with_capacity(size * size);
    for row in &rows {
        let line: Vec<u8> = row
            .iter()
            .flat_map(|&dark| std::iter::repeat_n(if dark { 0 } else { 255 }, scale))
            .collect();
        for _ in 0..scale {
            pixels.extend_from_slice(&line);
        }
    }
    let mut out = Vec::new();
    let dim = u32::try_from(size).map_err(|_| ServiceError::Internal("QR too large".into()))?;
    let mut enc = png::Encoder::new(&mut out, dim, dim);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| ServiceError::Internal(format!("PNG: {e}")))?;
    w.write_image_data(&pixels)
        .map_err(|e| ServiceError::Internal(format!("PNG: {e}")))?;
    w.finish()
        .map_err(|e| ServiceError::Internal(format!("PNG: {e}")))?;
    Ok(out)
}

/// A refused opening: what to tell the browser.
#[derive(Debug)]
pub enum OpenRefused {
    /// The PIN or birth date is missing or wrong (401 with what is needed).
    Needs(ShareNeeds, String),
    Service(ServiceError),
}

impl From<ServiceError> for OpenRefused {
    fn from(e: ServiceError) -> Self {
        OpenRefused::Service(e)
    }
}

impl From<crate::index::IndexError> for OpenRefused {
    fn from(e: crate::index::IndexError) -> Self {
        OpenRefused::Service(e.into())
    }
}

impl Archive {
    /// Makes a share link for studies the caller can see, or for a referral of the
    /// caller's hospital. `origin` (scheme://host) makes the QR code's URL.
    pub async fn create_share_link(
        &self,
        who: &Principal,
        req: &NewShareLink,
        default_days: u32,
        origin: &str,
    ) -> Result<ShareLinkCreated> {
        require_user(who)?;
        let days = req.expires_days.unwrap_or(default_days);
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(ServiceError::BadRequest(format!(
                "expires_days must be 1 to {MAX_EXPIRY_DAYS}"
            )));
        }
        if let Some(pin) = &req.pin
            && !valid_pin(pin)
        {
            return Err(ServiceError::BadRequest("a PIN is 4 to 12 digits".into()));
        }
        if req.audience == Audience::Patient && req.pin.is_none() && !req.birth_date_check {
            return Err(ServiceError::BadRequest(
                "a link for the patient needs a PIN or the birth date check".into(),
            ));
        }
        if req.label.len() > 200 {
            return Err(ServiceError::BadRequest("label: at most 200 bytes".into()));
        }
        let studies = match (req.referral_id, req.study_uids.is_empty()) {
            (Some(id), true) => {
                self.visible_referral(who, id).await?;
                self.index().referral_studies(id).await?
            }
            (None, false) => {
                let found = self
                    .index()
                    .visible_studies(&who.scope(), &req.study_uids)
                    .await?;
                let mut seen: Vec<&str> = found.iter().map(|s| s.study_uid.as_str()).collect();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() != {
                    let mut want: Vec<&String> = req.study_uids.iter().collect();
                    want.sort_unstable();
                    want.dedup();
                    want.len()
                } {
                    return Err(ServiceError::NotFound("no such study".into()));
                }
                found
            }
            _ => {
                return Err(ServiceError::BadRequest(
                    "give either study_uids or referral_id".into(),
                ));
            }
        };
        if studies.is_empty() {
            return Err(ServiceError::BadRequest("nothing to share".into()));
        }
        let token = new_secret(TOKEN_PREFIX);
        let pin_hash = req.pin.as_deref().map(hash_password).transpose()?;
        let expires_at = rfc3339(now() + time::Duration::days(i64::from(days)));
        let refs: Vec<i64> = studies.iter().map(|s| s.id).collect();
        let id = self
            .index()
            .create_share_link(&NewShareLinkRow {
                token_hash: &secret_hash(&token),
                hospital_id: who.hospital_id,
                created_by: &who.actor,
                referral_id: req.referral_id,
                audience: req.audience.as_str(),
                pin_hash: pin_hash.as_deref(),
                birth_date_check: req.birth_date_check,
                allow_download: req.allow_download,
                label: req.label.trim(),
                expires_at: &expires_at,
                study_refs: &refs,
            })
            .await?;
        for s in &studies {
            self.audit(
                who,
                "share-create",
                &s.study_uid,
                "",
                &format!(
                    "share link {id} ({}), expires {expires_at}",
                    req.audience.as_str()
                ),
                "ok",
            )
            .await?;
        }
        let link = self
            .index()
            .share_link(id)
            .await?
            .ok_or_else(|| ServiceError::Internal("share link vanished".into()))?;
        let uids = self.share_uids(id).await?;
        let path = format!("{LANDING_PREFIX}{token}");
        let qr_svg = qr_svg(&format!("{origin}{path}"))?;
        Ok(ShareLinkCreated {
            link: info(&link, uids),
            token,
            path,
            qr_svg,
        })
    }

    async fn share_uids(&self, link_id: i64) -> Result<Vec<String>> {
        let mut uids: Vec<String> = self
            .index()
            .share_link_studies(link_id)
            .await?
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        uids.dedup();
        Ok(uids)
    }

    /// A link the caller may manage: made at its hospital (any, for the administrator).
    async fn managed_link(&self, who: &Principal, id: i64) -> Result<ShareLinkRow> {
        require_user(who)?;
        match self.index().share_link(id).await? {
            Some(l)
                if (who.role == Role::Admin && who.hospital_id.is_none())
                    || (who.hospital_id.is_some() && l.hospital_id == who.hospital_id) =>
            {
                Ok(l)
            }
            _ => Err(ServiceError::NotFound(format!("no share link {id}"))),
        }
    }

    pub async fn share_links(&self, who: &Principal) -> Result<ShareLinkList> {
        require_user(who)?;
        let hospital = if who.role == Role::Admin && who.hospital_id.is_none() {
            None
        } else {
            Some(who.hospital_id.ok_or_else(|| {
                ServiceError::Forbidden("share links belong to a hospital".into())
            })?)
        };
        let rows = self.index().share_links_of(hospital).await?;
        let mut links = Vec::with_capacity(rows.len());
        for l in &rows {
            links.push(info(l, self.share_uids(l.id).await?));
        }
        Ok(ShareLinkList { links })
    }

    pub async fn revoke_share_link(&self, who: &Principal, id: i64) -> Result<ShareLinkInfo> {
        self.managed_link(who, id).await?;
        self.index().revoke_share_link(id).await?;
        self.audit(
            who,
            "share-revoke",
            "",
            "",
            &format!("share link {id}"),
            "ok",
        )
        .await?;
        let l = self.managed_link(who, id).await?;
        Ok(info(&l, self.share_uids(id).await?))
    }

    /// The QR code (PNG) of one of the caller's links' URLs, given the token: the token
    /// is not stored, so whoever asks must hold it.
    pub async fn share_qr_png(
        &self,
        who: &Principal,
        token: &str,
        origin: &str,
    ) -> Result<Vec<u8>> {
        require_user(who)?;
        let link = self
            .index()
            .share_link_by_token(&secret_hash(token))
            .await?;
        match link {
            Some(l) if self.managed_link(who, l.id).await.is_ok() => {
                qr_png(&format!("{origin}{LANDING_PREFIX}{token}"), 8)
            }
            _ => Err(ServiceError::NotFound("no such share link".into())),
        }
    }

    /// Opens a link: checks throttling, existence, revocation, expiry, then the PIN or
    /// birth date. On success returns a new session secret (for the cookie) and what
    /// it may see. Every attempt is audited.
    pub async fn open_share_link(
        &self,
        req: &ShareOpen,
        remote: &str,
        user_agent: &str,
    ) -> std::result::Result<(String, ShareOpened), OpenRefused> {
        let host = host_of(remote);
        let token_key = format!("t:{}", secret_hash(&req.token));
        let addr_key = format!("a:{host}");
        let guest = |link: Option<i64>| Principal {
            actor: link.map_or_else(|| "share:?".to_string(), |id| format!("share:{id}")),
            user_id: None,
            role: Role::Guest,
            hospital_id: None,
            protocol: Protocol::Api,
            remote: remote.to_string(),
            share: None,
        };
        let ua: String = user_agent.chars().take(300).collect();
        let throttled = |secs: u64| {
            OpenRefused::Service(ServiceError::Throttled {
                message: format!(
                    "too many wrong attempts: try again in {} minutes",
                    secs.div_ceil(60)
                ),
                retry_after_secs: secs,
            })
        };
        let blocked = match self
            .share_blocked(&addr_key, MAX_FAILURES_PER_ADDRESS)
            .await?
        {
            Some(secs) => Some(secs),
            None => {
                self.share_blocked(&token_key, MAX_FAILURES_PER_TOKEN)
                    .await?
            }
        };
        if let Some(secs) = blocked {
            self.audit(
                &guest(None),
                "share-open",
                "",
                "",
                &format!("throttled; ua={ua}"),
                "denied",
            )
            .await?;
            return Err(throttled(secs));
        }
        let link = self
            .index()
            .share_link_by_token(&secret_hash(&req.token))
            .await?;
        let Some(link) = link else {
            self.share_fail(&[&addr_key]).await?;
            self.audit(
                &guest(None),
                "share-open",
                "",
                "",
                &format!("unknown token; ua={ua}"),
                "denied",
            )
            .await?;
            return Err(ServiceError::NotFound("this link does not exist".into()).into());
        };
        let who = guest(Some(link.id));
        let now_s = rfc3339(now());
        if link.revoked_at.is_some() {
            self.audit(
                &who,
                "share-open",
                "",
                "",
                &format!("revoked; ua={ua}"),
                "denied",
            )
            .await?;
            return Err(ServiceError::Gone("this link has been revoked".into()).into());
        }
        if link.expires_at <= now_s {
            self.audit(
                &who,
                "share-open",
                "",
                "",
                &format!("expired; ua={ua}"),
                "denied",
            )
            .await?;
            return Err(ServiceError::Gone("this link has expired".into()).into());
        }
        if let Some(hash) = &link.pin_hash {
            let Some(pin) = req.pin.as_deref().filter(|p| !p.is_empty()) else {
                return Err(OpenRefused::Needs(ShareNeeds::Pin, "enter the PIN".into()));
            };
            let ok = super::auth::verify_password(hash, pin);
            if !ok {
                self.share_fail(&[&token_key, &addr_key]).await?;
                self.audit(
                    &who,
                    "share-open",
                    "",
                    "",
                    &format!("wrong PIN; ua={ua}"),
                    "denied",
                )
                .await?;
                if let Some(secs) = self
                    .share_blocked(&token_key, MAX_FAILURES_PER_TOKEN)
                    .await?
                {
                    return Err(throttled(secs));
                }
                return Err(OpenRefused::Needs(ShareNeeds::Pin, "wrong PIN".into()));
            }
        }
        if link.birth_date_check {
            let Some(given) = req.birth_date.as_deref().filter(|b| !b.trim().is_empty()) else {
                return Err(OpenRefused::Needs(
                    ShareNeeds::BirthDate,
                    "enter the patient's birth date".into(),
                ));
            };
            let known = self.index().share_link_birth_dates(link.id).await?;
            let ok = birth_date_as_da(given)
                .is_some_and(|da| known.iter().any(|k| !k.is_empty() && *k == da));
            if !ok {
                self.share_fail(&[&token_key, &addr_key]).await?;
                self.audit(
                    &who,
                    "share-open",
                    "",
                    "",
                    &format!("wrong birth date; ua={ua}"),
                    "denied",
                )
                .await?;
                if let Some(secs) = self
                    .share_blocked(&token_key, MAX_FAILURES_PER_TOKEN)
                    .await?
                {
                    return Err(throttled(secs));
                }
                return Err(OpenRefused::Needs(
                    ShareNeeds::BirthDate,
                    "wrong birth date".into(),
                ));
            }
        }
        let secret = new_secret("");
        // Both are `rfc3339` of whole seconds in UTC: as strings they order as times.
        let session_end =
            rfc3339(now() + time::Duration::hours(SESSION_HOURS)).min(link.expires_at.clone());
        self.index()
            .insert_share_session(&secret_hash(&secret), link.id, &session_end)
            .await?;
        let studies = self.index().share_link_studies(link.id).await?;
        for (_, uid) in &studies {
            self.audit(&who, "share-open", uid, "", &format!("ua={ua}"), "ok")
                .await?;
        }
        let hospital = match link.hospital_id {
            Some(h) => self.index().hospital_code(h).await?,
            None => None,
        };
        Ok((
            secret,
            ShareOpened {
                study_uids: self.share_uids(link.id).await?,
                allow_download: link.allow_download,
                audience: info(&link, vec![]).audience,
                expires_at: link.expires_at,
                hospital,
            },
        ))
    }

    /// The principal of a share session (the `rangsi_share` cookie): its link's studies
    /// only, while the link is neither revoked nor expired.
    pub async fn share_principal(
        &self,
        secret: &str,
        protocol: Protocol,
        remote: &str,
    ) -> Result<Principal> {
        let link = self
            .index()
            .share_session(&secret_hash(secret), &rfc3339(now()))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let study_refs = self
            .index()
            .share_link_studies(link.id)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Ok(Principal {
            actor: format!("share:{}", link.id),
            user_id: None,
            role: Role::Guest,
            hospital_id: None,
            protocol,
            remote: remote.to_string(),
            share: Some(ShareAccess {
                link_id: link.id,
                study_refs,
                allow_download: link.allow_download,
            }),
        })
    }

    /// What the share session of `who` may see (the landing page after a reload).
    pub async fn share_session_info(&self, who: &Principal) -> Result<ShareOpened> {
        let share = who
            .share
            .as_ref()
            .ok_or_else(|| ServiceError::BadRequest("not a share-link session".into()))?;
        let link = self
            .index()
            .share_link(share.link_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let hospital = match link.hospital_id {
            Some(h) => self.index().hospital_code(h).await?,
            None => None,
        };
        Ok(ShareOpened {
            study_uids: self.share_uids(link.id).await?,
            allow_download: link.allow_download,
            audience: info(&link, vec![]).audience,
            expires_at: link.expires_at,
            hospital,
        })
    }
}

impl Archive {
    /// A printable card (PDF) of a link for the patient: hospital header, the studies,
    /// a large QR code, the URL and what the link will ask. The token is not stored, so
    /// whoever asks must hold it (right after creating the link).
    pub async fn share_card_pdf(
        &self,
        who: &Principal,
        token: &str,
        origin: &str,
        font_path: &std::path::Path,
    ) -> Result<Vec<u8>> {
        require_user(who)?;
        let link = match self
            .index()
            .share_link_by_token(&secret_hash(token))
            .await?
        {
            Some(l) if self.managed_link(who, l.id).await.is_ok() => l,
            _ => return Err(ServiceError::NotFound("no such share link".into())),
        };
        let font = super::letter::read_font(font_path).await?;
        let rows = self.index().share_link_studies(link.id).await?;
        let uids: Vec<String> = rows.iter().map(|(_, u)| u.clone()).collect();
        let scope = crate::index::Scope::Studies(rows.iter().map(|(id, _)| *id).collect());
        let studies = self.index().visible_studies(&scope, &uids).await?;
        let patient = match studies.first() {
            Some(s) => self.index().patient(s.patient_ref).await?,
            None => None,
        };
        let hospital = match link.hospital_id {
            Some(h) => self.index().hospital_profile(h).await?,
            None => None,
        };
        let url = format!("{origin}{LANDING_PREFIX}{token}");
        let modules = qr_modules(&url)?;

        let mut l = super::letter::Letter::new(&font)?;
        if let Some(h) = &hospital {
            l.paragraph(
                if h.name_th.is_empty() {
                    &h.name
                } else {
                    &h.name_th
                },
                18.0,
                0.0,
            );
            if !h.name_en.is_empty() {
                l.paragraph(&h.name_en, 12.0, 0.0);
            }
            if !h.contact.is_empty() {
                l.paragraph(&h.contact, 10.0, 0.0);
            }
            l.rule();
        }
        l.paragraph("ภาพถ่ายทางรังสีของคุณ / Your imaging results", 16.0, 0.0);
        if let Some(p) = &patient {
            l.paragraph(
                &format!("{}    HN {}", p.name.replace('^', " "), p.patient_id),
                12.0,
                0.0,
            );
        }
        for s in &studies {
            l.paragraph(
                &format!(
                    "• {}  {}  {}",
                    s.study_date,
                    s.modalities.replace('\\', "/"),
                    s.description
                ),
                11.0,
                16.0,
            );
        }
        l.gap(8.0);
        let size = 220.0;
        let top = l.y;
        l.qr(&modules, (595.0 - size) / 2.0, top, size);
        l.gap(size + 10.0);
        l.paragraph("สแกน QR ด้วยกล้องโทรศัพท์เพื่อดูภาพ ไม่ต้องติดตั้งโปรแกรม", 12.0, 0.0);
        l.paragraph(
            "Scan the QR code with a phone camera to see the images; nothing to install.",
            11.0,
            0.0,
        );
        if link.birth_date_check {
            l.paragraph(
                "ระบบจะถามวันเกิดของผู้ป่วย / You will be asked the patient's birth date",
                11.0,
                0.0,
            );
        }
        if link.pin_hash.is_some() {
            l.paragraph(
                "ต้องใช้ PIN ที่ได้รับจากเจ้าหน้าที่ / You need the PIN the staff gave you",
                11.0,
                0.0,
            );
        }
        l.paragraph(
            &format!(
                "ใช้ได้ถึง / Valid until {}",
                link.expires_at.get(..10).unwrap_or(&link.expires_at)
            ),
            11.0,
            0.0,
        );
        l.gap(6.0);
        l.paragraph(&url, 8.0, 0.0);
        let pdf = l.finish(&font, "Rangsi share link")?;
        for u in &uids {
            self.audit(
                who,
                "share-card",
                u,
                "",
                &format!("share link {}", link.id),
                "ok",
            )
            .await?;
        }
        Ok(pdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_in_every_form() {
        for s in [
            "1980-03-07",
            "19800307",
            "07/03/1980",
            "2523-03-07",
            "07/03/2523",
        ] {
            assert_eq!(birth_date_as_da(s).as_deref(), Some("19800307"), "{s}");
        }
        for s in ["", "1980-02-30", "1980-13-01", "abc", "07/03"] {
            assert_eq!(birth_date_as_da(s), None, "{s}");
        }
    }

    #[test]
    fn host_drops_the_port() {
        assert_eq!(host_of("127.0.0.1:5555"), "127.0.0.1");
        assert_eq!(host_of("[::1]:80"), "::1");
    }
}
