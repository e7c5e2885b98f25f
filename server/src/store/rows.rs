//! Database rows and their conversion to the shared model types.

use std::collections::HashMap;

use app::model::{Attributes, Job, JobState, LogRecord, Span, SpanEvent, SpanOutline, StatusCode};

use super::StoreError;

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
    /// [`FailedTasks`] as JSON.
    pub failed_tasks: String,
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
            tasks: None,
        })
    }
}

fn uuid_text(bytes: &[u8]) -> Result<String, StoreError> {
    super::error::uuid_of(bytes).map(|uuid| uuid.to_string())
}

/// A stored span as its columns hold it: attributes, events and its resource's attributes as
/// JSON text (`span_query::SPAN_SELECT`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SpanRow {
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

/// A stored JSON column parsed, or [`StoreError::Corrupt`] naming `what`.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
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

/// The skeleton columns of spans (an [`OutlineRow`] each).
macro_rules! outline_columns {
    () => {
        "SELECT span_id, parent_span_id, name, start_ns, end_ns, \
        status_code, status_message, service_name, task_key, resource_id, \
        CASE WHEN events = '[]' THEN 0 ELSE 1 END AS has_events FROM spans "
    };
}

/// The skeleton of a trace's spans, `$1` the trace id: SQLite's statement.
pub(super) const OUTLINE_SELECT: &str = concat!(
    outline_columns!(),
    "WHERE trace_id = $1 ORDER BY start_ns, span_id"
);

/// The same for PostgreSQL, written so that only the index `spans_by_trace_start` gives the
/// order without a sort (`span_query::in_trace_order` tells why; run with sorts off).
pub(super) const PG_OUTLINE_SELECT: &str = concat!(
    outline_columns!(),
    "WHERE trace_id >= $1 AND trace_id <= $1 ORDER BY trace_id, start_ns, span_id"
);

/// A span's skeleton columns; its runner comes from its resource ([`OutlineRow::into_model`]).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct OutlineRow {
    pub span_id: Vec<u8>,
    pub parent_span_id: Option<Vec<u8>>,
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i32,
    pub status_message: String,
    pub service_name: String,
    pub task_key: Option<String>,
    pub resource_id: i64,
    pub has_events: i32,
}

impl OutlineRow {
    /// `runners`: `service.instance.id` by resource id.
    pub fn into_model(self, runners: &HashMap<i64, String>) -> SpanOutline {
        SpanOutline {
            span_id: hex::encode(&self.span_id),
            parent_span_id: self.parent_span_id.as_deref().map(hex::encode),
            name: self.name,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            status_code: StatusCode::from_code(self.status_code),
            status_message: self.status_message,
            service: self.service_name,
            runner: runners.get(&self.resource_id).cloned().unwrap_or_default(),
            task_id: self.task_key,
            has_events: self.has_events != 0,
        }
    }
}

/// The runner a stored resource names: `host.name:process.pid` when it has both (the Tilebox
/// client and the OpenTelemetry SDKs' process detectors send them: a process a user can find
/// on a machine), else `service.instance.id` (the Tilebox client's is a per-process UUID),
/// else "".
pub(super) fn runner_of(attributes: &str) -> Result<String, StoreError> {
    let attributes = parse_json::<Attributes>("resource attributes", attributes)?;
    let text = |key: &str| {
        attributes
            .get(key)
            .map(app::model::value_text)
            .filter(|v| !v.is_empty())
    };
    Ok(match (text("host.name"), text("process.pid")) {
        (Some(host), Some(pid)) => format!("{host}:{pid}"),
        _ => text("service.instance.id").unwrap_or_default(),
    })
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct LogRow {
    pub id: i64,
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
    /// The record and its store id (the tie-breaker of log pagination).
    pub fn into_model_with_id(self) -> Result<(i64, LogRecord), StoreError> {
        Ok((
            self.id,
            LogRecord {
                time_ns: self.time_ns,
                severity_number: self.severity_number,
                severity_text: self.severity_text,
                body: self.body,
                trace_id: self.trace_id.as_deref().map(hex::encode),
                span_id: self.span_id.as_deref().map(hex::encode),
                attributes: parse_json::<Attributes>("log attributes", &self.attributes)?,
                resource: parse_json::<Attributes>("resource attributes", &self.resource)?,
            },
        ))
    }
}
