//! HTTP API tests: a real server on 127.0.0.1:0, each test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::{world, Kind, TestServer, PASSWORD};
use reqwest::StatusCode;
use seatline_server::accounts;
use serde_json::{json, Value};

both_backends!(
    health_and_json_errors,
    login_logout_and_revoked_tokens,
    expired_and_disabled_are_refused,
    admin_manages_teams_and_users,
    agents_and_supervisors_cannot_manage_accounts,
    tenants_are_isolated,
    customer_crud_and_roles,
    cursor_pagination_pulls_changes,
    csv_import_reports_bad_rows,
    malformed_csv_is_rejected_whole,
);

async fn health_and_json_errors(kind: Kind) {
    let w = world(kind).await;
    let (status, body) = w.api.get("/healthz", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    let (status, body) = w.api.get("/api/v1/nope", Some(&w.admin_a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");

    let (status, body) = w.api.get("/api/v1/customers", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    assert!(body["message"].as_str().unwrap().contains("Authorization"));

    let resp = w
        .api
        .http
        .post(format!("{}/api/v1/customers", w.api.base))
        .bearer_auth(&w.admin_a)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("JSON"), "{body}");

    let (status, body) = w
        .api
        .post(
            "/api/v1/customers",
            Some(&w.admin_a),
            json!({"name": "X", "email": "bad"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("email"),
        "{body}"
    );

    let (status, body) = w.api.delete("/api/v1/login", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

async fn login_logout_and_revoked_tokens(kind: Kind) {
    let w = world(kind).await;
    for (tenant, user, password) in [
        ("alpha", "admin", "wrong password"),
        ("alpha", "nobody", PASSWORD),
        ("gamma", "admin", PASSWORD),
    ] {
        let (status, body) = w
            .api
            .post(
                "/api/v1/login",
                None,
                json!({"tenant": tenant, "username": user, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{tenant}/{user}");
        assert_eq!(body["message"], "invalid tenant, username or password");
    }

    let first = w.api.login("alpha", "admin", PASSWORD).await;
    let second = w.api.login("ALPHA", " Admin ", PASSWORD).await;
    assert_ne!(first, second);
    let (status, me) = w.api.get("/api/v1/me", Some(&first)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["username"], "admin");
    assert_eq!(me["user"]["role"], "admin");

    // Only hashes are stored.
    let stored: Vec<String> = sqlx::query_scalar::<_, String>("SELECT token_hash FROM auth_tokens")
        .fetch_all(w.db.store.pool())
        .await
        .unwrap();
    assert!(!stored.is_empty() && !stored.contains(&first));
    assert!(stored.contains(&accounts::hash_token(&first)));

    let (status, _) = w.api.post("/api/v1/logout", Some(&first), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = w.api.get("/api/v1/me", Some(&first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = w
        .api
        .post("/api/v1/customers", Some(&first), json!({"name": "X"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The other session is unaffected.
    let (status, _) = w.api.get("/api/v1/me", Some(&second)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w.api.get("/api/v1/me", Some("slt_forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn expired_and_disabled_are_refused(kind: Kind) {
    let w = world(kind).await;
    let expired = accounts::login(&w.db.store, "alpha", "admin", PASSWORD, 0)
        .await
        .unwrap();
    let (status, body) = w.api.get("/api/v1/me", Some(&expired.token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "token expired");

    let agent_id = w.api.create_user(&w.admin_a, "ann", "agent").await;
    let agent = w.api.login("alpha", "ann", PASSWORD).await;
    let (status, body) = w
        .api
        .patch(
            &format!("/api/v1/users/{agent_id}"),
            Some(&w.admin_a),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);
    let (status, _) = w.api.get("/api/v1/customers", Some(&agent)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = w
        .api
        .post(
            "/api/v1/login",
            None,
            json!({"tenant": "alpha", "username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn admin_manages_teams_and_users(kind: Kind) {
    let w = world(kind).await;
    let (status, north) = w
        .api
        .post("/api/v1/teams", Some(&w.admin_a), json!({"name": "North"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let north = north["id"].as_str().unwrap().to_owned();
    let (_, south) = w
        .api
        .post("/api/v1/teams", Some(&w.admin_a), json!({"name": "South"}))
        .await;
    let south = south["id"].as_str().unwrap().to_owned();
    let (status, body) = w
        .api
        .post("/api/v1/teams", Some(&w.admin_a), json!({"name": "North"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let (status, agent) = w
        .api
        .post(
            "/api/v1/users",
            Some(&w.admin_a),
            json!({"username": "Ann", "password": PASSWORD, "role": "agent", "team_ids": [north]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["username"], "ann");
    assert_eq!(agent["team_ids"], json!([north]));
    assert!(agent.get("password_hash").is_none());
    let sup_id = w.api.create_user(&w.admin_a, "sam", "supervisor").await;
    let (status, _) = w
        .api
        .post(
            &format!("/api/v1/teams/{south}/members"),
            Some(&w.admin_a),
            json!({"user_id": sup_id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = w
        .api
        .post(
            "/api/v1/users",
            Some(&w.admin_a),
            json!({"username": "ann", "password": PASSWORD, "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = w
        .api
        .post(
            "/api/v1/users",
            Some(&w.admin_a),
            json!({"username": "weak", "password": "short", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Team visibility: agent and supervisor see their teams, admin the tenant.
    let ann = w.api.login("alpha", "ann", PASSWORD).await;
    let sam = w.api.login("alpha", "sam", PASSWORD).await;
    let (_, me) = w.api.get("/api/v1/me", Some(&ann)).await;
    assert_eq!(me["visible_teams"], json!([north]));
    let (_, me) = w.api.get("/api/v1/me", Some(&sam)).await;
    assert_eq!(me["visible_teams"], json!([south]));
    let (_, me) = w.api.get("/api/v1/me", Some(&w.admin_a)).await;
    assert_eq!(me["visible_teams"], "tenant");
    let (_, teams) = w.api.get("/api/v1/teams", Some(&ann)).await;
    assert_eq!(teams.as_array().unwrap().len(), 1);
    let (_, teams) = w.api.get("/api/v1/teams", Some(&w.admin_a)).await;
    assert_eq!(teams.as_array().unwrap().len(), 2);

    let (status, users) = w.api.get("/api/v1/users", Some(&sam)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "ann", "sam"]);

    // Role change by admin, and removal from a team.
    let (status, body) = w
        .api
        .patch(
            &format!("/api/v1/users/{sup_id}"),
            Some(&w.admin_a),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    let (status, _) = w
        .api
        .delete(
            &format!("/api/v1/teams/{south}/members/{sup_id}"),
            Some(&w.admin_a),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, user) = w
        .api
        .get(&format!("/api/v1/users/{sup_id}"), Some(&w.admin_a))
        .await;
    assert_eq!(user["team_ids"], json!([]));
}

async fn agents_and_supervisors_cannot_manage_accounts(kind: Kind) {
    let w = world(kind).await;
    w.api.create_user(&w.admin_a, "ann", "agent").await;
    w.api.create_user(&w.admin_a, "sam", "supervisor").await;
    let ann = w.api.login("alpha", "ann", PASSWORD).await;
    let sam = w.api.login("alpha", "sam", PASSWORD).await;
    let (_, before) = w.api.get("/api/v1/users", Some(&w.admin_a)).await;
    for token in [&ann, &sam] {
        let (status, body) = w
            .api
            .post(
                "/api/v1/users",
                Some(token),
                json!({"username": "evil", "password": PASSWORD, "role": "admin"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "forbidden");
        let (status, _) = w
            .api
            .post("/api/v1/teams", Some(token), json!({"name": "Rogue"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = w.api.get("/api/v1/users", Some(&ann)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, after) = w.api.get("/api/v1/users", Some(&w.admin_a)).await;
    assert_eq!(before, after);
    assert_eq!(after.as_array().unwrap().len(), 3);
    let (_, teams) = w.api.get("/api/v1/teams", Some(&w.admin_a)).await;
    assert_eq!(teams, json!([]));
    let (status, _) = w
        .api
        .post(
            "/api/v1/login",
            None,
            json!({"tenant": "alpha", "username": "evil", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn tenants_are_isolated(kind: Kind) {
    let w = world(kind).await;
    let b_customer = w
        .api
        .create_customer(&w.admin_b, json!({"name": "Beta Corp", "tier": "vip"}))
        .await;
    let b_id = b_customer["id"].as_str().unwrap();
    let b_user = w.api.create_user(&w.admin_b, "bob", "agent").await;
    let (_, a_team) = w
        .api
        .post("/api/v1/teams", Some(&w.admin_a), json!({"name": "A-team"}))
        .await;
    let a_team = a_team["id"].as_str().unwrap();
    let (_, b_team) = w
        .api
        .post("/api/v1/teams", Some(&w.admin_b), json!({"name": "B-team"}))
        .await;
    let b_team = b_team["id"].as_str().unwrap();
    let a_user = w.api.create_user(&w.admin_a, "ann", "agent").await;

    let path = format!("/api/v1/customers/{b_id}");
    let attempts = [
        w.api.get(&path, Some(&w.admin_a)).await,
        w.api
            .patch(&path, Some(&w.admin_a), json!({"name": "Hijacked"}))
            .await,
        w.api.delete(&path, Some(&w.admin_a)).await,
        w.api
            .get(&format!("/api/v1/users/{b_user}"), Some(&w.admin_a))
            .await,
        w.api
            .patch(
                &format!("/api/v1/users/{b_user}"),
                Some(&w.admin_a),
                json!({"disabled": true}),
            )
            .await,
        w.api
            .patch(
                &format!("/api/v1/users/{b_user}"),
                Some(&w.admin_a),
                json!({"password": "pwned-pwned"}),
            )
            .await,
        w.api
            .post(
                &format!("/api/v1/teams/{a_team}/members"),
                Some(&w.admin_a),
                json!({"user_id": b_user}),
            )
            .await,
        w.api
            .post(
                &format!("/api/v1/teams/{b_team}/members"),
                Some(&w.admin_a),
                json!({"user_id": a_user}),
            )
            .await,
    ];
    for (i, (status, body)) in attempts.iter().enumerate() {
        assert!(
            *status == StatusCode::NOT_FOUND || *status == StatusCode::FORBIDDEN,
            "attempt {i}: {status} {body}"
        );
    }
    let (status, body) = w
        .api
        .post(
            "/api/v1/users",
            Some(&w.admin_a),
            json!({"username": "x", "password": PASSWORD, "role": "agent", "team_ids": [b_team]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Nothing changed in tenant B.
    let (status, after) = w.api.get(&path, Some(&w.admin_b)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, b_customer);
    let bob = w.api.login("beta", "bob", PASSWORD).await;
    let (_, me) = w.api.get("/api/v1/me", Some(&bob)).await;
    assert_eq!(me["user"]["disabled"], false);
    assert_eq!(me["visible_teams"], json!([]));
    let (_, b_teams) = w.api.get("/api/v1/teams", Some(&w.admin_b)).await;
    assert_eq!(b_teams[0]["member_ids"], json!([]));

    // Listings are per tenant.
    let (_, a_list) = w
        .api
        .get("/api/v1/customers?include_deleted=true", Some(&w.admin_a))
        .await;
    assert_eq!(a_list["items"], json!([]));
    let (_, a_users) = w.api.get("/api/v1/users", Some(&w.admin_a)).await;
    assert!(a_users
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["username"] != "bob"));
    // An import into A does not touch B.
    let (status, _) = w
        .api
        .post_csv(
            "/api/v1/customers/import",
            Some(&w.admin_a),
            "name\nAlpha One\n",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, b_list) = w.api.get("/api/v1/customers", Some(&w.admin_b)).await;
    assert_eq!(b_list["items"].as_array().unwrap().len(), 1);
}

async fn customer_crud_and_roles(kind: Kind) {
    let w = world(kind).await;
    w.api.create_user(&w.admin_a, "ann", "agent").await;
    w.api.create_user(&w.admin_a, "sam", "supervisor").await;
    let ann = w.api.login("alpha", "ann", PASSWORD).await;
    let sam = w.api.login("alpha", "sam", PASSWORD).await;

    let created = w
        .api
        .create_customer(
            &sam,
            json!({"name": " Zoe Z ", "phones": ["+49 30 1234-567", "+4930 1234567"], "email": "zoe@example.com",
                   "tier": "Gold", "tags": ["b2b", "b2b", "churn-risk"], "notes": "prefers mornings"}),
        )
        .await;
    assert_eq!(created["name"], "Zoe Z");
    assert_eq!(created["phones"], json!(["+49301234567"]));
    assert_eq!(created["tier"], "gold");
    assert_eq!(created["tags"], json!(["b2b", "churn-risk"]));
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/customers/{id}");

    // Agents read, and add new callers as standard customers, but change nothing else: no
    // tier, no edits, no deletes, no imports, and no second customer for a known number.
    let (status, read) = w.api.get(&path, Some(&ann)).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));
    let (status, body) = w
        .api
        .post(
            "/api/v1/customers",
            Some(&ann),
            json!({"name": "No", "tier": "vip"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("tier"), "{body}");
    let (status, body) = w
        .api
        .post(
            "/api/v1/customers",
            Some(&ann),
            json!({"name": "Zoe again", "phones": ["+49 30 1234567"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains(id), "{body}");
    let (status, caller) = w
        .api
        .post(
            "/api/v1/customers",
            Some(&ann),
            json!({"name": "新来电", "phones": ["+8613912345678"], "notes": "IVR: 1>2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{caller}");
    assert_eq!(caller["tier"], "standard");
    let caller_path = format!("/api/v1/customers/{}", caller["id"].as_str().unwrap());
    let (status, _) = w.api.delete(&caller_path, Some(&w.admin_a)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w.api.patch(&path, Some(&ann), json!({"name": "No"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w.api.delete(&path, Some(&ann)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w
        .api
        .post_csv("/api/v1/customers/import", Some(&ann), "name\nNo\n")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, unchanged) = w.api.get(&path, Some(&ann)).await;
    assert_eq!(unchanged, created);
    let (_, list) = w.api.get("/api/v1/customers", Some(&ann)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Supervisor updates with optimistic concurrency.
    let (status, updated) = w
        .api
        .patch(
            &path,
            Some(&sam),
            json!({"tier": "vip", "email": "", "expected_version": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["tier"], "vip");
    assert_eq!(updated["email"], Value::Null);
    assert_eq!(updated["name"], "Zoe Z");
    assert!(updated["cursor"].as_str().unwrap() > created["cursor"].as_str().unwrap());
    let (status, body) = w
        .api
        .patch(
            &path,
            Some(&sam),
            json!({"name": "Stale", "expected_version": 1}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (status, _) = w
        .api
        .patch(&path, Some(&sam), json!({"tier": "diamond"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, still) = w.api.get(&path, Some(&sam)).await;
    assert_eq!(still, updated);

    // Admin deletes; the tombstone stays in the change feed.
    let (status, _) = w.api.delete(&path, Some(&w.admin_a)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w.api.get(&path, Some(&sam)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w.api.delete(&path, Some(&sam)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = w.api.get("/api/v1/customers", Some(&sam)).await;
    assert_eq!(list["items"], json!([]));
    let (_, feed) = w
        .api
        .get("/api/v1/customers?include_deleted=true", Some(&ann))
        .await;
    // Both tombstones: the agent's caller (deleted first) and Zoe.
    assert_eq!(feed["items"].as_array().unwrap().len(), 2, "{feed}");
    assert_eq!(feed["items"][1]["id"], id);
    assert_eq!(feed["items"][1]["deleted"], true);
    assert_eq!(feed["items"][1]["version"], 3);
}

async fn cursor_pagination_pulls_changes(kind: Kind) {
    let w = world(kind).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = w
            .api
            .create_customer(&w.admin_a, json!({"name": format!("C{i}")}))
            .await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    // Page through everything.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/customers?limit=2&cursor={c}"),
            None => "/api/v1/customers?limit=2".to_owned(),
        };
        let (status, page) = w.api.get(&path, Some(&w.admin_a)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    let cursor = cursor.unwrap();

    // Nothing new since the cursor; the cursor is handed back.
    let (_, page) = w
        .api
        .get(
            &format!("/api/v1/customers?cursor={cursor}"),
            Some(&w.admin_a),
        )
        .await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["next_cursor"], cursor.as_str());

    // A change and a delete show up after the cursor, in change order.
    w.api
        .patch(
            &format!("/api/v1/customers/{}", ids[1]),
            Some(&w.admin_a),
            json!({"notes": "called"}),
        )
        .await;
    w.api
        .delete(&format!("/api/v1/customers/{}", ids[3]), Some(&w.admin_a))
        .await;
    let (_, page) = w
        .api
        .get(
            &format!("/api/v1/customers?include_deleted=true&cursor={cursor}"),
            Some(&w.admin_a),
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(
        (items[0]["id"].as_str(), items[0]["notes"].as_str()),
        (Some(ids[1].as_str()), Some("called"))
    );
    assert_eq!(
        (items[1]["id"].as_str(), items[1]["deleted"].as_bool()),
        (Some(ids[3].as_str()), Some(true))
    );

    for bad in ["limit=0", "limit=501", "cursor=garbage", "bogus=1"] {
        let (status, body) = w
            .api
            .get(&format!("/api/v1/customers?{bad}"), Some(&w.admin_a))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_request");
    }
}

async fn csv_import_reports_bad_rows(kind: Kind) {
    let w = world(kind).await;
    let csv = "\u{feff}Name,Phones,Email,Tier,Tags\n\
               Ann Ames,+1 555 0100;+1 555 0101,ann@example.com,gold,vip;b2b\n\
               ,555 0102,,,\n\
               \"Bob, Jr.\",,bob@example.com,,\n\
               Cy,not-a-phone,,,\n\
               Dee,,dee@,,\n\
               Eve,,,diamond,\n\
               Fay,5550199\n";
    let (status, report) = w
        .api
        .post_csv("/api/v1/customers/import", Some(&w.admin_a), csv)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"], 2);
    assert_eq!(report["batches"], 1);
    let rejected = report["rejected"].as_array().unwrap();
    let rows: Vec<(u64, u64)> = rejected
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, vec![(2, 3), (4, 5), (5, 6), (6, 7), (7, 8)]);
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("name"), "{reasons:?}");
    assert!(reasons[1].contains("phone"), "{reasons:?}");
    assert!(reasons[2].contains("email"), "{reasons:?}");
    assert!(reasons[3].contains("tier"), "{reasons:?}");
    assert!(reasons[4].contains("fields"), "{reasons:?}");

    let (_, list) = w.api.get("/api/v1/customers", Some(&w.admin_a)).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "Ann Ames");
    assert_eq!(items[0]["phones"], json!(["+15550100", "+15550101"]));
    assert_eq!(items[0]["tags"], json!(["vip", "b2b"]));
    assert_eq!(items[0]["tier"], "gold");
    assert_eq!(items[1]["name"], "Bob, Jr.");
    assert_eq!(items[1]["tier"], "standard");

    // Large import: one transaction per 500 rows.
    let mut big = String::from("name,phones\n");
    for i in 0..1201 {
        big.push_str(&format!("Bulk {i},{}\n", 5_550_000 + i));
    }
    let (status, report) = w
        .api
        .post_csv("/api/v1/customers/import", Some(&w.admin_a), &big)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["imported"].as_u64(), report["batches"].as_u64()),
        (Some(1201), Some(3))
    );
    let count: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM customers")
        .fetch_one(w.db.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 1203);
}

async fn malformed_csv_is_rejected_whole(kind: Kind) {
    let w = world(kind).await;
    let cases = [
        ("", "empty"),
        ("phones,email\n123,a@b.c\n", "name"),
        ("name,colour\nAnn,blue\n", "colour"),
        ("name,name\nAnn,Ann\n", "twice"),
    ];
    for (csv, needle) in cases {
        let (status, body) = w
            .api
            .post_csv("/api/v1/customers/import", Some(&w.admin_a), csv)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{csv:?}");
        assert_eq!(body["code"], "malformed_csv");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{csv:?}: {body}"
        );
    }
    let resp = w
        .api
        .http
        .post(format!("{}/api/v1/customers/import", w.api.base))
        .bearer_auth(&w.admin_a)
        .body(b"name\nAnn\n\xff\xfe\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("UTF-8"),
        "{body}"
    );
    let (_, list) = w.api.get("/api/v1/customers", Some(&w.admin_a)).await;
    assert_eq!(list["items"], json!([]));
}

/// Several instances on one PostgreSQL: tokens and data are in the database, not the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_postgres() {
    let db = common::fresh_db(Kind::Postgres).await;
    accounts::bootstrap_tenant(&db.store, "alpha", "admin", PASSWORD)
        .await
        .unwrap();
    let one = TestServer::start(db.store.clone()).await;
    let two = TestServer::start(db.second_store().await).await;
    assert_ne!(one.base, two.base);
    let (api1, api2) = (one.client(), two.client());

    let token = api1.login("alpha", "admin", PASSWORD).await;
    let (status, me) = api2.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["username"], "admin");

    let created = api1
        .create_customer(&token, json!({"name": "Shared", "phones": ["5550100"]}))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, read) = api2
        .get(&format!("/api/v1/customers/{id}"), Some(&token))
        .await;
    assert_eq!((status, &read), (StatusCode::OK, &created));
    let (status, updated) = api2
        .patch(
            &format!("/api/v1/customers/{id}"),
            Some(&token),
            json!({"tier": "vip", "expected_version": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = api1
        .get(&format!("/api/v1/customers/{id}"), Some(&token))
        .await;
    assert_eq!(read, updated);

    // Logout on one instance is honoured by the other at once.
    let (status, _) = api2.post("/api/v1/logout", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api1.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `serve_tls` answers HTTPS with a certificate from PEM files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_pem_files() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let db = common::fresh_db(Kind::Sqlite).await;
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    assert!(seatline_server::api::load_tls(&key_path, &key_path).is_err());
    let tls = seatline_server::api::load_tls(&cert_path, &key_path).unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = seatline_server::api::AppState::new(db.store.clone());
    let server = tokio::spawn(seatline_server::api::serve_tls(
        listener,
        state,
        tls,
        async {
            let _ = stopped.await;
        },
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut stream = None;
    for _ in 0..50 {
        if let Ok(tcp) = tokio::net::TcpStream::connect(addr).await {
            stream = Some(tcp);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls_stream = connector.connect(name, stream.unwrap()).await.unwrap();
    tls_stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tls_stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// `(METHOD, path)` of every route in the router's source (`router()` in src/api/mod.rs).
fn router_routes() -> std::collections::BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let start = source.find("pub fn router(").unwrap();
    let end = start + source[start..].find("\n}\n").unwrap();
    let mut routes = std::collections::BTreeSet::new();
    for chunk in source[start..end].split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).unwrap();
        let path = if path == "/healthz" {
            path.to_owned()
        } else {
            format!("/api/v1{path}")
        };
        let handlers = &chunk[chunk.find(',').unwrap()..];
        for method in ["get", "post", "put", "patch", "delete"] {
            let call = format!("{method}(");
            let found = handlers.match_indices(&call).any(|(i, _)| {
                i == 0
                    || !handlers[..i]
                        .chars()
                        .last()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if found {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// `(METHOD, path)` of every operation in openapi.yaml (paths at two spaces, methods at four).
fn openapi_operations() -> std::collections::BTreeSet<(String, String)> {
    let spec = include_str!("../openapi.yaml");
    let mut ops = std::collections::BTreeSet::new();
    let mut in_paths = false;
    let mut path = None::<String>;
    for line in spec.lines() {
        if !line.starts_with(' ') {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let Some(m) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let m = m.trim_end_matches(':');
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                ops.insert((m.to_uppercase(), path.clone().unwrap()));
            }
        }
    }
    ops
}

/// The hand-written OpenAPI description lists exactly the router's routes and methods, and
/// every operation it describes reaches a real route of a running server (no 404/405).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route() {
    let routes = router_routes();
    let ops = openapi_operations();
    assert!(
        routes.len() >= 24,
        "the router parse found too little: {routes:?}"
    );
    assert!(routes.contains(&("GET".into(), "/api/v1/work-orders".into())));
    assert!(routes.contains(&(
        "DELETE".into(),
        "/api/v1/teams/{team_id}/members/{user_id}".into()
    )));
    let missing: Vec<_> = routes.difference(&ops).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.yaml: {missing:?}"
    );
    let extra: Vec<_> = ops.difference(&routes).collect();
    assert!(
        extra.is_empty(),
        "openapi.yaml describes routes the router lacks: {extra:?}"
    );

    let db = common::fresh_db(Kind::Sqlite).await;
    let server = TestServer::start(db.store.clone()).await;
    let http = common::http_client();
    let send = |method: &str, path: &str| {
        let url = format!("{}{}", server.base, path.replace('{', "x").replace('}', ""));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        http.request(method, url).json(&json!({})).send()
    };
    for (method, path) in &ops {
        let status = send(method, path).await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} answered {status}"
        );
    }
    // The probe tells missing routes and methods apart from described ones.
    assert_eq!(
        send("DELETE", "/api/v1/work-orders")
            .await
            .unwrap()
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send("GET", "/api/v1/work-order").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
