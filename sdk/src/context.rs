//! What a task sees while it executes: itself, its job, a tracer, a logger, its subtasks and
//! progress so far.

use std::collections::BTreeMap;
use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::error::TaskError;
use crate::task_identifier::TaskIdentifier;
use crate::telemetry::Telemetry;

/// The task being executed.
#[derive(Clone, Debug)]
pub struct CurrentTask {
    pub id: uuid::Uuid,
    pub identifier: TaskIdentifier,
    /// How often this task was retried before this attempt.
    pub retry_count: i64,
    pub job: JobRef,
    /// The tick an automation submitted this task's job for, when one did (the job's root
    /// task only).
    pub trigger_time: Option<chrono::DateTime<chrono::Utc>>,
    /// The new object a storage-event automation submitted this task's job for, when one did.
    pub storage_event: Option<StorageEvent>,
}

/// The new object that triggered a storage-event automation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageEvent {
    /// The storage location (`client.storage_locations().find(id)`).
    pub location: uuid::Uuid,
    /// The object's path inside the location.
    pub path: String,
}

/// The job the current task belongs to.
#[derive(Clone, Debug)]
pub struct JobRef {
    pub id: uuid::Uuid,
    pub name: String,
    /// W3C traceparent of the job's root span.
    pub trace_parent: String,
}

/// A subtask submitted from the current task; pass it in [`SubtaskOptions::depends_on`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutureTask(pub(crate) usize);

/// How a subtask is submitted. `Default` is: no dependencies, the runner's cluster, no retries,
/// required.
#[derive(Clone, Debug, Default)]
pub struct SubtaskOptions {
    /// Subtasks (of this same task) that must be computed first.
    pub depends_on: Vec<FutureTask>,
    /// Cluster slug to run on; the cluster of the current runner when `None`.
    pub cluster: Option<String>,
    pub max_retries: i64,
    /// When set, the subtask may fail without failing the job or blocking its dependents.
    pub optional: bool,
}

/// A subtask as it will be sent with the computed task.
#[derive(Clone, Debug)]
pub(crate) struct Subtask {
    pub identifier: TaskIdentifier,
    pub input: Vec<u8>,
    pub display: String,
    pub cluster: Option<String>,
    pub max_retries: i64,
    pub optional: bool,
    pub depends_on: Vec<usize>,
}

/// Handed to [`Task::execute`](crate::task::Task::execute).
pub struct ExecutionContext {
    task: CurrentTask,
    display: String,
    subtasks: Vec<Subtask>,
    /// Progress reported so far: label → (total, done), sent when the task is computed.
    progress: BTreeMap<String, (u64, u64)>,
    tracer: TaskTracer,
    logger: TaskLogger,
}

impl ExecutionContext {
    pub(crate) fn new(task: CurrentTask, display: String, telemetry: &Telemetry) -> Self {
        ExecutionContext {
            task,
            display,
            subtasks: Vec::new(),
            progress: BTreeMap::new(),
            tracer: TaskTracer {
                telemetry: telemetry.clone(),
            },
            logger: TaskLogger {
                logger: telemetry
                    .logger_provider()
                    .logger("tilebox.workflows.tasks"),
                console: telemetry.config().console,
            },
        }
    }

    pub fn current_task(&self) -> &CurrentTask {
        &self.task
    }

    pub fn job(&self) -> &JobRef {
        &self.task.job
    }

    /// The due time of the cron tick this task runs for, when a cron automation submitted it
    /// (`client.automations().create_cron(…)`, or the Python client's); `None` otherwise.
    pub fn trigger_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.task.trigger_time
    }

    /// The new object this task runs for, when a storage-event automation submitted it
    /// (`client.automations().create_storage_event(…)`, or the Python client's); `None`
    /// otherwise.
    pub fn storage_event(&self) -> Option<&StorageEvent> {
        self.task.storage_event.as_ref()
    }

    /// The text shown for this task (its type's name unless changed).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Changes the text shown for this task in job views (sent when the task completes).
    pub fn set_display(&mut self, display: impl Into<String>) {
        self.display = display.into();
    }

    /// The job's progress indicator `label` (`""` for the unlabeled one), as the Python
    /// client's `context.progress(label)`: `.add(n)` work to do, `.done(n)` work done. What an
    /// attempt reports is sent with its result, computed or failed (as the Python client does),
    /// and the job's indicator sums it over its tasks and attempts.
    pub fn progress(&mut self, label: &str) -> ProgressIndicator<'_> {
        ProgressIndicator {
            counts: self.progress.entry(label.to_owned()).or_default(),
        }
    }

    pub fn tracer(&self) -> &TaskTracer {
        &self.tracer
    }

    pub fn logger(&self) -> &TaskLogger {
        &self.logger
    }

    /// The subtasks submitted so far, in order (`subtasks.rs` submits them).
    pub(crate) fn subtasks_mut(&mut self) -> &mut Vec<Subtask> {
        &mut self.subtasks
    }

    /// The display, the subtasks and the progress reported (label, total, done), fitted to
    /// what the server accepts (see [`fit_progress`]).
    pub(crate) fn into_result(self) -> (String, Vec<Subtask>, Vec<(String, u64, u64)>) {
        (self.display, self.subtasks, fit_progress(self.progress))
    }
}

/// Most progress indicators one report carries, the largest count and the longest label (bytes)
/// the server takes: a report beyond them would be refused whole, and with it the result.
const MAX_INDICATORS: usize = 1000;
const MAX_COUNT: u64 = 1 << 40;
const MAX_LABEL_BYTES: usize = 1024;

/// Progress as the server accepts it: labels without NUL cut to 1 KiB (at a character), counts
/// at most 2^40, the first 1,000 labels (the rest dropped with a warning).
fn fit_progress(progress: BTreeMap<String, (u64, u64)>) -> Vec<(String, u64, u64)> {
    let mut fitted: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (label, (total, done)) in progress {
        let mut label: String = label.chars().filter(|&c| c != '\0').collect();
        if label.len() > MAX_LABEL_BYTES {
            let mut end = MAX_LABEL_BYTES;
            while !label.is_char_boundary(end) {
                end -= 1;
            }
            label.truncate(end);
        }
        if !fitted.contains_key(&label) && fitted.len() == MAX_INDICATORS {
            tracing::warn!(%label, "more than {MAX_INDICATORS} progress indicators: dropped");
            continue;
        }
        let entry = fitted.entry(label).or_default();
        entry.0 = entry.0.saturating_add(total).min(MAX_COUNT);
        entry.1 = entry.1.saturating_add(done).min(MAX_COUNT);
    }
    fitted
        .into_iter()
        .map(|(label, (total, done))| (label, total, done))
        .collect()
}

/// One progress indicator of the running task ([`ExecutionContext::progress`]).
pub struct ProgressIndicator<'a> {
    counts: &'a mut (u64, u64),
}

impl ProgressIndicator<'_> {
    /// `count` more units of work to do.
    pub fn add(&mut self, count: u64) -> &mut Self {
        self.counts.0 = self.counts.0.saturating_add(count);
        self
    }

    /// `count` units of work done.
    pub fn done(&mut self, count: u64) -> &mut Self {
        self.counts.1 = self.counts.1.saturating_add(count);
        self
    }
}

/// Opens spans inside the current task's span (or inside the innermost open [`SpanGuard`]).
pub struct TaskTracer {
    telemetry: Telemetry,
}

impl TaskTracer {
    /// Starts a span that stays open (and current) until the guard drops.
    pub fn span(&self, name: &str) -> SpanGuard {
        let span = self.telemetry.tracer().start(name.to_owned());
        let cx = Context::current_with_span(span);
        let attached = cx.clone().attach();
        SpanGuard {
            cx,
            _attached: attached,
        }
    }
}

/// An open span; ends when dropped. Spans opened (or logs written) while it lives are its
/// children. Guards must be dropped in reverse order of creation (as scopes do).
pub struct SpanGuard {
    cx: Context,
    _attached: opentelemetry::ContextGuard,
}

impl SpanGuard {
    pub fn set_attribute(&self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        self.cx.span().set_attribute(KeyValue::new(key, value));
    }

    /// Adds an `exception` event (type, message, source chain) and marks the span failed.
    pub fn record_exception(&self, error: &TaskError) {
        self.cx.span().add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", error.kind().to_owned()),
                KeyValue::new("exception.message", error.message().to_owned()),
            ],
        );
        self.set_error(error.message());
    }

    /// Marks the span failed with `message`.
    pub fn set_error(&self, message: &str) {
        self.cx.span().set_status(Status::error(message.to_owned()));
    }

    /// Marks the span explicitly successful.
    pub fn set_ok(&self) {
        self.cx.span().set_status(Status::Ok);
    }

    pub fn add_event(&self, name: &str, attributes: Vec<KeyValue>) {
        self.cx.span().add_event(name.to_owned(), attributes);
    }

    /// Hex trace and span ids, as the dashboard shows them.
    pub fn ids(&self) -> (String, String) {
        let span = self.cx.span();
        let context = span.span_context();
        (
            context.trace_id().to_string(),
            context.span_id().to_string(),
        )
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        self.cx.span().end();
    }
}

/// Writes log records tied to the current span (trace and span ids) and task (`task_id`).
pub struct TaskLogger {
    logger: opentelemetry_sdk::logs::SdkLogger,
    console: bool,
}

impl TaskLogger {
    pub fn debug(&self, message: &str) {
        self.log(Severity::Debug, "DEBUG", message, &[]);
    }

    pub fn info(&self, message: &str) {
        self.log(Severity::Info, "INFO", message, &[]);
    }

    pub fn warn(&self, message: &str) {
        self.log(Severity::Warn, "WARN", message, &[]);
    }

    pub fn error(&self, message: &str) {
        self.log(Severity::Error, "ERROR", message, &[]);
    }

    /// A record with attributes (`logger.log(Severity::Info, "INFO", "saved", &[("bytes", 3.into())])`).
    pub fn log(
        &self,
        severity: Severity,
        severity_text: &'static str,
        message: &str,
        attributes: &[(&'static str, AnyValue)],
    ) {
        let mut record = self.logger.create_log_record();
        let now = SystemTime::now();
        record.set_timestamp(now);
        record.set_observed_timestamp(now);
        record.set_severity_number(severity);
        record.set_severity_text(severity_text);
        record.set_body(AnyValue::from(message.to_owned()));
        for (key, value) in attributes {
            record.add_attribute(*key, value.clone());
        }
        let cx = Context::current();
        let span = cx.span();
        let ids = span.span_context();
        if ids.is_valid() {
            // Like the Python client: ids also as attributes, for backends that only keep those.
            record.add_attribute("trace_id", ids.trace_id().to_string());
            record.add_attribute("span_id", ids.span_id().to_string());
        }
        self.logger.emit(record);
        if self.console {
            let stamp = chrono::Utc::now().format("%H:%M:%S%.3f");
            eprintln!("{stamp} {severity_text:>5} {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_progress_is_fitted_to_what_the_server_takes() {
        let mut progress = BTreeMap::new();
        progress.insert("a\0b".to_owned(), (1 << 41, 2));
        progress.insert("é".repeat(600), (1, 1));
        for i in 0..1100 {
            progress.insert(format!("label-{i:04}"), (1, 0));
        }
        let fitted = fit_progress(progress);
        assert_eq!(fitted.len(), MAX_INDICATORS);
        let nul = fitted.iter().find(|p| p.0 == "ab").expect("NUL dropped");
        assert_eq!((nul.1, nul.2), (MAX_COUNT, 2));
        assert!(fitted.iter().all(|p| p.0.len() <= MAX_LABEL_BYTES));
    }
}
