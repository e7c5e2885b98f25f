//! The REST API under `/api/v1`: jobs, their spans and logs, store statistics.

mod dto;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use app::error::AppError;
use app::model::JobListQuery;

use crate::query::load_job_trace;
use crate::state::AppState;
use crate::store::StoreError;

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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
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

#[derive(Debug, Deserialize)]
struct ListParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_jobs(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".to_owned(),
        ));
    }
    let page = state
        .store
        .list_jobs(&JobListQuery {
            cursor: params.cursor.filter(|c| !c.is_empty()),
            limit,
        })
        .await?;
    let jobs: Vec<ApiJob> = page.jobs.iter().map(ApiJob::from).collect();
    Ok(Json(
        serde_json::json!({ "jobs": jobs, "next_cursor": page.next_cursor }),
    ))
}

async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiJob>, ApiError> {
    let not_found = || ApiError::NotFound(format!("job {id:?}"));
    let job_ref = crate::store::JobRef::parse(&id).ok_or_else(not_found)?;
    let job = state.store.find_job(job_ref).await?.ok_or_else(not_found)?;
    Ok(Json(ApiJob::from(&job)))
}

async fn job_spans(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let trace = load_job_trace(&state.store, &id).await?;
    let spans: Vec<ApiSpan> = trace.spans.iter().map(ApiSpan::from).collect();
    Ok(Json(serde_json::json!({ "spans": spans })))
}

async fn job_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let trace = load_job_trace(&state.store, &id).await?;
    let logs: Vec<ApiLog> = trace
        .logs
        .iter()
        .map(|log| ApiLog::of(log, &trace.job))
        .collect();
    Ok(Json(serde_json::json!({ "logs": logs })))
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
