//! The REST API and the server-rendered pages, through the router.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;

use common::{get, logs_json, post, router, sqlite_store, trace_json};

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
    let reply = post(
        &app,
        "/v1/traces",
        "application/json",
        serde_json::to_vec(&spans).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let logs = logs_json(&[(
        TRACE,
        "00000000000000a2",
        20,
        9,
        "<img src=x onerror=alert(1)>",
    )]);
    let reply = post(
        &app,
        "/v1/logs",
        "application/json",
        serde_json::to_vec(&logs).unwrap(),
    )
    .await;
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
