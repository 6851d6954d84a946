//! [`Target`]: the study, series and instance a DICOMweb path names. One extractor
//! for the `{study}`, `{study}/series/{series}` and `…/instances/{instance}` forms, so
//! that one handler serves a resource at every level it exists at (WADO-RS,
//! metadata, rendered, thumbnail) instead of one near-identical handler per level.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::AppError;

/// What the path names: a study, optionally one of its series, optionally one
/// instance of that series.
pub struct Target {
    pub study: String,
    pub series: Option<String>,
    pub instance: Option<String>,
    /// The frame list of `…/frames/{frames}`, unparsed.
    pub frames: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Target {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::bad_request(format!("bad path: {e}")))?;
        let study = params
            .remove("study")
            .ok_or_else(|| AppError::bad_request("the path names no study"))?;
        Ok(Target {
            study,
            series: params.remove("series"),
            instance: params.remove("instance"),
            frames: params.remove("frames"),
        })
    }
}
