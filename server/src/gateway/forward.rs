//! The forwarder: pending instances of the gateway's queue to the regional server by
//! STOW-RS (`multipart/related; type="application/dicom"`), a batch per request, gzip
//! on the wire when it helps, with the gateway token.
//!
//! An instance is marked done only once the regional server's STOW response lists it
//! as stored. Network errors, 401/403 (token), 429 and 5xx are transient: the batch is
//! retried with exponential backoff and jitter, and the error is kept as the gateway's
//! last error. What the regional server refuses for an instance is permanent: the
//! instance is kept in state `failed` with the reason (`rangsi gateway retry` requeues).
//! When a batch's answer cannot be attributed to each instance (a refusal without a
//! SOP Instance UID, a 413), its instances are sent again one per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::Value as J;
use tokio_util::sync::CancellationToken;

use super::GatewayConfig;
use crate::index::gateway::QueueItem;
use crate::service::Archive;

/// Gzip is not worth it for these: their pixel data is compressed already.
fn already_compressed(transfer_syntax: &str) -> bool {
    transfer_syntax.starts_with("1.2.840.10008.1.2.4.")
        || transfer_syntax == "1.2.840.10008.1.2.5"
        || transfer_syntax == "1.2.840.10008.1.2.1.99"
}

/// Largest request body that is gzipped.
const MAX_GZIP_BODY: usize = 256 << 20;

/// How long the forwarder sleeps when the queue is empty.
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    archive: Archive,
    client: reqwest::Client,
    upstream: String,
    token: String,
    batch: usize,
    batch_bytes: u64,
    retry_max: Duration,
}

/// A request that did not get an answer about its instances: try again later.
struct Transient(String);

/// What the regional server said about each instance of a batch.
#[derive(Default)]
struct Answer {
    stored: Vec<i64>,
    failed: Vec<(i64, String)>,
    solo: Vec<i64>,
    /// Why some were not stored (for the last error).
    problem: Option<String>,
}

impl Forwarder {
    pub fn new(archive: Archive, cfg: &GatewayConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(900))
            .tcp_nodelay(true)
            .user_agent(concat!("rangsi-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &cfg.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading CA certificate {}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("parsing CA certificate {}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().context("building the HTTPS client")?;
        Ok(Self {
            inner: Arc::new(Inner {
                archive,
                client,
                upstream: cfg.upstream.clone(),
                token: cfg.token.clone(),
                batch: cfg.batch,
                batch_bytes: cfg.batch_bytes,
                retry_max: cfg.retry_max,
            }),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub fn upstream(&self) -> &str {
        &self.inner.upstream
    }

    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// Forwards until `shutdown`; a batch in flight is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let wait = match self.step().await {
                Ok(true) => {
                    failures = 0;
                    None
                }
                Ok(false) => Some(IDLE_POLL),
                Err(Transient(why)) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %why, failures, "forwarding failed; will retry");
                    self.note_error(&why).await;
                    Some(self.backoff(failures))
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
    }

    /// Exponential backoff from 0.5 s up to the configured maximum, with ±50 % jitter
    /// so that ninety gateways do not retry in step after a regional outage.
    fn backoff(&self, failures: u32) -> Duration {
        let base = 0.5f64 * 2f64.powi(failures.saturating_sub(1).min(16) as i32);
        let capped = base.min(self.inner.retry_max.as_secs_f64());
        let jitter = rand::rng().random_range(0.5..1.5);
        Duration::from_secs_f64((capped * jitter).min(self.inner.retry_max.as_secs_f64()))
    }

    async fn note_error(&self, why: &str) {
        let index = self.inner.archive.index();
        let now = crate::index::now_rfc3339();
        if let Err(e) = index.gateway_state_set("last_error", why).await {
            tracing::error!(error = %e, "cannot record the last error");
        }
        let _ = index.gateway_state_set("last_error_at", &now).await;
    }

    /// Queues what arrived and sends one batch. Ok(true): a batch got its answer.
    async fn step(&self) -> Result<bool, Transient> {
        let index = self.inner.archive.index();
        let local = |e: crate::index::IndexError| Transient(format!("gateway queue: {e}"));
        let queued = index.gateway_enqueue_new().await.map_err(local)?;
        if queued > 0 {
            tracing::debug!(queued, "instances queued");
        }
        let batch = index
            .gateway_next_batch(self.inner.batch as i64, self.inner.batch_bytes as i64)
            .await
            .map_err(local)?;
        if batch.is_empty() {
            return Ok(false);
        }
        let answer = self.send(&batch).await?;
        if !answer.stored.is_empty() {
            index
                .gateway_mark_done(&answer.stored)
                .await
                .map_err(local)?;
            index
                .gateway_state_set("last_success_at", &crate::index::now_rfc3339())
                .await
                .map_err(local)?;
        }
        for (id, why) in &answer.failed {
            if let Some(item) = batch.iter().find(|i| i.instance_id == *id) {
                tracing::warn!(
                    sop_instance_uid = %item.sop_uid,
                    study_instance_uid = %item.study_uid,
                    reason = %why,
                    "instance failed for good; kept on the gateway"
                );
            }
            index.gateway_mark_failed(*id, why).await.map_err(local)?;
        }
        if !answer.solo.is_empty() {
            let why = answer.problem.clone().unwrap_or_default();
            index
                .gateway_mark_solo(&answer.solo, &why)
                .await
                .map_err(local)?;
        }
        if let Some(p) = &answer.problem {
            tracing::warn!(problem = %p, "regional server refused instances");
            self.note_error(p).await;
        }
        tracing::info!(
            stored = answer.stored.len(),
            failed = answer.failed.len(),
            resend_alone = answer.solo.len(),
            "batch forwarded"
        );
        Ok(true)
    }

    async fn send(&self, batch: &[QueueItem]) -> Result<Answer, Transient> {
        let archive = &self.inner.archive;
        let boundary = format!("rangsi-gw-{:032x}", rand::rng().random::<u128>());
        let mut body: Vec<u8> = Vec::new();
        let mut answer = Answer::default();
        let mut sent: Vec<&QueueItem> = Vec::new();
        for item in batch {
            let bytes = match archive.blobs().read_all(&item.blob_key).await {
                Ok(b) => b,
                Err(crate::store::BlobError::NotFound(_)) => {
                    answer.failed.push((
                        item.instance_id,
                        "the instance's file is missing on the gateway".into(),
                    ));
                    continue;
                }
                Err(e) => return Err(Transient(format!("reading the gateway's store: {e}"))),
            };
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(&bytes);
            body.extend_from_slice(b"\r\n");
            sent.push(item);
        }
        if sent.is_empty() {
            return Ok(answer);
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        // Compressing needs a second copy in memory: not for very large bodies.
        let worth_gzip = body.len() <= MAX_GZIP_BODY
            && sent.iter().any(|i| !already_compressed(&i.transfer_syntax));
        let (body, gzipped) = if worth_gzip {
            gzip_if_smaller(body).await
        } else {
            (body, false)
        };
        let url = format!("{}/dicomweb/studies", self.inner.upstream);
        let mut req = self
            .inner
            .client
            .post(&url)
            .bearer_auth(&self.inner.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
            )
            .header(reqwest::header::ACCEPT, "application/dicom+json");
        if gzipped {
            req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| Transient(format!("cannot reach {url}: {}", error_chain(&e))))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Transient(format!("reading the answer of {url}: {}", error_chain(&e))))?;
        let brief = || {
            let msg = serde_json::from_str::<J>(&text)
                .ok()
                .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| text.chars().take(300).collect());
            format!("HTTP {} from {url}: {msg}", status.as_u16())
        };
        let ids: Vec<i64> = sent.iter().map(|i| i.instance_id).collect();
        match status.as_u16() {
            200 | 202 | 409 => {
                let json: J = serde_json::from_str(&text).map_err(|e| {
                    Transient(format!(
                        "HTTP {} from {url} with an unreadable answer: {e}",
                        status
                    ))
                })?;
                attribute(&json, &sent, &mut answer);
                Ok(answer)
            }
            401 => Err(Transient(format!(
                "{} (the regional server does not accept the gateway token: check RANGSI_GATEWAY_TOKEN)",
                brief()
            ))),
            403 | 408 | 429 | 500..=599 => Err(Transient(brief())),
            _ if ids.len() > 1 => {
                answer.solo = ids;
                answer.problem = Some(format!("{}; sending these instances one by one", brief()));
                Ok(answer)
            }
            _ => {
                let why = brief();
                answer.failed.push((ids[0], why.clone()));
                answer.problem = Some(why);
                Ok(answer)
            }
        }
    }
}

/// Matches a STOW response's Referenced SOP Sequence (stored) and Failed SOP Sequence
/// to the instances sent. Instances named in neither are resent alone (or, alone
/// already, failed with the response's reason).
fn attribute(json: &J, sent: &[&QueueItem], answer: &mut Answer) {
    let uid_of = |item: &J| -> Option<String> {
        item.get("00081155")?
            .get("Value")?
            .get(0)?
            .as_str()
            .map(String::from)
    };
    let seq = |tag: &str| -> Vec<J> {
        json.get(tag)
            .and_then(|s| s.get("Value"))
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let by_uid: HashMap<&str, i64> = sent
        .iter()
        .map(|i| (i.sop_uid.as_str(), i.instance_id))
        .collect();
    let mut settled = std::collections::HashSet::new();
    for item in seq("00081199") {
        if let Some(id) = uid_of(&item).and_then(|u| by_uid.get(u.as_str()).copied())
            && settled.insert(id)
        {
            answer.stored.push(id);
        }
    }
    let mut anonymous_reasons = Vec::new();
    for item in seq("00081198") {
        let reason = item
            .get("00081197")
            .and_then(|r| r.get("Value"))
            .and_then(|v| v.get(0))
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let comment = item
            .get("00000902")
            .and_then(|r| r.get("Value"))
            .and_then(|v| v.get(0))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let why = format!("refused by the regional server (reason {reason:04X}): {comment}");
        match uid_of(&item).and_then(|u| by_uid.get(u.as_str()).copied()) {
            Some(id) if settled.insert(id) => answer.failed.push((id, why.clone())),
            Some(_) => {}
            None => anonymous_reasons.push(why.clone()),
        }
        answer.problem = Some(why);
    }
    let unsettled: Vec<i64> = sent
        .iter()
        .map(|i| i.instance_id)
        .filter(|id| !settled.contains(id))
        .collect();
    match unsettled.as_slice() {
        [] => {}
        [one] if sent.len() == 1 => {
            let why = anonymous_reasons
                .first()
                .cloned()
                .unwrap_or_else(|| "the regional server's answer did not list it".into());
            answer.failed.push((*one, why));
        }
        _ => answer.solo.extend(unsettled),
    }
}

/// The body gzipped (fast level) when that saves at least 10 %. Runs on this worker
/// thread, marked blocking (`block_in_place`): the forwarder is one task.
async fn gzip_if_smaller(body: Vec<u8>) -> (Vec<u8>, bool) {
    tokio::task::block_in_place(move || {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 2),
            flate2::Compression::fast(),
        );
        let packed = enc.write_all(&body).and_then(|()| enc.finish());
        match packed {
            Ok(z) if (z.len() as f64) < 0.9 * body.len() as f64 => (z, true),
            _ => (body, false),
        }
    })
}

/// An error with its causes ("error sending request: … : connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(id: i64, uid: &str) -> QueueItem {
        QueueItem {
            instance_id: id,
            solo: false,
            sop_uid: uid.into(),
            transfer_syntax: "1.2.840.10008.1.2.1".into(),
            blob_key: String::new(),
            size_bytes: 1,
            study_uid: "1.2".into(),
        }
    }

    #[test]
    fn stow_answers_are_attributed_to_each_instance() {
        let (a, b, c) = (item(1, "1.1"), item(2, "1.2"), item(3, "1.3"));
        // A stored, B refused by UID, one refusal without a UID: C cannot be told apart.
        let answer_json = json!({
            "00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.1"]}}]},
            "00081198": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": ["1.2"]}, "00081197": {"vr": "US", "Value": [0xA900]},
                 "00000902": {"vr": "LO", "Value": ["study mismatch"]}},
                {"00081197": {"vr": "US", "Value": [0xC000]}, "00000902": {"vr": "LO", "Value": ["truncated"]}}
            ]}
        });
        let mut answer = Answer::default();
        attribute(&answer_json, &[&a, &b, &c], &mut answer);
        assert_eq!(answer.stored, vec![1]);
        assert_eq!(answer.failed.len(), 1);
        assert_eq!(answer.failed[0].0, 2);
        assert!(
            answer.failed[0].1.contains("A900") && answer.failed[0].1.contains("study mismatch")
        );
        assert_eq!(answer.solo, vec![3]);

        // Alone, the anonymous refusal is its own: failed with that reason.
        let alone = json!({"00081198": {"vr": "SQ", "Value": [
            {"00081197": {"vr": "US", "Value": [0xC000]}, "00000902": {"vr": "LO", "Value": ["truncated"]}}
        ]}});
        let mut answer = Answer::default();
        attribute(&alone, &[&c], &mut answer);
        assert!(answer.stored.is_empty() && answer.solo.is_empty());
        assert_eq!(answer.failed.len(), 1);
        assert!(answer.failed[0].1.contains("C000") && answer.failed[0].1.contains("truncated"));

        // Stored twice in the answer (a duplicate re-send): done once.
        let twice = json!({"00081199": {"vr": "SQ", "Value": [
            {"00081155": {"vr": "UI", "Value": ["1.1"]}}, {"00081155": {"vr": "UI", "Value": ["1.1"]}}
        ]}});
        let mut answer = Answer::default();
        attribute(&twice, &[&a], &mut answer);
        assert_eq!(answer.stored, vec![1]);
    }

    #[test]
    fn compressed_transfer_syntaxes_are_not_gzipped() {
        assert!(already_compressed("1.2.840.10008.1.2.4.50"));
        assert!(already_compressed("1.2.840.10008.1.2.4.90"));
        assert!(already_compressed("1.2.840.10008.1.2.5"));
        assert!(!already_compressed("1.2.840.10008.1.2.1"));
        assert!(!already_compressed("1.2.840.10008.1.2"));
    }
}
