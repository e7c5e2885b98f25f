//! The Graph view of a workflow job: its tasks as the diagram `VisualizeJob` answers (one
//! layout and one drawing, `model::graph`), sharing the trace view's selection: clicking a
//! task selects its latest attempt's span (the span panel opens, the waterfall shows it
//! selected), and a span selected elsewhere outlines the task it belongs to.

use std::sync::Arc;

use leptos::prelude::*;

use crate::model::graph::{Direction, GraphOptions, Theme, graph_svg, task_graph};
use crate::model::waterfall::PreparedTrace;

#[component]
pub fn TaskGraphView(
    trace: Arc<PreparedTrace>,
    direction: Memo<Direction>,
    set_direction: Callback<Direction>,
    selected: Memo<Option<usize>>,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let graph = {
        let trace = trace.clone();
        Memo::new(move |_| {
            let options = GraphOptions {
                direction: direction.get(),
                padding: 8.0,
                title: None,
            };
            Arc::new(task_graph(&trace.tasks, &options))
        })
    };
    // A task clicked that has no span yet (queued): outlined, nothing selected, until a span
    // is selected (then that span's task is outlined, and clearing it outlines nothing).
    let clicked = RwSignal::new(None::<usize>);
    Effect::new(move |_| {
        if selected.get().is_some() {
            clicked.set(None);
        }
    });
    let shown_node = {
        let trace = trace.clone();
        move || {
            let graph = graph.get();
            match selected.get() {
                Some(span) => task_of_span(&trace, span).and_then(|task| graph.node_of(task)),
                None => clicked.get(),
            }
        }
    };
    let svg = move || graph_svg(&graph.get(), Theme::Light, shown_node());
    let pick = move |node: usize| {
        let graph = graph.get_untracked();
        let Some(node) = graph.nodes.get(node) else {
            return;
        };
        let span = span_of_node(&trace, node.tasks.as_slice());
        clicked.set(graph.node_of(node.tasks[0]));
        select.run(span);
    };
    let on_click = {
        let pick = pick.clone();
        move |ev: leptos::ev::MouseEvent| {
            if let Some(node) = node_under(&ev) {
                pick(node);
            }
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if (ev.key() == "Enter" || ev.key() == " ")
            && let Some(node) = node_under(&ev)
        {
            ev.prevent_default();
            pick(node);
        }
    };
    let note = move || {
        let graph = graph.get();
        let boxes = graph.nodes.len();
        let tasks = graph.task_count;
        if boxes < tasks {
            format!(
                "{tasks} tasks in {boxes} boxes: alike siblings, and subtasks past the drawing's limits, are counted in one"
            )
        } else {
            format!("{tasks} task{}", if tasks == 1 { "" } else { "s" })
        }
    };
    view! {
        <div class="graph" aria-label="Task graph">
            <div class="graph__bar">
                <span class="muted">{note}</span>
                <div class="trace-view__views" role="group" aria-label="Direction">
                    <button
                        class="button"
                        aria-pressed=move || (direction.get() == Direction::Down).to_string()
                        on:click=move |_| set_direction.run(Direction::Down)
                    >
                        "Top to bottom"
                    </button>
                    <button
                        class="button"
                        aria-pressed=move || (direction.get() == Direction::Right).to_string()
                        on:click=move |_| set_direction.run(Direction::Right)
                    >
                        "Left to right"
                    </button>
                </div>
            </div>
            <div class="graph__canvas" on:click=on_click on:keydown=on_key inner_html=svg></div>
        </div>
    }
}

/// The task a span belongs to: its own attempt's, or the nearest attempt above it.
fn task_of_span(trace: &PreparedTrace, span: usize) -> Option<usize> {
    let mut at = span;
    // Bounded by the tree's depth; a cycle of parent ids (hostile spans) ends at the bound.
    for _ in 0..trace.spans.len() {
        if let Some(&(task, _)) = trace.overlay.attempt_of.get(&at) {
            return Some(task);
        }
        let parent = trace.spans[at].parent_span_id.as_deref()?;
        at = *trace.index_of.get(parent)?;
    }
    None
}

/// The span a click on a box selects: the latest attempt of its first failed task, else of its
/// first task with an attempt.
fn span_of_node(trace: &PreparedTrace, tasks: &[usize]) -> Option<usize> {
    let failed = tasks
        .iter()
        .find(|&&t| trace.tasks[t].state == "FAILED" && !trace.overlay.attempts[t].is_empty());
    failed
        .or_else(|| {
            tasks
                .iter()
                .find(|&&t| !trace.overlay.attempts[t].is_empty())
        })
        .and_then(|&t| trace.overlay.attempts[t].last().copied())
}

/// The box (its `data-node`) an event happened on.
fn node_under(ev: &leptos::ev::Event) -> Option<usize> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let element = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
        let node = element.closest("[data-node]").ok()??;
        node.get_attribute("data-node")?.parse().ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}
