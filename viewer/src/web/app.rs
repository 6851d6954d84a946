//! The root component: checks the session, then shows the login page or the page of
//! the current route; owns the shared UI state ([`Ui`]): language, era, user, route,
//! and what the About panel shows.

use leptos::prelude::*;
use rangsi_wire::api::Me;

use super::{api, prefs};
use crate::dates::Era;
use crate::i18n::{Lang, Text, tr};
use crate::route::Route;

/// Shared UI state, provided as context (all fields are signals, so it is `Copy`).
#[derive(Clone, Copy)]
pub struct Ui {
    pub lang: RwSignal<Lang>,
    pub era: RwSignal<Era>,
    pub me: RwSignal<Option<Me>>,
    pub route: RwSignal<Route>,
    pub about_open: RwSignal<bool>,
    /// The next reading page opens with its report panel (a worklist item was opened).
    pub open_report: RwSignal<bool>,
    /// Graphics backend ("WebGPU" / "WebGL2") and adapter, once a viewport opened one.
    pub graphics: RwSignal<Option<(String, String)>>,
}

impl Ui {
    /// `text` in the current language (reactive).
    pub fn t(&self, text: Text) -> &'static str {
        tr(self.lang.get(), text)
    }

    /// Shows `route` and records it in the browser history.
    pub fn navigate(&self, route: Route) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ =
                history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&route.url()));
        }
        self.route.set(route);
    }
}

pub fn ui() -> Ui {
    expect_context::<Ui>()
}

fn current_route() -> Route {
    let location = web_sys::window().map(|w| w.location());
    let path = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_default();
    let search = location
        .as_ref()
        .and_then(|l| l.search().ok())
        .unwrap_or_default();
    Route::parse(&path, &search)
}

#[component]
pub fn App() -> impl IntoView {
    let lang = prefs::lang();
    prefs::set_lang(lang);
    let ui = Ui {
        lang: RwSignal::new(lang),
        era: RwSignal::new(prefs::era()),
        me: RwSignal::new(None),
        route: RwSignal::new(current_route()),
        about_open: RwSignal::new(false),
        open_report: RwSignal::new(false),
        graphics: RwSignal::new(None),
    };
    provide_context(ui);
    let checked = RwSignal::new(false);
    // A deep link into the viewer: its studies' queries and the decode workers (their
    // wasm download and compile) start now, beside `/api/me`, not after it.
    if let Route::Viewer { study_uids } = ui.route.get_untracked() {
        for uid in &study_uids {
            api::prefetch_study(uid);
        }
    }
    if matches!(
        ui.route.get_untracked(),
        Route::Viewer { .. } | Route::Patient { .. }
    ) {
        let _ = super::workers::DecodePool::get();
    }
    // A share link's landing page sets the (guest) principal itself once the link opens;
    // a session check racing with it must not overwrite that.
    if matches!(ui.route.get_untracked(), Route::Share { .. }) {
        checked.set(true);
    } else {
        leptos::task::spawn_local(async move {
            if let Ok(me) = api::me().await {
                ui.me.set(me);
            }
            checked.set(true);
        });
    }
    let popstate =
        window_event_listener(leptos::ev::popstate, move |_| ui.route.set(current_route()));
    on_cleanup(move || popstate.remove());

    // (logged in, route), or `None` while the session is checked. A deep link into the
    // viewer does not wait for `/api/me`: the reading page mounts (and opens its GPU) at
    // once, and turns into the login page if the session check or a query says 401. A
    // memo, so that the answer of `/api/me` does not mount the page a second time.
    let shown = Memo::new(move |_| {
        let route = ui.route.get();
        let deep = matches!(
            route,
            Route::Viewer { .. } | Route::Patient { .. } | Route::Share { .. }
        );
        match (checked.get(), ui.me.with(Option::is_some)) {
            (false, _) if !deep => None,
            (false, _) => Some((true, route)),
            (true, logged_in) => Some((logged_in, route)),
        }
    });
    let page = move || {
        let Some(shown) = shown.get() else {
            return view! { <div class="splash">{move || ui.t(Text::Loading)}</div> }.into_any();
        };
        match shown {
            // A share link needs no login: its landing page opens it.
            (_, Route::Share { token }) => {
                view! { <super::sharing::ShareLanding token=token/> }.into_any()
            }
            (false, _) => view! { <super::login::LoginPage/> }.into_any(),
            (true, Route::Referrals) => view! { <super::sharing::ReferralsPage/> }.into_any(),
            (true, Route::Worklist) => view! { <super::consults::WorklistPage/> }.into_any(),
            (true, Route::Admin) => view! { <super::admin::AdminPage/> }.into_any(),
            (true, Route::Studies { patient_id }) => {
                view! { <super::study_list::StudyList patient_id=patient_id/> }.into_any()
            }
            (true, Route::Viewer { study_uids }) => {
                view! { <super::viewer::ViewerPage study_uids=study_uids/> }.into_any()
            }
            (
                true,
                Route::Patient {
                    patient_id,
                    most_recent,
                },
            ) => {
                use super::study_list::PatientStudies;
                view! { <PatientStudies patient_id=patient_id most_recent=most_recent/> }.into_any()
            }
        }
    };
    view! {
        {page}
        <AboutPanel/>
    }
}

/// The bar at the top of every page after login.
#[component]
pub fn TopBar(children: Children) -> impl IntoView {
    let ui = ui();
    let toggle_lang = move |_| {
        let next = if ui.lang.get_untracked() == Lang::Th {
            Lang::En
        } else {
            Lang::Th
        };
        prefs::set_lang(next);
        ui.lang.set(next);
    };
    let toggle_era = move |_| {
        let next = if ui.era.get_untracked() == Era::Buddhist {
            Era::Common
        } else {
            Era::Buddhist
        };
        prefs::set_era(next);
        ui.era.set(next);
    };
    let logout = move |_| {
        let guest = super::sharing::is_guest();
        leptos::task::spawn_local(async move {
            if guest {
                super::share_api::close_share().await;
            }
            api::logout().await;
            ui.me.set(None);
            ui.navigate(Route::Studies { patient_id: None });
        });
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/" on:click=move |ev| {
                ev.prevent_default();
                ui.navigate(Route::Studies { patient_id: None });
            }>"รังสี Rangsi"</a>
            <div class="topbar-main">{children()}</div>
            <div class="topbar-tools">
                <button data-testid="lang-toggle" title=move || ui.t(Text::Language) on:click=toggle_lang>
                    {move || if ui.lang.get() == Lang::Th { "EN" } else { "ไทย" }}
                </button>
                <button data-testid="era-toggle" title=move || ui.t(Text::DateEra) on:click=toggle_era>
                    {move || match (ui.lang.get(), ui.era.get()) {
                        (Lang::Th, Era::Buddhist) => "พ.ศ.",
                        (Lang::Th, Era::Common) => "ค.ศ.",
                        (Lang::En, Era::Buddhist) => "BE",
                        (Lang::En, Era::Common) => "CE",
                    }}
                </button>
                <Show when=move || ui.me.with(|m| m.as_ref().is_some_and(|m| m.role == "radiologist"))>
                    <button data-testid="worklist-open-page" on:click=move |_| ui.navigate(Route::Worklist)>
                        {move || ui.t(Text::Worklist)}
                    </button>
                </Show>
                <Show when=move || ui.me.with(|m| m.as_ref().is_some_and(|m| m.role == "admin"))>
                    <button data-testid="admin-open" on:click=move |_| ui.navigate(Route::Admin)>
                        {move || ui.t(Text::Admin)}
                    </button>
                </Show>
                <Show when=move || !super::sharing::is_guest()>
                    <button data-testid="referrals-open" on:click=move |_| ui.navigate(Route::Referrals)>
                        {move || ui.t(Text::Referrals)}
                    </button>
                </Show>
                <button data-testid="about-open" on:click=move |_| ui.about_open.set(true)>
                    {move || ui.t(Text::About)}
                </button>
                <Show when=move || ui.me.with(|m| m.as_ref().is_some_and(|m| m.hospital.is_some()))>
                    <super::notifications::NotificationBell/>
                </Show>
                <span class="user" data-testid="user">
                    {move || ui.me.get().map(|m| m.username).unwrap_or_default()}
                </span>
                <button data-testid="logout" on:click=logout>{move || ui.t(Text::LogOut)}</button>
            </div>
        </header>
    }
}

/// Version, graphics backend and keyboard shortcuts.
#[component]
fn AboutPanel() -> impl IntoView {
    let ui = ui();
    view! {
        <Show when=move || ui.about_open.get()>
            <div class="modal-backdrop" on:click=move |_| ui.about_open.set(false)>
                <div class="modal" data-testid="about" on:click=|ev| ev.stop_propagation()>
                    <h2>{move || ui.t(Text::AppName)} " " {env!("CARGO_PKG_VERSION")}</h2>
                    <dl>
                        <dt>{move || ui.t(Text::Graphics)}</dt>
                        <dd data-testid="about-backend">
                            {move || ui.graphics.get().map(|g| g.0).unwrap_or_else(|| "–".into())}
                        </dd>
                        <dt>{move || ui.t(Text::Adapter)}</dt>
                        <dd data-testid="about-adapter">
                            {move || ui.graphics.get().map(|g| g.1).unwrap_or_else(|| "–".into())}
                        </dd>
                    </dl>
                    <h3>{move || ui.t(Text::Shortcuts)}</h3>
                    <ul class="shortcuts">
                        <li>{move || ui.t(Text::ShortcutScroll)}</li>
                        <li>{move || ui.t(Text::ShortcutWindow)}</li>
                        <li>{move || ui.t(Text::ShortcutPresets)}</li>
                        {crate::stack::CT_PRESETS
                            .iter()
                            .map(|p| {
                                view! {
                                    <li class="preset">
                                        <kbd>{p.key.to_string()}</kbd>
                                        " "
                                        {move || if ui.lang.get() == Lang::Th { p.name_th } else { p.name_en }}
                                        {format!(" {:.0}/{:.0}", p.window.width, p.window.center)}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <button data-testid="about-close" on:click=move |_| ui.about_open.set(false)>
                        {move || ui.t(Text::Close)}
                    </button>
                </div>
            </div>
        </Show>
    }
}
