//! When a task counts as complete, as Tilebox defines it, and what a failure inside an optional
//! subtree skips.
//!
//! - A task is **complete** once it is computed and every one of its subtasks is complete, or
//!   once it failed optionally or was skipped. Only then may the tasks that depend on it run
//!   (`pending_deps` counts a task's dependencies that are not complete yet). A parent's
//!   completion therefore waits for its whole subtree: the caches page's fan-in (`PrintSum`
//!   after the subtasks of five producers) reads every number.
//! - A task submitted as optional, and every task below it, fails as `FAILED_OPTIONAL`
//!   instead of `FAILED`; when one of them fails, the tasks still queued below the nearest
//!   optional ancestor (or the task itself) are **skipped**, so the failure stays inside that
//!   boundary and the tasks that depend on the optional task still run.
//!
//! Known gap: a task of such a subtree that was already running when the failure happened may
//! still submit subtasks; those run rather than being skipped.

use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Longest chain of parents walked up looking for an optional ancestor (a tree deeper than
/// this is treated as if it had no optional ancestor above that depth).
const MAX_DEPTH: usize = 10_000;

/// Task `$1` is complete at `$2` (unless it was already); returns its parent id.
pub(super) const MARK_COMPLETE: &str = "UPDATE tasks SET completed_ns = $2 \
    WHERE id = $1 AND completed_ns IS NULL RETURNING parent_id";

/// A row (the `state`, INTEGER on both backends) if task `$1` is not complete yet: not computed,
/// or a subtask of it is not complete.
pub(super) const OPEN_PARENT: &str = "SELECT p.state FROM tasks p WHERE p.id = $1 \
    AND (p.state <> 3 OR EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = p.id \
    AND c.completed_ns IS NULL))";

macro_rules! impl_task_completion {
    ($store:ty, $db:ty) => {
        impl $store {
            /// `task_id` is complete: its dependents wait for one task less, and each parent
            /// that is computed and now has only complete subtasks is complete too (up the
            /// tree). A task already complete changes nothing.
            pub(super) async fn complete_subtree(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
                now_ns: i64,
            ) -> Result<(), StoreError> {
                let mut current = task_id.to_vec();
                loop {
                    let parent: Option<Option<Vec<u8>>> = sqlx::query_scalar(MARK_COMPLETE)
                        .bind(current.as_slice())
                        .bind(now_ns)
                        .fetch_optional(&mut **tx)
                        .await?;
                    let Some(parent) = parent else {
                        return Ok(());
                    };
                    Self::release_dependents(tx, &current).await?;
                    let Some(parent) = parent else {
                        return Ok(());
                    };
                    let open: Option<i32> = sqlx::query_scalar(OPEN_PARENT)
                        .bind(parent.as_slice())
                        .fetch_optional(&mut **tx)
                        .await?;
                    if open.is_some() {
                        return Ok(());
                    }
                    current = parent;
                }
            }

            /// The nearest task, from `task_id` up its parents, that was submitted optional.
            pub(super) async fn optional_root(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &[u8],
            ) -> Result<Option<Vec<u8>>, StoreError> {
                let mut current = task_id.to_vec();
                for _ in 0..MAX_DEPTH {
                    let row: Option<(i32, Option<Vec<u8>>)> =
                        sqlx::query_as("SELECT optional, parent_id FROM tasks WHERE id = $1")
                            .bind(current.as_slice())
                            .fetch_optional(&mut **tx)
                            .await?;
                    match row {
                        Some((optional, _)) if optional != 0 => return Ok(Some(current)),
                        Some((_, Some(parent))) => current = parent,
                        _ => return Ok(None),
                    }
                }
                Ok(None)
            }

            /// Skips every task still queued below `root`; each skipped task is complete. Only
            /// incomplete tasks are walked: a queued task's ancestors are all incomplete.
            pub(super) async fn skip_queued_below(
                tx: &mut sqlx::Transaction<'_, $db>,
                root: &[u8],
                now_ns: i64,
            ) -> Result<(), StoreError> {
                let skipped: Vec<Vec<u8>> = sqlx::query_scalar(
                    "WITH RECURSIVE below(id) AS ( \
                     SELECT id FROM tasks WHERE parent_id = $1 AND completed_ns IS NULL \
                     UNION ALL SELECT t.id FROM tasks t JOIN below b ON t.parent_id = b.id \
                     WHERE t.completed_ns IS NULL) \
                     UPDATE tasks SET state = 5, stopped_ns = $2 \
                     WHERE state = 1 AND id IN (SELECT id FROM below) RETURNING id",
                )
                .bind(root)
                .bind(now_ns)
                .fetch_all(&mut **tx)
                .await?;
                for task_id in skipped {
                    Self::complete_subtree(tx, &task_id, now_ns).await?;
                }
                Ok(())
            }
        }
    };
}

impl_task_completion!(SqliteStore, sqlx::Sqlite);
impl_task_completion!(PostgresStore, sqlx::Postgres);
