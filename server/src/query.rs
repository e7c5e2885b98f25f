//! The dashboard's query port, served by the trace store.

use app::api::QueryPort;
use app::error::AppError;
use app::model::{
    Job, JobFilter, JobListQuery, JobLogQuery, JobPage, JobProgress, JobSort, JobTrace, LogRecord,
    Span, TaskAttempt, TaskView, UNATTACHED_LOGS,
};

use crate::shared_reads::SharedReads;
use crate::store::workflow::TaskRecord;
use crate::store::{
    self, JobRef, LogPageQuery, SharedStore, SpanId, SpanPageQuery, StoreError, TraceId,
};

/// The store, and job traces read once for every render asking at the same time (200 renders
/// of one 5,000-span job page read its spans 200 times: `shared_reads`).
pub struct StoreQueries(pub SharedStore, SharedReads<String, JobTrace>);

/// Traces kept for callers still queued on them at most.
const SHARED_TRACES: usize = 64;

impl StoreQueries {
    pub fn new(store: SharedStore) -> Self {
        StoreQueries(
            store,
            SharedReads::new(std::time::Duration::ZERO, SHARED_TRACES),
        )
    }
}

fn to_app_error(error: StoreError) -> AppError {
    match error {
        StoreError::InvalidCursor => AppError::BadRequest("invalid cursor".to_owned()),
        StoreError::NotFound(what) => AppError::NotFound(what),
        StoreError::InvalidArgument(why) => AppError::BadRequest(why),
        other => {
            tracing::error!(error = %other, "query failed");
            AppError::Store
        }
    }
}

/// The analytics window of `days` days: 1 to [`app::model::MAX_STAT_DAYS`].
fn stat_window(days: u32) -> Result<(i64, u32), AppError> {
    if !(1..=app::model::MAX_STAT_DAYS).contains(&days) {
        return Err(AppError::BadRequest(format!(
            "days {days}: 1 to {}",
            app::model::MAX_STAT_DAYS
        )));
    }
    Ok((app::model::window_start(crate::now_ns(), days), days))
}

/// Every task identifier's runs over the last `days` days, shared by the page and the REST API.
pub async fn task_analytics(
    store: &SharedStore,
    days: u32,
) -> Result<app::model::TaskAnalytics, AppError> {
    let (first, days) = stat_window(days)?;
    let (totals, daily) = store
        .task_overview_rows(first)
        .await
        .map_err(to_app_error)?;
    Ok(app::model::task_overview(&totals, &daily, first, days))
}

/// One task identifier's runs over the last `days` days, with its slowest runs.
pub async fn task_detail(
    store: &SharedStore,
    name: &str,
    days: u32,
) -> Result<app::model::TaskDetail, AppError> {
    let (first, days) = stat_window(days)?;
    let name =
        app::model::filter_text("the task identifier", name).map_err(AppError::BadRequest)?;
    let name = name.as_str();
    let rows = store
        .task_stat_rows(first, Some(name))
        .await
        .map_err(to_app_error)?;
    let slowest = store
        .slow_runs(name, first, app::model::SLOW_RUNS as i64)
        .await
        .map_err(to_app_error)?;
    app::model::task_detail(name, &rows, slowest, first, days).ok_or_else(|| {
        AppError::NotFound(format!(
            "task {:?} (no runs in the last {days} days)",
            name.chars().take(64).collect::<String>()
        ))
    })
}

/// A job with the skeleton of its trace, shared by the page and the REST API.
pub async fn load_job_trace(store: &SharedStore, id: &str) -> Result<JobTrace, AppError> {
    // The id as the link had it, cut: a 10,000-character id came back whole in the page.
    let not_found =
        || AppError::NotFound(format!("job {:?}", id.chars().take(64).collect::<String>()));
    let job_ref = JobRef::parse(id).ok_or_else(not_found)?;
    let (job, trace_id) = store
        .find_job_trace(job_ref)
        .await
        .map_err(to_app_error)?
        .ok_or_else(not_found)?;
    let tasks = job_tasks(store, &job);
    let unattached = LogPageQuery {
        unattached: true,
        limit: UNATTACHED_LOGS,
        ..LogPageQuery::default()
    };
    let outline = async {
        tokio::try_join!(
            store.trace_outline(trace_id),
            store.trace_log_marks(trace_id),
            store.log_page(Some(trace_id), &unattached),
        )
        .map_err(to_app_error)
    };
    let progress = job_progress(store, &job);
    let ((spans, log_marks, unattached_logs), tasks, progress) =
        tokio::try_join!(outline, tasks, progress)?;
    Ok(JobTrace {
        job,
        spans,
        log_marks,
        unattached_logs: unattached_logs.into_iter().map(|(_, log)| log).collect(),
        tasks,
        previous_run: None,
        progress,
    })
}

/// A workflow job's tasks with their attempts (none for a trace-only job).
pub async fn job_tasks(store: &SharedStore, job: &Job) -> Result<Vec<TaskView>, AppError> {
    match (&job.tasks, uuid::Uuid::parse_str(&job.id)) {
        (Some(_), Ok(id)) => Ok(store
            .job_tasks(id)
            .await
            .map_err(to_app_error)?
            .into_iter()
            .map(task_view)
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// A workflow job's progress indicators (none for a trace-only job).
async fn job_progress(store: &SharedStore, job: &Job) -> Result<Vec<JobProgress>, AppError> {
    let (Some(_), Ok(id)) = (&job.tasks, uuid::Uuid::parse_str(&job.id)) else {
        return Ok(Vec::new());
    };
    let workflow = store.workflow_job(id).await.map_err(to_app_error)?;
    Ok(workflow
        .map(|job| job.progress)
        .unwrap_or_default()
        .into_iter()
        .map(|p| JobProgress {
            label: p.label,
            total: p.total,
            done: p.done,
        })
        .collect())
}

/// The latest job of the same name that started before `job`.
async fn previous_run(store: &SharedStore, job: &Job) -> Result<Option<String>, AppError> {
    let query = JobListQuery {
        filter: JobFilter {
            name: Some(job.name.clone()),
            to_ns: Some(job.start_ns),
            ..JobFilter::default()
        },
        sort: JobSort::Newest,
        cursor: None,
        limit: 50,
    };
    let page = store.list_jobs(&query).await.map_err(to_app_error)?;
    // The name filter matches substrings: keep exact names only.
    Ok(page
        .jobs
        .into_iter()
        .find(|j| j.name == job.name && j.id != job.id)
        .map(|j| j.id))
}

/// A stored task with its attempts, as the dashboard and the REST API show it.
pub fn task_view(task: TaskRecord) -> TaskView {
    TaskView {
        id: task.id.to_string(),
        parent_id: task.parent_id.map(|id| id.to_string()),
        depends_on: task.depends_on.iter().map(ToString::to_string).collect(),
        display: task.display,
        summary: task.input_summary,
        identifier_name: task.identifier_name,
        identifier_version: task.identifier_version,
        cluster: task.cluster_slug,
        state: task.state.as_str().to_owned(),
        optional: task.optional,
        max_retries: task.max_retries,
        retry_count: task.retry_count,
        submitted_ns: task.submitted_ns,
        started_ns: task.started_ns,
        stopped_ns: task.stopped_ns,
        attempts: task
            .attempts
            .into_iter()
            .map(|attempt| TaskAttempt {
                number: attempt.number,
                runner: attempt.runner,
                started_ns: attempt.started_ns,
                stopped_ns: attempt.stopped_ns,
                outcome: attempt.outcome.as_str().to_owned(),
                error: attempt.error,
            })
            .collect(),
    }
}

impl StoreQueries {
    /// One page of a trace's log records (with their store ids) as the page's errors.
    async fn log_page(
        &self,
        trace: TraceId,
        query: &LogPageQuery,
    ) -> Result<Vec<(i64, LogRecord)>, AppError> {
        self.0
            .log_page(Some(trace), query)
            .await
            .map_err(to_app_error)
    }
}

/// A trace id from a page's request: 32 hex digits, or a clear 400.
fn trace_param(trace_id: &str) -> Result<TraceId, AppError> {
    TraceId::parse_hex(trace_id)
        .ok_or_else(|| AppError::BadRequest(format!("trace id {trace_id:?}")))
}

#[async_trait::async_trait]
impl QueryPort for StoreQueries {
    /// The first page also counts the filter's jobs by state (the list's chips).
    async fn list_jobs(&self, mut query: JobListQuery) -> Result<JobPage, AppError> {
        query.filter = query.filter.resolved(crate::now_ns());
        let mut page = self.0.list_jobs(&query).await.map_err(to_app_error)?;
        if query.cursor.is_none() {
            page.state_counts = self
                .0
                .job_state_counts(&query.filter)
                .await
                .map_err(to_app_error)?;
        }
        Ok(page)
    }

    async fn job_trace(&self, id: &str) -> Result<JobTrace, AppError> {
        let read = async {
            let mut trace = load_job_trace(&self.0, id).await?;
            trace.previous_run = previous_run(&self.0, &trace.job).await?;
            Ok(trace)
        };
        self.1.get(&id.to_owned(), read).await
    }

    async fn span(&self, trace_id: &str, span_id: &str) -> Result<Span, AppError> {
        let not_found = || AppError::NotFound(format!("span {span_id:?} of trace {trace_id:?}"));
        let trace = TraceId::parse_hex(trace_id).ok_or_else(not_found)?;
        let span = SpanId::parse_hex(span_id).ok_or_else(not_found)?;
        let query = SpanPageQuery {
            span_ids: vec![span],
            limit: 1,
            ..SpanPageQuery::default()
        };
        let mut found = self
            .0
            .span_page(Some(trace), &query)
            .await
            .map_err(to_app_error)?;
        found.pop().ok_or_else(not_found)
    }

    async fn span_logs(
        &self,
        trace_id: &str,
        span_ids: &[String],
        limit: u32,
    ) -> Result<Vec<LogRecord>, AppError> {
        let trace = trace_param(trace_id)?;
        let span_ids = span_ids
            .iter()
            .map(|id| {
                SpanId::parse_hex(id).ok_or_else(|| AppError::BadRequest(format!("span id {id:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if span_ids.is_empty() {
            return Ok(Vec::new());
        }
        // A page per chunk of ids keeps the statement's parameter count bounded (SQLite allows
        // 32,766); the chunks' lines are merged by time and cut at `limit`.
        let mut logs = Vec::new();
        for chunk in span_ids.chunks(1000) {
            let query = LogPageQuery {
                span_ids: chunk.to_vec(),
                limit,
                ..LogPageQuery::default()
            };
            logs.extend(self.log_page(trace, &query).await?);
        }
        logs.sort_by_key(|(id, log)| (log.time_ns, *id));
        logs.truncate(limit as usize);
        Ok(logs.into_iter().map(|(_, log)| log).collect())
    }

    async fn spans_with_attributes(
        &self,
        trace_id: &str,
        terms: &[(String, String)],
    ) -> Result<Vec<String>, AppError> {
        let trace = trace_param(trace_id)?;
        self.0
            .span_ids_with_attributes(trace, terms)
            .await
            .map_err(to_app_error)
    }

    async fn spans_with_value(&self, trace_id: &str, text: &str) -> Result<Vec<String>, AppError> {
        let trace = trace_param(trace_id)?;
        self.0
            .span_ids_with_value(trace, text)
            .await
            .map_err(to_app_error)
    }

    async fn trace_logs(
        &self,
        trace_id: &str,
        query: &JobLogQuery,
        limit: u32,
    ) -> Result<Vec<LogRecord>, AppError> {
        let trace = trace_param(trace_id)?;
        let query = LogPageQuery {
            severities: if query.floor > 0 {
                vec![(query.floor, i32::MAX)]
            } else {
                Vec::new()
            },
            text: (!query.text.is_empty()).then(|| query.text.clone()),
            task_id: (!query.task_id.is_empty()).then(|| query.task_id.clone()),
            limit,
            ..LogPageQuery::default()
        };
        let page = self.log_page(trace, &query).await?;
        Ok(page.into_iter().map(|(_, log)| log).collect())
    }

    async fn retry_job(&self, job_id: &str) -> Result<i64, AppError> {
        let id = workflow_job_id(job_id)?;
        let store = self.0.clone();
        let retried = store::to_the_end(async move { store.retry_job(id, crate::now_ns()).await })
            .await
            .map_err(to_app_error)?;
        tracing::info!(job = %id, retried, "job retried from the dashboard");
        Ok(retried)
    }

    async fn cancel_job(&self, job_id: &str) -> Result<(), AppError> {
        let id = workflow_job_id(job_id)?;
        let store = self.0.clone();
        store::to_the_end(async move { store.cancel_job(id, crate::now_ns()).await })
            .await
            .map_err(to_app_error)?;
        tracing::info!(job = %id, "job canceled from the dashboard");
        Ok(())
    }

    async fn task_analytics(&self, days: u32) -> Result<app::model::TaskAnalytics, AppError> {
        task_analytics(&self.0, days).await
    }

    async fn task_detail(&self, name: &str, days: u32) -> Result<app::model::TaskDetail, AppError> {
        task_detail(&self.0, name, days).await
    }

    async fn automations(&self) -> Result<Vec<app::model::AutomationView>, AppError> {
        use crate::store::workflow::WorkflowJobQuery;
        let automations = self.0.automations().await.map_err(to_app_error)?;
        let mut views = Vec::with_capacity(automations.len());
        for automation in automations {
            let query = WorkflowJobQuery {
                automation_ids: vec![automation.id],
                limit: app::model::AUTOMATION_JOBS,
                ..WorkflowJobQuery::default()
            };
            let jobs = self
                .0
                .query_workflow_jobs(&query)
                .await
                .map_err(to_app_error)?;
            let task = &automation.task;
            views.push(app::model::AutomationView {
                id: automation.id.to_string(),
                name: automation.name,
                task: format!("{}@{}", task.identifier_name, task.identifier_version),
                cluster: task.cluster_slug.clone(),
                created_ns: automation.created_ns,
                triggers: automation
                    .triggers
                    .into_iter()
                    .map(|t| app::model::CronTriggerView {
                        next_ns: t.next_run_ns(),
                        schedule: t.schedule,
                    })
                    .collect(),
                storage_triggers: automation
                    .storage_triggers
                    .into_iter()
                    .map(|t| app::model::StorageTriggerView {
                        location: storage_location_text(&t.location.spec),
                        glob: t.glob,
                    })
                    .collect(),
                recent_jobs: jobs
                    .into_iter()
                    .map(|job| app::model::AutomationJob {
                        id: job.id.to_string(),
                        state: job.state,
                        trigger_ns: job.trigger_ns.unwrap_or(job.submitted_ns),
                    })
                    .collect(),
            });
        }
        Ok(views)
    }
}

/// A storage location as people write it.
fn storage_location_text(spec: &crate::store::workflow::NewStorageLocation) -> String {
    use crate::store::workflow::StorageKind;
    match spec.kind {
        StorageKind::S3 => format!("s3://{}", spec.location),
        StorageKind::Gcs => format!("gs://{}", spec.location),
        StorageKind::Azure => format!("azure://{}", spec.location),
        StorageKind::Local => spec.location.clone(),
    }
}

/// A workflow job's id as the dashboard sends it.
fn workflow_job_id(text: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(text).map_err(|_| AppError::NotFound(format!("workflow job {text:?}")))
}
