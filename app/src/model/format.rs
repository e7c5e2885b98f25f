//! Human-readable durations and timestamps for nanosecond values.

use chrono::{DateTime, FixedOffset};

/// `1.23 s`, `450 ms`, `12.0 µs`, `2 m 05 s`: three significant digits, unit chosen by size.
pub fn format_duration_ns(ns: i64) -> String {
    let ns = ns.max(0);
    let abs = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{} µs", three_digits(abs / 1e3))
    } else if ns < 1_000_000_000 {
        format!("{} ms", three_digits(abs / 1e6))
    } else if ns < 60_000_000_000 {
        format!("{} s", three_digits(abs / 1e9))
    } else if ns < 3_600_000_000_000 {
        let secs = ns / 1_000_000_000;
        format!("{} m {:02} s", secs / 60, secs % 60)
    } else {
        let mins = ns / 60_000_000_000;
        format!("{} h {:02} m", mins / 60, mins % 60)
    }
}

fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// `2026-11-25 20:11:02.123 UTC` (milliseconds).
pub fn format_time_ns(ns: i64) -> String {
    if ns <= 0 {
        return "—".to_owned();
    }
    DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        .to_string()
}

/// How the dashboard writes a moment: the server renders UTC; the browser can switch to its own
/// zone or to "how long ago" (kept in localStorage, like the colour scheme).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    #[default]
    Utc,
    Local,
    Relative,
}

impl TimeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeMode::Utc => "utc",
            TimeMode::Local => "local",
            TimeMode::Relative => "relative",
        }
    }

    pub fn parse(text: &str) -> Option<TimeMode> {
        [TimeMode::Utc, TimeMode::Local, TimeMode::Relative]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }

    /// The button's cycle: UTC → local → relative → UTC.
    pub fn next(self) -> TimeMode {
        match self {
            TimeMode::Utc => TimeMode::Local,
            TimeMode::Local => TimeMode::Relative,
            TimeMode::Relative => TimeMode::Utc,
        }
    }
}

/// `2026-11-25 21:11:02.123 +02:00`: the moment in a zone `offset_minutes` east of UTC.
pub fn format_local_ns(ns: i64, offset_minutes: i32) -> String {
    if ns <= 0 {
        return "—".to_owned();
    }
    let Some(zone) = FixedOffset::east_opt(offset_minutes.saturating_mul(60)) else {
        return format_time_ns(ns);
    };
    DateTime::from_timestamp_nanos(ns)
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S%.3f %:z")
        .to_string()
}

/// `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago` (or `in 5 s` for a moment after
/// `now_ns`, a clock running behind the runners').
pub fn format_relative_ns(ns: i64, now_ns: i64) -> String {
    if ns <= 0 {
        return "—".to_owned();
    }
    let secs = (now_ns.saturating_sub(ns)) / 1_000_000_000;
    let amount = match secs.unsigned_abs() {
        0 => return "just now".to_owned(),
        s @ 1..60 => format!("{s} s"),
        s @ 60..3_600 => format!("{} min", s / 60),
        s @ 3_600..86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    };
    if secs > 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// `&`, `<`, `>`, `"` and `'` as entities, and control characters XML does not allow dropped:
/// safe inside element text and quoted attributes of HTML and SVG.
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            // Not characters XML allows (an SVG with them does not parse).
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_duration_picks_unit_by_size() {
        assert_eq!(format_duration_ns(999), "999 ns");
        assert_eq!(format_duration_ns(12_000), "12.0 µs");
        assert_eq!(format_duration_ns(450_000_000), "450 ms");
        assert_eq!(format_duration_ns(1_234_000_000), "1.23 s");
        assert_eq!(format_duration_ns(125_000_000_000), "2 m 05 s");
        assert_eq!(format_duration_ns(7_260_000_000_000), "2 h 01 m");
    }

    #[test]
    fn test_negative_duration_is_zero() {
        assert_eq!(format_duration_ns(-5), "0 ns");
    }

    #[test]
    fn test_time_is_utc_with_millis() {
        assert_eq!(
            format_time_ns(1_764_100_262_123_456_789),
            "2025-11-25 19:51:02.123 UTC"
        );
        assert_eq!(format_time_ns(0), "—");
    }

    #[test]
    fn test_local_time_names_its_offset() {
        let ns = 1_764_100_262_123_456_789;
        assert_eq!(format_local_ns(ns, 330), "2025-11-26 01:21:02.123 +05:30");
        assert_eq!(format_local_ns(ns, -300), "2025-11-25 14:51:02.123 -05:00");
        assert_eq!(format_local_ns(ns, 0), "2025-11-25 19:51:02.123 +00:00");
        // An offset no zone has falls back to UTC instead of panicking.
        assert_eq!(format_local_ns(ns, 100_000), format_time_ns(ns));
        assert_eq!(format_local_ns(0, 60), "—");
    }

    #[test]
    fn test_relative_time_picks_unit_and_direction() {
        let now = 1_764_100_262_000_000_000;
        let s = 1_000_000_000;
        assert_eq!(format_relative_ns(now - s / 2, now), "just now");
        assert_eq!(format_relative_ns(now - 42 * s, now), "42 s ago");
        assert_eq!(format_relative_ns(now - 5 * 60 * s, now), "5 min ago");
        assert_eq!(format_relative_ns(now - 3 * 3_600 * s, now), "3 h ago");
        assert_eq!(format_relative_ns(now - 50 * 3_600 * s, now), "2 d ago");
        assert_eq!(format_relative_ns(now + 5 * s, now), "in 5 s");
        assert_eq!(format_relative_ns(0, now), "—");
    }

    #[test]
    fn test_time_mode_cycles_and_parses() {
        let mut mode = TimeMode::Utc;
        for _ in 0..3 {
            assert_eq!(TimeMode::parse(mode.as_str()), Some(mode));
            mode = mode.next();
        }
        assert_eq!(mode, TimeMode::Utc);
        assert_eq!(TimeMode::parse("mars"), None);
    }
}
