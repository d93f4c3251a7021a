//! `seatline orders …` and `seatline sync …`: the desktop's offline work orders and their sync,
//! headless, for scripts and the fault-injection tests. The account file holds who is logged in
//! (ids only, never the password or the token).

use clap::Subcommand;
use seatline_outbox::{LocalStore, OrderFilter};
use seatline_sync_client::{ServerClient, SyncEngine, Timeouts};
use seatline_sync_protocol::ScheduleConfig;
use seatline_work_orders::{
    Actor, Complexity, NewWorkOrder, OrderKind, Priority, Status, WorkOrderId,
};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Subcommand, Debug)]
pub enum OrdersCommand {
    /// Create a work order offline (an ordinary complaint unless --kind says otherwise); prints
    /// its id.
    Create {
        #[arg(long)]
        team: String,
        #[arg(long)]
        customer: String,
        #[arg(long)]
        category: String,
        /// complaint, complex_complaint, repair, inquiry or callback.
        #[arg(long, default_value = "complaint")]
        kind: String,
        /// low, normal, high or urgent.
        #[arg(long, default_value = "normal")]
        priority: String,
        #[arg(long, default_value = "")]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        /// The number to reach the customer on for this order.
        #[arg(long)]
        phone: Option<String>,
        /// The user id the order is assigned to.
        #[arg(long)]
        assignee: Option<String>,
        /// When it is due (a callback's time), RFC 3339: 2026-12-02T10:30:00+08:00.
        #[arg(long)]
        due: Option<String>,
    },
    /// Add a note to an order.
    Note { id: String, text: String },
    /// Change an order's status (new, in_progress, waiting_on_customer, resolved, closed).
    Status { id: String, status: String },
    /// All orders on this desktop, as JSON.
    List,
    /// Rejected changes and overwritten fields kept for the agent, as JSON.
    Problems,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("no account on this desktop yet: run `seatline sync --server URL --tenant T --user U` first")]
    NoAccount,
    #[error("cannot read or write the account file {path}: {detail}")]
    AccountFile { path: PathBuf, detail: String },
    #[error("unknown status {0:?}")]
    BadStatus(String),
    #[error("unknown kind {0:?}: complaint, complex_complaint, repair, inquiry or callback")]
    BadKind(String),
    #[error("unknown priority {0:?}: low, normal, high or urgent")]
    BadPriority(String),
    #[error("--due {0:?} is not an RFC 3339 time (2026-12-02T10:30:00+08:00)")]
    BadTime(String),
    #[error("invalid order id {0:?}")]
    BadId(String),
    #[error("cannot read the password from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Store(#[from] seatline_outbox::StoreError),
    #[error(transparent)]
    Sync(#[from] seatline_sync_client::SyncError),
    #[error(transparent)]
    Request(#[from] seatline_sync_client::RequestError),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Who is logged in on this desktop (no secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Account {
    server_url: String,
    tenant: String,
    username: String,
    tenant_id: String,
    user_id: String,
}

fn account_path(data_dir: &Path) -> PathBuf {
    data_dir.join("account.json")
}

fn load_account(data_dir: &Path) -> Result<Account, OrdersError> {
    let path = account_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OrdersError::NoAccount),
        Err(e) => {
            return Err(OrdersError::AccountFile {
                path,
                detail: e.to_string(),
            })
        }
    };
    serde_json::from_str(&text).map_err(|e| OrdersError::AccountFile {
        path,
        detail: e.to_string(),
    })
}

fn save_account(data_dir: &Path, account: &Account) -> Result<(), OrdersError> {
    let path = account_path(data_dir);
    let tmp = path.with_extension("json.tmp");
    let fail = |e: std::io::Error| OrdersError::AccountFile {
        path: path.clone(),
        detail: e.to_string(),
    };
    std::fs::write(&tmp, serde_json::to_vec_pretty(account)?).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

async fn open_store(data_dir: &Path, account: &Account) -> Result<LocalStore, OrdersError> {
    let actor = Actor {
        user: account.user_id.clone(),
        tenant: account.tenant_id.clone(),
    };
    Ok(LocalStore::open(&data_dir.join("orders.db"), actor, wall_clock()).await?)
}

/// The desktop's wall clock. `SEATLINE_TEST_CLOCK_SKEW_SECS` shifts it, so the fault tests can
/// run desktops whose clocks are hours off (home PCs drift); the server must not care.
fn wall_clock() -> OffsetDateTime {
    let skew = std::env::var("SEATLINE_TEST_CLOCK_SKEW_SECS")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    OffsetDateTime::now_utc() + time::Duration::seconds(skew)
}

fn runtime() -> Result<tokio::runtime::Runtime, OrdersError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(OrdersError::Runtime)
}

fn parse_kind(kind: &str) -> Result<OrderKind, OrdersError> {
    Ok(match kind {
        "complaint" => OrderKind::Complaint {
            complexity: Complexity::Ordinary,
        },
        "complex_complaint" => OrderKind::Complaint {
            complexity: Complexity::Complex,
        },
        "repair" => OrderKind::Repair,
        "inquiry" => OrderKind::Inquiry,
        "callback" => OrderKind::Callback,
        other => return Err(OrdersError::BadKind(other.to_owned())),
    })
}

fn parse_priority(priority: &str) -> Result<Priority, OrdersError> {
    serde_json::from_value(serde_json::Value::String(priority.to_owned()))
        .map_err(|_| OrdersError::BadPriority(priority.to_owned()))
}

fn parse_time(at: &str) -> Result<OffsetDateTime, OrdersError> {
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| OrdersError::BadTime(at.to_owned()))
}

fn parse_id(id: &str) -> Result<WorkOrderId, OrdersError> {
    uuid::Uuid::from_str(id)
        .map(WorkOrderId)
        .map_err(|_| OrdersError::BadId(id.to_owned()))
}

pub fn orders(data_dir: &Path, command: OrdersCommand) -> Result<(), OrdersError> {
    let account = load_account(data_dir)?;
    runtime()?.block_on(async {
        let store = open_store(data_dir, &account).await?;
        let now = wall_clock();
        match command {
            OrdersCommand::Create {
                team,
                customer,
                category,
                kind,
                priority,
                title,
                description,
                phone,
                assignee,
                due,
            } => {
                let new = NewWorkOrder {
                    team,
                    kind: parse_kind(&kind)?,
                    customer_id: customer,
                    call_id: None,
                    category,
                    priority: parse_priority(&priority)?,
                    assignee,
                    title,
                    description,
                    contact_phone: phone,
                    due_at: due.as_deref().map(parse_time).transpose()?,
                };
                let recorded = store.create_order(new, now).await?;
                println!("{}", serde_json::json!({"id": recorded.order.id}));
            }
            OrdersCommand::Note { id, text } => {
                store.add_note(parse_id(&id)?, text, now).await?;
            }
            OrdersCommand::Status { id, status } => {
                let to: Status = serde_json::from_value(serde_json::Value::String(status.clone()))
                    .map_err(|_| OrdersError::BadStatus(status))?;
                store.change_status(parse_id(&id)?, to, now).await?;
            }
            OrdersCommand::List => {
                let orders = store.orders(&OrderFilter::All).await?;
                println!("{}", serde_json::to_string(&orders)?);
            }
            OrdersCommand::Problems => {
                println!("{}", serde_json::to_string(&store.problems(false).await?)?);
            }
        }
        store.close().await;
        Ok(())
    })
}

/// Logs in (password on standard input), pushes and pulls until both sides are drained or the
/// timeout passes, and prints `{drained, pending, unseen_problems, last_error}`. Exit status 0
/// when drained.
pub fn sync(
    data_dir: &Path,
    server_url: &str,
    tenant: &str,
    username: &str,
    timeout: Duration,
    timeouts: Timeouts,
) -> Result<bool, OrdersError> {
    let until = std::time::Instant::now() + timeout;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(OrdersError::Stdin)?;
    let password = password.trim_end_matches(['\r', '\n']);
    runtime()?.block_on(async {
        let mut server = ServerClient::with_timeouts(server_url, timeouts)?;
        // A silent network must not hold the login past the timeout either.
        server.set_deadline(Some(until));
        let session = server.login(tenant, username, password).await?;
        let field = |name: &str| {
            session.user[name]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let account = Account {
            server_url: server_url.to_owned(),
            tenant: tenant.to_owned(),
            username: username.to_owned(),
            tenant_id: field("tenant_id"),
            user_id: field("id"),
        };
        save_account(data_dir, &account)?;
        let store = open_store(data_dir, &account).await?;
        let config = ScheduleConfig {
            backoff_initial: 100,
            backoff_max: 1_000,
            ..ScheduleConfig::default()
        };
        let mut engine = SyncEngine::new(&store, server, config).await?;
        let drained = engine
            .drain(until.saturating_duration_since(std::time::Instant::now()))
            .await?;
        let status = engine.status().clone();
        println!(
            "{}",
            serde_json::json!({
                "drained": drained,
                "pending": status.pending,
                "unseen_problems": status.unseen_problems,
                "last_error": status.last_error,
            })
        );
        drop(engine);
        store.close().await;
        Ok(drained)
    })
}
