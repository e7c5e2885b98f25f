//! One attempt at a claimed task: run on its own thread, in its `task/<Name>` span, to an outcome.
//!
//! Task bodies are synchronous (like the Python client's), so each runs on a dedicated thread;
//! the runner's async loop only talks to the server and keeps the lease meanwhile.

use opentelemetry::KeyValue;
use opentelemetry::trace::{Status as SpanStatus, TraceContextExt as _, Tracer as _};
use tokio::sync::{oneshot, watch};

use super::lease::keep_lease;
use super::stop::wait_stop;
use super::{Pending, TaskRunner};
use crate::context::{CurrentTask, ExecutionContext, JobRef, Subtask};
use crate::error::TaskError;
use crate::ids::{id_of, id_proto};
use crate::propagation::parent_context;
use crate::proto::workflows::v1 as wf;
use crate::subtasks::submissions;
use crate::task::{Registered, TaskIdentifier};
use crate::telemetry::{Telemetry, enter_task};

/// What executing one attempt produced.
enum Outcome {
    Computed {
        display: String,
        subtasks: Vec<Subtask>,
    },
    Failed {
        display: String,
    },
}

impl TaskRunner {
    /// Executes one claimed task; returns its computed report (with its lease still kept), or
    /// `None` when the failure was already reported.
    pub(super) async fn execute(
        &self,
        task: wf::Task,
        cluster: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Pending> {
        let Ok(task_id) = id_of(task.id.as_ref()) else {
            tracing::warn!("the server handed out a task without a valid id; skipped");
            return None;
        };
        let identifier = task
            .identifier
            .clone()
            .map(|i| TaskIdentifier::new(i.name, i.version))
            .unwrap_or_else(|| TaskIdentifier::new("", ""));
        let job = task.job.clone().unwrap_or_default();
        let display = task.display.clone().unwrap_or_default();
        let registered = self.tasks.get(&identifier).cloned().or_else(|| {
            // Claimed under a compatible version (same name and major version).
            self.tasks
                .iter()
                .find(|(known, _)| known.name == identifier.name)
                .map(|(_, r)| r.clone())
        });
        let Some(registered) = registered else {
            self.report_failed(task_id, &display, false).await;
            return None;
        };
        let current = CurrentTask {
            id: task_id,
            identifier,
            retry_count: task.retry_count,
            job: JobRef {
                id: id_of(job.id.as_ref()).unwrap_or_default(),
                name: job.name,
                trace_parent: job.trace_parent,
            },
        };
        let lease = tokio::spawn(keep_lease(
            self.service(),
            self.client.clone(),
            task_id,
            task.lease.unwrap_or_default(),
        ));
        let shown = task.display.clone().unwrap_or_default();
        let interrupted = format!("{shown}\nRunnerShutdown('Task was interrupted')");
        if *stop.borrow() {
            // Stopped while the claim was in flight: hand it back without starting it.
            lease.abort();
            self.report_failed(task_id, &interrupted, false).await;
            return None;
        }
        let (done_tx, done_rx) = oneshot::channel();
        let telemetry = self.client.telemetry().clone();
        let input = task.input.unwrap_or_default();
        let display = if display.is_empty() {
            registered.display.clone()
        } else {
            display
        };
        let started = std::thread::Builder::new()
            .name(format!("task-{task_id}"))
            .spawn(move || {
                let outcome = run_attempt(&telemetry, &registered, current, display, &input);
                let _ = done_tx.send(outcome);
            });
        if let Err(error) = started {
            lease.abort();
            let display = format!("{shown}\nRunnerError({:?})", error.to_string());
            self.report_failed(task_id, &display, false).await;
            return None;
        }
        // A result that is ready wins over a stop arriving at the same moment.
        let outcome = tokio::select! {
            biased;
            outcome = done_rx => Some(outcome),
            () = wait_stop(stop) => None,
        };
        match outcome {
            Some(Ok(Outcome::Computed { display, subtasks })) => Some(Pending {
                computed: wf::ComputedTask {
                    id: Some(id_proto(task_id)),
                    display,
                    sub_tasks: submissions(&subtasks, cluster),
                    progress_updates: Vec::new(),
                    legacy_sub_tasks: Vec::new(),
                },
                tries: 0,
                lease,
            }),
            Some(Ok(Outcome::Failed { display })) => {
                lease.abort();
                self.report_failed(task_id, &display, true).await;
                None
            }
            Some(Err(_)) => {
                // The task's thread ended without a result: count it against the task's retries,
                // so a task that kills its thread cannot loop forever.
                lease.abort();
                let display = format!("{shown}\nRunnerError('the task thread died')");
                self.report_failed(task_id, &display, true).await;
                None
            }
            None => {
                // Stopping: give the task back; its thread may still finish on its own.
                lease.abort();
                self.report_failed(task_id, &interrupted, false).await;
                None
            }
        }
    }
}

/// One attempt, on the task's own thread: the `task/<Name>` span, `tracing` routed to the
/// exporters, panics caught and recorded like errors.
fn run_attempt(
    telemetry: &Telemetry,
    registered: &Registered,
    task: CurrentTask,
    display: String,
    input: &[u8],
) -> Outcome {
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let parent = parent_context(&task.job.trace_parent);
        let span = telemetry
            .tracer()
            .span_builder(format!("task/{}", registered.display))
            .with_attributes([
                KeyValue::new("task_id", task.id.to_string()),
                KeyValue::new("identifier.name", task.identifier.name.clone()),
                KeyValue::new("identifier.version", task.identifier.version.clone()),
                KeyValue::new("job_id", task.job.id.to_string()),
                KeyValue::new("retry_count", task.retry_count),
            ])
            .start_with_context(telemetry.tracer(), &parent);
        let cx = parent.with_span(span);
        let attached = cx.clone().attach();
        let mark = enter_task(task.id.to_string());
        let mut ctx = ExecutionContext::new(task, display, telemetry);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (registered.run)(input, &mut ctx)
        }))
        .unwrap_or_else(|panic| Err(TaskError::panic(panic_message(panic.as_ref()))));
        let outcome = match result {
            Ok(()) => {
                let (display, subtasks) = ctx.into_result();
                Outcome::Computed { display, subtasks }
            }
            Err(error) => {
                let span = cx.span();
                span.add_event(
                    "exception",
                    vec![
                        KeyValue::new("exception.type", error.kind().to_owned()),
                        KeyValue::new("exception.message", error.message().to_owned()),
                        KeyValue::new("exception.escaped", true),
                    ],
                );
                span.set_status(SpanStatus::error("Task failed with exception"));
                ctx.logger().error(&format!(
                    "task failed: {}: {}",
                    error.kind(),
                    error.message()
                ));
                // The Python client's format: display, newline, the exception's repr.
                let (display, _) = ctx.into_result();
                Outcome::Failed {
                    display: truncate(
                        &format!("{display}\n{}({:?})", error.kind(), error.message()),
                        1024,
                    ),
                }
            }
        };
        drop(mark);
        cx.span().end();
        drop(attached);
        outcome
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without message".to_owned())
}

fn truncate(text: &str, max: usize) -> String {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}
