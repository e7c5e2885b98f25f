//! Span tree order: parents before children, siblings by start time, orphans as extra roots.

use std::collections::{HashMap, HashSet};

use super::Span;

/// One visible row of the span tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into the spans the tree was built from.
    pub index: usize,
    pub depth: usize,
    pub child_count: usize,
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
    pub fn build(spans: &[Span]) -> Self {
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
        let order = |list: &mut Vec<usize>| {
            list.sort_by(|&a, &b| {
                (spans[a].start_ns, &spans[a].name).cmp(&(spans[b].start_ns, &spans[b].name))
            });
        };
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

    /// Rows in depth-first order, skipping the descendants of collapsed spans (by span id).
    pub fn rows(&self, spans: &[Span], collapsed: &HashSet<String>) -> Vec<TreeRow> {
        let mut rows = Vec::with_capacity(spans.len());
        // Explicit stack: traces can nest deeper than the call stack allows.
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        let mut seen = vec![false; spans.len()];
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[index], true) {
                continue;
            }
            let kids = &self.children[index];
            rows.push(TreeRow {
                index,
                depth,
                child_count: kids.len(),
            });
            if !collapsed.contains(&spans[index].span_id) {
                stack.extend(kids.iter().rev().map(|&kid| (kid, depth + 1)));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attributes, StatusCode};

    fn span(id: &str, parent: Option<&str>, start: i64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: format!("span-{id}"),
            kind: 0,
            start_ns: start,
            end_ns: start + 10,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Attributes::new(),
            events: Vec::new(),
            resource: Attributes::new(),
            scope_name: String::new(),
            scope_version: String::new(),
        }
    }

    fn ids(spans: &[Span], rows: &[TreeRow]) -> Vec<(String, usize)> {
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
