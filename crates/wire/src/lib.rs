//! Wire types shared by the server, the viewer and the viewer's decode worker.
//!
//! - [`api`]: the JSON API (`/api/login`, `/api/me`, errors).
//! - [`admin`]: the admin portal's API (`/api/admin/…`).
//! - [`reports`]: radiology reports and their templates.
//! - [`decode`]: messages between the viewer and its Web Worker that fetches and
//!   decodes frames (the UI thread never decodes).
//! - [`sharing`]: hospitals, referrals and share links (`/api/hospitals`,
//!   `/api/referrals`, `/api/shares`, `/api/share/open`).
//! - [`gateway`]: hospital gateways' status reports and list (`/api/gateways`).
//!
//! Serde only; builds for every target, wasm32 included.

pub mod admin;
pub mod api;
pub mod decode;
pub mod gateway;
pub mod reports;
pub mod sharing;
