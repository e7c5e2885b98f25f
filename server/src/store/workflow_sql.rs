//! The SQL behind [`WorkflowStore`], written once for SQLite and PostgreSQL like `sql.rs`.
//!
//! Concurrency: on SQLite every transaction starts with `BEGIN IMMEDIATE`, taking the database's
//! write lock up front (the span writer holds it at times too), so each runs alone.
//! PostgreSQL runs them concurrently: every change to a job's tasks first locks the job row
//! (`FOR UPDATE`), and claims skip task rows other runners are claiming (`SKIP LOCKED`), so a
//! task is never handed to two runners and a job's state is computed from a settled view.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use app::model::JobState;
use uuid::Uuid;

use super::workflow::{
    Attempt, AttemptOutcome, ClaimRequest, ClaimedTask, Cluster, ComputedTask, NewJob, TaskCounts,
    TaskRecord, TaskSpec, TaskState, WorkflowJob, WorkflowJobQuery, version_compatible,
    workflow_job_state,
};
use super::{PostgresStore, SqliteStore, StoreError, TraceId};

/// Candidates fetched per claim before version filtering.
const CLAIM_CANDIDATES: i64 = 64;
/// Pages of candidates a claim looks through before telling the runner to idle.
const CLAIM_PAGES: usize = 16;

fn uuid_of(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("uuid: {e}")))
}

fn task_state(code: i64) -> Result<TaskState, StoreError> {
    TaskState::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("task state {code}")))
}

/// Dependencies point inside the submission and form no cycle, or the tasks could never run.
pub(super) fn validate_dependencies(tasks: &[TaskSpec]) -> Result<(), StoreError> {
    let mut pending: Vec<usize> = tasks.iter().map(|t| t.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (index, task) in tasks.iter().enumerate() {
        for &dependency in &task.depends_on {
            if dependency >= tasks.len() || dependency == index {
                return Err(StoreError::InvalidArgument(format!(
                    "task {index} depends on task {dependency}, which is not another task of \
                     this submission"
                )));
            }
            dependents[dependency].push(index);
        }
    }
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| pending[i] == 0).collect();
    let mut seen = 0;
    while let Some(index) = ready.pop() {
        seen += 1;
        for &dependent in &dependents[index] {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }
    if seen == tasks.len() {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument(
            "task dependencies form a cycle".to_owned(),
        ))
    }
}

#[derive(sqlx::FromRow)]
struct JobFacts {
    id: Vec<u8>,
    trace_id: Vec<u8>,
    name: String,
    state: i32,
    trace_parent: Option<String>,
    canceled: i32,
    submitted_ns: Option<i64>,
    end_ns: i64,
}

#[derive(sqlx::FromRow)]
struct TaskFacts {
    job_id: Vec<u8>,
    state: i32,
    attempts: i64,
    retry_count: i64,
    max_retries: i64,
    optional: i32,
    cluster_slug: String,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Vec<u8>,
    parent_id: Option<Vec<u8>>,
    identifier_name: String,
    identifier_version: String,
    display: String,
    cluster_slug: String,
    state: i32,
    optional: i32,
    max_retries: i64,
    retry_count: i64,
    submitted_ns: i64,
    started_ns: Option<i64>,
    stopped_ns: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    task_id: Vec<u8>,
    attempt: i64,
    runner: String,
    started_ns: i64,
    stopped_ns: Option<i64>,
    outcome: i32,
    error: String,
}

#[derive(sqlx::FromRow)]
struct ClusterRow {
    slug: String,
    display_name: String,
    description: String,
    is_default: i32,
}

impl From<ClusterRow> for Cluster {
    fn from(row: ClusterRow) -> Self {
        Cluster {
            slug: row.slug,
            display_name: row.display_name,
            description: row.description,
            is_default: row.is_default != 0,
        }
    }
}

/// `my Cluster_1` → `my-cluster-1`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

const JOB_FACTS: &str = "SELECT id, trace_id, name, state, trace_parent, canceled, submitted_ns, \
    end_ns FROM jobs WHERE kind = 1";

macro_rules! impl_workflow_store {
    ($store:ty, $db:ty, lock = $lock:literal, skip_locked = $skip_locked:literal) => {
        impl $store {
            /// The job of a trace (id, kind), locked for the transaction on PostgreSQL.
            async fn trace_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                trace_id: TraceId,
            ) -> Result<Option<(Vec<u8>, i32)>, StoreError> {
                sqlx::query_as(&format!("SELECT id, kind FROM jobs WHERE trace_id = $1{}", $lock))
                    .bind(&trace_id.0[..])
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)
            }

            /// The job row, locked for the rest of the transaction on PostgreSQL.
            async fn lock_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &[u8],
            ) -> Result<JobFacts, StoreError> {
                sqlx::query_as::<_, JobFacts>(&format!("{JOB_FACTS} AND id = $1{}", $lock))
                    .bind(job_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?
                    .ok_or_else(|| StoreError::NotFound("job".to_owned()))
            }

            async fn task_counts(
                conn: &mut <$db as sqlx::Database>::Connection,
                job_id: &[u8],
            ) -> Result<TaskCounts, StoreError> {
                let rows: Vec<(i32, i64)> = sqlx::query_as(
                    "SELECT state, count(*) FROM tasks WHERE job_id = $1 GROUP BY state",
                )
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
                let mut counts = TaskCounts::default();
                for (state, count) in rows {
                    counts.add(task_state(i64::from(state))?.as_str(), count);
                }
                Ok(counts)
            }

            /// Recomputes a job's state from its tasks and stretches its end to `now_ns`.
            async fn refresh_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                job: &JobFacts,
                now_ns: i64,
            ) -> Result<JobState, StoreError> {
                let counts = Self::task_counts(&mut **tx, &job.id).await?;
                let state = workflow_job_state(job.canceled != 0, &counts);
                sqlx::query("UPDATE jobs SET state = $2, end_ns = $3 WHERE id = $1")
                    .bind(&job.id)
                    .bind(state.code())
                    .bind(job.end_ns.max(now_ns))
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(state)
            }

            /// Inserts a submission's tasks; returns their ids in submission order.
            async fn insert_tasks(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &[u8],
                parent_id: Option<&[u8]>,
                fallback_cluster: &str,
                tasks: &[TaskSpec],
                now_ns: i64,
            ) -> Result<Vec<Uuid>, StoreError> {
                validate_dependencies(tasks)?;
                // A dependency listed twice is one edge and one wait.
                let depends_on: Vec<Vec<usize>> = tasks
                    .iter()
                    .map(|task| {
                        let mut deps = task.depends_on.clone();
                        deps.sort_unstable();
                        deps.dedup();
                        deps
                    })
                    .collect();
                let slugs: HashSet<&str> = tasks
                    .iter()
                    .map(|t| if t.cluster_slug.is_empty() { fallback_cluster } else { t.cluster_slug.as_str() })
                    .collect();
                for slug in &slugs {
                    let known: Option<String> = sqlx::query_scalar("SELECT slug FROM clusters WHERE slug = $1")
                        .bind(*slug)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    if known.is_none() {
                        return Err(StoreError::NotFound(format!("cluster {slug:?}")));
                    }
                }
                let ids: Vec<Uuid> = tasks.iter().map(|_| Uuid::now_v7()).collect();
                for (chunk_index, chunk) in tasks.chunks(500).enumerate() {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO tasks (id, job_id, parent_id, cluster_slug, identifier_name, \
                         identifier_version, display, input, state, optional, max_retries, \
                         retry_count, pending_deps, submitted_ns, attempts) ",
                    );
                    insert.push_values(chunk.iter().enumerate(), |mut row, (offset, task)| {
                        let id = ids[chunk_index * 500 + offset];
                        let cluster = if task.cluster_slug.is_empty() { fallback_cluster } else { task.cluster_slug.as_str() };
                        row.push_bind(id.as_bytes().to_vec())
                            .push_bind(job_id)
                            .push_bind(parent_id)
                            .push_bind(cluster)
                            .push_bind(task.identifier_name.as_str())
                            .push_bind(task.identifier_version.as_str())
                            .push_bind(task.display.as_str())
                            .push_bind(task.input.as_slice())
                            .push_bind(TaskState::Queued.code())
                            .push_bind(i32::from(task.optional))
                            .push_bind(task.max_retries.max(0))
                            .push_bind(0_i64)
                            .push_bind(depends_on[chunk_index * 500 + offset].len() as i64)
                            .push_bind(now_ns)
                            .push_bind(0_i64);
                    });
                    insert.build().execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
                }
                let edges: Vec<(Uuid, Uuid)> = depends_on
                    .iter()
                    .enumerate()
                    .flat_map(|(index, deps)| deps.iter().map(move |&d| (index, d)))
                    .map(|(index, dependency)| (ids[index], ids[dependency]))
                    .collect();
                for chunk in edges.chunks(1000) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO task_dependencies (task_id, depends_on) ",
                    );
                    insert.push_values(chunk, |mut row, (task, dependency)| {
                        row.push_bind(task.as_bytes().to_vec()).push_bind(dependency.as_bytes().to_vec());
                    });
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().execute(&mut **tx).await.map_err(StoreError::from_sqlx)?;
                }
                Ok(ids)
            }

            /// A dependency is satisfied: its dependents wait for one task less.
            async fn release_dependents(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE tasks SET pending_deps = pending_deps - 1 WHERE id IN \
                     (SELECT task_id FROM task_dependencies WHERE depends_on = $1)",
                )
                .bind(task_id)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn task_facts(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<TaskFacts, StoreError> {
                sqlx::query_as(
                    "SELECT job_id, state, attempts, retry_count, max_retries, optional, \
                     cluster_slug FROM tasks WHERE id = $1",
                )
                .bind(task_id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?
                .ok_or_else(|| StoreError::NotFound(format!("task {}", Uuid::from_slice(task_id).unwrap_or_default())))
            }

            async fn end_attempt(
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
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn complete_task(
                tx: &mut sqlx::Transaction<'_, $db>,
                computed: &ComputedTask,
                now_ns: i64,
            ) -> Result<(), StoreError> {
                let task_id = computed.task_id.as_bytes().as_slice();
                let job_id = Self::task_facts(tx, task_id).await?.job_id;
                let job = Self::lock_job(tx, &job_id).await?;
                // Read again under the job's lock: every change to a task holds it.
                let facts = Self::task_facts(tx, task_id).await?;
                // A task re-queued after its lease expired still counts as computed by the
                // runner that finishes it first; reports for finished tasks change nothing.
                let state = task_state(i64::from(facts.state))?;
                if !matches!(state, TaskState::Running | TaskState::Queued) {
                    return Ok(());
                }
                sqlx::query(
                    "UPDATE tasks SET state = $2, stopped_ns = $3, lease_expires_ns = NULL \
                     WHERE id = $1 AND state IN (1, 2)",
                )
                .bind(task_id)
                .bind(TaskState::Computed.code())
                .bind(now_ns)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                Self::end_attempt(tx, task_id, facts.attempts, AttemptOutcome::Computed, "", now_ns).await?;
                Self::insert_tasks(tx, &facts.job_id, Some(task_id), &facts.cluster_slug, &computed.subtasks, now_ns).await?;
                Self::release_dependents(tx, task_id).await?;
                Self::refresh_job(tx, &job, now_ns).await?;
                Ok(())
            }

            /// Puts tasks whose runner stopped extending their lease back in the queue, one
            /// transaction per job (each locks just that job: no lock-order cycles).
            async fn requeue_expired(&self, now_ns: i64) -> Result<(), StoreError> {
                let expired: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
                    "SELECT id, job_id FROM tasks WHERE state = 2 AND lease_expires_ns < $1",
                )
                .bind(now_ns)
                .fetch_all(&self.read)
                .await?;
                let mut by_job: std::collections::BTreeMap<Vec<u8>, Vec<Vec<u8>>> = Default::default();
                for (task_id, job_id) in expired {
                    by_job.entry(job_id).or_default().push(task_id);
                }
                for (job_id, tasks) in by_job {
                    let (mut tx, _turn) = self.write_tx().await?;
                    let job = Self::lock_job(&mut tx, &job_id).await?;
                    for task_id in tasks {
                        // Only if still expired now that the job is locked.
                        let attempt: Option<i64> = sqlx::query_scalar(
                            "UPDATE tasks SET state = 1, lease_expires_ns = NULL, stopped_ns = $2 \
                             WHERE id = $1 AND state = 2 AND lease_expires_ns < $2 RETURNING attempts",
                        )
                        .bind(&task_id)
                        .bind(now_ns)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        if let Some(attempt) = attempt {
                            Self::end_attempt(&mut tx, &task_id, attempt, AttemptOutcome::LeaseExpired, "lease expired: the runner stopped extending it", now_ns).await?;
                        }
                    }
                    Self::refresh_job(&mut tx, &job, now_ns).await?;
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                }
                Ok(())
            }

            /// Hands the oldest runnable task the runner can run to it. Candidates are read
            /// without locks, page by page (so tasks of incompatible versions cannot starve the
            /// runner); each is tried in a transaction of its own that locks its job, then the
            /// task itself skipping rows another claim holds (PostgreSQL): a task goes to one
            /// runner, concurrent runners do not block each other, and locks always go job first.
            async fn claim(&self, claim: &ClaimRequest, now_ns: i64) -> Result<Option<ClaimedTask>, StoreError> {
                let names: Vec<&str> = {
                    let mut names: Vec<&str> = claim.identifiers.iter().map(|(n, _)| n.as_str()).collect();
                    names.sort_unstable();
                    names.dedup();
                    names
                };
                if names.is_empty() {
                    return Ok(None);
                }
                let mut after: Option<(i64, Vec<u8>)> = None;
                for _page in 0..CLAIM_PAGES {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT t.id, t.job_id, t.identifier_name, t.identifier_version, t.submitted_ns \
                         FROM tasks t JOIN jobs j ON j.id = t.job_id \
                         WHERE t.state = 1 AND t.pending_deps = 0 AND j.canceled = 0 AND j.state <> ",
                    );
                    select.push_bind(JobState::Failed.code());
                    select.push(" AND t.cluster_slug = ").push_bind(claim.cluster_slug.as_str());
                    select.push(" AND t.identifier_name IN (");
                    let mut list = select.separated(", ");
                    for name in &names {
                        list.push_bind(*name);
                    }
                    select.push(")");
                    if let Some((submitted_ns, id)) = &after {
                        select.push(" AND (t.submitted_ns, t.id) > (").push_bind(*submitted_ns);
                        select.push(", ").push_bind(id.clone()).push(")");
                    }
                    select.push(" ORDER BY t.submitted_ns, t.id LIMIT ").push_bind(CLAIM_CANDIDATES);
                    let candidates: Vec<(Vec<u8>, Vec<u8>, String, String, i64)> =
                        select.build_query_as().fetch_all(&self.write).await?;
                    let Some(last) = candidates.last() else {
                        return Ok(None);
                    };
                    after = Some((last.4, last.0.clone()));
                    let full_page = candidates.len() as i64 == CLAIM_CANDIDATES;
                    // The runner looks tasks up by exact (name, version): hand the task out
                    // under the runner's compatible version.
                    for (task_id, job_id, name, version, _) in candidates {
                        let Some(identifier) = claim
                            .identifiers
                            .iter()
                            .find(|(n, v)| *n == name && version_compatible(&version, v))
                        else {
                            continue;
                        };
                        if let Some(claimed) =
                            self.try_claim(&task_id, &job_id, identifier.clone(), claim, now_ns).await?
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
                if job.canceled != 0 || job.state == JobState::Failed.code() {
                    return Ok(None);
                }
                let locked: Option<Vec<u8>> = sqlx::query_scalar(&format!(
                    "SELECT id FROM tasks WHERE id = $1 AND state = 1 AND pending_deps = 0{}",
                    $skip_locked
                ))
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if locked.is_none() {
                    return Ok(None);
                }
                let (attempts, display, input, parent_id, retry_count): (i64, String, Vec<u8>, Option<Vec<u8>>, i64) =
                    sqlx::query_as(
                        "UPDATE tasks SET state = 2, started_ns = $2, stopped_ns = NULL, \
                         lease_expires_ns = $3, runner = $4, attempts = attempts + 1 WHERE id = $1 \
                         RETURNING attempts, display, input, parent_id, retry_count",
                    )
                    .bind(task_id)
                    .bind(now_ns)
                    .bind(now_ns.saturating_add(claim.lease_ns))
                    .bind(claim.runner.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "INSERT INTO task_attempts (task_id, attempt, runner, started_ns, stopped_ns, \
                     outcome, error) VALUES ($1, $2, $3, $4, NULL, 0, '')",
                )
                .bind(task_id)
                .bind(attempts)
                .bind(claim.runner.as_str())
                .bind(now_ns)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let depends_on: Vec<Vec<u8>> =
                    sqlx::query_scalar("SELECT depends_on FROM task_dependencies WHERE task_id = $1")
                        .bind(task_id)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(Some(ClaimedTask {
                    id: uuid_of(task_id)?,
                    job_id: uuid_of(&job.id)?,
                    job_name: job.name.clone(),
                    job_trace_parent: job.trace_parent.clone().unwrap_or_default(),
                    identifier,
                    display,
                    input,
                    parent_id: parent_id.as_deref().map(uuid_of).transpose()?,
                    depends_on: depends_on.iter().map(|d| uuid_of(d)).collect::<Result<_, _>>()?,
                    retry_count,
                    lease_ns: claim.lease_ns,
                }))
            }

            async fn load_workflow_job(
                conn: &mut <$db as sqlx::Database>::Connection,
                facts: JobFacts,
            ) -> Result<WorkflowJob, StoreError> {
                let counts = Self::task_counts(&mut *conn, &facts.id).await?;
                let (first_started, last_stopped, compute): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
                    "SELECT min(a.started_ns), max(a.stopped_ns), \
                     CAST(sum(a.stopped_ns - a.started_ns) AS BIGINT) \
                     FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1",
                )
                .bind(&facts.id)
                .fetch_one(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
                let trace_id = TraceId::from_bytes(&facts.trace_id)
                    .ok_or_else(|| StoreError::Corrupt("job trace id".to_owned()))?;
                let state = workflow_job_state(facts.canceled != 0, &counts);
                Ok(WorkflowJob {
                    id: uuid_of(&facts.id)?,
                    name: facts.name,
                    trace_parent: facts.trace_parent.unwrap_or_default(),
                    trace_id,
                    state,
                    canceled: facts.canceled != 0,
                    submitted_ns: facts.submitted_ns.unwrap_or_default(),
                    first_started_ns: first_started,
                    last_stopped_ns: last_stopped,
                    compute_ns: compute.unwrap_or_default(),
                    counts,
                })
            }

            async fn default_cluster(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<Cluster, StoreError> {
                let row: Option<ClusterRow> = sqlx::query_as(
                    "SELECT slug, display_name, description, is_default FROM clusters \
                     WHERE is_default = 1 ORDER BY slug LIMIT 1",
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::from_sqlx)?;
                row.map(Cluster::from)
                    .ok_or_else(|| StoreError::NotFound("default cluster".to_owned()))
            }
        }

        #[async_trait::async_trait]
        impl super::workflow::WorkflowStore for $store {
            async fn submit_job(&self, job: NewJob, now_ns: i64) -> Result<WorkflowJob, StoreError> {
                if job.name.trim().is_empty() {
                    return Err(StoreError::InvalidArgument("job name must not be empty".to_owned()));
                }
                if job.tasks.is_empty() {
                    return Err(StoreError::InvalidArgument("a job needs at least one task".to_owned()));
                }
                let (mut tx, _turn) = self.write_tx().await?;
                let default = Self::default_cluster(&mut *tx).await?;
                // Spans of the trace may have arrived first: that trace-only job becomes the
                // workflow job, keeping its span aggregates. A trace that already is another
                // workflow job's (a job submitted from inside a task inherits the task's trace)
                // gets a trace of its own instead: jobs are never merged.
                let mut job = job;
                let mut adopt = Self::trace_job(&mut tx, job.trace_id).await?;
                if matches!(adopt, Some((_, kind)) if kind != 0) {
                    let trace = *Uuid::new_v4().as_bytes();
                    let span = Uuid::new_v4();
                    job.trace_id = TraceId(trace);
                    job.trace_parent = format!("00-{}-{}-01", hex::encode(trace), hex::encode(&span.as_bytes()[..8]));
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
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if inserted.is_none() {
                        // Spans of the trace committed a job row meanwhile (PostgreSQL).
                        adopt = Self::trace_job(&mut tx, job.trace_id).await?;
                    }
                }
                let id = match adopt {
                    None => sqlx::query_scalar::<_, Vec<u8>>("SELECT id FROM jobs WHERE trace_id = $1")
                        .bind(&job.trace_id.0[..])
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?,
                    Some((id, 0)) => {
                        sqlx::query(
                            "UPDATE jobs SET kind = 1, name = $2, name_source = 2, trace_parent = $3, \
                             submitted_ns = $4, start_ns = $4, state = $5 WHERE id = $1",
                        )
                        .bind(&id)
                        .bind(job.name.as_str())
                        .bind(job.trace_parent.as_str())
                        .bind(now_ns)
                        .bind(JobState::Submitted.code())
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        id
                    }
                    Some(_) => {
                        return Err(StoreError::Conflict(format!(
                            "trace {} belongs to another job",
                            job.trace_id
                        )));
                    }
                };
                Self::insert_tasks(&mut tx, &id, None, &default.slug, &job.tasks, now_ns).await?;
                let facts = Self::lock_job(&mut tx, &id).await?;
                let loaded = Self::load_workflow_job(&mut *tx, facts).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
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
                let mut select = sqlx::QueryBuilder::<$db>::new(JOB_FACTS);
                if let Some(after) = query.submitted_after_ns {
                    select.push(" AND submitted_ns >= ").push_bind(after);
                }
                if let Some(before) = query.submitted_before_ns {
                    select.push(" AND submitted_ns < ").push_bind(before);
                }
                if !query.states.is_empty() {
                    select.push(" AND state IN (");
                    let mut list = select.separated(", ");
                    for state in &query.states {
                        list.push_bind(state.code());
                    }
                    select.push(")");
                }
                if let Some(name) = query.name.as_deref().filter(|n| !n.is_empty()) {
                    select.push(" AND lower(name) LIKE ").push_bind(format!("%{}%", name.to_lowercase()));
                }
                if !query.cluster_slugs.is_empty() {
                    select.push(" AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.cluster_slug IN (");
                    let mut list = select.separated(", ");
                    for slug in &query.cluster_slugs {
                        list.push_bind(slug.as_str());
                    }
                    select.push("))");
                }
                // Keyset on (submitted_ns, id): ids of jobs adopted from a trace are not
                // time-ordered. The cursor is the last job's id (the client's page format).
                if let Some(after) = query.starting_after {
                    let submitted: Option<Option<i64>> =
                        sqlx::query_scalar("SELECT submitted_ns FROM jobs WHERE id = $1")
                            .bind(after.as_bytes().as_slice())
                            .fetch_optional(&self.read)
                            .await?;
                    let submitted = submitted.flatten().ok_or(StoreError::InvalidCursor)?;
                    select.push(if query.ascending {
                        " AND (submitted_ns, id) > ("
                    } else {
                        " AND (submitted_ns, id) < ("
                    });
                    select.push_bind(submitted).push(", ").push_bind(after.as_bytes().to_vec()).push(")");
                }
                select.push(if query.ascending {
                    " ORDER BY submitted_ns, id"
                } else {
                    " ORDER BY submitted_ns DESC, id DESC"
                });
                select.push(" LIMIT ").push_bind(i64::from(query.limit.clamp(1, 1000)));
                let mut conn = self.read.acquire().await?;
                let rows: Vec<JobFacts> = select.build_query_as().fetch_all(&mut *conn).await?;
                let mut jobs = Vec::with_capacity(rows.len());
                for facts in rows {
                    jobs.push(Self::load_workflow_job(&mut *conn, facts).await?);
                }
                Ok(jobs)
            }

            async fn next_task(
                &self,
                computed: Option<ComputedTask>,
                claim: Option<&ClaimRequest>,
                now_ns: i64,
            ) -> Result<Option<ClaimedTask>, StoreError> {
                // Completing and claiming are separate transactions: each locks one job, so no
                // two transactions can wait on each other's jobs.
                if let Some(computed) = &computed {
                    let (mut tx, _turn) = self.write_tx().await?;
                    Self::complete_task(&mut tx, computed, now_ns).await?;
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                }
                match claim {
                    Some(claim) => {
                        self.requeue_expired(now_ns).await?;
                        self.claim(claim, now_ns).await
                    }
                    None => Ok(None),
                }
            }

            async fn task_failed(
                &self,
                task_id: Uuid,
                error: &str,
                workflow_error: bool,
                now_ns: i64,
            ) -> Result<TaskState, StoreError> {
                let id = task_id.as_bytes().as_slice();
                let (mut tx, _turn) = self.write_tx().await?;
                let job_id = Self::task_facts(&mut tx, id).await?.job_id;
                let job = Self::lock_job(&mut tx, &job_id).await?;
                // Read again under the job's lock: every change to a task holds it.
                let facts = Self::task_facts(&mut tx, id).await?;
                let state = task_state(i64::from(facts.state))?;
                if state != TaskState::Running {
                    return Ok(state);
                }
                let outcome = if workflow_error { AttemptOutcome::Failed } else { AttemptOutcome::Released };
                Self::end_attempt(&mut tx, id, facts.attempts, outcome, error, now_ns).await?;
                let next = if !workflow_error || facts.retry_count < facts.max_retries {
                    TaskState::Queued
                } else if facts.optional != 0 {
                    TaskState::FailedOptional
                } else {
                    TaskState::Failed
                };
                let retried = i64::from(workflow_error && next == TaskState::Queued);
                sqlx::query(
                    "UPDATE tasks SET state = $2, retry_count = retry_count + $3, stopped_ns = $4, \
                     lease_expires_ns = NULL WHERE id = $1 AND state = 2",
                )
                .bind(id)
                .bind(next.code())
                .bind(retried)
                .bind(now_ns)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if next == TaskState::FailedOptional {
                    // Optional tasks may fail without holding up what depends on them.
                    Self::release_dependents(&mut tx, id).await?;
                }
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(next)
            }

            async fn extend_lease(
                &self,
                task_id: Uuid,
                lease_ns: i64,
                now_ns: i64,
            ) -> Result<Option<i64>, StoreError> {
                let updated = sqlx::query(
                    "UPDATE tasks SET lease_expires_ns = $2 WHERE id = $1 AND state = 2",
                )
                .bind(task_id.as_bytes().as_slice())
                .bind(now_ns.saturating_add(lease_ns))
                .execute(&self.write)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok((updated.rows_affected() > 0).then_some(lease_ns))
            }

            async fn retry_job(&self, id: Uuid, now_ns: i64) -> Result<i64, StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let mut job = Self::lock_job(&mut tx, id.as_bytes()).await?;
                let rescheduled = sqlx::query(
                    "UPDATE tasks SET state = 1, lease_expires_ns = NULL WHERE job_id = $1 AND state = 4",
                )
                .bind(id.as_bytes().as_slice())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?
                .rows_affected() as i64;
                sqlx::query("UPDATE jobs SET canceled = 0 WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                job.canceled = 0;
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(rescheduled)
            }

            async fn cancel_job(&self, id: Uuid, now_ns: i64) -> Result<(), StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let mut job = Self::lock_job(&mut tx, id.as_bytes()).await?;
                sqlx::query("UPDATE jobs SET canceled = 1 WHERE id = $1")
                    .bind(id.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                job.canceled = 1;
                Self::refresh_job(&mut tx, &job, now_ns).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn job_tasks(&self, id: Uuid) -> Result<Vec<TaskRecord>, StoreError> {
                let job_id = id.as_bytes().as_slice();
                let mut conn = self.read.acquire().await?;
                let rows: Vec<TaskRow> = sqlx::query_as(
                    "SELECT id, parent_id, identifier_name, identifier_version, display, cluster_slug, \
                     state, optional, max_retries, retry_count, submitted_ns, started_ns, stopped_ns \
                     FROM tasks WHERE job_id = $1 ORDER BY submitted_ns, id",
                )
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
                let attempts: Vec<AttemptRow> = sqlx::query_as(
                    "SELECT a.task_id, a.attempt, a.runner, a.started_ns, a.stopped_ns, a.outcome, a.error \
                     FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1 \
                     ORDER BY a.attempt",
                )
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await?;
                let mut depends: HashMap<Vec<u8>, Vec<Uuid>> = HashMap::new();
                for (task, dependency) in edges {
                    depends.entry(task).or_default().push(uuid_of(&dependency)?);
                }
                let mut by_task: HashMap<Vec<u8>, Vec<Attempt>> = HashMap::new();
                for row in attempts {
                    by_task.entry(row.task_id).or_default().push(Attempt {
                        number: row.attempt,
                        runner: row.runner,
                        started_ns: row.started_ns,
                        stopped_ns: row.stopped_ns,
                        outcome: AttemptOutcome::from_code(i64::from(row.outcome)),
                        error: row.error,
                    });
                }
                rows.into_iter()
                    .map(|row| {
                        Ok(TaskRecord {
                            id: uuid_of(&row.id)?,
                            parent_id: row.parent_id.as_deref().map(uuid_of).transpose()?,
                            depends_on: depends.remove(&row.id).unwrap_or_default(),
                            attempts: by_task.remove(&row.id).unwrap_or_default(),
                            identifier_name: row.identifier_name,
                            identifier_version: row.identifier_version,
                            display: row.display,
                            cluster_slug: row.cluster_slug,
                            state: task_state(i64::from(row.state))?,
                            optional: row.optional != 0,
                            max_retries: row.max_retries,
                            retry_count: row.retry_count,
                            submitted_ns: row.submitted_ns,
                            started_ns: row.started_ns,
                            stopped_ns: row.stopped_ns,
                        })
                    })
                    .collect()
            }

            async fn cluster(&self, slug: &str) -> Result<Option<Cluster>, StoreError> {
                let mut conn = self.read.acquire().await?;
                if slug.is_empty() {
                    return Self::default_cluster(&mut *conn).await.map(Some);
                }
                let row: Option<ClusterRow> = sqlx::query_as(
                    "SELECT slug, display_name, description, is_default FROM clusters WHERE slug = $1",
                )
                .bind(slug)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(Cluster::from))
            }

            async fn clusters(&self) -> Result<Vec<Cluster>, StoreError> {
                let rows: Vec<ClusterRow> = sqlx::query_as(
                    "SELECT slug, display_name, description, is_default FROM clusters ORDER BY slug",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(Cluster::from).collect())
            }

            async fn create_cluster(&self, cluster: &Cluster, now_ns: i64) -> Result<Cluster, StoreError> {
                let slug = if cluster.slug.is_empty() { slugify(&cluster.display_name) } else { cluster.slug.clone() };
                if slug.is_empty() || slug != slugify(&slug) {
                    return Err(StoreError::InvalidArgument(format!(
                        "cluster slug {slug:?} must be lowercase letters, digits and dashes"
                    )));
                }
                let display_name = if cluster.display_name.is_empty() { slug.clone() } else { cluster.display_name.clone() };
                let inserted = sqlx::query(
                    "INSERT INTO clusters (slug, display_name, description, is_default, created_ns) \
                     VALUES ($1, $2, $3, 0, $4) ON CONFLICT (slug) DO NOTHING",
                )
                .bind(slug.as_str())
                .bind(display_name.as_str())
                .bind(cluster.description.as_str())
                .bind(now_ns)
                .execute(&self.write)
                .await
                .map_err(StoreError::from_sqlx)?;
                if inserted.rows_affected() == 0 {
                    return Err(StoreError::Conflict(format!("cluster {slug:?} already exists")));
                }
                Ok(Cluster { slug, display_name, description: cluster.description.clone(), is_default: false })
            }

            async fn delete_cluster(&self, slug: &str) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM clusters WHERE slug = $1 AND is_default = 0")
                    .bind(slug)
                    .execute(&self.write)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if deleted.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("deletable cluster {slug:?}")));
                }
                Ok(())
            }
        }
    };
}

/// A workflow transaction waiting for or holding SQLite's write lock. While one is pending the
/// span writer holds back a little before its next transaction, so task claims and completions
/// are not starved by sustained ingest (SQLite's busy handler is not fair).
pub(super) struct WriteTurn(Option<Arc<AtomicUsize>>);

impl WriteTurn {
    fn take(waiting: &Arc<AtomicUsize>) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        WriteTurn(Some(Arc::clone(waiting)))
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        if let Some(waiting) = &self.0 {
            waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl SqliteStore {
    /// `BEGIN IMMEDIATE`: the write lock is taken up front, never upgraded mid-transaction
    /// (which would fail at once when the span writer committed in between).
    async fn write_tx(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, WriteTurn), StoreError> {
        let turn = WriteTurn::take(&self.workflow_waiting);
        let tx = self
            .write
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok((tx, turn))
    }
}

impl PostgresStore {
    async fn write_tx(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, WriteTurn), StoreError> {
        let tx = self.write.begin().await.map_err(StoreError::from_sqlx)?;
        Ok((tx, WriteTurn(None)))
    }
}

impl_workflow_store!(SqliteStore, sqlx::Sqlite, lock = "", skip_locked = "");
impl_workflow_store!(
    PostgresStore,
    sqlx::Postgres,
    lock = " FOR UPDATE",
    skip_locked = " FOR UPDATE SKIP LOCKED"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(depends_on: Vec<usize>) -> TaskSpec {
        TaskSpec {
            identifier_name: "T".to_owned(),
            identifier_version: "v0.0".to_owned(),
            display: "T".to_owned(),
            input: Vec::new(),
            cluster_slug: String::new(),
            max_retries: 0,
            optional: false,
            depends_on,
        }
    }

    #[test]
    fn test_dependencies_must_stay_inside_and_be_acyclic() {
        assert!(validate_dependencies(&[spec(vec![]), spec(vec![0]), spec(vec![0, 1])]).is_ok());
        assert!(
            validate_dependencies(&[spec(vec![1])]).is_err(),
            "out of range"
        );
        assert!(validate_dependencies(&[spec(vec![0])]).is_err(), "self");
        assert!(
            validate_dependencies(&[spec(vec![1]), spec(vec![0])]).is_err(),
            "cycle"
        );
    }

    #[test]
    fn test_slugify() {
        assert_eq!(slugify("My Cluster_1 "), "my-cluster-1");
        assert_eq!(slugify("--"), "");
    }
}
