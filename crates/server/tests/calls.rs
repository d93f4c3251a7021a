//! The call log and agent state history over HTTP, on both backends: idempotent uploads
//! where the newest revision wins, bad rows reported without losing the good ones, and who may
//! read whose calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{world, Client, Kind, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    uploads_are_idempotent_and_the_newest_revision_wins,
    bad_calls_are_reported_and_the_rest_stored,
    who_reads_whose_calls,
    state_history_is_stored_once_and_scoped,
    survey_scores_join_their_calls_and_the_latest_wins,
    the_quality_report_finds_poor_calls_within_the_readers_scope,
);

async fn team(api: &Client, admin: &str, name: &str) -> String {
    let (status, body) = api
        .post("/api/v1/teams", Some(admin), json!({ "name": name }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A user in `team` (or none), logged in: (id, token).
async fn user(
    api: &Client,
    admin: &str,
    name: &str,
    role: &str,
    team: Option<&str>,
) -> (String, String) {
    let teams: Vec<&str> = team.into_iter().collect();
    let (status, body) = api
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": name, "password": PASSWORD, "role": role, "team_ids": teams}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    (id, api.login("alpha", name, PASSWORD).await)
}

fn call(id: &str, revision: i64, customer: Option<&str>) -> Value {
    json!({
        "id": id, "revision": revision, "direction": "incoming",
        "number": "013800138000", "e164": "+8613800138000", "customer_id": customer,
        "ivr": {"account": "A-1", "menu": "1>3"},
        "ring_at": 1_700_000_000_000_i64 + revision, "answer_at": 1_700_000_003_000_i64,
        "hold_ms": 0, "notes": ""
    })
}

fn ids(items: &Value) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn uploads_are_idempotent_and_the_newest_revision_wins(kind: Kind) {
    let w = world(kind).await;
    let (_, ann) = user(&w.api, &w.admin_a, "ann", "agent", None).await;

    let (status, report) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [call("c1", 1, None)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], json!(["c1"]));

    // The same call again (a retry after a lost response) changes nothing.
    let (_, report) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [call("c1", 1, None)]}),
        )
        .await;
    assert_eq!(report["unchanged"], json!(["c1"]));

    // The call ended and was wrapped up: revision 3 arrives before a delayed revision 2.
    let mut wrapped = call("c1", 3, None);
    wrapped["end_at"] = json!(1_700_000_060_000_i64);
    wrapped["wrap_up_code"] = json!("resolved");
    wrapped["wrap_up_at"] = json!(1_700_000_070_000_i64);
    wrapped["notes"] = json!("退款已说明 refund explained");
    // The phone's final quality: the peer sent no RTCP report, so no remote loss nor RTT.
    wrapped["quality"] = json!({"mos": 3.62, "loss_percent": 4.5, "jitter_ms": 31.25});
    let mut stale = call("c1", 2, None);
    stale["end_at"] = json!(1_700_000_050_000_i64);
    let (_, report) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [wrapped, stale]}),
        )
        .await;
    assert_eq!(report["stored"], json!(["c1"]));
    assert_eq!(report["unchanged"], json!(["c1"]));

    let (status, mine) = w.api.get("/api/v1/calls", Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["revision"], 3);
    assert_eq!(items[0]["end_at"], 1_700_000_060_000_i64);
    assert_eq!(items[0]["wrap_up_code"], "resolved");
    assert_eq!(items[0]["notes"], "退款已说明 refund explained");
    assert_eq!(items[0]["ivr"], json!({"account": "A-1", "menu": "1>3"}));
    assert_eq!(
        items[0]["quality"],
        json!({"mos": 3.62, "loss_percent": 4.5, "remote_loss_percent": null,
               "jitter_ms": 31.25, "rtt_ms": null})
    );

    // A batch of 50 new calls uploaded eight times at once (retries while the first is in
    // flight, so the transactions overlap): every upload succeeds, each call is stored once.
    let batch: Vec<Value> = (0..50)
        .map(|i| call(&format!("n{i:02}"), 1, None))
        .collect();
    let uploads: Vec<_> = (0..8)
        .map(|_| {
            let api = w.api.clone();
            let ann = ann.clone();
            let batch = batch.clone();
            tokio::spawn(async move {
                api.post("/api/v1/calls", Some(&ann), json!({ "calls": batch }))
                    .await
            })
        })
        .collect();
    let mut stored = 0;
    for upload in uploads {
        let (status, report) = upload.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{report}");
        let count = |key: &str| report[key].as_array().unwrap().len();
        assert_eq!(count("stored") + count("unchanged"), 50, "{report}");
        stored += count("stored");
    }
    assert_eq!(stored, 50);
    let (_, mine) = w.api.get("/api/v1/calls?limit=100", Some(&ann)).await;
    assert_eq!(ids(&mine).len(), 51, "{mine}");
}

async fn bad_calls_are_reported_and_the_rest_stored(kind: Kind) {
    let w = world(kind).await;
    let (_, ann) = user(&w.api, &w.admin_a, "ann", "agent", None).await;
    // A customer of the other tenant cannot be linked.
    let other = w
        .api
        .create_customer(
            &w.admin_b,
            json!({"name": "Beta Bob", "phones": ["+8613900139000"]}),
        )
        .await;
    let mut backwards = call("bad-times", 1, None);
    backwards["end_at"] = json!(5);
    let mut bad_quality = call("bad-quality", 1, None);
    bad_quality["quality"] = json!({"mos": 9.5});
    let (status, report) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [
                call("good", 1, None),
                backwards,
                call("foreign", 1, Some(other["id"].as_str().unwrap())),
                {"id": "sideways", "revision": 1, "direction": "sideways", "ring_at": 1_700_000_000_000_i64},
                bad_quality,
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], json!(["good"]));
    let rejected: Vec<(String, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert!(rejected[0].0 == "bad-times" && rejected[0].1.contains("end_at is before"));
    assert!(rejected[1].0 == "foreign" && rejected[1].1.contains("no customer"));
    assert!(rejected[2].0 == "sideways" && rejected[2].1.contains("neither incoming"));
    assert!(rejected[3].0 == "bad-quality" && rejected[3].1.contains("the MOS 9.5 is outside"));

    // A body that is not a call list at all is a clear 400, and too many calls a 413.
    let (status, body) = w
        .api
        .post("/api/v1/calls", Some(&ann), json!({"calls": [{"id": 5}]}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let many: Vec<Value> = (0..501).map(|i| call(&format!("m{i}"), 1, None)).collect();
    let (status, _) = w
        .api
        .post("/api/v1/calls", Some(&ann), json!({ "calls": many }))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing of the refused batches was stored.
    let (_, mine) = w.api.get("/api/v1/calls", Some(&ann)).await;
    assert_eq!(ids(&mine), vec!["good"]);
    let (status, _) = w.api.get("/api/v1/calls", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn who_reads_whose_calls(kind: Kind) {
    let w = world(kind).await;
    let x = team(&w.api, &w.admin_a, "x").await;
    let y = team(&w.api, &w.admin_a, "y").await;
    let (ann_id, ann) = user(&w.api, &w.admin_a, "ann", "agent", Some(&x)).await;
    let (bob_id, bob) = user(&w.api, &w.admin_a, "bob", "agent", Some(&y)).await;
    let (_, sue) = user(&w.api, &w.admin_a, "sue", "supervisor", Some(&x)).await;
    let zoe = w
        .api
        .create_customer(
            &w.admin_a,
            json!({"name": "Zoe", "phones": ["+8613800138000"]}),
        )
        .await;
    let zoe = zoe["id"].as_str().unwrap();

    for (token, id) in [(&ann, "ann-1"), (&bob, "bob-1")] {
        let (status, _) = w
            .api
            .post(
                "/api/v1/calls",
                Some(token),
                json!({"calls": [call(id, 1, Some(zoe))]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, report) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&bob),
            json!({"calls": [call("bob-2", 1, None)]}),
        )
        .await;
    assert_eq!(report["stored"], json!(["bob-2"]));

    // The customer's history follows the customer, whoever took the call.
    let (_, history) = w
        .api
        .get(&format!("/api/v1/calls?customer_id={zoe}"), Some(&ann))
        .await;
    let mut seen = ids(&history);
    seen.sort();
    assert_eq!(seen, vec!["ann-1", "bob-1"]);
    // Own calls only, unless a supervisor of the agent's team or an admin asks.
    let (_, mine) = w.api.get("/api/v1/calls", Some(&ann)).await;
    assert_eq!(ids(&mine), vec!["ann-1"]);
    let (status, body) = w
        .api
        .get(&format!("/api/v1/calls?agent_id={bob_id}"), Some(&ann))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = w
        .api
        .get(&format!("/api/v1/calls?agent_id={bob_id}"), Some(&sue))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "bob is not in sue's team");
    let (_, teams) = w.api.get("/api/v1/calls", Some(&sue)).await;
    assert_eq!(ids(&teams), vec!["ann-1"]);
    let (_, anns) = w
        .api
        .get(&format!("/api/v1/calls?agent_id={ann_id}"), Some(&sue))
        .await;
    assert_eq!(ids(&anns), vec!["ann-1"]);
    let (_, all) = w.api.get("/api/v1/calls?limit=10", Some(&w.admin_a)).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    // Another tenant's admin sees none of it.
    let (_, other) = w.api.get("/api/v1/calls", Some(&w.admin_b)).await;
    assert_eq!(other["items"], json!([]));
    let (_, other) = w
        .api
        .get(
            &format!("/api/v1/calls?customer_id={zoe}"),
            Some(&w.admin_b),
        )
        .await;
    assert_eq!(other["items"], json!([]));
    // An agent cannot write as another agent: the agent is the token's user.
    let (_, bobs) = w
        .api
        .get(
            &format!("/api/v1/calls?agent_id={bob_id}"),
            Some(&w.admin_a),
        )
        .await;
    assert!(bobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["agent_id"] == bob_id.as_str()));
    let (status, _) = w.api.get("/api/v1/calls?limit=0", Some(&ann)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn state_history_is_stored_once_and_scoped(kind: Kind) {
    let w = world(kind).await;
    let x = team(&w.api, &w.admin_a, "x").await;
    let (ann_id, ann) = user(&w.api, &w.admin_a, "ann", "agent", Some(&x)).await;
    let (_, sue) = user(&w.api, &w.admin_a, "sue", "supervisor", Some(&x)).await;
    let (_, eve) = user(&w.api, &w.admin_a, "eve", "agent", None).await;
    let states = json!({"states": [
        {"id": "s1", "state": "not_ready", "reason": "login", "at": 1_700_000_000_000_i64},
        {"id": "s2", "state": "ready", "at": 1_700_000_010_000_i64},
        {"id": "s3", "state": "on_call", "at": 1_700_000_020_000_i64},
        {"id": "s4", "state": "after_call_work", "at": 1_700_000_080_000_i64},
        {"id": "s5", "state": "ready", "wrap_up_code": "resolved", "at": 1_700_000_095_000_i64},
        {"id": "s6", "state": "asleep", "at": 1_700_000_099_000_i64},
    ]});
    let (_, report) = w
        .api
        .post("/api/v1/agent-states", Some(&ann), states.clone())
        .await;
    assert_eq!(report["stored"].as_array().unwrap().len(), 5);
    assert_eq!(report["rejected"][0]["id"], "s6");
    let (_, again) = w.api.post("/api/v1/agent-states", Some(&ann), states).await;
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 5);
    assert_eq!(again["stored"], json!([]));

    let (_, history) = w
        .api
        .get(
            &format!("/api/v1/agent-states?agent_id={ann_id}"),
            Some(&sue),
        )
        .await;
    let states: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["not_ready", "ready", "on_call", "after_call_work", "ready"]
    );
    assert_eq!(history["items"][4]["wrap_up_code"], "resolved");
    assert_eq!(history["items"][0]["reason"], "login");
    let (status, _) = w
        .api
        .get(
            &format!("/api/v1/agent-states?agent_id={ann_id}"),
            Some(&eve),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, own) = w.api.get("/api/v1/agent-states", Some(&eve)).await;
    assert_eq!(own["items"], json!([]));
}

async fn survey_scores_join_their_calls_and_the_latest_wins(kind: Kind) {
    let w = world(kind).await;
    let x = team(&w.api, &w.admin_a, "x").await;
    let (_, ann) = user(&w.api, &w.admin_a, "ann", "agent", Some(&x)).await;
    let (_, survey) = user(&w.api, &w.admin_a, "survey", "supervisor", None).await;
    let (status, _) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [call("c-1", 1, None), call("c-2", 1, None)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Agents may not score calls (their own least of all).
    let (status, _) = w
        .api
        .post(
            "/api/v1/call-scores",
            Some(&ann),
            json!({"scores": [{"call_id": "c-1", "score": 5, "at": 10}]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The survey posts: a good score, one for a call not uploaded yet, and bad ones with reasons.
    let (status, report) = w
        .api
        .post(
            "/api/v1/call-scores",
            Some(&survey),
            json!({"scores": [
                {"call_id": "c-1", "score": 4, "comment": "很耐心", "at": 1_700_000_100_000_i64},
                {"call_id": "c-later", "score": 2, "at": 1_700_000_100_000_i64},
                {"call_id": "c-2", "score": 9, "at": 1_700_000_100_000_i64},
                {"call_id": "", "score": 3, "at": 1_700_000_100_000_i64},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["stored"], json!(["c-1", "c-later"]));
    let reasons: Vec<&str> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{report}");
    assert!(reasons[0].contains("outside 1-5"), "{report}");
    assert!(reasons[1].contains("needs the call's id"), "{report}");

    // Resent (a retry) or older: unchanged. A later survey answer replaces the score.
    let (_, report) = w
        .api
        .post(
            "/api/v1/call-scores",
            Some(&survey),
            json!({"scores": [
                {"call_id": "c-1", "score": 4, "at": 1_700_000_100_000_i64},
                {"call_id": "c-later", "score": 1, "at": 1_700_000_000_000_i64},
                {"call_id": "c-later", "score": 5, "at": 1_700_000_200_000_i64},
            ]}),
        )
        .await;
    assert_eq!(report["unchanged"], json!(["c-1", "c-later"]), "{report}");
    assert_eq!(report["stored"], json!(["c-later"]), "{report}");

    // The agent reads the scores with the calls; the late call picks its score up on upload.
    let (_, calls) = w.api.get("/api/v1/calls", Some(&ann)).await;
    let score_of = |calls: &Value, id: &str| {
        calls["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["satisfaction"].clone())
    };
    assert_eq!(score_of(&calls, "c-1"), Some(json!(4)));
    assert_eq!(score_of(&calls, "c-2"), Some(Value::Null));
    let (status, _) = w
        .api
        .post(
            "/api/v1/calls",
            Some(&ann),
            json!({"calls": [call("c-later", 1, None)]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, calls) = w.api.get("/api/v1/calls", Some(&ann)).await;
    assert_eq!(score_of(&calls, "c-later"), Some(json!(5)));
    // Another tenant's scores stay there.
    let (status, report) = w
        .api
        .post(
            "/api/v1/call-scores",
            Some(&w.admin_b),
            json!({"scores": [{"call_id": "c-1", "score": 1, "at": 1_800_000_000_000_i64}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, calls) = w.api.get("/api/v1/calls", Some(&ann)).await;
    assert_eq!(score_of(&calls, "c-1"), Some(json!(4)));
}

/// A measured call of `agent` that rang at `ring_at`.
fn measured(id: &str, ring_at: i64, quality: Value) -> Value {
    let mut c = call(id, 1, None);
    c["ring_at"] = json!(ring_at);
    c["answer_at"] = json!(ring_at + 3_000);
    c["end_at"] = json!(ring_at + 60_000);
    c["quality"] = quality;
    c
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

/// The call-quality report with `query` as `token` sees it: (status, body).
async fn quality_report(api: &Client, token: Option<&str>, query: &str) -> (StatusCode, Value) {
    api.get(&format!("/api/v1/reports/call-quality?{query}"), token)
        .await
}

/// The report's agents, in its order.
fn agent_order(report: &Value) -> Vec<String> {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_quality_report_finds_poor_calls_within_the_readers_scope(kind: Kind) {
    let w = world(kind).await;
    let x = team(&w.api, &w.admin_a, "x").await;
    let y = team(&w.api, &w.admin_a, "y").await;
    let (ann_id, ann) = user(&w.api, &w.admin_a, "ann", "agent", Some(&x)).await;
    let (cat_id, cat) = user(&w.api, &w.admin_a, "cat", "agent", Some(&x)).await;
    let (bob_id, bob) = user(&w.api, &w.admin_a, "bob", "agent", Some(&y)).await;
    let (_, sue) = user(&w.api, &w.admin_a, "sue", "supervisor", Some(&x)).await;
    let t = 1_800_000_000_000_i64;
    // Ann's batch mixes calls with and without a remote loss and round trip: on PostgreSQL that
    // once failed ("incorrect binary data format"; sqlx's Any sent the missing figure as a
    // float4 NULL and the statement kept that type).
    let uploads = [
        (
            &ann,
            vec![
                measured(
                    "ann-good",
                    t + 1,
                    json!({"mos": 4.3, "loss_percent": 0.2, "jitter_ms": 4.0}),
                ),
                measured(
                    "ann-poor",
                    t + 2,
                    json!({"mos": 2.9, "loss_percent": 8.0, "remote_loss_percent": 3.0,
                           "jitter_ms": 40.0, "rtt_ms": 180.0}),
                ),
                // Never answered: logged, not measured.
                {
                    let mut c = call("ann-missed", 1, None);
                    c["ring_at"] = json!(t + 3);
                    c["answer_at"] = Value::Null;
                    c
                },
                // Before the period asked for.
                measured("ann-old", t - 1, json!({"mos": 1.5, "loss_percent": 30.0})),
            ],
        ),
        (
            &cat,
            vec![
                measured("cat-1", t + 4, json!({"mos": 3.4, "loss_percent": 5.0})),
                measured("cat-2", t + 5, json!({"mos": 3.1, "loss_percent": 6.0})),
            ],
        ),
        (
            &bob,
            vec![measured(
                "bob-1",
                t + 6,
                json!({"mos": 2.0, "loss_percent": 12.0}),
            )],
        ),
    ];
    for (token, calls) in uploads {
        let (status, report) = w
            .api
            .post("/api/v1/calls", Some(token), json!({ "calls": calls }))
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["rejected"], json!([]), "{report}");
    }
    let period = format!("since={t}&before={}", t + 1_000);

    // The supervisor: her team's agents, the one with most poor calls first; the poor calls
    // worst first, as many as asked; the per-agent figures count them all.
    let (status, r) = quality_report(&w.api, Some(&sue), &format!("{period}&limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(close(&r["poor_mos_below"], 3.6), "{r}");
    let agents = r["agents"].as_array().unwrap();
    assert_eq!(agent_order(&r), [cat_id.as_str(), ann_id.as_str()], "{r}");
    let (c, a) = (&agents[0], &agents[1]);
    assert_eq!(c["display_name"], "cat");
    assert_eq!(
        (
            c["calls"].as_i64(),
            c["measured"].as_i64(),
            c["poor"].as_i64()
        ),
        (Some(2), Some(2), Some(2))
    );
    assert!(
        close(&c["mean_mos"], 3.25) && close(&c["worst_mos"], 3.1),
        "{c}"
    );
    assert!(close(&c["max_loss_percent"], 6.0), "{c}");
    assert_eq!(c["mean_rtt_ms"], Value::Null, "no RTCP, no round trip");
    assert_eq!(
        (
            a["calls"].as_i64(),
            a["measured"].as_i64(),
            a["poor"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert!(
        close(&a["mean_mos"], 3.6) && close(&a["worst_mos"], 2.9),
        "{a}"
    );
    assert!(
        close(&a["mean_loss_percent"], 4.1) && close(&a["max_loss_percent"], 8.0),
        "{a}"
    );
    assert!(
        close(&a["mean_remote_loss_percent"], 3.0) && close(&a["mean_rtt_ms"], 180.0),
        "{a}"
    );
    assert!(close(&a["mean_jitter_ms"], 22.0), "{a}");
    let poor = ids(&json!({"items": r["poor_calls"]}));
    assert_eq!(poor, ["ann-poor", "cat-2"]);
    assert_eq!(r["poor_calls"][0]["agent_id"], ann_id.as_str());
    assert!(
        close(&r["poor_calls"][0]["quality"]["rtt_ms"], 180.0),
        "{r}"
    );

    // The admin: the whole tenant; bob's one poor call of one is a larger share than ann's.
    let (_, r) = quality_report(&w.api, Some(&w.admin_a), &period).await;
    assert_eq!(
        agent_order(&r),
        [cat_id.as_str(), bob_id.as_str(), ann_id.as_str()],
        "{r}"
    );
    assert_eq!(
        ids(&json!({"items": r["poor_calls"]})),
        ["bob-1", "ann-poor", "cat-2", "cat-1"]
    );
    // Without a period: ann's old call counts too.
    let (_, r) = quality_report(&w.api, Some(&w.admin_a), &format!("agent_id={ann_id}")).await;
    assert_eq!(r["agents"][0]["calls"], 4, "{r}");
    assert_eq!(
        ids(&json!({"items": r["poor_calls"]})),
        ["ann-old", "ann-poor"]
    );

    // An agent sees her own figures only; nobody reads outside their scope.
    let (_, r) = quality_report(&w.api, Some(&ann), &period).await;
    assert_eq!(agent_order(&r), [ann_id.as_str()], "{r}");
    for (token, agent) in [(&ann, &cat_id), (&sue, &bob_id)] {
        let (status, body) =
            quality_report(&w.api, Some(token), &format!("agent_id={agent}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (_, other) = quality_report(&w.api, Some(&w.admin_b), "").await;
    assert_eq!(
        (other["agents"].clone(), other["poor_calls"].clone()),
        (json!([]), json!([]))
    );
    // Bad requests are refused clearly.
    for bad in [
        format!("since={t}&before={t}"),
        "limit=0".to_owned(),
        "limit=501".to_owned(),
        "since=yesterday".to_owned(),
        "mood=grumpy".to_owned(),
    ] {
        let (status, body) = quality_report(&w.api, Some(&sue), &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = quality_report(&w.api, None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
