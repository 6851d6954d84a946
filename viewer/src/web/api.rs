//! Calls to the server: the JSON API (`/api/login`, `/api/me`, `/api/logout`) and
//! DICOMweb QIDO-RS / `/metadata`. Authentication is the session cookie (same origin).
//!
//! A DICOMweb GET can be started before anyone waits for it ([`prefetch`]): a deep
//! link's study and series queries go out together with `/api/me`, the hanging
//! series' `/metadata` as soon as the series are known; the page that needs the
//! answer later takes the request under way instead of asking again. Before the app
//! runs, `index.html` has already sent a deep link's study and series queries; the
//! app takes those fetches over ([`page_early`]).

use rangsi_wire::api::{
    ApiError, HospitalList, HospitalRef, LoginRequest, Me, StudyListRow, StudyPage,
};
use std::cell::RefCell;
use std::collections::HashMap;

use futures::FutureExt as _;
use futures::future::{LocalBoxFuture, Shared};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::dicom::{Instance, Series, Study};
use crate::qido::{StudySearch, percent_encode};

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// 401: not (or no longer) logged in.
    Unauthenticated,
    /// Anything else, as a message for the user.
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unauthenticated => f.write_str("not logged in"),
            CallError::Failed(m) => f.write_str(m),
        }
    }
}

fn js_error(e: wasm_bindgen::JsValue) -> CallError {
    CallError::Failed(
        js_sys::Reflect::get(&e, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| format!("{e:?}")),
    )
}

async fn call(
    method: &str,
    url: &str,
    accept: &str,
    body: Option<String>,
) -> Result<Response, CallError> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = &body {
        init.set_body(&body.into());
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    let headers = request.headers();
    headers.set("Accept", accept).map_err(js_error)?;
    // Lets the server tell the viewer's calls from a DICOMweb client's (no Basic prompt).
    headers
        .set("X-Requested-With", "rangsi-viewer")
        .map_err(js_error)?;
    if body.is_some() {
        headers
            .set("Content-Type", "application/json")
            .map_err(js_error)?;
    }
    let window = web_sys::window().ok_or_else(|| CallError::Failed("no window".into()))?;
    checked(url, JsFuture::from(window.fetch_with_request(&request))).await
}

/// The response of a fetch, or why the call failed (401, or the server's message).
async fn checked(url: &str, fetch: JsFuture) -> Result<Response, CallError> {
    let response: Response = fetch.await.map_err(js_error)?.unchecked_into();
    if response.status() == 401 {
        return Err(CallError::Unauthenticated);
    }
    if !response.ok() {
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        }
        .unwrap_or_default();
        let message = serde_json::from_str::<ApiError>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("{url}: HTTP {}", response.status()));
        return Err(CallError::Failed(message));
    }
    Ok(response)
}

/// The JSON body of a response (an empty array for 204 or an empty body).
async fn body_json(url: &str, response: Response) -> Result<Value, CallError> {
    if response.status() == 204 {
        return Ok(Value::Array(vec![]));
    }
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Value::Array(vec![]));
    }
    serde_json::from_str(&text).map_err(|e| CallError::Failed(format!("{url}: {e}")))
}

pub(super) async fn json(
    method: &str,
    url: &str,
    accept: &str,
    body: Option<String>,
) -> Result<Value, CallError> {
    let response = call(method, url, accept, body).await?;
    body_json(url, response).await
}

/// A JSON API call (`body` already JSON) whose answer is read as `T`; errors as the
/// text the panels show (the report, worklist and admin pages).
pub(super) async fn typed<T: serde::de::DeserializeOwned>(
    method: &str,
    url: &str,
    body: Option<String>,
) -> Result<T, String> {
    let v = json(method, url, "application/json", body)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(v).map_err(|e| format!("{url}: {e}"))
}

/// The fetch of `url` that `index.html`'s early script started for a deep link, if
/// any (`window.__rangsiEarly`, by URL); taken once.
fn page_early(url: &str) -> Option<js_sys::Promise> {
    let window = web_sys::window()?;
    let early = js_sys::Reflect::get(&window, &"__rangsiEarly".into())
        .ok()
        .filter(JsValue::is_object)?;
    let promise = js_sys::Reflect::get(&early, &url.into())
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    let _ = js_sys::Reflect::delete_property(early.unchecked_ref::<js_sys::Object>(), &url.into());
    Some(promise)
}

type Early = Shared<LocalBoxFuture<'static, Result<Value, CallError>>>;

thread_local! {
    /// DICOMweb GETs started ahead of need, by URL; each is taken by its first reader.
    static EARLY: RefCell<HashMap<String, Early>> = RefCell::new(HashMap::new());
}

/// Starts `GET url` (DICOM JSON) now, for a later [`dicom_json`] of the same URL.
fn prefetch(url: String) {
    if EARLY.with(|e| e.borrow().contains_key(&url)) {
        return;
    }
    let page = page_early(&url);
    let request = {
        let url = url.clone();
        async move {
            match page {
                Some(fetch) => body_json(&url, checked(&url, JsFuture::from(fetch)).await?).await,
                None => json("GET", &url, "application/dicom+json", None).await,
            }
        }
        .boxed_local()
        .shared()
    };
    // A shared future runs only when polled: drive it so the request leaves now.
    leptos::task::spawn_local(request.clone().map(drop));
    EARLY.with(|e| e.borrow_mut().insert(url, request));
}

async fn dicom_json(url: &str) -> Result<Value, CallError> {
    if let Some(early) = EARLY.with(|e| e.borrow_mut().remove(url)) {
        match early.await {
            // Asked before the login: ask again now.
            Err(CallError::Unauthenticated) => {}
            answer => return answer,
        }
    }
    json("GET", url, "application/dicom+json", None).await
}

pub async fn login(username: &str, password: &str) -> Result<Me, CallError> {
    let body = serde_json::to_string(&LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    })
    .map_err(|e| CallError::Failed(e.to_string()))?;
    let v = json("POST", "/api/login", "application/json", Some(body)).await?;
    serde_json::from_value(v).map_err(|e| CallError::Failed(e.to_string()))
}

/// Who is logged in; `None` without a valid session.
pub async fn me() -> Result<Option<Me>, CallError> {
    match json("GET", "/api/me", "application/json", None).await {
        Ok(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| CallError::Failed(e.to_string())),
        Err(CallError::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn logout() {
    let _ = call("POST", "/api/logout", "application/json", None).await;
}

// ---- study list (`GET /api/studies`) ----

async fn page_json(url: &str) -> Result<StudyPage, CallError> {
    let v = json("GET", url, "application/json", None).await?;
    serde_json::from_value(v).map_err(|e| CallError::Failed(format!("{url}: {e}")))
}

/// One page of the study list and the number of matching studies.
pub async fn study_page(search: &StudySearch) -> Result<StudyPage, CallError> {
    page_json(&format!("/api/studies?{}", search.api_query())).await
}

/// The hospitals whose studies the user can see (the list's hospital filter).
pub async fn study_hospitals() -> Result<Vec<HospitalRef>, CallError> {
    let url = "/api/studies/hospitals";
    let v = json("GET", url, "application/json", None).await?;
    serde_json::from_value::<HospitalList>(v)
        .map(|l| l.hospitals)
        .map_err(|e| CallError::Failed(format!("{url}: {e}")))
}

/// The studies of a patient (exact patient ID) the user can see, newest first, at most `limit`.
pub async fn patient_studies(patient_id: &str, limit: u32) -> Result<Vec<StudyListRow>, CallError> {
    let page = page_json(&format!(
        "/api/studies?patient={}&sort=-date&limit={limit}",
        percent_encode(patient_id)
    ))
    .await?;
    Ok(page.rows)
}

// ---- end study list ----

fn study_url(study_uid: &str) -> String {
    crate::qido::study_query_url(study_uid)
}

fn series_url(study_uid: &str) -> String {
    crate::qido::series_query_url(study_uid)
}

fn metadata_url(study_uid: &str, series_uid: &str) -> String {
    format!(
        "/dicomweb/studies/{}/series/{}/metadata",
        percent_encode(study_uid),
        percent_encode(series_uid)
    )
}

/// Starts the queries [`open_study`] makes, so that they run while the page starts.
pub fn prefetch_study(study_uid: &str) {
    prefetch(study_url(study_uid));
    prefetch(series_url(study_uid));
}

/// Starts the `/metadata` request [`metadata`] makes for this series.
pub fn prefetch_metadata(study_uid: &str, series_uid: &str) {
    prefetch(metadata_url(study_uid, series_uid));
}

/// A study and its series, both asked at once; `None` when the study does not exist
/// or belongs to a hospital the user cannot see (the server answers the same for both).
pub async fn open_study(study_uid: &str) -> Result<Option<(Study, Vec<Series>)>, CallError> {
    let (study_url, series_url) = (study_url(study_uid), series_url(study_uid));
    let (study, series) = futures::join!(dicom_json(&study_url), dicom_json(&series_url));
    let Some(study) = Study::list_from_json(&study?)
        .into_iter()
        .find(|s| s.study_uid == study_uid)
    else {
        return Ok(None);
    };
    Ok(Some((study, Series::list_from_json(&series?))))
}

pub async fn metadata(study_uid: &str, series_uid: &str) -> Result<Vec<Instance>, CallError> {
    let v = dicom_json(&metadata_url(study_uid, series_uid)).await?;
    Ok(Instance::list_from_json(&v))
}

/// A series' `/metadata` as DICOM JSON (the MPR view reads Enhanced functional groups
/// from it, which [`Instance`] does not keep).
pub async fn metadata_json(study_uid: &str, series_uid: &str) -> Result<Value, CallError> {
    dicom_json(&format!(
        "/dicomweb/studies/{}/series/{}/metadata",
        percent_encode(study_uid),
        percent_encode(series_uid)
    ))
    .await
}

pub fn series_thumbnail_url(study_uid: &str, series_uid: &str) -> String {
    format!(
        "/dicomweb/studies/{}/series/{}/thumbnail?viewport=96,96",
        percent_encode(study_uid),
        percent_encode(series_uid)
    )
}

pub fn study_thumbnail_url(study_uid: &str) -> String {
    format!(
        "/dicomweb/studies/{}/thumbnail?viewport=64,64",
        percent_encode(study_uid)
    )
}

pub fn frame_url(study_uid: &str, series_uid: &str, sop_uid: &str, frame: u32) -> String {
    format!(
        "/dicomweb/studies/{}/series/{}/instances/{}/frames/{frame}",
        percent_encode(study_uid),
        percent_encode(series_uid),
        percent_encode(sop_uid)
    )
}
