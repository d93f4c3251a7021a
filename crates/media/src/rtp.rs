//! RFC 3550 RTP packets (parse and serialize) and just enough RTCP to recognise and skip it when
//! RTP and RTCP share a port (RFC 5761 demultiplexing).

use thiserror::Error;

/// Why a datagram is not a valid RTP (or RTCP) packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    #[error("packet too short: {0} bytes")]
    TooShort(usize),
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    #[error("CSRC list runs past the end of the packet")]
    TruncatedCsrc,
    #[error("header extension runs past the end of the packet")]
    TruncatedExtension,
    #[error("padding length {0} is invalid")]
    BadPadding(u8),
    #[error("payload type {0} is not 7-bit")]
    BadPayloadType(u8),
    #[error("too many CSRCs: {0}")]
    TooManyCsrcs(usize),
    #[error("header extension is {0} bytes, not a multiple of 4 or too long")]
    BadExtensionLength(usize),
    #[error("RTCP length field runs past the end of the datagram")]
    TruncatedRtcp,
}

/// An RTP header extension (RFC 3550 5.3.1): the profile-defined 16 bits and the data words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpExtension {
    pub profile: u16,
    /// A multiple of 4 bytes.
    pub data: Vec<u8>,
}

/// One RTP packet. Padding is stripped on parse; `padding` adds that many bytes on serialize.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpPacket {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Vec<u32>,
    pub extension: Option<RtpExtension>,
    pub payload: Vec<u8>,
    /// Padding bytes to append when serializing (0 = no padding bit).
    pub padding: u8,
}

const HEADER_LEN: usize = 12;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl RtpPacket {
    /// Parses one datagram. Every length is checked before it is used: malformed input is an
    /// error, never a panic.
    pub fn parse(buf: &[u8]) -> Result<Self, RtpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let csrc_count = usize::from(buf[0] & 0x0f);
        let marker = buf[1] & 0x80 != 0;
        let payload_type = buf[1] & 0x7f;
        let sequence = be16(buf, 2);
        let timestamp = be32(buf, 4);
        let ssrc = be32(buf, 8);

        let mut at = HEADER_LEN;
        if buf.len() < at + 4 * csrc_count {
            return Err(RtpError::TruncatedCsrc);
        }
        let csrcs = (0..csrc_count).map(|i| be32(buf, at + 4 * i)).collect();
        at += 4 * csrc_count;

        let extension = if has_extension {
            if buf.len() < at + 4 {
                return Err(RtpError::TruncatedExtension);
            }
            let profile = be16(buf, at);
            let words = usize::from(be16(buf, at + 2));
            at += 4;
            if buf.len() < at + 4 * words {
                return Err(RtpError::TruncatedExtension);
            }
            let data = buf[at..at + 4 * words].to_vec();
            at += 4 * words;
            Some(RtpExtension { profile, data })
        } else {
            None
        };

        let mut end = buf.len();
        if has_padding {
            // The last byte counts itself; it may not eat into the header.
            let pad = buf[buf.len() - 1];
            if pad == 0 || usize::from(pad) > end - at {
                return Err(RtpError::BadPadding(pad));
            }
            end -= usize::from(pad);
        }
        Ok(RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
            payload: buf[at..end].to_vec(),
            padding: 0,
        })
    }

    /// Serializes the packet. Fails only for values the wire format cannot carry.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        if self.payload_type > 0x7f {
            return Err(RtpError::BadPayloadType(self.payload_type));
        }
        if self.csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        if let Some(ext) = &self.extension {
            if ext.data.len() % 4 != 0 || ext.data.len() / 4 > usize::from(u16::MAX) {
                return Err(RtpError::BadExtensionLength(ext.data.len()));
            }
        }
        let ext_len = self.extension.as_ref().map_or(0, |e| 4 + e.data.len());
        let mut out = Vec::with_capacity(
            HEADER_LEN + 4 * self.csrcs.len() + ext_len + self.payload.len() + 4,
        );
        let mut b0 = 0x80 | self.csrcs.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(self.payload_type | if self.marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&((ext.data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(&ext.data);
        }
        out.extend_from_slice(&self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0u8, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
        Ok(out)
    }
}

/// What a datagram on a shared RTP/RTCP port is (RFC 5761 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Rtp,
    Rtcp,
    /// Not version 2 or too short (STUN, garbage).
    Other,
}

/// Classifies a datagram by its version bits and second byte: RTCP packet types 192-223 land in
/// the RTP payload-type range 64-95 with the marker bit set, so 72-76 (SR, RR, SDES, BYE, APP
/// as 200-204) mean RTCP. Dynamic RTP payload types must avoid 64-95 for this to work.
pub fn classify(buf: &[u8]) -> PacketKind {
    if buf.len() < 4 || buf[0] >> 6 != 2 {
        return PacketKind::Other;
    }
    match buf[1] & 0x7f {
        72..=76 => PacketKind::Rtcp,
        _ => PacketKind::Rtp,
    }
}

/// The common header of one RTCP packet inside a compound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpHeader {
    /// 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, others from later RFCs.
    pub packet_type: u8,
    /// Report count / source count / subtype (the low 5 bits of the first byte).
    pub count: u8,
    /// The SSRC of the sender, when the packet is long enough to carry one.
    pub ssrc: Option<u32>,
    /// Length of this packet in bytes, header included.
    pub len: usize,
}

/// Walks a compound RTCP datagram and returns each packet's header, checking that the length
/// fields tile the datagram exactly. Enough to recognise and skip RTCP; reports are not decoded.
pub fn parse_rtcp(buf: &[u8]) -> Result<Vec<RtcpHeader>, RtpError> {
    let mut out = Vec::new();
    let mut at = 0;
    if buf.len() < 4 {
        return Err(RtpError::TooShort(buf.len()));
    }
    while at < buf.len() {
        if buf.len() - at < 4 {
            return Err(RtpError::TruncatedRtcp);
        }
        let version = buf[at] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let len = 4 * (usize::from(be16(buf, at + 2)) + 1);
        if buf.len() - at < len {
            return Err(RtpError::TruncatedRtcp);
        }
        out.push(RtcpHeader {
            packet_type: buf[at + 1],
            count: buf[at] & 0x1f,
            ssrc: (len >= 8).then(|| be32(buf, at + 4)),
            len,
        });
        at += len;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_plain_pcmu_packet() {
        // Captured header shape: V=2, M=1, PT=0, seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304.
        let mut raw = vec![0x80, 0x80, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4];
        raw.extend_from_slice(&[0xff; 160]);
        let p = RtpPacket::parse(&raw).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.sequence, 0x1234);
        assert_eq!(p.timestamp, 0xdeadbeef);
        assert_eq!(p.ssrc, 0x01020304);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.to_bytes().unwrap(), raw);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        let p = RtpPacket {
            marker: false,
            payload_type: 111,
            sequence: 65535,
            timestamp: 1,
            ssrc: 2,
            csrcs: vec![7, 8],
            extension: Some(RtpExtension {
                profile: 0xbede,
                data: vec![0x10, 0xaa, 0, 0],
            }),
            payload: vec![1, 2, 3],
            padding: 5,
        };
        let raw = p.to_bytes().unwrap();
        assert_eq!(raw.len(), 12 + 8 + 8 + 3 + 5);
        assert_eq!(raw[0], 0x80 | 0x20 | 0x10 | 2);
        let back = RtpPacket::parse(&raw).unwrap();
        assert_eq!(back, RtpPacket { padding: 0, ..p });
    }

    #[test]
    fn rejects_malformed_packets() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort(11)));
        let mut v1 = vec![0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        v1[0] = 0x83; // three CSRCs promised, none present
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::TruncatedCsrc));
        let ext = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9];
        assert_eq!(RtpPacket::parse(&ext), Err(RtpError::TruncatedExtension));
        let pad = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200];
        assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding(200)));
        let zero_pad = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&zero_pad), Err(RtpError::BadPadding(0)));
    }

    #[test]
    fn demuxes_rtcp_from_rtp() {
        // An RTCP receiver report with one report block (RFC 3550 6.4.2), 32 bytes.
        let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 1];
        rr.extend_from_slice(&[0u8; 24]);
        assert_eq!(classify(&rr), PacketKind::Rtcp);
        let hs = parse_rtcp(&rr).unwrap();
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].packet_type, 201);
        assert_eq!(hs[0].count, 1);
        assert_eq!(hs[0].len, 32);
        // Compound: RR followed by a BYE.
        let mut compound = rr.clone();
        compound.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 1]);
        assert_eq!(parse_rtcp(&compound).unwrap().len(), 2);
        compound.pop();
        assert_eq!(parse_rtcp(&compound), Err(RtpError::TruncatedRtcp));
        assert_eq!(classify(&[0x80, 0, 0, 0]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 96, 0, 0]), PacketKind::Rtp);
        assert_eq!(classify(&[0x00, 1, 0, 0]), PacketKind::Other);
    }

    fn arb_packet() -> impl Strategy<Value = RtpPacket> {
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u32>(), 0..16),
            proptest::option::of((
                any::<u16>(),
                proptest::collection::vec(any::<[u8; 4]>(), 0..4),
            )),
            proptest::collection::vec(any::<u8>(), 0..200),
            any::<u8>(),
        )
            .prop_map(
                |(marker, pt, seq, ts, ssrc, csrcs, ext, payload, padding)| RtpPacket {
                    marker,
                    payload_type: pt,
                    sequence: seq,
                    timestamp: ts,
                    ssrc,
                    csrcs,
                    extension: ext.map(|(profile, words)| RtpExtension {
                        profile,
                        data: words.concat(),
                    }),
                    payload,
                    padding,
                },
            )
    }

    proptest! {
        #[test]
        fn serialize_then_parse_round_trips(p in arb_packet()) {
            let raw = p.to_bytes().unwrap();
            let back = RtpPacket::parse(&raw).unwrap();
            prop_assert_eq!(back, RtpPacket { padding: 0, ..p });
        }

        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = RtpPacket::parse(&raw);
            let _ = parse_rtcp(&raw);
            let _ = classify(&raw);
        }
    }
}
