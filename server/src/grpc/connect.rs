//! The Connect protocol's unary calls (`Client(transport="http1")` of the Python client) on the
//! same paths as gRPC: a Connect request is turned into the gRPC request it means, handed to
//! the same tonic services, and the gRPC answer turned back. Nothing about an RPC is written
//! twice; the services cannot tell the two protocols apart.
//!
//! Spoken: `POST` with `Content-Type: application/proto`, a body gzipped or not, at most
//! [`MAX_MESSAGE_BYTES`] before and after inflating, `connect-timeout-ms`. Not spoken (each gets
//! a Connect error saying so): the JSON codec (`application/json`; the services have no JSON
//! mapping), `GET` requests, streaming calls (`application/connect+proto`; no RPC jobtrace
//! offers streams). Answers are never compressed.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tonic::Code;

use crate::body::{self, BodyError};
use crate::grpc_wire;

/// Largest message taken or given, as tonic's default for gRPC.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// How long a request body may take to arrive, and the bytes bodies may hold.
#[derive(Clone)]
pub struct ConnectLimits {
    pub body_read_timeout: std::time::Duration,
    /// The budget of bytes held for Connect request bodies (OTLP ingest has its own).
    pub body_budget: body::BodyBudget,
}

/// The paths of jobtrace's RPCs: `/workflows.v1.{Service}/{Method}`.
const RPC_PATHS: &str = "/workflows.v1.";

/// Whether a request is a Connect call: to an RPC path, with Connect's content types or its
/// protocol header (a `GET` has no body and so no content type).
fn is_connect(request: &Request) -> bool {
    if !request.uri().path().starts_with(RPC_PATHS) {
        return false;
    }
    if request.headers().contains_key("connect-protocol-version") {
        return true;
    }
    media_type(request.headers()).is_some_and(|media| {
        media == "application/proto"
            || media == "application/json"
            || media.starts_with("application/connect+")
    })
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// The middleware in front of the gRPC services: Connect requests are translated, everything
/// else passes as it came.
pub async fn unary(State(limits): State<ConnectLimits>, request: Request, next: Next) -> Response {
    if !is_connect(&request) {
        return next.run(request).await;
    }
    call(limits, request, next).await
}

/// `connect-timeout-ms`: none, or whole milliseconds of at most 10 digits (`Err` otherwise).
fn timeout_ms(headers: &HeaderMap) -> Result<Option<u64>, ()> {
    let Some(value) = headers.get("connect-timeout-ms") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|text| (1..=10).contains(&text.len()))
        .and_then(|text| text.parse::<u64>().ok())
        .map(Some)
        .ok_or(())
}

async fn call(limits: ConnectLimits, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return error(
            Code::Unimplemented,
            "jobtrace takes Connect calls as POST only",
        );
    }
    match media_type(request.headers()).as_deref() {
        Some("application/proto") => {}
        Some("application/json") => {
            return error(
                Code::Unimplemented,
                "jobtrace speaks Connect with binary protobuf (application/proto), not JSON",
            );
        }
        _ => {
            return error(
                Code::Unimplemented,
                "jobtrace offers no streaming RPCs: use unary calls (application/proto)",
            );
        }
    }
    let (mut parts, body) = request.into_parts();
    let buffered = match body::read(
        body,
        MAX_MESSAGE_BYTES,
        limits.body_read_timeout,
        &limits.body_budget,
        body::Framing::Plain,
    )
    .await
    {
        Ok(buffered) => buffered,
        Err(failure) => return body_error(&failure),
    };
    let message = match body::inflate(&parts.headers, buffered.bytes.clone(), MAX_MESSAGE_BYTES) {
        Ok(message) => message,
        Err(failure) => return body_error(&failure),
    };
    let Ok(timeout) = timeout_ms(&parts.headers) else {
        return error(
            Code::InvalidArgument,
            "connect-timeout-ms must be a whole number of milliseconds, at most 10 digits",
        );
    };
    let headers = &mut parts.headers;
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::ACCEPT_ENCODING,
    ] {
        headers.remove(name);
    }
    headers.remove("connect-protocol-version");
    headers.remove("connect-timeout-ms");
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(ms) = timeout
        && let Ok(value) = HeaderValue::from_str(&format!("{ms}m"))
    {
        headers.insert("grpc-timeout", value);
    }
    let grpc_request = Request::from_parts(parts, Body::from(grpc_wire::frame(&message)));
    drop((message, buffered));
    let path = grpc_request.uri().path().to_owned();
    let response = next.run(grpc_request).await;
    answer(&path, response).await
}

/// The gRPC response as a Connect unary response: the message with the response metadata as
/// headers and trailers as `trailer-` headers, or the status as Connect's JSON error.
async fn answer(path: &str, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let is_grpc = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
    if !is_grpc {
        // Not one of the services (the dashboard's 404 page, say).
        return error(
            Code::Unimplemented,
            &format!("{path} is not an RPC jobtrace offers"),
        );
    }
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(failure) => {
            return error(Code::Internal, &format!("the answer broke off: {failure}"));
        }
    };
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let status = tonic::Status::from_header_map(&trailers)
        .or_else(|| tonic::Status::from_header_map(&parts.headers));
    if let Some(status) = status
        && status.code() != Code::Ok
    {
        return error(status.code(), status.message());
    }
    let body = collected.to_bytes();
    let Some((false, message)) = grpc_wire::unframe(&body) else {
        return error(
            Code::Internal,
            "the service answered with a malformed message",
        );
    };
    let mut answer = Response::new(Body::from(message));
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/proto"),
    );
    for (name, value) in &parts.headers {
        if is_metadata(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, value) in &trailers {
        if is_metadata(name)
            && let Ok(name) = HeaderName::try_from(format!("trailer-{name}"))
        {
            headers.append(name, value.clone());
        }
    }
    answer
}

/// Custom metadata an RPC sets (`x-jobtrace-attempt`), not the transport's own headers.
fn is_metadata(name: &HeaderName) -> bool {
    let name = name.as_str();
    !(name.starts_with("grpc-")
        || name == header::CONTENT_TYPE.as_str()
        || name == header::CONTENT_LENGTH.as_str()
        || name == header::TRANSFER_ENCODING.as_str()
        || name == header::DATE.as_str())
}

fn body_error(failure: &BodyError) -> Response {
    let code = match failure {
        BodyError::TooLarge { .. } => Code::ResourceExhausted,
        BodyError::Timeout(_) => Code::DeadlineExceeded,
        BodyError::UnsupportedEncoding(_) => Code::Unimplemented,
        BodyError::Read(_) | BodyError::Gzip(_) => Code::InvalidArgument,
        BodyError::Busy => Code::Unavailable,
    };
    error(code, &failure.to_string())
}

/// A Connect error: the HTTP status Connect gives the code, and `{"code", "message"}`.
pub fn error(code: Code, message: &str) -> Response {
    let (status, name) = match code {
        Code::Ok => (StatusCode::OK, "ok"),
        Code::Cancelled => (
            StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "canceled",
        ),
        Code::Unknown => (StatusCode::INTERNAL_SERVER_ERROR, "unknown"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "invalid_argument"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
        Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
        Code::FailedPrecondition => (StatusCode::BAD_REQUEST, "failed_precondition"),
        Code::Aborted => (StatusCode::CONFLICT, "aborted"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "out_of_range"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
        Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Code::DataLoss => (StatusCode::INTERNAL_SERVER_ERROR, "data_loss"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
    };
    let body = serde_json::json!({ "code": name, "message": message });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_errors_carry_connect_codes_and_statuses() {
        let response = error(Code::NotFound, "no job 7");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "not_found");
        assert_eq!(json["message"], "no job 7");
        assert_eq!(
            error(Code::Unauthenticated, "").status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
