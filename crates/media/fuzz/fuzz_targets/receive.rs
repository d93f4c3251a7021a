//! A received packet capture, as records of [u16 big-endian length][u8 arrival delta in ms]
//! [datagram]: every datagram goes through demux and parsing into the jitter buffer and the
//! DTMF receiver, and playout pops once per 20 ms of arrival time, as the engine does. Nothing
//! may panic, playout never outruns what was accepted, and the target delay stays in bounds.
//! Played frames are decoded as PCMU (with its concealment) and as Opus (libopus with FEC and
//! PLC) — garbage payloads must come back as errors or audio, never a crash. Payload type 13
//! goes in as comfort noise (RFC 3389) and short payloads as Opus DTX, played through
//! `AudioDecoder::play` as the engine does. A second buffer gets the same packets and plays
//! through `Playback` (PCMU) as the engine does, time-stretching: every tick exactly one frame,
//! and the audio waiting stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::codec::{AudioDecoder, Codec, CodecName};
use seatline_media::dtmf::DtmfReceiver;
use seatline_media::jitter::{FrameKind, JitterBuffer, JitterConfig, Playout};
use seatline_media::playback::Playback;
use seatline_media::rtp::{classify, PacketKind, RtpPacket};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let cfg = JitterConfig::default();
    let mut jb = JitterBuffer::new(cfg);
    let mut stretched = JitterBuffer::new(JitterConfig {
        caller_shrinks: true,
        ..cfg
    });
    let mut dtmf = DtmfReceiver::new();
    let (Ok(mut pcmu), Ok(mut opus)) = (
        AudioDecoder::new(Codec::PCMU, 160),
        AudioDecoder::new(Codec::opus(111), 960),
    ) else {
        return;
    };
    let Ok(decoder) = AudioDecoder::new(Codec::PCMU, 160) else {
        return;
    };
    let mut playback = Playback::new(decoder, CodecName::Pcmu, 8000, 160);
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
            assert_eq!(playback.next_frame(&mut stretched).len(), 160);
            // At most what a cut needs (35 ms), a frame and one expansion, or the longest
            // packet decoded (a PCMU byte is a sample) and a frame.
            let longest = Duration::from_micros(125 * longest_pushed as u64);
            assert!(playback.pending() <= Duration::from_millis(75) + longest);
            match jb.pop() {
                Playout::Frame(f) if f.kind != FrameKind::Audio => {
                    assert!(f.payload.len() <= longest_pushed);
                    assert_eq!(pcmu.play(Playout::Frame(f.clone())).len(), 160);
                    let _ = opus.play(Playout::Frame(f));
                    // The silence after it: noise, never a panic.
                    assert_eq!(pcmu.play(Playout::Empty).len(), 160);
                    let _ = opus.play(Playout::Lost);
                }
                Playout::Frame(f) => {
                    assert!(f.payload.len() <= longest_pushed);
                    let _ = pcmu.decode(&f.payload);
                    let _ = opus.decode(&f.payload);
                }
                Playout::Fec(f) => {
                    assert!(f.payload.len() <= longest_pushed);
                    let _ = pcmu.decode_fec(&f.payload);
                    let _ = opus.decode_fec(&f.payload);
                }
                Playout::Lost => {
                    assert_eq!(pcmu.conceal().map(|c| c.len()).ok(), Some(160));
                    let _ = opus.conceal();
                }
                Playout::Empty => {
                    pcmu.silence();
                    opus.silence();
                }
            }
        }
        if classify(datagram) != PacketKind::Rtp {
            continue;
        }
        let Ok(p) = RtpPacket::parse(datagram) else { continue };
        if p.payload_type == 101 {
            let _ = dtmf.on_packet(p.sequence, p.timestamp, p.marker, &p.payload);
        } else if p.payload_type == 13 || p.payload.len() <= 2 {
            let kind = if p.payload_type == 13 {
                FrameKind::ComfortNoise
            } else {
                FrameKind::Dtx
            };
            longest_pushed = longest_pushed.max(p.payload.len());
            stretched.push_silence(p.ssrc, p.sequence, p.timestamp, p.payload.clone(), now, kind);
            jb.push_silence(p.ssrc, p.sequence, p.timestamp, p.payload, now, kind);
        } else {
            longest_pushed = longest_pushed.max(p.payload.len());
            stretched.push(p.ssrc, p.sequence, p.timestamp, p.marker, p.payload.clone(), now);
            jb.push(p.ssrc, p.sequence, p.timestamp, p.marker, p.payload, now);
        }
        let st = jb.stats();
        assert!(st.played + st.dropped <= st.pushed);
        assert!(jb.target_delay() >= cfg.min_delay && jb.target_delay() <= cfg.max_delay);
    }
});
