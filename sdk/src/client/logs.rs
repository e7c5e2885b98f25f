//! A job's logs read back (`client.jobs().query_logs(…)`): `LogQuery`, `LogRecord`, `Logs`.

use chrono::{DateTime, Utc};

use super::jobs::{JobClient, PAGE};
use super::otlp::{attributes_json, time_of, value_json};
use crate::error::Error;
use crate::ids::id_proto;
use crate::proto::tilebox::v1 as tb;
use crate::proto::workflows::v1 as wf;

/// Filters for [`JobClient::query_logs`].
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub task_id: Option<uuid::Uuid>,
    /// Severity groups to keep (empty: all).
    pub levels: Vec<LogLevel>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

impl JobClient {
    /// The job's log records, oldest first.
    pub async fn query_logs(&self, job: uuid::Uuid, query: &LogQuery) -> Result<Logs, Error> {
        let levels: Vec<i32> = query
            .levels
            .iter()
            .map(|level| match level {
                LogLevel::Trace => wf::LogSeverityGroup::Trace,
                LogLevel::Debug => wf::LogSeverityGroup::Debug,
                LogLevel::Info => wf::LogSeverityGroup::Info,
                LogLevel::Warning => wf::LogSeverityGroup::Warning,
                LogLevel::Error => wf::LogSeverityGroup::Error,
            } as i32)
            .collect();
        let mut logs = Vec::new();
        let mut after = None;
        loop {
            let request = wf::QueryJobLogsRequest {
                job_id: Some(id_proto(job)),
                page: Some(tb::Pagination {
                    limit: Some(PAGE),
                    starting_after: after.take(),
                }),
                sort_direction: Some(tb::SortDirection::Ascending as i32),
                task_id: query.task_id.map(id_proto),
                filters: Some(wf::LogQueryFilters {
                    severity_levels: levels.clone(),
                }),
            };
            let page = self
                .query_service()
                .query_job_logs(self.client.request(request))
                .await
                .map_err(Error::status("query logs"))?
                .into_inner();
            for resource_logs in page.resource_logs {
                let runner = attributes_json(
                    resource_logs
                        .resource
                        .as_ref()
                        .map(|r| r.attributes.as_slice())
                        .unwrap_or_default(),
                );
                for record in resource_logs
                    .scope_logs
                    .into_iter()
                    .flat_map(|s| s.log_records)
                {
                    logs.push(LogRecord::from_otlp(record, &runner));
                }
            }
            match page.next_page.and_then(|p| p.starting_after) {
                Some(next) if !next.uuid.is_empty() => after = Some(next),
                _ => return Ok(Logs(logs)),
            }
        }
    }
}

/// One log record of a job.
#[derive(Clone, Debug)]
pub struct LogRecord {
    pub time: DateTime<Utc>,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub runner_attributes: serde_json::Map<String, serde_json::Value>,
}

impl LogRecord {
    fn from_otlp(
        record: opentelemetry_proto::tonic::logs::v1::LogRecord,
        runner: &serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let time = if record.time_unix_nano > 0 {
            record.time_unix_nano
        } else {
            record.observed_time_unix_nano
        };
        LogRecord {
            time: time_of(time),
            severity_number: record.severity_number,
            severity_text: record.severity_text,
            body: match record.body.as_ref().map(value_json) {
                Some(serde_json::Value::String(text)) => text,
                Some(other) => other.to_string(),
                None => String::new(),
            },
            trace_id: hex::encode(&record.trace_id),
            span_id: hex::encode(&record.span_id),
            attributes: attributes_json(&record.attributes),
            runner_attributes: runner.clone(),
        }
    }
}

/// The log records of a job (iterable).
#[derive(Clone, Debug, Default)]
pub struct Logs(pub Vec<LogRecord>);

impl Logs {
    pub fn iter(&self) -> std::slice::Iter<'_, LogRecord> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Logs {
    type Item = &'a LogRecord;
    type IntoIter = std::slice::Iter<'a, LogRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
