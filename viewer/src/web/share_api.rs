//! Calls of referral and sharing: `/api/hospitals`, `/api/referrals`, `/api/shares`,
//! `/api/share/open` (the landing page of a share link, which must read the status and
//! the `needs` of a refusal, so it has its own fetch).

use rangsi_wire::api::ApiError;
use rangsi_wire::sharing::{
    HospitalList, HospitalProfile, NewReferral, NewShareLink, Referral, ReferralList,
    ReferralStatus, ShareLinkCreated, ShareLinkInfo, ShareLinkList, ShareNeeds, ShareOpen,
    ShareOpened, StatusChange, TakeIntoArchive, TakenIntoArchive,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use super::api::{CallError, json};

fn to_body<T: serde::Serialize>(v: &T) -> Result<String, CallError> {
    serde_json::to_string(v).map_err(|e| CallError::Failed(e.to_string()))
}

fn from_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, CallError> {
    serde_json::from_value(v).map_err(|e| CallError::Failed(e.to_string()))
}

async fn get<T: DeserializeOwned>(url: &str) -> Result<T, CallError> {
    from_value(json("GET", url, "application/json", None).await?)
}

async fn post<B: serde::Serialize, T: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<T, CallError> {
    from_value(json("POST", url, "application/json", Some(to_body(body)?)).await?)
}

pub async fn hospitals() -> Result<Vec<HospitalProfile>, CallError> {
    Ok(get::<HospitalList>("/api/hospitals").await?.hospitals)
}

pub async fn referrals(incoming: bool) -> Result<Vec<Referral>, CallError> {
    let dir = if incoming { "incoming" } else { "outgoing" };
    Ok(
        get::<ReferralList>(&format!("/api/referrals?direction={dir}"))
            .await?
            .referrals,
    )
}

pub async fn create_referral(r: &NewReferral) -> Result<Referral, CallError> {
    post("/api/referrals", r).await
}

pub async fn set_status(id: i64, status: ReferralStatus) -> Result<Referral, CallError> {
    post(
        &format!("/api/referrals/{id}/status"),
        &StatusChange { status },
    )
    .await
}

pub async fn take_into_archive(id: i64, patient_id: &str) -> Result<TakenIntoArchive, CallError> {
    post(
        &format!("/api/referrals/{id}/take"),
        &TakeIntoArchive {
            patient_id: patient_id.to_owned(),
            issuer: None,
            study_uids: vec![],
        },
    )
    .await
}

pub async fn create_share(req: &NewShareLink) -> Result<ShareLinkCreated, CallError> {
    post("/api/shares", req).await
}

pub async fn share_links() -> Result<Vec<ShareLinkInfo>, CallError> {
    Ok(get::<ShareLinkList>("/api/shares").await?.links)
}

pub async fn revoke_share(id: i64) -> Result<ShareLinkInfo, CallError> {
    post(&format!("/api/shares/{id}/revoke"), &serde_json::json!({})).await
}

fn js_error(e: wasm_bindgen::JsValue) -> CallError {
    CallError::Failed(format!("{e:?}"))
}

async fn fetch(method: &str, url: &str, body: Option<String>) -> Result<Response, CallError> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(b) = &body {
        init.set_body(&b.into());
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    request
        .headers()
        .set("Content-Type", "application/json")
        .map_err(js_error)?;
    request
        .headers()
        .set("X-Requested-With", "rangsi-viewer")
        .map_err(js_error)?;
    let window = web_sys::window().ok_or_else(|| CallError::Failed("no window".into()))?;
    let r = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_error)?;
    Ok(r.unchecked_into())
}

async fn text_of(r: &Response) -> String {
    match r.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    }
    .unwrap_or_default()
}

/// Why a share link did not open.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenFail {
    /// The link needs a PIN or birth date (again, when the last one was wrong): the
    /// HTTP status and the server's message.
    Needs(ShareNeeds, u16, String),
    /// Revoked, expired, unknown, throttled: the HTTP status (0 when the call itself
    /// failed) and the server's message.
    Refused(u16, String),
}

/// `POST /api/share/open`: on success the server has set the share cookie.
pub async fn open_share(req: &ShareOpen) -> Result<ShareOpened, OpenFail> {
    let body = to_body(req).map_err(|e| OpenFail::Refused(0, e.to_string()))?;
    let r = fetch("POST", "/api/share/open", Some(body))
        .await
        .map_err(|e| OpenFail::Refused(0, e.to_string()))?;
    let text = text_of(&r).await;
    if r.ok() {
        return serde_json::from_str(&text).map_err(|e| OpenFail::Refused(0, e.to_string()));
    }
    #[derive(serde::Deserialize)]
    struct Refusal {
        error: String,
        #[serde(default)]
        needs: Option<ShareNeeds>,
    }
    match serde_json::from_str::<Refusal>(&text) {
        Ok(Refusal {
            error,
            needs: Some(n),
        }) => Err(OpenFail::Needs(n, r.status(), error)),
        Ok(Refusal { error, .. }) => Err(OpenFail::Refused(r.status(), error)),
        Err(_) => Err(OpenFail::Refused(
            r.status(),
            format!("HTTP {}", r.status()),
        )),
    }
}

/// The referral letter (a POST: it makes a share link for its QR code) opened as a PDF
/// in a new tab.
pub async fn open_letter(id: i64) -> Result<(), CallError> {
    open_pdf(&format!("/api/referrals/{id}/letter"), None).await
}

/// The printable card of a share link (for the patient) opened as a PDF in a new tab.
pub async fn open_card(token: &str) -> Result<(), CallError> {
    let body = to_body(&serde_json::json!({ "token": token }))?;
    open_pdf("/api/shares/card", Some(body)).await
}

async fn open_pdf(url: &str, body: Option<String>) -> Result<(), CallError> {
    let r = fetch("POST", url, body).await?;
    if !r.ok() {
        let text = text_of(&r).await;
        return Err(CallError::Failed(
            serde_json::from_str::<ApiError>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("HTTP {}", r.status())),
        ));
    }
    let blob: web_sys::Blob = JsFuture::from(r.blob().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .unchecked_into();
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    if let Some(w) = web_sys::window() {
        let _ = w.open_with_url_and_target(&url, "_blank");
    }
    Ok(())
}

/// Ends the share session (`POST /api/share/close` drops the cookie).
pub async fn close_share() {
    let _ = fetch("POST", "/api/share/close", None).await;
}
