//! The measurement layer of a viewport: an SVG over the canvas that draws the user's
//! measurements in screen space (through the viewport's `ViewState`, so they follow
//! zoom, pan, rotation and flips), creates them with the mouse or a finger, selects,
//! moves their handles, deletes them (Delete key or button), shows the pixel probe
//! under the pointer, and saves every change for the user on the server
//! (`/api/measurements`). The tool buttons are [`MeasureTools`].
//!
//! ROI statistics and the probe read the decoded samples of the frame on screen:
//! the viewport hands each decoded frame's buffer to [`keep_samples`] (a reference to
//! the worker's transferred `ArrayBuffer`, not a copy); only the rows an ROI covers
//! are copied into wasm memory when its statistics are computed.
//!
//! The math (calibration, lengths, angles, statistics, drafts) is `crate::measure`,
//! tested natively.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use leptos::prelude::*;
use rangsi_render::ViewState;
use rangsi_wire::api::{Measurement, MeasurementKind, MeasurementList};
use rangsi_wire::decode::TexelKind;
use wasm_bindgen::JsCast;

use super::api::{self, CallError};
use super::app::ui;
use super::workers::DecodedSamples;
use crate::dicom::{Instance, Series};
use crate::i18n::{Text, tr};
use crate::measure::{
    Draft, MeasuredValue, PlaneGeometry, Point, Rescale, Roi, Spacing, SpacingAttributes,
    geometric_value, label_lines, modality_unit, new_id, pixel_at, probe, trim_number,
};
use crate::qido::percent_encode;
use crate::tools::ToolMode;

/// Decoded samples kept for the probe and ROI statistics, at most this many bytes
/// (the oldest frames are forgotten first; a forgotten frame shows no statistics).
const SAMPLE_BUDGET_BYTES: usize = 768 << 20;

/// Modalities whose Pixel Spacing may be a detector spacing (PS3.3 10.7.1.3): their
/// calibration attributes are read from the instance's metadata.
const PROJECTION_MODALITIES: &[&str] = &["CR", "DX", "MG", "RF", "XA", "IO", "PX", "RG", "DF"];

/// Screen pixels a new measurement must span to be kept (a click is not a length).
const MIN_DRAG_PX: f64 = 4.0;

struct FrameSamples {
    kind: TexelKind,
    columns: u32,
    rows: u32,
    buffer: js_sys::ArrayBuffer,
}

impl FrameSamples {
    fn bytes_per_sample(&self) -> u32 {
        self.kind.bytes_per_pixel()
    }

    /// The stored value at a row-major index; none for colour (see [`Self::rgb`]).
    fn stored(&self, index: usize) -> Option<f64> {
        if index >= self.columns as usize * self.rows as usize || self.kind.is_colour() {
            return None;
        }
        let i = index as u32;
        Some(match self.kind {
            TexelKind::I16 => f64::from(js_sys::Int16Array::new(&self.buffer).get_index(i)),
            TexelKind::U16 => f64::from(js_sys::Uint16Array::new(&self.buffer).get_index(i)),
            TexelKind::F32 => f64::from(js_sys::Float32Array::new(&self.buffer).get_index(i)),
            TexelKind::Rgba8 => return None,
        })
    }

    /// R, G, B of a colour frame's pixel at a row-major index.
    fn rgb(&self, index: usize) -> Option<[u8; 3]> {
        if index >= self.columns as usize * self.rows as usize || !self.kind.is_colour() {
            return None;
        }
        let v =
            js_sys::Uint8Array::new_with_byte_offset_and_length(&self.buffer, index as u32 * 4, 3)
                .to_vec();
        Some([v[0], v[1], v[2]])
    }

    /// The stored samples of `columns0..columns1` on rows `rows0..rows1`, row-major
    /// (none for colour: ROIs on colour images show their size only).
    fn region(&self, b: crate::measure::PixelBox) -> Vec<f64> {
        if self.kind.is_colour() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(b.columns() * b.rows());
        let size = self.bytes_per_sample();
        for r in b.row0..b.row1 {
            let offset = (r * self.columns + b.column0) * size;
            let n = b.column1 - b.column0;
            match self.kind {
                TexelKind::I16 => out.extend(
                    js_sys::Int16Array::new_with_byte_offset_and_length(&self.buffer, offset, n)
                        .to_vec()
                        .into_iter()
                        .map(f64::from),
                ),
                TexelKind::U16 => out.extend(
                    js_sys::Uint16Array::new_with_byte_offset_and_length(&self.buffer, offset, n)
                        .to_vec()
                        .into_iter()
                        .map(f64::from),
                ),
                TexelKind::F32 => out.extend(
                    js_sys::Float32Array::new_with_byte_offset_and_length(&self.buffer, offset, n)
                        .to_vec()
                        .into_iter()
                        .map(f64::from),
                ),
                TexelKind::Rgba8 => {}
            }
        }
        out
    }
}

#[derive(Default)]
struct SampleStore {
    by_sop: HashMap<String, FrameSamples>,
    order: VecDeque<String>,
    bytes: usize,
}

thread_local! {
    static SAMPLES: RefCell<SampleStore> = RefCell::new(SampleStore::default());
    /// Notified when samples arrive, so labels waiting for them are computed again.
    static ARRIVED: ArcTrigger = ArcTrigger::new();
}

fn sample_key(sop_uid: &str, frame: u32) -> String {
    format!("{sop_uid}/{frame}")
}

/// Keeps a reference to a decoded frame's samples (called by the viewport for every
/// frame it uploads) for the probe and ROI statistics of frame `frame` (from 1) of
/// instance `sop_uid`.
pub fn keep_samples(sop_uid: &str, frame_number: u32, decoded: &DecodedSamples) {
    let key = sample_key(sop_uid, frame_number);
    let h = &decoded.header;
    let frame = FrameSamples {
        kind: h.kind,
        columns: u32::from(h.columns),
        rows: u32::from(h.rows),
        buffer: decoded.samples.clone(),
    };
    let size = decoded.samples.byte_length() as usize;
    SAMPLES.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(old) = s.by_sop.insert(key.clone(), frame) {
            s.bytes = s.bytes.saturating_sub(old.buffer.byte_length() as usize);
            s.order.retain(|k| *k != key);
        }
        s.order.push_back(key);
        s.bytes += size;
        while s.bytes > SAMPLE_BUDGET_BYTES && s.order.len() > 1 {
            let Some(oldest) = s.order.pop_front() else {
                break;
            };
            if let Some(f) = s.by_sop.remove(&oldest) {
                s.bytes = s.bytes.saturating_sub(f.buffer.byte_length() as usize);
            }
        }
    });
    ARRIVED.with(ArcTrigger::notify);
}

/// The kept samples of frame `frame` of `sop_uid` — (kind, columns, rows, buffer) —
/// for uploading them again after the GPU was lost.
pub fn kept_samples(
    sop_uid: &str,
    frame: u32,
) -> Option<(TexelKind, u32, u32, js_sys::ArrayBuffer)> {
    with_samples(sop_uid, frame, |f| {
        (f.kind, f.columns, f.rows, f.buffer.clone())
    })
}

fn with_samples<R>(sop_uid: &str, frame: u32, f: impl FnOnce(&FrameSamples) -> R) -> Option<R> {
    SAMPLES.with(|s| s.borrow().by_sop.get(&sample_key(sop_uid, frame)).map(f))
}

// ---- server calls ----

async fn list(study_uid: &str) -> Result<Vec<Measurement>, CallError> {
    let url = format!("/api/measurements?study={}", percent_encode(study_uid));
    let v = api::json("GET", &url, "application/json", None).await?;
    serde_json::from_value::<MeasurementList>(v)
        .map(|l| l.measurements)
        .map_err(|e| CallError::Failed(e.to_string()))
}

async fn save(m: &Measurement) -> Result<(), CallError> {
    let body = serde_json::to_string(m).map_err(|e| CallError::Failed(e.to_string()))?;
    let url = format!("/api/measurements/{}", percent_encode(&m.id));
    api::json("PUT", &url, "application/json", Some(body))
        .await
        .map(|_| ())
}

async fn remove(id: &str) -> Result<(), CallError> {
    let url = format!("/api/measurements/{}", percent_encode(id));
    api::json("DELETE", &url, "application/json", None)
        .await
        .map(|_| ())
}

async fn spacing_attributes(
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
) -> Result<SpacingAttributes, CallError> {
    let url = format!(
        "/dicomweb/studies/{}/series/{}/instances/{}/metadata",
        percent_encode(study_uid),
        percent_encode(series_uid),
        percent_encode(sop_uid)
    );
    let v = api::json("GET", &url, "application/dicom+json", None).await?;
    Ok(v.as_array()
        .and_then(|a| a.first())
        .map(SpacingAttributes::from_json)
        .unwrap_or_default())
}

// ---- the layer ----

/// A handle or a whole measurement being dragged.
#[derive(Debug, Clone, PartialEq)]
struct Drag {
    id: String,
    /// The point dragged; `None`: the whole measurement.
    handle: Option<usize>,
    start: Point,
    original: Vec<Point>,
    moved: bool,
}

fn kind_of(tool: ToolMode) -> Option<MeasurementKind> {
    match tool {
        ToolMode::Length => Some(MeasurementKind::Length),
        ToolMode::Angle => Some(MeasurementKind::Angle),
        ToolMode::Cobb => Some(MeasurementKind::Cobb),
        ToolMode::Ellipse => Some(MeasurementKind::Ellipse),
        ToolMode::Rectangle => Some(MeasurementKind::Rectangle),
        _ => None,
    }
}

fn device_pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio())
}

/// An SVG number.
fn n(x: f64) -> String {
    format!("{x:.2}")
}

fn to_f32(p: Point) -> [f32; 2] {
    [p[0] as f32, p[1] as f32]
}

fn screen(view: &ViewState, p: Point) -> [f64; 2] {
    let s = view.screen_from_image(to_f32(p));
    [f64::from(s[0]), f64::from(s[1])]
}

/// The image position under a pointer event on the layer's SVG.
fn image_point(ev: &web_sys::PointerEvent, view: &ViewState) -> Option<Point> {
    let svg = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    let svg = if svg.tag_name().eq_ignore_ascii_case("svg") {
        svg
    } else {
        svg.closest("svg").ok()??
    };
    let rect = svg.get_bounding_client_rect();
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return None;
    }
    let sx =
        (f64::from(ev.client_x()) - rect.left()) * f64::from(view.viewport_px[0]) / rect.width();
    let sy =
        (f64::from(ev.client_y()) - rect.top()) * f64::from(view.viewport_px[1]) / rect.height();
    let p = view.image_from_screen([sx as f32, sy as f32]);
    Some([f64::from(p[0]), f64::from(p[1])])
}

/// What the label of a measurement says, and the number tests read.
fn measured(
    m_kind: MeasurementKind,
    points: &[Point],
    sop_uid: &str,
    frame: u32,
    instance: &Instance,
    spacing: &Spacing,
) -> MeasuredValue {
    match m_kind {
        MeasurementKind::Ellipse | MeasurementKind::Rectangle => {
            ARRIVED.with(ArcTrigger::track);
            let (Some(&a), Some(&b)) = (points.first(), points.get(1)) else {
                return MeasuredValue::Undefined;
            };
            let roi = Roi {
                ellipse: m_kind == MeasurementKind::Ellipse,
                a,
                b,
            };
            let rescale = Rescale {
                slope: instance.pixel.rescale_slope,
                intercept: instance.pixel.rescale_intercept,
            };
            let stats = with_samples(sop_uid, frame, |f| {
                roi.pixel_box(f.columns, f.rows)
                    .and_then(|bx| roi.stats(bx, &f.region(bx), rescale, spacing))
            });
            match stats {
                Some(Some(s)) => MeasuredValue::Roi(Some(s)),
                // The ROI covers no pixel centre.
                Some(None) => MeasuredValue::Undefined,
                // The frame's samples are not here (yet).
                None => MeasuredValue::Roi(None),
            }
        }
        kind => geometric_value(kind, points, spacing),
    }
}

fn number_of(v: &MeasuredValue) -> String {
    match v {
        MeasuredValue::Length(x) | MeasuredValue::Angle(x) => format!("{x}"),
        MeasuredValue::Roi(Some(s)) => format!("{}", s.mean),
        _ => String::new(),
    }
}

/// The measurement layer of one viewport. `view` is the viewport's current mapping
/// (physical pixels), `instance` the slice on screen.
#[component]
pub fn MeasureLayer(
    study_uid: String,
    series: Signal<Option<Series>>,
    instance: Signal<Option<Instance>>,
    view: Signal<Option<ViewState>>,
    tool: Signal<ToolMode>,
    /// The frame number (from 1) of `instance` on screen.
    frame: Signal<u32>,
) -> impl IntoView {
    let ui = ui();
    let saved = RwSignal::new(Vec::<Measurement>::new());
    let loaded = RwSignal::new(false);
    let pending = RwSignal::new(0u32);
    let error = RwSignal::new(None::<String>);
    let draft = RwSignal::new(None::<Draft>);
    let drag = RwSignal::new(None::<Drag>);
    let selected = RwSignal::new(None::<String>);
    let probe_at = RwSignal::new(None::<Point>);
    let calibration = RwSignal::new(HashMap::<String, SpacingAttributes>::new());
    let dpr = device_pixel_ratio();
    let study = StoredValue::new(study_uid.clone());

    // This user's measurements on the study, once (a share link's guest has none and
    // saves none: its measurements live on the page only).
    let guest = super::sharing::is_guest();
    if guest {
        loaded.set(true);
    } else {
        let study_uid = study_uid.clone();
        leptos::task::spawn_local(async move {
            match list(&study_uid).await {
                Ok(list) => {
                    saved.set(list);
                    loaded.set(true);
                }
                Err(CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    }

    // Projection images: read the calibration attributes of the instance on screen.
    {
        let study_uid = study_uid.clone();
        Effect::new(move |_| {
            let (Some(se), Some(inst)) = (series.get(), instance.get()) else {
                return;
            };
            let projection = PROJECTION_MODALITIES.contains(&se.modality.as_str());
            if !(projection || inst.pixel_spacing.is_none())
                || calibration.with_untracked(|c| c.contains_key(&inst.sop_uid))
            {
                return;
            }
            let study_uid = study_uid.clone();
            leptos::task::spawn_local(async move {
                if let Ok(a) = spacing_attributes(&study_uid, &se.series_uid, &inst.sop_uid).await {
                    calibration.update(|c| {
                        c.insert(inst.sop_uid.clone(), a);
                    });
                }
            });
        });
    }

    let spacing_of = move |inst: &Instance| -> Spacing {
        calibration
            .with(|c| c.get(&inst.sop_uid).cloned())
            .unwrap_or_else(|| SpacingAttributes::pixel_spacing(inst.pixel_spacing))
            .spacing()
    };

    let store = move |m: Measurement| {
        if guest {
            return;
        }
        pending.update(|n| *n += 1);
        leptos::task::spawn_local(async move {
            match save(&m).await {
                Ok(()) => error.set(None),
                Err(CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.update(|n| *n = n.saturating_sub(1));
        });
    };
    let delete = move |id: String| {
        saved.update(|l| l.retain(|m| m.id != id));
        if selected.get_untracked().as_deref() == Some(id.as_str()) {
            selected.set(None);
        }
        if guest {
            return;
        }
        pending.update(|n| *n += 1);
        leptos::task::spawn_local(async move {
            match remove(&id).await {
                Ok(()) => error.set(None),
                Err(CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.update(|n| *n = n.saturating_sub(1));
        });
    };

    // Delete / Backspace removes the selected measurement; Escape drops a draft.
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            && matches!(target.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
        {
            return;
        }
        match ev.key().as_str() {
            "Delete" | "Backspace" => {
                if let Some(id) = selected.get_untracked() {
                    ev.prevent_default();
                    delete(id);
                }
            }
            "Escape" => {
                draft.set(None);
                selected.set(None);
            }
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    // Tool changes drop a half-drawn measurement.
    Effect::new(move |_| {
        tool.track();
        draft.set(None);
        probe_at.set(None);
    });

    let current_sop = move || instance.with(|i| i.as_ref().map(|i| i.sop_uid.clone()));
    let visible = move || {
        let sop = current_sop();
        let frame = frame.get();
        saved.with(|l| {
            l.iter()
                .filter(|m| Some(&m.sop_uid) == sop.as_ref() && m.frame == frame)
                .cloned()
                .collect::<Vec<_>>()
        })
    };

    let measuring = move || kind_of(tool.get()).is_some() || tool.get() == ToolMode::Probe;

    let on_down = move |ev: web_sys::PointerEvent| {
        let tool = tool.get_untracked();
        let Some(kind) = kind_of(tool) else {
            if tool == ToolMode::Probe {
                ev.stop_propagation();
                ev.prevent_default();
                if let Some(p) = view.get_untracked().and_then(|v| image_point(&ev, &v)) {
                    probe_at.set(Some(p));
                }
            }
            return;
        };
        if ev.button() != 0 {
            return;
        }
        let Some(v) = view.get_untracked() else {
            return;
        };
        let Some(p) = image_point(&ev, &v) else {
            return;
        };
        ev.stop_propagation();
        ev.prevent_default();
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        selected.set(None);
        draft.update(|d| match d {
            Some(d) if d.kind == kind => d.pressed(p),
            _ => *d = Some(Draft::start(kind, p)),
        });
    };

    let on_move = move |ev: web_sys::PointerEvent| {
        let Some(v) = view.get_untracked() else {
            return;
        };
        let Some(p) = image_point(&ev, &v) else {
            return;
        };
        if tool.get_untracked() == ToolMode::Probe {
            probe_at.set(Some(p));
        }
        if draft.with_untracked(Option::is_some) {
            draft.update(|d| {
                if let Some(d) = d {
                    d.moved(p);
                }
            });
        }
        if let Some(mut dr) = drag.get_untracked() {
            let (dx, dy) = (p[0] - dr.start[0], p[1] - dr.start[1]);
            dr.moved = true;
            saved.update(|l| {
                if let Some(m) = l.iter_mut().find(|m| m.id == dr.id) {
                    for (i, q) in m.points.iter_mut().enumerate() {
                        if dr.handle.is_none_or(|h| h == i) {
                            *q = [dr.original[i][0] + dx, dr.original[i][1] + dy];
                        }
                    }
                }
            });
            drag.set(Some(dr));
        }
    };

    let on_up = move |ev: web_sys::PointerEvent| {
        if let Some(dr) = drag.get_untracked() {
            drag.set(None);
            if dr.moved
                && let Some(m) = saved.with_untracked(|l| l.iter().find(|m| m.id == dr.id).cloned())
            {
                store(m);
            }
            return;
        }
        let Some(v) = view.get_untracked() else {
            return;
        };
        let Some(p) = image_point(&ev, &v) else {
            return;
        };
        let Some(mut d) = draft.get_untracked() else {
            return;
        };
        if !d.released(p) {
            draft.set(Some(d));
            return;
        }
        draft.set(None);
        // A click without a drag is not a measurement.
        let (a, b) = (screen(&v, d.points[0]), screen(&v, d.points[1]));
        if (a[0] - b[0]).hypot(a[1] - b[1]) < MIN_DRAG_PX * dpr {
            return;
        }
        let (Some(se), Some(inst)) = (series.get_untracked(), instance.get_untracked()) else {
            return;
        };
        let now = js_sys::Date::now();
        let m = Measurement {
            id: new_id(now, js_sys::Math::random()),
            study_uid: study.get_value(),
            series_uid: se.series_uid.clone(),
            sop_uid: inst.sop_uid.clone(),
            frame: frame.get_untracked(),
            kind: d.kind,
            points: d.points,
            updated_at: String::new(),
        };
        selected.set(Some(m.id.clone()));
        saved.update(|l| l.push(m.clone()));
        store(m);
    };

    // A finger lifted keeps the last reading; a mouse leaving the image clears it.
    let on_leave = move |ev: web_sys::PointerEvent| {
        if ev.pointer_type() == "mouse" {
            probe_at.set(None);
        }
    };

    let start_drag = move |ev: &web_sys::PointerEvent, id: &str, handle: Option<usize>| {
        if ev.button() != 0 || draft.with_untracked(Option::is_some) {
            return;
        }
        let Some(v) = view.get_untracked() else {
            return;
        };
        let Some(p) = image_point(ev, &v) else {
            return;
        };
        ev.stop_propagation();
        ev.prevent_default();
        if let Some(svg) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("svg").ok().flatten())
        {
            let _ = svg.set_pointer_capture(ev.pointer_id());
        }
        selected.set(Some(id.to_owned()));
        let original = saved.with_untracked(|l| {
            l.iter()
                .find(|m| m.id == id)
                .map(|m| m.points.clone())
                .unwrap_or_default()
        });
        drag.set(Some(Drag {
            id: id.to_owned(),
            handle,
            start: p,
            original,
            moved: false,
        }));
    };

    let stroke = 2.0 * dpr;
    let handle_r = 7.0 * dpr;
    let font = 13.0 * dpr;

    // One measurement (saved or being drawn) as SVG.
    let shape = move |id: Option<String>, kind: MeasurementKind, points: Vec<Point>| {
        let Some(v) = view.get() else {
            return ().into_any();
        };
        let Some(inst) = instance.get() else {
            return ().into_any();
        };
        let unit = series.with(|s| s.as_ref().map_or("", |s| modality_unit(&s.modality)));
        let spacing = spacing_of(&inst);
        let value = measured(kind, &points, &inst.sop_uid, frame.get(), &inst, &spacing);
        let lines = label_lines(&value, &spacing, unit, ui.lang.get());
        let sp: Vec<[f64; 2]> = points.iter().map(|p| screen(&v, *p)).collect();
        if sp.is_empty() {
            return ().into_any();
        }
        let is_selected = id.is_some() && selected.get() == id;
        let geometry = match kind {
            MeasurementKind::Ellipse | MeasurementKind::Rectangle => {
                // The box's corners on screen (rotation keeps it axis-aligned on screen).
                let (a, b) = (sp[0], sp.get(1).copied().unwrap_or(sp[0]));
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
                let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
                if kind == MeasurementKind::Ellipse {
                    view! {
                        <ellipse class="shape" cx=n((x0 + x1) / 2.0) cy=n((y0 + y1) / 2.0)
                            rx=n((x1 - x0) / 2.0) ry=n((y1 - y0) / 2.0) stroke-width=n(stroke)/>
                    }
                    .into_any()
                } else {
                    view! {
                        <rect class="shape" x=n(x0) y=n(y0) width=n(x1 - x0) height=n(y1 - y0) stroke-width=n(stroke)/>
                    }
                    .into_any()
                }
            }
            MeasurementKind::Cobb => {
                let get = |i: usize| sp.get(i).copied().unwrap_or(sp[0]);
                let (a, b) = (get(0), get(1));
                let second = (sp.len() >= 4).then(|| (get(2), get(3)));
                view! {
                    <line class="shape" x1=n(a[0]) y1=n(a[1]) x2=n(b[0]) y2=n(b[1]) stroke-width=n(stroke)/>
                    {second.map(|(c, d)| view! {
                        <line class="shape" x1=n(c[0]) y1=n(c[1]) x2=n(d[0]) y2=n(d[1]) stroke-width=n(stroke)/>
                    })}
                }
                .into_any()
            }
            _ => {
                let pts = sp
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", p[0], p[1]))
                    .collect::<Vec<_>>()
                    .join(" ");
                view! { <polyline class="shape" points=pts stroke-width=n(stroke)/> }.into_any()
            }
        };
        // Label beside the right-most point.
        let anchor =
            sp.iter().copied().fold(
                [f64::NEG_INFINITY, 0.0],
                |m, p| if p[0] > m[0] { p } else { m },
            );
        let (lx, ly) = (anchor[0] + 8.0 * dpr, anchor[1]);
        let number = number_of(&value);
        let kind_name = kind.name();
        let handles = id.clone().map(|id| {
            sp.iter()
                .enumerate()
                .map(|(i, p)| {
                    let id = id.clone();
                    view! {
                        <circle class="handle" data-testid="measurement-handle" cx=n(p[0]) cy=n(p[1]) r=n(handle_r)
                            on:pointerdown=move |ev: web_sys::PointerEvent| start_drag(&ev, &id, Some(i))/>
                    }
                })
                .collect_view()
        });
        let body_id = id.clone();
        view! {
            <g class="measurement" class:selected=is_selected class:draft=id.is_none()
                data-testid={if id.is_some() { "measurement" } else { "measurement-draft" }}
                data-id=id.clone().unwrap_or_default() data-kind=kind_name data-value=number.clone()
                on:pointerdown=move |ev: web_sys::PointerEvent| {
                    if let Some(id) = &body_id {
                        start_drag(&ev, id, None);
                    }
                }>
                {geometry}
                {handles}
                <text class="label" data-testid="measurement-label" x=n(lx) y=n(ly) font-size=n(font)>
                    {lines.into_iter().enumerate().map(|(k, line)| view! {
                        <tspan x=n(lx) dy=n(if k == 0 { 0.0 } else { font * 1.25 })>{line}</tspan>
                    }).collect_view()}
                </text>
            </g>
        }
        .into_any()
    };

    let probe_view = move || {
        if tool.get() != ToolMode::Probe {
            return None;
        }
        let p = probe_at.get()?;
        let v = view.get()?;
        let inst = instance.get()?;
        ARRIVED.with(ArcTrigger::track);
        let plane = match (inst.position, inst.orientation, inst.pixel_spacing) {
            (Some(position), Some(orientation), Some(pixel_spacing)) => Some(PlaneGeometry {
                position,
                orientation,
                pixel_spacing,
            }),
            _ => None,
        };
        let rescale = Rescale {
            slope: inst.pixel.rescale_slope,
            intercept: inst.pixel.rescale_intercept,
        };
        let lang = ui.lang.get();
        // A colour pixel reads R, G, B (0..255 as shown, after YBR or palette).
        let colour = with_samples(&inst.sop_uid, frame.get(), |f| {
            let (column, row) = pixel_at(p, f.columns, f.rows)?;
            let rgb = f.rgb(row as usize * f.columns as usize + column as usize)?;
            Some((column, row, rgb))
        })
        .flatten();
        if let Some((column, row, [r, g, b])) = colour {
            let mut lines = vec![format!("({column}, {row})"), format!("R {r}  G {g}  B {b}")];
            if let Some(plane) = &plane {
                let [x, y, z] = plane.patient_from_pixel(f64::from(column), f64::from(row));
                lines.push(format!(
                    "{} {x:.1}, {y:.1}, {z:.1} mm",
                    tr(lang, Text::PatientPosition)
                ));
            }
            return Some(probe_readout(
                &v,
                p,
                dpr,
                font,
                column,
                row,
                lines,
                format!("{r},{g},{b}"),
                String::new(),
                String::new(),
            ));
        }
        let reading = with_samples(&inst.sop_uid, frame.get(), |f| {
            probe(
                p,
                f.columns,
                f.rows,
                |i| f.stored(i),
                rescale,
                plane.as_ref(),
            )
        })
        .flatten()?;
        let unit = series.with(|s| s.as_ref().map_or("", |s| modality_unit(&s.modality)));
        let value_name = if unit.is_empty() {
            tr(lang, Text::ModalityValue).to_owned()
        } else {
            unit.to_owned()
        };
        let mut lines = vec![
            format!("({}, {})", reading.column, reading.row),
            format!(
                "{} {}  {} {}",
                tr(lang, Text::StoredValue),
                trim_number(reading.stored),
                value_name,
                trim_number(reading.modality)
            ),
        ];
        if let Some([x, y, z]) = reading.patient {
            lines.push(format!(
                "{} {x:.1}, {y:.1}, {z:.1} mm",
                tr(lang, Text::PatientPosition)
            ));
        }
        Some(probe_readout(
            &v,
            p,
            dpr,
            font,
            reading.column,
            reading.row,
            lines,
            String::new(),
            reading.stored.to_string(),
            reading.modality.to_string(),
        ))
    };

    let viewbox = move || {
        view.get().map_or_else(
            || "0 0 1 1".to_owned(),
            |v| format!("0 0 {} {}", v.viewport_px[0], v.viewport_px[1]),
        )
    };

    view! {
        <div class="measure-layer" data-testid="measure-layer"
            data-loaded=move || loaded.get().to_string()
            data-pending=move || pending.get().to_string()
            data-count=move || visible().len().to_string()
            data-tool=move || tool.get().code()>
            <svg class="measure-svg" class:measuring=measuring viewBox=viewbox
                preserveAspectRatio="none"
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_up
                on:pointerleave=on_leave>
                {move || visible().into_iter().map(|m| shape(Some(m.id.clone()), m.kind, m.points.clone())).collect_view()}
                {move || draft.get().map(|d| shape(None, d.kind, d.points))}
                {probe_view}
            </svg>
            <Show when=move || selected.get().is_some()>
                // The press must not reach the viewport (its pointer capture would
                // take the click away from the button).
                <button class="measure-delete" data-testid="measurement-delete"
                    title=move || ui.t(Text::ShortcutMeasure)
                    on:pointerdown=|ev: web_sys::PointerEvent| ev.stop_propagation()
                    on:click=move |_| {
                        if let Some(id) = selected.get_untracked() {
                            delete(id);
                        }
                    }>
                    {move || ui.t(Text::DeleteMeasurement)}
                </button>
            </Show>
            <Show when=move || error.get().is_some()>
                <div class="measure-error" data-testid="measurement-error">
                    {move || ui.t(Text::MeasurementsNotSaved)} ": " {move || error.get().unwrap_or_default()}
                </div>
            </Show>
        </div>
    }
}

/// The measurement tools' buttons (probe, length, angle, Cobb, ellipse, rectangle),
/// a group of the reading toolbar; a second click on the active tool goes back to
/// window/level.
#[component]
pub fn MeasureTools(tool: RwSignal<ToolMode>) -> impl IntoView {
    let ui = ui();
    let buttons: [(ToolMode, Text, &'static str); 6] = [
        (ToolMode::Probe, Text::ToolProbe, "⊙"),
        (ToolMode::Length, Text::ToolLength, "↔"),
        (ToolMode::Angle, Text::ToolAngle, "∠"),
        (ToolMode::Cobb, Text::ToolCobb, "∡"),
        (ToolMode::Ellipse, Text::ToolEllipse, "◯"),
        (ToolMode::Rectangle, Text::ToolRectangle, "▭"),
    ];
    view! {
        <span class="group measure-tools" data-testid="measure-tools">
            {buttons.into_iter().map(|(mode, text, icon)| view! {
                <button data-testid=format!("tool-{}", mode.code())
                    class:active=move || tool.get() == mode
                    aria-pressed=move || (tool.get() == mode).to_string()
                    title=move || ui.t(text)
                    aria-label=move || ui.t(text)
                    on:click=move |_| tool.update(|t| {
                        *t = if *t == mode { ToolMode::WindowLevel } else { mode };
                    })>
                    <span class="icon" aria-hidden="true">{icon}</span>
                </button>
            }).collect_view()}
        </span>
    }
}

/// The probe's dot and read-out lines at image point `p`; `data-rgb` holds "r,g,b"
/// for colour, `data-stored` / `data-modality` the values for grayscale.
#[allow(clippy::too_many_arguments)]
fn probe_readout(
    v: &ViewState,
    p: Point,
    dpr: f64,
    font: f64,
    column: u32,
    row: u32,
    lines: Vec<String>,
    rgb: String,
    stored: String,
    modality: String,
) -> AnyView {
    let s = screen(v, p);
    // Keep the read-out inside the viewport.
    let width = 260.0 * dpr;
    let lx = if s[0] + 14.0 * dpr + width > f64::from(v.viewport_px[0]) {
        (s[0] - width).max(0.0)
    } else {
        s[0] + 14.0 * dpr
    };
    let ly = (s[1] - 3.0 * font * 1.25).max(font);
    view! {
        <g class="probe" data-testid="probe-readout"
            data-column=column.to_string() data-row=row.to_string()
            data-stored=stored data-modality=modality data-rgb=rgb>
            <circle class="probe-dot" cx=n(s[0]) cy=n(s[1]) r=n(2.0 * dpr)/>
            <text class="label" x=n(lx) y=n(ly) font-size=n(font)>
                {lines.into_iter().enumerate().map(|(k, line)| view! {
                    <tspan x=n(lx) dy=n(if k == 0 { 0.0 } else { font * 1.25 })>{line}</tspan>
                }).collect_view()}
            </text>
        </g>
    }
    .into_any()
}
