//! The work order as stored on the server and mirrored on the client.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hlc::{Hlc, NodeId};
use crate::status::Status;

/// A work order's id: a UUIDv7 made on the client when the order is captured. It is also the
/// creation idempotency key (a second Create with the same id is a no-op).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkOrderId(pub Uuid);

impl WorkOrderId {
    /// A new UUIDv7 id whose time part is `at` (the caller's clock reading; random bits come from
    /// the OS). Sans-IO: no clock read here.
    pub fn new_v7(at: OffsetDateTime) -> Self {
        let nanos = at.unix_timestamp_nanos().max(0);
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(0);
        let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, secs, subsec);
        Self(Uuid::new_v7(ts))
    }

    /// Whether the id is a version-7 UUID.
    pub fn is_v7(&self) -> bool {
        self.0.get_version_num() == 7
    }
}

impl std::fmt::Display for WorkOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A client install (UUIDv7). Also used as that client's HLC node id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub Uuid);

impl ClientId {
    /// The HLC node id of this client.
    pub const fn node(self) -> NodeId {
        NodeId(self.0)
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies one mutation globally: `(client_id, mutation_id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MutationRef {
    pub client_id: ClientId,
    pub mutation_id: u64,
}

/// How hard a complaint is; decides its resolution time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    Ordinary,
    Complex,
}

/// What the order is about. Only complaints carry a complexity (and an SLA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    Complaint { complexity: Complexity },
    Repair,
    Inquiry,
    Callback,
}

impl OrderKind {
    /// The complaint's complexity, if this is a complaint.
    pub const fn complexity(self) -> Option<Complexity> {
        match self {
            OrderKind::Complaint { complexity } => Some(complexity),
            _ => None,
        }
    }
}

/// Priority, lowest first (the derived order is meaningful).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// A scalar field merged last-writer-wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Priority,
    Category,
    Assignee,
    Title,
    Description,
    ContactPhone,
    DueAt,
}

impl Field {
    /// Every last-writer-wins field.
    pub const ALL: [Field; 7] = [
        Field::Priority,
        Field::Category,
        Field::Assignee,
        Field::Title,
        Field::Description,
        Field::ContactPhone,
        Field::DueAt,
    ];
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Priority => "priority",
            Field::Category => "category",
            Field::Assignee => "assignee",
            Field::Title => "title",
            Field::Description => "description",
            Field::ContactPhone => "contact_phone",
            Field::DueAt => "due_at",
        })
    }
}

/// A value of one of the last-writer-wins fields (for conflicts and events).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "field", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    Priority(Priority),
    Category(String),
    /// `None` means unassigned.
    Assignee(Option<String>),
    Title(String),
    /// Empty means no description.
    Description(String),
    /// `None` means no number.
    ContactPhone(Option<String>),
    /// `None` means no due time.
    DueAt(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>),
}

impl FieldValue {
    /// Which field this value belongs to.
    pub const fn field(&self) -> Field {
        match self {
            FieldValue::Priority(_) => Field::Priority,
            FieldValue::Category(_) => Field::Category,
            FieldValue::Assignee(_) => Field::Assignee,
            FieldValue::Title(_) => Field::Title,
            FieldValue::Description(_) => Field::Description,
            FieldValue::ContactPhone(_) => Field::ContactPhone,
            FieldValue::DueAt(_) => Field::DueAt,
        }
    }
}

/// Who wrote a last-writer-wins field, and when. The default (a zero stamp at version 0) is
/// what orders stored before a field existed carry: any later write wins without a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldMeta {
    /// The winning write's HLC stamp.
    pub stamp: Hlc,
    /// The order version that write produced (to tell concurrent writes from sequential ones).
    pub version: u64,
}

impl Default for FieldMeta {
    fn default() -> Self {
        Self {
            stamp: Hlc::zero(NodeId(Uuid::nil())),
            version: 0,
        }
    }
}

/// Per-field write metadata for the last-writer-wins fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldStamps {
    pub priority: FieldMeta,
    pub category: FieldMeta,
    pub assignee: FieldMeta,
    #[serde(default)]
    pub title: FieldMeta,
    #[serde(default)]
    pub description: FieldMeta,
    #[serde(default)]
    pub contact_phone: FieldMeta,
    #[serde(default)]
    pub due_at: FieldMeta,
}

impl FieldStamps {
    /// All fields written by the same write.
    pub const fn all(meta: FieldMeta) -> Self {
        Self {
            priority: meta,
            category: meta,
            assignee: meta,
            title: meta,
            description: meta,
            contact_phone: meta,
            due_at: meta,
        }
    }

    /// The metadata of one field.
    pub const fn get(&self, field: Field) -> FieldMeta {
        match field {
            Field::Priority => self.priority,
            Field::Category => self.category,
            Field::Assignee => self.assignee,
            Field::Title => self.title,
            Field::Description => self.description,
            Field::ContactPhone => self.contact_phone,
            Field::DueAt => self.due_at,
        }
    }

    pub(crate) fn set(&mut self, field: Field, meta: FieldMeta) {
        match field {
            Field::Priority => self.priority = meta,
            Field::Category => self.category = meta,
            Field::Assignee => self.assignee = meta,
            Field::Title => self.title = meta,
            Field::Description => self.description = meta,
            Field::ContactPhone => self.contact_phone = meta,
            Field::DueAt => self.due_at = meta,
        }
    }
}

/// One note: append-only, stamped with server time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The mutation that added the note (de-duplication key).
    pub origin: MutationRef,
    /// The author's user id.
    pub author: String,
    /// Server time when the note was applied.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub text: String,
}

/// One step in the status history (server time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: Status,
    pub to: Status,
    /// Whether the step was an explicit reopen.
    pub reopen: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The user who made the change.
    pub by: String,
    pub origin: MutationRef,
}

/// A work order. All times are server times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: WorkOrderId,
    pub tenant: String,
    pub team: String,
    pub kind: OrderKind,
    pub customer_id: String,
    pub call_id: Option<String>,
    pub category: String,
    pub priority: Priority,
    /// The assigned agent's user id; `None` means unassigned.
    pub assignee: Option<String>,
    /// Short summary. Empty on orders stored before titles existed (they kept it in `category`).
    #[serde(default)]
    pub title: String,
    /// Free text; empty when none.
    #[serde(default)]
    pub description: String,
    /// The customer's number as dialled (E.164 when it could be normalized).
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// Callbacks: the promised callback time; other kinds: a due date the agent set.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    pub status: Status,
    /// Append-only.
    pub notes: Vec<Note>,
    /// Append-only; every step is legal (see [`Status::is_legal_step`]).
    pub status_history: Vec<StatusChange>,
    /// Last-writer-wins metadata for the scalar fields (see [`Field`]).
    pub field_stamps: FieldStamps,
    /// The user who created the order.
    pub created_by: String,
    /// The Create mutation.
    pub origin: MutationRef,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the first reply to the customer was recorded (server time).
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_reply_at: Option<OffsetDateTime>,
    /// When the order last became resolved; cleared by a reopen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// Incremented by every mutation that changes the order (1 after creation).
    pub version: u64,
}

impl WorkOrder {
    /// The value of one last-writer-wins field.
    pub fn field_value(&self, field: Field) -> FieldValue {
        match field {
            Field::Priority => FieldValue::Priority(self.priority),
            Field::Category => FieldValue::Category(self.category.clone()),
            Field::Assignee => FieldValue::Assignee(self.assignee.clone()),
            Field::Title => FieldValue::Title(self.title.clone()),
            Field::Description => FieldValue::Description(self.description.clone()),
            Field::ContactPhone => FieldValue::ContactPhone(self.contact_phone.clone()),
            Field::DueAt => FieldValue::DueAt(self.due_at),
        }
    }

    /// The highest HLC stamp stored in the order: a client must `observe` it after a pull so its
    /// later writes order after what it has seen.
    pub fn max_stamp(&self) -> Hlc {
        let s = &self.field_stamps;
        Field::ALL
            .iter()
            .map(|f| s.get(*f).stamp)
            .fold(s.priority.stamp, Hlc::max)
    }

    /// Whether the order has a note from this mutation.
    pub fn has_note_from(&self, origin: MutationRef) -> bool {
        self.notes.iter().any(|n| n.origin == origin)
    }

    pub(crate) fn set_field(&mut self, value: FieldValue) {
        match value {
            FieldValue::Priority(p) => self.priority = p,
            FieldValue::Category(c) => self.category = c,
            FieldValue::Assignee(a) => self.assignee = a,
            FieldValue::Title(t) => self.title = t,
            FieldValue::Description(d) => self.description = d,
            FieldValue::ContactPhone(p) => self.contact_phone = p,
            FieldValue::DueAt(d) => self.due_at = d,
        }
    }
}
