//! Kamailio as registrar/proxy with digest auth, proven with sipp and the reference digest
//! client only (no Seatline code). Each test finishes well under 60 s.

// Test helpers (not #[test] fns themselves) unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::digest::Client;
use seatline_sip_peers::{
    DigestAlgorithm, Kamailio, KamailioConfig, Malformation, Scenario, Sipp, SippBackground,
    SippOptions, SippRun,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn register_with_sipp(
    proxy: &Kamailio,
    user: &str,
    password: &str,
    contact: SocketAddr,
) -> SippRun {
    let opts = SippOptions::register(proxy.addr(), proxy.realm(), user, password, contact).unwrap();
    Sipp::run_scenario(opts, T).unwrap()
}

/// A PCMU UAS (RTP echo on) that serves one call.
fn pcmu_uas() -> SippBackground {
    Sipp::uas(SippOptions::new(Scenario::UasPcmu).unwrap().rtp_echo(true)).unwrap()
}

fn start(algorithm: DigestAlgorithm) -> Kamailio {
    let proxy = Kamailio::start(KamailioConfig::new(algorithm)).unwrap();
    // The generated config is valid for `kamailio -c` (start checks it too).
    seatline_sip_peers::Kamailio::check(proxy.config_path()).unwrap();
    proxy
}

#[test]
fn md5_register_and_call_through_proxy_with_sipp() {
    let started = Instant::now();
    let proxy = start(DigestAlgorithm::Md5);
    let challenge = Client::new(proxy.addr())
        .unwrap()
        .register_challenge(proxy.realm(), "1002")
        .unwrap();
    assert_eq!(challenge.algorithm.as_deref(), Some("MD5"));
    assert_eq!(challenge.realm, proxy.realm());

    let callee = pcmu_uas();
    let reg = register_with_sipp(&proxy, "1002", "pw-1002", callee.addr());
    assert!(reg.success(), "REGISTER failed: {}", reg.describe());
    assert_eq!(
        reg.received_statuses(),
        vec![401, 200],
        "{}",
        reg.describe()
    );

    let call = SippOptions::new(Scenario::UacCall)
        .unwrap()
        .to(proxy.addr(), "1002")
        .auth("1001", "pw-1001")
        .key("caller", "1001")
        .key("domain", proxy.realm())
        .duration(1000);
    let run = Sipp::run_scenario(call, T).unwrap();
    assert!(run.success(), "call failed: {}", run.describe());
    let statuses = run.received_statuses();
    assert_eq!(
        statuses.first(),
        Some(&407),
        "INVITE must be challenged with 407: {statuses:?}"
    );
    assert!(
        statuses.contains(&180) && statuses.contains(&200),
        "{statuses:?}"
    );
    // In-dialog requests were loose-routed through the proxy (Record-Route honoured).
    let messages = run.messages();
    assert!(
        messages.contains("Record-Route: <sip:127.0.0.1"),
        "no Record-Route"
    );
    assert!(messages.contains("BYE sip:") && messages.contains("Route: <sip:127.0.0.1"));
    let uas = callee.wait(T).unwrap();
    assert!(uas.success(), "UAS: {}", uas.describe());
    eprintln!("md5 register+call: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn sha256_register_and_call_through_proxy() {
    let started = Instant::now();
    let proxy = start(DigestAlgorithm::Sha256);
    let challenge = Client::new(proxy.addr())
        .unwrap()
        .register_challenge(proxy.realm(), "1002")
        .unwrap();
    assert_eq!(challenge.algorithm.as_deref(), Some("SHA-256"));

    // sipp 3.6 computes MD5 (and AKAv1-MD5) digests only: it cannot answer this challenge.
    let callee = pcmu_uas();
    let sipp_reg = register_with_sipp(&proxy, "1002", "pw-1002", callee.addr());
    eprintln!(
        "sipp REGISTER against SHA-256 challenge: exit code {} (sipp 3.6 has no SHA-256)",
        sipp_reg.exit_code
    );

    // The reference digest client registers the UAS's contact with SHA-256...
    let mut client = Client::new(proxy.addr()).unwrap();
    let resp = client
        .register(
            proxy.realm(),
            "1002",
            "pw-1002",
            Some(callee.addr()),
            300,
            T,
        )
        .unwrap();
    assert_eq!(resp.status, 200, "SHA-256 REGISTER refused: {resp:?}");
    // ...and calls it through the proxy, answering the SHA-256 407 challenge.
    let mut caller = Client::new(proxy.addr()).unwrap();
    let (answer, bye) = caller
        .call(
            proxy.realm(),
            "1001",
            "pw-1001",
            "1002",
            41000,
            Duration::from_millis(500),
            T,
        )
        .unwrap();
    assert_eq!(answer.status, 200, "INVITE: {answer:?}");
    assert!(
        answer.body.contains("PCMU/8000"),
        "SDP answer: {}",
        answer.body
    );
    assert_eq!(bye, 200);
    let uas = callee.wait(T).unwrap();
    assert!(uas.success(), "UAS: {}", uas.describe());
    eprintln!("sha-256 register+call: {:?}", started.elapsed());
}

#[test]
fn wrong_password_is_refused_in_both_modes() {
    for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha256] {
        let proxy = start(algorithm);
        let contact: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut client = Client::new(proxy.addr()).unwrap();
        let resp = client
            .register(
                proxy.realm(),
                "1003",
                "not-the-password",
                Some(contact),
                300,
                T,
            )
            .unwrap();
        assert_eq!(
            resp.status, 401,
            "{algorithm:?}: wrong password accepted: {resp:?}"
        );
        let ok = client
            .register(proxy.realm(), "1003", "pw-1003", Some(contact), 300, T)
            .unwrap();
        assert_eq!(ok.status, 200, "{algorithm:?}: right password refused");
        if algorithm == DigestAlgorithm::Md5 {
            let run = register_with_sipp(&proxy, "1003", "wrong", contact);
            assert!(!run.success(), "sipp with a wrong password succeeded");
            let statuses = run.received_statuses();
            assert_eq!(statuses[..2], [401, 401], "{}", run.describe());
            assert!(!statuses.contains(&200));
            // An INVITE with wrong credentials is challenged again, never relayed.
            let call = SippOptions::new(Scenario::UacCall)
                .unwrap()
                .to(proxy.addr(), "1003")
                .auth("1001", "wrong")
                .key("caller", "1001")
                .key("domain", proxy.realm())
                .duration(100);
            let run = Sipp::run_scenario(call, T).unwrap();
            assert!(!run.success());
            let statuses = run.received_statuses();
            assert_eq!(statuses[..2], [407, 407], "{}", run.describe());
            assert!(!statuses.contains(&200));
        }
    }
}

#[test]
fn restart_forgets_registrations_and_reregister_works() {
    let started = Instant::now();
    let mut proxy = start(DigestAlgorithm::Md5);
    let callee = pcmu_uas();
    let reg = register_with_sipp(&proxy, "1002", "pw-1002", callee.addr());
    assert!(reg.success(), "{}", reg.describe());

    proxy.restart().unwrap();
    proxy.ensure_running().unwrap();
    // The in-memory location table is gone: the callee is unknown now.
    let mut caller = Client::new(proxy.addr()).unwrap();
    let (answer, _) = caller
        .call(
            proxy.realm(),
            "1001",
            "pw-1001",
            "1002",
            41002,
            Duration::ZERO,
            T,
        )
        .unwrap();
    assert_eq!(answer.status, 404, "after restart: {answer:?}");

    let reg = register_with_sipp(&proxy, "1002", "pw-1002", callee.addr());
    assert!(reg.success(), "REGISTER after restart: {}", reg.describe());
    let call = SippOptions::new(Scenario::UacCall)
        .unwrap()
        .to(proxy.addr(), "1002")
        .auth("1001", "pw-1001")
        .key("caller", "1001")
        .key("domain", proxy.realm())
        .duration(500);
    let run = Sipp::run_scenario(call, T).unwrap();
    assert!(run.success(), "call after re-register: {}", run.describe());
    assert!(callee.wait(T).unwrap().success());
    eprintln!("restart test: {:?}", started.elapsed());
}

#[test]
fn busy_and_hold_scenarios_through_proxy() {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();

    // 486 from the callee reaches the caller (whose scenario expects 200, so it fails).
    let busy = Sipp::uas(SippOptions::new(Scenario::UasBusy).unwrap()).unwrap();
    assert!(register_with_sipp(&proxy, "1004", "pw-1004", busy.addr()).success());
    let call = SippOptions::new(Scenario::UacCall)
        .unwrap()
        .to(proxy.addr(), "1004")
        .auth("1001", "pw-1001")
        .key("caller", "1001")
        .key("domain", proxy.realm());
    let run = Sipp::run_scenario(call, T).unwrap();
    assert!(!run.success());
    assert!(run.received_statuses().contains(&486), "{}", run.describe());
    assert!(busy.wait(T).unwrap().success());

    // INFO + hold (sendonly -> recvonly) + resume + BYE, all loose-routed via the proxy.
    let callee = pcmu_uas();
    assert!(register_with_sipp(&proxy, "1005", "pw-1005", callee.addr()).success());
    let hold = SippOptions::new(Scenario::UacHold)
        .unwrap()
        .to(proxy.addr(), "1005")
        .auth("1001", "pw-1001")
        .key("caller", "1001")
        .key("domain", proxy.realm())
        .duration(300);
    let run = Sipp::run_scenario(hold, T).unwrap();
    assert!(run.success(), "hold scenario: {}", run.describe());
    let messages = run.messages();
    assert!(messages.contains("a=sendonly") && messages.contains("a=recvonly"));
    assert!(messages.contains("INFO sip:"));
    assert!(callee.wait(T).unwrap().success());
}

#[test]
fn malformed_scenarios_detect_400_or_silence() {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    // All five at once (the silent ones wait 5 s for their 400).
    let runs: Vec<_> = Malformation::ALL
        .iter()
        .map(|m| {
            let opts = SippOptions::new(Scenario::Malformed(*m))
                .unwrap()
                .to(proxy.addr(), "1002");
            (*m, std::thread::spawn(move || Sipp::run_scenario(opts, T)))
        })
        .collect();
    for (m, handle) in runs {
        let run = handle.join().unwrap().unwrap();
        let statuses = run.received_statuses();
        eprintln!(
            "{m:?} against Kamailio: exit {} statuses {statuses:?}",
            run.exit_code
        );
        match m {
            // Kamailio's sanity module answers these two with 400.
            Malformation::BadCseq | Malformation::BadContentLength => {
                assert!(run.success(), "{m:?}: {}", run.describe());
                assert_eq!(statuses.first(), Some(&400));
            }
            // Kamailio drops what it cannot parse (no 400): the scenario must fail, not hang.
            Malformation::GarbageStartLine | Malformation::MissingVia => {
                assert!(!run.success(), "{m:?} passed without a 400");
                assert!(statuses.is_empty(), "{statuses:?}");
                assert!(run.elapsed < Duration::from_secs(10));
            }
            // Kamailio accepts a 12 KiB header and challenges it: anything but 400/413/513
            // fails the scenario.
            Malformation::HugeHeader => {
                assert!(!run.success());
                assert_eq!(statuses.first(), Some(&407));
            }
        }
    }
}

#[test]
fn register_over_tcp() {
    let proxy = start(DigestAlgorithm::Md5);
    let contact: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let opts = SippOptions::register(proxy.tcp_addr(), proxy.realm(), "1004", "pw-1004", contact)
        .unwrap()
        .transport(seatline_sip_peers::SippTransport::Tcp);
    let run = Sipp::run_scenario(opts, T).unwrap();
    assert!(run.success(), "REGISTER over TCP: {}", run.describe());
    assert!(run.messages().contains("SIP/2.0/TCP"), "not sent over TCP");
}

/// A port taken between picking it and Kamailio binding it (another process of the test run
/// got it as an ephemeral port) is not a failed test: Kamailio starts again on new ports.
#[test]
fn a_port_taken_before_kamailio_binds_it_is_replaced() {
    let squatter = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let mut config = KamailioConfig::new(DigestAlgorithm::Md5);
    config.udp_port = taken;
    let proxy = Kamailio::start(config).unwrap();
    assert_ne!(proxy.addr().port(), taken);
    // It works on its new ports: a registration succeeds.
    let contact: SocketAddr = "127.0.0.1:5999".parse().unwrap();
    let run = register_with_sipp(&proxy, "1001", "pw-1001", contact);
    assert!(run.success(), "REGISTER failed: {}", run.describe());
}
