//! The work-order status state machine.
//!
//! ```text
//! new → in_progress ⇄ waiting_on_customer
//!       in_progress → resolved → closed
//!       resolved | closed → in_progress   (only through an explicit Reopen)
//! ```

use serde::{Deserialize, Serialize};

/// Where a work order is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed,
}

impl Status {
    /// Every status (for exhaustive tests and UIs).
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::InProgress,
        Status::WaitingOnCustomer,
        Status::Resolved,
        Status::Closed,
    ];

    /// The stable wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in_progress",
            Status::WaitingOnCustomer => "waiting_on_customer",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Whether work on the order is finished (resolved or closed).
    pub const fn is_finished(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }

    /// Whether an ordinary status change `self → to` is allowed (reopening is not ordinary).
    pub const fn allows(self, to: Status) -> bool {
        matches!(
            (self, to),
            (Status::New, Status::InProgress)
                | (Status::InProgress, Status::WaitingOnCustomer)
                | (Status::WaitingOnCustomer, Status::InProgress)
                | (Status::InProgress, Status::Resolved)
                | (Status::Resolved, Status::Closed)
        )
    }

    /// Check an ordinary status change.
    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        if self.allows(to) {
            Ok(to)
        } else {
            Err(TransitionError {
                from: self,
                to,
                reopen: false,
            })
        }
    }

    /// Check an explicit reopen: only a resolved or closed order can be reopened, and it goes
    /// back to in progress.
    pub fn reopen(self) -> Result<Status, TransitionError> {
        if self.is_finished() {
            Ok(Status::InProgress)
        } else {
            Err(TransitionError {
                from: self,
                to: Status::InProgress,
                reopen: true,
            })
        }
    }

    /// Whether a recorded step `from → to` is legal (an ordinary change or a reopen).
    pub const fn is_legal_step(from: Status, to: Status, reopen: bool) -> bool {
        if reopen {
            from.is_finished() && matches!(to, Status::InProgress)
        } else {
            from.allows(to)
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An illegal status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} from {from} to {to} is not allowed", if *reopen { "reopening" } else { "changing status" })]
pub struct TransitionError {
    pub from: Status,
    pub to: Status,
    /// Whether the attempted change was a reopen.
    pub reopen: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_documented_transitions_are_allowed() {
        let allowed: Vec<(Status, Status)> = Status::ALL
            .iter()
            .flat_map(|&a| Status::ALL.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.allows(b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Status::New, Status::InProgress),
                (Status::InProgress, Status::WaitingOnCustomer),
                (Status::InProgress, Status::Resolved),
                (Status::WaitingOnCustomer, Status::InProgress),
                (Status::Resolved, Status::Closed),
            ]
        );
    }

    #[test]
    fn closed_cannot_go_back_to_in_progress_without_reopen() {
        let err = Status::Closed.transition(Status::InProgress).unwrap_err();
        assert_eq!(
            err,
            TransitionError {
                from: Status::Closed,
                to: Status::InProgress,
                reopen: false
            }
        );
        assert_eq!(
            err.to_string(),
            "changing status from closed to in_progress is not allowed"
        );
        assert_eq!(Status::Closed.reopen(), Ok(Status::InProgress));
        assert_eq!(Status::Resolved.reopen(), Ok(Status::InProgress));
    }

    #[test]
    fn reopen_only_from_finished() {
        for s in [Status::New, Status::InProgress, Status::WaitingOnCustomer] {
            let err = s.reopen().unwrap_err();
            assert!(err.reopen);
            assert_eq!(err.from, s);
        }
    }

    #[test]
    fn wire_names_are_snake_case() {
        for s in Status::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
