//! The work-order sync protocol: the wire format (JSON over HTTPS), shared by the desktop's sync
//! client and the central server so both sides compile against one definition, and the
//! client's sans-IO [`schedule`] of pushes, pulls and retries.
//!
//! - `POST /api/v1/sync/push` with a [`PushRequest`]: mutations of one client, in outbox order.
//!   The server applies each exactly once by `(client_id, mutation_id)`, answers a [`PushAck`].
//!   A domain rejection still advances `last_mutation_id` (a poison mutation never wedges the
//!   queue) and is listed in `rejected`. A gap (a mutation id beyond `last + 1`) stops the batch
//!   there; the client resends from `last_mutation_id + 1`.
//! - `GET /api/v1/sync/pull?cursor=C` answers [`PulledChanges`]: the orders changed since the
//!   cursor that the user may see, this client's `last_mutation_id` in the same snapshot, and
//!   the next cursor.

pub mod schedule;

pub use schedule::{Action, Outcome, ScheduleConfig, SyncPhase, SyncSchedule};
use seatline_work_orders::{ClientId, Conflict, Mutation, RejectionReport, WorkOrder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub client_id: ClientId,
    pub mutations: Vec<Mutation>,
}

/// The server's answer to a push: everything up to `last_mutation_id` was processed (applied or
/// rejected), and these were rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    pub last_mutation_id: u64,
    pub rejected: Vec<RejectedMutation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedMutation {
    pub mutation_id: u64,
    pub rejection: RejectionReport,
}

/// One page of server changes since the client's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledChanges {
    pub orders: Vec<WorkOrder>,
    /// Conflicts the server recorded on these orders; the client keeps those of its mutations.
    pub conflicts: Vec<Conflict>,
    /// The server's last processed mutation id for this client, in the same snapshot.
    pub last_mutation_id: u64,
    /// Opaque; pass it back on the next pull.
    pub cursor: String,
    /// More changes are waiting: pull again at once.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_ack_wire_shape_is_stable() {
        let ack = PushAck {
            last_mutation_id: 7,
            rejected: vec![RejectedMutation {
                mutation_id: 6,
                rejection: RejectionReport {
                    code: "illegal_transition".into(),
                    message: "changing status from closed to in_progress is not allowed".into(),
                },
            }],
        };
        let json = serde_json::to_value(&ack).unwrap();
        assert_eq!(json["last_mutation_id"], 7);
        assert_eq!(
            json["rejected"][0]["rejection"]["code"],
            "illegal_transition"
        );
        assert_eq!(serde_json::from_value::<PushAck>(json).unwrap(), ack);
    }

    #[test]
    fn an_empty_pull_round_trips() {
        let pull = PulledChanges {
            orders: vec![],
            conflicts: vec![],
            last_mutation_id: 0,
            cursor: "0".into(),
            more: false,
        };
        let text = serde_json::to_string(&pull).unwrap();
        assert_eq!(serde_json::from_str::<PulledChanges>(&text).unwrap(), pull);
    }
}
