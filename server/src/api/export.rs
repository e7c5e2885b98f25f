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
    // The text columns, in the CSV's order (between the two times and the duration).
    let names = &SPAN_CSV[2..11];
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
    // The text columns, in the CSV's order (after the time and the severity number).
    let names = &LOG_CSV[2..];
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

/// The CSV columns of a span export (the Tilebox client's `to_pandas()` columns).
const SPAN_CSV: [&str; 12] = [
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

/// The CSV columns of a log export.
const LOG_CSV: [&str; 8] = [
    "time",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "attributes",
    "runner_attributes",
];

fn span_csv_row(span: &Span) -> Vec<String> {
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
}

fn log_csv_row(log: &LogRecord) -> Vec<String> {
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

/// CSV lines: `headers` (if any), then `rows` with their cells made safe.
fn csv_lines(
    headers: Option<&[&str]>,
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(headers) = headers {
        writer.write_record(headers)?;
    }
    for row in rows {
        writer.write_record(row.iter().map(|cell| csv_cell(cell).into_owned()))?;
    }
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| ExportError::Io(e.into_error()))
}

/// What an export file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spans,
    Logs,
}

/// One page of an export.
pub enum Rows<'a> {
    Spans(&'a [Span]),
    Logs(&'a [LogRecord]),
}

enum Sink {
    Csv,
    Arrow(arrow_ipc::writer::FileWriter<Vec<u8>>),
    Parquet(parquet::arrow::ArrowWriter<Vec<u8>>),
}

/// Writes an export file page by page: each page returns the bytes ready so far, so an export
/// is never held whole in memory — one page of rows and, for Parquet, the footer's row-group
/// metadata. (The writers only append to their buffer; taking what they wrote so far does not
/// disturb the offsets they keep for the footer.)
pub struct FileEncoder {
    format: Format,
    kind: Kind,
    sink: Option<Sink>,
}

impl FileEncoder {
    /// An encoder for a CSV, Parquet or Arrow file (`Format::Json` is served as pages).
    pub fn new(format: Format, kind: Kind) -> Self {
        FileEncoder {
            format,
            kind,
            sink: None,
        }
    }

    fn headers(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Spans => &SPAN_CSV,
            Kind::Logs => &LOG_CSV,
        }
    }

    fn batch(rows: &Rows<'_>) -> Result<RecordBatch, ExportError> {
        match rows {
            Rows::Spans(spans) => span_batch(spans),
            Rows::Logs(logs) => log_batch(logs),
        }
    }

    /// The writer for `schema`, made when the first page (or the end) comes.
    fn open(&self, batch: &RecordBatch) -> Result<Sink, ExportError> {
        Ok(match self.format {
            Format::Csv | Format::Json => Sink::Csv,
            Format::Arrow => Sink::Arrow(arrow_ipc::writer::FileWriter::try_new(
                Vec::new(),
                &batch.schema(),
            )?),
            Format::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                Sink::Parquet(parquet::arrow::ArrowWriter::try_new(
                    Vec::new(),
                    batch.schema(),
                    Some(props),
                )?)
            }
        })
    }

    /// Encodes one page; returns the bytes of the file ready so far and how large the page
    /// was in memory (its CSV text or Arrow arrays), from which the caller sizes the next page.
    pub fn page(&mut self, rows: Rows<'_>) -> Result<(Vec<u8>, usize), ExportError> {
        if matches!(self.format, Format::Csv | Format::Json) {
            let headers = self.sink.is_none().then(|| self.headers());
            self.sink = Some(Sink::Csv);
            let text = match rows {
                Rows::Spans(spans) => csv_lines(headers, spans.iter().map(span_csv_row))?,
                Rows::Logs(logs) => csv_lines(headers, logs.iter().map(log_csv_row))?,
            };
            let size = text.len();
            return Ok((text, size));
        }
        let batch = Self::batch(&rows)?;
        let size = batch.get_array_memory_size();
        if self.sink.is_none() {
            self.sink = Some(self.open(&batch)?);
        }
        let bytes = match &mut self.sink {
            Some(Sink::Arrow(writer)) => {
                writer.write(&batch)?;
                std::mem::take(writer.get_mut())
            }
            Some(Sink::Parquet(writer)) => {
                writer.write(&batch)?;
                // Each page is a row group of its own, written out now.
                writer.flush()?;
                std::mem::take(writer.inner_mut())
            }
            Some(Sink::Csv) | None => Vec::new(),
        };
        Ok((bytes, size))
    }

    /// The rest of the file (Arrow and Parquet footers; a CSV with no rows gets its header).
    pub fn finish(mut self) -> Result<Vec<u8>, ExportError> {
        if self.sink.is_none() {
            let empty = match self.kind {
                Kind::Spans => Rows::Spans(&[]),
                Kind::Logs => Rows::Logs(&[]),
            };
            let (head, _) = self.page(empty)?;
            return Ok([head, self.finish_open()?].concat());
        }
        self.finish_open()
    }

    fn finish_open(self) -> Result<Vec<u8>, ExportError> {
        match self.sink {
            Some(Sink::Arrow(mut writer)) => {
                writer.finish()?;
                Ok(writer.into_inner()?)
            }
            Some(Sink::Parquet(writer)) => Ok(writer.into_inner()?),
            Some(Sink::Csv) | None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_csv_cells_that_spreadsheets_would_run_are_text() {
        let csv = csv_lines(
            Some(&["name", "body"]),
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
