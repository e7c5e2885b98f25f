//! Workflow jobs: submission, loading, queries, retry, cancel, and their state roll-up.

use app::model::JobState;
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use super::rows::{JOB_FACTS, JobFacts};
use super::validate::validate_job;
use super::{NewJob, TaskCounts, WorkflowJob, WorkflowJobQuery, workflow_job_state};
use crate::store::error::{task_state_of, trace_id_of, uuid_of};
use crate::store::job_filter::{push_contains, push_in_clusters, push_states};
use crate::store::{PostgresStore, SqliteStore, StoreError, TraceId};

/// The job side of the workflow store, one transaction each.
#[async_trait::async_trait]
pub trait WorkflowJobs: Send + Sync + 'static {
    async fn submit_job(&self, job: NewJob, now_ns: i64) -> Result<WorkflowJob, StoreError>;
    async fn workflow_job(&self, id: Uuid) -> Result<Option<WorkflowJob>, StoreError>;
    async fn query_workflow_jobs(
        &self,
        query: &WorkflowJobQuery,
    ) -> Result<Vec<WorkflowJob>, StoreError>;
    /// Re-queues failed tasks; returns how many.
    async fn retry_job(&self, id: Uuid, now_ns: i64) -> Result<i64, StoreError>;
    async fn cancel_job(&self, id: Uuid, now_ns: i64) -> Result<(), StoreError>;
}

/// A fresh trace (and root span) for a job submitted into a trace that is another workflow
/// job's: jobs are never merged.
fn own_trace(job: &mut NewJob) {
    (job.trace_parent, job.trace_id) = TraceId::new_parent();
}

/// The conditions, order and limit of a job query after [`JOB_FACTS`]; `cursor_submitted_ns`
/// is when the job `query.starting_after` was submitted.
fn push_job_query<'a, DB>(
    select: &mut QueryBuilder<'a, DB>,
    query: &WorkflowJobQuery,
    cursor_submitted_ns: Option<i64>,
) where
    DB: Database,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Vec<u8>: Encode<'a, DB> + Type<DB>,
{
    if let Some(after) = query.submitted_after_ns {
        select.push(" AND submitted_ns >= ").push_bind(after);
    }
    if let Some(before) = query.submitted_before_ns {
        select.push(" AND submitted_ns < ").push_bind(before);
    }
    push_states(select, "state", &query.states);
    if let Some(name) = &query.name {
        push_contains(select, "name", name);
    }
    push_in_clusters(select, &query.cluster_slugs);
    if !query.automation_ids.is_empty() {
        select.push(" AND automation_id IN (");
        let mut list = select.separated(", ");
        for id in &query.automation_ids {
            list.push_bind(id.as_bytes().to_vec());
        }
        select.push(")");
    }
    // Keyset on (submitted_ns, id): ids of jobs adopted from a trace are not time-ordered.
    if let (Some(after), Some(submitted)) = (query.starting_after, cursor_submitted_ns) {
        select.push(if query.ascending {
            " AND (submitted_ns, id) > ("
        } else {
            " AND (submitted_ns, id) < ("
        });
        select
            .push_bind(submitted)
            .push(", ")
            .push_bind(after.as_bytes().to_vec())
            .push(")");
    }
    select.push(if query.ascending {
        " ORDER BY submitted_ns, id"
    } else {
        " ORDER BY submitted_ns DESC, id DESC"
    });
    select
        .push(" LIMIT ")
        .push_bind(i64::from(query.limit.clamp(1, 1000)));
}

/// Job `$1`'s task counts by state (`state`, `n`), kept by triggers on `tasks` (migration
/// 0007): no scan of the job's tasks.
pub(super) const JOB_TASK_COUNTS: &str =
    "SELECT state, n FROM job_task_counts WHERE job_id = $1 AND n > 0";

/// Selects the [`JobFacts`] of job `$1`, locked with `row_lock` (the backend's `ROW_LOCK`).
pub(super) fn job_by_id(row_lock: &str) -> String {
    format!("{JOB_FACTS} AND id = $1{row_lock}")
}

/// Job `$1` is in state `$2` and ends no earlier than `$3`.
pub(super) const SET_JOB_STATE: &str = "UPDATE jobs SET state = $2, end_ns = $3 WHERE id = $1";

/// A task of job `$1` was just claimed at `$3`: `refresh_job` without counting the tasks, as
/// the outcome is known (a claimed task is running, and claims never happen on a canceled or
/// failed job, so the job is running). A job already running whose end was stretched at or
/// after `$4` ([`END_LAG_NS`] before the claim) is left as it is: on a busy job every claim
/// rewrote the job row (and its list rows, by trigger) for a few microseconds of end.
pub(super) const MARK_RUNNING: &str = "UPDATE jobs SET state = $2, end_ns = $3 \
    WHERE id = $1 AND NOT (state = $2 AND end_ns >= $4)";

/// How far a running job's stored end may lag behind its last claim or report (the job list's
/// duration of a running job): a report whose call also claims a task of its job leaves the job
/// to the claim. A report without such a claim, a job's end and every span stretch it as before.
pub(super) const END_LAG_NS: i64 = 1_000_000_000;

macro_rules! impl_workflow_jobs {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The job of a trace (id, kind), locked for the transaction on PostgreSQL.
            async fn trace_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                trace_id: TraceId,
            ) -> Result<Option<(Vec<u8>, i32)>, StoreError> {
                let select =
                    format!("SELECT id, kind FROM jobs WHERE trace_id = $1{}", Self::ROW_LOCK);
                Ok(sqlx::query_as(&select)
                    .bind(&trace_id.0[..])
                    .fetch_optional(&mut **tx)
                    .await?)
            }

            /// The job row, locked for the rest of the transaction on PostgreSQL.
            pub(super) async fn lock_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &[u8],
            ) -> Result<JobFacts, StoreError> {
                sqlx::query_as::<_, JobFacts>(&job_by_id(Self::ROW_LOCK))
                    .bind(job_id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("job".to_owned()))
            }

            async fn task_counts(
                conn: &mut <$db as sqlx::Database>::Connection,
                job_id: &[u8],
            ) -> Result<TaskCounts, StoreError> {
                let rows: Vec<(i32, i64)> = sqlx::query_as(JOB_TASK_COUNTS)
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await?;
                let mut counts = TaskCounts::default();
                for (state, count) in rows {
                    counts.add(task_state_of(state)?.as_str(), count);
                }
                Ok(counts)
            }

            /// Recomputes a job's state from its tasks and stretches its end to `now_ns`.
            pub(super) async fn refresh_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                job: &JobFacts,
                now_ns: i64,
            ) -> Result<JobState, StoreError> {
                let counts = Self::task_counts(&mut **tx, &job.id).await?;
                let state = workflow_job_state(job.canceled != 0, &counts);
                sqlx::query(SET_JOB_STATE)
                    .bind(&job.id)
                    .bind(state.code())
                    .bind(job.end_ns.max(now_ns))
                    .execute(&mut **tx)
                    .await?;
                Ok(state)
            }

            pub(super) async fn load_workflow_job(
                conn: &mut <$db as sqlx::Database>::Connection,
                facts: JobFacts,
            ) -> Result<WorkflowJob, StoreError> {
                let counts = Self::task_counts(&mut *conn, &facts.id).await?;
                let times: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
                    "SELECT min(a.started_ns), max(a.stopped_ns), \
                     CAST(sum(a.stopped_ns - a.started_ns) AS BIGINT) \
                     FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1",
                )
                .bind(&facts.id)
                .fetch_one(&mut *conn)
                .await?;
                let (first_started, last_stopped, compute) = times;
                let progress = Self::job_progress(&mut *conn, &facts.id).await?;
                let state = workflow_job_state(facts.canceled != 0, &counts);
                Ok(WorkflowJob {
                    id: uuid_of(&facts.id)?,
                    name: facts.name,
                    trace_parent: facts.trace_parent.unwrap_or_default(),
                    trace_id: trace_id_of(&facts.trace_id)?,
                    state,
                    canceled: facts.canceled != 0,
                    submitted_ns: facts.submitted_ns.unwrap_or_default(),
                    first_started_ns: first_started,
                    last_stopped_ns: last_stopped,
                    compute_ns: compute.unwrap_or_default(),
                    counts,
                    progress,
                    automation_id: facts
                        .automation_id
                        .as_deref()
                        .map(uuid_of)
                        .transpose()?,
                    trigger_ns: facts.trigger_ns,
                })
            }

            /// The job row of a submission: the trace-only job of its trace if spans arrived
            /// first (it becomes the workflow job, keeping its span aggregates), else a new one.
            /// A trace that already is another workflow job's (a job submitted from inside a
            /// task inherits the task's trace) gets a trace of its own instead.
            pub(super) async fn job_row(
                tx: &mut sqlx::Transaction<'_, $db>,
                job: &mut NewJob,
                now_ns: i64,
            ) -> Result<Vec<u8>, StoreError> {
                let mut adopt = Self::trace_job(tx, job.trace_id).await?;
                if matches!(adopt, Some((_, kind)) if kind != 0) {
                    own_trace(job);
                    adopt = None;
                }
                if adopt.is_none() {
                    let inserted: Option<Vec<u8>> = sqlx::query_scalar(
                        "INSERT INTO jobs (id, trace_id, kind, name, name_source, root_status, \
                         state, start_ns, end_ns, span_count, error_count, failed_tasks, services, \
                         trace_parent, submitted_ns, canceled) \
                         VALUES ($1, $2, 1, $3, 2, NULL, $4, $5, $5, 0, 0, '{}', '[]', $6, $5, 0) \
                         ON CONFLICT (trace_id) DO NOTHING RETURNING id",
                    )
                    .bind(Uuid::now_v7().as_bytes().to_vec())
                    .bind(&job.trace_id.0[..])
                    .bind(job.name.as_str())
                    .bind(JobState::Submitted.code())
                    .bind(now_ns)
                    .bind(job.trace_parent.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if inserted.is_none() {
                        // Spans of the trace committed a job row meanwhile (PostgreSQL).
                        adopt = Self::trace_job(tx, job.trace_id).await?;
                    }
                }
                match adopt {
                    None => Ok(sqlx::query_scalar("SELECT id FROM jobs WHERE trace_id = $1")
                        .bind(&job.trace_id.0[..])
                        .fetch_one(&mut **tx)
                        .await?),
                    Some((id, 0)) => {
                        sqlx::query(
                            "UPDATE jobs SET kind = 1, name = $2, name_source = 2, \
                             trace_parent = $3, submitted_ns = $4, start_ns = $4, state = $5 \
                             WHERE id = $1",
                        )
                        .bind(&id)
                        .bind(job.name.as_str())
                        .bind(job.trace_parent.as_str())
                        .bind(now_ns)
                        .bind(JobState::Submitted.code())
                        .execute(&mut **tx)
                        .await?;
                        Ok(id)
                    }
                    Some(_) => Err(StoreError::Conflict(format!(
                        "trace {} belongs to another job",
                        job.trace_id
                    ))),
                }
            }
        }

        #[async_trait::async_trait]
        impl WorkflowJobs for $store {
            async fn submit_job(
                &self,
                mut job: NewJob,
                now_ns: i64,
            ) -> Result<WorkflowJob, StoreError> {
                validate_job(&job)?;
                let (mut tx, _turn) = self.write_tx().await?;
                let default = Self::default_cluster(&mut *tx).await?;
                let id = Self::job_row(&mut tx, &mut job, now_ns).await?;
                Self::insert_tasks(&mut tx, &id, None, &default.slug, &job.tasks, now_ns).await?;
                let facts = Self::lock_job(&mut tx, &id).await?;
                let loaded = Self::load_workflow_job(&mut *tx, facts).await?;
                tx.commit().await?;
                Ok(loaded)
            }

            async fn workflow_job(&self, id: Uuid) -> Result<Option<WorkflowJob>, StoreError> {
                let mut conn = self.read.acquire().await?;
                let facts: Option<JobFacts> = sqlx::query_as(&format!("{JOB_FACTS} AND id = $1"))
                    .bind(id.as_bytes().as_slice())
                    .fetch_optional(&mut *conn)
                    .await?;
                match facts {
                    Some(facts) => Ok(Some(Self::load_workflow_job(&mut *conn, facts).await?)),
                    None => Ok(None),
                }
            }

            async fn query_workflow_jobs(
                &self,
                query: &WorkflowJobQuery,
            ) -> Result<Vec<WorkflowJob>, StoreError> {
                // The cursor is the last job's id (the client's page format).
                let mut cursor_submitted_ns = None;
                if let Some(after) = query.starting_after {
                    let submitted: Option<Option<i64>> =
                        sqlx::query_scalar("SELECT submitted_ns FROM jobs WHERE id = $1")
                            .bind(after.as_bytes().as_slice())
                            .fetch_optional(&self.read)
                            .await?;
                    cursor_submitted_ns =
                        Some(submitted.flatten().ok_or(StoreError::InvalidCursor)?);
                }
                let mut select = sqlx::QueryBuilder::<$db>::new(JOB_FACTS);
                push_job_query(&mut select, query, cursor_submitted_ns);
                let mut conn = self.read.acquire().await?;
                let rows: Vec<JobFacts> = select.build_query_as().fetch_all(&mut *conn).await?;
                let mut jobs = Vec::with_capacity(rows.len());
                for facts in rows {
                    jobs.push(Self::load_workflow_job(&mut *conn, facts).await?);
                }
                Ok(jobs)
            }

            async fn retry_job(&self, id: Uuid, now_ns: i64) -> Result<i64, StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let mut job = Self::lock_job(&mut tx, id.as_bytes()).await?;
                let rescheduled = sqlx::query(
                    "UPDATE tasks SET state = 1, lease_expires_ns = NULL \
                     WHERE job_id = $1 AND state = 4",
                )
                .bind(id.as_bytes().as_slice())
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
                sqlx::query("UPDATE jobs SET canceled = 0 WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await?;
                job.canceled = 0;
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await?;
                Ok(rescheduled)
            }

            async fn cancel_job(&self, id: Uuid, now_ns: i64) -> Result<(), StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let mut job = Self::lock_job(&mut tx, id.as_bytes()).await?;
                sqlx::query("UPDATE jobs SET canceled = 1 WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await?;
                job.canceled = 1;
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

impl_workflow_jobs!(SqliteStore, sqlx::Sqlite);
impl_workflow_jobs!(PostgresStore, sqlx::Postgres);
