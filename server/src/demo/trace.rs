//! The demo's trace builder: spans and log records of one trace, on runner resources, with
//! times in milliseconds from the trace's start, turned into OTLP requests.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

pub(super) const MS: u64 = 1_000_000;

pub(super) fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0; N];
    let uuid = uuid::Uuid::new_v4();
    out.copy_from_slice(&uuid.as_bytes()[..N]);
    out
}

/// A runner process: its resource attributes.
pub(super) fn runner(service: &str, instance: &str) -> Resource {
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
pub(super) struct DemoTrace {
    trace_id: [u8; 16],
    origin_ns: u64,
    runners: Vec<Resource>,
    spans: Vec<(usize, Span)>,
    logs: Vec<(usize, LogRecord)>,
}

pub(super) struct SpanSpec<'a> {
    pub(super) runner: usize,
    pub(super) parent: Option<[u8; 8]>,
    pub(super) name: &'a str,
    pub(super) start_ms: u64,
    pub(super) end_ms: u64,
    pub(super) attributes: Vec<KeyValue>,
    pub(super) error: Option<(&'a str, &'a str)>,
}

impl DemoTrace {
    pub(super) fn new(origin_ns: u64, runners: Vec<Resource>) -> Self {
        DemoTrace {
            trace_id: random_bytes(),
            origin_ns,
            runners,
            spans: Vec::new(),
            logs: Vec::new(),
        }
    }

    /// A trace whose id is known beforehand (the live job, finished after a restart).
    pub(super) fn with_id(trace_id: [u8; 16], origin_ns: u64, runners: Vec<Resource>) -> Self {
        DemoTrace {
            trace_id,
            ..DemoTrace::new(origin_ns, runners)
        }
    }

    pub(super) fn span(&mut self, spec: SpanSpec<'_>) -> [u8; 8] {
        self.span_with_id(spec, random_bytes())
    }

    pub(super) fn span_with_id(&mut self, spec: SpanSpec<'_>, span_id: [u8; 8]) -> [u8; 8] {
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

    pub(super) fn log(
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

    pub(super) fn requests(self) -> (ExportTraceServiceRequest, ExportLogsServiceRequest) {
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
