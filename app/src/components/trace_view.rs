//! A job's span tree: indented rows with bars on a shared time axis, collapsible, selectable,
//! with each span's log lines under it and a detail panel for the selected span.
//!
//! The selected span lives in the URL (`?span=<span id>`): a link restores it, Back/Forward step
//! through selections. The tree takes the keyboard: ↑/↓ or j/k move, ←/→ collapse/expand (← on a
//! leaf or collapsed node goes to the parent), Esc clears the selection.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

use crate::components::{LogList, SpanPanel, TimeAxis};
use crate::model::{JobTrace, LogRecord, Span, SpanTree, TreeRow, format_duration_ns};

/// Log lines shown under a span's row; the panel shows all of them.
const INLINE_LOGS: usize = 3;

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
    let collapsed = RwSignal::new(HashSet::<String>::new());
    let index_of: Arc<HashMap<String, usize>> = Arc::new(
        spans
            .iter()
            .enumerate()
            .map(|(index, span)| (span.span_id.clone(), index))
            .collect(),
    );
    let query = use_query_map();
    let selected = {
        Memo::new(move |_| {
            query
                .read()
                .get("span")
                .and_then(|id| index_of.get(&id).copied())
        })
    };
    let select = {
        let spans = spans.clone();
        let location = use_location();
        let navigate = use_navigate();
        Callback::new(move |index: Option<usize>| {
            let mut params = query.get_untracked();
            match index {
                Some(index) => params.replace("span", spans[index].span_id.clone()),
                None => {
                    params.remove("span");
                }
            }
            let search = params.to_query_string();
            let path = location.pathname.get_untracked();
            navigate(
                &format!("{path}{search}"),
                NavigateOptions {
                    scroll: false,
                    ..NavigateOptions::default()
                },
            );
        })
    };
    let rows = {
        let (tree, spans) = (tree.clone(), spans.clone());
        Memo::new(move |_| collapsed.with(|collapsed| tree.rows(&spans, collapsed)))
    };
    let expand_all = move |_| collapsed.set(HashSet::new());
    let collapse_all = {
        let spans = spans.clone();
        move |_| {
            collapsed.set(
                tree.rows(&spans, &HashSet::new())
                    .iter()
                    .filter(|row| row.child_count > 0)
                    .map(|row| spans[row.index].span_id.clone())
                    .collect(),
            );
        }
    };
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
                    let id = &spans[visible[at].index].span_id;
                    collapsed.update(|set| {
                        set.remove(id);
                    });
                    None
                }
                ("ArrowLeft", Some(at)) => {
                    let row = &visible[at];
                    let id = spans[row.index].span_id.clone();
                    if row.child_count > 0 && !collapsed.with_untracked(|set| set.contains(&id)) {
                        collapsed.update(|set| {
                            set.insert(id);
                        });
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
    let row_view = {
        let (spans, by_span) = (spans.clone(), by_span.clone());
        move |row: TreeRow| {
            let span = &spans[row.index];
            let logs = by_span.get(&span.span_id).cloned().unwrap_or_default();
            view! { <SpanRow row span=span.clone() logs origin width collapsed selected select /> }
        }
    };
    let panel = {
        let spans = spans.clone();
        move || {
            selected.get().map(|index| {
                let span = spans[index].clone();
                let logs = by_span.get(&span.span_id).cloned().unwrap_or_default();
                view! { <SpanPanel span logs /> }
            })
        }
    };
    view! {
        <section class="trace-view">
            <div class="trace-view__toolbar">
                <button class="button" on:click=expand_all>
                    "Expand all"
                </button>
                <button class="button" on:click=collapse_all>
                    "Collapse all"
                </button>
                <span class="trace-view__count muted">
                    {move || format!("{} of {} spans shown", rows.with(Vec::len), spans.len())}
                </span>
            </div>
            <div class="trace-view__body">
                <div
                    class="waterfall"
                    role="tree"
                    tabindex="0"
                    aria-label="Spans (↑/↓ move, ←/→ collapse/expand, Esc clears)"
                    on:keydown=on_key
                >
                    <div class="waterfall__header">
                        <span class="waterfall__label">"Span"</span>
                        <TimeAxis duration_ns=width />
                        <span class="waterfall__duration">"Duration"</span>
                    </div>
                    <For each=move || rows.get() key=|row| row.index children=row_view.clone() />
                </div>
                {panel}
            </div>
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
    collapsed: RwSignal<HashSet<String>>,
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
    let toggle = {
        let span_id = span_id.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            collapsed.update(|set| {
                if !set.remove(&span_id) {
                    set.insert(span_id.clone());
                }
            });
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
                on:click=toggle
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
