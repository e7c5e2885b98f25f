//! OTLP ingest: pure conversion of OTLP requests into store batches, and the endpoints (HTTP
//! and gRPC) that count, decode, store and answer them (`export.rs` what both share).

pub mod budget;
mod export;
mod grpc;
mod http;
mod otlp;

pub use otlp::{Converted, logs_from_request, spans_from_request};

use axum::Router;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::state::AppState;

/// OTLP/HTTP: `POST /v1/traces`, `POST /v1/logs`.
pub fn http_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/traces",
            post(http::export::<ExportTraceServiceRequest>),
        )
        .route("/v1/logs", post(http::export::<ExportLogsServiceRequest>))
}

/// OTLP/gRPC: the collector services' `Export` (merged with the gRPC services, after the HTTP
/// layers: no response compression).
pub fn grpc_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            post(grpc::export::<ExportTraceServiceRequest>),
        )
        .route(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            post(grpc::export::<ExportLogsServiceRequest>),
        )
}
