//! Queue pause feature codes against a real peer: sipp plays the PBX (a static peer: the phone
//! does not register, the codes go straight to sipp on loopback). Each test checks the INVITE
//! sipp received (its Request-URI is the code at the PBX's domain), that the call was torn
//! down (BYE after a 200, CANCEL when nothing answers: sipp's scenario fails otherwise), that
//! the phone emitted no call event for it, and the report the agent's window gets.
//! Logs: target/peer-logs/<test>/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_agent_state::AgentState;
use seatline_phone_session::queue_pause::{dial, QueuePauseTracker};
use seatline_phone_session::SessionError;
use seatline_settings::QueuePauseSettings;
use seatline_sip_peers::{
    peers_dir, DigestAlgorithm, Kamailio, KamailioConfig, Scenario, Sipp, SippBackground,
    SippOptions,
};
use seatline_sip_phone::{AccountConfig, Phone, PhoneConfig, PhoneEvent, RegistrationState};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const T: Duration = Duration::from_secs(15);

fn pbx(scenario: &str) -> SippBackground {
    let file = peers_dir().join("sipp").join(scenario);
    Sipp::uas(SippOptions::new(Scenario::File(file)).unwrap()).unwrap()
}

async fn phone_at(pbx: SocketAddr) -> Phone {
    let account = AccountConfig {
        user: "1001".into(),
        domain: pbx.to_string(),
        register: false,
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        keepalive_secs: 0,
        ..PhoneConfig::default()
    };
    Phone::start(config, vec![(account, "unused".into())])
        .await
        .unwrap()
}

fn settings() -> QueuePauseSettings {
    QueuePauseSettings {
        enabled: true,
        pause: Some("*62".into()),
        unpause: Some("*63".into()),
        reasons: Default::default(),
        timeout_secs: 2,
    }
}

/// Every event the phone emitted so far must be about the phone, never about a call.
fn assert_no_call_events(events: &mut UnboundedReceiver<PhoneEvent>) {
    while let Ok(event) = events.try_recv() {
        assert!(
            matches!(
                event,
                PhoneEvent::Started { .. } | PhoneEvent::Registration { .. }
            ),
            "a feature code must not look like a call: {event:?}"
        );
    }
}

/// The INVITE lines sipp received, in order.
fn invites(messages: &str) -> Vec<String> {
    messages
        .lines()
        .filter(|l| l.starts_with("INVITE "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_dials_the_pause_code_and_hangs_up_once_answered() {
    let sipp = pbx("uas_feature_code.xml");
    let pbx_addr = sipp.addr();
    let Phone { handle, mut events } = phone_at(pbx_addr).await;
    let mut tracker = QueuePauseTracker::default();
    let pause = tracker
        .on_state(
            &settings(),
            &AgentState::NotReady {
                reason: "break".into(),
            },
        )
        .expect("Not ready dials the pause code");
    let report = dial(Ok(handle.clone()), &pause).await;
    tracker.finished(&report);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.warning, None);
    assert!(tracker.told().is_some_and(|t| t.paused));

    let run = tokio::task::block_in_place(|| sipp.wait(T)).unwrap();
    assert!(
        run.success(),
        "the PBX saw INVITE, ACK and our BYE: {}",
        run.describe()
    );
    let messages = run.messages();
    assert_eq!(
        invites(&messages),
        vec![format!("INVITE sip:*62@{pbx_addr} SIP/2.0")],
        "{}",
        run.messages_log.display()
    );
    assert!(messages.contains("\nBYE sip:"), "{messages}");
    assert_no_call_events(&mut events);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_unpause_code_becomes_a_warning_and_is_retried_at_the_next_change() {
    let sipp = pbx("uas_busy.xml");
    let pbx_addr = sipp.addr();
    let Phone { handle, mut events } = phone_at(pbx_addr).await;
    let mut tracker = QueuePauseTracker::default();
    let unpause = tracker.on_state(&settings(), &AgentState::Ready).unwrap();
    let report = dial(Ok(handle.clone()), &unpause).await;
    tracker.finished(&report);
    assert!(!report.ok);
    assert_eq!(
        report.warning.as_deref(),
        Some("the PBX refused the unpause code *63 (486 Busy Here)")
    );
    // Unknown again: the next Ready dials the code again.
    assert_eq!(tracker.told(), None);
    assert!(tracker.on_state(&settings(), &AgentState::Ready).is_some());

    let run = tokio::task::block_in_place(|| sipp.wait(T)).unwrap();
    assert!(run.success(), "{}", run.describe());
    assert_eq!(
        invites(&run.messages()),
        vec![format!("INVITE sip:*63@{pbx_addr} SIP/2.0")]
    );
    assert_no_call_events(&mut events);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_nobody_answers_is_cancelled_after_the_timeout_and_reported() {
    let sipp = pbx("uas_ring_until_cancel.xml");
    let Phone { handle, mut events } = phone_at(sipp.addr()).await;
    let pause = QueuePauseTracker::default()
        .on_state(
            &settings(),
            &AgentState::NotReady {
                reason: "lunch".into(),
            },
        )
        .unwrap();
    let started = std::time::Instant::now();
    let report = dial(Ok(handle.clone()), &pause).await;
    let took = started.elapsed();
    assert!(!report.ok);
    assert_eq!(
        report.warning.as_deref(),
        Some("the PBX did not answer the pause code *62 within 2 s")
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let run = tokio::task::block_in_place(|| sipp.wait(T)).unwrap();
    assert!(run.success(), "the PBX saw our CANCEL: {}", run.describe());
    assert_eq!(run.received_statuses(), Vec::<u16>::new());
    assert!(run.messages().contains("\nCANCEL sip:*62@"));
    assert_no_call_events(&mut events);
    handle.shutdown().await;
}

#[tokio::test]
async fn without_a_phone_the_code_is_not_dialled_and_the_agent_is_warned() {
    let pause = QueuePauseTracker::default()
        .on_state(&settings(), &AgentState::Ready)
        .unwrap();
    let report = dial(Err(SessionError::NotConnected), &pause).await;
    assert!(!report.ok);
    assert_eq!(
        report.warning.as_deref(),
        Some("the phone is not connected: the unpause code *63 was not dialled")
    );
}

/// The codes through a registrar with digest auth, as a hosted PBX takes them: the phone
/// registers 1001 at Kamailio; the pause code is routed to the queue service (sipp, registered
/// as 1003: the INVITE is challenged with 407, sent again with credentials, answered, BYE'd);
/// the unpause code `*63` is unknown to this PBX, which answers 404, and the agent is warned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_kamailio_the_pause_code_is_authenticated_and_an_unknown_code_is_refused() {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let service = pbx("uas_feature_code.xml");
    let reg = tokio::task::block_in_place(|| {
        Sipp::run_scenario(
            SippOptions::register(
                proxy.addr(),
                proxy.realm(),
                "1003",
                proxy.password("1003").unwrap(),
                service.addr(),
            )
            .unwrap(),
            T,
        )
    })
    .unwrap();
    assert!(reg.success(), "{}", reg.describe());

    let account = AccountConfig {
        user: "1001".into(),
        domain: proxy.addr().to_string(),
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        keepalive_secs: 0,
        ..PhoneConfig::default()
    };
    let password = proxy.password("1001").unwrap().to_string();
    let Phone { handle, mut events } = Phone::start(config, vec![(account, password)])
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("registered in time")
            .unwrap();
        if let PhoneEvent::Registration {
            state: RegistrationState::Registered { .. },
            ..
        } = event
        {
            break;
        }
    }

    let settings = QueuePauseSettings {
        pause: Some("1003".into()),
        ..settings()
    };
    let mut tracker = QueuePauseTracker::default();
    let pause = tracker
        .on_state(
            &settings,
            &AgentState::NotReady {
                reason: "training".into(),
            },
        )
        .unwrap();
    let started = std::time::Instant::now();
    let report = dial(Ok(handle.clone()), &pause).await;
    assert!(report.ok, "{report:?}");
    // Answered and hung up without waiting on the BYE's answer: the next code is not held.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let run = tokio::task::block_in_place(|| service.wait(T)).unwrap();
    assert!(run.success(), "{}", run.describe());
    let messages = run.messages();
    assert!(
        messages.contains(&format!("To: <sip:1003@{}>", proxy.addr())),
        "{messages}"
    );
    assert!(messages.contains("\nBYE sip:"), "{messages}");

    let unpause = tracker.on_state(&settings, &AgentState::Ready).unwrap();
    let report = dial(Ok(handle.clone()), &unpause).await;
    assert_eq!(
        report.warning.as_deref(),
        Some("the PBX refused the unpause code *63 (404 Not Found)")
    );
    tracker.finished(&report);
    assert_eq!(tracker.told(), None);
    assert_no_call_events(&mut events);
    handle.shutdown().await;
}
