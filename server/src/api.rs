//! The REST API under `/api/v1`: jobs, their spans and logs, store statistics.

mod dto;
mod export;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode as HttpStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use app::error::AppError;
use app::model::{JobFilter, JobListQuery, JobSort};

use crate::query::load_job_trace;
use crate::state::AppState;
use crate::store::{JobRef, LogPageQuery, SpanId, SpanPageQuery, StoreError, TraceId};
use app::model::StatusCode;
use axum::http::header;
use export::Format;

pub use dto::{ApiJob, ApiLog, ApiSpan};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error; see the server log")]
    Internal,
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound(what) => ApiError::NotFound(what),
            AppError::BadRequest(message) => ApiError::BadRequest(message),
            AppError::Store | AppError::ServerFn(_) => ApiError::Internal,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => ApiError::BadRequest("invalid cursor".to_owned()),
            other => {
                tracing::error!(error = %other, "api query failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::NotFound(_) => HttpStatus::NOT_FOUND,
            ApiError::BadRequest(_) => HttpStatus::BAD_REQUEST,
            ApiError::Internal => HttpStatus::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/spans", get(job_spans))
        .route("/api/v1/jobs/{id}/logs", get(job_logs))
        .route("/api/v1/jobs/{id}/tasks", get(job_tasks))
        .route("/api/v1/stats", get(stats))
}

/// `GET /api/v1/jobs`: the job list's filters (see `JobFilter::from_params`), `sort`
/// (`newest`, `longest`), `cursor`, `limit`, and `counts=yes` for per-state counts.
async fn list_jobs(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        Some(limit) => limit
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::BadRequest("limit must be between 1 and 1000".to_owned()))?,
        None => 50,
    };
    let filter = JobFilter::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::BadRequest)?
        .resolved(crate::workflow::now_ns());
    let sort = JobSort::parse(get("sort").unwrap_or("")).map_err(ApiError::BadRequest)?;
    let query = JobListQuery {
        filter,
        sort,
        cursor: get("cursor").map(str::to_owned),
        limit,
    };
    let page = state.store.list_jobs(&query).await?;
    let jobs: Vec<ApiJob> = page.jobs.iter().map(ApiJob::from).collect();
    let mut body = serde_json::json!({ "jobs": jobs, "next_cursor": page.next_cursor });
    if matches!(get("counts"), Some("yes" | "true" | "1")) {
        let counts = state.store.job_state_counts(&query.filter).await?;
        let counts: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|c| (c.state.as_str().to_owned(), c.count.into()))
            .collect();
        body["state_counts"] = counts.into();
    }
    Ok(Json(body))
}

async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiJob>, ApiError> {
    let (job, _) = job_of(&state, &id).await?;
    Ok(Json(ApiJob::from(&job)))
}

/// `from`/`to` bounds: RFC 3339 or unix nanoseconds.
fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = text.parse::<i64>() {
        return Ok(ns);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| ApiError::BadRequest(format!("{name} must be RFC 3339 or unix nanoseconds")))
}

fn optional_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| parse_time(name, t))
        .transpose()
}

/// Page size of the JSON answer; file exports take every matching row up to [`EXPORT_ROWS`].
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(1000);
    if (1..=10_000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::BadRequest(
            "limit must be between 1 and 10000".to_owned(),
        ))
    }
}

const EXPORT_ROWS: usize = 1_000_000;

fn cursor_of(time_ns: i64, tie: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{time_ns}:{tie}"))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    use base64::Engine;
    let invalid = || ApiError::BadRequest("invalid cursor".to_owned());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (time, tie) = text.split_once(':').ok_or_else(invalid)?;
    Ok((time.parse().map_err(|_| invalid())?, tie.to_owned()))
}

async fn job_of(state: &AppState, id: &str) -> Result<(app::model::Job, TraceId), ApiError> {
    let not_found = || ApiError::NotFound(format!("job {id:?}"));
    let job_ref = JobRef::parse(id).ok_or_else(not_found)?;
    let job = state.store.find_job(job_ref).await?.ok_or_else(not_found)?;
    let trace_id = TraceId::parse_hex(&job.trace_id).ok_or(ApiError::Internal)?;
    Ok((job, trace_id))
}

fn task_filter(task_id: Option<String>) -> Result<Option<String>, ApiError> {
    task_id
        .filter(|t| !t.is_empty())
        .map(|t| {
            uuid::Uuid::parse_str(&t)
                .map(|u| u.to_string())
                .map_err(|_| ApiError::BadRequest("task_id must be a UUID".to_owned()))
        })
        .transpose()
}

fn file_response(job: &app::model::Job, what: &str, format: Format, body: Vec<u8>) -> Response {
    let name: String = job
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{name}-{}-{what}.{}\"",
        &job.id[..8.min(job.id.len())],
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct SpanParams {
    task_id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    format: Option<String>,
}

/// A job's spans by start time: filtered, paginated as JSON, or whole as CSV/Parquet/Arrow.
async fn job_spans(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<SpanParams>,
) -> Result<Response, ApiError> {
    let format = Format::parse(params.format.as_deref()).map_err(ApiError::BadRequest)?;
    let (job, trace_id) = job_of(&state, &id).await?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            StatusCode::parse(s).map(StatusCode::code).ok_or_else(|| {
                ApiError::BadRequest(format!("unknown status {s:?}: use unset, ok or error"))
            })
        })
        .transpose()?;
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => {
            let (start, span) = parse_cursor(cursor)?;
            let span = SpanId::parse_hex(&span)
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".to_owned()))?;
            Some((start, span))
        }
        None => None,
    };
    let mut query = SpanPageQuery {
        task_id: task_filter(params.task_id)?,
        name: params.name.filter(|n| !n.is_empty()),
        status,
        from_ns: optional_time("from", params.from.as_deref())?,
        to_ns: optional_time("to", params.to.as_deref())?,
        after,
        limit: page_limit(params.limit)?,
    };
    if format == Format::Json {
        // One row more than asked tells whether another page exists.
        let limit = query.limit as usize;
        query.limit += 1;
        let mut spans = state.store.span_page(trace_id, &query).await?;
        let next_cursor = (spans.len() > limit)
            .then(|| {
                spans.truncate(limit);
                spans.last().map(|s| cursor_of(s.start_ns, &s.span_id))
            })
            .flatten();
        let spans: Vec<ApiSpan> = spans.iter().map(ApiSpan::from).collect();
        return Ok(
            Json(serde_json::json!({ "spans": spans, "next_cursor": next_cursor })).into_response(),
        );
    }
    query.limit = 10_000;
    let mut all = Vec::new();
    loop {
        let page = state.store.span_page(trace_id, &query).await?;
        let done = page.len() < query.limit as usize;
        query.after = page
            .last()
            .and_then(|s| Some((s.start_ns, SpanId::parse_hex(&s.span_id)?)));
        all.extend(page);
        if done || all.len() >= EXPORT_ROWS {
            break;
        }
    }
    let body = export::spans(&all, format).map_err(|e| {
        tracing::error!(error = %e, "span export failed");
        ApiError::Internal
    })?;
    Ok(file_response(&job, "spans", format, body))
}

#[derive(Debug, Deserialize)]
struct LogParams {
    task_id: Option<String>,
    /// Comma-separated severity names: trace, debug, info, warn, error, fatal.
    severity: Option<String>,
    text: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    format: Option<String>,
}

fn severity_ranges(text: Option<&str>) -> Result<Vec<(i32, i32)>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|name| match name.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok((1, 4)),
            "debug" => Ok((5, 8)),
            "info" => Ok((9, 12)),
            "warn" | "warning" => Ok((13, 16)),
            "error" => Ok((17, 20)),
            "fatal" | "critical" => Ok((21, 24)),
            other => Err(ApiError::BadRequest(format!(
                "unknown severity {other:?}: use trace, debug, info, warn, error or fatal"
            ))),
        })
        .collect()
}

/// A job's log records by time: filtered, paginated as JSON, or whole as CSV/Parquet/Arrow.
async fn job_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let format = Format::parse(params.format.as_deref()).map_err(ApiError::BadRequest)?;
    let (job, trace_id) = job_of(&state, &id).await?;
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => {
            let (time, id) = parse_cursor(cursor)?;
            Some((
                time,
                id.parse()
                    .map_err(|_| ApiError::BadRequest("invalid cursor".to_owned()))?,
            ))
        }
        None => None,
    };
    let mut query = LogPageQuery {
        task_id: task_filter(params.task_id)?,
        severities: severity_ranges(params.severity.as_deref())?,
        text: params.text.filter(|t| !t.is_empty()),
        from_ns: optional_time("from", params.from.as_deref())?,
        to_ns: optional_time("to", params.to.as_deref())?,
        after,
        limit: page_limit(params.limit)?,
    };
    if format == Format::Json {
        let limit = query.limit as usize;
        query.limit += 1;
        let mut logs = state.store.log_page(trace_id, &query).await?;
        let next_cursor = (logs.len() > limit)
            .then(|| {
                logs.truncate(limit);
                logs.last()
                    .map(|(id, log)| cursor_of(log.time_ns, &id.to_string()))
            })
            .flatten();
        let logs: Vec<ApiLog> = logs.iter().map(|(_, log)| ApiLog::of(log, &job)).collect();
        return Ok(
            Json(serde_json::json!({ "logs": logs, "next_cursor": next_cursor })).into_response(),
        );
    }
    query.limit = 10_000;
    let mut all = Vec::new();
    loop {
        let page = state.store.log_page(trace_id, &query).await?;
        let done = page.len() < query.limit as usize;
        query.after = page.last().map(|(id, log)| (log.time_ns, *id));
        all.extend(page.into_iter().map(|(_, log)| log));
        if done || all.len() >= EXPORT_ROWS {
            break;
        }
    }
    let body = export::logs(&all, &job, format).map_err(|e| {
        tracing::error!(error = %e, "log export failed");
        ApiError::Internal
    })?;
    Ok(file_response(&job, "logs", format, body))
}

/// A workflow job's tasks with every attempt (empty for trace-only jobs).
async fn job_tasks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let trace = load_job_trace(&state.store, &id).await?;
    Ok(Json(serde_json::json!({ "tasks": trace.tasks })))
}

async fn stats(State(state): State<AppState>) -> Result<Json<app::model::Stats>, ApiError> {
    Ok(Json(state.store.stats().await?))
}
