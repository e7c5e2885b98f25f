//! How each backend runs workflow transactions: SQLite's up-front write lock, PostgreSQL's row
//! locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::{PostgresStore, SqliteStore, StoreError};

// Concurrency: on SQLite every workflow transaction starts with `BEGIN IMMEDIATE`, taking the
// database's write lock up front (the span writer holds it at times too), so each runs alone.
// PostgreSQL runs them concurrently: every change to a job's tasks first locks the job row
// (`ROW_LOCK`), so a claim's conditional update of a task cannot race another, a task is never
// handed to two runners, and a job's state is computed from a settled view.

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
    /// Appended to a `SELECT` of the job row a transaction changes: nothing, as the
    /// transaction holds the database's write lock already.
    pub(super) const ROW_LOCK: &str = "";

    /// `BEGIN IMMEDIATE`: the write lock is taken up front, never upgraded mid-transaction
    /// (which would fail at once when the span writer committed in between).
    pub(super) async fn write_tx(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, WriteTurn), StoreError> {
        let turn = WriteTurn::take(&self.workflow_waiting);
        let tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        Ok((tx, turn))
    }
}

impl PostgresStore {
    /// Locks the job row for the rest of the transaction.
    pub(super) const ROW_LOCK: &str = " FOR UPDATE";

    pub(super) async fn write_tx(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, WriteTurn), StoreError> {
        let tx = self.write.begin().await?;
        Ok((tx, WriteTurn(None)))
    }
}
