//! Request bodies within limits: read within a size and a time (a stalled or dripping upload
//! is cut off instead of holding its connection), within the server's budget of bytes held
//! for bodies, gunzipped if so encoded, never larger than the limit once inflated. Shared by
//! OTLP ingest (HTTP and gRPC) and the Connect protocol.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bytes of request bodies the server holds at once, shared by every body read.
///
/// Bodies are read before a request waits for its turn to ingest; without a budget, 100 uploads
/// of 15 MB at once held 1.2 GB (memory grew with the number of uploads, not the ingest
/// concurrency). A body takes its bytes from the budget ([`read`]) and gives them back when
/// dropped; one that cannot get them within [`BUDGET_WAIT`] is refused as busy
/// (503/`UNAVAILABLE`, which clients retry). The price: a client that declares a large body
/// and sends it slowly holds its share until the body read timeout.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    capacity: usize,
    wait: Duration,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        let capacity = bytes.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(capacity)),
            capacity,
            wait: BUDGET_WAIT,
        }
    }

    /// The same budget with another wait before a body is refused as busy.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Bytes not held by any body now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// `bytes` of the budget, waiting at most the budget's wait (in line: the semaphore is
    /// fair), else [`BodyError::Busy`].
    async fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, BodyError> {
        // More than the whole budget would wait for ever: too large, not busy.
        if bytes > self.capacity {
            return Err(BodyError::TooLarge {
                limit: self.capacity,
            });
        }
        let bytes = u32::try_from(bytes).map_err(|_| BodyError::TooLarge {
            limit: self.capacity,
        })?;
        tokio::time::timeout(self.wait, Arc::clone(&self.bytes).acquire_many_owned(bytes))
            .await
            .map_err(|_| BodyError::Busy)?
            .map_err(|_| BodyError::Busy)
    }
}

/// How long a body waits for budget before it is refused as busy.
const BUDGET_WAIT: Duration = Duration::from_secs(5);

/// A request body in memory, holding its bytes of the [`BodyBudget`] until dropped.
#[derive(Debug)]
pub struct Buffered {
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content encoding {0:?}: use gzip or none")]
    UnsupportedEncoding(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body not received within {0} s")]
    Timeout(u64),
    #[error("request body could not be read: {0}")]
    Read(String),
    #[error("malformed gzip body: {0}")]
    Gzip(std::io::Error),
    #[error("the server is holding as many request bytes as it may; retry later")]
    Busy,
}

/// How a body says its length when the request does not (`Content-Length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Nothing inside says it.
    Plain,
    /// One gRPC frame: a flag byte and the message's length in four bytes, then the message.
    /// gRPC clients send no `Content-Length` over HTTP/2.
    Grpc,
}

/// The whole body, at most `limit` bytes, arrived within `timeout`, its bytes taken from
/// `budget`: all at once before reading when the client declared its length
/// (`Content-Length`, as OTLP/HTTP exporters send it) or once the gRPC frame's header says it,
/// else as they arrive.
///
/// All at once, because bodies that each took part of the budget as their bytes arrived
/// starved one another: 100 uploads of 15 MB at once held a share each, waited for the rest,
/// and 3 got through in 30 s; with their lengths taken whole, 8 are read at a time and the
/// others wait their turn.
pub async fn read(
    body: axum::body::Body,
    limit: usize,
    timeout: Duration,
    budget: &BodyBudget,
    framing: Framing,
) -> Result<Buffered, BodyError> {
    let read = async {
        // The body's own hint: `Limited`'s says a body longer than the limit is exactly the limit.
        let declared = axum::body::HttpBody::size_hint(&body)
            .exact()
            .map(|length| usize::try_from(length).unwrap_or(usize::MAX));
        let mut body = std::pin::pin!(http_body_util::Limited::new(body, limit));
        let mut held: Option<OwnedSemaphorePermit> = None;
        // Bytes taken from the budget so far, and whether the whole length is known.
        let mut taken = 0;
        let mut known = false;
        if let Some(length) = declared {
            if length > limit {
                return Err(BodyError::TooLarge { limit });
            }
            held = Some(budget.take(length).await?);
            (taken, known) = (length, true);
        }
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    BodyError::TooLarge { limit }
                } else {
                    BodyError::Read(error.to_string())
                }
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let mut wanted = bytes.len() + data.len();
            if !known && framing == Framing::Grpc && wanted >= 5 {
                let head: Vec<u8> = bytes.iter().chain(data.iter()).take(5).copied().collect();
                let message = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
                let frame_length = usize::try_from(message)
                    .unwrap_or(usize::MAX)
                    .saturating_add(5);
                wanted = wanted.max(frame_length.min(limit));
                known = true;
            }
            if wanted > taken {
                let permit = budget.take(wanted - taken).await?;
                match &mut held {
                    Some(held) => held.merge(permit),
                    None => held = Some(permit),
                }
                taken = wanted;
            }
            bytes.extend_from_slice(&data);
        }
        Ok(Buffered {
            bytes: Bytes::from(bytes),
            _held: held,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| BodyError::Timeout(timeout.as_secs()))?
}

/// The body as its `Content-Encoding` says (none or gzip), at most `limit` bytes inflated.
pub fn inflate(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, BodyError> {
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
                .map_err(BodyError::Gzip)?;
            if inflated.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            Ok(Bytes::from(inflated))
        }
        other => Err(BodyError::UnsupportedEncoding(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_bodies_hold_their_bytes_of_the_budget_until_dropped() {
        let budget = BodyBudget::new(1_000).with_wait(Duration::from_millis(50));
        let read = |size: usize| {
            let budget = budget.clone();
            async move {
                read(
                    axum::body::Body::from(vec![7u8; size]),
                    10_000,
                    Duration::from_secs(5),
                    &budget,
                    Framing::Plain,
                )
                .await
            }
        };
        let first = read(600).await.expect("within the budget");
        assert_eq!(first.bytes.len(), 600);
        assert_eq!(budget.available(), 400);
        // Too little left: refused as busy once the wait runs out.
        let second = read(600).await;
        assert!(matches!(second, Err(BodyError::Busy)), "{second:?}");
        assert_eq!(
            budget.available(),
            400,
            "a refused body gives back what it took"
        );
        drop(first);
        assert_eq!(budget.available(), 1_000);
        assert_eq!(read(600).await.map(|b| b.bytes.len()).ok(), Some(600));
        assert!(matches!(
            read(20_000).await,
            Err(BodyError::TooLarge { limit: 10_000 })
        ));
    }

    #[tokio::test]
    async fn test_a_body_without_a_declared_length_takes_its_bytes_as_they_arrive() {
        let budget = BodyBudget::new(1_000).with_wait(Duration::from_millis(50));
        let streamed = |chunks: usize| {
            let budget = budget.clone();
            async move {
                let chunks =
                    (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 300])));
                let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
                read(
                    body,
                    10_000,
                    Duration::from_secs(5),
                    &budget,
                    Framing::Plain,
                )
                .await
            }
        };
        let held = streamed(3).await.expect("900 bytes fit");
        assert_eq!((held.bytes.len(), budget.available()), (900, 100));
        assert!(matches!(streamed(1).await, Err(BodyError::Busy)));
        assert_eq!(
            budget.available(),
            100,
            "the refused body gave back nothing it kept"
        );
        drop(held);
        assert_eq!(streamed(3).await.map(|b| b.bytes.len()).ok(), Some(900));
        assert_eq!(budget.available(), 1_000);
    }

    #[tokio::test]
    async fn test_a_grpc_frame_takes_its_declared_length_once_its_header_arrives() {
        let budget = BodyBudget::new(1_000).with_wait(Duration::from_millis(50));
        // A frame declaring 600 bytes, sent in chunks of 100 with no Content-Length.
        let frame = |length: u32| {
            let mut frame = vec![0u8];
            frame.extend_from_slice(&length.to_be_bytes());
            frame.extend(std::iter::repeat_n(9u8, length as usize));
            frame
        };
        let streamed = |bytes: Vec<u8>| {
            let budget = budget.clone();
            async move {
                let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
                    .chunks(100)
                    .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
                    .collect();
                let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
                read(body, 10_000, Duration::from_secs(5), &budget, Framing::Grpc).await
            }
        };
        let first = streamed(frame(600)).await.expect("fits");
        assert_eq!((first.bytes.len(), budget.available()), (605, 395));
        // The next frame's whole length is taken at its first chunk: refused at once, holding
        // nothing, instead of holding part of the budget while it waits for the rest.
        assert!(matches!(streamed(frame(600)).await, Err(BodyError::Busy)));
        assert_eq!(budget.available(), 395);
        drop(first);
        assert_eq!(
            streamed(frame(600)).await.map(|b| b.bytes.len()).ok(),
            Some(605)
        );
    }
}
