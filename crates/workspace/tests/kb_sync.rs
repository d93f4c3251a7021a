//! The center's knowledge base reaching a desktop, against the real server (the library's
//! router on loopback, SQLite): a supervisor publishes, the agent's desk pulls the changes into
//! its mirror and search index (replacing a locally imported folder), edits and deletions
//! follow, a lost index is rebuilt from the mirror, and a dead server leaves the articles in
//! use searchable.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_customer_cache::feed;
use seatline_kb_search::{Article, IndexOptions, KbIndex, Lang};
use seatline_secrets::MemoryStore;
use seatline_server::accounts::{self, NewUser};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::Role;
use seatline_server::Store;
use seatline_settings::Settings;
use seatline_workspace::desk::LoginRequest;
use seatline_workspace::kb_sync;
use seatline_workspace::screen_pop::{normalizer_for, ScreenPop};
use seatline_workspace::Desk;
use std::sync::Arc;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

fn article(id: &str, title: &str, body: &str, lang: Lang) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        tags: vec!["宽带".into()],
        lang,
    }
}

fn found(index: &KbIndex, query: &str) -> Vec<String> {
    index
        .search(query, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

async fn token(http: &reqwest::Client, url: &str, user: &str) -> String {
    let reply: serde_json::Value = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"tenant": "demo", "username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centers_articles_reach_the_desk_and_follow_its_edits() {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _) = accounts::bootstrap_tenant(&store, "demo", "admin", PASSWORD)
        .await
        .unwrap();
    for (name, role) in [("lead", Role::Supervisor), ("agent", Role::Agent)] {
        accounts::create_user(
            &store,
            &tenant.id,
            NewUser {
                username: name.into(),
                display_name: None,
                password: PASSWORD.into(),
                role,
                team_ids: vec![],
            },
        )
        .await
        .unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store.clone()), async {
        let _ = stopped.await;
    }));
    let http = feed::client().unwrap();
    let lead = token(&http, &url, "lead").await;

    // The desk has a locally imported folder (the demo's) and signs in as the agent.
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(KbIndex::in_memory(IndexOptions::default()).unwrap());
    index
        .replace_all(&[article(
            "local-only",
            "本地导入的旧文章",
            "话费查询的旧说明",
            Lang::ZhCn,
        )])
        .unwrap();
    let desk = Desk::new(dir.path(), Arc::new(MemoryStore::new()), Default::default());
    let pop = ScreenPop::new(
        dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        desk.clone(),
    );
    // Not following an index yet: nothing to do.
    assert!(pop.pull_kb(&http).await.is_none());
    pop.follow_kb(index.clone());
    // Signed out: nothing pulled.
    assert!(pop.pull_kb(&http).await.is_none());
    desk.login(LoginRequest {
        server_url: url.clone(),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();

    // The center has published nothing: the local folder stays the knowledge base.
    let none = pop.pull_kb(&http).await.unwrap();
    assert_eq!((none.changes, none.articles, none.reindexed), (0, 0, false));
    assert_eq!(found(&index, "话费"), ["local-only"]);

    // An agent may not publish; the supervisor may.
    let agent_token = token(&http, &url, "agent").await;
    let refused = kb_sync::publish(&http, &url, &agent_token, &[], &["x".into()]).await;
    assert!(
        matches!(
            refused,
            Err(kb_sync::KbSyncError::Server { status: 403, .. })
        ),
        "{refused:?}"
    );
    let published = kb_sync::publish(
        &http,
        &url,
        &lead,
        &[
            article(
                "outage",
                "宽带断网处理",
                "先确认光猫指示灯，再远程重启。",
                Lang::ZhCn,
            ),
            article(
                "roaming",
                "國際漫遊開通",
                "出國前請先開通國際漫遊服務。",
                Lang::ZhTw,
            ),
            article(
                "refund",
                "Refund policy",
                "Refunds reach the card within 7 days.",
                Lang::En,
            ),
        ],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(published.stored.len(), 3);

    let first = pop.pull_kb(&http).await.unwrap();
    assert_eq!(
        (
            first.changes,
            first.articles,
            first.revision,
            first.reindexed
        ),
        (3, 3, 3, true)
    );
    assert_eq!(found(&index, "光猫"), ["outage"]);
    // Simplified query, traditional article: the index folds scripts.
    assert_eq!(found(&index, "国际漫游"), ["roaming"]);
    assert_eq!(found(&index, "refund"), ["refund"]);
    assert!(
        found(&index, "话费").is_empty(),
        "the local folder was replaced"
    );
    let view = pop.feed_view();
    assert_eq!((view.kb_revision, view.kb_articles), (3, 3));
    assert!(view.kb_error.is_none());

    // Nothing new: no change, no rebuild.
    let idle = pop.pull_kb(&http).await.unwrap();
    assert_eq!((idle.changes, idle.reindexed), (0, false));

    // An edit and a deletion follow.
    let edit = kb_sync::publish(
        &http,
        &url,
        &lead,
        &[article(
            "outage",
            "宽带断网处理（新版）",
            "先看光猫的 LOS 灯是否红色闪烁。",
            Lang::ZhCn,
        )],
        &["refund".into()],
    )
    .await
    .unwrap();
    assert_eq!((edit.stored.len(), edit.deleted.len()), (1, 1));
    let second = pop.pull_kb(&http).await.unwrap();
    assert_eq!((second.changes, second.articles), (2, 2));
    assert!(found(&index, "refund").is_empty());
    assert_eq!(found(&index, "LOS"), ["outage"]);

    // The app restarts with its index folder lost: the mirror fills a new one at the next
    // pull, with nothing fetched again.
    let fresh = Arc::new(KbIndex::in_memory(IndexOptions::default()).unwrap());
    let restarted = ScreenPop::new(
        dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        desk.clone(),
    );
    restarted.follow_kb(fresh.clone());
    let again = restarted.pull_kb(&http).await.unwrap();
    assert_eq!(
        (again.changes, again.articles, again.reindexed),
        (0, 2, true)
    );
    assert_eq!(found(&fresh, "漫游"), ["roaming"]);

    // The server dies: the pull fails visibly and the articles in use stay searchable.
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let dead = feed::client().unwrap();
    assert!(restarted.pull_kb(&dead).await.is_none());
    let view = restarted.feed_view();
    assert!(
        view.kb_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach the server")),
        "{view:?}"
    );
    assert_eq!(found(&fresh, "光猫"), ["outage"]);
}
