//! The MPR view of a series: axial, sagittal and coronal panes of one canvas and one
//! GPU volume (`rangsi_render::MprRenderer`), linked by a crosshair, with oblique
//! rotation, slabs (MIP, MinIP, average), shared window/level, zoom, pan, lengths in
//! mm in any plane, and what assembly said about the series (tilt, resampling,
//! images left out, phases) or why it is not a volume.
//!
//! The series' frames come through the decode-worker pool as client [`CLIENT`],
//! nearest the centre first; each slice is written into the 3D texture as it lands
//! and dropped, so MPR draws while the rest arrives and no CPU copy of the volume is
//! kept (a slice of a resampled grid blends two source slices; a source is held only
//! until the blends that need it are written).
//!
//! The 3D button swaps the three planes for one volume-rendered view of the same GPU
//! volume (`rangsi_render::VrRenderer`: transfer-function presets, shading, or MIP):
//! drag orbits, Shift-drag pans, the wheel zooms, fewer samples while dragging. The
//! transfer-function editor, the clip box (outlined in the panes) and the phase picker
//! of a 4D series are in [`super::vr_controls`]; choosing a phase loads that phase's
//! volume in place of the one on the GPU.
//!
//! While the user drags or scrolls the panes, the panes that change are drawn at
//! reduced resolution (`PaneQuality::Preview`: a quarter of the pixels, the cost that
//! matters on a software rasterizer) and [`PREVIEW_PAUSE_MS`] after the last input —
//! or at once when the pointer is released — every previewed pane is drawn again at
//! full resolution: what is read while still is always full quality. The canvas's
//! `data-quality` says which (`preview` or `full`).
//!
//! Pointer: drag = move the crosshair; right- or Ctrl-drag = window/level; Alt-drag =
//! rotate the other planes about this pane's normal (oblique); Shift-drag = measure a
//! length; middle-drag = pan; wheel = scroll along the pane's normal (Ctrl+wheel:
//! zoom). Keys: 1–8 CT presets, Esc closes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use rangsi_render::{
    Gpu, GpuVolume, MprPaneCache, MprRenderer, MprView, PaneQuality, Screen, SliceTexels,
    VoiWindow, VolumeFormat, VrRenderer, VrView,
};
use rangsi_volume::mpr::SlabMode;
use rangsi_volume::vr::{Camera, Preset, Quality, ViewFrom, VrMode};
use rangsi_volume::{Notice, SliceSource, Source, Volume};
use rangsi_wire::decode::{PixelModule, TexelKind};
use wasm_bindgen::prelude::*;

use super::api;
use super::app::ui;
use super::canvas::{SizeObserver, dpr, even_physical_size, resize_canvas, webgl_only};
use super::vr_controls::{self, Grid, VrEdit};
use super::workers::{DecodePool, DecodedSamples, MAX_CLIENTS};
use crate::dicom::{Instance, Series};
use crate::i18n::Lang;
use crate::mpr::{MprState, PANES};
use crate::stack;

/// The decode-pool client of the MPR view (viewports use 0…8).
const CLIENT: usize = MAX_CLIENTS - 1;

/// How long input must pause before previewed panes are drawn at full resolution.
const PREVIEW_PAUSE_MS: f64 = 200.0;

/// Pane colours (axial, sagittal, coronal): borders and the crosshair lines of that plane.
const COLOURS: [&str; 3] = ["#ff5252", "#ffd740", "#69f0ae"];

pub(super) fn tr(lang: Lang, en: &'static str, th: &'static str) -> &'static str {
    if lang == Lang::Th { th } else { en }
}

/// What the series' metadata made: the grid and how to fetch its sources.
struct Plan {
    volume: Volume,
    /// Per request: frame URL and pixel module of one source image.
    requests: Vec<(String, PixelModule)>,
    /// Per request: the grid slices that use it.
    targets: Vec<Vec<usize>>,
    index_of: HashMap<Source, usize>,
    rescale: (f64, f64),
    invert: bool,
    first: Instance,
}

/// Decoded samples held until the blended slices that need them are written.
enum Held {
    I16(Vec<i16>),
    U16(Vec<u16>),
}

impl Held {
    fn from_decoded(d: &DecodedSamples) -> Option<Held> {
        match d.header.kind {
            TexelKind::I16 => Some(Held::I16(js_sys::Int16Array::new(&d.samples).to_vec())),
            TexelKind::U16 => Some(Held::U16(js_sys::Uint16Array::new(&d.samples).to_vec())),
            TexelKind::F32 | TexelKind::Rgba8 => None,
        }
    }

    fn to_f32(&self) -> Vec<f32> {
        match self {
            Held::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Held::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
        }
    }
}

/// A length measurement: pane, start and end pixel.
type Length = (usize, [f64; 2], [f64; 2]);
/// A drag in progress: tool ('c'rosshair, 'w'indow, 'p'an, 'r'otate, 'm'easure), last
/// pixel, last angle about the crosshair.
type Drag = Option<(char, [f64; 2], f64)>;

#[derive(Default)]
struct Core {
    /// Set on unmount: queued callbacks (animation frame, frames arriving, the device
    /// opening) must not touch the disposed signals.
    disposed: bool,
    gpu: Option<Gpu>,
    screen: Option<Screen>,
    renderer: Option<MprRenderer>,
    /// The 3D renderer, made the first time the 3D view is drawn.
    vr: Option<VrRenderer>,
    /// The three panes as last drawn: a frame redraws only the panes that changed
    /// (a scroll moves one plane) and copies the others.
    panes: MprPaneCache,
    volume: Option<GpuVolume>,
    plan: Option<Rc<Plan>>,
    held: HashMap<usize, Held>,
    /// Per request: blended slices still waiting for it.
    waiting: Vec<u32>,
    draw_scheduled: bool,
    /// When the last pane input came (`Date.now()`, ms), and whether a timer waits
    /// for the pause after it.
    last_input_ms: f64,
    pause_timer: bool,
    resize_observer: Option<SizeObserver>,
    /// Every volume of the series (one per phase of a 4D series): grids and sources
    /// only, no voxels; the chosen one is on the GPU.
    phases: Vec<Volume>,
    /// The series' instances, in metadata order (the volumes' sources index them).
    instances: Vec<Option<Instance>>,
    study_uid: String,
    series_uid: String,
}

/// What the 3D view shows: camera, transfer-function preset (or MIP), shading, and
/// whether the user is dragging (fewer samples then, full quality when still).
#[derive(Debug, Clone, PartialEq)]
struct ThreeD {
    camera: Camera,
    /// `None`: MIP with the MPR window.
    preset: Option<Preset>,
    shading: bool,
    dragging: bool,
}

/// The reactive part, all `Copy`.
#[derive(Clone, Copy)]
struct Sig {
    state: RwSignal<Option<MprState>>,
    /// Physical pixels of one pane.
    pane: RwSignal<[u32; 2]>,
    loaded: RwSignal<usize>,
    total: RwSignal<usize>,
    error: RwSignal<Option<String>>,
    notices: RwSignal<Vec<String>>,
    measure: RwSignal<Option<Length>>,
    draws: RwSignal<u32>,
    /// Panes the last MPR frame drew (the others were kept): `data-panes-drawn`.
    panes_drawn: RwSignal<usize>,
    /// The user is dragging or scrolling the panes: changed panes are previews.
    interacting: RwSignal<bool>,
    /// Whether the canvas shows a preview (an MPR pane at reduced resolution, or the
    /// 3D view at interactive quality): `data-quality` preview / full.
    previewed: RwSignal<bool>,
    /// Draws that left a preview on the canvas: `data-preview-draws`.
    preview_draws: RwSignal<u32>,
    /// Slices loaded when the last frame was presented (the e2e tests wait on it).
    drawn_loaded: RwSignal<usize>,
    /// The 3D view (volume rendering or MIP) instead of the three planes.
    three_d: RwSignal<Option<ThreeD>>,
    gpu_ready: RwSignal<bool>,
    /// Transfer function, histogram, clip box.
    edit: VrEdit,
    /// One label per phase (empty or one: not 4D) and the phase shown.
    phase_labels: RwSignal<Vec<String>>,
    phase: RwSignal<usize>,
    lang: RwSignal<Lang>,
}

/// The largest canvas side (every WebGL2 device allows 4096).
const MAX_CANVAS_SIDE: u32 = 4096;

/// Texture memory for the volume: a quarter of the device's memory where the browser
/// says (`navigator.deviceMemory`, GB), between 256 MiB and 1.5 GiB; 512 MiB otherwise.
fn memory_budget() -> u64 {
    let gb = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"deviceMemory".into()).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(2.0);
    ((gb * 1024.0 * 1024.0 * 1024.0 / 4.0) as u64).clamp(256 << 20, 1536 << 20)
}

fn notice_text(n: &Notice) -> String {
    n.to_string()
}

#[component]
pub fn MprPanel(study_uid: String, series: Series, close: Callback<()>) -> impl IntoView {
    let ui = ui();
    let core: Rc<RefCell<Core>> = Rc::new(RefCell::new(Core::default()));
    let s = Sig {
        state: RwSignal::new(None),
        pane: RwSignal::new([1, 1]),
        loaded: RwSignal::new(0),
        total: RwSignal::new(0),
        error: RwSignal::new(None),
        notices: RwSignal::new(Vec::new()),
        measure: RwSignal::new(None),
        draws: RwSignal::new(0),
        panes_drawn: RwSignal::new(0),
        interacting: RwSignal::new(false),
        previewed: RwSignal::new(false),
        preview_draws: RwSignal::new(0),
        drawn_loaded: RwSignal::new(0),
        three_d: RwSignal::new(None),
        gpu_ready: RwSignal::new(false),
        edit: VrEdit::new(),
        phase_labels: RwSignal::new(Vec::new()),
        phase: RwSignal::new(0),
        lang: ui.lang,
    };
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let box_ref = NodeRef::<html::Div>::new();
    let is_mr = series.modality == "MR";

    // Open the GPU once the canvas is in the document, then load the series.
    {
        let core = core.clone();
        let started = Rc::new(std::cell::Cell::new(false));
        Effect::new(move |_| {
            let (Some(canvas), Some(container)) = (canvas_ref.get(), box_ref.get()) else {
                return;
            };
            if started.replace(true) {
                return;
            }
            let core = core.clone();
            let study_uid = study_uid.clone();
            let series = series.clone();
            leptos::task::spawn_local(async move {
                let (w, h) = even_physical_size(&container, MAX_CANVAS_SIDE);
                resize_canvas(&canvas, None, None, w, h);
                s.pane.set([w / 2, h / 2]);
                let target = rangsi_render::wgpu::SurfaceTarget::Canvas(canvas.clone());
                let opened = Gpu::for_surface(target, w, h, webgl_only()).await;
                if core.borrow().disposed {
                    return;
                }
                match opened {
                    Ok((gpu, screen)) => {
                        let renderer = MprRenderer::new(&gpu, screen.format());
                        {
                            let mut c = core.borrow_mut();
                            c.gpu = Some(gpu);
                            c.screen = Some(screen);
                            c.renderer = Some(renderer);
                        }
                        observe_size(&core, s, &container, &canvas);
                        s.gpu_ready.set(true);
                        load(core, s, &study_uid, &series).await;
                    }
                    Err(e) => s.error.set(Some(e.to_string())),
                }
            });
        });
    }

    // Redraw on every change; nothing is uploaded again.
    {
        let core = core.clone();
        Effect::new(move |_| {
            s.state.track();
            s.pane.track();
            s.loaded.track();
            s.interacting.track();
            s.three_d.track();
            s.edit.tf.track();
            s.edit.clip.track();
            s.edit.editing.track();
            schedule_draw(&core, s);
        });
    }

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let key = ev.key();
        if key == "Escape" {
            close.run(());
            return;
        }
        if let Some(p) = stack::preset_for_key(&key) {
            s.state.update(|st| {
                if let Some(st) = st {
                    st.window = p.window;
                }
            });
        }
    });
    let pool_cleanup = send_wrapper::SendWrapper::new(core.clone());
    on_cleanup(move || {
        keys.remove();
        if let Ok(pool) = DecodePool::get() {
            pool.cancel(CLIENT);
        }
        // Give the GPU objects back now rather than when the last closure goes.
        if let Ok(mut c) = pool_cleanup.try_borrow_mut() {
            c.disposed = true;
            c.volume = None;
            c.held.clear();
            if let Some(observer) = c.resize_observer.take() {
                observer.disconnect();
            }
        }
    });

    let on_slab = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let (mode, mm) = value.split_once(':').unwrap_or(("thin", "0"));
        let mm: f64 = mm.parse().unwrap_or(0.0);
        let mode = match mode {
            "mip" => SlabMode::Mip,
            "minip" => SlabMode::MinIp,
            _ => SlabMode::Average,
        };
        s.state.update(|st| {
            if let Some(st) = st {
                st.set_slab(if value == "thin" { 0.0 } else { mm }, mode);
            }
        });
    };
    let on_preset = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if let Some(p) = value
            .parse::<usize>()
            .ok()
            .and_then(|k| stack::CT_PRESETS.get(k))
        {
            s.state.update(|st| {
                if let Some(st) = st {
                    st.window = p.window;
                }
            });
        }
    };
    let toggle_core = core.clone();
    let on_3d = move |_| {
        if s.three_d.get_untracked().is_some() {
            s.three_d.set(None);
            return;
        }
        let Some(plan) = toggle_core.borrow().plan.clone() else {
            return;
        };
        let pane = s.pane.get_untracked();
        let preset = if is_mr {
            Preset::MrDefault
        } else {
            Preset::CtBone
        };
        s.edit.tf.set(preset.transfer_function());
        s.three_d.set(Some(ThreeD {
            camera: Camera::fit(&plan.volume, ViewFrom::Anterior, [pane[0] * 2, pane[1] * 2]),
            preset: Some(preset),
            shading: true,
            dragging: false,
        }));
    };
    let on_vr_preset = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let preset = Preset::from_key(&value);
        if let Some(p) = preset {
            s.edit.tf.set(p.transfer_function());
        }
        s.three_d.update(|t| {
            if let Some(t) = t {
                t.preset = preset;
            }
        });
    };
    let phase_core = send_wrapper::SendWrapper::new(core.clone());
    let choose_phase = Callback::new(move |k: usize| start_phase(&phase_core, s, k));
    let vr_preset = Signal::derive(move || s.three_d.with(|t| t.as_ref().and_then(|t| t.preset)));
    let reset_core = core.clone();
    let on_reset = move |_| {
        let Some(plan) = reset_core.borrow().plan.clone() else {
            return;
        };
        let pane = s.pane.get_untracked();
        s.state.update(|st| {
            if let Some(st) = st {
                st.reset(&plan.volume, pane);
            }
        });
        s.measure.set(None);
    };

    view! {
        <div class="mpr" data-testid="mpr" node_ref=box_ref class:three-d=move || s.three_d.with(Option::is_some)
            data-loaded=move || s.loaded.get().to_string()
            data-total=move || s.total.get().to_string()
            data-draws=move || s.draws.get().to_string()
            data-panes-drawn=move || s.panes_drawn.get().to_string()
            data-drawn-loaded=move || s.drawn_loaded.get().to_string()>
            <canvas class="mpr-canvas" node_ref=canvas_ref data-testid="mpr-canvas"
                data-quality=move || if s.previewed.get() { "preview" } else { "full" }
                data-preview-draws=move || s.preview_draws.get().to_string()></canvas>
            {(0..3).map(|p| pane_overlay(core.clone(), s, p)).collect_view()}
            <Show when=move || s.three_d.with(Option::is_some)>
                {vr_overlay(s)}
            </Show>
            <div class="mpr-panel" data-testid="mpr-panel">
                <div class="mpr-title">
                    <strong>"MPR"</strong>
                    <button data-testid="mpr-close" on:click=move |_| close.run(())>
                        {move || tr(ui.lang.get(), "Back to 2D", "กลับสู่ 2D")}
                    </button>
                </div>
                <p class="error" data-testid="mpr-error">{move || s.error.get().unwrap_or_default()}</p>
                <div class="mpr-progress">
                    <progress max=move || s.total.get().max(1).to_string() value=move || s.loaded.get().to_string()></progress>
                    <span data-testid="mpr-progress">
                        {move || format!("{} {} / {}", tr(ui.lang.get(), "slices", "ภาพ"), s.loaded.get(), s.total.get())}
                    </span>
                </div>
                {vr_controls::phase_chooser(s.phase_labels, s.phase, choose_phase)}
                <label>
                    {move || tr(ui.lang.get(), "Slab", "ความหนา")}
                    <select data-testid="mpr-slab" on:change=on_slab>
                        <option value="thin">{move || tr(ui.lang.get(), "Thin", "บาง")}</option>
                        {[5, 10, 20, 40].into_iter().flat_map(|mm| {
                            [("mip", "MIP"), ("minip", "MinIP"), ("avg", "Average")].into_iter().map(move |(code, name)| {
                                view! { <option value=format!("{code}:{mm}")>{format!("{name} {mm} mm")}</option> }
                            })
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "W/L"
                    <select data-testid="mpr-window" on:change=on_preset>
                        <option value="">{move || s.state.get().map(|st| format!("W {:.0} L {:.0}", st.window.width, st.window.center)).unwrap_or_default()}</option>
                        {stack::CT_PRESETS.iter().enumerate().map(|(k, p)| view! {
                            <option value=k.to_string()>
                                {move || format!("{} {}", p.key, if ui.lang.get() == Lang::Th { p.name_th } else { p.name_en })}
                            </option>
                        }).collect_view()}
                    </select>
                </label>
                <div class="mpr-buttons">
                    <button data-testid="mpr-zoom-in" on:click=move |_| s.state.update(|st| if let Some(st) = st { st.zoom(1.25) })>"+"</button>
                    <button data-testid="mpr-zoom-out" on:click=move |_| s.state.update(|st| if let Some(st) = st { st.zoom(0.8) })>"−"</button>
                    <button data-testid="mpr-reset" on:click=on_reset>{move || tr(ui.lang.get(), "Reset", "รีเซ็ต")}</button>
                    <button data-testid="mpr-3d" class:active=move || s.three_d.with(Option::is_some) on:click=on_3d>
                        {move || if s.three_d.with(Option::is_some) { "MPR" } else { "3D" }}
                    </button>
                </div>
                <Show when=move || s.three_d.with(Option::is_some)>
                    <label>
                        "3D"
                        <select data-testid="vr-preset" on:change=on_vr_preset
                            prop:value=move || s.three_d.with(|t| t.as_ref().and_then(|t| t.preset).map_or("mip", Preset::key).to_owned())>
                            {Preset::ALL.into_iter().map(|p| view! { <option value=p.key()>{preset_name(p)}</option> }).collect_view()}
                            <option value="mip">"MIP"</option>
                        </select>
                    </label>
                    <label>
                        <input type="checkbox" data-testid="vr-shading"
                            prop:checked=move || s.three_d.with(|t| t.as_ref().is_some_and(|t| t.shading))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                s.three_d.update(|t| if let Some(t) = t { t.shading = on });
                            }/>
                        {move || tr(ui.lang.get(), "Shading", "แรเงา")}
                    </label>
                    <Show when=move || vr_preset.get().is_some()>
                        {vr_controls::tf_editor(s.edit, vr_preset)}
                    </Show>
                </Show>
                {vr_controls::clip_controls(s.edit)}
                <ul class="mpr-notices" data-testid="mpr-notices">
                    {move || s.notices.get().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                </ul>
                <p class="mpr-help">
                    {move || tr(ui.lang.get(),
                        "Drag: crosshair · right/Ctrl-drag: W/L · Alt-drag: oblique · Shift-drag: length · middle-drag: pan · wheel: scroll, Ctrl+wheel: zoom · 1–8: presets · Esc: back",
                        "ลาก: เส้นตัด · คลิกขวา/Ctrl ลาก: W/L · Alt ลาก: หมุนระนาบเฉียง · Shift ลาก: วัดระยะ · ปุ่มกลางลาก: เลื่อนภาพ · ล้อ: เลื่อนภาพตัด, Ctrl+ล้อ: ซูม · 1–8: ค่าตั้งหน้าต่าง · Esc: กลับ")}
                </p>
            </div>
        </div>
    }
}

fn preset_name(p: Preset) -> &'static str {
    match p {
        Preset::CtBone => "CT bone",
        Preset::CtSoftTissue => "CT soft tissue",
        Preset::CtAngio => "CT angio",
        Preset::CtLung => "CT lung",
        Preset::MrDefault => "MR",
    }
}

/// The 3D view's input: drag orbits (Shift-drag pans), the wheel zooms; while a drag
/// lasts the renderer takes fewer samples.
fn vr_overlay(s: Sig) -> impl IntoView {
    let last: Rc<RefCell<Option<[f64; 2]>>> = Rc::new(RefCell::new(None));
    let (l1, l2, l3) = (last.clone(), last.clone(), last);
    let on_down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        *l1.borrow_mut() = Some([f64::from(ev.client_x()), f64::from(ev.client_y())]);
        s.three_d.update(|t| {
            if let Some(t) = t {
                t.dragging = true
            }
        });
    };
    let on_move = move |ev: web_sys::PointerEvent| {
        let Some(prev) = *l2.borrow() else { return };
        let now = [f64::from(ev.client_x()), f64::from(ev.client_y())];
        let (dx, dy) = (now[0] - prev[0], now[1] - prev[1]);
        *l2.borrow_mut() = Some(now);
        s.three_d.update(|t| {
            if let Some(t) = t {
                t.camera = if ev.shift_key() {
                    t.camera.panned_px(dx * dpr(), dy * dpr())
                } else {
                    t.camera.orbit(dx * 0.5, dy * 0.5)
                };
            }
        });
    };
    let on_up = move |_ev: web_sys::PointerEvent| {
        *l3.borrow_mut() = None;
        s.three_d.update(|t| {
            if let Some(t) = t {
                t.dragging = false
            }
        });
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        let dy = ev.delta_y();
        if dy != 0.0 {
            s.three_d.update(|t| {
                if let Some(t) = t {
                    t.camera = t.camera.zoomed(if dy < 0.0 { 1.1 } else { 1.0 / 1.1 });
                }
            });
        }
    };
    view! {
        <div class="vr-view" data-testid="vr-view"
            on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up.clone() on:pointercancel=on_up
            on:wheel=on_wheel on:contextmenu=|ev| ev.prevent_default()></div>
    }
}

/// The overlay of pane `p`: title, orientation letters, crosshair lines, the
/// measurement, W/L and position text; pointer and wheel input.
fn pane_overlay(core: Rc<RefCell<Core>>, s: Sig, p: usize) -> impl IntoView {
    let ui = ui();
    let drag: Rc<RefCell<Drag>> = Rc::new(RefCell::new(None));
    let css = move |px: f64| px / dpr();
    // Physical pixels from the pane's border box, where its canvas area starts (not
    // offsetX, which starts inside the border).
    let point = |ev: &web_sys::PointerEvent| {
        let rect = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .map(|el| el.get_bounding_client_rect());
        let (x0, y0) = rect.map_or((0.0, 0.0), |r| (r.left(), r.top()));
        [
            (f64::from(ev.client_x()) - x0) * dpr(),
            (f64::from(ev.client_y()) - y0) * dpr(),
        ]
    };
    let d1 = drag.clone();
    let c1 = core.clone();
    let on_down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        let px = point(&ev);
        let pane = s.pane.get_untracked();
        if !ev.shift_key() {
            input_started(&c1, s);
        }
        let mode = if ev.button() == 2 || ev.ctrl_key() {
            'w'
        } else if ev.button() == 1 {
            'p'
        } else if ev.alt_key() {
            'r'
        } else if ev.shift_key() {
            s.measure.set(Some((p, px, px)));
            'm'
        } else {
            s.state.update(|st| {
                if let Some(st) = st {
                    st.set_crosshair(p, px, pane);
                }
            });
            'c'
        };
        let angle = s.state.with_untracked(|st| {
            st.as_ref()
                .map_or(0.0, |st| st.angle_about_crosshair(p, px, pane))
        });
        *d1.borrow_mut() = Some((mode, px, angle));
    };
    let d2 = drag.clone();
    let c2 = core.clone();
    let on_move = move |ev: web_sys::PointerEvent| {
        let Some((mode, last, angle)) = *d2.borrow() else {
            return;
        };
        if mode != 'm' {
            input_started(&c2, s);
        }
        let px = point(&ev);
        let pane = s.pane.get_untracked();
        let mut next_angle = angle;
        match mode {
            'm' => s.measure.update(|m| {
                if let Some(m) = m {
                    m.2 = px;
                }
            }),
            _ => s.state.update(|st| {
                let Some(st) = st else { return };
                match mode {
                    'w' => st.window = st.window.dragged(px[0] - last[0], px[1] - last[1]),
                    'p' => st.pan(p, [px[0] - last[0], px[1] - last[1]]),
                    'r' => {
                        next_angle = st.angle_about_crosshair(p, px, pane);
                        st.rotate(p, next_angle - angle);
                    }
                    _ => st.set_crosshair(p, px, pane),
                }
            }),
        }
        *d2.borrow_mut() = Some((mode, px, next_angle));
    };
    let d3 = drag.clone();
    let on_up = move |_ev: web_sys::PointerEvent| {
        // Released: the panes are drawn at full resolution now.
        if d3.borrow_mut().take().is_some() && s.interacting.get_untracked() {
            s.interacting.set(false);
        }
    };
    let c4 = core.clone();
    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        let dy = ev.delta_y();
        if dy == 0.0 {
            return;
        }
        input_started(&c4, s);
        s.state.update(|st| {
            if let Some(st) = st {
                if ev.ctrl_key() {
                    st.zoom(if dy < 0.0 { 1.1 } else { 1.0 / 1.1 });
                } else {
                    st.scroll(p, dy.signum());
                }
            }
        });
    };
    let lines = move || {
        let pane = s.pane.get();
        s.state.with(|st| {
            st.as_ref().map(|st| {
                st.crosshair_lines(p, pane)
                    .into_iter()
                    .map(|(q, a, b)| {
                        view! {
                            <line x1=css(a[0]) y1=css(a[1]) x2=css(b[0]) y2=css(b[1])
                                stroke=COLOURS[q] stroke-width="1" stroke-opacity="0.8"/>
                        }
                    })
                    .collect_view()
            })
        })
    };
    let measure = move || {
        let (q, a, b) = s.measure.get()?;
        if q != p {
            return None;
        }
        let mm = s
            .state
            .with(|st| st.as_ref().map(|st| st.length_mm(a, b)))?;
        Some(view! {
            <line x1=css(a[0]) y1=css(a[1]) x2=css(b[0]) y2=css(b[1]) stroke="#40c4ff" stroke-width="2"/>
            <text x=css(b[0]) + 6.0 y=css(b[1]) - 6.0 fill="#40c4ff" data-testid="mpr-length">{format!("{mm:.1} mm")}</text>
        })
    };
    let label = move |k: usize| {
        s.state.with(|st| {
            st.as_ref()
                .map(|st| st.plane(p).edge_labels()[k].clone())
                .unwrap_or_default()
        })
    };
    let title = move || {
        let lang = ui.lang.get();
        let standard = s
            .state
            .with(|st| st.as_ref().is_none_or(|st| st.is_standard(p)));
        if !standard {
            return tr(lang, "Oblique", "เฉียง");
        }
        match PANES[p] {
            rangsi_volume::mpr::Orientation::Axial => tr(lang, "Axial", "แนวขวาง"),
            rangsi_volume::mpr::Orientation::Sagittal => tr(lang, "Sagittal", "แนวข้าง"),
            rangsi_volume::mpr::Orientation::Coronal => tr(lang, "Coronal", "แนวหน้า"),
        }
    };
    let position = move || {
        s.state.with(|st| {
            st.as_ref()
                .map(|st| {
                    let plane = st.plane(p);
                    let n = plane.normal();
                    let along = rangsi_volume::geometry::dot(st.crosshair, n);
                    let slab = if st.slab.thickness_mm > 0.0 {
                        let mode = match st.slab.mode {
                            SlabMode::Mip => "MIP",
                            SlabMode::MinIp => "MinIP",
                            SlabMode::Average => "Avg",
                        };
                        format!(" · {mode} {:.0} mm", st.slab.thickness_mm)
                    } else {
                        String::new()
                    };
                    format!("{along:.1} mm{slab}")
                })
                .unwrap_or_default()
        })
    };
    let wl = move || {
        s.state.with(|st| {
            st.as_ref()
                .map(|st| format!("W {:.0} L {:.0}", st.window.width, st.window.center))
                .unwrap_or_default()
        })
    };
    // For the e2e oracle: the plane (centre, right, down; patient mm) and mm per pixel.
    let geometry = move || {
        s.state.with(|st| {
            st.as_ref()
                .map(|st| {
                    let pl = st.plane(p);
                    let v: Vec<String> = [pl.center, pl.right, pl.down]
                        .iter()
                        .flatten()
                        .map(|x| format!("{x:.6}"))
                        .collect();
                    v.join(",")
                })
                .unwrap_or_default()
        })
    };
    let mm_per_css_px = move || {
        s.state.with(|st| {
            st.as_ref()
                .map(|st| format!("{:.6}", st.mm_per_px * dpr()))
                .unwrap_or_default()
        })
    };
    view! {
        <div class="mpr-pane" data-testid=format!("mpr-pane-{p}") style:border-color=COLOURS[p]
            data-plane=geometry data-mm-per-px=mm_per_css_px
            on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up.clone() on:pointercancel=on_up
            on:wheel=on_wheel on:contextmenu=|ev| ev.prevent_default()>
            <svg class="mpr-lines" xmlns="http://www.w3.org/2000/svg">
                {lines}
                {vr_controls::clip_outline(p, s.state, s.pane, s.edit)}
                {measure}
            </svg>
            <span class="mpr-pane-title" style:color=COLOURS[p] data-testid=format!("mpr-title-{p}")>{title}</span>
            <span class="marker left" data-testid=format!("mpr-marker-{p}-left")>{move || label(0)}</span>
            <span class="marker right" data-testid=format!("mpr-marker-{p}-right")>{move || label(1)}</span>
            <span class="marker top" data-testid=format!("mpr-marker-{p}-top")>{move || label(2)}</span>
            <span class="marker bottom" data-testid=format!("mpr-marker-{p}-bottom")>{move || label(3)}</span>
            <span class="mpr-pane-pos">{position}</span>
            <span class="mpr-pane-wl">{wl}</span>
        </div>
    }
}

fn observe_size(
    core: &Rc<RefCell<Core>>,
    s: Sig,
    container: &web_sys::HtmlDivElement,
    canvas: &web_sys::HtmlCanvasElement,
) {
    let c2 = core.clone();
    let container2 = container.clone();
    let canvas = canvas.clone();
    let observer = SizeObserver::new(container, move || {
        let (w, h) = even_physical_size(&container2, MAX_CANVAS_SIDE);
        if s.pane.get_untracked() == [w / 2, h / 2] {
            return;
        }
        if let Ok(mut c) = c2.try_borrow_mut() {
            let Core { gpu, screen, .. } = &mut *c;
            resize_canvas(&canvas, gpu.as_ref(), screen.as_mut(), w, h);
        } else {
            resize_canvas(&canvas, None, None, w, h);
        }
        s.pane.set([w / 2, h / 2]);
    });
    core.borrow_mut().resize_observer = observer;
}

/// Metadata → the series' volumes (one per phase); then the first phase.
async fn load(core: Rc<RefCell<Core>>, s: Sig, study_uid: &str, series: &Series) {
    let json = api::metadata_json(study_uid, &series.series_uid).await;
    if core.borrow().disposed {
        return;
    }
    let json = match json {
        Ok(v) => v,
        Err(e) => {
            s.error.set(Some(e.to_string()));
            return;
        }
    };
    let items: Vec<serde_json::Value> = json.as_array().cloned().unwrap_or_default();
    let instances: Vec<Option<Instance>> = items.iter().map(Instance::from_json).collect();
    let slices = rangsi_volume::json::slices_from_metadata(&items);
    let assembly = match rangsi_volume::assemble(&slices) {
        Ok(a) => a,
        Err(e) => {
            s.error.set(Some(crate::mpr::not_volume_text(
                s.lang.get_untracked(),
                &e,
            )));
            return;
        }
    };
    let labels: Vec<String> = assembly
        .volumes
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let what = v.notices.iter().find_map(|n| match n {
                Notice::Phase { key, value, .. } => Some(format!("{key} {value}")),
                _ => None,
            });
            match what {
                Some(w) => format!("{} · {w}", k + 1),
                None => (k + 1).to_string(),
            }
        })
        .collect();
    {
        let mut c = core.borrow_mut();
        c.phases = assembly.volumes;
        c.instances = instances;
        c.study_uid = study_uid.to_owned();
        c.series_uid = series.series_uid.clone();
    }
    s.phase_labels.set(labels);
    start_phase(&core, s, 0);
}

/// Puts phase `k` of the series on the GPU: the plan of its grid, a fresh 3D
/// texture (the previous phase's is dropped first: one volume on the device), and
/// its frames through the decode pool, centre first. The views keep their
/// crosshair, window and camera when the grid is the same.
fn start_phase(core: &Rc<RefCell<Core>>, s: Sig, k: usize) {
    if let Ok(pool) = DecodePool::get() {
        pool.cancel(CLIENT);
    }
    let (volume, instances, study_uid, series_uid) = {
        let Ok(mut c) = core.try_borrow_mut() else {
            return;
        };
        if c.disposed {
            return;
        }
        let Some(volume) = c.phases.get(k).cloned() else {
            return;
        };
        c.volume = None;
        c.plan = None;
        c.held.clear();
        c.waiting.clear();
        (
            volume,
            c.instances.clone(),
            c.study_uid.clone(),
            c.series_uid.clone(),
        )
    };
    s.phase.set(k);
    s.loaded.set(0);
    let mut index_of: HashMap<Source, usize> = HashMap::new();
    let mut requests = Vec::new();
    let mut targets: Vec<Vec<usize>> = Vec::new();
    let mut waiting: Vec<u32> = Vec::new();
    for (k, slice) in volume.slices.iter().enumerate() {
        let (sources, blended): (Vec<Source>, bool) = match *slice {
            SliceSource::Exact(src) => (vec![src], false),
            SliceSource::Blend { below, above, .. } => (vec![below, above], true),
        };
        for src in sources {
            let Some(inst) = instances.get(src.instance).and_then(Option::as_ref) else {
                s.error
                    .set(Some("metadata without a SOP Instance UID".into()));
                return;
            };
            let r = *index_of.entry(src).or_insert_with(|| {
                requests.push((
                    api::frame_url(&study_uid, &series_uid, &inst.sop_uid, src.frame + 1),
                    inst.pixel.clone(),
                ));
                targets.push(Vec::new());
                waiting.push(0);
                requests.len() - 1
            });
            targets[r].push(k);
            if blended {
                waiting[r] += 1;
            }
        }
    }
    let Some(first) = volume.slices.first().and_then(|s0| match *s0 {
        SliceSource::Exact(src) | SliceSource::Blend { below: src, .. } => {
            instances.get(src.instance).cloned().flatten()
        }
    }) else {
        return;
    };
    let mut notices: Vec<String> = volume.notices.iter().map(notice_text).collect();
    notices.insert(
        0,
        format!(
            "{} × {} × {}",
            volume.dims[0], volume.dims[1], volume.dims[2]
        ),
    );
    let plan = Rc::new(Plan {
        requests,
        targets,
        index_of,
        rescale: (first.pixel.rescale_slope, first.pixel.rescale_intercept),
        invert: first.pixel.photometric == "MONOCHROME1",
        first: first.clone(),
        volume,
    });
    s.total.set(plan.requests.len());
    s.notices.set(notices);
    s.edit
        .hist
        .set(crate::vr_edit::Histogram::new(plan.rescale.0));
    let grid = Grid {
        dims: plan.volume.dims,
        patient_from_voxel: plan.volume.patient_from_voxel,
    };
    let same_grid = s.edit.grid.get_untracked().is_some_and(|g| g == grid);
    if !same_grid {
        s.edit.grid.set(Some(grid));
        s.edit.clip.set(None);
    }
    {
        let mut c = core.borrow_mut();
        c.plan = Some(plan.clone());
        c.waiting = waiting;
    }
    if !same_grid || s.state.with_untracked(Option::is_none) {
        s.state.set(Some(MprState::new(
            &plan.volume,
            stack::initial_window(&first, None),
            s.pane.get_untracked(),
        )));
    }
    // Centre slices first: the crosshair starts there.
    let n = plan.requests.len();
    let mut order: Vec<usize> = (0..n).collect();
    let middle = plan.volume.dims[2] as usize / 2;
    order.sort_by_key(|&r| {
        plan.targets[r]
            .iter()
            .map(|&k| k.abs_diff(middle))
            .min()
            .unwrap_or(usize::MAX)
    });
    let core2 = core.clone();
    let sink: super::workers::Sink = Rc::new(move |r, result| on_frame(&core2, s, r, result));
    match DecodePool::get() {
        Ok(pool) => pool.load(CLIENT, &plan.requests, &order, sink),
        Err(e) => s.error.set(Some(e)),
    }
}

/// One source frame arrived: write the grid slices it completes.
fn on_frame(core: &Rc<RefCell<Core>>, s: Sig, r: usize, result: Result<DecodedSamples, String>) {
    if core.try_borrow().map_or(true, |c| c.disposed) {
        return;
    }
    let decoded = match result {
        Ok(d) => d,
        Err(e) => {
            web_sys::console::warn_1(&format!("MPR source {r}: {e}").into());
            s.error.set(Some(e));
            return;
        }
    };
    let Some(held) = Held::from_decoded(&decoded) else {
        s.error.set(Some(
            "floating-point and colour pixel data are not shown in MPR".into(),
        ));
        return;
    };
    let Ok(mut guard) = core.try_borrow_mut() else {
        return;
    };
    if guard.disposed {
        return;
    }
    let c = &mut *guard;
    let Some(plan) = c.plan.clone() else { return };
    let (Some(renderer), Some(_)) = (c.renderer.as_ref(), c.gpu.as_ref()) else {
        return;
    };
    if c.volume.is_none() {
        let format = match held {
            Held::I16(_) => VolumeFormat::I16,
            Held::U16(_) => VolumeFormat::U16,
        };
        match renderer.create_volume(plan.volume.dims, format, memory_budget()) {
            Ok(v) => {
                if v.layout.is_reduced() {
                    let r = v.layout.reduction;
                    s.notices.update(|n| {
                        n.push(format!(
                            "reduced to {}×{}×{} (÷{} in-plane, ÷{} slices) to fit this device",
                            v.layout.dims[0], v.layout.dims[1], v.layout.dims[2], r[0], r[2]
                        ))
                    });
                }
                c.volume = Some(v);
            }
            Err(e) => {
                s.error.set(Some(e.to_string()));
                return;
            }
        }
        // No window in the file: the first frame's value range.
        if plan.first.windows.is_empty() {
            let w =
                stack::initial_window(&plan.first, Some((decoded.header.min, decoded.header.max)));
            s.state.update(|st| {
                if let Some(st) = st {
                    st.window = w;
                }
            });
        }
    }
    match &held {
        Held::I16(v) => s
            .edit
            .hist
            .update(|h| h.add_stored(v, plan.rescale.0, plan.rescale.1)),
        Held::U16(v) => s
            .edit
            .hist
            .update(|h| h.add_stored(v, plan.rescale.0, plan.rescale.1)),
    }
    let Some(volume) = c.volume.as_mut() else {
        return;
    };
    let format = volume.format;
    let mut failed = None;
    for &k in &plan.targets[r] {
        let texels: Option<Held> = match plan.volume.slices[k] {
            SliceSource::Exact(_) => None,
            SliceSource::Blend {
                below,
                above,
                weight,
            } => {
                let other = plan.index_of[if plan.index_of[&below] == r {
                    &above
                } else {
                    &below
                }];
                let other_samples = if other == r {
                    Some(&held)
                } else {
                    c.held.get(&other)
                };
                let Some(other_samples) = other_samples else {
                    continue;
                };
                let (b, a) = if plan.index_of[&below] == r {
                    (&held, other_samples)
                } else {
                    (other_samples, &held)
                };
                let (b, a) = (b.to_f32(), a.to_f32());
                let mixed: Vec<f32> = b
                    .iter()
                    .zip(&a)
                    .map(|(x, y)| x * (1.0 - weight) + y * weight)
                    .collect();
                c.waiting[r] = c.waiting[r].saturating_sub(1);
                if other != r {
                    c.waiting[other] = c.waiting[other].saturating_sub(1);
                    if c.waiting[other] == 0 {
                        c.held.remove(&other);
                    }
                }
                Some(match format {
                    VolumeFormat::I16 => {
                        Held::I16(mixed.iter().map(|x| x.round() as i16).collect())
                    }
                    VolumeFormat::U16 => {
                        Held::U16(mixed.iter().map(|x| x.round().max(0.0) as u16).collect())
                    }
                })
            }
        };
        let source = texels.as_ref().unwrap_or(&held);
        let converted;
        let slice = match (format, source) {
            (VolumeFormat::I16, Held::I16(v)) => SliceTexels::I16(v),
            (VolumeFormat::U16, Held::U16(v)) => SliceTexels::U16(v),
            (VolumeFormat::I16, Held::U16(v)) => {
                converted = Held::I16(v.iter().map(|&x| x.min(i16::MAX as u16) as i16).collect());
                match &converted {
                    Held::I16(v) => SliceTexels::I16(v),
                    Held::U16(v) => SliceTexels::U16(v),
                }
            }
            (VolumeFormat::U16, Held::I16(v)) => {
                converted = Held::U16(v.iter().map(|&x| x.max(0) as u16).collect());
                match &converted {
                    Held::I16(v) => SliceTexels::I16(v),
                    Held::U16(v) => SliceTexels::U16(v),
                }
            }
        };
        if let Some(renderer) = c.renderer.as_ref()
            && let Err(e) = renderer.upload_slice(volume, k as u32, slice)
        {
            failed = Some(e.to_string());
        }
    }
    if c.waiting[r] > 0 {
        c.held.insert(r, held);
    }
    drop(guard);
    if let Some(e) = failed {
        s.error.set(Some(e));
    }
    s.loaded.update(|n| *n += 1);
}

/// A pane input (drag step, wheel step): changed panes are previews until input has
/// paused for [`PREVIEW_PAUSE_MS`], then every previewed pane is drawn in full.
fn input_started(core: &Rc<RefCell<Core>>, s: Sig) {
    let arm = {
        let Ok(mut c) = core.try_borrow_mut() else {
            return;
        };
        c.last_input_ms = js_sys::Date::now();
        !std::mem::replace(&mut c.pause_timer, true)
    };
    if !s.interacting.get_untracked() {
        s.interacting.set(true);
    }
    if arm {
        wait_for_pause(core.clone(), s, PREVIEW_PAUSE_MS);
    }
}

/// One timer per pause: when it fires before the pause is long enough (more input
/// came), it waits again for the rest.
fn wait_for_pause(core: Rc<RefCell<Core>>, s: Sig, ms: f64) {
    set_timeout(
        move || {
            let rest = {
                let Ok(mut c) = core.try_borrow_mut() else {
                    // Busy (drawing): look again shortly.
                    return wait_for_pause(core.clone(), s, 16.0);
                };
                if c.disposed {
                    return;
                }
                let rest = c.last_input_ms + PREVIEW_PAUSE_MS - js_sys::Date::now();
                if rest <= 0.0 {
                    c.pause_timer = false;
                }
                rest
            };
            if rest > 0.0 {
                wait_for_pause(core, s, rest);
            } else if s.interacting.get_untracked() {
                s.interacting.set(false);
            }
        },
        std::time::Duration::from_millis(ms.ceil().max(1.0) as u64),
    );
}

/// After a draw: whether the canvas now shows a preview.
fn shown_quality(s: Sig, previewed: bool) {
    if previewed {
        s.preview_draws.update(|n| *n += 1);
    }
    if s.previewed.get_untracked() != previewed {
        s.previewed.set(previewed);
    }
}

fn schedule_draw(core: &Rc<RefCell<Core>>, s: Sig) {
    super::canvas::draw_next_frame(core, |c| &mut c.draw_scheduled, move |core| draw(core, s));
}

fn draw(core: &Rc<RefCell<Core>>, s: Sig) {
    if core.try_borrow().map_or(true, |c| c.disposed) {
        return;
    }
    let Some(st) = s.state.get_untracked() else {
        return;
    };
    let pane = s.pane.get_untracked();
    let Ok(mut c) = core.try_borrow_mut() else {
        return;
    };
    let Core {
        gpu,
        screen,
        renderer,
        volume,
        plan,
        vr,
        panes: cache,
        ..
    } = &mut *c;
    let (Some(gpu), Some(screen), Some(renderer), Some(volume), Some(plan)) = (
        gpu.as_ref(),
        screen.as_mut(),
        renderer.as_ref(),
        volume.as_ref(),
        plan.as_ref(),
    ) else {
        return;
    };
    let Some(frame) = screen.next_texture(gpu) else {
        // No texture this frame (the surface was reconfigured): try again next frame,
        // or the last change would stay undrawn.
        drop(c);
        schedule_draw(core, s);
        return;
    };
    let target = frame
        .texture
        .create_view(&rangsi_render::wgpu::TextureViewDescriptor::default());
    let size = screen.size();
    if let Some(t) = s.three_d.get_untracked() {
        let vr = vr.get_or_insert_with(|| VrRenderer::new(gpu, screen.format()));
        let quality = if t.dragging || s.edit.editing.get_untracked() {
            Quality::Interactive
        } else {
            Quality::Full
        };
        let view = VrView {
            camera: t.camera,
            viewport_px: size,
            mode: match t.preset {
                Some(_) => VrMode::Composite { shading: t.shading },
                None => VrMode::Mip {
                    window: [st.window.center, st.window.width],
                },
            },
            transfer_function: s.edit.tf.get_untracked(),
            clip: s.edit.clip_box(plan.volume.dims),
            step_mm: quality.step_mm(plan.volume.spacing),
            rescale_slope: plan.rescale.0,
            rescale_intercept: plan.rescale.1,
        };
        vr.draw(&target, volume, &plan.volume.voxel_from_patient, &view);
        gpu.queue.present(frame);
        drop(c);
        shown_quality(s, quality == Quality::Interactive);
        s.draws.update(|n| *n += 1);
        let loaded = s.loaded.get_untracked();
        if s.drawn_loaded.get_untracked() != loaded {
            s.drawn_loaded.set(loaded);
        }
        return;
    }
    // The three panes, each drawn only if it changed since the last frame.
    let panes: Vec<(MprView, [u32; 2])> = (0..3)
        .map(|p| {
            let view = MprView {
                plane: st.plane(p),
                viewport_px: pane,
                mm_per_pixel: st.mm_per_px,
                slab: st.slab,
                slab_step_mm: st.step_mm,
                window: VoiWindow {
                    center: st.window.center,
                    width: st.window.width,
                },
                rescale_slope: plan.rescale.0,
                rescale_intercept: plan.rescale.1,
                invert: plan.invert,
            };
            (view, [(p as u32 % 2) * pane[0], (p as u32 / 2) * pane[1]])
        })
        .collect();
    let quality = if s.interacting.get_untracked() {
        PaneQuality::Preview
    } else {
        PaneQuality::Full
    };
    renderer.draw_panes_cached(
        cache,
        &target,
        size,
        volume,
        &plan.volume.voxel_from_patient,
        &panes,
        quality,
    );
    let drawn = cache.last_drawn;
    let previewed = cache.previews() > 0;
    gpu.queue.present(frame);
    drop(c);
    s.panes_drawn.set(drawn);
    shown_quality(s, previewed);
    s.draws.update(|n| *n += 1);
    let loaded = s.loaded.get_untracked();
    if s.drawn_loaded.get_untracked() != loaded {
        s.drawn_loaded.set(loaded);
    }
}
