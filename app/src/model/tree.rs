//! SpanOutline tree order: parents before children, siblings by start time, orphans as extra roots.

mod fold;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::SpanOutline;

pub use fold::{FOLD_AT, FoldSummary};

/// One visible row of the span tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into the spans the tree was built from (a fold's first span).
    pub index: usize,
    pub depth: usize,
    pub child_count: usize,
    /// A folded run of siblings of one name, shown as one row: their indices, by start.
    pub fold: Option<Arc<Vec<usize>>>,
}

/// The spans of one trace arranged as a forest, computed once per trace.
#[derive(Debug, Clone, Default)]
pub struct SpanTree {
    roots: Vec<usize>,
    children: Vec<Vec<usize>>,
}

impl SpanTree {
    /// A span whose parent is absent from `spans` (not arrived yet, or outside the trace) is
    /// shown as a root so nothing received is hidden.
    pub fn build(spans: &[SpanOutline]) -> Self {
        let by_id: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(index, span)| (span.span_id.as_str(), index))
            .collect();
        let mut roots = Vec::new();
        let mut children = vec![Vec::new(); spans.len()];
        for (index, span) in spans.iter().enumerate() {
            let parent = span
                .parent_span_id
                .as_deref()
                .and_then(|parent| by_id.get(parent).copied())
                .filter(|&parent| parent != index);
            match parent {
                Some(parent) => children[parent].push(index),
                None => roots.push(index),
            }
        }
        // A task's attempts stay together, placed by the first one's start: a retry follows
        // the attempt that failed instead of whatever started in between.
        let mut first_attempt: HashMap<&str, i64> = HashMap::new();
        for span in spans.iter().filter(|s| s.name.starts_with("task/")) {
            if let Some(task) = span.task_id.as_deref() {
                let start = first_attempt.entry(task).or_insert(span.start_ns);
                *start = (*start).min(span.start_ns);
            }
        }
        // Each span's group start, looked up once: in the sort it was two hash lookups per
        // comparison (a fifth of a 5,000-span page render).
        let group: Vec<i64> = spans
            .iter()
            .map(|span| {
                span.task_id
                    .as_deref()
                    .filter(|_| span.name.starts_with("task/"))
                    .and_then(|task| first_attempt.get(task).copied())
                    .unwrap_or(span.start_ns)
            })
            .collect();
        let key = |index: usize| {
            let span = &spans[index];
            (
                group[index],
                span.task_id.as_deref(),
                span.start_ns,
                &span.name,
            )
        };
        let order = |list: &mut Vec<usize>| list.sort_by(|&a, &b| key(a).cmp(&key(b)));
        order(&mut roots);
        children.iter_mut().for_each(order);
        // Spans in a parent cycle have no root above them: the first unreachable one of each
        // cycle becomes a root so nothing received is hidden.
        let mut reached = vec![false; spans.len()];
        let mark = |start: usize, reached: &mut Vec<bool>| {
            let mut stack = vec![start];
            while let Some(index) = stack.pop() {
                if !std::mem::replace(&mut reached[index], true) {
                    stack.extend(&children[index]);
                }
            }
        };
        for &root in &roots {
            mark(root, &mut reached);
        }
        for index in 0..spans.len() {
            if !reached[index] {
                mark(index, &mut reached);
                roots.push(index);
            }
        }
        SpanTree { roots, children }
    }

    /// The time a span spent outside its children: its duration minus the union of its
    /// children's intervals (clipped to the span), as Jaeger's "self time".
    pub fn self_time_ns(&self, spans: &[SpanOutline], index: usize) -> i64 {
        let span = &spans[index];
        let mut intervals: Vec<(i64, i64)> = self.children[index]
            .iter()
            .map(|&kid| {
                let kid = &spans[kid];
                (kid.start_ns.max(span.start_ns), kid.end_ns.min(span.end_ns))
            })
            .filter(|(start, end)| end > start)
            .collect();
        intervals.sort_unstable();
        let mut covered = 0;
        let mut reach = i64::MIN;
        for (start, end) in intervals {
            let from = start.max(reach);
            if end > from {
                covered += end - from;
            }
            reach = reach.max(end);
        }
        (span.duration_ns() - covered).max(0)
    }

    /// Rows in depth-first order, skipping the descendants of collapsed spans (by span id).
    pub fn rows(&self, spans: &[SpanOutline], collapsed: &HashSet<String>) -> Vec<TreeRow> {
        self.rows_where(spans, collapsed, None)
    }

    /// The spans without a parent in the trace, in start order.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// The children of `index`, in start order.
    pub fn children(&self, index: usize) -> &[usize] {
        &self.children[index]
    }

    /// Which spans a filter keeps: the matching ones and their ancestors (the path that gives a
    /// match its context), as a mask over `spans`.
    pub fn keep_with_ancestors(&self, matching: &[bool]) -> Vec<bool> {
        let mut parent = vec![None; matching.len()];
        for (index, kids) in self.children.iter().enumerate() {
            for &kid in kids {
                parent[kid] = Some(index);
            }
        }
        let mut keep = vec![false; matching.len()];
        for (index, &hit) in matching.iter().enumerate() {
            let mut at = hit.then_some(index);
            // Stops at the first kept ancestor: its own ancestors are kept already.
            while let Some(current) = at {
                if std::mem::replace(&mut keep[current], true) {
                    break;
                }
                at = parent[current];
            }
        }
        keep
    }

    /// Like [`SpanTree::rows`], showing only spans with `keep[index]` when a mask is given.
    pub fn rows_where(
        &self,
        spans: &[SpanOutline],
        collapsed: &HashSet<String>,
        keep: Option<&[bool]>,
    ) -> Vec<TreeRow> {
        self.rows_folded(spans, collapsed, keep, None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_outline;

    fn span(id: &str, parent: Option<&str>, start: i64) -> SpanOutline {
        test_outline(id, parent, &format!("span-{id}"), start, start + 10)
    }

    #[test]
    fn test_attempts_of_a_task_stay_together() {
        let attempt = |id: &str, task: &str, start: i64| {
            let mut span =
                test_outline(id, Some("root"), &format!("task/{task}"), start, start + 3);
            span.task_id = Some(task.into());
            span
        };
        let spans = vec![
            test_outline("root", None, "job/x", 0, 100),
            attempt("a1", "a", 0),
            attempt("b1", "b", 5),
            attempt("a2", "a", 10),
            attempt("c1", "c", 7),
        ];
        let tree = SpanTree::build(&spans);
        let order: Vec<String> = ids(&spans, &tree.rows(&spans, &HashSet::new()))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(order, vec!["root", "a1", "a2", "b1", "c1"]);
    }

    fn ids(spans: &[SpanOutline], rows: &[TreeRow]) -> Vec<(String, usize)> {
        rows.iter()
            .map(|row| (spans[row.index].span_id.clone(), row.depth))
            .collect()
    }

    #[test]
    fn test_children_follow_parent_sorted_by_start() {
        let spans = vec![
            span("c2", Some("root"), 30),
            span("root", None, 0),
            span("c1", Some("root"), 10),
            span("g1", Some("c1"), 15),
        ];
        let tree = SpanTree::build(&spans);
        let rows = tree.rows(&spans, &HashSet::new());
        assert_eq!(
            ids(&spans, &rows),
            vec![
                ("root".into(), 0),
                ("c1".into(), 1),
                ("g1".into(), 2),
                ("c2".into(), 1)
            ]
        );
        assert_eq!(rows[0].child_count, 2);
    }

    #[test]
    fn test_orphan_is_shown_as_root() {
        let spans = vec![span("a", None, 5), span("b", Some("missing"), 1)];
        let rows = SpanTree::build(&spans).rows(&spans, &HashSet::new());
        assert_eq!(ids(&spans, &rows), vec![("b".into(), 0), ("a".into(), 0)]);
    }

    #[test]
    fn test_collapsed_span_hides_descendants_only() {
        let spans = vec![
            span("root", None, 0),
            span("c1", Some("root"), 10),
            span("g1", Some("c1"), 15),
            span("c2", Some("root"), 30),
        ];
        let collapsed = HashSet::from(["c1".to_owned()]);
        let rows = SpanTree::build(&spans).rows(&spans, &collapsed);
        assert_eq!(
            ids(&spans, &rows),
            vec![("root".into(), 0), ("c1".into(), 1), ("c2".into(), 1)]
        );
    }

    #[test]
    fn test_self_parent_does_not_loop() {
        let spans = vec![span("a", Some("a"), 0)];
        let rows = SpanTree::build(&spans).rows(&spans, &HashSet::new());
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn test_parent_cycle_is_still_shown() {
        let spans = vec![span("a", Some("b"), 0), span("b", Some("a"), 1)];
        let tree = SpanTree::build(&spans);
        assert_eq!(tree.rows(&spans, &HashSet::new()).len(), 2);
        let collapsed = HashSet::from(["a".to_owned()]);
        assert_eq!(tree.rows(&spans, &collapsed).len(), 1);
    }

    #[test]
    fn test_filter_keeps_matches_with_their_ancestors() {
        let spans = vec![
            span("root", None, 0),
            span("c1", Some("root"), 10),
            span("g1", Some("c1"), 15),
            span("c2", Some("root"), 30),
        ];
        let tree = SpanTree::build(&spans);
        let matching = [false, false, true, false];
        let keep = tree.keep_with_ancestors(&matching);
        assert_eq!(keep, [true, true, true, false]);
        let rows = tree.rows_where(&spans, &HashSet::new(), Some(&keep));
        assert_eq!(
            ids(&spans, &rows),
            vec![("root".into(), 0), ("c1".into(), 1), ("g1".into(), 2)]
        );
    }

    #[test]
    fn test_self_time_subtracts_overlapping_children_once() {
        let mut spans = vec![
            span("root", None, 0),
            span("a", Some("root"), 10),
            span("b", Some("root"), 15),
            span("late", Some("root"), 95),
        ];
        spans[0].end_ns = 100;
        spans[1].end_ns = 30; // 10..30
        spans[2].end_ns = 40; // 15..40 overlaps a: together 10..40
        spans[3].end_ns = 120; // clipped to 95..100
        let tree = SpanTree::build(&spans);
        assert_eq!(tree.self_time_ns(&spans, 0), 100 - 30 - 5);
        assert_eq!(
            tree.self_time_ns(&spans, 1),
            20,
            "a leaf's self time is its duration"
        );
    }

    #[test]
    fn test_deep_chain_does_not_overflow() {
        let mut spans = vec![span("0", None, 0)];
        for i in 1..50_000 {
            spans.push(span(&i.to_string(), Some(&(i - 1).to_string()), i));
        }
        let rows = SpanTree::build(&spans).rows(&spans, &HashSet::new());
        assert_eq!(rows.len(), 50_000);
        assert_eq!(rows[49_999].depth, 49_999);
    }
}
