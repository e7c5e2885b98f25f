//! The client: submit, find, query, retry and cancel jobs; read a job's spans and logs back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opentelemetry::trace::{
    SpanContext, SpanId, Status as SpanStatus, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as OtlpKeyValue, any_value};
use tonic::transport::{Channel, Endpoint};

use crate::error::Error;
use crate::proto::tilebox::v1 as tb;
use crate::proto::workflows::v1 as wf;
use crate::runner::TaskRunner;
use crate::task::{Task, encode_input, type_display};
use crate::telemetry::{Telemetry, TelemetryConfig};

/// A connection to a jobtrace (or Tilebox) server. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) channel: Channel,
    token: String,
    url: String,
    pub(crate) telemetry: Telemetry,
}

impl Client {
    /// Connects (lazily: the first call dials, and every call after a failure dials again) to
    /// `url`, e.g. `http://127.0.0.1:8080`. Telemetry goes to the same server and to what
    /// [`TelemetryConfig::from_env`] adds. Must be called inside a Tokio runtime.
    pub fn new(url: &str, token: &str) -> Result<Self, Error> {
        Self::with_telemetry(url, token, TelemetryConfig::from_env())
    }

    /// Like [`Client::new`] with explicit telemetry settings (service name, extra exporters).
    pub fn with_telemetry(url: &str, token: &str, config: TelemetryConfig) -> Result<Self, Error> {
        let url = url.trim_end_matches('/').to_owned();
        let connect_error = |message: String| Error::Connect {
            url: url.clone(),
            message,
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            // A frozen server must not hold a runner (and its lease extensions) for long.
            .timeout(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let channel = endpoint.connect_lazy();
        let telemetry = Telemetry::start(&url, token, config)?;
        Ok(Client {
            channel,
            token: token.to_owned(),
            url,
            telemetry,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub fn jobs(&self) -> JobClient {
        JobClient {
            client: self.clone(),
        }
    }

    /// A runner for `cluster` (`""`: the default cluster); register task types on it, then run.
    pub fn runner(&self, cluster: &str) -> TaskRunner {
        TaskRunner::new(self.clone(), cluster)
    }

    /// A request carrying the bearer token, as the Python client sends it.
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if !self.token.is_empty()
            && let Ok(value) = format!("Bearer {}", self.token).parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }
}

/// Job states as the server reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    Submitted,
    Running,
    Started,
    Completed,
    Failed,
    Canceled,
    Unknown,
}

impl JobState {
    fn from_proto(code: i32) -> Self {
        match wf::JobState::try_from(code) {
            Ok(wf::JobState::Submitted) => JobState::Submitted,
            Ok(wf::JobState::Running) => JobState::Running,
            Ok(wf::JobState::Started) => JobState::Started,
            Ok(wf::JobState::Completed) => JobState::Completed,
            Ok(wf::JobState::Failed) => JobState::Failed,
            Ok(wf::JobState::Canceled) => JobState::Canceled,
            _ => JobState::Unknown,
        }
    }

    fn to_proto(self) -> wf::JobState {
        match self {
            JobState::Submitted => wf::JobState::Submitted,
            JobState::Running => wf::JobState::Running,
            JobState::Started => wf::JobState::Started,
            JobState::Completed => wf::JobState::Completed,
            JobState::Failed => wf::JobState::Failed,
            JobState::Canceled => wf::JobState::Canceled,
            JobState::Unknown => wf::JobState::Unspecified,
        }
    }

    /// Completed, failed or canceled: nothing will run for it any more (until a retry).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Canceled
        )
    }
}

/// A submitted job.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: uuid::Uuid,
    pub name: String,
    pub state: JobState,
    pub trace_parent: String,
    pub canceled: bool,
    pub submitted_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub total_tasks: u64,
}

impl Job {
    fn from_proto(job: wf::Job) -> Result<Self, Error> {
        let total_tasks = job
            .execution_stats
            .as_ref()
            .map(|stats| stats.total_tasks)
            .unwrap_or_default();
        Ok(Job {
            id: id_of(job.id.as_ref())?,
            name: job.name,
            state: JobState::from_proto(job.state),
            trace_parent: job.trace_parent,
            canceled: job.canceled,
            submitted_at: job.submitted_at.as_ref().and_then(timestamp),
            started_at: job.started_at.as_ref().and_then(timestamp),
            total_tasks,
        })
    }
}

/// Filters for [`JobClient::query`]; empty means all jobs.
#[derive(Clone, Debug, Default)]
pub struct JobQuery {
    pub states: Vec<JobState>,
    /// Substring of the job name.
    pub name: Option<String>,
    pub clusters: Vec<String>,
    /// Jobs submitted in `[from, to)`.
    pub submitted: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

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

/// Job operations (`client.jobs()`).
#[derive(Clone)]
pub struct JobClient {
    client: Client,
}

const PAGE: i64 = 1000;

impl JobClient {
    fn jobs(&self) -> wf::job_service_client::JobServiceClient<Channel> {
        wf::job_service_client::JobServiceClient::new(self.client.channel.clone())
    }

    fn telemetry(
        &self,
    ) -> wf::telemetry_query_service_client::TelemetryQueryServiceClient<Channel> {
        wf::telemetry_query_service_client::TelemetryQueryServiceClient::new(
            self.client.channel.clone(),
        )
    }

    /// Submits a job whose root task is `task`. Opens the job's root span `job/<name>` and sends
    /// its traceparent, so every attempt of every task lands in one trace.
    pub async fn submit<T: Task>(
        &self,
        name: &str,
        task: &T,
        cluster: &str,
        max_retries: i64,
    ) -> Result<Job, Error> {
        let identifier = T::identifier();
        identifier.validate()?;
        let submissions = wf::TaskSubmissions {
            task_groups: vec![wf::TaskSubmissionGroup {
                dependencies_on_other_groups: Vec::new(),
                inputs: vec![encode_input(task)?],
                identifier_pointers: vec![0],
                cluster_slug_pointers: vec![0],
                display_pointers: vec![0],
                max_retries_values: vec![max_retries],
                optional_values: vec![false],
            }],
            cluster_slug_lookup: vec![cluster.to_owned()],
            identifier_lookup: vec![wf::TaskIdentifier {
                name: identifier.name,
                version: identifier.version,
            }],
            display_lookup: vec![type_display::<T>()],
        };
        let span = self.client.telemetry.tracer().start(format!("job/{name}"));
        let cx = Context::current_with_span(span);
        let trace_parent = trace_parent_of(cx.span().span_context());
        let request = wf::SubmitJobRequest {
            tasks: Some(submissions),
            job_name: name.to_owned(),
            trace_parent,
            automation_id: None,
            legacy_tasks: Vec::new(),
        };
        let answer = self
            .jobs()
            .submit_job(self.client.request(request))
            .await
            .map_err(Error::status("submit job"));
        let span = cx.span();
        match &answer {
            Ok(job) => {
                if let Some(id) = job.get_ref().id.as_ref().and_then(|id| uuid_of(id).ok()) {
                    span.set_attribute(KeyValue::new("job_id", id.to_string()));
                }
            }
            Err(error) => span.set_status(SpanStatus::error(error.to_string())),
        }
        span.end();
        Job::from_proto(answer?.into_inner())
    }

    pub async fn get(&self, id: uuid::Uuid) -> Result<Job, Error> {
        let request = wf::GetJobRequest {
            job_id: Some(id_proto(id)),
        };
        let job = self
            .jobs()
            .get_job(self.client.request(request))
            .await
            .map_err(Error::status("get job"))?;
        Job::from_proto(job.into_inner())
    }

    /// All jobs matching `query`, newest first, read page by page.
    pub async fn query(&self, query: &JobQuery) -> Result<Vec<Job>, Error> {
        let filters = wf::QueryFilters {
            time_interval: query.submitted.map(|(from, to)| tb::TimeInterval {
                start_time: Some(timestamp_proto(from)),
                end_time: Some(timestamp_proto(to)),
                start_exclusive: false,
                end_inclusive: false,
            }),
            states: query.states.iter().map(|s| s.to_proto() as i32).collect(),
            name: query.name.clone().unwrap_or_default(),
            cluster_slugs: query.clusters.clone(),
            ..wf::QueryFilters::default()
        };
        let mut jobs = Vec::new();
        let mut after = None;
        loop {
            let request = wf::QueryJobsRequest {
                filters: Some(filters.clone()),
                page: Some(tb::Pagination {
                    limit: Some(PAGE),
                    starting_after: after.take(),
                }),
                sort_direction: tb::SortDirection::Descending as i32,
            };
            let page = self
                .jobs()
                .query_jobs(self.client.request(request))
                .await
                .map_err(Error::status("query jobs"))?
                .into_inner();
            for job in page.jobs {
                jobs.push(Job::from_proto(job)?);
            }
            match page.next_page.and_then(|p| p.starting_after) {
                Some(next) if !next.uuid.is_empty() => after = Some(next),
                _ => return Ok(jobs),
            }
        }
    }

    /// Re-queues the job's failed tasks; returns how many.
    pub async fn retry(&self, job: &Job) -> Result<i64, Error> {
        let cx = self.job_span(job, "retry_job");
        let request = wf::RetryJobRequest {
            job_id: Some(id_proto(job.id)),
        };
        let answer = self
            .jobs()
            .retry_job(self.client.request(request))
            .await
            .map_err(Error::status("retry job"));
        match &answer {
            Ok(done) => cx.span().add_event(
                "retried_succeeded",
                vec![KeyValue::new(
                    "num_tasks_rescheduled",
                    done.get_ref().num_tasks_rescheduled,
                )],
            ),
            Err(error) => cx.span().set_status(SpanStatus::error(error.to_string())),
        }
        cx.span().end();
        Ok(answer?.into_inner().num_tasks_rescheduled)
    }

    pub async fn cancel(&self, job: &Job) -> Result<(), Error> {
        let cx = self.job_span(job, "cancel_job");
        let request = wf::CancelJobRequest {
            job_id: Some(id_proto(job.id)),
        };
        let answer = self
            .jobs()
            .cancel_job(self.client.request(request))
            .await
            .map_err(Error::status("cancel job"));
        match &answer {
            Ok(_) => cx.span().add_event("cancel_succeeded", Vec::new()),
            Err(error) => cx.span().set_status(SpanStatus::error(error.to_string())),
        }
        cx.span().end();
        answer.map(|_| ())
    }

    /// A span in the job's trace (under its root span) for an operation on the job.
    fn job_span(&self, job: &Job, name: &'static str) -> Context {
        let parent = parent_context(&job.trace_parent);
        let span = self
            .client
            .telemetry
            .tracer()
            .start_with_context(name, &parent);
        parent.with_span(span)
    }

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
                .telemetry()
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
                .telemetry()
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

    /// Polls until the job is finished (completed, failed or canceled) or `timeout` passes.
    pub async fn wait_until_finished(
        &self,
        id: uuid::Uuid,
        timeout: Duration,
    ) -> Result<Job, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let job = self.get(id).await?;
            if job.state.is_finished() || tokio::time::Instant::now() >= deadline {
                return Ok(job);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
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

pub(crate) fn id_proto(id: uuid::Uuid) -> tb::Id {
    tb::Id {
        uuid: id.as_bytes().to_vec(),
    }
}

pub(crate) fn uuid_of(id: &tb::Id) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::from_slice(&id.uuid)
        .map_err(|_| Error::Protocol(format!("an id of {} bytes", id.uuid.len())))
}

pub(crate) fn id_of(id: Option<&tb::Id>) -> Result<uuid::Uuid, Error> {
    id.map_or_else(|| Err(Error::Protocol("a missing id".to_owned())), uuid_of)
}

fn timestamp(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

fn timestamp_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

fn time_of(unix_nanos: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::try_from(unix_nanos).unwrap_or(i64::MAX))
}

/// `00-<trace id>-<span id>-<flags>`, the W3C form the server stores on the job.
pub(crate) fn trace_parent_of(context: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    )
}

/// The remote parent a traceparent names; an empty context if it is malformed.
pub(crate) fn parent_context(trace_parent: &str) -> Context {
    let parts: Vec<&str> = trace_parent.trim().split('-').collect();
    let parsed = match parts.as_slice() {
        [_, trace, span, flags, ..] => TraceId::from_hex(trace).ok().zip(
            SpanId::from_hex(span)
                .ok()
                .zip(u8::from_str_radix(flags, 16).ok()),
        ),
        _ => None,
    };
    match parsed {
        Some((trace_id, (span_id, flags))) => {
            Context::new().with_remote_span_context(SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::new(flags) | TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            ))
        }
        None => Context::new(),
    }
}

fn attributes_json(attributes: &[OtlpKeyValue]) -> serde_json::Map<String, serde_json::Value> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map_or(serde_json::Value::Null, value_json);
            (kv.key.clone(), value)
        })
        .collect()
}

fn value_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &value.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => J::from(*d),
        Some(any_value::Value::BytesValue(b)) => J::String(hex::encode(b)),
        Some(any_value::Value::ArrayValue(array)) => {
            J::Array(array.values.iter().map(value_json).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => J::Object(attributes_json(&list.values)),
        _ => J::Null,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_trace_parent_round_trip() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parent_context(parent);
        let span = cx.span();
        assert_eq!(trace_parent_of(span.span_context()), parent);
        assert!(!parent_context("garbage").span().span_context().is_valid());
    }
}
