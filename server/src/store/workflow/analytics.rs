//! Task analytics across runs: ended attempts rolled up into per-day histograms.
//!
//! Claims and reports never touch these tables: a background roll-up (`crate::task_stats`)
//! reads ended attempts not counted yet (`task_attempts.rolled = 0`, a partial index), adds
//! them to `task_stats` and `task_slow_runs`, and marks them counted, all in one transaction,
//! so an attempt is counted exactly once even with several replicas rolling up at once
//! (PostgreSQL: the rows read are locked, another replica skips them; SQLite: one writer).
//!
//! What counts: computed attempts, failed ones and ones whose lease expired (both failures).
//! Canceled and released attempts say nothing about the task and are marked without counting.
//! An expired attempt waits until it is final: a late result may still make it the computed
//! one while nobody claimed the task again.
//!
//! An attempt's queue wait is from when it could run to its claim: the first attempt waited
//! from its submission or its dependencies' completion, whichever was later; a retry from the
//! end of the attempt before it.

use std::collections::HashMap;

use app::model::{
    Histogram, Percentiles, SlowRun, StatKind, TaskDayRow, TaskStatRow, TaskTotalRow, bucket_of,
    day_of,
};

use super::AttemptOutcome;
use crate::store::error::uuid_of;
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Slow runs kept per identifier, version and day (the detail lists the slowest of the window).
const SLOW_RUNS_KEPT: i64 = app::model::SLOW_RUNS as i64;
/// Rows per multi-row statement (7 binds each).
const CHUNK: usize = 100;

/// The task analytics side of the store.
#[async_trait::async_trait]
pub trait TaskStats: Send + Sync + 'static {
    /// Counts up to `limit` ended attempts not counted yet; how many were taken (counted or
    /// not). Fewer than `limit`: nothing more is waiting.
    async fn roll_up_task_stats(&self, limit: i64) -> Result<usize, StoreError>;
    /// The histogram rows of days from `first_day_ns` on, of one identifier or of all.
    async fn task_stat_rows(
        &self,
        first_day_ns: i64,
        name: Option<&str>,
    ) -> Result<Vec<TaskStatRow>, StoreError>;
    /// The `/tasks` page's rows from `first_day_ns` on: each version's buckets summed over the
    /// window, and each identifier's days.
    async fn task_overview_rows(
        &self,
        first_day_ns: i64,
    ) -> Result<(Vec<TaskTotalRow>, Vec<TaskDayRow>), StoreError>;
    /// An identifier's slowest attempts of days from `first_day_ns` on, slowest first.
    async fn slow_runs(
        &self,
        name: &str,
        first_day_ns: i64,
        limit: i64,
    ) -> Result<Vec<SlowRun>, StoreError>;
    /// Deletes the analytics of days before `day_ns` (retention); how many rows went.
    async fn prune_task_stats(&self, day_ns: i64) -> Result<u64, StoreError>;
}

/// Ended attempts not counted yet, oldest end first, with what their queue wait starts from.
/// `{lock}`: PostgreSQL locks the attempts read and skips those another roll-up holds.
fn ended_attempts(lock: &str) -> String {
    format!(
        "SELECT a.task_id, a.attempt, a.runner, a.started_ns, a.stopped_ns, a.outcome, \
         t.identifier_name, t.identifier_version, t.job_id, t.submitted_ns, \
         CASE WHEN a.attempt > 1 THEN \
           (SELECT p.stopped_ns FROM task_attempts p \
            WHERE p.task_id = a.task_id AND p.attempt = a.attempt - 1) \
         ELSE (SELECT max(d.completed_ns) FROM task_dependencies td \
               JOIN tasks d ON d.id = td.depends_on WHERE td.task_id = a.task_id) END \
         FROM task_attempts a JOIN tasks t ON t.id = a.task_id \
         WHERE a.rolled = 0 AND a.outcome <> 0 \
         AND (a.outcome <> {expired} OR t.attempts > a.attempt OR t.state <> 1) \
         ORDER BY a.stopped_ns LIMIT $1{lock}",
        expired = AttemptOutcome::LeaseExpired as i32,
    )
}

type EndedRow = (
    Vec<u8>,
    i64,
    String,
    i64,
    Option<i64>,
    i32,
    String,
    String,
    Vec<u8>,
    i64,
    Option<i64>,
);

/// An ended attempt as the roll-up counts it.
struct Ended {
    task_id: Vec<u8>,
    attempt: i64,
    runner: String,
    name: String,
    version: String,
    job_id: Vec<u8>,
    day_ns: i64,
    duration_ns: i64,
    wait_ns: i64,
    failed: bool,
    counted: bool,
}

impl Ended {
    fn of(row: EndedRow) -> Self {
        let (
            task_id,
            attempt,
            runner,
            started,
            stopped,
            outcome,
            name,
            version,
            job_id,
            submitted,
            after,
        ) = row;
        let stopped = stopped.unwrap_or(started);
        let outcome = AttemptOutcome::from_code(i64::from(outcome));
        let ready = if attempt > 1 {
            after.unwrap_or(submitted)
        } else {
            submitted.max(after.unwrap_or(submitted))
        };
        Ended {
            task_id,
            attempt,
            runner,
            name,
            version,
            job_id,
            day_ns: day_of(stopped),
            duration_ns: (stopped - started).max(0),
            wait_ns: (started - ready).max(0),
            failed: matches!(
                outcome,
                AttemptOutcome::Failed | AttemptOutcome::LeaseExpired
            ),
            counted: matches!(
                outcome,
                AttemptOutcome::Computed | AttemptOutcome::Failed | AttemptOutcome::LeaseExpired
            ),
        }
    }
}

fn stat_kind(code: i32) -> Result<StatKind, StoreError> {
    StatKind::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("task stat kind {code}")))
}

type BucketKey = (String, String, i64, i32, i32);

/// The batch's histogram increments: (name, version, day, kind, bucket) → (executions, failed).
fn increments(batch: &[Ended]) -> Vec<(BucketKey, (i64, i64))> {
    let mut sums: HashMap<BucketKey, (i64, i64)> = HashMap::new();
    for ended in batch.iter().filter(|e| e.counted) {
        let key = |kind: StatKind, ns: i64| {
            (
                ended.name.clone(),
                ended.version.clone(),
                ended.day_ns,
                kind as i32,
                bucket_of(ns),
            )
        };
        let duration = sums
            .entry(key(StatKind::Duration, ended.duration_ns))
            .or_default();
        duration.0 += 1;
        duration.1 += i64::from(ended.failed);
        sums.entry(key(StatKind::QueueWait, ended.wait_ns))
            .or_default()
            .0 += 1;
    }
    sums.into_iter().collect()
}

/// The (name, day) pairs the batch counted attempts in: their `task_daily` rows are recomputed.
fn touched_days(batch: &[Ended]) -> Vec<(&str, i64)> {
    let mut days: Vec<(&str, i64)> = batch
        .iter()
        .filter(|e| e.counted)
        .map(|e| (e.name.as_str(), e.day_ns))
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// A day's duration buckets (all versions) as its summary's figures.
fn day_figures(buckets: &[(i32, i64, i64)]) -> (i64, i64, Percentiles) {
    let mut histogram = Histogram::default();
    let mut failed = 0;
    for &(bucket, n, f) in buckets {
        histogram.add(bucket, n);
        failed += f;
    }
    (histogram.total(), failed, histogram.percentiles())
}

/// The batch's slowest counted attempts per (name, version, day), at most [`SLOW_RUNS_KEPT`].
fn slowest(batch: &[Ended]) -> Vec<Vec<&Ended>> {
    let mut groups: HashMap<(&str, &str, i64), Vec<&Ended>> = HashMap::new();
    for ended in batch.iter().filter(|e| e.counted) {
        groups
            .entry((&ended.name, &ended.version, ended.day_ns))
            .or_default()
            .push(ended);
    }
    groups
        .into_values()
        .map(|mut runs| {
            runs.sort_by_key(|e| std::cmp::Reverse(e.duration_ns));
            runs.truncate(SLOW_RUNS_KEPT as usize);
            runs
        })
        .collect()
}

macro_rules! impl_task_stats {
    ($store:ty, $db:ty, $lock:expr) => {
        #[async_trait::async_trait]
        impl TaskStats for $store {
            async fn roll_up_task_stats(&self, limit: i64) -> Result<usize, StoreError> {
                let (mut tx, turn) = self.write_tx().await?;
                let rows: Vec<EndedRow> = sqlx::query_as(&ended_attempts($lock))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let batch: Vec<Ended> = rows.into_iter().map(Ended::of).collect();
                for chunk in increments(&batch).chunks(CHUNK) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO task_stats (identifier_name, identifier_version, day_ns, \
                         kind, bucket, executions, failed) ",
                    );
                    insert.push_values(chunk, |mut row, ((name, version, day, kind, bucket), (n, failed))| {
                        row.push_bind(name.as_str())
                            .push_bind(version.as_str())
                            .push_bind(*day)
                            .push_bind(*kind)
                            .push_bind(*bucket)
                            .push_bind(*n)
                            .push_bind(*failed);
                    });
                    insert.push(
                        " ON CONFLICT (identifier_name, identifier_version, day_ns, kind, bucket) \
                         DO UPDATE SET executions = task_stats.executions + excluded.executions, \
                         failed = task_stats.failed + excluded.failed",
                    );
                    insert.build().execute(&mut *tx).await?;
                }
                for (name, day) in touched_days(&batch) {
                    let buckets: Vec<(i32, i64, i64)> = sqlx::query_as(
                        "SELECT bucket, CAST(sum(executions) AS BIGINT), \
                         CAST(sum(failed) AS BIGINT) FROM task_stats \
                         WHERE identifier_name = $1 AND day_ns = $2 AND kind = 0 GROUP BY bucket",
                    )
                    .bind(name)
                    .bind(day)
                    .fetch_all(&mut *tx)
                    .await?;
                    let (runs, failed, p) = day_figures(&buckets);
                    sqlx::query(
                        "INSERT INTO task_daily (identifier_name, day_ns, executions, failed, \
                         p50_ns, p95_ns, p99_ns) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (identifier_name, day_ns) DO UPDATE SET \
                         executions = excluded.executions, failed = excluded.failed, \
                         p50_ns = excluded.p50_ns, p95_ns = excluded.p95_ns, \
                         p99_ns = excluded.p99_ns",
                    )
                    .bind(name)
                    .bind(day)
                    .bind(runs)
                    .bind(failed)
                    .bind(p.p50_ns)
                    .bind(p.p95_ns)
                    .bind(p.p99_ns)
                    .execute(&mut *tx)
                    .await?;
                }
                for runs in slowest(&batch) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO task_slow_runs (identifier_name, identifier_version, day_ns, \
                         duration_ns, task_id, attempt, job_id, runner, failed) ",
                    );
                    insert.push_values(&runs, |mut row, run| {
                        row.push_bind(run.name.as_str())
                            .push_bind(run.version.as_str())
                            .push_bind(run.day_ns)
                            .push_bind(run.duration_ns)
                            .push_bind(run.task_id.as_slice())
                            .push_bind(run.attempt)
                            .push_bind(run.job_id.as_slice())
                            .push_bind(run.runner.as_str())
                            .push_bind(i64::from(run.failed));
                    });
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().execute(&mut *tx).await?;
                    // Only the slowest few of the day stay.
                    let first = runs[0];
                    sqlx::query(
                        "DELETE FROM task_slow_runs WHERE identifier_name = $1 \
                         AND identifier_version = $2 AND day_ns = $3 AND duration_ns < \
                         (SELECT duration_ns FROM task_slow_runs WHERE identifier_name = $4 \
                          AND identifier_version = $5 AND day_ns = $6 \
                          ORDER BY duration_ns DESC LIMIT 1 OFFSET $7)",
                    )
                    .bind(first.name.as_str())
                    .bind(first.version.as_str())
                    .bind(first.day_ns)
                    .bind(first.name.as_str())
                    .bind(first.version.as_str())
                    .bind(first.day_ns)
                    .bind(SLOW_RUNS_KEPT - 1)
                    .execute(&mut *tx)
                    .await?;
                }
                for chunk in batch.chunks(CHUNK * 2) {
                    let mut mark = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE task_attempts SET rolled = 1 WHERE rolled = 0 \
                         AND (task_id, attempt) IN (",
                    );
                    mark.push_values(chunk, |mut row, ended| {
                        row.push_bind(ended.task_id.as_slice()).push_bind(ended.attempt);
                    });
                    mark.push(")");
                    let marked = mark.build().execute(&mut *tx).await?.rows_affected();
                    if marked != chunk.len() as u64 {
                        // Another roll-up took some of them: count none of this batch.
                        tx.rollback().await?;
                        return Err(StoreError::Conflict(format!(
                            "task analytics: {marked} of {} attempts were still uncounted",
                            chunk.len()
                        )));
                    }
                }
                tx.commit().await?;
                drop(turn);
                Ok(batch.len())
            }

            async fn task_stat_rows(
                &self,
                first_day_ns: i64,
                name: Option<&str>,
            ) -> Result<Vec<TaskStatRow>, StoreError> {
                let rows: Vec<(String, String, i64, i32, i32, i64, i64)> = sqlx::query_as(
                    "SELECT identifier_name, identifier_version, day_ns, kind, bucket, \
                     executions, failed FROM task_stats \
                     WHERE day_ns >= $1 AND ($2 IS NULL OR identifier_name = $3)",
                )
                .bind(first_day_ns)
                .bind(name)
                .bind(name)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|(name, version, day_ns, kind, bucket, executions, failed)| {
                        Ok(TaskStatRow {
                            name,
                            version,
                            day_ns,
                            kind: stat_kind(kind)?,
                            bucket,
                            executions,
                            failed,
                        })
                    })
                    .collect()
            }

            async fn task_overview_rows(
                &self,
                first_day_ns: i64,
            ) -> Result<(Vec<TaskTotalRow>, Vec<TaskDayRow>), StoreError> {
                let totals: Vec<(String, String, i32, i32, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT identifier_name, identifier_version, kind, bucket, \
                     CAST(sum(executions) AS BIGINT), CAST(sum(failed) AS BIGINT), \
                     min(day_ns), max(day_ns) FROM task_stats WHERE day_ns >= $1 \
                     GROUP BY identifier_name, identifier_version, kind, bucket",
                )
                .bind(first_day_ns)
                .fetch_all(&self.read)
                .await?;
                let totals = totals
                    .into_iter()
                    .map(|(name, version, kind, bucket, executions, failed, first, last)| {
                        Ok(TaskTotalRow {
                            name,
                            version,
                            kind: stat_kind(kind)?,
                            bucket,
                            executions,
                            failed,
                            first_day_ns: first,
                            last_day_ns: last,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                let days: Vec<(String, i64, i64, i64, Option<i64>, Option<i64>, Option<i64>)> =
                    sqlx::query_as(
                        "SELECT identifier_name, day_ns, executions, failed, p50_ns, p95_ns, \
                         p99_ns FROM task_daily WHERE day_ns >= $1",
                    )
                    .bind(first_day_ns)
                    .fetch_all(&self.read)
                    .await?;
                let days = days
                    .into_iter()
                    .map(|(name, day_ns, executions, failed, p50_ns, p95_ns, p99_ns)| TaskDayRow {
                        name,
                        day_ns,
                        executions,
                        failed,
                        duration: Percentiles {
                            p50_ns,
                            p95_ns,
                            p99_ns,
                        },
                    })
                    .collect();
                Ok((totals, days))
            }

            async fn slow_runs(
                &self,
                name: &str,
                first_day_ns: i64,
                limit: i64,
            ) -> Result<Vec<SlowRun>, StoreError> {
                let rows: Vec<(Vec<u8>, Vec<u8>, i64, String, String, i64, i64, i64)> =
                    sqlx::query_as(
                        "SELECT job_id, task_id, attempt, identifier_version, runner, \
                         duration_ns, day_ns, failed FROM task_slow_runs \
                         WHERE identifier_name = $1 AND day_ns >= $2 \
                         ORDER BY duration_ns DESC, task_id LIMIT $3",
                    )
                    .bind(name)
                    .bind(first_day_ns)
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await?;
                rows.into_iter()
                    .map(|(job, task, attempt, version, runner, duration_ns, day_ns, failed)| {
                        Ok(SlowRun {
                            job_id: uuid_of(&job)?.to_string(),
                            task_id: uuid_of(&task)?.to_string(),
                            attempt,
                            version,
                            runner,
                            duration_ns,
                            day_ns,
                            failed: failed != 0,
                        })
                    })
                    .collect()
            }

            async fn prune_task_stats(&self, day_ns: i64) -> Result<u64, StoreError> {
                let (mut tx, turn) = self.write_tx().await?;
                let mut rows = 0;
                for table in ["task_stats", "task_slow_runs", "task_daily"] {
                    rows += sqlx::query(&format!("DELETE FROM {table} WHERE day_ns < $1"))
                        .bind(day_ns)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                drop(turn);
                Ok(rows)
            }
        }
    };
}

impl_task_stats!(SqliteStore, sqlx::Sqlite, "");
impl_task_stats!(
    PostgresStore,
    sqlx::Postgres,
    " FOR UPDATE OF a SKIP LOCKED"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(outcome: AttemptOutcome, attempt: i64, after: Option<i64>) -> Ended {
        Ended::of((
            vec![1; 16],
            attempt,
            "runner".to_owned(),
            1_000,
            Some(1_500),
            outcome as i32,
            "Tile".to_owned(),
            "v1.0".to_owned(),
            vec![2; 16],
            100,
            after,
        ))
    }

    #[test]
    fn test_queue_wait_starts_at_submission_dependencies_or_the_previous_attempt() {
        // First attempt, no dependencies: from its submission.
        assert_eq!(ended(AttemptOutcome::Computed, 1, None).wait_ns, 900);
        // First attempt after a dependency completed at 400.
        assert_eq!(ended(AttemptOutcome::Computed, 1, Some(400)).wait_ns, 600);
        // A retry, from the end of the attempt before it.
        assert_eq!(ended(AttemptOutcome::Computed, 2, Some(800)).wait_ns, 200);
        assert_eq!(ended(AttemptOutcome::Computed, 1, None).duration_ns, 500);
    }

    #[test]
    fn test_failures_count_and_canceled_attempts_do_not() {
        let batch = [
            ended(AttemptOutcome::Computed, 1, None),
            ended(AttemptOutcome::Failed, 1, None),
            ended(AttemptOutcome::LeaseExpired, 1, None),
            ended(AttemptOutcome::Canceled, 1, None),
            ended(AttemptOutcome::Released, 1, None),
        ];
        let sums = increments(&batch);
        let (runs, failed) = sums
            .iter()
            .filter(|((.., kind, _), _)| *kind == StatKind::Duration as i32)
            .fold((0, 0), |(n, f), (_, (dn, df))| (n + dn, f + df));
        assert_eq!((runs, failed), (3, 2));
    }
}
