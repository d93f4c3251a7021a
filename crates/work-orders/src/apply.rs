//! Applying a mutation to a work order: the merge rules shared by the server (authoritative
//! apply) and the client (rebasing still-pending mutations on top of pulled server state).
//!
//! - Create is idempotent by order id.
//! - Notes are append-only and de-duplicated by `(client_id, mutation_id)`.
//! - Status goes through the state machine; an illegal change is rejected (never dropped).
//! - Priority, category, assignee, title, description, contact phone and due time are
//!   last-writer-wins per field by HLC stamp (node id breaks
//!   ties); overwrites of, and losses to, a different concurrent value yield [`Conflict`]s.
//! - Time limits use `server_now` only (never the client's stamp).
//!
//! Authorization beyond the tenant check (team, assignee rights) is the server's job.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::hlc::Hlc;
use crate::model::{
    Field, FieldMeta, FieldStamps, FieldValue, MutationRef, Note, StatusChange, WorkOrder,
    WorkOrderId,
};
use crate::mutation::{FieldPatch, Mutation, MutationBody, NewWorkOrder, Rejection};
use crate::status::Status;

/// A last-writer-wins write that overwrote, or lost to, a different concurrent value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub order_id: WorkOrderId,
    pub field: Field,
    /// The value the order now has.
    pub kept: FieldValue,
    /// The value that was discarded.
    pub overwritten: FieldValue,
    pub winning: Hlc,
    pub losing: Hlc,
    /// The mutation being applied.
    pub mutation: MutationRef,
    /// Whether that mutation's write won (it overwrote a concurrent write) or lost.
    pub incoming_won: bool,
}

/// What applying a mutation did (for the server's event log and the client's UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OrderEvent {
    Created,
    /// A Create for an existing id: the idempotency key matched, nothing changed.
    AlreadyCreated,
    FieldChanged {
        field: Field,
        from: FieldValue,
        to: FieldValue,
    },
    /// The write carried the winning stamp but the same value (only the stamp moved).
    FieldRestamped {
        field: Field,
    },
    /// The write lost last-writer-wins (see the matching [`Conflict`] if values differed).
    FieldWriteLost {
        field: Field,
    },
    NoteAdded {
        origin: MutationRef,
    },
    DuplicateNote {
        origin: MutationRef,
    },
    StatusChanged {
        from: Status,
        to: Status,
    },
    /// The order already had the requested status.
    StatusUnchanged {
        status: Status,
    },
    Reopened {
        from: Status,
        reason: Option<String>,
    },
    FirstReplyRecorded {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    FirstReplyAlreadyRecorded,
}

/// The result of a successful apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub order: WorkOrder,
    pub conflicts: Vec<Conflict>,
    pub events: Vec<OrderEvent>,
}

impl Applied {
    /// Whether the order changed (its version moved).
    pub fn changed(&self, before: Option<&WorkOrder>) -> bool {
        before.is_none_or(|b| b.version != self.order.version)
    }
}

/// Apply one mutation to the stored order (`None` if no order with that id exists yet).
pub fn apply(
    order: Option<&WorkOrder>,
    mutation: &Mutation,
    server_now: OffsetDateTime,
) -> Result<Applied, Rejection> {
    mutation.validate()?;
    let Some(current) = order else {
        return match &mutation.body {
            MutationBody::Create(new) => Ok(create(new, mutation, server_now)),
            _ => Err(Rejection::UnknownOrder {
                order_id: mutation.order_id,
            }),
        };
    };
    if current.id != mutation.order_id {
        return Err(Rejection::OrderMismatch {
            mutation_order: mutation.order_id,
            stored_order: current.id,
        });
    }
    if current.tenant != mutation.actor.tenant {
        return Err(Rejection::WrongTenant {
            order_tenant: current.tenant.clone(),
            actor_tenant: mutation.actor.tenant.clone(),
        });
    }

    let mut next = current.clone();
    let new_version = current.version.saturating_add(1);
    let mut events = Vec::new();
    let mut conflicts = Vec::new();
    let origin = mutation.reference();

    match &mutation.body {
        MutationBody::Create(_) => events.push(OrderEvent::AlreadyCreated),
        MutationBody::SetFields(patch) => {
            for value in patch_values(patch) {
                merge_field(
                    &mut next,
                    value,
                    mutation,
                    new_version,
                    &mut events,
                    &mut conflicts,
                );
            }
        }
        MutationBody::AddNote { text } => {
            if next.has_note_from(origin) {
                events.push(OrderEvent::DuplicateNote { origin });
            } else {
                next.notes.push(Note {
                    origin,
                    author: mutation.actor.user.clone(),
                    at: server_now,
                    text: text.clone(),
                });
                events.push(OrderEvent::NoteAdded { origin });
            }
        }
        MutationBody::ChangeStatus { to } => {
            let from = next.status;
            if from == *to {
                events.push(OrderEvent::StatusUnchanged { status: from });
            } else {
                next.status = from.transition(*to)?;
                if next.status == Status::Resolved {
                    next.resolved_at = Some(server_now);
                }
                next.status_history.push(StatusChange {
                    from,
                    to: *to,
                    reopen: false,
                    at: server_now,
                    by: mutation.actor.user.clone(),
                    origin,
                });
                events.push(OrderEvent::StatusChanged { from, to: *to });
            }
        }
        MutationBody::Reopen { reason } => {
            let from = next.status;
            next.status = from.reopen()?;
            next.resolved_at = None;
            next.status_history.push(StatusChange {
                from,
                to: next.status,
                reopen: true,
                at: server_now,
                by: mutation.actor.user.clone(),
                origin,
            });
            events.push(OrderEvent::Reopened {
                from,
                reason: reason.clone(),
            });
        }
        MutationBody::RecordFirstReply => {
            if next.first_reply_at.is_some() {
                events.push(OrderEvent::FirstReplyAlreadyRecorded);
            } else {
                next.first_reply_at = Some(server_now);
                events.push(OrderEvent::FirstReplyRecorded { at: server_now });
            }
        }
    }

    if next != *current {
        next.version = new_version;
        next.updated_at = server_now;
    }
    Ok(Applied {
        order: next,
        conflicts,
        events,
    })
}

fn create(new: &NewWorkOrder, m: &Mutation, server_now: OffsetDateTime) -> Applied {
    let order = WorkOrder {
        id: m.order_id,
        tenant: m.actor.tenant.clone(),
        team: new.team.clone(),
        kind: new.kind,
        customer_id: new.customer_id.clone(),
        call_id: new.call_id.clone(),
        category: new.category.clone(),
        priority: new.priority,
        assignee: new.assignee.clone(),
        title: new.title.trim().to_owned(),
        description: new.description.clone(),
        contact_phone: new.contact_phone.clone(),
        due_at: new.due_at,
        status: Status::New,
        notes: Vec::new(),
        status_history: Vec::new(),
        field_stamps: FieldStamps::all(FieldMeta {
            stamp: m.stamp,
            version: 1,
        }),
        created_by: m.actor.user.clone(),
        origin: m.reference(),
        created_at: server_now,
        updated_at: server_now,
        first_reply_at: None,
        resolved_at: None,
        version: 1,
    };
    Applied {
        order,
        conflicts: Vec::new(),
        events: vec![OrderEvent::Created],
    }
}

fn patch_values(patch: &FieldPatch) -> Vec<FieldValue> {
    let mut values = Vec::with_capacity(7);
    if let Some(p) = patch.priority {
        values.push(FieldValue::Priority(p));
    }
    if let Some(c) = &patch.category {
        values.push(FieldValue::Category(c.clone()));
    }
    if let Some(a) = &patch.assignee {
        values.push(FieldValue::Assignee(a.clone()));
    }
    if let Some(t) = &patch.title {
        values.push(FieldValue::Title(t.trim().to_owned()));
    }
    if let Some(d) = &patch.description {
        values.push(FieldValue::Description(d.clone()));
    }
    if let Some(p) = &patch.contact_phone {
        values.push(FieldValue::ContactPhone(p.clone()));
    }
    if let Some(d) = patch.due_at {
        values.push(FieldValue::DueAt(d));
    }
    values
}

fn merge_field(
    order: &mut WorkOrder,
    incoming: FieldValue,
    m: &Mutation,
    new_version: u64,
    events: &mut Vec<OrderEvent>,
    conflicts: &mut Vec<Conflict>,
) {
    let field = incoming.field();
    let meta = order.field_stamps.get(field);
    let current = order.field_value(field);
    if m.stamp > meta.stamp {
        // The writer had not seen the current value (written after its base version, by
        // another node): a concurrent write is being overwritten.
        let concurrent = meta.version > m.base_version && meta.stamp.node != m.stamp.node;
        if current != incoming {
            if concurrent {
                conflicts.push(Conflict {
                    order_id: order.id,
                    field,
                    kept: incoming.clone(),
                    overwritten: current.clone(),
                    winning: m.stamp,
                    losing: meta.stamp,
                    mutation: m.reference(),
                    incoming_won: true,
                });
            }
            events.push(OrderEvent::FieldChanged {
                field,
                from: current,
                to: incoming.clone(),
            });
            order.set_field(incoming);
        } else {
            // Same value, newer stamp: keep the maximum stamp so the merge is order-independent.
            events.push(OrderEvent::FieldRestamped { field });
        }
        order.field_stamps.set(
            field,
            FieldMeta {
                stamp: m.stamp,
                version: new_version,
            },
        );
    } else if m.stamp < meta.stamp {
        events.push(OrderEvent::FieldWriteLost { field });
        if current != incoming {
            conflicts.push(Conflict {
                order_id: order.id,
                field,
                kept: current,
                overwritten: incoming,
                winning: meta.stamp,
                losing: m.stamp,
                mutation: m.reference(),
                incoming_won: false,
            });
        }
    }
    // Equal stamp: the very same write again (a re-delivery); nothing to do.
}

/// The client's rebase: pending mutations for `order_id`, re-applied in outbox order on top of
/// the pulled server state. Mutations for other orders are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    pub order: Option<WorkOrder>,
    /// Pending mutations that would be rejected on top of the new server state.
    pub rejected: Vec<(MutationRef, Rejection)>,
    pub conflicts: Vec<Conflict>,
}

/// Re-apply still-pending local mutations on top of the server's copy (`local_now` is only used
/// for the optimistic local times; the server re-stamps everything with its own time).
pub fn rebase(
    order_id: WorkOrderId,
    server: Option<WorkOrder>,
    pending: &[Mutation],
    local_now: OffsetDateTime,
) -> Rebased {
    let mut order = server;
    let mut rejected = Vec::new();
    let mut conflicts = Vec::new();
    for m in pending.iter().filter(|m| m.order_id == order_id) {
        match apply(order.as_ref(), m, local_now) {
            Ok(applied) => {
                conflicts.extend(applied.conflicts);
                order = Some(applied.order);
            }
            Err(r) => rejected.push((m.reference(), r)),
        }
    }
    Rebased {
        order,
        rejected,
        conflicts,
    }
}
