//! Sans-IO RTP session pieces: the sender (SSRC, sequence and timestamp bookkeeping) and the
//! receiver statistics of RFC 3550 (expected/lost from extended sequence numbers, jitter).

use crate::rtp::RtpPacket;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// 64 random bits from the standard library's per-process random hasher keys; enough for
/// RFC 3550's unpredictable SSRC, sequence and timestamp starts without another dependency.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

/// Builds the outgoing RTP stream. Time advances one frame per `tick`, whether or not anything
/// was sent, so the timestamp keeps tracking the media clock through mute, hold and DTMF.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    payload_type: u8,
    samples_per_frame: u32,
    /// The next audio packet starts a talkspurt (marker bit, RFC 3551 4.1).
    talkspurt: bool,
    pub packets_sent: u64,
    pub bytes_sent: u64,
}

impl RtpSender {
    /// A sender with random SSRC, first sequence number and first timestamp.
    pub fn new(payload_type: u8, samples_per_frame: u32) -> Self {
        let a = random_u64();
        let b = random_u64();
        Self::with_start(
            payload_type,
            samples_per_frame,
            a as u32,
            (a >> 32) as u16,
            b as u32,
        )
    }

    /// A sender with chosen starting values (tests, reproducible captures).
    pub fn with_start(
        payload_type: u8,
        samples_per_frame: u32,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
    ) -> Self {
        RtpSender {
            ssrc,
            sequence,
            timestamp,
            payload_type,
            samples_per_frame,
            talkspurt: true,
            packets_sent: 0,
            bytes_sent: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The RTP timestamp of the current frame.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    pub fn samples_per_frame(&self) -> u32 {
        self.samples_per_frame
    }

    /// The audio packet for the current frame (marker set on the first after a gap).
    pub fn audio(&mut self, payload: Vec<u8>) -> RtpPacket {
        let marker = std::mem::take(&mut self.talkspurt);
        self.packet(self.payload_type, marker, self.timestamp, payload)
    }

    /// Any other packet in this stream (telephone-event), sharing the sequence space.
    pub fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: Vec<u8>,
    ) -> RtpPacket {
        let p = RtpPacket {
            marker,
            payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
            payload,
            ..RtpPacket::default()
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.packets_sent += 1;
        self.bytes_sent += p.payload.len() as u64;
        p
    }

    /// Nothing (or no audio) goes out this frame: the next audio packet starts a talkspurt.
    pub fn gap(&mut self) {
        self.talkspurt = true;
    }

    /// Moves to the next frame.
    pub fn tick(&mut self) {
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_frame);
    }
}

/// Receive-side statistics of one stream (RFC 3550 A.3 and A.8).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReceiveStats {
    pub packets: u64,
    pub bytes: u64,
    /// Expected minus received (can go negative with duplicates, as in RFC 3550).
    pub lost: i64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Packets that arrived too late to play (from the jitter buffer).
    pub late: u64,
    pub duplicates: u64,
    pub ssrc_changes: u64,
}

/// Counts what arrives; the engine adds the jitter buffer's late/duplicate counts.
#[derive(Debug, Clone, Default)]
pub struct RtpReceiver {
    clock_rate: u32,
    ssrc: Option<u32>,
    base: i64,
    highest: Option<i64>,
    received_in_stream: u64,
    lost_before: i64,
    transit: Option<i64>,
    jitter: f64,
    stats: ReceiveStats,
}

impl RtpReceiver {
    pub fn new(clock_rate: u32) -> Self {
        RtpReceiver {
            clock_rate: clock_rate.max(1),
            ..Default::default()
        }
    }

    /// Records one received packet of the media stream.
    pub fn on_packet(&mut self, p: &RtpPacket, arrival: Duration) {
        if self.ssrc != Some(p.ssrc) {
            if self.ssrc.is_some() {
                self.stats.ssrc_changes += 1;
                self.lost_before = self.stats.lost;
            }
            self.ssrc = Some(p.ssrc);
            self.highest = None;
            self.received_in_stream = 0;
            self.transit = None;
        }
        let ext = match self.highest {
            None => {
                self.base = i64::from(p.sequence);
                i64::from(p.sequence)
            }
            Some(h) => h + i64::from(p.sequence.wrapping_sub(h as u16) as i16),
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.received_in_stream += 1;
        self.stats.packets += 1;
        self.stats.bytes += p.payload.len() as u64;
        let expected = self.highest.map_or(0, |h| h - self.base + 1);
        self.stats.lost = self.lost_before + expected - self.received_in_stream as i64;

        let rate = f64::from(self.clock_rate);
        let transit = (arrival.as_secs_f64() * rate) as i64 - i64::from(p.timestamp);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs() as f64;
            // Timestamp jumps (DTMF, silence) of over a second are not network jitter.
            if d < rate {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.transit = Some(transit);
        self.stats.jitter_ms = self.jitter / rate * 1000.0;
    }

    pub fn stats(&self) -> ReceiveStats {
        self.stats
    }

    /// The current stream's counters for an RTCP report block (RFC 3550 A.3), once a packet
    /// has arrived.
    pub fn reception(&self) -> Option<Reception> {
        let (ssrc, highest) = (self.ssrc?, self.highest?);
        Some(Reception {
            ssrc,
            // `base` is the first sequence number (cycle 0), so `highest` counts the cycles.
            extended_highest: highest as u32,
            expected: highest - self.base + 1,
            received: self.received_in_stream,
            jitter: self.jitter,
        })
    }
}

/// What one received stream looks like to an RTCP report (see [`RtpReceiver::reception`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reception {
    pub ssrc: u32,
    /// Extended highest sequence number (cycles in the high 16 bits).
    pub extended_highest: u32,
    /// Packets expected since the first one of this SSRC.
    pub expected: i64,
    pub received: u64,
    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    pub jitter: f64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sender_starts_random_and_advances_per_frame() {
        let a = RtpSender::new(0, 160);
        let b = RtpSender::new(0, 160);
        assert_ne!((a.ssrc(), a.timestamp()), (b.ssrc(), b.timestamp()));

        let mut s = RtpSender::with_start(0, 160, 7, 65535, u32::MAX - 100);
        let p1 = s.audio(vec![1]);
        s.tick();
        let p2 = s.audio(vec![2]);
        s.tick();
        assert!(p1.marker && !p2.marker);
        assert_eq!((p1.sequence, p2.sequence), (65535, 0));
        assert_eq!(p2.timestamp, (u32::MAX - 100).wrapping_add(160));
        // Muted for two frames: time moves on, sequence does not; then a new talkspurt.
        s.gap();
        s.tick();
        s.gap();
        s.tick();
        let p3 = s.audio(vec![3]);
        assert!(p3.marker);
        assert_eq!(p3.sequence, 1);
        assert_eq!(p3.timestamp.wrapping_sub(p2.timestamp), 3 * 160);
        assert_eq!(s.packets_sent, 3);
        assert_eq!(p3.ssrc, 7);
    }

    #[test]
    fn receiver_counts_loss_and_jitter() {
        let mut r = RtpReceiver::new(8000);
        let mut s = RtpSender::with_start(0, 160, 1, 65530, 0);
        for i in 0..20u64 {
            let p = s.audio(vec![0; 160]);
            s.tick();
            if i == 5 || i == 6 {
                continue; // lost
            }
            let jitter = if i % 2 == 0 { 0 } else { 10 };
            r.on_packet(&p, Duration::from_millis(i * 20 + jitter));
        }
        let st = r.stats();
        assert_eq!(st.packets, 18);
        assert_eq!(st.lost, 2);
        assert!(
            st.jitter_ms > 3.0 && st.jitter_ms < 12.0,
            "{}",
            st.jitter_ms
        );

        let other = RtpSender::with_start(0, 160, 2, 9, 0).audio(vec![]);
        r.on_packet(&other, Duration::from_secs(1));
        assert_eq!(r.stats().ssrc_changes, 1);
        assert_eq!(r.stats().lost, 2);
    }
}
