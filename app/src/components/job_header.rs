//! The summary above a job's trace: name, state, ids, timing, counts.

use leptos::prelude::*;

use crate::components::{JobStateBadge, use_clock};
use crate::model::{Job, JobProgress, format_duration_ns};

/// Links to the job's spans and logs as files (the Tilebox client's DataFrame columns).
#[component]
fn DownloadLinks(job_id: String) -> impl IntoView {
    let link = |what: &'static str, format: &'static str| {
        let href = format!("/api/v1/jobs/{job_id}/{what}?format={format}");
        view! {
            <a class="job-header__download" href=href download>
                {format}
            </a>
        }
    };
    view! {
        <p class="job-header__downloads">
            "Download spans: " {link("spans", "parquet")} " · " {link("spans", "arrow")} " · "
            {link("spans", "csv")} " · " {link("spans", "json")} " — logs: "
            {link("logs", "parquet")} " · " {link("logs", "arrow")} " · " {link("logs", "csv")}
            " · " {link("logs", "json")}
        </p>
    }
}

#[component]
pub fn JobHeader(job: Job) -> impl IntoView {
    let tasks = job.tasks.clone().map(|t| {
        view! {
            <div class="job-header__fact">
                <dt>"Tasks"</dt>
                <dd>
                    {format!(
                        "{} total: {} queued, {} running, {} computed, {} failed",
                        t.total(),
                        t.queued,
                        t.running,
                        t.computed + t.skipped + t.failed_optional,
                        t.failed,
                    )}
                </dd>
            </div>
            <div class="job-header__fact">
                <dt>"Clusters"</dt>
                <dd>{t.clusters.join(", ")}</dd>
            </div>
        }
    });
    view! {
        <header class="job-header">
            <div class="job-header__title">
                <h1>{job.name.clone()}</h1>
                <JobStateBadge state=job.state />
            </div>
            <dl class="job-header__facts">
                <div class="job-header__fact">
                    <dt>"Job"</dt>
                    <dd>
                    <code>{job.id.clone()}</code>
                </dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Trace"</dt>
                    <dd>
                    <code>{job.trace_id.clone()}</code>
                </dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Started"</dt>
                    <dd>{let (at, clock) = (job.start_ns, use_clock()); move || clock.format(at)}</dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Duration"</dt>
                    <dd>{format_duration_ns(job.duration_ns())}</dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Spans"</dt>
                    <dd>{job.span_count}</dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Errors"</dt>
                    <dd>{job.error_count}</dd>
                </div>
                <div class="job-header__fact">
                    <dt>"Services"</dt>
                    <dd>{job.services.join(", ")}</dd>
                </div>
                {tasks}
            </dl>
            <DownloadLinks job_id=job.id />
        </header>
    }
}

/// A workflow job's progress indicators as bars: `tiles 3/4`, the unlabeled one as `Progress`.
#[component]
pub fn JobProgressBars(
    progress: Vec<JobProgress>,
    /// Smaller, for a row of the job list.
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    if progress.is_empty() {
        return ().into_any();
    }
    let bars = progress
        .into_iter()
        .map(|p| {
            let label = if p.label.is_empty() {
                "Progress".to_owned()
            } else {
                p.label.clone()
            };
            let percent = format!("{:.0}", p.fraction() * 100.0);
            view! {
                <li class="job-progress__item">
                    <span class="job-progress__label">{label.clone()}</span>
                    <progress
                        class="job-progress__bar"
                        max=p.total.max(1).to_string()
                        value=p.done.min(p.total.max(1)).to_string()
                        aria-label=format!("{label}: {percent} %")
                    ></progress>
                    <span class="job-progress__count">{format!("{}/{}", p.done, p.total)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="job-progress" class:job-progress--compact=compact aria-label="Progress">
            {bars}
        </ul>
    }
    .into_any()
}
