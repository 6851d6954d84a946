//! Hospitals, users, credentials and AE titles.

use sqlx::Row;

use super::{Index, IndexError, Result, now_rfc3339};

#[derive(Debug, Clone)]
pub struct Hospital {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub hospital_id: Option<i64>,
    pub hospital_code: Option<String>,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct AeRow {
    pub ae_title: String,
    pub hospital_id: i64,
    pub hospital_code: String,
    pub host: Option<String>,
    pub port: Option<u16>,
}

const USER_COLS: &str =
    "u.id, u.username, u.password_hash, u.role, u.hospital_id, h.code, u.disabled";

fn user_from(r: &sqlx::sqlite::SqliteRow) -> UserRow {
    UserRow {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        role: r.get(3),
        hospital_id: r.get(4),
        hospital_code: r.get(5),
        disabled: r.get::<i64, _>(6) != 0,
    }
}

fn ae_from(r: &sqlx::sqlite::SqliteRow) -> AeRow {
    AeRow {
        ae_title: r.get(0),
        hospital_id: r.get(1),
        hospital_code: r.get(2),
        host: r.get(3),
        port: r
            .get::<Option<i64>, _>(4)
            .and_then(|p| u16::try_from(p).ok()),
    }
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Index {
    pub async fn add_hospital(&self, code: &str, name: &str) -> Result<i64> {
        let r = sqlx::query("INSERT INTO hospitals (code, name, created_at) VALUES (?, ?, ?)")
            .bind(code)
            .bind(name)
            .bind(now_rfc3339())
            .execute(&self.pool)
            .await;
        match r {
            Ok(done) => Ok(done.last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(IndexError::Conflict(format!(
                "hospital {code} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn hospital_by_code(&self, code: &str) -> Result<Option<Hospital>> {
        let row = sqlx::query("SELECT id, code, name FROM hospitals WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Hospital {
            id: r.get(0),
            code: r.get(1),
            name: r.get(2),
        }))
    }

    pub async fn hospital_code(&self, id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT code FROM hospitals WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn list_hospitals(&self) -> Result<Vec<Hospital>> {
        let rows = sqlx::query("SELECT id, code, name FROM hospitals ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Hospital {
                id: r.get(0),
                code: r.get(1),
                name: r.get(2),
            })
            .collect())
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn add_user(
        &self,
        username: &str,
        hospital_id: Option<i64>,
        role: &str,
        password_hash: &str,
    ) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO users (username, password_hash, role, hospital_id, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(hospital_id)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done.last_insert_rowid()),
            Err(e) if unique_violation(&e) => Err(IndexError::Conflict(format!(
                "user {username} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u LEFT JOIN hospitals h ON h.id = u.hospital_id WHERE u.username = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u LEFT JOIN hospitals h ON h.id = u.hospital_id ORDER BY u.username"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from).collect())
    }

    pub async fn insert_credential(
        &self,
        kind: &str,
        secret_hash: &str,
        user_id: i64,
        expires_at: Option<&str>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO credentials (kind, secret_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(kind)
            .bind(secret_hash)
            .bind(user_id)
            .bind(now_rfc3339())
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The user owning an unexpired credential of this kind and hash.
    pub async fn user_by_credential(
        &self,
        kind: &str,
        secret_hash: &str,
    ) -> Result<Option<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM credentials c JOIN users u ON u.id = c.user_id \
             LEFT JOIN hospitals h ON h.id = u.hospital_id \
             WHERE c.kind = ? AND c.secret_hash = ? \
             AND (c.expires_at IS NULL OR c.expires_at > ?)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind)
            .bind(secret_hash)
            .bind(super::rfc3339_in_days(0))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from))
    }

    pub async fn delete_credential(&self, kind: &str, secret_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM credentials WHERE kind = ? AND secret_hash = ?")
            .bind(kind)
            .bind(secret_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_ae(
        &self,
        ae_title: &str,
        hospital_id: i64,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO ae_titles (ae_title, hospital_id, host, port) VALUES (?, ?, ?, ?)",
        )
        .bind(ae_title)
        .bind(hospital_id)
        .bind(host)
        .bind(port.map(i64::from))
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e) => Err(IndexError::Conflict(format!(
                "AE title {ae_title} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn ae_by_title(&self, ae_title: &str) -> Result<Option<AeRow>> {
        let row = sqlx::query(
            "SELECT a.ae_title, a.hospital_id, h.code, a.host, a.port FROM ae_titles a \
             JOIN hospitals h ON h.id = a.hospital_id WHERE a.ae_title = ?",
        )
        .bind(ae_title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ae_from))
    }

    pub async fn list_aes(&self) -> Result<Vec<AeRow>> {
        let rows = sqlx::query(
            "SELECT a.ae_title, a.hospital_id, h.code, a.host, a.port FROM ae_titles a \
             JOIN hospitals h ON h.id = a.hospital_id ORDER BY a.ae_title",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(ae_from).collect())
    }
}
