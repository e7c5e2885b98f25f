//! Automations: a task prototype submitted as a job whenever one of its cron triggers is due.
//!
//! Exactly once per tick, however many replicas share the database: a trigger fires by moving
//! its `next_ns` from the due time it read to the next one with a conditional `UPDATE`, in the
//! same transaction that submits the job. Of two replicas that read the same due trigger, the
//! second's update matches no row (PostgreSQL: it waits for the first's row lock, then sees the
//! new `next_ns`; SQLite: one writer at a time) and it submits nothing.

use uuid::Uuid;

use super::storage::{StorageKind, StorageTrigger};
use super::validate::{
    MAX_TEXT_BYTES, check_text, validate_dependencies, validate_job, validate_task_texts,
};
use super::{NewJob, TaskSpec, WorkflowJob};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// Most cron triggers one automation may have.
pub const MAX_TRIGGERS: usize = 32;
/// Most automations one store keeps.
pub const MAX_AUTOMATIONS: i64 = 1000;

/// An automation to create: its name, the task it submits, and one due time per schedule
/// (the caller parses the schedules; the store keeps their text).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAutomation {
    pub name: String,
    pub task: TaskSpec,
    /// `(schedule, first due time in unix ns)`.
    pub schedules: Vec<(String, i64)>,
    /// `(storage location id, glob pattern)`: objects created there whose key matches.
    pub storage: Vec<(Uuid, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub id: Uuid,
    pub name: String,
    pub task: TaskSpec,
    pub created_ns: i64,
    pub triggers: Vec<CronTrigger>,
    pub storage_triggers: Vec<StorageTrigger>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTrigger {
    pub id: Uuid,
    pub schedule: String,
    /// When it is due next (unix ns); [`NEVER_NS`] when it will not fire again.
    pub next_ns: i64,
}

/// The next time of a trigger parked because its schedule has no next time.
pub const NEVER_NS: i64 = i64::MAX;

impl CronTrigger {
    /// When it fires next, unless it never will.
    pub fn next_run_ns(&self) -> Option<i64> {
        (self.next_ns < NEVER_NS).then_some(self.next_ns)
    }
}

/// Moves a trigger from the due time read (`$2`) to its next (`$3`): no row when another
/// caller moved it first.
const MOVE_TRIGGER: &str = "UPDATE cron_triggers SET next_ns = $3 WHERE id = $1 AND next_ns = $2";

/// A trigger whose time has come, with what it submits.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTrigger {
    pub trigger: CronTrigger,
    pub automation_id: Uuid,
    pub name: String,
    pub task: TaskSpec,
}

/// The automation side of the workflow store.
#[async_trait::async_trait]
pub trait WorkflowAutomations: Send + Sync + 'static {
    async fn create_automation(
        &self,
        automation: &NewAutomation,
        now_ns: i64,
    ) -> Result<Automation, StoreError>;
    /// Replaces its name, task and triggers (cron triggers due at their new first times,
    /// storage triggers fired by objects from `now_ns` on); the jobs it submitted stay. `None`
    /// when there is no such automation.
    async fn update_automation(
        &self,
        id: Uuid,
        automation: &NewAutomation,
        now_ns: i64,
    ) -> Result<Option<Automation>, StoreError>;
    /// Every automation, oldest first.
    async fn automations(&self) -> Result<Vec<Automation>, StoreError>;
    async fn automation(&self, id: Uuid) -> Result<Option<Automation>, StoreError>;
    /// Deletes it and its triggers (the jobs it submitted stay, still naming it); with
    /// `cancel_jobs` its jobs that are not finished are canceled. Whether it existed.
    async fn delete_automation(
        &self,
        id: Uuid,
        cancel_jobs: bool,
        now_ns: i64,
    ) -> Result<bool, StoreError>;
    /// Triggers due at `now_ns`, the most overdue first, at most `limit`.
    async fn due_triggers(&self, now_ns: i64, limit: i64) -> Result<Vec<DueTrigger>, StoreError>;
    /// Moves `due` to `next_ns` without submitting anything (a tick whose job cannot be
    /// submitted: its cluster was deleted); whether it was still due.
    async fn skip_trigger(&self, due: &DueTrigger, next_ns: i64) -> Result<bool, StoreError>;
    /// Fires `due` (as read by [`Self::due_triggers`]): moves it to `next_ns` and submits `job`
    /// for it, in one transaction, unless another caller fired it first (then `None`).
    async fn fire_trigger(
        &self,
        due: &DueTrigger,
        next_ns: i64,
        job: NewJob,
        now_ns: i64,
    ) -> Result<Option<WorkflowJob>, StoreError>;
}

/// Longest glob pattern of a storage-event trigger, in bytes.
pub const MAX_GLOB_BYTES: usize = 1024;

/// The checks of a new automation: a name, the job's limits, 1 to [`MAX_TRIGGERS`] triggers
/// (cron schedules and storage-event globs together).
fn validate_automation(automation: &NewAutomation) -> Result<(), StoreError> {
    check_text("the automation name", &automation.name, MAX_TEXT_BYTES)?;
    if automation.name.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "an automation needs a name".to_owned(),
        ));
    }
    let triggers = automation.schedules.len() + automation.storage.len();
    if triggers == 0 || triggers > MAX_TRIGGERS {
        return Err(StoreError::InvalidArgument(format!(
            "an automation needs 1 to {MAX_TRIGGERS} triggers, not {triggers}"
        )));
    }
    for (_, glob) in &automation.storage {
        check_text("a glob pattern", glob, MAX_GLOB_BYTES)?;
        crate::storage_watch::Glob::parse(glob).map_err(StoreError::InvalidArgument)?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(super) struct AutomationRow {
    pub(super) id: Vec<u8>,
    pub(super) name: String,
    cluster_slug: String,
    identifier_name: String,
    identifier_version: String,
    display: String,
    input: Vec<u8>,
    max_retries: i64,
    pub(super) created_ns: i64,
}

const AUTOMATIONS: &str = "SELECT id, name, cluster_slug, identifier_name, identifier_version, \
    display, input, max_retries, created_ns FROM automations";

impl AutomationRow {
    pub(super) fn task(&self) -> TaskSpec {
        TaskSpec {
            identifier_name: self.identifier_name.clone(),
            identifier_version: self.identifier_version.clone(),
            display: self.display.clone(),
            input: self.input.clone(),
            cluster_slug: self.cluster_slug.clone(),
            max_retries: self.max_retries,
            optional: false,
            depends_on: Vec::new(),
        }
    }
}

fn uuid_of(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("an automation id: {e}")))
}

macro_rules! impl_workflow_automations {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Checks `automation` as a tick's submission would be checked (a task that could
            /// never be submitted is refused now rather than failing every tick); its cluster,
            /// the default one when it names none.
            async fn checked_cluster(
                tx: &mut sqlx::Transaction<'static, $db>,
                automation: &NewAutomation,
            ) -> Result<String, StoreError> {
                validate_automation(automation)?;
                let probe = NewJob {
                    name: automation.name.clone(),
                    trace_parent: String::new(),
                    trace_id: crate::store::TraceId([0; 16]),
                    tasks: vec![automation.task.clone()],
                };
                validate_job(&probe)?;
                validate_task_texts(&probe.tasks)?;
                validate_dependencies(&probe.tasks)?;
                let cluster = if automation.task.cluster_slug.is_empty() {
                    Self::default_cluster(&mut **tx).await?.slug
                } else {
                    automation.task.cluster_slug.clone()
                };
                let known: Option<String> =
                    sqlx::query_scalar("SELECT slug FROM clusters WHERE slug = $1")
                        .bind(cluster.as_str())
                        .fetch_optional(&mut **tx)
                        .await?;
                if known.is_none() {
                    return Err(StoreError::NotFound(format!("cluster {cluster:?}")));
                }
                Ok(cluster)
            }

            /// `query` (with its `$1` bound) with the automation's own columns bound as `$2` to
            /// `$8`: name, cluster, identifier name and version, display, input, retries.
            fn bind_columns<'q>(
                query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                automation: &'q NewAutomation,
                cluster: &'q str,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
                let task = &automation.task;
                query
                    .bind(automation.name.as_str())
                    .bind(cluster)
                    .bind(task.identifier_name.as_str())
                    .bind(task.identifier_version.as_str())
                    .bind(task.display.as_str())
                    .bind(task.input.as_slice())
                    .bind(task.max_retries)
            }

            /// The cron and storage-event triggers of automation `id`; the storage triggers
            /// fire for objects from `now_ns` on.
            async fn insert_triggers(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: Uuid,
                automation: &NewAutomation,
                now_ns: i64,
            ) -> Result<(), StoreError> {
                for (schedule, next_ns) in &automation.schedules {
                    sqlx::query(
                        "INSERT INTO cron_triggers (id, automation_id, schedule, next_ns) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(Uuid::now_v7().as_bytes().to_vec())
                    .bind(id.as_bytes().to_vec())
                    .bind(schedule.as_str())
                    .bind(*next_ns)
                    .execute(&mut **tx)
                    .await?;
                }
                for (location, glob) in &automation.storage {
                    // Locked: a delete of the location waits, or this sees it gone.
                    let kind: Option<i64> = sqlx::query_scalar(&format!(
                        "SELECT kind FROM storage_locations WHERE id = $1{}",
                        Self::ROW_LOCK
                    ))
                    .bind(location.as_bytes().to_vec())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if kind.and_then(StorageKind::from_code).is_none() {
                        return Err(StoreError::NotFound(format!("storage location {location}")));
                    }
                    sqlx::query(
                        "INSERT INTO storage_triggers (id, automation_id, location_id, glob, \
                         since_ns) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(Uuid::now_v7().as_bytes().to_vec())
                    .bind(id.as_bytes().to_vec())
                    .bind(location.as_bytes().to_vec())
                    .bind(glob.as_str())
                    .bind(now_ns)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            async fn load_automations(
                &self,
                id: Option<Uuid>,
            ) -> Result<Vec<Automation>, StoreError> {
                let mut conn = self.read.acquire().await?;
                let rows: Vec<AutomationRow> = match id {
                    Some(id) => {
                        sqlx::query_as(&format!("{AUTOMATIONS} WHERE id = $1"))
                            .bind(id.as_bytes().to_vec())
                            .fetch_all(&mut *conn)
                            .await?
                    }
                    None => {
                        sqlx::query_as(&format!("{AUTOMATIONS} ORDER BY created_ns, id"))
                            .fetch_all(&mut *conn)
                            .await?
                    }
                };
                let mut automations = Vec::with_capacity(rows.len());
                for row in rows {
                    let triggers: Vec<(Vec<u8>, String, i64)> = sqlx::query_as(
                        "SELECT id, schedule, next_ns FROM cron_triggers \
                         WHERE automation_id = $1 ORDER BY id",
                    )
                    .bind(&row.id)
                    .fetch_all(&mut *conn)
                    .await?;
                    let triggers = triggers
                        .into_iter()
                        .map(|(id, schedule, next_ns)| {
                            Ok(CronTrigger {
                                id: uuid_of(&id)?,
                                schedule,
                                next_ns,
                            })
                        })
                        .collect::<Result<_, StoreError>>()?;
                    let storage_triggers =
                        Self::automation_storage_triggers(&mut *conn, &row.id).await?;
                    automations.push(Automation {
                        storage_triggers,
                        id: uuid_of(&row.id)?,
                        task: row.task(),
                        name: row.name,
                        created_ns: row.created_ns,
                        triggers,
                    });
                }
                Ok(automations)
            }
        }

        #[async_trait::async_trait]
        impl WorkflowAutomations for $store {
            async fn create_automation(
                &self,
                automation: &NewAutomation,
                now_ns: i64,
            ) -> Result<Automation, StoreError> {
                let id = Uuid::now_v7();
                let (mut tx, _turn) = self.write_tx().await?;
                let count: i64 = sqlx::query_scalar("SELECT count(*) FROM automations")
                    .fetch_one(&mut *tx)
                    .await?;
                if count >= MAX_AUTOMATIONS {
                    return Err(StoreError::InvalidArgument(format!(
                        "at most {MAX_AUTOMATIONS} automations; delete one first"
                    )));
                }
                let cluster = Self::checked_cluster(&mut tx, automation).await?;
                let insert = sqlx::query(
                    "INSERT INTO automations (id, name, cluster_slug, identifier_name, \
                     identifier_version, display, input, max_retries, created_ns) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id.as_bytes().to_vec());
                Self::bind_columns(insert, automation, &cluster)
                    .bind(now_ns)
                    .execute(&mut *tx)
                    .await?;
                Self::insert_triggers(&mut tx, id, automation, now_ns).await?;
                tx.commit().await?;
                self.load_automations(Some(id))
                    .await?
                    .pop()
                    .ok_or_else(|| StoreError::NotFound(format!("automation {id}")))
            }

            async fn update_automation(
                &self,
                id: Uuid,
                automation: &NewAutomation,
                now_ns: i64,
            ) -> Result<Option<Automation>, StoreError> {
                let key = id.as_bytes().to_vec();
                let (mut tx, _turn) = self.write_tx().await?;
                let cluster = Self::checked_cluster(&mut tx, automation).await?;
                let update = sqlx::query(
                    "UPDATE automations SET name = $2, cluster_slug = $3, identifier_name = $4, \
                     identifier_version = $5, display = $6, input = $7, max_retries = $8 \
                     WHERE id = $1",
                )
                .bind(&key);
                let updated = Self::bind_columns(update, automation, &cluster)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Ok(None);
                }
                for table in ["cron_triggers", "storage_triggers"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE automation_id = $1"))
                        .bind(&key)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_triggers(&mut tx, id, automation, now_ns).await?;
                tx.commit().await?;
                Ok(self.load_automations(Some(id)).await?.pop())
            }

            async fn automations(&self) -> Result<Vec<Automation>, StoreError> {
                self.load_automations(None).await
            }

            async fn automation(&self, id: Uuid) -> Result<Option<Automation>, StoreError> {
                Ok(self.load_automations(Some(id)).await?.pop())
            }

            async fn delete_automation(
                &self,
                id: Uuid,
                cancel_jobs: bool,
                now_ns: i64,
            ) -> Result<bool, StoreError> {
                let key = id.as_bytes().to_vec();
                let (mut tx, turn) = self.write_tx().await?;
                for table in ["cron_triggers", "storage_triggers"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE automation_id = $1"))
                        .bind(&key)
                        .execute(&mut *tx)
                        .await?;
                }
                let deleted = sqlx::query("DELETE FROM automations WHERE id = $1")
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                tx.commit().await?;
                drop(turn);
                if deleted && cancel_jobs {
                    // Its jobs not finished yet, each canceled as `CancelJob` would.
                    let open: Vec<Vec<u8>> = sqlx::query_scalar(
                        "SELECT id FROM jobs WHERE automation_id = $1 AND kind = 1 \
                         AND state IN ($2, $3, $4)",
                    )
                    .bind(&key)
                    .bind(app::model::JobState::Submitted.code())
                    .bind(app::model::JobState::Running.code())
                    .bind(app::model::JobState::Started.code())
                    .fetch_all(&self.read)
                    .await?;
                    for job in open {
                        match super::WorkflowJobs::cancel_job(self, uuid_of(&job)?, now_ns).await {
                            // Pruned meanwhile: nothing left to cancel.
                            Ok(()) | Err(StoreError::NotFound(_)) => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
                Ok(deleted)
            }

            async fn due_triggers(
                &self,
                now_ns: i64,
                limit: i64,
            ) -> Result<Vec<DueTrigger>, StoreError> {
                #[derive(sqlx::FromRow)]
                struct Due {
                    trigger_id: Vec<u8>,
                    schedule: String,
                    next_ns: i64,
                    #[sqlx(flatten)]
                    automation: AutomationRow,
                }
                let rows: Vec<Due> = sqlx::query_as(
                    "SELECT t.id AS trigger_id, t.schedule, t.next_ns, a.id, a.name, \
                     a.cluster_slug, a.identifier_name, a.identifier_version, a.display, \
                     a.input, a.max_retries, a.created_ns \
                     FROM cron_triggers t JOIN automations a ON a.id = t.automation_id \
                     WHERE t.next_ns <= $1 ORDER BY t.next_ns LIMIT $2",
                )
                .bind(now_ns)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(DueTrigger {
                            trigger: CronTrigger {
                                id: uuid_of(&row.trigger_id)?,
                                schedule: row.schedule,
                                next_ns: row.next_ns,
                            },
                            automation_id: uuid_of(&row.automation.id)?,
                            task: row.automation.task(),
                            name: row.automation.name,
                        })
                    })
                    .collect()
            }

            async fn skip_trigger(
                &self,
                due: &DueTrigger,
                next_ns: i64,
            ) -> Result<bool, StoreError> {
                let moved = sqlx::query(MOVE_TRIGGER)
                    .bind(due.trigger.id.as_bytes().to_vec())
                    .bind(due.trigger.next_ns)
                    .bind(next_ns)
                    .execute(&self.write)
                    .await?;
                Ok(moved.rows_affected() > 0)
            }

            async fn fire_trigger(
                &self,
                due: &DueTrigger,
                next_ns: i64,
                mut job: NewJob,
                now_ns: i64,
            ) -> Result<Option<WorkflowJob>, StoreError> {
                validate_job(&job)?;
                let (mut tx, _turn) = self.write_tx().await?;
                let moved = sqlx::query(MOVE_TRIGGER)
                    .bind(due.trigger.id.as_bytes().to_vec())
                    .bind(due.trigger.next_ns)
                    .bind(next_ns)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if moved == 0 {
                    // Fired by another replica, or deleted meanwhile.
                    return Ok(None);
                }
                let default = Self::default_cluster(&mut *tx).await?;
                let id = Self::job_row(&mut tx, &mut job, now_ns).await?;
                Self::insert_tasks(&mut tx, &id, None, &default.slug, &job.tasks, now_ns).await?;
                sqlx::query("UPDATE jobs SET automation_id = $2, trigger_ns = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(due.automation_id.as_bytes().to_vec())
                    .bind(due.trigger.next_ns)
                    .execute(&mut *tx)
                    .await?;
                let facts = Self::lock_job(&mut tx, &id).await?;
                let loaded = Self::load_workflow_job(&mut *tx, facts).await?;
                tx.commit().await?;
                Ok(Some(loaded))
            }
        }
    };
}

impl_workflow_automations!(SqliteStore, sqlx::Sqlite);
impl_workflow_automations!(PostgresStore, sqlx::Postgres);
