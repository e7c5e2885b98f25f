//! Cron automations run by the server: every [`TICK`] each replica looks for due triggers and
//! fires them (`WorkflowAutomations::fire_trigger`: one job per tick across replicas).
//!
//! A fired trigger submits a job named after its automation, with one task: the automation's
//! task, its input wrapped as the Tilebox client's `CronTask` reads it (`workflows.v1.Automation`
//! with the `TriggeredCronEvent` of the due time and the task's own arguments). Ticks missed
//! while no server ran fire once, for the earliest of them, not once each; the next due time
//! is then the schedule's first after now.

use std::time::Duration;

use prost::Message;

use crate::cron::next_due;
use crate::grpc::proto::workflows::v1 as wf;
use crate::store::workflow::{DueTrigger, NEVER_NS, NewJob, TaskSpec};
use crate::store::{SharedStore, StoreError, TraceId};

/// How often due triggers are looked for: the latest a job starts after its time.
pub const TICK: Duration = Duration::from_secs(1);
/// Triggers fired per look at most (the rest wait for the next).
const BATCH: i64 = 100;

/// Fires due triggers every [`TICK`] for as long as the server runs; a failed round is logged
/// and tried again.
pub fn spawn(store: SharedStore) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = fire_due(&store, crate::now_ns()).await {
                tracing::warn!(%error, "automations: firing due triggers failed, trying again");
            }
        }
    })
}

/// Fires what is due at `now_ns`; how many jobs this call submitted. Only reading what is due
/// can fail the call: a trigger that fails is logged and the others still fire.
pub async fn fire_due(store: &SharedStore, now_ns: i64) -> Result<usize, StoreError> {
    let mut fired = 0;
    for due in store.due_triggers(now_ns, BATCH).await? {
        let next_ns = match next_due(&due.trigger.schedule, now_ns) {
            Some(next) => next,
            None => {
                // Parsed when it was created; a schedule that no longer parses or never fires
                // again is parked far ahead rather than fired on every tick.
                tracing::warn!(schedule = %due.trigger.schedule, "automations: schedule has no next time");
                NEVER_NS
            }
        };
        let job = triggered_job(&due);
        let store = store.clone();
        let submitted = crate::store::to_the_end(async move {
            let fired = store.fire_trigger(&due, next_ns, job, now_ns).await;
            match fired {
                // A job this tick cannot submit (its cluster was deleted since): the tick is
                // passed over, so it does not come first again every second ahead of the rest.
                Err(StoreError::NotFound(what) | StoreError::InvalidArgument(what)) => {
                    tracing::warn!(automation = %due.automation_id, %what, "automations: tick skipped");
                    store.skip_trigger(&due, next_ns).await.map(|_| None)
                }
                other => other,
            }
        })
        .await;
        match submitted {
            Ok(Some(job)) => {
                tracing::info!(job = %job.id, name = %job.name, "automations: cron trigger fired");
                fired += 1;
            }
            Ok(None) => {}
            // One trigger's failure does not hold up the others.
            Err(error) => tracing::warn!(%error, "automations: firing a trigger failed"),
        }
    }
    Ok(fired)
}

/// The job a due trigger submits.
fn triggered_job(due: &DueTrigger) -> NewJob {
    let (trace_parent, trace_id) = TraceId::new_parent();
    let event = wf::TriggeredCronEvent {
        trigger_time: Some(crate::grpc::timestamp(due.trigger.next_ns)),
    };
    let input = wf::Automation {
        trigger_event: event.encode_to_vec(),
        args: due.task.input.clone(),
    };
    NewJob {
        name: due.name.clone(),
        trace_parent,
        trace_id,
        tasks: vec![TaskSpec {
            input: input.encode_to_vec(),
            ..due.task.clone()
        }],
    }
}
