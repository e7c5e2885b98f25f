//! Cross-job span and log queries on 10,000,000 spans (issue 14: ≤ 100 ms), SQLite and
//! PostgreSQL: the pages `GET /api/v1/spans` and `GET /api/v1/logs` read across every trace
//! (`TraceStore::span_rows` / `log_page` with no trace, the API's default page of 1,000),
//! filtered by name, status, service, text or severity in the last hour or day. Baseline in the
//! same run: the same queries on the same store with the spans' time index dropped (the store
//! before migration 0014).
//!
//! `cargo bench -p server --bench span_search` (env `BENCH_SPANS`, default 10000000;
//! `BENCH_BACKENDS=sqlite,postgres`; `BENCH_POSTGRES_URL`, where a scratch database is created
//! and dropped).
//!
//! The workload: spans 60 ms apart (10,000,000 spans cover 6.9 days), traces of 1,000 spans
//! shaped like a task runner's (`support::requests_of`), each run of 100,000 spans from one of
//! four services in turn; a log line per ten spans, every tenth of them an error
//! (`support::log_requests_of`).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use jobtrace::ingest::{logs_from_request, spans_from_request};
use jobtrace::store::{LogPageQuery, SharedStore, SpanPageQuery};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sqlx::Connection;

#[path = "support/mod.rs"]
mod support;

const BASE_NS: u64 = 1_700_000_000_000_000_000;
const STEP_NS: u64 = 60_000_000;
const CHUNK: usize = 100_000;
const HOUR_NS: i64 = 3_600_000_000_000;

/// Writes `spans` spans (and their logs) through the store, as ingest does.
async fn seed(store: &SharedStore, spans: usize) {
    for chunk in 0..spans.div_ceil(CHUNK) {
        let service = format!("runner-{}", chunk % 4);
        let first_trace = (chunk * CHUNK / 1000) as u128;
        let base = BASE_NS + (chunk * CHUNK) as u64 * STEP_NS;
        let total = CHUNK.min(spans - chunk * CHUNK);
        for body in support::requests_of(&service, total, 512, first_trace, base, STEP_NS) {
            let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
            store
                .write_spans(spans_from_request(&request).batch)
                .await
                .unwrap();
        }
        for body in support::log_requests_of(&service, total, 512, 10, first_trace, base, STEP_NS) {
            let request = ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
            store
                .write_logs(logs_from_request(&request).batch)
                .await
                .unwrap();
        }
    }
}

/// Median of `runs` timings of `f`, and what its last run returned.
async fn time<F, Fut>(runs: usize, mut f: F) -> (Duration, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let (mut times, mut found) = (Vec::with_capacity(runs), 0);
    for _ in 0..runs {
        let started = Instant::now();
        found = f().await;
        times.push(started.elapsed());
    }
    times.sort();
    (times[times.len() / 2], found)
}

/// The queries, each timed: (what, median, rows found).
async fn queries(store: &SharedStore, spans: usize) -> Vec<(String, Duration, usize)> {
    let end = i64::try_from(BASE_NS + spans as u64 * STEP_NS).unwrap();
    let (hour, day) = (Some(end - HOUR_NS), Some(end - 24 * HOUR_NS));
    let last_service = format!("runner-{}", (spans - 1) / CHUNK % 4);
    let other_service = format!("runner-{}", ((spans - 1) / CHUNK + 2) % 4);
    let span_queries = [
        (
            "spans: name contains \"processtile3\", last hour",
            SpanPageQuery {
                name: Some("processtile3".into()),
                from_ns: hour,
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: failed, last day",
            SpanPageQuery {
                status: Some(2),
                from_ns: day,
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: service of the last hour, last hour",
            SpanPageQuery {
                service: Some(last_service),
                from_ns: hour,
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: a service idle this hour, last hour (none)",
            SpanPageQuery {
                service: Some(other_service),
                from_ns: hour,
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: a name no span has, last hour (none)",
            SpanPageQuery {
                name: Some("no-such-task".into()),
                from_ns: hour,
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: a name no span has, no time bound (none)",
            SpanPageQuery {
                name: Some("no-such-task".into()),
                ..SpanPageQuery::default()
            },
        ),
        (
            "spans: name contains \"processtile3\", no time bound",
            SpanPageQuery {
                name: Some("processtile3".into()),
                ..SpanPageQuery::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for (what, query) in span_queries {
        let query = SpanPageQuery {
            limit: 1000,
            ..query
        };
        let (took, found) = time(5, || async {
            store.span_rows(None, &query).await.unwrap().len()
        })
        .await;
        out.push((what.to_owned(), took, found));
    }
    let log_queries = [
        (
            "logs: text contains \"failed\", last hour",
            LogPageQuery {
                text: Some("failed".into()),
                from_ns: hour,
                ..LogPageQuery::default()
            },
        ),
        (
            "logs: errors, last day",
            LogPageQuery {
                severities: vec![(17, 24)],
                from_ns: day,
                ..LogPageQuery::default()
            },
        ),
    ];
    for (what, query) in log_queries {
        let query = LogPageQuery {
            limit: 1000,
            ..query
        };
        let (took, found) = time(5, || async {
            store.log_page(None, &query).await.unwrap().len()
        })
        .await;
        out.push((what.to_owned(), took, found));
    }
    out
}

async fn run(backend: &str, url: &str, spans: usize) {
    let store = jobtrace::store::open(url).await.unwrap();
    let started = Instant::now();
    seed(&store, spans).await;
    println!(
        "{backend}: seeded {spans} spans and {} logs in {:.1} s",
        spans / 10,
        started.elapsed().as_secs_f64()
    );
    let drop_index = "DROP INDEX spans_by_start";
    if url.starts_with("postgres") {
        // What autovacuum does after a bulk load: the planner's statistics.
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    }
    let indexed = queries(&store, spans).await;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(drop_index).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(drop_index).execute(&mut conn).await.unwrap();
    }
    let baseline = queries(&store, spans).await;
    println!(
        "{backend}: {:<52} {:>14} {:>14} {:>6}",
        "median of 5, a page of 1,000", "time index", "none (before)", "rows"
    );
    for ((what, took, found), (_, before, found_before)) in indexed.into_iter().zip(baseline) {
        assert_eq!(found, found_before, "{what}: both find the same rows");
        println!(
            "{backend}: {what:<52} {:>11.1} ms {:>11.1} ms {found:>6}",
            took.as_secs_f64() * 1e3,
            before.as_secs_f64() * 1e3
        );
    }
}

#[tokio::main]
async fn main() {
    let spans: usize = std::env::var("BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("spans.db").display());
        run("sqlite", &url, spans).await;
    }
    if backends.contains("postgres") {
        let database = support::PgDatabase::create().await;
        run("postgres", &database.url, spans).await;
        database.drop_now().await;
    }
}
