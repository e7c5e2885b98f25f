//! Two runs of a job side by side. Spans are matched by where they sit in the tree: the names
//! on the path from the root, a task's span also by its tag (its input summary or display
//! label, so `DownloadTile T33U07` meets `DownloadTile T33U07` whatever order the runners took
//! the tiles in). Siblings that share a key are one row: how many, their median and total
//! duration, how many failed. A difference counts only above the noise: 20 % and at least
//! [`MIN_REGRESSION_NS`] or 1 % of the longer run, whichever is more.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::waterfall::row_tasks;
use super::{Job, JobTrace, SpanOutline, SpanTree, StatusCode, TaskOverlay};

/// A run slower than this factor (and by more than the noise) is a regression.
pub const REGRESSION_FACTOR: f64 = 1.2;
/// The smallest difference that counts, whatever the runs' length.
pub const MIN_REGRESSION_NS: i64 = 1_000_000;
/// Differences under this share of the longer run's duration are noise.
pub const NOISE_SHARE: f64 = 0.01;

/// One side of a row: the spans of one run at that position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub count: usize,
    /// The median duration (the lower middle of an even count).
    pub p50_ns: i64,
    pub sum_ns: i64,
    pub failed: usize,
}

/// How B differs from A at a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Slower,
    Faster,
    Same,
    /// Only B has it.
    Added,
    /// Only A has it.
    Missing,
}

impl Change {
    pub fn css(self) -> &'static str {
        match self {
            Change::Slower => "regression",
            Change::Faster => "improvement",
            Change::Same => "same",
            Change::Added => "added",
            Change::Missing => "missing",
        }
    }
}

/// Two runs side by side (`/compare?a=…&b=…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobComparison {
    pub a: Job,
    pub b: Job,
    pub rows: Vec<CompareRow>,
    /// Differences at most this large are noise (see the module).
    pub noise_ns: i64,
}

/// One matched position in the two runs' trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareRow {
    /// The keys from the root, `job/…` first; the last one is this row's (a span name, and a
    /// task's tag after two spaces).
    pub path: Vec<String>,
    pub a: Option<Side>,
    pub b: Option<Side>,
    pub change: Change,
}

impl CompareRow {
    pub fn depth(&self) -> usize {
        self.path.len().saturating_sub(1)
    }

    pub fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    pub fn is_regression(&self) -> bool {
        self.change == Change::Slower
    }

    pub fn is_improvement(&self) -> bool {
        self.change == Change::Faster
    }
}

/// Whether `b` differs from `a` by more than `noise` and the factor, either way.
fn change_of(a: Option<Side>, b: Option<Side>, noise_ns: i64) -> Change {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a.p50_ns, b.p50_ns),
        (None, _) => return Change::Added,
        (_, None) => return Change::Missing,
    };
    let beyond = |slow: i64, fast: i64| {
        slow - fast > noise_ns && slow as f64 >= fast as f64 * REGRESSION_FACTOR
    };
    if beyond(b, a) {
        Change::Slower
    } else if beyond(a, b) {
        Change::Faster
    } else {
        Change::Same
    }
}

/// Every key path of a run with its spans, in tree order (first occurrence).
fn groups(trace: &JobTrace) -> Vec<(Vec<String>, Vec<usize>)> {
    let spans = &trace.spans;
    let overlay = TaskOverlay::build(spans, &trace.tasks);
    let tags = row_tasks(&overlay, spans, &trace.tasks);
    let tree = SpanTree::build(spans);
    let rows = tree.rows(spans, &Default::default());
    let mut path: Vec<String> = Vec::new();
    let mut at: HashMap<Vec<String>, usize> = HashMap::new();
    let mut out: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for row in rows {
        path.truncate(row.depth);
        let name = &spans[row.index].name;
        let key = match tags.get(&row.index).map(|t| t.tag.as_str()) {
            Some(tag) if !tag.is_empty() => format!("{name}  {tag}"),
            _ => name.clone(),
        };
        path.push(key);
        match at.get(&path) {
            Some(&group) => out[group].1.push(row.index),
            None => {
                at.insert(path.clone(), out.len());
                out.push((path.clone(), vec![row.index]));
            }
        }
    }
    out
}

fn side(spans: &[SpanOutline], members: &[usize]) -> Side {
    let mut durations: Vec<i64> = members.iter().map(|&i| spans[i].duration_ns()).collect();
    durations.sort_unstable();
    Side {
        count: members.len(),
        p50_ns: durations[durations.len().saturating_sub(1) / 2],
        sum_ns: durations.iter().sum(),
        failed: members
            .iter()
            .filter(|&&i| spans[i].status_code == StatusCode::Error)
            .count(),
    }
}

/// The noise of comparing runs of these durations.
pub fn noise_ns(a_ns: i64, b_ns: i64) -> i64 {
    MIN_REGRESSION_NS.max((a_ns.max(b_ns) as f64 * NOISE_SHARE) as i64)
}

/// Rows in A's tree order, then what only B has in B's order.
pub fn compare_runs(a: &JobTrace, b: &JobTrace) -> JobComparison {
    let noise = noise_ns(a.job.duration_ns(), b.job.duration_ns());
    let b_groups = groups(b);
    let mut b_by_path: HashMap<Vec<String>, usize> = b_groups
        .iter()
        .enumerate()
        .map(|(i, (path, _))| (path.clone(), i))
        .collect();
    let mut rows = Vec::new();
    for (path, members) in groups(a) {
        let a_side = Some(side(&a.spans, &members));
        let b_side = b_by_path
            .remove(&path)
            .map(|i| side(&b.spans, &b_groups[i].1));
        rows.push(CompareRow {
            change: change_of(a_side, b_side, noise),
            path,
            a: a_side,
            b: b_side,
        });
    }
    for (path, members) in &b_groups {
        if b_by_path.contains_key(path) {
            let b_side = Some(side(&b.spans, members));
            rows.push(CompareRow {
                change: Change::Added,
                path: path.clone(),
                a: None,
                b: b_side,
            });
        }
    }
    JobComparison {
        a: a.job.clone(),
        b: b.job.clone(),
        rows,
        noise_ns: noise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::task;
    use crate::model::{JobState, test_outline};

    const MS: i64 = 1_000_000;

    fn span(id: &str, parent: Option<&str>, name: &str, start: i64, duration: i64) -> SpanOutline {
        let mut span = test_outline(id, parent, name, start, start + duration);
        span.status_code = StatusCode::Ok;
        span
    }

    fn trace(spans: Vec<SpanOutline>, tasks: Vec<crate::model::TaskView>) -> JobTrace {
        let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        JobTrace {
            job: Job {
                id: "j".into(),
                trace_id: "t".into(),
                name: "tiles".into(),
                state: JobState::Completed,
                start_ns: 0,
                end_ns: end,
                span_count: spans.len() as i64,
                error_count: 0,
                services: vec![],
                tasks: None,
            },
            spans,
            log_marks: vec![],
            unattached_logs: vec![],
            tasks,
            previous_run: None,
            progress: vec![],
        }
    }

    /// A tile task's attempt span with its task (whose input summary is the tile).
    fn tile(
        id: &str,
        tile: &str,
        start: i64,
        duration: i64,
    ) -> (SpanOutline, crate::model::TaskView) {
        let mut s = span(id, Some("r"), "task/Tile", start, duration);
        s.task_id = Some(format!("task-{id}"));
        let mut t = task(&format!("task-{id}"), &[]);
        t.display = "Tile".into();
        t.summary = tile.into();
        (s, t)
    }

    fn run(tiles: &[(&str, i64, i64)], extra: Vec<SpanOutline>) -> JobTrace {
        let mut spans = vec![span("r", None, "job/tiles", 0, 1000 * MS)];
        let mut tasks = Vec::new();
        for (n, (name, start, duration)) in tiles.iter().enumerate() {
            let (s, t) = tile(&format!("{name}-{n}"), name, *start, *duration);
            spans.push(s);
            tasks.push(t);
        }
        spans.extend(extra);
        trace(spans, tasks)
    }

    #[test]
    fn test_parallel_tasks_match_by_their_input_not_their_order() {
        // The same tiles finished in another order: every tile the same duration.
        let a = run(&[("T1", 0, 100 * MS), ("T2", 10 * MS, 300 * MS)], vec![]);
        let b = run(&[("T2", 0, 300 * MS), ("T1", 10 * MS, 100 * MS)], vec![]);
        let comparison = compare_runs(&a, &b);
        let changes: Vec<(String, Change)> = comparison
            .rows
            .iter()
            .map(|r| (r.name().to_owned(), r.change))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("job/tiles".into(), Change::Same),
                ("task/Tile  T1".into(), Change::Same),
                ("task/Tile  T2".into(), Change::Same),
            ]
        );
        assert_eq!(comparison.rows[1].depth(), 1);
    }

    #[test]
    fn test_repeated_siblings_are_one_row_with_count_median_and_sum() {
        let retries = |n: usize, each: i64| -> Vec<SpanOutline> {
            (0..n)
                .map(|i| {
                    span(
                        &format!("p{n}-{i}"),
                        Some("r"),
                        "publish",
                        0,
                        each * (i as i64 + 1),
                    )
                })
                .collect()
        };
        let a = run(&[], retries(3, 10 * MS));
        let b = run(&[], retries(4, 10 * MS));
        let comparison = compare_runs(&a, &b);
        let publish = &comparison.rows[1];
        assert_eq!(publish.name(), "publish");
        let (a, b) = (publish.a.expect("a"), publish.b.expect("b"));
        assert_eq!((a.count, a.p50_ns, a.sum_ns), (3, 20 * MS, 60 * MS));
        assert_eq!((b.count, b.p50_ns, b.sum_ns), (4, 20 * MS, 100 * MS));
        assert_eq!(publish.change, Change::Same, "the median did not move");
    }

    #[test]
    fn test_only_differences_above_the_noise_count() {
        // 1 % of a 1 s run is 10 ms: +8 ms on 10 ms (1.8×) is noise, +50 ms on 100 ms is not.
        let a = run(&[("T1", 0, 10 * MS), ("T2", 0, 100 * MS)], vec![]);
        let b = run(
            &[("T1", 0, 18 * MS), ("T2", 0, 150 * MS)],
            vec![span("new", Some("r"), "upload", 0, MS)],
        );
        let comparison = compare_runs(&a, &b);
        assert_eq!(comparison.noise_ns, 10 * MS);
        let change = |name: &str| {
            comparison
                .rows
                .iter()
                .find(|r| r.name() == name)
                .map(|r| r.change)
        };
        assert_eq!(change("task/Tile  T1"), Some(Change::Same));
        assert_eq!(change("task/Tile  T2"), Some(Change::Slower));
        assert_eq!(change("upload"), Some(Change::Added));
        let faster = compare_runs(&b, &a);
        assert_eq!(
            faster
                .rows
                .iter()
                .find(|r| r.name() == "task/Tile  T2")
                .map(|r| r.change),
            Some(Change::Faster)
        );
        assert_eq!(
            faster
                .rows
                .iter()
                .find(|r| r.name() == "upload")
                .map(|r| r.change),
            Some(Change::Missing)
        );
        // Short runs: at least a millisecond.
        assert_eq!(noise_ns(5 * MS, 7 * MS), MIN_REGRESSION_NS);
    }
}
