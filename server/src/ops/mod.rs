//! Operating the server: Prometheus metrics (`metrics.rs`) on their own listener,
//! the readiness probe, per-request metrics and log spans, the shutdown grace period,
//! TLS for HTTP and DICOM with certificate reload (`tls.rs`), and online backup and
//! restore of a data directory (`backup.rs`; `pg_backup.rs` with the index on PostgreSQL).
//!
//! `/metrics` is never on the public HTTP port: it is served only on `--metrics ADDR`
//! (off by default), meant for a loopback or monitoring-network address. Its labels
//! carry no patient data (route templates, command types, protocols).

pub mod backup;
pub mod metrics;
pub mod pg_backup;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Args;
use tracing::Instrument;

use crate::service::Archive;

/// `rangsi serve`'s operations flags; the same keys (snake_case) may stand in the TOML
/// configuration file, which fills what flags and environment left unset.
#[derive(Args, Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsArgs {
    /// Serve Prometheus `/metrics` (and the probes) on this address, e.g. 127.0.0.1:9464.
    /// Off by default; never exposed on the public HTTP port.
    #[arg(long = "metrics", env = "RANGSI_METRICS")]
    pub metrics: Option<SocketAddr>,
    /// Seconds that in-flight uploads and associations get to finish after SIGTERM
    /// (default 30).
    #[arg(long, env = "RANGSI_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// PEM certificate chain: serve HTTPS instead of HTTP (reloaded on SIGHUP or change).
    #[arg(long, env = "RANGSI_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "RANGSI_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// DICOM over TLS listen address (e.g. 0.0.0.0:2762), with the same certificate.
    #[arg(long, env = "RANGSI_DICOM_TLS")]
    pub dicom_tls: Option<SocketAddr>,
    /// PEM CA certificates: DICOM TLS peers must present a certificate they signed.
    #[arg(long, env = "RANGSI_DICOM_TLS_CA")]
    pub dicom_tls_ca: Option<PathBuf>,
}

/// Resolved operations settings (part of `ServeConfig`).
pub type OpsConfig = OpsArgs;

/// Default of `--shutdown-grace`, in seconds.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;

impl OpsArgs {
    /// Flags (and environment) first, then the configuration file's values.
    pub fn or(self, file: OpsArgs) -> OpsArgs {
        OpsArgs {
            metrics: self.metrics.or(file.metrics),
            shutdown_grace: self.shutdown_grace.or(file.shutdown_grace),
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            dicom_tls: self.dicom_tls.or(file.dicom_tls),
            dicom_tls_ca: self.dicom_tls_ca.or(file.dicom_tls_ca),
        }
    }

    /// Checks what clap's `requires` cannot see across flags and file.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.tls_cert.is_some() == self.tls_key.is_some(),
            "TLS needs both a certificate and its key (tls_cert, tls_key)"
        );
        anyhow::ensure!(
            self.dicom_tls.is_none() || self.tls_cert.is_some(),
            "DICOM TLS (dicom_tls) needs tls_cert and tls_key"
        );
        anyhow::ensure!(
            self.dicom_tls_ca.is_none() || self.dicom_tls.is_some(),
            "dicom_tls_ca needs dicom_tls"
        );
        Ok(())
    }

    pub fn shutdown_grace_secs(&self) -> u64 {
        self.shutdown_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS)
    }
}

/// Set once SIGTERM/SIGINT arrived: `/readyz` then answers 503 so load balancers drain.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

pub fn mark_shutting_down() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// `GET /readyz`: 200 when the index answers and the blob store can be written and read,
/// else 503 with the reason. No authentication, no patient data.
pub async fn readyz(archive: &Archive) -> Response {
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down\n",
        )
            .into_response();
    }
    let limit = Duration::from_secs(5);
    match tokio::time::timeout(limit, archive.index().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: database does not answer\n",
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: database timed out\n",
            )
                .into_response();
        }
    }
    match tokio::time::timeout(limit, archive.blobs().check_ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: blob store");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: blob store cannot be written and read\n",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: blob store timed out\n",
        )
            .into_response(),
    }
}

/// Middleware on every HTTP route: one log span per request (method, route template),
/// a closing log line with status and latency, and the request metrics.
pub async fn observe(req: Request, next: Next) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", method = %method, route = %route);
    let start = Instant::now();
    let m = &metrics::METRICS;
    m.http_in_flight.fetch_add(1, Relaxed);
    let resp = next.run(req).instrument(span.clone()).await;
    m.http_in_flight.fetch_sub(1, Relaxed);
    let took = start.elapsed();
    let status = resp.status().as_u16();
    metrics::http_request(&method, &route, status, took);
    let latency_ms = took.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if route == "/healthz" || route == "/readyz" {
            tracing::debug!(target: "rangsi::http", status, latency_ms, "request");
        } else {
            tracing::info!(target: "rangsi::http", status, latency_ms, "request");
        }
    });
    resp
}

/// The metrics listener: `/metrics` plus the two probes, plain HTTP, until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    archive: Archive,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(a): State<Archive>| async move { readyz(&a).await }),
        )
        .with_state(archive);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        tracing::error!(error = %e, "metrics listener failed");
    }
}

async fn scrape(State(archive): State<Archive>) -> Response {
    let (size, idle, max) = archive.index().pool_stats();
    let body = metrics::METRICS.render((size, idle), max);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
