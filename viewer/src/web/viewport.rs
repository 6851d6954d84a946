//! One viewport: a canvas drawn by `rangsi-render`, the overlay text in its corners,
//! and the interactions (wheel / arrow keys scroll, drag sets window/level, keys
//! 1–8 CT presets, 9 the file's window).
//!
//! Frames come from the decode-worker pool as typed samples and are uploaded to the
//! GPU once; window/level changes only redraw. The GPU objects are not `Send`, so
//! they live in an `Rc<RefCell<Core>>` used by event handlers and effects, while
//! everything the view reads is a signal.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use rangsi_render::{FrameTexels, Gpu, GpuImage, Renderer, Screen, ViewState, VoiWindow};
use rangsi_wire::decode::TexelKind;
use wasm_bindgen::prelude::*;

use super::api;
use super::app::ui;
use super::workers::{DecodePool, DecodedSamples};
use crate::dates::format_da;
use crate::dicom::{Instance, Series, Study};
use crate::i18n::{Lang, Text};
use crate::stack::{self, WindowLevel};

#[derive(Default)]
struct Core {
    gpu: Option<Gpu>,
    screen: Option<Screen>,
    renderer: Option<Renderer>,
    /// The series on screen, and one image per slice, filled as frames arrive.
    series_uid: Option<String>,
    images: Vec<Option<GpuImage>>,
    draw_scheduled: bool,
    resize_observer: Option<(web_sys::ResizeObserver, ResizeCallback)>,
}

type ResizeCallback = Closure<dyn Fn(js_sys::Array)>;

/// Signals of one viewport (all `Copy`).
#[derive(Clone, Copy)]
struct State {
    instances: RwSignal<Vec<Instance>>,
    index: RwSignal<usize>,
    window: RwSignal<WindowLevel>,
    file_window: RwSignal<Option<WindowLevel>>,
    loaded: RwSignal<usize>,
    failed: RwSignal<usize>,
    error: RwSignal<Option<String>>,
    gpu_ready: RwSignal<bool>,
    /// Index of the slice whose image was drawn last (the e2e tests wait on it).
    drawn: RwSignal<Option<usize>>,
    /// Draws with an image so far (tests wait for a redraw after a W/L change).
    draws: RwSignal<u32>,
    size: RwSignal<(u32, u32)>,
    dragging: RwSignal<Option<(f64, f64)>>,
}

fn webgl_only() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|s| s.contains("gpu=webgl2"))
}

#[component]
pub fn Viewport(
    study_uid: String,
    study: RwSignal<Option<Study>>,
    series: Signal<Option<Series>>,
) -> impl IntoView {
    let ui = ui();
    let core: Rc<RefCell<Core>> = Rc::new(RefCell::new(Core::default()));
    let s = State {
        instances: RwSignal::new(Vec::new()),
        index: RwSignal::new(0),
        window: RwSignal::new(WindowLevel {
            center: 40.0,
            width: 400.0,
        }),
        file_window: RwSignal::new(None),
        loaded: RwSignal::new(0),
        failed: RwSignal::new(0),
        error: RwSignal::new(None),
        gpu_ready: RwSignal::new(false),
        drawn: RwSignal::new(None),
        draws: RwSignal::new(0),
        size: RwSignal::new((1, 1)),
        dragging: RwSignal::new(None),
    };
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let box_ref = NodeRef::<html::Div>::new();

    // Open the GPU once the canvas is in the document.
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
            leptos::task::spawn_local(async move {
                let (w, h) = physical_size(&container);
                canvas.set_width(w);
                canvas.set_height(h);
                s.size.set((w, h));
                let target = rangsi_render::wgpu::SurfaceTarget::Canvas(canvas.clone());
                match Gpu::for_surface(target, w, h, webgl_only()).await {
                    Ok((gpu, screen)) => {
                        ui.graphics.set(Some((
                            gpu.backend.name().to_owned(),
                            gpu.adapter_name.clone(),
                        )));
                        let renderer = Renderer::new(&gpu, screen.format());
                        {
                            let mut c = core.borrow_mut();
                            c.gpu = Some(gpu);
                            c.screen = Some(screen);
                            c.renderer = Some(renderer);
                        }
                        observe_size(&core, s, &container, &canvas);
                        s.gpu_ready.set(true);
                    }
                    Err(e) => s.error.set(Some(e.to_string())),
                }
            });
        });
    }

    // Load the chosen series once the GPU is ready.
    {
        let core = core.clone();
        let study_uid = study_uid.clone();
        Effect::new(move |_| {
            let Some(series) = series.get() else { return };
            if !s.gpu_ready.get() {
                return;
            }
            let core = core.clone();
            let study_uid = study_uid.clone();
            leptos::task::spawn_local(async move {
                load_series(core, s, &study_uid, &series).await;
            });
        });
    }

    // Redraw on every change of what is shown; W/L never re-uploads.
    {
        let core = core.clone();
        Effect::new(move |_| {
            s.index.track();
            s.window.track();
            s.loaded.track();
            s.size.track();
            s.gpu_ready.track();
            schedule_draw(&core, s);
        });
    }

    // Fetch the slices nearest to the one on screen first.
    Effect::new(move |_| {
        let i = s.index.get();
        if let Ok(pool) = DecodePool::get() {
            pool.prioritize(i);
        }
    });

    let keys = window_event_listener(leptos::ev::keydown, move |ev| on_key(s, &ev));
    {
        // Cleanup callbacks must be Send; this one only ever runs on the UI thread.
        let core = send_wrapper::SendWrapper::new(core.clone());
        on_cleanup(move || {
            keys.remove();
            if let Ok(pool) = DecodePool::get() {
                pool.cancel();
            }
            if let Ok(mut c) = core.try_borrow_mut()
                && let Some((observer, _)) = c.resize_observer.take()
            {
                observer.disconnect();
            }
        });
    }

    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        let delta = if ev.delta_y() > 0.0 {
            1
        } else if ev.delta_y() < 0.0 {
            -1
        } else {
            0
        };
        scroll(s, delta);
    };
    let on_down = move |ev: web_sys::PointerEvent| {
        if ev.button() == 0 {
            if let Some(el) = box_ref.get_untracked() {
                let _ = el.set_pointer_capture(ev.pointer_id());
                let _ = el.focus();
            }
            s.dragging
                .set(Some((f64::from(ev.client_x()), f64::from(ev.client_y()))));
        }
    };
    let on_move = move |ev: web_sys::PointerEvent| {
        if let Some((x, y)) = s.dragging.get_untracked() {
            let (nx, ny) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
            if nx != x || ny != y {
                s.window.update(|w| *w = w.dragged(nx - x, ny - y));
                s.dragging.set(Some((nx, ny)));
            }
        }
    };
    let on_up = move |_: web_sys::PointerEvent| s.dragging.set(None);

    let current = move || s.instances.with(|v| v.get(s.index.get()).cloned());
    let total = move || s.instances.with(Vec::len);

    view! {
        <section class="viewport" data-testid="viewport"
            data-loaded=move || s.loaded.get().to_string()
            data-total=move || total().to_string()
            data-index=move || s.index.get().to_string()
            data-drawn=move || s.drawn.get().map(|i| i.to_string()).unwrap_or_default()
            data-draws=move || s.draws.get().to_string()
            data-backend=move || ui.graphics.get().map(|g| g.0).unwrap_or_default()>
            <div class="canvas-box" node_ref=box_ref tabindex="0"
                on:wheel=on_wheel
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_up>
                <canvas node_ref=canvas_ref data-testid="viewport-canvas"></canvas>
                <div class="overlay tl">
                    <div data-testid="overlay-patient" lang="th">
                        {move || study.get().map(|st| st.patient_name.display()).unwrap_or_default()}
                    </div>
                    <div>{move || study.get().map(|st| st.patient_id).unwrap_or_default()}</div>
                    <div>
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
                    <div>{move || study.get().map(|st| st.description).unwrap_or_default()}</div>
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
                    <div>
                        {move || current().map(|i| {
                            let loc = i.slice_location.map(|l| format!("Loc {l:.1} mm")).unwrap_or_default();
                            let th = i.slice_thickness.map(|t| format!("Th {t} mm")).unwrap_or_default();
                            format!("{loc}  {th}").trim().to_owned()
                        }).unwrap_or_default()}
                    </div>
                </div>
                <div class="overlay br">
                    <div data-testid="overlay-wl">{move || s.window.get().label()}</div>
                    <div class="dim">{move || ui.graphics.get().map(|g| g.0).unwrap_or_default()}</div>
                </div>
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
            <div class="presets" data-testid="presets">
                {stack::CT_PRESETS.iter().map(|p| {
                    let w = p.window;
                    view! {
                        <button title=format!("{}: W {:.0} L {:.0}", p.key, w.width, w.center)
                            on:click=move |_| s.window.set(w)>
                            {move || if ui.lang.get() == Lang::Th { p.name_th } else { p.name_en }}
                        </button>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}

fn physical_size(el: &web_sys::HtmlElement) -> (u32, u32) {
    let dpr = web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .unwrap_or(1.0);
    let rect = el.get_bounding_client_rect();
    (
        ((rect.width() * dpr).round() as u32).max(1),
        ((rect.height() * dpr).round() as u32).max(1),
    )
}

fn observe_size(
    core: &Rc<RefCell<Core>>,
    s: State,
    container: &web_sys::HtmlDivElement,
    canvas: &web_sys::HtmlCanvasElement,
) {
    let c2 = core.clone();
    let container2 = container.clone();
    let canvas = canvas.clone();
    let on_resize = Closure::<dyn Fn(js_sys::Array)>::new(move |_entries: js_sys::Array| {
        let (w, h) = physical_size(&container2);
        if s.size.get_untracked() == (w, h) {
            return;
        }
        canvas.set_width(w);
        canvas.set_height(h);
        if let Ok(mut c) = c2.try_borrow_mut() {
            let Core { gpu, screen, .. } = &mut *c;
            if let (Some(gpu), Some(screen)) = (gpu.as_ref(), screen.as_mut()) {
                screen.resize(gpu, w, h);
            }
        }
        s.size.set((w, h));
    });
    if let Ok(observer) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
        observer.observe(container);
        core.borrow_mut().resize_observer = Some((observer, on_resize));
    }
}

async fn load_series(core: Rc<RefCell<Core>>, s: State, study_uid: &str, series: &Series) {
    {
        let mut c = core.borrow_mut();
        if c.series_uid.as_deref() == Some(series.series_uid.as_str()) {
            return; // already on screen (the same series clicked again)
        }
        c.series_uid = Some(series.series_uid.clone());
    }
    s.error.set(None);
    let list = match api::metadata(study_uid, &series.series_uid).await {
        Ok(list) => list,
        Err(e) => {
            core.borrow_mut().series_uid = None; // a click tries again
            s.error.set(Some(e.to_string()));
            return;
        }
    };
    let mut instances: Vec<Instance> = list.into_iter().filter(Instance::is_displayable).collect();
    let order = stack::slice_order(&instances);
    let mut sorted = Vec::with_capacity(instances.len());
    for i in order {
        sorted.push(std::mem::replace(&mut instances[i], placeholder()));
    }
    if sorted.is_empty() {
        s.error
            .set(Some("no grayscale images in this series".into()));
        return;
    }
    let file_window = sorted[0].windows.first().map(|w| WindowLevel {
        center: w.center,
        width: w.width,
    });
    let slices: Vec<(String, rangsi_wire::decode::PixelModule)> = sorted
        .iter()
        .map(|i| {
            (
                api::frame_url(study_uid, &series.series_uid, &i.sop_uid, 1),
                i.pixel.clone(),
            )
        })
        .collect();
    {
        let mut c = core.borrow_mut();
        c.images = (0..sorted.len()).map(|_| None).collect();
    }
    let n = sorted.len();
    s.file_window.set(file_window);
    s.window.set(stack::initial_window(&sorted[0], None));
    s.loaded.set(0);
    s.failed.set(0);
    s.drawn.set(None);
    s.index.set(0);
    s.instances.set(sorted);

    let core2 = core.clone();
    let sink: super::workers::Sink = Rc::new(move |i, result| on_frame(&core2, s, i, result));
    match DecodePool::get() {
        Ok(pool) => pool.load(&slices, &stack::load_order(0, n), sink),
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
        },
    }
}

/// A frame arrived from a worker: upload it once, then count it.
fn on_frame(core: &Rc<RefCell<Core>>, s: State, i: usize, result: Result<DecodedSamples, String>) {
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
    let (columns, rows) = (u32::from(h.columns), u32::from(h.rows));
    let uploaded = {
        let c = core.borrow();
        let Some(renderer) = c.renderer.as_ref() else {
            return;
        };
        match h.kind {
            TexelKind::I16 => {
                let v = js_sys::Int16Array::new(&decoded.samples).to_vec();
                renderer.upload(columns, rows, FrameTexels::I16(&v))
            }
            TexelKind::U16 => {
                let v = js_sys::Uint16Array::new(&decoded.samples).to_vec();
                renderer.upload(columns, rows, FrameTexels::U16(&v))
            }
            TexelKind::F32 => {
                let v = js_sys::Float32Array::new(&decoded.samples).to_vec();
                renderer.upload(columns, rows, FrameTexels::F32(&v))
            }
        }
    };
    match uploaded {
        Ok(image) => {
            if let Some(slot) = core.borrow_mut().images.get_mut(i) {
                *slot = Some(image);
            }
            // No window in the file: open with the first frame's value range.
            if s.file_window.get_untracked().is_none()
                && s.loaded.get_untracked() == 0
                && let Some(inst) = s.instances.with_untracked(|v| v.get(i).cloned())
            {
                s.window
                    .set(stack::initial_window(&inst, Some((h.min, h.max))));
            }
            s.loaded.update(|n| *n += 1);
        }
        Err(e) => {
            s.failed.update(|n| *n += 1);
            s.error.set(Some(e.to_string()));
        }
    }
}

fn scroll(s: State, delta: i64) {
    let n = s.instances.with_untracked(Vec::len);
    let next = stack::scrolled(s.index.get_untracked(), delta, n);
    if next != s.index.get_untracked() {
        s.index.set(next);
    }
}

fn on_key(s: State, ev: &web_sys::KeyboardEvent) {
    if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
        return;
    }
    // Typing in a form field is not a shortcut.
    if let Some(target) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        && matches!(target.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
    {
        return;
    }
    let n = s.instances.with_untracked(Vec::len) as i64;
    let key = ev.key();
    let handled = match key.as_str() {
        "ArrowDown" | "ArrowRight" => {
            scroll(s, 1);
            true
        }
        "ArrowUp" | "ArrowLeft" => {
            scroll(s, -1);
            true
        }
        "PageDown" => {
            scroll(s, 10);
            true
        }
        "PageUp" => {
            scroll(s, -10);
            true
        }
        "Home" => {
            scroll(s, -n);
            true
        }
        "End" => {
            scroll(s, n);
            true
        }
        k if k.starts_with(stack::FILE_WINDOW_KEY) && k.len() == 1 => {
            if let Some(w) = s.file_window.get_untracked() {
                s.window.set(w);
            }
            true
        }
        k => match stack::preset_for_key(k) {
            Some(p) => {
                s.window.set(p.window);
                true
            }
            None => false,
        },
    };
    if handled {
        ev.prevent_default();
    }
}

fn schedule_draw(core: &Rc<RefCell<Core>>, s: State) {
    {
        let Ok(mut c) = core.try_borrow_mut() else {
            return;
        };
        if c.draw_scheduled {
            return;
        }
        c.draw_scheduled = true;
    }
    let core2 = core.clone();
    let callback = Closure::once_into_js(move || {
        if let Ok(mut c) = core2.try_borrow_mut() {
            c.draw_scheduled = false;
        }
        draw(&core2, s);
    });
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(callback.unchecked_ref());
    }
}

fn draw(core: &Rc<RefCell<Core>>, s: State) {
    let Ok(mut c) = core.try_borrow_mut() else {
        return;
    };
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
    let [vw, vh] = screen.size();
    let window = s.window.get_untracked();
    let aspect = instance
        .pixel_spacing
        .filter(|p| p[0] > 0.0 && p[1] > 0.0)
        .map_or(1.0, |p| (p[0] / p[1]) as f32);
    let view = ViewState {
        viewport_px: [vw as f32, vh as f32],
        image_px: [
            f32::from(instance.pixel.columns),
            f32::from(instance.pixel.rows),
        ],
        pixel_aspect: aspect,
        zoom: 1.0,
        pan_px: [0.0, 0.0],
        orientation: Default::default(),
        window: VoiWindow {
            center: window.center,
            width: window.width,
        },
        rescale_slope: instance.pixel.rescale_slope,
        rescale_intercept: instance.pixel.rescale_intercept,
        invert: instance.pixel.photometric == "MONOCHROME1",
    };
    renderer.draw(&target, image, &view);
    gpu.queue.present(frame);
    let drawn = image.map(|_| i);
    drop(c);
    if s.drawn.get_untracked() != drawn {
        s.drawn.set(drawn);
    }
    if drawn.is_some() {
        s.draws.update(|n| *n += 1);
    }
}
