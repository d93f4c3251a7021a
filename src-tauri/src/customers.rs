//! The screen-pop commands: thin calls into `seatline_workspace::screen_pop`. Pops for ringing
//! calls are pushed by the phone (see `phone::phone_connect`); these serve the agent's own
//! lookups and the customer cache's status.

use crate::commands::CommandError;
use seatline_workspace::screen_pop::{CustomerCard, FeedView, Pop, PopError, PopRequest, ScreenPop};
use tauri::State;

/// The app's screen pop and customer cache.
pub struct PopState(pub ScreenPop);

impl From<PopError> for CommandError {
    fn from(error: PopError) -> Self {
        let code = match &error {
            PopError::Cache(_) => "storage",
            PopError::Region { .. } => "invalid",
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

/// A pop for a number (and IVR data) the agent typed or picked.
#[tauri::command]
pub async fn customer_pop(
    state: State<'_, PopState>,
    request: PopRequest,
) -> Result<Pop, CommandError> {
    Ok(state.0.pop(request).await?)
}

#[tauri::command]
pub async fn customer_search(
    state: State<'_, PopState>,
    text: String,
) -> Result<Vec<CustomerCard>, CommandError> {
    Ok(state.0.search(&text).await?)
}

#[tauri::command]
pub async fn customer_card(
    state: State<'_, PopState>,
    id: String,
) -> Result<Option<CustomerCard>, CommandError> {
    Ok(state.0.card(&id).await?)
}

/// The customer cache's sync state; `sync` asks for a pull first.
#[tauri::command]
pub fn customer_feed(state: State<'_, PopState>, sync: Option<bool>) -> FeedView {
    if sync == Some(true) {
        state.0.sync_now();
    }
    state.0.feed_view()
}
