//! What the job page loads first: the job, every span's skeleton and where every log line sits.

use serde::{Deserialize, Serialize};

use super::{Job, JobProgress, LogMark, LogRecord, SpanOutline, TaskView};

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
    /// Workflow jobs only: the progress indicators its tasks reported, summed per label.
    #[serde(default)]
    pub progress: Vec<JobProgress>,
}

/// How many records outside any span the job page lists.
pub const UNATTACHED_LOGS: u32 = 1000;
