//! Hospital gateways in SQL. On the regional server: the `gateways` table (who holds a
//! gateway token, and its last status report). On a gateway: its forwarding queue
//! (`gateway_queue`, one row per instance of the gateway's own index) and a few named
//! values (`gateway_state`).

use sqlx::Row;

use super::db;
use super::{Index, IndexError, Result, now_rfc3339};

/// A gateway as the regional server knows it.
#[derive(Debug, Clone)]
pub struct GatewayRow {
    pub id: i64,
    pub name: String,
    pub hospital_id: i64,
    pub hospital_code: String,
    pub hospital_name: String,
    pub created_at: String,
    pub reported_at: Option<String>,
    /// The last report, JSON.
    pub report: Option<String>,
}

const GATEWAY_COLS: &str = "g.id, g.name, g.hospital_id, h.code, h.name, g.created_at, \
     g.reported_at, g.report FROM gateways g JOIN hospitals h ON h.id = g.hospital_id";

fn gateway_from(r: &db::Row) -> GatewayRow {
    GatewayRow {
        id: r.get(0),
        name: r.get(1),
        hospital_id: r.get(2),
        hospital_code: r.get(3),
        hospital_name: r.get(4),
        created_at: r.get(5),
        reported_at: r.get(6),
        report: r.get(7),
    }
}

/// One instance waiting in a gateway's queue, with what forwarding needs.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub instance_id: i64,
    pub solo: bool,
    pub sop_uid: String,
    pub transfer_syntax: String,
    pub blob_key: String,
    pub size_bytes: i64,
    pub study_uid: String,
}

/// Counts of a gateway's queue.
#[derive(Debug, Clone, Default)]
pub struct QueueSummary {
    pub pending: i64,
    pub bytes_pending: i64,
    /// When the oldest pending instance was queued (RFC 3339).
    pub oldest_pending: Option<String>,
    pub failed: i64,
    /// Forwarded and still in the index (`--cache-days`).
    pub done: i64,
    /// Received, not queued yet (the forwarder queues them within a second).
    pub unqueued: i64,
    pub unqueued_bytes: i64,
    /// Forwarded and forgotten since the queue was created.
    pub pruned: i64,
}

/// An instance the regional server refused for good.
#[derive(Debug, Clone)]
pub struct FailedItem {
    pub sop_uid: String,
    pub study_uid: String,
    pub attempts: i64,
    pub reason: String,
}

impl Index {
    // -- regional side

    /// Adds a gateway of a hospital, held by the (gateway) user `user_id`.
    pub async fn add_gateway(&self, name: &str, hospital_id: i64, user_id: i64) -> Result<i64> {
        let r = db::query_scalar::<i64>(
            "INSERT INTO gateways (name, hospital_id, user_id, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(hospital_id)
        .bind(user_id)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Err(IndexError::Conflict(
                format!("gateway {name} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn gateway_by_name(&self, name: &str) -> Result<Option<GatewayRow>> {
        let sql = format!("SELECT {GATEWAY_COLS} WHERE g.name = ?");
        let row = db::query(&(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(gateway_from))
    }

    /// The gateway whose token belongs to this user.
    pub async fn gateway_by_user(&self, user_id: i64) -> Result<Option<GatewayRow>> {
        let sql = format!("SELECT {GATEWAY_COLS} WHERE g.user_id = ?");
        let row = db::query(&(sql))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(gateway_from))
    }

    /// Stores a gateway's latest report (JSON).
    pub async fn record_gateway_report(&self, id: i64, report_json: &str) -> Result<String> {
        let now = now_rfc3339();
        db::query("UPDATE gateways SET reported_at = ?, report = ? WHERE id = ?")
            .bind(&now)
            .bind(report_json)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(now)
    }

    /// Every gateway, or one hospital's.
    pub async fn list_gateways(&self, hospital_id: Option<i64>) -> Result<Vec<GatewayRow>> {
        let sql = format!(
            "SELECT {GATEWAY_COLS} WHERE (? IS NULL OR g.hospital_id = ?) ORDER BY h.code, g.name"
        );
        let rows = db::query(&(sql))
            .bind(hospital_id)
            .bind(hospital_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(gateway_from).collect())
    }

    // -- gateway side

    /// Queues every instance of the index that has no queue row yet (received since the
    /// last call, or before a crash). Returns how many were queued.
    pub async fn gateway_enqueue_new(&self) -> Result<u64> {
        let done = db::query(
            "INSERT INTO gateway_queue (instance_id, state, enqueued_at) \
             SELECT i.id, 'pending', i.received_at FROM instances i \
             WHERE NOT EXISTS (SELECT 1 FROM gateway_queue q WHERE q.instance_id = i.id) \
             ORDER BY i.id",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The next pending instances in arrival order (so in order within each study): a
    /// run of up to `limit` items and `max_bytes` (at least one), or one item alone when
    /// it is marked solo.
    pub async fn gateway_next_batch(&self, limit: i64, max_bytes: i64) -> Result<Vec<QueueItem>> {
        let rows = db::query(
            "SELECT q.instance_id, q.solo, i.sop_uid, i.transfer_syntax, i.blob_key, \
             i.size_bytes, st.study_uid \
             FROM gateway_queue q JOIN instances i ON i.id = q.instance_id \
             JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
             WHERE q.state = 'pending' ORDER BY q.instance_id LIMIT ?",
        )
        .bind(limit.max(1))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<QueueItem> = Vec::new();
        let mut bytes = 0i64;
        for r in &rows {
            let item = QueueItem {
                instance_id: r.get(0),
                solo: r.get::<i64, _>(1) != 0,
                sop_uid: r.get(2),
                transfer_syntax: r.get(3),
                blob_key: r.get(4),
                size_bytes: r.get(5),
                study_uid: r.get(6),
            };
            if item.solo {
                if out.is_empty() {
                    out.push(item);
                }
                break;
            }
            if !out.is_empty() && bytes + item.size_bytes > max_bytes {
                break;
            }
            bytes += item.size_bytes;
            out.push(item);
        }
        Ok(out)
    }

    /// The regional server acknowledged these instances.
    pub async fn gateway_mark_done(&self, ids: &[i64]) -> Result<()> {
        let now = now_rfc3339();
        let mut tx = self.pool.begin().await?;
        for id in ids {
            db::query(
                "UPDATE gateway_queue SET state = 'done', done_at = ?, last_error = NULL, \
                 attempts = attempts + 1 WHERE instance_id = ?",
            )
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The regional server refused this instance for good.
    pub async fn gateway_mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        db::query(
            "UPDATE gateway_queue SET state = 'failed', last_error = ?, attempts = attempts + 1 \
             WHERE instance_id = ?",
        )
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// These instances are to be sent one per request (their batch's answer could not
    /// be attributed to each).
    pub async fn gateway_mark_solo(&self, ids: &[i64], why: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            db::query(
                "UPDATE gateway_queue SET solo = 1, last_error = ?, attempts = attempts + 1 \
                 WHERE instance_id = ?",
            )
            .bind(why)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Failed instances back to pending (`rangsi gateway retry`). Returns how many.
    pub async fn gateway_retry_failed(&self) -> Result<u64> {
        let done = db::query(
            "UPDATE gateway_queue SET state = 'pending', solo = 1, last_error = NULL \
             WHERE state = 'failed'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The queue's counts, read in one statement (one snapshot: an instance is counted
    /// once even while it is queued, forwarded or forgotten meanwhile).
    pub async fn gateway_queue_summary(&self) -> Result<QueueSummary> {
        let r = db::query(
            "SELECT \
               (SELECT COUNT(*) FROM gateway_queue WHERE state = 'pending'), \
               (SELECT CAST(COALESCE(SUM(i.size_bytes), 0) AS BIGINT) FROM gateway_queue q \
                  JOIN instances i ON i.id = q.instance_id WHERE q.state = 'pending'), \
               (SELECT MIN(enqueued_at) FROM gateway_queue WHERE state = 'pending'), \
               (SELECT COUNT(*) FROM gateway_queue WHERE state = 'failed'), \
               (SELECT COUNT(*) FROM gateway_queue WHERE state = 'done'), \
               (SELECT COUNT(*) FROM instances i WHERE NOT EXISTS \
                  (SELECT 1 FROM gateway_queue q WHERE q.instance_id = i.id)), \
               (SELECT CAST(COALESCE(SUM(i.size_bytes), 0) AS BIGINT) FROM instances i WHERE NOT EXISTS \
                  (SELECT 1 FROM gateway_queue q WHERE q.instance_id = i.id)), \
               (SELECT CAST(value AS BIGINT) FROM gateway_state WHERE name = 'pruned_total')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueSummary {
            pending: r.get(0),
            bytes_pending: r.get(1),
            oldest_pending: r.get(2),
            failed: r.get(3),
            done: r.get(4),
            unqueued: r.get(5),
            unqueued_bytes: r.get(6),
            pruned: r.get::<Option<i64>, _>(7).unwrap_or(0),
        })
    }

    pub async fn gateway_failed_items(&self, limit: i64) -> Result<Vec<FailedItem>> {
        let rows = db::query(
            "SELECT i.sop_uid, st.study_uid, q.attempts, COALESCE(q.last_error, '') \
             FROM gateway_queue q JOIN instances i ON i.id = q.instance_id \
             JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
             WHERE q.state = 'failed' ORDER BY q.instance_id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| FailedItem {
                sop_uid: r.get(0),
                study_uid: r.get(1),
                attempts: r.get(2),
                reason: r.get(3),
            })
            .collect())
    }

    pub async fn gateway_state_set(&self, name: &str, value: &str) -> Result<()> {
        db::query(
            "INSERT INTO gateway_state (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn gateway_state_get(&self, name: &str) -> Result<Option<String>> {
        Ok(
            db::query_scalar("SELECT value FROM gateway_state WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

impl Index {
    /// Forgets up to `limit` instances forwarded before `done_before` (RFC 3339): their
    /// queue rows and index rows, with the counters of their series and studies, and
    /// series, studies and patients left empty. Returns how many were forgotten and the
    /// blob keys (with their SOP Instance UID) no row refers to any more: the caller
    /// removes those blobs.
    pub async fn gateway_prune(
        &self,
        done_before: &str,
        limit: i64,
    ) -> Result<(u64, Vec<(String, String)>)> {
        let mut tx = self.begin_write().await?;
        let rows = db::query(
            "SELECT q.instance_id, i.series_ref, se.study_ref, st.patient_ref, i.blob_key, i.sop_uid \
             FROM gateway_queue q JOIN instances i ON i.id = q.instance_id \
             JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
             WHERE q.state = 'done' AND q.done_at < ? ORDER BY q.instance_id LIMIT ?",
        )
        .bind(done_before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut keys = std::collections::BTreeSet::new();
        let mut series = std::collections::BTreeSet::new();
        for r in &rows {
            let (id, series_ref, study_ref): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            db::query("DELETE FROM gateway_queue WHERE instance_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            db::query("DELETE FROM instances WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            db::query("UPDATE series SET num_instances = num_instances - 1 WHERE id = ?")
                .bind(series_ref)
                .execute(&mut *tx)
                .await?;
            db::query("UPDATE studies SET num_instances = num_instances - 1 WHERE id = ?")
                .bind(study_ref)
                .execute(&mut *tx)
                .await?;
            series.insert((series_ref, study_ref, r.get::<i64, _>(3)));
            keys.insert((r.get::<String, _>(4), r.get::<String, _>(5)));
        }
        for (series_ref, study_ref, patient_ref) in series {
            let gone = db::query("DELETE FROM series WHERE id = ? AND num_instances <= 0")
                .bind(series_ref)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone > 0 {
                db::query("UPDATE studies SET num_series = num_series - 1 WHERE id = ?")
                    .bind(study_ref)
                    .execute(&mut *tx)
                    .await?;
            }
            db::query(
                "DELETE FROM studies WHERE id = ? AND num_instances <= 0 \
                 AND NOT EXISTS (SELECT 1 FROM series se WHERE se.study_ref = studies.id)",
            )
            .bind(study_ref)
            .execute(&mut *tx)
            .await?;
            db::query(
                "DELETE FROM patients WHERE id = ? \
                 AND NOT EXISTS (SELECT 1 FROM studies st WHERE st.patient_ref = patients.id)",
            )
            .bind(patient_ref)
            .execute(&mut *tx)
            .await?;
        }
        let mut unreferenced = Vec::new();
        for (key, sop_uid) in keys {
            if !referenced(&mut tx, &key, &sop_uid).await? {
                unreferenced.push((key, sop_uid));
            }
        }
        let n = rows.len() as u64;
        if n > 0 {
            db::query(
                "INSERT INTO gateway_state (name, value) VALUES ('pruned_total', ?) \
                 ON CONFLICT (name) DO UPDATE SET \
                 value = CAST(CAST(gateway_state.value AS BIGINT) + ? AS TEXT)",
            )
            .bind(n.to_string())
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((n, unreferenced))
    }

    /// Whether any row refers to this blob (of an instance with this SOP Instance UID:
    /// the key is the SHA-256 of the bytes, which hold the UID).
    pub async fn blob_key_referenced(&self, key: &str, sop_uid: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        referenced(&mut conn, key, sop_uid).await
    }
}

async fn referenced(conn: &mut db::Conn, key: &str, sop_uid: &str) -> Result<bool> {
    let used: i64 = db::query_scalar(
        "SELECT (SELECT COUNT(*) FROM instances WHERE sop_uid = ? AND blob_key = ?) + \
         (SELECT COUNT(*) FROM instance_conflicts WHERE sop_uid = ? AND blob_key = ?)",
    )
    .bind(sop_uid)
    .bind(key)
    .bind(sop_uid)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    Ok(used > 0)
}

impl Index {
    /// Whether any instance refers to this blob, whatever its UID (slow: no index on
    /// `blob_key`; for blobs left half-pruned by a crash only).
    pub async fn blob_key_referenced_anywhere(&self, key: &str) -> Result<bool> {
        let used: i64 = db::query_scalar(
            "SELECT (SELECT COUNT(*) FROM instances WHERE blob_key = ?) + \
             (SELECT COUNT(*) FROM instance_conflicts WHERE blob_key = ?)",
        )
        .bind(key)
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        Ok(used > 0)
    }
}
