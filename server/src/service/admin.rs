//! Administration of hospitals, users and AE titles (CLI now, admin portal later).

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
