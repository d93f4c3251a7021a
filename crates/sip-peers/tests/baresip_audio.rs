//! baresip <-> baresip calls with real speech, scored with PESQ; ctrl_tcp call control.
//! Audio tests run one at a time (a shared lock): two cores are shared with other work and
//! PESQ of real-time paced audio suffers when the machine is starved.

// Test helpers (not #[test] fns themselves) unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::pesq::{self, Mode};
use seatline_sip_peers::{
    speech_wav, AudioMode, Baresip, BaresipConfig, Codec, DigestAlgorithm, Kamailio, KamailioConfig,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static AUDIO: Mutex<()> = Mutex::new(());
const T: Duration = Duration::from_secs(10);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    AUDIO.lock().unwrap_or_else(|p| p.into_inner())
}

/// A plays the 8 s speech file to B (auto-answer, echo) through `via` (a dial URI); returns
/// B's recording of what it received and A's recording of B's echo.
fn speech_call(
    a: &mut Baresip,
    b: &mut Baresip,
    dial: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    a.ctrl().dial(dial).unwrap();
    let est = a.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    assert_eq!(est.direction, "outgoing");
    let inc = b.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    assert_eq!(inc.direction, "incoming");
    // baresip 1.0's aufile ends the call at end of file (8 s).
    let closed = a
        .ctrl()
        .wait_for_event("CALL_CLOSED", Duration::from_secs(20))
        .unwrap();
    assert!(closed.param.contains("end of file"), "closed: {closed:?}");
    b.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();
    (b.received_audio().unwrap(), a.received_audio().unwrap())
}

#[test]
fn baresip_pcmu_through_kamailio_scores_pesq_nb_above_3_5() {
    let _serial = serial();
    let started = Instant::now();
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let mut b = Baresip::start(
        BaresipConfig::new("1002")
            .registrar(&proxy)
            .auto_answer(true)
            .codecs(&[Codec::Pcmu]),
    )
    .unwrap();
    let mut a = Baresip::start(
        BaresipConfig::new("1001")
            .registrar(&proxy)
            .codecs(&[Codec::Pcmu])
            .play(&speech_wav()),
    )
    .unwrap();
    // baresip 1.0 REGISTERs with MD5 digest fine against this Kamailio.
    b.wait_registered(T).unwrap();
    a.wait_registered(T).unwrap();
    let dial = format!("sip:1002@{}", proxy.addr());
    let (received, echoed) = speech_call(&mut a, &mut b, &dial);
    let one_way = pesq::score_detailed(&speech_wav(), &received, Mode::Nb).unwrap();
    let round_trip = pesq::score_detailed(&speech_wav(), &echoed, Mode::Nb).unwrap();
    eprintln!(
        "PCMU via Kamailio: PESQ-NB one-way {:.3}, echo round trip {:.3} (delay in recording {:.0} ms); {:?}",
        one_way.pesq, round_trip.pesq, round_trip.delay_ms, started.elapsed()
    );
    assert!(
        one_way.pesq >= 3.5,
        "PESQ-NB {} < 3.5 ({})",
        one_way.pesq,
        received.display()
    );
    assert!(round_trip.pesq >= 3.0, "echo PESQ-NB {}", round_trip.pesq);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn baresip_opus_direct_by_address_scores_pesq() {
    let _serial = serial();
    let started = Instant::now();
    let mut b = Baresip::start(
        BaresipConfig::new("2002")
            .auto_answer(true)
            .codecs(&[Codec::Opus]),
    )
    .unwrap();
    let mut a = Baresip::start(
        BaresipConfig::new("2001")
            .codecs(&[Codec::Opus])
            .play(&speech_wav()),
    )
    .unwrap();
    let dial = b.uri();
    let (received, _) = speech_call(&mut a, &mut b, &dial);
    let nb = pesq::score(&speech_wav(), &received, Mode::Nb).unwrap();
    let wb = pesq::score(&speech_wav(), &received, Mode::Wb).unwrap();
    eprintln!(
        "Opus direct: PESQ-NB {nb:.3}, PESQ-WB {wb:.3} (8 kHz source); {:?}",
        started.elapsed()
    );
    assert!(nb >= 3.5, "Opus PESQ-NB {nb}");
}

#[test]
fn ctrl_tcp_hold_resume_dtmf_and_blind_transfer() {
    let _serial = serial();
    let mut b = Baresip::start(BaresipConfig::new("3002").auto_answer(true)).unwrap();
    let mut c = Baresip::start(BaresipConfig::new("3003").auto_answer(true)).unwrap();
    // A needs a running source: RFC 4733 events ride the transmit path.
    let mut a = Baresip::start(BaresipConfig::new("3001").audio(AudioMode::Sine(440))).unwrap();
    // Manual answer on B's side is exercised separately below: here A calls B.
    a.ctrl().dial(&b.uri()).unwrap();
    a.ctrl().wait_for_event("CALL_RINGING", T).ok();
    a.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    b.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();

    a.ctrl().send_dtmf("5").unwrap();
    let dtmf = b.ctrl().wait_for_event("CALL_DTMF_START", T).unwrap();
    assert_eq!(dtmf.param, "5", "{dtmf:?}");

    // Hold: a re-INVITE offering a=sendonly, answered a=recvonly; resume: sendrecv again.
    let mark = b.log_text().len();
    a.ctrl().hold().unwrap();
    let at = b.wait_for_log("a=sendonly", mark, T).unwrap();
    let at = b.wait_for_log("a=recvonly", at, T).unwrap();
    a.ctrl().resume().unwrap();
    b.wait_for_log("a=sendrecv", at, T).unwrap();

    // Blind transfer: B is sent to C with REFER; C answers, A's call to B ends.
    a.ctrl().transfer(&c.uri()).unwrap();
    let at_c = c.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    assert!(
        at_c.peer_uri.contains("3002"),
        "C talks to {}",
        at_c.peer_uri
    );
    a.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();
    b.ctrl().hangup().unwrap();
    c.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();

    // Manual answer: C (auto) calls A' with answermode=manual, who accepts.
    let mut d = Baresip::start(BaresipConfig::new("3004")).unwrap();
    c.ctrl().dial(&d.uri()).unwrap();
    d.ctrl().wait_for_event("CALL_INCOMING", T).unwrap();
    d.ctrl().accept().unwrap();
    d.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    d.ctrl().hangup().unwrap();
    c.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();
}

#[test]
fn echo_mode_is_the_default_audio() {
    assert_eq!(BaresipConfig::new("x").audio, AudioMode::Echo);
}

#[test]
fn sipp_info_and_hold_scenario_against_baresip() {
    use seatline_sip_peers::{Scenario, Sipp, SippOptions};
    let _serial = serial();
    let mut b = Baresip::start(BaresipConfig::new("4002").auto_answer(true)).unwrap();
    let hold = SippOptions::new(Scenario::UacHold)
        .unwrap()
        .to(b.sip_addr(), "4002")
        .key("domain", "127.0.0.1")
        .duration(300)
        .rtp_echo(true);
    let run = Sipp::run_scenario(hold, Duration::from_secs(20)).unwrap();
    assert!(
        run.success(),
        "uac_hold against baresip: {}",
        run.describe()
    );
    // The INFO (application/dtmf-relay, Signal=5) reached baresip as a DTMF event.
    let dtmf = b.ctrl().wait_for_event("CALL_DTMF_START", T).unwrap();
    assert_eq!(dtmf.param, "5");
    b.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();
}

#[test]
fn baresip_registration_errors_are_reported() {
    // Wrong password (MD5 proxy) and an algorithm baresip 1.0 cannot compute (SHA-256).
    let md5 = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let mut wrong =
        Baresip::start(BaresipConfig::new("1003").registrar(&md5).password("nope")).unwrap();
    let err = wrong.wait_registered(T).unwrap_err();
    assert!(err.to_string().contains("registration failed"), "{err}");

    let sha = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Sha256)).unwrap();
    let mut old = Baresip::start(BaresipConfig::new("1004").registrar(&sha)).unwrap();
    let err = old.wait_registered(T).unwrap_err();
    eprintln!("baresip 1.0 against a SHA-256 challenge: {err}");
}

#[test]
fn sha256_proxy_reaches_baresip_registered_on_its_behalf() {
    use seatline_sip_peers::digest::Client;
    let _serial = serial();
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Sha256)).unwrap();
    // baresip 1.0 cannot answer SHA-256: it runs without registration and the harness
    // registers its address for it.
    let mut callee = Baresip::start(BaresipConfig::new("1002").auto_answer(true)).unwrap();
    proxy
        .register_contact("1002", callee.sip_addr(), 300)
        .unwrap();
    let mut caller = Client::new(proxy.addr()).unwrap();
    let (answer, bye) = caller
        .call(
            proxy.realm(),
            "1001",
            proxy.password("1001").unwrap(),
            "1002",
            41004,
            Duration::from_millis(300),
            T,
        )
        .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(bye, 200);
    callee.ctrl().wait_for_event("CALL_ESTABLISHED", T).unwrap();
    callee.ctrl().wait_for_event("CALL_CLOSED", T).unwrap();
}
