//! What OTLP ingest does whatever the transport (HTTP or gRPC): a turn among the requests
//! ingested at once, the budget a request is counted against before it is decoded, and per
//! signal how a request is stored and answered.

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
use crate::body::BodyError;
use crate::metrics;
use crate::state::{AppState, Limits};
use crate::store::{SharedStore, StoreError, to_the_end};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unsupported content type {0:?}: use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Body(#[from] BodyError),
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

impl IngestError {
    /// The `reason` label of `/metrics`' refused requests.
    pub(super) fn reason(&self) -> &'static str {
        match self {
            IngestError::UnsupportedMediaType(_)
            | IngestError::Body(BodyError::UnsupportedEncoding(_)) => "unsupported",
            IngestError::Body(BodyError::TooLarge { .. })
            | IngestError::Budget(BudgetError::TooManyItems { .. })
            | IngestError::Budget(BudgetError::TooManyMessages { .. }) => "too_large",
            IngestError::Body(BodyError::Timeout(_)) => "timeout",
            IngestError::Body(BodyError::Read(_) | BodyError::Gzip(_))
            | IngestError::Protobuf(_)
            | IngestError::Json(_)
            | IngestError::Budget(_) => "malformed",
            IngestError::Overloaded
            | IngestError::Body(BodyError::Busy)
            | IngestError::Store(StoreError::Busy) => "overloaded",
            IngestError::Store(_) => "store",
        }
    }
}

/// `/metrics`' name for a signal.
pub(super) fn metric(signal: Signal) -> metrics::Signal {
    match signal {
        Signal::Traces => metrics::Signal::spans,
        Signal::Logs => metrics::Signal::logs,
    }
}

/// A turn to ingest: requests beyond the configured number at once wait a little, then are
/// told to retry (OTLP clients retry 503 with backoff) instead of piling up in memory.
pub(super) async fn ingest_turn(
    state: &AppState,
) -> Result<tokio::sync::OwnedSemaphorePermit, IngestError> {
    let permits = std::sync::Arc::clone(&state.ingest_permits);
    tokio::time::timeout(INGEST_WAIT, permits.acquire_owned())
        .await
        .map_err(|_| IngestError::Overloaded)?
        .map_err(|_| IngestError::Overloaded)
}

/// What a span or log record weighs beyond its own message in a decode share: decoded and
/// converted, an empty span held ~600 bytes, an attribute (two messages) ~130 (measured with
/// `scripts/bench_worst_request.py`).
const ITEM_WEIGHT: usize = 9;

/// How long a request waits for its turn to ingest.
const INGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One OTLP signal's request: how it is counted, converted and stored, and its answer.
pub(super) trait Export: Message + Default + DeserializeOwned {
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
        let count = batch.spans.len() as u64;
        let started = std::time::Instant::now();
        to_the_end(async move { store.write_spans(batch).await }).await?;
        let rejected_count = u64::try_from(rejected).unwrap_or(0);
        metrics::get().stored(
            metrics::Signal::spans,
            count,
            rejected_count,
            started.elapsed(),
        );
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
        let count = batch.logs.len() as u64;
        let started = std::time::Instant::now();
        to_the_end(async move { store.write_logs(batch).await }).await?;
        let rejected_count = u64::try_from(rejected).unwrap_or(0);
        metrics::get().stored(
            metrics::Signal::logs,
            count,
            rejected_count,
            started.elapsed(),
        );
        let partial_success =
            partial(rejected, &error_message).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message,
            });
        Ok(ExportLogsServiceResponse { partial_success })
    }
}

/// What one request may hold, counted before decoding.
pub(super) fn budget(limits: &Limits) -> Budget {
    Budget {
        items: limits.max_items_per_request,
        messages: limits.max_messages_per_request,
    }
}

/// What a request holds, counted against the budget before anything of it is decoded.
pub(super) fn count<R: Export>(
    body: &[u8],
    json: bool,
    limits: &Limits,
) -> Result<budget::Counted, IngestError> {
    Ok(if json {
        budget::count_json(body, budget(limits))?
    } else {
        budget::count_protobuf(body, R::SIGNAL, budget(limits))?
    })
}

/// The request decoded (once counted, and its share of the decode budget held).
pub(super) fn decode<R: Export>(body: &[u8], json: bool) -> Result<R, IngestError> {
    Ok(if json {
        serde_json::from_slice(body)?
    } else {
        R::decode(body)?
    })
}

/// The request's share of what decoded requests may hold at once, taken before it is decoded
/// and held until it is stored: its messages, and [`ITEM_WEIGHT`] more for each span or log
/// record, out of 2,000,000 (`decode_shares`), about 110 MB decoded.
///
/// The ingest turns bound how many requests are decoded at once, not how large they are: 8
/// requests of 100,000 spans of 9 attributes held 711 MB. With shares, two requests of 100,000
/// empty spans are decoded at once, one of 100,000 spans with attributes at a time, and an
/// SDK's batch (512 spans) takes a sliver and is not held up.
pub(super) async fn decode_share(
    state: &AppState,
    counted: budget::Counted,
) -> Result<tokio::sync::OwnedSemaphorePermit, IngestError> {
    let most = crate::state::DECODE_SHARES;
    let weight = counted
        .messages
        .saturating_add(counted.items.saturating_mul(ITEM_WEIGHT));
    let wanted = u32::try_from(weight.clamp(1, most)).unwrap_or(u32::MAX);
    let shares = std::sync::Arc::clone(&state.decode_shares);
    tokio::time::timeout(INGEST_WAIT, shares.acquire_many_owned(wanted))
        .await
        .map_err(|_| IngestError::Overloaded)?
        .map_err(|_| IngestError::Overloaded)
}
