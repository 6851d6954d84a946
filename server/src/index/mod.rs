//! The index: every patient, study, series and instance with its query attributes, plus
//! users, credentials, AE titles, grants and the audit log. Only this module speaks SQL.
//!
//! SQLite by default (WAL, `synchronous=FULL` so a commit survives power loss). The SQL
//! is kept portable so PostgreSQL can replace it at scale with the same migrations.

pub mod admin;
pub mod consults;
pub mod copy;
pub mod db;
pub mod gateway;
pub mod ingest;
pub mod leases;
pub mod measurements;
pub mod notify;
pub mod query;
pub mod referrals;
pub mod reports;
pub mod shares;
pub mod studies;
pub mod tiers;

use std::path::Path;

use sqlx::Row;

pub use db::Dialect;
use db::{Pool, query, query_scalar};

/// Ordered migrations; each runs once, in a transaction, and is recorded.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_initial.sql")),
    (2, include_str!("../../migrations/0002_measurements.sql")),
    (3, include_str!("../../migrations/0003_study_list.sql")),
    (
        4,
        include_str!("../../migrations/0004_referrals_shares.sql"),
    ),
    (10, include_str!("../../migrations/0010_reports.sql")),
    (11, include_str!("../../migrations/0011_notifications.sql")),
    (12, include_str!("../../migrations/0012_consults.sql")),
    (13, include_str!("../../migrations/0013_gateways.sql")),
    (14, include_str!("../../migrations/0014_admin_portal.sql")),
    (16, include_str!("../../migrations/0016_tiering.sql")),
    (17, include_str!("../../migrations/0017_leases.sql")),
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Writer(String),
    /// From the group-commit writer's own connection (`ingest.rs`).
    #[error("database: {0}")]
    Write(#[from] rusqlite::Error),
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;

impl IndexError {
    /// The database cannot be reached or is shutting down (PostgreSQL restarted, the
    /// network cut, the pool exhausted): nothing was decided, the caller may retry
    /// later. Answered as 503 and a transient DIMSE status, never as a refusal.
    pub fn is_unavailable(&self) -> bool {
        match self {
            IndexError::Db(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // SQLSTATE class 08 (connection exception), 57P01–57P03 (administrator or
            // crash shutdown, cannot connect now), 53 (insufficient resources).
            IndexError::Db(sqlx::Error::Database(e)) => e.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("57P") || c.starts_with("53")
            }),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Index {
    pub(crate) pool: Pool,
    pub(crate) dialect: Dialect,
    /// Group commit of stored instances (`ingest.rs`).
    writer: ingest::Writer,
}

/// Which studies a caller may see. Built by the service layer from the principal.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Regional administrator.
    All,
    /// One hospital's studies plus those granted to it by referrals (consultation
    /// grants are for readers only: see `Reader`).
    Hospital(i64),
    /// A radiologist of a hospital: `Hospital`'s studies, plus those a consultation
    /// request granted for reading by them: requests naming them, and group requests
    /// to their hospital that nobody else has claimed.
    Reader { hospital: i64, user: i64 },
    /// Exactly these study rows (a share link: read-only, no other patient).
    Studies(Vec<i64>),
    /// No access at all.
    Nothing,
}

impl Scope {
    /// `text` with `{scope}` replaced by [`Scope::sql`]'s condition, and arguments
    /// holding its bind values (more can be added after them).
    pub(crate) fn scoped(&self, text: String) -> (String, db::Args) {
        use sqlx::Arguments;
        let (scope_sql, scope_args) = self.sql();
        let mut args = db::Args::default();
        for a in scope_args {
            // Binding an integer cannot fail.
            let _ = args.add(a);
        }
        (text.replace("{scope}", &scope_sql), args)
    }

    /// SQL condition on a `studies` alias `st`, and its bind values.
    pub(crate) fn sql(&self) -> (String, Vec<i64>) {
        match self {
            Scope::All => ("1=1".into(), vec![]),
            Scope::Nothing => ("1=0".into(), vec![]),
            Scope::Studies(ids) if ids.is_empty() => ("1=0".into(), vec![]),
            Scope::Studies(ids) => (
                format!("st.id IN ({})", vec!["?"; ids.len()].join(", ")),
                ids.clone(),
            ),
            // The timestamp is ours (digits and separators only), inlined so the
            // condition stays portable SQL (no engine-specific date functions).
            Scope::Hospital(h) => (
                format!(
                    "(st.hospital_id = ? OR st.id IN (SELECT g.study_ref FROM grants g \
                     WHERE g.grantee_hospital = ? AND g.revoked_at IS NULL \
                     AND (g.expires_at IS NULL OR g.expires_at > '{}') \
                     AND g.consult_id IS NULL))",
                    rfc3339_in_days(0)
                ),
                vec![*h, *h],
            ),
            Scope::Reader {
                hospital: h,
                user: u,
            } => (
                format!(
                    "(st.hospital_id = ? OR st.id IN (SELECT g.study_ref FROM grants g \
                     WHERE g.grantee_hospital = ? AND g.revoked_at IS NULL \
                     AND (g.expires_at IS NULL OR g.expires_at > '{}') \
                     AND (g.consult_id IS NULL OR g.consult_id IN (SELECT c.id FROM consults c \
                     WHERE c.to_user = ? OR (c.to_user IS NULL \
                     AND (c.claimed_by IS NULL OR c.claimed_by = ?))))))",
                    rfc3339_in_days(0)
                ),
                vec![*h, *h, *u, *u],
            ),
        }
    }
}

impl Index {
    /// Opens the SQLite index at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::open_at(None, path).await
    }

    /// Opens the index: on PostgreSQL when `database` is a `postgres://` URL, else the
    /// SQLite file at `sqlite_file`; migrates it.
    pub async fn open_at(database: Option<&str>, sqlite_file: &Path) -> Result<Self> {
        let (pool, dialect) = db::connect(database, sqlite_file).await?;
        migrate(&pool, dialect).await?;
        // After the migrations: the writer's connection sees the whole schema.
        let writer = match dialect {
            Dialect::Sqlite => ingest::Writer::start(sqlite_file)?,
            Dialect::Postgres => ingest::Writer::start_pg(pool.clone()),
        };
        Ok(Self {
            pool,
            dialect,
            writer,
        })
    }

    /// Appends a batch of audit records in one transaction.
    pub async fn audit_batch(&self, recs: &[OwnedAudit]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for r in recs {
            insert_audit(&mut tx, &r.at, &r.as_record()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends one audit record. Failing to audit fails the operation that asked.
    #[allow(dead_code)]
    pub async fn audit(&self, rec: &AuditRecord<'_>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, &now_rfc3339(), rec).await
    }

    /// Every blob key the index refers to (instances and kept conflicts), tier-qualified
    /// (`cold:KEY` for the cold store).
    pub async fn all_blob_keys(&self) -> Result<Vec<(String, i64)>> {
        let rows = query(&format!(
            "SELECT {}, x.size_bytes FROM (SELECT blob_key, size_bytes FROM instances \
             UNION ALL SELECT blob_key, size_bytes FROM instance_conflicts) x",
            tiers::tiered_key_sql("x.blob_key")
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    /// Counter consistency: studies/series whose counters disagree with their rows.
    pub async fn counter_mismatches(&self) -> Result<Vec<String>> {
        let rows = query(
            "SELECT 'series ' || se.series_uid FROM series se \
               WHERE se.num_instances != (SELECT COUNT(*) FROM instances i WHERE i.series_ref = se.id) \
             UNION ALL \
             SELECT 'study ' || st.study_uid FROM studies st \
               WHERE st.num_series != (SELECT COUNT(*) FROM series se WHERE se.study_ref = st.id) \
                  OR st.num_instances != (SELECT COUNT(*) FROM instances i JOIN series se ON i.series_ref = se.id WHERE se.study_ref = st.id)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }
}

/// Runs the migrations not yet recorded; on PostgreSQL in its dialect ([`db::pg_ddl`]),
/// under the write lock so that nodes starting together migrate once.
async fn migrate(pool: &Pool, dialect: Dialect) -> Result<()> {
    // Nodes starting together: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
    // against a concurrent one, so the bookkeeping table is made under the lock too.
    let mut tx = pool.begin().await?;
    if dialect == Dialect::Postgres {
        db::lock_writes_pg(&mut tx).await?;
    }
    query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    for (version, sql) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        if dialect == Dialect::Postgres {
            db::lock_writes_pg(&mut tx).await?;
        }
        let done: Option<i64> =
            query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_none() {
            let ddl = match dialect {
                Dialect::Sqlite => sql.to_string(),
                Dialect::Postgres => db::pg_ddl(sql),
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await?;
            query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(now_rfc3339())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// One audit row; the group-commit writer (rusqlite) and [`insert_audit`] (sqlx) share it.
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor, hospital_id, protocol, remote_addr, action, study_uid, patient_id, detail, outcome) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Inserts one audit row inside an open transaction (ingest writes its audit record in
/// the same transaction as the instance, so one cannot exist without the other).
pub(crate) async fn insert_audit(
    conn: &mut db::Conn,
    at: &str,
    rec: &AuditRecord<'_>,
) -> Result<()> {
    query(INSERT_AUDIT)
        .bind(at)
        .bind(audit_text(rec.actor).into_owned())
        .bind(rec.hospital_id)
        .bind(rec.protocol)
        .bind(audit_text(rec.remote_addr).into_owned())
        .bind(audit_text(rec.action).into_owned())
        .bind(audit_text(rec.study_uid).into_owned())
        .bind(audit_text(rec.patient_id).into_owned())
        .bind(audit_text(rec.detail).into_owned())
        .bind(audit_text(rec.outcome).into_owned())
        .execute(conn)
        .await?;
    Ok(())
}

/// Audit text as both engines store it: a NUL (what a caller sent, quoted in a detail)
/// becomes U+2400 SYMBOL FOR NULL, visible to whoever reads the log. PostgreSQL refuses
/// NUL in any text, and one such record would fail its whole batch: records lost.
pub(crate) fn audit_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{2400}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// An audit record queued for the batch writer, stamped when it happened.
#[derive(Debug, Clone, Default)]
pub struct OwnedAudit {
    pub at: String,
    pub actor: String,
    pub hospital_id: Option<i64>,
    pub protocol: &'static str,
    pub remote_addr: String,
    pub action: String,
    pub study_uid: String,
    pub patient_id: String,
    pub detail: String,
    pub outcome: String,
}

impl OwnedAudit {
    pub fn as_record(&self) -> AuditRecord<'_> {
        AuditRecord {
            actor: &self.actor,
            hospital_id: self.hospital_id,
            protocol: self.protocol,
            remote_addr: &self.remote_addr,
            action: &self.action,
            study_uid: &self.study_uid,
            patient_id: &self.patient_id,
            detail: &self.detail,
            outcome: &self.outcome,
        }
    }
}

#[derive(Debug, Default)]
pub struct AuditRecord<'a> {
    pub actor: &'a str,
    pub hospital_id: Option<i64>,
    pub protocol: &'a str,
    pub remote_addr: &'a str,
    pub action: &'a str,
    pub study_uid: &'a str,
    pub patient_id: &'a str,
    pub detail: &'a str,
    pub outcome: &'a str,
}

impl Index {
    /// Opens a transaction and runs `update` in it, a state change guarded by its WHERE
    /// clause (a report still unsigned, a request still open): the transaction when it
    /// changed exactly one row, for the caller to add what goes with the change (its
    /// event, its grants) and commit; `None` (rolled back) when the guard failed.
    pub(crate) async fn guarded<'q>(
        &self,
        update: sqlx::query::Query<'q, db::Db, db::Args>,
    ) -> Result<Option<db::Tx>> {
        let mut tx = self.pool.begin().await?;
        let changed = update.execute(&mut *tx).await?.rows_affected() == 1;
        Ok(changed.then_some(tx))
    }
}

pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// A timestamp as RFC 3339.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// UTC timestamp `days` from now, RFC 3339 (second precision, 'Z').
pub fn rfc3339_in_days(days: u32) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days));
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Health and pool figures for the probes and metrics (`ops`).
impl Index {
    /// The database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// (connections open, idle, maximum) of the pool.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_text_shows_a_nul_instead_of_storing_it() {
        assert_eq!(super::audit_text("1.2\0.3"), "1.2\u{2400}.3");
        assert!(matches!(
            super::audit_text("1.2.3"),
            std::borrow::Cow::Borrowed("1.2.3")
        ));
    }
}
