//! What the real-peer tests of this crate share.

use seatline_sip_peers::Kamailio;
use seatline_sip_phone::{AccountConfig, Phone, PhoneConfig, PhoneEvent, RegistrationState};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// The next event `pred` accepts (every event is printed, for the test's log); panics naming
/// `what` when none comes within `timeout`.
pub async fn next_event(
    events: &mut UnboundedReceiver<PhoneEvent>,
    what: &str,
    timeout: Duration,
    mut pred: impl FnMut(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {timeout:?}"))
            .expect("phone events ended");
        eprintln!("phone: {event:?}");
        if pred(&event) {
            return event;
        }
    }
}

/// Starts a phone with `account` (its password from `proxy`) and waits until it is registered.
pub async fn start_registered(
    proxy: &Kamailio,
    account: AccountConfig,
    config: PhoneConfig,
    timeout: Duration,
) -> Phone {
    let password = proxy.password(&account.user).unwrap().to_string();
    let mut phone = Phone::start(config, vec![(account, password)])
        .await
        .unwrap();
    next_event(&mut phone.events, "registered", timeout, |e| {
        matches!(
            e,
            PhoneEvent::Registration {
                state: RegistrationState::Registered { .. },
                ..
            }
        )
    })
    .await;
    phone
}
