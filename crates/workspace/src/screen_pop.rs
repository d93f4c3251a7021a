//! The screen pop: when a call rings, the caller's customer card — name, tier, tags, contact
//! data, open and recent work orders — from the local customer cache, before anyone answers.
//!
//! The cache (`customers.db` in the data directory) follows the server's customer feed in the
//! background while the agent is signed in; a pop never waits for the network. Matching order:
//! the calling number (every normalised form), then IVR-collected values (a customer number or
//! a keyed-in phone number) when the number is withheld, unknown or unreadable.

use crate::call_log::{
    CallLog, CallLogError, CallRecord, CallSignal, DayFigures, StateEntry, SyncCounts,
};
use crate::call_sync;
use crate::desk::{CreateOrder, OrderQuery, OrderView};
use crate::kb_sync::{KbMirror, KbPullReport};
use crate::playbook::{self, PlaybookCache};
use crate::server_api::{send_json, ApiFailure};
use crate::Desk;
use seatline_customer_cache::feed::{self, FeedError};
use seatline_customer_cache::{CacheError, Customer, CustomerCache, Lookup};
use seatline_phone_numbers::{lookup_keys, Normalized, Normalizer, NormalizerOptions, NumberType};
use seatline_settings::{Settings, DEFAULT_PHONE_REGION};
use seatline_sync_client::Timeouts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OnceCell};

/// How often the cache asks the server for customer changes while signed in.
pub const FEED_INTERVAL: Duration = Duration::from_secs(30);
/// How soon a new sign-in starts the first pull.
pub const SIGN_IN_CHECK: Duration = Duration::from_secs(1);
/// Calls shown as history on a card.
const RECENT_CALLS: u32 = 5;
/// Calls in a card's full history (this desk's and the center's).
const HISTORY_CALLS: u32 = 10;
/// Closed orders shown as history on a card.
const RECENT_ORDERS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum PopError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Desk(#[from] crate::DeskError),
    #[error(transparent)]
    CallLog(#[from] CallLogError),
    #[error("cannot read caller numbers for region {region:?}: {reason}")]
    Region { region: String, reason: String },
    #[error("no HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Playbook(#[from] playbook::PlaybookError),
    #[error(transparent)]
    Report(#[from] crate::quality_report::ReportError),
    #[error(transparent)]
    KbEdit(#[from] crate::kb_sync::KbEditError),
}

/// A knowledge-base save or deletion: the article's id and the center's revision after it;
/// `indexed` is false when the desk's search could not take it yet (the next pull will).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KbSaved {
    pub id: String,
    pub revision: i64,
    pub indexed: bool,
}

/// A ringing call as the phone reports it (or the agent's own lookup).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PopRequest {
    #[serde(default)]
    pub call: Option<String>,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub withheld: bool,
    /// IVR data from SIP headers, by header name.
    #[serde(default)]
    pub ivr: BTreeMap<String, String>,
    /// Wall-clock milliseconds when the INVITE's event reached the app (for the pop latency).
    #[serde(default)]
    pub received_at_ms: Option<u64>,
}

/// How the pop found its customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MatchedBy {
    Number,
    /// An IVR-collected value (its header name).
    Ivr {
        field: String,
    },
    Nothing,
}

/// The caller as the pop shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CallerView {
    /// The number as signalled.
    pub raw: Option<String>,
    /// E.164 when the number is a public one.
    pub e164: Option<String>,
    /// How to show and dial it (national form for the center's own country).
    pub display: Option<String>,
    pub display_name: Option<String>,
    pub withheld: bool,
    /// An internal extension (a colleague), not a customer.
    pub internal: bool,
    /// Why the number could not be read, when it could not.
    pub unreadable: Option<String>,
}

/// One customer with what the agent needs before saying hello.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerCard {
    pub customer: Customer,
    /// Orders not resolved or closed, overdue first as the desk sorts them.
    pub open_orders: Vec<OrderBrief>,
    /// The latest finished orders.
    pub recent_orders: Vec<OrderBrief>,
    /// The latest calls with this customer on this desktop, newest first.
    pub recent_calls: Vec<CallRecord>,
}

/// What the customer panel shows for a call.
#[derive(Debug, Clone, Serialize)]
pub struct Pop {
    pub call: Option<String>,
    pub caller: CallerView,
    pub matched_by: MatchedBy,
    /// Several when a number is shared: the agent picks one.
    pub cards: Vec<CustomerCard>,
    pub ivr: Vec<IvrField>,
    /// Customers in the local cache (0 = never synced: say so rather than "unknown caller");
    /// `None` while the first count after start-up is still running on a non-empty cache.
    pub cached_customers: Option<u64>,
    /// Microseconds spent finding the customers and their orders.
    pub lookup_us: u64,
    pub received_at_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IvrField {
    pub name: String,
    pub value: String,
}

/// The cache's sync with the server, for the panel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedView {
    pub customers: u64,
    pub last_synced: Option<String>,
    pub last_error: Option<String>,
    pub signed_in: bool,
    /// The call log's upload: what waits for the server, what it refused, the last failure.
    pub calls: SyncCounts,
    pub calls_error: Option<String>,
    /// The revision of the center's playbook in use (0: the built-in one).
    pub playbook_revision: i64,
    /// Why the playbook could not be loaded or pulled, if it could not.
    pub playbook_error: Option<String>,
    /// The center's knowledge base on this desk: the server revision held (0: none pulled),
    /// its articles, and the last pull's failure.
    pub kb_revision: i64,
    pub kb_articles: u64,
    pub kb_error: Option<String>,
}

/// A new caller the agent adds from the pop (pre-filled with the caller's number, the name
/// the network gave and the IVR data).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCustomer {
    pub name: String,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A customer's call history for the card: this desk's calls merged with the center's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallHistory {
    pub calls: Vec<CallRecord>,
    /// Whether the server's call log was read (otherwise: this desk's calls only).
    pub from_server: bool,
    /// Why the server's call log could not be read, when signed in.
    pub error: Option<String>,
}

/// How long the card waits for the center's call history before showing this desk's alone.
pub const HISTORY_TIMEOUT: Duration = Duration::from_secs(3);

/// Merges this desk's calls with the server's (a call of this desk appears in both: this desk's
/// copy wins, it may be newer), newest first, at most `limit`.
pub fn merge_history(
    local: Vec<CallRecord>,
    server: Vec<CallRecord>,
    limit: usize,
) -> Vec<CallRecord> {
    let mut calls = local;
    for call in server {
        if !calls.iter().any(|c| c.id == call.id) {
            calls.push(call);
        }
    }
    calls.sort_by(|a, b| b.ring_at.cmp(&a.ring_at).then_with(|| a.id.cmp(&b.id)));
    calls.truncate(limit);
    calls
}

/// A callback the agent promises the caller at wrap-up ("we will call you back by …").
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackPromise {
    /// When: RFC 3339 with the agent's offset, or local `YYYY-MM-DDTHH:MM`.
    pub due: String,
    /// The order's title as the agent's language says it; "Callback: <customer>" if absent.
    #[serde(default)]
    pub title: Option<String>,
    /// What was promised.
    #[serde(default)]
    pub note: Option<String>,
}

/// The agent's callbacks: kept on time (called back, or resolved, by the promised time),
/// late, and still open past their time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallbackFigures {
    /// Callbacks promised for the period (due within it).
    pub due: u32,
    /// Of those, called back or resolved by their time.
    pub kept_on_time: u32,
    /// Of those, their time passed before they were kept.
    pub late: u32,
    /// Open callbacks (any day) whose time has passed: the agent should call now.
    pub overdue_open: u32,
}

/// Unix milliseconds of an RFC 3339 time, if it is one.
fn rfc3339_ms(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The normalizer the center's settings ask for (region, area code).
pub fn normalizer_for(settings: &Settings) -> Result<Normalizer, PopError> {
    let region = settings
        .phone_region
        .clone()
        .unwrap_or_else(|| DEFAULT_PHONE_REGION.to_owned());
    let options = match &settings.area_code {
        Some(code) => NormalizerOptions::with_area_code(code),
        None => NormalizerOptions::default(),
    };
    Normalizer::new(&region, options).map_err(|e| PopError::Region {
        region,
        reason: e.to_string(),
    })
}

struct Inner {
    path: PathBuf,
    calls_path: PathBuf,
    calls: OnceCell<Arc<CallLog>>,
    normalizer: Normalizer,
    desk: Desk,
    cache: OnceCell<Arc<CustomerCache>>,
    /// Whether `view.customers` holds a count yet (the first is made after start-up).
    counted: AtomicBool,
    wake: Notify,
    view: std::sync::Mutex<FeedView>,
    playbook: PlaybookCache,
    /// The HTTP client of the feed and of on-demand reads, and the timeouts it was made with.
    http: std::sync::Mutex<Option<(Timeouts, reqwest::Client)>>,
    /// The knowledge-base index the center's articles go to, once the shell hands it over.
    kb_index: std::sync::OnceLock<Arc<seatline_kb_search::KbIndex>>,
    kb_mirror: OnceCell<KbMirror>,
    kb_path: PathBuf,
}

/// The screen pop and its customer cache. Cheap to clone.
#[derive(Clone)]
pub struct ScreenPop {
    inner: Arc<Inner>,
}

impl ScreenPop {
    /// A pop over `data_dir/customers.db`; the work orders come from `desk`.
    pub fn new(data_dir: &Path, normalizer: Normalizer, desk: Desk) -> Self {
        let (playbook, playbook_error) = PlaybookCache::open(&data_dir.join("playbook.json"));
        let view = FeedView {
            playbook_revision: playbook.current().revision,
            playbook_error,
            ..FeedView::default()
        };
        Self {
            inner: Arc::new(Inner {
                path: data_dir.join("customers.db"),
                calls_path: data_dir.join("calls.db"),
                calls: OnceCell::new(),
                normalizer,
                desk,
                cache: OnceCell::new(),
                counted: AtomicBool::new(false),
                wake: Notify::new(),
                view: std::sync::Mutex::new(view),
                playbook,
                http: std::sync::Mutex::new(None),
                kb_index: std::sync::OnceLock::new(),
                kb_mirror: OnceCell::new(),
                kb_path: data_dir.join(crate::kb_sync::MIRROR_FILE),
            }),
        }
    }

    async fn cache(&self) -> Result<Arc<CustomerCache>, PopError> {
        let cache = self
            .inner
            .cache
            .get_or_try_init(|| async {
                // Opening only: a ringing call that arrives while the cache opens waits for
                // this, so the COUNT(*) of the panel's figure is done by `warm_up` and the
                // feed, never here.
                let cache =
                    CustomerCache::open(&self.inner.path, self.inner.normalizer.clone()).await?;
                Ok::<_, CacheError>(Arc::new(cache))
            })
            .await?;
        Ok(cache.clone())
    }

    /// Opens the customer cache and the call log at start-up, so the first ringing call does
    /// not pay for it (once >15 s on a cold 1M-customer cache), then counts the customers for
    /// the panel. A pop that arrives during the count runs beside it (the cache has a pool).
    pub async fn warm_up(&self) -> Result<(), PopError> {
        let started = Instant::now();
        let cache = self.cache().await?;
        self.call_log().await?;
        let opened = started.elapsed();
        let customers = cache.count().await?;
        self.inner.counted.store(true, Ordering::Relaxed);
        self.set_view(|v| v.customers = customers);
        tracing::info!(
            opened_ms = opened.as_millis() as u64,
            counted_ms = started.elapsed().as_millis() as u64,
            customers,
            "customer cache ready"
        );
        Ok(())
    }

    async fn call_log(&self) -> Result<Arc<CallLog>, PopError> {
        let log = self
            .inner
            .calls
            .get_or_try_init(|| async { CallLog::open(&self.inner.calls_path).await.map(Arc::new) })
            .await?;
        Ok(log.clone())
    }

    /// Records a call event in the call log at `now` (wall-clock ms). A call that ended goes
    /// to the server soon after (the feed loop is woken), not at the next interval.
    pub async fn record(&self, signal: &CallSignal, now: i64) -> Result<(), PopError> {
        self.call_log().await?.apply(signal, now).await?;
        if matches!(signal, CallSignal::Ended { .. }) {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Creates the callback work order the agent promised on `call`: the call's customer (or
    /// its number when nobody matched), the number to call back, the promised time and note.
    /// Works offline like every order (the outbox sends it).
    pub async fn promise_callback(
        &self,
        call: &str,
        promise: &CallbackPromise,
    ) -> Result<OrderView, PopError> {
        let record = self
            .call(call)
            .await?
            .ok_or_else(|| CallLogError::NoSuchCall(call.to_owned()))?;
        let phone = record
            .e164
            .clone()
            .or_else(|| record.number.clone())
            .filter(|n| !n.trim().is_empty());
        let customer = record
            .customer_name
            .clone()
            .or_else(|| record.display_name.clone())
            .or_else(|| phone.clone())
            .ok_or_else(|| {
                CallLogError::Invalid("the call has no customer or number to call back".into())
            })?;
        let title = promise
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("Callback: {customer}"));
        let order = self
            .inner
            .desk
            .create(CreateOrder {
                kind: "callback".into(),
                customer,
                phone,
                title,
                description: promise.note.clone().filter(|n| !n.trim().is_empty()),
                priority: seatline_work_orders::Priority::Normal,
                due: Some(promise.due.clone()),
                team: None,
                category: None,
            })
            .await?;
        Ok(order)
    }

    /// The agent's callbacks due in `[since, until)` and those open past their time at `now`
    /// (all wall-clock ms). A callback is kept on time when a call to its number was placed
    /// between its creation and its time, or it was resolved by then.
    pub async fn callback_figures(
        &self,
        since: i64,
        until: i64,
        now: i64,
    ) -> Result<CallbackFigures, PopError> {
        let orders = self
            .inner
            .desk
            .list(&OrderQuery {
                view: Some("mine".into()),
                kind: Some("callback".into()),
                ..OrderQuery::default()
            })
            .await?;
        let log = self.call_log().await?;
        let placed = log.outgoing_between(since - 7 * 86_400_000, until).await?;
        let placed: Vec<(i64, Vec<String>)> = placed
            .iter()
            .filter_map(|c| Some((c.ring_at, self.number_keys(c.number.as_deref()?))))
            .collect();
        let mut figures = CallbackFigures::default();
        for order in &orders {
            let Some(due) = order.due_at.as_deref().and_then(rfc3339_ms) else {
                continue;
            };
            let created = rfc3339_ms(&order.created_at).unwrap_or(i64::MIN);
            let open = !matches!(
                order.status,
                seatline_work_orders::Status::Resolved | seatline_work_orders::Status::Closed
            );
            let keys = order
                .phone
                .as_deref()
                .map(|p| self.number_keys(p))
                .unwrap_or_default();
            let called = placed.iter().any(|(at, called)| {
                *at >= created && *at <= due && called.iter().any(|k| keys.contains(k))
            });
            let resolved_in_time = order.history.iter().any(|h| {
                matches!(h.to, seatline_work_orders::Status::Resolved)
                    && rfc3339_ms(&h.at).is_some_and(|at| at <= due)
            });
            let kept = called || resolved_in_time;
            if open && !kept && due < now {
                figures.overdue_open += 1;
            }
            if (since..until).contains(&due) {
                figures.due += 1;
                if kept {
                    figures.kept_on_time += 1;
                } else if due < now {
                    figures.late += 1;
                }
            }
        }
        Ok(figures)
    }

    /// Records a change of the agent's state for the server's state history.
    pub async fn record_state(&self, entry: &StateEntry) -> Result<(), PopError> {
        Ok(self.call_log().await?.record_state(entry).await?)
    }

    /// Pushes the call log and state history the server has not got (signed in only).
    pub async fn push_calls(&self, http: &reqwest::Client) -> Result<(), PopError> {
        let log = self.call_log().await?;
        if let Some((server_url, token)) = self.inner.desk.server_access().await {
            let since = time::OffsetDateTime::now_utc().unix_timestamp() * 1000
                - call_sync::SCORES_WINDOW_MS;
            let pushed = match call_sync::push(http, &server_url, token.expose(), &log).await {
                Ok(report) => {
                    tracing::debug!(
                        calls = report.calls,
                        states = report.states,
                        refused = report.refused,
                        "call log pushed"
                    );
                    call_sync::pull_scores(http, &server_url, token.expose(), &log, since).await
                }
                Err(e) => Err(e),
            };
            match pushed {
                Ok(scored) => {
                    if scored > 0 {
                        tracing::debug!(scored, "survey scores read");
                    }
                    self.set_view(|v| v.calls_error = None);
                }
                Err(call_sync::CallSyncError::Log(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot push the call log");
                    self.set_view(|v| v.calls_error = Some(e.to_string()));
                }
            }
        }
        let counts = log.sync_counts().await?;
        self.set_view(|v| v.calls = counts);
        Ok(())
    }

    /// Links a ringing call to what its pop found: the caller's E.164 and, when exactly one
    /// customer matched (or the agent picked one), that customer.
    pub async fn link_call(&self, pop: &Pop) -> Result<(), PopError> {
        let Some(call) = &pop.call else {
            return Ok(());
        };
        let customer = match pop.cards.as_slice() {
            [only] => Some((only.customer.id.as_str(), only.customer.name.as_str())),
            _ => None,
        };
        Ok(self
            .call_log()
            .await?
            .set_customer(call, pop.caller.e164.as_deref(), customer)
            .await?)
    }

    /// The agent picked `customer_id` for `call` (a shared number).
    pub async fn choose_customer(&self, call: &str, customer_id: &str) -> Result<(), PopError> {
        let customer = self.cache().await?.get(customer_id).await?;
        let log = self.call_log().await?;
        if let Some(customer) = customer {
            log.set_customer(call, None, Some((&customer.id, &customer.name)))
                .await?;
        }
        Ok(())
    }

    /// The center's playbook in use.
    pub fn playbook(&self) -> seatline_playbook::Playbook {
        self.inner.playbook.current()
    }

    /// Told whenever the playbook in use changes (a pull brought a new one).
    pub fn subscribe_playbook(&self) -> tokio::sync::watch::Receiver<seatline_playbook::Playbook> {
        self.inner.playbook.subscribe()
    }

    /// Checks a wrap-up before anything is written: a code of the center's playbook, notes
    /// within bounds.
    pub fn check_wrap_up(&self, code: &str, notes: &str) -> Result<(), PopError> {
        crate::call_log::check_wrap_up(code, notes)?;
        if self.inner.playbook.current().wrap_up_code(code).is_none() {
            return Err(CallLogError::Invalid(format!(
                "{code:?} is not one of the center's wrap-up codes"
            ))
            .into());
        }
        Ok(())
    }

    /// One pull of the center's playbook, if signed in; a failure keeps the one in use and is
    /// shown in the feed view.
    pub async fn pull_playbook(&self, http: &reqwest::Client) {
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return;
        };
        let result = match playbook::pull(http, &server_url, token.expose()).await {
            Ok(book) => self.inner.playbook.replace(book),
            Err(e) => Err(e),
        };
        let revision = self.inner.playbook.current().revision;
        match result {
            Ok(changed) => {
                if changed {
                    tracing::info!(revision, "the center's playbook changed");
                }
                self.set_view(|v| {
                    v.playbook_revision = revision;
                    v.playbook_error = None;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot update the playbook");
                self.set_view(|v| v.playbook_error = Some(e.to_string()));
            }
        }
    }

    /// Lets the feed keep `index` on the center's knowledge base (see [`crate::kb_sync`]).
    /// Only the first index handed over counts.
    pub fn follow_kb(&self, index: Arc<seatline_kb_search::KbIndex>) {
        let _ = self.inner.kb_index.set(index);
    }

    /// One pull of the center's knowledge base, if signed in and an index is followed; a
    /// failure keeps the articles in use and is shown in the feed view.
    pub async fn pull_kb(&self, http: &reqwest::Client) -> Option<KbPullReport> {
        let index = self.inner.kb_index.get()?;
        let (server_url, token) = self.inner.desk.server_access().await?;
        let result = async {
            let mirror = self.kb_mirror().await?;
            crate::kb_sync::pull(http, &server_url, token.expose(), mirror, index).await
        }
        .await;
        match result {
            Ok(report) => {
                self.set_view(|v| {
                    v.kb_revision = report.revision;
                    v.kb_articles = report.articles;
                    v.kb_error = None;
                });
                Some(report)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot update the knowledge base");
                self.set_view(|v| v.kb_error = Some(e.to_string()));
                None
            }
        }
    }

    async fn kb_mirror(&self) -> Result<&KbMirror, crate::kb_sync::KbSyncError> {
        self.inner
            .kb_mirror
            .get_or_try_init(|| KbMirror::open(&self.inner.kb_path))
            .await
    }

    /// One of the center's articles as an editor opens it, with the revision the edit starts
    /// from; `None` when the center does not have it (a local import only). Pulls first when
    /// the server answers, so an editor (or a reload after a conflict) starts from the latest.
    pub async fn kb_editable(
        &self,
        id: &str,
    ) -> Result<Option<crate::kb_sync::EditableArticle>, PopError> {
        if let Ok(http) = self.http().await {
            // Best effort: offline, the mirror's copy is what there is.
            let _ = self.pull_kb(&http).await;
        }
        let mirror = self
            .kb_mirror()
            .await
            .map_err(crate::kb_sync::KbEditError::from)?;
        Ok(mirror
            .article(id)
            .await
            .map_err(crate::kb_sync::KbEditError::from)?)
    }

    /// A supervisor's save of one article (an empty id makes a new one). The server refuses
    /// it as a conflict when the article changed since `edit.revision`; once stored, the
    /// desk's search takes it at once (the mirror pulls and the index is rebuilt).
    pub async fn kb_save_article(
        &self,
        edit: &crate::kb_sync::EditableArticle,
    ) -> Result<KbSaved, PopError> {
        use crate::kb_sync::{EditOutcome, KbEditError};
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Err(crate::DeskError::NotSignedIn.into());
        };
        let mut edit = edit.clone();
        edit.title = edit.title.trim().to_owned();
        edit.tags = edit
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if edit.id.trim().is_empty() {
            edit.id = format!("kb-{}", uuid::Uuid::now_v7().simple());
            edit.revision = 0;
        }
        crate::kb_sync::check_edit(&edit)?;
        let http = self.http().await?;
        let outcome = crate::kb_sync::publish_edit(&http, &server_url, token.expose(), &edit)
            .await
            .map_err(KbEditError::from)?;
        let revision = match outcome {
            EditOutcome::Stored { revision } | EditOutcome::Unchanged { revision } => revision,
            EditOutcome::Conflict { held: 0 } => return Err(KbEditError::Deleted.into()),
            EditOutcome::Conflict { held } => return Err(KbEditError::Conflict { held }.into()),
            EditOutcome::Rejected { reason } => return Err(KbEditError::Invalid(reason).into()),
        };
        tracing::info!(id = %edit.id, revision, "knowledge-base article saved");
        let indexed = self.pull_kb(&http).await.is_some();
        Ok(KbSaved {
            id: edit.id,
            revision,
            indexed,
        })
    }

    /// A supervisor deletes one of the center's articles (every desk drops it at its next pull).
    pub async fn kb_delete_article(&self, id: &str) -> Result<KbSaved, PopError> {
        use crate::kb_sync::KbEditError;
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Err(crate::DeskError::NotSignedIn.into());
        };
        let http = self.http().await?;
        let report =
            crate::kb_sync::publish(&http, &server_url, token.expose(), &[], &[id.to_owned()])
                .await
                .map_err(KbEditError::from)?;
        tracing::info!(
            id,
            revision = report.revision,
            "knowledge-base article deleted"
        );
        let indexed = self.pull_kb(&http).await.is_some();
        Ok(KbSaved {
            id: id.to_owned(),
            revision: report.revision,
            indexed,
        })
    }

    /// A supervisor's edit of the center's playbook, saved on the server and put in use here at
    /// once (the other desks take it at their next pull). A stale edit is refused by the server
    /// (`PlaybookError` code `conflict`) and changes nothing.
    pub async fn save_playbook(
        &self,
        edit: &seatline_playbook::Playbook,
    ) -> Result<seatline_playbook::Playbook, PopError> {
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Err(crate::DeskError::NotSignedIn.into());
        };
        let http = self.http().await?;
        let saved = playbook::push(&http, &server_url, token.expose(), edit).await?;
        tracing::info!(revision = saved.revision, "the center's playbook saved");
        // Saved on the server: a local write failure only delays it here until the next pull.
        let local = self.inner.playbook.replace(saved.clone());
        let revision = self.inner.playbook.current().revision;
        self.set_view(|v| {
            v.playbook_revision = revision;
            v.playbook_error = local.err().map(|e| e.to_string());
        });
        Ok(saved)
    }

    /// The center's call-quality report for `request`'s period (the server scopes it to the
    /// signed-in reader: her teams, the center, or her own calls).
    pub async fn quality_report(
        &self,
        request: &crate::quality_report::ReportRequest,
    ) -> Result<crate::quality_report::QualityReport, PopError> {
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Err(crate::DeskError::NotSignedIn.into());
        };
        let http = self.http().await?;
        Ok(crate::quality_report::fetch(&http, &server_url, token.expose(), request).await?)
    }

    /// The wrap-up of a call: a code of the center's playbook (required) and notes.
    pub async fn wrap_up(
        &self,
        call: &str,
        code: &str,
        notes: &str,
        now: i64,
    ) -> Result<CallRecord, PopError> {
        self.check_wrap_up(code, notes)?;
        let record = self
            .call_log()
            .await?
            .wrap_up(call, code, notes, now)
            .await?;
        self.inner.wake.notify_one();
        Ok(record)
    }

    /// Stores a call's final media quality in the call log.
    pub async fn set_call_quality(
        &self,
        call: &str,
        quality: &crate::call_quality::CallQuality,
    ) -> Result<(), PopError> {
        Ok(self.call_log().await?.set_quality(call, quality).await?)
    }

    /// Notes a call's recording in the call log; once the call is over (`finished`), fills the
    /// recording's sidecar with what the log knows (customer, E.164 number, caller name). A
    /// sidecar that cannot be updated is logged: the recording stays listed with what it has.
    pub async fn link_recording(
        &self,
        call: &str,
        file: &str,
        finished: bool,
    ) -> Result<(), PopError> {
        let log = self.call_log().await?;
        log.set_recording(call, file).await?;
        if !finished {
            return Ok(());
        }
        if let Some(record) = log.get(call).await? {
            // File I/O off the async workers (a sidecar on a slow or network drive).
            let path = Path::new(file).to_path_buf();
            let updated = tokio::task::spawn_blocking(move || {
                seatline_recordings::update_sidecar(&path, |m| {
                    if record.customer_id.is_some() {
                        m.customer_id = record.customer_id.clone();
                    }
                    if let Some(name) = record.customer_name.clone().or(record.display_name.clone())
                    {
                        m.display_name = Some(name);
                    }
                    if let Some(e164) = record.e164.clone().or(record.number.clone()) {
                        m.remote_number = e164;
                    }
                })
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            if let Err(error) = updated {
                tracing::warn!(%error, "recording sidecar not completed from the call log");
            }
        }
        Ok(())
    }

    /// One call from the log.
    pub async fn call(&self, call: &str) -> Result<Option<CallRecord>, PopError> {
        Ok(self.call_log().await?.get(call).await?)
    }

    /// The agent's figures for calls since `since` (wall-clock ms).
    pub async fn figures(&self, since: i64) -> Result<DayFigures, PopError> {
        Ok(self.call_log().await?.figures(since).await?)
    }

    pub fn feed_view(&self) -> FeedView {
        self.inner
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_view(&self, change: impl FnOnce(&mut FeedView)) {
        let mut view = self
            .inner
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut view);
    }

    /// Asks the feed loop to pull now (after a login, or when the agent asks).
    pub fn sync_now(&self) {
        self.inner.wake.notify_one();
    }

    /// One pull of the customer feed, if signed in. Errors are kept for the panel; the cache
    /// keeps what it had.
    pub async fn pull_once(&self, http: &reqwest::Client) -> Result<u64, PopError> {
        let cache = self.cache().await?;
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            let customers = cache.count().await?;
            self.inner.counted.store(true, Ordering::Relaxed);
            self.set_view(|v| {
                v.signed_in = false;
                v.customers = customers;
            });
            return Ok(0);
        };
        let result = feed::pull(http, &server_url, token.expose(), &cache).await;
        let customers = cache.count().await?;
        self.inner.counted.store(true, Ordering::Relaxed);
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        match result {
            Ok(report) => {
                tracing::debug!(
                    pages = report.pages,
                    changed = report.changed,
                    "customer feed pulled"
                );
                self.set_view(|v| {
                    v.signed_in = true;
                    v.customers = customers;
                    v.last_synced = Some(now);
                    v.last_error = None;
                });
                Ok(report.changed)
            }
            Err(FeedError::Cache(e)) => Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull the customer feed");
                self.set_view(|v| {
                    v.signed_in = true;
                    v.customers = customers;
                    v.last_error = Some(e.to_string());
                });
                Ok(0)
            }
        }
    }

    /// Follows the server's customer feed until the task is dropped: a pull as soon as the
    /// agent is signed in, then every [`FEED_INTERVAL`] and whenever [`ScreenPop::sync_now`]
    /// is called. Signing in is noticed within [`SIGN_IN_CHECK`].
    pub async fn run_feed(self) {
        let mut last_pull: Option<Instant> = None;
        let mut woken = true;
        loop {
            // Taken each round: timeouts changed in the settings apply from the next pull.
            let http = match self.http().await {
                Ok(http) => http,
                Err(e) => {
                    tracing::error!(error = %e, "no HTTP client for the customer feed");
                    return;
                }
            };
            let signed_in = self.inner.desk.session().await.signed_in;
            if !signed_in {
                last_pull = None;
            }
            let due = last_pull.is_none_or(|at| at.elapsed() >= FEED_INTERVAL);
            if woken || (signed_in && due) {
                if let Err(e) = self.pull_once(&http).await {
                    tracing::error!(error = %e, "the local customer cache failed");
                    self.set_view(|v| v.last_error = Some(e.to_string()));
                }
                self.pull_playbook(&http).await;
                self.pull_kb(&http).await;
                if let Err(e) = self.push_calls(&http).await {
                    tracing::error!(error = %e, "the local call log failed");
                    self.set_view(|v| v.calls_error = Some(e.to_string()));
                }
                if signed_in {
                    last_pull = Some(Instant::now());
                }
            }
            woken = tokio::time::timeout(SIGN_IN_CHECK, self.inner.wake.notified())
                .await
                .is_ok();
        }
    }

    /// The pop for a ringing call.
    pub async fn pop(&self, request: PopRequest) -> Result<Pop, PopError> {
        let started = Instant::now();
        let cache = self.cache().await?;
        let number = request.number.as_deref().filter(|n| !n.trim().is_empty());
        let lookup = match number {
            Some(number) if !request.withheld => cache.lookup(number).await?,
            _ => Lookup::Withheld,
        };
        let mut caller = CallerView {
            raw: request.number.clone(),
            e164: None,
            display: None,
            display_name: request.display_name.clone(),
            withheld: request.withheld,
            internal: false,
            unreadable: None,
        };
        let (mut customers, normalized) = match lookup {
            Lookup::Withheld => {
                caller.withheld = true;
                (vec![], None)
            }
            Lookup::Unreadable { reason, matches } => {
                caller.unreadable = Some(reason);
                (matches, None)
            }
            Lookup::Number {
                normalized,
                matches,
            } => (matches, Some(normalized)),
        };
        if let Some(normalized) = &normalized {
            caller.internal = normalized.is_internal();
            caller.e164 = normalized.e164().map(str::to_owned);
            caller.display = Some(display_form(
                normalized,
                self.inner.normalizer.default_region(),
            ));
        }
        let mut matched_by = if customers.is_empty() {
            MatchedBy::Nothing
        } else {
            MatchedBy::Number
        };
        if customers.is_empty() {
            for (field, value) in &request.ivr {
                let found = cache.by_reference(value).await?;
                if !found.is_empty() {
                    customers = found;
                    matched_by = MatchedBy::Ivr {
                        field: field.clone(),
                    };
                    break;
                }
            }
        }
        let cards = self.cards(customers).await;
        let cached_customers = if self.inner.counted.load(Ordering::Relaxed) {
            Some(self.feed_view().customers)
        } else if cache.is_empty().await? {
            Some(0)
        } else {
            None
        };
        Ok(Pop {
            call: request.call,
            caller,
            matched_by,
            cards,
            ivr: request
                .ivr
                .into_iter()
                .map(|(name, value)| IvrField { name, value })
                .collect(),
            cached_customers,
            lookup_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            received_at_ms: request.received_at_ms,
        })
    }

    /// The agent's own search when the pop found nobody (or the wrong person).
    pub async fn search(&self, text: &str) -> Result<Vec<CustomerCard>, PopError> {
        let found = self.cache().await?.search(text, 20).await?;
        Ok(self.cards(found).await)
    }

    /// A customer's latest calls at every desk: read from the server (waiting at most
    /// [`HISTORY_TIMEOUT`]) and merged with this desk's; this desk's alone when signed out or
    /// the server does not answer. The pop shows this desk's at once and this when it comes.
    pub async fn customer_history(
        &self,
        http: &reqwest::Client,
        customer_id: &str,
    ) -> Result<CallHistory, PopError> {
        let customer = self.cache().await?.get(customer_id).await?;
        let e164s: Vec<String> = customer
            .iter()
            .flat_map(|c| c.phones.iter())
            .filter_map(|p| self.inner.normalizer.normalize(p).ok())
            .filter_map(|n| n.e164().map(str::to_owned))
            .collect();
        let local = self
            .call_log()
            .await?
            .recent(customer_id, &e164s, HISTORY_CALLS)
            .await?;
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Ok(CallHistory {
                calls: local,
                from_server: false,
                error: None,
            });
        };
        let fetched = tokio::time::timeout(
            HISTORY_TIMEOUT,
            call_sync::customer_calls(
                http,
                &server_url,
                token.expose(),
                customer_id,
                HISTORY_CALLS,
            ),
        )
        .await;
        let limit = HISTORY_CALLS as usize;
        Ok(match fetched {
            Ok(Ok(server)) => CallHistory {
                calls: merge_history(local, server, limit),
                from_server: true,
                error: None,
            },
            Ok(Err(e)) => CallHistory {
                calls: local,
                from_server: false,
                error: Some(e.to_string()),
            },
            Err(_) => CallHistory {
                calls: local,
                from_server: false,
                error: Some(format!(
                    "the server did not answer within {} s",
                    HISTORY_TIMEOUT.as_secs()
                )),
            },
        })
    }

    /// Adds a caller the cache did not know as a customer on the server (agents may add
    /// standard customers), puts it in the local cache at once and links `call` to it; the
    /// card comes back. Needs the server: a customer must exist once for the whole center, so
    /// it is not queued offline. A number another desk added meanwhile is refused by the
    /// server with the customer's name.
    pub async fn create_customer(
        &self,
        new: &NewCustomer,
        call: Option<&str>,
    ) -> Result<CustomerCard, PopError> {
        if new.name.trim().is_empty() {
            return Err(crate::DeskError::Invalid("the customer's name is required".into()).into());
        }
        let Some((server_url, token)) = self.inner.desk.server_access().await else {
            return Err(crate::DeskError::NotSignedIn.into());
        };
        let http = self.http().await?;
        let url = format!("{}/api/v1/customers", server_url.trim_end_matches('/'));
        let request = http.post(url).json(&serde_json::json!({
            "name": new.name.trim(),
            "phones": new.phones,
            "email": new.email.as_deref().map(str::trim).filter(|e| !e.is_empty()),
            "notes": new.notes,
        }));
        let customer: Customer = send_json(request, token.expose())
            .await
            .map_err(|failure| match failure {
                ApiFailure::Unreachable(e) => crate::DeskError::Unreachable(e),
                ApiFailure::Refused { status, message } if status < 500 => {
                    crate::DeskError::Rejected(message)
                }
                ApiFailure::Refused { message, .. } => crate::DeskError::Server(message),
                ApiFailure::Unreadable(e) => {
                    crate::DeskError::Server(format!("unreadable customer: {e}"))
                }
            })?;
        let cache = self.cache().await?;
        // Into the cache now (the next feed pull brings the same record): the agent's next
        // call from this number pops it.
        cache
            .apply_page(std::slice::from_ref(&customer), None)
            .await?;
        let customers = cache.count().await?;
        self.inner.counted.store(true, Ordering::Relaxed);
        self.set_view(|v| v.customers = customers);
        if let Some(call) = call {
            self.choose_customer(call, &customer.id).await?;
        }
        tracing::info!(customer = %customer.id, "customer added from the pop");
        self.cards(vec![customer])
            .await
            .pop()
            .ok_or_else(|| PopError::Http("the new customer has no card".into()))
    }

    /// The pop's HTTP client with the desk's limits now (the settings' `[sync]` timeouts): the
    /// customer feed, knowledge base, call log and playbook fail on a silent server as the
    /// work-order sync does. Made again when the timeouts changed since the last one, so a
    /// change in the settings applies without a restart.
    async fn http(&self) -> Result<reqwest::Client, PopError> {
        let t = self.inner.desk.timeouts();
        let mut cached = self.inner.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((made_with, client)) = cached.as_ref() {
            if *made_with == t {
                return Ok(client.clone());
            }
        }
        let client = feed::client_with(t.connect, t.read, t.request)
            .map_err(|e| PopError::Http(e.to_string()))?;
        *cached = Some((t, client.clone()));
        Ok(client)
    }

    /// [`ScreenPop::customer_history`] with the pop's own HTTP client.
    pub async fn history(&self, customer_id: &str) -> Result<CallHistory, PopError> {
        let http = self.http().await?;
        self.customer_history(&http, customer_id).await
    }

    /// One customer's card (after the agent picked one of several matches).
    pub async fn card(&self, id: &str) -> Result<Option<CustomerCard>, PopError> {
        let Some(customer) = self.cache().await?.get(id).await? else {
            return Ok(None);
        };
        Ok(self.cards(vec![customer]).await.pop())
    }

    /// Cards with the orders of each customer from the local store. Orders name their customer
    /// by id or by name (orders captured offline before the customer was known), or carry the
    /// customer's number.
    async fn cards(&self, customers: Vec<Customer>) -> Vec<CustomerCard> {
        if customers.is_empty() {
            return vec![];
        }
        let orders = match self.inner.desk.list(&OrderQuery::default()).await {
            Ok(orders) => orders,
            Err(e) => {
                // Signed out or no store yet: the customer still pops, without orders.
                tracing::debug!(error = %e, "no local orders for the pop");
                vec![]
            }
        };
        let log = match self.call_log().await {
            Ok(log) => Some(log),
            Err(e) => {
                tracing::warn!(error = %e, "no call history for the pop");
                None
            }
        };
        let mut cards: Vec<CustomerCard> = customers
            .into_iter()
            .map(|customer| {
                let keys = self.customer_keys(&customer);
                let (mut open, mut done): (Vec<OrderView>, Vec<OrderView>) = orders
                    .iter()
                    .filter(|o| {
                        o.customer == customer.id
                            || o.customer == customer.name
                            || o.phone.as_deref().is_some_and(|p| {
                                self.number_keys(p).iter().any(|k| keys.contains(k))
                            })
                    })
                    .cloned()
                    .partition(|o| !o.status.is_finished());
                open.truncate(20);
                done.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
                done.truncate(RECENT_ORDERS);
                CustomerCard {
                    customer,
                    open_orders: open.iter().map(brief).collect(),
                    recent_orders: done.iter().map(brief).collect(),
                    recent_calls: vec![],
                }
            })
            .collect();
        if let Some(log) = log {
            for card in &mut cards {
                let e164s: Vec<String> = card
                    .customer
                    .phones
                    .iter()
                    .filter_map(|p| self.inner.normalizer.normalize(p).ok())
                    .filter_map(|n| n.e164().map(str::to_owned))
                    .collect();
                match log.recent(&card.customer.id, &e164s, RECENT_CALLS).await {
                    Ok(calls) => card.recent_calls = calls,
                    Err(e) => tracing::warn!(error = %e, "no call history for the pop"),
                }
            }
        }
        cards
    }

    fn number_keys(&self, number: &str) -> Vec<String> {
        self.inner
            .normalizer
            .normalize(number)
            .map(|n| lookup_keys(&n))
            .unwrap_or_default()
    }

    fn customer_keys(&self, customer: &Customer) -> Vec<String> {
        customer
            .phones
            .iter()
            .flat_map(|p| self.number_keys(p))
            .collect()
    }
}

/// An order as a card lists it: the order view's headline fields only (no notes or history),
/// so a pop stays small enough to reach the window in one message.
pub type OrderBrief = serde_json::Map<String, serde_json::Value>;

/// The fields of [`OrderView`] a card shows.
const BRIEF_FIELDS: &[&str] = &[
    "id",
    "number",
    "kind",
    "customer",
    "title",
    "priority",
    "status",
    "phone",
    "due",
    "due_at",
    "due_state",
    "urgency",
    "updated_at",
];

fn brief(order: &OrderView) -> OrderBrief {
    match serde_json::to_value(order) {
        Ok(serde_json::Value::Object(mut all)) => {
            all.retain(|key, _| BRIEF_FIELDS.contains(&key.as_str()));
            all
        }
        _ => OrderBrief::new(),
    }
}

/// The form an agent reads and dials: national digits for the center's own country (a trunk
/// `0` before fixed lines where the plan has one), E.164 otherwise, the digits of a service code
/// or a colleague's extension.
fn display_form(normalized: &Normalized, region: &str) -> String {
    let (main, extension) = match normalized {
        Normalized::Public(number) => {
            let own = number.region.as_deref() == Some(region);
            let main = if !own {
                number.e164.clone()
            } else if number.number_type == NumberType::Mobile || NO_TRUNK_ZERO.contains(&region) {
                number.national_number.clone()
            } else {
                format!("0{}", number.national_number)
            };
            (main, number.extension.as_deref())
        }
        Normalized::ServiceCode(code) => (code.number.clone(), code.extension.as_deref()),
        Normalized::Internal(ext) => (ext.number.clone(), ext.extension.as_deref()),
    };
    match extension {
        Some(ext) => format!("{main} ext. {ext}"),
        None => main,
    }
}

/// Plans dialled without a trunk `0` (the NANP; its trunk `1` is optional).
const NO_TRUNK_ZERO: &[&str] = &["US", "CA"];
