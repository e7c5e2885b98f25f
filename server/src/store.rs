//! The trace store: one trait, an SQLite and a PostgreSQL backend, picked by URL at start-up.

mod backends;
mod backup;
pub mod cursor;
mod error;
mod ids;
mod job_filter;
mod job_reads;
mod job_rollup;
mod postgres_write;
mod records;
mod retention;
mod rows;
mod span_log_reads;
mod span_query;
mod span_write;
mod sql;
mod sqlite_read;
mod sqlite_write;
mod start_buckets;
pub mod workflow;

use std::sync::Arc;

use app::model::{
    Job, JobFilter, JobListQuery, JobPage, LogMark, LogRecord, Span, SpanOutline, StateCount, Stats,
};

pub use backends::{PostgresStore, SqliteStore};
pub use backup::{backup, must_exist};
pub use error::StoreError;
pub use ids::{JobRef, SpanId, TraceId};
pub use records::{LogBatch, NewLog, NewResource, NewSpan, SpanBatch, WriteSummary};
pub use retention::{PruneStep, Retention};
pub use rows::SpanRow;
pub use workflow::WorkflowStore;

/// Everything jobtrace persists, behind one interface so SQLite and PostgreSQL behave alike.
#[async_trait::async_trait]
pub trait TraceStore: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// A trivial query: the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The database connection pools as they are now (for `/metrics`).
    fn pools(&self) -> Vec<PoolUse>;
    /// Stores one OTLP request's spans in one transaction and updates their jobs. A span
    /// already stored (same trace and span id) is left as it is.
    async fn write_spans(&self, batch: SpanBatch) -> Result<WriteSummary, StoreError>;
    /// Stores one OTLP request's log records in one transaction.
    async fn write_logs(&self, batch: LogBatch) -> Result<WriteSummary, StoreError>;
    async fn list_jobs(&self, query: &JobListQuery) -> Result<JobPage, StoreError>;
    /// How many jobs match `filter` (its states aside), per state. Without other filters, read
    /// from the counts triggers keep (migration 0012), not by counting the jobs.
    async fn job_state_counts(&self, filter: &JobFilter) -> Result<Vec<StateCount>, StoreError>;
    /// Folds the state-count deltas PostgreSQL's triggers append into the counts (every
    /// server, once a second; several at once fold disjoint rows); how many deltas went.
    /// SQLite keeps the counts directly: nothing to fold.
    async fn fold_job_state_counts(&self) -> Result<u64, StoreError>;
    async fn find_job(&self, job: JobRef) -> Result<Option<Job>, StoreError>;
    /// [`TraceStore::find_job`] with the job's trace id, which everything about the job's
    /// telemetry is looked up by.
    async fn find_job_trace(&self, job: JobRef) -> Result<Option<(Job, TraceId)>, StoreError> {
        let Some(job) = self.find_job(job).await? else {
            return Ok(None);
        };
        let trace_id = TraceId::parse_hex(&job.trace_id)
            .ok_or_else(|| StoreError::Corrupt("job trace id".to_owned()))?;
        Ok(Some((job, trace_id)))
    }
    /// The skeleton of every span of a trace, by start time: what the job page loads first.
    async fn trace_outline(&self, trace_id: TraceId) -> Result<Vec<SpanOutline>, StoreError>;
    /// The ids of a trace's spans (by start time) that have, for every `(key, value)` term, the
    /// attribute or their resource's attribute `key` equal to `value` compared as text: a
    /// search's `key=value` terms.
    async fn span_ids_with_attributes(
        &self,
        trace_id: TraceId,
        terms: &[(String, String)],
    ) -> Result<Vec<String>, StoreError>;
    /// The ids of a trace's spans (by start time) with an attribute value, or a resource
    /// attribute value, that contains `text` ignoring case (a search's bare terms; keys are
    /// not searched). Values compare as text (`true`, `42`); SQLite folds ASCII case only.
    async fn span_ids_with_value(
        &self,
        trace_id: TraceId,
        text: &str,
    ) -> Result<Vec<String>, StoreError>;
    /// Where every log record of a trace sits (span, time, severity), by time.
    async fn trace_log_marks(&self, trace_id: TraceId) -> Result<Vec<LogMark>, StoreError>;
    async fn stats(&self) -> Result<Stats, StoreError>;
    /// One page of spans by (start, span id), of one trace or across traces, as stored: their
    /// attributes, events and resource as JSON text (the REST API writes them out as they are).
    async fn span_rows(
        &self,
        trace_id: Option<TraceId>,
        query: &SpanPageQuery,
    ) -> Result<Vec<SpanRow>, StoreError>;
    /// [`TraceStore::span_rows`], parsed.
    async fn span_page(
        &self,
        trace_id: Option<TraceId>,
        query: &SpanPageQuery,
    ) -> Result<Vec<Span>, StoreError> {
        self.span_rows(trace_id, query)
            .await?
            .into_iter()
            .map(SpanRow::into_model)
            .collect()
    }
    /// One page of log records by (time, id), with their ids: of one trace, or across traces.
    async fn log_page(
        &self,
        trace_id: Option<TraceId>,
        query: &LogPageQuery,
    ) -> Result<Vec<(i64, LogRecord)>, StoreError>;
}

/// Filters and keyset position for [`TraceStore::span_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanPageQuery {
    /// Only spans whose `task_id` attribute is this.
    pub task_id: Option<String>,
    /// Only spans whose name contains this (case-insensitive).
    pub name: Option<String>,
    /// Only spans with this OTLP status code.
    pub status: Option<i32>,
    /// Only spans from this service (`service.name`).
    pub service: Option<String>,
    /// Only spans whose attribute `key` has this value (compared as text).
    pub attributes: Vec<(String, String)>,
    /// Only these spans (none: any).
    pub span_ids: Vec<SpanId>,
    /// Only spans starting in `[from, to)` (unix ns).
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    /// Continue after this (start_ns, span id).
    pub after: Option<(i64, SpanId)>,
    pub limit: u32,
}

/// Filters and keyset position for [`TraceStore::log_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogPageQuery {
    pub task_id: Option<String>,
    /// Inclusive severity number ranges to keep; empty keeps all.
    pub severities: Vec<(i32, i32)>,
    /// Only records whose body contains this (case-insensitive).
    pub text: Option<String>,
    /// Only records from this service (`service.name`).
    pub service: Option<String>,
    /// Only records of these spans (none: any).
    pub span_ids: Vec<SpanId>,
    /// Only records outside any span.
    pub unattached: bool,
    /// Only records in `[from, to)` (unix ns).
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    /// Continue after this (time_ns, id).
    pub after: Option<(i64, i64)>,
    pub limit: u32,
}

/// One connection pool's use: `name` is `write`, `read` (sqlx pools) or `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub name: &'static str,
    /// Connections open now, and how many of them are idle.
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Everything the store does, as the server holds it.
pub trait Store: TraceStore + workflow::WorkflowStore + Retention {}

impl<T: TraceStore + workflow::WorkflowStore + Retention> Store for T {}

pub type SharedStore = Arc<dyn Store>;

/// How a store is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite: `synchronous=FULL`, so an acknowledged commit survives a power loss too (by
    /// default `NORMAL`: it survives a crash of the process). PostgreSQL syncs as the server is
    /// configured.
    pub full_sync: bool,
}

/// Opens the store a URL names (`sqlite:` path or `postgres://`), creating and migrating it.
pub async fn open(url: &str) -> Result<SharedStore, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// [`open`] with options.
pub async fn open_with(url: &str, options: &StoreOptions) -> Result<SharedStore, StoreError> {
    if is_postgres(url) {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect_with(url, options).await?))
    } else {
        Err(StoreError::InvalidUrl {
            url: url.to_owned(),
            reason: "expected sqlite:<path> or postgres://…".to_owned(),
        })
    }
}

/// Whether a store URL names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Runs a store write to its end even if the request that asked for it goes away. A handler's
/// future is dropped when its connection closes (a runner killed mid-call); dropped inside a
/// transaction, SQLite's single writer connection went back to its pool still in that
/// transaction and every later workflow write failed ("begin_with at non-zero transaction
/// depth") until a restart. On its own task the transaction commits or rolls back, whatever the
/// client does.
pub async fn to_the_end<T, F>(write: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "a store write panicked");
            Err(StoreError::Shared(format!("the write failed: {error}")))
        }
    }
}
