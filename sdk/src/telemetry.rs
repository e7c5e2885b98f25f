//! Telemetry export: where a runner's (and a client's) spans and logs go.
//!
//! Spans and logs always go to the jobtrace server the client talks to (OTLP/HTTP protobuf,
//! batched) and to any number of extra OTLP endpoints: your own collector, or Axiom through its
//! preset. The environment variables of the Python client configure extra endpoints too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::LogRecord as _;
use opentelemetry::trace::Span as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanProcessor};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::error::Error;

/// The instrumentation scope of task spans, as the Python client names it.
pub const SCOPE: &str = "tilebox.com/observability";

/// Axiom's ingest API; `AXIOM_URL` replaces it (self-hosted, tests).
const AXIOM_URL: &str = "https://api.axiom.co";

/// One OTLP/HTTP destination for one signal: the full URL and the headers sent with each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpTarget {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// A destination for spans and logs; either signal may be absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpEndpoint {
    pub traces: Option<OtlpTarget>,
    pub logs: Option<OtlpTarget>,
}

impl OtlpEndpoint {
    /// A collector at `base` (e.g. `http://localhost:4318`): `/v1/traces` and `/v1/logs`.
    pub fn collector(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        OtlpEndpoint {
            traces: Some(target(format!("{base}/v1/traces"))),
            logs: Some(target(format!("{base}/v1/logs"))),
        }
    }

    /// Full URLs per signal, as `OTEL_TRACES_ENDPOINT` / `OTEL_LOGS_ENDPOINT` give them.
    pub fn urls(traces: Option<String>, logs: Option<String>) -> Self {
        OtlpEndpoint {
            traces: traces.map(target),
            logs: logs.map(target),
        }
    }

    /// Adds a header (e.g. an API key) to every export request of both signals.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        for signal in [&mut self.traces, &mut self.logs].into_iter().flatten() {
            signal.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Axiom: `POST {AXIOM_URL}/v1/traces` and `/v1/logs` with `Authorization: Bearer <key>` and
    /// `X-Axiom-Dataset` naming each signal's dataset; a signal without a dataset is not sent.
    /// `AXIOM_URL` defaults to `https://api.axiom.co`.
    pub fn axiom(api_key: &str, traces_dataset: Option<&str>, logs_dataset: Option<&str>) -> Self {
        let base = std::env::var("AXIOM_URL").unwrap_or_else(|_| AXIOM_URL.to_owned());
        Self::axiom_at(&base, api_key, traces_dataset, logs_dataset)
    }

    /// [`OtlpEndpoint::axiom`] at another base URL.
    pub fn axiom_at(
        base: &str,
        api_key: &str,
        traces_dataset: Option<&str>,
        logs_dataset: Option<&str>,
    ) -> Self {
        let base = base.trim_end_matches('/');
        let signal = |path: &str, dataset: &str| OtlpTarget {
            url: format!("{base}{path}"),
            headers: vec![
                ("Authorization".to_owned(), format!("Bearer {api_key}")),
                ("X-Axiom-Dataset".to_owned(), dataset.to_owned()),
            ],
        };
        OtlpEndpoint {
            traces: traces_dataset.map(|dataset| signal("/v1/traces", dataset)),
            logs: logs_dataset.map(|dataset| signal("/v1/logs", dataset)),
        }
    }
}

fn target(url: String) -> OtlpTarget {
    OtlpTarget {
        url,
        headers: Vec::new(),
    }
}

fn header_map(target: &OtlpTarget) -> HashMap<String, String> {
    target.headers.iter().cloned().collect()
}

/// What the runner's telemetry looks like: its identity and its extra destinations.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `service.name` of the spans and logs (the Python client's `Client(name=…)`).
    pub service_name: String,
    /// `service.instance.id`: `$TILEBOX_RUNTIME_ID` or a fresh UUID per process.
    pub instance_id: String,
    /// Destinations besides the jobtrace server.
    pub extra: Vec<OtlpEndpoint>,
    /// How often batches are sent.
    pub export_interval: Duration,
    /// Also print task logs to stderr.
    pub console: bool,
    /// The least severe `tracing` spans and events inside a task that are exported (INFO by
    /// default, so chatty dependencies stay out; `ctx.logger()` records are always exported).
    pub tracing_level: tracing::level_filters::LevelFilter,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            service_name: "jobtrace-rust".to_owned(),
            instance_id: std::env::var("TILEBOX_RUNTIME_ID")
                .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string()),
            extra: Vec::new(),
            export_interval: Duration::from_secs(1),
            console: true,
            tracing_level: tracing::level_filters::LevelFilter::INFO,
        }
    }
}

impl TelemetryConfig {
    /// The defaults plus what the environment asks for, as the Python client reads it:
    /// `OTEL_TRACES_ENDPOINT` / `OTEL_LOGS_ENDPOINT` (full URLs of an extra OTLP/HTTP
    /// destination) and `AXIOM_API_KEY` with `AXIOM_TRACES_DATASET` / `AXIOM_LOGS_DATASET`.
    pub fn from_env() -> Self {
        Self::default().with_env(|name| std::env::var(name).ok())
    }

    fn with_env(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let traces = var("OTEL_TRACES_ENDPOINT").filter(|v| !v.is_empty());
        let logs = var("OTEL_LOGS_ENDPOINT").filter(|v| !v.is_empty());
        if traces.is_some() || logs.is_some() {
            self.extra.push(OtlpEndpoint::urls(traces, logs));
        }
        if let Some(key) = var("AXIOM_API_KEY").filter(|v| !v.is_empty()) {
            let traces = var("AXIOM_TRACES_DATASET").filter(|v| !v.is_empty());
            let logs = var("AXIOM_LOGS_DATASET").filter(|v| !v.is_empty());
            if traces.is_some() || logs.is_some() {
                let base = var("AXIOM_URL").unwrap_or_else(|| AXIOM_URL.to_owned());
                self.extra.push(OtlpEndpoint::axiom_at(
                    &base,
                    &key,
                    traces.as_deref(),
                    logs.as_deref(),
                ));
            }
        }
        self
    }

    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sends spans and logs to one more OTLP/HTTP destination as well.
    #[must_use]
    pub fn export_to(mut self, endpoint: OtlpEndpoint) -> Self {
        self.extra.push(endpoint);
        self
    }

    #[must_use]
    pub fn export_interval(mut self, interval: Duration) -> Self {
        self.export_interval = interval;
        self
    }

    #[must_use]
    pub fn console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }
}

thread_local! {
    /// The task the current thread executes: stamped on its spans and logs as `task_id`.
    static CURRENT_TASK: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks the current thread as executing `task_id` until the guard drops.
pub(crate) fn enter_task(task_id: String) -> TaskMark {
    CURRENT_TASK.with(|current| *current.borrow_mut() = Some(task_id));
    TaskMark
}

pub(crate) struct TaskMark;

impl Drop for TaskMark {
    fn drop(&mut self) {
        CURRENT_TASK.with(|current| *current.borrow_mut() = None);
    }
}

fn current_task() -> Option<String> {
    CURRENT_TASK.with(|current| current.borrow().clone())
}

/// Stamps `task_id` on spans started while a task executes (custom spans, `tracing` spans),
/// as the Python client's tracer does: the server files them under their task.
#[derive(Debug)]
struct TaskIdSpans;

impl SpanProcessor for TaskIdSpans {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
        if let Some(task_id) = current_task() {
            span.set_attribute(KeyValue::new("task_id", task_id));
        }
    }
    fn on_end(&self, _: opentelemetry_sdk::trace::SpanData) {}
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// The same for log records (`ctx.logger()` and `tracing` events).
#[derive(Debug)]
struct TaskIdLogs;

impl LogProcessor for TaskIdLogs {
    fn emit(&self, record: &mut SdkLogRecord, _: &opentelemetry::InstrumentationScope) {
        if let Some(task_id) = current_task() {
            record.add_attribute("task_id", task_id);
        }
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Running exporters: tracer and logger providers and the `tracing` dispatch tasks run under.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    tracer_provider: SdkTracerProvider,
    logger_provider: SdkLoggerProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    dispatch: tracing::Dispatch,
    config: TelemetryConfig,
}

impl Telemetry {
    /// Starts exporting to the jobtrace server at `server_url` and to `config.extra`.
    pub fn start(server_url: &str, token: &str, config: TelemetryConfig) -> Result<Self, Error> {
        let mut jobtrace = OtlpEndpoint::collector(server_url);
        if !token.is_empty() {
            jobtrace = jobtrace.header("Authorization", &format!("Bearer {token}"));
        }
        let resource = resource(&config);
        let mut tracers = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(TaskIdSpans);
        let mut loggers = SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_log_processor(TaskIdLogs);
        for endpoint in std::iter::once(&jobtrace).chain(&config.extra) {
            if let Some(target) = &endpoint.traces {
                let url = &target.url;
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(url)
                    .with_headers(header_map(target))
                    .build()
                    .map_err(|e| Error::Telemetry(format!("traces exporter for {url}: {e}")))?;
                let batch = opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(config.export_interval)
                    .build();
                tracers = tracers.with_span_processor(
                    BatchSpanProcessor::builder(exporter)
                        .with_batch_config(batch)
                        .build(),
                );
            }
            if let Some(target) = &endpoint.logs {
                let url = &target.url;
                let exporter = opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(url)
                    .with_headers(header_map(target))
                    .build()
                    .map_err(|e| Error::Telemetry(format!("logs exporter for {url}: {e}")))?;
                let batch = opentelemetry_sdk::logs::BatchConfigBuilder::default()
                    .with_scheduled_delay(config.export_interval)
                    .build();
                loggers = loggers.with_log_processor(
                    BatchLogProcessor::builder(exporter)
                        .with_batch_config(batch)
                        .build(),
                );
            }
        }
        let tracer_provider = tracers.build();
        let logger_provider = loggers.build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&tracer_provider, SCOPE);
        let dispatch = dispatch(
            &tracer,
            &logger_provider,
            config.console,
            config.tracing_level,
        );
        Ok(Telemetry {
            inner: Arc::new(Inner {
                tracer_provider,
                logger_provider,
                tracer,
                dispatch,
                config,
            }),
        })
    }

    pub(crate) fn tracer(&self) -> &opentelemetry_sdk::trace::SdkTracer {
        &self.inner.tracer
    }

    pub(crate) fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.inner.logger_provider
    }

    /// The `tracing` dispatcher task bodies run under: spans become OTel spans, events log records.
    pub(crate) fn dispatch(&self) -> &tracing::Dispatch {
        &self.inner.dispatch
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.inner.config
    }

    /// Sends everything buffered now. Blocks until the exporters answered (or timed out).
    pub fn flush(&self) {
        // Failed exports are already reported by the SDK's own diagnostics; nothing to add here.
        let _ = self.inner.tracer_provider.force_flush();
        let _ = self.inner.logger_provider.force_flush();
    }

    /// [`Telemetry::flush`] from async code, off the runtime's worker threads.
    pub async fn flush_async(&self) {
        let telemetry = self.clone();
        let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
    }
}

fn resource(config: &TelemetryConfig) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.namespace", "tilebox.workflows"),
        KeyValue::new("service.instance.id", config.instance_id.clone()),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("os.type", std::env::consts::OS),
        KeyValue::new("host.arch", std::env::consts::ARCH),
    ];
    if let Some(host) = hostname() {
        attributes.push(KeyValue::new("host.name", host));
    }
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes(attributes)
        .build()
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
}

fn dispatch(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    loggers: &SdkLoggerProvider,
    console: bool,
    level: tracing::level_filters::LevelFilter,
) -> tracing::Dispatch {
    // The exporters' own diagnostics must not loop back into the exporters.
    let not_exporter_internals = tracing_subscriber::filter::filter_fn(|meta| {
        let target = meta.target();
        !(target.starts_with("opentelemetry")
            || target.starts_with("reqwest")
            || target.starts_with("hyper")
            || target.starts_with("h2"))
    });
    let registry = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_filter(level),
        )
        .with(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(loggers)
                .with_filter(not_exporter_internals)
                .with_filter(level),
        )
        .with(console.then(|| {
            // `RUST_LOG` as usual; INFO and up by default.
            let level = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(level)
        }));
    tracing::Dispatch::new(registry)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_env_configures_extra_endpoint_and_axiom() {
        let env: HashMap<&str, &str> = [
            ("OTEL_TRACES_ENDPOINT", "http://collector:4318/v1/traces"),
            ("AXIOM_API_KEY", "xaat-123"),
            ("AXIOM_TRACES_DATASET", "spans"),
            ("AXIOM_LOGS_DATASET", "logs"),
            ("AXIOM_URL", "http://127.0.0.1:9"),
        ]
        .into_iter()
        .collect();
        let config = TelemetryConfig::default().with_env(|k| env.get(k).map(|v| (*v).to_owned()));
        assert_eq!(config.extra.len(), 2);
        let extra = config.extra[0].traces.as_ref().map(|t| t.url.as_str());
        assert_eq!(extra, Some("http://collector:4318/v1/traces"));
        assert_eq!(config.extra[0].logs, None);
        let axiom = &config.extra[1];
        let (traces, logs) = (axiom.traces.as_ref().unwrap(), axiom.logs.as_ref().unwrap());
        assert_eq!(traces.url, "http://127.0.0.1:9/v1/traces");
        assert_eq!(logs.url, "http://127.0.0.1:9/v1/logs");
        assert_eq!(header_map(traces)["Authorization"], "Bearer xaat-123");
        assert_eq!(header_map(traces)["X-Axiom-Dataset"], "spans");
        assert_eq!(header_map(logs)["X-Axiom-Dataset"], "logs");
    }

    #[test]
    fn test_axiom_without_datasets_sends_nothing() {
        let config =
            TelemetryConfig::default().with_env(|k| (k == "AXIOM_API_KEY").then(|| "k".to_owned()));
        assert!(config.extra.is_empty());
    }
}
