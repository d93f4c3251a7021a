//! Call quality for supervisors: per agent, how many calls the phones measured, how many were
//! poor and how bad, and the poor calls themselves worst first — so a supervisor finds the
//! home agent whose line drops packets before the customers complain. Figures come from the
//! quality each desktop uploads with its calls (`calls.mos`, loss, jitter, round trip).
//!
//! Who sees what follows the call log: agents their own calls, supervisors their teams'
//! agents, admins the tenant.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::authz::Principal;
use crate::calls::{
    agent_filter, agents_for_read, call_from_row, limit_of, StoredCall, CALL_COLUMNS,
};
use crate::error::{Error, Result};
use crate::store::Store;

/// A call is poor below this estimated MOS: ITU-T G.107's "many users dissatisfied" starts at
/// 3.6. The desktop's call history draws the same line (`ui/src/lib/phone.ts` `qualityLevel`).
pub const POOR_MOS_BELOW: f64 = 3.6;

/// What to report on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// Calls that rang at or after this time (unix ms).
    pub since: Option<i64>,
    /// Calls that rang before this time (unix ms).
    pub before: Option<i64>,
    /// One agent (yourself unless supervisor/admin); every readable agent otherwise.
    pub agent_id: Option<String>,
    /// How many poor calls to list (worst first); the per-agent figures count them all.
    pub limit: Option<u32>,
}

/// One agent's calls in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentQuality {
    pub agent_id: String,
    pub display_name: String,
    /// Every call logged, measured or not (a call never answered has no media).
    pub calls: i64,
    /// Calls with an estimated MOS.
    pub measured: i64,
    /// Measured calls below [`POOR_MOS_BELOW`].
    pub poor: i64,
    pub mean_mos: Option<f64>,
    pub worst_mos: Option<f64>,
    /// Mean and worst loss of the callers' audio at the agent, percent.
    pub mean_loss_percent: Option<f64>,
    pub max_loss_percent: Option<f64>,
    /// Mean loss of the agent's audio at the callers (their RTCP reports), percent.
    pub mean_remote_loss_percent: Option<f64>,
    pub mean_jitter_ms: Option<f64>,
    pub mean_rtt_ms: Option<f64>,
}

/// The report: agents with the most poor calls first, and the poor calls worst first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub since: Option<i64>,
    pub before: Option<i64>,
    pub poor_mos_below: f64,
    pub agents: Vec<AgentQuality>,
    pub poor_calls: Vec<StoredCall>,
}

pub async fn report(
    store: &Store,
    principal: &Principal,
    query: &QualityQuery,
) -> Result<QualityReport> {
    let limit = limit_of(query.limit)?;
    if let (Some(since), Some(before)) = (query.since, query.before) {
        if since >= before {
            return Err(Error::Invalid("since must be before before".into()));
        }
    }
    let agents =
        agents_for_read(store, principal, query.agent_id.as_deref(), "call quality").await?;
    let since = query.since.unwrap_or(i64::MIN);
    let before = query.before.unwrap_or(i64::MAX);
    let mut figures = per_agent(store, principal, agents.as_ref(), since, before).await?;
    figures.sort_by(|a, b| {
        b.poor
            .cmp(&a.poor)
            .then_with(|| {
                let share = |q: &AgentQuality| q.poor as f64 / q.measured.max(1) as f64;
                share(b).total_cmp(&share(a))
            })
            .then_with(|| a.display_name.cmp(&b.display_name))
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    let poor_calls = poor_calls(store, principal, agents.as_ref(), since, before, limit).await?;
    Ok(QualityReport {
        since: query.since,
        before: query.before,
        poor_mos_below: POOR_MOS_BELOW,
        agents: figures,
        poor_calls,
    })
}

async fn per_agent(
    store: &Store,
    principal: &Principal,
    agents: Option<&BTreeSet<String>>,
    since: i64,
    before: i64,
) -> Result<Vec<AgentQuality>> {
    let mut sql = "SELECT calls.agent_id AS agent_id, users.display_name AS display_name, \
         COUNT(*) AS calls, COUNT(calls.mos) AS measured, \
         COUNT(CASE WHEN calls.mos < $4 THEN 1 END) AS poor, \
         AVG(calls.mos) AS mean_mos, MIN(calls.mos) AS worst_mos, \
         AVG(calls.loss_percent) AS mean_loss, MAX(calls.loss_percent) AS max_loss, \
         AVG(calls.remote_loss_percent) AS mean_remote_loss, \
         AVG(calls.jitter_ms) AS mean_jitter, AVG(calls.rtt_ms) AS mean_rtt \
         FROM calls JOIN users ON users.id = calls.agent_id AND users.tenant_id = calls.tenant_id \
         WHERE calls.tenant_id = $1 AND calls.ring_at >= $2 AND calls.ring_at < $3"
        .to_owned();
    let (filter, _) = agent_filter(agents, 5);
    // `agent_id` is only a column of `calls`: the filter needs no table name.
    sql.push_str(&filter);
    sql.push_str(" GROUP BY calls.agent_id, users.display_name");
    let mut q = sqlx::query(&sql)
        .bind(&principal.tenant_id)
        .bind(since)
        .bind(before)
        .bind(POOR_MOS_BELOW);
    for agent in agents.iter().copied().flatten() {
        q = q.bind(agent);
    }
    let rows = q.fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(AgentQuality {
                agent_id: row.try_get("agent_id")?,
                display_name: row.try_get("display_name")?,
                calls: row.try_get("calls")?,
                measured: row.try_get("measured")?,
                poor: row.try_get("poor")?,
                mean_mos: row.try_get("mean_mos")?,
                worst_mos: row.try_get("worst_mos")?,
                mean_loss_percent: row.try_get("mean_loss")?,
                max_loss_percent: row.try_get("max_loss")?,
                mean_remote_loss_percent: row.try_get("mean_remote_loss")?,
                mean_jitter_ms: row.try_get("mean_jitter")?,
                mean_rtt_ms: row.try_get("mean_rtt")?,
            })
        })
        .collect()
}

async fn poor_calls(
    store: &Store,
    principal: &Principal,
    agents: Option<&BTreeSet<String>>,
    since: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<StoredCall>> {
    let mut sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND ring_at >= $2 \
         AND ring_at < $3 AND mos < $4"
    );
    let (filter, next) = agent_filter(agents, 5);
    sql.push_str(&filter);
    sql.push_str(&format!(
        " ORDER BY mos, ring_at DESC, agent_id, call_id LIMIT ${next}"
    ));
    let mut q = sqlx::query(&sql)
        .bind(&principal.tenant_id)
        .bind(since)
        .bind(before)
        .bind(POOR_MOS_BELOW);
    for agent in agents.iter().copied().flatten() {
        q = q.bind(agent);
    }
    let rows = q.bind(limit).fetch_all(store.pool()).await?;
    rows.iter().map(call_from_row).collect()
}
