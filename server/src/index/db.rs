//! The two SQL engines behind one pool: SQLite (a file in the data directory, the
//! default) and PostgreSQL (`--database postgres://…`, several nodes at scale).
//!
//! Every statement of the index is written once, with `?` placeholders, in the SQL both
//! engines speak; [`query`] and friends number the placeholders (`$1, $2, …`, which
//! both take) and run them through sqlx's `Any` driver. What cannot be shared is here
//! and nowhere else: the migration dialect ([`pg_ddl`]), the write lock
//! ([`Index::begin_write`]) and a few functions ([`Dialect`]).

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::{AssertSqlSafe, Executor};

use super::Result;

pub(crate) type Db = sqlx::Any;
pub(crate) type Pool = sqlx::AnyPool;
pub(crate) type Row = sqlx::any::AnyRow;
pub(crate) type Args = AnyArguments;
pub(crate) type Conn = sqlx::AnyConnection;
pub(crate) type Tx = sqlx::Transaction<'static, Db>;
pub(crate) type Query = sqlx::query::Query<'static, Db, Args>;

/// Which engine a pool speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `col` matches the SQL LIKE pattern (escape `\\`) bound to the returned text's one
    /// `?`, ignoring the case of ASCII letters only: SQLite's LIKE does exactly that;
    /// PostgreSQL's LIKE is case-sensitive, so ILIKE, under the "C" collation, which
    /// folds ASCII only (as SQLite; a Thai name has no case, and `É` stays apart from
    /// `é` on both). For Person Name matching (DICOM leaves its case to the archive).
    pub(crate) fn like_ascii_nocase(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{col} LIKE ? ESCAPE '\\'"),
            Dialect::Postgres => format!("{col} COLLATE \"C\" ILIKE ? ESCAPE '\\'"),
        }
    }

    /// `col` matches the DICOM wildcard pattern `dicom` (`*` any run, `?` one
    /// character) case-sensitively, as PS3.4 C.2.2.2.4 wants for every VR but PN: the
    /// SQL (one `?`) and the argument to bind. SQLite's LIKE ignores ASCII case, so
    /// there it is GLOB (`*`, `?` as in DICOM; `[` written `[[]`); PostgreSQL's LIKE.
    pub(crate) fn wildcard_case_sensitive(self, col: &str, dicom: &str) -> (String, String) {
        match self {
            Dialect::Sqlite => {
                let mut glob = String::with_capacity(dicom.len() + 4);
                for c in dicom.chars() {
                    match c {
                        '[' => glob.push_str("[[]"),
                        c => glob.push(c),
                    }
                }
                (format!("{col} GLOB ?"), glob)
            }
            Dialect::Postgres => (
                format!("{col} LIKE ? ESCAPE '\\'"),
                super::query::like_pattern(dicom),
            ),
        }
    }

    /// `position of needle in haystack` (1-based, 0 when absent).
    pub(crate) fn strpos(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle})"),
            Dialect::Postgres => format!("strpos({haystack}, {needle})"),
        }
    }
}

/// The advisory lock key that serializes writers on PostgreSQL the way SQLite's single
/// write lock does (`BEGIN IMMEDIATE`): 'RANG' in ASCII.
pub(crate) const WRITE_LOCK: i64 = 0x5241_4E47;

/// Takes the PostgreSQL write lock ([`WRITE_LOCK`]) for the rest of `tx`'s transaction.
pub(crate) async fn lock_writes_pg(tx: &mut Conn) -> Result<()> {
    query("SELECT pg_advisory_xact_lock(?)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// `sql` with each `?` placeholder (outside quotes) numbered `$1, $2, …`.
pub(crate) fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// A statement with `?` placeholders, for either engine.
pub(crate) fn query(sql: &str) -> Query {
    sqlx::query(AssertSqlSafe(numbered(sql).into_owned()))
}

/// [`query`] with arguments bound already (dynamic conditions).
pub(crate) fn query_with(sql: &str, args: Args) -> sqlx::query::Query<'static, Db, Args> {
    sqlx::query_with(AssertSqlSafe(numbered(sql).into_owned()), args)
}

/// A statement whose first column is the result.
pub(crate) fn query_scalar<O>(sql: &str) -> sqlx::query::QueryScalar<'static, Db, O, Args>
where
    (O,): for<'r> sqlx::FromRow<'r, Row>,
{
    sqlx::query_scalar(AssertSqlSafe(numbered(sql).into_owned()))
}

/// [`query_scalar`] with arguments bound already.
pub(crate) fn query_scalar_with<O>(
    sql: &str,
    args: Args,
) -> sqlx::query::QueryScalar<'static, Db, O, Args>
where
    (O,): for<'r> sqlx::FromRow<'r, Row>,
{
    sqlx::query_scalar_with(AssertSqlSafe(numbered(sql).into_owned()), args)
}

/// Where the index lives: `postgres://…` / `postgresql://…`, else the SQLite file.
pub(crate) async fn connect(database: Option<&str>, sqlite_file: &Path) -> Result<(Pool, Dialect)> {
    sqlx::any::install_default_drivers();
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let opts: AnyConnectOptions = url.parse()?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                // With the database away, a request answers 503 after this long.
                .acquire_timeout(Duration::from_secs(10))
                // `CREATE … IF NOT EXISTS` notices are not news.
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET client_min_messages = warning").await?;
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await?;
            Ok((pool, Dialect::Postgres))
        }
        Some(other) => Err(super::IndexError::Conflict(format!(
            "unsupported database {:?}: use postgres://USER@HOST[:PORT]/DB (or none for SQLite in the data directory)",
            redact(other)
        ))),
        None => {
            use sqlx::ConnectOptions;
            let sqlite = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(sqlite_file)
                .create_if_missing(true);
            let opts = AnyConnectOptions::from_url(&sqlite.to_url_lossy())?;
            // WAL, `synchronous=FULL` so a commit survives power loss; writers wait for
            // each other instead of failing.
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await?;
            Ok((pool, Dialect::Sqlite))
        }
    }
}

/// A database URL without its password (for messages and the data directory's record).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let pass = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{pass}@{host}{}", &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

/// A migration written for SQLite, in PostgreSQL's dialect: 64-bit integers everywhere,
/// identity keys for `INTEGER PRIMARY KEY`, and the append-only triggers as PL/pgSQL.
/// The migrations stay one set of files; this is the whole difference.
pub(crate) fn pg_ddl(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 256);
    let mut lines = sql.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("CREATE TRIGGER ") {
            // `CREATE TRIGGER name BEFORE UPDATE ON table` + `BEGIN SELECT RAISE(ABORT, 'msg'); END;`
            let body = lines.next().unwrap_or_default();
            let msg = body
                .split_once("RAISE(ABORT, '")
                .and_then(|(_, m)| m.split_once('\''))
                .map(|(m, _)| m)
                .unwrap_or("refused");
            out.push_str(&format!(
                "CREATE OR REPLACE FUNCTION rangsi_refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $f$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $f$;\n\
                 CREATE TRIGGER {rest} FOR EACH ROW EXECUTE FUNCTION rangsi_refuse('{msg}');\n"
            ));
            continue;
        }
        let (code, comment) = match line.find("--") {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        let code = code
            .replace(
                "INTEGER PRIMARY KEY",
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            )
            .replace("INTEGER", "BIGINT")
            .replace(" BLOB", " BYTEA")
            .replace(" REAL", " DOUBLE PRECISION");
        out.push_str(&binary_text(&code));
        out.push_str(comment);
        out.push('\n');
    }
    out
}

/// Every `TEXT` column of a migration collated `"C"`: compared, sorted and indexed by
/// code point as SQLite's BINARY collation does, whatever locale the DBA created the
/// database with (an `en_US` or ICU collation would sort `'b' < 'B'`, put punctuation
/// aside, and break the study list's `[prefix, prefix || U+10FFFF)` ranges); and
/// `lower()`/`ILIKE` on such a column fold ASCII only, as SQLite's do.
fn binary_text(code: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(code.len() + 16);
    let mut from = 0;
    while let Some(i) = code[from..].find("TEXT").map(|i| from + i) {
        let end = i + "TEXT".len();
        out.push_str(&code[from..end]);
        let in_literal = code[..i].matches('\'').count() % 2 == 1;
        if !word(code[..i].chars().next_back()) && !word(code[end..].chars().next()) && !in_literal
        {
            out.push_str(" COLLATE \"C\"");
        }
        from = end;
    }
    out.push_str(&code[from..]);
    out
}

impl super::Index {
    /// A transaction that writes after reading, serialized with every other such
    /// transaction: SQLite's `BEGIN IMMEDIATE`; on PostgreSQL a transaction-scoped
    /// advisory lock, which holds across nodes sharing the database.
    pub(crate) async fn begin_write(&self) -> Result<Tx> {
        match self.dialect {
            Dialect::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                lock_writes_pg(&mut tx).await?;
                Ok(tx)
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

/// A read-only snapshot of the index on PostgreSQL, exported for `pg_dump --snapshot`
/// (`rangsi backup`): the dump and the blob keys read here see the same commit, and the
/// snapshot stays valid while this transaction is open (a `REPEATABLE READ` reader never
/// blocks the server's writers).
pub struct ExportedSnapshot {
    tx: Tx,
    id: String,
}

impl ExportedSnapshot {
    /// The snapshot's name for `pg_dump --snapshot`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every blob key the snapshot refers to (instances and kept-aside conflicts) with its
    /// size, and the number of instances.
    pub async fn blob_keys(&mut self) -> Result<(Vec<(String, i64)>, i64)> {
        use sqlx::Row;
        let rows = query(
            "SELECT blob_key, size_bytes FROM instances \
             UNION SELECT blob_key, size_bytes FROM instance_conflicts",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        let keys = rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect();
        let instances: i64 = query_scalar("SELECT COUNT(*) FROM instances")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok((keys, instances))
    }

    /// Ends the snapshot (after `pg_dump` is done with it).
    pub async fn close(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
}

/// Whether the PostgreSQL database at `url` holds no table, view or sequence of its own
/// (`rangsi restore` refuses to restore into one that does, unless `--force`).
pub async fn postgres_is_empty(url: &str) -> Result<bool> {
    use sqlx::ConnectOptions;
    sqlx::any::install_default_drivers();
    let opts: AnyConnectOptions = url.parse()?;
    let mut conn = opts.connect().await?;
    let n: i64 = query_scalar(
        "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_%' AND c.relkind IN ('r', 'v', 'm', 'S', 'p')",
    )
    .fetch_one(&mut conn)
    .await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(n == 0)
}

impl super::Index {
    /// Opens an [`ExportedSnapshot`]; PostgreSQL only (SQLite's backup is `VACUUM INTO`).
    pub async fn export_snapshot(&self) -> Result<ExportedSnapshot> {
        if self.dialect != Dialect::Postgres {
            return Err(super::IndexError::Conflict(
                "an exported snapshot needs the index on PostgreSQL".into(),
            ));
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let id: String = query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(ExportedSnapshot { tx, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT '?' FROM t WHERE a = ? AND b LIKE ? ESCAPE '\\'"),
            "SELECT '?' FROM t WHERE a = $1 AND b LIKE $2 ESCAPE '\\'"
        );
        assert!(matches!(numbered("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://rangsi:s3cret@db:5432/rangsi?sslmode=require"),
            "postgres://rangsi:***@db:5432/rangsi?sslmode=require"
        );
        assert_eq!(
            redact("postgres://rangsi@db/rangsi"),
            "postgres://rangsi@db/rangsi"
        );
    }

    #[test]
    fn ddl_for_postgres() {
        let pg = pg_ddl(
            "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    n INTEGER NOT NULL, -- the row's count\n\
             name TEXT NOT NULL DEFAULT 'TEXT',\n    context TEXT -- TEXT\n);\n\
             CREATE TRIGGER t_no_update BEFORE UPDATE ON t\n\
             BEGIN SELECT RAISE(ABORT, 'no'); END;\n",
        );
        assert!(pg.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"));
        assert!(pg.contains("n BIGINT NOT NULL, -- the row's count"));
        assert!(pg.contains("name TEXT COLLATE \"C\" NOT NULL DEFAULT 'TEXT',"));
        assert!(pg.contains("context TEXT COLLATE \"C\" -- TEXT"));
        assert!(pg.contains(
            "CREATE TRIGGER t_no_update BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION rangsi_refuse('no');"
        ));
    }
}
