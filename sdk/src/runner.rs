//! The task runner: claims tasks of its registered types from a cluster, executes each attempt
//! in a span of the job's trace, keeps the lease alive, and reports the outcome.
//!
//! Tasks execute on a dedicated thread each (task bodies are synchronous, like the Python
//! client's); the runner's async loop only talks to the server. A signal (SIGTERM/SIGINT) stops
//! claiming and hands a running task back to the server to be queued again; an unreachable
//! server (restarting, network) is retried with backoff instead of ending the runner.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Status as SpanStatus, TraceContextExt as _, Tracer as _};
use tokio::sync::{oneshot, watch};
use tonic::transport::Channel;

use crate::client::{Client, id_of, id_proto, parent_context};
use crate::context::{CurrentTask, ExecutionContext, JobRef, Subtask};
use crate::error::{Error, TaskError};
use crate::proto::workflows::v1 as wf;
use crate::task::{Registered, Task, TaskIdentifier};
use crate::telemetry::{Telemetry, enter_task};

/// Why [`TaskRunner::run`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunUntil {
    /// Until the server has no task for this runner (`run_all`).
    Idle,
    /// Until a shutdown signal (`run_forever`).
    Stopped,
}

/// Runs tasks of the registered types from one cluster.
pub struct TaskRunner {
    client: Client,
    cluster: String,
    tasks: HashMap<TaskIdentifier, Arc<Registered>>,
    stop: watch::Sender<bool>,
}

/// Consecutive transient failures tolerated while reporting a computed task (about 4 minutes
/// with the backoff's 10 s cap).
const MAX_REPORT_TRIES: u32 = 30;

/// A computed task not yet acknowledged by the server, and the lease keeper it needs until then.
struct Pending {
    computed: wf::ComputedTask,
    tries: u32,
    lease: tokio::task::JoinHandle<()>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.lease.abort();
    }
}

/// What executing one attempt produced.
enum Outcome {
    Computed {
        display: String,
        subtasks: Vec<Subtask>,
    },
    Failed {
        display: String,
    },
}

impl TaskRunner {
    pub(crate) fn new(client: Client, cluster: &str) -> Self {
        TaskRunner {
            client,
            cluster: cluster.to_owned(),
            tasks: HashMap::new(),
            stop: watch::channel(false).0,
        }
    }

    /// Makes tasks of type `T` runnable here.
    #[must_use]
    pub fn register<T: Task>(mut self) -> Self {
        let registered = Registered::of::<T>();
        self.tasks
            .insert(registered.identifier.clone(), Arc::new(registered));
        self
    }

    /// A handle that stops the runner as a signal would (for embedding and tests).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Runs tasks until none is left for this runner, then flushes telemetry and returns.
    pub async fn run_all(&self) -> Result<(), Error> {
        self.run(RunUntil::Idle).await
    }

    /// Runs tasks until SIGTERM or SIGINT (or [`TaskRunner::stopper`]); a task running then is
    /// handed back to be queued again.
    pub async fn run_forever(&self) -> Result<(), Error> {
        self.run(RunUntil::Stopped).await
    }

    pub async fn run(&self, until: RunUntil) -> Result<(), Error> {
        for identifier in self.tasks.keys() {
            identifier.validate()?;
        }
        let signals = spawn_signal_watch(self.stop.clone());
        let result = match self.resolve_cluster().await {
            Ok(Some(cluster)) => self.run_loop(until, &cluster).await,
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        signals.abort();
        self.client.telemetry().flush_async().await;
        result
    }

    fn service(&self) -> wf::task_service_client::TaskServiceClient<Channel> {
        wf::task_service_client::TaskServiceClient::new(self.client.channel.clone())
    }

    /// The cluster's slug as the server knows it (`""` names the default cluster), as the
    /// Python runner looks it up before claiming. `None` if stopped while the server was away.
    async fn resolve_cluster(&self) -> Result<Option<String>, Error> {
        let mut stop = self.stop.subscribe();
        let mut backoff = Backoff::default();
        loop {
            let request = wf::GetClusterRequest {
                cluster_slug: self.cluster.clone(),
            };
            let mut service = wf::workflows_service_client::WorkflowsServiceClient::new(
                self.client.channel.clone(),
            );
            match service.get_cluster(self.client.request(request)).await {
                Ok(cluster) => return Ok(Some(cluster.into_inner().slug)),
                Err(status) if is_transient(&status) => {
                    tracing::warn!(%status, "jobtrace unreachable, retrying");
                    if sleep_or_stop(backoff.next(), &mut stop).await {
                        return Ok(None);
                    }
                }
                Err(status) => return Err(Error::status("get cluster")(status)),
            }
        }
    }

    fn to_run(&self, cluster: &str) -> wf::NextTaskToRun {
        let mut identifiers: Vec<wf::TaskIdentifier> = self
            .tasks
            .keys()
            .map(|id| wf::TaskIdentifier {
                name: id.name.clone(),
                version: id.version.clone(),
            })
            .collect();
        identifiers.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        wf::NextTaskToRun {
            cluster_slug: cluster.to_owned(),
            identifiers,
        }
    }

    async fn run_loop(&self, until: RunUntil, cluster: &str) -> Result<(), Error> {
        let mut stop = self.stop.subscribe();
        // A computed task waits here until the server has acknowledged it (it may be down);
        // its lease is kept alive meanwhile, so no other runner starts it again.
        let mut pending: Option<Pending> = None;
        let mut backoff = Backoff::default();
        loop {
            let stopping = *stop.borrow();
            if stopping && pending.is_none() {
                return Ok(());
            }
            let request = wf::NextTaskRequest {
                computed_task: pending.as_ref().map(|p| p.computed.clone()),
                next_task_to_run: (!stopping).then(|| self.to_run(cluster)),
            };
            let answer = self.service().next_task(self.client.request(request)).await;
            let answer = match answer {
                Ok(answer) => answer.into_inner(),
                Err(status) if is_transient(&status) => {
                    tracing::warn!(%status, "jobtrace unreachable, retrying");
                    match &mut pending {
                        None => {
                            if sleep_or_stop(backoff.next(), &mut stop).await {
                                return Ok(());
                            }
                        }
                        Some(report) => {
                            // Not interrupted by a stop: the result is worth waiting for, but
                            // not forever (then the lease expires and the task runs again).
                            report.tries += 1;
                            if report.tries > MAX_REPORT_TRIES {
                                tracing::error!(%status, "giving up reporting a computed task");
                                pending = None;
                            }
                            tokio::time::sleep(backoff.next()).await;
                        }
                    }
                    continue;
                }
                Err(status) => match pending.take() {
                    // The server refuses the result (e.g. a subtask for an unknown cluster):
                    // the task failed, the runner goes on.
                    Some(report) => {
                        let task_id = id_of(report.computed.id.as_ref())?;
                        let display = format!(
                            "{}\nSubmissionError({:?})",
                            report.computed.display,
                            status.message()
                        );
                        self.report_failed(task_id, &display, true).await;
                        continue;
                    }
                    None => return Err(Error::status("next task")(status)),
                },
            };
            backoff = Backoff::default();
            pending = None;
            if let Some(task) = answer.next_task.filter(|t| t.id.is_some()) {
                pending = self.execute(task, cluster, &mut stop).await;
                continue;
            }
            if until == RunUntil::Idle {
                return Ok(());
            }
            let idle = answer
                .idling
                .and_then(|i| i.suggested_idling_duration)
                .map_or(Duration::from_secs(5), duration_of)
                .clamp(Duration::from_millis(1), Duration::from_secs(300));
            if sleep_or_stop(idle, &mut stop).await {
                return Ok(());
            }
        }
    }

    /// Executes one claimed task; returns its computed report (with its lease still kept), or
    /// `None` when the failure was already reported.
    async fn execute(
        &self,
        task: wf::Task,
        cluster: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Pending> {
        let Ok(task_id) = id_of(task.id.as_ref()) else {
            tracing::warn!("the server handed out a task without a valid id; skipped");
            return None;
        };
        let identifier = task
            .identifier
            .clone()
            .map(|i| TaskIdentifier::new(i.name, i.version))
            .unwrap_or_else(|| TaskIdentifier::new("", ""));
        let job = task.job.clone().unwrap_or_default();
        let display = task.display.clone().unwrap_or_default();
        let registered = self.tasks.get(&identifier).cloned().or_else(|| {
            // Claimed under a compatible version (same name and major version).
            self.tasks
                .iter()
                .find(|(known, _)| known.name == identifier.name)
                .map(|(_, r)| r.clone())
        });
        let Some(registered) = registered else {
            self.report_failed(task_id, &display, false).await;
            return None;
        };
        let current = CurrentTask {
            id: task_id,
            identifier,
            retry_count: task.retry_count,
            job: JobRef {
                id: id_of(job.id.as_ref()).unwrap_or_default(),
                name: job.name,
                trace_parent: job.trace_parent,
            },
        };
        let lease = tokio::spawn(keep_lease(
            self.service(),
            self.client.clone(),
            task_id,
            task.lease.unwrap_or_default(),
        ));
        let shown = task.display.clone().unwrap_or_default();
        let interrupted = format!("{shown}\nRunnerShutdown('Task was interrupted')");
        if *stop.borrow() {
            // Stopped while the claim was in flight: hand it back without starting it.
            lease.abort();
            self.report_failed(task_id, &interrupted, false).await;
            return None;
        }
        let (done_tx, done_rx) = oneshot::channel();
        let telemetry = self.client.telemetry().clone();
        let input = task.input.unwrap_or_default();
        let display = if display.is_empty() {
            registered.display.clone()
        } else {
            display
        };
        let started = std::thread::Builder::new()
            .name(format!("task-{task_id}"))
            .spawn(move || {
                let outcome = run_attempt(&telemetry, &registered, current, display, &input);
                let _ = done_tx.send(outcome);
            });
        if let Err(error) = started {
            lease.abort();
            let display = format!("{shown}\nRunnerError({:?})", error.to_string());
            self.report_failed(task_id, &display, false).await;
            return None;
        }
        // A result that is ready wins over a stop arriving at the same moment.
        let outcome = tokio::select! {
            biased;
            outcome = done_rx => Some(outcome),
            () = wait_stop(stop) => None,
        };
        match outcome {
            Some(Ok(Outcome::Computed { display, subtasks })) => Some(Pending {
                computed: wf::ComputedTask {
                    id: Some(id_proto(task_id)),
                    display,
                    sub_tasks: submissions(&subtasks, cluster),
                    progress_updates: Vec::new(),
                    legacy_sub_tasks: Vec::new(),
                },
                tries: 0,
                lease,
            }),
            Some(Ok(Outcome::Failed { display })) => {
                lease.abort();
                self.report_failed(task_id, &display, true).await;
                None
            }
            Some(Err(_)) => {
                // The task's thread ended without a result: count it against the task's retries,
                // so a task that kills its thread cannot loop forever.
                lease.abort();
                let display = format!("{shown}\nRunnerError('the task thread died')");
                self.report_failed(task_id, &display, true).await;
                None
            }
            None => {
                // Stopping: give the task back; its thread may still finish on its own.
                lease.abort();
                self.report_failed(task_id, &interrupted, false).await;
                None
            }
        }
    }

    /// Reports a failed attempt, retrying while the server is unreachable (bounded, so a
    /// server that never comes back cannot hold the runner: the lease then expires instead).
    async fn report_failed(&self, task_id: uuid::Uuid, display: &str, workflow_error: bool) {
        let mut backoff = Backoff::default();
        for _ in 0..8 {
            let request = wf::TaskFailedRequest {
                task_id: Some(id_proto(task_id)),
                display: display.to_owned(),
                was_workflow_error: workflow_error,
                progress_updates: Vec::new(),
            };
            match self
                .service()
                .task_failed(self.client.request(request))
                .await
            {
                Ok(_) => return,
                Err(status) if is_transient(&status) => tokio::time::sleep(backoff.next()).await,
                Err(status) => {
                    tracing::warn!(%status, %task_id, "the server refused the failure report");
                    return;
                }
            }
        }
    }
}

/// One attempt, on the task's own thread: the `task/<Name>` span, `tracing` routed to the
/// exporters, panics caught and recorded like errors.
fn run_attempt(
    telemetry: &Telemetry,
    registered: &Registered,
    task: CurrentTask,
    display: String,
    input: &[u8],
) -> Outcome {
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let parent = parent_context(&task.job.trace_parent);
        let span = telemetry
            .tracer()
            .span_builder(format!("task/{}", registered.display))
            .with_attributes([
                KeyValue::new("task_id", task.id.to_string()),
                KeyValue::new("identifier.name", task.identifier.name.clone()),
                KeyValue::new("identifier.version", task.identifier.version.clone()),
                KeyValue::new("job_id", task.job.id.to_string()),
                KeyValue::new("retry_count", task.retry_count),
            ])
            .start_with_context(telemetry.tracer(), &parent);
        let cx = parent.with_span(span);
        let attached = cx.clone().attach();
        let mark = enter_task(task.id.to_string());
        let mut ctx = ExecutionContext::new(task, display, telemetry);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (registered.run)(input, &mut ctx)
        }))
        .unwrap_or_else(|panic| Err(TaskError::panic(panic_message(panic.as_ref()))));
        let outcome = match result {
            Ok(()) => {
                let (display, subtasks) = ctx.into_result();
                Outcome::Computed { display, subtasks }
            }
            Err(error) => {
                let span = cx.span();
                span.add_event(
                    "exception",
                    vec![
                        KeyValue::new("exception.type", error.kind().to_owned()),
                        KeyValue::new("exception.message", error.message().to_owned()),
                        KeyValue::new("exception.escaped", true),
                    ],
                );
                span.set_status(SpanStatus::error("Task failed with exception"));
                ctx.logger().error(&format!(
                    "task failed: {}: {}",
                    error.kind(),
                    error.message()
                ));
                // The Python client's format: display, newline, the exception's repr.
                let (display, _) = ctx.into_result();
                Outcome::Failed {
                    display: truncate(
                        &format!("{display}\n{}({:?})", error.kind(), error.message()),
                        1024,
                    ),
                }
            }
        };
        drop(mark);
        cx.span().end();
        drop(attached);
        outcome
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without message".to_owned())
}

fn truncate(text: &str, max: usize) -> String {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

/// Subtasks as the Python client groups them: one group per task here (each group's
/// dependencies are exactly its task's), lookups deduplicated in first-seen order.
fn submissions(subtasks: &[Subtask], runner_cluster: &str) -> Option<wf::TaskSubmissions> {
    if subtasks.is_empty() {
        return None;
    }
    let mut out = wf::TaskSubmissions::default();
    let lookup = |list: &mut Vec<String>, value: &str| -> u64 {
        let index = list.iter().position(|v| v == value).unwrap_or_else(|| {
            list.push(value.to_owned());
            list.len() - 1
        });
        index as u64
    };
    let mut identifiers: Vec<TaskIdentifier> = Vec::new();
    for subtask in subtasks {
        let cluster = subtask.cluster.as_deref().unwrap_or(runner_cluster);
        let identifier = identifiers
            .iter()
            .position(|i| *i == subtask.identifier)
            .unwrap_or_else(|| {
                identifiers.push(subtask.identifier.clone());
                identifiers.len() - 1
            });
        out.task_groups.push(wf::TaskSubmissionGroup {
            dependencies_on_other_groups: subtask
                .depends_on
                .iter()
                .map(|d| u32::try_from(*d).unwrap_or(u32::MAX))
                .collect(),
            inputs: vec![subtask.input.clone()],
            identifier_pointers: vec![identifier as u64],
            cluster_slug_pointers: vec![lookup(&mut out.cluster_slug_lookup, cluster)],
            display_pointers: vec![lookup(&mut out.display_lookup, &subtask.display)],
            max_retries_values: vec![subtask.max_retries],
            optional_values: vec![subtask.optional],
        });
    }
    out.identifier_lookup = identifiers
        .into_iter()
        .map(|i| wf::TaskIdentifier {
            name: i.name,
            version: i.version,
        })
        .collect();
    Some(out)
}

/// Extends the lease as the server recommends until aborted or the server says the task is
/// no longer ours (lease 0). Failed extensions are retried at the next interval.
async fn keep_lease(
    mut service: wf::task_service_client::TaskServiceClient<Channel>,
    client: Client,
    task_id: uuid::Uuid,
    lease: wf::TaskLease,
) {
    let mut lease = lease;
    loop {
        let wait = lease
            .recommended_wait_until_next_extension
            .map_or(Duration::from_secs(5), duration_of)
            .max(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
        let current = lease.lease.map_or(Duration::from_secs(10), duration_of);
        let request = wf::TaskLeaseRequest {
            task_id: Some(id_proto(task_id)),
            requested_lease: Some(duration_proto(current * 2)),
        };
        match service.extend_task_lease(client.request(request)).await {
            Ok(answer) => {
                let answer = answer.into_inner();
                if answer.lease.map_or(Duration::ZERO, duration_of).is_zero() {
                    return;
                }
                lease = answer;
            }
            Err(status) => tracing::warn!(%status, %task_id, "lease extension failed"),
        }
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Internal
            | tonic::Code::Cancelled
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted
    )
}

/// 0.2 s doubling to 10 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(200))
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
        now
    }
}

/// Sleeps; returns early with `true` when asked to stop.
async fn sleep_or_stop(duration: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => *stop.borrow(),
        () = wait_stop(stop) => true,
    }
}

async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stopped| *stopped).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// SIGTERM/SIGINT set the stop flag once; a second signal is the process default (exit).
fn spawn_signal_watch(stop: watch::Sender<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            for signals in 0.. {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                if signals > 0 {
                    // Tokio's handler replaced the default one: a second signal exits here.
                    std::process::exit(130);
                }
                tracing::info!("stopping: no new tasks, a running task goes back to the queue");
                let _ = stop.send(true);
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
        }
    })
}

fn duration_of(d: prost_types::Duration) -> Duration {
    Duration::new(
        u64::try_from(d.seconds).unwrap_or_default(),
        u32::try_from(d.nanos).unwrap_or_default(),
    )
}

fn duration_proto(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or_default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subtask(name: &str, depends_on: Vec<usize>, cluster: Option<&str>) -> Subtask {
        Subtask {
            identifier: TaskIdentifier::new(name, "v0.0"),
            input: b"1".to_vec(),
            display: name.to_owned(),
            cluster: cluster.map(str::to_owned),
            max_retries: 2,
            optional: false,
            depends_on,
        }
    }

    #[test]
    fn test_subtasks_become_groups_with_deduplicated_lookups() {
        let subtasks = [
            subtask("Tile", vec![], None),
            subtask("Tile", vec![], Some("gpu")),
            subtask("Merge", vec![0, 1], None),
        ];
        let out = submissions(&subtasks, "cpu").unwrap();
        assert_eq!(out.task_groups.len(), 3);
        assert_eq!(out.cluster_slug_lookup, ["cpu", "gpu"]);
        assert_eq!(out.identifier_lookup.len(), 2);
        assert_eq!(out.display_lookup, ["Tile", "Merge"]);
        assert_eq!(out.task_groups[2].dependencies_on_other_groups, [0, 1]);
        assert_eq!(out.task_groups[1].cluster_slug_pointers, [1]);
        assert_eq!(out.task_groups[2].identifier_pointers, [1]);
        assert!(submissions(&[], "cpu").is_none());
    }
}
