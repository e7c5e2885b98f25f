//! The retention policy: `serve --retention 30d` prunes in the background, `jobtrace prune
//! --older-than 30d` once. Both walk the store's prune steps (one short transaction each) and
//! rest between them, so a prune takes at most about half of the store's write time.

use std::time::Duration;

use crate::store::{Store, StoreError};

/// Rows one prune step deletes at most (per table, in one transaction).
pub const PRUNE_BATCH: u32 = 2_000;
/// How often the background prune looks for jobs that became old enough.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// What a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub jobs: u64,
    pub rows: u64,
}

/// Deletes everything that ended before `cutoff_ns` (see
/// [`Retention::prune_step`](crate::store::Retention::prune_step)), `batch` rows at a time,
/// resting after each step as long as it took.
pub async fn prune_until(
    store: &dyn Store,
    cutoff_ns: i64,
    batch: u32,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    loop {
        let started = tokio::time::Instant::now();
        let Some(step) = store.prune_step(cutoff_ns, batch).await? else {
            // Task analytics of whole days before the cutoff go too (a few rows per task
            // identifier and day).
            let day = app::model::day_of(cutoff_ns);
            pruned.rows += store.prune_task_stats(day).await?;
            // Storage events received before the cutoff (the folder watcher ignores files
            // older than the cutoff, so a pruned event does not fire again).
            pruned.rows += store.prune_storage_events(cutoff_ns).await?;
            return Ok(pruned);
        };
        pruned.rows += step.rows;
        pruned.jobs += u64::from(step.job_deleted);
        tokio::time::sleep(started.elapsed()).await;
    }
}

/// The cutoff for keeping `keep`: now minus `keep`, in unix nanoseconds.
pub fn cutoff(keep: Duration) -> i64 {
    crate::now_ns().saturating_sub(i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX))
}

/// Prunes what is older than `keep` now and every [`PRUNE_EVERY`], for as long as the server
/// runs. A failed round is logged and tried again next time.
pub fn spawn(store: crate::store::SharedStore, keep: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match prune_until(store.as_ref(), cutoff(keep), PRUNE_BATCH).await {
                Ok(pruned) if pruned.rows > 0 => {
                    tracing::info!(jobs = pruned.jobs, rows = pruned.rows, "retention: pruned");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "retention: prune failed, trying later"),
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    })
}
