//! Real-world-shaped SDPs shared by the unit tests (the same files seed the fuzz corpus).

pub const ASTERISK: &[u8] = include_bytes!("../fuzz-corpus/asterisk_offer.sdp");
pub const ASTERISK_T38: &[u8] = include_bytes!("../fuzz-corpus/asterisk_t38_reinvite.sdp");
pub const BARESIP: &[u8] = include_bytes!("../fuzz-corpus/baresip_offer.sdp");
pub const FREESWITCH: &[u8] = include_bytes!("../fuzz-corpus/freeswitch_offer.sdp");
pub const FREESWITCH_SRTP: &[u8] = include_bytes!("../fuzz-corpus/freeswitch_srtp_offer.sdp");
pub const LINPHONE_IPV6: &[u8] = include_bytes!("../fuzz-corpus/linphone_offer_ipv6.sdp");
pub const OLD_HOLD_LF: &[u8] = include_bytes!("../fuzz-corpus/old_hold_lf.sdp");
pub const SIPP: &[u8] = include_bytes!("../fuzz-corpus/sipp_uac.sdp");
pub const WEBRTC_GATEWAY: &[u8] = include_bytes!("../fuzz-corpus/webrtc_gateway_offer.sdp");

pub const ALL: &[(&str, &[u8])] = &[
    ("asterisk", ASTERISK),
    ("asterisk_t38", ASTERISK_T38),
    ("baresip", BARESIP),
    ("freeswitch", FREESWITCH),
    ("freeswitch_srtp", FREESWITCH_SRTP),
    ("linphone_ipv6", LINPHONE_IPV6),
    ("old_hold_lf", OLD_HOLD_LF),
    ("sipp", SIPP),
    ("webrtc_gateway", WEBRTC_GATEWAY),
];

pub fn parse(bytes: &[u8]) -> crate::SessionDescription {
    match crate::SessionDescription::parse(bytes) {
        Ok(s) => s,
        Err(e) => panic!("fixture does not parse: {e}"),
    }
}
