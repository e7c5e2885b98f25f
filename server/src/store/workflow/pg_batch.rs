//! PostgreSQL: the `NextTask` cycles of one job's runners, run together.
//!
//! A cycle (report a task, claim the next) holds its job's row lock from its first statement to
//! its commit, and the runners of one job queue on that lock: with 8 runners a cycle's round
//! trips and its commit, one after the other, set the pace (docs/BENCHMARKS.md). Here a cycle
//! that reports a task joins the queue of the task's job instead, and one leader per job (a
//! task of its own, so a runner that goes away cannot cancel a batch others wait for) takes
//! everything queued and runs it in one transaction:
//!
//! 1. lock the job once, and read every reported task in one statement;
//! 2. apply each report as a cycle alone would (`apply_report`: the holder rule, the leaf or
//!    subtask path, progress);
//! 3. read the candidates once per kind of claim (cluster and task names), after every report,
//!    so a task a report released is a candidate;
//! 4. claim a task of the job for each cycle, each candidate tried once;
//! 5. bring the job's state up to date if no claim did, and commit once.
//!
//! Each caller is answered after that commit: a report is acknowledged only once committed.
//! What a batch cannot decide, its caller does alone afterwards, as before: a claim whose
//! oldest task is of another job, or that needs more than the first page of candidates, is
//! made in a transaction of its own (a transaction locks one job); a cycle whose task is not
//! where the batch looked, and every cycle of a batch that failed (rolled back: nothing of it
//! was committed), runs alone from the start. The second report of one task waits for the next
//! batch, which sees the first.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::claims::{Candidate, InFlight, claim_names, page_to_try, runner_identifier};
use super::progress::validate_progress;
use super::rows::{TASKS_FACTS, TaskFacts};
use super::{ClaimRequest, ClaimedTask, ComputedTask};
use crate::store::{PostgresStore, StoreError};

/// Tasks whose job this server remembers (those it handed out and has not been told of yet);
/// beyond this many they are forgotten at once, and looked up again.
const REMEMBERED_TASKS: usize = 65_536;

/// A cycle waiting for its job's batch.
struct Pending {
    computed: ComputedTask,
    claim: Option<ClaimRequest>,
    now_ns: i64,
    answer: oneshot::Sender<Answer>,
}

/// What a batch decided for one of its cycles.
enum Answer {
    /// Its report is committed, and this is its claim (none: nothing it may run).
    Done(Option<Box<ClaimedTask>>),
    /// Its report is committed; its claim is to be made alone.
    ClaimAlone,
    /// Nothing of it was committed: the cycle runs alone.
    Alone(ComputedTask),
}

/// A batch's decision before its commit.
enum Verdict {
    Claimed(Option<Box<ClaimedTask>>),
    ClaimAlone,
    Alone,
}

/// The cycles waiting by job, and the jobs of the tasks this server handed out.
#[derive(Default)]
pub(in crate::store) struct CycleBatches {
    /// A job has an entry while its leader runs; the cycles it has not taken yet.
    waiting: Mutex<HashMap<Vec<u8>, Vec<Pending>>>,
    task_jobs: Mutex<HashMap<Uuid, Vec<u8>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CycleBatches {
    fn remember(&self, task: &ClaimedTask) {
        let mut jobs = lock(&self.task_jobs);
        if jobs.len() >= REMEMBERED_TASKS {
            jobs.clear();
        }
        jobs.insert(task.id, task.job_id.as_bytes().to_vec());
    }

    fn recall(&self, task: Uuid) -> Option<Vec<u8>> {
        lock(&self.task_jobs).remove(&task)
    }

    /// Queues `pending` for `job`; whether the caller is to start the job's leader.
    fn enqueue(&self, job: Vec<u8>, pending: Pending) -> bool {
        let mut waiting = lock(&self.waiting);
        let leading = waiting.contains_key(&job);
        waiting.entry(job).or_default().push(pending);
        !leading
    }

    /// The cycles of `job` to run next, at most one per task (the others stay queued, in
    /// order); none when nothing is queued, and the leader is then gone.
    fn next_batch(&self, job: &[u8]) -> Option<Vec<Pending>> {
        let mut waiting = lock(&self.waiting);
        let queued = waiting.get_mut(job)?;
        // A caller that went away (its runner hung up) is not served: nothing of it happens.
        queued.retain(|pending| !pending.answer.is_closed());
        if queued.is_empty() {
            waiting.remove(job);
            return None;
        }
        let mut tasks = HashSet::new();
        let (batch, later): (Vec<_>, Vec<_>) = std::mem::take(queued)
            .into_iter()
            .partition(|pending| tasks.insert(pending.computed.task_id));
        *queued = later;
        Some(batch)
    }
}

/// Should a leader stop before its queue is empty (it panicked, or the runtime shut down), its
/// job's queue goes with it: the cycles waiting there are told to report again instead of
/// waiting for ever, and the next cycle of the job starts a new leader.
struct Gone<'a> {
    batches: &'a CycleBatches,
    job: &'a [u8],
    finished: bool,
}

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.batches.waiting).remove(self.job);
        }
    }
}

/// What a job's leader needs, owned: it outlives the request that started it.
struct Leader {
    pool: PgPool,
    batches: Arc<CycleBatches>,
    claims_in_flight: Arc<AtomicUsize>,
}

impl Leader {
    /// Runs the job's batches until none is queued.
    async fn run(self, job: Vec<u8>) {
        let mut gone = Gone {
            batches: &self.batches,
            job: &job,
            finished: false,
        };
        while let Some(batch) = self.batches.next_batch(&job) {
            let verdicts = match self.run_batch(&job, &batch).await {
                Ok(verdicts) => verdicts,
                Err(error) => {
                    tracing::debug!(%error, cycles = batch.len(), "a batch of cycles failed; each runs alone");
                    batch.iter().map(|_| Verdict::Alone).collect()
                }
            };
            for (pending, verdict) in batch.into_iter().zip(verdicts) {
                let answer = match verdict {
                    Verdict::Claimed(claimed) => Answer::Done(claimed),
                    Verdict::ClaimAlone => Answer::ClaimAlone,
                    Verdict::Alone => Answer::Alone(pending.computed),
                };
                // A caller that went away meanwhile: its claim's lease runs out.
                let _ = pending.answer.send(answer);
            }
        }
        gone.finished = true;
    }

    /// One transaction for the batch (the module's steps); a verdict per cycle, in order.
    async fn run_batch(&self, job: &[u8], batch: &[Pending]) -> Result<Vec<Verdict>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let job_facts = PostgresStore::lock_job(&mut tx, job).await?;
        let ids: Vec<Vec<u8>> = batch
            .iter()
            .map(|pending| pending.computed.task_id.as_bytes().to_vec())
            .collect();
        let rows: Vec<FactsOf> = sqlx::query_as(TASKS_FACTS)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        let mut facts: HashMap<Vec<u8>, TaskFacts> =
            rows.into_iter().map(|row| (row.id, row.facts)).collect();

        let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(batch.len());
        let mut reported = false;
        let mut latest_ns = i64::MIN;
        for (pending, id) in batch.iter().zip(&ids) {
            latest_ns = latest_ns.max(pending.now_ns);
            let Some(task) = facts.remove(id).filter(|task| task.job_id == job) else {
                verdicts.push(Some(Verdict::Alone));
                continue;
            };
            let computed = &pending.computed;
            reported |=
                PostgresStore::apply_report(&mut tx, computed, &task, pending.now_ns).await?;
            verdicts.push(None);
        }

        let claims = batch
            .iter()
            .zip(&verdicts)
            .filter(|(pending, verdict)| verdict.is_none() && pending.claim.is_some())
            .count();
        let (_in_flight, others) = InFlight::enter(&self.claims_in_flight);
        let concurrent = others || claims > 1;
        let mut pages: HashMap<(String, Vec<String>), (Vec<Candidate>, bool)> = HashMap::new();
        let mut tried: HashSet<Vec<u8>> = HashSet::new();
        let mut claimed_any = false;
        for (pending, verdict) in batch.iter().zip(verdicts.iter_mut()) {
            if verdict.is_some() {
                continue;
            }
            let Some(claim) = &pending.claim else {
                *verdict = Some(Verdict::Claimed(None));
                continue;
            };
            let names = claim_names(claim);
            let kind = (
                claim.cluster_slug.clone(),
                names
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect::<Vec<_>>(),
            );
            if !pages.contains_key(&kind) {
                let mut page = Vec::new();
                if !names.is_empty() {
                    page = PostgresStore::page_of_candidates(&mut tx, &names, claim, None).await?;
                }
                let page = page_to_try(&names, page, concurrent, &mut None).unwrap_or_default();
                pages.insert(kind.clone(), page);
            }
            let (candidates, full_page) = pages
                .get(&kind)
                .map_or((&[][..], false), |(c, f)| (c.as_slice(), *f));
            // Past this page, only a claim alone looks further (as a cycle alone would).
            let mut outcome = if full_page {
                Verdict::ClaimAlone
            } else {
                Verdict::Claimed(None)
            };
            for (task_id, job_id, name, version, _) in candidates {
                if tried.contains(task_id) {
                    continue;
                }
                let Some(identifier) = runner_identifier(claim, name, version) else {
                    continue;
                };
                if job_id.as_slice() != job {
                    // The oldest task it may run is of another job: claimed alone, with that
                    // job's lock.
                    outcome = Verdict::ClaimAlone;
                    break;
                }
                tried.insert(task_id.clone());
                let claimed = PostgresStore::claim_locked(
                    &mut tx,
                    &job_facts,
                    task_id,
                    identifier.clone(),
                    claim,
                    pending.now_ns,
                )
                .await?;
                if claimed.is_some() {
                    claimed_any = true;
                    outcome = Verdict::Claimed(claimed.map(Box::new));
                    break;
                }
            }
            *verdict = Some(outcome);
        }
        // A claim marked the job running; without one, the reports may have changed its state.
        if reported && !claimed_any {
            PostgresStore::refresh_job(&mut tx, &job_facts, latest_ns).await?;
        }
        tx.commit().await?;
        Ok(verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or(Verdict::Claimed(None)))
            .collect())
    }
}

/// A task's facts with its id.
#[derive(sqlx::FromRow)]
struct FactsOf {
    id: Vec<u8>,
    #[sqlx(flatten)]
    facts: TaskFacts,
}

impl PostgresStore {
    /// Reports `computed` and claims the next task: in its job's batch when it reports a task
    /// (this module), else alone.
    pub(super) async fn report_and_claim(
        &self,
        computed: Option<ComputedTask>,
        claim: Option<&ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError> {
        let claimed = match computed {
            Some(computed) => self.cycle_in_batch(computed, claim, now_ns).await?,
            None => self.report_and_claim_sqlx(None, claim, now_ns).await?,
        };
        if let Some(task) = &claimed {
            self.cycles.remember(task);
        }
        Ok(claimed)
    }

    async fn cycle_in_batch(
        &self,
        computed: ComputedTask,
        claim: Option<&ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError> {
        validate_progress(&computed.progress)?;
        let job = match self.cycles.recall(computed.task_id) {
            Some(job) => Some(job),
            None => {
                sqlx::query_scalar("SELECT job_id FROM tasks WHERE id = $1")
                    .bind(computed.task_id.as_bytes().as_slice())
                    .fetch_optional(&self.read)
                    .await?
            }
        };
        let Some(job) = job else {
            // No such task: the cycle alone says so.
            return self
                .report_and_claim_sqlx(Some(computed), claim, now_ns)
                .await;
        };
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            computed,
            claim: claim.cloned(),
            now_ns,
            answer,
        };
        if self.cycles.enqueue(job.clone(), pending) {
            let leader = Leader {
                pool: self.write.clone(),
                batches: Arc::clone(&self.cycles),
                claims_in_flight: Arc::clone(&self.claims_in_flight),
            };
            tokio::spawn(leader.run(job));
        }
        match answered.await {
            Ok(Answer::Done(claimed)) => Ok(claimed.map(|task| *task)),
            Ok(Answer::ClaimAlone) => match claim {
                Some(claim) => self.claim(claim, None, now_ns).await,
                None => Ok(None),
            },
            Ok(Answer::Alone(computed)) => {
                self.report_and_claim_sqlx(Some(computed), claim, now_ns)
                    .await
            }
            // The leader panicked: whether the batch committed is unknown, and a repeated
            // report is harmless.
            Err(_) => Err(StoreError::Shared(
                "the task's job could not be updated; report again".to_owned(),
            )),
        }
    }
}
