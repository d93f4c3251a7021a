// Declares the app's commands so each one needs an explicit `allow-*` permission in a
// capability, and reads the capabilities from src-tauri/capabilities.
const COMMANDS: &[&str] = &[
    "app_info",
    "workspace_status",
    "set_language",
    "agent_event",
    "kb_search",
    "kb_article",
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
    "playbook_save",
    "call_quality_report",
    "kb_editable",
    "kb_save_article",
    "kb_delete_article",
    "customer_history",
    "customer_create",
    "audio_settings",
    "set_audio_settings",
    "audio_test_speaker",
    "audio_meter_start",
    "audio_meter_stop",
    "desktop_settings",
    "set_desktop_settings",
    "collect_diagnostics",
    "take_dial_link",
    "update_check",
    "update_install",
    "ui_ready",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by panicking; say why first.
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
