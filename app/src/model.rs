//! Data the server and the browser share: jobs, spans and log records as the dashboard sees them.

mod compare;
mod format;
mod job_filter;
mod tree;
mod waterfall;

pub use compare::{CompareRow, MIN_REGRESSION_NS, REGRESSION_FACTOR, Side, compare_runs};
pub use format::{format_duration_ns, format_time_ns};
pub use job_filter::{JobFilter, JobSort, RANGES, StateCount};
pub use tree::{FOLD_AT, FoldSummary, SpanTree, TreeRow};
pub use waterfall::{
    Lane, SpanQuery, TaskOverlay, concurrency, critical_path, runner_lanes, running_attempts,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Attribute maps keep OTLP's typed values as JSON (string, number, bool, array, object).
pub type Attributes = Map<String, Value>;

/// An attribute value as the user reads (and searches) it: strings as they are, anything else
/// as its JSON text.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Where a job stands. Jobs known only from their trace derive it from span statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Submitted,
    Running,
    /// Some tasks ran, none is running now, work remains (waiting for a runner).
    Started,
    Completed,
    Failed,
    Canceled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Submitted,
        JobState::Running,
        JobState::Started,
        JobState::Completed,
        JobState::Failed,
        JobState::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Submitted => "SUBMITTED",
            JobState::Running => "RUNNING",
            JobState::Started => "STARTED",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Canceled => "CANCELED",
        }
    }

    /// The small integer stored in the database.
    pub fn code(self) -> i32 {
        match self {
            JobState::Submitted => 0,
            JobState::Running => 1,
            JobState::Completed => 2,
            JobState::Failed => 3,
            JobState::Canceled => 4,
            JobState::Started => 5,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.code() == code)
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(text))
    }

    /// Lowercase form used in CSS class names.
    pub fn css(self) -> &'static str {
        match self {
            JobState::Submitted => "submitted",
            JobState::Running => "running",
            JobState::Started => "started",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Canceled => "canceled",
        }
    }
}

/// OTLP span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StatusCode {
    #[default]
    #[serde(rename = "STATUS_CODE_UNSET")]
    Unset,
    #[serde(rename = "STATUS_CODE_OK")]
    Ok,
    #[serde(rename = "STATUS_CODE_ERROR")]
    Error,
}

impl StatusCode {
    /// OTLP's numeric value (also what the database stores).
    pub fn code(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }

    /// Unknown numbers are treated as unset, as OTLP asks of receivers.
    pub fn from_code(code: i32) -> Self {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.to_ascii_uppercase();
        let short = upper.strip_prefix("STATUS_CODE_").unwrap_or(&upper);
        match short {
            "UNSET" => Some(StatusCode::Unset),
            "OK" => Some(StatusCode::Ok),
            "ERROR" => Some(StatusCode::Error),
            _ => None,
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// One job as listed: a workflow job or a trace seen only through OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// UUID. For a job known only from its trace, the UUID with the trace id's 16 bytes.
    pub id: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    pub name: String,
    pub state: JobState,
    /// Unix nanoseconds of the earliest span start (0 when no span arrived yet).
    pub start_ns: i64,
    /// Unix nanoseconds of the latest span end.
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: Vec<String>,
    /// For workflow jobs: their tasks by state and the clusters they run on.
    pub tasks: Option<TaskSummary>,
}

/// A workflow job's tasks at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub queued: i64,
    pub running: i64,
    pub computed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub failed_optional: i64,
    pub clusters: Vec<String>,
}

impl TaskSummary {
    pub fn total(&self) -> i64 {
        self.queued
            + self.running
            + self.computed
            + self.failed
            + self.skipped
            + self.failed_optional
    }

    /// Adds `count` tasks in the state named like `workflows.v1.TaskState` (`QUEUED`, …).
    pub fn add(&mut self, state: &str, count: i64) {
        match state {
            "QUEUED" => self.queued += count,
            "RUNNING" => self.running += count,
            "COMPUTED" => self.computed += count,
            "FAILED" => self.failed += count,
            "SKIPPED" => self.skipped += count,
            _ => self.failed_optional += count,
        }
    }
}

/// One execution of a task by a runner, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttempt {
    pub number: i64,
    /// The runner's connection (peer address) that claimed the task.
    pub runner: String,
    pub started_ns: i64,
    pub stopped_ns: Option<i64>,
    /// `running`, `computed`, `failed`, `lease expired`, `canceled`.
    pub outcome: String,
    pub error: String,
}

/// A workflow task with its attempts: what the server knows even before any span arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: String,
    pub parent_id: Option<String>,
    pub depends_on: Vec<String>,
    pub display: String,
    pub identifier_name: String,
    pub identifier_version: String,
    pub cluster: String,
    /// `QUEUED`, `RUNNING`, `COMPUTED`, `FAILED`, `SKIPPED`, `FAILED_OPTIONAL`.
    pub state: String,
    pub optional: bool,
    pub max_retries: i64,
    pub retry_count: i64,
    pub submitted_ns: i64,
    pub started_ns: Option<i64>,
    pub stopped_ns: Option<i64>,
    pub attempts: Vec<TaskAttempt>,
}

impl TaskView {
    /// Time from submission to the first attempt's start: how long the task queued.
    pub fn queue_wait_ns(&self) -> Option<i64> {
        self.attempts
            .first()
            .map(|attempt| (attempt.started_ns - self.submitted_ns).max(0))
    }
}

impl Job {
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }
}

/// A timestamped annotation on a span; exceptions are events named `exception`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: i64,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP SpanKind number (0 unspecified … 5 consumer).
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: StatusCode,
    pub status_message: String,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    /// Resource attributes: service.name, service.instance.id, host, runner identity.
    pub resource: Attributes,
    pub scope_name: String,
    pub scope_version: String,
}

impl Span {
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    pub fn service_name(&self) -> &str {
        self.resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A span as the job page's skeleton carries it: what places, colours and labels its row and
/// ties it to its task and runner. Attributes, events and resource come on demand for the span
/// the reader selects ([`Span`]). On the wire it is a JSON array, not an object: a trace of
/// 100,000 spans would otherwise repeat every field name 100,000 times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "OutlineWire", from = "OutlineWire")]
pub struct SpanOutline {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: StatusCode,
    pub status_message: String,
    /// `service.name` of its resource.
    pub service: String,
    /// `service.instance.id` of its resource, "" when absent: the runner that executed it.
    pub runner: String,
    /// The task it belongs to: the `task_id` attribute (task spans and what the task's code
    /// recorded); for a `task/…` span without one, the store's stand-in key (parent span and
    /// name), so same-name task spans under one parent count as attempts of one task, as the
    /// job's state does (`store/rows.rs`).
    pub task_id: Option<String>,
    /// Whether it carries events (exceptions among them); they come with its details.
    pub has_events: bool,
}

type OutlineWire = (
    String,
    Option<String>,
    String,
    i64,
    i64,
    i32,
    String,
    String,
    String,
    Option<String>,
    u8,
);

impl From<SpanOutline> for OutlineWire {
    fn from(s: SpanOutline) -> Self {
        (
            s.span_id,
            s.parent_span_id,
            s.name,
            s.start_ns,
            s.end_ns,
            s.status_code.code(),
            s.status_message,
            s.service,
            s.runner,
            s.task_id,
            u8::from(s.has_events),
        )
    }
}

impl From<OutlineWire> for SpanOutline {
    fn from(w: OutlineWire) -> Self {
        SpanOutline {
            span_id: w.0,
            parent_span_id: w.1,
            name: w.2,
            start_ns: w.3,
            end_ns: w.4,
            status_code: StatusCode::from_code(w.5),
            status_message: w.6,
            service: w.7,
            runner: w.8,
            task_id: w.9,
            has_events: w.10 != 0,
        }
    }
}

impl SpanOutline {
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    /// The skeleton of a full span.
    pub fn of(span: &Span) -> Self {
        SpanOutline {
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            name: span.name.clone(),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            status_code: span.status_code,
            status_message: span.status_message.clone(),
            service: span.service_name().to_owned(),
            runner: span
                .resource
                .get("service.instance.id")
                .map(value_text)
                .unwrap_or_default(),
            task_id: span
                .attributes
                .get("task_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            has_events: !span.events.is_empty(),
        }
    }
}

/// A span outline for tests: unset status, no service, runner or task.
#[cfg(test)]
pub(crate) fn test_outline(
    id: &str,
    parent: Option<&str>,
    name: &str,
    start_ns: i64,
    end_ns: i64,
) -> SpanOutline {
    SpanOutline {
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        name: name.into(),
        start_ns,
        end_ns,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        service: String::new(),
        runner: String::new(),
        task_id: None,
        has_events: false,
    }
}

/// Where a log record sits, without its body: the job page draws these as ticks on their span's
/// bar and counts them; bodies come for the selected span. A JSON array on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "MarkWire", from = "MarkWire")]
pub struct LogMark {
    pub span_id: Option<String>,
    pub time_ns: i64,
    pub severity_number: i32,
}

type MarkWire = (Option<String>, i64, i32);

impl From<LogMark> for MarkWire {
    fn from(m: LogMark) -> Self {
        (m.span_id, m.time_ns, m.severity_number)
    }
}

impl From<MarkWire> for LogMark {
    fn from(w: MarkWire) -> Self {
        LogMark {
            span_id: w.0,
            time_ns: w.1,
            severity_number: w.2,
        }
    }
}

impl LogMark {
    pub fn severity_label(&self) -> &'static str {
        severity_name(self.severity_number)
    }
}

/// OTLP's name for a severity number's range.
pub fn severity_name(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "UNSPECIFIED",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub time_ns: i64,
    pub severity_number: i32,
    pub severity_text: String,
    /// A string body as is; any other body as its JSON text.
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Attributes,
    pub resource: Attributes,
}

impl LogRecord {
    /// The severity's name, from the text if sent, else from the number's OTLP range.
    pub fn severity_label(&self) -> &str {
        if !self.severity_text.is_empty() {
            return &self.severity_text;
        }
        severity_name(self.severity_number)
    }
}

/// What the job list asks for: which jobs, in which order, `cursor` from a previous page's
/// `next_cursor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobListQuery {
    pub filter: JobFilter,
    pub sort: JobSort,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One page of the job list, newest first, with the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
    /// Jobs matching the filter but its states, by state (the list's chips); empty when not
    /// asked for.
    pub state_counts: Vec<StateCount>,
}

/// What the job page loads first: the job, the skeleton of every span and where every log line
/// sits. A span's attributes, events and resource and its log bodies are loaded when it is
/// selected (`get_span_detail`, `get_span_logs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTrace {
    pub job: Job,
    /// By start time.
    pub spans: Vec<SpanOutline>,
    /// Every log record of the trace, by time.
    pub log_marks: Vec<LogMark>,
    /// The records outside any span (the first [`UNATTACHED_LOGS`]), whole.
    pub unattached_logs: Vec<LogRecord>,
    /// Workflow jobs only: the tasks and their attempts.
    pub tasks: Vec<TaskView>,
    /// The latest earlier job of the same name, to compare with.
    pub previous_run: Option<String>,
}

/// How many records outside any span the job page lists.
pub const UNATTACHED_LOGS: u32 = 1000;

/// How many log lines the span panel loads at once.
pub const PANEL_LOGS: u32 = 5000;

/// Two runs side by side (`/compare?a=…&b=…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobComparison {
    pub a: Job,
    pub b: Job,
    pub rows: Vec<CompareRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub jobs: i64,
    pub spans: i64,
    pub logs: i64,
}
