//! The desktop's work-order sync client: HTTP calls to the central server, driven by the
//! sans-IO [`SyncSchedule`] and applied to the local [`LocalStore`]. Transport is at least once
//! (a lost response means a resend); the server's `(client_id, mutation_id)` makes effects
//! exactly once, and the store only forgets a mutation after a pull shows its effect.

use seatline_outbox::{LocalStore, StoreError};
use seatline_sync_protocol::{
    Action, Outcome, PulledChanges, PushAck, PushRequest, ScheduleConfig, SyncPhase, SyncSchedule,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

/// Mutations per push request (the server refuses larger batches).
pub const PUSH_BATCH: u32 = 500;
/// Orders per pull page.
pub const PULL_PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the server no longer accepts this login; sign in again")]
    Unauthorized,
    #[error("the server refused the request ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server answered with something unexpected: {0}")]
    Decode(String),
}

impl RequestError {
    /// How the schedule should treat this failure.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Unauthorized => Outcome::Unauthorized,
            // A refusal other than 401 is retried too: dropping the queue is never the answer,
            // and it shows in the status bar until someone fixes the cause.
            Self::Network(_) | Self::Refused { .. } | Self::Decode(_) => Outcome::Retry,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid server URL {0:?}")]
    BadUrl(String),
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// A login as the server reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub expires_at: String,
    pub user: serde_json::Value,
}

/// How long the client waits on the server. A network that accepts a connection and then goes
/// silent (a dead NAT entry, a stalled proxy) must fail the request, not hang the sync: the
/// request is retried on a fresh connection and the server skips what it already applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the TCP (and TLS) connection.
    pub connect: Duration,
    /// Silence while waiting for the answer: no byte for this long fails the request.
    pub read: Duration,
    /// One whole request and its answer, however slowly the bytes come.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(15),
            request: Duration::from_secs(30),
        }
    }
}

/// The central server's HTTP API, as far as sync needs it.
#[derive(Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    timeouts: Timeouts,
    /// No request runs past this (a caller's overall budget, e.g. `seatline sync --timeout-secs`).
    deadline: Option<Instant>,
}

/// A team as `GET /api/v1/teams` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TeamMembers {
    pub id: String,
    pub name: String,
    /// Servers before member names existed send only `member_ids`.
    #[serde(default)]
    pub member_ids: Vec<String>,
    #[serde(default)]
    pub members: Vec<TeamMember>,
}

/// A member of a team.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TeamMember {
    pub id: String,
    pub display_name: String,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ServerClient")
            .field("base", &self.base)
            .field("logged_in", &self.token.is_some())
            .finish()
    }
}

impl ServerClient {
    pub fn new(base_url: &str) -> Result<Self, SyncError> {
        Self::with_timeouts(base_url, Timeouts::default())
    }

    pub fn with_timeouts(base_url: &str, timeouts: Timeouts) -> Result<Self, SyncError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SyncError::BadUrl(base_url.to_owned()));
        }
        // reqwest is built without a crypto provider so the app carries only `ring`.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The whole-request limit is set per request (it also honours the deadline).
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .build()
            .map_err(|e| RequestError::Network(e.to_string()))?;
        Ok(Self {
            http,
            base,
            token: None,
            timeouts,
            deadline: None,
        })
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Every request from now on ends by `deadline` (`None`: only the timeouts apply).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Applies the request timeout, cut short by the deadline; fails once the deadline passed.
    fn limited(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, RequestError> {
        let mut limit = self.timeouts.request;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RequestError::Network(
                    "the time for this sync ran out".to_owned(),
                ));
            }
            limit = limit.min(left);
        }
        Ok(request.timeout(limit))
    }

    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    pub async fn login(
        &mut self,
        tenant: &str,
        username: &str,
        password: &str,
    ) -> Result<Session, RequestError> {
        let body =
            serde_json::json!({"tenant": tenant, "username": username, "password": password});
        let request = self
            .limited(self.http.post(format!("{}/api/v1/login", self.base)))?
            .json(&body);
        let session: Session = send(request).await?;
        self.token = Some(session.token.clone());
        Ok(session)
    }

    pub async fn push(&self, request: &PushRequest) -> Result<PushAck, RequestError> {
        let req = self
            .authorized(self.http.post(format!("{}/api/v1/sync/push", self.base)))?
            .json(request);
        send(req).await
    }

    /// The tenant's SLA policy (the desk computes overdue / due-soon with it).
    pub async fn sla_policy(&self) -> Result<seatline_work_orders::SlaPolicy, RequestError> {
        let req = self.authorized(
            self.http
                .get(format!("{}/api/v1/tenant/sla-policy", self.base)),
        )?;
        send(req).await
    }

    /// The teams the user may see, with their members (for the assignee picker).
    pub async fn teams(&self) -> Result<Vec<TeamMembers>, RequestError> {
        let req = self.authorized(self.http.get(format!("{}/api/v1/teams", self.base)))?;
        send(req).await
    }

    pub async fn pull(
        &self,
        client_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<PulledChanges, RequestError> {
        let mut query = vec![
            ("client_id", client_id.to_owned()),
            ("limit", limit.to_string()),
        ];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        let req = self
            .authorized(self.http.get(format!("{}/api/v1/sync/pull", self.base)))?
            .query(&query);
        send(req).await
    }

    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, RequestError> {
        let token = self.token.as_deref().ok_or(RequestError::Unauthorized)?;
        Ok(self.limited(request)?.bearer_auth(token))
    }
}

async fn send<T: for<'de> Deserialize<'de>>(
    request: reqwest::RequestBuilder,
) -> Result<T, RequestError> {
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(RequestError::Unauthorized);
    }
    let bytes = response.bytes().await.map_err(network)?;
    if !status.is_success() {
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let (code, message) = body.map_or_else(
            || {
                (
                    "http".to_owned(),
                    String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                )
            },
            |b| (b.code, b.message),
        );
        return Err(RequestError::Refused {
            status: status.as_u16(),
            code,
            message,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| RequestError::Decode(e.to_string()))
}

fn network(e: reqwest::Error) -> RequestError {
    // reqwest's own text hides the cause of a timeout behind "error sending request".
    if e.is_timeout() {
        RequestError::Network(format!("the server did not answer in time ({e})"))
    } else {
        RequestError::Network(e.to_string())
    }
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub phase: SyncPhase,
    pub pending: u64,
    pub unseen_problems: u64,
    /// The last failure, for the tooltip.
    pub last_error: Option<String>,
    /// Wall-clock time of the last successful pull (RFC 3339).
    pub last_synced: Option<String>,
}

/// What the app tells a running sync loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    LocalChange,
    RemoteChange,
    NetworkUp,
    LoggedIn(String),
    Stop,
}

/// One sync client for one store and one server login.
pub struct SyncEngine<'a> {
    store: &'a LocalStore,
    server: ServerClient,
    schedule: SyncSchedule,
    started: Instant,
    status: SyncStatus,
    /// A source of jitter in [0, 1) (the schedule is sans-IO; randomness comes from here).
    jitter: Box<dyn FnMut() -> f64 + Send + 'a>,
}

impl<'a> SyncEngine<'a> {
    pub async fn new(
        store: &'a LocalStore,
        server: ServerClient,
        config: ScheduleConfig,
    ) -> Result<SyncEngine<'a>, SyncError> {
        let counts = store.counts().await?;
        let schedule = SyncSchedule::new(config, 0, counts.pending > 0);
        // Jitter from the clock's sub-microsecond noise: enough to de-synchronise clients.
        let jitter = Box::new(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            f64::from(nanos % 1000) / 1000.0
        });
        Ok(Self {
            store,
            server,
            schedule,
            started: Instant::now(),
            status: SyncStatus {
                phase: SyncPhase::Idle,
                pending: counts.pending,
                unseen_problems: counts.unseen_problems,
                last_error: None,
                last_synced: None,
            },
            jitter,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn status(&self) -> &SyncStatus {
        &self.status
    }

    /// Performs the schedule's next step if one is due; returns what it decided.
    pub async fn step(&mut self) -> Result<Action, SyncError> {
        let now = self.now_ms();
        let action = self.schedule.next_action(now);
        match action {
            Action::Push => {
                let batch = self.store.pending(PUSH_BATCH).await?;
                let outcome = if batch.is_empty() {
                    Ok(())
                } else {
                    let request = PushRequest {
                        client_id: self.store.client_id(),
                        mutations: batch,
                    };
                    match self.server.push(&request).await {
                        Ok(ack) => {
                            // The server has applied the batch; the local ack is still to come.
                            seatline_failpoints::hit("after_push_response");
                            self.store
                                .acknowledge(&ack, OffsetDateTime::now_utc())
                                .await?;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                };
                // Left over: a batch limit, or a gap the server asked us to resend from.
                let more = self.store.counts().await?.pending > 0;
                let jitter = (self.jitter)();
                let outcome = self.record(outcome);
                self.schedule
                    .push_done(outcome, more, self.now_ms(), jitter);
            }
            Action::Pull => {
                let cursor = self.store.counts().await?.cursor;
                let client = self.store.client_id().to_string();
                let result = self
                    .server
                    .pull(&client, cursor.as_deref(), PULL_PAGE)
                    .await;
                let mut more = false;
                let outcome = match result {
                    Ok(changes) => {
                        more = changes.more;
                        self.store
                            .apply_pull(&changes, OffsetDateTime::now_utc())
                            .await?;
                        self.status.last_synced = OffsetDateTime::now_utc()
                            .format(&time::format_description::well_known::Rfc3339)
                            .ok();
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                let jitter = (self.jitter)();
                let outcome = self.record(outcome);
                self.schedule
                    .pull_done(outcome, more, self.now_ms(), jitter);
            }
            // Idle steps touch neither the network nor the database.
            Action::WaitUntil(_) | Action::NeedsLogin => {
                self.status.phase = self.schedule.phase();
                return Ok(action);
            }
        }
        let counts = self.store.counts().await?;
        self.status.pending = counts.pending;
        self.status.unseen_problems = counts.unseen_problems;
        self.status.phase = self.schedule.phase();
        Ok(action)
    }

    fn record(&mut self, result: Result<(), RequestError>) -> Outcome {
        match result {
            Ok(()) => {
                self.status.last_error = None;
                Outcome::Ok
            }
            Err(e) => {
                tracing::warn!(error = %e, "sync request failed");
                let outcome = e.outcome();
                self.status.last_error = Some(e.to_string());
                outcome
            }
        }
    }

    pub fn handle(&mut self, event: &SyncEvent) {
        let now = self.now_ms();
        match event {
            SyncEvent::LocalChange => self.schedule.local_change(now),
            SyncEvent::RemoteChange => self.schedule.remote_change(now),
            SyncEvent::NetworkUp => self.schedule.network_up(now),
            SyncEvent::LoggedIn(token) => {
                self.server = self.server.clone().with_token(token.clone());
                self.schedule.logged_in(now);
            }
            SyncEvent::Stop => {}
        }
    }

    /// Runs until the outbox is empty and the server has no more changes, or until `deadline`
    /// passes. Returns whether it drained. For the CLI, tests and shutdown.
    pub async fn drain(&mut self, deadline: Duration) -> Result<bool, SyncError> {
        let until = Instant::now() + deadline;
        // A request in flight must not outlive the caller's budget either.
        let previous = self.server.deadline;
        self.server
            .set_deadline(Some(previous.map_or(until, |p| p.min(until))));
        let drained = self.drain_until(until).await;
        self.server.set_deadline(previous);
        drained
    }

    async fn drain_until(&mut self, until: Instant) -> Result<bool, SyncError> {
        // A fresh pull at the end confirms nothing is left on either side.
        self.schedule.remote_change(self.now_ms());
        loop {
            let action = self.step().await?;
            let idle = matches!(self.status.phase, SyncPhase::Idle);
            match action {
                Action::NeedsLogin => return Ok(false),
                Action::WaitUntil(at) => {
                    if idle && self.status.pending == 0 {
                        return Ok(true);
                    }
                    let wait = at.saturating_sub(self.now_ms()).max(1);
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    tokio::time::sleep(Duration::from_millis(wait).min(left)).await;
                }
                Action::Push | Action::Pull => {}
            }
        }
    }

    /// The background loop of the desktop: steps the schedule, sleeps until the next due time
    /// or the next event, and publishes the status after every step.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<SyncEvent>,
        status: watch::Sender<SyncStatus>,
    ) -> Result<(), SyncError> {
        loop {
            let action = self.step().await?;
            let _ = status.send(self.status.clone());
            let wait = match action {
                Action::Push | Action::Pull => continue,
                Action::WaitUntil(at) => Duration::from_millis(at.saturating_sub(self.now_ms())),
                // Nothing to do until a login arrives.
                Action::NeedsLogin => Duration::from_secs(3600),
            };
            tokio::select! {
                event = events.recv() => match event {
                    None | Some(SyncEvent::Stop) => return Ok(()),
                    Some(event) => self.handle(&event),
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_401_stops_the_schedule() {
        assert_eq!(RequestError::Unauthorized.outcome(), Outcome::Unauthorized);
        assert_eq!(RequestError::Network("x".into()).outcome(), Outcome::Retry);
        let refused = RequestError::Refused {
            status: 413,
            code: "too_large".into(),
            message: "batch".into(),
        };
        assert_eq!(refused.outcome(), Outcome::Retry);
    }

    #[test]
    fn urls_are_checked_and_tokens_never_print() {
        assert!(matches!(
            ServerClient::new("ftp://x"),
            Err(SyncError::BadUrl(_))
        ));
        let client = ServerClient::new("http://127.0.0.1:1/")
            .unwrap()
            .with_token("slt_secret".into());
        assert!(!format!("{client:?}").contains("slt_secret"));
    }

    /// A listener that never accepts: the kernel completes the handshake, takes the request
    /// and nothing ever answers (a blackholed connection).
    fn silent_server() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    #[tokio::test]
    async fn a_silent_server_fails_the_request_after_the_read_timeout() {
        let (_listener, url) = silent_server();
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_millis(300),
            request: Duration::from_secs(60),
        };
        let client = ServerClient::with_timeouts(&url, timeouts)
            .unwrap()
            .with_token("t".into());
        let started = Instant::now();
        let err = client.pull("c", None, 10).await.unwrap_err();
        assert!(
            matches!(&err, RequestError::Network(m) if m.contains("in time")),
            "{err}"
        );
        // The read timeout fired, not the minute-long request timeout.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_deadline_cuts_a_request_short_and_then_refuses_new_ones() {
        let (_listener, url) = silent_server();
        let mut client = ServerClient::new(&url).unwrap().with_token("t".into());
        client.set_deadline(Some(Instant::now() + Duration::from_millis(300)));
        let started = Instant::now();
        let err = client.pull("c", None, 10).await.unwrap_err();
        assert!(matches!(err, RequestError::Network(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let err = client.login("t", "u", "p").await.unwrap_err();
        assert!(
            matches!(&err, RequestError::Network(m) if m.contains("ran out")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_dead_server_is_a_network_error_not_a_panic() {
        let client = ServerClient::new("http://127.0.0.1:9")
            .unwrap()
            .with_token("t".into());
        let err = client.pull("c", None, 10).await.unwrap_err();
        assert!(matches!(err, RequestError::Network(_)), "{err}");
    }
}
