//! Any datagram through the RTCP compound parser: never panics; whatever parses serializes and
//! parses back to the same packets; a session fed the packets never panics either. The RTCP
//! port's first check never panics, and passes whatever parses as a report compound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::quality::RtcpSession;
use seatline_media::rtcp::{build_compound, parse_compound, RtcpPacket};
use seatline_media::rtcp_route::check_rtcp_datagram;

fuzz_target!(|data: &[u8]| {
    let checked = check_rtcp_datagram(data);
    if let Ok(packets) = parse_compound(data) {
        // An SR or RR first is 8 bytes at least with type 200/201: the port check lets it in.
        if matches!(
            packets.first(),
            Some(RtcpPacket::SenderReport { .. } | RtcpPacket::ReceiverReport { .. })
        ) {
            assert!(checked.is_ok(), "{checked:?}");
        }
        // Raw packets with padded odd-length payloads cannot be rebuilt; everything else must.
        if let Ok(bytes) = build_compound(&packets) {
            let again = parse_compound(&bytes).expect("a built compound parses");
            assert_eq!(again, packets, "round trip changed the packets");
        }
        let mut session = RtcpSession::new(0x1234_5678, "fuzz@seatline", 8000);
        session.on_compound(&packets, u64::from(data.len() as u32) << 32);
        let _ = session.remote_loss_and_jitter();
    }
});
