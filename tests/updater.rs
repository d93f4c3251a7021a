//! Signed updates, end to end on the real updater plugin: the app (its real builder and context,
//! on Tauri's mock runtime) checks a loopback HTTP server for an update manifest, downloads the
//! artifact and verifies its minisign signature before installing it. Key pairs and signatures
//! are made here, as `tauri signer generate` / `tauri signer sign --app-version` make them.
//!
//! Proven: a good update is installed (a stand-in AppImage is replaced); a tampered artifact, a
//! signature from another key and a signature made for another version are refused with a
//! signature error and leave the installed file untouched; through IPC the main window's
//! `update_check` / `update_install` commands see the same; the production config is strict.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use seatline_desktop::updates::{self, UpdateError};
use seatline_desktop::{AppState, DesktopState, PhoneState, PopState};
use seatline_phone_session::PhoneSession;
use seatline_secrets::MemoryStore;
use seatline_settings::resolve_data_dir;
use seatline_sip_phone::AudioIo;
use seatline_workspace::desk::SyncConfig;
use seatline_workspace::screen_pop::{normalizer_for, ScreenPop};
use seatline_workspace::{Desk, Workspace};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_updater::{Error as PluginError, Updater, UpdaterExt};

const CURRENT: &str = "0.1.0";
const NEXT: &str = "0.2.0";
const ARTIFACT: &str = "Seatline_0.2.0_amd64.AppImage";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A minisign key pair, as `tauri signer generate` makes one (unencrypted here).
struct Signer {
    keys: minisign::KeyPair,
}

impl Signer {
    fn generate() -> Self {
        Self {
            keys: minisign::KeyPair::generate_unencrypted_keypair().unwrap(),
        }
    }

    /// The value of `plugins.updater.pubkey`: the public key file, base64-encoded.
    fn pubkey(&self) -> String {
        b64(&self.keys.pk.to_box().unwrap().to_string())
    }

    /// The `.sig` file's content for `data`, base64-encoded, bound to `version` in the trusted
    /// comment as `tauri signer sign --app-version` does.
    fn sign(&self, data: &[u8], file: &str, version: &str) -> String {
        let trusted = format!("timestamp:1796000000\tfile:{file}\tversion:{version}");
        let signature = minisign::sign(
            Some(&self.keys.pk),
            &self.keys.sk,
            std::io::Cursor::new(data),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        b64(&signature.to_string())
    }
}

/// An ELF-looking payload: the AppImage installer refuses anything else.
fn appimage(marker: &str) -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend_from_slice(marker.as_bytes());
    bytes.resize(4096, 0x5a);
    bytes
}

/// Path → (content type, body).
type Routes = Mutex<HashMap<String, (&'static str, Vec<u8>)>>;

/// A loopback HTTP/1.1 server with fixed routes; it records every path it was asked for.
struct UpdateServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl UpdateServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requested(&self, path: &str) -> bool {
        self.requests.lock().unwrap().iter().any(|p| p == path)
    }
}

/// What the update server offers: version `NEXT`, `served` at the artifact URL, with `signature`.
fn serve(served: Vec<u8>, signature: String) -> UpdateServer {
    serve_version(NEXT, served, signature)
}

fn serve_version(version: &str, served: Vec<u8>, signature: String) -> UpdateServer {
    let target = tauri_plugin_updater::target().unwrap();
    let artifact_path = format!("/download/{ARTIFACT}");
    // The manifest needs the server's own address: bind first, then fill the routes.
    let routes = Arc::new(Mutex::new(HashMap::new()));
    let server = UpdateServer::start_shared(routes.clone());
    let manifest = json!({
        "version": version,
        "notes": "Signed test release",
        "pub_date": "2026-11-30T12:00:00Z",
        "platforms": {
            target: { "url": server.url(&artifact_path), "signature": signature }
        }
    });
    let mut routes = routes.lock().unwrap();
    routes.insert(
        "/latest.json".to_owned(),
        ("application/json", serde_json::to_vec(&manifest).unwrap()),
    );
    routes.insert(artifact_path, ("application/octet-stream", served));
    drop(routes);
    server
}

impl UpdateServer {
    fn start_shared(routes: Arc<Routes>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                handle(stream, &routes, &seen);
            }
        });
        Self { addr, requests }
    }
}

fn handle(mut stream: std::net::TcpStream, routes: &Routes, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    seen.lock().unwrap().push(path.clone());
    let response = match routes.lock().unwrap().get(&path) {
        Some((content_type, body)) => {
            let mut head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            head.extend_from_slice(body);
            head
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response);
}

struct Harness {
    app: App<MockRuntime>,
    dir: tempfile::TempDir,
}

/// The real app (builder, tauri.conf.json, capabilities) whose updater trusts `pubkey` and asks
/// `server`: the only change to the production config is the loopback http endpoint (allowed
/// through `dangerousInsecureTransportProtocol`, test only) and the key.
fn app(server: &UpdateServer, pubkey: String) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = resolve_data_dir(Some(dir.path()), None).unwrap();
    let workspace = Workspace::open(
        data_dir,
        Some("en-US".into()),
        Arc::new(MemoryStore::new()),
        1_000,
    )
    .unwrap();
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
    let mut context = seatline_desktop::context::<MockRuntime>();
    let production = context.config().plugins.0.get("updater").cloned().unwrap();
    let mut updater = production;
    updater["endpoints"] = json!([server.url("/latest.json")]);
    updater["pubkey"] = json!(pubkey);
    updater["dangerousInsecureTransportProtocol"] = json!(true);
    context
        .config_mut()
        .plugins
        .0
        .insert("updater".into(), updater);
    let app = seatline_desktop::builder(
        mock_builder(),
        AppState::new(Mutex::new(workspace), desk),
        phone,
        pop,
        DesktopState::default(),
    )
    .build(context)
    .unwrap();
    Harness { app, dir }
}

impl Harness {
    /// A stand-in for the installed AppImage, and an updater that replaces it.
    fn installed(&self) -> (PathBuf, Updater) {
        let path = self.dir.path().join("Seatline.AppImage");
        std::fs::write(&path, appimage("installed 0.1.0")).unwrap();
        let updater = self
            .app
            .updater_builder()
            .executable_path(&path)
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        (path, updater)
    }
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tauri::async_runtime::block_on(future)
}

fn assert_untouched(path: &Path) {
    assert_eq!(std::fs::read(path).unwrap(), appimage("installed 0.1.0"));
}

#[test]
fn a_good_update_is_verified_and_installed() {
    let key = Signer::generate();
    let release = appimage("release 0.2.0");
    let server = serve(release.clone(), key.sign(&release, ARTIFACT, NEXT));
    let h = app(&server, key.pubkey());
    let (installed, updater) = h.installed();

    let view = run(updates::download_and_install(
        &updater,
        CURRENT.into(),
        true,
    ))
    .unwrap();

    assert_eq!(view.available.as_deref(), Some(NEXT));
    assert_eq!(view.notes.as_deref(), Some("Signed test release"));
    assert!(view.installed);
    assert!(server.requested("/latest.json"));
    assert!(server.requested(&format!("/download/{ARTIFACT}")));
    assert_eq!(std::fs::read(&installed).unwrap(), release);
}

#[test]
fn a_tampered_artifact_is_refused_with_a_signature_error() {
    let key = Signer::generate();
    let release = appimage("release 0.2.0");
    let signature = key.sign(&release, ARTIFACT, NEXT);
    // One byte changed after signing (what a compromised mirror would serve).
    let mut tampered = release.clone();
    tampered[100] ^= 0x01;
    let server = serve(tampered, signature);
    let h = app(&server, key.pubkey());
    let (installed, updater) = h.installed();

    let error = run(updates::download_and_install(
        &updater,
        CURRENT.into(),
        true,
    ))
    .unwrap_err();

    assert_eq!(error.code(), "update_signature", "{error}");
    assert!(
        matches!(error, UpdateError::Signature(PluginError::Minisign(_))),
        "{error:?}"
    );
    assert!(server.requested(&format!("/download/{ARTIFACT}")));
    assert_untouched(&installed);
}

#[test]
fn a_signature_from_another_key_is_refused() {
    let trusted = Signer::generate();
    let attacker = Signer::generate();
    let release = appimage("release 0.2.0");
    let server = serve(release.clone(), attacker.sign(&release, ARTIFACT, NEXT));
    let h = app(&server, trusted.pubkey());
    let (installed, updater) = h.installed();

    let error = run(updates::download_and_install(
        &updater,
        CURRENT.into(),
        true,
    ))
    .unwrap_err();

    assert!(
        matches!(error, UpdateError::Signature(PluginError::Minisign(_))),
        "{error:?}"
    );
    assert_untouched(&installed);
}

#[test]
fn a_signature_made_for_another_version_is_refused() {
    // A genuine, validly signed older release announced as the new version (a replayed
    // downgrade): `requireSignedVersion` in the production config catches it.
    let key = Signer::generate();
    let old = appimage("release 0.1.5");
    let server = serve(old.clone(), key.sign(&old, ARTIFACT, "0.1.5"));
    let h = app(&server, key.pubkey());
    let (installed, updater) = h.installed();

    let error = run(updates::download_and_install(
        &updater,
        CURRENT.into(),
        true,
    ))
    .unwrap_err();

    assert!(
        matches!(
            error,
            UpdateError::Signature(PluginError::SignedVersionMismatch { .. })
        ),
        "{error:?}"
    );
    assert_untouched(&installed);
}

#[test]
fn the_same_version_is_no_update_and_nothing_is_downloaded() {
    let key = Signer::generate();
    let release = appimage("release 0.1.0");
    let server = serve_version(
        CURRENT,
        release.clone(),
        key.sign(&release, ARTIFACT, CURRENT),
    );
    let h = app(&server, key.pubkey());
    let (installed, updater) = h.installed();

    let checked = run(updates::check(&updater, CURRENT.into())).unwrap();
    assert_eq!(checked.available, None);
    let view = run(updates::download_and_install(
        &updater,
        CURRENT.into(),
        true,
    ))
    .unwrap();
    assert_eq!(view.available, None);
    assert!(!view.installed);
    assert!(server.requested("/latest.json"));
    assert!(!server.requested(&format!("/download/{ARTIFACT}")));
    assert_untouched(&installed);
}

fn invoke(app: &App<MockRuntime>, cmd: &str) -> Result<Value, Value> {
    let main = app.get_webview_window("main").unwrap_or_else(|| {
        WebviewWindowBuilder::new(app, "main", WebviewUrl::default())
            .build()
            .unwrap()
    });
    let origin = if cfg!(feature = "custom-protocol") {
        "tauri://localhost"
    } else {
        "http://localhost:5173"
    };
    get_ipc_response(
        &main,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: origin.parse().unwrap(),
            body: InvokeBody::Json(json!({})),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn the_main_window_checks_and_refuses_through_its_commands() {
    let key = Signer::generate();
    let release = appimage("release 0.2.0");
    let good = serve(release.clone(), key.sign(&release, ARTIFACT, NEXT));
    let h = app(&good, key.pubkey());

    let checked = invoke(&h.app, "update_check").unwrap();
    assert_eq!(checked["current_version"], CURRENT);
    assert_eq!(checked["available"], NEXT);
    assert_eq!(checked["installed"], false);
    // Verified, then stopped: a test binary is no bundle the updater may replace.
    let error = invoke(&h.app, "update_install").unwrap_err();
    assert_eq!(error["code"], "update_not_bundled", "{error}");
    assert!(good.requested(&format!("/download/{ARTIFACT}")));

    let mut tampered = release.clone();
    tampered[4000] ^= 0x80;
    let bad = serve(tampered, key.sign(&release, ARTIFACT, NEXT));
    let h = app(&bad, key.pubkey());
    let error = invoke(&h.app, "update_install").unwrap_err();
    assert_eq!(error["code"], "update_signature", "{error}");

    // The plugin's own commands are not granted to the window: only the app's two.
    let refused = invoke(&h.app, "plugin:updater|check").unwrap_err();
    assert!(refused.to_string().contains("not allowed"), "{refused}");
}

#[test]
fn the_production_config_is_strict() {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string("tauri.conf.json").unwrap()).unwrap();
    let updater = &config["plugins"]["updater"];
    let endpoints = updater["endpoints"].as_array().unwrap();
    assert!(!endpoints.is_empty());
    for endpoint in endpoints {
        assert!(
            endpoint.as_str().unwrap().starts_with("https://"),
            "{endpoint}"
        );
    }
    assert_eq!(updater["requireSignedVersion"], true);
    for flag in [
        "dangerousInsecureTransportProtocol",
        "dangerousAcceptInvalidCerts",
        "dangerousAcceptInvalidHostnames",
        "allowDowngrades",
    ] {
        assert!(updater.get(flag).is_none(), "{flag} must stay unset");
    }
    // The public key is a minisign public key (the file `tauri signer generate` writes).
    let text = base64::engine::general_purpose::STANDARD
        .decode(updater["pubkey"].as_str().unwrap())
        .unwrap();
    minisign::PublicKeyBox::from_string(std::str::from_utf8(&text).unwrap())
        .unwrap()
        .into_public_key()
        .unwrap();
    assert_eq!(config["bundle"]["createUpdaterArtifacts"], true);
    // And the plugin itself accepts it (it refuses http endpoints unless told otherwise).
    let parsed: tauri_plugin_updater::Config = serde_json::from_value(updater.clone()).unwrap();
    assert!(parsed.require_signed_version);
    assert!(!parsed.dangerous_insecure_transport_protocol);
}
