//! Authentication: users with argon2id password hashes, API tokens and browser
//! sessions (random secrets stored only as SHA-256), and the principal they yield.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Archive, Principal, Protocol, Result, ServiceError};
use crate::index::admin::UserRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Regional administrator (with no hospital: sees every hospital).
    Admin,
    Radiologist,
    Doctor,
    Technologist,
    /// A DICOM application entity (modality, PACS) acting for its hospital.
    Modality,
    /// The holder of a share link (no account): read-only, its link's studies only.
    Guest,
    /// A hospital gateway's token: may only store its hospital's studies and report
    /// its status (`web::auth::gateway_allows`).
    Gateway,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Radiologist => "radiologist",
            Role::Doctor => "doctor",
            Role::Technologist => "technologist",
            Role::Modality => "modality",
            Role::Guest => "guest",
            Role::Gateway => "gateway",
        }
    }
}

impl FromStr for Role {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "admin" => Role::Admin,
            "radiologist" => Role::Radiologist,
            "doctor" => Role::Doctor,
            "technologist" => Role::Technologist,
            other => anyhow::bail!(
                "unknown role {other:?}: use admin, radiologist, doctor or technologist"
            ),
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing password: {e}")))
}

pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random secret: 32 bytes, URL-safe base64, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

pub fn generate_password() -> String {
    let mut b = [0u8; 15];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Basic auth re-sends the password with every request; argon2 on each would cost
/// ~30 ms. Successful verifications are remembered briefly, keyed by a hash of the name,
/// the password and the stored password hash (so a reset on any node ends them), and
/// only ever consulted after the user row was read again (a disabled user is refused).
static BASIC_CACHE: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);

/// Forgets every remembered Basic login: after a password reset or a user disabled, the
/// old password must not keep working for the cache's lifetime.
pub(crate) fn forget_cached_logins() {
    let mut guard = BASIC_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    *guard = None;
}

pub struct Auth<'a> {
    pub(super) archive: &'a Archive,
}

fn principal_from(user: &UserRow, protocol: Protocol, remote: &str) -> Principal {
    Principal {
        actor: user.username.clone(),
        user_id: Some(user.id),
        role: if user.role == Role::Gateway.as_str() {
            Role::Gateway
        } else {
            user.role.parse().unwrap_or(Role::Doctor)
        },
        hospital_id: user.hospital_id,
        protocol,
        remote: remote.to_string(),
        share: None,
    }
}

pub const SESSION_DAYS: u32 = 1;

impl Auth<'_> {
    /// On an empty index, creates `admin` (no hospital, sees all). Returns the password
    /// when it was generated (to be printed once).
    pub async fn bootstrap_admin(&self, from_env: Option<String>) -> Result<Option<String>> {
        if self.archive.index().count_users().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match from_env {
            Some(p) if !p.is_empty() => (p, false),
            _ => (generate_password(), true),
        };
        let added = self
            .archive
            .index()
            .add_user(
                "admin",
                None,
                Role::Admin.as_str(),
                &hash_password(&password)?,
            )
            .await;
        match added {
            Ok(_) => Ok(generated.then_some(password)),
            // Another node starting on the same new database made the first user meanwhile.
            Err(_) if self.archive.index().count_users().await? > 0 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
        remote: &str,
    ) -> Result<Principal> {
        let user = self.archive.index().user_by_name(username).await?;
        // Keyed by the stored hash too: a password changed on another node (several
        // nodes share one database) no longer matches a login remembered here.
        let stored_hash = user.as_ref().map_or("", |u| u.password_hash.as_str());
        let cache_key = secret_hash(&format!("{username}\0{password}\0{stored_hash}"));
        let cached = {
            let mut guard = BASIC_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            let map = guard.get_or_insert_with(HashMap::new);
            map.retain(|_, t| t.elapsed() < BASIC_CACHE_TTL);
            map.contains_key(&cache_key)
        };
        match user {
            Some(u) if !u.disabled && (cached || verify_password(&u.password_hash, password)) => {
                if !cached {
                    let mut guard = BASIC_CACHE.lock().unwrap_or_else(|e| e.into_inner());
                    guard
                        .get_or_insert_with(HashMap::new)
                        .insert(cache_key, Instant::now());
                }
                Ok(principal_from(&u, protocol, remote))
            }
            _ => {
                if user.is_none() {
                    // Spend the same time as a real verification.
                    let _ = verify_password(
                        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2bDUrQ5sLPBmR1XzYfh3zQJm/w3ISq5ucQq3C2z8Azc",
                        password,
                    );
                }
                let who = Principal {
                    actor: username.to_string(),
                    user_id: None,
                    role: Role::Doctor,
                    hospital_id: None,
                    protocol,
                    remote: remote.to_string(),
                    share: None,
                };
                self.archive
                    .audit(&who, "login", "", "", "bad credentials", "denied")
                    .await?;
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    pub async fn create_api_token(
        &self,
        username: &str,
        expires_days: Option<u32>,
    ) -> Result<String> {
        let user = self
            .archive
            .index()
            .user_by_name(username)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user {username}")))?;
        let token = new_secret("rgs_");
        let expires = expires_days.map(crate::index::rfc3339_in_days);
        self.archive
            .index()
            .insert_credential("token", &secret_hash(&token), user.id, expires.as_deref())
            .await?;
        Ok(token)
    }

    pub async fn create_session(&self, who: &Principal) -> Result<String> {
        let uid = who
            .user_id
            .ok_or_else(|| ServiceError::Forbidden("only users have sessions".into()))?;
        let secret = new_secret("");
        let expires = crate::index::rfc3339_in_days(SESSION_DAYS);
        self.archive
            .index()
            .insert_credential("session", &secret_hash(&secret), uid, Some(&expires))
            .await?;
        Ok(secret)
    }

    pub async fn end_session(&self, secret: &str) -> Result<()> {
        self.archive
            .index()
            .delete_credential("session", &secret_hash(secret))
            .await?;
        Ok(())
    }

    /// Resolves an API token or a session secret.
    pub async fn by_secret(
        &self,
        kind: &str,
        secret: &str,
        protocol: Protocol,
        remote: &str,
    ) -> Result<Principal> {
        match self
            .archive
            .index()
            .user_by_credential(kind, &secret_hash(secret))
            .await?
        {
            Some(u) if !u.disabled => Ok(principal_from(&u, protocol, remote)),
            _ => Err(ServiceError::Unauthenticated),
        }
    }
}
