//! Media quality from RTCP with real peers on loopback, through Kamailio: Seatline calling
//! Debian's baresip 1.0 (which sends RTCP reports), and two Seatline phones calling each
//! other. The live `Quality` events and the quality in `Ended` must carry the peer's reports
//! (RTT measured from LSR/DLSR). Logs: target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::{
    log_dir, speech_wav, AudioMode, Baresip, BaresipConfig, Codec, DigestAlgorithm, Kamailio,
    KamailioConfig,
};
use seatline_sip_phone::{AccountConfig, AudioIo, CallQuality, Phone, PhoneConfig, PhoneEvent};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

mod common;
use common::{next_event, start_registered};

const T: Duration = Duration::from_secs(10);
/// Real-time audio on two cores: one call at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn phone(proxy: &Kamailio, user: &str) -> Phone {
    let account = AccountConfig {
        user: user.into(),
        domain: proxy.addr().to_string(),
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        codecs: vec!["PCMU".into()],
        audio: AudioIo::Files {
            source: Some(speech_wav()),
            record_dir: None,
        },
        ..PhoneConfig::default()
    };
    let phone = start_registered(proxy, account, config, T).await;
    phone
}

/// Collects the live quality events of `call` until it ends; returns them and the final one.
async fn qualities_until_ended(
    events: &mut UnboundedReceiver<PhoneEvent>,
    call: &str,
    timeout: Duration,
) -> (Vec<CallQuality>, Option<CallQuality>) {
    let mut live = Vec::new();
    let ended = next_event(events, "ended", timeout, |e| {
        if let PhoneEvent::Quality { call: c, quality } = e {
            if c == call {
                live.push(quality.clone());
            }
        }
        matches!(e, PhoneEvent::Ended { call: c, .. } if c == call)
    })
    .await;
    let PhoneEvent::Ended { quality, .. } = ended else {
        unreachable!()
    };
    (live, quality)
}

fn check_final(who: &str, q: &CallQuality) {
    assert!(q.reports_received >= 1, "{who} got no RTCP report: {q:?}");
    assert!(q.reports_sent >= 1, "{who} sent no RTCP report: {q:?}");
    let rtt = q.rtt_ms.unwrap_or_else(|| panic!("{who}: no RTT {q:?}"));
    assert!(
        (0.0..100.0).contains(&rtt),
        "{who} RTT {rtt} ms on loopback"
    );
    assert!(q.remote_loss_percent.is_some(), "{who}: {q:?}");
    assert!(q.loss_percent < 2.0, "{who}: {q:?}");
    let mos = q.mos.unwrap_or_else(|| panic!("{who}: no MOS {q:?}"));
    assert!(mos > 4.0, "{who} MOS {mos}");
    assert!(q.packets_received > 200, "{who}: {q:?}");
}

/// baresip 1.0 sends RTCP (about every 5 s) and answers our rtcp-mux offer. Its tone never
/// ends, so the call lasts until baresip has reported on an SR of ours (an RTT), then we hang up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seatline_calling_baresip_gets_its_rtcp_reports_and_rtt() {
    let _s = SERIAL.lock().await;
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let config = BaresipConfig::new("1002")
        .registrar(&proxy)
        .auto_answer(true)
        .audio(AudioMode::Sine(440))
        .codecs(&[Codec::Pcmu])
        // The mux path; baresip's default (no mux) is the next tests'.
        .rtcp_mux(true);
    let baresip = tokio::task::block_in_place(|| {
        let mut b = Baresip::start(config).unwrap();
        b.wait_registered(T).unwrap();
        b
    });
    let mut p = phone(&proxy, "1001").await;
    let call = p.handle.dial(None, "1002").await.unwrap();
    let mut live = Vec::new();
    next_event(
        &mut p.events,
        "a round trip from baresip's report",
        Duration::from_secs(25),
        |e| {
            if let PhoneEvent::Quality { quality, .. } = e {
                live.push(quality.clone());
                return quality.rtt_ms.is_some();
            }
            false
        },
    )
    .await;
    p.handle.hangup(&call).await.unwrap();
    let (_, last) = qualities_until_ended(&mut p.events, &call, T).await;
    let last = last.expect("quality with the end of a call that had media");
    eprintln!(
        "Seatline -> baresip: {} live quality events; final {last:?}; log {}",
        live.len(),
        log_dir().unwrap().display()
    );
    // Live events every 2 s until (and including) the one with the round trip.
    assert!(!live.is_empty(), "{live:?}");
    check_final("Seatline (baresip's reports)", &last);
    drop(baresip);
    p.handle.shutdown().await;
}

async fn baresip_without_mux(proxy: &Kamailio) -> Baresip {
    // rtcp_mux is off by default, as in baresip's own default config (and Asterisk's).
    let config = BaresipConfig::new("1002")
        .registrar(proxy)
        .auto_answer(true)
        .audio(AudioMode::Sine(440))
        .codecs(&[Codec::Pcmu]);
    assert!(!config.rtcp_mux);
    tokio::task::block_in_place(|| {
        let mut b = Baresip::start(config).unwrap();
        b.wait_registered(T).unwrap();
        b
    })
}

/// The media of the call once established: no mux, RTCP on our RTP port + 1.
async fn established_without_mux(
    events: &mut UnboundedReceiver<PhoneEvent>,
) -> seatline_sip_phone::MediaInfo {
    let e = next_event(events, "established", T, |e| {
        matches!(e, PhoneEvent::Established { .. })
    })
    .await;
    let PhoneEvent::Established {
        media: Some(media), ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert!(!media.rtcp_mux, "{media:?}");
    let rtp: SocketAddr = media.local_rtp.parse().unwrap();
    let rtcp: SocketAddr = media.local_rtcp.parse().unwrap();
    assert_eq!(rtp.port() % 2, 0, "{media:?}");
    assert_eq!(rtcp, SocketAddr::new(rtp.ip(), rtp.port() + 1), "{media:?}");
    media
}

/// Waits for a live quality event `pred` accepts; returns it.
async fn quality_where(
    events: &mut UnboundedReceiver<PhoneEvent>,
    what: &str,
    pred: impl Fn(&CallQuality) -> bool,
) -> CallQuality {
    let e = next_event(
        events,
        what,
        Duration::from_secs(25),
        |e| matches!(e, PhoneEvent::Quality { quality, .. } if pred(quality)),
    )
    .await;
    let PhoneEvent::Quality { quality, .. } = e else {
        unreachable!()
    };
    quality
}

/// baresip's default, no rtcp-mux: it answers our mux offer without mux, reports to the
/// a=rtcp port we offered, and we read them there (before the RTCP socket, RTT and the remote
/// loss stayed None with such a peer). Garbage on the RTCP port changes nothing, and a hold /
/// resume re-INVITE keeps the reports coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seatline_calling_baresip_without_rtcp_mux_reads_its_reports_on_the_rtcp_port() {
    let _s = SERIAL.lock().await;
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let baresip = baresip_without_mux(&proxy).await;
    let mut p = phone(&proxy, "1001").await;
    let call = p.handle.dial(None, "1002").await.unwrap();
    let media = established_without_mux(&mut p.events).await;
    // Garbage and a stray RTP packet at our RTCP port: dropped and counted in the engine.
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in [
        &b"junk"[..],
        &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff][..],
        &[0x80, 201, 0, 60][..],
    ] {
        junk.send_to(d, &media.local_rtcp).unwrap();
    }
    let q = quality_where(&mut p.events, "a round trip from baresip's reports", |q| {
        q.rtt_ms.is_some()
    })
    .await;
    assert!(q.remote_loss_percent.is_some(), "{q:?}");
    // Hold and resume: re-INVITEs on the same ports; baresip's reports keep arriving.
    p.handle.hold(&call, true).await.unwrap();
    next_event(&mut p.events, "held", T, |e| {
        matches!(e, PhoneEvent::Held { .. })
    })
    .await;
    p.handle.hold(&call, false).await.unwrap();
    next_event(&mut p.events, "resumed", T, |e| {
        matches!(e, PhoneEvent::Resumed { .. })
    })
    .await;
    let before = q.reports_received;
    let later = quality_where(&mut p.events, "a report after the re-INVITEs", |q| {
        q.reports_received > before
    })
    .await;
    eprintln!("after hold/resume: {later:?}");
    p.handle.hangup(&call).await.unwrap();
    let (_, last) = qualities_until_ended(&mut p.events, &call, T).await;
    let last = last.expect("quality with the end of a call that had media");
    eprintln!(
        "Seatline -> baresip without mux: final {last:?}; log {}",
        log_dir().unwrap().display()
    );
    check_final("Seatline (baresip's reports on the RTCP port)", &last);
    assert_eq!(last.remote_loss_percent, Some(0.0), "{last:?}");
    drop(baresip);
    p.handle.shutdown().await;
}

/// baresip calls us with its default offer (no rtcp-mux): our answer has no mux and states
/// our RTCP port; its reports reach us there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calling_seatline_without_rtcp_mux_gets_its_reports_read() {
    let _s = SERIAL.lock().await;
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let mut baresip = baresip_without_mux(&proxy).await;
    let mut p = phone(&proxy, "1001").await;
    let target = format!("sip:1001@{}", proxy.addr());
    tokio::task::block_in_place(|| baresip.ctrl().dial(&target).unwrap());
    let incoming = next_event(&mut p.events, "incoming call", T, |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    })
    .await;
    let PhoneEvent::IncomingCall { call, .. } = incoming else {
        unreachable!()
    };
    p.handle.answer(&call).await.unwrap();
    established_without_mux(&mut p.events).await;
    quality_where(&mut p.events, "a round trip from baresip's reports", |q| {
        q.rtt_ms.is_some()
    })
    .await;
    p.handle.hangup(&call).await.unwrap();
    let (_, last) = qualities_until_ended(&mut p.events, &call, T).await;
    let last = last.expect("quality with the end of a call that had media");
    eprintln!("baresip -> Seatline without mux: final {last:?}");
    check_final("Seatline answering baresip", &last);
    drop(baresip);
    p.handle.shutdown().await;
}

/// Two Seatline phones: each side sees the other's reports and measures the round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seatline_phones_see_each_others_reports() {
    let _s = SERIAL.lock().await;
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let mut a = phone(&proxy, "1001").await;
    let mut b = phone(&proxy, "1002").await;
    let call_a = a.handle.dial(None, "1002").await.unwrap();
    let incoming = next_event(&mut b.events, "incoming call", T, |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    })
    .await;
    let PhoneEvent::IncomingCall { call: call_b, .. } = incoming else {
        unreachable!()
    };
    b.handle.answer(&call_b).await.unwrap();
    // Reports come 1.25-3.75 s after start, then every 2.5-7.5 s: wait until each side has a
    // round trip (the live events say so), at most 20 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut rtt_a, mut rtt_b) = (false, false);
    while !(rtt_a && rtt_b) && tokio::time::Instant::now() < deadline {
        tokio::select! {
            Some(e) = a.events.recv() => if let PhoneEvent::Quality { quality, .. } = &e {
                eprintln!("A: {quality:?}");
                rtt_a |= quality.rtt_ms.is_some();
            },
            Some(e) = b.events.recv() => if let PhoneEvent::Quality { quality, .. } = &e {
                eprintln!("B: {quality:?}");
                rtt_b |= quality.rtt_ms.is_some();
            },
        }
    }
    a.handle.hangup(&call_a).await.unwrap();
    let (_, qa) = qualities_until_ended(&mut a.events, &call_a, T).await;
    let (_, qb) = qualities_until_ended(&mut b.events, &call_b, T).await;
    let (qa, qb) = (qa.unwrap(), qb.unwrap());
    eprintln!("Seatline <-> Seatline final:\nA {qa:?}\nB {qb:?}");
    check_final("A", &qa);
    check_final("B", &qb);
    // Both hear each other's stream whole: the peer says so too.
    assert_eq!(qa.remote_loss_percent, Some(0.0));
    assert_eq!(qb.remote_loss_percent, Some(0.0));
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
