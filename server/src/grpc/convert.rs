//! Wire ↔ store conversions: ids, times, task submissions, jobs, tasks, OTLP records.

use app::model::{Attributes, JobState, LogRecord, Span};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1 as otlp_logs;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;
use serde_json::Value;
use tonic::Status;
use uuid::Uuid;

use super::proto::tilebox::v1 as tilebox;
use super::proto::workflows::v1 as wf;
use crate::store::workflow::{ClaimedTask, TaskSpec, TaskState, WorkflowJob};
use crate::store::{SpanId, StoreError, TraceId};

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
    let trace = *Uuid::new_v4().as_bytes();
    let span = Uuid::new_v4();
    (
        format!(
            "00-{}-{}-01",
            hex::encode(trace),
            hex::encode(&span.as_bytes()[..8])
        ),
        TraceId(trace),
    )
}

/// Most tasks one submission (a job or a task's subtasks) may carry.
const MAX_TASKS: usize = 100_000;
/// Most dependency edges one submission may carry.
const MAX_DEPENDENCIES: usize = 2_000_000;

/// Flattens the column-encoded `TaskSubmissions` into one spec per task. Every task of a group
/// depends on every task of the groups it lists.
pub fn task_specs(submissions: &wf::TaskSubmissions) -> Result<Vec<TaskSpec>, Status> {
    let invalid = |what: &str| Status::invalid_argument(format!("task submission: {what}"));
    let mut first_index = Vec::with_capacity(submissions.task_groups.len());
    let mut total = 0usize;
    for group in &submissions.task_groups {
        first_index.push(total);
        total += group.inputs.len();
    }
    if total > MAX_TASKS {
        return Err(invalid(&format!(
            "more than {MAX_TASKS} tasks in one submission"
        )));
    }
    // Every task of a group depends on every task of the groups it names: count the edges
    // before materialising them, so a small request cannot ask for billions.
    let mut edges = 0usize;
    for group in &submissions.task_groups {
        let mut groups = group.dependencies_on_other_groups.clone();
        groups.sort_unstable();
        groups.dedup();
        let per_task: usize = groups
            .iter()
            .filter_map(|&g| submissions.task_groups.get(g as usize))
            .map(|g| g.inputs.len())
            .sum();
        edges = edges.saturating_add(per_task.saturating_mul(group.inputs.len()));
    }
    if edges > MAX_DEPENDENCIES {
        return Err(invalid(&format!(
            "more than {MAX_DEPENDENCIES} task dependencies in one submission"
        )));
    }
    let mut specs = Vec::with_capacity(total);
    for group in &submissions.task_groups {
        let mut depends_on = Vec::new();
        let mut groups = group.dependencies_on_other_groups.clone();
        groups.sort_unstable();
        groups.dedup();
        for dependency in groups {
            let dependency = dependency as usize;
            let dep_group = submissions
                .task_groups
                .get(dependency)
                .ok_or_else(|| invalid("dependency on a group that does not exist"))?;
            let start = first_index[dependency];
            depends_on.extend(start..start + dep_group.inputs.len());
        }
        for (i, input) in group.inputs.iter().enumerate() {
            let pointer = |values: &[u64], what: &str| -> Result<usize, Status> {
                values
                    .get(i)
                    .map(|&p| p as usize)
                    .ok_or_else(|| invalid(&format!("missing {what} pointer")))
            };
            let identifier = submissions
                .identifier_lookup
                .get(pointer(&group.identifier_pointers, "identifier")?)
                .ok_or_else(|| invalid("identifier pointer out of range"))?;
            let cluster_slug = match group.cluster_slug_pointers.get(i) {
                Some(&p) => submissions
                    .cluster_slug_lookup
                    .get(p as usize)
                    .cloned()
                    .ok_or_else(|| invalid("cluster pointer out of range"))?,
                None => String::new(),
            };
            let display = match group.display_pointers.get(i) {
                Some(&p) => submissions
                    .display_lookup
                    .get(p as usize)
                    .cloned()
                    .ok_or_else(|| invalid("display pointer out of range"))?,
                None => identifier.name.clone(),
            };
            if identifier.name.is_empty() {
                return Err(invalid("task identifier name must not be empty"));
            }
            specs.push(TaskSpec {
                identifier_name: identifier.name.clone(),
                identifier_version: identifier.version.clone(),
                display,
                input: input.clone(),
                cluster_slug,
                max_retries: group.max_retries_values.get(i).copied().unwrap_or(0),
                optional: group.optional_values.get(i).copied().unwrap_or(false),
                depends_on: depends_on.clone(),
            });
        }
    }
    Ok(specs)
}

/// The older one-message-per-task form; dependencies are indices into the list.
pub fn legacy_task_specs(tasks: &[wf::SingleTaskSubmission]) -> Result<Vec<TaskSpec>, Status> {
    if tasks.len() > MAX_TASKS {
        return Err(Status::invalid_argument(format!(
            "task submission: more than {MAX_TASKS} tasks in one submission"
        )));
    }
    let edges: usize = tasks.iter().map(|t| t.dependencies.len()).sum();
    if edges > MAX_DEPENDENCIES {
        return Err(Status::invalid_argument(format!(
            "task submission: more than {MAX_DEPENDENCIES} task dependencies"
        )));
    }
    tasks
        .iter()
        .map(|task| {
            let identifier = task.identifier.clone().unwrap_or_default();
            let depends_on = task
                .dependencies
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    Status::invalid_argument("task submission: negative dependency index")
                })?;
            Ok(TaskSpec {
                display: if task.display.is_empty() {
                    identifier.name.clone()
                } else {
                    task.display.clone()
                },
                identifier_name: identifier.name,
                identifier_version: identifier.version,
                input: task.input.clone(),
                cluster_slug: task.cluster_slug.clone(),
                max_retries: task.max_retries,
                optional: false,
                depends_on,
            })
        })
        .collect()
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
        automation_id: None,
        progress: Vec::new(),
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
            ..wf::Job::default()
        }),
        parent_id: task.parent_id.map(id),
        depends_on: task.depends_on.into_iter().map(id).collect(),
        lease: Some(lease(task.lease_ns)),
        retry_count: task.retry_count,
    }
}

/// A JSON attribute value back to OTLP: integers stay integers, objects become key-value lists.
fn any_value(value: &Value) -> AnyValue {
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
        Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect(),
        })),
        Value::Object(map) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: key_values(map),
        })),
    };
    AnyValue { value }
}

fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(any_value(value)),
            ..KeyValue::default()
        })
        .collect()
}

fn resource(attributes: &Attributes) -> Resource {
    Resource {
        attributes: key_values(attributes),
        ..Resource::default()
    }
}

fn bytes_of_hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_default()
}

/// One span in its own `ResourceSpans`: the client reads only the first span of each.
pub fn resource_spans(span: &Span) -> otlp_trace::ResourceSpans {
    let status_code = span.status_code.code();
    otlp_trace::ResourceSpans {
        resource: Some(resource(&span.resource)),
        scope_spans: vec![otlp_trace::ScopeSpans {
            scope: Some(InstrumentationScope {
                name: span.scope_name.clone(),
                version: span.scope_version.clone(),
                ..InstrumentationScope::default()
            }),
            spans: vec![otlp_trace::Span {
                trace_id: bytes_of_hex(&span.trace_id),
                span_id: bytes_of_hex(&span.span_id),
                parent_span_id: span
                    .parent_span_id
                    .as_deref()
                    .map(bytes_of_hex)
                    .unwrap_or_default(),
                name: span.name.clone(),
                kind: span.kind,
                start_time_unix_nano: span.start_ns.max(0) as u64,
                end_time_unix_nano: span.end_ns.max(0) as u64,
                attributes: key_values(&span.attributes),
                events: span
                    .events
                    .iter()
                    .map(|event| otlp_trace::span::Event {
                        time_unix_nano: event.time_ns.max(0) as u64,
                        name: event.name.clone(),
                        attributes: key_values(&event.attributes),
                        dropped_attributes_count: 0,
                    })
                    .collect(),
                status: Some(otlp_trace::Status {
                    code: status_code,
                    message: span.status_message.clone(),
                }),
                ..otlp_trace::Span::default()
            }],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// One log record in its own `ResourceLogs`.
pub fn resource_logs(log: &LogRecord) -> otlp_logs::ResourceLogs {
    otlp_logs::ResourceLogs {
        resource: Some(resource(&log.resource)),
        scope_logs: vec![otlp_logs::ScopeLogs {
            scope: None,
            log_records: vec![otlp_logs::LogRecord {
                time_unix_nano: log.time_ns.max(0) as u64,
                observed_time_unix_nano: log.time_ns.max(0) as u64,
                severity_number: log.severity_number,
                severity_text: log.severity_text.clone(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(log.body.clone())),
                }),
                attributes: key_values(&log.attributes),
                trace_id: log
                    .trace_id
                    .as_deref()
                    .map(bytes_of_hex)
                    .unwrap_or_default(),
                span_id: log.span_id.as_deref().map(bytes_of_hex).unwrap_or_default(),
                ..otlp_logs::LogRecord::default()
            }],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
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

    #[test]
    fn test_grouped_submission_flattens_with_dependencies() {
        let submissions = wf::TaskSubmissions {
            task_groups: vec![
                wf::TaskSubmissionGroup {
                    inputs: vec![b"1".to_vec(), b"2".to_vec()],
                    identifier_pointers: vec![0, 0],
                    cluster_slug_pointers: vec![0, 0],
                    display_pointers: vec![0, 0],
                    max_retries_values: vec![2, 0],
                    optional_values: vec![false, true],
                    dependencies_on_other_groups: vec![],
                },
                wf::TaskSubmissionGroup {
                    inputs: vec![Vec::new()],
                    identifier_pointers: vec![1],
                    cluster_slug_pointers: vec![0],
                    display_pointers: vec![1],
                    max_retries_values: vec![0],
                    optional_values: vec![false],
                    dependencies_on_other_groups: vec![0],
                },
            ],
            cluster_slug_lookup: vec![String::new()],
            identifier_lookup: vec![
                wf::TaskIdentifier {
                    name: "Tile".into(),
                    version: "v1.0".into(),
                },
                wf::TaskIdentifier {
                    name: "Merge".into(),
                    version: "v0.0".into(),
                },
            ],
            display_lookup: vec!["Tile".into(), "Merge".into()],
        };
        let specs = task_specs(&submissions).unwrap_or_default();
        assert_eq!(specs.len(), 3);
        assert_eq!((specs[0].max_retries, specs[1].optional), (2, true));
        assert_eq!(specs[2].identifier_name, "Merge");
        assert_eq!(specs[2].depends_on, vec![0, 1]);
        let mut broken = submissions;
        broken.task_groups[1].identifier_pointers = vec![7];
        assert!(task_specs(&broken).is_err());
    }

    #[test]
    fn test_submission_with_too_many_dependencies_is_rejected_before_allocating() {
        let group = |inputs: usize, deps: Vec<u32>| wf::TaskSubmissionGroup {
            inputs: vec![Vec::new(); inputs],
            identifier_pointers: vec![0; inputs],
            dependencies_on_other_groups: deps,
            ..wf::TaskSubmissionGroup::default()
        };
        let submissions = wf::TaskSubmissions {
            task_groups: vec![group(50_000, vec![]), group(50_000, vec![0, 0, 0])],
            identifier_lookup: vec![wf::TaskIdentifier {
                name: "T".into(),
                version: "v0.0".into(),
            }],
            ..wf::TaskSubmissions::default()
        };
        let error = task_specs(&submissions).err().map(|e| e.code());
        assert_eq!(error, Some(tonic::Code::InvalidArgument));
    }

    #[test]
    fn test_negative_legacy_dependency_is_rejected() {
        let task = wf::SingleTaskSubmission {
            dependencies: vec![-1],
            ..wf::SingleTaskSubmission::default()
        };
        assert!(legacy_task_specs(&[task]).is_err());
    }

    #[test]
    fn test_json_attributes_back_to_otlp_keep_types() {
        let value =
            serde_json::json!({"n": 3, "x": 0.5, "s": "a", "b": true, "l": [1], "m": {"k": "v"}});
        let attributes = value.as_object().cloned().unwrap_or_default();
        let kvs = key_values(&attributes);
        let get = |k: &str| {
            kvs.iter()
                .find(|kv| kv.key == k)
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(get("n"), Some(any_value::Value::IntValue(3)));
        assert_eq!(get("x"), Some(any_value::Value::DoubleValue(0.5)));
        assert!(matches!(get("m"), Some(any_value::Value::KvlistValue(_))));
    }
}
