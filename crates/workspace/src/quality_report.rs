//! The center's call-quality report on the desk (`GET /api/v1/reports/call-quality`):
//! per agent, measured and poor calls with their mean figures, and the poor calls worst first.
//! Supervisors see their teams, admins the center, an agent her own calls — the server decides.
//! Read live from the server: it is a supervisor's look at today's lines, not offline data.

use serde::{Deserialize, Serialize};

use crate::call_quality::CallQuality;
use crate::server_api::{send_json, ApiFailure};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot reach the server for the call-quality report: {0}")]
    Network(String),
    #[error("the server refused the call-quality report ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("the server's call-quality report cannot be read: {0}")]
    Unusable(String),
    #[error("the report's period is not valid: {0}")]
    Invalid(String),
}

impl ReportError {
    /// A stable code for the UI: `forbidden` (outside the reader's teams), `invalid` (period),
    /// `unreachable` (try again), `server`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Network(_) => "unreachable",
            Self::Server { status: 400, .. } | Self::Invalid(_) => "invalid",
            Self::Server {
                status: 401 | 403, ..
            } => "forbidden",
            Self::Server { .. } | Self::Unusable(_) => "server",
        }
    }
}

fn from_api(failure: ApiFailure) -> ReportError {
    match failure {
        ApiFailure::Unreachable(e) => ReportError::Network(e),
        ApiFailure::Refused { status, message } => ReportError::Server { status, message },
        ApiFailure::Unreadable(e) => ReportError::Unusable(e),
    }
}

/// What to report on: calls that rang in `[since, before)` (unix ms), of one agent or of
/// every agent the reader may see, and how many poor calls to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub since: i64,
    pub before: i64,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One agent's calls in the period (figures as the server computes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentQuality {
    pub agent_id: String,
    pub display_name: String,
    pub calls: i64,
    pub measured: i64,
    pub poor: i64,
    pub mean_mos: Option<f64>,
    pub worst_mos: Option<f64>,
    pub mean_loss_percent: Option<f64>,
    pub max_loss_percent: Option<f64>,
    pub mean_remote_loss_percent: Option<f64>,
    pub mean_jitter_ms: Option<f64>,
    pub mean_rtt_ms: Option<f64>,
}

/// A poor call as the report lists it (the call log's fields a supervisor needs to find it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoorCall {
    pub agent_id: String,
    pub id: String,
    pub direction: String,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    pub ring_at: i64,
    #[serde(default)]
    pub answer_at: Option<i64>,
    #[serde(default)]
    pub end_at: Option<i64>,
    #[serde(default)]
    pub wrap_up_code: Option<String>,
    #[serde(default)]
    pub quality: Option<CallQuality>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub since: Option<i64>,
    pub before: Option<i64>,
    /// The MOS below which the server counts a call as poor.
    pub poor_mos_below: f64,
    pub agents: Vec<AgentQuality>,
    pub poor_calls: Vec<PoorCall>,
}

/// Fetches the report; the period is checked here first.
pub async fn fetch(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    request: &ReportRequest,
) -> Result<QualityReport, ReportError> {
    if request.since >= request.before {
        return Err(ReportError::Invalid(
            "the period must start before it ends".into(),
        ));
    }
    let url = format!("{}/api/v1/reports/call-quality", base.trim_end_matches('/'));
    let mut query = vec![
        ("since", request.since.to_string()),
        ("before", request.before.to_string()),
    ];
    if let Some(agent) = &request.agent_id {
        query.push(("agent_id", agent.clone()));
    }
    if let Some(limit) = request.limit {
        query.push(("limit", limit.to_string()));
    }
    send_json(http.get(url).query(&query), token)
        .await
        .map_err(from_api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_codes_the_ui_branches_on() {
        let server = |status| ReportError::Server {
            status,
            message: String::new(),
        };
        assert_eq!(server(403).code(), "forbidden");
        assert_eq!(server(400).code(), "invalid");
        assert_eq!(server(500).code(), "server");
        assert_eq!(ReportError::Network("down".into()).code(), "unreachable");
    }

    #[tokio::test]
    async fn an_empty_period_is_refused_before_any_request() {
        let http = seatline_customer_cache::feed::client().unwrap();
        // Port 9 (discard) is never asked: the period is refused first.
        let request = ReportRequest {
            since: 10,
            before: 10,
            ..ReportRequest::default()
        };
        let err = fetch(&http, "http://127.0.0.1:9", "t", &request)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
    }
}
