//! The habits of a phone on the desk, wired to Tauri: one instance, `tel:`/`sip:` links, the
//! tray icon with the agent's state, global hotkeys, desktop notifications, start at login,
//! window state, and the diagnostics bundle. Every decision lives in `seatline-desk-habits`,
//! `seatline-settings` and `seatline-diagnostics`; this module only connects them.

use crate::{AppState, CommandError, AGENT_EVENT};
use seatline_desk_habits::{
    decide, link_argument, menu_entries, minutes_until, parse_dial_link, parse_menu_id,
    reason_labels, tooltip, DeskEvent, DialLink, LinkError, NoticeAction, NoticeKind, NotifyPrefs,
    ReasonLabels, SyncHealth, TrayCommand,
};
use seatline_secrets::{SecretName, SecretStore};
use seatline_settings::{DesktopSettings, HotkeyAction, Language, SyncSettings};
use seatline_workspace::desk::{OrderQuery, SyncState, SyncView};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

/// Tells the window a dial link is waiting; it takes it with `take_dial_link`.
pub const DIAL_LINK_EVENT: &str = "dial-link";
/// A hotkey or a notification's button asks the phone panel to act.
pub const DESK_ACTION_EVENT: &str = "desk-action";
const TRAY_ID: &str = "seatline";
const INCOMING_CALL_ACTIONS: &str = "incoming-call";

/// What a hotkey or a notification button asks the phone panel to do (`call` when known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskAction {
    pub action: &'static str,
    pub call: Option<String>,
}

/// The desktop section as the settings window shows it, with what could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesktopView {
    pub settings: DesktopSettings,
    /// Hotkeys that could not be registered, start at login that could not be changed …
    pub problems: Vec<String>,
    pub log_dir: PathBuf,
}

/// The shell's desktop state.
#[derive(Default)]
pub struct DesktopState {
    pending_link: Mutex<Option<Result<DialLink, LinkError>>>,
    last_link: Mutex<Option<(String, Instant)>>,
    problems: Mutex<Vec<String>>,
    hotkeys: Mutex<HashMap<u32, HotkeyAction>>,
    last_sync: Mutex<Option<(SyncHealth, u64)>>,
    call_notices: Mutex<HashMap<i32, String>>,
    callbacks_shown: Mutex<HashSet<String>>,
    /// What the tray shows now (its text, the window's visibility and the state-change
    /// choices), so a tick rebuilds the menu only when one of them changed.
    tray_shown: Mutex<String>,
    secrets: Option<Arc<dyn SecretStore>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DesktopState {
    /// The state, reading known secrets (to redact from diagnostics) from `secrets`.
    pub fn new(secrets: Option<Arc<dyn SecretStore>>) -> Self {
        Self {
            secrets,
            ..Self::default()
        }
    }
}

fn link_error(error: LinkError) -> CommandError {
    CommandError {
        code: "bad_link",
        message: error.to_string(),
    }
}

fn settings_error(error: seatline_workspace::WorkspaceError) -> CommandError {
    let hotkey = matches!(
        &error,
        seatline_workspace::WorkspaceError::Settings(seatline_settings::SettingsError::Hotkey(_))
    );
    let mut error = CommandError::from(error);
    if hotkey {
        error.code = "hotkey";
    }
    error
}

// ---- commands ----

#[tauri::command]
pub fn desktop_settings(
    state: State<'_, AppState>,
    desktop: State<'_, DesktopState>,
) -> Result<DesktopView, CommandError> {
    Ok(view(&state, &desktop))
}

fn view(state: &AppState, desktop: &DesktopState) -> DesktopView {
    let workspace = state.workspace();
    DesktopView {
        settings: workspace.desktop().clone(),
        problems: lock(&desktop.problems).clone(),
        log_dir: seatline_diagnostics::log_dir(&workspace.info().data_dir),
    }
}

/// Checks, saves and applies the desktop section (hotkeys registered again, start at login).
/// An invalid or clashing hotkey is refused (code `hotkey`) and nothing changes; a hotkey the
/// OS refuses is saved and reported in `problems`.
#[tauri::command]
pub fn set_desktop_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    desktop: State<'_, DesktopState>,
    settings: DesktopSettings,
) -> Result<DesktopView, CommandError> {
    let saved = state
        .workspace()
        .set_desktop(&settings)
        .map_err(settings_error)?;
    apply(&app, &desktop, &saved);
    Ok(view(&state, &desktop))
}

/// How long requests to the center's server may take (the settings' `[sync]` section).
#[tauri::command]
pub fn connection_settings(state: State<'_, AppState>) -> SyncSettings {
    state.workspace().settings().sync
}

/// Checks and saves the server timeouts; sign-in and the next sync use them at once, the
/// screen pop's feeds from the next start. An invalid value is refused (code `settings`) and
/// nothing changes.
#[tauri::command]
pub fn set_connection_settings(
    state: State<'_, AppState>,
    settings: SyncSettings,
) -> Result<SyncSettings, CommandError> {
    let saved = state.workspace().set_sync(&settings)?;
    state
        .desk()
        .set_timeouts(seatline_workspace::desk::sync_timeouts(&saved));
    Ok(saved)
}

/// Writes a zip of the recent logs, the settings and the versions, secrets redacted, to the
/// data directory's `diagnostics` folder and returns its path.
#[tauri::command]
pub async fn collect_diagnostics(
    state: State<'_, AppState>,
    desktop: State<'_, DesktopState>,
) -> Result<PathBuf, CommandError> {
    let (info, server_url) = {
        let workspace = state.workspace();
        (workspace.info(), workspace.settings().server_url.clone())
    };
    let folder = info.data_dir.join("diagnostics");
    std::fs::create_dir_all(&folder).map_err(|error| CommandError {
        code: "diagnostics",
        message: format!("cannot create {}: {error}", folder.display()),
    })?;
    let stamp = seatline_workspace::host::wall_clock_millis();
    let output = folder.join(format!("seatline-diagnostics-{stamp}.zip"));
    let mut versions = vec![
        ("seatline".to_owned(), info.version.to_owned()),
        ("tauri".to_owned(), tauri::VERSION.to_owned()),
        (
            "os".to_owned(),
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        ),
        ("language".to_owned(), format!("{:?}", info.language)),
    ];
    if let Ok(webview) = tauri::webview_version() {
        versions.push(("webview".to_owned(), webview));
    }
    if let Some(url) = server_url {
        versions.push(("server".to_owned(), url));
    }
    let known = known_secrets(&desktop, &info.data_dir);
    let settings_file = info.settings_file.clone();
    let data_dir = info.data_dir.clone();
    let summary = tauri::async_runtime::spawn_blocking(move || {
        seatline_diagnostics::collect(seatline_diagnostics::BundleRequest {
            data_dir: &data_dir,
            settings_file: &settings_file,
            versions,
            output: &output,
            known_secrets: known,
        })
    })
    .await
    .map_err(|error| CommandError {
        code: "diagnostics",
        message: error.to_string(),
    })?
    .map_err(|error| CommandError {
        code: "diagnostics",
        message: error.to_string(),
    })?;
    Ok(summary.path)
}

/// The SIP password of the saved phone account, read from the keychain to be removed from the
/// bundle wherever it appears (the server token is removed by its shapes: `Bearer …`, `token=…`).
fn known_secrets(desktop: &DesktopState, data_dir: &std::path::Path) -> Vec<String> {
    let Some(store) = &desktop.secrets else {
        return Vec::new();
    };
    let session = seatline_phone_session::PhoneSession::new(
        data_dir,
        Arc::clone(store),
        seatline_sip_phone::AudioIo::Null,
    );
    let Ok(Some(account)) = session.saved_account() else {
        return Vec::new();
    };
    let mut names = vec![SecretName::sip_password(&account.user, &account.domain)];
    if let Some(auth) = &account.auth_user {
        names.push(SecretName::sip_password(auth, &account.domain));
    }
    names
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|name| store.get(&name).ok().flatten())
        .map(|secret| secret.expose().to_owned())
        .collect()
}

/// The dial link waiting for the window, if any (taken once); a link that did not parse is an
/// error with code `bad_link`.
#[tauri::command]
pub fn take_dial_link(desktop: State<'_, DesktopState>) -> Result<Option<DialLink>, CommandError> {
    match lock(&desktop.pending_link).take() {
        None => Ok(None),
        Some(Ok(link)) => Ok(Some(link)),
        Some(Err(error)) => Err(link_error(error)),
    }
}

// ---- links ----

/// A link from the OS (a click on `tel:`/`sip:`, a second launch): parsed, kept for the window,
/// the window shown and told. The same link twice within two seconds (the deep-link plugin and
/// the single-instance callback both see a second launch) counts once.
pub fn handle_link<R: Runtime>(app: &AppHandle<R>, text: &str) {
    let desktop = app.state::<DesktopState>();
    {
        let mut last = lock(&desktop.last_link);
        if let Some((previous, at)) = last.as_ref() {
            if previous == text && at.elapsed() < Duration::from_secs(2) {
                return;
            }
        }
        *last = Some((text.to_owned(), Instant::now()));
    }
    let parsed = parse_dial_link(text);
    match &parsed {
        Ok(link) => tracing::info!(target = %link.target, "dial link received"),
        Err(error) => tracing::warn!(%error, "a link that cannot be dialled"),
    }
    *lock(&desktop.pending_link) = Some(parsed);
    show_window(app);
    if let Err(error) = app.emit(DIAL_LINK_EVENT, ()) {
        tracing::warn!(%error, "cannot tell the window about a dial link");
    }
}

fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn toggle_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        if window.is_visible().unwrap_or(false) {
            let _ = window.hide();
        } else {
            show_window(app);
        }
    }
}

// ---- plugins and setup (the real app only; the mock runtime in tests has none of them) ----

/// Adds the desktop plugins to the real app's builder. Single instance goes first, as its
/// documentation asks.
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            show_window(app);
            // The deep-link plugin sees registered schemes; this also catches a link passed
            // where the scheme is not registered (a portable or development build).
            if let Some(text) = link_argument(&args) {
                handle_link(app, text);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, shortcut, event| {
                    if event.state != tauri_plugin_global_shortcut::ShortcutState::Pressed {
                        return;
                    }
                    let action = lock(&app.state::<DesktopState>().hotkeys)
                        .get(&shortcut.id())
                        .copied();
                    if let Some(action) = action {
                        emit_action(app, action.name(), None);
                    }
                })
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(
            tauri::plugin::Builder::<R, ()>::new("seatline-desk")
                .setup(|app, _| {
                    setup(app);
                    Ok(())
                })
                .build(),
        )
}

fn emit_action<R: Runtime>(app: &AppHandle<R>, action: &'static str, call: Option<String>) {
    if action == "answer" {
        show_window(app);
    }
    if let Err(error) = app.emit(DESK_ACTION_EVENT, DeskAction { action, call }) {
        tracing::warn!(%error, "cannot send a desk action to the window");
    }
}

fn setup<R: Runtime>(app: &AppHandle<R>) {
    // Links: the one the app was started with, then every later one.
    use tauri_plugin_deep_link::DeepLinkExt;
    let deep_link = app.deep_link();
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = deep_link.register_all() {
        tracing::warn!(%error, "cannot register the tel:/sip: link handlers");
    }
    let handle = app.clone();
    deep_link.on_open_url(move |event| {
        for url in event.urls() {
            handle_link(&handle, url.as_str());
        }
    });
    match deep_link.get_current() {
        Ok(Some(urls)) => {
            for url in urls {
                handle_link(app, url.as_str());
            }
        }
        _ => {
            let args: Vec<String> = std::env::args().collect();
            if let Some(text) = link_argument(&args) {
                handle_link(app, text);
            }
        }
    }

    // Notifications: answer and decline on the incoming-call notice.
    if let Some(notification) = app.try_state::<tauri_plugin_notification::Notification<R>>() {
        use tauri_plugin_notification::{Action, ActionType};
        // The buttons' labels are in the language the app started in.
        let language = app.state::<AppState>().workspace().language();
        let registered =
            notification.register_action_types(vec![ActionType::builder(INCOMING_CALL_ACTIONS)
                .actions(vec![
                    Action::builder("answer", NoticeAction::Answer.label(language)).build(),
                    Action::builder("decline", NoticeAction::Decline.label(language)).build(),
                ])
                .build()]);
        if let Err(error) = registered {
            tracing::warn!(%error, "notification actions unavailable");
        }
        let handle = app.clone();
        let _ = notification.on_action(move |performed| {
            let id = performed.notification().map(|n| n.id());
            let call = id.and_then(|id| {
                lock(&handle.state::<DesktopState>().call_notices)
                    .get(&id)
                    .cloned()
            });
            match performed.action_id() {
                "answer" => emit_action(&handle, "answer", call),
                "decline" => emit_action(&handle, "decline", call),
                _ => show_window(&handle),
            }
        });
    }

    // Hotkeys and start at login as the settings say.
    let settings = app.state::<AppState>().workspace().desktop().clone();
    apply(app, &app.state::<DesktopState>(), &settings);

    // The tray with the agent's state. On Linux it needs libayatana-appindicator at run time,
    // whose absence panics inside the tray library: the app runs on without a tray.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tray(app))) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "no tray icon"),
        Err(_) => tracing::warn!("no tray icon: the system tray library is missing"),
    }

    // Callbacks due: checked every minute.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            callbacks_due(&handle).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
}

/// Registers the hotkeys and sets start at login; what fails goes to `problems` (the window
/// shows them), never a crash: under Xvfb or Wayland registration may be refused.
fn apply<R: Runtime>(app: &AppHandle<R>, desktop: &DesktopState, settings: &DesktopSettings) {
    let mut problems = Vec::new();
    let mut registered = HashMap::new();
    match app.try_state::<tauri_plugin_global_shortcut::GlobalShortcut<R>>() {
        Some(shortcuts) => {
            if let Err(error) = shortcuts.unregister_all() {
                tracing::warn!(%error, "cannot release the old hotkeys");
            }
            for (action, accelerator) in settings.hotkeys.bound() {
                let result = accelerator
                    .parse::<tauri_plugin_global_shortcut::Shortcut>()
                    .map_err(|e| e.to_string())
                    .and_then(|shortcut| {
                        shortcuts
                            .register(shortcut)
                            .map(|()| shortcut.id())
                            .map_err(|e| e.to_string())
                    });
                match result {
                    Ok(id) => {
                        registered.insert(id, action);
                    }
                    Err(error) => {
                        tracing::warn!(%error, %accelerator, "hotkey not registered");
                        problems.push(format!(
                            "The hotkey for {} ({accelerator}) could not be registered: {error}",
                            action.name()
                        ));
                    }
                }
            }
        }
        None => {
            if !settings.hotkeys.bound().is_empty() {
                problems.push("Global hotkeys are not available on this desktop.".to_owned());
            }
        }
    }
    *lock(&desktop.hotkeys) = registered;
    if let Some(autostart) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() {
        let current = autostart.is_enabled().unwrap_or(!settings.start_at_login);
        if current != settings.start_at_login {
            let result = if settings.start_at_login {
                autostart.enable()
            } else {
                autostart.disable()
            };
            if let Err(error) = result {
                tracing::warn!(%error, "start at login not changed");
                problems.push(format!("Start at login could not be changed: {error}"));
            }
        }
    }
    *lock(&desktop.problems) = problems;
}

// ---- tray ----

fn tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = tray_menu(app)?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip(tray_text(app))
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone().to_owned());
    }
    builder.build(app)?;
    *lock(&app.state::<DesktopState>().tray_shown) = tray_key(app);
    Ok(())
}

/// The app's one-second tick (lib.rs, the same tick as the after-call-work time box): the
/// agent's state changes from the window, calls, the time box and the tray itself, the window
/// is shown or hidden, the language changes; the tray follows, its menu rebuilt only when what
/// it shows changed.
pub fn on_tick<R: Runtime>(app: &AppHandle<R>) {
    if app.tray_by_id(TRAY_ID).is_none() {
        return;
    }
    let Some(desktop) = app.try_state::<DesktopState>() else {
        return;
    };
    if *lock(&desktop.tray_shown) != tray_key(app) {
        refresh_tray(app);
    }
}

/// What the tray shows depends on: the agent's state, the UI language and the center's words for
/// its Not-ready reasons (its playbook, when the screen pop is up).
fn tray_words<R: Runtime>(
    app: &AppHandle<R>,
) -> (seatline_workspace::AgentView, Language, ReasonLabels) {
    let state = app.state::<AppState>();
    let language = state.workspace().language();
    let labels = app
        .try_state::<crate::customers::PopState>()
        .map(|pop| reason_labels(&pop.0.playbook(), language))
        .unwrap_or_default();
    (state.agent_view(), language, labels)
}

fn tray_key<R: Runtime>(app: &AppHandle<R>) -> String {
    let visible = app
        .get_webview_window("main")
        .and_then(|w| w.is_visible().ok())
        .unwrap_or(false);
    let (agent, language, labels) = tray_words(app);
    format!(
        "{}|{visible}|{}|{labels:?}",
        tooltip(&agent.state, language, &labels),
        agent.not_ready_reasons.join(",")
    )
}

fn tray_text<R: Runtime>(app: &AppHandle<R>) -> String {
    let (agent, language, labels) = tray_words(app);
    tooltip(&agent.state, language, &labels)
}

fn tray_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let (agent, language, labels) = tray_words(app);
    let visible = app
        .get_webview_window("main")
        .and_then(|w| w.is_visible().ok())
        .unwrap_or(true);
    let menu = Menu::new(app)?;
    for entry in menu_entries(
        &agent.state,
        &agent.not_ready_reasons,
        visible,
        language,
        &labels,
    ) {
        match entry {
            Some(entry) => {
                let item =
                    MenuItem::with_id(app, entry.id, entry.text, entry.enabled, None::<&str>)?;
                menu.append(&item)?;
            }
            None => menu.append(&PredefinedMenuItem::separator(app)?)?,
        }
    }
    Ok(menu)
}

fn refresh_tray<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    *lock(&app.state::<DesktopState>().tray_shown) = tray_key(app);
    match tray_menu(app) {
        Ok(menu) => {
            let _ = tray.set_menu(Some(menu));
        }
        Err(error) => tracing::warn!(%error, "cannot rebuild the tray menu"),
    }
    let _ = tray.set_tooltip(Some(tray_text(app)));
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match parse_menu_id(id) {
        Some(TrayCommand::Agent(event)) => {
            let now = seatline_workspace::host::wall_clock_millis();
            match app.state::<AppState>().apply_agent_event(event, now) {
                Ok(view) => {
                    if let Err(error) = app.emit(AGENT_EVENT, &view) {
                        tracing::warn!(%error, "cannot emit the agent state");
                    }
                }
                Err(error) => tracing::warn!(%error, "the tray's state change was refused"),
            }
            refresh_tray(app);
        }
        Some(TrayCommand::ToggleWindow) => {
            toggle_window(app);
            refresh_tray(app);
        }
        Some(TrayCommand::Quit) => app.exit(0),
        None => {}
    }
}

// ---- notifications ----

fn prefs<R: Runtime>(app: &AppHandle<R>) -> NotifyPrefs {
    let state = app.state::<AppState>();
    let (enabled, language) = {
        let workspace = state.workspace();
        (workspace.desktop().notifications, workspace.language())
    };
    let window_focused = app
        .get_webview_window("main")
        .and_then(|w| Some(w.is_visible().ok()? && w.is_focused().ok()?))
        .unwrap_or(false);
    NotifyPrefs {
        enabled,
        window_focused,
        language,
    }
}

fn show_notice<R: Runtime>(app: &AppHandle<R>, event: &DeskEvent) {
    let Some(notice) = decide(prefs(app), event) else {
        return;
    };
    let Some(notification) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    let mut builder = notification
        .builder()
        .title(&notice.title)
        .body(&notice.body);
    if notice.kind == NoticeKind::IncomingCall {
        let id = notification_id(notice.subject.as_deref().unwrap_or_default());
        if let Some(call) = &notice.subject {
            lock(&app.state::<DesktopState>().call_notices).insert(id, call.clone());
        }
        builder = builder.id(id).action_type_id(INCOMING_CALL_ACTIONS);
    }
    if let Err(error) = builder.show() {
        tracing::warn!(%error, "cannot show a notification");
    }
}

/// A stable notification id for a call (so its notice can be found again).
fn notification_id(subject: &str) -> i32 {
    let hash = subject.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::try_from(hash & 0x7fff_ffff).unwrap_or(0)
}

/// An incoming call: a notice with answer and decline.
pub fn on_incoming_call<R: Runtime>(app: &AppHandle<R>, call: &str, caller: String) {
    show_notice(
        app,
        &DeskEvent::IncomingCall {
            call: call.to_owned(),
            caller,
        },
    );
}

/// A new sync view: a notice when it got worse.
pub fn on_sync_view<R: Runtime>(app: &AppHandle<R>, view: &SyncView) {
    let health = match view.state {
        SyncState::Offline => SyncHealth::Offline,
        SyncState::SignedOut => SyncHealth::SignedOut,
        SyncState::Stopped => SyncHealth::Stopped,
        _ => SyncHealth::Fine,
    };
    let now = (health, view.problems);
    let Some(desktop) = app.try_state::<DesktopState>() else {
        return;
    };
    let before = lock(&desktop.last_sync).replace(now);
    let before = before.unwrap_or((SyncHealth::Fine, 0));
    show_notice(
        app,
        &DeskEvent::Sync {
            before,
            now,
            detail: view.last_error.clone(),
        },
    );
}

async fn callbacks_due<R: Runtime>(app: &AppHandle<R>) {
    let desk = app.state::<AppState>().desk().clone();
    let query = OrderQuery {
        view: Some("due_soon".to_owned()),
        ..OrderQuery::default()
    };
    let Ok(orders) = desk.list(&query).await else {
        return;
    };
    let now = seatline_workspace::host::wall_clock_millis();
    for order in orders {
        let Some(minutes) = order.due_at.as_deref().and_then(|d| minutes_until(d, now)) else {
            continue;
        };
        let key = format!(
            "{}@{}",
            order.id,
            order.due_at.as_deref().unwrap_or_default()
        );
        let event = DeskEvent::CallbackDue {
            order: order.id.to_string(),
            title: order.title.clone(),
            minutes,
        };
        if decide(prefs(app), &event).is_some()
            && lock(&app.state::<DesktopState>().callbacks_shown).insert(key)
        {
            show_notice(app, &event);
        }
    }
}
