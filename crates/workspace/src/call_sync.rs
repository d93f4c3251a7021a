//! Pushes the local call log and the agent's state history to the server
//! (`POST /api/v1/calls`, `POST /api/v1/agent-states`).
//!
//! The desktop logs first and pushes later, so calls survive a dead server or network: each
//! call goes up with its revision (the server keeps the highest), state entries with their ids
//! (stored once), so a push cut halfway and repeated changes nothing. A row the server refuses
//! keeps its reason in the log and is not retried until it changes; a network or server
//! failure leaves everything to the next push.

use crate::call_log::{CallLog, CallLogError};
use crate::server_api::{send_json, ApiFailure};
use serde::Deserialize;
use serde_json::json;

/// Rows per request (the server takes up to 500).
pub const PUSH_BATCH: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum CallSyncError {
    #[error(transparent)]
    Log(#[from] CallLogError),
    #[error("cannot reach the server to upload calls: {0}")]
    Network(String),
    #[error("the server refused the upload ({status}): {message}")]
    Server { status: u16, message: String },
}

/// What one push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Calls the server now holds at their latest revision (stored or already there).
    pub calls: u64,
    /// State entries the server now holds.
    pub states: u64,
    /// Calls or entries it refused this time.
    pub refused: u64,
}

#[derive(Debug, Deserialize)]
struct UploadReport {
    #[serde(default)]
    stored: Vec<String>,
    #[serde(default)]
    unchanged: Vec<String>,
    #[serde(default)]
    rejected: Vec<Rejected>,
}

#[derive(Debug, Deserialize)]
struct Rejected {
    id: String,
    reason: String,
}

impl From<ApiFailure> for CallSyncError {
    fn from(failure: ApiFailure) -> Self {
        match failure {
            ApiFailure::Unreachable(e) => Self::Network(e),
            ApiFailure::Refused { status, message } => Self::Server { status, message },
            ApiFailure::Unreadable(e) => Self::Network(format!("unreadable reply: {e}")),
        }
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> Result<UploadReport, CallSyncError> {
    Ok(send_json(http.post(url).json(&body), token).await?)
}

/// How far back survey scores are read: the agent's day and the night before it (a survey is
/// answered minutes after the call).
pub const SCORES_WINDOW_MS: i64 = 36 * 3_600_000;

#[derive(Debug, Deserialize)]
struct ScoredPage {
    items: Vec<ScoredCall>,
}

#[derive(Debug, Deserialize)]
struct ScoredCall {
    id: String,
    #[serde(default)]
    satisfaction: Option<i64>,
}

/// Reads the survey scores of this agent's recent calls (rang since `since`, unix ms) from the
/// server into the log; returns how many changed.
pub async fn pull_scores(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    log: &CallLog,
    since: i64,
) -> Result<u64, CallSyncError> {
    let url = format!("{}/api/v1/calls", base.trim_end_matches('/'));
    let request = http
        .get(url)
        .query(&[("since", since.to_string()), ("limit", "500".to_owned())]);
    let page: ScoredPage = send_json(request, token).await?;
    let scores: Vec<(String, i64)> = page
        .items
        .into_iter()
        .filter_map(|c| Some((c.id, c.satisfaction?)))
        .collect();
    Ok(log.set_scores(&scores).await?)
}

#[derive(Debug, Deserialize)]
struct HistoryPage {
    items: Vec<ServerCall>,
}

/// A call as the server's call log returns it.
#[derive(Debug, Deserialize)]
struct ServerCall {
    id: String,
    direction: String,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    e164: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    ivr: std::collections::BTreeMap<String, String>,
    ring_at: i64,
    #[serde(default)]
    answer_at: Option<i64>,
    #[serde(default)]
    end_at: Option<i64>,
    #[serde(default)]
    hold_ms: i64,
    #[serde(default)]
    transferred_to: Option<String>,
    #[serde(default)]
    end_reason: Option<String>,
    #[serde(default)]
    wrap_up_code: Option<String>,
    #[serde(default)]
    wrap_up_at: Option<i64>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    satisfaction: Option<i64>,
    #[serde(default)]
    quality: Option<crate::call_quality::CallQuality>,
}

/// A customer's latest calls at every desk of the center (the server's call log), newest
/// first, each marked as a colleague's; the caller merges its own.
pub async fn customer_calls(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    customer_id: &str,
    limit: u32,
) -> Result<Vec<crate::call_log::CallRecord>, CallSyncError> {
    let url = format!("{}/api/v1/calls", base.trim_end_matches('/'));
    let request = http.get(url).query(&[
        ("customer_id", customer_id.to_owned()),
        ("limit", limit.to_string()),
    ]);
    let page: HistoryPage = send_json(request, token).await?;
    Ok(page
        .items
        .into_iter()
        .map(|c| crate::call_log::CallRecord {
            id: c.id,
            direction: c.direction,
            number: c.number,
            display_name: c.display_name,
            e164: c.e164,
            customer_id: c.customer_id,
            customer_name: None,
            ivr: c.ivr,
            ring_at: c.ring_at,
            answer_at: c.answer_at,
            end_at: c.end_at,
            hold_ms: c.hold_ms,
            transferred_to: c.transferred_to,
            end_reason: c.end_reason,
            wrap_up_code: c.wrap_up_code,
            wrap_up_at: c.wrap_up_at,
            notes: c.notes,
            sync_error: None,
            satisfaction: c.satisfaction,
            quality: c.quality,
            recording: None,
            colleague: true,
        })
        .collect())
}

/// Pushes everything the server has not got, batch by batch, until nothing is left.
pub async fn push(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    log: &CallLog,
) -> Result<PushReport, CallSyncError> {
    let base = base.trim_end_matches('/');
    let mut report = PushReport::default();
    loop {
        let pending = log.unsynced(PUSH_BATCH).await?;
        if pending.is_empty() {
            break;
        }
        let calls: Vec<serde_json::Value> = pending
            .iter()
            .map(|p| {
                let r = &p.record;
                json!({
                    "id": r.id, "revision": p.revision, "direction": r.direction,
                    "number": r.number, "display_name": r.display_name, "e164": r.e164,
                    "customer_id": r.customer_id, "ivr": r.ivr, "ring_at": r.ring_at,
                    "answer_at": r.answer_at, "end_at": r.end_at, "hold_ms": r.hold_ms,
                    "transferred_to": r.transferred_to, "end_reason": r.end_reason,
                    "wrap_up_code": r.wrap_up_code, "wrap_up_at": r.wrap_up_at, "notes": r.notes,
                    "quality": r.quality,
                })
            })
            .collect();
        let answer = post(
            http,
            &format!("{base}/api/v1/calls"),
            token,
            json!({ "calls": calls }),
        )
        .await?;
        let mut progressed = false;
        for p in &pending {
            let id = &p.record.id;
            if let Some(rejected) = answer.rejected.iter().find(|r| &r.id == id) {
                tracing::warn!(call = %id, reason = %rejected.reason, "the server refused a call");
                log.mark_rejected(id, p.revision, &rejected.reason).await?;
                report.refused += 1;
                progressed = true;
            } else if answer.stored.contains(id) || answer.unchanged.contains(id) {
                log.mark_synced(id, p.revision).await?;
                report.calls += 1;
                progressed = true;
            }
        }
        if !progressed {
            // The server answered without naming our calls: do not spin on them.
            return Err(CallSyncError::Network(
                "the server's upload report names none of the calls sent".into(),
            ));
        }
    }
    loop {
        let pending = log.unsynced_states(PUSH_BATCH).await?;
        if pending.is_empty() {
            break;
        }
        let answer = post(
            http,
            &format!("{base}/api/v1/agent-states"),
            token,
            json!({ "states": pending }),
        )
        .await?;
        let mut progressed = false;
        for entry in &pending {
            if let Some(rejected) = answer.rejected.iter().find(|r| r.id == entry.id) {
                tracing::warn!(entry = %entry.id, reason = %rejected.reason, "the server refused a state entry");
                log.mark_state_synced(&entry.id, Some(&rejected.reason))
                    .await?;
                report.refused += 1;
                progressed = true;
            } else if answer.stored.contains(&entry.id) || answer.unchanged.contains(&entry.id) {
                log.mark_state_synced(&entry.id, None).await?;
                report.states += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Err(CallSyncError::Network(
                "the server's upload report names none of the state entries sent".into(),
            ));
        }
    }
    Ok(report)
}
