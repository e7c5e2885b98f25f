//! The critical path: the chain of spans that decided when the trace ended.

use std::collections::{HashMap, HashSet};

use super::TaskOverlay;
use crate::model::{SpanOutline, SpanTree};

/// The spans that decided when the trace ended: from each root, the child that finished last,
/// then (walking back in time) whatever finished last before that one started — a task's
/// dependency (the queue wait after it) or an earlier sibling — recursively inside each.
pub fn critical_path(
    tree: &SpanTree,
    spans: &[SpanOutline],
    overlay: &TaskOverlay,
) -> HashSet<usize> {
    // A task attempt's predecessors by dependency: the dependencies' last attempts.
    let mut waited_for: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(dependency, dependent) in &overlay.edges {
        if let (Some(first), Some(&last)) = (
            overlay.attempts[dependent].first(),
            overlay.attempts[dependency].last(),
        ) {
            waited_for.entry(*first).or_default().push(last);
        }
    }
    // When each span's subtree ended: children may outlive their parent (a job's root span
    // ends at submission, its tasks run later).
    let mut reach: Vec<i64> = spans.iter().map(|s| s.end_ns).collect();
    let mut order: Vec<usize> = Vec::with_capacity(spans.len());
    let mut stack: Vec<usize> = tree.roots().to_vec();
    while let Some(index) = stack.pop() {
        order.push(index);
        stack.extend_from_slice(tree.children(index));
    }
    for &index in order.iter().rev() {
        let latest = tree.children(index).iter().map(|&k| reach[k]).max();
        if let Some(latest) = latest {
            reach[index] = reach[index].max(latest);
        }
    }
    let mut on_path = HashSet::new();
    // Explicit work list: deep traces must not exhaust the call stack.
    let mut work: Vec<(usize, i64)> = tree.roots().iter().map(|&r| (r, reach[r])).collect();
    while let Some((span, until)) = work.pop() {
        if !on_path.insert(span) {
            continue;
        }
        let mut cursor = reach[span].min(until);
        let kids = tree.children(span);
        loop {
            let last = kids
                .iter()
                .copied()
                .filter(|&k| {
                    !on_path.contains(&k) && reach[k] <= cursor && spans[k].start_ns < cursor
                })
                .max_by_key(|&k| reach[k]);
            let Some(child) = last else { break };
            work.push((child, cursor));
            cursor = spans[child].start_ns;
            // Before a task started, it may have been waiting for its dependencies.
            if let Some(dependency) = waited_for.get(&child).and_then(|deps| {
                deps.iter()
                    .copied()
                    .filter(|&d| spans[d].end_ns <= cursor)
                    .max_by_key(|&d| spans[d].end_ns)
            }) {
                work.push((dependency, cursor));
                cursor = spans[dependency].start_ns;
            }
        }
    }
    on_path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::{attempt, span, task};

    #[test]
    fn test_critical_path_follows_the_last_finisher_and_dependencies() {
        let mut root = span("job/x", "", 0, 100);
        root.span_id = "root".into();
        let spans = vec![
            root,
            attempt("a", "root", 0, 40),   // 1: the dependency of c
            attempt("b", "root", 0, 10),   // 2: short, off the path
            attempt("c", "root", 50, 120), // 3: finished last, after the root span
        ];
        let tasks = vec![task("a", &[]), task("b", &[]), task("c", &["a"])];
        let overlay = TaskOverlay::build(&spans, &tasks);
        let tree = SpanTree::build(&spans);
        let path = critical_path(&tree, &spans, &overlay);
        let mut path: Vec<usize> = path.into_iter().collect();
        path.sort_unstable();
        assert_eq!(path, vec![0, 1, 3]);
    }
}
