//! `POST /v1/traces` and `POST /v1/logs`: OTLP/HTTP in protobuf or JSON, optionally gzipped.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::budget::{self, Budget, BudgetError, Signal};
use super::{Converted, logs_from_request, spans_from_request};
use crate::state::{AppState, Limits};
use crate::store::{SharedStore, StoreError, to_the_end};

/// The two encodings OTLP/HTTP allows; the response uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unsupported content type {0:?}: use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding {0:?}: use gzip or none")]
    UnsupportedEncoding(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body not received within {0} s")]
    BodyTimeout(u64),
    #[error("request body could not be read: {0}")]
    BodyRead(String),
    #[error("malformed gzip body: {0}")]
    Gzip(std::io::Error),
    #[error("malformed protobuf body: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("malformed JSON body: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Budget(#[from] BudgetError),
    #[error("too many requests are being ingested at once; retry later")]
    Overloaded,
    #[error("storing failed, nothing was stored: {0}")]
    Store(#[from] StoreError),
}

/// OTLP's error body: a google.rpc.Status in the request's encoding.
#[derive(Clone, PartialEq, Message, Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            IngestError::UnsupportedMediaType(_) | IngestError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::TooLarge { .. }
            | IngestError::Budget(BudgetError::TooManyItems { .. })
            | IngestError::Budget(BudgetError::TooManyMessages { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            IngestError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            IngestError::BodyRead(_)
            | IngestError::Gzip(_)
            | IngestError::Protobuf(_)
            | IngestError::Json(_)
            | IngestError::Budget(_) => StatusCode::BAD_REQUEST,
            // Retryable: OTLP clients retry 503 with backoff.
            IngestError::Overloaded | IngestError::Store(StoreError::Busy) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn into_response_as(self, encoding: Encoding) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "otlp ingest failed");
        }
        let body = RpcStatus {
            // google.rpc.Code: INVALID_ARGUMENT, or UNAVAILABLE / INTERNAL for store failures.
            code: match status {
                StatusCode::SERVICE_UNAVAILABLE => 14,
                StatusCode::INTERNAL_SERVER_ERROR => 13,
                _ => 3,
            },
            message: self.to_string(),
        };
        encoded(status, encoding, &body)
    }
}

fn encoded<T: Message + Serialize>(status: StatusCode, encoding: Encoding, body: &T) -> Response {
    match encoding {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            body.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(body).unwrap_or_default(),
        )
            .into_response(),
    }
}

fn request_encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media.to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(IngestError::UnsupportedMediaType(content_type.to_owned())),
    }
}

/// The body, gunzipped if so encoded, never larger than `limit` once inflated.
fn inflate(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, IngestError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(body),
        "gzip" => {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(limit as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(IngestError::Gzip)?;
            if inflated.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            Ok(Bytes::from(inflated))
        }
        other => Err(IngestError::UnsupportedEncoding(other.to_owned())),
    }
}

fn decode<T: Message + Default + DeserializeOwned>(
    encoding: Encoding,
    body: &[u8],
) -> Result<T, IngestError> {
    Ok(match encoding {
        Encoding::Protobuf => T::decode(body)?,
        Encoding::Json => serde_json::from_slice(body)?,
    })
}

/// Content type and encoding are checked before the body is read further, and what it holds is
/// counted against the budget before anything of it is decoded.
fn read_request<T: Message + Default + DeserializeOwned>(
    headers: &HeaderMap,
    body: Bytes,
    limits: &Limits,
    signal: Signal,
) -> Result<(Encoding, T), (Encoding, IngestError)> {
    let encoding = request_encoding(headers).map_err(|e| (Encoding::Json, e))?;
    let fail = |e| (encoding, e);
    let body = inflate(headers, body, limits.max_body_bytes).map_err(fail)?;
    let budget = Budget {
        items: limits.max_items_per_request,
        messages: limits.max_messages_per_request,
    };
    match encoding {
        Encoding::Protobuf => budget::count_protobuf(&body, signal, budget),
        Encoding::Json => budget::count_json(&body, budget),
    }
    .map_err(|e| fail(e.into()))?;
    let request = decode(encoding, &body).map_err(fail)?;
    Ok((encoding, request))
}

/// A turn to ingest: requests beyond the configured number at once wait a little, then are
/// told to retry (OTLP clients retry 503 with backoff) instead of piling up in memory.
async fn ingest_turn(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, IngestError> {
    let permits = std::sync::Arc::clone(&state.ingest_permits);
    tokio::time::timeout(INGEST_WAIT, permits.acquire_owned())
        .await
        .map_err(|_| IngestError::Overloaded)?
        .map_err(|_| IngestError::Overloaded)
}

/// The request body, within the body limit and the body read timeout (a stalled or dripping
/// upload is cut off instead of holding its connection).
async fn read_body(body: axum::body::Body, limits: &Limits) -> Result<Bytes, IngestError> {
    let limit = limits.max_body_bytes;
    let limited = http_body_util::Limited::new(body, limit);
    let collected = tokio::time::timeout(
        limits.body_read_timeout,
        http_body_util::BodyExt::collect(limited),
    )
    .await
    .map_err(|_| IngestError::BodyTimeout(limits.body_read_timeout.as_secs()))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(IngestError::TooLarge { limit })
        }
        Err(error) => Err(IngestError::BodyRead(error.to_string())),
    }
}

/// How long a request waits for its turn to ingest.
const INGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One OTLP signal's request: how it is counted, converted and stored, and its answer.
trait Export: Message + Default + DeserializeOwned {
    const SIGNAL: Signal;
    type Answer: Message + Serialize;

    /// Converts and stores the request (one transaction, run to its end whatever the client
    /// does) and answers with a partial success for what was rejected or cut.
    async fn store(self, store: SharedStore) -> Result<Self::Answer, StoreError>;
}

/// A partial success with a message is OTLP's warning: also sent when nothing was rejected but
/// something was cut.
fn partial(rejected: i64, error_message: &str) -> bool {
    rejected > 0 || !error_message.is_empty()
}

impl Export for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    type Answer = ExportTraceServiceResponse;

    async fn store(self, store: SharedStore) -> Result<Self::Answer, StoreError> {
        let Converted {
            batch,
            rejected,
            error_message,
        } = spans_from_request(&self);
        drop(self);
        to_the_end(async move { store.write_spans(batch).await }).await?;
        let partial_success =
            partial(rejected, &error_message).then_some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message,
            });
        Ok(ExportTraceServiceResponse { partial_success })
    }
}

impl Export for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    type Answer = ExportLogsServiceResponse;

    async fn store(self, store: SharedStore) -> Result<Self::Answer, StoreError> {
        let Converted {
            batch,
            rejected,
            error_message,
        } = logs_from_request(&self);
        drop(self);
        to_the_end(async move { store.write_logs(batch).await }).await?;
        let partial_success =
            partial(rejected, &error_message).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message,
            });
        Ok(ExportLogsServiceResponse { partial_success })
    }
}

/// Body within limits and time, a turn to ingest, counted, decoded, stored, answered in the
/// request's encoding.
async fn export<R: Export>(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Response {
    let body = match read_body(body, &state.limits).await {
        Ok(body) => body,
        Err(error) => {
            let encoding = request_encoding(headers).unwrap_or(Encoding::Json);
            return error.into_response_as(encoding);
        }
    };
    let _turn = match ingest_turn(state).await {
        Ok(turn) => turn,
        Err(error) => return error.into_response_as(Encoding::Json),
    };
    let (encoding, request) = match read_request::<R>(headers, body, &state.limits, R::SIGNAL) {
        Ok(decoded) => decoded,
        Err((encoding, error)) => return error.into_response_as(encoding),
    };
    match request.store(state.store.clone()).await {
        Ok(answer) => encoded(StatusCode::OK, encoding, &answer),
        Err(error) => IngestError::from(error).into_response_as(encoding),
    }
}

pub async fn export_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    export::<ExportTraceServiceRequest>(&state, &headers, body).await
}

pub async fn export_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    export::<ExportLogsServiceRequest>(&state, &headers, body).await
}
