//! Two desktops (outbox + sync client) and the real server over HTTP on loopback: offline
//! capture, convergence after concurrent edits, a server outage, and a rejection surfaced to
//! the agent. The server is the library's router on an ephemeral port, with an SQLite file.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_outbox::{LocalStore, ProblemDetail};
use seatline_server::accounts::{self, NewUser};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::Role;
use seatline_server::Store;
use seatline_sync_client::{ServerClient, SyncEngine};
use seatline_sync_protocol::ScheduleConfig;
use seatline_work_orders::{
    Actor, Complexity, FieldPatch, NewWorkOrder, OrderKind, Priority, Status,
};
use std::net::SocketAddr;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const PASSWORD: &str = "correct horse battery";

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_server(store: Store, addr: SocketAddr) -> Server {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, AppState::new(store), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Server {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

struct Desktop {
    store: LocalStore,
    server: ServerClient,
    team: String,
}

async fn desktop(dir: &tempfile::TempDir, base: &str, user: &str, team: &str) -> Desktop {
    let mut server = ServerClient::new(base).unwrap();
    let session = server.login("acme", user, PASSWORD).await.unwrap();
    // The server fills the actor from the session; the desktop uses the same ids.
    let actor = Actor {
        user: session.user["id"].as_str().unwrap().to_owned(),
        tenant: session.user["tenant_id"].as_str().unwrap().to_owned(),
    };
    let store = LocalStore::open(
        &dir.path().join("orders.db"),
        actor,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    Desktop {
        store,
        server,
        team: team.to_owned(),
    }
}

impl Desktop {
    async fn sync(&self) -> bool {
        let config = ScheduleConfig {
            backoff_initial: 50,
            backoff_max: 200,
            ..ScheduleConfig::default()
        };
        let mut engine = SyncEngine::new(&self.store, self.server.clone(), config)
            .await
            .unwrap();
        engine.drain(Duration::from_secs(5)).await.unwrap()
    }

    fn complaint(&self) -> NewWorkOrder {
        NewWorkOrder {
            team: self.team.clone(),
            kind: OrderKind::Complaint {
                complexity: Complexity::Ordinary,
            },
            customer_id: "cust-1".into(),
            call_id: None,
            category: "billing".into(),
            priority: Priority::Normal,
            assignee: None,
            title: "Bill doubled".into(),
            description: String::new(),
            contact_phone: None,
            due_at: None,
        }
    }
}

#[tokio::test]
async fn two_desktops_converge_through_the_server_across_an_outage() {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _admin) = accounts::bootstrap_tenant(&store, "acme", "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(&store, &tenant.id, "billing")
        .await
        .unwrap();
    for name in ["ann", "bob"] {
        let new = NewUser {
            username: name.into(),
            display_name: None,
            password: PASSWORD.into(),
            role: Role::Agent,
            team_ids: vec![team.id.clone()],
        };
        accounts::create_user(&store, &tenant.id, new)
            .await
            .unwrap();
    }
    let server = start_server(store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ann = desktop(&dir_a, &base, "ann", &team.id).await;
    let bob = desktop(&dir_b, &base, "bob", &team.id).await;
    let now = OffsetDateTime::now_utc;

    // Ann captures a complaint and a note, then syncs; Bob pulls it.
    let id = ann
        .store
        .create_order(ann.complaint(), now())
        .await
        .unwrap()
        .order
        .id;
    ann.store
        .add_note(id, "bill doubled in May".into(), now())
        .await
        .unwrap();
    assert!(ann.sync().await, "ann's queue did not drain");
    assert!(bob.sync().await);
    let at_bob = bob
        .store
        .order(id)
        .await
        .unwrap()
        .expect("bob sees ann's order");
    assert_eq!(at_bob.notes.len(), 1);

    // Both edit while apart: Bob raises the priority, Ann adds a note.
    let urgent = FieldPatch {
        priority: Some(Priority::Urgent),
        ..FieldPatch::default()
    };
    bob.store.set_fields(id, urgent, now()).await.unwrap();
    ann.store
        .add_note(id, "customer called again".into(), now())
        .await
        .unwrap();
    assert!(bob.sync().await);
    assert!(ann.sync().await);
    assert!(bob.sync().await);
    let (a, b) = (
        ann.store.order(id).await.unwrap().unwrap(),
        bob.store.order(id).await.unwrap().unwrap(),
    );
    assert_eq!(a, b, "the desktops did not converge");
    assert_eq!(a.priority, Priority::Urgent);
    assert_eq!(a.notes.len(), 2);

    // The server goes away: Ann keeps working; her change waits in the outbox, nothing is lost.
    let addr = server.addr;
    server.stop().await;
    ann.store
        .change_status(id, Status::InProgress, now())
        .await
        .unwrap();
    assert!(
        !ann.sync().await,
        "sync claimed success with the server down"
    );
    assert_eq!(ann.store.counts().await.unwrap().pending, 1);
    let server = start_server(store.clone(), addr).await;
    assert!(
        ann.sync().await,
        "the queue did not drain after the server came back"
    );
    assert!(bob.sync().await);
    assert_eq!(
        bob.store.order(id).await.unwrap().unwrap().status,
        Status::InProgress
    );

    // Bob resolves and closes; Ann, not yet synced, puts it back to waiting: the server refuses
    // her stale change, and her desktop keeps it as a problem to show her.
    bob.store
        .change_status(id, Status::Resolved, now())
        .await
        .unwrap();
    bob.store
        .change_status(id, Status::Closed, now())
        .await
        .unwrap();
    ann.store
        .change_status(id, Status::WaitingOnCustomer, now())
        .await
        .unwrap();
    assert!(bob.sync().await);
    assert!(ann.sync().await);
    assert_eq!(
        ann.store.order(id).await.unwrap().unwrap().status,
        Status::Closed
    );
    let problems = ann.store.problems(true).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(matches!(
        &problems[0].detail,
        ProblemDetail::Rejected { rejection, .. } if rejection.code == "illegal_transition"
    ));
    server.stop().await;
}

/// Ann and Bob edit the title and the due time of the same order while apart. After both
/// sync the desktops agree on the later write of each field, and both agents are shown the
/// conflict: Ann that her values were overwritten, Bob that his overwrote hers.
#[tokio::test]
async fn concurrent_title_and_due_time_edits_converge_and_both_agents_see_the_overwrite() {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _admin) = accounts::bootstrap_tenant(&store, "acme", "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(&store, &tenant.id, "billing")
        .await
        .unwrap();
    for name in ["ann", "bob"] {
        let new = NewUser {
            username: name.into(),
            display_name: None,
            password: PASSWORD.into(),
            role: Role::Agent,
            team_ids: vec![team.id.clone()],
        };
        accounts::create_user(&store, &tenant.id, new)
            .await
            .unwrap();
    }
    let server = start_server(store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ann = desktop(&dir_a, &base, "ann", &team.id).await;
    let bob = desktop(&dir_b, &base, "bob", &team.id).await;
    let now = OffsetDateTime::now_utc;

    let mut callback = ann.complaint();
    callback.kind = OrderKind::Callback;
    callback.contact_phone = Some("+8615012345678".into());
    callback.due_at = Some(now() + time::Duration::hours(4));
    let id = ann
        .store
        .create_order(callback, now())
        .await
        .unwrap()
        .order
        .id;
    assert!(ann.sync().await);
    assert!(bob.sync().await);

    // Apart: Ann first, Bob a moment later (his stamps are later).
    let edit = |title: &str, due| FieldPatch {
        title: Some(title.into()),
        due_at: Some(Some(due)),
        ..FieldPatch::default()
    };
    let (ann_due, bob_due) = (
        now() + time::Duration::hours(1),
        now() + time::Duration::hours(2),
    );
    ann.store
        .set_fields(id, edit("Call back at 3", ann_due), now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    bob.store
        .set_fields(id, edit("Call back at 4", bob_due), now())
        .await
        .unwrap();
    // Ann's write reaches the server first; Bob's later one overwrites it.
    assert!(ann.sync().await);
    assert!(bob.sync().await);
    assert!(ann.sync().await);
    let (a, b) = (
        ann.store.order(id).await.unwrap().unwrap(),
        bob.store.order(id).await.unwrap().unwrap(),
    );
    assert_eq!(a, b, "the desktops did not converge");
    assert_eq!(a.title, "Call back at 4");
    assert_eq!(a.due_at, Some(bob_due));
    assert_eq!(a.contact_phone.as_deref(), Some("+8615012345678"));

    let fields = |problems: Vec<seatline_outbox::Problem>| {
        let mut out: Vec<(String, bool, String)> = problems
            .into_iter()
            .map(|p| match p.detail {
                ProblemDetail::Conflict { conflict } => (
                    conflict.field.to_string(),
                    conflict.incoming_won,
                    format!("{:?}", conflict.overwritten),
                ),
                other => panic!("not a conflict: {other:?}"),
            })
            .collect();
        out.sort();
        out
    };
    let at_ann = fields(ann.store.problems(true).await.unwrap());
    let at_bob = fields(bob.store.problems(true).await.unwrap());
    assert_eq!(at_ann, at_bob, "both agents see the same overwrite");
    assert_eq!(at_ann.len(), 2, "{at_ann:?}");
    assert_eq!(at_ann[0].0, "due_at");
    assert!(
        at_ann[0].2.contains(&ann_due.year().to_string()),
        "{at_ann:?}"
    );
    assert_eq!(
        at_ann[1],
        ("title".into(), true, r#"Title("Call back at 3")"#.into())
    );
    server.stop().await;
}
