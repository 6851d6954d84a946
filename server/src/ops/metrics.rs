//! Prometheus metrics, hand-written (text exposition format 0.0.4): a few labelled
//! counters, gauges and histograms in one process-wide registry, rendered on scrape.
//!
//! Labels never carry patient data: HTTP routes are axum's route *templates*
//! (`/dicomweb/studies/{study}`), never the request path; DIMSE commands are named by
//! type and status class; protocols are `dicomweb`/`dimse`/`cli`. No UID, name, AE
//! title or address ever becomes a label value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::store::{BlobError, BlobStore, ByteStream};

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

type Labels = Vec<(&'static str, String)>;

/// Every metric of the process.
pub struct Registry {
    started: Instant,
    started_unix: f64,
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
    /// DIMSE associations in progress.
    pub associations_active: AtomicI64,
    /// Audit records queued and not yet written.
    pub audit_queue: AtomicI64,
    /// HTTP requests in progress.
    pub http_in_flight: AtomicI64,
    /// Bytes stored (new instances), also kept as a plain counter for the log at shutdown.
    pub bytes_stored: AtomicU64,
}

/// The process-wide registry.
pub static METRICS: LazyLock<Registry> = LazyLock::new(|| Registry {
    started: Instant::now(),
    started_unix: std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0),
    counters: Mutex::new(BTreeMap::new()),
    histograms: Mutex::new(BTreeMap::new()),
    associations_active: AtomicI64::new(0),
    audit_queue: AtomicI64::new(0),
    http_in_flight: AtomicI64::new(0),
    bytes_stored: AtomicU64::new(0),
});

/// Metadata of each family: name → (type, help).
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "rangsi_http_requests_total",
        "counter",
        "HTTP requests by method, route template and status code.",
    ),
    (
        "rangsi_http_request_duration_seconds",
        "histogram",
        "Time to the response head, by method and route template.",
    ),
    (
        "rangsi_dimse_associations_total",
        "counter",
        "DIMSE associations by result (accepted, rejected, busy).",
    ),
    (
        "rangsi_dimse_commands_total",
        "counter",
        "DIMSE commands answered, by command and status class.",
    ),
    (
        "rangsi_instances_stored_total",
        "counter",
        "Instances received, by protocol and outcome (new, duplicate, conflict).",
    ),
    (
        "rangsi_stored_bytes_total",
        "counter",
        "Bytes of new instances stored, by protocol.",
    ),
    (
        "rangsi_ingest_failures_total",
        "counter",
        "Instances refused or failed at ingest, by protocol and reason.",
    ),
    (
        "rangsi_blob_operation_duration_seconds",
        "histogram",
        "Blob store latency by operation.",
    ),
    (
        "rangsi_blob_cache_reads_total",
        "counter",
        "Reads of the local blob cache (--blob-cache) by result (hit, miss).",
    ),
    (
        "rangsi_blob_operation_errors_total",
        "counter",
        "Blob store operations that failed, by operation.",
    ),
];

impl Registry {
    pub fn inc(&self, name: &'static str, labels: Labels, by: u64) {
        let mut c = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        *c.entry((name, labels)).or_insert(0) += by;
    }

    pub fn observe(&self, name: &'static str, labels: Labels, d: Duration) {
        let mut h = self
            .histograms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        h.entry((name, labels))
            .or_default()
            .observe(d.as_secs_f64());
    }

    /// The exposition text; `pool` is the database pool's (size, idle) connections.
    pub fn render(&self, pool: (u32, usize), pool_max: u32) -> String {
        let mut out = String::new();
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let hists = self
            .histograms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if *kind == "counter" {
                for ((n, labels), v) in counters.iter().filter(|((n, _), _)| n == name) {
                    let _ = writeln!(out, "{n}{} {v}", fmt_labels(labels, None));
                }
            } else {
                for ((n, labels), h) in hists.iter().filter(|((n, _), _)| n == name) {
                    for (i, le) in BUCKETS.iter().enumerate() {
                        let _ = writeln!(
                            out,
                            "{n}_bucket{} {}",
                            fmt_labels(labels, Some(&le.to_string())),
                            h.counts[i]
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{n}_bucket{} {}",
                        fmt_labels(labels, Some("+Inf")),
                        h.count
                    );
                    let _ = writeln!(out, "{n}_sum{} {}", fmt_labels(labels, None), h.sum);
                    let _ = writeln!(out, "{n}_count{} {}", fmt_labels(labels, None), h.count);
                }
            }
        }
        let gauges: [(&str, &str, String); 6] = [
            (
                "rangsi_dimse_associations_active",
                "DIMSE associations in progress.",
                self.associations_active.load(Ordering::Relaxed).to_string(),
            ),
            (
                "rangsi_http_requests_in_flight",
                "HTTP requests in progress.",
                self.http_in_flight.load(Ordering::Relaxed).to_string(),
            ),
            (
                "rangsi_audit_queue_depth",
                "Audit records queued, not yet written.",
                self.audit_queue.load(Ordering::Relaxed).max(0).to_string(),
            ),
            (
                "rangsi_process_start_time_seconds",
                "Start time of the process since the Unix epoch.",
                self.started_unix.to_string(),
            ),
            (
                "rangsi_uptime_seconds",
                "Seconds since the process started.",
                self.started.elapsed().as_secs_f64().to_string(),
            ),
            (
                "rangsi_db_pool_max_connections",
                "Largest size of the database connection pool.",
                pool_max.to_string(),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let (size, idle) = pool;
        let _ = writeln!(
            out,
            "# HELP rangsi_db_pool_connections Database pool connections by state.\n\
             # TYPE rangsi_db_pool_connections gauge\n\
             rangsi_db_pool_connections{{state=\"idle\"}} {idle}\n\
             rangsi_db_pool_connections{{state=\"in_use\"}} {}",
            (size as usize).saturating_sub(idle)
        );
        let _ = writeln!(
            out,
            "# HELP rangsi_build_info Version of the running binary.\n\
             # TYPE rangsi_build_info gauge\n\
             rangsi_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

fn fmt_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One answered HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    METRICS.inc(
        "rangsi_http_requests_total",
        vec![
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ],
        1,
    );
    METRICS.observe(
        "rangsi_http_request_duration_seconds",
        vec![("method", method.to_string()), ("route", route.to_string())],
        took,
    );
}

/// An association attempt: `accepted`, `rejected` (A-ASSOCIATE-RJ, unknown AE…), `busy`.
pub fn association(result: &'static str) {
    METRICS.inc(
        "rangsi_dimse_associations_total",
        vec![("result", result.to_string())],
        1,
    );
}

/// A DIMSE response about to be sent: `field` is its command field, `status` its Status.
/// Pending responses (C-FIND matches, C-MOVE/C-GET progress) and sub-operation
/// requests are not counted: one count per answered command.
pub fn dimse_response(field: Option<u16>, status: Option<u16>) {
    let Some(field) = field else { return };
    if field & 0x8000 == 0 {
        return;
    }
    let command = match field & 0x7fff {
        0x0001 => "C-STORE",
        0x0010 => "C-GET",
        0x0020 => "C-FIND",
        0x0021 => "C-MOVE",
        0x0030 => "C-ECHO",
        _ => "other",
    };
    let class = match status.unwrap_or(0) {
        0x0000 => "success",
        0xFF00 | 0xFF01 => return,
        0xFE00 => "cancel",
        0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => "warning",
        _ => "failure",
    };
    METRICS.inc(
        "rangsi_dimse_commands_total",
        vec![("command", command.into()), ("status", class.into())],
        1,
    );
}

/// An instance received by `protocol`: `outcome` is new/duplicate/conflict, or the
/// failure reason when `failed`.
pub fn ingest(protocol: &'static str, outcome: &'static str, failed: bool, bytes: u64) {
    if failed {
        METRICS.inc(
            "rangsi_ingest_failures_total",
            vec![("protocol", protocol.into()), ("reason", outcome.into())],
            1,
        );
        return;
    }
    METRICS.inc(
        "rangsi_instances_stored_total",
        vec![("protocol", protocol.into()), ("outcome", outcome.into())],
        1,
    );
    if outcome == "new" {
        METRICS.inc(
            "rangsi_stored_bytes_total",
            vec![("protocol", protocol.into())],
            bytes,
        );
        METRICS.bytes_stored.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// A blob store wrapped to time each operation.
pub struct MeteredBlobStore<B> {
    inner: B,
}

impl<B> MeteredBlobStore<B> {
    pub fn new(inner: B) -> Self {
        Self { inner }
    }
}

fn timed<T>(op: &'static str, start: Instant, r: &Result<T, BlobError>) {
    METRICS.observe(
        "rangsi_blob_operation_duration_seconds",
        vec![("op", op.into())],
        start.elapsed(),
    );
    if r.is_err() {
        METRICS.inc(
            "rangsi_blob_operation_errors_total",
            vec![("op", op.into())],
            1,
        );
    }
}

#[async_trait]
impl<B: BlobStore> BlobStore for MeteredBlobStore<B> {
    async fn put_file(&self, key: &str, staged: &std::path::Path) -> Result<(), BlobError> {
        let t = Instant::now();
        let r = self.inner.put_file(key, staged).await;
        timed("put", t, &r);
        r
    }
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let t = Instant::now();
        let r = self.inner.size(key).await;
        timed("size", t, &r);
        r
    }
    async fn stream(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream, BlobError> {
        let t = Instant::now();
        let r = self.inner.stream(key, range).await;
        timed("open_stream", t, &r);
        r
    }
    async fn read_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<bytes::Bytes, BlobError> {
        let t = Instant::now();
        let r = self.inner.read_range(key, range).await;
        timed("read_range", t, &r);
        r
    }
    async fn read_all(&self, key: &str) -> Result<bytes::Bytes, BlobError> {
        let t = Instant::now();
        let r = self.inner.read_all(key).await;
        timed("read_all", t, &r);
        r
    }
    async fn list_keys(&self) -> Result<Vec<String>, BlobError> {
        self.inner.list_keys().await
    }
    async fn list_sizes(&self) -> Result<Vec<(String, u64)>, BlobError> {
        let t = Instant::now();
        let r = self.inner.list_sizes().await;
        timed("list", t, &r);
        r
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let t = Instant::now();
        let r = self.inner.delete(key).await;
        timed("delete", t, &r);
        r
    }
    async fn check_ready(&self) -> Result<(), BlobError> {
        self.inner.check_ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_counters_and_histograms() {
        let r = Registry {
            started: Instant::now(),
            started_unix: 0.0,
            counters: Mutex::new(BTreeMap::new()),
            histograms: Mutex::new(BTreeMap::new()),
            associations_active: AtomicI64::new(1),
            audit_queue: AtomicI64::new(0),
            http_in_flight: AtomicI64::new(0),
            bytes_stored: AtomicU64::new(0),
        };
        r.inc(
            "rangsi_http_requests_total",
            vec![("route", "/a\"b".into())],
            2,
        );
        r.observe(
            "rangsi_blob_operation_duration_seconds",
            vec![("op", "put".into())],
            Duration::from_millis(20),
        );
        let text = r.render((3, 1), 8);
        assert!(text.contains("rangsi_http_requests_total{route=\"/a\\\"b\"} 2\n"));
        assert!(
            text.contains(
                "rangsi_blob_operation_duration_seconds_bucket{op=\"put\",le=\"0.01\"} 0\n"
            )
        );
        assert!(text.contains(
            "rangsi_blob_operation_duration_seconds_bucket{op=\"put\",le=\"0.025\"} 1\n"
        ));
        assert!(text.contains("rangsi_db_pool_connections{state=\"in_use\"} 2\n"));
        assert!(text.contains("rangsi_dimse_associations_active 1\n"));
    }
}
