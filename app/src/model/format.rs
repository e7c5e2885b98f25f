//! Human-readable durations and timestamps for nanosecond values.

use chrono::DateTime;

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
}
