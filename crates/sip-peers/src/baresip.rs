//! baresip 1.0 user agents on loopback, driven over ctrl_tcp (netstring JSON).
//!
//! Audio without a sound card: the source is either a WAV file (`aufile`; baresip 1.0 ends
//! the call at end of file) or an `aubridge` loop that plays what it receives back to the far
//! end (a real-time paced echo). What a UA receives is recorded by the `sndfile` filter as
//! `dump-*-dec.wav` ([`Baresip::received_audio`]); what it sent as `dump-*-enc.wav`.

use crate::error::{io, Error, Result};
use crate::kamailio::Kamailio;
use crate::ports::{free_port, free_port_range};
use crate::process::{log_dir, require_binary, PeerProcess};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Audio codecs to offer/accept, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
    /// Opus 48 kHz (baresip's opus module: 28 kbit/s by default, in-band FEC per config).
    Opus,
}

impl Codec {
    fn sdp_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::Opus => "opus/48000/2",
        }
    }
}

/// Where the UA's transmitted audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioMode {
    /// Plays this WAV file (`aufile`); the call ends at end of file in baresip 1.0.
    File(PathBuf),
    /// Sends back what it receives (aubridge player -> source), paced in real time. Sends
    /// nothing until the far end sends: two Echo UAs are silent (and send no DTMF).
    Echo,
    /// A continuous sine tone (`ausine`, 48 kHz stereo source resampled by baresip): an audio
    /// source that never ends, e.g. for call-control tests and RFC 4733 DTMF.
    Sine(u32),
}

/// One baresip UA. [`BaresipConfig::new`] picks free SIP, ctrl and RTP ports.
#[derive(Debug, Clone)]
pub struct BaresipConfig {
    pub user: String,
    pub password: Option<String>,
    /// Register at (and send calls through) this registrar/proxy, with `domain` as AOR host.
    pub registrar: Option<(SocketAddr, String)>,
    pub auto_answer: bool,
    pub codecs: Vec<Codec>,
    pub audio: AudioMode,
    /// Record sent/received audio with `sndfile` (default true).
    pub record: bool,
    pub sip_port: u16,
    pub ctrl_port: u16,
    /// First of 10 RTP/RTCP ports.
    pub rtp_port: u16,
    /// Jitter buffer delay in frames (baresip's `jitter_buffer_delay`), default 1-10.
    pub jitter_buffer: (u32, u32),
    /// Opus in-band FEC and expected loss (%), written to the opus module's config.
    pub opus_fec: bool,
    pub opus_packet_loss: u32,
    /// The opus module's `opus_bitrate` (baresip's default: 28 kbit/s).
    pub opus_bitrate: u32,
    /// Registration interval in s when registering (baresip `regint`).
    pub regint: u32,
    /// Extra raw config lines.
    pub extra_config: Vec<String>,
    /// `baresip -s`: every SIP message in the stdout log (default true).
    pub sip_trace: bool,
    /// The account's `mediaenc` (`srtp`, `srtp-mand`...): loads the srtp module.
    pub mediaenc: Option<String>,
    /// baresip's `rtcp_mux` (RFC 5761, RTCP on the RTP port); default off.
    pub rtcp_mux: bool,
    /// Send all SIP through this outbound proxy (the account's `outbound` parameter).
    pub outbound: Option<SocketAddr>,
}

impl BaresipConfig {
    pub fn new(user: &str) -> Self {
        // A free port can only fail to be found on an exhausted machine; the bind error on
        // start then says so.
        let sip = free_port_range(2).unwrap_or(26060);
        let ctrl = free_port().unwrap_or(26065);
        let rtp = free_port_range(10).unwrap_or(30000);
        Self {
            user: user.into(),
            password: None,
            registrar: None,
            auto_answer: false,
            codecs: vec![Codec::Pcmu],
            audio: AudioMode::Echo,
            record: true,
            sip_port: sip,
            ctrl_port: ctrl,
            rtp_port: rtp,
            jitter_buffer: (1, 10),
            opus_fec: true,
            opus_packet_loss: 0,
            opus_bitrate: 28_000,
            regint: 60,
            extra_config: Vec::new(),
            sip_trace: true,
            mediaenc: None,
            rtcp_mux: false,
            outbound: None,
        }
    }

    /// Register at `proxy` with the password Kamailio has for this user.
    pub fn registrar(mut self, proxy: &Kamailio) -> Self {
        self.registrar = Some((proxy.addr(), proxy.realm().to_string()));
        if self.password.is_none() {
            self.password = proxy.password(&self.user).map(str::to_string);
        }
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Media encryption for the account: `srtp` (best effort: keys on RTP/AVP), `srtp-mand`
    /// (RTP/SAVP only) or `srtp-mandf`; Debian's baresip-core ships `srtp.so`.
    pub fn rtcp_mux(mut self, on: bool) -> Self {
        self.rtcp_mux = on;
        self
    }

    /// All SIP through `proxy` (e.g. an [`crate::ImpairmentRelay`]).
    pub fn outbound(mut self, proxy: SocketAddr) -> Self {
        self.outbound = Some(proxy);
        self
    }

    pub fn mediaenc(mut self, mode: &str) -> Self {
        self.mediaenc = Some(mode.into());
        self
    }

    pub fn auto_answer(mut self, on: bool) -> Self {
        self.auto_answer = on;
        self
    }

    pub fn codecs(mut self, codecs: &[Codec]) -> Self {
        self.codecs = codecs.to_vec();
        self
    }

    pub fn audio(mut self, audio: AudioMode) -> Self {
        self.audio = audio;
        self
    }

    /// Plays `wav` as the microphone.
    pub fn play(self, wav: &Path) -> Self {
        self.audio(AudioMode::File(wav.to_path_buf()))
    }

    fn account_line(&self) -> String {
        let codecs: Vec<&str> = self.codecs.iter().map(|c| c.sdp_name()).collect();
        let answer = if self.auto_answer { "auto" } else { "manual" };
        let mediaenc = self
            .mediaenc
            .as_ref()
            .map(|m| format!(";mediaenc={m}"))
            .unwrap_or_default();
        let line = match &self.registrar {
            // The AOR host is the proxy's address (baresip 1.0 sends REGISTER and calls to the
            // AOR host); Kamailio accepts any domain with usrloc use_domain=0.
            Some((addr, _domain)) => format!(
                "<sip:{user}@{addr};transport=udp>;auth_pass={pw};regint={regint};audio_codecs={codecs};answermode={answer}",
                user = self.user,
                pw = self.password.as_deref().unwrap_or(""),
                regint = self.regint,
                codecs = codecs.join(","),
            ),
            None => format!(
                "<sip:{user}@127.0.0.1:{port}>;regint=0;audio_codecs={codecs};answermode={answer}",
                user = self.user,
                port = self.sip_port,
                codecs = codecs.join(","),
            ),
        };
        let outbound = self
            .outbound
            .map(|o| format!(";outbound=\"sip:{o};transport=udp\""))
            .unwrap_or_default();
        line + &mediaenc + &outbound
    }

    /// `source_rate`: the WAV file's sample rate (aufile in baresip 1.0 refuses a file whose
    /// rate differs from `ausrc_srate`; baresip resamples to the codec).
    fn config_text(&self, dir: &Path, source_rate: Option<u32>) -> String {
        let (src, play) = match &self.audio {
            AudioMode::File(wav) => (
                format!("aufile,{}", wav.display()),
                format!("aubridge,sink-{}", self.sip_port),
            ),
            AudioMode::Echo => {
                let dev = format!("aubridge,loop-{}", self.sip_port);
                (dev.clone(), dev)
            }
            AudioMode::Sine(hz) => (
                format!("ausine,{hz}"),
                format!("aubridge,sink-{}", self.sip_port),
            ),
        };
        let mut lines = vec![
            "poll_method epoll".to_string(),
            format!("sip_listen 127.0.0.1:{}", self.sip_port),
            "net_interface 127.0.0.1".into(),
            "call_local_timeout 120".into(),
            "call_max_calls 4".into(),
            "audio_buffer 40".into(),
            format!("audio_source {src}"),
            format!("audio_player {play}"),
            format!("audio_alert aubridge,alert-{}", self.sip_port),
            format!(
                "ausrc_channels {}",
                if matches!(self.audio, AudioMode::Sine(_)) {
                    2
                } else {
                    1
                }
            ),
            "auplay_channels 1".into(),
            format!("rtp_ports {}-{}", self.rtp_port, self.rtp_port + 9),
            format!(
                "jitter_buffer_delay {}-{}",
                self.jitter_buffer.0, self.jitter_buffer.1
            ),
            format!("rtcp_mux {}", if self.rtcp_mux { "yes" } else { "no" }),
            "module_path /usr/lib/baresip/modules".into(),
            "module g711.so".into(),
            "module opus.so".into(),
            "module aufile.so".into(),
            "module aubridge.so".into(),
            "module ausine.so".into(),
            "module_tmp account.so".into(),
            "module_app menu.so".into(),
            "module_app ctrl_tcp.so".into(),
            format!("ctrl_tcp_listen 127.0.0.1:{}", self.ctrl_port),
            format!("opus_bitrate {}", self.opus_bitrate),
            format!(
                "opus_inbandfec {}",
                if self.opus_fec { "yes" } else { "no" }
            ),
            format!("opus_packet_loss {}", self.opus_packet_loss),
            "opus_application voip".into(),
        ];
        if let Some(rate) = source_rate {
            lines.push(format!("ausrc_srate {rate}"));
        }
        if self.mediaenc.is_some() {
            lines.push("module srtp.so".into());
        }
        if self.record {
            lines.push("module sndfile.so".into());
            lines.push(format!("snd_path {}", dir.join("rec").display()));
        }
        lines.extend(self.extra_config.iter().cloned());
        lines.join("\n") + "\n"
    }
}

/// A running baresip; killed on drop (its temp config dir and recordings are copied to the
/// log dir first).
#[derive(Debug)]
pub struct Baresip {
    config: BaresipConfig,
    process: PeerProcess,
    ctrl: CtrlClient,
    dir: tempfile::TempDir,
    logs: PathBuf,
}

impl Baresip {
    /// Writes the config dir, starts `baresip -f DIR` and connects the ctrl_tcp client.
    pub fn start(config: BaresipConfig) -> Result<Self> {
        require_binary("baresip", "baresip-core")?;
        for module in [
            "aufile.so",
            "ctrl_tcp.so",
            "sndfile.so",
            "aubridge.so",
            "g711.so",
        ] {
            let path = Path::new("/usr/lib/baresip/modules").join(module);
            if !path.is_file() {
                return Err(Error::MissingBinary {
                    binary: path.display().to_string(),
                    package: "baresip-core".into(),
                    extra: String::new(),
                });
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("seatline-baresip-")
            .tempdir()
            .map_err(io("create baresip temp dir"))?;
        std::fs::create_dir_all(dir.path().join("rec")).map_err(io("create rec dir"))?;
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).map_err(io(format!("write {name}")))
        };
        let source_rate = match &config.audio {
            AudioMode::File(wav) => Some(wav_mono_rate(wav)?),
            AudioMode::Echo => None,
            AudioMode::Sine(_) => Some(48_000),
        };
        write("config", config.config_text(dir.path(), source_rate))?;
        write("accounts", config.account_line() + "\n")?;
        write("contacts", String::new())?;
        let logs = log_dir()?;
        let name = format!("baresip-{}", config.user);
        for f in ["config", "accounts"] {
            let _ = std::fs::copy(dir.path().join(f), logs.join(format!("{name}.{f}")));
        }
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(dir.path()).current_dir(dir.path());
        if config.sip_trace {
            cmd.arg("-s");
        }
        let mut process = PeerProcess::spawn(&name, cmd, &logs)?;
        let ctrl_addr = SocketAddr::from(([127, 0, 0, 1], config.ctrl_port));
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            process.ensure_running()?;
            if let Ok(stream) = TcpStream::connect_timeout(&ctrl_addr, Duration::from_millis(200)) {
                break CtrlClient::new(stream, logs.join(format!("{name}.ctrl.log")))?;
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("baresip ctrl_tcp on {ctrl_addr}"),
                    after: Duration::from_secs(10),
                    logs: format!("\n{}", process.log_tail(2000)),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Ok(Self {
            config,
            process,
            ctrl,
            dir,
            logs,
        })
    }

    pub fn ctrl(&mut self) -> &mut CtrlClient {
        &mut self.ctrl
    }

    pub fn config(&self) -> &BaresipConfig {
        &self.config
    }

    /// This UA's direct SIP URI (for calls by address, without a proxy).
    pub fn uri(&self) -> String {
        format!(
            "sip:{}@127.0.0.1:{}",
            self.config.user, self.config.sip_port
        )
    }

    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.config.sip_port))
    }

    /// Waits until the account is registered. baresip registers while starting, often before
    /// the ctrl_tcp client connects (so REGISTER_OK may never be seen): this polls `reginfo`
    /// and fails on `ERR` (e.g. a wrong password) or REGISTER_FAIL.
    pub fn wait_registered(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let aor = format!("sip:{}@", self.config.user);
        loop {
            if let Some(ev) = self
                .ctrl
                .history()
                .into_iter()
                .find(|e| e.kind == "REGISTER_FAIL")
            {
                return Err(Error::Sip(format!(
                    "baresip {} registration failed: {}",
                    self.config.user, ev.param
                )));
            }
            // A loaded machine can ask before baresip's UA is set up: it then answers
            // `reginfo` with ok=false and no text. That is "not yet", not a failure.
            let info = match self.ctrl.command("reginfo", "")? {
                r if r.ok => strip_ansi(&r.data),
                r => format!("(reginfo refused: {:?})", r.data),
            };
            if let Some(line) = info.lines().find(|l| l.contains(&aor)) {
                if line.contains("OK") {
                    return Ok(());
                }
                if line.contains("ERR") {
                    return Err(Error::Sip(format!(
                        "baresip {} registration failed: {}",
                        self.config.user,
                        line.split_whitespace().collect::<Vec<_>>().join(" ")
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("baresip {} registered", self.config.user),
                    after: timeout,
                    logs: format!(" (last reginfo: {info:?})"),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Recordings (`dump-*-dec.wav`: received, `-enc.wav`: sent), oldest first.
    pub fn recordings(&self) -> Result<Vec<PathBuf>> {
        let rec = self.dir.path().join("rec");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&rec)
            .map_err(io(format!("list {}", rec.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .collect();
        files.sort();
        Ok(files)
    }

    /// The newest received-audio recording, copied to the log dir (it outlives the UA).
    pub fn received_audio(&self) -> Result<PathBuf> {
        let last = self
            .recordings()?
            .into_iter()
            .rfind(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .ok_or_else(|| {
                Error::Config(format!(
                    "baresip {} recorded nothing (is `record` on?)",
                    self.config.user
                ))
            })?;
        let dest = self
            .logs
            .join(format!("baresip-{}-received.wav", self.config.user));
        std::fs::copy(&last, &dest).map_err(io(format!("copy {}", last.display())))?;
        Ok(dest)
    }

    /// The baresip process (CPU accounting in benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Dials `uri` (e.g. `sip:1002@127.0.0.1:5060` or another UA's [`Baresip::uri`]).
    pub fn dial(&mut self, uri: &str) -> Result<CtrlResponse> {
        self.ctrl.command("dial", uri)
    }

    pub fn ensure_running(&mut self) -> Result<()> {
        self.process.ensure_running()
    }

    /// The stdout log (baresip's messages and, with `sip_trace`, every SIP message).
    pub fn log_path(&self) -> &Path {
        self.process.stdout_log()
    }

    /// Waits until `needle` appears in the stdout log at or after byte `from`; returns the
    /// offset just past it (pass it as the next `from` to match later messages). baresip
    /// writes its log (and SIP trace) asynchronously, after the ctrl_tcp events.
    pub fn wait_for_log(&self, needle: &str, from: usize, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.log_text();
            if let Some(pos) = text.get(from..).and_then(|t| t.find(needle)) {
                return Ok(from + pos + needle.len());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("{needle:?} in baresip {}'s log", self.config.user),
                    after: timeout,
                    logs: format!(" ({})", self.log_path().display()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The stdout log's text so far.
    pub fn log_text(&self) -> String {
        std::fs::read(self.process.stdout_log())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// A ctrl_tcp response: `{"response":true,"ok":..,"data":..,"token":..}`.
#[derive(Debug, Clone)]
pub struct CtrlResponse {
    pub ok: bool,
    pub data: String,
}

/// A ctrl_tcp event: `{"event":true,"type":"CALL_ESTABLISHED","class":"call",...}`.
#[derive(Debug, Clone)]
pub struct CtrlEvent {
    /// `type`: CALL_INCOMING, CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED, CALL_DTMF_START,
    /// REGISTER_OK, REGISTER_FAIL, CALL_RTCP...
    pub kind: String,
    pub class: String,
    pub direction: String,
    pub peer_uri: String,
    pub call_id: String,
    pub param: String,
    pub raw: Value,
}

impl CtrlEvent {
    fn from_json(v: Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Self {
            kind: s("type"),
            class: s("class"),
            direction: s("direction"),
            peer_uri: s("peeruri"),
            call_id: s("id"),
            param: s("param"),
            raw: v,
        }
    }
}

/// The ctrl_tcp client: commands get their response by token; events are queued until a
/// `wait_for_event` takes them (in arrival order). Everything is logged to
/// `baresip-<user>.ctrl.log`.
#[derive(Debug)]
pub struct CtrlClient {
    stream: TcpStream,
    incoming: Receiver<Value>,
    events: VecDeque<CtrlEvent>,
    history: Vec<CtrlEvent>,
    next_token: u64,
    log: PathBuf,
}

impl CtrlClient {
    fn new(stream: TcpStream, log: PathBuf) -> Result<Self> {
        let reader = stream.try_clone().map_err(io("clone ctrl_tcp stream"))?;
        let (tx, rx) = mpsc::channel();
        let log_r = log.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            while let Ok(Some(msg)) = read_netstring(&mut r) {
                append(&log_r, &format!("<- {msg}"));
                let Ok(v) = serde_json::from_str::<Value>(&msg) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            stream,
            incoming: rx,
            events: VecDeque::new(),
            history: Vec::new(),
            next_token: 1,
            log,
        })
    }

    /// Queues an event; returns anything else (a response).
    fn handle(&mut self, v: Value) -> Option<Value> {
        if v.get("event").and_then(Value::as_bool) == Some(true) {
            let ev = CtrlEvent::from_json(v);
            self.history.push(ev.clone());
            self.events.push_back(ev);
            None
        } else {
            Some(v)
        }
    }

    fn pump(&mut self, timeout: Duration) -> Result<Option<Value>> {
        match self.incoming.recv_timeout(timeout) {
            Ok(v) => Ok(self.handle(v)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                Err(Error::Ctrl("connection closed (baresip exited?)".into()))
            }
        }
    }

    /// Sends a command (`dial`, `accept`, `hangup`, `hold`, `resume`, `transfer`,
    /// `sndcode`...) and waits up to 5 s for its response.
    pub fn command(&mut self, command: &str, params: &str) -> Result<CtrlResponse> {
        let token = self.next_token.to_string();
        self.next_token += 1;
        let msg = json!({"command": command, "params": params, "token": token}).to_string();
        append(&self.log, &format!("-> {msg}"));
        let framed = format!("{}:{msg},", msg.len());
        self.stream
            .write_all(framed.as_bytes())
            .map_err(io("write to ctrl_tcp"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(v) = self.pump(Duration::from_millis(100))? {
                if v.get("token").and_then(Value::as_str) == Some(token.as_str()) {
                    let resp = CtrlResponse {
                        ok: v.get("ok").and_then(Value::as_bool).unwrap_or(false),
                        data: v
                            .get("data")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    };
                    return Ok(resp);
                }
            }
        }
        Err(Error::Timeout {
            what: format!("ctrl_tcp response to {command}"),
            after: Duration::from_secs(5),
            logs: format!(" (see {})", self.log.display()),
        })
    }

    /// Like [`CtrlClient::command`] but an error unless baresip answered ok.
    pub fn command_ok(&mut self, command: &str, params: &str) -> Result<String> {
        let r = self.command(command, params)?;
        if r.ok {
            Ok(r.data)
        } else {
            Err(Error::Ctrl(format!("{command} {params}: {}", r.data)))
        }
    }

    pub fn dial(&mut self, uri: &str) -> Result<String> {
        self.command_ok("dial", uri)
    }
    pub fn accept(&mut self) -> Result<String> {
        self.command_ok("accept", "")
    }
    pub fn hangup(&mut self) -> Result<String> {
        self.command_ok("hangup", "")
    }
    pub fn hold(&mut self) -> Result<String> {
        self.command_ok("hold", "")
    }
    pub fn resume(&mut self) -> Result<String> {
        self.command_ok("resume", "")
    }
    /// Blind transfer (REFER) of the current call to `uri`.
    pub fn transfer(&mut self, uri: &str) -> Result<String> {
        self.command_ok("transfer", uri)
    }
    /// Sends DTMF digits (RFC 4733 telephone-event when negotiated, else SIP INFO).
    pub fn send_dtmf(&mut self, digits: &str) -> Result<String> {
        self.command_ok("sndcode", digits)
    }

    /// Takes the first queued (or next arriving) event of type `kind`; earlier events of other
    /// types stay queued.
    pub fn wait_for_event(&mut self, kind: &str, timeout: Duration) -> Result<CtrlEvent> {
        self.wait_for_any(&[kind], timeout)
    }

    /// Takes the first queued (or next arriving) event whose type is one of `kinds`.
    pub fn wait_for_any(&mut self, kinds: &[&str], timeout: Duration) -> Result<CtrlEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self
                .events
                .iter()
                .position(|e| kinds.contains(&e.kind.as_str()))
            {
                if let Some(ev) = self.events.remove(pos) {
                    return Ok(ev);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: format!("baresip event {}", kinds.join("|")),
                    after: timeout,
                    logs: format!(" (see {})", self.log.display()),
                });
            }
            // Responses without a waiting command are dropped.
            let _ = self.pump((deadline - now).min(Duration::from_millis(100)))?;
        }
    }

    /// Every event received so far (including those already taken), oldest first.
    pub fn history(&mut self) -> Vec<CtrlEvent> {
        while let Ok(v) = self.incoming.try_recv() {
            let _ = self.handle(v);
        }
        self.history.clone()
    }
}

/// Removes terminal colour sequences (ESC [ ... m) from baresip's text output.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The sample rate of a mono 16-bit PCM WAV file (what aufile plays).
fn wav_mono_rate(path: &Path) -> Result<u32> {
    let bytes = std::fs::read(path).map_err(io(format!("read {}", path.display())))?;
    let bad = |why: &str| Error::Config(format!("{}: {why}", path.display()));
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body = at + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            let u16_at = |o: usize| u16::from_le_bytes([bytes[body + o], bytes[body + o + 1]]);
            let rate = u32::from_le_bytes([
                bytes[body + 4],
                bytes[body + 5],
                bytes[body + 6],
                bytes[body + 7],
            ]);
            if u16_at(0) != 1 || u16_at(2) != 1 || u16_at(14) != 16 {
                return Err(bad("aufile needs 16-bit PCM mono"));
            }
            return Ok(rate);
        }
        at = body + size as usize + (size as usize & 1);
    }
    Err(bad("no fmt chunk"))
}

fn append(log: &Path, line: &str) {
    if let Ok(mut f) = std::fs::File::options().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

/// Reads one netstring (`LEN:DATA,`); Ok(None) at end of stream.
fn read_netstring(r: &mut impl Read) -> std::io::Result<Option<String>> {
    let mut len = 0usize;
    let mut byte = [0u8; 1];
    let mut digits = 0;
    loop {
        if r.read(&mut byte)? == 0 {
            return Ok(None);
        }
        match byte[0] {
            b'0'..=b'9' if digits < 9 => {
                len = len * 10 + usize::from(byte[0] - b'0');
                digits += 1;
            }
            b':' if digits > 0 => break,
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "bad netstring length",
                ))
            }
        }
    }
    let mut data = vec![0u8; len + 1];
    r.read_exact(&mut data)?;
    if data.pop() != Some(b',') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "netstring without trailing comma",
        ));
    }
    Ok(Some(String::from_utf8_lossy(&data).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours() {
        assert_eq!(strip_ansi("a \u{1b}[32mOK \u{1b}[;m b"), "a OK  b");
    }

    #[test]
    fn netstrings() {
        let mut input: &[u8] = b"5:hello,0:,3:abcd,";
        assert_eq!(
            read_netstring(&mut input).unwrap().as_deref(),
            Some("hello")
        );
        assert_eq!(read_netstring(&mut input).unwrap().as_deref(), Some(""));
        assert!(read_netstring(&mut input).is_err());
        let mut empty: &[u8] = b"";
        assert_eq!(read_netstring(&mut empty).unwrap(), None);
    }
}
