//! The knowledge base over HTTP, on both backends: supervisors publish (bad articles reported,
//! the rest stored; the same folder again changes nothing), agents pull the changes after the
//! revision they hold, deletions arrive as tombstones, tenants see only their own articles, and
//! concurrent publishers never make a pull skip a change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{world, Client, Kind, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    publish_then_pull_changes_after_a_revision,
    agents_cannot_publish_and_tenants_are_apart,
    concurrent_publishes_are_pulled_without_gaps,
    an_edit_from_a_stale_revision_is_a_conflict_not_an_overwrite,
);

async fn user(api: &Client, admin: &str, name: &str, role: &str) -> String {
    let (status, body) = api
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": name, "password": PASSWORD, "role": role, "team_ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    api.login("alpha", name, PASSWORD).await
}

fn article(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "body": format!("{title}：操作步骤……"), "tags": ["宽带"],
           "lang": "zh-CN"})
}

fn ids(page: &Value) -> Vec<String> {
    page["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn changes(api: &Client, token: &str, since: i64, limit: u32) -> Value {
    let (status, page) = api
        .get(
            &format!("/api/v1/kb/changes?since={since}&limit={limit}"),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

async fn publish_then_pull_changes_after_a_revision(kind: Kind) {
    let w = world(kind).await;
    let lead = user(&w.api, &w.admin_a, "lead", "supervisor").await;
    let ann = user(&w.api, &w.admin_a, "ann", "agent").await;

    // Nothing published yet: an empty page, and the pull stays where it was.
    let empty = changes(&w.api, &ann, 0, 10).await;
    assert_eq!(
        (ids(&empty).len(), empty["next_since"].as_i64()),
        (0, Some(0))
    );

    let mut bad_lang = article("fr-1", "Panne");
    bad_lang["lang"] = json!("fr");
    let (status, report) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&lead),
            json!({"articles": [article("outage", "宽带断网"), bad_lang,
                                article("refund", "退费流程"), article("bill", "账单查询")]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], json!(["outage", "refund", "bill"]));
    assert_eq!(report["rejected"][0]["id"], "fr-1");
    assert!(report["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not one of zh-CN"));
    assert_eq!(report["revision"], 3);

    // An agent pulls in pages of two.
    let first = changes(&w.api, &ann, 0, 2).await;
    assert_eq!(ids(&first), ["outage", "refund"]);
    assert_eq!(first["has_more"], true);
    let next = first["next_since"].as_i64().unwrap();
    let second = changes(&w.api, &ann, next, 2).await;
    assert_eq!(ids(&second), ["bill"]);
    assert_eq!(second["has_more"], false);
    let held = second["next_since"].as_i64().unwrap();
    assert_eq!(held, 3);
    assert_eq!(second["articles"][0]["tags"], json!(["宽带"]));
    assert_eq!(second["articles"][0]["deleted"], false);

    // Publishing the same folder again changes nothing; an edit and a deletion do.
    let (_, again) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&lead),
            json!({"articles": [article("outage", "宽带断网"), article("refund", "退费流程")]}),
        )
        .await;
    assert_eq!(again["unchanged"], json!(["outage", "refund"]));
    assert_eq!(again["revision"], 3);
    assert_eq!(ids(&changes(&w.api, &ann, held, 10).await).len(), 0);
    let (_, edit) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&lead),
            json!({"articles": [article("refund", "退费流程（新版）")],
                   "delete": ["bill", "never-existed"]}),
        )
        .await;
    assert_eq!(edit["stored"], json!(["refund"]));
    assert_eq!(edit["deleted"], json!(["bill"]));
    let later = changes(&w.api, &ann, held, 10).await;
    assert_eq!(ids(&later), ["refund", "bill"]);
    assert_eq!(later["articles"][0]["title"], "退费流程（新版）");
    let tombstone = &later["articles"][1];
    assert_eq!(
        (tombstone["deleted"].as_bool(), tombstone["body"].as_str()),
        (Some(true), Some(""))
    );
    // Deleting it again is not a change.
    let (_, twice) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&lead),
            json!({"delete": ["bill"]}),
        )
        .await;
    assert_eq!(twice["deleted"], json!([]));

    // A page size out of range is a clear 400.
    let (status, body) = w.api.get("/api/v1/kb/changes?limit=0", Some(&ann)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn agents_cannot_publish_and_tenants_are_apart(kind: Kind) {
    let w = world(kind).await;
    let ann = user(&w.api, &w.admin_a, "ann", "agent").await;
    let (status, body) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&ann),
            json!({"articles": [article("x", "X")]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&w.admin_a),
            json!({"articles": [article("alpha-only", "Alpha")]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&changes(&w.api, &ann, 0, 10).await), ["alpha-only"]);
    assert!(ids(&changes(&w.api, &w.admin_b, 0, 10).await).is_empty());
    // Beta's admin cannot delete alpha's article: the id is simply unknown in beta.
    let (_, report) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&w.admin_b),
            json!({"delete": ["alpha-only"]}),
        )
        .await;
    assert_eq!(report["deleted"], json!([]));
    assert_eq!(ids(&changes(&w.api, &ann, 0, 10).await), ["alpha-only"]);
    // Without a token, nothing.
    let (status, _) = w.api.get("/api/v1/kb/changes", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&w.admin_a),
            json!({"articles": (0..501).map(|i| article(&format!("a{i}"), "T")).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// Two supervisors publish at once while an agent pulls: the agent ends with every article
/// at its last version, having never seen a revision twice or skipped one.
async fn concurrent_publishes_are_pulled_without_gaps(kind: Kind) {
    let w = world(kind).await;
    let one = user(&w.api, &w.admin_a, "lead1", "supervisor").await;
    let two = user(&w.api, &w.admin_a, "lead2", "supervisor").await;
    let ann = user(&w.api, &w.admin_a, "ann", "agent").await;
    let publisher = |token: String, prefix: &'static str| {
        let api = w.api.clone();
        tokio::spawn(async move {
            for round in 0..10 {
                let batch: Vec<Value> = (0..3)
                    .map(|i| article(&format!("{prefix}-{i}"), &format!("{prefix} {i} v{round}")))
                    .collect();
                let (status, body) = api
                    .post(
                        "/api/v1/kb/articles",
                        Some(&token),
                        json!({ "articles": batch }),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        })
    };
    let a = publisher(one, "one");
    let b = publisher(two, "two");
    let mut since = 0;
    let mut seen = std::collections::BTreeMap::new();
    let mut revisions = Vec::new();
    let pull = |since: i64| changes(&w.api, &ann, since, 4);
    loop {
        let done = a.is_finished() && b.is_finished();
        let page = pull(since).await;
        for item in page["articles"].as_array().unwrap() {
            revisions.push(item["revision"].as_i64().unwrap());
            seen.insert(
                item["id"].as_str().unwrap().to_owned(),
                item["title"].as_str().unwrap().to_owned(),
            );
        }
        since = page["next_since"].as_i64().unwrap();
        if done && page["has_more"] == false {
            break;
        }
    }
    a.await.unwrap();
    b.await.unwrap();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    assert_eq!(
        since, 60,
        "60 changes: 2 publishers x 10 rounds x 3 articles"
    );
    assert_eq!(seen.len(), 6);
    assert!(seen.values().all(|title| title.ends_with("v9")), "{seen:?}");
}

async fn publish(api: &Client, token: &str, articles: Value) -> Value {
    let (status, report) = api
        .post(
            "/api/v1/kb/articles",
            Some(token),
            json!({ "articles": articles }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// Two supervisors edit the same article in the app: the second save, made from the revision
/// both loaded, is refused as a conflict naming the revision held now, and stores nothing; a
/// new article whose id is taken, and an edit of an article deleted meanwhile, conflict too.
async fn an_edit_from_a_stale_revision_is_a_conflict_not_an_overwrite(kind: Kind) {
    let w = world(kind).await;
    let lead = user(&w.api, &w.admin_a, "lead", "supervisor").await;
    let sue = user(&w.api, &w.admin_a, "sue", "supervisor").await;
    let mut first = article("outage", "宽带断网");
    first["base_revision"] = json!(0);
    let report = publish(&w.api, &lead, json!([first])).await;
    assert_eq!(report["stored"], json!(["outage"]), "{report}");
    let loaded = report["revision"].as_i64().unwrap();

    // Both load revision `loaded`; lead saves first.
    let mut lead_edit = article("outage", "宽带断网（新版）");
    lead_edit["base_revision"] = json!(loaded);
    let report = publish(&w.api, &lead, json!([lead_edit])).await;
    assert_eq!(report["stored"], json!(["outage"]), "{report}");
    let now_held = report["revision"].as_i64().unwrap();
    let mut sue_edit = article("outage", "宽带断网（苏的版本）");
    sue_edit["base_revision"] = json!(loaded);
    let report = publish(&w.api, &sue, json!([sue_edit])).await;
    assert_eq!(report["stored"], json!([]), "{report}");
    assert_eq!(
        report["conflicts"],
        json!([{"id": "outage", "revision": now_held}])
    );
    let page = changes(&w.api, &sue, 0, 10).await;
    assert_eq!(page["articles"][0]["title"], "宽带断网（新版）");
    assert_eq!(
        page["next_since"].as_i64(),
        Some(now_held),
        "nothing stored"
    );
    // Reloaded, her edit goes through.
    let mut sue_edit = article("outage", "宽带断网（苏的版本）");
    sue_edit["base_revision"] = json!(now_held);
    let report = publish(&w.api, &sue, json!([sue_edit])).await;
    assert_eq!(report["stored"], json!(["outage"]), "{report}");

    // A "new" article whose id exists, and an edit of one deleted since it was loaded.
    let mut clash = article("outage", "另一篇");
    clash["base_revision"] = json!(0);
    let report = publish(&w.api, &lead, json!([article("bill", "账单查询")])).await;
    let bill_revision = report["revision"].as_i64().unwrap();
    let (status, _) = w
        .api
        .post(
            "/api/v1/kb/articles",
            Some(&lead),
            json!({"articles": [], "delete": ["bill"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut gone = article("bill", "账单查询（改）");
    gone["base_revision"] = json!(bill_revision);
    let report = publish(&w.api, &sue, json!([clash, gone])).await;
    let held = changes(&w.api, &sue, 0, 10).await;
    let outage_revision = held["articles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "outage")
        .unwrap()["revision"]
        .clone();
    assert_eq!(
        report["conflicts"],
        json!([{"id": "outage", "revision": outage_revision}, {"id": "bill", "revision": 0}]),
        "{report}"
    );
    // Without a base revision (a bulk import) the article is replaced as before.
    let report = publish(&w.api, &lead, json!([article("outage", "导入版")])).await;
    assert_eq!(report["stored"], json!(["outage"]), "{report}");
}
