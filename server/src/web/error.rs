//! `AppError`: the one place where service errors become HTTP answers. The real cause
//! is logged once; the client gets a clear, non-leaking JSON message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    /// `Retry-After` of a 429.
    pub retry_after_secs: Option<u64>,
    /// Extra JSON fields of the body (a share link's `needs`).
    pub extra: Option<serde_json::Value>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
            extra: None,
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
            ServiceError::Gone(m) => Self::new(StatusCode::GONE, m),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            ServiceError::Throttled {
                message,
                retry_after_secs,
            } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
            },
            e if e.unavailable().is_some() => {
                // Blob store or index database down: nothing was decided, retry later.
                tracing::error!(error = %e, "storage unavailable");
                let what = e.unavailable().unwrap_or("storage");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{what} is unavailable; try again later"),
                )
            }
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
        let mut body = serde_json::json!({ "error": self.message });
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (self.extra, body.as_object_mut())
        {
            obj.extend(extra);
        }
        let body = body.to_string();
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
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
