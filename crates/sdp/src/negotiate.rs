//! RFC 3264 offer/answer for one audio stream: local capabilities, offers, answers, and what
//! was agreed ([`NegotiatedMedia`]).

use std::net::IpAddr;

use crate::model::*;

/// Audio codecs the softphone implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    Pcmu,
    Pcma,
    Opus,
}

impl CodecKind {
    /// RTP clock rate (Opus always uses 48 kHz, RFC 7587).
    pub fn clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::Opus => 48000,
        }
    }

    /// The encoding name as SDP writes it.
    pub fn name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::Opus => "opus",
        }
    }

    fn channels(self) -> Option<u16> {
        match self {
            CodecKind::Opus => Some(2),
            _ => None,
        }
    }

    /// Names compare case-insensitively (RFC 4855); channels default to 1, Opus to 2.
    fn matches(self, enc: &Encoding<'_>) -> bool {
        enc.name.eq_ignore_ascii_case(self.name())
            && enc.clock_rate == self.clock_rate()
            && match self {
                CodecKind::Opus => matches!(enc.channels, None | Some(2)),
                _ => matches!(enc.channels, None | Some(1)),
            }
    }
}

/// A codec in the local preference list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    Opus(OpusConfig),
}

impl Codec {
    pub fn kind(&self) -> CodecKind {
        match self {
            Codec::Pcmu => CodecKind::Pcmu,
            Codec::Pcma => CodecKind::Pcma,
            Codec::Opus(_) => CodecKind::Opus,
        }
    }
}

/// Opus settings; they become the `a=fmtp` we send (what we want to receive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// Dynamic payload type used in our offers (default 111).
    pub payload_type: u8,
    /// `maxaveragebitrate`, in bits per second.
    pub max_average_bitrate: Option<u32>,
    /// Add `stereo=0;sprop-stereo=0` (voice is mono).
    pub mono: bool,
}

impl Default for OpusConfig {
    fn default() -> Self {
        OpusConfig {
            payload_type: 111,
            max_average_bitrate: None,
            mono: true,
        }
    }
}

impl OpusConfig {
    fn fmtp(&self) -> String {
        let mut s = String::from("useinbandfec=1");
        if let Some(b) = self.max_average_bitrate {
            s.push_str(&format!(";maxaveragebitrate={b}"));
        }
        if self.mono {
            s.push_str(";stereo=0;sprop-stereo=0");
        }
        s
    }
}

/// Payload types for RFC 4733 telephone-event in our offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventConfig {
    /// For the 8 kHz codecs (default 101).
    pub pt_8000: u8,
    /// For Opus (default 110).
    pub pt_48000: u8,
}

impl Default for TelephoneEventConfig {
    fn default() -> Self {
        TelephoneEventConfig {
            pt_8000: 101,
            pt_48000: 110,
        }
    }
}

/// SDES crypto suites we support (RFC 4568 section 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Suite names are matched exactly as RFC 4568 registers them, ignoring case.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32,
        ]
        .into_iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

/// A caller-supplied SRTP master key for one suite (this crate never makes keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: CryptoSuite,
    pub key: KeyParam,
}

/// What we can do and where we receive RTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCaps {
    /// Codecs in preference order (an empty list offers PCMU).
    pub codecs: Vec<Codec>,
    /// Offer/accept telephone-event; `None` disables DTMF events.
    pub telephone_event: Option<TelephoneEventConfig>,
    /// `a=ptime` we ask for, in ms.
    pub ptime: u32,
    /// Local RTP address and port (RTCP on port + 1 unless rtcp-mux).
    pub address: IpAddr,
    pub rtp_port: u16,
    /// SDES keys in preference order; non-empty means our offers use RTP/SAVP.
    pub srtp: Vec<SrtpKey>,
    /// Refuse offers without SDES keys we can use (RTP/AVP without `a=crypto`).
    pub require_srtp: bool,
    /// Offer the keys on RTP/AVP ("best effort" SRTP, as baresip's `mediaenc=srtp` and many
    /// PBXes do) so that a peer without SRTP can still answer with plain RTP; RTP/SAVP otherwise.
    pub srtp_best_effort: bool,
    /// Offer and accept `a=rtcp-mux` (RFC 5761).
    pub rtcp_mux: bool,
    /// Our RTCP port when RTCP is not multiplexed, stated as `a=rtcp:<port>` (RFC 3605) in
    /// every offer (next to `a=rtcp-mux`, the fallback should the answer not mux, as RFC 5761
    /// 5.1.3 suggests) and in answers that do not mux. `None`: no `a=rtcp` (RTP port + 1).
    pub rtcp_port: Option<u16>,
    /// Offer and accept comfort noise (`CN/8000`, RFC 3389, static payload type 13) with the
    /// 8 kHz codecs (G.711).
    pub comfort_noise: bool,
    /// Answer with every common codec in our order instead of only the best one.
    pub answer_all_common: bool,
}

impl LocalCaps {
    /// Opus, PCMU, PCMA; telephone-event; 20 ms; plain RTP; no rtcp-mux.
    pub fn new(address: IpAddr, rtp_port: u16) -> Self {
        LocalCaps {
            codecs: vec![Codec::Opus(OpusConfig::default()), Codec::Pcmu, Codec::Pcma],
            telephone_event: Some(TelephoneEventConfig::default()),
            ptime: 20,
            address,
            rtp_port,
            srtp: vec![],
            require_srtp: false,
            srtp_best_effort: false,
            rtcp_mux: false,
            rtcp_port: None,
            comfort_noise: false,
            answer_all_common: false,
        }
    }

    fn key_for(&self, suite: CryptoSuite) -> Option<&KeyParam> {
        self.srtp.iter().find(|k| k.suite == suite).map(|k| &k.key)
    }

    fn proto(&self) -> &'static str {
        if self.srtp.is_empty() || self.srtp_best_effort {
            "RTP/AVP"
        } else {
            "RTP/SAVP"
        }
    }
}

/// Why an offer or answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("no active audio stream with RTP/AVP or RTP/SAVP")]
    NoUsableAudioStream,
    #[error("no codec in common")]
    NoCommonCodec,
    #[error("RTP/SAVP offered without an SDES crypto suite we support")]
    NoCommonCryptoSuite,
    #[error("unsupported SDES parameters ({0})")]
    UnsupportedCrypto(String),
    #[error("the offer has no SRTP and local policy requires it")]
    SrtpRequired,
    #[error("the audio stream has no c= line (neither media nor session level)")]
    MissingConnection,
    #[error("the answer has {answer} m= lines but the offer had {offer}")]
    MediaCountMismatch { offer: usize, answer: usize },
    #[error("the remote side rejected the audio stream (port 0)")]
    StreamRejected,
    #[error("invalid answer: {0}")]
    InvalidAnswer(String),
    #[error("there is no offer of ours waiting for an answer")]
    NoPendingOffer,
}

impl NegotiationError {
    /// The SIP status to reject an offer with (RFC 3261: 488 Not Acceptable Here).
    pub fn sip_status(&self) -> u16 {
        488
    }
}

/// A host from a `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A domain name; the caller resolves it.
    Name(String),
}

impl Host {
    fn from_connection(c: &Connection) -> Self {
        match c.ip() {
            Some(ip) => Host::Ip(ip),
            None => Host::Name(c.address.split('/').next().unwrap_or_default().to_string()),
        }
    }
}

/// Where to send RTP and RTCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpTarget {
    pub host: Host,
    pub rtp_port: u16,
    /// From `a=rtcp` (RFC 3605), else the RTP host.
    pub rtcp_host: Host,
    /// The RTP port with rtcp-mux, else `a=rtcp` or RTP port + 1.
    pub rtcp_port: u16,
}

/// The codec we agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    pub kind: CodecKind,
    /// Payload type to put in RTP we send (from the remote description).
    pub send_pt: u8,
    /// Payload type the remote uses when sending to us (from our description).
    pub recv_pt: u8,
    pub clock_rate: u32,
    pub channels: u16,
    /// The remote's fmtp for this codec (its receive preferences), verbatim.
    pub remote_fmtp: Option<String>,
}

/// telephone-event payload types at the chosen codec's clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventPts {
    pub send_pt: u8,
    pub recv_pt: u8,
}

/// SDES keys agreed on: ours encrypts what we send, theirs decrypts what we receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpParams {
    pub suite: CryptoSuite,
    pub tag: u32,
    pub local_key: KeyParam,
    pub remote_key: KeyParam,
}

/// The outcome of one offer/answer exchange for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Index of the audio m= line in the offer and answer.
    pub media_index: usize,
    pub codec: NegotiatedCodec,
    pub telephone_event: Option<TelephoneEventPts>,
    /// Packet time to send with: the remote's `a=ptime`, else ours.
    pub ptime: u32,
    /// Our direction as agreed.
    pub direction: Direction,
    /// We may send RTP.
    pub send: bool,
    /// We should expect RTP.
    pub receive: bool,
    /// The remote description refuses media from us (sendonly, inactive, or `c=0.0.0.0`).
    pub remote_hold: bool,
    pub remote: RtpTarget,
    pub rtcp_mux: bool,
    pub srtp: Option<SrtpParams>,
    /// Comfort noise (`CN/8000`) agreed with an 8 kHz codec: the payload type the peer sends
    /// it with.
    pub comfort_noise_pt: Option<u8>,
}

/// An encoding as described by rtpmap or the static payload type table.
struct Encoding<'a> {
    name: &'a str,
    clock_rate: u32,
    channels: Option<u16>,
}

/// rtpmap if present, else the RFC 3551 static assignments we care about.
fn encoding(m: &MediaDescription, pt: u8) -> Option<Encoding<'_>> {
    if let Some(r) = m.rtpmap(pt) {
        return Some(Encoding {
            name: &r.encoding,
            clock_rate: r.clock_rate,
            channels: r.channels,
        });
    }
    let name = match pt {
        0 => "PCMU",
        8 => "PCMA",
        13 => "CN",
        _ => return None,
    };
    Some(Encoding {
        name,
        clock_rate: 8000,
        channels: None,
    })
}

fn is_telephone_event(enc: &Encoding<'_>, clock_rate: u32) -> bool {
    enc.name.eq_ignore_ascii_case("telephone-event") && enc.clock_rate == clock_rate
}

fn is_comfort_noise(enc: &Encoding<'_>) -> bool {
    enc.name.eq_ignore_ascii_case("CN") && enc.clock_rate == 8000
}

fn find_pt(m: &MediaDescription, pred: impl Fn(&Encoding<'_>) -> bool) -> Option<u8> {
    m.payload_types()
        .into_iter()
        .find(|pt| encoding(m, *pt).is_some_and(|e| pred(&e)))
}

const SUPPORTED_PROTOS: [&str; 2] = ["RTP/AVP", "RTP/SAVP"];

fn is_usable_audio(m: &MediaDescription) -> bool {
    m.media.eq_ignore_ascii_case("audio")
        && m.port != 0
        && SUPPORTED_PROTOS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&m.proto))
}

fn is_savp(m: &MediaDescription) -> bool {
    m.proto.eq_ignore_ascii_case("RTP/SAVP")
}

/// The direction a description gives a stream: media level, else session level, else sendrecv.
fn stream_direction(sdp: &SessionDescription, m: &MediaDescription) -> Direction {
    m.direction()
        .or(sdp.direction())
        .unwrap_or(Direction::SendRecv)
}

fn stream_connection<'a>(
    sdp: &'a SessionDescription,
    m: &'a MediaDescription,
) -> Option<&'a Connection> {
    m.connection.as_ref().or(sdp.connection.as_ref())
}

/// Whether the remote's description accepts media from us; `c=0.0.0.0` is RFC 2543 hold.
fn remote_receives(sdp: &SessionDescription, m: &MediaDescription) -> bool {
    stream_direction(sdp, m).receives()
        && !stream_connection(sdp, m).is_some_and(Connection::is_hold_address)
}

fn rtp_target(
    sdp: &SessionDescription,
    m: &MediaDescription,
    rtcp_mux: bool,
) -> Result<RtpTarget, NegotiationError> {
    let conn = stream_connection(sdp, m).ok_or(NegotiationError::MissingConnection)?;
    let host = Host::from_connection(conn);
    let rtcp_attr = m.attributes.iter().find_map(|a| match a {
        Attribute::Rtcp(r) => Some(r),
        _ => None,
    });
    let (rtcp_host, rtcp_port) = match (rtcp_mux, rtcp_attr) {
        (true, _) => (host.clone(), m.port),
        (false, Some(r)) => {
            let h = r
                .connection
                .as_ref()
                .map(Host::from_connection)
                .unwrap_or(host.clone());
            (h, r.port)
        }
        // RFC 3550: RTCP on the next port up.
        (false, None) => (host.clone(), m.port.saturating_add(1)),
    };
    Ok(RtpTarget {
        host,
        rtp_port: m.port,
        rtcp_host,
        rtcp_port,
    })
}

fn ptime_of(m: &MediaDescription) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        Attribute::Ptime(p) => Some(*p),
        _ => None,
    })
}

/// Lifetimes below this many packets would need re-keying mid-call, which we do not do
/// (2^20 packets is 5.8 hours of 20 ms audio).
const MIN_KEY_LIFETIME_LOG2: u32 = 20;

/// Whether we implement an `a=crypto` line's parameters: one inline key of 30 bytes (base64,
/// 40 characters; AES-128 key and 112-bit salt), no MKI, a lifetime of at least 2^20 packets,
/// no session parameters (KDR, UNENCRYPTED_SRTP, FEC_ORDER...: RFC 4568 section 6.3).
pub fn usable_crypto(c: &Crypto) -> Result<(), String> {
    if let Some(p) = c.session_params.first() {
        return Err(format!("session parameter {p:?} is not supported"));
    }
    let kp = match c.key_params.as_slice() {
        [kp] => kp,
        [] => return Err("no key".into()),
        _ => return Err("several keys (MKI) are not supported".into()),
    };
    if kp.mki.is_some() {
        return Err("MKI is not supported".into());
    }
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    if kp.key_salt.len() != 40 || !kp.key_salt.bytes().all(b64) {
        return Err("the key is not 30 bytes of base64 (16 key + 14 salt)".into());
    }
    if let Some(l) = &kp.lifetime {
        let log2 = match l.strip_prefix("2^") {
            Some(n) => n.parse::<u32>().ok().filter(|n| *n <= 48),
            None => l.parse::<u64>().ok().filter(|n| *n > 0).map(|n| n.ilog2()),
        };
        match log2 {
            Some(n) if n >= MIN_KEY_LIFETIME_LOG2 => {}
            Some(_) => {
                return Err(format!(
                    "key lifetime {l} is below 2^{MIN_KEY_LIFETIME_LOG2} packets (no re-keying)"
                ))
            }
            None => return Err(format!("bad key lifetime {l:?}")),
        }
    }
    Ok(())
}

fn cryptos(m: &MediaDescription) -> impl Iterator<Item = &Crypto> {
    m.attributes.iter().filter_map(|a| match a {
        Attribute::Crypto(c) => Some(c),
        _ => None,
    })
}

/// One payload type in an m= line we write.
pub(crate) struct Entry {
    pub pt: u8,
    pub name: &'static str,
    pub clock_rate: u32,
    pub channels: Option<u16>,
    pub fmtp: Option<String>,
}

impl Entry {
    fn codec(codec: &Codec, pt: u8) -> Self {
        let kind = codec.kind();
        let fmtp = match codec {
            Codec::Opus(o) => Some(o.fmtp()),
            _ => None,
        };
        Entry {
            pt,
            name: kind.name(),
            clock_rate: kind.clock_rate(),
            channels: kind.channels(),
            fmtp,
        }
    }

    fn comfort_noise(pt: u8) -> Self {
        Entry {
            pt,
            name: "CN",
            clock_rate: 8000,
            channels: None,
            fmtp: None,
        }
    }

    fn telephone_event(pt: u8, clock_rate: u32) -> Self {
        let fmtp = Some("0-16".to_string());
        Entry {
            pt,
            name: "telephone-event",
            clock_rate,
            channels: None,
            fmtp,
        }
    }
}

/// Our audio m= section: rtpmap/fmtp for every payload type, then ptime, direction, the RTCP
/// port (`a=rtcp`), mux, crypto.
pub(crate) fn audio_section(
    caps: &LocalCaps,
    proto: &str,
    entries: &[Entry],
    direction: Direction,
    (rtcp_port, rtcp_mux): (Option<u16>, bool),
    crypto: Vec<Crypto>,
) -> MediaDescription {
    let mut attributes = Vec::new();
    for e in entries {
        attributes.push(Attribute::Rtpmap(Rtpmap {
            payload_type: e.pt,
            encoding: e.name.to_string(),
            clock_rate: e.clock_rate,
            channels: e.channels,
        }));
        if let Some(p) = &e.fmtp {
            attributes.push(Attribute::Fmtp(Fmtp {
                payload_type: e.pt,
                params: p.clone(),
            }));
        }
    }
    attributes.push(Attribute::Ptime(caps.ptime));
    attributes.push(Attribute::Direction(direction));
    if let Some(port) = rtcp_port {
        attributes.push(Attribute::Rtcp(RtcpAttr {
            port,
            connection: None,
        }));
    }
    if rtcp_mux {
        attributes.push(Attribute::RtcpMux);
    }
    attributes.extend(crypto.into_iter().map(Attribute::Crypto));
    MediaDescription {
        media: "audio".to_string(),
        port: caps.rtp_port,
        port_count: None,
        proto: proto.to_string(),
        formats: entries.iter().map(|e| e.pt.to_string()).collect(),
        other_lines: vec![],
        connection: None,
        bandwidths: vec![],
        attributes,
    }
}

/// A port-0 copy of an m= line: how a stream is rejected or kept disabled (RFC 3264 6, 8.2).
pub(crate) fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        port_count: None,
        proto: m.proto.clone(),
        formats: m.formats.iter().take(1).cloned().collect(),
        other_lines: vec![],
        connection: None,
        bandwidths: vec![],
        attributes: vec![],
    }
}

pub(crate) fn description(
    caps: &LocalCaps,
    origin: &Origin,
    timing: Vec<Timing>,
    media: Vec<MediaDescription>,
) -> SessionDescription {
    SessionDescription {
        origin: origin.clone(),
        session_name: "-".to_string(),
        other_lines: vec![],
        connection: Some(Connection::for_ip(caps.address)),
        bandwidths: vec![],
        timing: if timing.is_empty() {
            vec![Timing {
                start: 0,
                stop: 0,
                repeats: vec![],
            }]
        } else {
            timing
        },
        attributes: vec![],
        media,
    }
}

/// Dynamic payload types for an offer, moved to a free number on collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PtPlan {
    pub opus: u8,
    pub te_8000: u8,
    pub te_48000: u8,
}

impl PtPlan {
    /// Payload types agreed earlier in the call (`learned`: opus, te/8000, te/48000) win; the
    /// configured ones come next; a clash moves a number to the first free dynamic one.
    pub(crate) fn new(caps: &LocalCaps, learned: [Option<u8>; 3]) -> Self {
        let opus = caps
            .codecs
            .iter()
            .find_map(|c| match c {
                Codec::Opus(o) => Some(o.payload_type),
                _ => None,
            })
            .unwrap_or(111);
        let te = caps.telephone_event.unwrap_or_default();
        let configured = [opus, te.pt_8000, te.pt_48000];
        let mut used = vec![0u8, 8];
        let mut out: [Option<u8>; 3] = [None; 3];
        for pass in [true, false] {
            for i in 0..3 {
                let want = if pass {
                    learned[i]
                } else {
                    Some(configured[i])
                };
                match (out[i], want) {
                    (None, Some(p)) if p <= 127 && !used.contains(&p) => {
                        used.push(p);
                        out[i] = Some(p);
                    }
                    _ => {}
                }
            }
        }
        let mut pick = |slot: Option<u8>| {
            slot.unwrap_or_else(|| {
                let p = (96..=127).find(|p| !used.contains(p)).unwrap_or(96);
                used.push(p);
                p
            })
        };
        PtPlan {
            opus: pick(out[0]),
            te_8000: pick(out[1]),
            te_48000: pick(out[2]),
        }
    }
}

/// The audio m= section of an offer, codecs in `order` (deduplicated by kind).
pub(crate) fn offer_section(
    caps: &LocalCaps,
    order: &[Codec],
    plan: PtPlan,
    direction: Direction,
) -> MediaDescription {
    let mut entries: Vec<Entry> = Vec::new();
    let mut seen = Vec::new();
    // An m= line needs a format: an empty preference list means PCMU.
    let fallback = [Codec::Pcmu];
    let order = if order.is_empty() {
        &fallback[..]
    } else {
        order
    };
    for c in order {
        if seen.contains(&c.kind()) {
            continue;
        }
        seen.push(c.kind());
        let pt = match c.kind() {
            CodecKind::Pcmu => 0,
            CodecKind::Pcma => 8,
            CodecKind::Opus => plan.opus,
        };
        entries.push(Entry::codec(c, pt));
    }
    if caps.telephone_event.is_some() {
        // One telephone-event per clock rate in use, as RFC 4733 requires.
        if seen.iter().any(|k| k.clock_rate() == 8000) {
            entries.push(Entry::telephone_event(plan.te_8000, 8000));
        }
        if seen.contains(&CodecKind::Opus) {
            entries.push(Entry::telephone_event(plan.te_48000, 48000));
        }
    }
    // Last in the m= line: CN is no codec of its own, only the silence of the 8 kHz ones.
    if caps.comfort_noise && seen.iter().any(|k| k.clock_rate() == 8000) {
        entries.push(Entry::comfort_noise(13));
    }
    let crypto = caps
        .srtp
        .iter()
        .zip(1u32..)
        .map(|(k, tag)| Crypto {
            tag,
            suite: k.suite.as_str().to_string(),
            key_params: vec![k.key.clone()],
            session_params: vec![],
        })
        .collect();
    audio_section(
        caps,
        caps.proto(),
        &entries,
        direction,
        (caps.rtcp_port, caps.rtcp_mux),
        crypto,
    )
}

/// An initial offer with one audio stream.
///
/// `direction` is what we want: `SendRecv` normally, `SendOnly`/`Inactive` to hold.
/// [`crate::MediaSession`] tracks versions and hold state for re-offers.
pub fn create_offer(caps: &LocalCaps, origin: &Origin, direction: Direction) -> SessionDescription {
    let m = offer_section(caps, &caps.codecs, PtPlan::new(caps, [None; 3]), direction);
    description(caps, origin, vec![], vec![m])
}

/// Answer a remote offer (RFC 3264 section 6).
///
/// `wish` is our own direction preference: `SendRecv`, or `SendOnly`/`Inactive` while we hold.
/// The first active RTP/AVP or RTP/SAVP audio stream we can use is accepted; every other m= line
/// is answered with port 0, keeping the offer's count and order. Errors mean "reject with 488".
pub fn create_answer(
    offer: &SessionDescription,
    caps: &LocalCaps,
    origin: &Origin,
    wish: Direction,
) -> Result<(SessionDescription, NegotiatedMedia), NegotiationError> {
    let mut first_err = None;
    for (idx, m) in offer.media.iter().enumerate() {
        if !is_usable_audio(m) {
            continue;
        }
        match answer_stream(offer, idx, m, caps, wish) {
            Ok((section, neg)) => {
                let media = offer
                    .media
                    .iter()
                    .enumerate()
                    .map(|(i, om)| {
                        if i == idx {
                            section.clone()
                        } else {
                            rejected(om)
                        }
                    })
                    .collect();
                let sdp = description(caps, origin, offer.timing.clone(), media);
                return Ok((sdp, neg));
            }
            Err(e) => {
                tracing::debug!(index = idx, error = %e, "audio stream not usable");
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(NegotiationError::NoUsableAudioStream))
}

fn answer_stream(
    offer: &SessionDescription,
    idx: usize,
    m: &MediaDescription,
    caps: &LocalCaps,
    wish: Direction,
) -> Result<(MediaDescription, NegotiatedMedia), NegotiationError> {
    // SDES: the first offered crypto line (offerer's preference) whose suite we have a key for
    // and whose parameters we implement (no session parameters, one key without MKI, a
    // lifetime we never reach). If every line of a suite we know is refused for its parameters,
    // the error says why.
    // Keys on RTP/AVP (best-effort SRTP) are used when we have keys too.
    let avp_keys = !is_savp(m) && !caps.srtp.is_empty() && cryptos(m).next().is_some();
    let srtp = if is_savp(m) || avp_keys {
        let mut refused = None;
        let found = cryptos(m)
            .find_map(|c| {
                let suite = CryptoSuite::from_name(&c.suite)?;
                let key = caps.key_for(suite)?;
                match usable_crypto(c) {
                    Ok(()) => Some((c, suite, key)),
                    Err(why) => {
                        tracing::debug!(tag = c.tag, suite = %c.suite, %why, "a=crypto line skipped");
                        refused.get_or_insert(format!("a=crypto:{} {}: {why}", c.tag, c.suite));
                        None
                    }
                }
            })
            .ok_or_else(|| match refused.take() {
                Some(why) => NegotiationError::UnsupportedCrypto(why),
                None => NegotiationError::NoCommonCryptoSuite,
            });
        let (c, suite, key) = match (found, is_savp(m) || caps.require_srtp) {
            (Ok(f), _) => f,
            (Err(e), true) => return Err(e),
            // Best-effort keys we cannot use: answer with plain RTP.
            (Err(_), false) => {
                let mut plain = caps.clone();
                plain.srtp.clear();
                return answer_stream(offer, idx, m, &plain, wish);
            }
        };
        let remote_key = c
            .key_params
            .first()
            .cloned()
            .ok_or(NegotiationError::NoCommonCryptoSuite)?;
        Some(SrtpParams {
            suite,
            tag: c.tag,
            local_key: key.clone(),
            remote_key,
        })
    } else {
        // RTP/AVP: crypto attributes, if any, are ignored.
        if caps.require_srtp {
            return Err(NegotiationError::SrtpRequired);
        }
        None
    };

    // Common codecs in our preference order, each with the offerer's payload type.
    let mut common: Vec<(&Codec, u8)> = Vec::new();
    for c in &caps.codecs {
        if common.iter().any(|(k, _)| k.kind() == c.kind()) {
            continue;
        }
        if let Some(pt) = find_pt(m, |e| c.kind().matches(e)) {
            common.push((c, pt));
        }
    }
    let &(chosen, chosen_pt) = common.first().ok_or(NegotiationError::NoCommonCodec)?;
    if !caps.answer_all_common {
        common.truncate(1);
    }
    let mut entries: Vec<Entry> = common.iter().map(|(c, pt)| Entry::codec(c, *pt)).collect();
    let mut te_chosen = None;
    if caps.telephone_event.is_some() {
        let mut rates: Vec<u32> = Vec::new();
        for (c, _) in &common {
            if !rates.contains(&c.kind().clock_rate()) {
                rates.push(c.kind().clock_rate());
            }
        }
        for rate in rates {
            if let Some(pt) = find_pt(m, |e| is_telephone_event(e, rate)) {
                if rate == chosen.kind().clock_rate() {
                    te_chosen = Some(TelephoneEventPts {
                        send_pt: pt,
                        recv_pt: pt,
                    });
                }
                entries.push(Entry::telephone_event(pt, rate));
            }
        }
    }

    let comfort_noise_pt = if caps.comfort_noise && chosen.kind().clock_rate() == 8000 {
        find_pt(m, is_comfort_noise)
    } else {
        None
    };
    if let Some(pt) = comfort_noise_pt {
        entries.push(Entry::comfort_noise(pt));
    }

    let offer_dir = stream_direction(offer, m);
    let send = remote_receives(offer, m) && wish.sends();
    let receive = offer_dir.sends() && wish.receives();
    let direction = Direction::from_flags(send, receive);
    let rtcp_mux = caps.rtcp_mux && m.has_attribute("rtcp-mux");
    let remote = rtp_target(offer, m, rtcp_mux)?;

    let crypto = srtp
        .iter()
        .map(|s| Crypto {
            tag: s.tag,
            suite: s.suite.as_str().to_string(),
            key_params: vec![s.local_key.clone()],
            session_params: vec![],
        })
        .collect();
    // A muxed answer states no RTCP port: RTCP is on the RTP port (RFC 5761 5.1.3).
    let rtcp = (caps.rtcp_port.filter(|_| !rtcp_mux), rtcp_mux);
    let section = audio_section(caps, &m.proto, &entries, direction, rtcp, crypto);
    let kind = chosen.kind();
    let neg = NegotiatedMedia {
        media_index: idx,
        codec: NegotiatedCodec {
            kind,
            send_pt: chosen_pt,
            recv_pt: chosen_pt,
            clock_rate: kind.clock_rate(),
            channels: kind.channels().unwrap_or(1),
            remote_fmtp: m.fmtp(chosen_pt).map(str::to_string),
        },
        telephone_event: te_chosen,
        ptime: ptime_of(m).unwrap_or(caps.ptime),
        direction,
        send,
        receive,
        remote_hold: !remote_receives(offer, m),
        remote,
        rtcp_mux,
        srtp,
        comfort_noise_pt,
    };
    Ok((section, neg))
}

/// Apply the remote answer to our offer (RFC 3264 section 7).
pub fn process_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let idx = offer
        .media
        .iter()
        .position(is_usable_audio)
        .ok_or(NegotiationError::NoUsableAudioStream)?;
    let (om, am) = (&offer.media[idx], &answer.media[idx]);
    if am.port == 0 {
        return Err(NegotiationError::StreamRejected);
    }
    let invalid = |s: String| NegotiationError::InvalidAnswer(s);
    if !am.media.eq_ignore_ascii_case(&om.media) || !am.proto.eq_ignore_ascii_case(&om.proto) {
        return Err(invalid(format!(
            "m= line {} is {} {}, the offer had {} {}",
            idx + 1,
            am.media,
            am.proto,
            om.media,
            om.proto
        )));
    }

    // The answerer's first codec that we offered; payload types may differ per side.
    let kinds = [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::Opus];
    let (kind, send_pt, recv_pt) = am
        .payload_types()
        .into_iter()
        .find_map(|pt| {
            let enc = encoding(am, pt)?;
            let kind = kinds.into_iter().find(|k| k.matches(&enc))?;
            Some((kind, pt, find_pt(om, |e| kind.matches(e))?))
        })
        .ok_or(NegotiationError::NoCommonCodec)?;
    let rate = kind.clock_rate();
    let telephone_event = find_pt(am, |e| is_telephone_event(e, rate))
        .zip(find_pt(om, |e| is_telephone_event(e, rate)))
        .map(|(send_pt, recv_pt)| TelephoneEventPts { send_pt, recv_pt });

    // RTP/SAVP needs keys in the answer; keys offered on RTP/AVP (best effort) may be
    // answered with or without them.
    let best_effort_keys =
        !is_savp(om) && cryptos(om).next().is_some() && cryptos(am).next().is_some();
    let srtp = if is_savp(om) || best_effort_keys {
        let ac = cryptos(am)
            .next()
            .ok_or_else(|| invalid("RTP/SAVP answer has no a=crypto".into()))?;
        let oc = cryptos(om)
            .find(|c| c.tag == ac.tag && c.suite.eq_ignore_ascii_case(&ac.suite))
            .ok_or_else(|| {
                invalid(format!(
                    "a=crypto tag {} {} was not offered",
                    ac.tag, ac.suite
                ))
            })?;
        let suite =
            CryptoSuite::from_name(&oc.suite).ok_or(NegotiationError::NoCommonCryptoSuite)?;
        usable_crypto(ac).map_err(|why| invalid(format!("a=crypto:{} {why}", ac.tag)))?;
        let first = |c: &Crypto| c.key_params.first().cloned();
        match (first(oc), first(ac)) {
            (Some(local_key), Some(remote_key)) => Some(SrtpParams {
                suite,
                tag: ac.tag,
                local_key,
                remote_key,
            }),
            _ => return Err(invalid("a=crypto without a key".into())),
        }
    } else {
        None
    };

    let ours = stream_direction(offer, om);
    let send = ours.sends() && remote_receives(answer, am);
    let receive = ours.receives() && stream_direction(answer, am).sends();
    let rtcp_mux = om.has_attribute("rtcp-mux") && am.has_attribute("rtcp-mux");
    Ok(NegotiatedMedia {
        media_index: idx,
        codec: NegotiatedCodec {
            kind,
            send_pt,
            recv_pt,
            clock_rate: rate,
            channels: kind.channels().unwrap_or(1),
            remote_fmtp: am.fmtp(send_pt).map(str::to_string),
        },
        telephone_event,
        ptime: ptime_of(am).or(ptime_of(om)).unwrap_or(20),
        direction: Direction::from_flags(send, receive),
        send,
        receive,
        remote_hold: !remote_receives(answer, am),
        remote: rtp_target(answer, am, rtcp_mux)?,
        rtcp_mux,
        srtp,
        // The peer sends CN with the payload type of our offer (13 unless mapped otherwise).
        comfort_noise_pt: if rate == 8000 && find_pt(am, is_comfort_noise).is_some() {
            find_pt(om, is_comfort_noise)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, parse};

    fn caps() -> LocalCaps {
        LocalCaps::new("192.0.2.10".parse().unwrap(), 40000)
    }

    fn origin() -> Origin {
        Origin::new(77, 1, "192.0.2.10".parse().unwrap())
    }

    fn answer(offer: &[u8], caps: &LocalCaps) -> (SessionDescription, NegotiatedMedia) {
        create_answer(&parse(offer), caps, &origin(), Direction::SendRecv).unwrap()
    }

    fn with_direction(sdp: &[u8], dir: &str) -> SessionDescription {
        let text = String::from_utf8(sdp.to_vec())
            .unwrap()
            .replace("a=sendrecv", dir);
        parse(text.as_bytes())
    }

    fn keys() -> Vec<SrtpKey> {
        vec![
            SrtpKey {
                suite: CryptoSuite::AesCm128HmacSha1_80,
                key: KeyParam::inline("MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw"),
            },
            SrtpKey {
                suite: CryptoSuite::AesCm128HmacSha1_32,
                key: KeyParam::inline("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"),
            },
        ]
    }

    #[test]
    fn default_offer_text() {
        let offer = create_offer(&caps(), &origin(), Direction::SendRecv);
        let expected = "v=0\r\no=- 77 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
            t=0 0\r\nm=audio 40000 RTP/AVP 111 0 8 101 110\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;stereo=0;sprop-stereo=0\r\n\
            a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
            a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
            a=rtpmap:110 telephone-event/48000\r\na=fmtp:110 0-16\r\n\
            a=ptime:20\r\na=sendrecv\r\n";
        assert_eq!(offer.to_string(), expected);
        assert_eq!(SessionDescription::parse(&offer.to_bytes()), Ok(offer));
    }

    #[test]
    fn offer_options_srtp_mux_bitrate_ipv6() {
        let mut c = LocalCaps::new("2001:db8::10".parse().unwrap(), 50000);
        c.codecs = vec![
            Codec::Pcma,
            Codec::Opus(OpusConfig {
                payload_type: 101,
                max_average_bitrate: Some(24000),
                mono: false,
            }),
        ];
        c.srtp = keys();
        c.rtcp_mux = true;
        let offer = create_offer(&c, &origin(), Direction::SendOnly);
        let text = offer.to_string();
        assert!(text.contains("c=IN IP6 2001:db8::10\r\n"), "{text}");
        // Opus asked for 101, which telephone-event/8000 also wants: opus keeps it, the event
        // moves to a free dynamic number.
        assert!(
            text.contains("m=audio 50000 RTP/SAVP 8 101 96 110\r\n"),
            "{text}"
        );
        assert!(
            text.contains("a=fmtp:101 useinbandfec=1;maxaveragebitrate=24000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("a=rtpmap:96 telephone-event/8000\r\n"),
            "{text}"
        );
        assert!(text.contains("a=sendonly\r\na=rtcp-mux\r\n"), "{text}");
        assert!(text.contains(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\r\n"
        ));
        assert!(
            text.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"),
            "{text}"
        );
    }

    #[test]
    fn empty_codec_list_still_makes_a_valid_offer() {
        let mut c = caps();
        c.codecs.clear();
        let offer = create_offer(&c, &origin(), Direction::SendRecv);
        assert_eq!(offer.media[0].formats, vec!["0", "101"]);
        assert_eq!(SessionDescription::parse(&offer.to_bytes()), Ok(offer));
        let e = create_answer(
            &parse(fixtures::ASTERISK),
            &c,
            &origin(),
            Direction::SendRecv,
        );
        assert_eq!(e.unwrap_err(), NegotiationError::NoCommonCodec);
    }

    #[test]
    fn answer_asterisk_with_static_codecs() {
        let (ans, neg) = answer(fixtures::ASTERISK, &caps());
        let m = &ans.media[0];
        assert_eq!(m.formats, vec!["0", "101"]);
        assert_eq!(m.port, 40000);
        assert_eq!(m.direction(), Some(Direction::SendRecv));
        assert_eq!(neg.codec.kind, CodecKind::Pcmu);
        assert_eq!((neg.codec.send_pt, neg.codec.recv_pt), (0, 0));
        assert_eq!(
            neg.telephone_event,
            Some(TelephoneEventPts {
                send_pt: 101,
                recv_pt: 101
            })
        );
        assert!(neg.send && neg.receive && !neg.remote_hold);
        assert_eq!(neg.remote.host, Host::Ip("203.0.113.5".parse().unwrap()));
        assert_eq!((neg.remote.rtp_port, neg.remote.rtcp_port), (14590, 14591));
        assert_eq!(ans.timing, parse(fixtures::ASTERISK).timing);
    }

    #[test]
    fn answer_keeps_offerers_dynamic_pt_and_rtcp_attribute() {
        let (ans, neg) = answer(fixtures::FREESWITCH, &caps());
        assert_eq!(ans.media[0].formats, vec!["102", "100"]);
        assert_eq!(ans.media[0].rtpmap(100).map(|r| r.clock_rate), Some(48000));
        assert_eq!(neg.codec.kind, CodecKind::Opus);
        assert_eq!(neg.codec.send_pt, 102);
        assert!(neg
            .codec
            .remote_fmtp
            .as_deref()
            .unwrap()
            .contains("maxaveragebitrate=30000"));
        assert_eq!(
            neg.telephone_event,
            Some(TelephoneEventPts {
                send_pt: 100,
                recv_pt: 100
            })
        );
        assert_eq!(neg.remote.rtcp_port, 24677);
        assert_eq!(
            neg.remote.rtcp_host,
            Host::Ip("198.51.100.20".parse().unwrap())
        );
    }

    #[test]
    fn answer_follows_our_preference_and_lists_only_offered_codecs() {
        let mut c = caps();
        c.codecs = vec![Codec::Pcma, Codec::Pcmu, Codec::Opus(OpusConfig::default())];
        let (ans, neg) = answer(fixtures::ASTERISK, &c);
        assert_eq!(ans.media[0].formats, vec!["8", "101"]);
        assert_eq!(neg.codec.kind, CodecKind::Pcma);
        c.answer_all_common = true;
        let (ans, _) = answer(fixtures::ASTERISK, &c);
        assert_eq!(ans.media[0].formats, vec!["8", "0", "101"]);
        // One telephone-event per clock rate, even with the 8 kHz codecs split by Opus.
        c.codecs = vec![Codec::Pcma, Codec::Opus(OpusConfig::default()), Codec::Pcmu];
        let (ans, _) = answer(fixtures::FREESWITCH, &c);
        assert_eq!(ans.media[0].formats, vec!["8", "102", "0", "101", "100"]);
        // Opus was not offered by Asterisk, so it must not appear.
        assert!(ans.media[0].rtpmap(111).is_none());
    }

    #[test]
    fn codec_names_are_case_insensitive_and_static_pts_need_no_rtpmap() {
        let text = String::from_utf8(fixtures::SIPP.to_vec()).unwrap().replace(
            "RTP/AVP 0\r\na=rtpmap:0 PCMU/8000",
            "RTP/AVP 96 8\r\na=rtpmap:96 OPUS/48000/2",
        );
        let (_, neg) = create_answer(
            &parse(text.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!((neg.codec.kind, neg.codec.send_pt), (CodecKind::Opus, 96));
        let mut c = caps();
        c.codecs = vec![Codec::Pcma];
        let (_, neg) = answer(fixtures::OLD_HOLD_LF, &c);
        assert_eq!((neg.codec.kind, neg.codec.send_pt), (CodecKind::Pcma, 8));
    }

    #[test]
    fn telephone_event_must_match_the_codec_clock_rate() {
        // baresip offers telephone-event only at 8 kHz: none for Opus.
        let (ans, neg) = answer(fixtures::BARESIP, &caps());
        assert_eq!(neg.codec.kind, CodecKind::Opus);
        assert_eq!(neg.telephone_event, None);
        assert_eq!(ans.media[0].formats, vec!["96"]);
        // Linphone offers telephone-event/48000 as 101 (and 8000 as 100).
        let (_, neg) = answer(fixtures::LINPHONE_IPV6, &caps());
        assert_eq!(neg.telephone_event.map(|t| t.send_pt), Some(101));
        let mut c = caps();
        c.codecs = vec![Codec::Pcmu];
        let (_, neg) = answer(fixtures::LINPHONE_IPV6, &c);
        assert_eq!(neg.telephone_event.map(|t| t.send_pt), Some(100));
    }

    #[test]
    fn other_streams_are_rejected_in_place() {
        let (ans, neg) = answer(fixtures::LINPHONE_IPV6, &caps());
        assert_eq!(ans.media.len(), 2);
        assert_eq!(
            (ans.media[1].media.as_str(), ans.media[1].port),
            ("video", 0)
        );
        assert_eq!(neg.media_index, 0);
        assert_eq!(neg.remote.host, Host::Ip("2001:db8::7".parse().unwrap()));
        assert_eq!(neg.remote.rtcp_port, 7079);
        // DTLS-SRTP audio first: we skip it and take the plain RTP audio stream.
        let (ans, neg) = answer(fixtures::WEBRTC_GATEWAY, &caps());
        assert_eq!(neg.media_index, 1);
        assert_eq!(ans.media[0].port, 0);
        assert_eq!(ans.media[0].proto, "UDP/TLS/RTP/SAVPF");
        assert_eq!(ans.media[1].port, 40000);
        // The media-level c= wins over the (absent) session one.
        assert_eq!(neg.remote.host, Host::Ip("192.0.2.77".parse().unwrap()));
        let two_audio = format!(
            "{}m=audio 5000 RTP/AVP 0\r\n",
            String::from_utf8(fixtures::SIPP.to_vec()).unwrap()
        );
        let (ans, _) = create_answer(
            &parse(two_audio.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!(
            ans.media.iter().map(|m| m.port).collect::<Vec<_>>(),
            vec![40000, 0]
        );
    }

    #[test]
    fn media_level_connection_overrides_session_level() {
        let text = String::from_utf8(fixtures::SIPP.to_vec())
            .unwrap()
            .replace("a=rtpmap:0", "c=IN IP4 198.51.100.9\r\na=rtpmap:0");
        let (_, neg) = create_answer(
            &parse(text.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!(neg.remote.host, Host::Ip("198.51.100.9".parse().unwrap()));
        let no_c = String::from_utf8(fixtures::SIPP.to_vec())
            .unwrap()
            .replace("c=IN IP4 127.0.0.1\r\n", "");
        let e = create_answer(
            &parse(no_c.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        );
        assert_eq!(e.unwrap_err(), NegotiationError::MissingConnection);
    }

    #[test]
    fn failures_that_mean_488() {
        let e = create_answer(
            &parse(fixtures::ASTERISK_T38),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap_err();
        assert_eq!(e, NegotiationError::NoUsableAudioStream);
        let g729 = String::from_utf8(fixtures::SIPP.to_vec()).unwrap().replace(
            "RTP/AVP 0\r\na=rtpmap:0 PCMU/8000",
            "RTP/AVP 18\r\na=rtpmap:18 G729/8000",
        );
        let e = create_answer(
            &parse(g729.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap_err();
        assert_eq!(e, NegotiationError::NoCommonCodec);
        assert_eq!(e.sip_status(), 488);
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn sdes_answer_picks_first_supported_suite_and_echoes_tag() {
        let mut c = caps();
        c.srtp = keys();
        let (ans, neg) = answer(fixtures::FREESWITCH_SRTP, &c);
        let m = &ans.media[0];
        assert_eq!(m.proto, "RTP/SAVP");
        let crypto: Vec<String> = m
            .attributes
            .iter()
            .filter(|a| a.name() == "crypto")
            .map(|a| a.to_string())
            .collect();
        // Tag 1 is a suite we lack, tag 2 carries an MKI (unsupported): tag 3.
        assert_eq!(
            crypto,
            vec![
                "crypto:3 AES_CM_128_HMAC_SHA1_32 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"
            ]
        );
        let srtp = neg.srtp.unwrap();
        assert_eq!(
            (srtp.tag, srtp.suite),
            (3, CryptoSuite::AesCm128HmacSha1_32)
        );
        // Without the MKI, tag 2 (first common suite, lifetime 2^31 accepted) wins.
        let no_mki = String::from_utf8(fixtures::FREESWITCH_SRTP.to_vec())
            .unwrap()
            .replace("|2^31|1:1", "|2^31");
        let (_, neg) = create_answer(
            &parse(no_mki.as_bytes()),
            &c,
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        let srtp = neg.srtp.unwrap();
        assert_eq!(
            (srtp.tag, srtp.suite),
            (2, CryptoSuite::AesCm128HmacSha1_80)
        );
        assert_eq!(srtp.remote_key.lifetime.as_deref(), Some("2^31"));
        // Only a key for _80: the MKI line is all there is, and the error says why.
        c.srtp.truncate(1);
        let e = create_answer(
            &parse(fixtures::FREESWITCH_SRTP),
            &c,
            &origin(),
            Direction::SendRecv,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported SDES parameters (a=crypto:2 AES_CM_128_HMAC_SHA1_80: MKI is not supported)"
        );
        assert_eq!(e.sip_status(), 488);
        // No keys at all: cannot answer RTP/SAVP.
        let e = create_answer(
            &parse(fixtures::FREESWITCH_SRTP),
            &caps(),
            &origin(),
            Direction::SendRecv,
        );
        assert_eq!(e.unwrap_err(), NegotiationError::NoCommonCryptoSuite);
    }

    #[test]
    fn crypto_parameters_we_do_not_implement_are_refused() {
        let line = |kp: &str, params: &[&str]| Crypto {
            tag: 1,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key_params: kp
                .split(';')
                .map(|k| {
                    let mut parts = k.split('|');
                    let mut p = KeyParam::inline(parts.next().unwrap());
                    for x in parts {
                        if x.contains(':') {
                            p.mki = Some(x.into());
                        } else {
                            p.lifetime = Some(x.into());
                        }
                    }
                    p
                })
                .collect(),
            session_params: params.iter().map(|s| s.to_string()).collect(),
        };
        const K: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw";
        assert_eq!(usable_crypto(&line(K, &[])), Ok(()));
        assert_eq!(usable_crypto(&line(&format!("{K}|2^31"), &[])), Ok(()));
        assert_eq!(usable_crypto(&line(&format!("{K}|1048576"), &[])), Ok(()));
        let why = |kp: &str, params: &[&str]| usable_crypto(&line(kp, params)).unwrap_err();
        assert_eq!(
            why(&format!("{K}|2^10"), &[]),
            "key lifetime 2^10 is below 2^20 packets (no re-keying)"
        );
        assert_eq!(why(&format!("{K}|2^x"), &[]), "bad key lifetime \"2^x\"");
        assert_eq!(why(&format!("{K}|1:4"), &[]), "MKI is not supported");
        assert_eq!(
            why(&format!("{K};{K}"), &[]),
            "several keys (MKI) are not supported"
        );
        assert_eq!(
            why("MTIz", &[]),
            "the key is not 30 bytes of base64 (16 key + 14 salt)"
        );
        assert_eq!(
            why(K, &["KDR=1"]),
            "session parameter \"KDR=1\" is not supported"
        );
    }

    #[test]
    fn crypto_on_plain_rtp_is_used_when_we_have_keys() {
        let text = String::from_utf8(fixtures::FREESWITCH_SRTP.to_vec())
            .unwrap()
            .replace("RTP/SAVP", "RTP/AVP");
        let offer = parse(text.as_bytes());
        // No keys of ours (encryption off): plain RTP, the crypto lines ignored.
        let (ans, neg) = create_answer(&offer, &caps(), &origin(), Direction::SendRecv).unwrap();
        assert_eq!(ans.media[0].proto, "RTP/AVP");
        assert!(!ans.media[0].has_attribute("crypto"));
        assert_eq!(neg.srtp, None);
        // Keys: SRTP on RTP/AVP (best effort), required or not.
        let mut c = caps();
        c.srtp = keys();
        c.require_srtp = true;
        let (ans, neg) = create_answer(&offer, &c, &origin(), Direction::SendRecv).unwrap();
        assert_eq!(ans.media[0].proto, "RTP/AVP");
        assert!(ans.media[0].has_attribute("crypto"));
        assert_eq!(neg.srtp.map(|s| s.tag), Some(3));
        // No crypto at all and SRTP required: 488.
        let bare = text
            .lines()
            .filter(|l| !l.starts_with("a=crypto"))
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n";
        let e =
            create_answer(&parse(bare.as_bytes()), &c, &origin(), Direction::SendRecv).unwrap_err();
        assert_eq!(e, NegotiationError::SrtpRequired);
    }

    #[test]
    fn best_effort_keys_on_plain_rtp() {
        // Our offer: RTP/AVP with a=crypto.
        let mut ours = caps();
        ours.srtp = keys();
        ours.srtp_best_effort = true;
        let offer = create_offer(&ours, &origin(), Direction::SendRecv);
        let m = &offer.media[0];
        assert_eq!(m.proto, "RTP/AVP");
        assert!(m.has_attribute("crypto"));
        // A peer with keys answers with SRTP on RTP/AVP...
        let mut remote = LocalCaps::new("198.51.100.1".parse().unwrap(), 30000);
        remote.srtp = vec![SrtpKey {
            suite: CryptoSuite::AesCm128HmacSha1_80,
            key: KeyParam::inline("cmVtb3RlLWtleS1yZW1vdGUta2V5LXJlbW90ZS1r"),
        }];
        let (answer, theirs) =
            create_answer(&offer, &remote, &origin(), Direction::SendRecv).unwrap();
        assert_eq!(answer.media[0].proto, "RTP/AVP");
        assert_eq!(theirs.srtp.as_ref().map(|s| s.tag), Some(1));
        let neg = process_answer(&offer, &answer).unwrap();
        assert_eq!(
            neg.srtp.map(|s| s.suite),
            Some(CryptoSuite::AesCm128HmacSha1_80)
        );
        // ...a peer without keys with plain RTP, and the call is plain.
        let (plain, theirs) = create_answer(
            &offer,
            &LocalCaps::new("198.51.100.1".parse().unwrap(), 30000),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!(theirs.srtp, None);
        assert!(!plain.media[0].has_attribute("crypto"));
        assert_eq!(process_answer(&offer, &plain).unwrap().srtp, None);
        // Best-effort keys we cannot use (MKI only) get a plain answer unless SRTP is required.
        let mki = offer
            .to_string()
            .replace(
                "inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw",
                "inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw|1:4",
            )
            .replace("a=crypto:2", "a=x-crypto:2");
        let (_, theirs) = create_answer(
            &parse(mki.as_bytes()),
            &remote,
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!(theirs.srtp, None);
        remote.require_srtp = true;
        assert!(matches!(
            create_answer(
                &parse(mki.as_bytes()),
                &remote,
                &origin(),
                Direction::SendRecv
            ),
            Err(NegotiationError::UnsupportedCrypto(_))
        ));
    }

    #[test]
    fn answer_direction_table() {
        let table = [
            ("a=sendrecv", Direction::SendRecv, Direction::SendRecv),
            ("a=sendonly", Direction::SendRecv, Direction::RecvOnly),
            ("a=recvonly", Direction::SendRecv, Direction::SendOnly),
            ("a=inactive", Direction::SendRecv, Direction::Inactive),
            ("a=sendrecv", Direction::SendOnly, Direction::SendOnly),
            ("a=sendrecv", Direction::Inactive, Direction::Inactive),
            ("a=sendonly", Direction::SendOnly, Direction::Inactive),
        ];
        for (offered, wish, expected) in table {
            let offer = with_direction(fixtures::ASTERISK, offered);
            let (ans, neg) = create_answer(&offer, &caps(), &origin(), wish).unwrap();
            assert_eq!(
                ans.media[0].direction(),
                Some(expected),
                "{offered} {wish:?}"
            );
            assert_eq!(
                (neg.send, neg.receive),
                (expected.sends(), expected.receives())
            );
            assert_eq!(
                neg.remote_hold,
                !offered.ends_with("sendrecv") && offered != "a=recvonly"
            );
        }
    }

    #[test]
    fn session_level_direction_and_old_style_hold() {
        let text = String::from_utf8(fixtures::SIPP.to_vec())
            .unwrap()
            .replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        let (ans, _) = create_answer(
            &parse(text.as_bytes()),
            &caps(),
            &origin(),
            Direction::SendRecv,
        )
        .unwrap();
        assert_eq!(ans.media[0].direction(), Some(Direction::RecvOnly));
        // c=0.0.0.0 with no direction attribute: the remote holds us, we must not send.
        let (ans, neg) = answer(fixtures::OLD_HOLD_LF, &caps());
        assert_eq!(ans.media[0].direction(), Some(Direction::RecvOnly));
        assert!(!neg.send && neg.receive && neg.remote_hold);
    }

    #[test]
    fn rtcp_mux_only_when_both_want_it() {
        let (ans, neg) = answer(fixtures::BARESIP, &caps());
        assert!(!neg.rtcp_mux && !ans.media[0].has_attribute("rtcp-mux"));
        assert_eq!(neg.remote.rtcp_port, 10487);
        let mut c = caps();
        c.rtcp_mux = true;
        let (ans, neg) = answer(fixtures::BARESIP, &c);
        assert!(neg.rtcp_mux && ans.media[0].has_attribute("rtcp-mux"));
        assert_eq!(neg.remote.rtcp_port, neg.remote.rtp_port);
        let (ans, neg) = answer(fixtures::ASTERISK, &c);
        assert!(!neg.rtcp_mux && !ans.media[0].has_attribute("rtcp-mux"));
    }

    #[test]
    fn rtcp_port_stated_in_offers_and_non_mux_answers_only() {
        let mut c = caps();
        c.rtcp_mux = true;
        c.rtcp_port = Some(40001);
        let offer = create_offer(&c, &origin(), Direction::SendRecv);
        let text = offer.to_string();
        // The fallback port comes with the mux offer.
        assert!(
            text.contains("a=sendrecv\r\na=rtcp:40001\r\na=rtcp-mux\r\n"),
            "{text}"
        );
        assert_eq!(
            SessionDescription::parse(&offer.to_bytes()),
            Ok(offer.clone())
        );
        // A peer without mux (no a=rtcp of its own) reads our RTCP port from it.
        let mut remote = LocalCaps::new("198.51.100.1".parse().unwrap(), 30000);
        remote.codecs = vec![Codec::Pcmu];
        let (_, theirs) = create_answer(&offer, &remote, &origin(), Direction::SendRecv).unwrap();
        assert!(!theirs.rtcp_mux);
        assert_eq!(theirs.remote.rtcp_port, 40001);
        // Answering a non-mux offer (Asterisk's default): a=rtcp, no mux.
        let (ans, neg) = answer(fixtures::ASTERISK, &c);
        assert!(!neg.rtcp_mux);
        assert!(!ans.media[0].has_attribute("rtcp-mux"));
        assert!(ans.to_string().contains("a=rtcp:40001\r\n"), "{ans}");
        // Answering a mux offer: mux, and no RTCP port of ours.
        let (ans, neg) = answer(fixtures::BARESIP, &c);
        assert!(neg.rtcp_mux && ans.media[0].has_attribute("rtcp-mux"));
        assert!(!ans.media[0].has_attribute("rtcp"), "{ans}");
    }

    #[test]
    fn comfort_noise_with_g711_only() {
        let mut c = caps();
        c.comfort_noise = true;
        c.codecs = vec![Codec::Opus(OpusConfig::default()), Codec::Pcmu];
        let offer = create_offer(&c, &origin(), Direction::SendRecv);
        let text = offer.to_string();
        assert!(
            text.contains("m=audio 40000 RTP/AVP 111 0 101 110 13\r\n"),
            "{text}"
        );
        assert!(text.contains("a=rtpmap:13 CN/8000\r\n"), "{text}");
        // Opus only: no CN.
        c.codecs = vec![Codec::Opus(OpusConfig::default())];
        let text = create_offer(&c, &origin(), Direction::SendRecv).to_string();
        assert!(!text.contains("CN/8000"), "{text}");

        // A G.711 offer with CN as static 13 (rtpmap optional), or mapped to another number.
        let with_cn = |formats: &str, extra: &str| {
            format!(
                "v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\n\
                 t=0 0\r\nm=audio 14590 RTP/AVP {formats}\r\na=rtpmap:0 PCMU/8000\r\n\
                 a=rtpmap:101 telephone-event/8000\r\n{extra}a=ptime:20\r\na=sendrecv\r\n"
            )
        };
        c.codecs = vec![Codec::Pcma, Codec::Pcmu];
        let (ans, neg) = answer(with_cn("0 8 101 13", "").as_bytes(), &c);
        assert_eq!(neg.codec.kind, CodecKind::Pcma);
        assert_eq!(neg.comfort_noise_pt, Some(13));
        assert_eq!(ans.media[0].formats, vec!["8", "101", "13"]);
        let (_, neg) = answer(
            with_cn("0 8 101 13", "a=rtpmap:13 CN/8000\r\n").as_bytes(),
            &c,
        );
        assert_eq!(neg.comfort_noise_pt, Some(13));
        assert!(ans.to_string().contains("a=rtpmap:13 CN/8000\r\n"));
        let (_, neg) = answer(
            with_cn("0 101 98", "a=rtpmap:98 CN/8000\r\n").as_bytes(),
            &c,
        );
        assert_eq!(neg.comfort_noise_pt, Some(98));
        // Not offered, not wanted, or only CN at another rate: none.
        assert_eq!(answer(fixtures::ASTERISK, &c).1.comfort_noise_pt, None);
        let (ans, neg) = answer(with_cn("0 8 101 13", "").as_bytes(), &caps());
        assert_eq!(neg.comfort_noise_pt, None);
        assert!(!ans.media[0].formats.contains(&"13".to_string()));
        let (_, neg) = answer(
            with_cn("0 101 98", "a=rtpmap:98 CN/16000\r\n").as_bytes(),
            &c,
        );
        assert_eq!(neg.comfort_noise_pt, None);

        // Our offer, an answer with CN: agreed; without: not.
        let offer = create_offer(&c, &origin(), Direction::SendRecv);
        let mut remote = LocalCaps::new("198.51.100.1".parse().unwrap(), 30000);
        remote.codecs = vec![Codec::Pcmu];
        remote.comfort_noise = true;
        let theirs = remote_answer(&offer, &remote, Direction::SendRecv);
        assert_eq!(
            process_answer(&offer, &theirs).unwrap().comfort_noise_pt,
            Some(13)
        );
        remote.comfort_noise = false;
        let theirs = remote_answer(&offer, &remote, Direction::SendRecv);
        assert_eq!(
            process_answer(&offer, &theirs).unwrap().comfort_noise_pt,
            None
        );
    }

    /// The remote side's caps, answering our offer.
    fn remote_answer(
        offer: &SessionDescription,
        remote: &LocalCaps,
        wish: Direction,
    ) -> SessionDescription {
        let o = Origin::new(9, 9, remote.address);
        create_answer(offer, remote, &o, wish).unwrap().0
    }

    #[test]
    fn process_answer_from_another_stack() {
        let mut ours = caps();
        ours.rtcp_mux = true;
        let offer = create_offer(&ours, &origin(), Direction::SendRecv);
        let mut remote = LocalCaps::new("198.51.100.1".parse().unwrap(), 30000);
        remote.codecs = vec![Codec::Pcma];
        let answer = remote_answer(&offer, &remote, Direction::SendRecv);
        let neg = process_answer(&offer, &answer).unwrap();
        assert_eq!(neg.codec.kind, CodecKind::Pcma);
        assert_eq!(
            neg.telephone_event,
            Some(TelephoneEventPts {
                send_pt: 101,
                recv_pt: 101
            })
        );
        assert_eq!(neg.remote.host, Host::Ip("198.51.100.1".parse().unwrap()));
        assert_eq!((neg.remote.rtp_port, neg.remote.rtcp_port), (30000, 30001));
        assert!(!neg.rtcp_mux);
        assert!(neg.send && neg.receive);

        // An answerer that renumbers Opus: we send with its number, receive with ours.
        let text = answer_text_for_opus(&offer);
        let neg = process_answer(&offer, &parse(text.as_bytes())).unwrap();
        assert_eq!(
            (neg.codec.kind, neg.codec.send_pt, neg.codec.recv_pt),
            (CodecKind::Opus, 96, 111)
        );
        assert_eq!(
            neg.telephone_event,
            Some(TelephoneEventPts {
                send_pt: 97,
                recv_pt: 110
            })
        );
        assert_eq!(neg.ptime, 40);
    }

    fn answer_text_for_opus(_offer: &SessionDescription) -> String {
        "v=0\r\no=- 5 5 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:97 telephone-event/48000\r\na=ptime:40\r\na=recvonly\r\n"
            .to_string()
    }

    #[test]
    fn process_answer_directions_and_hold() {
        let offer = create_offer(&caps(), &origin(), Direction::SendRecv);
        let neg = process_answer(&offer, &parse(answer_text_for_opus(&offer).as_bytes())).unwrap();
        // Answer recvonly: we send, we do not receive.
        assert!(neg.send && !neg.receive);
        assert_eq!(neg.direction, Direction::SendOnly);
        let held = answer_text_for_opus(&offer).replace("a=recvonly", "a=sendonly");
        let neg = process_answer(&offer, &parse(held.as_bytes())).unwrap();
        assert!(!neg.send && neg.receive && neg.remote_hold);
        let old = answer_text_for_opus(&offer)
            .replace("c=IN IP4 198.51.100.1", "c=IN IP4 0.0.0.0")
            .replace("a=recvonly", "a=sendrecv");
        let neg = process_answer(&offer, &parse(old.as_bytes())).unwrap();
        assert!(!neg.send && neg.remote_hold);
    }

    #[test]
    fn process_answer_rejects_bad_answers() {
        let offer = create_offer(&caps(), &origin(), Direction::SendRecv);
        let good = answer_text_for_opus(&offer);
        let two = format!("{good}m=video 0 RTP/AVP 96\r\n");
        assert_eq!(
            process_answer(&offer, &parse(two.as_bytes())).unwrap_err(),
            NegotiationError::MediaCountMismatch {
                offer: 1,
                answer: 2
            }
        );
        let zero = good.replace("m=audio 30000", "m=audio 0");
        assert_eq!(
            process_answer(&offer, &parse(zero.as_bytes())).unwrap_err(),
            NegotiationError::StreamRejected
        );
        let g722 = good.replace("opus/48000/2", "G722/8000");
        assert_eq!(
            process_answer(&offer, &parse(g722.as_bytes())).unwrap_err(),
            NegotiationError::NoCommonCodec
        );
        let savp = good.replace("RTP/AVP", "RTP/SAVP");
        assert!(matches!(
            process_answer(&offer, &parse(savp.as_bytes())).unwrap_err(),
            NegotiationError::InvalidAnswer(_)
        ));
    }

    #[test]
    fn process_answer_srtp() {
        let mut ours = caps();
        ours.srtp = keys();
        let offer = create_offer(&ours, &origin(), Direction::SendRecv);
        let mut remote = LocalCaps::new("198.51.100.1".parse().unwrap(), 30000);
        remote.srtp = vec![SrtpKey {
            suite: CryptoSuite::AesCm128HmacSha1_32,
            key: KeyParam::inline("cmVtb3RlLWtleS1yZW1vdGUta2V5LXJlbW90ZS1r"),
        }];
        let answer = remote_answer(&offer, &remote, Direction::SendRecv);
        let srtp = process_answer(&offer, &answer).unwrap().srtp.unwrap();
        assert_eq!(
            (srtp.tag, srtp.suite),
            (2, CryptoSuite::AesCm128HmacSha1_32)
        );
        assert_eq!(srtp.local_key, keys()[1].key);
        assert_eq!(
            srtp.remote_key.key_salt,
            "cmVtb3RlLWtleS1yZW1vdGUta2V5LXJlbW90ZS1r"
        );
        // A tag we never offered is a broken answer.
        let forged = answer.to_string().replace("a=crypto:2 ", "a=crypto:7 ");
        assert!(matches!(
            process_answer(&offer, &parse(forged.as_bytes())).unwrap_err(),
            NegotiationError::InvalidAnswer(_)
        ));
        let missing = answer.to_string().replace("a=crypto:2 ", "a=x-crypto:2 ");
        assert!(process_answer(&offer, &parse(missing.as_bytes())).is_err());
    }
}
