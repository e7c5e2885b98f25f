//! The runner-lanes view of a job: one lane per runner with its task spans over time (idle gaps
//! show as empty track) and, above them, how many tasks ran at once.

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::TimeAxis;
use crate::model::{
    SpanOutline, StatusCode, concurrency, format_duration_ns, lane_marks, runner_lanes, thin_steps,
};

/// The height of one row of a lane (px): tasks a runner ran at the same time stack.
const SLOT_PX: usize = 24;

#[component]
pub fn RunnerLanes(
    spans: Arc<Vec<SpanOutline>>,
    origin: i64,
    width: i64,
    /// Spans from this index on are running attempts' stand-ins: their bars reach to `now`.
    running_from: usize,
    now: i64,
    selected: Memo<Option<usize>>,
    select: Callback<Option<usize>>,
) -> impl IntoView {
    let width = width.max(now - origin).max(1);
    let running = move |index: usize| index >= running_from;
    let duration = {
        let spans = spans.clone();
        move |index: usize| {
            let span = &spans[index];
            if running(index) {
                (now - span.start_ns).max(0)
            } else {
                span.duration_ns()
            }
        }
    };
    let lanes = runner_lanes(&spans);
    let tasks: Vec<usize> = lanes.iter().flat_map(|l| l.spans.iter().copied()).collect();
    let steps = concurrency(&spans, &tasks);
    let peak = steps.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let steps = thin_steps(&steps, origin, width);
    let x = |t: i64| (t - origin) as f64 / width as f64 * 1000.0;
    // A step line: horizontal at each count until the next change.
    let mut points = vec![format!("0,40")];
    let mut level = 40.0;
    for (time, count) in &steps {
        let y = 40.0 - (*count as f64 / peak.max(1) as f64 * 36.0);
        points.push(format!("{:.2},{level:.2}", x(*time)));
        points.push(format!("{:.2},{y:.2}", x(*time)));
        level = y;
    }
    points.push(format!("1000,{level:.2}"));
    let curve = points.join(" ");
    let lane_rows = lanes
        .into_iter()
        .map(|lane| {
            let busy: i64 = lane.spans.iter().map(|&i| duration(i)).sum();
            let count = lane.spans.len();
            let summary = [
                lane.service.clone(),
                format!("{count} task{}", if count == 1 { "" } else { "s" }),
                format!("busy {}", format_duration_ns(busy)),
            ]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
            let slot_count = lane.slot_count;
            let end_of = |index: usize| spans[index].start_ns + duration(index);
            let bars = lane_marks(&spans, &lane, width, end_of)
                .into_iter()
                .map(|mark| {
                    let target = mark.target();
                    let span = &spans[target];
                    let left = (mark.start_ns - origin) as f64 / width as f64 * 100.0;
                    let took = mark.end_ns - mark.start_ns;
                    let bar = (took as f64 / width as f64 * 100.0).max(0.2);
                    let count = mark.spans.len();
                    let (status, title) = if count > 1 {
                        let failed = mark
                            .spans
                            .iter()
                            .filter(|&&i| spans[i].status_code == StatusCode::Error)
                            .count();
                        let running = mark.spans.iter().filter(|&&i| running(i)).count();
                        let status = if failed > 0 {
                            "error"
                        } else if running > 0 {
                            "running"
                        } else {
                            "ok"
                        };
                        let mut title = format!("{count} tasks in {}", format_duration_ns(took));
                        if failed > 0 {
                            title.push_str(&format!(", {failed} failed"));
                        }
                        if running > 0 {
                            title.push_str(&format!(", {running} running"));
                        }
                        title.push_str(" · too short to show apart at this width");
                        (status, title)
                    } else if running(target) {
                        (
                            "running",
                            format!("{} · running {}", span.name, format_duration_ns(took)),
                        )
                    } else {
                        (
                            span.status_code.css(),
                            format!("{} · {}", span.name, format_duration_ns(took)),
                        )
                    };
                    let members = mark.spans;
                    let group = count > 1;
                    view! {
                        <div
                            class=format!(
                                "waterfall__bar lanes__bar waterfall__bar--{status}",
                            )
                            class:lanes__bar--group=group
                            class:lanes__bar--selected=move || {
                                selected.get().is_some_and(|s| members.contains(&s))
                            }
                            style=format!(
                                "left: {left:.3}%; width: {bar:.3}%; top: {}px; height: {}px",
                                4 + mark.slot * SLOT_PX,
                                SLOT_PX - 8,
                            )
                            title=title
                            data-span-id=span.span_id.clone()
                            data-tasks=count.to_string()
                            on:click=move |_| select.run(Some(target))
                        ></div>
                    }
                })
                .collect_view();
            view! {
                <div class="lanes__lane" data-runner=lane.runner>
                    <div class="lanes__label">
                        <span class="lanes__runner">{lane.runner.clone()}</span>
                        <span class="muted">{summary}</span>
                    </div>
                    <div
                        class="waterfall__track lanes__track"
                        data-slots=slot_count.to_string()
                        style=format!("height: {}px", 4 + slot_count * SLOT_PX)
                    >
                        {bars}
                    </div>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="lanes" aria-label="Runner lanes">
            <div class="waterfall__header lanes__header">
                <span class="waterfall__label">"Runner"</span>
                <TimeAxis duration_ns=width />
            </div>
            <div class="lanes__lane lanes__concurrency">
                <div class="lanes__label">
                    <span>"Tasks running"</span>
                    <span class="muted">{format!("peak {peak}")}</span>
                </div>
                <svg
                    class="lanes__curve"
                    viewBox="0 0 1000 40"
                    preserveAspectRatio="none"
                    role="img"
                    aria-label=format!("concurrency, peak {peak}")
                >
                    <polyline points=curve />
                </svg>
            </div>
            {lane_rows}
        </div>
    }
}
