//! The desktop shell: thin Tauri commands over the library crates, and the app's wiring.
//! No business logic lives here.

mod commands;

use seatline_secrets::KeychainStore;
use seatline_settings::{resolve_data_dir, DATA_DIR_ENV};
use seatline_workspace::{host, Workspace};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tauri::{Builder, Runtime};

pub use commands::{AppState, CommandError};

/// Registers the app's commands and state on a builder (the real one or the test mock).
pub fn builder<R: Runtime>(builder: Builder<R>, state: AppState) -> Builder<R> {
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::workspace_status,
            commands::set_language,
            commands::agent_event,
            commands::kb_search,
            commands::kb_article,
        ])
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

/// Opens the workspace and runs the desktop app until its last window closes.
pub fn run() -> std::process::ExitCode {
    host::init_logging("info");

    let env_dir = std::env::var(DATA_DIR_ENV).ok();
    let workspace = resolve_data_dir(
        data_dir_argument(std::env::args()).as_deref(),
        env_dir.as_deref(),
    )
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
    let state = AppState::new(Mutex::new(workspace));
    match builder(tauri::Builder::default(), state).run(context()) {
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
