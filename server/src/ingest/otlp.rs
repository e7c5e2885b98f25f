//! OTLP requests → store batches: ids checked, attributes and events encoded as JSON once.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

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

/// Serializes OTLP attributes as a JSON object without building an intermediate map.
struct AttributesJson<'a>(&'a [KeyValue]);

impl Serialize for AttributesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(&kv.key, &ValueJson(kv.value.as_ref()))?;
        }
        map.end()
    }
}

/// An AnyValue as plain JSON: strings, numbers, booleans, arrays, objects; bytes as base64.
struct ValueJson<'a>(Option<&'a AnyValue>);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use any_value::Value;
        match self.0.and_then(|v| v.value.as_ref()) {
            // String-table indices only mean something in OTLP profiles, which have the table.
            None | Some(Value::StringValueStrindex(_)) => serializer.serialize_none(),
            Some(Value::StringValue(s)) => serializer.serialize_str(s),
            Some(Value::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(Value::IntValue(i)) => serializer.serialize_i64(*i),
            Some(Value::DoubleValue(d)) => serializer.serialize_f64(*d),
            Some(Value::BytesValue(bytes)) => {
                use base64::Engine;
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Some(Value::ArrayValue(array)) => {
                let mut seq = serializer.serialize_seq(Some(array.values.len()))?;
                for value in &array.values {
                    seq.serialize_element(&ValueJson(Some(value)))?;
                }
                seq.end()
            }
            Some(Value::KvlistValue(list)) => AttributesJson(&list.values).serialize(serializer),
        }
    }
}

fn attributes_json(attributes: &[KeyValue]) -> String {
    // Serializing these types cannot fail: keys are strings and floats become null if not finite.
    serde_json::to_string(&AttributesJson(attributes)).unwrap_or_else(|_| "{}".to_owned())
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A log body as text: strings as they are, other values as JSON.
fn body_text(body: Option<&AnyValue>) -> String {
    match body.and_then(|b| b.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(_) => serde_json::to_string(&ValueJson(body)).unwrap_or_default(),
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
    fn add(&mut self, resource: Option<&Resource>) -> (i64, String) {
        let attributes = resource
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let json = attributes_json(attributes);
        let id = stable_hash(&json);
        let service_name = string_attribute(attributes, "service.name")
            .unwrap_or_default()
            .to_owned();
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
    name: &'a str,
    time_ns: i64,
    attributes: AttributesJson<'a>,
}

/// OTLP timestamps are u64 nanoseconds; the store keeps i64 (good until 2262).
fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub fn spans_from_request(request: &ExportTraceServiceRequest) -> Converted<SpanBatch> {
    let mut out = Converted::<SpanBatch>::default();
    let mut resources = Resources::default();
    for resource_spans in &request.resource_spans {
        let (resource_id, service_name) = resources.add(resource_spans.resource.as_ref());
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
                let events: Vec<EventJson<'_>> = span
                    .events
                    .iter()
                    .map(|event| EventJson {
                        name: &event.name,
                        time_ns: nanos(event.time_unix_nano),
                        attributes: AttributesJson(&event.attributes),
                    })
                    .collect();
                let (status_code, status_message) = span
                    .status
                    .as_ref()
                    .map(|s| (s.code, s.message.clone()))
                    .unwrap_or_default();
                let task_key = string_attribute(&span.attributes, "task_id")
                    .map(str::to_owned)
                    .or_else(|| {
                        span.name.starts_with("task/").then(|| {
                            let parent = parent_span_id.map(|p| p.to_string()).unwrap_or_default();
                            format!("{parent}/{}", span.name)
                        })
                    });
                out.batch.spans.push(NewSpan {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name: span.name.clone(),
                    kind: span.kind,
                    start_ns: nanos(span.start_time_unix_nano),
                    end_ns: nanos(span.end_time_unix_nano),
                    status_code,
                    status_message,
                    attributes_json: attributes_json(&span.attributes),
                    events_json: serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_owned()),
                    resource_id,
                    service_name: service_name.clone(),
                    scope_name: scope_name.to_owned(),
                    scope_version: scope_version.to_owned(),
                    task_key,
                });
            }
        }
    }
    out.batch.resources = resources.list;
    out
}

pub fn logs_from_request(request: &ExportLogsServiceRequest) -> Converted<LogBatch> {
    let mut out = Converted::<LogBatch>::default();
    let mut resources = Resources::default();
    for resource_logs in &request.resource_logs {
        let (resource_id, _) = resources.add(resource_logs.resource.as_ref());
        for scope_logs in &resource_logs.scope_logs {
            let scope_name = scope_logs
                .scope
                .as_ref()
                .map(|s| s.name.clone())
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
                    severity_text: log.severity_text.clone(),
                    body: body_text(log.body.as_ref()),
                    attributes_json: attributes_json(&log.attributes),
                    resource_id,
                    scope_name: scope_name.clone(),
                    task_id: string_attribute(&log.attributes, "task_id").map(str::to_owned),
                });
            }
        }
    }
    out.batch.resources = resources.list;
    out
}

#[cfg(test)]
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
                {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"good"}
            ]}]}]}"#,
        );
        let converted = spans_from_request(&request);
        assert_eq!(converted.rejected, 2);
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
    fn test_stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    }
}
