//! Work-arounds for gaps in rsipstack 0.7.14, applied to messages at the endpoint's edge.
//!
//! Digest algorithm names: RFC 7616/8760 spell them `SHA-256` and `SHA-512-256`; rsipstack
//! parses only `SHA256`/`SHA512` (a challenge from Kamailio, Asterisk or FreeSWITCH with
//! `algorithm=SHA-256` fails to parse) and writes `SHA256` in its answer. We rename on the way in
//! and back on the way out. Remove once rsipstack accepts the RFC names.

use rsipstack::sip::{Header, SipMessage};
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transport::SipAddr;

pub struct DigestAlgorithmNames;

/// `algorithm=SHA-256` (any case, optionally quoted) → `algorithm=SHA256`, and the `-sess` forms.
pub fn to_rsipstack(value: &str) -> String {
    replace_algorithm(
        value,
        &[
            ("SHA-256-SESS", "SHA256-sess"),
            ("SHA-256", "SHA256"),
            ("SHA-512-256-SESS", "SHA512-sess"),
            ("SHA-512-256", "SHA512"),
        ],
    )
}

/// `algorithm=SHA256` → `algorithm=SHA-256` for what goes on the wire.
pub fn to_rfc(value: &str) -> String {
    replace_algorithm(
        value,
        &[
            ("SHA256-SESS", "SHA-256-sess"),
            ("SHA256", "SHA-256"),
            ("SHA512-SESS", "SHA-512-256-sess"),
            ("SHA512", "SHA-512-256"),
        ],
    )
}

fn replace_algorithm(value: &str, table: &[(&str, &str)]) -> String {
    let lower = value.to_ascii_lowercase();
    let Some(start) = lower.find("algorithm=") else {
        return value.to_string();
    };
    let after = start + "algorithm=".len();
    let rest = &value[after..];
    let quoted = rest.starts_with('"');
    let body_start = after + usize::from(quoted);
    let body_end = value[body_start..]
        .find(|c: char| c == ',' || c == '"' || c.is_whitespace())
        .map_or(value.len(), |i| body_start + i);
    let name = &value[body_start..body_end];
    for (from, to) in table {
        if name.eq_ignore_ascii_case(from) {
            return format!("{}{}{}", &value[..body_start], to, &value[body_end..]);
        }
    }
    value.to_string()
}

fn map_headers(msg: &mut SipMessage, f: fn(&str) -> String) {
    let headers = match msg {
        SipMessage::Request(r) => &mut r.headers,
        SipMessage::Response(r) => &mut r.headers,
    };
    for h in headers.iter_mut() {
        match h {
            Header::WwwAuthenticate(v) => *v = f(v.value()).into(),
            Header::ProxyAuthenticate(v) => *v = f(v.value()).into(),
            Header::Authorization(v) => *v = f(v.value()).into(),
            Header::ProxyAuthorization(v) => *v = f(v.value()).into(),
            _ => {}
        }
    }
}

impl MessageInspector for DigestAlgorithmNames {
    fn before_send(&self, mut msg: SipMessage, _dest: Option<&SipAddr>) -> SipMessage {
        map_headers(&mut msg, to_rfc);
        msg
    }
    fn after_received(&self, mut msg: SipMessage, _from: Option<&SipAddr>) -> SipMessage {
        map_headers(&mut msg, to_rsipstack);
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_both_ways() {
        let challenge =
            r#"Digest realm="seatline.test", nonce="abc", qop="auth", algorithm=SHA-256"#;
        assert_eq!(
            to_rsipstack(challenge),
            r#"Digest realm="seatline.test", nonce="abc", qop="auth", algorithm=SHA256"#
        );
        assert_eq!(
            to_rsipstack(r#"Digest algorithm="sha-256", realm="x""#),
            r#"Digest algorithm="SHA256", realm="x""#
        );
        assert_eq!(
            to_rsipstack("Digest realm=\"x\", algorithm=MD5"),
            "Digest realm=\"x\", algorithm=MD5"
        );
        let answer = r#"Digest username="1001", realm="r", uri="sip:r", response="ff", algorithm=SHA256, qop=auth"#;
        assert_eq!(
            to_rfc(answer),
            r#"Digest username="1001", realm="r", uri="sip:r", response="ff", algorithm=SHA-256, qop=auth"#
        );
        assert_eq!(
            to_rfc("Digest algorithm=SHA256-sess"),
            "Digest algorithm=SHA-256-sess"
        );
        assert_eq!(to_rfc("Digest realm=\"x\""), "Digest realm=\"x\"");
        // Never panics on odd input.
        assert_eq!(to_rfc("algorithm="), "algorithm=");
        assert_eq!(to_rsipstack("algorithm=\""), "algorithm=\"");
    }
}
