//! The store against the real domain rules, with the server's side played by the same
//! `apply` the server runs (sans-IO: no network here; the real-process fault test is separate).

use super::*;
use seatline_work_orders::{Complexity, OrderKind, Priority};
use std::collections::HashMap;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn actor(user: &str) -> Actor {
    Actor {
        user: user.into(),
        tenant: "acme".into(),
    }
}

fn complaint() -> NewWorkOrder {
    NewWorkOrder {
        team: "billing".into(),
        kind: OrderKind::Complaint {
            complexity: Complexity::Ordinary,
        },
        customer_id: "c-1".into(),
        call_id: Some("call-1".into()),
        category: "overcharge".into(),
        priority: Priority::Normal,
        assignee: Some("alice".into()),
        title: "Charged twice".into(),
        description: String::new(),
        contact_phone: Some("+8613800000001".into()),
        due_at: None,
    }
}

/// The server's side: per-client last mutation id and the orders, using the shared rules.
#[derive(Default)]
struct FakeServer {
    orders: HashMap<WorkOrderId, WorkOrder>,
    last: HashMap<ClientId, u64>,
}

impl FakeServer {
    fn push(&mut self, batch: &[Mutation], now: OffsetDateTime) -> PushAck {
        let mut rejected = vec![];
        for m in batch {
            let last = self.last.entry(m.client_id).or_default();
            if m.mutation_id <= *last {
                continue; // already applied: exactly-once by (client_id, mutation_id)
            }
            assert_eq!(m.mutation_id, *last + 1, "gap in the outbox order");
            *last = m.mutation_id;
            match apply(self.orders.get(&m.order_id), m, now) {
                Ok(applied) => {
                    self.orders.insert(m.order_id, applied.order);
                }
                Err(rejection) => rejected.push(RejectedMutation {
                    mutation_id: m.mutation_id,
                    rejection: rejection.report(),
                }),
            }
        }
        let client = batch.first().map(|m| m.client_id);
        PushAck {
            last_mutation_id: client.map_or(0, |c| self.last[&c]),
            rejected,
        }
    }

    fn pull(&self, client: ClientId, cursor: &str) -> PulledChanges {
        PulledChanges {
            orders: self.orders.values().cloned().collect(),
            conflicts: vec![],
            last_mutation_id: self.last.get(&client).copied().unwrap_or(0),
            cursor: cursor.into(),
            more: false,
        }
    }
}

async fn store(dir: &tempfile::TempDir, user: &str) -> LocalStore {
    LocalStore::open(&dir.path().join("orders.db"), actor(user), T0)
        .await
        .unwrap()
}

#[tokio::test]
async fn offline_actions_are_local_at_once_and_queued_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let created = s.create_order(complaint(), T0).await.unwrap();
    let id = created.order.id;
    s.add_note(id, "customer says the bill doubled".into(), T0)
        .await
        .unwrap();
    s.change_status(id, Status::InProgress, T0).await.unwrap();

    let order = s.order(id).await.unwrap().unwrap();
    assert_eq!(order.status, Status::InProgress);
    assert_eq!(order.notes.len(), 1);
    let pending = s.pending(100).await.unwrap();
    let ids: Vec<u64> = pending.iter().map(|m| m.mutation_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(pending.iter().all(|m| m.client_id == s.client_id()));
    assert!(pending.windows(2).all(|w| w[0].stamp < w[1].stamp));
    assert_eq!(s.counts().await.unwrap().pending, 3);
    assert_eq!(
        s.orders(&OrderFilter::AssignedTo {
            user: "alice".into()
        })
        .await
        .unwrap()
        .len(),
        1
    );
    assert!(s
        .orders(&OrderFilter::Team {
            team: "other".into()
        })
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_rule_breaking_action_is_refused_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    let err = s.change_status(id, Status::Closed, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    let err = s.add_note(id, "   ".into(), T0).await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert_eq!(s.counts().await.unwrap().pending, 1);
    assert_eq!(s.order(id).await.unwrap().unwrap().status, Status::New);
}

#[tokio::test]
async fn the_outbox_and_client_id_survive_a_reopen_and_ids_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let client = s.client_id();
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    // Dropped without close(): what was committed must still be there.
    drop(s);
    let s = store(&dir, "alice").await;
    assert_eq!(s.client_id(), client);
    assert_eq!(s.pending(10).await.unwrap().len(), 1);
    let next = s.add_note(id, "called back".into(), T0).await.unwrap();
    assert_eq!(next.mutation_id, 2);
}

#[tokio::test]
async fn push_ack_pull_converges_with_the_server_and_empties_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let mut server = FakeServer::default();
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    s.add_note(id, "first note".into(), T0).await.unwrap();

    let batch = s.pending(100).await.unwrap();
    // The response to the first push is lost; the client resends: no duplicated effect.
    let _lost = server.push(&batch, T0);
    let ack = server.push(&batch, T0);
    assert_eq!(ack.last_mutation_id, 2);
    s.acknowledge(&ack, T0).await.unwrap();
    s.apply_pull(&server.pull(s.client_id(), "c1"), T0)
        .await
        .unwrap();

    assert_eq!(s.counts().await.unwrap().pending, 0);
    assert_eq!(s.counts().await.unwrap().cursor.as_deref(), Some("c1"));
    let local = s.order(id).await.unwrap().unwrap();
    assert_eq!(&local, &server.orders[&id]);
    assert_eq!(local.notes.len(), 1);
}

#[tokio::test]
async fn pending_edits_are_rebased_on_concurrent_server_changes() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = store(&dir_a, "alice").await;
    let b = store(&dir_b, "bob").await;
    let mut server = FakeServer::default();
    let id = a.create_order(complaint(), T0).await.unwrap().order.id;
    let ack = server.push(&a.pending(100).await.unwrap(), T0);
    a.acknowledge(&ack, T0).await.unwrap();
    b.apply_pull(&server.pull(b.client_id(), "c1"), T0)
        .await
        .unwrap();

    // Both offline: alice adds a note, bob raises the priority.
    let later = T0 + time::Duration::minutes(5);
    a.add_note(id, "alice's note".into(), later).await.unwrap();
    b.set_fields(
        id,
        FieldPatch {
            priority: Some(Priority::Urgent),
            ..FieldPatch::default()
        },
        later,
    )
    .await
    .unwrap();
    // Bob syncs first; alice pulls before pushing: her note stays pending and visible.
    let ack = server.push(&b.pending(100).await.unwrap(), later);
    b.acknowledge(&ack, later).await.unwrap();
    a.apply_pull(&server.pull(a.client_id(), "c2"), later)
        .await
        .unwrap();
    let local = a.order(id).await.unwrap().unwrap();
    assert_eq!(local.priority, Priority::Urgent);
    assert_eq!(local.notes.len(), 1);
    assert_eq!(a.counts().await.unwrap().pending, 1);

    // After alice pushes and both pull, all three copies agree.
    let ack = server.push(&a.pending(100).await.unwrap(), later);
    a.acknowledge(&ack, later).await.unwrap();
    a.apply_pull(&server.pull(a.client_id(), "c3"), later)
        .await
        .unwrap();
    b.apply_pull(&server.pull(b.client_id(), "c3"), later)
        .await
        .unwrap();
    let server_copy = &server.orders[&id];
    assert_eq!(&a.order(id).await.unwrap().unwrap(), server_copy);
    assert_eq!(&b.order(id).await.unwrap().unwrap(), server_copy);
}

#[tokio::test]
async fn a_server_rejection_is_kept_for_the_agent_and_the_local_view_follows_the_server() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = store(&dir_a, "alice").await;
    let b = store(&dir_b, "bob").await;
    let mut server = FakeServer::default();
    let id = a.create_order(complaint(), T0).await.unwrap().order.id;
    a.change_status(id, Status::InProgress, T0).await.unwrap();
    let ack = server.push(&a.pending(100).await.unwrap(), T0);
    a.acknowledge(&ack, T0).await.unwrap();
    b.apply_pull(&server.pull(b.client_id(), "c1"), T0)
        .await
        .unwrap();

    // Bob resolves and closes; alice, offline, puts it back to waiting on the customer.
    b.change_status(id, Status::Resolved, T0).await.unwrap();
    b.change_status(id, Status::Closed, T0).await.unwrap();
    let ack = server.push(&b.pending(100).await.unwrap(), T0);
    b.acknowledge(&ack, T0).await.unwrap();
    a.change_status(id, Status::WaitingOnCustomer, T0)
        .await
        .unwrap();

    let ack = server.push(&a.pending(100).await.unwrap(), T0);
    assert_eq!(ack.rejected.len(), 1);
    a.acknowledge(&ack, T0).await.unwrap();
    a.apply_pull(&server.pull(a.client_id(), "c2"), T0)
        .await
        .unwrap();

    assert_eq!(a.order(id).await.unwrap().unwrap().status, Status::Closed);
    let problems = a.problems(true).await.unwrap();
    assert_eq!(problems.len(), 1);
    match &problems[0].detail {
        ProblemDetail::Rejected {
            mutation,
            rejection,
        } => {
            assert_eq!(rejection.code, "illegal_transition");
            assert_eq!(
                mutation.body,
                MutationBody::ChangeStatus {
                    to: Status::WaitingOnCustomer
                }
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Acknowledging the same answer again neither fails nor duplicates the problem.
    a.acknowledge(&ack, T0).await.unwrap();
    assert_eq!(a.problems(false).await.unwrap().len(), 1);
    a.mark_seen(problems[0].id).await.unwrap();
    assert!(a.problems(true).await.unwrap().is_empty());
    assert_eq!(a.counts().await.unwrap().unseen_problems, 0);
}

#[tokio::test]
async fn only_this_clients_conflicts_become_problems() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let mut server = FakeServer::default();
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    let ack = server.push(&s.pending(10).await.unwrap(), T0);
    s.acknowledge(&ack, T0).await.unwrap();
    let order = server.orders[&id].clone();
    let ours = order.max_stamp();
    let other = ClientId(Uuid::now_v7());
    let theirs = seatline_work_orders::Hlc {
        node: other.node(),
        ..ours
    };
    let conflict = |client_id: ClientId, losing, incoming_won| Conflict {
        order_id: id,
        field: seatline_work_orders::Field::Priority,
        kept: seatline_work_orders::FieldValue::Priority(Priority::High),
        overwritten: seatline_work_orders::FieldValue::Priority(Priority::Low),
        winning: theirs,
        losing,
        mutation: seatline_work_orders::MutationRef {
            client_id,
            mutation_id: 1,
        },
        incoming_won,
    };
    let changes = PulledChanges {
        orders: vec![order],
        conflicts: vec![
            // Our mutation lost.
            conflict(s.client_id(), ours, false),
            // Another client's write met a third one: none of ours.
            conflict(other, theirs, false),
            // Another client's write overwrote ours: we must see what we lost.
            conflict(other, ours, true),
        ],
        last_mutation_id: 1,
        cursor: "c9".into(),
        more: false,
    };
    s.apply_pull(&changes, T0).await.unwrap();
    let problems = s.problems(true).await.unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().all(|p| matches!(
        &p.detail,
        ProblemDetail::Conflict { conflict }
            if conflict.mutation.client_id == s.client_id() || conflict.losing.node == s.client_id().node()
    )));
    assert!(problems.iter().any(|p| matches!(
        &p.detail,
        ProblemDetail::Conflict { conflict } if conflict.incoming_won && conflict.mutation.client_id == other
    )));
}

#[tokio::test]
async fn a_damaged_row_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    s.create_order(complaint(), T0).await.unwrap();
    sqlx::query("UPDATE outbox SET body = '{not json'")
        .execute(&s.reader())
        .await
        .unwrap();
    let err = s.pending(10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("outbox mutation"), "{err}");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    sqlx::query("PRAGMA user_version = 99")
        .execute(&s.reader())
        .await
        .unwrap();
    s.close().await;
    let err = LocalStore::open(&dir.path().join("orders.db"), actor("alice"), T0)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn acknowledged_changes_stay_visible_until_the_pull_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let mut server = FakeServer::default();
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    s.add_note(id, "noted".into(), T0).await.unwrap();
    let ack = server.push(&s.pending(10).await.unwrap(), T0);
    s.acknowledge(&ack, T0).await.unwrap();
    // Sent and applied, not pulled yet: nothing left to send, and nothing vanished.
    assert!(s.pending(10).await.unwrap().is_empty());
    assert_eq!(s.counts().await.unwrap().pending, 0);
    assert_eq!(s.order(id).await.unwrap().unwrap().notes.len(), 1);
}

#[tokio::test]
async fn a_rejected_create_leaves_the_list_and_is_kept_as_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, "alice").await;
    let id = s.create_order(complaint(), T0).await.unwrap().order.id;
    let pending = s.pending(10).await.unwrap();
    // The server refuses it (say the agent lost access to the team).
    let ack = PushAck {
        last_mutation_id: pending[0].mutation_id,
        rejected: vec![RejectedMutation {
            mutation_id: pending[0].mutation_id,
            rejection: RejectionReport {
                code: "forbidden".into(),
                message: "not a member of team billing".into(),
            },
        }],
    };
    s.acknowledge(&ack, T0).await.unwrap();
    assert!(s.order(id).await.unwrap().is_none());
    let problems = s.problems(true).await.unwrap();
    assert!(matches!(
        &problems[0].detail,
        ProblemDetail::Rejected { mutation, .. } if matches!(mutation.body, MutationBody::Create(_))
    ));
}

/// What a full disk leaves the agent: the store opened for reading only shows the orders
/// without creating a file beside the database, and the first change once there is room again
/// reopens it for writing.
#[tokio::test]
async fn a_store_opened_for_reading_lists_orders_and_reopens_for_the_next_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.db");
    let s = store(&dir, "alice").await;
    let first = s.create_order(complaint(), T0).await.unwrap().order.id;
    let client_id = s.client_id();
    s.close().await;
    assert!(!dir.path().join("orders.db-wal").exists(), "closed cleanly");

    let (pool, read_client) = super::open_for_reading(&path).await.unwrap();
    assert_eq!(read_client, client_id);
    let reader = LocalStore {
        path: path.clone(),
        pool: std::sync::Mutex::new(pool),
        read_only: std::sync::atomic::AtomicBool::new(true),
        client_id,
        actor: actor("alice"),
    };
    assert!(reader.is_read_only());
    let listed = reader.orders(&OrderFilter::All).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.id).collect::<Vec<_>>(), [first]);
    assert_eq!(reader.counts().await.unwrap().pending, 1);
    for extra in ["orders.db-wal", "orders.db-shm"] {
        assert!(!dir.path().join(extra).exists(), "reading made {extra}");
    }

    // The disk has room: a change reopens the store for writing and lands in the outbox.
    let second = reader.create_order(complaint(), T0).await.unwrap().order.id;
    assert!(!reader.is_read_only());
    let pending = reader.pending(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|m| m.order_id).collect::<Vec<_>>(),
        [first, second]
    );
}

#[tokio::test]
async fn a_store_never_written_cannot_open_for_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.db");
    assert!(super::open_for_reading(&path).await.is_err());
    assert!(!path.exists(), "reading created the file");
}
