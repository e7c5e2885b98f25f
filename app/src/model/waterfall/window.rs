//! The span tree's row layout: which spans get rows (search and duration filters), fixed-height
//! rows, and the scrolled window of them that is rendered.

use std::collections::HashSet;

use crate::model::{SpanOutline, SpanTree};

/// Every row is this tall (px, as in style/waterfall.css): rows are placed and edges drawn
/// from row positions alone.
pub const ROW_PX: f64 = 28.0;
/// Rows rendered above and below the scrolled-to window.
pub const OVERSCAN: usize = 30;
/// Rows the server renders (and the browser starts with) of a trace bigger than
/// [`SERVER_ROWS`]: a screenful.
pub const FIRST_ROWS: usize = 60;
/// Traces up to this many visible rows are rendered whole on the server, for readers without
/// JavaScript; bigger ones get their first screenful (and a note).
pub const SERVER_ROWS: usize = 3000;

/// The offset of row `at` from the top of the rows box (px).
pub fn row_top(at: usize) -> f64 {
    at as f64 * ROW_PX
}

/// The height of `rows` rows (px).
pub fn rows_height(rows: usize) -> f64 {
    rows as f64 * ROW_PX
}

/// Whether every row is rendered: on the server and until the browser runs, for a trace of up
/// to [`SERVER_ROWS`] rows (readable without JavaScript).
pub fn renders_all(running: bool, rows: usize) -> bool {
    !running && rows <= SERVER_ROWS
}

/// The rows to render, `start..end` of `rows`: those in the scrolled-to window (`scroll_top`
/// and `viewport` in px) and [`OVERSCAN`] on either side, or all of them.
pub fn window_range(scroll_top: f64, viewport: f64, rows: usize, all: bool) -> (usize, usize) {
    let first = (scroll_top / ROW_PX) as usize;
    let shown = (viewport / ROW_PX).ceil() as usize;
    let start = first.saturating_sub(OVERSCAN).min(rows);
    let end = if all {
        rows
    } else {
        (first + shown + OVERSCAN).min(rows)
    };
    (start, end.max(start))
}

/// The scroll position that brings the row at `position` into a box scrolled to `scroll_top`
/// and `height` px tall, moving as little as possible; `None` when it is in view already.
pub fn reveal_scroll(position: usize, scroll_top: i32, height: i32) -> Option<i32> {
    let top = row_top(position) as i32;
    let row = ROW_PX as i32;
    if top < scroll_top {
        Some(top)
    } else if top + row > scroll_top + height {
        Some(top + row - height)
    } else {
        None
    }
}

/// Which spans get rows (a mask over `spans`; `None`: all): the search's matches with their
/// ancestors, and without the spans shorter than `min_ns` (roots always stay).
pub fn visible_mask(
    tree: &SpanTree,
    spans: &[SpanOutline],
    matching: Option<&[bool]>,
    min_ns: Option<i64>,
) -> Option<Vec<bool>> {
    let keep = matching.map(|m| tree.keep_with_ancestors(m));
    let Some(min) = min_ns else {
        return keep;
    };
    let mut mask = keep.unwrap_or_else(|| vec![true; spans.len()]);
    for (index, span) in spans.iter().enumerate() {
        mask[index] &= span.duration_ns() >= min;
    }
    for &root in tree.roots() {
        mask[root] = true;
    }
    Some(mask)
}

/// The ids of every span with children: what "Collapse all" collapses.
pub fn collapsible_ids(tree: &SpanTree, spans: &[SpanOutline]) -> HashSet<String> {
    tree.rows(spans, &HashSet::new())
        .iter()
        .filter(|row| row.child_count > 0)
        .map(|row| spans[row.index].span_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_outline;

    /// root (0..100) → a (0..50) → a1 (0..1); root → b (50..52)
    fn small_tree() -> (Vec<SpanOutline>, SpanTree) {
        let spans = vec![
            test_outline("root", None, "job/x", 0, 100),
            test_outline("a", Some("root"), "a", 0, 50),
            test_outline("a1", Some("a"), "a1", 0, 1),
            test_outline("b", Some("root"), "b", 50, 52),
        ];
        let tree = SpanTree::build(&spans);
        (spans, tree)
    }

    #[test]
    fn test_rows_are_placed_by_position() {
        assert_eq!(row_top(0), 0.0);
        assert_eq!(row_top(3), 84.0);
        assert_eq!(rows_height(10), 280.0);
    }

    #[test]
    fn test_small_traces_render_whole_until_the_browser_runs() {
        assert!(renders_all(false, SERVER_ROWS));
        assert!(!renders_all(false, SERVER_ROWS + 1));
        assert!(!renders_all(true, 10));
    }

    #[test]
    fn test_window_covers_the_viewport_and_overscan() {
        // Scrolled to row 100, ten rows tall: 70..140.
        assert_eq!(
            window_range(100.0 * ROW_PX, 10.0 * ROW_PX, 1_000, false),
            (70, 140)
        );
        // A partly shown row counts.
        assert_eq!(window_range(0.0, 10.5 * ROW_PX, 1_000, false), (0, 41));
        // Near the end: cut at the last row.
        assert_eq!(
            window_range(990.0 * ROW_PX, 10.0 * ROW_PX, 1_000, false),
            (960, 1_000)
        );
        // Rows removed under a scrolled box: nothing, not a backwards range.
        assert_eq!(
            window_range(990.0 * ROW_PX, 10.0 * ROW_PX, 5, false),
            (5, 5)
        );
        assert_eq!(
            window_range(500.0 * ROW_PX, 10.0 * ROW_PX, 1_000, true),
            (470, 1_000)
        );
        assert_eq!(window_range(0.0, 0.0, 1_000, true), (0, 1_000));
    }

    #[test]
    fn test_reveal_scrolls_only_as_far_as_needed() {
        let row = ROW_PX as i32;
        // In view: stay.
        assert_eq!(reveal_scroll(5, 0, 10 * row), None);
        // Above: its top at the box's top.
        assert_eq!(reveal_scroll(2, 5 * row, 10 * row), Some(2 * row));
        // Below: its bottom at the box's bottom.
        assert_eq!(reveal_scroll(20, 0, 10 * row), Some(11 * row));
    }

    #[test]
    fn test_visible_mask_combines_search_and_minimum_duration() {
        let (spans, tree) = small_tree();
        assert_eq!(visible_mask(&tree, &spans, None, None), None);
        // A match brings its ancestors.
        let hit = [false, false, true, false];
        assert_eq!(
            visible_mask(&tree, &spans, Some(&hit), None),
            Some(vec![true, true, true, false])
        );
        // Spans under 10 ns go; the root stays whatever its length.
        assert_eq!(
            visible_mask(&tree, &spans, None, Some(10)),
            Some(vec![true, true, false, false])
        );
        assert_eq!(
            visible_mask(&tree, &spans, None, Some(1_000)),
            Some(vec![true, false, false, false])
        );
        assert_eq!(
            visible_mask(&tree, &spans, Some(&hit), Some(10)),
            Some(vec![true, true, false, false])
        );
    }

    #[test]
    fn test_collapse_all_names_every_parent() {
        let (spans, tree) = small_tree();
        assert_eq!(
            collapsible_ids(&tree, &spans),
            HashSet::from(["root".to_owned(), "a".to_owned()])
        );
    }
}
