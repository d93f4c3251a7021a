//! The server's clock for work orders (SLA timers, note and status times). Always the server's
//! own time, never a client's; the offset exists so tests and simulations can move time forward
//! without sleeping. Token expiry and customer stamps use the real clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

/// Server time plus an adjustable offset (zero in production). Cheap to clone; clones share the
/// offset.
#[derive(Debug, Clone, Default)]
pub struct ServerClock {
    offset_micros: Arc<AtomicI64>,
}

impl ServerClock {
    /// The real clock.
    pub fn new() -> ServerClock {
        ServerClock::default()
    }

    /// Now (UTC).
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::SeqCst));
        OffsetDateTime::now_utc().saturating_add(offset)
    }

    /// Move this clock (and its clones) forward by `by` (tests and simulations only).
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }
}

/// Unix microseconds of a timestamp (saturating).
pub fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = ServerClock::new();
        let clone = clock.clone();
        let before = clone.now();
        clock.advance(Duration::hours(3));
        let after = clone.now();
        assert!(after - before >= Duration::hours(3));
        assert!(after - before < Duration::hours(3) + Duration::minutes(1));
        assert_eq!(
            to_micros(OffsetDateTime::UNIX_EPOCH + Duration::seconds(2)),
            2_000_000
        );
    }
}
