//! Runs the real `seatline` binary the way scripts do.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn seatline(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_seatline"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SEATLINE_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn help_lists_the_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_seatline"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["info", "settings", "secret", "--data-dir"] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn info_reports_the_chosen_data_dir_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = seatline(dir.path(), &["info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["data_dir"], dir.path().to_str().unwrap());
    assert_eq!(info["data_dir_source"], "--data-dir");
    assert_eq!(info["language_pref"], "system");
}

#[test]
fn environment_variable_selects_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seatline"))
        .arg("info")
        .env("SEATLINE_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["data_dir"], dir.path().to_str().unwrap());
}

#[test]
fn settings_set_and_get_persist_and_bad_values_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        seatline(dir.path(), &["settings", "set", "language", "zh-CN"])
            .status
            .success()
    );
    let out = seatline(dir.path(), &["settings", "get", "language"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "zh-CN");
    let out = seatline(dir.path(), &["settings", "set", "language", "tlh"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown language \"tlh\""), "{err}");
    let out = seatline(dir.path(), &["settings", "get", "language"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "zh-CN");
}

#[test]
fn broken_settings_file_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.toml"), "language = ").unwrap();
    let out = seatline(dir.path(), &["info"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("settings_set_aside"), "{err}");
    assert!(dir.path().join("settings.toml.broken-1").exists());
}

#[test]
fn secret_names_are_validated_before_touching_the_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let out = seatline(dir.path(), &["secret", "check", "bad name"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("invalid secret name"));
}

#[test]
fn kb_import_reports_bad_files_and_search_prints_json_in_rank_order() {
    let data = tempfile::tempdir().unwrap();
    let articles = tempfile::tempdir().unwrap();
    std::fs::write(
        articles.path().join("refund.md"),
        "# 退款流程\n\n客户申请退款时，先核实订单，再在三个工作日内原路退回。\n",
    )
    .unwrap();
    std::fs::write(
        articles.path().join("password.md"),
        "# 重置密码\n\n客户忘记密码时，通过短信验证码重置。\n",
    )
    .unwrap();
    std::fs::write(articles.path().join("broken.md"), [0xff, 0xfe, 0x00]).unwrap();
    let out = seatline(
        data.path(),
        &["kb", "import", articles.path().to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"].as_array().unwrap().len(), 2);
    assert_eq!(report["skipped"][0]["file"], "broken.md");
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped broken.md"));

    let out = seatline(
        data.path(),
        &["kb", "search", "退款", "--json", "--limit", "5"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits[0]["id"], "refund");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("<mark>"));
    // A query in traditional script finds the simplified article.
    let out = seatline(data.path(), &["kb", "search", "忘記密碼", "--json"]);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits[0]["id"], "password");
    for pair in hits.as_array().unwrap().windows(2) {
        assert!(pair[0]["score"].as_f64() >= pair[1]["score"].as_f64());
    }
}

#[test]
fn kb_import_of_a_missing_folder_fails_clearly() {
    let data = tempfile::tempdir().unwrap();
    let out = seatline(data.path(), &["kb", "import", "/nonexistent/articles"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a folder"));
}

/// `orders create` takes every field the app's form has; bad values are refused before anything
/// is written. (The account file is the one `seatline sync` writes after a login: ids only.)
#[test]
fn orders_create_takes_kind_priority_title_phone_and_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let missing = seatline(dir.path(), &["orders", "list"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account"));
    std::fs::write(
        dir.path().join("account.json"),
        r#"{"server_url":"http://127.0.0.1:9","tenant":"demo","username":"agent","tenant_id":"t-1","user_id":"u-1"}"#,
    )
    .unwrap();
    let out = seatline(
        dir.path(),
        &[
            "orders",
            "create",
            "--team",
            "team-1",
            "--customer",
            "c-42",
            "--category",
            "billing",
            "--kind",
            "callback",
            "--priority",
            "high",
            "--title",
            "回电：账单疑问",
            "--description",
            "Customer asked for a call back",
            "--phone",
            "+8613800138000",
            "--due",
            "2026-12-02T10:30:00+08:00",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    let list = seatline(dir.path(), &["orders", "list"]);
    assert!(list.status.success());
    let orders: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let text = orders.to_string();
    assert_eq!(orders.as_array().unwrap().len(), 1, "{text}");
    for expected in [
        id.as_str(),
        "回电：账单疑问",
        "Customer asked for a call back",
        "+8613800138000",
        "\"callback\"",
        "\"high\"",
        "\"due_at\":\"2026-12-02T10:30:00+08:00\"",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }

    for (flag, value, says) in [
        ("--kind", "complain", "unknown kind"),
        ("--priority", "asap", "unknown priority"),
        ("--due", "tomorrow", "RFC 3339"),
    ] {
        let out = seatline(
            dir.path(),
            &[
                "orders",
                "create",
                "--team",
                "t",
                "--customer",
                "c",
                "--category",
                "x",
                flag,
                value,
            ],
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
    let list = seatline(dir.path(), &["orders", "list"]);
    let orders: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1);
}
