//! Rangsi's zero-footprint viewer (Leptos CSR, wgpu).
//!
//! The logic that needs no browser is target-independent and unit-tested natively:
//! - [`dicom`]: DICOM JSON (QIDO, `/metadata`) to studies, series and instances;
//!   person names for display.
//! - [`dates`]: DICOM dates shown in Buddhist or Common Era, Thai or English.
//! - [`i18n`]: the UI text in Thai and English.
//! - [`measure`]: lengths, angles, ROI statistics, the pixel probe and calibration.
//! - [`qido`]: the study search form to a QIDO-RS query string.
//! - [`route`]: URLs (`/`, `/viewer?StudyInstanceUIDs=…`, `/iid?…`) to pages.
//! - [`stack`]: slice order, stack scrolling, load order, window/level by drag and presets.
//! - [`studies`]: the studies open together, their series grouped newest study first,
//!   and the series that hangs first.
//! - [`layout`]: viewport grids (1×1 … 3×3) and which series each viewport shows.
//! - [`orientation`]: L/R/A/P/H/F markers, reference lines, nearest slice by position.
//! - [`shortcuts`]: every key of the reading page, its action and its help text.
//! - [`tools`]: the drag tool of the reading page (window/level, pan, zoom, scroll, probe,
//!   measurements), shared by the viewport and the measurement overlay.
//! - [`vr_edit`]: the 3D view's edits: the volume's histogram, the transfer-function
//!   editor's axes and point edits, the clip box and its outline.
//!
//! [`web`] (wasm32 only) is everything that touches the DOM: components, API calls,
//! the decode-worker pool and the canvas renderer glue. Frames are decoded by the
//! separate `decode-worker` (crate `rangsi-viewer-worker`), never on the UI thread.

pub mod dates;
pub mod dicom;
pub mod i18n;
pub mod layout;
pub mod measure;
pub mod mpr;
pub mod orientation;
pub mod qido;
pub mod route;
pub mod shortcuts;
pub mod stack;
pub mod studies;
pub mod tools;
pub mod vr_edit;
pub mod worklist;

#[cfg(target_arch = "wasm32")]
pub mod web;
