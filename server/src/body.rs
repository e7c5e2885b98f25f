//! Request bodies within limits: read within a size and a time (a stalled or dripping upload
//! is cut off instead of holding its connection), gunzipped if so encoded, never larger than
//! the limit once inflated. Shared by OTLP/HTTP ingest and the Connect protocol.

use std::io::Read;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

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
}

/// The whole body, at most `limit` bytes, arrived within `timeout`.
pub async fn read(
    body: axum::body::Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyError> {
    let limited = http_body_util::Limited::new(body, limit);
    let collected = tokio::time::timeout(timeout, http_body_util::BodyExt::collect(limited))
        .await
        .map_err(|_| BodyError::Timeout(timeout.as_secs()))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(error) => Err(BodyError::Read(error.to_string())),
    }
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
