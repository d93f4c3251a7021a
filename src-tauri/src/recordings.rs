//! The recordings commands: thin calls into `seatline-recordings` over the folder the
//! settings name (`[recording]`, `<data dir>/recordings` by default).

use crate::commands::{AppState, CommandError};
use crate::phone::PhoneState;
use seatline_recordings::{Query, Recordings, RecordingsError, Scan};
use seatline_settings::RecordingSettings;
use tauri::ipc::Response;
use tauri::{AppHandle, Manager, Runtime, State};

impl From<RecordingsError> for CommandError {
    fn from(error: RecordingsError) -> Self {
        let code = match &error {
            RecordingsError::BadId(_) => "invalid",
            RecordingsError::NotFound(_) => "not_found",
            _ => "storage",
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

/// How often the retention runs (besides at start and after the settings change).
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Removes the recordings past `[recording] keep_days` (nothing when it is 0).
fn prune_past_retention(state: &AppState) {
    let keep_days = state.workspace().settings().recording.keep_days;
    match folder(state).prune_older_than_days(keep_days) {
        Ok(pruned) => {
            for problem in &pruned.problems {
                tracing::warn!(file = %problem.file, reason = %problem.reason, "recording past its retention not removed");
            }
        }
        Err(error) => tracing::warn!(%error, "recordings retention did not run"),
    }
}

/// Runs the retention at start and every six hours, off the async threads.
pub fn keep_retention<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let handle = app.clone();
            let run = tauri::async_runtime::spawn_blocking(move || {
                prune_past_retention(&handle.state::<AppState>());
            });
            if let Err(error) = run.await {
                tracing::warn!(%error, "recordings retention stopped");
            }
            tokio::time::sleep(RETENTION_EVERY).await;
        }
    });
}

fn folder(state: &AppState) -> Recordings {
    let workspace = state.workspace();
    Recordings::new(
        workspace
            .settings()
            .recording
            .folder_in(&workspace.info().data_dir),
    )
}

/// The recordings matching `query` (all without one), newest first, and the files that could
/// not be listed.
#[tauri::command]
pub fn recordings_list(
    state: State<'_, AppState>,
    query: Option<Query>,
) -> Result<Scan, CommandError> {
    let recordings = folder(&state);
    Ok(recordings.search(&query.unwrap_or_default())?)
}

/// One recording's WAV bytes (an ArrayBuffer in the window, played from a Blob URL).
#[tauri::command]
pub fn recording_audio(state: State<'_, AppState>, id: String) -> Result<Response, CommandError> {
    Ok(Response::new(folder(&state).read_wav(&id)?))
}

#[tauri::command]
pub fn recording_delete(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    Ok(folder(&state).delete(&id)?)
}

/// The `[recording]` section: whether calls are recorded, where, and the notice.
#[tauri::command]
pub fn recording_settings(state: State<'_, AppState>) -> RecordingSettings {
    state.workspace().settings().recording.clone()
}

/// Checks (an announcement must be a WAV file that plays), saves and applies the section: the
/// running phone records its next calls so, without reconnecting, and a retention runs at
/// once. A bad value is refused (code `settings`) and nothing changes.
#[tauri::command]
pub async fn set_recording_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    phone: State<'_, PhoneState>,
    settings: RecordingSettings,
) -> Result<RecordingSettings, CommandError> {
    seatline_phone_session::check_recording_notice(&settings).map_err(|message| CommandError {
        code: "settings",
        message,
    })?;
    let (saved, data_dir) = {
        let mut workspace = state.workspace();
        let saved = workspace.set_recording(&settings)?;
        (saved, workspace.info().data_dir)
    };
    phone
        .0
        .apply_call_recording(
            saved.active_folder(&data_dir),
            seatline_phone_session::recording_notice(&saved),
        )
        .await;
    // A shorter retention applies now, not at the next round.
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        prune_past_retention(&app.state::<AppState>());
    });
    Ok(saved)
}
