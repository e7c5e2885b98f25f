//! Job operations (`client.jobs()`): submit, get, query, wait for, retry, cancel and draw jobs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opentelemetry::trace::{Status as SpanStatus, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use tonic::transport::Channel;

use super::connection::Client;
use crate::error::Error;
use crate::ids::{id_of, id_proto, uuid_of};
use crate::propagation::{parent_context, trace_parent_of};
use crate::proto::tilebox::v1 as tb;
use crate::proto::workflows::v1 as wf;
use crate::task::{Task, encode_input};
use crate::task_identifier::type_display;

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
    /// Its progress indicators, summed per label over its tasks and attempts (`""` is the
    /// unlabeled one), by label.
    pub progress: Vec<JobProgress>,
    /// The automation that submitted it, if one did.
    pub automation: Option<uuid::Uuid>,
}

/// One of a job's progress indicators: what its tasks reported with
/// [`ExecutionContext::progress`](crate::ExecutionContext::progress).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobProgress {
    pub label: String,
    pub total: u64,
    pub done: u64,
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
            automation: job.automation_id.as_ref().map(uuid_of).transpose()?,
            progress: job
                .progress
                .into_iter()
                .map(|p| JobProgress {
                    label: p.label,
                    total: p.total,
                    done: p.done,
                })
                .collect(),
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
    /// Jobs any of these automations submitted.
    pub automations: Vec<uuid::Uuid>,
}

/// Page size of every paged query.
pub(super) const PAGE: i64 = 1000;

/// Job operations (`client.jobs()`); its span and log queries are in `spans.rs` and `logs.rs`.
#[derive(Clone)]
pub struct JobClient {
    pub(super) client: Client,
}

impl Client {
    pub fn jobs(&self) -> JobClient {
        JobClient {
            client: self.clone(),
        }
    }
}

impl JobClient {
    fn jobs(&self) -> wf::job_service_client::JobServiceClient<Channel> {
        wf::job_service_client::JobServiceClient::new(self.client.channel.clone())
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
            automation_ids: query.automations.iter().copied().map(id_proto).collect(),
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

    /// The job's task graph as an SVG document (`VisualizeJob`): subtasks inside their parent,
    /// `depends_on` as arrows pointing `direction` (`down`, `up`, `right` or `left`, as the
    /// Python client's `jobs().visualize(job, direction=…)`).
    pub async fn visualize(&self, job: &Job, direction: &str) -> Result<String, Error> {
        let request = wf::VisualizeJobRequest {
            job_id: Some(id_proto(job.id)),
            render_options: Some(wf::RenderOptions {
                direction: direction.to_owned(),
                padding: 5,
                ..wf::RenderOptions::default()
            }),
            ..wf::VisualizeJobRequest::default()
        };
        let diagram = self
            .jobs()
            .visualize_job(self.client.request(request))
            .await
            .map_err(Error::status("visualize job"))?
            .into_inner();
        String::from_utf8(diagram.svg)
            .map_err(|e| Error::Protocol(format!("the job's diagram is not UTF-8: {e}")))
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

pub(super) fn timestamp(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

fn timestamp_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}
