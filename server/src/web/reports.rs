//! The reports API under `/api` (shapes in `rangsi_wire::reports`; rules, tenancy and
//! audit in `service::reports`):
//! - `GET /api/reports?study=UID`, `POST /api/reports` (a new draft),
//!   `GET|PUT /api/reports/{id}`, `POST /api/reports/{id}/sign`,
//!   `POST /api/reports/{id}/addenda`, `POST /api/reports/{id}/acknowledge`,
//!   `GET /api/reports/{id}/fhir` (FHIR R4 Bundle, `application/fhir+json`),
//!   `GET /api/reports/{id}/pdf` (the report as PDF, Thai shaped, pages numbered),
//!   `GET /api/reports/turnaround[?from=YYYY-MM-DD&to=YYYY-MM-DD]` (administrators);
//! - `GET /api/report-templates[?lang=th|en&modality=CT&body_part=HEAD]`,
//!   `POST /api/report-templates`, `PUT|DELETE /api/report-templates/{id}` (admins);
//! - consultation requests: `GET /api/consults[?study=UID]`, `POST /api/consults`,
//!   `POST /api/consults/{id}/claim|release|withdraw`; `GET /api/worklist` (radiologists);
//! - `POST /api/studies/{study}/attachments[?title=…]`: a PDF or JPEG body stored into
//!   the study as DICOM (Encapsulated PDF, Secondary Capture);
//! - `GET /api/notifications[?unread=true]`, `POST /api/notifications/{id}/read`: the
//!   report events of the caller's hospital (`service::notify`).

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rangsi_wire::reports::{
    ConsultList, NewAddendum, NewConsult, NewReport, NotificationList, Report, ReportList,
    ReportTemplate, ReportTemplateList, SaveReport, SignReport, Turnaround, Worklist,
};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult, body_error, query_params};
use crate::service::reports::MAX_TEXT;

/// Three fields of at most [`MAX_TEXT`] each, JSON-escaped (Thai is 3 bytes per
/// character, 6 escaped) and some room.
pub const MAX_BODY_BYTES: usize = 3 * 2 * MAX_TEXT + 4096;

/// The routes, nested under `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list).post(create))
        .route("/reports/turnaround", get(turnaround))
        .route("/reports/{id}", get(one).put(save))
        .route("/reports/{id}/sign", post(sign))
        .route("/reports/{id}/addenda", post(addendum))
        .route("/reports/{id}/acknowledge", post(acknowledge))
        .route("/reports/{id}/fhir", get(fhir))
        .route("/reports/{id}/pdf", get(pdf))
        .route("/report-templates", get(templates).post(create_template))
        .route(
            "/report-templates/{id}",
            axum::routing::put(put_template).delete(delete_template),
        )
        .route("/consults", get(consults).post(create_consult))
        .route("/consults/{id}/{action}", post(consult_action))
        .route("/worklist", get(worklist))
        .route("/notifications", get(notifications))
        .route("/notifications/{id}/read", post(read_notification))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(
            Router::new()
                .route("/studies/{study}/attachments", post(attach))
                .layer(DefaultBodyLimit::max(crate::dicom::attach::MAX_BYTES)),
        )
}

fn id_of(id: Result<Path<String>, PathRejection>) -> AppResult<i64> {
    let Path(id) = id.map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AppError::bad_request(format!("an id is a positive number, got {id:?}")))
}

async fn list(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<ReportList>> {
    let mut params = query_params(params, &["study"])?;
    let study = params
        .remove("study")
        .ok_or_else(|| AppError::bad_request("parameter \"study\" is required"))?;
    Ok(Json(state.archive.reports(&who, study.trim()).await?))
}

async fn create(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewReport>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Report>)> {
    let Json(body) = body.map_err(|e| body_error("report", e))?;
    let r = state.archive.create_report(&who, body).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn one(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<Json<Report>> {
    Ok(Json(state.archive.report(&who, id_of(id)?).await?))
}

async fn save(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<SaveReport>, JsonRejection>,
) -> AppResult<Json<Report>> {
    let id = id_of(id)?;
    let Json(body) = body.map_err(|e| body_error("report", e))?;
    Ok(Json(state.archive.save_report(&who, id, body).await?))
}

async fn sign(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<SignReport>, JsonRejection>,
) -> AppResult<Json<Report>> {
    let id = id_of(id)?;
    let Json(body) = body.map_err(|e| body_error("signature", e))?;
    Ok(Json(
        state.archive.sign_report(&who, id, &body.password).await?,
    ))
}

async fn addendum(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<NewAddendum>, JsonRejection>,
) -> AppResult<Json<Report>> {
    let id = id_of(id)?;
    let Json(body) = body.map_err(|e| body_error("addendum", e))?;
    Ok(Json(state.archive.add_addendum(&who, id, body).await?))
}

async fn acknowledge(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<Json<Report>> {
    Ok(Json(
        state.archive.acknowledge_report(&who, id_of(id)?).await?,
    ))
}

async fn fhir(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<Response> {
    let bundle = state.archive.report_fhir(&who, id_of(id)?).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/fhir+json")],
        bundle.to_string(),
    )
        .into_response())
}

async fn pdf(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<Response> {
    let id = id_of(id)?;
    let pdf = state
        .archive
        .report_pdf(&who, id, &state.letter_font)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"report-{id}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

async fn templates(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<ReportTemplateList>> {
    let p = query_params(params, &["lang", "modality", "body_part"])?;
    let get = |k: &str| {
        p.get(k)
            .map(|v| v.trim().to_ascii_uppercase())
            .unwrap_or_default()
    };
    let lang = p.get("lang").map(|l| l.trim().to_ascii_lowercase());
    Ok(Json(
        state
            .archive
            .report_templates(&who, lang.as_deref(), &get("modality"), &get("body_part"))
            .await?,
    ))
}

async fn create_template(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<ReportTemplate>, JsonRejection>,
) -> AppResult<(StatusCode, Json<ReportTemplate>)> {
    let Json(body) = body.map_err(|e| body_error("template", e))?;
    let t = state.archive.put_report_template(&who, 0, body).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn put_template(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ReportTemplate>, JsonRejection>,
) -> AppResult<Json<ReportTemplate>> {
    let id = id_of(id)?;
    let Json(body) = body.map_err(|e| body_error("template", e))?;
    Ok(Json(
        state.archive.put_report_template(&who, id, body).await?,
    ))
}

async fn delete_template(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<StatusCode> {
    state
        .archive
        .delete_report_template(&who, id_of(id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn notifications(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<NotificationList>> {
    let p = query_params(params, &["unread"])?;
    let unread = match p.get("unread").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(AppError::bad_request(format!(
                "unread is true or false, got {v:?}"
            )));
        }
    };
    Ok(Json(state.archive.notifications(&who, unread).await?))
}

async fn read_notification(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<StatusCode> {
    state
        .archive
        .mark_notification_read(&who, id_of(id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn turnaround(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<Turnaround>> {
    let p = query_params(params, &["from", "to"])?;
    Ok(Json(
        state
            .archive
            .turnaround(
                &who,
                p.get("from").map(String::as_str),
                p.get("to").map(String::as_str),
            )
            .await?,
    ))
}

async fn consults(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<ConsultList>> {
    let p = query_params(params, &["study"])?;
    let study = p.get("study").map(|s| s.trim());
    Ok(Json(state.archive.consults(&who, study).await?))
}

async fn create_consult(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<NewConsult>, JsonRejection>,
) -> AppResult<(StatusCode, Json<ConsultList>)> {
    let Json(body) = body.map_err(|e| body_error("consultation request", e))?;
    let list = state.archive.create_consult(&who, body).await?;
    Ok((StatusCode::CREATED, Json(list)))
}

async fn consult_action(
    State(state): State<AppState>,
    Authed(who): Authed,
    path: Result<Path<(String, String)>, PathRejection>,
) -> AppResult<Json<ConsultList>> {
    let Path((id, action)) = path.map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
    let id =
        id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
            AppError::bad_request(format!("an id is a positive number, got {id:?}"))
        })?;
    Ok(Json(state.archive.consult_action(&who, id, &action).await?))
}

async fn worklist(State(state): State<AppState>, Authed(who): Authed) -> AppResult<Json<Worklist>> {
    Ok(Json(state.archive.worklist(&who).await?))
}

async fn attach(
    State(state): State<AppState>,
    Authed(who): Authed,
    Path(study): Path<String>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    let p = query_params(params, &["title"])?;
    let body =
        body.map_err(|e| AppError::new(e.status(), format!("bad attachment: {}", e.body_text())))?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let title = p.get("title").map(|t| t.trim()).unwrap_or("");
    let sop = state
        .archive
        .attach(&who, study.trim(), &media_type, title, &body)
        .await
        .map_err(|e| match e {
            crate::service::ServiceError::Unsupported(m) => {
                AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, m)
            }
            e => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "sop_instance_uid": sop })),
    ))
}
