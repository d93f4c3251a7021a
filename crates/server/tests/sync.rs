//! Work-order sync over HTTP: push/pull/ack semantics, authorization, conflicts, SLA views and
//! long polls, each test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::{world, Client, Kind, TestServer, World, PASSWORD};
use reqwest::StatusCode;
use seatline_server::api::AppState;
use seatline_server::clock::ServerClock;
use seatline_server::live::ChangeHub;
use seatline_sync_protocol::{PulledChanges, PushAck, PushRequest};
use seatline_work_orders::{
    Actor, ClientId, Complexity, FieldPatch, FieldValue, Hlc, Mutation, MutationBody, NewWorkOrder,
    OrderKind, Priority, Status, WorkOrder, WorkOrderId,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

both_backends!(
    create_edit_note_status_then_pull,
    resending_a_batch_applies_nothing_twice,
    a_gap_is_answered_with_the_last_id,
    rejections_advance_the_queue_and_are_reported_again,
    agents_are_confined_to_their_teams,
    tenants_see_nothing_of_each_other,
    concurrent_edits_record_a_conflict_for_both_clients,
    pull_pages_and_server_time,
    overdue_view_uses_server_time_and_the_tenant_policy,
    due_times_drive_the_due_views_and_search_finds_title_and_phone,
    long_poll_wakes_on_a_push_and_times_out,
    push_limits_and_bad_requests,
);

/// Tenant alpha with teams X and Y, agent ann in X, agent bob in Y, supervisor sue in X.
struct Org {
    w: World,
    tenant_a: String,
    team_x: String,
    team_y: String,
    ann_id: String,
    ann: String,
    bob_id: String,
    bob: String,
    sue: String,
}

async fn create_team(api: &Client, admin: &str, name: &str) -> String {
    let (status, body) = api
        .post("/api/v1/teams", Some(admin), json!({ "name": name }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn member(api: &Client, admin: &str, name: &str, role: &str, team: &str) -> (String, String) {
    let (status, body) = api
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": name, "password": PASSWORD, "role": role, "team_ids": [team]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    (id, api.login("alpha", name, PASSWORD).await)
}

async fn org(kind: Kind) -> Org {
    org_with(world(kind).await).await
}

async fn org_with(w: World) -> Org {
    let team_x = create_team(&w.api, &w.admin_a, "x").await;
    let team_y = create_team(&w.api, &w.admin_a, "y").await;
    let (ann_id, ann) = member(&w.api, &w.admin_a, "ann", "agent", &team_x).await;
    let (bob_id, bob) = member(&w.api, &w.admin_a, "bob", "agent", &team_y).await;
    let (_, sue) = member(&w.api, &w.admin_a, "sue", "supervisor", &team_x).await;
    let (_, me) = w.api.get("/api/v1/me", Some(&w.admin_a)).await;
    let tenant_a = me["user"]["tenant_id"].as_str().unwrap().to_owned();
    Org {
        w,
        tenant_a,
        team_x,
        team_y,
        ann_id,
        ann,
        bob_id,
        bob,
        sue,
    }
}

/// A simulated desktop: its client id and outbox counter.
struct Desk {
    client: ClientId,
    next: Cell<u64>,
    token: String,
}

fn now_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}

impl Desk {
    fn new(token: &str) -> Desk {
        Desk {
            client: ClientId(uuid::Uuid::now_v7()),
            next: Cell::new(0),
            token: token.to_owned(),
        }
    }

    /// The next mutation, stamped at `physical_ms`. The payload's actor is a lie on purpose:
    /// the server must use the session.
    fn at(&self, physical_ms: u64, order: WorkOrderId, base: u64, body: MutationBody) -> Mutation {
        self.next.set(self.next.get() + 1);
        Mutation {
            client_id: self.client,
            mutation_id: self.next.get(),
            order_id: order,
            stamp: Hlc {
                physical_ms,
                logical: 0,
                node: self.client.node(),
            },
            base_version: base,
            actor: Actor {
                user: "mallory".into(),
                tenant: "beta".into(),
            },
            body,
        }
    }

    fn m(&self, order: WorkOrderId, base: u64, body: MutationBody) -> Mutation {
        self.at(now_ms() + self.next.get(), order, base, body)
    }

    fn request(&self, mutations: &[Mutation]) -> Value {
        serde_json::to_value(PushRequest {
            client_id: self.client,
            mutations: mutations.to_vec(),
        })
        .unwrap()
    }

    async fn push_raw(&self, api: &Client, mutations: &[Mutation]) -> (StatusCode, Value) {
        api.post(
            "/api/v1/sync/push",
            Some(&self.token),
            self.request(mutations),
        )
        .await
    }

    async fn push(&self, api: &Client, mutations: &[Mutation]) -> PushAck {
        let (status, body) = self.push_raw(api, mutations).await;
        assert_eq!(status, StatusCode::OK, "push: {body}");
        serde_json::from_value(body).unwrap()
    }

    async fn pull_raw(&self, api: &Client, cursor: &str, limit: u32) -> (StatusCode, Value) {
        api.get(
            &format!(
                "/api/v1/sync/pull?client_id={}&cursor={cursor}&limit={limit}",
                self.client
            ),
            Some(&self.token),
        )
        .await
    }

    async fn pull(&self, api: &Client, cursor: &str) -> PulledChanges {
        let (status, body) = self.pull_raw(api, cursor, 500).await;
        assert_eq!(status, StatusCode::OK, "pull: {body}");
        serde_json::from_value(body).unwrap()
    }
}

fn new_id() -> WorkOrderId {
    WorkOrderId::new_v7(OffsetDateTime::now_utc())
}

fn new_order(team: &str, kind: OrderKind, assignee: Option<&str>) -> MutationBody {
    MutationBody::Create(NewWorkOrder {
        team: team.to_owned(),
        kind,
        customer_id: "cust-1".into(),
        call_id: Some("call-1".into()),
        category: "billing".into(),
        priority: Priority::Normal,
        assignee: assignee.map(str::to_owned),
        title: "Bill doubled".into(),
        description: String::new(),
        contact_phone: Some("+8613800000001".into()),
        due_at: None,
    })
}

fn complaint(team: &str, assignee: Option<&str>) -> MutationBody {
    new_order(
        team,
        OrderKind::Complaint {
            complexity: Complexity::Ordinary,
        },
        assignee,
    )
}

fn note(text: &str) -> MutationBody {
    MutationBody::AddNote { text: text.into() }
}

fn status(to: Status) -> MutationBody {
    MutationBody::ChangeStatus { to }
}

fn priority(p: Priority) -> MutationBody {
    MutationBody::SetFields(FieldPatch {
        priority: Some(p),
        ..FieldPatch::default()
    })
}

async fn count(w: &World, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(w.db.store.pool())
        .await
        .unwrap()
}

fn order(pull: &PulledChanges, id: WorkOrderId) -> Option<&WorkOrder> {
    pull.orders.iter().find(|o| o.id == id)
}

async fn create_edit_note_status_then_pull(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    let batch = vec![
        ann.m(id, 0, complaint(&o.team_x, Some(&o.ann_id))),
        ann.m(
            id,
            1,
            MutationBody::SetFields(FieldPatch {
                priority: Some(Priority::High),
                category: Some("refund".into()),
                ..FieldPatch::default()
            }),
        ),
        ann.m(id, 2, note("customer says the bill doubled")),
        ann.m(id, 3, status(Status::InProgress)),
        ann.m(id, 4, MutationBody::RecordFirstReply),
        ann.m(id, 5, status(Status::Resolved)),
    ];
    let ack = ann.push(api, &batch).await;
    assert_eq!(ack.last_mutation_id, 6);
    assert!(ack.rejected.is_empty(), "{ack:?}");

    let pulled = ann.pull(api, "0").await;
    assert_eq!(pulled.last_mutation_id, 6);
    assert!(!pulled.more);
    assert!(pulled.conflicts.is_empty());
    let got = order(&pulled, id).expect("the order is pulled");
    assert_eq!(got.tenant, o.tenant_a, "tenant comes from the session");
    assert_eq!(got.created_by, o.ann_id, "actor comes from the session");
    assert_eq!(got.team, o.team_x);
    assert_eq!(got.priority, Priority::High);
    assert_eq!(got.category, "refund");
    assert_eq!(got.status, Status::Resolved);
    assert_eq!(got.notes.len(), 1);
    assert_eq!(got.notes[0].author, o.ann_id);
    assert_eq!(got.status_history.len(), 2);
    assert!(got.first_reply_at.is_some() && got.resolved_at.is_some());
    assert_eq!(got.version, 6);

    // Nothing new after the returned cursor; a later change shows up once.
    let again = ann.pull(api, &pulled.cursor).await;
    assert!(again.orders.is_empty());
    assert_eq!(again.cursor, pulled.cursor);
    let ack = ann.push(api, &[ann.m(id, 6, status(Status::Closed))]).await;
    assert_eq!(ack.last_mutation_id, 7);
    let next = ann.pull(api, &pulled.cursor).await;
    assert_eq!(next.orders.len(), 1);
    assert_eq!(next.orders[0].status, Status::Closed);
    assert!(next.cursor.parse::<i64>().unwrap() > pulled.cursor.parse::<i64>().unwrap());

    // Stored columns follow the body; the log has every mutation once.
    let row: (String, String, i64) =
        sqlx::query_as("SELECT status, kind, version FROM work_orders WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(o.w.db.store.pool())
            .await
            .unwrap();
    assert_eq!(row, ("closed".to_owned(), "complaint".to_owned(), 7));
    assert_eq!(
        count(
            &o.w,
            "SELECT COUNT(*) FROM mutation_log WHERE outcome = 'applied'"
        )
        .await,
        7
    );

    // The team list shows it with its SLA state; admins see it too.
    let (st, list) = api.get("/api/v1/work-orders?view=team", Some(&o.ann)).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["sla"]["first_reply"]["state"], "met");
    let (_, mine) = api.get("/api/v1/work-orders?view=mine", Some(&o.ann)).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, admin) = api
        .get("/api/v1/work-orders?view=team", Some(&o.w.admin_a))
        .await;
    assert_eq!(admin["items"].as_array().unwrap().len(), 1);
    let (_, admin_mine) = api
        .get("/api/v1/work-orders?view=mine", Some(&o.w.admin_a))
        .await;
    assert!(admin_mine["items"].as_array().unwrap().is_empty());
}

async fn resending_a_batch_applies_nothing_twice(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    let batch = vec![
        ann.m(id, 0, complaint(&o.team_x, None)),
        ann.m(id, 1, note("one")),
        ann.m(id, 2, note("two")),
    ];
    let first = ann.push(api, &batch).await;
    // The response was lost: the same batch again, twice at once.
    let (second, third) = tokio::join!(ann.push(api, &batch), ann.push(api, &batch));
    assert_eq!(first.last_mutation_id, 3);
    assert_eq!(second, first);
    assert_eq!(third, first);
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM mutation_log").await, 3);
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM work_orders").await, 1);
    let pulled = ann.pull(api, "").await;
    let got = order(&pulled, id).unwrap();
    assert_eq!(got.notes.len(), 2);
    assert_eq!(got.version, 3);

    // Concurrent first deliveries of a new batch: still exactly once.
    let more = vec![ann.m(id, 3, note("three")), ann.m(id, 4, note("four"))];
    let (a, b) = tokio::join!(ann.push(api, &more), ann.push(api, &more));
    assert_eq!((a.last_mutation_id, b.last_mutation_id), (5, 5));
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM mutation_log").await, 5);
    let got = ann.pull(api, "").await.orders.remove(0);
    let texts: Vec<&str> = got.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three", "four"]);
}

async fn a_gap_is_answered_with_the_last_id(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    let m1 = ann.m(id, 0, complaint(&o.team_x, None));
    let m2 = ann.m(id, 1, note("two"));
    let m3 = ann.m(id, 2, note("three"));
    let m4 = ann.m(id, 3, note("four"));
    assert_eq!(
        ann.push(api, std::slice::from_ref(&m1))
            .await
            .last_mutation_id,
        1
    );
    // m2 got lost: 3 and 4 must wait.
    let ack = ann.push(api, &[m3.clone(), m4.clone()]).await;
    assert_eq!(ack.last_mutation_id, 1);
    assert!(ack.rejected.is_empty());
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM mutation_log").await, 1);
    assert!(order(&ann.pull(api, "").await, id)
        .unwrap()
        .notes
        .is_empty());
    // The client resends from last + 1.
    let ack = ann.push(api, &[m1, m2, m3, m4]).await;
    assert_eq!(ack.last_mutation_id, 4);
    let pulled = ann.pull(api, "").await;
    assert_eq!(pulled.last_mutation_id, 4);
    assert_eq!(order(&pulled, id).unwrap().notes.len(), 3);
}

async fn rejections_advance_the_queue_and_are_reported_again(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    let elsewhere = new_id();
    let batch = vec![
        ann.m(id, 0, complaint(&o.team_x, None)),
        ann.m(id, 1, status(Status::Closed)),
        ann.m(elsewhere, 0, complaint(&o.team_y, None)),
        ann.m(id, 1, note("still flowing")),
    ];
    let ack = ann.push(api, &batch).await;
    assert_eq!(ack.last_mutation_id, 4, "rejections advance the queue");
    let codes: Vec<(u64, &str)> = ack
        .rejected
        .iter()
        .map(|r| (r.mutation_id, r.rejection.code.as_str()))
        .collect();
    assert_eq!(codes, [(2, "illegal_transition"), (3, "forbidden")]);
    assert!(ack.rejected[1].rejection.message.contains(&o.team_y));

    // The answer was lost: the resend reports the same rejections, applies nothing.
    let again = ann.push(api, &batch).await;
    assert_eq!(again, ack);
    assert_eq!(
        count(
            &o.w,
            "SELECT COUNT(*) FROM mutation_log WHERE outcome = 'rejected'"
        )
        .await,
        2
    );
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM mutation_log").await, 4);
    let pulled = ann.pull(api, "").await;
    assert_eq!(
        pulled.orders.len(),
        1,
        "the forbidden order was not created"
    );
    let got = order(&pulled, id).unwrap();
    assert_eq!(got.status, Status::New);
    assert_eq!(got.notes.len(), 1);

    // An unknown team and an assignee from nowhere are rejected too, not errors.
    let ack = ann
        .push(
            api,
            &[
                ann.m(new_id(), 0, complaint("no-such-team", None)),
                ann.m(id, 2, {
                    MutationBody::SetFields(FieldPatch {
                        assignee: Some(Some("ghost".into())),
                        ..FieldPatch::default()
                    })
                }),
                ann.m(new_id(), 0, note("no such order")),
            ],
        )
        .await;
    assert_eq!(ack.last_mutation_id, 7);
    let codes: Vec<&str> = ack
        .rejected
        .iter()
        .map(|r| r.rejection.code.as_str())
        .collect();
    assert_eq!(codes, ["invalid", "invalid", "unknown_order"]);
}

async fn agents_are_confined_to_their_teams(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let bob = Desk::new(&o.bob);
    let ann = Desk::new(&o.ann);
    let y_order = new_id();
    let ack = bob
        .push(
            api,
            &[bob.m(y_order, 0, complaint(&o.team_y, Some(&o.bob_id)))],
        )
        .await;
    assert!(ack.rejected.is_empty());

    // Ann (team X) cannot change it...
    let ack = ann
        .push(
            api,
            &[
                ann.m(y_order, 1, note("sneaky")),
                ann.m(y_order, 1, priority(Priority::Urgent)),
            ],
        )
        .await;
    assert_eq!(ack.last_mutation_id, 2);
    assert!(ack.rejected.iter().all(|r| r.rejection.code == "forbidden"));
    assert_eq!(ack.rejected.len(), 2);
    // ...nor pull or list it.
    let pulled = ann.pull(api, "").await;
    assert!(pulled.orders.is_empty());
    let (_, list) = api.get("/api/v1/work-orders?view=team", Some(&o.ann)).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    // The supervisor of X does not see Y either; bob and the admin see it unchanged.
    let sue = Desk::new(&o.sue);
    assert!(sue.pull(api, "").await.orders.is_empty());
    let theirs = bob.pull(api, "").await;
    assert_eq!(theirs.orders.len(), 1);
    assert!(theirs.orders[0].notes.is_empty());
    assert_eq!(theirs.orders[0].priority, Priority::Normal);
    let admin = Desk::new(&o.w.admin_a);
    assert_eq!(admin.pull(api, "").await.orders.len(), 1);

    // Assigning ann makes it hers to see and work on.
    let ack = bob
        .push(
            api,
            &[bob.m(
                y_order,
                1,
                MutationBody::SetFields(FieldPatch {
                    assignee: Some(Some(o.ann_id.clone())),
                    ..FieldPatch::default()
                }),
            )],
        )
        .await;
    assert!(ack.rejected.is_empty());
    let ack = ann.push(api, &[ann.m(y_order, 2, note("on it"))]).await;
    assert!(ack.rejected.is_empty(), "{ack:?}");
    assert_eq!(ann.pull(api, "").await.orders[0].notes.len(), 1);

    // A client id belongs to one user.
    let stolen = Desk {
        client: ann.client,
        next: Cell::new(0),
        token: o.bob.clone(),
    };
    let (st, body) = stolen.push_raw(api, &[]).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    let (st, _) = stolen.pull_raw(api, "", 10).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn tenants_see_nothing_of_each_other(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    ann.push(api, &[ann.m(id, 0, complaint(&o.team_x, None))])
        .await;

    let beta = Desk::new(&o.w.admin_b);
    let pulled = beta.pull(api, "").await;
    assert!(pulled.orders.is_empty());
    assert_eq!(pulled.cursor, "0", "beta's clock is its own");
    let ack = beta
        .push(
            api,
            &[
                beta.m(id, 1, note("from beta")),
                beta.m(id, 0, complaint(&o.team_x, None)),
            ],
        )
        .await;
    let codes: Vec<&str> = ack
        .rejected
        .iter()
        .map(|r| r.rejection.code.as_str())
        .collect();
    assert_eq!(codes, ["forbidden", "forbidden"]);
    for view in ["mine", "team", "overdue"] {
        let (st, list) = api
            .get(
                &format!("/api/v1/work-orders?view={view}"),
                Some(&o.w.admin_b),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(list["items"].as_array().unwrap().is_empty(), "{view}");
    }
    let got = ann.pull(api, "").await.orders.remove(0);
    assert!(got.notes.is_empty());
    assert_eq!(got.version, 1);
    // Beta's client id cannot be used by alpha's users either.
    let (st, _) = api
        .get(
            &format!("/api/v1/sync/pull?client_id={}", beta.client),
            Some(&o.ann),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn concurrent_edits_record_a_conflict_for_both_clients(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let sue = Desk::new(&o.sue);
    let id = new_id();
    let t = now_ms();
    ann.push(api, &[ann.at(t, id, 0, complaint(&o.team_x, None))])
        .await;
    let base = sue.pull(api, "").await;
    assert_eq!(order(&base, id).unwrap().version, 1);

    // Both offline on version 1: ann sets urgent (earlier stamp), sue sets low (later stamp).
    let ann_edit = ann.at(t + 10, id, 1, priority(Priority::Urgent));
    let sue_edit = sue.at(t + 20, id, 1, priority(Priority::Low));
    assert!(sue.push(api, &[sue_edit]).await.rejected.is_empty());
    assert!(ann.push(api, &[ann_edit]).await.rejected.is_empty());

    let for_ann = ann.pull(api, &base.cursor).await;
    assert_eq!(order(&for_ann, id).unwrap().priority, Priority::Low);
    assert_eq!(for_ann.conflicts.len(), 1);
    let c = &for_ann.conflicts[0];
    assert_eq!(
        c.mutation.client_id, ann.client,
        "the losing client's mutation"
    );
    assert_eq!(c.mutation.mutation_id, 2);
    assert!(!c.incoming_won);
    assert_eq!(c.kept, FieldValue::Priority(Priority::Low));
    assert_eq!(c.overwritten, FieldValue::Priority(Priority::Urgent));
    // The winner's client gets the same record on its pull (its outbox filters by client).
    let for_sue = sue.pull(api, &base.cursor).await;
    assert_eq!(for_sue.conflicts, for_ann.conflicts);
    // Delivered once: the next pull has none.
    assert!(ann.pull(api, &for_ann.cursor).await.conflicts.is_empty());
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM conflicts").await, 1);
    // Bob (team Y) gets neither the order nor its conflicts.
    let bob = Desk::new(&o.bob);
    let for_bob = bob.pull(api, "").await;
    assert!(for_bob.orders.is_empty() && for_bob.conflicts.is_empty());

    // The other order: the later write arrives second and overwrites (incoming won).
    let id2 = new_id();
    ann.push(api, &[ann.at(t, id2, 0, complaint(&o.team_x, None))])
        .await;
    let a = ann.at(t + 10, id2, 1, priority(Priority::Urgent));
    let s = sue.at(t + 20, id2, 1, priority(Priority::Low));
    ann.push(api, &[a]).await;
    sue.push(api, &[s]).await;
    let pulled = sue.pull(api, &for_sue.cursor).await;
    assert_eq!(pulled.conflicts.len(), 1);
    assert!(pulled.conflicts[0].incoming_won);
    assert_eq!(pulled.conflicts[0].mutation.client_id, sue.client);
}

async fn pull_pages_and_server_time(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    // The desktop's clock is a day ahead: server times must not care.
    let skewed = now_ms() + 86_400_000;
    let ids: Vec<WorkOrderId> = (0..5).map(|_| new_id()).collect();
    let batch: Vec<Mutation> = ids
        .iter()
        .map(|id| ann.at(skewed, *id, 0, complaint(&o.team_x, None)))
        .collect();
    let before = OffsetDateTime::now_utc();
    assert_eq!(ann.push(api, &batch).await.last_mutation_id, 5);
    let after = OffsetDateTime::now_utc();

    let mut cursor = String::new();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (st, body) = ann.pull_raw(api, &cursor, 2).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let page: PulledChanges = serde_json::from_value(body).unwrap();
        pages += 1;
        assert!(page.orders.len() <= 2);
        seen.extend(page.orders.iter().map(|o| o.id));
        for order in &page.orders {
            assert!(order.created_at >= before && order.created_at <= after);
        }
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "pages come in change order, each order once");
    let (st, body) = ann.pull_raw(api, "not-a-cursor", 2).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (st, _) = ann.pull_raw(api, "", 0).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

async fn overdue_view_uses_server_time_and_the_tenant_policy(kind: Kind) {
    let w = world(kind).await;
    // A server whose clock the test can move.
    let clock = ServerClock::new();
    let state = AppState {
        clock: clock.clone(),
        ..AppState::new(w.db.store.clone())
    };
    let server = TestServer::start_with(state).await;
    let api = server.client();
    let o = org_with(w).await;

    // Policy: agents may read but not change it; admins set 30 minutes for the first reply.
    let (st, policy) = api.get("/api/v1/tenant/sla-policy", Some(&o.ann)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(policy["first_reply_minutes"], 120);
    let mut tighter = policy.clone();
    tighter["first_reply_minutes"] = json!(30);
    let put = |token: &str, body: Value| {
        let api = api.clone();
        let token = token.to_owned();
        async move {
            let resp = api
                .http
                .put(format!("{}/api/v1/tenant/sla-policy", api.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let (st, _) = put(&o.ann, tighter.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let mut broken = tighter.clone();
    broken["calendar"]["opens"] = json!("19:00");
    let (st, _) = put(&o.w.admin_a, broken).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, body) = put(&o.w.admin_a, tighter).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, policy) = api.get("/api/v1/tenant/sla-policy", Some(&o.ann)).await;
    assert_eq!(policy["first_reply_minutes"], 30);
    // Beta still has the default.
    let (_, beta) = api
        .get("/api/v1/tenant/sla-policy", Some(&o.w.admin_b))
        .await;
    assert_eq!(beta["first_reply_minutes"], 120);

    let ann = Desk::new(&o.ann);
    let complaint_id = new_id();
    let repair_id = new_id();
    let ack = ann
        .push(
            &api,
            &[
                ann.m(complaint_id, 0, complaint(&o.team_x, Some(&o.ann_id))),
                ann.m(repair_id, 0, new_order(&o.team_x, OrderKind::Repair, None)),
            ],
        )
        .await;
    assert!(ack.rejected.is_empty());
    let overdue = |token: String| {
        let api = api.clone();
        async move {
            let (st, list) = api
                .get("/api/v1/work-orders?view=overdue", Some(&token))
                .await;
            assert_eq!(st, StatusCode::OK, "{list}");
            list["items"].as_array().unwrap().clone()
        }
    };
    assert!(overdue(o.ann.clone()).await.is_empty());
    let (_, team) = api.get("/api/v1/work-orders?view=team", Some(&o.ann)).await;
    let states: Vec<&Value> = team["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["sla"])
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states.iter().any(|s| s.is_null()), "repairs have no SLA");
    assert!(states
        .iter()
        .any(|s| s["first_reply"]["state"] == "on_track"));

    // 31 minutes later on the server's clock: the complaint's first reply is overdue.
    clock.advance(time::Duration::minutes(31));
    let items = overdue(o.ann.clone()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["order"]["id"], json!(complaint_id));
    assert_eq!(items[0]["sla"]["first_reply"]["state"], "overdue");
    assert!(
        items[0]["sla"]["first_reply"]["remaining_seconds"]
            .as_i64()
            .unwrap()
            < 0
    );
    // Other teams do not see it as theirs.
    assert!(overdue(o.bob.clone()).await.is_empty());
    assert_eq!(overdue(o.w.admin_a.clone()).await.len(), 1);

    // The reply is recorded at server time (late): no longer overdue, met late.
    let ack = ann
        .push(
            &api,
            &[ann.m(complaint_id, 1, MutationBody::RecordFirstReply)],
        )
        .await;
    assert!(ack.rejected.is_empty());
    assert!(overdue(o.ann.clone()).await.is_empty());
    let (_, mine) = api.get("/api/v1/work-orders?view=mine", Some(&o.ann)).await;
    assert_eq!(mine["items"][0]["sla"]["first_reply"]["state"], "met_late");
}

/// Callbacks and agent-set due dates: the overdue and due-soon views (earliest deadline
/// first, at server time, team rules unchanged), search over title and phone, and an order
/// stored before those fields existed still listed with its notes.
async fn due_times_drive_the_due_views_and_search_finds_title_and_phone(kind: Kind) {
    let w = world(kind).await;
    let clock = ServerClock::new();
    let state = AppState {
        clock: clock.clone(),
        ..AppState::new(w.db.store.clone())
    };
    let server = TestServer::start_with(state).await;
    let api = server.client();
    let o = org_with(w).await;
    let ann = Desk::new(&o.ann);
    let now = OffsetDateTime::now_utc();
    let order = |kind, due: Option<OffsetDateTime>, title: &str, phone: &str| {
        let MutationBody::Create(mut new) = new_order(&o.team_x, kind, Some(&o.ann_id)) else {
            unreachable!()
        };
        new.due_at = due;
        new.title = title.into();
        new.contact_phone = Some(phone.into());
        MutationBody::Create(new)
    };
    let (callback, repair, plain) = (new_id(), new_id(), new_id());
    let ack = ann
        .push(
            &api,
            &[
                ann.m(
                    callback,
                    0,
                    order(
                        OrderKind::Callback,
                        Some(now + time::Duration::hours(3)),
                        "Call back about the plan",
                        "+8615012345678",
                    ),
                ),
                ann.m(
                    repair,
                    0,
                    order(
                        OrderKind::Repair,
                        Some(now + time::Duration::minutes(30)),
                        "Router blinks red",
                        "+8613912345678",
                    ),
                ),
                ann.m(
                    plain,
                    0,
                    order(
                        OrderKind::Inquiry,
                        None,
                        "Roaming 50% off?",
                        "+8618600000000",
                    ),
                ),
                ann.m(plain, 1, note("asked twice")),
            ],
        )
        .await;
    assert!(ack.rejected.is_empty(), "{ack:?}");
    let view = |token: String, query: &'static str| {
        let api = api.clone();
        async move {
            let (st, list) = api
                .get(&format!("/api/v1/work-orders?{query}"), Some(&token))
                .await;
            assert_eq!(st, StatusCode::OK, "{list}");
            list["items"].as_array().unwrap().clone()
        }
    };
    let ids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|i| i["order"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let soon = view(o.ann.clone(), "view=due_soon").await;
    assert_eq!(ids(&soon), vec![repair.to_string()]);
    assert_eq!(soon[0]["urgency"], "due_soon");
    assert_eq!(soon[0]["due"]["state"], "due_soon");
    assert_eq!(soon[0]["order"]["title"], "Router blinks red");
    assert!(view(o.ann.clone(), "view=overdue").await.is_empty());

    // Four hours later on the server's clock both are overdue, the earlier deadline first.
    clock.advance(time::Duration::hours(4));
    let late = view(o.ann.clone(), "view=overdue").await;
    assert_eq!(ids(&late), vec![repair.to_string(), callback.to_string()]);
    assert!(late.iter().all(|i| i["urgency"] == "overdue"));
    assert!(late[0]["due"]["remaining_seconds"].as_i64().unwrap() < 0);
    assert!(view(o.ann.clone(), "view=due_soon").await.is_empty());
    assert!(
        view(o.bob.clone(), "view=overdue").await.is_empty(),
        "another team's orders stay invisible"
    );
    // Resolved orders leave the view.
    let ack = ann
        .push(
            &api,
            &[
                ann.m(repair, 1, status(Status::InProgress)),
                ann.m(repair, 2, status(Status::Resolved)),
            ],
        )
        .await;
    assert!(ack.rejected.is_empty(), "{ack:?}");
    assert_eq!(
        ids(&view(o.ann.clone(), "view=overdue").await),
        vec![callback.to_string()]
    );

    // Search: title (any case), phone digits; LIKE wildcards are literal.
    assert_eq!(
        ids(&view(o.ann.clone(), "view=team&q=ROUTER").await),
        vec![repair.to_string()]
    );
    assert_eq!(
        ids(&view(o.ann.clone(), "view=team&q=1501234").await),
        vec![callback.to_string()]
    );
    assert_eq!(
        ids(&view(o.ann.clone(), "view=team&q=50%25").await),
        vec![plain.to_string()]
    );
    assert!(view(o.ann.clone(), "view=team&q=%25%25x").await.is_empty());
    assert!(view(o.bob.clone(), "view=team&q=ROUTER").await.is_empty());

    // An order stored before the new fields: its body lacks them; it still lists, notes kept.
    let store = &o.w.db.store;
    let body: String = sqlx::query_scalar("SELECT body FROM work_orders WHERE id = $1")
        .bind(plain.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut old: Value = serde_json::from_str(&body).unwrap();
    for key in ["title", "description", "contact_phone", "due_at"] {
        old.as_object_mut().unwrap().remove(key);
        old["field_stamps"].as_object_mut().unwrap().remove(key);
    }
    sqlx::query("UPDATE work_orders SET body = $1 WHERE id = $2")
        .bind(old.to_string())
        .bind(plain.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let team = view(o.ann.clone(), "view=team").await;
    let listed = team
        .iter()
        .find(|i| i["order"]["id"] == json!(plain))
        .unwrap();
    assert_eq!(listed["order"]["title"], "");
    assert_eq!(listed["order"]["notes"][0]["text"], "asked twice");
    assert_eq!(listed["urgency"], "normal");
    // ... and takes a due date now (a field nobody wrote before: no conflict).
    let ack = ann
        .push(
            &api,
            &[ann.m(
                plain,
                2,
                MutationBody::SetFields(FieldPatch {
                    due_at: Some(Some(clock.now() + time::Duration::minutes(10))),
                    ..FieldPatch::default()
                }),
            )],
        )
        .await;
    assert!(ack.rejected.is_empty(), "{ack:?}");
    assert_eq!(
        ids(&view(o.ann.clone(), "view=due_soon").await),
        vec![plain.to_string()]
    );
}

async fn long_poll_wakes_on_a_push_and_times_out(kind: Kind) {
    let o = org(kind).await;
    let api = o.w.api.clone();
    let ann = Desk::new(&o.ann);
    let cursor = ann.pull(&api, "").await.cursor;

    // Nothing happens: the poll answers at its timeout.
    let started = Instant::now();
    let (st, body) = api
        .get(
            &format!("/api/v1/sync/wait?cursor={cursor}&timeout_ms=300"),
            Some(&o.ann),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], false);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A push wakes it long before the timeout.
    let waiter = {
        let api = api.clone();
        let token = o.ann.clone();
        let cursor = cursor.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = api
                .get(
                    &format!("/api/v1/sync/wait?cursor={cursor}&timeout_ms=20000"),
                    Some(&token),
                )
                .await;
            (reply, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = new_id();
    ann.push(&api, &[ann.m(id, 0, complaint(&o.team_x, None))])
        .await;
    let ((st, body), waited) = waiter.await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["changed"], true);
    assert!(waited < Duration::from_secs(4), "woke after {waited:?}");
    let new_cursor = body["cursor"].as_str().unwrap();
    assert!(new_cursor.parse::<i64>().unwrap() > cursor.parse::<i64>().unwrap());
    // Behind already: answers at once.
    let started = Instant::now();
    let (_, body) = api
        .get(
            &format!("/api/v1/sync/wait?cursor={cursor}&timeout_ms=20000"),
            Some(&o.bob),
        )
        .await;
    assert_eq!(body["changed"], true);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Other tenants are not woken by alpha's changes.
    let (_, body) = api
        .get(
            "/api/v1/sync/wait?cursor=0&timeout_ms=200",
            Some(&o.w.admin_b),
        )
        .await;
    assert_eq!(body["changed"], false);
    let (st, _) = api.get("/api/v1/sync/wait?cursor=x", Some(&o.ann)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

async fn push_limits_and_bad_requests(kind: Kind) {
    let o = org(kind).await;
    let api = &o.w.api;
    let ann = Desk::new(&o.ann);
    let id = new_id();
    let too_many: Vec<Mutation> = (0..501).map(|_| ann.m(id, 0, note("x"))).collect();
    let (st, body) = ann.push_raw(api, &too_many).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "payload_too_large");
    assert_eq!(count(&o.w, "SELECT COUNT(*) FROM mutation_log").await, 0);

    let other = Desk::new(&o.ann);
    let foreign = other.m(id, 0, complaint(&o.team_x, None));
    let (st, _) = ann.push_raw(api, &[foreign]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = api.post("/api/v1/sync/push", None, ann.request(&[])).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = api
        .get("/api/v1/sync/pull?client_id=nope", Some(&o.ann))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = api
        .get("/api/v1/work-orders?view=everything", Some(&o.ann))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // An empty push registers the client and reports where it stands.
    let fresh = Desk::new(&o.ann);
    assert_eq!(fresh.push(api, &[]).await.last_mutation_id, 0);
    assert_eq!(
        count(&o.w, "SELECT COUNT(*) FROM sync_clients").await,
        1,
        "only the successful pushes registered a client"
    );
}

/// Two server instances on one PostgreSQL: a push through A wakes a long poll on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_on_one_instance_wakes_on_a_push_through_another() {
    let o = org(Kind::Postgres).await;
    let api_a = o.w.api.clone();
    let server_b = TestServer::start(o.w.db.second_store().await).await;
    let api_b = server_b.client();
    let ann = Desk::new(&o.ann);
    let cursor = ann.pull(&api_b, "").await.cursor;
    // A third instance's hub, observed directly: it learns of the change only through LISTEN.
    let store_c = o.w.db.second_store().await;
    let hub_c = ChangeHub::new(store_c.postgres_url());
    assert!(
        hub_c.ensure_listening().await,
        "LISTEN must start on PostgreSQL"
    );
    let mut changes_c = hub_c.subscribe(&o.tenant_a);

    let waiter = {
        let token = o.sue.clone();
        let cursor = cursor.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = api_b
                .get(
                    &format!("/api/v1/sync/wait?cursor={cursor}&timeout_ms=20000"),
                    Some(&token),
                )
                .await;
            (reply, started.elapsed())
        })
    };
    // Let B's poll start and LISTEN, then push through A.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = new_id();
    let ack = ann
        .push(&api_a, &[ann.m(id, 0, complaint(&o.team_x, None))])
        .await;
    assert_eq!(ack.last_mutation_id, 1);
    let ((st, body), waited) = waiter.await.unwrap();
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    // Well under B's 5 s safety re-check: the NOTIFY woke it.
    assert!(
        waited < Duration::from_millis(4_000),
        "woke after {waited:?}"
    );
    tokio::time::timeout(Duration::from_secs(3), changes_c.changed())
        .await
        .expect("NOTIFY reaches another instance's LISTEN")
        .unwrap();
    assert!(*changes_c.borrow() > cursor.parse::<i64>().unwrap());
    let pulled = Desk::new(&o.sue).pull(&server_b.client(), &cursor).await;
    assert_eq!(pulled.orders.len(), 1);
}
