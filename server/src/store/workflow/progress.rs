//! Progress indicators: what finished tasks report (`context.progress(label).add(n)` /
//! `.done(n)`), summed per job and label over tasks and attempts, as Tilebox does.

use super::Progress;
use super::validate::{MAX_TEXT_BYTES, check_text};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Most indicators one task may report (the Python client's own limit).
pub(super) const MAX_INDICATORS: usize = 1000;
/// Largest count one report may add (sums stay far from overflowing a 64-bit integer).
pub(super) const MAX_COUNT: i64 = 1 << 40;

/// A report's indicators fit their limits: at most [`MAX_INDICATORS`], labels of at most 1 KiB
/// without NUL, counts not negative.
pub(super) fn validate_progress(progress: &[Progress]) -> Result<(), StoreError> {
    if progress.len() > MAX_INDICATORS {
        return Err(StoreError::InvalidArgument(format!(
            "{} progress indicators; at most {MAX_INDICATORS} per task",
            progress.len()
        )));
    }
    for indicator in progress {
        check_text("a progress label", &indicator.label, MAX_TEXT_BYTES)?;
        let in_range = |count: i64| (0..=MAX_COUNT).contains(&count);
        if !in_range(indicator.total) || !in_range(indicator.done) {
            return Err(StoreError::InvalidArgument(format!(
                "progress counts must be between 0 and {MAX_COUNT}"
            )));
        }
    }
    Ok(())
}

/// Adds `$3` to the total and `$4` to the done count of job `$1`'s indicator `$2`.
pub(super) const ADD_PROGRESS: &str = "INSERT INTO job_progress (job_id, label, total, done) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (job_id, label) DO UPDATE SET \
    total = job_progress.total + excluded.total, done = job_progress.done + excluded.done";

macro_rules! impl_job_progress {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Adds a task's reported progress to its job's.
            pub(super) async fn add_progress(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &[u8],
                progress: &[Progress],
            ) -> Result<(), StoreError> {
                for indicator in progress {
                    sqlx::query(ADD_PROGRESS)
                        .bind(job_id)
                        .bind(indicator.label.as_str())
                        .bind(indicator.total)
                        .bind(indicator.done)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// A job's progress indicators, by label.
            pub(super) async fn job_progress(
                conn: &mut <$db as sqlx::Database>::Connection,
                job_id: &[u8],
            ) -> Result<Vec<Progress>, StoreError> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT label, total, done FROM job_progress WHERE job_id = $1 ORDER BY label",
                )
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(label, total, done)| Progress { label, total, done })
                    .collect())
            }
        }
    };
}

impl_job_progress!(SqliteStore, sqlx::Sqlite);
impl_job_progress!(PostgresStore, sqlx::Postgres);
