//! Accounts and phone settings. Passwords are not part of the config: the caller fetches them
//! from the OS keychain and passes them in at start.

use seatline_media::RecordingNotice;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl SipTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            SipTransport::Udp => "udp",
            SipTransport::Tcp => "tcp",
            SipTransport::Tls => "tls",
        }
    }
}

impl std::str::FromStr for SipTransport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Ok(SipTransport::Udp),
            "tcp" => Ok(SipTransport::Tcp),
            "tls" => Ok(SipTransport::Tls),
            other => Err(format!("unknown SIP transport {other:?} (udp, tcp or tls)")),
        }
    }
}

/// SRTP for an account's calls (SDES keys in SDP, RFC 4568; meant for SIP over TLS, which
/// keeps the keys secret on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MediaEncryption {
    /// Plain RTP; offers with RTP/SAVP are refused (488).
    #[default]
    Off,
    /// Keys offered on RTP/AVP ("best effort"): SRTP when the peer takes them, plain RTP
    /// otherwise; offers with keys are answered with SRTP.
    Optional,
    /// RTP/SAVP only: offers without usable keys get 488, answers without keys end the call.
    Required,
}

impl MediaEncryption {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaEncryption::Off => "off",
            MediaEncryption::Optional => "optional",
            MediaEncryption::Required => "required",
        }
    }
}

impl std::str::FromStr for MediaEncryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "none" => Ok(MediaEncryption::Off),
            "optional" => Ok(MediaEncryption::Optional),
            "required" | "mandatory" => Ok(MediaEncryption::Required),
            other => Err(format!(
                "unknown media encryption {other:?} (off, optional or required)"
            )),
        }
    }
}

/// One SIP account (an agent's extension on the center's PBX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountConfig {
    /// Our name for the account, used in events.
    pub id: String,
    /// The extension / AOR user part.
    pub user: String,
    /// Digest user when the PBX gives a separate "authentication ID".
    pub auth_user: Option<String>,
    pub display_name: Option<String>,
    /// SIP domain / registrar, `host` or `host:port`.
    pub domain: String,
    pub transport: SipTransport,
    /// Send everything to this `host:port` instead of the domain's address.
    pub outbound_proxy: Option<String>,
    /// Register at start (a PBX with static peers may not want it).
    pub register: bool,
    /// Seconds asked for in REGISTER; the registrar may grant less.
    pub expires: u32,
    /// Answer every incoming call by itself after this many ms (queue agents).
    pub auto_answer_ms: Option<u64>,
    /// Honour `Call-Info: answer-after`, `Answer-Mode: Auto` and `Alert-Info` auto-answer.
    pub honour_auto_answer_requests: bool,
    /// Headers carrying IVR data to pass to the screen pop (`X-IVR-*` prefix form allowed).
    pub ivr_headers: Vec<String>,
    /// SRTP for this account's calls.
    pub media_encryption: MediaEncryption,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            id: "default".into(),
            user: String::new(),
            auth_user: None,
            display_name: None,
            domain: String::new(),
            transport: SipTransport::Udp,
            outbound_proxy: None,
            register: true,
            expires: 300,
            auto_answer_ms: None,
            honour_auto_answer_requests: true,
            ivr_headers: vec!["X-*".into(), "User-to-User".into()],
            media_encryption: MediaEncryption::Off,
        }
    }
}

/// Where the phone's audio comes from and goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AudioIo {
    /// Silence out, discard in (signalling-only tests).
    #[default]
    Null,
    /// Sound devices by id (`seatline_media::list_devices`); `None` is the system default.
    Devices {
        input: Option<String>,
        output: Option<String>,
    },
    /// A WAV file plays as the microphone (looped); what is heard is recorded, one WAV per call,
    /// into `record_dir` when set.
    Files {
        source: Option<PathBuf>,
        record_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneConfig {
    /// Local address for SIP sockets; 0.0.0.0 listens everywhere.
    pub bind_ip: IpAddr,
    /// Local SIP port; 0 picks a free one.
    pub sip_port: u16,
    /// The address written into SDP and Contact. `None`: the local address the OS routes
    /// towards the registrar.
    pub advertised_ip: Option<IpAddr>,
    /// RTP/RTCP port pairs are taken from this range: RTP on an even port, RTCP on the next.
    pub rtp_ports: (u16, u16),
    /// Codec preference, by name: "opus", "PCMU", "PCMA".
    pub codecs: Vec<String>,
    /// Accept a second incoming call while one is up (call waiting); otherwise 486.
    pub call_waiting: bool,
    pub audio: AudioIo,
    pub user_agent: String,
    /// Seconds between keep-alive pings on the registered flow (OPTIONS to the registrar); a
    /// ping without any answer re-registers at once. 0 turns them off. 25 s keeps a typical
    /// NAT's UDP binding (30 s or more) open.
    pub keepalive_secs: u32,
    /// SIP over TLS: trust only the CA certificates in this PEM file (a private PBX's CA, tests)
    /// instead of the system's roots. The server's certificate is always verified, including
    /// that it names the account's domain (or outbound proxy).
    pub tls_ca_file: Option<PathBuf>,
    /// Call recording: each answered call's both sides to a stereo WAV with a JSON sidecar in
    /// this folder (crates/recordings); `None`: calls are not recorded.
    pub call_recording_dir: Option<PathBuf>,
    /// What the far end hears while its call is recorded (a warning tone or the center's
    /// announcement; crates/media `notice`).
    pub recording_notice: RecordingNotice,
    /// Opus in-band FEC in what we send (planned for 10 % loss); off only to measure without.
    pub opus_fec: bool,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        PhoneConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sip_port: 0,
            advertised_ip: None,
            rtp_ports: (16384, 32766),
            codecs: vec!["opus".into(), "PCMU".into(), "PCMA".into()],
            call_waiting: true,
            audio: AudioIo::Null,
            user_agent: format!("Seatline/{}", env!("CARGO_PKG_VERSION")),
            keepalive_secs: 25,
            tls_ca_file: None,
            call_recording_dir: None,
            recording_notice: RecordingNotice::Off,
            opus_fec: true,
        }
    }
}
