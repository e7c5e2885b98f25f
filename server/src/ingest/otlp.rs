//! OTLP requests → store batches: ids checked, attributes and events encoded as JSON once.

mod text;

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Serialize;

pub use text::limits;
use text::{AttributesJson, Notes, attributes_json, body_text, clean, string_attribute};

use crate::store::{LogBatch, NewLog, NewResource, NewSpan, SpanBatch, SpanId, TraceId};

/// A converted request: what to store, and what was rejected and why (OTLP partial success).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted<T> {
    pub batch: T,
    pub rejected: i64,
    pub error_message: String,
}

impl<T> Converted<T> {
    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.error_message.is_empty() {
            self.error_message = reason;
        }
    }
}

/// FNV-1a: a stable 64-bit hash (std's hasher may change between Rust releases).
fn stable_hash(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// Deduplicates the resources of one request.
#[derive(Default)]
struct Resources {
    list: Vec<NewResource>,
    seen: HashMap<i64, usize>,
}

impl Resources {
    /// The resource's id and service name.
    fn add(&mut self, resource: Option<&Resource>, notes: &Notes) -> (i64, String) {
        let attributes = resource
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let json = attributes_json(attributes, notes);
        let id = stable_hash(&json);
        let service_name = clean(
            string_attribute(attributes, "service.name").unwrap_or_default(),
            limits::NAME_BYTES,
            notes,
        )
        .into_owned();
        if !self.seen.contains_key(&id) {
            self.seen.insert(id, self.list.len());
            self.list.push(NewResource {
                id,
                attributes_json: json,
                service_name: service_name.clone(),
            });
        }
        (id, service_name)
    }
}

#[derive(Serialize)]
struct EventJson<'a> {
    name: Cow<'a, str>,
    time_ns: i64,
    attributes: AttributesJson<'a>,
}

/// OTLP timestamps are u64 nanoseconds; the store keeps i64 (good until 2262).
fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl<T> Converted<T> {
    /// What was cut, said after what was rejected (a warning when nothing was).
    fn note(&mut self, notes: &Notes) {
        if let Some(summary) = notes.summary() {
            if self.error_message.is_empty() {
                self.error_message = summary;
            } else {
                self.error_message = format!("{}; {summary}", self.error_message);
            }
        }
    }
}

pub fn spans_from_request(request: &ExportTraceServiceRequest) -> Converted<SpanBatch> {
    let mut out = Converted::<SpanBatch>::default();
    let mut resources = Resources::default();
    let notes = Notes::default();
    for resource_spans in &request.resource_spans {
        let (resource_id, service_name) = resources.add(resource_spans.resource.as_ref(), &notes);
        for scope_spans in &resource_spans.scope_spans {
            let (scope_name, scope_version) = scope_spans
                .scope
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str()))
                .unwrap_or_default();
            for span in &scope_spans.spans {
                let Some(trace_id) = TraceId::from_bytes(&span.trace_id) else {
                    out.reject(format!(
                        "span {:?}: trace_id must be 16 bytes, not all zero",
                        span.name
                    ));
                    continue;
                };
                let Some(span_id) = SpanId::from_bytes(&span.span_id) else {
                    out.reject(format!(
                        "span {:?}: span_id must be 8 bytes, not all zero",
                        span.name
                    ));
                    continue;
                };
                let parent_span_id = if span.parent_span_id.is_empty() {
                    None
                } else if let Some(parent) = SpanId::from_bytes(&span.parent_span_id) {
                    Some(parent)
                } else if span.parent_span_id.iter().all(|b| *b == 0) {
                    None
                } else {
                    out.reject(format!(
                        "span {:?}: parent_span_id must be empty or 8 bytes",
                        span.name
                    ));
                    continue;
                };
                if span.start_time_unix_nano == 0 {
                    out.reject(format!("span {:?}: start time missing", span.name));
                    continue;
                }
                let start_ns = nanos(span.start_time_unix_nano);
                let mut end_ns = nanos(span.end_time_unix_nano);
                if end_ns < start_ns {
                    end_ns = start_ns;
                    notes.clamped.set(notes.clamped.get() + 1);
                }
                let kept_events = span.events.len().min(limits::EVENTS);
                if kept_events < span.events.len() {
                    let dropped = (span.events.len() - kept_events) as u64;
                    notes.dropped.set(notes.dropped.get() + dropped);
                }
                let events: Vec<EventJson<'_>> = span.events[..kept_events]
                    .iter()
                    .map(|event| EventJson {
                        name: clean(&event.name, limits::NAME_BYTES, &notes),
                        time_ns: nanos(event.time_unix_nano),
                        attributes: AttributesJson {
                            attributes: &event.attributes,
                            notes: &notes,
                        },
                    })
                    .collect();
                let (status_code, status_message) = span
                    .status
                    .as_ref()
                    .map(|s| {
                        (
                            s.code,
                            clean(&s.message, limits::VALUE_BYTES, &notes).into_owned(),
                        )
                    })
                    .unwrap_or_default();
                let name = clean(&span.name, limits::NAME_BYTES, &notes).into_owned();
                let task_key = string_attribute(&span.attributes, "task_id")
                    .map(|id| clean(id, limits::KEY_BYTES, &notes).into_owned())
                    .or_else(|| {
                        name.starts_with("task/").then(|| {
                            let parent = parent_span_id.map(|p| p.to_string()).unwrap_or_default();
                            format!("{parent}/{name}")
                        })
                    });
                out.batch.spans.push(NewSpan {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name,
                    kind: span.kind,
                    start_ns,
                    end_ns,
                    status_code,
                    status_message,
                    attributes_json: attributes_json(&span.attributes, &notes),
                    events_json: serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_owned()),
                    resource_id,
                    service_name: service_name.clone(),
                    scope_name: clean(scope_name, limits::NAME_BYTES, &notes).into_owned(),
                    scope_version: clean(scope_version, limits::NAME_BYTES, &notes).into_owned(),
                    task_key,
                });
            }
        }
    }
    out.batch.resources = resources.list;
    out.note(&notes);
    out
}

pub fn logs_from_request(request: &ExportLogsServiceRequest) -> Converted<LogBatch> {
    let mut out = Converted::<LogBatch>::default();
    let mut resources = Resources::default();
    let notes = Notes::default();
    for resource_logs in &request.resource_logs {
        let (resource_id, _) = resources.add(resource_logs.resource.as_ref(), &notes);
        for scope_logs in &resource_logs.scope_logs {
            let scope_name = scope_logs
                .scope
                .as_ref()
                .map(|s| clean(&s.name, limits::NAME_BYTES, &notes).into_owned())
                .unwrap_or_default();
            for log in &scope_logs.log_records {
                // Logs outside a trace are kept; a malformed id is an error, not "no trace".
                let trace_id = if log.trace_id.is_empty() || log.trace_id.iter().all(|b| *b == 0) {
                    None
                } else if let Some(trace) = TraceId::from_bytes(&log.trace_id) {
                    Some(trace)
                } else {
                    out.reject("log record: trace_id must be empty or 16 bytes".to_owned());
                    continue;
                };
                let span_id = if log.span_id.is_empty() || log.span_id.iter().all(|b| *b == 0) {
                    None
                } else if let Some(span) = SpanId::from_bytes(&log.span_id) {
                    Some(span)
                } else {
                    out.reject("log record: span_id must be empty or 8 bytes".to_owned());
                    continue;
                };
                let time_ns = if log.time_unix_nano > 0 {
                    log.time_unix_nano
                } else {
                    log.observed_time_unix_nano
                };
                out.batch.logs.push(NewLog {
                    trace_id,
                    span_id,
                    time_ns: nanos(time_ns),
                    observed_ns: nanos(log.observed_time_unix_nano),
                    severity_number: log.severity_number,
                    severity_text: clean(&log.severity_text, limits::KEY_BYTES, &notes)
                        .into_owned(),
                    body: body_text(log.body.as_ref(), &notes),
                    attributes_json: attributes_json(&log.attributes, &notes),
                    resource_id,
                    scope_name: scope_name.clone(),
                    task_id: string_attribute(&log.attributes, "task_id")
                        .map(|id| clean(id, limits::KEY_BYTES, &notes).into_owned()),
                });
            }
        }
    }
    out.batch.resources = resources.list;
    out.note(&notes);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn json_request<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_json::from_str(text).expect("valid OTLP JSON")
    }

    #[test]
    fn test_otlp_json_span_converts_with_typed_attributes() {
        let request: ExportTraceServiceRequest = json_request(include_str!("fixtures/trace.json"));
        let converted = spans_from_request(&request);
        assert_eq!(converted.rejected, 0, "{}", converted.error_message);
        let expected: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/trace.expected.json")).expect("json");
        let spans: Vec<serde_json::Value> = converted
            .batch
            .spans
            .iter()
            .map(|s| {
                serde_json::json!({
                    "trace_id": s.trace_id.to_string(),
                    "span_id": s.span_id.to_string(),
                    "parent_span_id": s.parent_span_id.map(|p| p.to_string()),
                    "name": s.name,
                    "kind": s.kind,
                    "start_ns": s.start_ns,
                    "end_ns": s.end_ns,
                    "status_code": s.status_code,
                    "status_message": s.status_message,
                    "attributes": serde_json::from_str::<serde_json::Value>(&s.attributes_json).unwrap_or_default(),
                    "events": serde_json::from_str::<serde_json::Value>(&s.events_json).unwrap_or_default(),
                    "service_name": s.service_name,
                    "scope_name": s.scope_name,
                    "task_key": s.task_key,
                })
            })
            .collect();
        assert_eq!(serde_json::Value::Array(spans), expected);
        assert_eq!(converted.batch.resources.len(), 1);
    }

    #[test]
    fn test_bad_ids_are_rejected_individually() {
        let request: ExportTraceServiceRequest = json_request(
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
                {"traceId":"00000000000000000000000000000000","spanId":"0102030405060708","name":"zero-trace"},
                {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102","name":"short-span"},
                {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"no-start"},
                {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"good",
                 "startTimeUnixNano":"5","endTimeUnixNano":"9"}
            ]}]}]}"#,
        );
        let converted = spans_from_request(&request);
        assert_eq!(
            converted.rejected, 3,
            "two bad ids and a span without a start"
        );
        assert!(
            converted.error_message.contains("zero-trace"),
            "{}",
            converted.error_message
        );
        assert_eq!(converted.batch.spans.len(), 1);
        assert_eq!(converted.batch.spans[0].name, "good");
    }

    #[test]
    fn test_same_resource_is_stored_once() {
        let request: ExportTraceServiceRequest = json_request(
            r#"{"resourceSpans":[
                {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[]},
                {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[]},
                {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"b"}}]},"scopeSpans":[]}
            ]}"#,
        );
        assert_eq!(spans_from_request(&request).batch.resources.len(), 2);
    }

    #[test]
    fn test_log_bodies_and_correlation() {
        let request: ExportLogsServiceRequest = json_request(
            r#"{"resourceLogs":[{"resource":{"attributes":[]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[
                {"timeUnixNano":"5","severityNumber":9,"severityText":"INFO","body":{"stringValue":"<b>hi</b>"},
                 "traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"},
                {"observedTimeUnixNano":"7","body":{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"3"}}]}}},
                {"timeUnixNano":"1","traceId":"0102","body":{"stringValue":"bad"}}
            ]}]}]}"#,
        );
        let converted = logs_from_request(&request);
        assert_eq!(converted.rejected, 1);
        let logs = &converted.batch.logs;
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].body, "<b>hi</b>");
        assert_eq!(
            logs[0].span_id.map(|s| s.to_string()).as_deref(),
            Some("0102030405060708")
        );
        assert_eq!(logs[1].body, r#"{"k":3}"#);
        assert_eq!(
            logs[1].time_ns, 7,
            "observed time stands in for a missing time"
        );
        assert_eq!(logs[1].trace_id, None);
    }

    #[test]
    fn test_oversized_and_nul_text_is_cut_cleaned_and_reported() {
        let long_name = "n".repeat(limits::NAME_BYTES + 10);
        let long_value = "é".repeat(limits::VALUE_BYTES);
        let attributes: Vec<String> = (0..limits::ATTRIBUTES + 5)
            .map(|i| format!(r#"{{"key":"k{i}","value":{{"intValue":"1"}}}}"#))
            .collect();
        let text = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
                {{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708",
                  "name":"{long_name}","startTimeUnixNano":"10","endTimeUnixNano":"3",
                  "attributes":[{{"key":"nul\u0000key","value":{{"stringValue":"a\u0000b"}}}},
                                {{"key":"long","value":{{"stringValue":"{long_value}"}}}}]}},
                {{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709",
                  "name":"many\u0000","startTimeUnixNano":"10","endTimeUnixNano":"20",
                  "attributes":[{}]}}
            ]}}]}}]}}"#,
            attributes.join(",")
        );
        let converted = spans_from_request(&json_request(&text));
        assert_eq!(converted.rejected, 0);
        let spans = &converted.batch.spans;
        assert_eq!(spans[0].name.len(), limits::NAME_BYTES);
        assert_eq!(
            (spans[0].start_ns, spans[0].end_ns),
            (10, 10),
            "end clamped to start"
        );
        assert!(!spans[0].attributes_json.contains("\\u0000"));
        let attributes: serde_json::Value =
            serde_json::from_str(&spans[0].attributes_json).unwrap();
        assert_eq!(attributes["nul\u{FFFD}key"], "a\u{FFFD}b");
        let long = attributes["long"].as_str().unwrap();
        assert!(long.len() <= limits::VALUE_BYTES && long.len() > limits::VALUE_BYTES - 2);
        assert_eq!(spans[1].name, "many\u{FFFD}");
        let many: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&spans[1].attributes_json).unwrap();
        assert_eq!(many.len(), limits::ATTRIBUTES);
        let message = &converted.error_message;
        assert!(message.contains("2 texts cut"), "{message}");
        assert!(
            message.contains("5 attributes or events dropped"),
            "{message}"
        );
        assert!(message.contains("1 spans ending before"), "{message}");
    }

    #[test]
    fn test_log_bodies_are_cleaned_and_cut() {
        let body = "x".repeat(limits::LOG_BODY_BYTES + 1);
        let text = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[
                {{"timeUnixNano":"5","body":{{"stringValue":"{body}"}}}},
                {{"timeUnixNano":"5","body":{{"stringValue":"nul\u0000"}}}}
            ]}}]}}]}}"#
        );
        let converted = logs_from_request(&json_request(&text));
        assert_eq!(converted.batch.logs[0].body.len(), limits::LOG_BODY_BYTES);
        assert_eq!(converted.batch.logs[1].body, "nul\u{FFFD}");
        assert!(converted.error_message.contains("1 texts cut"));
    }

    #[test]
    fn test_stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    }
}

/// Hostile bodies that decode: conversion never panics, and what it hands the store keeps the
/// limits (names, keys and values cut, no NUL anywhere PostgreSQL would refuse it).
#[cfg(test)]
mod properties {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use prost::Message;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,40}",
            Just("\0".to_owned()),
            Just("é".repeat(limits::NAME_BYTES)),
            Just("\0".repeat(limits::NAME_BYTES)),
            "[a-z\0]{0,8}",
        ]
    }

    fn value() -> impl Strategy<Value = any_value::Value> {
        let leaf = prop_oneof![
            text().prop_map(any_value::Value::StringValue),
            any::<i64>().prop_map(any_value::Value::IntValue),
            any::<f64>().prop_map(any_value::Value::DoubleValue),
            any::<bool>().prop_map(any_value::Value::BoolValue),
            vec(any::<u8>(), 0..16).prop_map(any_value::Value::BytesValue),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            vec(inner, 0..4).prop_map(|values| {
                any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: values
                        .into_iter()
                        .map(|v| AnyValue { value: Some(v) })
                        .collect(),
                })
            })
        })
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        vec((text(), proptest::option::of(value())), 0..6).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key,
                    value: value.map(|v| AnyValue { value: Some(v) }),
                    ..KeyValue::default()
                })
                .collect()
        })
    }

    fn span() -> impl Strategy<Value = Span> {
        // Mostly well-formed ids, so most spans get past the id checks to the text limits.
        let id = |len: usize| prop_oneof![3 => vec(any::<u8>(), len..=len), 1 => vec(any::<u8>(), 0..20)];
        (
            id(16),
            id(8),
            text(),
            any::<u64>(),
            any::<u64>(),
            attributes(),
        )
            .prop_map(|(trace_id, span_id, name, start, end, attributes)| Span {
                trace_id,
                span_id,
                name,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                ..Span::default()
            })
    }

    fn kept(text: &str, max: usize) -> bool {
        text.len() <= max && !text.contains('\0')
    }

    proptest! {
        #[test]
        fn test_any_decodable_trace_request_converts_within_limits(
            spans in vec(span(), 0..8),
            resource in attributes(),
        ) {
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource { attributes: resource, ..Resource::default() }),
                    scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
                    ..ResourceSpans::default()
                }],
            };
            let bytes = request.encode_to_vec();
            let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("round trip");
            let converted = spans_from_request(&decoded);
            let offered = decoded.resource_spans[0].scope_spans[0].spans.len();
            prop_assert_eq!(converted.batch.spans.len() + usize::try_from(converted.rejected).unwrap_or(0), offered);
            for span in &converted.batch.spans {
                prop_assert!(kept(&span.name, limits::NAME_BYTES));
                prop_assert!(!span.attributes_json.contains("\\u0000"));
                prop_assert!(span.end_ns >= span.start_ns);
                prop_assert!(serde_json::from_str::<serde_json::Value>(&span.attributes_json).is_ok());
            }
            for resource in &converted.batch.resources {
                prop_assert!(kept(&resource.service_name, limits::NAME_BYTES));
            }
        }

        #[test]
        fn test_any_bytes_that_decode_as_logs_convert(bytes in vec(any::<u8>(), 0..512)) {
            if let Ok(request) = ExportLogsServiceRequest::decode(bytes.as_slice()) {
                let _ = logs_from_request(&request);
            }
            if let Ok(request) = ExportTraceServiceRequest::decode(bytes.as_slice()) {
                let _ = spans_from_request(&request);
            }
        }

        #[test]
        fn test_log_bodies_of_any_shape_are_text_within_limits(
            body in proptest::option::of(value()),
            attributes in attributes(),
        ) {
            let request = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![LogRecord {
                            time_unix_nano: 1,
                            body: body.map(|v| AnyValue { value: Some(v) }),
                            attributes,
                            ..LogRecord::default()
                        }],
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }],
            };
            let converted = logs_from_request(&request);
            for log in &converted.batch.logs {
                prop_assert!(kept(&log.body, limits::LOG_BODY_BYTES));
                prop_assert!(serde_json::from_str::<serde_json::Value>(&log.attributes_json).is_ok());
            }
        }
    }
}
