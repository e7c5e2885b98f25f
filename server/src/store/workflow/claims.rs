//! Handing tasks to runners: claims, leases, and putting tasks with expired leases back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use app::model::JobState;
use sqlx::Database;
use uuid::Uuid;

use super::backend::WriteTurn;
use super::rows::{JobFacts, TASK_FACTS, TaskFacts};
use super::{
    AttemptOutcome, ClaimRequest, ClaimedTask, ComputedTask, Reporter, TaskState,
    version_compatible,
};
use crate::store::error::task_state_of;
use crate::store::error::uuid_of;
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Candidates fetched per claim before version filtering.
const CLAIM_CANDIDATES: i64 = 64;
/// Pages of candidates a claim looks through before telling the runner to idle.
pub(super) const CLAIM_PAGES: usize = 16;
/// Task names whose candidates one statement reads.
pub(super) const NAMES_PER_STATEMENT: usize = 100;

/// The queue side of the workflow store.
#[async_trait::async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Completes `computed` (storing its subtasks) and claims the next runnable task: in one
    /// transaction when that task is of the same job, else the completion commits first. Tasks
    /// whose lease expired go back to the queue first (looked for at most every 250 ms).
    async fn next_task(
        &self,
        computed: Option<ComputedTask>,
        claim: Option<&ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError>;
    /// Extends a running task's lease for the holder of its current attempt; `None` if the
    /// task is no longer running or `reporter` no longer holds it (`holder.rs`).
    async fn extend_lease(
        &self,
        task_id: Uuid,
        reporter: &Reporter,
        lease_ns: i64,
        now_ns: i64,
    ) -> Result<Option<i64>, StoreError>;
}

/// A claim candidate: task id, job id, identifier name and version, submitted at.
pub(super) type Candidate = (Vec<u8>, Vec<u8>, String, String, i64);

/// What a claimed task's row gives back: attempts, display, input, parent id, retry count.
pub(super) type ClaimedRow = (i64, String, Vec<u8>, Option<Vec<u8>>, i64);

/// The task names a runner can run, each once.
pub(super) fn claim_names(claim: &ClaimRequest) -> Vec<&str> {
    let mut names: Vec<&str> = claim.identifiers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Runnable tasks of `names` (one per name) on the claim's cluster in submission order, after
/// `(submitted_ns, task id)` when `after`, a page per name, one `UNION ALL` member per name.
/// Parameters: `$1` the failed job state, `$2` the cluster, then (`after`) `$3` submitted and
/// `$4` the task id, then the names. One name per member: the queue index (`tasks_queued`:
/// cluster, name, submitted_ns, id) then yields its page in order without sorting; an `IN`
/// list of names made PostgreSQL and SQLite read and sort every queued task (34 ms a claim
/// with 10,000 queued).
pub(super) fn candidates_sql(names: usize, after: bool) -> String {
    let first_name = if after { 5 } else { 3 };
    let mut sql = String::new();
    for index in 0..names {
        if index > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(
            "SELECT * FROM (SELECT t.id, t.job_id, t.identifier_name, t.identifier_version, \
             t.submitted_ns FROM tasks t JOIN jobs j ON j.id = t.job_id \
             WHERE t.state = 1 AND t.pending_deps = 0 AND j.canceled = 0 AND j.state <> $1 \
             AND t.cluster_slug = $2",
        );
        sql.push_str(&format!(" AND t.identifier_name = ${}", first_name + index));
        if after {
            sql.push_str(" AND (t.submitted_ns, t.id) > ($3, $4)");
        }
        sql.push_str(&format!(
            " ORDER BY t.submitted_ns, t.id LIMIT {CLAIM_CANDIDATES}) AS page{index}"
        ));
    }
    sql
}

/// The candidates of one page read name by name ([`candidates_sql`]) in the order to try them:
/// merged in submission order, cut to a page, spread when other claims are in flight; `after`
/// moves past the page. Also whether a next page may hold more (some name's page was full).
/// `None` when there is no candidate.
pub(super) fn page_to_try(
    names: &[&str],
    mut candidates: Vec<Candidate>,
    concurrent: bool,
    after: &mut Option<(i64, Vec<u8>)>,
) -> Option<(Vec<Candidate>, bool)> {
    let full_page = names.iter().any(|name| {
        let page = candidates.iter().filter(|c| c.2 == *name).count();
        page as i64 == CLAIM_CANDIDATES
    }) || candidates.len() as i64 > CLAIM_CANDIDATES;
    candidates.sort_by(|a, b| (a.4, &a.0).cmp(&(b.4, &b.0)));
    candidates.truncate(CLAIM_CANDIDATES as usize);
    let last = candidates.last()?;
    *after = Some((last.4, last.0.clone()));
    spread(&mut candidates, concurrent);
    Some((candidates, full_page))
}

/// Claims task `$1` at `$2` for runner `$4` until `$3`, if it is still runnable; returns a
/// [`ClaimedRow`].
pub(super) const CLAIM_TASK: &str = "UPDATE tasks SET state = 2, started_ns = $2, \
    stopped_ns = NULL, lease_expires_ns = $3, runner = $4, attempts = attempts + 1 \
    WHERE id = $1 AND state = 1 AND pending_deps = 0 \
    RETURNING attempts, display, input, parent_id, retry_count";

/// Attempt `$2` of task `$1` started on runner `$3` at `$4`.
pub(super) const START_ATTEMPT: &str = "INSERT INTO task_attempts (task_id, attempt, runner, \
    started_ns, stopped_ns, outcome, error) VALUES ($1, $2, $3, $4, NULL, 0, '')";

/// The tasks task `$1` depends on.
pub(super) const TASK_DEPENDS_ON: &str =
    "SELECT depends_on FROM task_dependencies WHERE task_id = $1";

/// The task a claim hands out, from its job, its claimed row and its dependencies.
pub(super) fn claimed_task(
    job: &JobFacts,
    task_id: &[u8],
    identifier: (String, String),
    row: ClaimedRow,
    depends_on: &[Vec<u8>],
    lease_ns: i64,
) -> Result<ClaimedTask, StoreError> {
    let (attempts, display, input, parent_id, retry_count) = row;
    Ok(ClaimedTask {
        id: uuid_of(task_id)?,
        job_id: uuid_of(&job.id)?,
        job_name: job.name.clone(),
        job_trace_parent: job.trace_parent.clone().unwrap_or_default(),
        identifier,
        display,
        input,
        parent_id: parent_id.as_deref().map(uuid_of).transpose()?,
        depends_on: depends_on
            .iter()
            .map(|d| uuid_of(d))
            .collect::<Result<_, _>>()?,
        retry_count,
        lease_ns,
        attempt: attempts,
        automation_id: job.automation_id.as_deref().map(uuid_of).transpose()?,
    })
}

/// How many of the oldest candidates concurrent claims spread over.
const SPREAD: usize = 16;

/// Runners that ask at once read the same candidates; all trying the oldest first, each but
/// one lost it and tried the next, every try a transaction on the job's lock (on PostgreSQL
/// eight runners made eleven claims a second). While other claims are in flight, a claim
/// starts at a random one of the oldest [`SPREAD`] instead and goes round. A lone claim (one
/// runner, or runners taking turns) takes the oldest task: the queue is strictly oldest first
/// whenever that costs nothing, and a test or a user can rely on it.
fn spread<T>(candidates: &mut [T], concurrent: bool) {
    let within = candidates.len().min(SPREAD);
    if concurrent && within > 1 {
        let start = usize::from(uuid::Uuid::new_v4().as_bytes()[0]) % within;
        candidates[..within].rotate_left(start);
    }
}

/// Counts a claim in flight for as long as it lives.
pub(super) struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// Enters; also says whether another claim was already in flight.
    pub(super) fn enter(counter: &'a AtomicUsize) -> (Self, bool) {
        let before = counter.fetch_add(1, Ordering::AcqRel);
        (InFlight(counter), before > 0)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How often one server looks for expired leases at most. Every claim used to look (one more
/// statement per `NextTask`); a lease that ran out now goes back to the queue at the first
/// claim at least this long after the last look, which leases of seconds do not notice.
const REQUEUE_EVERY_NS: i64 = 250_000_000;

/// When this server last looked for expired leases (`REQUEUE_EVERY_NS`).
pub(in crate::store) struct RequeueSchedule(AtomicI64);

impl Default for RequeueSchedule {
    fn default() -> Self {
        RequeueSchedule(AtomicI64::new(i64::MIN))
    }
}

impl RequeueSchedule {
    /// Whether a claim at `now_ns` should look; true for one caller per period. Concurrent
    /// callers' clocks arrive slightly out of order; a clock a whole period behind the last
    /// look (it was set back) makes it due at once.
    fn due(&self, now_ns: i64) -> bool {
        let last = self.0.load(Ordering::Acquire);
        let since = i128::from(now_ns) - i128::from(last);
        if since.abs() < i128::from(REQUEUE_EVERY_NS) {
            return false;
        }
        self.0
            .compare_exchange(last, now_ns, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// A workflow transaction a runner's completion left open, and the job it locked: the claim
/// that follows takes a task of that job inside it.
pub(super) struct Held<DB: Database> {
    tx: sqlx::Transaction<'static, DB>,
    _turn: WriteTurn,
    job: JobFacts,
    /// The completion changed the job's tasks and its state is not brought up to date yet.
    stale: bool,
}

/// The runner looks tasks up by exact (name, version): the identifier to hand the task out
/// under is the runner's compatible version, if it has one.
pub(super) fn runner_identifier<'c>(
    claim: &'c ClaimRequest,
    name: &str,
    version: &str,
) -> Option<&'c (String, String)> {
    claim
        .identifiers
        .iter()
        .find(|(n, v)| n == name && version_compatible(version, v))
}

macro_rules! impl_task_queue {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Puts tasks whose runner stopped extending their lease back in the queue, one
            /// transaction per job (each locks just that job: no lock-order cycles). `reported`,
            /// the task the caller is reporting as computed, stays: its late result is about
            /// to be stored, and requeued first another runner could claim it in between.
            async fn requeue_expired(
                &self,
                now_ns: i64,
                reported: Option<&[u8]>,
            ) -> Result<(), StoreError> {
                let expired: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
                    "SELECT id, job_id FROM tasks WHERE state = 2 AND lease_expires_ns < $1 \
                     AND id <> $2",
                )
                .bind(now_ns)
                .bind(reported.unwrap_or_default())
                .fetch_all(&self.read)
                .await?;
                let mut by_job: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
                for (task_id, job_id) in expired {
                    by_job.entry(job_id).or_default().push(task_id);
                }
                for (job_id, tasks) in by_job {
                    let (mut tx, _turn) = self.write_tx().await?;
                    let job = Self::lock_job(&mut tx, &job_id).await?;
                    let mut expired_now = 0;
                    for task_id in tasks {
                        // Only if still expired now that the job is locked.
                        let attempt: Option<i64> = sqlx::query_scalar(
                            "UPDATE tasks SET state = 1, lease_expires_ns = NULL, stopped_ns = $2 \
                             WHERE id = $1 AND state = 2 AND lease_expires_ns < $2 \
                             RETURNING attempts",
                        )
                        .bind(&task_id)
                        .bind(now_ns)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(attempt) = attempt {
                            let outcome = AttemptOutcome::LeaseExpired;
                            let error = "lease expired: the runner stopped extending it";
                            Self::end_attempt(&mut tx, &task_id, attempt, outcome, error, now_ns)
                                .await?;
                            expired_now += 1;
                        }
                    }
                    Self::refresh_job(&mut tx, &job, now_ns).await?;
                    tx.commit().await?;
                    crate::metrics::get()
                        .task(crate::metrics::TaskEvent::lease_expired, expired_now);
                }
                Ok(())
            }

            /// Commits the transaction a completion left open, if any, with the job's state
            /// brought up to date.
            async fn release(held: Option<Held<$db>>, now_ns: i64) -> Result<(), StoreError> {
                if let Some(mut held) = held {
                    if held.stale {
                        Self::refresh_job(&mut held.tx, &held.job, now_ns).await?;
                    }
                    held.tx.commit().await?;
                }
                Ok(())
            }

            /// Hands the oldest runnable task the runner can run to it. Candidates are read
            /// page by page (so tasks of incompatible versions cannot starve the runner), every
            /// task name of the runner in one statement. A candidate of the job the runner's
            /// completion locked (`held`) is claimed inside that transaction: one commit and
            /// one lock of the job per cycle. Any other candidate is tried in a transaction of
            /// its own that locks its job, after `held` is committed: a transaction locks one
            /// job, so no two can wait on each other's jobs, and a task goes to one runner.
            pub(super) async fn claim(
                &self,
                claim: &ClaimRequest,
                mut held: Option<Held<$db>>,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                let names = claim_names(claim);
                if names.is_empty() {
                    Self::release(held, now_ns).await?;
                    return Ok(None);
                }
                let (_in_flight, concurrent) = InFlight::enter(&self.claims_in_flight);
                let mut after: Option<(i64, Vec<u8>)> = None;
                for _page in 0..CLAIM_PAGES {
                    let candidates = match held.as_mut() {
                        Some(held) => {
                            Self::page_of_candidates(&mut held.tx, &names, claim, after.as_ref())
                                .await?
                        }
                        None => {
                            let mut conn = self.write.acquire().await?;
                            Self::page_of_candidates(&mut conn, &names, claim, after.as_ref())
                                .await?
                        }
                    };
                    let Some((candidates, full_page)) =
                        page_to_try(&names, candidates, concurrent, &mut after)
                    else {
                        break;
                    };
                    for (task_id, job_id, name, version, _) in candidates {
                        let Some(identifier) = runner_identifier(claim, &name, &version) else {
                            continue;
                        };
                        let identifier = identifier.clone();
                        if let Some(open) = held.as_mut().filter(|open| open.job.id == job_id) {
                            let claimed = Self::claim_locked(
                                &mut open.tx,
                                &open.job,
                                &task_id,
                                identifier,
                                claim,
                                now_ns,
                            )
                            .await?;
                            if claimed.is_some() {
                                // `claim_locked` marked the job running: what it now is.
                                open.stale = false;
                                Self::release(held, now_ns).await?;
                                return Ok(claimed);
                            }
                            continue;
                        }
                        Self::release(held.take(), now_ns).await?;
                        if let Some(claimed) = self
                            .try_claim(&task_id, &job_id, identifier, claim, now_ns)
                            .await?
                        {
                            return Ok(Some(claimed));
                        }
                    }
                    // Only the first page is read under the completion's lock.
                    Self::release(held.take(), now_ns).await?;
                    if !full_page {
                        break;
                    }
                }
                Self::release(held, now_ns).await?;
                Ok(None)
            }

            /// The next page of candidates for `names` on the claim's cluster, after `after`:
            /// each name's next page (its own index range), merged in submission order by
            /// [`page_to_try`]; a statement per [`NAMES_PER_STATEMENT`] names (SQLite allows
            /// 500 terms in a compound SELECT).
            pub(super) async fn page_of_candidates(
                conn: &mut <$db as Database>::Connection,
                names: &[&str],
                claim: &ClaimRequest,
                after: Option<&(i64, Vec<u8>)>,
            ) -> Result<Vec<Candidate>, StoreError> {
                let mut candidates: Vec<Candidate> = Vec::new();
                for chunk in names.chunks(NAMES_PER_STATEMENT) {
                    let sql = candidates_sql(chunk.len(), after.is_some());
                    let mut query = sqlx::query_as::<_, Candidate>(&sql)
                        .bind(JobState::Failed.code())
                        .bind(claim.cluster_slug.as_str());
                    if let Some((submitted_ns, id)) = after {
                        query = query.bind(*submitted_ns).bind(id.as_slice());
                    }
                    for name in chunk {
                        query = query.bind(*name);
                    }
                    candidates.extend(query.fetch_all(&mut *conn).await?);
                }
                Ok(candidates)
            }

            /// Claims `task_id` of `job_id` in a transaction of its own.
            async fn try_claim(
                &self,
                task_id: &[u8],
                job_id: &[u8],
                identifier: (String, String),
                claim: &ClaimRequest,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let job = Self::lock_job(&mut tx, job_id).await?;
                let claimed =
                    Self::claim_locked(&mut tx, &job, task_id, identifier, claim, now_ns).await?;
                if claimed.is_some() {
                    tx.commit().await?;
                }
                Ok(claimed)
            }

            /// Claims `task_id` if it is still runnable, in a transaction holding its job's
            /// lock. Every change of a job's task states takes that lock first (a lease
            /// extension does not, and changes no state), so the conditional update below
            /// cannot race another claim of the task.
            pub(super) async fn claim_locked(
                tx: &mut sqlx::Transaction<'static, $db>,
                job: &JobFacts,
                task_id: &[u8],
                identifier: (String, String),
                claim: &ClaimRequest,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                if !job.takes_claims() {
                    return Ok(None);
                }
                let claimed = Self::claim_row(tx, job, task_id, claim, now_ns).await?;
                let Some((row, depends_on)) = claimed else {
                    return Ok(None);
                };
                claimed_task(job, task_id, identifier, row, &depends_on, claim.lease_ns).map(Some)
            }
        }

        impl $store {
            /// Reports `computed` and claims the next task through sqlx: the completion's
            /// transaction stays open for the claim (`claim`). Should the claim fail while it
            /// is open, the completion is rolled back with it and the runner told so: a report
            /// is acknowledged only once it is committed (a report committed before a failing
            /// claim of another job is ignored when repeated).
            pub(super) async fn report_and_claim_sqlx(
                &self,
                computed: Option<ComputedTask>,
                claim: Option<&ClaimRequest>,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                let held = match &computed {
                    Some(computed) => {
                        let (mut tx, turn) = self.write_tx().await?;
                        let (job, stale) = Self::complete_task(&mut tx, computed, now_ns).await?;
                        Some(Held {
                            tx,
                            _turn: turn,
                            job,
                            stale,
                        })
                    }
                    None => None,
                };
                match claim {
                    Some(claim) => self.claim(claim, held, now_ns).await,
                    None => {
                        Self::release(held, now_ns).await?;
                        Ok(None)
                    }
                }
            }
        }

        #[async_trait::async_trait]
        impl TaskQueue for $store {
            async fn next_task(
                &self,
                computed: Option<ComputedTask>,
                claim: Option<&ClaimRequest>,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                // Leases that ran out go back to the queue first, each job in a transaction
                // of its own (before this cycle's: SQLite has one write connection).
                if claim.is_some() && self.requeue.due(now_ns) {
                    let reported = computed.as_ref().map(|c| c.task_id.as_bytes().as_slice());
                    self.requeue_expired(now_ns, reported).await?;
                }
                self.report_and_claim(computed, claim, now_ns).await
            }

            async fn extend_lease(
                &self,
                task_id: Uuid,
                reporter: &Reporter,
                lease_ns: i64,
                now_ns: i64,
            ) -> Result<Option<i64>, StoreError> {
                let id = task_id.as_bytes().as_slice();
                let (mut tx, _turn) = self.write_tx().await?;
                let facts: Option<TaskFacts> = sqlx::query_as(TASK_FACTS)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(facts) = facts else {
                    return Ok(None);
                };
                if task_state_of(facts.state)? != TaskState::Running
                    || !Self::standing_of(&mut tx, id, &facts, reporter)
                        .await?
                        .counts()
                {
                    return Ok(None);
                }
                // Only while the attempt read above is still the current one.
                let updated = sqlx::query(
                    "UPDATE tasks SET lease_expires_ns = $2 WHERE id = $1 AND state = 2 \
                     AND attempts = $3",
                )
                .bind(id)
                .bind(now_ns.saturating_add(lease_ns))
                .bind(facts.attempts)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((updated.rows_affected() > 0).then_some(lease_ns))
            }
        }
    };
}

impl_task_queue!(SqliteStore, sqlx::Sqlite);
impl_task_queue!(PostgresStore, sqlx::Postgres);

impl SqliteStore {
    /// The cycle runs on the SQLite writer thread (`sqlite_cycle.rs`: one thread crossing
    /// instead of one per statement) unless the report submits subtasks, which take the sqlx
    /// path (their insert is not written twice).
    async fn report_and_claim(
        &self,
        computed: Option<ComputedTask>,
        claim: Option<&ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError> {
        if computed.as_ref().is_some_and(|c| !c.subtasks.is_empty()) {
            return self.report_and_claim_sqlx(computed, claim, now_ns).await;
        }
        self.report_and_claim_on_writer(computed, claim.cloned(), now_ns)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_leases_are_looked_for_once_per_period() {
        let schedule = RequeueSchedule::default();
        let t = 1_800_000_000_000_000_000;
        assert!(schedule.due(t), "the first claim looks");
        assert!(!schedule.due(t), "the same moment: already looked");
        assert!(!schedule.due(t + REQUEUE_EVERY_NS - 1));
        assert!(schedule.due(t + REQUEUE_EVERY_NS));
        assert!(!schedule.due(t + REQUEUE_EVERY_NS + 1));
    }

    #[test]
    fn a_clock_that_went_back_looks_at_once() {
        let schedule = RequeueSchedule::default();
        let t = 1_800_000_000_000_000_000;
        assert!(schedule.due(t));
        assert!(
            !schedule.due(t - 1),
            "a concurrent caller's slightly older clock"
        );
        assert!(
            schedule.due(t - REQUEUE_EVERY_NS),
            "a clock set back a period"
        );
        assert!(!schedule.due(t - REQUEUE_EVERY_NS + 1));
    }
}
