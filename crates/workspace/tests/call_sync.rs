//! The call log and the agent's state history reach the real server (the library's router on
//! loopback, SQLite): logged first, pushed when signed in, each call at its latest revision,
//! nothing lost while the server is down, a refused call kept with the server's reason.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_agent_state::{AgentEvent, AgentMachine, AgentPolicy};
use seatline_customer_cache::feed;
use seatline_secrets::MemoryStore;
use seatline_server::accounts::{self, NewUser};
use seatline_server::api::{serve, AppState};
use seatline_server::authz::{Principal, Role};
use seatline_server::calls::{self, CallQuery, StateQuery};
use seatline_server::customers::{self, CustomerInput};
use seatline_server::Store;
use seatline_settings::Settings;
use seatline_workspace::call_log::{CallSignal, StateEntry};
use seatline_workspace::call_quality::CallQuality;
use seatline_workspace::desk::LoginRequest;
use seatline_workspace::screen_pop::{normalizer_for, CallbackPromise, PopRequest, ScreenPop};
use seatline_workspace::Desk;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

/// The server on its own runtime, so stopping it drops every connection at once (a dead
/// server, not a graceful drain that waits for the desktop's idle keep-alive connections).
struct Server {
    url: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn start(store: &Store, port: u16) -> Server {
    let store = store.clone();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (ready, url) = tokio::sync::oneshot::channel::<String>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let _ = ready.send(format!("http://{}", listener.local_addr().unwrap()));
            tokio::spawn(serve(
                listener,
                AppState::new(store),
                std::future::pending(),
            ));
        });
        let _ = stopped.recv();
        runtime.shutdown_background();
    });
    Server {
        url: url.await.unwrap(),
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Server {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join().unwrap())
                .await
                .unwrap();
        }
    }
}

fn agent(user_id: &str, tenant_id: &str) -> Principal {
    Principal {
        user_id: user_id.into(),
        tenant_id: tenant_id.into(),
        username: "agent".into(),
        role: Role::Agent,
        token_hash: String::new(),
    }
}

/// A tenant with one agent (in team 一线) and the customer 张伟 on a running server, and a
/// desktop signed in as that agent with its customer cache filled.
struct World {
    store: Store,
    server_dir: tempfile::TempDir,
    tenant_id: String,
    team_id: String,
    user_id: String,
    zhang_id: String,
    server: Server,
    port: u16,
    dir: tempfile::TempDir,
    desk: Desk,
    pop: ScreenPop,
    http: reqwest::Client,
}

async fn world() -> World {
    let server_dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(server_dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    let (tenant, _) = accounts::bootstrap_tenant(&store, "demo", "admin", PASSWORD)
        .await
        .unwrap();
    let team = accounts::create_team(&store, &tenant.id, "一线")
        .await
        .unwrap();
    let user = accounts::create_user(
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
    let zhang = customers::create(
        &store,
        &tenant.id,
        &CustomerInput {
            name: "张伟".into(),
            phones: vec!["+8613800138000".into()],
            ..CustomerInput::default()
        },
    )
    .await
    .unwrap();
    let server = start(&store, 0).await;
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path(), Arc::new(MemoryStore::new()), Default::default());
    let pop = ScreenPop::new(
        dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        desk.clone(),
    );
    let http = feed::client().unwrap();
    desk.login(LoginRequest {
        server_url: server.url.clone(),
        tenant: "demo".into(),
        username: "agent".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    pop.pull_once(&http).await.unwrap();
    World {
        store,
        server_dir,
        tenant_id: tenant.id,
        team_id: team.id,
        user_id: user.id,
        zhang_id: zhang.id,
        server,
        port,
        dir,
        desk,
        pop,
        http,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_states_reach_the_server_at_their_latest_revision_across_an_outage() {
    let World {
        store,
        server_dir: _server_dir,
        tenant_id,
        team_id: _,
        user_id,
        zhang_id,
        server,
        port,
        dir,
        desk: _desk,
        pop,
        http,
    } = world().await;

    // A call rings, pops 张伟, is answered; the agent machine moves with it.
    let t0 = 1_764_000_000_000_i64;
    let mut machine = AgentMachine::new(AgentPolicy::default(), t0);
    machine.apply(AgentEvent::SetReady, t0 + 1_000).unwrap();
    let ring = CallSignal::Ringing {
        call: "call-1@pbx".into(),
        number: Some("013800138000".into()),
        display_name: None,
        ivr: BTreeMap::from([("X-IVR-Menu".into(), "1>2".into())]),
    };
    pop.record(&ring, t0 + 2_000).await.unwrap();
    let shown = pop
        .pop(PopRequest {
            call: Some("call-1@pbx".into()),
            number: Some("013800138000".into()),
            ..PopRequest::default()
        })
        .await
        .unwrap();
    pop.link_call(&shown).await.unwrap();
    pop.record(
        &CallSignal::Answered {
            call: "call-1@pbx".into(),
        },
        t0 + 5_000,
    )
    .await
    .unwrap();
    machine.apply(AgentEvent::CallStarted, t0 + 5_000).unwrap();

    // Pushed mid-call: the server has the call as far as it went.
    pop.push_calls(&http).await.unwrap();
    let me = agent(&user_id, &tenant_id);
    let held = calls::list_calls(&store, &me, &CallQuery::default())
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].call.customer_id.as_deref(), Some(zhang_id.as_str()));
    assert_eq!(held[0].call.e164.as_deref(), Some("+8613800138000"));
    assert_eq!(held[0].call.answer_at, Some(t0 + 5_000));
    assert_eq!(held[0].call.end_at, None);
    let first_revision = held[0].call.revision;
    assert_eq!(pop.feed_view().calls.calls_waiting, 0);

    // The server goes down; the call ends (with the phone's final quality, as the shell
    // stores it just before the end) and is wrapped up offline.
    server.stop().await;
    let quality = CallQuality {
        mos: Some(3.9),
        loss_percent: Some(1.5),
        remote_loss_percent: Some(0.75),
        jitter_ms: Some(18.5),
        rtt_ms: Some(120.0),
    };
    pop.set_call_quality("call-1@pbx", &quality).await.unwrap();
    pop.record(
        &CallSignal::Ended {
            call: "call-1@pbx".into(),
            reason: "remote_hangup".into(),
        },
        t0 + 65_000,
    )
    .await
    .unwrap();
    machine.apply(AgentEvent::CallEnded, t0 + 65_000).unwrap();
    pop.wrap_up("call-1@pbx", "resolved", "宽带已恢复", t0 + 80_000)
        .await
        .unwrap();
    machine
        .apply(
            AgentEvent::WrapUpDone {
                code: "resolved".into(),
            },
            t0 + 80_000,
        )
        .unwrap();
    for entry in machine.history() {
        pop.record_state(&StateEntry::from_history(entry))
            .await
            .unwrap();
    }
    pop.push_calls(&http).await.unwrap();
    let view = pop.feed_view();
    assert!(
        view.calls_error.is_some(),
        "a dead server is reported: {view:?}"
    );
    assert_eq!(view.calls.calls_waiting, 1);
    assert_eq!(view.calls.states_waiting, 5);

    // Back up on the same address: everything arrives, at the latest revision, once.
    let server = start(&store, port).await;
    pop.push_calls(&http).await.unwrap();
    let view = pop.feed_view();
    assert!(view.calls_error.is_none(), "{view:?}");
    assert_eq!(
        (view.calls.calls_waiting, view.calls.states_waiting),
        (0, 0)
    );
    let held = calls::list_calls(&store, &me, &CallQuery::default())
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let call = &held[0].call;
    assert!(call.revision > first_revision);
    assert_eq!(call.end_at, Some(t0 + 65_000));
    assert_eq!(call.end_reason.as_deref(), Some("remote_hangup"));
    assert_eq!(call.wrap_up_code.as_deref(), Some("resolved"));
    assert_eq!(call.notes, "宽带已恢复");
    assert_eq!(call.ivr.get("X-IVR-Menu").map(String::as_str), Some("1>2"));
    let held_quality = call
        .quality
        .clone()
        .expect("the call's quality reached the server");
    assert_eq!(
        (
            held_quality.mos,
            held_quality.loss_percent,
            held_quality.remote_loss_percent,
            held_quality.jitter_ms,
            held_quality.rtt_ms
        ),
        (Some(3.9), Some(1.5), Some(0.75), Some(18.5), Some(120.0))
    );
    let states = calls::list_states(&store, &me, &StateQuery::default())
        .await
        .unwrap();
    let labels: Vec<&str> = states.iter().map(|s| s.entry.state.as_str()).collect();
    assert_eq!(
        labels,
        ["not_ready", "ready", "on_call", "after_call_work", "ready"]
    );
    assert_eq!(states[4].entry.wrap_up_code.as_deref(), Some("resolved"));

    // Pushing again sends nothing new and changes nothing.
    pop.push_calls(&http).await.unwrap();
    assert_eq!(
        calls::list_calls(&store, &me, &CallQuery::default())
            .await
            .unwrap(),
        held
    );

    // A call the server refuses (a customer it does not know, e.g. deleted from the master
    // and purged) stays here with the reason and is not retried until it changes.
    pop.record(
        &CallSignal::Dialing {
            call: "call-2@me".into(),
            target: "+8613900139000".into(),
        },
        t0 + 100_000,
    )
    .await
    .unwrap();
    let ghost = seatline_workspace::call_log::CallLog::open(&dir.path().join("calls.db"))
        .await
        .unwrap();
    ghost
        .set_customer("call-2@me", None, Some(("no-such-customer", "Ghost")))
        .await
        .unwrap();
    pop.push_calls(&http).await.unwrap();
    let view = pop.feed_view();
    assert_eq!(view.calls.calls_refused, 1, "{view:?}");
    assert_eq!(view.calls.calls_waiting, 0);
    let refused = pop.call("call-2@me").await.unwrap().unwrap();
    assert!(
        refused
            .sync_error
            .as_deref()
            .is_some_and(|e| e.contains("no customer")),
        "{refused:?}"
    );
    // Linked to a real customer, it goes up and the reason is cleared.
    ghost
        .set_customer("call-2@me", None, Some((zhang_id.as_str(), "张伟")))
        .await
        .unwrap();
    pop.push_calls(&http).await.unwrap();
    assert_eq!(pop.feed_view().calls.calls_refused, 0);
    assert_eq!(
        pop.call("call-2@me").await.unwrap().unwrap().sync_error,
        None
    );
    assert_eq!(
        calls::list_calls(&store, &me, &CallQuery::default())
            .await
            .unwrap()
            .len(),
        2
    );
    server.stop().await;
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promised_callback_becomes_an_order_and_counts_as_kept_once_the_agent_calls_back() {
    let World {
        store: _store,
        server_dir,
        tenant_id,
        team_id: _,
        user_id: _user_id,
        zhang_id: _zhang_id,
        server,
        port: _port,
        dir: _dir,
        desk,
        pop,
        http: _http,
    } = world().await;

    let now = time::OffsetDateTime::now_utc();
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap();
    // 张伟 calls (in a 0-prefixed national form) and is promised a call back within the hour.
    for (call, number) in [("in-1", "013800138000"), ("in-2", "+86 139 0013 9000")] {
        pop.record(
            &CallSignal::Ringing {
                call: call.into(),
                number: Some(number.into()),
                display_name: None,
                ivr: BTreeMap::new(),
            },
            now_ms - 120_000,
        )
        .await
        .unwrap();
        let shown = pop
            .pop(PopRequest {
                call: Some(call.into()),
                number: Some(number.into()),
                ..PopRequest::default()
            })
            .await
            .unwrap();
        pop.link_call(&shown).await.unwrap();
    }
    let kept = pop
        .promise_callback(
            "in-1",
            &CallbackPromise {
                due: rfc3339(now + time::Duration::hours(1)),
                title: Some("回电：账单".into()),
                note: Some("核对十一月账单".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(kept.kind, "callback");
    assert_eq!(kept.customer, "张伟");
    assert_eq!(kept.phone.as_deref(), Some("+8613800138000"));
    assert_eq!(kept.title, "回电：账单");
    assert_eq!(kept.description, "核对十一月账单");
    assert!(kept.due_at.is_some());
    // An unknown caller's callback names the number; its time has already passed.
    let missed = pop
        .promise_callback(
            "in-2",
            &CallbackPromise {
                due: rfc3339(now - time::Duration::minutes(1)),
                title: None,
                note: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(missed.customer, "+8613900139000");
    assert_eq!(missed.title, "Callback: +8613900139000");
    // A time the desk cannot read is a clear error, and no order is made.
    let bad = pop
        .promise_callback(
            "in-1",
            &CallbackPromise {
                due: "tomorrow-ish".into(),
                title: None,
                note: None,
            },
        )
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("due"), "{bad}");
    let unknown = pop
        .promise_callback(
            "never-rang",
            &CallbackPromise {
                due: rfc3339(now),
                title: None,
                note: None,
            },
        )
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("never-rang"), "{unknown}");

    // The agent calls 张伟 back (dialled as the bare mobile number).
    pop.record(
        &CallSignal::Dialing {
            call: "out-1".into(),
            target: "13800138000".into(),
        },
        now_ms + 1_000,
    )
    .await
    .unwrap();
    let figures = pop
        .callback_figures(now_ms - 3_600_000, now_ms + 86_400_000, now_ms + 2_000)
        .await
        .unwrap();
    assert_eq!(figures.due, 2, "{figures:?}");
    assert_eq!(figures.kept_on_time, 1, "{figures:?}");
    assert_eq!(figures.late, 1, "{figures:?}");
    assert_eq!(figures.overdue_open, 1, "{figures:?}");

    // Both callbacks reach the server as callback orders with their times.
    desk.sync_now().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while desk.sync_view().pending > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            desk.sync_view()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let on_server: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT title, due_at FROM work_orders WHERE tenant_id = ? AND kind = 'callback' ORDER BY title",
    )
    .bind(&tenant_id)
    .fetch_all(&sqlx::SqlitePool::connect(&format!("sqlite://{}", server_dir.path().join("seatline.db").display())).await.unwrap())
    .await
    .unwrap();
    assert_eq!(on_server.len(), 2, "{on_server:?}");
    assert!(on_server.iter().all(|(_, due)| due.is_some()));
    server.stop().await;
}

/// The center's playbook: the desktop starts with the built-in one, takes the supervisor's after
/// a pull (kept on disk for the next start, offline), wraps up only with its codes, keeps the
/// one it has while the server is down, and hands its reasons and time box to the agent state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playbook_follows_the_server_and_survives_a_restart_offline() {
    let w = world().await;
    assert_eq!(w.pop.playbook().revision, 0);
    let mut changes = w.pop.subscribe_playbook();

    // A supervisor saves the center's own playbook.
    let supervisor = Principal {
        role: Role::Supervisor,
        ..agent(&w.user_id, &w.tenant_id)
    };
    let mut book = seatline_playbook::Playbook::default();
    book.wrap_up_codes
        .retain(|c| c.code == "resolved" || c.code == "callback_promised");
    book.wrap_up_codes.push(seatline_playbook::WrapUpCode {
        code: "sales_lead".into(),
        labels: BTreeMap::from([("zh-CN".into(), "销售线索".into())]),
        promises_callback: false,
    });
    book.not_ready_reasons = vec![seatline_playbook::CodeLabel {
        code: "coaching".into(),
        labels: BTreeMap::new(),
    }];
    book.after_call_work_limit_s = Some(45);
    let saved = seatline_server::playbook::put(&w.store, &supervisor, book)
        .await
        .unwrap();
    assert_eq!(saved.revision, 1);

    w.pop.pull_playbook(&w.http).await;
    assert_eq!(w.pop.playbook(), saved);
    assert!(changes.has_changed().unwrap());
    assert_eq!(changes.borrow_and_update().revision, 1);
    let view = w.pop.feed_view();
    assert_eq!((view.playbook_revision, view.playbook_error), (1, None));
    let policy = seatline_workspace::playbook::agent_policy(&w.pop.playbook());
    assert_eq!(policy.not_ready_reasons, ["coaching"]);
    assert_eq!(policy.after_call_work_limit_ms, Some(45_000));

    // Wrap-up takes the center's codes only; a withdrawn one is refused before anything is written.
    let t0 = 1_764_000_000_000_i64;
    let ring = CallSignal::Ringing {
        call: "call-p@pbx".into(),
        number: Some("013800138000".into()),
        display_name: None,
        ivr: BTreeMap::new(),
    };
    w.pop.record(&ring, t0).await.unwrap();
    w.pop
        .record(
            &CallSignal::Ended {
                call: "call-p@pbx".into(),
                reason: "remote_hangup".into(),
            },
            t0 + 5_000,
        )
        .await
        .unwrap();
    let refused = w
        .pop
        .wrap_up("call-p@pbx", "wrong_number", "", t0 + 6_000)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not one of the center's wrap-up codes"),
        "{refused}"
    );
    assert_eq!(
        w.pop
            .call("call-p@pbx")
            .await
            .unwrap()
            .unwrap()
            .wrap_up_code,
        None
    );
    let done = w
        .pop
        .wrap_up("call-p@pbx", "sales_lead", "想了解套餐", t0 + 7_000)
        .await
        .unwrap();
    assert_eq!(done.wrap_up_code.as_deref(), Some("sales_lead"));

    // The server goes away: a pull fails, says so, and the playbook in use stays.
    w.server.stop().await;
    w.pop.pull_playbook(&w.http).await;
    assert_eq!(w.pop.playbook().revision, 1);
    assert!(w.pop.feed_view().playbook_error.is_some());

    // A restart offline starts with the saved copy, not the built-in one.
    let again = ScreenPop::new(
        w.dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        w.desk.clone(),
    );
    assert_eq!(again.playbook(), saved);
    assert_eq!(again.feed_view().playbook_revision, 1);
}

/// A caller's survey score, posted to the server by the survey system, comes back to the
/// agent's desktop with the next push and counts in today's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_scores_reach_the_agents_figures() {
    let w = world().await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    for (call, at) in [("s-1@pbx", now - 60_000), ("s-2@pbx", now - 30_000)] {
        let ring = CallSignal::Ringing {
            call: call.into(),
            number: Some("013800138000".into()),
            display_name: None,
            ivr: BTreeMap::new(),
        };
        w.pop.record(&ring, at).await.unwrap();
        w.pop
            .record(&CallSignal::Answered { call: call.into() }, at + 1_000)
            .await
            .unwrap();
        w.pop
            .record(
                &CallSignal::Ended {
                    call: call.into(),
                    reason: "remote_hangup".into(),
                },
                at + 9_000,
            )
            .await
            .unwrap();
    }
    w.pop.push_calls(&w.http).await.unwrap();
    assert_eq!(w.pop.figures(now - 3_600_000).await.unwrap().scored, 0);

    let survey = Principal {
        role: Role::Supervisor,
        ..agent(&w.user_id, &w.tenant_id)
    };
    let report = calls::upload_scores(
        &w.store,
        &survey,
        &[
            calls::ScoreUpload {
                call_id: "s-1@pbx".into(),
                score: 5,
                comment: None,
                at: now,
            },
            calls::ScoreUpload {
                call_id: "s-2@pbx".into(),
                score: 2,
                comment: Some("等太久".into()),
                at: now,
            },
            calls::ScoreUpload {
                call_id: "not-mine@pbx".into(),
                score: 1,
                comment: None,
                at: now,
            },
        ],
    )
    .await
    .unwrap();
    assert_eq!(report.stored.len(), 3);

    w.pop.push_calls(&w.http).await.unwrap();
    assert_eq!(w.pop.feed_view().calls_error, None);
    let figures = w.pop.figures(now - 3_600_000).await.unwrap();
    assert_eq!(figures.scored, 2);
    assert_eq!(figures.average_score, Some(3.5));
    assert_eq!(
        w.pop.call("s-2@pbx").await.unwrap().unwrap().satisfaction,
        Some(2)
    );
    // A score the survey corrects later replaces the one the desktop holds.
    calls::upload_scores(
        &w.store,
        &survey,
        &[calls::ScoreUpload {
            call_id: "s-2@pbx".into(),
            score: 4,
            comment: None,
            at: now + 1,
        }],
    )
    .await
    .unwrap();
    w.pop.push_calls(&w.http).await.unwrap();
    assert_eq!(
        w.pop.figures(now - 3_600_000).await.unwrap().average_score,
        Some(4.5)
    );
}

/// The card's history holds the customer's calls at every desk: a colleague's call read from the
/// server beside this desk's own (not twice), this desk's alone while the server is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_history_holds_colleagues_calls_from_the_server() {
    let w = world().await;
    let colleague = accounts::create_user(
        &w.store,
        &w.tenant_id,
        NewUser {
            username: "lina".into(),
            display_name: None,
            password: PASSWORD.into(),
            role: Role::Agent,
            team_ids: vec![],
        },
    )
    .await
    .unwrap();
    let t0 = 1_764_000_000_000_i64;
    let theirs = calls::CallUpload {
        id: "their-call@pbx".into(),
        revision: 3,
        direction: "incoming".into(),
        number: Some("013800138000".into()),
        display_name: None,
        e164: Some("+8613800138000".into()),
        customer_id: Some(w.zhang_id.clone()),
        ivr: BTreeMap::new(),
        ring_at: t0,
        answer_at: Some(t0 + 2_000),
        end_at: Some(t0 + 60_000),
        hold_ms: 0,
        transferred_to: None,
        end_reason: Some("remote_hangup".into()),
        wrap_up_code: Some("complaint_logged".into()),
        wrap_up_at: Some(t0 + 90_000),
        notes: "账单重复扣费，已登记投诉".into(),
        // A poor line at the colleague's desk: the card shows it with the call.
        quality: Some(calls::CallQuality {
            mos: Some(2.8),
            loss_percent: Some(9.0),
            remote_loss_percent: None,
            jitter_ms: Some(45.0),
            rtt_ms: None,
        }),
    };
    let report = calls::upload_calls(&w.store, &agent(&colleague.id, &w.tenant_id), &[theirs])
        .await
        .unwrap();
    assert_eq!(report.stored.len(), 1);

    // This desk's own call with 张伟, pushed (so the server has it too).
    let ring = CallSignal::Ringing {
        call: "my-call@pbx".into(),
        number: Some("013800138000".into()),
        display_name: None,
        ivr: BTreeMap::new(),
    };
    w.pop.record(&ring, t0 + 3_600_000).await.unwrap();
    let shown = w
        .pop
        .pop(PopRequest {
            call: Some("my-call@pbx".into()),
            number: Some("013800138000".into()),
            ..PopRequest::default()
        })
        .await
        .unwrap();
    w.pop.link_call(&shown).await.unwrap();
    w.pop.push_calls(&w.http).await.unwrap();

    let history = w.pop.history(&w.zhang_id).await.unwrap();
    assert!(history.from_server, "{history:?}");
    assert_eq!(history.error, None);
    let ids: Vec<(&str, bool)> = history
        .calls
        .iter()
        .map(|c| (c.id.as_str(), c.colleague))
        .collect();
    assert_eq!(ids, [("my-call@pbx", false), ("their-call@pbx", true)]);
    assert_eq!(
        history.calls[1].wrap_up_code.as_deref(),
        Some("complaint_logged")
    );
    assert_eq!(history.calls[1].notes, "账单重复扣费，已登记投诉");
    let line = history.calls[1]
        .quality
        .clone()
        .expect("the colleague's line quality");
    assert_eq!((line.mos, line.loss_percent), (Some(2.8), Some(9.0)));

    // The server goes away: this desk's calls, and why the rest is missing.
    w.server.stop().await;
    let history = w.pop.history(&w.zhang_id).await.unwrap();
    assert!(!history.from_server);
    assert!(history.error.is_some());
    let ids: Vec<&str> = history.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["my-call@pbx"]);
}

/// An unknown caller added from the pop: on the server (as a standard customer of the tenant),
/// in the cache at once so the next call pops it, the call linked to it; a number another desk
/// added meanwhile is refused with that customer's name; signed out, nothing is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_caller_becomes_a_customer_in_one_step() {
    let w = world().await;
    let ring = CallSignal::Ringing {
        call: "new-caller@pbx".into(),
        number: Some("013912345678".into()),
        display_name: Some("Wang".into()),
        ivr: BTreeMap::new(),
    };
    w.pop.record(&ring, 1_764_000_000_000).await.unwrap();
    let request = PopRequest {
        call: Some("new-caller@pbx".into()),
        number: Some("013912345678".into()),
        ..PopRequest::default()
    };
    assert!(w.pop.pop(request.clone()).await.unwrap().cards.is_empty());

    let new = seatline_workspace::screen_pop::NewCustomer {
        name: "王先生".into(),
        phones: vec!["+8613912345678".into()],
        email: None,
        notes: Some("IVR: 1>2".into()),
    };
    let card = w
        .pop
        .create_customer(&new, Some("new-caller@pbx"))
        .await
        .unwrap();
    assert_eq!(card.customer.name, "王先生");
    assert_eq!(card.customer.tier, "standard");
    let on_server = customers::get(&w.store, &w.tenant_id, &card.customer.id)
        .await
        .unwrap();
    assert_eq!(on_server.phones, ["+8613912345678"]);
    assert_eq!(
        w.pop
            .call("new-caller@pbx")
            .await
            .unwrap()
            .unwrap()
            .customer_id
            .as_deref(),
        Some(card.customer.id.as_str())
    );
    // The next call from the number pops the new customer, before any feed pull.
    let popped = w.pop.pop(request).await.unwrap();
    assert_eq!(popped.cards.len(), 1);
    assert_eq!(popped.cards[0].customer.id, card.customer.id);

    // The same number again (another desk was quicker): refused, naming the customer.
    let twice = w.pop.create_customer(&new, None).await.unwrap_err();
    assert!(twice.to_string().contains("王先生"), "{twice}");
    let nameless = seatline_workspace::screen_pop::NewCustomer {
        name: " ".into(),
        ..new.clone()
    };
    assert!(w.pop.create_customer(&nameless, None).await.is_err());

    w.desk.logout(true).await.unwrap();
    let signed_out = w.pop.create_customer(&new, None).await.unwrap_err();
    assert!(signed_out.to_string().contains("sign in"), "{signed_out}");
}

/// A supervisor edits the center's playbook from the desktop: an agent is refused by the server,
/// an invalid edit is refused before it leaves the desk, a save is in use at once here, and an
/// edit from a revision someone else has since replaced is refused as a conflict, losing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_edits_the_playbook_from_the_desktop_and_a_stale_edit_is_refused() {
    use seatline_workspace::screen_pop::PopError;
    let w = world().await;
    let mut edit = w.pop.playbook();
    edit.after_call_work_limit_s = Some(60);

    // The agent signed in by the world may read the playbook, not change it.
    let refused = w.pop.save_playbook(&edit).await.unwrap_err();
    match &refused {
        PopError::Playbook(e) => assert_eq!(e.code(), "forbidden", "{e}"),
        other => panic!("not a playbook refusal: {other}"),
    }
    assert_eq!(w.pop.playbook().revision, 0);

    accounts::create_user(
        &w.store,
        &w.tenant_id,
        NewUser {
            username: "lead".into(),
            display_name: Some("Team lead".into()),
            password: PASSWORD.into(),
            role: Role::Supervisor,
            team_ids: vec![],
        },
    )
    .await
    .unwrap();
    w.desk.logout(true).await.unwrap();
    w.desk
        .login(LoginRequest {
            server_url: w.server.url.clone(),
            tenant: "demo".into(),
            username: "lead".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();

    // Every problem is listed and nothing is sent.
    let mut broken = edit.clone();
    broken.wrap_up_codes.clear();
    broken.after_call_work_limit_s = Some(5);
    let invalid = w.pop.save_playbook(&broken).await.unwrap_err();
    match &invalid {
        PopError::Playbook(e) => {
            assert_eq!(e.code(), "invalid", "{e}");
            let text = e.to_string();
            assert!(text.contains("at least one wrap-up code"), "{text}");
        }
        other => panic!("not a playbook refusal: {other}"),
    }

    let changes = w.pop.subscribe_playbook();
    let saved = w.pop.save_playbook(&edit).await.unwrap();
    assert_eq!(saved.revision, 1);
    assert_eq!(saved.after_call_work_limit_s, Some(60));
    // In use on this desk at once, and on the server for the others.
    assert_eq!(w.pop.playbook(), saved);
    assert!(changes.has_changed().unwrap());
    assert_eq!(w.pop.feed_view().playbook_revision, 1);
    let supervisor = Principal {
        role: Role::Supervisor,
        ..agent(&w.user_id, &w.tenant_id)
    };
    let on_server = seatline_server::playbook::get(&w.store, &supervisor)
        .await
        .unwrap();
    assert_eq!(on_server, saved);

    // A second edit still based on revision 0 (another supervisor's screen opened earlier).
    let mut stale = edit.clone();
    stale.after_call_work_limit_s = Some(120);
    let conflict = w.pop.save_playbook(&stale).await.unwrap_err();
    match &conflict {
        PopError::Playbook(e) => {
            assert_eq!(e.code(), "conflict", "{e}");
            assert!(e.to_string().contains("revision 1"), "{e}");
        }
        other => panic!("not a playbook refusal: {other}"),
    }
    assert_eq!(w.pop.playbook(), saved);

    // Reloaded and applied again: saved as revision 2.
    let mut again = w.pop.playbook();
    again.after_call_work_limit_s = Some(120);
    assert_eq!(w.pop.save_playbook(&again).await.unwrap().revision, 2);
}

/// A measured call on `pop`'s desk: rings, is answered, gets its final quality, ends.
async fn measured_call(pop: &ScreenPop, call: &str, at: i64, mos: f64, loss: f64) {
    pop.record(
        &CallSignal::Ringing {
            call: call.into(),
            number: Some("013800138000".into()),
            display_name: None,
            ivr: BTreeMap::new(),
        },
        at,
    )
    .await
    .unwrap();
    pop.record(&CallSignal::Answered { call: call.into() }, at + 3_000)
        .await
        .unwrap();
    let quality = CallQuality {
        mos: Some(mos),
        loss_percent: Some(loss),
        jitter_ms: Some(20.0),
        ..CallQuality::default()
    };
    pop.set_call_quality(call, &quality).await.unwrap();
    pop.record(
        &CallSignal::Ended {
            call: call.into(),
            reason: "remote_hangup".into(),
        },
        at + 60_000,
    )
    .await
    .unwrap();
}

/// The supervisor's call-quality report on her desk: her team's agent's poor call, worst
/// first, from the calls the agent's desk pushed; the agent sees her own figures only; a dead
/// server is told apart from a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reads_her_teams_call_quality_from_the_desk() {
    use seatline_workspace::quality_report::ReportRequest;
    let w = world().await;
    let t0 = 1_764_000_000_000_i64;
    measured_call(&w.pop, "good@pbx", t0, 4.3, 0.1).await;
    measured_call(&w.pop, "poor@pbx", t0 + 100_000, 2.8, 9.5).await;
    w.pop.push_calls(&w.http).await.unwrap();
    assert_eq!(w.pop.feed_view().calls.calls_waiting, 0);

    let sue = accounts::create_user(
        &w.store,
        &w.tenant_id,
        NewUser {
            username: "sue".into(),
            display_name: Some("Sue Supervisor".into()),
            password: PASSWORD.into(),
            role: Role::Supervisor,
            team_ids: vec![w.team_id.clone()],
        },
    )
    .await
    .unwrap();
    let sue_dir = tempfile::tempdir().unwrap();
    let sue_desk = Desk::new(
        sue_dir.path(),
        Arc::new(MemoryStore::new()),
        Default::default(),
    );
    let sue_pop = ScreenPop::new(
        sue_dir.path(),
        normalizer_for(&Settings::default()).unwrap(),
        sue_desk.clone(),
    );
    // Signed out: nothing to ask the server with.
    let period = ReportRequest {
        since: t0,
        before: t0 + 3_600_000,
        ..ReportRequest::default()
    };
    assert!(sue_pop.quality_report(&period).await.is_err());
    sue_desk
        .login(LoginRequest {
            server_url: w.server.url.clone(),
            tenant: "demo".into(),
            username: "sue".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();

    let report = sue_pop.quality_report(&period).await.unwrap();
    assert!((report.poor_mos_below - 3.6).abs() < 1e-9);
    assert_eq!(report.agents.len(), 1, "{report:?}");
    let agent = &report.agents[0];
    assert_eq!(agent.agent_id, w.user_id);
    assert_eq!((agent.calls, agent.measured, agent.poor), (2, 2, 1));
    assert_eq!(agent.worst_mos, Some(2.8));
    assert_eq!(agent.max_loss_percent, Some(9.5));
    assert_eq!(report.poor_calls.len(), 1);
    let poor = &report.poor_calls[0];
    assert_eq!(
        (poor.id.as_str(), poor.agent_id.as_str()),
        ("poor@pbx", w.user_id.as_str())
    );
    assert_eq!(poor.quality.as_ref().and_then(|q| q.mos), Some(2.8));
    assert_eq!(poor.end_at, Some(t0 + 160_000));

    // The agent: her own figures; another agent's are refused with a code the UI shows.
    let mine = w.pop.quality_report(&period).await.unwrap();
    assert_eq!(mine.agents.len(), 1);
    let err = w
        .pop
        .quality_report(&ReportRequest {
            agent_id: Some(sue.id.clone()),
            ..period.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, seatline_workspace::screen_pop::PopError::Report(e) if e.code() == "forbidden"),
        "{err}"
    );

    // The server is gone: unreachable, not a refusal.
    w.server.stop().await;
    let err = sue_pop.quality_report(&period).await.unwrap_err();
    assert!(
        matches!(&err, seatline_workspace::screen_pop::PopError::Report(e) if e.code() == "unreachable"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_recording_takes_the_customer_and_number_from_the_call_log() {
    use seatline_recordings::{sidecar_path, write_sidecar, CallDirection, RecordingMeta};
    let w = world().await;
    let read = |wav: &std::path::Path| -> RecordingMeta {
        serde_json::from_slice(&std::fs::read(sidecar_path(wav)).unwrap()).unwrap()
    };
    let call = "rec-1@pbx";
    let t0 = 1_764_100_000_000_i64;
    let ring = CallSignal::Ringing {
        call: call.into(),
        number: Some("013800138000".into()),
        display_name: None,
        ivr: BTreeMap::new(),
    };
    w.pop.record(&ring, t0).await.unwrap();
    let shown = w
        .pop
        .pop(PopRequest {
            call: Some(call.into()),
            number: Some("013800138000".into()),
            ..PopRequest::default()
        })
        .await
        .unwrap();
    w.pop.link_call(&shown).await.unwrap();

    // The phone's sidecar knows the number only as it came in.
    let wav = w.dir.path().join("rec-1.wav");
    let started = time::OffsetDateTime::from_unix_timestamp(t0 / 1000).unwrap();
    let meta = RecordingMeta::begun(
        call,
        CallDirection::Inbound,
        "013800138000",
        started,
        "PCMU",
        8000,
    );
    write_sidecar(&wav, &meta).unwrap();
    let path = wav.to_str().unwrap();

    // While the call runs, the log notes the recording and the sidecar is left alone.
    w.pop.link_recording(call, path, false).await.unwrap();
    assert_eq!(read(&wav), meta);
    let record = w.pop.call(call).await.unwrap().unwrap();
    assert_eq!(record.recording.as_deref(), Some(path));

    // Once over, it carries the customer, the name and the E.164 number.
    w.pop
        .record(
            &CallSignal::Ended {
                call: call.into(),
                reason: "remote_hangup".into(),
            },
            t0 + 30_000,
        )
        .await
        .unwrap();
    w.pop.link_recording(call, path, true).await.unwrap();
    let filled = read(&wav);
    assert_eq!(filled.customer_id.as_deref(), Some(w.zhang_id.as_str()));
    assert_eq!(filled.display_name.as_deref(), Some("张伟"));
    assert_eq!(filled.remote_number, "+8613800138000");
    assert_eq!(filled.codec, meta.codec, "the rest is kept");

    // A sidecar that is gone is logged, not an error: the call log keeps the recording.
    std::fs::remove_file(sidecar_path(&wav)).unwrap();
    w.pop.link_recording(call, path, true).await.unwrap();
    let record = w.pop.call(call).await.unwrap().unwrap();
    assert_eq!(record.recording.as_deref(), Some(path));
}
