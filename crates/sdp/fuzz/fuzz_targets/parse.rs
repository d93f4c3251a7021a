//! Any bytes: parsing never panics; whatever parses serializes and parses back to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let text = sdp.to_string();
        let again = SessionDescription::parse(text.as_bytes());
        assert_eq!(
            again.as_ref().ok(),
            Some(&sdp),
            "round trip changed the description"
        );
    }
});
