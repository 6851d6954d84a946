//! What the gateway tells: `rangsi gateway status` (read from the queue's database, so
//! it works while the gateway runs), `rangsi gateway retry`, and the status report sent
//! to the regional server (`POST /api/gateways/status`) every ~30 s.

use std::path::Path;
use std::time::Duration;

use rangsi_wire::gateway::{GatewayReport, GatewayStatusAck};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::forward::{Forwarder, error_chain};
use crate::index::Index;
use crate::service::Archive;

/// `rangsi gateway status --json`.
#[derive(Debug, Serialize)]
struct StatusView {
    upstream: Option<String>,
    /// Received and not yet acknowledged by the regional server.
    pending: i64,
    bytes_pending: i64,
    oldest_pending_at: Option<String>,
    failed: i64,
    /// Acknowledged by the regional server (ever).
    forwarded: i64,
    /// Forwarded and still kept on the gateway (`--cache-days`).
    cached: i64,
    last_error: Option<String>,
    last_error_at: Option<String>,
    last_success_at: Option<String>,
    last_report_at: Option<String>,
    failed_instances: Vec<FailedView>,
}

#[derive(Debug, Serialize)]
struct FailedView {
    sop_instance_uid: String,
    study_instance_uid: String,
    attempts: i64,
    reason: String,
}

/// The report as the regional server receives it.
async fn build_report(index: &Index) -> crate::index::Result<GatewayReport> {
    Ok(report_and_summary(index).await?.0)
}

/// The report, and the one queue snapshot it was made from.
async fn report_and_summary(
    index: &Index,
) -> crate::index::Result<(GatewayReport, crate::index::gateway::QueueSummary)> {
    let q = index.gateway_queue_summary().await?;
    let oldest_pending_secs = q.oldest_pending.as_deref().and_then(|s| {
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        u64::try_from((time::OffsetDateTime::now_utc() - t).whole_seconds()).ok()
    });
    let report = GatewayReport {
        version: env!("CARGO_PKG_VERSION").into(),
        queue_length: u64::try_from(q.pending + q.unqueued).unwrap_or(0),
        bytes_pending: u64::try_from(q.bytes_pending + q.unqueued_bytes).unwrap_or(0),
        oldest_pending_secs,
        failed: u64::try_from(q.failed).unwrap_or(0),
        forwarded_total: u64::try_from(q.done + q.pruned).unwrap_or(0),
        last_error: index.gateway_state_get("last_error").await?,
        last_error_at: index.gateway_state_get("last_error_at").await?,
        last_success_at: index.gateway_state_get("last_success_at").await?,
    };
    Ok((report, q))
}

pub async fn print_status(data: &Path, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        data.join("index.sqlite").is_file(),
        "no gateway queue in {} (give the gateway's --data directory)",
        data.display()
    );
    let index = Index::open(&data.join("index.sqlite")).await?;
    let (r, q) = report_and_summary(&index).await?;
    let view = StatusView {
        upstream: index.gateway_state_get("upstream").await?,
        pending: i64::try_from(r.queue_length).unwrap_or(i64::MAX),
        bytes_pending: i64::try_from(r.bytes_pending).unwrap_or(i64::MAX),
        oldest_pending_at: q.oldest_pending,
        failed: q.failed,
        forwarded: i64::try_from(r.forwarded_total).unwrap_or(i64::MAX),
        cached: q.done,
        last_error: r.last_error,
        last_error_at: r.last_error_at,
        last_success_at: r.last_success_at,
        last_report_at: index.gateway_state_get("last_report_at").await?,
        failed_instances: index
            .gateway_failed_items(1000)
            .await?
            .into_iter()
            .map(|f| FailedView {
                sop_instance_uid: f.sop_uid,
                study_instance_uid: f.study_uid,
                attempts: f.attempts,
                reason: f.reason,
            })
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "never".into());
    println!(
        "upstream:      {}",
        view.upstream.as_deref().unwrap_or("(not started yet)")
    );
    println!(
        "pending:       {} instance(s), {} bytes{}",
        view.pending,
        view.bytes_pending,
        view.oldest_pending_at
            .as_deref()
            .map(|t| format!(", oldest queued {t}"))
            .unwrap_or_default()
    );
    println!("forwarded:     {}", view.forwarded);
    println!(
        "cached:        {} (forwarded, still on the gateway)",
        view.cached
    );
    println!("failed:        {}", view.failed);
    println!("last success:  {}", or_none(&view.last_success_at));
    match (&view.last_error, &view.last_error_at) {
        (Some(e), at) => println!("last error:    {e} (at {})", or_none(at)),
        (None, _) => println!("last error:    none"),
    }
    println!("last report:   {}", or_none(&view.last_report_at));
    if !view.failed_instances.is_empty() {
        println!("failed instances (`rangsi gateway retry` sends them again):");
        for f in &view.failed_instances {
            println!(
                "  {}  study {}  after {} attempt(s): {}",
                f.sop_instance_uid, f.study_instance_uid, f.attempts, f.reason
            );
        }
    }
    Ok(())
}

pub async fn retry(data: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        data.join("index.sqlite").is_file(),
        "no gateway queue in {}",
        data.display()
    );
    let index = Index::open(&data.join("index.sqlite")).await?;
    let n = index.gateway_retry_failed().await?;
    println!("{n} failed instance(s) queued again");
    Ok(())
}

/// Sends the status report every `every` until `shutdown` (and once at start).
pub async fn report_loop(
    archive: Archive,
    forwarder: Forwarder,
    every: Duration,
    shutdown: CancellationToken,
) {
    let url = format!("{}/api/gateways/status", forwarder.upstream());
    loop {
        match send_report(&archive, &forwarder, &url).await {
            Ok(ack) => {
                tracing::debug!(health = ?ack.health, "status reported");
                let _ = archive
                    .index()
                    .gateway_state_set("last_report_at", &crate::index::now_rfc3339())
                    .await;
            }
            Err(e) => tracing::info!(error = %e, "cannot report status to the regional server"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn send_report(
    archive: &Archive,
    forwarder: &Forwarder,
    url: &str,
) -> Result<GatewayStatusAck, String> {
    let report = build_report(archive.index())
        .await
        .map_err(|e| e.to_string())?;
    let resp = forwarder
        .client()
        .post(url)
        .bearer_auth(forwarder.token())
        .timeout(Duration::from_secs(30))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&report).map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let text = resp.text().await.map_err(|e| error_chain(&e))?;
    serde_json::from_str::<GatewayStatusAck>(&text).map_err(|e| e.to_string())
}
