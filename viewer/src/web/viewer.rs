//! The reading page: the study's series (thumbnails, image counts) beside one
//! viewport showing the first CT series (or the one the user picks).

use leptos::prelude::*;

use super::api;
use super::app::{TopBar, ui};
use super::viewport::Viewport;
use crate::dicom::{Series, Study};
use crate::i18n::Text;
use crate::route::Route;

#[component]
pub fn ViewerPage(study_uids: Vec<String>) -> impl IntoView {
    let ui = ui();
    let study_uid = study_uids.first().cloned().unwrap_or_default();
    let study = RwSignal::new(None::<Study>);
    let series = RwSignal::new(Vec::<Series>::new());
    let active = RwSignal::new(None::<usize>);
    let error = RwSignal::new(None::<String>);
    {
        let study_uid = study_uid.clone();
        leptos::task::spawn_local(async move {
            let result = async {
                let s = api::study(&study_uid).await?;
                let list = api::series(&study_uid).await?;
                Ok::<_, api::CallError>((s, list))
            }
            .await;
            match result {
                Ok((s, list)) => {
                    active.set(Series::pick_first(&list));
                    study.set(s);
                    series.set(list);
                }
                Err(api::CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    }
    let active_series = Signal::derive(move || {
        active
            .get()
            .and_then(|i| series.with(|l| l.get(i).cloned()))
    });
    let thumb_study = study_uid.clone();

    view! {
        <TopBar>
            <button class="back" data-testid="back-to-studies"
                on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                "← " <span class="label">{move || ui.t(Text::BackToStudies)}</span>
            </button>
            <span class="patient" data-testid="viewer-patient">
                {move || study.get().map(|s| s.patient_name.display()).unwrap_or_default()}
            </span>
        </TopBar>
        <main class="reading">
            <aside class="series-panel" data-testid="series-panel">
                <p class="error">{move || error.get().unwrap_or_default()}</p>
                <For each=move || series.get().into_iter().enumerate() key=|(_, s)| s.series_uid.clone() let:item>
                    {
                        let (i, s) = item;
                        let src = api::series_thumbnail_url(&thumb_study, &s.series_uid);
                        view! {
                            <button class="series-item" data-testid="series-item"
                                data-series-uid=s.series_uid.clone()
                                class:active=move || active.get() == Some(i)
                                on:click=move |_| active.set(Some(i))>
                                <img src=src alt="" width="96" height="96" loading="lazy"/>
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
                </For>
            </aside>
            <Viewport study_uid=study_uid.clone() study=study series=active_series/>
        </main>
    }
}
