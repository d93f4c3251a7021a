//! Any bytes as a SIP datagram: rsipstack's parser, the typed header views the transaction
//! layer reads, and our sans-IO rules over a request's headers never panic; whatever parses
//! serializes (`to_bytes`, as the transports send it) and parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsipstack::sip::prelude::*;
use rsipstack::sip::SipMessage;
use seatline_sip_phone::{auto_answer, compat, dtmf_info, identity};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = SipMessage::try_from(data) else {
        return;
    };

    // What the endpoint and transaction layer look at on every incoming message.
    let _ = msg.start_line();
    let _ = msg.transaction_id();
    let _ = msg.top_via_header();
    let _ = msg.has_multiple_vias();
    if let Ok(from) = msg.from_header() {
        let _ = from.typed();
    }
    if let Ok(to) = msg.to_header() {
        let _ = to.typed();
    }
    if let Ok(cseq) = msg.cseq_header() {
        let _ = cseq.typed();
    }
    let _ = msg.typed_contact_headers();
    let _ = msg.typed_record_route_headers();
    let _ = msg.typed_route_headers();
    let _ = msg.history_info_entries();
    let _ = msg.diversion_entries();
    let _ = msg.rseq_value();
    let _ = msg.rack_value();

    // Our rules, on the (name, value) pairs ua.rs builds (ua::header_pairs).
    let pairs: Vec<(String, String)> = msg
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    if let SipMessage::Request(req) = &msg {
        let _ = identity::caller_identity(&pairs, &["X-*".into()]);
        let _ = auto_answer::requested_auto_answer(&pairs);
        let _ = dtmf_info::parse_info_body(&pairs, req.body());
    }
    for (_, value) in &pairs {
        let _ = compat::to_rsipstack(value);
        let _ = compat::to_rfc(value);
    }

    // Round trip: what we would send must be parsable by the same parser.
    let wire = msg.to_bytes();
    if let Err(e) = SipMessage::try_from(wire.as_slice()) {
        panic!(
            "re-serialized message does not parse again: {e}\n{}",
            String::from_utf8_lossy(&wire)
        );
    }
});
