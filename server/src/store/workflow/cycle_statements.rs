//! The two steps of a report-and-claim cycle whose statements differ by backend: a report that
//! computes a task without subtasks, and a claim.
//!
//! On PostgreSQL the cycle holds its job's row lock from its first statement to its commit, and
//! the 8 runners of a job queue on that lock, so each statement's network round trip under it
//! limits claims (about 12 round trips a cycle held it before: docs/BENCHMARKS.md). Here each
//! step is one data-modifying `WITH` (one round trip) where the portable form takes three or
//! four. SQLite has no data-modifying `WITH` and no network: the sqlx path there runs the
//! portable statements, which the writer-thread cycle (`sqlite_cycle.rs`) runs too.

use app::model::JobState;

use super::claims::{CLAIM_TASK, ClaimedRow, START_ATTEMPT, TASK_DEPENDS_ON};
use super::jobs::{END_LAG_NS, MARK_RUNNING};
use super::rows::JobFacts;
use super::tasks::MARK_COMPUTED;
use super::{AttemptOutcome, ClaimRequest, TaskState};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// A claimed row and the tasks the claimed task depends on.
type Claimed = (ClaimedRow, Vec<Vec<u8>>);

/// [`CLAIM_TASK`], [`START_ATTEMPT`], [`MARK_RUNNING`] (`$5` the job, `$6` the running state,
/// `$7` its end, `$8` its lag) and [`TASK_DEPENDS_ON`], in one statement. The sub-statements change
/// different tables; the attempt and the job change only if the task was claimed.
const CLAIM_TASK_AT_ONCE: &str = "WITH claimed AS (\
    UPDATE tasks SET state = 2, started_ns = $2, stopped_ns = NULL, lease_expires_ns = $3, \
    runner = $4, attempts = attempts + 1 WHERE id = $1 AND state = 1 AND pending_deps = 0 \
    RETURNING attempts, display, input, parent_id, retry_count), \
    attempt AS (INSERT INTO task_attempts (task_id, attempt, runner, started_ns, stopped_ns, \
    outcome, error) SELECT $1, attempts, $4, $2, NULL, 0, '' FROM claimed), \
    running AS (UPDATE jobs SET state = $6, end_ns = $7 \
    WHERE id = $5 AND NOT (state = $6 AND end_ns >= $8) AND EXISTS (SELECT 1 FROM claimed)) \
    SELECT attempts, display, input, parent_id, retry_count, \
    ARRAY(SELECT depends_on FROM task_dependencies WHERE task_id = $1) AS depends_on \
    FROM claimed";

/// [`MARK_COMPUTED`] with the task complete too (`$2` computed, at `$3`, label `$4`), its
/// attempt `$5` ended (outcome `$6` from `$7` or `$8`, as `END_COMPUTED_ATTEMPT`), its dependents
/// released (`RELEASE_DEPENDENTS`), in one statement. Returns the task's parent and whether the
/// parent is still open (not computed, or another subtask of it not complete), as
/// `OPEN_PARENT` would say after this statement: the statement's own snapshot does not see the
/// task complete, so the task itself is left out of the parent's open subtasks. A task that is
/// queued or running (the caller checked, under the job's lock) is never complete yet, so it
/// becomes complete here, and its dependents are released once. Dependencies join siblings,
/// never a task and its parent: the sub-statements change different rows.
const COMPUTE_LEAF_AT_ONCE: &str = "WITH computed AS (\
    UPDATE tasks SET state = $2, stopped_ns = $3, lease_expires_ns = NULL, completed_ns = $3, \
    display = COALESCE(NULLIF($4, ''), display) \
    WHERE id = $1 AND state IN (1, 2) AND completed_ns IS NULL RETURNING parent_id), \
    attempt AS (UPDATE task_attempts SET outcome = $6, error = '', stopped_ns = $3 \
    WHERE task_id = $1 AND attempt = $5 AND outcome IN ($7, $8)), \
    released AS (UPDATE tasks SET pending_deps = pending_deps - 1 \
    WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on = $1) \
    AND EXISTS (SELECT 1 FROM computed)) \
    SELECT c.parent_id, EXISTS (SELECT 1 FROM tasks p WHERE p.id = c.parent_id \
    AND (p.state <> 3 OR EXISTS (SELECT 1 FROM tasks s WHERE s.parent_id = p.id \
    AND s.id <> $1 AND s.completed_ns IS NULL))) AS parent_open FROM computed c";

impl PostgresStore {
    /// Claims `task_id` of `job` (locked) if it is still runnable.
    pub(super) async fn claim_row(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        job: &JobFacts,
        task_id: &[u8],
        claim: &ClaimRequest,
        now_ns: i64,
    ) -> Result<Option<Claimed>, StoreError> {
        type Row = (i64, String, Vec<u8>, Option<Vec<u8>>, i64, Vec<Vec<u8>>);
        let row: Option<Row> = sqlx::query_as(CLAIM_TASK_AT_ONCE)
            .bind(task_id)
            .bind(now_ns)
            .bind(now_ns.saturating_add(claim.lease_ns))
            .bind(claim.runner.as_str())
            .bind(&job.id)
            .bind(JobState::Running.code())
            .bind(job.end_ns.max(now_ns))
            .bind(now_ns.saturating_sub(END_LAG_NS))
            .fetch_optional(&mut **tx)
            .await?;
        Ok(row.map(
            |(attempts, display, input, parent_id, retry_count, depends_on)| {
                (
                    (attempts, display, input, parent_id, retry_count),
                    depends_on,
                )
            },
        ))
    }

    /// Task `task_id` (queued or running, its job locked) is computed without subtasks, and
    /// so complete, with everything that follows (`completion.rs`).
    pub(super) async fn compute_leaf(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        task_id: &[u8],
        attempt: i64,
        display: &str,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        let done: Option<(Option<Vec<u8>>, bool)> = sqlx::query_as(COMPUTE_LEAF_AT_ONCE)
            .bind(task_id)
            .bind(TaskState::Computed.code())
            .bind(now_ns)
            .bind(display)
            .bind(attempt)
            .bind(AttemptOutcome::Computed as i32)
            .bind(AttemptOutcome::Running as i32)
            .bind(AttemptOutcome::LeaseExpired as i32)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some((Some(parent), false)) = done {
            // Its last open subtask: the parent is complete too, and so on up.
            Self::complete_subtree(tx, &parent, now_ns).await?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// [`PostgresStore::claim_row`] in portable statements.
    pub(super) async fn claim_row(
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        job: &JobFacts,
        task_id: &[u8],
        claim: &ClaimRequest,
        now_ns: i64,
    ) -> Result<Option<Claimed>, StoreError> {
        let claimed: Option<ClaimedRow> = sqlx::query_as(CLAIM_TASK)
            .bind(task_id)
            .bind(now_ns)
            .bind(now_ns.saturating_add(claim.lease_ns))
            .bind(claim.runner.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = claimed else {
            return Ok(None);
        };
        sqlx::query(START_ATTEMPT)
            .bind(task_id)
            .bind(row.0)
            .bind(claim.runner.as_str())
            .bind(now_ns)
            .execute(&mut **tx)
            .await?;
        let depends_on: Vec<Vec<u8>> = sqlx::query_scalar(TASK_DEPENDS_ON)
            .bind(task_id)
            .fetch_all(&mut **tx)
            .await?;
        sqlx::query(MARK_RUNNING)
            .bind(&job.id)
            .bind(JobState::Running.code())
            .bind(job.end_ns.max(now_ns))
            .bind(now_ns.saturating_sub(END_LAG_NS))
            .execute(&mut **tx)
            .await?;
        Ok(Some((row, depends_on)))
    }

    /// [`PostgresStore::compute_leaf`] in portable statements.
    pub(super) async fn compute_leaf(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        task_id: &[u8],
        attempt: i64,
        display: &str,
        now_ns: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(MARK_COMPUTED)
            .bind(task_id)
            .bind(TaskState::Computed.code())
            .bind(now_ns)
            .bind(display)
            .execute(&mut **tx)
            .await?;
        Self::end_computed_attempt(tx, task_id, attempt, now_ns).await?;
        Self::complete_subtree(tx, task_id, now_ns).await
    }
}
