//! Folding: same-named sibling spans shown as one row, and what such a row summarises.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{SpanTree, TreeRow};
use crate::model::{SpanOutline, StatusCode};

/// Siblings of one name fold into one row once there are this many (wherever they are among
/// their siblings: a fan-out's tasks interleave with their retries and other tasks).
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
    /// When each failed member ran (start, end): drawn on the folded bar where they were.
    pub failures: Vec<(i64, i64)>,
}

impl FoldSummary {
    pub fn of(spans: &[SpanOutline], members: &[usize]) -> Self {
        let mut durations: Vec<i64> = members.iter().map(|&i| spans[i].duration_ns()).collect();
        durations.sort_unstable();
        let failures: Vec<(i64, i64)> = members
            .iter()
            .filter(|&&i| spans[i].status_code == StatusCode::Error)
            .map(|&i| (spans[i].start_ns, spans[i].end_ns))
            .collect();
        FoldSummary {
            count: members.len(),
            p50_ns: durations
                .get(durations.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(0),
            failed: failures.len(),
            start_ns: members
                .iter()
                .map(|&i| spans[i].start_ns)
                .min()
                .unwrap_or(0),
            end_ns: members.iter().map(|&i| spans[i].end_ns).max().unwrap_or(0),
            failures,
        }
    }
}

impl SpanTree {
    /// Like [`SpanTree::rows_where`]; with `folding`, at least [`FOLD_AT`] shown siblings of one
    /// name become one row, where the first of them is, unless that first span's id is in the set
    /// (unfolded by the reader) or the group holds `open_with` (the selected span stays a row).
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
            let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
            for &kid in &kids {
                groups
                    .entry(spans[kid].name.as_str())
                    .or_default()
                    .push(kid);
            }
            let folds = |members: &[usize]| {
                members.len() >= FOLD_AT
                    && !unfolded.contains(&spans[members[0]].span_id)
                    && !open_with.is_some_and(|index| members.contains(&index))
            };
            for &kid in &kids {
                let members = &groups[spans[kid].name.as_str()];
                if !folds(members) {
                    out.push(Entry::Span(kid));
                } else if members[0] == kid {
                    out.push(Entry::Fold(members.clone()));
                }
            }
            out.reverse();
            out
        };
        let mut rows = Vec::with_capacity(spans.len());
        // Explicit stack: traces can nest deeper than the call stack allows.
        let mut stack: Vec<(Entry, usize)> = self
            .roots()
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
            let kids = self.children(index);
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
    use crate::model::test_outline;

    /// Each row's first span id and how many spans it stands for.
    fn shape(spans: &[SpanOutline], rows: &[TreeRow]) -> Vec<(String, usize)> {
        rows.iter()
            .map(|r| {
                (
                    spans[r.index].span_id.clone(),
                    r.fold.as_ref().map_or(1, |f| f.len()),
                )
            })
            .collect()
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
        let shape = shape(&spans, &rows);
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
        assert_eq!(
            summary.failures,
            vec![(20, 27)],
            "the failed tile, where it ran"
        );
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

    #[test]
    fn test_interleaved_siblings_of_one_name_fold_where_the_first_is() {
        // A fan-out as runners finish it: tiles, retries and uploads interleaved.
        let mut spans = vec![test_outline("root", None, "job/tiles", 0, 1000)];
        for n in 0..12 {
            let name = if n % 2 == 0 { "ProcessTile" } else { "Upload" };
            let (start, id) = (n * 10, format!("s{n}"));
            spans.push(test_outline(&id, Some("root"), name, start, start + 5));
        }
        spans.push(test_outline("merge", Some("root"), "Merge", 200, 210));
        let tree = SpanTree::build(&spans);
        let none = HashSet::new();
        let rows = tree.rows_folded(&spans, &none, None, Some(&none), None);
        let shape = shape(&spans, &rows);
        assert_eq!(
            shape,
            vec![
                ("root".to_owned(), 1),
                ("s0".to_owned(), 6),
                ("s1".to_owned(), 6),
                ("merge".to_owned(), 1)
            ]
        );
    }
}
