//! Demo jobs for `serve --demo`: built as OTLP requests and stored through the ingest path.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::ingest::{logs_from_request, spans_from_request};
use crate::store::{SharedStore, StoreError};

const MS: u64 = 1_000_000;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0; N];
    let uuid = uuid::Uuid::new_v4();
    out.copy_from_slice(&uuid.as_bytes()[..N]);
    out
}

/// A runner process: its resource attributes.
fn runner(service: &str, instance: &str) -> Resource {
    Resource {
        attributes: vec![
            text("service.name", service),
            text("service.namespace", "tilebox.workflows"),
            text("service.instance.id", instance),
            text("host.name", &format!("{instance}.local")),
        ],
        ..Resource::default()
    }
}

/// Builds one trace span by span, with times in milliseconds from the trace's start.
struct DemoTrace {
    trace_id: [u8; 16],
    origin_ns: u64,
    runners: Vec<Resource>,
    spans: Vec<(usize, Span)>,
    logs: Vec<(usize, LogRecord)>,
}

struct SpanSpec<'a> {
    runner: usize,
    parent: Option<[u8; 8]>,
    name: &'a str,
    start_ms: u64,
    end_ms: u64,
    attributes: Vec<KeyValue>,
    error: Option<(&'a str, &'a str)>,
}

impl DemoTrace {
    fn new(origin_ns: u64, runners: Vec<Resource>) -> Self {
        DemoTrace {
            trace_id: random_bytes(),
            origin_ns,
            runners,
            spans: Vec::new(),
            logs: Vec::new(),
        }
    }

    fn span(&mut self, spec: SpanSpec<'_>) -> [u8; 8] {
        let span_id = random_bytes();
        let mut events = Vec::new();
        let status = match spec.error {
            Some((kind, message)) => {
                events.push(span::Event {
                    time_unix_nano: self.origin_ns + spec.end_ms * MS,
                    name: "exception".to_owned(),
                    attributes: vec![
                        text("exception.type", kind),
                        text("exception.message", message),
                        text(
                            "exception.stacktrace",
                            &format!(
                                "Traceback (most recent call last):\n  File \"tasks.py\", line 42, in execute\n    raise {kind}({message:?})\n{kind}: {message}"
                            ),
                        ),
                    ],
                    dropped_attributes_count: 0,
                });
                Some(Status {
                    code: 2,
                    message: "Task failed with exception".to_owned(),
                })
            }
            None => None,
        };
        self.spans.push((
            spec.runner,
            Span {
                trace_id: self.trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: spec.parent.map(|p| p.to_vec()).unwrap_or_default(),
                name: spec.name.to_owned(),
                kind: 1,
                start_time_unix_nano: self.origin_ns + spec.start_ms * MS,
                end_time_unix_nano: self.origin_ns + spec.end_ms * MS,
                attributes: spec.attributes,
                events,
                status,
                ..Span::default()
            },
        ));
        span_id
    }

    fn log(
        &mut self,
        runner: usize,
        span_id: [u8; 8],
        at_ms: u64,
        severity: (i32, &str),
        body: &str,
    ) {
        self.logs.push((
            runner,
            LogRecord {
                time_unix_nano: self.origin_ns + at_ms * MS,
                observed_time_unix_nano: self.origin_ns + at_ms * MS,
                severity_number: severity.0,
                severity_text: severity.1.to_owned(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(body.to_owned())),
                }),
                trace_id: self.trace_id.to_vec(),
                span_id: span_id.to_vec(),
                ..LogRecord::default()
            },
        ));
    }

    fn requests(self) -> (ExportTraceServiceRequest, ExportLogsServiceRequest) {
        let scope = InstrumentationScope {
            name: "tilebox.com/observability".to_owned(),
            version: "demo".to_owned(),
            ..InstrumentationScope::default()
        };
        let resource_spans = self
            .runners
            .iter()
            .enumerate()
            .map(|(index, resource)| ResourceSpans {
                resource: Some(resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope.clone()),
                    spans: self
                        .spans
                        .iter()
                        .filter(|(runner, _)| *runner == index)
                        .map(|(_, span)| span.clone())
                        .collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        let resource_logs = self
            .runners
            .iter()
            .enumerate()
            .map(|(index, resource)| ResourceLogs {
                resource: Some(resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope.clone()),
                    log_records: self
                        .logs
                        .iter()
                        .filter(|(runner, _)| *runner == index)
                        .map(|(_, log)| log.clone())
                        .collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        (
            ExportTraceServiceRequest { resource_spans },
            ExportLogsServiceRequest { resource_logs },
        )
    }
}

const INFO: (i32, &str) = (9, "INFO");
const WARN: (i32, &str) = (13, "WARN");
const ERROR: (i32, &str) = (17, "ERROR");

fn task_attributes(name: &str) -> Vec<KeyValue> {
    vec![
        text("task_id", &uuid::Uuid::now_v7().to_string()),
        text("identifier.name", name),
        text("identifier.version", "v0.0"),
    ]
}

/// The Tracing page's example: one task with two custom spans and their logs.
fn process_scene(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("tilebox-python", "runner-7f3a")]);
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/process-scene",
        start_ms: 0,
        end_ms: 3_400,
        attributes: vec![],
        error: None,
    });
    let task = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/ProcessScene",
        start_ms: 120,
        end_ms: 3_300,
        attributes: task_attributes("ProcessScene"),
        error: None,
    });
    let download = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "download-scene",
        start_ms: 140,
        end_ms: 1_900,
        attributes: vec![text("scene_id", "S2A_001")],
        error: None,
    });
    trace.log(0, download, 150, INFO, "downloading scene S2A_001 (812 MB)");
    trace.log(0, download, 1_880, INFO, "download complete");
    let compute = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "compute-index",
        start_ms: 1_950,
        end_ms: 3_250,
        attributes: vec![],
        error: None,
    });
    trace.log(
        0,
        compute,
        3_240,
        INFO,
        "NDVI computed for 10980×10980 pixels",
    );
    trace
}

/// A fan-out over two runners with one failed attempt that a retry fixed.
fn ingest_tiles(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(
        origin_ns,
        vec![
            runner("tilebox-python", "runner-a"),
            runner("tilebox-python", "runner-b"),
        ],
    );
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/ingest-tiles",
        start_ms: 0,
        end_ms: 9_000,
        attributes: vec![],
        error: None,
    });
    let root = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/IngestTiles",
        start_ms: 50,
        end_ms: 400,
        attributes: task_attributes("IngestTiles"),
        error: None,
    });
    trace.log(0, root, 390, INFO, "submitted 8 ProcessTile subtasks");
    for tile in 0..8u64 {
        let runner_index = (tile % 2) as usize;
        let start = 500 + (tile / 2) * 1_900;
        let attributes = task_attributes("ProcessTile");
        let name = format!("tile-{tile:02}");
        if tile == 5 {
            let failed = trace.span(SpanSpec {
                runner: runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start,
                end_ms: start + 700,
                attributes: attributes.clone(),
                error: Some(("ConnectionError", "object store timed out")),
            });
            trace.log(
                runner_index,
                failed,
                start + 690,
                ERROR,
                &format!("{name}: upload failed, will retry"),
            );
            let retry = trace.span(SpanSpec {
                runner: 1 - runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start + 900,
                end_ms: start + 2_300,
                attributes,
                error: None,
            });
            trace.log(
                1 - runner_index,
                retry,
                start + 2_200,
                INFO,
                &format!("{name}: stored"),
            );
        } else {
            let span = trace.span(SpanSpec {
                runner: runner_index,
                parent: Some(job),
                name: "task/ProcessTile",
                start_ms: start,
                end_ms: start + 1_700,
                attributes,
                error: None,
            });
            if tile == 2 {
                trace.log(
                    runner_index,
                    span,
                    start + 400,
                    WARN,
                    &format!("{name}: 3% cloud cover over threshold"),
                );
            }
            trace.log(
                runner_index,
                span,
                start + 1_650,
                INFO,
                &format!("{name}: stored"),
            );
        }
    }
    trace
}

/// A job whose last task failed without retries left.
fn publish_report(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("reports", "runner-c")]);
    let job = trace.span(SpanSpec {
        runner: 0,
        parent: None,
        name: "job/publish-report",
        start_ms: 0,
        end_ms: 2_100,
        attributes: vec![],
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    let task = trace.span(SpanSpec {
        runner: 0,
        parent: Some(job),
        name: "task/PublishReport",
        start_ms: 80,
        end_ms: 2_000,
        attributes: task_attributes("PublishReport"),
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    let publish = trace.span(SpanSpec {
        runner: 0,
        parent: Some(task),
        name: "publish-output",
        start_ms: 900,
        end_ms: 1_950,
        attributes: vec![text("bucket", "reports/")],
        error: Some(("PermissionError", "bucket reports/ is read-only")),
    });
    trace.log(
        0,
        publish,
        1_940,
        ERROR,
        "write to reports/2026-11.pdf denied",
    );
    trace
}

/// A job still running: its job span has not been exported yet.
fn nightly_reindex(origin_ns: u64) -> DemoTrace {
    let mut trace = DemoTrace::new(origin_ns, vec![runner("indexer", "runner-d")]);
    let absent_job_span = random_bytes();
    for (i, name) in ["task/ScanCatalog", "task/Reindex"].into_iter().enumerate() {
        let start = 100 + i as u64 * 1_500;
        let span = trace.span(SpanSpec {
            runner: 0,
            parent: Some(absent_job_span),
            name,
            start_ms: start,
            end_ms: start + 1_400,
            attributes: task_attributes(name.trim_start_matches("task/")),
            error: None,
        });
        trace.log(
            0,
            span,
            start + 1_000,
            INFO,
            &format!("{name} finished a batch"),
        );
    }
    trace
}

/// Stores the demo jobs if the store holds no job yet; returns how many were stored.
pub async fn load_if_empty(store: &SharedStore) -> Result<usize, StoreError> {
    if store.stats().await?.jobs > 0 {
        return Ok(0);
    }
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let minutes_ago = |m: u64| now_ns - m * 60_000 * MS;
    let traces = [
        publish_report(minutes_ago(95)),
        ingest_tiles(minutes_ago(42)),
        process_scene(minutes_ago(7)),
        nightly_reindex(minutes_ago(1)),
    ];
    let count = traces.len();
    for trace in traces {
        let (spans, logs) = trace.requests();
        store.write_spans(spans_from_request(&spans).batch).await?;
        store.write_logs(logs_from_request(&logs).batch).await?;
    }
    Ok(count)
}
