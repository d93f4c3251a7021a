//! Feeds pseudo-random and mutated descriptions to the parser and to offer/answer: nothing may
//! panic, every error must explain itself, and whatever parses must round-trip.

// A test harness: clippy.toml only covers #[test] functions, not these helpers.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use seatline_sdp::{
    create_answer, process_answer, CryptoSuite, Direction, KeyParam, LocalCaps, MediaSession,
    Origin, SessionDescription, SrtpKey,
};

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens that tend to hit parser edge cases.
const TOKENS: &[&str] = &[
    "\r\n",
    "\n",
    "\r",
    " ",
    "=",
    ":",
    "/",
    "|",
    ";",
    "0",
    "127",
    "128",
    "65535",
    "65536",
    "99999999999999999999",
    "-1",
    "m=audio 0 RTP/AVP 0\r\n",
    "m=audio 5 RTP/SAVP 96\r\n",
    "a=rtpmap:96 opus/48000/2\r\n",
    "a=rtpmap:0 PCMU/8000\r\n",
    "a=sendonly\r\n",
    "a=inactive\r\n",
    "c=IN IP4 0.0.0.0\r\n",
    "c=IN IP6 ::\r\n",
    "a=rtcp-mux\r\n",
    "a=rtcp:1 IN IP6 ::1\r\n",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:QUJD|2^20|1:4\r\n",
    "a=crypto:",
    "inline:",
    "\u{feff}",
    "é",
    "\0",
    "\u{ff}",
    "v=0\r\n",
    "o=- 1 1 IN IP4 a\r\n",
    "s=\r\n",
    "t=0 0\r\n",
    "a=fmtp:101 0-16\r\n",
    "a=ptime:0\r\n",
    "m=video 1 RTP/AVP 96\r\n",
    "m=image 2 udptl t38\r\n",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            3 => {
                let end = (at + rng.below(80)).min(out.len());
                let chunk = out[at..end].to_vec();
                out.splice(at..at, chunk);
            }
            4 => out.truncate(at),
            5 => {
                // Swap two lines.
                let text = String::from_utf8_lossy(&out).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
                out = lines.join("\n").into_bytes();
            }
            _ => {
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
        }
    }
    out
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn caps() -> LocalCaps {
    let mut c = LocalCaps::new("192.0.2.10".parse().unwrap(), 40000);
    c.rtcp_mux = true;
    c.srtp = vec![SrtpKey {
        suite: CryptoSuite::AesCm128HmacSha1_80,
        key: KeyParam::inline("MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw"),
    }];
    c
}

/// Everything the softphone would do with an untrusted description.
fn exercise(input: &[u8], stats: &mut [usize; 3]) {
    let sdp = match SessionDescription::parse(input) {
        Ok(s) => s,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            stats[0] += 1;
            return;
        }
    };
    let wire = sdp.to_string();
    assert_eq!(
        SessionDescription::parse(wire.as_bytes()).as_ref(),
        Ok(&sdp),
        "{wire}"
    );

    let origin = Origin::new(1, 1, "192.0.2.10".parse().unwrap());
    match create_answer(&sdp, &caps(), &origin, Direction::SendRecv) {
        Ok((answer, neg)) => {
            stats[1] += 1;
            assert_eq!(answer.media.len(), sdp.media.len());
            let reparsed = SessionDescription::parse(&answer.to_bytes()).unwrap();
            assert_eq!(reparsed, answer);
            assert_eq!(answer.media[neg.media_index].port, 40000);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            stats[2] += 1;
        }
    }
    // As an answer to our offer, and through a stateful session.
    let mut call = MediaSession::new(caps(), 7);
    let offer = call.create_offer();
    if let Err(e) = process_answer(&offer, &sdp) {
        assert!(!e.to_string().is_empty());
    }
    let _ = call.process_answer(&sdp);
    let _ = call.create_answer(&sdp);
    let _ = call.hold();
}

#[test]
fn mutated_fixtures_never_panic() {
    let corpus = corpus();
    assert!(corpus.len() >= 8);
    let seed = std::env::var("SDP_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut rng = Rng(seed.unwrap_or(0x5EA7_11E5_D00D_F00D));
    let mut stats = [0usize; 3];
    // SDP_FUZZ_ITERS raises the count for a longer local run.
    let iters = std::env::var("SDP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for i in 0..iters {
        let seed = &corpus[i % corpus.len()];
        exercise(&mutate(&mut rng, seed), &mut stats);
    }
    // The mix must reach both the error paths and the successful negotiations.
    assert!(
        stats.iter().all(|n| *n > 100),
        "parse errors / answers / refusals: {stats:?}"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    let mut stats = [0usize; 3];
    for _ in 0..5_000 {
        let len = rng.below(300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half start like SDP so the parser gets past line 1.
        if rng.below(2) == 0 {
            bytes.splice(0..0, b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\n".iter().copied());
        }
        exercise(&bytes, &mut stats);
    }
    assert!(stats[0] > 0);
}

#[test]
fn corpus_files_all_parse() {
    for bytes in corpus() {
        let sdp = SessionDescription::parse(&bytes).unwrap();
        assert!(!sdp.media.is_empty());
    }
}
