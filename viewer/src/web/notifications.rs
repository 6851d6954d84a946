//! The top bar's bell: report events of the user's hospital (`/api/notifications`,
//! `service::notify` on the server) — a preliminary or signed report, a critical
//! result — with the unread count, checked on mount and every minute. Opening one
//! marks it read and opens its study.

use leptos::prelude::*;
use rangsi_wire::reports::{Notification, NotificationList};

use super::api;
use super::app::ui;
use crate::i18n::Text;
use crate::route::Route;

/// How often the bell asks again.
const POLL_MS: u64 = 60_000;

async fn fetch() -> Result<NotificationList, String> {
    let v = api::json("GET", "/api/notifications", "application/json", None)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[component]
pub fn NotificationBell() -> impl IntoView {
    let ui = ui();
    let list: RwSignal<Vec<Notification>> = RwSignal::new(Vec::new());
    let open = RwSignal::new(false);
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(l) = fetch().await {
                list.set(l.notifications);
            }
        });
    };
    refresh();
    if let Ok(timer) = set_interval_with_handle(refresh, std::time::Duration::from_millis(POLL_MS))
    {
        on_cleanup(move || timer.clear());
    }
    let unread = move || list.with(|l| l.iter().filter(|n| !n.read).count());
    let has_unread = move || unread() != 0;
    let open_one = move |n: Notification| {
        open.set(false);
        list.update(|l| {
            if let Some(m) = l.iter_mut().find(|m| m.id == n.id) {
                m.read = true;
            }
        });
        leptos::task::spawn_local(async move {
            let url = format!("/api/notifications/{}/read", n.id);
            let _ = api::json("POST", &url, "application/json", None).await;
        });
        ui.navigate(Route::Viewer {
            study_uids: vec![n.study_uid],
        });
    };
    view! {
        <div class="bell">
            <button data-testid="notifications" title=move || ui.t(Text::Notifications)
                class:unread=has_unread
                on:click=move |_| { open.update(|o| *o = !*o); if open.get_untracked() { refresh(); } }>
                <svg class="bell-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>
                <Show when=has_unread>
                    <span class="count" data-testid="notifications-unread">{unread}</span>
                </Show>
            </button>
            <Show when=move || open.get()>
                <ul class="bell-list" data-testid="notification-list">
                    <Show when=move || list.with(Vec::is_empty)>
                        <li class="dim">{move || ui.t(Text::NoNotifications)}</li>
                    </Show>
                    {move || list.get().into_iter().map(|n| {
                        let shown = n.clone();
                        view! {
                            <li data-testid="notification" class:read=n.read class:critical=n.critical
                                on:click=move |_| open_one(shown.clone())>
                                {n.text.clone()}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
        </div>
    }
}
