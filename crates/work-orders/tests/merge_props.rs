//! Property tests for the merge rules: convergence of last-writer-wins fields under any apply
//! order (with re-deliveries), no lost or duplicated notes, no illegal status sequence, and no
//! silently dropped field write.
// Test crate: helpers outside #[test] fns may panic on broken fixtures too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use proptest::prelude::*;
use seatline_work_orders::*;
use time::macros::datetime;
use time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Set(FieldPatch),
    Note(String),
    Status(Status),
    Reopen,
    FirstReply,
}

fn patch() -> impl Strategy<Value = FieldPatch> {
    let priority = prop::option::of(prop::sample::select(vec![
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ]));
    let category = prop::option::of(prop::sample::select(vec!["invoice", "fraud", "outage"]));
    let assignee = prop::option::of(prop::option::of(prop::sample::select(vec!["a1", "a2"])));
    let title = prop::option::of(prop::sample::select(vec!["No signal", "Refund"]));
    let phone = prop::option::of(prop::option::of(prop::sample::select(vec![
        "+8613800000001",
        "+8613800000002",
    ])));
    let due = prop::option::of(prop::option::of(prop::sample::select(vec![
        time::macros::datetime!(2026-12-01 09:00 UTC),
        time::macros::datetime!(2026-12-02 09:00 UTC),
    ])));
    (priority, category, assignee, title, phone, due)
        .prop_map(
            |(priority, category, assignee, title, phone, due)| FieldPatch {
                priority,
                category: category.map(str::to_owned),
                assignee: assignee.map(|a| a.map(str::to_owned)),
                title: title.map(str::to_owned),
                description: None,
                contact_phone: phone.map(|p| p.map(str::to_owned)),
                due_at: due,
            },
        )
        .prop_filter("non-empty patch", |p| !p.is_empty())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => patch().prop_map(Op::Set),
        2 => "[a-z ]{0,6}[a-z]".prop_map(Op::Note),
        3 => prop::sample::select(Status::ALL.to_vec()).prop_map(Op::Status),
        1 => Just(Op::Reopen),
        1 => Just(Op::FirstReply),
    ]
}

/// Mutations from clients 2..=5 with unique HLC stamps (random physical part, the index as the
/// logical part) and per-client increasing mutation ids.
fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec((2u8..=5, 0u64..50, 0u64..4, op()), 1..25).prop_map(|raw| {
        let mut next_id = [0u64; 6];
        raw.into_iter()
            .enumerate()
            .map(|(i, (c, physical, base, op))| {
                next_id[usize::from(c)] += 1;
                let body = match op {
                    Op::Set(p) => MutationBody::SetFields(p),
                    Op::Note(text) => MutationBody::AddNote { text },
                    Op::Status(to) => MutationBody::ChangeStatus { to },
                    Op::Reopen => MutationBody::Reopen { reason: None },
                    Op::FirstReply => MutationBody::RecordFirstReply,
                };
                let logical = u32::try_from(i).unwrap();
                mutation(
                    c,
                    next_id[usize::from(c)],
                    stamp(c, 2_000 + physical, logical),
                    base,
                    body,
                )
            })
            .collect()
    })
}

/// Apply in sequence from a fresh creation; rejections are collected, never dropped.
fn run(ms: &[Mutation]) -> (WorkOrder, Vec<(MutationRef, Rejection)>) {
    let t0 = datetime!(2026-09-14 10:00 UTC);
    let mut order = created(OrderKind::Repair, t0);
    let mut rejected = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        let now = t0 + Duration::seconds(i64::try_from(i).unwrap());
        match apply(Some(&order), m, now) {
            Ok(a) => order = a.order,
            Err(r) => rejected.push((m.reference(), r)),
        }
    }
    (order, rejected)
}

/// The value with the highest stamp among the creation and all patches.
fn oracle(ms: &[Mutation], field: Field) -> FieldValue {
    let create = create_mutation(OrderKind::Repair, stamp(1, 1_000, 0));
    let MutationBody::Create(new) = &create.body else {
        unreachable!()
    };
    let mut best = (
        create.stamp,
        match field {
            Field::Priority => FieldValue::Priority(new.priority),
            Field::Category => FieldValue::Category(new.category.clone()),
            Field::Assignee => FieldValue::Assignee(new.assignee.clone()),
            Field::Title => FieldValue::Title(new.title.clone()),
            Field::Description => FieldValue::Description(new.description.clone()),
            Field::ContactPhone => FieldValue::ContactPhone(new.contact_phone.clone()),
            Field::DueAt => FieldValue::DueAt(new.due_at),
        },
    );
    for m in ms {
        if let MutationBody::SetFields(p) = &m.body {
            let v = match field {
                Field::Priority => p.priority.map(FieldValue::Priority),
                Field::Category => p.category.clone().map(FieldValue::Category),
                Field::Assignee => p.assignee.clone().map(FieldValue::Assignee),
                Field::Title => p.title.clone().map(FieldValue::Title),
                Field::Description => p.description.clone().map(FieldValue::Description),
                Field::ContactPhone => p.contact_phone.clone().map(FieldValue::ContactPhone),
                Field::DueAt => p.due_at.map(FieldValue::DueAt),
            };
            if let Some(v) = v {
                if m.stamp > best.0 {
                    best = (m.stamp, v);
                }
            }
        }
    }
    best.1
}

fn note_origins(o: &WorkOrder) -> Vec<MutationRef> {
    o.notes.iter().map(|n| n.origin).collect()
}

/// The documented machine, written out independently of the implementation.
fn legal(from: Status, to: Status, reopen: bool) -> bool {
    use Status::*;
    if reopen {
        return matches!((from, to), (Resolved, InProgress) | (Closed, InProgress));
    }
    matches!(
        (from, to),
        (New, InProgress)
            | (InProgress, WaitingOnCustomer)
            | (WaitingOnCustomer, InProgress)
            | (InProgress, Resolved)
            | (Resolved, Closed)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_order_with_redeliveries_converges_on_scalars_and_keeps_every_note(
        (ms, shuffled, dup_idx) in mutations().prop_flat_map(|ms| {
            let n = ms.len();
            (Just(ms.clone()), Just(ms).prop_shuffle(), prop::collection::vec(0..n, 0..5))
        })
    ) {
        let mut with_dups = shuffled.clone();
        for i in dup_idx {
            with_dups.push(ms[i].clone()); // at-least-once transport re-delivers
        }
        let (a, _) = run(&ms);
        let (b, _) = run(&with_dups);
        for field in Field::ALL {
            prop_assert_eq!(a.field_value(field), b.field_value(field));
            prop_assert_eq!(a.field_value(field), oracle(&ms, field));
            prop_assert_eq!(a.field_stamps.get(field).stamp, b.field_stamps.get(field).stamp);
        }
        // Notes: never lost, never duplicated, whatever the order.
        let expected: BTreeSet<MutationRef> = ms
            .iter()
            .filter(|m| matches!(m.body, MutationBody::AddNote { .. }))
            .map(Mutation::reference)
            .collect();
        for o in [&a, &b] {
            let got = note_origins(o);
            let set: BTreeSet<MutationRef> = got.iter().copied().collect();
            prop_assert_eq!(got.len(), set.len());
            prop_assert_eq!(&set, &expected);
        }
    }

    #[test]
    fn status_history_is_always_a_legal_chain(ms in mutations()) {
        let (o, rejected) = run(&ms);
        let mut prev = Status::New;
        for step in &o.status_history {
            prop_assert_eq!(step.from, prev);
            prop_assert!(legal(step.from, step.to, step.reopen), "{:?}", step);
            prev = step.to;
        }
        prop_assert_eq!(prev, o.status);
        prop_assert_eq!(o.resolved_at.is_some(), o.status.is_finished());
        // Every rejection here is a reported illegal transition, nothing else.
        for (_, r) in &rejected {
            prop_assert_eq!(r.code(), "illegal_transition");
        }
    }

    #[test]
    fn no_field_write_is_dropped_silently(ms in mutations().prop_shuffle()) {
        let t0 = datetime!(2026-09-14 10:00 UTC);
        let mut order = created(OrderKind::Repair, t0);
        for m in &ms {
            let before = order.clone();
            let Ok(applied) = apply(Some(&order), m, t0) else { continue };
            if let MutationBody::SetFields(p) = &m.body {
                let incoming = [
                    p.priority.map(FieldValue::Priority),
                    p.category.clone().map(FieldValue::Category),
                    p.assignee.clone().map(FieldValue::Assignee),
                ];
                for v in incoming.into_iter().flatten() {
                    let field = v.field();
                    let now = applied.order.field_value(field);
                    if now != v {
                        // Lost: reported as a conflict naming the discarded value.
                        let reported = applied.conflicts.iter().any(|c| {
                            c.field == field && !c.incoming_won && c.overwritten == v && c.kept == now
                        });
                        prop_assert!(reported, "lost write of {:?} not reported", v);
                    } else if before.field_value(field) != v {
                        let meta = before.field_stamps.get(field);
                        let concurrent = meta.version > m.base_version && meta.stamp.node != m.stamp.node;
                        prop_assert_eq!(
                            concurrent,
                            applied.conflicts.iter().any(|c| c.field == field && c.incoming_won),
                        );
                    }
                }
            }
            order = applied.order;
            prop_assert!(order.version >= before.version);
        }
    }
}
