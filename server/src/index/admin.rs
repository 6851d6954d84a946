//! Hospitals, users, credentials and AE titles.

use sqlx::Row;

use super::db;
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

fn user_from(r: &db::Row) -> UserRow {
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

fn ae_from(r: &db::Row) -> AeRow {
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
        let r = db::query_scalar::<i64>(
            "INSERT INTO hospitals (code, name, created_at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(code)
        .bind(name)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done),
            Err(e) if unique_violation(&e) => Err(IndexError::Conflict(format!(
                "hospital {code} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn hospital_by_code(&self, code: &str) -> Result<Option<Hospital>> {
        let row = db::query("SELECT id, code, name FROM hospitals WHERE code = ?")
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
        Ok(db::query_scalar("SELECT code FROM hospitals WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn list_hospitals(&self) -> Result<Vec<Hospital>> {
        let rows = db::query("SELECT id, code, name FROM hospitals ORDER BY code")
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
        Ok(db::query_scalar("SELECT COUNT(*) FROM users")
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
        let r = db::query_scalar::<i64>(
            "INSERT INTO users (username, password_hash, role, hospital_id, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(hospital_id)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done),
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
        let row = db::query(&(sql))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u LEFT JOIN hospitals h ON h.id = u.hospital_id ORDER BY u.username"
        );
        let rows = db::query(&(sql)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(user_from).collect())
    }

    pub async fn insert_credential(
        &self,
        kind: &str,
        secret_hash: &str,
        user_id: i64,
        expires_at: Option<&str>,
    ) -> Result<()> {
        db::query("INSERT INTO credentials (kind, secret_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
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
        let row = db::query(&(sql))
            .bind(kind)
            .bind(secret_hash)
            .bind(super::rfc3339_in_days(0))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from))
    }

    pub async fn delete_credential(&self, kind: &str, secret_hash: &str) -> Result<()> {
        db::query("DELETE FROM credentials WHERE kind = ? AND secret_hash = ?")
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
        let r = db::query(
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
        let row = db::query(
            "SELECT a.ae_title, a.hospital_id, h.code, a.host, a.port FROM ae_titles a \
             JOIN hospitals h ON h.id = a.hospital_id WHERE a.ae_title = ?",
        )
        .bind(ae_title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ae_from))
    }

    pub async fn list_aes(&self) -> Result<Vec<AeRow>> {
        let rows = db::query(
            "SELECT a.ae_title, a.hospital_id, h.code, a.host, a.port FROM ae_titles a \
             JOIN hospitals h ON h.id = a.hospital_id ORDER BY a.ae_title",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(ae_from).collect())
    }
}

// ---- the admin portal (`service::admin`, `/api/admin/…`) ----

/// A hospital with everything the portal shows of it.
#[derive(Debug, Clone, Default)]
pub struct AdminHospitalRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_th: String,
    pub name_en: String,
    pub province: String,
    /// Comma-separated.
    pub capabilities: String,
    pub contact: String,
    pub users: i64,
    pub aes: i64,
}

/// A user with when it was made.
#[derive(Debug, Clone)]
pub struct AdminUserRow {
    pub user: UserRow,
    pub created_at: String,
}

/// A machine credential (API token, or another non-session kind); never its secret.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub kind: String,
    pub username: String,
    pub hospital_id: Option<i64>,
    pub hospital_code: Option<String>,
    pub note: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// One audit record as read back.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub hospital_code: Option<String>,
    pub protocol: String,
    pub remote: String,
    pub action: String,
    pub study_uid: String,
    pub patient_id: String,
    pub detail: String,
    pub outcome: String,
}

/// The audit search, already checked by the service layer: exact matches, and
/// `at` in `[at_from, at_to)` (RFC 3339 instants).
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Only records of this hospital's users or about this hospital's studies.
    pub hospital_scope: Option<i64>,
    /// Only records of actors of this hospital.
    pub actor_hospital: Option<i64>,
    pub patient_id: Option<String>,
    pub actor: Option<String>,
    pub study_uid: Option<String>,
    pub action: Option<String>,
    pub at_from: Option<String>,
    pub at_to: Option<String>,
}

/// Counts of one hospital's archive.
#[derive(Debug, Clone, Default)]
pub struct StatsRow {
    pub studies: i64,
    pub instances: i64,
    pub storage_bytes: i64,
    /// `(YYYY-MM-DD, instances)` of days with instances since the asked day.
    pub per_day: Vec<(String, i64)>,
}

const HOSPITAL_ADMIN_COLS: &str = "h.id, h.code, h.name, h.name_th, h.name_en, h.province, \
     h.capabilities, h.contact, \
     (SELECT COUNT(*) FROM users u WHERE u.hospital_id = h.id), \
     (SELECT COUNT(*) FROM ae_titles a WHERE a.hospital_id = h.id)";

fn admin_hospital_from(r: &db::Row) -> AdminHospitalRow {
    AdminHospitalRow {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        name_th: r.get(3),
        name_en: r.get(4),
        province: r.get(5),
        capabilities: r.get(6),
        contact: r.get(7),
        users: r.get(8),
        aes: r.get(9),
    }
}

const TOKEN_COLS: &str = "c.id, c.kind, u.username, u.hospital_id, h.code, c.note, \
     c.created_at, c.expires_at";

fn token_from(r: &db::Row) -> TokenRow {
    TokenRow {
        id: r.get(0),
        kind: r.get(1),
        username: r.get(2),
        hospital_id: r.get(3),
        hospital_code: r.get(4),
        note: r.get(5),
        created_at: r.get(6),
        expires_at: r.get(7),
    }
}

fn audit_from(r: &db::Row) -> AuditRow {
    AuditRow {
        id: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        hospital_code: r.get(3),
        protocol: r.get(4),
        remote: r.get(5),
        action: r.get(6),
        study_uid: r.get(7),
        patient_id: r.get(8),
        detail: r.get(9),
        outcome: r.get(10),
    }
}

/// The audit search as SQL (newest first) and its bind values.
fn audit_sql(s: &AuditSearch) -> (String, db::Args) {
    use sqlx::Arguments;
    let mut sql = String::from(
        "SELECT a.id, a.at, a.actor, h.code, a.protocol, a.remote_addr, a.action, a.study_uid, \
         a.patient_id, a.detail, a.outcome FROM audit_log a \
         LEFT JOIN hospitals h ON h.id = a.hospital_id WHERE 1=1",
    );
    let mut args = db::Args::default();
    // Binding an integer or a string cannot fail.
    if let Some(h) = s.hospital_scope {
        sql.push_str(
            " AND (a.hospital_id = ? OR (a.study_uid != '' AND a.study_uid IN \
             (SELECT st.study_uid FROM studies st WHERE st.hospital_id = ?)))",
        );
        let _ = args.add(h);
        let _ = args.add(h);
    }
    if let Some(h) = s.actor_hospital {
        sql.push_str(" AND a.hospital_id = ?");
        let _ = args.add(h);
    }
    for (col, v) in [
        ("a.patient_id = ?", &s.patient_id),
        ("a.actor = ?", &s.actor),
        ("a.study_uid = ?", &s.study_uid),
        ("a.action = ?", &s.action),
        ("a.at >= ?", &s.at_from),
        ("a.at < ?", &s.at_to),
    ] {
        if let Some(v) = v {
            sql.push_str(" AND ");
            sql.push_str(col);
            let _ = args.add(v.clone());
        }
    }
    sql.push_str(" ORDER BY a.id DESC");
    (sql, args)
}

impl Index {
    /// Every hospital, or only `only`, by code.
    pub async fn admin_hospitals(&self, only: Option<i64>) -> Result<Vec<AdminHospitalRow>> {
        let sql = format!(
            "SELECT {HOSPITAL_ADMIN_COLS} FROM hospitals h WHERE (? IS NULL OR h.id = ?) ORDER BY h.code"
        );
        let rows = db::query(&(sql))
            .bind(only)
            .bind(only)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(admin_hospital_from).collect())
    }

    pub async fn admin_hospital(&self, code: &str) -> Result<Option<AdminHospitalRow>> {
        let sql = format!("SELECT {HOSPITAL_ADMIN_COLS} FROM hospitals h WHERE h.code = ?");
        let row = db::query(&(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(admin_hospital_from))
    }

    /// A new hospital with its profile; `Conflict` when the code exists.
    pub async fn insert_admin_hospital(&self, h: &AdminHospitalRow) -> Result<i64> {
        let r = db::query_scalar::<i64>(
            "INSERT INTO hospitals (code, name, name_th, name_en, province, capabilities, contact, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&h.code)
        .bind(&h.name)
        .bind(&h.name_th)
        .bind(&h.name_en)
        .bind(&h.province)
        .bind(&h.capabilities)
        .bind(&h.contact)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done),
            Err(e) if unique_violation(&e) => Err(IndexError::Conflict(format!(
                "hospital {} already exists",
                h.code
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the profile fields of hospital `h.id`.
    pub async fn update_admin_hospital(&self, h: &AdminHospitalRow) -> Result<()> {
        db::query(
            "UPDATE hospitals SET name = ?, name_th = ?, name_en = ?, province = ?, capabilities = ?, \
             contact = ? WHERE id = ?",
        )
        .bind(&h.name)
        .bind(&h.name_th)
        .bind(&h.name_en)
        .bind(&h.province)
        .bind(&h.capabilities)
        .bind(&h.contact)
        .bind(h.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Users of every hospital (and the regional administrators), or of `only`.
    pub async fn admin_users(&self, only: Option<i64>) -> Result<Vec<AdminUserRow>> {
        let sql = format!(
            "SELECT {USER_COLS}, u.created_at FROM users u LEFT JOIN hospitals h ON h.id = u.hospital_id \
             WHERE (? IS NULL OR u.hospital_id = ?) ORDER BY u.username"
        );
        let rows = db::query(&(sql))
            .bind(only)
            .bind(only)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| AdminUserRow {
                user: user_from(r),
                created_at: r.get(7),
            })
            .collect())
    }

    pub async fn set_user_role(&self, user_id: i64, role: &str) -> Result<()> {
        db::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables (and ends every session of) or enables a user, in one transaction.
    /// A disabled user's tokens stay but are refused ([`Index::user_by_credential`]'s
    /// caller checks `disabled`).
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        db::query("UPDATE users SET disabled = ? WHERE id = ?")
            .bind(i64::from(disabled))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            db::query("DELETE FROM credentials WHERE user_id = ? AND kind = 'session'")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A new password hash; the user's sessions end (in the same transaction).
    pub async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        db::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        db::query("DELETE FROM credentials WHERE user_id = ? AND kind = 'session'")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// AE titles of every hospital, or of `only`.
    pub async fn admin_aes(&self, only: Option<i64>) -> Result<Vec<AeRow>> {
        let rows = db::query(
            "SELECT a.ae_title, a.hospital_id, h.code, a.host, a.port FROM ae_titles a \
             JOIN hospitals h ON h.id = a.hospital_id WHERE (? IS NULL OR a.hospital_id = ?) \
             ORDER BY a.ae_title",
        )
        .bind(only)
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(ae_from).collect())
    }

    /// Removes an AE title; whether it existed.
    pub async fn remove_ae(&self, ae_title: &str) -> Result<bool> {
        let done = db::query("DELETE FROM ae_titles WHERE ae_title = ?")
            .bind(ae_title)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Machine credentials (everything but browser sessions) of every hospital's users,
    /// or of `only`'s.
    pub async fn admin_tokens(&self, only: Option<i64>) -> Result<Vec<TokenRow>> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM credentials c JOIN users u ON u.id = c.user_id \
             LEFT JOIN hospitals h ON h.id = u.hospital_id \
             WHERE c.kind != 'session' AND (? IS NULL OR u.hospital_id = ?) ORDER BY c.id"
        );
        let rows = db::query(&(sql))
            .bind(only)
            .bind(only)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(token_from).collect())
    }

    pub async fn admin_token(&self, id: i64) -> Result<Option<TokenRow>> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM credentials c JOIN users u ON u.id = c.user_id \
             LEFT JOIN hospitals h ON h.id = u.hospital_id WHERE c.kind != 'session' AND c.id = ?"
        );
        let row = db::query(&(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(token_from))
    }

    /// An API token with a note; its id.
    pub async fn insert_token(
        &self,
        secret_hash: &str,
        user_id: i64,
        expires_at: Option<&str>,
        note: &str,
    ) -> Result<i64> {
        let done = db::query_scalar::<i64>(
            "INSERT INTO credentials (kind, secret_hash, user_id, created_at, expires_at, note) \
             VALUES ('token', ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(secret_hash)
        .bind(user_id)
        .bind(now_rfc3339())
        .bind(expires_at)
        .bind(note)
        .fetch_one(&self.pool)
        .await?;
        Ok(done)
    }

    /// Revokes a machine credential at once; whether it existed.
    pub async fn delete_token(&self, id: i64) -> Result<bool> {
        let done = db::query("DELETE FROM credentials WHERE id = ? AND kind != 'session'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Studies, instances, bytes stored, and instances per UTC day received at or after
    /// `since` (RFC 3339), of one hospital.
    pub async fn hospital_stats(&self, hospital_id: i64, since: &str) -> Result<StatsRow> {
        let studies: i64 = db::query_scalar("SELECT COUNT(*) FROM studies WHERE hospital_id = ?")
            .bind(hospital_id)
            .fetch_one(&self.pool)
            .await?;
        let row = db::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM instances WHERE hospital_id = ?",
        )
        .bind(hospital_id)
        .fetch_one(&self.pool)
        .await?;
        let per_day = db::query(
            "SELECT substr(received_at, 1, 10) AS day, COUNT(*) FROM instances \
             WHERE hospital_id = ? AND received_at >= ? GROUP BY day ORDER BY day",
        )
        .bind(hospital_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(StatsRow {
            studies,
            instances: row.get(0),
            storage_bytes: row.get(1),
            per_day: per_day.iter().map(|r| (r.get(0), r.get(1))).collect(),
        })
    }

    /// One page of the audit search, newest first: up to `limit` records after `offset`.
    pub async fn audit_search(
        &self,
        s: &AuditSearch,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<AuditRow>> {
        use sqlx::Arguments;
        let (mut sql, mut args) = audit_sql(s);
        sql.push_str(" LIMIT ? OFFSET ?");
        // Binding an integer cannot fail.
        let _ = args.add(i64::from(limit));
        let _ = args.add(i64::try_from(offset).unwrap_or(i64::MAX));
        let rows = db::query_with(&(sql), args).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(audit_from).collect())
    }

    /// Every record of the audit search, read as it is sent: a task reads the rows and
    /// stops when the receiver is dropped or after the first error.
    pub fn audit_stream(&self, s: &AuditSearch) -> tokio::sync::mpsc::Receiver<Result<AuditRow>> {
        use futures::StreamExt;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let (sql, args) = audit_sql(s);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut rows = db::query_with(&(sql), args).fetch(&pool);
            while let Some(row) = rows.next().await {
                let item = row.map(|r| audit_from(&r)).map_err(IndexError::from);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        rx
    }
}
