//! `POST /v1/traces` and `POST /v1/logs`: OTLP/HTTP in protobuf or JSON, optionally gzipped.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use serde::Serialize;

use super::budget::BudgetError;
use super::budget::Signal;
use super::export::{Export, IngestError, count, decode, decode_share, ingest_turn, metric};
use crate::body::BodyError;
use crate::state::AppState;
use crate::store::StoreError;

/// The two encodings OTLP/HTTP allows; the response uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
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
            IngestError::UnsupportedMediaType(_)
            | IngestError::Body(BodyError::UnsupportedEncoding(_)) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::Body(BodyError::TooLarge { .. })
            | IngestError::Budget(BudgetError::TooManyItems { .. })
            | IngestError::Budget(BudgetError::TooManyMessages { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            IngestError::Body(BodyError::Timeout(_)) => StatusCode::REQUEST_TIMEOUT,
            IngestError::Body(BodyError::Read(_) | BodyError::Gzip(_))
            | IngestError::Protobuf(_)
            | IngestError::Json(_)
            | IngestError::Budget(_) => StatusCode::BAD_REQUEST,
            // Retryable: OTLP clients retry 503 with backoff.
            IngestError::Overloaded
            | IngestError::Body(BodyError::Busy)
            | IngestError::Store(StoreError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The refusal in the request's encoding, counted in `/metrics`.
    fn into_response_as(self, signal: Signal, encoding: Encoding) -> Response {
        crate::metrics::get().refused(metric(signal), self.reason());
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

/// The body inflated and counted against the budget before anything of it is decoded, then,
/// with its share of the decode budget, decoded; the body's bytes go back to the body budget
/// once it is.
async fn decoded<R: Export>(
    state: &AppState,
    headers: &HeaderMap,
    buffered: crate::body::Buffered,
    encoding: Encoding,
) -> Result<(R, tokio::sync::OwnedSemaphorePermit), IngestError> {
    let limits = &state.limits;
    let json = encoding == Encoding::Json;
    let body = crate::body::inflate(headers, buffered.bytes.clone(), limits.max_body_bytes)?;
    let counted = count::<R>(&body, json, limits)?;
    let share = decode_share(state, counted).await?;
    let request = decode::<R>(&body, json)?;
    drop((body, buffered));
    Ok((request, share))
}

/// Body within limits and time, a turn to ingest, counted, decoded, stored, answered in the
/// request's encoding.
pub(super) async fn export<R: Export>(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let (state, headers) = (&state, &headers);
    // The media type before the body is read (and holds its bytes of the budget).
    let encoding = match request_encoding(headers) {
        Ok(encoding) => encoding,
        Err(error) => return error.into_response_as(R::SIGNAL, Encoding::Json),
    };
    let body = match crate::body::read(
        body,
        state.limits.max_body_bytes,
        state.limits.body_read_timeout,
        &state.body_budget,
        crate::body::Framing::Plain,
    )
    .await
    {
        Ok(body) => body,
        Err(error) => return IngestError::from(error).into_response_as(R::SIGNAL, encoding),
    };
    let _turn = match ingest_turn(state).await {
        Ok(turn) => turn,
        Err(error) => return error.into_response_as(R::SIGNAL, encoding),
    };
    let (request, _share) = match decoded::<R>(state, headers, body, encoding).await {
        Ok(decoded) => decoded,
        Err(error) => return error.into_response_as(R::SIGNAL, encoding),
    };
    match request.store(state.store.clone()).await {
        Ok(answer) => encoded(StatusCode::OK, encoding, &answer),
        Err(error) => IngestError::from(error).into_response_as(R::SIGNAL, encoding),
    }
}
