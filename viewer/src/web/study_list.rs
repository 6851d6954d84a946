//! The study list: search by patient name (Thai or Latin, fuzzy), HN / patient ID,
//! accession, modality, study date range (quick ranges: today, yesterday, 7 and 30
//! days) and hospital; columns sortable by a click on their header; pages with a
//! total count (`GET /api/studies`). Thumbnails load lazily; badge slots (reported,
//! referred, consult) show only when set. Keyboard: `/` focuses the search, Up/Down
//! move the selection, Enter opens it. The last search is remembered for the session.
//! At phone width the rows are cards (CSS).
//!
//! Also the landing of IHE IID `requestType=PATIENT` links: [`PatientStudies`] opens
//! the patient's studies together in the viewer (the viewer itself says which studies
//! of a `/viewer?StudyInstanceUIDs=…` link could not be opened).

use leptos::html;
use leptos::prelude::*;
use rangsi_wire::api::{HospitalRef, StudyListRow, StudySortKey};

use super::api;
use super::app::{TopBar, ui};
use crate::dates::{Date, format_da};
use crate::dicom::PersonName;
use crate::i18n::Text;
use crate::qido::{PAGE_SIZES, QuickRange, StudySearch};
use crate::route::Route;

const MODALITIES: &[&str] = &[
    "CT", "MR", "CR", "DX", "US", "MG", "XA", "RF", "NM", "PT", "OT",
];

/// Where the last search is remembered (`sessionStorage`: this tab, this session).
const SAVED_SEARCH_KEY: &str = "rangsi.studySearch";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn saved_search() -> StudySearch {
    session_storage()
        .and_then(|s| s.get_item(SAVED_SEARCH_KEY).ok().flatten())
        .map(|saved| StudySearch::from_saved(&saved))
        .unwrap_or_default()
}

fn save_search(search: &StudySearch) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(SAVED_SEARCH_KEY, &search.to_saved());
    }
}

/// Today in the browser's time zone.
fn today() -> Date {
    let now = js_sys::Date::new_0();
    Date {
        year: now.get_full_year() as u16,
        month: (now.get_month() + 1) as u8,
        day: now.get_date() as u8,
    }
}

/// A stored PN (`Alphabetic=Ideographic=Phonetic`) for display.
fn person_name(pn: &str) -> String {
    let mut groups = pn.split('=');
    PersonName {
        alphabetic: groups.next().unwrap_or("").to_owned(),
        ideographic: groups.next().unwrap_or("").to_owned(),
        phonetic: groups.next().unwrap_or("").to_owned(),
    }
    .display()
}

/// `HHMMSS` to `HH:MM`.
fn hhmm(tm: &str) -> String {
    let t: String = tm.chars().filter(char::is_ascii_digit).take(4).collect();
    if t.len() == 4 {
        format!("{}:{}", &t[0..2], &t[2..4])
    } else {
        String::new()
    }
}

fn is_typing_target(ev: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
}

#[component]
pub fn StudyList(patient_id: Option<String>) -> impl IntoView {
    let ui = ui();
    let for_patient = patient_id.clone();
    let initial = match &patient_id {
        Some(id) => StudySearch {
            exact_patient: Some(id.clone()),
            ..Default::default()
        },
        None => saved_search(),
    };
    let form = RwSignal::new(initial);
    let rows = RwSignal::new(Vec::<StudyListRow>::new());
    let total = RwSignal::new(0u64);
    let selected = RwSignal::new(0usize);
    let state = RwSignal::new(SearchState::Idle);
    let hospitals = RwSignal::new(Vec::<HospitalRef>::new());
    // Answers to earlier searches that arrive late are dropped.
    let generation = StoredValue::new(0u64);
    let name_input = NodeRef::<html::Input>::new();

    leptos::task::spawn_local(async move {
        if let Ok(list) = api::study_hospitals().await {
            hospitals.set(list);
        }
    });

    let run = move || {
        let search = form.get_untracked();
        if search.exact_patient.is_none() {
            save_search(&search);
        }
        let this = generation.get_value() + 1;
        generation.set_value(this);
        state.set(SearchState::Busy);
        leptos::task::spawn_local(async move {
            let result = api::study_page(&search).await;
            if generation.get_value() != this {
                return;
            }
            match result {
                Ok(page) => {
                    total.set(page.total);
                    rows.set(page.rows);
                    selected.set(0);
                    state.set(SearchState::Done);
                }
                Err(api::CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => state.set(SearchState::Failed(e.to_string())),
            }
        });
    };
    run();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        form.update(|f| f.page = 0);
        run();
    };
    let page = move |delta: i32| {
        form.update(|f| f.page = (f.page as i32 + delta).max(0) as u32);
        run();
    };
    let field = move |set: fn(&mut StudySearch, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            form.update(|f| set(f, v));
        }
    };
    // Choices that take effect at once (no need to press Search).
    let choose = move |set: fn(&mut StudySearch, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            form.update(|f| {
                set(f, v);
                f.page = 0;
            });
            run();
        }
    };
    let quick = move |range: QuickRange| {
        let (from, to) = range.range(today());
        form.update(|f| {
            f.date_from = from;
            f.date_to = to;
            f.page = 0;
        });
        run();
    };
    let clear = move |_| {
        form.update(|f| {
            let keep = (f.exact_patient.clone(), f.page_size);
            *f = StudySearch {
                exact_patient: keep.0,
                page_size: keep.1,
                ..Default::default()
            };
        });
        run();
    };
    let sort_by = move |key: StudySortKey| {
        form.update(|f| f.sort_by(key));
        run();
    };
    let open = move |study_uid: String| {
        ui.navigate(Route::Viewer {
            study_uids: vec![study_uid],
        })
    };

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let typing = is_typing_target(&ev);
        match ev.key().as_str() {
            "/" if !typing => {
                ev.prevent_default();
                if let Some(input) = name_input.get_untracked() {
                    let _ = input.focus();
                    input.select();
                }
            }
            "ArrowDown" | "ArrowUp" if !typing => {
                ev.prevent_default();
                let n = rows.with_untracked(Vec::len);
                if n > 0 {
                    let down = ev.key() == "ArrowDown";
                    selected.update(|i| {
                        *i = if down {
                            (*i + 1).min(n - 1)
                        } else {
                            i.saturating_sub(1)
                        }
                    });
                    scroll_selected_into_view();
                }
            }
            "Enter" if !typing => {
                let uid = rows.with_untracked(|r| {
                    r.get(selected.get_untracked()).map(|s| s.study_uid.clone())
                });
                if let Some(uid) = uid {
                    ev.prevent_default();
                    open(uid);
                }
            }
            "Escape" if typing => {
                if let Some(el) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.active_element())
                {
                    use wasm_bindgen::JsCast;
                    if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                        let _ = el.blur();
                    }
                }
            }
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    let many_hospitals = move || hospitals.with(|h| h.len() > 1);
    let header = move |key: StudySortKey, text: Text, class: &'static str| {
        let aria = move || {
            form.with(|f| match (f.sort.key == key, f.sort.descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            })
        };
        let arrow = move || {
            form.with(|f| match (f.sort.key == key, f.sort.descending) {
                (false, _) => "",
                (true, true) => " ▼",
                (true, false) => " ▲",
            })
        };
        view! {
            <th class=class aria-sort=aria>
                <button type="button" class="sort" data-testid=format!("sort-{}", key.param())
                    on:click=move |_| sort_by(key)>
                    {move || ui.t(text)} {arrow}
                </button>
            </th>
        }
    };
    let title = {
        let for_patient = for_patient.clone();
        move || match &for_patient {
            Some(id) => format!("{} {id}", ui.t(Text::PatientStudies)),
            None => ui.t(Text::Studies).to_owned(),
        }
    };

    view! {
        <TopBar>
            <h1 class="page-title">{title}</h1>
            {for_patient.is_some().then(|| view! {
                <button type="button" data-testid="all-studies"
                    on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                    {move || ui.t(Text::AllStudies)}
                </button>
            })}
        </TopBar>
        <main class="studies">
            <form class="search" on:submit=submit>
                <label>
                    <span>{move || ui.t(Text::PatientName)}</span>
                    <input data-testid="search-name" type="search" lang="th" node_ref=name_input
                        prop:value=move || form.with(|f| f.patient_name.clone())
                        on:input=field(|f, v| f.patient_name = v)/>
                </label>
                <label>
                    <span>{move || ui.t(Text::PatientId)}</span>
                    <input data-testid="search-id" type="search"
                        prop:value=move || form.with(|f| f.patient_id.clone())
                        on:input=field(|f, v| f.patient_id = v)/>
                </label>
                <label>
                    <span>{move || ui.t(Text::Accession)}</span>
                    <input data-testid="search-accession" type="search"
                        prop:value=move || form.with(|f| f.accession.clone())
                        on:input=field(|f, v| f.accession = v)/>
                </label>
                <label>
                    <span>{move || ui.t(Text::Modality)}</span>
                    <select data-testid="search-modality" on:change=choose(|f, v| f.modality = v)
                        prop:value=move || form.with(|f| f.modality.clone())>
                        <option value="">{move || ui.t(Text::AnyModality)}</option>
                        {MODALITIES.iter().map(|m| view! { <option value=*m>{*m}</option> }).collect_view()}
                    </select>
                </label>
                <Show when=many_hospitals>
                    <label>
                        <span>{move || ui.t(Text::Hospital)}</span>
                        <select data-testid="search-hospital" on:change=choose(|f, v| f.hospital = v)
                            prop:value=move || form.with(|f| f.hospital.clone())>
                            <option value="">{move || ui.t(Text::AnyHospital)}</option>
                            {move || hospitals.get().into_iter().map(|h| view! {
                                <option value=h.code.clone()>{h.name.clone()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                </Show>
                <label>
                    <span>{move || ui.t(Text::DateFrom)}</span>
                    <input data-testid="search-from" type="date"
                        prop:value=move || form.with(|f| f.date_from.clone())
                        on:input=field(|f, v| f.date_from = v)/>
                    <small class="era-date" data-testid="search-from-era">
                        {move || form.with(|f| Date::da_from_iso(&f.date_from))
                            .map(|d| format_da(&d, ui.lang.get(), ui.era.get()))
                            .unwrap_or_default()}
                    </small>
                </label>
                <label>
                    <span>{move || ui.t(Text::DateTo)}</span>
                    <input data-testid="search-to" type="date"
                        prop:value=move || form.with(|f| f.date_to.clone())
                        on:input=field(|f, v| f.date_to = v)/>
                    <small class="era-date" data-testid="search-to-era">
                        {move || form.with(|f| Date::da_from_iso(&f.date_to))
                            .map(|d| format_da(&d, ui.lang.get(), ui.era.get()))
                            .unwrap_or_default()}
                    </small>
                </label>
                <div class="quick-ranges">
                    {QuickRange::ALL.iter().map(|&r| {
                        let (id, text) = match r {
                            QuickRange::Today => ("quick-today", Text::QuickToday),
                            QuickRange::Yesterday => ("quick-yesterday", Text::QuickYesterday),
                            QuickRange::Last7Days => ("quick-7", Text::QuickWeek),
                            QuickRange::Last30Days => ("quick-30", Text::QuickMonth),
                        };
                        view! {
                            <button type="button" class="chip-button" data-testid=id on:click=move |_| quick(r)>
                                {move || ui.t(text)}
                            </button>
                        }
                    }).collect_view()}
                </div>
                <div class="search-actions">
                    <button data-testid="search-submit" type="submit">{move || ui.t(Text::Search)}</button>
                    <button data-testid="search-clear" type="button" on:click=clear>{move || ui.t(Text::ClearSearch)}</button>
                </div>
            </form>
            <p class="status" data-testid="search-status">
                {move || match state.get() {
                    SearchState::Busy => ui.t(Text::Searching).to_owned(),
                    SearchState::Failed(e) => format!("{}: {e}", ui.t(Text::Error)),
                    SearchState::Done if rows.with(Vec::is_empty) => ui.t(Text::NoStudies).to_owned(),
                    _ => String::new(),
                }}
                <span class="keys-hint">{move || ui.t(Text::ListKeys)}</span>
            </p>
            <table class="study-table" data-testid="study-table" class:multi-hospital=many_hospitals>
                <thead>
                    <tr>
                        <th class="thumb"></th>
                        {header(StudySortKey::Name, Text::PatientName, "")}
                        {header(StudySortKey::Id, Text::PatientId, "")}
                        {header(StudySortKey::Date, Text::DateTime, "")}
                        {header(StudySortKey::Modality, Text::Modality, "")}
                        {header(StudySortKey::Description, Text::Description, "wide")}
                        {header(StudySortKey::Accession, Text::Accession, "wide")}
                        {header(StudySortKey::Hospital, Text::Hospital, "hospital-col")}
                        {header(StudySortKey::Images, Text::Images, "num")}
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get().into_iter().enumerate()
                        key=|(i, s)| (*i, s.study_uid.clone(), s.hospital.code.clone()) let:item>
                        {
                            let (i, study) = item;
                            view! { <StudyRow study=study index=i selected=selected on_open=open/> }
                        }
                    </For>
                </tbody>
            </table>
            <nav class="pager">
                <button data-testid="page-prev" disabled=move || form.with(|f| f.page == 0) on:click=move |_| page(-1)>
                    {move || ui.t(Text::Previous)}
                </button>
                <span data-testid="page-info">
                    {move || {
                        let (first, last, all) = form.with(|f| f.shown_range(rows.with(Vec::len), total.get()));
                        format!("{first}–{last} {} {all}", ui.t(Text::RangeOf))
                    }}
                </span>
                <button data-testid="page-next" disabled=move || !form.with(|f| f.has_next(total.get()))
                    on:click=move |_| page(1)>
                    {move || ui.t(Text::Next)}
                </button>
                <label class="page-size">
                    <span>{move || ui.t(Text::PerPage)}</span>
                    <select data-testid="page-size" prop:value=move || form.with(|f| f.page_size.to_string())
                        on:change=choose(|f, v| f.page_size = v.parse().unwrap_or(crate::qido::PAGE_SIZE))>
                        {PAGE_SIZES.iter().map(|n| view! { <option value=n.to_string()>{n.to_string()}</option> }).collect_view()}
                    </select>
                </label>
            </nav>
        </main>
    }
}

fn scroll_selected_into_view() {
    // After the class changed: the next animation frame is soon enough and cheap.
    leptos::prelude::request_animation_frame(|| {
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(".study-row.selected").ok().flatten())
        {
            el.scroll_into_view_with_bool(false);
        }
    });
}

#[derive(Debug, Clone, PartialEq)]
enum SearchState {
    Idle,
    Busy,
    Done,
    Failed(String),
}

#[component]
fn StudyRow(
    study: StudyListRow,
    index: usize,
    selected: RwSignal<usize>,
    on_open: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let ui = ui();
    let uid = study.study_uid.clone();
    let date = study.study_date.clone();
    let time = hhmm(&study.study_time);
    let badges = study.badges.clone();
    let badge = move |on: bool, class: &'static str, text: Text| {
        on.then(|| view! { <span class=format!("badge {class}") data-testid=format!("badge-{class}")>{move || ui.t(text)}</span> })
    };
    view! {
        <tr class="study-row" data-testid="study-row" data-study-uid=study.study_uid.clone()
            class:selected=move || selected.get() == index
            aria-selected=move || (selected.get() == index).to_string()
            on:click=move |_| {
                selected.set(index);
                on_open(uid.clone());
            }>
            <td class="thumb">
                <img loading="lazy" decoding="async" alt="" width="48" height="48"
                    src=api::study_thumbnail_url(&study.study_uid)/>
            </td>
            <td class="name" data-testid="study-patient-name">
                {person_name(&study.patient_name)}
                <span class="badges">
                    {badge(badges.reported, "reported", Text::BadgeReported)}
                    {badge(badges.referred, "referred", Text::BadgeReferred)}
                    {badge(badges.consult_requested, "consult", Text::BadgeConsult)}
                </span>
            </td>
            <td class="pid" data-testid="study-patient-id">{study.patient_id.clone()}</td>
            <td class="date" data-testid="study-date">
                {move || format_da(&date, ui.lang.get(), ui.era.get())}
                " "
                <span class="time">{time.clone()}</span>
            </td>
            <td class="mods" data-testid="study-modalities">
                {study.modalities.iter().map(|m| view! { <span class="chip">{m.clone()}</span> }).collect_view()}
            </td>
            <td class="wide desc" data-testid="study-description">{study.description.clone()}</td>
            <td class="wide acc">{study.accession.clone()}</td>
            <td class="hospital-col" data-testid="study-hospital" title=study.hospital.code.clone()>
                {study.hospital.name.clone()}
            </td>
            <td class="num" data-testid="study-images">
                {study.images.to_string()}
                <span class="unit">" " {move || ui.t(Text::Images)}</span>
            </td>
        </tr>
    }
}

/// The most studies an IID `requestType=PATIENT` link opens together (the newest).
const PATIENT_STUDIES_LIMIT: u32 = 50;

/// IID `requestType=PATIENT`: the patient's studies the user may see, newest first
/// (only the `mostRecentResults` newest when given), open together in the viewer.
#[component]
pub fn PatientStudies(patient_id: String, most_recent: Option<u32>) -> impl IntoView {
    let ui = ui();
    let found = RwSignal::new(None::<Result<Vec<String>, String>>);
    {
        let patient_id = patient_id.clone();
        let limit = most_recent
            .unwrap_or(PATIENT_STUDIES_LIMIT)
            .min(PATIENT_STUDIES_LIMIT);
        leptos::task::spawn_local(async move {
            match api::patient_studies(&patient_id, limit).await {
                Ok(rows) if rows.is_empty() => found.set(Some(Err(format!(
                    "{}: {patient_id}",
                    ui.t(Text::NoPatientStudies)
                )))),
                Ok(rows) => found.set(Some(Ok(rows.into_iter().map(|r| r.study_uid).collect()))),
                Err(api::CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => found.set(Some(Err(e.to_string()))),
            }
        });
    }
    move || match found.get() {
        Some(Ok(study_uids)) => {
            view! { <super::viewer::ViewerPage study_uids=study_uids/> }.into_any()
        }
        Some(Err(m)) => view! { <DeepLinkProblem message=m/> }.into_any(),
        None => view! { <div class="splash">{move || ui.t(Text::Loading)}</div> }.into_any(),
    }
}

#[component]
fn DeepLinkProblem(message: String) -> impl IntoView {
    let ui = ui();
    view! {
        <TopBar>
            <h1 class="page-title">{move || ui.t(Text::Studies)}</h1>
        </TopBar>
        <main class="deeplink">
            <p class="error" data-testid="deeplink-error">{message}</p>
            <div class="deeplink-actions">
                <button data-testid="deeplink-back"
                    on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                    {move || ui.t(Text::BackToStudies)}
                </button>
            </div>
        </main>
    }
}
