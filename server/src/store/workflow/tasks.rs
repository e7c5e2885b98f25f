//! A job's tasks: inserting submissions and subtasks, dependencies, attempts, completion and
//! failure, and reading them back.

use std::collections::HashSet;

use uuid::Uuid;

use super::holder::{Standing, asks_about_earlier_attempts, standing};
use super::progress::validate_progress;
use super::rows::{
    AttemptRow, JOB_ATTEMPTS, JOB_FACTS, JOB_TASKS, JobFacts, TASK_FACTS, TaskFacts, TaskRow,
    task_records,
};
use super::summary::input_summary;
use super::validate::{MAX_TEXT_BYTES, fitted_text, validate_dependencies, validate_task_texts};
use super::{AttemptOutcome, ComputedTask, Progress, Reporter, TaskRecord, TaskSpec, TaskState};
use crate::store::error::task_state_of;
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Rows per multi-row task insert (15 parameters each).
const TASK_CHUNK: usize = 500;
/// Rows per multi-row dependency insert.
const EDGE_CHUNK: usize = 1000;

/// The task side of the workflow store, one transaction each.
#[async_trait::async_trait]
pub trait WorkflowTasks: Send + Sync + 'static {
    /// Records a failed attempt: re-queued while retries are left, else failed. A failure that
    /// is not the task's own (`workflow_error == false`: the runner is shutting down) re-queues
    /// the task without using a retry. A report from a runner that no longer holds the task
    /// (its lease expired and another runner claimed it) changes nothing; the task's current
    /// state is returned either way.
    async fn task_failed(
        &self,
        task_id: Uuid,
        reporter: &Reporter,
        error: &str,
        workflow_error: bool,
        progress: &[Progress],
        now_ns: i64,
    ) -> Result<TaskState, StoreError>;
    async fn job_tasks(&self, id: Uuid) -> Result<Vec<TaskRecord>, StoreError>;
}

/// A task is complete: the tasks depending on `$1` wait for one task less.
pub(super) const RELEASE_DEPENDENTS: &str = "UPDATE tasks SET pending_deps = pending_deps - 1 \
    WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on = $1)";

/// Selects the [`JobFacts`] of the job of task `$1`, locked with `row_lock` (the backend's
/// `ROW_LOCK`).
pub(super) fn job_of_task(row_lock: &str) -> String {
    format!("{JOB_FACTS} AND id = (SELECT job_id FROM tasks WHERE id = $1){row_lock}")
}

/// Whether runner `$2` ran an attempt of task `$1` before its current attempt `$3`.
pub(super) const EARLIER_ATTEMPT: &str = "SELECT attempt FROM task_attempts \
    WHERE task_id = $1 AND runner = $2 AND attempt < $3 LIMIT 1";

/// Task `$1` is computed (state `$2`) at `$3`, with the label `$4` it set (empty: unchanged).
pub(super) const MARK_COMPUTED: &str = "UPDATE tasks SET state = $2, stopped_ns = $3, \
    lease_expires_ns = NULL, display = COALESCE(NULLIF($4, ''), display) \
    WHERE id = $1 AND state IN (1, 2)";

/// Attempt `$2` of task `$1` computed it (outcome `$3`) at `$4`, if it was running (`$5`) or
/// its lease had been declared expired (`$6`).
pub(super) const END_COMPUTED_ATTEMPT: &str = "UPDATE task_attempts SET outcome = $3, \
    error = '', stopped_ns = $4 WHERE task_id = $1 AND attempt = $2 AND outcome IN ($5, $6)";

/// Each task's dependencies, sorted: a dependency listed twice is one edge and one wait.
fn distinct_dependencies(tasks: &[TaskSpec]) -> Vec<Vec<usize>> {
    tasks
        .iter()
        .map(|task| {
            let mut deps = task.depends_on.clone();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}

/// The cluster a task runs on: its own, else the submitter's.
fn cluster_of<'a>(task: &'a TaskSpec, fallback: &'a str) -> &'a str {
    if task.cluster_slug.is_empty() {
        fallback
    } else {
        task.cluster_slug.as_str()
    }
}

/// Where a running task goes when an attempt fails: back to the queue while retries are left
/// (a runner shutting down uses none), else failed; optional tasks and the tasks below them
/// (`in_optional`) without failing the job.
fn state_after_failure(task: &TaskFacts, workflow_error: bool, in_optional: bool) -> TaskState {
    if !workflow_error || task.retry_count < task.max_retries {
        TaskState::Queued
    } else if task.optional != 0 || in_optional {
        TaskState::FailedOptional
    } else {
        TaskState::Failed
    }
}

macro_rules! impl_workflow_tasks {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Inserts a submission's tasks; returns their ids in submission order.
            pub(super) async fn insert_tasks(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &[u8],
                parent_id: Option<&[u8]>,
                fallback_cluster: &str,
                tasks: &[TaskSpec],
                now_ns: i64,
            ) -> Result<Vec<Uuid>, StoreError> {
                validate_dependencies(tasks)?;
                validate_task_texts(tasks)?;
                let depends_on = distinct_dependencies(tasks);
                let slugs: HashSet<&str> = tasks
                    .iter()
                    .map(|t| cluster_of(t, fallback_cluster))
                    .collect();
                for slug in &slugs {
                    let known: Option<String> =
                        sqlx::query_scalar("SELECT slug FROM clusters WHERE slug = $1")
                            .bind(*slug)
                            .fetch_optional(&mut **tx)
                            .await?;
                    if known.is_none() {
                        return Err(StoreError::NotFound(format!("cluster {slug:?}")));
                    }
                }
                let ids: Vec<Uuid> = tasks.iter().map(|_| Uuid::now_v7()).collect();
                for (chunk_index, chunk) in tasks.chunks(TASK_CHUNK).enumerate() {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO tasks (id, job_id, parent_id, cluster_slug, identifier_name, \
                         identifier_version, display, input, input_summary, state, optional, \
                         max_retries, retry_count, pending_deps, submitted_ns, attempts) ",
                    );
                    insert.push_values(chunk.iter().enumerate(), |mut row, (offset, task)| {
                        let index = chunk_index * TASK_CHUNK + offset;
                        row.push_bind(ids[index].as_bytes().to_vec())
                            .push_bind(job_id)
                            .push_bind(parent_id)
                            .push_bind(cluster_of(task, fallback_cluster))
                            .push_bind(task.identifier_name.as_str())
                            .push_bind(task.identifier_version.as_str())
                            .push_bind(task.display.as_str())
                            .push_bind(task.input.as_slice())
                            .push_bind(input_summary(&task.input))
                            .push_bind(TaskState::Queued.code())
                            .push_bind(i32::from(task.optional))
                            .push_bind(task.max_retries.max(0))
                            .push_bind(0_i64)
                            .push_bind(depends_on[index].len() as i64)
                            .push_bind(now_ns)
                            .push_bind(0_i64);
                    });
                    insert.build().execute(&mut **tx).await?;
                }
                let edges: Vec<(Uuid, Uuid)> = depends_on
                    .iter()
                    .enumerate()
                    .flat_map(|(index, deps)| deps.iter().map(move |&d| (index, d)))
                    .map(|(index, dependency)| (ids[index], ids[dependency]))
                    .collect();
                for chunk in edges.chunks(EDGE_CHUNK) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO task_dependencies (task_id, depends_on) ",
                    );
                    insert.push_values(chunk, |mut row, (task, dependency)| {
                        row.push_bind(task.as_bytes().to_vec())
                            .push_bind(dependency.as_bytes().to_vec());
                    });
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().execute(&mut **tx).await?;
                }
                Ok(ids)
            }

            /// A dependency is complete: its dependents wait for one task less.
            pub(super) async fn release_dependents(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<(), StoreError> {
                sqlx::query(RELEASE_DEPENDENTS)
                .bind(task_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn task_facts(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<TaskFacts, StoreError> {
                sqlx::query_as(TASK_FACTS)
                .bind(task_id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| {
                    let id = Uuid::from_slice(task_id).unwrap_or_default();
                    StoreError::NotFound(format!("task {id}"))
                })
            }

            /// A task and its job, the job locked; the task read under the job's lock (every
            /// change of a task's state holds it).
            async fn lock_task(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<(JobFacts, TaskFacts), StoreError> {
                // The task's job never changes: lock it straight from the task id, then read
                // the task under that lock (two statements; a claim cycle is latency-bound).
                let select = job_of_task(Self::ROW_LOCK);
                let job: Option<JobFacts> = sqlx::query_as(&select)
                    .bind(task_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                match job {
                    Some(job) => Ok((job, Self::task_facts(tx, task_id).await?)),
                    // No task of that id (or, impossibly, a task without its job).
                    None => Self::task_facts(tx, task_id)
                        .await
                        .and(Err(StoreError::NotFound("job".to_owned()))),
                }
            }

            /// How `reporter` stands to the task's current attempt (`holder.rs` has the rule).
            pub(super) async fn standing_of(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
                facts: &TaskFacts,
                reporter: &Reporter,
            ) -> Result<Standing, StoreError> {
                let current = facts.runner.as_deref();
                let ran_earlier = if asks_about_earlier_attempts(reporter, current) {
                    let earlier: Option<i64> = sqlx::query_scalar(EARLIER_ATTEMPT)
                    .bind(task_id)
                    .bind(reporter.runner.as_str())
                    .bind(facts.attempts)
                    .fetch_optional(&mut **tx)
                    .await?;
                    earlier.is_some()
                } else {
                    false
                };
                Ok(standing(reporter, facts.attempts, current, ran_earlier))
            }

            pub(super) async fn end_attempt(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
                attempt: i64,
                outcome: AttemptOutcome,
                error: &str,
                now_ns: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE task_attempts SET outcome = $3, error = $4, stopped_ns = $5 \
                     WHERE task_id = $1 AND attempt = $2 AND outcome = 0",
                )
                .bind(task_id)
                .bind(attempt)
                .bind(outcome as i32)
                .bind(error)
                .bind(now_ns)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// The attempt that computed a task ended (`END_COMPUTED_ATTEMPT`).
            pub(super) async fn end_computed_attempt(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
                attempt: i64,
                now_ns: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(END_COMPUTED_ATTEMPT)
                    .bind(task_id)
                    .bind(attempt)
                    .bind(AttemptOutcome::Computed as i32)
                    .bind(now_ns)
                    .bind(AttemptOutcome::Running as i32)
                    .bind(AttemptOutcome::LeaseExpired as i32)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Marks a task computed, stores its subtasks and releases its dependents. Returns
            /// the job it locked and whether the report changed it; the caller brings the
            /// job's state up to date (`refresh_job`, or the claim's own update when it claims a task
            /// of the job in the same transaction).
            pub(super) async fn complete_task(
                tx: &mut sqlx::Transaction<'_, $db>,
                computed: &ComputedTask,
                now_ns: i64,
            ) -> Result<(JobFacts, bool), StoreError> {
                validate_progress(&computed.progress)?;
                let task_id = computed.task_id.as_bytes().as_slice();
                let (job, facts) = Self::lock_task(tx, task_id).await?;
                let changed = Self::apply_report(tx, computed, &facts, now_ns).await?;
                Ok((job, changed))
            }

            /// [`Self::complete_task`] once its job is locked and the task's `facts` read under
            /// that lock (progress validated): whether the report changed the task.
            pub(super) async fn apply_report(
                tx: &mut sqlx::Transaction<'_, $db>,
                computed: &ComputedTask,
                facts: &TaskFacts,
                now_ns: i64,
            ) -> Result<bool, StoreError> {
                let task_id = computed.task_id.as_bytes().as_slice();
                // The label is the task's own text: cleaned and cut, never a refused result.
                let display = fitted_text(&computed.display, MAX_TEXT_BYTES);
                // A task re-queued after its lease expired still counts as computed by the
                // runner of that attempt while nobody claimed it again; reports for finished
                // tasks, and from a runner another attempt replaced, change nothing.
                let state = task_state_of(facts.state)?;
                if !matches!(state, TaskState::Running | TaskState::Queued) {
                    return Ok(false);
                }
                let standing = Self::standing_of(tx, task_id, facts, &computed.reporter).await?;
                if !standing.counts() {
                    tracing::warn!(
                        task = %computed.task_id,
                        runner = %computed.reporter.runner,
                        "ignored a computed report from a runner that no longer holds the task"
                    );
                    return Ok(false);
                }
                let subtasks = &computed.subtasks;
                if subtasks.is_empty() {
                    // Computed and complete at once (`cycle_statements.rs`).
                    Self::compute_leaf(tx, task_id, facts.attempts, &display, now_ns).await?;
                    Self::add_progress(tx, &facts.job_id, &computed.progress).await?;
                    return Ok(true);
                }
                sqlx::query(MARK_COMPUTED)
                    .bind(task_id)
                    .bind(TaskState::Computed.code())
                    .bind(now_ns)
                    .bind(display.as_str())
                    .execute(&mut **tx)
                    .await?;
                // The attempt that computed it, also when its lease had been declared expired
                // (the case above): a computed task always has its computed attempt.
                Self::end_computed_attempt(tx, task_id, facts.attempts, now_ns).await?;
                let cluster = &facts.cluster_slug;
                Self::insert_tasks(tx, &facts.job_id, Some(task_id), cluster, subtasks, now_ns)
                    .await?;
                Self::add_progress(tx, &facts.job_id, &computed.progress).await?;
                // Complete once all its subtasks are (`completion.rs`).
                Ok(true)
            }
        }

        #[async_trait::async_trait]
        impl WorkflowTasks for $store {
            async fn task_failed(
                &self,
                task_id: Uuid,
                reporter: &Reporter,
                error: &str,
                workflow_error: bool,
                progress: &[Progress],
                now_ns: i64,
            ) -> Result<TaskState, StoreError> {
                validate_progress(progress)?;
                let id = task_id.as_bytes().as_slice();
                let (mut tx, _turn) = self.write_tx().await?;
                let (job, facts) = Self::lock_task(&mut tx, id).await?;
                let state = task_state_of(facts.state)?;
                if state != TaskState::Running {
                    return Ok(state);
                }
                if !Self::standing_of(&mut tx, id, &facts, reporter).await?.counts() {
                    tracing::warn!(
                        task = %task_id,
                        runner = %reporter.runner,
                        "ignored a failure report from a runner that no longer holds the task"
                    );
                    return Ok(state);
                }
                let outcome = if workflow_error {
                    AttemptOutcome::Failed
                } else {
                    AttemptOutcome::Released
                };
                Self::end_attempt(&mut tx, id, facts.attempts, outcome, error, now_ns).await?;
                Self::add_progress(&mut tx, &facts.job_id, progress).await?;
                let out_of_retries = workflow_error && facts.retry_count >= facts.max_retries;
                let optional_root = if out_of_retries {
                    Self::optional_root(&mut tx, id).await?
                } else {
                    None
                };
                let next = state_after_failure(&facts, workflow_error, optional_root.is_some());
                let retried = i64::from(workflow_error && next == TaskState::Queued);
                sqlx::query(
                    "UPDATE tasks SET state = $2, retry_count = retry_count + $3, \
                     stopped_ns = $4, lease_expires_ns = NULL WHERE id = $1 AND state = 2",
                )
                .bind(id)
                .bind(next.code())
                .bind(retried)
                .bind(now_ns)
                .execute(&mut *tx)
                .await?;
                if next == TaskState::FailedOptional {
                    // Optional tasks may fail without holding up what depends on them; what is
                    // still queued in the optional subtree is skipped.
                    Self::complete_subtree(&mut tx, id, now_ns).await?;
                    if let Some(root) = optional_root.filter(|root| root.as_slice() != id) {
                        Self::skip_queued_below(&mut tx, &root, now_ns).await?;
                    }
                }
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await?;
                Ok(next)
            }

            async fn job_tasks(&self, id: Uuid) -> Result<Vec<TaskRecord>, StoreError> {
                let job_id = id.as_bytes().as_slice();
                let mut conn = self.read.acquire().await?;
                let rows: Vec<TaskRow> = sqlx::query_as(JOB_TASKS)
                    .bind(job_id)
                    .fetch_all(&mut *conn)
                    .await?;
                let edges: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
                    "SELECT d.task_id, d.depends_on FROM task_dependencies d \
                     JOIN tasks t ON t.id = d.task_id WHERE t.job_id = $1",
                )
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await?;
                let attempts: Vec<AttemptRow> = sqlx::query_as(JOB_ATTEMPTS)
                    .bind(job_id)
                    .fetch_all(&mut *conn)
                    .await?;
                task_records(rows, edges, attempts)
            }
        }
    };
}

impl_workflow_tasks!(SqliteStore, sqlx::Sqlite);
impl_workflow_tasks!(PostgresStore, sqlx::Postgres);
