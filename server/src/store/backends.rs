//! The two backends' handles: pools, pragmas and migrations at connect, health, and which
//! reads and writes SQLite sends to rusqlite instead of sqlx.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows::OutlineRow;
use super::span_query::Dialect;
use super::sqlite_read::SqliteReader;
use super::sqlite_write::SqliteWriter;
use super::{LogBatch, SpanBatch, StoreError, StoreOptions, TraceId, WriteSummary};

/// SQLite: one writer connection (writes are serialized anyway; this avoids SQLITE_BUSY
/// between our own connections) and a pool of readers. WAL with synchronous=NORMAL: a commit
/// survives a process crash; the last commits may be lost on power loss (unless
/// [`StoreOptions::full_sync`]).
pub struct SqliteStore {
    /// Workflow operations (sqlx, `BEGIN IMMEDIATE`).
    pub(super) write: SqlitePool,
    pub(super) read: SqlitePool,
    /// Spans and logs (rusqlite, group commit).
    pub(super) writer: SqliteWriter,
    /// Bulk reads (rusqlite).
    reader: SqliteReader,
    /// Workflow transactions waiting for or holding the write lock (the writer yields to them).
    pub(super) workflow_waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Claims being made right now (`workflow/claims.rs`: a lone claim takes the oldest task).
    pub(super) claims_in_flight: std::sync::atomic::AtomicUsize,
    /// When this server last looked for expired leases (`workflow/claims.rs`).
    pub(super) requeue: super::workflow::RequeueSchedule,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, store_options: &StoreOptions) -> Result<Self, StoreError> {
        let synchronous = if store_options.full_sync {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        let path = options.get_filename().to_path_buf();
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        // A read waits at most this long for a connection: under a flood of page renders a
        // request fails with "busy" instead of queueing for sqlx's default 30 s.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await?;
        let workflow_waiting = std::sync::Arc::default();
        let writer = SqliteWriter::start(
            &path,
            std::sync::Arc::clone(&workflow_waiting),
            store_options.full_sync,
        )?;
        Ok(SqliteStore {
            write,
            read,
            writer,
            reader: SqliteReader::new(path),
            workflow_waiting,
            claims_in_flight: std::sync::atomic::AtomicUsize::new(0),
            requeue: super::workflow::RequeueSchedule::default(),
        })
    }

    pub(super) async fn outline_rows(
        &self,
        trace_id: TraceId,
    ) -> Result<Vec<OutlineRow>, StoreError> {
        self.reader.outline_rows(trace_id).await
    }

    pub(super) async fn select_span_rows(
        &self,
        trace_id: Option<TraceId>,
        query: &super::SpanPageQuery,
    ) -> Result<Vec<super::SpanRow>, StoreError> {
        let select = super::span_query::span_page(Dialect::Sqlite, trace_id, query);
        self.reader.span_rows(select).await
    }

    /// The sqlx pools (the span writer and bulk reader are one rusqlite connection each).
    pub(super) fn pool_use(&self) -> Vec<super::PoolUse> {
        vec![pool_use("write", &self.write), pool_use("read", &self.read)]
    }

    /// Healthy: the span writer thread runs and the file answers a read. The read goes through
    /// the rusqlite reader, not the sqlx pool that page renders may hold all of.
    pub(super) async fn health(&self) -> Result<(), StoreError> {
        if !self.writer.is_running() {
            return Err(StoreError::WriterStopped);
        }
        self.reader.ping().await
    }

    pub(super) async fn store_spans(&self, batch: SpanBatch) -> Result<WriteSummary, StoreError> {
        self.writer.write_spans(batch).await
    }

    pub(super) async fn store_logs(&self, batch: LogBatch) -> Result<WriteSummary, StoreError> {
        self.writer.write_logs(batch).await
    }
}

/// The first window of a page of spans across traces without a lower time bound: an hour;
/// each next one twice as long.
const FIRST_WINDOW_NS: i64 = 3_600_000_000_000;
/// Windows read before such a page is read at once (1 + 2 + 4 hours): each costs an index range
/// when nothing in it matches, which a filter nothing matches pays on top of the one query.
const WINDOW_PROBES: usize = 3;

/// PostgreSQL: one pool for reads and writes, and a connection of its own for health checks.
pub struct PostgresStore {
    pub(super) write: PgPool,
    pub(super) read: PgPool,
    /// `/healthz` answers from this one connection, not the pool that a flood of page renders
    /// and live streams can hold all of (under 200 renders and 300 streams it waited 3.3 s).
    health: PgPool,
    /// Claims being made right now by this server (`workflow/claims.rs`).
    pub(super) claims_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// When this server last looked for expired leases (`workflow/claims.rs`).
    pub(super) requeue: super::workflow::RequeueSchedule,
    /// `NextTask` cycles waiting for their job's batch (`workflow/pg_batch.rs`).
    pub(super) cycles: std::sync::Arc<super::workflow::CycleBatches>,
}

/// A span as PostgreSQL's page statement returns it (`span_query::PG_SPAN_SELECT`): the
/// columns of [`super::SpanRow`] in order, the resource's id in place of its attributes.
/// Decoded by position: sqlx finds a named column through a map, which was a tenth of the
/// server's time answering a 10,000-span page (`perf`, docs/BENCHMARKS.md).
type PgSpanRow = (
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    String,
    i32,
    i64,
    i64,
    i32,
    String,
    String,
    String,
    i64,
    String,
    String,
);

/// Sorts off for a read written to be read in the order of `spans_by_trace_start`
/// (`span_query::in_trace_order`). Both kinds: without statistics (a store just filled) the
/// planner sorted the primary key's rows of the trace incrementally, 30 ms a page of 1,000.
const SORTS_OFF: &str = "SELECT set_config('enable_sort', 'off', true), \
    set_config('enable_incremental_sort', 'off', true)";

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let health = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(PostgresStore {
            write: pool.clone(),
            read: pool,
            health,
            claims_in_flight: std::sync::Arc::default(),
            requeue: super::workflow::RequeueSchedule::default(),
            cycles: std::sync::Arc::default(),
        })
    }

    pub(super) async fn outline_rows(
        &self,
        trace_id: TraceId,
    ) -> Result<Vec<OutlineRow>, StoreError> {
        let mut tx = self.read_with(SORTS_OFF).await?;
        let rows = sqlx::query_as(super::rows::PG_OUTLINE_SELECT)
            .bind(&trace_id.0[..])
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// A read transaction whose planner settings `settings` changes for it alone
    /// (`SET LOCAL …` or `set_config(…, true)`).
    pub(super) async fn read_with(
        &self,
        settings: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.read.begin().await?;
        sqlx::query(settings).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// A page of spans. One across traces without a lower time bound is read in growing
    /// windows of time from the first span (or the cursor) on, each a bounded range of the
    /// spans' time index: without a bound PostgreSQL's planner, taking a `LIKE '%…%'` for rare,
    /// scanned every span and sorted (2.8 s for a name on 10,000,000 spans: docs/BENCHMARKS.md).
    /// Past [`WINDOW_PROBES`] windows the page is one query as before, so a filter nothing
    /// matches costs a few index ranges more than it did.
    pub(super) async fn select_span_rows(
        &self,
        trace_id: Option<TraceId>,
        query: &super::SpanPageQuery,
    ) -> Result<Vec<super::SpanRow>, StoreError> {
        if trace_id.is_some() || query.from_ns.is_some() {
            return self.span_rows_at_once(trace_id, query).await;
        }
        let first: Option<i64> = match &query.after {
            Some((start_ns, _)) => Some(*start_ns),
            None => {
                sqlx::query_scalar("SELECT min(start_ns) FROM spans")
                    .fetch_one(&self.read)
                    .await?
            }
        };
        let Some(mut from_ns) = first else {
            return Ok(Vec::new());
        };
        let limit = query.limit.clamp(1, super::span_query::MAX_PAGE_ROWS);
        let mut rows = Vec::new();
        let mut width = FIRST_WINDOW_NS;
        for _ in 0..WINDOW_PROBES {
            let until = from_ns.saturating_add(width);
            let window = super::SpanPageQuery {
                from_ns: Some(from_ns),
                to_ns: Some(query.to_ns.map_or(until, |to_ns| to_ns.min(until))),
                limit: limit - rows.len() as u32,
                ..query.clone()
            };
            rows.extend(self.span_rows_at_once(None, &window).await?);
            let past_the_end = query.to_ns.is_some_and(|to_ns| to_ns <= until);
            if rows.len() as u32 >= limit || past_the_end || until == i64::MAX {
                return Ok(rows);
            }
            from_ns = until;
            width = width.saturating_mul(2);
        }
        // The windows' rows begin the page; the rest is read as before, in one query without
        // a bound (with `start_ns >= …` the planner walked the whole index, twice as slow as
        // its scan when nothing matched: docs/BENCHMARKS.md).
        self.span_rows_at_once(None, query).await
    }

    async fn span_rows_at_once(
        &self,
        trace_id: Option<TraceId>,
        query: &super::SpanPageQuery,
    ) -> Result<Vec<super::SpanRow>, StoreError> {
        let select = super::span_query::span_page(Dialect::Postgres, trace_id, query);
        let rows: Vec<PgSpanRow> = if select.in_trace_order {
            let mut tx = self.read_with(SORTS_OFF).await?;
            let rows = super::span_query::sqlx_query_as(&select)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        } else {
            super::span_query::sqlx_query_as(&select)
                .fetch_all(&self.read)
                .await?
        };
        self.with_resources(rows).await
    }

    /// The page's rows with their resources' attributes, each resource read once.
    async fn with_resources(
        &self,
        rows: Vec<PgSpanRow>,
    ) -> Result<Vec<super::SpanRow>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = rows.iter().map(|row| row.11).collect();
        ids.sort_unstable();
        ids.dedup();
        let resources: std::collections::HashMap<i64, String> =
            sqlx::query_as("SELECT id, attributes FROM resources WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .collect();
        rows.into_iter()
            .map(|row| {
                let resource = resources.get(&row.11).cloned().ok_or_else(|| {
                    StoreError::Corrupt(format!("the resource {} of a span is missing", row.11))
                })?;
                Ok(super::SpanRow {
                    trace_id: row.0,
                    span_id: row.1,
                    parent_span_id: row.2,
                    name: row.3,
                    kind: row.4,
                    start_ns: row.5,
                    end_ns: row.6,
                    status_code: row.7,
                    status_message: row.8,
                    attributes: row.9,
                    events: row.10,
                    resource,
                    scope_name: row.12,
                    scope_version: row.13,
                })
            })
            .collect()
    }

    pub(super) fn pool_use(&self) -> Vec<super::PoolUse> {
        vec![
            pool_use("write", &self.write),
            pool_use("read", &self.read),
            pool_use("health", &self.health),
        ]
    }

    pub(super) async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.health).await?;
        Ok(())
    }
}

/// How many connections `pool` holds open and idle, and at most.
fn pool_use<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> super::PoolUse {
    super::PoolUse {
        name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
