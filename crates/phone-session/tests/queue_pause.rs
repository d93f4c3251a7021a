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
use seatline_sip_peers::{peers_dir, Scenario, Sipp, SippBackground, SippOptions};
use seatline_sip_phone::{AccountConfig, Phone, PhoneConfig, PhoneEvent};
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
