//! Referral and sharing in the browser: the share button of the reading page (create a
//! link, show its QR code, copy the URL, list and revoke links), the referral form,
//! the page of incoming and outgoing referrals with their status and actions, and the
//! landing page of a share link (`/s/{token}`) that asks the PIN or birth date when
//! needed and opens the reading page on exactly the link's studies, without login.

use leptos::prelude::*;
use rangsi_wire::api::Me;
use rangsi_wire::sharing::{
    Audience, HospitalProfile, NewReferral, NewShareLink, Referral, ReferralStatus,
    ShareLinkCreated, ShareLinkInfo, ShareNeeds, ShareOpen, Urgency,
};

use super::api::CallError;
use super::app::{TopBar, ui};
use super::share_api::{self as sapi, OpenFail};
use crate::i18n::Text;
use crate::route::Route;

/// The role of a share link's holder (no account).
pub const GUEST: &str = "guest";

/// Whether the signed-in principal is a share link's guest.
pub fn is_guest() -> bool {
    ui().me
        .with(|m| m.as_ref().is_some_and(|m| m.role == GUEST))
}

fn status_text(s: ReferralStatus) -> Text {
    match s {
        ReferralStatus::Sent => Text::StatusSent,
        ReferralStatus::Received => Text::StatusReceived,
        ReferralStatus::Accepted => Text::StatusAccepted,
        ReferralStatus::Completed => Text::StatusCompleted,
        ReferralStatus::Declined => Text::StatusDeclined,
    }
}

fn urgency_text(u: Urgency) -> Text {
    match u {
        Urgency::Routine => Text::UrgencyRoutine,
        Urgency::Urgent => Text::UrgencyUrgent,
        Urgency::Emergency => Text::UrgencyEmergency,
    }
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn failed(e: CallError) -> String {
    e.to_string()
}

// ---------------------------------------------------------------- landing page

/// `/s/{token}`: opens the link (asking the PIN or birth date when it needs one), then
/// shows the reading page on its studies.
#[component]
pub fn ShareLanding(token: String) -> impl IntoView {
    let ui = ui();
    let token = StoredValue::new(token);
    let needs = RwSignal::new(None::<ShareNeeds>);
    let message = RwSignal::new(None::<String>);
    let refused = RwSignal::new(false);
    let busy = RwSignal::new(true);
    let answer = RwSignal::new(String::new());
    let attempt = move |pin: Option<String>, birth_date: Option<String>| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let req = ShareOpen {
                token: token.get_value(),
                pin,
                birth_date,
            };
            match sapi::open_share(&req).await {
                Ok(opened) => {
                    ui.me.set(Some(Me {
                        username: GUEST.into(),
                        role: GUEST.into(),
                        hospital: opened.hospital.clone(),
                    }));
                    // Replace the landing page in the history: back does not re-open it.
                    let route = Route::Viewer {
                        study_uids: opened.study_uids,
                    };
                    if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
                        let _ = h.replace_state_with_url(
                            &wasm_bindgen::JsValue::NULL,
                            "",
                            Some(&route.url()),
                        );
                    }
                    ui.route.set(route);
                }
                Err(OpenFail::Needs(n, status, m)) => {
                    // The first ask is no error; a wrong answer is. The reason in the
                    // UI's language, the server's (English) words after it.
                    if needs.get_untracked().is_some() {
                        let reason = if status == 429 {
                            Text::ShareThrottled
                        } else {
                            Text::ShareWrongAnswer
                        };
                        message.set(Some(format!("{} — {m}", ui.t(reason))));
                    }
                    needs.set(Some(n));
                }
                Err(OpenFail::Refused(status, m)) => {
                    refused.set(true);
                    // The server's words are English; the reason is said in the UI's language.
                    let reason = match status {
                        410 => Some(Text::ShareGone),
                        429 => Some(Text::ShareThrottled),
                        404 => Some(Text::ShareUnknown),
                        _ => None,
                    };
                    message.set(Some(
                        reason.map_or_else(|| m.clone(), |t| format!("{} — {m}", ui.t(t))),
                    ));
                }
            }
            busy.set(false);
        });
    };
    attempt(None, None);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let a = answer.get_untracked();
        match needs.get_untracked() {
            Some(ShareNeeds::Pin) => attempt(Some(a), None),
            Some(ShareNeeds::BirthDate) => attempt(None, Some(a)),
            None => {}
        }
    };
    view! {
        <main class="share-landing" data-testid="share-landing">
            <h1>{move || ui.t(Text::AppName)}</h1>
            <Show when=move || busy.get() && needs.get().is_none()>
                <p>{move || ui.t(Text::ShareOpening)}</p>
            </Show>
            <Show when=move || refused.get()>
                <h2>{move || ui.t(Text::ShareRefused)}</h2>
            </Show>
            <Show when=move || needs.get().is_some() && !refused.get()>
                <form on:submit=submit>
                    <label>
                        {move || match needs.get() {
                            Some(ShareNeeds::BirthDate) => ui.t(Text::ShareEnterBirthDate),
                            _ => ui.t(Text::ShareEnterPin),
                        }}
                        <input data-testid=move || match needs.get() {
                                Some(ShareNeeds::BirthDate) => "share-birth-date",
                                _ => "share-pin",
                            }
                            inputmode=move || match needs.get() {
                                Some(ShareNeeds::BirthDate) => "text",
                                _ => "numeric",
                            }
                            autocomplete="off"
                            prop:value=move || answer.get()
                            on:input=move |ev| answer.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" data-testid="share-submit" disabled=move || busy.get()>
                        {move || ui.t(Text::ShareOpen)}
                    </button>
                </form>
            </Show>
            <Show when=move || message.get().is_some()>
                <p class="error" data-testid="share-error">{move || message.get().unwrap_or_default()}</p>
            </Show>
        </main>
    }
}

// ---------------------------------------------------------------- share dialog

/// The share button of the reading page and its dialog, for the studies on screen.
#[component]
pub fn ShareButton(study_uids: Signal<Vec<String>>) -> impl IntoView {
    let ui = ui();
    let open = RwSignal::new(false);
    let pin = RwSignal::new(String::new());
    let ask_birth = RwSignal::new(false);
    let for_patient = RwSignal::new(false);
    let download = RwSignal::new(false);
    let days = RwSignal::new(7u32);
    let created = RwSignal::new(None::<ShareLinkCreated>);
    let links = RwSignal::new(Vec::<ShareLinkInfo>::new());
    let error = RwSignal::new(None::<String>);
    let copied = RwSignal::new(false);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match sapi::share_links().await {
                Ok(all) => {
                    let mine = study_uids.get_untracked();
                    links.set(
                        all.into_iter()
                            .filter(|l| l.study_uids.iter().any(|u| mine.contains(u)))
                            .collect(),
                    );
                }
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    let show = move |_| {
        open.set(true);
        created.set(None);
        error.set(None);
        reload();
    };
    let create = move |_| {
        let req = NewShareLink {
            study_uids: study_uids.get_untracked(),
            referral_id: None,
            audience: if for_patient.get_untracked() {
                Audience::Patient
            } else {
                Audience::Clinician
            },
            pin: Some(pin.get_untracked()).filter(|p| !p.trim().is_empty()),
            birth_date_check: ask_birth.get_untracked(),
            allow_download: download.get_untracked(),
            expires_days: Some(days.get_untracked()),
            label: String::new(),
        };
        error.set(None);
        copied.set(false);
        leptos::task::spawn_local(async move {
            match sapi::create_share(&req).await {
                Ok(c) => {
                    created.set(Some(c));
                    reload();
                }
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    let url = move || {
        created
            .get()
            .map(|c| format!("{}{}", origin(), c.path))
            .unwrap_or_default()
    };
    let copy = move |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&url());
            copied.set(true);
        }
    };
    let revoke = move |id: i64| {
        leptos::task::spawn_local(async move {
            match sapi::revoke_share(id).await {
                Ok(_) => reload(),
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    view! {
        <button data-testid="share-open" on:click=show>{move || ui.t(Text::Share)}</button>
        <Show when=move || open.get()>
            <div class="modal-backdrop" on:click=move |_| open.set(false)>
                <div class="modal share" data-testid="share-dialog" on:click=|ev| ev.stop_propagation()>
                    <h2>{move || ui.t(Text::ShareTitle)}</h2>
                    <label>{move || ui.t(Text::SharePinOptional)}
                        <input data-testid="share-new-pin" inputmode="numeric" autocomplete="off"
                            prop:value=move || pin.get() on:input=move |ev| pin.set(event_target_value(&ev))/>
                    </label>
                    <label class="check"><input type="checkbox" data-testid="share-ask-birth"
                        prop:checked=move || ask_birth.get()
                        on:change=move |ev| ask_birth.set(event_target_checked(&ev))/>
                        {move || ui.t(Text::ShareAskBirthDate)}</label>
                    <label class="check"><input type="checkbox" data-testid="share-for-patient"
                        prop:checked=move || for_patient.get()
                        on:change=move |ev| for_patient.set(event_target_checked(&ev))/>
                        {move || ui.t(Text::ShareForPatient)}</label>
                    <label class="check"><input type="checkbox" data-testid="share-download"
                        prop:checked=move || download.get()
                        on:change=move |ev| download.set(event_target_checked(&ev))/>
                        {move || ui.t(Text::ShareAllowDownload)}</label>
                    <label>{move || ui.t(Text::ShareExpiresDays)}
                        <select data-testid="share-days" on:change=move |ev| {
                            days.set(event_target_value(&ev).parse().unwrap_or(7));
                        }>
                            {[1u32, 3, 7, 14, 30].into_iter().map(|d| view! {
                                <option value=d.to_string() selected=move || days.get() == d>{d.to_string()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button data-testid="share-create" on:click=create>{move || ui.t(Text::ShareCreate)}</button>
                    <Show when=move || created.get().is_some()>
                        <div class="share-created">
                            <div class="qr" data-testid="share-qr"
                                inner_html=move || created.get().map(|c| c.qr_svg).unwrap_or_default()></div>
                            <code data-testid="share-url">{url}</code>
                            <button data-testid="share-copy" on:click=copy>
                                {move || if copied.get() { ui.t(Text::ShareCopied) } else { ui.t(Text::ShareCopy) }}
                            </button>
                            <button data-testid="share-print" on:click=move |_| {
                                if let Some(c) = created.get_untracked() {
                                    leptos::task::spawn_local(async move {
                                        if let Err(e) = sapi::open_card(&c.token).await {
                                            error.set(Some(failed(e)));
                                        }
                                    });
                                }
                            }>{move || ui.t(Text::SharePrint)}</button>
                        </div>
                    </Show>
                    <Show when=move || error.get().is_some()>
                        <p class="error" data-testid="share-dialog-error">{move || error.get().unwrap_or_default()}</p>
                    </Show>
                    <h3>{move || ui.t(Text::ShareLinks)}</h3>
                    <ul class="share-links" data-testid="share-links">
                        <For each=move || links.get() key=|l| (l.id, l.revoked_at.clone()) let:l>
                            <li data-testid="share-link" data-id=l.id.to_string()>
                                {format!("#{} · {} · ", l.id, l.created_by)}
                                {move || ui.t(Text::ShareExpires)} " " {l.expires_at.get(..10).unwrap_or_default().to_owned()}
                                {l.pin.then_some(" · PIN")}
                                {match l.revoked_at.clone() {
                                    Some(_) => view! { <span class="revoked"> " · " {move || ui.t(Text::ShareRevoked)}</span> }.into_any(),
                                    None => {
                                        let id = l.id;
                                        view! {
                                            <button data-testid="share-revoke" on:click=move |_| revoke(id)>
                                                {move || ui.t(Text::ShareRevoke)}
                                            </button>
                                        }.into_any()
                                    }
                                }}
                            </li>
                        </For>
                    </ul>
                    <button data-testid="share-close" on:click=move |_| open.set(false)>{move || ui.t(Text::Close)}</button>
                </div>
            </div>
        </Show>
    }
}

// ---------------------------------------------------------------- referral form

/// The refer button of the reading page and its form, for the studies on screen (or
/// every study of the patient).
#[component]
pub fn ReferButton(study_uids: Signal<Vec<String>>, patient_id: Signal<String>) -> impl IntoView {
    let ui = ui();
    let open = RwSignal::new(false);
    let hospitals = RwSignal::new(Vec::<HospitalProfile>::new());
    let to = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let urgency = RwSignal::new(Urgency::Routine);
    let summary = RwSignal::new(String::new());
    let all = RwSignal::new(false);
    let sent = RwSignal::new(None::<Referral>);
    let error = RwSignal::new(None::<String>);
    let show = move |_| {
        open.set(true);
        sent.set(None);
        error.set(None);
        leptos::task::spawn_local(async move {
            match sapi::hospitals().await {
                Ok(list) => {
                    let own = ui.me.get_untracked().and_then(|m| m.hospital);
                    let others: Vec<_> = list
                        .into_iter()
                        .filter(|h| Some(&h.code) != own.as_ref())
                        .collect();
                    if to.get_untracked().is_empty()
                        && let Some(first) = others.first()
                    {
                        to.set(first.code.clone());
                    }
                    hospitals.set(others);
                }
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (study_uids, patient) = if all.get_untracked() {
            (vec![], Some(patient_id.get_untracked()))
        } else {
            (study_uids.get_untracked(), None)
        };
        let req = NewReferral {
            to_hospital: to.get_untracked(),
            reason: reason.get_untracked(),
            urgency: urgency.get_untracked(),
            clinical_summary: summary.get_untracked(),
            study_uids,
            patient_id: patient,
            issuer: None,
        };
        error.set(None);
        leptos::task::spawn_local(async move {
            match sapi::create_referral(&req).await {
                Ok(r) => sent.set(Some(r)),
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    let hospital_name = move |h: &HospitalProfile| {
        let th = if h.name_th.is_empty() {
            &h.name
        } else {
            &h.name_th
        };
        let en = if h.name_en.is_empty() {
            &h.name
        } else {
            &h.name_en
        };
        let name = if ui.lang.get() == crate::i18n::Lang::Th {
            th
        } else {
            en
        };
        if h.capabilities.is_empty() {
            format!("{name} ({})", h.code)
        } else {
            format!("{name} ({}) · {}", h.code, h.capabilities.join(", "))
        }
    };
    view! {
        <button data-testid="refer-open" on:click=show>{move || ui.t(Text::Refer)}</button>
        <Show when=move || open.get()>
            <div class="modal-backdrop" on:click=move |_| open.set(false)>
                <form class="modal referral-form" data-testid="referral-form"
                    on:click=|ev| ev.stop_propagation() on:submit=send>
                    <h2>{move || ui.t(Text::ReferTitle)}</h2>
                    <label>{move || ui.t(Text::ReferTo)}
                        <select data-testid="refer-to" on:change=move |ev| to.set(event_target_value(&ev))>
                            <For each=move || hospitals.get() key=|h| h.code.clone() let:h>
                                {
                                    let code = h.code.clone();
                                    let selected = {
                                        let c = code.clone();
                                        move || to.get() == c
                                    };
                                    view! {
                                        <option value=code selected=selected>{move || hospital_name(&h)}</option>
                                    }
                                }
                            </For>
                        </select>
                    </label>
                    <label>{move || ui.t(Text::ReferReason)}
                        <input data-testid="refer-reason" required prop:value=move || reason.get()
                            on:input=move |ev| reason.set(event_target_value(&ev))/>
                    </label>
                    <label>{move || ui.t(Text::ReferUrgency)}
                        <select data-testid="refer-urgency" on:change=move |ev| {
                            urgency.set(Urgency::parse(&event_target_value(&ev)).unwrap_or(Urgency::Routine));
                        }>
                            {[Urgency::Routine, Urgency::Urgent, Urgency::Emergency].into_iter().map(|u| view! {
                                <option value=u.as_str() selected=move || urgency.get() == u>{move || ui.t(urgency_text(u))}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label>{move || ui.t(Text::ReferSummary)}
                        <textarea data-testid="refer-summary" rows="4" prop:value=move || summary.get()
                            on:input=move |ev| summary.set(event_target_value(&ev))></textarea>
                    </label>
                    <label class="check"><input type="checkbox" data-testid="refer-all"
                        prop:checked=move || all.get() on:change=move |ev| all.set(event_target_checked(&ev))/>
                        {move || ui.t(Text::ReferAllStudies)}</label>
                    <button type="submit" data-testid="refer-send">{move || ui.t(Text::ReferSend)}</button>
                    <Show when=move || sent.get().is_some()>
                        <p class="ok" data-testid="refer-sent">
                            {move || ui.t(Text::ReferSent)} {move || sent.get().map(|r| format!(" #{}", r.id)).unwrap_or_default()}
                        </p>
                        <button type="button" data-testid="refer-letter" on:click=move |_| {
                            if let Some(r) = sent.get_untracked() {
                                leptos::task::spawn_local(async move {
                                    if let Err(e) = sapi::open_letter(r.id).await {
                                        error.set(Some(failed(e)));
                                    }
                                });
                            }
                        }>{move || ui.t(Text::ReferLetter)}</button>
                    </Show>
                    <Show when=move || error.get().is_some()>
                        <p class="error" data-testid="refer-error">{move || error.get().unwrap_or_default()}</p>
                    </Show>
                    <button type="button" data-testid="refer-close" on:click=move |_| open.set(false)>{move || ui.t(Text::Close)}</button>
                </form>
            </div>
        </Show>
    }
}

// ---------------------------------------------------------------- referral lists

/// `/referrals`: the hospital's incoming and outgoing referrals.
#[component]
pub fn ReferralsPage() -> impl IntoView {
    let ui = ui();
    let incoming = RwSignal::new(true);
    let list = RwSignal::new(None::<Vec<Referral>>);
    let error = RwSignal::new(None::<String>);
    let load = move || {
        let dir = incoming.get_untracked();
        leptos::task::spawn_local(async move {
            match sapi::referrals(dir).await {
                Ok(l) => {
                    error.set(None);
                    list.set(Some(l));
                }
                Err(CallError::Unauthenticated) => ui.me.set(None),
                Err(e) => error.set(Some(failed(e))),
            }
        });
    };
    Effect::new(move |_| {
        incoming.track();
        list.set(None);
        load();
    });
    let row = move |r: Referral| {
        let id = r.id;
        let other = if incoming.get_untracked() {
            &r.from_hospital
        } else {
            &r.to_hospital
        };
        let other = if other.name_th.is_empty() {
            other.name.clone()
        } else {
            other.name_th.clone()
        };
        let uids: Vec<String> = r.studies.iter().map(|s| s.study_uid.clone()).collect();
        let status = r.status;
        let hn = RwSignal::new(String::new());
        let note = RwSignal::new(None::<String>);
        let set = move |s: ReferralStatus| {
            leptos::task::spawn_local(async move {
                match sapi::set_status(id, s).await {
                    Ok(_) => load(),
                    Err(e) => error.set(Some(failed(e))),
                }
            });
        };
        let take = move |_| {
            let pid = hn.get_untracked();
            leptos::task::spawn_local(async move {
                match sapi::take_into_archive(id, &pid).await {
                    Ok(t) => note.set(Some(format!(
                        "{} {} ({})",
                        ui.t(Text::TakenIntoArchive),
                        t.patient_id,
                        t.instances
                    ))),
                    Err(e) => error.set(Some(failed(e))),
                }
            });
        };
        let can_act = incoming.get_untracked();
        view! {
            <tr data-testid="referral-row" data-id=id.to_string() data-status=status.as_str()>
                <td>{format!("#{id}")}<br/>{r.created_at.get(..10).unwrap_or_default().to_owned()}</td>
                <td>{other}</td>
                <td data-testid="referral-patient">{r.patient.name.replace('^', " ")}<br/>{r.patient.patient_id.clone()}</td>
                <td>{move || ui.t(urgency_text(r.urgency))}</td>
                <td>{r.reason.clone()}</td>
                <td data-testid="referral-status">{move || ui.t(status_text(status))}</td>
                <td class="actions">
                    <button data-testid="referral-open-images" on:click={
                        let uids = uids.clone();
                        move |_| ui.navigate(Route::Viewer { study_uids: uids.clone() })
                    }>{move || ui.t(Text::OpenImages)}</button>
                    {can_act.then(|| status.next().iter().map(|&s| view! {
                        <button data-testid=format!("referral-set-{}", s.as_str()) on:click=move |_| set(s)>
                            {move || ui.t(status_text(s))}
                        </button>
                    }).collect_view())}
                    <button data-testid="referral-letter" on:click=move |_| {
                        leptos::task::spawn_local(async move {
                            if let Err(e) = sapi::open_letter(id).await {
                                error.set(Some(failed(e)));
                            }
                        });
                    }>{move || ui.t(Text::ReferLetter)}</button>
                    {(can_act && status != ReferralStatus::Declined).then(|| view! {
                        <span class="take">
                            <input data-testid="referral-hn" placeholder=move || ui.t(Text::OurHn)
                                prop:value=move || hn.get() on:input=move |ev| hn.set(event_target_value(&ev))/>
                            <button data-testid="referral-take" on:click=take>{move || ui.t(Text::TakeIntoArchive)}</button>
                        </span>
                    })}
                    {move || note.get().map(|n| view! { <span class="ok">{n}</span> })}
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
            <h1>{move || ui.t(Text::Referrals)}</h1>
        </TopBar>
        <main class="referrals" data-testid="referrals">
            <div class="tabs">
                <button data-testid="referrals-incoming" class:active=move || incoming.get()
                    on:click=move |_| incoming.set(true)>{move || ui.t(Text::Incoming)}</button>
                <button data-testid="referrals-outgoing" class:active=move || !incoming.get()
                    on:click=move |_| incoming.set(false)>{move || ui.t(Text::Outgoing)}</button>
            </div>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="referrals-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            {move || match list.get() {
                None => view! { <p>{move || ui.t(Text::Loading)}</p> }.into_any(),
                Some(l) if l.is_empty() => view! { <p data-testid="referrals-empty">{move || ui.t(Text::NoReferrals)}</p> }.into_any(),
                Some(l) => view! {
                    <table class="referral-table"><tbody>
                        {l.into_iter().map(row).collect_view()}
                    </tbody></table>
                }.into_any(),
            }}
        </main>
    }
}
