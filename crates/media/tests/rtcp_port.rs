//! RTCP on its own port (peers without rtcp-mux) through real engines on 127.0.0.1: reports
//! both ways on the RTCP sockets (plain and SRTCP), sent from the port they are received on
//! (symmetric RTCP) and latched to the peer's real source, mux turned on and off mid-call, and
//! whatever else arrives on the RTCP port counted and dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media::quality::CallQuality;
use seatline_media::rtcp::{build_compound, ntp_middle, parse_compound, ReportBlock, RtcpPacket};
use seatline_media::srtp::{SrtpKey, SrtpProfile};
use seatline_media::{Codec, MediaConfig, MediaEngine, MediaHandle, MediaStats, SrtpConfig};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

/// Polls both engines until `done` holds for both, or `limit`.
fn wait_for(
    a: &MediaHandle,
    b: &MediaHandle,
    limit: Duration,
    done: impl Fn(&MediaStats) -> bool,
) -> (MediaStats, MediaStats) {
    wait_each(a, b, limit, &done, &done)
}

/// Polls both engines until `done_a` holds for A and `done_b` for B, or `limit`.
fn wait_each(
    a: &MediaHandle,
    b: &MediaHandle,
    limit: Duration,
    done_a: &dyn Fn(&MediaStats) -> bool,
    done_b: &dyn Fn(&MediaStats) -> bool,
) -> (MediaStats, MediaStats) {
    let start = Instant::now();
    loop {
        let (sa, sb) = (a.stats(), b.stats());
        if (done_a(&sa) && done_b(&sb)) || start.elapsed() > limit {
            eprintln!(
                "after {:?}:\nA {:?} {:?}\nB {:?} {:?}",
                start.elapsed(),
                sa.quality,
                sa.rtcp_port,
                sb.quality,
                sb.rtcp_port
            );
            return (sa, sb);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two engines without rtcp-mux: each has an RTCP socket and sends its reports to the other's.
fn non_mux_pair(srtp: bool) -> (MediaHandle, MediaHandle) {
    let (sa, sb, ra, rb) = (bind(), bind(), bind(), bind());
    let mut ca = MediaConfig::new(sa, addr(&sb), Codec::PCMU);
    let mut cb = MediaConfig::new(sb, addr(&ca.socket), Codec::PCMU);
    ca.rtcp_remote = Some(addr(&rb));
    cb.rtcp_remote = Some(addr(&ra));
    ca.rtcp_socket = Some(ra);
    cb.rtcp_socket = Some(rb);
    if srtp {
        let (ka, kb) = (SrtpKey::generate().unwrap(), SrtpKey::generate().unwrap());
        let profile = SrtpProfile::AesCm128HmacSha1_80;
        ca.srtp = Some(SrtpConfig {
            profile,
            local: ka.clone(),
            remote: kb.clone(),
        });
        cb.srtp = Some(SrtpConfig {
            profile,
            local: kb,
            remote: ka,
        });
    }
    (
        MediaEngine::start(ca).unwrap(),
        MediaEngine::start(cb).unwrap(),
    )
}

fn check_reports_on_rtcp_ports(srtp: bool) {
    let (a, b) = non_mux_pair(srtp);
    let (sa, sb) = wait_for(&a, &b, Duration::from_secs(20), |s| {
        s.quality.rtt_ms.is_some()
    });
    for (who, s) in [("A", &sa), ("B", &sb)] {
        let q: &CallQuality = &s.quality;
        assert!(!s.rtcp_mux, "{who}");
        assert!(s.rtcp_port.received >= 1, "{who}: {:?}", s.rtcp_port);
        assert_eq!(s.rtcp_port.rejected, 0, "{who}: {:?}", s.rtcp_port);
        // Every report came through the RTCP port.
        assert_eq!(q.reports_received, s.rtcp_port.received, "{who}: {q:?}");
        let rtt = q.rtt_ms.expect("round trip measured");
        assert!((0.0..60.0).contains(&rtt), "{who} RTT {rtt} ms");
        assert_eq!(q.remote_loss_percent, Some(0.0), "{who}: {q:?}");
        assert!(q.mos.unwrap() > 4.2, "{who}: {q:?}");
    }
    let (sa, sb) = (a.stop().unwrap(), b.stop().unwrap());
    assert_eq!((sa.srtp_rejected, sb.srtp_rejected), (0, 0));
    assert_eq!(sa.encrypted, srtp);
}

#[test]
fn non_mux_engines_exchange_reports_on_their_rtcp_ports() {
    check_reports_on_rtcp_ports(false);
}

#[test]
fn non_mux_reports_travel_as_srtcp_on_encrypted_calls() {
    check_reports_on_rtcp_ports(true);
}

/// The first compound datagram from `sock` that is RTCP, within `limit`.
fn next_rtcp(sock: &UdpSocket, limit: Duration) -> Option<(Vec<RtcpPacket>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if matches!(buf[1], 200..=204) {
            return Some((parse_compound(&buf[..n]).unwrap(), from));
        }
    }
    None
}

fn rr(ssrc_of_theirs: u32, lsr_ntp: u64) -> Vec<u8> {
    build_compound(&[RtcpPacket::ReceiverReport {
        ssrc: 0x5eed,
        reports: vec![ReportBlock {
            ssrc: ssrc_of_theirs,
            fraction_lost: 0,
            lsr: ntp_middle(lsr_ntp),
            dlsr: 0,
            ..Default::default()
        }],
    }])
    .unwrap()
}

/// A raw peer behind a "NAT": the signalled RTCP address is dead; the peer's first report
/// comes from elsewhere and the engine's reports follow it there, leaving from the engine's
/// RTCP port (never from, or to, the RTP ports).
#[test]
fn reports_leave_from_the_rtcp_port_and_latch_to_the_peers_source() {
    let (se, re) = (bind(), bind());
    let (peer_rtp, peer_rtcp, dead) = (bind(), bind(), bind());
    for s in [&peer_rtp, &peer_rtcp, &dead] {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    let engine_rtcp = addr(&re);
    let mut c = MediaConfig::new(se, addr(&peer_rtp), Codec::PCMU);
    c.rtcp_remote = Some(addr(&dead));
    c.rtcp_socket = Some(re);
    let engine = MediaEngine::start(c).unwrap();
    assert_eq!(engine.local_rtcp_addr(), Some(engine_rtcp));
    assert_eq!(engine.rtcp_remote(), Some(addr(&dead)));
    // The first report goes to the signalled address, from the RTCP port.
    let (first, from) = next_rtcp(&dead, Duration::from_secs(6)).expect("a report");
    assert_eq!(from, engine_rtcp);
    assert!(matches!(first[0], RtcpPacket::SenderReport { .. }));
    // The peer reports from its real address: the engine latches there.
    peer_rtcp.send_to(&rr(0, 0), engine_rtcp).unwrap();
    let start = Instant::now();
    while engine.rtcp_remote() != Some(addr(&peer_rtcp)) {
        assert!(start.elapsed() < Duration::from_secs(2), "no latch");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The next SR arrives there, from the RTCP port; answering it measures a round trip.
    let (sr, from) = next_rtcp(&peer_rtcp, Duration::from_secs(10)).expect("an SR");
    assert_eq!(from, engine_rtcp);
    let RtcpPacket::SenderReport { ssrc, info, .. } = &sr[0] else {
        panic!("{sr:?}")
    };
    peer_rtcp
        .send_to(&rr(*ssrc, info.ntp), engine_rtcp)
        .unwrap();
    let start = Instant::now();
    let q = loop {
        let q = engine.stats().quality;
        if q.rtt_ms.is_some() || start.elapsed() > Duration::from_secs(2) {
            break q;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(q.rtt_ms.unwrap() < 60.0, "{q:?}");
    assert_eq!(q.remote_loss_percent, Some(0.0));
    assert_eq!(q.reports_received, 2);
    let stats = engine.stop().unwrap();
    assert_eq!(stats.rtcp_port.received, 2);
    // Nothing but RTP ever reached the peer's RTP port.
    let mut buf = [0u8; 2048];
    let mut rtp = 0;
    while let Ok((n, from)) = peer_rtp.recv_from(&mut buf) {
        assert!(!matches!(buf[1], 200..=204), "RTCP on the RTP port");
        assert_ne!(from, engine_rtcp);
        assert!(n > 12);
        rtp += 1;
    }
    assert!(rtp > 10, "{rtp} RTP packets");
    // The BYE at stop went to the latched address.
    let (bye, _) = next_rtcp(&peer_rtcp, Duration::from_secs(1)).expect("a BYE");
    assert!(
        matches!(bye.last(), Some(RtcpPacket::Bye { .. })),
        "{bye:?}"
    );
}

/// Garbage, RTP, a truncated report and (on an encrypted call) an unauthenticated report on
/// the RTCP port: each counted with its reason, none latches or reaches the session, and the
/// engine goes on reading good reports.
#[test]
fn malformed_datagrams_on_the_rtcp_port_are_counted_and_dropped() {
    for srtp in [false, true] {
        let (se, re, peer) = (bind(), bind(), bind());
        let engine_rtcp = addr(&re);
        let mut c = MediaConfig::new(se, addr(&peer), Codec::PCMU);
        c.rtcp_remote = Some(addr(&peer));
        c.rtcp_socket = Some(re);
        let key = SrtpKey::generate().unwrap();
        let mut peer_ctx = None;
        if srtp {
            let profile = SrtpProfile::AesCm128HmacSha1_80;
            c.srtp = Some(SrtpConfig {
                profile,
                local: SrtpKey::generate().unwrap(),
                remote: key.clone(),
            });
            peer_ctx = Some(seatline_media::srtp::SrtpContext::new(profile, &key).unwrap());
        }
        let engine = MediaEngine::start(c).unwrap();
        let attacker = bind();
        let truncated = {
            let mut b = rr(0, 0);
            b[3] += 4; // the length field runs past the datagram
            b
        };
        let rtp = [
            0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 9, 0xff, 0xff, 0xff,
        ];
        let bad: Vec<Vec<u8>> = vec![
            b"not rtp at all".to_vec(),
            rtp.to_vec(),
            vec![],
            truncated,
            // Plain (or, on an encrypted call, forged) report with a bad length: SRTCP refuses it
            // for its missing tag, plain RTCP for the length.
            vec![0x81, 201, 0, 9, 0, 0, 0, 1],
        ];
        for d in &bad {
            attacker.send_to(d, engine_rtcp).unwrap();
        }
        let start = Instant::now();
        let stats = loop {
            let s = engine.stats();
            if s.rtcp_port.rejected >= bad.len() as u64 || start.elapsed() > Duration::from_secs(3)
            {
                break s;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        eprintln!("srtp {srtp}: {:?}", stats.rtcp_port);
        assert_eq!(stats.rtcp_port.rejected, bad.len() as u64);
        assert_eq!(stats.rtcp_port.received, 0);
        assert_eq!(stats.quality.reports_received, 0);
        let last = stats.rtcp_port.last_error.clone().unwrap();
        if srtp {
            assert!(last.starts_with("SRTCP:"), "{last}");
            // The two that looked like RTCP reached SRTCP and were refused there.
            assert_eq!(stats.srtp_rejected, 2);
        } else {
            assert!(last.starts_with("malformed RTCP:"), "{last}");
        }
        // Nothing latched to the attacker.
        assert_eq!(engine.rtcp_remote(), Some(addr(&peer)));
        // A good report is still read.
        let good = rr(0, 0);
        let good = match &mut peer_ctx {
            Some(ctx) => ctx.protect_rtcp(&good).unwrap(),
            None => good,
        };
        peer.send_to(&good, engine_rtcp).unwrap();
        let start = Instant::now();
        while engine.stats().rtcp_port.received == 0 {
            assert!(start.elapsed() < Duration::from_secs(2), "good report lost");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(engine.stats().quality.reports_received, 1);
        engine.stop().unwrap();
    }
}

/// Re-INVITEs: a non-mux call agrees mux (reports move to the RTP ports, the RTCP ports go
/// quiet), then drops it again (back to the RTCP ports).
#[test]
fn renegotiation_turns_mux_on_and_off() {
    let (a, b) = non_mux_pair(false);
    let (sa, sb) = wait_for(&a, &b, Duration::from_secs(20), |s| {
        s.quality.reports_received >= 1
    });
    assert!(sa.rtcp_port.received >= 1 && sb.rtcp_port.received >= 1);
    a.set_rtcp_remote(None);
    b.set_rtcp_remote(None);
    let (on_port_a, on_port_b) = (a.stats().rtcp_port.received, b.stats().rtcp_port.received);
    let (reports_a, reports_b) = (
        a.stats().quality.reports_received,
        b.stats().quality.reports_received,
    );
    let (sa, sb) = wait_each(
        &a,
        &b,
        Duration::from_secs(20),
        &|s| s.rtcp_mux && s.quality.reports_received > reports_a,
        &|s| s.rtcp_mux && s.quality.reports_received > reports_b,
    );
    assert!(sa.rtcp_mux && sb.rtcp_mux);
    assert!(sa.quality.reports_received > reports_a, "{:?}", sa.quality);
    assert!(sb.quality.reports_received > reports_b, "{:?}", sb.quality);
    // At most one report was already on its way when the switch happened.
    assert!(sa.rtcp_port.received <= on_port_a + 1, "{:?}", sa.rtcp_port);
    assert!(sb.rtcp_port.received <= on_port_b + 1, "{:?}", sb.rtcp_port);
    // Mux off again, to the RTCP ports.
    let (port_a, port_b) = (a.local_rtcp_addr().unwrap(), b.local_rtcp_addr().unwrap());
    a.set_rtcp_remote(Some(port_b));
    b.set_rtcp_remote(Some(port_a));
    let (pa, pb) = (sa.rtcp_port.received, sb.rtcp_port.received);
    let (sa, sb) = wait_each(
        &a,
        &b,
        Duration::from_secs(20),
        &|s| !s.rtcp_mux && s.rtcp_port.received > pa,
        &|s| !s.rtcp_mux && s.rtcp_port.received > pb,
    );
    assert!(sa.rtcp_port.received > pa, "{:?}", sa.rtcp_port);
    assert!(sb.rtcp_port.received > pb, "{:?}", sb.rtcp_port);
    assert_eq!((sa.rtcp_port.rejected, sb.rtcp_port.rejected), (0, 0));
    drop((a, b));
}
