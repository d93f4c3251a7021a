//! SRTP (SDES) interop with a real peer: Debian's baresip 1.0 with its `srtp` module and
//! `mediaenc=srtp-mand` (RTP/SAVP only), through Kamailio on loopback. Both sides play the 8 s
//! speech file; both recordings are scored with PESQ (venv from scripts/pesq-setup.sh), so
//! audio that was not decrypted on either side fails the test. Logs and recordings:
//! target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::pesq::{self, Mode};
use seatline_sip_peers::{
    log_dir, speech_wav, AudioMode, Baresip, BaresipConfig, Codec, DigestAlgorithm, Kamailio,
    KamailioConfig,
};
use seatline_sip_phone::{
    AccountConfig, AudioIo, MediaEncryption, MediaInfo, Phone, PhoneConfig, PhoneEvent,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

mod common;
use common::{next_event, start_registered};

const T: Duration = Duration::from_secs(10);
/// Real-time audio on two cores: one call at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Setup {
    proxy: Kamailio,
    baresip: Baresip,
    phone: Phone,
}

async fn setup(encryption: MediaEncryption, baresip_mediaenc: Option<&str>) -> Setup {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let mut config = BaresipConfig::new("1002")
        .registrar(&proxy)
        .auto_answer(true)
        .audio(AudioMode::File(speech_wav()))
        .codecs(&[Codec::Pcmu]);
    if let Some(m) = baresip_mediaenc {
        config = config.mediaenc(m);
    }
    let baresip = tokio::task::block_in_place(|| {
        let mut b = Baresip::start(config).unwrap();
        b.wait_registered(T).unwrap();
        b
    });
    let account = AccountConfig {
        user: "1001".into(),
        domain: proxy.addr().to_string(),
        media_encryption: encryption,
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        codecs: vec!["PCMU".into()],
        audio: AudioIo::Files {
            source: Some(speech_wav()),
            record_dir: Some(log_dir().unwrap().join("seatline-rec")),
        },
        ..PhoneConfig::default()
    };
    let phone = start_registered(&proxy, account, config, T).await;
    Setup {
        proxy,
        baresip,
        phone,
    }
}

/// Waits for the call to be established on both sides and for baresip to end it at the end
/// of its file; returns our media info and PESQ-NB of what each side heard.
async fn speech_over_srtp(s: &mut Setup) -> (MediaInfo, f64, f64) {
    let established = next_event(&mut s.phone.events, "established", T, |e| {
        matches!(e, PhoneEvent::Established { .. })
    })
    .await;
    let PhoneEvent::Established {
        call,
        media: Some(media),
        ..
    } = established
    else {
        panic!("established without media: {established:?}");
    };
    tokio::task::block_in_place(|| {
        let ctrl = s.baresip.ctrl();
        ctrl.wait_for_event("CALL_ESTABLISHED", T).unwrap();
        let closed = ctrl
            .wait_for_event("CALL_CLOSED", Duration::from_secs(20))
            .unwrap();
        assert!(closed.param.contains("end of file"), "{closed:?}");
    });
    let ended = next_event(
        &mut s.phone.events,
        "ended",
        T,
        |e| matches!(e, PhoneEvent::Ended { call: c, .. } if *c == call),
    )
    .await;
    // baresip does not mux RTCP by default: its SRTCP reports come to our RTCP port.
    let PhoneEvent::Ended {
        quality: Some(quality),
        ..
    } = ended
    else {
        panic!("ended without quality: {ended:?}");
    };
    eprintln!("SRTP call quality: {quality:?}");
    assert!(!media.rtcp_mux, "{media:?}");
    // The 8 s call is too short to be sure of a round trip (baresip's one report may come
    // before our first SR); its view of our stream is there.
    assert!(quality.reports_received >= 1, "{quality:?}");
    assert!(quality.remote_loss_percent.is_some(), "{quality:?}");
    let speech = speech_wav();
    let ours = PathBuf::from(media.recording.clone().expect("recording"));
    let theirs = s.baresip.received_audio().unwrap();
    let seatline_heard =
        tokio::task::block_in_place(|| pesq::score(&speech, &ours, Mode::Nb)).unwrap();
    let baresip_heard =
        tokio::task::block_in_place(|| pesq::score(&speech, &theirs, Mode::Nb)).unwrap();
    eprintln!(
        "PESQ-NB over SRTP: Seatline heard {seatline_heard:.3} ({}), baresip heard {baresip_heard:.3} ({})",
        ours.display(),
        theirs.display()
    );
    (media, seatline_heard, baresip_heard)
}

fn assert_baresip_used_savp(b: &Baresip) {
    let log = b.log_text();
    assert!(
        log.contains("RTP/SAVP"),
        "no RTP/SAVP in baresip's SIP trace"
    );
    assert!(
        log.contains("a=crypto:"),
        "no a=crypto in baresip's SIP trace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seatline_calls_baresip_over_srtp_and_speech_flows_both_ways() {
    let _s = SERIAL.lock().await;
    let mut s = setup(MediaEncryption::Required, Some("srtp-mand")).await;
    s.phone.handle.dial(None, "1002").await.unwrap();
    let (media, seatline_heard, baresip_heard) = speech_over_srtp(&mut s).await;
    assert_eq!(media.srtp.as_deref(), Some("AES_CM_128_HMAC_SHA1_80"));
    assert_baresip_used_savp(&s.baresip);
    assert!(
        seatline_heard >= 3.0,
        "Seatline heard PESQ {seatline_heard}"
    );
    assert!(baresip_heard >= 3.0, "baresip heard PESQ {baresip_heard}");
    s.phone.handle.shutdown().await;
    drop(s.proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_seatline_over_srtp_and_speech_flows_both_ways() {
    let _s = SERIAL.lock().await;
    let mut s = setup(MediaEncryption::Required, Some("srtp-mand")).await;
    let target = format!("sip:1001@{}", s.proxy.addr());
    tokio::task::block_in_place(|| s.baresip.ctrl().dial(&target).unwrap());
    let incoming = next_event(&mut s.phone.events, "incoming call", T, |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    })
    .await;
    let PhoneEvent::IncomingCall { call, .. } = incoming else {
        unreachable!()
    };
    s.phone.handle.answer(&call).await.unwrap();
    let (media, seatline_heard, baresip_heard) = speech_over_srtp(&mut s).await;
    assert_eq!(media.srtp.as_deref(), Some("AES_CM_128_HMAC_SHA1_80"));
    assert_baresip_used_savp(&s.baresip);
    assert!(
        seatline_heard >= 3.0,
        "Seatline heard PESQ {seatline_heard}"
    );
    assert!(baresip_heard >= 3.0, "baresip heard PESQ {baresip_heard}");
    s.phone.handle.shutdown().await;
}

/// SRTP required on our side, a peer without SRTP: its offer gets 488 Not Acceptable Here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_srtp_refuses_a_plain_offer_with_488() {
    let _s = SERIAL.lock().await;
    let mut s = setup(MediaEncryption::Required, None).await;
    let target = format!("sip:1001@{}", s.proxy.addr());
    tokio::task::block_in_place(|| {
        let ctrl = s.baresip.ctrl();
        ctrl.dial(&target).unwrap();
        let closed = ctrl.wait_for_event("CALL_CLOSED", T).unwrap();
        assert!(closed.param.contains("488"), "{closed:?}");
    });
    // The phone never rang for it.
    while let Ok(e) = s.phone.events.try_recv() {
        assert!(!matches!(e, PhoneEvent::IncomingCall { .. }), "{e:?}");
    }
    s.phone.handle.shutdown().await;
}
