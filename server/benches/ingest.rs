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
//!   rows into a table with the same columns and primary key; no decoding, no job upkeep; and
//!   the same into a file with the store's own schema (its indexes; the issue's "same schema").
//!
//! Then the same with a log line per span (a log request after each span request).
//!
//! And PostgreSQL, run first (`BENCH_BACKENDS`, default `sqlite,postgres`; `BENCH_POSTGRES_URL`): the
//! store's write path against a raw `COPY` of the same converted rows, into bare tables and into
//! a database with the store's schema, spans alone and with a log line per span.
//!
//! Then retention's cost to ingest: the same requests into a store that already holds as many
//! spans of jobs past their retention, once with a prune of those running at the same time and
//! once without (the baseline), alternating; the slowest request of each. And `--sync full`
//! against the default `normal`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jobtrace::ingest::{logs_from_request, spans_from_request};
use jobtrace::store::{NewLog, NewSpan, PostgresStore, SqliteStore, StoreOptions, TraceStore};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sqlx::Connection;
use sqlx::postgres::PgPoolCopyExt;

#[path = "support/mod.rs"]
mod support;
use support::requests_of;

/// Where the requests' spans start: 2023-11-14; the old data of the retention rounds is as many
/// spans of other traces [`OLD_BY`] earlier.
const BASE_NS: u64 = 1_700_000_000_000_000_000;
const DAY_NS: u64 = 86_400 * 1_000_000_000;
const OLD_BY: u64 = 100 * DAY_NS;

/// Requests shaped like a task runner's: 1,000 spans per trace, five attributes each,
/// every tenth span with an exception event.
fn requests(total: usize, batch: usize) -> Vec<Vec<u8>> {
    requests_of("bench-runner", total, batch, 0, BASE_NS, 1_000_000)
}

/// An OTLP request body: of spans or of log records.
#[derive(Clone)]
enum Body {
    Spans(Vec<u8>),
    Logs(Vec<u8>),
}

fn spans_only(requests: &[Vec<u8>]) -> Arc<Vec<Body>> {
    Arc::new(requests.iter().cloned().map(Body::Spans).collect())
}

/// Stores every request as the server would, with `concurrency` requests in flight at once
/// (decoding and converting one while another is being written).
async fn jobtrace_path(
    dir: &std::path::Path,
    name: &str,
    requests: Arc<Vec<Body>>,
    concurrency: usize,
) -> Duration {
    let url = format!("sqlite:{}", dir.join(name).display());
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    store_all(&store, requests, concurrency).await.0
}

/// Stores `requests`, `concurrency` at a time; the time it took and the slowest request.
async fn store_all<S: TraceStore>(
    store: &Arc<S>,
    requests: Arc<Vec<Body>>,
    concurrency: usize,
) -> (Duration, Duration) {
    let slowest = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, next, requests) = (store.clone(), next.clone(), requests.clone());
            let slowest = slowest.clone();
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = requests.get(index) else {
                        break;
                    };
                    let request_started = Instant::now();
                    match body {
                        Body::Spans(body) => {
                            let request =
                                ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
                            store
                                .write_spans(spans_from_request(&request).batch)
                                .await
                                .unwrap();
                        }
                        Body::Logs(body) => {
                            let request =
                                ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
                            store
                                .write_logs(logs_from_request(&request).batch)
                                .await
                                .unwrap();
                        }
                    }
                    let took = request_started.elapsed();
                    let mut slowest = slowest.lock().unwrap();
                    *slowest = (*slowest).max(took);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let slowest = *slowest.lock().unwrap();
    (started.elapsed(), slowest)
}

/// Ingest into a store holding `old` (spans of jobs past retention), with a prune of them
/// running alongside or not: the ingest's time, its slowest request, and the spans pruned
/// while it ran.
async fn ingest_beside_prune(
    dir: &std::path::Path,
    name: &str,
    old: Arc<Vec<Body>>,
    requests: Arc<Vec<Body>>,
    concurrency: usize,
    prune: bool,
) -> (Duration, Duration, u64) {
    let url = format!("sqlite:{}", dir.join(name).display());
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    store_all(&store, old, concurrency).await;
    let cutoff = i64::try_from(BASE_NS - OLD_BY / 2).unwrap();
    let before = store.stats().await.unwrap().spans;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pruning = prune.then(|| {
        let (store, stop) = (store.clone(), stop.clone());
        // `retention::prune_until`'s pace (rest as long as each step took), stoppable between
        // steps when the ingest is done.
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let step = jobtrace::store::Retention::prune_step(
                    store.as_ref(),
                    cutoff,
                    jobtrace::retention::PRUNE_BATCH,
                )
                .await
                .unwrap();
                if step.is_none() {
                    break;
                }
                tokio::time::sleep(started.elapsed()).await;
            }
        })
    });
    let (took, slowest) = store_all(&store, requests.clone(), concurrency).await;
    stop.store(true, Ordering::SeqCst);
    if let Some(pruning) = pruning {
        pruning.await.unwrap();
    }
    // Spans of old jobs gone by the end of the ingest.
    let after = store.stats().await.unwrap().spans;
    let pruned = u64::try_from(before + new_spans(&requests) - after).unwrap_or(0);
    (took, slowest, pruned)
}

/// The tables plain SQLite inserts into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Schema {
    /// `spans` and `logs` with their columns and primary keys only.
    Bare,
    /// A jobtrace store's own tables, indexes and pragmas (its migrations ran on the file).
    Store,
}

/// Plain SQLite's time to insert the already converted rows: each batch of spans, then (if any)
/// the batch of log records at the same position, one transaction each, one prepared INSERT
/// executed per row.
fn plain_sqlite(
    path: &std::path::Path,
    schema: Schema,
    spans: &[Vec<NewSpan>],
    logs: &[Vec<NewLog>],
) -> Duration {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .unwrap();
    if schema == Schema::Bare {
        conn.execute_batch(
            "CREATE TABLE spans (trace_id BLOB NOT NULL, span_id BLOB NOT NULL,
               parent_span_id BLOB, name TEXT NOT NULL, kind INTEGER NOT NULL,
               start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL,
               status_message TEXT NOT NULL, attributes TEXT NOT NULL, events TEXT NOT NULL,
               resource_id INTEGER NOT NULL, service_name TEXT NOT NULL, scope_name TEXT NOT NULL,
               scope_version TEXT NOT NULL, task_key TEXT, PRIMARY KEY (trace_id, span_id));
             CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, trace_id BLOB, span_id BLOB,
               time_ns INTEGER NOT NULL, observed_ns INTEGER NOT NULL,
               severity_number INTEGER NOT NULL, severity_text TEXT NOT NULL, body TEXT NOT NULL,
               attributes TEXT NOT NULL, resource_id INTEGER NOT NULL, scope_name TEXT NOT NULL,
               task_id TEXT);",
        )
        .unwrap();
    }
    let started = Instant::now();
    for (index, batch) in spans.iter().enumerate() {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, \
                     end_ns, status_code, status_message, attributes, events, resource_id, \
                     service_name, scope_name, scope_version, task_key) VALUES (?1, ?2, ?3, ?4, \
                     ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
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
        let Some(batch) = logs.get(index) else {
            continue;
        };
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO logs (trace_id, span_id, time_ns, observed_ns, severity_number, \
                     severity_text, body, attributes, resource_id, scope_name, task_id) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .unwrap();
            for l in batch {
                insert
                    .execute(rusqlite::params![
                        l.trace_id.as_ref().map(|t| t.0.to_vec()),
                        l.span_id.as_ref().map(|s| s.0.to_vec()),
                        l.time_ns,
                        l.observed_ns,
                        l.severity_number,
                        l.severity_text,
                        l.body,
                        l.attributes_json,
                        l.resource_id,
                        l.scope_name,
                        l.task_id,
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    started.elapsed()
}

/// A file with a jobtrace store's schema and nothing in it, for [`Schema::Store`].
fn store_schema_file(runtime: &tokio::runtime::Runtime, path: &std::path::Path) {
    let url = format!("sqlite:{}", path.display());
    runtime.block_on(async {
        let store = SqliteStore::connect(&url).await.unwrap();
        drop(store);
    });
}

/// Appends `value` to a `COPY … FROM STDIN` text-format row, escaped.
fn copy_text(row: &mut Vec<u8>, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'\\' => row.extend_from_slice(b"\\\\"),
            b'\t' => row.extend_from_slice(b"\\t"),
            b'\n' => row.extend_from_slice(b"\\n"),
            b'\r' => row.extend_from_slice(b"\\r"),
            _ => row.push(byte),
        }
    }
}

/// Appends bytes as a `bytea` in hex (`\x…`, its backslash escaped for the text format).
fn copy_bytes(row: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(value) => {
            row.extend_from_slice(b"\\\\x");
            row.extend_from_slice(hex::encode(value).as_bytes());
        }
        None => row.extend_from_slice(b"\\N"),
    }
}

fn copy_number(row: &mut Vec<u8>, value: i64) {
    row.extend_from_slice(value.to_string().as_bytes());
}

fn copy_optional_text(row: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => copy_text(row, value),
        None => row.extend_from_slice(b"\\N"),
    }
}

const COPY_SPANS: &str = "COPY spans (trace_id, span_id, parent_span_id, name, kind, start_ns, \
    end_ns, status_code, status_message, attributes, events, resource_id, service_name, \
    scope_name, scope_version, task_key) FROM STDIN";
const COPY_LOGS: &str = "COPY logs (trace_id, span_id, time_ns, observed_ns, severity_number, \
    severity_text, body, attributes, resource_id, scope_name, task_id) FROM STDIN";

/// One batch of spans as `COPY` text rows.
fn copy_spans(spans: &[NewSpan]) -> Vec<u8> {
    let mut rows = Vec::with_capacity(spans.len() * 400);
    for s in spans {
        copy_bytes(&mut rows, Some(&s.trace_id.0));
        rows.push(b'\t');
        copy_bytes(&mut rows, Some(&s.span_id.0));
        rows.push(b'\t');
        copy_bytes(&mut rows, s.parent_span_id.as_ref().map(|p| &p.0[..]));
        rows.push(b'\t');
        copy_text(&mut rows, &s.name);
        rows.push(b'\t');
        copy_number(&mut rows, s.kind.into());
        rows.push(b'\t');
        copy_number(&mut rows, s.start_ns);
        rows.push(b'\t');
        copy_number(&mut rows, s.end_ns);
        rows.push(b'\t');
        copy_number(&mut rows, s.status_code.into());
        rows.push(b'\t');
        for text in [&s.status_message, &s.attributes_json, &s.events_json] {
            copy_text(&mut rows, text);
            rows.push(b'\t');
        }
        copy_number(&mut rows, s.resource_id);
        rows.push(b'\t');
        for text in [&s.service_name, &s.scope_name, &s.scope_version] {
            copy_text(&mut rows, text);
            rows.push(b'\t');
        }
        copy_optional_text(&mut rows, s.task_key.as_deref());
        rows.push(b'\n');
    }
    rows
}

/// One batch of log records as `COPY` text rows.
fn copy_logs(logs: &[NewLog]) -> Vec<u8> {
    let mut rows = Vec::with_capacity(logs.len() * 300);
    for l in logs {
        copy_bytes(&mut rows, l.trace_id.as_ref().map(|t| &t.0[..]));
        rows.push(b'\t');
        copy_bytes(&mut rows, l.span_id.as_ref().map(|s| &s.0[..]));
        rows.push(b'\t');
        copy_number(&mut rows, l.time_ns);
        rows.push(b'\t');
        copy_number(&mut rows, l.observed_ns);
        rows.push(b'\t');
        copy_number(&mut rows, l.severity_number.into());
        rows.push(b'\t');
        for text in [&l.severity_text, &l.body, &l.attributes_json] {
            copy_text(&mut rows, text);
            rows.push(b'\t');
        }
        copy_number(&mut rows, l.resource_id);
        rows.push(b'\t');
        copy_text(&mut rows, &l.scope_name);
        rows.push(b'\t');
        copy_optional_text(&mut rows, l.task_id.as_deref());
        rows.push(b'\n');
    }
    rows
}

/// Raw `COPY` of the already converted rows, `concurrency` connections at once: each batch of
/// spans, then (if any) the batch of log records at the same position, one `COPY` (one
/// transaction) each, encoded to the text format as it is sent.
async fn raw_copy(
    url: &str,
    spans: Arc<Vec<Vec<NewSpan>>>,
    logs: Arc<Vec<Vec<NewLog>>>,
    concurrency: usize,
) -> Duration {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(concurrency).unwrap())
        .connect(url)
        .await
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (pool, next, spans, logs) =
                (pool.clone(), next.clone(), spans.clone(), logs.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = spans.get(index) else {
                        break;
                    };
                    let mut copy = pool.copy_in_raw(COPY_SPANS).await.unwrap();
                    copy.send(copy_spans(batch)).await.unwrap();
                    copy.finish().await.unwrap();
                    if let Some(batch) = logs.get(index) {
                        let mut copy = pool.copy_in_raw(COPY_LOGS).await.unwrap();
                        copy.send(copy_logs(batch)).await.unwrap();
                        copy.finish().await.unwrap();
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let took = started.elapsed();
    pool.close().await;
    took
}

/// The PostgreSQL rounds: the store's write path against a raw `COPY` of the same rows into
/// bare tables (columns and primary keys) and into the store's own schema (its migrations ran),
/// each on a fresh database; spans alone, then with a log line per span.
async fn postgres_rounds(
    total: usize,
    concurrency: usize,
    span_requests: &[Vec<u8>],
    log_requests: &[Vec<u8>],
    spans: Arc<Vec<Vec<NewSpan>>>,
    logs: Arc<Vec<Vec<NewLog>>>,
) {
    let spans_alone = spans_only(span_requests);
    let mixed = interleaved(span_requests, log_requests);
    for (label, requests, logs) in [
        ("spans", spans_alone, Arc::new(Vec::new())),
        ("spans with a log line each", mixed, logs),
    ] {
        let (mut ours, mut bare, mut schema) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..3 {
            let database = support::PgDatabase::create().await;
            let store = Arc::new(PostgresStore::connect(&database.url).await.unwrap());
            let took = store_all(&store, requests.clone(), concurrency).await.0;
            drop(store);
            database.drop_now().await;

            let database = support::PgDatabase::create().await;
            let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE spans (trace_id BYTEA NOT NULL, span_id BYTEA NOT NULL,
                   parent_span_id BYTEA, name TEXT NOT NULL, kind INTEGER NOT NULL,
                   start_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL,
                   status_code INTEGER NOT NULL, status_message TEXT NOT NULL,
                   attributes TEXT NOT NULL, events TEXT NOT NULL, resource_id BIGINT NOT NULL,
                   service_name TEXT NOT NULL, scope_name TEXT NOT NULL,
                   scope_version TEXT NOT NULL, task_key TEXT, PRIMARY KEY (trace_id, span_id));
                 CREATE TABLE logs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                   trace_id BYTEA, span_id BYTEA, time_ns BIGINT NOT NULL,
                   observed_ns BIGINT NOT NULL, severity_number INTEGER NOT NULL,
                   severity_text TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
                   resource_id BIGINT NOT NULL, scope_name TEXT NOT NULL, task_id TEXT);",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            drop(conn);
            let bare_took = raw_copy(&database.url, spans.clone(), logs.clone(), concurrency).await;
            database.drop_now().await;

            let database = support::PgDatabase::create().await;
            drop(PostgresStore::connect(&database.url).await.unwrap());
            let schema_took =
                raw_copy(&database.url, spans.clone(), logs.clone(), concurrency).await;
            database.drop_now().await;

            println!(
                "round {round}, PostgreSQL, {label}: jobtrace {:>8.0} spans/s, {concurrency} \
                 requests at a time; raw COPY {:>8.0}, into the store's schema {:>8.0}",
                rate(total, took),
                rate(total, bare_took),
                rate(total, schema_took)
            );
            ours.push(rate(total, took));
            bare.push(rate(total, bare_took));
            schema.push(rate(total, schema_took));
        }
        let (ours, bare, schema) = (median(&mut ours), median(&mut bare), median(&mut schema));
        println!(
            "median of 3, PostgreSQL, {label}: jobtrace {ours:.0} spans/s ({:.0}% of raw COPY's \
             {bare:.0}, {:.0}% of raw COPY into the store's schema {schema:.0})",
            ours / bare * 100.0,
            ours / schema * 100.0
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Each span request followed by its log request, as an exporter pair sends them.
fn interleaved(span_requests: &[Vec<u8>], log_requests: &[Vec<u8>]) -> Arc<Vec<Body>> {
    Arc::new(
        span_requests
            .iter()
            .zip(log_requests)
            .flat_map(|(spans, logs)| [Body::Spans(spans.clone()), Body::Logs(logs.clone())])
            .collect(),
    )
}

/// Spans in `requests`.
fn new_spans(requests: &[Body]) -> i64 {
    requests
        .iter()
        .map(|body| {
            let Body::Spans(body) = body else {
                return 0;
            };
            let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
            let spans: usize = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            i64::try_from(spans).unwrap()
        })
        .sum()
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
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let span_requests = requests(total, batch);
    let requests = spans_only(&span_requests);
    let started = Instant::now();
    let converted: Vec<Vec<NewSpan>> = span_requests
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
    // The log lines, one per span, of the "with a log line per span" rounds.
    let log_requests =
        support::log_requests_of("bench-runner", total, batch, 1, 0, BASE_NS, 1_000_000);
    let converted_logs: Vec<Vec<NewLog>> = log_requests
        .iter()
        .map(|body| {
            logs_from_request(&ExportLogsServiceRequest::decode(body.as_slice()).unwrap())
                .batch
                .logs
        })
        .collect();
    if backends.contains("postgres") {
        runtime.block_on(postgres_rounds(
            total,
            concurrency,
            &span_requests,
            &log_requests,
            Arc::new(converted.clone()),
            Arc::new(converted_logs.clone()),
        ));
    }
    if !backends.contains("sqlite") {
        return;
    }
    // Alternate the sides so none always runs on a warmer machine.
    let (mut sequential, mut concurrent, mut plain, mut plain_store) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let plain_time = plain_sqlite(&dir.path().join("plain.db"), Schema::Bare, &converted, &[]);
        let schema = dir.path().join("plain-store.db");
        store_schema_file(&runtime, &schema);
        let plain_store_time = plain_sqlite(&schema, Schema::Store, &converted, &[]);
        let one = runtime.block_on(jobtrace_path(dir.path(), "one.db", requests.clone(), 1));
        let many = runtime.block_on(jobtrace_path(
            dir.path(),
            "many.db",
            requests.clone(),
            concurrency,
        ));
        println!(
            "round {round}: jobtrace {:>8.0} spans/s one request at a time, {:>8.0} spans/s \
             {concurrency} at a time; plain sqlite {:>8.0} spans/s, into the store's schema \
             {:>8.0} spans/s",
            rate(total, one),
            rate(total, many),
            rate(total, plain_time),
            rate(total, plain_store_time)
        );
        sequential.push(rate(total, one));
        concurrent.push(rate(total, many));
        plain.push(rate(total, plain_time));
        plain_store.push(rate(total, plain_store_time));
    }
    let (sequential, concurrent, plain) = (
        median(&mut sequential),
        median(&mut concurrent),
        median(&mut plain),
    );
    let plain_store = median(&mut plain_store);
    println!(
        "median of 3, {total} spans in requests of {batch}: plain sqlite {plain:.0} spans/s; \
         jobtrace {sequential:.0} spans/s ({:.0}%) one request at a time, {concurrent:.0} \
         spans/s ({:.0}%) with {concurrency} requests in flight; plain sqlite into the store's \
         schema {plain_store:.0} spans/s (jobtrace in flight: {:.0}% of it)",
        sequential / plain * 100.0,
        concurrent / plain * 100.0,
        concurrent / plain_store * 100.0
    );

    // With a log line per span: each span request followed by a log request of as many lines
    // (as an exporter pair sends them), against plain SQLite inserting the same rows.
    let mixed = interleaved(&span_requests, &log_requests);
    let (mut with_logs, mut plain_logs, mut plain_store_logs) =
        (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let bare = plain_sqlite(
            &dir.path().join("plain-logs.db"),
            Schema::Bare,
            &converted,
            &converted_logs,
        );
        let schema = dir.path().join("plain-store-logs.db");
        store_schema_file(&runtime, &schema);
        let store_schema = plain_sqlite(&schema, Schema::Store, &converted, &converted_logs);
        let ours = runtime.block_on(jobtrace_path(
            dir.path(),
            "logs.db",
            mixed.clone(),
            concurrency,
        ));
        println!(
            "round {round}, a log line per span: jobtrace {:>8.0} spans/s with their logs, \
             {concurrency} requests at a time; plain sqlite {:>8.0}, into the store's schema \
             {:>8.0}",
            rate(total, ours),
            rate(total, bare),
            rate(total, store_schema)
        );
        with_logs.push(rate(total, ours));
        plain_logs.push(rate(total, bare));
        plain_store_logs.push(rate(total, store_schema));
    }
    let (with_logs, plain_logs, plain_store_logs) = (
        median(&mut with_logs),
        median(&mut plain_logs),
        median(&mut plain_store_logs),
    );
    println!(
        "median of 3, a log line per span: jobtrace {with_logs:.0} spans/s ({:.0}% of plain \
         sqlite's {plain_logs:.0}, {:.0}% of plain sqlite into the store's schema \
         {plain_store_logs:.0})",
        with_logs / plain_logs * 100.0,
        with_logs / plain_store_logs * 100.0
    );

    // Retention's cost to ingest, and `--sync full`'s.
    let old = spans_only(&requests_of(
        "bench-runner",
        total,
        batch,
        1 << 40,
        BASE_NS - OLD_BY,
        1_000_000,
    ));
    let (mut alone, mut beside, mut pruned_rows) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let (a, a_slowest, _) = runtime.block_on(ingest_beside_prune(
            dir.path(),
            "alone.db",
            old.clone(),
            requests.clone(),
            concurrency,
            false,
        ));
        let (b, b_slowest, pruned) = runtime.block_on(ingest_beside_prune(
            dir.path(),
            "pruned.db",
            old.clone(),
            requests.clone(),
            concurrency,
            true,
        ));
        println!(
            "round {round}: beside old data {:>8.0} spans/s (slowest request {:.1} ms); with a \
             prune running {:>8.0} spans/s (slowest {:.1} ms, {pruned} old spans pruned meanwhile)",
            rate(total, a),
            a_slowest.as_secs_f64() * 1e3,
            rate(total, b),
            b_slowest.as_secs_f64() * 1e3,
        );
        alone.push(rate(total, a));
        beside.push(rate(total, b));
        pruned_rows.push(pruned as f64);
    }
    let (alone, beside, pruned) = (
        median(&mut alone),
        median(&mut beside),
        median(&mut pruned_rows),
    );
    println!(
        "median of 3: ingest {alone:.0} spans/s without a prune, {beside:.0} spans/s ({:.0}%) \
         with one running ({pruned:.0} of {total} old spans pruned meanwhile)",
        beside / alone * 100.0
    );
    let (mut normal, mut full) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let normal_time = runtime.block_on(jobtrace_path(
            dir.path(),
            "normal.db",
            requests.clone(),
            concurrency,
        ));
        let full_time = runtime.block_on(async {
            let url = format!("sqlite:{}", dir.path().join("full.db").display());
            let options = StoreOptions { full_sync: true };
            let store = Arc::new(SqliteStore::connect_with(&url, &options).await.unwrap());
            store_all(&store, requests.clone(), concurrency).await.0
        });
        println!(
            "round {round}: sync normal {:>8.0} spans/s, sync full {:>8.0} spans/s",
            rate(total, normal_time),
            rate(total, full_time)
        );
        normal.push(rate(total, normal_time));
        full.push(rate(total, full_time));
    }
    let (normal, full) = (median(&mut normal), median(&mut full));
    println!(
        "median of 3: --sync normal {normal:.0} spans/s, --sync full {full:.0} spans/s ({:.0}%)",
        full / normal * 100.0
    );
}
