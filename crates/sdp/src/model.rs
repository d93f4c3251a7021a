//! The SDP data model (RFC 8866) and its serializer (`Display`, always CRLF).
//!
//! Fields the softphone negotiates on are typed; everything else is kept verbatim so that a
//! parsed description serializes back without losing information.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`
    pub origin: Origin,
    /// `s=` (verbatim; may be `-` or a single space)
    pub session_name: String,
    /// Session-level `i=`, `u=`, `e=`, `p=`, `z=`, `k=` and unknown lines, in input order.
    pub other_lines: Vec<OtherLine>,
    /// Session-level `c=`
    pub connection: Option<Connection>,
    /// Session-level `b=`
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines (with their `r=` lines). Empty only for input that omitted `t=`.
    pub timing: Vec<Timing>,
    /// Session-level `a=`
    pub attributes: Vec<Attribute>,
    /// `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: some stacks send ids that are not plain integers.
    pub session_id: String,
    /// Must grow whenever the description changes (RFC 3264 section 8).
    pub session_version: u64,
    pub net_type: String,
    pub addr_type: AddrType,
    pub address: String,
}

impl Origin {
    /// `o=- <session_id> <version> IN IP4|IP6 <ip>`
    pub fn new(session_id: u64, session_version: u64, ip: IpAddr) -> Self {
        Origin {
            username: "-".to_string(),
            session_id: session_id.to_string(),
            session_version,
            net_type: "IN".to_string(),
            addr_type: AddrType::of(&ip),
            address: ip.to_string(),
        }
    }
}

/// `IP4`, `IP6` or another address type kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrType {
    Ip4,
    Ip6,
    Other(String),
}

impl AddrType {
    /// The address type matching an IP address.
    pub fn of(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "IP4" => AddrType::Ip4,
            "IP6" => AddrType::Ip6,
            other => AddrType::Other(other.to_string()),
        }
    }
}

impl Display for AddrType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AddrType::Ip4 => f.write_str("IP4"),
            AddrType::Ip6 => f.write_str("IP6"),
            AddrType::Other(s) => f.write_str(s),
        }
    }
}

/// `c=<nettype> <addrtype> <connection-address>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: AddrType,
    /// Verbatim: an IP literal, a host name, or a multicast address with `/ttl`.
    pub address: String,
}

impl Connection {
    /// An `IN` connection line for an IP address.
    pub fn for_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".to_string(),
            addr_type: AddrType::of(&ip),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, if it is an IP literal (multicast `/ttl` suffixes are dropped).
    pub fn ip(&self) -> Option<IpAddr> {
        let host = self.address.split('/').next().unwrap_or_default();
        host.parse().ok()
    }

    /// RFC 2543 hold: the address is `0.0.0.0` (or `::` for IPv6).
    pub fn is_hold_address(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// `b=<bwtype>:<bandwidth>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bw_type: String,
    pub value: u64,
}

/// `t=<start> <stop>` plus its `r=` lines (verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    pub repeats: Vec<String>,
}

/// A line kept verbatim, e.g. `i=` or `k=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    pub kind: char,
    pub value: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `image`, ... (verbatim)
    pub media: String,
    pub port: u16,
    /// The `/<number of ports>` suffix, if present.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `udptl`, ...
    pub proto: String,
    /// Formats as written; for RTP profiles these are payload type numbers.
    pub formats: Vec<String>,
    /// `i=`, `k=` and unknown lines in this section.
    pub other_lines: Vec<OtherLine>,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// Whether the proto is an RTP profile, whose formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p == "RTP")
    }

    /// The formats that are payload type numbers, in m= order.
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// The `a=rtpmap` for a payload type, if any.
    pub fn rtpmap(&self, pt: u8) -> Option<&Rtpmap> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Rtpmap(m) if m.payload_type == pt => Some(m),
            _ => None,
        })
    }

    /// The `a=fmtp` parameters for a payload type, if any.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(m) if m.payload_type == pt => Some(m.params.as_str()),
            _ => None,
        })
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        find_direction(&self.attributes)
    }

    /// Whether `a=<name>` (any value) is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name() == name)
    }
}

pub(crate) fn find_direction(attrs: &[Attribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| match a {
        Attribute::Direction(d) => Some(*d),
        _ => None,
    })
}

/// Media direction attributes (RFC 3264 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Build from "do we send" and "do we receive".
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the side that wrote this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side that wrote this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Self> {
        match s {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <params>` (params verbatim)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub payload_type: u8,
    pub params: String,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (RFC 4568 SDES)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    /// Suite name as written, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// At least one `inline:` key parameter (several only with MKIs).
    pub key_params: Vec<KeyParam>,
    /// Session parameters verbatim, e.g. `UNENCRYPTED_SRTCP`.
    pub session_params: Vec<String>,
}

/// One `inline:<key||salt>[|<lifetime>][|<MKI>:<length>]` key parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// Base64 key and salt; opaque to this crate.
    pub key_salt: String,
    /// e.g. `2^31`, verbatim.
    pub lifetime: Option<String>,
    /// e.g. `1:4`, verbatim.
    pub mki: Option<String>,
}

impl KeyParam {
    /// A key parameter with only the key and salt.
    pub fn inline(key_salt: impl Into<String>) -> Self {
        KeyParam {
            key_salt: key_salt.into(),
            lifetime: None,
            mki: None,
        }
    }
}

/// An `a=` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    Rtpmap(Rtpmap),
    Fmtp(Fmtp),
    Ptime(u32),
    MaxPtime(u32),
    Direction(Direction),
    Rtcp(RtcpAttr),
    RtcpMux,
    Crypto(Crypto),
    /// Any other attribute, verbatim: `a=<name>` or `a=<name>:<value>`.
    Other {
        name: String,
        value: Option<String>,
    },
}

impl Attribute {
    /// The attribute name (the part before `:`).
    pub fn name(&self) -> &str {
        match self {
            Attribute::Rtpmap(_) => "rtpmap",
            Attribute::Fmtp(_) => "fmtp",
            Attribute::Ptime(_) => "ptime",
            Attribute::MaxPtime(_) => "maxptime",
            Attribute::Direction(d) => d.as_str(),
            Attribute::Rtcp(_) => "rtcp",
            Attribute::RtcpMux => "rtcp-mux",
            Attribute::Crypto(_) => "crypto",
            Attribute::Other { name, .. } => name,
        }
    }
}

impl Display for Connection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl Display for KeyParam {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", self.key_salt)?;
        if let Some(l) = &self.lifetime {
            write!(f, "|{l}")?;
        }
        if let Some(m) = &self.mki {
            write!(f, "|{m}")?;
        }
        Ok(())
    }
}

impl Display for Attribute {
    /// The text after `a=`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Rtpmap(m) => {
                write!(
                    f,
                    "rtpmap:{} {}/{}",
                    m.payload_type, m.encoding, m.clock_rate
                )?;
                if let Some(c) = m.channels {
                    write!(f, "/{c}")?;
                }
                Ok(())
            }
            Attribute::Fmtp(m) => write!(f, "fmtp:{} {}", m.payload_type, m.params),
            Attribute::Ptime(p) => write!(f, "ptime:{p}"),
            Attribute::MaxPtime(p) => write!(f, "maxptime:{p}"),
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::Rtcp(r) => {
                write!(f, "rtcp:{}", r.port)?;
                if let Some(c) = &r.connection {
                    write!(f, " {c}")?;
                }
                Ok(())
            }
            Attribute::RtcpMux => f.write_str("rtcp-mux"),
            Attribute::Crypto(c) => {
                write!(f, "crypto:{} {} ", c.tag, c.suite)?;
                for (i, k) in c.key_params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(";")?;
                    }
                    write!(f, "{k}")?;
                }
                for s in &c.session_params {
                    write!(f, " {s}")?;
                }
                Ok(())
            }
            Attribute::Other {
                name,
                value: Some(v),
            } => write!(f, "{name}:{v}"),
            Attribute::Other { name, value: None } => f.write_str(name),
        }
    }
}

/// Where a session-level line goes in RFC 8866 order (v o s i u e p c b t r z k a m).
fn session_rank(kind: char) -> u8 {
    match kind {
        'i' => 0,
        'u' => 1,
        'e' => 2,
        'p' => 3,
        // c and b sit between p and t, t/r between b and z.
        'z' => 5,
        'k' => 6,
        _ => 7,
    }
}

fn write_other(
    f: &mut Formatter<'_>,
    lines: &[OtherLine],
    keep: impl Fn(u8) -> bool,
) -> fmt::Result {
    for l in lines.iter().filter(|l| keep(session_rank(l.kind))) {
        write!(f, "{}={}\r\n", l.kind, l.value)?;
    }
    Ok(())
}

impl Display for SessionDescription {
    /// The wire form: RFC 8866 line order, CRLF line ends.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        f.write_str("v=0\r\n")?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        write_other(f, &self.other_lines, |r| r <= 3)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={}:{}\r\n", b.bw_type, b.value)?;
        }
        for t in &self.timing {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        write_other(f, &self.other_lines, |r| r > 3)?;
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.port_count {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            f.write_str("\r\n")?;
            // Media level order is i c b k a; `i` first, other kinds after b.
            write_other(f, &m.other_lines, |r| r == 0)?;
            if let Some(c) = &m.connection {
                write!(f, "c={c}\r\n")?;
            }
            for b in &m.bandwidths {
                write!(f, "b={}:{}\r\n", b.bw_type, b.value)?;
            }
            write_other(f, &m.other_lines, |r| r != 0)?;
            for a in &m.attributes {
                write!(f, "a={a}\r\n")?;
            }
        }
        Ok(())
    }
}

impl SessionDescription {
    /// The wire form as bytes (CRLF line ends).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        find_direction(&self.attributes)
    }
}
