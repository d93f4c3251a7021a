//! RFC 4733 telephone-event: the sender side (packets for one digit, clocked by the media
//! clock) and the receiver side (event packets in, each digit out exactly once).

use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtmfError {
    #[error("{0:?} is not a DTMF digit")]
    NotADigit(char),
    #[error("telephone-event payload of {0} bytes, need 4")]
    ShortPayload(usize),
}

/// The RFC 4733 event code of a DTMF digit (0-9, *, #, A-D).
pub fn event_code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF digit of an RFC 4733 event code, if it is one (16 = flash and others are not).
pub fn event_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some((b'0' + code) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + code - 12) as char),
        _ => None,
    }
}

/// The four-byte telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0, 0..=63.
    pub volume: u8,
    /// In RTP clock units since the event's timestamp.
    pub duration: u16,
}

impl EventPayload {
    pub fn parse(b: &[u8]) -> Result<Self, DtmfError> {
        if b.len() < 4 {
            return Err(DtmfError::ShortPayload(b.len()));
        }
        Ok(EventPayload {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (self.volume & 0x3f) | if self.end { 0x80 } else { 0 },
            d[0],
            d[1],
        ]
    }
}

/// One packet the sender wants on the wire this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    pub marker: bool,
    /// The event's start timestamp, the same in every packet of the event.
    pub timestamp: u32,
    pub payload: EventPayload,
}

/// Sends one digit: called once per packetisation interval with that tick's RTP timestamp.
/// First packet has the marker bit, then updates with a growing duration, then the end packet
/// three times (RFC 4733 2.5.1.4), all with the start timestamp.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    total: u32,
    sent: u32,
    start_ts: Option<u32>,
    ends_sent: u8,
}

impl DtmfSender {
    /// `duration` is clamped to what the 16-bit duration field can carry at `clock_rate`
    /// (8.19 s at 8 kHz, 1.36 s at 48 kHz); longer tones would need segments.
    pub fn new(digit: char, duration: Duration, clock_rate: u32) -> Result<Self, DtmfError> {
        let event = event_code(digit).ok_or(DtmfError::NotADigit(digit))?;
        let samples = (duration.as_secs_f64() * f64::from(clock_rate)).round() as u64;
        Ok(DtmfSender {
            event,
            volume: 10,
            total: samples.clamp(1, u64::from(u16::MAX)) as u32,
            sent: 0,
            start_ts: None,
            ends_sent: 0,
        })
    }

    /// The packet for this tick, or None once the three end packets have gone.
    pub fn tick(&mut self, rtp_timestamp: u32, samples_per_tick: u32) -> Option<EventPacket> {
        if self.ends_sent >= 3 {
            return None;
        }
        let (timestamp, marker) = match self.start_ts {
            None => {
                self.start_ts = Some(rtp_timestamp);
                (rtp_timestamp, true)
            }
            Some(ts) => (ts, false),
        };
        self.sent = (self.sent + samples_per_tick).min(self.total);
        let end = self.sent >= self.total && !marker;
        if end {
            self.ends_sent += 1;
        }
        Some(EventPacket {
            marker,
            timestamp,
            payload: EventPayload {
                event: self.event,
                end,
                volume: self.volume,
                duration: self.sent as u16,
            },
        })
    }

    pub fn is_done(&self) -> bool {
        self.ends_sent >= 3
    }
}

/// True when sequence number `a` comes after `b`, across the 16-bit wrap.
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// Turns received telephone-event packets into digits, each exactly once: an event is known by
/// its start timestamp, so updates, end retransmits and reordered stragglers of an event already
/// reported produce nothing. A digit is reported on the first packet seen of a new event, which
/// is the earliest moment and still works when the start packets were lost.
#[derive(Debug, Default, Clone)]
pub struct DtmfReceiver {
    /// Start timestamps of recently reported events (newest last).
    recent: Vec<u32>,
    /// Highest sequence number seen; older packets of events no longer remembered are stale.
    highest_seq: Option<u16>,
    /// The last event reported and whether its end was seen (for long-event segments).
    last: Option<(u8, bool)>,
}

const REMEMBERED_EVENTS: usize = 16;

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet; returns the digit when it starts a new event.
    pub fn on_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<char>, DtmfError> {
        let p = EventPayload::parse(payload)?;
        let stale = match self.highest_seq {
            // More than 100 packets older than the newest: a straggler from long ago.
            Some(h) => !seq_newer(seq, h) && h.wrapping_sub(seq) > 100,
            None => false,
        };
        if self.highest_seq.is_none_or(|h| seq_newer(seq, h)) {
            self.highest_seq = Some(seq);
        }
        if stale {
            return Ok(None);
        }
        if self.recent.contains(&timestamp) {
            if p.end {
                if let Some((ev, ended)) = &mut self.last {
                    if *ev == p.event {
                        *ended = true;
                    }
                }
            }
            return Ok(None);
        }
        // A long event continues in a new segment with a new timestamp and no marker
        // (RFC 4733 2.5.1.3): same event, previous segment not ended.
        let continuation = !marker && self.last == Some((p.event, false));
        self.recent.push(timestamp);
        if self.recent.len() > REMEMBERED_EVENTS {
            self.recent.remove(0);
        }
        self.last = Some((p.event, p.end));
        if continuation {
            return Ok(None);
        }
        Ok(event_digit(p.event))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_digits_map_both_ways() {
        for (i, d) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(event_code(d), Some(i as u8));
            assert_eq!(event_digit(i as u8), Some(d));
        }
        assert_eq!(event_code('a'), Some(12));
        assert_eq!(event_code('x'), None);
        assert_eq!(event_digit(16), None);
        assert!(DtmfSender::new('x', Duration::from_millis(100), 8000).is_err());
    }

    #[test]
    fn sender_emits_start_updates_and_three_ends() {
        let mut s = DtmfSender::new('5', Duration::from_millis(100), 8000).unwrap();
        let mut ts = 1000u32;
        let mut pkts = Vec::new();
        while let Some(p) = s.tick(ts, 160) {
            pkts.push(p);
            ts = ts.wrapping_add(160);
        }
        assert!(s.is_done());
        // 100 ms = 800 samples: 5 packets of 160 then the last one repeated as end x3.
        assert_eq!(pkts.len(), 7);
        assert!(pkts[0].marker && pkts.iter().skip(1).all(|p| !p.marker));
        assert!(pkts
            .iter()
            .all(|p| p.timestamp == 1000 && p.payload.event == 5));
        let durations: Vec<u16> = pkts.iter().map(|p| p.payload.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = pkts.iter().map(|p| p.payload.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        let bytes = pkts[4].payload.to_bytes();
        assert_eq!(bytes, [5, 0x80 | 10, 0x03, 0x20]);
        assert_eq!(EventPayload::parse(&bytes).unwrap(), pkts[4].payload);
    }

    #[test]
    fn receiver_reports_each_digit_once() {
        let mut tx_seq = 65530u16; // crosses the sequence wrap
        let mut wire = Vec::new();
        let mut ts = u32::MAX - 500; // and the timestamp wrap
        for d in ['1', '1', '#'] {
            let mut s = DtmfSender::new(d, Duration::from_millis(60), 8000).unwrap();
            while let Some(p) = s.tick(ts, 160) {
                wire.push((tx_seq, p));
                tx_seq = tx_seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
            }
            ts = ts.wrapping_add(800);
        }
        // Duplicate every packet and swap two neighbours.
        let mut delivered: Vec<_> = wire.iter().flat_map(|p| [*p, *p]).collect();
        delivered.swap(3, 6);
        let mut rx = DtmfReceiver::new();
        let digits: Vec<char> = delivered
            .iter()
            .filter_map(|(seq, p)| {
                rx.on_packet(*seq, p.timestamp, p.marker, &p.payload.to_bytes())
                    .unwrap()
            })
            .collect();
        assert_eq!(digits, ['1', '1', '#']);
    }

    #[test]
    fn receiver_reports_a_digit_whose_start_was_lost() {
        let mut rx = DtmfReceiver::new();
        let end = EventPayload {
            event: 9,
            end: true,
            volume: 10,
            duration: 800,
        }
        .to_bytes();
        assert_eq!(rx.on_packet(10, 5000, false, &end).unwrap(), Some('9'));
        assert_eq!(rx.on_packet(11, 5000, false, &end).unwrap(), None);
        assert!(rx.on_packet(12, 5000, false, &end[..3]).is_err());
        // A stale packet of a forgotten event, 200 packets old, is ignored.
        let start = EventPayload {
            event: 3,
            end: false,
            volume: 10,
            duration: 160,
        }
        .to_bytes();
        assert_eq!(
            rx.on_packet(11u16.wrapping_sub(200), 1, true, &start)
                .unwrap(),
            None
        );
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut rx = DtmfReceiver::new();
        let seg = EventPayload {
            event: 0,
            end: false,
            volume: 10,
            duration: 65535,
        }
        .to_bytes();
        assert_eq!(rx.on_packet(1, 0, true, &seg).unwrap(), Some('0'));
        assert_eq!(rx.on_packet(2, 65535, false, &seg).unwrap(), None);
    }
}
