//! The summary above a job's trace: name, state, ids, timing, counts.

use leptos::prelude::*;

use crate::components::JobStateBadge;
use crate::model::{Job, format_duration_ns, format_time_ns};

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
                    <dd>{format_time_ns(job.start_ns)}</dd>
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
