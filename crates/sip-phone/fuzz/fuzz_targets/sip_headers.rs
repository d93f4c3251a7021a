//! Any bytes as header lines (`Name: value`, CRLF or LF, folded lines joined): the sans-IO
//! rules never panic. No SIP parser in between, so odd names and values reach our code as is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatline_sip_phone::{auto_answer, compat, dtmf_info, identity};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A whole message is fine too: the start line has no ':' before a space... or it does;
    // either way it is just one more pair. The body after the first blank line is the INFO body.
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &data[(i + 4).min(data.len())..]),
        None => (&text[..], &[][..]),
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = pairs.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            pairs.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    let _ = identity::caller_identity(&pairs, &["X-*".into()]);
    let _ = identity::caller_identity(
        &pairs,
        &["X-IVR-*".into(), "User-to-User".into(), "*".into(), String::new()],
    );
    let _ = auto_answer::requested_auto_answer(&pairs);
    let _ = auto_answer::auto_answer_delay(&pairs, Some(std::time::Duration::from_secs(2)), true);
    // The body as lossily decoded text would differ for non-UTF-8; hand over the raw bytes when
    // the header part was valid UTF-8 (offsets match), else the whole input.
    let body = if std::str::from_utf8(data).is_ok() { body } else { data };
    let _ = dtmf_info::parse_info_body(&pairs, body);
    for (name, value) in &pairs {
        let _ = identity::parse_name_addr(value);
        let _ = identity::parse_name_addr(name);
        let _ = identity::uri_user(value);
        let _ = compat::to_rsipstack(value);
        let _ = compat::to_rfc(value);
        // The rename is its own inverse on the names it knows.
        let back = compat::to_rfc(&compat::to_rsipstack(value));
        let _ = compat::to_rsipstack(&back);
    }
    let _ = identity::parse_name_addr(&text);
    let _ = identity::uri_user(&text);
});
