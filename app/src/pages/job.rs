//! `/jobs/:id`: one job's span tree with durations on a shared time axis, and its logs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::jobs::get_job_trace;
use crate::components::{ErrorNotice, JobHeader, TaskTable, TraceView};
use crate::error::AppError;
use crate::pages::NotFoundPage;

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let trace = Resource::new(id, get_job_trace);
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
                        view! {
                            <Title text=trace.job.name.clone() />
                            <JobHeader job=trace.job.clone() />
                            {compare}
                            {tasks}
                            <TraceView trace />
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
