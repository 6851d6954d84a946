//! `GET /api/measurements?study=UID`, `PUT /api/measurements/{id}` and
//! `DELETE /api/measurements/{id}`: the viewer's measurements, saved per user. JSON in
//! the shapes of `rangsi_wire::api`; validation, tenancy and audit are in
//! `service::measurements`. Bodies are small: more than [`MAX_BODY_BYTES`] is a 413.

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use rangsi_wire::api::{Measurement, MeasurementList};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult, body_error, query_params};
use crate::service::measurements::validate;

/// A measurement is a few points; this is generous.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The routes, nested under `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/measurements", get(list))
        .route("/measurements/{id}", axum::routing::put(put).delete(delete))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn list(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<MeasurementList>> {
    let mut params = query_params(params, &["study"])?;
    let study = params.remove("study");
    let study = study.ok_or_else(|| AppError::bad_request("parameter \"study\" is required"))?;
    Ok(Json(state.archive.measurements(&who, study.trim()).await?))
}

async fn put(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<Measurement>, JsonRejection>,
) -> AppResult<Json<Measurement>> {
    let Path(id) = id.map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
    let Json(body) = body.map_err(|e| body_error("measurement", e))?;
    let m = validate(&id, body)?;
    Ok(Json(state.archive.put_measurement(&who, m).await?))
}

async fn delete(
    State(state): State<AppState>,
    Authed(who): Authed,
    id: Result<Path<String>, PathRejection>,
) -> AppResult<StatusCode> {
    let Path(id) = id.map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
    state.archive.delete_measurement(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
