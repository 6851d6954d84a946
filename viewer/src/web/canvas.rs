//! Canvas plumbing shared by the 2D viewport ([`super::viewport`]) and the MPR/3D
//! panel ([`super::mpr`]): the device pixel ratio, the backend choice from the URL,
//! an element's size in physical pixels, a `ResizeObserver` that lives as long as its
//! owner keeps it, drawing at the next animation frame, and drawing at once but at
//! most once per animation frame ([`draw_once_per_frame`], the 2D viewport's scrolling).

use rangsi_render::{Gpu, Screen};
use wasm_bindgen::prelude::*;

/// Physical pixels per CSS pixel (1 where the window is unknown).
pub fn dpr() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio())
}

/// `?gpu=webgl2` in the page URL: skip WebGPU (to test the fallback).
pub fn webgl_only() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|s| s.contains("gpu=webgl2"))
}

/// `?maxTexture=N` in the page URL (a test aid): the 2D renderer treats N (at least 3)
/// as the device's texture side limit, so frames larger than N are drawn as tiles
/// even on a device whose own limit would hold them.
pub fn forced_texture_limit() -> Option<u32> {
    let search = web_sys::window().and_then(|w| w.location().search().ok())?;
    crate::route::forced_texture_limit(&search)
}

/// The element's size in physical pixels, between 1 and `limit` on either side (a
/// surface larger than the device's texture limit cannot be configured).
pub fn physical_size(el: &web_sys::HtmlElement, limit: u32) -> (u32, u32) {
    let dpr = dpr();
    let rect = el.get_bounding_client_rect();
    let side = |x: f64| ((x * dpr).round() as u32).clamp(1, limit);
    (side(rect.width()), side(rect.height()))
}

/// Like [`physical_size`], but even on both sides (at least 2), so that halves split
/// it exactly (the MPR panes).
pub fn even_physical_size(el: &web_sys::HtmlElement, limit: u32) -> (u32, u32) {
    let dpr = dpr();
    let rect = el.get_bounding_client_rect();
    let side = |x: f64| (((x * dpr).round() as u32) & !1).clamp(2, limit & !1);
    (side(rect.width()), side(rect.height()))
}

/// Gives the canvas a backing store of `w`×`h` and reconfigures its surface to match.
pub fn resize_canvas(
    canvas: &web_sys::HtmlCanvasElement,
    gpu: Option<&Gpu>,
    screen: Option<&mut Screen>,
    w: u32,
    h: u32,
) {
    canvas.set_width(w);
    canvas.set_height(h);
    if let (Some(gpu), Some(screen)) = (gpu, screen) {
        screen.resize(gpu, w, h);
    }
}

/// A `ResizeObserver` on one element and the callback it calls; disconnect it when
/// the component goes (dropping it without [`SizeObserver::disconnect`] leaves the
/// browser calling a freed closure).
pub struct SizeObserver {
    observer: web_sys::ResizeObserver,
    _callback: Closure<dyn Fn(js_sys::Array)>,
}

impl SizeObserver {
    /// Calls `on_resize` whenever `el` changes size (and once when observing starts);
    /// `None` where the browser has no `ResizeObserver`.
    pub fn new(el: &web_sys::Element, on_resize: impl Fn() + 'static) -> Option<SizeObserver> {
        let callback =
            Closure::<dyn Fn(js_sys::Array)>::new(move |_entries: js_sys::Array| on_resize());
        let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        observer.observe(el);
        Some(SizeObserver {
            observer,
            _callback: callback,
        })
    }

    pub fn disconnect(&self) {
        self.observer.disconnect();
    }
}

/// Runs `draw` at the next animation frame, once however often it is asked before then.
/// `pending` names the flag in the view's state that says a frame is asked for; the
/// request is dropped while that state is borrowed (a draw is under way).
pub fn draw_next_frame<C: 'static>(
    core: &std::rc::Rc<std::cell::RefCell<C>>,
    pending: fn(&mut C) -> &mut bool,
    draw: impl FnOnce(&std::rc::Rc<std::cell::RefCell<C>>) + 'static,
) {
    {
        let Ok(mut c) = core.try_borrow_mut() else {
            return;
        };
        let flag = pending(&mut c);
        if *flag {
            return;
        }
        *flag = true;
    }
    let core = core.clone();
    let callback = Closure::once_into_js(move || {
        if let Ok(mut c) = core.try_borrow_mut() {
            *pending(&mut c) = false;
        }
        draw(&core);
    });
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(callback.unchecked_ref());
    }
}

/// What [`draw_once_per_frame`] keeps per view: whether the view drew in the current
/// animation frame, and whether a change came after that draw.
#[derive(Debug, Default)]
pub struct FramePacing {
    drew_this_frame: bool,
    pending: bool,
}

/// Draws at once when the view has not drawn yet in the current animation frame, else
/// once more at the next animation frame (however often it is asked before then).
///
/// Scrolling needs this: a wheel step or key press arrives once per frame, and waiting
/// for the next frame to draw it (as [`draw_next_frame`] does) folds the step of that
/// frame into the pending draw, so only every other step was shown. Drawing at once
/// shows each step in the frame it arrived in; the second change within one frame
/// waits for the next (the screen cannot show it sooner anyway). A request that finds
/// the view's state borrowed (a draw under way) is tried again at the next frame.
pub fn draw_once_per_frame<C: 'static>(
    core: &std::rc::Rc<std::cell::RefCell<C>>,
    pacing: fn(&mut C) -> &mut FramePacing,
    draw: impl Fn(&std::rc::Rc<std::cell::RefCell<C>>) + Clone + 'static,
) {
    let now = match core.try_borrow_mut() {
        Ok(mut c) => {
            let p = pacing(&mut c);
            if p.drew_this_frame {
                p.pending = true;
                return;
            }
            p.drew_this_frame = true;
            true
        }
        Err(_) => false,
    };
    let core2 = core.clone();
    let draw2 = draw.clone();
    // At the next frame: a new frame may draw at once again, and a change that came
    // after this draw is drawn now.
    let next_frame = Closure::once_into_js(move || {
        let again = match core2.try_borrow_mut() {
            Ok(mut c) => {
                let p = pacing(&mut c);
                p.drew_this_frame = false;
                std::mem::take(&mut p.pending) || !now
            }
            Err(_) => !now,
        };
        if again {
            draw_once_per_frame(&core2, pacing, draw2);
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(next_frame.unchecked_ref());
    }
    if now {
        draw(core);
    }
}
