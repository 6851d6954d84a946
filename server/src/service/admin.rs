//! Administration of hospitals, users, AE titles, API tokens, statistics and the audit
//! log: the CLI ([`Admin`]) and the admin portal (`Archive::admin_*`, `/api/admin/…`).
//!
//! The portal's permission rule, in one place ([`Archive::admin_scope`]): role `admin`
//! without a hospital (the regional administrator) administers everything; role `admin`
//! with a hospital administers only that hospital's users, AE titles, tokens,
//! statistics and audit records, and may read (not change) its own hospital's profile;
//! everyone else gets 403. Every portal action, refusals included, is audited.

use super::auth::{Role, hash_password};
use super::{Archive, Result, ServiceError};
use crate::index::admin::{AeRow, Hospital, UserRow};

pub struct Admin<'a> {
    pub(super) archive: &'a Archive,
}

fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 16 && code.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Admin<'_> {
    pub async fn add_hospital(&self, code: &str, name: &str) -> Result<()> {
        if !valid_code(code) {
            return Err(ServiceError::BadRequest(format!(
                "hospital code must be letters and digits (the 5-digit MOPH code): {code:?}"
            )));
        }
        if name.trim().is_empty() {
            return Err(ServiceError::BadRequest(
                "hospital name must not be empty".into(),
            ));
        }
        self.archive.index().add_hospital(code, name.trim()).await?;
        Ok(())
    }

    pub async fn list_hospitals(&self) -> Result<Vec<Hospital>> {
        Ok(self.archive.index().list_hospitals().await?)
    }

    async fn hospital_id(&self, code: &str) -> Result<i64> {
        Ok(self
            .archive
            .index()
            .hospital_by_code(code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital with code {code}")))?
            .id)
    }

    pub async fn add_user(
        &self,
        username: &str,
        hospital: Option<&str>,
        role: Role,
        password: &str,
    ) -> Result<()> {
        if username.is_empty()
            || username.len() > 64
            || username.chars().any(|c| c.is_control() || c == ':')
        {
            return Err(ServiceError::BadRequest(format!(
                "invalid user name {username:?}"
            )));
        }
        let hospital_id = match hospital {
            Some(code) => Some(self.hospital_id(code).await?),
            None if role == Role::Admin => None,
            None => {
                return Err(ServiceError::BadRequest(
                    "every user except a regional admin needs --hospital".into(),
                ));
            }
        };
        self.archive
            .index()
            .add_user(
                username,
                hospital_id,
                role.as_str(),
                &hash_password(password)?,
            )
            .await?;
        Ok(())
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(self.archive.index().list_users().await?)
    }

    pub async fn add_ae(
        &self,
        ae: &str,
        hospital: &str,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<()> {
        let id = self.hospital_id(hospital).await?;
        self.archive.index().add_ae(ae, id, host, port).await?;
        Ok(())
    }

    pub async fn list_aes(&self) -> Result<Vec<AeRow>> {
        Ok(self.archive.index().list_aes().await?)
    }
}

// ---- the admin portal ----

use rangsi_wire::admin::{
    AdminAe, AdminAeList, AdminHospital, AdminHospitalList, AdminToken, AdminTokenList, AdminUser,
    AdminUserList, AuditEntry, AuditFilter, AuditPage, DayCount, GatewayTokenCreated,
    HospitalStats, HospitalUpdate, NewGatewayToken, NewHospital, NewToken, NewUser, PasswordReset,
    REGIONAL_POOL, TokenCreated, UserSaved, UserUpdate,
};

use super::Principal;
use crate::index::IndexError;
use crate::index::admin::{AdminHospitalRow, AuditRow, AuditSearch, TokenRow};

/// What an administrator administers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminScope {
    /// The regional administrator: every hospital.
    Region,
    /// A hospital's own administrator.
    Hospital(i64),
}

impl AdminScope {
    fn hospital(self) -> Option<i64> {
        match self {
            AdminScope::Region => None,
            AdminScope::Hospital(h) => Some(h),
        }
    }
}

/// Audit records per page at most.
pub const MAX_AUDIT_PAGE: u32 = 1000;
const MAX_NAME: usize = 200;
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;
const STATS_DAYS: i64 = 30;

fn conflict(e: IndexError) -> ServiceError {
    match e {
        IndexError::Conflict(m) => ServiceError::Conflict(m),
        e => e.into(),
    }
}

fn bad(m: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(m.into())
}

/// A 5-digit MOPH hospital code.
fn check_moph_code(code: &str) -> Result<()> {
    if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(bad(format!(
            "a hospital code is the 5-digit MOPH code, got {code:?}"
        )))
    }
}

/// One line of text: no control characters, at most `max` characters.
fn check_line(what: &str, v: &str, required: bool, max: usize) -> Result<String> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(bad(format!("{what} must not be empty")));
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what} is one line of at most {max} characters"
        )));
    }
    Ok(v.to_string())
}

fn check_capabilities(caps: &[String]) -> Result<String> {
    if caps.len() > 32 {
        return Err(bad("at most 32 capabilities"));
    }
    let mut out: Vec<String> = Vec::new();
    for c in caps {
        let c = check_line("a capability", c, true, 64)?;
        if c.contains(',') {
            return Err(bad(format!("a capability has no comma: {c:?}")));
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out.join(","))
}

fn split_capabilities(c: &str) -> Vec<String> {
    c.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

fn is_pool(h: &AdminHospitalRow) -> bool {
    split_capabilities(&h.capabilities)
        .iter()
        .any(|c| c == REGIONAL_POOL)
}

fn hospital_wire(h: &AdminHospitalRow) -> AdminHospital {
    AdminHospital {
        code: h.code.clone(),
        name: h.name.clone(),
        name_th: h.name_th.clone(),
        name_en: h.name_en.clone(),
        province: h.province.clone(),
        capabilities: split_capabilities(&h.capabilities),
        contact: h.contact.clone(),
        users: u32::try_from(h.users).unwrap_or(0),
        aes: u32::try_from(h.aes).unwrap_or(0),
    }
}

fn check_username(username: &str) -> Result<()> {
    if username.is_empty()
        || username.chars().count() > 64
        || username.trim() != username
        || username.chars().any(|c| c.is_control() || c == ':')
    {
        return Err(bad(format!(
            "a user name has 1 to 64 characters, no colon, no control characters and no surrounding spaces: {username:?}"
        )));
    }
    Ok(())
}

fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(bad(format!(
            "a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// A role of the portal: the stored role, and whether it is a regional reader.
fn parse_role(role: &str) -> Result<(Role, bool)> {
    match role {
        "regional_reader" => Ok((Role::Radiologist, true)),
        "admin" | "radiologist" | "doctor" | "technologist" => role
            .parse()
            .map(|r| (r, false))
            .map_err(|e: anyhow::Error| bad(e.to_string())),
        other => Err(bad(format!(
            "unknown role {other:?}: admin, radiologist, doctor, technologist or regional_reader"
        ))),
    }
}

fn check_ae_title(ae: &str) -> Result<()> {
    if ae.is_empty()
        || ae.len() > 16
        || ae.trim() != ae
        || !ae.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        return Err(bad(format!(
            "an AE title has 1 to 16 printable ASCII characters, no backslash, no surrounding spaces: {ae:?}"
        )));
    }
    Ok(())
}

/// `YYYY-MM-DD` as the RFC 3339 instant it starts at (UTC); `next` the day after.
fn day_instant(day: &str, what: &str, next: bool) -> Result<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(day.trim(), &format)
        .map_err(|_| bad(format!("{what} is a day as YYYY-MM-DD, got {day:?}")))?;
    let d = if next { d.next_day().unwrap_or(d) } else { d };
    Ok(crate::index::rfc3339(d.midnight().assume_utc()))
}

fn audit_wire(r: AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: r.at,
        actor: r.actor,
        hospital: r.hospital_code,
        protocol: r.protocol,
        remote: r.remote,
        action: r.action,
        study_uid: r.study_uid,
        patient_id: r.patient_id,
        detail: r.detail,
        outcome: r.outcome,
    }
}

fn token_wire(t: &TokenRow) -> AdminToken {
    AdminToken {
        id: t.id,
        username: t.username.clone(),
        hospital: t.hospital_code.clone(),
        kind: t.kind.clone(),
        note: t.note.clone(),
        created_at: t.created_at.clone(),
        expires_at: t.expires_at.clone(),
    }
}

/// The CSV header of the audit export.
pub const AUDIT_CSV_HEADER: &str =
    "id,at,actor,hospital,protocol,remote,action,study_uid,patient_id,detail,outcome\r\n";

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A
/// leading `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not take a
/// field as a formula.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// One audit record as a CSV line (CRLF).
pub fn audit_csv_line(r: &AuditRow) -> String {
    let fields = [
        r.id.to_string(),
        r.at.clone(),
        r.actor.clone(),
        r.hospital_code.clone().unwrap_or_default(),
        r.protocol.clone(),
        r.remote.clone(),
        r.action.clone(),
        r.study_uid.clone(),
        r.patient_id.clone(),
        r.detail.clone(),
        r.outcome.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

impl Archive {
    /// The one permission check of the portal; a refusal is audited.
    pub async fn admin_scope(&self, who: &Principal, what: &str) -> Result<AdminScope> {
        if who.share.is_none() && who.role == Role::Admin {
            return Ok(match who.hospital_id {
                None => AdminScope::Region,
                Some(h) => AdminScope::Hospital(h),
            });
        }
        self.audit(who, "admin-denied", "", "", what, "denied")
            .await?;
        Err(ServiceError::Forbidden(
            "the admin portal is for administrators".into(),
        ))
    }

    async fn admin_region(&self, who: &Principal, what: &str) -> Result<()> {
        match self.admin_scope(who, what).await? {
            AdminScope::Region => Ok(()),
            AdminScope::Hospital(_) => {
                self.audit(who, "admin-denied", "", "", what, "denied")
                    .await?;
                Err(ServiceError::Forbidden(format!(
                    "only the regional administrator may {what}"
                )))
            }
        }
    }

    /// Refuses a hospital administrator anything of another hospital (or of none).
    async fn admin_own(
        &self,
        who: &Principal,
        scope: AdminScope,
        hospital: Option<i64>,
        what: &str,
    ) -> Result<()> {
        match scope {
            AdminScope::Region => Ok(()),
            AdminScope::Hospital(h) if hospital == Some(h) => Ok(()),
            AdminScope::Hospital(_) => {
                self.audit(who, "admin-denied", "", "", what, "denied")
                    .await?;
                Err(ServiceError::Forbidden(format!(
                    "a hospital administrator administers only their own hospital: {what}"
                )))
            }
        }
    }

    async fn admin_hospital_row(&self, code: &str) -> Result<AdminHospitalRow> {
        self.index()
            .admin_hospital(code)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no hospital {code}")))
    }

    async fn admin_user_row(&self, username: &str) -> Result<crate::index::admin::UserRow> {
        self.index()
            .user_by_name(username)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user {username}")))
    }

    async fn admin_user_wire(
        &self,
        u: &crate::index::admin::UserRow,
        created_at: &str,
    ) -> Result<AdminUser> {
        let pool = match u.hospital_code.as_deref() {
            Some(code) if u.role == Role::Radiologist.as_str() => self
                .index()
                .admin_hospital(code)
                .await?
                .is_some_and(|h| is_pool(&h)),
            _ => false,
        };
        Ok(AdminUser {
            username: u.username.clone(),
            role: u.role.clone(),
            hospital: u.hospital_code.clone(),
            disabled: u.disabled,
            regional_reader: pool,
            created_at: created_at.to_string(),
        })
    }

    pub async fn admin_hospitals(&self, who: &Principal) -> Result<AdminHospitalList> {
        let scope = self.admin_scope(who, "list hospitals").await?;
        let rows = self.index().admin_hospitals(scope.hospital()).await?;
        Ok(AdminHospitalList {
            hospitals: rows.iter().map(hospital_wire).collect(),
        })
    }

    pub async fn admin_create_hospital(
        &self,
        who: &Principal,
        h: &NewHospital,
    ) -> Result<AdminHospital> {
        self.admin_region(who, "create hospitals").await?;
        let code = h.code.trim();
        check_moph_code(code)?;
        let mut row = AdminHospitalRow {
            code: code.to_string(),
            name: check_line("the hospital's name", &h.name, true, MAX_NAME)?,
            name_th: check_line("the Thai name", &h.name_th, false, MAX_NAME)?,
            name_en: check_line("the English name", &h.name_en, false, MAX_NAME)?,
            province: check_line("the province", &h.province, false, 64)?,
            capabilities: check_capabilities(&h.capabilities)?,
            contact: check_line("the contact", &h.contact, false, MAX_NAME)?,
            ..Default::default()
        };
        row.id = self
            .index()
            .insert_admin_hospital(&row)
            .await
            .map_err(conflict)?;
        self.audit(
            who,
            "admin-hospital-create",
            "",
            "",
            &format!("{} {:?} {}", row.code, row.name, row.province),
            "ok",
        )
        .await?;
        Ok(hospital_wire(&row))
    }

    pub async fn admin_update_hospital(
        &self,
        who: &Principal,
        code: &str,
        u: &HospitalUpdate,
    ) -> Result<AdminHospital> {
        self.admin_region(who, "change hospitals").await?;
        let mut row = self.admin_hospital_row(code).await?;
        if let Some(v) = &u.name {
            row.name = check_line("the hospital's name", v, true, MAX_NAME)?;
        }
        if let Some(v) = &u.name_th {
            row.name_th = check_line("the Thai name", v, false, MAX_NAME)?;
        }
        if let Some(v) = &u.name_en {
            row.name_en = check_line("the English name", v, false, MAX_NAME)?;
        }
        if let Some(v) = &u.province {
            row.province = check_line("the province", v, false, 64)?;
        }
        if let Some(v) = &u.capabilities {
            row.capabilities = check_capabilities(v)?;
        }
        if let Some(v) = &u.contact {
            row.contact = check_line("the contact", v, false, MAX_NAME)?;
        }
        self.index().update_admin_hospital(&row).await?;
        self.audit(
            who,
            "admin-hospital-update",
            "",
            "",
            &format!("{} {:?} {}", row.code, row.name, row.province),
            "ok",
        )
        .await?;
        Ok(hospital_wire(&row))
    }

    pub async fn admin_users(&self, who: &Principal) -> Result<AdminUserList> {
        let scope = self.admin_scope(who, "list users").await?;
        let rows = self.index().admin_users(scope.hospital()).await?;
        let pools: Vec<String> = self
            .index()
            .admin_hospitals(None)
            .await?
            .iter()
            .filter(|h| is_pool(h))
            .map(|h| h.code.clone())
            .collect();
        Ok(AdminUserList {
            users: rows
                .into_iter()
                .map(|r| AdminUser {
                    regional_reader: r.user.role == Role::Radiologist.as_str()
                        && r.user
                            .hospital_code
                            .as_ref()
                            .is_some_and(|c| pools.contains(c)),
                    username: r.user.username,
                    role: r.user.role,
                    hospital: r.user.hospital_code,
                    disabled: r.user.disabled,
                    created_at: r.created_at,
                })
                .collect(),
        })
    }

    pub async fn admin_create_user(&self, who: &Principal, u: &NewUser) -> Result<UserSaved> {
        let scope = self.admin_scope(who, "create users").await?;
        check_username(&u.username)?;
        let (role, reader) = parse_role(&u.role)?;
        let hospital = match (u.hospital.as_deref().map(str::trim), scope) {
            (Some(code), _) if !code.is_empty() => Some(self.admin_hospital_row(code).await?),
            (_, AdminScope::Hospital(h)) => self.index().admin_hospitals(Some(h)).await?.pop(),
            (_, AdminScope::Region) => None,
        };
        self.admin_own(
            who,
            scope,
            hospital.as_ref().map(|h| h.id),
            &format!("create user {}", u.username),
        )
        .await?;
        match &hospital {
            None if role != Role::Admin => {
                return Err(bad(
                    "every user except a regional administrator belongs to a hospital",
                ));
            }
            Some(h) if reader && !is_pool(h) => {
                return Err(bad(format!(
                    "a regional reader is a radiologist of a regional reading pool: hospital {} lacks the {REGIONAL_POOL:?} capability",
                    h.code
                )));
            }
            _ => {}
        }
        let (password, generated) = match &u.password {
            Some(p) => {
                check_password(p)?;
                (p.clone(), false)
            }
            None => (super::auth::generate_password(), true),
        };
        self.index()
            .add_user(
                &u.username,
                hospital.as_ref().map(|h| h.id),
                role.as_str(),
                &hash_password(&password)?,
            )
            .await
            .map_err(conflict)?;
        self.audit(
            who,
            "admin-user-create",
            "",
            "",
            &format!(
                "{} role={} hospital={}",
                u.username,
                u.role,
                hospital.as_ref().map_or("-", |h| h.code.as_str())
            ),
            "ok",
        )
        .await?;
        let row = self.admin_user_row(&u.username).await?;
        Ok(UserSaved {
            user: self
                .admin_user_wire(&row, &crate::index::now_rfc3339())
                .await?,
            password: generated.then_some(password),
        })
    }

    pub async fn admin_update_user(
        &self,
        who: &Principal,
        username: &str,
        u: &UserUpdate,
    ) -> Result<AdminUser> {
        let scope = self.admin_scope(who, "change users").await?;
        let row = self.admin_user_row(username).await?;
        self.admin_own(
            who,
            scope,
            row.hospital_id,
            &format!("change user {username}"),
        )
        .await?;
        let myself = who.user_id == Some(row.id);
        if let Some(role) = &u.role {
            let (r, reader) = parse_role(role)?;
            if myself && r.as_str() != row.role {
                return Err(bad("you cannot change your own role"));
            }
            match row.hospital_code.as_deref() {
                None if r != Role::Admin => {
                    return Err(bad(
                        "a regional administrator has no hospital: their role stays admin",
                    ));
                }
                Some(code) if reader => {
                    let h = self.admin_hospital_row(code).await?;
                    if !is_pool(&h) {
                        return Err(bad(format!(
                            "a regional reader is a radiologist of a regional reading pool: hospital {code} lacks the {REGIONAL_POOL:?} capability"
                        )));
                    }
                }
                _ => {}
            }
            self.index().set_user_role(row.id, r.as_str()).await?;
            self.audit(
                who,
                "admin-user-update",
                "",
                "",
                &format!("{username} role={role}"),
                "ok",
            )
            .await?;
        }
        if let Some(disabled) = u.disabled {
            if myself && disabled {
                return Err(bad("you cannot disable yourself"));
            }
            self.index().set_user_disabled(row.id, disabled).await?;
            super::auth::forget_cached_logins();
            self.audit(
                who,
                if disabled {
                    "admin-user-disable"
                } else {
                    "admin-user-enable"
                },
                "",
                "",
                username,
                "ok",
            )
            .await?;
        }
        let row = self.admin_user_row(username).await?;
        let created = self
            .index()
            .admin_users(row.hospital_id)
            .await?
            .into_iter()
            .find(|r| r.user.id == row.id)
            .map(|r| r.created_at)
            .unwrap_or_default();
        self.admin_user_wire(&row, &created).await
    }

    pub async fn admin_reset_password(
        &self,
        who: &Principal,
        username: &str,
        p: &PasswordReset,
    ) -> Result<UserSaved> {
        let scope = self.admin_scope(who, "reset passwords").await?;
        let row = self.admin_user_row(username).await?;
        self.admin_own(
            who,
            scope,
            row.hospital_id,
            &format!("reset the password of {username}"),
        )
        .await?;
        let (password, generated) = match &p.password {
            Some(p) => {
                check_password(p)?;
                (p.clone(), false)
            }
            None => (super::auth::generate_password(), true),
        };
        self.index()
            .set_password(row.id, &hash_password(&password)?)
            .await?;
        super::auth::forget_cached_logins();
        self.audit(who, "admin-user-password", "", "", username, "ok")
            .await?;
        Ok(UserSaved {
            user: self.admin_user_wire(&row, "").await?,
            password: generated.then_some(password),
        })
    }

    pub async fn admin_aes(&self, who: &Principal) -> Result<AdminAeList> {
        let scope = self.admin_scope(who, "list AE titles").await?;
        Ok(AdminAeList {
            aes: self
                .index()
                .admin_aes(scope.hospital())
                .await?
                .into_iter()
                .map(|a| AdminAe {
                    ae_title: a.ae_title,
                    hospital: a.hospital_code,
                    host: a.host,
                    port: a.port,
                })
                .collect(),
        })
    }

    pub async fn admin_add_ae(&self, who: &Principal, ae: &AdminAe) -> Result<AdminAe> {
        let scope = self.admin_scope(who, "add AE titles").await?;
        check_ae_title(&ae.ae_title)?;
        let h = self.admin_hospital_row(ae.hospital.trim()).await?;
        self.admin_own(
            who,
            scope,
            Some(h.id),
            &format!("add AE title {}", ae.ae_title),
        )
        .await?;
        let host = match ae.host.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(host) => {
                if host.len() > 253 || !host.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(bad(format!("bad host {host:?}")));
                }
                Some(host.to_string())
            }
        };
        if host.is_some() != ae.port.is_some() || ae.port == Some(0) {
            return Err(bad(
                "a C-MOVE destination has both a host and a port (1-65535), or neither",
            ));
        }
        self.index()
            .add_ae(&ae.ae_title, h.id, host.as_deref(), ae.port)
            .await
            .map_err(conflict)?;
        self.audit(
            who,
            "admin-ae-add",
            "",
            "",
            &format!("{} hospital={}", ae.ae_title, h.code),
            "ok",
        )
        .await?;
        Ok(AdminAe {
            ae_title: ae.ae_title.clone(),
            hospital: h.code,
            host,
            port: ae.port,
        })
    }

    pub async fn admin_remove_ae(&self, who: &Principal, ae_title: &str) -> Result<()> {
        let scope = self.admin_scope(who, "remove AE titles").await?;
        let ae = self
            .index()
            .ae_by_title(ae_title)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no AE title {ae_title}")))?;
        self.admin_own(
            who,
            scope,
            Some(ae.hospital_id),
            &format!("remove AE title {ae_title}"),
        )
        .await?;
        self.index().remove_ae(ae_title).await?;
        self.audit(
            who,
            "admin-ae-remove",
            "",
            "",
            &format!("{ae_title} hospital={}", ae.hospital_code),
            "ok",
        )
        .await?;
        Ok(())
    }

    pub async fn admin_tokens(&self, who: &Principal) -> Result<AdminTokenList> {
        let scope = self.admin_scope(who, "list tokens").await?;
        Ok(AdminTokenList {
            tokens: self
                .index()
                .admin_tokens(scope.hospital())
                .await?
                .iter()
                .map(token_wire)
                .collect(),
        })
    }

    /// A token for a hospital's gateway (`rangsi token create --gateway` from the portal);
    /// a hospital administrator only for their hospital.
    pub async fn admin_create_gateway_token(
        &self,
        who: &Principal,
        g: &NewGatewayToken,
    ) -> Result<GatewayTokenCreated> {
        let scope = self.admin_scope(who, "create gateway tokens").await?;
        let h = self.admin_hospital_row(g.hospital.trim()).await?;
        self.admin_own(
            who,
            scope,
            Some(h.id),
            &format!("create a gateway token for hospital {}", h.code),
        )
        .await?;
        if let Some(d) = g.expires_days
            && !(1..=3650).contains(&d)
        {
            return Err(bad("a token expires in 1 to 3650 days, or never"));
        }
        let name = g.name.trim();
        let secret = self
            .create_gateway_token(name, &h.code, g.expires_days)
            .await?;
        self.audit(
            who,
            "admin-gateway-token-create",
            "",
            "",
            &format!("gateway {name} of hospital {}", h.code),
            "ok",
        )
        .await?;
        Ok(GatewayTokenCreated {
            name: name.to_owned(),
            hospital: h.code,
            secret,
        })
    }

    pub async fn admin_create_token(&self, who: &Principal, t: &NewToken) -> Result<TokenCreated> {
        let scope = self.admin_scope(who, "create tokens").await?;
        let user = self.admin_user_row(t.username.trim()).await?;
        self.admin_own(
            who,
            scope,
            user.hospital_id,
            &format!("create a token for {}", user.username),
        )
        .await?;
        if user.disabled {
            return Err(ServiceError::Conflict(format!(
                "user {} is disabled",
                user.username
            )));
        }
        if let Some(d) = t.expires_days
            && !(1..=3650).contains(&d)
        {
            return Err(bad("a token expires in 1 to 3650 days, or never"));
        }
        let note = check_line("the note", &t.note, false, MAX_NAME)?;
        let secret = super::auth::new_secret("rgs_");
        let expires = t.expires_days.map(crate::index::rfc3339_in_days);
        let id = self
            .index()
            .insert_token(
                &super::auth::secret_hash(&secret),
                user.id,
                expires.as_deref(),
                &note,
            )
            .await?;
        self.audit(
            who,
            "admin-token-create",
            "",
            "",
            &format!("token {id} for {}", user.username),
            "ok",
        )
        .await?;
        let row = self
            .index()
            .admin_token(id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("token {id} vanished")))?;
        Ok(TokenCreated {
            token: token_wire(&row),
            secret,
        })
    }

    pub async fn admin_revoke_token(&self, who: &Principal, id: i64) -> Result<()> {
        let scope = self.admin_scope(who, "revoke tokens").await?;
        let t = self
            .index()
            .admin_token(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no token {id}")))?;
        self.admin_own(who, scope, t.hospital_id, &format!("revoke token {id}"))
            .await?;
        self.index().delete_token(id).await?;
        self.audit(
            who,
            "admin-token-revoke",
            "",
            "",
            &format!("token {id} of {}", t.username),
            "ok",
        )
        .await?;
        Ok(())
    }

    /// Studies, instances, storage and instances per day (last 30 UTC days) of a hospital.
    pub async fn admin_stats(&self, who: &Principal, code: &str) -> Result<HospitalStats> {
        let scope = self.admin_scope(who, "read statistics").await?;
        let h = self.admin_hospital_row(code).await?;
        self.admin_own(who, scope, Some(h.id), &format!("statistics of {code}"))
            .await?;
        let today = time::OffsetDateTime::now_utc().date();
        let first = today - time::Duration::days(STATS_DAYS - 1);
        let since = crate::index::rfc3339(first.midnight().assume_utc());
        let s = self.index().hospital_stats(h.id, &since).await?;
        let mut per_day = Vec::new();
        let mut d = first;
        while d <= today {
            let day = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
            let n = s
                .per_day
                .iter()
                .find(|(k, _)| *k == day)
                .map_or(0, |(_, n)| *n);
            per_day.push(DayCount {
                day,
                instances: u64::try_from(n).unwrap_or(0),
            });
            match d.next_day() {
                Some(n) => d = n,
                None => break,
            }
        }
        self.audit(who, "admin-stats", "", "", code, "ok").await?;
        Ok(HospitalStats {
            code: h.code,
            studies: u64::try_from(s.studies).unwrap_or(0),
            instances: u64::try_from(s.instances).unwrap_or(0),
            storage_bytes: u64::try_from(s.storage_bytes).unwrap_or(0),
            per_day,
        })
    }

    /// The checked search of a filter, within what `who` administers.
    async fn audit_search_of(
        &self,
        who: &Principal,
        scope: AdminScope,
        f: &AuditFilter,
    ) -> Result<AuditSearch> {
        let opt = |v: &str| {
            let v = v.trim();
            (!v.is_empty()).then(|| v.to_string())
        };
        for (what, v) in [
            ("patient", &f.patient),
            ("user", &f.user),
            ("study", &f.study),
            ("action", &f.action),
        ] {
            check_line(what, v, false, 256)?;
        }
        let mut s = AuditSearch {
            hospital_scope: scope.hospital(),
            patient_id: opt(&f.patient),
            actor: opt(&f.user),
            study_uid: opt(&f.study),
            action: opt(&f.action),
            at_from: opt(&f.from)
                .map(|d| day_instant(&d, "from", false))
                .transpose()?,
            at_to: opt(&f.to)
                .map(|d| day_instant(&d, "to", true))
                .transpose()?,
            ..Default::default()
        };
        if let (Some(a), Some(b)) = (&s.at_from, &s.at_to)
            && a >= b
        {
            return Err(bad("from is after to"));
        }
        if let Some(code) = opt(&f.hospital) {
            let h = self.admin_hospital_row(&code).await?;
            self.admin_own(who, scope, Some(h.id), &format!("audit of {code}"))
                .await?;
            s.actor_hospital = Some(h.id);
        }
        // Records still queued for the batch writer belong in the answer.
        self.flush_audit().await;
        Ok(s)
    }

    /// One page of the audit search, newest first.
    pub async fn admin_audit(
        &self,
        who: &Principal,
        f: &AuditFilter,
        limit: Option<u32>,
        offset: u64,
    ) -> Result<AuditPage> {
        let scope = self.admin_scope(who, "search the audit log").await?;
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
            return Err(bad(format!("limit is 1 to {MAX_AUDIT_PAGE}")));
        }
        let s = self.audit_search_of(who, scope, f).await?;
        let mut rows = self.index().audit_search(&s, limit + 1, offset).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        self.audit(who, "admin-audit-search", "", "", &f.query_string(), "ok")
            .await?;
        Ok(AuditPage {
            entries: rows.into_iter().map(audit_wire).collect(),
            next_offset: more.then_some(offset + u64::from(limit)),
        })
    }

    /// Every record of the audit search, newest first, as they are read (the CSV export).
    pub async fn admin_audit_export(
        &self,
        who: &Principal,
        f: &AuditFilter,
    ) -> Result<tokio::sync::mpsc::Receiver<crate::index::Result<AuditRow>>> {
        let scope = self.admin_scope(who, "export the audit log").await?;
        let s = self.audit_search_of(who, scope, f).await?;
        self.audit(who, "admin-audit-export", "", "", &f.query_string(), "ok")
            .await?;
        Ok(self.index().audit_stream(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("สมชาย"), "สมชาย");
    }

    #[test]
    fn moph_codes_are_five_digits() {
        assert!(check_moph_code("10670").is_ok());
        for bad in ["1067", "106700", "1067a", "", "๑๐๖๗๐"] {
            assert!(check_moph_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_include_the_regional_reader() {
        assert_eq!(
            parse_role("regional_reader").ok(),
            Some((Role::Radiologist, true))
        );
        assert_eq!(parse_role("doctor").ok(), Some((Role::Doctor, false)));
        assert!(parse_role("modality").is_err());
        assert!(parse_role("guest").is_err());
    }
}
