//! The report panel beside the images (toolbar "Report", key R): the study's report in
//! its state (draft, preliminary, final, amended) over `/api/reports`.
//!
//! A radiologist starts a report from a template of the study's modality (Thai or
//! English, the UI's language first), writes findings, impression and recommendation,
//! flags a critical result, saves it as draft or preliminary, and signs it with the
//! password again; a signed report is read-only and takes signed addenda. A requesting
//! doctor sees the report from preliminary on and acknowledges a critical result. The
//! rules themselves (who may do what, when) are the server's (`service/reports.rs`):
//! the panel only offers what fits the role and state, and shows the server's message
//! when a step is refused.

use leptos::prelude::*;
use rangsi_wire::reports::{
    NewAddendum, NewReport, Report, ReportContent, ReportList, ReportState, ReportTemplate,
    ReportTemplateList, SaveReport, SignReport,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api;
use super::app::ui;
use crate::dates::format_da_time;
use crate::dicom::Study;
use crate::i18n::Text;

async fn call<T: DeserializeOwned>(
    method: &str,
    url: &str,
    body: Option<&impl Serialize>,
) -> Result<T, String> {
    let body = match body {
        Some(b) => Some(serde_json::to_string(b).map_err(|e| e.to_string())?),
        None => None,
    };
    api::typed(method, url, body).await
}

/// A server timestamp (RFC 3339) in the browser's local time, in the UI's language and era.
pub(super) fn when(ts: &str) -> String {
    let ui = ui();
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(ts));
    if d.get_time().is_nan() {
        return ts.to_owned();
    }
    let da = format!(
        "{:04}{:02}{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date()
    );
    format_da_time(
        &da,
        d.get_hours(),
        d.get_minutes(),
        ui.lang.get(),
        ui.era.get(),
    )
}

fn enc(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}

fn state_text(s: ReportState) -> Text {
    match s {
        ReportState::Draft => Text::ReportDraft,
        ReportState::Preliminary => Text::ReportPreliminary,
        ReportState::Final => Text::ReportFinal,
        ReportState::Amended => Text::ReportAmended,
    }
}

/// The panel for `study`.
#[component]
pub fn ReportPanel(study: Study, close: Callback<()>) -> impl IntoView {
    let ui = ui();
    ui.open_report.set(false);
    let study_uid = study.study_uid.clone();
    let me = move || ui.me.get();
    let is_radiologist = move || me().is_some_and(|m| m.role == "radiologist");
    let report: RwSignal<Option<Report>> = RwSignal::new(None);
    let loaded = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let templates: RwSignal<Vec<ReportTemplate>> = RwSignal::new(Vec::new());
    let template = RwSignal::new(0i64);
    let findings = RwSignal::new(String::new());
    let impression = RwSignal::new(String::new());
    let recommendation = RwSignal::new(String::new());
    let critical = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let addendum = RwSignal::new(String::new());

    let show = move |r: Report| {
        findings.set(r.content.findings.clone());
        impression.set(r.content.impression.clone());
        recommendation.set(r.content.recommendation.clone());
        critical.set(r.content.critical);
        password.set(String::new());
        addendum.set(String::new());
        report.set(Some(r));
    };
    // Runs one API step; the answer replaces the shown report.
    let step =
        move |f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Report, String>>>>| {
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                match f.await {
                    Ok(r) => show(r),
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        };

    {
        let study_uid = study_uid.clone();
        let modality = study.modalities.first().cloned().unwrap_or_default();
        // Both lists are asked for at once; the panel counts as loaded only when both
        // answered, so "Create" never starts a report without the chosen template.
        leptos::task::spawn_local(async move {
            let reports_url = format!("/api/reports?study={}", enc(&study_uid));
            let lang = ui.lang.get_untracked().code();
            let templates_url = format!(
                "/api/report-templates?lang={lang}&modality={}",
                enc(&modality)
            );
            let (list, tpl) = futures::join!(
                call::<ReportList>("GET", &reports_url, None::<&()>),
                call::<ReportTemplateList>("GET", &templates_url, None::<&()>)
            );
            match list {
                Ok(list) => {
                    if let Some(r) = list.reports.into_iter().next() {
                        show(r);
                    }
                }
                Err(e) => error.set(Some(e)),
            }
            if let Ok(list) = tpl {
                if let Some(t) = list.templates.first() {
                    template.set(t.id);
                }
                templates.set(list.templates);
            }
            loaded.set(true);
        });
    }

    let content = move || ReportContent {
        findings: findings.get_untracked(),
        impression: impression.get_untracked(),
        recommendation: recommendation.get_untracked(),
        critical: critical.get_untracked(),
    };
    let stored_uid = StoredValue::new(study_uid.clone());
    let create = move |_| {
        let body = NewReport {
            study_uid: stored_uid.get_value(),
            template_id: Some(template.get_untracked()).filter(|t| *t > 0),
            content: ReportContent::default(),
        };
        step(Box::pin(async move {
            call("POST", "/api/reports", Some(&body)).await
        }));
    };
    let id = move || report.with_untracked(|r| r.as_ref().map_or(0, |r| r.id));
    let save = move |state: ReportState| {
        let body = SaveReport {
            content: content(),
            state: Some(state),
        };
        let url = format!("/api/reports/{}", id());
        step(Box::pin(
            async move { call("PUT", &url, Some(&body)).await },
        ));
    };
    let sign = move |_| {
        let (id, body) = (
            id(),
            SaveReport {
                content: content(),
                state: None,
            },
        );
        let sign = SignReport {
            password: password.get_untracked(),
        };
        // Saves what is on screen first, so the signed text is the text shown.
        step(Box::pin(async move {
            let url = format!("/api/reports/{id}");
            call::<Report>("PUT", &url, Some(&body)).await?;
            call("POST", &format!("{url}/sign"), Some(&sign)).await
        }));
    };
    let add_addendum = move |_| {
        let body = NewAddendum {
            text: addendum.get_untracked(),
            password: password.get_untracked(),
        };
        let url = format!("/api/reports/{}/addenda", id());
        step(Box::pin(
            async move { call("POST", &url, Some(&body)).await },
        ));
    };
    let acknowledge = move |_| {
        let url = format!("/api/reports/{}/acknowledge", id());
        step(Box::pin(
            async move { call("POST", &url, None::<&()>).await },
        ));
    };

    let signed = move || report.with(|r| r.as_ref().is_some_and(|r| r.state.is_signed()));
    let mine =
        move || report.with(|r| r.as_ref().map(|r| r.author.clone())) == me().map(|m| m.username);
    let editable = move || report.with(|r| r.is_some()) && !signed() && mine();
    let can_ack = move || {
        report.with(|r| {
            r.as_ref().is_some_and(|r| {
                r.content.critical && r.state.is_signed() && r.critical_acknowledged_at.is_none()
            })
        }) && !mine()
            && !is_radiologist()
    };
    let field = move |label: Text,
                      sig: RwSignal<String>,
                      testid: &'static str,
                      can_edit: Signal<bool>| {
        view! {
            <label class="report-field" class:empty=move || !can_edit.get() && sig.with(|t| t.trim().is_empty())>
                <span>{move || ui.t(label)}</span>
                <textarea data-testid=testid rows="5" prop:value=move || sig.get()
                    prop:readOnly=move || !can_edit.get()
                    on:input=move |ev| sig.set(event_target_value(&ev))></textarea>
            </label>
        }
    };

    view! {
        <aside class="report-panel" data-testid="report-panel"
            data-state=move || report.with(|r| r.as_ref().map_or("none", |r| r.state.name()))
            data-loaded=move || loaded.get().to_string()>
            <header>
                <h2>{move || ui.t(Text::Report)}</h2>
                {move || report.get().map(|r| view! {
                    <span class="report-state" data-testid="report-state">{ui.t(state_text(r.state))}</span>
                })}
                {move || report.get().map(|r| view! {
                    <a class="report-pdf" data-testid="report-pdf" target="_blank" rel="noopener"
                        href=format!("/api/reports/{}/pdf", r.id)>{ui.t(Text::ReportPdf)}</a>
                })}
                <button class="close" data-testid="report-close" title=move || ui.t(Text::Close)
                    on:click=move |_| close.run(())>"×"</button>
            </header>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="report-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || loaded.get() && report.with(|r| r.is_none())>
                {move || if is_radiologist() {
                    view! {
                        <div class="report-new">
                            <select data-testid="report-template"
                                on:change=move |ev| template.set(event_target_value(&ev).parse().unwrap_or(0))>
                                {move || templates.get().into_iter().map(|t| view! {
                                    <option value=t.id.to_string() selected=move || template.get() == t.id>{t.name.clone()}</option>
                                }).collect_view()}
                            </select>
                            <button data-testid="report-create" prop:disabled=move || busy.get()
                                on:click=create>{move || ui.t(Text::NewReport)}</button>
                        </div>
                    }.into_any()
                } else {
                    view! { <p class="dim" data-testid="report-none">{move || ui.t(Text::NotReported)}</p> }.into_any()
                }}
            </Show>
            <Show when=move || report.with(|r| r.is_some())>
                {field(Text::Findings, findings, "report-findings", Signal::derive(editable))}
                {field(Text::Impression, impression, "report-impression", Signal::derive(editable))}
                {field(Text::Recommendation, recommendation, "report-recommendation", Signal::derive(editable))}
                <label class="report-critical">
                    <input type="checkbox" data-testid="report-critical" prop:checked=move || critical.get()
                        prop:disabled=move || !editable()
                        on:change=move |ev| critical.set(event_target_checked(&ev))/>
                    {move || ui.t(Text::CriticalResult)}
                </label>
                {move || report.get().and_then(|r| Some((r.signed_by?, r.signed_at?))).map(|(by, at)| view! {
                    <p class="dim" data-testid="report-signed">{ui.t(Text::SignedBy)} " " {by} " · " {move || when(&at)}</p>
                })}
                {move || report.get().map(|r| r.addenda.into_iter().map(|a| view! {
                    <div class="report-addendum" data-testid="report-addendum">
                        <p class="dim">{ui.t(Text::Addendum)} " · " {a.author} " · " {move || when(&a.signed_at)}</p>
                        <p>{a.text}</p>
                    </div>
                }).collect_view())}
                {move || report.get().and_then(|r| Some((r.critical_acknowledged_by?, r.critical_acknowledged_at?))).map(|(by, at)| view! {
                    <p class="dim" data-testid="report-acknowledged">{ui.t(Text::Acknowledged)} " " {by} " · " {move || when(&at)}</p>
                })}
                <Show when=editable>
                    <div class="report-actions">
                        <button data-testid="report-save-draft" prop:disabled=move || busy.get()
                            on:click=move |_| save(ReportState::Draft)>{move || ui.t(Text::SaveDraft)}</button>
                        <button data-testid="report-save-preliminary" prop:disabled=move || busy.get()
                            on:click=move |_| save(ReportState::Preliminary)>{move || ui.t(Text::SavePreliminary)}</button>
                    </div>
                </Show>
                <Show when=move || signed() && is_radiologist()>
                    {field(Text::Addendum, addendum, "report-addendum-text", Signal::derive(|| true))}
                </Show>
                <Show when=move || editable() || (signed() && is_radiologist())>
                    <div class="report-actions">
                        <input type="password" data-testid="report-password" autocomplete="current-password"
                            placeholder=move || ui.t(Text::PasswordToSign)
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))/>
                        <Show when=editable fallback=move || view! {
                            <button data-testid="report-add-addendum" prop:disabled=move || busy.get() || password.with(String::is_empty)
                                on:click=add_addendum>{move || ui.t(Text::AddAddendum)}</button>
                        }>
                            <button class="primary" data-testid="report-sign" prop:disabled=move || busy.get() || password.with(String::is_empty)
                                on:click=sign>{move || ui.t(Text::Sign)}</button>
                        </Show>
                    </div>
                </Show>
                <Show when=can_ack>
                    <button class="primary" data-testid="report-acknowledge" prop:disabled=move || busy.get()
                        on:click=acknowledge>{move || ui.t(Text::Acknowledge)}</button>
                </Show>
            </Show>
            <Show when=move || !super::sharing::is_guest()>
                <super::consults::ConsultSection study_uid=study_uid.clone()/>
            </Show>
        </aside>
    }
}
