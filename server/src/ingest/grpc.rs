//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` and
//! `…logs.v1.LogsService/Export` on the port's gRPC paths, what OpenTelemetry SDKs and the
//! Collector send by default. Spoken by hand rather than through generated services so that a
//! request is counted against the same budget as OTLP/HTTP **before** it is decoded (a 4 MB
//! message of empty spans decodes to ~2 GB); everything after the framing is the HTTP path's.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use prost::Message;
use tonic::{Code, Status};

use super::budget::Signal;
use super::export::{Export, IngestError, count, decode, decode_share, ingest_turn, metric};
use crate::body::{self, BodyError};
use crate::grpc_wire;
use crate::state::AppState;
use crate::store::StoreError;

/// The gRPC status for an ingest failure. UNAVAILABLE is what OTLP exporters retry; a request
/// too large is INVALID_ARGUMENT, not RESOURCE_EXHAUSTED, which exporters retry forever.
fn status(signal: Signal, error: &IngestError) -> Status {
    crate::metrics::get().refused(metric(signal), error.reason());
    let code = match error {
        IngestError::Body(BodyError::Timeout(_)) => Code::DeadlineExceeded,
        IngestError::Body(BodyError::UnsupportedEncoding(_)) => Code::Unimplemented,
        IngestError::UnsupportedMediaType(_)
        | IngestError::Body(BodyError::Read(_) | BodyError::Gzip(_) | BodyError::TooLarge { .. })
        | IngestError::Protobuf(_)
        | IngestError::Json(_)
        | IngestError::Budget(_) => Code::InvalidArgument,
        IngestError::Overloaded
        | IngestError::Body(BodyError::Busy)
        | IngestError::Store(StoreError::Busy) => Code::Unavailable,
        IngestError::Store(_) => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!(%error, "otlp/grpc ingest failed");
    }
    Status::new(code, error.to_string())
}

/// The message of a gRPC request body: one length-prefixed message, inflated if its flag says
/// compressed (with the `grpc-encoding` the call names; gzip only), within the body limit.
fn message(
    signal: Signal,
    headers: &HeaderMap,
    body: &axum::body::Bytes,
    limit: usize,
) -> Result<axum::body::Bytes, Status> {
    let refused = |reason| crate::metrics::get().refused(metric(signal), reason);
    let Some((compressed, message)) = grpc_wire::unframe(body) else {
        refused("malformed");
        return Err(Status::invalid_argument(
            "the body is not one length-prefixed gRPC message",
        ));
    };
    if !compressed {
        return Ok(message);
    }
    let encoding = headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if encoding != "gzip" {
        refused("unsupported");
        return Err(Status::unimplemented(format!(
            "message compressed with {encoding:?}: jobtrace takes gzip or none"
        )));
    }
    let mut gzip = HeaderMap::new();
    gzip.insert(
        axum::http::header::CONTENT_ENCODING,
        axum::http::HeaderValue::from_static("gzip"),
    );
    body::inflate(&gzip, message, limit).map_err(|error| status(signal, &error.into()))
}

pub(super) async fn export<R: Export>(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let (state, headers) = (&state, &headers);
    let limits = &state.limits;
    let answer = async {
        let buffered = body::read(
            body,
            limits.max_body_bytes,
            limits.body_read_timeout,
            &state.body_budget,
            body::Framing::Grpc,
        )
        .await
        .map_err(|error| status(R::SIGNAL, &error.into()))?;
        // The turn before the message is unframed: inflating it (up to the body limit) is
        // what the turns bound; `buffered` keeps its bytes of the body budget until the
        // message is decoded.
        let _turn = ingest_turn(state)
            .await
            .map_err(|error| status(R::SIGNAL, &error))?;
        let message = message(R::SIGNAL, headers, &buffered.bytes, limits.max_body_bytes)?;
        let fail = |error| status(R::SIGNAL, &error);
        let counted = count::<R>(&message, false, limits).map_err(fail)?;
        let _share = decode_share(state, counted).await.map_err(fail)?;
        let request = decode::<R>(&message, false).map_err(fail)?;
        drop((message, buffered));
        request
            .store(state.store.clone())
            .await
            .map_err(|error| status(R::SIGNAL, &IngestError::from(error)))
    };
    match answer.await {
        Ok(answer) => grpc_wire::message(&answer.encode_to_vec()),
        Err(status) => grpc_wire::status_only(&status),
    }
}
