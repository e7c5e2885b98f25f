//! A job's spans and logs as files: CSV, Parquet and Arrow IPC, with the Tilebox client's
//! `to_pandas()` columns. Times are UTC timestamps (ns), durations are durations (ns); the
//! nested columns (`attributes`, `runner_attributes`, `events`) are JSON text.

use std::sync::Arc;

use app::model::{LogRecord, Span};
use arrow_array::builder::{
    DurationNanosecondBuilder, Int32Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use super::dto::{ApiLog, ApiSpan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Parquet,
    Arrow,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            "arrow" => Ok(Format::Arrow),
            other => Err(format!(
                "unknown format {other:?}: use json, csv, parquet or arrow"
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Parquet => "application/vnd.apache.parquet",
            Format::Arrow => "application/vnd.apache.arrow.file",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("csv: {0}")]
    Io(#[from] std::io::Error),
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn span_batch(spans: &[Span]) -> Result<RecordBatch, ExportError> {
    let n = spans.len();
    let mut start = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut end = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut text: Vec<StringBuilder> = (0..9).map(|_| StringBuilder::new()).collect();
    let mut duration = DurationNanosecondBuilder::with_capacity(n);
    for span in spans {
        start.append_value(span.start_ns);
        end.append_value(span.end_ns);
        text[0].append_value(&span.trace_id);
        text[1].append_value(&span.span_id);
        text[2].append_option(span.parent_span_id.as_deref());
        text[3].append_value(&span.name);
        text[4].append_value(span.status_code.as_str());
        text[5].append_value(&span.status_message);
        text[6].append_value(json(&span.attributes));
        text[7].append_value(json(&span.resource));
        text[8].append_value(json(&ApiSpan::from(span).events));
        duration.append_value(span.duration_ns());
    }
    let mut text: Vec<ArrayRef> = text
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let names = [
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "status_code",
        "status_message",
        "attributes",
        "runner_attributes",
        "events",
    ];
    let mut fields = vec![
        Field::new("start_time", utc_ns(), false),
        Field::new("end_time", utc_ns(), false),
    ];
    fields.extend(
        names
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, *name == "parent_span_id")),
    );
    fields.push(Field::new(
        "duration",
        DataType::Duration(TimeUnit::Nanosecond),
        false,
    ));
    let mut columns: Vec<ArrayRef> = vec![Arc::new(start.finish()), Arc::new(end.finish())];
    columns.append(&mut text);
    columns.push(Arc::new(duration.finish()));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn log_batch(logs: &[LogRecord]) -> Result<RecordBatch, ExportError> {
    let n = logs.len();
    let mut time = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut severity_number = Int32Builder::with_capacity(n);
    let mut text: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
    for log in logs {
        time.append_value(log.time_ns);
        severity_number.append_value(log.severity_number);
        text[0].append_value(&log.severity_text);
        text[1].append_value(&log.body);
        text[2].append_option(log.trace_id.as_deref());
        text[3].append_option(log.span_id.as_deref());
        text[4].append_value(json(&log.attributes));
        text[5].append_value(json(&log.resource));
    }
    let names = [
        "severity_text",
        "body",
        "trace_id",
        "span_id",
        "attributes",
        "runner_attributes",
    ];
    let mut fields = vec![
        Field::new("time", utc_ns(), false),
        Field::new("severity_number", DataType::Int32, false),
    ];
    fields.extend(names.iter().map(|name| {
        Field::new(
            *name,
            DataType::Utf8,
            matches!(*name, "trace_id" | "span_id"),
        )
    }));
    let mut columns: Vec<ArrayRef> =
        vec![Arc::new(time.finish()), Arc::new(severity_number.finish())];
    columns.extend(text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// A record batch as a Parquet file, or else as an Arrow IPC file.
fn encode_batch(batch: &RecordBatch, parquet: bool) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::new();
    match parquet {
        true => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props))?;
            writer.write(batch)?;
            writer.close()?;
        }
        false => {
            let mut writer = arrow_ipc::writer::FileWriter::try_new(&mut out, &batch.schema())?;
            writer.write(batch)?;
            writer.finish()?;
        }
    }
    Ok(out)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a leading tab or carriage
/// return) gets a leading `'`, which spreadsheets show as text (OWASP's CSV injection advice).
/// Span names, attributes and log bodies come from anyone who can send spans.
fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn csv_of(
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(headers)?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| csv_cell(cell).into_owned()))?;
    }
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| ExportError::Io(e.into_error()))
}

pub fn spans(spans: &[Span], format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Csv => {
            let headers = [
                "start_time",
                "end_time",
                "trace_id",
                "span_id",
                "parent_span_id",
                "name",
                "status_code",
                "status_message",
                "attributes",
                "runner_attributes",
                "events",
                "duration",
            ];
            csv_of(
                &headers,
                spans.iter().map(|span| {
                    let api = ApiSpan::from(span);
                    vec![
                        api.start_time,
                        api.end_time,
                        api.trace_id,
                        api.span_id,
                        api.parent_span_id.unwrap_or_default(),
                        api.name,
                        api.status_code.to_owned(),
                        api.status_message,
                        json(&api.attributes),
                        json(&api.runner_attributes),
                        json(&api.events),
                        api.duration.to_string(),
                    ]
                }),
            )
        }
        Format::Parquet | Format::Arrow => {
            encode_batch(&span_batch(spans)?, format == Format::Parquet)
        }
        Format::Json => Ok(serde_json::to_vec(
            &spans.iter().map(ApiSpan::from).collect::<Vec<_>>(),
        )
        .unwrap_or_default()),
    }
}

pub fn logs(logs: &[LogRecord], format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Csv => {
            let headers = [
                "time",
                "severity_number",
                "severity_text",
                "body",
                "trace_id",
                "span_id",
                "attributes",
                "runner_attributes",
            ];
            csv_of(
                &headers,
                logs.iter().map(|log| {
                    let api = ApiLog::of(log, None);
                    vec![
                        api.time,
                        api.severity_number.to_string(),
                        api.severity_text,
                        api.body,
                        api.trace_id.unwrap_or_default(),
                        api.span_id.unwrap_or_default(),
                        json(&api.attributes),
                        json(&api.runner_attributes),
                    ]
                }),
            )
        }
        Format::Parquet | Format::Arrow => {
            encode_batch(&log_batch(logs)?, format == Format::Parquet)
        }
        Format::Json => Ok(serde_json::to_vec(
            &logs.iter().map(|l| ApiLog::of(l, None)).collect::<Vec<_>>(),
        )
        .unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_csv_cells_that_spreadsheets_would_run_are_text() {
        let csv = csv_of(
            &["name", "body"],
            [
                vec!["=HYPERLINK(\"http://x\")".to_owned(), "+1".to_owned()],
                vec!["-2+3".to_owned(), "@SUM(A1)".to_owned()],
                vec!["plain".to_owned(), "{\"a\":1}".to_owned()],
            ]
            .into_iter(),
        )
        .unwrap_or_default();
        let text = String::from_utf8(csv).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",'+1");
        assert_eq!(lines[2], "'-2+3,'@SUM(A1)");
        assert_eq!(lines[3], "plain,\"{\"\"a\"\":1}\"");
    }
}
