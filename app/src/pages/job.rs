//! `/jobs/:id`: one job's span tree with durations on a shared time axis, and its logs.
//! While the job runs, the page follows it: the server pushes changes
//! (`/api/v1/jobs/{id}/events`, server-sent events) and the page refetches the trace in place.

#[cfg(feature = "hydrate")]
mod live;
mod trace_loads;

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::jobs::get_job_trace;
use crate::components::{ErrorNotice, JobHeader, QueryWriter, TaskTable, TraceView};
use crate::error::AppError;
use crate::model::waterfall::PreparedTrace;
use crate::pages::NotFoundPage;
use trace_loads::trace_loads;

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let trace = Resource::new(id, get_job_trace);
    let url = query_writer();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| live::follow(id(), trace));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading job…"</p> }>
            {move || Suspend::new(async move {
                match trace.await {
                    Ok(trace) => {
                        let tasks = (!trace.tasks.is_empty())
                            .then(|| view! { <TaskTable tasks=trace.tasks.clone() spans=trace.spans.clone() /> });
                        let compare = trace.previous_run.clone().map(|previous| {
                            let href = format!("/compare?a={previous}&b={}", trace.job.id);
                            view! {
                                <a class="job-page__compare" href=href>
                                    "Compare with the previous run of this job name →"
                                </a>
                            }
                        });
                        let (name, job) = (trace.job.name.clone(), trace.job.clone());
                        let trace = Arc::new(PreparedTrace::build(trace));
                        let loads = trace_loads(&trace, url);
                        view! {
                            <Title text=name />
                            <JobHeader job />
                            {compare}
                            {tasks}
                            <TraceView trace url loads />
                        }
                            .into_any()
                    }
                    Err(AppError::NotFound(what)) => view! { <NotFoundPage what /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Transition>
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
