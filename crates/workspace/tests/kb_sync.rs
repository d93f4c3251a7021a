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
use seatline_workspace::screen_pop::{normalizer_for, PopError, ScreenPop};
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

/// The center: a server (SQLite in a temp folder) with tenant `demo` and `users`, on loopback.
/// Sending on the returned channel (or dropping it) stops the server.
async fn center(
    users: &[(&str, Role)],
) -> (
    tempfile::TempDir,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _) = accounts::bootstrap_tenant(&store, "demo", "admin", PASSWORD)
        .await
        .unwrap();
    for (name, role) in users {
        accounts::create_user(
            &store,
            &tenant.id,
            NewUser {
                username: (*name).into(),
                display_name: None,
                password: PASSWORD.into(),
                role: *role,
                team_ids: vec![],
            },
        )
        .await
        .unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store), async {
        let _ = stopped.await;
    }));
    (server_dir, url, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centers_articles_reach_the_desk_and_follow_its_edits() {
    let (_server_dir, url, stop, server) =
        center(&[("lead", Role::Supervisor), ("agent", Role::Agent)]).await;
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
    let build = index.build_id();
    let second = pop.pull_kb(&http).await.unwrap();
    assert_eq!(
        (
            second.changes,
            second.articles,
            second.reindexed,
            second.in_place
        ),
        (2, 2, true, true)
    );
    assert_eq!(index.build_id(), build, "two changes are applied in place");
    assert_eq!(index.num_docs(), 2);
    assert!(found(&index, "refund").is_empty());
    assert_eq!(found(&index, "LOS"), ["outage"]);
    assert_eq!(found(&index, "漫游"), ["roaming"]);

    // Someone imports a folder locally on top: the next change rebuilds the index whole
    // (an in-place change would keep the imported articles the center does not hold).
    index
        .replace_all(&[article(
            "local-again",
            "又一篇本地文章",
            "积分兑换说明",
            Lang::ZhCn,
        )])
        .unwrap();
    kb_sync::publish(
        &http,
        &url,
        &lead,
        &[article(
            "refund",
            "Refund policy",
            "Refunds reach the card within 5 days.",
            Lang::En,
        )],
        &[],
    )
    .await
    .unwrap();
    let third = pop.pull_kb(&http).await.unwrap();
    assert_eq!(
        (
            third.changes,
            third.articles,
            third.reindexed,
            third.in_place
        ),
        (1, 3, true, false)
    );
    assert!(
        found(&index, "积分").is_empty(),
        "the local import was replaced"
    );
    assert_eq!(found(&index, "refund"), ["refund"]);
    assert_eq!(found(&index, "LOS"), ["outage"]);
    // A deleted and re-published article stays once in the index.
    assert_eq!(index.num_docs(), 3);

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
        (
            again.changes,
            again.articles,
            again.reindexed,
            again.in_place
        ),
        (0, 3, true, false)
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

/// A desk signed in as `user`, following its own search index.
async fn signed_in_desk(url: &str, user: &str) -> (tempfile::TempDir, ScreenPop, Arc<KbIndex>) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path(), Arc::new(MemoryStore::new()), Default::default());
    let pop = ScreenPop::new(
        dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        desk.clone(),
    );
    let index = Arc::new(KbIndex::in_memory(IndexOptions::default()).unwrap());
    pop.follow_kb(index.clone());
    desk.login(LoginRequest {
        server_url: url.to_owned(),
        tenant: "demo".into(),
        username: user.into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    (dir, pop, index)
}

fn edit_code(result: Result<seatline_workspace::screen_pop::KbSaved, PopError>) -> &'static str {
    match result {
        Err(PopError::KbEdit(e)) => e.code(),
        other => panic!("not a knowledge-base edit error: {other:?}"),
    }
}

/// Two supervisors edit the center's articles on their desks: a save reaches the server and
/// the saver's search at once; the second save from the same loaded revision is a conflict and
/// overwrites nothing; after a reload it goes through. New articles get an id, invalid ones
/// are refused before anything is sent, an agent is refused by the server, and an edit of an
/// article deleted meanwhile is a conflict too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_edit_articles_on_their_desks_and_a_stale_edit_is_a_conflict() {
    let (_server_dir, url, _stop, server) = center(&[
        ("lead", Role::Supervisor),
        ("sue", Role::Supervisor),
        ("agent", Role::Agent),
    ])
    .await;
    let http = feed::client().unwrap();
    let lead_token = token(&http, &url, "lead").await;
    kb_sync::publish(
        &http,
        &url,
        &lead_token,
        &[article(
            "outage",
            "宽带断网处理",
            "先确认光猫指示灯。",
            Lang::ZhCn,
        )],
        &[],
    )
    .await
    .unwrap();
    let (_lead_dir, lead, lead_index) = signed_in_desk(&url, "lead").await;
    let (_sue_dir, sue, _sue_index) = signed_in_desk(&url, "sue").await;
    lead.pull_kb(&http).await.unwrap();
    sue.pull_kb(&http).await.unwrap();

    // Both open the article at the same revision.
    let mut lead_edit = lead.kb_editable("outage").await.unwrap().unwrap();
    let mut sue_edit = sue.kb_editable("outage").await.unwrap().unwrap();
    assert_eq!(lead_edit.revision, 1);
    assert_eq!(sue_edit, lead_edit);
    assert!(lead.kb_editable("nope").await.unwrap().is_none());

    lead_edit.body = "先确认光猫指示灯，再远程重启路由器。".into();
    let saved = lead.kb_save_article(&lead_edit).await.unwrap();
    assert_eq!(
        (saved.id.as_str(), saved.revision, saved.indexed),
        ("outage", 2, true)
    );
    assert_eq!(
        found(&lead_index, "路由器"),
        ["outage"],
        "the saver's search has it at once"
    );

    sue_edit.title = "宽带断网（苏）".into();
    let stale = sue.kb_save_article(&sue_edit).await;
    assert!(
        matches!(
            &stale,
            Err(PopError::KbEdit(kb_sync::KbEditError::Conflict { held: 2 }))
        ),
        "{stale:?}"
    );
    assert_eq!(edit_code(stale), "conflict");
    let held = lead.kb_editable("outage").await.unwrap().unwrap();
    assert_eq!(
        held.title, "宽带断网处理",
        "the stale edit overwrote nothing"
    );
    // Reloaded, her change applies on top of lead's.
    sue.pull_kb(&http).await.unwrap();
    let mut reloaded = sue.kb_editable("outage").await.unwrap().unwrap();
    assert!(reloaded.body.contains("路由器"));
    reloaded.title = "宽带断网（苏）".into();
    let saved = sue.kb_save_article(&reloaded).await.unwrap();
    assert_eq!(saved.revision, 3);

    // A new article: the desk makes its id; it is searchable at once.
    let new = kb_sync::EditableArticle {
        id: String::new(),
        title: " Refund policy ".into(),
        body: "Refunds reach the card within 7 days.".into(),
        tags: vec![" billing ".into(), "".into()],
        lang: "en".into(),
        revision: 0,
    };
    let created = lead.kb_save_article(&new).await.unwrap();
    assert!(created.id.starts_with("kb-"), "{created:?}");
    assert_eq!(
        found(&lead_index, "refund"),
        std::slice::from_ref(&created.id)
    );
    let stored = lead.kb_editable(&created.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.title.as_str(), stored.tags.as_slice()),
        ("Refund policy", &["billing".to_owned()][..])
    );

    // Refused here, before anything is sent: the server's revision does not move.
    for bad in [
        kb_sync::EditableArticle {
            title: "  ".into(),
            ..new.clone()
        },
        kb_sync::EditableArticle {
            title: "two\nlines".into(),
            ..new.clone()
        },
        kb_sync::EditableArticle {
            lang: "fr".into(),
            ..new.clone()
        },
        kb_sync::EditableArticle {
            body: " ".into(),
            ..new.clone()
        },
    ] {
        assert_eq!(edit_code(lead.kb_save_article(&bad).await), "invalid");
    }
    // Refused by the server: too long a title.
    let long = kb_sync::EditableArticle {
        title: "长".repeat(301),
        ..new.clone()
    };
    assert_eq!(edit_code(lead.kb_save_article(&long).await), "invalid");
    assert_eq!(lead.pull_kb(&http).await.unwrap().revision, 4);

    // An agent may read but not edit.
    let (_agent_dir, agent, _) = signed_in_desk(&url, "agent").await;
    agent.pull_kb(&http).await.unwrap();
    let mine = agent.kb_editable("outage").await.unwrap().unwrap();
    assert_eq!(edit_code(agent.kb_save_article(&mine).await), "forbidden");

    // Deleted while sue has it open: her save is a conflict, not a resurrection.
    let open = sue.kb_editable("outage").await.unwrap();
    let deleted = lead.kb_delete_article("outage").await.unwrap();
    assert_eq!(deleted.revision, 5);
    assert!(found(&lead_index, "光猫").is_empty());
    let result = sue.kb_save_article(&open.unwrap()).await;
    assert!(
        matches!(
            &result,
            Err(PopError::KbEdit(kb_sync::KbEditError::Deleted))
        ),
        "{result:?}"
    );
    server.abort();
}
