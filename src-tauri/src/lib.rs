//! The desktop shell: thin Tauri commands over the library crates, and the app's wiring.
//! No business logic lives here.

mod audio;
mod commands;
mod customers;
mod desktop;
mod phone;
mod recordings;
pub mod updates;

use seatline_secrets::KeychainStore;
use seatline_settings::{resolve_data_dir, DATA_DIR_ENV};
use seatline_workspace::desk::LoginHint;
use seatline_workspace::screen_pop::{normalizer_for, ScreenPop};
use seatline_workspace::Desk;
use seatline_workspace::{host, Workspace};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tauri::{Builder, Emitter, Manager, Runtime};

/// The event that carries every new sync view to the UI.
pub const SYNC_EVENT: &str = "sync-status";
/// The event that carries the agent's state when a call changed it.
pub const AGENT_EVENT: &str = "agent-state";
/// The center's playbook changed (payload: the playbook).
pub const PLAYBOOK_EVENT: &str = "playbook";
/// The event that carries how each queue pause/unpause feature code went.
pub const QUEUE_PAUSE_EVENT: &str = "queue-pause";

pub use commands::{AppState, CommandError};
pub use customers::PopState;
pub use desktop::{handle_link, DesktopState, DesktopView, DESK_ACTION_EVENT, DIAL_LINK_EVENT};
pub use phone::{follow_queue_pause, PhoneState};

/// Registers the app's commands and state on a builder (the real one or the test mock).
pub fn builder<R: Runtime>(
    builder: Builder<R>,
    state: AppState,
    phone: PhoneState,
    pop: PopState,
    desktop: DesktopState,
) -> Builder<R> {
    builder
        .manage(state)
        .manage(phone)
        .manage(pop)
        .manage(desktop)
        .manage(audio::AudioState::default())
        .plugin(updates::plugin())
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::workspace_status,
            commands::set_language,
            commands::agent_event,
            commands::kb_search,
            commands::kb_article,
            commands::kb_suggest,
            commands::session,
            commands::login,
            commands::logout,
            commands::sync_now,
            commands::list_orders,
            commands::get_order,
            commands::create_order,
            commands::edit_order,
            commands::add_note,
            commands::change_status,
            commands::order_problems,
            commands::order_teammates,
            commands::dismiss_problem,
            commands::retry_problem,
            phone::phone_account,
            phone::phone_connect,
            phone::phone_disconnect,
            phone::phone_forget,
            phone::phone_dial,
            phone::phone_answer,
            phone::phone_decline,
            phone::phone_hangup,
            phone::phone_silence_ringer,
            phone::phone_hold,
            phone::phone_mute,
            phone::phone_pause_recording,
            recordings::recordings_list,
            recordings::recording_audio,
            recordings::recording_delete,
            phone::phone_dtmf,
            phone::phone_transfer,
            phone::phone_attended_transfer,
            customers::customer_pop,
            customers::customer_search,
            customers::customer_card,
            customers::customer_feed,
            customers::customer_choose,
            customers::call_wrap_up,
            customers::call_figures,
            customers::callback_figures,
            customers::playbook,
            customers::playbook_save,
            customers::call_quality_report,
            customers::kb_editable,
            customers::kb_save_article,
            customers::kb_delete_article,
            customers::customer_history,
            customers::customer_create,
            audio::audio_settings,
            audio::set_audio_settings,
            audio::audio_test_speaker,
            audio::audio_meter_start,
            audio::audio_meter_stop,
            desktop::desktop_settings,
            desktop::set_desktop_settings,
            desktop::connection_settings,
            desktop::set_connection_settings,
            recordings::recording_settings,
            recordings::set_recording_settings,
            desktop::collect_diagnostics,
            desktop::take_dial_link,
            updates::update_check,
            updates::update_install,
            ui_ready,
        ])
        .setup(|app| {
            // Sync views go to the window as events; a saved login starts syncing at once.
            let handle = app.handle().clone();
            let desk = app.state::<AppState>().desk().clone();
            desk.set_notify(Arc::new(move |view| {
                if let Err(error) = handle.emit(SYNC_EVENT, view) {
                    tracing::warn!(%error, "cannot emit the sync view");
                }
                desktop::on_sync_view(&handle, view);
            }));
            // Not ready / Ready dial the PBX's queue pause codes when `[queue_pause]` is on.
            phone::follow_queue_pause(app.handle());
            // Recordings past `[recording] keep_days` go at start and every six hours.
            recordings::keep_retention(app.handle());
            // The app's one ticker, every second: the after-call-work time box (the window told
            // when it ends), then the tray, which follows the agent's state and the window.
            let ticker = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    every.tick().await;
                    tick(&ticker);
                }
            });
            // The center's playbook: its reasons and time box go to the agent state now and
            // whenever a pull brings a new one; the window is told.
            let mut playbooks = app.state::<PopState>().0.subscribe_playbook();
            app.state::<AppState>()
                .set_playbook(&playbooks.borrow_and_update());
            let watcher = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                while playbooks.changed().await.is_ok() {
                    let book = playbooks.borrow_and_update().clone();
                    let view = watcher.state::<AppState>().set_playbook(&book);
                    for result in [
                        watcher.emit(PLAYBOOK_EVENT, &book),
                        watcher.emit(AGENT_EVENT, &view),
                    ] {
                        if let Err(error) = result {
                            tracing::warn!(%error, "cannot emit the playbook");
                        }
                    }
                }
            });
            let screen = app.state::<PopState>().0.clone();
            // The cache opens at start-up, beside the account's resume, not on the first ring.
            let warm = screen.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = warm.warm_up().await {
                    tracing::error!(%error, "cannot open the customer cache");
                }
            });
            tauri::async_runtime::spawn(async move {
                if let Err(error) = desk.resume().await {
                    tracing::error!(%error, "cannot open the saved account");
                }
                // The customer cache follows the server while signed in (a login wakes it).
                screen.run_feed().await;
            });
            Ok(())
        })
}

/// One tick of the app's clock: lets time pass for the agent's state (the after-call-work time
/// box), tells the window when that changed it, then lets the tray catch up.
fn tick<R: Runtime>(app: &tauri::AppHandle<R>) {
    let now = seatline_workspace::host::wall_clock_millis();
    if let Some(view) = app.state::<AppState>().tick_agent(now) {
        if let Err(error) = app.emit(AGENT_EVENT, &view) {
            tracing::warn!(%error, "cannot emit the agent state");
        }
    }
    desktop::on_tick(app);
}

/// When `run` started: the start of the clock `ui_ready` reports against.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// The UI calls this once, after its first render with the workspace loaded: the "usable
/// window" signal of the startup benchmark (`scripts/bench.sh startup` reads this log line).
#[tauri::command]
fn ui_ready() {
    let since_start_ms = STARTED
        .get()
        .map(|started| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    tracing::info!(
        ready_unix_ms = seatline_workspace::host::wall_clock_millis(),
        since_start_ms,
        pid = std::process::id(),
        "window ready"
    );
}

/// The app's context from the root tauri.conf.json and the capabilities.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// `--data-dir DIR` or `--data-dir=DIR` from the command line, if given.
fn data_dir_argument(args: impl Iterator<Item = String>) -> Option<PathBuf> {
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(value) = arg.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// Where calls' sound goes: sound devices (which ones: `[audio]` in the settings), or none
/// (`SEATLINE_PHONE_AUDIO=null`, for machines without a sound card such as CI).
fn phone_audio(setting: Option<&str>) -> seatline_sip_phone::AudioIo {
    match setting {
        Some("null") => seatline_sip_phone::AudioIo::Null,
        _ => seatline_sip_phone::AudioIo::Devices {
            input: None,
            output: None,
        },
    }
}

/// Opens the workspace and runs the desktop app until its last window closes.
pub fn run() -> std::process::ExitCode {
    let _ = STARTED.set(Instant::now());
    let env_dir = std::env::var(DATA_DIR_ENV).ok();
    let data_dir = resolve_data_dir(
        data_dir_argument(std::env::args()).as_deref(),
        env_dir.as_deref(),
    );
    // Rotating log files in the data directory (kept until the app ends), else stderr only.
    let _logs = match &data_dir {
        Ok(dir) => match seatline_diagnostics::init_file_logging(&dir.path, "info") {
            Ok(guard) => Some(guard),
            Err(error) => {
                host::init_logging("info");
                tracing::warn!(%error, "logging to standard error only");
                None
            }
        },
        Err(_) => {
            host::init_logging("info");
            None
        }
    };
    let workspace = data_dir
        .map_err(seatline_workspace::WorkspaceError::from)
        .and_then(|data_dir| {
            Workspace::open(
                data_dir,
                sys_locale::get_locale(),
                Arc::new(KeychainStore::new(host::keychain_service())),
                host::wall_clock_millis(),
            )
        });
    let workspace = match workspace {
        Ok(workspace) => workspace,
        Err(error) => {
            tracing::error!(%error, "cannot open the workspace");
            eprintln!("seatline: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let desk = Desk::new(
        &workspace.info().data_dir,
        Arc::new(KeychainStore::new(host::keychain_service())),
        Default::default(),
    );
    desk.set_timeouts(seatline_workspace::desk::sync_timeouts(
        &workspace.settings().sync,
    ));
    desk.set_hint(LoginHint::parse(
        workspace.settings().server_url.clone(),
        std::env::var("SEATLINE_LOGIN_HINT").ok().as_deref(),
    ));
    let phone = PhoneState(seatline_phone_session::PhoneSession::new(
        &workspace.info().data_dir,
        Arc::new(KeychainStore::new(host::keychain_service())),
        phone_audio(std::env::var("SEATLINE_PHONE_AUDIO").ok().as_deref()),
    ));
    // The devices chosen in `[audio]` (the system defaults until the agent picks others).
    phone.0.set_audio_settings(&workspace.settings().audio);
    let recording = &workspace.settings().recording;
    phone.0.set_call_recording(
        recording.active_folder(&workspace.info().data_dir),
        seatline_phone_session::recording_notice(recording),
    );
    let normalizer = match normalizer_for(workspace.settings()) {
        Ok(normalizer) => normalizer,
        Err(error) => {
            tracing::error!(%error, "cannot read the phone region setting");
            eprintln!("seatline: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    desk.set_phone_normalizer(normalizer.clone());
    let pop = PopState(ScreenPop::new(
        &workspace.info().data_dir,
        normalizer,
        desk.clone(),
    ));
    // The feed keeps the knowledge base on the center's articles once it publishes some.
    if let Ok(kb) = workspace.kb() {
        pop.0.follow_kb(kb);
    }
    let state = AppState::new(Mutex::new(workspace), desk).with_state_log(pop.0.clone());
    let desktop = DesktopState::new(Some(Arc::new(KeychainStore::new(host::keychain_service()))));
    let app = desktop::plugins(tauri::Builder::default());
    match builder(app, state, phone, pop, desktop).run(context()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the desktop app stopped with an error");
            eprintln!("seatline: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::data_dir_argument;
    use std::path::PathBuf;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn data_dir_argument_in_both_forms() {
        assert_eq!(
            data_dir_argument(args(&["app", "--data-dir", "/x"])),
            Some(PathBuf::from("/x"))
        );
        assert_eq!(
            data_dir_argument(args(&["app", "--data-dir=/y"])),
            Some(PathBuf::from("/y"))
        );
        assert_eq!(data_dir_argument(args(&["app"])), None);
        assert_eq!(data_dir_argument(args(&["app", "--data-dir"])), None);
    }
}
