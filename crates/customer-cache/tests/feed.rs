//! The cache pulls the real server's customer feed (the server library's router on loopback,
//! SQLite): every page lands, a second pull sends only changes, an edit moves the customer's
//! keys, a delete removes it, another tenant's customers never arrive, and a dead server or a
//! refused token is a clear error that keeps what the cache had; a silent one fails the pull
//! after the read timeout.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_customer_cache::feed::{self, FeedError, FEED_PAGE};
use seatline_customer_cache::{CustomerCache, Lookup};
use seatline_phone_numbers::{Normalizer, NormalizerOptions};
use seatline_server::accounts::{self, NewUser};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::Role;
use seatline_server::customers::{self, CustomerInput, CustomerPatch};
use seatline_server::Store;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

async fn login(http: &reqwest::Client, url: &str, tenant: &str) -> String {
    let login: serde_json::Value = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"tenant": tenant, "username": "agent", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_owned()
}

async fn tenant_with_agent(store: &Store, name: &str) -> String {
    let (tenant, _admin) = accounts::bootstrap_tenant(store, name, "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(store, &tenant.id, "一线")
        .await
        .unwrap();
    accounts::create_user(
        store,
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
    tenant.id
}

fn names(lookup: &Lookup) -> Vec<String> {
    match lookup {
        Lookup::Number { matches, .. } | Lookup::Unreadable { matches, .. } => {
            matches.iter().map(|c| c.name.clone()).collect()
        }
        Lookup::Withheld => vec![],
    }
}

#[tokio::test]
async fn the_cache_follows_the_servers_customer_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(&dir.path().join("server"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let demo = tenant_with_agent(&store, "demo").await;
    let other = tenant_with_agent(&store, "other").await;
    // More than one page, so paging and the cursor are exercised.
    let count = FEED_PAGE as usize + 37;
    let mut batch = Vec::new();
    for i in 0..count {
        batch.push(format!("客户{i},1390000{i:04},,standard,,"));
    }
    let csv = format!("name,phones,email,tier,tags,notes\n{}\n", batch.join("\n"));
    let parsed = customers::parse_csv(csv.as_bytes()).unwrap();
    let report = customers::import(&store, &demo, parsed).await.unwrap();
    assert_eq!(report.imported, count, "{report:?}");
    let zhang = customers::create(
        &store,
        &demo,
        &CustomerInput {
            name: "张伟".into(),
            phones: vec!["+86 138 0013 8000".into(), "010-6234 5678".into()],
            tier: Some("vip".into()),
            ..CustomerInput::default()
        },
    )
    .await
    .unwrap();
    customers::create(
        &store,
        &other,
        &CustomerInput {
            name: "别家客户".into(),
            phones: vec!["+8613700137000".into()],
            ..CustomerInput::default()
        },
    )
    .await
    .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store.clone()), async {
        let _ = stopped.await;
    }));
    let http = feed::client().unwrap();
    let token = login(&http, &url, "demo").await;

    let normalizer = Normalizer::new("CN", NormalizerOptions::with_area_code("10")).unwrap();
    let cache = CustomerCache::open(&dir.path().join("customers.db"), normalizer)
        .await
        .unwrap();
    let first = feed::pull(&http, &url, &token, &cache).await.unwrap();
    assert_eq!(first.changed as usize, count + 1);
    assert!(first.pages >= 2, "{first:?}");
    assert_eq!(cache.count().await.unwrap() as usize, count + 1);
    assert_eq!(
        names(&cache.lookup("013800138000").await.unwrap()),
        ["张伟"]
    );
    assert_eq!(names(&cache.lookup("62345678").await.unwrap()), ["张伟"]);
    assert_eq!(
        names(&cache.lookup("13900000042").await.unwrap()),
        ["客户42"]
    );
    assert!(
        names(&cache.lookup("13700137000").await.unwrap()).is_empty(),
        "another tenant"
    );

    // Nothing changed: one page, nothing applied.
    let again = feed::pull(&http, &url, &token, &cache).await.unwrap();
    assert_eq!(again.changed, 0);

    // An edit moves the keys; a delete removes the customer.
    customers::update(
        &store,
        &demo,
        &zhang.id,
        &CustomerPatch {
            phones: Some(vec!["+8613800138001".into()]),
            ..CustomerPatch::default()
        },
    )
    .await
    .unwrap();
    customers::delete(&store, &demo, &cache_id(&cache, "客户7").await)
        .await
        .unwrap();
    let changes = feed::pull(&http, &url, &token, &cache).await.unwrap();
    assert_eq!(changes.changed, 2);
    assert!(names(&cache.lookup("13800138000").await.unwrap()).is_empty());
    assert_eq!(names(&cache.lookup("13800138001").await.unwrap()), ["张伟"]);
    assert!(names(&cache.lookup("13900000007").await.unwrap()).is_empty());
    assert_eq!(cache.count().await.unwrap() as usize, count);

    // A refused token and a dead server are errors; the cache keeps what it had.
    let refused = feed::pull(&http, &url, "not-a-token", &cache).await;
    assert!(
        matches!(refused, Err(FeedError::Unauthorized)),
        "{refused:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let dead = feed::pull(&http, &url, &token, &cache).await;
    assert!(matches!(dead, Err(FeedError::Network(_))), "{dead:?}");
    assert_eq!(names(&cache.lookup("13800138001").await.unwrap()), ["张伟"]);
}

async fn cache_id(cache: &CustomerCache, name: &str) -> String {
    cache
        .search(name, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap()
        .id
}

/// A server that accepts the connection and then says nothing (frozen, or a dead NAT entry
/// on the way): the pull fails after the client's read timeout, with the cache untouched,
/// instead of hanging until the whole-request limit.
#[tokio::test]
async fn a_silent_server_fails_the_pull_after_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let normalizer = Normalizer::new("CN", NormalizerOptions::with_area_code("10")).unwrap();
    let cache = CustomerCache::open(&dir.path().join("customers.db"), normalizer)
        .await
        .unwrap();
    let http = feed::client_with(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(120),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let result = feed::pull(&http, &format!("http://{addr}"), "token", &cache).await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(FeedError::Network(_))),
        "a silent server: {result:?}"
    );
    // 1 s of silence, far below the 120 s request limit even on a loaded machine.
    assert!(
        took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(20),
        "the pull failed after {took:?}"
    );
    assert_eq!(cache.count().await.unwrap(), 0);
    hold.abort();
}
