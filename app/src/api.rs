//! Server functions the pages call, and the query port they reach the trace store through.

pub mod automations;
pub mod jobs;
pub mod tasks;

#[cfg(feature = "ssr")]
pub use port::{QueryPort, SharedQueryPort};

#[cfg(feature = "ssr")]
mod port {
    use std::sync::Arc;

    use crate::error::AppError;
    use crate::model::{JobListQuery, JobLogQuery, JobPage, JobTrace, LogRecord, Span};

    /// The store as the pages need it: reads, and the two job actions (retry, cancel). The
    /// server implements it on its store and provides it as context; server functions stay
    /// thin callers.
    #[async_trait::async_trait]
    pub trait QueryPort: Send + Sync + 'static {
        async fn list_jobs(&self, query: JobListQuery) -> Result<JobPage, AppError>;
        /// `id` is a job UUID or a 32-hex trace id.
        async fn job_trace(&self, id: &str) -> Result<JobTrace, AppError>;
        /// One span of a trace, whole (attributes, events, resource).
        async fn span(&self, trace_id: &str, span_id: &str) -> Result<Span, AppError>;
        /// The log records of some spans of a trace, by time, at most `limit`.
        async fn span_logs(
            &self,
            trace_id: &str,
            span_ids: &[String],
            limit: u32,
        ) -> Result<Vec<LogRecord>, AppError>;
        /// The ids of a trace's spans that have every attribute (or resource attribute)
        /// `key=value`, compared as text.
        async fn spans_with_attributes(
            &self,
            trace_id: &str,
            terms: &[(String, String)],
        ) -> Result<Vec<String>, AppError>;
        /// The ids of a trace's spans with an attribute (or resource attribute) value that
        /// contains `text`, case-insensitively: a search's bare terms.
        async fn spans_with_value(
            &self,
            trace_id: &str,
            text: &str,
        ) -> Result<Vec<String>, AppError>;
        /// A trace's log records that pass `query`, by time, at most `limit`.
        async fn trace_logs(
            &self,
            trace_id: &str,
            query: &JobLogQuery,
            limit: u32,
        ) -> Result<Vec<LogRecord>, AppError>;
        /// Re-queues a workflow job's failed tasks (and lifts a cancel); how many were re-queued.
        async fn retry_job(&self, job_id: &str) -> Result<i64, AppError>;
        /// Cancels a workflow job: no more of its tasks are handed out.
        async fn cancel_job(&self, job_id: &str) -> Result<(), AppError>;
        /// Every cron automation with its next runs and latest jobs, oldest first.
        async fn automations(&self) -> Result<Vec<crate::model::AutomationView>, AppError>;
        /// Every task identifier's runs over the last `days` days (1 to `MAX_STAT_DAYS`).
        async fn task_analytics(&self, days: u32) -> Result<crate::model::TaskAnalytics, AppError>;
        /// One task identifier's runs over the last `days` days; not found when it has none.
        async fn task_detail(
            &self,
            name: &str,
            days: u32,
        ) -> Result<crate::model::TaskDetail, AppError>;
    }

    pub type SharedQueryPort = Arc<dyn QueryPort>;

    pub(crate) fn port() -> Result<SharedQueryPort, AppError> {
        leptos::prelude::use_context::<SharedQueryPort>().ok_or_else(|| {
            AppError::ServerFn(leptos::prelude::ServerFnErrorErr::ServerError(
                "query port missing from context".to_owned(),
            ))
        })
    }
}

#[cfg(feature = "ssr")]
pub(crate) use port::port;
