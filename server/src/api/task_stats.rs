//! `GET /api/v1/tasks` and `GET /api/v1/tasks/{identifier}`: the task analytics the `/tasks`
//! pages show, as JSON, or as Parquet (`format=parquet`: one row per identifier, version and
//! day).

use std::sync::Arc;

use app::model::{DEFAULT_STAT_DAYS, Percentiles, RunStats, daily_stats};
use arrow_array::builder::{
    DurationNanosecondBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiError;
use crate::query;
use crate::state::AppState;

/// `days` (1 to 90, 14 when absent) and `format` (`json`, `parquet`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct StatParams {
    days: Option<String>,
    format: Option<String>,
}

impl StatParams {
    fn days(&self) -> Result<u32, ApiError> {
        match self.days.as_deref() {
            None => Ok(DEFAULT_STAT_DAYS),
            Some(text) => text.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "days {:?}: a whole number of days, 1 to {}",
                    text.chars().take(32).collect::<String>(),
                    app::model::MAX_STAT_DAYS
                ))
            }),
        }
    }

    fn parquet(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("parquet") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "format {:?}: json or parquet",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// `GET /api/v1/tasks`: every task identifier that ran in the window.
pub(super) async fn tasks(
    State(state): State<AppState>,
    Query(params): Query<StatParams>,
) -> Result<Response, ApiError> {
    let (days, parquet) = (params.days()?, params.parquet()?);
    let analytics = query::task_analytics(&state.store, days).await?;
    if parquet {
        let rows = state
            .store
            .task_stat_rows(analytics.first_day_ns, None)
            .await
            .map_err(|_| ApiError::Internal)?;
        return parquet_response(&rows, "tasks");
    }
    Ok(Json(analytics).into_response())
}

/// `GET /api/v1/tasks/{identifier}`: one identifier per version and day, with its slowest runs.
pub(super) async fn task(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<StatParams>,
) -> Result<Response, ApiError> {
    let (days, parquet) = (params.days()?, params.parquet()?);
    let detail = query::task_detail(&state.store, &name, days).await?;
    if parquet {
        let rows = state
            .store
            .task_stat_rows(detail.first_day_ns, Some(&name))
            .await
            .map_err(|_| ApiError::Internal)?;
        return parquet_response(&rows, "task");
    }
    Ok(Json(detail).into_response())
}

fn parquet_response(rows: &[app::model::TaskStatRow], file: &str) -> Result<Response, ApiError> {
    let bytes = daily_parquet(&daily_stats(rows)).map_err(|error| {
        tracing::error!(%error, "task analytics: writing parquet failed");
        ApiError::Internal
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.apache.parquet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}-stats.parquet\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The per-day table: task, version, day, executions, failed, failure_rate, and the queue
/// wait and duration percentiles (durations in ns; null where nothing was counted).
fn daily_parquet(
    days: &[(String, String, i64, RunStats)],
) -> Result<Vec<u8>, super::export::ExportError> {
    let n = days.len();
    let mut task = StringBuilder::new();
    let mut version = StringBuilder::new();
    let mut day = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut executions = Int64Builder::with_capacity(n);
    let mut failed = Int64Builder::with_capacity(n);
    let mut rate = Float64Builder::with_capacity(n);
    let mut percentiles: Vec<DurationNanosecondBuilder> = (0..6)
        .map(|_| DurationNanosecondBuilder::with_capacity(n))
        .collect();
    for (name, v, day_ns, stats) in days {
        task.append_value(name);
        version.append_value(v);
        day.append_value(*day_ns);
        executions.append_value(stats.executions);
        failed.append_value(stats.failed);
        rate.append_value(stats.failure_rate());
        let values = |p: &Percentiles| [p.p50_ns, p.p95_ns, p.p99_ns];
        let all = values(&stats.queue_wait)
            .into_iter()
            .chain(values(&stats.duration));
        for (builder, value) in percentiles.iter_mut().zip(all) {
            builder.append_option(value);
        }
    }
    let duration = DataType::Duration(TimeUnit::Nanosecond);
    let mut fields = vec![
        Field::new("task", DataType::Utf8, false),
        Field::new("version", DataType::Utf8, false),
        Field::new(
            "day",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("executions", DataType::Int64, false),
        Field::new("failed", DataType::Int64, false),
        Field::new("failure_rate", DataType::Float64, false),
    ];
    for name in [
        "queue_wait_p50",
        "queue_wait_p95",
        "queue_wait_p99",
        "duration_p50",
        "duration_p95",
        "duration_p99",
    ] {
        fields.push(Field::new(name, duration.clone(), true));
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(task.finish()),
        Arc::new(version.finish()),
        Arc::new(day.finish()),
        Arc::new(executions.finish()),
        Arc::new(failed.finish()),
        Arc::new(rate.finish()),
    ];
    columns.extend(
        percentiles
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None)?;
    writer.write(&batch)?;
    Ok(writer.into_inner()?)
}
