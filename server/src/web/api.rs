//! The JSON API of the viewer: login, logout, who am I.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::{Authed, SESSION_COOKIE};
use super::error::AppResult;
use crate::service::{Principal, Protocol};

#[derive(Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

async fn me_json(state: &AppState, p: &Principal) -> serde_json::Value {
    let hospital = match p.hospital_id {
        Some(id) => state.archive.index().hospital_code(id).await.ok().flatten(),
        None => None,
    };
    serde_json::json!({ "username": p.actor, "role": p.role.as_str(), "hospital": hospital })
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> AppResult<Response> {
    let auth = state.archive.auth();
    let who = auth
        .login(
            &req.username,
            &req.password,
            Protocol::Api,
            &addr.to_string(),
        )
        .await?;
    let secret = auth.create_session(&who).await?;
    state
        .archive
        .audit(&who, "login", "", "", "session", "ok")
        .await?;
    let secure = if state.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        crate::service::auth::SESSION_DAYS * 86400
    );
    let mut res = Json(me_json(&state, &who).await).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let (mut parts, _) = axum::http::Request::new(()).into_parts();
    parts.headers = headers;
    if let Some(secret) = super::auth::session_cookie(&parts) {
        state.archive.auth().end_session(&secret).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rangsi_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(res)
}

pub async fn me(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(me_json(&state, &who).await))
}
