//! `workflows.v1.TelemetryQueryService`: a job's spans and logs back to the client, paginated.

use tonic::{Request, Response, Status};

use super::convert::{self, status};
use super::proto::tilebox::v1 as tilebox;
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::telemetry_query_service_server::TelemetryQueryService;
use super::{WorkflowApi, unimplemented_rpcs};
use crate::store::{JobRef, LogPageQuery, SpanId, SpanPageQuery, TraceId};

/// Records per page when the client names no limit.
const DEFAULT_PAGE: i64 = 1000;

/// The client parses page cursors as UUIDs, so they are 16 bytes: a timestamp (8, big endian)
/// and a tie-breaker (8).
fn cursor(time_ns: i64, tie: [u8; 8]) -> tilebox::Id {
    let mut bytes = time_ns.to_be_bytes().to_vec();
    bytes.extend_from_slice(&tie);
    tilebox::Id { uuid: bytes }
}

fn parse_cursor(page: Option<&tilebox::Pagination>) -> Result<Option<(i64, [u8; 8])>, Status> {
    let Some(id) = page.and_then(|p| p.starting_after.as_ref()) else {
        return Ok(None);
    };
    if id.uuid.is_empty() {
        return Ok(None);
    }
    let bytes: [u8; 16] = id
        .uuid
        .as_slice()
        .try_into()
        .map_err(|_| Status::invalid_argument("page cursor must be 16 bytes"))?;
    let mut time = [0; 8];
    let mut tie = [0; 8];
    time.copy_from_slice(&bytes[..8]);
    tie.copy_from_slice(&bytes[8..]);
    Ok(Some((i64::from_be_bytes(time), tie)))
}

fn limit_of(page: Option<&tilebox::Pagination>) -> i64 {
    page.and_then(|p| p.limit)
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, 10_000)
}

/// Inclusive OTLP severity-number ranges of a severity group.
/// Tilebox's Error group takes OTLP's ERROR and FATAL bands together.
fn severity_range(group: i32) -> Option<(i32, i32)> {
    let band = app::model::severity_band;
    match wf::LogSeverityGroup::try_from(group).ok()? {
        wf::LogSeverityGroup::Trace => band("trace"),
        wf::LogSeverityGroup::Debug => band("debug"),
        wf::LogSeverityGroup::Info => band("info"),
        wf::LogSeverityGroup::Warning => band("warn"),
        wf::LogSeverityGroup::Error => Some((band("error")?.0, band("fatal")?.1)),
        wf::LogSeverityGroup::Unspecified => None,
    }
}

impl WorkflowApi {
    async fn job_trace(&self, job_id: Option<&tilebox::Id>) -> Result<TraceId, Status> {
        let id = convert::uuid_of(job_id, "job_id")?;
        let (_, trace_id) = self
            .store
            .find_job_trace(JobRef(*id.as_bytes()))
            .await
            .map_err(status)?
            .ok_or_else(|| Status::not_found(format!("job {id} not found")))?;
        Ok(trace_id)
    }
}

#[tonic::async_trait]
impl TelemetryQueryService for WorkflowApi {
    async fn query_job_spans(
        &self,
        request: Request<wf::QueryJobSpansRequest>,
    ) -> Result<Response<wf::PaginatedSpansData>, Status> {
        let request = request.into_inner();
        let trace_id = self.job_trace(request.job_id.as_ref()).await?;
        let limit = limit_of(request.page.as_ref());
        let after = parse_cursor(request.page.as_ref())?
            .map(|(start, id)| SpanId::from_bytes(&id).map(|id| (start, id)))
            .map(|after| after.ok_or_else(|| Status::invalid_argument("invalid page cursor")))
            .transpose()?;
        let query = SpanPageQuery {
            task_id: convert::optional_uuid(request.task_id.as_ref()).map(|id| id.to_string()),
            after,
            limit: limit as u32,
            ..SpanPageQuery::default()
        };
        let spans = self
            .store
            .span_page(Some(trace_id), &query)
            .await
            .map_err(status)?;
        let next_page = (spans.len() as i64 == limit)
            .then(|| spans.last())
            .flatten()
            .and_then(|span| {
                let id = SpanId::parse_hex(&span.span_id)?;
                Some(tilebox::Pagination {
                    limit: Some(limit),
                    starting_after: Some(cursor(span.start_ns, id.0)),
                })
            });
        Ok(Response::new(wf::PaginatedSpansData {
            resource_spans: spans.iter().map(convert::resource_spans).collect(),
            next_page,
        }))
    }

    async fn query_job_logs(
        &self,
        request: Request<wf::QueryJobLogsRequest>,
    ) -> Result<Response<wf::PaginatedLogsData>, Status> {
        let request = request.into_inner();
        let trace_id = self.job_trace(request.job_id.as_ref()).await?;
        let limit = limit_of(request.page.as_ref());
        let severities = request
            .filters
            .map(|f| {
                f.severity_levels
                    .iter()
                    .filter_map(|g| severity_range(*g))
                    .collect()
            })
            .unwrap_or_default();
        let query = LogPageQuery {
            task_id: convert::optional_uuid(request.task_id.as_ref()).map(|id| id.to_string()),
            severities,
            after: parse_cursor(request.page.as_ref())?
                .map(|(time, id)| (time, i64::from_be_bytes(id))),
            limit: limit as u32,
            ..LogPageQuery::default()
        };
        let logs = self
            .store
            .log_page(Some(trace_id), &query)
            .await
            .map_err(status)?;
        let next_page = (logs.len() as i64 == limit)
            .then(|| logs.last())
            .flatten()
            .map(|(id, log)| tilebox::Pagination {
                limit: Some(limit),
                starting_after: Some(cursor(log.time_ns, id.to_be_bytes())),
            });
        Ok(Response::new(wf::PaginatedLogsData {
            resource_logs: logs
                .iter()
                .map(|(_, log)| convert::resource_logs(log))
                .collect(),
            next_page,
        }))
    }

    unimplemented_rpcs! {
        query_logs_in_interval(wf::QueryLogsInIntervalRequest) -> wf::PaginatedLogsData;
        get_log_message_counts(wf::GetLogMessageCountsRequest) -> wf::GetLogMessageCountsResponse;
    }
}
