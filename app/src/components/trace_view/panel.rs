//! The selected span's detail panel: its details and log lines, loaded through the page, and the
//! log filters kept in the URL (`logs`, `logq`, `logsub`).

use std::sync::Arc;

use leptos::prelude::*;

use super::{TraceLoads, ViewState};
use crate::components::{LogFilters, SpanPanel};
use crate::model::waterfall::{PreparedTrace, SubtreeLogs, is_on, parse_log_floor};

#[component]
pub fn SelectedSpan(
    trace: Arc<PreparedTrace>,
    state: ViewState,
    loads: TraceLoads,
) -> impl IntoView {
    let ViewState {
        url,
        selected,
        select,
        ..
    } = state;
    let log_filters = LogFilters {
        floor: Memo::new(move |_| parse_log_floor(url.get("logs").as_deref())),
        text: Memo::new(move |_| url.get("logq").unwrap_or_default()),
        subtree: Memo::new(move |_| is_on(url.get("logsub").as_deref())),
        set: Callback::new(move |(key, value): (&'static str, Option<String>)| {
            // Typing in the search replaces the history entry; the other filters push one.
            url.set(key, value, key == "logq");
        }),
    };
    move || {
        selected.get().map(|index| {
            let span = trace.spans[index].clone();
            // Which spans of its subtree have log lines, and how many (the skeleton knows
            // where lines are; their bodies load below).
            let SubtreeLogs {
                own,
                total,
                own_ids,
                subtree_ids,
            } = trace.subtree_logs(index);
            let ids = Signal::derive(move || {
                if log_filters.subtree.get() {
                    subtree_ids.clone()
                } else {
                    own_ids.clone()
                }
            });
            let logs = (loads.span_logs)(ids);
            // A running attempt's stand-in has no stored span to detail yet.
            let detail = (!trace.is_stand_in(index)).then(|| (loads.span_detail)(index));
            let self_time_ns = trace.tree.self_time_ns(&trace.spans, index);
            let task_tag = trace
                .row_tasks
                .get(&index)
                .map(|task| task.tag.clone())
                .unwrap_or_default();
            let parent = span
                .parent_span_id
                .as_ref()
                .and_then(|id| trace.index_of.get(id).copied());
            view! {
                <SpanPanel
                    span
                    trace_id=trace.trace_id.clone()
                    index
                    detail
                    logs
                    log_counts=(own, total)
                    self_time_ns
                    task_tag
                    parent
                    log_filters
                    select
                />
            }
        })
    }
}
