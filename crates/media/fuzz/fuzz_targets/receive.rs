//! A received packet capture, as records of [u16 big-endian length][u8 arrival delta in ms]
//! [datagram]: every datagram goes through demux and parsing into the jitter buffer and the
//! DTMF receiver, and playout pops once per 20 ms of arrival time, as the engine does. Nothing
//! may panic, playout never outruns what was accepted, and the target delay stays in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::dtmf::DtmfReceiver;
use seatline_media::jitter::{JitterBuffer, JitterConfig, Playout};
use seatline_media::rtp::{classify, PacketKind, RtpPacket};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let cfg = JitterConfig::default();
    let mut jb = JitterBuffer::new(cfg);
    let mut dtmf = DtmfReceiver::new();
    let mut now = Duration::ZERO;
    let mut next_tick = Duration::ZERO;
    let mut rest = data;
    // Playout can only hand out payloads that were pushed.
    let mut longest_pushed = 0;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        now += Duration::from_millis(u64::from(rest[2]));
        let body = &rest[3..];
        let take = len.min(body.len());
        let (datagram, tail) = body.split_at(take);
        rest = tail;
        while next_tick <= now {
            next_tick += cfg.frame;
            if let Playout::Frame(f) | Playout::Fec(f) = jb.pop() {
                assert!(f.payload.len() <= longest_pushed);
            }
        }
        if classify(datagram) != PacketKind::Rtp {
            continue;
        }
        let Ok(p) = RtpPacket::parse(datagram) else { continue };
        if p.payload_type == 101 {
            let _ = dtmf.on_packet(p.sequence, p.timestamp, p.marker, &p.payload);
        } else {
            longest_pushed = longest_pushed.max(p.payload.len());
            jb.push(p.ssrc, p.sequence, p.timestamp, p.marker, p.payload, now);
        }
        let st = jb.stats();
        assert!(st.played + st.dropped <= st.pushed);
        assert!(jb.target_delay() >= cfg.min_delay && jb.target_delay() <= cfg.max_delay);
    }
});
