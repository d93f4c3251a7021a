//! The agent's availability as a sans-IO state machine: events and the time they happened go
//! in, the new state and a history entry come out. The desktop feeds it from the status bar and
//! from call events; the server receives its history.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as the caller's clock gives it.
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentState {
    /// Logged in but not yet available; the state every session starts in.
    NotReady {
        reason: String,
    },
    Ready,
    OnCall,
    /// Wrap-up after a call; left with a wrap-up code.
    AfterCallWork,
}

impl AgentState {
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotReady { .. } => "not_ready",
            Self::Ready => "ready",
            Self::OnCall => "on_call",
            Self::AfterCallWork => "after_call_work",
        }
    }
}

/// What can happen to the agent's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    SetReady,
    SetNotReady { reason: String },
    CallStarted,
    CallEnded,
    WrapUpDone { code: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum TransitionError {
    #[error("unknown not-ready reason {0:?}")]
    UnknownReason(String),
    #[error("a wrap-up code is required to leave after-call work")]
    WrapUpCodeRequired,
    #[error("cannot {event} while {state}")]
    NotAllowed {
        state: &'static str,
        event: &'static str,
    },
}

/// One entry of the state history: what the state became, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Millis,
    pub state: AgentState,
    /// The wrap-up code that closed an after-call-work period, if any.
    pub wrap_up_code: Option<String>,
    /// The after-call-work time box ran out (no wrap-up code in time).
    #[serde(default)]
    pub timed_out: bool,
}

/// Reason codes the center allows for Not ready (lunch, training, …), and the session-start one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPolicy {
    pub not_ready_reasons: Vec<String>,
    /// Whether a call is followed by after-call work (otherwise the agent goes straight back).
    pub after_call_work: bool,
    /// The after-call-work time box: past it the agent goes back (Ready, or the Not ready
    /// asked for meanwhile) without a code; the call keeps waiting for its wrap-up. None: no
    /// limit.
    #[serde(default)]
    pub after_call_work_limit_ms: Option<Millis>,
}

/// Default after-call-work time box: two minutes, a common center setting.
pub const DEFAULT_AFTER_CALL_WORK_LIMIT_MS: Millis = 120_000;

/// The reason a fresh session starts Not ready with.
pub const LOGIN_REASON: &str = "login";

impl Default for AgentPolicy {
    fn default() -> Self {
        Self {
            not_ready_reasons: ["break", "lunch", "meeting", "training", "outbound"]
                .map(String::from)
                .to_vec(),
            after_call_work: true,
            after_call_work_limit_ms: Some(DEFAULT_AFTER_CALL_WORK_LIMIT_MS),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentMachine {
    policy: AgentPolicy,
    state: AgentState,
    /// A Not ready the agent asked for during a call or wrap-up, applied once the call is done
    /// (so the queue sends no new call, and the current one is not cut).
    pending_not_ready: Option<String>,
    /// The state to go back to after a call when there is no after-call work.
    before_call: Option<AgentState>,
    since: Millis,
    history: Vec<HistoryEntry>,
}

impl AgentMachine {
    pub fn new(policy: AgentPolicy, now: Millis) -> Self {
        let state = AgentState::NotReady {
            reason: LOGIN_REASON.to_owned(),
        };
        Self {
            policy,
            history: vec![HistoryEntry {
                at: now,
                state: state.clone(),
                wrap_up_code: None,
                timed_out: false,
            }],
            state,
            pending_not_ready: None,
            before_call: None,
            since: now,
        }
    }

    pub fn state(&self) -> &AgentState {
        &self.state
    }
    pub fn since(&self) -> Millis {
        self.since
    }
    pub fn pending_not_ready(&self) -> Option<&str> {
        self.pending_not_ready.as_deref()
    }
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }
    pub fn policy(&self) -> &AgentPolicy {
        &self.policy
    }

    /// Takes the center's new policy (its playbook changed). The current state stays as it
    /// is, even a Not ready whose reason was withdrawn: the agent chose it under the old list.
    /// A running after-call-work period is measured against the new time box from its start.
    pub fn set_policy(&mut self, policy: AgentPolicy) {
        self.policy = policy;
    }

    /// Applies an event at `now`. On error nothing changes.
    pub fn apply(
        &mut self,
        event: AgentEvent,
        now: Millis,
    ) -> Result<&AgentState, TransitionError> {
        use AgentEvent as E;
        use AgentState as S;
        let not_allowed = |state: &AgentState, event: &'static str| TransitionError::NotAllowed {
            state: state.label(),
            event,
        };
        match (&self.state, event) {
            (S::NotReady { .. } | S::Ready, E::SetReady) => {
                self.pending_not_ready = None;
                self.enter(S::Ready, now, None);
            }
            (S::OnCall | S::AfterCallWork, E::SetReady) => {
                // Cancels a pending Not ready; the agent becomes Ready after the call.
                self.pending_not_ready = None;
            }
            (state, E::SetNotReady { reason }) => {
                if !self.policy.not_ready_reasons.contains(&reason) {
                    return Err(TransitionError::UnknownReason(reason));
                }
                match state {
                    S::Ready | S::NotReady { .. } => self.enter(S::NotReady { reason }, now, None),
                    S::OnCall | S::AfterCallWork => self.pending_not_ready = Some(reason),
                }
            }
            (S::Ready | S::NotReady { .. }, E::CallStarted) => {
                self.before_call = Some(self.state.clone());
                self.enter(S::OnCall, now, None);
            }
            (S::AfterCallWork, E::CallStarted) => {
                // A callback dialled during wrap-up: the wrap-up resumes after it.
                self.before_call = Some(S::AfterCallWork);
                self.enter(S::OnCall, now, None);
            }
            (state @ S::OnCall, E::CallStarted) => return Err(not_allowed(state, "start a call")),
            (S::OnCall, E::CallEnded) => {
                let back = self.before_call.take();
                if self.policy.after_call_work || back == Some(S::AfterCallWork) {
                    self.enter(S::AfterCallWork, now, None);
                } else {
                    let next = self.after_work_state(back);
                    self.enter(next, now, None);
                }
            }
            (state, E::CallEnded) => return Err(not_allowed(state, "end a call")),
            (S::AfterCallWork, E::WrapUpDone { code }) => {
                if code.trim().is_empty() {
                    return Err(TransitionError::WrapUpCodeRequired);
                }
                let next = self.after_work_state(Some(S::Ready));
                self.enter(next, now, Some(code));
            }
            (state, E::WrapUpDone { .. }) => return Err(not_allowed(state, "finish wrap-up")),
        }
        Ok(&self.state)
    }

    /// When after-call work ends by itself, if the agent is in it and there is a time box.
    pub fn after_call_work_deadline(&self) -> Option<Millis> {
        match self.state {
            AgentState::AfterCallWork => self
                .policy
                .after_call_work_limit_ms
                .map(|limit| self.since.saturating_add(limit)),
            _ => None,
        }
    }

    /// Lets time pass: after-call work past its time box ends (the state the agent asked
    /// for, else Ready), marked as timed out. Returns whether the state changed.
    pub fn tick(&mut self, now: Millis) -> bool {
        match self.after_call_work_deadline() {
            Some(deadline) if now >= deadline => {
                let next = self.after_work_state(Some(AgentState::Ready));
                self.enter(next, now, None);
                if let Some(last) = self.history.last_mut() {
                    last.timed_out = true;
                }
                true
            }
            _ => false,
        }
    }

    fn after_work_state(&mut self, fallback: Option<AgentState>) -> AgentState {
        match self.pending_not_ready.take() {
            Some(reason) => AgentState::NotReady { reason },
            None => fallback.unwrap_or(AgentState::Ready),
        }
    }

    fn enter(&mut self, state: AgentState, now: Millis, wrap_up_code: Option<String>) {
        if state == self.state && wrap_up_code.is_none() {
            return;
        }
        self.state = state.clone();
        self.since = now;
        self.history.push(HistoryEntry {
            at: now,
            state,
            wrap_up_code,
            timed_out: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentEvent as E;
    use AgentState as S;

    fn machine() -> AgentMachine {
        AgentMachine::new(AgentPolicy::default(), 1_000)
    }

    fn not_ready(reason: &str) -> E {
        E::SetNotReady {
            reason: reason.into(),
        }
    }

    #[test]
    fn a_new_policy_changes_the_reasons_and_the_time_box_not_the_state() {
        let mut m = AgentMachine::new(AgentPolicy::default(), 0);
        m.apply(not_ready("lunch"), 1_000).unwrap();
        m.apply(E::SetReady, 2_000).unwrap();
        m.apply(E::CallStarted, 3_000).unwrap();
        m.apply(E::CallEnded, 4_000).unwrap();
        assert_eq!(m.after_call_work_deadline(), Some(124_000));
        m.set_policy(AgentPolicy {
            not_ready_reasons: vec!["coaching".into()],
            after_call_work: true,
            after_call_work_limit_ms: Some(30_000),
        });
        assert_eq!(m.state(), &AgentState::AfterCallWork);
        assert_eq!(m.after_call_work_deadline(), Some(34_000));
        assert!(m.tick(34_000));
        assert_eq!(m.state(), &AgentState::Ready);
        assert!(matches!(
            m.apply(not_ready("lunch"), 35_000),
            Err(TransitionError::UnknownReason(_))
        ));
        m.apply(not_ready("coaching"), 35_000).unwrap();
    }

    #[test]
    fn a_session_starts_not_ready_with_the_login_reason() {
        let m = machine();
        assert_eq!(
            m.state(),
            &S::NotReady {
                reason: "login".into()
            }
        );
        assert_eq!(m.since(), 1_000);
        assert_eq!(m.history().len(), 1);
    }

    #[test]
    fn call_cycle_goes_through_after_call_work_and_back_to_ready() {
        let mut m = machine();
        m.apply(E::SetReady, 2_000).unwrap();
        m.apply(E::CallStarted, 3_000).unwrap();
        m.apply(E::CallEnded, 4_000).unwrap();
        assert_eq!(m.state(), &S::AfterCallWork);
        assert_eq!(
            m.apply(E::WrapUpDone { code: " ".into() }, 4_500),
            Err(TransitionError::WrapUpCodeRequired)
        );
        m.apply(
            E::WrapUpDone {
                code: "resolved".into(),
            },
            5_000,
        )
        .unwrap();
        assert_eq!(m.state(), &S::Ready);
        let states: Vec<_> = m
            .history()
            .iter()
            .map(|h| (h.at, h.state.label()))
            .collect();
        assert_eq!(
            states,
            vec![
                (1_000, "not_ready"),
                (2_000, "ready"),
                (3_000, "on_call"),
                (4_000, "after_call_work"),
                (5_000, "ready")
            ]
        );
        assert_eq!(m.history()[4].wrap_up_code.as_deref(), Some("resolved"));
    }

    #[test]
    fn not_ready_during_a_call_waits_for_the_wrap_up() {
        let mut m = machine();
        m.apply(E::SetReady, 1).unwrap();
        m.apply(E::CallStarted, 2).unwrap();
        m.apply(not_ready("lunch"), 3).unwrap();
        assert_eq!(m.state(), &S::OnCall);
        assert_eq!(m.pending_not_ready(), Some("lunch"));
        m.apply(E::CallEnded, 4).unwrap();
        m.apply(
            E::WrapUpDone {
                code: "sale".into(),
            },
            5,
        )
        .unwrap();
        assert_eq!(
            m.state(),
            &S::NotReady {
                reason: "lunch".into()
            }
        );
        assert_eq!(m.pending_not_ready(), None);
    }

    #[test]
    fn ready_during_a_call_cancels_the_pending_not_ready() {
        let mut m = machine();
        m.apply(E::CallStarted, 1).unwrap();
        m.apply(not_ready("break"), 2).unwrap();
        m.apply(E::SetReady, 3).unwrap();
        m.apply(E::CallEnded, 4).unwrap();
        m.apply(E::WrapUpDone { code: "x".into() }, 5).unwrap();
        assert_eq!(m.state(), &S::Ready);
    }

    #[test]
    fn without_after_call_work_the_agent_returns_to_the_state_before_the_call() {
        let policy = AgentPolicy {
            after_call_work: false,
            ..AgentPolicy::default()
        };
        let mut m = AgentMachine::new(policy, 0);
        m.apply(not_ready("outbound"), 1).unwrap();
        m.apply(E::CallStarted, 2).unwrap();
        m.apply(E::CallEnded, 3).unwrap();
        assert_eq!(
            m.state(),
            &S::NotReady {
                reason: "outbound".into()
            }
        );
    }

    #[test]
    fn a_call_during_wrap_up_returns_to_wrap_up() {
        let mut m = machine();
        m.apply(E::CallStarted, 1).unwrap();
        m.apply(E::CallEnded, 2).unwrap();
        m.apply(E::CallStarted, 3).unwrap();
        m.apply(E::CallEnded, 4).unwrap();
        assert_eq!(m.state(), &S::AfterCallWork);
    }

    #[test]
    fn bad_events_are_refused_and_change_nothing() {
        let mut m = machine();
        let before = m.history().len();
        assert_eq!(
            m.apply(not_ready("nap"), 1),
            Err(TransitionError::UnknownReason("nap".into()))
        );
        assert!(matches!(
            m.apply(E::CallEnded, 1),
            Err(TransitionError::NotAllowed { .. })
        ));
        assert!(m.apply(E::WrapUpDone { code: "x".into() }, 1).is_err());
        m.apply(E::CallStarted, 2).unwrap();
        let err = m.apply(E::CallStarted, 3).unwrap_err();
        assert_eq!(err.to_string(), "cannot start a call while on_call");
        assert_eq!(m.history().len(), before + 1);
    }

    #[test]
    fn repeating_the_same_state_adds_no_history() {
        let mut m = machine();
        m.apply(E::SetReady, 1).unwrap();
        m.apply(E::SetReady, 2).unwrap();
        assert_eq!(m.history().len(), 2);
        assert_eq!(m.since(), 1);
    }

    #[test]
    fn states_serialize_for_the_ui() {
        let json = serde_json::to_string(&S::NotReady {
            reason: "lunch".into(),
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"not_ready","reason":"lunch"}"#);
        let event: AgentEvent = serde_json::from_str(r#"{"event":"set_ready"}"#).unwrap();
        assert_eq!(event, E::SetReady);
    }

    #[test]
    fn after_call_work_ends_by_itself_past_its_time_box() {
        let mut m = machine();
        m.apply(E::SetReady, 2_000).unwrap();
        m.apply(E::CallStarted, 3_000).unwrap();
        assert_eq!(m.after_call_work_deadline(), None);
        m.apply(E::CallEnded, 10_000).unwrap();
        assert_eq!(
            m.after_call_work_deadline(),
            Some(10_000 + DEFAULT_AFTER_CALL_WORK_LIMIT_MS)
        );
        // Not yet: nothing changes.
        assert!(!m.tick(10_000 + DEFAULT_AFTER_CALL_WORK_LIMIT_MS - 1));
        assert_eq!(m.state(), &S::AfterCallWork);
        // The agent asked for lunch meanwhile: the time box ends in it.
        m.apply(not_ready("lunch"), 20_000).unwrap();
        assert!(m.tick(10_000 + DEFAULT_AFTER_CALL_WORK_LIMIT_MS));
        assert_eq!(
            m.state(),
            &S::NotReady {
                reason: "lunch".into()
            }
        );
        let last = m.history().last().unwrap();
        assert!(last.timed_out && last.wrap_up_code.is_none());
        assert!(!m.tick(i64::MAX));
    }

    #[test]
    fn a_wrap_up_in_time_is_no_timeout_and_no_limit_means_none() {
        let mut m = machine();
        m.apply(E::SetReady, 2_000).unwrap();
        m.apply(E::CallStarted, 3_000).unwrap();
        m.apply(E::CallEnded, 10_000).unwrap();
        m.apply(
            E::WrapUpDone {
                code: "resolved".into(),
            },
            30_000,
        )
        .unwrap();
        assert!(!m.tick(10_000 + DEFAULT_AFTER_CALL_WORK_LIMIT_MS));
        assert!(!m.history().last().unwrap().timed_out);

        let mut unlimited = AgentMachine::new(
            AgentPolicy {
                after_call_work_limit_ms: None,
                ..AgentPolicy::default()
            },
            0,
        );
        unlimited.apply(E::SetReady, 1).unwrap();
        unlimited.apply(E::CallStarted, 2).unwrap();
        unlimited.apply(E::CallEnded, 3).unwrap();
        assert_eq!(unlimited.after_call_work_deadline(), None);
        assert!(!unlimited.tick(i64::MAX));
        assert_eq!(unlimited.state(), &S::AfterCallWork);
    }
}
