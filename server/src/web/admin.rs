//! The admin portal's JSON API under `/api/admin` (shapes in `rangsi_wire::admin`;
//! permissions, validation and audit in `service::admin`):
//! - `GET|POST /api/admin/hospitals`, `PUT /api/admin/hospitals/{code}`,
//!   `GET /api/admin/hospitals/{code}/stats`;
//! - `GET|POST /api/admin/users`, `PUT /api/admin/users/{username}` (role, disabled),
//!   `POST /api/admin/users/{username}/password`;
//! - `GET|POST /api/admin/aes`, `DELETE /api/admin/aes/{ae_title}`;
//! - `GET|POST /api/admin/tokens`, `DELETE /api/admin/tokens/{id}`;
//! - `GET /api/admin/audit?patient=&user=&study=&action=&hospital=&from=&to=&limit=&offset=`
//!   and `GET /api/admin/audit.csv?…` (the same filter, every record, streamed as CSV:
//!   UTF-8 with a byte order mark so that Excel reads Thai).

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use rangsi_wire::admin::{
    AdminAe, AdminAeList, AdminHospital, AdminHospitalList, AdminTokenList, AdminUser,
    AdminUserList, AuditFilter, AuditPage, GatewayTokenCreated, HospitalStats, HospitalUpdate,
    NewGatewayToken, NewHospital, NewToken, NewUser, PasswordReset, TokenCreated, UserSaved,
    UserUpdate,
};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult, body_error, query_params};
use crate::service::admin::{AUDIT_CSV_HEADER, audit_csv_line};

/// Admin bodies are small: names, codes, a password.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The routes, nested under `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/hospitals", get(hospitals).post(create_hospital))
        .route("/admin/hospitals/{code}", put(update_hospital))
        .route("/admin/hospitals/{code}/stats", get(stats))
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{username}", put(update_user))
        .route("/admin/users/{username}/password", post(reset_password))
        .route("/admin/aes", get(aes).post(add_ae))
        .route("/admin/aes/{ae}", delete(remove_ae))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}", delete(revoke_token))
        .route("/admin/gateway-tokens", post(create_gateway_token))
        .route("/admin/audit", get(audit))
        .route("/admin/audit.csv", get(audit_csv))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn path_of(p: Result<Path<String>, PathRejection>) -> AppResult<String> {
    let Path(p) = p.map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
    Ok(p)
}

async fn hospitals(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<AdminHospitalList>> {
    Ok(Json(state.archive.admin_hospitals(&who).await?))
}

async fn create_hospital(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewHospital>, JsonRejection>,
) -> AppResult<(StatusCode, Json<AdminHospital>)> {
    let Json(body) = body.map_err(|e| body_error("hospital", e))?;
    let h = state.archive.admin_create_hospital(&who, &body).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

async fn update_hospital(
    State(state): State<AppState>,
    Authed(who): Authed,
    code: Result<Path<String>, PathRejection>,
    body: Result<Json<HospitalUpdate>, JsonRejection>,
) -> AppResult<Json<AdminHospital>> {
    let code = path_of(code)?;
    let Json(body) = body.map_err(|e| body_error("hospital", e))?;
    Ok(Json(
        state
            .archive
            .admin_update_hospital(&who, &code, &body)
            .await?,
    ))
}

async fn stats(
    State(state): State<AppState>,
    Authed(who): Authed,
    code: Result<Path<String>, PathRejection>,
) -> AppResult<Json<HospitalStats>> {
    let code = path_of(code)?;
    Ok(Json(state.archive.admin_stats(&who, &code).await?))
}

async fn users(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<AdminUserList>> {
    Ok(Json(state.archive.admin_users(&who).await?))
}

async fn create_user(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewUser>, JsonRejection>,
) -> AppResult<(StatusCode, Json<UserSaved>)> {
    let Json(body) = body.map_err(|e| body_error("user", e))?;
    let u = state.archive.admin_create_user(&who, &body).await?;
    Ok((StatusCode::CREATED, Json(u)))
}

async fn update_user(
    State(state): State<AppState>,
    Authed(who): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<UserUpdate>, JsonRejection>,
) -> AppResult<Json<AdminUser>> {
    let name = path_of(name)?;
    let Json(body) = body.map_err(|e| body_error("user change", e))?;
    Ok(Json(
        state.archive.admin_update_user(&who, &name, &body).await?,
    ))
}

async fn reset_password(
    State(state): State<AppState>,
    Authed(who): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<PasswordReset>, JsonRejection>,
) -> AppResult<Json<UserSaved>> {
    let name = path_of(name)?;
    let Json(body) = body.map_err(|e| body_error("password reset", e))?;
    Ok(Json(
        state
            .archive
            .admin_reset_password(&who, &name, &body)
            .await?,
    ))
}

async fn aes(State(state): State<AppState>, Authed(who): Authed) -> AppResult<Json<AdminAeList>> {
    Ok(Json(state.archive.admin_aes(&who).await?))
}

async fn add_ae(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<AdminAe>, JsonRejection>,
) -> AppResult<(StatusCode, Json<AdminAe>)> {
    let Json(body) = body.map_err(|e| body_error("AE title", e))?;
    let ae = state.archive.admin_add_ae(&who, &body).await?;
    Ok((StatusCode::CREATED, Json(ae)))
}

async fn remove_ae(
    State(state): State<AppState>,
    Authed(who): Authed,
    ae: Result<Path<String>, PathRejection>,
) -> AppResult<StatusCode> {
    let ae = path_of(ae)?;
    state.archive.admin_remove_ae(&who, &ae).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tokens(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<AdminTokenList>> {
    Ok(Json(state.archive.admin_tokens(&who).await?))
}

async fn create_token(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewToken>, JsonRejection>,
) -> AppResult<(StatusCode, Json<TokenCreated>)> {
    let Json(body) = body.map_err(|e| body_error("token", e))?;
    let t = state.archive.admin_create_token(&who, &body).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn create_gateway_token(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewGatewayToken>, JsonRejection>,
) -> AppResult<(StatusCode, Json<GatewayTokenCreated>)> {
    let Json(body) = body.map_err(|e| body_error("gateway token", e))?;
    let t = state
        .archive
        .admin_create_gateway_token(&who, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn revoke_token(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<StatusCode> {
    let id = path_of(id)?;
    let id = id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        AppError::bad_request(format!("a token id is a positive number, got {id:?}"))
    })?;
    state.archive.admin_revoke_token(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

const FILTER_PARAMS: &[&str] = &[
    "patient", "user", "study", "action", "hospital", "from", "to",
];

fn filter_of(p: &mut std::collections::HashMap<String, String>) -> AuditFilter {
    let mut take = |k: &str| p.remove(k).unwrap_or_default();
    AuditFilter {
        patient: take("patient"),
        user: take("user"),
        study: take("study"),
        action: take("action"),
        hospital: take("hospital"),
        from: take("from"),
        to: take("to"),
    }
}

async fn audit(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<AuditPage>> {
    let allowed: Vec<&str> = FILTER_PARAMS
        .iter()
        .copied()
        .chain(["limit", "offset"])
        .collect();
    let mut p = query_params(params, &allowed)?;
    let number = |v: Option<String>, name: &str| -> AppResult<Option<u64>> {
        v.map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| AppError::bad_request(format!("{name} is a number, got {v:?}")))
        })
        .transpose()
    };
    let limit = number(p.remove("limit"), "limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    let offset = number(p.remove("offset"), "offset")?.unwrap_or(0);
    let f = filter_of(&mut p);
    Ok(Json(
        state.archive.admin_audit(&who, &f, limit, offset).await?,
    ))
}

async fn audit_csv(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Response> {
    let mut p = query_params(params, FILTER_PARAMS)?;
    let f = filter_of(&mut p);
    let rx = state.archive.admin_audit_export(&who, &f).await?;
    // The byte order mark and the header, then one line per record as it is read.
    let head = format!("\u{feff}{AUDIT_CSV_HEADER}");
    let rows = futures::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        let chunk = match item {
            Ok(r) => Ok(bytes::Bytes::from(audit_csv_line(&r))),
            Err(e) => {
                tracing::error!(error = %e, "audit export failed mid-way");
                Err(std::io::Error::other("audit export failed"))
            }
        };
        Some((chunk, rx))
    });
    // Fused: the body may be polled again after its end.
    let body = futures::StreamExt::fuse(futures::StreamExt::chain(
        futures::stream::once(async move { Ok(bytes::Bytes::from(head)) }),
        rows,
    ));
    let day = time::OffsetDateTime::now_utc().date();
    let name = format!(
        "rangsi-audit-{:04}{:02}{:02}.csv",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
