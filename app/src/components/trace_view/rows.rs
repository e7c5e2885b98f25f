//! The span tree's rows, virtualised: only the rows in (and near) the scrolled-to window exist in
//! the DOM, so a trace of 100,000 spans scrolls like one of 100.

use std::sync::Arc;

use leptos::prelude::*;

use super::{DependencyEdges, FoldRow, RowData, SpanRow, ViewState};
use crate::components::ScrollBox;
use crate::model::waterfall::{
    FIRST_ROWS, PreparedTrace, ROW_PX, renders_all, row_top, rows_height, window_range,
};
use crate::model::{FoldSummary, TreeRow};

/// The scrolling box of the span tree (`style/waterfall.css` caps its height).
pub const SCROLLER_ID: &str = "waterfall-scroll";

/// Where the rows box is scrolled, and the rows rendered there.
#[derive(Clone, Copy)]
pub struct RowWindow {
    scroll: ScrollBox,
    /// The rendered rows with their positions among all shown rows.
    pub rows: Memo<Vec<(usize, TreeRow)>>,
    /// Whether the page runs in the browser (hydrated).
    pub mounted: RwSignal<bool>,
}

impl RowWindow {
    pub fn new(rows: Memo<Vec<TreeRow>>) -> Self {
        let memory = crate::components::use_scroll_memory().map(|m| m.rows);
        let scroll = ScrollBox::new(FIRST_ROWS as f64 * ROW_PX, memory);
        // The server renders every row of a trace up to SERVER_ROWS (readable without
        // JavaScript), the first screenful of a bigger one; the browser starts the same and
        // narrows to the window once it runs.
        let running = RwSignal::new(false);
        Effect::new(move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(scroller) = document().get_element_by_id(SCROLLER_ID) {
                scroll.mounted(scroller, ROW_PX);
            }
            running.set(true);
        });
        let window = Memo::new(move |_| {
            let (top, height) = (scroll.top.get(), scroll.height.get());
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
            scroll,
            rows: window,
            mounted,
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
        <div class="waterfall__scroll" id=SCROLLER_ID on:scroll=move |ev| window.scroll.on_scroll(ev)>
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
