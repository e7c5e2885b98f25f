//! [`TraceStore`] for SQLite and PostgreSQL, written once: each method hands over to the reads
//! in `job_reads.rs` and `span_log_reads.rs` or to the backend's writer.
//!
//! Both backends accept the same statements (`$n` parameters, `ON CONFLICT`, `RETURNING`, row
//! values), so the code is shared through macros over the concrete sqlx types instead of
//! generic bounds over `sqlx::Database`. Backend differences live in: `backends.rs` (pools,
//! pragmas, migrations), the span and log writers (`sqlite_write.rs` on rusqlite with group
//! commit, `postgres_write.rs` with row locks), the outline and span page reads (`sqlite_read.rs` on SQLite; the span page's statement is
//! written once in `span_query.rs`),
//! the attribute comparisons (`span_query.rs`, by dialect) and value searches
//! (`sqlite_value_contains`, `postgres_value_contains` in `span_log_reads.rs`), and how
//! workflow transactions lock (`workflow/backend.rs`).

use super::{PostgresStore, SqliteStore, StoreError};

macro_rules! impl_trace_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl super::TraceStore for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                self.health().await
            }

            fn pools(&self) -> Vec<super::PoolUse> {
                self.pool_use()
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
                self.select_jobs(query).await
            }

            async fn job_state_counts(
                &self,
                filter: &app::model::JobFilter,
            ) -> Result<Vec<app::model::StateCount>, StoreError> {
                self.count_job_states(filter).await
            }

            async fn fold_job_state_counts(&self) -> Result<u64, StoreError> {
                self.fold_state_deltas().await
            }

            async fn find_job(
                &self,
                job: super::JobRef,
            ) -> Result<Option<app::model::Job>, StoreError> {
                self.select_job(job).await
            }

            async fn trace_outline(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::SpanOutline>, StoreError> {
                self.select_outline(trace_id).await
            }

            async fn span_ids_with_attributes(
                &self,
                trace_id: super::TraceId,
                terms: &[(String, String)],
            ) -> Result<Vec<String>, StoreError> {
                self.select_span_ids_with_attributes(trace_id, terms).await
            }

            async fn span_ids_with_value(
                &self,
                trace_id: super::TraceId,
                text: &str,
            ) -> Result<Vec<String>, StoreError> {
                self.select_span_ids_with_value(trace_id, text).await
            }

            async fn trace_log_marks(
                &self,
                trace_id: super::TraceId,
            ) -> Result<Vec<app::model::LogMark>, StoreError> {
                self.select_log_marks(trace_id).await
            }

            async fn stats(&self) -> Result<app::model::Stats, StoreError> {
                self.count_rows().await
            }

            async fn span_rows(
                &self,
                trace_id: Option<super::TraceId>,
                query: &super::SpanPageQuery,
            ) -> Result<Vec<super::SpanRow>, StoreError> {
                self.select_span_rows(trace_id, query).await
            }

            async fn log_page(
                &self,
                trace_id: Option<super::TraceId>,
                query: &super::LogPageQuery,
            ) -> Result<Vec<(i64, app::model::LogRecord)>, StoreError> {
                self.select_log_page(trace_id, query).await
            }
        }
    };
}

impl_trace_store!(SqliteStore, "sqlite");
impl_trace_store!(PostgresStore, "postgres");
