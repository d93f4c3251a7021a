//! A tenant's working-day calendar: working weekdays, daily working hours in the tenant's fixed
//! UTC offset, holidays (dates off) and make-up working days (dates on, e.g. a Saturday worked
//! to bridge a Chinese public holiday). Overnight shifts and DST are not modelled.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// How far ahead to look for the next working day before giving up.
pub const MAX_SEARCH_DAYS: u32 = 3_660;

/// An unusable calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("working hours must open before they close ({opens} – {closes})")]
    InvalidHours { opens: Time, closes: Time },
    #[error("no working day within {MAX_SEARCH_DAYS} days after {after}")]
    NoWorkingDay { after: Date },
    #[error("date out of range")]
    OutOfRange,
}

time::serde::format_description!(hhmm, Time, "[hour]:[minute]");
time::serde::format_description!(
    utc_offset_fmt,
    UtcOffset,
    "[offset_hour sign:mandatory]:[offset_minute]"
);

/// The working-time calendar of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCalendar {
    /// Regular working weekdays (`["monday", ...]` on the wire).
    #[serde(with = "weekdays_serde")]
    pub working_weekdays: Vec<Weekday>,
    /// Daily opening time, local ("09:00").
    #[serde(with = "hhmm")]
    pub opens: Time,
    /// Daily closing time, local ("18:00"); must be after `opens`.
    #[serde(with = "hhmm")]
    pub closes: Time,
    /// The tenant's UTC offset ("+08:00").
    #[serde(with = "utc_offset_fmt")]
    pub utc_offset: UtcOffset,
    /// Dates off even if they fall on a working weekday ("2026-10-01").
    #[serde(with = "date_set", default)]
    pub holidays: BTreeSet<Date>,
    /// Dates worked even if they fall on a non-working weekday; wins over `holidays`.
    #[serde(with = "date_set", default)]
    pub makeup_workdays: BTreeSet<Date>,
}

impl WorkCalendar {
    /// Monday to Friday, `opens`–`closes`, no holidays.
    pub fn weekdays(
        opens: Time,
        closes: Time,
        utc_offset: UtcOffset,
    ) -> Result<Self, CalendarError> {
        let cal = Self {
            working_weekdays: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            opens,
            closes,
            utc_offset,
            holidays: BTreeSet::new(),
            makeup_workdays: BTreeSet::new(),
        };
        cal.validate()?;
        Ok(cal)
    }

    /// Check the calendar is usable (also done by every computation).
    pub fn validate(&self) -> Result<(), CalendarError> {
        if self.opens < self.closes {
            Ok(())
        } else {
            Err(CalendarError::InvalidHours {
                opens: self.opens,
                closes: self.closes,
            })
        }
    }

    /// Working time in one working day.
    pub fn day_length(&self) -> Duration {
        self.closes - self.opens
    }

    /// Whether `date` (local) is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        if self.makeup_workdays.contains(&date) {
            return true;
        }
        !self.holidays.contains(&date) && self.working_weekdays.contains(&date.weekday())
    }

    fn local(&self, t: OffsetDateTime) -> PrimitiveDateTime {
        let l = t.to_offset(self.utc_offset);
        PrimitiveDateTime::new(l.date(), l.time())
    }

    fn instant(&self, l: PrimitiveDateTime) -> OffsetDateTime {
        l.assume_offset(self.utc_offset)
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: Date) -> Result<Date, CalendarError> {
        let mut d = date;
        for _ in 0..MAX_SEARCH_DAYS {
            d = d.next_day().ok_or(CalendarError::OutOfRange)?;
            if self.is_working_day(d) {
                return Ok(d);
            }
        }
        Err(CalendarError::NoWorkingDay { after: date })
    }

    fn normalize(&self, l: PrimitiveDateTime) -> Result<PrimitiveDateTime, CalendarError> {
        if self.is_working_day(l.date()) {
            if l.time() < self.opens {
                return Ok(l.replace_time(self.opens));
            }
            if l.time() < self.closes {
                return Ok(l);
            }
        }
        Ok(PrimitiveDateTime::new(
            self.next_working_day(l.date())?,
            self.opens,
        ))
    }

    /// The first instant at or after `t` that is working time.
    pub fn next_working_instant(&self, t: OffsetDateTime) -> Result<OffsetDateTime, CalendarError> {
        self.validate()?;
        Ok(self.instant(self.normalize(self.local(t))?))
    }

    /// `t` plus `amount` of working time. A deadline that uses up a day exactly lands on that
    /// day's closing time (not the next morning). Negative amounts count as zero. The result is
    /// in the tenant's offset.
    pub fn add_working_time(
        &self,
        t: OffsetDateTime,
        amount: Duration,
    ) -> Result<OffsetDateTime, CalendarError> {
        self.validate()?;
        let mut cur = self.normalize(self.local(t))?;
        let mut rem = amount.max(Duration::ZERO);
        loop {
            let avail = cur.replace_time(self.closes) - cur;
            if rem <= avail {
                return Ok(self.instant(cur + rem));
            }
            rem -= avail;
            cur = PrimitiveDateTime::new(self.next_working_day(cur.date())?, self.opens);
        }
    }

    /// `t` plus `hours` working hours.
    pub fn add_working_hours(
        &self,
        t: OffsetDateTime,
        hours: u32,
    ) -> Result<OffsetDateTime, CalendarError> {
        self.add_working_time(t, Duration::hours(i64::from(hours)))
    }

    /// `t` plus `days` working days, a working day being one day's working hours: from inside
    /// working hours that is the same local time `days` working days later; from outside working
    /// hours it is the close of the `days`-th working day.
    pub fn add_working_days(
        &self,
        t: OffsetDateTime,
        days: u32,
    ) -> Result<OffsetDateTime, CalendarError> {
        self.add_working_time(t, self.day_length() * days)
    }

    /// Working time between `from` and `to` (zero if `to` is not after `from`).
    pub fn working_time_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Duration, CalendarError> {
        self.validate()?;
        if to <= from {
            return Ok(Duration::ZERO);
        }
        let (a, b) = (self.local(from), self.local(to));
        let mut total = Duration::ZERO;
        let mut day = a.date();
        loop {
            if self.is_working_day(day) {
                let start = PrimitiveDateTime::new(day, self.opens).max(a);
                let end = PrimitiveDateTime::new(day, self.closes).min(b);
                if end > start {
                    total += end - start;
                }
            }
            if day >= b.date() {
                return Ok(total);
            }
            day = day.next_day().ok_or(CalendarError::OutOfRange)?;
        }
    }
}

mod weekdays_serde {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use time::Weekday;

    const NAMES: [(Weekday, &str); 7] = [
        (Weekday::Monday, "monday"),
        (Weekday::Tuesday, "tuesday"),
        (Weekday::Wednesday, "wednesday"),
        (Weekday::Thursday, "thursday"),
        (Weekday::Friday, "friday"),
        (Weekday::Saturday, "saturday"),
        (Weekday::Sunday, "sunday"),
    ];

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| {
            NAMES
                .iter()
                .find(|(w, _)| w == d)
                .map_or("monday", |(_, n)| *n)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|name| {
                NAMES
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(name))
                    .map(|(w, _)| *w)
                    .ok_or_else(|| D::Error::custom(format!("unknown weekday {name:?}")))
            })
            .collect()
    }
}

mod date_set {
    use std::collections::BTreeSet;

    use serde::{de::Error, ser::Error as _, Deserialize, Deserializer, Serializer};
    use time::{format_description::BorrowedFormatItem, macros::format_description, Date};

    const FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(dates: &BTreeSet<Date>, s: S) -> Result<S::Ok, S::Error> {
        let texts = dates
            .iter()
            .map(|d| d.format(FORMAT).map_err(S::Error::custom))
            .collect::<Result<Vec<_>, _>>()?;
        s.collect_seq(texts)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<Date>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| Date::parse(t, FORMAT).map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset, time};

    /// Mon–Fri 09:00–18:00 at UTC+8, National Day week 2026 off (Thu 1 Oct – Wed 7 Oct),
    /// Saturday 10 Oct a make-up working day.
    fn cal() -> WorkCalendar {
        let mut c = WorkCalendar::weekdays(time!(9:00), time!(18:00), offset!(+8)).unwrap();
        let mut d = date!(2026 - 10 - 01);
        while d <= date!(2026 - 10 - 07) {
            c.holidays.insert(d);
            d = d.next_day().unwrap();
        }
        c.makeup_workdays.insert(date!(2026 - 10 - 10));
        c
    }

    #[test]
    fn working_days_respect_weekends_holidays_and_makeup_days() {
        let c = cal();
        assert!(c.is_working_day(date!(2026 - 09 - 30))); // Wednesday
        assert!(!c.is_working_day(date!(2026 - 10 - 01))); // holiday Thursday
        assert!(!c.is_working_day(date!(2026 - 10 - 03))); // Saturday
        assert!(c.is_working_day(date!(2026 - 10 - 10))); // make-up Saturday
        assert!(!c.is_working_day(date!(2026 - 10 - 11))); // Sunday
        assert_eq!(
            c.next_working_day(date!(2026 - 09 - 30)).unwrap(),
            date!(2026 - 10 - 08)
        );
        assert_eq!(
            c.next_working_day(date!(2026 - 10 - 09)).unwrap(),
            date!(2026 - 10 - 10)
        );
    }

    #[test]
    fn add_working_hours_within_and_across_days() {
        let c = cal();
        // Mon 14 Sep 10:00 local (02:00 UTC) + 3h = 13:00 local.
        let t = datetime!(2026-09-14 02:00 UTC);
        assert_eq!(
            c.add_working_hours(t, 3).unwrap(),
            datetime!(2026-09-14 13:00 +8)
        );
        // + 8h uses the day exactly (to 18:00)...
        assert_eq!(
            c.add_working_hours(t, 8).unwrap(),
            datetime!(2026-09-14 18:00 +8)
        );
        // ...+ 9h spills into Tuesday 10:00.
        assert_eq!(
            c.add_working_hours(t, 9).unwrap(),
            datetime!(2026-09-15 10:00 +8)
        );
    }

    #[test]
    fn add_working_days_over_a_weekend() {
        let c = cal();
        // Fri 18 Sep 15:00 + 1 working day = Mon 21 Sep 15:00.
        let t = datetime!(2026-09-18 15:00 +8);
        assert_eq!(
            c.add_working_days(t, 1).unwrap(),
            datetime!(2026-09-21 15:00 +8)
        );
        assert_eq!(
            c.add_working_days(t, 5).unwrap(),
            datetime!(2026-09-25 15:00 +8)
        );
    }

    #[test]
    fn add_working_days_over_the_holiday_and_makeup_saturday() {
        let c = cal();
        // Wed 30 Sep 11:00 + 1 wd: Thu 1 – Wed 7 Oct are off → Thu 8 Oct 11:00.
        let t = datetime!(2026-09-30 11:00 +8);
        assert_eq!(
            c.add_working_days(t, 1).unwrap(),
            datetime!(2026-10-08 11:00 +8)
        );
        // + 3 wd: Thu 8, Fri 9, then the make-up Saturday 10 Oct.
        assert_eq!(
            c.add_working_days(t, 3).unwrap(),
            datetime!(2026-10-10 11:00 +8)
        );
        // + 4 wd skips Sunday 11 Oct → Mon 12 Oct.
        assert_eq!(
            c.add_working_days(t, 4).unwrap(),
            datetime!(2026-10-12 11:00 +8)
        );
    }

    #[test]
    fn outside_working_hours_starts_at_the_next_opening() {
        let c = cal();
        // Fri 18 Sep 20:30 local → clock starts Mon 09:00; 1 wd ends Mon 18:00.
        let t = datetime!(2026-09-18 20:30 +8);
        assert_eq!(
            c.next_working_instant(t).unwrap(),
            datetime!(2026-09-21 09:00 +8)
        );
        assert_eq!(
            c.add_working_days(t, 1).unwrap(),
            datetime!(2026-09-21 18:00 +8)
        );
        // Early morning on a working day: starts at 09:00 that day.
        let early = datetime!(2026-09-15 07:10 +8);
        assert_eq!(
            c.add_working_hours(early, 2).unwrap(),
            datetime!(2026-09-15 11:00 +8)
        );
        // Same instant expressed in UTC gives the same answer.
        let utc = datetime!(2026-09-14 23:10 UTC);
        assert_eq!(
            c.add_working_hours(utc, 2).unwrap(),
            datetime!(2026-09-15 11:00 +8)
        );
    }

    #[test]
    fn working_time_between_counts_only_working_hours() {
        let c = cal();
        let a = datetime!(2026-09-18 17:00 +8); // Fri
        let b = datetime!(2026-09-21 10:30 +8); // Mon
        assert_eq!(
            c.working_time_between(a, b).unwrap(),
            Duration::minutes(150)
        );
        assert_eq!(c.working_time_between(b, a).unwrap(), Duration::ZERO);
        let h = c.working_time_between(
            datetime!(2026-09-30 09:00 +8),
            datetime!(2026-10-10 18:00 +8),
        );
        // 30 Sep, 8 Oct, 9 Oct, 10 Oct (make-up) = 4 days of 9h.
        assert_eq!(h.unwrap(), Duration::hours(36));
    }

    #[test]
    fn invalid_or_empty_calendars_are_errors_not_hangs() {
        let mut c = cal();
        c.closes = time!(8:00);
        assert!(matches!(
            c.add_working_hours(datetime!(2026-09-14 10:00 +8), 1),
            Err(CalendarError::InvalidHours { .. })
        ));
        let mut none = cal();
        none.working_weekdays.clear();
        none.makeup_workdays.clear();
        assert!(matches!(
            none.add_working_days(datetime!(2026-09-14 10:00 +8), 1),
            Err(CalendarError::NoWorkingDay { .. })
        ));
    }

    #[test]
    fn calendar_json_is_readable_and_round_trips() {
        let c = cal();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["opens"], "09:00");
        assert_eq!(json["utc_offset"], "+08:00");
        assert_eq!(json["working_weekdays"][0], "monday");
        assert_eq!(json["makeup_workdays"][0], "2026-10-10");
        let back: WorkCalendar = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
