//! SQLite's write path for spans and logs: one rusqlite connection on a thread of its own.
//!
//! Why not sqlx here: sqlx-sqlite copies every bound value to its worker thread and crosses
//! threads per statement, which caps inserts at about 60 % of plain SQLite before any of our
//! own work (docs/BENCHMARKS.md). This writer binds rows in place with cached prepared
//! statements, and commits the requests that queued up while it was busy together (group
//! commit), each in a savepoint of its own so one failing request does not fail the others.
//! A request is acknowledged only after the group's COMMIT. Reads and the workflow operations
//! stay on sqlx; all writers take SQLite's write lock with `BEGIN IMMEDIATE` and wait for each
//! other through the busy timeout.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::rows::JobRow;
use super::span_write::{self, Inserted, JOB_COLUMNS, SpanTx, UPSERT_JOB};
use super::{LogBatch, NewResource, NewSpan, SpanBatch, SpanId, StoreError, TraceId, WriteSummary};

/// Requests waiting beyond this many rows go into the next transaction.
const GROUP_ROWS: usize = 20_000;

/// Longest the writer holds back for waiting sqlx workflow transactions before each of its own.
const YIELD_AT_MOST: Duration = Duration::from_millis(50);

/// Prepared statements the writer's connection keeps (rusqlite's default is 16).
const STATEMENT_CACHE: usize = 64;

enum Payload {
    Spans(SpanBatch),
    Logs(LogBatch),
    /// Tests only: the writer thread panics while committing (a fault to inject).
    #[cfg(test)]
    Crash,
}

impl Payload {
    fn rows(&self) -> usize {
        match self {
            Payload::Spans(batch) => batch.spans.len(),
            Payload::Logs(batch) => batch.logs.len(),
            #[cfg(test)]
            Payload::Crash => 0,
        }
    }
}

struct Command {
    payload: Payload,
    reply: oneshot::Sender<Result<WriteSummary, StoreError>>,
}

/// Work of the workflow store run on the writer's connection, in a transaction of its own
/// (`SqliteWriter::transaction`).
type Work = Box<dyn FnOnce(&Connection) + Send>;

/// Handle to the writer thread; dropping the last one stops it.
pub(super) struct SqliteWriter {
    commands: mpsc::Sender<Command>,
    /// Workflow transactions (task claims): served before the span requests that queued.
    works: mpsc::Sender<Work>,
}

impl SqliteWriter {
    /// Opens the writer's connection (the database exists and is migrated) and starts it.
    /// `full_sync`: `synchronous=FULL` (every commit on disk before it is acknowledged) instead
    /// of `NORMAL`.
    pub(super) fn start(
        path: &Path,
        workflow_waiting: Arc<AtomicUsize>,
        full_sync: bool,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(StoreError::from_rusqlite)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(StoreError::from_rusqlite)?;
        let synchronous = if full_sync { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA cache_size = -65536;"
        ))
        .map_err(StoreError::from_rusqlite)?;
        // The span writes' statements and a claim cycle's (about 15) stay prepared.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (commands, receiver) = mpsc::channel(256);
        let (works, work_receiver) = mpsc::channel(256);
        let queues = Queues {
            commands: receiver,
            works: work_receiver,
        };
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run(conn, queues, workflow_waiting))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the SQLite writer: {e}")))?;
        Ok(SqliteWriter { commands, works })
    }

    async fn submit(&self, payload: Payload) -> Result<WriteSummary, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command { payload, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Runs `work` on the writer's connection in a transaction of its own (`BEGIN IMMEDIATE`),
    /// committed if it succeeds, rolled back if it fails. Statements run back to back on the
    /// writer's thread: a task claim's dozen statements cross threads once, not a dozen times
    /// (sqlx's SQLite worker). Once sent, the work runs to its end even if the caller stops
    /// waiting, as every store write does (`store::to_the_end`).
    pub(super) async fn transaction<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let order: Work = Box::new(move |conn: &Connection| {
            // A bug that panics in the work must not stop the writer (and with it all ingest).
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                in_transaction(conn, work)
            }))
            .unwrap_or_else(|_| {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(StoreError::Shared(
                    "the workflow transaction failed (a panic); nothing of it was stored"
                        .to_owned(),
                ))
            });
            let _ = reply.send(outcome);
        });
        self.works
            .send(order)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Whether the writer thread still takes commands (it stops only if it panicked).
    pub(super) fn is_running(&self) -> bool {
        !self.commands.is_closed() && !self.works.is_closed()
    }

    pub(super) async fn write_spans(&self, batch: SpanBatch) -> Result<WriteSummary, StoreError> {
        self.submit(Payload::Spans(batch)).await
    }

    pub(super) async fn write_logs(&self, batch: LogBatch) -> Result<WriteSummary, StoreError> {
        self.submit(Payload::Logs(batch)).await
    }
}

/// What the writer thread is asked to do.
struct Queues {
    /// Span and log requests.
    commands: mpsc::Receiver<Command>,
    /// Workflow transactions.
    works: mpsc::Receiver<Work>,
}

/// What the writer thread does next.
enum Order {
    Write(Command),
    Work(Work),
}

impl Queues {
    /// The next order, a workflow transaction first: a task claim waits for the span group
    /// being committed at most, never for the span requests queued behind it. `None` once both
    /// queues are closed.
    fn next(&mut self) -> Option<Order> {
        if let Ok(work) = self.works.try_recv() {
            return Some(Order::Work(work));
        }
        futures::executor::block_on(async {
            tokio::select! {
                biased;
                Some(work) = self.works.recv() => Some(Order::Work(work)),
                Some(command) = self.commands.recv() => Some(Order::Write(command)),
                else => None,
            }
        })
    }
}

/// Holds back while a workflow transaction on sqlx's write connection waits for the write lock
/// (at most [`YIELD_AT_MOST`]): SQLite's busy handler is not fair, and back-to-back
/// transactions here would keep it from ever getting the lock (a lease extension that never
/// lands loses its task).
fn yield_to_sqlx(workflow_waiting: &AtomicUsize) {
    let deadline = Instant::now() + YIELD_AT_MOST;
    while workflow_waiting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn run(conn: Connection, mut queues: Queues, workflow_waiting: Arc<AtomicUsize>) {
    while let Some(order) = queues.next() {
        yield_to_sqlx(&workflow_waiting);
        let first = match order {
            Order::Work(work) => {
                work(&conn);
                continue;
            }
            Order::Write(first) => first,
        };
        let mut rows = first.payload.rows();
        let mut group = vec![first];
        // The requests queued meanwhile join the group, unless a workflow transaction waits.
        while rows < GROUP_ROWS && queues.works.is_empty() {
            match queues.commands.try_recv() {
                Ok(command) => {
                    rows += command.payload.rows();
                    group.push(command);
                }
                Err(_) => break,
            }
        }
        commit_group(&conn, group);
    }
}

/// `work` in a transaction that takes the write lock up front; committed if it succeeds, else
/// rolled back.
fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // A transaction left open by an earlier failure would make every BEGIN fail.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(StoreError::from_rusqlite)?;
    let outcome = work(conn);
    if conn.is_autocommit() {
        // SQLite rolled the transaction back itself (I/O error, disk full).
        return outcome.and(Err(StoreError::Shared(
            "the transaction was rolled back".to_owned(),
        )));
    }
    let committed = outcome.and_then(|value| {
        conn.execute_batch("COMMIT")
            .map(|()| value)
            .map_err(StoreError::from_rusqlite)
    });
    if committed.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    committed
}

/// One transaction for the group; replies only once it committed.
fn commit_group(conn: &Connection, group: Vec<Command>) {
    // A transaction left open by an earlier failure would make every BEGIN fail.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = StoreError::from_rusqlite(error);
        for command in group {
            let _ = command.reply.send(Err(error.clone_for_reply()));
        }
        return;
    }
    // Savepoints cost a journal copy of every page they touch: a lone request needs none, its
    // failure rolls back the transaction.
    let alone = group.len() == 1;
    let outcomes: Vec<_> = group
        .into_iter()
        .map(|command| {
            let store = |conn: &Connection| match &command.payload {
                Payload::Spans(batch) => store_spans(conn, batch),
                Payload::Logs(batch) => store_logs(conn, batch),
                #[cfg(test)]
                Payload::Crash => panic!("an injected writer fault"),
            };
            let outcome = if alone {
                store(conn)
            } else {
                in_savepoint(conn, "request", store)
            };
            (command.reply, outcome)
        })
        .collect();
    // SQLite may have rolled the whole transaction back itself (I/O error, disk full): then
    // nothing of the group is stored, whatever the single outcomes said.
    if conn.is_autocommit() {
        for (reply, outcome) in outcomes {
            let error = match outcome {
                Err(error) => error,
                Ok(_) => StoreError::Shared("the transaction was rolled back".to_owned()),
            };
            let _ = reply.send(Err(error));
        }
        return;
    }
    if alone && outcomes.iter().any(|(_, outcome)| outcome.is_err()) {
        let _ = conn.execute_batch("ROLLBACK");
        for (reply, outcome) in outcomes {
            let _ = reply.send(outcome);
        }
        return;
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (reply, outcome) in outcomes {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            let error = StoreError::from_rusqlite(error);
            for (reply, _) in outcomes {
                let _ = reply.send(Err(error.clone_for_reply()));
            }
        }
    }
}

/// Runs `work` in a savepoint: kept if it succeeds, rolled back if it fails.
fn in_savepoint<T>(
    conn: &Connection,
    name: &str,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch(&format!("SAVEPOINT {name}"))
        .map_err(StoreError::from_rusqlite)?;
    match work(conn) {
        Ok(value) => {
            conn.execute_batch(&format!("RELEASE {name}"))
                .map_err(StoreError::from_rusqlite)?;
            Ok(value)
        }
        Err(error) => {
            conn.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))
                .map_err(StoreError::from_rusqlite)?;
            Err(error)
        }
    }
}

/// The span write path; the orchestration is shared with PostgreSQL (`span_write.rs`), whose
/// async statements complete at once here, hence `block_on`. Rows are inserted one statement
/// each, so the insert reports exactly which were stored already: no retry is ever needed.
fn store_spans(conn: &Connection, batch: &SpanBatch) -> Result<WriteSummary, StoreError> {
    let spans = span_write::distinct_spans(&batch.spans);
    let written = futures::executor::block_on(span_write::write_spans(
        &mut SqliteSpanTx(conn),
        &spans,
        &batch.resources,
        false,
    ))?
    .ok_or_else(|| {
        StoreError::Corrupt("the SQLite insert did not say which spans it stored".to_owned())
    })?;
    Ok(WriteSummary {
        written,
        duplicates: batch.spans.len() as u64 - written,
    })
}

fn store_logs(conn: &Connection, batch: &LogBatch) -> Result<WriteSummary, StoreError> {
    insert_resources(conn, &batch.resources)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO logs (trace_id, span_id, time_ns, observed_ns, severity_number, \
             severity_text, body, attributes, resource_id, scope_name, task_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(StoreError::from_rusqlite)?;
    for log in &batch.logs {
        insert
            .execute(params![
                log.trace_id.as_ref().map(|t| &t.0[..]),
                log.span_id.as_ref().map(|s| &s.0[..]),
                log.time_ns,
                log.observed_ns,
                log.severity_number,
                log.severity_text,
                log.body,
                log.attributes_json,
                log.resource_id,
                log.scope_name,
                log.task_id,
            ])
            .map_err(StoreError::from_rusqlite)?;
    }
    Ok(WriteSummary {
        written: batch.logs.len() as u64,
        duplicates: 0,
    })
}

fn insert_resources(conn: &Connection, resources: &[NewResource]) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO resources (id, attributes, service_name) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .map_err(StoreError::from_rusqlite)?;
    for resource in resources {
        insert
            .execute(params![
                resource.id,
                resource.attributes_json,
                resource.service_name
            ])
            .map_err(StoreError::from_rusqlite)?;
    }
    Ok(())
}

struct SqliteSpanTx<'c>(&'c Connection);

impl SpanTx for SqliteSpanTx<'_> {
    async fn insert_resources(&mut self, resources: &[NewResource]) -> Result<(), StoreError> {
        insert_resources(self.0, resources)
    }

    async fn job_by_trace(&mut self, trace_id: TraceId) -> Result<Option<JobRow>, StoreError> {
        let mut select = self
            .0
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE trace_id = ?1"
            ))
            .map_err(StoreError::from_rusqlite)?;
        select
            .query_row(params![&trace_id.0[..]], |row| {
                Ok(JobRow {
                    id: row.get(0)?,
                    trace_id: row.get(1)?,
                    kind: row.get(2)?,
                    name: row.get(3)?,
                    name_source: row.get(4)?,
                    root_status: row.get(5)?,
                    state: row.get(6)?,
                    start_ns: row.get(7)?,
                    end_ns: row.get(8)?,
                    span_count: row.get(9)?,
                    error_count: row.get(10)?,
                    failed_tasks: row.get(11)?,
                    services: row.get(12)?,
                })
            })
            .optional()
            .map_err(StoreError::from_rusqlite)
    }

    async fn stored_span_ids(
        &mut self,
        trace_id: TraceId,
        spans: &[&NewSpan],
    ) -> Result<HashSet<SpanId>, StoreError> {
        let mut exists = self
            .0
            .prepare_cached("SELECT 1 FROM spans WHERE trace_id = ?1 AND span_id = ?2")
            .map_err(StoreError::from_rusqlite)?;
        let mut stored = HashSet::new();
        for span in spans {
            if exists
                .exists(params![&trace_id.0[..], &span.span_id.0[..]])
                .map_err(StoreError::from_rusqlite)?
            {
                stored.insert(span.span_id);
            }
        }
        Ok(stored)
    }

    async fn insert_spans(&mut self, spans: &[&NewSpan]) -> Result<Inserted, StoreError> {
        let mut insert = self
            .0
            .prepare_cached(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, \
                 end_ns, status_code, status_message, attributes, events, resource_id, \
                 service_name, scope_name, scope_version, task_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
                 ON CONFLICT (trace_id, span_id) DO NOTHING",
            )
            .map_err(StoreError::from_rusqlite)?;
        let mut inserted = Vec::with_capacity(spans.len());
        for span in spans {
            let changed = insert
                .execute(params![
                    &span.trace_id.0[..],
                    &span.span_id.0[..],
                    span.parent_span_id.as_ref().map(|p| &p.0[..]),
                    span.name,
                    span.kind,
                    span.start_ns,
                    span.end_ns,
                    span.status_code,
                    span.status_message,
                    span.attributes_json,
                    span.events_json,
                    span.resource_id,
                    span.service_name,
                    span.scope_name,
                    span.scope_version,
                    span.task_key,
                ])
                .map_err(StoreError::from_rusqlite)?;
            inserted.push(changed > 0);
        }
        Ok(Inserted::Each(inserted))
    }

    async fn latest_successes(
        &mut self,
        trace_id: TraceId,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        // One pass over the trace's spans (its primary-key range) per chunk of keys: cheaper
        // than an index on task keys that every insert would pay for.
        let mut latest = HashMap::new();
        for chunk in keys.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let mut select = self
                .0
                .prepare_cached(&format!(
                    "SELECT task_key, max(start_ns) FROM spans WHERE trace_id = ? \
                     AND status_code <> 2 AND task_key IN ({placeholders}) GROUP BY task_key"
                ))
                .map_err(StoreError::from_rusqlite)?;
            let values = std::iter::once(rusqlite::types::Value::Blob(trace_id.0.to_vec())).chain(
                chunk
                    .iter()
                    .map(|k| rusqlite::types::Value::Text((*k).to_owned())),
            );
            let rows = select
                .query_map(rusqlite::params_from_iter(values), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(StoreError::from_rusqlite)?;
            for row in rows {
                let (key, start) = row.map_err(StoreError::from_rusqlite)?;
                latest.insert(key, start);
            }
        }
        Ok(latest)
    }

    async fn upsert_job(&mut self, job: &JobRow) -> Result<(), StoreError> {
        let mut upsert = self
            .0
            .prepare_cached(UPSERT_JOB)
            .map_err(StoreError::from_rusqlite)?;
        upsert
            .execute(params![
                job.id,
                job.trace_id,
                job.kind,
                job.name,
                job.name_source,
                job.root_status,
                job.state,
                job.start_ns,
                job.end_ns,
                job.span_count,
                job.error_count,
                job.failed_tasks,
                job.services,
            ])
            .map_err(StoreError::from_rusqlite)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, StoreOptions};

    /// The writer thread dies (a panic while it commits): `/healthz`'s check fails, and every
    /// write after it is answered `WriterStopped` at once instead of waiting forever.
    #[tokio::test]
    async fn test_a_stopped_writer_fails_the_health_check_and_writes_do_not_hang() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite:{}", dir.path().join("store.db").display());
        let store = SqliteStore::connect_with(&url, &StoreOptions::default())
            .await
            .expect("a store");
        store.health().await.expect("healthy at first");
        let crashed = store.writer.submit(Payload::Crash).await;
        assert!(
            matches!(crashed, Err(StoreError::WriterStopped)),
            "{crashed:?}"
        );
        // The thread unwinds and drops its end of the channel.
        for _ in 0..100 {
            if !store.writer.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let health = store.health().await;
        assert!(
            matches!(health, Err(StoreError::WriterStopped)),
            "{health:?}"
        );
        let write = tokio::time::timeout(
            Duration::from_secs(5),
            store.store_spans(SpanBatch::default()),
        )
        .await
        .expect("a write after the writer stopped is answered, not left waiting");
        assert!(matches!(write, Err(StoreError::WriterStopped)), "{write:?}");
    }
}
