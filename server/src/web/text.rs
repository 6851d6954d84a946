//! Requests carrying a NUL character are refused with 400 before any handler runs: a
//! URL with `%00` in its path or query, and JSON bodies of `/api` whose strings hold
//! `\u0000`. NUL is no text a person types and in no DICOM value; SQLite would store or
//! look it up and PostgreSQL refuse it in every text column (an HTTP 500 there), so
//! the index on either engine never sees one. (A raw NUL byte is neither a URL nor
//! JSON: hyper and the handlers' parser refuse it already.)

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;

pub async fn refuse_nul_in_url(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let nul = |s: &str| {
        s.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    if nul(uri.path()) || uri.query().is_some_and(nul) {
        return AppError::bad_request("the URL must not contain NUL characters (%00)")
            .into_response();
    }
    next.run(req).await
}

pub async fn refuse_nul_in_json(req: Request, next: Next) -> Response {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The JSON extractor reads the whole body too; `/api` bodies carry no size limit
    // of their own beyond the server's.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return AppError::bad_request(format!("reading the request body: {e}")).into_response();
        }
    };
    if has_nul_escape(&bytes) {
        return AppError::bad_request("text must not contain NUL characters (\\u0000)")
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether a JSON text holds the escape `\u0000`. A backslash occurs only inside strings,
/// and only as the start of an escape, so each one and the byte after it are one unit
/// (`\\u0000` is a backslash followed by the text `u0000`).
fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn finds_the_nul_escape_only() {
        assert!(has_nul_escape(br#"{"text": "a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"text": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"text": "\u0001 \u00e9 \\"}"#));
        assert!(!has_nul_escape(br#"{"text": "ends with \\"#));
        assert!(!has_nul_escape(b"\\"));
    }
}
