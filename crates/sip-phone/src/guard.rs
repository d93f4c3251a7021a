//! Requests rsipstack 0.7.14 parses but should not act on: answered `400 Bad Request` at the
//! endpoint's edge (RFC 3261 8.2 / 18.3) instead of starting a transaction (or, for a CSeq
//! rsipstack cannot read, being dropped with a log line and no answer).
//!
//! What still gets no answer, because rsipstack drops it in its transport before any hook:
//! a request without Via (nowhere to send a response), a start line it cannot parse, and a UDP
//! datagram over its 8 KiB receive buffer (truncated, then unparseable).

use rsipstack::sip::{Header, Request, Response, SipMessage, StatusCode};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transport::TransportEvent;
use tracing::warn;

/// Answers malformed requests with 400 and keeps them from the transaction layer.
pub struct MalformedRequests {
    pub user_agent: String,
}

/// Why `req` must be refused with 400, if it must. `reliable`: it came over TCP/TLS (where a
/// Content-Length too large means "wait for more", not an error).
pub fn problem(req: &Request, reliable: bool) -> Option<String> {
    let mut cseq = None;
    let mut content_length = None;
    for h in req.headers.iter() {
        match h {
            Header::CSeq(v) if cseq.replace(v.value().to_string()).is_some() => {
                return Some("more than one CSeq".into());
            }
            Header::ContentLength(v) => content_length = Some(v.value().to_string()),
            _ => {}
        }
    }
    let Some(cseq) = cseq else {
        return Some("no CSeq".into());
    };
    let mut parts = cseq.split_whitespace();
    let seq = parts.next().unwrap_or_default();
    // RFC 3261 8.1.1.5: a 32-bit unsigned integer, less than 2**31.
    let seq_ok = !seq.is_empty()
        && seq.bytes().all(|b| b.is_ascii_digit())
        && seq.parse::<u64>().is_ok_and(|n| n < 1 << 31);
    if !seq_ok {
        return Some(format!("bad CSeq number in {cseq:?}"));
    }
    let method = parts.next().unwrap_or_default();
    if parts.next().is_some() || !method.eq_ignore_ascii_case(&req.method().to_string()) {
        return Some(format!(
            "CSeq {cseq:?} does not match the method {}",
            req.method()
        ));
    }
    if let Some(len) = content_length {
        match len.trim().parse::<usize>() {
            Ok(n) if !reliable && n > req.body().len() => {
                return Some(format!(
                    "Content-Length {n} but {} body bytes in the datagram",
                    req.body().len()
                ))
            }
            Ok(_) => {}
            Err(_) => return Some(format!("bad Content-Length {len:?}")),
        }
    }
    None
}

/// The 400 for `req`, with a Warning (RFC 3261 20.43) saying what was wrong.
pub fn bad_request(req: &Request, why: &str, user_agent: &str) -> Response {
    let mut headers = req.headers.clone();
    headers.retain(|h| {
        matches!(
            h,
            Header::Via(_) | Header::CallId(_) | Header::From(_) | Header::To(_) | Header::CSeq(_)
        )
    });
    let text: String = why
        .chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .collect();
    headers.push(Header::Other(
        "Warning".into(),
        format!("399 seatline \"{text}\""),
    ));
    headers.push(Header::UserAgent(user_agent.to_string().into()));
    headers.push(Header::ContentLength(0u32.into()));
    Response {
        status_code: StatusCode::BadRequest,
        wire_reason: None,
        version: *req.version(),
        headers,
        body: Vec::new(),
    }
}

#[async_trait::async_trait]
impl TransportEventInspector for MalformedRequests {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        if let TransportEvent::Incoming(SipMessage::Request(req), connection, from) = &event {
            if req.method() != &rsipstack::sip::Method::Ack {
                if let Some(why) = problem(req, connection.is_reliable()) {
                    warn!(src = %from, %why, "malformed request answered 400");
                    let response = bad_request(req, &why, &self.user_agent);
                    if let Err(e) = connection.send(response.into(), Some(from)).await {
                        warn!(error = %e, "could not send a 400");
                    }
                    return None;
                }
            }
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        match SipMessage::try_from(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("not a request"),
        }
    }

    fn options(cseq: &str, extra: &str, body: &str) -> String {
        format!(
            "OPTIONS sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:1002@x>\r\nCall-ID: c1\r\nCSeq: {cseq}\r\n{extra}\r\n{body}"
        )
    }

    #[test]
    fn good_requests_pass() {
        let r = request(&options("1 OPTIONS", "Content-Length: 0\r\n", ""));
        assert_eq!(problem(&r, false), None);
        let r = request(&options("7 OPTIONS", "Content-Length: 3\r\n", "abc"));
        assert_eq!(problem(&r, false), None);
    }

    #[test]
    fn bad_cseq_and_content_length_are_caught() {
        let r = request(&options("1x2 OPTIONS", "Content-Length: 0\r\n", ""));
        assert!(problem(&r, false).unwrap().contains("CSeq"));
        let r = request(&options("1 INVITE", "Content-Length: 0\r\n", ""));
        assert!(problem(&r, false).unwrap().contains("does not match"));
        let r = request(&options("4294967296 OPTIONS", "", ""));
        assert!(problem(&r, false).is_some());
        let r = request(&options("1 OPTIONS", "Content-Length: 900\r\n", "v=0\r\n"));
        let why = problem(&r, false).unwrap();
        assert!(why.contains("900"), "{why}");
        // Over TCP the framing layer deals with it.
        assert_eq!(problem(&r, true), None);
        let r = request(&options("1 OPTIONS", "Content-Length: lots\r\n", ""));
        assert!(problem(&r, false).is_some());
    }

    #[test]
    fn the_400_echoes_the_transaction_headers() {
        let r = request(&options("1x2 OPTIONS", "Content-Length: 0\r\n", ""));
        let resp = bad_request(&r, "bad \"CSeq\"", "Seatline/test");
        let text = SipMessage::from(resp).to_string();
        assert!(text.starts_with("SIP/2.0 400"), "{text}");
        assert!(text.contains("branch=z9hG4bK1") && text.contains("Call-ID: c1"));
        assert!(text.contains("CSeq: 1x2 OPTIONS"), "{text}");
        assert!(
            text.contains("Warning: 399 seatline \"bad 'CSeq'\""),
            "{text}"
        );
    }
}
