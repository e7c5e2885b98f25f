//! Bulk reads on SQLite through rusqlite. sqlx-sqlite hands rows over one at a time from its
//! worker thread (about 14 µs a row here), which made the job page's outline of a 100,000-span
//! trace take 1.4 s; rusqlite on a blocking thread reads the same rows in a fraction of that
//! (docs/BENCHMARKS.md). WAL lets this connection read beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::rows::{OutlineRow, SpanRow};
use super::span_query::{Bind, Statement};
use super::{StoreError, TraceId};

/// Idle read connections kept for the next read (their page caches stay warm).
const IDLE: usize = 4;

/// Bulk reads running at once; more wait their turn. Each read has a connection of its own
/// with a page cache of up to 64 MiB: 200 API clients fetching span pages at once would
/// otherwise open 200 of them. The health check does not wait for a turn.
const READS_AT_ONCE: usize = 8;

pub(super) struct SqliteReader {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    reads: tokio::sync::Semaphore,
}

impl SqliteReader {
    pub(super) fn new(path: PathBuf) -> Self {
        SqliteReader {
            path,
            idle: Arc::default(),
            reads: tokio::sync::Semaphore::new(READS_AT_ONCE),
        }
    }

    /// [`SqliteReader::with_connection`] in its turn among the bulk reads.
    async fn bulk_read<T: Send + 'static>(
        &self,
        what: &'static str,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _turn = self
            .reads
            .acquire()
            .await
            .map_err(|e| StoreError::Shared(format!("{what}: {e}")))?;
        self.with_connection(what, read).await
    }

    fn open(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::from_rusqlite)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(StoreError::from_rusqlite)?;
        conn.execute_batch("PRAGMA cache_size = -65536;")
            .map_err(StoreError::from_rusqlite)?;
        Ok(conn)
    }

    /// Runs `read` on an idle read connection (or a new one) on a blocking thread, and keeps the
    /// connection for the next read.
    async fn with_connection<T: Send + 'static>(
        &self,
        what: &'static str,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (path, idle) = (self.path.clone(), Arc::clone(&self.idle));
        tokio::task::spawn_blocking(move || {
            let taken = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => Self::open(&path)?,
            };
            let value = read(&conn)?;
            let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE {
                idle.push(conn);
            }
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::Shared(format!("{what} stopped: {e}")))?
    }

    /// `SELECT 1` on a read connection of its own: the health check.
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.with_connection("health check", |conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(StoreError::from_rusqlite)
        })
        .await
    }

    /// The skeleton columns of a trace's spans, by start time (`rows::OUTLINE_SELECT`).
    pub(super) async fn outline_rows(
        &self,
        trace_id: TraceId,
    ) -> Result<Vec<OutlineRow>, StoreError> {
        self.bulk_read("outline read", move |conn| {
            Self::read_outline(conn, trace_id)
        })
        .await
    }

    fn read_outline(conn: &Connection, trace_id: TraceId) -> Result<Vec<OutlineRow>, StoreError> {
        {
            let mut statement = conn
                .prepare_cached(&super::rows::OUTLINE_SELECT.replace("$1", "?1"))
                .map_err(StoreError::from_rusqlite)?;
            let rows = statement
                .query_map([&trace_id.0[..]], |row| {
                    Ok(OutlineRow {
                        span_id: row.get(0)?,
                        parent_span_id: row.get(1)?,
                        name: row.get(2)?,
                        start_ns: row.get(3)?,
                        end_ns: row.get(4)?,
                        status_code: row.get(5)?,
                        status_message: row.get(6)?,
                        service_name: row.get(7)?,
                        task_key: row.get(8)?,
                        resource_id: row.get(9)?,
                        has_events: row.get(10)?,
                    })
                })
                .map_err(StoreError::from_rusqlite)?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from_rusqlite)
        }
    }

    /// The rows of a span page (`span_query::span_page`).
    pub(super) async fn span_rows(&self, select: Statement) -> Result<Vec<SpanRow>, StoreError> {
        self.bulk_read("span read", move |conn| Self::read_spans(conn, &select))
            .await
    }

    fn read_spans(conn: &Connection, select: &Statement) -> Result<Vec<SpanRow>, StoreError> {
        let mut statement = conn
            .prepare_cached(&select.sql)
            .map_err(StoreError::from_rusqlite)?;
        for (index, bind) in select.binds.iter().enumerate() {
            let bound = match bind {
                Bind::Int(value) => statement.raw_bind_parameter(index + 1, value),
                Bind::Text(text) => statement.raw_bind_parameter(index + 1, text),
                Bind::Blob(bytes) => statement.raw_bind_parameter(index + 1, bytes),
            };
            bound.map_err(StoreError::from_rusqlite)?;
        }
        let mut rows = statement.raw_query();
        let mut spans = Vec::new();
        while let Some(row) = rows.next().map_err(StoreError::from_rusqlite)? {
            let span = (|| {
                Ok(SpanRow {
                    trace_id: row.get(0)?,
                    span_id: row.get(1)?,
                    parent_span_id: row.get(2)?,
                    name: row.get(3)?,
                    kind: row.get(4)?,
                    start_ns: row.get(5)?,
                    end_ns: row.get(6)?,
                    status_code: row.get(7)?,
                    status_message: row.get(8)?,
                    attributes: row.get(9)?,
                    events: row.get(10)?,
                    resource: row.get(11)?,
                    scope_name: row.get(12)?,
                    scope_version: row.get(13)?,
                })
            })()
            .map_err(StoreError::from_rusqlite)?;
            spans.push(span);
        }
        Ok(spans)
    }
}
