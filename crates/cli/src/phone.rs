//! `seatline phone`: the softphone without a window. Registers, calls and answers, prints every
//! call event as one JSON line on standard output, and takes commands as lines on standard
//! input. Tests, benchmarks and scripts drive the phone through it.

use clap::Args;
use seatline_secrets::{SecretName, SecretStore};
use seatline_sip_phone::{
    AccountConfig, AudioIo, MediaEncryption, Phone, PhoneConfig, PhoneEvent, PhoneHandle,
    RecordingNotice, SipTransport,
};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

#[derive(Args, Debug)]
pub struct PhoneArgs {
    /// SIP domain / registrar, `host` or `host:port`.
    #[arg(long)]
    domain: String,
    /// Extension (AOR user part).
    #[arg(long)]
    user: String,
    /// Digest user, when the PBX gives an authentication ID apart from the extension.
    #[arg(long)]
    auth_user: Option<String>,
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long, default_value = "udp")]
    transport: SipTransport,
    /// SRTP with SDES keys: off, optional (keys offered on RTP/AVP, plain RTP if the peer has
    /// none) or required (RTP/SAVP only; 488 to offers without keys). Use with --transport tls.
    #[arg(long, default_value = "off")]
    srtp: MediaEncryption,
    /// Send all SIP to this `host:port`.
    #[arg(long)]
    outbound_proxy: Option<String>,
    /// Do not register (call and receive by address only).
    #[arg(long)]
    no_register: bool,
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Read the SIP password from this environment variable instead of the OS keychain
    /// (keychain entry `sip:USER@DOMAIN`, stored with `seatline secret set`).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Local SIP address (default: the address that routes to the domain).
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Local SIP port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to advertise in Contact and SDP.
    #[arg(long)]
    advertise: Option<IpAddr>,
    /// RTP port range, `LOW-HIGH`.
    #[arg(long, default_value = "16384-32766")]
    rtp_ports: String,
    /// Codec preference, comma separated: opus, PCMU, PCMA.
    #[arg(long, default_value = "opus,PCMU,PCMA", value_delimiter = ',')]
    codecs: Vec<String>,
    /// Answer every incoming call by itself after this many milliseconds.
    #[arg(long, value_name = "MS")]
    auto_answer: Option<u64>,
    /// Ignore the PBX's auto-answer requests (Call-Info answer-after, Answer-Mode).
    #[arg(long)]
    ignore_auto_answer_requests: bool,
    /// Refuse a second call while one is up (486) instead of call waiting.
    #[arg(long)]
    no_call_waiting: bool,
    /// Header carrying IVR data for the screen pop (repeatable; `X-IVR-*` prefixes allowed).
    #[arg(long = "ivr-header", value_name = "NAME")]
    ivr_headers: Vec<String>,
    /// WAV file played as the microphone (looped).
    #[arg(long, value_name = "WAV")]
    play: Option<PathBuf>,
    /// Folder where what each call hears is recorded, one WAV per call.
    #[arg(long, value_name = "DIR")]
    record_dir: Option<PathBuf>,
    /// Call recording: both sides of each call to a stereo WAV with a JSON sidecar in this
    /// folder (`pause-recording` / `resume-recording` during a call).
    #[arg(long, value_name = "DIR")]
    call_recording_dir: Option<PathBuf>,
    /// What the far end hears while a call is recorded: `off`, `tone` (a 1400 Hz beep every
    /// 15 s) or an announcement WAV file played once.
    #[arg(long, value_name = "off|tone|WAV", default_value = "off", value_parser = parse_notice)]
    recording_notice: RecordingNotice,
    /// Call this target at start (after the first registration when registering).
    #[arg(long, value_name = "TARGET")]
    call: Option<String>,
    /// Hang up every call this many seconds after it is answered.
    #[arg(long, value_name = "SECS")]
    hangup_after: Option<f64>,
    /// Exit once a call has happened and no call is left.
    #[arg(long)]
    exit_when_idle: bool,
    /// Seconds between keep-alive pings to the registrar (0: off).
    #[arg(long, value_name = "SECS", default_value_t = PhoneConfig::default().keepalive_secs)]
    keepalive: u32,
    /// Send Opus without in-band FEC (benchmarks; FEC is on by default).
    #[arg(long)]
    no_opus_fec: bool,
    /// SIP over TLS: trust only the CA certificates in this PEM file (a private PBX's CA).
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PhoneCliError {
    #[error("{0}")]
    Usage(String),
    #[error("no SIP password: set it with `seatline secret set sip:{user}@{domain}` or pass --password-env")]
    NoPassword { user: String, domain: String },
    #[error(transparent)]
    Secrets(#[from] seatline_secrets::SecretsError),
    #[error(transparent)]
    Phone(#[from] seatline_sip_phone::PhoneError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn password(args: &PhoneArgs, secrets: &dyn SecretStore) -> Result<String, PhoneCliError> {
    if let Some(var) = &args.password_env {
        return std::env::var(var)
            .map_err(|_| PhoneCliError::Usage(format!("environment variable {var} is not set")));
    }
    let name = SecretName::sip_password(&args.user, &args.domain)?;
    match secrets.get(&name) {
        Ok(Some(secret)) => Ok(secret.expose().to_string()),
        Ok(None) => Err(PhoneCliError::NoPassword {
            user: args.user.clone(),
            domain: args.domain.clone(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// `off`, `tone`, or the path of an announcement WAV file (it must exist: a notice the
/// phone cannot play must not pass unnoticed).
fn parse_notice(s: &str) -> Result<RecordingNotice, String> {
    match s {
        "off" => Ok(RecordingNotice::Off),
        "tone" => Ok(RecordingNotice::Tone),
        path if std::path::Path::new(path).is_file() => {
            Ok(RecordingNotice::Announcement(PathBuf::from(path)))
        }
        other => Err(format!("{other:?} is not off, tone or a WAV file")),
    }
}

fn parse_range(s: &str) -> Result<(u16, u16), PhoneCliError> {
    let bad = || PhoneCliError::Usage(format!("--rtp-ports wants LOW-HIGH, got {s:?}"));
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo >= hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

pub fn run(args: PhoneArgs, secrets: &dyn SecretStore) -> Result<(), PhoneCliError> {
    let password = if args.no_register && args.password_env.is_none() {
        // Calling by address without registering may need no credentials at all.
        password(&args, secrets).unwrap_or_default()
    } else {
        password(&args, secrets)?
    };
    let account = AccountConfig {
        id: "default".into(),
        user: args.user.clone(),
        auth_user: args.auth_user.clone(),
        display_name: args.display_name.clone(),
        domain: args.domain.clone(),
        transport: args.transport,
        outbound_proxy: args.outbound_proxy.clone(),
        register: !args.no_register,
        expires: args.expires,
        auto_answer_ms: args.auto_answer,
        honour_auto_answer_requests: !args.ignore_auto_answer_requests,
        ivr_headers: if args.ivr_headers.is_empty() {
            AccountConfig::default().ivr_headers
        } else {
            args.ivr_headers.clone()
        },
        media_encryption: args.srtp,
    };
    let config = PhoneConfig {
        bind_ip: args.bind.unwrap_or(IpAddr::from([0, 0, 0, 0])),
        sip_port: args.port,
        advertised_ip: args.advertise.or(args.bind),
        rtp_ports: parse_range(&args.rtp_ports)?,
        codecs: args.codecs.clone(),
        call_waiting: !args.no_call_waiting,
        audio: if args.play.is_some() || args.record_dir.is_some() {
            AudioIo::Files {
                source: args.play.clone(),
                record_dir: args.record_dir.clone(),
            }
        } else {
            AudioIo::Null
        },
        keepalive_secs: args.keepalive,
        tls_ca_file: args.tls_ca.clone(),
        call_recording_dir: args.call_recording_dir.clone(),
        recording_notice: args.recording_notice.clone(),
        opus_fec: !args.no_opus_fec,
        ..PhoneConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(PhoneCliError::Runtime)?;
    let result = runtime.block_on(drive(args, config, account, password));
    // Tokio reads stdin on a blocking thread that a still-open pipe never releases: waiting for
    // it at runtime drop would keep the process alive after a SIGTERM. Nothing else is pending.
    runtime.shutdown_background();
    result
}

fn print(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the driver went away) is not worth a panic.
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

async fn drive(
    args: PhoneArgs,
    config: PhoneConfig,
    account: AccountConfig,
    password: String,
) -> Result<(), PhoneCliError> {
    let registering = account.register;
    let Phone { handle, mut events } = Phone::start(config, vec![(account, password)]).await?;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut pending_call = args.call.clone();
    if !registering {
        if let Some(target) = pending_call.take() {
            dial(&handle, &target).await;
        }
    }
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut had_call = false;
    let mut terminate = Box::pin(terminate_signal());
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                print(&serde_json::to_value(&event).unwrap_or_else(|e| json!({"type": "error", "message": e.to_string()})));
                match &event {
                    PhoneEvent::Registration { state: seatline_sip_phone::RegistrationState::Registered { .. }, .. } => {
                        if let Some(target) = pending_call.take() {
                            dial(&handle, &target).await;
                        }
                    }
                    PhoneEvent::IncomingCall { call, .. } | PhoneEvent::Dialing { call, .. } => {
                        live.insert(call.clone());
                        current = Some(call.clone());
                        had_call = true;
                    }
                    PhoneEvent::Established { call, .. } => {
                        if let Some(secs) = args.hangup_after {
                            let handle = handle.clone();
                            let call = call.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                                let _ = handle.hangup(&call).await;
                            });
                        }
                    }
                    PhoneEvent::Ended { call, .. } => {
                        live.remove(call);
                        if current.as_deref() == Some(call.as_str()) {
                            current = live.iter().next_back().cloned();
                        }
                        if args.exit_when_idle && had_call && live.is_empty() {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            line = stdin.next_line(), if stdin_open => {
                match line {
                    Ok(Some(line)) => {
                        if line.trim() == "quit" {
                            break;
                        }
                        let reply = command(&handle, &line, current.as_deref()).await;
                        print(&reply);
                    }
                    // Closed stdin: keep running (driven by flags or signals).
                    Ok(None) | Err(_) => stdin_open = false,
                }
            }
            _ = &mut terminate => break,
        }
    }
    handle.shutdown().await;
    // Print what the shutdown produced (call ends, un-registration).
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), events.recv()).await
    {
        print(&serde_json::to_value(&event).unwrap_or_default());
    }
    Ok(())
}

async fn terminate_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn dial(handle: &PhoneHandle, target: &str) {
    if let Err(e) = handle.dial(None, target).await {
        print(&json!({"type": "error", "call": null, "message": format!("dial {target}: {e}")}));
    }
}

/// One command line: `VERB [ARG] [call=ID]`. Without `call=`, the newest live call.
async fn command(handle: &PhoneHandle, line: &str, current: Option<&str>) -> serde_json::Value {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let explicit = words
        .iter()
        .position(|w| w.starts_with("call="))
        .map(|i| words.remove(i).trim_start_matches("call=").to_string());
    let call = explicit.or_else(|| current.map(str::to_string));
    let verb = words.first().copied().unwrap_or_default();
    let arg = words.get(1).copied();
    let need_call = || {
        call.clone()
            .ok_or_else(|| seatline_sip_phone::PhoneError::WrongState("no call".into()))
    };
    let result: Result<Option<String>, seatline_sip_phone::PhoneError> = async {
        match (verb, arg) {
            ("dial", Some(target)) => handle.dial(None, target).await.map(Some),
            ("answer", _) => handle.answer(&need_call()?).await.map(|_| None),
            ("decline", code) => {
                let code = code.and_then(|c| c.parse().ok()).unwrap_or(486);
                handle.decline(&need_call()?, code).await.map(|_| None)
            }
            ("hangup", _) => handle.hangup(&need_call()?).await.map(|_| None),
            ("hold", _) => handle.hold(&need_call()?, true).await.map(|_| None),
            ("resume", _) => handle.hold(&need_call()?, false).await.map(|_| None),
            ("mute", _) => handle.mute(&need_call()?, true).await.map(|_| None),
            ("unmute", _) => handle.mute(&need_call()?, false).await.map(|_| None),
            ("pause-recording", _) => handle.pause_recording(&need_call()?, true).await.map(|_| None),
            ("resume-recording", _) => handle.pause_recording(&need_call()?, false).await.map(|_| None),
            ("dtmf", Some(digits)) => handle.send_dtmf(&need_call()?, digits).await.map(|_| None),
            ("transfer", Some(target)) => handle.blind_transfer(&need_call()?, target).await.map(|_| None),
            ("attended", Some(consult)) => handle.attended_transfer(&need_call()?, consult).await.map(|_| None),
            ("reregister", _) => {
                handle.reregister();
                Ok(None)
            }
            _ => Err(seatline_sip_phone::PhoneError::Config(format!(
                "unknown command {line:?}; try: dial T, answer, decline [CODE], hangup, hold, resume, mute, unmute, dtmf D, transfer T, attended CALL, reregister, quit (add call=ID to pick a call)"
            ))),
        }
    }
    .await;
    match result {
        Ok(new_call) => {
            json!({"type": "command_result", "command": verb, "ok": true, "call": new_call.or(call)})
        }
        Err(e) => {
            json!({"type": "command_result", "command": verb, "ok": false, "error": e.to_string()})
        }
    }
}
