//! Storage and binary tests: migrations, pragmas, schema parity between the backends, the
//! `seatline-server` CLI (bootstrap, serve, graceful shutdown).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fresh_db, Kind, PASSWORD};
use seatline_server::accounts::{self, NewUser, UserPatch};
use seatline_server::authz::Role;
use seatline_server::{customers, Error, Store};
use serde_json::json;
use sqlx::Row;

both_backends!(
    migrations_are_idempotent_and_foreign_keys_hold,
    store_functions_are_tenant_scoped,
    cli_bootstrap_serve_and_sigterm,
    cursor_pull_misses_nothing_under_concurrent_writes,
    migration_3_keeps_orders_stored_before_it,
);

async fn migrations_are_idempotent_and_foreign_keys_hold(kind: Kind) {
    let db = fresh_db(kind).await;
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar::<_, i64>("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(db.store.pool())
            .await
            .unwrap();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7, 8]);

    let mut tx = db.store.begin_write().await.unwrap();
    let orphan = sqlx::query(
        "INSERT INTO team_members (team_id, user_id, tenant_id, added_at) VALUES ($1, $2, $3, 0)",
    )
    .bind("no-team")
    .bind("no-user")
    .bind("no-tenant")
    .execute(tx.conn())
    .await;
    assert!(orphan.is_err(), "foreign keys must be enforced on {kind:?}");
    drop(tx);
    let bad_role = sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, created_at, \
         updated_at) VALUES ('u', 't', 'x', 'x', 'root', 'h', 0, 0)",
    )
    .execute(db.store.pool())
    .await;
    assert!(bad_role.is_err());
}

async fn store_functions_are_tenant_scoped(kind: Kind) {
    let db = fresh_db(kind).await;
    let s = &db.store;
    let (a, _) = accounts::bootstrap_tenant(s, "alpha", "admin", PASSWORD)
        .await
        .unwrap();
    let (b, b_admin) = accounts::bootstrap_tenant(s, "beta", "admin", PASSWORD)
        .await
        .unwrap();
    let again = accounts::bootstrap_tenant(s, "Alpha", "root", PASSWORD).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    let patch = UserPatch {
        disabled: Some(true),
        ..Default::default()
    };
    let cross = accounts::update_user(s, &a.id, &b_admin.id, patch).await;
    assert!(matches!(cross, Err(Error::NotFound(_))));
    assert!(
        !accounts::get_user(s, &b.id, &b_admin.id)
            .await
            .unwrap()
            .disabled
    );

    let b_team = accounts::create_team(s, &b.id, "Night").await.unwrap();
    let new = NewUser {
        username: "ann".into(),
        display_name: None,
        password: PASSWORD.into(),
        role: Role::Agent,
        team_ids: vec![b_team.id.clone()],
    };
    assert!(matches!(
        accounts::create_user(s, &a.id, new).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(accounts::list_users(s, &a.id).await.unwrap().len(), 1);

    let input = customers::CustomerInput {
        name: "B only".into(),
        ..Default::default()
    };
    let c = customers::create(s, &b.id, &input).await.unwrap();
    assert!(matches!(
        customers::get(s, &a.id, &c.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        customers::delete(s, &a.id, &c.id).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(customers::get(s, &b.id, &c.id).await.unwrap(), c);

    // Expired tokens are purged, live ones kept.
    accounts::login(s, "alpha", "admin", PASSWORD, -2 * 86_400)
        .await
        .unwrap();
    let live = accounts::login(s, "alpha", "admin", PASSWORD, 3600)
        .await
        .unwrap();
    assert_eq!(accounts::purge_expired_tokens(s).await.unwrap(), 1);
    assert_eq!(
        accounts::authenticate(s, &live.token)
            .await
            .unwrap()
            .tenant_id,
        a.id
    );
}

#[tokio::test]
async fn sqlite_uses_wal_and_foreign_keys() {
    let db = fresh_db(Kind::Sqlite).await;
    assert!(db.sqlite_path().unwrap().join("seatline.db").is_file());
    let mut conn = db.store.pool().acquire().await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(fk, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_match_across_backends() {
    let lite = fresh_db(Kind::Sqlite).await;
    let pg = fresh_db(Kind::Postgres).await;
    let lite_columns = lite.store.schema_columns().await.unwrap();
    let pg_columns = pg.store.schema_columns().await.unwrap();
    assert!(lite_columns.contains(&("customers".to_owned(), "updated_at".to_owned())));
    assert!(lite_columns.len() > 40, "{lite_columns:?}");
    assert_eq!(lite_columns, pg_columns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_one_postgres() {
    let cluster = tokio::task::spawn_blocking(common::pg_cluster)
        .await
        .unwrap();
    let url = cluster.create_database().await;
    let stores: Vec<Store> = connect_three(&url).await;
    let results = tokio::join!(
        stores[0].migrate(),
        stores[1].migrate(),
        stores[2].migrate()
    );
    results.0.unwrap();
    results.1.unwrap();
    results.2.unwrap();
    let versions: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(versions, 8);
}

async fn connect_three(url: &str) -> Vec<Store> {
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Store::connect(url).await.unwrap());
    }
    stores
}

#[test]
fn missing_postgres_binaries_fail_with_a_clear_message() {
    let err = common::find_pg_bin(Some("/nonexistent/pg/bin".into())).unwrap_err();
    assert!(err.contains("apt-get install -y postgresql"), "{err}");
    assert!(err.contains("SEATLINE_PG_BIN"), "{err}");
}

#[test]
fn rejects_unknown_database_urls() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(Store::connect("mysql://localhost/x"));
    assert!(matches!(result, Err(Error::Invalid(_))));
}

const BIN: &str = env!("CARGO_BIN_EXE_seatline-server");

fn bootstrap(db_args: &[String], tenant: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("bootstrap")
        .args(["--tenant", tenant, "--admin", "boss"])
        .args(db_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Kills the server process if the test fails before shutting it down.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn cli_bootstrap_serve_and_sigterm(kind: Kind) {
    let db = fresh_db(kind).await;
    let db_args: Vec<String> = match kind {
        Kind::Sqlite => vec![
            "--data-dir".into(),
            db.sqlite_path().unwrap().display().to_string(),
        ],
        Kind::Postgres => vec!["--database-url".into(), db.url.clone().unwrap()],
    };
    let out = bootstrap(&db_args, "acme", PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created tenant acme"));
    let out = bootstrap(&db_args, "acme", PASSWORD);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = bootstrap(&db_args, "other", "short");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Child(
        Command::new(BIN)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(&db_args)
            .env("SEATLINE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = common::http_client();
    let started = Instant::now();
    loop {
        if let Ok(resp) = http.get(format!("{base}/healthz")).send().await {
            assert_eq!(resp.status(), reqwest::StatusCode::OK);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api = common::Client { base, http };
    let token = api.login("acme", "boss", PASSWORD).await;
    let c = api
        .create_customer(&token, json!({"name": "Via binary"}))
        .await;
    assert_eq!(c["name"], "Via binary");

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let child = std::mem::replace(&mut server.0, Command::new("true").spawn().unwrap());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {log}", out.status);
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(
        log.contains("path=/api/v1/customers") && log.contains("status=201"),
        "{log}"
    );
}

#[test]
fn serve_rejects_incomplete_or_unreadable_tls_settings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &data,
            "--tls-cert",
            "c.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
    let missing = dir.path().join("missing.pem").display().to_string();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
        .args(["--tls-cert", &missing, "--tls-key", &missing])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read TLS certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writers update customers concurrently while a desktop-like puller follows the cursor; after
/// a final drain the puller's copy equals the server's.
async fn cursor_pull_misses_nothing_under_concurrent_writes(kind: Kind) {
    use std::collections::BTreeMap;

    let db = fresh_db(kind).await;
    let (tenant, _) = accounts::bootstrap_tenant(&db.store, "alpha", "admin", PASSWORD)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..21 {
        let input = customers::CustomerInput {
            name: format!("C{i}"),
            ..Default::default()
        };
        ids.push(
            customers::create(&db.store, &tenant.id, &input)
                .await
                .unwrap()
                .id,
        );
    }
    let mut writers = Vec::new();
    for w in 0..4 {
        let (store, tenant_id, ids) = (db.store.clone(), tenant.id.clone(), ids.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..15 {
                // Customer 20 is only deleted, never updated.
                let id = &ids[(w * 7 + i) % 20];
                let patch = customers::CustomerPatch {
                    notes: Some(format!("w{w}-{i}")),
                    ..Default::default()
                };
                customers::update(&store, &tenant_id, id, &patch)
                    .await
                    .unwrap();
                if i == 14 && w == 0 {
                    customers::delete(&store, &tenant_id, &ids[20])
                        .await
                        .unwrap();
                }
            }
        }));
    }
    let pull = |cursor: Option<String>| {
        let (store, tenant_id) = (db.store.clone(), tenant.id.clone());
        async move {
            let params = customers::ListParams {
                cursor,
                limit: Some(7),
                include_deleted: true,
            };
            customers::list(&store, &tenant_id, &params).await.unwrap()
        }
    };
    let mut copy: BTreeMap<String, (i64, String, bool)> = BTreeMap::new();
    let mut cursor = None;
    let mut pulls = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        let page = pull(cursor.clone()).await;
        for c in page.items {
            copy.insert(c.id, (c.version, c.notes, c.deleted));
        }
        cursor = page.next_cursor;
        pulls += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    loop {
        let page = pull(cursor.clone()).await;
        let done = page.items.is_empty();
        for c in page.items {
            copy.insert(c.id, (c.version, c.notes, c.deleted));
        }
        cursor = page.next_cursor;
        if done {
            break;
        }
    }
    let everything = customers::ListParams {
        cursor: None,
        limit: Some(500),
        include_deleted: true,
    };
    let truth: BTreeMap<String, (i64, String, bool)> =
        customers::list(&db.store, &tenant.id, &everything)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| (c.id, (c.version, c.notes, c.deleted)))
            .collect();
    assert!(pulls > 0);
    assert_eq!(truth.len(), 21);
    assert_eq!(copy, truth);
    let total_versions: i64 = truth.values().map(|v| v.0).sum();
    assert_eq!(total_versions, 21 + 60 + 1);
}

/// A database at schema version 2 holding a work order in the old body format (no title,
/// description, phone or due time) upgrades through migration 3 with nothing lost: the row
/// keeps its body, the new columns take their defaults, and the body reads with defaults.
async fn migration_3_keeps_orders_stored_before_it(kind: Kind) {
    let db = fresh_db(kind).await;
    db.store.migrate().await.unwrap();
    let (tenant, _) = accounts::bootstrap_tenant(&db.store, "acme", "boss", PASSWORD)
        .await
        .unwrap();
    // Back to version 2: drop what migration 3 added.
    for sql in [
        "DROP INDEX work_orders_tenant_due",
        "DROP INDEX work_orders_tenant_phone",
        "ALTER TABLE work_orders DROP COLUMN title",
        "ALTER TABLE work_orders DROP COLUMN contact_phone",
        "ALTER TABLE work_orders DROP COLUMN due_at",
        "DELETE FROM schema_migrations WHERE version = 3",
    ] {
        sqlx::query(sql).execute(db.store.pool()).await.unwrap();
    }
    let id = "0190aaaa-0000-7000-8000-00000000abcd";
    let client = "0190aaaa-0000-7000-8000-000000000001";
    let stamp = json!({"physical_ms": 1, "logical": 0, "node": client});
    let meta = json!({"stamp": stamp, "version": 2});
    let body = json!({
        "id": id, "tenant": tenant.id, "team": "t1", "kind": {"type": "callback"},
        "customer_id": "李娜", "call_id": null, "category": "回电确认套餐变更",
        "priority": "normal", "assignee": null, "status": "new",
        "notes": [{"origin": {"client_id": client, "mutation_id": 2}, "author": "u1",
            "at": "2026-11-30T08:00:00Z", "text": "☎ +8615012345678\n⏰ 2026-12-01T10:00"}],
        "status_history": [],
        "field_stamps": {"priority": meta, "category": meta, "assignee": meta},
        "created_by": "u1", "origin": {"client_id": client, "mutation_id": 1},
        "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:00:00Z",
        "first_reply_at": null, "resolved_at": null, "version": 2
    })
    .to_string();
    sqlx::query(
        "INSERT INTO work_orders (id, tenant_id, team_id, assignee, status, kind, customer_id, \
         body, version, change_seq, created_at, updated_at) \
         VALUES ($1, $2, 't1', NULL, 'new', 'callback', $3, $4, 2, 1, 0, 0)",
    )
    .bind(id)
    .bind(&tenant.id)
    .bind("李娜")
    .bind(&body)
    .execute(db.store.pool())
    .await
    .unwrap();

    db.store.migrate().await.unwrap();
    let row =
        sqlx::query("SELECT body, title, contact_phone, due_at FROM work_orders WHERE id = $1")
            .bind(id)
            .fetch_one(db.store.pool())
            .await
            .unwrap();
    assert_eq!(
        row.try_get::<String, _>("body").unwrap(),
        body,
        "the body is untouched"
    );
    assert_eq!(row.try_get::<String, _>("title").unwrap(), "");
    assert_eq!(
        row.try_get::<Option<String>, _>("contact_phone").unwrap(),
        None
    );
    assert_eq!(row.try_get::<Option<i64>, _>("due_at").unwrap(), None);
    let order: seatline_work_orders::WorkOrder = serde_json::from_str(&body).unwrap();
    assert_eq!((order.title.as_str(), order.due_at), ("", None));
    assert_eq!(order.notes.len(), 1, "the marked note stays a note");
}
