//! Storage locations (`client.storage_locations()`) and storage-event automations
//! (`client.automations().create_storage_event(…)`): a new object in a location submits a task,
//! which reads [`ExecutionContext::storage_event`] to learn which object. The server watches
//! local folders under its `--watch-root`; for other locations a program reports new objects
//! through a subscription ([`StorageLocationClient::subscribe`],
//! [`StorageLocationClient::notify_object_created`]), as an S3 or GCS notification relay would.
//!
//! [`ExecutionContext::storage_event`]: crate::ExecutionContext::storage_event

use tonic::transport::Channel;

use super::automations::{Automation, AutomationClient};
use super::connection::Client;
use crate::error::Error;
use crate::ids::{id_of, id_proto};
use crate::proto::workflows::v1 as wf;
use crate::task::{Task, encode_input};
use crate::task_identifier::type_display;

/// Where a storage location is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageReference {
    /// A folder (absolute path) on the machines that run the tasks, or the server's.
    Local {
        path: String,
    },
    S3 {
        bucket: String,
        region: String,
    },
    Gcs {
        bucket: String,
        project_id: String,
    },
}

/// A storage location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageLocation {
    pub id: uuid::Uuid,
    pub name: String,
    pub reference: StorageReference,
}

impl StorageLocation {
    pub(crate) fn from_proto(location: wf::StorageLocation) -> Result<Self, Error> {
        let reference = location.reference.unwrap_or_default();
        let reference = match (
            reference.local,
            reference.aws_s3_bucket,
            reference.gcs_bucket,
        ) {
            (Some(local), _, _) => StorageReference::Local { path: local.path },
            (_, Some(s3), _) => StorageReference::S3 {
                bucket: s3.bucket,
                region: s3.region,
            },
            (_, _, Some(gcs)) => StorageReference::Gcs {
                bucket: gcs.bucket,
                project_id: gcs.project_id,
            },
            _ => {
                return Err(Error::Protocol(format!(
                    "storage location {:?} of a kind this SDK does not know",
                    location.name
                )));
            }
        };
        Ok(StorageLocation {
            id: id_of(location.id.as_ref())?,
            name: location.name,
            reference,
        })
    }
}

/// A storage-event trigger of an automation: new objects in `location` whose path matches
/// `glob` (`*` within a folder, `**` across).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageTrigger {
    pub location: uuid::Uuid,
    pub glob: String,
}

/// Storage location operations (`client.storage_locations()`).
#[derive(Clone)]
pub struct StorageLocationClient {
    client: Client,
}

impl Client {
    pub fn storage_locations(&self) -> StorageLocationClient {
        StorageLocationClient {
            client: self.clone(),
        }
    }
}

impl StorageLocationClient {
    fn service(
        &self,
    ) -> wf::storage_location_service_client::StorageLocationServiceClient<Channel> {
        wf::storage_location_service_client::StorageLocationServiceClient::new(
            self.client.channel.clone(),
        )
    }

    /// Creates a location; a relative local path and the like are refused.
    pub async fn create(
        &self,
        name: &str,
        reference: StorageReference,
    ) -> Result<StorageLocation, Error> {
        let mut message = wf::StorageLocationReference::default();
        match reference {
            StorageReference::Local { path } => {
                message.r#type = wf::StorageType::Local as i32;
                message.local = Some(wf::LocalReference { path });
            }
            StorageReference::S3 { bucket, region } => {
                message.r#type = wf::StorageType::AwsS3 as i32;
                message.aws_s3_bucket = Some(wf::Awss3BucketReference { bucket, region });
            }
            StorageReference::Gcs { bucket, project_id } => {
                message.r#type = wf::StorageType::Gcs as i32;
                message.gcs_bucket = Some(wf::GcsBucketReference {
                    bucket,
                    project_id,
                    location: String::new(),
                });
            }
        }
        let request = wf::CreateStorageLocationRequest {
            name: name.to_owned(),
            reference: Some(message),
        };
        let created = self
            .service()
            .create_storage_location(self.client.request(request))
            .await
            .map_err(Error::status("create storage location"))?;
        StorageLocation::from_proto(created.into_inner())
    }

    /// Every location, oldest first.
    pub async fn all(&self) -> Result<Vec<StorageLocation>, Error> {
        let list = self
            .service()
            .list_storage_locations(self.client.request(()))
            .await
            .map_err(Error::status("list storage locations"))?;
        list.into_inner()
            .locations
            .into_iter()
            .map(StorageLocation::from_proto)
            .collect()
    }

    /// One location; a NOT_FOUND status error when there is none with this id.
    pub async fn find(&self, id: uuid::Uuid) -> Result<StorageLocation, Error> {
        let found = self
            .service()
            .get_storage_location(self.client.request(id_proto(id)))
            .await
            .map_err(Error::status("get storage location"))?;
        StorageLocation::from_proto(found.into_inner())
    }

    /// Deletes a location no automation uses any more.
    pub async fn delete(&self, id: uuid::Uuid) -> Result<(), Error> {
        self.service()
            .delete_storage_location(self.client.request(id_proto(id)))
            .await
            .map_err(Error::status("delete storage location"))?;
        Ok(())
    }

    /// A subscription of the location: its id lets a program report new objects with
    /// [`Self::notify_object_created`].
    pub async fn subscribe(&self, location: uuid::Uuid) -> Result<uuid::Uuid, Error> {
        let request = wf::CreateStorageSubscriptionRequest {
            storage_location_id: Some(id_proto(location)),
            r#type: wf::StorageSubscriptionType::TileboxCli as i32,
            ..Default::default()
        };
        let created = self
            .service()
            .create_storage_subscription(self.client.request(request))
            .await
            .map_err(Error::status("create storage subscription"))?;
        id_of(created.into_inner().id.as_ref())
    }

    /// Reports a new object (its path inside the location) to the subscription's location:
    /// each automation whose glob matches submits its task, once per path and event time.
    pub async fn notify_object_created(
        &self,
        subscription: uuid::Uuid,
        path: &str,
        event_time: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        let request = wf::NotifyObjectCreatedRequest {
            storage_subscription_id: Some(id_proto(subscription)),
            object_path: path.to_owned(),
            event_time: Some(prost_types::Timestamp {
                seconds: event_time.timestamp(),
                nanos: i32::try_from(event_time.timestamp_subsec_nanos()).unwrap_or_default(),
            }),
        };
        self.service()
            .notify_object_created(self.client.request(request))
            .await
            .map_err(Error::status("notify object created"))?;
        Ok(())
    }
}

impl AutomationClient {
    /// Creates an automation that submits `task` (to `cluster`, `""` for the default) as a job
    /// named `name` for each new object in a trigger's location whose path matches its glob.
    pub async fn create_storage_event<T: Task>(
        &self,
        name: &str,
        task: &T,
        cluster: &str,
        triggers: &[StorageTrigger],
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
            storage_event_triggers: triggers
                .iter()
                .map(|trigger| wf::StorageEventTrigger {
                    id: None,
                    storage_location: Some(wf::StorageLocation {
                        id: Some(id_proto(trigger.location)),
                        ..Default::default()
                    }),
                    glob_pattern: trigger.glob.clone(),
                })
                .collect(),
            cron_triggers: Vec::new(),
            disabled: false,
        };
        self.create(prototype).await
    }
}
