//! The login page: username and password to `/api/login` (a session cookie), then
//! on to the page the URL asked for (a deep link opens straight into the viewer).

use leptos::prelude::*;

use super::api;
use super::app::ui;
use crate::i18n::{Lang, Text};

#[component]
pub fn LoginPage() -> impl IntoView {
    let ui = ui();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failed.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        leptos::task::spawn_local(async move {
            match api::login(&u, &p).await {
                Ok(me) => ui.me.set(Some(me)),
                Err(api::CallError::Unauthenticated) => {
                    failed.set(Some(ui.t(Text::LoginFailed).to_owned()))
                }
                Err(e) => failed.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <main class="login">
            <form class="login-box" on:submit=submit>
                <h1>"รังสี" <span class="sub">"Rangsi PACS"</span></h1>
                <label>
                    {move || ui.t(Text::Username)}
                    <input data-testid="login-username" type="text" autocomplete="username" required
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))/>
                </label>
                <label>
                    {move || ui.t(Text::Password)}
                    <input data-testid="login-password" type="password" autocomplete="current-password" required
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <button data-testid="login-submit" type="submit" disabled=move || busy.get()>
                    {move || ui.t(Text::LogIn)}
                </button>
                <p class="error" data-testid="login-error">{move || failed.get().unwrap_or_default()}</p>
                <button type="button" class="link" data-testid="lang-toggle" on:click=move |_| {
                    let next = if ui.lang.get_untracked() == Lang::Th { Lang::En } else { Lang::Th };
                    super::prefs::set_lang(next);
                    ui.lang.set(next);
                }>{move || if ui.lang.get() == Lang::Th { "English" } else { "ภาษาไทย" }}</button>
            </form>
        </main>
    }
}
