//! The admin portal (`/admin`, administrators only; issue 8 and issue 7's admin
//! pieces): tabs for hospitals, users, AE titles, API tokens, per-hospital statistics,
//! the audit log (search and CSV download), report templates and report turnaround.
//! Every rule is the server's (`service/admin.rs`, `service/reports.rs`): a hospital's
//! own administrator gets their hospital only, and the page shows what the server
//! answers. Tables scroll inside themselves, so a phone never scrolls the page sideways.

use leptos::prelude::*;
use rangsi_wire::admin::{
    AdminAe, AdminAeList, AdminHospital, AdminHospitalList, AdminToken, AdminTokenList, AdminUser,
    AdminUserList, AuditEntry, AuditFilter, AuditPage, CAPABILITIES, GatewayTokenCreated,
    HospitalStats, HospitalUpdate, NewGatewayToken, NewHospital, NewToken, NewUser, PROVINCES,
    PasswordReset, ROLES, TokenCreated, UserSaved, UserUpdate,
};
use rangsi_wire::gateway::{GatewayHealth, GatewayList};
use rangsi_wire::reports::{ReportTemplate, ReportTemplateList, Turnaround, TurnaroundRow};
use serde::Serialize;

use super::api;
use super::app::{TopBar, ui};
use crate::i18n::{Lang, Text};
use crate::route::Route;

use api::typed as call;

/// A call whose answer has no body worth reading (204).
async fn send(method: &str, url: &str) -> Result<(), String> {
    api::json(method, url, "application/json", None)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn json<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

fn enc(v: &str) -> String {
    String::from(js_sys::encode_uri_component(v))
}

/// What every tab shares: the hospitals (for the pickers), the page's error and notice.
#[derive(Clone, Copy)]
struct Admin {
    hospitals: RwSignal<Vec<AdminHospital>>,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    /// Bumped to reload the hospitals.
    reload: RwSignal<u32>,
}

impl Admin {
    fn done<T>(&self, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => {
                self.error.set(None);
                Some(v)
            }
            Err(e) => {
                self.error.set(Some(e));
                self.notice.set(None);
                None
            }
        }
    }
}

fn admin() -> Admin {
    expect_context::<Admin>()
}

/// The signed-in user is the regional administrator (no hospital).
fn regional() -> bool {
    ui().me.with(|m| {
        m.as_ref()
            .is_some_and(|m| m.role == "admin" && m.hospital.is_none())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Hospitals,
    Users,
    Aes,
    Tokens,
    Stats,
    Audit,
    Templates,
    Turnaround,
}

impl Tab {
    const ALL: [Tab; 8] = [
        Tab::Hospitals,
        Tab::Users,
        Tab::Aes,
        Tab::Tokens,
        Tab::Stats,
        Tab::Audit,
        Tab::Templates,
        Tab::Turnaround,
    ];

    fn text(self) -> Text {
        match self {
            Tab::Hospitals => Text::AdmTabHospitals,
            Tab::Users => Text::AdmTabUsers,
            Tab::Aes => Text::AdmTabAes,
            Tab::Tokens => Text::AdmTabTokens,
            Tab::Stats => Text::AdmTabStats,
            Tab::Audit => Text::AdmTabAudit,
            Tab::Templates => Text::AdmTabTemplates,
            Tab::Turnaround => Text::AdmTabTurnaround,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Tab::Hospitals => "hospitals",
            Tab::Users => "users",
            Tab::Aes => "aes",
            Tab::Tokens => "tokens",
            Tab::Stats => "stats",
            Tab::Audit => "audit",
            Tab::Templates => "templates",
            Tab::Turnaround => "turnaround",
        }
    }
}

fn role_text(role: &str) -> Text {
    match role {
        "admin" => Text::AdmRoleAdmin,
        "radiologist" => Text::AdmRoleRadiologist,
        "technologist" => Text::AdmRoleTechnologist,
        "regional_reader" => Text::AdmRoleRegionalReader,
        _ => Text::AdmRoleDoctor,
    }
}

fn province_name(p: &str, lang: Lang) -> String {
    match PROVINCES.iter().find(|(en, th)| *en == p || *th == p) {
        Some((en, th)) => if lang == Lang::Th { th } else { en }.to_string(),
        None => p.to_string(),
    }
}

fn hospital_label(h: &AdminHospital, lang: Lang) -> String {
    let name = match lang {
        Lang::Th if !h.name_th.is_empty() => &h.name_th,
        Lang::En if !h.name_en.is_empty() => &h.name_en,
        _ => &h.name,
    };
    format!("{} {name}", h.code)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A labelled one-line input bound to `value`.
#[component]
fn Field(
    label: Text,
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] list: Option<&'static str>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let ui = ui();
    view! {
        <label>
            <span>{move || ui.t(label)}</span>
            <input type=kind data-testid=testid list=list required=required
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        </label>
    }
}

/// A picker of the hospitals the caller administers (`none` adds "whole region").
#[component]
fn HospitalPicker(
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(optional)] none: bool,
) -> impl IntoView {
    let ui = ui();
    let a = admin();
    view! {
        <label>
            <span>{move || ui.t(Text::Hospital)}</span>
            <select data-testid=testid on:change=move |ev| value.set(event_target_value(&ev))>
                {none.then(|| view! {
                    <option value="" selected=move || value.get().is_empty()>{move || ui.t(Text::AdmRegion)}</option>
                })}
                {move || a.hospitals.get().into_iter().map(|h| {
                    let code = h.code.clone();
                    let selected = {
                        let code = code.clone();
                        move || value.get() == code
                    };
                    view! { <option value=code selected=selected>{move || hospital_label(&h, ui.lang.get())}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// The admin page: top bar, tabs, the active tab.
#[component]
pub fn AdminPage() -> impl IntoView {
    let ui = ui();
    let a = Admin {
        hospitals: RwSignal::new(Vec::new()),
        error: RwSignal::new(None),
        notice: RwSignal::new(None),
        reload: RwSignal::new(0),
    };
    provide_context(a);
    Effect::new(move |_| {
        a.reload.track();
        leptos::task::spawn_local(async move {
            if let Some(l) =
                a.done(call::<AdminHospitalList>("GET", "/api/admin/hospitals", None).await)
            {
                a.hospitals.set(l.hospitals);
            }
        });
    });
    let tab = RwSignal::new(Tab::Hospitals);
    let select = move |t: Tab| {
        a.error.set(None);
        a.notice.set(None);
        tab.set(t);
    };
    view! {
        <TopBar>
            <button class="back" data-testid="back-to-studies"
                on:click=move |_| ui.navigate(Route::Studies { patient_id: None })>
                "← " {move || ui.t(Text::BackToStudies)}
            </button>
            <h1 class="page-title">{move || ui.t(Text::Admin)}</h1>
        </TopBar>
        <main class="admin" data-testid="admin">
            <nav class="admin-tabs" role="tablist">
                {Tab::ALL.into_iter().map(|t| view! {
                    <button role="tab" data-testid=format!("admin-tab-{}", t.id())
                        class:active=move || tab.get() == t aria-selected=move || (tab.get() == t).to_string()
                        on:click=move |_| select(t)>{move || ui.t(t.text())}</button>
                }).collect_view()}
            </nav>
            <p class="error" data-testid="admin-error">{move || a.error.get()}</p>
            <Show when=move || a.notice.get().is_some()>
                <p class="ok" data-testid="admin-notice">{move || a.notice.get()}</p>
            </Show>
            {move || match tab.get() {
                Tab::Hospitals => view! { <HospitalsTab/> }.into_any(),
                Tab::Users => view! { <UsersTab/> }.into_any(),
                Tab::Aes => view! { <AesTab/> }.into_any(),
                Tab::Tokens => view! { <TokensTab/> }.into_any(),
                Tab::Stats => view! { <StatsTab/> }.into_any(),
                Tab::Audit => view! { <AuditTab/> }.into_any(),
                Tab::Templates => view! { <TemplatesTab/> }.into_any(),
                Tab::Turnaround => view! { <TurnaroundTab/> }.into_any(),
            }}
        </main>
    }
}

// ---- hospitals ----

#[component]
fn HospitalsTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let open = RwSignal::new(false);
    // The code of the hospital being edited; `None`: a new one.
    let editing = RwSignal::new(None::<String>);
    let code = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let name_th = RwSignal::new(String::new());
    let name_en = RwSignal::new(String::new());
    let province = RwSignal::new(String::new());
    let caps = RwSignal::new(Vec::<String>::new());
    let other = RwSignal::new(String::new());
    let contact = RwSignal::new(String::new());
    let fill = move |h: Option<AdminHospital>| {
        let h = h.unwrap_or(AdminHospital {
            code: String::new(),
            name: String::new(),
            name_th: String::new(),
            name_en: String::new(),
            province: String::new(),
            capabilities: Vec::new(),
            contact: String::new(),
            users: 0,
            aes: 0,
        });
        editing.set((!h.code.is_empty()).then(|| h.code.clone()));
        code.set(h.code);
        name.set(h.name);
        name_th.set(h.name_th);
        name_en.set(h.name_en);
        province.set(h.province);
        let (known, others): (Vec<String>, Vec<String>) = h
            .capabilities
            .into_iter()
            .partition(|c| CAPABILITIES.contains(&c.as_str()));
        caps.set(known);
        other.set(others.join(", "));
        contact.set(h.contact);
        open.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut capabilities = caps.get_untracked();
        capabilities.extend(
            other
                .get_untracked()
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from),
        );
        let editing = editing.get_untracked();
        leptos::task::spawn_local(async move {
            let r = match &editing {
                Some(c) => {
                    let body = HospitalUpdate {
                        name: Some(name.get_untracked()),
                        name_th: Some(name_th.get_untracked()),
                        name_en: Some(name_en.get_untracked()),
                        province: Some(province.get_untracked()),
                        capabilities: Some(capabilities),
                        contact: Some(contact.get_untracked()),
                    };
                    call::<AdminHospital>(
                        "PUT",
                        &format!("/api/admin/hospitals/{}", enc(c)),
                        json(&body),
                    )
                    .await
                }
                None => {
                    let body = NewHospital {
                        code: code.get_untracked().trim().to_owned(),
                        name: name.get_untracked(),
                        name_th: name_th.get_untracked(),
                        name_en: name_en.get_untracked(),
                        province: province.get_untracked(),
                        capabilities,
                        contact: contact.get_untracked(),
                    };
                    call::<AdminHospital>("POST", "/api/admin/hospitals", json(&body)).await
                }
            };
            if let Some(h) = a.done(r) {
                open.set(false);
                a.notice
                    .set(Some(format!("{} {}", ui.t(Text::AdmSaved), h.code)));
                a.reload.update(|n| *n += 1);
            }
        });
    };
    let row = move |h: AdminHospital| {
        let shown = h.clone();
        let code = h.code.clone();
        view! {
            <tr data-testid="admin-hospital-row" data-code=code>
                <td>{h.code.clone()}</td>
                <td>{h.name.clone()}
                    {(!h.name_th.is_empty() && h.name_th != h.name).then(|| view! { <br/><span class="dim">{h.name_th.clone()}</span> })}
                    {(!h.name_en.is_empty()).then(|| view! { <br/><span class="dim">{h.name_en.clone()}</span> })}</td>
                <td data-testid="admin-hospital-province">{
                    let p = h.province.clone();
                    move || province_name(&p, ui.lang.get())
                }</td>
                <td>{h.capabilities.join(", ")}</td>
                <td class="num">{h.users}</td>
                <td class="num">{h.aes}</td>
                <td>{h.contact.clone()}</td>
                <td>
                    <Show when=regional>
                        {
                            let shown = shown.clone();
                            view! {
                                <button data-testid="admin-hospital-edit" on:click=move |_| fill(Some(shown.clone()))>
                                    {move || ui.t(Text::AdmEdit)}
                                </button>
                            }
                        }
                    </Show>
                </td>
            </tr>
        }
    };
    view! {
        <section class="admin-section" data-testid="admin-hospitals">
            <Show when=move || regional() && !open.get()>
                <button class="primary" data-testid="admin-hospital-new" on:click=move |_| fill(None)>
                    {move || ui.t(Text::AdmNewHospital)}
                </button>
            </Show>
            <Show when=move || open.get()>
                <form class="admin-form" data-testid="admin-hospital-form" on:submit=save>
                    <label>
                        <span>{move || ui.t(Text::AdmCode)}</span>
                        <input data-testid="admin-hospital-code" inputmode="numeric" maxlength="8"
                            disabled=move || editing.get().is_some()
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                    </label>
                    <Field label=Text::AdmName value=name testid="admin-hospital-name" required=true/>
                    <Field label=Text::AdmNameTh value=name_th testid="admin-hospital-name-th"/>
                    <Field label=Text::AdmNameEn value=name_en testid="admin-hospital-name-en"/>
                    <Field label=Text::AdmProvince value=province testid="admin-hospital-province-input" list="admin-provinces"/>
                    <datalist id="admin-provinces">
                        {PROVINCES.iter().map(|(en, th)| view! { <option value=*en>{*th}</option> }).collect_view()}
                    </datalist>
                    <fieldset class="admin-caps">
                        <legend>{move || ui.t(Text::AdmCapabilities)}</legend>
                        {CAPABILITIES.iter().map(|&c| view! {
                            <label class="check">
                                <input type="checkbox" data-testid=format!("admin-cap-{c}")
                                    prop:checked=move || caps.with(|v| v.iter().any(|x| x == c))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        caps.update(|v| {
                                            v.retain(|x| x != c);
                                            if on {
                                                v.push(c.to_owned());
                                            }
                                        });
                                    }/>
                                {c}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <Field label=Text::AdmOtherCapabilities value=other testid="admin-hospital-caps-other"/>
                    <Field label=Text::AdmContact value=contact testid="admin-hospital-contact"/>
                    <div class="admin-form-actions">
                        <button type="submit" class="primary" data-testid="admin-hospital-save">{move || ui.t(Text::AdmSave)}</button>
                        <button type="button" on:click=move |_| open.set(false)>{move || ui.t(Text::AdmCancel)}</button>
                    </div>
                </form>
            </Show>
            <div class="admin-table-wrap">
                <table class="admin-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::AdmCode)}</th>
                        <th>{move || ui.t(Text::AdmName)}</th>
                        <th>{move || ui.t(Text::AdmProvince)}</th>
                        <th>{move || ui.t(Text::AdmCapabilities)}</th>
                        <th class="num">{move || ui.t(Text::AdmTabUsers)}</th>
                        <th class="num">"AE"</th>
                        <th>{move || ui.t(Text::AdmContact)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{move || a.hospitals.get().into_iter().map(row).collect_view()}</tbody>
                </table>
            </div>
        </section>
    }
}

// ---- users ----

#[component]
fn UsersTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let users = RwSignal::new(None::<Vec<AdminUser>>);
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Some(l) = a.done(call::<AdminUserList>("GET", "/api/admin/users", None).await) {
                users.set(Some(l.users));
            }
        });
    };
    load();
    let username = RwSignal::new(String::new());
    let role = RwSignal::new("doctor".to_owned());
    let hospital = RwSignal::new(
        ui.me
            .get_untracked()
            .and_then(|m| m.hospital)
            .unwrap_or_default(),
    );
    // Default to the first hospital once they are known.
    Effect::new(move |_| {
        let hs = a.hospitals.get();
        if hospital.get_untracked().is_empty()
            && role.get_untracked() != "admin"
            && let Some(h) = hs.first()
        {
            hospital.set(h.code.clone());
        }
    });
    let password = RwSignal::new(String::new());
    // A password the server generated: (user, password), shown once.
    let secret = RwSignal::new(None::<(String, String)>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewUser {
            username: username.get_untracked().trim().to_owned(),
            role: role.get_untracked(),
            hospital: Some(hospital.get_untracked()).filter(|h| !h.is_empty()),
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
        };
        leptos::task::spawn_local(async move {
            if let Some(saved) =
                a.done(call::<UserSaved>("POST", "/api/admin/users", json(&body)).await)
            {
                secret.set(saved.password.map(|p| (saved.user.username.clone(), p)));
                a.notice.set(Some(format!(
                    "{} {}",
                    ui.t(Text::AdmSaved),
                    saved.user.username
                )));
                username.set(String::new());
                password.set(String::new());
                load();
            }
        });
    };
    let update = move |name: String, body: UserUpdate| {
        leptos::task::spawn_local(async move {
            let url = format!("/api/admin/users/{}", enc(&name));
            if a.done(call::<AdminUser>("PUT", &url, json(&body)).await)
                .is_some()
            {
                a.notice
                    .set(Some(format!("{} {name}", ui.t(Text::AdmSaved))));
                load();
            }
        });
    };
    let reset = move |name: String| {
        leptos::task::spawn_local(async move {
            let url = format!("/api/admin/users/{}/password", enc(&name));
            let body = PasswordReset { password: None };
            if let Some(saved) = a.done(call::<UserSaved>("POST", &url, json(&body)).await) {
                secret.set(saved.password.map(|p| (name, p)));
            }
        });
    };
    let row = move |u: AdminUser| {
        let shown_role = if u.regional_reader {
            "regional_reader".to_owned()
        } else {
            u.role.clone()
        };
        let name = StoredValue::new(u.username.clone());
        let disabled = u.disabled;
        let no_hospital = u.hospital.is_none();
        view! {
            <tr data-testid="admin-user-row" data-user=u.username.clone() class:disabled=disabled>
                <td>{u.username.clone()}</td>
                <td>
                    <select data-testid="admin-user-role" disabled=no_hospital on:change=move |ev| {
                        update(name.get_value(), UserUpdate { role: Some(event_target_value(&ev)), disabled: None });
                    }>
                        {ROLES.iter().map(|&r| {
                            let selected = r == shown_role;
                            view! { <option value=r selected=selected>{move || ui.t(role_text(r))}</option> }
                        }).collect_view()}
                    </select>
                </td>
                <td>{u.hospital.clone().unwrap_or_else(|| "–".into())}</td>
                <td data-testid="admin-user-status">{move || ui.t(if disabled { Text::AdmDisabled } else { Text::AdmActive })}</td>
                <td><div class="actions">
                    // Nobody disables themselves (the server refuses it too).
                    <Show when=move || ui.me.with(|m| m.as_ref().is_none_or(|m| m.username != name.get_value()))>
                        <button data-testid="admin-user-toggle" on:click=move |_| {
                            update(name.get_value(), UserUpdate { role: None, disabled: Some(!disabled) });
                        }>{move || ui.t(if disabled { Text::AdmEnable } else { Text::AdmDisable })}</button>
                    </Show>
                    <button data-testid="admin-user-reset" on:click=move |_| reset(name.get_value())>
                        {move || ui.t(Text::AdmResetPassword)}
                    </button>
                </div></td>
            </tr>
        }
    };
    view! {
        <section class="admin-section" data-testid="admin-users">
            <form class="admin-form" data-testid="admin-user-form" on:submit=create>
                <h2>{move || ui.t(Text::AdmNewUser)}</h2>
                <Field label=Text::Username value=username testid="admin-user-name" required=true/>
                <label>
                    <span>{move || ui.t(Text::AdmRole)}</span>
                    <select data-testid="admin-user-new-role" on:change=move |ev| role.set(event_target_value(&ev))>
                        {ROLES.iter().map(|&r| view! {
                            <option value=r selected=move || role.get() == r>{move || ui.t(role_text(r))}</option>
                        }).collect_view()}
                    </select>
                </label>
                <HospitalPicker value=hospital testid="admin-user-hospital" none=regional()/>
                <Field label=Text::AdmPasswordBlank value=password testid="admin-user-password" kind="password"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-user-create">{move || ui.t(Text::AdmCreate)}</button>
                </div>
            </form>
            <Show when=move || secret.get().is_some()>
                <p class="admin-secret" data-testid="admin-password-once">
                    {move || secret.get().map(|(u, _)| u)} " · " {move || ui.t(Text::AdmPasswordOnce)} " "
                    <code data-testid="admin-password-value">{move || secret.get().map(|(_, p)| p)}</code>
                </p>
            </Show>
            <div class="admin-table-wrap">
                <table class="admin-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::Username)}</th>
                        <th>{move || ui.t(Text::AdmRole)}</th>
                        <th>{move || ui.t(Text::Hospital)}</th>
                        <th>{move || ui.t(Text::AdmStatus)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{move || users.get().unwrap_or_default().into_iter().map(row).collect_view()}</tbody>
                </table>
            </div>
        </section>
    }
}

// ---- AE titles ----

#[component]
fn AesTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let aes = RwSignal::new(Vec::<AdminAe>::new());
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Some(l) = a.done(call::<AdminAeList>("GET", "/api/admin/aes", None).await) {
                aes.set(l.aes);
            }
        });
    };
    load();
    let title = RwSignal::new(String::new());
    let hospital = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(h) = a.hospitals.get().first()
            && hospital.get_untracked().is_empty()
        {
            hospital.set(h.code.clone());
        }
    });
    let host = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let port_text = port.get_untracked();
        let port_num = port_text.trim().parse::<u16>().ok();
        if !port_text.trim().is_empty() && port_num.is_none() {
            a.error
                .set(Some(format!("{}: {port_text}", ui.t(Text::AdmPort))));
            return;
        }
        let body = AdminAe {
            ae_title: title.get_untracked().trim().to_owned(),
            hospital: hospital.get_untracked(),
            host: Some(host.get_untracked()).filter(|h| !h.trim().is_empty()),
            port: port_num,
        };
        leptos::task::spawn_local(async move {
            if let Some(ae) = a.done(call::<AdminAe>("POST", "/api/admin/aes", json(&body)).await) {
                a.notice
                    .set(Some(format!("{} {}", ui.t(Text::AdmSaved), ae.ae_title)));
                title.set(String::new());
                host.set(String::new());
                port.set(String::new());
                load();
            }
        });
    };
    let remove = move |t: String| {
        leptos::task::spawn_local(async move {
            if a.done(send("DELETE", &format!("/api/admin/aes/{}", enc(&t))).await)
                .is_some()
            {
                load();
            }
        });
    };
    view! {
        <section class="admin-section" data-testid="admin-aes">
            <form class="admin-form" data-testid="admin-ae-form" on:submit=add>
                <Field label=Text::AdmAeTitle value=title testid="admin-ae-title" required=true/>
                <HospitalPicker value=hospital testid="admin-ae-hospital"/>
                <Field label=Text::AdmHost value=host testid="admin-ae-host"/>
                <Field label=Text::AdmPort value=port testid="admin-ae-port" kind="number"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-ae-add">{move || ui.t(Text::AdmAdd)}</button>
                </div>
            </form>
            <div class="admin-table-wrap">
                <table class="admin-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::AdmAeTitle)}</th>
                        <th>{move || ui.t(Text::Hospital)}</th>
                        <th>{move || ui.t(Text::AdmHost)}</th>
                        <th>{move || ui.t(Text::AdmPort)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{move || aes.get().into_iter().map(|ae| {
                        let t = StoredValue::new(ae.ae_title.clone());
                        view! {
                            <tr data-testid="admin-ae-row" data-ae=ae.ae_title.clone()>
                                <td><code>{ae.ae_title.clone()}</code></td>
                                <td>{ae.hospital.clone()}</td>
                                <td>{ae.host.clone().unwrap_or_default()}</td>
                                <td>{ae.port.map(|p| p.to_string()).unwrap_or_default()}</td>
                                <td><button data-testid="admin-ae-remove" on:click=move |_| remove(t.get_value())>
                                    {move || ui.t(Text::AdmRemove)}
                                </button></td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </div>
        </section>
    }
}

// ---- tokens ----

#[component]
fn TokensTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let tokens = RwSignal::new(Vec::<AdminToken>::new());
    let users = RwSignal::new(Vec::<AdminUser>::new());
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Some(l) = a.done(call::<AdminTokenList>("GET", "/api/admin/tokens", None).await)
            {
                tokens.set(l.tokens);
            }
        });
    };
    load();
    leptos::task::spawn_local(async move {
        if let Ok(l) = call::<AdminUserList>("GET", "/api/admin/users", None).await {
            users.set(l.users);
        }
    });
    let username = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let secret = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let days_text = days.get_untracked();
        let expires_days = days_text.trim().parse::<u32>().ok();
        if !days_text.trim().is_empty() && expires_days.is_none() {
            a.error
                .set(Some(format!("{}: {days_text}", ui.t(Text::AdmExpiresDays))));
            return;
        }
        let body = NewToken {
            username: username.get_untracked().trim().to_owned(),
            expires_days,
            note: note.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            if let Some(t) =
                a.done(call::<TokenCreated>("POST", "/api/admin/tokens", json(&body)).await)
            {
                secret.set(Some(t.secret));
                note.set(String::new());
                load();
            }
        });
    };
    // A hospital gateway's token: made here, shown once with the command to run.
    let gw_name = RwSignal::new(String::new());
    let gw_hospital = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(h) = a.hospitals.get().first()
            && gw_hospital.get_untracked().is_empty()
        {
            gw_hospital.set(h.code.clone());
        }
    });
    let gw_created = RwSignal::new(None::<GatewayTokenCreated>);
    let create_gateway = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewGatewayToken {
            name: gw_name.get_untracked().trim().to_owned(),
            hospital: gw_hospital.get_untracked(),
            expires_days: None,
        };
        leptos::task::spawn_local(async move {
            if let Some(t) = a.done(
                call::<GatewayTokenCreated>("POST", "/api/admin/gateway-tokens", json(&body)).await,
            ) {
                gw_created.set(Some(t));
                load();
            }
        });
    };
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let revoke = move |id: i64| {
        leptos::task::spawn_local(async move {
            if a.done(send("DELETE", &format!("/api/admin/tokens/{id}")).await)
                .is_some()
            {
                load();
            }
        });
    };
    view! {
        <section class="admin-section" data-testid="admin-tokens">
            <form class="admin-form" data-testid="admin-token-form" on:submit=create>
                <h2>{move || ui.t(Text::AdmNewToken)}</h2>
                <Field label=Text::Username value=username testid="admin-token-user" list="admin-token-users" required=true/>
                <datalist id="admin-token-users">
                    {move || users.get().into_iter().filter(|u| !u.disabled).map(|u| view! { <option value=u.username.clone()></option> }).collect_view()}
                </datalist>
                <Field label=Text::AdmExpiresDays value=days testid="admin-token-days" kind="number"/>
                <Field label=Text::AdmNote value=note testid="admin-token-note"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-token-create">{move || ui.t(Text::AdmCreate)}</button>
                </div>
            </form>
            <Show when=move || secret.get().is_some()>
                <p class="admin-secret" data-testid="admin-token-once">
                    {move || ui.t(Text::AdmTokenOnce)} " " <code data-testid="admin-token-value">{move || secret.get()}</code>
                </p>
            </Show>
            <form class="admin-form" data-testid="admin-gateway-token-form" on:submit=create_gateway>
                <h2>{move || ui.t(Text::AdmNewGatewayToken)}</h2>
                <Field label=Text::AdmGatewayName value=gw_name testid="admin-gateway-name" required=true/>
                <HospitalPicker value=gw_hospital testid="admin-gateway-hospital"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-gateway-token-create">{move || ui.t(Text::AdmCreate)}</button>
                </div>
            </form>
            {move || gw_created.get().map(|g| {
                let command = format!(
                    "rangsi gateway --data /var/lib/rangsi-gateway --dicom 0.0.0.0:11112 --upstream {origin} --token {}",
                    g.secret
                );
                view! {
                    <div class="admin-secret" data-testid="admin-gateway-token-once">
                        <p>{move || ui.t(Text::AdmTokenOnce)} " " <code data-testid="admin-gateway-token-value">{g.secret.clone()}</code></p>
                        <p>{move || ui.t(Text::AdmGatewayRun)}</p>
                        <pre data-testid="admin-gateway-command">{command}</pre>
                    </div>
                }
            })}
            <div class="admin-table-wrap">
                <table class="admin-table">
                    <thead><tr>
                        <th>"#"</th>
                        <th>{move || ui.t(Text::Username)}</th>
                        <th>{move || ui.t(Text::Hospital)}</th>
                        <th>{move || ui.t(Text::AdmKind)}</th>
                        <th>{move || ui.t(Text::AdmNote)}</th>
                        <th>{move || ui.t(Text::AdmCreated)}</th>
                        <th>{move || ui.t(Text::AdmExpires)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{move || tokens.get().into_iter().map(|t| {
                        let id = t.id;
                        let created = t.created_at.clone();
                        let expires = t.expires_at.clone();
                        view! {
                            <tr data-testid="admin-token-row" data-user=t.username.clone()>
                                <td class="num">{t.id}</td>
                                <td>{t.username.clone()}</td>
                                <td>{t.hospital.clone().unwrap_or_else(|| "–".into())}</td>
                                <td>{t.kind.clone()}</td>
                                <td>{t.note.clone()}</td>
                                <td>{move || super::report::when(&created)}</td>
                                <td>{
                                    let expires = expires.clone();
                                    move || expires.as_deref().map_or_else(|| ui.t(Text::AdmNever).to_owned(), super::report::when)
                                }</td>
                                <td><button data-testid="admin-token-revoke" on:click=move |_| revoke(id)>
                                    {move || ui.t(Text::AdmRevoke)}
                                </button></td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </div>
        </section>
    }
}

// ---- statistics ----

#[component]
fn StatsTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let hospital = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(h) = a.hospitals.get().first()
            && hospital.get_untracked().is_empty()
        {
            hospital.set(h.code.clone());
        }
    });
    let stats = RwSignal::new(None::<HospitalStats>);
    Effect::new(move |_| {
        let code = hospital.get();
        if code.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let url = format!("/api/admin/hospitals/{}/stats", enc(&code));
            stats.set(a.done(call::<HospitalStats>("GET", &url, None).await));
        });
    });
    view! {
        <section class="admin-section" data-testid="admin-stats">
            <div class="admin-form">
                <HospitalPicker value=hospital testid="admin-stats-hospital"/>
            </div>
            {move || stats.get().map(|s| {
                let max = s.per_day.iter().map(|d| d.instances).max().unwrap_or(0).max(1);
                view! {
                    <div class="admin-cards">
                        <div class="admin-card"><span>{move || ui.t(Text::Studies)}</span>
                            <strong data-testid="admin-stats-studies">{s.studies}</strong></div>
                        <div class="admin-card"><span>{move || ui.t(Text::AdmInstances)}</span>
                            <strong data-testid="admin-stats-instances">{s.instances}</strong></div>
                        <div class="admin-card"><span>{move || ui.t(Text::AdmStorage)}</span>
                            <strong data-testid="admin-stats-storage" title=format!("{} B", s.storage_bytes)>{human_bytes(s.storage_bytes)}</strong></div>
                    </div>
                    <h3>{move || ui.t(Text::AdmPerDay)}</h3>
                    <div class="admin-bars" data-testid="admin-stats-days">
                        {s.per_day.iter().map(|d| {
                            let pct = (d.instances as f64 / max as f64 * 100.0).round();
                            let title = {
                                let (day, n) = (d.day.clone(), d.instances);
                                move || format!("{}: {n}", day_text(&day))
                            };
                            view! {
                                <div class="admin-bar" title=title data-day=d.day.clone()>
                                    <div style=format!("height: {pct}%")></div>
                                </div>
                            }
                        }).collect_view()}
                    </div>
                    <div class="admin-bar-axis">
                        <span>{s.per_day.first().map(|d| { let day = d.day.clone(); move || day_text(&day) })}</span>
                        <span>{s.per_day.last().map(|d| { let day = d.day.clone(); move || day_text(&day) })}</span>
                    </div>
                }
            })}
            <h3>{move || ui.t(Text::AdmGateways)}</h3>
            <Gateways hospital=hospital/>
        </section>
    }
}

/// A `YYYY-MM-DD` day in the user's language and era (Buddhist or Common).
fn day_text(day: &str) -> String {
    let ui = ui();
    let da: String = day.chars().filter(|c| *c != '-').collect();
    crate::dates::format_da(&da, ui.lang.get(), ui.era.get())
}

/// The hospital's gateways (`GET /api/gateways`) with their health and queue.
#[component]
fn Gateways(hospital: RwSignal<String>) -> impl IntoView {
    let ui = ui();
    let a = admin();
    let list = RwSignal::new(None::<GatewayList>);
    leptos::task::spawn_local(async move {
        list.set(a.done(call::<GatewayList>("GET", "/api/gateways", None).await));
    });
    let shown = move || {
        let code = hospital.get();
        list.get()
            .map(|l| {
                l.gateways
                    .into_iter()
                    .filter(|g| g.hospital_code == code)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    view! {
        <div class="admin-table-wrap" data-testid="admin-gateways">
            <Show when=move || !shown().is_empty()
                fallback=move || view! { <p class="dim" data-testid="admin-gateways-none">{move || ui.t(Text::AdmNoGateways)}</p> }>
                <table class="admin-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::AdmName)}</th>
                        <th>{move || ui.t(Text::AdmStatus)}</th>
                        <th>{move || ui.t(Text::AdmLastReport)}</th>
                        <th>{move || ui.t(Text::AdmQueue)}</th>
                        <th>{move || ui.t(Text::AdmOldestPending)}</th>
                        <th>{move || ui.t(Text::AdmFailedItems)}</th>
                        <th>{move || ui.t(Text::AdmLastError)}</th>
                    </tr></thead>
                    <tbody>{move || shown().into_iter().map(|g| {
                        let (health, class) = match g.health {
                            GatewayHealth::Healthy => (Text::AdmGatewayHealthy, "ok"),
                            GatewayHealth::Late => (Text::AdmGatewayLate, "warn"),
                            GatewayHealth::Failing => (Text::AdmGatewayFailing, "error"),
                        };
                        let r = g.report.clone().unwrap_or_default();
                        let reported = g.reported_at.clone();
                        view! {
                            <tr data-testid="admin-gateway" data-health=format!("{:?}", g.health).to_lowercase()>
                                <td>{g.name.clone()}</td>
                                <td class=class>{move || ui.t(health)}</td>
                                <td>{move || reported.as_deref().map(super::report::when).unwrap_or_else(|| "—".into())}</td>
                                <td>{format!("{} ({})", r.queue_length, human_bytes(r.bytes_pending))}</td>
                                <td>{r.oldest_pending_secs.map(|s| format!("{} min", s / 60)).unwrap_or_else(|| "—".into())}</td>
                                <td>{r.failed}</td>
                                <td class="admin-error-text">{r.last_error.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </Show>
        </div>
    }
}

// ---- audit log ----

/// Actions the audit log records, offered in the search (any other can be typed).
const AUDIT_ACTIONS: &[&str] = &[
    "login",
    "query",
    "metadata",
    "retrieve",
    "store",
    "report",
    "reports",
    "share-open",
    "admin-denied",
    "admin-hospital-create",
    "admin-hospital-update",
    "admin-user-create",
    "admin-user-update",
    "admin-user-disable",
    "admin-user-enable",
    "admin-user-password",
    "admin-ae-add",
    "admin-ae-remove",
    "admin-token-create",
    "admin-token-revoke",
    "admin-audit-search",
    "admin-audit-export",
];

#[component]
fn AuditTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let patient = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let study = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let hospital = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let filter = move || AuditFilter {
        patient: patient.get(),
        user: user.get(),
        study: study.get(),
        action: action.get(),
        hospital: hospital.get(),
        from: from.get(),
        to: to.get(),
    };
    // The filter of the rows shown (the CSV link exports the same).
    let shown = RwSignal::new(AuditFilter::default());
    let entries = RwSignal::new(None::<Vec<AuditEntry>>);
    let next = RwSignal::new(None::<u64>);
    let fetch = move |f: AuditFilter, offset: u64| {
        leptos::task::spawn_local(async move {
            let mut qs = f.query_string();
            if !qs.is_empty() {
                qs.push('&');
            }
            let url = format!("/api/admin/audit?{qs}limit=100&offset={offset}");
            if let Some(p) = a.done(call::<AuditPage>("GET", &url, None).await) {
                next.set(p.next_offset);
                if offset == 0 {
                    entries.set(Some(p.entries));
                } else {
                    entries.update(|e| e.get_or_insert_with(Vec::new).extend(p.entries));
                }
            }
        });
    };
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = filter();
        shown.set(f.clone());
        fetch(f, 0);
    };
    fetch(AuditFilter::default(), 0);
    let csv = move || {
        let qs = shown.get().query_string();
        if qs.is_empty() {
            "/api/admin/audit.csv".to_owned()
        } else {
            format!("/api/admin/audit.csv?{qs}")
        }
    };
    view! {
        <section class="admin-section" data-testid="admin-audit">
            <form class="admin-form" data-testid="admin-audit-form" on:submit=search>
                <Field label=Text::PatientId value=patient testid="admin-audit-patient"/>
                <Field label=Text::Username value=user testid="admin-audit-user"/>
                <Field label=Text::AdmStudyUid value=study testid="admin-audit-study"/>
                <Field label=Text::AdmAction value=action testid="admin-audit-action" list="admin-audit-actions"/>
                <datalist id="admin-audit-actions">
                    {AUDIT_ACTIONS.iter().map(|a| view! { <option value=*a></option> }).collect_view()}
                </datalist>
                <Show when=regional>
                    <HospitalPicker value=hospital testid="admin-audit-hospital" none=true/>
                </Show>
                <Field label=Text::DateFrom value=from testid="admin-audit-from" kind="date"/>
                <Field label=Text::DateTo value=to testid="admin-audit-to" kind="date"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-audit-search">{move || ui.t(Text::Search)}</button>
                    <a class="button" data-testid="admin-audit-csv" href=csv download="">{move || ui.t(Text::AdmDownloadCsv)}</a>
                </div>
            </form>
            <div class="admin-table-wrap">
                <table class="admin-table audit-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::AdmWhen)}</th>
                        <th>{move || ui.t(Text::Username)}</th>
                        <th>{move || ui.t(Text::Hospital)}</th>
                        <th>{move || ui.t(Text::AdmAction)}</th>
                        <th>{move || ui.t(Text::PatientId)}</th>
                        <th>{move || ui.t(Text::AdmStudyUid)}</th>
                        <th>{move || ui.t(Text::AdmDetail)}</th>
                        <th>{move || ui.t(Text::AdmOutcome)}</th>
                    </tr></thead>
                    <tbody>{move || entries.get().unwrap_or_default().into_iter().map(|e| {
                        let at = e.at.clone();
                        view! {
                            <tr data-testid="admin-audit-row" data-action=e.action.clone()>
                                <td class="nowrap">{move || super::report::when(&at)}</td>
                                <td>{e.actor.clone()}</td>
                                <td>{e.hospital.clone().unwrap_or_default()}</td>
                                <td>{e.action.clone()}</td>
                                <td>{e.patient_id.clone()}</td>
                                <td class="uid">{e.study_uid.clone()}</td>
                                <td class="detail">{e.detail.clone()}</td>
                                <td>{e.outcome.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </div>
            <Show when=move || entries.with(|e| e.as_ref().is_some_and(Vec::is_empty))>
                <p class="dim" data-testid="admin-audit-empty">{move || ui.t(Text::AdmNothing)}</p>
            </Show>
            <Show when=move || next.get().is_some()>
                <button data-testid="admin-audit-more" on:click=move |_| {
                    if let Some(o) = next.get_untracked() {
                        fetch(shown.get_untracked(), o);
                    }
                }>{move || ui.t(Text::AdmMore)}</button>
            </Show>
        </section>
    }
}

// ---- report templates (the existing `/api/report-templates`) ----

#[component]
fn TemplatesTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let templates = RwSignal::new(Vec::<ReportTemplate>::new());
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Some(l) =
                a.done(call::<ReportTemplateList>("GET", "/api/report-templates", None).await)
            {
                let mut l = l.templates;
                l.sort_by(|x, y| {
                    (&x.modality, &x.body_part, &x.lang, &x.name).cmp(&(
                        &y.modality,
                        &y.body_part,
                        &y.lang,
                        &y.name,
                    ))
                });
                templates.set(l);
            }
        });
    };
    load();
    let open = RwSignal::new(false);
    let id = RwSignal::new(0_i64);
    let name = RwSignal::new(String::new());
    let lang = RwSignal::new("th".to_owned());
    let modality = RwSignal::new(String::new());
    let body_part = RwSignal::new(String::new());
    let findings = RwSignal::new(String::new());
    let impression = RwSignal::new(String::new());
    let recommendation = RwSignal::new(String::new());
    let fill = move |t: Option<ReportTemplate>| {
        let t = t.unwrap_or(ReportTemplate {
            id: 0,
            name: String::new(),
            lang: ui.lang.get_untracked().code().to_owned(),
            modality: String::new(),
            body_part: String::new(),
            findings: String::new(),
            impression: String::new(),
            recommendation: String::new(),
        });
        id.set(t.id);
        name.set(t.name);
        lang.set(t.lang);
        modality.set(t.modality);
        body_part.set(t.body_part);
        findings.set(t.findings);
        impression.set(t.impression);
        recommendation.set(t.recommendation);
        open.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = ReportTemplate {
            id: 0,
            name: name.get_untracked(),
            lang: lang.get_untracked(),
            modality: modality.get_untracked().trim().to_uppercase(),
            body_part: body_part.get_untracked().trim().to_uppercase(),
            findings: findings.get_untracked(),
            impression: impression.get_untracked(),
            recommendation: recommendation.get_untracked(),
        };
        let id = id.get_untracked();
        leptos::task::spawn_local(async move {
            let r = if id == 0 {
                call::<ReportTemplate>("POST", "/api/report-templates", json(&t)).await
            } else {
                call::<ReportTemplate>("PUT", &format!("/api/report-templates/{id}"), json(&t))
                    .await
            };
            if let Some(t) = a.done(r) {
                open.set(false);
                a.notice
                    .set(Some(format!("{} {}", ui.t(Text::AdmSaved), t.name)));
                load();
            }
        });
    };
    let remove = move |id: i64| {
        leptos::task::spawn_local(async move {
            if a.done(send("DELETE", &format!("/api/report-templates/{id}")).await)
                .is_some()
            {
                open.set(false);
                load();
            }
        });
    };
    let area = move |label: Text, value: RwSignal<String>, testid: &'static str| {
        view! {
            <label class="wide">
                <span>{move || ui.t(label)}</span>
                <textarea rows="4" data-testid=testid prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))></textarea>
            </label>
        }
    };
    view! {
        <section class="admin-section" data-testid="admin-templates">
            // The region's templates: its administrator edits them (the server says so too).
            <Show when=move || regional() && !open.get()>
                <button class="primary" data-testid="admin-template-new" on:click=move |_| fill(None)>
                    {move || ui.t(Text::AdmNewTemplate)}
                </button>
            </Show>
            <Show when=move || open.get()>
                <form class="admin-form" data-testid="admin-template-form" on:submit=save>
                    <Field label=Text::AdmTemplateName value=name testid="admin-template-name" required=true/>
                    <label>
                        <span>{move || ui.t(Text::Language)}</span>
                        <select data-testid="admin-template-lang" on:change=move |ev| lang.set(event_target_value(&ev))>
                            <option value="th" selected=move || lang.get() == "th">"ไทย"</option>
                            <option value="en" selected=move || lang.get() == "en">"English"</option>
                        </select>
                    </label>
                    <Field label=Text::Modality value=modality testid="admin-template-modality"/>
                    <Field label=Text::AdmBodyPart value=body_part testid="admin-template-body-part"/>
                    {area(Text::Findings, findings, "admin-template-findings")}
                    {area(Text::Impression, impression, "admin-template-impression")}
                    {area(Text::Recommendation, recommendation, "admin-template-recommendation")}
                    <div class="admin-form-actions">
                        <button type="submit" class="primary" data-testid="admin-template-save">{move || ui.t(Text::AdmSave)}</button>
                        <button type="button" on:click=move |_| open.set(false)>{move || ui.t(Text::AdmCancel)}</button>
                        <Show when=move || id.get() != 0>
                            <button type="button" class="danger" data-testid="admin-template-delete"
                                on:click=move |_| remove(id.get_untracked())>{move || ui.t(Text::AdmDelete)}</button>
                        </Show>
                    </div>
                </form>
            </Show>
            <div class="admin-table-wrap">
                <table class="admin-table">
                    <thead><tr>
                        <th>{move || ui.t(Text::Modality)}</th>
                        <th>{move || ui.t(Text::AdmBodyPart)}</th>
                        <th>{move || ui.t(Text::Language)}</th>
                        <th>{move || ui.t(Text::AdmTemplateName)}</th>
                        <th></th>
                    </tr></thead>
                    <tbody>{move || templates.get().into_iter().map(|t| {
                        let any = move || ui.t(Text::AdmAny).to_owned();
                        let modality = t.modality.clone();
                        let body_part = t.body_part.clone();
                        let shown = t.clone();
                        view! {
                            <tr data-testid="admin-template-row" data-name=t.name.clone()>
                                <td>{move || if modality.is_empty() { any() } else { modality.clone() }}</td>
                                <td>{move || if body_part.is_empty() { any() } else { body_part.clone() }}</td>
                                <td>{t.lang.clone()}</td>
                                <td>{t.name.clone()}</td>
                                <td><Show when=regional>
                                    {
                                        let shown = shown.clone();
                                        view! {
                                            <button data-testid="admin-template-edit" on:click=move |_| fill(Some(shown.clone()))>
                                                {move || ui.t(Text::AdmEdit)}
                                            </button>
                                        }
                                    }
                                </Show></td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            </div>
        </section>
    }
}

// ---- turnaround (the existing `/api/reports/turnaround`) ----

#[component]
fn TurnaroundTab() -> impl IntoView {
    let ui = ui();
    let a = admin();
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let figures = RwSignal::new(None::<Turnaround>);
    let load = move || {
        let mut qs = Vec::new();
        for (k, v) in [("from", from.get_untracked()), ("to", to.get_untracked())] {
            if !v.is_empty() {
                qs.push(format!("{k}={}", enc(&v)));
            }
        }
        leptos::task::spawn_local(async move {
            let url = format!("/api/reports/turnaround?{}", qs.join("&"));
            figures.set(a.done(call::<Turnaround>("GET", &url, None).await));
        });
    };
    load();
    let table = move |title: Text, key: Text, rows: Vec<TurnaroundRow>, testid: &'static str| {
        view! {
            <h3>{move || ui.t(title)}</h3>
            <div class="admin-table-wrap">
                <table class="admin-table" data-testid=testid>
                    <thead><tr>
                        <th>{move || ui.t(key)}</th>
                        <th class="num">{move || ui.t(Text::AdmReports)}</th>
                        <th class="num">{move || ui.t(Text::AdmMedian)}</th>
                        <th class="num">{move || ui.t(Text::AdmP90)}</th>
                        <th class="num">{move || ui.t(Text::AdmMaxHours)}</th>
                    </tr></thead>
                    <tbody>{rows.into_iter().map(|r| view! {
                        <tr data-key=r.key.clone()>
                            <td>{r.key.clone()}</td>
                            <td class="num">{r.reports}</td>
                            <td class="num">{format!("{:.1}", r.median_hours)}</td>
                            <td class="num">{format!("{:.1}", r.p90_hours)}</td>
                            <td class="num">{format!("{:.1}", r.max_hours)}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            </div>
        }
    };
    view! {
        <section class="admin-section" data-testid="admin-turnaround">
            <form class="admin-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                load();
            }>
                <Field label=Text::DateFrom value=from testid="admin-turnaround-from" kind="date"/>
                <Field label=Text::DateTo value=to testid="admin-turnaround-to" kind="date"/>
                <div class="admin-form-actions">
                    <button type="submit" class="primary" data-testid="admin-turnaround-show">{move || ui.t(Text::AdmShow)}</button>
                </div>
            </form>
            <p class="dim">{move || ui.t(Text::AdmTurnaroundNote)}</p>
            {move || figures.get().map(|f| view! {
                {table(Text::AdmByHospital, Text::Hospital, f.by_hospital, "admin-turnaround-hospitals")}
                {table(Text::AdmByRadiologist, Text::Radiologist, f.by_radiologist, "admin-turnaround-radiologists")}
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GB");
    }
}
