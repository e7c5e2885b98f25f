//! The SQL behind [`TraceStore`], written once and instantiated for SQLite and PostgreSQL.
//!
//! Both backends accept the same statements (`$n` parameters, `ON CONFLICT`, `RETURNING`, row
//! values), so the code is shared through a macro over the concrete sqlx types instead of
//! generic bounds over `sqlx::Database`. Backend differences live in: `connect` (pools,
//! pragmas, migrations), the span and log writers (`sqlite_write.rs` on rusqlite with group
//! commit, `postgres_write.rs` with row locks), the outline read (`sqlite_read.rs` on SQLite),
//! the attribute comparisons below (`sqlite_attribute_equals`, `postgres_attribute_equals`),
//! and how workflow transactions lock (`workflow/backend.rs`).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;
use super::job_filter::{push_contains, push_job_filter, push_span_ids};
use super::span_write::JOB_COLUMNS;
use super::sqlite_read::SqliteReader;
use super::sqlite_write::SqliteWriter;
use app::model::JobSort;

const SPAN_SELECT: &str = "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status_code, s.status_message, s.attributes, s.events, \
    r.attributes AS resource, s.scope_name, s.scope_version \
    FROM spans s JOIN resources r ON r.id = s.resource_id";

const LOG_SELECT: &str = "SELECT l.id, l.trace_id, l.span_id, l.time_ns, l.severity_number, \
    l.severity_text, l.body, l.attributes, r.attributes AS resource \
    FROM logs l JOIN resources r ON r.id = l.resource_id";

fn sort_tag(sort: JobSort) -> &'static str {
    match sort {
        JobSort::Newest => "n",
        JobSort::Longest => "d",
    }
}

/// Keyset cursor of the job list: the order and the last row's (sort key, id).
fn encode_cursor(sort: JobSort, key: i64, id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{key}:{}", sort_tag(sort), hex::encode(id)))
}

/// A cursor is only valid for the order it was made in.
fn decode_cursor(cursor: &str, sort: JobSort) -> Result<(i64, Vec<u8>), StoreError> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    let text = text
        .strip_prefix(sort_tag(sort))
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or(StoreError::InvalidCursor)?;
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
    /// Workflow operations (sqlx, `BEGIN IMMEDIATE`).
    pub(super) write: SqlitePool,
    pub(super) read: SqlitePool,
    /// Spans and logs (rusqlite, group commit).
    writer: SqliteWriter,
    /// Bulk reads (rusqlite).
    reader: SqliteReader,
    /// Workflow transactions waiting for or holding the write lock (the writer yields to them).
    pub(super) workflow_waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
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
        let path = options.get_filename().to_path_buf();
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        // A read waits at most this long for a connection: under a flood of page renders a
        // request fails with "busy" instead of queueing for sqlx's default 30 s.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await?;
        let workflow_waiting = std::sync::Arc::default();
        let writer = SqliteWriter::start(&path, std::sync::Arc::clone(&workflow_waiting))?;
        Ok(SqliteStore {
            write,
            read,
            writer,
            reader: SqliteReader::new(path),
            workflow_waiting,
        })
    }
}

impl PostgresStore {
    async fn outline_rows(
        &self,
        trace_id: super::TraceId,
    ) -> Result<Vec<super::rows::OutlineRow>, StoreError> {
        Ok(sqlx::query_as(super::rows::OUTLINE_SELECT)
            .bind(&trace_id.0[..])
            .fetch_all(&self.read)
            .await?)
    }
}

impl SqliteStore {
    async fn outline_rows(
        &self,
        trace_id: super::TraceId,
    ) -> Result<Vec<super::rows::OutlineRow>, StoreError> {
        self.reader.outline_rows(trace_id).await
    }

    /// Healthy: the span writer thread runs and the file answers a read. The read goes through
    /// the rusqlite reader, not the sqlx pool that page renders may hold all of.
    async fn health(&self) -> Result<(), StoreError> {
        if !self.writer.is_running() {
            return Err(StoreError::WriterStopped);
        }
        self.reader.ping().await
    }
}

impl PostgresStore {
    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
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
    ($store:ty, $db:ty, $backend:literal, $attribute_equals:path) => {
        #[async_trait::async_trait]
        impl super::TraceStore for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                self.health().await
            }

            async fn write_spans(
                &self,
                batch: super::SpanBatch,
            ) -> Result<super::WriteSummary, StoreError> {
                self.store_spans(batch).await
            }

            async fn write_logs(
                &self,
                batch: super::LogBatch,
            ) -> Result<super::WriteSummary, StoreError> {
                self.store_logs(batch).await
            }

            async fn list_jobs(
                &self,
                query: &app::model::JobListQuery,
            ) -> Result<app::model::JobPage, StoreError> {
                let limit = i64::from(query.limit.clamp(1, 1000));
                // The sort key and its keyset position; the id breaks ties.
                let key = match query.sort {
                    JobSort::Newest => "start_ns",
                    JobSort::Longest => "(end_ns - start_ns)",
                };
                let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"
                ));
                push_job_filter(&mut select, &query.filter, true);
                if let Some(cursor) = &query.cursor {
                    let (value, id) = decode_cursor(cursor, query.sort)?;
                    select
                        .push(format!(" AND ({key}, id) < ("))
                        .push_bind(value);
                    select.push(", ").push_bind(id).push(")");
                }
                select
                    .push(format!(" ORDER BY {key} DESC, id DESC LIMIT "))
                    .push_bind(limit + 1);
                let rows: Vec<super::rows::JobRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                let mut page = page_of(rows, limit, query.sort)?;
                self.attach_task_summaries(&mut page.jobs).await?;
                Ok(page)
            }

            async fn job_state_counts(
                &self,
                filter: &app::model::JobFilter,
            ) -> Result<Vec<app::model::StateCount>, StoreError> {
                let mut select =
                    sqlx::QueryBuilder::<$db>::new("SELECT state, count(*) FROM jobs WHERE 1 = 1");
                push_job_filter(&mut select, filter, false);
                select.push(" GROUP BY state");
                let rows: Vec<(i32, i64)> = select.build_query_as().fetch_all(&self.read).await?;
                let mut counts: Vec<app::model::StateCount> = rows
                    .into_iter()
                    .filter_map(|(state, count)| {
                        app::model::JobState::from_code(state)
                            .map(|state| app::model::StateCount { state, count })
                    })
                    .collect();
                counts.sort_by_key(|c| c.state.code());
                Ok(counts)
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
                let mut jobs: Vec<app::model::Job> = row
                    .map(super::rows::JobRow::into_model)
                    .transpose()?
                    .into_iter()
                    .collect();
                self.attach_task_summaries(&mut jobs).await?;
                Ok(jobs.pop())
            }

            async fn trace_outline(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::SpanOutline>, StoreError> {
                let rows = self.outline_rows(trace_id).await?;
                // The runner identity lives in the few resources the spans share.
                let resource_ids: Vec<i64> = rows
                    .iter()
                    .map(|row| row.resource_id)
                    .collect::<std::collections::BTreeSet<i64>>()
                    .into_iter()
                    .collect();
                let mut runners = HashMap::new();
                for chunk in resource_ids.chunks(1000) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, attributes FROM resources WHERE id IN (",
                    );
                    let mut list = select.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    select.push(")");
                    let resources: Vec<(i64, String)> =
                        select.build_query_as().fetch_all(&self.read).await?;
                    for (id, attributes) in resources {
                        runners.insert(id, super::rows::runner_of(&attributes)?);
                    }
                }
                Ok(rows
                    .into_iter()
                    .map(|row| row.into_model(&runners))
                    .collect())
            }

            async fn span_ids_with_attributes(
                &self,
                trace_id: super::TraceId,
                terms: &[(String, String)],
            ) -> Result<Vec<String>, StoreError> {
                // Resource attributes are matched here, over the trace's few resources; span
                // attributes in SQL.
                let resources: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT id, attributes FROM resources WHERE id IN \
                     (SELECT DISTINCT resource_id FROM spans WHERE trace_id = $1)",
                )
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                let resources = resources
                    .into_iter()
                    .map(|(id, text)| {
                        serde_json::from_str::<app::model::Attributes>(&text)
                            .map(|attributes| (id, attributes))
                            .map_err(|e| StoreError::Corrupt(format!("resource attributes: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut select = sqlx::QueryBuilder::<$db>::new(
                    "SELECT s.span_id FROM spans s WHERE s.trace_id = ",
                );
                select.push_bind(trace_id.0.to_vec());
                for (key, value) in terms {
                    select.push(" AND (");
                    $attribute_equals(&mut select, key, value);
                    let matching: Vec<i64> = resources
                        .iter()
                        .filter(|(_, attributes)| {
                            attributes
                                .get(key)
                                .is_some_and(|found| app::model::value_text(found) == *value)
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    if !matching.is_empty() {
                        select.push(" OR s.resource_id IN (");
                        let mut list = select.separated(", ");
                        for id in matching {
                            list.push_bind(id);
                        }
                        select.push(")");
                    }
                    select.push(")");
                }
                select.push(" ORDER BY s.start_ns, s.span_id");
                let rows: Vec<(Vec<u8>,)> = select.build_query_as().fetch_all(&self.read).await?;
                Ok(rows.into_iter().map(|(id,)| hex::encode(id)).collect())
            }

            async fn trace_log_marks(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::LogMark>, StoreError> {
                let rows: Vec<(Option<Vec<u8>>, i64, i32)> = sqlx::query_as(
                    "SELECT span_id, time_ns, severity_number FROM logs \
                     WHERE trace_id = $1 ORDER BY time_ns, id",
                )
                .bind(&trace_id.0[..])
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(span_id, time_ns, severity_number)| app::model::LogMark {
                        span_id: span_id.as_deref().map(hex::encode),
                        time_ns,
                        severity_number,
                    })
                    .collect())
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
                trace_id: Option<super::TraceId>,
                query: &super::SpanPageQuery,
            ) -> Result<Vec<app::model::Span>, StoreError> {
                let mut select = sqlx::QueryBuilder::<$db>::new(SPAN_SELECT);
                select.push(" WHERE 1 = 1");
                if let Some(trace_id) = &trace_id {
                    select
                        .push(" AND s.trace_id = ")
                        .push_bind(trace_id.0.to_vec());
                }
                if let Some(service) = &query.service {
                    select
                        .push(" AND s.service_name = ")
                        .push_bind(service.as_str());
                }
                for (key, value) in &query.attributes {
                    select.push(" AND ");
                    $attribute_equals(&mut select, key, value);
                }
                if let Some(task_id) = &query.task_id {
                    select
                        .push(" AND s.task_key = ")
                        .push_bind(task_id.as_str());
                }
                if let Some(name) = &query.name {
                    push_contains(&mut select, "s.name", name);
                }
                if let Some(status) = query.status {
                    select.push(" AND s.status_code = ").push_bind(status);
                }
                push_span_ids(&mut select, "s.span_id", &query.span_ids);
                if let Some(from_ns) = query.from_ns {
                    select.push(" AND s.start_ns >= ").push_bind(from_ns);
                }
                if let Some(to_ns) = query.to_ns {
                    select.push(" AND s.start_ns < ").push_bind(to_ns);
                }
                if let Some((start_ns, span_id)) = &query.after {
                    select
                        .push(" AND (s.start_ns, s.span_id) > (")
                        .push_bind(*start_ns);
                    select.push(", ").push_bind(&span_id.0[..]).push(")");
                }
                select.push(" ORDER BY s.start_ns, s.span_id LIMIT ");
                select.push_bind(i64::from(query.limit.clamp(1, 10_000)));
                let rows: Vec<super::rows::SpanRow> =
                    select.build_query_as().fetch_all(&self.read).await?;
                rows.into_iter()
                    .map(super::rows::SpanRow::into_model)
                    .collect()
            }

            async fn log_page(
                &self,
                trace_id: Option<super::TraceId>,
                query: &super::LogPageQuery,
            ) -> Result<Vec<(i64, app::model::LogRecord)>, StoreError> {
                let mut select = sqlx::QueryBuilder::<$db>::new(LOG_SELECT);
                select.push(" WHERE 1 = 1");
                if let Some(trace_id) = &trace_id {
                    select
                        .push(" AND l.trace_id = ")
                        .push_bind(trace_id.0.to_vec());
                }
                if let Some(service) = &query.service {
                    select
                        .push(" AND r.service_name = ")
                        .push_bind(service.as_str());
                }
                if let Some(task_id) = &query.task_id {
                    select.push(" AND l.task_id = ").push_bind(task_id.as_str());
                }
                push_span_ids(&mut select, "l.span_id", &query.span_ids);
                if query.unattached {
                    select.push(" AND l.span_id IS NULL");
                }
                if let Some(text) = &query.text {
                    push_contains(&mut select, "l.body", text);
                }
                if let Some(from_ns) = query.from_ns {
                    select.push(" AND l.time_ns >= ").push_bind(from_ns);
                }
                if let Some(to_ns) = query.to_ns {
                    select.push(" AND l.time_ns < ").push_bind(to_ns);
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
                rows.into_iter()
                    .map(super::rows::LogRow::into_model_with_id)
                    .collect()
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
                    let state = super::error::task_state_of(state)?;
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
        }
    };
}

/// Turns `limit + 1` fetched rows into a page and the cursor after its last row.
fn page_of(
    mut rows: Vec<super::rows::JobRow>,
    limit: i64,
    sort: JobSort,
) -> Result<app::model::JobPage, StoreError> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|row| {
            let key = match sort {
                JobSort::Newest => row.start_ns,
                JobSort::Longest => row.end_ns - row.start_ns,
            };
            encode_cursor(sort, key, &row.id)
        })
    } else {
        None
    };
    let jobs = rows
        .into_iter()
        .map(super::rows::JobRow::into_model)
        .collect::<Result<_, _>>()?;
    Ok(app::model::JobPage {
        jobs,
        next_cursor,
        state_counts: Vec::new(),
    })
}

impl SqliteStore {
    async fn store_spans(
        &self,
        batch: super::SpanBatch,
    ) -> Result<super::WriteSummary, StoreError> {
        self.writer.write_spans(batch).await
    }

    async fn store_logs(&self, batch: super::LogBatch) -> Result<super::WriteSummary, StoreError> {
        self.writer.write_logs(batch).await
    }
}

/// `attributes[key]` equals `value` as text. SQLite: a JSON path, booleans as `true`/`false`
/// (not 1/0) so both backends agree.
fn sqlite_attribute_equals<'a>(
    select: &mut sqlx::QueryBuilder<'a, sqlx::Sqlite>,
    key: &str,
    value: &'a str,
) {
    let path = format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
    select
        .push("(CASE json_type(s.attributes, ")
        .push_bind(path.clone())
        .push(") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(s.attributes, ")
        .push_bind(path)
        .push(") AS TEXT) END) = ")
        .push_bind(value);
}

/// `attributes[key]` equals `value` as text (`->>` gives JSON scalars as text).
fn postgres_attribute_equals<'a>(
    select: &mut sqlx::QueryBuilder<'a, sqlx::Postgres>,
    key: &str,
    value: &'a str,
) {
    select
        .push("(s.attributes::jsonb ->> ")
        .push_bind(key.to_owned())
        .push(") = ")
        .push_bind(value);
}

impl_trace_store!(SqliteStore, sqlx::Sqlite, "sqlite", sqlite_attribute_equals);
impl_trace_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    postgres_attribute_equals
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cursor_round_trip() {
        let cursor = encode_cursor(JobSort::Longest, -42, &[9; 16]);
        assert_eq!(
            decode_cursor(&cursor, JobSort::Longest).ok(),
            Some((-42, vec![9; 16]))
        );
        assert!(
            decode_cursor(&cursor, JobSort::Newest).is_err(),
            "made for another order"
        );
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
                matches!(
                    decode_cursor(bad, JobSort::Newest),
                    Err(StoreError::InvalidCursor)
                ),
                "{bad}"
            );
        }
    }
}
