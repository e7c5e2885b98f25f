//! Shared test helpers: fresh stores on both backends, the router, OTLP request builders.

#![allow(dead_code, unused_macros, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jobtrace::state::{AppState, Limits};
use jobtrace::store::{self, SharedStore};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sqlx::Connection;
use tower::ServiceExt;

/// A store on a fresh database, dropped by [`TestStore::teardown`].
pub struct TestStore {
    pub store: SharedStore,
    /// Where the store is, for a test that looks at its tables.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

pub fn pg_admin_url() -> String {
    std::env::var("JOBTRACE_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    TestStore {
        store: store::open(&url).await.unwrap(),
        url,
        cleanup: Cleanup::Dir(dir),
    }
}

/// A new PostgreSQL database per test, so tests run in parallel without seeing each other.
pub async fn postgres_store() -> TestStore {
    let admin_url = pg_admin_url();
    let database = format!("jobtrace_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required for tests: {e}"));
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{database}");
    let store = store::open(&url).await.unwrap();
    TestStore {
        store,
        url,
        cleanup: Cleanup::Postgres {
            admin_url,
            database,
        },
    }
}

impl TestStore {
    pub async fn teardown(self) {
        let TestStore { store, cleanup, .. } = self;
        drop(store);
        if let Cleanup::Postgres {
            admin_url,
            database,
        } = cleanup
        {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

pub fn router(store: SharedStore, max_body_bytes: usize) -> Router {
    router_with_tokens(store, max_body_bytes, &[])
}

/// The server's configuration in tests: loopback, short leases, the given API tokens.
pub fn serve_config(tokens: &[&str]) -> jobtrace::config::ServeConfig {
    jobtrace::config::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: String::new(),
        demo: false,
        max_body_bytes: 1 << 20,
        max_items_per_request: 100_000,
        max_concurrent_ingest: 8,
        max_live_streams: 256,
        max_concurrent_exports: 4,
        header_read_timeout_secs: 15,
        body_read_timeout_secs: 30,
        task_lease_secs: 5,
        runner_idle_ms: 100,
        site_root: "target/site".to_owned(),
        api_tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
        api_token_file: None,
        insecure_public: false,
        shutdown_grace_secs: 10,
        retention: None,
        watch_roots: Vec::new(),
        sync: jobtrace::config::SyncMode::Normal,
    }
}

/// The router with API tokens configured.
pub fn router_with_tokens(store: SharedStore, max_body_bytes: usize, tokens: &[&str]) -> Router {
    let config = jobtrace::config::ServeConfig {
        max_body_bytes,
        ..serve_config(tokens)
    };
    router_with_config(store, &config)
}

/// The router as `config` sets it up.
pub fn router_with_config(store: SharedStore, config: &jobtrace::config::ServeConfig) -> Router {
    jobtrace::router::router(state_with_config(store, config))
}

/// What the router is built from, for tests that hold its permits themselves.
pub fn state_with_config(store: SharedStore, config: &jobtrace::config::ServeConfig) -> AppState {
    let config = config.clone();
    AppState {
        store: Arc::clone(&store),
        auth: jobtrace::auth_from_config(&config).unwrap(),
        ingest_permits: jobtrace::ingest_permits(&config),
        body_budget: jobtrace::body_budget(&config),
        decode_shares: jobtrace::decode_shares(),
        live_permits: jobtrace::live_permits(&config),
        live_jobs: Arc::default(),
        export_permits: jobtrace::export_permits(&config),
        limits: Limits::from_config(&config),
        leptos_options: jobtrace::leptos_options(&config),
        draining: Arc::default(),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// POSTs `value` as JSON (an OTLP/JSON request, typically).
pub async fn post_json(router: &Router, uri: &str, value: &serde_json::Value) -> Reply {
    post(
        router,
        uri,
        "application/json",
        serde_json::to_vec(value).unwrap(),
    )
    .await
}

pub async fn post(router: &Router, uri: &str, content_type: &str, body: Vec<u8>) -> Reply {
    send(
        router,
        Request::post(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// `(span_id, parent, name, start_ms, end_ms, status_code)`.
pub type SpanSeed<'a> = (&'a str, Option<&'a str>, &'a str, u64, u64, i32);

/// An OTLP/JSON trace request for tests: `spans` as `(span_id, parent, name, start_ms, end_ms,
/// status_code)` in one trace of service `service`.
pub fn trace_json(trace_id: &str, service: &str, spans: &[SpanSeed<'_>]) -> serde_json::Value {
    let base: u64 = 1_700_000_000_000_000_000;
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|(id, parent, name, start, end, status)| {
            serde_json::json!({
                "traceId": trace_id,
                "spanId": id,
                "parentSpanId": parent.unwrap_or(""),
                "name": name,
                "kind": 1,
                "startTimeUnixNano": (base + start * 1_000_000).to_string(),
                "endTimeUnixNano": (base + end * 1_000_000).to_string(),
                "attributes": [{"key": "scene_id", "value": {"stringValue": "S2A_001"}}],
                "status": {"code": status},
            })
        })
        .collect();
    serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": service}},
                {"key": "service.instance.id", "value": {"stringValue": "instance-1"}}
            ]},
            "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]
        }]
    })
}

pub fn trace_request(value: &serde_json::Value) -> ExportTraceServiceRequest {
    serde_json::from_value(value.clone()).unwrap()
}

/// An OTLP/JSON logs request: `(trace_id, span_id, time_ms, severity_number, body)`.
pub fn logs_json(logs: &[(&str, &str, u64, i32, &str)]) -> serde_json::Value {
    let base: u64 = 1_700_000_000_000_000_000;
    let records: Vec<serde_json::Value> = logs
        .iter()
        .map(|(trace, span, at, severity, body)| {
            serde_json::json!({
                "timeUnixNano": (base + at * 1_000_000).to_string(),
                "severityNumber": severity,
                "severityText": if *severity >= 17 { "ERROR" } else { "INFO" },
                "body": {"stringValue": body},
                "traceId": trace,
                "spanId": span,
            })
        })
        .collect();
    serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeLogs": [{"scope": {"name": "test"}, "logRecords": records}]
        }]
    })
}

pub fn logs_request(value: &serde_json::Value) -> ExportLogsServiceRequest {
    serde_json::from_value(value.clone()).unwrap()
}

/// Runs one behaviour case on a fresh store and drops the store afterwards.
pub async fn run<F, Fut>(make: impl std::future::Future<Output = TestStore>, case: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let test_store = make.await;
    case(test_store.store.clone()).await;
    test_store.teardown().await;
}

/// `both_backends!(case_a, case_b)` makes `sqlite::case_a`, `postgres::case_a`, … tests from
/// `async fn case_a(store: SharedStore)` functions of the calling file.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::common::run(crate::common::sqlite_store(), super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::common::run(crate::common::postgres_store(), super::$case).await;
                }
            )*
        }
    };
}
