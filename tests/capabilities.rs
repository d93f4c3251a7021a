//! The command layer and its capabilities, headless: the real app context (tauri.conf.json and
//! src-tauri/capabilities) on Tauri's mock runtime. A window without a capability, or a page
//! from elsewhere, must be refused; the main window gets exactly the app's commands.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_desktop::{AppState, DesktopState, PhoneState, PopState};
use seatline_phone_session::PhoneSession;
use seatline_secrets::MemoryStore;
use seatline_settings::resolve_data_dir;
use seatline_sip_phone::AudioIo;
use seatline_workspace::desk::SyncConfig;
use seatline_workspace::screen_pop::{normalizer_for, ScreenPop};
use seatline_workspace::{Desk, Workspace};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

struct Harness {
    app: App<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn app() -> Harness {
    app_with(|_| {})
}

/// An app whose workspace `prepare` may fill first (e.g. import knowledge-base articles).
fn app_with(prepare: impl FnOnce(&Workspace)) -> Harness {
    build(tempfile::tempdir().unwrap(), prepare)
}

/// An app whose data directory starts with this `settings.toml`.
fn app_with_settings(settings: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.toml"), settings).unwrap();
    build(dir, |_| {})
}

fn build(dir: tempfile::TempDir, prepare: impl FnOnce(&Workspace)) -> Harness {
    let data_dir = resolve_data_dir(Some(dir.path()), None).unwrap();
    let workspace = Workspace::open(
        data_dir,
        Some("en-US".into()),
        Arc::new(MemoryStore::new()),
        1_000,
    )
    .unwrap();
    prepare(&workspace);
    let desk = Desk::new(
        dir.path(),
        Arc::new(MemoryStore::new()),
        SyncConfig::default(),
    );
    let phone = PhoneState(PhoneSession::new(
        dir.path(),
        Arc::new(MemoryStore::new()),
        AudioIo::Null,
    ));
    let pop = PopState(ScreenPop::new(
        dir.path(),
        normalizer_for(workspace.settings()).unwrap(),
        desk.clone(),
    ));
    let app = seatline_desktop::builder(
        mock_builder(),
        AppState::new(Mutex::new(workspace), desk),
        phone,
        pop,
        DesktopState::default(),
    )
    .build(seatline_desktop::context())
    .unwrap();
    Harness { app, _dir: dir }
}

fn window(app: &App<MockRuntime>, label: &str) -> WebviewWindow<MockRuntime> {
    app.get_webview_window(label).unwrap_or_else(|| {
        WebviewWindowBuilder::new(app, label, WebviewUrl::default())
            .build()
            .unwrap()
    })
}

/// The URL the app's own pages have: the dev server in debug builds, the custom protocol in
/// release builds (tests run without `custom-protocol`).
fn own_origin() -> &'static str {
    if cfg!(feature = "custom-protocol") {
        "tauri://localhost"
    } else {
        "http://localhost:5173"
    }
}

fn invoke(
    window: &WebviewWindow<MockRuntime>,
    url: &str,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: url.parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn main_window_reaches_the_app_commands() {
    let h = app();
    let main = window(&h.app, "main");
    let info = invoke(&main, own_origin(), "app_info", json!({})).unwrap();
    assert_eq!(info["data_dir"], h._dir.path().to_str().unwrap());
    assert_eq!(info["language"], "en");

    let status = invoke(&main, own_origin(), "workspace_status", json!({})).unwrap();
    assert_eq!(status["phone"]["state"], "not_configured");
    assert_eq!(status["agent"]["state"]["kind"], "not_ready");

    let info = invoke(
        &main,
        own_origin(),
        "set_language",
        json!({"language": "zh-CN"}),
    )
    .unwrap();
    assert_eq!(info["language"], "zh-CN");

    let agent = invoke(
        &main,
        own_origin(),
        "agent_event",
        json!({"event": {"event": "set_not_ready", "reason": "lunch"}}),
    )
    .unwrap();
    assert_eq!(
        agent["state"],
        json!({"kind": "not_ready", "reason": "lunch"})
    );
}

/// The app with `[queue_pause]` on (pause *62, unpause *63) and its states followed, as the
/// app's setup does at start (the mock runtime does not run setup).
fn app_with_queue_pause() -> Harness {
    let h =
        app_with_settings("[queue_pause]\nenabled = true\npause = \"*62\"\nunpause = \"*63\"\n");
    seatline_desktop::follow_queue_pause(h.app.handle());
    h
}

/// The queue pause warning the agent view gets within 10 s (the dial runs in the background).
fn queue_pause_warning(h: &Harness) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(warning) = h.app.state::<AppState>().agent_view().queue_pause_warning {
            return warning;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no queue pause warning"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `[queue_pause]` on and no phone connected: Not ready still happens, and the window's agent
/// view gets the warning that the pause code was not dialled (the wiring from the state change
/// to the phone session and back; the SIP side is tested against sipp in phone-session).
#[test]
fn not_ready_without_a_phone_warns_that_the_pause_code_was_not_dialled() {
    let h = app_with_queue_pause();
    let main = window(&h.app, "main");
    let agent = invoke(
        &main,
        own_origin(),
        "agent_event",
        json!({"event": {"event": "set_not_ready", "reason": "break"}}),
    )
    .unwrap();
    assert_eq!(
        agent["state"],
        json!({"kind": "not_ready", "reason": "break"})
    );
    let warning = queue_pause_warning(&h);
    assert_eq!(
        warning,
        "the phone is not connected: the pause code *62 was not dialled"
    );
    let status = invoke(&main, own_origin(), "workspace_status", json!({})).unwrap();
    assert_eq!(status["agent"]["queue_pause_warning"], json!(warning));
    assert_eq!(status["agent"]["state"]["kind"], "not_ready");
}

/// Once the phone registers, the PBX hears the state the session is in (Not ready at login)
/// without waiting for the agent's first change: the app hands the current state over.
#[test]
fn the_session_start_goes_to_the_queue_pause_codes() {
    let h = app_with_queue_pause();
    // What a Registered phone event does.
    h.app.state::<AppState>().tell_queue_current_state();
    let warning = queue_pause_warning(&h);
    // No phone in this test: the pause code for the login state was tried, and said so.
    assert_eq!(
        warning,
        "the phone is not connected: the pause code *62 was not dialled"
    );
}

#[test]
fn main_window_searches_the_knowledge_base() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/kb-search/tests/corpus");
    let h = app_with(|workspace| {
        workspace.kb().unwrap().import_dir(&corpus).unwrap();
    });
    let main = window(&h.app, "main");
    let hits = invoke(
        &main,
        own_origin(),
        "kb_search",
        json!({"query": "忘記密碼"}),
    )
    .unwrap();
    let first = hits[0]["id"].as_str().unwrap().to_owned();
    assert!(first.starts_with("password-reset"), "{hits}");
    let article = invoke(&main, own_origin(), "kb_article", json!({"id": first})).unwrap();
    assert!(
        article["body"].as_str().unwrap().contains("密碼")
            || article["body"].as_str().unwrap().contains("密码")
    );
    let missing = invoke(&main, own_origin(), "kb_article", json!({"id": "nope"})).unwrap();
    assert!(missing.is_null());

    // A tag lists its articles before any query, and narrows a query.
    let security = invoke(
        &main,
        own_origin(),
        "kb_search",
        json!({"query": "", "tag": "security"}),
    )
    .unwrap();
    let listed: Vec<&str> = security
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"password-reset-en"), "{security}");
    let narrowed = invoke(
        &main,
        own_origin(),
        "kb_search",
        json!({"query": "password", "tag": "security"}),
    )
    .unwrap();
    // Only the two articles tagged security (the Chinese one through the synonym 密码).
    let mut ids: Vec<&str> = narrowed
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["password-reset", "password-reset-en"], "{narrowed}");
    let elsewhere = invoke(
        &main,
        own_origin(),
        "kb_search",
        json!({"query": "password", "tag": "no-such-tag"}),
    )
    .unwrap();
    assert_eq!(elsewhere, json!([]));

    // Suggestions from a call's context (camelCase, as the UI sends it); none without one.
    let suggestions = invoke(
        &main,
        own_origin(),
        "kb_suggest",
        json!({"context": {"ivrPath": ["账单查询", "退款"], "notes": "客户要求退款",
            "openOrders": [{"title": "多收月租", "category": "投诉"}]}, "limit": 5}),
    )
    .unwrap();
    let top = suggestions[0]["id"].as_str().unwrap();
    assert!(top.starts_with("refund"), "{suggestions}");
    assert!(suggestions[0]["because"]
        .as_array()
        .unwrap()
        .contains(&json!("退款")));
    assert!(suggestions.as_array().unwrap().len() <= 5);
    let none = invoke(&main, own_origin(), "kb_suggest", json!({"context": {}})).unwrap();
    assert_eq!(none, json!([]));
}

#[test]
fn the_screen_pop_answers_from_the_local_cache_even_before_any_sync() {
    let h = app();
    let main = window(&h.app, "main");
    // Signed out, nothing synced: the pop reads the number and says the cache is empty.
    let pop = invoke(
        &main,
        own_origin(),
        "customer_pop",
        json!({"request": {"number": "013800138000", "ivr": {"X-IVR-Menu": "1>2"}}}),
    )
    .unwrap();
    assert_eq!(pop["caller"]["e164"], "+8613800138000", "{pop}");
    assert_eq!(pop["matched_by"]["by"], "nothing");
    assert_eq!(pop["cached_customers"], 0);
    assert_eq!(pop["ivr"][0]["value"], "1>2");
    let found = invoke(
        &main,
        own_origin(),
        "customer_search",
        json!({"text": "张"}),
    )
    .unwrap();
    assert_eq!(found, json!([]));
    let card = invoke(&main, own_origin(), "customer_card", json!({"id": "x"})).unwrap();
    assert!(card.is_null());
    let feed = invoke(&main, own_origin(), "customer_feed", json!({"sync": true})).unwrap();
    assert_eq!(feed["signed_in"], false);

    // The call log: no such call to wrap up; no calls today yet.
    let err = invoke(
        &main,
        own_origin(),
        "call_wrap_up",
        json!({"call": "nope", "code": "resolved", "notes": ""}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "no_such_call", "{err}");
    let err = invoke(
        &main,
        own_origin(),
        "call_wrap_up",
        json!({"call": "nope", "code": " ", "notes": ""}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    let figures = invoke(&main, own_origin(), "call_figures", json!({"since": 0})).unwrap();
    assert_eq!(figures["calls"], 0);
    // A callback promised for a call the log never saw is refused before any wrap-up.
    let err = invoke(
        &main,
        own_origin(),
        "call_wrap_up",
        json!({"call": "nope", "code": "callback_promised", "notes": "",
               "callback": {"due": "2026-12-01T10:00"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "no_such_call", "{err}");
    // A wrap-up that cannot be saved is refused before any callback order is made.
    let err = invoke(
        &main,
        own_origin(),
        "call_wrap_up",
        json!({"call": "nope", "code": "", "notes": "",
               "callback": {"due": "2026-12-01T10:00"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    let callbacks = invoke(
        &main,
        own_origin(),
        "callback_figures",
        json!({"since": 0, "until": 86_400_000}),
    );
    // Signed out: the desk has no orders to count and says so.
    assert_eq!(callbacks.unwrap_err()["code"], "not_signed_in");
}

#[test]
fn command_errors_come_back_as_code_and_message() {
    let h = app();
    let main = window(&h.app, "main");
    let err = invoke(
        &main,
        own_origin(),
        "agent_event",
        json!({"event": {"event": "set_not_ready", "reason": "nap"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "agent_state");
    assert!(err["message"].as_str().unwrap().contains("nap"), "{err}");

    // Malformed arguments are refused by deserialization, with a message, not a panic.
    let err = invoke(
        &main,
        own_origin(),
        "set_language",
        json!({"language": "xx"}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("language"), "{err}");
}

#[test]
fn a_window_without_a_capability_is_refused() {
    let h = app();
    let crm = window(&h.app, "crm");
    for cmd in [
        "app_info",
        "workspace_status",
        "set_language",
        "agent_event",
        "kb_suggest",
        "session",
        "login",
        "logout",
        "sync_now",
        "list_orders",
        "get_order",
        "create_order",
        "edit_order",
        "add_note",
        "change_status",
        "order_problems",
        "order_teammates",
        "dismiss_problem",
        "retry_problem",
        "phone_account",
        "phone_connect",
        "phone_disconnect",
        "phone_forget",
        "phone_dial",
        "phone_answer",
        "phone_decline",
        "phone_hangup",
        "phone_silence_ringer",
        "phone_hold",
        "phone_mute",
        "phone_pause_recording",
        "recordings_list",
        "recording_audio",
        "recording_delete",
        "phone_dtmf",
        "phone_transfer",
        "phone_attended_transfer",
        "customer_pop",
        "customer_search",
        "customer_card",
        "customer_feed",
        "customer_choose",
        "call_wrap_up",
        "call_figures",
        "callback_figures",
        "playbook",
        "customer_history",
        "customer_create",
        "audio_settings",
        "set_audio_settings",
        "audio_test_speaker",
        "audio_meter_start",
        "audio_meter_stop",
        "desktop_settings",
        "set_desktop_settings",
        "connection_settings",
        "set_connection_settings",
        "recording_settings",
        "set_recording_settings",
        "collect_diagnostics",
        "take_dial_link",
        "update_check",
        "update_install",
        "ui_ready",
    ] {
        let err = invoke(&crm, own_origin(), cmd, json!({"language": "en"})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not allowed"), "{cmd}: {text}");
    }
}

#[test]
fn a_remote_page_in_the_main_window_is_refused() {
    let h = app();
    let main = window(&h.app, "main");
    let err = invoke(&main, "https://crm.example.com", "app_info", json!({})).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
}

#[test]
fn commands_not_granted_are_refused_even_in_the_main_window() {
    let h = app();
    let main = window(&h.app, "main");
    // Core plugins the app does not grant (window control, paths, the opener).
    for cmd in [
        "plugin:window|close",
        "plugin:path|resolve_directory",
        "plugin:app|version",
        // The desktop plugins act from Rust only; the window gets none of their commands.
        "plugin:notification|notify",
        "plugin:global-shortcut|register",
        "plugin:autostart|enable",
        "plugin:deep-link|get_current",
        "plugin:window-state|save_window_state",
    ] {
        let err = invoke(&main, own_origin(), cmd, json!({})).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{cmd}: {err}");
    }
}

#[test]
fn main_window_reaches_the_work_order_commands() {
    let h = app();
    let main = window(&h.app, "main");
    let session = invoke(&main, own_origin(), "session", json!({})).unwrap();
    assert_eq!(session["signed_in"], false);
    assert!(session["account"].is_null());
    assert_eq!(session["sync"]["state"], "not_signed_in");

    // Without an account the orders are refused with a code the UI branches on.
    let err = invoke(
        &main,
        own_origin(),
        "list_orders",
        json!({"query": {"view": "mine"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_signed_in", "{err}");
    let err = invoke(
        &main,
        own_origin(),
        "create_order",
        json!({"order": {"kind": "repair", "customer": "张伟", "title": "断网", "priority": "high"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_signed_in", "{err}");

    // A login to a server that is not there is an error with a code, not a hang or a panic.
    let err = invoke(
        &main,
        own_origin(),
        "login",
        json!({"request": {"server_url": "http://127.0.0.1:9", "tenant": "demo",
            "username": "agent", "password": "pw"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "unreachable", "{err}");
    let err = invoke(
        &main,
        own_origin(),
        "login",
        json!({"request": {"server_url": "ftp://x", "tenant": "demo",
            "username": "agent", "password": "pw"}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    let session = invoke(&main, own_origin(), "logout", json!({"force": false})).unwrap();
    assert_eq!(session["signed_in"], false);
    invoke(&main, own_origin(), "sync_now", json!({})).unwrap();
    let problems = invoke(&main, own_origin(), "order_problems", json!({})).unwrap_err();
    assert_eq!(problems["code"], "not_signed_in");
    let teammates = invoke(&main, own_origin(), "order_teammates", json!({})).unwrap_err();
    assert_eq!(teammates["code"], "not_signed_in");
}

#[test]
fn main_window_reaches_the_phone_commands() {
    let h = app();
    let main = window(&h.app, "main");
    // No account yet: nothing saved, call commands say the phone is not connected.
    let account = invoke(&main, own_origin(), "phone_account", json!({})).unwrap();
    assert!(account.is_null());
    let err = invoke(&main, own_origin(), "phone_dial", json!({"target": "1002"})).unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");
    let err = invoke(
        &main,
        own_origin(),
        "phone_hold",
        json!({"call": "x", "hold": true}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");
    // Nothing rings without a phone: silencing is a no-op, not an error.
    invoke(&main, own_origin(), "phone_silence_ringer", json!({})).unwrap();
    invoke(&main, own_origin(), "phone_disconnect", json!({})).unwrap();
}

#[test]
fn main_window_lists_plays_and_deletes_recordings() {
    use seatline_recordings::{file_name, write_sidecar, CallDirection, RecordingMeta};
    let h = app();
    let main = window(&h.app, "main");
    // No folder yet: an empty list, not an error.
    let list = invoke(&main, own_origin(), "recordings_list", json!({})).unwrap();
    assert_eq!(list["entries"], json!([]));
    // One recording as the phone leaves it: a stereo WAV and its sidecar.
    let folder = h._dir.path().join("recordings");
    std::fs::create_dir_all(&folder).unwrap();
    let started = time::macros::datetime!(2026-11-30 09:00 UTC);
    let wav = folder.join(file_name("c1@pbx", started));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..16_000i16 {
        w.write_sample(i % 50).unwrap();
    }
    w.finalize().unwrap();
    let meta = RecordingMeta {
        display_name: Some("张伟".into()),
        customer_id: Some("c-1".into()),
        ..RecordingMeta::begun(
            "c1@pbx",
            CallDirection::Inbound,
            "+8613800138000",
            started,
            "PCMU",
            8000,
        )
    };
    write_sidecar(&wav, &meta).unwrap();
    std::fs::write(folder.join("junk.wav.json"), b"{").unwrap();

    let list = invoke(
        &main,
        own_origin(),
        "recordings_list",
        json!({"query": {"text": "138 0013"}}),
    )
    .unwrap();
    assert_eq!(list["entries"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["entries"][0]["duration_ms"], 1000);
    assert_eq!(list["problems"][0]["file"], "junk.wav");
    let id = list["entries"][0]["id"].as_str().unwrap().to_string();

    // The audio comes back as raw bytes (an ArrayBuffer in the window).
    let body = get_ipc_response(
        &main,
        InvokeRequest {
            cmd: "recording_audio".into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: own_origin().parse().unwrap(),
            body: InvokeBody::Json(json!({"id": id})),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .unwrap();
    match body {
        tauri::ipc::InvokeResponseBody::Raw(bytes) => {
            assert_eq!(&bytes[..4], b"RIFF");
            assert_eq!(bytes.len(), 44 + 32_000);
        }
        other => panic!("expected raw bytes, got {other:?}"),
    }
    let err = invoke(
        &main,
        own_origin(),
        "recording_audio",
        json!({"id": "../settings.toml"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    invoke(&main, own_origin(), "recording_delete", json!({"id": id})).unwrap();
    let err = invoke(&main, own_origin(), "recording_delete", json!({"id": id})).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    // Pausing needs a connected phone.
    let err = invoke(
        &main,
        own_origin(),
        "phone_pause_recording",
        json!({"call": "x", "paused": true}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_connected", "{err}");
}

#[test]
fn desktop_settings_are_checked_saved_and_problems_reported() {
    let h = app();
    let main = window(&h.app, "main");
    let view = invoke(&main, own_origin(), "desktop_settings", json!({})).unwrap();
    assert_eq!(view["settings"]["notifications"], true);
    assert_eq!(view["settings"]["start_at_login"], false);
    assert_eq!(view["settings"]["hotkeys"]["answer"], "CmdOrCtrl+Alt+A");
    assert!(view["log_dir"].as_str().unwrap().ends_with("logs"));

    // A clash is refused with its own code and changes nothing.
    let mut settings = view["settings"].clone();
    settings["hotkeys"]["hold"] = json!("cmdorctrl+alt+a");
    let err = invoke(
        &main,
        own_origin(),
        "set_desktop_settings",
        json!({ "settings": settings }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "hotkey", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("answer and hold"),
        "{err}"
    );

    // A valid change is saved in canonical form; the mock runtime has no global-shortcut
    // plugin, so the hotkeys come back as a problem to show, not a failure.
    let mut settings = view["settings"].clone();
    settings["hotkeys"]["hold"] = json!("shift+ctrl+f8");
    settings["notifications"] = json!(false);
    let saved = invoke(
        &main,
        own_origin(),
        "set_desktop_settings",
        json!({ "settings": settings }),
    )
    .unwrap();
    assert_eq!(saved["settings"]["hotkeys"]["hold"], "Ctrl+Shift+F8");
    assert_eq!(saved["settings"]["notifications"], false);
    assert!(
        saved["problems"][0]
            .as_str()
            .unwrap()
            .contains("hotkeys are not available"),
        "{saved}"
    );
    let text = std::fs::read_to_string(h._dir.path().join("settings.toml")).unwrap();
    assert!(text.contains("Ctrl+Shift+F8"), "{text}");
}

#[test]
fn server_timeouts_are_checked_and_saved() {
    let h = app();
    let main = window(&h.app, "main");
    let shown = invoke(&main, own_origin(), "connection_settings", json!({})).unwrap();
    assert_eq!(
        shown,
        json!({"connect_timeout_secs": 5, "read_timeout_secs": 15, "request_timeout_secs": 30})
    );
    // A whole request shorter than the silence it may wait through is refused; nothing saved.
    let err = invoke(
        &main,
        own_origin(),
        "set_connection_settings",
        json!({"settings": {"connect_timeout_secs": 5, "read_timeout_secs": 60, "request_timeout_secs": 30}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "settings", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("read_timeout_secs"),
        "{err}"
    );
    let saved = invoke(
        &main,
        own_origin(),
        "set_connection_settings",
        json!({"settings": {"connect_timeout_secs": 10, "read_timeout_secs": 60, "request_timeout_secs": 120}}),
    )
    .unwrap();
    assert_eq!(saved["read_timeout_secs"], 60);
    let text = std::fs::read_to_string(h._dir.path().join("settings.toml")).unwrap();
    assert!(text.contains("request_timeout_secs = 120"), "{text}");
    let shown = invoke(&main, own_origin(), "connection_settings", json!({})).unwrap();
    assert_eq!(shown["connect_timeout_secs"], 10);
}

#[test]
fn recording_settings_refuse_an_announcement_that_cannot_play() {
    let h = app();
    let main = window(&h.app, "main");
    let shown = invoke(&main, own_origin(), "recording_settings", json!({})).unwrap();
    assert_eq!(
        shown,
        json!({"enabled": false, "folder": null, "notice": "off", "notice_file": null, "keep_days": 0})
    );
    let set = |settings: Value| {
        invoke(
            &main,
            own_origin(),
            "set_recording_settings",
            json!({ "settings": settings }),
        )
    };
    // An announcement without a file, or with one that is not a WAV: refused, nothing saved.
    let err = set(json!({"enabled": true, "notice": "announcement"})).unwrap_err();
    assert_eq!(err["code"], "settings", "{err}");
    let not_wav = h._dir.path().join("notice.wav");
    std::fs::write(&not_wav, b"this is not audio").unwrap();
    let err = set(json!({"enabled": true, "notice": "announcement", "notice_file": not_wav}))
        .unwrap_err();
    assert_eq!(err["code"], "settings", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("cannot be played"),
        "{err}"
    );
    assert!(
        !h._dir.path().join("settings.toml").exists()
            || !std::fs::read_to_string(h._dir.path().join("settings.toml"))
                .unwrap()
                .contains("announcement")
    );
    // A real WAV is accepted and saved.
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&not_wav, spec).unwrap();
    for i in 0..8000 {
        w.write_sample(((i % 40) as i16 - 20) * 500).unwrap();
    }
    w.finalize().unwrap();
    let saved =
        set(json!({"enabled": true, "notice": "announcement", "notice_file": not_wav})).unwrap();
    assert_eq!(saved["notice"], "announcement");
    let text = std::fs::read_to_string(h._dir.path().join("settings.toml")).unwrap();
    assert!(text.contains("notice = \"announcement\""), "{text}");
    let shown = invoke(&main, own_origin(), "recording_settings", json!({})).unwrap();
    assert_eq!(shown["enabled"], true);

    // Retention: a recording of a call 40 days ago goes as soon as 30 days are saved; one
    // from yesterday stays.
    use seatline_recordings::{file_name, write_sidecar, CallDirection, RecordingMeta};
    let folder = h._dir.path().join("recordings");
    std::fs::create_dir_all(&folder).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut files = Vec::new();
    for (call, days) in [("old@pbx", 40), ("recent@pbx", 1)] {
        let started = now - time::Duration::days(days);
        let wav = folder.join(file_name(call, started));
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        let meta =
            RecordingMeta::begun(call, CallDirection::Inbound, "10086", started, "PCMU", 8000);
        write_sidecar(&wav, &meta).unwrap();
        files.push(wav);
    }
    let err = set(json!({"enabled": true, "keep_days": 4000})).unwrap_err();
    assert_eq!(err["code"], "settings", "{err}");
    assert!(files[0].exists(), "a refused save pruned");
    set(json!({"enabled": true, "keep_days": 30})).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while files[0].exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !files[0].exists(),
        "the 40-day-old recording is still there"
    );
    assert!(files[1].exists(), "yesterday's recording went too");
}

#[test]
fn audio_settings_are_checked_saved_and_reach_the_phone() {
    let h = app();
    let main = window(&h.app, "main");
    let view = invoke(&main, own_origin(), "audio_settings", json!({})).unwrap();
    assert_eq!(view["settings"]["ring_volume"], 80);
    assert_eq!(view["settings"]["input"], Value::Null);
    // Without a sound system the list is empty with a reason, or lists what there is.
    assert!(view["devices"].is_array(), "{view}");

    let mut settings = view["settings"].clone();
    settings["ring_volume"] = json!(101);
    let err = invoke(
        &main,
        own_origin(),
        "set_audio_settings",
        json!({ "settings": settings }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "settings", "{err}");
    assert!(err["message"].as_str().unwrap().contains("101"), "{err}");

    let mut settings = view["settings"].clone();
    settings["ring"] = json!("alsa:default");
    settings["output"] = json!(" alsa:hw:CARD=Headset,DEV=0 ");
    settings["ring_volume"] = json!(30);
    let saved = invoke(
        &main,
        own_origin(),
        "set_audio_settings",
        json!({ "settings": settings }),
    )
    .unwrap();
    assert_eq!(saved["settings"]["output"], "alsa:hw:CARD=Headset,DEV=0");
    assert_eq!(saved["settings"]["ring_volume"], 30);
    let text = std::fs::read_to_string(h._dir.path().join("settings.toml")).unwrap();
    assert!(
        text.contains("[audio]") && text.contains("ring = \"alsa:default\""),
        "{text}"
    );
    // Stopping a microphone test that never started is fine.
    invoke(&main, own_origin(), "audio_meter_stop", json!({})).unwrap();
}

#[test]
fn a_dial_link_waits_for_the_window_once_and_junk_is_an_error() {
    let h = app();
    let main = window(&h.app, "main");
    assert!(invoke(&main, own_origin(), "take_dial_link", json!({}))
        .unwrap()
        .is_null());
    seatline_desktop::handle_link(h.app.handle(), "tel:+86 (10) 1234-5678");
    let link = invoke(&main, own_origin(), "take_dial_link", json!({})).unwrap();
    assert_eq!(link["target"], "+861012345678");
    assert_eq!(link["scheme"], "tel");
    // Taken once.
    assert!(invoke(&main, own_origin(), "take_dial_link", json!({}))
        .unwrap()
        .is_null());
    // The same link again at once (deep-link and single-instance both saw it) counts once.
    seatline_desktop::handle_link(h.app.handle(), "tel:+86 (10) 1234-5678");
    assert!(invoke(&main, own_origin(), "take_dial_link", json!({}))
        .unwrap()
        .is_null());
    seatline_desktop::handle_link(h.app.handle(), "sip:Bob@PBX.example.com;transport=tcp");
    let link = invoke(&main, own_origin(), "take_dial_link", json!({})).unwrap();
    assert_eq!(link["target"], "sip:Bob@pbx.example.com");
    seatline_desktop::handle_link(h.app.handle(), "tel:call-me-maybe");
    let err = invoke(&main, own_origin(), "take_dial_link", json!({})).unwrap_err();
    assert_eq!(err["code"], "bad_link", "{err}");
}

#[test]
fn diagnostics_from_the_window_leave_secrets_out() {
    let h = app();
    let main = window(&h.app, "main");
    let logs = h._dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("seatline.2026-11-30.log"),
        "INFO login password=Planted-Pa55 ok\nWARN http Authorization: Bearer planted.jwt.token\nINFO call answered\n",
    )
    .unwrap();
    let path = invoke(&main, own_origin(), "collect_diagnostics", json!({})).unwrap();
    let path = std::path::PathBuf::from(path.as_str().unwrap());
    assert!(
        path.starts_with(h._dir.path().join("diagnostics")),
        "{path:?}"
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut all = String::new();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        use std::io::Read;
        let mut file = archive.by_index(i).unwrap();
        names.push(file.name().unwrap().to_string());
        file.read_to_string(&mut all).unwrap();
    }
    assert!(names.contains(&"versions.txt".to_owned()), "{names:?}");
    assert!(
        names.contains(&"logs/seatline.2026-11-30.log".to_owned()),
        "{names:?}"
    );
    assert!(
        all.contains("call answered") && all.contains("tauri: "),
        "{all}"
    );
    assert!(
        !all.contains("Planted-Pa55") && !all.contains("planted.jwt.token"),
        "{all}"
    );
}
