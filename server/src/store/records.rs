//! What the write path hands the store: rows already converted from OTLP, JSON already encoded.

use super::{SpanId, TraceId};

/// A resource (service.name, service.instance.id, …) stored once and shared by its spans and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    /// Stable hash of `attributes_json`, so re-sent resources map to the same row.
    pub id: i64,
    pub attributes_json: String,
    pub service_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i32,
    pub status_message: String,
    pub attributes_json: String,
    pub events_json: String,
    pub resource_id: i64,
    pub service_name: String,
    pub scope_name: String,
    pub scope_version: String,
    /// Which task execution this span is (the `task_id` attribute, or the name of a `task/…`
    /// span under its parent); attempts of one task share it. `None` for other spans.
    pub task_key: Option<String>,
}

/// The spans of one OTLP request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanBatch {
    pub resources: Vec<NewResource>,
    pub spans: Vec<NewSpan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLog {
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub time_ns: i64,
    pub observed_ns: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub attributes_json: String,
    pub resource_id: i64,
    pub scope_name: String,
    /// The `task_id` attribute: which task execution logged it.
    pub task_id: Option<String>,
}

/// The log records of one OTLP request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogBatch {
    pub resources: Vec<NewResource>,
    pub logs: Vec<NewLog>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows newly stored.
    pub written: u64,
    /// Spans already stored before this request (same trace and span id), left untouched.
    pub duplicates: u64,
}
