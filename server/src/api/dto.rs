//! The REST API's JSON shapes: the Tilebox client's column names, RFC 3339 times with
//! nanoseconds, durations in seconds, and the raw unix nanoseconds beside them.

use app::model::{Attributes, Job, JobVersion, LogRecord, Span, SpanEvent, StatusCode};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use crate::store::{SpanRow, StoreError};

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

/// A page of [`ApiSpan`]s and its cursor as JSON, written straight from the stored rows: the
/// attribute and resource columns are copied as the store holds them (JSON objects written by
/// ingest) instead of being parsed into maps and written again. A 10,000-span page took about
/// 300 ms through `ApiSpan` and `serde_json::Value` (allocations and frees were most of it).
pub fn spans_page_json(rows: &[SpanRow], next_cursor: Option<&str>) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(64 + rows.iter().map(row_size).sum::<usize>());
    out.extend_from_slice(b"{\"spans\":[");
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_span(&mut out, row)?;
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    write_json(&mut out, &next_cursor);
    out.push(b'}');
    Ok(out)
}

/// About how many bytes a span takes as JSON.
fn row_size(row: &SpanRow) -> usize {
    420 + row.name.len()
        + row.status_message.len()
        + row.attributes.len()
        + row.resource.len()
        + row.events.len() * 2
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string, number or option into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0xf)]);
    }
    out.push(b'"');
}

/// A stored JSON object column, checked to be one before it is copied into the answer.
fn write_object(out: &mut Vec<u8>, what: &str, text: &str) -> Result<(), StoreError> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return Err(StoreError::Corrupt(format!("{what} is not a JSON object")));
    }
    out.extend_from_slice(trimmed.as_bytes());
    Ok(())
}

/// A stored event: its attributes are copied as they are, like the span's.
#[derive(serde::Deserialize)]
struct StoredEvent<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    time_ns: i64,
    #[serde(borrow)]
    attributes: &'a serde_json::value::RawValue,
}

/// One [`ApiSpan`], its fields in the same order.
fn write_span(out: &mut Vec<u8>, row: &SpanRow) -> Result<(), StoreError> {
    out.extend_from_slice(b"{\"trace_id\":");
    write_hex(out, &row.trace_id);
    out.extend_from_slice(b",\"span_id\":");
    write_hex(out, &row.span_id);
    out.extend_from_slice(b",\"parent_span_id\":");
    match &row.parent_span_id {
        Some(parent) => write_hex(out, parent),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"name\":");
    write_json(out, &row.name);
    out.extend_from_slice(b",\"kind\":");
    write_json(out, &row.kind);
    out.extend_from_slice(b",\"start_time\":");
    write_json(out, &rfc3339(row.start_ns));
    out.extend_from_slice(b",\"end_time\":");
    write_json(out, &rfc3339(row.end_ns));
    out.extend_from_slice(b",\"duration\":");
    write_json(
        out,
        &seconds(row.end_ns.saturating_sub(row.start_ns).max(0)),
    );
    out.extend_from_slice(b",\"start_time_unix_nano\":");
    write_json(out, &row.start_ns);
    out.extend_from_slice(b",\"end_time_unix_nano\":");
    write_json(out, &row.end_ns);
    out.extend_from_slice(b",\"status_code\":");
    write_json(out, StatusCode::from_code(row.status_code).as_str());
    out.extend_from_slice(b",\"status_message\":");
    write_json(out, &row.status_message);
    out.extend_from_slice(b",\"attributes\":");
    write_object(out, "span attributes", &row.attributes)?;
    out.extend_from_slice(b",\"runner_attributes\":");
    write_object(out, "resource attributes", &row.resource)?;
    out.extend_from_slice(b",\"events\":[");
    if row.events.trim() != "[]" {
        let events: Vec<StoredEvent<'_>> = serde_json::from_str(&row.events)
            .map_err(|e| StoreError::Corrupt(format!("span events: {e}")))?;
        for (index, event) in events.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            write_json(out, &*event.name);
            out.extend_from_slice(b",\"time\":");
            write_json(out, &rfc3339(event.time_ns));
            out.extend_from_slice(b",\"time_unix_nano\":");
            write_json(out, &event.time_ns);
            out.extend_from_slice(b",\"attributes\":");
            write_object(out, "event attributes", event.attributes.get())?;
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"]}");
    Ok(())
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
    fn test_a_span_page_written_from_rows_is_the_api_span_json() {
        let row = |n: u8, events: &str| SpanRow {
            trace_id: vec![n; 16],
            span_id: vec![n; 8],
            parent_span_id: (n > 1).then(|| vec![1; 8]),
            name: format!("task/\"quoted\" \u{1} é {n}"),
            kind: 1,
            start_ns: 1_700_000_000_123_456_789,
            end_ns: 1_700_000_001_000_000_000,
            status_code: i32::from(n),
            status_message: "tile \\ failed".to_owned(),
            attributes: r#"{"tile":7,"nested":{"a":[1,2.5,null,true]},"s":"<b>"}"#.to_owned(),
            events: events.to_owned(),
            resource: r#"{"service.name":"runner","host.name":"h"}"#.to_owned(),
            scope_name: String::new(),
            scope_version: String::new(),
        };
        let rows = vec![
            row(1, "[]"),
            row(
                2,
                r#"[{"name":"exception","time_ns":1700000000500000000,"attributes":{"exception.type":"ValueError"}},{"name":"e2","time_ns":1,"attributes":{}}]"#,
            ),
        ];
        for cursor in [None, Some("abc")] {
            let written = spans_page_json(&rows, cursor).expect("valid rows");
            let written: serde_json::Value = serde_json::from_slice(&written).expect("valid JSON");
            let spans: Vec<ApiSpan> = rows
                .iter()
                .map(|row| ApiSpan::from(&row.clone().into_model().expect("parses")))
                .collect();
            assert_eq!(
                written,
                serde_json::json!({ "spans": spans, "next_cursor": cursor })
            );
        }
        let corrupt = SpanRow {
            attributes: "not json".to_owned(),
            ..row(1, "[]")
        };
        assert!(spans_page_json(&[corrupt], None).is_err());
    }

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
