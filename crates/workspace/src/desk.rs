//! The agent's work-order desk: who is signed in to the central server, the local offline store
//! (`seatline-outbox`), the background sync loop (`seatline-sync-client`, driven by the sans-IO
//! `SyncSchedule`) and the views the work-order panel and the status bar show.
//!
//! The bearer token lives only in the OS keychain (or, where there is none, in memory for this
//! run); the account file in the data directory holds ids only, in the same `account.json`
//! format the `seatline` CLI writes. DUPLICATE TO MERGE: the account file and the login steps
//! mirror `crates/cli/src/orders.rs`; the CLI should call this module once its owner is free.

use crate::account::{self, Account, TeamRef};
use seatline_outbox::{LocalStore, OrderFilter, ProblemDetail};
use seatline_secrets::{Secret, SecretName, SecretStore};
use seatline_sync_client::{
    RequestError, ServerClient, SyncEngine, SyncEvent, SyncStatus, Timeouts,
};
use seatline_sync_protocol::{ScheduleConfig, SyncPhase};
use seatline_work_orders::{
    due_state, parse_due_at, sla_state, urgency, Actor, Complexity, FieldPatch, MutationBody,
    NewWorkOrder, OrderKind, Priority, SlaPolicy, SlaState, Status, Urgency, WorkCalendar,
    WorkOrder, WorkOrderId,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use seatline_sync_protocol::ScheduleConfig as SyncConfig;
pub use seatline_work_orders::{Priority as OrderPriority, Status as OrderStatus};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

/// How long one long poll for server changes waits.
const LONG_POLL_MS: u64 = 25_000;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("sign in to the central server first")]
    NotSignedIn,
    #[error("{0}")]
    Invalid(String),
    #[error("wrong tenant, user name or password")]
    BadCredentials,
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("the server refused: {0}")]
    Server(String),
    #[error("{pending} change(s) have not reached the server yet")]
    UnsyncedChanges { pending: u64 },
    #[error("this desktop holds {pending} unsynced change(s) of {username}; sign in as {username} to send them first")]
    OtherAccountUnsynced { username: String, pending: u64 },
    #[error("work order {0} is not on this desktop")]
    UnknownOrder(String),
    #[error("problem {0} is not on this desktop")]
    UnknownProblem(i64),
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(seatline_outbox::StoreError),
    #[error(transparent)]
    Account(#[from] account::AccountError),
    #[error(transparent)]
    Secrets(#[from] seatline_secrets::SecretsError),
}

impl DeskError {
    /// A stable code for the UI to branch on.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotSignedIn => "not_signed_in",
            Self::Invalid(_) => "invalid",
            Self::BadCredentials => "bad_credentials",
            Self::Unreachable(_) => "unreachable",
            Self::Server(_) => "server",
            Self::UnsyncedChanges { .. } => "unsynced_changes",
            Self::OtherAccountUnsynced { .. } => "other_account_unsynced",
            Self::UnknownOrder(_) => "unknown_order",
            Self::UnknownProblem(_) => "unknown_problem",
            Self::Rejected(_) => "rejected",
            Self::Store(_) => "store",
            Self::Account(_) => "account",
            Self::Secrets(_) => "keychain",
        }
    }
}

impl From<seatline_outbox::StoreError> for DeskError {
    fn from(error: seatline_outbox::StoreError) -> Self {
        match error {
            seatline_outbox::StoreError::Rejected(r) => Self::Rejected(r.message()),
            other => Self::Store(other),
        }
    }
}

impl From<RequestError> for DeskError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Unauthorized => Self::BadCredentials,
            RequestError::Network(e) => Self::Unreachable(e),
            other => Self::Server(other.to_string()),
        }
    }
}

/// What the sign-in form sends.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginRequest {
    pub server_url: String,
    pub tenant: String,
    pub username: String,
    pub password: String,
}

/// The sync state the status bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// No account on this desktop yet.
    NotSignedIn,
    /// An account, but no valid login (logged out, or the server refused the token).
    SignedOut,
    Synced,
    Syncing,
    Pending,
    /// The server is unreachable; retrying.
    Offline,
    /// The sync loop stopped on a local error (shown with `last_error`).
    Stopped,
}

/// Why the agent is signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedOutReason {
    LoggedOut,
    /// The server answered 401: the token expired or was revoked.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncView {
    pub state: SyncState,
    pub pending: u64,
    pub problems: u64,
    /// Milliseconds until the next retry (offline).
    pub retry_in_ms: Option<u64>,
    pub last_synced: Option<String>,
    pub last_error: Option<String>,
    pub signed_out_reason: Option<SignedOutReason>,
}

impl SyncView {
    fn not_signed_in() -> Self {
        Self {
            state: SyncState::NotSignedIn,
            pending: 0,
            problems: 0,
            retry_in_ms: None,
            last_synced: None,
            last_error: None,
            signed_out_reason: None,
        }
    }
}

/// What the sign-in form is pre-filled with when there is no account yet (the settings'
/// `server_url`, and `SEATLINE_LOGIN_HINT=tenant/user` from the run script).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoginHint {
    pub server_url: Option<String>,
    pub tenant: Option<String>,
    pub username: Option<String>,
}

impl LoginHint {
    /// `tenant/user` (either part may be empty).
    pub fn parse(server_url: Option<String>, tenant_user: Option<&str>) -> Self {
        let (tenant, username) = tenant_user
            .and_then(|s| s.split_once('/'))
            .map_or((None, None), |(t, u)| {
                (clean(Some(t.into())), clean(Some(u.into())))
            });
        Self {
            server_url,
            tenant,
            username,
        }
    }
}

/// Who is signed in, for the sign-in form and the panel (never the token).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub hint: LoginHint,
    pub account: Option<AccountView>,
    pub signed_in: bool,
    /// Set when the OS keychain could not keep the token: the login lasts for this run only.
    pub keychain_warning: Option<String>,
    pub sync: SyncView,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub server_url: String,
    pub tenant: String,
    pub username: String,
    pub user_id: String,
    pub display_name: String,
    pub role: String,
    pub teams: Vec<TeamRef>,
}

/// Which orders the list shows.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderQuery {
    /// `mine` (assigned to me, or unassigned and created by me), `team` (my teams), `overdue`
    /// and `due_soon` (open orders with a complaint clock or their due time passed / close),
    /// else all. Every view lists overdue first, then due soon (earliest deadline first), then
    /// the rest, most recently changed first.
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    /// `complaint`, `repair`, `inquiry` or `callback`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Matches the customer, the order number, the title or the phone (case-insensitive).
    #[serde(default)]
    pub search: Option<String>,
}

/// A new order from the create form.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateOrder {
    /// `complaint`, `complaint_complex`, `repair`, `inquiry` or `callback`.
    pub kind: String,
    pub customer: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub priority: Priority,
    /// Due or callback time: RFC 3339 (the UI sends its offset), or local
    /// `YYYY-MM-DDTHH:MM` in the desk's offset.
    #[serde(default)]
    pub due: Option<String>,
    /// Team id; the first of the agent's teams when absent.
    #[serde(default)]
    pub team: Option<String>,
    /// The category; the kind's name when absent.
    #[serde(default)]
    pub category: Option<String>,
}

/// Field edits; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EditOrder {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// `Some(None)` or `Some("")` unassigns; `Some("me")` is the agent itself.
    #[serde(default)]
    pub assignee: Option<Option<String>>,
    #[serde(default)]
    pub category: Option<String>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub description: Option<String>,
    /// `Some("")` clears it.
    #[serde(default)]
    pub phone: Option<String>,
    /// As in [`CreateOrder::due`]; `Some("")` clears it.
    #[serde(default)]
    pub due: Option<String>,
}

/// A member of one of the agent's teams (the assignee picker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Teammate {
    pub user_id: String,
    pub name: String,
    pub team: String,
    pub me: bool,
}

/// One order as the panel shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub id: WorkOrderId,
    /// Short number for people: the last 8 hex digits of the id.
    pub number: String,
    pub kind: &'static str,
    pub customer: String,
    /// The title (the category for orders stored before titles existed).
    pub title: String,
    pub category: String,
    pub description: String,
    pub priority: Priority,
    pub status: Status,
    pub team: String,
    pub team_name: Option<String>,
    pub assignee: Option<String>,
    pub mine: bool,
    /// The contact number (for old orders: lifted from their marked first note).
    pub phone: Option<String>,
    /// The due / callback time as `YYYY-MM-DDTHH:MM` in the desk's offset.
    pub due: Option<String>,
    /// The same, RFC 3339 (the UI formats it in the agent's time zone).
    pub due_at: Option<String>,
    /// `overdue`, `due_soon` or `normal`: complaint clocks and the due time.
    pub urgency: Urgency,
    /// The due time's own state (`on_track`, `due_soon`, `overdue`), if it has one.
    pub due_state: Option<SlaState>,
    /// The earliest running deadline (RFC 3339).
    pub next_deadline: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Changes of this order still in the outbox.
    pub pending: bool,
    /// Ordinary status steps allowed from here (the domain's status machine).
    pub next_statuses: Vec<Status>,
    pub can_reopen: bool,
    pub notes: Vec<NoteView>,
    pub history: Vec<HistoryView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteView {
    pub author: String,
    pub at: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    pub from: Status,
    pub to: Status,
    pub reopen: bool,
    pub at: String,
    pub by: String,
}

/// A rejected change or an overwritten field, for the problems list.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemView {
    pub id: i64,
    pub order_id: WorkOrderId,
    pub number: String,
    pub seen: bool,
    /// `rejected` or `conflict`.
    pub kind: &'static str,
    /// Rejected: the change's kind (`create`, `set_fields`, `add_note`, `change_status`, …);
    /// conflict: the field.
    pub what: String,
    /// Rejected: the server's code; conflict: `overwritten` or `won`.
    pub code: String,
    pub message: String,
    /// Whether the change can be recorded again.
    pub can_retry: bool,
}

/// First-note markers of orders created before title, phone and due time were fields: such
/// a note stays a note; its values are lifted into the view when the fields are empty.
const PHONE_MARK: &str = "☎ ";
const DUE_MARK: &str = "⏰ ";

/// RFC 3339 in UTC (so such texts sort in time order).
fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn short_number(id: WorkOrderId) -> String {
    let text = id.0.simple().to_string();
    text[text.len().saturating_sub(8)..].to_uppercase()
}

fn kind_name(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Complaint { .. } => "complaint",
        OrderKind::Repair => "repair",
        OrderKind::Inquiry => "inquiry",
        OrderKind::Callback => "callback",
    }
}

fn parse_kind(kind: &str) -> Result<OrderKind, DeskError> {
    Ok(match kind {
        "complaint" => OrderKind::Complaint {
            complexity: Complexity::Ordinary,
        },
        "complaint_complex" => OrderKind::Complaint {
            complexity: Complexity::Complex,
        },
        "repair" => OrderKind::Repair,
        "inquiry" => OrderKind::Inquiry,
        "callback" => OrderKind::Callback,
        other => return Err(DeskError::Invalid(format!("unknown order kind {other:?}"))),
    })
}

pub fn parse_order_id(id: &str) -> Result<WorkOrderId, DeskError> {
    uuid::Uuid::from_str(id)
        .map(WorkOrderId)
        .map_err(|_| DeskError::UnknownOrder(id.to_owned()))
}

fn read_details(order: &WorkOrder) -> (Option<String>, Option<String>) {
    let Some(first) = order.notes.first() else {
        return (None, None);
    };
    let mut phone = None;
    let mut due = None;
    for line in first.text.lines() {
        if let Some(v) = line.strip_prefix(PHONE_MARK) {
            phone = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix(DUE_MARK) {
            due = Some(v.trim().to_owned());
        } else {
            break;
        }
    }
    (phone, due)
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `YYYY-MM-DDTHH:MM` at `offset`.
fn local_minutes(at: OffsetDateTime, offset: UtcOffset) -> String {
    let at = at.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The desk's SLA policy until the server's is fetched: the server's default.
fn default_policy() -> Option<SlaPolicy> {
    WorkCalendar::weekdays(
        time::macros::time!(9:00),
        time::macros::time!(18:00),
        UtcOffset::UTC,
    )
    .ok()
    .map(SlaPolicy::with_defaults)
}

/// Normalizes a typed contact number to E.164 where the center's number plan allows (else
/// keeps it as typed: an extension, a foreign format the agent knows better), then checks its
/// shape.
fn contact_phone(
    normalizer: Option<&seatline_phone_numbers::Normalizer>,
    typed: &str,
) -> Result<String, DeskError> {
    let typed = typed.trim();
    let normalized = normalizer
        .and_then(|n| n.normalize(typed).ok())
        .and_then(|n| n.e164().map(str::to_owned))
        .unwrap_or_else(|| typed.to_owned());
    seatline_work_orders::check_phone(&normalized).map_err(|r| DeskError::Invalid(r.message()))?;
    Ok(normalized)
}

/// The normalizer of a desk nobody configured: the settings' default region.
fn default_normalizer() -> Option<seatline_phone_numbers::Normalizer> {
    seatline_phone_numbers::Normalizer::new(
        seatline_settings::DEFAULT_PHONE_REGION,
        Default::default(),
    )
    .map_err(|e| tracing::warn!(error = %e, "no phone-number normalizer"))
    .ok()
}

struct SyncTask {
    events: mpsc::Sender<SyncEvent>,
    tasks: Vec<JoinHandle<()>>,
}

impl SyncTask {
    fn stop(self) {
        let _ = self.events.try_send(SyncEvent::Stop);
        for task in self.tasks {
            task.abort();
        }
    }
}

struct DeskState {
    account: Option<Account>,
    store: Option<Arc<LocalStore>>,
    /// The token when the keychain could not keep it (this run only; never written anywhere).
    memory_token: Option<Secret>,
    keychain_warning: Option<String>,
    signed_in: bool,
    sync: Option<SyncTask>,
}

pub type Notify = Arc<dyn Fn(&SyncView) + Send + Sync>;

struct Inner {
    data_dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
    notify: std::sync::RwLock<Notify>,
    config: ScheduleConfig,
    state: Mutex<DeskState>,
    view: std::sync::Mutex<SyncView>,
    hint: std::sync::Mutex<LoginHint>,
    /// The agent's UTC offset for due times typed without one.
    offset: std::sync::Mutex<UtcOffset>,
    /// The tenant's SLA policy (fetched when sync starts; the server default before).
    policy: std::sync::Mutex<Option<SlaPolicy>>,
    /// Reads typed contact numbers: the center's region and area code (settings).
    normalizer: std::sync::RwLock<Option<seatline_phone_numbers::Normalizer>>,
    /// How long requests to the server may take (`[sync]` in the settings).
    timeouts: std::sync::Mutex<Timeouts>,
}

/// The sync client's limits from the settings' `[sync]` section.
pub fn sync_timeouts(settings: &seatline_settings::SyncSettings) -> Timeouts {
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    Timeouts {
        connect: secs(settings.connect_timeout_secs),
        read: secs(settings.read_timeout_secs),
        request: secs(settings.request_timeout_secs),
    }
}

/// The work-order desk. Cheap to clone; every method needs a tokio runtime.
#[derive(Clone)]
pub struct Desk {
    inner: Arc<Inner>,
}

impl Desk {
    /// A desk over `data_dir`. Call [`Desk::set_notify`] to hear about sync views and
    /// [`Desk::resume`] to open a saved account.
    pub fn new(data_dir: &Path, secrets: Arc<dyn SecretStore>, config: ScheduleConfig) -> Self {
        let notify: Notify = Arc::new(|_| {});
        Self {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                secrets,
                notify: std::sync::RwLock::new(notify),
                config,
                state: Mutex::new(DeskState {
                    account: None,
                    store: None,
                    memory_token: None,
                    keychain_warning: None,
                    signed_in: false,
                    sync: None,
                }),
                view: std::sync::Mutex::new(SyncView::not_signed_in()),
                hint: std::sync::Mutex::new(LoginHint::default()),
                // The UI sends due times with its offset; this is for local ones (CLI, tests).
                offset: std::sync::Mutex::new(UtcOffset::UTC),
                policy: std::sync::Mutex::new(default_policy()),
                normalizer: std::sync::RwLock::new(default_normalizer()),
                timeouts: std::sync::Mutex::new(Timeouts::default()),
            }),
        }
    }

    /// How long requests to the server may take from now on (sign-in, sync, team lists, and
    /// the screen pop's feeds once they make their client); a sync already running keeps its
    /// own until it restarts.
    pub fn set_timeouts(&self, timeouts: Timeouts) {
        *self
            .inner
            .timeouts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = timeouts;
    }

    /// The limits set by [`Desk::set_timeouts`]; the screen pop's feeds use them too.
    pub fn timeouts(&self) -> Timeouts {
        *self
            .inner
            .timeouts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads typed contact numbers with the center's number plan (`phone_region`,
    /// `area_code`), as the screen pop does.
    pub fn set_phone_normalizer(&self, normalizer: seatline_phone_numbers::Normalizer) {
        *self
            .inner
            .normalizer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(normalizer);
    }

    fn contact_phone(&self, typed: &str) -> Result<String, DeskError> {
        let normalizer = self
            .inner
            .normalizer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        contact_phone(normalizer.as_ref(), typed)
    }

    /// `notify` is called with every new sync view (the shell emits it as an event).
    pub fn set_notify(&self, notify: Notify) {
        *self
            .inner
            .notify
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = notify;
    }

    /// The agent's UTC offset (for due times typed without one, and the `due` display).
    pub fn set_local_offset(&self, offset: UtcOffset) {
        *self
            .inner
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = offset;
    }

    fn local_offset(&self) -> UtcOffset {
        *self
            .inner
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn policy(&self) -> Option<SlaPolicy> {
        self.inner
            .policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_hint(&self, hint: LoginHint) {
        *self
            .inner
            .hint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = hint;
    }

    fn token_name(account: &Account) -> Result<SecretName, DeskError> {
        Ok(SecretName::server_token(&format!(
            "{}/{}/{}",
            account.server_url, account.tenant_id, account.user_id
        ))?)
    }

    /// Opens the saved account (if any) and, when the keychain holds its token, starts syncing.
    pub async fn resume(&self) -> Result<SessionView, DeskError> {
        let mut state = self.inner.state.lock().await;
        if let Some(account) = account::load(&self.inner.data_dir)? {
            let store = self.open_store(&account).await?;
            state.store = Some(store.clone());
            let token = match self.inner.secrets.get(&Self::token_name(&account)?) {
                Ok(token) => token,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the server token from the keychain");
                    state.keychain_warning = Some(e.to_string());
                    None
                }
            };
            state.account = Some(account.clone());
            match token {
                Some(token) => {
                    state.signed_in = true;
                    state.sync = Some(self.start_sync(&account, store, token).await?);
                }
                None => {
                    self.set_view(|v| {
                        v.state = SyncState::SignedOut;
                        v.signed_out_reason = Some(SignedOutReason::LoggedOut);
                    });
                    self.refresh_counts(&store).await;
                }
            }
        }
        Ok(self.session_of(&state))
    }

    async fn open_store(&self, account: &Account) -> Result<Arc<LocalStore>, DeskError> {
        let actor = Actor {
            user: account.user_id.clone(),
            tenant: account.tenant_id.clone(),
        };
        let path = self.inner.data_dir.join("orders.db");
        Ok(Arc::new(
            LocalStore::open(&path, actor, OffsetDateTime::now_utc()).await?,
        ))
    }

    pub async fn session(&self) -> SessionView {
        let state = self.inner.state.lock().await;
        self.session_of(&state)
    }

    /// The server URL and the agent's token while signed in, for other feeds from the same
    /// server (the customer cache); `None` when signed out or the keychain lost the token.
    pub async fn server_access(&self) -> Option<(String, Secret)> {
        let state = self.inner.state.lock().await;
        if !state.signed_in {
            return None;
        }
        let account = state.account.as_ref()?;
        let token = match &state.memory_token {
            Some(token) => Some(token.clone()),
            None => self
                .inner
                .secrets
                .get(&Self::token_name(account).ok()?)
                .ok()
                .flatten(),
        }?;
        Some((account.server_url.clone(), token))
    }

    fn session_of(&self, state: &DeskState) -> SessionView {
        SessionView {
            hint: self
                .inner
                .hint
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            account: state.account.as_ref().map(|a| AccountView {
                server_url: a.server_url.clone(),
                tenant: a.tenant.clone(),
                username: a.username.clone(),
                user_id: a.user_id.clone(),
                display_name: a.display_name.clone().unwrap_or_else(|| a.username.clone()),
                role: a.role.clone().unwrap_or_default(),
                teams: a.teams.clone(),
            }),
            signed_in: state.signed_in,
            keychain_warning: state.keychain_warning.clone(),
            sync: self.sync_view(),
        }
    }

    pub fn sync_view(&self) -> SyncView {
        self.inner
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_view(&self, change: impl FnOnce(&mut SyncView)) {
        let view = {
            let mut view = self
                .inner
                .view
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            change(&mut view);
            view.clone()
        };
        let notify = self
            .inner
            .notify
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        notify(&view);
    }

    async fn refresh_counts(&self, store: &LocalStore) {
        if let Ok(counts) = store.counts().await {
            self.set_view(|v| {
                v.pending = counts.pending;
                v.problems = counts.unseen_problems;
                if counts.pending > 0 && matches!(v.state, SyncState::Synced) {
                    v.state = SyncState::Pending;
                }
            });
        }
    }

    /// Signs in: the server checks the password, the token goes to the keychain, the account
    /// ids to `account.json`, and the sync loop starts.
    pub async fn login(&self, request: LoginRequest) -> Result<SessionView, DeskError> {
        let server_url = request.server_url.trim().trim_end_matches('/').to_owned();
        let tenant = request.tenant.trim().to_owned();
        let username = request.username.trim().to_owned();
        if server_url.is_empty() || tenant.is_empty() || username.is_empty() {
            return Err(DeskError::Invalid(
                "server, tenant and user name are required".into(),
            ));
        }
        if request.password.is_empty() {
            return Err(DeskError::Invalid("the password is required".into()));
        }
        let mut client = ServerClient::with_timeouts(&server_url, self.timeouts())
            .map_err(|_| DeskError::Invalid(format!("invalid server URL {server_url:?}")))?;
        let session = client.login(&tenant, &username, &request.password).await?;
        let token = Secret::new(session.token.clone());
        let teams = account::fetch_teams(&server_url, &token).await?;
        let field = |name: &str| session.user[name].as_str().map(str::to_owned);
        let account = Account {
            server_url: server_url.clone(),
            tenant,
            username,
            tenant_id: field("tenant_id").unwrap_or_default(),
            user_id: field("id").unwrap_or_default(),
            display_name: field("display_name"),
            role: field("role"),
            teams,
        };
        let mut state = self.inner.state.lock().await;
        if let Some(sync) = state.sync.take() {
            sync.stop();
        }
        // Another account's unsynced work must not be mixed with this one or thrown away.
        let previous = state
            .account
            .clone()
            .or(account::load(&self.inner.data_dir)?);
        if let Some(previous) = previous.filter(|p| !p.same_identity(&account)) {
            let store = match state.store.take() {
                Some(store) => store,
                None => self.open_store(&previous).await?,
            };
            let counts = store.counts().await?;
            if counts.pending > 0 {
                state.store = Some(store);
                account::revoke(&server_url, &token).await;
                return Err(DeskError::OtherAccountUnsynced {
                    username: previous.username,
                    pending: counts.pending,
                });
            }
            drop(store);
            account::remove_store_files(&self.inner.data_dir)?;
            state.account = None;
        }
        account::save(&self.inner.data_dir, &account)?;
        match self.inner.secrets.set(&Self::token_name(&account)?, &token) {
            Ok(()) => {
                state.memory_token = None;
                state.keychain_warning = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the keychain cannot keep the server token; this login lasts until the app closes");
                state.memory_token = Some(token.clone());
                state.keychain_warning = Some(e.to_string());
            }
        }
        let store = match state.store.clone() {
            Some(store) => store,
            None => self.open_store(&account).await?,
        };
        state.store = Some(store.clone());
        state.account = Some(account.clone());
        state.signed_in = true;
        self.set_view(|v| {
            v.signed_out_reason = None;
            v.last_error = None;
            v.state = SyncState::Syncing;
        });
        state.sync = Some(self.start_sync(&account, store, token).await?);
        tracing::info!(user = %account.username, tenant = %account.tenant, "signed in");
        Ok(self.session_of(&state))
    }

    /// Signs out: refused with unsynced changes unless `force`; the token is revoked on the
    /// server (best effort) and deleted from the keychain. Local orders stay.
    pub async fn logout(&self, force: bool) -> Result<SessionView, DeskError> {
        let mut state = self.inner.state.lock().await;
        let Some(account) = state.account.clone() else {
            return Ok(self.session_of(&state));
        };
        if let Some(store) = &state.store {
            let pending = store.counts().await?.pending;
            if pending > 0 && !force {
                return Err(DeskError::UnsyncedChanges { pending });
            }
        }
        if let Some(sync) = state.sync.take() {
            sync.stop();
        }
        let name = Self::token_name(&account)?;
        let token = state
            .memory_token
            .take()
            .or_else(|| self.inner.secrets.get(&name).ok().flatten());
        if let Some(token) = token {
            account::revoke(&account.server_url, &token).await;
        }
        if let Err(e) = self.inner.secrets.delete(&name) {
            tracing::warn!(error = %e, "cannot delete the server token from the keychain");
        }
        state.signed_in = false;
        self.set_view(|v| {
            v.state = SyncState::SignedOut;
            v.signed_out_reason = Some(SignedOutReason::LoggedOut);
            v.retry_in_ms = None;
        });
        tracing::info!(user = %account.username, "signed out");
        Ok(self.session_of(&state))
    }

    /// Retry now (the agent pressed "sync now" or the network came back).
    pub async fn sync_now(&self) {
        let state = self.inner.state.lock().await;
        if let Some(sync) = &state.sync {
            let _ = sync.events.try_send(SyncEvent::NetworkUp);
        }
    }

    async fn start_sync(
        &self,
        account: &Account,
        store: Arc<LocalStore>,
        token: Secret,
    ) -> Result<SyncTask, DeskError> {
        let server = ServerClient::with_timeouts(&account.server_url, self.timeouts())
            .map_err(|e| DeskError::Invalid(e.to_string()))?
            .with_token(token.expose().to_owned());
        let policy_client = server.clone();
        let desk = self.clone();
        let policy = tokio::spawn(async move {
            // Best effort: offline, the last policy (or the server default) stays.
            match policy_client.sla_policy().await {
                Ok(p) => {
                    *desk
                        .inner
                        .policy
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p);
                }
                Err(e) => tracing::debug!(error = %e, "cannot fetch the SLA policy"),
            }
        });
        let (events, events_rx) = mpsc::channel(64);
        let initial = SyncStatus {
            phase: SyncPhase::Syncing,
            pending: 0,
            unseen_problems: 0,
            last_error: None,
            last_synced: None,
        };
        let (status_tx, mut status_rx) = watch::channel(initial);
        let started = Instant::now();
        let config = self.inner.config.clone();
        let engine_store = store.clone();
        let desk = self.clone();
        let engine = tokio::spawn(async move {
            let result = async {
                let engine = SyncEngine::new(&engine_store, server, config).await?;
                engine.run(events_rx, status_tx).await
            }
            .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the sync loop stopped");
                desk.set_view(|v| {
                    v.state = SyncState::Stopped;
                    v.last_error = Some(e.to_string());
                });
            }
        });
        let desk = self.clone();
        let forward = tokio::spawn(async move {
            while status_rx.changed().await.is_ok() {
                let status = status_rx.borrow_and_update().clone();
                let expired = matches!(status.phase, SyncPhase::NeedsLogin);
                desk.apply_status(&status, started);
                if expired {
                    desk.token_refused().await;
                    break;
                }
            }
        });
        let waiter = tokio::spawn(long_poll(
            account.server_url.clone(),
            token,
            store,
            events.clone(),
        ));
        Ok(SyncTask {
            events,
            tasks: vec![engine, forward, waiter, policy],
        })
    }

    fn apply_status(&self, status: &SyncStatus, started: Instant) {
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.set_view(|v| {
            v.pending = status.pending;
            v.problems = status.unseen_problems;
            v.last_error.clone_from(&status.last_error);
            if status.last_synced.is_some() {
                v.last_synced.clone_from(&status.last_synced);
            }
            v.retry_in_ms = None;
            v.state = match &status.phase {
                SyncPhase::NeedsLogin => SyncState::SignedOut,
                SyncPhase::Retrying { retry_at, .. } => {
                    v.retry_in_ms = Some(retry_at.saturating_sub(now));
                    SyncState::Offline
                }
                SyncPhase::Syncing => SyncState::Syncing,
                SyncPhase::Idle if status.pending > 0 => SyncState::Pending,
                SyncPhase::Idle => SyncState::Synced,
            };
        });
    }

    /// The server answered 401: the token is dead. Forget it (retrying a dead token only locks
    /// accounts) and ask the agent to sign in again; the outbox stays as it is.
    async fn token_refused(&self) {
        let mut state = self.inner.state.lock().await;
        // This runs inside the loop's own forwarding task: stop the loop last.
        let sync = state.sync.take();
        state.signed_in = false;
        state.memory_token = None;
        if let Some(account) = &state.account {
            if let Ok(name) = Self::token_name(account) {
                if let Err(e) = self.inner.secrets.delete(&name) {
                    tracing::warn!(error = %e, "cannot delete the refused token");
                }
            }
        }
        tracing::warn!("the server refused the login token; sign in again");
        self.set_view(|v| {
            v.state = SyncState::SignedOut;
            v.signed_out_reason = Some(SignedOutReason::Expired);
            v.retry_in_ms = None;
        });
        drop(state);
        if let Some(sync) = sync {
            sync.stop();
        }
    }

    async fn ready(&self) -> Result<(Account, Arc<LocalStore>), DeskError> {
        let state = self.inner.state.lock().await;
        match (&state.account, &state.store) {
            (Some(account), Some(store)) => Ok((account.clone(), store.clone())),
            _ => Err(DeskError::NotSignedIn),
        }
    }

    async fn changed(&self, store: &LocalStore) {
        {
            let state = self.inner.state.lock().await;
            if let Some(sync) = &state.sync {
                let _ = sync.events.try_send(SyncEvent::LocalChange);
            }
        }
        self.refresh_counts(store).await;
    }

    async fn pending_orders(store: &LocalStore) -> Result<Vec<WorkOrderId>, DeskError> {
        Ok(store
            .pending(u32::MAX)
            .await?
            .into_iter()
            .map(|m| m.order_id)
            .collect())
    }

    fn view_of(&self, account: &Account, order: &WorkOrder, pending: &[WorkOrderId]) -> OrderView {
        let offset = self.local_offset();
        let (legacy_phone, legacy_due) = read_details(order);
        // Orders created before the fields existed: lift the marked note's values (the note
        // itself stays). A legacy due time was typed in the agent's local time.
        let mut lifted = order.clone();
        if lifted.contact_phone.is_none() {
            lifted.contact_phone = legacy_phone;
        }
        if lifted.due_at.is_none() {
            lifted.due_at = legacy_due
                .as_deref()
                .and_then(|d| parse_due_at(d, offset).ok());
        }
        let order = &lifted;
        let now = OffsetDateTime::now_utc();
        let (sla, due) = match self.policy() {
            Some(policy) => (
                sla_state(order, &policy, now).ok().flatten(),
                due_state(order, &policy, now),
            ),
            None => (None, None),
        };
        let (level, next_deadline) = urgency(sla.as_ref(), due.as_ref());
        let mine = order.assignee.as_deref() == Some(account.user_id.as_str())
            || (order.assignee.is_none() && order.created_by == account.user_id);
        OrderView {
            id: order.id,
            number: short_number(order.id),
            kind: kind_name(order.kind),
            customer: order.customer_id.clone(),
            title: if order.title.is_empty() {
                order.category.clone()
            } else {
                order.title.clone()
            },
            category: order.category.clone(),
            description: order.description.clone(),
            priority: order.priority,
            status: order.status,
            team: order.team.clone(),
            team_name: account
                .teams
                .iter()
                .find(|t| t.id == order.team)
                .map(|t| t.name.clone()),
            assignee: order.assignee.clone(),
            mine,
            phone: order.contact_phone.clone(),
            due: order.due_at.map(|d| local_minutes(d, offset)),
            due_at: order.due_at.map(rfc3339),
            urgency: level,
            due_state: due.map(|d| d.state),
            next_deadline: next_deadline.map(rfc3339),
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            pending: pending.contains(&order.id),
            next_statuses: Status::ALL
                .into_iter()
                .filter(|s| order.status.allows(*s))
                .collect(),
            can_reopen: order.status.is_finished(),
            notes: order
                .notes
                .iter()
                .map(|n| NoteView {
                    author: n.author.clone(),
                    at: rfc3339(n.at),
                    text: n.text.clone(),
                })
                .collect(),
            history: order
                .status_history
                .iter()
                .map(|h| HistoryView {
                    from: h.from,
                    to: h.to,
                    reopen: h.reopen,
                    at: rfc3339(h.at),
                    by: h.by.clone(),
                })
                .collect(),
        }
    }

    /// The orders on this desktop, most recently changed first, filtered as the panel asks.
    pub async fn list(&self, query: &OrderQuery) -> Result<Vec<OrderView>, DeskError> {
        let (account, store) = self.ready().await?;
        let pending = Self::pending_orders(&store).await?;
        let orders = store.orders(&OrderFilter::All).await?;
        let search = clean(query.search.clone()).map(|s| s.to_lowercase());
        let mut views: Vec<OrderView> = orders
            .iter()
            .map(|o| self.view_of(&account, o, &pending))
            .filter(|o| match query.view.as_deref() {
                Some("mine") => o.mine,
                Some("team") => account.teams.iter().any(|t| t.id == o.team),
                Some("overdue") => o.urgency == Urgency::Overdue,
                Some("due_soon") => o.urgency == Urgency::DueSoon,
                _ => true,
            })
            .filter(|o| query.status.is_none_or(|s| s == o.status))
            .filter(|o| {
                query
                    .kind
                    .as_deref()
                    .is_none_or(|k| k.is_empty() || k == o.kind)
            })
            .filter(|o| {
                search.as_deref().is_none_or(|s| {
                    o.customer.to_lowercase().contains(s)
                        || o.number.to_lowercase().contains(s)
                        || o.id.to_string().contains(s)
                        || o.phone.as_deref().is_some_and(|p| p.contains(s))
                        || o.title.to_lowercase().contains(s)
                })
            })
            .collect();
        sort_views(&mut views);
        Ok(views)
    }

    /// The members of the agent's teams (the agent first), for the assignee picker. Needs the
    /// server; offline it answers the agent alone.
    pub async fn teammates(&self) -> Result<Vec<Teammate>, DeskError> {
        let (account, token) = {
            let state = self.inner.state.lock().await;
            let account = state.account.clone().ok_or(DeskError::NotSignedIn)?;
            let token = match &state.memory_token {
                Some(t) => Some(t.clone()),
                None => self
                    .inner
                    .secrets
                    .get(&Self::token_name(&account)?)
                    .ok()
                    .flatten(),
            };
            (account, token)
        };
        let me = Teammate {
            user_id: account.user_id.clone(),
            name: account
                .display_name
                .clone()
                .unwrap_or_else(|| account.username.clone()),
            team: account
                .teams
                .first()
                .map(|t| t.id.clone())
                .unwrap_or_default(),
            me: true,
        };
        let Some(token) = token else {
            return Ok(vec![me]);
        };
        let client = ServerClient::with_timeouts(&account.server_url, self.timeouts())
            .map_err(|e| DeskError::Invalid(e.to_string()))?
            .with_token(token.expose().to_owned());
        let teams = match client.teams().await {
            Ok(teams) => teams,
            Err(RequestError::Network(e)) => {
                tracing::debug!(error = %e, "offline: the assignee picker offers the agent only");
                return Ok(vec![me]);
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = vec![me];
        for team in teams
            .iter()
            .filter(|t| account.teams.iter().any(|m| m.id == t.id))
        {
            for member in &team.members {
                if !out.iter().any(|t| t.user_id == member.id) {
                    out.push(Teammate {
                        user_id: member.id.clone(),
                        name: member.display_name.clone(),
                        team: team.id.clone(),
                        me: false,
                    });
                }
            }
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<OrderView, DeskError> {
        let (account, store) = self.ready().await?;
        let order_id = parse_order_id(id)?;
        let order = store
            .order(order_id)
            .await?
            .ok_or_else(|| DeskError::UnknownOrder(id.to_owned()))?;
        let pending = Self::pending_orders(&store).await?;
        Ok(self.view_of(&account, &order, &pending))
    }

    /// Parses a due time from the form: RFC 3339, or local time in the desk's offset.
    fn due_time(&self, text: &str) -> Result<OffsetDateTime, DeskError> {
        parse_due_at(text, self.local_offset()).map_err(|r| DeskError::Invalid(r.message()))
    }

    /// Creates an order offline (the outbox sends it) with its title, description, contact
    /// phone (E.164 where it normalizes) and due time.
    pub async fn create(&self, new: CreateOrder) -> Result<OrderView, DeskError> {
        let (account, store) = self.ready().await?;
        let kind = parse_kind(&new.kind)?;
        let customer = new.customer.trim().to_owned();
        let title = new.title.trim().to_owned();
        if customer.is_empty() {
            return Err(DeskError::Invalid("the customer is required".into()));
        }
        if title.is_empty() {
            return Err(DeskError::Invalid("the title is required".into()));
        }
        let team = match clean(new.team) {
            Some(team) => team,
            None => account.teams.first().map(|t| t.id.clone()).ok_or_else(|| {
                DeskError::Invalid(
                    "you belong to no team on the server; ask an administrator".into(),
                )
            })?,
        };
        let phone = clean(new.phone)
            .map(|p| self.contact_phone(&p))
            .transpose()?;
        let due = clean(new.due).map(|d| self.due_time(&d)).transpose()?;
        if matches!(kind, OrderKind::Callback) && due.is_none() {
            return Err(DeskError::Invalid(
                "a callback needs a callback time".into(),
            ));
        }
        let category = clean(new.category).unwrap_or_else(|| kind_name(kind).to_owned());
        let now = OffsetDateTime::now_utc();
        let recorded = store
            .create_order(
                NewWorkOrder {
                    team,
                    kind,
                    customer_id: customer,
                    call_id: None,
                    category,
                    priority: new.priority,
                    assignee: Some(account.user_id.clone()),
                    title,
                    description: clean(new.description).unwrap_or_default(),
                    contact_phone: phone,
                    due_at: due,
                },
                now,
            )
            .await?;
        self.changed(&store).await;
        self.get(&recorded.order.id.to_string()).await
    }

    pub async fn edit(&self, id: &str, edit: EditOrder) -> Result<OrderView, DeskError> {
        let (account, store) = self.ready().await?;
        let order_id = parse_order_id(id)?;
        // Empty text clears the nullable fields; a title or category cannot be cleared.
        let phone = match edit.phone.map(|p| p.trim().to_owned()) {
            None => None,
            Some(p) if p.is_empty() => Some(None),
            Some(p) => Some(Some(self.contact_phone(&p)?)),
        };
        let due_at = match edit.due.map(|d| d.trim().to_owned()) {
            None => None,
            Some(d) if d.is_empty() => Some(None),
            Some(d) => Some(Some(self.due_time(&d)?)),
        };
        let patch = FieldPatch {
            priority: edit.priority,
            category: clean(edit.category),
            assignee: edit.assignee.map(|a| {
                clean(a).map(|a| {
                    if a == "me" {
                        account.user_id.clone()
                    } else {
                        a
                    }
                })
            }),
            title: clean(edit.title),
            description: edit.description.map(|d| d.trim().to_owned()),
            contact_phone: phone,
            due_at,
        };
        if patch.is_empty() {
            return Err(DeskError::Invalid("nothing to change".into()));
        }
        store
            .set_fields(order_id, patch, OffsetDateTime::now_utc())
            .await?;
        self.changed(&store).await;
        self.get(id).await
    }

    pub async fn add_note(&self, id: &str, text: &str) -> Result<OrderView, DeskError> {
        let (_, store) = self.ready().await?;
        let text = text.trim();
        if text.is_empty() {
            return Err(DeskError::Invalid("the note is empty".into()));
        }
        store
            .add_note(
                parse_order_id(id)?,
                text.to_owned(),
                OffsetDateTime::now_utc(),
            )
            .await?;
        self.changed(&store).await;
        self.get(id).await
    }

    /// An ordinary status step, or a reopen when `to` is `in_progress` from resolved/closed.
    pub async fn change_status(&self, id: &str, to: Status) -> Result<OrderView, DeskError> {
        let (_, store) = self.ready().await?;
        let order_id = parse_order_id(id)?;
        let now = OffsetDateTime::now_utc();
        let current = store
            .order(order_id)
            .await?
            .ok_or_else(|| DeskError::UnknownOrder(id.to_owned()))?;
        if current.status.is_finished() && to == Status::InProgress {
            store.reopen(order_id, None, now).await?;
        } else {
            store.change_status(order_id, to, now).await?;
        }
        self.changed(&store).await;
        self.get(id).await
    }

    /// Rejections and conflicts, newest first (seen ones too when `all`).
    pub async fn problems(&self, all: bool) -> Result<Vec<ProblemView>, DeskError> {
        let (_, store) = self.ready().await?;
        let node = store.client_id().node();
        Ok(store
            .problems(!all)
            .await?
            .into_iter()
            .map(|p| {
                let number = short_number(p.order_id);
                match p.detail {
                    ProblemDetail::Rejected {
                        mutation,
                        rejection,
                    } => ProblemView {
                        id: p.id,
                        order_id: p.order_id,
                        number,
                        seen: p.seen,
                        kind: "rejected",
                        what: mutation.body.name().to_owned(),
                        code: rejection.code,
                        message: rejection.message,
                        can_retry: true,
                    },
                    ProblemDetail::Conflict { conflict } => ProblemView {
                        id: p.id,
                        order_id: p.order_id,
                        number,
                        seen: p.seen,
                        kind: "conflict",
                        what: conflict.field.to_string(),
                        // From this desktop's side: was its own write the one discarded?
                        code: if conflict.losing.node == node {
                            "overwritten".into()
                        } else {
                            "won".into()
                        },
                        message: format!(
                            "kept {}, discarded {}",
                            field_text(&conflict.kept),
                            field_text(&conflict.overwritten)
                        ),
                        can_retry: false,
                    },
                }
            })
            .collect())
    }

    /// The agent has read the problem: it leaves the list.
    pub async fn dismiss_problem(&self, problem_id: i64) -> Result<(), DeskError> {
        let (_, store) = self.ready().await?;
        store.mark_seen(problem_id).await?;
        self.refresh_counts(&store).await;
        Ok(())
    }

    /// Records a rejected change again as a new change (e.g. after the order moved on), then
    /// dismisses the problem. A change the domain still refuses locally is reported at once.
    pub async fn retry_problem(&self, problem_id: i64) -> Result<(), DeskError> {
        let (_, store) = self.ready().await?;
        let problem = store
            .problems(false)
            .await?
            .into_iter()
            .find(|p| p.id == problem_id)
            .ok_or(DeskError::UnknownProblem(problem_id))?;
        let ProblemDetail::Rejected { mutation, .. } = problem.detail else {
            return Err(DeskError::Invalid(
                "only a rejected change can be retried".into(),
            ));
        };
        let body: MutationBody = mutation.body;
        store
            .record(mutation.order_id, body, OffsetDateTime::now_utc())
            .await?;
        store.mark_seen(problem_id).await?;
        self.changed(&store).await;
        Ok(())
    }

    /// Stops the sync loop (app exit); the outbox is on disk already.
    pub async fn shutdown(&self) {
        let mut state = self.inner.state.lock().await;
        if let Some(sync) = state.sync.take() {
            sync.stop();
        }
    }
}

fn field_text(value: &seatline_work_orders::FieldValue) -> String {
    use seatline_work_orders::FieldValue;
    match value {
        FieldValue::Priority(p) => format!("{p:?}").to_lowercase(),
        FieldValue::Category(c) | FieldValue::Title(c) => c.clone(),
        FieldValue::Description(d) if d.is_empty() => "-".into(),
        FieldValue::Description(d) => {
            // Long texts: enough to recognise which version was discarded.
            let mut short: String = d.chars().take(80).collect();
            if d.chars().count() > 80 {
                short.push('…');
            }
            short
        }
        FieldValue::Assignee(a) | FieldValue::ContactPhone(a) => {
            a.clone().unwrap_or_else(|| "-".into())
        }
        FieldValue::DueAt(d) => d.map_or_else(|| "-".into(), rfc3339),
    }
}

/// Overdue first, then due soon (earliest deadline first within both), then the rest, most
/// recently changed first.
fn sort_views(views: &mut [OrderView]) {
    views.sort_by(|a, b| {
        a.urgency.cmp(&b.urgency).then_with(|| {
            if a.urgency == Urgency::Normal {
                b.updated_at.cmp(&a.updated_at)
            } else {
                // RFC 3339 in UTC sorts as text; no deadline sorts last.
                match (&a.next_deadline, &b.next_deadline) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => b.updated_at.cmp(&a.updated_at),
                }
            }
        })
    });
}

/// Long-polls the server for changes past the local cursor and wakes the sync loop for a pull.
async fn long_poll(
    server_url: String,
    token: Secret,
    store: Arc<LocalStore>,
    events: mpsc::Sender<SyncEvent>,
) {
    loop {
        if events.is_closed() {
            return;
        }
        let cursor = store.counts().await.ok().and_then(|c| c.cursor);
        match account::wait_for_change(&server_url, &token, cursor.as_deref(), LONG_POLL_MS).await {
            Ok(true) => {
                if events.send(SyncEvent::RemoteChange).await.is_err() {
                    return;
                }
                // Let the pull move the cursor before waiting again.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok(false) => {}
            // Let the sync loop meet the same 401 now (it signs the agent out).
            Err(RequestError::Unauthorized) => {
                let _ = events.send(SyncEvent::RemoteChange).await;
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "long poll failed; waiting");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatline_work_orders::{apply, ClientId, Hlc, Mutation, NodeId};

    fn account() -> Account {
        Account {
            server_url: "http://127.0.0.1:9".into(),
            tenant: "demo".into(),
            username: "agent".into(),
            tenant_id: "t".into(),
            user_id: "u1".into(),
            display_name: None,
            role: None,
            teams: vec![TeamRef {
                id: "team".into(),
                name: "一线".into(),
            }],
        }
    }

    fn desk() -> Desk {
        let dir = std::env::temp_dir().join("seatline-desk-unit");
        Desk::new(
            &dir,
            Arc::new(seatline_secrets::MemoryStore::new()),
            ScheduleConfig::default(),
        )
    }

    /// An order as the server would hold it after `bodies` (client 1, server time `at`).
    fn order(bodies: Vec<MutationBody>, at: OffsetDateTime) -> WorkOrder {
        let client = ClientId(uuid::Uuid::now_v7());
        let id = WorkOrderId::new_v7(at);
        let mut current: Option<WorkOrder> = None;
        for (i, body) in bodies.into_iter().enumerate() {
            let n = u64::try_from(i).unwrap_or(0) + 1;
            let m = Mutation {
                client_id: client,
                mutation_id: n,
                order_id: id,
                stamp: Hlc {
                    physical_ms: 1_000 + n,
                    logical: 0,
                    node: NodeId(client.0),
                },
                base_version: current.as_ref().map_or(0, |o| o.version),
                actor: Actor {
                    user: "u1".into(),
                    tenant: "t".into(),
                },
                body,
            };
            current = Some(apply(current.as_ref(), &m, at).expect("legal").order);
        }
        current.expect("at least a create")
    }

    fn create(title: &str, due_at: Option<OffsetDateTime>) -> MutationBody {
        MutationBody::Create(NewWorkOrder {
            team: "team".into(),
            kind: OrderKind::Callback,
            customer_id: "李娜".into(),
            call_id: None,
            category: "套餐".into(),
            priority: Priority::Normal,
            assignee: Some("u1".into()),
            title: title.into(),
            description: String::new(),
            contact_phone: None,
            due_at,
        })
    }

    #[test]
    fn typed_numbers_become_e164_where_the_plan_allows() {
        let cn = default_normalizer();
        let contact_phone = |typed: &str| contact_phone(cn.as_ref(), typed);
        assert_eq!(contact_phone(" 138 0013 8000 ").unwrap(), "+8613800138000");
        assert_eq!(
            contact_phone("+86 139-1234-5678").unwrap(),
            "+8613912345678"
        );
        // An extension is no public number: kept as typed.
        assert_eq!(contact_phone("8001").unwrap(), "8001");
        // A center in Germany reads a national number as German, with its area code.
        let de = seatline_phone_numbers::Normalizer::new(
            "DE",
            seatline_phone_numbers::NormalizerOptions::with_area_code("30"),
        )
        .unwrap();
        assert_eq!(
            super::contact_phone(Some(&de), "030 1234567").unwrap(),
            "+49301234567"
        );
        let err = contact_phone("call me").unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert!(err.to_string().contains("contact_phone"), "{err}");
    }

    /// Orders made before the fields existed kept phone and due time in a marked first note:
    /// the view lifts them (the note stays) and the category still serves as the title.
    #[test]
    fn an_old_order_with_a_marked_first_note_shows_its_phone_and_due_time() {
        let at = time::macros::datetime!(2026-11-30 08:00 UTC);
        let old = order(
            vec![
                create("", None),
                MutationBody::AddNote {
                    text: "☎ +8615012345678\n⏰ 2026-12-01T10:00\n\nafter 3 pm".into(),
                },
            ],
            at,
        );
        let view = desk().view_of(&account(), &old, &[]);
        assert_eq!(view.title, "套餐");
        assert_eq!(view.phone.as_deref(), Some("+8615012345678"));
        assert_eq!(view.due.as_deref(), Some("2026-12-01T10:00"));
        assert_eq!(view.due_at.as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(view.notes.len(), 1, "the note stays a note");
        assert!(view.notes[0].text.contains("after 3 pm"));
        // Real fields win over the note.
        let mut newer = old.clone();
        newer.contact_phone = Some("+8613800138000".into());
        let view = desk().view_of(&account(), &newer, &[]);
        assert_eq!(view.phone.as_deref(), Some("+8613800138000"));
    }

    #[test]
    fn views_sort_overdue_then_due_soon_then_most_recent() {
        let now = OffsetDateTime::now_utc();
        let d = desk();
        let a = account();
        let view = |title: &str, due: Option<OffsetDateTime>| {
            d.view_of(&a, &order(vec![create(title, due)], now), &[])
        };
        let mut views = vec![
            view("plain", None),
            view("soon", Some(now + time::Duration::minutes(30))),
            view("late", Some(now - time::Duration::hours(2))),
            view("later", Some(now + time::Duration::days(2))),
            view("latest", Some(now - time::Duration::hours(1))),
            view("sooner", Some(now + time::Duration::minutes(10))),
        ];
        sort_views(&mut views);
        let titles: Vec<&str> = views.iter().map(|v| v.title.as_str()).collect();
        assert_eq!(titles[..4], ["late", "latest", "sooner", "soon"]);
        assert_eq!(views[0].urgency, Urgency::Overdue);
        assert_eq!(views[2].urgency, Urgency::DueSoon);
        assert_eq!(views[2].due_state, Some(SlaState::DueSoon));
        assert!(views[4..].iter().all(|v| v.urgency == Urgency::Normal));
    }

    #[test]
    fn conflicts_on_the_new_fields_read_as_text() {
        use seatline_work_orders::FieldValue;
        assert_eq!(field_text(&FieldValue::Title("Refund".into())), "Refund");
        assert_eq!(field_text(&FieldValue::ContactPhone(None)), "-");
        assert_eq!(
            field_text(&FieldValue::DueAt(Some(
                time::macros::datetime!(2026-12-01 10:00 +08:00)
            ))),
            "2026-12-01T02:00:00Z"
        );
        let long = "长".repeat(100);
        assert_eq!(
            field_text(&FieldValue::Description(long)).chars().count(),
            81
        );
    }
}
