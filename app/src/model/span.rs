//! Spans as the dashboard sees them: the full span, its skeleton for the job page, statuses and attributes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Attribute maps keep OTLP's typed values as JSON (string, number, bool, array, object).
pub type Attributes = Map<String, Value>;

/// An attribute value as the user reads (and searches) it: strings as they are, anything else
/// as its JSON text.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// OTLP span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StatusCode {
    #[default]
    #[serde(rename = "STATUS_CODE_UNSET")]
    Unset,
    #[serde(rename = "STATUS_CODE_OK")]
    Ok,
    #[serde(rename = "STATUS_CODE_ERROR")]
    Error,
}

impl StatusCode {
    /// OTLP's numeric value (also what the database stores).
    pub fn code(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }

    /// Unknown numbers are treated as unset, as OTLP asks of receivers.
    pub fn from_code(code: i32) -> Self {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.to_ascii_uppercase();
        let short = upper.strip_prefix("STATUS_CODE_").unwrap_or(&upper);
        match short {
            "UNSET" => Some(StatusCode::Unset),
            "OK" => Some(StatusCode::Ok),
            "ERROR" => Some(StatusCode::Error),
            _ => None,
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// A timestamped annotation on a span; exceptions are events named `exception`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: i64,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP SpanKind number (0 unspecified … 5 consumer).
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: StatusCode,
    pub status_message: String,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    /// Resource attributes: service.name, service.instance.id, host, runner identity.
    pub resource: Attributes,
    pub scope_name: String,
    pub scope_version: String,
}

impl Span {
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    pub fn service_name(&self) -> &str {
        self.resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A span as the job page's skeleton carries it: what places, colours and labels its row and
/// ties it to its task and runner. Attributes, events and resource come on demand for the span
/// the reader selects ([`Span`]). On the wire it is a JSON array, not an object: a trace of
/// 100,000 spans would otherwise repeat every field name 100,000 times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "OutlineWire", from = "OutlineWire")]
pub struct SpanOutline {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: StatusCode,
    pub status_message: String,
    /// `service.name` of its resource.
    pub service: String,
    /// `service.instance.id` of its resource, "" when absent: the runner that executed it.
    pub runner: String,
    /// The task it belongs to: the `task_id` attribute (task spans and what the task's code
    /// recorded); for a `task/…` span without one, the store's stand-in key (parent span and
    /// name), so same-name task spans under one parent count as attempts of one task, as the
    /// job's state does (`store/rows.rs`).
    pub task_id: Option<String>,
    /// Whether it carries events (exceptions among them); they come with its details.
    pub has_events: bool,
}

type OutlineWire = (
    String,
    Option<String>,
    String,
    i64,
    i64,
    i32,
    String,
    String,
    String,
    Option<String>,
    u8,
);

impl From<SpanOutline> for OutlineWire {
    fn from(s: SpanOutline) -> Self {
        (
            s.span_id,
            s.parent_span_id,
            s.name,
            s.start_ns,
            s.end_ns,
            s.status_code.code(),
            s.status_message,
            s.service,
            s.runner,
            s.task_id,
            u8::from(s.has_events),
        )
    }
}

impl From<OutlineWire> for SpanOutline {
    fn from(w: OutlineWire) -> Self {
        SpanOutline {
            span_id: w.0,
            parent_span_id: w.1,
            name: w.2,
            start_ns: w.3,
            end_ns: w.4,
            status_code: StatusCode::from_code(w.5),
            status_message: w.6,
            service: w.7,
            runner: w.8,
            task_id: w.9,
            has_events: w.10 != 0,
        }
    }
}

impl SpanOutline {
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    /// The skeleton of a full span.
    pub fn of(span: &Span) -> Self {
        SpanOutline {
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            name: span.name.clone(),
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            status_code: span.status_code,
            status_message: span.status_message.clone(),
            service: span.service_name().to_owned(),
            runner: span
                .resource
                .get("service.instance.id")
                .map(value_text)
                .unwrap_or_default(),
            task_id: span
                .attributes
                .get("task_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            has_events: !span.events.is_empty(),
        }
    }
}

/// A span outline for tests: unset status, no service, runner or task.
#[cfg(test)]
pub(crate) fn test_outline(
    id: &str,
    parent: Option<&str>,
    name: &str,
    start_ns: i64,
    end_ns: i64,
) -> SpanOutline {
    SpanOutline {
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        name: name.into(),
        start_ns,
        end_ns,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        service: String::new(),
        runner: String::new(),
        task_id: None,
        has_events: false,
    }
}
