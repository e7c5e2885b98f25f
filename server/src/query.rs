//! The dashboard's query port, served by the trace store.

use app::api::QueryPort;
use app::error::AppError;
use app::model::{JobListQuery, JobPage, JobTrace};

use crate::store::{JobRef, SharedStore, StoreError, TraceId};

pub struct StoreQueries(pub SharedStore);

fn to_app_error(error: StoreError) -> AppError {
    match error {
        StoreError::InvalidCursor => AppError::BadRequest("invalid cursor".to_owned()),
        other => {
            tracing::error!(error = %other, "query failed");
            AppError::Store
        }
    }
}

/// A job with its spans and logs, shared by the page and the REST API.
pub async fn load_job_trace(store: &SharedStore, id: &str) -> Result<JobTrace, AppError> {
    let not_found = || AppError::NotFound(format!("job {id:?}"));
    let job_ref = JobRef::parse(id).ok_or_else(not_found)?;
    let job = store
        .find_job(job_ref)
        .await
        .map_err(to_app_error)?
        .ok_or_else(not_found)?;
    let trace_id = TraceId::parse_hex(&job.trace_id)
        .ok_or_else(|| to_app_error(StoreError::Corrupt("job trace id".to_owned())))?;
    let (spans, logs) = tokio::try_join!(store.trace_spans(trace_id), store.trace_logs(trace_id))
        .map_err(to_app_error)?;
    Ok(JobTrace { job, spans, logs })
}

#[async_trait::async_trait]
impl QueryPort for StoreQueries {
    async fn list_jobs(&self, query: JobListQuery) -> Result<JobPage, AppError> {
        self.0.list_jobs(&query).await.map_err(to_app_error)
    }

    async fn job_trace(&self, id: &str) -> Result<JobTrace, AppError> {
        load_job_trace(&self.0, id).await
    }
}
