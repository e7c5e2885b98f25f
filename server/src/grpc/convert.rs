//! Wire ↔ store conversions: errors, ids, times, trace parents, jobs and claimed tasks; task
//! submissions and OTLP records in their own modules.

mod otlp;
mod submissions;

use app::model::JobState;
use tonic::Status;
use uuid::Uuid;

use super::proto::tilebox::v1 as tilebox;
use super::proto::workflows::v1 as wf;
use crate::store::workflow::{ClaimedTask, Progress, TaskState, WorkflowJob};
use crate::store::{SpanId, StoreError, TraceId};

pub use otlp::{resource_logs, resource_spans};
pub use submissions::{legacy_task_specs, task_specs};

pub fn status(error: StoreError) -> Status {
    match error {
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::InvalidArgument(message) => Status::invalid_argument(message),
        StoreError::InvalidCursor => Status::invalid_argument("invalid page cursor"),
        StoreError::Conflict(message) => Status::already_exists(message),
        StoreError::Busy => Status::unavailable("the store is busy, try again"),
        other => {
            tracing::error!(error = %other, "workflow request failed");
            Status::internal("internal error; see the server log")
        }
    }
}

pub fn id(uuid: Uuid) -> tilebox::Id {
    tilebox::Id {
        uuid: uuid.as_bytes().to_vec(),
    }
}

/// A required id: absent or malformed is an invalid argument naming the field.
pub fn uuid_of(id: Option<&tilebox::Id>, field: &str) -> Result<Uuid, Status> {
    let bytes = id.map(|id| id.uuid.as_slice()).unwrap_or_default();
    Uuid::from_slice(bytes)
        .ok()
        .filter(|uuid| !uuid.is_nil())
        .ok_or_else(|| Status::invalid_argument(format!("{field} must be a 16-byte UUID")))
}

/// An optional id: absent or empty means none.
pub fn optional_uuid(id: Option<&tilebox::Id>) -> Option<Uuid> {
    id.and_then(|id| Uuid::from_slice(&id.uuid).ok())
        .filter(|uuid| !uuid.is_nil())
}

/// Nanoseconds as protobuf's (seconds, nanos) pair, nanos always in 0..1e9.
fn split_ns(ns: i64) -> (i64, i32) {
    (
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as i32,
    )
}

fn join_ns(seconds: i64, nanos: i32) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(nanos))
}

pub fn timestamp(ns: i64) -> prost_types::Timestamp {
    let (seconds, nanos) = split_ns(ns);
    prost_types::Timestamp { seconds, nanos }
}

pub fn timestamp_ns(ts: &prost_types::Timestamp) -> i64 {
    join_ns(ts.seconds, ts.nanos)
}

pub fn duration(ns: i64) -> prost_types::Duration {
    let (seconds, nanos) = split_ns(ns);
    prost_types::Duration { seconds, nanos }
}

pub fn duration_ns(d: &prost_types::Duration) -> i64 {
    join_ns(d.seconds, d.nanos)
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, any flags).
pub fn trace_id_of(trace_parent: &str) -> Option<TraceId> {
    let mut parts = trace_parent.trim().split('-');
    let (_version, trace, span, _flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    SpanId::parse_hex(span)?;
    TraceId::parse_hex(trace)
}

/// A fresh traceparent for jobs submitted without one (sampled).
pub fn new_trace_parent() -> (String, TraceId) {
    TraceId::new_parent()
}

pub fn job_state(state: JobState) -> wf::JobState {
    match state {
        JobState::Submitted => wf::JobState::Submitted,
        JobState::Running => wf::JobState::Running,
        JobState::Started => wf::JobState::Started,
        JobState::Completed => wf::JobState::Completed,
        JobState::Failed => wf::JobState::Failed,
        JobState::Canceled => wf::JobState::Canceled,
    }
}

pub fn job_state_from_wire(state: i32) -> Option<JobState> {
    Some(match wf::JobState::try_from(state).ok()? {
        wf::JobState::Submitted => JobState::Submitted,
        wf::JobState::Running => JobState::Running,
        wf::JobState::Started => JobState::Started,
        wf::JobState::Completed => JobState::Completed,
        wf::JobState::Failed => JobState::Failed,
        wf::JobState::Canceled => JobState::Canceled,
        wf::JobState::Unspecified => return None,
    })
}

fn legacy_state(state: JobState) -> wf::LegacyJobState {
    match state {
        JobState::Submitted => wf::LegacyJobState::Queued,
        JobState::Running | JobState::Started => wf::LegacyJobState::Started,
        JobState::Completed => wf::LegacyJobState::Completed,
        JobState::Failed | JobState::Canceled => wf::LegacyJobState::Unspecified,
    }
}

/// Progress a task reports; counts beyond `i64` become `i64::MAX`, which the store refuses
/// with a clear message.
pub fn progress_reports(updates: &[wf::Progress]) -> Vec<Progress> {
    updates
        .iter()
        .map(|update| Progress {
            label: update.label.clone(),
            total: i64::try_from(update.total).unwrap_or(i64::MAX),
            done: i64::try_from(update.done).unwrap_or(i64::MAX),
        })
        .collect()
}

pub fn job(job: &WorkflowJob) -> wf::Job {
    let finished = matches!(
        job.state,
        JobState::Completed | JobState::Failed | JobState::Canceled
    );
    let elapsed = match (job.first_started_ns, job.last_stopped_ns) {
        (Some(start), Some(stop)) => (stop - start).max(0),
        _ => 0,
    };
    let tasks_by_state = TaskState::ALL
        .into_iter()
        .map(|state| (state, state.count_in(&job.counts)))
        .filter(|(_, count)| *count > 0)
        .map(|(state, count)| wf::TaskStateCount {
            state: state.code(),
            count: count as u64,
        })
        .collect();
    wf::Job {
        id: Some(id(job.id)),
        name: job.name.clone(),
        trace_parent: job.trace_parent.clone(),
        canceled: job.canceled,
        legacy_state: legacy_state(job.state) as i32,
        submitted_at: Some(timestamp(job.submitted_ns)),
        started_at: job.first_started_ns.map(timestamp),
        automation_id: job.automation_id.map(id),
        progress: job
            .progress
            .iter()
            .map(|indicator| wf::Progress {
                label: indicator.label.clone(),
                total: u64::try_from(indicator.total).unwrap_or_default(),
                done: u64::try_from(indicator.done).unwrap_or_default(),
            })
            .collect(),
        state: job_state(job.state) as i32,
        execution_stats: Some(wf::ExecutionStats {
            first_task_started_at: job.first_started_ns.map(timestamp),
            last_task_stopped_at: job.last_stopped_ns.filter(|_| finished).map(timestamp),
            compute_time: Some(duration(job.compute_ns)),
            elapsed_time: Some(duration(elapsed)),
            parallelism: if elapsed > 0 {
                job.compute_ns as f64 / elapsed as f64
            } else {
                0.0
            },
            total_tasks: job.counts.total() as u64,
            tasks_by_state,
        }),
    }
}

/// Whole seconds, at least one: the client reads lease durations in seconds.
pub fn lease(lease_ns: i64) -> wf::TaskLease {
    let seconds = (lease_ns / 1_000_000_000).max(1);
    wf::TaskLease {
        lease: Some(duration(seconds * 1_000_000_000)),
        recommended_wait_until_next_extension: Some(duration((seconds / 2).max(1) * 1_000_000_000)),
    }
}

pub fn claimed_task(task: ClaimedTask) -> wf::Task {
    wf::Task {
        id: Some(id(task.id)),
        identifier: Some(wf::TaskIdentifier {
            name: task.identifier.0,
            version: task.identifier.1,
        }),
        state: TaskState::Running.code(),
        input: Some(task.input),
        display: Some(task.display),
        job: Some(wf::Job {
            id: Some(id(task.job_id)),
            name: task.job_name,
            trace_parent: task.job_trace_parent,
            automation_id: task.automation_id.map(id),
            ..wf::Job::default()
        }),
        parent_id: task.parent_id.map(id),
        depends_on: task.depends_on.into_iter().map(id).collect(),
        lease: Some(lease(task.lease_ns)),
        retry_count: task.retry_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_trace_parent_with_any_flags() {
        let parent = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-03";
        assert_eq!(
            trace_id_of(parent).map(|t| t.to_string()).as_deref(),
            Some("5b8efff798038103d269b633813fc60c")
        );
        assert_eq!(trace_id_of("garbage"), None);
        assert_eq!(
            trace_id_of("00-00000000000000000000000000000000-eee19b7ec3c1b174-01"),
            None
        );
        let (fresh, trace) = new_trace_parent();
        assert_eq!(trace_id_of(&fresh), Some(trace));
    }

    proptest::proptest! {
        #[test]
        fn test_any_traceparent_is_read_or_refused(text in ".{0,80}") {
            let _ = trace_id_of(&text);
        }

        #[test]
        fn test_well_formed_traceparents_name_their_trace(
            trace in "[0-9a-f]{32}",
            span in "[0-9a-f]{16}",
            flags in "[0-9a-f]{2}",
        ) {
            let parent = format!("00-{trace}-{span}-{flags}");
            let valid = trace.bytes().any(|b| b != b'0') && span.bytes().any(|b| b != b'0');
            let read = trace_id_of(&parent).map(|t| t.to_string());
            proptest::prop_assert_eq!(read, valid.then_some(trace));
        }
    }
}
