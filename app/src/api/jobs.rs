//! Server functions for the job list and the job page.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{JobComparison, JobLogLines, JobPage, JobTrace, LogRecord, Span};

/// One page of jobs for the list's URL parameters (filters, `sort`, `cursor`), passed as JSON
/// `[key, value]` pairs so repeated keys survive.
#[server(input = server_fn::codec::GetUrl)]
pub async fn list_jobs(params: String) -> Result<JobPage, AppError> {
    use crate::api::port;
    use crate::model::JobListQuery;
    let pairs: Vec<(String, String)> = serde_json::from_str(&params)
        .map_err(|e| AppError::BadRequest(format!("list parameters: {e}")))?;
    let query = JobListQuery::from_params(&pairs).map_err(AppError::BadRequest)?;
    port()?.list_jobs(query).await
}

/// A job with its spans and log records; `id` is a job UUID or a trace id.
#[server(input = server_fn::codec::GetUrl)]
pub async fn get_job_trace(id: String) -> Result<JobTrace, AppError> {
    use crate::api::port;
    port()?.job_trace(&id).await
}

/// One span whole: what the job page's skeleton leaves out (attributes, events, resource).
#[server(input = server_fn::codec::GetUrl)]
pub async fn get_span_detail(trace_id: String, span_id: String) -> Result<Span, AppError> {
    use crate::api::port;
    port()?.span(&trace_id, &span_id).await
}

/// The log lines of the given spans of a trace (`span_ids`: `.`-separated), by time, the first
/// [`crate::model::PANEL_LOGS`]. A POST: the selected span's subtree may name many spans.
#[server]
pub async fn get_span_logs(trace_id: String, span_ids: String) -> Result<Vec<LogRecord>, AppError> {
    use crate::api::port;
    use crate::model::PANEL_LOGS;
    let span_ids: Vec<String> = span_ids
        .split('.')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    port()?.span_logs(&trace_id, &span_ids, PANEL_LOGS).await
}

/// What the server answers of a search over a trace's spans: the spans with its `key=value`
/// terms, and for each text term the spans with an attribute value containing it (names,
/// services, tags and statuses the page answers itself).
#[server(input = server_fn::codec::GetUrl, endpoint = "search_spans")]
pub async fn search_spans(
    trace_id: String,
    search: String,
) -> Result<crate::model::waterfall::SearchHits, AppError> {
    use crate::api::port;
    use crate::model::waterfall::{
        MAX_ATTRIBUTE_TERMS, MAX_TERM_CHARS, SearchHits, SpanQuery, searches_values,
    };
    let query = SpanQuery::parse(&search);
    let (terms, texts) = (query.attribute_terms(), query.text_terms());
    if terms.is_empty() && texts.is_empty() {
        return Err(AppError::BadRequest(
            "the search has no key=value or text term".to_owned(),
        ));
    }
    if terms.len() + texts.len() > MAX_ATTRIBUTE_TERMS {
        return Err(AppError::BadRequest(format!(
            "a search may hold at most {MAX_ATTRIBUTE_TERMS} key=value and text terms, not {}",
            terms.len() + texts.len()
        )));
    }
    if let Some(long) = texts.iter().find(|t| t.chars().count() > MAX_TERM_CHARS) {
        return Err(AppError::BadRequest(format!(
            "a search term may be at most {MAX_TERM_CHARS} characters, not {}",
            long.chars().count()
        )));
    }
    let port = port()?;
    let attributes = if terms.is_empty() {
        None
    } else {
        Some(port.spans_with_attributes(&trace_id, &terms).await?)
    };
    // One query per distinct term long enough to look for (a repeated term is asked once).
    let mut values: Vec<Vec<String>> = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        let hits = if !searches_values(text) {
            Vec::new()
        } else if let Some(earlier) = texts[..index].iter().position(|t| t == text) {
            values[earlier].clone()
        } else {
            port.spans_with_value(&trace_id, text).await?
        };
        values.push(hits);
    }
    Ok(SearchHits { attributes, values })
}

/// Two jobs' span trees matched position by position, `b` against `a`.
#[server(input = server_fn::codec::GetUrl)]
pub async fn compare_jobs(a: String, b: String) -> Result<JobComparison, AppError> {
    use crate::api::port;
    use crate::model::compare_runs;
    let missing: Vec<&str> = [("a", &a), ("b", &b)]
        .into_iter()
        .filter(|(_, id)| id.trim().is_empty())
        .map(|(name, _)| name)
        .collect();
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!(
            "compare needs two runs, /compare?a=<job id>&b=<job id> (a is the baseline); {} is missing",
            missing.join(" and ")
        )));
    }
    let port = port()?;
    let a = port.job_trace(&a).await?;
    let b = port.job_trace(&b).await?;
    Ok(compare_runs(&a, &b))
}

/// A trace's log lines for the job page's Logs tab: at or above `floor`, containing `text`,
/// of the task `task_id` (empty: any), by time, the first [`crate::model::PANEL_LOGS`].
#[server(input = server_fn::codec::GetUrl)]
pub async fn get_job_logs(
    trace_id: String,
    floor: i32,
    text: String,
    task_id: String,
) -> Result<JobLogLines, AppError> {
    use crate::api::port;
    use crate::model::{JobLogQuery, MAX_LOG_SEARCH_CHARS, PANEL_LOGS};
    let length = text.chars().count();
    if length > MAX_LOG_SEARCH_CHARS {
        return Err(AppError::BadRequest(format!(
            "a log search may hold at most {MAX_LOG_SEARCH_CHARS} characters, not {length}"
        )));
    }
    let query = JobLogQuery {
        floor,
        text,
        task_id,
    };
    let mut lines = port()?
        .trace_logs(&trace_id, &query, PANEL_LOGS + 1)
        .await?;
    let more = lines.len() > PANEL_LOGS as usize;
    lines.truncate(PANEL_LOGS as usize);
    Ok(JobLogLines { lines, more })
}

/// Re-queues a workflow job's failed tasks (the job page's Retry); how many were re-queued.
#[server(endpoint = "retry_job")]
pub async fn retry_job(job_id: String) -> Result<i64, AppError> {
    use crate::api::port;
    crate::security::require_same_origin()?;
    port()?.retry_job(&job_id).await
}

/// Cancels a workflow job (the job page's Cancel): no more of its tasks are handed out.
#[server(endpoint = "cancel_job")]
pub async fn cancel_job(job_id: String) -> Result<(), AppError> {
    use crate::api::port;
    crate::security::require_same_origin()?;
    port()?.cancel_job(&job_id).await
}
