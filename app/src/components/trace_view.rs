//! A job's span tree: indented rows with bars on a shared time axis, collapsible, searchable,
//! selectable, with each span's log lines under it and a detail panel for the selected span;
//! or the same job as runner lanes.
//!
//! The view lives in the URL, so a link restores it and Back/Forward step through changes:
//! `span` (selected span id), `q` (search), `collapsed` (span ids, `.`-separated), `view`
//! (`lanes`). The tree takes the keyboard: ↑/↓ or j/k move, ←/→ collapse/expand (← on a leaf or
//! collapsed node goes to the parent), Esc clears the selection, `/` jumps to the search.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use crate::components::{CopyButton, LogList, RunnerLanes, SpanPanel, TimeAxis};
use crate::model::{JobTrace, LogRecord, Span, SpanQuery, SpanTree, TreeRow, format_duration_ns};

/// Log lines shown under a span's row; the panel shows all of them.
const INLINE_LOGS: usize = 3;

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
        job, spans, logs, ..
    } = trace;
    let origin = spans
        .iter()
        .map(|s| s.start_ns)
        .min()
        .unwrap_or(job.start_ns);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(job.end_ns);
    let width = (end - origin).max(1);
    let mut by_span: HashMap<String, Vec<LogRecord>> = HashMap::new();
    let mut unattached = Vec::new();
    for log in logs {
        match &log.span_id {
            Some(span_id) => by_span.entry(span_id.clone()).or_default().push(log),
            None => unattached.push(log),
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

    let selected = Memo::new(move |_| url.get("span").and_then(|id| index_of.get(&id).copied()));
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
    let lanes_view = Memo::new(move |_| url.get("view").as_deref() == Some("lanes"));

    let matching = {
        let spans = spans.clone();
        Memo::new(move |_| {
            let query = SpanQuery::parse(&search.get());
            (!query.is_empty()).then(|| spans.iter().map(|s| query.matches(s)).collect::<Vec<_>>())
        })
    };
    let rows = {
        let (tree, spans) = (tree.clone(), spans.clone());
        Memo::new(move |_| {
            let keep = matching.with(|m| m.as_ref().map(|m| tree.keep_with_ancestors(m)));
            collapsed.with(|collapsed| tree.rows_where(&spans, collapsed, keep.as_deref()))
        })
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
                scroll_into_view(&spans[index].span_id);
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
        move |row: TreeRow| {
            let span = &spans[row.index];
            let logs = by_span.get(&span.span_id).cloned().unwrap_or_default();
            view! { <SpanRow row span=span.clone() logs origin width collapsed toggle selected select /> }
        }
    };
    let panel = {
        let spans = spans.clone();
        move || {
            selected.get().map(|index| {
                let span = spans[index].clone();
                let logs = by_span.get(&span.span_id).cloned().unwrap_or_default();
                let self_time_ns = tree.self_time_ns(&spans, index);
                view! { <SpanPanel span logs self_time_ns /> }
            })
        }
    };
    let count = {
        let spans = spans.clone();
        move || match matching.get() {
            Some(matching) => {
                let hits = matching.iter().filter(|hit| **hit).count();
                format!("{hits} of {} spans match", spans.len())
            }
            None => format!("{} of {} spans shown", rows.with(Vec::len), spans.len()),
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
                    <div class="waterfall__header">
                        <span class="waterfall__label">"Span"</span>
                        <TimeAxis duration_ns=width />
                        <span class="waterfall__duration">"Duration"</span>
                    </div>
                    <For each=move || rows.get() key=|row| row.index children=row_view.clone() />
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
                <button class="button" on:click=expand_all>
                    "Expand all"
                </button>
                <button class="button" on:click=collapse_all>
                    "Collapse all"
                </button>
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
            {(!unattached.is_empty())
                .then(|| {
                    view! {
                        <h2>"Logs outside any span"</h2>
                        <LogList logs=unattached />
                    }
                })}
        </section>
    }
}

#[component]
fn SpanRow(
    row: TreeRow,
    span: Span,
    logs: Vec<LogRecord>,
    origin: i64,
    width: i64,
    collapsed: Memo<HashSet<String>>,
    toggle: Callback<String>,
    selected: Memo<Option<usize>>,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let index = row.index;
    let left = (span.start_ns - origin) as f64 / width as f64 * 100.0;
    let bar_width = (span.duration_ns() as f64 / width as f64 * 100.0).max(0.2);
    let bar_style = format!("left: {left:.3}%; width: {bar_width:.3}%");
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
    let log_count = logs.len();
    let inline_logs = (!logs.is_empty()).then(|| {
        let more = log_count.saturating_sub(INLINE_LOGS);
        let shown: Vec<LogRecord> = logs.into_iter().take(INLINE_LOGS).collect();
        let lines = shown
            .into_iter()
            .map(|log| {
                let severity = log.severity_label().to_owned();
                let class = format!(
                    "log-list__severity log-list__severity--{}",
                    severity.to_lowercase()
                );
                view! {
                    <li>
                        <span class=class>{severity}</span>
                        " "
                        <span class="log-list__body">{log.body}</span>
                    </li>
                }
            })
            .collect_view();
        let indent = indent.clone();
        view! {
            <ul class="waterfall__logs" style=indent>
                {lines}
                {(more > 0).then(|| view! { <li class="muted">{format!("… {more} more")}</li> })}
            </ul>
        }
    });
    view! {
        <div
            class="waterfall__row"
            class:waterfall__row--selected=move || selected.get() == Some(index)
            role="treeitem"
            data-span-id=span_id
            aria-selected=move || (selected.get() == Some(index)).to_string()
            on:click=move |_| select.run(Some(index))
        >
            <div class="waterfall__label" style=indent>
                {toggle_button}
                <span class="waterfall__name">{span.name.clone()}</span>
                <span class="waterfall__service muted">{span.service_name().to_owned()}</span>
            </div>
            <div class="waterfall__track">
                <div
                    class=format!("waterfall__bar waterfall__bar--{}", span.status_code.css())
                    style=bar_style
                ></div>
            </div>
            <span class="waterfall__duration">{format_duration_ns(span.duration_ns())}</span>
        </div>
        {inline_logs}
    }
}

/// Keeps the row of `span_id` visible after a keyboard move (browser only).
fn scroll_into_view(span_id: &str) {
    #[cfg(feature = "hydrate")]
    {
        let selector = format!(".waterfall__row[data-span-id=\"{span_id}\"]");
        if let Some(row) = document().query_selector(&selector).ok().flatten() {
            row.scroll_into_view_with_bool(false);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = span_id;
}
