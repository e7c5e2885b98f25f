//! Dependency edges between task rows: where each attempt's row is, and the curve from the end
//! of a dependency's last attempt to the start of its dependent's first.

use std::collections::HashMap;

use super::window::{ROW_PX, row_top};
use super::{Scale, TaskOverlay};
use crate::model::{SpanOutline, TreeRow};

/// The edges' SVG box is this wide (its height is the rows'); times map onto it.
pub const EDGE_BOX_WIDTH: f64 = 1000.0;

/// One edge to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgePath {
    /// The SVG path.
    pub d: String,
    /// The dependency's last attempt span (index).
    pub from: usize,
    /// The dependent's first attempt span (index).
    pub to: usize,
    /// Whether it ends at the selected span's task.
    pub selected: bool,
}

/// Where each task attempt span's row is among `rows` (a folded row stands for each of its
/// spans); spans of no task are left out.
pub fn attempt_rows(overlay: &TaskOverlay, rows: &[TreeRow]) -> HashMap<usize, usize> {
    rows.iter()
        .enumerate()
        .flat_map(|(at, row)| {
            let members: Vec<usize> = match &row.fold {
                Some(members) => members.to_vec(),
                None => vec![row.index],
            };
            members.into_iter().map(move |index| (index, at))
        })
        .filter(|(index, _)| overlay.attempt_of.contains_key(index))
        .collect()
}

/// A curve from `(x1, y1)` leaving horizontally to `(x2, y2)` arriving horizontally, bending at
/// least 12 units out.
pub fn edge_curve(x1: f64, y1: f64, x2: f64, y2: f64) -> String {
    let bend = ((x2 - x1).abs() / 2.0).max(12.0);
    format!(
        "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
        x1 + bend,
        x2 - bend
    )
}

/// The edges between shown rows with an end in the rendered rows `low..=high` (or crossing
/// them), in the time window `scale`; those of the `selected` span's task marked.
pub fn edge_paths(
    overlay: &TaskOverlay,
    spans: &[SpanOutline],
    rows_at: &HashMap<usize, usize>,
    (low, high): (usize, usize),
    scale: Scale,
    selected: Option<usize>,
) -> Vec<EdgePath> {
    let x = |t: i64| scale.pct(t) * (EDGE_BOX_WIDTH / 100.0);
    let y = |at: usize| row_top(at) + ROW_PX / 2.0;
    let chosen = selected.and_then(|s| overlay.attempt_of.get(&s).map(|a| a.0));
    overlay
        .edges
        .iter()
        .filter_map(|&(dependency, dependent)| {
            let from = *overlay.attempts[dependency].last()?;
            let to = *overlay.attempts[dependent].first()?;
            let (a, b) = (*rows_at.get(&from)?, *rows_at.get(&to)?);
            if a.max(b) < low || a.min(b) > high {
                return None;
            }
            let d = edge_curve(x(spans[from].end_ns), y(a), x(spans[to].start_ns), y(b));
            Some(EdgePath {
                d,
                from,
                to,
                selected: chosen == Some(dependency) || chosen == Some(dependent),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::waterfall::fixtures::{attempt, span, task};

    /// a (0..100) → b (200..300) → c (400..500), each a task; c ran twice.
    fn chain() -> (Vec<SpanOutline>, TaskOverlay) {
        let mut root = span("job/x", "", 0, 1_000);
        root.span_id = "root".into();
        let spans = vec![
            root,
            attempt("a", "root", 0, 100),
            attempt("b", "root", 200, 300),
            attempt("c", "root", 400, 500),
            attempt("c", "root", 600, 700),
        ];
        let tasks = vec![task("a", &[]), task("b", &["a"]), task("c", &["b"])];
        let overlay = TaskOverlay::build(&spans, &tasks);
        (spans, overlay)
    }

    fn row(index: usize) -> TreeRow {
        TreeRow {
            index,
            depth: 1,
            child_count: 0,
            fold: None,
        }
    }

    #[test]
    fn test_attempt_rows_place_folded_members_on_their_row() {
        let (_, overlay) = chain();
        let rows = vec![
            row(0),
            row(1),
            TreeRow {
                fold: Some(Arc::new(vec![2, 3])),
                ..row(2)
            },
            row(4),
        ];
        let at = attempt_rows(&overlay, &rows);
        assert_eq!(at, HashMap::from([(1, 1), (2, 2), (3, 2), (4, 3)]));
        assert!(!at.contains_key(&0), "the root is no task");
    }

    #[test]
    fn test_edge_curve_bends_between_its_ends() {
        assert_eq!(
            edge_curve(100.0, 14.0, 300.0, 42.0),
            "M100.0,14.0 C200.0,14.0 200.0,42.0 300.0,42.0"
        );
        // Ends close together (or backwards) still bend 12 out.
        assert_eq!(
            edge_curve(100.0, 14.0, 104.0, 42.0),
            "M100.0,14.0 C112.0,14.0 92.0,42.0 104.0,42.0"
        );
    }

    #[test]
    fn test_edges_join_last_and_first_attempts_in_the_window() {
        let (spans, overlay) = chain();
        let rows: Vec<TreeRow> = (0..5).map(row).collect();
        let at = attempt_rows(&overlay, &rows);
        let scale = Scale::of(0, None, 1_000);
        let paths = edge_paths(&overlay, &spans, &at, (0, 4), scale, Some(3));
        let ends: Vec<(usize, usize, bool)> =
            paths.iter().map(|p| (p.from, p.to, p.selected)).collect();
        // b → c starts at c's first attempt; the selected span's task is c.
        assert_eq!(ends, vec![(1, 2, false), (2, 3, true)]);
        // From a's end (100 ns of 1000: x 100) on row 1 to b's start (x 200) on row 2.
        assert_eq!(paths[0].d, edge_curve(100.0, 42.0, 200.0, 70.0));
        // Only edges touching the rendered rows.
        let late = edge_paths(&overlay, &spans, &at, (3, 4), scale, None);
        assert_eq!(late.len(), 1);
        assert_eq!((late[0].from, late[0].to), (2, 3));
        // An edge whose end has no row (filtered away) is not drawn.
        let mut hidden = at;
        hidden.remove(&2);
        assert!(edge_paths(&overlay, &spans, &hidden, (0, 4), scale, None).is_empty());
    }
}
