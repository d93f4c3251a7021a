//! Mutations: what the client outbox carries and the server applies, and the domain rejections.

use serde::{Deserialize, Deserializer, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::hlc::Hlc;
use crate::model::{ClientId, MutationRef, OrderKind, Priority, WorkOrderId};
use crate::status::{Status, TransitionError};

/// Longest note text, in characters.
pub const MAX_NOTE_CHARS: usize = 8_000;
/// Longest short text field (team, category, customer id, call id, user ids, tenant), in chars.
pub const MAX_SHORT_CHARS: usize = 128;
/// Longest reopen reason, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 8_000;
/// Longest contact phone as typed, in characters.
pub const MAX_PHONE_CHARS: usize = 32;
/// Earliest and latest year a due time may fall in (catches typos and unit mix-ups).
pub const DUE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

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
    /// Absent in mutations made before titles existed (then empty).
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
}

/// A subset of the last-writer-wins fields. The nullable ones (`assignee`, `contact_phone`,
/// `due_at`): absent = unchanged, `null` = clear, a value = set. An empty `description` clears it.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_nullable"
    )]
    pub contact_phone: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable_rfc3339"
    )]
    pub due_at: Option<Option<OffsetDateTime>>,
}

impl FieldPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.priority.is_none()
            && self.category.is_none()
            && self.assignee.is_none()
            && self.title.is_none()
            && self.description.is_none()
            && self.contact_phone.is_none()
            && self.due_at.is_none()
    }
}

/// `Option<Option<OffsetDateTime>>` as absent / `null` / RFC 3339 text.
mod nullable_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(
        value: &Option<Option<OffsetDateTime>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => time::serde::rfc3339::option::serialize(inner, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>);
        Wrap::deserialize(d).map(|w| Some(w.0))
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
    TooLong {
        max_chars: usize,
        chars: usize,
    },
    NotUuidV7,
    NothingToChange,
    /// Not a phone number: only digits, spaces, `-`, `.`, `(`, `)` and a leading `+`.
    NotAPhoneNumber,
    /// Not a time: RFC 3339, or `YYYY-MM-DDTHH:MM` / `YYYY-MM-DD HH:MM` / `YYYY-MM-DD` local.
    NotATime {
        value: String,
    },
    /// A time outside the years [`DUE_YEARS`].
    YearOutOfRange {
        year: i32,
    },
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
            Problem::NotAPhoneNumber => f.write_str(
                "is not a phone number (digits, spaces, '-', '.', '(', ')' and a leading '+')",
            ),
            Problem::NotATime { value } => write!(
                f,
                "{value:?} is not a time (expected YYYY-MM-DD HH:MM or RFC 3339)"
            ),
            Problem::YearOutOfRange { year } => write!(
                f,
                "is in the year {year}, expected {}-{}",
                DUE_YEARS.start(),
                DUE_YEARS.end()
            ),
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

fn check_optional_text(field: &str, value: &str, max_chars: usize) -> Result<(), Rejection> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(Rejection::invalid(
            field,
            Problem::TooLong { max_chars, chars },
        ));
    }
    Ok(())
}

/// A contact number as typed or normalized: digits with the usual separators, a leading `+`,
/// 3 to 20 digits. (Normalizing to E.164 is the client's job: it knows the agent's region.)
pub fn check_phone(value: &str) -> Result<(), Rejection> {
    check_text("contact_phone", value, MAX_PHONE_CHARS)?;
    let body = value.trim();
    let body = body.strip_prefix('+').unwrap_or(body);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let allowed = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if !allowed || !(3..=20).contains(&digits) {
        return Err(Rejection::invalid(
            "contact_phone",
            Problem::NotAPhoneNumber,
        ));
    }
    Ok(())
}

/// A due time must fall in [`DUE_YEARS`].
pub fn check_due_at(at: OffsetDateTime) -> Result<(), Rejection> {
    if DUE_YEARS.contains(&at.year()) {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "due_at",
            Problem::YearOutOfRange { year: at.year() },
        ))
    }
}

/// Parse a due time as an agent or a client sends it: RFC 3339, or a local
/// `YYYY-MM-DDTHH:MM`, `YYYY-MM-DD HH:MM` (seconds optional) or `YYYY-MM-DD` (end of that
/// day) at `local` offset. Checked with [`check_due_at`].
pub fn parse_due_at(text: &str, local: UtcOffset) -> Result<OffsetDateTime, Rejection> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let text = text.trim();
    let not_a_time = || {
        Rejection::invalid(
            "due_at",
            Problem::NotATime {
                value: text.chars().take(40).collect(),
            },
        )
    };
    let at = if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        at
    } else {
        let normalized = text.replacen(' ', "T", 1);
        let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let day = format_description!("[year]-[month]-[day]");
        let local_time = time::PrimitiveDateTime::parse(&normalized, &minutes)
            .or_else(|_| time::PrimitiveDateTime::parse(&normalized, &seconds))
            .or_else(|_| {
                time::Date::parse(text, &day).map(|d| d.with_time(time::macros::time!(23:59)))
            })
            .map_err(|_| not_a_time())?;
        local_time.assume_offset(local)
    };
    check_due_at(at)?;
    Ok(at)
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
                // Empty title: a Create recorded before titles existed (still accepted).
                check_optional_text("title", &new.title, MAX_TITLE_CHARS)?;
                check_optional_text("description", &new.description, MAX_DESCRIPTION_CHARS)?;
                if let Some(phone) = &new.contact_phone {
                    check_phone(phone)?;
                }
                if let Some(at) = new.due_at {
                    check_due_at(at)?;
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
                if let Some(t) = &patch.title {
                    check_text("title", t, MAX_TITLE_CHARS)?;
                }
                if let Some(d) = &patch.description {
                    check_optional_text("description", d, MAX_DESCRIPTION_CHARS)?;
                }
                if let Some(Some(phone)) = &patch.contact_phone {
                    check_phone(phone)?;
                }
                if let Some(Some(at)) = patch.due_at {
                    check_due_at(at)?;
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
                title: "Router keeps rebooting".into(),
                description: "Since Monday.\nTwice a day.".into(),
                contact_phone: Some("+8613812345678".into()),
                due_at: Some(time::macros::datetime!(2026-12-01 09:30 +08:00)),
            }),
            MutationBody::SetFields(FieldPatch {
                priority: Some(Priority::Low),
                category: Some("y".into()),
                assignee: Some(None),
                title: Some("t".into()),
                description: Some(String::new()),
                contact_phone: Some(None),
                due_at: Some(None),
            }),
            MutationBody::SetFields(FieldPatch {
                contact_phone: Some(Some("010 1234 5678".into())),
                due_at: Some(Some(time::macros::datetime!(2026-12-01 01:30 UTC))),
                ..FieldPatch::default()
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

    /// Mutations and orders written before title, description, phone and due time existed
    /// must still read (they sit in outboxes and server databases).
    #[test]
    fn old_mutations_without_the_new_fields_still_read() {
        let old = r#"{"op":"create","team":"t1","kind":{"type":"callback"},"customer_id":"c1",
            "call_id":null,"category":"Billing","priority":"normal","assignee":null}"#;
        let body: MutationBody = serde_json::from_str(old).unwrap();
        let MutationBody::Create(new) = body else {
            panic!("not a create: {body:?}");
        };
        assert_eq!(new.category, "Billing");
        assert_eq!(new.title, "");
        assert_eq!(new.contact_phone, None);
        assert_eq!(new.due_at, None);
        let patch: FieldPatch = serde_json::from_str(r#"{"priority":"high"}"#).unwrap();
        assert_eq!(patch.due_at, None);
        assert_eq!(patch.contact_phone, None);
        assert!(!patch.is_empty());
    }

    #[test]
    fn due_at_patch_distinguishes_absent_null_and_value() {
        let null: FieldPatch = serde_json::from_str(r#"{"due_at":null}"#).unwrap();
        assert_eq!(null.due_at, Some(None));
        assert!(!null.is_empty());
        let set: FieldPatch =
            serde_json::from_str(r#"{"due_at":"2026-12-01T09:30:00+08:00"}"#).unwrap();
        assert_eq!(
            set.due_at,
            Some(Some(time::macros::datetime!(2026-12-01 01:30 UTC)))
        );
        assert!(serde_json::from_str::<FieldPatch>(r#"{"due_at":"tomorrow"}"#).is_err());
        let text = serde_json::to_string(&null).unwrap();
        assert_eq!(text, r#"{"due_at":null}"#);
    }

    #[test]
    fn due_times_parse_in_the_agents_offset_with_clear_errors() {
        let cst = UtcOffset::from_hms(8, 0, 0).unwrap();
        let want = time::macros::datetime!(2026-12-01 09:30 +08:00);
        assert_eq!(parse_due_at("2026-12-01T09:30", cst).unwrap(), want);
        assert_eq!(parse_due_at(" 2026-12-01 09:30 ", cst).unwrap(), want);
        assert_eq!(parse_due_at("2026-12-01T09:30:00", cst).unwrap(), want);
        assert_eq!(parse_due_at("2026-12-01T01:30:00Z", cst).unwrap(), want);
        assert_eq!(
            parse_due_at("2026-12-01", cst).unwrap(),
            time::macros::datetime!(2026-12-01 23:59 +08:00)
        );
        let err = parse_due_at("next tuesday", cst).unwrap_err();
        assert_eq!(
            err.message(),
            r#"due_at "next tuesday" is not a time (expected YYYY-MM-DD HH:MM or RFC 3339)"#
        );
        let err = parse_due_at("1926-12-01 09:30", cst).unwrap_err();
        assert_eq!(
            err.message(),
            "due_at is in the year 1926, expected 2000-2100"
        );
        assert!(parse_due_at("2026-13-01 09:30", cst).is_err());
    }

    #[test]
    fn new_fields_are_validated() {
        use crate::hlc::{Hlc, NodeId};
        use crate::model::{ClientId, OrderKind, WorkOrderId};
        let at = time::macros::datetime!(2026-11-30 10:00 UTC);
        let node = uuid::Uuid::now_v7();
        let base = Mutation {
            client_id: ClientId(node),
            mutation_id: 1,
            order_id: WorkOrderId::new_v7(at),
            stamp: Hlc::zero(NodeId(node)),
            base_version: 0,
            actor: Actor {
                user: "u".into(),
                tenant: "t".into(),
            },
            body: MutationBody::Create(NewWorkOrder {
                team: "t1".into(),
                kind: OrderKind::Repair,
                customer_id: "c1".into(),
                call_id: None,
                category: "network".into(),
                priority: Priority::Normal,
                assignee: None,
                title: "No dial tone".into(),
                description: String::new(),
                contact_phone: Some("+86 138-1234-5678".into()),
                due_at: Some(at),
            }),
        };
        assert_eq!(base.validate(), Ok(()));
        let with = |body: MutationBody| Mutation {
            body,
            ..base.clone()
        };
        let MutationBody::Create(new) = &base.body else {
            unreachable!()
        };
        let long_title = with(MutationBody::Create(NewWorkOrder {
            title: "x".repeat(MAX_TITLE_CHARS + 1),
            ..new.clone()
        }));
        assert_eq!(
            long_title.validate().unwrap_err().message(),
            "title is 201 characters long, at most 200 allowed"
        );
        let bad_phone = with(MutationBody::Create(NewWorkOrder {
            contact_phone: Some("call me maybe".into()),
            ..new.clone()
        }));
        assert_eq!(
            bad_phone.validate().unwrap_err(),
            Rejection::invalid("contact_phone", Problem::NotAPhoneNumber)
        );
        let bad_due = with(MutationBody::SetFields(FieldPatch {
            due_at: Some(Some(time::macros::datetime!(1970-01-01 00:00 UTC))),
            ..FieldPatch::default()
        }));
        assert_eq!(
            bad_due.validate().unwrap_err(),
            Rejection::invalid("due_at", Problem::YearOutOfRange { year: 1970 })
        );
        let empty_title = with(MutationBody::SetFields(FieldPatch {
            title: Some("  ".into()),
            ..FieldPatch::default()
        }));
        assert_eq!(
            empty_title.validate().unwrap_err(),
            Rejection::invalid("title", Problem::Empty)
        );
        let clear = with(MutationBody::SetFields(FieldPatch {
            description: Some(String::new()),
            contact_phone: Some(None),
            due_at: Some(None),
            ..FieldPatch::default()
        }));
        assert_eq!(clear.validate(), Ok(()));
    }
}
