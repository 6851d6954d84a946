//! Referral and sharing over HTTP: `/api/hospitals`, `/api/referrals`, `/api/shares`
//! (signed-in users), and `/api/share/open` — the one route a share link's holder calls
//! without an account, which sets the `rangsi_share` session cookie. Rules live in
//! `service::referrals` and `service::shares`; this file only maps HTTP.

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rangsi_wire::sharing::{
    HospitalList, HospitalProfile, HospitalProfileUpdate, NewReferral, NewShareLink, Referral,
    ReferralList, ShareLinkCreated, ShareLinkInfo, ShareLinkList, ShareOpen, ShareOpened,
    StatusChange, TakeIntoArchive, TakenIntoArchive,
};

use super::AppState;
use super::auth::{Authed, SHARE_COOKIE};
use super::error::{AppError, AppResult};
use crate::service::shares::OpenRefused;

pub fn routes() -> Router<AppState> {
    let r = Router::new()
        .route("/hospitals", get(hospitals))
        .route("/hospitals/{code}", axum::routing::put(set_hospital))
        .route("/referrals", get(referrals).post(create_referral))
        .route("/referrals/{id}", get(referral))
        .route("/referrals/{id}/status", post(referral_status))
        .route("/referrals/{id}/take", post(take_into_archive))
        .route("/referrals/{id}/letter", post(referral_letter))
        .route("/shares", get(share_links).post(create_share_link))
        .route("/shares/{id}/revoke", post(revoke_share_link))
        .route("/shares/qr", post(share_qr))
        .route("/shares/card", post(share_card))
        .route("/share/open", post(open_share))
        .route("/share/session", get(share_session))
        .route("/share/close", post(close_share));
    #[cfg(debug_assertions)]
    let r = r.route("/test/clock", post(test_clock));
    r
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> AppResult<T> {
    b.map(|Json(v)| v)
        .map_err(|e| AppError::bad_request(format!("bad request body: {}", e.body_text())))
}

fn id_of(p: Result<Path<i64>, PathRejection>) -> AppResult<i64> {
    p.map(|Path(v)| v)
        .map_err(|_| AppError::new(StatusCode::NOT_FOUND, "no such id"))
}

/// `scheme://host` of the request (or the configured public URL) for QR codes.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = if state.tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

async fn hospitals(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<HospitalList>> {
    Ok(Json(state.archive.hospitals(&who).await?))
}

async fn set_hospital(
    State(state): State<AppState>,
    Authed(who): Authed,
    Path(code): Path<String>,
    b: Result<Json<HospitalProfileUpdate>, JsonRejection>,
) -> AppResult<Json<HospitalProfile>> {
    let update = body(b)?;
    Ok(Json(
        state
            .archive
            .set_hospital_profile(&who, &code, &update)
            .await?,
    ))
}

async fn create_referral(
    State(state): State<AppState>,
    Authed(who): Authed,
    b: Result<Json<NewReferral>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Referral>)> {
    let req = body(b)?;
    Ok((
        StatusCode::CREATED,
        Json(state.archive.create_referral(&who, &req).await?),
    ))
}

async fn referrals(
    State(state): State<AppState>,
    Authed(who): Authed,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<ReferralList>> {
    let Query(params) = q.map_err(|e| AppError::bad_request(format!("bad query string: {e}")))?;
    let mut incoming = true;
    for (k, v) in params {
        match (k.as_str(), v.as_str()) {
            ("direction", "incoming") => incoming = true,
            ("direction", "outgoing") => incoming = false,
            _ => {
                return Err(AppError::bad_request(
                    "use direction=incoming or direction=outgoing",
                ));
            }
        }
    }
    Ok(Json(state.archive.referrals(&who, incoming).await?))
}

async fn referral(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> AppResult<Json<Referral>> {
    Ok(Json(state.archive.referral(&who, id_of(id)?).await?))
}

async fn referral_status(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<i64>, PathRejection>,
    b: Result<Json<StatusChange>, JsonRejection>,
) -> AppResult<Json<Referral>> {
    let id = id_of(id)?;
    let change = body(b)?;
    Ok(Json(
        state
            .archive
            .set_referral_status(&who, id, change.status)
            .await?,
    ))
}

async fn take_into_archive(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<i64>, PathRejection>,
    b: Result<Json<TakeIntoArchive>, JsonRejection>,
) -> AppResult<Json<TakenIntoArchive>> {
    let id = id_of(id)?;
    let req = body(b)?;
    Ok(Json(state.archive.take_into_archive(&who, id, &req).await?))
}

async fn referral_letter(
    State(state): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
) -> AppResult<Response> {
    let id = id_of(id)?;
    let origin = origin(&state, &headers);
    let pdf = state
        .archive
        .referral_letter(
            &who,
            id,
            state.share_expiry_days,
            &origin,
            &state.letter_font,
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"referral-{id}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

async fn create_share_link(
    State(state): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    b: Result<Json<NewShareLink>, JsonRejection>,
) -> AppResult<(StatusCode, Json<ShareLinkCreated>)> {
    let req = body(b)?;
    let origin = origin(&state, &headers);
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .archive
                .create_share_link(&who, &req, state.share_expiry_days, &origin)
                .await?,
        ),
    ))
}

async fn share_links(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<ShareLinkList>> {
    Ok(Json(state.archive.share_links(&who).await?))
}

async fn revoke_share_link(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> AppResult<Json<ShareLinkInfo>> {
    Ok(Json(
        state.archive.revoke_share_link(&who, id_of(id)?).await?,
    ))
}

#[derive(serde::Deserialize)]
struct QrRequest {
    token: String,
}

/// The QR code of a link as PNG (`POST` with the token: it is never in a URL we log).
async fn share_qr(
    State(state): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    b: Result<Json<QrRequest>, JsonRejection>,
) -> AppResult<Response> {
    let req = body(b)?;
    let origin = origin(&state, &headers);
    let png = state
        .archive
        .share_qr_png(&who, &req.token, &origin)
        .await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// A printable card (PDF) of a link for the patient (`POST` with the token).
async fn share_card(
    State(state): State<AppState>,
    Authed(who): Authed,
    headers: HeaderMap,
    b: Result<Json<QrRequest>, JsonRejection>,
) -> AppResult<Response> {
    let req = body(b)?;
    let origin = origin(&state, &headers);
    let pdf = state
        .archive
        .share_card_pdf(&who, &req.token, &origin, &state.letter_font)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"rangsi-share.pdf\"",
            ),
        ],
        pdf,
    )
        .into_response())
}

/// Opens a share link (token + PIN or birth date when asked): sets the share cookie.
async fn open_share(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    b: Result<Json<ShareOpen>, JsonRejection>,
) -> AppResult<Response> {
    let req = body(b)?;
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match state
        .archive
        .open_share_link(&req, &addr.to_string(), ua)
        .await
    {
        Ok((secret, opened)) => {
            let secure = if state.tls { "; Secure" } else { "" };
            let cookie = format!(
                "{SHARE_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200{secure}"
            );
            let mut res = Json(opened).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        Err(OpenRefused::Needs(needs, message)) => Err(AppError {
            extra: Some(serde_json::json!({ "needs": needs })),
            ..AppError::new(StatusCode::UNAUTHORIZED, message)
        }),
        Err(OpenRefused::Service(e)) => Err(e.into()),
    }
}

async fn share_session(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<ShareOpened>> {
    Ok(Json(state.archive.share_session_info(&who).await?))
}

async fn close_share() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rangsi_share=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

#[cfg(debug_assertions)]
#[derive(serde::Deserialize)]
struct ClockRequest {
    offset_secs: i64,
}

/// Test builds only: moves the share links' clock (expiry without sleeping).
#[cfg(debug_assertions)]
async fn test_clock(
    Authed(who): Authed,
    b: Result<Json<ClockRequest>, JsonRejection>,
) -> AppResult<StatusCode> {
    if who.role != crate::service::auth::Role::Admin || who.share.is_some() {
        return Err(AppError::new(StatusCode::FORBIDDEN, "administrators only"));
    }
    let req = body(b)?;
    crate::service::shares::set_test_clock_offset(req.offset_secs);
    Ok(StatusCode::NO_CONTENT)
}
