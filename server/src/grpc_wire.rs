//! gRPC's wire format where jobtrace speaks it by hand (the Connect translation, OTLP/gRPC
//! ingest): one length-prefixed message per call, and answers with their status.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use http_body_util::StreamBody;
use hyper::body::Frame;

/// One uncompressed length-prefixed message.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    // Messages are bounded far below u32::MAX by the body limits.
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(message);
    framed
}

/// A body holding exactly one length-prefixed message: whether it is compressed, and the
/// message. `None` for anything else (truncated, longer than declared, two messages).
pub fn unframe(body: &Bytes) -> Option<(bool, Bytes)> {
    let (&flags, rest) = body.split_first()?;
    if flags > 1 || rest.len() < 4 {
        return None;
    }
    let length = usize::try_from(u32::from_be_bytes(rest[..4].try_into().ok()?)).ok()?;
    (rest.len() == 4 + length).then(|| (flags == 1, body.slice(5..)))
}

fn grpc_headers(response: &mut Response) {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
}

/// A status in trailers: `grpc-status` and the message, percent-encoded as gRPC wants.
fn status_map(status: &tonic::Status) -> HeaderMap {
    let mut map = HeaderMap::new();
    // `add_header` writes grpc-status and grpc-message (encoded); it fails only on details
    // too large for a header, which these statuses do not carry.
    let _ = status.add_header(&mut map);
    map
}

/// An answer that is only a status (a refusal): trailers-only, in the headers.
pub fn status_only(status: &tonic::Status) -> Response {
    let mut response = Response::new(Body::empty());
    grpc_headers(&mut response);
    response.headers_mut().extend(status_map(status));
    response
}

/// An answer message followed by an OK status in the trailers.
pub fn message(message: &[u8]) -> Response {
    let frames = [
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(frame(message)))),
        Ok(Frame::trailers(status_map(&tonic::Status::ok("")))),
    ];
    let mut response = Response::new(Body::new(StreamBody::new(futures::stream::iter(frames))));
    grpc_headers(&mut response);
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_a_framed_message_unframes_to_itself_and_malformed_frames_do_not() {
        let message = b"\x08\x96\x01".as_slice();
        let framed = Bytes::from(frame(message));
        assert_eq!(unframe(&framed), Some((false, Bytes::from_static(message))));
        assert_eq!(
            unframe(&Bytes::from(frame(b""))),
            Some((false, Bytes::new()))
        );
        let mut compressed = framed.to_vec();
        compressed[0] = 1;
        assert_eq!(
            unframe(&Bytes::from(compressed)).map(|(c, _)| c),
            Some(true)
        );
        // An unknown flag, a length longer or shorter than the body, two messages, too short.
        let mut flagged = framed.to_vec();
        flagged[0] = 2;
        assert_eq!(unframe(&Bytes::from(flagged)), None);
        assert_eq!(unframe(&framed.slice(..framed.len() - 1)), None);
        let mut two = framed.to_vec();
        two.extend_from_slice(&framed);
        assert_eq!(unframe(&Bytes::from(two)), None);
        assert_eq!(unframe(&Bytes::from_static(b"\0\0\0")), None);
    }
}
