//! What the real-peer tests of this crate share.

use seatline_sip_phone::PhoneEvent;
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
