//! When the sync client pushes, pulls and waits: a sans-IO state machine fed with events and the
//! current time (milliseconds of a monotonic clock the caller owns). The HTTP driver asks
//! [`SyncSchedule::next_action`] what to do, does it, and reports the outcome.
//!
//! Rules: a local change is pushed after a short debounce; every successful push is followed
//! by a pull; pulls also run periodically and at once on a live-update notice; failures back off
//! exponentially with caller-supplied jitter, capped low enough that a healed network drains the
//! queue within seconds; a network-up event retries at once; an authentication failure stops
//! everything until the agent logs in again (retrying a dead token only locks accounts).

use serde::{Deserialize, Serialize};

/// Milliseconds on the caller's monotonic clock.
pub type Ms = u64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// Wait this long after a local change before pushing, so a burst of edits goes together.
    pub push_debounce: Ms,
    /// Pull at least this often while idle.
    pub pull_interval: Ms,
    /// First retry delay after a failure; doubles per consecutive failure.
    pub backoff_initial: Ms,
    /// Longest retry delay. Keep it short: the queue must drain soon after the network heals.
    pub backoff_max: Ms,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            push_debounce: 200,
            pull_interval: 30_000,
            backoff_initial: 500,
            backoff_max: 8_000,
        }
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Push,
    Pull,
    /// Nothing until this time (or until a new event arrives).
    WaitUntil(Ms),
    /// Stopped until [`SyncSchedule::logged_in`].
    NeedsLogin,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Network error, timeout, 5xx: try again later.
    Retry,
    /// 401: the token is dead.
    Unauthorized,
}

/// What the status bar shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncPhase {
    Idle,
    Syncing,
    /// The last attempt failed; the next one is at `retry_at`.
    Retrying {
        failures: u32,
        retry_at: Ms,
    },
    NeedsLogin,
}

#[derive(Debug, Clone)]
pub struct SyncSchedule {
    config: ScheduleConfig,
    /// A push is wanted (local changes not yet sent), not before this time.
    push_due: Option<Ms>,
    /// A pull is wanted, not before this time.
    pull_due: Ms,
    in_flight: Option<Action>,
    failures: u32,
    retry_at: Option<Ms>,
    needs_login: bool,
}

impl SyncSchedule {
    /// A schedule that pulls at once (start-up) and pushes if `pending` says there is something.
    pub fn new(config: ScheduleConfig, now: Ms, pending: bool) -> Self {
        Self {
            config,
            push_due: pending.then_some(now),
            pull_due: now,
            in_flight: None,
            failures: 0,
            retry_at: None,
            needs_login: false,
        }
    }

    /// The agent changed something locally.
    pub fn local_change(&mut self, now: Ms) {
        let due = now + self.config.push_debounce;
        self.push_due = Some(self.push_due.map_or(due, |d| d.min(due)));
    }

    /// The server said something changed (live update): pull now.
    pub fn remote_change(&mut self, now: Ms) {
        self.pull_due = self.pull_due.min(now);
    }

    /// The network came back or the machine woke up: retry now instead of waiting out backoff.
    pub fn network_up(&mut self, now: Ms) {
        if self.retry_at.is_some() {
            self.retry_at = Some(now);
        }
        self.pull_due = self.pull_due.min(now);
    }

    pub fn logged_in(&mut self, now: Ms) {
        self.needs_login = false;
        self.failures = 0;
        self.retry_at = None;
        self.pull_due = now;
    }

    /// What to do now. Returns `Push`/`Pull` at most once until its outcome is reported.
    pub fn next_action(&mut self, now: Ms) -> Action {
        if self.needs_login {
            return Action::NeedsLogin;
        }
        if self.in_flight.is_some() {
            // One request at a time: the driver reports the outcome before asking again.
            return Action::WaitUntil(now);
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return Action::WaitUntil(at);
            }
        }
        let action = match self.push_due {
            Some(due) if due <= now => Action::Push,
            _ if self.pull_due <= now => Action::Pull,
            Some(due) => return Action::WaitUntil(due.min(self.pull_due)),
            None => return Action::WaitUntil(self.pull_due),
        };
        self.in_flight = Some(action);
        action
    }

    /// The push ended. `more_pending`: the outbox still has unsent mutations (a large queue
    /// goes in batches, back to back).
    pub fn push_done(&mut self, outcome: Outcome, more_pending: bool, now: Ms, jitter: f64) {
        self.in_flight = None;
        match outcome {
            Outcome::Ok => {
                self.succeeded();
                self.push_due = more_pending.then_some(now);
                // Read back what the server made of it (and what others changed).
                self.pull_due = self.pull_due.min(now);
            }
            Outcome::Retry => self.failed(now, jitter),
            Outcome::Unauthorized => self.needs_login = true,
        }
    }

    /// The pull ended. `more`: the server has further pages.
    pub fn pull_done(&mut self, outcome: Outcome, more: bool, now: Ms, jitter: f64) {
        self.in_flight = None;
        match outcome {
            Outcome::Ok => {
                self.succeeded();
                self.pull_due = if more {
                    now
                } else {
                    now + self.config.pull_interval
                };
            }
            Outcome::Retry => self.failed(now, jitter),
            Outcome::Unauthorized => self.needs_login = true,
        }
    }

    pub fn phase(&self) -> SyncPhase {
        if self.needs_login {
            SyncPhase::NeedsLogin
        } else if self.in_flight.is_some() {
            SyncPhase::Syncing
        } else if let Some(retry_at) = self.retry_at {
            SyncPhase::Retrying {
                failures: self.failures,
                retry_at,
            }
        } else {
            SyncPhase::Idle
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// `jitter` in [0, 1): the delay is spread over [d/2, d) so clients that failed together
    /// do not retry together.
    fn failed(&mut self, now: Ms, jitter: f64) {
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.saturating_sub(1).min(20);
        let delay = self
            .config
            .backoff_initial
            .saturating_mul(1 << exponent)
            .min(self.config.backoff_max);
        let jitter = jitter.clamp(0.0, 1.0);
        // Whole milliseconds are plenty; the float only scales the upper half of the delay.
        let spread = ((delay / 2) as f64 * jitter) as Ms;
        self.retry_at = Some(now + delay / 2 + spread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(pending: bool) -> SyncSchedule {
        SyncSchedule::new(ScheduleConfig::default(), 0, pending)
    }

    #[test]
    fn start_up_pushes_pending_work_then_pulls() {
        let mut s = schedule(true);
        assert_eq!(s.next_action(0), Action::Push);
        assert_eq!(s.phase(), SyncPhase::Syncing);
        s.push_done(Outcome::Ok, false, 10, 0.5);
        assert_eq!(s.next_action(10), Action::Pull);
        s.pull_done(Outcome::Ok, false, 20, 0.5);
        assert_eq!(s.next_action(20), Action::WaitUntil(30_020));
        assert_eq!(s.phase(), SyncPhase::Idle);
    }

    #[test]
    fn local_changes_are_debounced_into_one_push() {
        let mut s = schedule(false);
        assert_eq!(s.next_action(0), Action::Pull);
        s.pull_done(Outcome::Ok, false, 0, 0.0);
        s.local_change(1_000);
        s.local_change(1_100);
        assert_eq!(s.next_action(1_100), Action::WaitUntil(1_200));
        assert_eq!(s.next_action(1_200), Action::Push);
        // Only one request at a time.
        assert_eq!(s.next_action(1_201), Action::WaitUntil(1_201));
    }

    #[test]
    fn a_large_queue_goes_in_back_to_back_batches() {
        let mut s = schedule(true);
        assert_eq!(s.next_action(0), Action::Push);
        s.push_done(Outcome::Ok, true, 5, 0.0);
        assert_eq!(s.next_action(5), Action::Push);
        s.push_done(Outcome::Ok, false, 9, 0.0);
        assert_eq!(s.next_action(9), Action::Pull);
    }

    #[test]
    fn failures_back_off_exponentially_with_a_low_cap() {
        let mut s = schedule(true);
        let mut now = 0;
        let mut delays = vec![];
        for _ in 0..8 {
            assert_eq!(s.next_action(now), Action::Push);
            s.push_done(Outcome::Retry, true, now, 0.999);
            let Action::WaitUntil(at) = s.next_action(now) else {
                panic!("expected a wait");
            };
            delays.push(at - now);
            now = at;
        }
        // Near the top of each jittered window [d/2, d): d doubles from 500, capped at 8000.
        let windows = [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000];
        for (delay, window) in delays.iter().zip(windows) {
            assert!(*delay < window && *delay >= window * 99 / 100, "{delays:?}");
        }
        assert!(matches!(s.phase(), SyncPhase::Retrying { failures: 8, .. }));
    }

    #[test]
    fn jitter_spreads_retries_over_the_lower_half() {
        let mut a = schedule(true);
        let mut b = schedule(true);
        a.next_action(0);
        b.next_action(0);
        a.push_done(Outcome::Retry, true, 0, 0.0);
        b.push_done(Outcome::Retry, true, 0, 0.9);
        assert_eq!(a.next_action(0), Action::WaitUntil(250));
        assert_eq!(b.next_action(0), Action::WaitUntil(475));
    }

    #[test]
    fn network_up_retries_at_once_and_success_resets_backoff() {
        let mut s = schedule(true);
        for now in [0, 1_000, 3_000] {
            let _ = s.next_action(now);
            s.push_done(Outcome::Retry, true, now, 0.0);
        }
        assert!(matches!(s.next_action(3_001), Action::WaitUntil(t) if t > 3_001));
        s.network_up(3_001);
        assert_eq!(s.next_action(3_001), Action::Push);
        s.push_done(Outcome::Ok, false, 3_050, 0.0);
        assert_eq!(s.next_action(3_050), Action::Pull);
        s.pull_done(Outcome::Retry, false, 3_060, 0.0);
        // The count restarted: the first failure after a success waits the initial delay.
        assert_eq!(s.next_action(3_060), Action::WaitUntil(3_310));
    }

    #[test]
    fn unauthorized_stops_until_login() {
        let mut s = schedule(true);
        s.next_action(0);
        s.push_done(Outcome::Unauthorized, true, 0, 0.0);
        assert_eq!(s.next_action(100_000), Action::NeedsLogin);
        assert_eq!(s.phase(), SyncPhase::NeedsLogin);
        s.local_change(100_000);
        assert_eq!(s.next_action(200_000), Action::NeedsLogin);
        s.logged_in(200_000);
        assert_eq!(s.next_action(200_000), Action::Push);
    }

    #[test]
    fn live_updates_pull_early_and_paged_pulls_continue() {
        let mut s = schedule(false);
        s.next_action(0);
        s.pull_done(Outcome::Ok, false, 0, 0.0);
        s.remote_change(5_000);
        assert_eq!(s.next_action(5_000), Action::Pull);
        s.pull_done(Outcome::Ok, true, 5_010, 0.0);
        assert_eq!(s.next_action(5_010), Action::Pull);
    }
}
