//! The span tree as a waterfall (minimap, zoomable time axis, virtualised rows), or the same job
//! as runner lanes, or its tasks as a graph.

use std::sync::Arc;

use leptos::prelude::*;

use super::keyboard::tree_keys;
use super::label_resize::{LabelResize, label_width, label_width_style};
use super::{Minimap, RowWindow, Rows, ViewState, ZoomAxis, ZoomDrag};
use crate::components::{RunnerLanes, TaskGraphView};
use crate::model::waterfall::{FIRST_ROWS, PreparedTrace, SERVER_ROWS, TraceLayout};

#[component]
pub fn Waterfall(
    trace: Arc<PreparedTrace>,
    state: ViewState,
    window: RowWindow,
    drag: ZoomDrag,
) -> impl IntoView {
    let on_key = tree_keys(trace.clone(), state);
    let width = label_width();
    let element = NodeRef::<leptos::html::Div>::new();
    move || {
        if state.layout.get() == TraceLayout::Graph && !trace.tasks.is_empty() {
            return view! {
                <TaskGraphView
                    trace=trace.clone()
                    direction=state.graph_direction
                    set_direction=state.set_graph_direction
                    selected=state.selected
                    select=state.select
                />
            }
            .into_any();
        }
        if state.layout.get() == TraceLayout::Lanes {
            return view! {
                <RunnerLanes
                    spans=trace.spans.clone()
                    origin=trace.origin
                    width=trace.width
                    running_from=trace.first_stand_in
                    now=trace.first_now()
                    selected=state.selected
                    select=state.select
                />
            }
            .into_any();
        }
        let total = trace.spans.len();
        view! {
            <div
                class="waterfall"
                node_ref=element
                style=label_width_style(width)
                role="tree"
                tabindex="0"
                aria-label="Spans (↑/↓ move, ←/→ collapse/expand, Esc clears)"
                on:keydown=on_key.clone()
            >
                <Minimap trace=trace.clone() state drag />
                <div class="waterfall__header">
                    <span class="waterfall__label">
                        "Span"
                        <LabelResize width waterfall=element />
                    </span>
                    <ZoomAxis trace=trace.clone() state drag />
                    <span class="waterfall__duration">"Duration"</span>
                </div>
                <Rows trace=trace.clone() state window />
                {(total > SERVER_ROWS)
                    .then(|| {
                        view! {
                            <noscript>
                                <p class="muted waterfall__noscript">
                                    {format!(
                                        "Without JavaScript only the first {FIRST_ROWS} of {total} spans are shown; the spans download (CSV, JSON) above has them all.",
                                    )}
                                </p>
                            </noscript>
                        }
                    })}
            </div>
        }
        .into_any()
    }
}
