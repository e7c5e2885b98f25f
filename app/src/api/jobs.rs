//! Server functions for the job list and the job page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{JobComparison, JobPage, JobTrace};

/// One page of jobs for the list's URL parameters (filters, `sort`, `cursor`), passed as JSON
/// `[key, value]` pairs so repeated keys survive.
#[server(input = server_fn::codec::GetUrl)]
pub async fn list_jobs(params: String) -> Result<JobPage, AppError> {
    use crate::api::port;
    use crate::model::{JobFilter, JobListQuery, JobSort};
    let pairs: Vec<(String, String)> = serde_json::from_str(&params)
        .map_err(|e| AppError::BadRequest(format!("list parameters: {e}")))?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let filter = JobFilter::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(AppError::BadRequest)?;
    let sort =
        JobSort::parse(get("sort").as_deref().unwrap_or("")).map_err(AppError::BadRequest)?;
    port()?
        .list_jobs(JobListQuery {
            filter,
            sort,
            cursor: get("cursor"),
            limit: 50,
        })
        .await
}

/// A job with its spans and log records; `id` is a job UUID or a trace id.
#[server(input = server_fn::codec::GetUrl)]
pub async fn get_job_trace(id: String) -> Result<JobTrace, AppError> {
    use crate::api::port;
    port()?.job_trace(&id).await
}

/// Two jobs' span trees matched position by position, `b` against `a`.
#[server(input = server_fn::codec::GetUrl)]
pub async fn compare_jobs(a: String, b: String) -> Result<JobComparison, AppError> {
    use crate::api::port;
    use crate::model::compare_runs;
    let port = port()?;
    let a = port.job_trace(&a).await?;
    let b = port.job_trace(&b).await?;
    Ok(JobComparison {
        rows: compare_runs(&a.spans, &b.spans),
        a: a.job,
        b: b.job,
    })
}
