//! The desktop's local work-order store: agents create and edit orders offline; every action is
//! one SQLite transaction that changes the local copy **and** appends a mutation to the outbox
//! (WAL, `synchronous=FULL`, so a committed action survives a crash or power loss). The sync
//! client pushes [`LocalStore::pending`] mutations in order, hands the server's answer to
//! [`LocalStore::acknowledge`], and applies pulled server state with [`LocalStore::apply_pull`],
//! which rebases still-pending mutations on top. Rejections and overwritten fields are kept as
//! [`Problem`]s for the agent: nothing is dropped silently.
//!
//! The merge rules themselves live in `seatline-work-orders` and are the same on the server.

pub use seatline_sync_protocol::{PulledChanges, PushAck, RejectedMutation};
use seatline_work_orders::{
    apply, rebase, Actor, ClientId, Conflict, FieldPatch, Hlc, HlcClock, Mutation, MutationBody,
    NewWorkOrder, Rejection, RejectionReport, Status, WorkOrder, WorkOrderId,
};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use time::OffsetDateTime;
use uuid::Uuid;

const SCHEMA: &str = include_str!("../migrations/0001_init.sql");
const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local work-order database: {0}")]
    Db(sqlx::Error),
    /// SQLite rolled the action back: nothing was recorded, what was queued stays queued.
    #[error("the disk holding the local work orders is full, so this change was not saved (the changes already queued are kept): free some space and try again")]
    DiskFull,
    /// The action breaks a domain rule; nothing was recorded.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    #[error("the local work-order database is damaged ({what}): {detail}")]
    Corrupt { what: String, detail: String },
    #[error("the local work-order database has schema version {found}; this build knows {known}")]
    NewerSchema { found: i64, known: i64 },
}

/// SQLite's primary result code for a full disk (extended codes keep it in the low byte).
const SQLITE_FULL: i64 = 13;
/// SQLITE_IOERR_SHMSIZE: the shared-memory file (`-shm`, opened with the database in WAL mode)
/// could not grow; on a full disk this is the first thing that fails.
const SQLITE_IOERR_SHMSIZE: i64 = 4874;
const ENOSPC: i32 = 28;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let full = match &e {
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| c & 0xff == SQLITE_FULL || c == SQLITE_IOERR_SHMSIZE),
            sqlx::Error::Io(io) => io.raw_os_error() == Some(ENOSPC),
            _ => false,
        };
        if full {
            Self::DiskFull
        } else {
            Self::Db(e)
        }
    }
}

fn corrupt(what: &str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

/// Which orders a list shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "filter", rename_all = "snake_case")]
pub enum OrderFilter {
    All,
    AssignedTo {
        user: String,
    },
    Team {
        team: String,
    },
    /// Not resolved or closed.
    Open,
}

/// Something the agent must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub id: i64,
    pub order_id: WorkOrderId,
    pub seen: bool,
    pub detail: ProblemDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemDetail {
    /// The server refused a change the agent made offline; the change is kept here (boxed: a
    /// create carries the whole new order; serialized the same as unboxed).
    Rejected {
        mutation: Box<Mutation>,
        rejection: RejectionReport,
    },
    /// A field the agent set was overwritten by a concurrent edit (or the reverse).
    Conflict { conflict: Conflict },
}

/// What recording an action produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub order: WorkOrder,
    pub mutation_id: u64,
}

/// Sync figures for the status bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub pending: u64,
    pub unseen_problems: u64,
    pub cursor: Option<String>,
}

pub struct LocalStore {
    path: PathBuf,
    /// Swapped once when a store opened for reading on a full disk can be written again.
    pool: Mutex<SqlitePool>,
    /// Opened for reading only because the disk was full (see [`LocalStore::open`]).
    read_only: AtomicBool,
    client_id: ClientId,
    actor: Actor,
}

fn to_ms(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn json<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

impl LocalStore {
    /// Opens (or creates) the store at `path` for the logged-in `actor`. The first open gives
    /// this install its client id (UUIDv7), which never changes afterwards.
    ///
    /// On a full disk the store cannot open for writing (WAL mode has to create its `-shm`
    /// file), but the agent must still see the orders: it then opens for reading only — as an
    /// immutable file when the last writer closed cleanly (no `-wal` left, so the file holds
    /// every committed change), else read-only beside the writer's WAL — and every change is
    /// refused with [`StoreError::DiskFull`] until the disk has room again, when the next change
    /// reopens it for writing.
    pub async fn open(path: &Path, actor: Actor, now: OffsetDateTime) -> Result<Self, StoreError> {
        let (pool, client_id, read_only) = match open_writable(path, now).await {
            Ok((pool, client_id)) => (pool, client_id, false),
            Err(StoreError::DiskFull) if path.exists() => {
                tracing::warn!(path = %path.display(), "the disk is full: work orders open for reading only");
                let (pool, client_id) = open_for_reading(path).await?;
                (pool, client_id, true)
            }
            Err(e) => return Err(e),
        };
        Ok(Self {
            path: path.to_owned(),
            pool: Mutex::new(pool),
            read_only: AtomicBool::new(read_only),
            client_id,
            actor,
        })
    }

    /// Whether the store is open for reading only (the disk was full when it opened and no
    /// change has succeeded since).
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    fn reader(&self) -> SqlitePool {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The pool to change the store with: a store open for reading only first tries to reopen
    /// for writing (the disk may have room again) and refuses with `DiskFull` while it cannot.
    async fn writer(&self) -> Result<SqlitePool, StoreError> {
        if !self.is_read_only() {
            return Ok(self.reader());
        }
        let (pool, client_id) = open_writable(&self.path, OffsetDateTime::now_utc()).await?;
        if client_id != self.client_id {
            return Err(corrupt(
                "client_id",
                "changed while the store was open for reading",
            ));
        }
        let old = std::mem::replace(
            &mut *self.pool.lock().unwrap_or_else(PoisonError::into_inner),
            pool.clone(),
        );
        self.read_only.store(false, Ordering::Release);
        tracing::info!("the disk has room again: work orders open for writing");
        old.close().await;
        Ok(pool)
    }

    pub fn client_id(&self) -> ClientId {
        self.client_id
    }

    /// Creates an order offline; its id (UUIDv7) is made here and is the idempotency key.
    pub async fn create_order(
        &self,
        new: NewWorkOrder,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let id = WorkOrderId::new_v7(now);
        self.record(id, MutationBody::Create(new), now).await
    }

    pub async fn set_fields(
        &self,
        order: WorkOrderId,
        patch: FieldPatch,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        self.record(order, MutationBody::SetFields(patch), now)
            .await
    }

    pub async fn add_note(
        &self,
        order: WorkOrderId,
        text: String,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        self.record(order, MutationBody::AddNote { text }, now)
            .await
    }

    pub async fn change_status(
        &self,
        order: WorkOrderId,
        to: Status,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        self.record(order, MutationBody::ChangeStatus { to }, now)
            .await
    }

    pub async fn reopen(
        &self,
        order: WorkOrderId,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        self.record(order, MutationBody::Reopen { reason }, now)
            .await
    }

    /// One user action: stamp it, apply it to the local copy (a domain rejection records
    /// nothing and is returned at once, while the agent is still looking at the form), append it
    /// to the outbox, commit.
    pub async fn record(
        &self,
        order_id: WorkOrderId,
        body: MutationBody,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        let mutation_id = next_mutation_id(&mut tx).await?;
        let mut clock = clock(&mut tx, self.client_id).await?;
        let stamp = clock.now(to_ms(now));
        let current = local_order(&mut tx, order_id).await?;
        let mutation = Mutation {
            client_id: self.client_id,
            mutation_id,
            order_id,
            stamp,
            base_version: current.as_ref().map_or(0, |o| o.version),
            actor: self.actor.clone(),
            body,
        };
        let applied = apply(current.as_ref(), &mutation, now)?;
        save_local(&mut tx, &applied.order).await?;
        sqlx::query("INSERT INTO outbox (mutation_id, order_id, body) VALUES (?, ?, ?)")
            .bind(i64::try_from(mutation_id).map_err(|e| corrupt("mutation id", e))?)
            .bind(order_id.to_string())
            .bind(json(&mutation, "mutation")?)
            .execute(&mut *tx)
            .await?;
        set_meta(&mut tx, "next_mutation_id", &(mutation_id + 1).to_string()).await?;
        set_meta(&mut tx, "hlc", &json(&clock.last(), "hlc")?).await?;
        seatline_failpoints::hit("before_local_commit");
        tx.commit().await?;
        seatline_failpoints::hit("after_local_commit");
        tracing::debug!(%order_id, mutation_id, kind = mutation.body.name(), "recorded");
        Ok(Recorded {
            order: applied.order,
            mutation_id,
        })
    }

    /// The oldest `limit` unacknowledged mutations, in order: what the next push sends.
    pub async fn pending(&self, limit: u32) -> Result<Vec<Mutation>, StoreError> {
        let rows = sqlx::query(
            "SELECT body FROM outbox WHERE state = 'pending' ORDER BY mutation_id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader())
        .await?;
        rows.iter()
            .map(|row| from_json(row.get::<&str, _>("body"), "outbox mutation"))
            .collect()
    }

    /// Takes the server's answer to a push. Processed mutations are no longer sent; they stay
    /// in the local view until a pull shows their effect in the server copy. Rejected ones
    /// become problems (with the whole change, so the agent can redo it) and leave the local
    /// view at once.
    pub async fn acknowledge(&self, ack: &PushAck, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        let last = i64::try_from(ack.last_mutation_id).map_err(|e| corrupt("ack", e))?;
        let done =
            sqlx::query("SELECT body FROM outbox WHERE mutation_id <= ? AND state = 'pending'")
                .bind(last)
                .fetch_all(&mut *tx)
                .await?;
        let mut touched = BTreeSet::new();
        for row in &done {
            let mutation: Mutation = from_json(row.get::<&str, _>("body"), "outbox mutation")?;
            let rejected = ack
                .rejected
                .iter()
                .find(|r| r.mutation_id == mutation.mutation_id);
            let state = if rejected.is_some() {
                "rejected"
            } else {
                "acked"
            };
            sqlx::query("UPDATE outbox SET state = ? WHERE mutation_id = ?")
                .bind(state)
                .bind(i64::try_from(mutation.mutation_id).map_err(|e| corrupt("id", e))?)
                .execute(&mut *tx)
                .await?;
            if let Some(rejected) = rejected {
                let detail = ProblemDetail::Rejected {
                    mutation: Box::new(mutation.clone()),
                    rejection: rejected.rejection.clone(),
                };
                let (order, id) = (mutation.order_id, Some(mutation.mutation_id));
                add_problem(&mut tx, "rejected", order, id, &detail).await?;
                touched.insert(mutation.order_id);
            }
        }
        for order_id in touched {
            rebuild_local(&mut tx, order_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies a page of server changes in one transaction: server copies replaced, processed
    /// mutations dropped, pending ones re-applied on top (rebase), this client's conflicts kept
    /// as problems, the cursor saved.
    pub async fn apply_pull(
        &self,
        changes: &PulledChanges,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer().await?.begin().await?;
        let mut clock = clock(&mut tx, self.client_id).await?;
        let mut touched = BTreeSet::new();
        for order in &changes.orders {
            clock.observe(order.max_stamp(), to_ms(now));
            sqlx::query(
                "INSERT INTO server_orders (id, body) VALUES (?, ?)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )
            .bind(order.id.to_string())
            .bind(json(order, "server order")?)
            .execute(&mut *tx)
            .await?;
            touched.insert(order.id);
        }
        let last = i64::try_from(changes.last_mutation_id).map_err(|e| corrupt("pull", e))?;
        let processed = sqlx::query("SELECT order_id FROM outbox WHERE mutation_id <= ?")
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
        for row in &processed {
            touched.insert(parse_order_id(row.get::<&str, _>("order_id"))?);
        }
        sqlx::query("DELETE FROM outbox WHERE mutation_id <= ?")
            .bind(last)
            .execute(&mut *tx)
            .await?;
        // Ours: conflicts our mutation met, and writes of ours another desktop overwrote (the
        // agent whose value was discarded must see it too).
        let node = self.client_id.node();
        for conflict in changes
            .conflicts
            .iter()
            .filter(|c| c.mutation.client_id == self.client_id || c.losing.node == node)
        {
            let detail = ProblemDetail::Conflict {
                conflict: conflict.clone(),
            };
            add_problem(
                &mut tx,
                "conflict",
                conflict.order_id,
                Some(conflict.mutation.mutation_id),
                &detail,
            )
            .await?;
        }
        for order_id in touched {
            rebuild_local(&mut tx, order_id, now).await?;
        }
        set_meta(&mut tx, "pull_cursor", &changes.cursor).await?;
        set_meta(&mut tx, "hlc", &json(&clock.last(), "hlc")?).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The orders the agent sees, most recently changed first.
    pub async fn orders(&self, filter: &OrderFilter) -> Result<Vec<WorkOrder>, StoreError> {
        let query = match filter {
            OrderFilter::All => {
                sqlx::query("SELECT body FROM local_orders ORDER BY updated_at DESC")
            }
            OrderFilter::AssignedTo { user } => sqlx::query(
                "SELECT body FROM local_orders WHERE assignee = ? ORDER BY updated_at DESC",
            )
            .bind(user),
            OrderFilter::Team { team } => {
                sqlx::query("SELECT body FROM local_orders WHERE team = ? ORDER BY updated_at DESC")
                    .bind(team)
            }
            OrderFilter::Open => sqlx::query(
                "SELECT body FROM local_orders WHERE status NOT IN ('resolved', 'closed')
                 ORDER BY updated_at DESC",
            ),
        };
        let rows = query.fetch_all(&self.reader()).await?;
        rows.iter()
            .map(|row| from_json(row.get::<&str, _>("body"), "local order"))
            .collect()
    }

    pub async fn order(&self, id: WorkOrderId) -> Result<Option<WorkOrder>, StoreError> {
        let mut conn = self.reader().acquire().await?;
        let row = sqlx::query("SELECT body FROM local_orders WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|row| from_json(row.get::<&str, _>("body"), "local order"))
            .transpose()
    }

    /// Rejections and conflicts, newest first.
    pub async fn problems(&self, unseen_only: bool) -> Result<Vec<Problem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, order_id, body, seen FROM problems WHERE seen = 0 OR ? = 0 ORDER BY id DESC",
        )
        .bind(unseen_only)
        .fetch_all(&self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Problem {
                    id: row.get("id"),
                    order_id: parse_order_id(row.get::<&str, _>("order_id"))?,
                    seen: row.get::<i64, _>("seen") != 0,
                    detail: from_json(row.get::<&str, _>("body"), "problem")?,
                })
            })
            .collect()
    }

    pub async fn mark_seen(&self, problem_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE problems SET seen = 1 WHERE id = ?")
            .bind(problem_id)
            .execute(&self.writer().await?)
            .await?;
        Ok(())
    }

    /// Mutations not yet sent, unseen problems and the pull cursor, for the status bar and for
    /// the logout warning (unsent changes must not be abandoned silently).
    pub async fn counts(&self) -> Result<SyncCounts, StoreError> {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
                .fetch_one(&self.reader())
                .await?;
        let unseen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM problems WHERE seen = 0")
            .fetch_one(&self.reader())
            .await?;
        let mut tx = self.reader().begin().await?;
        let cursor = meta(&mut tx, "pull_cursor").await?;
        tx.commit().await?;
        Ok(SyncCounts {
            pending: u64::try_from(pending).unwrap_or(0),
            unseen_problems: u64::try_from(unseen).unwrap_or(0),
            cursor,
        })
    }

    /// Closes the database cleanly (checkpointing the WAL).
    pub async fn close(self) {
        self.reader().close().await;
    }
}

fn parse_order_id(text: &str) -> Result<WorkOrderId, StoreError> {
    Uuid::from_str(text)
        .map(WorkOrderId)
        .map_err(|e| corrupt("order id", e))
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL may lose a committed transaction on power loss; an agent's work may not.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(10))
}

/// Opens for writing, creating and migrating the file as needed; gives the client id.
async fn open_writable(
    path: &Path,
    now: OffsetDateTime,
) -> Result<(SqlitePool, ClientId), StoreError> {
    // One connection: the desktop has one writer, and it keeps every action serial.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(path).create_if_missing(true))
        .await?;
    if check_version(&pool).await? < SCHEMA_VERSION {
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    }
    let mut tx = pool.begin().await?;
    let client_id = match meta(&mut tx, "client_id").await? {
        Some(text) => parse_client_id(&text)?,
        None => {
            let id = ClientId(WorkOrderId::new_v7(now).0);
            set_meta(&mut tx, "client_id", &id.to_string()).await?;
            id
        }
    };
    tx.commit().await?;
    Ok((pool, client_id))
}

/// Opens an existing, current store for reading only, without creating any file. Immutable
/// when no writer's WAL is left beside it: SQLite then needs no `-shm` (which a full disk
/// cannot hold) and the file alone holds every committed change.
async fn open_for_reading(path: &Path) -> Result<(SqlitePool, ClientId), StoreError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_in_use = std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(path).read_only(true).immutable(!wal_in_use))
        .await?;
    if check_version(&pool).await? < SCHEMA_VERSION {
        // Upgrading the file needs room; there is nothing older to read meanwhile.
        return Err(StoreError::DiskFull);
    }
    let mut tx = pool.begin().await?;
    let client_id = meta(&mut tx, "client_id").await?;
    tx.commit().await?;
    // A store never written has nothing to read; it needs room to start.
    let client_id = parse_client_id(&client_id.ok_or(StoreError::DiskFull)?)?;
    Ok((pool, client_id))
}

/// The file's schema version, refused when newer than this build.
async fn check_version(pool: &SqlitePool) -> Result<i64, StoreError> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(pool)
        .await?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

fn parse_client_id(text: &str) -> Result<ClientId, StoreError> {
    Ok(ClientId(
        Uuid::from_str(text).map_err(|e| corrupt("client_id", e))?,
    ))
}

async fn meta(tx: &mut Transaction<'_, Sqlite>, key: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?)
}

async fn set_meta(
    tx: &mut Transaction<'_, Sqlite>,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn next_mutation_id(tx: &mut Transaction<'_, Sqlite>) -> Result<u64, StoreError> {
    match meta(tx, "next_mutation_id").await? {
        Some(text) => text.parse().map_err(|e| corrupt("next_mutation_id", e)),
        None => Ok(1),
    }
}

async fn clock(tx: &mut Transaction<'_, Sqlite>, client: ClientId) -> Result<HlcClock, StoreError> {
    Ok(match meta(tx, "hlc").await? {
        Some(text) => HlcClock::resume(from_json::<Hlc>(&text, "hlc")?),
        None => HlcClock::new(client.node()),
    })
}

async fn local_order(
    tx: &mut Transaction<'_, Sqlite>,
    id: WorkOrderId,
) -> Result<Option<WorkOrder>, StoreError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM local_orders WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    body.map(|b| from_json(&b, "local order")).transpose()
}

async fn save_local(tx: &mut Transaction<'_, Sqlite>, order: &WorkOrder) -> Result<(), StoreError> {
    let status = serde_json::to_value(order.status).map_err(|e| corrupt("status", e))?;
    let updated = order
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| corrupt("updated_at", e))?;
    sqlx::query(
        "INSERT INTO local_orders (id, body, team, assignee, status, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, team = excluded.team,
           assignee = excluded.assignee, status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(order.id.to_string())
    .bind(json(order, "local order")?)
    .bind(&order.team)
    .bind(order.assignee.as_deref())
    .bind(status.as_str().unwrap_or_default())
    .bind(updated)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_problem(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
    order_id: WorkOrderId,
    mutation_id: Option<u64>,
    detail: &ProblemDetail,
) -> Result<(), StoreError> {
    let mutation_id = mutation_id
        .map(i64::try_from)
        .transpose()
        .map_err(|e| corrupt("id", e))?;
    sqlx::query("INSERT INTO problems (kind, order_id, mutation_id, body) VALUES (?, ?, ?, ?)")
        .bind(kind)
        .bind(order_id.to_string())
        .bind(mutation_id)
        .bind(json(detail, "problem")?)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The local copy of one order: the server copy with its still-pending mutations re-applied.
async fn rebuild_local(
    tx: &mut Transaction<'_, Sqlite>,
    order_id: WorkOrderId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let server: Option<String> = sqlx::query_scalar("SELECT body FROM server_orders WHERE id = ?")
        .bind(order_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let server: Option<WorkOrder> = server.map(|b| from_json(&b, "server order")).transpose()?;
    let rows = sqlx::query(
        "SELECT body FROM outbox WHERE order_id = ? AND state != 'rejected' ORDER BY mutation_id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let pending: Vec<Mutation> = rows
        .iter()
        .map(|row| from_json(row.get::<&str, _>("body"), "outbox mutation"))
        .collect::<Result<_, _>>()?;
    let rebased = rebase(order_id, server, &pending, now);
    for (reference, rejection) in &rebased.rejected {
        // The server will decide; until it does, the local view simply lacks this change.
        tracing::info!(%order_id, mutation = reference.mutation_id, %rejection,
            "pending change no longer applies on top of the server copy");
    }
    match rebased.order {
        Some(order) => save_local(tx, &order).await,
        None => {
            sqlx::query("DELETE FROM local_orders WHERE id = ?")
                .bind(order_id.to_string())
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
