//! `workflows.v1.AutomationService`: cron and storage-event automations
//! (`client.automations()`; storage_watch.rs has how storage events fire).

use tonic::{Request, Response, Status};

use super::convert::{self, status};
use super::proto::tilebox::v1 as tb;
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::automation_service_server::AutomationService;
use super::{WorkflowApi, now_ns, to_the_end};
use crate::cron::Schedule;
use crate::store::workflow::{Automation, MAX_TRIGGERS, NewAutomation};

fn automation(automation: Automation) -> wf::AutomationPrototype {
    let task = automation.task;
    wf::AutomationPrototype {
        id: Some(convert::id(automation.id)),
        name: automation.name,
        prototype: Some(wf::SingleTaskSubmission {
            cluster_slug: task.cluster_slug,
            identifier: Some(wf::TaskIdentifier {
                name: task.identifier_name,
                version: task.identifier_version,
            }),
            display: task.display,
            dependencies: Vec::new(),
            max_retries: task.max_retries,
            input: task.input,
        }),
        storage_event_triggers: automation
            .storage_triggers
            .into_iter()
            .map(|trigger| wf::StorageEventTrigger {
                id: Some(convert::id(trigger.id)),
                storage_location: Some(super::storage::location(trigger.location)),
                glob_pattern: trigger.glob,
            })
            .collect(),
        cron_triggers: automation
            .triggers
            .into_iter()
            .map(|trigger| wf::CronTrigger {
                id: Some(convert::id(trigger.id)),
                next_scheduled_at: trigger.next_run_ns().map(convert::timestamp),
                schedule: trigger.schedule,
            })
            .collect(),
        disabled: false,
    }
}

/// What a create or update request asks for: schedules parsed (their first time after `now`),
/// the task checked, storage triggers by location id.
fn new_automation(request: wf::AutomationPrototype, now: i64) -> Result<NewAutomation, Status> {
    if request.cron_triggers.len() + request.storage_event_triggers.len() > MAX_TRIGGERS {
        return Err(Status::invalid_argument(format!(
            "at most {MAX_TRIGGERS} triggers per automation"
        )));
    }
    let mut storage = Vec::with_capacity(request.storage_event_triggers.len());
    for trigger in &request.storage_event_triggers {
        let location = trigger
            .storage_location
            .as_ref()
            .and_then(|l| l.id.as_ref());
        let location = convert::uuid_of(location, "a storage event trigger's location id")?;
        storage.push((location, trigger.glob_pattern.trim().to_owned()));
    }
    let mut schedules = Vec::with_capacity(request.cron_triggers.len());
    for trigger in &request.cron_triggers {
        // Echoed cut: the message travels in a header.
        let shown: String = trigger.schedule.chars().take(100).collect();
        let schedule = Schedule::parse(&trigger.schedule)
            .map_err(|why| Status::invalid_argument(format!("cron schedule {shown:?}: {why}")))?;
        let next = schedule.next_after_ns(now).ok_or_else(|| {
            Status::invalid_argument(format!("cron schedule {shown:?} never fires again"))
        })?;
        schedules.push((trigger.schedule.trim().to_owned(), next));
    }
    let prototype = request
        .prototype
        .ok_or_else(|| Status::invalid_argument("an automation needs a task prototype"))?;
    let task = convert::legacy_task_specs(std::slice::from_ref(&prototype))?
        .pop()
        .ok_or_else(|| Status::invalid_argument("an automation needs a task prototype"))?;
    if !task.depends_on.is_empty() {
        return Err(Status::invalid_argument(
            "an automation's task cannot depend on other tasks",
        ));
    }
    Ok(NewAutomation {
        name: request.name,
        task,
        schedules,
        storage,
    })
}

#[tonic::async_trait]
impl AutomationService for WorkflowApi {
    async fn list_automations(
        &self,
        _request: Request<()>,
    ) -> Result<Response<wf::Automations>, Status> {
        let automations = self.store.automations().await.map_err(status)?;
        Ok(Response::new(wf::Automations {
            automations: automations.into_iter().map(automation).collect(),
        }))
    }

    async fn get_automation(
        &self,
        request: Request<tb::Id>,
    ) -> Result<Response<wf::AutomationPrototype>, Status> {
        let id = convert::uuid_of(Some(request.get_ref()), "automation id")?;
        let found = self.store.automation(id).await.map_err(status)?;
        found
            .map(|a| Response::new(automation(a)))
            .ok_or_else(|| Status::not_found(format!("automation {id} not found")))
    }

    async fn create_automation(
        &self,
        request: Request<wf::AutomationPrototype>,
    ) -> Result<Response<wf::AutomationPrototype>, Status> {
        let now = now_ns();
        let new = new_automation(request.into_inner(), now)?;
        let store = self.store.clone();
        let created = to_the_end(async move { store.create_automation(&new, now).await }).await?;
        Ok(Response::new(automation(created)))
    }

    /// Replaces an automation's name, task and triggers (its cron triggers start over from
    /// now); the jobs it submitted stay.
    async fn update_automation(
        &self,
        request: Request<wf::AutomationPrototype>,
    ) -> Result<Response<wf::AutomationPrototype>, Status> {
        let request = request.into_inner();
        let id = convert::uuid_of(request.id.as_ref(), "automation id")?;
        let now = now_ns();
        let new = new_automation(request, now)?;
        let store = self.store.clone();
        let updated =
            to_the_end(async move { store.update_automation(id, &new, now).await }).await?;
        updated
            .map(|a| Response::new(automation(a)))
            .ok_or_else(|| Status::not_found(format!("automation {id} not found")))
    }

    async fn delete_automation(
        &self,
        request: Request<wf::DeleteAutomationRequest>,
    ) -> Result<Response<()>, Status> {
        let request = request.into_inner();
        let id = convert::uuid_of(request.automation_id.as_ref(), "automation_id")?;
        let store = self.store.clone();
        let cancel = request.cancel_jobs;
        let deleted =
            to_the_end(async move { store.delete_automation(id, cancel, now_ns()).await }).await?;
        if !deleted {
            return Err(Status::not_found(format!("automation {id} not found")));
        }
        Ok(Response::new(()))
    }
}
