//! The commands the UI may call. Each one locks the workspace, calls one library function and
//! maps its error to a serializable [`CommandError`]; a panic here would leave the UI's promise
//! pending forever, so nothing in here may panic.

use seatline_agent_state::{AgentEvent, AgentState, HistoryEntry};
use seatline_kb_search::{Article, CallContext, Hit, Suggestion};
use seatline_settings::LanguagePref;
use seatline_workspace::call_log::StateEntry;
use seatline_workspace::desk::{
    CreateOrder, EditOrder, LoginRequest, OrderQuery, OrderStatus as Status, OrderView,
    ProblemView, SessionView, Teammate,
};
use seatline_workspace::screen_pop::ScreenPop;
use seatline_workspace::{
    AgentView, AppInfo, Desk, DeskError, Workspace, WorkspaceError, WorkspaceStatus,
};
use serde::Serialize;
use std::sync::{Mutex, MutexGuard};
use tauri::State;

pub struct AppState {
    workspace: Mutex<Workspace>,
    desk: Desk,
    /// Where the agent's state changes are logged for the server, when the app has a log.
    state_log: Option<ScreenPop>,
    /// Where every state the agent moves to goes for the PBX's queue pause codes (set up
    /// with the phone at start; see `phone::follow_queue_pause`).
    queue_states: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<AgentState>>,
}

impl AppState {
    /// The shell's state: the workspace and the work-order desk over the same data directory.
    pub fn new(workspace: Mutex<Workspace>, desk: Desk) -> Self {
        Self {
            workspace,
            desk,
            state_log: None,
            queue_states: std::sync::OnceLock::new(),
        }
    }

    /// Logs every change of the agent's state in the call log (pushed to the server with it),
    /// starting with the state the session began in.
    pub fn with_state_log(mut self, log: ScreenPop) -> Self {
        let start = self.workspace().agent_history().to_vec();
        self.state_log = Some(log);
        self.log_states(start);
        self
    }

    /// Applies an agent event and logs the states it moved through.
    fn agent_step(&self, event: AgentEvent, now: i64) -> Result<AgentView, WorkspaceError> {
        let (view, moved) = {
            let mut workspace = self.workspace();
            let before = workspace.agent_history().len();
            let view = workspace.agent_event(event, now)?;
            let history = workspace.agent_history();
            (view, history.get(before..).unwrap_or_default().to_vec())
        };
        self.log_states(moved);
        Ok(view)
    }

    /// Lets time pass for the agent state (the after-call-work time box): the new view when
    /// the state changed, its new states logged.
    pub fn tick_agent(&self, now: i64) -> Option<AgentView> {
        let (view, moved) = {
            let mut workspace = self.workspace();
            let before = workspace.agent_history().len();
            let view = workspace.agent_tick(now)?;
            let history = workspace.agent_history();
            (view, history.get(before..).unwrap_or_default().to_vec())
        };
        self.log_states(moved);
        Some(view)
    }

    /// Sends every state the agent moves to from now on to `states` (the queue pause codes).
    pub fn follow_states(&self, states: tokio::sync::mpsc::UnboundedSender<AgentState>) {
        if self.queue_states.set(states).is_err() {
            tracing::warn!("agent states are already followed");
        }
    }

    /// Hands the state the agent is in now to the queue pause codes: once the phone is
    /// registered, the PBX hears the session's start (Not ready) without waiting for a change.
    /// What the PBX was told already is not dialled again.
    pub fn tell_queue_current_state(&self) {
        if let Some(states) = self.queue_states.get() {
            let _ = states.send(self.agent_view().state);
        }
    }

    /// The window's agent view after a queue pause code: its warning, or none.
    pub fn set_queue_pause_warning(&self, warning: Option<String>) -> AgentView {
        self.workspace().set_queue_pause_warning(warning)
    }

    fn log_states(&self, entries: Vec<HistoryEntry>) {
        // The PBX hears of the state the agent ends up in (not each step on the way).
        if let (Some(states), Some(last)) = (self.queue_states.get(), entries.last()) {
            let _ = states.send(last.state.clone());
        }
        let Some(log) = self.state_log.clone() else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        tauri::async_runtime::spawn(async move {
            for entry in &entries {
                if let Err(error) = log.record_state(&StateEntry::from_history(entry)).await {
                    tracing::error!(%error, "the call log did not take an agent state");
                }
            }
        });
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// Applies an agent-state event the phone caused (call started / ended) at `now`.
    pub fn apply_agent_event(
        &self,
        event: AgentEvent,
        now: i64,
    ) -> Result<AgentView, WorkspaceError> {
        self.agent_step(event, now)
    }

    /// Takes the center's playbook (Not-ready reasons, after-call-work time box).
    pub fn set_playbook(&self, book: &seatline_playbook::Playbook) -> AgentView {
        self.workspace().set_playbook(book)
    }

    pub fn agent_view(&self) -> AgentView {
        self.workspace().status().agent
    }

    pub(crate) fn workspace(&self) -> MutexGuard<'_, Workspace> {
        // The workspace stays consistent across a panic in another command: every change is
        // applied only after it succeeded.
        self.workspace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An error the UI can show: a stable code to branch on and a message for people.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl From<WorkspaceError> for CommandError {
    fn from(error: WorkspaceError) -> Self {
        let code = match &error {
            WorkspaceError::Settings(_) => "settings",
            WorkspaceError::AgentState(_) => "agent_state",
            WorkspaceError::KbUnavailable(_) | WorkspaceError::Kb(_) => "knowledge_base",
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

impl From<DeskError> for CommandError {
    fn from(error: DeskError) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, CommandError> {
    Ok(state.workspace().info())
}

#[tauri::command]
pub fn workspace_status(state: State<'_, AppState>) -> Result<WorkspaceStatus, CommandError> {
    Ok(state.workspace().status())
}

#[tauri::command]
pub fn set_language(
    state: State<'_, AppState>,
    language: LanguagePref,
) -> Result<AppInfo, CommandError> {
    let mut workspace = state.workspace();
    workspace.set_language(language)?;
    Ok(workspace.info())
}

#[tauri::command]
pub fn agent_event(
    state: State<'_, AppState>,
    event: AgentEvent,
) -> Result<AgentView, CommandError> {
    Ok(state.agent_step(event, seatline_workspace::host::wall_clock_millis())?)
}

/// Search-as-you-type: at most 50 results, in rank order.
#[tauri::command]
pub async fn kb_search(
    state: State<'_, AppState>,
    query: String,
    limit: Option<usize>,
    tag: Option<String>,
) -> Result<Vec<Hit>, CommandError> {
    // Take the index and let go of the workspace before searching.
    let kb = state.workspace().kb()?;
    let limit = limit.unwrap_or(20).min(50);
    // A tag narrows the search; with no query yet it lists the tag's articles.
    let hits = match tag.filter(|t| !t.trim().is_empty()) {
        Some(tag) if query.trim().is_empty() => kb.browse_tag(&tag, limit),
        Some(tag) => kb.search_filtered(
            &query,
            limit,
            &seatline_kb_search::SearchFilter {
                tags: vec![tag],
                lang: None,
            },
        ),
        None => kb.search(&query, limit),
    };
    Ok(hits.map_err(WorkspaceError::from)?)
}

#[tauri::command]
pub async fn kb_article(
    state: State<'_, AppState>,
    id: String,
) -> Result<Option<Article>, CommandError> {
    let kb = state.workspace().kb()?;
    let article = kb.article(&id);
    Ok(article.map_err(WorkspaceError::from)?)
}

/// Articles for the call in progress, from its context (IVR path and data, open orders, the
/// notes being typed); at most 20. An empty context gives an empty list.
#[tauri::command]
pub async fn kb_suggest(
    state: State<'_, AppState>,
    context: CallContext,
    limit: Option<usize>,
) -> Result<Vec<Suggestion>, CommandError> {
    let kb = state.workspace().kb()?;
    let limit = limit.unwrap_or(10).min(20);
    // Several searches and, the first time, jieba's keyword tables: off the async workers.
    tauri::async_runtime::spawn_blocking(move || seatline_kb_search::suggest(&kb, &context, limit))
        .await
        .map_err(|e| CommandError {
            code: "knowledge_base",
            message: e.to_string(),
        })
}

/// Who is signed in, and the current sync view.
#[tauri::command]
pub async fn session(state: State<'_, AppState>) -> Result<SessionView, CommandError> {
    Ok(state.desk.session().await)
}

/// Signs in to the central server; the token goes to the OS keychain, never to the UI.
#[tauri::command]
pub async fn login(
    state: State<'_, AppState>,
    request: LoginRequest,
) -> Result<SessionView, CommandError> {
    Ok(state.desk.login(request).await?)
}

/// Signs out; refused with code `unsynced_changes` unless `force`.
#[tauri::command]
pub async fn logout(state: State<'_, AppState>, force: bool) -> Result<SessionView, CommandError> {
    Ok(state.desk.logout(force).await?)
}

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> Result<(), CommandError> {
    state.desk.sync_now().await;
    Ok(())
}

#[tauri::command]
pub async fn list_orders(
    state: State<'_, AppState>,
    query: OrderQuery,
) -> Result<Vec<OrderView>, CommandError> {
    Ok(state.desk.list(&query).await?)
}

#[tauri::command]
pub async fn get_order(state: State<'_, AppState>, id: String) -> Result<OrderView, CommandError> {
    Ok(state.desk.get(&id).await?)
}

#[tauri::command]
pub async fn create_order(
    state: State<'_, AppState>,
    order: CreateOrder,
) -> Result<OrderView, CommandError> {
    Ok(state.desk.create(order).await?)
}

#[tauri::command]
pub async fn edit_order(
    state: State<'_, AppState>,
    id: String,
    edit: EditOrder,
) -> Result<OrderView, CommandError> {
    Ok(state.desk.edit(&id, edit).await?)
}

#[tauri::command]
pub async fn add_note(
    state: State<'_, AppState>,
    id: String,
    text: String,
) -> Result<OrderView, CommandError> {
    Ok(state.desk.add_note(&id, &text).await?)
}

#[tauri::command]
pub async fn change_status(
    state: State<'_, AppState>,
    id: String,
    to: Status,
) -> Result<OrderView, CommandError> {
    Ok(state.desk.change_status(&id, to).await?)
}

/// The members of the agent's teams, for the assignee picker (the agent alone offline).
#[tauri::command]
pub async fn order_teammates(state: State<'_, AppState>) -> Result<Vec<Teammate>, CommandError> {
    Ok(state.desk.teammates().await?)
}

/// Unseen rejections and conflicts.
#[tauri::command]
pub async fn order_problems(state: State<'_, AppState>) -> Result<Vec<ProblemView>, CommandError> {
    Ok(state.desk.problems(false).await?)
}

#[tauri::command]
pub async fn dismiss_problem(state: State<'_, AppState>, id: i64) -> Result<(), CommandError> {
    Ok(state.desk.dismiss_problem(id).await?)
}

#[tauri::command]
pub async fn retry_problem(state: State<'_, AppState>, id: i64) -> Result<(), CommandError> {
    Ok(state.desk.retry_problem(id).await?)
}
