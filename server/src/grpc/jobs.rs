//! `workflows.v1.JobService`: submit, find, query, retry and cancel jobs.

use app::model::graph::{Direction, GraphOptions, Theme, graph_svg, task_graph};
use tonic::{Request, Response, Status};

use super::convert::{self, status};
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::job_service_server::JobService;
use super::{WorkflowApi, now_ns, to_the_end, unimplemented_rpcs};
use crate::store::workflow::{NewJob, WorkflowJob, WorkflowJobQuery};

/// The workflow job `id`, or `NOT_FOUND`.
async fn existing_job(api: &WorkflowApi, id: uuid::Uuid) -> Result<WorkflowJob, Status> {
    api.store
        .workflow_job(id)
        .await
        .map_err(status)?
        .ok_or_else(|| Status::not_found(format!("job {id} not found")))
}

/// Automations one job query may filter by.
const MAX_AUTOMATION_IDS: usize = 100;

/// Page size when the client names none.
const DEFAULT_PAGE: i64 = 100;

#[tonic::async_trait]
impl JobService for WorkflowApi {
    async fn submit_job(
        &self,
        request: Request<wf::SubmitJobRequest>,
    ) -> Result<Response<wf::Job>, Status> {
        let request = request.into_inner();
        let tasks = match &request.tasks {
            Some(submissions) if !submissions.task_groups.is_empty() => {
                convert::task_specs(submissions)?
            }
            _ => convert::legacy_task_specs(&request.legacy_tasks)?,
        };
        // The client opens the job's root span and sends its traceparent; without one the job
        // still gets a trace of its own.
        let (trace_parent, trace_id) = match convert::trace_id_of(&request.trace_parent) {
            Some(trace_id) => (request.trace_parent.clone(), trace_id),
            None if request.trace_parent.is_empty() => convert::new_trace_parent(),
            None => {
                return Err(Status::invalid_argument(format!(
                    "trace_parent {:?} is not a W3C traceparent",
                    request.trace_parent
                )));
            }
        };
        let job = NewJob {
            name: request.job_name,
            trace_parent,
            trace_id,
            tasks,
        };
        let store = self.store.clone();
        let job = to_the_end(async move { store.submit_job(job, now_ns()).await }).await?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn get_job(
        &self,
        request: Request<wf::GetJobRequest>,
    ) -> Result<Response<wf::Job>, Status> {
        let id = convert::uuid_of(request.get_ref().job_id.as_ref(), "job_id")?;
        let job = existing_job(self, id).await?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn retry_job(
        &self,
        request: Request<wf::RetryJobRequest>,
    ) -> Result<Response<wf::RetryJobResponse>, Status> {
        let id = convert::uuid_of(request.get_ref().job_id.as_ref(), "job_id")?;
        let store = self.store.clone();
        let rescheduled = to_the_end(async move { store.retry_job(id, now_ns()).await }).await?;
        Ok(Response::new(wf::RetryJobResponse {
            num_tasks_rescheduled: rescheduled,
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<wf::CancelJobRequest>,
    ) -> Result<Response<wf::CancelJobResponse>, Status> {
        let id = convert::uuid_of(request.get_ref().job_id.as_ref(), "job_id")?;
        let store = self.store.clone();
        to_the_end(async move { store.cancel_job(id, now_ns()).await }).await?;
        Ok(Response::new(wf::CancelJobResponse {}))
    }

    async fn query_jobs(
        &self,
        request: Request<wf::QueryJobsRequest>,
    ) -> Result<Response<wf::QueryJobsResponse>, Status> {
        let request = request.into_inner();
        let filters = request.filters.unwrap_or_default();
        let page = request.page.unwrap_or_default();
        let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
        let interval = filters.time_interval.unwrap_or_default();
        let mut states = Vec::new();
        for state in &filters.states {
            states.push(
                convert::job_state_from_wire(*state).ok_or_else(|| {
                    Status::invalid_argument(format!("unknown job state {state}"))
                })?,
            );
        }
        if filters.automation_ids.len() > MAX_AUTOMATION_IDS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_AUTOMATION_IDS} automation_ids per query"
            )));
        }
        let query = WorkflowJobQuery {
            submitted_after_ns: interval.start_time.as_ref().map(convert::timestamp_ns),
            submitted_before_ns: interval.end_time.as_ref().map(convert::timestamp_ns),
            states,
            name: Some(
                app::model::filter_text("name", &filters.name).map_err(Status::invalid_argument)?,
            )
            .filter(|n| !n.is_empty()),
            cluster_slugs: filters.cluster_slugs,
            automation_ids: filters
                .automation_ids
                .iter()
                .map(|id| convert::uuid_of(Some(id), "automation_ids"))
                .collect::<Result<_, _>>()?,
            starting_after: convert::optional_uuid(page.starting_after.as_ref()),
            limit: limit as u32,
            ascending: request.sort_direction
                == super::proto::tilebox::v1::SortDirection::Ascending as i32,
        };
        let jobs = self
            .store
            .query_workflow_jobs(&query)
            .await
            .map_err(status)?;
        let next_page =
            (jobs.len() as i64 == limit).then(|| super::proto::tilebox::v1::Pagination {
                limit: Some(limit),
                starting_after: jobs.last().map(|job| convert::id(job.id)),
            });
        Ok(Response::new(wf::QueryJobsResponse {
            jobs: jobs.iter().map(convert::job).collect(),
            next_page,
        }))
    }

    /// The job's task graph as SVG (`app::model::graph`): subtasks inside their parent,
    /// `depends_on` as arrows, `render_options.direction` and `padding` honoured; `layout`
    /// (`dagre`/`elk`) and `sketchy` name D2 renderers jobtrace does not have: every layout is
    /// its own layered one, drawn plain.
    async fn visualize_job(
        &self,
        request: Request<wf::VisualizeJobRequest>,
    ) -> Result<Response<wf::Diagram>, Status> {
        let request = request.into_inner();
        let id = convert::uuid_of(request.job_id.as_ref(), "job_id")?;
        let job = existing_job(self, id).await?;
        let tasks: Vec<_> = self
            .store
            .job_tasks(id)
            .await
            .map_err(status)?
            .into_iter()
            .map(crate::query::task_view)
            .collect();
        let render = request.render_options.unwrap_or_default();
        let options = GraphOptions {
            direction: Direction::parse(&render.direction),
            padding: render.padding as f64,
            title: request.include_job_name.then_some(job.name),
        };
        let theme = match wf::WorkflowDiagramTheme::try_from(request.theme) {
            Ok(wf::WorkflowDiagramTheme::Dark | wf::WorkflowDiagramTheme::ConsoleDark) => {
                Theme::Dark
            }
            _ => Theme::Light,
        };
        let svg = graph_svg(&task_graph(&tasks, &options), theme, None);
        Ok(Response::new(wf::Diagram {
            svg: svg.into_bytes(),
        }))
    }

    unimplemented_rpcs! {
        list_job_tasks(wf::ListJobTasksRequest) -> wf::ListJobTasksResponse;
        get_job_prototype(wf::GetJobPrototypeRequest) -> wf::GetJobPrototypeResponse;
        clone_job(wf::CloneJobRequest) -> wf::Job;
        get_job_state_counts(wf::GetJobStateCountsRequest) -> wf::GetJobStateCountsResponse;
        get_task_queue_stats(wf::GetTaskQueueStatsRequest) -> wf::GetTaskQueueStatsResponse;
    }
}
