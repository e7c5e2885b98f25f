//! The SQL behind [`TraceStore`], written once and instantiated for SQLite and PostgreSQL.
//!
//! Both backends accept the same statements (`$n` parameters, `ON CONFLICT`, `RETURNING`, row
//! values), so the code is shared through a macro over the concrete sqlx types instead of
//! generic bounds over `sqlx::Database`. Backend differences live in `connect` only.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

/// Rows per multi-row statement: 16 parameters each stays under both backends' limits
/// (SQLite 32766, PostgreSQL 65535) and a usual OTLP batch (512) fits in one.
const INSERT_CHUNK: usize = 1000;

const JOB_COLUMNS: &str = "id, trace_id, kind, name, name_source, root_status, state, start_ns, \
    end_ns, span_count, error_count, failed_tasks, services";

const SPAN_SELECT: &str = "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status_code, s.status_message, s.attributes, s.events, \
    r.attributes AS resource, s.scope_name, s.scope_version \
    FROM spans s JOIN resources r ON r.id = s.resource_id";

const LOG_SELECT: &str = "SELECT l.id, l.trace_id, l.span_id, l.time_ns, l.severity_number, \
    l.severity_text, l.body, l.attributes, r.attributes AS resource \
    FROM logs l JOIN resources r ON r.id = l.resource_id";

const UPSERT_JOB: &str = "INSERT INTO jobs (id, trace_id, kind, name, name_source, root_status, \
    state, start_ns, end_ns, span_count, error_count, failed_tasks, services) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_source = excluded.name_source, \
    root_status = excluded.root_status, state = excluded.state, start_ns = excluded.start_ns, \
    end_ns = excluded.end_ns, span_count = excluded.span_count, \
    error_count = excluded.error_count, failed_tasks = excluded.failed_tasks, \
    services = excluded.services";

/// Keyset cursor of the job list: the last row's (start_ns, id).
fn encode_cursor(start_ns: i64, id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(format!("{start_ns}:{}", hex::encode(id)))
}

fn decode_cursor(cursor: &str) -> Result<(i64, Vec<u8>), StoreError> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    let (start, id) = text.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let start = start.parse().map_err(|_| StoreError::InvalidCursor)?;
    let id = hex::decode(id).map_err(|_| StoreError::InvalidCursor)?;
    if id.len() != 16 {
        return Err(StoreError::InvalidCursor);
    }
    Ok((start, id))
}

/// SQLite: one writer connection (writes are serialized anyway; this avoids SQLITE_BUSY
/// between our own connections) and a pool of readers. WAL with synchronous=NORMAL: a commit
/// survives a process crash; the last commits may be lost on power loss.
pub struct SqliteStore {
    pub(super) write: SqlitePool,
    pub(super) read: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { write, read })
    }
}

/// PostgreSQL: one pool for reads and writes.
pub struct PostgresStore {
    pub(super) write: PgPool,
    pub(super) read: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            write: pool.clone(),
            read: pool,
        })
    }
}

macro_rules! impl_trace_store {
    ($store:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl super::TraceStore for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn write_spans(
                &self,
                batch: &super::SpanBatch,
            ) -> Result<super::WriteSummary, StoreError> {
                // A span sent twice in one request counts once: the first copy wins.
                let mut seen = HashSet::with_capacity(batch.spans.len());
                let spans: Vec<&super::NewSpan> = batch
                    .spans
                    .iter()
                    .filter(|span| seen.insert((span.trace_id, span.span_id)))
                    .collect();
                // First assume spans of known traces are new (the common case, no lookup); if
                // the insert skipped any, start over looking each one up. A concurrent request
                // (PostgreSQL; SQLite has one writer) can still race the lookup: start over again.
                for careful in [false, true, true, true] {
                    if let Some(written) =
                        self.try_write_spans(&spans, &batch.resources, careful).await?
                    {
                        return Ok(super::WriteSummary {
                            written,
                            duplicates: batch.spans.len() as u64 - written,
                        });
                    }
                }
                Err(StoreError::Busy)
            }

            async fn write_logs(
                &self,
                batch: &super::LogBatch,
            ) -> Result<super::WriteSummary, StoreError> {
                let mut tx = self.write.begin().await.map_err(StoreError::from_sqlx)?;
                insert_resources!($db, &mut *tx, &batch.resources);
                for chunk in batch.logs.chunks(INSERT_CHUNK) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO logs (trace_id, span_id, time_ns, observed_ns, \
                         severity_number, severity_text, body, attributes, resource_id, \
                         scope_name, task_id) ",
                    );
                    insert.push_values(chunk, |mut row, log| {
                        row.push_bind(log.trace_id.as_ref().map(|t| &t.0[..]))
                            .push_bind(log.span_id.as_ref().map(|s| &s.0[..]))
                            .push_bind(log.time_ns)
                            .push_bind(log.observed_ns)
                            .push_bind(log.severity_number)
                            .push_bind(log.severity_text.as_str())
                            .push_bind(log.body.as_str())
                            .push_bind(log.attributes_json.as_str())
                            .push_bind(log.resource_id)
                            .push_bind(log.scope_name.as_str())
                            .push_bind(log.task_id.as_deref());
                    });
                    insert.build().execute(&mut *tx).await.map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(super::WriteSummary {
                    written: batch.logs.len() as u64,
                    duplicates: 0,
                })
            }

            async fn list_jobs(
                &self,
                query: &app::model::JobListQuery,
            ) -> Result<app::model::JobPage, StoreError> {
                let limit = i64::from(query.limit.clamp(1, 1000));
                let rows: Vec<super::rows::JobRow> = match &query.cursor {
                    None => {
                        sqlx::query_as(&format!(
                            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY start_ns DESC, id DESC LIMIT $1"
                        ))
                        .bind(limit + 1)
                        .fetch_all(&self.read)
                        .await?
                    }
                    Some(cursor) => {
                        let (start_ns, id) = decode_cursor(cursor)?;
                        sqlx::query_as(&format!(
                            "SELECT {JOB_COLUMNS} FROM jobs WHERE (start_ns, id) < ($1, $2) \
                             ORDER BY start_ns DESC, id DESC LIMIT $3"
                        ))
                        .bind(start_ns)
                        .bind(id)
                        .bind(limit + 1)
                        .fetch_all(&self.read)
                        .await?
                    }
                };
                let mut page = page_of(rows, limit)?;
                self.attach_task_summaries(&mut page.jobs).await?;
                Ok(page)
            }

            async fn find_job(
                &self,
                job: super::JobRef,
            ) -> Result<Option<app::model::Job>, StoreError> {
                let row: Option<super::rows::JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 OR trace_id = $1 \
                     ORDER BY (id = $1) DESC LIMIT 1"
                ))
                .bind(&job.0[..])
                .fetch_optional(&self.read)
                .await?;
                let mut jobs: Vec<app::model::Job> =
                    row.map(super::rows::JobRow::into_model).transpose()?.into_iter().collect();
                self.attach_task_summaries(&mut jobs).await?;
                Ok(jobs.pop())
            }

            async fn trace_spans(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::Span>, StoreError> {
                let rows: Vec<super::rows::SpanRow> = sqlx::query_as(&format!(
                    "{SPAN_SELECT} WHERE s.trace_id = $1 ORDER BY s.start_ns, s.span_id"
                ))
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(super::rows::SpanRow::into_model).collect()
            }

            async fn trace_logs(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::LogRecord>, StoreError> {
                let rows: Vec<super::rows::LogRow> = sqlx::query_as(&format!(
                    "{LOG_SELECT} WHERE l.trace_id = $1 ORDER BY l.time_ns, l.id"
                ))
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(super::rows::LogRow::into_model).collect()
            }

            async fn stats(&self) -> Result<app::model::Stats, StoreError> {
                let (jobs, spans, logs): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM spans), \
                     (SELECT count(*) FROM logs)",
                )
                .fetch_one(&self.read)
                .await?;
                Ok(app::model::Stats { jobs, spans, logs })
            }

            async fn span_page(
                &self,
                trace_id: super::TraceId,
                query: &super::SpanPageQuery,
            ) -> Result<Vec<app::model::Span>, StoreError> {
                let mut select = sqlx::QueryBuilder::<$db>::new(SPAN_SELECT);
                select.push(" WHERE s.trace_id = ").push_bind(&trace_id.0[..]);
                if let Some(task_id) = &query.task_id {
                    select.push(" AND s.task_key = ").push_bind(task_id.as_str());
                }
                if let Some((start_ns, span_id)) = &query.after {
                    select.push(" AND (s.start_ns, s.span_id) > (").push_bind(*start_ns);
                    select.push(", ").push_bind(&span_id.0[..]).push(")");
                }
                select.push(" ORDER BY s.start_ns, s.span_id LIMIT ");
                select.push_bind(i64::from(query.limit.clamp(1, 10_000)));
                let rows: Vec<super::rows::SpanRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                rows.into_iter().map(super::rows::SpanRow::into_model).collect()
            }

            async fn log_page(
                &self,
                trace_id: super::TraceId,
                query: &super::LogPageQuery,
            ) -> Result<Vec<(i64, app::model::LogRecord)>, StoreError> {
                let mut select = sqlx::QueryBuilder::<$db>::new(LOG_SELECT);
                select.push(" WHERE l.trace_id = ").push_bind(&trace_id.0[..]);
                if let Some(task_id) = &query.task_id {
                    select.push(" AND l.task_id = ").push_bind(task_id.as_str());
                }
                if !query.severities.is_empty() {
                    select.push(" AND (");
                    for (index, (low, high)) in query.severities.iter().enumerate() {
                        if index > 0 {
                            select.push(" OR ");
                        }
                        select.push("l.severity_number BETWEEN ").push_bind(*low);
                        select.push(" AND ").push_bind(*high);
                    }
                    select.push(")");
                }
                if let Some((time_ns, id)) = query.after {
                    select.push(" AND (l.time_ns, l.id) > (").push_bind(time_ns);
                    select.push(", ").push_bind(id).push(")");
                }
                select.push(" ORDER BY l.time_ns, l.id LIMIT ");
                select.push_bind(i64::from(query.limit.clamp(1, 10_000)));
                let rows: Vec<super::rows::LogRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                rows.into_iter().map(super::rows::LogRow::into_model_with_id).collect()
            }
        }

        impl $store {
            /// Task counts by state and clusters, for the workflow jobs among `jobs`.
            async fn attach_task_summaries(
                &self,
                jobs: &mut [app::model::Job],
            ) -> Result<(), StoreError> {
                let ids: Vec<Vec<u8>> = jobs
                    .iter()
                    .filter_map(|job| uuid::Uuid::parse_str(&job.id).ok())
                    .map(|id| id.as_bytes().to_vec())
                    .collect();
                if ids.is_empty() {
                    return Ok(());
                }
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT job_id, state, cluster_slug, count(*) FROM tasks WHERE job_id IN (",
                );
                let mut list = select.separated(", ");
                for id in &ids {
                    list.push_bind(id.as_slice());
                }
                select.push(") GROUP BY job_id, state, cluster_slug");
                let rows: Vec<(Vec<u8>, i32, String, i64)> =
                    select.build_query_as().fetch_all(&self.read).await?;
                let mut summaries: HashMap<Vec<u8>, app::model::TaskSummary> = HashMap::new();
                for (job_id, state, cluster, count) in rows {
                    let summary = summaries.entry(job_id).or_default();
                    let state = super::workflow::TaskState::from_code(i64::from(state))
                        .ok_or_else(|| StoreError::Corrupt(format!("task state {state}")))?;
                    summary.add(state.as_str(), count);
                    if !summary.clusters.contains(&cluster) {
                        summary.clusters.push(cluster);
                    }
                }
                for job in jobs.iter_mut() {
                    if let Ok(id) = uuid::Uuid::parse_str(&job.id) {
                        job.tasks = summaries.remove(id.as_bytes().as_slice());
                    }
                }
                Ok(())
            }

            /// One attempt at storing `spans` in one transaction; `None` if some were stored
            /// already (nothing is committed then). `careful` looks up which spans of known
            /// traces are stored before inserting.
            async fn try_write_spans(
                &self,
                spans: &[&super::NewSpan],
                resources: &[super::NewResource],
                careful: bool,
            ) -> Result<Option<u64>, StoreError> {
                use super::rows::{FailedTasks, JobRow, TraceDelta};
                let mut tx = self.write.begin().await.map_err(StoreError::from_sqlx)?;
                insert_resources!($db, &mut *tx, resources);
                // Per trace: its job as stored, and which of its spans are new.
                let mut plans: Vec<(super::TraceId, Option<JobRow>, Vec<&super::NewSpan>)> = Vec::new();
                for (trace_id, trace_spans) in super::rows::by_trace(spans) {
                    let existing: Option<JobRow> = sqlx::query_as(&format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE trace_id = $1"
                    ))
                    .bind(&trace_id.0[..])
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    // A trace without a job row has no stored spans: both are written together.
                    let new_spans = if careful && existing.is_some() {
                        let mut stored: HashSet<super::SpanId> = HashSet::new();
                        for chunk in trace_spans.chunks(INSERT_CHUNK) {
                            let mut select = sqlx::QueryBuilder::<$db>::new(
                                "SELECT span_id FROM spans WHERE trace_id = ",
                            );
                            select.push_bind(&trace_id.0[..]).push(" AND span_id IN (");
                            let mut list = select.separated(", ");
                            for span in chunk {
                                list.push_bind(&span.span_id.0[..]);
                            }
                            select.push(")");
                            let ids: Vec<Vec<u8>> = select
                                .build_query_scalar()
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                            stored.extend(ids.iter().filter_map(|id| super::SpanId::from_bytes(id)));
                        }
                        trace_spans
                            .into_iter()
                            .filter(|span| !stored.contains(&span.span_id))
                            .collect()
                    } else {
                        trace_spans
                    };
                    plans.push((trace_id, existing, new_spans));
                }
                let fresh: Vec<&super::NewSpan> =
                    plans.iter().flat_map(|(_, _, new_spans)| new_spans.iter().copied()).collect();
                let mut affected = 0;
                for chunk in fresh.chunks(INSERT_CHUNK) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, \
                         start_ns, end_ns, status_code, status_message, attributes, events, \
                         resource_id, service_name, scope_name, scope_version, task_key) ",
                    );
                    insert.push_values(chunk, |mut row, span| {
                        row.push_bind(&span.trace_id.0[..])
                            .push_bind(&span.span_id.0[..])
                            .push_bind(span.parent_span_id.as_ref().map(|p| &p.0[..]))
                            .push_bind(span.name.as_str())
                            .push_bind(span.kind)
                            .push_bind(span.start_ns)
                            .push_bind(span.end_ns)
                            .push_bind(span.status_code)
                            .push_bind(span.status_message.as_str())
                            .push_bind(span.attributes_json.as_str())
                            .push_bind(span.events_json.as_str())
                            .push_bind(span.resource_id)
                            .push_bind(span.service_name.as_str())
                            .push_bind(span.scope_name.as_str())
                            .push_bind(span.scope_version.as_str())
                            .push_bind(span.task_key.as_deref());
                    });
                    insert.push(" ON CONFLICT (trace_id, span_id) DO NOTHING");
                    affected += insert
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?
                        .rows_affected();
                }
                if affected != fresh.len() as u64 {
                    return Ok(None);
                }
                for (trace_id, existing, new_spans) in plans {
                    if new_spans.is_empty() {
                        continue;
                    }
                    let known_trace = existing.is_some();
                    let mut job = super::rows::merge_job(trace_id, existing, &TraceDelta::of(&new_spans));
                    let mut failed = FailedTasks::parse(&job.failed_tasks)?;
                    let to_check = failed.apply(&new_spans);
                    // A failure counts unless a stored attempt that did not fail started later;
                    // a trace seen for the first time has no stored attempts.
                    let mut latest_success: HashMap<String, i64> = HashMap::new();
                    if known_trace {
                        for chunk in to_check.chunks(INSERT_CHUNK) {
                            let mut select = sqlx::QueryBuilder::<$db>::new(
                                "SELECT task_key, max(start_ns) FROM spans WHERE status_code <> 2 \
                                 AND trace_id = ",
                            );
                            select.push_bind(&trace_id.0[..]).push(" AND task_key IN (");
                            let mut list = select.separated(", ");
                            for (key, _) in chunk {
                                list.push_bind(*key);
                            }
                            select.push(") GROUP BY task_key");
                            let rows: Vec<(String, i64)> = select
                                .build_query_as()
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                            latest_success.extend(rows);
                        }
                    }
                    failed.confirm(&to_check, &latest_success);
                    job.failed_tasks = failed.to_json();
                    if job.kind == super::rows::KIND_TRACE {
                        job.state = super::rows::derive_state(&job, &failed).code();
                    }
                    sqlx::query(UPSERT_JOB)
                        .bind(&job.id)
                        .bind(&job.trace_id)
                        .bind(job.kind)
                        .bind(&job.name)
                        .bind(job.name_source)
                        .bind(job.root_status)
                        .bind(job.state)
                        .bind(job.start_ns)
                        .bind(job.end_ns)
                        .bind(job.span_count)
                        .bind(job.error_count)
                        .bind(&job.failed_tasks)
                        .bind(&job.services)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(Some(fresh.len() as u64))
            }
        }
    };
}

/// Inserts the resources a batch refers to; ones already stored are kept.
macro_rules! insert_resources {
    ($db:ty, $conn:expr, $resources:expr) => {
        for chunk in $resources.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO resources (id, attributes, service_name) ",
            );
            insert.push_values(chunk, |mut row, resource| {
                row.push_bind(resource.id)
                    .push_bind(resource.attributes_json.as_str())
                    .push_bind(resource.service_name.as_str());
            });
            insert.push(" ON CONFLICT (id) DO NOTHING");
            insert
                .build()
                .execute($conn)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
    };
}

/// Turns `limit + 1` fetched rows into a page and the cursor after its last row.
fn page_of(
    mut rows: Vec<super::rows::JobRow>,
    limit: i64,
) -> Result<app::model::JobPage, StoreError> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|row| encode_cursor(row.start_ns, &row.id))
    } else {
        None
    };
    let jobs = rows
        .into_iter()
        .map(super::rows::JobRow::into_model)
        .collect::<Result<_, _>>()?;
    Ok(app::model::JobPage { jobs, next_cursor })
}

impl_trace_store!(SqliteStore, sqlx::Sqlite, "sqlite");
impl_trace_store!(PostgresStore, sqlx::Postgres, "postgres");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cursor_round_trip() {
        let cursor = encode_cursor(-42, &[9; 16]);
        assert_eq!(decode_cursor(&cursor).ok(), Some((-42, vec![9; 16])));
    }

    #[test]
    fn test_garbage_cursor_is_rejected() {
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("12:abcd"),
            &URL_SAFE_NO_PAD.encode("x:00"),
        ] {
            assert!(
                matches!(decode_cursor(bad), Err(StoreError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
