//! Cron schedules: five fields (`minute hour day-of-month month day-of-week`, as crontab), or
//! six with seconds first (`*/10 * * * * *`), or a macro (`@hourly`, `@daily`/`@midnight`,
//! `@weekly`, `@monthly`, `@yearly`/`@annually`). Fields take `*`, numbers, ranges `a-b`,
//! steps `*/n`, `a-b/n`, `a/n`, lists `a,b`, and names for months (`jan`) and weekdays
//! (`mon`; `0` and `7` are Sunday). When both day fields are restricted a day matching either
//! counts, as in Vixie cron. Times are UTC.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// Longest schedule text accepted.
pub const MAX_SCHEDULE_CHARS: usize = 256;
/// How far ahead the next time is looked for: a schedule that never fires (`0 0 30 2 *`) is
/// refused when it is created.
const SEARCH_YEARS: i32 = 5;

/// `schedule`'s first time after `now_ns`, in unix ns; `None` when it does not parse or never
/// fires again.
pub fn next_due(schedule: &str, now_ns: i64) -> Option<i64> {
    Schedule::parse(schedule).ok()?.next_after_ns(now_ns)
}

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether day-of-month and day-of-week were each restricted (not `*`).
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// The schedule `text` says, or what is wrong with it.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if text.chars().count() > MAX_SCHEDULE_CHARS {
            return Err(format!("longer than {MAX_SCHEDULE_CHARS} characters"));
        }
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => return Err(format!("unknown macro {text:?}")),
            _ => text.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "{n} fields; a schedule has 5 (minute hour day month weekday) or 6 (seconds first)"
                ));
            }
        };
        let weekdays = field(rest[4], "day of week", 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        let weekdays = (weekdays & 0x7f) | ((weekdays >> 7) & 1);
        let schedule = Schedule {
            seconds: field(seconds, "second", 0, 59, &[])?,
            minutes: field(rest[0], "minute", 0, 59, &[])?,
            hours: field(rest[1], "hour", 0, 23, &[])?,
            days: field(rest[2], "day of month", 1, 31, &[])?,
            months: field(rest[3], "month", 1, 12, &MONTHS)?,
            weekdays,
            days_restricted: rest[2] != "*" && rest[2] != "?",
            weekdays_restricted: rest[4] != "*" && rest[4] != "?",
        };
        // A schedule that names only impossible days (Feb 30) never fires.
        let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        if start.and_then(|s| schedule.next_after(s)).is_none() {
            return Err("it never fires".to_owned());
        }
        Ok(schedule)
    }

    /// [`Self::next_after`] in unix ns.
    pub fn next_after_ns(&self, after_ns: i64) -> Option<i64> {
        self.next_after(DateTime::from_timestamp_nanos(after_ns))?
            .timestamp_nanos_opt()
    }

    /// The first time after `after` (strictly) the schedule fires, within five years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.with_nanosecond(0)? + Duration::seconds(1);
        let limit = after.year() + SEARCH_YEARS;
        while t.year() <= limit {
            if self.months & (1 << t.month()) == 0 {
                t = first_of_next_month(t)?;
                continue;
            }
            if !self.day_matches(t) {
                t = start_of_day(t)? + Duration::days(1);
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)?.with_second(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t = t.with_second(0)? + Duration::minutes(1);
                continue;
            }
            if self.seconds & (1 << t.second()) == 0 {
                t += Duration::seconds(1);
                continue;
            }
            return Some(t);
        }
        None
    }

    fn day_matches(&self, t: DateTime<Utc>) -> bool {
        let day = self.days & (1 << t.day()) != 0;
        let weekday = self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }
}

/// The values one field allows, as bits `min..=max`.
fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let bad = |why: &str| format!("{what} {text:?}: {why}");
    let value = |part: &str| -> Result<u32, String> {
        let lower = part.to_ascii_lowercase();
        let number = match names.iter().position(|n| *n == lower) {
            // Months count from 1, weekdays from 0.
            Some(index) => index as u32 + u32::from(min == 1),
            None => part
                .parse::<u32>()
                .map_err(|_| bad(&format!("{part:?} is not a number")))?,
        };
        if number < min || number > max {
            return Err(bad(&format!("{number} is outside {min}–{max}")));
        }
        Ok(number)
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| bad(&format!("step {step:?} is not a number")))?;
                if step == 0 || step > max {
                    return Err(bad(&format!("a step of {step}: 1 to {max}")));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(bad(&format!("the range {a}-{b} runs backwards")));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `a/n` is every n-th from a; a bare value is itself.
            (a, if item.contains('/') { max } else { a })
        };
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            let Some(next) = v.checked_add(step) else {
                break;
            };
            v = next;
        }
    }
    if bits == 0 {
        return Err(bad("allows no value"));
    }
    Ok(bits)
}

fn start_of_day(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    t.with_hour(0)?.with_minute(0)?.with_second(0)
}

fn first_of_next_month(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (year, month) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn next(schedule: &str, after: &str) -> String {
        Schedule::parse(schedule)
            .expect("a schedule")
            .next_after(at(after))
            .expect("a next time")
            .to_rfc3339()
    }

    #[test]
    fn test_next_times_follow_the_fields() {
        assert_eq!(
            next("* * * * *", "2026-12-04T10:15:30Z"),
            "2026-12-04T10:16:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-12-04T10:15:00Z"),
            "2026-12-04T10:30:00+00:00"
        );
        assert_eq!(
            next("0 9 * * mon-fri", "2026-12-04T10:00:00Z"),
            "2026-12-07T09:00:00+00:00"
        );
        assert_eq!(
            next("30 2 1 jan,jul *", "2026-12-04T00:00:00Z"),
            "2027-01-01T02:30:00+00:00"
        );
        assert_eq!(
            next("@hourly", "2026-12-31T23:59:59Z"),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("*/10 * * * * *", "2026-12-04T10:00:01Z"),
            "2026-12-04T10:00:10+00:00"
        );
        // Feb 29 only in leap years; 7 is Sunday as 0 is.
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 * * 7", "2026-12-04T00:00:00Z"),
            "2026-12-06T00:00:00+00:00"
        );
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 13 * fri", "2026-12-04T00:00:00Z"),
            "2026-12-11T00:00:00+00:00"
        );
    }

    #[test]
    fn test_bad_schedules_say_what_is_wrong() {
        for (schedule, says) in [
            ("* * * *", "4 fields"),
            ("60 * * * *", "minute \"60\": 60 is outside 0–59"),
            ("*/0 * * * *", "a step of 0"),
            ("59/4294967295 * * * *", "a step of 4294967295"),
            ("5-1 * * * *", "runs backwards"),
            ("* * * foo *", "\"foo\" is not a number"),
            ("0 0 30 2 *", "never fires"),
            ("@often", "unknown macro"),
        ] {
            let error = Schedule::parse(schedule).expect_err(schedule);
            assert!(error.contains(says), "{schedule}: {error}");
        }
        assert!(Schedule::parse(&"*".repeat(300)).is_err());
    }
}
