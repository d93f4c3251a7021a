//! The call log and the agents' state history, as the desktops upload them.
//!
//! A desktop logs its calls locally first (it must work offline) and pushes each call whenever
//! it changes, with a revision number that grows with every change: the server keeps the
//! highest revision it has seen, so retries, duplicates and reordered batches change nothing.
//! State-history entries carry a desktop-made id and are stored once.
//!
//! Who may read what: every agent may read the calls with a customer of its tenant (the
//! history follows the customer, whoever took the call) and its own calls; a supervisor also
//! the calls and state history of the agents in its teams; an admin everything in the tenant.
//! Nobody writes another agent's calls or states: the agent is the token's user.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::authz::{Principal, Role};
use crate::error::{Error, Result};
use crate::store::{now_micros, Store};

/// Most calls or state entries in one upload.
pub const MAX_BATCH: usize = 500;
/// Default and maximum rows of one read.
pub const DEFAULT_LIMIT: u32 = 50;
/// Maximum rows of one read.
pub const MAX_LIMIT: u32 = 500;
/// Longest wrap-up note accepted (the desktop enforces the same limit).
pub const MAX_NOTES: usize = 4_000;
/// Longest id, number, name or code accepted.
pub const MAX_FIELD: usize = 256;
/// Most IVR fields per call.
pub const MAX_IVR_FIELDS: usize = 32;

/// One call as a desktop uploads it (times: unix milliseconds on the desktop's clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallUpload {
    /// The phone's id of the call (the SIP Call-ID).
    pub id: String,
    /// Grows with every change of the call on the desktop; the highest one wins.
    pub revision: i64,
    /// `incoming` or `outgoing`.
    pub direction: String,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub e164: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub ivr: BTreeMap<String, String>,
    pub ring_at: i64,
    #[serde(default)]
    pub answer_at: Option<i64>,
    #[serde(default)]
    pub end_at: Option<i64>,
    #[serde(default)]
    pub hold_ms: i64,
    #[serde(default)]
    pub transferred_to: Option<String>,
    #[serde(default)]
    pub end_reason: Option<String>,
    #[serde(default)]
    pub wrap_up_code: Option<String>,
    #[serde(default)]
    pub wrap_up_at: Option<i64>,
    #[serde(default)]
    pub notes: String,
    /// The call's final media quality as the phone measured it, once the call ended.
    #[serde(default)]
    pub quality: Option<CallQuality>,
}

/// A call's media quality (every figure optional: a peer that never sent an RTCP report
/// leaves the remote loss and the RTT unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallQuality {
    /// Estimated MOS (E-model), 1-5.
    #[serde(default)]
    pub mos: Option<f64>,
    /// What the agent's side lost of the caller's audio, percent.
    #[serde(default)]
    pub loss_percent: Option<f64>,
    /// What the caller's side lost of the agent's audio (its RTCP reports), percent.
    #[serde(default)]
    pub remote_loss_percent: Option<f64>,
    #[serde(default)]
    pub jitter_ms: Option<f64>,
    #[serde(default)]
    pub rtt_ms: Option<f64>,
}

/// The longest jitter or round-trip time taken as a measurement (a minute): beyond it a
/// figure is a desktop's bug, not a call's quality.
pub const MAX_QUALITY_MS: f64 = 60_000.0;

impl CallQuality {
    fn check(&self) -> std::result::Result<(), String> {
        let in_range = |what: &str, value: Option<f64>, low: f64, high: f64| match value {
            Some(v) if !(v.is_finite() && (low..=high).contains(&v)) => {
                Err(format!("{what} {v} is outside {low}-{high}"))
            }
            _ => Ok(()),
        };
        in_range("the MOS", self.mos, 1.0, 5.0)?;
        in_range("the loss", self.loss_percent, 0.0, 100.0)?;
        in_range("the remote loss", self.remote_loss_percent, 0.0, 100.0)?;
        in_range("the jitter", self.jitter_ms, 0.0, MAX_QUALITY_MS)?;
        in_range("the round-trip time", self.rtt_ms, 0.0, MAX_QUALITY_MS)
    }

    fn is_known(&self) -> bool {
        [
            self.mos,
            self.loss_percent,
            self.remote_loss_percent,
            self.jitter_ms,
            self.rtt_ms,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// A stored call, as reads return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCall {
    /// The agent whose desktop logged the call.
    pub agent_id: String,
    #[serde(flatten)]
    pub call: CallUpload,
    /// The caller's satisfaction score from the survey (1–5), once one came.
    #[serde(default)]
    pub satisfaction: Option<i64>,
}

/// The lowest and highest satisfaction score (the common 5-point CSAT scale).
pub const SCORES: std::ops::RangeInclusive<i64> = 1..=5;

/// A satisfaction score as the survey system posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreUpload {
    /// The call's id as the desktops log it.
    pub call_id: String,
    /// 1 (very unhappy) to 5 (very happy).
    pub score: i64,
    #[serde(default)]
    pub comment: Option<String>,
    /// When the caller answered the survey (unix ms); a later score replaces an earlier one.
    pub at: i64,
}

/// Why a score cannot be stored, if it cannot.
pub fn validate_score(score: &ScoreUpload) -> std::result::Result<(), String> {
    if score.call_id.trim().is_empty() {
        return Err("a score needs the call's id".into());
    }
    check_text("the call id", Some(&score.call_id), MAX_FIELD)?;
    if !SCORES.contains(&score.score) {
        return Err(format!(
            "score {} is outside {}-{}",
            score.score,
            SCORES.start(),
            SCORES.end()
        ));
    }
    if score
        .comment
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_NOTES)
    {
        return Err(format!("the comment is longer than {MAX_NOTES} characters"));
    }
    if score.at <= 0 {
        return Err("at must be a time after 1970".into());
    }
    Ok(())
}

/// Stores survey scores (supervisors and admins: the survey system's account). Idempotent: a
/// score already held at the same or a later survey time is left as it is.
pub async fn upload_scores(
    store: &Store,
    principal: &Principal,
    scores: &[ScoreUpload],
) -> Result<UploadReport> {
    principal.require(Role::Supervisor, "posting satisfaction scores")?;
    check_batch(scores.len(), "scores")?;
    let mut report = UploadReport::default();
    let mut tx = store.begin_write().await?;
    let received = now_micros();
    for score in scores {
        if let Err(reason) = validate_score(score) {
            report.rejected.push(Rejected {
                id: score.call_id.clone(),
                reason,
            });
            continue;
        }
        // One statement: insert, or replace an older score; a newer or equal one stays.
        let done = sqlx::query(
            "INSERT INTO call_scores (tenant_id, call_id, score, comment, scored_at, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, call_id) DO UPDATE SET score = excluded.score, \
             comment = excluded.comment, scored_at = excluded.scored_at, \
             received_at = excluded.received_at \
             WHERE call_scores.scored_at < excluded.scored_at",
        )
        .bind(&principal.tenant_id)
        .bind(&score.call_id)
        .bind(score.score)
        .bind(&score.comment)
        .bind(score.at)
        .bind(received)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            report.unchanged.push(score.call_id.clone());
        } else {
            report.stored.push(score.call_id.clone());
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// What became of each call of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// Stored (new, or a newer revision).
    pub stored: Vec<String>,
    /// Already held at this or a newer revision: nothing to do.
    pub unchanged: Vec<String>,
    /// Refused, with why; the desktop keeps them and shows the agent.
    pub rejected: Vec<Rejected>,
}

/// An item of an upload the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub id: String,
    pub reason: String,
}

/// One change of an agent's state, as the desktop uploads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateUpload {
    /// Desktop-made id of the entry (unique per agent).
    pub id: String,
    /// `ready`, `not_ready`, `on_call` or `after_call_work`.
    pub state: String,
    /// The Not-ready reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// The wrap-up code that closed an after-call-work period.
    #[serde(default)]
    pub wrap_up_code: Option<String>,
    /// When the state began (unix milliseconds, desktop clock).
    pub at: i64,
}

/// A stored state entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    pub agent_id: String,
    #[serde(flatten)]
    pub entry: StateUpload,
}

/// The agent states the server accepts.
pub const STATES: &[&str] = &["ready", "not_ready", "on_call", "after_call_work"];

fn check_text(what: &str, value: Option<&str>, max: usize) -> std::result::Result<(), String> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(format!("{what} is longer than {max} characters"))
        }
        Some(v) if v.chars().any(char::is_control) => {
            Err(format!("{what} contains control characters"))
        }
        _ => Ok(()),
    }
}

/// Why a call cannot be stored, if it cannot (the customer is checked separately).
pub fn validate_call(call: &CallUpload) -> std::result::Result<(), String> {
    if call.id.trim().is_empty() {
        return Err("a call needs an id".into());
    }
    check_text("the call id", Some(&call.id), MAX_FIELD)?;
    if call.revision < 1 {
        return Err("the revision must be 1 or more".into());
    }
    if call.direction != "incoming" && call.direction != "outgoing" {
        return Err(format!(
            "direction {:?} is neither incoming nor outgoing",
            call.direction
        ));
    }
    for (what, value) in [
        ("the number", call.number.as_deref()),
        ("the display name", call.display_name.as_deref()),
        ("the E.164 number", call.e164.as_deref()),
        ("the customer id", call.customer_id.as_deref()),
        ("the transfer target", call.transferred_to.as_deref()),
        ("the end reason", call.end_reason.as_deref()),
        ("the wrap-up code", call.wrap_up_code.as_deref()),
    ] {
        check_text(what, value, MAX_FIELD)?;
    }
    if call.notes.chars().count() > MAX_NOTES {
        return Err(format!("notes are longer than {MAX_NOTES} characters"));
    }
    if call.ivr.len() > MAX_IVR_FIELDS {
        return Err(format!("more than {MAX_IVR_FIELDS} IVR fields"));
    }
    for (key, value) in &call.ivr {
        check_text("an IVR field name", Some(key), MAX_FIELD)?;
        check_text("an IVR value", Some(value), MAX_FIELD)?;
    }
    if call.ring_at <= 0 {
        return Err("ring_at must be a time after 1970".into());
    }
    for (what, at) in [
        ("answer_at", call.answer_at),
        ("end_at", call.end_at),
        ("wrap_up_at", call.wrap_up_at),
    ] {
        if matches!(at, Some(t) if t < call.ring_at) {
            return Err(format!("{what} is before the call rang"));
        }
    }
    if call.hold_ms < 0 {
        return Err("hold time cannot be negative".into());
    }
    if let Some(quality) = &call.quality {
        quality.check()?;
    }
    Ok(())
}

/// Why a state entry cannot be stored, if it cannot.
pub fn validate_state(entry: &StateUpload) -> std::result::Result<(), String> {
    if entry.id.trim().is_empty() {
        return Err("a state entry needs an id".into());
    }
    check_text("the entry id", Some(&entry.id), MAX_FIELD)?;
    if !STATES.contains(&entry.state.as_str()) {
        return Err(format!(
            "unknown state {:?}: expected one of {}",
            entry.state,
            STATES.join(", ")
        ));
    }
    check_text("the reason", entry.reason.as_deref(), MAX_FIELD)?;
    check_text("the wrap-up code", entry.wrap_up_code.as_deref(), MAX_FIELD)?;
    if entry.at <= 0 {
        return Err("at must be a time after 1970".into());
    }
    Ok(())
}

fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

pub(crate) fn call_from_row(row: &AnyRow) -> Result<StoredCall> {
    let ivr: String = row.try_get("ivr")?;
    Ok(StoredCall {
        agent_id: row.try_get("agent_id")?,
        call: CallUpload {
            id: row.try_get("call_id")?,
            revision: row.try_get("revision")?,
            direction: row.try_get("direction")?,
            number: opt_text(row, "number")?,
            display_name: opt_text(row, "display_name")?,
            e164: opt_text(row, "e164")?,
            customer_id: opt_text(row, "customer_id")?,
            ivr: serde_json::from_str(&ivr)
                .map_err(|e| Error::Internal(format!("stored IVR data is not JSON: {e}")))?,
            ring_at: row.try_get("ring_at")?,
            answer_at: row.try_get("answer_at")?,
            end_at: row.try_get("end_at")?,
            hold_ms: row.try_get("hold_ms")?,
            transferred_to: opt_text(row, "transferred_to")?,
            end_reason: opt_text(row, "end_reason")?,
            wrap_up_code: opt_text(row, "wrap_up_code")?,
            wrap_up_at: row.try_get("wrap_up_at")?,
            notes: row.try_get("notes")?,
            quality: {
                let quality = CallQuality {
                    mos: row.try_get("mos")?,
                    loss_percent: row.try_get("loss_percent")?,
                    remote_loss_percent: row.try_get("remote_loss_percent")?,
                    jitter_ms: row.try_get("jitter_ms")?,
                    rtt_ms: row.try_get("rtt_ms")?,
                };
                quality.is_known().then_some(quality)
            },
        },
        satisfaction: row.try_get("satisfaction")?,
    })
}

pub(crate) const CALL_COLUMNS: &str =
    "agent_id, call_id, revision, direction, number, display_name, e164, \
     customer_id, ivr, ring_at, answer_at, end_at, hold_ms, transferred_to, end_reason, \
     wrap_up_code, wrap_up_at, notes, mos, loss_percent, remote_loss_percent, jitter_ms, \
     rtt_ms, \
     (SELECT s.score FROM call_scores s WHERE s.tenant_id = calls.tenant_id \
      AND s.call_id = calls.call_id) AS satisfaction";

fn check_batch(len: usize, what: &str) -> Result<()> {
    if len > MAX_BATCH {
        return Err(Error::TooLarge(format!(
            "at most {MAX_BATCH} {what} per upload; got {len}"
        )));
    }
    Ok(())
}

/// ` AND agent_id IN ($next, …)` for `agents` (nothing for every agent), and the next free
/// placeholder number.
pub(crate) fn agent_filter(agents: Option<&BTreeSet<String>>, next: usize) -> (String, usize) {
    match agents {
        None => (String::new(), next),
        Some(agents) => {
            let list: Vec<String> = (0..agents.len())
                .map(|i| format!("${}", next + i))
                .collect();
            (
                format!(" AND agent_id IN ({})", list.join(", ")),
                next + agents.len(),
            )
        }
    }
}

/// A missing quality figure as NaN, which the SQL turns back into NULL (`NULLIF($n, 'NaN')`;
/// SQLite stores a bound NaN as NULL anyway). Why not bind the `Option`: sqlx 0.8's `Any`
/// driver sends a `None::<f64>` as a NULL of type `float4` (its Real/Double arms are swapped),
/// PostgreSQL prepares the statement with that type, and the next upload on the connection
/// that has the figure (8 bytes) fails with "incorrect binary data format". Figures are
/// checked finite before this, so NaN never stands for a value.
fn null_as_nan(figure: Option<f64>) -> f64 {
    figure.unwrap_or(f64::NAN)
}

/// Stores the calls `principal` uploads as its own, in one transaction. Invalid calls, and
/// calls naming a customer the tenant does not have, are reported and skipped; the rest are
/// stored.
pub async fn upload_calls(
    store: &Store,
    principal: &Principal,
    calls: &[CallUpload],
) -> Result<UploadReport> {
    check_batch(calls.len(), "calls")?;
    let mut report = UploadReport::default();
    let mut tx = store.begin_write().await?;
    let received = now_micros();
    for call in calls {
        if let Err(reason) = validate_call(call) {
            report.rejected.push(Rejected {
                id: call.id.clone(),
                reason,
            });
            continue;
        }
        if let Some(customer) = &call.customer_id {
            let known = sqlx::query("SELECT id FROM customers WHERE tenant_id = $1 AND id = $2")
                .bind(&principal.tenant_id)
                .bind(customer)
                .fetch_optional(tx.conn())
                .await?;
            if known.is_none() {
                report.rejected.push(Rejected {
                    id: call.id.clone(),
                    reason: format!("no customer {customer:?} in this tenant"),
                });
                continue;
            }
        }
        let ivr = serde_json::to_string(&call.ivr)
            .map_err(|e| Error::Internal(format!("cannot encode IVR data: {e}")))?;
        let quality = call.quality.clone().unwrap_or_default();
        // One statement, so two uploads of the same new call at once (a retry while the first
        // is still in flight) cannot both insert: the second updates or leaves it, and a
        // revision not newer than the one held changes nothing.
        let sql = "INSERT INTO calls (tenant_id, agent_id, call_id, revision, direction, number, \
             display_name, e164, customer_id, ivr, ring_at, answer_at, end_at, hold_ms, \
             transferred_to, end_reason, wrap_up_code, wrap_up_at, notes, received_at, mos, \
             loss_percent, remote_loss_percent, jitter_ms, rtt_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, NULLIF($21, 'NaN'), NULLIF($22, 'NaN'), NULLIF($23, 'NaN'), \
             NULLIF($24, 'NaN'), NULLIF($25, 'NaN')) \
             ON CONFLICT (tenant_id, agent_id, call_id) DO UPDATE SET \
             revision = excluded.revision, direction = excluded.direction, \
             number = excluded.number, display_name = excluded.display_name, \
             e164 = excluded.e164, customer_id = excluded.customer_id, ivr = excluded.ivr, \
             ring_at = excluded.ring_at, answer_at = excluded.answer_at, \
             end_at = excluded.end_at, hold_ms = excluded.hold_ms, \
             transferred_to = excluded.transferred_to, end_reason = excluded.end_reason, \
             wrap_up_code = excluded.wrap_up_code, wrap_up_at = excluded.wrap_up_at, \
             notes = excluded.notes, received_at = excluded.received_at, mos = excluded.mos, \
             loss_percent = excluded.loss_percent, \
             remote_loss_percent = excluded.remote_loss_percent, \
             jitter_ms = excluded.jitter_ms, rtt_ms = excluded.rtt_ms \
             WHERE calls.revision < excluded.revision";
        let written = sqlx::query(sql)
            .bind(&principal.tenant_id)
            .bind(&principal.user_id)
            .bind(&call.id)
            .bind(call.revision)
            .bind(&call.direction)
            .bind(&call.number)
            .bind(&call.display_name)
            .bind(&call.e164)
            .bind(&call.customer_id)
            .bind(ivr)
            .bind(call.ring_at)
            .bind(call.answer_at)
            .bind(call.end_at)
            .bind(call.hold_ms)
            .bind(&call.transferred_to)
            .bind(&call.end_reason)
            .bind(&call.wrap_up_code)
            .bind(call.wrap_up_at)
            .bind(&call.notes)
            .bind(received)
            .bind(null_as_nan(quality.mos))
            .bind(null_as_nan(quality.loss_percent))
            .bind(null_as_nan(quality.remote_loss_percent))
            .bind(null_as_nan(quality.jitter_ms))
            .bind(null_as_nan(quality.rtt_ms))
            .execute(tx.conn())
            .await?;
        if written.rows_affected() == 0 {
            report.unchanged.push(call.id.clone());
        } else {
            report.stored.push(call.id.clone());
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Stores the state entries `principal` uploads as its own; an entry already held is
/// reported unchanged.
pub async fn upload_states(
    store: &Store,
    principal: &Principal,
    entries: &[StateUpload],
) -> Result<UploadReport> {
    check_batch(entries.len(), "state entries")?;
    let mut report = UploadReport::default();
    let mut tx = store.begin_write().await?;
    let received = now_micros();
    for entry in entries {
        if let Err(reason) = validate_state(entry) {
            report.rejected.push(Rejected {
                id: entry.id.clone(),
                reason,
            });
            continue;
        }
        // One statement: an entry already held is left as it is.
        let inserted = sqlx::query(
            "INSERT INTO agent_states (tenant_id, agent_id, entry_id, state, reason, wrap_up_code, \
             at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, agent_id, entry_id) DO NOTHING",
        )
        .bind(&principal.tenant_id)
        .bind(&principal.user_id)
        .bind(&entry.id)
        .bind(&entry.state)
        .bind(&entry.reason)
        .bind(&entry.wrap_up_code)
        .bind(entry.at)
        .bind(received)
        .execute(tx.conn())
        .await?;
        if inserted.rows_affected() == 0 {
            report.unchanged.push(entry.id.clone());
            continue;
        }
        report.stored.push(entry.id.clone());
    }
    tx.commit().await?;
    Ok(report)
}

/// What to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// Calls with this customer (any agent of the tenant).
    pub customer_id: Option<String>,
    /// Calls of this agent (yourself unless supervisor/admin).
    pub agent_id: Option<String>,
    /// Rang at or after this time (unix ms).
    pub since: Option<i64>,
    /// Rang before this time (unix ms): pass the last `ring_at` to page back.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// The agents whose records `principal` may read, or `None` for every agent of the tenant.
pub(crate) async fn readable_agents(
    store: &Store,
    principal: &Principal,
) -> Result<Option<BTreeSet<String>>> {
    match principal.role {
        Role::Admin => Ok(None),
        Role::Agent => Ok(Some(BTreeSet::from([principal.user_id.clone()]))),
        Role::Supervisor => {
            let rows = sqlx::query(
                "SELECT DISTINCT m.user_id FROM team_members m \
                 JOIN team_members mine ON mine.team_id = m.team_id \
                 WHERE mine.user_id = $1 AND mine.tenant_id = $2 AND m.tenant_id = $2",
            )
            .bind(&principal.user_id)
            .bind(&principal.tenant_id)
            .fetch_all(store.pool())
            .await?;
            let mut agents = rows
                .iter()
                .map(|row| row.try_get::<String, _>("user_id"))
                .collect::<Result<BTreeSet<_>, _>>()?;
            agents.insert(principal.user_id.clone());
            Ok(Some(agents))
        }
    }
}

/// Which agents a read covers: the one asked for (if allowed) or every readable one.
pub(crate) async fn agents_for_read(
    store: &Store,
    principal: &Principal,
    asked: Option<&str>,
    what: &str,
) -> Result<Option<BTreeSet<String>>> {
    let readable = readable_agents(store, principal).await?;
    match (asked, readable) {
        (Some(agent), Some(readable)) if !readable.contains(agent) => Err(Error::Forbidden(
            format!("you may not read another agent's {what} outside your teams"),
        )),
        (Some(agent), _) => Ok(Some(BTreeSet::from([agent.to_owned()]))),
        (None, readable) => Ok(readable),
    }
}

pub(crate) fn limit_of(limit: Option<u32>) -> Result<i64> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::Invalid(format!("limit must be 1-{MAX_LIMIT}")));
    }
    Ok(i64::from(limit))
}

/// Calls newest first.
pub async fn list_calls(
    store: &Store,
    principal: &Principal,
    query: &CallQuery,
) -> Result<Vec<StoredCall>> {
    let limit = limit_of(query.limit)?;
    // A customer's history is open to the whole tenant; otherwise the agent rule applies.
    let agents = if query.customer_id.is_some() && query.agent_id.is_none() {
        None
    } else {
        agents_for_read(store, principal, query.agent_id.as_deref(), "calls").await?
    };
    let mut sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND ring_at >= $2 AND ring_at < $3"
    );
    let mut next = 4;
    if query.customer_id.is_some() {
        sql.push_str(&format!(" AND customer_id = ${next}"));
        next += 1;
    }
    let (filter, next) = agent_filter(agents.as_ref(), next);
    sql.push_str(&filter);
    sql.push_str(&format!(" ORDER BY ring_at DESC, call_id LIMIT ${next}"));
    let mut q = sqlx::query(&sql)
        .bind(&principal.tenant_id)
        .bind(query.since.unwrap_or(i64::MIN))
        .bind(query.before.unwrap_or(i64::MAX));
    if let Some(customer) = &query.customer_id {
        q = q.bind(customer);
    }
    for agent in agents.iter().flatten() {
        q = q.bind(agent);
    }
    let rows = q.bind(limit).fetch_all(store.pool()).await?;
    rows.iter().map(call_from_row).collect()
}

/// What state history to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    pub agent_id: Option<String>,
    pub since: Option<i64>,
    pub limit: Option<u32>,
}

/// State entries oldest first from `since`.
pub async fn list_states(
    store: &Store,
    principal: &Principal,
    query: &StateQuery,
) -> Result<Vec<StoredState>> {
    let limit = limit_of(query.limit)?;
    let agents =
        agents_for_read(store, principal, query.agent_id.as_deref(), "state history").await?;
    let mut sql = "SELECT agent_id, entry_id, state, reason, wrap_up_code, at FROM agent_states \
                   WHERE tenant_id = $1 AND at >= $2"
        .to_owned();
    let (filter, next) = agent_filter(agents.as_ref(), 3);
    sql.push_str(&filter);
    sql.push_str(&format!(" ORDER BY at, entry_id LIMIT ${next}"));
    let mut q = sqlx::query(&sql)
        .bind(&principal.tenant_id)
        .bind(query.since.unwrap_or(i64::MIN));
    for agent in agents.iter().flatten() {
        q = q.bind(agent);
    }
    let rows = q.bind(limit).fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(StoredState {
                agent_id: row.try_get("agent_id")?,
                entry: StateUpload {
                    id: row.try_get("entry_id")?,
                    state: row.try_get("state")?,
                    reason: opt_text(row, "reason")?,
                    wrap_up_code: opt_text(row, "wrap_up_code")?,
                    at: row.try_get("at")?,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallUpload {
        CallUpload {
            id: "a84f@10.0.0.1".into(),
            revision: 1,
            direction: "incoming".into(),
            number: Some("013800138000".into()),
            display_name: None,
            e164: Some("+8613800138000".into()),
            customer_id: None,
            ivr: BTreeMap::from([("account".into(), "A-1".into())]),
            ring_at: 1_700_000_000_000,
            answer_at: Some(1_700_000_003_000),
            end_at: Some(1_700_000_063_000),
            hold_ms: 5_000,
            transferred_to: None,
            end_reason: Some("local_hangup".into()),
            wrap_up_code: Some("resolved".into()),
            wrap_up_at: Some(1_700_000_090_000),
            notes: "refund explained".into(),
            quality: Some(CallQuality {
                mos: Some(4.1),
                loss_percent: Some(0.5),
                remote_loss_percent: None,
                jitter_ms: Some(12.0),
                rtt_ms: None,
            }),
        }
    }

    #[test]
    fn a_well_formed_call_passes() {
        assert_eq!(validate_call(&call()), Ok(()));
    }

    #[test]
    fn bad_calls_say_why() {
        type Spoil = fn(&mut CallUpload);
        let cases: Vec<(Spoil, &str)> = vec![
            (|c| c.id = " ".into(), "needs an id"),
            (|c| c.revision = 0, "revision"),
            (|c| c.direction = "sideways".into(), "neither incoming"),
            (|c| c.answer_at = Some(1), "answer_at is before"),
            (|c| c.hold_ms = -1, "negative"),
            (|c| c.ring_at = 0, "after 1970"),
            (|c| c.notes = "x".repeat(MAX_NOTES + 1), "notes are longer"),
            (|c| c.number = Some("12\u{0}3".into()), "control characters"),
            (
                |c| c.quality.get_or_insert_default().mos = Some(7.0),
                "the MOS 7 is outside",
            ),
            (
                |c| c.quality.get_or_insert_default().loss_percent = Some(f64::NAN),
                "the loss NaN",
            ),
            (
                |c| c.quality.get_or_insert_default().rtt_ms = Some(-1.0),
                "the round-trip time -1",
            ),
            (
                |c| {
                    c.ivr = (0..=MAX_IVR_FIELDS)
                        .map(|i| (format!("k{i}"), "v".into()))
                        .collect()
                },
                "IVR fields",
            ),
        ];
        for (spoil, expected) in cases {
            let mut c = call();
            spoil(&mut c);
            let error = validate_call(&c).expect_err(expected);
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }

    #[test]
    fn states_are_checked() {
        let ok = StateUpload {
            id: "s1".into(),
            state: "not_ready".into(),
            reason: Some("lunch".into()),
            wrap_up_code: None,
            at: 1_700_000_000_000,
        };
        assert_eq!(validate_state(&ok), Ok(()));
        let mut bad = ok.clone();
        bad.state = "asleep".into();
        assert!(validate_state(&bad).is_err_and(|e| e.contains("unknown state")));
        let mut bad = ok;
        bad.at = -5;
        assert!(validate_state(&bad).is_err());
    }
}
