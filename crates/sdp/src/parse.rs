//! The SDP parser: bytes in, [`SessionDescription`] or a [`ParseError`] with a line number out.
//!
//! Lenient where real stacks differ (LF or CRLF, missing `t=`, unknown lines and attributes kept),
//! strict where the softphone relies on a value (ports, payload types, rtpmap, crypto).

use crate::error::{ParseError, ParseErrorKind as K};
use crate::model::*;

/// Largest description accepted; SIP bodies are a few KiB, this leaves room for big video offers.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Most lines accepted.
pub const MAX_LINES: usize = 4096;
/// Most `m=` sections accepted.
pub const MAX_MEDIA: usize = 64;
/// Most formats on one `m=` line (RTP has only 128 payload types).
pub const MAX_FORMATS: usize = 128;

impl SessionDescription {
    /// Parse a description from raw bytes (a SIP body).
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        parse(input)
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse(s.as_bytes())
    }
}

fn whole(kind: K) -> ParseError {
    ParseError { line: None, kind }
}

fn parse(input: &[u8]) -> Result<SessionDescription, ParseError> {
    if input.len() > MAX_SDP_BYTES {
        return Err(whole(K::TooLarge {
            size: input.len(),
            max: MAX_SDP_BYTES,
        }));
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        let line = input[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ParseError {
            line: Some(line),
            kind: K::InvalidUtf8,
        }
    })?;
    // Trailing empty lines are common (a final CRLF, or SIP stacks adding one); others are not.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let last = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .ok_or(whole(K::Empty))?;
    if last + 1 > MAX_LINES {
        return Err(whole(K::TooManyLines { max: MAX_LINES }));
    }
    let mut p = Parser::default();
    for (i, raw) in lines[..=last].iter().enumerate() {
        let no = i + 1;
        p.line(no, raw).map_err(|kind| ParseError {
            line: Some(no),
            kind,
        })?;
    }
    p.finish(last + 1)
}

#[derive(Default)]
struct Parser {
    seen_version: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    session: Section,
    timing: Vec<Timing>,
    media: Vec<MediaDescription>,
}

#[derive(Default)]
struct Section {
    other: Vec<OtherLine>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    attributes: Vec<Attribute>,
}

impl Parser {
    fn line(&mut self, no: usize, raw: &str) -> Result<(), K> {
        let bytes = raw.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
            return Err(if no == 1 {
                K::MissingVersion
            } else {
                K::MalformedLine(clip(raw))
            });
        }
        let kind = char::from(bytes[0]);
        let value = &raw[2..];
        if no == 1 {
            if kind != 'v' {
                return Err(K::MissingVersion);
            }
            if value.trim() != "0" {
                return Err(K::UnsupportedVersion(clip(value)));
            }
            self.seen_version = true;
            return Ok(());
        }
        match kind {
            'v' => Err(K::DuplicateLine('v')),
            'o' if self.origin.is_some() => Err(K::DuplicateLine('o')),
            'o' => {
                self.origin = Some(parse_origin(value)?);
                Ok(())
            }
            // o= and s= open the description; anything else before them is out of place.
            _ if self.origin.is_none() => Err(K::MissingLine('o')),
            's' if self.session_name.is_some() => Err(K::DuplicateLine('s')),
            's' => {
                self.session_name = Some(value.to_string());
                Ok(())
            }
            _ if self.session_name.is_none() => Err(K::MissingLine('s')),
            'm' => {
                if self.media.len() >= MAX_MEDIA {
                    return Err(K::TooManyMedia { max: MAX_MEDIA });
                }
                self.media.push(parse_media_line(value)?);
                Ok(())
            }
            't' | 'r' | 'z' | 'u' | 'e' | 'p' if !self.media.is_empty() => {
                Err(K::UnexpectedLine(kind))
            }
            't' => {
                self.timing.push(parse_timing(value)?);
                Ok(())
            }
            'r' => match self.timing.last_mut() {
                Some(t) => {
                    t.repeats.push(value.to_string());
                    Ok(())
                }
                None => Err(K::UnexpectedLine('r')),
            },
            'c' => {
                let c = parse_connection(value)?;
                let slot = match self.media.last_mut() {
                    Some(m) => &mut m.connection,
                    None => &mut self.session.connection,
                };
                if slot.is_some() {
                    return Err(K::DuplicateLine('c'));
                }
                *slot = Some(c);
                Ok(())
            }
            'b' => {
                let b = parse_bandwidth(value)?;
                match self.media.last_mut() {
                    Some(m) => m.bandwidths.push(b),
                    None => self.session.bandwidths.push(b),
                }
                Ok(())
            }
            'a' => {
                let a = match self.media.last_mut() {
                    Some(m) => {
                        let a = parse_attribute(value, true)?;
                        check_pt(&a, m)?;
                        m.attributes.push(a);
                        return Ok(());
                    }
                    None => parse_attribute(value, false)?,
                };
                self.session.attributes.push(a);
                Ok(())
            }
            _ => {
                let l = OtherLine {
                    kind,
                    value: value.to_string(),
                };
                match self.media.last_mut() {
                    Some(m) => m.other_lines.push(l),
                    None => self.session.other.push(l),
                }
                Ok(())
            }
        }
    }

    fn finish(self, lines: usize) -> Result<SessionDescription, ParseError> {
        let missing = |c| ParseError {
            line: Some(lines),
            kind: K::MissingLine(c),
        };
        if !self.seen_version {
            return Err(ParseError {
                line: Some(1),
                kind: K::MissingVersion,
            });
        }
        let origin = self.origin.ok_or_else(|| missing('o'))?;
        let session_name = self.session_name.ok_or_else(|| missing('s'))?;
        let mut other = self.session.other;
        // The serializer writes i/u/e/p before c= and the rest after t=; keep that order here
        // so parse(serialize(x)) == x.
        other.sort_by_key(|l| !matches!(l.kind, 'i' | 'u' | 'e' | 'p'));
        let mut media = self.media;
        for m in &mut media {
            m.other_lines.sort_by_key(|l| l.kind != 'i');
        }
        Ok(SessionDescription {
            origin,
            session_name,
            other_lines: other,
            connection: self.session.connection,
            bandwidths: self.session.bandwidths,
            timing: self.timing,
            attributes: self.session.attributes,
            media,
        })
    }
}

/// Keep error messages short when the offending text is huge.
fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn fields(value: &str) -> Vec<&str> {
    value.split_ascii_whitespace().collect()
}

fn parse_origin(value: &str) -> Result<Origin, K> {
    let f = fields(value);
    let [username, session_id, version, net_type, addr_type, address] = f[..] else {
        return Err(K::BadOrigin(clip(value)));
    };
    let session_version = version.parse().map_err(|_| K::BadOrigin(clip(value)))?;
    Ok(Origin {
        username: username.to_string(),
        session_id: session_id.to_string(),
        session_version,
        net_type: net_type.to_string(),
        addr_type: AddrType::parse(addr_type),
        address: address.to_string(),
    })
}

fn parse_connection(value: &str) -> Result<Connection, K> {
    let f = fields(value);
    let [net_type, addr_type, address] = f[..] else {
        return Err(K::BadConnection(clip(value)));
    };
    let addr_type = AddrType::parse(addr_type);
    let host = address.split('/').next().unwrap_or_default();
    // An IP literal must match its declared family; host names are allowed as they are.
    let ok = match (&addr_type, host.parse::<std::net::IpAddr>()) {
        (AddrType::Ip4, Ok(ip)) => ip.is_ipv4(),
        (AddrType::Ip6, Ok(ip)) => ip.is_ipv6(),
        (AddrType::Ip4, Err(_)) => host.chars().any(|c| c.is_ascii_alphabetic()),
        (AddrType::Ip6, Err(_)) => !host.contains(':') && !host.is_empty(),
        (AddrType::Other(_), _) => true,
    };
    if !ok {
        return Err(K::BadConnection(clip(value)));
    }
    Ok(Connection {
        net_type: net_type.to_string(),
        addr_type,
        address: address.to_string(),
    })
}

fn parse_bandwidth(value: &str) -> Result<Bandwidth, K> {
    let (t, v) = value
        .split_once(':')
        .ok_or_else(|| K::BadBandwidth(clip(value)))?;
    let v = v.trim().parse().map_err(|_| K::BadBandwidth(clip(value)))?;
    if t.is_empty() || t.contains(char::is_whitespace) {
        return Err(K::BadBandwidth(clip(value)));
    }
    Ok(Bandwidth {
        bw_type: t.to_string(),
        value: v,
    })
}

fn parse_timing(value: &str) -> Result<Timing, K> {
    let f = fields(value);
    let [start, stop] = f[..] else {
        return Err(K::BadTiming(clip(value)));
    };
    let bad = |_| K::BadTiming(clip(value));
    Ok(Timing {
        start: start.parse().map_err(bad)?,
        stop: stop.parse().map_err(bad)?,
        repeats: vec![],
    })
}

fn parse_port(s: &str) -> Result<u16, K> {
    // u16::from_str accepts a leading '+', which is not SDP.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(K::BadPort(clip(s)));
    }
    s.parse().map_err(|_| K::BadPort(clip(s)))
}

fn parse_pt(s: &str) -> Result<u8, K> {
    match s.parse::<u8>() {
        Ok(pt) if pt <= 127 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(pt),
        _ => Err(K::BadPayloadType(clip(s))),
    }
}

fn parse_media_line(value: &str) -> Result<MediaDescription, K> {
    let f = fields(value);
    if f.len() < 4 {
        return Err(K::BadMedia(format!(
            "expected `<media> <port> <proto> <fmt> ...`, got {:?}",
            clip(value)
        )));
    }
    let (port, port_count) = match f[1].split_once('/') {
        Some((p, n)) => (parse_port(p)?, Some(parse_port(n)?)),
        None => (parse_port(f[1])?, None),
    };
    let formats: Vec<String> = f[3..].iter().map(|s| s.to_string()).collect();
    if formats.len() > MAX_FORMATS {
        return Err(K::TooManyFormats { max: MAX_FORMATS });
    }
    let m = MediaDescription {
        media: f[0].to_string(),
        port,
        port_count,
        proto: f[2].to_string(),
        formats,
        other_lines: vec![],
        connection: None,
        bandwidths: vec![],
        attributes: vec![],
    };
    if m.is_rtp() {
        for fmt in &m.formats {
            parse_pt(fmt)?;
        }
    }
    Ok(m)
}

fn bad_attr(name: &'static str, reason: impl Into<String>) -> K {
    K::BadAttribute {
        name,
        reason: reason.into(),
    }
}

/// Parse the text after `a=`. `media_level` enables the attributes only valid inside `m=`.
fn parse_attribute(value: &str, media_level: bool) -> Result<Attribute, K> {
    let (name, arg) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if let (Some(d), None) = (Direction::from_name(name), arg) {
        return Ok(Attribute::Direction(d));
    }
    let other = || Attribute::Other {
        name: name.to_string(),
        value: arg.map(str::to_string),
    };
    if !media_level {
        return Ok(other());
    }
    Ok(match (name, arg) {
        ("rtpmap", Some(v)) => Attribute::Rtpmap(parse_rtpmap(v)?),
        ("fmtp", Some(v)) => {
            let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
            match parse_pt(pt) {
                Ok(payload_type) => Attribute::Fmtp(Fmtp {
                    payload_type,
                    params: params.to_string(),
                }),
                // Non-RTP media (e.g. `a=fmtp:t38 ...`) use formats that are not numbers.
                Err(_) if !pt.bytes().all(|b| b.is_ascii_digit()) => other(),
                Err(_) => return Err(bad_attr("fmtp", format!("bad payload type {pt:?}"))),
            }
        }
        ("ptime", Some(v)) => Attribute::Ptime(parse_ms("ptime", v)?),
        ("maxptime", Some(v)) => Attribute::MaxPtime(parse_ms("maxptime", v)?),
        ("rtcp", Some(v)) => Attribute::Rtcp(parse_rtcp(v)?),
        ("rtcp-mux", None) => Attribute::RtcpMux,
        ("crypto", Some(v)) => Attribute::Crypto(parse_crypto(v)?),
        _ => other(),
    })
}

fn parse_ms(name: &'static str, v: &str) -> Result<u32, K> {
    match v.trim().parse::<u32>() {
        Ok(ms) if (1..=10_000).contains(&ms) => Ok(ms),
        _ => Err(bad_attr(
            name,
            format!("{:?} is not a packet time in ms", clip(v)),
        )),
    }
}

fn parse_rtpmap(v: &str) -> Result<Rtpmap, K> {
    let bad = |why: &str| bad_attr("rtpmap", format!("{why} in {:?}", clip(v)));
    let (pt, enc) = v.split_once(' ').ok_or_else(|| bad("missing encoding"))?;
    let payload_type = parse_pt(pt).map_err(|_| bad("bad payload type"))?;
    let mut parts = enc.trim().split('/');
    let encoding = parts.next().unwrap_or_default();
    if encoding.is_empty() {
        return Err(bad("empty encoding name"));
    }
    let clock_rate = parts
        .next()
        .and_then(|r| r.parse::<u32>().ok())
        .filter(|r| *r > 0)
        .ok_or_else(|| bad("bad clock rate"))?;
    let channels = match parts.next() {
        Some(c) => Some(
            c.parse::<u16>()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| bad("bad channels"))?,
        ),
        None => None,
    };
    if parts.next().is_some() {
        return Err(bad("too many fields"));
    }
    Ok(Rtpmap {
        payload_type,
        encoding: encoding.to_string(),
        clock_rate,
        channels,
    })
}

fn parse_rtcp(v: &str) -> Result<RtcpAttr, K> {
    let f = fields(v);
    let bad = || bad_attr("rtcp", format!("{:?}", clip(v)));
    match f[..] {
        [port] => Ok(RtcpAttr {
            port: parse_port(port).map_err(|_| bad())?,
            connection: None,
        }),
        [port, _, _, _] => {
            let port = parse_port(port).map_err(|_| bad())?;
            let rest = f[1..].join(" ");
            let connection = Some(parse_connection(&rest).map_err(|_| bad())?);
            Ok(RtcpAttr { port, connection })
        }
        _ => Err(bad()),
    }
}

fn parse_crypto(v: &str) -> Result<Crypto, K> {
    let f = fields(v);
    let bad = |why: &str| bad_attr("crypto", format!("{why} in {:?}", clip(v)));
    if f.len() < 3 {
        return Err(bad("expected `<tag> <suite> inline:<key>`"));
    }
    // RFC 4568: the tag is 1-9 digits.
    let tag = match f[0].parse::<u32>() {
        Ok(t) if f[0].len() <= 9 && f[0].bytes().all(|b| b.is_ascii_digit()) => t,
        _ => return Err(bad("bad tag")),
    };
    let mut key_params = Vec::new();
    for kp in f[2].split(';') {
        let rest = kp
            .strip_prefix("inline:")
            .ok_or_else(|| bad("key method is not inline"))?;
        let mut parts = rest.split('|');
        let key_salt = parts.next().unwrap_or_default();
        if key_salt.is_empty() {
            return Err(bad("empty key"));
        }
        let mut param = KeyParam::inline(key_salt);
        for p in parts {
            // The MKI part is `<value>:<length>`; the lifetime never has a colon.
            let is_mki = p.contains(':');
            // Order is lifetime then MKI, each at most once.
            if p.is_empty() || param.mki.is_some() || (!is_mki && param.lifetime.is_some()) {
                return Err(bad("bad lifetime/MKI"));
            }
            let slot = if is_mki {
                &mut param.mki
            } else {
                &mut param.lifetime
            };
            *slot = Some(p.to_string());
        }
        key_params.push(param);
    }
    Ok(Crypto {
        tag,
        suite: f[1].to_string(),
        key_params,
        session_params: f[3..].iter().map(|s| s.to_string()).collect(),
    })
}

/// rtpmap and fmtp must describe a payload type listed on their m= line.
fn check_pt(a: &Attribute, m: &MediaDescription) -> Result<(), K> {
    let (attr, pt) = match a {
        Attribute::Rtpmap(r) => ("rtpmap", r.payload_type),
        Attribute::Fmtp(f) => ("fmtp", f.payload_type),
        _ => return Ok(()),
    };
    if m.formats.iter().any(|f| f.parse::<u8>().ok() == Some(pt)) {
        Ok(())
    } else {
        Err(K::UnknownPayloadType { attr, pt })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::fixtures::{self, ALL};

    fn err(input: &str) -> ParseError {
        match SessionDescription::parse(input.as_bytes()) {
            Ok(s) => panic!("parsed but should not: {s:?}"),
            Err(e) => e,
        }
    }

    const MINIMAL: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

    #[test]
    fn every_fixture_round_trips() {
        for (name, bytes) in ALL {
            let sdp = fixtures::parse(bytes);
            let wire = sdp.to_string();
            assert_eq!(
                SessionDescription::parse(wire.as_bytes()),
                Ok(sdp.clone()),
                "{name}"
            );
            // Only CRLF line ends on output.
            assert_eq!(
                wire.matches('\n').count(),
                wire.matches("\r\n").count(),
                "{name}"
            );
        }
    }

    #[test]
    fn canonical_fixtures_serialize_byte_for_byte() {
        for (name, bytes) in ALL {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            // LF fixtures come back with CRLF, nothing else changes.
            let expected = if text.contains("\r\n") {
                text
            } else {
                text.replace('\n', "\r\n")
            };
            assert_eq!(fixtures::parse(bytes).to_string(), expected, "{name}");
        }
    }

    #[test]
    fn asterisk_offer_fields() {
        let sdp = fixtures::parse(fixtures::ASTERISK);
        assert_eq!(sdp.origin.session_version, 1764972514);
        assert_eq!(sdp.origin.addr_type, AddrType::Ip4);
        assert_eq!(sdp.session_name, "Asterisk");
        assert_eq!(
            sdp.connection.as_ref().and_then(Connection::ip),
            "203.0.113.5".parse().ok()
        );
        let m = &sdp.media[0];
        assert_eq!(
            (m.media.as_str(), m.port, m.proto.as_str()),
            ("audio", 14590, "RTP/AVP")
        );
        assert_eq!(m.payload_types(), vec![0, 8, 3, 9, 101]);
        assert_eq!(
            m.rtpmap(101).map(|r| r.encoding.as_str()),
            Some("telephone-event")
        );
        assert_eq!(m.fmtp(101), Some("0-16"));
        assert!(m.attributes.contains(&Attribute::Ptime(20)));
        assert!(m.attributes.contains(&Attribute::MaxPtime(150)));
        assert_eq!(m.direction(), Some(Direction::SendRecv));
    }

    #[test]
    fn rtcp_crypto_and_unknown_attributes() {
        let fs = fixtures::parse(fixtures::FREESWITCH_SRTP);
        let m = &fs.media[0];
        assert!(m.attributes.contains(&Attribute::Rtcp(RtcpAttr {
            port: 26531,
            connection: Some(Connection {
                net_type: "IN".into(),
                addr_type: AddrType::Ip4,
                address: "198.51.100.20".into()
            }),
        })));
        let cryptos: Vec<&Crypto> = m
            .attributes
            .iter()
            .filter_map(|a| {
                if let Attribute::Crypto(c) = a {
                    Some(c)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(cryptos.len(), 3);
        assert_eq!(cryptos[1].tag, 2);
        assert_eq!(cryptos[1].suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(
            cryptos[1].key_params,
            vec![KeyParam {
                key_salt: "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz".into(),
                lifetime: Some("2^31".into()),
                mki: Some("1:1".into()),
            }]
        );
        let bs = fixtures::parse(fixtures::BARESIP);
        let m = &bs.media[0];
        assert!(m.attributes.contains(&Attribute::RtcpMux));
        assert!(m.attributes.contains(&Attribute::Other {
            name: "ssrc".into(),
            value: Some("3373413409 cname:ea6a9c3b-7f9e-4c7c-a0be-2c2bb2e4c6d2".into()),
        }));
        assert_eq!(
            m.bandwidths,
            vec![Bandwidth {
                bw_type: "AS".into(),
                value: 117
            }]
        );
        assert_eq!(m.rtpmap(0).and_then(|r| r.channels), Some(1));
    }

    #[test]
    fn ipv6_and_session_level_attributes() {
        let sdp = fixtures::parse(fixtures::LINPHONE_IPV6);
        assert_eq!(sdp.origin.addr_type, AddrType::Ip6);
        let c = sdp.connection.as_ref().unwrap();
        assert_eq!(c.addr_type, AddrType::Ip6);
        assert_eq!(c.ip(), "2001:db8::7".parse().ok());
        assert_eq!(sdp.attributes.len(), 4);
        assert_eq!(sdp.attributes[0].name(), "ice-pwd");
        assert_eq!(sdp.media.len(), 2);
        assert_eq!(sdp.media[1].media, "video");
    }

    #[test]
    fn lf_line_ends_and_old_hold() {
        let sdp = fixtures::parse(fixtures::OLD_HOLD_LF);
        assert!(sdp.connection.as_ref().unwrap().is_hold_address());
        assert!(sdp.media[0].connection.as_ref().unwrap().is_hold_address());
        assert_eq!(sdp.media[0].payload_types(), vec![8, 101]);
    }

    #[test]
    fn non_rtp_media_keeps_text_formats() {
        let sdp = fixtures::parse(fixtures::ASTERISK_T38);
        let m = &sdp.media[0];
        assert!(!m.is_rtp());
        assert_eq!(m.formats, vec!["t38".to_string()]);
        assert_eq!(m.attributes[0].to_string(), "T38FaxVersion:0");
    }

    #[test]
    fn other_lines_are_kept_in_serializer_order() {
        let input = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nk=prompt\ni=info\nt=0 0\nr=7d 1h 0\n\
                     m=audio 4000 RTP/AVP 0\nk=clear:x\ni=media info\n";
        let sdp = SessionDescription::parse(input.as_bytes()).unwrap();
        assert_eq!(
            sdp.other_lines[0],
            OtherLine {
                kind: 'i',
                value: "info".into()
            }
        );
        assert_eq!(sdp.timing[0].repeats, vec!["7d 1h 0".to_string()]);
        assert_eq!(sdp.media[0].other_lines[0].kind, 'i');
        let again = SessionDescription::parse(sdp.to_string().as_bytes()).unwrap();
        assert_eq!(again, sdp);
    }

    #[test]
    fn missing_version_is_line_1() {
        let e = err("o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
        assert_eq!((e.line, e.kind), (Some(1), ParseErrorKind::MissingVersion));
        let e = err("v=1\r\n");
        assert_eq!(e.kind, ParseErrorKind::UnsupportedVersion("1".into()));
    }

    #[test]
    fn bad_media_lines_name_their_line() {
        let e = err(&format!("{MINIMAL}m=audio 5000 RTP/AVP\r\n"));
        assert_eq!(e.line, Some(6));
        assert!(matches!(e.kind, ParseErrorKind::BadMedia(_)));
        let e = err(&format!("{MINIMAL}m=audio 70000 RTP/AVP 0\r\n"));
        assert_eq!(
            (e.line, e.kind),
            (Some(6), ParseErrorKind::BadPort("70000".into()))
        );
        let e = err(&format!("{MINIMAL}m=audio +5 RTP/AVP 0\r\n"));
        assert!(matches!(e.kind, ParseErrorKind::BadPort(_)));
        let e = err(&format!("{MINIMAL}m=audio 5000 RTP/AVP 0 128\r\n"));
        assert_eq!(e.kind, ParseErrorKind::BadPayloadType("128".into()));
        assert!(e.to_string().contains("line 6"), "{e}");
    }

    #[test]
    fn rtpmap_for_unlisted_payload_type() {
        let e = err(&format!(
            "{MINIMAL}m=audio 5000 RTP/AVP 0\r\na=rtpmap:8 PCMA/8000\r\n"
        ));
        assert_eq!(
            (e.line, e.kind),
            (
                Some(7),
                ParseErrorKind::UnknownPayloadType {
                    attr: "rtpmap",
                    pt: 8
                }
            )
        );
    }

    #[test]
    fn malformed_values() {
        let cases = [
            ("a=rtpmap:0 PCMU", "rtpmap"),
            ("a=rtpmap:0 PCMU/0", "rtpmap"),
            ("a=ptime:abc", "ptime"),
            ("a=crypto:1 AES_CM_128_HMAC_SHA1_80", "crypto"),
            ("a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc", "crypto"),
            (
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc|1:4|2^20",
                "crypto",
            ),
            ("a=rtcp:99999", "rtcp"),
        ];
        for (line, name) in cases {
            let e = err(&format!("{MINIMAL}m=audio 5000 RTP/AVP 0\r\n{line}\r\n"));
            assert_eq!(e.line, Some(7), "{line}");
            match e.kind {
                ParseErrorKind::BadAttribute { name: n, .. } => assert_eq!(n, name, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        let e = err("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n");
        assert_eq!(e.kind, ParseErrorKind::BadOrigin("- 1 1 IN IP4".into()));
        let e = err("v=0\r\no=- 1 x IN IP4 a\r\ns=-\r\nt=0 0\r\n");
        assert_eq!(e.line, Some(2));
        let e = err("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nc=IN IP4 ::1\r\nt=0 0\r\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(4), ParseErrorKind::BadConnection("IN IP4 ::1".into()))
        );
        let e = err("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nb=AS\r\n");
        assert!(matches!(e.kind, ParseErrorKind::BadBandwidth(_)));
        let e = err("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=now\r\n");
        assert!(matches!(e.kind, ParseErrorKind::BadTiming(_)));
    }

    #[test]
    fn structure_errors() {
        assert_eq!(err("").kind, ParseErrorKind::Empty);
        assert_eq!(err("\r\n\r\n").line, None);
        let e = err("v=0\r\ns=-\r\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(2), ParseErrorKind::MissingLine('o'))
        );
        let e = err("v=0\r\no=- 1 1 IN IP4 a\r\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(2), ParseErrorKind::MissingLine('s'))
        );
        let e = err(&format!("{MINIMAL}c=IN IP4 192.0.2.2\r\n"));
        assert_eq!(
            (e.line, e.kind),
            (Some(6), ParseErrorKind::DuplicateLine('c'))
        );
        let e = err(&format!("{MINIMAL}\r\nm=audio 1 RTP/AVP 0\r\n"));
        assert_eq!(e.line, Some(6));
        let e = err(&format!("{MINIMAL}m=audio 1 RTP/AVP 0\r\nt=0 0\r\n"));
        assert_eq!(e.kind, ParseErrorKind::UnexpectedLine('t'));
        let e = err(&format!("{MINIMAL}X=1\r\n"));
        assert!(matches!(e.kind, ParseErrorKind::MalformedLine(_)));
    }

    #[test]
    fn invalid_utf8_reports_its_line() {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes.extend_from_slice(b"a=tool:\xff\xfe\r\n");
        let e = SessionDescription::parse(&bytes).unwrap_err();
        assert_eq!((e.line, e.kind), (Some(6), ParseErrorKind::InvalidUtf8));
    }

    #[test]
    fn absurd_sizes_are_refused() {
        let big = format!("{MINIMAL}a=x:{}\r\n", "y".repeat(MAX_SDP_BYTES));
        assert!(matches!(err(&big).kind, ParseErrorKind::TooLarge { .. }));
        let many_media = format!(
            "{MINIMAL}{}",
            "m=audio 0 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1)
        );
        let e = err(&many_media);
        assert_eq!(e.kind, ParseErrorKind::TooManyMedia { max: MAX_MEDIA });
        assert_eq!(e.line, Some(6 + MAX_MEDIA));
        let fmts = " 0".repeat(MAX_FORMATS + 1);
        let e = err(&format!("{MINIMAL}m=audio 1 RTP/AVP{fmts}\r\n"));
        assert_eq!(e.kind, ParseErrorKind::TooManyFormats { max: MAX_FORMATS });
        let lines = format!("{MINIMAL}{}", "a=x\r\n".repeat(MAX_LINES));
        assert_eq!(
            err(&lines).kind,
            ParseErrorKind::TooManyLines { max: MAX_LINES }
        );
        // A long line well inside the limits is fine and kept intact.
        let long = "z".repeat(8000);
        let sdp = SessionDescription::parse(format!("{MINIMAL}a=x:{long}\r\n").as_bytes()).unwrap();
        assert_eq!(
            sdp.attributes[0],
            Attribute::Other {
                name: "x".into(),
                value: Some(long)
            }
        );
    }

    #[test]
    fn error_messages_clip_long_input() {
        let junk = "q".repeat(5000);
        let e = err(&format!("{MINIMAL}{junk}\r\n"));
        assert!(e.to_string().len() < 200, "{e}");
    }

    #[test]
    fn missing_timing_is_accepted_and_preserved() {
        let sdp = SessionDescription::parse(b"v=0\no=- 1 1 IN IP4 a.example\ns=-\n").unwrap();
        assert!(sdp.timing.is_empty());
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 1 IN IP4 a.example\r\ns=-\r\n"
        );
    }
}
