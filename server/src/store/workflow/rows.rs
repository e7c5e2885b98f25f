//! Rows of the workflow tables, and their conversion to the workflow types.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Attempt, AttemptOutcome, Cluster, TaskRecord};
use crate::store::StoreError;
use crate::store::error::{task_state_of, uuid_of};

/// Selects [`JobFacts`] of workflow jobs; callers append ` AND …` conditions.
pub(super) const JOB_FACTS: &str = "SELECT id, trace_id, name, state, trace_parent, canceled, \
    submitted_ns, end_ns, automation_id, trigger_ns FROM jobs WHERE kind = 1";

#[derive(sqlx::FromRow)]
pub(super) struct JobFacts {
    pub id: Vec<u8>,
    pub trace_id: Vec<u8>,
    pub name: String,
    pub state: i32,
    pub trace_parent: Option<String>,
    pub canceled: i32,
    pub submitted_ns: Option<i64>,
    pub end_ns: i64,
    /// The automation that submitted it, and for which due time.
    pub automation_id: Option<Vec<u8>>,
    pub trigger_ns: Option<i64>,
}

impl JobFacts {
    /// Whether its tasks may be claimed: not canceled, not failed (the candidates' query says
    /// the same in SQL).
    pub fn takes_claims(&self) -> bool {
        self.canceled == 0 && self.state != app::model::JobState::Failed.code()
    }
}

/// The columns of [`TaskFacts`].
macro_rules! task_facts_columns {
    () => {
        "job_id, state, attempts, retry_count, max_retries, optional, cluster_slug, runner"
    };
}

/// Selects the [`TaskFacts`] of one task; `$1` its id.
pub(super) const TASK_FACTS: &str = concat!(
    "SELECT ",
    task_facts_columns!(),
    " FROM tasks WHERE id = $1"
);

/// Selects the [`TaskFacts`] of several tasks, each after its `id`; `$1` the ids (PostgreSQL).
pub(super) const TASKS_FACTS: &str = concat!(
    "SELECT id, ",
    task_facts_columns!(),
    " FROM tasks WHERE id = ANY($1)"
);

/// What changing a task needs to know of it.
#[derive(sqlx::FromRow)]
pub(super) struct TaskFacts {
    pub job_id: Vec<u8>,
    pub state: i32,
    pub attempts: i64,
    pub retry_count: i64,
    pub max_retries: i64,
    pub optional: i32,
    pub cluster_slug: String,
    /// The runner of the current attempt (none before the first claim).
    pub runner: Option<String>,
}

/// Selects [`TaskRow`]s; `$1` the job id.
pub(super) const JOB_TASKS: &str = "SELECT id, parent_id, identifier_name, identifier_version, \
    display, input_summary, cluster_slug, state, optional, max_retries, retry_count, submitted_ns, \
    started_ns, stopped_ns FROM tasks WHERE job_id = $1 ORDER BY submitted_ns, id";

#[derive(sqlx::FromRow)]
pub(super) struct TaskRow {
    id: Vec<u8>,
    parent_id: Option<Vec<u8>>,
    identifier_name: String,
    identifier_version: String,
    display: String,
    input_summary: String,
    cluster_slug: String,
    state: i32,
    optional: i32,
    max_retries: i64,
    retry_count: i64,
    submitted_ns: i64,
    started_ns: Option<i64>,
    stopped_ns: Option<i64>,
}

/// Selects [`AttemptRow`]s of a job's tasks; `$1` the job id.
pub(super) const JOB_ATTEMPTS: &str = "SELECT a.task_id, a.attempt, a.runner, a.started_ns, \
    a.stopped_ns, a.outcome, a.error FROM task_attempts a JOIN tasks t ON t.id = a.task_id \
    WHERE t.job_id = $1 ORDER BY a.attempt";

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    task_id: Vec<u8>,
    attempt: i64,
    runner: String,
    started_ns: i64,
    stopped_ns: Option<i64>,
    outcome: i32,
    error: String,
}

/// A job's tasks with their dependencies (`(task, depends on)` edges) and attempts.
pub(super) fn task_records(
    rows: Vec<TaskRow>,
    edges: Vec<(Vec<u8>, Vec<u8>)>,
    attempts: Vec<AttemptRow>,
) -> Result<Vec<TaskRecord>, StoreError> {
    let mut depends: HashMap<Vec<u8>, Vec<Uuid>> = HashMap::new();
    for (task, dependency) in edges {
        depends.entry(task).or_default().push(uuid_of(&dependency)?);
    }
    let mut by_task: HashMap<Vec<u8>, Vec<Attempt>> = HashMap::new();
    for row in attempts {
        by_task.entry(row.task_id).or_default().push(Attempt {
            number: row.attempt,
            runner: row.runner,
            started_ns: row.started_ns,
            stopped_ns: row.stopped_ns,
            outcome: AttemptOutcome::from_code(i64::from(row.outcome)),
            error: row.error,
        });
    }
    rows.into_iter()
        .map(|row| {
            Ok(TaskRecord {
                id: uuid_of(&row.id)?,
                parent_id: row.parent_id.as_deref().map(uuid_of).transpose()?,
                depends_on: depends.remove(&row.id).unwrap_or_default(),
                attempts: by_task.remove(&row.id).unwrap_or_default(),
                identifier_name: row.identifier_name,
                identifier_version: row.identifier_version,
                display: row.display,
                input_summary: row.input_summary,
                cluster_slug: row.cluster_slug,
                state: task_state_of(row.state)?,
                optional: row.optional != 0,
                max_retries: row.max_retries,
                retry_count: row.retry_count,
                submitted_ns: row.submitted_ns,
                started_ns: row.started_ns,
                stopped_ns: row.stopped_ns,
            })
        })
        .collect()
}

/// Selects [`ClusterRow`]s; callers append `WHERE …` / `ORDER BY …`.
pub(super) const CLUSTERS: &str =
    "SELECT slug, display_name, description, is_default FROM clusters";

#[derive(sqlx::FromRow)]
pub(super) struct ClusterRow {
    slug: String,
    display_name: String,
    description: String,
    is_default: i32,
}

impl From<ClusterRow> for Cluster {
    fn from(row: ClusterRow) -> Self {
        Cluster {
            slug: row.slug,
            display_name: row.display_name,
            description: row.description,
            is_default: row.is_default != 0,
        }
    }
}
