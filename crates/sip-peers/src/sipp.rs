//! sipp runs: scenarios from tests/peers/sipp/ (or sipp's built-ins), foreground or background.

use crate::error::{Error, Result};
use crate::ports::free_port_range;
use crate::process::{log_dir, require_binary, PeerProcess};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The malformed-request scenarios (each expects a 400 back within 5 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    MissingVia,
    BadCseq,
    GarbageStartLine,
    /// 12 KiB Subject header; 413 and 513 are accepted too.
    HugeHeader,
    BadContentLength,
}

impl Malformation {
    pub const ALL: [Malformation; 5] = [
        Self::MissingVia,
        Self::BadCseq,
        Self::GarbageStartLine,
        Self::HugeHeader,
        Self::BadContentLength,
    ];

    fn file(self) -> &'static str {
        match self {
            Self::MissingVia => "malformed_missing_via.xml",
            Self::BadCseq => "malformed_bad_cseq.xml",
            Self::GarbageStartLine => "malformed_garbage_start_line.xml",
            Self::HugeHeader => "malformed_huge_header.xml",
            Self::BadContentLength => "malformed_bad_content_length.xml",
        }
    }
}

/// Which scenario sipp plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// register.xml: REGISTER with digest; keys contact_host/contact_port/expires/domain are
    /// filled in by [`SippOptions::register`].
    Register,
    /// uas_pcmu.xml: answers one call with PCMU SDP; handles INFO, hold/resume re-INVITEs, BYE.
    UasPcmu,
    /// uas_busy.xml: 486 Busy Here.
    UasBusy,
    /// uac_call.xml: calls `service`, answers one 401/407, talks `duration`, BYE.
    UacCall,
    /// uac_hold.xml: call + INFO + re-INVITE a=sendonly (answer must be recvonly/inactive) +
    /// resume + BYE.
    UacHold,
    Malformed(Malformation),
    /// Another scenario file.
    File(PathBuf),
    /// One of sipp's built-in scenarios (`-sn uac`, `uas`, `uac_pcap`...).
    Builtin(String),
}

impl Scenario {
    fn args(&self) -> Vec<String> {
        let file = |name: &str| {
            crate::peers_dir()
                .join("sipp")
                .join(name)
                .display()
                .to_string()
        };
        match self {
            Self::Register => vec!["-sf".into(), file("register.xml")],
            Self::UasPcmu => vec!["-sf".into(), file("uas_pcmu.xml")],
            Self::UasBusy => vec!["-sf".into(), file("uas_busy.xml")],
            Self::UacCall => vec!["-sf".into(), file("uac_call.xml")],
            Self::UacHold => vec!["-sf".into(), file("uac_hold.xml")],
            Self::Malformed(m) => vec!["-sf".into(), file(m.file())],
            Self::File(p) => vec!["-sf".into(), p.display().to_string()],
            Self::Builtin(name) => vec!["-sn".into(), name.clone()],
        }
    }

    fn label(&self) -> String {
        match self {
            Self::Register => "register".into(),
            Self::UasPcmu => "uas_pcmu".into(),
            Self::UasBusy => "uas_busy".into(),
            Self::UacCall => "uac_call".into(),
            Self::UacHold => "uac_hold".into(),
            Self::Malformed(m) => m.file().trim_end_matches(".xml").into(),
            Self::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into()),
            Self::Builtin(n) => format!("builtin_{n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SippTransport {
    #[default]
    Udp,
    /// One TCP connection (`-t t1`).
    Tcp,
}

/// A sipp command line. Build with [`SippOptions::new`] and the setters.
#[derive(Debug, Clone)]
pub struct SippOptions {
    pub scenario: Scenario,
    /// host:port to send to (UAC) — None for a UAS.
    pub target: Option<SocketAddr>,
    /// `-s`: the user part of the Request-URI ([service]).
    pub service: String,
    /// `-p`: our SIP port (free port by default).
    pub local_port: u16,
    /// `-mp`: our media port (RTP echo / SDP), None: sipp's default (6000).
    pub media_port: Option<u16>,
    /// `-au`/`-ap` digest credentials.
    pub auth: Option<(String, String)>,
    /// `-key NAME VALUE` pairs ([NAME] in the scenario).
    pub keys: Vec<(String, String)>,
    /// `-m`: calls to run before exiting.
    pub calls: u32,
    /// `-d`: pause length in ms (talk time in uac_call/uac_hold).
    pub duration_ms: Option<u32>,
    /// `-rtp_echo`: echo RTP received on the media port.
    pub rtp_echo: bool,
    pub transport: SippTransport,
    pub extra_args: Vec<String>,
    /// Where logs go: the creating thread's test log dir (so runs launched from helper
    /// threads still log under their test).
    pub log_dir: PathBuf,
}

impl SippOptions {
    /// One call of `scenario`, on a free local port (and a free media port pair).
    pub fn new(scenario: Scenario) -> Result<Self> {
        let base = free_port_range(3)?;
        Ok(Self {
            scenario,
            target: None,
            service: "service".into(),
            local_port: base,
            media_port: Some(base + 1),
            auth: None,
            keys: vec![("caller".into(), "sipp".into())],
            calls: 1,
            duration_ms: None,
            rtp_echo: false,
            transport: SippTransport::Udp,
            extra_args: Vec::new(),
            log_dir: log_dir()?,
        })
    }

    /// A UAC call scenario aimed at `target` for user `service`.
    pub fn to(mut self, target: SocketAddr, service: &str) -> Self {
        self.target = Some(target);
        self.service = service.into();
        self
    }

    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    /// Sets (or replaces) a `-key`.
    pub fn key(mut self, name: &str, value: &str) -> Self {
        self.keys.retain(|(n, _)| n != name);
        self.keys.push((name.into(), value.into()));
        self
    }

    pub fn duration(mut self, ms: u32) -> Self {
        self.duration_ms = Some(ms);
        self
    }

    pub fn rtp_echo(mut self, on: bool) -> Self {
        self.rtp_echo = on;
        self
    }

    pub fn transport(mut self, t: SippTransport) -> Self {
        self.transport = t;
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.extra_args.push(a.into());
        self
    }

    /// [`Scenario::Register`] of `user`/`password` at `registrar` (domain `domain`), binding
    /// the contact `contact` (e.g. a background UAS's address).
    pub fn register(
        registrar: SocketAddr,
        domain: &str,
        user: &str,
        password: &str,
        contact: SocketAddr,
    ) -> Result<Self> {
        Ok(Self::new(Scenario::Register)?
            .to(registrar, user)
            .auth(user, password)
            .key("domain", domain)
            .key("contact_host", &contact.ip().to_string())
            .key("contact_port", &contact.port().to_string())
            .key("expires", "300"))
    }

    /// This sipp's SIP address (for a UAS: what to register or call).
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.local_port))
    }

    fn command(&self, files: &SippFiles) -> Command {
        let mut cmd = Command::new("sipp");
        cmd.args(self.scenario.args());
        if let Some(t) = self.target {
            cmd.arg(t.to_string());
        }
        cmd.args(["-s", &self.service, "-i", "127.0.0.1", "-p"])
            .arg(self.local_port.to_string())
            .args(["-m", &self.calls.to_string(), "-nostdin"])
            .args(["-trace_err", "-error_file"])
            .arg(&files.errors)
            .args(["-trace_msg", "-message_file"])
            .arg(&files.messages)
            .args(["-trace_stat", "-stf"])
            .arg(&files.stats)
            .args(["-trace_logs", "-log_file"])
            .arg(&files.logs)
            .args(["-trace_screen", "-screen_file"])
            .arg(&files.screen);
        if let Some(mp) = self.media_port {
            cmd.args(["-mi", "127.0.0.1", "-mp", &mp.to_string()]);
        }
        if let Some((u, p)) = &self.auth {
            cmd.args(["-au", u, "-ap", p]);
        }
        for (k, v) in &self.keys {
            cmd.args(["-key", k, v]);
        }
        if let Some(d) = self.duration_ms {
            cmd.args(["-d", &d.to_string()]);
        }
        if self.rtp_echo {
            cmd.arg("-rtp_echo");
        }
        if self.transport == SippTransport::Tcp {
            cmd.args(["-t", "t1"]);
        }
        cmd.args(&self.extra_args);
        cmd
    }
}

#[derive(Debug, Clone)]
struct SippFiles {
    messages: PathBuf,
    errors: PathBuf,
    stats: PathBuf,
    logs: PathBuf,
    screen: PathBuf,
}

/// The result of a finished sipp run. sipp's exit code is 0 when every call succeeded, 1 when
/// at least one failed.
#[derive(Debug, Clone)]
pub struct SippRun {
    pub exit_code: i32,
    pub elapsed: Duration,
    /// Every SIP message sent and received (-trace_msg).
    pub messages_log: PathBuf,
    /// Unexpected messages, timeouts... (-trace_err; may not exist when nothing went wrong).
    pub errors_log: PathBuf,
    /// The statistics CSV (-trace_stat).
    pub stats_csv: PathBuf,
    /// The final screen (counters of every scenario step).
    pub screen_log: PathBuf,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// The -trace_msg log's text ("" if missing).
    pub fn messages(&self) -> String {
        std::fs::read_to_string(&self.messages_log).unwrap_or_default()
    }

    /// The status codes of every response sipp received, in order.
    pub fn received_statuses(&self) -> Vec<u16> {
        let text = self.messages();
        let mut out = Vec::new();
        let mut received = false;
        for line in text.lines() {
            if line.contains("message received") {
                received = true;
            } else if line.contains("message sent") {
                received = false;
            } else if received {
                if let Some(rest) = line.trim().strip_prefix("SIP/2.0 ") {
                    if let Some(code) = rest.get(..3).and_then(|c| c.parse().ok()) {
                        out.push(code);
                    }
                    received = false;
                }
            }
        }
        out
    }

    /// A summary for assertion messages: exit code, errors log and screen.
    pub fn describe(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "sipp exit code {} after {:?}\nerrors ({}):\n{}\nscreen ({}):\n{}\nmessages: {}",
            self.exit_code,
            self.elapsed,
            self.errors_log.display(),
            read(&self.errors_log),
            self.screen_log.display(),
            read(&self.screen_log),
            self.messages_log.display()
        )
    }
}

/// A sipp running in the background (typically a UAS); killed on drop.
#[derive(Debug)]
pub struct SippBackground {
    process: PeerProcess,
    files: SippFiles,
    started: Instant,
    options: SippOptions,
}

impl SippBackground {
    pub fn options(&self) -> &SippOptions {
        &self.options
    }

    /// Where this sipp listens for SIP.
    pub fn addr(&self) -> SocketAddr {
        self.options.local_addr()
    }

    /// Waits for sipp to exit (it does after `calls` calls).
    pub fn wait(mut self, timeout: Duration) -> Result<SippRun> {
        match self.process.wait_timeout(timeout)? {
            Some(status) => Ok(run_result(
                status.code().unwrap_or(-1),
                self.started.elapsed(),
                &self.files,
                &self.process,
            )),
            None => Err(Error::Timeout {
                what: format!("sipp {} to finish", self.options.scenario.label()),
                after: timeout,
                logs: format!(" (messages: {})", self.files.messages.display()),
            }),
        }
    }

    /// An error if sipp has already exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.process.ensure_running()
    }
}

fn run_result(code: i32, elapsed: Duration, files: &SippFiles, p: &PeerProcess) -> SippRun {
    SippRun {
        exit_code: code,
        elapsed,
        messages_log: files.messages.clone(),
        errors_log: files.errors.clone(),
        stats_csv: files.stats.clone(),
        screen_log: files.screen.clone(),
        stdout_log: p.stdout_log().to_path_buf(),
        stderr_log: p.stderr_log().to_path_buf(),
    }
}

/// Entry points for sipp runs.
#[derive(Debug)]
pub struct Sipp;

impl Sipp {
    fn launch(options: SippOptions) -> Result<SippBackground> {
        require_binary("sipp", "sip-tester")?;
        let dir = options.log_dir.clone();
        // Unique per run: the label plus the local port.
        let stem = format!("sipp-{}-{}", options.scenario.label(), options.local_port);
        let files = SippFiles {
            messages: dir.join(format!("{stem}.messages.log")),
            errors: dir.join(format!("{stem}.errors.log")),
            stats: dir.join(format!("{stem}.stats.csv")),
            logs: dir.join(format!("{stem}.logs.log")),
            screen: dir.join(format!("{stem}.screen.log")),
        };
        let mut cmd = options.command(&files);
        cmd.current_dir(&dir);
        std::fs::write(dir.join(format!("{stem}.cmdline")), format!("{cmd:?}\n"))
            .map_err(crate::error::io("write sipp command line"))?;
        let process = PeerProcess::spawn(&stem, cmd, &dir)?;
        Ok(SippBackground {
            process,
            files,
            started: Instant::now(),
            options,
        })
    }

    /// Runs a scenario to completion (killing sipp after `timeout`, which is an error).
    pub fn run_scenario(options: SippOptions, timeout: Duration) -> Result<SippRun> {
        Self::launch(options)?.wait(timeout)
    }

    /// Starts a scenario in the background (a UAS) and waits until its SIP port is bound.
    pub fn uas(options: SippOptions) -> Result<SippBackground> {
        let port = options.local_port;
        let tcp = options.transport == SippTransport::Tcp;
        let mut bg = Self::launch(options)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        // Ready when its port is taken (sipp binds it before reading traffic).
        let free = || {
            if tcp {
                std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            } else {
                std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            }
        };
        while free() {
            bg.ensure_running()?;
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("sipp UAS bound to 127.0.0.1:{port}"),
                    after: Duration::from_secs(5),
                    logs: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(bg)
    }
}
