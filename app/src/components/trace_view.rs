//! A job's span tree: indented rows with bars on a shared time axis, collapsible, searchable,
//! selectable, with log lines as ticks on their span's bar, a task's queue wait before its
//! first attempt, retries numbered, dependencies drawn as edges between task rows, the critical
//! path on demand, and a detail panel for the selected span; or the same job as runner lanes.
//!
//! The view lives in the URL, so a link restores it and Back/Forward step through changes:
//! `span` (selected span id), `q` (search), `collapsed` (span ids, `.`-separated), `view`
//! (`lanes`), `critical` (`1`: the critical path is marked), `zoom` (`<from>-<to>`, ns after the
//! trace's start; drag across the axis or the minimap to zoom, ◀ ▶ pan, Reset), `min` (ns: spans
//! shorter than this are hidden with their children; roots stay), `fold` (`1`) and `unfold`
//! (span ids), and the log panel's `logs` (severity floor), `logq` (search) and `logsub` (`1`:
//! include child spans' lines); their text forms are in `model/waterfall/url_state.rs`. The
//! tree takes the keyboard: ↑/↓ or j/k move, ←/→ collapse/expand (← on a leaf or collapsed node
//! goes to the parent), Esc clears the selection, `/` jumps to the search.
//!
//! Props only: the page hands in the prepared trace, its URL ([`QueryWriter`]) and what to load
//! from the server ([`TraceLoads`]).

mod edges;
mod fold_row;
mod keyboard;
mod label_resize;
mod loads;
mod minimap;
mod panel;
mod rows;
mod span_row;
mod state;
mod toolbar;
mod url;
mod waterfall;
mod zoom;

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::LogList;
use crate::model::waterfall::PreparedTrace;
use edges::DependencyEdges;
use fold_row::FoldRow;
pub use loads::{SpanDetail, SpanLogs, TraceLoads};
use minimap::Minimap;
use panel::SelectedSpan;
use rows::{RowWindow, Rows};
use span_row::{RowData, SpanRow};
use state::ViewState;
use toolbar::Toolbar;
pub use url::QueryWriter;
use waterfall::Waterfall;
use zoom::{ZoomAxis, ZoomDrag};

#[component]
pub fn TraceView(
    trace: Arc<PreparedTrace>,
    /// The page's URL: the view's state.
    url: QueryWriter,
    loads: TraceLoads,
) -> impl IntoView {
    let state = ViewState::new(&trace, url, &loads);
    let window = RowWindow::new(state.rows);
    let drag = ZoomDrag::new(state, &trace);
    keyboard::focus_search_on_slash();
    let waterfall = view! { <Waterfall trace=trace.clone() state window drag /> };
    let panel = view! { <SelectedSpan trace=trace.clone() state loads /> };
    let unattached_logs = trace.unattached_logs.clone();
    let unattached_total = trace.unattached_total;
    view! {
        <section class="trace-view">
            <Toolbar trace state />
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
