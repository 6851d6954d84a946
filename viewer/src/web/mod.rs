//! Everything that runs in the browser (wasm32 only): the Leptos components, the JSON
//! and DICOMweb calls, the decode-worker pool and the glue to `rangsi-render`.
//!
//! - [`app`]: the root component: session, route, language and era preferences.
//! - [`login`], [`study_list`], [`viewer`]: the pages; [`viewport`]: the canvas;
//!   [`mpr`]: the MPR view of a series (three linked planes of one GPU volume) and its
//!   3D view; [`vr_controls`]: its transfer-function editor, clip box and phase picker;
//!   [`canvas`]: device pixels, canvas sizing and resize observing for both;
//!   [`report`]: the study's radiology report beside the images.
//! - [`admin`]: the admin portal (`/admin`): hospitals, users, AE titles, tokens,
//!   statistics, the audit log, report templates and turnaround.
//! - [`notifications`]: the top bar's bell (report events of the user's hospital).
//! - [`consults`]: the reading worklist page and the report panel's reading requests.
//! - [`sharing`]: share links (dialog, landing page), referral form and lists.
//! - [`api`], [`share_api`]: fetch calls (data fetching stays out of the views).
//! - [`workers`]: the pool of decode Web Workers.
//! - [`prefs`]: preferences remembered in `localStorage`.

mod admin;
mod api;
mod app;
mod canvas;
mod consults;
mod login;
mod measure;
mod mpr;
mod notifications;
mod prefs;
mod report;
mod share_api;
mod sharing;
mod study_list;
mod viewer;
mod viewport;
mod vr_controls;
mod workers;

/// Where trunk puts the built assets (`public_url` in Trunk.toml); the server serves them there.
pub const STATIC_PREFIX: &str = "/static/";

/// Mounts the app on `<body>`.
pub fn mount() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("rangsi viewer: {info}").into());
    }));
    leptos::mount::mount_to_body(app::App);
}
