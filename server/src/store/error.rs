//! `StoreError` and every mapping into it: driver errors by SQLSTATE/result code, corrupt rows.

use uuid::Uuid;

use super::TraceId;
use super::workflow::TaskState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database is busy, try again")]
    Busy,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("the SQLite writer stopped")]
    WriterStopped,
    /// An error passed on to several waiting requests (the original cannot be cloned).
    #[error("{0}")]
    Shared(String),
}

/// Classifies sqlx errors by SQLSTATE / SQLite result code where a caller can act on them, so
/// `?` on any query gives the same error.
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let code = db.code();
            // 40001 serialization_failure, 40P01 deadlock, 55P03 lock_not_available (PostgreSQL);
            // 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
            if matches!(
                code.as_deref(),
                Some("40001" | "40P01" | "55P03" | "5" | "6")
            ) {
                return StoreError::Busy;
            }
        }
        StoreError::Database(error)
    }
}

impl StoreError {
    /// The same error for one more waiting request.
    pub(super) fn clone_for_reply(&self) -> Self {
        match self {
            StoreError::Busy => StoreError::Busy,
            other => StoreError::Shared(other.to_string()),
        }
    }

    /// The SQLite writer's rusqlite errors, classified like sqlx's.
    pub(super) fn from_rusqlite(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, _) = &error
            && matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
        {
            return StoreError::Busy;
        }
        StoreError::Sqlite(error)
    }
}

/// A stored UUID (job, task).
pub(super) fn uuid_of(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("uuid: {e}")))
}

/// A stored task state.
pub(super) fn task_state_of(code: i32) -> Result<TaskState, StoreError> {
    TaskState::from_code(i64::from(code))
        .ok_or_else(|| StoreError::Corrupt(format!("task state {code}")))
}

/// A job's stored trace id.
pub(super) fn trace_id_of(bytes: &[u8]) -> Result<TraceId, StoreError> {
    TraceId::from_bytes(bytes).ok_or_else(|| StoreError::Corrupt("job trace id".to_owned()))
}
