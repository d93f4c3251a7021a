//! An INVITE's body through our SDP parser and answerer: never panics, and an answer keeps the
//! offer's m-line count (RFC 3264 section 6). The body is the one rsipstack hands over
//! (Content-Length applied); when the message does not parse, the bytes after the first blank
//! line (or the whole input), so SDP-only seeds exercise the answerer too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsipstack::sip::SipMessage;
use seatline_sdp::{LocalCaps, MediaSession, SessionDescription};
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let body: Vec<u8> = match SipMessage::try_from(data) {
        Ok(SipMessage::Request(req)) => req.body().clone(),
        Ok(SipMessage::Response(resp)) => resp.body().clone(),
        Err(_) => match data.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => data[i + 4..].to_vec(),
            None => data.to_vec(),
        },
    };
    let Ok(offer) = SessionDescription::parse(&body) else {
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
