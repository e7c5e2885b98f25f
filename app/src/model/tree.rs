//! SpanOutline tree order: parents before children, siblings by start time, orphans as extra roots.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{SpanOutline, StatusCode};

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

/// Siblings of one name that follow each other fold into one row once there are this many.
pub const FOLD_AT: usize = 5;

/// What a folded row says about its spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldSummary {
    pub count: usize,
    /// The median duration (the lower middle of an even count).
    pub p50_ns: i64,
    pub failed: usize,
    pub start_ns: i64,
    pub end_ns: i64,
}

impl FoldSummary {
    pub fn of(spans: &[SpanOutline], members: &[usize]) -> Self {
        let mut durations: Vec<i64> = members.iter().map(|&i| spans[i].duration_ns()).collect();
        durations.sort_unstable();
        FoldSummary {
            count: members.len(),
            p50_ns: durations
                .get(durations.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(0),
            failed: members
                .iter()
                .filter(|&&i| spans[i].status_code == StatusCode::Error)
                .count(),
            start_ns: members
                .iter()
                .map(|&i| spans[i].start_ns)
                .min()
                .unwrap_or(0),
            end_ns: members.iter().map(|&i| spans[i].end_ns).max().unwrap_or(0),
        }
    }
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
        let key = |index: usize| {
            let span = &spans[index];
            let group = span
                .task_id
                .as_deref()
                .filter(|_| span.name.starts_with("task/"))
                .and_then(|task| first_attempt.get(task).copied())
                .unwrap_or(span.start_ns);
            (group, span.task_id.as_deref(), span.start_ns, &span.name)
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

    /// Like [`SpanTree::rows_where`]; with `folding`, runs of at least [`FOLD_AT`] shown
    /// siblings of one name become one row each, unless the run's first span id is in the set
    /// (unfolded by the reader) or the run holds `open_with` (the selected span stays a row).
    pub fn rows_folded(
        &self,
        spans: &[SpanOutline],
        collapsed: &HashSet<String>,
        keep: Option<&[bool]>,
        folding: Option<&HashSet<String>>,
        open_with: Option<usize>,
    ) -> Vec<TreeRow> {
        enum Entry {
            Span(usize),
            Fold(Vec<usize>),
        }
        let shown = |index: usize| keep.is_none_or(|k| k[index]);
        // The children of a row as stack entries, runs folded, last first (the stack pops).
        let entries = |kids: &[usize]| -> Vec<Entry> {
            let mut out: Vec<Entry> = Vec::new();
            let Some(unfolded) = folding else {
                return kids.iter().rev().map(|&kid| Entry::Span(kid)).collect();
            };
            let kids: Vec<usize> = kids.iter().copied().filter(|&kid| shown(kid)).collect();
            let mut at = 0;
            while at < kids.len() {
                let name = &spans[kids[at]].name;
                let run = kids[at..]
                    .iter()
                    .take_while(|&&kid| spans[kid].name == *name)
                    .count();
                let members = &kids[at..at + run];
                let open = unfolded.contains(&spans[members[0]].span_id)
                    || open_with.is_some_and(|index| members.contains(&index));
                if run >= FOLD_AT && !open {
                    out.push(Entry::Fold(members.to_vec()));
                } else {
                    out.extend(members.iter().map(|&kid| Entry::Span(kid)));
                }
                at += run;
            }
            out.reverse();
            out
        };
        let mut rows = Vec::with_capacity(spans.len());
        // Explicit stack: traces can nest deeper than the call stack allows.
        let mut stack: Vec<(Entry, usize)> = self
            .roots
            .iter()
            .rev()
            .map(|&r| (Entry::Span(r), 0))
            .collect();
        let mut seen = vec![false; spans.len()];
        while let Some((entry, depth)) = stack.pop() {
            let index = match entry {
                Entry::Fold(members) => {
                    for &member in &members {
                        seen[member] = true;
                    }
                    rows.push(TreeRow {
                        index: members[0],
                        depth,
                        child_count: 0,
                        fold: Some(Arc::new(members)),
                    });
                    continue;
                }
                Entry::Span(index) => index,
            };
            if std::mem::replace(&mut seen[index], true) || !shown(index) {
                continue;
            }
            let kids = &self.children[index];
            rows.push(TreeRow {
                index,
                depth,
                child_count: kids.len(),
                fold: None,
            });
            if !collapsed.contains(&spans[index].span_id) {
                stack.extend(entries(kids).into_iter().map(|entry| (entry, depth + 1)));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StatusCode, test_outline};

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

    #[test]
    fn test_runs_of_one_name_fold_unless_unfolded() {
        let mut spans = vec![test_outline("root", None, "job/tiles", 0, 1000)];
        for n in 0..6 {
            let mut tile = test_outline(
                &format!("t{n}"),
                Some("root"),
                "ProcessTile",
                n * 10,
                n * 10 + 5 + n,
            );
            if n == 2 {
                tile.status_code = StatusCode::Error;
            }
            spans.push(tile);
        }
        spans.push(test_outline("merge", Some("root"), "Merge", 100, 110));
        // Fewer than FOLD_AT of one name never fold.
        for n in 0..2 {
            spans.push(test_outline(
                &format!("u{n}"),
                Some("root"),
                "Upload",
                200 + n,
                205 + n,
            ));
        }
        let tree = SpanTree::build(&spans);
        let none = HashSet::new();
        let rows = tree.rows_folded(&spans, &none, None, Some(&none), None);
        let shape: Vec<(String, usize)> = rows
            .iter()
            .map(|r| {
                (
                    spans[r.index].span_id.clone(),
                    r.fold.as_ref().map_or(1, |f| f.len()),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("root".to_owned(), 1),
                ("t0".to_owned(), 6),
                ("merge".to_owned(), 1),
                ("u0".to_owned(), 1),
                ("u1".to_owned(), 1)
            ]
        );
        let fold = rows[1].fold.as_ref().expect("row 1 folds the repeats");
        let summary = FoldSummary::of(&spans, fold);
        // Durations 5..=10 ns: the lower middle is 7.
        assert_eq!((summary.count, summary.p50_ns, summary.failed), (6, 7, 1));
        assert_eq!((summary.start_ns, summary.end_ns), (0, 60));
        // Unfolded by its first span: every tile is a row again.
        let unfolded: HashSet<String> = ["t0".to_owned()].into();
        assert_eq!(
            tree.rows_folded(&spans, &none, None, Some(&unfolded), None)
                .len(),
            10
        );
        // The selected span (t3, index 4) is never hidden inside a fold.
        assert_eq!(
            tree.rows_folded(&spans, &none, None, Some(&none), Some(4))
                .len(),
            10
        );
        // Without folding, as before.
        assert_eq!(tree.rows(&spans, &none).len(), 10);
        // A filter that hides some tiles folds only what is shown.
        let mut keep = vec![true; spans.len()];
        keep[3] = false;
        keep[4] = false;
        let rows = tree.rows_folded(&spans, &none, Some(&keep), Some(&none), None);
        assert_eq!(rows.len(), 8, "four tiles are under FOLD_AT: no fold");
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
