//! Keeps the job list's state counts current on PostgreSQL: once a second each server folds the
//! +1/-1 rows the job triggers appended into the counts (`TraceStore::fold_job_state_counts`),
//! so a read of the chips adds up a handful of rows. SQLite's triggers keep the counts
//! themselves and this does nothing there.

use std::time::Duration;

use crate::store::SharedStore;

/// How often the deltas are folded.
pub const TICK: Duration = Duration::from_secs(1);

/// Folds every [`TICK`] for as long as the server runs; a failed fold is logged and tried again.
pub fn spawn(store: SharedStore) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if store.backend() != "postgres" {
            return;
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = store.fold_job_state_counts().await {
                tracing::warn!(%error, "job counts: folding state deltas failed, trying again");
            }
        }
    })
}
