//! Mutations: what the client outbox carries and the server applies, and the domain rejections.

use serde::{Deserialize, Deserializer, Serialize};

use crate::hlc::Hlc;
use crate::model::{ClientId, MutationRef, OrderKind, Priority, WorkOrderId};
use crate::status::{Status, TransitionError};

/// Longest note text, in characters.
pub const MAX_NOTE_CHARS: usize = 8_000;
/// Longest short text field (team, category, customer id, call id, user ids, tenant), in chars.
pub const MAX_SHORT_CHARS: usize = 128;
/// Longest reopen reason, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

/// The user a mutation acts for. On the server this must be filled in (or checked) from the
/// authenticated session, never trusted from the client payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub tenant: String,
}

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutation {
    pub client_id: ClientId,
    /// Strictly increasing per client (the server's exactly-once key with `client_id`).
    pub mutation_id: u64,
    pub order_id: WorkOrderId,
    /// The client's HLC stamp when the change was made.
    pub stamp: Hlc,
    /// The order version the client had when it made the change (0 for Create).
    pub base_version: u64,
    pub actor: Actor,
    pub body: MutationBody,
}

impl Mutation {
    /// The global key of this mutation.
    pub const fn reference(&self) -> MutationRef {
        MutationRef {
            client_id: self.client_id,
            mutation_id: self.mutation_id,
        }
    }
}

/// The change a mutation makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MutationBody {
    Create(NewWorkOrder),
    SetFields(FieldPatch),
    AddNote {
        text: String,
    },
    /// An ordinary status change (never a reopen).
    ChangeStatus {
        to: Status,
    },
    /// Reopen a resolved or closed order (back to in progress).
    Reopen {
        reason: Option<String>,
    },
    /// The agent replied to the customer; the server records its own time.
    RecordFirstReply,
}

impl MutationBody {
    /// Stable name of the mutation kind.
    pub const fn name(&self) -> &'static str {
        match self {
            MutationBody::Create(_) => "create",
            MutationBody::SetFields(_) => "set_fields",
            MutationBody::AddNote { .. } => "add_note",
            MutationBody::ChangeStatus { .. } => "change_status",
            MutationBody::Reopen { .. } => "reopen",
            MutationBody::RecordFirstReply => "record_first_reply",
        }
    }
}

/// The fields of a new order (tenant comes from the actor; status starts at `new`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWorkOrder {
    pub team: String,
    pub kind: OrderKind,
    pub customer_id: String,
    pub call_id: Option<String>,
    pub category: String,
    pub priority: Priority,
    pub assignee: Option<String>,
}

/// A subset of the last-writer-wins fields. `assignee`: absent = unchanged, `null` = unassign,
/// a string = assign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_nullable"
    )]
    pub assignee: Option<Option<String>>,
}

impl FieldPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.priority.is_none() && self.category.is_none() && self.assignee.is_none()
    }
}

/// A present field (even `null`) becomes `Some(..)`; a missing one stays `None` via `default`.
fn present_nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// What was wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Empty,
    TooLong { max_chars: usize, chars: usize },
    NotUuidV7,
    NothingToChange,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Empty => f.write_str("must not be empty"),
            Problem::TooLong { max_chars, chars } => {
                write!(f, "is {chars} characters long, at most {max_chars} allowed")
            }
            Problem::NotUuidV7 => f.write_str("must be a UUIDv7"),
            Problem::NothingToChange => f.write_str("changes nothing"),
        }
    }
}

/// A domain rejection: the mutation is not applied, the server still advances the client's
/// `last_mutation_id` and reports it back, and the client shows it to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
    #[error("work order {order_id} does not exist")]
    UnknownOrder { order_id: WorkOrderId },
    #[error("mutation targets work order {mutation_order} but was applied to {stored_order}")]
    OrderMismatch {
        mutation_order: WorkOrderId,
        stored_order: WorkOrderId,
    },
    #[error("work order belongs to another tenant")]
    WrongTenant {
        order_tenant: String,
        actor_tenant: String,
    },
    #[error("{error}")]
    IllegalTransition { error: TransitionError },
    #[error("{field} {problem}")]
    Invalid { field: String, problem: Problem },
}

impl Rejection {
    /// The stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Rejection::UnknownOrder { .. } => "unknown_order",
            Rejection::OrderMismatch { .. } => "order_mismatch",
            Rejection::WrongTenant { .. } => "wrong_tenant",
            Rejection::IllegalTransition { .. } => "illegal_transition",
            Rejection::Invalid { .. } => "invalid",
        }
    }

    /// The human-readable message (safe to show the agent: no other tenant's name).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The flat `{code, message}` form for the push response.
    pub fn report(&self) -> RejectionReport {
        RejectionReport {
            code: self.code().to_owned(),
            message: self.message(),
        }
    }

    pub(crate) fn invalid(field: &str, problem: Problem) -> Self {
        Rejection::Invalid {
            field: field.to_owned(),
            problem,
        }
    }
}

impl From<TransitionError> for Rejection {
    fn from(error: TransitionError) -> Self {
        Rejection::IllegalTransition { error }
    }
}

/// `{code, message}` as sent back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionReport {
    pub code: String,
    pub message: String,
}

fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::invalid(field, Problem::Empty));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(Rejection::invalid(
            field,
            Problem::TooLong { max_chars, chars },
        ));
    }
    Ok(())
}

impl Mutation {
    /// Checks that need no stored order: ids, text lengths, empty texts and patches.
    pub fn validate(&self) -> Result<(), Rejection> {
        check_text("actor.user", &self.actor.user, MAX_SHORT_CHARS)?;
        check_text("actor.tenant", &self.actor.tenant, MAX_SHORT_CHARS)?;
        match &self.body {
            MutationBody::Create(new) => {
                if !self.order_id.is_v7() {
                    return Err(Rejection::invalid("order_id", Problem::NotUuidV7));
                }
                check_text("team", &new.team, MAX_SHORT_CHARS)?;
                check_text("customer_id", &new.customer_id, MAX_SHORT_CHARS)?;
                check_text("category", &new.category, MAX_SHORT_CHARS)?;
                if let Some(call) = &new.call_id {
                    check_text("call_id", call, MAX_SHORT_CHARS)?;
                }
                if let Some(a) = &new.assignee {
                    check_text("assignee", a, MAX_SHORT_CHARS)?;
                }
            }
            MutationBody::SetFields(patch) => {
                if patch.is_empty() {
                    return Err(Rejection::invalid("fields", Problem::NothingToChange));
                }
                if let Some(c) = &patch.category {
                    check_text("category", c, MAX_SHORT_CHARS)?;
                }
                if let Some(Some(a)) = &patch.assignee {
                    check_text("assignee", a, MAX_SHORT_CHARS)?;
                }
            }
            MutationBody::AddNote { text } => check_text("text", text, MAX_NOTE_CHARS)?,
            MutationBody::Reopen { reason: Some(r) } => {
                check_text("reason", r, MAX_REASON_CHARS)?;
            }
            MutationBody::ChangeStatus { .. }
            | MutationBody::Reopen { reason: None }
            | MutationBody::RecordFirstReply => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignee_patch_distinguishes_absent_null_and_value() {
        let absent: FieldPatch = serde_json::from_str(r#"{"priority":"high"}"#).unwrap();
        assert_eq!(absent.assignee, None);
        assert_eq!(absent.priority, Some(Priority::High));
        let null: FieldPatch = serde_json::from_str(r#"{"assignee":null}"#).unwrap();
        assert_eq!(null.assignee, Some(None));
        let set: FieldPatch = serde_json::from_str(r#"{"assignee":"agent-7"}"#).unwrap();
        assert_eq!(set.assignee, Some(Some("agent-7".to_owned())));
        let round: FieldPatch =
            serde_json::from_str(&serde_json::to_string(&null).unwrap()).unwrap();
        assert_eq!(round, null);
    }

    #[test]
    fn rejection_codes_are_stable_on_the_wire() {
        let r = Rejection::invalid("text", Problem::Empty);
        assert_eq!(r.code(), "invalid");
        assert_eq!(r.message(), "text must not be empty");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["code"], "invalid");
        assert_eq!(json["problem"]["problem"], "empty");
        let back: Rejection = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        let t: Rejection = TransitionError {
            from: Status::Closed,
            to: Status::InProgress,
            reopen: false,
        }
        .into();
        assert_eq!(t.report().code, "illegal_transition");
        assert_eq!(
            t.report().message,
            "changing status from closed to in_progress is not allowed"
        );
    }

    /// Every body must survive the wire: a tag that collides with a field of a variant (as
    /// `kind` did with `NewWorkOrder::kind`) serializes but cannot be read back.
    #[test]
    fn every_mutation_body_round_trips_through_json() {
        use crate::model::{Complexity, OrderKind};
        let bodies = vec![
            MutationBody::Create(NewWorkOrder {
                team: "t".into(),
                kind: OrderKind::Complaint {
                    complexity: Complexity::Complex,
                },
                customer_id: "c".into(),
                call_id: None,
                category: "x".into(),
                priority: Priority::High,
                assignee: Some("a".into()),
            }),
            MutationBody::SetFields(FieldPatch {
                priority: Some(Priority::Low),
                category: Some("y".into()),
                assignee: Some(None),
            }),
            MutationBody::AddNote { text: "n".into() },
            MutationBody::ChangeStatus {
                to: Status::InProgress,
            },
            MutationBody::Reopen {
                reason: Some("r".into()),
            },
            MutationBody::RecordFirstReply,
        ];
        for body in bodies {
            let text = serde_json::to_string(&body).unwrap();
            let back: MutationBody = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} does not read back: {e}: {text}", body.name()));
            assert_eq!(back, body);
        }
    }
}
