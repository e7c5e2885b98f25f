//! `to_arrow()`: spans and logs as Arrow record batches with the Python client's `to_pandas()`
//! columns, the same schema as the server's Arrow and Parquet exports. Arrow is what polars,
//! DataFusion, DuckDB and pandas read (directly, through Arrow IPC or the C data interface); the
//! SDK builds on the arrow crates the server already uses instead of a DataFrame library of its
//! own (polars-core cost 2.5 minutes of every clean build).

use std::sync::Arc;

use arrow_array::builder::{
    DurationNanosecondBuilder, Int32Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use crate::client::{Logs, Spans};

fn nanos(time: &chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn json(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    let mut builder = TimestampNanosecondBuilder::new().with_timezone("UTC");
    for value in values {
        builder.append_value(value);
    }
    Arc::new(builder.finish())
}

fn texts<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for value in values {
        builder.append_option(value);
    }
    Arc::new(builder.finish())
}

fn owned_texts(values: impl Iterator<Item = String>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for value in values {
        builder.append_value(value);
    }
    Arc::new(builder.finish())
}

fn text_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

impl Spans {
    /// Columns `start_time, end_time, trace_id, span_id, parent_span_id, name, status_code,
    /// status_message, attributes, runner_attributes, events, duration` (feature `arrow`).
    ///
    /// Times are UTC nanosecond timestamps, `duration` a nanosecond duration; attributes, runner
    /// attributes and events are JSON text (their keys differ per row).
    pub fn to_arrow(&self) -> Result<RecordBatch, ArrowError> {
        let spans = &self.0;
        let events = spans.iter().map(|span| {
            let events: Vec<serde_json::Value> = span
                .events
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "time": e.time.to_rfc3339(),
                        "name": e.name,
                        "attributes": e.attributes,
                    })
                })
                .collect();
            serde_json::Value::Array(events).to_string()
        });
        let mut duration = DurationNanosecondBuilder::with_capacity(spans.len());
        for span in spans {
            duration.append_value(nanos(&span.end_time) - nanos(&span.start_time));
        }
        let schema = Schema::new(vec![
            Field::new("start_time", utc_ns(), false),
            Field::new("end_time", utc_ns(), false),
            text_field("trace_id", false),
            text_field("span_id", false),
            text_field("parent_span_id", true),
            text_field("name", false),
            text_field("status_code", false),
            text_field("status_message", false),
            text_field("attributes", false),
            text_field("runner_attributes", false),
            text_field("events", false),
            Field::new("duration", DataType::Duration(TimeUnit::Nanosecond), false),
        ]);
        let columns = vec![
            timestamps(spans.iter().map(|s| nanos(&s.start_time))),
            timestamps(spans.iter().map(|s| nanos(&s.end_time))),
            texts(spans.iter().map(|s| Some(s.trace_id.as_str()))),
            texts(spans.iter().map(|s| Some(s.span_id.as_str()))),
            texts(spans.iter().map(|s| s.parent_span_id.as_deref())),
            texts(spans.iter().map(|s| Some(s.name.as_str()))),
            texts(spans.iter().map(|s| Some(s.status_code.as_str()))),
            texts(spans.iter().map(|s| Some(s.status_message.as_str()))),
            owned_texts(spans.iter().map(|s| json(&s.attributes))),
            owned_texts(spans.iter().map(|s| json(&s.runner_attributes))),
            owned_texts(events),
            Arc::new(duration.finish()),
        ];
        RecordBatch::try_new(Arc::new(schema), columns)
    }
}

impl Logs {
    /// Columns `time, severity_number, severity_text, body, trace_id, span_id, attributes,
    /// runner_attributes` (feature `arrow`).
    ///
    /// `time` is a UTC nanosecond timestamp; attributes and runner attributes are JSON text
    /// (their keys differ per row).
    pub fn to_arrow(&self) -> Result<RecordBatch, ArrowError> {
        let logs = &self.0;
        let mut severity = Int32Builder::with_capacity(logs.len());
        for log in logs {
            severity.append_value(log.severity_number);
        }
        let schema = Schema::new(vec![
            Field::new("time", utc_ns(), false),
            Field::new("severity_number", DataType::Int32, false),
            text_field("severity_text", false),
            text_field("body", false),
            text_field("trace_id", false),
            text_field("span_id", false),
            text_field("attributes", false),
            text_field("runner_attributes", false),
        ]);
        let columns = vec![
            timestamps(logs.iter().map(|l| nanos(&l.time))),
            Arc::new(severity.finish()),
            texts(logs.iter().map(|l| Some(l.severity_text.as_str()))),
            texts(logs.iter().map(|l| Some(l.body.as_str()))),
            texts(logs.iter().map(|l| Some(l.trace_id.as_str()))),
            texts(logs.iter().map(|l| Some(l.span_id.as_str()))),
            owned_texts(logs.iter().map(|l| json(&l.attributes))),
            owned_texts(logs.iter().map(|l| json(&l.runner_attributes))),
        ];
        RecordBatch::try_new(Arc::new(schema), columns)
    }
}
