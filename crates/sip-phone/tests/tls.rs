//! SIP over TLS against a real Kamailio (tls module, Debian package kamailio-tls-modules) with
//! certificate verification on: a test CA and server certificates made here with rcgen. A phone
//! that trusts the CA registers and calls over TLS; a server certificate from another CA, or one
//! that does not name the address dialled, is refused with an error that says so.
//! Logs: target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{
    AccountConfig, Phone, PhoneConfig, PhoneEvent, RegistrationState, SipTransport,
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
    let domain = match transport {
        SipTransport::Tls => proxy.tls_addr().unwrap(),
        _ => proxy.addr(),
    };
    let account = AccountConfig {
        user: user.into(),
        domain: domain.to_string(),
        transport,
        auto_answer_ms,
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls_ca_file: ca,
        ..PhoneConfig::default()
    };
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
