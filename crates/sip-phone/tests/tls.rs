//! SIP over TLS against a real Kamailio (tls module, Debian package kamailio-tls-modules) with
//! certificate verification on: a test CA and server certificates made here with rcgen. A phone
//! that trusts the CA registers and calls over TLS; a server certificate from another CA, or one
//! that does not name the address dialled, is refused with an error that says so.
//! Logs: target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{
    AccountConfig, AudioIo, MediaEncryption, Phone, PhoneConfig, PhoneEvent, RegistrationState,
    SipTransport,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for `names` (DNS names or IP addresses) and its key, PEM.
fn server_cert(ca: &Ca, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Seatline test PBX");
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ca_file(ca: &Ca, name: &str) -> PathBuf {
    let path = seatline_sip_peers::log_dir().unwrap().join(name);
    std::fs::write(&path, &ca.pem).unwrap();
    path
}

fn tls_proxy(ca: &Ca, names: &[&str]) -> Kamailio {
    let (cert, key) = server_cert(ca, names);
    Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5).tls(&cert, &key)).unwrap()
}

async fn start_phone(
    proxy: &Kamailio,
    user: &str,
    transport: SipTransport,
    ca: Option<PathBuf>,
    auto_answer_ms: Option<u64>,
) -> Phone {
    start_phone_with(proxy, user, transport, ca, auto_answer_ms, |_, _| {}).await
}

/// [`start_phone`] with the account and phone configuration changed by `tweak`.
async fn start_phone_with(
    proxy: &Kamailio,
    user: &str,
    transport: SipTransport,
    ca: Option<PathBuf>,
    auto_answer_ms: Option<u64>,
    tweak: impl FnOnce(&mut AccountConfig, &mut PhoneConfig),
) -> Phone {
    let domain = match transport {
        SipTransport::Tls => proxy.tls_addr().unwrap(),
        SipTransport::Tcp => proxy.tcp_addr(),
        SipTransport::Udp => proxy.addr(),
    };
    let account = AccountConfig {
        user: user.into(),
        domain: domain.to_string(),
        transport,
        auto_answer_ms,
        ..AccountConfig::default()
    };
    let mut account = account;
    let mut config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls_ca_file: ca,
        ..PhoneConfig::default()
    };
    tweak(&mut account, &mut config);
    let password = proxy.password(user).unwrap().to_string();
    Phone::start(config, vec![(account, password)])
        .await
        .unwrap()
}

async fn next_event(
    events: &mut UnboundedReceiver<PhoneEvent>,
    what: &str,
    pred: impl Fn(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let timeout = Duration::from_secs(10);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {timeout:?}"))
            .expect("phone events ended");
        eprintln!("{what}? {event:?}");
        if pred(&event) {
            return event;
        }
    }
}

fn registered(e: &PhoneEvent) -> bool {
    matches!(
        e,
        PhoneEvent::Registration {
            state: RegistrationState::Registered { .. },
            ..
        }
    )
}

fn failed_reason(e: &PhoneEvent) -> Option<&str> {
    match e {
        PhoneEvent::Registration {
            state: RegistrationState::Failed { reason, .. },
            ..
        } => Some(reason),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_and_calls_over_tls_with_a_verified_certificate() {
    let ca = ca("Seatline test CA");
    let proxy = tls_proxy(&ca, &["127.0.0.1"]);
    let mut a = start_phone(
        &proxy,
        "1001",
        SipTransport::Tls,
        Some(ca_file(&ca, "ca.pem")),
        None,
    )
    .await;
    let mut b = start_phone(&proxy, "1002", SipTransport::Udp, None, Some(0)).await;
    next_event(&mut a.events, "A registered over TLS", registered).await;
    next_event(&mut b.events, "B registered", registered).await;

    let call = a.handle.dial(None, "1002").await.unwrap();
    next_event(&mut b.events, "B's incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    })
    .await;
    next_event(
        &mut a.events,
        "A's call established",
        |e| matches!(e, PhoneEvent::Established { call: c, .. } if *c == call),
    )
    .await;
    a.handle.hangup(&call).await.unwrap();
    next_event(
        &mut a.events,
        "A's call ended",
        |e| matches!(e, PhoneEvent::Ended { call: c, .. } if *c == call),
    )
    .await;
    next_event(&mut b.events, "B's call ended", |e| {
        matches!(e, PhoneEvent::Ended { .. })
    })
    .await;

    // Kamailio's trace: A's REGISTER and INVITE came in over TLS.
    let log = std::fs::read_to_string(proxy.log_path().unwrap()).unwrap();
    for method in ["REGISTER", "INVITE", "BYE"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!(" in {method} ")) && l.contains("from tls:")),
            "no {method} over TLS in Kamailio's log"
        );
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

/// Calls *to* a phone registered over a connection: the PBX has no way to open one to it (a
/// desktop has no TLS certificate and sits behind NAT), so INVITE, and BYE in the dialog, must
/// come back on the connection the phone opened. A UDP phone calls the connection phone, hangs
/// up (BYE to it); then calls again and the connection phone hangs up.
async fn calls_reach_a_phone_registered_over(transport: SipTransport) {
    let ca = ca("Seatline test CA");
    let proxy = tls_proxy(&ca, &["127.0.0.1"]);
    let mut a = start_phone(&proxy, "1001", SipTransport::Udp, None, None).await;
    let mut b = start_phone(
        &proxy,
        "1002",
        transport,
        Some(ca_file(&ca, "ca.pem")),
        Some(0),
    )
    .await;
    next_event(&mut a.events, "A registered", registered).await;
    next_event(&mut b.events, "B registered over a connection", registered).await;

    for b_hangs_up in [false, true] {
        let call = a.handle.dial(None, "1002").await.unwrap();
        let incoming = next_event(&mut b.events, "B's incoming call", |e| {
            matches!(e, PhoneEvent::IncomingCall { .. })
        })
        .await;
        let PhoneEvent::IncomingCall { call: b_call, .. } = incoming else {
            unreachable!()
        };
        next_event(
            &mut b.events,
            "B's call established (auto-answer)",
            |e| matches!(e, PhoneEvent::Established { call: c, .. } if *c == b_call),
        )
        .await;
        next_event(
            &mut a.events,
            "A's call established",
            |e| matches!(e, PhoneEvent::Established { call: c, .. } if *c == call),
        )
        .await;
        if b_hangs_up {
            b.handle.hangup(&b_call).await.unwrap();
        } else {
            a.handle.hangup(&call).await.unwrap();
        }
        next_event(
            &mut a.events,
            "A's call ended",
            |e| matches!(e, PhoneEvent::Ended { call: c, .. } if *c == call),
        )
        .await;
        next_event(
            &mut b.events,
            "B's call ended",
            |e| matches!(e, PhoneEvent::Ended { call: c, .. } if *c == b_call),
        )
        .await;
    }

    // Kamailio's trace: B's REGISTER and BYE came over the connection, never UDP.
    let log = std::fs::read_to_string(proxy.log_path().unwrap()).unwrap();
    let from = format!("from {}:", transport.as_str());
    for method in ["REGISTER", "BYE"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!(" in {method} ")) && l.contains(&from)),
            "no {method} {from} in Kamailio's log"
        );
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_a_phone_registered_over_tls() {
    calls_reach_a_phone_registered_over(SipTransport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_a_phone_registered_over_tcp() {
    calls_reach_a_phone_registered_over(SipTransport::Tcp).await;
}

/// What home agents over the internet use: SIP over TLS and SRTP (SDES keys in the encrypted
/// SDP) on both phones. Each plays the speech file and records what it hears; both must have
/// agreed on SRTP and heard speech (audio that was not decrypted would be noise or nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srtp_calls_between_two_tls_phones() {
    let ca = ca("Seatline test CA");
    let proxy = tls_proxy(&ca, &["127.0.0.1"]);
    let heard = tempfile::tempdir().unwrap();
    let secure = |dir: PathBuf| {
        move |account: &mut AccountConfig, config: &mut PhoneConfig| {
            account.media_encryption = MediaEncryption::Required;
            config.codecs = vec!["PCMU".into()];
            config.audio = AudioIo::Files {
                source: Some(seatline_sip_peers::speech_wav()),
                record_dir: Some(dir),
            };
        }
    };
    let ca_path = ca_file(&ca, "ca.pem");
    let mut a = start_phone_with(
        &proxy,
        "1001",
        SipTransport::Tls,
        Some(ca_path.clone()),
        None,
        secure(heard.path().join("a")),
    )
    .await;
    let mut b = start_phone_with(
        &proxy,
        "1002",
        SipTransport::Tls,
        Some(ca_path),
        Some(0),
        secure(heard.path().join("b")),
    )
    .await;
    next_event(&mut a.events, "A registered over TLS", registered).await;
    next_event(&mut b.events, "B registered over TLS", registered).await;
    let call = a.handle.dial(None, "1002").await.unwrap();
    let srtp_of = |e: &PhoneEvent| match e {
        PhoneEvent::Established { media: Some(m), .. } => m.srtp.clone(),
        _ => None,
    };
    let a_up = next_event(&mut a.events, "A's call established", |e| {
        matches!(e, PhoneEvent::Established { .. })
    })
    .await;
    let b_up = next_event(&mut b.events, "B's call established", |e| {
        matches!(e, PhoneEvent::Established { .. })
    })
    .await;
    assert_eq!(
        srtp_of(&a_up).as_deref(),
        Some("AES_CM_128_HMAC_SHA1_80"),
        "{a_up:?}"
    );
    assert_eq!(
        srtp_of(&b_up).as_deref(),
        Some("AES_CM_128_HMAC_SHA1_80"),
        "{b_up:?}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    a.handle.hangup(&call).await.unwrap();
    next_event(&mut a.events, "A's call ended", |e| {
        matches!(e, PhoneEvent::Ended { .. })
    })
    .await;
    next_event(&mut b.events, "B's call ended", |e| {
        matches!(e, PhoneEvent::Ended { .. })
    })
    .await;
    a.handle.shutdown().await;
    b.handle.shutdown().await;

    // Each side heard the other's speech: its recording follows the speech file's loudness
    // (20 ms frames) closely, which noise from undecrypted packets would not.
    let speech = seatline_media::wav::read_mono(&seatline_sip_peers::speech_wav(), 8000).unwrap();
    let envelope = |x: &[i16]| -> Vec<f64> {
        x.chunks(160)
            .map(|c| (c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 160.0).sqrt())
            .collect()
    };
    let reference = envelope(&speech);
    for side in ["a", "b"] {
        let dir = heard.path().join(side);
        let wav = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "wav"))
            .unwrap_or_else(|| panic!("{side} recorded nothing"));
        let got = envelope(&seatline_media::wav::read_mono(&wav, 8000).unwrap());
        // The best alignment within ±0.5 s: each side's recording and source start with its
        // own media, so either may lead.
        let corr = (-25isize..=25)
            .map(|lag| {
                let (x, y) = if lag >= 0 {
                    (&reference[..], &got[lag as usize..])
                } else {
                    (&reference[(-lag) as usize..], &got[..])
                };
                let n = x.len().min(y.len()).min(150);
                let (x, y) = (&x[..n], &y[..n]);
                let (mx, my) = (
                    x.iter().sum::<f64>() / n as f64,
                    y.iter().sum::<f64>() / n as f64,
                );
                let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
                for i in 0..n {
                    xy += (x[i] - mx) * (y[i] - my);
                    xx += (x[i] - mx).powi(2);
                    yy += (y[i] - my).powi(2);
                }
                xy / (xx * yy).sqrt().max(1e-9)
            })
            .fold(f64::MIN, f64::max);
        eprintln!("{side}: loudness follows the speech with correlation {corr:.3}");
        assert!(corr > 0.8, "{side} did not hear the speech: {corr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let server_ca = ca("Somebody else's CA");
    let trusted = ca("Seatline test CA");
    let proxy = tls_proxy(&server_ca, &["127.0.0.1"]);
    let mut a = start_phone(
        &proxy,
        "1001",
        SipTransport::Tls,
        Some(ca_file(&trusted, "trusted-ca.pem")),
        None,
    )
    .await;
    let e = next_event(&mut a.events, "a refusal", |e| failed_reason(e).is_some()).await;
    let reason = failed_reason(&e).unwrap();
    assert!(
        reason.contains("not signed by a trusted CA") && reason.contains("UnknownIssuer"),
        "{reason}"
    );
    let log = std::fs::read_to_string(proxy.log_path().unwrap()).unwrap();
    assert!(!log.contains(" in REGISTER "), "a REGISTER got through");
    a.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_is_refused() {
    let ca = ca("Seatline test CA");
    let proxy = tls_proxy(&ca, &["pbx.example.test"]);
    let mut a = start_phone(
        &proxy,
        "1001",
        SipTransport::Tls,
        Some(ca_file(&ca, "ca.pem")),
        None,
    )
    .await;
    let e = next_event(&mut a.events, "a refusal", |e| failed_reason(e).is_some()).await;
    let reason = failed_reason(&e).unwrap();
    assert!(
        reason.contains("does not name") && reason.contains("pbx.example.test"),
        "{reason}"
    );
    let log = std::fs::read_to_string(proxy.log_path().unwrap()).unwrap();
    assert!(!log.contains(" in REGISTER "), "a REGISTER got through");
    a.handle.shutdown().await;
}
