//! The job list table.

use leptos::prelude::*;

use crate::components::{JobProgressBars, JobStateBadge, use_clock};
use crate::model::{JobPage, format_duration_ns};

/// The sortable headers' links (the list's URL with `sort` changed) and the current order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortLinks {
    pub newest: String,
    pub longest: String,
    pub by_longest: bool,
}

#[component]
pub fn JobTable(page: JobPage, sort: SortLinks) -> impl IntoView {
    let clock = use_clock();
    if page.jobs.is_empty() {
        return view! {
            <p class="job-table__empty">
                "No jobs here. Send OTLP traces to " <code>"/v1/traces"</code>
                ", submit a workflow job, or loosen the filters."
            </p>
        }
        .into_any();
    }
    let rows = page
        .jobs
        .into_iter()
        .map(|job| {
            let href = format!("/jobs/{}", job.id);
            let (tasks, clusters) = match &job.tasks {
                Some(t) => (
                    format!(
                        "{}/{}",
                        t.computed + t.skipped + t.failed_optional,
                        t.total()
                    ),
                    t.clusters.join(", "),
                ),
                None => ("—".to_owned(), String::new()),
            };
            let tasks_title = job.tasks.as_ref().map(|t| {
                format!(
                    "{} queued, {} running, {} computed, {} failed",
                    t.queued, t.running, t.computed, t.failed
                )
            });
            let progress = job
                .tasks
                .as_ref()
                .map(|t| t.progress.clone())
                .unwrap_or_default();
            let duration = if job.end_ns > 0 {
                format_duration_ns(job.duration_ns())
            } else {
                "—".to_owned()
            };
            view! {
                <tr class="job-table__row" data-job-id=job.id>
                    <td class="job-table__name">
                        <a href=href>{job.name.clone()}</a>
                        <JobProgressBars progress=progress compact=true />
                    </td>
                    <td class="job-table__id" title=job.id.clone()>
                        <code>{job.id.chars().take(8).collect::<String>()}</code>
                    </td>
                    <td>
                        <JobStateBadge state=job.state />
                    </td>
                    <td class="job-table__time">{let at = job.start_ns; move || clock.format(at)}</td>
                    <td class="num">{duration}</td>
                    <td class="num" title=tasks_title>{tasks}</td>
                    <td class="job-table__clusters">{clusters}</td>
                    <td class="num job-table__spans">{job.span_count}</td>
                    <td class="num" class:job-table__errors={job.error_count > 0}>
                        {job.error_count}
                    </td>
                    <td class="job-table__services">{job.services.join(", ")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="job-table">
            <thead>
                <tr>
                    <th>"Name"</th>
                    <th>"Job id"</th>
                    <th>"State"</th>
                    <th aria-sort=if sort.by_longest { "none" } else { "descending" }>
                        <a class="job-table__sort" href=sort.newest title="Newest first">
                            {if sort.by_longest { "Started" } else { "Started ↓" }}
                        </a>
                    </th>
                    <th class="num" aria-sort=if sort.by_longest { "descending" } else { "none" }>
                        <a class="job-table__sort" href=sort.longest title="Longest first">
                            {if sort.by_longest { "Duration ↓" } else { "Duration" }}
                        </a>
                    </th>
                    <th class="num">"Tasks done"</th>
                    <th>"Cluster"</th>
                    <th class="num">"Spans"</th>
                    <th class="num">"Errors"</th>
                    <th>"Services"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
