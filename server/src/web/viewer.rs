//! The zero-footprint viewer's files, embedded at compile time from `viewer/dist`
//! (see `server/build.rs`): `index.html` at `/` and at the deep links `/viewer` and
//! `/iid` (the app reads the URL), everything else under `/static/`. Hashed file
//! names are cached for good; the rest revalidates by ETag. Files `cargo xtask`
//! precompressed are sent as brotli to browsers that accept it.
//! Without a built viewer, `/` shows `assets/index-placeholder.html`.
//!
//! [`no_basic_prompt`]: the viewer's own calls (marked `X-Requested-With:
//! rangsi-viewer`) get their 401s without `WWW-Authenticate`, or the browser would
//! open its Basic login dialog over the app's login page.

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    /// Quoted, as sent in the `ETag` header.
    pub etag: &'static str,
    pub body: &'static [u8],
    /// The same bytes compressed with brotli, when precompressed.
    pub br: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/viewer_assets.rs"));

const PLACEHOLDER: &str = include_str!("../../../assets/index-placeholder.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/viewer", get(index))
        .route("/iid", get(index))
        // A share link's landing page (`/s/{token}`): the app reads the token.
        .route("/s/{token}", get(index))
        .route("/referrals", get(index))
        .route("/admin", get(index))
        .route("/static/{file}", get(file))
}

/// The header the viewer and its decode worker put on every call.
const VIEWER_CALL: (&str, &str) = ("x-requested-with", "rangsi-viewer");

/// Middleware: no `WWW-Authenticate` challenge on answers to the viewer's own calls.
pub async fn no_basic_prompt(req: Request, next: Next) -> Response {
    let from_viewer = req
        .headers()
        .get(VIEWER_CALL.0)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(VIEWER_CALL.1.as_bytes()));
    let mut res = next.run(req).await;
    if from_viewer {
        res.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    res
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

async fn index(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => serve(asset, &headers, false),
        None => Html(PLACEHOLDER).into_response(),
    }
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match find(&name).filter(|a| a.name != "index.html") {
        Some(asset) => serve(asset, &headers, is_hashed(&name)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Trunk names content-hashed files `name-<16 hex digits>[_bg].ext`.
fn is_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn accepts_br(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("br") && !q_zero
        })
}

fn serve(asset: &'static Asset, headers: &HeaderMap, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match asset.br.filter(|_| accepts_br(headers)) {
            Some(br) => {
                let mut r = br.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
                r
            }
            None => asset.body.into_response(),
        }
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_hashed("rangsi-viewer-9323ebe56f2688c6_bg.wasm"));
        assert!(is_hashed("rangsi-viewer-9323ebe56f2688c6.js"));
        assert!(is_hashed("viewer-e67118cf1e878fb9.css"));
        assert!(!is_hashed("decode-worker_bg.wasm"));
        assert!(!is_hashed("decode-worker_loader.js"));
    }

    #[test]
    fn brotli_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_br(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        assert!(accepts_br(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br;q=0"),
        );
        assert!(!accepts_br(&h));
    }
}
