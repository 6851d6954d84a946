//! Recording a stored instance: patient, study, series and instance rows, counters and
//! the store's audit record, in one transaction shared by whatever instances arrived
//! together (group commit, see [`Writer`]). Uniqueness of an instance is decided here, by the database
//! (UNIQUE (hospital_id, sop_uid)), never by the blob store.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{Index, IndexError, OwnedAudit, Result, db, now_rfc3339};

#[derive(Debug, Clone, Default)]
pub struct PatientAttrs {
    pub patient_id: String,
    pub issuer: String,
    pub name: String,
    pub name_search: String,
    pub birth_date: String,
    pub sex: String,
}

#[derive(Debug, Clone, Default)]
pub struct StudyAttrs {
    pub study_uid: String,
    pub date: String,
    pub time: String,
    pub accession: String,
    pub study_id: String,
    pub description: String,
    pub referring_physician: String,
}

#[derive(Debug, Clone, Default)]
pub struct SeriesAttrs {
    pub series_uid: String,
    pub modality: String,
    pub number: Option<i64>,
    pub description: String,
    pub body_part: String,
    pub pps_start_date: String,
    pub pps_start_time: String,
}

#[derive(Debug, Clone, Default)]
pub struct InstanceAttrs {
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub bits_allocated: Option<i64>,
    pub number_of_frames: Option<i64>,
    pub dataset_offset: i64,
    pub pixel_layout: Option<String>,
    pub metadata: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewInstance {
    pub hospital_id: i64,
    pub patient: PatientAttrs,
    pub study: StudyAttrs,
    pub series: SeriesAttrs,
    pub instance: InstanceAttrs,
    pub blob_key: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub source: String,
}

/// What the index already holds under (hospital, SOP Instance UID).
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingInstance {
    pub sha256: String,
    pub study_uid: String,
    /// Where its bytes are, where its data set starts in them (after the File Meta
    /// Information) and its transfer syntax: to tell the same data set in another
    /// file (C-STORE then STOW, another gateway) from a different instance.
    pub blob_key: String,
    pub dataset_offset: i64,
    pub transfer_syntax: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Inserted,
    /// Someone stored this SOP Instance UID first (possibly in a race).
    AlreadyPresent(ExistingInstance),
}

/// Instances waiting for the group-commit writer, at most this many per transaction.
const MAX_BATCH: usize = 256;

/// One instance for the writer, and where to send its outcome once committed.
struct Job {
    rec: NewInstance,
    audit: OwnedAudit,
    done: oneshot::Sender<Result<InsertOutcome>>,
}

/// The group-commit writer: one OS thread that owns one connection (rusqlite, on the same
/// libsqlite3 as sqlx) and records every stored instance. Whatever has queued up while
/// one transaction commits goes into the next one, so concurrent associations and STOW
/// parts share one `COMMIT` (one WAL fsync) instead of each polling for SQLite's write
/// lock. Each caller hears back only after the transaction holding its instance has
/// committed: the durability invariant is unchanged, only the fsync is shared.
///
/// The statements run on the writer's own thread from a cache of prepared statements:
/// no hand-off to a connection worker per statement (sqlx's SQLite driver runs each
/// statement on its worker thread, two context switches per statement), so an instance
/// costs one hand-off to the writer and one back.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the writer's own connection to the (migrated) database at `path` and starts
    /// its thread. The thread ends when the last [`Writer`] is dropped.
    pub(crate) fn start(path: &Path) -> Result<Self> {
        let conn = open(path)?;
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("index-writer".into())
            .spawn(move || write_batches(conn, rx))
            .map_err(|e| IndexError::Writer(format!("cannot start the index writer: {e}")))?;
        Ok(Self { jobs })
    }
}

/// The writer's connection, with the pool's durability settings (WAL, `synchronous=FULL`).
fn open(path: &Path) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    // The writer's pages stay cached between batches: the only writer of instance rows
    // never has its cache invalidated by another connection's commit.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
    )?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn write_batches(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        match commit_batch(&mut conn, &jobs) {
            Ok(outcomes) => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.pop() {
                    let _ = job.done.send(Err(e.into()));
                }
            }
            Err(e) => {
                // One bad instance must not fail the others: each on its own.
                tracing::debug!(error = %e, n = jobs.len(), "batch failed; retrying one by one");
                for job in jobs.drain(..) {
                    let r = commit_batch(&mut conn, std::slice::from_ref(&job))
                        .map(|mut v| v.remove(0))
                        .map_err(IndexError::from);
                    let _ = job.done.send(r);
                }
            }
        }
    }
}

// The statements of one instance, shared by both engines' writers.
const SELECT_EXISTING: &str = "SELECT i.sha256, st.study_uid, i.blob_key, i.dataset_offset, i.transfer_syntax FROM instances i JOIN series se ON se.id = i.series_ref \
             JOIN studies st ON st.id = se.study_ref WHERE i.hospital_id = ? AND i.sop_uid = ?";
const UPSERT_PATIENT: &str = "INSERT INTO patients (hospital_id, patient_id, issuer, patient_name, name_search, birth_date, sex) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (hospital_id, patient_id, issuer) DO UPDATE SET \
             patient_name = CASE WHEN excluded.patient_name != '' THEN excluded.patient_name ELSE patients.patient_name END, \
             name_search = CASE WHEN excluded.name_search != '' THEN excluded.name_search ELSE patients.name_search END, \
             birth_date = CASE WHEN excluded.birth_date != '' THEN excluded.birth_date ELSE patients.birth_date END, \
             sex = CASE WHEN excluded.sex != '' THEN excluded.sex ELSE patients.sex END \
             RETURNING id";
const UPSERT_STUDY: &str = "INSERT INTO studies (hospital_id, patient_ref, study_uid, study_date, study_time, accession, study_id, \
             description, referring_physician, modalities, num_series, num_instances, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?) \
             ON CONFLICT (hospital_id, study_uid) DO UPDATE SET \
             num_instances = studies.num_instances + 1, updated_at = excluded.updated_at \
             RETURNING id, num_instances";
const UPSERT_SERIES: &str = "INSERT INTO series (study_ref, series_uid, modality, series_number, description, body_part, \
             pps_start_date, pps_start_time, num_instances) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) \
             ON CONFLICT (study_ref, series_uid) DO UPDATE SET num_instances = series.num_instances + 1 \
             RETURNING id, num_instances";
const STUDY_MODALITIES: &str =
    "SELECT DISTINCT modality FROM series WHERE study_ref = ? AND modality != '' ORDER BY modality";
const STUDY_GAINS_SERIES: &str =
    "UPDATE studies SET num_series = num_series + 1, modalities = ? WHERE id = ?";
const INSERT_INSTANCE: &str = "INSERT INTO instances (series_ref, hospital_id, sop_uid, sop_class_uid, instance_number, transfer_syntax, \
         rows, columns, bits_allocated, number_of_frames, blob_key, size_bytes, sha256, dataset_offset, \
         pixel_layout, metadata, received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Records `jobs` in one transaction; all or nothing.
fn commit_batch(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<Vec<InsertOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_rfc3339();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(insert_one(&tx, &job.rec, &job.audit.as_record(), &now)?);
    }
    tx.commit()?;
    Ok(outcomes)
}

/// The rows of one instance, inside the batch's transaction.
fn insert_one(
    tx: &Connection,
    rec: &NewInstance,
    audit: &super::AuditRecord<'_>,
    now: &str,
) -> rusqlite::Result<InsertOutcome> {
    let existing = tx
        .prepare_cached(SELECT_EXISTING)?
        .query_row(params![rec.hospital_id, rec.instance.sop_uid], |r| {
            Ok(ExistingInstance {
                sha256: r.get(0)?,
                study_uid: r.get(1)?,
                blob_key: r.get(2)?,
                dataset_offset: r.get(3)?,
                transfer_syntax: r.get(4)?,
            })
        })
        .optional()?;
    if let Some(existing) = existing {
        return Ok(InsertOutcome::AlreadyPresent(existing));
    }
    let p = &rec.patient;
    // The newest non-empty demographics win (corrections from the modality).
    let patient_ref: i64 = tx.prepare_cached(UPSERT_PATIENT)?.query_row(
        params![
            rec.hospital_id,
            p.patient_id,
            p.issuer,
            p.name,
            p.name_search,
            p.birth_date,
            p.sex
        ],
        |r| r.get(0),
    )?;

    // A new study starts with this instance, its series and its modality; a known one
    // counts it.
    let s = &rec.study;
    let (study_ref, study_count): (i64, i64) = tx.prepare_cached(UPSERT_STUDY)?.query_row(
        params![
            rec.hospital_id,
            patient_ref,
            s.study_uid,
            s.date,
            s.time,
            s.accession,
            s.study_id,
            s.description,
            s.referring_physician,
            rec.series.modality,
            now,
            now
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;

    let se = &rec.series;
    let (series_ref, series_count): (i64, i64) = tx.prepare_cached(UPSERT_SERIES)?.query_row(
        params![
            study_ref,
            se.series_uid,
            se.modality,
            se.number,
            se.description,
            se.body_part,
            se.pps_start_date,
            se.pps_start_time
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if series_count == 1 && study_count > 1 {
        // A new series of a known study: the study gains a series and maybe a modality.
        let mods = tx
            .prepare_cached(STUDY_MODALITIES)?
            .query_map([study_ref], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        tx.prepare_cached(STUDY_GAINS_SERIES)?
            .execute(params![mods.join("\\"), study_ref])?;
    }

    let i = &rec.instance;
    tx.prepare_cached(INSERT_INSTANCE)?.execute(params![
        series_ref,
        rec.hospital_id,
        i.sop_uid,
        i.sop_class_uid,
        i.number,
        i.transfer_syntax,
        i.rows,
        i.columns,
        i.bits_allocated,
        i.number_of_frames,
        rec.blob_key,
        rec.size_bytes,
        rec.sha256,
        i.dataset_offset,
        i.pixel_layout,
        i.metadata,
        now,
        rec.source
    ])?;
    let text = super::audit_text;
    tx.prepare_cached(super::INSERT_AUDIT)?.execute(params![
        now,
        text(audit.actor),
        audit.hospital_id,
        audit.protocol,
        text(audit.remote_addr),
        text(audit.action),
        text(audit.study_uid),
        text(audit.patient_id),
        text(audit.detail),
        text(audit.outcome)
    ])?;
    Ok(InsertOutcome::Inserted)
}

impl Writer {
    /// The PostgreSQL writer: the same batching, on a task with a connection from the
    /// pool. Each batch holds the cluster-wide write lock ([`db::WRITE_LOCK`]), so nodes
    /// sharing the database decide an instance's uniqueness one batch at a time.
    pub(crate) fn start_pg(pool: db::Pool) -> Self {
        let (jobs, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                match commit_batch_pg(&pool, &batch).await {
                    Ok(outcomes) => {
                        for (job, outcome) in batch.drain(..).zip(outcomes) {
                            let _ = job.done.send(Ok(outcome));
                        }
                    }
                    Err(e) if batch.len() == 1 => {
                        if let Some(job) = batch.pop() {
                            let _ = job.done.send(Err(e));
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, n = batch.len(), "batch failed; retrying one by one");
                        for job in batch.drain(..) {
                            let r = commit_batch_pg(&pool, std::slice::from_ref(&job))
                                .await
                                .map(|mut v| v.remove(0));
                            let _ = job.done.send(r);
                        }
                    }
                }
            }
        });
        Self { jobs }
    }
}

/// [`commit_batch`] on PostgreSQL.
async fn commit_batch_pg(pool: &db::Pool, jobs: &[Job]) -> Result<Vec<InsertOutcome>> {
    let mut tx = pool.begin().await?;
    db::lock_writes_pg(&mut tx).await?;
    let now = now_rfc3339();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(insert_one_pg(&mut tx, &job.rec, &job.audit.as_record(), &now).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// [`insert_one`] through sqlx.
async fn insert_one_pg(
    tx: &mut db::Conn,
    rec: &NewInstance,
    audit: &super::AuditRecord<'_>,
    now: &str,
) -> Result<InsertOutcome> {
    use sqlx::Row;
    let existing = db::query(SELECT_EXISTING)
        .bind(rec.hospital_id)
        .bind(&rec.instance.sop_uid)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(r) = existing {
        return Ok(InsertOutcome::AlreadyPresent(ExistingInstance {
            sha256: r.try_get(0)?,
            study_uid: r.try_get(1)?,
            blob_key: r.try_get(2)?,
            dataset_offset: r.try_get(3)?,
            transfer_syntax: r.try_get(4)?,
        }));
    }
    let p = &rec.patient;
    let patient_ref: i64 = db::query_scalar(UPSERT_PATIENT)
        .bind(rec.hospital_id)
        .bind(&p.patient_id)
        .bind(&p.issuer)
        .bind(&p.name)
        .bind(&p.name_search)
        .bind(&p.birth_date)
        .bind(&p.sex)
        .fetch_one(&mut *tx)
        .await?;
    let s = &rec.study;
    let r = db::query(UPSERT_STUDY)
        .bind(rec.hospital_id)
        .bind(patient_ref)
        .bind(&s.study_uid)
        .bind(&s.date)
        .bind(&s.time)
        .bind(&s.accession)
        .bind(&s.study_id)
        .bind(&s.description)
        .bind(&s.referring_physician)
        .bind(&rec.series.modality)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let (study_ref, study_count): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
    let se = &rec.series;
    let r = db::query(UPSERT_SERIES)
        .bind(study_ref)
        .bind(&se.series_uid)
        .bind(&se.modality)
        .bind(se.number)
        .bind(&se.description)
        .bind(&se.body_part)
        .bind(&se.pps_start_date)
        .bind(&se.pps_start_time)
        .fetch_one(&mut *tx)
        .await?;
    let series_count: i64 = r.try_get(1)?;
    let series_ref: i64 = r.try_get(0)?;
    if series_count == 1 && study_count > 1 {
        let mods: Vec<String> = db::query_scalar(STUDY_MODALITIES)
            .bind(study_ref)
            .fetch_all(&mut *tx)
            .await?;
        db::query(STUDY_GAINS_SERIES)
            .bind(mods.join("\\"))
            .bind(study_ref)
            .execute(&mut *tx)
            .await?;
    }
    let i = &rec.instance;
    db::query(INSERT_INSTANCE)
        .bind(series_ref)
        .bind(rec.hospital_id)
        .bind(&i.sop_uid)
        .bind(&i.sop_class_uid)
        .bind(i.number)
        .bind(&i.transfer_syntax)
        .bind(i.rows)
        .bind(i.columns)
        .bind(i.bits_allocated)
        .bind(i.number_of_frames)
        .bind(&rec.blob_key)
        .bind(rec.size_bytes)
        .bind(&rec.sha256)
        .bind(i.dataset_offset)
        .bind(&i.pixel_layout)
        .bind(&i.metadata)
        .bind(now)
        .bind(&rec.source)
        .execute(&mut *tx)
        .await?;
    super::insert_audit(tx, now, audit).await?;
    Ok(InsertOutcome::Inserted)
}

impl Index {
    /// Records the instance and its audit record, and returns once they are committed
    /// (by the group-commit [`Writer`], possibly in one transaction with others).
    pub async fn insert_instance(
        &self,
        rec: NewInstance,
        audit: OwnedAudit,
    ) -> Result<InsertOutcome> {
        let (done, outcome) = oneshot::channel();
        let job = Job { rec, audit, done };
        let stopped = || IndexError::Writer("the index writer has stopped".into());
        self.writer.jobs.send(job).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// Keeps a conflicting instance (same SOP Instance UID, other content) for review.
    pub async fn insert_conflict(
        &self,
        hospital_id: i64,
        sop_uid: &str,
        blob_key: &str,
        sha256: &str,
        size: i64,
        source: &str,
    ) -> Result<()> {
        let exists: Option<i64> = db::query_scalar(
            "SELECT id FROM instance_conflicts WHERE hospital_id = ? AND sha256 = ?",
        )
        .bind(hospital_id)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        if exists.is_none() {
            db::query(
                "INSERT INTO instance_conflicts (hospital_id, sop_uid, blob_key, sha256, size_bytes, received_at, source) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(hospital_id)
            .bind(sop_uid)
            .bind(blob_key)
            .bind(sha256)
            .bind(size)
            .bind(now_rfc3339())
            .bind(source)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}
