//! A sans-IO adaptive jitter buffer. `push` packets as they arrive (with the arrival time on the
//! caller's monotonic clock), `pop` once per packetisation interval from the playout clock.
//!
//! Playout follows sequence numbers, one packet per tick: timestamp jumps (silence suppression,
//! a DTMF pause, a peer that restarts its clock) therefore never stall or flood playout. The
//! target delay follows the RFC 3550 A.8 inter-arrival jitter estimate between a minimum and a
//! maximum; the buffer grows by holding playout on an underrun or, after late arrivals, while
//! a missing packet may still come. Above target for a while, it shrinks by dropping a frame —
//! unless the caller time-stretches instead ([`JitterConfig::caller_shrinks`], as
//! [`crate::playback`] does: it cuts pitch periods from the decoded audio, no gap).

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    /// RTP clock rate of the stream (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// Packetisation interval; `pop` is called once per frame.
    pub frame: Duration,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The caller brings the delay down (time-stretching, see [`crate::playback`]): the
    /// buffer never drops a frame for it. When false, a frame is dropped after a second
    /// above target.
    pub caller_shrinks: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            clock_rate: 8000,
            frame: Duration::from_millis(20),
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(300),
            caller_shrinks: false,
        }
    }
}

/// A packet handed to playout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    pub kind: FrameKind,
}

/// What a buffered packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameKind {
    #[default]
    Audio,
    /// An RFC 3389 comfort-noise packet (`CN/8000`): the peer's silence starts, fill it with
    /// noise at the packet's level.
    ComfortNoise,
    /// An Opus DTX packet (2 bytes or less): the peer's silence, its decoder makes the noise.
    Dtx,
}

impl FrameKind {
    /// Whether silence (no packets) is expected after this one.
    pub fn starts_silence(self) -> bool {
        self != FrameKind::Audio
    }
}

/// What to play this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The next packet, in order.
    Frame(Frame),
    /// The packet for this tick is missing but the next one is here: its in-band FEC (Opus)
    /// can rebuild this one. The packet itself is still played on the next tick.
    Fec(Frame),
    /// Missing, nothing to recover from: conceal.
    Lost,
    /// Not playing (no stream yet, or refilling after the stream stopped): play silence.
    Empty,
}

/// Counters kept by the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub pushed: u64,
    pub played: u64,
    /// Ticks that had to conceal (Lost or Fec), holds included.
    pub concealed: u64,
    pub fec: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    pub duplicates: u64,
    /// Frames dropped to bring the delay down.
    pub dropped: u64,
    /// Missing packets whose slots were already concealed while the buffer ran dry.
    pub skipped: u64,
    /// Ticks concealed while waiting for a missing packet to grow the delay to its target.
    pub held: u64,
    pub resets: u64,
    /// Empty ticks after a comfort-noise or DTX packet: the peer's silence, filled with
    /// noise and not counted as `concealed`.
    pub comfort_noise: u64,
}

#[derive(Debug, Clone)]
struct Stored {
    sequence: u16,
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
    kind: FrameKind,
}

/// Frames above target for this many ticks before one frame is dropped (hysteresis).
const SHRINK_AFTER_TICKS: u32 = 50;
/// Late arrivals remembered as a reason to wait for a missing packet.
const MAX_LATE_CREDIT: u32 = 10;
/// A sequence jump larger than this is a new stream, not loss.
const MAX_SEQ_JUMP: i64 = 1000;

#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    ssrc: Option<u32>,
    packets: BTreeMap<i64, Stored>,
    /// Extended sequence number of the newest packet pushed.
    highest: Option<i64>,
    /// Extended sequence number to play next; None while (re)filling.
    next: Option<i64>,
    /// Consecutive ticks with nothing at all buffered.
    starving: u32,
    /// Consecutive ticks spent waiting for the missing packet due now.
    holding: u32,
    /// Frames of delay late arrivals have asked for and the buffer has not added yet.
    late_credit: u32,
    above_target: u32,
    /// The last frame played was comfort noise or DTX: the peer is silent on purpose, so
    /// nothing arriving is not loss.
    in_comfort_noise: bool,
    /// RFC 3550 A.8: previous relative transit time and the jitter estimate, in clock units.
    transit: Option<i64>,
    jitter: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        JitterBuffer {
            cfg,
            ssrc: None,
            packets: BTreeMap::new(),
            highest: None,
            next: None,
            starving: 0,
            holding: 0,
            late_credit: 0,
            above_target: 0,
            in_comfort_noise: false,
            transit: None,
            jitter: 0.0,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Inter-arrival jitter (RFC 3550 A.8) as a duration.
    pub fn jitter(&self) -> Duration {
        Duration::from_secs_f64(self.jitter / f64::from(self.cfg.clock_rate.max(1)))
    }

    /// The delay the buffer aims for: one frame plus four times the jitter, rounded up to whole
    /// frames and kept between the configured bounds.
    pub fn target_delay(&self) -> Duration {
        let frame = self.cfg.frame.as_secs_f64().max(1e-3);
        let want = frame + 4.0 * self.jitter().as_secs_f64();
        let frames = (want / frame).ceil();
        Duration::from_secs_f64(frames * frame).clamp(self.cfg.min_delay, self.cfg.max_delay)
    }

    /// Audio currently buffered ahead of playout (packets present, times the frame length).
    pub fn buffered(&self) -> Duration {
        self.cfg.frame * self.packets.len() as u32
    }

    /// Takes one late arrival the buffer has not grown for yet, if there is one: the caller
    /// grows the delay by a frame for it (see [`crate::playback`]).
    pub fn take_late(&mut self) -> bool {
        let had = self.late_credit > 0;
        self.late_credit = self.late_credit.saturating_sub(1);
        had
    }

    /// Whether the packet due next is here (playing, and not missing).
    pub fn next_ready(&self) -> bool {
        self.next.is_some_and(|n| self.packets.contains_key(&n))
    }

    fn frames(&self, d: Duration) -> usize {
        let f = self.cfg.frame.as_nanos().max(1);
        d.as_nanos().div_ceil(f) as usize
    }

    /// Forgets the stream (new SSRC, sequence jump, or the caller's hold/resume).
    pub fn reset(&mut self) {
        self.packets.clear();
        self.highest = None;
        self.next = None;
        self.starving = 0;
        self.holding = 0;
        self.late_credit = 0;
        self.above_target = 0;
        self.in_comfort_noise = false;
        self.transit = None;
        self.stats.resets += 1;
    }

    /// Accepts one received packet. `arrival` is the caller's monotonic receive time.
    pub fn push(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: Vec<u8>,
        arrival: Duration,
    ) {
        self.insert(
            ssrc,
            sequence,
            timestamp,
            marker,
            payload,
            arrival,
            FrameKind::Audio,
        );
    }

    /// Accepts a comfort-noise (RFC 3389) or DTX packet of the same stream: it plays in its
    /// turn, and the silence after it is the peer's, not loss.
    pub fn push_silence(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        payload: Vec<u8>,
        arrival: Duration,
        kind: FrameKind,
    ) {
        self.insert(ssrc, sequence, timestamp, false, payload, arrival, kind);
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: Vec<u8>,
        arrival: Duration,
        kind: FrameKind,
    ) {
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                tracing::debug!(old = ?self.ssrc, new = ssrc, "jitter buffer: SSRC changed");
                self.reset();
            }
            self.ssrc = Some(ssrc);
        }
        let ext = match self.highest {
            None => i64::from(sequence) + (1 << 16),
            Some(h) => h + i64::from(sequence.wrapping_sub(h as u16) as i16),
        };
        if let Some(h) = self.highest {
            if (ext - h).abs() > MAX_SEQ_JUMP {
                tracing::debug!(
                    from = h,
                    to = ext,
                    "jitter buffer: sequence jump, new stream"
                );
                self.reset();
                return self.insert(ssrc, sequence, timestamp, marker, payload, arrival, kind);
            }
        }
        self.update_jitter(timestamp, marker, arrival);
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            self.late_credit = (self.late_credit + 1).min(MAX_LATE_CREDIT);
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.stats.pushed += 1;
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(
            ext,
            Stored {
                sequence,
                timestamp,
                marker,
                payload,
                kind,
            },
        );
        // Bound memory: never hold more than twice the maximum delay.
        let cap = 2 * self.frames(self.cfg.max_delay).max(1);
        while self.packets.len() > cap {
            if let Some((&k, _)) = self.packets.iter().next() {
                self.packets.remove(&k);
                self.stats.dropped += 1;
                if self.next.is_some_and(|n| n <= k) {
                    self.next = Some(k + 1);
                }
            }
        }
    }

    fn update_jitter(&mut self, timestamp: u32, marker: bool, arrival: Duration) {
        let rate = f64::from(self.cfg.clock_rate);
        let arrival_units = (arrival.as_secs_f64() * rate) as i64;
        let transit = arrival_units - i64::from(timestamp);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs();
            // A talkspurt start or a timestamp jump of over a second is not network jitter.
            if !marker && (d as f64) < rate {
                self.jitter += (d as f64 - self.jitter) / 16.0;
            }
        }
        self.transit = Some(transit);
    }

    /// What to play for this tick. Call exactly once per frame interval.
    pub fn pop(&mut self) -> Playout {
        let next = match self.next {
            Some(n) => n,
            None => {
                // (Re)filling: start once the target delay's worth of packets is here.
                let Some((&first, _)) = self.packets.iter().next() else {
                    return Playout::Empty;
                };
                if self.packets.len() < self.frames(self.target_delay()) {
                    return Playout::Empty;
                }
                self.next = Some(first);
                first
            }
        };
        if self.packets.is_empty() {
            // Underrun: hold playout where it is (the delay grows by this frame); after the
            // maximum delay of silence the stream has stopped, so refill from scratch.
            self.starving += 1;
            if self.starving > self.frames(self.cfg.max_delay) as u32 {
                self.next = None;
                self.starving = 0;
                return Playout::Empty;
            }
            if self.in_comfort_noise {
                // The peer's silence: the decoder keeps playing its noise.
                self.stats.comfort_noise += 1;
                return Playout::Empty;
            }
            self.stats.concealed += 1;
            return Playout::Lost;
        }
        // Back from an underrun. If the packets due during it are still missing, they were
        // lost rather than late: the concealed ticks stood in for them, so skip as many
        // instead of concealing them a second time and keeping the extra delay for good.
        let mut next = next;
        if self.starving > 0 {
            if let Some((&first, _)) = self.packets.iter().next() {
                let skip = (first - next).clamp(0, i64::from(self.starving));
                next += skip;
                self.next = Some(next);
                self.stats.skipped += skip as u64;
            }
        }
        self.starving = 0;
        self.shrink_if_needed(next);
        let next = self.next.unwrap_or(next);
        self.next = Some(next + 1);
        if let Some(p) = self.packets.remove(&next) {
            self.holding = 0;
            self.stats.played += 1;
            self.in_comfort_noise = p.kind.starts_silence();
            return Playout::Frame(frame(p));
        }
        self.stats.concealed += 1;
        // The packet due is missing, packets arrived late before, and less than the target
        // delay's worth of audio is buffered behind it: it is probably late again, so conceal
        // and wait one frame for it (the delay grows by a frame). Reordering never empties
        // the buffer, so without this the delay would stay short and every reordered packet
        // would be concealed and then dropped as late. Plain loss earns no late credit and
        // waits for nothing. At most a target's worth of ticks per packet.
        let span = self.highest.map_or(0, |h| h - next + 1);
        let target = self.frames(self.target_delay());
        if self.late_credit > 0 && span < target as i64 && (self.holding as usize) < target {
            self.late_credit -= 1;
            self.next = Some(next);
            self.holding += 1;
            self.stats.held += 1;
            return Playout::Lost;
        }
        self.holding = 0;
        match self.packets.get(&(next + 1)) {
            Some(p) => {
                self.stats.fec += 1;
                Playout::Fec(frame(p.clone()))
            }
            None => Playout::Lost,
        }
    }

    fn shrink_if_needed(&mut self, next: i64) {
        if self.cfg.caller_shrinks {
            return;
        }
        let target = self.frames(self.target_delay());
        if self.packets.len() > target + 1 {
            self.above_target += 1;
        } else {
            self.above_target = 0;
        }
        if self.above_target >= SHRINK_AFTER_TICKS {
            self.above_target = 0;
            // Drop the frame due now; prefer dropping one that is missing anyway.
            if self.packets.remove(&next).is_some() {
                self.stats.dropped += 1;
            }
            self.next = Some(next + 1);
        }
    }
}

fn frame(p: Stored) -> Frame {
    Frame {
        sequence: p.sequence,
        timestamp: p.timestamp,
        marker: p.marker,
        payload: p.payload,
        kind: p.kind,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS20: Duration = Duration::from_millis(20);

    fn jb() -> JitterBuffer {
        JitterBuffer::new(JitterConfig::default())
    }

    fn push(b: &mut JitterBuffer, seq: u16, at_ms: u64) {
        let ts = u32::from(seq).wrapping_mul(160);
        b.push(
            1,
            seq,
            ts,
            false,
            vec![seq as u8],
            Duration::from_millis(at_ms),
        );
    }

    fn seqs(out: &[Playout]) -> Vec<Option<u16>> {
        out.iter()
            .filter(|p| !matches!(p, Playout::Empty))
            .map(|p| match p {
                Playout::Frame(f) => Some(f.sequence),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn prebuffers_then_plays_in_order() {
        let mut b = jb();
        assert_eq!(b.pop(), Playout::Empty);
        push(&mut b, 10, 0);
        assert_eq!(b.pop(), Playout::Empty, "waits for the 40 ms minimum");
        push(&mut b, 11, 20);
        let out: Vec<_> = (0..2).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), [Some(10), Some(11)]);
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let mut b = jb();
        for (s, t) in [(1, 0), (3, 20), (2, 25), (3, 30), (4, 60), (5, 80)] {
            push(&mut b, s, t);
        }
        let out: Vec<_> = (0..5).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), [Some(1), Some(2), Some(3), Some(4), Some(5)]);
        assert_eq!(b.stats().duplicates, 1);
    }

    #[test]
    fn missing_packet_offers_fec_then_late_arrival_is_dropped() {
        let mut b = jb();
        for s in [1, 2, 4, 5] {
            push(&mut b, s, u64::from(s) * 20);
        }
        assert!(matches!(b.pop(), Playout::Frame(f) if f.sequence == 1));
        assert!(matches!(b.pop(), Playout::Frame(f) if f.sequence == 2));
        assert!(matches!(b.pop(), Playout::Fec(f) if f.sequence == 4));
        push(&mut b, 3, 100);
        assert_eq!(b.stats().late, 1);
        assert!(matches!(b.pop(), Playout::Frame(f) if f.sequence == 4));
        // Two in a row missing: the first cannot use FEC.
        push(&mut b, 8, 160);
        assert!(matches!(b.pop(), Playout::Frame(f) if f.sequence == 5));
        assert_eq!(b.pop(), Playout::Lost);
        assert!(matches!(b.pop(), Playout::Fec(f) if f.sequence == 8));
    }

    #[test]
    fn loss_while_running_dry_is_concealed_once_without_adding_delay() {
        let mut b = jb();
        // Steady stream, one packet ahead: 3 and 4 are lost, so the buffer runs dry at 3.
        let mut out = Vec::new();
        for s in 0..10u16 {
            if s != 3 && s != 4 {
                push(&mut b, s, u64::from(s) * 20);
            }
            out.push(b.pop());
        }
        let played: Vec<_> = seqs(&out);
        // Two frames concealed for two lost packets, and 8 follows 7 with the same delay.
        assert_eq!(
            played,
            [
                Some(0),
                Some(1),
                Some(2),
                None,
                None,
                Some(5),
                Some(6),
                Some(7),
                Some(8)
            ]
        );
        assert_eq!(b.stats().skipped, 1);
        assert_eq!(b.stats().concealed, 2);
    }

    #[test]
    fn reordered_packets_grow_the_delay_instead_of_arriving_late() {
        // Every fourth packet is 70 ms late: it arrives after three newer ones, so the buffer
        // never runs dry, yet each such packet misses its slot unless the delay grows.
        let mut b = jb();
        let mut wire: Vec<(u64, u16)> = (0..400u64)
            .map(|i| (i * 20 + if i % 4 == 0 { 70 } else { 0 }, i as u16))
            .collect();
        wire.sort();
        let mut wire = wire.into_iter().peekable();
        let mut played = 0;
        for tick in 0..400u64 {
            let now = tick * 20 + 10;
            while let Some((at, seq)) = wire.next_if(|&(at, _)| at <= now) {
                push(&mut b, seq, at);
            }
            if let Playout::Frame(_) = b.pop() {
                played += 1;
            }
        }
        let st = b.stats();
        assert!(st.late <= 3, "{st:?}");
        assert!(st.held > 0 && st.held <= 10, "{st:?}");
        assert!(played > 350, "{played} {st:?}");
    }

    #[test]
    fn survives_sequence_wraparound() {
        let mut b = jb();
        let mut s = 65533u16;
        let mut played = Vec::new();
        for i in 0..8u64 {
            push(&mut b, s, i * 20);
            s = s.wrapping_add(1);
            played.push(b.pop());
        }
        let got: Vec<u16> = seqs(&played).into_iter().flatten().collect();
        assert_eq!(got, [65533, 65534, 65535, 0, 1, 2, 3]);
    }

    #[test]
    fn ssrc_change_and_sequence_jump_restart_the_stream() {
        let mut b = jb();
        push(&mut b, 100, 0);
        push(&mut b, 101, 20);
        b.pop();
        b.push(2, 5000, 9, true, vec![], Duration::from_millis(40));
        assert_eq!(b.stats().resets, 1);
        b.push(2, 40000, 99, true, vec![], Duration::from_millis(60));
        assert_eq!(b.stats().resets, 2);
        b.push(2, 40001, 259, false, vec![], Duration::from_millis(80));
        let out: Vec<_> = (0..2).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), [Some(40000), Some(40001)]);
    }

    #[test]
    fn timestamp_jump_does_not_stall_playout() {
        let mut b = jb();
        b.push(1, 1, 0, false, vec![], Duration::ZERO);
        b.push(1, 2, 160, false, vec![], MS20);
        b.push(1, 3, 8_000_000, true, vec![], 2 * MS20);
        let out: Vec<_> = (0..3).map(|_| b.pop()).collect();
        assert_eq!(seqs(&out), [Some(1), Some(2), Some(3)]);
        assert!(b.jitter() < Duration::from_millis(1));
    }

    #[test]
    fn target_delay_adapts_to_jitter() {
        let mut steady = jb();
        let mut jittery = jb();
        for i in 0..500u16 {
            let t = u64::from(i) * 20;
            push(&mut steady, i, t);
            // +-30 ms of alternating delay.
            push(&mut jittery, i, t + if i % 2 == 0 { 0 } else { 60 });
            steady.pop();
            jittery.pop();
        }
        assert_eq!(steady.target_delay(), Duration::from_millis(40));
        assert!(steady.jitter() < Duration::from_millis(1));
        let j = jittery.jitter();
        assert!(
            j > Duration::from_millis(40) && j < Duration::from_millis(70),
            "{j:?}"
        );
        assert!(
            jittery.target_delay() >= Duration::from_millis(260),
            "{:?}",
            jittery.target_delay()
        );
    }

    #[test]
    fn underrun_holds_then_refills_after_stream_stops() {
        let mut b = jb();
        push(&mut b, 1, 0);
        push(&mut b, 2, 20);
        b.pop();
        b.pop();
        assert_eq!(b.pop(), Playout::Lost);
        // A delayed packet is still played: playout held its place.
        push(&mut b, 3, 80);
        assert!(matches!(b.pop(), Playout::Frame(f) if f.sequence == 3));
        let tail: Vec<_> = (0..40).map(|_| b.pop()).collect();
        assert_eq!(tail.last(), Some(&Playout::Empty));
    }

    #[test]
    fn excess_delay_shrinks() {
        let mut b = jb();
        // A burst of 10 frames at once, then a steady stream: the backlog is trimmed.
        for s in 0..10 {
            push(&mut b, s, 0);
        }
        for i in 10..600u16 {
            b.pop();
            push(&mut b, i, u64::from(i) * 20);
        }
        // One frame per second of excess comes off, down to target (40 ms) + one frame.
        assert!(
            b.buffered() <= Duration::from_millis(60),
            "{:?}",
            b.buffered()
        );
        assert!(b.stats().dropped > 0);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics_and_plays_each_packet_once(
            ops in proptest::collection::vec((any::<u16>(), any::<u32>(), 0u64..5000, any::<bool>(), 0u8..4), 0..300)
        ) {
            let mut b = jb();
            for (seq, ts, at, pop, ssrc) in ops {
                b.push(u32::from(ssrc / 3), seq % 64, ts, false, vec![], Duration::from_millis(at));
                if pop {
                    b.pop();
                }
                let st = b.stats();
                // Nothing is played that was not accepted.
                prop_assert!(st.played + st.dropped <= st.pushed);
                prop_assert!(b.target_delay() >= Duration::from_millis(40));
                prop_assert!(b.target_delay() <= Duration::from_millis(300));
                prop_assert!(b.packets.len() <= 30);
            }
        }
    }
}
