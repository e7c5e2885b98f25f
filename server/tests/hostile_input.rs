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
    test_malformed_grpc_calls_get_a_status_and_store_nothing,
    test_connect_calls_are_answered_as_the_same_grpc_calls,
    test_malformed_rest_requests_get_a_clear_4xx_and_change_nothing,
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
    let reply = post(&app, "/v1/traces", "application/x-protobuf", body.clone()).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let status =
        <jobtrace_rpc_status::Status as prost::Message>::decode(reply.body.as_slice()).unwrap();
    assert!(
        status.message.contains("100000 spans"),
        "{}",
        status.message
    );
    // The same over OTLP/gRPC, the message gzipped (as exporters send it): counted after
    // inflating, before decoding.
    let compressed = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&body).unwrap();
        encoder.finish().unwrap()
    };
    let mut framed = vec![1];
    framed.extend_from_slice(&u32::try_from(compressed.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&compressed);
    let request =
        axum::http::Request::post("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            .header("content-type", "application/grpc")
            .header("grpc-encoding", "gzip")
            .header("te", "trailers")
            .body(axum::body::Body::from(framed))
            .unwrap();
    let reply = common::send(&app, request).await;
    assert_eq!(reply.header("grpc-status"), Some("3"), "INVALID_ARGUMENT");
    assert!(
        reply.header("grpc-message").unwrap().contains("100000"),
        "{:?}",
        reply.header("grpc-message")
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

/// Every REST endpoint against a corpus of malformed requests (bad numbers, times, cursors,
/// enums, ids, invalid UTF-8, broken percent-encoding, 60 KB and deeply bracketed values, path
/// traversal): each answer is a 4xx whose body says what is wrong, or the 200 of a request whose
/// odd parameter does not apply to that endpoint; never a 5xx, never a hang; nothing changes.
async fn test_malformed_rest_requests_get_a_clear_4xx_and_change_nothing(store: SharedStore) {
    let app = router(store, 1 << 20);
    // A finished job (its root span is there), so the per-job endpoints have one to talk about
    // and its live stream ends.
    let seeded = post_json(
        &app,
        "/v1/traces",
        &trace_json(
            TRACE,
            "svc",
            &[
                ("00000000000000a1", None, "root", 0, 100, 1),
                (
                    "00000000000000a2",
                    Some("00000000000000a1"),
                    "child",
                    10,
                    20,
                    2,
                ),
            ],
        ),
    )
    .await;
    assert_eq!(seeded.status, StatusCode::OK);
    let before = get(&app, &format!("/api/v1/jobs/{TRACE}/spans"))
        .await
        .text();
    // Under http's 64 KiB URI limit (a longer URI never reaches the router: hyper answers 400).
    let long = "x".repeat(60_000);
    let bracketed = "%5B".repeat(10_000);
    let queries = [
        "limit=-1".to_owned(),
        "limit=0".to_owned(),
        "limit=99999999999999999999".to_owned(),
        "limit=ten".to_owned(),
        "cursor=%FF%FE%FD".to_owned(),
        "cursor=bm90IGEgY3Vyc29y".to_owned(),
        "cursor=".to_owned() + &long,
        "from=yesterday".to_owned(),
        "to=1e400".to_owned(),
        "from=-99999999999999999999".to_owned(),
        "status=sideways".to_owned(),
        "severity=loud".to_owned(),
        "attr=novalue".to_owned(),
        "attr==v".to_owned(),
        "span_id=xyz".to_owned(),
        "span_id=".to_owned() + &vec!["00000000000000a1"; 3_000].join(","),
        "task_id=not-a-uuid".to_owned(),
        "format=exe".to_owned(),
        "sort=random".to_owned(),
        "state=SLEEPING".to_owned(),
        "min_duration=-1".to_owned(),
        "max_duration=NaN".to_owned(),
        "range=forever".to_owned(),
        "errors=maybe".to_owned(),
        "direction=sideways".to_owned(),
        "theme=neon".to_owned(),
        "title=perhaps".to_owned(),
        "name=%C3%28".to_owned(),
        "name=%E0%80%AF".to_owned(),
        "name=%".to_owned(),
        "%ZZ=1".to_owned(),
        "name=".to_owned() + &long,
        "name=".to_owned() + &bracketed,
        "text=".to_owned() + &long,
        "search=".to_owned() + &long,
    ];
    let endpoints = [
        "/api/v1/jobs".to_owned(),
        format!("/api/v1/jobs/{TRACE}"),
        format!("/api/v1/jobs/{TRACE}/spans"),
        format!("/api/v1/jobs/{TRACE}/logs"),
        format!("/api/v1/jobs/{TRACE}/tasks"),
        format!("/api/v1/jobs/{TRACE}/graph"),
        format!("/api/v1/jobs/{TRACE}/events"),
        "/api/v1/spans".to_owned(),
        "/api/v1/logs".to_owned(),
        "/api/v1/stats".to_owned(),
    ];
    let paths = [
        "/api/v1/jobs/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/api/v1/jobs/%2e%2e/spans".to_owned(),
        "/api/v1/jobs/%C3%28/spans".to_owned(),
        format!("/api/v1/jobs/{}", "f".repeat(10_000)),
        format!("/api/v1/jobs/{}/logs", "0".repeat(31)),
        "/api/v1/jobs/not-a-job/graph".to_owned(),
        "/api/v1/jobs/not-a-job/events".to_owned(),
        "/api/v1/jobs/not-a-job/tasks".to_owned(),
    ];
    let requests = endpoints
        .iter()
        .flat_map(|endpoint| {
            queries
                .iter()
                .map(move |query| format!("{endpoint}?{query}"))
        })
        .chain(paths);
    let mut refused_uris = Vec::new();
    let mut skipped = Vec::new();
    for uri in requests {
        if uri.parse::<axum::http::Uri>().is_err() {
            // Not a URI at all: hyper answers 400 before the router sees it.
            skipped.push(uri);
            continue;
        }
        let reply = tokio::time::timeout(std::time::Duration::from_secs(10), get(&app, &uri))
            .await
            .unwrap_or_else(|_| panic!("{uri:.120} did not answer within 10 s"));
        let text = reply.text();
        assert!(
            !reply.status.is_server_error(),
            "{uri:.120}: {} {text:.300}",
            reply.status
        );
        if reply.status.is_client_error() {
            refused_uris.push(uri.clone());
            assert!(
                text.len() > 8 && text.len() < 4_096,
                "{uri:.120}: {} says {text:.300}",
                reply.status
            );
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{uri:.120}");
        }
    }
    assert!(
        skipped
            .iter()
            .all(|uri| uri.contains("name=%&") || uri.ends_with("name=%") || uri.contains("%ZZ")),
        "only the broken percent-encodings are not URIs: {:?}",
        skipped
            .iter()
            .map(|u| &u[..u.len().min(80)])
            .collect::<Vec<_>>()
    );
    // Parameters an endpoint does not read are ignored; those it reads are refused when bad.
    for uri in [
        "/api/v1/jobs?limit=-1".to_owned(),
        "/api/v1/jobs?state=SLEEPING".to_owned(),
        "/api/v1/jobs?min_duration=-1".to_owned(),
        "/api/v1/spans?status=sideways".to_owned(),
        "/api/v1/spans?cursor=bm90IGEgY3Vyc29y".to_owned(),
        "/api/v1/logs?severity=loud".to_owned(),
        format!("/api/v1/jobs?name={long}"),
        format!("/api/v1/logs?text={long}"),
        format!("/api/v1/jobs/{TRACE}/spans?span_id=xyz"),
        format!("/api/v1/jobs/{TRACE}/spans?format=exe"),
        format!("/api/v1/jobs/{TRACE}/graph?direction=sideways"),
    ] {
        assert!(refused_uris.contains(&uri), "{uri} was not refused");
    }
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1));
    let after = get(&app, &format!("/api/v1/jobs/{TRACE}/spans"))
        .await
        .text();
    assert_eq!(after, before, "the job's spans are as they were");
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

/// Every RPC jobtrace routes, by service.
const RPCS: &[(&str, &[&str])] = &[
    (
        "JobService",
        &[
            "SubmitJob",
            "GetJob",
            "ListJobTasks",
            "RetryJob",
            "CancelJob",
            "VisualizeJob",
            "QueryJobs",
            "GetJobPrototype",
            "CloneJob",
            "GetJobStateCounts",
            "GetTaskQueueStats",
        ],
    ),
    (
        "TaskService",
        &["NextTask", "TaskFailed", "ExtendTaskLease"],
    ),
    (
        "WorkflowsService",
        &[
            "CreateCluster",
            "GetCluster",
            "UpdateCluster",
            "DeleteCluster",
            "ListClusters",
            "CreateWorkflow",
            "ListWorkflows",
        ],
    ),
    (
        "TelemetryQueryService",
        &[
            "QueryJobLogs",
            "QueryLogsInInterval",
            "GetLogMessageCounts",
            "QueryJobSpans",
        ],
    ),
];

/// A gRPC call through the router: the `grpc-status` and `grpc-message` it ends with (in the
/// headers of a trailers-only answer, else in the trailers).
async fn grpc_call(app: &axum::Router, path: &str, body: Vec<u8>) -> (String, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::post(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{path}: gRPC answers 200"
    );
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        headers
            .get(name)
            .or_else(|| trailers.get(name))
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (field("grpc-status"), field("grpc-message"))
}

/// Malformed, truncated, oversized and wrong-typed bodies to every RPC: each ends with a
/// gRPC status and a message (never a panic or a hung call), and nothing is stored.
async fn test_malformed_grpc_calls_get_a_status_and_store_nothing(store: SharedStore) {
    let app = router(store.clone(), 1 << 20);
    let frame = |flag: u8, declared: u32, payload: &[u8]| {
        let mut body = vec![flag];
        body.extend_from_slice(&declared.to_be_bytes());
        body.extend_from_slice(payload);
        body
    };
    // A field 1 of wire type 2 claiming 2^35 bytes; field 1 holding bytes that are not UTF-8.
    let garbage: &[u8] = &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00];
    let not_utf8: &[u8] = &[0x0a, 0x02, 0xc3, 0x28];
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("a truncated frame header", vec![0, 0, 0]),
        ("a frame longer than its body", frame(0, 1_000, &[0x0a])),
        ("a frame declaring 4 GiB", frame(0, u32::MAX, &[0; 16])),
        ("garbage protobuf", frame(0, garbage.len() as u32, garbage)),
        (
            "a compressed frame with no encoding",
            frame(1, 2, &[0x1f, 0x8b]),
        ),
    ];
    let before = store.stats().await.unwrap();
    for (service, methods) in RPCS {
        for method in *methods {
            let path = format!("/workflows.v1.{service}/{method}");
            for (what, body) in &bodies {
                let (status, message) = grpc_call(&app, &path, body.clone()).await;
                assert!(
                    !status.is_empty() && status != "0",
                    "{path} with {what}: grpc-status {status:?}"
                );
                assert!(!message.is_empty(), "{path} with {what}: no message");
            }
            // A well-formed empty message, and one whose field 1 is not UTF-8 (malformed where
            // field 1 is a string, an unknown or bytes field elsewhere): answered, with a
            // result or a refusal that says why.
            let answered = [
                ("an empty message", frame(0, 0, &[])),
                ("bytes that are not UTF-8", frame(0, 4, not_utf8)),
            ];
            for (what, body) in answered {
                let (status, message) = grpc_call(&app, &path, body).await;
                assert!(!status.is_empty(), "{path} with {what}: no status");
                assert!(
                    status == "0" || !message.is_empty(),
                    "{path} with {what}: {status} without a message"
                );
            }
        }
    }
    let after = store.stats().await.unwrap();
    assert_eq!(after.jobs, before.jobs, "nothing was submitted");
    assert!(
        store.clusters().await.unwrap().len() <= 1,
        "no cluster was made"
    );
}

/// Connect's names for gRPC status codes 0 to 16, as connectrpc.com/docs/protocol lists them.
const CONNECT_CODES: [&str; 17] = [
    "ok",
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// Every RPC asked over Connect (`Client(transport="http1")`: unframed protobuf, gzipped or
/// not) answers what the same gRPC call answers: the message with `application/proto`, or
/// the same status as Connect's JSON error with its message.
async fn test_connect_calls_are_answered_as_the_same_grpc_calls(store: SharedStore) {
    use std::io::Write;
    let app = router(store.clone(), 1 << 20);
    let garbage: &[u8] = &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00];
    let gzip = |body: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body).unwrap();
        encoder.finish().unwrap()
    };
    for (service, methods) in RPCS {
        for method in *methods {
            let path = format!("/workflows.v1.{service}/{method}");
            for message in [&[][..], garbage] {
                let mut framed = vec![0];
                framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
                framed.extend_from_slice(message);
                let (status, grpc_message) = grpc_call(&app, &path, framed).await;
                for encoding in ["identity", "gzip"] {
                    let body = if encoding == "gzip" {
                        gzip(message)
                    } else {
                        message.to_vec()
                    };
                    let request = axum::http::Request::post(&path)
                        .header("content-type", "application/proto")
                        .header("connect-protocol-version", "1")
                        .header("content-encoding", encoding)
                        .body(axum::body::Body::from(body))
                        .unwrap();
                    let reply = common::send(&app, request).await;
                    let what = format!("{path}, {} bytes, {encoding}", message.len());
                    if status == "0" {
                        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
                        assert_eq!(reply.content_type, "application/proto", "{what}");
                        continue;
                    }
                    assert_eq!(reply.content_type, "application/json", "{what}");
                    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                    let code: usize = status.parse().unwrap();
                    assert_eq!(error["code"], CONNECT_CODES[code], "{what}: {error}");
                    // grpc-message is percent-encoded on the wire; Connect's is plain text.
                    let plain = error["message"].as_str().unwrap();
                    assert!(!plain.is_empty(), "{what}: no message");
                    assert!(
                        grpc_message == plain || grpc_message.contains('%'),
                        "{what}: {grpc_message:?} vs {plain:?}"
                    );
                    assert!(reply.status.is_client_error() || reply.status.is_server_error());
                }
            }
        }
    }
}
