//! Scenario tests for the apply/merge rules.
// Test crate: helpers outside #[test] fns may panic on broken fixtures too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seatline_work_orders::*;
use time::macros::datetime;
use time::Duration;

#[test]
fn create_sets_server_times_and_is_idempotent_by_order_id() {
    let now = datetime!(2026-09-14 10:00 +8);
    let m = create_mutation(OrderKind::Repair, stamp(1, 5, 0));
    let a = apply(None, &m, now).unwrap();
    assert_eq!(a.events, vec![OrderEvent::Created]);
    let o = &a.order;
    assert_eq!(
        (o.status, o.version, o.created_at, o.updated_at),
        (Status::New, 1, now, now)
    );
    assert_eq!(o.tenant, TENANT);
    assert_eq!(o.created_by, "agent-1");
    assert_eq!(o.field_stamps.priority.stamp, stamp(1, 5, 0));

    // The same Create re-sent (or re-queued under a new mutation id) changes nothing.
    let mut again = m.clone();
    again.mutation_id = 7;
    let b = apply(Some(o), &again, now + Duration::hours(1)).unwrap();
    assert_eq!(b.events, vec![OrderEvent::AlreadyCreated]);
    assert_eq!(&b.order, o);
    assert!(!b.changed(Some(o)));
}

#[test]
fn create_requires_a_uuid_v7_and_valid_fields() {
    let now = datetime!(2026-09-14 10:00 UTC);
    let mut m = create_mutation(OrderKind::Inquiry, stamp(1, 5, 0));
    m.order_id = WorkOrderId(uuid::Uuid::from_u128(
        0x1234_5678_9abc_4def_8000_0000_0000_0001,
    ));
    let r = apply(None, &m, now).unwrap_err();
    assert_eq!(
        r,
        Rejection::Invalid {
            field: "order_id".into(),
            problem: Problem::NotUuidV7
        }
    );

    let mut m = create_mutation(OrderKind::Inquiry, stamp(1, 5, 0));
    if let MutationBody::Create(n) = &mut m.body {
        n.category = "x".repeat(129);
    }
    let r = apply(None, &m, now).unwrap_err();
    assert_eq!(r.code(), "invalid");
    assert_eq!(
        r.message(),
        "category is 129 characters long, at most 128 allowed"
    );

    assert!(WorkOrderId::new_v7(now).is_v7());
}

#[test]
fn mutations_on_unknown_orders_and_other_tenants_are_rejected() {
    let now = datetime!(2026-09-14 10:00 UTC);
    let note = mutation(
        2,
        1,
        stamp(2, 9, 0),
        1,
        MutationBody::AddNote { text: "hi".into() },
    );
    let r = apply(None, &note, now).unwrap_err();
    assert_eq!(r.code(), "unknown_order");

    let order = created(OrderKind::Repair, now);
    let mut foreign = note.clone();
    foreign.actor.tenant = "globex".into();
    let r = apply(Some(&order), &foreign, now).unwrap_err();
    assert_eq!(r.code(), "wrong_tenant");
    assert_eq!(r.message(), "work order belongs to another tenant");
}

#[test]
fn notes_are_appended_with_server_time_and_deduplicated_by_mutation() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let order = created(OrderKind::Repair, t0);
    let m = mutation(
        2,
        8,
        stamp(2, 9, 0),
        1,
        MutationBody::AddNote {
            text: "called back".into(),
        },
    );
    let a = apply(Some(&order), &m, t0 + Duration::minutes(5)).unwrap();
    assert_eq!(a.order.notes.len(), 1);
    let n = &a.order.notes[0];
    assert_eq!(
        (n.author.as_str(), n.text.as_str()),
        ("agent-2", "called back")
    );
    assert_eq!(n.at, t0 + Duration::minutes(5));
    assert_eq!(a.order.version, 2);

    let b = apply(Some(&a.order), &m, t0 + Duration::minutes(9)).unwrap();
    assert_eq!(b.order, a.order);
    assert_eq!(
        b.events,
        vec![OrderEvent::DuplicateNote {
            origin: m.reference()
        }]
    );

    let empty = mutation(
        2,
        9,
        stamp(2, 10, 0),
        2,
        MutationBody::AddNote {
            text: "  \n".into(),
        },
    );
    let r = apply(Some(&a.order), &empty, t0).unwrap_err();
    assert_eq!(
        r,
        Rejection::Invalid {
            field: "text".into(),
            problem: Problem::Empty
        }
    );
    let long = mutation(
        2,
        10,
        stamp(2, 11, 0),
        2,
        MutationBody::AddNote {
            text: "字".repeat(8_001),
        },
    );
    assert_eq!(
        apply(Some(&a.order), &long, t0).unwrap_err().code(),
        "invalid"
    );
}

#[test]
fn status_walks_the_machine_and_closed_survives_a_stale_in_progress() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let mut o = created(OrderKind::Repair, t0);
    for to in [
        Status::InProgress,
        Status::WaitingOnCustomer,
        Status::InProgress,
        Status::Resolved,
    ] {
        o = set_status(&o, to, t0);
    }
    assert_eq!(o.resolved_at, Some(t0));
    o = set_status(&o, Status::Closed, t0 + Duration::hours(1));

    // Agent 2 was offline and set "in progress" (and "waiting") hours ago; it arrives now.
    let stale = mutation(
        2,
        3,
        stamp(2, 50, 0),
        2,
        MutationBody::ChangeStatus {
            to: Status::InProgress,
        },
    );
    let r = apply(Some(&o), &stale, t0 + Duration::hours(2)).unwrap_err();
    assert_eq!(
        r,
        Rejection::IllegalTransition {
            error: TransitionError {
                from: Status::Closed,
                to: Status::InProgress,
                reopen: false
            }
        }
    );
    assert_eq!(o.status, Status::Closed);

    // A same-status change is a harmless no-op.
    let same = mutation(
        2,
        4,
        stamp(2, 51, 0),
        2,
        MutationBody::ChangeStatus { to: Status::Closed },
    );
    let a = apply(Some(&o), &same, t0).unwrap();
    assert_eq!(a.order, o);
    assert_eq!(
        a.events,
        vec![OrderEvent::StatusUnchanged {
            status: Status::Closed
        }]
    );

    // Only an explicit reopen brings it back.
    let reopen = mutation(
        2,
        5,
        stamp(2, 52, 0),
        o.version,
        MutationBody::Reopen {
            reason: Some("customer called again".into()),
        },
    );
    let a = apply(Some(&o), &reopen, t0 + Duration::hours(3)).unwrap();
    assert_eq!(a.order.status, Status::InProgress);
    assert_eq!(a.order.resolved_at, None);
    let last = a.order.status_history.last().unwrap();
    assert!(last.reopen && last.from == Status::Closed);
    for s in &a.order.status_history {
        assert!(Status::is_legal_step(s.from, s.to, s.reopen));
    }
    // Reopening an open order is illegal.
    let again = mutation(
        2,
        6,
        stamp(2, 53, 0),
        a.order.version,
        MutationBody::Reopen { reason: None },
    );
    assert_eq!(
        apply(Some(&a.order), &again, t0).unwrap_err().code(),
        "illegal_transition"
    );
}

#[test]
fn first_reply_is_recorded_once_with_server_time() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(complaint(Complexity::Ordinary), t0);
    // The client's clock says hours earlier; irrelevant: the server time is recorded.
    let m = mutation(2, 1, stamp(2, 1, 0), 1, MutationBody::RecordFirstReply);
    let a = apply(Some(&o), &m, t0 + Duration::minutes(30)).unwrap();
    assert_eq!(a.order.first_reply_at, Some(t0 + Duration::minutes(30)));
    let m2 = mutation(2, 2, stamp(2, 2, 0), 2, MutationBody::RecordFirstReply);
    let b = apply(Some(&a.order), &m2, t0 + Duration::hours(5)).unwrap();
    assert_eq!(b.order.first_reply_at, Some(t0 + Duration::minutes(30)));
    assert_eq!(b.events, vec![OrderEvent::FirstReplyAlreadyRecorded]);
}

fn patch_priority(p: Priority) -> MutationBody {
    MutationBody::SetFields(FieldPatch {
        priority: Some(p),
        ..FieldPatch::default()
    })
}

#[test]
fn concurrent_field_writes_resolve_by_hlc_and_report_conflicts() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Repair, t0); // version 1, stamps (1, 1000, 0)

    // Agents 2 and 3 both edit priority offline from version 1; agent 3's stamp is later.
    let m2 = mutation(2, 1, stamp(2, 5_000, 0), 1, patch_priority(Priority::High));
    let m3 = mutation(
        3,
        1,
        stamp(3, 6_000, 0),
        1,
        patch_priority(Priority::Urgent),
    );

    // Order A: 2 then 3 — 3 overwrites 2's concurrent write.
    let a2 = apply(Some(&o), &m2, t0).unwrap();
    assert!(
        a2.conflicts.is_empty(),
        "overwriting the creator's value from base 1 is sequential"
    );
    let a3 = apply(Some(&a2.order), &m3, t0).unwrap();
    assert_eq!(a3.order.priority, Priority::Urgent);
    assert_eq!(
        a3.conflicts,
        vec![Conflict {
            order_id: o.id,
            field: Field::Priority,
            kept: FieldValue::Priority(Priority::Urgent),
            overwritten: FieldValue::Priority(Priority::High),
            winning: stamp(3, 6_000, 0),
            losing: stamp(2, 5_000, 0),
            mutation: m3.reference(),
            incoming_won: true,
        }]
    );

    // Order B: 3 then 2 — 2 loses and is reported, same final value.
    let b3 = apply(Some(&o), &m3, t0).unwrap();
    let b2 = apply(Some(&b3.order), &m2, t0).unwrap();
    assert_eq!(b2.order.priority, Priority::Urgent);
    assert_eq!(
        b2.order.field_stamps.priority.stamp,
        a3.order.field_stamps.priority.stamp
    );
    assert_eq!(b2.conflicts.len(), 1);
    let c = &b2.conflicts[0];
    assert!(!c.incoming_won);
    assert_eq!(
        (c.kept.clone(), c.overwritten.clone()),
        (
            FieldValue::Priority(Priority::Urgent),
            FieldValue::Priority(Priority::High)
        )
    );
    assert_eq!(
        b2.events,
        vec![OrderEvent::FieldWriteLost {
            field: Field::Priority
        }]
    );
    assert_eq!(
        b2.order.version, b3.order.version,
        "a lost write changes nothing"
    );
}

#[test]
fn equal_physical_and_logical_parts_tie_break_on_node_id() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Repair, t0);
    let low = mutation(2, 1, stamp(2, 5_000, 3), 1, patch_priority(Priority::Low));
    let high = mutation(9, 1, stamp(9, 5_000, 3), 1, patch_priority(Priority::High));
    let x = apply(Some(&apply(Some(&o), &low, t0).unwrap().order), &high, t0).unwrap();
    let y = apply(Some(&apply(Some(&o), &high, t0).unwrap().order), &low, t0).unwrap();
    assert_eq!(x.order.priority, Priority::High); // node 9 > node 2
    assert_eq!(y.order.priority, Priority::High);
}

#[test]
fn client_with_a_clock_hours_behind_still_wins_after_observing_server_stamps() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let hour = 3_600_000;
    let real = 1_789_000_000_000u64;
    // Agent 3's clock is 4 hours ahead and set the category.
    let o = created(OrderKind::Repair, t0);
    let fast = mutation(
        3,
        1,
        stamp(3, real + 4 * hour, 0),
        1,
        MutationBody::SetFields(FieldPatch {
            category: Some("fraud".into()),
            ..FieldPatch::default()
        }),
    );
    let o = apply(Some(&o), &fast, t0).unwrap().order;
    // Agent 2's clock is 3 hours behind; after pulling it observes the order's stamps.
    let mut clock = HlcClock::new(client(2).node());
    clock.observe(o.max_stamp(), real - 3 * hour);
    let st = clock.now(real - 3 * hour + 10);
    let edit = mutation(
        2,
        1,
        st,
        o.version,
        MutationBody::SetFields(FieldPatch {
            category: Some("billing".into()),
            ..FieldPatch::default()
        }),
    );
    let a = apply(Some(&o), &edit, t0).unwrap();
    assert_eq!(a.order.category, "billing");
    assert!(
        a.conflicts.is_empty(),
        "agent 2 had seen the value it replaced"
    );
}

#[test]
fn assignee_can_be_cleared_and_patches_must_change_something() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Callback, t0);
    let clear = mutation(
        2,
        1,
        stamp(2, 9_000, 0),
        1,
        MutationBody::SetFields(FieldPatch {
            assignee: Some(None),
            ..FieldPatch::default()
        }),
    );
    let a = apply(Some(&o), &clear, t0).unwrap();
    assert_eq!(a.order.assignee, None);
    assert_eq!(
        a.events,
        vec![OrderEvent::FieldChanged {
            field: Field::Assignee,
            from: FieldValue::Assignee(Some("agent-1".into())),
            to: FieldValue::Assignee(None)
        }]
    );
    let empty = mutation(
        2,
        2,
        stamp(2, 9_001, 0),
        2,
        MutationBody::SetFields(FieldPatch::default()),
    );
    assert_eq!(
        apply(Some(&a.order), &empty, t0).unwrap_err(),
        Rejection::Invalid {
            field: "fields".into(),
            problem: Problem::NothingToChange
        }
    );
}

#[test]
fn rebase_replays_pending_mutations_on_top_of_server_state() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let mut server = created(OrderKind::Repair, t0);
    server = set_status(&server, Status::InProgress, t0);
    server = set_status(&server, Status::Resolved, t0);
    server = set_status(&server, Status::Closed, t0);
    let pending = vec![
        mutation(
            2,
            4,
            stamp(2, 9_000, 0),
            2,
            MutationBody::AddNote {
                text: "left voicemail".into(),
            },
        ),
        mutation(
            2,
            5,
            stamp(2, 9_001, 0),
            2,
            MutationBody::ChangeStatus {
                to: Status::WaitingOnCustomer,
            },
        ),
        mutation(2, 6, stamp(2, 9_002, 0), 2, patch_priority(Priority::High)),
    ];
    let r = rebase(
        server.id,
        Some(server.clone()),
        &pending,
        t0 + Duration::hours(1),
    );
    let order = r.order.unwrap();
    assert_eq!(order.status, Status::Closed);
    assert_eq!(order.notes.len(), 1);
    assert_eq!(order.priority, Priority::High);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].0.mutation_id, 5);
    assert_eq!(r.rejected[0].1.code(), "illegal_transition");
}

#[test]
fn work_orders_and_mutations_round_trip_through_json() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(complaint(Complexity::Complex), t0);
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["kind"]["type"], "complaint");
    assert_eq!(json["kind"]["complexity"], "complex");
    assert_eq!(json["created_at"], "2026-09-14T10:00:00Z");
    assert_eq!(json["status"], "new");
    let back: WorkOrder = serde_json::from_value(json).unwrap();
    assert_eq!(back, o);
    let m = mutation(
        2,
        3,
        stamp(2, 1, 0),
        1,
        MutationBody::ChangeStatus {
            to: Status::InProgress,
        },
    );
    let mj = serde_json::to_value(&m).unwrap();
    assert_eq!(mj["body"]["op"], "change_status");
    assert_eq!(serde_json::from_value::<Mutation>(mj).unwrap(), m);
}

#[test]
fn applied_results_with_conflicts_and_events_round_trip_through_json() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Repair, t0);
    let m2 = mutation(2, 1, stamp(2, 5_000, 0), 1, patch_priority(Priority::High));
    let m3 = mutation(
        3,
        1,
        stamp(3, 6_000, 0),
        1,
        patch_priority(Priority::Urgent),
    );
    let a = apply(Some(&apply(Some(&o), &m2, t0).unwrap().order), &m3, t0).unwrap();
    assert_eq!(a.conflicts.len(), 1);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["events"][0]["event"], "field_changed");
    assert_eq!(
        json["conflicts"][0]["kept"],
        serde_json::json!({"field": "priority", "value": "urgent"})
    );
    let back: Applied = serde_json::from_value(json).unwrap();
    assert_eq!(back, a);
}

#[test]
fn create_carries_title_description_phone_and_due_time() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let due = datetime!(2026-09-15 09:30 +8);
    let mut new = new_order(OrderKind::Callback);
    new.title = "  Call back about the refund ".into();
    new.due_at = Some(due);
    let m = mutation(1, 1, stamp(1, 1_000, 0), 0, MutationBody::Create(new));
    let o = apply(None, &m, t0).unwrap().order;
    assert_eq!(o.title, "Call back about the refund", "trimmed");
    assert_eq!(o.description, "Customer says November was billed twice.");
    assert_eq!(o.contact_phone.as_deref(), Some("+8613812345678"));
    assert_eq!(o.due_at, Some(due));
    assert_eq!(o.category, "invoice", "the category stays a category");
    assert_eq!(o.field_stamps.due_at.stamp, stamp(1, 1_000, 0));
}

/// Two desktops edit the title and the due time of the same order offline: the later stamp
/// wins per field and the loser's value is kept in a conflict (shown to the agent).
#[test]
fn concurrent_title_and_due_time_edits_are_last_writer_wins_with_the_loser_reported() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Callback, t0);
    let early = datetime!(2026-09-15 09:00 UTC);
    let late = datetime!(2026-09-16 09:00 UTC);
    let edit = |title: &str, due| {
        MutationBody::SetFields(FieldPatch {
            title: Some(title.into()),
            due_at: Some(Some(due)),
            ..FieldPatch::default()
        })
    };
    let m2 = mutation(2, 1, stamp(2, 5_000, 0), 1, edit("Refund promised", early));
    let m3 = mutation(3, 1, stamp(3, 6_000, 0), 1, edit("Refund refused", late));
    for (first, second) in [(&m2, &m3), (&m3, &m2)] {
        let a = apply(Some(&o), first, t0).unwrap();
        let b = apply(Some(&a.order), second, t0).unwrap();
        assert_eq!(b.order.title, "Refund refused");
        assert_eq!(b.order.due_at, Some(late));
        let mut fields: Vec<_> = b
            .conflicts
            .iter()
            .map(|c| (c.field, c.kept.clone(), c.overwritten.clone()))
            .collect();
        fields.sort_by_key(|f| f.0.to_string());
        assert_eq!(
            fields,
            vec![
                (
                    Field::DueAt,
                    FieldValue::DueAt(Some(late)),
                    FieldValue::DueAt(Some(early))
                ),
                (
                    Field::Title,
                    FieldValue::Title("Refund refused".into()),
                    FieldValue::Title("Refund promised".into())
                ),
            ]
        );
    }
}

/// An order stored before the new fields existed reads with empty defaults, and the first
/// write to a new field wins without a conflict (nobody wrote it before).
#[test]
fn orders_stored_before_the_new_fields_read_and_accept_writes() {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let o = created(OrderKind::Repair, t0);
    let mut json = serde_json::to_value(&o).unwrap();
    let obj = json.as_object_mut().unwrap();
    for key in ["title", "description", "contact_phone", "due_at"] {
        obj.remove(key);
    }
    let stamps = obj["field_stamps"].as_object_mut().unwrap();
    for key in ["title", "description", "contact_phone", "due_at"] {
        stamps.remove(key);
    }
    let old: WorkOrder = serde_json::from_value(json).unwrap();
    assert_eq!(
        (old.title.as_str(), old.contact_phone.clone(), old.due_at),
        ("", None, None)
    );
    assert_eq!(old.notes, o.notes);
    let m = mutation(
        2,
        1,
        stamp(2, 500, 0), // even an earlier stamp than the creation's wins a never-written field
        0,
        MutationBody::SetFields(FieldPatch {
            contact_phone: Some(Some("+8613900000000".into())),
            ..FieldPatch::default()
        }),
    );
    let a = apply(Some(&old), &m, t0).unwrap();
    assert_eq!(a.order.contact_phone.as_deref(), Some("+8613900000000"));
    assert!(a.conflicts.is_empty());
}
