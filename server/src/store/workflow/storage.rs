//! Storage locations and the events that trigger storage-event automations.
//!
//! A location is a reference (an S3 or GCS bucket, an Azure container, a local folder) that
//! runners read from. A new object in it (a file the server's folder watcher saw, or an object
//! a subscription reported through `NotifyObjectCreated`) is recorded once per object version
//! (the event row's unique key `(location, object key, version)`), and each automation's job
//! for it once (`storage_event_jobs`' unique key `(event, automation)`, inserted in the
//! transaction that submits the job): of two replicas (or two reports) that see the same new
//! file, the second submits nothing, and an automation the first did not know of yet (created
//! while it looked) still gets its job from the next look.

use uuid::Uuid;

use super::validate::{MAX_TEXT_BYTES, check_text, validate_job};
use super::{NewJob, TaskSpec};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Most storage locations one store keeps.
pub const MAX_STORAGE_LOCATIONS: i64 = 1000;
/// Most subscriptions one location has.
pub const MAX_SUBSCRIPTIONS: i64 = 32;
/// Longest object key (path inside the location), in bytes.
pub const MAX_OBJECT_KEY_BYTES: usize = 4096;

/// `workflows.v1.StorageType`, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Gcs,
    S3,
    Local,
    Azure,
}

impl StorageKind {
    pub fn code(self) -> i32 {
        match self {
            StorageKind::Gcs => 1,
            StorageKind::S3 => 2,
            StorageKind::Local => 3,
            StorageKind::Azure => 4,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(StorageKind::Gcs),
            2 => Some(StorageKind::S3),
            3 => Some(StorageKind::Local),
            4 => Some(StorageKind::Azure),
            _ => None,
        }
    }
}

/// A location to create. `location` is the bucket, container or (absolute) local path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStorageLocation {
    pub name: String,
    pub kind: StorageKind,
    pub location: String,
    pub region: String,
    pub project_id: String,
    /// The Azure storage account resource id.
    pub account: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLocation {
    pub id: Uuid,
    pub created_ns: i64,
    pub spec: NewStorageLocation,
}

/// A storage-event trigger of an automation: objects in `location` whose key matches `glob`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageTrigger {
    pub id: Uuid,
    pub location: StorageLocation,
    pub glob: String,
}

/// A storage-event trigger with what its automation submits: what the watcher matches new
/// objects against.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedTrigger {
    pub automation_id: Uuid,
    /// Objects older than the trigger (created with its automation, or by an update of it) do
    /// not fire it.
    pub since_ns: i64,
    pub name: String,
    pub task: TaskSpec,
    pub location_id: Uuid,
    pub glob: String,
}

/// A new object in a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub location_id: Uuid,
    pub object_key: String,
    /// Which version of the object (a file's change time): the same key written again is a
    /// new object, as an object store's overwrite is.
    pub version_ns: i64,
    pub event_ns: i64,
    pub subscription_id: Option<Uuid>,
}

/// A job an event submitted, for the automation whose trigger `glob` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggeredJob {
    pub job_id: Uuid,
    pub automation_id: Uuid,
    pub glob: String,
}

/// A job to submit for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventJob {
    pub automation_id: Uuid,
    pub glob: String,
    pub event_ns: i64,
    pub job: NewJob,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageEvent {
    pub id: Uuid,
    pub location_id: Uuid,
    pub object_key: String,
    pub event_ns: i64,
    pub received_ns: i64,
    pub subscription_id: Option<Uuid>,
    pub jobs: Vec<TriggeredJob>,
}

/// A notification source of a location: a program that reports new objects through
/// `NotifyObjectCreated` with the subscription's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSubscription {
    pub id: Uuid,
    pub location_id: Uuid,
    /// `workflows.v1.StorageSubscriptionType`.
    pub kind: i32,
    pub created_ns: i64,
}

#[async_trait::async_trait]
pub trait WorkflowStorage: Send + Sync + 'static {
    async fn create_storage_location(
        &self,
        location: &NewStorageLocation,
        now_ns: i64,
    ) -> Result<StorageLocation, StoreError>;
    /// Every location, oldest first.
    async fn storage_locations(&self) -> Result<Vec<StorageLocation>, StoreError>;
    async fn storage_location(&self, id: Uuid) -> Result<Option<StorageLocation>, StoreError>;
    /// Renames it (its reference cannot change); `None` when there is no such location.
    async fn rename_storage_location(
        &self,
        id: Uuid,
        name: &str,
    ) -> Result<Option<StorageLocation>, StoreError>;
    /// Deletes it with its subscriptions and events; refused while an automation's trigger
    /// uses it. Whether it existed.
    async fn delete_storage_location(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Every storage-event trigger with its automation, for locations of `kind` (all: `None`).
    async fn storage_triggers(
        &self,
        kind: Option<StorageKind>,
    ) -> Result<Vec<WatchedTrigger>, StoreError>;
    /// Records `event` (unless this object version was recorded before) and submits those of
    /// `jobs` whose automation has none for it yet, in one transaction; the event with all its
    /// jobs, or `None` when nothing was new. A job whose automation was deleted meanwhile is
    /// left out.
    async fn record_object_created(
        &self,
        event: &ObjectCreated,
        jobs: Vec<EventJob>,
        now_ns: i64,
    ) -> Result<Option<StorageEvent>, StoreError>;
    /// A location's events, newest first, those before `before` (an event id) when given.
    async fn storage_events(
        &self,
        location_id: Uuid,
        before: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<StorageEvent>, StoreError>;
    /// The object versions of a location at or after `since_ns` (by version) with the
    /// automations that have a job for each.
    async fn recorded_objects(
        &self,
        location_id: Uuid,
        since_ns: i64,
    ) -> Result<Vec<(String, i64, Uuid)>, StoreError>;
    async fn create_storage_subscription(
        &self,
        location_id: Uuid,
        kind: i32,
        now_ns: i64,
    ) -> Result<StorageSubscription, StoreError>;
    async fn storage_subscriptions(
        &self,
        location_id: Uuid,
    ) -> Result<Vec<StorageSubscription>, StoreError>;
    async fn storage_subscription(
        &self,
        id: Uuid,
    ) -> Result<Option<StorageSubscription>, StoreError>;
    async fn delete_storage_subscription(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Deletes events received before `before_ns` (retention); how many rows went.
    async fn prune_storage_events(&self, before_ns: i64) -> Result<u64, StoreError>;
}

fn validate_location(location: &NewStorageLocation) -> Result<(), StoreError> {
    check_text("the storage location name", &location.name, MAX_TEXT_BYTES)?;
    check_text("the storage location", &location.location, MAX_TEXT_BYTES)?;
    check_text("the region", &location.region, MAX_TEXT_BYTES)?;
    check_text("the project id", &location.project_id, MAX_TEXT_BYTES)?;
    check_text("the storage account", &location.account, MAX_TEXT_BYTES)?;
    if location.name.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "a storage location needs a name".to_owned(),
        ));
    }
    if location.location.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "a storage location needs a bucket, container or path".to_owned(),
        ));
    }
    if location.kind == StorageKind::Local && !location.location.starts_with('/') {
        return Err(StoreError::InvalidArgument(format!(
            "a local storage location needs an absolute path, not {:?}",
            location.location
        )));
    }
    if location.kind == StorageKind::Azure && location.account.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "an Azure storage location needs its storage account resource id".to_owned(),
        ));
    }
    Ok(())
}

/// The object key of an event: a relative path, `/`-separated, within its limits, that
/// stays inside its location (a runner joins it to the location's root to read the object).
pub fn check_object_key(key: &str) -> Result<(), StoreError> {
    check_text("the object path", key, MAX_OBJECT_KEY_BYTES)?;
    if key.is_empty() {
        return Err(StoreError::InvalidArgument(
            "an object path must not be empty".to_owned(),
        ));
    }
    if key.contains('\\') || key.split('/').any(|part| matches!(part, "" | "." | "..")) {
        let shown: String = key.chars().take(100).collect();
        return Err(StoreError::InvalidArgument(format!(
            "object path {shown:?}: segments must not be empty, '.' or '..', and '\\' is not a \
             separator"
        )));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LocationRow {
    id: Vec<u8>,
    name: String,
    kind: i64,
    location: String,
    region: String,
    project_id: String,
    account: String,
    created_ns: i64,
}

const LOCATIONS: &str = "SELECT id, name, kind, location, region, project_id, account, created_ns FROM storage_locations";

impl LocationRow {
    fn into_location(self) -> Result<StorageLocation, StoreError> {
        let kind = StorageKind::from_code(self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("storage location kind {}", self.kind)))?;
        Ok(StorageLocation {
            id: uuid_of(&self.id)?,
            created_ns: self.created_ns,
            spec: NewStorageLocation {
                name: self.name,
                kind,
                location: self.location,
                region: self.region,
                project_id: self.project_id,
                account: self.account,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Vec<u8>,
    location_id: Vec<u8>,
    object_key: String,
    event_ns: i64,
    received_ns: i64,
    subscription_id: Option<Vec<u8>>,
}

fn uuid_of(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("a storage id: {e}")))
}

fn subscription_of(row: (Vec<u8>, Vec<u8>, i64, i64)) -> Result<StorageSubscription, StoreError> {
    Ok(StorageSubscription {
        id: uuid_of(&row.0)?,
        location_id: uuid_of(&row.1)?,
        kind: i32::try_from(row.2).unwrap_or_default(),
        created_ns: row.3,
    })
}

macro_rules! impl_workflow_storage {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The triggers of an automation, with their locations.
            pub(super) async fn automation_storage_triggers(
                conn: &mut <$db as sqlx::Database>::Connection,
                automation_id: &[u8],
            ) -> Result<Vec<StorageTrigger>, StoreError> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    trigger_id: Vec<u8>,
                    glob: String,
                    #[sqlx(flatten)]
                    location: LocationRow,
                }
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT t.id AS trigger_id, t.glob, l.id, l.name, l.kind, l.location, \
                     l.region, l.project_id, l.account, l.created_ns \
                     FROM storage_triggers t JOIN storage_locations l ON l.id = t.location_id \
                     WHERE t.automation_id = $1 ORDER BY t.id",
                )
                .bind(automation_id)
                .fetch_all(&mut *conn)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(StorageTrigger {
                            id: uuid_of(&row.trigger_id)?,
                            glob: row.glob,
                            location: row.location.into_location()?,
                        })
                    })
                    .collect()
            }

            async fn event_jobs(
                conn: &mut <$db as sqlx::Database>::Connection,
                row: EventRow,
            ) -> Result<StorageEvent, StoreError> {
                let jobs: Vec<(Vec<u8>, Vec<u8>, String)> = sqlx::query_as(
                    "SELECT job_id, automation_id, glob FROM storage_event_jobs \
                     WHERE event_id = $1 ORDER BY job_id",
                )
                .bind(&row.id)
                .fetch_all(&mut *conn)
                .await?;
                Ok(StorageEvent {
                    id: uuid_of(&row.id)?,
                    location_id: uuid_of(&row.location_id)?,
                    object_key: row.object_key,
                    event_ns: row.event_ns,
                    received_ns: row.received_ns,
                    subscription_id: row.subscription_id.as_deref().map(uuid_of).transpose()?,
                    jobs: jobs
                        .into_iter()
                        .map(|(job, automation, glob)| {
                            Ok(TriggeredJob {
                                job_id: uuid_of(&job)?,
                                automation_id: uuid_of(&automation)?,
                                glob,
                            })
                        })
                        .collect::<Result<_, StoreError>>()?,
                })
            }
        }

        #[async_trait::async_trait]
        impl WorkflowStorage for $store {
            async fn create_storage_location(
                &self,
                location: &NewStorageLocation,
                now_ns: i64,
            ) -> Result<StorageLocation, StoreError> {
                validate_location(location)?;
                let id = Uuid::now_v7();
                let (mut tx, _turn) = self.write_tx().await?;
                let count: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_locations")
                    .fetch_one(&mut *tx)
                    .await?;
                if count >= MAX_STORAGE_LOCATIONS {
                    return Err(StoreError::InvalidArgument(format!(
                        "at most {MAX_STORAGE_LOCATIONS} storage locations; delete one first"
                    )));
                }
                sqlx::query(
                    "INSERT INTO storage_locations (id, name, kind, location, region, \
                     project_id, account, created_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id.as_bytes().to_vec())
                .bind(location.name.trim())
                .bind(i64::from(location.kind.code()))
                .bind(location.location.as_str())
                .bind(location.region.as_str())
                .bind(location.project_id.as_str())
                .bind(location.account.as_str())
                .bind(now_ns)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.storage_location(id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("storage location {id}")))
            }

            async fn storage_locations(&self) -> Result<Vec<StorageLocation>, StoreError> {
                let rows: Vec<LocationRow> =
                    sqlx::query_as(&format!("{LOCATIONS} ORDER BY created_ns, id"))
                        .fetch_all(&self.read)
                        .await?;
                rows.into_iter().map(LocationRow::into_location).collect()
            }

            async fn storage_location(
                &self,
                id: Uuid,
            ) -> Result<Option<StorageLocation>, StoreError> {
                let row: Option<LocationRow> =
                    sqlx::query_as(&format!("{LOCATIONS} WHERE id = $1"))
                        .bind(id.as_bytes().to_vec())
                        .fetch_optional(&self.read)
                        .await?;
                row.map(LocationRow::into_location).transpose()
            }

            async fn rename_storage_location(
                &self,
                id: Uuid,
                name: &str,
            ) -> Result<Option<StorageLocation>, StoreError> {
                check_text("the storage location name", name, MAX_TEXT_BYTES)?;
                if name.trim().is_empty() {
                    return Err(StoreError::InvalidArgument(
                        "a storage location needs a name".to_owned(),
                    ));
                }
                let renamed = sqlx::query("UPDATE storage_locations SET name = $2 WHERE id = $1")
                    .bind(id.as_bytes().to_vec())
                    .bind(name.trim())
                    .execute(&self.write)
                    .await?
                    .rows_affected();
                if renamed == 0 {
                    return Ok(None);
                }
                self.storage_location(id).await
            }

            async fn delete_storage_location(&self, id: Uuid) -> Result<bool, StoreError> {
                let key = id.as_bytes().to_vec();
                let (mut tx, _turn) = self.write_tx().await?;
                // Locked: an automation created meanwhile (which locks it too, to check it
                // exists) cannot add a trigger on it while it goes.
                let exists: Option<Vec<u8>> = sqlx::query_scalar(&format!(
                    "SELECT id FROM storage_locations WHERE id = $1{}",
                    Self::ROW_LOCK
                ))
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
                if exists.is_none() {
                    return Ok(false);
                }
                let used: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT automation_id FROM storage_triggers WHERE location_id = $1 LIMIT 1",
                )
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(automation) = used {
                    return Err(StoreError::InvalidArgument(format!(
                        "storage location {id} is used by automation {}; delete that first",
                        uuid_of(&automation)?
                    )));
                }
                sqlx::query(
                    "DELETE FROM storage_event_jobs WHERE event_id IN \
                     (SELECT id FROM storage_events WHERE location_id = $1)",
                )
                .bind(&key)
                .execute(&mut *tx)
                .await?;
                for table in ["storage_events", "storage_subscriptions"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE location_id = $1"))
                        .bind(&key)
                        .execute(&mut *tx)
                        .await?;
                }
                let deleted = sqlx::query("DELETE FROM storage_locations WHERE id = $1")
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                tx.commit().await?;
                Ok(deleted)
            }

            async fn storage_triggers(
                &self,
                kind: Option<StorageKind>,
            ) -> Result<Vec<WatchedTrigger>, StoreError> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    location_id: Vec<u8>,
                    glob: String,
                    since_ns: i64,
                    #[sqlx(flatten)]
                    automation: super::automations::AutomationRow,
                }
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT t.location_id, t.glob, a.id, a.name, a.cluster_slug, \
                     a.identifier_name, a.identifier_version, a.display, a.input, \
                     a.max_retries, a.created_ns, t.since_ns \
                     FROM storage_triggers t JOIN automations a ON a.id = t.automation_id \
                     JOIN storage_locations l ON l.id = t.location_id \
                     WHERE $1 = 0 OR l.kind = $1 ORDER BY t.id",
                )
                .bind(kind.map_or(0, |kind| i64::from(kind.code())))
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(WatchedTrigger {
                            automation_id: uuid_of(&row.automation.id)?,
                            since_ns: row.since_ns,
                            task: row.automation.task(),
                            name: row.automation.name,
                            location_id: uuid_of(&row.location_id)?,
                            glob: row.glob,
                        })
                    })
                    .collect()
            }

            async fn record_object_created(
                &self,
                event: &ObjectCreated,
                jobs: Vec<EventJob>,
                now_ns: i64,
            ) -> Result<Option<StorageEvent>, StoreError> {
                check_object_key(&event.object_key)?;
                for job in &jobs {
                    validate_job(&job.job)?;
                }
                let location = event.location_id.as_bytes().to_vec();
                let (mut tx, _turn) = self.write_tx().await?;
                let inserted = sqlx::query(
                    "INSERT INTO storage_events (id, location_id, object_key, version_ns, \
                     event_ns, received_ns, subscription_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (location_id, object_key, version_ns) DO NOTHING",
                )
                .bind(Uuid::now_v7().as_bytes().to_vec())
                .bind(&location)
                .bind(event.object_key.as_str())
                .bind(event.version_ns)
                .bind(event.event_ns)
                .bind(now_ns)
                .bind(event.subscription_id.map(|s| s.as_bytes().to_vec()))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                let row: EventRow = sqlx::query_as(
                    "SELECT id, location_id, object_key, event_ns, received_ns, subscription_id \
                     FROM storage_events WHERE location_id = $1 AND object_key = $2 \
                     AND version_ns = $3",
                )
                .bind(&location)
                .bind(event.object_key.as_str())
                .bind(event.version_ns)
                .fetch_one(&mut *tx)
                .await?;
                let mut submitted = 0;
                let default = Self::default_cluster(&mut *tx).await?;
                for mut job in jobs {
                    let automation = job.automation_id.as_bytes().to_vec();
                    // Locked: a delete of the automation waits for this job, or this sees it
                    // gone.
                    let live: Option<Vec<u8>> = sqlx::query_scalar(&format!(
                        "SELECT id FROM automations WHERE id = $1{}",
                        Self::ROW_LOCK
                    ))
                    .bind(&automation)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if live.is_none() {
                        continue;
                    }
                    // The automation's claim on this event: a second claimant (another replica,
                    // a repeated report) inserts nothing (PostgreSQL: after waiting for the
                    // first one's commit) and submits nothing.
                    let placeholder = Uuid::now_v7().as_bytes().to_vec();
                    let claimed = sqlx::query(
                        "INSERT INTO storage_event_jobs (event_id, job_id, automation_id, glob) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (event_id, automation_id) DO NOTHING",
                    )
                    .bind(&row.id)
                    .bind(&placeholder)
                    .bind(&automation)
                    .bind(job.glob.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if claimed == 0 {
                        continue;
                    }
                    let job_id = Self::job_row(&mut tx, &mut job.job, now_ns).await?;
                    Self::insert_tasks(
                        &mut tx,
                        &job_id,
                        None,
                        &default.slug,
                        &job.job.tasks,
                        now_ns,
                    )
                    .await?;
                    sqlx::query(
                        "UPDATE jobs SET automation_id = $2, trigger_ns = $3 WHERE id = $1",
                    )
                    .bind(&job_id)
                    .bind(&automation)
                    .bind(job.event_ns)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE storage_event_jobs SET job_id = $3 \
                         WHERE event_id = $1 AND automation_id = $2",
                    )
                    .bind(&row.id)
                    .bind(&automation)
                    .bind(&job_id)
                    .execute(&mut *tx)
                    .await?;
                    submitted += 1;
                }
                if !inserted && submitted == 0 {
                    // Nothing new: the transaction ends without a change.
                    return Ok(None);
                }
                let recorded = Self::event_jobs(&mut *tx, row).await?;
                tx.commit().await?;
                Ok(Some(recorded))
            }

            async fn storage_events(
                &self,
                location_id: Uuid,
                before: Option<Uuid>,
                limit: i64,
            ) -> Result<Vec<StorageEvent>, StoreError> {
                let mut conn = self.read.acquire().await?;
                let rows: Vec<EventRow> = sqlx::query_as(
                    "SELECT id, location_id, object_key, event_ns, received_ns, subscription_id \
                     FROM storage_events WHERE location_id = $1 AND ($2 IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(location_id.as_bytes().to_vec())
                .bind(before.map(|b| b.as_bytes().to_vec()))
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
                let mut events = Vec::with_capacity(rows.len());
                for row in rows {
                    events.push(Self::event_jobs(&mut *conn, row).await?);
                }
                Ok(events)
            }

            async fn recorded_objects(
                &self,
                location_id: Uuid,
                since_ns: i64,
            ) -> Result<Vec<(String, i64, Uuid)>, StoreError> {
                let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT e.object_key, e.version_ns, j.automation_id FROM storage_events e \
                     JOIN storage_event_jobs j ON j.event_id = e.id \
                     WHERE e.location_id = $1 AND e.version_ns >= $2",
                )
                .bind(location_id.as_bytes().to_vec())
                .bind(since_ns)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|(key, version, automation)| Ok((key, version, uuid_of(&automation)?)))
                    .collect()
            }

            async fn create_storage_subscription(
                &self,
                location_id: Uuid,
                kind: i32,
                now_ns: i64,
            ) -> Result<StorageSubscription, StoreError> {
                let location = location_id.as_bytes().to_vec();
                let id = Uuid::now_v7();
                let (mut tx, _turn) = self.write_tx().await?;
                let known: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT id FROM storage_locations WHERE id = $1")
                        .bind(&location)
                        .fetch_optional(&mut *tx)
                        .await?;
                if known.is_none() {
                    return Err(StoreError::NotFound(format!("storage location {location_id}")));
                }
                let count: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM storage_subscriptions WHERE location_id = $1",
                )
                .bind(&location)
                .fetch_one(&mut *tx)
                .await?;
                if count >= MAX_SUBSCRIPTIONS {
                    return Err(StoreError::InvalidArgument(format!(
                        "at most {MAX_SUBSCRIPTIONS} subscriptions per storage location"
                    )));
                }
                sqlx::query(
                    "INSERT INTO storage_subscriptions (id, location_id, kind, created_ns) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id.as_bytes().to_vec())
                .bind(&location)
                .bind(i64::from(kind))
                .bind(now_ns)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(StorageSubscription {
                    id,
                    location_id,
                    kind,
                    created_ns: now_ns,
                })
            }

            async fn storage_subscriptions(
                &self,
                location_id: Uuid,
            ) -> Result<Vec<StorageSubscription>, StoreError> {
                let rows: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = sqlx::query_as(
                    "SELECT id, location_id, kind, created_ns FROM storage_subscriptions \
                     WHERE location_id = $1 ORDER BY id",
                )
                .bind(location_id.as_bytes().to_vec())
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(subscription_of).collect()
            }

            async fn storage_subscription(
                &self,
                id: Uuid,
            ) -> Result<Option<StorageSubscription>, StoreError> {
                let row: Option<(Vec<u8>, Vec<u8>, i64, i64)> = sqlx::query_as(
                    "SELECT id, location_id, kind, created_ns FROM storage_subscriptions \
                     WHERE id = $1",
                )
                .bind(id.as_bytes().to_vec())
                .fetch_optional(&self.read)
                .await?;
                row.map(subscription_of).transpose()
            }

            async fn delete_storage_subscription(&self, id: Uuid) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM storage_subscriptions WHERE id = $1")
                    .bind(id.as_bytes().to_vec())
                    .execute(&self.write)
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn prune_storage_events(&self, before_ns: i64) -> Result<u64, StoreError> {
                let (mut tx, _turn) = self.write_tx().await?;
                let jobs = sqlx::query(
                    "DELETE FROM storage_event_jobs WHERE event_id IN \
                     (SELECT id FROM storage_events WHERE received_ns < $1)",
                )
                .bind(before_ns)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let events = sqlx::query("DELETE FROM storage_events WHERE received_ns < $1")
                    .bind(before_ns)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(jobs + events)
            }
        }
    };
}

impl_workflow_storage!(SqliteStore, sqlx::Sqlite);
impl_workflow_storage!(PostgresStore, sqlx::Postgres);
