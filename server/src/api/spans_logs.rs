//! Span and log queries: of one job (`/api/v1/jobs/{id}/spans|logs`) or across jobs
//! (`/api/v1/spans|logs`), filtered, keyset-paginated as JSON or whole as CSV/Parquet/Arrow.

use std::collections::HashMap;

use app::model::{Job, LogRecord, MAX_ATTRIBUTE_TERMS, StatusCode};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::dto::{ApiLog, spans_page_json};
use super::export::Format;
use super::export_stream::{EXPORT_FIRST_PAGE, Source, export_stream, file_response};
use crate::state::AppState;
use crate::store::{JobRef, LogPageQuery, SpanId, SpanPageQuery, TraceId, cursor};

/// Query parameters as sent, repeated keys kept (`attr=a=1&attr=b=2`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn get_all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A text to look for, within `app::model::MAX_FILTER_TEXT`.
    fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.get(key)
            .map(|value| app::model::filter_text(key, value).map_err(ApiError::BadRequest))
            .transpose()
    }

    fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        if let Ok(ns) = text.parse::<i64>() {
            return Ok(Some(ns));
        }
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(Some)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("{key} must be RFC 3339 or unix nanoseconds"))
            })
    }

    /// Page size of the JSON answer: 1–10000, default 1000.
    fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(1000),
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=10_000).contains(l))
                .ok_or_else(|| {
                    ApiError::BadRequest("limit must be between 1 and 10000".to_owned())
                }),
        }
    }

    fn format(&self) -> Result<Format, ApiError> {
        Format::parse(self.get("format")).map_err(ApiError::BadRequest)
    }

    fn task_id(&self) -> Result<Option<String>, ApiError> {
        self.get("task_id")
            .map(|t| {
                uuid::Uuid::parse_str(t)
                    .map(|u| u.to_string())
                    .map_err(|_| ApiError::BadRequest("task_id must be a UUID".to_owned()))
            })
            .transpose()
    }

    /// `span_id`: one or more span ids (16 hex digits), comma-separated.
    fn span_ids(&self) -> Result<Vec<SpanId>, ApiError> {
        let Some(list) = self.get("span_id") else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(|id| {
                SpanId::parse_hex(id.trim()).ok_or_else(|| {
                    ApiError::BadRequest(format!("span_id {id:?} is not 16 hex digits"))
                })
            })
            .collect()
    }

    /// The keyset position: a sort time and a tie-breaker.
    fn cursor(&self) -> Result<Option<(i64, String)>, ApiError> {
        let Some(cursor) = self.get("cursor") else {
            return Ok(None);
        };
        let invalid = || ApiError::BadRequest("invalid cursor".to_owned());
        let [time, tie] = cursor::decode(cursor).ok_or_else(invalid)?;
        Ok(Some((time.parse().map_err(|_| invalid())?, tie)))
    }
}

fn cursor_of(time_ns: i64, tie: &str) -> String {
    cursor::encode(&[&time_ns.to_string(), tie])
}

fn span_query(params: &Params) -> Result<SpanPageQuery, ApiError> {
    let status = params
        .get("status")
        .map(|s| {
            StatusCode::parse(s).map(StatusCode::code).ok_or_else(|| {
                ApiError::BadRequest(format!("unknown status {s:?}: use unset, ok or error"))
            })
        })
        .transpose()?;
    let filters = params.get_all("attr").count();
    if filters > MAX_ATTRIBUTE_TERMS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_ATTRIBUTE_TERMS} attr filters, not {filters}"
        )));
    }
    let attributes = params
        .get_all("attr")
        .map(|pair| {
            pair.split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("attr must be key=value, not {pair:?}"))
                })
        })
        .collect::<Result<_, _>>()?;
    let after = params
        .cursor()?
        .map(|(start, span)| {
            SpanId::parse_hex(&span)
                .map(|span| (start, span))
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".to_owned()))
        })
        .transpose()?;
    Ok(SpanPageQuery {
        task_id: params.task_id()?,
        name: params.text("name")?,
        status,
        service: params.text("service")?,
        attributes,
        span_ids: params.span_ids()?,
        from_ns: params.time("from")?,
        to_ns: params.time("to")?,
        after,
        limit: params.limit()?,
    })
}

fn severity_ranges(params: &Params) -> Result<Vec<(i32, i32)>, ApiError> {
    let Some(text) = params.get("severity") else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|name| {
            app::model::severity_band(name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown severity {name:?}: use trace, debug, info, warn, error or fatal"
                ))
            })
        })
        .collect()
}

fn log_query(params: &Params) -> Result<LogPageQuery, ApiError> {
    let after = params
        .cursor()?
        .map(|(time, id)| {
            id.parse()
                .map(|id| (time, id))
                .map_err(|_| ApiError::BadRequest("invalid cursor".to_owned()))
        })
        .transpose()?;
    Ok(LogPageQuery {
        task_id: params.task_id()?,
        severities: severity_ranges(params)?,
        text: params.text("text")?,
        service: params.text("service")?,
        span_ids: params.span_ids()?,
        unattached: false,
        from_ns: params.time("from")?,
        to_ns: params.time("to")?,
        after,
        limit: params.limit()?,
    })
}

pub(super) async fn job_of(state: &AppState, id: &str) -> Result<(Job, TraceId), ApiError> {
    let not_found = || ApiError::NotFound(format!("job {id:?}"));
    let job_ref = JobRef::parse(id).ok_or_else(not_found)?;
    state
        .store
        .find_job_trace(job_ref)
        .await?
        .ok_or_else(not_found)
}

/// Cuts a page fetched with one row more than `limit` back to `limit`; the cursor after its last
/// row if that extra row showed more follow.
fn page_end<T>(
    rows: &mut Vec<T>,
    limit: usize,
    cursor: impl FnOnce(&T) -> String,
) -> Option<String> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(cursor)
}

/// Spans of one trace or all: a JSON page (`limit + 1` fetched to know if more follow), or
/// every match as a file.
async fn serve_spans(
    state: &AppState,
    trace_id: Option<TraceId>,
    file_name: &str,
    params: &Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let mut query = span_query(params)?;
    if format == Format::Json {
        let limit = query.limit as usize;
        query.limit += 1;
        let mut rows = state.store.span_rows(trace_id, &query).await?;
        let next_cursor = page_end(&mut rows, limit, |row| {
            cursor_of(row.start_ns, &hex::encode(&row.span_id))
        });
        let body = spans_page_json(&rows, next_cursor.as_deref())?;
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response());
    }
    query.limit = EXPORT_FIRST_PAGE;
    let source = Source::Spans(trace_id, query);
    let body = export_stream(state, source, format)?;
    Ok(file_response(file_name, "spans", format, body))
}

/// The job of each trace among `logs`, for their `job_id`/`job_name` (one lookup per trace).
async fn jobs_of(
    state: &AppState,
    logs: &[(i64, LogRecord)],
) -> Result<HashMap<String, Job>, ApiError> {
    let mut jobs = HashMap::new();
    for (_, log) in logs {
        let Some(trace) = &log.trace_id else { continue };
        if jobs.contains_key(trace) {
            continue;
        }
        if let Some(trace_id) = TraceId::parse_hex(trace)
            && let Some(job) = state.store.find_job(JobRef(trace_id.0)).await?
        {
            jobs.insert(trace.clone(), job);
        }
    }
    Ok(jobs)
}

async fn serve_logs(
    state: &AppState,
    trace_id: Option<TraceId>,
    file_name: &str,
    params: &Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let mut query = log_query(params)?;
    if format == Format::Json {
        let limit = query.limit as usize;
        query.limit += 1;
        let mut logs = state.store.log_page(trace_id, &query).await?;
        let next_cursor = page_end(&mut logs, limit, |(id, log)| {
            cursor_of(log.time_ns, &id.to_string())
        });
        let jobs = jobs_of(state, &logs).await?;
        let logs: Vec<ApiLog> = logs
            .iter()
            .map(|(_, log)| ApiLog::of(log, log.trace_id.as_ref().and_then(|t| jobs.get(t))))
            .collect();
        return Ok(
            Json(serde_json::json!({ "logs": logs, "next_cursor": next_cursor })).into_response(),
        );
    }
    query.limit = EXPORT_FIRST_PAGE;
    let source = Source::Logs(trace_id, query);
    let body = export_stream(state, source, format)?;
    Ok(file_response(file_name, "logs", format, body))
}

/// A job's export files are named for the job and the start of its id.
fn file_stem(job: &Job) -> String {
    format!("{}-{}", job.name, &job.id[..8.min(job.id.len())])
}

/// `GET /api/v1/jobs/{id}/spans`
pub(super) async fn job_spans(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (job, trace_id) = job_of(&state, &id).await?;
    let name = file_stem(&job);
    serve_spans(&state, Some(trace_id), &name, &Params(params)).await
}

/// `GET /api/v1/jobs/{id}/logs`
pub(super) async fn job_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (job, trace_id) = job_of(&state, &id).await?;
    let name = file_stem(&job);
    serve_logs(&state, Some(trace_id), &name, &Params(params)).await
}

/// `GET /api/v1/spans`: across jobs.
pub(super) async fn spans(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    serve_spans(&state, None, "jobtrace", &Params(params)).await
}

/// `GET /api/v1/logs`: across jobs.
pub(super) async fn logs(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    serve_logs(&state, None, "jobtrace", &Params(params)).await
}
