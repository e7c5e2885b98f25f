//! The job list's chips over a time window without counting every job in it: triggers keep the
//! number of jobs per (minute or hour of their start, state, has errors) in `job_start_counts`
//! (migration 0015; PostgreSQL appends +1/-1 rows to `job_start_deltas` and folds them once a
//! second, as it does for the unfiltered counts). A window `[from, to)` is cut into whole hours,
//! whole minutes at the ends of those, and the seconds left at either end, which are counted from
//! `jobs` through the start index: at most two minutes of jobs, whatever the window's width.

use app::model::JobFilter;
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Bucket widths in seconds, coarsest first (the `width_s` column).
const WIDTHS_S: [i32; 2] = [3600, 60];

/// Whether the chips of `filter` can be read from the buckets: it narrows by start time and
/// errors only (the chips ignore the state filter; `within_ns` was resolved into `from_ns`).
pub(super) fn answers(filter: &JobFilter) -> bool {
    let JobFilter {
        states: _,
        name,
        within_ns: _,
        from_ns,
        to_ns,
        min_duration_ns,
        max_duration_ns,
        cluster,
        service,
        has_errors,
    } = filter;
    name.is_none()
        && min_duration_ns.is_none()
        && max_duration_ns.is_none()
        && cluster.is_none()
        && service.is_none()
        && (from_ns.is_some() || to_ns.is_some() || has_errors.is_some())
}

/// One part of a window: whole buckets of one width, or a range of start times counted from
/// `jobs`. `None` bounds are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Buckets {
        width_s: i32,
        from: i64,
        to: Option<i64>,
    },
    Jobs {
        from_ns: Option<i64>,
        to_ns: Option<i64>,
    },
}

/// The parts of `[from_ns, to_ns)`, disjoint and covering it. Only buckets numbered 1 and up
/// are used: below one bucket's width a truncating division (the triggers' `start_ns / width`)
/// and a floor differ for negative starts, so those few nanoseconds are counted from `jobs`.
fn parts(from_ns: Option<i64>, to_ns: Option<i64>) -> Vec<Part> {
    let mut parts = Vec::new();
    cover(from_ns, to_ns, &WIDTHS_S, &mut parts);
    parts
}

fn cover(from_ns: Option<i64>, to_ns: Option<i64>, widths: &[i32], parts: &mut Vec<Part>) {
    let Some((&width_s, finer)) = widths.split_first() else {
        parts.push(Part::Jobs { from_ns, to_ns });
        return;
    };
    let width = i64::from(width_s) * 1_000_000_000;
    // The first bucket starting at or after `from_ns`, the first ending after `to_ns`.
    let first = from_ns
        .map_or(1, |from| {
            from.div_euclid(width) + i64::from(from.rem_euclid(width) != 0)
        })
        .max(1);
    let end = to_ns.map(|to| to.div_euclid(width));
    // No whole bucket in the window (or none that starts before the largest time).
    let Some(first_ns) = first
        .checked_mul(width)
        .filter(|_| end.is_none_or(|end| end > first))
    else {
        cover(from_ns, to_ns, finer, parts);
        return;
    };
    parts.push(Part::Buckets {
        width_s,
        from: first,
        to: end,
    });
    cover(from_ns, Some(first_ns), finer, parts);
    if let Some(end) = end {
        cover(Some(end * width), to_ns, finer, parts);
    }
}

/// `SELECT state, n` rows whose per-state sums are the chips of `filter` (see [`answers`]):
/// the buckets' counts, PostgreSQL's unfolded deltas (`with_deltas`), and the ends counted from
/// `jobs`. The caller wraps it in one statement that sums by state.
pub(super) fn push_counts<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    filter: &JobFilter,
    with_deltas: bool,
) where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let parts = parts(filter.from_ns, filter.to_ns);
    let errored = filter.has_errors.map(i32::from);
    let mut first = true;
    let mut union = |select: &mut QueryBuilder<'a, DB>| {
        if !std::mem::take(&mut first) {
            select.push(" UNION ALL ");
        }
    };
    let buckets: Vec<(i32, i64, Option<i64>)> = parts
        .iter()
        .filter_map(|part| match *part {
            Part::Buckets { width_s, from, to } => Some((width_s, from, to)),
            Part::Jobs { .. } => None,
        })
        .collect();
    for &(width_s, from, to) in &buckets {
        union(select);
        select.push("SELECT state, n FROM job_start_counts WHERE ");
        push_bucket_range(select, width_s, from, to);
        push_errored(select, errored);
    }
    // PostgreSQL's deltas not folded yet: one scan of that small, unindexed table.
    if with_deltas && !buckets.is_empty() {
        union(select);
        select.push("SELECT state, n FROM job_start_deltas WHERE (");
        for (at, &(width_s, from, to)) in buckets.iter().enumerate() {
            if at > 0 {
                select.push(" OR ");
            }
            select.push("(");
            push_bucket_range(select, width_s, from, to);
            select.push(")");
        }
        select.push(")");
        push_errored(select, errored);
    }
    for part in parts {
        let Part::Jobs { from_ns, to_ns } = part else {
            continue;
        };
        union(select);
        // `+state`: SQLite would otherwise walk the state index to skip the grouping.
        select.push("SELECT +state AS state, count(*) AS n FROM jobs WHERE 1 = 1");
        if let Some(from) = from_ns {
            select.push(" AND start_ns >= ").push_bind(from);
        }
        if let Some(to) = to_ns {
            select.push(" AND start_ns < ").push_bind(to);
        }
        super::job_filter::push_has_errors(select, "error_count", filter.has_errors);
        select.push(" GROUP BY 1");
    }
}

/// `width_s = … AND bucket >= … [AND bucket < …]`.
fn push_bucket_range<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    width_s: i32,
    from: i64,
    to: Option<i64>,
) where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    select
        .push("width_s = ")
        .push_bind(width_s)
        .push(" AND bucket >= ")
        .push_bind(from);
    if let Some(to) = to {
        select.push(" AND bucket < ").push_bind(to);
    }
}

/// ` AND errored = …` for the errors filter (none: no condition).
fn push_errored<'a, DB>(select: &mut QueryBuilder<'a, DB>, errored: Option<i32>)
where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
{
    if let Some(errored) = errored {
        select.push(" AND errored = ").push_bind(errored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000_000;
    const HOUR: i64 = 60 * MINUTE;

    /// The start-time ranges a part covers, as `[from, to)` with open ends as the extremes.
    fn range(part: Part) -> (i64, i64) {
        match part {
            Part::Buckets { width_s, from, to } => {
                let width = i64::from(width_s) * 1_000_000_000;
                (from * width, to.map_or(i64::MAX, |to| to * width))
            }
            Part::Jobs { from_ns, to_ns } => {
                (from_ns.unwrap_or(i64::MIN), to_ns.unwrap_or(i64::MAX))
            }
        }
    }

    /// The parts cover the window exactly, without overlap; at most two minutes of it are
    /// counted from `jobs`.
    #[test]
    fn test_parts_cover_the_window_once() {
        let base = 1_700_000_000_000_000_000_i64;
        let points = [
            None,
            Some(i64::MIN),
            Some(-HOUR - 7),
            Some(-1),
            Some(0),
            Some(1),
            Some(MINUTE - 1),
            Some(MINUTE),
            Some(HOUR + MINUTE + 1),
            Some(base),
            Some(base + 40_000_000_000),
            Some(base + 40_000_000_001),
            Some(base + 2_800 * 1_000_000_000),
            Some(base + 2 * HOUR + 3),
            Some(base + 25 * HOUR - 1),
            Some(i64::MAX - 1),
            Some(i64::MAX),
        ];
        for from in points {
            for to in points {
                let (lo, hi) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
                let mut ranges: Vec<(i64, i64)> = parts(from, to)
                    .into_iter()
                    .map(range)
                    .filter(|(a, b)| a < b)
                    .collect();
                ranges.sort();
                if lo >= hi {
                    assert!(ranges.is_empty(), "{from:?}..{to:?}: {ranges:?}");
                    continue;
                }
                assert_eq!(ranges.first().map(|r| r.0), Some(lo), "{from:?}..{to:?}");
                assert_eq!(ranges.last().map(|r| r.1), Some(hi), "{from:?}..{to:?}");
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].1, pair[1].0, "{from:?}..{to:?}: gap or overlap");
                }
                let counted: i128 = parts(from, to)
                    .into_iter()
                    .filter(|p| matches!(p, Part::Jobs { .. }))
                    .map(range)
                    .filter(|(a, b)| a < b)
                    .map(|(a, b)| i128::from(b) - i128::from(a))
                    .sum();
                if lo > HOUR {
                    assert!(
                        counted < 2 * i128::from(MINUTE),
                        "{from:?}..{to:?}: {counted}"
                    );
                }
            }
        }
    }

    #[test]
    fn test_only_windows_and_errors_are_answered() {
        let filter = |params: &[(&str, &str)]| {
            JobFilter::from_params(params.iter().copied()).expect("valid params")
        };
        assert!(answers(&filter(&[("from", "5")])));
        assert!(answers(&filter(&[("to", "5"), ("state", "failed")])));
        assert!(answers(&filter(&[("errors", "yes")])));
        assert!(!answers(&filter(&[])), "the kept totals answer that");
        assert!(!answers(&filter(&[("from", "5"), ("name", "scan")])));
        assert!(!answers(&filter(&[("from", "5"), ("service", "svc")])));
        assert!(!answers(&filter(&[("from", "5"), ("min_duration", "1")])));
    }
}
