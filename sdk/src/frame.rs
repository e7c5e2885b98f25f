//! `to_polars()`: spans and logs as polars DataFrames with the Python client's `to_pandas()` columns.

use polars_core::prelude::{
    Column, DataFrame, Int32Chunked, Int64Chunked, IntoColumn as _, IntoSeries as _,
    NamedFrom as _, PolarsResult, Series, TimeUnit, TimeZone,
};

use crate::client::{Logs, Spans};

fn datetime(name: &str, nanos: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), nanos)
        .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
        .into_series()
        .into_column()
}

fn text(name: &str, values: Vec<String>) -> Column {
    Series::new(name.into(), values).into_column()
}

fn nanos(time: &chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn json(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

impl Spans {
    /// Columns `start_time, end_time, trace_id, span_id, parent_span_id, name, status_code,
    /// status_message, attributes, runner_attributes, events, duration` (feature `polars`).
    ///
    /// Times are UTC nanosecond datetimes, `duration` a nanosecond duration; attributes, runner
    /// attributes and events are JSON text (their keys differ per row).
    pub fn to_polars(&self) -> PolarsResult<DataFrame> {
        let spans = &self.0;
        let events: Vec<String> = spans
            .iter()
            .map(|span| {
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
            })
            .collect();
        let durations: Vec<i64> = spans
            .iter()
            .map(|s| nanos(&s.end_time) - nanos(&s.start_time))
            .collect();
        DataFrame::new_infer_height(vec![
            datetime(
                "start_time",
                spans.iter().map(|s| nanos(&s.start_time)).collect(),
            ),
            datetime(
                "end_time",
                spans.iter().map(|s| nanos(&s.end_time)).collect(),
            ),
            text(
                "trace_id",
                spans.iter().map(|s| s.trace_id.clone()).collect(),
            ),
            text("span_id", spans.iter().map(|s| s.span_id.clone()).collect()),
            Series::new(
                "parent_span_id".into(),
                spans
                    .iter()
                    .map(|s| s.parent_span_id.clone())
                    .collect::<Vec<Option<String>>>(),
            )
            .into_column(),
            text("name", spans.iter().map(|s| s.name.clone()).collect()),
            text(
                "status_code",
                spans
                    .iter()
                    .map(|s| s.status_code.as_str().to_owned())
                    .collect(),
            ),
            text(
                "status_message",
                spans.iter().map(|s| s.status_message.clone()).collect(),
            ),
            text(
                "attributes",
                spans.iter().map(|s| json(&s.attributes)).collect(),
            ),
            text(
                "runner_attributes",
                spans.iter().map(|s| json(&s.runner_attributes)).collect(),
            ),
            text("events", events),
            Int64Chunked::from_vec("duration".into(), durations)
                .into_duration(TimeUnit::Nanoseconds)
                .into_series()
                .into_column(),
        ])
    }
}

impl Logs {
    /// Columns `time, severity_number, severity_text, body, trace_id, span_id, attributes,
    /// runner_attributes` (feature `polars`).
    ///
    /// `time` is a UTC nanosecond datetime; attributes and runner attributes are JSON text (their
    /// keys differ per row).
    pub fn to_polars(&self) -> PolarsResult<DataFrame> {
        let logs = &self.0;
        DataFrame::new_infer_height(vec![
            datetime("time", logs.iter().map(|l| nanos(&l.time)).collect()),
            Int32Chunked::from_vec(
                "severity_number".into(),
                logs.iter().map(|l| l.severity_number).collect(),
            )
            .into_series()
            .into_column(),
            text(
                "severity_text",
                logs.iter().map(|l| l.severity_text.clone()).collect(),
            ),
            text("body", logs.iter().map(|l| l.body.clone()).collect()),
            text(
                "trace_id",
                logs.iter().map(|l| l.trace_id.clone()).collect(),
            ),
            text("span_id", logs.iter().map(|l| l.span_id.clone()).collect()),
            text(
                "attributes",
                logs.iter().map(|l| json(&l.attributes)).collect(),
            ),
            text(
                "runner_attributes",
                logs.iter().map(|l| json(&l.runner_attributes)).collect(),
            ),
        ])
    }
}
