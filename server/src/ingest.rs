//! OTLP ingest: pure conversion of OTLP requests into store batches, and the endpoints (HTTP
//! and gRPC) that count, decode, store and answer them (`export.rs` what both share).

pub mod budget;
mod export;
pub mod grpc;
pub mod http;
mod otlp;

pub use otlp::{Converted, logs_from_request, spans_from_request};
