//! The task analytics roll-up: every [`TICK`] each replica counts the attempts that ended since
//! into the per-day histograms (`TaskStats::roll_up_task_stats`: each attempt exactly once,
//! however many replicas roll up), in batches of [`BATCH`], resting between batches as long as
//! each took so that ingest and claims keep most of the write time.

use std::time::Duration;

use crate::store::{SharedStore, StoreError};

/// How often ended attempts are looked for: how far the analytics trail the runs.
pub const TICK: Duration = Duration::from_secs(1);
/// Attempts one transaction counts at most.
pub const BATCH: i64 = 2_000;

/// Rolls up every [`TICK`] for as long as the server runs; a failed round is logged and tried
/// again.
pub fn spawn(store: SharedStore) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = roll_up(&store).await {
                tracing::warn!(%error, "task analytics: roll-up failed, trying again");
            }
        }
    })
}

/// Counts every ended attempt not counted yet; how many were taken.
pub async fn roll_up(store: &SharedStore) -> Result<usize, StoreError> {
    let mut taken = 0;
    loop {
        let started = tokio::time::Instant::now();
        let batch = store.roll_up_task_stats(BATCH).await?;
        taken += batch;
        if batch < BATCH as usize {
            return Ok(taken);
        }
        tokio::time::sleep(started.elapsed()).await;
    }
}
