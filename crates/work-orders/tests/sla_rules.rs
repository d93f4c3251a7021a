//! Complaint time limits with concrete dates (calendar: Mon–Fri 09:00–18:00 at UTC+8,
//! 1–7 Oct 2026 National Day holidays, Saturday 10 Oct 2026 a make-up working day).
// Test crate: helpers outside #[test] fns may panic on broken fixtures too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use seatline_work_orders::*;
use time::macros::{date, datetime, offset, time};
use time::{Duration, OffsetDateTime};

fn calendar() -> WorkCalendar {
    let mut c = WorkCalendar::weekdays(time!(9:00), time!(18:00), offset!(+8)).unwrap();
    let mut d = date!(2026 - 10 - 01);
    while d <= date!(2026 - 10 - 07) {
        c.holidays.insert(d);
        d = d.next_day().unwrap();
    }
    c.makeup_workdays.insert(date!(2026 - 10 - 10));
    c
}

fn policy() -> SlaPolicy {
    SlaPolicy::with_defaults(calendar())
}

fn report(o: &WorkOrder, p: &SlaPolicy, now: OffsetDateTime) -> SlaReport {
    sla_state(o, p, now).unwrap().unwrap()
}

#[test]
fn ordinary_complaint_on_a_weekday_walks_through_every_state() {
    let p = policy();
    let o = created(
        complaint(Complexity::Ordinary),
        datetime!(2026-09-14 10:00 +8),
    ); // Monday
    let due = due_times(&o, &p, datetime!(2026-09-14 10:00 +8))
        .unwrap()
        .unwrap();
    assert_eq!(due.first_reply, datetime!(2026-09-14 12:00 +8));
    assert_eq!(due.resolution, datetime!(2026-09-15 10:00 +8));
    assert_eq!(due.escalation, datetime!(2026-09-23 10:00 +8)); // 7 working days

    let fr = |t| report(&o, &p, t).first_reply.state;
    assert_eq!(fr(datetime!(2026-09-14 11:00 +8)), SlaState::OnTrack);
    assert_eq!(fr(datetime!(2026-09-14 11:31 +8)), SlaState::DueSoon); // < 30 min (25 %) left
    assert_eq!(fr(datetime!(2026-09-14 12:00 +8)), SlaState::DueSoon); // exactly at the limit
    assert_eq!(fr(datetime!(2026-09-14 12:01 +8)), SlaState::Overdue);

    let res = |t| report(&o, &p, t).resolution;
    assert_eq!(res(datetime!(2026-09-14 11:00 +8)).state, SlaState::OnTrack);
    // Tue 08:00, before opening: 1 working hour left of 9 (≤ 2h15) → due soon.
    let r = res(datetime!(2026-09-15 08:00 +8));
    assert_eq!(
        (r.state, r.remaining_seconds),
        (SlaState::DueSoon, Some(3_600))
    );
    let r = res(datetime!(2026-09-15 10:30 +8));
    assert_eq!(
        (r.state, r.remaining_seconds),
        (SlaState::Overdue, Some(-1_800))
    );
    assert_eq!(res(datetime!(2026-09-23 10:00 +8)).state, SlaState::Overdue);
    assert_eq!(
        res(datetime!(2026-09-23 10:01 +8)).state,
        SlaState::Escalated
    );
}

#[test]
fn deadlines_skip_the_weekend() {
    let p = policy();
    let at = datetime!(2026-09-18 15:00 +8); // Friday
    let ordinary = created(complaint(Complexity::Ordinary), at);
    let complex = created(complaint(Complexity::Complex), at);
    assert_eq!(
        due_times(&ordinary, &p, at).unwrap().unwrap().resolution,
        datetime!(2026-09-21 15:00 +8)
    );
    let d = due_times(&complex, &p, at).unwrap().unwrap();
    assert_eq!(d.resolution, datetime!(2026-09-25 15:00 +8));
    assert_eq!(d.escalation, datetime!(2026-09-29 15:00 +8));
    // Saturday is not working time: the state on Sunday equals the state on Friday 18:00.
    let sat = report(&ordinary, &p, datetime!(2026-09-19 12:00 +8)).resolution;
    let fri = report(&ordinary, &p, datetime!(2026-09-18 18:00 +8)).resolution;
    assert_eq!(sat.remaining_seconds, fri.remaining_seconds);
    assert_eq!(sat.remaining_seconds, Some(6 * 3_600));
}

#[test]
fn deadlines_skip_holidays_and_count_the_makeup_saturday() {
    let p = policy();
    let at = datetime!(2026-09-30 11:00 +8); // Wednesday before National Day
    let ordinary = created(complaint(Complexity::Ordinary), at);
    assert_eq!(
        due_times(&ordinary, &p, at).unwrap().unwrap().resolution,
        datetime!(2026-10-08 11:00 +8)
    );
    let complex = created(complaint(Complexity::Complex), at);
    let d = due_times(&complex, &p, at).unwrap().unwrap();
    // 8 Oct, 9 Oct, Sat 10 Oct (make-up), 12 Oct, 13 Oct.
    assert_eq!(d.resolution, datetime!(2026-10-13 11:00 +8));
    assert_eq!(d.escalation, datetime!(2026-10-15 11:00 +8));
    // During the holiday nothing is consumed: still on track on 5 Oct.
    let r = report(&complex, &p, datetime!(2026-10-05 12:00 +8)).resolution;
    assert_eq!(r.state, SlaState::OnTrack);
    assert_eq!(r.remaining_seconds, Some((5 * 9 - 7) * 3_600));
}

#[test]
fn order_opened_outside_working_hours_starts_at_the_next_opening() {
    let p = policy();
    let at = datetime!(2026-09-18 20:30 +8); // Friday evening
    let o = created(complaint(Complexity::Ordinary), at);
    let d = due_times(&o, &p, at).unwrap().unwrap();
    assert_eq!(d.first_reply, datetime!(2026-09-18 22:30 +8)); // wall-clock hours
    assert_eq!(d.resolution, datetime!(2026-09-21 18:00 +8)); // end of Monday
    assert_eq!(d.escalation, datetime!(2026-09-29 18:00 +8));
    let r = report(&o, &p, datetime!(2026-09-21 09:00 +8)).resolution;
    assert_eq!(
        (r.state, r.remaining_seconds),
        (SlaState::OnTrack, Some(9 * 3_600))
    );
}

#[test]
fn client_clock_skew_does_not_move_any_deadline() {
    let p = policy();
    let server_now = datetime!(2026-09-14 10:00 +8);
    let real_ms = 1_789_351_200_000u64; // same instant, in ms
    let hours = |h: u64| h * 3_600_000;
    let mk = |client_ms: u64| {
        let m = create_mutation(complaint(Complexity::Ordinary), stamp(1, client_ms, 0));
        apply(None, &m, server_now).unwrap().order
    };
    let honest = mk(real_ms);
    let ahead = mk(real_ms + hours(6));
    let behind = mk(real_ms - hours(9));
    let now = datetime!(2026-09-14 11:45 +8);
    let r = report(&honest, &p, now);
    assert_eq!(report(&ahead, &p, now), r);
    assert_eq!(report(&behind, &p, now), r);
    assert_eq!(r.first_reply.due_at, datetime!(2026-09-14 12:00 +8));

    // A first reply queued offline by a client whose clock is 9 h behind counts at server time.
    let reply = mutation(
        2,
        1,
        stamp(2, real_ms - hours(9), 0),
        1,
        MutationBody::RecordFirstReply,
    );
    let replied = apply(Some(&behind), &reply, datetime!(2026-09-14 11:50 +8))
        .unwrap()
        .order;
    let fr = report(&replied, &p, datetime!(2026-09-14 15:00 +8)).first_reply;
    assert_eq!(
        (fr.state, fr.stopped_at),
        (SlaState::Met, Some(datetime!(2026-09-14 11:50 +8)))
    );
}

#[test]
fn stopped_clocks_report_met_or_met_late() {
    let p = policy();
    let t0 = datetime!(2026-09-14 10:00 +8);
    let mut o = created(complaint(Complexity::Ordinary), t0);
    let reply = mutation(2, 1, stamp(2, 1, 0), 1, MutationBody::RecordFirstReply);
    o = apply(Some(&o), &reply, datetime!(2026-09-14 12:30 +8))
        .unwrap()
        .order;
    o = set_status(&o, Status::InProgress, t0);
    o = set_status(&o, Status::Resolved, datetime!(2026-09-15 09:30 +8));
    let r = report(&o, &p, datetime!(2026-09-30 10:00 +8));
    assert_eq!(r.first_reply.state, SlaState::MetLate);
    assert_eq!(r.resolution.state, SlaState::Met);
    assert_eq!(
        r.resolution.stopped_at,
        Some(datetime!(2026-09-15 09:30 +8))
    );
    // Closing keeps the resolution time; reopening restarts nothing but the clock runs again.
    o = set_status(&o, Status::Closed, datetime!(2026-09-16 10:00 +8));
    assert_eq!(
        report(&o, &p, datetime!(2026-09-30 10:00 +8))
            .resolution
            .state,
        SlaState::Met
    );
    let reopen = mutation(
        2,
        2,
        stamp(2, 2, 0),
        o.version,
        MutationBody::Reopen { reason: None },
    );
    o = apply(Some(&o), &reopen, datetime!(2026-09-17 10:00 +8))
        .unwrap()
        .order;
    assert_eq!(
        report(&o, &p, datetime!(2026-09-17 10:00 +8))
            .resolution
            .state,
        SlaState::Overdue
    );
    assert_eq!(
        report(&o, &p, datetime!(2026-09-24 10:00 +8))
            .resolution
            .state,
        SlaState::Escalated
    );
}

#[test]
fn waiting_on_customer_pauses_only_when_the_policy_says_so() {
    let t0 = datetime!(2026-09-14 10:00 +8);
    let mut o = created(complaint(Complexity::Ordinary), t0);
    o = set_status(&o, Status::InProgress, t0);
    o = set_status(
        &o,
        Status::WaitingOnCustomer,
        datetime!(2026-09-14 11:00 +8),
    );
    let now = datetime!(2026-09-15 10:30 +8); // still waiting
    let off = policy();
    let r = report(&o, &off, now).resolution;
    assert_eq!((r.state, r.paused), (SlaState::Overdue, false));

    let on = SlaPolicy {
        pause_while_waiting_on_customer: true,
        ..policy()
    };
    let r = report(&o, &on, now).resolution;
    // Paused since Mon 11:00: 7 h + 1.5 h of working time pushed the due time out.
    assert_eq!((r.state, r.paused), (SlaState::OnTrack, true));
    // Mon 10:00 + 9 h budget + 8.5 h paused = Wed 09:30 (and it keeps moving while paused).
    assert_eq!(r.due_at, datetime!(2026-09-16 09:30 +8));
    let later = report(&o, &on, now + Duration::minutes(20)).resolution;
    assert_eq!(later.due_at, datetime!(2026-09-16 09:50 +8));

    o = set_status(&o, Status::InProgress, datetime!(2026-09-15 11:00 +8));
    let r = report(&o, &on, datetime!(2026-09-15 12:00 +8)).resolution;
    // 9 h paused (Mon 11–18, Tue 9–11) → due Wed 16 Sep 10:00.
    assert_eq!(
        (r.paused, r.due_at),
        (false, datetime!(2026-09-16 10:00 +8))
    );
    assert_eq!(r.escalate_at, Some(datetime!(2026-09-24 10:00 +8)));
    // Without the option the same history is overdue.
    assert_eq!(
        report(&o, &off, datetime!(2026-09-15 12:00 +8))
            .resolution
            .state,
        SlaState::Overdue
    );
}

#[test]
fn due_soon_can_be_a_fixed_time_left_and_limits_are_configurable() {
    let t0 = datetime!(2026-09-14 10:00 +8);
    let o = created(complaint(Complexity::Complex), t0);
    let p = SlaPolicy {
        first_reply_minutes: 60,
        complex_resolution_working_days: 9, // capped at the escalation limit
        escalation_working_days: 3,
        due_soon: DueSoon::TimeLeft { minutes: 45 },
        ..policy()
    };
    let r = report(&o, &p, datetime!(2026-09-14 10:10 +8));
    assert_eq!(r.first_reply.due_at, datetime!(2026-09-14 11:00 +8));
    assert_eq!(r.first_reply.state, SlaState::OnTrack);
    assert_eq!(
        report(&o, &p, datetime!(2026-09-14 10:20 +8))
            .first_reply
            .state,
        SlaState::DueSoon
    );
    assert_eq!(r.resolution.due_at, datetime!(2026-09-17 10:00 +8));
    assert_eq!(
        r.resolution.escalate_at,
        Some(datetime!(2026-09-17 10:00 +8))
    );
    assert_eq!(
        report(&o, &p, datetime!(2026-09-17 10:01 +8))
            .resolution
            .state,
        SlaState::Escalated
    );
}

#[test]
fn only_complaints_have_time_limits() {
    let p = policy();
    let t0 = datetime!(2026-09-14 10:00 +8);
    for kind in [OrderKind::Repair, OrderKind::Inquiry, OrderKind::Callback] {
        let o = created(kind, t0);
        assert_eq!(sla_state(&o, &p, t0).unwrap(), None);
        assert_eq!(due_times(&o, &p, t0).unwrap(), None);
    }
}

#[test]
fn policy_round_trips_through_json() {
    let p = SlaPolicy {
        due_soon: DueSoon::TimeLeft { minutes: 60 },
        ..policy()
    };
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["due_soon"]["rule"], "time_left");
    assert_eq!(json["calendar"]["holidays"][0], "2026-10-01");
    assert_eq!(serde_json::from_value::<SlaPolicy>(json).unwrap(), p);
}

#[test]
fn a_callbacks_due_time_is_on_track_then_due_soon_then_overdue_until_resolved() {
    let p = policy();
    let t0 = datetime!(2026-09-14 10:00 +8);
    let mut o = created(OrderKind::Callback, t0);
    assert_eq!(due_state(&o, &p, t0), None, "no due time, no state");
    assert_eq!(sla_state(&o, &p, t0).unwrap(), None, "no complaint clocks");
    o.due_at = Some(datetime!(2026-09-14 15:00 +8));
    let at = |h: u8, m: u8| {
        let now = t0.replace_time(time::Time::from_hms(h, m, 0).unwrap());
        due_state(&o, &p, now).unwrap()
    };
    assert_eq!(at(13, 59).state, SlaState::OnTrack);
    assert_eq!(at(14, 0).state, SlaState::DueSoon, "60 minutes before");
    assert_eq!(at(14, 0).remaining_seconds, 3600);
    assert_eq!(at(15, 1).state, SlaState::Overdue);
    assert_eq!(at(15, 1).remaining_seconds, -60);
    let (level, next) = urgency(None, Some(&at(15, 1)));
    assert_eq!(level, Urgency::Overdue);
    assert_eq!(next, o.due_at);
    assert_eq!(urgency(None, Some(&at(14, 30))).0, Urgency::DueSoon);
    assert_eq!(urgency(None, None), (Urgency::Normal, None));
    let done = set_status(
        &set_status(&o, Status::InProgress, t0),
        Status::Resolved,
        t0,
    );
    assert_eq!(due_state(&done, &p, datetime!(2026-09-20 10:00 +8)), None);
}

#[test]
fn urgency_takes_the_worst_of_the_complaint_clocks_and_the_due_time() {
    let p = policy();
    let t0 = datetime!(2026-09-14 10:00 +8);
    let mut o = created(complaint(Complexity::Ordinary), t0);
    o.due_at = Some(datetime!(2026-09-20 10:00 +8));
    let now = datetime!(2026-09-14 12:30 +8); // first reply overdue since 12:00
    let sla = report(&o, &p, now);
    let due = due_state(&o, &p, now).unwrap();
    assert_eq!(due.state, SlaState::OnTrack);
    let (level, next) = urgency(Some(&sla), Some(&due));
    assert_eq!(level, Urgency::Overdue);
    assert_eq!(next, Some(datetime!(2026-09-14 12:00 +8)));
    assert!(Urgency::Overdue < Urgency::DueSoon && Urgency::DueSoon < Urgency::Normal);
    let old_policy: SlaPolicy = {
        let mut json = serde_json::to_value(&p).unwrap();
        json.as_object_mut().unwrap().remove("due_at_soon_minutes");
        serde_json::from_value(json).unwrap()
    };
    assert_eq!(
        old_policy.due_at_soon_minutes, 60,
        "stored policies keep reading"
    );
}
