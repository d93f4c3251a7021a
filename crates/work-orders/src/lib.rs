//! Seatline work orders: the pure domain logic shared by the desktop's offline outbox and the
//! central server (sans-IO: no database, no clock reads; time is always passed in).
//!
//! - [`model`]: the work order and its parts.
//! - [`status`]: the status state machine.
//! - [`hlc`]: the hybrid logical clock that orders concurrent field writes.
//! - [`mutation`]: what the outbox carries, validation, and domain [`Rejection`]s.
//! - [`apply`](mod@apply): the merge rules (server apply, client rebase) and [`Conflict`] records.
//! - [`calendar`]: a tenant's working-day calendar.
//! - [`sla`]: complaint time limits from server timestamps.

pub mod apply;
pub mod calendar;
pub mod hlc;
pub mod model;
pub mod mutation;
pub mod sla;
pub mod status;

pub use apply::{apply, rebase, Applied, Conflict, OrderEvent, Rebased};
pub use calendar::{CalendarError, WorkCalendar};
pub use hlc::{Hlc, HlcClock, NodeId};
pub use model::{
    ClientId, Complexity, Field, FieldMeta, FieldStamps, FieldValue, MutationRef, Note, OrderKind,
    Priority, StatusChange, WorkOrder, WorkOrderId,
};
pub use mutation::{
    check_due_at, check_phone, parse_due_at, Actor, FieldPatch, Mutation, MutationBody,
    NewWorkOrder, Problem, Rejection, RejectionReport,
};
pub use sla::{
    due_state, due_times, sla_state, urgency, ClockReport, DueReport, DueSoon, DueTimes, SlaPolicy,
    SlaReport, SlaState, Urgency,
};
pub use status::{Status, TransitionError};
