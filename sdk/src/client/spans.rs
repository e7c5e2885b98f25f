//! A job's spans read back (`client.jobs().query_spans(…)`): `Span`, `SpanEvent`, `Spans`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::jobs::{JobClient, PAGE};
use super::otlp::{attributes_json, time_of};
use crate::error::Error;
use crate::ids::id_proto;
use crate::proto::tilebox::v1 as tb;
use crate::proto::workflows::v1 as wf;

impl JobClient {
    /// Every span of the job's trace, in start order.
    pub async fn query_spans(
        &self,
        job: uuid::Uuid,
        task_id: Option<uuid::Uuid>,
    ) -> Result<Spans, Error> {
        let mut spans = Vec::new();
        let mut after = None;
        loop {
            let request = wf::QueryJobSpansRequest {
                job_id: Some(id_proto(job)),
                page: Some(tb::Pagination {
                    limit: Some(PAGE),
                    starting_after: after.take(),
                }),
                sort_direction: Some(tb::SortDirection::Ascending as i32),
                task_id: task_id.map(id_proto),
            };
            let page = self
                .query_service()
                .query_job_spans(self.client.request(request))
                .await
                .map_err(Error::status("query spans"))?
                .into_inner();
            for resource_spans in page.resource_spans {
                let runner = attributes_json(
                    resource_spans
                        .resource
                        .as_ref()
                        .map(|r| r.attributes.as_slice())
                        .unwrap_or_default(),
                );
                for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                    spans.push(Span::from_otlp(span, &runner));
                }
            }
            match page.next_page.and_then(|p| p.starting_after) {
                Some(next) if !next.uuid.is_empty() => after = Some(next),
                _ => return Ok(Spans(spans)),
            }
        }
    }
}

/// Span status as OTLP names it (the Python client's `status_code` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    /// `STATUS_CODE_UNSET` / `STATUS_CODE_OK` / `STATUS_CODE_ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }
}

/// A span event (an exception, a log message recorded on the span, …).
#[derive(Clone, Debug)]
pub struct SpanEvent {
    pub time: DateTime<Utc>,
    pub name: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// One span of a job's trace.
#[derive(Clone, Debug)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// `None` for the trace's root.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub status_code: StatusCode,
    pub status_message: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The resource of the process that recorded it (service.name, service.instance.id, …).
    pub runner_attributes: serde_json::Map<String, serde_json::Value>,
    pub events: Vec<SpanEvent>,
}

impl Span {
    fn from_otlp(
        span: opentelemetry_proto::tonic::trace::v1::Span,
        runner: &serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let status = span.status.unwrap_or_default();
        Span {
            trace_id: hex::encode(&span.trace_id),
            span_id: hex::encode(&span.span_id),
            parent_span_id: (!span.parent_span_id.is_empty())
                .then(|| hex::encode(&span.parent_span_id)),
            name: span.name,
            status_code: match status.code {
                1 => StatusCode::Ok,
                2 => StatusCode::Error,
                _ => StatusCode::Unset,
            },
            status_message: status.message,
            start_time: time_of(span.start_time_unix_nano),
            end_time: time_of(span.end_time_unix_nano),
            attributes: attributes_json(&span.attributes),
            runner_attributes: runner.clone(),
            events: span
                .events
                .into_iter()
                .map(|event| SpanEvent {
                    time: time_of(event.time_unix_nano),
                    name: event.name,
                    attributes: attributes_json(&event.attributes),
                })
                .collect(),
        }
    }

    pub fn duration(&self) -> Duration {
        (self.end_time - self.start_time)
            .to_std()
            .unwrap_or_default()
    }

    /// A string attribute, if the span has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(|v| v.as_str())
    }
}

/// The spans of a job (iterable).
#[derive(Clone, Debug, Default)]
pub struct Spans(pub Vec<Span>);

impl Spans {
    pub fn iter(&self) -> std::slice::Iter<'_, Span> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Spans {
    type Item = &'a Span;
    type IntoIter = std::slice::Iter<'a, Span>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Spans {
    type Item = Span;
    type IntoIter = std::vec::IntoIter<Span>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
