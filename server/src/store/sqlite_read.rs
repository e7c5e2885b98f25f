//! Bulk reads on SQLite through rusqlite. sqlx-sqlite hands rows over one at a time from its
//! worker thread (about 14 µs a row here), which made the job page's outline of a 100,000-span
//! trace take 1.4 s; rusqlite on a blocking thread reads the same rows in a fraction of that
//! (docs/BENCHMARKS.md). WAL lets this connection read beside the writer.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::rows::OutlineRow;
use super::{StoreError, TraceId};

pub(super) struct SqliteReader {
    path: PathBuf,
}

impl SqliteReader {
    pub(super) fn new(path: PathBuf) -> Self {
        SqliteReader { path }
    }

    /// The skeleton columns of a trace's spans, by start time (`sql::OUTLINE_SELECT`).
    pub(super) async fn outline_rows(
        &self,
        trace_id: TraceId,
    ) -> Result<Vec<OutlineRow>, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(StoreError::from_rusqlite)?;
            conn.busy_timeout(Duration::from_secs(10))
                .map_err(StoreError::from_rusqlite)?;
            let mut statement = conn
                .prepare(&super::sql::OUTLINE_SELECT.replace("$1", "?1"))
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
        })
        .await
        .map_err(|e| StoreError::Shared(format!("outline read stopped: {e}")))?
    }
}
