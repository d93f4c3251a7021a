//! The center's playbook over HTTP on both backends: the default until a supervisor saves one,
//! who may save, stale edits refused, bad playbooks refused with every reason, tenants apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{world, Kind};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    the_default_until_a_supervisor_saves_one,
    a_stale_or_bad_edit_is_refused_and_changes_nothing,
);

async fn the_default_until_a_supervisor_saves_one(kind: Kind) {
    let w = world(kind).await;
    w.api.create_user(&w.admin_a, "ann", "agent").await;
    w.api.create_user(&w.admin_a, "sue", "supervisor").await;
    let ann = w.api.login("alpha", "ann", common::PASSWORD).await;
    let sue = w.api.login("alpha", "sue", common::PASSWORD).await;

    let (status, book) = w.api.get("/api/v1/playbook", Some(&ann)).await;
    assert_eq!(status, StatusCode::OK, "{book}");
    assert_eq!(book["revision"], 0);
    assert_eq!(book["wrap_up_codes"][0]["code"], "resolved");
    assert_eq!(book["after_call_work_limit_s"], 120);
    let (status, _) = w.api.get("/api/v1/playbook", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut edit = book.clone();
    edit["wrap_up_codes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "sales_lead", "labels": {"en": "Sales lead", "zh-CN": "销售线索"}}));
    edit["phrases"] =
        json!([{"category": "greeting", "lang": "zh-CN", "text": "您好，这里是星辰客服。"}]);
    edit["after_call_work_limit_s"] = json!(45);

    let (status, body) = w
        .api
        .put("/api/v1/playbook", Some(&ann), edit.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("supervisor"));

    let (status, saved) = w
        .api
        .put("/api/v1/playbook", Some(&sue), edit.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["revision"], 1);

    // Agents read what the supervisor saved; the other tenant still has the default.
    let (_, read) = w.api.get("/api/v1/playbook", Some(&ann)).await;
    assert_eq!(read, saved);
    assert_eq!(read["wrap_up_codes"].as_array().unwrap().len(), 9);
    assert_eq!(read["after_call_work_limit_s"], 45);
    assert_eq!(read["phrases"][0]["text"], "您好，这里是星辰客服。");
    let (_, other) = w.api.get("/api/v1/playbook", Some(&w.admin_b)).await;
    assert_eq!(other["revision"], 0);
    assert_eq!(other["wrap_up_codes"].as_array().unwrap().len(), 8);

    // An admin edits on top of revision 1.
    let mut next = read.clone();
    next["after_call_work_limit_s"] = json!(null);
    let (status, saved) = w.api.put("/api/v1/playbook", Some(&w.admin_a), next).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["revision"], 2);
    assert_eq!(saved["after_call_work_limit_s"], json!(null));
}

async fn a_stale_or_bad_edit_is_refused_and_changes_nothing(kind: Kind) {
    let w = world(kind).await;
    let (_, book) = w.api.get("/api/v1/playbook", Some(&w.admin_a)).await;

    // Two edits from revision 0: the first wins, the second is told to reload.
    let mut first = book.clone();
    first["after_call_work_limit_s"] = json!(60);
    let mut second = book.clone();
    second["after_call_work_limit_s"] = json!(300);
    let (status, _) = w.api.put("/api/v1/playbook", Some(&w.admin_a), first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = w
        .api
        .put("/api/v1/playbook", Some(&w.admin_a), second)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("holds revision 1"),
        "{body}"
    );
    // And from a revision the server never had.
    let mut ahead = book.clone();
    ahead["revision"] = json!(7);
    let (status, _) = w.api.put("/api/v1/playbook", Some(&w.admin_a), ahead).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Invalid: every problem named, nothing stored.
    let mut bad = book.clone();
    bad["revision"] = json!(1);
    bad["wrap_up_codes"] = json!([{"code": "Bad Code"}, {"code": "x"}, {"code": "x"}]);
    bad["not_ready_reasons"] = json!([{"code": "login"}]);
    bad["after_call_work_limit_s"] = json!(1);
    let (status, body) = w.api.put("/api/v1/playbook", Some(&w.admin_a), bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    for expected in [
        "\"Bad Code\" may only use",
        "\"x\" appears twice",
        "\"login\" is reserved",
        "10 to 3600 seconds",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing from {message}"
        );
    }
    // Unknown fields and wrong types are refused by the JSON reader.
    let (status, _) = w
        .api
        .put(
            "/api/v1/playbook",
            Some(&w.admin_a),
            json!({"wrap_up_codes": [], "not_ready_reasons": [], "acw": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, held) = w.api.get("/api/v1/playbook", Some(&w.admin_a)).await;
    assert_eq!(held["revision"], 1);
    assert_eq!(held["after_call_work_limit_s"], 60);
}
