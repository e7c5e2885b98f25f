//! One span's row in the tree: its label (toggle, name, attempt, service), its bar on the time
//! axis with its task's queue wait and its log lines as ticks, and its duration.

use leptos::prelude::*;

use super::ViewState;
use crate::components::use_clock;
use crate::model::waterfall::RowTask;
use crate::model::{LogMark, SpanOutline, TreeRow, format_duration_ns};

/// What one row shows of its span.
pub struct RowData {
    pub row: TreeRow,
    /// Offset from the top of the rows box, px.
    pub top: f64,
    pub span: SpanOutline,
    /// Where its log lines are.
    pub logs: Vec<LogMark>,
    pub task: RowTask,
    /// A running attempt's stand-in: its bar ends at `now`.
    pub growing: bool,
    /// The job's root span that the job outlasted: the job's end (the trace's end; the clock
    /// while tasks run). The row draws the job to there behind the span's own bar.
    pub job_end: Option<i64>,
}

#[component]
pub fn SpanRow(row: RowData, state: ViewState) -> impl IntoView {
    let clock = use_clock();
    let RowData {
        row,
        top,
        span,
        logs,
        task,
        growing,
        job_end,
    } = row;
    let ViewState {
        critical,
        now,
        neighbours,
        scale,
        collapsed,
        toggle,
        selected,
        select,
        ..
    } = state;
    let index = row.index;
    let (start_ns, end_ns) = (span.start_ns, span.end_ns);
    let until = move || {
        if growing {
            now.get().max(start_ns)
        } else {
            end_ns
        }
    };
    let bar_style = move || scale.get().bar_style(start_ns, until());
    let status_css = if growing {
        "running"
    } else {
        span.status_code.css()
    };
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
    let percent = move |t: i64| scale.get().pct(t);
    // Log lines as ticks at their time; hovering shows the line (as text).
    let ticks = logs
        .into_iter()
        .map(|log| {
            let severity = log.severity_label().to_lowercase();
            let at = log.time_ns;
            let style = move || format!("left: {:.3}%", percent(at));
            let label = log.severity_label();
            let title = move || {
                format!(
                    "{label} log line at {} (select the span to read it)",
                    clock.format(at)
                )
            };
            view! {
                <span
                    class=format!("waterfall__tick waterfall__tick--{severity}")
                    style=style
                    title=title
                ></span>
            }
        })
        .collect_view();
    // Before its first attempt a task waited for its dependencies (until `ready_ns`), then for
    // a runner: two segments, told apart by their pattern and title.
    let queue = task.queued_from_ns.map(|from| {
        let started = span.start_ns;
        let ready = task.ready_ns.unwrap_or(from);
        let waited = task.ready_ns.map(|ready| {
            let style = move || scale.get().bar_style(from, ready);
            view! {
                <div
                    class="waterfall__wait"
                    style=style
                    title=format!("waited {} for its dependencies", format_duration_ns(ready - from))
                ></div>
            }
        });
        let style = move || scale.get().bar_style(ready, started);
        view! {
            {waited}
            <div
                class="waterfall__queue"
                style=style
                title=format!("queued {} for a runner", format_duration_ns(started - ready))
            ></div>
        }
    });
    let tag = (!task.tag.is_empty()).then(|| {
        view! {
            <span class="waterfall__tag" title=task.tag.clone()>
                {task.tag.clone()}
            </span>
        }
    });
    let attempt = task.attempt.map(|(n, total)| {
        view! { <span class="waterfall__attempt">{format!("attempt {n}/{total}")}</span> }
    });
    // One class effect per row, not one per modifier: rows are created while scrolling.
    let retry = task.attempt.is_some_and(|(n, _)| n > 1);
    let row_class = move || {
        let mut class = String::from("waterfall__row");
        let mut add = |on: bool, modifier: &str| {
            if on {
                class.push_str(" waterfall__row--");
                class.push_str(modifier);
            }
        };
        add(selected.get() == Some(index), "selected");
        neighbours.with(|n| {
            add(n.0.contains(&index), "waited-for");
            add(n.1.contains(&index), "waiting");
        });
        add(critical.with(|path| path.contains(&index)), "critical");
        add(growing, "running");
        add(retry, "retry");
        class
    };
    let job = job_end.map(|job_end| {
        let job_until = move || now.get().max(job_end);
        let style = move || scale.get().bar_style(start_ns, job_until());
        let title = move || {
            format!(
                "the job: {} from submission to its latest span (this span itself: {})",
                format_duration_ns(job_until() - start_ns),
                format_duration_ns(end_ns - start_ns),
            )
        };
        view! { <div class="waterfall__job" style=style title=title></div> }
    });
    let duration = if growing {
        (move || format_duration_ns(until() - start_ns)).into_any()
    } else if let Some(job_end) = job_end {
        (move || format_duration_ns(now.get().max(job_end) - start_ns)).into_any()
    } else {
        format_duration_ns(end_ns - start_ns).into_any()
    };
    let bar_title = {
        let name = span.name.clone();
        let status = if growing {
            "running"
        } else {
            span.status_code.css()
        };
        move || {
            format!(
                "{name} · {} · {status} · started {}",
                format_duration_ns(until() - start_ns),
                clock.format(start_ns)
            )
        }
    };
    view! {
        <div
            class=row_class
            role="treeitem"
            style=format!("top: {top}px")
            data-span-id=span_id
            aria-selected=move || (selected.get() == Some(index)).to_string()
            on:click=move |_| select.run(Some(index))
        >
            <div class="waterfall__label" style=indent>
                {toggle_button}
                <span class="waterfall__name">{span.name.clone()}</span>
                {tag}
                {attempt}
                <span class="waterfall__service muted">{span.service.clone()}</span>
            </div>
            <div class="waterfall__track">
                {job}
                {queue}
                <div
                    class=format!("waterfall__bar waterfall__bar--{status_css}")
                    style=bar_style
                    title=bar_title
                ></div>
                {ticks}
            </div>
            <span class="waterfall__duration">{duration}</span>
        </div>
    }
}
