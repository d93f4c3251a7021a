//! RTCP through real engines on 127.0.0.1: reports both ways (plain and SRTCP), the round trip
//! measured from LSR/DLSR, loss seen by both sides behind a lossy relay, and the BYE at stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media::quality::CallQuality;
use seatline_media::rtcp::{build_compound, ntp_middle, parse_compound, ReportBlock, RtcpPacket};
use seatline_media::srtp::{SrtpKey, SrtpProfile};
use seatline_media::{Codec, MediaConfig, MediaEngine, MediaHandle, SrtpConfig};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

/// Polls both engines until `done` holds for both (reports are randomized: 1.25-3.75 s for the
/// first, 2.5-7.5 s after), or 20 s.
fn wait_for(
    a: &MediaHandle,
    b: &MediaHandle,
    done: impl Fn(&CallQuality) -> bool,
) -> (CallQuality, CallQuality) {
    let start = Instant::now();
    loop {
        let (qa, qb) = (a.stats().quality, b.stats().quality);
        if (done(&qa) && done(&qb)) || start.elapsed() > Duration::from_secs(20) {
            eprintln!("after {:?}:\nA {qa:?}\nB {qb:?}", start.elapsed());
            return (qa, qb);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pair(srtp: bool) -> (MediaHandle, MediaHandle) {
    let (sa, sb) = (bind(), bind());
    let (aa, ab) = (addr(&sa), addr(&sb));
    let mut ca = MediaConfig::new(sa, ab, Codec::PCMU);
    let mut cb = MediaConfig::new(sb, aa, Codec::PCMU);
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

fn check_clean_exchange(srtp: bool) {
    let (a, b) = pair(srtp);
    let (qa, qb) = wait_for(&a, &b, |q| q.rtt_ms.is_some());
    for (who, q) in [("A", &qa), ("B", &qb)] {
        assert!(q.reports_received >= 1, "{who} got a report: {q:?}");
        assert!(q.reports_sent >= 1, "{who} sent a report: {q:?}");
        let rtt = q.rtt_ms.expect("round trip measured");
        // Loopback: well under the report timer's granularity (the read timeout is 50 ms).
        assert!((0.0..60.0).contains(&rtt), "{who} RTT {rtt} ms");
        assert_eq!(q.remote_loss_percent, Some(0.0), "{who}: {q:?}");
        assert!(q.remote_jitter_ms.is_some(), "{who}: {q:?}");
        assert!(q.loss_percent < 1.0, "{who}: {q:?}");
        let mos = q.mos.expect("MOS once audio arrived");
        assert!(mos > 4.2, "{who} MOS {mos}");
        assert!(q.packets_received > 50 && q.packets_sent > 50, "{q:?}");
    }
    let sa = a.stop().unwrap();
    let sb = b.stop().unwrap();
    assert_eq!((sa.srtp_rejected, sb.srtp_rejected), (0, 0));
    assert_eq!(sa.encrypted, srtp);
}

#[test]
fn engines_exchange_reports_and_measure_the_round_trip() {
    check_clean_exchange(false);
}

#[test]
fn reports_travel_as_srtcp_on_encrypted_calls() {
    check_clean_exchange(true);
}

/// A relay that drops `loss_percent` of what A sends to B (RTP and RTCP alike, seeded).
fn lossy_relay(a: SocketAddr, b: SocketAddr, loss_percent: u64) -> SocketAddr {
    let sock = bind();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let at = addr(&sock);
    std::thread::spawn(move || {
        let mut seed: u64 = 0x5eed;
        let mut buf = [0u8; 2048];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let Ok((len, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if from != a {
                let _ = sock.send_to(&buf[..len], a);
                continue;
            }
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (seed >> 33) % 100 >= loss_percent {
                let _ = sock.send_to(&buf[..len], b);
            }
        }
    });
    at
}

#[test]
fn both_sides_see_the_loss_of_one_direction() {
    let (sa, sb) = (bind(), bind());
    let relay = lossy_relay(addr(&sa), addr(&sb), 10);
    let a = MediaEngine::start(MediaConfig::new(sa, relay, Codec::PCMU)).unwrap();
    let b = MediaEngine::start(MediaConfig::new(sb, relay, Codec::PCMU)).unwrap();
    // Wait for A to hear B's report about A's lossy stream, and a few seconds of loss at B.
    let (qa, qb) = wait_for(&a, &b, |q| {
        q.remote_loss_percent.is_some() && q.packets_received > 250
    });
    // B measures about 10 % of A's stream lost (seeded; 300+ packets).
    assert!(
        qb.loss_percent > 5.0 && qb.loss_percent < 16.0,
        "B's loss {qb:?}"
    );
    // A learns it from B's receiver report (the interval's fraction lost).
    let theirs = qa.remote_loss_percent.unwrap();
    assert!(
        theirs > 2.0 && theirs < 25.0,
        "A's view of B's loss: {qa:?}"
    );
    // Nothing is lost B -> A.
    assert!(qa.loss_percent < 1.0, "{qa:?}");
    assert!(qb.mos.unwrap() < qa.mos.unwrap() - 0.3, "{qa:?} {qb:?}");
    drop((a, b));
}

/// Opus over a line losing 25 % one way: the sender reads the loss in the peer's reports and
/// plans its in-band FEC for it (more bits to the rebuilt copy) instead of the configured 10 %;
/// the other direction, lossless, keeps the floor.
#[test]
fn opus_fec_follows_the_loss_the_peer_reports() {
    let (sa, sb) = (bind(), bind());
    let relay = lossy_relay(addr(&sa), addr(&sb), 25);
    let opus = Codec::opus(111);
    let a = MediaEngine::start(MediaConfig::new(sa, relay, opus)).unwrap();
    let b = MediaEngine::start(MediaConfig::new(sb, relay, opus)).unwrap();
    assert_eq!(a.stats().opus_planned_loss, 10, "the configured floor");
    let (qa, _) = wait_for(&a, &b, |q| q.remote_loss_percent.is_some());
    assert!(qa.remote_loss_percent.is_some(), "no report from B: {qa:?}");
    // The encoder is retuned on the next frame after a report (a new report may land between
    // two readings, so compare within one snapshot, a few times).
    let deadline = Instant::now() + Duration::from_secs(2);
    let (reported, planned) = loop {
        let stats = a.stats();
        let reported = stats.quality.remote_loss_percent.unwrap_or(0.0);
        let planned = stats.opus_planned_loss;
        if planned == (reported.ceil() as u32).clamp(10, 30) || Instant::now() > deadline {
            break (reported, planned);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("A: B reports {reported:.1} % lost, FEC planned for {planned} %");
    assert!(reported > 12.0, "{qa:?}");
    assert_eq!(planned, (reported.ceil() as u32).clamp(10, 30), "{qa:?}");
    assert_eq!(b.stats().opus_planned_loss, 10);
    drop((a, b));
}

/// A raw socket as the peer: the engine's reports parse (SR with our CNAME once it sends
/// RTP), an RR we send back 100 ms after its SR gives that round trip, and stop sends a BYE.
#[test]
fn raw_peer_sees_sr_sdes_and_bye_and_gets_its_delay_measured() {
    let (se, peer) = (bind(), bind());
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let engine = MediaEngine::start(MediaConfig::new(se, addr(&peer), Codec::PCMU)).unwrap();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut answered = false;
    while Instant::now() < deadline && !answered {
        let Ok((n, from)) = peer.recv_from(&mut buf) else {
            continue;
        };
        if !matches!(buf[1], 200..=204) {
            continue; // RTP
        }
        let packets = parse_compound(&buf[..n]).unwrap();
        let RtcpPacket::SenderReport { ssrc, info, .. } = &packets[0] else {
            panic!("the engine sends RTP, so its report is an SR: {packets:?}")
        };
        assert!(info.packet_count > 0);
        let RtcpPacket::SourceDescription(chunks) = &packets[1] else {
            panic!("{packets:?}")
        };
        assert!(chunks[0].cname().unwrap().ends_with("@seatline"));
        // Hold the SR 100 ms but claim a DLSR of 0: the engine must measure ~100 ms.
        std::thread::sleep(Duration::from_millis(100));
        let rr = build_compound(&[RtcpPacket::ReceiverReport {
            ssrc: 0x5eed,
            reports: vec![ReportBlock {
                ssrc: *ssrc,
                fraction_lost: 64,
                lsr: ntp_middle(info.ntp),
                dlsr: 0,
                jitter: 80,
                ..Default::default()
            }],
        }])
        .unwrap();
        peer.send_to(&rr, from).unwrap();
        answered = true;
    }
    assert!(answered, "no SR within 12 s");
    let start = Instant::now();
    let q = loop {
        let q = engine.stats().quality;
        if q.rtt_ms.is_some() || start.elapsed() > Duration::from_secs(2) {
            break q;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rtt = q.rtt_ms.expect("RTT from our RR");
    assert!((95.0..180.0).contains(&rtt), "RTT {rtt} ms");
    assert_eq!(q.remote_loss_percent, Some(25.0));
    assert_eq!(q.remote_jitter_ms, Some(10.0));
    assert_eq!(q.reports_received, 1);
    // Nothing arrived from the peer: no MOS, no loss of ours.
    assert_eq!(q.mos, None);
    engine.stop().unwrap();
    // The last datagram is a compound ending in our BYE.
    let mut bye = None;
    while let Ok((n, _)) = peer.recv_from(&mut buf) {
        if matches!(buf[1], 200..=204) {
            bye = parse_compound(&buf[..n]).ok();
        }
    }
    let bye = bye.expect("a report at stop");
    assert!(
        matches!(bye.last(), Some(RtcpPacket::Bye { .. })),
        "{bye:?}"
    );
}
