//! Retention: deleting old jobs with everything stored about them (spans, logs, tasks, their
//! attempts, dependencies and progress) a little at a time, so ingest and task claims never
//! wait long behind a prune.

use app::model::JobState;

use super::{PostgresStore, SqliteStore, StoreError};

/// What one [`Retention::prune_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneStep {
    /// Rows deleted (spans, logs, tasks with their attempts and dependencies, or the job).
    pub rows: u64,
    /// The job itself went with this step: it is gone.
    pub job_deleted: bool,
}

#[async_trait::async_trait]
pub trait Retention: Send + Sync + 'static {
    /// Deletes a little of the oldest job that is over: one that ended (its last span or task)
    /// before `cutoff_ns` and, for a workflow job, is completed, failed or canceled with no
    /// task holding a lease still live at the cutoff. In one short transaction that locks the
    /// job: at most `batch` spans, or log records, or tasks (with their attempts and
    /// dependencies); the job row and its progress go last, once nothing of it is left, and
    /// only if it is still over (a late span moves its end and keeps it). With no such job
    /// left, log records older than the cutoff that belong to no job go. `None`: nothing is
    /// old enough. (A job retried between two steps is no longer over: what is left of it
    /// stays.)
    async fn prune_step(&self, cutoff_ns: i64, batch: u32)
    -> Result<Option<PruneStep>, StoreError>;
}

/// Job states after which nothing more happens to a workflow job unless someone retries it.
const FINISHED: [JobState; 3] = [JobState::Completed, JobState::Failed, JobState::Canceled];

fn finished_codes() -> String {
    FINISHED
        .iter()
        .map(|state| state.code().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A job that is over by `$1`: trace-only jobs (kind 0) by their last span; workflow jobs
/// also by their state, and only once no task of theirs holds a lease that was live then (a
/// canceled or failed job may still have a task running, whose runner will report on it).
fn over() -> String {
    format!(
        "end_ns < $1 AND (kind = 0 OR (state IN ({}) AND NOT EXISTS (SELECT 1 FROM tasks t \
         WHERE t.job_id = jobs.id AND t.state = 2 AND t.lease_expires_ns >= $1)))",
        finished_codes()
    )
}

/// The oldest job that is over by `$1`, locked (`lock`: PostgreSQL's row lock; SQLite's
/// `BEGIN IMMEDIATE` holds the whole database), so no workflow call or span write changes it
/// while a step deletes from it. `jobs_by_start` serves the order.
fn oldest_over(lock: &str) -> String {
    format!(
        "SELECT id, trace_id FROM jobs WHERE start_ns < $1 AND {} ORDER BY start_ns, id \
         LIMIT 1{lock}",
        over()
    )
}

/// Each statement deletes at most `$2` rows of the job (`$1` its trace id or job id).
const DELETE_SPANS: &str = "DELETE FROM spans WHERE trace_id = $1 AND span_id IN \
     (SELECT span_id FROM spans WHERE trace_id = $1 LIMIT $2)";
const DELETE_LOGS: &str =
    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE trace_id = $1 LIMIT $2)";
/// Log records older than `$1` that belong to no job (outside any trace, or of a trace whose
/// spans never came or whose job went already), at most `$2` (`logs_by_time` serves it).
const DELETE_UNATTACHED_LOGS: &str = "DELETE FROM logs WHERE id IN (SELECT id FROM logs \
     WHERE time_ns < $1 AND (trace_id IS NULL OR NOT EXISTS \
     (SELECT 1 FROM jobs j WHERE j.trace_id = logs.trace_id)) LIMIT $2)";
const SOME_TASKS: &str = "SELECT id FROM tasks WHERE job_id = $1 LIMIT $2";

macro_rules! impl_retention {
    ($store:ty, $db:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl Retention for $store {
            async fn prune_step(
                &self,
                cutoff_ns: i64,
                batch: u32,
            ) -> Result<Option<PruneStep>, StoreError> {
                let batch = i64::from(batch.max(1));
                // Not a workflow `write_tx`: on SQLite that would make the span writer hold
                // back for the prune; a prune is the one write that may wait.
                let mut tx = self.prune_tx().await?;
                let oldest: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as(&oldest_over($lock))
                    .bind(cutoff_ns)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((job_id, trace_id)) = oldest else {
                    // No job left to prune: log records outside any trace, by their time.
                    let rows = sqlx::query(DELETE_UNATTACHED_LOGS)
                        .bind(cutoff_ns)
                        .bind(batch)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    return Ok((rows > 0).then_some(PruneStep {
                        rows,
                        job_deleted: false,
                    }));
                };
                for statement in [DELETE_SPANS, DELETE_LOGS] {
                    let rows = sqlx::query(statement)
                        .bind(&trace_id)
                        .bind(batch)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if rows > 0 {
                        tx.commit().await?;
                        return Ok(Some(PruneStep {
                            rows,
                            job_deleted: false,
                        }));
                    }
                }
                let tasks: Vec<(Vec<u8>,)> = sqlx::query_as(SOME_TASKS)
                    .bind(&job_id)
                    .bind(batch)
                    .fetch_all(&mut *tx)
                    .await?;
                if !tasks.is_empty() {
                    let mut rows = 0;
                    // Attempts and dependencies first: they name the tasks. A task's
                    // dependencies are tasks of the same job, deleted with their own rows.
                    for table in ["task_attempts", "task_dependencies"] {
                        let mut delete = sqlx::QueryBuilder::<$db>::new(format!(
                            "DELETE FROM {table} WHERE task_id IN ("
                        ));
                        let mut ids = delete.separated(", ");
                        for (id,) in &tasks {
                            ids.push_bind(id.as_slice());
                        }
                        delete.push(")");
                        rows += delete.build().execute(&mut *tx).await?.rows_affected();
                    }
                    let mut delete =
                        sqlx::QueryBuilder::<$db>::new("DELETE FROM tasks WHERE id IN (");
                    let mut ids = delete.separated(", ");
                    for (id,) in &tasks {
                        ids.push_bind(id.as_slice());
                    }
                    delete.push(")");
                    rows += delete.build().execute(&mut *tx).await?.rows_affected();
                    tx.commit().await?;
                    return Ok(Some(PruneStep {
                        rows,
                        job_deleted: false,
                    }));
                }
                // Still over and still empty (a span that arrived before the lock keeps it):
                // then the job row goes, and its progress and task counts with it.
                let deleted = sqlx::query(&format!(
                    "DELETE FROM jobs WHERE id = $2 AND {} \
                     AND NOT EXISTS (SELECT 1 FROM spans WHERE trace_id = $3)",
                    over()
                ))
                .bind(cutoff_ns)
                .bind(&job_id)
                .bind(&trace_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    tx.rollback().await?;
                    return Ok(Some(PruneStep {
                        rows: 0,
                        job_deleted: false,
                    }));
                }
                let mut progress = 0;
                for table in ["job_progress", "job_task_counts"] {
                    progress += sqlx::query(&format!("DELETE FROM {table} WHERE job_id = $1"))
                        .bind(&job_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(Some(PruneStep {
                    rows: deleted + progress,
                    job_deleted: true,
                }))
            }
        }
    };
}

impl SqliteStore {
    async fn prune_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl PostgresStore {
    async fn prune_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.write.begin().await?)
    }
}

impl_retention!(SqliteStore, sqlx::Sqlite, "");
impl_retention!(PostgresStore, sqlx::Postgres, " FOR UPDATE SKIP LOCKED");
