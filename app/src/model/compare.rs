//! Two runs of a job side by side: spans matched by where they sit in the tree (the names on the
//! path from the root, and which occurrence among same-named siblings), durations compared.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Job, SpanOutline, SpanTree, StatusCode};

/// A run slower than this factor (and by at least [`MIN_REGRESSION_NS`]) is a regression.
pub const REGRESSION_FACTOR: f64 = 1.2;
pub const MIN_REGRESSION_NS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub duration_ns: i64,
    pub status: StatusCode,
}

/// Two runs side by side (`/compare?a=…&b=…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobComparison {
    pub a: Job,
    pub b: Job,
    pub rows: Vec<CompareRow>,
}

/// One matched position in the two runs' trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareRow {
    /// SpanOutline names from the root, `job/…` first; the last one is this span's.
    pub path: Vec<String>,
    /// Which same-named sibling this is (0-based), e.g. the second `task/ProcessTile` attempt.
    pub occurrence: usize,
    pub a: Option<Side>,
    pub b: Option<Side>,
}

impl CompareRow {
    pub fn depth(&self) -> usize {
        self.path.len().saturating_sub(1)
    }

    pub fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    /// B took markedly longer than A.
    pub fn is_regression(&self) -> bool {
        match (self.a, self.b) {
            (Some(a), Some(b)) => {
                b.duration_ns - a.duration_ns >= MIN_REGRESSION_NS
                    && b.duration_ns as f64 >= a.duration_ns as f64 * REGRESSION_FACTOR
            }
            _ => false,
        }
    }

    /// B took markedly less time than A.
    pub fn is_improvement(&self) -> bool {
        match (self.a, self.b) {
            (Some(a), Some(b)) => {
                a.duration_ns - b.duration_ns >= MIN_REGRESSION_NS
                    && a.duration_ns as f64 >= b.duration_ns as f64 * REGRESSION_FACTOR
            }
            _ => false,
        }
    }
}

/// (path, occurrence) of every span, in tree order.
fn positions(spans: &[SpanOutline]) -> Vec<((Vec<String>, usize), usize)> {
    let tree = SpanTree::build(spans);
    let rows = tree.rows(spans, &Default::default());
    let mut path: Vec<String> = Vec::new();
    let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        path.truncate(row.depth);
        path.push(spans[row.index].name.clone());
        let count = seen.entry(path.clone()).or_insert(0);
        out.push(((path.clone(), *count), row.index));
        *count += 1;
    }
    out
}

/// Rows in A's tree order, then spans only B has in B's order.
pub fn compare_runs(a: &[SpanOutline], b: &[SpanOutline]) -> Vec<CompareRow> {
    let side = |span: &SpanOutline| Side {
        duration_ns: span.duration_ns(),
        status: span.status_code,
    };
    let b_positions = positions(b);
    let mut b_by_key: HashMap<(Vec<String>, usize), usize> = b_positions.iter().cloned().collect();
    let mut rows = Vec::new();
    for ((path, occurrence), index) in positions(a) {
        let matched = b_by_key.remove(&(path.clone(), occurrence));
        rows.push(CompareRow {
            path,
            occurrence,
            a: Some(side(&a[index])),
            b: matched.map(|i| side(&b[i])),
        });
    }
    for (key, index) in b_positions {
        if b_by_key.contains_key(&key) {
            rows.push(CompareRow {
                path: key.0,
                occurrence: key.1,
                a: None,
                b: Some(side(&b[index])),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_outline;

    fn span(id: &str, parent: Option<&str>, name: &str, start: i64, duration: i64) -> SpanOutline {
        let mut span = test_outline(id, parent, name, start, start + duration);
        span.status_code = StatusCode::Ok;
        span
    }

    const MS: i64 = 1_000_000;

    #[test]
    fn test_runs_match_by_path_and_occurrence() {
        let a = vec![
            span("r", None, "job/tiles", 0, 100 * MS),
            span("t1", Some("r"), "task/Tile", 10 * MS, 20 * MS),
            span("t2", Some("r"), "task/Tile", 40 * MS, 20 * MS),
            span("old", Some("r"), "task/Cleanup", 70 * MS, 5 * MS),
        ];
        let b = vec![
            span("R", None, "job/tiles", 0, 150 * MS),
            span("T1", Some("R"), "task/Tile", 10 * MS, 21 * MS),
            span("T2", Some("R"), "task/Tile", 40 * MS, 60 * MS),
            span("new", Some("R"), "task/Publish", 110 * MS, 5 * MS),
        ];
        let rows = compare_runs(&a, &b);
        let summary: Vec<(String, usize, bool, bool, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.name().to_owned(),
                    r.occurrence,
                    r.a.is_some(),
                    r.b.is_some(),
                    r.is_regression(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("job/tiles".into(), 0, true, true, true),
                ("task/Tile".into(), 0, true, true, false),
                ("task/Tile".into(), 1, true, true, true),
                ("task/Cleanup".into(), 0, true, false, false),
                ("task/Publish".into(), 0, false, true, false),
            ]
        );
        assert_eq!(rows[1].depth(), 1);
    }

    #[test]
    fn test_small_absolute_changes_are_not_regressions() {
        let row = CompareRow {
            path: vec!["x".into()],
            occurrence: 0,
            a: Some(Side {
                duration_ns: 100,
                status: StatusCode::Ok,
            }),
            b: Some(Side {
                duration_ns: 500,
                status: StatusCode::Ok,
            }),
        };
        assert!(!row.is_regression(), "5× slower but under a millisecond");
    }
}
