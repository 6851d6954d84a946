//! The controls of the MPR/3D panel that edit what the 3D view shows, apart from
//! [`super::mpr`] (which owns the canvas, the GPU volume and the loading):
//!
//! - [`tf_editor`]: the transfer function over the histogram of the volume's values:
//!   drag a point (value → x, opacity → y), double-click to add or remove one, drag
//!   the background to shift the whole function; from the keyboard `[`/`]` select a
//!   point, arrows move it (or shift the function when none is selected), Delete
//!   removes it, `+` adds one.
//! - [`clip_controls`]: the clip box, two sliders (min, max) per grid axis, and a reset;
//!   [`clip_outline`] draws it in the MPR panes.
//! - [`phase_chooser`]: the phase of a 4D series.
//!
//! The state lives in [`VrEdit`] (signals the 3D draw reads); the edits themselves are
//! the host-tested [`crate::vr_edit`].

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use rangsi_volume::direction_label;
use rangsi_volume::geometry::{Affine, scale};
use rangsi_volume::vr::{ClipBox, Preset, TransferFunction};
use wasm_bindgen::JsCast;

use super::app::ui;
use super::canvas::dpr;
use super::mpr::tr;
use crate::mpr::MprState;
use crate::vr_edit::{
    EditorAxes, Histogram, add_point, clip_edges, hit, is_whole, move_point, remove_point, set_clip,
};

/// The volume grid the clip box is in: voxel counts and voxel → patient (mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub dims: [u32; 3],
    pub patient_from_voxel: Affine,
}

/// What the user edits in the 3D view, shared by the controls and the draw.
#[derive(Clone, Copy)]
pub struct VrEdit {
    /// The transfer function drawn (a preset's, then as edited).
    pub tf: RwSignal<TransferFunction>,
    /// Modality values of the slices loaded so far.
    pub hist: RwSignal<Histogram>,
    /// `None`: the whole volume.
    pub clip: RwSignal<Option<ClipBox>>,
    pub grid: RwSignal<Option<Grid>>,
    /// A drag in the editor is under way: the 3D view takes fewer samples meanwhile.
    pub editing: RwSignal<bool>,
}

impl VrEdit {
    pub fn new() -> VrEdit {
        VrEdit {
            tf: RwSignal::new(TransferFunction::default()),
            hist: RwSignal::new(Histogram::new(1.0)),
            clip: RwSignal::new(None),
            grid: RwSignal::new(None),
            editing: RwSignal::new(false),
        }
    }

    /// The clip box to draw with (the whole grid when nothing is clipped).
    pub fn clip_box(&self, dims: [u32; 3]) -> ClipBox {
        self.clip
            .get_untracked()
            .map_or(ClipBox::whole(dims), |c| c.within(dims))
    }
}

/// Editor size in SVG units (the SVG is scaled to the panel's width).
const W: f64 = 280.0;
const H: f64 = 110.0;
/// Height of the colour strip under the curve.
const STRIP: f64 = 8.0;
/// How near (SVG units) a press must be to take a point.
const HIT_RADIUS: f64 = 9.0;
/// Columns of the histogram drawing.
const COLUMNS: usize = 140;

/// A drag in the editor: one point, or the whole function from where it started.
enum Drag {
    Point(usize),
    Shift { x0: f64, from: TransferFunction },
}

fn hex(c: [f64; 3]) -> String {
    let b = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    format!("#{:02x}{:02x}{:02x}", b(c[0]), b(c[1]), b(c[2]))
}

/// The transfer-function editor; `preset` is what "reset" goes back to.
pub fn tf_editor(edit: VrEdit, preset: Signal<Option<Preset>>) -> impl IntoView {
    let ui = ui();
    let selected: RwSignal<Option<usize>> = RwSignal::new(None);
    let drag: Rc<RefCell<Option<(Drag, EditorAxes)>>> = Rc::new(RefCell::new(None));
    let focus_ref = NodeRef::<html::Div>::new();
    let axes = move || {
        edit.hist
            .with(|h| edit.tf.with(|f| EditorAxes::new(h, f, W, H - STRIP)))
    };
    // The pointer in SVG units.
    let at = |ev: &web_sys::MouseEvent| {
        let rect = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .map(|el| el.get_bounding_client_rect());
        rect.map_or([0.0, 0.0], |r| {
            [
                (f64::from(ev.client_x()) - r.left()) / r.width().max(1.0) * W,
                (f64::from(ev.client_y()) - r.top()) / r.height().max(1.0) * H,
            ]
        })
    };

    let d1 = drag.clone();
    let on_down = move |ev: web_sys::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        ev.prevent_default();
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        if let Some(el) = focus_ref.get_untracked() {
            let _ = el.focus();
        }
        let a = axes();
        let [x, y] = at(&ev);
        let d = match edit.tf.with_untracked(|f| hit(f, &a, x, y, HIT_RADIUS)) {
            Some(k) => {
                selected.set(Some(k));
                Drag::Point(k)
            }
            None => Drag::Shift {
                x0: x,
                from: edit.tf.get_untracked(),
            },
        };
        *d1.borrow_mut() = Some((d, a));
        edit.editing.set(true);
    };
    let d2 = drag.clone();
    let on_move = move |ev: web_sys::PointerEvent| {
        let mut guard = d2.borrow_mut();
        let Some((d, a)) = guard.as_mut() else { return };
        let [x, y] = at(&ev);
        match d {
            Drag::Point(k) => {
                let mut moved = None;
                edit.tf
                    .update(|f| moved = move_point(f, *k, a.value_at(x), a.opacity_at(y)));
                if let Some(n) = moved {
                    *k = n;
                    selected.set(Some(n));
                }
            }
            Drag::Shift { x0, from } => edit.tf.set(from.shifted((x - *x0) * a.value_per_unit())),
        }
    };
    let d3 = drag;
    let on_up = move |_ev: web_sys::PointerEvent| {
        *d3.borrow_mut() = None;
        edit.editing.set(false);
    };
    let on_dblclick = move |ev: web_sys::MouseEvent| {
        ev.prevent_default();
        let a = axes();
        let [x, y] = at(&ev);
        match edit.tf.with_untracked(|f| hit(f, &a, x, y, HIT_RADIUS)) {
            Some(k) => {
                edit.tf.update(|f| {
                    remove_point(f, k);
                });
                selected.set(None);
            }
            None => {
                let mut added = None;
                edit.tf
                    .update(|f| added = add_point(f, a.value_at(x), a.opacity_at(y)));
                selected.set(added);
            }
        }
    };
    let on_key = move |ev: web_sys::KeyboardEvent| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let a = axes();
        let big = ev.shift_key();
        let dv = (a.hi - a.lo) * if big { 0.1 } else { 0.01 };
        let dop = if big { 0.1 } else { 0.02 };
        let sel = selected.get_untracked();
        let n = edit.tf.with_untracked(|f| f.points().len());
        let nudge = move |k: usize, dvalue: f64, dopacity: f64| {
            let mut moved = None;
            edit.tf.update(|f| {
                if let Some(p) = f.points().get(k).copied() {
                    moved = move_point(f, k, p.value + dvalue, p.opacity_per_mm + dopacity);
                }
            });
            if moved.is_some() {
                selected.set(moved);
            }
        };
        let handled = match ev.key().as_str() {
            "]" if n > 0 => {
                selected.set(Some(sel.map_or(0, |k| (k + 1).min(n - 1))));
                true
            }
            "[" if n > 0 => {
                selected.set(Some(sel.map_or(n - 1, |k| k.saturating_sub(1))));
                true
            }
            "Escape" if sel.is_some() => {
                selected.set(None);
                true
            }
            key @ ("ArrowLeft" | "ArrowRight") => {
                let dv = if key == "ArrowLeft" { -dv } else { dv };
                match sel {
                    Some(k) => nudge(k, dv, 0.0),
                    None => edit.tf.update(|f| *f = f.shifted(dv)),
                }
                true
            }
            key @ ("ArrowUp" | "ArrowDown") => match sel {
                Some(k) => {
                    nudge(k, 0.0, if key == "ArrowDown" { -dop } else { dop });
                    true
                }
                None => false,
            },
            "Delete" | "Backspace" => match sel {
                Some(k) => {
                    edit.tf.update(|f| {
                        remove_point(f, k);
                    });
                    selected.set(None);
                    true
                }
                None => false,
            },
            "+" | "Insert" => {
                // Midway between the selected point and the next (or in the middle).
                let at_value = edit.tf.with_untracked(|f| {
                    let pts = f.points();
                    match sel.and_then(|k| Some((pts.get(k)?, pts.get(k + 1)?))) {
                        Some((p, q)) => (p.value + q.value) / 2.0,
                        None => (a.lo + a.hi) / 2.0,
                    }
                });
                let opacity = edit.tf.with_untracked(|f| f.evaluate(at_value)[3]);
                let mut added = None;
                edit.tf.update(|f| added = add_point(f, at_value, opacity));
                selected.set(added);
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
            ev.stop_propagation();
        }
    };

    let histogram = move || {
        let a = axes();
        edit.hist.with(|h| {
            let mut sums = [0u64; COLUMNS];
            for (k, &c) in h.counts.iter().enumerate() {
                let x = a.x_of(h.start() + (k as f64 + 0.5) * h.bin_width);
                if (0.0..W).contains(&x) {
                    sums[((x / W * COLUMNS as f64) as usize).min(COLUMNS - 1)] += c;
                }
            }
            let most = sums.iter().copied().max().unwrap_or(0);
            let mut d = String::new();
            if most > 0 {
                let log_most = (1.0 + most as f64).ln();
                let col = W / COLUMNS as f64;
                let floor = H - STRIP;
                for (i, &c) in sums.iter().enumerate().filter(|(_, c)| **c > 0) {
                    let top = floor - (1.0 + c as f64).ln() / log_most * floor;
                    d.push_str(&format!(
                        "M{:.1} {floor:.1}V{top:.1}h{col:.2}V{floor:.1}Z",
                        i as f64 * col
                    ));
                }
            }
            d
        })
    };
    // For the e2e oracle: the histogram as start;bin width;counts.
    let hist_data = move || {
        edit.hist.with(|h| {
            let counts: Vec<String> = h.counts.iter().map(u64::to_string).collect();
            format!("{};{};{}", h.start(), h.bin_width, counts.join(","))
        })
    };
    let points_data = move || {
        edit.tf.with(|f| {
            let v: Vec<String> = f
                .points()
                .iter()
                .map(|p| format!("{:.3}:{:.4}", p.value, p.opacity_per_mm))
                .collect();
            v.join(",")
        })
    };
    let strip = move || {
        let a = axes();
        edit.tf.with(|f| {
            (0..70)
                .map(|i| {
                    let x = i as f64 * W / 70.0;
                    let [r, g, b, _] = f.evaluate(a.value_at(x + W / 140.0));
                    view! { <rect x=x y=H - STRIP width=W / 70.0 + 0.5 height=STRIP fill=hex([r, g, b])/> }
                })
                .collect_view()
        })
    };
    let curve = move || {
        let a = axes();
        edit.tf.with(|f| {
            let pts = f.points();
            let mut line: Vec<String> = Vec::with_capacity(pts.len() + 2);
            if let Some(p) = pts.first() {
                line.push(format!("0,{:.1}", a.y_of(p.opacity_per_mm)));
            }
            line.extend(pts.iter().map(|p| {
                format!(
                    "{:.1},{:.1}",
                    a.x_of(p.value).clamp(-1.0, W + 1.0),
                    a.y_of(p.opacity_per_mm)
                )
            }));
            if let Some(p) = pts.last() {
                line.push(format!("{W},{:.1}", a.y_of(p.opacity_per_mm)));
            }
            line.join(" ")
        })
    };
    let handles = move || {
        let a = axes();
        let sel = selected.get();
        edit.tf.with(|f| {
            f.points()
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    view! {
                        <circle cx=a.x_of(p.value).clamp(0.0, W) cy=a.y_of(p.opacity_per_mm) r="5"
                            fill=hex(p.color) stroke=if sel == Some(k) { "#40c4ff" } else { "#ffffff" }
                            stroke-width=if sel == Some(k) { "2.5" } else { "1" }
                            data-testid=format!("vr-tf-point-{k}")/>
                    }
                })
                .collect_view()
        })
    };
    let caption = move || {
        let lang = ui.lang.get();
        let a = axes();
        let point = selected
            .get()
            .and_then(|k| edit.tf.with(|f| f.points().get(k).copied()));
        match point {
            Some(p) => format!(
                "{} {:.0} · {} {:.2}",
                tr(lang, "value", "ค่า"),
                p.value,
                tr(lang, "opacity/mm", "ความทึบ/มม."),
                p.opacity_per_mm
            ),
            None => format!("{:.0} … {:.0}", a.lo, a.hi),
        }
    };
    let reset = move |_| {
        if let Some(p) = preset.get_untracked() {
            edit.tf.set(p.transfer_function());
            selected.set(None);
        }
    };

    view! {
        <div class="vr-tf" tabindex="0" node_ref=focus_ref data-testid="vr-tf"
            data-points=points_data data-hist=hist_data
            aria-label=move || tr(ui.lang.get(), "Transfer function editor", "ตัวแก้ฟังก์ชันถ่ายโอน")
            on:keydown=on_key>
            <div class="vr-tf-head">
                <span>{move || tr(ui.lang.get(), "Transfer function", "ฟังก์ชันถ่ายโอน")}</span>
                <button data-testid="vr-tf-reset" on:click=reset>{move || tr(ui.lang.get(), "Preset", "ค่าตั้งต้น")}</button>
            </div>
            <svg class="vr-tf-chart" data-testid="vr-tf-chart" xmlns="http://www.w3.org/2000/svg"
                viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none"
                on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up.clone() on:pointercancel=on_up
                on:dblclick=on_dblclick on:contextmenu=|ev| ev.prevent_default()>
                <path d=histogram fill="#4a4a4a"/>
                {strip}
                <polyline points=curve fill="none" stroke="#eeeeee" stroke-width="1.2"/>
                {handles}
            </svg>
            <div class="vr-tf-caption" data-testid="vr-tf-caption">{caption}</div>
            <p class="mpr-help">
                {move || tr(ui.lang.get(),
                    "Drag a point: value, opacity · double-click: add/remove · drag the background or ←/→: shift all · [ ]: select a point, arrows move it, Delete removes, +: add",
                    "ลากจุด: ค่า ความทึบ · ดับเบิลคลิก: เพิ่ม/ลบจุด · ลากพื้นหลังหรือ ←/→: เลื่อนทั้งฟังก์ชัน · [ ]: เลือกจุด ลูกศรเลื่อนจุด Delete ลบ +: เพิ่ม")}
            </p>
        </div>
    }
}

/// Two sliders (first and last voxel kept) per grid axis, named by the patient
/// directions the axis runs between, and a reset.
pub fn clip_controls(edit: VrEdit) -> impl IntoView {
    let ui = ui();
    let axis = move |a: usize| {
        let label = move || {
            edit.grid.with(|g| {
                g.map(|g| {
                    let c = g.patient_from_voxel.columns[a];
                    format!("{}→{}", direction_label(scale(c, -1.0)), direction_label(c))
                })
                .unwrap_or_default()
            })
        };
        let top = move || {
            edit.grid
                .with(|g| g.map_or(0, |g| g.dims[a].saturating_sub(1)))
        };
        let value = move |max: bool| {
            edit.clip.with(|c| match c {
                Some(c) if max => c.max[a],
                Some(c) => c.min[a],
                None if max => f64::from(top()),
                None => 0.0,
            })
        };
        let on = move |max: bool| {
            move |ev: leptos::ev::Event| {
                let Ok(v) = event_target_value(&ev).parse::<f64>() else {
                    return;
                };
                let Some(g) = edit.grid.get_untracked() else {
                    return;
                };
                let now = edit.clip.get_untracked().unwrap_or(ClipBox::whole(g.dims));
                edit.clip.set(Some(set_clip(&now, g.dims, a, max, v)));
            }
        };
        view! {
            <div class="vr-clip-axis">
                <span class="vr-clip-label">{label}</span>
                <input type="range" class="min" min="0" step="1" max=move || top().to_string()
                    data-testid=format!("vr-clip-{a}-min")
                    aria-label=move || format!("{} {} {}", tr(ui.lang.get(), "clip", "ตัด"), label(), tr(ui.lang.get(), "from", "จาก"))
                    prop:value=move || value(false).to_string() on:input=on(false)/>
                <input type="range" class="max" min="0" step="1" max=move || top().to_string()
                    data-testid=format!("vr-clip-{a}-max")
                    aria-label=move || format!("{} {} {}", tr(ui.lang.get(), "clip", "ตัด"), label(), tr(ui.lang.get(), "to", "ถึง"))
                    prop:value=move || value(true).to_string() on:input=on(true)/>
                <span class="vr-clip-range" data-testid=format!("vr-clip-{a}-range")>
                    {move || format!("{:.0}–{:.0}", value(false), value(true))}
                </span>
            </div>
        }
    };
    view! {
        <details class="vr-clip" data-testid="vr-clip">
            <summary data-testid="vr-clip-toggle">{move || tr(ui.lang.get(), "Clip box", "กล่องตัด")}</summary>
            {(0..3).map(axis).collect_view()}
            <button data-testid="vr-clip-reset" on:click=move |_| edit.clip.set(None)>
                {move || tr(ui.lang.get(), "Reset clip", "ล้างการตัด")}
            </button>
        </details>
    }
}

/// The clip box's edges projected on MPR pane `p` (SVG lines in CSS pixels), while
/// something is clipped.
pub fn clip_outline(
    p: usize,
    state: RwSignal<Option<MprState>>,
    pane: RwSignal<[u32; 2]>,
    edit: VrEdit,
) -> impl IntoView {
    move || {
        let clip = edit.clip.get()?;
        let g = edit.grid.get()?;
        if is_whole(&clip, g.dims) {
            return None;
        }
        let pane_px = pane.get();
        let k = dpr();
        state.with(|st| {
            let st = st.as_ref()?;
            let lines = clip_edges(&clip, &g.patient_from_voxel)
                .into_iter()
                .map(|(a, b)| {
                    let (a, b) = (st.pixel_of(p, a, pane_px), st.pixel_of(p, b, pane_px));
                    view! {
                        <line x1=a[0] / k y1=a[1] / k x2=b[0] / k y2=b[1] / k
                            stroke="#e040fb" stroke-width="1.5" stroke-dasharray="4 3"/>
                    }
                })
                .collect_view();
            Some(view! { <g data-testid=format!("mpr-clip-{p}")>{lines}</g> })
        })
    }
}

/// The phase picker of a 4D series (`labels`: one per phase); shown only when there
/// are several.
pub fn phase_chooser(
    labels: RwSignal<Vec<String>>,
    phase: RwSignal<usize>,
    choose: Callback<usize>,
) -> impl IntoView {
    let ui = ui();
    view! {
        <Show when=move || labels.with(|l| l.len() > 1)>
            <label>
                {move || tr(ui.lang.get(), "Phase", "เฟส")}
                <select data-testid="mpr-phase"
                    prop:value=move || phase.get().to_string()
                    on:change=move |ev| {
                        if let Ok(k) = event_target_value(&ev).parse::<usize>() {
                            choose.run(k);
                        }
                    }>
                    {move || labels.get().into_iter().enumerate().map(|(k, l)| view! {
                        <option value=k.to_string()>{l}</option>
                    }).collect_view()}
                </select>
            </label>
        </Show>
    }
}
