//! Every request gets an id: the client's `x-request-id` when it sent a sensible one (printable
//! ASCII, at most 64 bytes), else a new UUID. It is sent back on the response and every log line
//! written while the request is handled carries it (the `request` span: `--log-format json`
//! prints it as `span.id`), so a client's report and the server's logs meet.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 64;

fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(HEADER) {
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let fresh = uuid::Uuid::new_v4().to_string();
            // A UUID's text is always a valid header value.
            let value = HeaderValue::from_str(&fresh).unwrap_or(HeaderValue::from_static("-"));
            request.headers_mut().insert(HEADER, value.clone());
            value
        }
    };
    let span = tracing::info_span!(
        "request",
        id = %id.to_str().unwrap_or("-"),
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(HEADER, id);
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_only_short_printable_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("job-42.retry_1")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("has space")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"x".repeat(65)).unwrap()
        ));
        assert!(!acceptable(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()
        ));
    }
}
