//! `GET /api/studies` (the viewer's study list: filters, sort, one page and the total)
//! and `GET /api/studies/hospitals` (the hospitals the caller can filter by). JSON in
//! the shapes of `rangsi_wire::api`; parameters are checked by `service::studies`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use rangsi_wire::api::{HospitalList, StudyPage};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult};
use crate::service::studies::StudyListRequest;

/// The routes, nested under `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/studies", get(list))
        .route("/studies/hospitals", get(hospitals))
}

/// Query parameters to the service's request; an unknown or repeated parameter is a
/// 400 (a typo must not silently widen a search).
fn request(params: Vec<(String, String)>) -> AppResult<StudyListRequest> {
    let mut req = StudyListRequest::default();
    for (k, v) in params {
        let slot = match k.as_str() {
            "name" => &mut req.name,
            "id" => &mut req.id,
            "patient" => &mut req.patient,
            "accession" => &mut req.accession,
            "modality" => &mut req.modality,
            "from" => &mut req.from,
            "to" => &mut req.to,
            "hospital" => &mut req.hospital,
            "uid" => &mut req.uid,
            "sort" => &mut req.sort,
            "offset" => &mut req.offset,
            "limit" => &mut req.limit,
            other => {
                return Err(AppError::bad_request(format!(
                    "unknown parameter {other:?}"
                )));
            }
        };
        if slot.is_some() {
            return Err(AppError::bad_request(format!(
                "parameter {k:?} given twice"
            )));
        }
        *slot = Some(v);
    }
    Ok(req)
}

async fn list(
    State(state): State<AppState>,
    Authed(who): Authed,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> AppResult<Json<StudyPage>> {
    let Query(params) =
        params.map_err(|e| AppError::bad_request(format!("bad query string: {e}")))?;
    let req = request(params)?;
    Ok(Json(state.archive.study_list(&who, &req).await?))
}

async fn hospitals(
    State(state): State<AppState>,
    Authed(who): Authed,
) -> AppResult<Json<HospitalList>> {
    Ok(Json(state.archive.study_list_hospitals(&who).await?))
}
