//! Jobs as the dashboard lists them: state, tasks and their attempts, the job list's pages, totals.

use serde::{Deserialize, Serialize};

use super::{JobFilter, JobSort, StateCount};

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

/// What tells a shown job from a newer state of it: the live stream's `job` events carry these
/// fields (inside the REST API's job JSON) and the job page compares them with what it shows.
/// One type on both sides, so a renamed field cannot silently stop live refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVersion {
    pub state: JobState,
    pub span_count: i64,
    pub error_count: i64,
    #[serde(rename = "end_time_unix_nano")]
    pub end_ns: i64,
    pub tasks: Option<TaskSummary>,
}

impl From<&Job> for JobVersion {
    fn from(job: &Job) -> Self {
        JobVersion {
            state: job.state,
            span_count: job.span_count,
            error_count: job.error_count,
            end_ns: job.end_ns,
            tasks: job.tasks.clone(),
        }
    }
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
    /// The job's first progress indicators by label (at most 3; the job page shows them all).
    #[serde(default)]
    pub progress: Vec<JobProgress>,
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

/// A job's progress indicator (`context.progress(label).add(n)` / `.done(n)` in its tasks),
/// summed over its tasks and attempts; `""` is the unlabeled one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    pub label: String,
    pub total: i64,
    pub done: i64,
}

impl JobProgress {
    /// Done as a share of the total, 0–1 (1 when the total is 0 and something is done).
    pub fn fraction(&self) -> f64 {
        if self.total <= 0 {
            return if self.done > 0 { 1.0 } else { 0.0 };
        }
        (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
    }
}

/// One execution of a task by a runner, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttempt {
    pub number: i64,
    /// The runner that claimed the task: the name it reports under (`x-jobtrace-runner`, the
    /// Rust SDK's `host:pid:random`), else its connection's peer address (the Python client).
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
    /// The task's display label: its class name, or what the task set while it ran.
    pub display: String,
    /// The first scalar fields of its input (`tile=T33U07 year=2024`, or a lone field's value):
    /// what tells it from its siblings. Empty when the input has none.
    #[serde(default)]
    pub summary: String,
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
    /// The task as a list names it: its display label, then its tag (`DownloadTile · T33U07`).
    pub fn label(&self) -> String {
        let tag = self.tag(&self.display);
        if tag.is_empty() {
            self.display.clone()
        } else {
            format!("{} · {tag}", self.display)
        }
    }

    /// What tells the task from its siblings next to `shown_name` (its span's or table's name):
    /// the display label when the task set one that name lacks, then its input summary;
    /// `·`-separated, empty when there is neither.
    pub fn tag(&self, shown_name: &str) -> String {
        let named = shown_name.strip_prefix("task/").unwrap_or(shown_name) == self.display;
        let display = (!named && !self.display.is_empty()).then_some(self.display.as_str());
        let summary = (!self.summary.is_empty()).then_some(self.summary.as_str());
        display
            .into_iter()
            .chain(summary)
            .collect::<Vec<_>>()
            .join(" · ")
    }

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub jobs: i64,
    pub spans: i64,
    pub logs: i64,
}
