//! The study list: search by patient name (Thai or Latin, fuzzy), HN / patient ID,
//! study date range and modality; one page of results, newest first; a click opens
//! the study in the viewer.

use leptos::prelude::*;

use super::api;
use super::app::{TopBar, ui};
use crate::dates::format_da;
use crate::dicom::Study;
use crate::i18n::Text;
use crate::qido::StudySearch;
use crate::route::Route;

const MODALITIES: &[&str] = &[
    "CT", "MR", "CR", "DX", "US", "MG", "XA", "RF", "NM", "PT", "OT",
];

#[component]
pub fn StudyList(patient_id: Option<String>) -> impl IntoView {
    let ui = ui();
    let form = RwSignal::new(StudySearch {
        patient_id: patient_id.unwrap_or_default(),
        ..Default::default()
    });
    // The search that produced the rows on screen (pages move within it).
    let rows = RwSignal::new(Vec::<Study>::new());
    let more = RwSignal::new(false);
    let state = RwSignal::new(SearchState::Idle);

    let run = move |search: StudySearch| {
        state.set(SearchState::Busy);
        leptos::task::spawn_local(async move {
            match api::studies(&search).await {
                Ok((list, has_more)) => {
                    rows.set(list);
                    more.set(has_more);
                    state.set(SearchState::Done);
                }
                Err(api::CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => state.set(SearchState::Failed(e.to_string())),
            }
        });
    };
    run(form.get_untracked());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        form.update(|f| f.page = 0);
        run(form.get_untracked());
    };
    let page = move |delta: i32| {
        form.update(|f| f.page = (f.page as i32 + delta).max(0) as u32);
        run(form.get_untracked());
    };
    let field = move |set: fn(&mut StudySearch, String)| {
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            form.update(|f| set(f, v));
        }
    };

    view! {
        <TopBar>
            <h1 class="page-title">{move || ui.t(Text::Studies)}</h1>
        </TopBar>
        <main class="studies">
            <form class="search" on:submit=submit>
                <label>
                    <span>{move || ui.t(Text::PatientName)}</span>
                    <input data-testid="search-name" type="search" lang="th"
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
                    <span>{move || ui.t(Text::DateFrom)}</span>
                    <input data-testid="search-from" type="date"
                        prop:value=move || form.with(|f| f.date_from.clone())
                        on:input=field(|f, v| f.date_from = v)/>
                </label>
                <label>
                    <span>{move || ui.t(Text::DateTo)}</span>
                    <input data-testid="search-to" type="date"
                        prop:value=move || form.with(|f| f.date_to.clone())
                        on:input=field(|f, v| f.date_to = v)/>
                </label>
                <label>
                    <span>{move || ui.t(Text::Modality)}</span>
                    <select data-testid="search-modality" on:change=field(|f, v| f.modality = v)>
                        <option value="">{move || ui.t(Text::AnyModality)}</option>
                        {MODALITIES.iter().map(|m| view! { <option value=*m>{*m}</option> }).collect_view()}
                    </select>
                </label>
                <button data-testid="search-submit" type="submit">{move || ui.t(Text::Search)}</button>
            </form>
            <p class="status" data-testid="search-status">
                {move || match state.get() {
                    SearchState::Busy => ui.t(Text::Searching).to_owned(),
                    SearchState::Failed(e) => format!("{}: {e}", ui.t(Text::Error)),
                    SearchState::Done if rows.with(Vec::is_empty) => ui.t(Text::NoStudies).to_owned(),
                    _ => String::new(),
                }}
            </p>
            <table class="study-table" data-testid="study-table">
                <thead>
                    <tr>
                        <th class="thumb"></th>
                        <th>{move || ui.t(Text::PatientName)}</th>
                        <th>{move || ui.t(Text::PatientId)}</th>
                        <th>{move || ui.t(Text::StudyDate)}</th>
                        <th>{move || ui.t(Text::Modality)}</th>
                        <th class="wide">{move || ui.t(Text::Description)}</th>
                        <th class="wide">{move || ui.t(Text::Accession)}</th>
                        <th>{move || ui.t(Text::Images)}</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|s| s.study_uid.clone() let:study>
                        <StudyRow study=study/>
                    </For>
                </tbody>
            </table>
            <nav class="pager">
                <button data-testid="page-prev" disabled=move || form.with(|f| f.page == 0) on:click=move |_| page(-1)>
                    {move || ui.t(Text::Previous)}
                </button>
                <span>{move || form.with(|f| f.page + 1)}</span>
                <button data-testid="page-next" disabled=move || !more.get() on:click=move |_| page(1)>
                    {move || ui.t(Text::Next)}
                </button>
            </nav>
        </main>
    }
}

#[derive(Debug, Clone, PartialEq)]
enum SearchState {
    Idle,
    Busy,
    Done,
    Failed(String),
}

#[component]
fn StudyRow(study: Study) -> impl IntoView {
    let ui = ui();
    let uid = study.study_uid.clone();
    let open = move |_| {
        ui.navigate(Route::Viewer {
            study_uids: vec![uid.clone()],
        })
    };
    let date = study.study_date.clone();
    view! {
        <tr class="study-row" data-testid="study-row" data-study-uid=study.study_uid.clone() on:click=open>
            <td class="thumb">
                <img loading="lazy" alt="" width="48" height="48" src=api::study_thumbnail_url(&study.study_uid)/>
            </td>
            <td class="name" data-testid="study-patient-name">{study.patient_name.display()}</td>
            <td>{study.patient_id.clone()}</td>
            <td data-testid="study-date">{move || format_da(&date, ui.lang.get(), ui.era.get())}</td>
            <td>{study.modalities.join(", ")}</td>
            <td class="wide">{study.description.clone()}</td>
            <td class="wide">{study.accession.clone()}</td>
            <td class="num">{study.instance_count.map(|n| n.to_string()).unwrap_or_default()}</td>
        </tr>
    }
}
