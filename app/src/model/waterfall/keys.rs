//! The span tree's keyboard: what a key does given the shown rows and the selection.

use std::collections::HashSet;

use crate::model::{SpanOutline, TreeRow};

/// What a key press in the tree asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKey {
    /// Not the tree's key: leave the event alone.
    Ignore,
    /// Select this span (index), its row being the `at`-th shown: and scroll it into view.
    Select { index: usize, at: usize },
    /// The tree's key, with nothing to do here (at an end, or already expanded).
    Stay,
    /// Collapse or expand this span (index).
    Toggle(usize),
    /// Open the fold whose first span this is (index).
    Unfold(usize),
    /// Clear the selection.
    Clear,
}

/// ↑/↓ or j/k move (from nothing: to the first or last row), → expands a collapsed span or
/// opens a fold, ← collapses an expanded span or else goes to the parent, Esc clears the
/// selection.
pub fn tree_key(
    key: &str,
    rows: &[TreeRow],
    spans: &[SpanOutline],
    collapsed: &HashSet<String>,
    selected: Option<usize>,
) -> TreeKey {
    let position = selected.and_then(|index| rows.iter().position(|row| row.index == index));
    let target = match (key, position) {
        ("ArrowDown" | "j", None) => rows.first().map(|row| row.index),
        ("ArrowDown" | "j", Some(at)) => rows.get(at + 1).map(|row| row.index),
        ("ArrowUp" | "k", None) => rows.last().map(|row| row.index),
        ("ArrowUp" | "k", Some(at)) => at
            .checked_sub(1)
            .and_then(|before| rows.get(before))
            .map(|row| row.index),
        ("ArrowRight", Some(at)) if rows[at].fold.is_some() => {
            return TreeKey::Unfold(rows[at].index);
        }
        ("ArrowRight", Some(at)) => {
            let index = rows[at].index;
            if collapsed.contains(&spans[index].span_id) {
                return TreeKey::Toggle(index);
            }
            None
        }
        ("ArrowLeft", Some(at)) => {
            let row = &rows[at];
            if row.child_count > 0 && !collapsed.contains(&spans[row.index].span_id) {
                return TreeKey::Toggle(row.index);
            }
            // The parent: the nearest row above that is one level shallower.
            rows[..at]
                .iter()
                .rev()
                .find(|above| above.depth + 1 == row.depth)
                .map(|above| above.index)
        }
        ("Escape", Some(_)) => return TreeKey::Clear,
        _ => return TreeKey::Ignore,
    };
    let found = target.and_then(|index| Some((index, rows.iter().position(|r| r.index == index)?)));
    match found {
        Some((index, at)) => TreeKey::Select { index, at },
        None => TreeKey::Stay,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::test_outline;

    /// root → a → a1; root → fold of b1, b2
    fn tree() -> (Vec<SpanOutline>, Vec<TreeRow>) {
        let spans = vec![
            test_outline("root", None, "job/x", 0, 100),
            test_outline("a", Some("root"), "a", 0, 50),
            test_outline("a1", Some("a"), "a1", 0, 1),
            test_outline("b1", Some("root"), "b", 50, 52),
            test_outline("b2", Some("root"), "b", 52, 54),
        ];
        let row = |index, depth, child_count| TreeRow {
            index,
            depth,
            child_count,
            fold: None,
        };
        let rows = vec![
            row(0, 0, 3),
            row(1, 1, 1),
            row(2, 2, 0),
            TreeRow {
                fold: Some(Arc::new(vec![3, 4])),
                ..row(3, 1, 0)
            },
        ];
        (spans, rows)
    }

    #[test]
    fn test_arrows_move_through_the_shown_rows() {
        let (spans, rows) = tree();
        let none = HashSet::new();
        let key = |k: &str, selected| tree_key(k, &rows, &spans, &none, selected);
        assert_eq!(key("ArrowDown", None), TreeKey::Select { index: 0, at: 0 });
        assert_eq!(key("k", None), TreeKey::Select { index: 3, at: 3 });
        assert_eq!(key("j", Some(1)), TreeKey::Select { index: 2, at: 2 });
        assert_eq!(key("ArrowUp", Some(1)), TreeKey::Select { index: 0, at: 0 });
        // At the ends: nowhere to go, but still the tree's key.
        assert_eq!(key("ArrowUp", Some(0)), TreeKey::Stay);
        assert_eq!(key("ArrowDown", Some(3)), TreeKey::Stay);
        // A selection that is not shown moves like none.
        assert_eq!(
            key("ArrowDown", Some(4)),
            TreeKey::Select { index: 0, at: 0 }
        );
    }

    #[test]
    fn test_left_collapses_then_goes_to_the_parent() {
        let (spans, rows) = tree();
        let none = HashSet::new();
        let collapsed = HashSet::from(["a".to_owned()]);
        let root_collapsed = HashSet::from(["root".to_owned()]);
        let key = |set: &HashSet<String>, selected| {
            tree_key("ArrowLeft", &rows, &spans, set, Some(selected))
        };
        assert_eq!(key(&none, 1), TreeKey::Toggle(1));
        assert_eq!(key(&collapsed, 1), TreeKey::Select { index: 0, at: 0 });
        // A leaf goes to its parent; a collapsed root has none.
        assert_eq!(key(&none, 2), TreeKey::Select { index: 1, at: 1 });
        assert_eq!(key(&collapsed, 0), TreeKey::Toggle(0));
        assert_eq!(key(&root_collapsed, 0), TreeKey::Stay);
    }

    #[test]
    fn test_right_expands_collapsed_spans_and_opens_folds() {
        let (spans, rows) = tree();
        let none = HashSet::new();
        let collapsed = HashSet::from(["a".to_owned()]);
        let key = |set: &HashSet<String>, selected| {
            tree_key("ArrowRight", &rows, &spans, set, Some(selected))
        };
        assert_eq!(key(&collapsed, 1), TreeKey::Toggle(1));
        assert_eq!(key(&none, 1), TreeKey::Stay);
        assert_eq!(key(&none, 3), TreeKey::Unfold(3));
    }

    #[test]
    fn test_escape_and_other_keys() {
        let (spans, rows) = tree();
        let none = HashSet::new();
        let key = |k: &str, selected| tree_key(k, &rows, &spans, &none, selected);
        assert_eq!(key("Escape", Some(2)), TreeKey::Clear);
        // Without a selection, Esc and ←/→ are not the tree's.
        assert_eq!(key("Escape", None), TreeKey::Ignore);
        assert_eq!(key("ArrowLeft", None), TreeKey::Ignore);
        assert_eq!(key("a", Some(2)), TreeKey::Ignore);
    }
}
