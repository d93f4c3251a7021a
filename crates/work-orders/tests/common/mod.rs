//! Builders shared by the integration tests.
#![allow(dead_code)]

use seatline_work_orders::*;
use time::OffsetDateTime;
use uuid::Uuid;

pub const TENANT: &str = "acme";

pub fn client(n: u8) -> ClientId {
    ClientId(Uuid::from_bytes([n; 16]))
}

/// A fixed UUIDv7 order id.
pub fn order_id() -> WorkOrderId {
    WorkOrderId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001))
}

pub fn stamp(client_n: u8, physical_ms: u64, logical: u32) -> Hlc {
    Hlc {
        physical_ms,
        logical,
        node: client(client_n).node(),
    }
}

pub fn mutation(
    client_n: u8,
    mutation_id: u64,
    st: Hlc,
    base_version: u64,
    body: MutationBody,
) -> Mutation {
    Mutation {
        client_id: client(client_n),
        mutation_id,
        order_id: order_id(),
        stamp: st,
        base_version,
        actor: Actor {
            user: format!("agent-{client_n}"),
            tenant: TENANT.to_owned(),
        },
        body,
    }
}

pub fn new_order(kind: OrderKind) -> NewWorkOrder {
    NewWorkOrder {
        team: "billing".to_owned(),
        kind,
        customer_id: "cust-42".to_owned(),
        call_id: Some("call-9".to_owned()),
        category: "invoice".to_owned(),
        priority: Priority::Normal,
        assignee: Some("agent-1".to_owned()),
        title: "Invoice charged twice".to_owned(),
        description: "Customer says November was billed twice.".to_owned(),
        contact_phone: Some("+8613812345678".to_owned()),
        due_at: None,
    }
}

pub fn create_mutation(kind: OrderKind, st: Hlc) -> Mutation {
    mutation(1, 1, st, 0, MutationBody::Create(new_order(kind)))
}

/// Create an order at server time `at` (client 1, mutation 1).
pub fn created(kind: OrderKind, at: OffsetDateTime) -> WorkOrder {
    apply(None, &create_mutation(kind, stamp(1, 1_000, 0)), at)
        .unwrap()
        .order
}

pub fn complaint(complexity: Complexity) -> OrderKind {
    OrderKind::Complaint { complexity }
}

/// Apply a status change as client 1 (fresh mutation id), panicking on rejection.
pub fn set_status(order: &WorkOrder, to: Status, at: OffsetDateTime) -> WorkOrder {
    let m = mutation(
        1,
        order.version + 100,
        stamp(1, 2_000, 0),
        order.version,
        MutationBody::ChangeStatus { to },
    );
    apply(Some(order), &m, at).unwrap().order
}
