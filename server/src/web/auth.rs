//! Who is calling: Bearer token, HTTP Basic, or the session cookie. Every DICOMweb and
//! API handler takes [`Authed`], so an unauthenticated request cannot reach one.
//! A share link's session (the `rangsi_share` cookie) is a principal too, but one that
//! may only read the viewer's paths ([`share_allows`]); its studies are its scope.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use super::AppState;
use super::error::AppError;
use crate::service::auth::Role;
use crate::service::{Principal, Protocol, ServiceError};

pub const SESSION_COOKIE: &str = "rangsi_session";
pub const SHARE_COOKIE: &str = "rangsi_share";

pub struct Authed(pub Principal);

pub fn session_cookie(parts: &Parts) -> Option<String> {
    cookie(parts, SESSION_COOKIE)
}

pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn remote_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default()
}

impl<S> FromRequestParts<S> for Authed
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        // Nested routers see their path without the prefix; the original URI has it.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|u| u.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let protocol = if path.starts_with("/dicomweb") {
            Protocol::DicomWeb
        } else {
            Protocol::Api
        };
        let remote = remote_of(parts);
        let auth = state.archive.auth();
        if let Some(h) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
            let p = if scheme.eq_ignore_ascii_case("bearer") {
                auth.by_secret("token", rest.trim(), protocol, &remote)
                    .await
            } else if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(ServiceError::Unauthenticated)?;
                let (user, pass) = decoded
                    .split_once(':')
                    .ok_or(ServiceError::Unauthenticated)?;
                auth.login(user, pass, protocol, &remote).await
            } else {
                Err(ServiceError::Unauthenticated)
            };
            let who = p.map_err(AppError::from)?;
            if who.role == Role::Gateway && !gateway_allows(&parts.method, &path) {
                return Err(AppError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "a gateway token may only store studies (STOW-RS) and report its status",
                ));
            }
            return Ok(Authed(who));
        }
        if let Some(secret) = session_cookie(parts) {
            return auth
                .by_secret("session", &secret, protocol, &remote)
                .await
                .map(Authed)
                .map_err(AppError::from);
        }
        if let Some(secret) = cookie(parts, SHARE_COOKIE) {
            let who = state
                .archive
                .share_principal(&secret, protocol, &remote)
                .await?;
            let download = who.share.as_ref().is_some_and(|s| s.allow_download);
            if !share_allows(&parts.method, &path, download) {
                return Err(AppError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "a share link opens its own studies in the viewer, and nothing else",
                ));
            }
            return Ok(Authed(who));
        }
        Err(AppError::from(ServiceError::Unauthenticated))
    }
}

/// What a share-link session may ask: reads only, of the viewer's DICOMweb paths
/// (search, metadata, frames, rendered, thumbnails, bulk data) and its own session;
/// whole studies, series or instances (and WADO-URI) only when the link allows
/// download. No study list, no measurements, no referrals, no writes.
pub fn share_allows(method: &axum::http::Method, path: &str, download: bool) -> bool {
    use axum::http::Method;
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if path == "/api/share/session" || path == "/api/me" {
        return true;
    }
    let Some(rest) = path.strip_prefix("/dicomweb/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let whole_object = matches!(
        parts.as_slice(),
        ["studies", _] | ["studies", _, "series", _] | ["studies", _, "series", _, "instances", _]
    );
    if whole_object || parts.as_slice() == ["wado"] {
        return download;
    }
    true
}

/// What a hospital gateway's token may ask: STOW-RS (its hospital's studies) and its
/// own status report. No reads of any kind.
pub fn gateway_allows(method: &axum::http::Method, path: &str) -> bool {
    if method != axum::http::Method::POST {
        return false;
    }
    if path == "/api/gateways/status" || path == "/dicomweb/studies" {
        return true;
    }
    matches!(
        path.strip_prefix("/dicomweb/studies/")
            .map(|r| r.split('/').count()),
        Some(1)
    )
}

#[cfg(test)]
mod tests {
    use super::{gateway_allows, share_allows};

    #[test]
    fn gateway_tokens_store_and_report_only() {
        assert!(gateway_allows(&Method::POST, "/dicomweb/studies"));
        assert!(gateway_allows(&Method::POST, "/dicomweb/studies/1.2.3"));
        assert!(gateway_allows(&Method::POST, "/api/gateways/status"));
        for p in [
            "/dicomweb/studies",
            "/dicomweb/studies/1.2.3",
            "/dicomweb/studies/1.2.3/series",
            "/api/gateways",
            "/api/me",
        ] {
            assert!(!gateway_allows(&Method::GET, p), "GET {p}");
        }
        assert!(!gateway_allows(
            &Method::POST,
            "/dicomweb/studies/1.2/series/3"
        ));
        assert!(!gateway_allows(&Method::POST, "/api/shares"));
    }
    use axum::http::Method;

    #[test]
    fn share_sessions_read_the_viewer_paths_only() {
        let ok = [
            "/dicomweb/studies",
            "/dicomweb/studies/1.2/series",
            "/dicomweb/studies/1.2/metadata",
            "/dicomweb/studies/1.2/series/3/metadata",
            "/dicomweb/studies/1.2/series/3/instances/4/frames/1",
            "/dicomweb/studies/1.2/series/3/instances/4/rendered",
            "/dicomweb/studies/1.2/thumbnail",
            "/api/share/session",
        ];
        for p in ok {
            assert!(share_allows(&Method::GET, p, false), "{p}");
            assert!(!share_allows(&Method::POST, p, true), "POST {p}");
        }
        let never = [
            "/api/studies",
            "/api/measurements",
            "/api/referrals",
            "/api/shares",
            "/api/hospitals",
            "/",
        ];
        for p in never {
            assert!(!share_allows(&Method::GET, p, true), "{p}");
        }
        let download = [
            "/dicomweb/studies/1.2",
            "/dicomweb/studies/1.2/series/3",
            "/dicomweb/studies/1.2/series/3/instances/4",
            "/dicomweb/wado",
        ];
        for p in download {
            assert!(!share_allows(&Method::GET, p, false), "{p}");
            assert!(share_allows(&Method::GET, p, true), "{p}");
        }
    }
}
