//! Hostile input through the router on both backends: what is too big is refused before it is
//! decoded, text PostgreSQL refuses is cleaned instead of losing the batch, parameters with NUL
//! get a clear 400, and nothing of a refused request is stored.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use axum::http::StatusCode;
use jobtrace::store::SharedStore;

use common::{get, post, post_json, router, trace_json};

const TRACE: &str = "6c8efff798038103d269b633813fc60c";

both_backends!(
    test_nul_in_names_and_attributes_is_cleaned_not_a_lost_batch,
    test_too_many_spans_are_refused_before_decoding,
    test_nul_in_query_parameters_is_a_clear_400,
    test_too_many_attribute_filters_are_a_clear_400,
);

async fn test_nul_in_names_and_attributes_is_cleaned_not_a_lost_batch(store: SharedStore) {
    let app = router(store, 1 << 20);
    let mut spans = trace_json(
        TRACE,
        "svc\u{0}",
        &[
            ("00000000000000a1", None, "job/nul\u{0}job", 0, 100, 0),
            (
                "00000000000000a2",
                Some("00000000000000a1"),
                "good",
                10,
                20,
                0,
            ),
        ],
    );
    spans["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] =
        serde_json::json!([{"key": "k\u{0}", "value": {"stringValue": "v\u{0}"}}]);
    let reply = post_json(&app, "/v1/traces", &spans).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let stored = get(&app, &format!("/api/v1/jobs/{TRACE}/spans"))
        .await
        .json();
    let names: Vec<&str> = stored["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"good"),
        "the good span of the batch is stored: {names:?}"
    );
    assert!(names.contains(&"job/nul\u{FFFD}job"), "{names:?}");
    let job = get(&app, &format!("/api/v1/jobs/{TRACE}")).await.json();
    assert_eq!(job["name"], "nul\u{FFFD}job");
}

async fn test_too_many_spans_are_refused_before_decoding(store: SharedStore) {
    let app = router(store, 4 << 20);
    // 100,001 spans that are empty but for their start time, well under the body limit.
    let span = [0x12_u8, 0x09, 0x39, 1, 0, 0, 0, 0, 0, 0, 0];
    let scope: Vec<u8> = span
        .iter()
        .copied()
        .cycle()
        .take(span.len() * 100_001)
        .collect();
    let mut resource = vec![0x12];
    prost::encoding::encode_varint(scope.len() as u64, &mut resource);
    resource.extend_from_slice(&scope);
    let mut body = vec![0x0a];
    prost::encoding::encode_varint(resource.len() as u64, &mut body);
    body.extend_from_slice(&resource);
    assert!(body.len() < 4 << 20);
    let reply = post(&app, "/v1/traces", "application/x-protobuf", body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let status =
        <jobtrace_rpc_status::Status as prost::Message>::decode(reply.body.as_slice()).unwrap();
    assert!(
        status.message.contains("100000 spans"),
        "{}",
        status.message
    );
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "nothing stored");
}

async fn test_nul_in_query_parameters_is_a_clear_400(store: SharedStore) {
    let app = router(store, 1 << 20);
    for path in [
        "/api/v1/spans?attr=k%00=v",
        "/api/v1/spans?name=a%00b",
        "/api/v1/jobs?name=%00",
        "/?name=%00",
    ] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(reply.text().contains("NUL"), "{path}: {}", reply.text());
    }
    assert_eq!(
        get(&app, "/api/v1/spans?attr=k=v").await.status,
        StatusCode::OK
    );
}

async fn test_too_many_attribute_filters_are_a_clear_400(store: SharedStore) {
    let app = router(store, 1 << 20);
    let filters = |count: usize| {
        (0..count)
            .map(|i| format!("attr=k{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    };
    // 3,000 terms were a 500 (SQLite's expression depth); the cap answers first.
    let reply = get(&app, &format!("/api/v1/spans?{}", filters(3000))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().contains("at most 32 attr filters"),
        "{}",
        reply.text()
    );
    let reply = get(&app, &format!("/api/v1/spans?{}", filters(32))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

mod jobtrace_rpc_status {
    /// google.rpc.Status, as OTLP/HTTP answers errors.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
    }
}

/// Serves the router on a real socket with 1 s header and body read timeouts.
async fn serve_with_short_timeouts(
    store: SharedStore,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let config = jobtrace::config::ServeConfig {
        header_read_timeout_secs: 1,
        body_read_timeout_secs: 1,
        ..common::serve_config(&[])
    };
    let app = common::router_with_config(store, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(jobtrace::serve::serve(
        listener,
        app,
        std::time::Duration::from_secs(1),
        shutdown,
    ));
    (addr, stop)
}

/// Writes `request` and reads until the server closes the connection (at most 10 s): what it
/// answered, and how long it took.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server kept the connection open for 10 s");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn test_half_sent_headers_are_cut_off_and_stalled_bodies_get_408() {
    let store = common::sqlite_store().await;
    let (addr, stop) = serve_with_short_timeouts(store.store.clone()).await;

    // Slowloris: the request line and one header, never the blank line that ends them.
    let (_, took) = exchange(addr, b"POST /v1/traces HTTP/1.1\r\nHost: jobtrace\r\n").await;
    assert!(
        took < std::time::Duration::from_secs(5),
        "cut off after {took:?}"
    );

    // A body announced as 1,000 bytes of which 10 arrive.
    let stalled =
        b"POST /v1/traces HTTP/1.1\r\nHost: jobtrace\r\nContent-Type: application/json\r\n\
        Content-Length: 1000\r\n\r\n{\"resource";
    let (answer, took) = exchange(addr, stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("not received within 1 s"), "{answer}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "answered after {took:?}"
    );

    // Others are served meanwhile and after, and nothing of the stalled request was stored.
    let healthy = b"GET /api/v1/jobs HTTP/1.1\r\nHost: jobtrace\r\nConnection: close\r\n\r\n";
    let (answer, _) = exchange(addr, healthy).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""jobs":[]"#), "{answer}");
    let _ = stop.send(());
    store.teardown().await;
}
