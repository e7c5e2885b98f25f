//! Database rows, their conversion to the shared model, and how a batch of spans updates its job.

use std::collections::{BTreeMap, BTreeSet};

use app::model::{Attributes, Job, JobState, LogRecord, Span, SpanEvent, StatusCode};

use super::{NewSpan, StoreError, TraceId};

/// Spans named `job/<name>` are the job's own span; the job is called `<name>`.
const JOB_SPAN_PREFIX: &str = "job/";

/// How the job got its name: from its earliest span until the root span arrives.
pub(super) const NAME_FROM_EARLIEST: i32 = 0;
pub(super) const NAME_FROM_ROOT: i32 = 1;

/// Jobs known only from their trace; workflow jobs (submitted through the workflow API) keep
/// the state the workflow engine gives them.
pub(super) const KIND_TRACE: i32 = 0;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(super) struct JobRow {
    pub id: Vec<u8>,
    pub trace_id: Vec<u8>,
    pub kind: i32,
    pub name: String,
    pub name_source: i32,
    pub root_status: Option<i32>,
    pub state: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: String,
}

impl JobRow {
    pub fn into_model(self) -> Result<Job, StoreError> {
        let state = JobState::from_code(self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("job state {}", self.state)))?;
        let services: Vec<String> = serde_json::from_str(&self.services)
            .map_err(|e| StoreError::Corrupt(format!("job services: {e}")))?;
        Ok(Job {
            id: uuid_text(&self.id)?,
            trace_id: hex::encode(&self.trace_id),
            name: self.name,
            state,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            span_count: self.span_count,
            error_count: self.error_count,
            services,
        })
    }
}

fn uuid_text(bytes: &[u8]) -> Result<String, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map(|uuid| uuid.to_string())
        .map_err(|e| StoreError::Corrupt(format!("job id: {e}")))
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct SpanRow {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub parent_span_id: Option<Vec<u8>>,
    pub name: String,
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i32,
    pub status_message: String,
    pub attributes: String,
    pub events: String,
    pub resource: String,
    pub scope_name: String,
    pub scope_version: String,
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl SpanRow {
    pub fn into_model(self) -> Result<Span, StoreError> {
        let events: Vec<SpanEvent> = parse_json("span events", &self.events)?;
        Ok(Span {
            trace_id: hex::encode(&self.trace_id),
            span_id: hex::encode(&self.span_id),
            parent_span_id: self.parent_span_id.as_deref().map(hex::encode),
            name: self.name,
            kind: self.kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            status_code: StatusCode::from_code(self.status_code),
            status_message: self.status_message,
            attributes: parse_json::<Attributes>("span attributes", &self.attributes)?,
            events,
            resource: parse_json::<Attributes>("resource attributes", &self.resource)?,
            scope_name: self.scope_name,
            scope_version: self.scope_version,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct LogRow {
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
    pub time_ns: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub attributes: String,
    pub resource: String,
}

impl LogRow {
    pub fn into_model(self) -> Result<LogRecord, StoreError> {
        Ok(LogRecord {
            time_ns: self.time_ns,
            severity_number: self.severity_number,
            severity_text: self.severity_text,
            body: self.body,
            trace_id: self.trace_id.as_deref().map(hex::encode),
            span_id: self.span_id.as_deref().map(hex::encode),
            attributes: parse_json::<Attributes>("log attributes", &self.attributes)?,
            resource: parse_json::<Attributes>("resource attributes", &self.resource)?,
        })
    }
}

/// What the spans newly stored for one trace add to its job.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TraceDelta {
    pub spans: i64,
    pub errors: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub services: BTreeSet<String>,
    /// Name and start of the earliest new span.
    pub earliest: Option<(i64, String)>,
    /// Name and status of the root span, if it is among the new spans.
    pub root: Option<(String, i32)>,
}

/// Groups newly stored spans by trace.
pub(super) fn deltas<'a>(
    spans: impl IntoIterator<Item = &'a NewSpan>,
) -> BTreeMap<TraceId, TraceDelta> {
    let mut by_trace: BTreeMap<TraceId, TraceDelta> = BTreeMap::new();
    for span in spans {
        let delta = by_trace.entry(span.trace_id).or_insert_with(|| TraceDelta {
            start_ns: i64::MAX,
            end_ns: i64::MIN,
            ..TraceDelta::default()
        });
        delta.spans += 1;
        if span.status_code == StatusCode::Error.code() {
            delta.errors += 1;
        }
        delta.start_ns = delta.start_ns.min(span.start_ns);
        delta.end_ns = delta.end_ns.max(span.end_ns);
        if !span.service_name.is_empty() {
            delta.services.insert(span.service_name.clone());
        }
        if delta
            .earliest
            .as_ref()
            .is_none_or(|(start, _)| span.start_ns < *start)
        {
            delta.earliest = Some((span.start_ns, span.name.clone()));
        }
        if span.parent_span_id.is_none() {
            delta.root = Some((span.name.clone(), span.status_code));
        }
    }
    by_trace
}

fn job_name(span_name: &str) -> String {
    span_name
        .strip_prefix(JOB_SPAN_PREFIX)
        .unwrap_or(span_name)
        .to_owned()
}

/// The job row after `delta` is applied to `existing` (or a new job for an unseen trace).
/// The state is left for [`derive_state`] once unresolved failures are known.
pub(super) fn merge_job(trace_id: TraceId, existing: Option<JobRow>, delta: &TraceDelta) -> JobRow {
    let mut job = existing.unwrap_or_else(|| JobRow {
        // A trace-only job's UUID is its trace id's 16 bytes.
        id: trace_id.0.to_vec(),
        trace_id: trace_id.0.to_vec(),
        kind: KIND_TRACE,
        name: String::new(),
        name_source: NAME_FROM_EARLIEST,
        root_status: None,
        state: JobState::Running.code(),
        start_ns: i64::MAX,
        end_ns: i64::MIN,
        span_count: 0,
        error_count: 0,
        services: "[]".to_owned(),
    });
    let had_spans = job.span_count > 0;
    if job.name_source == NAME_FROM_EARLIEST {
        if let Some((name, status)) = &delta.root {
            job.name = job_name(name);
            job.name_source = NAME_FROM_ROOT;
            job.root_status = Some(*status);
        } else if let Some((start, name)) = &delta.earliest {
            if !had_spans || *start < job.start_ns || job.name.is_empty() {
                job.name = job_name(name);
            }
        }
    } else if let Some((_, status)) = &delta.root {
        job.root_status = Some(*status);
    }
    if had_spans {
        job.start_ns = job.start_ns.min(delta.start_ns);
        job.end_ns = job.end_ns.max(delta.end_ns);
    } else {
        // A workflow job submitted without spans keeps its submission time as start.
        job.start_ns = if job.start_ns == i64::MAX || job.start_ns == 0 {
            delta.start_ns
        } else {
            job.start_ns.min(delta.start_ns)
        };
        job.end_ns = job.end_ns.max(delta.end_ns);
    }
    job.span_count += delta.spans;
    job.error_count += delta.errors;
    let mut services: BTreeSet<String> = serde_json::from_str(&job.services).unwrap_or_default();
    services.extend(delta.services.iter().cloned());
    job.services = serde_json::to_string(&services).unwrap_or_else(|_| "[]".to_owned());
    job
}

/// A trace-only job's state: failed when its root span failed or a task failed and no later
/// attempt of that task succeeded; completed once the root span arrived; running before.
pub(super) fn derive_state(job: &JobRow, unresolved_task_failures: i64) -> JobState {
    if job.root_status == Some(StatusCode::Error.code()) || unresolved_task_failures > 0 {
        JobState::Failed
    } else if job.name_source == NAME_FROM_ROOT {
        JobState::Completed
    } else {
        JobState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpanId;

    fn span(id: u8, parent: Option<u8>, name: &str, start: i64, status: StatusCode) -> NewSpan {
        NewSpan {
            trace_id: TraceId([7; 16]),
            span_id: SpanId([id; 8]),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            name: name.to_owned(),
            kind: 1,
            start_ns: start,
            end_ns: start + 100,
            status_code: status.code(),
            status_message: String::new(),
            attributes_json: "{}".to_owned(),
            events_json: "[]".to_owned(),
            resource_id: 1,
            service_name: format!("svc-{id}"),
            scope_name: String::new(),
            scope_version: String::new(),
            task_key: None,
        }
    }

    fn merged(batches: &[Vec<NewSpan>]) -> JobRow {
        let mut job = None;
        for batch in batches {
            let delta = &deltas(batch)[&TraceId([7; 16])];
            job = Some(merge_job(TraceId([7; 16]), job, delta));
        }
        job.expect("at least one batch")
    }

    #[test]
    fn test_root_span_names_the_job_without_prefix() {
        let job = merged(&[vec![
            span(2, Some(1), "task/ProcessScene", 10, StatusCode::Ok),
            span(1, None, "job/process-scene", 0, StatusCode::Unset),
        ]]);
        assert_eq!(job.name, "process-scene");
        assert_eq!(derive_state(&job, 0), JobState::Completed);
        assert_eq!((job.start_ns, job.end_ns, job.span_count), (0, 110, 2));
    }

    #[test]
    fn test_earliest_span_names_job_until_root_arrives() {
        let first = vec![
            span(3, Some(1), "later", 50, StatusCode::Ok),
            span(2, Some(1), "earlier", 20, StatusCode::Ok),
        ];
        let job = merged(std::slice::from_ref(&first));
        assert_eq!(job.name, "earlier");
        assert_eq!(derive_state(&job, 0), JobState::Running);

        let job = merged(&[
            first.clone(),
            vec![span(4, Some(1), "earliest", 5, StatusCode::Ok)],
        ]);
        assert_eq!(job.name, "earliest");

        let job = merged(&[
            first,
            vec![span(1, None, "job/ingest", 0, StatusCode::Ok)],
            vec![span(5, Some(1), "even-earlier", -5, StatusCode::Ok)],
        ]);
        assert_eq!(job.name, "ingest", "the root's name sticks");
        assert_eq!(job.start_ns, -5);
    }

    #[test]
    fn test_errors_and_services_accumulate() {
        let job = merged(&[
            vec![span(2, Some(1), "a", 0, StatusCode::Error)],
            vec![
                span(3, Some(1), "b", 0, StatusCode::Error),
                span(4, Some(1), "c", 0, StatusCode::Ok),
            ],
        ]);
        assert_eq!(job.error_count, 2);
        assert_eq!(job.services, r#"["svc-2","svc-3","svc-4"]"#);
    }

    #[test]
    fn test_failed_root_or_unresolved_task_fails_job() {
        let job = merged(&[vec![span(1, None, "job/x", 0, StatusCode::Error)]]);
        assert_eq!(derive_state(&job, 0), JobState::Failed);
        let job = merged(&[vec![span(1, None, "job/x", 0, StatusCode::Ok)]]);
        assert_eq!(derive_state(&job, 1), JobState::Failed);
    }
}
