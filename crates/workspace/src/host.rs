//! What both front ends read from the host the same way: the wall clock, the keychain service
//! name and the log set-up.

use seatline_agent_state::Millis;

/// Environment variable that changes the keychain service (tests use their own).
pub const KEYCHAIN_SERVICE_ENV: &str = "SEATLINE_KEYCHAIN_SERVICE";
const DEFAULT_KEYCHAIN_SERVICE: &str = "com.seatline.desktop";

/// Milliseconds since the Unix epoch by the wall clock (0 if the clock is before 1970).
pub fn wall_clock_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
        })
}

/// The keychain service name: `SEATLINE_KEYCHAIN_SERVICE`, else the app's identifier.
pub fn keychain_service() -> String {
    std::env::var(KEYCHAIN_SERVICE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_KEYCHAIN_SERVICE.to_owned())
}

/// Logs to standard error, filtered by `SEATLINE_LOG` (a `tracing` filter), else `default`.
pub fn init_logging(default: &str) {
    let filter = seatline_diagnostics::log_filter(&seatline_diagnostics::log_spec(default));
    // A second initialisation (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_is_after_2025() {
        assert!(wall_clock_millis() > 1_735_689_600_000);
    }

    #[test]
    fn logging_can_be_initialised_twice() {
        init_logging("warn");
        init_logging("info");
    }
}
