//! Complaint time limits, computed from server timestamps only (`created_at`, `first_reply_at`,
//! `resolved_at`, the status history): the client's clock never enters.
//!
//! - First reply: within `first_reply_minutes` wall-clock minutes of creation (default 120).
//! - Resolution: within N working days of creation (ordinary 1, complex 5), escalated after
//!   `escalation_working_days` (default 7; the resolution limit is capped at it).
//! - Optionally paused while the order waits on the customer (default off).
//!
//! A reopen does not restart the resolution clock: it keeps counting from creation.
//!
//! Any order may also carry a `due_at` (a callback's promised time, or a due date the agent
//! set): [`due_state`] says whether it is overdue or due soon, and [`urgency`] folds both into
//! what the agent's overdue / due-soon views and badges show.
//! The first-reply clock stops at the recorded first reply, or at the first resolution if no
//! reply was recorded.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::calendar::{CalendarError, WorkCalendar};
use crate::model::{Complexity, WorkOrder};
use crate::status::Status;

/// When a running clock counts as "due soon".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum DueSoon {
    /// When at most this share of the window is left.
    PercentOfWindow { percent: u8 },
    /// When at most this much time is left (working time for resolution).
    TimeLeft { minutes: u32 },
}

/// A tenant's complaint time-limit policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    pub first_reply_minutes: u32,
    pub ordinary_resolution_working_days: u32,
    pub complex_resolution_working_days: u32,
    /// Hard limit: escalate when a complaint is unresolved after this many working days.
    pub escalation_working_days: u32,
    pub due_soon: DueSoon,
    /// Stop the clocks while the order is waiting on the customer.
    #[serde(default)]
    pub pause_while_waiting_on_customer: bool,
    pub calendar: WorkCalendar,
    /// An order's own `due_at` (callbacks, agent-set due dates) is due soon this many
    /// wall-clock minutes before it.
    #[serde(default = "default_due_at_soon_minutes")]
    pub due_at_soon_minutes: u32,
}

/// Default for [`SlaPolicy::due_at_soon_minutes`]: one hour.
pub const DEFAULT_DUE_AT_SOON_MINUTES: u32 = 60;

const fn default_due_at_soon_minutes() -> u32 {
    DEFAULT_DUE_AT_SOON_MINUTES
}

impl SlaPolicy {
    /// The default limits (2 h first reply; 1 / 5 working days; escalation after 7; due soon at
    /// 25 % of the window left; no pause) on the given calendar.
    pub fn with_defaults(calendar: WorkCalendar) -> Self {
        Self {
            first_reply_minutes: 120,
            ordinary_resolution_working_days: 1,
            complex_resolution_working_days: 5,
            escalation_working_days: 7,
            due_soon: DueSoon::PercentOfWindow { percent: 25 },
            pause_while_waiting_on_customer: false,
            calendar,
            due_at_soon_minutes: DEFAULT_DUE_AT_SOON_MINUTES,
        }
    }

    /// Resolution limit in working days for a complexity (capped at the escalation limit).
    pub fn resolution_working_days(&self, complexity: Complexity) -> u32 {
        let days = match complexity {
            Complexity::Ordinary => self.ordinary_resolution_working_days,
            Complexity::Complex => self.complex_resolution_working_days,
        };
        days.min(self.escalation_working_days)
    }

    fn due_soon_threshold(&self, window: Duration) -> Duration {
        match self.due_soon {
            DueSoon::PercentOfWindow { percent } => window * u32::from(percent.min(100)) / 100,
            DueSoon::TimeLeft { minutes } => Duration::minutes(i64::from(minutes)),
        }
    }
}

/// Where one clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    OnTrack,
    DueSoon,
    Overdue,
    Escalated,
    /// Stopped in time.
    Met,
    /// Stopped after the due time.
    MetLate,
}

/// One clock (first reply or resolution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReport {
    pub state: SlaState,
    /// Due time, already moved by any pause so far.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// When the order escalates (resolution only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub escalate_at: Option<OffsetDateTime>,
    /// When the clock stopped.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stopped_at: Option<OffsetDateTime>,
    /// Whether the clock is paused right now (waiting on the customer).
    pub paused: bool,
    /// Time left until due (negative when overdue; working time for resolution); `None` once
    /// stopped.
    pub remaining_seconds: Option<i64>,
}

/// Both clocks of a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaReport {
    pub first_reply: ClockReport,
    pub resolution: ClockReport,
}

/// Due times of a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTimes {
    #[serde(with = "time::serde::rfc3339")]
    pub first_reply: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub resolution: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub escalation: OffsetDateTime,
}

/// Intervals spent waiting on the customer, clipped to `[created_at, until]`; also whether the
/// last one is still open.
fn waiting_intervals(
    order: &WorkOrder,
    until: OffsetDateTime,
) -> (Vec<(OffsetDateTime, OffsetDateTime)>, bool) {
    let mut out = Vec::new();
    let mut open: Option<OffsetDateTime> = None;
    for step in &order.status_history {
        if step.to == Status::WaitingOnCustomer && open.is_none() {
            open = Some(step.at);
        } else if step.from == Status::WaitingOnCustomer {
            if let Some(start) = open.take() {
                out.push((start, step.at));
            }
        }
    }
    let still_open = open.is_some();
    if let Some(start) = open {
        out.push((start, until));
    }
    let clipped = out
        .into_iter()
        .map(|(a, b)| (a.max(order.created_at), b.min(until)))
        .filter(|(a, b)| b > a)
        .collect();
    (clipped, still_open)
}

fn first_resolution(order: &WorkOrder) -> Option<OffsetDateTime> {
    order
        .status_history
        .iter()
        .find(|s| s.to == Status::Resolved)
        .map(|s| s.at)
}

struct Stops {
    first_reply: Option<OffsetDateTime>,
    resolution: Option<OffsetDateTime>,
}

fn stops(order: &WorkOrder) -> Stops {
    Stops {
        first_reply: order.first_reply_at.or_else(|| first_resolution(order)),
        resolution: order.resolved_at.filter(|_| order.status.is_finished()),
    }
}

struct Paused {
    wall: Duration,
    working: Duration,
    now: bool,
}

fn paused(
    order: &WorkOrder,
    policy: &SlaPolicy,
    until: OffsetDateTime,
    stopped: bool,
) -> Result<Paused, CalendarError> {
    let none = Paused {
        wall: Duration::ZERO,
        working: Duration::ZERO,
        now: false,
    };
    if !policy.pause_while_waiting_on_customer {
        return Ok(none);
    }
    let (intervals, still_open) = waiting_intervals(order, until);
    let mut p = Paused {
        now: still_open && !stopped,
        ..none
    };
    for (a, b) in intervals {
        p.wall += b - a;
        p.working += policy.calendar.working_time_between(a, b)?;
    }
    Ok(p)
}

/// Due times for a complaint as of `now` (pauses so far push them out); `None` for other kinds.
pub fn due_times(
    order: &WorkOrder,
    policy: &SlaPolicy,
    now: OffsetDateTime,
) -> Result<Option<DueTimes>, CalendarError> {
    Ok(sla_state(order, policy, now)?.and_then(|r| {
        r.resolution.escalate_at.map(|escalation| DueTimes {
            first_reply: r.first_reply.due_at,
            resolution: r.resolution.due_at,
            escalation,
        })
    }))
}

/// Where a complaint's clocks stand at server time `now`; `None` for other kinds.
pub fn sla_state(
    order: &WorkOrder,
    policy: &SlaPolicy,
    now: OffsetDateTime,
) -> Result<Option<SlaReport>, CalendarError> {
    let Some(complexity) = order.kind.complexity() else {
        return Ok(None);
    };
    let cal = &policy.calendar;
    let stops = stops(order);

    // First reply: wall-clock minutes.
    let fr_until = stops.first_reply.unwrap_or(now);
    let fr_pause = paused(order, policy, fr_until, stops.first_reply.is_some())?;
    let fr_window = Duration::minutes(i64::from(policy.first_reply_minutes));
    let fr_due = order.created_at + fr_window + fr_pause.wall;
    let first_reply = match stops.first_reply {
        Some(at) => stopped(at, fr_due, None),
        None => {
            let remaining = fr_due - now;
            let state = if now > fr_due {
                SlaState::Overdue
            } else if remaining <= policy.due_soon_threshold(fr_window) {
                SlaState::DueSoon
            } else {
                SlaState::OnTrack
            };
            running(state, fr_due, None, fr_pause.now, remaining)
        }
    };

    // Resolution: working days on the tenant's calendar.
    let day = cal.day_length();
    let res_window = day * policy.resolution_working_days(complexity);
    let esc_window = day * policy.escalation_working_days;
    let res_until = stops.resolution.unwrap_or(now);
    let res_pause = paused(order, policy, res_until, stops.resolution.is_some())?;
    let res_due = cal.add_working_time(order.created_at, res_window + res_pause.working)?;
    let esc_at = cal.add_working_time(order.created_at, esc_window + res_pause.working)?;
    let resolution = match stops.resolution {
        Some(at) => stopped(at, res_due, Some(esc_at)),
        None => {
            let remaining = if now > res_due {
                -cal.working_time_between(res_due, now)?
            } else {
                cal.working_time_between(now, res_due)?
            };
            let state = if now > esc_at {
                SlaState::Escalated
            } else if now > res_due {
                SlaState::Overdue
            } else if remaining <= policy.due_soon_threshold(res_window) {
                SlaState::DueSoon
            } else {
                SlaState::OnTrack
            };
            running(state, res_due, Some(esc_at), res_pause.now, remaining)
        }
    };
    Ok(Some(SlaReport {
        first_reply,
        resolution,
    }))
}

fn stopped(
    at: OffsetDateTime,
    due: OffsetDateTime,
    escalate_at: Option<OffsetDateTime>,
) -> ClockReport {
    ClockReport {
        state: if at <= due {
            SlaState::Met
        } else {
            SlaState::MetLate
        },
        due_at: due,
        escalate_at,
        stopped_at: Some(at),
        paused: false,
        remaining_seconds: None,
    }
}

fn running(
    state: SlaState,
    due: OffsetDateTime,
    escalate_at: Option<OffsetDateTime>,
    paused: bool,
    remaining: Duration,
) -> ClockReport {
    ClockReport {
        state,
        due_at: due,
        escalate_at,
        stopped_at: None,
        paused,
        remaining_seconds: Some(remaining.whole_seconds()),
    }
}

/// Where an order's own due time stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueReport {
    /// `OnTrack`, `DueSoon` or `Overdue`.
    pub state: SlaState,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// Negative when overdue.
    pub remaining_seconds: i64,
}

/// The state of `order.due_at` at server time `now`; `None` without a due time or once the
/// order is resolved or closed (the promise is kept or moot).
pub fn due_state(order: &WorkOrder, policy: &SlaPolicy, now: OffsetDateTime) -> Option<DueReport> {
    let due_at = order.due_at?;
    if order.status.is_finished() {
        return None;
    }
    let remaining = due_at - now;
    let soon = Duration::minutes(i64::from(policy.due_at_soon_minutes));
    let state = if now > due_at {
        SlaState::Overdue
    } else if remaining <= soon {
        SlaState::DueSoon
    } else {
        SlaState::OnTrack
    };
    Some(DueReport {
        state,
        due_at,
        remaining_seconds: remaining.whole_seconds(),
    })
}

/// How pressing an order is, for views, badges and sorting (most pressing first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// A complaint clock overdue or escalated, or the order's own due time passed.
    Overdue,
    /// A running complaint clock or the due time is close.
    DueSoon,
    /// Nothing late or close.
    Normal,
}

/// Folds the complaint clocks and the order's due time; also the earliest running deadline
/// (to sort within an urgency).
pub fn urgency(
    sla: Option<&SlaReport>,
    due: Option<&DueReport>,
) -> (Urgency, Option<OffsetDateTime>) {
    let mut states = Vec::with_capacity(3);
    let mut next: Option<OffsetDateTime> = None;
    let mut running = |state: SlaState, at: OffsetDateTime| {
        if matches!(
            state,
            SlaState::OnTrack | SlaState::DueSoon | SlaState::Overdue | SlaState::Escalated
        ) {
            states.push(state);
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    };
    if let Some(s) = sla {
        running(s.first_reply.state, s.first_reply.due_at);
        running(s.resolution.state, s.resolution.due_at);
    }
    if let Some(d) = due {
        running(d.state, d.due_at);
    }
    let level = if states
        .iter()
        .any(|s| matches!(s, SlaState::Overdue | SlaState::Escalated))
    {
        Urgency::Overdue
    } else if states.contains(&SlaState::DueSoon) {
        Urgency::DueSoon
    } else {
        Urgency::Normal
    };
    (level, next)
}
