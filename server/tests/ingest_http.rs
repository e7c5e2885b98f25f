//! OTLP/HTTP endpoints through the router: encodings, errors, limits, atomicity, duplicates.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use common::{get, post, router, send, sqlite_store, trace_json, trace_request};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";
const LIMIT: usize = 64 * 1024;

fn sample() -> serde_json::Value {
    trace_json(
        TRACE,
        "svc",
        &[
            ("00000000000000a1", None, "job/process-scene", 0, 100, 0),
            (
                "00000000000000a2",
                Some("00000000000000a1"),
                "task/ProcessScene",
                10,
                90,
                1,
            ),
        ],
    )
}

async fn span_count(app: &axum::Router) -> i64 {
    get(app, "/api/v1/stats").await.json()["spans"]
        .as_i64()
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn test_protobuf_request_is_stored_and_answered_in_protobuf() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let body = trace_request(&sample()).encode_to_vec();
    let reply = post(&app, "/v1/traces", "application/x-protobuf", body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, "application/x-protobuf");
    let response = ExportTraceServiceResponse::decode(reply.body.as_slice()).unwrap();
    assert_eq!(response.partial_success, None);
    assert_eq!(span_count(&app).await, 2);
    store.teardown().await;
}

#[tokio::test]
async fn test_json_request_is_stored_and_answered_in_json() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let reply = post(
        &app,
        "/v1/traces",
        "application/json",
        serde_json::to_vec(&sample()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(span_count(&app).await, 2);
    store.teardown().await;
}

#[tokio::test]
async fn test_gzip_body_is_inflated() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let body = gzip(&trace_request(&sample()).encode_to_vec());
    let request = Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::OK);
    assert_eq!(span_count(&app).await, 2);
    store.teardown().await;
}

#[tokio::test]
async fn test_malformed_bodies_are_400_and_store_nothing() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let reply = post(
        &app,
        "/v1/traces",
        "application/json",
        b"{\"resourceSpans\": [".to_vec(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON body"),
        "{}",
        reply.text()
    );

    let reply = post(
        &app,
        "/v1/traces",
        "application/x-protobuf",
        vec![0x0a, 0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let request = Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(Body::from(b"not gzip".to_vec()))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // Valid JSON, but a hex id that is not hex: the whole request is rejected.
    let mut bad = sample();
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "zz".into();
    let reply = post(
        &app,
        "/v1/traces",
        "application/json",
        serde_json::to_vec(&bad).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        span_count(&app).await,
        0,
        "nothing stored from rejected requests"
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_invalid_span_ids_are_partial_success() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let mut request = sample();
    request["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "0000000000000000".into();
    let reply = post(
        &app,
        "/v1/traces",
        "application/json",
        serde_json::to_vec(&request).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    // OTLP JSON allows an int64 as a number or a string.
    let rejected = &json["partialSuccess"]["rejectedSpans"];
    assert!(rejected == 1 || rejected == "1", "{json}");
    assert!(
        json["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("span_id")
    );
    assert_eq!(span_count(&app).await, 1);
    store.teardown().await;
}

#[tokio::test]
async fn test_wrong_content_type_is_415() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let reply = post(&app, "/v1/traces", "text/plain", b"hello".to_vec()).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(reply.text().contains("application/x-protobuf"));
    let reply = post(&app, "/v1/logs", "application/xml", b"<x/>".to_vec()).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    store.teardown().await;
}

#[tokio::test]
async fn test_oversized_bodies_are_413_compressed_or_not() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let big = vec![b' '; LIMIT + 1];
    let reply = post(&app, "/v1/traces", "application/json", big.clone()).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Small on the wire, too big once inflated.
    let request = Request::post("/v1/traces")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(&big)))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.text().contains("limit"), "{}", reply.text());
    assert_eq!(span_count(&app).await, 0);
    store.teardown().await;
}

#[tokio::test]
async fn test_resent_request_does_not_duplicate_spans() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let body = trace_request(&sample()).encode_to_vec();
    for _ in 0..3 {
        let reply = post(&app, "/v1/traces", "application/x-protobuf", body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert_eq!(span_count(&app).await, 2);
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(jobs["jobs"][0]["span_count"], 2);
    store.teardown().await;
}

#[tokio::test]
async fn test_logs_endpoint_stores_records() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), LIMIT);
    let body = common::logs_json(&[(TRACE, "00000000000000a2", 20, 9, "hello")]);
    let reply = post(
        &app,
        "/v1/logs",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(get(&app, "/api/v1/stats").await.json()["logs"], 1);
    store.teardown().await;
}
