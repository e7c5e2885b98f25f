//! Dependency edges between the visible rows of tasks, from the end of the dependency's last
//! attempt to the start of the dependent's first; the selected task's edges stand out.
//!
//! Drawn in the browser only (after hydration): server-rendered SVG paths between the rows
//! tripped Leptos' hydration, and without JavaScript there is no selection to follow anyway.

use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;

use super::{RowWindow, ViewState};
use crate::model::waterfall::{PreparedTrace, attempt_rows, edge_paths, rows_height};

#[component]
pub fn DependencyEdges(
    trace: Arc<PreparedTrace>,
    state: ViewState,
    window: RowWindow,
) -> impl IntoView {
    let ViewState {
        rows,
        scale,
        selected,
        ..
    } = state;
    // Where each task attempt's row is among the shown rows: computed when the rows change,
    // not on every scrolled frame (a trace without dependencies needs none of it).
    let positions = {
        let trace = trace.clone();
        Memo::new(move |_| {
            if trace.overlay.edges.is_empty() {
                return Arc::new((0, HashMap::new()));
            }
            rows.with(|rows| Arc::new((rows.len(), attempt_rows(&trace.overlay, rows))))
        })
    };
    move || {
        if !window.mounted.get() || trace.overlay.edges.is_empty() {
            return ().into_any();
        }
        let shown = positions.get();
        let (shown_rows, rows_at) = (shown.0, &shown.1);
        // Edges with an end in the rendered window (or crossing it) only.
        let bounds = window.bounds();
        let paths = edge_paths(
            &trace.overlay,
            &trace.spans,
            rows_at,
            bounds,
            scale.get(),
            selected.get(),
        )
        .into_iter()
        .map(|edge| {
            view! {
                <path
                    class="waterfall__edge"
                    class:waterfall__edge--selected=edge.selected
                    d=edge.d
                    data-from=trace.spans[edge.from].span_id.clone()
                    data-to=trace.spans[edge.to].span_id.clone()
                />
            }
        })
        .collect_view();
        let height = rows_height(shown_rows).max(1.0);
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
}
