//! `/jobs/:id`: one job — its header, what failed (with Retry or Cancel), then tabs: the trace
//! first (span tree with durations on a shared time axis, or runner lanes), the task table, and
//! the job's logs (`tab`: none, `tasks`, `logs`).
//! While the job runs, the page follows it: the server pushes changes
//! (`/api/v1/jobs/{id}/events`, server-sent events) and the page refetches the trace in place.

mod actions;
#[cfg(feature = "hydrate")]
mod live;
mod logs;
mod trace_loads;

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::jobs::get_job_trace;
use crate::components::{
    ErrorNotice, FailureBanner, JobHeader, JobProgressBars, QueryWriter, ScrollMemory, TaskTable,
    TraceView,
};
use crate::error::AppError;
use crate::model::waterfall::PreparedTrace;
use crate::model::{JobTab, JobTrace, job_failure};
use crate::pages::NotFoundPage;
use actions::JobActions;
use logs::JobLogs;
use trace_loads::trace_loads;

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let trace = Resource::new(id, get_job_trace);
    let url = query_writer();
    let tab = Memo::new(move |_| JobTab::parse(url.get("tab").as_deref()));
    // Bumped after Retry or Cancel: the trace reloads and live updates follow the job again
    // (a retried job runs again after its stream said `done`).
    let acted = RwSignal::new(0_u32);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        acted.track();
        live::follow(id(), trace);
    });
    // What the last Retry or Cancel did, shown across the reload it causes; another job's page
    // (the router keeps this page when only the id changes) starts without it.
    let notice = RwSignal::new(None::<String>);
    // Where the rows and lanes were scrolled, kept across live reloads; another job's page
    // starts at the top.
    let scroll = ScrollMemory::provide();
    Effect::new(move |_| {
        id();
        notice.set(None);
        scroll.forget();
    });
    let after_action = Callback::new(move |text: String| {
        notice.set(Some(text));
        trace.refetch();
        acted.update(|n| *n += 1);
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading job…"</p> }>
            {move || Suspend::new(async move {
                match trace.await {
                    Ok(trace) => job_view(trace, url, tab, after_action, notice).into_any(),
                    Err(AppError::NotFound(what)) => view! { <NotFoundPage what /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A loaded job: its header, what failed and what can be done, the tabs, and the tab's view.
fn job_view(
    trace: JobTrace,
    url: QueryWriter,
    tab: Memo<JobTab>,
    after_action: Callback<String>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let job_path = format!("/jobs/{}", trace.job.id);
    let failure = job_failure(&trace.job, &trace.tasks, &trace.spans)
        .map(|failure| view! { <FailureBanner failure job_path=job_path.clone() /> });
    let actions = trace.job.tasks.is_some().then(|| {
        view! { <JobActions job_id=trace.job.id.clone() state=trace.job.state done=after_action /> }
    });
    let compare = trace.previous_run.clone().map(|previous| {
        let href = format!("/compare?a={previous}&b={}", trace.job.id);
        view! {
            <a class="job-page__compare" href=href>
                "Compare with the previous run of this job name →"
            </a>
        }
    });
    let state = trace.job.state;
    let progress = trace.progress.clone();
    let (name, job, tasks, spans) = (
        trace.job.name.clone(),
        trace.job.clone(),
        trace.tasks.clone(),
        trace.spans.clone(),
    );
    let counts = TabCounts {
        tasks: tasks.len(),
        logs: trace.log_marks.len(),
    };
    let trace = Arc::new(PreparedTrace::build(trace));
    let body = move || match tab.get() {
        JobTab::Trace => {
            let loads = trace_loads(&trace, url);
            view! { <TraceView trace=trace.clone() url loads /> }.into_any()
        }
        JobTab::Tasks if tasks.is_empty() => view! {
            <p class="muted">"This job has no workflow tasks: it is known from its trace only."</p>
        }
        .into_any(),
        JobTab::Tasks => view! {
            <TaskTable tasks=tasks.clone() spans=spans.clone() job_state=state />
        }
        .into_any(),
        JobTab::Logs => view! {
            <JobLogs trace=trace.clone() tasks=tasks.clone() url job_path=job_path.clone() />
        }
        .into_any(),
    };
    view! {
        <Title text=name />
        <JobHeader job />
        <JobProgressBars progress />
        {failure}
        <div class="job-page__bar">
            <JobTabs url tab counts />
            {actions}
            {move || {
                notice
                    .get()
                    .map(|text| {
                        view! { <span class="job-actions__result" role="status">{text}</span> }
                    })
            }}
            {compare}
        </div>
        {body}
    }
}

/// What the tab labels count.
#[derive(Clone, Copy)]
struct TabCounts {
    tasks: usize,
    logs: usize,
}

/// The tab strip: links (they work without JavaScript and keep the rest of the view's URL).
#[component]
fn JobTabs(url: QueryWriter, tab: Memo<JobTab>, counts: TabCounts) -> impl IntoView {
    let location = use_location();
    let links = JobTab::ALL
        .into_iter()
        .map(|this| {
            let href = move || {
                let mut query = url.query();
                match this.param() {
                    Some(value) => query.replace("tab", value.to_owned()),
                    None => {
                        query.remove("tab");
                    }
                }
                format!("{}{}", location.pathname.get(), query.to_query_string())
            };
            let count = match this {
                JobTab::Trace => None,
                JobTab::Tasks => Some(counts.tasks),
                JobTab::Logs => Some(counts.logs),
            };
            let label = match count {
                Some(n) => format!("{} ({n})", this.label()),
                None => this.label().to_owned(),
            };
            view! {
                <a
                    class="job-tabs__tab"
                    role="tab"
                    href=href
                    aria-selected=move || (tab.get() == this).to_string()
                >
                    {label}
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="job-tabs" role="tablist" aria-label="Job views">
            {links}
        </nav>
    }
}

/// The page's URL query as the trace view reads and writes it: changes keep the path and do
/// not scroll.
fn query_writer() -> QueryWriter {
    let location = use_location();
    let navigate = use_navigate();
    QueryWriter::new(
        use_query_map(),
        Callback::new(move |(params, replace): (ParamsMap, bool)| {
            let path = location.pathname.get_untracked();
            navigate(
                &format!("{path}{}", params.to_query_string()),
                NavigateOptions {
                    scroll: false,
                    replace,
                    ..NavigateOptions::default()
                },
            );
        }),
    )
}
