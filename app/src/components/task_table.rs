//! A workflow job's tasks: state, cluster, queue wait and every attempt with its runner.

use leptos::prelude::*;

use crate::components::{TaskStateBadge, use_clock};
use crate::model::{JobState, SpanOutline, TaskView, format_duration_ns, runner_names};

#[component]
pub fn TaskTable(
    tasks: Vec<TaskView>,
    spans: Vec<SpanOutline>,
    /// The job's state: a task still queued in a failed or canceled job will not run unless
    /// the job is retried, and says so.
    job_state: JobState,
) -> impl IntoView {
    let stopped = matches!(job_state, JobState::Failed | JobState::Canceled);
    let clock = use_clock();
    // Attempts are shown under the runner their own span names (host:pid); an attempt whose
    // span has not arrived, under the runner its connection's other spans name, else under the
    // connection's address (all the server knows then).
    let names = runner_names(&spans, &tasks);
    let rows = tasks
        .into_iter()
        .map(|task| {
            let own_spans: Vec<(i64, String)> = spans
                .iter()
                .filter(|span| span.task_id.as_deref() == Some(task.id.as_str()))
                .filter(|span| span.name.starts_with("task/") && !span.runner.is_empty())
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
                    let running = attempt.outcome == "running";
                    // A running attempt says so once: its run time is still unknown.
                    let ran = attempt
                        .stopped_ns
                        .map(|stop| format_duration_ns(stop - attempt.started_ns))
                        .map(|ran| Signal::derive(move || ran.clone()))
                        .unwrap_or_else(|| {
                            let at = attempt.started_ns;
                            Signal::derive(move || format!("since {}", clock.format(at)))
                        });
                    let failed = attempt.outcome != "computed" && !running;
                    let runner = own_spans
                        .iter()
                        .min_by_key(|(start, _)| (start - attempt.started_ns).abs())
                        .filter(|(start, _)| (start - attempt.started_ns).abs() < 60_000_000_000)
                        .map(|(_, runner)| runner.clone())
                        .or_else(|| names.get(&attempt.runner).cloned())
                        .unwrap_or_else(|| attempt.runner.clone());
                    view! {
                        <li class="task-table__attempt" class:task-table__attempt--failed=failed>
                            <span class="task-table__attempt-number">{format!("#{}", attempt.number)}</span>
                            " "
                            <span class="task-table__runner" title=attempt.runner.clone()>
                                {runner}
                            </span>
                            " · "
                            <time title={let at = attempt.started_ns; move || clock.format(at)}>{ran}</time>
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
                        {(!task.summary.is_empty())
                            .then(|| view! { <span class="task-table__summary">{format!(" {}", task.summary)}</span> })}
                        <span class="muted">
                            {format!(" {}@{}", task.identifier_name, task.identifier_version)}
                        </span>
                        {task.optional.then(|| view! { <span class="muted">" (optional)"</span> })}
                    </td>
                    <td>
                        <TaskStateBadge state=task.state.clone() />
                        {(stopped && task.state == "QUEUED")
                            .then(|| {
                                view! {
                                    <div class="task-table__not-run muted">
                                        {format!("not run: the job {}", job_state.as_str().to_lowercase())}
                                    </div>
                                }
                            })}
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
