//! Span ingest throughput into SQLite: jobtrace's write path against plain SQLite inserting the
//! same rows, side by side in one run.
//!
//! `cargo bench -p server --bench ingest` (env `BENCH_SPANS`, default 200000; `BENCH_BATCH`,
//! spans per OTLP request, default 512). Both sides commit one transaction per request to a
//! fresh WAL database file with synchronous=NORMAL.
//!
//! - jobtrace: protobuf bytes → decode → convert (ids, JSON attributes/events) → store
//!   (multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, resources, job aggregates).
//! - plain SQLite: rusqlite, one prepared INSERT executed per row, of the already converted
//!   rows into a table with the same columns and primary key; no decoding, no job upkeep.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jobtrace::ingest::spans_from_request;
use jobtrace::store::{NewSpan, SqliteStore, TraceStore};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// Requests shaped like a task runner's: 1,000 spans per trace, five attributes each,
/// every tenth span with an exception event.
fn requests(total: usize, batch: usize) -> Vec<Vec<u8>> {
    let resource = Resource {
        attributes: vec![
            kv(
                "service.name",
                any_value::Value::StringValue("bench-runner".into()),
            ),
            kv(
                "service.instance.id",
                any_value::Value::StringValue("runner-1".into()),
            ),
        ],
        ..Resource::default()
    };
    let mut out = Vec::new();
    let mut n = 0usize;
    while n < total {
        let spans: Vec<Span> = (n..(n + batch).min(total))
            .map(|i| {
                let trace = (i / 1000) as u128 + 1;
                let start = 1_700_000_000_000_000_000u64 + i as u64 * 1_000_000;
                let error = i % 10 == 0;
                Span {
                    trace_id: trace.to_be_bytes().to_vec(),
                    span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                    parent_span_id: if i % 1000 == 0 {
                        Vec::new()
                    } else {
                        ((i - i % 1000) as u64 + 1).to_be_bytes().to_vec()
                    },
                    name: format!("task/ProcessTile{}", i % 7),
                    kind: 1,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 900_000,
                    attributes: vec![
                        kv(
                            "task_id",
                            any_value::Value::StringValue(format!("task-{i}")),
                        ),
                        kv(
                            "identifier.name",
                            any_value::Value::StringValue("ProcessTile".into()),
                        ),
                        kv(
                            "identifier.version",
                            any_value::Value::StringValue("v1.0".into()),
                        ),
                        kv("tile.index", any_value::Value::IntValue(i as i64)),
                        kv("cloud_cover", any_value::Value::DoubleValue(0.25)),
                    ],
                    events: if error {
                        vec![span::Event {
                            time_unix_nano: start + 800_000,
                            name: "exception".into(),
                            attributes: vec![
                                kv(
                                    "exception.type",
                                    any_value::Value::StringValue("ValueError".into()),
                                ),
                                kv(
                                    "exception.message",
                                    any_value::Value::StringValue("bad tile".into()),
                                ),
                            ],
                            dropped_attributes_count: 0,
                        }]
                    } else {
                        Vec::new()
                    },
                    status: error.then(|| Status {
                        code: 2,
                        message: "failed".into(),
                    }),
                    ..Span::default()
                }
            })
            .collect();
        n += spans.len();
        out.push(
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: None,
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec(),
        );
    }
    out
}

/// Stores every request as the server would, with `concurrency` requests in flight at once
/// (decoding and converting one while another is being written).
async fn jobtrace_path(
    dir: &std::path::Path,
    requests: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
) -> Duration {
    let url = format!(
        "sqlite:{}",
        dir.join(format!("jobtrace-{concurrency}.db")).display()
    );
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, next, requests) = (store.clone(), next.clone(), requests.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = requests.get(index) else {
                        break;
                    };
                    let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
                    let converted = spans_from_request(&request);
                    store.write_spans(converted.batch).await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    started.elapsed()
}

fn plain_sqlite(dir: &std::path::Path, batches: &[Vec<NewSpan>]) -> Duration {
    let mut conn = rusqlite::Connection::open(dir.join("plain.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE spans (trace_id BLOB NOT NULL, span_id BLOB NOT NULL,
           parent_span_id BLOB, name TEXT NOT NULL, kind INTEGER NOT NULL,
           start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL,
           status_message TEXT NOT NULL, attributes TEXT NOT NULL, events TEXT NOT NULL,
           resource_id INTEGER NOT NULL, service_name TEXT NOT NULL, scope_name TEXT NOT NULL,
           scope_version TEXT NOT NULL, task_key TEXT, PRIMARY KEY (trace_id, span_id));",
    )
    .unwrap();
    let started = Instant::now();
    for batch in batches {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO spans VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                     ?13, ?14, ?15, ?16)",
                )
                .unwrap();
            for s in batch {
                insert
                    .execute(rusqlite::params![
                        &s.trace_id.0[..],
                        &s.span_id.0[..],
                        s.parent_span_id.as_ref().map(|p| p.0.to_vec()),
                        s.name,
                        s.kind,
                        s.start_ns,
                        s.end_ns,
                        s.status_code,
                        s.status_message,
                        s.attributes_json,
                        s.events_json,
                        s.resource_id,
                        s.service_name,
                        s.scope_name,
                        s.scope_version,
                        s.task_key,
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

fn rate(spans: usize, elapsed: Duration) -> f64 {
    spans as f64 / elapsed.as_secs_f64()
}

fn main() {
    let total: usize = std::env::var("BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let batch: usize = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let requests = Arc::new(requests(total, batch));
    let started = Instant::now();
    let converted: Vec<Vec<NewSpan>> = requests
        .iter()
        .map(|body| {
            spans_from_request(&ExportTraceServiceRequest::decode(body.as_slice()).unwrap())
                .batch
                .spans
        })
        .collect();
    println!(
        "decode + convert alone, one core: {:.0} spans/s",
        rate(total, started.elapsed())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Alternate the sides so none always runs on a warmer machine.
    let (mut sequential, mut concurrent, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let plain_time = plain_sqlite(dir.path(), &converted);
        let one = runtime.block_on(jobtrace_path(dir.path(), requests.clone(), 1));
        let many = runtime.block_on(jobtrace_path(dir.path(), requests.clone(), concurrency));
        println!(
            "round {round}: jobtrace {:>8.0} spans/s one request at a time, {:>8.0} spans/s \
             {concurrency} at a time; plain sqlite {:>8.0} spans/s",
            rate(total, one),
            rate(total, many),
            rate(total, plain_time)
        );
        sequential.push(rate(total, one));
        concurrent.push(rate(total, many));
        plain.push(rate(total, plain_time));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (sequential, concurrent, plain) = (
        median(&mut sequential),
        median(&mut concurrent),
        median(&mut plain),
    );
    println!(
        "median of 3, {total} spans in requests of {batch}: plain sqlite {plain:.0} spans/s; \
         jobtrace {sequential:.0} spans/s ({:.0}%) one request at a time, {concurrent:.0} \
         spans/s ({:.0}%) with {concurrency} requests in flight",
        sequential / plain * 100.0,
        concurrent / plain * 100.0
    );
}
