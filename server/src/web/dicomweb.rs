//! DICOMweb QIDO-RS and WADO-RS (PS3.18) over the service layer.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult};
use super::rendered::image_response;
use super::target::Target;
use crate::dicom::json::BASE_PLACEHOLDER;
use crate::index::query::Level;
use crate::service::query::{Include, QuerySpec, parse_tag};
use crate::service::retrieve::{FrameSyntax, ImageFormat, RenderParams, RenderWindow, Viewport};

pub const DICOM_JSON: &str = "application/dicom+json";

/// `scheme://host/dicomweb`, as the client reached us.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}/dicomweb")
}

pub(crate) fn percent_decode(s: &str) -> Result<String, AppError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => out.push(v),
                    None => {
                        return Err(AppError::bad_request(format!(
                            "bad percent-encoding in query: {s}"
                        )));
                    }
                }
                i += 3;
            }
            b'%' => {
                return Err(AppError::bad_request(format!(
                    "bad percent-encoding in query: {s}"
                )));
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| AppError::bad_request("query is not valid UTF-8"))
}

fn parse_query(raw: Option<&str>, level: Level) -> AppResult<QuerySpec> {
    let mut spec = QuerySpec {
        level,
        keys: vec![],
        include: Include::Defaults,
        fuzzy: false,
        limit: None,
        offset: 0,
    };
    let mut include_tags = vec![];
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)?;
        let v = percent_decode(v)?;
        match k.as_str() {
            "limit" => {
                spec.limit =
                    Some(v.parse().map_err(|_| {
                        AppError::bad_request(format!("limit must be a number: {v:?}"))
                    })?)
            }
            "offset" => {
                spec.offset = v
                    .parse()
                    .map_err(|_| AppError::bad_request(format!("offset must be a number: {v:?}")))?
            }
            "fuzzymatching" => spec.fuzzy = v == "true",
            "includefield" => {
                for f in v.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if f == "all" {
                        spec.include = Include::All;
                    } else {
                        include_tags.push(parse_tag(f).ok_or_else(|| {
                            AppError::bad_request(format!("unknown attribute in includefield: {f}"))
                        })?);
                    }
                }
            }
            _ => {
                let tag = parse_tag(&k).ok_or_else(|| {
                    AppError::bad_request(format!("unknown query parameter or attribute: {k}"))
                })?;
                spec.keys.push((tag, v));
            }
        }
    }
    if spec.limit.is_some_and(|l| l < 0) || spec.offset < 0 {
        return Err(AppError::bad_request(
            "limit and offset must not be negative",
        ));
    }
    if spec.include == Include::Defaults && !include_tags.is_empty() {
        spec.include = Include::Tags(include_tags);
    }
    Ok(spec)
}

fn json_response(body: String, headers: &HeaderMap) -> Response {
    let body = body.replace(BASE_PLACEHOLDER, &base_url(headers));
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..32]
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, DICOM_JSON.to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

/// A JSON answer (QIDO, `/metadata`) up to this size is sent whole, with an ETag (and
/// 304 on a matching If-None-Match); a larger one is streamed item by item (no ETag), so
/// memory stays flat whatever the number of matches or instances.
const JSON_WHOLE_BYTES: usize = 1 << 20;
/// Size of the chunks a streamed JSON answer is sent in.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

/// Appends one item, its `{{BASE}}` placeholders replaced.
fn push_item(out: &mut String, json: &str, base: &str) {
    if json.contains(BASE_PLACEHOLDER) {
        out.push_str(&json.replace(BASE_PLACEHOLDER, base));
    } else {
        out.push_str(json);
    }
}

/// A JSON array of `items` (each already JSON, with `{{BASE}}` placeholders).
async fn json_array_response<S>(mut items: S, headers: &HeaderMap) -> AppResult<Response>
where
    S: futures::Stream<Item = crate::service::Result<String>> + Send + Unpin + 'static,
{
    let base = base_url(headers);
    let mut body = String::from("[");
    let mut first = true;
    let whole = loop {
        match items.next().await {
            None => break true,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(item)) => {
                if !std::mem::take(&mut first) {
                    body.push(',');
                }
                push_item(&mut body, &item, &base);
                if body.len() >= JSON_WHOLE_BYTES {
                    break false;
                }
            }
        }
    };
    if whole {
        body.push(']');
        return Ok(json_response(body, headers));
    }
    // The rest follows as the index reads it, in chunks of about STREAM_CHUNK_BYTES (one
    // frame per item would cost the compression layer a flush each); an error mid-way
    // cuts the body short (the client sees invalid JSON, never a silently partial answer).
    let rest = futures::stream::unfold(Some((items, base)), |state| async move {
        let (mut items, base) = state?;
        let mut chunk = String::with_capacity(STREAM_CHUNK_BYTES + 4096);
        loop {
            match items.next().await {
                Some(Ok(item)) => {
                    chunk.push(',');
                    push_item(&mut chunk, &item, &base);
                    if chunk.len() >= STREAM_CHUNK_BYTES {
                        return Some((Ok(Bytes::from(chunk)), Some((items, base))));
                    }
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "JSON answer failed while streaming");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
                None => {
                    chunk.push(']');
                    return Some((Ok(Bytes::from(chunk)), None));
                }
            }
        }
    });
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
    // Fused: the compression layer may poll once more after the end.
    Ok((
        [(header::CONTENT_TYPE, DICOM_JSON)],
        Body::from_stream(head.chain(rest).fuse()),
    )
        .into_response())
}

async fn run_query(
    state: &AppState,
    who: &crate::service::Principal,
    spec: QuerySpec,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let mut matches = state.archive.query_stream(who, &spec).await?;
    let unsupported = std::mem::take(&mut matches.unsupported);
    let items = futures::stream::unfold(matches, |mut matches| async move {
        let m = matches.next().await?;
        Some((m.map(|m| serde_json::Value::Object(m).to_string()), matches))
    });
    let mut res = json_array_response(Box::pin(items), headers).await?;
    if !unsupported.is_empty() {
        let list: Vec<String> = unsupported
            .iter()
            .map(|t| crate::dicom::json::tag_key(*t))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "299 rangsi \"The following attributes are not supported for matching: {}\"",
            list.join(",")
        )) {
            res.headers_mut().insert(header::WARNING, v);
        }
    }
    Ok(res)
}

pub async fn qido_studies(
    State(s): State<AppState>,
    Authed(who): Authed,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    run_query(&s, &who, parse_query(q.as_deref(), Level::Study)?, &headers).await
}

pub async fn qido_series(
    State(s): State<AppState>,
    Authed(who): Authed,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    run_query(
        &s,
        &who,
        parse_query(q.as_deref(), Level::Series)?,
        &headers,
    )
    .await
}

pub async fn qido_instances(
    State(s): State<AppState>,
    Authed(who): Authed,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    run_query(
        &s,
        &who,
        parse_query(q.as_deref(), Level::Instance)?,
        &headers,
    )
    .await
}

pub async fn qido_study_series(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let mut spec = parse_query(q.as_deref(), Level::Series)?;
    spec.keys
        .push((dicom_dictionary_std::tags::STUDY_INSTANCE_UID, study));
    run_query(&s, &who, spec, &headers).await
}

pub async fn qido_study_instances(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let mut spec = parse_query(q.as_deref(), Level::Instance)?;
    spec.keys
        .push((dicom_dictionary_std::tags::STUDY_INSTANCE_UID, study));
    run_query(&s, &who, spec, &headers).await
}

pub async fn qido_series_instances(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path((study, series)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let mut spec = parse_query(q.as_deref(), Level::Instance)?;
    spec.keys
        .push((dicom_dictionary_std::tags::STUDY_INSTANCE_UID, study));
    spec.keys
        .push((dicom_dictionary_std::tags::SERIES_INSTANCE_UID, series));
    run_query(&s, &who, spec, &headers).await
}

// ---- WADO-RS ----

pub(crate) fn new_boundary() -> String {
    format!(
        "rangsi-{}",
        &crate::service::auth::new_secret("").replace(['-', '_'], "0")[..24]
    )
}

fn multipart_response(boundary: &str, part_type: &str, body: Body) -> Response {
    let ct = format!("multipart/related; type=\"{part_type}\"; boundary={boundary}");
    ([(header::CONTENT_TYPE, ct)], body).into_response()
}

fn accepts_single_part_dicom(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    !accept.contains("multipart/related")
        && accept
            .split(',')
            .any(|a| a.trim().starts_with("application/dicom") && !a.contains("json"))
}

/// What `Accept` asks of whole instances: as stored (`transfer-syntax=*` or the stored
/// one), or Explicit VR Little Endian (no parameter: the default, PS3.18 8.7.3.5.2).
fn instance_syntax(headers: &HeaderMap) -> AppResult<Option<String>> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut wanted: Option<String> = None;
    for part in accept.split(',') {
        if let Some(i) = part.find("transfer-syntax=") {
            let ts: String = part[i + 16..]
                .trim()
                .trim_matches('"')
                .chars()
                .take_while(|c| *c == '*' || c.is_ascii_digit() || *c == '.')
                .collect();
            if ts == "*" {
                return Ok(None);
            }
            wanted.get_or_insert(ts);
        }
    }
    Ok(Some(wanted.unwrap_or_else(|| {
        crate::service::retrieve::EXPLICIT_VR_LE.to_string()
    })))
}

/// WADO-RS of a study, a series or an instance (whichever level the path names).
pub async fn wado(
    State(state): State<AppState>,
    Authed(who): Authed,
    Target {
        study,
        series,
        instance,
        ..
    }: Target,
    headers: HeaderMap,
) -> AppResult<Response> {
    let locs = state
        .archive
        .locate(&who, Some(&study), series.as_deref(), instance.as_deref())
        .await?;
    let wanted = instance_syntax(&headers)?;
    // A named syntax other than the stored one and Explicit VR LE cannot be produced.
    if let Some(w) = &wanted {
        if w != crate::service::retrieve::EXPLICIT_VR_LE {
            if let Some(l) = locs.iter().find(|l| &l.transfer_syntax != w) {
                return Err(AppError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    format!(
                        "instance {} is stored as {} and can be served as stored (transfer-syntax=*) or as 1.2.840.10008.1.2.1, not as {w}",
                        l.sop_uid, l.transfer_syntax
                    ),
                ));
            }
        }
    }
    let transcode = |l: &crate::index::query::InstanceLoc| {
        wanted.as_deref() == Some(crate::service::retrieve::EXPLICIT_VR_LE)
            && crate::service::retrieve::needs_transcode_to_explicit_le(&l.transfer_syntax)
    };
    if instance.is_some() && accepts_single_part_dicom(&headers) && !transcode(&locs[0]) {
        let loc = &locs[0];
        return single_part(
            &state,
            &loc.blob_key,
            loc.size_bytes as u64,
            &loc.sha256,
            "application/dicom",
            &headers,
        )
        .await;
    }
    // Instances are immutable: the set of their hashes identifies the payload.
    let locs_key: String = locs
        .iter()
        .map(|l| l.sha256.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let boundary = new_boundary();
    let archive = state.archive.clone();
    let b2 = boundary.clone();
    let convert: Vec<bool> = locs.iter().map(transcode).collect();
    let parts = futures::stream::iter(locs.into_iter().zip(convert)).then(move |(loc, convert)| {
        let archive = archive.clone();
        let b = b2.clone();
        async move {
            let tail = Bytes::from_static(b"\r\n");
            if convert {
                // Pixel data this server cannot decode is served as stored (the part's
                // transfer-syntax says which) rather than failing the whole response.
                match archive.instance_as_explicit_le(&loc).await {
                    Ok(bytes) => {
                        let head = Bytes::from(format!(
                            "--{b}\r\nContent-Type: application/dicom; transfer-syntax={}\r\nContent-Length: {}\r\n\r\n",
                            crate::service::retrieve::EXPLICIT_VR_LE,
                            bytes.len()
                        ));
                        return futures::stream::iter([Ok(head), Ok(bytes), Ok(tail)]).boxed();
                    }
                    Err(e) => tracing::info!(error = %e, sop = loc.sop_uid, "serving as stored: cannot transcode"),
                }
            }
            let head = Bytes::from(format!(
                "--{b}\r\nContent-Type: application/dicom; transfer-syntax={}\r\nContent-Length: {}\r\n\r\n",
                loc.transfer_syntax, loc.size_bytes
            ));
            match archive.blobs().stream(&loc.blob_key, None).await {
                Ok(s) => futures::stream::once(async { Ok(head) }).chain(s).chain(futures::stream::once(async { Ok(tail) })).boxed(),
                Err(e) => futures::stream::once(async move { Err(std::io::Error::other(e.to_string())) }).boxed(),
            }
        }
    });
    let end = Bytes::from(format!("--{boundary}--\r\n"));
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(locs_key.as_bytes()))[..32]
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let body = parts.flatten().chain(futures::stream::once(async {
        Ok::<_, std::io::Error>(end)
    }));
    let mut res = multipart_response(&boundary, "application/dicom", Body::from_stream(body));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

/// A single-part payload from a blob with ETag and Range support.
async fn single_part(
    state: &AppState,
    key: &str,
    size: u64,
    sha: &str,
    content_type: &str,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let etag = format!("\"{sha}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        let (start, end) = parse_range(range, size).ok_or_else(|| {
            AppError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("unsatisfiable range {range} for {size} bytes"),
            )
        })?;
        let stream = state
            .archive
            .blobs()
            .stream(key, Some(start..end + 1))
            .await
            .map_err(crate::service::ServiceError::from)?;
        return Ok((
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (header::ETAG, etag),
                (header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")),
                (header::ACCEPT_RANGES, "bytes".into()),
                (header::CONTENT_LENGTH, (end + 1 - start).to_string()),
            ],
            Body::from_stream(stream),
        )
            .into_response());
    }
    let stream = state
        .archive
        .blobs()
        .stream(key, None)
        .await
        .map_err(crate::service::ServiceError::from)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, etag),
            (header::ACCEPT_RANGES, "bytes".into()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range only).
fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.strip_prefix("bytes=")?.trim();
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (size.saturating_sub(n), size - 1)
    } else {
        let s: u64 = a.parse().ok()?;
        let e: u64 = if b.is_empty() {
            size - 1
        } else {
            b.parse::<u64>().ok()?.min(size - 1)
        };
        (s, e)
    };
    (start <= end && start < size).then_some((start, end))
}

/// The metadata of a study, a series or an instance.
pub async fn metadata(
    State(s): State<AppState>,
    Authed(who): Authed,
    Target {
        study,
        series,
        instance,
        ..
    }: Target,
    headers: HeaderMap,
) -> AppResult<Response> {
    let items = s
        .archive
        .metadata(&who, &study, series.as_deref(), instance.as_deref())
        .await?;
    let items = futures::stream::unfold(items, |mut items| async move {
        Some((items.next().await?, items))
    });
    json_array_response(Box::pin(items), &headers).await
}

fn media_type_for(ts: &str) -> &'static str {
    match ts {
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70" => "image/jpeg",
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "image/jls",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "image/jp2",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            "image/jphc"
        }
        "1.2.840.10008.1.2.5" => "image/dicom-rle",
        _ => "application/octet-stream",
    }
}

fn frame_syntax(headers: &HeaderMap) -> (FrameSyntax, bool) {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let octet =
        accept.is_empty() || accept.contains("application/octet-stream") || accept.contains("*/*");
    if accept.contains("transfer-syntax=*") || accept.contains("transfer-syntax=\"*\"") {
        return (FrameSyntax::Any, octet);
    }
    if [
        "image/jpeg",
        "image/jls",
        "image/jp2",
        "image/jphc",
        "image/dicom-rle",
        "image/jpx",
    ]
    .iter()
    .any(|t| accept.contains(t))
    {
        return (FrameSyntax::AsStored, false);
    }
    // A named compressed syntax is served as stored when it is the stored one; the
    // service falls back to decoding otherwise.
    if let Some(i) = accept.find("transfer-syntax=") {
        let rest = &accept[i + 16..];
        let ts: String = rest
            .trim_matches('"')
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if ts != "1.2.840.10008.1.2.1" && !ts.is_empty() {
            return (FrameSyntax::AsStored, octet);
        }
    }
    (FrameSyntax::Native, true)
}

pub(crate) fn parse_frame_list(list: &str) -> AppResult<Vec<u32>> {
    let v: Result<Vec<u32>, _> = list.split(',').map(|f| f.trim().parse::<u32>()).collect();
    match v {
        Ok(v) if !v.is_empty() && v.iter().all(|&n| n >= 1) && v.len() <= 10_000 => Ok(v),
        _ => Err(AppError::bad_request(format!(
            "frame list must be comma-separated numbers from 1: {list:?}"
        ))),
    }
}

pub async fn frames(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let numbers = parse_frame_list(&list)?;
    let (want, octet) = frame_syntax(&headers);
    let parts = s
        .archive
        .frames(&who, &study, &series, &instance, &numbers, want)
        .await?;
    let boundary = new_boundary();
    let mut body = Vec::with_capacity(parts.iter().map(|p| p.bytes.len() + 160).sum());
    let mut part_type = "application/octet-stream";
    let base = base_url(&headers);
    for (p, n) in parts.iter().zip(&numbers) {
        let mt = if octet {
            "application/octet-stream"
        } else {
            media_type_for(&p.transfer_syntax)
        };
        part_type = mt;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {mt}; transfer-syntax={}\r\nContent-Location: {base}/studies/{study}/series/{series}/instances/{instance}/frames/{n}\r\nContent-Length: {}\r\n\r\n",
                p.transfer_syntax,
                p.bytes.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(&p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/related; type=\"{part_type}\"; boundary={boundary}");
    Ok(([(header::CONTENT_TYPE, ct)], body).into_response())
}

pub async fn bulk(
    State(s): State<AppState>,
    Authed(who): Authed,
    Path((study, series, instance, tag)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    let parts = s
        .archive
        .bulk(&who, &study, &series, &instance, &tag)
        .await?;
    let boundary = new_boundary();
    let mut body = Vec::new();
    for p in &parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", p.len()).as_bytes());
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(multipart_response(
        &boundary,
        "application/octet-stream",
        Body::from(body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
    }

    #[test]
    fn percent() {
        assert_eq!(
            percent_decode("%E0%B8%AA%E0%B8%A1*").ok().as_deref(),
            Some("สม*")
        );
        assert!(percent_decode("%E").is_err());
        assert!(percent_decode("%ZZ").is_err());
    }
}

// ---- WADO-URI (PS3.18 chapter 9): what older viewers (Weasis, many web PACS) still use ----

/// `GET /dicomweb/wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…[&contentType=…]`
/// `contentType` `application/dicom` gives the stored file; `image/jpeg` (the default) or
/// `image/png` a rendered frame (`frameNumber`, `windowCenter`, `windowWidth`, `rows`,
/// `columns`, `imageQuality`).
pub async fn wado_uri(
    State(s): State<AppState>,
    Authed(who): Authed,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let mut p = std::collections::HashMap::new();
    for pair in q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|x| !x.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        p.insert(k.to_string(), percent_decode(v)?);
    }
    if p.get("requestType").map(String::as_str) != Some("WADO") {
        return Err(AppError::bad_request("requestType must be WADO"));
    }
    let need = |k: &str| {
        p.get(k)
            .cloned()
            .ok_or_else(|| AppError::bad_request(format!("missing {k}")))
    };
    let (study, series, object) = (need("studyUID")?, need("seriesUID")?, need("objectUID")?);
    let content_type = p
        .get("contentType")
        .map(String::as_str)
        .unwrap_or("image/jpeg");
    if content_type.starts_with("application/dicom") {
        let locs = s
            .archive
            .locate(&who, Some(&study), Some(&series), Some(&object))
            .await?;
        let loc = &locs[0];
        return single_part(
            &s,
            &loc.blob_key,
            loc.size_bytes as u64,
            &loc.sha256,
            "application/dicom",
            &headers,
        )
        .await;
    }
    let format = match content_type {
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/jpeg" | "image/*" | "*/*" => ImageFormat::Jpeg,
        other => {
            return Err(AppError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!("contentType {other} is not offered"),
            ));
        }
    };
    let num = |k: &str| p.get(k).and_then(|v| v.trim().parse::<f64>().ok());
    let params = RenderParams {
        window: match (num("windowCenter"), num("windowWidth")) {
            (Some(center), Some(width)) if width > 0.0 => Some(RenderWindow {
                center,
                width,
                function: rangsi_pixels::VoiFunction::Linear,
            }),
            _ => None,
        },
        viewport: match (num("columns"), num("rows")) {
            (Some(c), Some(r)) if c >= 1.0 && r >= 1.0 => Some((c as u32, r as u32)),
            (Some(c), None) if c >= 1.0 => Some((c as u32, c as u32)),
            (None, Some(r)) if r >= 1.0 => Some((r as u32, r as u32)),
            _ => None,
        }
        .map(|(width, height)| Viewport {
            width: width.min(8192),
            height: height.min(8192),
            region: None,
        }),
        quality: num("imageQuality").map(|q| q.clamp(1.0, 100.0) as u8),
    };
    let frame = num("frameNumber").map(|f| f.max(1.0) as u32).unwrap_or(1);
    Ok(image_response(
        s.archive
            .rendered(&who, &study, &series, &object, frame, &params, format)
            .await?,
        format,
    ))
}
