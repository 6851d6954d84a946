//! `AppError`: the one place where service errors become HTTP answers. The real cause
//! is logged once; the client gets a clear, non-leaking JSON message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthenticated => {
                Self::new(StatusCode::UNAUTHORIZED, "authentication required")
            }
            ServiceError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            ServiceError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            ServiceError::BadRequest(m) => Self::new(StatusCode::BAD_REQUEST, m),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            ServiceError::Unsupported(m) => Self::new(StatusCode::NOT_ACCEPTABLE, m),
            other => {
                tracing::error!(error = %other, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"rangsi\", Bearer realm=\"rangsi\""),
            );
        }
        res
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A JSON body that did not parse, as a 400 (413 and 415 kept) naming `what` it was.
pub fn body_error(what: &str, e: axum::extract::rejection::JsonRejection) -> AppError {
    let status = match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    AppError::new(status, format!("bad {what}: {}", e.body_text()))
}

/// Query parameters each given at most once and all among `allowed`.
pub fn query_params(
    params: Result<
        axum::extract::Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
    allowed: &[&str],
) -> AppResult<std::collections::HashMap<String, String>> {
    let axum::extract::Query(params) =
        params.map_err(|e| AppError::bad_request(format!("bad query string: {e}")))?;
    let mut out = std::collections::HashMap::new();
    for (k, v) in params {
        if !allowed.contains(&k.as_str()) {
            return Err(AppError::bad_request(format!("unknown parameter {k:?}")));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(AppError::bad_request(format!(
                "parameter {k:?} given twice"
            )));
        }
    }
    Ok(out)
}
