//! A minimal SIP-over-UDP client with RFC 7616/8760 digest (MD5 and SHA-256): REGISTER, a
//! complete INVITE/ACK/BYE call and OPTIONS pings. It exists because neither sipp 3.6 nor
//! baresip 1.0 compute SHA-256 digests; it is the reference for Kamailio's SHA-256 mode and a
//! readiness probe, not a user agent.

use crate::error::{io, Error, Result};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A parsed SIP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    /// Header lines in order, names as received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header with this name, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn parse(text: &str) -> Result<Self> {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or_default();
        let mut parts = start.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let (true, Some(status)) = (version == "SIP/2.0", status) else {
            return Err(Error::Sip(format!("not a SIP response: {start:?}")));
        };
        let reason = parts.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Self {
            status,
            reason,
            headers,
            body: body.to_string(),
        })
    }
}

/// The parameters of a `Digest` challenge (WWW-Authenticate / Proxy-Authenticate).
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// As sent by the server; absent means MD5.
    pub algorithm: Option<String>,
    pub qop: Option<String>,
}

impl Challenge {
    pub fn parse(value: &str) -> Result<Self> {
        let rest = value
            .trim()
            .strip_prefix("Digest")
            .ok_or_else(|| Error::Sip(format!("not a Digest challenge: {value}")))?;
        let params = parse_params(rest);
        Ok(Self {
            realm: params.get("realm").cloned().unwrap_or_default(),
            nonce: params
                .get("nonce")
                .cloned()
                .ok_or_else(|| Error::Sip(format!("challenge without nonce: {value}")))?,
            opaque: params.get("opaque").cloned(),
            algorithm: params.get("algorithm").cloned(),
            qop: params.get("qop").cloned(),
        })
    }

    /// The `Authorization` / `Proxy-Authorization` value answering this challenge.
    pub fn answer(&self, user: &str, password: &str, method: &str, uri: &str) -> Result<String> {
        let algorithm = self.algorithm.clone().unwrap_or_else(|| "MD5".into());
        let hash = |s: &str| -> Result<String> {
            match algorithm.to_ascii_uppercase().as_str() {
                "MD5" => Ok(hex(&Md5::digest(s.as_bytes()))),
                "SHA-256" => Ok(hex(&Sha256::digest(s.as_bytes()))),
                other => Err(Error::Sip(format!("unsupported digest algorithm {other}"))),
            }
        };
        let ha1 = hash(&format!("{user}:{}:{password}", self.realm))?;
        let ha2 = hash(&format!("{method}:{uri}"))?;
        let qop_auth = self
            .qop
            .as_deref()
            .is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
        let cnonce = format!("{:08x}", std::process::id() ^ 0x5ea7_1e00);
        let (response, qop_part) = if qop_auth {
            let r = hash(&format!(
                "{ha1}:{}:00000001:{cnonce}:auth:{ha2}",
                self.nonce
            ))?;
            (r, format!(", qop=auth, nc=00000001, cnonce=\"{cnonce}\""))
        } else {
            (hash(&format!("{ha1}:{}:{ha2}", self.nonce))?, String::new())
        };
        let opaque = self
            .opaque
            .as_ref()
            .map(|o| format!(", opaque=\"{o}\""))
            .unwrap_or_default();
        Ok(format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}{qop_part}{opaque}",
            self.realm, self.nonce
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v.trim().to_string(), n),
                None => (after.trim().to_string(), ""),
            }
        };
        out.insert(name, value);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// A UDP SIP client bound to an ephemeral loopback port.
#[derive(Debug)]
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
    call_id: String,
    tag: String,
    cseq: u32,
    branch_seq: u32,
}

impl Client {
    /// A client sending everything to `server` (the proxy).
    pub fn new(server: SocketAddr) -> Result<Self> {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(io("bind SIP client socket"))?;
        let local = sock.local_addr().map_err(io("local_addr"))?;
        let seed = format!("{}-{}", std::process::id(), local.port());
        Ok(Self {
            sock,
            server,
            local,
            call_id: format!("seatline-peers-{seed}"),
            tag: format!("t{seed}"),
            cseq: 0,
            branch_seq: 0,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn via(&mut self) -> String {
        self.branch_seq += 1;
        format!(
            "SIP/2.0/UDP {};rport;branch=z9hG4bK-{}-{}",
            self.local, self.tag, self.branch_seq
        )
    }

    /// Sends `message` and waits for a final response (retransmitting every 500 ms), skipping
    /// provisional ones.
    pub fn transact(&self, message: &str, timeout: Duration) -> Result<Response> {
        let deadline = Instant::now() + timeout;
        let mut next_send = Instant::now();
        let mut got_provisional = false;
        let mut buf = vec![0u8; 65535];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: format!("final response from {}", self.server),
                    after: timeout,
                    logs: String::new(),
                });
            }
            if now >= next_send && !got_provisional {
                self.sock
                    .send_to(message.as_bytes(), self.server)
                    .map_err(io("send SIP request"))?;
                next_send = now + Duration::from_millis(500);
            }
            let wait = deadline.min(next_send.max(now + Duration::from_millis(10))) - now;
            self.sock
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .map_err(io("set_read_timeout"))?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let Ok(resp) = Response::parse(&text) else {
                        continue; // a request from the far end; ignored
                    };
                    if resp.status >= 200 {
                        return Ok(resp);
                    }
                    got_provisional = true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(io("receive SIP response")(e)),
            }
        }
    }

    fn request(&mut self, method: &str, uri: &str, extra: &[String], body: &str) -> String {
        self.cseq += 1;
        let mut msg = format!(
            "{method} {uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n",
            self.via()
        );
        for h in extra {
            msg.push_str(h);
            msg.push_str("\r\n");
        }
        msg.push_str(&format!(
            "Call-ID: {}\r\nCSeq: {} {method}\r\nUser-Agent: seatline-sip-peers\r\nContent-Length: {}\r\n\r\n{body}",
            self.call_id,
            self.cseq,
            body.len()
        ));
        msg
    }

    /// `OPTIONS sip:<server>`: the status code of the answer.
    pub fn options(&mut self, timeout: Duration) -> Result<u16> {
        let uri = format!("sip:{}", self.server);
        let headers = vec![
            format!("From: <sip:probe@{}>;tag={}", self.local, self.tag),
            format!("To: <{uri}>"),
        ];
        let msg = self.request("OPTIONS", &uri, &headers, "");
        Ok(self.transact(&msg, timeout)?.status)
    }

    /// REGISTERs `user@domain` (binding `contact`, default this client's address) answering
    /// one 401 with digest credentials. Returns the final response (200 on success).
    pub fn register(
        &mut self,
        domain: &str,
        user: &str,
        password: &str,
        contact: Option<SocketAddr>,
        expires: u32,
        timeout: Duration,
    ) -> Result<Response> {
        let uri = format!("sip:{domain}");
        let contact = contact.unwrap_or(self.local);
        let base = vec![
            format!("From: <sip:{user}@{domain}>;tag={}", self.tag),
            format!("To: <sip:{user}@{domain}>"),
            format!("Contact: <sip:{user}@{contact}>"),
            format!("Expires: {expires}"),
        ];
        let msg = self.request("REGISTER", &uri, &base, "");
        let first = self.transact(&msg, timeout)?;
        if first.status != 401 {
            return Ok(first);
        }
        let challenge = Challenge::parse(first.header("WWW-Authenticate").unwrap_or_default())?;
        let mut headers = base;
        headers.push(format!(
            "Authorization: {}",
            challenge.answer(user, password, "REGISTER", &uri)?
        ));
        let msg = self.request("REGISTER", &uri, &headers, "");
        self.transact(&msg, timeout)
    }

    /// The challenge the server sends to an unauthenticated REGISTER (to check the algorithm).
    pub fn register_challenge(&mut self, domain: &str, user: &str) -> Result<Challenge> {
        let uri = format!("sip:{domain}");
        let headers = vec![
            format!("From: <sip:{user}@{domain}>;tag={}", self.tag),
            format!("To: <sip:{user}@{domain}>"),
            format!("Contact: <sip:{user}@{}>", self.local),
            "Expires: 0".to_string(),
        ];
        let msg = self.request("REGISTER", &uri, &headers, "");
        let resp = self.transact(&msg, Duration::from_secs(5))?;
        match resp.header("WWW-Authenticate") {
            Some(v) if resp.status == 401 => Challenge::parse(v),
            _ => Err(Error::Sip(format!(
                "expected 401 with WWW-Authenticate, got {} {}",
                resp.status, resp.reason
            ))),
        }
    }

    /// A whole call: INVITE `callee@domain` through the server (answering one 401/407), ACK
    /// the 200 along the Record-Route set, hold it for `talk`, then BYE. Returns the INVITE's
    /// final response and the BYE's status. The SDP offers PCMU on `media_port` (nothing is
    /// sent: pair it with a UAS that does not need RTP, or `-rtp_echo`).
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        domain: &str,
        caller: &str,
        password: &str,
        callee: &str,
        media_port: u16,
        talk: Duration,
        timeout: Duration,
    ) -> Result<(Response, u16)> {
        let uri = format!("sip:{callee}@{domain}");
        let sdp = format!(
            "v=0\r\no=peers 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        );
        let from = format!("From: <sip:{caller}@{domain}>;tag={}", self.tag);
        let mut headers = vec![
            from.clone(),
            format!("To: <{uri}>"),
            format!("Contact: <sip:{caller}@{}>", self.local),
            "Content-Type: application/sdp".to_string(),
        ];
        let invite = self.request("INVITE", &uri, &headers, &sdp);
        let mut resp = self.transact(&invite, timeout)?;
        if resp.status == 401 || resp.status == 407 {
            self.ack_failure(&invite, &resp)?;
            let (challenge_header, auth_header) = if resp.status == 407 {
                ("Proxy-Authenticate", "Proxy-Authorization")
            } else {
                ("WWW-Authenticate", "Authorization")
            };
            let challenge = Challenge::parse(resp.header(challenge_header).unwrap_or_default())?;
            headers.push(format!(
                "{auth_header}: {}",
                challenge.answer(caller, password, "INVITE", &uri)?
            ));
            let invite = self.request("INVITE", &uri, &headers, &sdp);
            resp = self.transact(&invite, timeout)?;
        }
        if resp.status != 200 {
            return Ok((resp, 0));
        }
        let invite_cseq = self.cseq;
        // Dialog: remote target from Contact, route set from Record-Route (reversed for a UAC).
        let to = resp.header("To").unwrap_or_default().to_string();
        let target = resp
            .header("Contact")
            .and_then(|c| c.split('<').nth(1))
            .and_then(|c| c.split('>').next())
            .map(str::to_string)
            .ok_or_else(|| Error::Sip("200 OK without Contact".into()))?;
        let mut routes: Vec<String> = resp
            .headers_named("Record-Route")
            .flat_map(|v| v.split(','))
            .map(|r| r.trim().to_string())
            .collect();
        routes.reverse();
        let mut dialog = vec![from, format!("To: {to}")];
        if !routes.is_empty() {
            dialog.push(format!("Route: {}", routes.join(", ")));
        }
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n{}\r\nCall-ID: {}\r\nCSeq: {invite_cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            self.via(),
            dialog.join("\r\n"),
            self.call_id
        );
        self.sock
            .send_to(ack.as_bytes(), self.server)
            .map_err(io("send ACK"))?;
        std::thread::sleep(talk);
        let bye = self.request("BYE", &target, &dialog, "");
        let bye_status = self.transact(&bye, timeout)?.status;
        Ok((resp, bye_status))
    }

    /// ACK for a non-2xx final response: same branch and CSeq number as the INVITE.
    fn ack_failure(&self, invite: &str, resp: &Response) -> Result<()> {
        let line = |name: &str| {
            invite
                .split("\r\n")
                .find(|l| {
                    l.split_once(':')
                        .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
                })
                .unwrap_or_default()
                .to_string()
        };
        let ruri = invite
            .split(' ')
            .nth(1)
            .ok_or_else(|| Error::Sip("bad INVITE".into()))?;
        let cseq_num = line("CSeq")
            .split_whitespace()
            .nth(1)
            .unwrap_or("1")
            .to_string();
        let ack = format!(
            "ACK {ruri} SIP/2.0\r\n{}\r\nMax-Forwards: 70\r\n{}\r\nTo: {}\r\n{}\r\nCSeq: {cseq_num} ACK\r\nContent-Length: 0\r\n\r\n",
            line("Via"),
            line("From"),
            resp.header("To").unwrap_or_default(),
            line("Call-ID"),
        );
        self.sock
            .send_to(ack.as_bytes(), self.server)
            .map_err(io("send ACK"))?;
        Ok(())
    }
}

/// REGISTERs once with a fresh client: the final status code (200 on success).
pub fn register(
    server: SocketAddr,
    domain: &str,
    user: &str,
    password: &str,
    contact: Option<SocketAddr>,
    timeout: Duration,
) -> Result<u16> {
    let mut client = Client::new(server)?;
    Ok(client
        .register(domain, user, password, contact, 300, timeout)?
        .status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_md5_example() {
        // RFC 2617 section 3.5 (qop=auth): response 6629fae49393a05397450978507c4ef1.
        let c = Challenge {
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
            algorithm: None,
            qop: Some("auth,auth-int".into()),
        };
        // The cnonce is ours, so recompute with the RFC's cnonce by hand instead.
        let ha1 = hex(&Md5::digest(b"Mufasa:testrealm@host.com:Circle Of Life"));
        let ha2 = hex(&Md5::digest(b"GET:/dir/index.html"));
        let r = hex(&Md5::digest(
            format!("{ha1}:{}:00000001:0a4f113b:auth:{ha2}", c.nonce).as_bytes(),
        ));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        let answer = c
            .answer("Mufasa", "Circle Of Life", "GET", "/dir/index.html")
            .unwrap();
        assert!(answer.contains("qop=auth, nc=00000001"), "{answer}");
    }

    #[test]
    fn rfc_7616_sha256_example() {
        // RFC 7616 section 3.9.1 (SHA-256, qop=auth, cnonce f2/4b...).
        let realm = "http-auth@example.org";
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let ha1 = hex(&Sha256::digest(
            format!("Mufasa:{realm}:Circle of Life").as_bytes(),
        ));
        let ha2 = hex(&Sha256::digest(b"GET:/dir/index.html"));
        let r = hex(&Sha256::digest(
            format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes(),
        ));
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn parses_challenges() {
        let c = Challenge::parse(
            r#"Digest realm="seatline.test", nonce="abc,def", qop="auth", algorithm=SHA-256"#,
        )
        .unwrap();
        assert_eq!(c.realm, "seatline.test");
        assert_eq!(c.nonce, "abc,def");
        assert_eq!(c.algorithm.as_deref(), Some("SHA-256"));
        assert_eq!(c.qop.as_deref(), Some("auth"));
    }
}
