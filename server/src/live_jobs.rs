//! One store read per watched job and moment, shared by all its live streams: a job page open
//! in 300 browsers asked the store 600 times a second for the same row; now the first stream to
//! ask within [`FRESH`] reads it and the others take that answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::model::Job;
use tokio::time::Instant;

use crate::store::{JobRef, SharedStore, StoreError};

/// How old a shared answer may be (well under the streams' poll interval).
const FRESH: Duration = Duration::from_millis(250);
/// Jobs remembered at most; beyond, those not asked about lately are forgotten.
const REMEMBERED: usize = 1024;

#[derive(Default)]
struct Answer {
    at: Option<Instant>,
    job: Option<Job>,
}

/// The jobs live streams watch, each with the last answer the store gave about it.
#[derive(Default)]
pub struct LiveJobs {
    jobs: Mutex<HashMap<[u8; 16], Arc<tokio::sync::Mutex<Answer>>>>,
}

impl LiveJobs {
    /// The job as the store has it now, or as it had it less than [`FRESH`] ago. Streams that
    /// ask at once wait for one read (the entry's lock) instead of each reading.
    pub async fn job(&self, store: &SharedStore, job: JobRef) -> Result<Option<Job>, StoreError> {
        let entry = {
            let mut jobs = self
                .jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if jobs.len() >= REMEMBERED {
                // Entries no stream holds (only the map does) are forgotten.
                jobs.retain(|_, answer| Arc::strong_count(answer) > 1);
            }
            Arc::clone(jobs.entry(job.0).or_default())
        };
        let mut answer = entry.lock().await;
        if let Some(at) = answer.at
            && at.elapsed() < FRESH
        {
            return Ok(answer.job.clone());
        }
        let fresh = store.find_job(job).await?;
        answer.at = Some(Instant::now());
        answer.job.clone_from(&fresh);
        Ok(fresh)
    }
}
