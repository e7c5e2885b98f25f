//! The REST API and the server-rendered pages, through the router.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use common::{get, logs_json, post, post_json, router, sqlite_store, trace_json};

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

async fn seeded() -> (common::TestStore, axum::Router) {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    let spans = trace_json(
        TRACE,
        "runner-a",
        &[
            ("00000000000000a1", None, "job/process-scene", 0, 100, 0),
            (
                "00000000000000a2",
                Some("00000000000000a1"),
                "task/ProcessScene",
                10,
                90,
                2,
            ),
        ],
    );
    let reply = post_json(&app, "/v1/traces", &spans).await;
    assert_eq!(reply.status, StatusCode::OK);
    let logs = logs_json(&[(
        TRACE,
        "00000000000000a2",
        20,
        9,
        "<img src=x onerror=alert(1)>",
    )]);
    let reply = post_json(&app, "/v1/logs", &logs).await;
    assert_eq!(reply.status, StatusCode::OK);
    (store, app)
}

#[tokio::test]
async fn test_job_list_and_job_by_id_or_trace() {
    let (store, app) = seeded().await;
    let list = get(&app, "/api/v1/jobs").await.json();
    let job = &list["jobs"][0];
    assert_eq!(job["name"], "process-scene");
    assert_eq!(job["state"], "FAILED", "its only task failed");
    assert_eq!(job["trace_id"], TRACE);
    assert_eq!(
        (job["span_count"].as_i64(), job["error_count"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(job["start_time"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(list["next_cursor"], serde_json::Value::Null);
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &format!("/api/v1/jobs/{id}")).await.json()["id"],
        id
    );
    assert_eq!(
        get(&app, &format!("/api/v1/jobs/{TRACE}")).await.json()["id"],
        id
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_events_of_a_finished_job_are_the_job_then_done() {
    let (store, app) = seeded().await;
    let reply = get(&app, &format!("/api/v1/jobs/{TRACE}/events")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.content_type.starts_with("text/event-stream"));
    let text = reply.text();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(events, ["job", "done"], "{text}");
    assert!(text.contains(r#""state":"FAILED""#), "{text}");
    let missing = get(&app, &format!("/api/v1/jobs/{}/events", "ab".repeat(16))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    store.teardown().await;
}

#[tokio::test]
async fn test_live_streams_beyond_the_cap_get_503_until_one_closes() {
    use tower::ServiceExt;
    let (store, _) = seeded().await;
    let config = jobtrace::config::ServeConfig {
        max_live_streams: 2,
        ..common::serve_config(&[])
    };
    let app = common::router_with_config(store.store.clone(), &config);
    let open = |app: axum::Router| async move {
        let request = axum::http::Request::get(format!("/api/v1/jobs/{TRACE}/events"))
            .body(axum::body::Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap()
    };
    // Two streams held open (their bodies not read), then a third is refused.
    let first = open(app.clone()).await;
    let second = open(app.clone()).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let refused = get(&app, &format!("/api/v1/jobs/{TRACE}/events")).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("too many live streams"),
        "a JSON error that says why"
    );
    assert_eq!(
        get(&app, "/healthz").await.status,
        StatusCode::OK,
        "the rest still answers"
    );
    // A client that goes away gives its place back.
    drop(first);
    let again = get(&app, &format!("/api/v1/jobs/{TRACE}/events")).await;
    assert_eq!(again.status, StatusCode::OK);
    drop(second);
    store.teardown().await;
}

#[tokio::test]
async fn test_spans_use_the_tilebox_client_columns() {
    let (store, app) = seeded().await;
    let spans = get(&app, &format!("/api/v1/jobs/{TRACE}/spans"))
        .await
        .json();
    let spans = spans["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    let task = &spans[1];
    for column in [
        "start_time",
        "end_time",
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "status_code",
        "status_message",
        "attributes",
        "runner_attributes",
        "events",
        "duration",
    ] {
        assert!(task.get(column).is_some(), "missing {column}");
    }
    assert_eq!(root["parent_span_id"], serde_json::Value::Null);
    assert_eq!(task["parent_span_id"], root["span_id"]);
    assert_eq!(task["status_code"], "STATUS_CODE_ERROR");
    assert_eq!(task["duration"], 0.08);
    assert_eq!(task["runner_attributes"]["service.name"], "runner-a");
    store.teardown().await;
}

#[tokio::test]
async fn test_logs_and_stats() {
    let (store, app) = seeded().await;
    let logs = get(&app, &format!("/api/v1/jobs/{TRACE}/logs"))
        .await
        .json();
    let log = &logs["logs"][0];
    assert_eq!(log["body"], "<img src=x onerror=alert(1)>");
    assert_eq!(log["span_id"], "00000000000000a2");
    assert_eq!(log["severity_text"], "INFO");
    let stats = get(&app, "/api/v1/stats").await.json();
    assert_eq!(stats, serde_json::json!({"jobs": 1, "spans": 2, "logs": 1}));
    store.teardown().await;
}

#[tokio::test]
async fn test_unknown_job_and_bad_input_are_clear_errors() {
    let (store, app) = seeded().await;
    let missing = get(&app, &format!("/api/v1/jobs/{}", "ab".repeat(16))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
    assert_eq!(
        get(&app, "/api/v1/jobs/not-an-id/spans").await.status,
        StatusCode::NOT_FOUND
    );
    let bad_cursor = get(&app, "/api/v1/jobs?cursor=garbage").await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_cursor.json()["error"], "invalid cursor");
    assert_eq!(
        get(&app, "/api/v1/jobs?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_pages_render_on_the_server() {
    let (store, app) = seeded().await;
    let list = get(&app, "/").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text().contains("process-scene"),
        "job list shows the job"
    );
    let page = get(&app, &format!("/jobs/{TRACE}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("task/ProcessScene"));
    assert!(
        !html.contains("onerror=alert(1)"),
        "log bodies are not part of the page's skeleton"
    );
    // With the span selected in the link, its details and log lines are rendered too.
    let page = get(&app, &format!("/jobs/{TRACE}?span=00000000000000a2")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("S2A_001"), "the selected span's attributes");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "log body escaped"
    );
    assert!(
        !html.contains("<img src=x"),
        "log body never becomes markup"
    );
    let missing = get(&app, &format!("/jobs/{}", "ab".repeat(16))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("Not found"));
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    store.teardown().await;
}

/// Building a router lists the app's routes. That used to switch resource loading off for the
/// whole process while it ran, and a page whose data was first requested meanwhile never
/// finished rendering (this file's tests hung 2 runs in 13, each building its own router).
/// Pages rendered while other routers are being built must all finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_pages_render_while_other_routers_are_built() {
    let (store, app) = seeded().await;
    let stop = Arc::new(AtomicBool::new(false));
    let builder = {
        let (shared, stop) = (store.store.clone(), Arc::clone(&stop));
        let runtime = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let _entered = runtime.enter();
            let mut built = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                drop(router(shared.clone(), 1 << 20));
                built += 1;
            }
            built
        })
    };
    for round in 0..200 {
        let page = tokio::time::timeout(
            Duration::from_secs(20),
            get(&app, &format!("/jobs/{TRACE}")),
        )
        .await
        .unwrap_or_else(|_| {
            stop.store(true, Ordering::Relaxed);
            panic!("render {round} never finished while routers were being built")
        });
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("task/ProcessScene"));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(builder.join().unwrap() > 0, "routers were built meanwhile");
    store.teardown().await;
}

#[tokio::test]
async fn test_hostile_job_name_stays_text_in_the_page_title() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    let hostile = "</title><script>alert(1)</script><title>";
    let spans = trace_json(
        TRACE,
        "runner-a",
        &[(
            "00000000000000a1",
            None,
            &format!("job/{hostile}"),
            0,
            100,
            0,
        )],
    );
    let reply = post_json(&app, "/v1/traces", &spans).await;
    assert_eq!(reply.status, StatusCode::OK);
    for path in [format!("/jobs/{TRACE}"), "/".to_owned()] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let html = page.text();
        assert!(
            !html.contains("<script>alert(1)"),
            "{path}: the job name became markup"
        );
        let policy = page.header("content-security-policy").unwrap_or_default();
        let scripts = policy
            .split(';')
            .find(|directive| directive.trim().starts_with("script-src"))
            .unwrap_or_default();
        assert!(
            scripts.contains("'nonce-") && !scripts.contains("unsafe-inline"),
            "{path}: a page runs only its own scripts: {policy}"
        );
        let nonce = scripts
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        assert!(
            html.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: the page's own scripts carry the nonce"
        );
    }
    let title = get(&app, &format!("/jobs/{TRACE}")).await.text();
    assert!(
        title.contains("<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;title&gt; · jobtrace</title>"),
        "the title shows the name as text"
    );
    let api = get(&app, "/api/v1/jobs").await;
    assert_eq!(
        api.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    store.teardown().await;
}

/// Seeds one job of `n` spans (1 ms apart; every third failed, every fifth named `special`) and
/// logs (one per span, every other a warning).
async fn seeded_many(n: u64) -> (common::TestStore, axum::Router, Vec<String>) {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    let ids: Vec<String> = (1..=n).map(|i| format!("{i:016x}")).collect();
    let names: Vec<String> = (1..=n)
        .map(|i| {
            if i % 5 == 0 {
                format!("special-{i}")
            } else {
                format!("step-{i}")
            }
        })
        .collect();
    let spans: Vec<common::SpanSeed<'_>> = ids
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (id, name))| {
            (
                id.as_str(),
                None,
                name.as_str(),
                i as u64,
                i as u64 + 1,
                if i % 3 == 0 { 2 } else { 1 },
            )
        })
        .collect();
    let json = trace_json(TRACE, "svc", &spans);
    assert_eq!(
        post(
            &app,
            "/v1/traces",
            "application/json",
            serde_json::to_vec(&json).unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );
    let logs: Vec<(&str, &str, u64, i32, &str)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                TRACE,
                id.as_str(),
                i as u64,
                if i % 2 == 0 { 13 } else { 9 },
                if i % 2 == 0 {
                    "disk almost full"
                } else {
                    "tile stored"
                },
            )
        })
        .collect();
    let json = logs_json(&logs);
    assert_eq!(
        post(
            &app,
            "/v1/logs",
            "application/json",
            serde_json::to_vec(&json).unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );
    (store, app, ids)
}

async fn all_pages(app: &axum::Router, path: &str, key: &str) -> (Vec<serde_json::Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let uri = match &cursor {
            Some(c) => format!("{path}{sep}cursor={c}"),
            None => path.to_owned(),
        };
        let reply = get(app, &uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        let json = reply.json();
        pages += 1;
        items.extend(json[key].as_array().unwrap().iter().cloned());
        match json["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (items, pages)
}

/// The largest page (10,000) of a job with one span more says that more follow: the statement
/// capped the extra row it asks for at 10,000, so the cursor was null and a client stopped one
/// span short.
#[tokio::test]
async fn test_the_largest_page_of_a_larger_job_has_a_next_cursor() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 64 << 20);
    let ids: Vec<String> = (1..=10_001_u64).map(|i| format!("{i:016x}")).collect();
    let spans: Vec<common::SpanSeed<'_>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), None, "s", i as u64, i as u64 + 1, 1))
        .collect();
    let stored = common::post_json(&app, "/v1/traces", &trace_json(TRACE, "svc", &spans)).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text());
    let (all, pages) = all_pages(
        &app,
        &format!("/api/v1/jobs/{TRACE}/spans?limit=10000"),
        "spans",
    )
    .await;
    assert_eq!((all.len(), pages), (10_001, 2));
    store.teardown().await;
}

#[tokio::test]
async fn test_span_pages_cover_everything_once_and_stop_exactly() {
    let (store, app, ids) = seeded_many(25).await;
    let (spans, pages) = all_pages(
        &app,
        &format!("/api/v1/jobs/{TRACE}/spans?limit=10"),
        "spans",
    )
    .await;
    assert_eq!(pages, 3);
    let got: Vec<&str> = spans
        .iter()
        .map(|s| s["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "in start order, no gaps or repeats"
    );
    // Exactly one page: no next cursor.
    let (_, pages) = all_pages(
        &app,
        &format!("/api/v1/jobs/{TRACE}/spans?limit=25"),
        "spans",
    )
    .await;
    assert_eq!(pages, 1);
    // Nothing matches: an empty page without a cursor.
    let empty = get(
        &app,
        &format!("/api/v1/jobs/{TRACE}/spans?name=nothing-like-this"),
    )
    .await
    .json();
    assert_eq!(
        (
            empty["spans"].as_array().unwrap().len(),
            &empty["next_cursor"]
        ),
        (0, &serde_json::Value::Null)
    );
    // A cursor past the end: empty, no cursor.
    let past = super_cursor(i64::MAX, "ffffffffffffffff");
    let beyond = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?cursor={past}"))
        .await
        .json();
    assert_eq!(beyond["spans"].as_array().unwrap().len(), 0);
    assert_eq!(beyond["next_cursor"], serde_json::Value::Null);
    for bad in ["garbage", "bm90LWEtY3Vyc29y"] {
        let reply = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?cursor={bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.json()["error"], "invalid cursor");
    }
    store.teardown().await;
}

fn super_cursor(time: i64, tie: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{time}:{tie}"))
}

#[tokio::test]
async fn test_span_and_log_filters() {
    let (store, app, _) = seeded_many(30).await;
    let count = |json: serde_json::Value, key: &str| json[key].as_array().unwrap().len();
    let special = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?name=SPECIAL"))
        .await
        .json();
    assert_eq!(count(special.clone(), "spans"), 6);
    assert!(
        special["spans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"].as_str().unwrap().starts_with("special"))
    );
    let errors = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?status=error"))
        .await
        .json();
    assert_eq!(count(errors.clone(), "spans"), 10);
    assert!(
        errors["spans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status_code"] == "STATUS_CODE_ERROR")
    );
    // Spans start at base + i ms: a window of [base+10ms, base+20ms) holds ten.
    let base: i64 = 1_700_000_000_000_000_000;
    let window = get(
        &app,
        &format!(
            "/api/v1/jobs/{TRACE}/spans?from={}&to={}",
            base + 10_000_000,
            base + 20_000_000
        ),
    )
    .await
    .json();
    assert_eq!(count(window, "spans"), 10);
    let rfc = get(
        &app,
        &format!(
            "/api/v1/jobs/{TRACE}/spans?from=2023-11-14T22:13:20.010Z&to=2023-11-14T22:13:20.020Z"
        ),
    )
    .await
    .json();
    assert_eq!(count(rfc, "spans"), 10, "RFC 3339 bounds too");
    let warnings = get(&app, &format!("/api/v1/jobs/{TRACE}/logs?severity=warn"))
        .await
        .json();
    assert_eq!(count(warnings.clone(), "logs"), 15);
    assert!(
        warnings["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["severity_number"] == 13)
    );
    let text = get(&app, &format!("/api/v1/jobs/{TRACE}/logs?text=STORED"))
        .await
        .json();
    assert_eq!(count(text, "logs"), 15);
    for bad in [
        "status=maybe",
        "from=yesterday",
        "task_id=nope",
        "limit=0",
        "format=xml",
    ] {
        let reply = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?{bad}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text()
        );
    }
    assert_eq!(
        get(&app, &format!("/api/v1/jobs/{TRACE}/logs?severity=loud"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_exports_have_their_formats_and_every_row() {
    let (store, app, _) = seeded_many(12).await;
    let csv = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?format=csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    let text = csv.text();
    assert!(text.starts_with("start_time,end_time,trace_id,span_id,parent_span_id,name,status_code,status_message,attributes,runner_attributes,events,duration"));
    assert_eq!(text.lines().count(), 13, "header and twelve rows");
    let parquet = get(&app, &format!("/api/v1/jobs/{TRACE}/spans?format=parquet")).await;
    assert_eq!(parquet.content_type, "application/vnd.apache.parquet");
    assert_eq!(&parquet.body[..4], b"PAR1");
    let arrow = get(&app, &format!("/api/v1/jobs/{TRACE}/logs?format=arrow")).await;
    assert_eq!(arrow.content_type, "application/vnd.apache.arrow.file");
    assert_eq!(&arrow.body[..6], b"ARROW1");
    let logs_csv = get(
        &app,
        &format!("/api/v1/jobs/{TRACE}/logs?format=csv&severity=info"),
    )
    .await
    .text();
    assert_eq!(logs_csv.lines().count(), 7, "filters apply to exports");
    store.teardown().await;
}

#[tokio::test]
async fn test_exports_stream_past_one_page_and_are_capped() {
    let (store, _, _) = seeded_many(2_500).await;
    let config = jobtrace::config::ServeConfig {
        max_concurrent_exports: 1,
        ..common::serve_config(&[])
    };
    let app = common::router_with_config(store.store.clone(), &config);
    let spans = |format: &str| format!("/api/v1/jobs/{TRACE}/spans?format={format}");

    // Streamed a page (at most 1,000 rows) at a time, the files hold every row once.
    let csv = get(&app, &spans("csv")).await.text();
    let ids: std::collections::HashSet<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(3).unwrap())
        .collect();
    assert_eq!((csv.lines().count(), ids.len()), (2_501, 2_500));
    let parquet = get(&app, &spans("parquet")).await.body;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(parquet),
    )
    .unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2_500);
    assert!(
        reader.metadata().num_row_groups() >= 3,
        "written a page (at most 1,000 rows) at a time"
    );
    let arrow = get(&app, &spans("arrow")).await.body;
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(arrow), None).unwrap();
    // Compressed on the way (the stream was polled past its end there, a panic).
    let gzipped = common::send(
        &app,
        axum::http::Request::get(spans("csv"))
            .header("accept-encoding", "gzip")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(gzipped.body.as_slice()),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, csv, "the same file, gzipped");
    let rows: usize = reader.map(|batch| batch.unwrap().num_rows()).sum();
    assert_eq!(rows, 2_500);

    // One export at a time here: a second gets 503 while the first is held open unread.
    let held = {
        use tower::ServiceExt;
        let request = axum::http::Request::get(spans("csv"))
            .body(axum::body::Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap()
    };
    assert_eq!(held.status(), StatusCode::OK);
    let refused = get(&app, &spans("csv")).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        refused.text().contains("too many exports"),
        "{}",
        refused.text()
    );
    // Its client going away ends the export and frees the place.
    drop(held);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = get(&app, &spans("csv")).await.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
    store.teardown().await;
}

#[tokio::test]
async fn test_job_list_filters_through_the_api() {
    let (store, app) = seeded().await;
    let failed = get(&app, "/api/v1/jobs?state=failed&counts=yes")
        .await
        .json();
    assert_eq!(failed["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(failed["state_counts"]["FAILED"], 1);
    let none = get(&app, "/api/v1/jobs?state=completed").await.json();
    assert_eq!(none["jobs"].as_array().unwrap().len(), 0);
    let by_service = get(&app, "/api/v1/jobs?service=runner-a&sort=longest")
        .await
        .json();
    assert_eq!(by_service["jobs"][0]["name"], "process-scene");
    for bad in [
        "state=sleeping",
        "range=2w",
        "sort=random",
        "min_duration=-3",
        "errors=maybe",
    ] {
        let reply = get(&app, &format!("/api/v1/jobs?{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!reply.json()["error"].as_str().unwrap().is_empty());
    }
    let page = get(&app, "/?state=FAILED").await;
    assert!(
        page.text().contains("process-scene"),
        "the server-rendered list applies URL filters"
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_queries_across_jobs_by_service_attribute_and_time() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    for (trace, service, scene) in [
        ("000000000000000000000000000000a1", "scanner", "S2A_001"),
        ("000000000000000000000000000000a2", "scanner", "S2A_002"),
        ("000000000000000000000000000000a3", "ingester", "S2A_001"),
    ] {
        let mut json = trace_json(
            trace,
            service,
            &[("00000000000000b1", None, "job/scan", 0, 10, 1)],
        );
        json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = serde_json::json!([
            {"key": "scene_id", "value": {"stringValue": scene}},
            {"key": "retries", "value": {"intValue": "2"}},
            {"key": "dry_run", "value": {"boolValue": true}}
        ]);
        post(
            &app,
            "/v1/traces",
            "application/json",
            serde_json::to_vec(&json).unwrap(),
        )
        .await;
        let logs = logs_json(&[(
            trace,
            "00000000000000b1",
            5,
            9,
            &format!("{service} says hi"),
        )]);
        post(
            &app,
            "/v1/logs",
            "application/json",
            serde_json::to_vec(&logs).unwrap(),
        )
        .await;
    }
    let spans = |q: &str| {
        let app = app.clone();
        let uri = format!("/api/v1/spans?{q}");
        async move {
            let reply = get(&app, &uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
            reply.json()["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["trace_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(spans("").await.len(), 3);
    assert_eq!(spans("service=scanner").await.len(), 2);
    assert_eq!(spans("attr=scene_id=S2A_001").await.len(), 2);
    assert_eq!(
        spans("attr=scene_id=S2A_001&service=ingester").await,
        vec!["000000000000000000000000000000a3"]
    );
    assert_eq!(
        spans("attr=retries=2&attr=dry_run=true").await.len(),
        3,
        "numbers and booleans compare as text"
    );
    assert_eq!(spans("attr=retries=3").await.len(), 0);
    assert_eq!(spans("status=error").await.len(), 0);
    assert_eq!(
        get(&app, "/api/v1/spans?attr=novalue").await.status,
        StatusCode::BAD_REQUEST
    );
    // logs_json's records come from service "svc".
    assert_eq!(
        get(&app, "/api/v1/logs?service=ingester").await.json()["logs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let logs = get(&app, "/api/v1/logs?service=svc&text=INGESTER")
        .await
        .json();
    let logs = logs["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["body"], "ingester says hi");
    assert_eq!(logs[0]["job_name"], "scan", "logs carry their job");
    let csv = get(&app, "/api/v1/spans?format=csv&service=scanner")
        .await
        .text();
    assert_eq!(csv.lines().count(), 3);
    let openapi = get(&app, "/api/v1/openapi.json").await.json();
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}/spans",
        "/api/v1/jobs/{id}/events",
        "/api/v1/jobs/{id}/graph",
        "/api/v1/spans",
        "/api/v1/logs",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} documented");
    }
    store.teardown().await;
}

/// The value of one series in a `/metrics` scrape (0 when absent).
fn series(scrape: &str, name_and_labels: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// `/metrics` counts what happened: spans stored, a request refused and why, requests timed by
/// the route they matched (not by the path a client made up). The counters are per process and
/// other tests run beside this one, so it compares before and after.
#[tokio::test]
async fn test_metrics_count_what_happened() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    let before = get(&app, "/metrics").await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        before.content_type
    );
    let before = before.text();
    let spans = trace_json(
        "7c8efff798038103d269b633813fc60c",
        "metrics-svc",
        &[
            ("00000000000000b1", None, "job/metrics", 0, 100, 0),
            (
                "00000000000000b2",
                Some("00000000000000b1"),
                "step",
                10,
                20,
                0,
            ),
        ],
    );
    assert_eq!(
        post_json(&app, "/v1/traces", &spans).await.status,
        StatusCode::OK
    );
    let garbage = post(&app, "/v1/traces", "application/x-protobuf", vec![0xff; 8]).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&app, "/api/v1/jobs?limit=5").await.status,
        StatusCode::OK
    );
    let made_up = get(&app, "/api/v1/jobs/no-such-job-made-up-by-a-client").await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND);
    // A method a client made up, over gRPC and over Connect: answered UNIMPLEMENTED, not a label.
    for content_type in ["application/grpc", "application/proto"] {
        let request = axum::http::Request::post("/workflows.v1.TaskService/MadeUpMethod")
            .header("content-type", content_type)
            .body(axum::body::Body::from(vec![0, 0, 0, 0, 0]))
            .unwrap();
        common::send(&app, request).await;
    }
    let after = get(&app, "/metrics").await.text();
    assert!(!after.contains("MadeUpMethod"), "{after}");
    let grew = |series_name: &str| series(&after, series_name) - series(&before, series_name);
    assert!(
        grew("jobtrace_otlp_items_stored_total{signal=\"spans\"}") >= 2.0,
        "{after}"
    );
    assert!(
        grew("jobtrace_otlp_requests_refused_total{signal=\"spans\",reason=\"malformed\"}") >= 1.0,
        "{after}"
    );
    assert!(
        grew("jobtrace_request_duration_seconds_count{route=\"/api/v1/jobs\",status=\"2xx\"}")
            >= 1.0,
        "{after}"
    );
    assert!(
        grew("jobtrace_request_duration_seconds_count{route=\"/api/v1/jobs/{id}\",status=\"4xx\"}")
            >= 1.0,
        "{after}"
    );
    assert!(
        !after.contains("no-such-job"),
        "client-made paths are not labels"
    );
    assert!(after.contains("jobtrace_live_streams_open 0"), "{after}");
    // The pools as SQLite's store opens them: one write connection, four readers at most, and
    // never more open than that (a connection just used may still count as in use: sqlx hands
    // it back to its pool on a task of its own).
    let pool = |name: &str, state: &str| {
        series(
            &after,
            &format!(r#"jobtrace_db_connections{{pool="{name}",state="{state}"}}"#),
        )
    };
    assert_eq!((pool("write", "max"), pool("read", "max")), (1.0, 4.0));
    for name in ["write", "read"] {
        assert!(
            pool(name, "in_use") + pool(name, "idle") <= pool(name, "max"),
            "{after}"
        );
    }
    assert!(
        pool("read", "in_use") + pool("read", "idle") >= 1.0,
        "a reader answered: {after}"
    );
    assert!(
        after.contains("jobtrace_store_write_duration_seconds_bucket"),
        "{after}"
    );
    assert!(after.trim_end().ends_with("# EOF"));
    store.teardown().await;
}

/// Every answer carries a request id: the client's when it is short and printable, else a new one.
#[tokio::test]
async fn test_answers_carry_the_clients_request_id_or_a_new_one() {
    let store = sqlite_store().await;
    let app = router(store.store.clone(), 1 << 20);
    let with_id = |id: &str| {
        axum::http::Request::get("/api/v1/jobs")
            .header("x-request-id", id)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let echoed = common::send(&app, with_id("trace-me-42")).await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-me-42"));
    let replaced = common::send(&app, with_id(&"z".repeat(100))).await;
    let new_id = replaced.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(new_id).is_ok(), "{new_id}");
    let first = get(&app, "/healthz").await;
    let second = get(&app, "/healthz").await;
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
    store.teardown().await;
}

/// With every ingest turn taken (`--max-concurrent-ingest`), a request waits its 5 s and is told
/// to retry — `503` over OTLP/HTTP, `UNAVAILABLE` over OTLP/gRPC, what exporters retry — and
/// nothing of it is stored; once a turn is free the same request is stored.
#[tokio::test]
async fn test_ingest_beyond_its_concurrency_waits_then_is_told_to_retry() {
    let store = sqlite_store().await;
    let config = jobtrace::config::ServeConfig {
        max_concurrent_ingest: 2,
        ..common::serve_config(&[])
    };
    let state = common::state_with_config(store.store.clone(), &config);
    let permits = Arc::clone(&state.ingest_permits);
    let app = jobtrace::router::router(state);
    let held = Arc::clone(&permits).acquire_many_owned(2).await.unwrap();
    let spans = trace_json(
        "8c8efff798038103d269b633813fc60c",
        "busy-svc",
        &[("00000000000000c1", None, "job/busy", 0, 100, 0)],
    );
    let grpc_body = {
        use prost::Message;
        let message = common::trace_request(&spans).encode_to_vec();
        let mut framed = vec![0];
        framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(&message);
        framed
    };
    let grpc_request = || {
        axum::http::Request::post("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(axum::body::Body::from(grpc_body.clone()))
            .unwrap()
    };
    let started = std::time::Instant::now();
    let (http, grpc) = tokio::join!(
        post_json(&app, "/v1/traces", &spans),
        common::send(&app, grpc_request())
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "they waited for a turn"
    );
    assert_eq!(
        http.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        http.text()
    );
    assert!(http.text().contains("retry"), "{}", http.text());
    assert_eq!(grpc.header("grpc-status"), Some("14"), "UNAVAILABLE");
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "nothing stored");
    drop(held);
    assert_eq!(
        post_json(&app, "/v1/traces", &spans).await.status,
        StatusCode::OK
    );
    let answer = common::send(&app, grpc_request()).await;
    assert_eq!(
        answer.header("grpc-status"),
        None,
        "the status is in the trailers"
    );
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(
        jobs["jobs"][0]["span_count"], 1,
        "stored once, the retry was the same span"
    );
    store.teardown().await;
}

/// Decoded requests share a fixed budget weighed by their messages and items: with all but a
/// few of the shares held (as a large request being decoded holds them), a request of one span
/// still goes through at once, one of 40 spans waits for its share and is told to retry, and
/// nothing of it is stored; once the shares are back it is stored.
#[tokio::test]
async fn test_decoded_requests_wait_for_their_share_of_the_decode_budget() {
    let store = sqlite_store().await;
    let state = common::state_with_config(store.store.clone(), &common::serve_config(&[]));
    let shares = Arc::clone(&state.decode_shares);
    let app = jobtrace::router::router(state);
    let all = u32::try_from(shares.available_permits()).unwrap();
    assert_eq!(all, 2_000_000);
    let held = Arc::clone(&shares)
        .acquire_many_owned(all - 50)
        .await
        .unwrap();
    let small = trace_json(
        "9c8efff798038103d269b633813fc60c",
        "small-svc",
        &[("00000000000000d1", None, "job/small", 0, 100, 0)],
    );
    let spans: Vec<(String, String)> = (0..40)
        .map(|i| (format!("{:016x}", i + 1), format!("span-{i}")))
        .collect();
    let seeds: Vec<common::SpanSeed<'_>> = spans
        .iter()
        .map(|(id, name)| (id.as_str(), None, name.as_str(), 0, 100, 0))
        .collect();
    let large = trace_json("ac8efff798038103d269b633813fc60c", "large-svc", &seeds);
    let started = std::time::Instant::now();
    assert_eq!(
        post_json(&app, "/v1/traces", &small).await.status,
        StatusCode::OK
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the small one did not wait"
    );
    let refused = post_json(&app, "/v1/traces", &large).await;
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the large one waited"
    );
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text()
    );
    let jobs = get(&app, "/api/v1/jobs").await.json();
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        1,
        "only the small one"
    );
    drop(held);
    assert_eq!(
        post_json(&app, "/v1/traces", &large).await.status,
        StatusCode::OK
    );
    assert_eq!(
        shares.available_permits(),
        2_000_000,
        "every share given back"
    );
    store.teardown().await;
}

/// A workflow job with one task, submitted straight to the store.
async fn submitted_job(store: &jobtrace::store::SharedStore) -> uuid::Uuid {
    use jobtrace::store::TraceId;
    use jobtrace::store::workflow::{NewJob, TaskSpec};
    let trace = *uuid::Uuid::new_v4().as_bytes();
    let job = NewJob {
        name: "actions".to_owned(),
        trace_parent: format!("00-{}-0102030405060708-01", hex::encode(trace)),
        trace_id: TraceId(trace),
        tasks: vec![TaskSpec {
            identifier_name: "Nobody".to_owned(),
            identifier_version: "v0.0".to_owned(),
            display: "Nobody".to_owned(),
            input: Vec::new(),
            cluster_slug: String::new(),
            max_retries: 0,
            optional: false,
            depends_on: vec![],
        }],
    };
    store.submit_job(job, jobtrace::now_ns()).await.unwrap().id
}

/// The job page's Cancel and Retry (server functions): a page elsewhere cannot make a browser
/// use them (its `Sec-Fetch-Site` or `Origin` gives it away) and nothing changes; the dashboard
/// itself can, on both backends; an id that is no workflow job is a clear error.
#[tokio::test]
async fn test_job_actions_refuse_other_origins_and_act_for_the_dashboard() {
    use app::model::JobState;
    for test_store in [sqlite_store().await, common::postgres_store().await] {
        let store = test_store.store.clone();
        let app = router(store.clone(), 1 << 20);
        let id = submitted_job(&store).await;
        let act = |path: &'static str, headers: Vec<(&'static str, &'static str)>, body: String| {
            let mut request = axum::http::Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "127.0.0.1:3000");
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let request = request.body(axum::body::Body::from(body)).unwrap();
            let app = app.clone();
            async move { common::send(&app, request).await }
        };
        let body = format!("job_id={id}");
        let state = || async { store.workflow_job(id).await.unwrap().unwrap().state };
        for headers in [
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("origin", "http://evil.example")],
        ] {
            let refused = act("/api/cancel_job", headers.clone(), body.clone()).await;
            assert!(
                !refused.status.is_success(),
                "{headers:?}: {}",
                refused.status
            );
            assert!(
                refused
                    .text()
                    .contains("must come from the jobtrace dashboard"),
                "{}",
                refused.text()
            );
            assert_eq!(
                state().await,
                JobState::Submitted,
                "{headers:?}: nothing changed"
            );
        }
        let canceled = act(
            "/api/cancel_job",
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
            ],
            body.clone(),
        )
        .await;
        assert!(canceled.status.is_success(), "{}", canceled.text());
        assert_eq!(state().await, JobState::Canceled);
        let retried = act(
            "/api/retry_job",
            vec![("origin", "http://127.0.0.1:3000")],
            body,
        )
        .await;
        assert!(retried.status.is_success(), "{}", retried.text());
        assert_eq!(retried.text(), "0", "no task had failed: none re-queued");
        assert_ne!(state().await, JobState::Canceled, "the cancel is lifted");
        // The error travels as the page's AppError: NotFound, for text and for a UUID nobody has.
        let unknown = act("/api/retry_job", vec![], "job_id=not-a-job".to_owned()).await;
        assert!(unknown.text().contains("NotFound"), "{}", unknown.text());
        let nobody = format!("job_id={}", uuid::Uuid::new_v4());
        let unknown = act("/api/cancel_job", vec![], nobody).await;
        assert!(unknown.text().contains("NotFound"), "{}", unknown.text());
        test_store.teardown().await;
    }
}

/// The demo's names and states: `(name, state)` of every listed job.
async fn demo_jobs(app: &axum::Router) -> Vec<(String, String)> {
    let list = get(app, "/api/v1/jobs").await.json();
    let mut jobs: Vec<(String, String)> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_owned(),
                j["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    jobs.sort();
    jobs
}

#[tokio::test]
async fn test_demo_live_job_plays_to_its_end() {
    let store = sqlite_store().await;
    // Shards 40 ms apart instead of 8 s: the whole job in about a quarter of a second.
    assert_eq!(
        jobtrace::demo::load_if_empty_paced(&store.store, 40)
            .await
            .unwrap(),
        4
    );
    let app = router(store.store.clone(), 1 << 20);
    let mut jobs = demo_jobs(&app).await;
    for _ in 0..100 {
        if jobs.iter().any(|(name, _)| name == "nightly-reindex") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        jobs = demo_jobs(&app).await;
    }
    assert!(
        jobs.iter()
            .any(|(name, state)| name == "nightly-reindex" && state == "COMPLETED"),
        "{jobs:?}"
    );
    let list = get(&app, "/api/v1/jobs?name=nightly-reindex").await.json();
    assert_eq!(
        list["jobs"][0]["span_count"], 14,
        "the job span, the scan and 12 shards"
    );
    store.teardown().await;
}

#[tokio::test]
async fn test_demo_live_job_runs_then_a_restart_finishes_it() {
    let store = sqlite_store().await;
    assert_eq!(
        jobtrace::demo::load_if_empty(&store.store).await.unwrap(),
        4
    );
    let app = router(store.store.clone(), 1 << 20);
    let running: Vec<String> = demo_jobs(&app)
        .await
        .into_iter()
        .filter(|(_, state)| state == "RUNNING")
        .map(|(name, _)| name)
        .collect();
    // A trace-only job is named by its earliest span until its job span arrives.
    assert_eq!(running, ["task/ScanCatalog"], "one job plays live");
    // A restart while it plays: the store has jobs, so nothing is loaded again, and the
    // unfinished live job is finished instead of running forever.
    assert_eq!(
        jobtrace::demo::load_if_empty(&store.store).await.unwrap(),
        0
    );
    let jobs = demo_jobs(&app).await;
    assert_eq!(jobs.len(), 4, "{jobs:?}");
    assert!(
        jobs.iter()
            .any(|(name, state)| name == "nightly-reindex" && state == "COMPLETED"),
        "{jobs:?}"
    );
    assert!(jobs.iter().all(|(_, state)| state != "RUNNING"), "{jobs:?}");
    store.teardown().await;
}

#[tokio::test]
async fn test_span_search_finds_values_and_bounds_its_terms() {
    let (store, app) = seeded().await;
    let search = |text: &str| {
        let app = app.clone();
        let uri = format!(
            "/api/search_spans?trace_id={TRACE}&search={}",
            text.replace(' ', "+")
        );
        async move { get(&app, &uri).await }
    };
    // Every seeded span has scene_id=S2A_001: a bare value finds them, a key=value too.
    // A term in no value finds nothing; one too short to look for is not looked for; a
    // resource's value (the service) finds its spans.
    let reply = search("s2a_00 scene_id=S2A_001 zzz9 s2 runner-a").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let both = serde_json::json!(["00000000000000a1", "00000000000000a2"]);
    assert_eq!(reply.json()["attributes"], both);
    assert_eq!(
        reply.json()["values"],
        serde_json::json!([both, [], [], both])
    );
    // Nothing for the server; too many terms; a term too long: refused, clearly.
    for (text, why) in [
        ("status:error", "no key=value or text term"),
        (&vec!["w"; 33].join(" ") as &str, "at most 32"),
        (&"x".repeat(257) as &str, "at most 256 characters"),
    ] {
        let reply = search(text).await;
        assert!(!reply.status.is_success(), "{text}");
        assert!(reply.text().contains(why), "{text}: {}", reply.text());
    }
    store.teardown().await;
}
