//! A folded run of same-name siblings as one row: how many, their median duration, how many
//! failed, one bar from the first start to the last end; opening it shows each span again.

use leptos::prelude::*;

use super::ViewState;
use crate::model::{FoldSummary, SpanOutline, format_duration_ns};

#[component]
pub fn FoldRow(
    /// The run's first span: the row's id and name.
    first: SpanOutline,
    summary: FoldSummary,
    depth: usize,
    /// Offset from the top of the rows box, px.
    top: f64,
    state: ViewState,
) -> impl IntoView {
    let ViewState { scale, unfold, .. } = state;
    let FoldSummary {
        count,
        p50_ns,
        failed,
        start_ns,
        end_ns,
        failures,
    } = summary;
    let bar_style = move || scale.get().bar_style(start_ns, end_ns);
    let facts = if failed > 0 {
        format!("p50 {}, {failed} failed", format_duration_ns(p50_ns))
    } else {
        format!("p50 {}", format_duration_ns(p50_ns))
    };
    // Red only where members failed (all red only when all did): one failure in nine is not a
    // failed bar.
    let status = if failed == count { "error" } else { "ok" };
    let failure_marks = (failed < count).then(|| {
        failures
            .into_iter()
            .map(|(from, to)| {
                let style = move || scale.get().bar_style(from, to);
                view! { <div class="waterfall__fold-failure" style=style></div> }
            })
            .collect_view()
    });
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
                {failure_marks}
            </div>
            <span class="waterfall__duration">{format_duration_ns(end_ns - start_ns)}</span>
        </div>
    }
}
