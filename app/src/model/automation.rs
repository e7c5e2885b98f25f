//! Cron and storage-event automations as the dashboard lists them: what they submit, when, and what they did.

use serde::{Deserialize, Serialize};

use super::JobState;

/// An automation with its triggers and the latest jobs it submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutomationView {
    pub id: String,
    pub name: String,
    /// The task it submits: `identifier name@version`.
    pub task: String,
    pub cluster: String,
    pub created_ns: i64,
    pub triggers: Vec<CronTriggerView>,
    pub storage_triggers: Vec<StorageTriggerView>,
    /// Newest first, at most [`AUTOMATION_JOBS`].
    pub recent_jobs: Vec<AutomationJob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronTriggerView {
    pub schedule: String,
    /// When it fires next (unix ns); `None` when it never will.
    pub next_ns: Option<i64>,
}

/// A storage-event trigger: new objects in `location` whose path matches `glob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTriggerView {
    /// The location as people write it: `s3://bucket`, `gs://bucket`, a folder's path.
    pub location: String,
    pub glob: String,
}

/// A job an automation submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationJob {
    pub id: String,
    pub state: JobState,
    /// The tick it was submitted for, or its new object's time (unix ns).
    pub trigger_ns: i64,
}

/// How many of an automation's latest jobs the page lists.
pub const AUTOMATION_JOBS: u32 = 10;

impl AutomationView {
    /// The soonest next run over its triggers.
    pub fn next_run_ns(&self) -> Option<i64> {
        self.triggers.iter().filter_map(|t| t.next_ns).min()
    }
}
