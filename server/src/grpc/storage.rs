//! `workflows.v1.StorageLocationService`: storage locations (`client.storage_locations()`), the
//! events that triggered storage-event automations, and subscriptions: notification sources
//! that report new objects through `NotifyObjectCreated` (storage_watch.rs has the folder
//! watcher and how events become jobs).
//!
//! Subscriptions of the `TILEBOX_CLI` type are offered: any program (an S3 or GCS notification
//! relay, a script) reports objects with the subscription's id. AWS SNS, Google Pub/Sub and
//! Azure Event Grid subscriptions need jobtrace to receive those services' pushes, which it
//! does not: they are refused as UNIMPLEMENTED, saying so.

use tonic::{Request, Response, Status};

use super::convert::{self, status};
use super::proto::tilebox::v1 as tb;
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::storage_location_service_server::StorageLocationService;
use super::{WorkflowApi, now_ns, to_the_end};
use crate::store::workflow::{
    NewStorageLocation, ObjectCreated, StorageEvent, StorageKind, StorageLocation,
    StorageSubscription, WatchedTrigger, check_object_key,
};

/// Events one `ListStorageSubscriptionEvents` page holds unless the request asks for fewer.
const EVENTS_PAGE: i64 = 100;
/// Most events one page holds.
const MAX_EVENTS_PAGE: i64 = 1000;

pub(super) fn location(location: StorageLocation) -> wf::StorageLocation {
    let spec = location.spec;
    let kind = spec.kind.code();
    let mut reference = wf::StorageLocationReference {
        r#type: kind,
        ..Default::default()
    };
    match spec.kind {
        StorageKind::S3 => {
            reference.aws_s3_bucket = Some(wf::Awss3BucketReference {
                bucket: spec.location.clone(),
                region: spec.region,
            });
        }
        StorageKind::Gcs => {
            reference.gcs_bucket = Some(wf::GcsBucketReference {
                bucket: spec.location.clone(),
                project_id: spec.project_id,
                location: spec.region,
            });
        }
        StorageKind::Azure => {
            reference.azure_blob = Some(wf::AzureBlobReference {
                storage_account_resource_id: spec.account,
                container: spec.location.clone(),
                region: spec.region,
            });
        }
        StorageKind::Local => {
            reference.local = Some(wf::LocalReference {
                path: spec.location.clone(),
            });
        }
    }
    wf::StorageLocation {
        id: Some(convert::id(location.id)),
        location: spec.location,
        r#type: kind,
        name: spec.name,
        reference: Some(reference),
    }
}

/// The location a client's reference names (its `type`, or the one reference set).
fn new_location(
    name: String,
    reference: Option<wf::StorageLocationReference>,
) -> Result<NewStorageLocation, Status> {
    let reference = reference
        .ok_or_else(|| Status::invalid_argument("a storage location needs a reference"))?;
    let mut new = NewStorageLocation {
        name,
        kind: StorageKind::Local,
        location: String::new(),
        region: String::new(),
        project_id: String::new(),
        account: String::new(),
    };
    let kind = StorageKind::from_code(i64::from(reference.r#type));
    match (kind, reference) {
        (
            Some(StorageKind::S3) | None,
            wf::StorageLocationReference {
                aws_s3_bucket: Some(s3),
                ..
            },
        ) => {
            new.kind = StorageKind::S3;
            new.location = s3.bucket;
            new.region = s3.region;
        }
        (
            Some(StorageKind::Gcs) | None,
            wf::StorageLocationReference {
                gcs_bucket: Some(gcs),
                ..
            },
        ) => {
            new.kind = StorageKind::Gcs;
            new.location = gcs.bucket;
            new.project_id = gcs.project_id;
            new.region = gcs.location;
        }
        (
            Some(StorageKind::Azure) | None,
            wf::StorageLocationReference {
                azure_blob: Some(azure),
                ..
            },
        ) => {
            new.kind = StorageKind::Azure;
            new.location = azure.container;
            new.account = azure.storage_account_resource_id;
            new.region = azure.region;
        }
        (
            Some(StorageKind::Local) | None,
            wf::StorageLocationReference {
                local: Some(local), ..
            },
        ) => {
            new.kind = StorageKind::Local;
            new.location = local.path;
        }
        _ => {
            return Err(Status::invalid_argument(
                "a storage location reference needs its type and the matching S3, GCS, Azure or \
                 local reference",
            ));
        }
    }
    Ok(new)
}

fn event(event: StorageEvent) -> wf::StorageSubscriptionEvent {
    wf::StorageSubscriptionEvent {
        id: Some(convert::id(event.id)),
        object_key: event.object_key,
        r#type: wf::StorageEventType::Created as i32,
        event_time: Some(convert::timestamp(event.event_ns)),
        received_at: Some(convert::timestamp(event.received_ns)),
        triggered_jobs: event
            .jobs
            .into_iter()
            .map(|job| wf::TriggeredJob {
                job_id: Some(convert::id(job.job_id)),
                automation_id: Some(convert::id(job.automation_id)),
                glob_pattern: job.glob,
            })
            .collect(),
        storage_subscription_id: event.subscription_id.map(convert::id),
    }
}

fn subscription(subscription: StorageSubscription) -> wf::StorageSubscription {
    wf::StorageSubscription {
        id: Some(convert::id(subscription.id)),
        storage_location_id: Some(convert::id(subscription.location_id)),
        r#type: subscription.kind,
        endpoint: String::new(),
        created_at: Some(convert::timestamp(subscription.created_ns)),
        ..Default::default()
    }
}

impl WorkflowApi {
    async fn found_location(&self, id: uuid::Uuid) -> Result<StorageLocation, Status> {
        self.store
            .storage_location(id)
            .await
            .map_err(status)?
            .ok_or_else(|| Status::not_found(format!("storage location {id} not found")))
    }
}

#[tonic::async_trait]
impl StorageLocationService for WorkflowApi {
    async fn list_storage_locations(
        &self,
        _request: Request<()>,
    ) -> Result<Response<wf::StorageLocations>, Status> {
        let locations = self.store.storage_locations().await.map_err(status)?;
        Ok(Response::new(wf::StorageLocations {
            locations: locations.into_iter().map(location).collect(),
        }))
    }

    async fn get_storage_location(
        &self,
        request: Request<tb::Id>,
    ) -> Result<Response<wf::StorageLocation>, Status> {
        let id = convert::uuid_of(Some(request.get_ref()), "storage location id")?;
        Ok(Response::new(location(self.found_location(id).await?)))
    }

    async fn create_storage_location(
        &self,
        request: Request<wf::CreateStorageLocationRequest>,
    ) -> Result<Response<wf::StorageLocation>, Status> {
        let request = request.into_inner();
        let new = new_location(request.name, request.reference)?;
        let store = self.store.clone();
        let created =
            to_the_end(async move { store.create_storage_location(&new, now_ns()).await }).await?;
        Ok(Response::new(location(created)))
    }

    async fn update_storage_location(
        &self,
        request: Request<wf::UpdateStorageLocationRequest>,
    ) -> Result<Response<wf::StorageLocation>, Status> {
        let request = request.into_inner();
        let id = convert::uuid_of(request.storage_location_id.as_ref(), "storage_location_id")?;
        let store = self.store.clone();
        let renamed =
            to_the_end(async move { store.rename_storage_location(id, &request.name).await })
                .await?;
        renamed
            .map(|l| Response::new(location(l)))
            .ok_or_else(|| Status::not_found(format!("storage location {id} not found")))
    }

    async fn delete_storage_location(
        &self,
        request: Request<tb::Id>,
    ) -> Result<Response<()>, Status> {
        let id = convert::uuid_of(Some(request.get_ref()), "storage location id")?;
        let store = self.store.clone();
        let deleted = to_the_end(async move { store.delete_storage_location(id).await }).await?;
        if !deleted {
            return Err(Status::not_found(format!(
                "storage location {id} not found"
            )));
        }
        Ok(Response::new(()))
    }

    async fn create_storage_subscription(
        &self,
        request: Request<wf::CreateStorageSubscriptionRequest>,
    ) -> Result<Response<wf::StorageSubscription>, Status> {
        let request = request.into_inner();
        let location_id =
            convert::uuid_of(request.storage_location_id.as_ref(), "storage_location_id")?;
        let cli = wf::StorageSubscriptionType::TileboxCli as i32;
        if request.r#type != cli {
            return Err(Status::unimplemented(
                "jobtrace receives no AWS SNS, Google Pub/Sub or Azure Event Grid \
                 notifications; create a TILEBOX_CLI subscription and report new objects with \
                 NotifyObjectCreated",
            ));
        }
        let store = self.store.clone();
        let created = to_the_end(async move {
            store
                .create_storage_subscription(location_id, cli, now_ns())
                .await
        })
        .await?;
        Ok(Response::new(subscription(created)))
    }

    async fn list_storage_subscriptions(
        &self,
        request: Request<wf::ListStorageSubscriptionsRequest>,
    ) -> Result<Response<wf::StorageSubscriptions>, Status> {
        let location_id = convert::uuid_of(
            request.get_ref().storage_location_id.as_ref(),
            "storage_location_id",
        )?;
        self.found_location(location_id).await?;
        let found = self
            .store
            .storage_subscriptions(location_id)
            .await
            .map_err(status)?;
        Ok(Response::new(wf::StorageSubscriptions {
            subscriptions: found.into_iter().map(subscription).collect(),
        }))
    }

    async fn get_storage_subscription(
        &self,
        request: Request<tb::Id>,
    ) -> Result<Response<wf::StorageSubscription>, Status> {
        let id = convert::uuid_of(Some(request.get_ref()), "storage subscription id")?;
        let found = self.store.storage_subscription(id).await.map_err(status)?;
        found
            .map(|s| Response::new(subscription(s)))
            .ok_or_else(|| Status::not_found(format!("storage subscription {id} not found")))
    }

    async fn delete_storage_subscription(
        &self,
        request: Request<tb::Id>,
    ) -> Result<Response<()>, Status> {
        let id = convert::uuid_of(Some(request.get_ref()), "storage subscription id")?;
        let store = self.store.clone();
        let deleted =
            to_the_end(async move { store.delete_storage_subscription(id).await }).await?;
        if !deleted {
            return Err(Status::not_found(format!(
                "storage subscription {id} not found"
            )));
        }
        Ok(Response::new(()))
    }

    async fn list_storage_subscription_events(
        &self,
        request: Request<wf::ListStorageSubscriptionEventsRequest>,
    ) -> Result<Response<wf::StorageSubscriptionEvents>, Status> {
        let request = request.into_inner();
        let location_id =
            convert::uuid_of(request.storage_location_id.as_ref(), "storage_location_id")?;
        self.found_location(location_id).await?;
        let page = request.page.unwrap_or_default();
        let limit = page
            .limit
            .filter(|&limit| limit > 0)
            .unwrap_or(EVENTS_PAGE)
            .min(MAX_EVENTS_PAGE);
        let before = convert::optional_uuid(page.starting_after.as_ref());
        let events = self
            .store
            .storage_events(location_id, before, limit)
            .await
            .map_err(status)?;
        let next_page = (events.len() as i64 == limit)
            .then(|| events.last().map(|e| e.id))
            .flatten()
            .map(|last| tb::Pagination {
                limit: Some(limit),
                starting_after: Some(convert::id(last)),
            });
        Ok(Response::new(wf::StorageSubscriptionEvents {
            events: events.into_iter().map(event).collect(),
            next_page,
        }))
    }

    async fn notify_object_created(
        &self,
        request: Request<wf::NotifyObjectCreatedRequest>,
    ) -> Result<Response<()>, Status> {
        let request = request.into_inner();
        let subscription_id = convert::uuid_of(
            request.storage_subscription_id.as_ref(),
            "storage_subscription_id",
        )?;
        let found = self
            .store
            .storage_subscription(subscription_id)
            .await
            .map_err(status)?
            .ok_or_else(|| {
                Status::not_found(format!("storage subscription {subscription_id} not found"))
            })?;
        let key = request.object_path.trim_start_matches('/').to_owned();
        check_object_key(&key).map_err(status)?;
        // The event time is the object version's identity: a report repeated (a relay's
        // retry) is the same version and submits nothing more.
        let event_ns = request
            .event_time
            .as_ref()
            .map(convert::timestamp_ns)
            .ok_or_else(|| {
                Status::invalid_argument(
                    "event_time is required: it tells a repeated report of an object from a new \
                     version of it",
                )
            })?;
        let triggers = self.store.storage_triggers(None).await.map_err(status)?;
        let of_location: Vec<&WatchedTrigger> = triggers
            .iter()
            .filter(|t| t.location_id == found.location_id)
            .collect();
        let event = ObjectCreated {
            location_id: found.location_id,
            object_key: key,
            // A report names one version of an object: its event time.
            version_ns: event_ns,
            event_ns,
            subscription_id: Some(subscription_id),
        };
        crate::storage_watch::object_created(&self.store, event, &of_location)
            .await
            .map_err(status)?;
        Ok(Response::new(()))
    }
}
