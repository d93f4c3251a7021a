//! Keep-alives against a real Kamailio on loopback (Debian package `kamailio`): the phone pings
//! its registered flow with OPTIONS; when Kamailio goes away the failed ping is reported and
//! the phone re-registers at once, so it is reachable again seconds after Kamailio is back
//! instead of at the next refresh (225 s for expires=300). Logs: target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{
    AccountConfig, Phone, PhoneConfig, PhoneEvent, RegistrationState, SipTransport,
};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

async fn next_registration(
    events: &mut UnboundedReceiver<PhoneEvent>,
    what: &str,
    pred: impl Fn(&RegistrationState) -> bool,
    timeout: Duration,
) -> RegistrationState {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {timeout:?}"))
            .expect("phone events ended");
        if let PhoneEvent::Registration { state, .. } = event {
            eprintln!("registration: {state:?}");
            if pred(&state) {
                return state;
            }
        }
    }
}

fn ping_count(proxy: &Kamailio) -> usize {
    let log = std::fs::read_to_string(proxy.log_path().unwrap()).unwrap_or_default();
    log.lines().filter(|l| l.contains(" in OPTIONS ")).count()
}

async fn keepalive_reregisters_after_the_flow_breaks(transport: SipTransport) {
    let mut proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let domain = match transport {
        SipTransport::Tcp => proxy.tcp_addr(),
        _ => proxy.addr(),
    };
    let account = AccountConfig {
        user: "1001".into(),
        domain: domain.to_string(),
        transport,
        expires: 300,
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        keepalive_secs: 1,
        ..PhoneConfig::default()
    };
    let password = proxy.password("1001").unwrap().to_string();
    let Phone { handle, mut events } = Phone::start(config, vec![(account, password)])
        .await
        .unwrap();
    let registered = |s: &RegistrationState| matches!(s, RegistrationState::Registered { .. });
    next_registration(
        &mut events,
        "registered",
        registered,
        Duration::from_secs(10),
    )
    .await;

    // Pings go out and are answered while the flow is up: no failure, Kamailio logs them.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let pings = ping_count(&proxy);
    assert!(
        pings >= 2,
        "{pings} OPTIONS pings in 3.5 s at 1 s intervals"
    );
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, PhoneEvent::Registration { .. }),
            "registration changed while the flow was up: {e:?}"
        );
    }

    // Kamailio goes away: the next ping fails (1 s interval + 4 s timeout) and is reported.
    let stopped = Instant::now();
    tokio::task::block_in_place(|| proxy.stop());
    let failed = next_registration(
        &mut events,
        "a keep-alive failure",
        |s| matches!(s, RegistrationState::Failed { reason, .. } if reason.contains("keep-alive")),
        Duration::from_secs(10),
    )
    .await;
    eprintln!(
        "keep-alive failure reported {:?} after the stop: {failed:?}",
        stopped.elapsed()
    );

    // Back (empty location table): registered again within seconds, not at the refresh.
    tokio::task::block_in_place(|| proxy.restart()).unwrap();
    let restarted = Instant::now();
    next_registration(
        &mut events,
        "registered again",
        registered,
        Duration::from_secs(15),
    )
    .await;
    let took = restarted.elapsed();
    eprintln!("{transport:?}: registered again {took:?} after Kamailio came back");
    assert!(took < Duration::from_secs(15));
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_keepalive_reregisters_when_kamailio_comes_back() {
    keepalive_reregisters_after_the_flow_breaks(SipTransport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_keepalive_reregisters_when_kamailio_comes_back() {
    keepalive_reregisters_after_the_flow_breaks(SipTransport::Tcp).await;
}
