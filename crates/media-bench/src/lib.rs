//! The voice-quality benchmark: real calls through Kamailio in which the caller's SIP — and so
//! both sides' RTP — passes a seeded impairment relay ([`seatline_sip_peers::ImpairmentRelay`]).
//! Seatline calls Seatline (the `seatline phone` binary) and baresip calls baresip (Debian's
//! baresip-core) under the same dice, one condition and codec at a time; what each side heard
//! is scored with PESQ against what the other played.
//!
//! Both directions of a call are scored and averaged. The delay is the one PESQ's alignment
//! finds between what one side played and the other recorded: both recordings start with the
//! call's media, so averaging the two directions cancels the set-up skew between the sides and
//! leaves the one-way mouth-to-ear delay of the file-clocked path (network dice included).

use seatline_sip_peers::pesq::{self, Mode};
use seatline_sip_peers::relay::RelayStats;
use seatline_sip_peers::{
    AudioMode, Baresip, BaresipConfig, Codec, DigestAlgorithm, Impairment, ImpairmentRelay, Jitter,
    Kamailio, KamailioConfig, Loss,
};
use serde::Serialize;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Peer(#[from] seatline_sip_peers::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Call(String),
    #[error("unknown {kind} {name:?}; known: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let context = context.into();
    move |source| BenchError::Io { context, source }
}

/// A named network condition of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub name: &'static str,
    pub impairment: Impairment,
}

const JITTER: Jitter = Jitter {
    mean: Duration::from_millis(40),
    spread: Duration::from_millis(20),
};

/// The conditions of the table, in order.
pub fn conditions() -> Vec<Condition> {
    let random = |percent: f64| Impairment {
        loss: Loss::Random { percent },
        jitter: None,
    };
    vec![
        Condition {
            name: "clean",
            impairment: Impairment::CLEAN,
        },
        Condition {
            name: "loss5",
            impairment: random(5.0),
        },
        Condition {
            name: "loss10",
            impairment: random(10.0),
        },
        Condition {
            name: "loss20",
            impairment: random(20.0),
        },
        Condition {
            name: "burst10",
            impairment: Impairment {
                loss: Loss::Bursty {
                    percent: 10.0,
                    mean_burst: 3.0,
                },
                jitter: None,
            },
        },
        Condition {
            name: "jitter",
            impairment: Impairment {
                loss: Loss::None,
                jitter: Some(JITTER),
            },
        },
        Condition {
            name: "jitter-loss10",
            impairment: Impairment {
                loss: Loss::Random { percent: 10.0 },
                jitter: Some(JITTER),
            },
        },
    ]
}

pub fn condition(name: &str) -> Result<Condition> {
    conditions()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| BenchError::Unknown {
            kind: "condition",
            name: name.into(),
            known: conditions()
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchCodec {
    Pcmu,
    /// Opus without in-band FEC in what either side sends.
    Opus,
    /// Opus with in-band FEC planned for 10 % loss.
    OpusFec,
}

impl BenchCodec {
    pub const ALL: [BenchCodec; 3] = [BenchCodec::Pcmu, BenchCodec::Opus, BenchCodec::OpusFec];

    pub fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "pcmu",
            Self::Opus => "opus",
            Self::OpusFec => "opus-fec",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| BenchError::Unknown {
                kind: "codec",
                name: name.into(),
                known: "pcmu, opus, opus-fec".into(),
            })
    }

    /// Opus is scored wide-band too; G.711 carries only the narrow band.
    pub fn wideband(self) -> bool {
        self != Self::Pcmu
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    Seatline,
    Baresip,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Seatline => "Seatline",
            Self::Baresip => "baresip",
        }
    }
}

/// What one side heard of the other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Heard {
    pub pesq_nb: f64,
    pub pesq_wb: Option<f64>,
    /// PESQ's alignment of the recording against what the far side played. `None` for baresip:
    /// its `sndfile` recording starts with the first packet it decodes, so the alignment finds
    /// only what the jitter buffer adds after that, not the delay.
    pub delay_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallResult {
    pub peer: Peer,
    pub codec: BenchCodec,
    pub condition: String,
    pub by_callee: Heard,
    pub by_caller: Heard,
    /// CPU time of both user agents over the call, as % of one core per UA.
    pub cpu_percent: Option<f64>,
    /// Seatline's mean jitter-buffer delay over the call, both sides (baresip does not say).
    pub jitter_buffer_ms: Option<f64>,
    /// Seatline, both sides: frames concealed, and of those rebuilt from Opus in-band FEC.
    pub concealed_frames: Option<u64>,
    pub fec_recovered: Option<u64>,
    pub relay: RelayStatsJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RelayStatsJson {
    pub caller_to_callee_rtp: u64,
    pub caller_to_callee_dropped: u64,
    pub callee_to_caller_rtp: u64,
    pub callee_to_caller_dropped: u64,
    pub reordered: u64,
}

impl From<RelayStats> for RelayStatsJson {
    fn from(s: RelayStats) -> Self {
        Self {
            caller_to_callee_rtp: s.caller_to_callee.rtp,
            caller_to_callee_dropped: s.caller_to_callee.dropped,
            callee_to_caller_rtp: s.callee_to_caller.rtp,
            callee_to_caller_dropped: s.callee_to_caller.dropped,
            reordered: s.caller_to_callee.reordered + s.callee_to_caller.reordered,
        }
    }
}

fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl Heard {
    fn mean(all: &[Heard]) -> Option<Heard> {
        Some(Heard {
            pesq_nb: mean_of(all.iter().map(|h| h.pesq_nb))?,
            pesq_wb: all
                .iter()
                .map(|h| h.pesq_wb)
                .collect::<Option<Vec<f64>>>()
                .and_then(|v| mean_of(v.into_iter())),
            delay_ms: all
                .iter()
                .map(|h| h.delay_ms)
                .collect::<Option<Vec<f64>>>()
                .and_then(|v| mean_of(v.into_iter())),
        })
    }
}

impl CallResult {
    /// Several calls of one cell (seeds apart) as one: scores, delay, CPU and jitter buffer
    /// averaged, packet counts summed. `None` for no calls.
    pub fn mean(all: &[CallResult]) -> Option<CallResult> {
        let first = all.first()?;
        let sum = |f: fn(&RelayStatsJson) -> u64| all.iter().map(|c| f(&c.relay)).sum();
        let total = |f: fn(&CallResult) -> Option<u64>| {
            all.iter()
                .map(f)
                .collect::<Option<Vec<u64>>>()
                .map(|v| v.iter().sum())
        };
        Some(CallResult {
            peer: first.peer,
            codec: first.codec,
            condition: first.condition.clone(),
            by_callee: Heard::mean(&all.iter().map(|c| c.by_callee).collect::<Vec<_>>())?,
            by_caller: Heard::mean(&all.iter().map(|c| c.by_caller).collect::<Vec<_>>())?,
            cpu_percent: mean_of(all.iter().filter_map(|c| c.cpu_percent)),
            jitter_buffer_ms: mean_of(all.iter().filter_map(|c| c.jitter_buffer_ms)),
            concealed_frames: total(|c| c.concealed_frames),
            fec_recovered: total(|c| c.fec_recovered),
            relay: RelayStatsJson {
                caller_to_callee_rtp: sum(|r| r.caller_to_callee_rtp),
                caller_to_callee_dropped: sum(|r| r.caller_to_callee_dropped),
                callee_to_caller_rtp: sum(|r| r.callee_to_caller_rtp),
                callee_to_caller_dropped: sum(|r| r.callee_to_caller_dropped),
                reordered: sum(|r| r.reordered),
            },
        })
    }

    pub fn pesq_nb(&self) -> f64 {
        (self.by_callee.pesq_nb + self.by_caller.pesq_nb) / 2.0
    }

    pub fn pesq_wb(&self) -> Option<f64> {
        Some((self.by_callee.pesq_wb? + self.by_caller.pesq_wb?) / 2.0)
    }

    /// One-way delay: the mean of the two directions (see the crate docs).
    pub fn delay_ms(&self) -> Option<f64> {
        Some((self.by_callee.delay_ms? + self.by_caller.delay_ms?) / 2.0)
    }

    /// The relay's loss, both directions.
    pub fn loss_percent(&self) -> f64 {
        let r = &self.relay;
        let sent = r.caller_to_callee_rtp + r.callee_to_caller_rtp;
        let lost = r.caller_to_callee_dropped + r.callee_to_caller_dropped;
        if sent == 0 {
            0.0
        } else {
            100.0 * lost as f64 / sent as f64
        }
    }
}

/// What a bench run needs: the registrar, the reference speech, the Seatline binary.
pub struct Bench {
    /// The reference (16 kHz speech followed by a second of silence: baresip ends the call at
    /// the end of its file, and the silence lets the far side's last words arrive first).
    pub speech: PathBuf,
    /// The same at 8 kHz, band-limited, for G.711 calls: both peers get a narrow-band source
    /// (a sound card would be opened at 8 kHz for G.711), so neither is judged by its own
    /// down-sampling of a wide-band file.
    pub speech_nb: PathBuf,
    pub seatline_bin: PathBuf,
    /// Recordings, event logs and the clips, kept for a look afterwards (under the peer logs).
    pub work: PathBuf,
    /// Seconds of audio in `speech`.
    pub speech_secs: f64,
}

/// The 4.5 s wide-band speech clip of the media tests.
pub fn source_speech() -> PathBuf {
    seatline_sip_peers::repo_root().join("crates/media/tests/data/speech_16k.wav")
}

impl Bench {
    pub fn new(seatline_bin: PathBuf) -> Result<Self> {
        if !seatline_bin.is_file() {
            return Err(BenchError::Call(format!(
                "{} is missing: build it with `cargo build -p seatline-cli`",
                seatline_bin.display()
            )));
        }
        let work = seatline_sip_peers::log_dir()?.join("media-bench");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).map_err(io(format!("create {}", work.display())))?;
        let speech = work.join("speech.wav");
        let speech_secs = pad_wav(&source_speech(), &speech, 1.0)?;
        let speech_nb = work.join("speech-8k.wav");
        pesq::resample_wav(&speech, &speech_nb, 8000)?;
        Ok(Self {
            speech,
            speech_nb,
            seatline_bin,
            work,
            speech_secs,
        })
    }

    /// What both sides play (and what they are scored against) for `codec`.
    pub fn clip(&self, codec: BenchCodec) -> &Path {
        if codec == BenchCodec::Pcmu {
            &self.speech_nb
        } else {
            &self.speech
        }
    }

    /// One call of `peer` calling `peer` through a relay with `condition`'s dice.
    pub fn call(
        &self,
        peer: Peer,
        codec: BenchCodec,
        condition: &Condition,
        seed: u64,
    ) -> Result<CallResult> {
        // A registrar of its own per call: a user agent killed at the end of a call leaves its
        // registration behind, and the next call could be routed to it.
        let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5))?;
        let relay = ImpairmentRelay::start(proxy.addr(), condition.impairment, seed)?;
        let dir = self.work.join(format!(
            "{}-{}-{}",
            peer.name(),
            codec.name(),
            condition.name
        ));
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let measured = match peer {
            Peer::Seatline => self.seatline_call(&proxy, codec, &relay, &dir)?,
            Peer::Baresip => self.baresip_call(&proxy, codec, &relay)?,
        };
        // Let the relay's last delayed packets go before reading its counts.
        std::thread::sleep(Duration::from_millis(100));
        let stats = relay.stats();
        drop(relay);
        let score = |rec: &Path| -> Result<Heard> {
            let nb = pesq::score_detailed(self.clip(codec), rec, Mode::Nb)?;
            let wb = if codec.wideband() {
                Some(pesq::score(self.clip(codec), rec, Mode::Wb)?)
            } else {
                None
            };
            Ok(Heard {
                pesq_nb: nb.pesq,
                pesq_wb: wb,
                delay_ms: (peer == Peer::Seatline).then_some(nb.delay_ms),
            })
        };
        Ok(CallResult {
            peer,
            codec,
            condition: condition.name.into(),
            by_callee: score(&measured.callee_heard)?,
            by_caller: score(&measured.caller_heard)?,
            cpu_percent: measured.cpu_percent,
            jitter_buffer_ms: measured.jitter_buffer_ms,
            concealed_frames: measured.concealed_frames,
            fec_recovered: measured.fec_recovered,
            relay: stats.into(),
        })
    }

    fn seatline_call(
        &self,
        proxy: &Kamailio,
        codec: BenchCodec,
        relay: &ImpairmentRelay,
        dir: &Path,
    ) -> Result<Measured> {
        let codecs = if codec == BenchCodec::Pcmu {
            "PCMU"
        } else {
            "opus"
        };
        let hangup = format!("{:.1}", self.speech_secs + 0.3);
        let common = |user: &str| -> Result<Vec<String>> {
            let mut args: Vec<String> = [
                "phone",
                "--domain",
                &proxy.addr().to_string(),
                "--user",
                user,
                "--password-env",
                PASSWORD_VAR,
                "--bind",
                "127.0.0.1",
                "--codecs",
                codecs,
                "--play",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.push(self.clip(codec).display().to_string());
            args.push("--record-dir".into());
            args.push(dir.join(user).display().to_string());
            if codec == BenchCodec::Opus {
                args.push("--no-opus-fec".into());
            }
            Ok(args)
        };
        let mut callee_args = common("1002")?;
        callee_args.extend(["--auto-answer".into(), "0".into()]);
        let mut callee = SeatlineUa::start(&self.seatline_bin, &callee_args, proxy, "1002", dir)?;
        callee.wait("registered", T, |v| {
            v["type"] == "registration" && v["state"] == "registered"
        })?;
        let mut caller_args = common("1001")?;
        caller_args.extend([
            "--outbound-proxy".into(),
            relay.sip_addr().to_string(),
            "--call".into(),
            "1002".into(),
            "--hangup-after".into(),
            hangup,
        ]);
        let mut caller = SeatlineUa::start(&self.seatline_bin, &caller_args, proxy, "1001", dir)?;
        let caller_est = caller.wait("the caller's call established", T, |v| {
            v["type"] == "established"
        })?;
        let callee_est = callee.wait("the callee's call established", T, |v| {
            v["type"] == "established"
        })?;
        let cpu = CpuClock::start(&[caller.pid(), callee.pid()]);
        let long = Duration::from_secs_f64(self.speech_secs + 15.0);
        let ended = |ua: &mut SeatlineUa| ua.wait("the call's end", long, |v| v["type"] == "ended");
        let caller_end = ended(&mut caller)?;
        let cpu_percent = cpu.stop();
        let callee_end = ended(&mut callee)?;
        let total = |key: &str| -> Option<u64> {
            Some(caller_end["quality"][key].as_u64()? + callee_end["quality"][key].as_u64()?)
        };
        let recording = |est: &Value| -> Result<PathBuf> {
            est["media"]["recording"]
                .as_str()
                .map(PathBuf::from)
                .ok_or_else(|| BenchError::Call(format!("no recording in {est}")))
        };
        let jb: Vec<f64> = [&caller, &callee]
            .iter()
            .flat_map(|ua| ua.seen.iter())
            .filter(|v| v["type"] == "quality")
            .filter(|v| v["packets_received"].as_u64().unwrap_or(0) > 0)
            .filter_map(|v| v["jitter_buffer_ms"].as_f64())
            .collect();
        Ok(Measured {
            callee_heard: recording(&callee_est)?,
            caller_heard: recording(&caller_est)?,
            cpu_percent,
            jitter_buffer_ms: (!jb.is_empty()).then(|| jb.iter().sum::<f64>() / jb.len() as f64),
            concealed_frames: total("concealed_frames"),
            fec_recovered: total("fec_recovered"),
        })
    }

    fn baresip_call(
        &self,
        proxy: &Kamailio,
        codec: BenchCodec,
        relay: &ImpairmentRelay,
    ) -> Result<Measured> {
        let config = |user: &str| {
            let mut c = BaresipConfig::new(user)
                .registrar(proxy)
                .audio(AudioMode::File(self.clip(codec).to_path_buf()))
                .codecs(&[if codec == BenchCodec::Pcmu {
                    Codec::Pcmu
                } else {
                    Codec::Opus
                }]);
            c.opus_fec = codec == BenchCodec::OpusFec;
            // As ours: FEC planned for 10 % loss.
            c.opus_packet_loss = if codec == BenchCodec::OpusFec { 10 } else { 0 };
            c.opus_bitrate = OPUS_BITRATE;
            c.sip_trace = false;
            c
        };
        let mut callee = Baresip::start(config("1002").auto_answer(true))?;
        callee.wait_registered(T)?;
        let mut caller = Baresip::start(config("1001").outbound(relay.sip_addr()))?;
        caller.wait_registered(T)?;
        caller.dial(&format!("sip:1002@{}", proxy.addr()))?;
        caller.ctrl().wait_for_event("CALL_ESTABLISHED", T)?;
        callee.ctrl().wait_for_event("CALL_ESTABLISHED", T)?;
        let cpu = CpuClock::start(&[caller.pid(), callee.pid()]);
        let long = Duration::from_secs_f64(self.speech_secs + 15.0);
        caller.ctrl().wait_for_event("CALL_CLOSED", long)?;
        let cpu_percent = cpu.stop();
        callee.ctrl().wait_for_event("CALL_CLOSED", T)?;
        Ok(Measured {
            callee_heard: callee.received_audio()?,
            caller_heard: caller.received_audio()?,
            cpu_percent,
            jitter_buffer_ms: None,
            concealed_frames: None,
            fec_recovered: None,
        })
    }
}

const T: Duration = Duration::from_secs(15);
/// baresip's Opus at Seatline's default bitrate (its own default is 28 kbit/s), so the table
/// compares the two at the same bandwidth.
pub const OPUS_BITRATE: u32 = 64_000;
const PASSWORD_VAR: &str = "SEATLINE_BENCH_SIP_PASSWORD";

struct Measured {
    callee_heard: PathBuf,
    caller_heard: PathBuf,
    cpu_percent: Option<f64>,
    jitter_buffer_ms: Option<f64>,
    concealed_frames: Option<u64>,
    fec_recovered: Option<u64>,
}

/// A `seatline phone` process: JSON events from its stdout; killed on drop.
struct SeatlineUa {
    child: Child,
    rx: Receiver<Value>,
    seen: Vec<Value>,
    name: String,
}

impl SeatlineUa {
    fn start(
        bin: &Path,
        args: &[String],
        proxy: &Kamailio,
        user: &str,
        dir: &Path,
    ) -> Result<Self> {
        let password = proxy
            .password(user)
            .ok_or_else(|| BenchError::Call(format!("Kamailio has no password for {user}")))?;
        let stderr = std::fs::File::create(dir.join(format!("{user}.stderr.log")))
            .map_err(io("create the phone's log"))?;
        let mut child = Command::new(bin)
            .args(args)
            .env(PASSWORD_VAR, password)
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(io(format!("start {}", bin.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Call("no stdout".into()))?;
        let (tx, rx) = channel();
        let mut events = std::fs::File::create(dir.join(format!("{user}.events.jsonl")))
            .map_err(io("create the phone's event log"))?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(events, "{line}");
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            rx,
            seen: Vec::new(),
            name: format!("Seatline {user}"),
        })
    }

    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    /// The next event `pred` accepts (the ones before it are kept in `seen`).
    fn wait(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return Ok(v);
                    }
                    if v["type"] == "ended" && what != "the call's end" {
                        return Err(BenchError::Call(format!("{}: call ended: {v}", self.name)));
                    }
                }
                Err(_) => {
                    return Err(BenchError::Call(format!(
                        "{}: no {what} within {timeout:?}; last events: {:?}",
                        self.name,
                        self.seen.iter().rev().take(3).collect::<Vec<_>>()
                    )))
                }
            }
        }
    }
}

impl Drop for SeatlineUa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of a few processes over a span, from /proc (Linux).
struct CpuClock {
    pids: Vec<u32>,
    start: Instant,
    ticks: Option<u64>,
}

/// utime + stime of `pid` in clock ticks (fields 14 and 15 of /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&stat)
}

/// The command name may hold spaces and parentheses: fields are counted after the last ')'.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl CpuClock {
    fn start(pids: &[Option<u32>]) -> Self {
        let pids: Vec<u32> = pids.iter().flatten().copied().collect();
        let ticks = pids.iter().map(|&p| cpu_ticks(p)).sum();
        Self {
            pids,
            start: Instant::now(),
            ticks,
        }
    }

    /// % of one core per process, averaged over the processes.
    fn stop(self) -> Option<f64> {
        let now: u64 = self
            .pids
            .iter()
            .map(|&p| cpu_ticks(p))
            .sum::<Option<u64>>()?;
        let secs = self.start.elapsed().as_secs_f64();
        if self.pids.is_empty() || secs <= 0.0 {
            return None;
        }
        let used = now.saturating_sub(self.ticks?) as f64 / clock_ticks_per_second();
        Some(100.0 * used / secs / self.pids.len() as f64)
    }
}

/// What echo cancellation costs (WebRTC AEC3 with noise suppression, as the engine runs it on
/// sound devices; the benchmark's calls run on WAV files, where it is off): % of one core to
/// keep up with real-time audio at `rate`, from this thread's CPU time over `seconds` of the
/// clip played and its echo (plus the near end) captured.
pub fn aec_cost_percent(speech: &Path, rate: u32, seconds: f64) -> Result<f64> {
    let clip = seatline_media::wav::read_mono(speech, rate)
        .map_err(|e| BenchError::Call(format!("read {}: {e}", speech.display())))?;
    if clip.is_empty() {
        return Err(BenchError::Call(format!("{} is empty", speech.display())));
    }
    let mut aec = seatline_media::aec::EchoCanceller::new(rate)
        .map_err(|e| BenchError::Call(e.to_string()))?;
    let frame = rate as usize / 50;
    let frames = (seconds * 50.0) as usize;
    let delay = rate as usize / 20; // 50 ms from speaker to microphone
    let at = |i: usize| clip[i % clip.len()];
    let before = thread_cpu_ticks();
    let started = Instant::now();
    for f in 0..frames {
        let start = f * frame;
        let played: Vec<i16> = (start..start + frame).map(at).collect();
        aec.render(&played);
        let mut mic: Vec<i16> = (start..start + frame)
            .map(|i| {
                let echo = i32::from(at(i + clip.len() - delay)) * 2 / 5;
                let near = i32::from(at(i + clip.len() / 2)) / 4;
                (echo + near).clamp(-32768, 32767) as i16
            })
            .collect();
        aec.capture(&mut mic);
    }
    let wall = started.elapsed().as_secs_f64();
    // CPU time in clock ticks (10 ms); too few of them say little, and then the wall clock
    // (pessimistic on a loaded machine) stands in.
    let cpu = match (before, thread_cpu_ticks()) {
        (Some(a), Some(b)) if b.saturating_sub(a) >= 10 => {
            b.saturating_sub(a) as f64 / clock_ticks_per_second()
        }
        _ => wall,
    };
    Ok(100.0 * cpu / (frames as f64 / 50.0))
}

/// This thread's utime + stime in clock ticks.
fn thread_cpu_ticks() -> Option<u64> {
    parse_stat_ticks(&std::fs::read_to_string("/proc/thread-self/stat").ok()?)
}

/// Copies a 16-bit PCM WAV and appends `secs` of silence; returns the new length in seconds.
pub fn pad_wav(from: &Path, to: &Path, secs: f64) -> Result<f64> {
    let bytes = std::fs::read(from).map_err(io(format!("read {}", from.display())))?;
    let bad = |why: &str| BenchError::Call(format!("{}: {why}", from.display()));
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let (mut pos, mut rate, mut block) = (12usize, 0u32, 0u16);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        if id == b"fmt " && len >= 16 && body + 16 <= bytes.len() {
            rate = u32::from_le_bytes([
                bytes[body + 4],
                bytes[body + 5],
                bytes[body + 6],
                bytes[body + 7],
            ]);
            block = u16::from_le_bytes([bytes[body + 12], bytes[body + 13]]);
        }
        if id == b"data" {
            if rate == 0 || block == 0 {
                return Err(bad("data before a usable fmt chunk"));
            }
            let data = bytes
                .get(body..body + len)
                .ok_or_else(|| bad("data chunk runs past the end"))?;
            let pad = (secs * f64::from(rate)) as usize * usize::from(block);
            let mut out = bytes[..body].to_vec();
            out.extend_from_slice(data);
            out.resize(out.len() + pad, 0);
            let new_len = u32::try_from(len + pad).map_err(|_| bad("too long"))?;
            out[pos + 4..pos + 8].copy_from_slice(&new_len.to_le_bytes());
            let riff = u32::try_from(out.len() - 8).map_err(|_| bad("too long"))?;
            out[4..8].copy_from_slice(&riff.to_le_bytes());
            std::fs::write(to, out).map_err(io(format!("write {}", to.display())))?;
            return Ok((len + pad) as f64 / f64::from(block) / f64::from(rate));
        }
        pos = body + len + (len & 1);
    }
    Err(bad("no data chunk"))
}

/// One condition and codec, both peers.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub condition: String,
    pub codec: BenchCodec,
    /// Calls per peer behind each mean (different seeds).
    pub runs: usize,
    pub seatline: Option<CallResult>,
    pub baresip: Option<CallResult>,
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 {
        format!("{:.2}", ours / theirs)
    } else {
        "-".into()
    }
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The Markdown table of a run: PESQ both peers with ratios, delay, CPU, jitter buffer, loss.
pub fn render_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Condition | Codec | PESQ-NB Seatline | PESQ-NB baresip | NB ratio | PESQ-WB Seatline | PESQ-WB baresip | WB ratio | Delay ms S / b | CPU %/UA S / b | JB ms S | Loss % |\n\
|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let s = r.seatline.as_ref();
        let b = r.baresip.as_ref();
        let nb = (s.map(CallResult::pesq_nb), b.map(CallResult::pesq_nb));
        let wb = (
            s.and_then(CallResult::pesq_wb),
            b.and_then(CallResult::pesq_wb),
        );
        let both = |p: (Option<f64>, Option<f64>)| match p {
            (Some(x), Some(y)) => ratio(x, y),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} | {} |\n",
            r.condition,
            r.codec.name(),
            cell(nb.0, 2),
            cell(nb.1, 2),
            both(nb),
            cell(wb.0, 2),
            cell(wb.1, 2),
            both(wb),
            cell(s.and_then(CallResult::delay_ms), 0),
            cell(b.and_then(CallResult::delay_ms), 0),
            cell(s.and_then(|c| c.cpu_percent), 1),
            cell(b.and_then(|c| c.cpu_percent), 1),
            cell(s.and_then(|c| c.jitter_buffer_ms), 0),
            cell(s.or(b).map(CallResult::loss_percent), 1),
        ));
    }
    out
}

/// The targets, each as a line saying met or missed with the figure.
pub fn verdicts(rows: &[Row], aec_percent: Option<f64>) -> Vec<String> {
    let find = |cond: &str, codec: BenchCodec| {
        rows.iter()
            .find(|r| r.condition == cond && r.codec == codec)
            .and_then(|r| r.seatline.as_ref())
    };
    let mut out = Vec::new();
    let mut check = |what: &str, value: Option<f64>, ok: fn(f64) -> bool| {
        out.push(match value {
            Some(v) => format!("{what}: {v:.2} — {}", if ok(v) { "met" } else { "MISSED" }),
            None => format!("{what}: not measured in this run"),
        })
    };
    check(
        "PESQ-WB Opus+FEC at 10 % random loss >= 3.6",
        find("loss10", BenchCodec::OpusFec).and_then(CallResult::pesq_wb),
        |v| v >= 3.6,
    );
    check(
        "PESQ-NB G.711 at 10 % random loss >= 3.0",
        find("loss10", BenchCodec::Pcmu).map(CallResult::pesq_nb),
        |v| v >= 3.0,
    );
    let clean: Vec<f64> = rows
        .iter()
        .filter(|r| r.condition == "clean")
        .filter_map(|r| r.seatline.as_ref().and_then(CallResult::delay_ms))
        .collect();
    check(
        "mouth-to-ear, two Seatline endpoints on a clean loopback (ms) <= 60",
        (!clean.is_empty()).then(|| clean.iter().sum::<f64>() / clean.len() as f64),
        |v| v <= 60.0,
    );
    let cpu: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.seatline.as_ref().and_then(|c| c.cpu_percent))
        .collect();
    let mean_cpu = (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64);
    check(
        "CPU per call, % of one core per Seatline UA (mean of the run, WAV devices) <= 3",
        mean_cpu,
        |v| v <= 3.0,
    );
    check(
        "CPU per call with echo cancellation (the above + AEC3/NS at 48 kHz) <= 3",
        mean_cpu.zip(aec_percent).map(|(c, a)| c + a),
        |v| v <= 3.0,
    );
    let mut below = Vec::new();
    let mut cells = 0;
    for r in rows {
        let (Some(s), Some(b)) = (&r.seatline, &r.baresip) else {
            continue;
        };
        let mut pairs = vec![("NB", s.pesq_nb(), b.pesq_nb())];
        if let (Some(x), Some(y)) = (s.pesq_wb(), b.pesq_wb()) {
            pairs.push(("WB", x, y));
        }
        for (kind, x, y) in pairs {
            cells += 1;
            if x < y {
                below.push(format!(
                    "{} {} {kind} {x:.2} < {y:.2}",
                    r.condition,
                    r.codec.name()
                ));
            }
        }
    }
    out.push(if cells == 0 {
        "every PESQ cell at or above baresip: no pair measured".into()
    } else if below.is_empty() {
        format!("every PESQ cell at or above baresip: met ({cells} cells)")
    } else {
        format!(
            "every PESQ cell at or above baresip: MISSED in {} of {cells}: {}",
            below.len(),
            below.join("; ")
        )
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn stat_ticks_are_read_after_the_command_name() {
        let stat = "1234 (seat line) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(281));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1"), None);
        // This process has a stat file.
        assert!(cpu_ticks(std::process::id()).is_some());
    }

    #[test]
    fn echo_cancellation_cost_is_measured_as_a_share_of_one_core() {
        let cost = aec_cost_percent(&source_speech(), 48_000, 2.0).unwrap();
        // Real work, and far from needing a whole core even in a debug build.
        assert!(cost > 0.0 && cost < 100.0, "{cost}");
        assert!(aec_cost_percent(Path::new("/nonexistent.wav"), 48_000, 1.0).is_err());
    }

    #[test]
    fn padding_appends_silence_and_keeps_the_header_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("padded.wav");
        let secs = pad_wav(&source_speech(), &out, 1.0).unwrap();
        assert!((5.4..5.6).contains(&secs), "{secs}");
        let bytes = std::fs::read(&out).unwrap();
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff, bytes.len() - 8);
        // The last second is silence.
        assert!(bytes[bytes.len() - 32_000..].iter().all(|&b| b == 0));
        let broken = dir.path().join("broken.wav");
        std::fs::write(&broken, b"RIFF\0\0\0\0WAVEdata").unwrap();
        assert!(pad_wav(&broken, &out, 1.0).is_err());
        assert!(pad_wav(&dir.path().join("none.wav"), &out, 1.0).is_err());
    }

    fn result(peer: Peer, codec: BenchCodec, cond: &str, nb: f64, wb: Option<f64>) -> CallResult {
        let heard = Heard {
            pesq_nb: nb,
            pesq_wb: wb,
            delay_ms: (peer == Peer::Seatline).then_some(50.0),
        };
        CallResult {
            peer,
            codec,
            condition: cond.into(),
            by_callee: heard,
            by_caller: Heard {
                delay_ms: heard.delay_ms.map(|_| 30.0),
                ..heard
            },
            cpu_percent: Some(2.0),
            jitter_buffer_ms: Some(40.0),
            concealed_frames: None,
            fec_recovered: None,
            relay: RelayStatsJson {
                caller_to_callee_rtp: 100,
                caller_to_callee_dropped: 10,
                callee_to_caller_rtp: 100,
                callee_to_caller_dropped: 10,
                reordered: 0,
            },
        }
    }

    #[test]
    fn the_table_puts_both_peers_side_by_side_and_the_verdicts_say_what_missed() {
        let rows = vec![
            Row {
                condition: "loss10".into(),
                codec: BenchCodec::OpusFec,
                runs: 1,
                seatline: Some(result(
                    Peer::Seatline,
                    BenchCodec::OpusFec,
                    "loss10",
                    3.9,
                    Some(3.7),
                )),
                baresip: Some(result(
                    Peer::Baresip,
                    BenchCodec::OpusFec,
                    "loss10",
                    3.0,
                    Some(3.8),
                )),
            },
            Row {
                condition: "clean".into(),
                codec: BenchCodec::Pcmu,
                runs: 1,
                seatline: Some(result(Peer::Seatline, BenchCodec::Pcmu, "clean", 4.0, None)),
                baresip: None,
            },
        ];
        let table = render_table(&rows);
        assert!(
            table.contains("| loss10 | opus-fec | 3.90 | 3.00 | 1.30 | 3.70 | 3.80 | 0.97 | 40 / - | 2.0 / 2.0 | 40 | 10.0 |"),
            "{table}"
        );
        assert!(
            table.contains("| clean | pcmu | 4.00 | - | - | - | - | - |"),
            "{table}"
        );
        let v = verdicts(&rows, Some(0.5)).join("\n");
        assert!(
            v.contains("Opus+FEC at 10 % random loss >= 3.6: 3.70 — met"),
            "{v}"
        );
        assert!(
            v.contains("G.711 at 10 % random loss >= 3.0: not measured"),
            "{v}"
        );
        assert!(v.contains("(ms) <= 60: 40.00 — met"), "{v}");
        assert!(
            v.contains("echo cancellation (the above + AEC3/NS at 48 kHz) <= 3: 2.50 — met"),
            "{v}"
        );
        assert!(
            v.contains("MISSED in 1 of 2: loss10 opus-fec WB 3.70 < 3.80"),
            "{v}"
        );
    }

    #[test]
    fn repeated_calls_average_their_scores_and_add_their_packets() {
        let a = result(
            Peer::Seatline,
            BenchCodec::OpusFec,
            "loss10",
            3.0,
            Some(2.0),
        );
        let b = result(
            Peer::Seatline,
            BenchCodec::OpusFec,
            "loss10",
            4.0,
            Some(3.0),
        );
        let m = CallResult::mean(&[a, b]).unwrap();
        assert_eq!(m.pesq_nb(), 3.5);
        assert_eq!(m.pesq_wb(), Some(2.5));
        assert_eq!(m.delay_ms(), Some(40.0));
        assert_eq!(m.relay.caller_to_callee_rtp, 200);
        assert_eq!(m.loss_percent(), 10.0);
        assert!(CallResult::mean(&[]).is_none());
        // baresip's unknown delay stays unknown.
        let c = result(Peer::Baresip, BenchCodec::Pcmu, "clean", 4.0, None);
        assert_eq!(CallResult::mean(&[c]).unwrap().delay_ms(), None);
    }

    #[test]
    fn names_parse_and_unknown_ones_list_the_known() {
        assert_eq!(BenchCodec::parse("opus-fec").unwrap(), BenchCodec::OpusFec);
        assert!(BenchCodec::parse("g729").is_err());
        assert_eq!(condition("burst10").unwrap().name, "burst10");
        let e = condition("lossy").unwrap_err().to_string();
        assert!(e.contains("clean, loss5"), "{e}");
        assert_eq!(conditions().len(), 7);
    }
}
