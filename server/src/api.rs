//! The REST API under `/api/v1`: jobs, their spans and logs, store statistics.

mod dto;
mod export;
mod export_stream;
mod live;
mod spans_logs;
mod task_stats;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode as HttpStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use app::error::AppError;
use app::model::JobListQuery;

use crate::query;
use crate::state::AppState;
use crate::store::StoreError;
use axum::http::header;

pub use dto::{ApiJob, ApiLog, ApiSpan};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error; see the server log")]
    Internal,
    /// The server is at a limit (`503`); the client should retry later.
    #[error("{0}")]
    Unavailable(String),
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
            ApiError::Unavailable(_) => HttpStatus::SERVICE_UNAVAILABLE,
        };
        (
            status,
            Json(serde_json::json!({ "error": fitted_message(self.to_string()) })),
        )
            .into_response()
    }
}

/// Longest error message an answer carries: messages quote what the client sent, and a request
/// for a job with a 10,000-character id got all of it back.
const MAX_MESSAGE_BYTES: usize = 300;

/// `message` cut to [`MAX_MESSAGE_BYTES`] at a character boundary, marked with `…` if cut.
fn fitted_message(message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/spans", get(spans_logs::job_spans))
        .route("/api/v1/jobs/{id}/logs", get(spans_logs::job_logs))
        .route("/api/v1/spans", get(spans_logs::spans))
        .route("/api/v1/logs", get(spans_logs::logs))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/jobs/{id}/tasks", get(job_tasks))
        .route("/api/v1/jobs/{id}/graph", get(job_graph))
        .route("/api/v1/jobs/{id}/events", get(live::job_events))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/tasks", get(task_stats::tasks))
        .route("/api/v1/tasks/{identifier}", get(task_stats::task))
}

/// `GET /api/v1/jobs`: the job list's parameters (see `JobListQuery::from_params`), `sort`
/// (`newest`, `longest`), `cursor`, `limit`, and `counts=yes` for per-state counts.
async fn list_jobs(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut query = JobListQuery::from_params(&params).map_err(ApiError::BadRequest)?;
    query.filter = query.filter.resolved(crate::now_ns());
    let page = state.store.list_jobs(&query).await?;
    let jobs: Vec<ApiJob> = page.jobs.iter().map(ApiJob::from).collect();
    let mut body = serde_json::json!({ "jobs": jobs, "next_cursor": page.next_cursor });
    let counts = params
        .iter()
        .find(|(k, _)| k == "counts")
        .map(|(_, v)| v.as_str());
    if matches!(counts, Some("yes" | "true" | "1")) {
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
    let (job, _) = spans_logs::job_of(&state, &id).await?;
    Ok(Json(ApiJob::from(&job)))
}

/// A workflow job's tasks with every attempt (empty for trace-only jobs).
async fn job_tasks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (job, _) = spans_logs::job_of(&state, &id).await?;
    let tasks = query::job_tasks(&state.store, &job).await?;
    Ok(Json(serde_json::json!({ "tasks": tasks })))
}

/// `GET /api/v1/jobs/{id}/graph`'s options: `direction` (`down`, `up`, `right`, `left`),
/// `theme` (`light`, `dark`), `title` (`1`: the job's name above the tasks).
#[derive(Debug, Default, serde::Deserialize)]
struct GraphParams {
    direction: Option<String>,
    theme: Option<String>,
    title: Option<String>,
}

/// A workflow job's task graph as SVG: what `VisualizeJob` answers, for a link or an `<img>`.
async fn job_graph(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(params): axum::extract::Query<GraphParams>,
) -> Result<impl IntoResponse, ApiError> {
    use app::model::graph::{Direction, GraphOptions, Theme, graph_svg, task_graph};
    let theme = match params.theme.as_deref() {
        None | Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "theme {other:?}: light or dark"
            )));
        }
    };
    let direction = match params.direction.as_deref() {
        None => Direction::Down,
        Some(text @ ("down" | "up" | "right" | "left")) => Direction::parse(text),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "direction {other:?}: down, up, right or left"
            )));
        }
    };
    let (job, _) = spans_logs::job_of(&state, &id).await?;
    let tasks = query::job_tasks(&state.store, &job).await?;
    let options = GraphOptions {
        direction,
        padding: 8.0,
        title: (params.title.as_deref() == Some("1")).then_some(job.name),
    };
    let svg = graph_svg(&task_graph(&tasks, &options), theme, None);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

/// The API described in OpenAPI 3.1 (docs/openapi.json, served as is).
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../docs/openapi.json"),
    )
}

async fn stats(State(state): State<AppState>) -> Result<Json<app::model::Stats>, ApiError> {
    Ok(Json(state.store.stats().await?))
}
