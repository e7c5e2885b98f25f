//! The duration scatter above the job list: one dot per listed job, a link to it.

use leptos::prelude::*;

use crate::components::use_clock;
use crate::model::{Scatter, format_duration_ns};

#[component]
pub fn JobScatter(scatter: Scatter) -> impl IntoView {
    let clock = use_clock();
    let Scatter {
        points,
        first_start_ns,
        last_start_ns,
        max_duration_ns,
    } = scatter;
    let dots = points
        .into_iter()
        .map(|point| {
            // Kept off the plot's edges so a whole dot shows at 0 and 100 %.
            let style = format!(
                "left: calc(6px + {:.3}% * 0.98); bottom: calc(6px + {:.3}% * 0.9)",
                point.x * 100.0,
                point.y * 100.0
            );
            let (name, start, duration) = (point.name, point.start_ns, point.duration_ns);
            // "started" only in the tooltip: the name must not say it twice to a screen reader
            // (the table's *Started* header is a link too).
            let label = move |started: &str| {
                format!(
                    "{name} · {} · {} · {started}{}",
                    point.state.as_str(),
                    format_duration_ns(duration),
                    clock.format(start)
                )
            };
            let (label, title) = (label.clone(), move || label("started "));
            view! {
                <a
                    class=format!("job-scatter__dot job-scatter__dot--{}", point.state.css())
                    href=format!("/jobs/{}", point.id)
                    style=style
                    title=title
                    aria-label=move || label("")
                    data-job-id=point.id
                ></a>
            }
        })
        .collect_view();
    view! {
        <figure class="job-scatter" aria-label="Duration of each listed job by its start">
            <div class="job-scatter__plot">{dots}</div>
            <span class="job-scatter__max">{format_duration_ns(max_duration_ns)}</span>
            <span class="job-scatter__zero">"0"</span>
            <span class="job-scatter__from">{move || clock.format(first_start_ns)}</span>
            <span class="job-scatter__to">{move || clock.format(last_start_ns)}</span>
        </figure>
    }
}
