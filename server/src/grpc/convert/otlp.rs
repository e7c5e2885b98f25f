//! Stored spans and log records back to OTLP messages, one resource each.

use app::model::{Attributes, LogRecord, Span};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1 as otlp_logs;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;
use serde_json::Value;

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
