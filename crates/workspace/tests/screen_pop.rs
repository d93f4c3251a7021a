//! The screen pop against the real server (the library's router on loopback, SQLite): the
//! desktop signs in, its customer cache follows the server's feed, and a ringing call finds
//! its customer — by any form of the number, by IVR data when the number says nothing, several
//! when a switchboard number is shared — with the orders the agent has for that customer, and
//! keeps popping when the server is gone.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_customer_cache::feed;
use seatline_secrets::MemoryStore;
use seatline_server::accounts::{self, NewUser};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::Role;
use seatline_server::customers::{self, CustomerInput};
use seatline_server::Store;
use seatline_settings::Settings;
use seatline_workspace::desk::{CreateOrder, LoginRequest};
use seatline_workspace::screen_pop::{normalizer_for, MatchedBy, Pop, PopRequest, ScreenPop};
use seatline_workspace::Desk;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

fn names(pop: &Pop) -> Vec<String> {
    pop.cards.iter().map(|c| c.customer.name.clone()).collect()
}

fn ringing(number: &str) -> PopRequest {
    PopRequest {
        call: Some("c1".into()),
        number: Some(number.into()),
        display_name: Some("Caller".into()),
        ..PopRequest::default()
    }
}

async fn customer(store: &Store, tenant: &str, name: &str, phones: &[&str], tier: &str) -> String {
    customers::create(
        store,
        tenant,
        &CustomerInput {
            name: name.into(),
            phones: phones.iter().map(|p| (*p).to_owned()).collect(),
            tier: Some(tier.into()),
            tags: vec!["宽带".into()],
            ..CustomerInput::default()
        },
    )
    .await
    .unwrap()
    .id
}

/// A server store (SQLite in a temp dir) with tenant "demo" and its agent "agent" in a team.
async fn server_with_agent() -> (tempfile::TempDir, Store, String) {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _admin) = accounts::bootstrap_tenant(&store, "demo", "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(&store, &tenant.id, "一线")
        .await
        .unwrap();
    accounts::create_user(
        &store,
        &tenant.id,
        NewUser {
            username: "agent".into(),
            display_name: None,
            password: PASSWORD.into(),
            role: Role::Agent,
            team_ids: vec![team.id.clone()],
        },
    )
    .await
    .unwrap();
    (server_dir, store, tenant.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_pops_its_customer_from_the_local_cache() {
    let (_server_dir, store, tenant) = server_with_agent().await;
    customer(
        &store,
        &tenant,
        "张伟",
        &["+86 138 0013 8000", "010-6234 5678"],
        "vip",
    )
    .await;
    customer(&store, &tenant, "李娜", &["021-5555 0000"], "standard").await;
    customer(
        &store,
        &tenant,
        "王芳",
        &["02155550000", "15012345678"],
        "gold",
    )
    .await;
    let liu = customer(&store, &tenant, "刘洋", &[], "standard").await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store.clone()), async {
        let _ = stopped.await;
    }));

    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path(), Arc::new(MemoryStore::new()), Default::default());
    let settings = Settings {
        area_code: Some("10".into()),
        ..Settings::default()
    };
    let pop = ScreenPop::new(dir.path(), normalizer_for(&settings).unwrap(), desk.clone());
    let http = feed::client().unwrap();

    // Signed out: nothing pulled, and the pop says the cache is empty rather than "unknown".
    assert_eq!(pop.pull_once(&http).await.unwrap(), 0);
    assert!(!pop.feed_view().signed_in);
    let empty = pop.pop(ringing("13800138000")).await.unwrap();
    assert_eq!(empty.cached_customers, Some(0));
    assert_eq!(empty.matched_by, MatchedBy::Nothing);

    desk.login(LoginRequest {
        server_url: url.clone(),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    assert_eq!(pop.pull_once(&http).await.unwrap(), 4);
    let view = pop.feed_view();
    assert!(view.signed_in && view.last_error.is_none(), "{view:?}");
    assert_eq!(view.customers, 4);

    // An order the agent captured for 张伟 (by name, as agents type it) shows on the card.
    let order: CreateOrder = serde_json::from_value(serde_json::json!({
        "kind": "complaint",
        "customer": "张伟",
        "phone": "+8613800138000",
        "title": "账单重复扣费",
        "priority": "high",
    }))
    .unwrap();
    desk.create(order).await.unwrap();

    // The PBX sends the number in its own form; every form finds the customer.
    for number in [
        "013800138000",
        "+8613800138000",
        "sip:13800138000@pbx.example",
        "8613800138000",
    ] {
        let found = pop.pop(ringing(number)).await.unwrap();
        assert_eq!(names(&found), ["张伟"], "{number}");
        assert_eq!(found.matched_by, MatchedBy::Number);
        assert_eq!(found.caller.e164.as_deref(), Some("+8613800138000"));
        assert_eq!(found.caller.display.as_deref(), Some("13800138000"));
        let card = &found.cards[0];
        assert_eq!(card.customer.tier, "vip");
        assert_eq!(card.open_orders.len(), 1, "{number}");
        assert_eq!(card.open_orders[0]["title"], "账单重复扣费");
        assert!(
            !card.open_orders[0].contains_key("notes"),
            "a brief, not the whole order"
        );
    }
    // A bare local number gets the center's area code.
    let local = pop.pop(ringing("62345678")).await.unwrap();
    assert_eq!(names(&local), ["张伟"]);
    assert_eq!(local.caller.display.as_deref(), Some("01062345678"));

    // A shared switchboard: both customers, the agent chooses.
    let shared = pop.pop(ringing("021 5555 0000")).await.unwrap();
    assert_eq!(names(&shared), ["李娜", "王芳"]);
    assert!(shared.cards.iter().all(|c| c.open_orders.is_empty()));

    // Withheld number: the IVR's account field finds the customer.
    let mut ivr = BTreeMap::new();
    ivr.insert("X-IVR-Menu".to_owned(), "1>3".to_owned());
    ivr.insert("X-IVR-Account".to_owned(), liu.clone());
    let withheld = pop
        .pop(PopRequest {
            number: Some("anonymous".into()),
            withheld: true,
            ivr,
            ..PopRequest::default()
        })
        .await
        .unwrap();
    assert!(withheld.caller.withheld);
    assert_eq!(names(&withheld), ["刘洋"]);
    assert_eq!(
        withheld.matched_by,
        MatchedBy::Ivr {
            field: "X-IVR-Account".into()
        }
    );
    assert_eq!(withheld.ivr.len(), 2);

    // Unknown caller, a colleague, garbage.
    let unknown = pop.pop(ringing("+44 20 7946 0958")).await.unwrap();
    assert_eq!(unknown.matched_by, MatchedBy::Nothing);
    assert_eq!(unknown.cached_customers, Some(4));

    // The app after a restart: until the start-up count is in, a pop of an unknown caller on
    // a filled cache says "not counted yet", never "the cache is empty"; warm_up opens the
    // cache and counts it.
    let restarted = ScreenPop::new(dir.path(), normalizer_for(&settings).unwrap(), desk.clone());
    let early = restarted.pop(ringing("+44 20 7946 0958")).await.unwrap();
    assert_eq!(early.cached_customers, None);
    assert_eq!(restarted.feed_view().customers, 0);
    restarted.warm_up().await.unwrap();
    assert_eq!(restarted.feed_view().customers, 4);
    let known = restarted.pop(ringing("13800138000")).await.unwrap();
    assert_eq!(names(&known), ["张伟"]);
    assert_eq!(known.cached_customers, Some(4));
    assert_eq!(unknown.caller.display.as_deref(), Some("+442079460958"));
    let colleague = pop.pop(ringing("8001")).await.unwrap();
    assert!(colleague.caller.internal && colleague.cards.is_empty());
    let garbage = pop.pop(ringing("call me maybe")).await.unwrap();
    assert!(garbage.caller.unreadable.is_some() && garbage.cards.is_empty());

    // The agent's own search and picking one card.
    let searched = pop.search("王").await.unwrap();
    assert_eq!(searched.len(), 1);
    let card = pop.card(&searched[0].customer.id).await.unwrap().unwrap();
    assert_eq!(card.customer.name, "王芳");
    assert!(pop.card("nobody").await.unwrap().is_none());

    // The server goes away: pops keep working from the cache; the feed reports the outage.
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert_eq!(pop.pull_once(&http).await.unwrap(), 0);
    assert!(pop.feed_view().last_error.is_some());
    let offline = pop.pop(ringing("15012345678")).await.unwrap();
    assert_eq!(names(&offline), ["王芳"]);
    assert!(offline.lookup_us > 0);
}

/// A TCP relay in front of the server that can turn silent: it then closes what it forwarded
/// and holds every new connection open without a byte back (a stalled proxy).
struct SilencingProxy {
    addr: std::net::SocketAddr,
    silent: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl SilencingProxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, l) = (silent.clone(), links.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    held.push(inbound);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Self {
            addr,
            silent,
            links,
        }
    }

    fn go_silent(&self) {
        self.silent.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

/// The `[sync]` timeouts changed while the app runs reach the pop's own HTTP client (the feed,
/// a card's history): after the server turns silent, the next pull fails after the new 1 s
/// read limit, not the 15 s the client was first made with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_timeouts_reach_the_pops_reads_without_a_restart() {
    let (_server_dir, store, tenant) = server_with_agent().await;
    let zhang = customer(&store, &tenant, "张伟", &["+86 138 0013 8000"], "vip").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, AppState::new(store.clone()), async {
        let _ = stopped.await;
    }));
    let proxy = SilencingProxy::start(upstream).await;

    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path(), Arc::new(MemoryStore::new()), Default::default());
    let pop = ScreenPop::new(
        dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        desk.clone(),
    );
    desk.login(LoginRequest {
        server_url: format!("http://{}", proxy.addr),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    // The feed's client is made now, with the default limits (15 s to read).
    tokio::spawn(pop.clone().run_feed());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pop.feed_view().customers < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            pop.feed_view()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(pop.history(&zhang).await.unwrap().from_server);

    let settings = seatline_settings::SyncSettings {
        read_timeout_secs: 1,
        ..Default::default()
    };
    desk.set_timeouts(seatline_workspace::desk::sync_timeouts(&settings));
    proxy.go_silent();
    // Let the client's pool see its forwarded connections closed, so the next pull goes out
    // on a new one (into the silence) rather than failing at once on a dead one.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    pop.sync_now();
    while pop.feed_view().last_error.is_none() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "the pull from a silent server has not failed after {:?}: the old limits still hold",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    eprintln!(
        "pull failed after {took:?}: {:?}",
        pop.feed_view().last_error
    );
    assert!(took >= std::time::Duration::from_millis(900), "{took:?}");
}
