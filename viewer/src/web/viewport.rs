//! One viewport of the reading grid: a canvas drawn by `rangsi-render`, the overlay
//! text in its corners, orientation markers, reference lines, and the interactions:
//! wheel and drag tools (window/level, pan, zoom, scroll), touch gestures (one finger
//! scrolls, pinch zooms, two fingers window/level), commands from the keyboard and
//! toolbar ([`Action`]), cine, synchronised scrolling, and drop targets for series.
//!
//! Frames come from the decode-worker pool as typed samples and are uploaded to the
//! GPU once; window/level, zoom, pan, rotation and flips only redraw. The GPU objects
//! are not `Send`, so they live in an `Rc<RefCell<Core>>` used by event handlers and
//! effects, while everything the view reads is a signal. Multi-frame instances are
//! one stack entry per frame.
//!
//! A lost GPU (WebGPU device lost, WebGL `webglcontextlost`) is recovered without a
//! page reload: a new device, surface and renderer on the same canvas, and the frames
//! uploaded again from the decoded samples still kept (`measure::kept_samples`); the
//! ones no longer kept are fetched and decoded again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use leptos::html;
use leptos::prelude::*;
use rangsi_render::{
    FrameTexels, Gpu, GpuImage, Orientation, Renderer, Screen, ViewState, VoiWindow,
};
use rangsi_wire::decode::TexelKind;
use wasm_bindgen::prelude::*;

use super::api;
use super::app::ui;
use super::canvas::{
    FramePacing, SizeObserver, dpr, forced_texture_limit, physical_size, resize_canvas, webgl_only,
};
use super::viewer::{Reading, SERIES_DRAG_TYPE};
use super::workers::{DecodePool, DecodedSamples};
// measurements: the overlay (web/measure.rs) and the samples it reads
use super::measure::{MeasureLayer, keep_samples};
use crate::dates::format_da;
use crate::dicom::{FileWindow, Instance, Series, Study};
use crate::i18n::Text;
use crate::orientation;
use crate::shortcuts::Action;
use crate::stack::{self, WindowLevel};
use crate::tools::ToolMode;

#[derive(Default)]
struct Core {
    /// Set when the viewport is unmounted: callbacks still queued (an animation frame,
    /// a fetch finishing, a GPU set-up) must not touch its disposed signals.
    disposed: bool,
    /// The study of the series on screen (frames fetched again after a GPU loss).
    study_uid: Option<String>,
    gpu: Option<Gpu>,
    screen: Option<Screen>,
    renderer: Option<Renderer>,
    /// The series on screen, and one image per stack entry, filled as frames arrive.
    series_uid: Option<String>,
    images: Vec<Option<GpuImage>>,
    /// Frames decoded before the GPU was open (the series loads meanwhile), to upload then.
    before_gpu: Vec<(usize, Result<DecodedSamples, String>)>,
    /// The GPU could not be opened: frames are dropped, not kept for it.
    gpu_failed: bool,
    /// Draws at once, at most once per animation frame (every scroll step shows).
    pacing: FramePacing,
    resize_observer: Option<SizeObserver>,
    /// Pointers down on the canvas (id → last client position), for drags and gestures.
    pointers: HashMap<i32, (f64, f64)>,
    /// Scroll-drag distance not yet turned into slices.
    scroll_carry: f64,
    /// The two-finger gesture under way.
    gesture: Option<Gesture>,
    cine: Option<IntervalHandle>,
    /// The canvas' box, for client → canvas coordinates.
    container: Option<web_sys::HtmlElement>,
    /// The GPU was lost and is not back yet: nothing is uploaded or drawn.
    lost: bool,
    /// The canvas' `webglcontextlost` / `webglcontextrestored` handlers.
    context_listeners: Vec<Closure<dyn Fn(web_sys::Event)>>,
}

/// A two-finger gesture: it becomes a pinch (zoom) or a drag (window/level) once
/// the fingers' distance or midpoint has changed enough, and stays that.
#[derive(Debug, Clone, Copy)]
struct Gesture {
    start_distance: f64,
    start_mid: (f64, f64),
    last_distance: f64,
    last_mid: (f64, f64),
    mode: Option<GestureMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GestureMode {
    Pinch,
    WindowLevel,
}

/// Relative change of the fingers' distance that makes a pinch.
const PINCH_THRESHOLD: f64 = 0.15;
/// CSS pixels the midpoint must move to make a two-finger window/level drag.
const TWO_FINGER_DRAG_PX: f64 = 12.0;

/// Zoom, pan, rotation/flip and the user's inversion of one viewport.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Display {
    zoom: f32,
    pan_px: [f32; 2],
    orientation: Orientation,
    invert: bool,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            zoom: 1.0,
            pan_px: [0.0, 0.0],
            orientation: Orientation::default(),
            invert: false,
        }
    }
}

/// Signals of one viewport (all `Copy`).
#[derive(Clone, Copy)]
struct State {
    slot: usize,
    /// The stack: one entry per frame (single-frame instances: one per instance).
    instances: RwSignal<Vec<Instance>>,
    frames: RwSignal<Vec<u32>>,
    index: RwSignal<usize>,
    window: RwSignal<WindowLevel>,
    initial_window: RwSignal<WindowLevel>,
    display: RwSignal<Display>,
    loaded: RwSignal<usize>,
    failed: RwSignal<usize>,
    error: RwSignal<Option<String>>,
    gpu_ready: RwSignal<bool>,
    /// Index of the slice whose image was drawn last (the e2e tests wait on it).
    drawn: RwSignal<Option<usize>>,
    /// Draws with an image so far (tests wait for a redraw after a change).
    draws: RwSignal<u32>,
    /// Draws with an image that showed another slice than the draw before: the e2e
    /// tests check that every scroll step was shown, not folded into the next one.
    slices_drawn: RwSignal<u32>,
    size: RwSignal<(u32, u32)>,
    /// Largest factor a frame of this series was reduced by to fit the per-frame GPU
    /// memory budget (1: none; a frame over the texture limit is tiled, not reduced).
    reduced: RwSignal<u32>,
    /// Most textures a frame of this series is held in (1; more: tiled, full size).
    tiles: RwSignal<usize>,
    /// Times the GPU was lost and recovered (the e2e tests wait on it).
    restores: RwSignal<u32>,
    reading: Reading,
}

#[component]
pub fn Viewport(
    /// Which viewport of the grid (0 = top left, row by row).
    cell: usize,
    /// The study of the series shown (the reading may hold several studies).
    study: Signal<Option<Study>>,
    reading: Reading,
) -> impl IntoView {
    let ui = ui();
    let slot = cell;
    let core: Rc<RefCell<Core>> = Rc::new(RefCell::new(Core::default()));
    let published = reading.slots[slot];
    let s = State {
        slot,
        instances: RwSignal::new(Vec::new()),
        frames: RwSignal::new(Vec::new()),
        index: RwSignal::new(0),
        window: RwSignal::new(WindowLevel {
            center: 40.0,
            width: 400.0,
        }),
        initial_window: RwSignal::new(WindowLevel {
            center: 40.0,
            width: 400.0,
        }),
        display: RwSignal::new(Display::default()),
        loaded: RwSignal::new(0),
        failed: RwSignal::new(0),
        error: RwSignal::new(None),
        gpu_ready: RwSignal::new(false),
        drawn: RwSignal::new(None),
        draws: RwSignal::new(0),
        slices_drawn: RwSignal::new(0),
        size: RwSignal::new((1, 1)),
        reduced: RwSignal::new(1),
        tiles: RwSignal::new(1),
        restores: RwSignal::new(0),
        reading,
    };
    let series: Signal<Option<Series>> = Signal::derive(move || {
        let i = published.series.get()?;
        reading.series.with(|l| l.get(i).cloned())
    });
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let box_ref = NodeRef::<html::Div>::new();
    let is_active = move || reading.active.get() == slot;

    // Open the GPU once the canvas is in the document.
    {
        let core = core.clone();
        // The study is read from `Core` when a lost GPU is recovered (see recover_gpu).
        let study_uid = String::new();
        let started = Rc::new(std::cell::Cell::new(false));
        Effect::new(move |_| {
            let (Some(canvas), Some(container)) = (canvas_ref.get(), box_ref.get()) else {
                return;
            };
            if started.replace(true) {
                return;
            }
            let core = core.clone();
            let study_uid_gpu = study_uid.clone();
            leptos::task::spawn_local(async move {
                let (w, h) = physical_size(&container, SAFE_CANVAS_SIDE);
                canvas.set_width(w);
                canvas.set_height(h);
                s.size.set((w, h));
                let target = rangsi_render::wgpu::SurfaceTarget::Canvas(canvas.clone());
                let opened = Gpu::for_surface(target, w, h, webgl_only()).await;
                if core.borrow().disposed {
                    return; // unmounted while the device was opening
                }
                match opened {
                    Ok((gpu, screen)) => {
                        ui.graphics.set(Some((
                            gpu.backend.name().to_owned(),
                            gpu.adapter_name.clone(),
                        )));
                        let renderer = new_renderer(&gpu, screen.format());
                        watch_device(&gpu, &core, s, &canvas, &study_uid_gpu);
                        {
                            let mut c = core.borrow_mut();
                            c.gpu = Some(gpu);
                            c.screen = Some(screen);
                            c.renderer = Some(renderer);
                            c.container = Some(container.clone().into());
                        }
                        watch_context(&core, s, &canvas, &study_uid_gpu);
                        observe_size(&core, s, &container, &canvas);
                        s.gpu_ready.set(true);
                        let early = std::mem::take(&mut core.borrow_mut().before_gpu);
                        for (i, frame) in early {
                            on_frame(&core, s, i, frame);
                        }
                    }
                    Err(e) => {
                        {
                            let mut c = core.borrow_mut();
                            c.gpu_failed = true;
                            c.before_gpu.clear();
                        }
                        s.error.set(Some(e.to_string()));
                    }
                }
            });
        });
    }

    // Load the chosen series at once: its metadata and first frames come while the GPU
    // opens (frames decoded before then wait in `before_gpu`).
    {
        let core = core.clone();
        Effect::new(move |_| {
            let Some(series) = series.get() else { return };
            let core = core.clone();
            leptos::task::spawn_local(async move {
                load_series(core, s, &series).await;
            });
        });
    }
    // Measurements belong to the study of the series on screen.
    let study_uid = Memo::new(move |_| series.with(|s| s.as_ref().map(|s| s.study_uid.clone())));

    // Redraw on every change of what is shown; W/L never re-uploads.
    {
        let core = core.clone();
        Effect::new(move |_| {
            s.index.track();
            s.window.track();
            s.display.track();
            s.loaded.track();
            s.size.track();
            s.gpu_ready.track();
            schedule_draw(&core, s);
        });
    }

    // Publish the slice on screen; fetch its neighbours first.
    Effect::new(move |_| {
        let i = s.index.get();
        let current = s.instances.with(|v| v.get(i).cloned());
        if published.current.with_untracked(|c| c != &current) {
            published.current.set(current);
        }
        if let Ok(pool) = DecodePool::get() {
            pool.prioritize(slot, i);
        }
    });

    // Synchronised scrolling: follow the active viewport's position (same frame of reference).
    Effect::new(move |_| {
        if !reading.sync.get() {
            return;
        }
        let active = reading.active.get();
        if active == slot {
            return;
        }
        let Some(reference) = reading.slots[active].current.get() else {
            return;
        };
        let next = s.instances.with_untracked(|stack| {
            let same_frame = stack.first().is_some_and(|first| {
                first.frame_of_reference.is_some()
                    && first.frame_of_reference == reference.frame_of_reference
            });
            if same_frame {
                orientation::nearest_slice(stack, &reference)
            } else {
                None
            }
        });
        if let Some(n) = next
            && n != s.index.get_untracked()
        {
            s.index.set(n);
        }
    });

    // Commands from the keyboard and the toolbar (not the one already there when
    // this viewport appeared).
    {
        let core = core.clone();
        let seen = reading.command.get_untracked().map(|c| c.seq);
        Effect::new(move |_| {
            let Some(cmd) = reading.command.get() else {
                return;
            };
            if cmd.target == slot && Some(cmd.seq) != seen {
                apply(&core, s, cmd.action);
            }
        });
    }

    // Cine: advance at the chosen speed while playing.
    {
        let core = core.clone();
        Effect::new(move |_| {
            let playing = published.cine.get();
            let fps = published.fps.get().max(1);
            let mut c = core.borrow_mut();
            if let Some(h) = c.cine.take() {
                h.clear();
            }
            if playing {
                let period = Duration::from_micros(1_000_000 / u64::from(fps));
                c.cine = set_interval_with_handle(
                    move || {
                        let n = s.instances.with_untracked(Vec::len);
                        s.index.set(stack::cine_next(s.index.get_untracked(), n));
                    },
                    period,
                )
                .ok();
            }
        });
    }

    {
        // Cleanup callbacks must be Send; this one only ever runs on the UI thread.
        let core = send_wrapper::SendWrapper::new(core.clone());
        on_cleanup(move || {
            if let Ok(pool) = DecodePool::get() {
                pool.cancel(slot);
            }
            if let Ok(mut c) = core.try_borrow_mut() {
                c.disposed = true;
                if let Some(observer) = c.resize_observer.take() {
                    observer.disconnect();
                }
                if let Some(h) = c.cine.take() {
                    h.clear();
                }
                c.context_listeners.clear();
            }
            published.cine.set(false);
            published.view.set(None);
            published.current.set(None);
        });
    }

    let on_wheel = {
        let core = core.clone();
        move |ev: web_sys::WheelEvent| {
            ev.prevent_default();
            reading.activate(slot);
            if ev.ctrl_key() {
                // Trackpad pinch arrives as ctrl + wheel: zoom about the pointer.
                let factor = (-ev.delta_y() * 0.01).exp() as f32;
                zoom_about_client(
                    &core,
                    s,
                    f64::from(ev.client_x()),
                    f64::from(ev.client_y()),
                    factor,
                );
                return;
            }
            let delta = if ev.delta_y() > 0.0 {
                1
            } else if ev.delta_y() < 0.0 {
                -1
            } else {
                0
            };
            scroll(s, delta);
        }
    };
    let on_down = {
        let core = core.clone();
        move |ev: web_sys::PointerEvent| {
            reading.activate(slot);
            if let Some(pending) = reading.pending.get_untracked() {
                reading.assign(slot, pending);
            }
            let touch = ev.pointer_type() == "touch";
            let tool = reading.tool.get_untracked();
            // Measurement tools belong to the measurement layer (mouse); touch always navigates.
            if !touch && !tool.is_navigation() && ev.button() == 0 {
                return;
            }
            if let Some(el) = box_ref.get_untracked() {
                let _ = el.set_pointer_capture(ev.pointer_id());
                let _ = el.focus();
            }
            let mut c = core.borrow_mut();
            c.pointers.insert(
                ev.pointer_id(),
                (f64::from(ev.client_x()), f64::from(ev.client_y())),
            );
            c.scroll_carry = 0.0;
            c.gesture = None;
            ev.prevent_default();
        }
    };
    let on_move = {
        let core = core.clone();
        move |ev: web_sys::PointerEvent| on_pointer_move(&core, s, &ev)
    };
    let on_up = {
        let core = core.clone();
        move |ev: web_sys::PointerEvent| {
            let mut c = core.borrow_mut();
            c.pointers.remove(&ev.pointer_id());
            c.scroll_carry = 0.0;
            c.gesture = None;
        }
    };
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        let index = ev.data_transfer().and_then(|dt| {
            dt.get_data(SERIES_DRAG_TYPE)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| dt.get_data("text/plain").ok())
        });
        if let Some(i) = index.and_then(|v| v.parse::<usize>().ok()) {
            reading.assign(slot, i);
        }
    };
    let drag_over = RwSignal::new(false);

    // The slice on screen, cloned once per scroll step (not once per reader: the
    // overlay, markers, reference lines and measurement layer all read it).
    let current = Memo::new(move |_| s.instances.with(|v| v.get(s.index.get()).cloned()));
    let total = move || s.instances.with(Vec::len);
    let css_view = move || published.view.get();
    // A memo: the markers are the same on every slice of a series, and scrolling must
    // not rebuild their four elements at each wheel step.
    let markers = Memo::new(move |_| {
        let iop = current.with(|i| i.as_ref().and_then(|i| i.orientation))?;
        let o = s.display.get().orientation;
        Some(orientation::markers(
            iop,
            o.image_from_screen_dir([1.0, 0.0]),
            o.image_from_screen_dir([0.0, 1.0]),
        ))
    });
    let reference_line = move || {
        if !reading.reference_lines.get() {
            return None;
        }
        let active = reading.active.get();
        if active == slot || active >= reading.layout.get().count() {
            return None;
        }
        let other = reading.slots[active].current.get()?;
        let mine = current.get()?;
        if mine.frame_of_reference.is_none() || mine.frame_of_reference != other.frame_of_reference
        {
            return None;
        }
        let [a, b] = orientation::reference_line(&mine, &other)?;
        let view = css_view()?;
        let k = dpr() as f32;
        let pa = view.screen_from_image([a[0] as f32, a[1] as f32]);
        let pb = view.screen_from_image([b[0] as f32, b[1] as f32]);
        Some([pa[0] / k, pa[1] / k, pb[0] / k, pb[1] / k])
    };

    view! {
        <section class="viewport" data-testid="viewport"
            class:active=is_active
            class:empty=move || series.get().is_none()
            class:drag-over=move || drag_over.get()
            data-slot=slot.to_string()
            data-active=move || is_active().to_string()
            data-series-uid=move || series.get().map(|s| s.series_uid).unwrap_or_default()
            data-loaded=move || s.loaded.get().to_string()
            data-total=move || total().to_string()
            data-index=move || s.index.get().to_string()
            data-drawn=move || s.drawn.get().map(|i| i.to_string()).unwrap_or_default()
            data-draws=move || s.draws.get().to_string()
            data-zoom=move || s.display.get().zoom.to_string()
            data-pan=move || { let p = s.display.get().pan_px; format!("{},{}", p[0], p[1]) }
            data-tiles=move || s.tiles.get().to_string()
            data-rotation=move || s.display.get().orientation.quarter_turns.to_string()
            data-flip=move || s.display.get().orientation.flip.to_string()
            data-invert=move || s.display.get().invert.to_string()
            data-cine=move || published.cine.get().to_string()
            data-backend=move || ui.graphics.get().map(|g| g.0).unwrap_or_default()
            data-restores=move || s.restores.get().to_string()
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); drag_over.set(true); }
            on:dragleave=move |_| drag_over.set(false)
            on:drop=move |ev: web_sys::DragEvent| { drag_over.set(false); on_drop(ev); }
            on:click=move |_| {
                reading.activate(slot);
                if let Some(p) = reading.pending.get_untracked() {
                    reading.assign(slot, p);
                }
            }>
            <div class="canvas-box" node_ref=box_ref tabindex="0"
                on:wheel=on_wheel
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up.clone()
                on:pointercancel=on_up
                on:contextmenu=|ev| ev.prevent_default()>
                // On the canvas: the section has as many attributes as tachys takes (26).
                <canvas node_ref=canvas_ref data-testid="viewport-canvas"
                    data-slices-drawn=move || s.slices_drawn.get().to_string()></canvas>
                // measurements: the SVG overlay (probe, lengths, angles, ROIs)
                {move || study_uid.get().map(|study_uid| view! {
                    <MeasureLayer study_uid=study_uid series=series
                        instance=current.into() view=published.view.into() tool=reading.tool.into()
                        frame=Signal::derive(move || s.frames.with(|f| f.get(s.index.get()).copied().unwrap_or(1)))/>
                })}
                {move || reference_line().map(|[x1, y1, x2, y2]| view! {
                    <svg class="reference-lines" data-testid="reference-line">
                        <line x1=x1 y1=y1 x2=x2 y2=y2/>
                    </svg>
                })}
                <div class="overlay tl">
                    <div data-testid="overlay-patient" lang="th">
                        {move || study.get().map(|st| st.patient_name.display()).unwrap_or_default()}
                    </div>
                    <div data-testid="overlay-id">{move || study.get().map(|st| st.patient_id).unwrap_or_default()}</div>
                    <div data-testid="overlay-birth">
                        {move || study.get().map(|st| {
                            let birth = format_da(&st.birth_date, ui.lang.get(), ui.era.get());
                            format!("{} {}", st.sex, birth).trim().to_owned()
                        }).unwrap_or_default()}
                    </div>
                </div>
                <div class="overlay tr">
                    <div>{move || study.get().map(|st| st.institution).unwrap_or_default()}</div>
                    <div data-testid="overlay-study-date">
                        {move || study.get().map(|st| format_da(&st.study_date, ui.lang.get(), ui.era.get())).unwrap_or_default()}
                    </div>
                    <div data-testid="overlay-description">{move || study.get().map(|st| st.description).unwrap_or_default()}</div>
                </div>
                <div class="overlay bl">
                    <div data-testid="overlay-series">
                        {move || series.get().map(|se| {
                            format!("Se {} {}", se.number.map(|n| n.to_string()).unwrap_or_default(), se.description)
                        }).unwrap_or_default()}
                    </div>
                    <div data-testid="overlay-image">
                        {move || if total() == 0 { String::new() } else { format!("Im {}/{}", s.index.get() + 1, total()) }}
                    </div>
                    <div data-testid="overlay-slice">
                        {move || current.with(|i| i.as_ref().map(|i| {
                            let loc = i.slice_location.map(|l| format!("Loc {l:.1} mm")).unwrap_or_default();
                            let th = i.slice_thickness.map(|t| format!("Th {t} mm")).unwrap_or_default();
                            format!("{loc}  {th}").trim().to_owned()
                        }).unwrap_or_default())}
                    </div>
                </div>
                <div class="overlay br">
                    <div data-testid="overlay-wl">{move || {
                        let colour = current.with(|i| i.as_ref().is_some_and(Instance::is_colour));
                        s.window.get().overlay_label(colour)
                    }}</div>
                    <Show when=move || { s.reduced.get() > 1 }>
                        <div class="dim" data-testid="overlay-reduced">
                            {move || format!("{} (1/{})", ui.t(Text::Downsampled), s.reduced.get())}
                        </div>
                    </Show>
                    <div data-testid="overlay-zoom">
                        {move || css_view().map(|v| format!("Zoom {:.0}%", v.scale() * 100.0)).unwrap_or_default()}
                    </div>
                    <div class="dim">
                        {move || if published.cine.get() { format!("▶ {} fps", published.fps.get()) } else { String::new() }}
                    </div>
                </div>
                {move || markers.get().map(|m| view! {
                    <div class="marker left" data-testid="marker-left">{m.left}</div>
                    <div class="marker right" data-testid="marker-right">{m.right}</div>
                    <div class="marker top" data-testid="marker-top">{m.top}</div>
                    <div class="marker bottom" data-testid="marker-bottom">{m.bottom}</div>
                })}
                <Show when=move || { total() > 0 && s.loaded.get() + s.failed.get() < total() }>
                    <div class="progress" data-testid="viewport-progress">
                        <div class="bar" style:width=move || {
                            format!("{:.1}%", 100.0 * s.loaded.get() as f64 / total().max(1) as f64)
                        }></div>
                    </div>
                </Show>
                <Show when=move || s.error.get().is_some()>
                    <div class="viewport-error" data-testid="viewport-error">
                        {move || ui.t(Text::NotShown)} ": " {move || s.error.get().unwrap_or_default()}
                    </div>
                </Show>
                <Show when=move || series.get().is_some() && !s.gpu_ready.get() && s.error.get().is_none()>
                    <div class="viewport-note">{move || ui.t(Text::Loading)}</div>
                </Show>
            </div>
        </section>
    }
}

/// Canvas side before the device's own limit is known (every WebGL2 device allows 4096).
const SAFE_CANVAS_SIDE: u32 = 4096;

fn observe_size(
    core: &Rc<RefCell<Core>>,
    s: State,
    container: &web_sys::HtmlDivElement,
    canvas: &web_sys::HtmlCanvasElement,
) {
    let c2 = core.clone();
    let container2 = container.clone();
    let canvas = canvas.clone();
    let observer = SizeObserver::new(container, move || {
        let limit = c2
            .try_borrow()
            .ok()
            .and_then(|c| c.gpu.as_ref().map(|g| g.max_texture_side))
            .unwrap_or(SAFE_CANVAS_SIDE);
        let (w, h) = physical_size(&container2, limit);
        if s.size.get_untracked() == (w, h) {
            return;
        }
        if let Ok(mut c) = c2.try_borrow_mut() {
            let Core { gpu, screen, .. } = &mut *c;
            resize_canvas(&canvas, gpu.as_ref(), screen.as_mut(), w, h);
        } else {
            resize_canvas(&canvas, None, None, w, h);
        }
        s.size.set((w, h));
    });
    core.borrow_mut().resize_observer = observer;
}

async fn load_series(core: Rc<RefCell<Core>>, s: State, series: &Series) {
    let study_uid = series.study_uid.as_str();
    {
        let mut c = core.borrow_mut();
        if c.series_uid.as_deref() == Some(series.series_uid.as_str()) {
            return; // already on screen (the same series clicked again)
        }
        c.series_uid = Some(series.series_uid.clone());
        c.study_uid = Some(series.study_uid.clone());
    }
    s.error.set(None);
    let list = api::metadata(study_uid, &series.series_uid).await;
    if core.borrow().disposed {
        return;
    }
    let list = match list {
        Ok(list) => list,
        Err(e) => {
            core.borrow_mut().series_uid = None; // a click tries again
            s.error.set(Some(e.to_string()));
            return;
        }
    };
    if core.borrow().series_uid.as_deref() != Some(series.series_uid.as_str()) {
        return; // another series was chosen while this one's metadata was on its way
    }
    let mut instances: Vec<Instance> = list.into_iter().filter(Instance::is_displayable).collect();
    let order = stack::slice_order(&instances);
    // One stack entry per frame: multi-frame instances (US cine, XA/RF) scroll and
    // play frame by frame.
    let mut sorted = Vec::with_capacity(instances.len());
    let mut frames = Vec::with_capacity(instances.len());
    for i in order {
        let inst = std::mem::replace(&mut instances[i], placeholder());
        let n = inst.pixel.number_of_frames.max(1);
        for f in 1..=n {
            sorted.push(inst.clone());
            frames.push(f);
        }
    }
    if sorted.is_empty() {
        s.error
            .set(Some("no images this viewer can show in this series".into()));
        return;
    }
    let slices: Vec<(String, rangsi_wire::decode::PixelModule)> = sorted
        .iter()
        .zip(&frames)
        .map(|(i, &f)| {
            (
                api::frame_url(study_uid, &series.series_uid, &i.sop_uid, f),
                i.pixel.clone(),
            )
        })
        .collect();
    {
        let mut c = core.borrow_mut();
        c.images = (0..sorted.len()).map(|_| None).collect();
        c.before_gpu.clear();
    }
    let n = sorted.len();
    let first_window = stack::initial_window(&sorted[0], None);
    // A multi-frame instance plays at its own rate.
    if let Some(ms) = sorted[0]
        .frame_time_ms
        .filter(|_| sorted[0].pixel.number_of_frames > 1)
    {
        let fps = (1000.0 / ms).round().clamp(1.0, 120.0) as u32;
        s.reading.slots[s.slot].fps.set(fps);
    }
    s.window.set(first_window);
    s.initial_window.set(first_window);
    s.display.set(Display {
        invert: false,
        ..Display::default()
    });
    s.loaded.set(0);
    s.failed.set(0);
    s.reduced.set(1);
    s.tiles.set(1);
    s.drawn.set(None);
    s.index.set(0);
    s.frames.set(frames);
    s.instances.set(sorted);

    let core2 = core.clone();
    let sink: super::workers::Sink = Rc::new(move |i, result| on_frame(&core2, s, i, result));
    match DecodePool::get() {
        Ok(pool) => pool.load(s.slot, &slices, &stack::load_order(0, n), sink),
        Err(e) => s.error.set(Some(e)),
    }
}

fn placeholder() -> Instance {
    Instance {
        sop_uid: String::new(),
        instance_number: None,
        position: None,
        orientation: None,
        slice_location: None,
        slice_thickness: None,
        pixel_spacing: None,
        windows: Vec::new(),
        pixel: rangsi_wire::decode::PixelModule {
            rows: 0,
            columns: 0,
            samples_per_pixel: 1,
            bits_allocated: 16,
            bits_stored: 16,
            high_bit: 15,
            pixel_representation: 0,
            planar_configuration: 0,
            photometric: String::new(),
            number_of_frames: 1,
            rescale_slope: 1.0,
            rescale_intercept: 0.0,
            float_pixels: false,
            transfer_syntax: None,
            palette: None,
        },
        frame_of_reference: None,
        frame_time_ms: None,
    }
}

/// A frame arrived from a worker: upload it once, then count it.
fn on_frame(core: &Rc<RefCell<Core>>, s: State, i: usize, result: Result<DecodedSamples, String>) {
    if core.try_borrow().map_or(true, |c| c.disposed) {
        return;
    }
    if core.borrow().renderer.is_none() {
        let mut c = core.borrow_mut();
        if !c.gpu_failed {
            c.before_gpu.push((i, result));
        }
        return;
    }
    let decoded = match result {
        Ok(d) => d,
        Err(e) => {
            web_sys::console::warn_1(&format!("slice {}: {e}", i + 1).into());
            s.failed.update(|n| *n += 1);
            if s.loaded.get_untracked() == 0
                && s.failed.get_untracked() >= s.instances.with_untracked(Vec::len)
            {
                s.error.set(Some(e));
            }
            return;
        }
    };
    let h = &decoded.header;
    // measurements: the probe and ROI statistics read these samples (and a lost GPU
    // gets them back from there).
    if let Some(sop) = s
        .instances
        .with_untracked(|v| v.get(i).map(|x| x.sop_uid.clone()))
    {
        let frame = s.frames.with_untracked(|f| f.get(i).copied().unwrap_or(1));
        keep_samples(&sop, frame, &decoded);
    }
    let uploaded = {
        let c = core.borrow();
        if c.lost {
            return; // uploaded from the kept samples when the GPU is back
        }
        let Some(renderer) = c.renderer.as_ref() else {
            return;
        };
        upload(
            renderer,
            h.kind,
            u32::from(h.columns),
            u32::from(h.rows),
            &decoded.samples,
        )
    };
    match uploaded {
        Ok(image) => {
            if image.reduction > s.reduced.get_untracked() {
                s.reduced.set(image.reduction);
            }
            if image.tile_count() > s.tiles.get_untracked() {
                s.tiles.set(image.tile_count());
            }
            if let Some(slot) = core.borrow_mut().images.get_mut(i) {
                *slot = Some(image);
            }
            // No window in the file: open with the first frame's value range.
            if s.loaded.get_untracked() == 0
                && let Some(inst) = s.instances.with_untracked(|v| v.get(i).cloned())
                && inst.windows.is_empty()
            {
                let w = stack::initial_window(&inst, Some((h.min, h.max)));
                s.window.set(w);
                s.initial_window.set(w);
            }
            s.loaded.update(|n| *n += 1);
        }
        Err(e) => {
            s.failed.update(|n| *n += 1);
            s.error.set(Some(e.to_string()));
        }
    }
}

/// The 2D renderer for a device, with the texture limit `?maxTexture=` forces (tests).
fn new_renderer(gpu: &Gpu, format: rangsi_render::wgpu::TextureFormat) -> Renderer {
    let mut renderer = Renderer::new(gpu, format);
    if let Some(side) = forced_texture_limit() {
        renderer.limit_texture_side(side);
    }
    renderer
}

/// Uploads a decoded frame's buffer as it came from the worker.
fn upload(
    renderer: &Renderer,
    kind: TexelKind,
    columns: u32,
    rows: u32,
    samples: &js_sys::ArrayBuffer,
) -> Result<GpuImage, rangsi_render::RenderError> {
    match kind {
        TexelKind::I16 => {
            let v = js_sys::Int16Array::new(samples).to_vec();
            renderer.upload(columns, rows, FrameTexels::I16(&v))
        }
        TexelKind::U16 => {
            let v = js_sys::Uint16Array::new(samples).to_vec();
            renderer.upload(columns, rows, FrameTexels::U16(&v))
        }
        TexelKind::F32 => {
            let v = js_sys::Float32Array::new(samples).to_vec();
            renderer.upload(columns, rows, FrameTexels::F32(&v))
        }
        TexelKind::Rgba8 => {
            let v = js_sys::Uint8Array::new(samples).to_vec();
            renderer.upload(columns, rows, FrameTexels::Rgba8(&v))
        }
    }
}

// ---- a lost GPU ----

/// Drops every GPU object of a lost device; nothing is drawn until [`recover_gpu`].
fn forget_gpu(core: &Rc<RefCell<Core>>) {
    let Ok(mut c) = core.try_borrow_mut() else {
        return;
    };
    c.lost = true;
    c.images.iter_mut().for_each(|i| *i = None);
    c.renderer = None;
    c.screen = None;
    c.gpu = None;
}

/// WebGPU: a lost device (not one we dropped) is replaced at once.
fn watch_device(
    gpu: &Gpu,
    core: &Rc<RefCell<Core>>,
    s: State,
    canvas: &web_sys::HtmlCanvasElement,
    study_uid: &str,
) {
    // wgpu wants a Send callback; the browser calls it on this (the only) thread. A
    // weak reference: the device must not keep its viewport alive.
    let weak =
        send_wrapper::SendWrapper::new((Rc::downgrade(core), canvas.clone(), study_uid.to_owned()));
    gpu.device.set_device_lost_callback(move |reason, message| {
        if reason != rangsi_render::wgpu::DeviceLostReason::Unknown {
            return;
        }
        let (weak, canvas, study_uid) = &*weak;
        let Some(core) = weak.upgrade() else {
            return;
        };
        web_sys::console::warn_1(&format!("GPU device lost: {message}").into());
        forget_gpu(&core);
        let (canvas, study_uid) = (canvas.clone(), study_uid.clone());
        leptos::task::spawn_local(recover_gpu(core, s, canvas, study_uid));
    });
}

/// WebGL2: `webglcontextlost` stops drawing (and asks the browser to restore the
/// context), `webglcontextrestored` rebuilds everything on it.
fn watch_context(
    core: &Rc<RefCell<Core>>,
    s: State,
    canvas: &web_sys::HtmlCanvasElement,
    study_uid: &str,
) {
    let weak = Rc::downgrade(core);
    let on_lost = Closure::<dyn Fn(web_sys::Event)>::new(move |e: web_sys::Event| {
        e.prevent_default(); // else the browser never restores the context
        web_sys::console::warn_1(&"WebGL context lost".into());
        if let Some(core) = weak.upgrade() {
            forget_gpu(&core);
        }
    });
    let weak = Rc::downgrade(core);
    let (canvas2, study_uid) = (canvas.clone(), study_uid.to_owned());
    let on_restored = Closure::<dyn Fn(web_sys::Event)>::new(move |_: web_sys::Event| {
        if let Some(core) = weak.upgrade() {
            leptos::task::spawn_local(recover_gpu(core, s, canvas2.clone(), study_uid.clone()));
        }
    });
    let _ = canvas
        .add_event_listener_with_callback("webglcontextlost", on_lost.as_ref().unchecked_ref());
    let _ = canvas.add_event_listener_with_callback(
        "webglcontextrestored",
        on_restored.as_ref().unchecked_ref(),
    );
    if let Ok(mut c) = core.try_borrow_mut() {
        c.context_listeners = vec![on_lost, on_restored];
    }
}

/// A new device, surface and renderer on the same canvas; the series' frames uploaded
/// again from the kept samples, the others fetched and decoded again.
async fn recover_gpu(
    core: Rc<RefCell<Core>>,
    s: State,
    canvas: web_sys::HtmlCanvasElement,
    study_uid: String,
) {
    let study_uid = core
        .try_borrow()
        .ok()
        .and_then(|c| c.study_uid.clone())
        .unwrap_or(study_uid);
    forget_gpu(&core);
    let (w, h) = s.size.get_untracked();
    let target = rangsi_render::wgpu::SurfaceTarget::Canvas(canvas.clone());
    let (gpu, screen) = match Gpu::for_surface(target, w, h, webgl_only()).await {
        Ok(opened) => opened,
        Err(e) => {
            s.error.set(Some(e.to_string()));
            return;
        }
    };
    let renderer = new_renderer(&gpu, screen.format());
    watch_device(&gpu, &core, s, &canvas, &study_uid);
    let stack: Vec<(String, u32)> = s.instances.with_untracked(|v| {
        s.frames.with_untracked(|f| {
            v.iter()
                .zip(f)
                .map(|(i, &n)| (i.sop_uid.clone(), n))
                .collect()
        })
    });
    let mut images = Vec::with_capacity(stack.len());
    let mut missing = Vec::new();
    for (i, (sop, frame)) in stack.iter().enumerate() {
        let image =
            super::measure::kept_samples(sop, *frame).and_then(|(kind, columns, rows, buffer)| {
                upload(&renderer, kind, columns, rows, &buffer).ok()
            });
        if image.is_none() {
            missing.push(i);
        }
        images.push(image);
    }
    let series_uid = {
        let Ok(mut c) = core.try_borrow_mut() else {
            return;
        };
        c.gpu = Some(gpu);
        c.screen = Some(screen);
        c.renderer = Some(renderer);
        c.images = images;
        c.lost = false;
        c.series_uid.clone()
    };
    s.loaded.set(stack.len() - missing.len());
    s.restores.update(|n| *n += 1);
    if let (Some(series_uid), false) = (series_uid, missing.is_empty()) {
        let slices: Vec<(String, rangsi_wire::decode::PixelModule)> =
            s.instances.with_untracked(|v| {
                v.iter()
                    .zip(&stack)
                    .map(|(inst, (sop, frame))| {
                        (
                            api::frame_url(&study_uid, &series_uid, sop, *frame),
                            inst.pixel.clone(),
                        )
                    })
                    .collect()
            });
        let current = s.index.get_untracked();
        missing.sort_by_key(|i| i.abs_diff(current));
        let core2 = core.clone();
        let sink: super::workers::Sink = Rc::new(move |i, result| on_frame(&core2, s, i, result));
        if let Ok(pool) = DecodePool::get() {
            pool.load(s.slot, &slices, &missing, sink);
        }
    }
    schedule_draw(&core, s);
}

fn scroll(s: State, delta: i64) {
    let n = s.instances.with_untracked(Vec::len);
    let next = stack::scrolled(s.index.get_untracked(), delta, n);
    if next != s.index.get_untracked() {
        s.index.set(next);
    }
}

/// The view state as drawn now (physical pixels), for gestures and commands.
fn view_now(s: State) -> Option<ViewState> {
    let i = s.index.get_untracked();
    let instance = s.instances.with_untracked(|v| v.get(i).cloned())?;
    let (w, h) = s.size.get_untracked();
    Some(view_state(
        &instance,
        [w, h],
        s.display.get_untracked(),
        s.window.get_untracked(),
    ))
}

fn view_state(instance: &Instance, size: [u32; 2], d: Display, window: WindowLevel) -> ViewState {
    let colour = instance.is_colour();
    let aspect = instance
        .pixel_spacing
        .filter(|p| p[0] > 0.0 && p[1] > 0.0)
        .map_or(1.0, |p| (p[0] / p[1]) as f32);
    ViewState {
        viewport_px: [size[0] as f32, size[1] as f32],
        image_px: [
            f32::from(instance.pixel.columns),
            f32::from(instance.pixel.rows),
        ],
        pixel_aspect: aspect,
        zoom: d.zoom,
        pan_px: d.pan_px,
        orientation: d.orientation,
        window: VoiWindow {
            center: window.center,
            width: window.width,
        },
        // Colour texels are display values already (0..255 per channel).
        rescale_slope: if colour {
            1.0
        } else {
            instance.pixel.rescale_slope
        },
        rescale_intercept: if colour {
            0.0
        } else {
            instance.pixel.rescale_intercept
        },
        // MONOCHROME1 is shown inverted; the user's inversion flips that again.
        invert: (instance.pixel.photometric == "MONOCHROME1") != d.invert,
    }
}

/// Client (CSS) position → physical pixels inside the canvas.
fn canvas_point(core: &Rc<RefCell<Core>>, x: f64, y: f64) -> Option<[f32; 2]> {
    let rect = core.borrow().container.as_ref()?.get_bounding_client_rect();
    let k = dpr();
    Some([
        ((x - rect.left()) * k) as f32,
        ((y - rect.top()) * k) as f32,
    ])
}

fn zoom_about_client(core: &Rc<RefCell<Core>>, s: State, x: f64, y: f64, factor: f32) {
    let Some(p) = canvas_point(core, x, y) else {
        return;
    };
    zoom_about(s, p, factor);
}

fn zoom_about(s: State, p: [f32; 2], factor: f32) {
    let Some(v) = view_now(s) else { return };
    let z = v.zoomed_about(p, factor);
    s.display.update(|d| {
        d.zoom = z.zoom;
        d.pan_px = z.pan_px;
    });
}

fn on_pointer_move(core: &Rc<RefCell<Core>>, s: State, ev: &web_sys::PointerEvent) {
    let id = ev.pointer_id();
    let (nx, ny) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
    let (before, others, count) = {
        let c = core.borrow();
        let Some(&before) = c.pointers.get(&id) else {
            return;
        };
        let others: Vec<(f64, f64)> = c
            .pointers
            .iter()
            .filter(|(k, _)| **k != id)
            .map(|(_, p)| *p)
            .collect();
        (before, others, c.pointers.len())
    };
    if before == (nx, ny) {
        return;
    }
    core.borrow_mut().pointers.insert(id, (nx, ny));
    let (dx, dy) = (nx - before.0, ny - before.1);
    let k = dpr();
    let touch = ev.pointer_type() == "touch";
    if count >= 2 {
        let Some(&other) = others.first() else {
            return;
        };
        two_finger_move(core, s, (nx, ny), other);
        return;
    }
    let tool = if touch {
        ToolMode::Scroll
    } else {
        match ev.buttons() {
            4 => ToolMode::Pan,  // middle button
            2 => ToolMode::Zoom, // right button
            _ => s.reading.tool.get_untracked(),
        }
    };
    match tool {
        ToolMode::WindowLevel => s.window.update(|w| *w = w.dragged(dx, dy)),
        ToolMode::Pan => s.display.update(|d| {
            d.pan_px[0] += (dx * k) as f32;
            d.pan_px[1] += (dy * k) as f32;
        }),
        ToolMode::Zoom => {
            let c = core.borrow();
            let start = c.pointers.get(&id).copied();
            drop(c);
            if let Some(p) = start.and_then(|(x, y)| canvas_point(core, x, y)) {
                zoom_about(s, p, (-dy * 0.01).exp() as f32);
            }
        }
        ToolMode::Scroll => {
            // One slice per 12 CSS pixels (drag up: back, as a wheel would).
            let steps = {
                let mut c = core.borrow_mut();
                c.scroll_carry += dy;
                let steps = (c.scroll_carry / 12.0).trunc();
                c.scroll_carry -= steps * 12.0;
                steps as i64
            };
            if steps != 0 {
                scroll(s, steps);
            }
        }
        _ => {}
    }
}

/// Two fingers down: pinch zooms about their midpoint, moving both sets W/L.
fn two_finger_move(core: &Rc<RefCell<Core>>, s: State, a: (f64, f64), b: (f64, f64)) {
    let distance = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt().max(1.0);
    let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
    let g = {
        let mut c = core.borrow_mut();
        let g = c.gesture.get_or_insert(Gesture {
            start_distance: distance,
            start_mid: mid,
            last_distance: distance,
            last_mid: mid,
            mode: None,
        });
        if g.mode.is_none() {
            let moved = ((mid.0 - g.start_mid.0).powi(2) + (mid.1 - g.start_mid.1).powi(2)).sqrt();
            if (distance / g.start_distance - 1.0).abs() > PINCH_THRESHOLD {
                g.mode = Some(GestureMode::Pinch);
            } else if moved > TWO_FINGER_DRAG_PX {
                g.mode = Some(GestureMode::WindowLevel);
            }
        }
        let before = *g;
        g.last_distance = distance;
        g.last_mid = mid;
        before
    };
    match g.mode {
        Some(GestureMode::Pinch) => {
            zoom_about_client(core, s, mid.0, mid.1, (distance / g.last_distance) as f32);
        }
        Some(GestureMode::WindowLevel) => {
            let (dx, dy) = (mid.0 - g.last_mid.0, mid.1 - g.last_mid.1);
            s.window.update(|w| *w = w.dragged(dx, dy));
        }
        None => {}
    }
}

/// True when the slice on screen is a colour image.
fn showing_colour(s: State) -> bool {
    s.instances.with_untracked(|v| {
        v.get(s.index.get_untracked())
            .is_some_and(Instance::is_colour)
    })
}

/// Applies a keyboard or toolbar command to this viewport.
fn apply(core: &Rc<RefCell<Core>>, s: State, action: Action) {
    let _ = core;
    let n = s.instances.with_untracked(Vec::len);
    let published = s.reading.slots[s.slot];
    match action {
        Action::Scroll(d) => scroll(s, d),
        Action::Page(d) => scroll(s, d * stack::page_step(n)),
        Action::First => scroll(s, -(n as i64)),
        Action::Last => scroll(s, n as i64),
        // CT presets and file windows mean nothing for colour (WindowLevel::COLOUR_AS_IS).
        Action::Preset(_) | Action::FileWindow | Action::Window { .. } if showing_colour(s) => {}
        Action::Preset(k) => {
            if let Some(p) = stack::CT_PRESETS.get(k) {
                s.window.set(p.window);
            }
        }
        Action::FileWindow => {
            let windows: Vec<FileWindow> = s
                .instances
                .with_untracked(|v| v.get(s.index.get_untracked()).map(|i| i.windows.clone()))
                .unwrap_or_default();
            match stack::next_file_window(s.window.get_untracked(), &windows) {
                Some((_, w)) => s.window.set(w),
                None => s.window.set(s.initial_window.get_untracked()),
            }
        }
        Action::Window { center, width } => s.window.set(WindowLevel { center, width }),
        Action::Cine => published.cine.update(|c| *c = !*c),
        Action::Fps(step) => published
            .fps
            .update(|f| *f = stack::cine_fps_step(*f, step)),
        Action::Zoom(step) => {
            let (w, h) = s.size.get_untracked();
            let factor = if step > 0 { 1.25 } else { 0.8 };
            zoom_about(s, [w as f32 / 2.0, h as f32 / 2.0], factor);
        }
        Action::Fit => s.display.update(|d| {
            d.zoom = 1.0;
            d.pan_px = [0.0, 0.0];
        }),
        Action::OneToOne => {
            if let Some(v) = view_now(s) {
                let zoom = v.zoom_for_scale(1.0);
                s.display.update(|d| {
                    // Keep the image point at the centre where it is.
                    let ratio = zoom / d.zoom.max(1e-6);
                    d.zoom = zoom;
                    d.pan_px = [d.pan_px[0] * ratio, d.pan_px[1] * ratio];
                });
            }
        }
        Action::Rotate(k) => s.display.update(|d| {
            d.orientation = d.orientation.rotated(k);
            d.pan_px = rotate_pan(d.pan_px, k);
        }),
        Action::FlipHorizontal => s.display.update(|d| {
            d.orientation = d.orientation.flipped_horizontally();
            d.pan_px[0] = -d.pan_px[0];
        }),
        Action::FlipVertical => s.display.update(|d| {
            d.orientation = d.orientation.flipped_vertically();
            d.pan_px[1] = -d.pan_px[1];
        }),
        Action::Invert => s.display.update(|d| d.invert = !d.invert),
        Action::Reset => {
            s.display.set(Display::default());
            s.window.set(s.initial_window.get_untracked());
        }
        Action::Tool(_)
        | Action::Layout(_)
        | Action::Sync
        | Action::ReferenceLines
        | Action::Help => {}
    }
}

/// The pan offset turned with the image about the viewport centre.
fn rotate_pan(p: [f32; 2], quarter_turns: i32) -> [f32; 2] {
    let mut q = p;
    for _ in 0..quarter_turns.rem_euclid(4) {
        q = [-q[1], q[0]];
    }
    q
}

fn schedule_draw(core: &Rc<RefCell<Core>>, s: State) {
    super::canvas::draw_once_per_frame(core, |c| &mut c.pacing, move |core| draw(core, s));
}

fn draw(core: &Rc<RefCell<Core>>, s: State) {
    let Ok(mut c) = core.try_borrow_mut() else {
        return;
    };
    if c.disposed {
        return;
    }
    let Core {
        gpu,
        screen,
        renderer,
        images,
        ..
    } = &mut *c;
    let (Some(gpu), Some(screen), Some(renderer)) =
        (gpu.as_ref(), screen.as_mut(), renderer.as_ref())
    else {
        return;
    };
    let i = s.index.get_untracked();
    let Some(instance) = s.instances.with_untracked(|v| v.get(i).cloned()) else {
        return;
    };
    let image = images.get(i).and_then(Option::as_ref);
    let Some(frame) = screen.next_texture(gpu) else {
        return;
    };
    let target = frame
        .texture
        .create_view(&rangsi_render::wgpu::TextureViewDescriptor::default());
    let view = view_state(
        &instance,
        screen.size(),
        s.display.get_untracked(),
        s.window.get_untracked(),
    );
    renderer.draw(&target, image, &view);
    gpu.queue.present(frame);
    let drawn = image.map(|_| i);
    drop(c);
    let published = s.reading.slots[s.slot].view;
    if published.with_untracked(|v| v.as_ref() != Some(&view)) {
        published.set(Some(view));
    }
    if s.drawn.get_untracked() != drawn {
        if drawn.is_some() {
            s.slices_drawn.update(|n| *n += 1);
        }
        s.drawn.set(drawn);
    }
    if drawn.is_some() {
        s.draws.update(|n| *n += 1);
    }
}
