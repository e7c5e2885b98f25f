//! The span tree's rows, virtualised: only the rows in (and near) the scrolled-to window exist in
//! the DOM, so a trace of 100,000 spans scrolls like one of 100.

use std::sync::Arc;

use leptos::prelude::*;

use super::{DependencyEdges, FoldRow, RowData, SpanRow, ViewState};
use crate::model::waterfall::{
    FIRST_ROWS, PreparedTrace, ROW_PX, renders_all, row_top, rows_height, window_range,
};
use crate::model::{FoldSummary, TreeRow};

/// The scrolling box of the span tree (`style/waterfall.css` caps its height).
pub const SCROLLER_ID: &str = "waterfall-scroll";

/// Where the rows box is scrolled, and the rows rendered there.
#[derive(Clone, Copy)]
pub struct RowWindow {
    scroll_top: RwSignal<f64>,
    viewport: RwSignal<f64>,
    /// The rendered rows with their positions among all shown rows.
    pub rows: Memo<Vec<(usize, TreeRow)>>,
    /// Whether the page runs in the browser (hydrated).
    pub mounted: RwSignal<bool>,
    /// Where the rows were scrolled before a live reload rebuilt them.
    memory: Option<StoredValue<f64>>,
}

impl RowWindow {
    pub fn new(rows: Memo<Vec<TreeRow>>) -> Self {
        let scroll_top = RwSignal::new(0.0_f64);
        let viewport = RwSignal::new(FIRST_ROWS as f64 * ROW_PX);
        // The server renders every row of a trace up to SERVER_ROWS (readable without
        // JavaScript), the first screenful of a bigger one; the browser starts the same and
        // narrows to the window once it runs.
        let running = RwSignal::new(false);
        let memory = crate::components::use_scroll_memory().map(|m| m.rows);
        Effect::new(move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(scroller) = document().get_element_by_id(SCROLLER_ID) {
                viewport.set(f64::from(scroller.client_height()).max(ROW_PX));
                scroll_top.set(crate::components::scroll_memory::restore_scroll(
                    &scroller, memory,
                ));
            }
            running.set(true);
        });
        let window = Memo::new(move |_| {
            let (top, height) = (scroll_top.get(), viewport.get());
            let count = rows.with(Vec::len);
            let (start, end) = window_range(top, height, count, renders_all(running.get(), count));
            rows.with(|rows| {
                rows[start..end]
                    .iter()
                    .enumerate()
                    .map(|(at, row)| (start + at, row.clone()))
                    .collect::<Vec<_>>()
            })
        });
        let mounted = RwSignal::new(false);
        Effect::new(move |_| mounted.set(true));
        RowWindow {
            scroll_top,
            viewport,
            rows: window,
            mounted,
            memory,
        }
    }

    /// The first and last rendered rows' positions (0 when none).
    pub fn bounds(self) -> (usize, usize) {
        self.rows.with(|w| {
            (
                w.first().map_or(0, |(at, _)| *at),
                w.last().map_or(0, |(at, _)| *at),
            )
        })
    }

    fn on_scroll(self, ev: leptos::ev::Event) {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            if let Some(el) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                let top = f64::from(el.scroll_top());
                self.scroll_top.set(top);
                self.viewport.set(f64::from(el.client_height()));
                if let Some(memory) = self.memory {
                    memory.set_value(top);
                }
            }
        }
        // Without the browser there is no scrolling.
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, self.scroll_top, self.viewport, self.memory);
    }
}

/// The scrolling box with the rendered rows and the dependency edges between them.
#[component]
pub fn Rows(trace: Arc<PreparedTrace>, state: ViewState, window: RowWindow) -> impl IntoView {
    let rows = state.rows;
    let row_view = {
        let trace = trace.clone();
        move |(at, row): (usize, TreeRow)| {
            let top = row_top(at);
            if let Some(members) = row.fold.clone() {
                let summary = FoldSummary::of(&trace.spans, &members);
                let first = trace.spans[row.index].clone();
                return view! { <FoldRow first summary depth=row.depth top state /> }.into_any();
            }
            let span = trace.spans[row.index].clone();
            let row = RowData {
                logs: trace.marks.get(&span.span_id).cloned().unwrap_or_default(),
                task: trace.row_tasks.get(&row.index).cloned().unwrap_or_default(),
                growing: trace.is_stand_in(row.index),
                job_end: (trace.job_root == Some(row.index)).then_some(trace.end),
                top,
                span,
                row,
            };
            view! { <SpanRow row state /> }.into_any()
        }
    };
    view! {
        <div class="waterfall__scroll" id=SCROLLER_ID on:scroll=move |ev| window.on_scroll(ev)>
            <div
                class="waterfall__rows"
                style=move || format!("height: {}px", rows_height(rows.with(Vec::len)))
            >
                <DependencyEdges trace state window />
                <For
                    each=move || window.rows.get()
                    key=|(at, row)| {
                        let fold = row.fold.as_ref().map(|f| (f.len(), f.last().copied()));
                        (*at, row.index, fold)
                    }
                    children=row_view
                />
            </div>
        </div>
    }
}
