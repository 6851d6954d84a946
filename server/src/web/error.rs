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
