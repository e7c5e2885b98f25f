//! One attempt at a claimed task: on its own thread, in its `task/<Name>` span, to an outcome.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Status as SpanStatus, TraceContextExt as _, Tracer as _};
use tokio::sync::oneshot;

use crate::context::{CurrentTask, ExecutionContext, Subtask};
use crate::error::TaskError;
use crate::propagation::parent_context;
use crate::task::Registered;
use crate::telemetry::{Telemetry, enter_task};

/// What executing one attempt produced.
pub(super) enum Outcome {
    Computed {
        display: String,
        subtasks: Vec<Subtask>,
        /// (label, total, done) per progress indicator the task reported.
        progress: Vec<(String, u64, u64)>,
    },
    Failed {
        display: String,
        /// What the attempt reported before it failed: counted too, as the Python client does.
        progress: Vec<(String, u64, u64)>,
    },
}

/// Starts the attempt on its own thread; its outcome arrives on the returned receiver (which
/// errs if the thread dies without one). Task bodies are synchronous (like the Python client's),
/// so the runner's async loop only talks to the server and keeps the lease meanwhile.
pub(super) fn start(
    telemetry: Telemetry,
    registered: Arc<Registered>,
    task: CurrentTask,
    display: String,
    input: Vec<u8>,
) -> std::io::Result<oneshot::Receiver<Outcome>> {
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("task-{}", task.id))
        .spawn(move || {
            let outcome = run_attempt(&telemetry, &registered, task, display, &input);
            let _ = done_tx.send(outcome);
        })?;
    Ok(done_rx)
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
                let (display, subtasks, progress) = ctx.into_result();
                Outcome::Computed {
                    display,
                    subtasks,
                    progress,
                }
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
                let (display, _, progress) = ctx.into_result();
                Outcome::Failed {
                    display: truncate(
                        &format!("{display}\n{}({:?})", error.kind(), error.message()),
                        1024,
                    ),
                    progress,
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
