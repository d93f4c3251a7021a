//! Named crash points for fault-injection tests. With `SEATLINE_FAILPOINT=<name>` in the
//! environment, the process aborts (like `kill -9`: no destructors, no flushing) the first time
//! it reaches [`hit`]`("<name>")`. Without the variable, a hit costs one cached comparison.

use std::sync::OnceLock;

/// The environment variable naming the point to crash at.
pub const ENV: &str = "SEATLINE_FAILPOINT";

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Aborts the process if `name` is the armed failpoint.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unarmed_point_does_nothing() {
        // The test runner does not set SEATLINE_FAILPOINT; reaching here means no abort.
        super::hit("before_local_commit");
        assert_eq!(std::env::var(super::ENV).ok().as_deref().unwrap_or(""), "");
    }
}
