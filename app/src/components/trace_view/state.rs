//! The trace view's state: what the URL says (selection, collapsed and unfolded spans, search,
//! filters, zoom, view) as memos and setters, what follows from it (shown rows, matches, the
//! critical path, the selected task's neighbours), and the clock running attempts grow with.

use std::collections::HashSet;
use std::sync::Arc;

use leptos::prelude::*;

use super::{QueryWriter, TraceLoads};
use crate::model::graph::Direction;
use crate::model::waterfall::{
    ALL_COLLAPSED, PreparedTrace, RemoteHits, Scale, SpanQuery, TraceLayout, collapsed_ids,
    collapsible_ids, current_answer, graph_direction, id_set_param, is_on, live_width,
    neighbour_spans, parse_id_set, parse_min_ns, parse_zoom, search_matches, toggle_param,
    visible_mask, zoom_param,
};
use crate::model::{TreeRow, critical_path};

/// The server's answer to the search's `key=value` and text terms as it stands for the current
/// text: see [`current_answer`].
pub type AttributeAnswer = Option<Result<Option<Arc<RemoteHits>>, String>>;

/// Everything the trace view's pieces read and change; cheap to copy into each of them.
#[derive(Clone, Copy)]
pub struct ViewState {
    pub url: QueryWriter,
    /// The selected span (index), from `span`.
    pub selected: Memo<Option<usize>>,
    pub select: Callback<Option<usize>>,
    /// Selects a span in place of the current history entry: moving through the tree with the
    /// keyboard is one step back, not one per key.
    pub step: Callback<usize>,
    /// Collapsed span ids, from `collapsed`.
    pub collapsed: Memo<HashSet<String>>,
    /// Collapses every span with children (`true`) or expands all (`false`).
    pub collapse_all: Callback<bool>,
    /// Collapses or expands a span (by id).
    pub toggle: Callback<String>,
    /// Whether runs of same-name siblings fold (`fold`).
    pub folding: Memo<bool>,
    /// Opens a fold (by its first span id).
    pub unfold: Callback<String>,
    /// The search text (`q`).
    pub search: Memo<String>,
    pub attribute_answer: Memo<AttributeAnswer>,
    /// Per span, whether it matches the search; `None` without a search.
    pub matching: Memo<Option<Vec<bool>>>,
    /// Hide spans shorter than this (`min`, ns).
    pub min_ns: Memo<Option<i64>>,
    /// The rows the tree shows, in order.
    pub rows: Memo<Vec<TreeRow>>,
    /// What the Trace tab draws (`view`): waterfall, runner lanes or task graph.
    pub layout: Memo<TraceLayout>,
    /// The graph's direction (`dir`) and how to change it.
    pub graph_direction: Memo<Direction>,
    pub set_graph_direction: Callback<Direction>,
    pub show_critical: Memo<bool>,
    /// The critical path's spans (empty while it is not shown).
    pub critical: Memo<Arc<HashSet<usize>>>,
    /// Attempt spans of the tasks the selected task waited for, and that waited for it.
    pub neighbours: Memo<(HashSet<usize>, HashSet<usize>)>,
    /// The zoomed window (ns after the trace's start), from `zoom`.
    pub zoom: Memo<Option<(i64, i64)>>,
    pub set_zoom: Callback<Option<(i64, i64)>>,
    /// The time window bars are drawn in.
    pub scale: Memo<Scale>,
    /// The clock (unix ns): running attempts' bars end here.
    pub now: RwSignal<i64>,
}

impl ViewState {
    pub fn new(trace: &Arc<PreparedTrace>, url: QueryWriter, loads: &TraceLoads) -> Self {
        let (origin, width, latest_start) = (trace.origin, trace.width, trace.latest_start);
        // The same on the server and in the browser until the browser's clock takes over.
        let now = RwSignal::new(trace.first_now());
        // The browser's clock takes over only once hydrated: the first render must match the
        // server's (the axis ticks depend on the window, which follows `now`).
        #[cfg(feature = "hydrate")]
        if latest_start.is_some() {
            Effect::new(move |_| {
                let tick = move || now.set((js_sys::Date::now() * 1e6) as i64);
                tick();
                if let Ok(handle) =
                    set_interval_with_handle(tick, std::time::Duration::from_millis(500))
                {
                    on_cleanup(move || handle.clear());
                }
            });
        }

        let selected = {
            let trace = trace.clone();
            Memo::new(move |_| match url.get("span") {
                Some(id) => trace.index_of.get(&id).copied(),
                // `?task=<id>&attempt=<n>` (links from the task analytics): that attempt's
                // span, the task's n-th by start (its latest when there are fewer).
                None => {
                    let task = url.get("task")?;
                    let attempt: usize = url.get("attempt").and_then(|a| a.parse().ok())?;
                    let of_task =
                        |i: usize| trace.spans[i].task_id.as_deref() == Some(task.as_str());
                    // An attempt's span is the outermost with its task id (spans inside an
                    // attempt may carry it too).
                    let mut attempts: Vec<usize> = (0..trace.spans.len())
                        .filter(|&i| {
                            of_task(i)
                                && !trace.spans[i]
                                    .parent_span_id
                                    .as_ref()
                                    .and_then(|p| trace.index_of.get(p))
                                    .is_some_and(|&p| of_task(p))
                        })
                        .collect();
                    attempts.sort_by_key(|&i| trace.spans[i].start_ns);
                    attempts
                        .get(attempt.saturating_sub(1))
                        .or(attempts.last())
                        .copied()
                }
            })
        };
        let select = {
            let trace = trace.clone();
            Callback::new(move |index: Option<usize>| {
                url.set("span", index.map(|i| trace.spans[i].span_id.clone()), false);
            })
        };
        let step = {
            let trace = trace.clone();
            Callback::new(move |index: usize| {
                url.set("span", Some(trace.spans[index].span_id.clone()), true);
            })
        };
        let collapsed = {
            let trace = trace.clone();
            Memo::new(move |_| {
                collapsed_ids(
                    url.get("collapsed").as_deref(),
                    url.get("open").as_deref(),
                    || collapsible_ids(&trace.tree, &trace.spans),
                )
            })
        };
        let collapse_all = Callback::new(move |all: bool| {
            let collapsed = all.then(|| ALL_COLLAPSED.to_owned());
            url.set_all(&[("collapsed", collapsed), ("open", None)], false);
        });
        let toggle = Callback::new(move |span_id: String| {
            let (collapsed, open) = (url.get_untracked("collapsed"), url.get_untracked("open"));
            let (key, value) = toggle_param(collapsed.as_deref(), open.as_deref(), span_id);
            url.set(key, Some(value), false);
        });
        let folding = Memo::new(move |_| is_on(url.get("fold").as_deref()));
        // Folds the reader opened, by their first span id.
        let unfolded = Memo::new(move |_| parse_id_set(url.get("unfold").as_deref()));
        let unfold = Callback::new(move |first: String| {
            let mut set = unfolded.get_untracked();
            set.insert(first);
            url.set("unfold", Some(id_set_param(set)), false);
        });
        let layout = Memo::new(move |_| TraceLayout::parse(url.get("view").as_deref()));
        let graph_direction = Memo::new(move |_| graph_direction(url.get("dir").as_deref()));
        let set_graph_direction = Callback::new(move |direction: Direction| {
            let dir = (direction == Direction::Right).then(|| "right".to_owned());
            url.set("dir", dir, false);
        });
        let show_critical = Memo::new(move |_| is_on(url.get("critical").as_deref()));
        // Computed only while shown: it walks the whole trace.
        let critical = {
            let trace = trace.clone();
            Memo::new(move |_| {
                Arc::new(if show_critical.get() {
                    critical_path(&trace.tree, &trace.spans, &trace.overlay)
                } else {
                    HashSet::new()
                })
            })
        };
        let zoom = Memo::new(move |_| url.get("zoom").and_then(|z| parse_zoom(&z, width)));
        // While tasks run, the whole-trace window reaches a little past now.
        let live = Memo::new(move |_| live_width(width, origin, latest_start.map(|_| now.get())));
        let scale = Memo::new(move |_| Scale::of(origin, zoom.get(), live.get()));
        let set_zoom = Callback::new(move |window: Option<(i64, i64)>| {
            url.set("zoom", zoom_param(window, width), false);
        });
        let neighbours = {
            let trace = trace.clone();
            Memo::new(move |_| neighbour_spans(&trace.overlay, selected.get()))
        };

        let search = Memo::new(move |_| url.get("q").unwrap_or_default());
        let attribute_hits = loads.attribute_hits;
        let attribute_answer = Memo::new(move |_| {
            current_answer(&search.get(), || {
                // Read in the browser only: on the server's render the resource never
                // loads, and reading it held the page in its "Loading job…" fallback
                // whenever the link's search asked the server anything.
                if cfg!(feature = "hydrate") {
                    attribute_hits.get().flatten()
                } else {
                    None
                }
            })
        });
        let matching = {
            let trace = trace.clone();
            Memo::new(move |_| {
                let text = search.get();
                if SpanQuery::parse(&text).is_empty() {
                    return None;
                }
                let remote = attribute_answer.get().and_then(Result::ok).flatten();
                search_matches(&text, &trace.spans, &trace.row_tasks, remote.as_deref())
            })
        };
        let min_ns = Memo::new(move |_| parse_min_ns(url.get("min").as_deref()));
        let rows = {
            let trace = trace.clone();
            Memo::new(move |_| {
                let (tree, spans) = (&trace.tree, &trace.spans);
                let min = min_ns.get();
                let keep = matching.with(|m| visible_mask(tree, spans, m.as_deref(), min));
                let open = unfolded.get();
                let folding = folding.get().then_some(&open);
                // The selected span is never hidden inside a fold.
                let open_with = folding.and_then(|_| selected.get());
                collapsed.with(|collapsed| {
                    tree.rows_folded(spans, collapsed, keep.as_deref(), folding, open_with)
                })
            })
        };
        ViewState {
            url,
            selected,
            select,
            step,
            collapsed,
            collapse_all,
            toggle,
            folding,
            unfold,
            search,
            attribute_answer,
            matching,
            min_ns,
            rows,
            layout,
            graph_direction,
            set_graph_direction,
            show_critical,
            critical,
            neighbours,
            zoom,
            set_zoom,
            scale,
            now,
        }
    }
}
