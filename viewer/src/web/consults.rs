//! Consultation requests in the viewer (issue 7): the radiologists' reading worklist
//! (`/worklist`: requests to them or their group, STAT first, overdue marked, claim /
//! release, open with the patient's priors; then their hospital's unreported studies)
//! and, in the report panel,
//! the form a doctor asks for a reading with and the study's requests with their
//! status. The rules are the server's (`service/consults.rs`).

use leptos::prelude::*;
use rangsi_wire::reports::{Consult, ConsultList, NewConsult, PatientData, Worklist, WorklistItem};
use rangsi_wire::sharing::HospitalProfile;

use super::api;
use super::app::{TopBar, ui};
use crate::i18n::Text;
use crate::route::Route;
use crate::worklist::{Filter, Source};

use api::typed as call;

/// Studies of the patient opened with a worklist item (the item's and its priors).
const PRIORS: u32 = 6;

fn priority_text(p: &str) -> Text {
    match p {
        "stat" => Text::PriorityStat,
        "urgent" => Text::PriorityUrgent,
        _ => Text::PriorityRoutine,
    }
}

fn status_text(s: &str) -> Text {
    match s {
        "requested" => Text::ConsultRequested,
        "claimed" => Text::ConsultClaimed,
        "reported" => Text::ConsultReported,
        _ => Text::ConsultWithdrawn,
    }
}

/// The reading worklist page.
#[component]
pub fn WorklistPage() -> impl IntoView {
    let ui = ui();
    let items: RwSignal<Option<Vec<WorklistItem>>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let load = move || {
        leptos::task::spawn_local(async move {
            match call::<Worklist>("GET", "/api/worklist", None).await {
                Ok(w) => items.set(Some(w.items)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    load();
    let act = move |id: i64, action: &'static str| {
        leptos::task::spawn_local(async move {
            let url = format!("/api/consults/{id}/{action}");
            match call::<ConsultList>("POST", &url, None).await {
                Ok(_) => load(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let me = move || ui.me.get().map(|m| m.username).unwrap_or_default();
    let filter = RwSignal::new(Filter::default());
    let set = move |f: fn(&mut Filter, String)| {
        move |ev: leptos::ev::Event| filter.update(|x| f(x, event_target_value(&ev)))
    };
    let check = move |f: fn(&mut Filter, bool)| {
        move |ev: leptos::ev::Event| filter.update(|x| f(x, event_target_checked(&ev)))
    };
    // The study with the patient's priors that the caller may see (a request's grant
    // covers them), newest first after it: side by side in the viewer.
    let open_with_priors = move |study: String, patient: String| {
        leptos::task::spawn_local(async move {
            let mut uids = vec![study.clone()];
            if let Ok(rows) = api::patient_studies(&patient, PRIORS).await {
                uids.extend(
                    rows.into_iter()
                        .map(|r| r.study_uid)
                        .filter(|u| *u != study),
                );
            }
            // The report editor opens beside the images.
            ui.open_report.set(true);
            ui.navigate(Route::Viewer { study_uids: uids });
        });
    };
    let row = move |i: WorklistItem| {
        let uid = i.study_uid.clone();
        let patient = i.patient_id.clone();
        let consult = i.consult.clone();
        let mine = consult.as_ref().and_then(|c| c.claimed_by.clone()) == Some(me());
        let prio = i.priority.clone();
        view! {
            <tr data-testid="worklist-item" class:overdue=i.overdue class=format!("priority-{}", i.priority)
                data-study=i.study_uid.clone()>
                <td><span class="priority">{move || ui.t(priority_text(&prio))}</span></td>
                <td>{i.patient_name.replace('^', " ")}<br/><span class="dim">{i.patient_id.clone()}</span></td>
                <td>{i.description.clone()} " " <span class="dim">{i.modalities.clone()}</span></td>
                <td>{i.hospital.clone()}</td>
                <td>{i.due_at.clone().map(|t| view! { {move || super::report::when(&t)} })}
                    {i.overdue.then(|| view! { <span class="overdue-mark">{move || ui.t(Text::Overdue)}</span> })}</td>
                <td>{consult.as_ref().map(|c| {
                    let status = c.status.clone();
                    view! { <span data-testid="worklist-status">{move || ui.t(status_text(&status))}</span> }
                })}</td>
                <td class="actions">
                    {consult.as_ref().filter(|c| c.status == "requested").map(|c| {
                        let id = c.id;
                        view! { <button data-testid="worklist-claim" on:click=move |_| act(id, "claim")>{move || ui.t(Text::Claim)}</button> }
                    })}
                    {consult.as_ref().filter(|_| mine).map(|c| {
                        let id = c.id;
                        view! { <button data-testid="worklist-release" on:click=move |_| act(id, "release")>{move || ui.t(Text::Release)}</button> }
                    })}
                    <button class="primary" data-testid="worklist-open"
                        on:click=move |_| open_with_priors(uid.clone(), patient.clone())>
                        {move || ui.t(Text::Open)}
                    </button>
                </td>
            </tr>
        }
    };
    view! {
        <TopBar>
            <button class="back" data-testid="back-to-studies"
                on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                "← " {move || ui.t(Text::BackToStudies)}
            </button>
            <h1>{move || ui.t(Text::Worklist)}</h1>
        </TopBar>
        <main class="worklist" data-testid="worklist">
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="worklist-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <div class="worklist-filters" data-testid="worklist-filters">
                <input type="search" data-testid="worklist-search"
                    placeholder=move || ui.t(Text::WorklistSearch)
                    prop:value=move || filter.with(|f| f.text.clone())
                    on:input=set(|f, v| f.text = v)/>
                <select data-testid="worklist-priority" on:change=set(|f, v| f.priority = v)>
                    <option value="">{move || ui.t(Text::AnyPriority)}</option>
                    {["stat", "urgent", "routine"].map(|p| view! {
                        <option value=p>{move || ui.t(priority_text(p))}</option>
                    }).collect_view()}
                </select>
                <select data-testid="worklist-modality" on:change=set(|f, v| f.modality = v)>
                    <option value="">{move || ui.t(Text::AnyModality)}</option>
                    {move || items.with(|l| Filter::modalities(l.as_deref().unwrap_or_default()))
                        .into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                </select>
                <select data-testid="worklist-source" on:change=set(|f, v| f.source = Source::parse(&v))>
                    {[(Source::All, Text::SourceAll), (Source::Requests, Text::SourceRequests), (Source::Local, Text::SourceLocal)]
                        .map(|(s, t)| view! { <option value=s.code()>{move || ui.t(t)}</option> }).collect_view()}
                </select>
                <label><input type="checkbox" data-testid="worklist-overdue" on:change=check(|f, v| f.overdue = v)/>
                    {move || ui.t(Text::OverdueOnly)}</label>
                <label><input type="checkbox" data-testid="worklist-mine" on:change=check(|f, v| f.mine = v)/>
                    {move || ui.t(Text::MineOnly)}</label>
            </div>
            {move || match items.get() {
                None => view! { <p class="dim">{move || ui.t(Text::Loading)}</p> }.into_any(),
                Some(l) if l.is_empty() => view! { <p data-testid="worklist-empty">{move || ui.t(Text::NothingToRead)}</p> }.into_any(),
                Some(l) => {
                    let me = me();
                    let shown: Vec<WorklistItem> = filter.with(|f| l.into_iter().filter(|i| f.keeps(i, &me)).collect());
                    if shown.is_empty() {
                        view! { <p data-testid="worklist-none-match">{move || ui.t(Text::NothingMatches)}</p> }.into_any()
                    } else {
                        view! {
                            <table class="worklist-table">
                                <tbody>{shown.into_iter().map(row).collect_view()}</tbody>
                            </table>
                        }.into_any()
                    }
                }
            }}
        </main>
    }
}

/// Sends a file (PDF or JPEG) to be stored into the study; the server's answer.
async fn upload(study_uid: &str, file: web_sys::File) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let url = format!(
        "/api/studies/{}/attachments?title={}",
        js_sys::encode_uri_component(study_uid),
        js_sys::encode_uri_component(&file.name())
    );
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&file);
    let request =
        web_sys::Request::new_with_str_and_init(&url, &init).map_err(|e| format!("{e:?}"))?;
    let headers = request.headers();
    let _ = headers.set("Content-Type", &file.type_());
    let _ = headers.set("X-Requested-With", "rangsi-viewer");
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    if response.ok() {
        return Ok(());
    }
    let text = match response.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    Err(text
        .and_then(|t| serde_json::from_str::<rangsi_wire::api::ApiError>(&t).ok())
        .map_or_else(|| format!("HTTP {}", response.status()), |e| e.error))
}

/// The study's requests and, for its hospital's users, the form to ask for a reading.
#[component]
pub fn ConsultSection(study_uid: String) -> impl IntoView {
    let ui = ui();
    let uid = StoredValue::new(study_uid);
    let consults: RwSignal<Vec<Consult>> = RwSignal::new(Vec::new());
    let hospitals: RwSignal<Vec<HospitalProfile>> = RwSignal::new(Vec::new());
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let open = RwSignal::new(false);
    let to = RwSignal::new(String::new());
    let radiologist = RwSignal::new(String::new());
    let priority = RwSignal::new("routine".to_owned());
    let history = RwSignal::new(String::new());
    let question = RwSignal::new(String::new());
    let weight = RwSignal::new(String::new());
    let labs = RwSignal::new(String::new());
    let allergies = RwSignal::new(String::new());
    let prior = RwSignal::new(String::new());
    let url = move || {
        format!(
            "/api/consults?study={}",
            js_sys::encode_uri_component(&uid.get_value())
        )
    };
    leptos::task::spawn_local(async move {
        if let Ok(l) = call::<ConsultList>("GET", &url(), None).await {
            consults.set(l.consults);
        }
        if let Ok(h) = super::share_api::hospitals().await {
            if let Some(first) = h.first() {
                to.set(first.code.clone());
            }
            hospitals.set(h);
        }
    });
    let send = move |_| {
        let req = NewConsult {
            study_uid: uid.get_value(),
            to_hospital: to.get_untracked(),
            to_radiologist: Some(radiologist.get_untracked()).filter(|r| !r.trim().is_empty()),
            priority: priority.get_untracked(),
            due_at: None,
            history: history.get_untracked(),
            question: question.get_untracked(),
            patient_data: PatientData {
                weight_kg: weight.get_untracked(),
                labs: labs.get_untracked(),
                allergies: allergies.get_untracked(),
                prior_treatment: prior.get_untracked(),
            },
        };
        let body = serde_json::to_string(&req).ok();
        leptos::task::spawn_local(async move {
            match call::<ConsultList>("POST", "/api/consults", body).await {
                Ok(l) => {
                    consults.set(l.consults);
                    open.set(false);
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let withdraw = move |id: i64| {
        leptos::task::spawn_local(async move {
            let u = format!("/api/consults/{id}/withdraw");
            match call::<ConsultList>("POST", &u, None).await {
                Ok(l) => consults.set(l.consults),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let my_hospital = move || ui.me.get().and_then(|m| m.hospital);
    let attached: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    let on_file = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        let name = file.name();
        leptos::task::spawn_local(async move {
            match upload(&uid.get_value(), file).await {
                Ok(()) => attached.update(|a| a.push(name)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let input = move |label: Text, sig: RwSignal<String>, testid: &'static str| {
        view! {
            <label class="report-field"><span>{move || ui.t(label)}</span>
                <input data-testid=testid prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="consults" data-testid="consults">
            <h3>{move || ui.t(Text::Consults)}</h3>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="consult-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || consults.get().into_iter().map(|c| {
                let can_withdraw = my_hospital().as_deref() == Some(c.from_hospital.as_str())
                    && matches!(c.status.as_str(), "requested" | "claimed");
                let id = c.id;
                let status = c.status.clone();
                let prio = c.priority.clone();
                view! {
                    <div class="consult" data-testid="consult" data-status=c.status.clone() class:overdue=c.overdue>
                        <span class="priority">{move || ui.t(priority_text(&prio))}</span> " → " {c.to_hospital.clone()}
                        {c.to_radiologist.clone().map(|r| format!(" ({r})"))} " · "
                        <span>{move || ui.t(status_text(&status))}</span>
                        {c.claimed_by.clone().map(|r| format!(" · {r}"))}
                        {can_withdraw.then(|| view! {
                            <button data-testid="consult-withdraw" on:click=move |_| withdraw(id)>{move || ui.t(Text::Withdraw)}</button>
                        })}
                    </div>
                }
            }).collect_view()}
            <Show when=move || !open.get()>
                <button data-testid="consult-open" on:click=move |_| open.set(true)>{move || ui.t(Text::RequestReading)}</button>
            </Show>
            <Show when=move || open.get()>
                <div class="consult-form">
                    <label class="report-field"><span>{move || ui.t(Text::ReadingHospital)}</span>
                        <select data-testid="consult-hospital" on:change=move |ev| to.set(event_target_value(&ev))>
                            {move || hospitals.get().into_iter().map(|h| {
                                let code = h.code.clone();
                                let name = if h.name_th.is_empty() { h.name.clone() } else { h.name_th.clone() };
                                view! { <option value=h.code.clone() selected=move || to.get() == code>{format!("{} {}", h.code, name)}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    {input(Text::Radiologist, radiologist, "consult-radiologist")}
                    <label class="report-field"><span>{move || ui.t(Text::Priority)}</span>
                        <select data-testid="consult-priority" on:change=move |ev| priority.set(event_target_value(&ev))>
                            {["stat", "urgent", "routine"].into_iter().map(|p| view! {
                                <option value=p selected=move || priority.get() == p>{move || ui.t(priority_text(p))}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    {input(Text::ClinicalHistory, history, "consult-history")}
                    {input(Text::Question, question, "consult-question")}
                    {input(Text::WeightKg, weight, "consult-weight")}
                    {input(Text::Labs, labs, "consult-labs")}
                    {input(Text::Allergies, allergies, "consult-allergies")}
                    {input(Text::PriorTreatment, prior, "consult-prior")}
                    <label class="report-field"><span>{move || ui.t(Text::AttachFile)}</span>
                        <input type="file" data-testid="consult-attach" accept="application/pdf,image/jpeg" on:change=on_file/>
                    </label>
                    {move || attached.get().into_iter().map(|n| view! { <p class="dim" data-testid="consult-attached">{n}</p> }).collect_view()}
                    <div class="report-actions">
                        <button class="primary" data-testid="consult-send" on:click=send>{move || ui.t(Text::SendRequest)}</button>
                        <button on:click=move |_| open.set(false)>{move || ui.t(Text::Close)}</button>
                    </div>
                </div>
            </Show>
        </section>
    }
}
