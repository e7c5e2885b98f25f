//! OTLP ingest: pure conversion of OTLP requests into store batches, and the HTTP endpoints.

pub mod budget;
pub mod http;
mod otlp;

pub use otlp::{Converted, logs_from_request, spans_from_request};
