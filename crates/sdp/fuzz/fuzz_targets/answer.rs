//! Any parsable offer: answering, holding and resuming never panic, and an answer keeps the
//! offer's m-line count (RFC 3264 section 6).
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_sdp::{LocalCaps, MediaSession, SessionDescription};
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let caps = LocalCaps::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 40_000);
    let mut session = MediaSession::new(caps, 1);
    if let Ok((answer, _)) = session.create_answer(&offer) {
        assert_eq!(answer.media.len(), offer.media.len());
        let _ = session.hold();
        let _ = session.resume();
    }
});
