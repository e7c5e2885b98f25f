//! The workflow side of the store: its types and rules here, the SQL per aggregate below.

mod analytics;
mod automations;
mod backend;
mod claims;
mod clusters;
mod completion;
mod cycle_statements;
mod holder;
mod jobs;
mod pg_batch;
mod progress;
mod rows;
mod sqlite_cycle;
mod storage;
mod summary;
mod tasks;
mod validate;

use app::model::JobState;

use super::TraceId;

pub use analytics::TaskStats;
pub use automations::{
    Automation, CronTrigger, DueTrigger, MAX_TRIGGERS, NEVER_NS, NewAutomation, WorkflowAutomations,
};
pub(in crate::store) use claims::RequeueSchedule;
pub use claims::TaskQueue;
pub use clusters::WorkflowClusters;
pub use holder::Reporter;
pub use jobs::WorkflowJobs;
pub(in crate::store) use pg_batch::CycleBatches;
pub use storage::{
    EventJob, MAX_OBJECT_KEY_BYTES, NewStorageLocation, ObjectCreated, StorageEvent, StorageKind,
    StorageLocation, StorageSubscription, StorageTrigger, TriggeredJob, WatchedTrigger,
    WorkflowStorage, check_object_key,
};
pub use tasks::WorkflowTasks;

/// `workflows.v1.TaskState` numbers, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Queued = 1,
    Running = 2,
    Computed = 3,
    Failed = 4,
    Skipped = 5,
    FailedOptional = 6,
}

impl TaskState {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => TaskState::Queued,
            2 => TaskState::Running,
            3 => TaskState::Computed,
            4 => TaskState::Failed,
            5 => TaskState::Skipped,
            6 => TaskState::FailedOptional,
            _ => return None,
        })
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "QUEUED",
            TaskState::Running => "RUNNING",
            TaskState::Computed => "COMPUTED",
            TaskState::Failed => "FAILED",
            TaskState::Skipped => "SKIPPED",
            TaskState::FailedOptional => "FAILED_OPTIONAL",
        }
    }

    /// Done for good: nothing will run it again unless the job is retried.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskState::Computed | TaskState::Skipped | TaskState::FailedOptional
        )
    }
}

/// A task as submitted (by a job submission or a task's subtasks).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub identifier_name: String,
    pub identifier_version: String,
    pub display: String,
    pub input: Vec<u8>,
    /// Empty: the submitter's cluster (subtasks) or the default cluster (jobs).
    pub cluster_slug: String,
    pub max_retries: i64,
    pub optional: bool,
    /// Indices of tasks of the same submission this one waits for.
    pub depends_on: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub name: String,
    /// W3C traceparent tying the job to its trace.
    pub trace_parent: String,
    pub trace_id: TraceId,
    pub tasks: Vec<TaskSpec>,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Computed,
        TaskState::Failed,
        TaskState::Skipped,
        TaskState::FailedOptional,
    ];

    /// How many of `counts`' tasks are in this state.
    pub fn count_in(self, counts: &TaskCounts) -> i64 {
        match self {
            TaskState::Queued => counts.queued,
            TaskState::Running => counts.running,
            TaskState::Computed => counts.computed,
            TaskState::Failed => counts.failed,
            TaskState::Skipped => counts.skipped,
            TaskState::FailedOptional => counts.failed_optional,
        }
    }
}

/// Counts of a job's tasks by state (the dashboard's summary type; `clusters` unused here).
pub type TaskCounts = app::model::TaskSummary;

/// A workflow job's state from its tasks: canceled and failed win; completed when every task
/// is done; running while a task runs; started once some task ran; submitted before.
pub fn workflow_job_state(canceled: bool, counts: &TaskCounts) -> JobState {
    let done = counts.computed + counts.skipped + counts.failed_optional;
    if canceled {
        JobState::Canceled
    } else if counts.failed > 0 {
        JobState::Failed
    } else if counts.total() > 0 && done == counts.total() {
        JobState::Completed
    } else if counts.running > 0 {
        JobState::Running
    } else if done > 0 {
        JobState::Started
    } else {
        JobState::Submitted
    }
}

/// Parses `vMAJOR.MINOR`.
pub fn parse_version(version: &str) -> Option<(u64, u64)> {
    let (major, minor) = version.strip_prefix('v')?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A runner offering `runner` can run a task submitted as `task`: same major version and a
/// minor version at least the task's. Unparseable versions must match exactly.
pub fn version_compatible(task: &str, runner: &str) -> bool {
    match (parse_version(task), parse_version(runner)) {
        (Some((task_major, task_minor)), Some((runner_major, runner_minor))) => {
            task_major == runner_major && runner_minor >= task_minor
        }
        _ => task == runner,
    }
}

/// A workflow job with what the workflow API and the dashboard show of it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowJob {
    pub id: uuid::Uuid,
    pub name: String,
    pub trace_parent: String,
    pub trace_id: TraceId,
    pub state: JobState,
    pub canceled: bool,
    pub submitted_ns: i64,
    pub first_started_ns: Option<i64>,
    pub last_stopped_ns: Option<i64>,
    /// Sum over attempts of their run time.
    pub compute_ns: i64,
    pub counts: TaskCounts,
    /// Progress indicators, summed per label over the job's tasks and attempts (label order;
    /// `""` is the unlabeled one).
    pub progress: Vec<Progress>,
    /// The automation that submitted it, and the due time it was submitted for.
    pub automation_id: Option<uuid::Uuid>,
    pub trigger_ns: Option<i64>,
}

/// A progress indicator (`context.progress(label).add(n)` / `.done(n)`): what a finished task
/// reports it added, and a job's sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub label: String,
    pub total: i64,
    pub done: i64,
}

/// One task of a job, with every attempt, for the job page and the REST API.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: uuid::Uuid,
    pub parent_id: Option<uuid::Uuid>,
    pub depends_on: Vec<uuid::Uuid>,
    pub identifier_name: String,
    pub identifier_version: String,
    pub display: String,
    /// The first scalar fields of its input (`summary.rs`); empty when it has none.
    pub input_summary: String,
    pub cluster_slug: String,
    pub state: TaskState,
    pub optional: bool,
    pub max_retries: i64,
    pub retry_count: i64,
    pub submitted_ns: i64,
    pub started_ns: Option<i64>,
    pub stopped_ns: Option<i64>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: i64,
    pub runner: String,
    pub started_ns: i64,
    pub stopped_ns: Option<i64>,
    pub outcome: AttemptOutcome,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Running = 0,
    Computed = 1,
    Failed = 2,
    LeaseExpired = 3,
    Canceled = 4,
    /// The runner gave the task back (it was shutting down): queued again, no retry used.
    Released = 5,
}

impl AttemptOutcome {
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => AttemptOutcome::Computed,
            2 => AttemptOutcome::Failed,
            3 => AttemptOutcome::LeaseExpired,
            4 => AttemptOutcome::Canceled,
            5 => AttemptOutcome::Released,
            _ => AttemptOutcome::Running,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Computed => "computed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::LeaseExpired => "lease expired",
            AttemptOutcome::Canceled => "canceled",
            AttemptOutcome::Released => "released by its runner",
        }
    }
}

/// What a runner asks for: work from one cluster, for the task identifiers it knows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequest {
    pub cluster_slug: String,
    /// (name, version) pairs the runner can execute.
    pub identifiers: Vec<(String, String)>,
    /// Who is asking (the runner's `x-jobtrace-runner` id, else its peer address), recorded on
    /// the attempt: only that runner may report on it.
    pub runner: String,
    pub lease_ns: i64,
}

/// The outcome of a task the runner reports with its next claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedTask {
    pub task_id: uuid::Uuid,
    /// Who reports it: counted only from the holder of the task's current attempt.
    pub reporter: Reporter,
    /// The progress the task reported (added to its job's).
    pub progress: Vec<Progress>,
    pub subtasks: Vec<TaskSpec>,
    /// The display label the task set while it ran (`context.current_task.display`); empty or
    /// unchanged keeps the stored one.
    pub display: String,
}

/// A task handed to a runner.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedTask {
    pub id: uuid::Uuid,
    pub job_id: uuid::Uuid,
    pub job_name: String,
    pub job_trace_parent: String,
    /// The identifier under the runner's own (compatible) version.
    pub identifier: (String, String),
    pub display: String,
    pub input: Vec<u8>,
    pub parent_id: Option<uuid::Uuid>,
    pub depends_on: Vec<uuid::Uuid>,
    pub retry_count: i64,
    pub lease_ns: i64,
    /// The attempt this claim started (1 for the first): the runner names it when it reports.
    pub attempt: i64,
    /// The automation that submitted its job: its root task's input is then the
    /// `workflows.v1.Automation` wrapper (the trigger event and the task's own input).
    pub automation_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub is_default: bool,
}

/// Workflow job queries (QueryJobs): newest first, keyset on the job id (UUIDv7, time-ordered).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowJobQuery {
    pub submitted_after_ns: Option<i64>,
    pub submitted_before_ns: Option<i64>,
    pub states: Vec<JobState>,
    pub name: Option<String>,
    pub cluster_slugs: Vec<String>,
    /// Only jobs these automations submitted (none: any job).
    pub automation_ids: Vec<uuid::Uuid>,
    pub starting_after: Option<uuid::Uuid>,
    pub limit: u32,
    pub ascending: bool,
}

/// The workflow operations, one transaction each, written once for SQLite and PostgreSQL
/// (`jobs`, `tasks`, `claims`, `clusters`; how transactions lock: `backend`).
pub trait WorkflowStore:
    WorkflowJobs
    + WorkflowTasks
    + TaskQueue
    + WorkflowClusters
    + WorkflowAutomations
    + WorkflowStorage
    + TaskStats
{
}

impl<T> WorkflowStore for T where
    T: WorkflowJobs
        + WorkflowTasks
        + TaskQueue
        + WorkflowClusters
        + WorkflowAutomations
        + WorkflowStorage
        + TaskStats
{
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(queued: i64, running: i64, computed: i64, failed: i64) -> TaskCounts {
        TaskCounts {
            queued,
            running,
            computed,
            failed,
            ..TaskCounts::default()
        }
    }

    #[test]
    fn test_job_state_from_tasks() {
        assert_eq!(
            workflow_job_state(false, &counts(1, 0, 0, 0)),
            JobState::Submitted
        );
        assert_eq!(
            workflow_job_state(false, &counts(1, 1, 0, 0)),
            JobState::Running
        );
        assert_eq!(
            workflow_job_state(false, &counts(2, 0, 1, 0)),
            JobState::Started
        );
        assert_eq!(
            workflow_job_state(false, &counts(0, 0, 3, 0)),
            JobState::Completed
        );
        assert_eq!(
            workflow_job_state(false, &counts(1, 1, 1, 1)),
            JobState::Failed
        );
        assert_eq!(
            workflow_job_state(true, &counts(0, 0, 3, 0)),
            JobState::Canceled
        );
        let optional_failure = TaskCounts {
            computed: 2,
            failed_optional: 1,
            ..TaskCounts::default()
        };
        assert_eq!(
            workflow_job_state(false, &optional_failure),
            JobState::Completed
        );
    }

    #[test]
    fn test_versions_are_compatible_within_a_major() {
        assert!(version_compatible("v1.2", "v1.2"));
        assert!(version_compatible("v1.2", "v1.5"));
        assert!(!version_compatible("v1.5", "v1.2"));
        assert!(!version_compatible("v1.2", "v2.2"));
        assert!(version_compatible("custom", "custom"));
        assert!(!version_compatible("custom", "v0.0"));
    }
}
