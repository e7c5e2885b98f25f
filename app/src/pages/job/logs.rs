//! The job page's Logs tab: every log line of the job's trace, full width, filtered by severity,
//! text and task on the server, kept in the URL (`lvl`, `lq`, `ltask`); each line names its
//! span and links to it in the trace.

use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;

use crate::api::jobs::get_job_logs;
use crate::components::{ErrorNotice, LOG_FLOORS, LogLine, QueryWriter};
use crate::model::waterfall::PreparedTrace;
use crate::model::{PANEL_LOGS, TaskView};

#[component]
pub fn JobLogs(
    trace: Arc<PreparedTrace>,
    tasks: Vec<TaskView>,
    url: QueryWriter,
    /// The job page's path: links to a line's span go there.
    job_path: String,
) -> impl IntoView {
    let floor = Memo::new(move |_| {
        url.get("lvl")
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0)
    });
    let text = Memo::new(move |_| url.get("lq").unwrap_or_default());
    let task = Memo::new(move |_| url.get("ltask").unwrap_or_default());
    let trace_id = trace.trace_id.clone();
    let lines = Resource::new(
        move || (floor.get(), text.get(), task.get()),
        move |(floor, text, task)| get_job_logs(trace_id.clone(), floor, text, task),
    );
    // A line names its span, and for a task's span the task's tag: a fan-out's lines come from
    // many spans of one name.
    let span_names: Arc<HashMap<String, String>> = Arc::new(
        trace
            .spans
            .iter()
            .enumerate()
            .map(|(index, s)| {
                let tag = trace.row_tasks.get(&index).map_or("", |t| t.tag.as_str());
                let label = if tag.is_empty() {
                    s.name.clone()
                } else {
                    format!("{} {tag}", s.name)
                };
                (s.span_id.clone(), label)
            })
            .collect(),
    );
    let render = move |loaded: crate::model::JobLogLines| {
        if loaded.lines.is_empty() {
            return view! { <p class="log-list__empty muted">"No log lines match."</p> }.into_any();
        }
        let more = loaded.more.then(|| {
            view! {
                <p class="job-logs__cut muted">
                    {format!(
                        "The first {PANEL_LOGS} matching lines; narrow the filters or download the logs for all.",
                    )}
                </p>
            }
        });
        let count = format!(
            "{}{} lines",
            loaded.lines.len(),
            if loaded.more { "+" } else { "" }
        );
        let rows = loaded
            .lines
            .into_iter()
            .map(|log| {
                let span = log.span_id.clone().map(|id| {
                    let name = span_names.get(&id).cloned().unwrap_or_else(|| id.clone());
                    let href = format!("{job_path}?span={id}");
                    view! {
                        <a class="log-panel__span" href=href title="Show this span in the trace">
                            {name}
                        </a>
                    }
                    .into_any()
                });
                view! { <LogLine log span /> }
            })
            .collect_view();
        view! {
            <p class="job-logs__count muted" aria-live="polite">{count}</p>
            {more}
            <ul class="log-list job-logs__lines">{rows}</ul>
        }
        .into_any()
    };
    let floors = LOG_FLOORS
        .iter()
        .map(|(label, number)| view! { <option value=number.to_string()>{*label}</option> })
        .collect_view();
    let task_options = tasks
        .iter()
        .map(|t| view! { <option value=t.id.clone()>{t.label()}</option> })
        .collect_view();
    let has_tasks = !tasks.is_empty();
    view! {
        <section class="job-logs" aria-label="Job logs">
            <div class="job-logs__filters">
                <select
                    aria-label="Minimum severity"
                    prop:value=move || floor.get().to_string()
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        url.set("lvl", (value != "0").then_some(value), false);
                    }
                >
                    {floors}
                </select>
                {has_tasks
                    .then(|| {
                        view! {
                            <select
                                aria-label="Task"
                                prop:value=move || task.get()
                                on:change=move |ev| {
                                    let value = event_target_value(&ev);
                                    url.set("ltask", (!value.is_empty()).then_some(value), false);
                                }
                            >
                                <option value="">"all tasks"</option>
                                {task_options}
                            </select>
                        }
                    })}
                <input
                    type="search"
                    aria-label="Search log text"
                    placeholder="Search log text"
                    maxlength="256"
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        url.set("lq", (!value.is_empty()).then_some(value), true);
                    }
                />
            </div>
            <Transition fallback=|| view! { <p class="log-list__empty muted">"Loading log lines…"</p> }>
                {move || Suspend::new({
                    let render = render.clone();
                    async move {
                        match lines.await {
                            Ok(loaded) => render(loaded),
                            Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
