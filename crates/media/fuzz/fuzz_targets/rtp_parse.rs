//! Any datagram: demux, RTP and RTCP parsing and the telephone-event payload never panic;
//! whatever parses as RTP serializes and parses back to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::dtmf::EventPayload;
use seatline_media::rtp::{classify, parse_rtcp, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    let _ = parse_rtcp(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let bytes = p.to_bytes().expect("a parsed packet serializes");
        let again = RtpPacket::parse(&bytes).expect("a serialized packet parses");
        assert_eq!(again, p, "round trip changed the packet");
        if let Ok(ev) = EventPayload::parse(&p.payload) {
            assert_eq!(EventPayload::parse(&ev.to_bytes()), Ok(ev));
        }
    }
});
