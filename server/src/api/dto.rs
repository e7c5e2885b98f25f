//! The REST API's JSON shapes: the Tilebox client's column names, RFC 3339 times with
//! nanoseconds, durations in seconds, and the raw unix nanoseconds beside them.

use app::model::{Attributes, Job, JobVersion, LogRecord, Span, SpanEvent};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

fn rfc3339(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

#[derive(Debug, Serialize)]
pub struct ApiJob {
    pub id: String,
    pub name: String,
    pub trace_id: String,
    pub start_time: String,
    pub end_time: String,
    pub duration: f64,
    pub start_time_unix_nano: i64,
    pub services: Vec<String>,
    /// `state`, `span_count`, `error_count`, `end_time_unix_nano` and `tasks` (workflow jobs:
    /// tasks by state and the clusters they run on; `null` for trace-only jobs): what the live
    /// stream's job events tell the page.
    #[serde(flatten)]
    pub version: JobVersion,
}

impl From<&Job> for ApiJob {
    fn from(job: &Job) -> Self {
        ApiJob {
            id: job.id.clone(),
            name: job.name.clone(),
            trace_id: job.trace_id.clone(),
            start_time: rfc3339(job.start_ns),
            end_time: rfc3339(job.end_ns),
            duration: seconds(job.duration_ns()),
            start_time_unix_nano: job.start_ns,
            services: job.services.clone(),
            version: JobVersion::from(job),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ApiEvent {
    pub name: String,
    pub time: String,
    pub time_unix_nano: i64,
    pub attributes: Attributes,
}

impl From<&SpanEvent> for ApiEvent {
    fn from(event: &SpanEvent) -> Self {
        ApiEvent {
            name: event.name.clone(),
            time: rfc3339(event.time_ns),
            time_unix_nano: event.time_ns,
            attributes: event.attributes.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ApiSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: i32,
    pub start_time: String,
    pub end_time: String,
    pub duration: f64,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    pub status_code: &'static str,
    pub status_message: String,
    pub attributes: Attributes,
    pub runner_attributes: Attributes,
    pub events: Vec<ApiEvent>,
}

impl From<&Span> for ApiSpan {
    fn from(span: &Span) -> Self {
        ApiSpan {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            name: span.name.clone(),
            kind: span.kind,
            start_time: rfc3339(span.start_ns),
            end_time: rfc3339(span.end_ns),
            duration: seconds(span.duration_ns()),
            start_time_unix_nano: span.start_ns,
            end_time_unix_nano: span.end_ns,
            status_code: span.status_code.as_str(),
            status_message: span.status_message.clone(),
            attributes: span.attributes.clone(),
            runner_attributes: span.resource.clone(),
            events: span.events.iter().map(ApiEvent::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ApiLog {
    pub time: String,
    pub time_unix_nano: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Attributes,
    pub runner_attributes: Attributes,
    /// The job the record belongs to (by its trace); `null` outside any job.
    pub job_id: Option<String>,
    pub job_name: Option<String>,
}

impl ApiLog {
    pub fn of(log: &LogRecord, job: Option<&Job>) -> Self {
        ApiLog {
            job_id: job.map(|j| j.id.clone()),
            job_name: job.map(|j| j.name.clone()),
            time: rfc3339(log.time_ns),
            time_unix_nano: log.time_ns,
            severity_number: log.severity_number,
            severity_text: log.severity_text.clone(),
            body: log.body.clone(),
            trace_id: log.trace_id.clone(),
            span_id: log.span_id.clone(),
            attributes: log.attributes.clone(),
            runner_attributes: log.resource.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use app::model::{JobState, TaskSummary};

    use super::*;

    #[test]
    fn test_the_job_json_carries_the_version_the_live_page_reads() {
        let job = Job {
            id: "0190f0c4-0000-7000-8000-000000000001".to_owned(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".to_owned(),
            name: "ingest".to_owned(),
            state: JobState::Running,
            start_ns: 1_000,
            end_ns: 5_000,
            span_count: 7,
            error_count: 1,
            services: vec!["runner".to_owned()],
            tasks: Some(TaskSummary {
                running: 2,
                ..TaskSummary::default()
            }),
        };
        let json = serde_json::to_value(ApiJob::from(&job)).expect("serializable");
        assert_eq!(json["state"], "RUNNING");
        assert_eq!(json["end_time_unix_nano"], 5_000);
        let version: JobVersion = serde_json::from_value(json).expect("a job event is a version");
        assert_eq!(version, JobVersion::from(&job));
    }
}
