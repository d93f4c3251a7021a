//! The recordings commands: thin calls into `seatline-recordings` over the folder the
//! settings name (`[recording]`, `<data dir>/recordings` by default).

use crate::commands::{AppState, CommandError};
use seatline_recordings::{Query, Recordings, RecordingsError, Scan};
use tauri::ipc::Response;
use tauri::State;

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
