//! Not ready / Ready mapped to the PBX's queue pause and unpause feature codes
//! (`[queue_pause]` in the settings).
//!
//! - [`dial_for`]: the decision, a pure function: the configured codes, what the PBX was last
//!   told and the agent's new state give the code to dial, if any.
//! - [`QueuePauseTracker`]: remembers what the PBX was told (a failed dial forgets it, so the
//!   next change dials again).
//! - [`dial`]: places the feature-code call on the running phone and turns its outcome into a
//!   [`QueuePauseReport`] with a warning for the agent when the PBX did not take the code.
//!
//! Only Not ready and Ready dial: On call and after-call work leave the PBX as it is (the queue
//! knows the agent is busy; a pending Not ready is dialled when it takes effect after the
//! call). The agent's state change never waits for the PBX and never depends on it.

use crate::SessionError;
use seatline_agent_state::AgentState;
use seatline_settings::QueuePauseSettings;
use seatline_sip_phone::{FeatureCodeOutcome, PhoneHandle};
use serde::Serialize;
use std::time::Duration;

/// What a feature code asks the PBX to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum QueueAction {
    /// Pause the agent in the queues (Not ready, with its reason).
    Pause {
        reason: String,
    },
    Unpause,
}

impl QueueAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pause { .. } => "pause",
            Self::Unpause => "unpause",
        }
    }
}

/// A feature code to dial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureDial {
    #[serde(flatten)]
    pub action: QueueAction,
    pub code: String,
    #[serde(skip)]
    pub timeout: Duration,
}

/// What the PBX was last told: whether the agent is paused there, and with which code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub paused: bool,
    pub code: String,
}

/// The code to dial when the agent's state becomes `state`, given what the PBX was last told
/// (`None`: unknown, e.g. at start or after a failed dial). Nothing when the feature is off,
/// the state does not map (On call, after-call work), no code is configured for it, or the
/// PBX was already told the same thing with the same code.
pub fn dial_for(
    settings: &QueuePauseSettings,
    told: Option<&Told>,
    state: &AgentState,
) -> Option<FeatureDial> {
    if !settings.enabled {
        return None;
    }
    let (action, code) = match state {
        AgentState::NotReady { reason } => (
            QueueAction::Pause {
                reason: reason.clone(),
            },
            settings.pause_code(reason)?,
        ),
        AgentState::Ready => (QueueAction::Unpause, settings.unpause.as_deref()?),
        AgentState::OnCall | AgentState::AfterCallWork => return None,
    };
    let paused = matches!(action, QueueAction::Pause { .. });
    if told.is_some_and(|t| t.paused == paused && t.code == code) {
        return None;
    }
    Some(FeatureDial {
        action,
        code: code.to_owned(),
        timeout: Duration::from_secs(u64::from(settings.timeout_secs.max(1))),
    })
}

/// Follows the agent's states and what the PBX was told (sans-IO).
#[derive(Debug, Default, Clone)]
pub struct QueuePauseTracker {
    told: Option<Told>,
}

impl QueuePauseTracker {
    /// The code to dial for a new state, if any; the PBX is taken as told until
    /// [`Self::finished`] says otherwise.
    pub fn on_state(
        &mut self,
        settings: &QueuePauseSettings,
        state: &AgentState,
    ) -> Option<FeatureDial> {
        let dial = dial_for(settings, self.told.as_ref(), state)?;
        self.told = Some(Told {
            paused: matches!(dial.action, QueueAction::Pause { .. }),
            code: dial.code.clone(),
        });
        Some(dial)
    }

    /// A dial ended: if the PBX did not take it, what it knows is unknown again.
    pub fn finished(&mut self, report: &QueuePauseReport) {
        if !report.ok {
            self.told = None;
        }
    }

    pub fn told(&self) -> Option<&Told> {
        self.told.as_ref()
    }
}

/// How a queue pause/unpause went, for the log and the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuePauseReport {
    #[serde(flatten)]
    pub dial: FeatureDial,
    /// The PBX answered the code.
    pub ok: bool,
    /// What went wrong, for the agent (English; the window shows it under a translated
    /// heading): `None` when the PBX took the code.
    pub warning: Option<String>,
}

/// Turns the outcome of a feature-code call into a report.
pub fn report(
    dial: &FeatureDial,
    outcome: Result<FeatureCodeOutcome, SessionError>,
) -> QueuePauseReport {
    let warning = match outcome {
        Ok(FeatureCodeOutcome::Answered { .. }) => None,
        Ok(FeatureCodeOutcome::Rejected { code, reason }) => Some(format!(
            "the PBX refused the {} code {} ({code} {reason})",
            dial.action.name(),
            dial.code
        )),
        Ok(FeatureCodeOutcome::NoAnswer { after_ms }) => Some(format!(
            "the PBX did not answer the {} code {} within {} s",
            dial.action.name(),
            dial.code,
            after_ms.saturating_add(500) / 1000
        )),
        Err(SessionError::NotConnected) => Some(format!(
            "the phone is not connected: the {} code {} was not dialled",
            dial.action.name(),
            dial.code
        )),
        Err(e) => Some(format!(
            "the {} code {} failed: {e}",
            dial.action.name(),
            dial.code
        )),
    };
    QueuePauseReport {
        dial: dial.clone(),
        ok: warning.is_none(),
        warning,
    }
}

/// Dials `dial` on the running phone (`phone`: the session's handle, or why there is none) and
/// reports how it went; a failure is logged as a warning.
pub async fn dial(
    phone: Result<PhoneHandle, SessionError>,
    dial: &FeatureDial,
) -> QueuePauseReport {
    let outcome = match phone {
        Ok(handle) => handle
            .feature_code(None, &dial.code, dial.timeout)
            .await
            .map_err(SessionError::from),
        Err(e) => Err(e),
    };
    let report = report(dial, outcome);
    match &report.warning {
        None => tracing::info!(action = dial.action.name(), code = %dial.code,
            "queue {} code taken by the PBX", dial.action.name()),
        Some(warning) => tracing::warn!(action = dial.action.name(), code = %dial.code,
            %warning, "queue pause code not taken"),
    }
    report
}

impl crate::PhoneSession {
    /// Follows the agent's states (each state the agent moved to, in order) and dials the
    /// codes they map to on this session's phone, one at a time so the PBX hears them in
    /// order. `settings` is read at each state (the file may change); `on_report` gets every
    /// dial's report (the window's warning). Ends when the sender is dropped.
    pub async fn follow_agent_states(
        &self,
        mut states: tokio::sync::mpsc::UnboundedReceiver<AgentState>,
        settings: impl Fn() -> QueuePauseSettings,
        on_report: impl Fn(&QueuePauseReport),
    ) {
        let mut tracker = QueuePauseTracker::default();
        while let Some(state) = states.recv().await {
            let Some(next) = tracker.on_state(&settings(), &state) else {
                continue;
            };
            let report = dial(self.phone().await, &next).await;
            tracker.finished(&report);
            on_report(&report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> QueuePauseSettings {
        QueuePauseSettings {
            enabled: true,
            pause: Some("*62".into()),
            unpause: Some("*63".into()),
            reasons: [("lunch".to_owned(), "*6202".to_owned())].into(),
            timeout_secs: 4,
        }
    }

    fn not_ready(reason: &str) -> AgentState {
        AgentState::NotReady {
            reason: reason.into(),
        }
    }

    #[test]
    fn not_ready_dials_pause_and_ready_dials_unpause() {
        let s = settings();
        let pause = dial_for(&s, None, &not_ready("break")).unwrap();
        assert_eq!(
            pause,
            FeatureDial {
                action: QueueAction::Pause {
                    reason: "break".into()
                },
                code: "*62".into(),
                timeout: Duration::from_secs(4),
            }
        );
        let unpause = dial_for(&s, None, &AgentState::Ready).unwrap();
        assert_eq!(unpause.action, QueueAction::Unpause);
        assert_eq!(unpause.code, "*63");
    }

    #[test]
    fn a_reason_with_its_own_code_dials_that_code() {
        let dial = dial_for(&settings(), None, &not_ready("lunch")).unwrap();
        assert_eq!(dial.code, "*6202");
    }

    #[test]
    fn calls_and_wrap_up_never_dial() {
        let s = settings();
        for state in [AgentState::OnCall, AgentState::AfterCallWork] {
            assert_eq!(dial_for(&s, None, &state), None, "{state:?}");
        }
    }

    #[test]
    fn off_or_without_a_code_nothing_is_dialled() {
        let off = QueuePauseSettings {
            enabled: false,
            ..settings()
        };
        assert_eq!(dial_for(&off, None, &not_ready("break")), None);
        assert_eq!(dial_for(&off, None, &AgentState::Ready), None);
        let pause_only = QueuePauseSettings {
            unpause: None,
            ..settings()
        };
        assert_eq!(dial_for(&pause_only, None, &AgentState::Ready), None);
        assert!(dial_for(&pause_only, None, &not_ready("break")).is_some());
        assert_eq!(
            dial_for(&QueuePauseSettings::default(), None, &not_ready("x")),
            None
        );
    }

    #[test]
    fn what_the_pbx_already_knows_is_not_dialled_again() {
        let s = settings();
        let paused = Told {
            paused: true,
            code: "*62".into(),
        };
        // break -> meeting: same general code, the PBX already has the agent paused.
        assert_eq!(dial_for(&s, Some(&paused), &not_ready("meeting")), None);
        // break -> lunch: lunch has its own code (the PBX records the reason).
        assert_eq!(
            dial_for(&s, Some(&paused), &not_ready("lunch")).map(|d| d.code),
            Some("*6202".into())
        );
        let unpaused = Told {
            paused: false,
            code: "*63".into(),
        };
        assert_eq!(dial_for(&s, Some(&unpaused), &AgentState::Ready), None);
    }

    /// A session as the app lives it: login, Ready, a call (no dial), a Not ready asked for
    /// during the call that takes effect after it, Ready again; a failed dial is retried at
    /// the next change.
    #[test]
    fn the_tracker_follows_a_session() {
        let s = settings();
        let mut t = QueuePauseTracker::default();
        let codes =
            |t: &mut QueuePauseTracker, state: AgentState| t.on_state(&s, &state).map(|d| d.code);
        assert_eq!(codes(&mut t, AgentState::Ready), Some("*63".into()));
        assert_eq!(codes(&mut t, AgentState::OnCall), None);
        assert_eq!(codes(&mut t, AgentState::AfterCallWork), None);
        assert_eq!(codes(&mut t, AgentState::Ready), None);
        assert_eq!(codes(&mut t, AgentState::OnCall), None);
        assert_eq!(codes(&mut t, not_ready("break")), Some("*62".into()));
        assert_eq!(codes(&mut t, not_ready("meeting")), None);

        // The unpause fails: the PBX state is unknown, so the next Ready dials again.
        let dial = t.on_state(&s, &AgentState::Ready).unwrap();
        let failed = report(
            &dial,
            Ok(FeatureCodeOutcome::Rejected {
                code: 404,
                reason: "Not Found".into(),
            }),
        );
        t.finished(&failed);
        assert_eq!(t.told(), None);
        assert_eq!(codes(&mut t, AgentState::Ready), Some("*63".into()));
        let ok = report(&dial, Ok(FeatureCodeOutcome::Answered { code: 200 }));
        t.finished(&ok);
        assert_eq!(codes(&mut t, AgentState::Ready), None);
    }

    #[test]
    fn failures_become_warnings_that_name_the_code() {
        let dial = dial_for(&settings(), None, &not_ready("break")).unwrap();
        let ok = report(&dial, Ok(FeatureCodeOutcome::Answered { code: 200 }));
        assert!(ok.ok);
        assert_eq!(ok.warning, None);
        let refused = report(
            &dial,
            Ok(FeatureCodeOutcome::Rejected {
                code: 404,
                reason: "Not Found".into(),
            }),
        );
        assert!(!refused.ok);
        assert_eq!(
            refused.warning.as_deref(),
            Some("the PBX refused the pause code *62 (404 Not Found)")
        );
        let silent = report(&dial, Ok(FeatureCodeOutcome::NoAnswer { after_ms: 4001 }));
        assert!(silent.warning.unwrap().contains("within 4 s"));
        let offline = report(&dial, Err(SessionError::NotConnected));
        assert!(offline.warning.unwrap().contains("not connected"));
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["action"], "pause");
        assert_eq!(json["reason"], "break");
        assert_eq!(json["code"], "*62");
        assert_eq!(json["ok"], false);
    }
}
