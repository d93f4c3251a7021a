//! Sans-IO detection of the two events after which a registration silently dies (the softphone
//! note's complaint 3): the local address towards the registrar changed (another network, VPN
//! up or down, DHCP renewal) or the machine slept (the wall clock ran on while the monotonic
//! clock stood still, or the process was not scheduled for much longer than its poll interval).
//! The phone samples the clocks and the route's source address every [`POLL_INTERVAL`] and
//! re-registers every account when [`NetWatch::observe`] reports a change. When the address
//! itself changed, [`decide_move`] says whether the phone moves its sockets and Contact to
//! the new one, and when.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// How often the phone samples the route and the clocks.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// A clock disagreement or a late sample beyond this counts as a sleep.
pub const JUMP_THRESHOLD: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetChange {
    /// The source address the OS picks towards the registrar changed (`None`: no route).
    AddressChanged {
        from: Option<IpAddr>,
        to: Option<IpAddr>,
    },
    /// Between two samples the wall clock moved `wall_ms` while the monotonic clock moved
    /// `mono_ms`: a suspend/resume, a stalled process or a clock set by hand.
    ClockJump { wall_ms: i64, mono_ms: u64 },
}

impl std::fmt::Display for NetChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = |a: &Option<IpAddr>| a.map_or("no route".to_string(), |a| a.to_string());
        match self {
            NetChange::AddressChanged { from, to } => {
                write!(f, "local address changed: {} -> {}", ip(from), ip(to))
            }
            NetChange::ClockJump { wall_ms, mono_ms } => write!(
                f,
                "clock jump (sleep or resume?): wall clock {wall_ms} ms, monotonic {mono_ms} ms"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    mono: Instant,
    wall: SystemTime,
}

/// Fed with samples; says when to re-register.
#[derive(Debug, Clone)]
pub struct NetWatch {
    interval: Duration,
    threshold: Duration,
    last: Option<Sample>,
    address: Option<IpAddr>,
}

impl NetWatch {
    /// `address`: the source address at start (the one the phone registered from).
    pub fn new(address: Option<IpAddr>, interval: Duration, threshold: Duration) -> Self {
        NetWatch {
            interval,
            threshold,
            last: None,
            address,
        }
    }

    /// One sample: both clocks now and the current source address towards the registrar. An
    /// address change wins over a clock jump when both happen (a wake often brings both).
    pub fn observe(
        &mut self,
        mono: Instant,
        wall: SystemTime,
        address: Option<IpAddr>,
    ) -> Option<NetChange> {
        let sample = Sample { mono, wall };
        let previous = self.last.replace(sample);
        if address != self.address {
            let from = std::mem::replace(&mut self.address, address);
            return Some(NetChange::AddressChanged { from, to: address });
        }
        let previous = previous?;
        let mono_ms = mono.saturating_duration_since(previous.mono).as_millis() as i128;
        let wall_ms = match wall.duration_since(previous.wall) {
            Ok(d) => d.as_millis() as i128,
            Err(e) => -(e.duration().as_millis() as i128),
        };
        let threshold = self.threshold.as_millis() as i128;
        let late = mono_ms > (self.interval.as_millis() as i128) + threshold;
        if (wall_ms - mono_ms).abs() > threshold || late {
            return Some(NetChange::ClockJump {
                wall_ms: wall_ms.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                mono_ms: mono_ms.max(0) as u64,
            });
        }
        None
    }
}

/// What to do with the phone's sockets and Contact after the source address towards the
/// registrar changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveDecision {
    /// Keep them: the address is pinned by configuration, there is no route (wait for one) or
    /// the address is the one the phone already uses.
    Stay,
    /// Rebind on the new address and register the new Contact now. `end_calls`: the old
    /// address is gone, so calls on it can neither send nor receive and end.
    MoveNow { end_calls: bool },
    /// The old address is still on the machine (a VPN came up, a second network is now
    /// preferred): calls in progress keep working on it, so move when the last one ends.
    MoveWhenIdle,
}

/// The address the phone's sockets and Contact use is `current`; the route towards the
/// registrar now leaves from `to`. `pinned`: the user set the bind or advertised address.
pub fn decide_move(
    current: IpAddr,
    to: Option<IpAddr>,
    pinned: bool,
    calls: usize,
    current_still_assigned: bool,
) -> MoveDecision {
    match to {
        None => MoveDecision::Stay,
        Some(to) if pinned || to == current => MoveDecision::Stay,
        Some(_) if calls == 0 => MoveDecision::MoveNow { end_calls: false },
        Some(_) if current_still_assigned => MoveDecision::MoveWhenIdle,
        Some(_) => MoveDecision::MoveNow { end_calls: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 20)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 8, 0, 5)));

    struct Clock {
        mono: Instant,
        wall: SystemTime,
    }

    impl Clock {
        fn new() -> Self {
            Clock {
                mono: Instant::now(),
                wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            }
        }
        /// Advances the monotonic clock by `mono` and the wall clock by `wall`.
        fn tick(&mut self, mono: Duration, wall: Duration) -> (Instant, SystemTime) {
            self.mono += mono;
            self.wall += wall;
            (self.mono, self.wall)
        }
    }

    fn watch() -> NetWatch {
        NetWatch::new(A, POLL_INTERVAL, JUMP_THRESHOLD)
    }

    #[test]
    fn steady_polls_with_scheduling_jitter_change_nothing() {
        let mut w = watch();
        let mut c = Clock::new();
        for i in 0..100u64 {
            // Late by up to 3 s, wall clock a little off (NTP slewing).
            let late = Duration::from_millis((i * 37) % 3000);
            let (m, t) = c.tick(
                POLL_INTERVAL + late,
                POLL_INTERVAL + late + Duration::from_millis(40),
            );
            assert_eq!(w.observe(m, t, A), None, "poll {i}");
        }
    }

    #[test]
    fn suspend_and_resume_is_a_clock_jump() {
        // Linux and macOS: the monotonic clock stops while suspended, the wall clock does not.
        let mut w = watch();
        let mut c = Clock::new();
        let (m, t) = c.tick(POLL_INTERVAL, POLL_INTERVAL);
        assert_eq!(w.observe(m, t, A), None);
        let (m, t) = c.tick(POLL_INTERVAL, Duration::from_secs(3600));
        assert_eq!(
            w.observe(m, t, A),
            Some(NetChange::ClockJump {
                wall_ms: 3_600_000,
                mono_ms: 2_000
            })
        );
        // Once: the next sample is normal again.
        let (m, t) = c.tick(POLL_INTERVAL, POLL_INTERVAL);
        assert_eq!(w.observe(m, t, A), None);
    }

    #[test]
    fn a_sample_far_too_late_is_a_jump_even_with_agreeing_clocks() {
        // Windows: the performance counter keeps counting in sleep; or the process was stopped.
        let mut w = watch();
        let mut c = Clock::new();
        let (m, t) = c.tick(POLL_INTERVAL, POLL_INTERVAL);
        assert_eq!(w.observe(m, t, A), None);
        let (m, t) = c.tick(Duration::from_secs(600), Duration::from_secs(600));
        assert!(matches!(
            w.observe(m, t, A),
            Some(NetChange::ClockJump {
                mono_ms: 600_000,
                ..
            })
        ));
    }

    #[test]
    fn wall_clock_set_back_is_a_jump() {
        let mut w = watch();
        let mut c = Clock::new();
        let (m, t) = c.tick(POLL_INTERVAL, POLL_INTERVAL);
        assert_eq!(w.observe(m, t, A), None);
        let m = m + POLL_INTERVAL;
        let t = t - Duration::from_secs(120);
        assert_eq!(
            w.observe(m, t, A),
            Some(NetChange::ClockJump {
                wall_ms: -120_000,
                mono_ms: 2_000
            })
        );
    }

    #[test]
    fn address_changes_lost_and_regained_routes_are_reported_once_each() {
        let mut w = watch();
        let mut c = Clock::new();
        let mut step = || c.tick(POLL_INTERVAL, POLL_INTERVAL);
        let (m, t) = step();
        assert_eq!(w.observe(m, t, A), None);
        let (m, t) = step();
        assert_eq!(
            w.observe(m, t, B),
            Some(NetChange::AddressChanged { from: A, to: B })
        );
        let (m, t) = step();
        assert_eq!(w.observe(m, t, B), None);
        let (m, t) = step();
        assert_eq!(
            w.observe(m, t, None),
            Some(NetChange::AddressChanged { from: B, to: None })
        );
        let (m, t) = step();
        assert_eq!(w.observe(m, t, None), None);
        let (m, t) = step();
        assert_eq!(
            w.observe(m, t, A),
            Some(NetChange::AddressChanged { from: None, to: A })
        );
    }

    #[test]
    fn address_change_wins_over_a_jump_in_the_same_sample() {
        let mut w = watch();
        let mut c = Clock::new();
        let (m, t) = c.tick(POLL_INTERVAL, POLL_INTERVAL);
        assert_eq!(w.observe(m, t, A), None);
        let (m, t) = c.tick(POLL_INTERVAL, Duration::from_secs(900));
        assert_eq!(
            w.observe(m, t, B),
            Some(NetChange::AddressChanged { from: A, to: B })
        );
    }

    #[test]
    fn moves_follow_the_route_unless_pinned_or_offline() {
        let a = A.unwrap();
        let b = B.unwrap();
        assert_eq!(decide_move(a, B, true, 0, false), MoveDecision::Stay);
        assert_eq!(decide_move(a, None, false, 0, false), MoveDecision::Stay);
        assert_eq!(decide_move(a, A, false, 2, true), MoveDecision::Stay);
        assert_eq!(
            decide_move(a, B, false, 0, true),
            MoveDecision::MoveNow { end_calls: false }
        );
        assert_eq!(
            decide_move(a, B, false, 1, true),
            MoveDecision::MoveWhenIdle
        );
        assert_eq!(
            decide_move(a, B, false, 1, false),
            MoveDecision::MoveNow { end_calls: true }
        );
        assert_eq!(
            decide_move(b, A, false, 0, false),
            MoveDecision::MoveNow { end_calls: false }
        );
    }
}
