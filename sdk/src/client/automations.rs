//! Cron automations (`client.automations()`): the server submits a task as a job on a schedule,
//! as the Python client's `client.automations().create_cron_automation(…)` asks it to. The task
//! runs in any runner that registered it; [`ExecutionContext::trigger_time`] tells it which tick
//! it runs for.
//!
//! [`ExecutionContext::trigger_time`]: crate::ExecutionContext::trigger_time

use chrono::{DateTime, Utc};
use tonic::transport::Channel;

use super::connection::Client;
use super::jobs::timestamp;
use super::storage::StorageTrigger;
use crate::error::Error;
use crate::ids::{id_of, id_proto};
use crate::proto::workflows::v1 as wf;
use crate::task::{Task, TaskIdentifier, encode_input};
use crate::task_identifier::type_display;

/// An automation: what it submits and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Automation {
    pub id: uuid::Uuid,
    pub name: String,
    /// The task each tick submits.
    pub identifier: TaskIdentifier,
    pub cluster: String,
    pub schedules: Vec<CronSchedule>,
    pub storage_triggers: Vec<StorageTrigger>,
}

/// One cron trigger of an automation (UTC).
#[derive(Clone, Debug, PartialEq)]
pub struct CronSchedule {
    pub schedule: String,
    /// When it fires next; `None` when it never will.
    pub next_run: Option<DateTime<Utc>>,
}

impl Automation {
    fn from_proto(automation: wf::AutomationPrototype) -> Result<Self, Error> {
        let task = automation.prototype.unwrap_or_default();
        let identifier = task.identifier.unwrap_or_default();
        Ok(Automation {
            id: id_of(automation.id.as_ref())?,
            name: automation.name,
            identifier: TaskIdentifier::new(identifier.name, identifier.version),
            cluster: task.cluster_slug,
            schedules: automation
                .cron_triggers
                .into_iter()
                .map(|trigger| CronSchedule {
                    next_run: trigger.next_scheduled_at.as_ref().and_then(timestamp),
                    schedule: trigger.schedule,
                })
                .collect(),
            storage_triggers: automation
                .storage_event_triggers
                .into_iter()
                .map(|trigger| {
                    let location = trigger.storage_location.unwrap_or_default();
                    Ok(StorageTrigger {
                        location: id_of(location.id.as_ref())?,
                        glob: trigger.glob_pattern,
                    })
                })
                .collect::<Result<_, Error>>()?,
        })
    }
}

/// Automation operations (`client.automations()`).
#[derive(Clone)]
pub struct AutomationClient {
    client: Client,
}

impl Client {
    pub fn automations(&self) -> AutomationClient {
        AutomationClient {
            client: self.clone(),
        }
    }
}

impl AutomationClient {
    fn service(&self) -> wf::automation_service_client::AutomationServiceClient<Channel> {
        wf::automation_service_client::AutomationServiceClient::new(self.client.channel.clone())
    }

    /// Creates an automation that submits `task` (to `cluster`, `""` for the default) as a job
    /// named `name` at every tick of each of `schedules`: crontab lines in UTC (5 fields, or 6
    /// with seconds first; `@hourly` and the like). A bad schedule is refused and nothing is
    /// created.
    pub async fn create_cron<T: Task>(
        &self,
        name: &str,
        task: &T,
        cluster: &str,
        schedules: &[&str],
    ) -> Result<Automation, Error> {
        let identifier = T::identifier();
        identifier.validate()?;
        let prototype = wf::AutomationPrototype {
            id: None,
            name: name.to_owned(),
            prototype: Some(wf::SingleTaskSubmission {
                cluster_slug: cluster.to_owned(),
                identifier: Some(wf::TaskIdentifier {
                    name: identifier.name,
                    version: identifier.version,
                }),
                display: type_display::<T>(),
                dependencies: Vec::new(),
                max_retries: 0,
                input: encode_input(task)?,
            }),
            storage_event_triggers: Vec::new(),
            cron_triggers: schedules
                .iter()
                .map(|schedule| wf::CronTrigger {
                    id: None,
                    schedule: (*schedule).to_owned(),
                    next_scheduled_at: None,
                })
                .collect(),
            disabled: false,
        };
        self.create(prototype).await
    }

    pub(super) async fn create(
        &self,
        prototype: wf::AutomationPrototype,
    ) -> Result<Automation, Error> {
        let created = self
            .service()
            .create_automation(self.client.request(prototype))
            .await
            .map_err(Error::status("create automation"))?;
        Automation::from_proto(created.into_inner())
    }

    /// Every automation, oldest first.
    pub async fn all(&self) -> Result<Vec<Automation>, Error> {
        let list = self
            .service()
            .list_automations(self.client.request(()))
            .await
            .map_err(Error::status("list automations"))?;
        list.into_inner()
            .automations
            .into_iter()
            .map(Automation::from_proto)
            .collect()
    }

    /// One automation; a NOT_FOUND status error when there is none with this id.
    pub async fn find(&self, id: uuid::Uuid) -> Result<Automation, Error> {
        let found = self
            .service()
            .get_automation(self.client.request(id_proto(id)))
            .await
            .map_err(Error::status("get automation"))?;
        Automation::from_proto(found.into_inner())
    }

    /// Deletes an automation (the jobs it submitted stay); with `cancel_jobs` its jobs that are
    /// not finished are canceled too.
    pub async fn delete(&self, id: uuid::Uuid, cancel_jobs: bool) -> Result<(), Error> {
        let request = wf::DeleteAutomationRequest {
            automation_id: Some(id_proto(id)),
            cancel_jobs,
        };
        self.service()
            .delete_automation(self.client.request(request))
            .await
            .map_err(Error::status("delete automation"))?;
        Ok(())
    }
}
