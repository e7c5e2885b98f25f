//! Server functions for the job list and the job page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{JobPage, JobTrace};

/// Jobs newest first; `cursor` continues a previous page.
#[server(input = server_fn::codec::GetUrl)]
pub async fn list_jobs(cursor: Option<String>) -> Result<JobPage, AppError> {
    use crate::api::port;
    use crate::model::JobListQuery;
    port()?.list_jobs(JobListQuery { cursor, limit: 50 }).await
}

/// A job with its spans and log records; `id` is a job UUID or a trace id.
#[server(input = server_fn::codec::GetUrl)]
pub async fn get_job_trace(id: String) -> Result<JobTrace, AppError> {
    use crate::api::port;
    port()?.job_trace(&id).await
}
