//! Hospital gateways over HTTP: `POST /api/gateways/status` (a gateway token reports its
//! queue) and `GET /api/gateways` (the admin portal's list). Rules live in
//! `service::gateways`.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use rangsi_wire::gateway::{GatewayList, GatewayReport, GatewayStatusAck};

use super::AppState;
use super::auth::Authed;
use super::error::{AppError, AppResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/gateways", get(list))
        .route("/gateways/status", post(report))
}

async fn report(
    State(s): State<AppState>,
    Authed(who): Authed,
    body: Result<Json<GatewayReport>, JsonRejection>,
) -> AppResult<Json<GatewayStatusAck>> {
    let Json(report) =
        body.map_err(|e| AppError::bad_request(format!("bad status report: {}", e.body_text())))?;
    Ok(Json(s.archive.gateway_report(&who, report).await?))
}

async fn list(State(s): State<AppState>, Authed(who): Authed) -> AppResult<Json<GatewayList>> {
    Ok(Json(s.archive.list_gateways(&who).await?))
}
