//! What several benches share: OTLP requests shaped like a task runner's, and a fresh
//! PostgreSQL database per run. Included with `#[path]` (each bench is its own crate).

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use sqlx::Connection;

pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// OTLP protobuf requests of `batch` spans shaped like a task runner's: 1,000 spans per trace
/// (traces numbered from `first_trace`), five attributes each, every tenth span failed with an
/// exception event; span `i` starts at `base_ns + i * step_ns` and lasts 0.9 ms; all of
/// `service`.
pub fn requests_of(
    service: &str,
    total: usize,
    batch: usize,
    first_trace: u128,
    base_ns: u64,
    step_ns: u64,
) -> Vec<Vec<u8>> {
    let resource = Resource {
        attributes: vec![
            kv(
                "service.name",
                any_value::Value::StringValue(service.into()),
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
                let trace = (i / 1000) as u128 + 1 + first_trace;
                let start = base_ns + i as u64 * step_ns;
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

/// OTLP protobuf log requests of `batch` records for the spans [`requests_of`] makes with the
/// same arguments: a line for every `every`-th span (its trace and span id, 0.1 ms after its
/// start), every tenth of them an error.
pub fn log_requests_of(
    service: &str,
    total: usize,
    batch: usize,
    every: usize,
    first_trace: u128,
    base_ns: u64,
    step_ns: u64,
) -> Vec<Vec<u8>> {
    let resource = Resource {
        attributes: vec![kv(
            "service.name",
            any_value::Value::StringValue(service.into()),
        )],
        ..Resource::default()
    };
    let lines: Vec<usize> = (0..total).step_by(every.max(1)).collect();
    lines
        .chunks(batch.max(1))
        .map(|chunk| {
            let records = chunk
                .iter()
                .enumerate()
                .map(|(n, &i)| {
                    let trace = (i / 1000) as u128 + 1 + first_trace;
                    let error = n % 10 == 0;
                    LogRecord {
                        time_unix_nano: base_ns + i as u64 * step_ns + 100_000,
                        severity_number: if error { 17 } else { 9 },
                        severity_text: if error { "ERROR" } else { "INFO" }.to_owned(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(if error {
                                format!("tile {i} failed: cloud cover above threshold")
                            } else {
                                format!("tile {i} processed")
                            })),
                        }),
                        attributes: vec![kv(
                            "task_id",
                            any_value::Value::StringValue(format!("task-{i}")),
                        )],
                        trace_id: trace.to_be_bytes().to_vec(),
                        span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                        ..LogRecord::default()
                    }
                })
                .collect();
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource.clone()),
                    scope_logs: vec![ScopeLogs {
                        log_records: records,
                        ..ScopeLogs::default()
                    }],
                    schema_url: String::new(),
                }],
            }
            .encode_to_vec()
        })
        .collect()
}

/// A fresh PostgreSQL database on `BENCH_POSTGRES_URL`'s server (default: the local one),
/// dropped by [`PgDatabase::drop_now`].
pub struct PgDatabase {
    admin: sqlx::PgConnection,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let admin_url = std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("jobtrace_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
        PgDatabase { admin, name, url }
    }

    pub async fn drop_now(mut self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}
