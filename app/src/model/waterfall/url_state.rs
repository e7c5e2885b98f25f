//! The trace view's state in the URL: each parameter's text form, read and written.
//!
//! `span` (selected span id), `q` (search), `collapsed` and `unfold` (span ids, `.`-separated;
//! `collapsed=all` is every span with children, but those in `open`),
//! `fold`, `critical` and `logsub` (`1` or absent), `view` (`lanes`, `graph` or absent), `dir`
//! (the graph's direction: `right` or absent), `zoom` (see [`super::parse_zoom`]), `min` (ns),
//! `logs` (severity floor), `logq` (log search).

use std::collections::HashSet;

/// The value of a parameter that is on.
const ON: &str = "1";

/// A `.`-separated list of span ids as a set (none when absent).
pub fn parse_id_set(list: Option<&str>) -> HashSet<String> {
    list.map(|list| list.split('.').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A set of span ids as the URL writes it: sorted, so one set is one URL.
pub fn id_set_param(set: HashSet<String>) -> String {
    let mut ids: Vec<String> = set.into_iter().collect();
    ids.sort();
    ids.join(".")
}

/// The set with `id` removed if it held it, else added.
pub fn toggled(mut set: HashSet<String>, id: String) -> HashSet<String> {
    if !set.remove(&id) {
        set.insert(id);
    }
    set
}

/// `collapsed`'s value for "every span with children": Collapse all on a 6,000-span trace
/// wrote every id into the URL (over 100 KB, refused by servers as 414 URI Too Long).
pub const ALL_COLLAPSED: &str = "all";

/// The collapsed span ids `collapsed` and `open` name: the listed ids, or with
/// `collapsed=all` every collapsible span (`all()`) but those in `open`.
pub fn collapsed_ids(
    collapsed: Option<&str>,
    open: Option<&str>,
    all: impl FnOnce() -> HashSet<String>,
) -> HashSet<String> {
    if collapsed == Some(ALL_COLLAPSED) {
        let open = parse_id_set(open);
        let mut ids = all();
        ids.retain(|id| !open.contains(id));
        ids
    } else {
        parse_id_set(collapsed)
    }
}

/// What toggling `id` writes: under `collapsed=all` the `open` list changes, else the
/// `collapsed` list. Returns the parameter and its new value.
pub fn toggle_param(
    collapsed: Option<&str>,
    open: Option<&str>,
    id: String,
) -> (&'static str, String) {
    if collapsed == Some(ALL_COLLAPSED) {
        ("open", id_set_param(toggled(parse_id_set(open), id)))
    } else {
        (
            "collapsed",
            id_set_param(toggled(parse_id_set(collapsed), id)),
        )
    }
}

/// Whether an on/off parameter is on.
pub fn is_on(value: Option<&str>) -> bool {
    value == Some(ON)
}

/// An on/off parameter's value: absent when off.
pub fn on_param(on: bool) -> Option<String> {
    on.then(|| ON.to_owned())
}

/// What the Trace tab draws (`view`): the waterfall, the runner lanes or the task graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TraceLayout {
    #[default]
    Waterfall,
    Lanes,
    Graph,
}

impl TraceLayout {
    /// `view`'s value; absent or unknown is the waterfall.
    pub fn parse(view: Option<&str>) -> Self {
        match view {
            Some("lanes") => TraceLayout::Lanes,
            Some("graph") => TraceLayout::Graph,
            _ => TraceLayout::Waterfall,
        }
    }

    /// The `view` parameter: absent for the waterfall.
    pub fn param(self) -> Option<String> {
        match self {
            TraceLayout::Waterfall => None,
            TraceLayout::Lanes => Some("lanes".to_owned()),
            TraceLayout::Graph => Some("graph".to_owned()),
        }
    }
}

/// `dir`: the graph's direction, `right` (left to right) or absent (top to bottom).
pub fn graph_direction(dir: Option<&str>) -> crate::model::graph::Direction {
    match dir {
        Some("right") => crate::model::graph::Direction::Right,
        _ => crate::model::graph::Direction::Down,
    }
}

/// `min`: spans shorter than this many ns are hidden; absent, unreadable or not positive: none.
pub fn parse_min_ns(value: Option<&str>) -> Option<i64> {
    value.and_then(|m| m.parse::<i64>().ok()).filter(|m| *m > 0)
}

/// `logs`: the log panel's severity floor (an OTLP severity number; 0, all, when absent).
pub fn parse_log_floor(value: Option<&str>) -> i32 {
    value.and_then(|f| f.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_id_sets_round_trip_in_one_order() {
        let set = parse_id_set(Some("b.a.c"));
        assert_eq!(set, HashSet::from(["a", "b", "c"].map(str::to_owned)));
        assert_eq!(id_set_param(set.clone()), "a.b.c");
        assert_eq!(parse_id_set(Some(&id_set_param(set.clone()))), set);
        assert!(parse_id_set(None).is_empty());
        assert_eq!(id_set_param(HashSet::new()), "");
    }

    #[test]
    fn test_collapse_all_is_one_word_and_toggles_open_spans() {
        let all = || HashSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()]);
        assert_eq!(collapsed_ids(Some("all"), None, all), all());
        assert_eq!(
            collapsed_ids(Some("all"), Some("b"), all),
            HashSet::from(["a".to_owned(), "c".to_owned()])
        );
        assert_eq!(
            collapsed_ids(Some("b"), Some("a"), all),
            HashSet::from(["b".to_owned()])
        );
        assert_eq!(
            toggle_param(Some("all"), Some("b"), "a".into()),
            ("open", "a.b".to_owned())
        );
        assert_eq!(
            toggle_param(Some("all"), Some("b"), "b".into()),
            ("open", String::new())
        );
        assert_eq!(
            toggle_param(None, None, "a".into()),
            ("collapsed", "a".to_owned())
        );
    }

    #[test]
    fn test_toggle_adds_or_removes() {
        let set = parse_id_set(Some("a"));
        let with_b = toggled(set.clone(), "b".into());
        assert_eq!(id_set_param(with_b.clone()), "a.b");
        assert_eq!(toggled(with_b, "b".into()), set);
    }

    #[test]
    fn test_flags_and_view() {
        assert!(is_on(Some("1")));
        assert!(!is_on(Some("0")) && !is_on(Some("true")) && !is_on(None));
        assert_eq!(on_param(true).as_deref(), Some("1"));
        assert_eq!(on_param(false), None);
        for layout in [
            TraceLayout::Waterfall,
            TraceLayout::Lanes,
            TraceLayout::Graph,
        ] {
            assert_eq!(TraceLayout::parse(layout.param().as_deref()), layout);
        }
        assert_eq!(
            TraceLayout::parse(Some("waterfall")),
            TraceLayout::Waterfall
        );
        assert_eq!(TraceLayout::Waterfall.param(), None);
    }

    #[test]
    fn test_numbers_fall_back_when_unreadable() {
        assert_eq!(parse_min_ns(Some("1000000")), Some(1_000_000));
        assert_eq!(parse_min_ns(Some("0")), None);
        assert_eq!(parse_min_ns(Some("-5")), None);
        assert_eq!(parse_min_ns(Some("1ms")), None);
        assert_eq!(parse_min_ns(None), None);
        assert_eq!(parse_log_floor(Some("13")), 13);
        assert_eq!(parse_log_floor(Some("warn")), 0);
        assert_eq!(parse_log_floor(None), 0);
    }
}
