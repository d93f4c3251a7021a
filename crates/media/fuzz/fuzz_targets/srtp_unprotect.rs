//! Any datagram through SRTP/SRTCP unprotect never panics and, without the key, never
//! authenticates; a packet protected by the sender comes back unchanged, and the same packet
//! with its first byte of input flipped is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_media::srtp::{SrtpContext, SrtpKey, SrtpProfile};

const KEY: [u8; 30] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];

fuzz_target!(|data: &[u8]| {
    let key = SrtpKey::from_bytes(&KEY).expect("30 bytes");
    for profile in [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AesCm128HmacSha1_32] {
        let mut rx = SrtpContext::new(profile, &key).expect("context");
        let _ = rx.unprotect_rtp(data);
        let _ = rx.unprotect_rtcp(data);
        let mut tx = SrtpContext::new(profile, &key).expect("context");
        let mut rx = SrtpContext::new(profile, &key).expect("context");
        if let Ok(p) = tx.protect_rtp(data) {
            assert_eq!(rx.unprotect_rtp(&p).as_deref(), Ok(data), "RTP round trip");
            let mut bad = p.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(rx.unprotect_rtp(&bad).is_err(), "a tampered tag passed");
        }
        if let Ok(p) = tx.protect_rtcp(data) {
            assert_eq!(rx.unprotect_rtcp(&p).as_deref(), Ok(data), "RTCP round trip");
            assert!(rx.unprotect_rtcp(&p).is_err(), "a replayed SRTCP packet passed");
        }
    }
});
