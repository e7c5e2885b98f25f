//! A job's span tree: indented rows with bars on a shared time axis, collapsible, searchable,
//! selectable, with log lines as ticks on their span's bar, a task's queue wait before its
//! first attempt, retries numbered, dependencies drawn as edges between task rows, the critical
//! path on demand, and a detail panel for the selected span; or the same job as runner lanes.
//!
//! The view lives in the URL, so a link restores it and Back/Forward step through changes:
//! `span` (selected span id), `q` (search), `collapsed` (span ids, `.`-separated), `view`
//! (`lanes`), `critical` (`1`: the critical path is marked), `zoom` (`<from>-<to>`, ns after the
//! trace's start; drag across the axis or the minimap to zoom, ◀ ▶ pan, Reset), `min` (ns: spans
//! shorter than this are hidden with their children; roots stay), and the log panel's `logs`
//! (severity floor), `logq` (search) and `logsub` (`1`: include child spans' lines). The tree takes the keyboard: ↑/↓ or j/k move, ←/→ collapse/expand (← on a leaf or
//! collapsed node goes to the parent), Esc clears the selection, `/` jumps to the search.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::jobs::{get_span_detail, get_span_logs, search_spans};
use crate::components::{
    CopyButton, LogFilters, LogList, PanelLog, RunnerLanes, SpanPanel, TimeAxis,
};
use crate::model::{
    FOLD_AT, FoldSummary, JobTrace, LogMark, SpanOutline, SpanQuery, SpanTree, TaskOverlay,
    TreeRow, critical_path, format_duration_ns, format_time_ns, running_attempts,
};

/// Every row is this tall (px, as in style/waterfall.css): rows are placed and edges drawn
/// from row positions alone.
const ROW_PX: f64 = 28.0;
/// Rows rendered above and below the scrolled-to window.
const OVERSCAN: usize = 30;
/// Rows the server renders (and the browser starts with) of a trace bigger than
/// [`SERVER_ROWS`]: a screenful.
const FIRST_ROWS: usize = 60;
/// Traces up to this many visible rows are rendered whole on the server, for readers without
/// JavaScript; bigger ones get their first screenful (and a note).
const SERVER_ROWS: usize = 3000;
/// The scrolling box of the span tree (`style/waterfall.css` caps its height).
const SCROLLER_ID: &str = "waterfall-scroll";

/// What a row knows about its span's task (workflow jobs).
#[derive(Clone, Default)]
struct RowTask {
    /// `(attempt, attempts)` when the task ran more than once.
    attempt: Option<(usize, usize)>,
    /// Submitted → first attempt's start, for the first attempt's row.
    queued_from_ns: Option<i64>,
}

/// The time window the bars are drawn in: the whole trace, or the zoomed range.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    /// Absolute start of the window (unix ns).
    from_ns: i64,
    /// Its length (ns, at least 1).
    span_ns: i64,
}

impl Scale {
    /// Where `t` (unix ns) falls, in percent of the window.
    fn pct(self, t: i64) -> f64 {
        (t - self.from_ns) as f64 / self.span_ns as f64 * 100.0
    }
}

/// `from-to` (ns after the trace's start) from the URL, kept inside the trace.
fn parse_zoom(text: &str, width: i64) -> Option<(i64, i64)> {
    let (from, to) = text.split_once('-')?;
    let (from, to): (i64, i64) = (from.parse().ok()?, to.parse().ok()?);
    let (from, to) = (from.clamp(0, width), to.clamp(0, width));
    (to > from).then_some((from, to))
}

/// Changes the URL's query (pushing a history entry unless `replace`), keeping the path.
#[derive(Clone, Copy)]
pub struct QueryWriter {
    write: Callback<(ParamsMap, bool)>,
    query: Memo<ParamsMap>,
}

impl QueryWriter {
    fn new() -> Self {
        let location = use_location();
        let navigate = use_navigate();
        let query = use_query_map();
        QueryWriter {
            write: Callback::new(move |(params, replace): (ParamsMap, bool)| {
                let path = location.pathname.get_untracked();
                navigate(
                    &format!("{path}{}", params.to_query_string()),
                    NavigateOptions {
                        scroll: false,
                        replace,
                        ..NavigateOptions::default()
                    },
                );
            }),
            query,
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.query.read().get(key).filter(|v| !v.is_empty())
    }

    pub fn set(&self, key: &'static str, value: Option<String>, replace: bool) {
        let mut params = self.query.get_untracked();
        match value.filter(|v| !v.is_empty()) {
            Some(value) => params.replace(key, value),
            None => {
                params.remove(key);
            }
        }
        self.write.run((params, replace));
    }
}

#[component]
pub fn TraceView(trace: JobTrace) -> impl IntoView {
    let JobTrace {
        job,
        spans,
        log_marks,
        unattached_logs,
        tasks,
        ..
    } = trace;
    let trace_id = job.trace_id.clone();
    // Running attempts have no span yet: stand-ins grow with the clock until theirs arrives.
    let mut spans = spans;
    let first_stand_in = spans.len();
    let stand_ins = running_attempts(&spans, &tasks);
    let latest_start = stand_ins.iter().map(|s| s.start_ns).max();
    spans.extend(stand_ins);
    let origin = spans
        .iter()
        .map(|s| s.start_ns)
        .min()
        .unwrap_or(job.start_ns);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(job.end_ns);
    // The same on the server and in the browser until the browser's clock takes over.
    let now = RwSignal::new(end.max(latest_start.unwrap_or(end)));
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
    let width = (end - origin).max(1);
    // Where each span's log lines are (their bodies load with the selected span).
    let mut by_span: HashMap<String, Vec<LogMark>> = HashMap::new();
    let mut unattached_total = 0;
    for mark in log_marks {
        match &mark.span_id {
            Some(span_id) => by_span.entry(span_id.clone()).or_default().push(mark),
            None => unattached_total += 1,
        }
    }
    let by_span = Arc::new(by_span);
    let tree = Arc::new(SpanTree::build(&spans));
    let spans = Arc::new(spans);
    let index_of: Arc<HashMap<String, usize>> = Arc::new(
        spans
            .iter()
            .enumerate()
            .map(|(index, span)| (span.span_id.clone(), index))
            .collect(),
    );
    let url = QueryWriter::new();
    let overlay = Arc::new(TaskOverlay::build(&spans, &tasks));
    let row_tasks: Arc<HashMap<usize, RowTask>> = Arc::new(
        overlay
            .attempt_of
            .iter()
            .map(|(&span, &(task, attempt))| {
                let total = overlay.attempts[task].len();
                let first = attempt == 1;
                let submitted = tasks[task].submitted_ns;
                let queued = (first && submitted > 0 && submitted < spans[span].start_ns)
                    .then_some(submitted);
                let info = RowTask {
                    attempt: (total > 1).then_some((attempt, total)),
                    queued_from_ns: queued,
                };
                (span, info)
            })
            .collect(),
    );

    let selected = {
        let index_of = index_of.clone();
        Memo::new(move |_| url.get("span").and_then(|id| index_of.get(&id).copied()))
    };
    let select = {
        let spans = spans.clone();
        Callback::new(move |index: Option<usize>| {
            url.set("span", index.map(|i| spans[i].span_id.clone()), false);
        })
    };
    let collapsed = Memo::new(move |_| {
        url.get("collapsed")
            .map(|list| {
                list.split('.')
                    .map(str::to_owned)
                    .collect::<HashSet<String>>()
            })
            .unwrap_or_default()
    });
    let set_collapsed = Callback::new(move |set: HashSet<String>| {
        let mut ids: Vec<String> = set.into_iter().collect();
        ids.sort();
        url.set("collapsed", Some(ids.join(".")), false);
    });
    let search = Memo::new(move |_| url.get("q").unwrap_or_default());
    let folding = Memo::new(move |_| url.get("fold").as_deref() == Some("1"));
    // Folds the reader opened, by their first span id.
    let unfolded = Memo::new(move |_| {
        url.get("unfold")
            .map(|list| {
                list.split('.')
                    .map(str::to_owned)
                    .collect::<HashSet<String>>()
            })
            .unwrap_or_default()
    });
    let unfold = Callback::new(move |first: String| {
        let mut set = unfolded.get_untracked();
        set.insert(first);
        let mut ids: Vec<String> = set.into_iter().collect();
        ids.sort();
        url.set("unfold", Some(ids.join(".")), false);
    });
    let lanes_view = Memo::new(move |_| url.get("view").as_deref() == Some("lanes"));
    let show_critical = Memo::new(move |_| url.get("critical").as_deref() == Some("1"));
    // Computed only while shown: it walks the whole trace.
    let critical = {
        let (tree, spans, overlay) = (tree.clone(), spans.clone(), overlay.clone());
        Memo::new(move |_| {
            Arc::new(if show_critical.get() {
                critical_path(&tree, &spans, &overlay)
            } else {
                HashSet::new()
            })
        })
    };
    let zoom = Memo::new(move |_| url.get("zoom").and_then(|z| parse_zoom(&z, width)));
    // While tasks run, the whole-trace window reaches a little past now.
    let live_width = Memo::new(move |_| {
        if latest_start.is_some() {
            width.max((now.get() - origin) * 11 / 10)
        } else {
            width
        }
    });
    let scale = Memo::new(move |_| {
        let (from, to) = zoom.get().unwrap_or((0, live_width.get()));
        Scale {
            from_ns: origin + from,
            span_ns: (to - from).max(1),
        }
    });
    let set_zoom = move |window: Option<(i64, i64)>| {
        let window = window.filter(|(from, to)| !(*from <= 0 && *to >= width));
        url.set(
            "zoom",
            window.map(|(from, to)| format!("{from}-{to}")),
            false,
        );
    };
    // A drag across the axis (within the current window) or the minimap (the whole trace):
    // where it started, as a fraction, and which of the two it is on.
    let drag = RwSignal::new(None::<(f64, f64, bool)>);
    let drag_end = move |minimap: bool| {
        if let Some((start, end, on_minimap)) = drag.get_untracked()
            && on_minimap == minimap
        {
            drag.set(None);
            let (low, high) = (start.min(end), start.max(end));
            if high - low < 0.005 {
                return;
            }
            let (base_from, base_len) = if minimap {
                (0, width)
            } else {
                let s = scale.get_untracked();
                (s.from_ns - origin, s.span_ns)
            };
            let from = base_from + (low * base_len as f64) as i64;
            let to = base_from + (high * base_len as f64) as i64;
            set_zoom(Some((from, to.max(from + 1))));
        }
    };
    let pan = move |direction: i64| {
        let (from, to) = zoom.get_untracked().unwrap_or((0, width));
        let step = (to - from) / 4 * direction;
        let shift = step.clamp(-from, width - to);
        set_zoom(Some((from + shift, to + shift)));
    };
    // Tasks the selected task waited for, and tasks that waited for it (as span indices).
    let neighbours = {
        let overlay = overlay.clone();
        Memo::new(move |_| {
            let Some(task) = selected
                .get()
                .and_then(|span| overlay.attempt_of.get(&span).map(|a| a.0))
            else {
                return (HashSet::new(), HashSet::new());
            };
            let (before, after) = overlay.neighbours(task);
            let spans_of = |tasks: Vec<usize>| -> HashSet<usize> {
                tasks
                    .into_iter()
                    .flat_map(|t| overlay.attempts[t].iter().copied())
                    .collect()
            };
            (spans_of(before), spans_of(after))
        })
    };

    // `key=value` terms need the spans' attributes, which only the server has: it answers them
    // (after hydration; until then, and on the server, the other terms filter alone).
    let attribute_hits = {
        let trace_id = trace_id.clone();
        LocalResource::new(move || {
            let text = search.get();
            let trace_id = trace_id.clone();
            async move {
                if SpanQuery::parse(&text).attribute_terms().is_empty() {
                    return None;
                }
                let hits = search_spans(trace_id, text.clone())
                    .await
                    .map(|ids| ids.into_iter().collect::<HashSet<String>>())
                    .map_err(|e| e.to_string());
                Some((text, hits))
            }
        })
    };
    // The server's answer for the search as it reads now: `None` while it is pending.
    let attribute_answer = Memo::new(move |_| {
        let text = search.get();
        if SpanQuery::parse(&text).attribute_terms().is_empty() {
            return Some(Ok(None));
        }
        match attribute_hits.get() {
            Some(Some((asked, hits))) if asked == text => Some(hits.map(|ids| Some(Arc::new(ids)))),
            _ => None,
        }
    });
    let matching = {
        let spans = spans.clone();
        Memo::new(move |_| {
            let query = SpanQuery::parse(&search.get());
            if query.is_empty() {
                return None;
            }
            let remote = attribute_answer.get().and_then(Result::ok).flatten();
            Some(
                spans
                    .iter()
                    .map(|s| {
                        query.matches(s)
                            && remote.as_ref().is_none_or(|ids| ids.contains(&s.span_id))
                    })
                    .collect::<Vec<_>>(),
            )
        })
    };
    let min_ns = Memo::new(move |_| {
        url.get("min")
            .and_then(|m| m.parse::<i64>().ok())
            .filter(|m| *m > 0)
    });
    let rows = {
        let (tree, spans) = (tree.clone(), spans.clone());
        Memo::new(move |_| {
            let mut keep = matching.with(|m| m.as_ref().map(|m| tree.keep_with_ancestors(m)));
            if let Some(min) = min_ns.get() {
                let mut mask = keep.unwrap_or_else(|| vec![true; spans.len()]);
                for (index, span) in spans.iter().enumerate() {
                    mask[index] &= span.duration_ns() >= min;
                }
                for &root in tree.roots() {
                    mask[root] = true;
                }
                keep = Some(mask);
            }
            let open = unfolded.get();
            let folding = folding.get().then_some(&open);
            // The selected span is never hidden inside a fold.
            let open_with = folding.and_then(|_| selected.get());
            collapsed.with(|collapsed| {
                tree.rows_folded(&spans, collapsed, keep.as_deref(), folding, open_with)
            })
        })
    };
    // Only the rows in (and near) the scrolled-to window exist in the DOM: a trace of 100,000
    // spans scrolls like one of 100.
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(FIRST_ROWS as f64 * ROW_PX);
    // The server renders every row of a trace up to SERVER_ROWS (readable without JavaScript),
    // the first screenful of a bigger one; the browser starts the same and narrows to the
    // window once it runs.
    let running = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(scroller) = document().get_element_by_id(SCROLLER_ID) {
            viewport.set(f64::from(scroller.client_height()).max(ROW_PX));
        }
        running.set(true);
    });
    let window_rows = Memo::new(move |_| {
        let first = (scroll_top.get() / ROW_PX) as usize;
        let shown = (viewport.get() / ROW_PX).ceil() as usize;
        let start = first.saturating_sub(OVERSCAN);
        let everything = !running.get() && rows.with(Vec::len) <= SERVER_ROWS;
        let end = if everything {
            usize::MAX
        } else {
            first + shown + OVERSCAN
        };
        rows.with(|rows| {
            rows.iter()
                .enumerate()
                .skip(start)
                .take(end.saturating_sub(start))
                .map(|(at, row)| (at, row.clone()))
                .collect::<Vec<_>>()
        })
    });
    let on_scroll = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            if let Some(el) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                scroll_top.set(f64::from(el.scroll_top()));
                viewport.set(f64::from(el.client_height()));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let expand_all = move |_| url.set("collapsed", None, false);
    let collapse_all = {
        let (tree, spans) = (tree.clone(), spans.clone());
        move |_| {
            set_collapsed.run(
                tree.rows(&spans, &HashSet::new())
                    .iter()
                    .filter(|row| row.child_count > 0)
                    .map(|row| spans[row.index].span_id.clone())
                    .collect(),
            );
        }
    };
    let toggle = Callback::new(move |span_id: String| {
        let mut set = collapsed.get_untracked();
        if !set.remove(&span_id) {
            set.insert(span_id);
        }
        set_collapsed.run(set);
    });

    let on_key = {
        let spans = spans.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            let visible = rows.get_untracked();
            let position = selected
                .get_untracked()
                .and_then(|index| visible.iter().position(|row| row.index == index));
            let target = match (ev.key().as_str(), position) {
                ("ArrowDown" | "j", None) => visible.first().map(|row| row.index),
                ("ArrowDown" | "j", Some(at)) => visible.get(at + 1).map(|row| row.index),
                ("ArrowUp" | "k", None) => visible.last().map(|row| row.index),
                ("ArrowUp" | "k", Some(at)) => at
                    .checked_sub(1)
                    .and_then(|before| visible.get(before))
                    .map(|row| row.index),
                ("ArrowRight", Some(at)) if visible[at].fold.is_some() => {
                    unfold.run(spans[visible[at].index].span_id.clone());
                    None
                }
                ("ArrowRight", Some(at)) => {
                    let id = spans[visible[at].index].span_id.clone();
                    if collapsed.with_untracked(|set| set.contains(&id)) {
                        toggle.run(id);
                    }
                    None
                }
                ("ArrowLeft", Some(at)) => {
                    let row = &visible[at];
                    let id = spans[row.index].span_id.clone();
                    if row.child_count > 0 && !collapsed.with_untracked(|set| set.contains(&id)) {
                        toggle.run(id);
                        None
                    } else {
                        // The parent: the nearest row above that is one level shallower.
                        visible[..at]
                            .iter()
                            .rev()
                            .find(|above| above.depth + 1 == row.depth)
                            .map(|above| above.index)
                    }
                }
                ("Escape", Some(_)) => {
                    ev.prevent_default();
                    select.run(None);
                    return;
                }
                _ => return,
            };
            ev.prevent_default();
            if let Some(index) = target {
                select.run(Some(index));
                if let Some(at) = visible.iter().position(|row| row.index == index) {
                    reveal(at);
                }
            }
        }
    };
    // `/` anywhere on the page (outside a text field) jumps to the search.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            use leptos::wasm_bindgen::JsCast;
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA"));
            if ev.key() == "/" && !typing {
                ev.prevent_default();
                if let Some(input) = document().get_element_by_id("span-search")
                    && let Ok(input) = input.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = input.focus();
                }
            }
        });
        on_cleanup(move || handle.remove());
    }
    let on_search = move |ev: leptos::ev::Event| {
        // Typing replaces the history entry: Back leaves the search, not each keystroke.
        url.set("q", Some(event_target_value(&ev)), true);
    };
    let on_search_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            url.set("q", None, false);
        }
    };

    let row_view = {
        let (spans, by_span) = (spans.clone(), by_span.clone());
        move |(at, row): (usize, TreeRow)| {
            if let Some(members) = row.fold.clone() {
                let top = at as f64 * ROW_PX;
                let summary = FoldSummary::of(&spans, &members);
                let first = spans[row.index].clone();
                return view! { <FoldRow first summary depth=row.depth top scale unfold /> }
                    .into_any();
            }
            let span = &spans[row.index];
            let logs = by_span.get(&span.span_id).cloned().unwrap_or_default();
            let top = at as f64 * ROW_PX;
            let task = row_tasks.get(&row.index).cloned().unwrap_or_default();
            let growing = row.index >= first_stand_in;
            view! {
                <SpanRow
                    row
                    top
                    span=span.clone()
                    logs
                    task
                    critical
                    growing
                    now
                    neighbours
                    scale
                    collapsed
                    toggle
                    selected
                    select
                />
            }
            .into_any()
        }
    };
    // Dependency edges between the visible rows of tasks: from the end of the dependency's last
    // attempt to the start of the dependent's first. The selected task's edges stand out.
    // Drawn in the browser only (after hydration): server-rendered SVG paths between the rows
    // tripped Leptos' hydration, and without JavaScript there is no selection to follow anyway.
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    // Where each task attempt's row is among the shown rows: computed when the rows change,
    // not on every scrolled frame (a trace without dependencies needs none of it).
    let positions = {
        let overlay = overlay.clone();
        Memo::new(move |_| {
            if overlay.edges.is_empty() {
                return Arc::new((0, HashMap::new()));
            }
            rows.with(|rows| {
                // A folded row stands for each of its spans.
                let position: HashMap<usize, usize> = rows
                    .iter()
                    .enumerate()
                    .flat_map(|(at, row)| {
                        let members: Vec<usize> = match &row.fold {
                            Some(members) => members.to_vec(),
                            None => vec![row.index],
                        };
                        members.into_iter().map(move |index| (index, at))
                    })
                    .filter(|(index, _)| overlay.attempt_of.contains_key(index))
                    .collect();
                Arc::new((rows.len(), position))
            })
        })
    };
    let edges = {
        let spans = spans.clone();
        move || {
            if !mounted.get() || overlay.edges.is_empty() {
                return ().into_any();
            }
            let shown = positions.get();
            let (shown_rows, position) = (shown.0, &shown.1);
            // Edges with an end in the rendered window (or crossing it) only.
            let (low, high) = window_rows.with(|w| {
                (
                    w.first().map_or(0, |(at, _)| *at),
                    w.last().map_or(0, |(at, _)| *at),
                )
            });
            let window = scale.get();
            let x = |t: i64| window.pct(t) * 10.0;
            let y = |at: usize| at as f64 * ROW_PX + ROW_PX / 2.0;
            let chosen = selected
                .get()
                .and_then(|s| overlay.attempt_of.get(&s).map(|a| a.0));
            let paths = overlay
                .edges
                .iter()
                .filter_map(|&(dependency, dependent)| {
                    let from = *overlay.attempts[dependency].last()?;
                    let to = *overlay.attempts[dependent].first()?;
                    let (a, b) = (*position.get(&from)?, *position.get(&to)?);
                    if a.max(b) < low || a.min(b) > high {
                        return None;
                    }
                    let (x1, y1) = (x(spans[from].end_ns), y(a));
                    let (x2, y2) = (x(spans[to].start_ns), y(b));
                    let bend = ((x2 - x1).abs() / 2.0).max(12.0);
                    let d = format!(
                        "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                        x1 + bend,
                        x2 - bend
                    );
                    let hot = chosen == Some(dependency) || chosen == Some(dependent);
                    Some(view! {
                        <path
                            class="waterfall__edge"
                            class:waterfall__edge--selected=hot
                            d=d
                            data-from=spans[from].span_id.clone()
                            data-to=spans[to].span_id.clone()
                        />
                    })
                })
                .collect_view();
            let height = (shown_rows as f64 * ROW_PX).max(1.0);
            view! {
                <div class="waterfall__edges" aria-hidden="true">
                    <span></span>
                    <svg
                        viewBox=format!("0 0 1000 {height}")
                        preserveAspectRatio="none"
                        style=format!("height: {height}px")
                    >
                        {paths}
                    </svg>
                </div>
            }
            .into_any()
        }
    };
    let log_filters = LogFilters {
        floor: Memo::new(move |_| url.get("logs").and_then(|f| f.parse().ok()).unwrap_or(0)),
        text: Memo::new(move |_| url.get("logq").unwrap_or_default()),
        subtree: Memo::new(move |_| url.get("logsub").as_deref() == Some("1")),
        set: Callback::new(move |(key, value): (&'static str, Option<String>)| {
            // Typing in the search replaces the history entry; the other filters push one.
            url.set(key, value, key == "logq");
        }),
    };
    let panel = {
        let spans = spans.clone();
        move || {
            selected.get().map(|index| {
                let span = spans[index].clone();
                // Which spans of its subtree have log lines, and how many (the skeleton knows
                // where lines are; their bodies load below).
                let (mut own, mut total) = (0, 0);
                let mut with_logs = Vec::new();
                let mut stack = vec![index];
                while let Some(at) = stack.pop() {
                    let id = &spans[at].span_id;
                    if let Some(marks) = by_span.get(id) {
                        if at == index {
                            own = marks.len();
                        }
                        total += marks.len();
                        with_logs.push(id.clone());
                    }
                    stack.extend_from_slice(tree.children(at));
                }
                let own_ids = if own > 0 {
                    span.span_id.clone()
                } else {
                    String::new()
                };
                let subtree_ids = with_logs.join(".");
                let logs = {
                    let (spans, index_of, trace_id) =
                        (spans.clone(), index_of.clone(), trace_id.clone());
                    Resource::new(
                        move || {
                            if log_filters.subtree.get() {
                                subtree_ids.clone()
                            } else {
                                own_ids.clone()
                            }
                        },
                        move |ids: String| {
                            let (spans, index_of, trace_id) =
                                (spans.clone(), index_of.clone(), trace_id.clone());
                            async move {
                                if ids.is_empty() {
                                    return Ok(Vec::new());
                                }
                                let logs = get_span_logs(trace_id, ids).await?;
                                Ok(logs
                                    .into_iter()
                                    .filter_map(|log| {
                                        let at = *index_of.get(log.span_id.as_deref()?)?;
                                        Some(PanelLog {
                                            span: at,
                                            span_name: spans[at].name.clone(),
                                            log,
                                        })
                                    })
                                    .collect())
                            }
                        },
                    )
                };
                // A running attempt's stand-in has no stored span to detail yet.
                let detail = (index < first_stand_in).then(|| {
                    let key = (trace_id.clone(), span.span_id.clone());
                    Resource::new(
                        move || key.clone(),
                        |(trace_id, span_id)| get_span_detail(trace_id, span_id),
                    )
                });
                let self_time_ns = tree.self_time_ns(&spans, index);
                view! {
                    <SpanPanel
                        span
                        trace_id=trace_id.clone()
                        index
                        detail
                        logs
                        log_counts=(own, total)
                        self_time_ns
                        log_filters
                        select
                    />
                }
            })
        }
    };
    let count = {
        let spans = spans.clone();
        move || match (matching.get(), attribute_answer.get()) {
            (Some(_), None) => "searching attributes…".to_owned(),
            (Some(_), Some(Err(error))) => format!("search failed: {error}"),
            (Some(matching), Some(Ok(_))) => {
                let hits = matching.iter().filter(|hit| **hit).count();
                format!("{hits} of {} spans match", spans.len())
            }
            (None, _) => format!("{} of {} spans shown", rows.with(Vec::len), spans.len()),
        }
    };
    // The whole trace in one strip: how many spans start in each of 200 slices, the zoomed
    // window highlighted; drag across it to zoom.
    let density = {
        let mut buckets = [0_u32; 200];
        for span in spans.iter() {
            let at = ((span.start_ns - origin) as f64 / width as f64 * 200.0) as usize;
            buckets[at.min(199)] += 1;
        }
        let peak = f64::from(buckets.iter().copied().max().unwrap_or(1).max(1));
        buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let h = (f64::from(*n) / peak * 20.0).max(1.0);
                format!("M{}.5,24v-{h:.1}", i * 5)
            })
            .collect::<String>()
    };
    let minimap = move || {
        let (from, to) = zoom.get().unwrap_or((0, width));
        let left = from as f64 / width as f64 * 100.0;
        let len = (to - from) as f64 / width as f64 * 100.0;
        view! {
            <div class="minimap-row">
                <div class="minimap__controls">
                    <button class="button" title="Pan left" aria-label="Pan left" on:click=move |_| pan(-1)>
                        "◀"
                    </button>
                    <button class="button" title="Pan right" aria-label="Pan right" on:click=move |_| pan(1)>
                        "▶"
                    </button>
                    <button
                        class="button"
                        disabled=move || zoom.get().is_none()
                        on:click=move |_| set_zoom(None)
                    >
                        "Reset zoom"
                    </button>
                </div>
                <div
                    class="minimap"
                    title="The whole trace: drag to zoom"
                    on:mousedown=move |ev| {
                        ev.prevent_default();
                        let at = fraction(&ev);
                        drag.set(Some((at, at, true)));
                    }
                    on:mousemove=move |ev| {
                        let at = fraction(&ev);
                        drag.update(|d| {
                            if let Some((_, end, true)) = d {
                                *end = at;
                            }
                        });
                    }
                    on:mouseup=move |_| drag_end(true)
                    on:mouseleave=move |_| drag_end(true)
                >
                    <svg viewBox="0 0 1000 24" preserveAspectRatio="none" aria-hidden="true">
                        <path class="minimap__density" d=density.clone() />
                    </svg>
                    <div
                        class="minimap__window"
                        style=format!("left: {left:.3}%; width: {len:.3}%")
                    ></div>
                    {move || selection_box(drag.get(), true)}
                </div>
            </div>
        }
    };
    let waterfall = {
        move || {
            if lanes_view.get() {
                return view! { <RunnerLanes spans=spans.clone() origin width selected select /> }
                    .into_any();
            }
            view! {
                <div
                    class="waterfall"
                    role="tree"
                    tabindex="0"
                    aria-label="Spans (↑/↓ move, ←/→ collapse/expand, Esc clears)"
                    on:keydown=on_key.clone()
                >
                    {minimap.clone()}
                    <div class="waterfall__header">
                        <span class="waterfall__label">"Span"</span>
                        <div
                            class="waterfall__axis"
                            title="Drag to zoom into a time range"
                            on:mousedown=move |ev| {
                                ev.prevent_default();
                                let at = fraction(&ev);
                                drag.set(Some((at, at, false)));
                            }
                            on:mousemove=move |ev| {
                                let at = fraction(&ev);
                                drag.update(|d| {
                                    if let Some((_, end, false)) = d {
                                        *end = at;
                                    }
                                });
                            }
                            on:mouseup=move |_| drag_end(false)
                            on:mouseleave=move |_| drag_end(false)
                        >
                            {move || {
                                let s = scale.get();
                                view! { <TimeAxis duration_ns=s.span_ns offset_ns=s.from_ns - origin /> }
                            }}
                            {move || selection_box(drag.get(), false)}
                        </div>
                        <span class="waterfall__duration">"Duration"</span>
                    </div>
                    <div class="waterfall__scroll" id=SCROLLER_ID on:scroll=on_scroll>
                        <div
                            class="waterfall__rows"
                            style=move || {
                                format!("height: {}px", rows.with(Vec::len) as f64 * ROW_PX)
                            }
                        >
                            {edges.clone()}
                            <For
                                each=move || window_rows.get()
                                key=|(at, row)| {
                                    let fold = row.fold.as_ref().map(|f| (f.len(), f.last().copied()));
                                    (*at, row.index, fold)
                                }
                                children=row_view.clone()
                            />
                        </div>
                    </div>
                    {(spans.len() > SERVER_ROWS)
                        .then(|| {
                            view! {
                                <noscript>
                                    <p class="muted waterfall__noscript">
                                        {format!(
                                            "Without JavaScript only the first {FIRST_ROWS} of {} spans are shown; the spans download (CSV, JSON) above has them all.",
                                            spans.len(),
                                        )}
                                    </p>
                                </noscript>
                            }
                        })}
                </div>
            }
            .into_any()
        }
    };
    let set_view = move |lanes: bool| url.set("view", lanes.then(|| "lanes".to_owned()), false);
    view! {
        <section class="trace-view">
            <div class="trace-view__toolbar">
                <div class="trace-view__views" role="group" aria-label="View">
                    <button
                        class="button"
                        aria-pressed=move || (!lanes_view.get()).to_string()
                        on:click=move |_| set_view(false)
                    >
                        "Waterfall"
                    </button>
                    <button
                        class="button"
                        aria-pressed=move || lanes_view.get().to_string()
                        on:click=move |_| set_view(true)
                    >
                        "Runner lanes"
                    </button>
                </div>
                <button
                    class="button"
                    aria-pressed=move || show_critical.get().to_string()
                    title="Mark the chain of spans that decided when the job ended"
                    on:click=move |_| {
                        url.set("critical", (!show_critical.get_untracked()).then(|| "1".to_owned()), false);
                    }
                >
                    "Critical path"
                </button>
                <button
                    class="button"
                    aria-pressed=move || folding.get().to_string()
                    title=format!("Fold runs of {FOLD_AT} or more siblings of one name into one row")
                    on:click=move |_| {
                        url.set("fold", (!folding.get_untracked()).then(|| "1".to_owned()), false);
                    }
                >
                    "Fold repeats"
                </button>
                <button class="button" on:click=expand_all>
                    "Expand all"
                </button>
                <button class="button" on:click=collapse_all>
                    "Collapse all"
                </button>
                <select
                    class="trace-view__min"
                    aria-label="Hide spans shorter than"
                    title="Hide spans shorter than this (with their children)"
                    prop:value=move || min_ns.get().map(|m| m.to_string()).unwrap_or_default()
                    on:change=move |ev| url.set("min", Some(event_target_value(&ev)), false)
                >
                    <option value="">"all durations"</option>
                    <option value="1000000">"≥ 1 ms"</option>
                    <option value="10000000">"≥ 10 ms"</option>
                    <option value="100000000">"≥ 100 ms"</option>
                    <option value="1000000000">"≥ 1 s"</option>
                    <option value="10000000000">"≥ 10 s"</option>
                </select>
                <input
                    id="span-search"
                    class="trace-view__search"
                    type="search"
                    aria-label="Filter spans"
                    placeholder="Filter: name, key=value, status:error  ( / )"
                    prop:value=move || search.get()
                    on:input=on_search
                    on:keydown=on_search_key
                />
                <span class="trace-view__count muted" aria-live="polite">
                    {count}
                </span>
                <CopyButton label="Copy link" copied="Link copied" text=None />
            </div>
            <div class="trace-view__body">{waterfall} {panel}</div>
            {(!unattached_logs.is_empty())
                .then(|| {
                    let shown = unattached_logs.len();
                    let cut = (unattached_total > shown)
                        .then(|| {
                            view! {
                                <p class="muted">
                                    {format!(
                                        "The first {shown} of {unattached_total} lines; the logs download has them all.",
                                    )}
                                </p>
                            }
                        });
                    view! {
                        <h2>"Logs outside any span"</h2>
                        {cut}
                        <LogList logs=unattached_logs />
                    }
                })}
        </section>
    }
}

#[component]
fn SpanRow(
    row: TreeRow,
    /// Offset from the top of the rows box, px.
    top: f64,
    span: SpanOutline,
    /// Where its log lines are.
    logs: Vec<LogMark>,
    task: RowTask,
    /// The critical path's spans (empty while it is not shown).
    critical: Memo<Arc<HashSet<usize>>>,
    /// A running attempt's stand-in: its bar ends at `now`.
    growing: bool,
    now: RwSignal<i64>,
    neighbours: Memo<(HashSet<usize>, HashSet<usize>)>,
    scale: Memo<Scale>,
    collapsed: Memo<HashSet<String>>,
    toggle: Callback<String>,
    selected: Memo<Option<usize>>,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let index = row.index;
    let (start_ns, end_ns) = (span.start_ns, span.end_ns);
    let until = move || {
        if growing {
            now.get().max(start_ns)
        } else {
            end_ns
        }
    };
    let bar_style = move || {
        let s = scale.get();
        let left = s.pct(start_ns);
        format!(
            "left: {left:.3}%; width: {:.3}%",
            (s.pct(until()) - left).max(0.2)
        )
    };
    let status_css = if growing {
        "running"
    } else {
        span.status_code.css()
    };
    let indent = format!("padding-left: {}rem", row.depth as f64 * 1.1);
    let span_id = span.span_id.clone();
    let is_collapsed = {
        let span_id = span_id.clone();
        move || collapsed.with(|set| set.contains(&span_id))
    };
    let on_toggle = {
        let span_id = span_id.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            toggle.run(span_id.clone());
        }
    };
    // Leaves get a spacer as wide as the toggle, so depth alone decides the indent.
    let toggle_button = if row.child_count == 0 {
        view! { <span class="waterfall__toggle" aria-hidden="true"></span> }.into_any()
    } else {
        let expanded = {
            let is_collapsed = is_collapsed.clone();
            move || (!is_collapsed()).to_string()
        };
        let label = move || if is_collapsed() { "▸" } else { "▾" };
        view! {
            <button
                class="waterfall__toggle"
                aria-expanded=expanded
                aria-label="Collapse or expand children"
                on:click=on_toggle
            >
                {label}
            </button>
        }
        .into_any()
    };
    let percent = move |t: i64| scale.get().pct(t);
    // Log lines as ticks at their time; hovering shows the line (as text).
    let ticks = logs
        .into_iter()
        .map(|log| {
            let severity = log.severity_label().to_lowercase();
            let at = log.time_ns;
            let style = move || format!("left: {:.3}%", percent(at));
            let title = format!(
                "{} log line at {} (select the span to read it)",
                log.severity_label(),
                format_time_ns(at)
            );
            view! {
                <span
                    class=format!("waterfall__tick waterfall__tick--{severity}")
                    style=style
                    title=title
                ></span>
            }
        })
        .collect_view();
    let queue = task.queued_from_ns.map(|from| {
        let queued = span.start_ns - from;
        let started = span.start_ns;
        let style = move || {
            let left = percent(from);
            format!(
                "left: {left:.3}%; width: {:.3}%",
                (percent(started) - left).max(0.2)
            )
        };
        view! {
            <div
                class="waterfall__queue"
                style=style
                title=format!("queued {}", format_duration_ns(queued))
            ></div>
        }
    });
    let attempt = task.attempt.map(|(n, total)| {
        view! { <span class="waterfall__attempt">{format!("attempt {n}/{total}")}</span> }
    });
    // One class effect per row, not one per modifier: rows are created while scrolling.
    let retry = task.attempt.is_some_and(|(n, _)| n > 1);
    let row_class = move || {
        let mut class = String::from("waterfall__row");
        let mut add = |on: bool, modifier: &str| {
            if on {
                class.push_str(" waterfall__row--");
                class.push_str(modifier);
            }
        };
        add(selected.get() == Some(index), "selected");
        neighbours.with(|n| {
            add(n.0.contains(&index), "waited-for");
            add(n.1.contains(&index), "waiting");
        });
        add(critical.with(|path| path.contains(&index)), "critical");
        add(growing, "running");
        add(retry, "retry");
        class
    };
    let duration = if growing {
        (move || format_duration_ns(until() - start_ns)).into_any()
    } else {
        format_duration_ns(end_ns - start_ns).into_any()
    };
    view! {
        <div
            class=row_class
            role="treeitem"
            style=format!("top: {top}px")
            data-span-id=span_id
            aria-selected=move || (selected.get() == Some(index)).to_string()
            on:click=move |_| select.run(Some(index))
        >
            <div class="waterfall__label" style=indent>
                {toggle_button}
                <span class="waterfall__name">{span.name.clone()}</span>
                {attempt}
                <span class="waterfall__service muted">{span.service.clone()}</span>
            </div>
            <div class="waterfall__track">
                {queue}
                <div
                    class=format!("waterfall__bar waterfall__bar--{status_css}")
                    style=bar_style
                ></div>
                {ticks}
            </div>
            <span class="waterfall__duration">{duration}</span>
        </div>
    }
}

/// A folded run of siblings of one name: how many, their median duration, how many failed, one
/// bar from the first start to the last end. Opening it (click, →) shows each span again.
#[component]
fn FoldRow(
    first: SpanOutline,
    summary: FoldSummary,
    depth: usize,
    top: f64,
    scale: Memo<Scale>,
    unfold: Callback<String>,
) -> impl IntoView {
    let FoldSummary {
        count,
        p50_ns,
        failed,
        start_ns,
        end_ns,
    } = summary;
    let bar_style = move || {
        let s = scale.get();
        let left = s.pct(start_ns);
        format!(
            "left: {left:.3}%; width: {:.3}%",
            (s.pct(end_ns) - left).max(0.2)
        )
    };
    let facts = if failed > 0 {
        format!("p50 {}, {failed} failed", format_duration_ns(p50_ns))
    } else {
        format!("p50 {}", format_duration_ns(p50_ns))
    };
    let status = if failed > 0 { "error" } else { "ok" };
    let id = first.span_id.clone();
    view! {
        <div
            class="waterfall__row waterfall__row--fold"
            role="treeitem"
            aria-expanded="false"
            style=format!("top: {top}px")
            data-span-id=first.span_id
            data-fold-count=count.to_string()
            title="Folded: click to show each span"
            on:click=move |_| unfold.run(id.clone())
        >
            <div class="waterfall__label" style=format!("padding-left: {}rem", depth as f64 * 1.1)>
                <span class="waterfall__toggle" aria-hidden="true">"⋯"</span>
                <span class="waterfall__name">{format!("{count} × {}", first.name)}</span>
                <span class="waterfall__fold-facts muted">{facts}</span>
            </div>
            <div class="waterfall__track">
                <div class=format!("waterfall__bar waterfall__bar--fold waterfall__bar--{status}") style=bar_style></div>
            </div>
            <span class="waterfall__duration">{format_duration_ns(end_ns - start_ns)}</span>
        </div>
    }
}

/// Scrolls the span tree so the row at `position` is in view (browser only).
fn reveal(position: usize) {
    #[cfg(feature = "hydrate")]
    {
        if let Some(scroller) = document().get_element_by_id(SCROLLER_ID) {
            let top = (position as f64 * ROW_PX) as i32;
            let height = scroller.client_height();
            let current = scroller.scroll_top();
            if top < current {
                scroller.set_scroll_top(top);
            } else if top + ROW_PX as i32 > current + height {
                scroller.set_scroll_top(top + ROW_PX as i32 - height);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = position;
}

/// Where a mouse event falls across its element (the axis or the minimap), from 0 to 1.
fn fraction(ev: &leptos::ev::MouseEvent) -> f64 {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            let rect = el.get_bounding_client_rect();
            if rect.width() > 0.0 {
                return ((f64::from(ev.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
    0.0
}

/// The range being dragged across the axis (`minimap == false`) or the minimap.
fn selection_box(drag: Option<(f64, f64, bool)>, minimap: bool) -> impl IntoView {
    drag.filter(|d| d.2 == minimap).map(|(start, end, _)| {
        let (low, high) = (start.min(end), start.max(end));
        view! {
            <div
                class="zoom-selection"
                style=format!("left: {:.3}%; width: {:.3}%", low * 100.0, (high - low) * 100.0)
            ></div>
        }
    })
}
