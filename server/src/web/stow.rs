//! STOW-RS: multipart/related `application/dicom` bodies, streamed part by part into
//! staging files, each ingested on its own with a per-instance result (PS3.18 10.5).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde_json::{Map, Value as J, json};

use super::AppState;
use super::auth::Authed;
use super::dicomweb::{DICOM_JSON, base_url};
use super::error::{AppError, AppResult};
use crate::service::Principal;
use crate::service::ingest::{Expect, IngestError, StageError, StagedWriter, StoreOutcome, Stored};

/// PS3.18 Table 10.5.3-2 / PS3.4 Annex B failure and warning reasons.
const FAIL_PROCESSING: u16 = 0x0110;
const FAIL_NOT_AUTHORIZED: u16 = 0x0124;
const FAIL_OUT_OF_RESOURCES: u16 = 0xA700;
const FAIL_MISMATCH: u16 = 0xA900;
const FAIL_CANNOT_UNDERSTAND: u16 = 0xC000;
const WARN_COERCION: u16 = 0xB000;

fn boundary_of(content_type: &str) -> AppResult<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("multipart/related") {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "STOW-RS needs Content-Type multipart/related; type=\"application/dicom\", got {content_type:?}"
            ),
        ));
    }
    let ty = param(content_type, "type");
    if let Some(t) = &ty {
        if !t.eq_ignore_ascii_case("application/dicom") {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "only application/dicom parts are accepted (got type={t}); DICOM JSON + bulk data is not supported"
                ),
            ));
        }
    }
    param(content_type, "boundary")
        .ok_or_else(|| AppError::bad_request("multipart Content-Type has no boundary"))
}

/// The most of a refused request's body read (and dropped) before the answer.
const DRAIN_MAX: u64 = 16 << 20;

/// Reads and drops a request body refused before it was read (up to [`DRAIN_MAX`]):
/// hyper closes a connection whose body is left unread, and a client still sending it
/// may then see the reset instead of the answer.
async fn drain(body: Body) {
    use futures::StreamExt;
    let mut data = body.into_data_stream();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = data.next().await {
        read += chunk.len() as u64;
        if read > DRAIN_MAX {
            break;
        }
    }
}

fn param(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn seq_item(class: &str, inst: &str) -> Map<String, J> {
    let mut m = Map::new();
    if !class.is_empty() {
        m.insert("00081150".into(), json!({"vr": "UI", "Value": [class]}));
    }
    if !inst.is_empty() {
        m.insert("00081155".into(), json!({"vr": "UI", "Value": [inst]}));
    }
    m
}

struct Results {
    ok: Vec<J>,
    failed: Vec<J>,
    warnings: usize,
    /// Failures because the blob store did not answer (an object-store outage).
    unavailable: usize,
}

impl Results {
    fn fail(&mut self, reason: u16, class: &str, inst: &str, why: &str) {
        tracing::info!(
            reason = format!("{reason:04X}"),
            why,
            "STOW instance refused"
        );
        let mut m = seq_item(class, inst);
        m.insert("00081197".into(), json!({"vr": "US", "Value": [reason]}));
        // Error Comment-like text helps people reading the response.
        m.insert(
            "00000902".into(),
            json!({"vr": "LO", "Value": [why.chars().take(64).collect::<String>()]}),
        );
        self.failed.push(J::Object(m));
    }
}

pub async fn store(
    State(s): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    stow(s, who, None, headers, body).await
}

pub async fn store_study(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path(study): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    stow(s, who, Some(study), headers, body).await
}

async fn stow(
    state: AppState,
    who: Principal,
    study: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = match boundary_of(ct) {
        Ok(b) => b,
        Err(e) => {
            drain(body).await;
            return Err(e);
        }
    };
    let limit = state.max_body_bytes;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body of {len} bytes exceeds the limit of {limit} bytes"),
            ));
        }
    }
    if who.hospital_id.is_none() {
        drain(body).await;
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "this account belongs to no hospital, so it cannot store studies",
        ));
    }
    // Count the whole body against the limit as it streams.
    let mut seen = 0u64;
    let too_large = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = too_large.clone();
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len() as u64;
            let over = seen > limit;
            if over {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            async move {
                if over {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::FileTooLarge,
                        "body too large",
                    ))
                } else {
                    Ok(chunk)
                }
            }
        });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut res = Results {
        ok: vec![],
        failed: vec![],
        warnings: 0,
        unavailable: 0,
    };
    let expect = Expect {
        study_uid: study.clone(),
        ..Expect::default()
    };
    let base = base_url(&headers);
    let mut parts = 0usize;
    let mut pending: std::collections::VecDeque<
        tokio::task::JoinHandle<Result<StoreOutcome, IngestError>>,
    > = Default::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                for h in pending.drain(..) {
                    let _ = h.await;
                }
                return Err(body_error(
                    e,
                    parts,
                    too_large.load(std::sync::atomic::Ordering::Relaxed),
                ));
            }
        };
        parts += 1;
        let part_ct = field
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase());
        if let Some(pct) = &part_ct {
            if pct != "application/dicom" {
                res.fail(
                    FAIL_CANNOT_UNDERSTAND,
                    "",
                    "",
                    &format!("part of type {pct} is not application/dicom"),
                );
                continue;
            }
        }
        let mut writer = StagedWriter::create(&state.archive, limit)
            .await
            .map_err(|e| AppError::from(crate::service::ServiceError::from(e)))?;
        let mut field = field;
        let mut failed = None;
        // Some clients (pydicom's dcmwrite as used by dicomweb-client) send the file meta
        // without the 128-byte preamble and "DICM": restore the Part 10 container so the
        // stored file is standard; the data set bytes are untouched.
        let mut head: Vec<u8> = Vec::new();
        let mut head_done = false;
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    let c = if head_done {
                        c
                    } else {
                        head.extend_from_slice(&c);
                        match crate::dicom::part10::normalize_head(&head, false) {
                            crate::dicom::part10::Head::NeedMore => continue,
                            h => {
                                head_done = true;
                                bytes::Bytes::from(apply_head(h, std::mem::take(&mut head)))
                            }
                        }
                    };
                    if let Err(e) = writer.write(&c).await {
                        failed = Some(e);
                        break;
                    }
                }
                Ok(None) => {
                    if !head_done && !head.is_empty() {
                        let h = crate::dicom::part10::normalize_head(&head, true);
                        if let Err(e) = writer
                            .write(&apply_head(h, std::mem::take(&mut head)))
                            .await
                        {
                            failed = Some(e);
                        }
                    }
                    break;
                }
                Err(e) => {
                    writer.abort().await;
                    return Err(body_error(
                        e,
                        parts,
                        too_large.load(std::sync::atomic::Ordering::Relaxed),
                    ));
                }
            }
        }
        if let Some(e) = failed {
            return Err(match e {
                StageError::TooLarge(l) => AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("instance exceeds the limit of {l} bytes"),
                ),
                StageError::Io(io) => AppError::from(crate::service::ServiceError::from(io)),
            });
        }
        let staged = match writer.finish().await {
            Ok(s) => s,
            Err(e) => {
                res.fail(FAIL_OUT_OF_RESOURCES, "", "", &e.to_string());
                continue;
            }
        };
        // Receive the next part while earlier ones are parsed, fsynced and committed.
        let (archive, who2, expect2) = (state.archive.clone(), who.clone(), expect.clone());
        pending.push_back(tokio::spawn(async move {
            archive.ingest(&who2, staged, &expect2).await
        }));
        if pending.len() >= INGEST_PIPELINE {
            if let Some(h) = pending.pop_front() {
                record(&mut res, h.await, &base);
            }
        }
    }
    while let Some(h) = pending.pop_front() {
        record(&mut res, h.await, &base);
    }
    if parts == 0 {
        return Err(AppError::bad_request("the multipart body holds no parts"));
    }
    let mut out = Map::new();
    if let Some(st) = &study {
        out.insert(
            "00081190".into(),
            json!({"vr": "UR", "Value": [format!("{base}/studies/{st}")]}),
        );
    }
    let status = if res.ok.is_empty() && res.unavailable > 0 && res.unavailable == res.failed.len()
    {
        // Nothing stored because storage (blobs or index) is down: retry later.
        StatusCode::SERVICE_UNAVAILABLE
    } else if res.ok.is_empty() {
        StatusCode::CONFLICT
    } else if !res.failed.is_empty() || res.warnings > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    if !res.failed.is_empty() {
        out.insert("00081198".into(), json!({"vr": "SQ", "Value": res.failed}));
    }
    if !res.ok.is_empty() {
        out.insert("00081199".into(), json!({"vr": "SQ", "Value": res.ok}));
    }
    Ok((
        status,
        [(header::CONTENT_TYPE, DICOM_JSON)],
        J::Object(out).to_string(),
    )
        .into_response())
}

/// Instances of one request ingested concurrently.
const INGEST_PIPELINE: usize = 4;

fn record(
    res: &mut Results,
    joined: Result<Result<StoreOutcome, IngestError>, tokio::task::JoinError>,
    base: &str,
) {
    match joined {
        Ok(Ok(o)) => {
            let mut m = seq_item(&o.sop_class_uid, &o.sop_instance_uid);
            m.insert(
                "00081190".into(),
                json!({"vr": "UR", "Value": [format!("{base}/studies/{}/series/{}/instances/{}", o.study_uid, o.series_uid, o.sop_instance_uid)]}),
            );
            if o.stored == Stored::Conflict {
                m.insert(
                    "00081196".into(),
                    json!({"vr": "US", "Value": [WARN_COERCION]}),
                );
                res.warnings += 1;
            }
            res.ok.push(J::Object(m));
        }
        Ok(Err(IngestError::Invalid(why))) => res.fail(FAIL_CANNOT_UNDERSTAND, "", "", &why),
        Ok(Err(IngestError::Mismatch {
            sop_class_uid,
            sop_instance_uid,
            why,
        })) => res.fail(FAIL_MISMATCH, &sop_class_uid, &sop_instance_uid, &why),
        Ok(Err(IngestError::NotAllowed(why))) => res.fail(FAIL_NOT_AUTHORIZED, "", "", &why),
        Ok(Err(IngestError::Service(e))) if e.unavailable().is_some() => {
            tracing::error!(error = %e, "STOW ingest failed: storage unavailable");
            res.unavailable += 1;
            let what = e.unavailable().unwrap_or("storage");
            res.fail(
                FAIL_OUT_OF_RESOURCES,
                "",
                "",
                &format!("{what} unavailable"),
            );
        }
        Ok(Err(IngestError::Service(e))) => {
            tracing::error!(error = %e, "STOW ingest failed");
            res.fail(FAIL_PROCESSING, "", "", "processing failure");
        }
        Err(e) => {
            tracing::error!(error = %e, "STOW ingest task failed");
            res.fail(FAIL_PROCESSING, "", "", "processing failure");
        }
    }
}

fn body_error(e: multer::Error, parts: usize, too_large: bool) -> AppError {
    let text = e.to_string();
    if too_large {
        return AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds the configured limit",
        );
    }
    AppError::bad_request(format!(
        "malformed multipart body after {parts} part(s): {text}"
    ))
}

fn apply_head(h: crate::dicom::part10::Head, head: Vec<u8>) -> Vec<u8> {
    match h {
        crate::dicom::part10::Head::Rewrite {
            mut prefix,
            consumed,
        } => {
            prefix.extend_from_slice(&head[consumed..]);
            prefix
        }
        _ => head,
    }
}
