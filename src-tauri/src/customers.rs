//! The screen-pop commands: thin calls into `seatline_workspace::screen_pop`. Pops for ringing
//! calls are pushed by the phone (see `phone::phone_connect`); these serve the agent's own
//! lookups and the customer cache's status.

use crate::commands::AppState;
use crate::commands::CommandError;
use seatline_agent_state::{AgentEvent, AgentState};
use seatline_workspace::call_log::{CallRecord, DayFigures};
use seatline_workspace::desk::OrderView;
use seatline_workspace::screen_pop::{
    CallHistory, CallbackFigures, CallbackPromise, CustomerCard, FeedView, NewCustomer, Pop,
    PopError, PopRequest, ScreenPop,
};
use seatline_workspace::AgentView;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime, State};

/// The app's screen pop and customer cache.
pub struct PopState(pub ScreenPop);

impl From<PopError> for CommandError {
    fn from(error: PopError) -> Self {
        use seatline_workspace::call_log::CallLogError;
        let code = match &error {
            PopError::Desk(_) => match error {
                // A callback order refused by the desk keeps the desk's own error code.
                PopError::Desk(desk) => return desk.into(),
                _ => "storage",
            },
            PopError::Cache(_) => "storage",
            PopError::CallLog(CallLogError::Invalid(_)) => "invalid",
            PopError::CallLog(CallLogError::NoSuchCall(_)) => "no_such_call",
            PopError::CallLog(_) => "storage",
            PopError::Region { .. } => "invalid",
            PopError::Http(_) => "network",
            PopError::Playbook(e) => e.code(),
            PopError::Report(e) => e.code(),
            PopError::KbEdit(e) => e.code(),
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

/// Adds an unknown caller as a customer (pre-filled by the pop) and links the call to it.
#[tauri::command]
pub async fn customer_create(
    state: State<'_, PopState>,
    customer: NewCustomer,
    call: Option<String>,
) -> Result<CustomerCard, CommandError> {
    Ok(state.0.create_customer(&customer, call.as_deref()).await?)
}

/// A customer's latest calls at every desk of the center (this desk's at least).
#[tauri::command]
pub async fn customer_history(
    state: State<'_, PopState>,
    id: String,
) -> Result<CallHistory, CommandError> {
    Ok(state.0.history(&id).await?)
}

/// The center's playbook in use: wrap-up codes, Not-ready reasons, phrases, the
/// after-call-work time box (pulled from the server with the customer feed).
#[tauri::command]
pub fn playbook(state: State<'_, PopState>) -> seatline_playbook::Playbook {
    state.0.playbook()
}

/// A supervisor's edit of the center's playbook: saved on the server (refused with code
/// `conflict` when someone saved since it was loaded) and in use on this desk at once.
#[tauri::command]
pub async fn playbook_save(
    state: State<'_, PopState>,
    edit: seatline_playbook::Playbook,
) -> Result<seatline_playbook::Playbook, CommandError> {
    Ok(state.0.save_playbook(&edit).await?)
}

/// The center's call-quality report for a period (supervisors: their teams; admins: the
/// center; agents: their own calls), read live from the server.
#[tauri::command]
pub async fn call_quality_report(
    state: State<'_, PopState>,
    request: seatline_workspace::quality_report::ReportRequest,
) -> Result<seatline_workspace::quality_report::QualityReport, CommandError> {
    Ok(state.0.quality_report(&request).await?)
}

/// One of the center's knowledge-base articles opened for editing (null: not the center's).
#[tauri::command]
pub async fn kb_editable(
    state: State<'_, PopState>,
    id: String,
) -> Result<Option<seatline_workspace::kb_sync::EditableArticle>, CommandError> {
    Ok(state.0.kb_editable(&id).await?)
}

/// A supervisor saves an article for the whole center (an empty id makes a new one); code
/// `conflict` when someone changed it since it was opened, `forbidden` for an agent.
#[tauri::command]
pub async fn kb_save_article(
    state: State<'_, PopState>,
    edit: seatline_workspace::kb_sync::EditableArticle,
) -> Result<seatline_workspace::screen_pop::KbSaved, CommandError> {
    Ok(state.0.kb_save_article(&edit).await?)
}

/// A supervisor deletes one of the center's articles.
#[tauri::command]
pub async fn kb_delete_article(
    state: State<'_, PopState>,
    id: String,
) -> Result<seatline_workspace::screen_pop::KbSaved, CommandError> {
    Ok(state.0.kb_delete_article(&id).await?)
}

/// The agent picked one of several customers sharing the caller's number.
#[tauri::command]
pub async fn customer_choose(
    state: State<'_, PopState>,
    call: String,
    id: String,
) -> Result<(), CommandError> {
    Ok(state.0.choose_customer(&call, &id).await?)
}

/// What a wrap-up returns: the logged call, the agent's state after it, and the callback
/// order when the agent promised one.
#[derive(Serialize)]
pub struct WrapUpDone {
    pub call: CallRecord,
    pub agent: AgentView,
    pub callback: Option<OrderView>,
}

/// The wrap-up of a call: code and notes into the call log; in after-call work, the agent
/// leaves it with that code (the agent state machine requires one).
#[tauri::command]
pub async fn call_wrap_up<R: Runtime>(
    app: AppHandle<R>,
    pop: State<'_, PopState>,
    state: State<'_, AppState>,
    call: String,
    code: String,
    notes: String,
    callback: Option<CallbackPromise>,
) -> Result<WrapUpDone, CommandError> {
    let now = seatline_workspace::host::wall_clock_millis();
    // The promised callback first: if it cannot be created (bad time), nothing is wrapped up
    // and the agent fixes the form.
    pop.0.check_wrap_up(&code, &notes)?;
    let callback = match &callback {
        Some(promise) => Some(pop.0.promise_callback(&call, promise).await?),
        None => None,
    };
    let record = pop.0.wrap_up(&call, &code, &notes, now).await?;
    let mut agent = state.agent_view();
    if agent.state == AgentState::AfterCallWork {
        agent = state.apply_agent_event(AgentEvent::WrapUpDone { code }, now)?;
        if let Err(error) = app.emit(crate::AGENT_EVENT, &agent) {
            tracing::warn!(%error, "cannot emit the agent state");
        }
    }
    Ok(WrapUpDone {
        call: record,
        agent,
        callback,
    })
}

/// The agent's callbacks due in `[since, until)` (wall-clock ms): kept on time, late, and
/// open ones past their time.
#[tauri::command]
pub async fn callback_figures(
    state: State<'_, PopState>,
    since: i64,
    until: i64,
) -> Result<CallbackFigures, CommandError> {
    let now = seatline_workspace::host::wall_clock_millis();
    Ok(state.0.callback_figures(since, until, now).await?)
}

/// The agent's figures since `since` (wall-clock ms, the UI's start of today).
#[tauri::command]
pub async fn call_figures(
    state: State<'_, PopState>,
    since: i64,
) -> Result<DayFigures, CommandError> {
    Ok(state.0.figures(since).await?)
}
