//! The work-order desk against the real server (the library's router on loopback, SQLite):
//! login with the token kept in the secret store only, offline capture synced by the background
//! loop, an outage shown as offline and healed, a revoked token shown as signed out without
//! losing the queued change, logout warnings and another account's unsynced work.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_secrets::MemoryStore;
use seatline_server::accounts::{self, NewUser, UserPatch};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::Role;
use seatline_server::Store;
use seatline_workspace::desk::{
    CreateOrder, LoginRequest, OrderPriority, OrderQuery, OrderStatus, SignedOutReason, SyncConfig,
    SyncState, SyncView,
};
use seatline_workspace::{Desk, DeskError};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const PASSWORD: &str = "correct horse battery";

struct Server {
    addr: SocketAddr,
    store: Store,
    tenant_id: String,
    agent_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn listen(
    store: Store,
    addr: SocketAddr,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, AppState::new(store), async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

async fn start_server(dir: &std::path::Path) -> Server {
    let store = Store::open_data_dir(dir).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _admin) = accounts::bootstrap_tenant(&store, "demo", "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(&store, &tenant.id, "一线")
        .await
        .unwrap();
    let mut agent_id = String::new();
    for name in ["agent", "agent2"] {
        let user = accounts::create_user(
            &store,
            &tenant.id,
            NewUser {
                username: name.into(),
                display_name: Some(format!("{name} 李")),
                password: PASSWORD.into(),
                role: Role::Agent,
                team_ids: vec![team.id.clone()],
            },
        )
        .await
        .unwrap();
        if name == "agent" {
            agent_id = user.id;
        }
    }
    let (addr, stop, task) = listen(store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    Server {
        addr,
        store,
        tenant_id: tenant.id,
        agent_id,
        stop: Some(stop),
        task,
    }
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }

    async fn restart(&mut self) {
        let (addr, stop, task) = listen(self.store.clone(), self.addr).await;
        assert_eq!(addr, self.addr);
        self.stop = Some(stop);
        self.task = task;
    }

    /// Orders of the tenant as the server's API lists them for `user`.
    async fn server_orders(&self, user: &str) -> Vec<serde_json::Value> {
        let http = reqwest::Client::new();
        let login: serde_json::Value = http
            .post(format!("{}/api/v1/login", self.url()))
            .json(&serde_json::json!({"tenant": "demo", "username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().unwrap();
        let list: serde_json::Value = http
            .get(format!("{}/api/v1/work-orders?view=team", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["items"].as_array().unwrap().clone()
    }
}

fn config() -> SyncConfig {
    SyncConfig {
        push_debounce: 50,
        pull_interval: 1_000,
        backoff_initial: 100,
        backoff_max: 400,
    }
}

fn desk(dir: &std::path::Path, secrets: Arc<MemoryStore>) -> (Desk, Arc<Mutex<Vec<SyncView>>>) {
    let desk = Desk::new(dir, secrets, config());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    desk.set_notify(Arc::new(move |view| log.lock().unwrap().push(view.clone())));
    (desk, seen)
}

fn login(server: &Server, user: &str) -> LoginRequest {
    LoginRequest {
        server_url: server.url(),
        tenant: "demo".into(),
        username: user.into(),
        password: PASSWORD.into(),
    }
}

fn repair(customer: &str) -> CreateOrder {
    CreateOrder {
        kind: "repair".into(),
        customer: customer.into(),
        phone: Some("+8613800138000".into()),
        title: "宽带断线".into(),
        description: Some("光猫红灯".into()),
        priority: OrderPriority::High,
        due: Some("2026-12-01T10:00".into()),
        team: None,
        category: None,
    }
}

async fn wait_for(desk: &Desk, what: &str, pred: impl Fn(&SyncView) -> bool) -> SyncView {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let view = desk.sync_view();
        if pred(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}; last view {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_capture_sync_and_logout_with_the_token_only_in_the_secret_store() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = start_server(server_dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let (desk, seen) = desk(dir.path(), secrets.clone());

    let wrong = LoginRequest {
        password: "nope".into(),
        ..login(&server, "agent")
    };
    assert!(matches!(
        desk.login(wrong).await,
        Err(DeskError::BadCredentials)
    ));
    let session = desk.login(login(&server, "agent")).await.unwrap();
    assert!(session.signed_in);
    let account = session.account.unwrap();
    assert_eq!(account.teams.len(), 1);
    assert_eq!(account.teams[0].name, "一线");
    // The account file holds ids; the token is in the secret store and nowhere on disk.
    let file = std::fs::read_to_string(dir.path().join("account.json")).unwrap();
    assert!(
        file.contains(&server.agent_id) && !file.contains("slt_"),
        "{file}"
    );
    let name = seatline_secrets::SecretName::server_token(&format!(
        "{}/{}/{}",
        server.url(),
        server.tenant_id,
        server.agent_id
    ))
    .unwrap();
    use seatline_secrets::SecretStore;
    assert!(secrets
        .get(&name)
        .unwrap()
        .unwrap()
        .expose()
        .starts_with("slt_"));
    wait_for(&desk, "synced", |v| v.state == SyncState::Synced).await;

    let created = desk.create(repair("张伟")).await.unwrap();
    assert!(created.pending);
    assert_eq!(created.phone.as_deref(), Some("+8613800138000"));
    assert_eq!(created.due.as_deref(), Some("2026-12-01T10:00"));
    assert_eq!(created.next_statuses, vec![OrderStatus::InProgress]);
    wait_for(&desk, "drained", |v| {
        v.state == SyncState::Synced && v.pending == 0
    })
    .await;
    let listed = desk.list(&OrderQuery::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].pending, "{:?}", listed[0]);
    let on_server = server.server_orders("agent2").await;
    assert_eq!(on_server.len(), 1, "{on_server:?}");
    assert_eq!(on_server[0]["order"]["customer_id"], "张伟");

    // A status change along the domain's machine, and an illegal one refused locally.
    desk.change_status(&created.id.to_string(), OrderStatus::InProgress)
        .await
        .unwrap();
    let err = desk
        .change_status(&created.id.to_string(), OrderStatus::Closed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "rejected");
    // Search and filters.
    let q = |search: &str| OrderQuery {
        search: Some(search.into()),
        ..OrderQuery::default()
    };
    assert_eq!(desk.list(&q("张")).await.unwrap().len(), 1);
    assert_eq!(
        desk.list(&q(&created.number.to_lowercase()))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(desk.list(&q("nobody")).await.unwrap().len(), 0);
    wait_for(&desk, "drained again", |v| {
        v.state == SyncState::Synced && v.pending == 0
    })
    .await;
    // The second agent's desk pulls it (long poll or periodic pull).
    let dir2 = tempfile::tempdir().unwrap();
    let (desk2, _) = desk_pair(dir2.path());
    desk2.login(login(&server, "agent2")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let orders = desk2.list(&OrderQuery::default()).await.unwrap();
        if orders
            .first()
            .is_some_and(|o| o.status == OrderStatus::InProgress)
        {
            assert!(!orders[0].mine);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "agent2 never saw the order: {orders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let session = desk.logout(false).await.unwrap();
    assert!(!session.signed_in);
    assert!(secrets.get(&name).unwrap().is_none());
    assert_eq!(
        desk.sync_view().signed_out_reason,
        Some(SignedOutReason::LoggedOut)
    );
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|v| v.state == SyncState::Pending || v.pending > 0));
    desk.shutdown().await;
    desk2.shutdown().await;
}

fn desk_pair(dir: &std::path::Path) -> (Desk, Arc<Mutex<Vec<SyncView>>>) {
    desk(dir, Arc::new(MemoryStore::new()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_shows_offline_and_a_revoked_token_signs_out_without_losing_work() {
    let server_dir = tempfile::tempdir().unwrap();
    let mut server = start_server(server_dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let (desk, _) = desk_pair(dir.path());
    desk.login(login(&server, "agent")).await.unwrap();
    wait_for(&desk, "synced", |v| v.state == SyncState::Synced).await;

    // Outage: the change is kept, the status bar says offline with a retry time.
    server.stop().await;
    desk.create(repair("王芳")).await.unwrap();
    let view = wait_for(&desk, "offline", |v| v.state == SyncState::Offline).await;
    assert!(view.retry_in_ms.is_some());
    // Phone, due time and description are fields of the order: creating it is one change.
    assert_eq!(view.pending, 1);
    server.restart().await;
    desk.sync_now().await;
    wait_for(&desk, "healed", |v| {
        v.state == SyncState::Synced && v.pending == 0
    })
    .await;

    // The server revokes every token of the user (disabled), then the agent works on.
    accounts::update_user(
        &server.store,
        &server.tenant_id,
        &server.agent_id,
        UserPatch {
            disabled: Some(true),
            ..UserPatch::default()
        },
    )
    .await
    .unwrap();
    let queued = desk.create(repair("赵磊")).await.unwrap();
    let view = wait_for(&desk, "signed out", |v| v.state == SyncState::SignedOut).await;
    assert_eq!(view.signed_out_reason, Some(SignedOutReason::Expired));
    assert!(!desk.session().await.signed_in);
    // Nothing lost: the order is still here, still pending, and can still be edited.
    let orders = desk.list(&OrderQuery::default()).await.unwrap();
    let kept = orders.iter().find(|o| o.id == queued.id).unwrap();
    assert!(kept.pending);
    desk.add_note(&queued.id.to_string(), "客户来电催促")
        .await
        .unwrap();
    // Logout with unsynced changes warns first (the order, one change, and the note).
    let err = desk.logout(false).await.unwrap_err();
    assert!(
        matches!(err, DeskError::UnsyncedChanges { pending: 2 }),
        "{err}"
    );

    // Another account may not sign in over unsynced work.
    let err = desk.login(login(&server, "agent2")).await.unwrap_err();
    assert_eq!(err.code(), "other_account_unsynced", "{err}");

    accounts::update_user(
        &server.store,
        &server.tenant_id,
        &server.agent_id,
        UserPatch {
            disabled: Some(false),
            ..UserPatch::default()
        },
    )
    .await
    .unwrap();
    desk.login(login(&server, "agent")).await.unwrap();
    wait_for(&desk, "drained after re-login", |v| {
        v.state == SyncState::Synced && v.pending == 0
    })
    .await;
    let on_server = server.server_orders("agent2").await;
    let found = on_server
        .iter()
        .find(|o| o["order"]["customer_id"] == "赵磊")
        .expect("the queued order reached the server");
    // The agent's note; description and phone travel as fields of the order.
    assert_eq!(found["order"]["notes"].as_array().unwrap().len(), 1);
    assert_eq!(found["order"]["description"], "光猫红灯");
    assert_eq!(found["order"]["contact_phone"], "+8613800138000");
    desk.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_login_resumes_and_a_problem_can_be_retried() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = start_server(server_dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    {
        let (desk, _) = desk(dir.path(), secrets.clone());
        desk.login(login(&server, "agent")).await.unwrap();
        desk.shutdown().await;
    }
    let (desk, _) = desk(dir.path(), secrets.clone());
    let session = desk.resume().await.unwrap();
    assert!(session.signed_in);
    wait_for(&desk, "synced after resume", |v| {
        v.state == SyncState::Synced
    })
    .await;
    // Without the token, a resumed desk is signed out but keeps the account for the form.
    let (other, _) = desk_pair(dir.path());
    desk.shutdown().await;
    let session = other.resume().await.unwrap();
    assert!(!session.signed_in);
    assert_eq!(session.account.unwrap().username, "agent");
    assert_eq!(other.sync_view().state, SyncState::SignedOut);
    // Orders still work offline while signed out.
    let order = other.create(repair("孙丽")).await.unwrap();
    assert!(order.pending);
    assert_eq!(other.problems(false).await.unwrap().len(), 0);
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_reaches_the_agents_desk() {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let state = AppState::new(store.clone());
    let report = seatline_server::seed::seed_demo(&state, "demo", PASSWORD)
        .await
        .unwrap();
    assert!(report.created);
    assert_eq!(report.work_orders, 4);
    // A second seed changes nothing.
    let again = seatline_server::seed::seed_demo(&state, "demo", PASSWORD)
        .await
        .unwrap();
    assert!(!again.created);
    let (addr, stop, task) = listen(store, "127.0.0.1:0".parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let (desk, _) = desk_pair(dir.path());
    desk.login(LoginRequest {
        server_url: format!("http://{addr}"),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    wait_for(&desk, "synced", |v| v.state == SyncState::Synced).await;
    let mine = desk
        .list(&OrderQuery {
            view: Some("mine".into()),
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 4, "{mine:?}");
    let callback = mine.iter().find(|o| o.kind == "callback").unwrap();
    assert_eq!(callback.due.as_deref(), Some("2026-12-01T10:00"));
    assert_eq!(callback.phone.as_deref(), Some("+8615012345678"));
    assert!(mine
        .iter()
        .all(|o| !o.pending && o.team_name.as_deref() == Some("一线客服")));
    let repairs = desk
        .list(&OrderQuery {
            kind: Some("repair".into()),
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(repairs.len(), 1);
    desk.shutdown().await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// A server that accepts the connection and never answers (a stalled proxy, a dead NAT entry):
/// sign-in fails after the `[sync]` read timeout the desk was given, not the 15 s default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_fails_sign_in_after_the_configured_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Holds every connection open without a byte back.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (desk, _) = desk(dir.path(), Arc::new(MemoryStore::new()));
    let settings = seatline_settings::SyncSettings {
        read_timeout_secs: 1,
        ..Default::default()
    };
    desk.set_timeouts(seatline_workspace::desk::sync_timeouts(&settings));
    let request = LoginRequest {
        server_url: format!("http://{addr}"),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    };
    let started = Instant::now();
    let result = desk.login(request).await;
    let took = started.elapsed();
    assert!(result.is_err(), "signed in to a silent server: {result:?}");
    // 1 s of silence; far below the 15 s default even on a loaded machine.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "sign-in failed after {took:?}"
    );
    hold.abort();
}
