//! Any datagram through the RTCP compound parser: never panics; whatever parses serializes and
//! parses back to the same packets; a session fed the packets never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::quality::RtcpSession;
use seatline_media::rtcp::{build_compound, parse_compound};

fuzz_target!(|data: &[u8]| {
    if let Ok(packets) = parse_compound(data) {
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
