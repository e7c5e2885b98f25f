//! A workflow job's tasks: state, cluster, queue wait and every attempt with its runner.

use leptos::prelude::*;

use crate::components::TaskStateBadge;
use crate::model::{SpanOutline, TaskAttempt, TaskView, format_duration_ns, format_time_ns};

/// The runner identity a task span reports (`service.instance.id`) for the attempt that started
/// nearest to `started_ns`; attempts whose span has not arrived show the connection address.
fn runner_of(attempt: &TaskAttempt, task_spans: &[(i64, String)]) -> String {
    task_spans
        .iter()
        .min_by_key(|(start, _)| (start - attempt.started_ns).abs())
        .filter(|(start, _)| (start - attempt.started_ns).abs() < 60_000_000_000)
        .map(|(_, instance)| instance.clone())
        .unwrap_or_else(|| attempt.runner.clone())
}

#[component]
pub fn TaskTable(tasks: Vec<TaskView>, spans: Vec<SpanOutline>) -> impl IntoView {
    let rows = tasks
        .into_iter()
        .map(|task| {
            let task_spans: Vec<(i64, String)> = spans
                .iter()
                .filter(|span| span.task_id.as_deref() == Some(task.id.as_str()))
                .filter(|span| span.name.starts_with("task/"))
                .map(|span| (span.start_ns, span.runner.clone()))
                .collect();
            let wait = task
                .queue_wait_ns()
                .map(format_duration_ns)
                .unwrap_or_else(|| "—".to_owned());
            let attempts = task
                .attempts
                .iter()
                .map(|attempt| {
                    let ran = attempt
                        .stopped_ns
                        .map(|stop| format_duration_ns(stop - attempt.started_ns))
                        .unwrap_or_else(|| "running".to_owned());
                    let failed = attempt.outcome != "computed" && attempt.outcome != "running";
                    view! {
                        <li class="task-table__attempt" class:task-table__attempt--failed=failed>
                            <span class="task-table__attempt-number">{format!("#{}", attempt.number)}</span>
                            " "
                            <span class="task-table__runner" title=attempt.runner.clone()>
                                {runner_of(attempt, &task_spans)}
                            </span>
                            " · "
                            <time title=format_time_ns(attempt.started_ns)>{ran}</time>
                            " · "
                            <span class="task-table__outcome">{attempt.outcome.clone()}</span>
                            {(!attempt.error.is_empty())
                                .then(|| view! { <div class="task-table__error">{attempt.error.clone()}</div> })}
                        </li>
                    }
                })
                .collect_view();
            let retries = format!("{}/{}", task.retry_count, task.max_retries);
            view! {
                <tr class="task-table__row" data-task-id=task.id.clone()>
                    <td>
                        <span class="task-table__name">{task.display.clone()}</span>
                        <span class="muted">
                            {format!(" {}@{}", task.identifier_name, task.identifier_version)}
                        </span>
                        {task.optional.then(|| view! { <span class="muted">" (optional)"</span> })}
                    </td>
                    <td>
                        <TaskStateBadge state=task.state.clone() />
                    </td>
                    <td>{task.cluster.clone()}</td>
                    <td class="num">{wait}</td>
                    <td class="num">{retries}</td>
                    <td>
                        <ul class="task-table__attempts">{attempts}</ul>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="task-table">
            <h2>"Tasks"</h2>
            <table class="task-table__table">
                <thead>
                    <tr>
                        <th>"Task"</th>
                        <th>"State"</th>
                        <th>"Cluster"</th>
                        <th class="num">"Queue wait"</th>
                        <th class="num">"Retries"</th>
                        <th>"Attempts (runner · run time · outcome)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
