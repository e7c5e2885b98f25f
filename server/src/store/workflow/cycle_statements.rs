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
pub(super) type Claimed = (ClaimedRow, Vec<Vec<u8>>);

/// [`CLAIM_TASK`], [`START_ATTEMPT`], [`MARK_RUNNING`] (`$5` the job, `$6` the running state,
/// `$7` its end, `$8` its lag) and [`TASK_DEPENDS_ON`] for several tasks of one job at once (a
/// batch's claims: `pg_batch.rs`), in one statement: task `$1[i]` for runner `$2[i]` at `$3[i]`
/// until `$4[i]` (distinct tasks). The sub-statements change different tables; the attempts
/// and the job change only for the tasks claimed. Returns a row per task claimed, with its id.
const CLAIM_TASKS_AT_ONCE: &str = "WITH wanted AS (\
    SELECT * FROM unnest($1::bytea[], $2::text[], $3::int8[], $4::int8[]) \
    AS w(id, runner, started_ns, lease_expires_ns)), \
    claimed AS (UPDATE tasks t SET state = 2, started_ns = w.started_ns, stopped_ns = NULL, \
    lease_expires_ns = w.lease_expires_ns, runner = w.runner, attempts = t.attempts + 1 \
    FROM wanted w WHERE t.id = ANY($1) AND t.id = w.id AND t.state = 1 AND t.pending_deps = 0 \
    RETURNING t.id, t.attempts, t.display, t.input, t.parent_id, t.retry_count, w.runner, \
    w.started_ns), \
    attempt AS (INSERT INTO task_attempts (task_id, attempt, runner, started_ns, stopped_ns, \
    outcome, error) SELECT id, attempts, runner, started_ns, NULL, 0, '' FROM claimed), \
    running AS (UPDATE jobs SET state = $6, end_ns = $7 \
    WHERE id = $5 AND NOT (state = $6 AND end_ns >= $8) AND EXISTS (SELECT 1 FROM claimed)) \
    SELECT id, attempts, display, input, parent_id, retry_count, \
    ARRAY(SELECT depends_on FROM task_dependencies d WHERE d.task_id = claimed.id) \
    AS depends_on FROM claimed";

/// A task a batch wants to claim: its id, for which runner, at what time, for how long.
pub(super) struct Wanted<'a> {
    pub task_id: &'a [u8],
    pub runner: &'a str,
    pub now_ns: i64,
    pub lease_ns: i64,
}

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
        let wanted = Wanted {
            task_id,
            runner: &claim.runner,
            now_ns,
            lease_ns: claim.lease_ns,
        };
        Ok(Self::claim_rows(tx, job, &[wanted])
            .await?
            .pop()
            .map(|(_, claimed)| claimed))
    }

    /// Claims each of `wanted` (distinct tasks of `job`, locked) that is still runnable: the
    /// tasks claimed, by id.
    pub(super) async fn claim_rows(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        job: &JobFacts,
        wanted: &[Wanted<'_>],
    ) -> Result<Vec<(Vec<u8>, Claimed)>, StoreError> {
        type Row = (
            Vec<u8>,
            i64,
            String,
            Vec<u8>,
            Option<Vec<u8>>,
            i64,
            Vec<Vec<u8>>,
        );
        let latest_ns = wanted.iter().map(|w| w.now_ns).max().unwrap_or(i64::MIN);
        let rows: Vec<Row> = sqlx::query_as(CLAIM_TASKS_AT_ONCE)
            .bind(wanted.iter().map(|w| w.task_id).collect::<Vec<_>>())
            .bind(wanted.iter().map(|w| w.runner).collect::<Vec<_>>())
            .bind(wanted.iter().map(|w| w.now_ns).collect::<Vec<_>>())
            .bind(
                wanted
                    .iter()
                    .map(|w| w.now_ns.saturating_add(w.lease_ns))
                    .collect::<Vec<_>>(),
            )
            .bind(&job.id)
            .bind(JobState::Running.code())
            .bind(job.end_ns.max(latest_ns))
            .bind(latest_ns.saturating_sub(END_LAG_NS))
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, attempts, display, input, parent_id, retry_count, depends_on)| {
                    let row = (attempts, display, input, parent_id, retry_count);
                    (id, (row, depends_on))
                },
            )
            .collect())
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
