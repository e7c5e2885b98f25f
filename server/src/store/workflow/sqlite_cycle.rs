//! SQLite's report-and-claim cycle (`NextTask`) on the writer thread.
//!
//! Why: through sqlx every statement crosses to sqlx's SQLite worker thread and back, and a
//! cycle is a dozen statements under the database's one write lock; on 2 cores the crossings,
//! not the statements, capped claims at about 1,000 a second (docs/BENCHMARKS.md). Here the
//! whole cycle is one closure run on the rusqlite writer thread (`SqliteWriter::transaction`):
//! one crossing. The SQL and every decision are the sqlx path's own (`claims.rs`, `tasks.rs`,
//! `completion.rs`, `holder.rs`): the statements are shared constants, the choices shared
//! functions; only the calls that run them differ. Reports that submit subtasks take the sqlx
//! path (`claims.rs`), so their insert is written once.
//!
//! One transaction: the report, the claim (of the reported task's job or another: SQLite's
//! write lock is the whole database's, so no two transactions can wait on each other), and the
//! reported job's state. A failure anywhere rolls all of it back and the runner is told.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row};

use app::model::JobState;

use super::claims::{
    CLAIM_PAGES, CLAIM_TASK, Candidate, ClaimedRow, InFlight, NAMES_PER_STATEMENT, START_ATTEMPT,
    TASK_DEPENDS_ON, candidates_sql, claim_names, claimed_task, page_to_try, runner_identifier,
};
use super::completion::{MARK_COMPLETE, OPEN_PARENT};
use super::holder::{asks_about_earlier_attempts, standing};
use super::jobs::{END_LAG_NS, JOB_TASK_COUNTS, MARK_RUNNING, SET_JOB_STATE, job_by_id};
use super::progress::{ADD_PROGRESS, validate_progress};
use super::rows::{JobFacts, TASK_FACTS, TaskFacts};
use super::tasks::{
    EARLIER_ATTEMPT, END_COMPUTED_ATTEMPT, MARK_COMPUTED, RELEASE_DEPENDENTS, job_of_task,
};
use super::validate::{MAX_TEXT_BYTES, fitted_text};
use super::{
    AttemptOutcome, ClaimRequest, ClaimedTask, ComputedTask, TaskCounts, TaskState,
    workflow_job_state,
};
use crate::store::error::task_state_of;
use crate::store::{SqliteStore, StoreError};

impl SqliteStore {
    /// Reports `computed` (which submits no subtasks) and claims the next task for `claim`,
    /// in one transaction on the writer thread.
    pub(super) async fn report_and_claim_on_writer(
        &self,
        computed: Option<ComputedTask>,
        claim: Option<ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError> {
        if computed.is_none() && claim.is_none() {
            return Ok(None);
        }
        if let Some(computed) = &computed {
            validate_progress(&computed.progress)?;
            debug_assert!(computed.subtasks.is_empty(), "subtasks take the sqlx path");
        }
        // Counted while it waits for the writer too: claims queued together spread out.
        let in_flight = claim
            .as_ref()
            .map(|_| InFlight::enter(&self.claims_in_flight));
        let concurrent = in_flight
            .as_ref()
            .is_some_and(|(_, concurrent)| *concurrent);
        self.writer
            .transaction(move |conn| {
                let reported = match &computed {
                    Some(computed) => report(conn, computed, now_ns)?,
                    None => None,
                };
                let claimed = match &claim {
                    Some(claim) => claim_next(conn, claim, concurrent, now_ns)?,
                    None => None,
                };
                // A claim in the reported task's job left that job running, which is what it
                // is; any other reported job is brought up to date.
                if let Some(job) = reported {
                    let claimed_job = claimed.as_ref().map(|c| c.job_id.as_bytes().as_slice());
                    if claimed_job != Some(job.id.as_slice()) {
                        refresh_job(conn, &job, now_ns)?;
                    }
                }
                Ok(claimed)
            })
            .await
    }
}

fn sql_error(error: rusqlite::Error) -> StoreError {
    StoreError::from_rusqlite(error)
}

/// A statement of the shared SQL, whose parameters are written `$1`, `$2`, … for sqlx: SQLite
/// reads `?N` as parameter N, whatever order they appear in.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    conn.prepare_cached(&sql.replace('$', "?"))
        .map_err(sql_error)
}

/// The first row of `sql` with `params`, read by `read`.
fn query_row<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    prepare(conn, sql)?
        .query_row(params, read)
        .optional()
        .map_err(sql_error)
}

fn execute(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<usize, StoreError> {
    prepare(conn, sql)?.execute(params).map_err(sql_error)
}

/// Reads the columns of [`JOB_FACTS`], in order.
fn job_facts(row: &Row<'_>) -> rusqlite::Result<JobFacts> {
    Ok(JobFacts {
        id: row.get(0)?,
        trace_id: row.get(1)?,
        name: row.get(2)?,
        state: row.get(3)?,
        trace_parent: row.get(4)?,
        canceled: row.get(5)?,
        submitted_ns: row.get(6)?,
        end_ns: row.get(7)?,
        automation_id: row.get(8)?,
        trigger_ns: row.get(9)?,
    })
}

/// Reads the columns of [`TASK_FACTS`], in order.
fn task_facts(row: &Row<'_>) -> rusqlite::Result<TaskFacts> {
    Ok(TaskFacts {
        job_id: row.get(0)?,
        state: row.get(1)?,
        attempts: row.get(2)?,
        retry_count: row.get(3)?,
        max_retries: row.get(4)?,
        optional: row.get(5)?,
        cluster_slug: row.get(6)?,
        runner: row.get(7)?,
    })
}

/// `complete_task` of `tasks.rs` for a report without subtasks: the job it changed, or `None`
/// when the report changed nothing (a finished task, a runner that no longer holds it).
fn report(
    conn: &Connection,
    computed: &ComputedTask,
    now_ns: i64,
) -> Result<Option<JobFacts>, StoreError> {
    let task_id = computed.task_id.as_bytes().as_slice();
    let display = fitted_text(&computed.display, MAX_TEXT_BYTES);
    let job = query_row(
        conn,
        &job_of_task(SqliteStore::ROW_LOCK),
        &[&task_id],
        job_facts,
    )?;
    let facts = query_row(conn, TASK_FACTS, &[&task_id], task_facts)?
        .ok_or_else(|| StoreError::NotFound(format!("task {}", computed.task_id)))?;
    let job = job.ok_or_else(|| StoreError::NotFound("job".to_owned()))?;
    let state = task_state_of(facts.state)?;
    if !matches!(state, TaskState::Running | TaskState::Queued) {
        return Ok(None);
    }
    let reporter = &computed.reporter;
    let current = facts.runner.as_deref();
    let ran_earlier = asks_about_earlier_attempts(reporter, current)
        && query_row(
            conn,
            EARLIER_ATTEMPT,
            &[&task_id, &reporter.runner, &facts.attempts],
            |row| row.get::<_, i64>(0),
        )?
        .is_some();
    if !standing(reporter, facts.attempts, current, ran_earlier).counts() {
        tracing::warn!(
            task = %computed.task_id,
            runner = %reporter.runner,
            "ignored a computed report from a runner that no longer holds the task"
        );
        return Ok(None);
    }
    execute(
        conn,
        MARK_COMPUTED,
        &[&task_id, &TaskState::Computed.code(), &now_ns, &display],
    )?;
    execute(
        conn,
        END_COMPUTED_ATTEMPT,
        &[
            &task_id,
            &facts.attempts,
            &(AttemptOutcome::Computed as i32),
            &now_ns,
            &(AttemptOutcome::Running as i32),
            &(AttemptOutcome::LeaseExpired as i32),
        ],
    )?;
    for indicator in &computed.progress {
        execute(
            conn,
            ADD_PROGRESS,
            &[
                &facts.job_id,
                &indicator.label,
                &indicator.total,
                &indicator.done,
            ],
        )?;
    }
    // No subtasks: complete now (`completion.rs`).
    complete_subtree(conn, task_id, now_ns)?;
    Ok(Some(job))
}

/// `complete_subtree` of `completion.rs`: the task is complete, its dependents wait for one
/// task less, and each parent whose subtasks are now all complete is complete too.
fn complete_subtree(conn: &Connection, task_id: &[u8], now_ns: i64) -> Result<(), StoreError> {
    let mut current = task_id.to_vec();
    loop {
        let parent = query_row(conn, MARK_COMPLETE, &[&current, &now_ns], |row| {
            row.get::<_, Option<Vec<u8>>>(0)
        })?;
        let Some(parent) = parent else {
            return Ok(());
        };
        execute(conn, RELEASE_DEPENDENTS, &[&current])?;
        let Some(parent) = parent else {
            return Ok(());
        };
        let open = query_row(conn, OPEN_PARENT, &[&parent], |row| row.get::<_, i32>(0))?;
        if open.is_some() {
            return Ok(());
        }
        current = parent;
    }
}

/// `refresh_job` of `jobs.rs`: the job's state from its task counts, its end stretched.
fn refresh_job(conn: &Connection, job: &JobFacts, now_ns: i64) -> Result<(), StoreError> {
    let mut counts = TaskCounts::default();
    let mut select = prepare(conn, JOB_TASK_COUNTS)?;
    let rows = select
        .query_map([&job.id], |row| {
            Ok((row.get::<_, i32>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(sql_error)?;
    for row in rows {
        let (state, count) = row.map_err(sql_error)?;
        counts.add(task_state_of(state)?.as_str(), count);
    }
    let state = workflow_job_state(job.canceled != 0, &counts);
    execute(
        conn,
        SET_JOB_STATE,
        &[&job.id, &state.code(), &job.end_ns.max(now_ns)],
    )?;
    Ok(())
}

/// `claim` of `claims.rs`: the oldest runnable task the runner can run, page by page.
fn claim_next(
    conn: &Connection,
    claim: &ClaimRequest,
    concurrent: bool,
    now_ns: i64,
) -> Result<Option<ClaimedTask>, StoreError> {
    let names = claim_names(claim);
    let failed = JobState::Failed.code();
    let mut after: Option<(i64, Vec<u8>)> = None;
    for _page in 0..CLAIM_PAGES {
        let mut candidates: Vec<Candidate> = Vec::new();
        for chunk in names.chunks(NAMES_PER_STATEMENT) {
            let mut params: Vec<&dyn ToSql> = vec![&failed, &claim.cluster_slug];
            if let Some((submitted_ns, id)) = &after {
                params.push(submitted_ns);
                params.push(id);
            }
            params.extend(chunk.iter().map(|name| name as &dyn ToSql));
            let mut select = prepare(conn, &candidates_sql(chunk.len(), after.is_some()))?;
            let rows = select
                .query_map(params.as_slice(), |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .map_err(sql_error)?;
            for row in rows {
                candidates.push(row.map_err(sql_error)?);
            }
        }
        let Some((candidates, full_page)) = page_to_try(&names, candidates, concurrent, &mut after)
        else {
            break;
        };
        for (task_id, job_id, name, version, _) in candidates {
            let Some(identifier) = runner_identifier(claim, &name, &version) else {
                continue;
            };
            let job = query_row(
                conn,
                &job_by_id(SqliteStore::ROW_LOCK),
                &[&job_id],
                job_facts,
            )?
            .ok_or_else(|| StoreError::NotFound("job".to_owned()))?;
            if let Some(claimed) =
                claim_task(conn, &job, &task_id, identifier.clone(), claim, now_ns)?
            {
                return Ok(Some(claimed));
            }
        }
        if !full_page {
            break;
        }
    }
    Ok(None)
}

/// `claim_locked` of `claims.rs`: claims `task_id` if it is still runnable.
fn claim_task(
    conn: &Connection,
    job: &JobFacts,
    task_id: &[u8],
    identifier: (String, String),
    claim: &ClaimRequest,
    now_ns: i64,
) -> Result<Option<ClaimedTask>, StoreError> {
    if !job.takes_claims() {
        return Ok(None);
    }
    let lease_expires_ns = now_ns.saturating_add(claim.lease_ns);
    let claimed: Option<ClaimedRow> = query_row(
        conn,
        CLAIM_TASK,
        &[&task_id, &now_ns, &lease_expires_ns, &claim.runner],
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        },
    )?;
    let Some(row) = claimed else {
        return Ok(None);
    };
    execute(
        conn,
        START_ATTEMPT,
        &[&task_id, &row.0, &claim.runner, &now_ns],
    )?;
    let mut select = prepare(conn, TASK_DEPENDS_ON)?;
    let depends_on = select
        .query_map([task_id], |row| row.get::<_, Vec<u8>>(0))
        .map_err(sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_error)?;
    execute(
        conn,
        MARK_RUNNING,
        &[
            &job.id,
            &JobState::Running.code(),
            &job.end_ns.max(now_ns),
            &now_ns.saturating_sub(END_LAG_NS),
        ],
    )?;
    claimed_task(job, task_id, identifier, row, &depends_on, claim.lease_ns).map(Some)
}
