//! RTCP compound packets (RFC 3550 section 6): sender reports, receiver reports, SDES CNAME and
//! BYE, parsed and built without I/O. Other packet types (APP, RTPFB, PSFB, XR...) are kept as
//! raw payloads so a compound that carries them still parses.
//!
//! Every length is checked before it is used: any byte string gives a packet list or an
//! [`RtcpError`], never a panic (proptests below, fuzz target `rtcp_parse`).

use thiserror::Error;

pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;

/// SDES item type of the canonical name (RFC 3550 6.5.1).
pub const SDES_CNAME: u8 = 1;

/// Why a datagram is not a valid RTCP compound packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    #[error("RTCP datagram too short: {0} bytes")]
    TooShort(usize),
    #[error("unsupported RTCP version {0}")]
    BadVersion(u8),
    #[error("RTCP length field runs past the end of the datagram at byte {0}")]
    Truncated(usize),
    #[error("RTCP packet type {packet_type} is {len} bytes, too short for its {count} entries")]
    CountExceedsLength {
        packet_type: u8,
        count: u8,
        len: usize,
    },
    #[error("RTCP padding length {0} is invalid")]
    BadPadding(u8),
    #[error("SDES chunk runs past the end of its packet")]
    TruncatedSdes,
    #[error("BYE reason runs past the end of its packet")]
    TruncatedBye,
    #[error("{what} has {count} entries; at most 31 fit in one packet")]
    TooMany { what: &'static str, count: usize },
    #[error("an SDES item or BYE reason is {0} bytes; at most 255 fit")]
    TextTooLong(usize),
    #[error("raw RTCP packet payload is {0} bytes, not a multiple of 4")]
    BadRawLength(usize),
    #[error("RTCP packet of {0} bytes exceeds the 16-bit length field")]
    PacketTooLong(usize),
    #[error("cumulative lost {0} does not fit the 24-bit signed field")]
    LostOutOfRange(i32),
}

/// The sender information of an SR (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the low).
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 6.4.1), about the stream `ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a 24-bit signed value (duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from `ssrc` (0: none).
    pub lsr: u32,
    /// Delay since that SR in 1/65536 s.
    pub dlsr: u32,
}

/// One SDES item (type and raw value, UTF-8 by convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    pub kind: u8,
    pub value: Vec<u8>,
}

/// The SDES items of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    pub ssrc: u32,
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// The CNAME item, if present and UTF-8.
    pub fn cname(&self) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.kind == SDES_CNAME)
            .and_then(|i| std::str::from_utf8(&i.value).ok())
    }
}

/// One packet of a compound datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport {
        ssrc: u32,
        info: SenderInfo,
        reports: Vec<ReportBlock>,
    },
    ReceiverReport {
        ssrc: u32,
        reports: Vec<ReportBlock>,
    },
    SourceDescription(Vec<SdesChunk>),
    Bye {
        sources: Vec<u32>,
        reason: Option<Vec<u8>>,
    },
    /// Any other type, kept verbatim (`payload` is what follows the 4-byte header).
    Other {
        packet_type: u8,
        count: u8,
        payload: Vec<u8>,
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const REPORT_BLOCK_LEN: usize = 24;

fn parse_block(b: &[u8]) -> ReportBlock {
    // Sign-extend the 24-bit cumulative loss.
    let lost = (i32::from_be_bytes([b[4], b[5], b[6], b[7]]) << 8) >> 8;
    ReportBlock {
        ssrc: be32(b, 0),
        fraction_lost: b[4],
        cumulative_lost: lost,
        highest_seq: be32(b, 8),
        jitter: be32(b, 12),
        lsr: be32(b, 16),
        dlsr: be32(b, 20),
    }
}

/// Report blocks after a fixed part; profile extensions after them are ignored.
fn parse_blocks(
    body: &[u8],
    count: u8,
    packet_type: u8,
    len: usize,
) -> Result<Vec<ReportBlock>, RtcpError> {
    let need = usize::from(count) * REPORT_BLOCK_LEN;
    if body.len() < need {
        return Err(RtcpError::CountExceedsLength {
            packet_type,
            count,
            len,
        });
    }
    Ok(body[..need]
        .chunks_exact(REPORT_BLOCK_LEN)
        .map(parse_block)
        .collect())
}

fn parse_sdes(body: &[u8], count: u8) -> Result<Vec<SdesChunk>, RtcpError> {
    let mut chunks = Vec::with_capacity(usize::from(count));
    let mut at = 0;
    for _ in 0..count {
        if body.len() < at + 4 {
            return Err(RtcpError::TruncatedSdes);
        }
        let ssrc = be32(body, at);
        at += 4;
        let mut items = Vec::new();
        loop {
            let Some(&kind) = body.get(at) else {
                return Err(RtcpError::TruncatedSdes);
            };
            if kind == 0 {
                // The item list ends with a null octet, then pads to the next 32-bit boundary.
                at = (at + 4) & !3;
                if at > body.len() {
                    return Err(RtcpError::TruncatedSdes);
                }
                break;
            }
            let Some(&n) = body.get(at + 1) else {
                return Err(RtcpError::TruncatedSdes);
            };
            let end = at + 2 + usize::from(n);
            if end > body.len() {
                return Err(RtcpError::TruncatedSdes);
            }
            items.push(SdesItem {
                kind,
                value: body[at + 2..end].to_vec(),
            });
            at = end;
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    Ok(chunks)
}

fn parse_bye(body: &[u8], count: u8, len: usize) -> Result<RtcpPacket, RtcpError> {
    let need = 4 * usize::from(count);
    if body.len() < need {
        return Err(RtcpError::CountExceedsLength {
            packet_type: PT_BYE,
            count,
            len,
        });
    }
    let sources = body[..need].chunks_exact(4).map(|c| be32(c, 0)).collect();
    let reason = match body.get(need) {
        None => None,
        Some(&n) => {
            let end = need + 1 + usize::from(n);
            if end > body.len() {
                return Err(RtcpError::TruncatedBye);
            }
            Some(body[need + 1..end].to_vec())
        }
    };
    Ok(RtcpPacket::Bye { sources, reason })
}

/// Parses a compound RTCP datagram (already unprotected when SRTCP). The length fields must
/// tile the datagram exactly; padding is allowed on any packet (RFC 3550 says only the last,
/// but a lenient reader loses nothing).
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if buf.len() < 4 {
        return Err(RtcpError::TooShort(buf.len()));
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        if buf.len() - at < 4 {
            return Err(RtcpError::Truncated(at));
        }
        let version = buf[at] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let padded = buf[at] & 0x20 != 0;
        let count = buf[at] & 0x1f;
        let packet_type = buf[at + 1];
        let len = 4 * (usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]])) + 1);
        if buf.len() - at < len {
            return Err(RtcpError::Truncated(at));
        }
        let mut body = &buf[at + 4..at + len];
        if padded {
            let pad = body.last().copied().unwrap_or(0);
            if pad == 0 || usize::from(pad) > body.len() {
                return Err(RtcpError::BadPadding(pad));
            }
            body = &body[..body.len() - usize::from(pad)];
        }
        let too_short = RtcpError::CountExceedsLength {
            packet_type,
            count,
            len,
        };
        let packet = match packet_type {
            PT_SR => {
                if body.len() < 24 {
                    return Err(too_short);
                }
                let info = SenderInfo {
                    ntp: (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8)),
                    rtp_timestamp: be32(body, 12),
                    packet_count: be32(body, 16),
                    octet_count: be32(body, 20),
                };
                RtcpPacket::SenderReport {
                    ssrc: be32(body, 0),
                    info,
                    reports: parse_blocks(&body[24..], count, packet_type, len)?,
                }
            }
            PT_RR => {
                if body.len() < 4 {
                    return Err(too_short);
                }
                RtcpPacket::ReceiverReport {
                    ssrc: be32(body, 0),
                    reports: parse_blocks(&body[4..], count, packet_type, len)?,
                }
            }
            PT_SDES => RtcpPacket::SourceDescription(parse_sdes(body, count)?),
            PT_BYE => parse_bye(body, count, len)?,
            _ => RtcpPacket::Other {
                packet_type,
                count,
                payload: body.to_vec(),
            },
        };
        out.push(packet);
        at += len;
    }
    Ok(out)
}

fn push_header(out: &mut Vec<u8>, count: usize, packet_type: u8) -> usize {
    let start = out.len();
    out.push(0x80 | count as u8);
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]);
    start
}

/// Pads the packet started at `start` to 32 bits and writes its length field.
fn finish(out: &mut Vec<u8>, start: usize) -> Result<(), RtcpError> {
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    let words = (out.len() - start) / 4 - 1;
    let words = u16::try_from(words).map_err(|_| RtcpError::PacketTooLong(out.len() - start))?;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn check_count(what: &'static str, count: usize) -> Result<(), RtcpError> {
    if count > 31 {
        return Err(RtcpError::TooMany { what, count });
    }
    Ok(())
}

fn push_blocks(out: &mut Vec<u8>, reports: &[ReportBlock]) -> Result<(), RtcpError> {
    for r in reports {
        if !(-(1 << 23)..(1 << 23)).contains(&r.cumulative_lost) {
            return Err(RtcpError::LostOutOfRange(r.cumulative_lost));
        }
        out.extend_from_slice(&r.ssrc.to_be_bytes());
        out.push(r.fraction_lost);
        out.extend_from_slice(&r.cumulative_lost.to_be_bytes()[1..]);
        out.extend_from_slice(&r.highest_seq.to_be_bytes());
        out.extend_from_slice(&r.jitter.to_be_bytes());
        out.extend_from_slice(&r.lsr.to_be_bytes());
        out.extend_from_slice(&r.dlsr.to_be_bytes());
    }
    Ok(())
}

impl RtcpPacket {
    /// Appends this packet's wire form (no padding bit) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        match self {
            RtcpPacket::SenderReport {
                ssrc,
                info,
                reports,
            } => {
                check_count("SR report list", reports.len())?;
                let start = push_header(out, reports.len(), PT_SR);
                out.extend_from_slice(&ssrc.to_be_bytes());
                out.extend_from_slice(&info.ntp.to_be_bytes());
                out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&info.packet_count.to_be_bytes());
                out.extend_from_slice(&info.octet_count.to_be_bytes());
                push_blocks(out, reports)?;
                finish(out, start)
            }
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                check_count("RR report list", reports.len())?;
                let start = push_header(out, reports.len(), PT_RR);
                out.extend_from_slice(&ssrc.to_be_bytes());
                push_blocks(out, reports)?;
                finish(out, start)
            }
            RtcpPacket::SourceDescription(chunks) => {
                check_count("SDES chunk list", chunks.len())?;
                let start = push_header(out, chunks.len(), PT_SDES);
                for c in chunks {
                    out.extend_from_slice(&c.ssrc.to_be_bytes());
                    for item in &c.items {
                        let n = u8::try_from(item.value.len())
                            .map_err(|_| RtcpError::TextTooLong(item.value.len()))?;
                        // Type 0 would end the list early.
                        out.push(item.kind.max(1));
                        out.push(n);
                        out.extend_from_slice(&item.value);
                    }
                    // At least one null octet, then up to the 32-bit boundary.
                    out.push(0);
                    while !(out.len() - start).is_multiple_of(4) {
                        out.push(0);
                    }
                }
                finish(out, start)
            }
            RtcpPacket::Bye { sources, reason } => {
                check_count("BYE source list", sources.len())?;
                let start = push_header(out, sources.len(), PT_BYE);
                for s in sources {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                if let Some(r) = reason {
                    let n = u8::try_from(r.len()).map_err(|_| RtcpError::TextTooLong(r.len()))?;
                    out.push(n);
                    out.extend_from_slice(r);
                }
                finish(out, start)
            }
            RtcpPacket::Other {
                packet_type,
                count,
                payload,
            } => {
                if !payload.len().is_multiple_of(4) {
                    return Err(RtcpError::BadRawLength(payload.len()));
                }
                let start = push_header(out, usize::from(*count & 0x1f), *packet_type);
                out.extend_from_slice(payload);
                finish(out, start)
            }
        }
    }
}

/// Serializes packets into one compound datagram.
pub fn build_compound(packets: &[RtcpPacket]) -> Result<Vec<u8>, RtcpError> {
    let mut out = Vec::with_capacity(128);
    for p in packets {
        p.write(&mut out)?;
    }
    Ok(out)
}

/// Seconds between 1900 (NTP era 0) and 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A wall-clock time as a 64-bit NTP timestamp.
pub fn ntp_from_unix(since_unix: std::time::Duration) -> u64 {
    let secs = since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (the LSR/DLSR/RTT unit, 1/65536 s).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// How far a peer's DLSR may overshoot the time since our SR and still count as a round trip
/// of zero (1/65536 s units, ~5 ms): peers keep DLSR in whole milliseconds or coarser timer
/// ticks (baresip: ms jiffies), so on a LAN or loopback, where the true round trip is well
/// under a millisecond, arrival − LSR − DLSR often comes out a little negative.
const DLSR_GRANULARITY: u32 = 328;

/// Round-trip time from a report block about our stream (RFC 3550 6.4.1): arrival time minus
/// LSR minus DLSR, all in 1/65536 s. `None` when the peer has not seen an SR of ours (LSR 0)
/// or the arithmetic goes clearly negative (clock trouble, a forged block); a few milliseconds
/// below zero is the peer's DLSR rounding and gives a round trip of zero.
pub fn round_trip(block: &ReportBlock, arrival_ntp: u64) -> Option<std::time::Duration> {
    if block.lsr == 0 {
        return None;
    }
    let a = ntp_middle(arrival_ntp);
    let since_sr = a.wrapping_sub(block.lsr);
    // Anything over ~an hour since our SR is a wrapped negative, not a report about it.
    if since_sr > 0x8000_0000 {
        return None;
    }
    if since_sr < block.dlsr {
        return (block.dlsr - since_sr <= DLSR_GRANULARITY).then_some(std::time::Duration::ZERO);
    }
    let rtt = since_sr - block.dlsr;
    Some(std::time::Duration::from_micros(
        u64::from(rtt) * 1_000_000 / 65_536,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn parses_the_repository_rr_and_sdes_seed() {
        // fuzz-corpus/rtcp_rr_sdes.bin: RR from 0x12345678 about 0xdeadbeef, then an SDES.
        let raw = include_bytes!("../fuzz-corpus/rtcp_rr_sdes.bin");
        let ps = parse_compound(raw).unwrap();
        assert_eq!(ps.len(), 2);
        let RtcpPacket::ReceiverReport { ssrc, reports } = &ps[0] else {
            panic!("{ps:?}")
        };
        assert_eq!(*ssrc, 0x1234_5678);
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].ssrc, 0xdead_beef);
        assert_eq!(reports[0].highest_seq, 0x1020);
        assert_eq!(reports[0].jitter, 3);
        let RtcpPacket::SourceDescription(chunks) = &ps[1] else {
            panic!("{ps:?}")
        };
        // The seed's CNAME item says 8 bytes: "a@host" and two NULs, then the terminator.
        assert_eq!(chunks[0].items[0].value, b"a@host\0\0");
        assert_eq!(build_compound(&ps).unwrap(), raw.to_vec());
    }

    /// RFC 3550 6.4.1's SR layout, byte by byte: V=2 RC=1 PT=200 length 12 words, the sender
    /// info, one block with fraction 0x40 (25 %) and cumulative lost -1 (0xffffff).
    #[test]
    fn sender_report_matches_the_rfc_layout() {
        let sr = RtcpPacket::SenderReport {
            ssrc: 0x0102_0304,
            info: SenderInfo {
                ntp: 0xe6f1_2345_8000_0000,
                rtp_timestamp: 160,
                packet_count: 50,
                octet_count: 8000,
            },
            reports: vec![ReportBlock {
                ssrc: 0x0a0b_0c0d,
                fraction_lost: 0x40,
                cumulative_lost: -1,
                highest_seq: 0x0001_0005,
                jitter: 12,
                lsr: 0x2345_8000,
                dlsr: 0x0001_0000,
            }],
        };
        let raw = build_compound(std::slice::from_ref(&sr)).unwrap();
        #[rustfmt::skip]
        let want = [
            0x81, 200, 0, 12, 1, 2, 3, 4,
            0xe6, 0xf1, 0x23, 0x45, 0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 50, 0, 0, 0x1f, 0x40,
            0x0a, 0x0b, 0x0c, 0x0d, 0x40, 0xff, 0xff, 0xff, 0, 1, 0, 5, 0, 0, 0, 12,
            0x23, 0x45, 0x80, 0, 0, 1, 0, 0,
        ];
        assert_eq!(raw, want);
        assert_eq!(parse_compound(&raw).unwrap(), vec![sr]);
    }

    #[test]
    fn bye_with_reason_and_padding_round_trips() {
        let bye = RtcpPacket::Bye {
            sources: vec![7, 8],
            reason: Some(b"hangup".to_vec()),
        };
        let raw = build_compound(std::slice::from_ref(&bye)).unwrap();
        // 4 header + 8 sources + 1 length + 6 text = 19, padded to 20.
        assert_eq!(raw.len(), 20);
        assert_eq!(&raw[..4], &[0x82, 203, 0, 4]);
        assert_eq!(parse_compound(&raw).unwrap(), vec![bye]);
        // The same BYE with an explicit padding bit and 4 padding octets (RFC 3550 6.4.1 P).
        let mut padded = raw.clone();
        padded[0] |= 0x20;
        padded[3] = 5;
        padded.extend_from_slice(&[0, 0, 0, 4]);
        assert_eq!(parse_compound(&padded).unwrap().len(), 1);
    }

    #[test]
    fn rejects_malformed_compounds_with_reasons() {
        assert_eq!(parse_compound(&[0x80, 201]), Err(RtcpError::TooShort(2)));
        assert_eq!(
            parse_compound(&[0x40, 201, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
        // Length says 2 words, only 1 present.
        assert_eq!(
            parse_compound(&[0x80, 201, 0, 1]),
            Err(RtcpError::Truncated(0))
        );
        // RR promising one report block in an 8-byte packet.
        assert_eq!(
            parse_compound(&[0x81, 201, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::CountExceedsLength {
                packet_type: 201,
                count: 1,
                len: 8
            })
        );
        // Padding count larger than the packet.
        assert_eq!(
            parse_compound(&[0xa0, 201, 0, 1, 0, 0, 0, 9]),
            Err(RtcpError::BadPadding(9))
        );
        // SDES item length past the end.
        assert_eq!(
            parse_compound(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', 0]),
            Err(RtcpError::TruncatedSdes)
        );
        // BYE reason length past the end.
        assert_eq!(
            parse_compound(&[0x81, 203, 0, 2, 0, 0, 0, 1, 5, b'a', 0, 0]),
            Err(RtcpError::TruncatedBye)
        );
        // Trailing bytes that are not a whole packet.
        let mut rr = build_compound(&[RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![],
        }])
        .unwrap();
        rr.extend_from_slice(&[0x80, 201]);
        assert_eq!(parse_compound(&rr), Err(RtcpError::Truncated(8)));
    }

    #[test]
    fn refuses_what_the_wire_cannot_carry() {
        let many = RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock::default(); 32],
        };
        assert!(matches!(
            build_compound(&[many]),
            Err(RtcpError::TooMany { count: 32, .. })
        ));
        let long = RtcpPacket::Bye {
            sources: vec![1],
            reason: Some(vec![b'x'; 256]),
        };
        assert_eq!(build_compound(&[long]), Err(RtcpError::TextTooLong(256)));
        let lost = RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock {
                cumulative_lost: 1 << 23,
                ..Default::default()
            }],
        };
        assert_eq!(
            build_compound(&[lost]),
            Err(RtcpError::LostOutOfRange(1 << 23))
        );
    }

    #[test]
    fn ntp_conversion_and_round_trip_time() {
        // 1970-01-01 is NTP 2208988800 s; half a second is fraction 0x8000_0000.
        assert_eq!(
            ntp_from_unix(Duration::from_millis(500)),
            (2_208_988_800u64 << 32) | 0x8000_0000
        );
        // RFC 3550 6.4.1's worked example: SR sent at LSR 0xb705:2000 (46853.125 s), DLSR 5.250
        // s (0x0005:4000), report arrives at 0xb710:8000 (46864.500 s): RTT 6.125 s.
        let block = ReportBlock {
            lsr: 0xb705_2000,
            dlsr: 0x0005_4000,
            ..Default::default()
        };
        let arrival = 0xb710_8000u64 << 16;
        assert_eq!(
            round_trip(&block, arrival),
            Some(Duration::from_micros(6_125_000))
        );
        assert_eq!(round_trip(&ReportBlock { lsr: 0, ..block }, arrival), None);
        // A DLSR a millisecond longer than the time since our SR: the peer's rounding on a
        // sub-millisecond path (seen with baresip on loopback), a round trip of zero.
        let since_sr = 0xb710_8000u32 - 0xb705_2000;
        assert_eq!(
            round_trip(
                &ReportBlock {
                    dlsr: since_sr + 65,
                    ..block
                },
                arrival
            ),
            Some(Duration::ZERO)
        );
        // A DLSR far longer than the time since our SR: not a round trip.
        assert_eq!(
            round_trip(
                &ReportBlock {
                    dlsr: 0x0020_0000,
                    ..block
                },
                arrival
            ),
            None
        );
    }

    fn arb_block() -> impl Strategy<Value = ReportBlock> + Clone {
        (
            any::<u32>(),
            any::<u8>(),
            -(1i32 << 23)..(1i32 << 23),
            any::<[u32; 4]>(),
        )
            .prop_map(|(ssrc, fraction_lost, cumulative_lost, w)| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                highest_seq: w[0],
                jitter: w[1],
                lsr: w[2],
                dlsr: w[3],
            })
    }

    fn arb_packet() -> impl Strategy<Value = RtcpPacket> {
        let blocks = proptest::collection::vec(arb_block(), 0..4);
        let text = proptest::collection::vec(any::<u8>(), 0..40);
        prop_oneof![
            (any::<u32>(), any::<[u32; 5]>(), blocks.clone()).prop_map(|(ssrc, w, reports)| {
                RtcpPacket::SenderReport {
                    ssrc,
                    info: SenderInfo {
                        ntp: (u64::from(w[0]) << 32) | u64::from(w[1]),
                        rtp_timestamp: w[2],
                        packet_count: w[3],
                        octet_count: w[4],
                    },
                    reports,
                }
            }),
            (any::<u32>(), blocks)
                .prop_map(|(ssrc, reports)| RtcpPacket::ReceiverReport { ssrc, reports }),
            proptest::collection::vec(
                (
                    any::<u32>(),
                    proptest::collection::vec((1u8..=8, text.clone()), 0..3)
                ),
                0..3
            )
            .prop_map(|chunks| RtcpPacket::SourceDescription(
                chunks
                    .into_iter()
                    .map(|(ssrc, items)| SdesChunk {
                        ssrc,
                        items: items
                            .into_iter()
                            .map(|(kind, value)| SdesItem { kind, value })
                            .collect(),
                    })
                    .collect()
            )),
            (
                proptest::collection::vec(any::<u32>(), 0..4),
                proptest::option::of(text)
            )
                .prop_map(|(sources, reason)| RtcpPacket::Bye { sources, reason }),
            (
                204u8..=210,
                0u8..32,
                proptest::collection::vec(any::<[u8; 4]>(), 0..4)
            )
                .prop_map(|(packet_type, count, words)| RtcpPacket::Other {
                    packet_type,
                    count,
                    payload: words.concat(),
                }),
        ]
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(ps in proptest::collection::vec(arb_packet(), 1..5)) {
            let raw = build_compound(&ps).unwrap();
            prop_assert!(raw.len().is_multiple_of(4));
            prop_assert_eq!(parse_compound(&raw).unwrap(), ps);
        }

        #[test]
        fn parse_never_panics_and_reparses_the_same(
            raw in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            if let Ok(ps) = parse_compound(&raw) {
                // Whatever parses serializes and parses back to the same packets.
                if let Ok(again) = build_compound(&ps) {
                    prop_assert_eq!(parse_compound(&again).unwrap(), ps);
                }
            }
        }

        #[test]
        fn mutated_valid_compounds_never_panic(
            ps in proptest::collection::vec(arb_packet(), 1..4),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        ) {
            let mut raw = build_compound(&ps).unwrap();
            for (at, v) in flips {
                let n = raw.len();
                raw[at % n] = v;
            }
            let _ = parse_compound(&raw);
        }
    }
}
