//! The jobs live streams watch: one store read per job and moment shared by all its streams
//! (`shared_reads`): the first stream to ask within [`FRESH`] reads the job, the others take
//! that answer.

use std::time::Duration;

use app::model::Job;

use crate::shared_reads::SharedReads;
use crate::store::{JobRef, SharedStore, StoreError};

/// How old a shared answer may be (well under the streams' poll interval).
const FRESH: Duration = Duration::from_millis(250);
/// Jobs remembered at most; beyond, those not asked about lately are forgotten.
const REMEMBERED: usize = 1024;

pub struct LiveJobs(SharedReads<[u8; 16], Option<Job>>);

impl Default for LiveJobs {
    fn default() -> Self {
        LiveJobs(SharedReads::new(FRESH, REMEMBERED))
    }
}

impl LiveJobs {
    /// The job as the store has it now, or as it had it less than [`FRESH`] ago.
    pub async fn job(&self, store: &SharedStore, job: JobRef) -> Result<Option<Job>, StoreError> {
        self.0.get(&job.0, store.find_job(job)).await
    }
}
