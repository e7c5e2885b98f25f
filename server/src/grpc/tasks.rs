//! `workflows.v1.TaskService`: what task runners call to claim, complete and fail tasks.

use tonic::{Request, Response, Status};

use super::convert;
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::task_service_server::TaskService;
use super::{ATTEMPT_HEADER, WorkflowApi, now_ns, reporter, to_the_end};
use crate::metrics::TaskEvent;
use crate::store::workflow::{ClaimRequest, ComputedTask};

/// Longest error text kept per failed attempt.
const MAX_ERROR_LEN: usize = 4096;

#[tonic::async_trait]
impl TaskService for WorkflowApi {
    async fn next_task(
        &self,
        request: Request<wf::NextTaskRequest>,
    ) -> Result<Response<wf::NextTaskResponse>, Status> {
        let reporter = reporter(&request)?;
        let request = request.into_inner();
        let computed = match request.computed_task {
            Some(task) => {
                let subtasks = match &task.sub_tasks {
                    Some(submissions) if !submissions.task_groups.is_empty() => {
                        convert::task_specs(submissions)?
                    }
                    _ => convert::legacy_task_specs(&task.legacy_sub_tasks)?,
                };
                Some(ComputedTask {
                    task_id: convert::uuid_of(task.id.as_ref(), "computed_task.id")?,
                    reporter: reporter.clone(),
                    progress: convert::progress_reports(&task.progress_updates),
                    subtasks,
                    display: task.display,
                })
            }
            None => None,
        };
        let draining = self.draining.load(std::sync::atomic::Ordering::SeqCst);
        let next_task_to_run = request.next_task_to_run.filter(|_| !draining);
        let claim = next_task_to_run.map(|next| ClaimRequest {
            cluster_slug: next.cluster_slug,
            identifiers: next
                .identifiers
                .into_iter()
                .map(|identifier| (identifier.name, identifier.version))
                .collect(),
            runner: reporter.runner.clone(),
            lease_ns: self.lease_ns,
        });
        let reported = computed.is_some();
        let store = self.store.clone();
        let claimed =
            to_the_end(async move { store.next_task(computed, claim.as_ref(), now_ns()).await })
                .await?;
        let metrics = crate::metrics::get();
        if reported {
            metrics.task(TaskEvent::computed, 1);
        }
        if claimed.is_some() {
            metrics.task(TaskEvent::claimed, 1);
        }
        let attempt = claimed.as_ref().map(|task| task.attempt);
        let mut response = Response::new(match claimed {
            Some(task) => wf::NextTaskResponse {
                next_task: Some(convert::claimed_task(task)),
                idling: None,
            },
            // Without a suggested duration the client polls in a busy loop.
            None => wf::NextTaskResponse {
                next_task: None,
                idling: Some(wf::IdlingResponse {
                    suggested_idling_duration: Some(convert::duration(self.idle_ns)),
                }),
            },
        });
        if let Some(attempt) = attempt {
            // The runner names this attempt in what it reports on the task.
            response.metadata_mut().insert(
                ATTEMPT_HEADER,
                attempt
                    .to_string()
                    .parse()
                    .map_err(|_| Status::internal("attempt number is not valid metadata"))?,
            );
        }
        Ok(response)
    }

    async fn task_failed(
        &self,
        request: Request<wf::TaskFailedRequest>,
    ) -> Result<Response<wf::TaskStateResponse>, Status> {
        let reporter = reporter(&request)?;
        let request = request.into_inner();
        let task_id = convert::uuid_of(request.task_id.as_ref(), "task_id")?;
        let mut error = request.display;
        if error.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        let progress = convert::progress_reports(&request.progress_updates);
        let store = self.store.clone();
        let state = to_the_end(async move {
            let workflow_error = request.was_workflow_error;
            store
                .task_failed(
                    task_id,
                    &reporter,
                    &error,
                    workflow_error,
                    &progress,
                    now_ns(),
                )
                .await
        })
        .await?;
        crate::metrics::get().task(TaskEvent::failed, 1);
        Ok(Response::new(wf::TaskStateResponse {
            state: state.code(),
        }))
    }

    async fn extend_task_lease(
        &self,
        request: Request<wf::TaskLeaseRequest>,
    ) -> Result<Response<wf::TaskLease>, Status> {
        let reporter = reporter(&request)?;
        let request = request.into_inner();
        let task_id = convert::uuid_of(request.task_id.as_ref(), "task_id")?;
        let requested = request
            .requested_lease
            .as_ref()
            .map(convert::duration_ns)
            .unwrap_or(self.lease_ns);
        // Granted up to the configured lease: a runner that dies loses its task that soon.
        let granted = requested.clamp(1_000_000_000, self.lease_ns.max(1_000_000_000));
        let store = self.store.clone();
        let lease = to_the_end(async move {
            store
                .extend_lease(task_id, &reporter, granted, now_ns())
                .await
        })
        .await?;
        if lease.is_none() {
            crate::metrics::get().task(TaskEvent::lease_refused, 1);
        }
        Ok(Response::new(match lease {
            Some(lease_ns) => convert::lease(lease_ns),
            // A zero lease tells the runner to stop extending: the task is no longer its own
            // (it finished, or its lease expired and another attempt holds it now).
            None => wf::TaskLease {
                lease: Some(convert::duration(0)),
                recommended_wait_until_next_extension: Some(convert::duration(0)),
            },
        }))
    }
}
