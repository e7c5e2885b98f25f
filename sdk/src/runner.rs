//! The task runner: claims tasks of its registered types from a cluster, runs them, reports back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::Client;
use crate::context::{CurrentTask, JobRef};
use crate::error::Error;
use crate::ids::{id_of, id_proto};
use crate::proto::workflows::v1 as wf;
use crate::subtasks::submissions;
use crate::task::{Registered, Task, TaskIdentifier};

mod attempt;
mod caller;
mod lease;
mod retry;
mod stop;

use attempt::Outcome;
use caller::{Caller, attempt_of};
use lease::{duration_of, keep_lease};
use retry::{Backoff, is_transient};
use stop::{sleep_or_stop, spawn_signal_watch, wait_stop};

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
    caller: Caller,
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
    attempt: Option<i64>,
    tries: u32,
    lease: tokio::task::JoinHandle<()>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.lease.abort();
    }
}

impl Client {
    /// A runner for `cluster` (`""`: the default cluster); register task types on it, then run.
    pub fn runner(&self, cluster: &str) -> TaskRunner {
        TaskRunner::new(self.clone(), cluster)
    }
}

impl TaskRunner {
    fn new(client: Client, cluster: &str) -> Self {
        TaskRunner {
            caller: Caller::new(client),
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

    /// The name this runner reports under (`host:pid:random`), as recorded on the attempts
    /// it runs.
    pub fn id(&self) -> &str {
        &self.caller.id
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
        self.caller.client.telemetry().flush_async().await;
        result
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
                self.caller.client.channel.clone(),
            );
            match service
                .get_cluster(self.caller.request(request, None))
                .await
            {
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
            // A computed report names its attempt; the claim in the same call starts a new one.
            let reported = pending.as_ref().and_then(|p| p.attempt);
            let answer = self
                .caller
                .service()
                .next_task(self.caller.request(request, reported))
                .await;
            let (answer, attempt) = match answer {
                Ok(answer) => {
                    let attempt = attempt_of(&answer);
                    (answer.into_inner(), attempt)
                }
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
                        self.report_failed(task_id, report.attempt, &display, true)
                            .await;
                        continue;
                    }
                    None => return Err(Error::status("next task")(status)),
                },
            };
            backoff = Backoff::default();
            pending = None;
            if let Some(task) = answer.next_task.filter(|t| t.id.is_some()) {
                pending = self.execute(task, attempt, cluster, &mut stop).await;
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
        attempt: Option<i64>,
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
            self.report_failed(task_id, attempt, &display, false).await;
            return None;
        };
        // An automation's job: its root task's input is the `Automation` wrapper.
        let (input, trigger) = match (&job.automation_id, &task.parent_id) {
            (Some(_), None) => automation_input(task.input.unwrap_or_default()),
            _ => (task.input.unwrap_or_default(), Trigger::None),
        };
        let (trigger_time, storage_event) = match trigger {
            Trigger::None => (None, None),
            Trigger::Cron(time) => (Some(time), None),
            Trigger::Storage(event) => (None, Some(event)),
        };
        let current = CurrentTask {
            id: task_id,
            identifier,
            retry_count: task.retry_count,
            trigger_time,
            storage_event,
            job: JobRef {
                id: id_of(job.id.as_ref()).unwrap_or_default(),
                name: job.name,
                trace_parent: job.trace_parent,
            },
        };
        let lease = tokio::spawn(keep_lease(
            self.caller.clone(),
            attempt,
            task_id,
            task.lease.unwrap_or_default(),
        ));
        let shown = task.display.clone().unwrap_or_default();
        let interrupted = format!("{shown}\nRunnerShutdown('Task was interrupted')");
        if *stop.borrow() {
            // Stopped while the claim was in flight: hand it back without starting it.
            lease.abort();
            self.report_failed(task_id, attempt, &interrupted, false)
                .await;
            return None;
        }
        let telemetry = self.caller.client.telemetry().clone();
        let display = if display.is_empty() {
            registered.display.clone()
        } else {
            display
        };
        let done_rx = match attempt::start(telemetry, registered, current, display, input) {
            Ok(done_rx) => done_rx,
            Err(error) => {
                lease.abort();
                let display = format!("{shown}\nRunnerError({:?})", error.to_string());
                self.report_failed(task_id, attempt, &display, false).await;
                return None;
            }
        };
        // A result that is ready wins over a stop arriving at the same moment.
        let outcome = tokio::select! {
            biased;
            outcome = done_rx => Some(outcome),
            () = wait_stop(stop) => None,
        };
        match outcome {
            Some(Ok(Outcome::Computed {
                display,
                subtasks,
                progress,
            })) => Some(Pending {
                computed: wf::ComputedTask {
                    id: Some(id_proto(task_id)),
                    display,
                    sub_tasks: submissions(&subtasks, cluster),
                    progress_updates: progress_messages(progress),
                    legacy_sub_tasks: Vec::new(),
                },
                attempt,
                tries: 0,
                lease,
            }),
            Some(Ok(Outcome::Failed { display, progress })) => {
                lease.abort();
                let progress = progress_messages(progress);
                self.report_failed_with(task_id, attempt, &display, true, progress)
                    .await;
                None
            }
            Some(Err(_)) => {
                // The task's thread ended without a result: count it against the task's retries,
                // so a task that kills its thread cannot loop forever.
                lease.abort();
                let display = format!("{shown}\nRunnerError('the task thread died')");
                self.report_failed(task_id, attempt, &display, true).await;
                None
            }
            None => {
                // Stopping: give the task back; its thread may still finish on its own.
                lease.abort();
                self.report_failed(task_id, attempt, &interrupted, false)
                    .await;
                None
            }
        }
    }

    /// Reports a failed attempt, retrying while the server is unreachable (bounded, so a
    /// server that never comes back cannot hold the runner: the lease then expires instead).
    async fn report_failed(
        &self,
        task_id: uuid::Uuid,
        attempt: Option<i64>,
        display: &str,
        workflow_error: bool,
    ) {
        self.report_failed_with(task_id, attempt, display, workflow_error, Vec::new())
            .await;
    }

    /// A failure report with the progress the attempt reported before it failed.
    async fn report_failed_with(
        &self,
        task_id: uuid::Uuid,
        attempt: Option<i64>,
        display: &str,
        workflow_error: bool,
        progress: Vec<wf::Progress>,
    ) {
        let mut backoff = Backoff::default();
        for _ in 0..8 {
            let request = wf::TaskFailedRequest {
                task_id: Some(id_proto(task_id)),
                display: display.to_owned(),
                was_workflow_error: workflow_error,
                progress_updates: progress.clone(),
            };
            match self
                .caller
                .service()
                .task_failed(self.caller.request(request, attempt))
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

/// A task's progress reports as the wire writes them.
fn progress_messages(progress: Vec<(String, u64, u64)>) -> Vec<wf::Progress> {
    progress
        .into_iter()
        .map(|(label, total, done)| wf::Progress { label, total, done })
        .collect()
}

/// The task's own input and the tick's due time from an automation's `Automation` wrapper (as
/// the Python client's `CronTask` reads it); input that is not one is passed on as it came.
fn automation_input(input: Vec<u8>) -> (Vec<u8>, Trigger) {
    use prost::Message as _;
    let Ok(wrapper) = wf::Automation::decode(input.as_slice()) else {
        return (input, Trigger::None);
    };
    // The two events' first fields are both messages, but a timestamp's first field is a
    // varint where an id's is bytes: one never decodes as the other.
    let storage = wf::TriggeredStorageEvent::decode(wrapper.trigger_event.as_slice())
        .ok()
        .and_then(|event| {
            let id = event.storage_location_id?;
            let location = uuid::Uuid::from_slice(&id.uuid).ok()?;
            Some(crate::context::StorageEvent {
                location,
                path: event.location,
            })
        });
    if let Some(event) = storage {
        return (wrapper.args, Trigger::Storage(event));
    }
    let time = wf::TriggeredCronEvent::decode(wrapper.trigger_event.as_slice())
        .ok()
        .and_then(|event| event.trigger_time)
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?));
    (wrapper.args, time.map_or(Trigger::None, Trigger::Cron))
}

/// What submitted an automation's job.
#[derive(Debug, PartialEq)]
enum Trigger {
    None,
    Cron(chrono::DateTime<chrono::Utc>),
    Storage(crate::context::StorageEvent),
}

#[cfg(test)]
mod automation_tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn test_an_automations_input_unwraps_to_the_tasks_own_and_its_tick() {
        let event = wf::TriggeredCronEvent {
            trigger_time: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
        };
        let wrapper = wf::Automation {
            trigger_event: event.encode_to_vec(),
            args: br#"{"region":"Austria"}"#.to_vec(),
        };
        let (input, trigger) = automation_input(wrapper.encode_to_vec());
        assert_eq!(input, br#"{"region":"Austria"}"#);
        assert!(matches!(trigger, Trigger::Cron(t) if t.timestamp() == 1_800_000_000));
        // Not a wrapper (a JSON input): passed on as it came.
        let (input, trigger) = automation_input(b"\"plain\"".to_vec());
        assert_eq!(
            (input.as_slice(), trigger),
            (b"\"plain\"".as_slice(), Trigger::None)
        );
        // A storage event: the location and the object's path.
        let location = uuid::Uuid::now_v7();
        let event = wf::TriggeredStorageEvent {
            storage_location_id: Some(crate::proto::tilebox::v1::Id {
                uuid: location.as_bytes().to_vec(),
            }),
            r#type: 1,
            location: "raw/scene.tif".to_owned(),
        };
        let wrapper = wf::Automation {
            trigger_event: event.encode_to_vec(),
            args: b"{}".to_vec(),
        };
        let (input, trigger) = automation_input(wrapper.encode_to_vec());
        assert_eq!(input, b"{}");
        let expected = crate::context::StorageEvent {
            location,
            path: "raw/scene.tif".to_owned(),
        };
        assert_eq!(trigger, Trigger::Storage(expected));
    }
}
