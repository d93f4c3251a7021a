//! Work-order sync: push (exactly-once apply of client mutations), pull (changes since a cursor
//! with the client's `last_mutation_id` in the same snapshot), list views with SLA state, the
//! tenant's SLA policy, and the change clock long polls wait on.
//!
//! Push, per mutation and in its own transaction: lock the client row, then the tenant row
//! (which serialises all order changes of the tenant, across instances), then
//! `id <= last` → skip, `id > last + 1` → gap (stop), `id == last + 1` → authorize, `apply` with
//! server time, store, log, advance `last`. Domain and authorization rejections advance `last`
//! too and are logged, so a resend of an already processed batch still reports them.

use std::collections::BTreeSet;

use seatline_sync_protocol::{PulledChanges, PushAck, PushRequest, RejectedMutation};
use seatline_work_orders::{
    apply, due_state, sla_state, urgency, Actor, Conflict, DueReport, Mutation, MutationBody,
    OrderKind, RejectionReport, SlaPolicy, SlaReport, Urgency, WorkCalendar, WorkOrder,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};
use time::macros::time;
use time::{OffsetDateTime, UtcOffset};

use crate::authz::{Principal, Role, TeamScope, TeamVisibility};
use crate::clock::{to_micros, ServerClock};
use crate::error::{Error, Result};
use crate::live::{ChangeHub, PG_CHANNEL};
use crate::store::{now_micros, Backend, Store};

/// Most mutations accepted in one push (413 beyond).
pub const MAX_PUSH_BATCH: usize = 500;
/// Default and largest pull page.
pub const DEFAULT_PULL_LIMIT: u32 = 500;
/// Largest pull page.
pub const MAX_PULL_LIMIT: u32 = 1000;
/// Default and largest list page.
pub const DEFAULT_LIST_LIMIT: u32 = 200;
/// Largest list page.
pub const MAX_LIST_LIMIT: u32 = 1000;

fn json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("cannot encode {what}: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Internal(format!("stored {what} is damaged: {e}")))
}

fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Invalid(format!("{what} {value} is too large")))
}

/// The stable name stored in `work_orders.kind`.
pub fn kind_name(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Complaint { .. } => "complaint",
        OrderKind::Repair => "repair",
        OrderKind::Inquiry => "inquiry",
        OrderKind::Callback => "callback",
    }
}

/// The SQL condition (on table alias `o`) selecting the orders `visibility` may see, with its
/// bind values; placeholders start at `$first`. The tenant condition is separate.
fn visible_clause(
    visibility: &TeamVisibility,
    user_id: &str,
    first: usize,
) -> (String, Vec<String>) {
    match visibility.scope() {
        TeamScope::Tenant => ("1 = 1".to_owned(), Vec::new()),
        TeamScope::Teams(teams) => {
            let mut binds = vec![user_id.to_owned()];
            let mut sql = format!("(o.assignee = ${first}");
            if !teams.is_empty() {
                let placeholders: Vec<String> = (0..teams.len())
                    .map(|i| format!("${}", first + 1 + i))
                    .collect();
                sql.push_str(&format!(" OR o.team_id IN ({})", placeholders.join(", ")));
                binds.extend(teams.iter().cloned());
            }
            sql.push(')');
            (sql, binds)
        }
    }
}

fn parse_cursor(cursor: Option<&str>) -> Result<i64> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::Invalid(format!("invalid cursor {c:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Push

/// What happened to one mutation of a push.
enum Step {
    /// Already processed earlier (exactly once).
    Skipped,
    /// Beyond `last + 1`: the batch stops here.
    Gap,
    /// Processed now.
    Done { rejection: Option<RejectionReport> },
}

struct PushContext<'a> {
    store: &'a Store,
    hub: &'a ChangeHub,
    clock: &'a ServerClock,
    principal: &'a Principal,
    visibility: &'a TeamVisibility,
    client_id: String,
}

fn forbidden(message: String) -> RejectionReport {
    RejectionReport {
        code: "forbidden".to_owned(),
        message,
    }
}

fn invalid(message: String) -> RejectionReport {
    RejectionReport {
        code: "invalid".to_owned(),
        message,
    }
}

/// Register `client_id` for the principal, or check it is theirs (403 otherwise).
async fn register_client(store: &Store, principal: &Principal, client_id: &str) -> Result<()> {
    let now = now_micros();
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO sync_clients (client_id, tenant_id, user_id, last_mutation_id, created_at, \
         last_seen_at) VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(client_id)
    .bind(&principal.tenant_id)
    .bind(&principal.user_id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let row = sqlx::query("SELECT tenant_id, user_id FROM sync_clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_one(tx.conn())
        .await?;
    check_owner(&row, principal, client_id)?;
    sqlx::query("UPDATE sync_clients SET last_seen_at = $1 WHERE client_id = $2")
        .bind(now)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

fn check_owner(row: &AnyRow, principal: &Principal, client_id: &str) -> Result<()> {
    let tenant: String = row.try_get("tenant_id")?;
    let user: String = row.try_get("user_id")?;
    if tenant == principal.tenant_id && user == principal.user_id {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "client {client_id} is registered to another user"
        )))
    }
}

async fn load_order(conn: &mut AnyConnection, order_id: &str) -> Result<Option<WorkOrder>> {
    let row = sqlx::query("SELECT body FROM work_orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(row) => Ok(Some(from_json(
            &row.try_get::<String, _>("body")?,
            "work order",
        )?)),
        None => Ok(None),
    }
}

async fn user_in_tenant(conn: &mut AnyConnection, tenant_id: &str, user_id: &str) -> Result<bool> {
    let row = sqlx::query("SELECT id FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

async fn team_in_tenant(conn: &mut AnyConnection, tenant_id: &str, team_id: &str) -> Result<bool> {
    let row = sqlx::query("SELECT id FROM teams WHERE id = $1 AND tenant_id = $2")
        .bind(team_id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// The team rules: agents and supervisors create orders only in their own teams and change
/// orders they can see; admins anything in the tenant. Assignees must be users of the tenant.
async fn authorize(
    conn: &mut AnyConnection,
    ctx: &PushContext<'_>,
    existing: Option<&WorkOrder>,
    m: &Mutation,
) -> Result<std::result::Result<(), RejectionReport>> {
    let tenant = &ctx.principal.tenant_id;
    match existing {
        Some(order) => {
            if !ctx
                .visibility
                .can_see(&order.tenant, Some(&order.team), order.assignee.as_deref())
            {
                return Ok(Err(forbidden(format!(
                    "work order {} is not visible to you",
                    order.id
                ))));
            }
        }
        None => {
            if let MutationBody::Create(new) = &m.body {
                if !team_in_tenant(conn, tenant, &new.team).await? {
                    return Ok(Err(invalid(format!("team {} does not exist", new.team))));
                }
                if let TeamScope::Teams(teams) = ctx.visibility.scope() {
                    if !teams.contains(&new.team) {
                        return Ok(Err(forbidden(format!(
                            "you are not a member of team {}",
                            new.team
                        ))));
                    }
                }
            }
        }
    }
    let assignee = match &m.body {
        MutationBody::Create(new) if existing.is_none() => new.assignee.as_deref(),
        MutationBody::SetFields(patch) => patch.assignee.as_ref().and_then(|a| a.as_deref()),
        _ => None,
    };
    if let Some(user) = assignee {
        if !user_in_tenant(conn, tenant, user).await? {
            return Ok(Err(invalid(format!(
                "assignee {user} is not a user of this tenant"
            ))));
        }
    }
    Ok(Ok(()))
}

async fn save_order(
    conn: &mut AnyConnection,
    order: &WorkOrder,
    seq: i64,
    exists: bool,
) -> Result<()> {
    let sql = if exists {
        "UPDATE work_orders SET tenant_id = $2, team_id = $3, assignee = $4, status = $5, \
         kind = $6, customer_id = $7, body = $8, version = $9, change_seq = $10, \
         created_at = $11, updated_at = $12, title = $13, contact_phone = $14, due_at = $15 \
         WHERE id = $1"
    } else {
        "INSERT INTO work_orders (id, tenant_id, team_id, assignee, status, kind, customer_id, \
         body, version, change_seq, created_at, updated_at, title, contact_phone, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    };
    sqlx::query(sql)
        .bind(order.id.to_string())
        .bind(&order.tenant)
        .bind(&order.team)
        .bind(order.assignee.clone())
        .bind(order.status.as_str())
        .bind(kind_name(order.kind))
        .bind(&order.customer_id)
        .bind(json(order, "work order")?)
        .bind(to_i64(order.version, "version")?)
        .bind(seq)
        .bind(to_micros(order.created_at))
        .bind(to_micros(order.updated_at))
        .bind(&order.title)
        .bind(order.contact_phone.clone())
        .bind(order.due_at.map(to_micros))
        .execute(conn)
        .await?;
    Ok(())
}

async fn push_one(ctx: &PushContext<'_>, m: &Mutation) -> Result<Step> {
    let mutation_id = to_i64(m.mutation_id, "mutation_id")?;
    let store = ctx.store;
    let tenant_id = ctx.principal.tenant_id.as_str();
    let mut tx = store.begin_write().await?;
    let row = sqlx::query(&format!(
        "SELECT tenant_id, user_id, last_mutation_id FROM sync_clients WHERE client_id = $1{}",
        store.for_update()
    ))
    .bind(&ctx.client_id)
    .fetch_one(tx.conn())
    .await?;
    check_owner(&row, ctx.principal, &ctx.client_id)?;
    let last: i64 = row.try_get("last_mutation_id")?;
    if mutation_id <= last {
        return Ok(Step::Skipped);
    }
    if mutation_id > last.saturating_add(1) {
        return Ok(Step::Gap);
    }
    // Serialise order changes of the tenant (and the change clock) until commit.
    sqlx::query(&format!(
        "SELECT order_clock FROM tenants WHERE id = $1{}",
        store.for_update()
    ))
    .bind(tenant_id)
    .fetch_one(tx.conn())
    .await?;

    let order_id = m.order_id.to_string();
    let existing = load_order(tx.conn(), &order_id).await?;
    let mut m = m.clone();
    m.actor = Actor {
        user: ctx.principal.user_id.clone(),
        tenant: tenant_id.to_owned(),
    };
    let now = ctx.clock.now();
    let outcome = match authorize(tx.conn(), ctx, existing.as_ref(), &m).await? {
        Err(report) => Err(report),
        Ok(()) => apply(existing.as_ref(), &m, now).map_err(|r| r.report()),
    };
    let (seq, rejection) = match outcome {
        Ok(applied) => {
            let seq = if applied.changed(existing.as_ref()) || !applied.conflicts.is_empty() {
                let row = sqlx::query(
                    "UPDATE tenants SET order_clock = order_clock + 1 WHERE id = $1 \
                     RETURNING order_clock",
                )
                .bind(tenant_id)
                .fetch_one(tx.conn())
                .await?;
                let seq: i64 = row.try_get("order_clock")?;
                save_order(tx.conn(), &applied.order, seq, existing.is_some()).await?;
                for (idx, conflict) in applied.conflicts.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO conflicts (tenant_id, order_id, change_seq, idx, body) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(tenant_id)
                    .bind(&order_id)
                    .bind(seq)
                    .bind(i64::try_from(idx).unwrap_or(i64::MAX))
                    .bind(json(conflict, "conflict")?)
                    .execute(tx.conn())
                    .await?;
                }
                if store.backend() == Backend::Postgres {
                    // Delivered to every instance's LISTEN only if this transaction commits.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(PG_CHANNEL)
                        .bind(format!("{tenant_id} {seq}"))
                        .execute(tx.conn())
                        .await?;
                }
                Some(seq)
            } else {
                None
            };
            (seq, None)
        }
        Err(report) => (None, Some(report)),
    };
    let rejection_json = rejection
        .as_ref()
        .map(|r| json(r, "rejection"))
        .transpose()?;
    sqlx::query(
        "INSERT INTO mutation_log (client_id, mutation_id, tenant_id, user_id, order_id, kind, \
         outcome, rejection, change_seq, applied_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&ctx.client_id)
    .bind(mutation_id)
    .bind(tenant_id)
    .bind(&ctx.principal.user_id)
    .bind(&order_id)
    .bind(m.body.name())
    .bind(if rejection.is_some() {
        "rejected"
    } else {
        "applied"
    })
    .bind(rejection_json)
    .bind(seq)
    .bind(to_micros(now))
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE sync_clients SET last_mutation_id = $1 WHERE client_id = $2")
        .bind(mutation_id)
        .bind(&ctx.client_id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    // Committed, the client not yet told: it must resend and be answered "already applied".
    seatline_failpoints::hit("after_server_commit");
    if let Some(seq) = seq {
        ctx.hub.publish(tenant_id, seq);
    }
    Ok(Step::Done { rejection })
}

/// Apply a push: see the module docs. Answers the client's `last_mutation_id` after the batch
/// and the rejections of the mutations it covers (also those rejected by an earlier delivery).
pub async fn push(
    store: &Store,
    hub: &ChangeHub,
    clock: &ServerClock,
    principal: &Principal,
    request: &PushRequest,
) -> Result<PushAck> {
    if request.mutations.len() > MAX_PUSH_BATCH {
        return Err(Error::TooLarge(format!(
            "at most {MAX_PUSH_BATCH} mutations per push; got {}",
            request.mutations.len()
        )));
    }
    let client_id = request.client_id.to_string();
    if let Some(m) = request
        .mutations
        .iter()
        .find(|m| m.client_id != request.client_id)
    {
        return Err(Error::Invalid(format!(
            "mutation {} belongs to client {}, not {client_id}",
            m.mutation_id, m.client_id
        )));
    }
    register_client(store, principal, &client_id).await?;
    let visibility = TeamVisibility::for_principal(store, principal).await?;
    let ctx = PushContext {
        store,
        hub,
        clock,
        principal,
        visibility: &visibility,
        client_id,
    };
    let mut rejected = Vec::new();
    let mut skipped = BTreeSet::new();
    for m in &request.mutations {
        match push_one(&ctx, m).await? {
            Step::Skipped => {
                skipped.insert(m.mutation_id);
            }
            Step::Gap => break,
            Step::Done {
                rejection: Some(rejection),
                ..
            } => rejected.push(RejectedMutation {
                mutation_id: m.mutation_id,
                rejection,
            }),
            Step::Done { .. } => {}
        }
    }
    if let (Some(first), Some(last)) = (skipped.first(), skipped.last()) {
        // A resend of processed mutations: report their rejections again (the first answer may
        // have been lost), so every rejection reaches its agent.
        let rows = sqlx::query(
            "SELECT mutation_id, rejection FROM mutation_log WHERE client_id = $1 \
             AND mutation_id >= $2 AND mutation_id <= $3 AND outcome = 'rejected'",
        )
        .bind(&ctx.client_id)
        .bind(to_i64(*first, "mutation_id")?)
        .bind(to_i64(*last, "mutation_id")?)
        .fetch_all(store.pool())
        .await?;
        for row in &rows {
            let id = u64::try_from(row.try_get::<i64, _>("mutation_id")?).unwrap_or(0);
            let text: Option<String> = row.try_get("rejection")?;
            if skipped.contains(&id) {
                rejected.push(RejectedMutation {
                    mutation_id: id,
                    rejection: from_json(text.as_deref().unwrap_or("null"), "rejection")?,
                });
            }
        }
        rejected.sort_by_key(|r| r.mutation_id);
    }
    let row = sqlx::query("SELECT last_mutation_id FROM sync_clients WHERE client_id = $1")
        .bind(&ctx.client_id)
        .fetch_one(store.pool())
        .await?;
    let last = u64::try_from(row.try_get::<i64, _>("last_mutation_id")?).unwrap_or(0);
    Ok(PushAck {
        last_mutation_id: last,
        rejected,
    })
}

// ---------------------------------------------------------------------------------------------
// Pull

/// One page of changes for `client_id`: the visible orders with `change_seq > cursor` in
/// `change_seq` order, the conflicts recorded in the page's cursor range on visible orders, and
/// the client's `last_mutation_id`, all from one snapshot.
pub async fn pull(
    store: &Store,
    principal: &Principal,
    client_id: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<PulledChanges> {
    let after = parse_cursor(cursor)?;
    let limit = limit.unwrap_or(DEFAULT_PULL_LIMIT);
    if limit == 0 || limit > MAX_PULL_LIMIT {
        return Err(Error::Invalid(format!("limit must be 1-{MAX_PULL_LIMIT}")));
    }
    let visibility = TeamVisibility::for_principal(store, principal).await?;
    let tenant_id = principal.tenant_id.as_str();
    let mut tx = store.pool().begin().await?;
    if store.backend() == Backend::Postgres {
        // One snapshot for every statement below (SQLite's read transaction already is one).
        (&mut *tx)
            .execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
    }
    let client = sqlx::query(
        "SELECT tenant_id, user_id, last_mutation_id FROM sync_clients WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(&mut *tx)
    .await?;
    let last_mutation_id = match client {
        Some(row) => {
            check_owner(&row, principal, client_id)?;
            u64::try_from(row.try_get::<i64, _>("last_mutation_id")?).unwrap_or(0)
        }
        None => 0,
    };
    let (visible, binds) = visibility_for(&visibility, principal, 4);
    let sql = format!(
        "SELECT o.body, o.change_seq FROM work_orders o WHERE o.tenant_id = $1 \
         AND o.change_seq > $2 AND {visible} ORDER BY o.change_seq LIMIT $3"
    );
    let mut query = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(after)
        .bind(i64::from(limit) + 1);
    for b in &binds {
        query = query.bind(b);
    }
    let mut rows = query.fetch_all(&mut *tx).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut orders = Vec::with_capacity(rows.len());
    let mut last_seq = after;
    for row in &rows {
        orders.push(from_json::<WorkOrder>(
            &row.try_get::<String, _>("body")?,
            "work order",
        )?);
        last_seq = row.try_get("change_seq")?;
    }
    let next = if more {
        last_seq
    } else {
        let row = sqlx::query("SELECT order_clock FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        row.try_get::<i64, _>("order_clock")?.max(after)
    };
    let sql = format!(
        "SELECT c.body FROM conflicts c JOIN work_orders o ON o.id = c.order_id \
         WHERE c.tenant_id = $1 AND c.change_seq > $2 AND c.change_seq <= $3 AND {visible} \
         ORDER BY c.change_seq, c.idx"
    );
    let mut query = sqlx::query(&sql).bind(tenant_id).bind(after).bind(next);
    for b in &binds {
        query = query.bind(b);
    }
    let conflicts = query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| from_json::<Conflict>(&row.try_get::<String, _>("body")?, "conflict"))
        .collect::<Result<Vec<_>>>()?;
    tx.rollback().await?;
    Ok(PulledChanges {
        orders,
        conflicts,
        last_mutation_id,
        cursor: next.to_string(),
        more,
    })
}

fn visibility_for(
    visibility: &TeamVisibility,
    principal: &Principal,
    first: usize,
) -> (String, Vec<String>) {
    visible_clause(visibility, &principal.user_id, first)
}

/// The tenant's current order change clock.
pub async fn current_seq(store: &Store, tenant_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT order_clock FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))?;
    Ok(row.try_get("order_clock")?)
}

/// The answer of a long poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitResult {
    /// Whether the tenant's orders changed past the given cursor.
    pub changed: bool,
    /// The tenant's change clock now (a pull cursor).
    pub cursor: String,
}

/// Wait until the tenant's order clock passes `cursor`, or `timeout`.
pub async fn wait_for_change(
    store: &Store,
    hub: &std::sync::Arc<ChangeHub>,
    tenant_id: &str,
    cursor: Option<&str>,
    timeout: std::time::Duration,
) -> Result<WaitResult> {
    let after = parse_cursor(cursor)?;
    let reliable = hub.ensure_listening().await;
    // Subscribe before reading, so a change between the read and the wait still wakes us.
    let mut changes = hub.subscribe(tenant_id);
    let recheck = if reliable {
        std::time::Duration::from_secs(5)
    } else {
        std::time::Duration::from_millis(500)
    };
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        changes.borrow_and_update();
        let current = current_seq(store, tenant_id).await?;
        if current > after {
            return Ok(WaitResult {
                changed: true,
                cursor: current.to_string(),
            });
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || hub.is_closed() {
            return Ok(WaitResult {
                changed: false,
                cursor: current.max(after).to_string(),
            });
        }
        let wake = deadline.min(now + recheck);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(wake).await;
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Views and SLA

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Assigned to the caller.
    Mine,
    /// Everything the caller may see (own teams; the tenant for admins).
    Team,
    /// Open orders the caller may see with a complaint clock overdue or escalated, or their
    /// own due time (callbacks, agent-set due dates) passed.
    Overdue,
    /// Open orders the caller may see that are due soon (and not overdue).
    DueSoon,
}

/// One row of a list view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedOrder {
    pub order: WorkOrder,
    /// Complaints only: both clocks at server time.
    pub sla: Option<SlaReport>,
    /// Open orders with a `due_at`: where it stands at server time.
    #[serde(default)]
    pub due: Option<DueReport>,
    /// The worst of `sla` and `due`.
    pub urgency: Urgency,
}

/// A list view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderList {
    pub items: Vec<ListedOrder>,
    /// Server time the SLA states were computed at (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
}

/// Longest search text.
pub const MAX_SEARCH_CHARS: usize = 100;

/// A list view for `principal`: mine and team newest change first, overdue and due soon
/// earliest deadline first. `search` matches the title, customer id or contact phone
/// (case-insensitive substring).
pub async fn list(
    store: &Store,
    clock: &ServerClock,
    principal: &Principal,
    view: View,
    limit: Option<u32>,
    search: Option<&str>,
) -> Result<OrderList> {
    let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(Error::Invalid(format!("limit must be 1-{MAX_LIST_LIMIT}")));
    }
    let visibility = TeamVisibility::for_principal(store, principal).await?;
    let policy = sla_policy(store, &principal.tenant_id).await?;
    let (condition, binds, sql_limit) = match view {
        View::Mine => (
            "o.assignee = $2".to_owned(),
            vec![principal.user_id.clone()],
            Some(limit),
        ),
        View::Team => {
            let (c, b) = visibility_for(&visibility, principal, 2);
            (c, b, Some(limit))
        }
        View::Overdue | View::DueSoon => {
            let (c, b) = visibility_for(&visibility, principal, 2);
            (
                format!(
                    "(o.kind = 'complaint' OR o.due_at IS NOT NULL) \
                     AND o.status NOT IN ('resolved', 'closed') AND {c}"
                ),
                b,
                None,
            )
        }
    };
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let (search_sql, search_bind) = match search {
        Some(text) if text.chars().count() > MAX_SEARCH_CHARS => {
            return Err(Error::Invalid(format!(
                "search is at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        Some(text) => {
            let n = binds.len() + 2;
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            (
                format!(
                    " AND (LOWER(o.title) LIKE ${n} ESCAPE '\\' \
                     OR LOWER(o.customer_id) LIKE ${n} ESCAPE '\\' \
                     OR o.contact_phone LIKE ${n} ESCAPE '\\')"
                ),
                Some(format!("%{escaped}%")),
            )
        }
        None => (String::new(), None),
    };
    let limit_sql = sql_limit.map_or(String::new(), |l| format!(" LIMIT {l}"));
    let sql = format!(
        "SELECT o.body FROM work_orders o WHERE o.tenant_id = $1 AND {condition}{search_sql} \
         ORDER BY o.change_seq DESC{limit_sql}"
    );
    let mut query = sqlx::query(&sql).bind(&principal.tenant_id);
    for b in &binds {
        query = query.bind(b);
    }
    if let Some(b) = search_bind {
        query = query.bind(b);
    }
    let rows = query.fetch_all(store.pool()).await?;
    let now = clock.now();
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let order: WorkOrder = from_json(&row.try_get::<String, _>("body")?, "work order")?;
        let sla = sla_state(&order, &policy, now)
            .map_err(|e| Error::Internal(format!("SLA policy unusable: {e}")))?;
        let due = due_state(&order, &policy, now);
        let (level, next) = urgency(sla.as_ref(), due.as_ref());
        let wanted = match view {
            View::Overdue => level == Urgency::Overdue,
            View::DueSoon => level == Urgency::DueSoon,
            View::Mine | View::Team => true,
        };
        if wanted {
            items.push((
                next,
                ListedOrder {
                    order,
                    sla,
                    due,
                    urgency: level,
                },
            ));
        }
    }
    if matches!(view, View::Overdue | View::DueSoon) {
        // Earliest running deadline first.
        items.sort_by_key(|(next, _)| *next);
        items.truncate(limit as usize);
    }
    let items = items.into_iter().map(|(_, item)| item).collect();
    Ok(OrderList { items, as_of: now })
}

/// The default policy: 2 h first reply, 1 / 5 working days, Monday–Friday 09:00–18:00 UTC.
pub fn default_sla_policy() -> Result<SlaPolicy> {
    let calendar = WorkCalendar::weekdays(time!(9:00), time!(18:00), UtcOffset::UTC)
        .map_err(|e| Error::Internal(format!("default calendar: {e}")))?;
    Ok(SlaPolicy::with_defaults(calendar))
}

/// The tenant's SLA policy (the default when none is stored).
pub async fn sla_policy(store: &Store, tenant_id: &str) -> Result<SlaPolicy> {
    let row = sqlx::query("SELECT sla_policy FROM tenant_settings WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(store.pool())
        .await?;
    match row.and_then(|r| r.try_get::<Option<String>, _>("sla_policy").ok().flatten()) {
        Some(text) => from_json(&text, "SLA policy"),
        None => default_sla_policy(),
    }
}

/// Store the tenant's SLA policy (admins only; the calendar must be usable).
pub async fn set_sla_policy(
    store: &Store,
    principal: &Principal,
    policy: &SlaPolicy,
) -> Result<SlaPolicy> {
    principal.require(Role::Admin, "changing the SLA policy")?;
    policy
        .calendar
        .validate()
        .map_err(|e| Error::Invalid(format!("invalid calendar: {e}")))?;
    policy
        .calendar
        .next_working_day(OffsetDateTime::now_utc().date())
        .map_err(|e| Error::Invalid(format!("invalid calendar: {e}")))?;
    if policy.escalation_working_days == 0 {
        return Err(Error::Invalid(
            "escalation_working_days must be at least 1".to_owned(),
        ));
    }
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, sla_policy, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET sla_policy = excluded.sla_policy, \
         updated_at = excluded.updated_at",
    )
    .bind(&principal.tenant_id)
    .bind(json(policy, "SLA policy")?)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(policy.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_non_negative_integers() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some("")).unwrap(), 0);
        assert_eq!(parse_cursor(Some("42")).unwrap(), 42);
        assert!(parse_cursor(Some("-1")).is_err());
        assert!(parse_cursor(Some("abc")).is_err());
    }

    #[test]
    fn the_default_policy_is_usable() {
        let policy = default_sla_policy().unwrap();
        assert_eq!(policy.first_reply_minutes, 120);
        assert!(policy.calendar.validate().is_ok());
    }
}
