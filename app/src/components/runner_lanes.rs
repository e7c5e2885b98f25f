//! The runner-lanes view of a job: one lane per runner with its task spans over time (idle gaps
//! show as empty track) and, above them, how many tasks ran at once.

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::ScrollBox;
use crate::components::TimeAxis;
use crate::model::waterfall::{SLOT_PX, lane_height, lane_tops, lanes_in_view};
use crate::model::{
    SpanOutline, StatusCode, concurrency, format_duration_ns, lane_marks, runner_lanes, thin_steps,
};

/// How high the lanes box is taken to be before the browser measures it (px).
const FIRST_VIEWPORT_PX: f64 = 900.0;

/// A lane, ready to draw.
struct LaneView {
    runner: String,
    summary: String,
    slot_count: usize,
    marks: Vec<MarkView>,
}

/// A mark in a lane, ready to draw.
struct MarkView {
    style: String,
    status: &'static str,
    title: String,
    span_id: String,
    /// The span a click selects.
    target: usize,
    /// The spans it stands for.
    members: Vec<usize>,
}

/// Which mark of its lane a click on a track hit (its bar's `data-mark`).
fn clicked_mark(ev: &leptos::ev::MouseEvent) -> Option<usize> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        ev.target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest(".lanes__bar").ok().flatten())
            .and_then(|bar| bar.get_attribute("data-mark"))
            .and_then(|at| at.parse::<usize>().ok())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// A lane's bars as markup, `chosen` the selected one: the browser parses a lane's bars in
/// one call, where creating them as nodes from wasm took seven calls a bar (element, class,
/// style, title, three data attributes), and about six lanes of 100 bars enter the box each
/// frame of a fast scroll. Every text is escaped (a span's name is the sender's).
fn bars_markup(marks: &[MarkView], chosen: Option<usize>) -> String {
    use crate::model::escape_markup;
    let mut markup = String::with_capacity(marks.len() * 240);
    for (at, mark) in marks.iter().enumerate() {
        let group = if mark.members.len() > 1 {
            " lanes__bar--group"
        } else {
            ""
        };
        let picked = if chosen == Some(at) {
            " lanes__bar--selected"
        } else {
            ""
        };
        markup.push_str(&format!(
            "<div class=\"waterfall__bar lanes__bar waterfall__bar--{}{group}{picked}\" \
             style=\"{}\" title=\"{}\" data-span-id=\"{}\" data-tasks=\"{}\" \
             data-mark=\"{at}\"></div>",
            escape_markup(mark.status),
            escape_markup(&mark.style),
            escape_markup(&mark.title),
            escape_markup(&mark.span_id),
            mark.members.len(),
        ));
    }
    markup
}

/// One lane at `top` px in the lanes box. Its bars are plain markup (no reactive node or
/// handler each: lanes entering the box while it scrolls are built in the frame): the lane
/// redraws them when the selection enters or leaves it, and one handler on the track finds the
/// clicked bar by its `data-mark`.
fn lane_view(
    lanes: Arc<Vec<LaneView>>,
    index: usize,
    top: usize,
    selected: Memo<Option<usize>>,
    select: Callback<Option<usize>>,
) -> AnyView {
    let lane = &lanes[index];
    let (runner, summary, slot_count) =
        (lane.runner.clone(), lane.summary.clone(), lane.slot_count);
    let label = runner.clone();
    let chosen = {
        let lanes = lanes.clone();
        Memo::new(move |_| {
            let span = selected.get()?;
            lanes[index]
                .marks
                .iter()
                .position(|mark| mark.members.contains(&span))
        })
    };
    let bars = {
        let lanes = lanes.clone();
        move || bars_markup(&lanes[index].marks, chosen.get())
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(mark) = clicked_mark(&ev).and_then(|at| lanes[index].marks.get(at)) {
            select.run(Some(mark.target));
        }
    };
    view! {
        <div
            class="lanes__lane"
            data-runner=runner
            style=format!("top: {top}px; height: {}px", lane_height(slot_count))
        >
            <div class="lanes__label">
                <span class="lanes__runner">{label}</span>
                <span class="muted">{summary}</span>
            </div>
            <div
                class="waterfall__track lanes__track"
                data-slots=slot_count.to_string()
                style=format!("height: {}px", 4 + slot_count * SLOT_PX)
                on:click=on_click
                inner_html=bars
            ></div>
        </div>
    }
    .into_any()
}

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
    let lanes: Vec<LaneView> = lanes
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
            let end_of = |index: usize| spans[index].start_ns + duration(index);
            let marks = lane_marks(&spans, &lane, width, end_of)
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
                    MarkView {
                        style: format!(
                            "left: {left:.3}%; width: {bar:.3}%; top: {}px; height: {}px",
                            4 + mark.slot * SLOT_PX,
                            SLOT_PX - 8,
                        ),
                        status,
                        title,
                        span_id: span.span_id.clone(),
                        target,
                        members: mark.spans,
                    }
                })
                .collect();
            LaneView {
                runner: lane.runner,
                summary,
                slot_count: lane.slot_count,
                marks,
            }
        })
        .collect();
    // Only the lanes near the scrolled part of the box are in the DOM (a job may have
    // thousands of runners); the box keeps the whole height, the lanes sit at their tops.
    let (tops, total) = lane_tops(lanes.iter().map(|lane| lane.slot_count));
    let lanes = Arc::new(lanes);
    // Where the lanes were scrolled before a live reload rebuilt them.
    let memory = crate::components::use_scroll_memory().map(|m| m.lanes);
    let scroll = ScrollBox::new(FIRST_VIEWPORT_PX, memory);
    let tops = Arc::new(tops);
    let in_view = {
        let tops = tops.clone();
        Memo::new(move |_| {
            let range = lanes_in_view(&tops, scroll.top.get(), scroll.height.get());
            range.collect::<Vec<usize>>()
        })
    };
    let scroller = NodeRef::<leptos::html::Div>::new();
    // Once in the browser, the box's real height.
    Effect::new(move |_| {
        if let Some(el) = scroller.get() {
            #[cfg(feature = "hydrate")]
            scroll.mounted(el.into(), 1.0);
            #[cfg(not(feature = "hydrate"))]
            let _ = el;
        }
    });
    let lane_rows = view! {
        <div class="lanes__scroll" node_ref=scroller on:scroll=move |ev| scroll.on_scroll(ev)>
            <div class="lanes__lanes" style=format!("height: {total}px")>
                <For
                    each=move || in_view.get()
                    key=|index| *index
                    children=move |index| {
                        lane_view(lanes.clone(), index, tops[index], selected, select)
                    }
                />
            </div>
        </div>
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(title: &str, members: Vec<usize>) -> MarkView {
        MarkView {
            style: "left: 1.000%; width: 2.000%; top: 4px; height: 12px".to_owned(),
            status: "error",
            title: title.to_owned(),
            span_id: "00000000000000a1".to_owned(),
            target: members[0],
            members,
        }
    }

    #[test]
    fn test_bars_markup_escapes_the_senders_text_and_marks_the_chosen_bar() {
        let marks = [
            mark(
                "<img src=x onerror=alert(1)> \"quoted\" & 'single'",
                vec![3],
            ),
            mark("2 tasks", vec![4, 5]),
        ];
        let markup = bars_markup(&marks, Some(1));
        assert!(!markup.contains("<img"), "{markup}");
        assert!(markup.contains(
            "title=\"&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; &#39;single&#39;\""
        ));
        assert_eq!(markup.matches("<div ").count(), 2);
        assert_eq!(markup.matches("lanes__bar--selected").count(), 1);
        assert!(markup.contains(
            "waterfall__bar--error lanes__bar--group lanes__bar--selected\" \
             style=\"left: 1.000%; width: 2.000%; top: 4px; height: 12px\""
        ));
        assert!(
            markup.contains("data-span-id=\"00000000000000a1\" data-tasks=\"2\" data-mark=\"1\"")
        );
        assert!(!bars_markup(&marks, None).contains("selected"));
    }
}
