//! PostgreSQL: the `NextTask` cycles of one job's runners, run together.
//!
//! A cycle (report a task, claim the next) holds its job's row lock from its first statement to
//! its commit, and the runners of one job queue on that lock: with 8 runners a cycle's round
//! trips and its commit, one after the other, set the pace (docs/BENCHMARKS.md). Here a cycle
//! that reports a task computed without subtasks (nearly every report) joins the queue of the
//! task's job instead, and one leader per job (a task of its own, so a runner that goes away
//! cannot cancel a batch others wait for) takes what is queued, up to [`MAX_BATCH`] cycles,
//! and runs it in one transaction:
//!
//! 1. lock the job once, and read every reported task in one statement;
//! 2. apply each report as a cycle alone would (`apply_report`: the holder rule, the leaf or
//!    subtask path, progress);
//! 3. read the candidates once per kind of claim (cluster and task names), after every report,
//!    so a task a report released is a candidate;
//! 4. pick a task of the job for each cycle, each candidate once, and claim them all in one
//!    statement;
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

use super::claims::{
    Candidate, InFlight, claim_names, claimed_task, page_to_try, runner_identifier,
};
use super::cycle_statements::Wanted;
use super::progress::validate_progress;
use super::rows::{TASKS_FACTS, TaskFacts};
use super::{ClaimRequest, ClaimedTask, ComputedTask};
use crate::store::{PostgresStore, StoreError};

/// Cycles one batch runs at most: a cycle waits for its whole batch and its commit.
const MAX_BATCH: usize = 64;

/// How often a leader lets other tasks run before it takes its next batch.
const YIELDS_BEFORE_NEXT_BATCH: usize = 2;

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

    /// The cycles of `job` to run next, in order: at most [`MAX_BATCH`], at most one per task
    /// (the others stay queued, in order, for a batch that sees the first); none when nothing
    /// is queued, and the leader is then gone.
    fn next_batch(&self, job: &[u8]) -> Option<Vec<Pending>> {
        let mut waiting = lock(&self.waiting);
        let queued = waiting.get_mut(job)?;
        // A caller that went away (its call was dropped) is not served: nothing of it happens.
        queued.retain(|pending| !pending.answer.is_closed());
        if queued.is_empty() {
            waiting.remove(job);
            return None;
        }
        let mut tasks = HashSet::new();
        let (batch, later): (Vec<_>, Vec<_>) = std::mem::take(queued)
            .into_iter()
            .partition(|pending| tasks.len() < MAX_BATCH && tasks.insert(pending.computed.task_id));
        *queued = later;
        Some(batch)
    }
}

/// A job's leader, from the moment it is decided on. Should it stop before its queue is empty
/// (it panicked, or it never ran as the runtime shut down), the job's queue goes with it: the
/// cycles waiting there run alone instead of waiting for ever, and the job's next cycle starts
/// a new leader.
struct Gone {
    batches: Arc<CycleBatches>,
    job: Vec<u8>,
    finished: bool,
}

impl Drop for Gone {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.batches.waiting).remove(&self.job);
        }
    }
}

/// What a job's leader needs, owned: it outlives the request that started it.
struct Leader {
    pool: PgPool,
    claims_in_flight: Arc<AtomicUsize>,
    job: Gone,
}

impl Leader {
    /// Runs the job's batches until none is queued.
    async fn run(mut self) {
        while let Some(batch) = self.job.batches.next_batch(&self.job.job) {
            let answers = match self.run_batch(&self.job.job, &batch).await {
                Ok(answers) => answers,
                Err(error) => {
                    // Rolled back. Should PostgreSQL have committed and only its answer been
                    // lost, the reports, repeated alone, are ignored (their tasks are computed)
                    // and the batch's claims wait out their lease: no task runs twice.
                    tracing::warn!(%error, cycles = batch.len(), "a batch of NextTask cycles failed; each runs alone");
                    batch.iter().map(|_| Answer::Alone).collect()
                }
            };
            for (pending, answer) in batch.into_iter().zip(answers) {
                // A caller that went away meanwhile: its claim's lease runs out.
                let _ = pending.answer.send(answer);
            }
            // The callers just answered may be ready to report again at once (runners in this
            // process, or on a fast network): let them queue before the next batch is taken,
            // so it holds them too (a commit's WAL flush is the costliest step of a batch).
            for _ in 0..YIELDS_BEFORE_NEXT_BATCH {
                tokio::task::yield_now().await;
            }
        }
        self.job.finished = true;
    }

    /// One transaction for the batch (the module's steps); an answer per cycle, in order.
    async fn run_batch(&self, job: &[u8], batch: &[Pending]) -> Result<Vec<Answer>, StoreError> {
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

        let mut answers: Vec<Option<Answer>> = Vec::with_capacity(batch.len());
        // When the latest report that changed a task was made, if one did.
        let mut reported_ns: Option<i64> = None;
        for (pending, id) in batch.iter().zip(&ids) {
            let Some(task) = facts.remove(id).filter(|task| task.job_id == job) else {
                answers.push(Some(Answer::Alone));
                continue;
            };
            let computed = &pending.computed;
            if PostgresStore::apply_report(&mut tx, computed, &task, pending.now_ns).await? {
                reported_ns = reported_ns.max(Some(pending.now_ns));
            }
            answers.push(None);
        }

        // The batch's claims take distinct candidates: they need spreading only while claims
        // outside the batch are in flight too (`claims.rs`).
        let claims = batch
            .iter()
            .zip(&answers)
            .filter(|(pending, answer)| answer.is_none() && pending.claim.is_some())
            .count();
        let in_flight = (claims > 0).then(|| InFlight::enter(&self.claims_in_flight));
        let concurrent = in_flight.as_ref().is_some_and(|(_, others)| *others);
        let mut pages: HashMap<(String, Vec<String>), (Vec<Candidate>, bool)> = HashMap::new();
        // Which cycle takes which task: each cycle the oldest (or, spread, any of the oldest)
        // of its candidates no earlier cycle of the batch took, as cycles one after the other
        // would; then all of them in one statement.
        let mut assigned: HashSet<Vec<u8>> = HashSet::new();
        let mut picks: Vec<Pick<'_>> = Vec::new();
        for (index, (pending, answer)) in batch.iter().zip(answers.iter_mut()).enumerate() {
            if answer.is_some() {
                continue;
            }
            let asked = pending.claim.as_ref();
            let Some(claim) =
                asked.filter(|_| !pending.answer.is_closed() && job_facts.takes_claims())
            else {
                // No claim asked for, nobody left to hand a task to, or a job that takes none.
                *answer = Some(Answer::Done(None));
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
            *answer = Some(if full_page {
                Answer::ClaimAlone
            } else {
                Answer::Done(None)
            });
            for (task_id, job_id, name, version, _) in candidates {
                if assigned.contains(task_id) {
                    continue;
                }
                let Some(identifier) = runner_identifier(claim, name, version) else {
                    continue;
                };
                if job_id.as_slice() != job {
                    // The oldest task it may run is of another job: claimed alone, with that
                    // job's lock.
                    *answer = Some(Answer::ClaimAlone);
                    break;
                }
                assigned.insert(task_id.clone());
                picks.push((index, task_id.clone(), identifier.clone(), claim));
                *answer = None;
                break;
            }
        }
        let wanted: Vec<Wanted<'_>> = picks
            .iter()
            .map(|(index, task_id, _, claim)| Wanted {
                task_id,
                runner: &claim.runner,
                now_ns: batch[*index].now_ns,
                lease_ns: claim.lease_ns,
            })
            .collect();
        let mut claimed: HashMap<Vec<u8>, _> = HashMap::new();
        if !wanted.is_empty() {
            claimed.extend(PostgresStore::claim_rows(&mut tx, &job_facts, &wanted).await?);
        }
        let claimed_any = !claimed.is_empty();
        for (index, task_id, identifier, claim) in picks {
            answers[index] = Some(match claimed.remove(&task_id) {
                Some((row, depends_on)) => {
                    let lease_ns = claim.lease_ns;
                    let task =
                        claimed_task(&job_facts, &task_id, identifier, row, &depends_on, lease_ns)?;
                    Answer::Done(Some(Box::new(task)))
                }
                // Not runnable after all (it cannot be, under the job's lock): alone.
                None => Answer::ClaimAlone,
            });
        }
        // A claim marked the job running (its end stretched as a claim does, `MARK_RUNNING`:
        // up to a second behind while it runs); without one, the reports may have changed its
        // state, and its end is where the latest of them left it.
        if let Some(reported_ns) = reported_ns.filter(|_| !claimed_any) {
            PostgresStore::refresh_job(&mut tx, &job_facts, reported_ns).await?;
        }
        tx.commit().await?;
        Ok(answers
            .into_iter()
            .map(|answer| answer.unwrap_or(Answer::Done(None)))
            .collect())
    }
}

/// A batch's cycle (its index) picked a task (its id) under the runner's identifier.
type Pick<'a> = (usize, Vec<u8>, (String, String), &'a ClaimRequest);

/// A task's facts with its id.
#[derive(sqlx::FromRow)]
struct FactsOf {
    id: Vec<u8>,
    #[sqlx(flatten)]
    facts: TaskFacts,
}

impl PostgresStore {
    /// Reports `computed` and claims the next task: in its job's batch when it reports a task
    /// computed without subtasks (this module), else alone. A report with subtasks, rarer and
    /// larger, and refused whole when one of them is invalid, does not hold a batch up.
    pub(super) async fn report_and_claim(
        &self,
        computed: Option<ComputedTask>,
        claim: Option<&ClaimRequest>,
        now_ns: i64,
    ) -> Result<Option<ClaimedTask>, StoreError> {
        let claimed = match computed {
            Some(computed) if computed.subtasks.is_empty() => {
                self.cycle_in_batch(computed, claim, now_ns).await?
            }
            computed => self.report_and_claim_sqlx(computed, claim, now_ns).await?,
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
            computed: computed.clone(),
            claim: claim.cloned(),
            now_ns,
            answer,
        };
        if self.cycles.enqueue(job.clone(), pending) {
            // The guard exists before the task does: a leader that never runs lets go too.
            let leader = Leader {
                pool: self.write.clone(),
                claims_in_flight: Arc::clone(&self.claims_in_flight),
                job: Gone {
                    batches: Arc::clone(&self.cycles),
                    job,
                    finished: false,
                },
            };
            tokio::spawn(leader.run());
        }
        match answered.await {
            Ok(Answer::Done(claimed)) => Ok(claimed.map(|task| *task)),
            Ok(Answer::ClaimAlone) => match claim {
                Some(claim) => self.claim(claim, None, now_ns).await,
                None => Ok(None),
            },
            // Not run in a batch, or its leader stopped before answering (`Gone`): alone.
            Ok(Answer::Alone) | Err(_) => {
                self.report_and_claim_sqlx(Some(computed), claim, now_ns)
                    .await
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::workflow::Reporter;

    fn pending(task: Uuid) -> (Pending, oneshot::Receiver<Answer>) {
        let (answer, answered) = oneshot::channel();
        let computed = ComputedTask {
            task_id: task,
            reporter: Reporter::new("runner", Some(1)),
            progress: vec![],
            subtasks: vec![],
            display: String::new(),
        };
        let pending = Pending {
            computed,
            claim: None,
            now_ns: 0,
            answer,
        };
        (pending, answered)
    }

    fn tasks_of(batch: &[Pending]) -> Vec<Uuid> {
        batch.iter().map(|p| p.computed.task_id).collect()
    }

    #[test]
    fn a_batch_takes_one_report_per_task_and_the_repeats_wait_in_order() {
        let batches = CycleBatches::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let job = b"job".to_vec();
        let mut receivers = Vec::new();
        for (i, task) in [a, a, b, a].into_iter().enumerate() {
            let (cycle, answered) = pending(task);
            receivers.push(answered);
            assert_eq!(batches.enqueue(job.clone(), cycle), i == 0, "one leader");
        }
        assert_eq!(tasks_of(&batches.next_batch(&job).unwrap()), [a, b]);
        assert_eq!(tasks_of(&batches.next_batch(&job).unwrap()), [a]);
        assert_eq!(tasks_of(&batches.next_batch(&job).unwrap()), [a]);
        assert!(
            batches.next_batch(&job).is_none(),
            "nothing left: the leader is gone"
        );
        let (cycle, _answered) = pending(b);
        assert!(
            batches.enqueue(job, cycle),
            "the next cycle starts a leader"
        );
    }

    #[test]
    fn a_cycle_whose_caller_went_away_is_not_run() {
        let batches = CycleBatches::default();
        let job = b"job".to_vec();
        let (gone, answered) = pending(Uuid::new_v4());
        drop(answered);
        let (kept, _answered) = pending(Uuid::new_v4());
        let kept_task = kept.computed.task_id;
        batches.enqueue(job.clone(), gone);
        batches.enqueue(job.clone(), kept);
        assert_eq!(tasks_of(&batches.next_batch(&job).unwrap()), [kept_task]);
    }

    #[test]
    fn a_leader_that_stops_early_lets_its_waiting_cycles_go() {
        let batches = Arc::new(CycleBatches::default());
        let job = b"job".to_vec();
        let (cycle, mut answered) = pending(Uuid::new_v4());
        batches.enqueue(job.clone(), cycle);
        drop(Gone {
            batches: Arc::clone(&batches),
            job: job.clone(),
            finished: false,
        });
        let told = answered.try_recv();
        assert!(
            matches!(told, Err(oneshot::error::TryRecvError::Closed)),
            "told to run alone, not left waiting"
        );
        let (cycle, _answered) = pending(Uuid::new_v4());
        assert!(
            batches.enqueue(job, cycle),
            "the next cycle starts a leader"
        );
    }

    #[test]
    fn remembered_jobs_are_bounded_and_forgotten_once_told() {
        let batches = CycleBatches::default();
        let task = |id: Uuid| ClaimedTask {
            id,
            job_id: Uuid::nil(),
            job_name: String::new(),
            job_trace_parent: String::new(),
            identifier: (String::new(), String::new()),
            display: String::new(),
            input: vec![],
            parent_id: None,
            depends_on: vec![],
            retry_count: 0,
            lease_ns: 0,
            attempt: 1,
            automation_id: None,
        };
        let first = Uuid::new_v4();
        batches.remember(&task(first));
        assert_eq!(batches.recall(first), Some(Uuid::nil().as_bytes().to_vec()));
        assert_eq!(batches.recall(first), None, "a report is looked up once");
        for _ in 0..REMEMBERED_TASKS + 10 {
            batches.remember(&task(Uuid::new_v4()));
        }
        assert!(lock(&batches.task_jobs).len() <= REMEMBERED_TASKS);
    }
}
