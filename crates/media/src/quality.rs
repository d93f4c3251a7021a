//! Call quality from RTCP (sans-IO): the reports we send (RFC 3550 6.4, A.3 interval loss),
//! what the peer's reports tell us (their loss and jitter of our stream, the round trip of
//! 6.4.1), the report timer (6.2/6.3) and an estimated MOS from a simplified ITU-T G.107
//! E-model.
//!
//! ## The MOS estimate
//!
//! R = 93.2 − Id − Ie,eff, MOS from R by G.107 (06/2015) Annex B:
//! MOS = 1 + 0.035 R + R (R − 60)(100 − R) · 7·10⁻⁶ for 0 < R < 100 (1 below, 4.5 above).
//!
//! * 93.2 is G.107's R with every other parameter at its default (Ro − Is, A = 0).
//! * Delay impairment, Cole & Rosenbluth's fit of G.107's Id ("Voice over IP performance
//!   monitoring", ACM SIGCOMM CCR 31(2), 2001): Id = 0.024 d + 0.11 (d − 177.3) H(d − 177.3),
//!   d the one-way mouth-to-ear delay in ms, estimated as RTT/2 + jitter-buffer delay + one
//!   packet (ptime) + the codec's look-ahead. Echo is assumed cancelled (no Idte term).
//! * Equipment impairment with loss, G.107 eq. 7-29 with BurstR = 1 (random loss):
//!   Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl), Ppl the percentage of packets lost or
//!   arriving too late to play.
//! * Codec values, ITU-T G.113 (11/2007) Appendix I: G.711 Ie = 0, Bpl = 25.1 (with packet
//!   loss concealment, as our G.711 has; 4.3 without). G.113 lists no values for Opus; we use
//!   G.711-with-PLC's (Ie 0, Bpl 25.1, look-ahead 6.5 ms) as a stand-in. That understates Opus
//!   with in-band FEC under loss, and the narrowband model caps Opus at G.711's 4.41.

use crate::codec::{Codec, CodecName};
use crate::rtcp::{
    ntp_middle, round_trip, ReportBlock, RtcpPacket, SdesChunk, SdesItem, SenderInfo, SDES_CNAME,
};
use crate::session::Reception;
use std::time::Duration;

/// A call's quality as the agent's screen and the call log show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallQuality {
    /// Packets of the peer's stream lost on the way to us (plus those too late to play), in
    /// % of those expected, over the call.
    pub loss_percent: f64,
    /// Our stream's loss as the peer reported it in its last report (the interval's fraction
    /// lost, RFC 3550 6.4.1); `None` until a report about our stream arrives.
    pub remote_loss_percent: Option<f64>,
    /// Interarrival jitter of the peer's stream (RFC 3550 A.8), ms.
    pub jitter_ms: f64,
    /// Our stream's jitter as the peer measured it, ms.
    pub remote_jitter_ms: Option<f64>,
    /// Round trip from the peer's last report block with an LSR (RFC 3550 6.4.1).
    pub rtt_ms: Option<f64>,
    /// The jitter buffer's playout delay, ms.
    pub jitter_buffer_ms: u64,
    /// Estimated MOS (1-4.5, simplified G.107, see the module docs); `None` before any audio
    /// arrived.
    pub mos: Option<f64>,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: i64,
    pub reports_sent: u64,
    pub reports_received: u64,
}

/// G.113 Appendix I values for a codec: (Ie, Bpl, look-ahead ms).
fn codec_impairment(codec: Codec) -> (f64, f64, f64) {
    match codec.name {
        CodecName::Pcmu | CodecName::Pcma => (0.0, 25.1, 0.0),
        // No ITU values for Opus: G.711-with-PLC's, see the module docs.
        CodecName::Opus => (0.0, 25.1, 6.5),
    }
}

/// The E-model's transmission rating R (see the module docs).
pub fn r_factor(codec: Codec, loss_percent: f64, one_way_delay_ms: f64) -> f64 {
    let (ie, bpl, _) = codec_impairment(codec);
    let d = one_way_delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_percent.clamp(0.0, 100.0);
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    93.2 - id - ie_eff
}

/// MOS from R (G.107 Annex B).
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// Estimated MOS for a codec at a loss percentage, jitter-buffer delay and round trip.
pub fn estimate_mos(
    codec: Codec,
    ptime: Duration,
    loss_percent: f64,
    jitter_buffer: Duration,
    rtt: Option<Duration>,
) -> f64 {
    let (_, _, lookahead) = codec_impairment(codec);
    let d = rtt.map_or(0.0, |r| r.as_secs_f64() * 500.0)
        + jitter_buffer.as_secs_f64() * 1000.0
        + ptime.as_secs_f64() * 1000.0
        + lookahead;
    mos_from_r(r_factor(codec, loss_percent, d))
}

/// RFC 3550 6.2: 5 s nominal, each interval randomized to 0.5-1.5× (6.3.1) so that
/// participants do not synchronise; the first report after half the minimum (6.2).
#[derive(Debug, Clone)]
pub struct ReportTimer {
    next: Duration,
    interval: Duration,
}

/// The nominal report interval (RFC 3550 6.2 minimum).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

fn randomized(nominal: Duration, random: u64) -> Duration {
    // A factor in [0.5, 1.5) from 16 random bits.
    let factor = 0.5 + f64::from((random & 0xffff) as u16) / 65536.0;
    nominal.mul_f64(factor)
}

impl ReportTimer {
    /// A timer started at `now`; `random` seeds the first randomization.
    pub fn new(now: Duration, interval: Duration, random: u64) -> Self {
        ReportTimer {
            next: now + randomized(interval / 2, random),
            interval,
        }
    }

    /// When the next report is due.
    pub fn next(&self) -> Duration {
        self.next
    }

    /// Whether a report is due at `now`; if so, the next one is scheduled with `random`.
    pub fn poll(&mut self, now: Duration, random: u64) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + randomized(self.interval, random);
        true
    }
}

/// What the peer's reports told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteView {
    pub ssrc: Option<u32>,
    pub cname: Option<String>,
    /// The last report block about our stream.
    pub block: Option<ReportBlock>,
    pub rtt: Option<Duration>,
    pub reports: u64,
    pub bye: bool,
}

/// One call's RTCP state: builds our reports and reads the peer's.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    ssrc: u32,
    cname: String,
    clock_rate: u32,
    /// RFC 3550 A.3 interval state, per received SSRC.
    prior: Option<(u32, i64, u64)>,
    /// The middle bits of the peer's last SR and when it arrived (NTP).
    last_sr: Option<(u32, u64)>,
    remote: RemoteView,
    reports_sent: u64,
}

impl RtcpSession {
    pub fn new(ssrc: u32, cname: impl Into<String>, clock_rate: u32) -> Self {
        RtcpSession {
            ssrc,
            cname: cname.into(),
            clock_rate: clock_rate.max(1),
            prior: None,
            last_sr: None,
            remote: RemoteView::default(),
            reports_sent: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn remote(&self) -> &RemoteView {
        &self.remote
    }

    pub fn reports_sent(&self) -> u64 {
        self.reports_sent
    }

    /// The report block about the peer's stream (RFC 3550 A.3): cumulative loss since its
    /// first packet, the fraction lost since our previous report, jitter, LSR/DLSR.
    pub fn report_block(&mut self, rx: &Reception, now_ntp: u64) -> ReportBlock {
        let lost = (rx.expected - rx.received as i64).clamp(-(1 << 23), (1 << 23) - 1);
        let (expected_prior, received_prior) = match self.prior {
            Some((ssrc, e, r)) if ssrc == rx.ssrc => (e, r),
            _ => (0, 0),
        };
        let expected_interval = rx.expected - expected_prior;
        let received_interval = rx.received as i64 - received_prior as i64;
        let lost_interval = expected_interval - received_interval;
        let fraction_lost = if expected_interval <= 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        self.prior = Some((rx.ssrc, rx.expected, rx.received));
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => {
                // Both in 1/65536 s: the middle 32 bits of the NTP difference.
                (lsr, ntp_middle(now_ntp.saturating_sub(at)))
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc: rx.ssrc,
            fraction_lost,
            cumulative_lost: lost as i32,
            highest_seq: rx.extended_highest,
            jitter: rx.jitter.max(0.0).min(f64::from(u32::MAX)) as u32,
            lsr,
            dlsr,
        }
    }

    /// A compound report: SR when `sender` is given (we sent RTP since the last report),
    /// else RR; a block about the peer's stream when one is received; our CNAME.
    pub fn build_report(
        &mut self,
        now_ntp: u64,
        sender: Option<SenderInfo>,
        reception: Option<&Reception>,
    ) -> Vec<RtcpPacket> {
        let reports: Vec<ReportBlock> = reception
            .map(|rx| self.report_block(rx, now_ntp))
            .into_iter()
            .collect();
        let first = match sender {
            Some(info) => RtcpPacket::SenderReport {
                ssrc: self.ssrc,
                info: SenderInfo {
                    ntp: now_ntp,
                    ..info
                },
                reports,
            },
            None => RtcpPacket::ReceiverReport {
                ssrc: self.ssrc,
                reports,
            },
        };
        self.reports_sent += 1;
        vec![first, self.sdes()]
    }

    fn sdes(&self) -> RtcpPacket {
        RtcpPacket::SourceDescription(vec![SdesChunk {
            ssrc: self.ssrc,
            items: vec![SdesItem {
                kind: SDES_CNAME,
                value: self.cname.as_bytes().to_vec(),
            }],
        }])
    }

    /// The compound sent when the call ends: a last report, CNAME and BYE (RFC 3550 6.1).
    pub fn build_bye(
        &mut self,
        now_ntp: u64,
        sender: Option<SenderInfo>,
        reception: Option<&Reception>,
    ) -> Vec<RtcpPacket> {
        let mut packets = self.build_report(now_ntp, sender, reception);
        packets.push(RtcpPacket::Bye {
            sources: vec![self.ssrc],
            reason: None,
        });
        packets
    }

    /// Takes in a received compound (arrival time as NTP).
    pub fn on_compound(&mut self, packets: &[RtcpPacket], arrival_ntp: u64) {
        let mut counted = false;
        for p in packets {
            match p {
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                } => {
                    self.last_sr = Some((ntp_middle(info.ntp), arrival_ntp));
                    self.remote.ssrc = Some(*ssrc);
                    self.on_blocks(reports, arrival_ntp);
                    counted = true;
                }
                RtcpPacket::ReceiverReport { ssrc, reports } => {
                    self.remote.ssrc = Some(*ssrc);
                    self.on_blocks(reports, arrival_ntp);
                    counted = true;
                }
                RtcpPacket::SourceDescription(chunks) => {
                    if let Some(name) = chunks.iter().find_map(|c| c.cname()) {
                        self.remote.cname = Some(name.to_string());
                    }
                }
                RtcpPacket::Bye { .. } => self.remote.bye = true,
                RtcpPacket::Other { .. } => {}
            }
        }
        if counted {
            self.remote.reports += 1;
        }
    }

    fn on_blocks(&mut self, blocks: &[ReportBlock], arrival_ntp: u64) {
        if let Some(b) = blocks.iter().find(|b| b.ssrc == self.ssrc) {
            self.remote.block = Some(*b);
            if let Some(rtt) = round_trip(b, arrival_ntp) {
                self.remote.rtt = Some(rtt);
            }
        }
    }

    /// The peer's view of our stream: (loss %, jitter ms) from its last block.
    pub fn remote_loss_and_jitter(&self) -> Option<(f64, f64)> {
        self.remote.block.map(|b| {
            (
                f64::from(b.fraction_lost) * 100.0 / 256.0,
                f64::from(b.jitter) * 1000.0 / f64::from(self.clock_rate),
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::rtcp::{build_compound, parse_compound};
    use crate::rtp::RtpPacket;
    use crate::session::{RtpReceiver, RtpSender};

    #[test]
    fn mos_follows_g107_reference_points() {
        // G.107 Annex B: R 93.2 -> MOS 4.41; R 50 -> 2.58.
        assert!((mos_from_r(93.2) - 4.41).abs() < 0.01);
        assert!((mos_from_r(50.0) - 2.58).abs() < 0.01);
        assert_eq!(mos_from_r(-3.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        let pcmu = Codec::PCMU;
        let ms = Duration::from_millis;
        let clean = estimate_mos(pcmu, ms(20), 0.0, ms(40), Some(ms(20)));
        // d = 10 + 40 + 20 = 70 ms: Id 1.68, R 91.52.
        assert!((clean - mos_from_r(93.2 - 0.024 * 70.0)).abs() < 1e-9);
        assert!(clean > 4.3, "{clean}");
        // 5 % loss with PLC: Ie,eff = 95 * 5 / 30.1 = 15.78 -> R 75.7 -> MOS about 3.8.
        let lossy = estimate_mos(pcmu, ms(20), 5.0, ms(40), Some(ms(20)));
        assert!((lossy - 3.82).abs() < 0.05, "{lossy}");
        // A 400 ms one-way delay costs more than the knee at 177.3 ms.
        let far = estimate_mos(pcmu, ms(20), 0.0, ms(100), Some(ms(500)));
        assert!(far < 4.0 && far > 3.0, "{far}");
        // Monotonic in loss.
        let mut last = 5.0;
        for loss in [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0] {
            let m = estimate_mos(pcmu, ms(20), loss, ms(40), None);
            assert!(m < last, "{loss}: {m}");
            last = m;
        }
    }

    #[test]
    fn timer_randomizes_between_half_and_one_and_a_half_intervals() {
        let start = Duration::from_secs(10);
        let mut t = ReportTimer::new(start, REPORT_INTERVAL, 0);
        assert_eq!(t.next(), start + Duration::from_millis(1250));
        assert!(!t.poll(start, 0));
        let now = t.next();
        assert!(t.poll(now, 0xffff));
        let gap = t.next() - now;
        assert!(gap > Duration::from_millis(7490) && gap < Duration::from_millis(7500));
        let mut rng = 12345u64;
        let mut now = t.next();
        for _ in 0..200 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            assert!(t.poll(now, rng >> 33));
            let gap = t.next() - now;
            assert!(gap >= REPORT_INTERVAL / 2 && gap < REPORT_INTERVAL * 3 / 2);
            now = t.next();
        }
    }

    /// RFC 3550 A.3 with a worked stream: 100 packets expected, 5 lost in the first interval,
    /// 0 in the second, a duplicate in the third (cumulative loss goes down, fraction 0).
    #[test]
    fn report_blocks_follow_the_a3_interval_logic() {
        let mut rx = RtpReceiver::new(8000);
        let mut tx = RtpSender::with_start(0, 160, 0xabc, 65500, 0);
        let mut s = RtcpSession::new(1, "me@host", 8000);
        let mut t = Duration::ZERO;
        let mut send = |rx: &mut RtpReceiver, n: u32, drop: &[u32]| {
            for i in 0..n {
                let p = tx.audio(vec![0; 160]);
                tx.tick();
                t += Duration::from_millis(20);
                if !drop.contains(&i) {
                    rx.on_packet(&p, t);
                }
            }
        };
        send(&mut rx, 100, &[10, 20, 30, 40, 50]);
        let b1 = s.report_block(&rx.reception().unwrap(), 0);
        assert_eq!(b1.ssrc, 0xabc);
        assert_eq!(b1.cumulative_lost, 5);
        // 5 of 100: floor(5 * 256 / 100) = 12.
        assert_eq!(b1.fraction_lost, 12);
        // 65500 + 99 crosses the wrap: one cycle.
        assert_eq!(
            b1.highest_seq,
            (1 << 16) | u32::from(65500u16.wrapping_add(99))
        );
        assert_eq!((b1.lsr, b1.dlsr), (0, 0));
        send(&mut rx, 50, &[]);
        let b2 = s.report_block(&rx.reception().unwrap(), 0);
        assert_eq!((b2.cumulative_lost, b2.fraction_lost), (5, 0));
        // A duplicate: received exceeds expected in the interval.
        let dup = RtpPacket {
            sequence: 65500u16.wrapping_add(149),
            ssrc: 0xabc,
            ..Default::default()
        };
        rx.on_packet(&dup, t);
        let b3 = s.report_block(&rx.reception().unwrap(), 0);
        assert_eq!((b3.cumulative_lost, b3.fraction_lost), (4, 0));
    }

    /// Two sessions exchanging reports over a simulated 80 ms round trip measure it.
    #[test]
    fn sessions_measure_the_round_trip_and_each_others_loss() {
        let ntp0 = crate::rtcp::ntp_from_unix(Duration::from_secs(1_700_000_000));
        let at = |ms: u64| ntp0 + (ms << 32) / 1000;
        let mut a = RtcpSession::new(0xaaaa, "a@x", 8000);
        let mut b = RtcpSession::new(0xbbbb, "b@y", 8000);
        let rx_at_b = Reception {
            ssrc: 0xaaaa,
            extended_highest: 299,
            expected: 300,
            received: 291,
            jitter: 80.0,
        };
        // A sends an SR at t=0 ms, it reaches B at 40 ms.
        let sr = a.build_report(at(0), Some(SenderInfo::default()), None);
        let wire = build_compound(&sr).unwrap();
        b.on_compound(&parse_compound(&wire).unwrap(), at(40));
        assert_eq!(b.remote().cname.as_deref(), Some("a@x"));
        // B reports 1 s later (DLSR 1 s), it reaches A at 1080 ms: RTT 80 ms.
        let rr = b.build_report(at(1040), None, Some(&rx_at_b));
        let wire = build_compound(&rr).unwrap();
        a.on_compound(&parse_compound(&wire).unwrap(), at(1080));
        let rtt = a.remote().rtt.unwrap();
        assert!(
            rtt.as_secs_f64() > 0.0795 && rtt.as_secs_f64() < 0.0805,
            "{rtt:?}"
        );
        let (loss, jitter) = a.remote_loss_and_jitter().unwrap();
        // 9 of 300: fraction floor(9 * 256 / 300) = 7 -> 2.73 %.
        assert!((loss - 7.0 * 100.0 / 256.0).abs() < 1e-9, "{loss}");
        assert!((jitter - 10.0).abs() < 1e-9, "{jitter}");
        assert_eq!(a.remote().reports, 1);
        let bye = b.build_bye(at(2000), None, None);
        a.on_compound(
            &parse_compound(&build_compound(&bye).unwrap()).unwrap(),
            at(2040),
        );
        assert!(a.remote().bye);
        assert_eq!(b.reports_sent(), 2);
    }
}
