//! The engine's RTCP: one [`RtcpRuntime`] per call, driven by the receive thread (never the
//! audio clock thread). It turns the engine's counters into SR/RR compounds at RFC 3550
//! intervals, reads the peer's reports, and makes the [`CallQuality`] snapshot.
//!
//! Time is the engine's monotonic `Duration` since start; NTP timestamps are the wall clock at
//! start plus that, so LSR/DLSR round trips never jump with wall-clock steps mid-call.

use crate::codec::Codec;
use crate::quality::{estimate_mos, CallQuality, ReportTimer, RtcpSession, REPORT_INTERVAL};
use crate::rtcp::{build_compound, ntp_from_unix, parse_compound, RtcpError, SenderInfo};
use crate::session::{random_u64, Reception};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the sending side has done, read from the engine's atomics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCounters {
    pub packets: u64,
    pub octets: u64,
    /// The RTP timestamp of the last packet sent and when (engine time), if any was.
    pub last: Option<(u32, Duration)>,
}

/// Packs an RTP timestamp and the engine time it was sent at (ms + 1, wraps after 49 days) in
/// one word, so the clock thread publishes both with a single atomic store and 0 can mean
/// "nothing sent yet".
pub fn pack_last_sent(timestamp: u32, at: Duration) -> u64 {
    (u64::from(timestamp) << 32) | ((at.as_millis() as u64 + 1) & 0xffff_ffff)
}

/// The inverse of [`pack_last_sent`]; 0 means nothing was sent yet.
pub fn unpack_last_sent(word: u64) -> Option<(u32, Duration)> {
    (word != 0).then(|| {
        (
            (word >> 32) as u32,
            Duration::from_millis((word & 0xffff_ffff).saturating_sub(1)),
        )
    })
}

#[derive(Debug)]
pub struct RtcpRuntime {
    session: RtcpSession,
    timer: ReportTimer,
    codec: Codec,
    ptime: Duration,
    /// The wall clock when the engine started, as time since the Unix epoch.
    wall_start: Duration,
    packets_at_last_report: u64,
    malformed: u64,
}

impl RtcpRuntime {
    pub fn new(ssrc: u32, codec: Codec, ptime: Duration, now: Duration) -> Self {
        let wall_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(now);
        // RFC 7022: a random CNAME per call reveals nothing about the machine.
        let cname = format!("{:016x}@seatline", random_u64());
        RtcpRuntime {
            session: RtcpSession::new(ssrc, cname, codec.clock_rate),
            timer: ReportTimer::new(now, REPORT_INTERVAL, random_u64()),
            codec,
            ptime,
            wall_start,
            packets_at_last_report: 0,
            malformed: 0,
        }
    }

    fn ntp(&self, now: Duration) -> u64 {
        ntp_from_unix(self.wall_start + now)
    }

    /// A received (already unprotected) RTCP datagram.
    pub fn on_datagram(&mut self, data: &[u8], arrival: Duration) -> Result<(), RtcpError> {
        match parse_compound(data) {
            Ok(packets) => {
                self.session.on_compound(&packets, self.ntp(arrival));
                Ok(())
            }
            Err(e) => {
                self.malformed += 1;
                Err(e)
            }
        }
    }

    /// Whether a report is due now (then the next one is scheduled).
    pub fn due(&mut self, now: Duration) -> bool {
        self.timer.poll(now, random_u64())
    }

    /// Our next compound: an SR if we sent RTP since the last report, else an RR; with a BYE
    /// when the call ends.
    pub fn build(
        &mut self,
        now: Duration,
        sent: SendCounters,
        reception: Option<&Reception>,
        bye: bool,
    ) -> Result<Vec<u8>, RtcpError> {
        let sender = match sent.last {
            Some((ts, at)) if sent.packets > self.packets_at_last_report => {
                // The RTP time of "now" on our media clock (RFC 3550 6.4.1).
                let since = now.saturating_sub(at);
                let ticks = since.as_secs_f64() * f64::from(self.codec.clock_rate);
                Some(SenderInfo {
                    ntp: 0,
                    rtp_timestamp: ts.wrapping_add(ticks as u32),
                    packet_count: sent.packets as u32,
                    octet_count: sent.octets as u32,
                })
            }
            _ => None,
        };
        self.packets_at_last_report = sent.packets;
        let ntp = self.ntp(now);
        let packets = if bye {
            self.session.build_bye(ntp, sender, reception)
        } else {
            self.session.build_report(ntp, sender, reception)
        };
        build_compound(&packets)
    }

    pub fn session(&self) -> &RtcpSession {
        &self.session
    }

    /// RTCP datagrams that did not parse.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The quality snapshot from the engine's counters.
    pub fn quality(&self, q: QualityInputs) -> CallQuality {
        let expected = q.reception.map_or(0, |r| r.expected.max(0));
        let lost = q.lost.max(0) as f64 + q.late as f64;
        let loss_percent = if expected > 0 {
            (lost * 100.0 / expected as f64).min(100.0)
        } else {
            0.0
        };
        let remote = self.session.remote_loss_and_jitter();
        let rtt = self.session.remote().rtt;
        CallQuality {
            loss_percent,
            remote_loss_percent: remote.map(|r| r.0),
            jitter_ms: q.jitter_ms,
            remote_jitter_ms: remote.map(|r| r.1),
            rtt_ms: rtt.map(|r| r.as_secs_f64() * 1000.0),
            jitter_buffer_ms: q.jitter_buffer.as_millis() as u64,
            mos: (q.packets_received > 0)
                .then(|| estimate_mos(self.codec, self.ptime, loss_percent, q.jitter_buffer, rtt)),
            packets_sent: q.packets_sent,
            packets_received: q.packets_received,
            packets_lost: q.lost,
            reports_sent: self.session.reports_sent(),
            reports_received: self.session.remote().reports,
        }
    }
}

/// The engine counters a quality snapshot needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct QualityInputs<'a> {
    pub reception: Option<&'a Reception>,
    pub lost: i64,
    /// Packets that arrived too late to play.
    pub late: u64,
    pub jitter_ms: f64,
    pub jitter_buffer: Duration,
    pub packets_sent: u64,
    pub packets_received: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::rtcp::RtcpPacket;

    #[test]
    fn last_sent_word_round_trips() {
        assert_eq!(unpack_last_sent(0), None);
        let w = pack_last_sent(0xdead_beef, Duration::from_millis(1234));
        assert_eq!(
            unpack_last_sent(w),
            Some((0xdead_beef, Duration::from_millis(1234)))
        );
    }

    #[test]
    fn sends_sr_only_after_rtp_and_rr_otherwise() {
        let mut rt = RtcpRuntime::new(7, Codec::PCMU, Duration::from_millis(20), Duration::ZERO);
        let rr = rt
            .build(Duration::from_secs(1), SendCounters::default(), None, false)
            .unwrap();
        let ps = parse_compound(&rr).unwrap();
        assert!(matches!(ps[0], RtcpPacket::ReceiverReport { ssrc: 7, .. }));
        assert!(matches!(&ps[1], RtcpPacket::SourceDescription(c) if c[0].cname().is_some()));
        let sent = SendCounters {
            packets: 100,
            octets: 16000,
            last: Some((8000, Duration::from_millis(1990))),
        };
        let sr = rt.build(Duration::from_secs(2), sent, None, true).unwrap();
        let ps = parse_compound(&sr).unwrap();
        let RtcpPacket::SenderReport { info, .. } = &ps[0] else {
            panic!("{ps:?}")
        };
        // 10 ms after the last packet at 8 kHz: 80 ticks later.
        assert_eq!(info.rtp_timestamp, 8080);
        assert_eq!((info.packet_count, info.octet_count), (100, 16000));
        assert!(matches!(ps.last(), Some(RtcpPacket::Bye { sources, .. }) if sources == &[7]));
        // Nothing new sent since: back to RR.
        let again = rt.build(Duration::from_secs(7), sent, None, false).unwrap();
        assert!(matches!(
            parse_compound(&again).unwrap()[0],
            RtcpPacket::ReceiverReport { .. }
        ));
        assert_eq!(rt.session().reports_sent(), 3);
        assert!(rt.on_datagram(&[0x80, 201], Duration::ZERO).is_err());
        assert_eq!(rt.malformed(), 1);
    }
}
