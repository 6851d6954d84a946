//! Who is calling: Bearer token, HTTP Basic, or the session cookie. Every DICOMweb and
//! API handler takes [`Authed`], so an unauthenticated request cannot reach one.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use super::AppState;
use super::error::AppError;
use crate::service::{Principal, Protocol, ServiceError};

pub const SESSION_COOKIE: &str = "rangsi_session";

pub struct Authed(pub Principal);

pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
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
            return p.map(Authed).map_err(AppError::from);
        }
        if let Some(secret) = session_cookie(parts) {
            return auth
                .by_secret("session", &secret, protocol, &remote)
                .await
                .map(Authed)
                .map_err(AppError::from);
        }
        Err(AppError::from(ServiceError::Unauthenticated))
    }
}
