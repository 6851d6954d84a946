//! The reading page: the series of the studies it opened, grouped by study under a
//! header, newest study first ([`crate::studies`]; thumbnails, image counts; a strip
//! on phones), the toolbar (layouts, drag tools, zoom/rotate/flip/invert/reset, cine,
//! window presets, sync scroll, reference lines, help) and a grid of independent
//! viewports (1×1 … 3×3), one of them active.
//!
//! Keys are read once here ([`crate::shortcuts`]): page-wide ones (layouts, sync,
//! reference lines, help) act here, the rest go to the active viewport as a
//! [`Command`]. A series goes into a viewport by a click (the active one), by HTML
//! drag and drop onto any viewport, or on touch by tapping the series then the viewport.
//!
//! Opening is one round trip deep: every study's study and series queries go out
//! together (already at page start for a deep link, `app.rs`), and the hanging series'
//! `/metadata` as soon as the series are known, while the viewport opens its GPU.
//! A requested study that does not exist or that the user may not see is named in a
//! message; the others open.

use leptos::prelude::*;
use rangsi_render::ViewState;
use wasm_bindgen::JsCast;

use super::api;
use super::app::{TopBar, ui};
use super::viewport::Viewport;
use crate::dates::format_da;
use crate::dicom::{Instance, Series, Study};
use crate::i18n::{Lang, Text};
use crate::layout::{self, Layout, MAX_VIEWPORTS};
use crate::route::Route;
use crate::shortcuts::{self, Action};
use crate::stack;
use crate::studies::{OpenStudies, PanelRow};
use crate::tools::ToolMode;
// measurements: the tool buttons (web/measure.rs)
use super::measure::MeasureTools;
use super::mpr::MprPanel;
use super::report::ReportPanel;

/// The drag-and-drop payload type of a series thumbnail (its index in the list).
pub const SERIES_DRAG_TYPE: &str = "application/x-rangsi-series";

/// What one viewport shows and publishes (all signals, so `Copy`).
#[derive(Clone, Copy)]
pub struct Slot {
    /// Index into the reading's series list ([`Reading::series`]).
    pub series: RwSignal<Option<usize>>,
    /// The slice on screen (sync scroll and reference lines read it).
    pub current: RwSignal<Option<Instance>>,
    /// The image → screen mapping of the last draw (physical pixels).
    pub view: RwSignal<Option<ViewState>>,
    pub cine: RwSignal<bool>,
    pub fps: RwSignal<u32>,
}

/// An action for one viewport, numbered so that the same action twice is two commands.
#[derive(Clone, Copy, PartialEq)]
pub struct Command {
    pub seq: u32,
    pub target: usize,
    pub action: Action,
}

/// The reading page's shared state.
#[derive(Clone, Copy)]
pub struct Reading {
    /// Every series of the open studies, in panel order ([`OpenStudies::series`]).
    pub series: RwSignal<Vec<Series>>,
    pub layout: RwSignal<Layout>,
    pub active: RwSignal<usize>,
    pub slots: [Slot; MAX_VIEWPORTS],
    pub tool: RwSignal<ToolMode>,
    pub sync: RwSignal<bool>,
    pub reference_lines: RwSignal<bool>,
    pub help: RwSignal<bool>,
    /// A series tapped on a touch screen, waiting for a viewport to be tapped.
    pub pending: RwSignal<Option<usize>>,
    pub command: RwSignal<Option<Command>>,
    /// The series shown in MPR instead of the viewport grid.
    pub mpr: RwSignal<Option<usize>>,
    /// The report panel is open beside the images.
    pub report: RwSignal<bool>,
}

impl Reading {
    fn new() -> Reading {
        Reading {
            series: RwSignal::new(Vec::new()),
            layout: RwSignal::new(Layout::One),
            active: RwSignal::new(0),
            slots: std::array::from_fn(|_| Slot {
                series: RwSignal::new(None),
                current: RwSignal::new(None),
                view: RwSignal::new(None),
                cine: RwSignal::new(false),
                fps: RwSignal::new(stack::DEFAULT_CINE_FPS),
            }),
            tool: RwSignal::new(ToolMode::WindowLevel),
            sync: RwSignal::new(false),
            reference_lines: RwSignal::new(true),
            help: RwSignal::new(false),
            pending: RwSignal::new(None),
            command: RwSignal::new(None),
            mpr: RwSignal::new(None),
            report: RwSignal::new(false),
        }
    }

    /// Opens the active viewport's series in MPR, or goes back to the grid.
    pub fn toggle_mpr(&self) {
        if self.mpr.get_untracked().is_some() {
            self.mpr.set(None);
        } else {
            let slot = self.slots[self.active.get_untracked()];
            self.mpr.set(slot.series.get_untracked());
        }
    }

    /// Sends `action` to the active viewport.
    pub fn send(&self, action: Action) {
        let target = self.active.get_untracked();
        let seq = self
            .command
            .with_untracked(|c| c.map_or(0, |c| c.seq.wrapping_add(1)));
        self.command.set(Some(Command {
            seq,
            target,
            action,
        }));
    }

    /// Makes viewport `slot` the active one. A no-op when it already is: every wheel
    /// step and pointer press calls this, and a set signal wakes all its readers
    /// (each series item, the toolbar) even when the value is the same.
    pub fn activate(&self, slot: usize) {
        if self.active.get_untracked() != slot {
            self.active.set(slot);
        }
    }

    /// Puts series `index` into viewport `slot` and makes it the active one.
    pub fn assign(&self, slot: usize, index: usize) {
        if let Some(s) = self.slots.get(slot) {
            s.series.set(Some(index));
        }
        self.active.set(slot);
        self.pending.set(None);
    }

    fn set_layout(&self, layout: Layout) {
        let count = layout.count();
        // Newly shown empty viewports get the study's other series, as when it opened.
        let first = self.slots[0].series.get_untracked();
        let n = self.series.with_untracked(Vec::len);
        let fill = layout::initial_assignment(first, n, count);
        for (k, slot) in self.slots.iter().enumerate().take(count) {
            if k > 0 && slot.series.get_untracked().is_none() {
                slot.series.set(fill.get(k).copied().flatten());
            }
        }
        self.active.update(|a| *a = layout.clamp_active(*a));
        self.layout.set(layout);
    }
}

fn is_form_field(ev: &web_sys::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
}

#[component]
pub fn ViewerPage(study_uids: Vec<String>) -> impl IntoView {
    let ui = ui();
    let opened = RwSignal::new(OpenStudies::default());
    let loading = RwSignal::new(true);
    let error = RwSignal::new(None::<String>);
    let reading = Reading::new();
    // Cleared by the report panel once it is up (the page may mount twice on the way).
    if ui.open_report.get_untracked() {
        reading.report.set(true);
    }
    let drawer_open = RwSignal::new(false);
    // The decode workers load their wasm while the queries are on their way.
    if let Err(e) = super::workers::DecodePool::get() {
        error.set(Some(e));
    }
    for uid in &study_uids {
        api::prefetch_study(uid);
    }
    let shared_uids = {
        let uids = study_uids.clone();
        Signal::derive(move || uids.clone())
    };
    leptos::task::spawn_local(async move {
        let answers =
            futures::future::join_all(study_uids.iter().map(|uid| api::open_study(uid))).await;
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for answer in answers {
            match answer {
                Ok(Some(study)) => found.push(study),
                Ok(None) => {}
                Err(api::CallError::Unauthenticated) => {
                    ui.me.set(None);
                    return;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let open = OpenStudies::arrange(&study_uids, found);
        if let Some(s) = open.first.and_then(|i| open.series.get(i)) {
            api::prefetch_metadata(&s.study_uid, &s.series_uid);
        }
        let mut problems = failures;
        if !open.missing.is_empty() {
            problems.push(format!(
                "{}: {}",
                ui.t(Text::StudyNotFound),
                open.missing.join(", ")
            ));
        }
        if !problems.is_empty() {
            error.set(Some(problems.join("; ")));
        }
        let fill = layout::initial_assignment(open.first, open.series.len(), MAX_VIEWPORTS);
        reading.series.set(open.series.clone());
        opened.set(open);
        loading.set(false);
        // Only the shown viewports load; the rest keep their series for later.
        reading.slots[0].series.set(fill[0]);
    });

    // The study of the series in the active viewport (else the newest) names the patient.
    let shown_study = move || {
        let i = reading.slots[reading.active.get()].series.get();
        opened.with(|o| {
            i.and_then(|i| o.study_of(i))
                .or_else(|| o.groups.first().map(|g| &g.study))
                .cloned()
        })
    };

    // The report panel follows the shown study, and stays mounted (unsaved text kept)
    // while the study does not change.
    let report_study = Memo::new(move |_| shown_study());

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || is_form_field(&ev) {
            return;
        }
        if ev.key() == "Escape" && reading.help.get_untracked() {
            reading.help.set(false);
            ev.prevent_default();
            return;
        }
        let Some(action) = shortcuts::action_for_key(&ev.key(), &ev.code(), ev.shift_key()) else {
            return;
        };
        ev.prevent_default();
        match action {
            Action::Layout(l) => reading.set_layout(l),
            Action::Sync => reading.sync.update(|s| *s = !*s),
            Action::ReferenceLines => reading.reference_lines.update(|s| *s = !*s),
            Action::Help => reading.help.update(|h| *h = !*h),
            Action::Tool(t) => reading.tool.set(t),
            other => reading.send(other),
        }
    });
    on_cleanup(move || keys.remove());

    let last_pointer_touch = RwSignal::new(false);

    view! {
        <TopBar>
            // A share link's guest has no study list to go back to.
            <Show when=move || !super::sharing::is_guest()>
                <button class="back" data-testid="back-to-studies"
                    on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                    "← " <span class="label">{move || ui.t(Text::BackToStudies)}</span>
                </button>
            </Show>
            <span class="patient" data-testid="viewer-patient">
                {move || shown_study().map(|s| s.patient_name.display()).unwrap_or_default()}
            </span>
            // Referral and sharing: for signed-in users, not for a share link's guest.
            <Show when=move || !super::sharing::is_guest()>
                <super::sharing::ShareButton study_uids=shared_uids/>
                <super::sharing::ReferButton study_uids=shared_uids
                    patient_id=Signal::derive(move || shown_study().map(|s| s.patient_id).unwrap_or_default())/>
            </Show>
        </TopBar>
        <Toolbar reading=reading drawer_open=drawer_open/>
        <main class="reading" data-testid="reading"
            data-layout=move || reading.layout.get().code()
            data-active=move || reading.active.get().to_string()
            data-tool=move || reading.tool.get().code()
            data-sync=move || reading.sync.get().to_string()>
            <aside class="series-panel" data-testid="series-panel" class:open=move || drawer_open.get()>
                <Show when=move || error.get().is_some()>
                    <p class="error" data-testid="deeplink-error">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <Show when=move || loading.get()>
                    <p class="dim">{move || ui.t(Text::Loading)}</p>
                </Show>
                {move || opened.with(|o| o.rows().into_iter().map(|row| match row {
                    PanelRow::Study(k) => study_header(&o.groups[k].study, o.group_series(k)).into_any(),
                    PanelRow::Series(i) => series_item(reading, drawer_open, last_pointer_touch, i, &o.series[i]).into_any(),
                }).collect_view())}
            </aside>
            <Show when=move || reading.mpr.get().is_none() fallback=move || {
                let shown = reading.mpr.get().and_then(|i| {
                    let series = reading.series.with(|l| l.get(i).cloned())?;
                    let study_uid = opened.with(|o| o.study_of(i).map(|s| s.study_uid.clone()))?;
                    Some((study_uid, series))
                });
                shown.map(|(study_uid, series)| view! {
                    <MprPanel study_uid=study_uid series=series
                        close=Callback::new(move |_| reading.mpr.set(None))/>
                })
            }>
            <div class="viewport-grid" data-testid="viewport-grid"
                style:grid-template-rows=move || format!("repeat({}, minmax(0, 1fr))", reading.layout.get().grid().0)
                style:grid-template-columns=move || format!("repeat({}, minmax(0, 1fr))", reading.layout.get().grid().1)>
                <For each=move || 0..reading.layout.get().count() key=|k| *k let:cell>
                    <Viewport cell=cell reading=reading study=Signal::derive(move || {
                        let i = reading.slots[cell].series.get()?;
                        opened.with(|o| o.study_of(i).cloned())
                    })/>
                </For>
            </div>
            </Show>
            <Show when=move || reading.report.get()>
                {move || report_study.get().map(|study| view! {
                    <ReportPanel study=study close=Callback::new(move |_| reading.report.set(false))/>
                })}
            </Show>
            <Show when=move || reading.pending.get().is_some()>
                <div class="drop-note" data-testid="drop-note">{move || ui.t(Text::DropHere)}</div>
            </Show>
        </main>
        <Show when=move || reading.help.get()>
            <HelpOverlay reading=reading/>
        </Show>
    }
}

/// A study's header in the series panel: date, description, modalities.
fn study_header(study: &Study, series: &[Series]) -> impl IntoView + use<> {
    let ui = ui();
    let date = study.study_date.clone();
    let mut modalities = study.modalities.clone();
    if modalities.is_empty() {
        for s in series {
            if !s.modality.is_empty() && !modalities.contains(&s.modality) {
                modalities.push(s.modality.clone());
            }
        }
    }
    view! {
        <div class="study-header" data-testid="study-header" data-study-uid=study.study_uid.clone()>
            <span class="study-date" data-testid="study-header-date">
                {move || format_da(&date, ui.lang.get(), ui.era.get())}
            </span>
            <span class="study-mods">{modalities.join(" ")}</span>
            <span class="study-desc" data-testid="study-header-description">{study.description.clone()}</span>
        </div>
    }
}

/// One series of the panel (its index `i` in [`Reading::series`]): a click puts it in
/// the active viewport, a drag onto any viewport, a tap then a tap on a viewport.
fn series_item(
    reading: Reading,
    drawer_open: RwSignal<bool>,
    last_pointer_touch: RwSignal<bool>,
    i: usize,
    s: &Series,
) -> impl IntoView + use<> {
    let ui = ui();
    let src = api::series_thumbnail_url(&s.study_uid, &s.series_uid);
    // A structured report (the radiology report Rangsi stores on signing, or another
    // system's) has no pixels: it opens the report panel instead of a viewport.
    let document = s.modality == "SR";
    let shown_in_active = move || reading.slots[reading.active.get()].series.get() == Some(i);
    view! {
        <button class="series-item" data-testid="series-item"
            data-series-uid=s.series_uid.clone()
            data-study-uid=s.study_uid.clone()
            draggable="true"
            class:active=shown_in_active
            class:pending=move || reading.pending.get() == Some(i)
            on:pointerdown=move |ev: web_sys::PointerEvent| {
                last_pointer_touch.set(ev.pointer_type() == "touch");
            }
            on:dragstart=move |ev: web_sys::DragEvent| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data(SERIES_DRAG_TYPE, &i.to_string());
                    let _ = dt.set_data("text/plain", &i.to_string());
                    dt.set_effect_allowed("copy");
                }
            }
            on:click=move |_| {
                if document {
                    reading.report.set(true);
                    drawer_open.set(false);
                    return;
                }
                reading.assign(reading.active.get_untracked(), i);
                // On touch, the next tapped viewport takes it too.
                if last_pointer_touch.get_untracked() && reading.layout.get_untracked().count() > 1 {
                    reading.pending.set(Some(i));
                }
                drawer_open.set(false);
            }>
            {if document {
                view! { <span class="series-doc" aria-hidden="true"><svg viewBox="0 0 24 24" width="28" height="28"><path fill="currentColor" d="M6 2h8l6 6v14H6zm7 1.5V9h5.5zM8 12h8v1.5H8zm0 3h8v1.5H8zm0 3h5v1.5H8z"/></svg></span> }.into_any()
            } else {
                view! { <img src=src alt="" width="96" height="96" loading="lazy" draggable="false"/> }.into_any()
            }}
            <span class="series-text">
                <span class="series-title">
                    {format!("{} {}", s.modality, s.number.map(|n| n.to_string()).unwrap_or_default())}
                </span>
                <span class="series-desc">{s.description.clone()}</span>
                <span class="series-count" data-testid="series-count">
                    {s.instance_count.map(|n| n.to_string()).unwrap_or_default()}
                    " "
                    {move || ui.t(Text::Images)}
                </span>
            </span>
        </button>
    }
}

/// The reading toolbar.
#[component]
fn Toolbar(reading: Reading, drawer_open: RwSignal<bool>) -> impl IntoView {
    let ui = ui();
    let active_slot = move || reading.slots[reading.active.get()];
    // The file's windows of the slice on screen: a memo, so that scrolling through a
    // series (same windows on every slice) does not rebuild the menu's options.
    let file_windows = Memo::new(move |_| {
        active_slot()
            .current
            .with(|c| c.as_ref().map(|i| i.windows.clone()).unwrap_or_default())
    });
    let tool_button = move |mode: ToolMode, text: Text, icon: &'static str| {
        view! {
            <button data-testid=format!("tool-{}", mode.code())
                class:active=move || reading.tool.get() == mode
                aria-pressed=move || (reading.tool.get() == mode).to_string()
                title=move || ui.t(text)
                on:click=move |_| reading.tool.set(mode)>
                <span class="icon" aria-hidden="true">{icon}</span>
            </button>
        }
    };
    let act = move |action: Action, text: Text, icon: &'static str, id: &'static str| {
        view! {
            <button data-testid=id title=move || ui.t(text) on:click=move |_| reading.send(action)>
                <span class="icon" aria-hidden="true">{icon}</span>
            </button>
        }
    };
    let on_window_menu = move |ev: leptos::ev::Event| {
        let Some(select) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
        else {
            return;
        };
        let value = select.value();
        if let Some(k) = value
            .strip_prefix('p')
            .and_then(|k| k.parse::<usize>().ok())
        {
            reading.send(Action::Preset(k));
        } else if let Some(k) = value
            .strip_prefix('f')
            .and_then(|k| k.parse::<usize>().ok())
            && let Some(w) = active_slot()
                .current
                .with_untracked(|c| c.as_ref().and_then(|i| i.windows.get(k).cloned()))
        {
            reading.send(Action::Window {
                center: w.center,
                width: w.width,
            });
        }
        select.set_value("");
    };
    view! {
        <nav class="reading-toolbar" role="toolbar" data-testid="reading-toolbar">
            <button class="series-drawer" data-testid="series-drawer"
                title=move || ui.t(Text::SeriesPanel)
                on:click=move |_| drawer_open.update(|o| *o = !*o)>
                <span class="icon" aria-hidden="true">"☰"</span>
            </button>
            <span class="group" title=move || ui.t(Text::Layout)>
                {Layout::ALL.into_iter().map(|l| view! {
                    <button data-testid=format!("layout-{}", l.code())
                        class:active=move || reading.layout.get() == l
                        title=move || format!("{} {}", ui.t(Text::Layout), l.code().replace('x', "×"))
                        on:click=move |_| reading.set_layout(l)>
                        {l.code().replace('x', "×")}
                    </button>
                }).collect_view()}
            </span>
            <span class="group">
                {tool_button(ToolMode::WindowLevel, Text::ToolWindowLevel, "◐")}
                {tool_button(ToolMode::Pan, Text::ToolPan, "✥")}
                {tool_button(ToolMode::Zoom, Text::ToolZoom, "⊕")}
                {tool_button(ToolMode::Scroll, Text::ToolScroll, "⇕")}
            </span>
            // measurements: probe, length, angle, Cobb, ellipse, rectangle
            <MeasureTools tool=reading.tool/>
            <span class="group">
                {act(Action::Zoom(1), Text::KeyZoom, "+", "zoom-in")}
                {act(Action::Zoom(-1), Text::KeyZoom, "−", "zoom-out")}
                {act(Action::Fit, Text::Fit, "⤢", "fit")}
                {act(Action::OneToOne, Text::OneToOne, "1:1", "one-to-one")}
                {act(Action::Rotate(-1), Text::RotateLeft, "⟲", "rotate-left")}
                {act(Action::Rotate(1), Text::RotateRight, "⟳", "rotate-right")}
                {act(Action::FlipHorizontal, Text::FlipHorizontal, "⇋", "flip-h")}
                {act(Action::FlipVertical, Text::FlipVertical, "⥯", "flip-v")}
                {act(Action::Invert, Text::Invert, "◑", "invert")}
                {act(Action::Reset, Text::Reset, "↺", "reset")}
            </span>
            <span class="group cine">
                <button data-testid="cine-toggle" title=move || ui.t(Text::Cine)
                    class:active=move || active_slot().cine.get()
                    on:click=move |_| reading.send(Action::Cine)>
                    {move || if active_slot().cine.get() { "⏸" } else { "▶" }}
                </button>
                <button data-testid="fps-down" title=move || ui.t(Text::KeyFps) on:click=move |_| reading.send(Action::Fps(-1))>"−"</button>
                <span class="fps" data-testid="cine-fps">{move || format!("{} fps", active_slot().fps.get())}</span>
                <button data-testid="fps-up" title=move || ui.t(Text::KeyFps) on:click=move |_| reading.send(Action::Fps(1))>"+"</button>
            </span>
            <select data-testid="window-menu" title=move || ui.t(Text::WindowPresets) on:change=on_window_menu>
                <option value="">{move || ui.t(Text::WindowPresets)}</option>
                <optgroup label="CT">
                    {stack::CT_PRESETS.iter().enumerate().map(|(k, p)| view! {
                        <option value=format!("p{k}")>
                            {move || format!("{} {} (W {:.0} L {:.0})", p.key,
                                if ui.lang.get() == Lang::Th { p.name_th } else { p.name_en },
                                p.window.width, p.window.center)}
                        </option>
                    }).collect_view()}
                </optgroup>
                <optgroup label=move || ui.t(Text::FileWindows)>
                    {move || file_windows.get()
                        .into_iter().enumerate().map(|(k, w)| {
                            let label = if w.explanation.is_empty() {
                                format!("9 W {:.0} L {:.0}", w.width, w.center)
                            } else {
                                format!("9 {} (W {:.0} L {:.0})", w.explanation, w.width, w.center)
                            };
                            view! { <option value=format!("f{k}")>{label}</option> }
                        }).collect_view()}
                </optgroup>
            </select>
            <span class="group">
                <button data-testid="sync-toggle" title=move || ui.t(Text::KeySync)
                    class:active=move || reading.sync.get()
                    aria-pressed=move || reading.sync.get().to_string()
                    on:click=move |_| reading.sync.update(|s| *s = !*s)>
                    {move || ui.t(Text::SyncScroll)}
                </button>
                <button data-testid="reflines-toggle" title=move || ui.t(Text::KeyReferenceLines)
                    class:active=move || reading.reference_lines.get()
                    aria-pressed=move || reading.reference_lines.get().to_string()
                    on:click=move |_| reading.reference_lines.update(|s| *s = !*s)>
                    {move || ui.t(Text::ReferenceLines)}
                </button>
                <button data-testid="mpr-toggle" title="MPR (M)"
                    class:active=move || reading.mpr.get().is_some()
                    aria-pressed=move || reading.mpr.get().is_some().to_string()
                    on:click=move |_| reading.toggle_mpr()>
                    "MPR"
                </button>
                <button data-testid="report-toggle" title=move || ui.t(Text::Report)
                    class:active=move || reading.report.get()
                    aria-pressed=move || reading.report.get().to_string()
                    on:click=move |_| reading.report.update(|r| *r = !*r)>
                    <span class="label">{move || ui.t(Text::Report)}</span>
                </button>
                <button data-testid="help-open" title=move || ui.t(Text::KeyHelp)
                    on:click=move |_| reading.help.update(|h| *h = !*h)>"?"</button>
            </span>
        </nav>
    }
}

/// The "?" overlay: every key, in the current language.
#[component]
fn HelpOverlay(reading: Reading) -> impl IntoView {
    let ui = ui();
    view! {
        <div class="help-overlay" data-testid="help-overlay" role="dialog"
            on:click=move |_| reading.help.set(false)>
            <div class="help-card" on:click=|ev| ev.stop_propagation()>
                <h2>{move || ui.t(Text::Shortcuts)}</h2>
                <table>
                    <tbody>
                        {shortcuts::HELP.iter().map(|(keys, text)| view! {
                            <tr><th><kbd>{*keys}</kbd></th><td>{move || ui.t(*text)}</td></tr>
                        }).collect_view()}
                        <tr><th><kbd>"☝ ✌"</kbd></th><td>{move || ui.t(Text::KeyTouch)}</td></tr>
                    </tbody>
                </table>
                <button data-testid="help-close" on:click=move |_| reading.help.set(false)>
                    {move || ui.t(Text::Close)}
                </button>
            </div>
        </div>
    }
}
